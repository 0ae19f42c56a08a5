/* adaneg_cuda.h — AdaNeg's heavy steps on a CUDA device (method/cuda/adaneg.cu;
 * stubs in method/score_cuda_stubs.c in a build without CUDA). adaneg.c keeps
 * the stream's logic (which image enters which label's memory, the proxies
 * and Gram matrices of the labels that changed) and hands each chunk of
 * images to the device for what costs: the cosines to every label (DGEMM),
 * the static NegLabel score and argmaxes, the entropies, the cosines to the
 * proxies or to the images in memory, the adaptive cosines and the adaptive
 * NegLabel score. Every function sets nli_seterr on failure; nothing aborts. */
#ifndef NEGLABEL_ADANEG_CUDA_H
#define NEGLABEL_ADANEG_CUDA_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nli_cuda_adaneg nli_cuda_adaneg;

/* A session on device `index`: the unit label rows (n_id + n_neg rows of
 * dim doubles, as adaneg.c normalised them) and the groups (perm: ngroup *
 * gsize negative indices) resident; room for `sub` images per chunk and
 * `slots` slots per label. samada: sample-adaptive proxies (beta: their
 * integer beta). NULL, with the error set, on failure. */
nli_cuda_adaneg *nli_cuda_adaneg_open(int index, const double *did, size_t n_id, const double *dneg, size_t n_neg,
                                      size_t dim, const size_t *perm, size_t ngroup, size_t gsize, double inv_tau,
                                      size_t sub, size_t slots, int samada, double beta);
void nli_cuda_adaneg_close(nli_cuda_adaneg *g);

/* The static step for m <= sub unit image rows u (host, m * dim doubles):
 * their cosines to every label stay on the device; NegLabel's score, the
 * first ID and negative argmaxes, and the entropy of the softmax over the ID
 * cosines (score above hi) or over all negative ones (score below lo; else
 * 0) come back. */
int nli_cuda_adaneg_static(nli_cuda_adaneg *g, const double *u, size_t m, double hi, double lo, double *score,
                           size_t *top_id, size_t *top_neg, double *entropy);

/* The proxy rows that changed: n rows (their indices in rows[]), packed in
 * data, each dim doubles (task-adaptive proxies) or slots^2 (sample-adaptive
 * Gram matrices). Sample-adaptive also: slotv, each row's slots' unit
 * vectors (slots * dim doubles; what an empty or text slot holds is not
 * read), and kinds, slots ints per row: -2 the label's text, -1 empty, 0 an
 * image. The device keeps every row it was given. */
int nli_cuda_adaneg_set_rows(nli_cuda_adaneg *g, const size_t *rows, size_t n, const double *data,
                             const double *slotv, const int *kinds);

/* The memory for this batch: touched[r] is the label of proxy row r
 * (n_touched rows, every one set by nli_cuda_adaneg_set_rows). */
int nli_cuda_adaneg_memory(nli_cuda_adaneg *g, const size_t *touched, size_t n_touched);

/* The adaptive step: NegLabel's score over the cosines with each touched
 * label's replaced by the cosine to its proxy (out, m values). Runs on the
 * images of the last static step; with u not NULL, on these m unit rows,
 * whose static cosines are computed again first. */
int nli_cuda_adaneg_adaptive(nli_cuda_adaneg *g, const double *u, size_t m, double *out);

#ifdef __cplusplus
}
#endif
#endif
