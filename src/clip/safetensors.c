/* safetensors.c — see safetensors.h. Everything read from a header is
 * checked before use: the header length against the file, every shape
 * against its byte range, every byte range against the data buffer. */
#include "safetensors.h"
#include "neglabel.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this loader assumes a little-endian host"
#endif

static const struct { const char *name; nli_st_dtype d; int size; } DTYPES[] = {
    {"F32", NL_ST_F32, 4},  {"F16", NL_ST_F16, 2},   {"BF16", NL_ST_BF16, 2}, {"F64", NL_ST_F64, 8},
    {"I64", NL_ST_I64, 8},  {"I32", NL_ST_I32, 4},   {"I16", NL_ST_I16, 2},   {"I8", NL_ST_I8, 1},
    {"U8", NL_ST_U8, 1},    {"U16", NL_ST_U16, 2},   {"U32", NL_ST_U32, 4},   {"U64", NL_ST_U64, 8},
    {"BOOL", NL_ST_BOOL, 1}, {"F8_E4M3", NL_ST_F8_E4M3, 1}, {"F8_E5M2", NL_ST_F8_E5M2, 1},
};
#define N_DTYPES (sizeof DTYPES / sizeof DTYPES[0])

const char *nli_st_dtype_name(nli_st_dtype d) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (DTYPES[i].d == d) return DTYPES[i].name;
    return "?";
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const nli_st_tensor *)a)->name, ((const nli_st_tensor *)b)->name);
}

static int cmp_begin(const void *a, const void *b) {
    const nli_st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data ? 1 : 0;
}

void nli_st_close(nli_st *st) {
    for (size_t i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    for (int i = 0; i < st->n_files; i++) {
        nli_unmap(&st->maps[i]);
        free(st->paths[i]);
    }
    free(st->maps);
    free(st->paths);
    free(st->source);
    memset(st, 0, sizeof *st);
}

/* Register one more file in st (grows the path/map arrays). */
static int add_file(nli_st *st, const char *path) {
    char **p = nli_realloc(st->paths, sizeof(char *) * (size_t)(st->n_files + 1));
    if (!p) return -1;
    st->paths = p;
    nli_map *m = nli_realloc(st->maps, sizeof(nli_map) * (size_t)(st->n_files + 1));
    if (!m) return -1;
    st->maps = m;
    st->paths[st->n_files] = nli_strdup(path);
    if (!st->paths[st->n_files]) return -1;
    if (nli_map_file(path, &st->maps[st->n_files]) != 0) {
        free(st->paths[st->n_files]);
        return -1; /* message already names the path */
    }
    st->n_files++;
    return 0;
}

/* Parse one header entry into t. Returns -1 with the message set (without
 * the file name; the caller prefixes it). */
static int parse_entry(const char *name, json_t *v, const uint8_t *data, uint64_t data_len,
                       nli_st_tensor *t) {
    if (!json_is_object(v)) { nli_seterr("tensor '%s': entry is not an object", name); return -1; }
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) { nli_seterr("tensor '%s': missing or non-string dtype", name); return -1; }
    int esize = 0;
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(json_string_value(jd), DTYPES[i].name) == 0) { t->dtype = DTYPES[i].d; esize = DTYPES[i].size; }
    if (!esize) { nli_seterr("tensor '%s': unknown dtype '%.32s'", name, json_string_value(jd)); return -1; }
    if (!json_is_array(js)) { nli_seterr("tensor '%s': missing or invalid shape", name); return -1; }
    if (json_array_size(js) > NL_ST_MAX_DIMS) {
        nli_seterr("tensor '%s': %zu dimensions (at most %d supported)", name, json_array_size(js), NL_ST_MAX_DIMS);
        return -1;
    }
    t->ndim = (int)json_array_size(js);
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *e = json_array_get(js, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0) {
            nli_seterr("tensor '%s': shape entry %d is not a non-negative integer", name, i);
            return -1;
        }
        t->shape[i] = json_integer_value(e);
        if (__builtin_mul_overflow(numel, (uint64_t)t->shape[i], &numel)) {
            nli_seterr("tensor '%s': shape product overflows", name);
            return -1;
        }
    }
    uint64_t bytes;
    if (__builtin_mul_overflow(numel, (uint64_t)esize, &bytes)) {
        nli_seterr("tensor '%s': shape product overflows", name);
        return -1;
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1))) {
        nli_seterr("tensor '%s': data_offsets must be [begin, end] integers", name);
        return -1;
    }
    json_int_t b = json_integer_value(json_array_get(jo, 0)), e = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || e < b || (uint64_t)e > data_len) {
        nli_seterr("tensor '%s' data_offsets [%lld,%lld] outside data (size %llu)", name, (long long)b,
                  (long long)e, (unsigned long long)data_len);
        return -1;
    }
    if ((uint64_t)(e - b) != bytes) {
        nli_seterr("tensor '%s': shape implies %llu bytes of %s but data_offsets span %llu", name,
                  (unsigned long long)bytes, json_string_value(jd), (unsigned long long)(e - b));
        return -1;
    }
    t->numel = numel;
    t->data = data + b;
    t->nbytes = (size_t)bytes;
    return 0;
}

