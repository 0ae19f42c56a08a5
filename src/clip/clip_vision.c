/* clip_vision.c — the transformer block shared by both towers, and the
 * vision tower (ViT). Linear layers run over all tokens of a chunk as one
 * GEMM; attention runs per (sequence, head) on one thread each, so results
 * do not depend on the thread count. */
#include "clip_impl.h"
#include "clip_resnet.h"
#include "clip_groupvit.h"
#include "clip_effnet.h"
#include "cuda/clip_cuda.h"
#include "gemm.h"
#include "util.h"

#include <cblas.h>
#undef I /* OpenBLAS pulls in <complex.h>; I is a size below */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* LayerNorm with statistics in double (two passes: mean, then variance),
 * close to PyTorch's float32 kernel and to the float64 reference. x may
 * equal y. */
static void layernorm_row(const float *xr, const float *w, const float *b, float *yr, int dim, double eps) {
    double s = 0, ss = 0;
    for (int i = 0; i < dim; i++) s += xr[i];
    double mean = s / dim;
    for (int i = 0; i < dim; i++) { double d = xr[i] - mean; ss += d * d; }
    float m = (float)mean, rstd = (float)(1.0 / sqrt(ss / dim + eps));
    for (int i = 0; i < dim; i++) yr[i] = (xr[i] - m) * rstd * w[i] + b[i];
}

void nli_layernorm(const float *x, const float *w, const float *b, float *y, size_t rows, int dim, double eps) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) layernorm_row(x + r * (size_t)dim, w, b, y + r * (size_t)dim, dim, eps);
}

#define LN_TILED_MAX 8192 /* widest row normalised on the stack */

void nli_layernorm_tiled(const float *x, const float *w, const float *b, uint16_t *y, size_t rows, int dim,
                         double eps) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        float t[LN_TILED_MAX];
        layernorm_row(x + r * (size_t)dim, w, b, t, dim, eps);
        nli_bf16_tile_row(t, (size_t)dim, y, r);
    }
    nli_bf16_tile_zero_rows(y, rows, (size_t)dim);
}

void nli_softmax_rows(float *S, int rows, int cols, int causal, int row0) {
    for (int i = 0; i < rows; i++) {
        float *r = S + (size_t)i * cols;
        int n = causal ? row0 + i + 1 : cols;
        float mx = -INFINITY, sum = 0;
        for (int j = 0; j < n; j++) mx = r[j] > mx ? r[j] : mx;
        for (int j = 0; j < n; j++) { r[j] = expf(r[j] - mx); sum += r[j]; }
        float inv = 1.0f / sum;
        for (int j = 0; j < n; j++) r[j] *= inv;
        for (int j = n; j < cols; j++) r[j] = 0.0f;
    }
}

/* Per-thread scratch: one block of scores (and bf16 operands). */
static size_t attn_scratch(const nli_tower_config *tc, int maxT, int bf16) {
    return bf16 ? nli_attn_bf16_scratch_floats(maxT, tc->hidden_size / tc->num_attention_heads)
                : nli_attn_block_floats(maxT);
}

/* The bf16 GEMMs' operand buffer (bf16 rows of the widest input), in floats. */
static size_t linear_ws(const nli_tower_config *tc, size_t rows, int bf16) {
    size_t K = (size_t)(tc->intermediate_size > tc->hidden_size ? tc->intermediate_size : tc->hidden_size);
    return bf16 ? nli_gemm_bf16_ws_bytes(rows, K) / sizeof(float) + 16 : 0;
}

/* The rows of the MLP's hidden layer held at once (a multiple of 32 when
 * fewer than all: bf16 tiles are 32 rows). */
static size_t mlp_rows(const nli_tower_config *tc, size_t rows) {
    size_t m = nli_mlp_rows(tc->intermediate_size);
    return rows < m ? rows : m;
}

