/* clip_cuda.h — the CLIP engine on a CUDA device (clip/cuda/clip_cuda.cu; stubs in
 * clip/clip_cuda_stubs.c in a build without CUDA).
 * Every function sets nli_seterr on failure; nothing aborts. */
#ifndef NEGLABEL_CLIP_CUDA_H
#define NEGLABEL_CLIP_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nli_clip;

/* ------------------------------------------------------------ CLIP engine */

typedef struct nli_cuda_clip nli_cuda_clip;

/* Upload c's weights to device `index`, converted once to `precision`
 * (nl_precision: 1 fp32, 2 fp16, 3 bf16). max_batch bounds the images per
 * forward pass (0: sized from free memory). */
nli_cuda_clip *nli_cuda_clip_create(const struct nli_clip *c, int index, int precision, int max_batch);
void nli_cuda_clip_free(nli_cuda_clip *g);
int nli_cuda_clip_max_batch(const nli_cuda_clip *g);

/* n images of normalised CHW float32 pixels (as nli_clip_encode_images). */
int nli_cuda_encode_images(nli_cuda_clip *g, const float *pixels, size_t n, float *out);
/* n images of image_size^2 RGB uint8 (HWC), normalised on the GPU with the
 * model's mean/std exactly as nli_image_normalize does. Asynchronous,
 * double-buffered: submit copies rgb (pinned staging, slot 0 or 1) and
 * queues the forward pass; collect waits for that slot and writes out. */
int nli_cuda_images_submit(nli_cuda_clip *g, int slot, const uint8_t *rgb, size_t n);
int nli_cuda_images_collect(nli_cuda_clip *g, int slot, float *out);
/* Pinned host buffer of a slot (n <= max_batch images), to decode into
 * directly; submit with rgb == this pointer skips the copy. */
uint8_t *nli_cuda_images_staging(nli_cuda_clip *g, int slot);

/* Texts: ids[i][0..run[i]) are run through the causal tower (run[i] may
 * exceed the given tokens only for padded runs: the caller pads) and row
 * pool[i] is pooled. Sequences are packed, never padded. SigLIP
 * (cfg.siglip): run[i] is the number of given tokens (1 to the context),
 * pool[i] must be the context's last position; each text is padded here
 * to the context with pad_token_id and runs without a mask. */
int nli_cuda_encode_texts(nli_cuda_clip *g, const int32_t *const *ids, const int *run, const int *pool, size_t n,
                         float *out);
/* The same, asynchronous and double-buffered (text_cuda.cu): submit packs
 * n <= NLI_CUDA_TEXT_SLOT texts into slot 0 or 1 (pinned staging; the ids
 * may be freed when it returns) and queues their forward passes; collect
 * waits for that slot and writes its n embeddings to out (out NULL: drops
 * them, errors ignored). A slot must be collected before its next submit. */
#define NLI_CUDA_TEXT_SLOT 8192
int nli_cuda_texts_submit(nli_cuda_clip *g, int slot, const int32_t *const *ids, const int *run, const int *pool,
                         size_t n);
int nli_cuda_texts_collect(nli_cuda_clip *g, int slot, float *out);

/* Benchmark entry: forward passes over `batch` random preprocessed images
 * already in GPU memory, `iters` times; *seconds per pass (median). */
int nli_cuda_bench_images(nli_cuda_clip *g, int batch, int iters, double *seconds);

/* The ops of a forward pass, for the stage clock (the text tower's: embed,
 * the block stages and head). */
enum {
    NLI_STAGE_PATCH,      /* pixels to patch rows (normalise, im2col) */
    NLI_STAGE_PATCH_GEMM, /* patch embedding matrix product */
    NLI_STAGE_EMBED,      /* class token + positions, pre-LayerNorm */
    NLI_STAGE_LN1,        /* per block: LayerNorm 1 (of x + the output biases so far) */
    NLI_STAGE_QKV,        /*            q, k, v projection */
    NLI_STAGE_ATTN,       /*            fused attention */
    NLI_STAGE_OPROJ,      /*            output projection + residual */
    NLI_STAGE_LN2,        /*            LayerNorm 2 */
    NLI_STAGE_FC1,        /*            MLP up projection */
    NLI_STAGE_ACT,        /*            bias + activation */
    NLI_STAGE_FC2,        /*            MLP down projection + residual */
    NLI_STAGE_HEAD,       /* post-LayerNorm of the class rows + projection */
    NLI_STAGES
};
#define NLI_STAGE_NAMES \
    { "patch", "patch_gemm", "embed", "ln1", "qkv", "attn", "o_proj", "ln2", "fc1", "act", "fc2", "head" }
/* Mean time per image forward pass of each stage (ms[NLI_STAGES], summed
 * over the layers) over `iters` passes of `batch` images, with an event
 * after every op; *total_ms: the pass with those events. */
int nli_cuda_bench_stages(nli_cuda_clip *g, int batch, int iters, double *ms, double *total_ms);

/* The stage clock over whatever runs next on g (benchmarks): from _start,
 * an event after every op of every forward pass, at most cap (ops past it
 * are not timed). _stop waits for the last, adds each op's time to
 * ms[kind] (NLI_STAGES + 1 entries, zeroed first; ms[NLI_STAGES] is the
 * time from the end of one forward pass to the start of the next: the
 * copy back, and whatever the GPU waits for from the host), stops the clock and
 * returns the number of events recorded (-1 on error). ms may be NULL. */
int nli_cuda_stage_clock_start(nli_cuda_clip *g, int cap);
int nli_cuda_stage_clock_stop(nli_cuda_clip *g, double *ms);

#ifdef __cplusplus
}
#endif
#endif