/* Parse the header of file index fi (already mapped) and append its
 * tensors to st->t. */
static int parse_file(nli_st *st, int fi, size_t *cap) {
    const char *path = st->paths[fi];
    const uint8_t *buf = st->maps[fi].data;
    size_t len = st->maps[fi].len;
    if (nli_is_lfs_pointer(buf, len)) {
        nli_seterr_code(NL_ERR_IO, "%s: a Git LFS pointer (%zu bytes), not the weights: the repository was cloned "
                        "without git-lfs (run `git lfs pull` in it, or download the file)", path, len);
        return -1;
    }
    if (len < 8) { nli_seterr("%s: file too short for a safetensors header (%zu bytes)", path, len); return -1; }
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = (hn << 8) | buf[i];
    if (hn > len - 8) {
        nli_seterr("%s: header length %llu past end of file (size %zu)", path, (unsigned long long)hn, len);
        return -1;
    }
    if (hn > NL_ST_MAX_HEADER) {
        nli_seterr("%s: header length %llu exceeds the %llu-byte limit", path, (unsigned long long)hn,
                  (unsigned long long)NL_ST_MAX_HEADER);
        return -1;
    }
    const uint8_t *data = buf + 8 + hn;
    uint64_t data_len = len - 8 - hn;
    if (nli_json_check_values(path, (const char *)buf + 8, (size_t)hn, NLI_JSON_MAX_VALUES)) return -1;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hn, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        nli_seterr("%s: invalid JSON header at line %d, column %d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        nli_seterr("%s: JSON header is not an object", path);
        json_decref(root);
        return -1;
    }
    size_t first = st->n;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        /* Old checkpoints carry integer position_ids buffers; never used. */
        if (nli_ends_with(key, "position_ids")) continue;
        if (nli_grow((void **)&st->t, cap, st->n + 1, sizeof(nli_st_tensor)) != 0) goto fail;
        nli_st_tensor *t = &st->t[st->n];
        memset(t, 0, sizeof *t);
        if (parse_entry(key, v, data, data_len, t) != 0) { nli_prefixerr("%s", path); goto fail; }
        t->file = fi;
        if (!(t->name = nli_strdup(key))) goto fail;
        st->n++;
    }
    json_decref(root);
    /* Overlap: sort this file's tensors by start; each must start at or
     * after the previous one's end (empty tensors overlap nothing). */
    size_t nf = st->n - first;
    nli_st_tensor *tmp = nli_mallocarray(nf ? nf : 1, sizeof *tmp);
    if (!tmp) return -1;
    if (nf) { /* no tensors: st->t may still be NULL (no pointer arithmetic on it) */
        memcpy(tmp, st->t + first, nf * sizeof *tmp);
        qsort(tmp, nf, sizeof *tmp, cmp_begin);
    }
    const nli_st_tensor *prev = NULL;
    for (size_t i = 0; i < nf; i++) {
        if (!tmp[i].nbytes) continue;
        if (prev && tmp[i].data < prev->data + prev->nbytes) {
            nli_seterr("%s: tensors '%s' and '%s' overlap", path, prev->name, tmp[i].name);
            free(tmp);
            return -1;
        }
        prev = &tmp[i];
    }
    free(tmp);
    return 0;
fail:
    json_decref(root);
    return -1;
}

/* Sort by name and refuse duplicates (possible across shards). */
static int finish(nli_st *st) {
    if (st->n) qsort(st->t, st->n, sizeof *st->t, cmp_name);
    for (size_t i = 1; i < st->n; i++)
        if (strcmp(st->t[i - 1].name, st->t[i].name) == 0) {
            nli_seterr("%s: tensor '%s' also appears in %s", st->paths[st->t[i].file], st->t[i].name,
                      st->paths[st->t[i - 1].file]);
            return -1;
        }
    return 0;
}

