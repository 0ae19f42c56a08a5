/* clip_cuda.cu — the CLIP engine on a CUDA GPU: both towers, weights
 * resident on the device (converted once at load), every buffer allocated
 * at creation (nothing allocates on the forward path), one stream.
 *
 * Per transformer block (pre-LN), with T the activation type (fp32, fp16 or
 * bf16) and the residual stream x always fp32:
 *   ln  = LN1(x + cb1)                  (one kernel, T out)
 *   qkv = ln W_qkv^T                    (cuBLAS, T out, fp32 accumulate)
 *   att = attention(qkv + b_qkv)        (fused kernel, attention.cu)
 *   x  += att W_o^T                     (cuBLAS, beta = 1: residual fused)
 *   ln  = LN2(x + cb2)
 *   h   = act(ln W_1^T + b_1)           (cuBLAS, then bias + activation)
 *   x  += h W_2^T                       (cuBLAS, beta = 1)
 * x never receives the biases of W_o and W_2: they are constant per column,
 * so each LayerNorm adds their sum so far (cb1, cb2, computed at load)
 * instead of reading, adding and writing back the stream. The final
 * LayerNorm adds the whole sum and gathers the pooled rows; the projection
 * is an fp32 GEMM. fp32 means true fp32 (cuBLAS's
 * pedantic fp32 compute: no TF32).
 *
 * SigLIP (cfg.siglip) as clip_vision.c and clip_siglip.c run it: patch
 * embeddings with a bias and no class token, no pre-LayerNorm,
 * post_layernorm on every token, then the attention-pooling head
 * (nli_cg_siglip in clip_cuda_impl.h); its text tower is text_cuda.cu's. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip_cuda_impl.h"
#include "neglabel.h"
extern "C" {
#include "clip_impl.h"
}

#define BATCH_CAP 4096  /* images per forward pass, at most */

/* Record the end of an op of kind k on the stream when the stage clock is
 * on; always 0, so that it chains with the launchers' ||. */
int nli_cg_mark(nli_cuda_clip *g, int k) {
    if (g->sev && g->sn < g->scap) {
        cudaEventRecord(g->sev[g->sn], g->st);
        g->skind[g->sn++] = (unsigned char)k;
    }
    return 0;
}

/* Patches per image, and tokens: the patches and the class token (SigLIP:
 * none). */
static size_t vision_patches(const nli_clip_config *c) {
    size_t g = (size_t)(c->vision.image_size / c->vision.patch_size);
    return g * g;
}
static size_t vision_tokens(const nli_clip_config *c) { return vision_patches(c) + !c->siglip; }

int nli_cg_act(const nli_tower_config *tc) { return tc->quick_gelu ? 1 : tc->gelu_tanh ? 4 : 2; }

static size_t wide_of(const nli_tower_config *t) {
    size_t a = 3 * (size_t)t->hidden_size, b = (size_t)t->intermediate_size;
    return a > b ? a : b;
}

int nli_cg_gemm(nli_cuda_clip *g, const void *A, const void *W, void *C, int c_f32, int f32in, int M, int N, int K,
                float beta) {
    cudaDataType ab = f32in || g->prec == 1 ? CUDA_R_32F : g->prec == 2 ? CUDA_R_16F : CUDA_R_16BF;
    cudaDataType ct = c_f32 ? CUDA_R_32F : ab;
    cublasComputeType_t comp = ab == CUDA_R_32F ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F;
    float alpha = 1.0f;
    if (M <= 0) return 0;
    CUBLAS_TRY(nli_cublas.GemmEx(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, W, ab, K, A, ab, K, &beta, C,
                                 ct, N, comp, CUBLAS_GEMM_DEFAULT),
               fail);
    return 0;
fail:
    return -1;
}

/* The blocks of one tower over `rows` rows of x (see the top: x lacks the
 * output biases, whose sum the final LayerNorm adds: t_cbf, v_cbf). */
int nli_cg_run_blocks(nli_cuda_clip *g, const nli_tower_config *tc, const gblock *bl, int rows,
                      const nli_attn_tile *tiles, int n_tiles, const int *pos, int causal, int seq_len) {
    const int D = tc->hidden_size, I = tc->intermediate_size, H = tc->num_attention_heads;
    for (int l = 0; l < tc->num_hidden_layers; l++) {
        const gblock *b = &bl[l];
        if (nli_k_layernorm(g->prec, g->st, g->x, NULL, b->cb1, b->ln1_w, b->ln1_b, NULL, g->ln, rows, D,
                        tc->layer_norm_eps) || nli_cg_mark(g, NLI_STAGE_LN1) ||
            nli_cg_gemm(g, g->ln, b->qkv_w, g->big, 0, 0, rows, 3 * D, D, 0.0f) || nli_cg_mark(g, NLI_STAGE_QKV) ||
            nli_k_attention(g->prec, g->st, g->big, b->qkv_b, pos, g->ln, tiles, n_tiles, H, D / H, causal, seq_len) ||
            nli_cg_mark(g, NLI_STAGE_ATTN) || nli_cg_gemm(g, g->ln, b->o_w, g->x, 1, 0, rows, D, D, 1.0f) ||
            nli_cg_mark(g, NLI_STAGE_OPROJ) ||
            nli_k_layernorm(g->prec, g->st, g->x, NULL, b->cb2, b->ln2_w, b->ln2_b, NULL, g->ln, rows, D,
                        tc->layer_norm_eps) || nli_cg_mark(g, NLI_STAGE_LN2) ||
            nli_cg_gemm(g, g->ln, b->fc1_w, g->big, 0, 0, rows, I, D, 0.0f) || nli_cg_mark(g, NLI_STAGE_FC1) ||
            nli_k_bias_act(g->prec, g->st, g->big, b->fc1_b, (size_t)rows, I, nli_cg_act(tc)) ||
            nli_cg_mark(g, NLI_STAGE_ACT) || nli_cg_gemm(g, g->big, b->fc2_w, g->x, 1, 0, rows, D, I, 1.0f) ||
            nli_cg_mark(g, NLI_STAGE_FC2))
            return -1;
    }
    return 0;
}

