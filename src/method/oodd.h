/* oodd.h — OODD (CVPR 2025), a stream method: the entry point nl_score
 * dispatches to (parameters already validated by nl_score: method, tau,
 * ngroup, sizes; n_img > 0), and the stream itself over given static
 * scores, with a trace of its discrete state for tests. docs/methods.md. */
#ifndef NEGLABEL_OODD_H
#define NEGLABEL_OODD_H
#include "neglabel.h"

/* What the stream did, for tests (all optional; the caller allocates).
 * Queue states are stream indices in heap order (CPython's heapq list). */
typedef struct {
    const size_t *snap_after; /* in: batch numbers (0-based) after whose queueing to record the queue */
    size_t n_snap;
    size_t *snap_heap;        /* out: n_snap x oodd_queue entries */
    size_t *snap_len;         /* out: n_snap lengths */
    size_t *final_heap;       /* out: oodd_queue entries: the queue after the last batch */
    size_t final_len;
    double *kth;              /* out: n_img, the cosine each image's score subtracts */
    size_t n_short;           /* out: images scored while fewer than oodd_k images were queued */
} nli_oodd_trace;

/* 0 when batch, queue and k are usable (1 <= k <= queue), else -1 (error set). */
int nli_oodd_check(const nl_score_params *p);

/* The stream over n_img rows of img (raw; normalised here in double) in
 * order, with their static scores `stat`: scores[i] = stat[i] - the k-th
 * largest cosine between image i and the queue after its batch entered. */
int nli_oodd_stream(const float *img, size_t n_img, size_t dim, const double *stat, const nl_score_params *p,
                    double *scores, nli_oodd_trace *trace);

/* nl_score's OODD: NegLabel's score (p's ngroup, tau, permutation, seed,
 * device) as the static score, then nli_oodd_stream. trace may be NULL. */
int nli_score_oodd_trace(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                         size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                         size_t *top_neg, nli_oodd_trace *trace);
int nli_score_oodd(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                   size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                   size_t *top_neg);
#endif
