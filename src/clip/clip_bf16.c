/* clip_bf16.c — the CPU towers in bf16 (nli_clip_use_bf16): weights packed
 * once for the bf16 kernels of base/gemm_bf16.c, the linear layers and the
 * attention products in bf16 with float32 sums. What stays float32 (see
 * docs/cpu-bf16.md): embeddings, LayerNorm, softmax, QuickGELU/GELU, the
 * residual stream and the final projection. */
#include "clip_impl.h"
#include "gemm.h"
#include "neglabel.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The packed weights of one tower's blocks, in order, and their sizes. */
typedef struct {
    nli_bf16_matrix *m;
    const float **w; /* the float32 matrix's pointer in the clip */
    size_t n, k;
} packing;

static size_t plan(nli_clip *c, packing *out) {
    size_t n = 0;
    const nli_tower_config *tcs[2] = {&c->cfg.text, &c->cfg.vision};
    nli_block *blks[2] = {c->tblk, c->vblk};
    int layers[2] = {tcs[0]->num_hidden_layers, tcs[1]->num_hidden_layers};
    if (c->rb) blks[0] = nli_roberta_blocks(c->rb, &layers[0]); /* AltCLIP's text tower */
    for (int t = 0; t < 2; t++) {
        size_t D = (size_t)tcs[t]->hidden_size, I = (size_t)tcs[t]->intermediate_size;
        for (int l = 0; l < layers[t]; l++) {
            nli_block *b = &blks[t][l];
            packing p[4] = {{&b->qkv_p, &b->qkv_w, 3 * D, D}, {&b->o_p, &b->o_w, D, D},
                            {&b->fc1_p, &b->fc1_w, I, D}, {&b->fc2_p, &b->fc2_w, D, I}};
            for (int i = 0; i < 4; i++)
                if (out) out[n + i] = p[i];
            n += 4;
        }
    }
    const nli_tower_config *vc = &c->cfg.vision;
    if (out)
        out[n] = (packing){&c->patch_p, &c->patch_w, (size_t)vc->hidden_size,
                           (size_t)vc->num_channels * vc->patch_size * vc->patch_size};
    return n + 1;
}

static void unpack_all(nli_clip *c) {
    size_t n = plan(c, NULL);
    packing *p = nli_mallocarray(n, sizeof *p);
    if (p) {
        plan(c, p);
        for (size_t i = 0; i < n; i++) memset(p[i].m, 0, sizeof *p[i].m);
        free(p);
    }
    free(c->bf16_mem);
    c->bf16_mem = NULL;
}

int nli_clip_use_bf16(nli_clip *c, int on) {
    if (!on) {
        if (c->fp32_released) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "the model was loaded packed for bf16 (its float32 matrices "
                                                "released): reload it for fp32");
            return -1;
        }
        if (!c->rn) unpack_all(c); /* a ResNet never packs (refused below) */
        return 0;
    }
    return nli_clip_pack_bf16(c, NULL, NULL);
}

int nli_clip_pack_bf16(nli_clip *c, int (*fill)(void *ctx, size_t first, size_t count), void *ctx) {
    if (c->bf16_mem) return 0;
    if (c->cfg.arch == NLI_ARCH_GROUPVIT || c->cfg.arch == NLI_ARCH_EFFNET) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "precision bf16: the CPU bf16 path runs ViT, CLIP-text and RoBERTa "
                        "towers only; %s computes in fp32 (use --precision fp32)", nli_clip_arch_name(&c->cfg));
        return -1;
    }
    if (c->rn || c->cfg.arch == NLI_ARCH_RESNET) { /* c->rn is bound after a packed load */
        nli_seterr_code(NL_ERR_UNSUPPORTED, "precision bf16: the CPU bf16 path runs ViT towers only; this ResNet "
                                            "computes in fp32 (use --precision fp32)");
        return -1;
    }
    if (!nli_bf16_available()) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "this CPU has no native bf16 (AVX512-BF16 or AMX)");
        return -1;
    }
    size_t n = plan(c, NULL), total = 0;
    packing *p = nli_mallocarray(n, sizeof *p);
    if (!p) return -1;
    plan(c, p);
    for (size_t i = 0; i < n; i++) total += nli_bf16_packed_count(p[i].n, p[i].k);
    if (!(c->bf16_mem = nli_mallocarray(total, sizeof(uint16_t)))) {
        nli_prefixerr("bf16 weights (%zu MB)", total * 2 >> 20);
        free(p);
        return -1;
    }
    size_t *off = nli_mallocarray(n, sizeof *off);
    if (!off) {
        free(p);
        unpack_all(c);
        return -1;
    }
    for (size_t i = 0, o = 0; i < n; o += nli_bf16_packed_count(p[i].n, p[i].k), i++) off[i] = o;
    int bad = 0;
    nli_saved_err err;
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->n_threads)
    for (size_t i = 0; i < n; i++) {
        if (bad) continue;
        const float *w = *p[i].w;
        if (fill && fill(ctx, (size_t)(w - c->mem), p[i].n * p[i].k) != 0) {
#pragma omp critical
            if (!bad) { bad = 1; nli_err_save(&err); }
            continue;
        }
        nli_bf16_pack_into(p[i].m, c->bf16_mem + off[i], w, p[i].n, p[i].k, p[i].k, 0);
        if (fill) nli_pages_drop(w, p[i].n * p[i].k * sizeof(float));
    }
    if (!bad && fill) { /* nothing may read the given-back float32 matrices */
        for (size_t i = 0; i < n; i++) *p[i].w = NULL;
        c->fp32_released = 1;
    }
    free(off);
    free(p);
    if (bad) {
        unpack_all(c);
        nli_err_restore(&err);
        return -1;
    }
    return 0;
}