/* SigLIP's head over the n images' post_layernorm rows in g->ln (T): see
 * nli_cg_siglip. kv in g->big (T), the pooled o in g->pooled, the MLP's
 * LayerNorm in g->ln and its hidden layer in g->big (fp32), the result in
 * g->outd (n x D). */
static int siglip_head(nli_cuda_clip *g, int n, int Tn) {
    const nli_tower_config *vc = &g->cfg.vision;
    const nli_cg_siglip *s = &g->sg;
    const int D = vc->hidden_size, I = vc->intermediate_size, H = vc->num_attention_heads;
    float *h = (float *)g->big;
    if (nli_cg_gemm(g, g->ln, s->kv_w, g->big, 0, 0, n * Tn, 2 * D, D, 0.0f) ||
        nli_k_siglip_probe(g->prec, g->st, s->q, g->big, s->kv_b, g->pooled, n, Tn, H, D / H) ||
        nli_cg_gemm(g, g->pooled, s->out_w, g->outd, 1, 1, n, D, D, 0.0f) ||
        nli_k_layernorm(1, g->st, g->outd, NULL, s->out_b, s->ln_w, s->ln_b, g->ln, NULL, n, D, vc->layer_norm_eps) ||
        nli_cg_gemm(g, g->ln, s->fc1_w, h, 1, 1, n, I, D, 0.0f) ||
        nli_k_bias_act(1, g->st, h, s->fc1_b, (size_t)n, I, nli_cg_act(vc)) ||
        nli_cg_gemm(g, h, s->fc2_w, g->outd, 1, 1, n, D, I, 1.0f) ||
        nli_k_bias_act(1, g->st, g->outd, s->bsum, (size_t)n, D, 0))
        return -1;
    return 0;
}

/* Vision tower on n images already on the device (u8 HWC or f32 CHW);
 * projections land in g->outd (n x P, fp32). */
static int vision_forward(nli_cuda_clip *g, const uint8_t *rgb, const float *pix, int n) {
    if (g->rn) return nli_cg_rn_forward(g, rgb, pix, n);
    const nli_tower_config *vc = &g->cfg.vision;
    const int D = vc->hidden_size, S = vc->image_size, p = vc->patch_size, Tn = (int)vision_tokens(&g->cfg);
    const int np = (int)vision_patches(&g->cfg), Kc = 3 * p * p, P = g->cfg.projection_dim, rows = n * Tn;
    const int sg = g->cfg.siglip;
    if (rgb ? nli_k_patches_u8(g->prec, g->st, rgb, g->big, n, S, p, g->cfg.image_mean, g->cfg.image_std)
            : nli_k_patches_f32(g->prec, g->st, pix, g->big, n, S, p))
        return -1;
    if (nli_cg_mark(g, NLI_STAGE_PATCH) || nli_cg_gemm(g, g->big, g->patch_w, g->ln, 1, 0, n * np, D, Kc, 0.0f) ||
        nli_cg_mark(g, NLI_STAGE_PATCH_GEMM) ||
        nli_k_vit_embed(g->st, g->ln, g->sg.patch_b, g->cls, g->vpos, g->x, n, Tn, D) ||
        (!sg &&
         nli_k_layernorm(1, g->st, g->x, NULL, NULL, g->pre_w, g->pre_b, g->x, NULL, rows, D, vc->layer_norm_eps)) ||
        nli_cg_mark(g, NLI_STAGE_EMBED) || nli_cg_run_blocks(g, vc, g->vb, rows, g->vtiles, n * g->vtiles_per_image, NULL, 0, Tn))
        return -1;
    if (sg) { /* post_layernorm on every token (in T, for the head's kv GEMM), then the head */
        if (nli_k_layernorm(g->prec, g->st, g->x, NULL, g->v_cbf, g->post_w, g->post_b, NULL, g->ln, rows, D,
                            vc->layer_norm_eps) ||
            siglip_head(g, n, Tn) || nli_cg_mark(g, NLI_STAGE_HEAD))
            return -1;
        return 0;
    }
    if (nli_k_layernorm(1, g->st, g->x, g->cls_idx, g->v_cbf, g->post_w, g->post_b, g->pooled, NULL, n, D,
                    vc->layer_norm_eps) ||
        nli_cg_gemm(g, g->pooled, g->vproj, g->outd, 1, 1, n, P, D, 0.0f) || nli_cg_mark(g, NLI_STAGE_HEAD))
        return -1;
    return 0;
}

/* ------------------------------------------------------------ creation */

const float *nli_cg_dev(nli_cuda_clip *g, const nli_clip *c, const float *host) { return g->wmem + (host - c->mem); }

const void *nli_cg_as_t(nli_cuda_clip *g, const nli_clip *c, const float *host, size_t n, size_t *off) {
    const float *src = nli_cg_dev(g, c, host);
    if (g->prec == 1) return src;
    void *dst = (char *)g->tmem + *off * g->tsize;
    *off += n;
    if (nli_k_convert(g->prec, g->st, src, dst, n) != 0) return NULL;
    return dst;
}

