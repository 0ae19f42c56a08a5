/* adaneg.c — placeholder until the method lands (issue 11). */
#include "adaneg.h"
#include "util.h"

int nli_score_adaneg(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                 size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                 size_t *top_neg) {
    (void)img; (void)n_img; (void)id_emb; (void)n_id; (void)neg_emb; (void)n_neg; (void)dim; (void)p;
    (void)scores; (void)top_id; (void)top_neg;
    nli_seterr("score: method adaneg is not implemented yet");
    return -1;
}
