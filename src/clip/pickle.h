/* pickle.h — a minimal, safe unpickler for PyTorch's checkpoints.
 *
 * It reads the protocol 2+ opcodes that torch.save and torch.jit.save write
 * and builds a tree of plain values; it never executes anything. A GLOBAL
 * is only a name: REDUCE, NEWOBJ and BUILD accept the few callables a state
 * dict needs (torch._utils._rebuild_tensor_v2 and _rebuild_parameter,
 * collections.OrderedDict, torch.jit._pickle's list builders) and objects of
 * TorchScript classes (__torch__.*), which stay opaque: their BUILD state is
 * kept as it is. Storage types (torch.FloatStorage ...) are only accepted
 * inside persistent ids ('storage', type, key, location, numel). Anything
 * else is refused, naming the global or the opcode.
 *
 * A tensor's sizes, strides and offset are checked against its storage's
 * declared element count when it is built (overflow included), and a
 * tensor may not have more elements than its storage (no expanded views,
 * so copying tensors out costs at most their storages' size each). Bounds:
 * NL_PK_MAX_INPUT bytes of pickle, NL_PK_MAX_MEMO memo slots, at most one
 * value per input byte and NL_PK_MAX_VALUES in all. Every value lives in an arena freed at once, so
 * shared and cyclic structures (memo abuse) cost nothing to free; code that
 * walks the tree bounds its own depth. */
#ifndef NEGLABEL_PICKLE_H
#define NEGLABEL_PICKLE_H
#include <stddef.h>
#include <stdint.h>

#define NL_PK_MAX_INPUT ((size_t)256 << 20)
#define NL_PK_MAX_MEMO (1u << 22)
/* Values in all (~100 bytes each, so 400 MB at most; a state dict takes
 * about 15 a tensor, a real CLIP ~10,000). */
#define NL_PK_MAX_VALUES ((size_t)1 << 22)
#define NL_PK_MAX_DIMS 8
/* Largest element count of a storage or a tensor (2^40). */
#define NL_PK_MAX_NUMEL ((int64_t)1 << 40)

typedef enum {
    NLI_PK_NONE, NLI_PK_BOOL, NLI_PK_INT, NLI_PK_FLOAT, NLI_PK_STR, NLI_PK_BYTES,
    NLI_PK_TUPLE, NLI_PK_LIST, NLI_PK_DICT, /* items: key, value, key, value ... */
    NLI_PK_GLOBAL,  /* s: "module.name" */
    NLI_PK_OBJECT,  /* an instance of a TorchScript class: cls, state (NULL until BUILD) */
    NLI_PK_STORAGE, /* a persistent id ('storage', ...) */
    NLI_PK_TENSOR,
    NLI_PK_MARK     /* internal */
} nli_pk_kind;

/* Element types of storages, named as torch's storage classes. */
typedef enum {
    NLI_DT_F32, NLI_DT_F16, NLI_DT_BF16, NLI_DT_F64, NLI_DT_I64, NLI_DT_I32, NLI_DT_I16, NLI_DT_I8, NLI_DT_U8,
    NLI_DT_BOOL
} nli_dtype;
size_t nli_dtype_size(nli_dtype d);
const char *nli_dtype_st_name(nli_dtype d); /* the safetensors name: "F32" ... */

typedef struct nli_pk nli_pk;
typedef struct {
    const nli_pk *storage; /* NLI_PK_STORAGE */
    int64_t offset;        /* in elements */
    int ndim;
    int64_t size[NL_PK_MAX_DIMS], stride[NL_PK_MAX_DIMS];
    int64_t numel;
} nli_pk_tensor;

struct nli_pk {
    nli_pk_kind kind;
    int64_t i;        /* BOOL, INT; STORAGE: numel */
    double f;         /* FLOAT */
    char *s;          /* STR, BYTES, GLOBAL; STORAGE: key */
    size_t slen;
    nli_pk **items;   /* TUPLE, LIST, DICT */
    size_t n, cap;
    const nli_pk *cls; /* OBJECT: its class (GLOBAL) */
    nli_pk *state;     /* OBJECT: what BUILD gave it */
    nli_dtype dtype;   /* STORAGE */
    nli_pk_tensor *t;  /* TENSOR */
};

typedef struct nli_pk_arena nli_pk_arena;

/* Unpickle data (len bytes); name goes in front of messages ("x.pt:
 * archive/data.pkl"). On success *root is the value STOP returned, owned
 * by *arena (free with nli_pk_free). */
int nli_unpickle(const uint8_t *data, size_t len, const char *name, nli_pk_arena **arena, nli_pk **root);
void nli_pk_free(nli_pk_arena *a);

/* DICT lookup by string key (NULL if absent or not a dict). */
nli_pk *nli_pk_get(const nli_pk *dict, const char *key);
const char *nli_pk_kind_name(nli_pk_kind k);
#endif