/* T floats of the matrices converted at load: the transformer blocks, and
 * the patch embedding or the ResNet's convolutions and attention pool. */
static size_t matrix_floats(const nli_clip *c) {
    const nli_clip_config *cfg = &c->cfg;
    size_t n = 0;
    const nli_tower_config *t[2] = {&cfg->text, &cfg->vision};
    for (int k = 0; k < (c->rn ? 1 : 2); k++) {
        size_t D = t[k]->hidden_size, I = t[k]->intermediate_size;
        n += (size_t)t[k]->num_hidden_layers * (3 * D * D + D * D + 2 * D * I);
    }
    if (c->rn) return n + nli_cg_rn_matrix_floats(c);
    const size_t Dv = (size_t)cfg->vision.hidden_size;
    if (cfg->siglip) n += 2 * Dv * Dv; /* the head's kv projection */
    return n + Dv * 3 * cfg->vision.patch_size * cfg->vision.patch_size;
}

/* Device pointers and T copies of one tower's blocks; its cumulative
 * biases (gblock cb1/cb2, then the final sum, (2L + 1) x D floats) are
 * summed in double into host[] and will be at dev[] once copied. */
static int setup_blocks(nli_cuda_clip *g, const nli_clip *c, const nli_tower_config *tc, const nli_block *hb, gblock *gb,
                        size_t *off, float *host, const float *dev, const float **final_sum) {
    size_t D = tc->hidden_size, I = tc->intermediate_size;
    double *acc = (double *)calloc(D, sizeof(double));
    if (!acc) { nli_seterr("out of memory"); return -1; }
    /* slot k of host/dev: the sum after k output biases (o_b, fc2_b, o_b, ...) */
    const size_t L = (size_t)tc->num_hidden_layers;
    for (size_t k = 0; k <= 2 * L; k++) {
        const float *bias = k == 0 ? NULL : k % 2 ? hb[(k - 1) / 2].o_b : hb[(k - 1) / 2].fc2_b;
        for (size_t i = 0; i < D; i++) host[k * D + i] = (float)(acc[i] += bias ? bias[i] : 0.0f);
    }
    for (size_t l = 0; l < L; l++) {
        gb[l].cb1 = l ? dev + 2 * l * D : NULL;
        gb[l].cb2 = dev + (2 * l + 1) * D;
    }
    *final_sum = dev + 2 * L * D;
    free(acc);
    for (int l = 0; l < tc->num_hidden_layers; l++) {
        const nli_block *h = &hb[l];
        gblock *b = &gb[l];
        b->ln1_w = nli_cg_dev(g, c, h->ln1_w);
        b->ln1_b = nli_cg_dev(g, c, h->ln1_b);
        b->qkv_b = nli_cg_dev(g, c, h->qkv_b);
        b->o_b = nli_cg_dev(g, c, h->o_b);
        b->ln2_w = nli_cg_dev(g, c, h->ln2_w);
        b->ln2_b = nli_cg_dev(g, c, h->ln2_b);
        b->fc1_b = nli_cg_dev(g, c, h->fc1_b);
        b->fc2_b = nli_cg_dev(g, c, h->fc2_b);
        if (!(b->qkv_w = nli_cg_as_t(g, c, h->qkv_w, 3 * D * D, off)) || !(b->o_w = nli_cg_as_t(g, c, h->o_w, D * D, off)) ||
            !(b->fc1_w = nli_cg_as_t(g, c, h->fc1_w, I * D, off)) || !(b->fc2_w = nli_cg_as_t(g, c, h->fc2_w, D * I, off)))
            return -1;
    }
    return 0;
}

/* SigLIP's additions (nli_cg_siglip): device pointers, the kv projection
 * in T, and the probe's query and the head's bias sum, computed here in
 * double and uploaded (g->sg_mem, 2D floats). */
static int siglip_setup(nli_cuda_clip *g, const nli_clip *c, size_t *off) {
    const nli_siglip *h = &c->sg;
    const size_t D = (size_t)c->cfg.vision.hidden_size;
    nli_cg_siglip *s = &g->sg;
    s->patch_b = nli_cg_dev(g, c, h->patch_b);
    s->tproj_b = nli_cg_dev(g, c, h->tproj_b);
    s->kv_b = nli_cg_dev(g, c, h->in_b + D);
    s->out_w = nli_cg_dev(g, c, h->out_w);
    s->out_b = nli_cg_dev(g, c, h->out_b);
    s->ln_w = nli_cg_dev(g, c, h->ln_w);
    s->ln_b = nli_cg_dev(g, c, h->ln_b);
    s->fc1_w = nli_cg_dev(g, c, h->fc1_w);
    s->fc1_b = nli_cg_dev(g, c, h->fc1_b);
    s->fc2_w = nli_cg_dev(g, c, h->fc2_w);
    if (!(s->kv_w = nli_cg_as_t(g, c, h->in_w + D * D, 2 * D * D, off))) return -1;
    /* q = probe in_w[0:D]^T + in_b[0:D]; bsum = out_b + fc2_b */
    float *host = (float *)malloc(2 * D * sizeof(float));
    float *dev = NULL;
    if (!host) { nli_seterr("out of memory"); return -1; }
    for (size_t i = 0; i < D; i++) {
        double a = h->in_b[i];
        for (size_t j = 0; j < D; j++) a += (double)h->probe[j] * h->in_w[i * D + j];
        host[i] = (float)a;
        host[D + i] = (float)((double)h->out_b[i] + h->fc2_b[i]);
    }
    cudaError_t e = cudaMalloc((void **)&dev, 2 * D * sizeof(float));
    if (e == cudaSuccess) e = cudaMemcpy(dev, host, 2 * D * sizeof(float), cudaMemcpyHostToDevice);
    free(host);
    if (e != cudaSuccess) {
        cudaGetLastError();
        cudaFree(dev);
        nli_seterr("cuda:%d: SigLIP's head: %s", g->dev, nli_cuda_errstr(e));
        return -1;
    }
    g->sg_mem = dev;
    s->q = dev;
    s->bsum = dev + D;
    return 0;
}

