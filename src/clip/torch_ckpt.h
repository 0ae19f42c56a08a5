/* torch_ckpt.h — a PyTorch checkpoint archive read as a state dict:
 * OpenAI's TorchScript .pt files (torch.jit.save: data.pkl holds the module
 * objects, code/ declares each class's parameters and buffers) and plain
 * torch.save zip files of a state dict. Names, order and contents are those
 * of module.state_dict() / the saved dict: parameters, then buffers, then
 * submodules, joined with '.'. Nothing is executed (pickle.h); every
 * tensor's bytes are checked against its storage entry. Little-endian
 * archives only. */
#ifndef NEGLABEL_TORCH_CKPT_H
#define NEGLABEL_TORCH_CKPT_H
#include <stddef.h>
#include <stdint.h>

#include "pickle.h"
#include "zipread.h"

#define NL_CKPT_MAX_DEPTH 64     /* module nesting */
#define NL_CKPT_MAX_NAME 4096    /* a tensor's full name */
#define NL_CKPT_MAX_CODE ((uint64_t)16 << 20)

typedef struct {
    char *name;
    nli_dtype dtype;
    int ndim;
    int64_t shape[NL_PK_MAX_DIMS];
    const nli_pk_tensor *src; /* in the pickle */
    uint8_t *data;            /* contiguous bytes after nli_ckpt_load_data (owned) */
    size_t nbytes;
} nli_ckpt_tensor;

typedef struct {
    nli_zip *zip;
    char *prefix;             /* "archive" of "archive/data.pkl" */
    int torchscript;
    nli_pk_arena *arena;
    nli_ckpt_tensor *t;
    size_t n, cap;
} nli_ckpt;

/* Open the archive, unpickle data.pkl and list the state dict (shapes and
 * dtypes; no tensor data yet). */
int nli_ckpt_open(const char *path, nli_ckpt *ck);
/* The same on an archive already opened (takes ownership of z). */
int nli_ckpt_open_zip(nli_zip *z, nli_ckpt *ck);
/* Read every tensor's bytes (contiguous, row-major) from its storage. */
int nli_ckpt_load_data(nli_ckpt *ck);
void nli_ckpt_free(nli_ckpt *ck);

/* The walk alone, on an unpickled root (for the fuzzer and tests): with z
 * NULL, TorchScript objects count every tensor attribute as a parameter. */
int nli_ckpt_walk(nli_ckpt *ck, const nli_pk *root, const char *what);
#endif