void nli_linear(const float *x, const float *w, const nli_bf16_matrix *W, const float *bias, float *C, size_t rows,
                size_t n, size_t k, int n_threads, void *ws) {
    if (W && W->data)
        nli_gemm_bf16(x, k, W, bias, C, n, rows, n_threads, ws);
    else
        nli_gemm(x, w, bias, C, rows, n, k);
}

/* Per-thread scratch: S (a block of R query rows x T scores, float32), then
 * bf16 operands: the block's Q tiled, K packed, the block's P tiled, V
 * packed. Sized for the largest of every T <= maxT. */
size_t nli_attn_bf16_scratch_floats(int maxT, int hd) {
    size_t T = (size_t)maxT, d = (size_t)hd, S = nli_attn_block_floats(maxT);
    /* a block's rows: all T up to 2048; past that at most 2048, a multiple of
     * 32, whose P (R x round32(T)) is within S + 31 R */
    size_t R = T <= 2048 ? T : 2048, P = T <= 2048 ? nli_bf16_tiled_count(T, T) : S + 32 * R;
    size_t halves = nli_bf16_tiled_count(R, d) + nli_bf16_packed_count(T, d) + P + nli_bf16_packed_count(d, T);
    return S + (halves + 1) / 2 + 32;
}

void nli_attend_bf16(const float *qkv, float *out, int T, int D, int hd, int h, int causal, float *S) {
    const size_t W = 3 * (size_t)D, t = (size_t)T, d = (size_t)hd, R = (size_t)nli_attn_rows(T);
    const float *q = qkv + (size_t)h * hd, *k = q + D, *v = q + 2 * (size_t)D;
    uint16_t *qb = (uint16_t *)(S + nli_attn_block_floats(T)), *kb = qb + nli_bf16_tiled_count(R, d);
    uint16_t *pb = kb + nli_bf16_packed_count(t, d), *vb = pb + nli_bf16_tiled_count(R, t);
    nli_bf16_matrix km, vm;
    /* K as the weight [T][hd], V as the weight [hd][T] (transposed packing) */
    nli_bf16_pack_into(&km, kb, k, t, d, W, 0);
    nli_bf16_pack_into(&vm, vb, v, d, t, W, 1);
    for (size_t r0 = 0; r0 < t; r0 += R) { /* query rows r0.. (all T at once for T <= 2048) */
        size_t m = t - r0 < R ? t - r0 : R;
        /* S = (Q K^T) / sqrt(hd) */
        nli_bf16_tile(q + r0 * W, W, m, d, qb, 1);
        nli_bf16_epilogue es = {.C = S, .ldc = t, .scale = 1.0f / sqrtf((float)hd)};
        nli_gemm_bf16_t(qb, m, &km, &es, 1);
        if (nli_bf16_softmax_rows(S, (int)m, T, causal, (int)r0) != 0)
            nli_softmax_rows(S, (int)m, T, causal, (int)r0);
        /* out = P V */
        nli_bf16_tile(S, t, m, t, pb, 1);
        nli_bf16_epilogue eo = {.C = out + r0 * D + (size_t)h * hd, .ldc = (size_t)D, .scale = 1.0f};
        nli_gemm_bf16_t(pb, m, &vm, &eo, 1);
    }
}