/* Bytes of device workspace per image and fixed. */
static size_t per_image_bytes(const nli_cuda_clip *g) {
    size_t Tn = vision_tokens(&g->cfg), D = g->cfg.vision.hidden_size, S = g->cfg.vision.image_size;
    /* (SigLIP's head needs less per image than the blocks: alloc_workspace) */
    if (g->rn) return nli_cg_rn_per_image(g) + S * S * 3 + 64 * 4 + (size_t)g->cfg.projection_dim * 4;
    return Tn * (D * 4 + D * 4 + wide_of(&g->cfg.vision) * g->tsize) + S * S * 3 + 64 * 4 + (size_t)D * 4 +
           (size_t)g->cfg.projection_dim * 4;
}

static void free_workspace(nli_cuda_clip *g) {
    nli_cg_rn_free_workspace(g);
    cudaFree(g->x); cudaFree(g->ln); cudaFree(g->big); cudaFree(g->pooled); cudaFree(g->outd);
    cudaFree(g->cls_idx); cudaFree(g->vtiles); cudaFree(g->d_rgb);
    cudaFreeHost(g->stage[0]); cudaFreeHost(g->stage[1]); cudaFreeHost(g->h_out[0]); cudaFreeHost(g->h_out[1]);
    g->x = g->ln = g->pooled = g->outd = NULL;
    g->big = NULL; g->cls_idx = NULL; g->vtiles = NULL; g->d_rgb = NULL;
    g->stage[0] = g->stage[1] = NULL; g->h_out[0] = g->h_out[1] = NULL;
}

/* Workspace for B images (and TEXT_ROWS text rows). -1 on failure: OOM
 * is reported with *oom set so the caller can retry with fewer images. */
static int alloc_workspace(nli_cuda_clip *g, int B, int *oom) {
    const nli_clip_config *c = &g->cfg;
    /* a ResNet's vision tower has its own buffers (nli_cg_rn_alloc): the
     * shared ones serve the text tower and the projections */
    const int vit = g->rn == NULL;
    size_t Tn = vision_tokens(c), S = c->vision.image_size, P = c->projection_dim;
    size_t vrows = vit ? (size_t)B * Tn : 0, rows = vrows > TEXT_ROWS ? vrows : TEXT_ROWS;
    size_t D = vit && c->vision.hidden_size > c->text.hidden_size ? c->vision.hidden_size : c->text.hidden_size;
    size_t wv = vit ? wide_of(&c->vision) : 0, wt = wide_of(&c->text), wide = wv > wt ? wv : wt;
    size_t np = vision_patches(c), Kc = vit ? 3 * (size_t)c->vision.patch_size * c->vision.patch_size : 0;
    size_t big = rows * wide > (size_t)B * np * Kc ? rows * wide : (size_t)B * np * Kc;
    /* SigLIP's head: kv (2D of T per token) and its MLP's fp32 hidden layer */
    if (c->siglip) {
        size_t hid = (size_t)B * c->vision.intermediate_size * 4 / g->tsize + 1;
        if (hid > big) big = hid;
    }
    size_t outrows = (size_t)B > TEXT_ROWS ? (size_t)B : TEXT_ROWS;
    int tps = (int)((Tn + 63) / 64);
    size_t ntiles = (size_t)B * tps;
    *oom = 0;
    cudaError_t e;
#define DALLOC(ptr, bytes)                                                                        \
    do {                                                                                          \
        if ((e = cudaMalloc((void **)&(ptr), (bytes))) != cudaSuccess) goto fail;                 \
    } while (0)
#define HALLOC(ptr, bytes)                                                                        \
    do {                                                                                          \
        if ((e = cudaHostAlloc((void **)&(ptr), (bytes), cudaHostAllocDefault)) != cudaSuccess) goto fail; \
    } while (0)
    DALLOC(g->x, rows * D * 4);
    DALLOC(g->ln, rows * D * 4);
    DALLOC(g->big, big * g->tsize);
    DALLOC(g->pooled, outrows * D * 4);
    DALLOC(g->outd, outrows * P * 4);
    DALLOC(g->cls_idx, (size_t)B * sizeof(int));
    DALLOC(g->vtiles, ntiles * sizeof(nli_attn_tile));
    DALLOC(g->d_rgb, (size_t)B * S * S * 3);
    HALLOC(g->stage[0], (size_t)B * S * S * 3);
    HALLOC(g->stage[1], (size_t)B * S * S * 3);
    HALLOC(g->h_out[0], (size_t)B * P * 4);
    HALLOC(g->h_out[1], (size_t)B * P * 4);
    if (g->rn && (e = nli_cg_rn_alloc(g, B)) != cudaSuccess) goto fail;
#undef DALLOC
#undef HALLOC
    {
        int *idx = (int *)malloc((size_t)B * sizeof(int));
        nli_attn_tile *t = (nli_attn_tile *)malloc(ntiles * sizeof(nli_attn_tile));
        if (!idx || !t) {
            free(idx);
            free(t);
            nli_seterr("out of host memory for %d image slots", B);
            free_workspace(g);
            return -1;
        }
        for (int b = 0; b < B; b++) {
            idx[b] = b * (int)Tn;
            for (int k = 0; k < tps; k++) t[(size_t)b * tps + k] = (nli_attn_tile){b * (int)Tn, (int)Tn, k * 64, 0};
        }
        e = cudaMemcpy(g->cls_idx, idx, (size_t)B * sizeof(int), cudaMemcpyHostToDevice);
        if (e == cudaSuccess) e = cudaMemcpy(g->vtiles, t, ntiles * sizeof(nli_attn_tile), cudaMemcpyHostToDevice);
        free(idx);
        free(t);
        if (e != cudaSuccess) goto fail;
    }
    g->rows_cap = rows;
    g->vtiles_per_image = tps;
    g->max_batch = B;
    return 0;
fail:
    *oom = e == cudaErrorMemoryAllocation;
    cudaGetLastError();
    nli_seterr_code(*oom ? NL_ERR_NOMEM : NL_ERR_DEVICE, "cuda:%d: workspace for %d images: %s", g->dev, B,
                   nli_cuda_errstr(e));
    free_workspace(g);
    return -1;
}