size_t nli_block_ws_floats(const nli_tower_config *tc, size_t rows, int maxT, int n_threads, int bf16) {
    size_t D = (size_t)tc->hidden_size, I = (size_t)tc->intermediate_size, m = mlp_rows(tc, rows), Dl = D, Il = I;
    if (bf16) { /* ln and mlp hold bf16 tiles: 32-row blocks of round32(width) values */
        rows = nli_bf16_round32(rows), m = nli_bf16_round32(m);
        Dl = nli_bf16_round32(D), Il = nli_bf16_round32(I);
    }
    return rows * (Dl + 3 * D + D) + m * Il + (size_t)n_threads * attn_scratch(tc, maxT, bf16) +
           linear_ws(tc, rows, bf16);
}

static void attend(const float *qkv, float *out, int T, int D, int hd, int h, int causal, float *S);

/* Every head of every sequence, one (sequence, head) per job and thread. */
static void attention(const nli_tower_config *tc, const float *qkv, float *att, size_t items, const size_t *start,
                      const int *len, int maxT, int causal, int n_threads, float *scratch, int bf16) {
    const int D = tc->hidden_size, H = tc->num_attention_heads, hd = D / H;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (size_t job = 0; job < items * (size_t)H; job++) {
        size_t b = job / H;
        int h = (int)(job % H);
        float *sc = scratch + (size_t)omp_get_thread_num() * attn_scratch(tc, maxT, bf16);
        if (bf16)
            nli_attend_bf16(qkv + start[b] * 3 * D, att + start[b] * D, len[b], D, hd, h, causal, sc);
        else
            attend(qkv + start[b] * 3 * D, att + start[b] * D, len[b], D, hd, h, causal, sc);
    }
}

void nli_attention(const nli_tower_config *tc, const float *qkv, float *att, size_t items, const size_t *start,
                   const int *len, int maxT, int causal, int n_threads, float *scratch) {
    attention(tc, qkv, att, items, start, len, maxT, causal, n_threads, scratch, 0);
}

/* The block in bf16 (clip_bf16.c has the attention): LayerNorms write the
 * next product's bf16 operand directly, fc1's results go through
 * bias + activation into fc2's operand, so neither is stored in float32. */
static void block_bf16(const nli_tower_config *tc, const nli_block *bk, float *x, size_t rows, size_t items,
                       const size_t *start, const int *len, int maxT, int causal, int n_threads, float *ws) {
    const int D = tc->hidden_size, I = tc->intermediate_size;
    const size_t rp = nli_bf16_round32(rows), mr = mlp_rows(tc, rows);
    /* ln: rows x D floats or the tiled bf16 LayerNorm (rp x round32(D)
     * halves), mlp the tiled hidden layer: sized for both even where D or
     * I is under 16 (a tile row then outgrows a float row) */
    float *ln = ws, *qkv = ln + rp * nli_bf16_round32((size_t)D), *att = qkv + rp * 3 * D, *mlp = att + rp * D;
    float *scratch = mlp + nli_bf16_round32(mr) * nli_bf16_round32((size_t)I);
    void *lws = scratch + (size_t)n_threads * attn_scratch(tc, maxT, 1);
    uint16_t *lnT = (uint16_t *)ln, *mlpT = (uint16_t *)mlp;

    nli_layernorm_tiled(x, bk->ln1_w, bk->ln1_b, lnT, rows, D, tc->layer_norm_eps);
    nli_bf16_epilogue e_qkv = {.C = qkv, .ldc = 3 * (size_t)D, .bias = bk->qkv_b, .scale = 1.0f};
    nli_gemm_bf16_t(lnT, rows, &bk->qkv_p, &e_qkv, n_threads);
    attention(tc, qkv, att, items, start, len, maxT, causal, n_threads, scratch, 1);
    nli_gemm_bf16(att, D, &bk->o_p, bk->o_b, ln, D, rows, n_threads, lws);
    size_t nx = rows * (size_t)D;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t i = 0; i < nx; i++) x[i] += ln[i];

    nli_layernorm_tiled(x, bk->ln2_w, bk->ln2_b, lnT, rows, D, tc->layer_norm_eps);
    /* the MLP mr rows at a time (row r0 of a tiled operand: r0 * round32(k) values on) */
    for (size_t r0 = 0; r0 < rows; r0 += mr) {
        size_t m = rows - r0 < mr ? rows - r0 : mr;
        nli_bf16_epilogue e_fc1 = {.bias = bk->fc1_b, .scale = 1.0f,
                                   .act = nli_tower_act(tc), .out_tiled = mlpT};
        nli_gemm_bf16_t(lnT + r0 * nli_bf16_round32((size_t)D), m, &bk->fc1_p, &e_fc1, n_threads);
        nli_bf16_epilogue e_fc2 = {.C = att + r0 * D, .ldc = (size_t)D, .bias = bk->fc2_b, .scale = 1.0f};
        nli_gemm_bf16_t(mlpT, m, &bk->fc2_p, &e_fc2, n_threads);
    }
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t i = 0; i < nx; i++) x[i] += att[i];
}

