/* oodd.h — OODD (CVPR 2025), a stream method: the entry point nl_score
 * dispatches to (parameters already validated by nl_score: method, tau,
 * ngroup, sizes; n_img > 0). docs/methods.md. */
#ifndef NEGLABEL_OODD_H
#define NEGLABEL_OODD_H
#include "neglabel.h"

int nli_score_oodd(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                   size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                   size_t *top_neg);
#endif
