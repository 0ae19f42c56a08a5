/* score_util.h — the pieces of NegLabel's score that every method built on
 * it shares (score.c, adaneg.c, oodd.c): log-sum-exp, argmax, the grouped score of
 * one image, unit rows in double. docs/scoring.md. */
#ifndef NEGLABEL_SCORE_UTIL_H
#define NEGLABEL_SCORE_UTIL_H
#include <stddef.h>

#include "neglabel.h"

/* log(sum exp(s[idx[k]] / tau)) over k < n (idx NULL: identity). */
double nli_lse(const double *s, const size_t *idx, size_t n, double inv_tau);
/* Index of the first largest of s[0..n). */
size_t nli_argmax(const double *s, size_t n);
/* NegLabel for one image: mean over groups of exp(LSE(id) - LSE(id ∪ g)),
 * group g the negatives perm[g gsize .. (g+1) gsize). */
double nli_neglabel_one(const double *sid, size_t n_id, const double *sneg, const size_t *perm, size_t ngroup,
                        size_t gsize, double inv_tau);
/* The first of the n rows of x (dim floats each) holding a NaN or an
 * infinity, or n when every value is finite. */
size_t nli_first_nonfinite(const float *x, size_t n, size_t dim);
/* One row of float -> double scaled to unit length (a zero row stays 0). */
void nli_unit_row(const float *x, size_t dim, double *out);
/* n rows of float -> double, each scaled to unit length (zero rows stay 0);
 * malloc'd (NULL: out of memory, error set). */
double *nli_unit_rows(const float *x, size_t n, size_t dim);
/* nl_score after its checks, without marking NaN scores' labels or warning
 * (for a method that scores NegLabel's static score first, and so warns once). */
int nli_score_rows(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                   size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                   size_t *top_neg);
#endif
