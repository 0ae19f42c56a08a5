/* adaneg.h — AdaNeg (Zhang et al., NeurIPS 2024), a stream method: the
 * entry point nl_score dispatches to (nl_score has validated method, tau,
 * ngroup, permutation and sizes; n_img > 0). The rows are one stream, in
 * the given order, from a fresh memory. top_id / top_neg: the static
 * argmax (the image's most similar ID label and, over all negatives,
 * negative label), as for NegLabel. With p->device CUDA (or AUTO finding
 * one) each chunk's cosines and scores run on that GPU, the memory's logic
 * here. docs/methods.md, "AdaNeg". */
#ifndef NEGLABEL_ADANEG_H
#define NEGLABEL_ADANEG_H
#include "neglabel.h"

#include <stdint.h>

/* The memory after the stream, for tests: labels 0..n_id-1 are the ID
 * labels, n_id.. the negatives (all of them, also those the grouping drops).
 * Each label has `slots` = 1 + adaneg_memory slots. */
#define NLI_ADANEG_TEXT ((int64_t)-2)  /* slot holds the label's text embedding */
#define NLI_ADANEG_EMPTY ((int64_t)-1) /* slot holds zeros */
typedef struct {
    size_t n_labels, slots;
    int64_t *slot;    /* n_labels * slots: NLI_ADANEG_TEXT, NLI_ADANEG_EMPTY or a stream index */
    double *entropy;  /* n_labels * slots (0 where never written) */
    size_t *fill;     /* n_labels: the reference's indice_memory (next slot; starts at 1) */
    size_t cached_id, cached_neg; /* images written into a slot under an ID / a negative label */
    size_t replaced;  /* of those, writes into a full label (replacing its highest-entropy slot) */
    size_t rejected;  /* images a full label turned away (entropy not below any stored one) */
} nli_adaneg_trace;

/* AdaNeg's parameters in range: 0, or -1 with the error set. */
int nli_adaneg_check(const nl_score_params *p);
int nli_score_adaneg(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                     size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                     size_t *top_neg);
/* The same, leaving the final memory in *trace (when not NULL; free with
 * nli_adaneg_trace_free, also after an error). */
int nli_adaneg_run(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                   size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                   size_t *top_neg, nli_adaneg_trace *trace);
void nli_adaneg_trace_free(nli_adaneg_trace *t);
#endif
