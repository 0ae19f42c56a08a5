/* score_cuda.h — NegLabel mining and scoring on a CUDA device (method/cuda/score.cu;
 * stubs in method/score_cuda_stubs.c in a build without CUDA).
 * Every function sets nli_seterr on failure; nothing aborts. */
#ifndef NEGLABEL_SCORE_CUDA_H
#define NEGLABEL_SCORE_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ mining and scoring */

/* NegLabel / MCM scores on device `index`, same contract and formulas as
 * the CPU loop in score.c: rows normalised in double, cosines in double
 * (DGEMM), log-sum-exp in double. method: 0 NegLabel, 1 MCM. perm holds
 * ngroup*gsize negative indices (NegLabel only). top_id / top_neg may be
 * NULL. */
int nli_cuda_score(int index, const float *img, size_t n_img, const float *id_emb, size_t n_id,
                  const float *neg_emb, size_t n_neg, size_t dim, int method, size_t ngroup, size_t gsize,
                  const size_t *perm, double inv_tau, double *scores, size_t *top_id, size_t *top_neg);

/* NegMining's per-candidate q-quantile (torch.quantile "linear") of the
 * double-precision cosines between each candidate row and every ID row
 * (rows used as given, already normalised), on device `index`. */
int nli_cuda_mine_quantiles(int index, const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
                           size_t dim, double q, double *qsim);

#ifdef __cplusplus
}
#endif
#endif
