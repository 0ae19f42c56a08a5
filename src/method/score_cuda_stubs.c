/* score_cuda_stubs.c — in a build without CUDA, GPU mining and scoring
 * (method/cuda/score_cuda.h) say so and fail. */
#include "neglabel.h"
#include "util.h"
#include "cuda/cuda_device.h"
#include "cuda/score_cuda.h"

#ifndef NEGLABEL_HAVE_CUDA
int nli_cuda_score(int index, const float *img, size_t n_img, const float *id_emb, size_t n_id,
                  const float *neg_emb, size_t n_neg, size_t dim, int method, size_t ngroup, size_t gsize,
                  const size_t *perm, double inv_tau, double *scores, size_t *top_id, size_t *top_neg) {
    NL_NO_CUDA();
    return -1;
}
int nli_cuda_mine_quantiles(int index, const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
                           size_t dim, double q, double *qsim) { NL_NO_CUDA(); return -1; }
#endif