/* Attention of head h of one sequence of T rows. qkv rows are [q | k | v]
 * (3*D wide); writes the head's slice of out (D wide). Both products are
 * GEMMs reading the head's columns in place (leading dimension 3*D): BLAS
 * runs them with the machine's widest vectors, and their sizes depend only
 * on T and the head size, so results do not depend on batch or threads
 * (inside our parallel loop OpenBLAS runs each call on one thread). With
 * causal, row i attends to keys 0..i: the scores above the diagonal are
 * computed and then zeroed after the softmax, which is exact. */
static void attend(const float *qkv, float *out, int T, int D, int hd, int h, int causal, float *S) {
    const int W = 3 * D, R = nli_attn_rows(T);
    const float *q = qkv + h * hd, *k = q + D, *v = q + 2 * D;
    for (int r0 = 0; r0 < T; r0 += R) { /* query rows r0.. (all T at once for T <= 2048) */
        int m = T - r0 < R ? T - r0 : R;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, T, hd, 1.0f / sqrtf((float)hd), q + (size_t)r0 * W,
                    W, k, W, 0.0f, S, T);
        nli_softmax_rows(S, m, T, causal, r0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hd, T, 1.0f, S, T, v, W, 0.0f,
                    out + (size_t)r0 * D + h * hd, D);
    }
}

int nli_tower_act(const nli_tower_config *tc) {
    return tc->quick_gelu ? NLI_ACT_QUICK_GELU : tc->gelu_tanh ? NLI_ACT_GELU_TANH : NLI_ACT_GELU;
}

void nli_activate(const nli_tower_config *tc, float *x, size_t n, int n_threads) {
    const int act = nli_tower_act(tc);
    const size_t step = 4096, nb = (n + step - 1) / step;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t b = 0; b < nb; b++) nli_act_f32(x + b * step, b == nb - 1 ? n - b * step : step, act);
}

void nli_attend_query(const float *q, const float *kv, int T, int E, int col, int hd, float *s, float *o) {
    const float scale = 1.0f / sqrtf((float)hd);
    float mx = -INFINITY, sum = 0;
    for (int t = 0; t < T; t++) {
        const float *k = kv + (size_t)t * 2 * E + col;
        float d = 0;
        for (int j = 0; j < hd; j++) d += q[j] * k[j];
        s[t] = d * scale;
        mx = s[t] > mx ? s[t] : mx;
    }
    for (int t = 0; t < T; t++) { s[t] = expf(s[t] - mx); sum += s[t]; }
    for (int j = 0; j < hd; j++) o[j] = 0;
    for (int t = 0; t < T; t++) {
        const float *v = kv + (size_t)t * 2 * E + E + col, w = s[t] / sum;
        for (int j = 0; j < hd; j++) o[j] += w * v[j];
    }
}

