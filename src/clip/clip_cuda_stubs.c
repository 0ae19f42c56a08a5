/* clip_cuda_stubs.c — in a build without CUDA, the CLIP engine's GPU entry points
 * (clip/cuda/clip_cuda.h) say so and fail. */
#include "neglabel.h"
#include "util.h"
#include "cuda/cuda_device.h"
#include "cuda/clip_cuda.h"

#ifndef NEGLABEL_HAVE_CUDA
nli_cuda_clip *nli_cuda_clip_create(const struct nli_clip *c, int index, int precision, int max_batch) {
    NL_NO_CUDA();
    return NULL;
}
void nli_cuda_clip_free(nli_cuda_clip *g) { (void)g; }
int nli_cuda_clip_max_batch(const nli_cuda_clip *g) { return 0; }
int nli_cuda_encode_images(nli_cuda_clip *g, const float *pixels, size_t n, float *out) { NL_NO_CUDA(); return -1; }
int nli_cuda_images_submit(nli_cuda_clip *g, int slot, const uint8_t *rgb, size_t n) { NL_NO_CUDA(); return -1; }
int nli_cuda_images_collect(nli_cuda_clip *g, int slot, float *out) { NL_NO_CUDA(); return -1; }
uint8_t *nli_cuda_images_staging(nli_cuda_clip *g, int slot) { NL_NO_CUDA(); return NULL; }
int nli_cuda_encode_texts(nli_cuda_clip *g, const int32_t *const *ids, const int *run, const int *pool, size_t n,
                         float *out) { NL_NO_CUDA(); return -1; }
int nli_cuda_texts_submit(nli_cuda_clip *g, int slot, const int32_t *const *ids, const int *run, const int *pool,
                         size_t n) { NL_NO_CUDA(); return -1; }
int nli_cuda_texts_collect(nli_cuda_clip *g, int slot, float *out) { NL_NO_CUDA(); return -1; }
int nli_cuda_bench_images(nli_cuda_clip *g, int batch, int iters, double *seconds) { NL_NO_CUDA(); return -1; }
int nli_cuda_bench_stages(nli_cuda_clip *g, int batch, int iters, double *ms, double *total_ms) {
    NL_NO_CUDA();
    return -1;
}
#endif