extern "C" nli_cuda_clip *nli_cuda_clip_create(const struct nli_clip *c, int index, int precision, int max_batch) {
    int prev;
    if (precision < 1 || precision > 3) {
        nli_seterr("cuda: unknown precision %d", precision);
        return NULL;
    }
    if (nli_cuda_select(index, &prev) != 0) return NULL;
    nli_cuda_clip *g = (nli_cuda_clip *)calloc(1, sizeof *g);
    if (!g) {
        nli_seterr("out of memory");
        cudaSetDevice(prev);
        return NULL;
    }
    g->dev = index;
    g->prec = precision;
    g->tsize = precision == 1 ? 4 : 2;
    g->cfg = c->cfg;
    const nli_clip_config *cfg = &c->cfg;
    size_t off = 0;
    const int vit = c->rn == NULL; /* else a ModifiedResNet: resnet_cuda.cu */
    int nt = cfg->text.num_hidden_layers, nv = vit ? cfg->vision.num_hidden_layers : 0;
    int hd_t = cfg->text.hidden_size / cfg->text.num_attention_heads;
    int hd_v = vit ? cfg->vision.hidden_size / cfg->vision.num_attention_heads : 0; /* a ResNet's pool: any */
    if (hd_t > 128 || hd_v > 128 || hd_t % 4 || hd_v % 4) {
        nli_seterr("cuda: attention head size %d/%d unsupported (at most 128, a multiple of 4)", hd_t, hd_v);
        goto fail;
    }
    /* what this engine does not run: refused, never computed otherwise
     * (nli_clip_use_device refuses them first: nli_clip_cpu_only) */
    if (cfg->arch == NLI_ARCH_GROUPVIT || cfg->arch == NLI_ARCH_EFFNET || cfg->text_arch != NLI_TEXT_CLIP ||
        (cfg->siglip && !vit)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "cuda: %s has no CUDA engine (it runs on the CPU)",
                        nli_clip_arch_name(cfg));
        goto fail;
    }
    if (cfg->siglip && cfg->text.max_position_embeddings > TEXT_ROWS) { /* every text is the whole context */
        nli_seterr_code(NL_ERR_UNSUPPORTED, "cuda: SigLIP with %d text positions is not supported (at most %d)",
                        cfg->text.max_position_embeddings, TEXT_ROWS);
        goto fail;
    }
    CUDA_TRY(cudaStreamCreateWithFlags(&g->st, cudaStreamNonBlocking), fail);
    CUDA_TRY(cudaEventCreateWithFlags(&g->done[0], cudaEventDisableTiming), fail);
    CUDA_TRY(cudaEventCreateWithFlags(&g->done[1], cudaEventDisableTiming), fail);
    CUBLAS_TRY(nli_cublas.Create(&g->blas), fail);
    CUBLAS_TRY(nli_cublas.SetStream(g->blas, g->st), fail);
    CUBLAS_TRY(nli_cublas.SetMathMode(g->blas, CUBLAS_DEFAULT_MATH), fail);
    {
        cudaError_t e = cudaMalloc((void **)&g->wmem, c->mem_bytes);
        if (e != cudaSuccess) {
            cudaGetLastError();
            nli_seterr("cuda:%d: weights (%.2f GB in fp32): %s", index, c->mem_bytes * 1e-9, nli_cuda_errstr(e));
            goto fail;
        }
    }
    /* On g->st, so the conversions below run after the copy (a plain
     * cudaMemcpy from pageable memory may return before its DMA ends). */
    CUDA_TRY(cudaMemcpyAsync(g->wmem, c->mem, c->mem_bytes, cudaMemcpyHostToDevice, g->st), fail);
    if (precision != 1) {
        cudaError_t e = cudaMalloc(&g->tmem, matrix_floats(c) * g->tsize);
        if (e != cudaSuccess) {
            cudaGetLastError();
            nli_seterr("cuda:%d: %s weights: %s", index, precision == 2 ? "fp16" : "bf16", nli_cuda_errstr(e));
            goto fail;
        }
    }
    g->tb = (gblock *)calloc((size_t)nt, sizeof(gblock));
    g->vb = (gblock *)calloc((size_t)nv + 1, sizeof(gblock));
    if (!g->tb || !g->vb) { nli_seterr("out of memory"); goto fail; }
    {
        size_t nct = (2 * (size_t)nt + 1) * cfg->text.hidden_size, ncv = (2 * (size_t)nv + 1) * cfg->vision.hidden_size;
        float *hc = (float *)malloc((nct + ncv) * sizeof(float));
        cudaError_t e = hc ? cudaMalloc((void **)&g->cumb, (nct + ncv) * sizeof(float)) : cudaErrorMemoryAllocation;
        int bad = e != cudaSuccess ||
                  setup_blocks(g, c, &cfg->text, c->tblk, g->tb, &off, hc, g->cumb, &g->t_cbf) ||
                  (vit && setup_blocks(g, c, &cfg->vision, c->vblk, g->vb, &off, hc + nct, g->cumb + nct, &g->v_cbf));
        if (!bad) e = cudaMemcpy(g->cumb, hc, (nct + ncv) * sizeof(float), cudaMemcpyHostToDevice);
        free(hc);
        if (e != cudaSuccess) {
            cudaGetLastError();
            nli_seterr("cuda:%d: cumulative biases: %s", index, nli_cuda_errstr(e));
            goto fail;
        }
        if (bad) goto fail;
    }
    if (vit) {
        size_t D = cfg->vision.hidden_size, ps = cfg->vision.patch_size;
        if (!(g->patch_w = nli_cg_as_t(g, c, c->patch_w, D * 3 * ps * ps, &off))) goto fail;
        if (cfg->siglip && siglip_setup(g, c, &off) != 0) goto fail;
    } else if (nli_cg_rn_setup(g, c, &off) != 0) {
        goto fail;
    }