int nli_st_open_file(const char *path, nli_st *st) {
    memset(st, 0, sizeof *st);
    size_t cap = 0;
    if (!(st->source = nli_strdup(path)) || add_file(st, path) != 0 || parse_file(st, 0, &cap) != 0 || finish(st) != 0) {
        nli_st_close(st);
        return -1;
    }
    return 0;
}

static int valid_shard_name(const char *s, const char *suffix) {
    size_t n = strlen(s);
    if (n <= strlen(suffix) || n > 200 || s[0] == '.' || strstr(s, "..") || !nli_ends_with(s, suffix)) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.')) return 0;
    }
    return 1;
}

int nli_st_valid_shard_name(const char *s) { return valid_shard_name(s, ".safetensors"); }
int nli_st_valid_shard_name_ext(const char *s, const char *suffix) { return valid_shard_name(s, suffix); }

void nli_st_index_free(nli_st_index *ix) {
    for (int i = 0; i < ix->n_shards; i++) free(ix->shards[i]);
    for (size_t i = 0; i < ix->n_map; i++) free(ix->map[i].tensor);
    free(ix->shards);
    free(ix->map);
    memset(ix, 0, sizeof *ix);
}

/* Append tensor key, stored in shard f, to ix (f validated). */
static int index_add(nli_st_index *ix, const char *path, const char *key, const char *f, size_t *cap_s,
                     size_t *cap_m) {
    int s = 0;
    while (s < ix->n_shards && strcmp(ix->shards[s], f) != 0) s++;
    if (s == ix->n_shards) {
        if (ix->n_shards >= NL_ST_MAX_SHARDS) {
            nli_seterr("%s: more than %d shards", path, NL_ST_MAX_SHARDS);
            return -1;
        }
        if (nli_grow((void **)&ix->shards, cap_s, (size_t)s + 1, sizeof *ix->shards) != 0 ||
            !(ix->shards[s] = nli_strdup(f)))
            return -1;
        ix->n_shards++;
    }
    if (nli_grow((void **)&ix->map, cap_m, ix->n_map + 1, sizeof *ix->map) != 0) return -1;
    nli_st_index_entry *e = &ix->map[ix->n_map];
    if (!(e->tensor = nli_strdup(key))) return -1;
    e->shard = s;
    ix->n_map++;
    return 0;
}

int nli_st_index_read_ext(const char *path, const char *suffix, nli_st_index *ix) {
    memset(ix, 0, sizeof *ix);
    char *text = NULL;
    size_t len = 0, cap_s = 0, cap_m = 0;
    json_t *root = NULL;
    int rc = -1;
    if (nli_read_file(path, NL_ST_INDEX_MAX, &text, &len) != 0) return -1;
    if (nli_json_check_values(path, text, len, NLI_JSON_MAX_VALUES)) goto done;
    json_error_t jerr;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        nli_seterr("%s: invalid JSON at line %d, column %d: %s", path, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        nli_seterr("%s: missing or empty \"weight_map\" object", path);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        char k[256], f[256];
        if (!json_is_string(v)) {
            nli_sanitize(k, sizeof k, key);
            nli_seterr("%s: weight_map entry '%s' is not a string", path, k);
            goto done;
        }
        if (!valid_shard_name(json_string_value(v), suffix)) {
            nli_sanitize(k, sizeof k, key);
            nli_sanitize(f, sizeof f, json_string_value(v));
            nli_seterr("%s: shard name '%s' for tensor '%s' is not a plain file name ending in %s", path, f, k,
                       suffix);
            goto done;
        }
        if (index_add(ix, path, key, json_string_value(v), &cap_s, &cap_m) != 0) goto done;
    }
    rc = 0;
done:
    if (rc != 0) nli_st_index_free(ix);
    json_decref(root);
    free(text);
    return rc;
}

int nli_st_index_read(const char *path, nli_st_index *ix) { return nli_st_index_read_ext(path, ".safetensors", ix); }

/* The shards of an index in dir, each opened at its first mention; then
 * every mapped tensor must be in the shard the index names. */
