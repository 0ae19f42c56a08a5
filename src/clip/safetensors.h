/* safetensors.h — validated, memory-mapped safetensors checkpoints.
 * A file is: u64 little-endian header length N, N bytes of JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"},
 * then the data buffer. Opening validates every header entry (dtype name,
 * shape, byte range inside the data, no overlap), so later reads need no
 * checks beyond the dtype. Errors name the file. */
#ifndef NEGLABEL_SAFETENSORS_H
#define NEGLABEL_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define NL_ST_MAX_DIMS 8
#define NL_ST_MAX_HEADER ((uint64_t)100 << 20) /* refuse larger JSON headers */

typedef enum {
    NL_ST_F32, NL_ST_F16, NL_ST_BF16, /* convertible to float32 */
    NL_ST_F64, NL_ST_I64, NL_ST_I32, NL_ST_I16, NL_ST_I8, NL_ST_U8, NL_ST_U16,
    NL_ST_U32, NL_ST_U64, NL_ST_BOOL, NL_ST_F8_E4M3, NL_ST_F8_E5M2
} nli_st_dtype;

typedef struct {
    char *name;
    nli_st_dtype dtype;
    int ndim;
    int64_t shape[NL_ST_MAX_DIMS];
    uint64_t numel;
    const uint8_t *data; /* inside the file's map; not aligned */
    size_t nbytes;
    int file;            /* index into nli_st.paths */
} nli_st_tensor;

typedef struct {
    char *source;  /* the file or index.json opened, for messages */
    int n_files;
    char **paths;  /* file each tensor came from, for messages */
    nli_map *maps;
    nli_st_tensor *t; /* sorted by name */
    size_t n;
} nli_st;

/* model.safetensors.index.json: {"weight_map": {tensor: shard file}, ...}
 * (other keys ignored). Bounds: the file at most NL_ST_INDEX_MAX bytes, at
 * most NL_ST_MAX_SHARDS distinct shards. */
#define NL_ST_INDEX_MAX ((size_t)64 << 20)
#define NL_ST_MAX_SHARDS 1024

typedef struct {
    char *tensor;
    int shard;        /* index into nli_st_index.shards */
} nli_st_index_entry;

typedef struct {
    char **shards;    /* distinct shard file names, in order of first mention */
    int n_shards;
    nli_st_index_entry *map; /* the weight_map, in file order */
    size_t n_map;
} nli_st_index;

/* A file name an index may give as a shard: a plain name of [A-Za-z0-9._-]
 * (not starting with '.', no "..", at most 200 characters) ending in
 * ".safetensors". 1 valid, 0 not. */
int nli_st_valid_shard_name(const char *s);
/* The same for shards ending in suffix (".bin"). */
int nli_st_valid_shard_name_ext(const char *s, const char *suffix);
/* Read and validate an index: JSON without duplicate keys, a non-empty
 * weight_map object of strings, each a valid shard name. -1 with the error
 * naming the file and the problem (names from the file sanitised). */
int nli_st_index_read(const char *path, nli_st_index *ix);
/* The same for an index whose shards end in suffix (".bin": transformers'
 * sharded pytorch_model.bin.index.json). */
int nli_st_index_read_ext(const char *path, const char *suffix, nli_st_index *ix);
void nli_st_index_free(nli_st_index *ix);

/* One file. */
int nli_st_open_file(const char *path, nli_st *st);
/* A folder: model.safetensors, else model.safetensors.index.json + shards. */
int nli_st_open_dir(const char *dir, nli_st *st);
void nli_st_close(nli_st *st);

const nli_st_tensor *nli_st_find(const nli_st *st, const char *name);
const char *nli_st_dtype_name(nli_st_dtype d);
/* Convert t (F32, F16 or BF16) to numel float32 values; other dtypes and
 * non-finite values are errors naming the file and tensor. */
int nli_st_to_f32(const nli_st *st, const nli_st_tensor *t, float *out);
/* Writing (safetensors_write.c): tensors in the order given, the data
 * contiguous in that order, the JSON header padded with spaces to a multiple
 * of 8, "__metadata__" {"format": "pt"}; written to a temporary file and
 * renamed (nli_atomic). dtype: a safetensors name ("F32", "F16", ...). */
typedef struct {
    const char *name;
    const char *dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
    size_t nbytes;
} nli_st_out;
int nli_st_write(const char *path, const nli_st_out *t, size_t n);
/* The same, written and synced to a's temporary file but not renamed: for
 * files published together with nli_atomic_publish_set (a converted
 * folder). -1 + error naming path: nothing left behind. */
int nli_st_write_finish(nli_atomic *a, const char *path, const nli_st_out *t, size_t n);

/* Half-precision helpers (exposed for tests and tools). */
float nli_f16_to_f32(uint16_t h);
float nli_bf16_to_f32(uint16_t h);
uint16_t nli_f32_to_f16(float f);  /* round to nearest even */
uint16_t nli_f32_to_bf16(float f); /* round to nearest even */
#endif