#define DP(field, host) g->field = nli_cg_dev(g, c, c->host)
    DP(tok_emb, tok_emb); DP(tpos, tpos_emb); DP(tfin_w, tfinal_w); DP(tfin_b, tfinal_b); DP(tproj, tproj);
    if (vit) {
        DP(vpos, vpos_emb); DP(post_w, post_w); DP(post_b, post_b);
        if (!cfg->siglip) { /* SigLIP has neither: no class token, no pre-LayerNorm, its head instead of vproj */
            DP(cls, cls); DP(pre_w, pre_w); DP(pre_b, pre_b); DP(vproj, vproj);
        }
    }
#undef DP
    CUDA_TRY(cudaStreamSynchronize(g->st), fail);
    {
        /* Batch: as asked (reduced while out of memory), or sized from
         * what is free: half of it, at most 512 images. */
        int B = max_batch;
        if (B <= 0) {
            size_t fr = 0, tot = 0;
            CUDA_TRY(cudaMemGetInfo(&fr, &tot), fail);
            size_t fit = fr / 2 / per_image_bytes(g);
            B = fit > 512 ? 512 : fit < 1 ? 1 : (int)fit;
            if (B >= 16) B -= B % 16;
        }
        if (B > BATCH_CAP) B = BATCH_CAP;
        int asked = B, oom = 0;
        while (alloc_workspace(g, B, &oom) != 0) {
            if (!oom || B == 1) {
                nli_prefixerr("cuda:%d", index);
                goto fail;
            }
            B /= 2;
        }
        if (B < asked)
            nli_log(NL_LOG_WARN, "cuda:%d: out of GPU memory for %d images per batch; using %d",
                    index, asked, B);
    }
    {
        size_t r = TEXT_ROWS;
        CUDA_TRY(cudaMalloc((void **)&g->d_tok, r * 4), fail);
        CUDA_TRY(cudaMalloc((void **)&g->d_pos, r * 4), fail);
        CUDA_TRY(cudaMalloc((void **)&g->d_pool, r * 4), fail);
        CUDA_TRY(cudaMalloc((void **)&g->d_tiles, r * sizeof(nli_attn_tile)), fail);
    }
    CUDA_TRY(cudaDeviceSynchronize(), fail); /* every upload done before the first forward pass */
    cudaSetDevice(prev);
    return g;
fail:
    cudaGetLastError();
    nli_cuda_clip_free(g);
    cudaSetDevice(prev);
    return NULL;
}

extern "C" void nli_cuda_clip_free(nli_cuda_clip *g) {
    if (!g) return;
    int prev = 0;
    cudaGetDevice(&prev);
    cudaSetDevice(g->dev);
    if (g->st) cudaStreamSynchronize(g->st);
    free_workspace(g);
    cudaFree(g->wmem); cudaFree(g->tmem); cudaFree(g->d_pix); cudaFree(g->cumb); cudaFree(g->sg_mem);
    nli_cg_text_free(g);
    cudaFree(g->d_tok); cudaFree(g->d_pos); cudaFree(g->d_pool); cudaFree(g->d_tiles);
    if (g->blas) nli_cublas.Destroy(g->blas);
    if (g->done[0]) cudaEventDestroy(g->done[0]);
    if (g->done[1]) cudaEventDestroy(g->done[1]);
    if (g->st) cudaStreamDestroy(g->st);
    nli_cg_rn_free(g);
    free(g->tb);
    free(g->vb);
    free(g);
    cudaGetLastError();
    cudaSetDevice(prev);
}

extern "C" int nli_cuda_clip_max_batch(const nli_cuda_clip *g) { return g->max_batch; }

/* ------------------------------------------------------------ images */

extern "C" uint8_t *nli_cuda_images_staging(nli_cuda_clip *g, int slot) { return g->stage[slot & 1]; }

