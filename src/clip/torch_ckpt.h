/* torch_ckpt.h — a PyTorch checkpoint archive read as a state dict:
 * OpenAI's TorchScript .pt files (torch.jit.save: data.pkl holds the module
 * objects, code/ declares each class's parameters and buffers), plain
 * torch.save zip files of a state dict, and training checkpoints (a dict
 * with a 'state_dict' entry, open_clip_train's epoch_N.pt: that entry is
 * the state dict, as open_clip's load_state_dict takes it; the optimizer
 * state and the rest are unpickled but never read from their storages).
 * Names, order and contents are those of module.state_dict() / the saved
 * dict: parameters, then buffers, then submodules, joined with '.'. DDP's
 * 'module.' prefix is left to nli_ckpt_strip_module (open_clip strips it,
 * transformers does not). Nothing is executed (pickle.h); every
 * tensor's bytes are checked against its storage entry. Little-endian
 * archives only. */
#ifndef NEGLABEL_TORCH_CKPT_H
#define NEGLABEL_TORCH_CKPT_H
#include <stddef.h>
#include <stdint.h>

#include "pickle.h"
#include "zipread.h"

#define NL_CKPT_MAX_DEPTH 64     /* module nesting */
/* Module attributes visited in all (a visit of a module costs one, and one
 * per attribute): a TorchScript module shared by two parents is walked once
 * per path, so a chain of modules each holding the next twice would take
 * 2^depth steps. A real CLIP visits a few thousand. */
#define NL_CKPT_MAX_VISITS ((size_t)1 << 20)
#define NL_CKPT_MAX_NAME 4096    /* a tensor's full name */
#define NL_CKPT_MAX_CODE ((uint64_t)16 << 20)
/* Deflated storage entries (torch.save writes them stored) may inflate to
 * at most NL_CKPT_MAX_INFLATE times their compressed bytes, plus
 * NL_CKPT_INFLATE_SLACK in all (data.pkl too, on its own); the tensors may take at most twice their
 * storages' bytes plus NL_CKPT_VIEW_SLACK (views of one storage are each
 * written out: only tied weights share one). */
#define NL_CKPT_MAX_INFLATE 32
#define NL_CKPT_INFLATE_SLACK ((uint64_t)1 << 20)
#define NL_CKPT_VIEW_SLACK ((uint64_t)1 << 20)

typedef struct {
    char *name;
    nli_dtype dtype;
    int ndim;
    int64_t shape[NL_PK_MAX_DIMS];
    const nli_pk_tensor *src; /* in the pickle */
    const uint8_t *data;      /* contiguous bytes after nli_ckpt_load_data: inside its
                                 storage (shared with other views), or own */
    uint8_t *own;             /* a strided view's gathered copy */
    size_t nbytes;
} nli_ckpt_tensor;

typedef struct {
    nli_zip *zip;
    char *prefix;             /* "archive" of "archive/data.pkl" */
    int torchscript;
    int training;             /* the state dict is the root dict's 'state_dict' entry */
    int64_t epoch;            /* a training checkpoint's 'epoch' (-1: none, or not an int) */
    size_t ignored;           /* its other entries (optimizer state ...), not read */
    nli_pk_arena *arena;
    nli_ckpt_tensor *t;
    size_t n, cap;
    uint8_t **stor;           /* the storages read, each once */
    size_t nstor;
} nli_ckpt;

/* Open the archive, unpickle data.pkl and list the state dict (shapes and
 * dtypes; no tensor data yet). */
int nli_ckpt_open(const char *path, nli_ckpt *ck);
/* The same on an archive already opened (takes ownership of z). */
int nli_ckpt_open_zip(nli_zip *z, nli_ckpt *ck);
/* Read every tensor's bytes (contiguous, row-major) from its storage:
 * each storage entry is read once, its contiguous views point into it.
 * Refused before anything is read: a missing or mis-sized storage entry,
 * deflated ones that inflate too far, tensors viewing storages over and
 * over (see NL_CKPT_MAX_INFLATE). */
int nli_ckpt_load_data(nli_ckpt *ck);
void nli_ckpt_free(nli_ckpt *ck);

/* The walk alone, on an unpickled root (for the fuzzer and tests): with z
 * NULL, TorchScript objects count every tensor attribute as a parameter. */
int nli_ckpt_walk(nli_ckpt *ck, const nli_pk *root, const char *what);

/* open_clip's load_state_dict (factory.py): when the first tensor's name
 * begins with 'module' (DDP's "module." prefix), its first 7 bytes are
 * dropped from every name, whatever they are. Returns 1 when it did, 0
 * when the names stay as they are, -1 (error naming what) when a name
 * would be left empty or two the same. */
int nli_ckpt_strip_module(nli_ckpt *ck, const char *what);
#endif
