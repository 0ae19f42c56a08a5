/* nl_cuda.h — the CUDA backend as the rest of the library sees it. Plain C
 * declarations; the definitions are in the .cu files of src/cuda when the library is
 * built with CUDA (NEGLABEL_HAVE_CUDA), and in src/device.c as stubs that
 * report "built without CUDA" otherwise. Every function sets nl_seterr on
 * failure; nothing aborts. */
#ifndef NEGLABEL_CUDA_H
#define NEGLABEL_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nl_clip;

/* Usable CUDA devices; 0 with the reason in nl_geterr() when none. */
int nl_cuda_count(void);
/* Name, memory and compute capability of device index. */
int nl_cuda_describe(int index, char *name, size_t cap, size_t *free_bytes, size_t *total_bytes, int *cc_major,
                     int *cc_minor);

/* ------------------------------------------------------------ CLIP engine */

typedef struct nl_cuda_clip nl_cuda_clip;

/* Upload c's weights to device `index`, converted once to `precision`
 * (nl_precision: 1 fp32, 2 fp16, 3 bf16). max_batch bounds the images per
 * forward pass (0: sized from free memory). */
nl_cuda_clip *nl_cuda_clip_create(const struct nl_clip *c, int index, int precision, int max_batch);
void nl_cuda_clip_free(nl_cuda_clip *g);
int nl_cuda_clip_max_batch(const nl_cuda_clip *g);

/* n images of normalised CHW float32 pixels (as nl_clip_encode_images). */
int nl_cuda_encode_images(nl_cuda_clip *g, const float *pixels, size_t n, float *out);
/* n images of image_size^2 RGB uint8 (HWC), normalised on the GPU with the
 * model's mean/std exactly as nl_image_normalize does. Asynchronous,
 * double-buffered: submit copies rgb (pinned staging, slot 0 or 1) and
 * queues the forward pass; collect waits for that slot and writes out. */
int nl_cuda_images_submit(nl_cuda_clip *g, int slot, const uint8_t *rgb, size_t n);
int nl_cuda_images_collect(nl_cuda_clip *g, int slot, float *out);
/* Pinned host buffer of a slot (n <= max_batch images), to decode into
 * directly; submit with rgb == this pointer skips the copy. */
uint8_t *nl_cuda_images_staging(nl_cuda_clip *g, int slot);

/* Texts: ids[i][0..run[i]) are run through the causal tower (run[i] may
 * exceed the given tokens only for padded runs: the caller pads) and row
 * pool[i] is pooled. Sequences are packed, never padded. */
int nl_cuda_encode_texts(nl_cuda_clip *g, const int32_t *const *ids, const int *run, const int *pool, size_t n,
                         float *out);

/* Benchmark entry: forward passes over `batch` random preprocessed images
 * already in GPU memory, `iters` times; *seconds per pass (median). */
int nl_cuda_bench_images(nl_cuda_clip *g, int batch, int iters, double *seconds);

/* ------------------------------------------------------ mining and scoring */

/* NegLabel / MCM scores on device `index`, same contract and formulas as
 * the CPU loop in score.c: rows normalised in double, cosines in double
 * (DGEMM), log-sum-exp in double. method: 0 NegLabel, 1 MCM. perm holds
 * ngroup*gsize negative indices (NegLabel only). top_id / top_neg may be
 * NULL. */
int nl_cuda_score(int index, const float *img, size_t n_img, const float *id_emb, size_t n_id,
                  const float *neg_emb, size_t n_neg, size_t dim, int method, size_t ngroup, size_t gsize,
                  const size_t *perm, double inv_tau, double *scores, size_t *top_id, size_t *top_neg);

/* NegMining's per-candidate q-quantile (torch.quantile "linear") of the
 * double-precision cosines between each candidate row and every ID row
 * (rows used as given, already normalised), on device `index`. */
int nl_cuda_mine_quantiles(int index, const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
                           size_t dim, double q, double *qsim);

#ifdef __cplusplus
}
#endif
#endif