extern "C" int nli_cuda_images_submit(nli_cuda_clip *g, int slot, const uint8_t *rgb, size_t n) {
    slot &= 1;
    const size_t S = g->cfg.vision.image_size, px = S * S * 3, P = g->cfg.projection_dim;
    if (n > (size_t)g->max_batch) {
        nli_seterr("cuda: %zu images in one batch, more than the %d the workspace holds", n, g->max_batch);
        return -1;
    }
    g->n_slot[slot] = n;
    if (n == 0) return 0;
    int prev, rc = -1;
    if (nli_cuda_select(g->dev, &prev) != 0) return -1;
    if (rgb != g->stage[slot]) memcpy(g->stage[slot], rgb, n * px);
    CUDA_TRY(cudaMemcpyAsync(g->d_rgb, g->stage[slot], n * px, cudaMemcpyHostToDevice, g->st), out);
    if (vision_forward(g, g->d_rgb, NULL, (int)n) != 0) goto out;
    CUDA_TRY(cudaMemcpyAsync(g->h_out[slot], g->outd, n * P * 4, cudaMemcpyDeviceToHost, g->st), out);
    CUDA_TRY(cudaEventRecord(g->done[slot], g->st), out);
    rc = 0;
out:
    cudaSetDevice(prev);
    return rc;
}

extern "C" int nli_cuda_images_collect(nli_cuda_clip *g, int slot, float *out) {
    slot &= 1;
    size_t n = g->n_slot[slot], P = g->cfg.projection_dim;
    if (n == 0) return 0;
    CUDA_TRY(cudaEventSynchronize(g->done[slot]), fail);
    memcpy(out, g->h_out[slot], n * P * 4);
    g->n_slot[slot] = 0;
    return 0;
fail:
    nli_prefixerr("cuda:%d: image forward pass", g->dev);
    return -1;
}

/* d_pix holds at least floats floats. -1 on failure, with *oom set when the
 * GPU is out of memory (the caller may ask for less). */
static int ensure_pix(nli_cuda_clip *g, size_t floats, int *oom) {
    *oom = 0;
    if (floats <= g->d_pix_cap) return 0;
    cudaFree(g->d_pix);
    g->d_pix = NULL;
    g->d_pix_cap = 0;
    cudaError_t e = cudaMalloc((void **)&g->d_pix, floats * 4);
    if (e != cudaSuccess) {
        g->d_pix = NULL;
        *oom = e == cudaErrorMemoryAllocation;
        nli_seterr_code(*oom ? NL_ERR_NOMEM : NL_ERR_DEVICE, "%.1f MiB for pixels: %s",
                        (double)floats * 4 / 1048576, nli_cuda_errstr(e));
        cudaGetLastError();
        return -1;
    }
    g->d_pix_cap = floats;
    return 0;
}

/* Float pixels (nl_embed_pixels) through the vision tower, in chunks of the
 * model's batch; when the GPU has no room for a chunk's pixels (float32, 4x
 * the bytes of the RGB path's buffers, allocated on first use), the chunk
 * is halved until they fit, as the workspace is at load. */
extern "C" int nli_cuda_encode_images(nli_cuda_clip *g, const float *pixels, size_t n, float *out) {
    const size_t S = g->cfg.vision.image_size, P = g->cfg.projection_dim, per = 3 * S * S;
    int prev, rc = -1, oom = 0;
    if (n == 0) return 0;
    if (nli_cuda_select(g->dev, &prev) != 0) return -1;
    /* Once reduced, the chunk stays reduced: no new attempt, and one warning. */
    size_t B = g->pix_batch ? g->pix_batch : (size_t)g->max_batch, asked;
    if (B > n) B = n;
    asked = B;
    while (ensure_pix(g, B * per, &oom) != 0) {
        if (!oom || B == 1) goto out;
        B /= 2;
    }
    if (B < asked) {
        nli_log(NL_LOG_WARN, "cuda:%d: out of GPU memory for the pixels of %zu images; %zu at a time", g->dev,
                asked, B);
        g->pix_batch = B;
    }
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t k = n - i0 < B ? n - i0 : B;
        CUDA_TRY(cudaMemcpyAsync(g->d_pix, pixels + i0 * per, k * per * 4, cudaMemcpyHostToDevice, g->st), out);
        if (vision_forward(g, NULL, g->d_pix, (int)k) != 0) goto out;
        CUDA_TRY(cudaMemcpyAsync(out + i0 * P, g->outd, k * P * 4, cudaMemcpyDeviceToHost, g->st), out);
        CUDA_TRY(cudaStreamSynchronize(g->st), out);
    }
    rc = 0;
out:
    if (rc) nli_prefixerr("cuda:%d: image forward pass", g->dev);
    cudaSetDevice(prev);
    return rc;
}

/* ------------------------------------------------------------ bench */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* batch images of reproducible pseudo-random pixels in [-2, 2) in d_pix
 * (benchmarks: never zeros, which can run faster than real data). */
static int random_pixels(nli_cuda_clip *g, int batch) {
    const size_t S = g->cfg.vision.image_size, n = (size_t)batch * 3 * S * S;
    int oom;
    if (ensure_pix(g, n, &oom) != 0) return -1;
    float *h = (float *)malloc(n * 4);
    if (!h) { nli_seterr("out of memory"); return -1; }
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        h[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    cudaError_t e = cudaMemcpy(g->d_pix, h, n * 4, cudaMemcpyHostToDevice);
    free(h);
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        nli_seterr("cuda:%d: benchmark pixels: %s", g->dev, nli_cuda_errstr(e));
        cudaGetLastError();
        return -1;
    }
    return 0;
}

