/* score_cuda_stubs.c — in a build without CUDA, GPU mining and scoring
 * (method/cuda/score_cuda.h, adaneg_cuda.h, oodd_cuda.h) say so and fail. */
#include "neglabel.h"
#include "util.h"
#include "cuda/cuda_device.h"
#include "cuda/score_cuda.h"
#include "cuda/adaneg_cuda.h"
#include "cuda/oodd_cuda.h"

#ifndef NEGLABEL_HAVE_CUDA
int nli_cuda_score(int index, const float *img, size_t n_img, const float *id_emb, size_t n_id,
                  const float *neg_emb, size_t n_neg, size_t dim, int method, size_t ngroup, size_t gsize,
                  const size_t *perm, double inv_tau, double *scores, size_t *top_id, size_t *top_neg) {
    NL_NO_CUDA();
    return -1;
}
int nli_cuda_mine_quantiles(int index, const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
                           size_t dim, double q, double *qsim) { NL_NO_CUDA(); return -1; }
nli_cuda_adaneg *nli_cuda_adaneg_open(int index, const double *did, size_t n_id, const double *dneg, size_t n_neg,
                                      size_t dim, const size_t *perm, size_t ngroup, size_t gsize, double inv_tau,
                                      size_t sub, size_t slots, int samada, double beta) {
    NL_NO_CUDA();
    return NULL;
}
void nli_cuda_adaneg_close(nli_cuda_adaneg *g) { (void)g; }
int nli_cuda_adaneg_static(nli_cuda_adaneg *g, const double *u, size_t m, double hi, double lo, double *score,
                           size_t *top_id, size_t *top_neg, double *entropy) { NL_NO_CUDA(); return -1; }
int nli_cuda_adaneg_set_rows(nli_cuda_adaneg *g, const size_t *rows, size_t n, const double *data,
                             const double *slotv, const int *kinds) { NL_NO_CUDA(); return -1; }
int nli_cuda_adaneg_memory(nli_cuda_adaneg *g, const size_t *touched, size_t n_touched) { NL_NO_CUDA(); return -1; }
int nli_cuda_adaneg_adaptive(nli_cuda_adaneg *g, const double *u, size_t m, double *out) { NL_NO_CUDA(); return -1; }
nli_cuda_oodd *nli_cuda_oodd_open(int index, size_t dim, size_t slots, size_t batch) {
    NL_NO_CUDA();
    return NULL;
}
void nli_cuda_oodd_close(nli_cuda_oodd *g) { (void)g; }
int nli_cuda_oodd_batch(nli_cuda_oodd *g, const double *rows, size_t m, const size_t *put_row,
                        const size_t *put_slot, size_t n_put, const size_t *queued, size_t n_queued, size_t used,
                        size_t k, double *kth) { NL_NO_CUDA(); return -1; }
#endif
