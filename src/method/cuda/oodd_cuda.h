/* oodd_cuda.h — OODD's queue cosines on a CUDA device (method/cuda/oodd.cu;
 * stubs in method/score_cuda_stubs.c in a build without CUDA). oodd.c keeps
 * the stream's logic (CPython's heap: which image is queued in which slot,
 * which is evicted) and hands each batch to the device for what costs: the
 * batch's cosines to every slot (DGEMM against slot rows that stay on the
 * device) and, per image, the k-th largest of its cosines to the queued
 * images. Every function sets nli_seterr on failure; nothing aborts. */
#ifndef NEGLABEL_OODD_CUDA_H
#define NEGLABEL_OODD_CUDA_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nli_cuda_oodd nli_cuda_oodd;

/* A session on device `index`: `slots` slot rows of dim doubles and room
 * for batches of up to `batch` images. NULL, with the error set, on failure. */
nli_cuda_oodd *nli_cuda_oodd_open(int index, size_t dim, size_t slots, size_t batch);
void nli_cuda_oodd_close(nli_cuda_oodd *g);

/* One batch: m <= batch unit rows (host, m * dim doubles). First the n_put
 * rows put_row[j] are written to slots put_slot[j] (distinct slots); then
 * for each image i < m, kth[i] = the k-th largest (1 <= k <= n_queued) of
 * its cosines to the slots queued[0 .. n_queued) (distinct, < used, every
 * one written by this or an earlier batch); `used`: 1 + the highest slot
 * written so far. */
int nli_cuda_oodd_batch(nli_cuda_oodd *g, const double *rows, size_t m, const size_t *put_row,
                        const size_t *put_slot, size_t n_put, const size_t *queued, size_t n_queued, size_t used,
                        size_t k, double *kth);

#ifdef __cplusplus
}
#endif
#endif