extern "C" int nli_cuda_bench_images(nli_cuda_clip *g, int batch, int iters, double *seconds) {
    int prev, rc = -1;
    double *t = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    if (batch < 1 || batch > g->max_batch || iters < 1) {
        nli_seterr("bench: batch %d outside [1, %d] or iters %d < 1", batch, g->max_batch, iters);
        return -1;
    }
    if (nli_cuda_select(g->dev, &prev) != 0) return -1;
    if (random_pixels(g, batch) != 0) goto out;
    t = (double *)malloc((size_t)iters * sizeof(double));
    if (!t) { nli_seterr("out of memory"); goto out; }
    CUDA_TRY(cudaEventCreate(&e0), out);
    CUDA_TRY(cudaEventCreate(&e1), out);
    for (int w = 0; w < 2; w++)
        if (vision_forward(g, NULL, g->d_pix, batch) != 0) goto out;
    for (int i = 0; i < iters; i++) {
        CUDA_TRY(cudaEventRecord(e0, g->st), out);
        if (vision_forward(g, NULL, g->d_pix, batch) != 0) goto out;
        CUDA_TRY(cudaEventRecord(e1, g->st), out);
        CUDA_TRY(cudaEventSynchronize(e1), out);
        float ms = 0;
        CUDA_TRY(cudaEventElapsedTime(&ms, e0, e1), out);
        t[i] = ms * 1e-3;
    }
    qsort(t, (size_t)iters, sizeof(double), cmp_double);
    *seconds = t[iters / 2];
    rc = 0;
out:
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    free(t);
    cudaSetDevice(prev);
    return rc;
}

extern "C" int nli_cuda_stage_clock_start(nli_cuda_clip *g, int cap) {
    int prev, made = 0;
    if (g->sev) {
        nli_seterr("cuda:%d: the stage clock is running already", g->dev);
        return -1;
    }
    if (cap < 1) {
        nli_seterr("cuda:%d: stage clock: room for %d events", g->dev, cap);
        return -1;
    }
    if (nli_cuda_select(g->dev, &prev) != 0) return -1;
    g->sev = (cudaEvent_t *)calloc((size_t)cap, sizeof(cudaEvent_t));
    g->skind = (unsigned char *)malloc((size_t)cap);
    if (!g->sev || !g->skind) {
        nli_seterr("out of memory");
        goto fail;
    }
    for (; made < cap; made++) CUDA_TRY(cudaEventCreate(&g->sev[made]), fail);
    g->sn = 0;
    g->scap = cap;
    cudaSetDevice(prev);
    return 0;
fail:
    for (int i = 0; i < made; i++) cudaEventDestroy(g->sev[i]);
    free(g->sev);
    free(g->skind);
    g->sev = NULL;
    g->skind = NULL;
    cudaGetLastError();
    cudaSetDevice(prev);
    return -1;
}

extern "C" int nli_cuda_stage_clock_stop(nli_cuda_clip *g, double *ms) {
    int prev, n = -1;
    if (ms)
        for (int k = 0; k <= NLI_STAGES; k++) ms[k] = 0;
    if (!g->sev) {
        nli_seterr("cuda:%d: the stage clock is not running", g->dev);
        return -1;
    }
    if (nli_cuda_select(g->dev, &prev) != 0) return -1;
    if (g->sn > 0) CUDA_TRY(cudaEventSynchronize(g->sev[g->sn - 1]), out);
    for (int i = 1; i < g->sn; i++) {
        float t = 0;
        CUDA_TRY(cudaEventElapsedTime(&t, g->sev[i - 1], g->sev[i]), out);
        if (ms) ms[g->skind[i]] += t;
    }
    n = g->sn;
out:
    for (int i = 0; i < g->scap; i++) cudaEventDestroy(g->sev[i]);
    free(g->sev);
    free(g->skind);
    g->sev = NULL;
    g->skind = NULL;
    g->sn = g->scap = 0;
    cudaGetLastError();
    cudaSetDevice(prev);
    return n;
}

/* Per-stage time of the image forward pass: the stage clock over each of
 * `iters` passes after two warm-up passes; ms[k] is the mean time per pass
 * of stage k (NLI_STAGE_*), summed over the layers, and *total_ms the mean
 * pass time with the events in place. */
extern "C" int nli_cuda_bench_stages(nli_cuda_clip *g, int batch, int iters, double *ms, double *total_ms) {
    const int cap = 16 + 12 * g->cfg.vision.num_hidden_layers;
    double one[NLI_STAGES + 1];
    if (g->rn) {
        nli_seterr("bench: the stage clock times ViT passes; this model's vision tower is a ResNet");
        return -1;
    }
    if (batch < 1 || batch > g->max_batch || iters < 1) {
        nli_seterr("bench: batch %d outside [1, %d] or iters %d < 1", batch, g->max_batch, iters);
        return -1;
    }
    int prev, rc = -1;
    for (int k = 0; k < NLI_STAGES; k++) ms[k] = 0;
    *total_ms = 0;
    if (nli_cuda_select(g->dev, &prev) != 0) return -1;
    if (random_pixels(g, batch) != 0) goto out;
    for (int it = -2; it < iters; it++) {
        if (nli_cuda_stage_clock_start(g, cap) != 0) goto out;
        nli_cg_mark(g, NLI_STAGES); /* start */
        int fw = vision_forward(g, NULL, g->d_pix, batch);
        if (nli_cuda_stage_clock_stop(g, one) < 0 || fw != 0) goto out;
        if (it < 0) continue;
        for (int k = 0; k < NLI_STAGES; k++) {
            ms[k] += one[k] / iters;
            *total_ms += one[k] / iters;
        }
    }
    rc = 0;
out:
    cudaSetDevice(prev);
    return rc;
}