void nli_block_forward(const nli_tower_config *tc, const nli_block *bk, float *x, size_t rows, size_t items,
                      const size_t *start, const int *len, int maxT, int causal, int n_threads, float *ws) {
    const int D = tc->hidden_size, I = tc->intermediate_size;
    if (bk->qkv_p.data && D <= LN_TILED_MAX) {
        block_bf16(tc, bk, x, rows, items, start, len, maxT, causal, n_threads, ws);
        return;
    }
    const size_t mr = mlp_rows(tc, rows);
    float *ln = ws, *qkv = ln + rows * D, *att = qkv + rows * 3 * D, *mlp = att + rows * D;
    float *scratch = mlp + mr * I;

    /* x = x + out_proj(attention(ln1(x))) */
    nli_layernorm(x, bk->ln1_w, bk->ln1_b, ln, rows, D, tc->layer_norm_eps);
    nli_gemm(ln, bk->qkv_w, bk->qkv_b, qkv, rows, 3 * (size_t)D, D);
    attention(tc, qkv, att, items, start, len, maxT, causal, n_threads, scratch, 0);
    nli_gemm(att, bk->o_w, bk->o_b, ln, rows, D, D);
    size_t nx = rows * (size_t)D;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t i = 0; i < nx; i++) x[i] += ln[i];

    /* x = x + fc2(act(fc1(ln2(x)))), mr rows at a time */
    nli_layernorm(x, bk->ln2_w, bk->ln2_b, ln, rows, D, tc->layer_norm_eps);
    for (size_t r0 = 0; r0 < rows; r0 += mr) {
        size_t m = rows - r0 < mr ? rows - r0 : mr, nm = m * (size_t)I;
        nli_gemm(ln + r0 * D, bk->fc1_w, bk->fc1_b, mlp, m, I, D);
        nli_activate(tc, mlp, nm, n_threads);
        nli_gemm(mlp, bk->fc2_w, bk->fc2_b, att + r0 * D, m, D, I);
    }
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t i = 0; i < nx; i++) x[i] += att[i];
}

void nli_patches(const float *pixels, size_t nb, int C, int S, int p, float *patches, int n_threads) {
    const int g = S / p, np = g * g, K = C * p * p;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t bp = 0; bp < nb * (size_t)np; bp++) {
        size_t b = bp / np;
        int k = (int)(bp % np), py = k / g, px = k % g;
        const float *img = pixels + b * (size_t)C * S * S;
        float *row = patches + bp * K;
        for (int ch = 0; ch < C; ch++)
            for (int ky = 0; ky < p; ky++)
                memcpy(row + (ch * p + ky) * p, img + ((size_t)ch * S + py * p + ky) * S + px * p, p * sizeof(float));
    }
}