static int open_index(const char *dir, const char *index, nli_st *st) {
    nli_st_index ix;
    size_t cap = 0;
    if (!(st->source = nli_strdup(index))) return -1;
    if (nli_st_index_read(index, &ix) != 0) return -1;
    int rc = -1;
    for (size_t i = 0; i < ix.n_map; i++) {
        int s = ix.map[i].shard;
        if (s < st->n_files) continue; /* opened already: shards are numbered in order of first mention */
        char *p = nli_path_join(dir, ix.shards[s]);
        if (!p) goto done;
        if (!nli_file_exists(p)) {
            char k[256];
            nli_sanitize(k, sizeof k, ix.map[i].tensor);
            nli_seterr("%s: shard '%s' (for tensor '%s') does not exist", index, ix.shards[s], k);
            free(p);
            goto done;
        }
        int r = add_file(st, p);
        free(p);
        if (r != 0 || parse_file(st, st->n_files - 1, &cap) != 0) goto done;
    }
    if (finish(st) != 0) goto done;
    for (size_t i = 0; i < ix.n_map; i++) {
        const nli_st_index_entry *e = &ix.map[i];
        if (nli_ends_with(e->tensor, "position_ids")) continue;
        const nli_st_tensor *t = nli_st_find(st, e->tensor);
        if (!t || t->file != e->shard) {
            char k[256];
            nli_sanitize(k, sizeof k, e->tensor);
            nli_seterr("%s: tensor '%s' is mapped to '%s' but not found there", index, k, ix.shards[e->shard]);
            goto done;
        }
    }
    rc = 0;
done:
    nli_st_index_free(&ix);
    return rc;
}

int nli_st_open_dir(const char *dir, nli_st *st) {
    memset(st, 0, sizeof *st);
    char *single = nli_path_join(dir, "model.safetensors");
    char *index = nli_path_join(dir, "model.safetensors.index.json");
    int rc = -1;
    if (!single || !index) goto done;
    if (nli_file_exists(single)) {
        rc = nli_st_open_file(single, st);
    } else if (nli_file_exists(index)) {
        rc = open_index(dir, index, st);
        if (rc != 0) nli_st_close(st);
    } else {
        char *bin = nli_path_join(dir, "pytorch_model.bin");
        char *bix = nli_path_join(dir, "pytorch_model.bin.index.json"); /* transformers' sharded .bin */
        const char *have = bin && nli_file_exists(bin) ? bin : bix && nli_file_exists(bix) ? bix : NULL;
        if (have)
            nli_seterr("%s: no model.safetensors or model.safetensors.index.json; the folder has %s, which "
                       "`neglabel convert %s -o %s` turns into the model.safetensors neglabel reads (nothing in the "
                       "pickle is run)",
                       dir, have == bin ? "pytorch_model.bin" : "pytorch_model.bin.index.json and its shards", have,
                       dir);
        else
            nli_seterr("%s: no model.safetensors or model.safetensors.index.json", dir);
        free(bin);
        free(bix);
    }
done:
    free(single);
    free(index);
    return rc;
}

const nli_st_tensor *nli_st_find(const nli_st *st, const char *name) {
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (c == 0) return &st->t[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

float nli_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float nli_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t nli_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

uint16_t nli_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0);
    if (ax >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {                      /* below 2^-14: subnormal or zero */
        if (ax < 0x33000000u) return sign;       /* < 2^-25 rounds to 0 */
        uint32_t man = (ax & 0x7fffff) | 0x800000;
        int shift = 126 - (int)(ax >> 23);       /* 14..24 */
        uint32_t r = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = ((ax >> 13) - (112u << 10)), rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return sign | (uint16_t)r;
}

int nli_st_to_f32(const nli_st *st, const nli_st_tensor *t, float *out) {
    const uint8_t *p = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case NL_ST_F32: memcpy(out, p, n * 4); break;
    case NL_ST_F16:
        for (size_t i = 0; i < n; i++) out[i] = nli_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case NL_ST_BF16:
        for (size_t i = 0; i < n; i++) out[i] = nli_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    default:
        nli_seterr("%s: tensor '%s' has dtype %s (only F32, F16 and BF16 weights are supported)",
                  st->paths[t->file], t->name, nli_st_dtype_name(t->dtype));
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i])) {
            nli_seterr("%s: tensor '%s' holds a non-finite value at index %zu", st->paths[t->file], t->name, i);
            return -1;
        }
    return 0;
}