int nli_clip_encode_images(nli_clip *c, const float *pixels, size_t n, float *out) {
    const nli_tower_config *vc = &c->cfg.vision;
    const int D = vc->hidden_size, C = vc->num_channels, p = vc->patch_size, S = vc->image_size, P = c->cfg.projection_dim;
    const int sg = c->cfg.siglip; /* SigLIP: no class token, no pre-LayerNorm, pooled by its head */
    const int g = S / p, np = g * g, T = np + !sg, K = C * p * p;
    if (n == 0) return 0;
    if (!pixels || !out) { nli_seterr("nli_clip_encode_images: NULL argument"); return -1; }
    if (c->gpu) return nli_cuda_encode_images(c->gpu, pixels, n, out);
    if (c->rn) return nli_resnet_encode_images(c, pixels, n, out);
    if (c->gv) return nli_groupvit_encode_images(c, pixels, n, out);
    if (c->en) return nli_effnet_encode_images(c, pixels, n, out);
    nli_clip_use_threads(c);
    const int nt = c->n_threads;
    /* Images per chunk: bounded rows keep the workspace bounded. */
    size_t B = NL_CHUNK_ROWS / (size_t)T;
    if (B < 1) B = 1;
    if (B > n) B = n;
    size_t rows = B * T;
    const int bf16 = c->bf16_mem != NULL;
    size_t nws = nli_block_ws_floats(vc, rows, T, nt, bf16);
    /* the patch embedding's bf16 operands after the patch embeddings in ws */
    size_t pws = (size_t)D * B * np + nli_gemm_bf16_ws_bytes(B * np, K) / sizeof(float) + 16;
    if (bf16 && nws < pws) nws = pws;
    float *x = nli_mallocarray(rows, (size_t)D * sizeof(float)), *ws = nli_mallocarray(nws, sizeof(float));
    float *patches = nli_mallocarray(B * (size_t)np, (size_t)K * sizeof(float));
    size_t *start = nli_mallocarray(B, sizeof(size_t));
    int *len = nli_mallocarray(B, sizeof(int));
    int rc = -1;
    if (!x || !ws || !patches || !start || !len) { nli_prefixerr("vision forward"); goto done; }
    for (size_t b = 0; b < B; b++) { start[b] = b * T; len[b] = T; }
    float *pe = ws; /* patch embeddings: ws is free until the first block */
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t nb = n - i0 < B ? n - i0 : B, r = nb * T;
        nli_patches(pixels + i0 * (size_t)C * S * S, nb, C, S, p, patches, nt);
        nli_linear(patches, c->patch_w, &c->patch_p, sg ? c->sg.patch_b : NULL, pe, nb * np, D, K, nt, pe + (size_t)D * nb * np);
        /* [class; patches] + positions, then pre_layrnorm (SigLIP: patches + positions) */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (size_t bt = 0; bt < r; bt++) {
            size_t b = bt / T, t = bt % T;
            const float *src = sg ? pe + (b * np + t) * D : t == 0 ? c->cls : pe + (b * np + t - 1) * D;
            const float *pos = c->vpos_emb + t * D;
            float *dst = x + bt * D;
            for (int d = 0; d < D; d++) dst[d] = src[d] + pos[d];
        }
        const size_t TD = (size_t)T * D;
        float *cap = c->capture && n == 1 ? c->capture : NULL; /* tests: hidden states */
        if (!sg) nli_layernorm(x, c->pre_w, c->pre_b, x, r, D, vc->layer_norm_eps);
        if (cap) memcpy(cap, x, TD * sizeof(float));
        for (int l = 0; l < vc->num_hidden_layers; l++) {
            nli_block_forward(vc, &c->vblk[l], x, r, nb, start, len, T, 0, nt, ws);
            if (cap) memcpy(cap + (l + 1) * TD, x, TD * sizeof(float));
        }
        if (sg) { /* post_layernorm on every token, then the attention-pooling head */
            nli_layernorm(x, c->post_w, c->post_b, x, r, D, vc->layer_norm_eps);
            if (cap) memcpy(cap + (vc->num_hidden_layers + 1) * TD, x, TD * sizeof(float));
            if (nli_siglip_pool(c, x, nb, T, out + i0 * P) != 0) goto done;
            continue;
        }
        /* pooled = post_layernorm(class token); out = pooled * proj^T */
        float *pooled = ws;
        for (size_t b = 0; b < nb; b++) memcpy(pooled + b * D, x + b * T * D, D * sizeof(float));
        nli_layernorm(pooled, c->post_w, c->post_b, pooled, nb, D, vc->layer_norm_eps);
        if (cap) memcpy(cap + (vc->num_hidden_layers + 1) * TD, pooled, D * sizeof(float));
        nli_gemm(pooled, c->vproj, NULL, out + i0 * P, nb, P, D);
    }
    rc = 0;
done:
    free(x);
    free(ws);
    free(patches);
    free(start);
    free(len);
    return rc;
}
