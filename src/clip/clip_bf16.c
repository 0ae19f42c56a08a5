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
    const float *w;
    size_t n, k;
} packing;

static size_t plan(nli_clip *c, packing *out) {
    size_t n = 0;
    const nli_tower_config *tcs[2] = {&c->cfg.text, &c->cfg.vision};
    nli_block *blks[2] = {c->tblk, c->vblk};
    for (int t = 0; t < 2; t++) {
        size_t D = (size_t)tcs[t]->hidden_size, I = (size_t)tcs[t]->intermediate_size;
        for (int l = 0; l < tcs[t]->num_hidden_layers; l++) {
            nli_block *b = &blks[t][l];
            packing p[4] = {{&b->qkv_p, b->qkv_w, 3 * D, D}, {&b->o_p, b->o_w, D, D}, {&b->fc1_p, b->fc1_w, I, D},
                            {&b->fc2_p, b->fc2_w, D, I}};
            for (int i = 0; i < 4; i++)
                if (out) out[n + i] = p[i];
            n += 4;
        }
    }
    const nli_tower_config *vc = &c->cfg.vision;
    if (out)
        out[n] = (packing){&c->patch_p, c->patch_w, (size_t)vc->hidden_size,
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
        unpack_all(c);
        return 0;
    }
    if (c->bf16_mem) return 0;
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
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->n_threads)
    for (size_t i = 0; i < n; i++) nli_bf16_pack_into(p[i].m, c->bf16_mem + off[i], p[i].w, p[i].n, p[i].k, p[i].k, 0);
    free(off);
    free(p);
    return 0;
}

void nli_linear(const float *x, const float *w, const nli_bf16_matrix *W, const float *bias, float *C, size_t rows,
                size_t n, size_t k, int n_threads, void *ws) {
    if (W && W->data)
        nli_gemm_bf16(x, k, W, bias, C, n, rows, n_threads, ws);
    else
        nli_gemm(x, w, bias, C, rows, n, k);
}

/* ---------------------------------------------- float32 parts, vectorised
 * The bf16 path runs only on CPUs with AVX512-BF16 (so AVX-512F): its
 * softmax and QuickGELU use a vector exp (Cephes' expf polynomial, about 2
 * ulp) instead of libm's expf, a difference far below bf16's rounding. The
 * float32 path keeps libm. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define V512 __attribute__((target("avx512f")))

V512 static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.37626f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail_mask(int left) { return left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1); }

V512 static void softmax_rows_512(float *S, int T, int causal) {
    for (int i = 0; i < T; i++) {
        float *r = S + (size_t)i * T;
        int n = causal ? i + 1 : T;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < n; j += 16)
            mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - j), r + j));
        __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
        for (int j = 0; j < n; j += 16) {
            __mmask16 k = tail_mask(n - j);
            __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, r + j), m)));
            _mm512_mask_storeu_ps(r + j, k, e);
            sum = _mm512_add_ps(sum, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
        for (int j = 0; j < n; j += 16) {
            __mmask16 k = tail_mask(n - j);
            _mm512_mask_storeu_ps(r + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, r + j), inv));
        }
        for (int j = n; j < T; j++) r[j] = 0.0f;
    }
}

V512 static void quick_gelu_512(float *x, size_t n) {
    const __m512 one = _mm512_set1_ps(1.0f), a = _mm512_set1_ps(-1.702f);
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 k = tail_mask(n - j > 16 ? 16 : (int)(n - j));
        __m512 v = _mm512_maskz_loadu_ps(k, x + j);
        __m512 d = _mm512_add_ps(one, exp512(_mm512_mul_ps(v, a)));
        _mm512_mask_storeu_ps(x + j, k, _mm512_div_ps(v, d));
    }
}
#endif

void nli_quick_gelu_bf16(float *x, size_t n, int n_threads) {
    const size_t chunk = 4096;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t c = 0; c < n; c += chunk) {
        size_t len = n - c < chunk ? n - c : chunk;
#if defined(__x86_64__) && defined(__GNUC__)
        quick_gelu_512(x + c, len);
#else
        for (size_t j = 0; j < len; j++) x[c + j] = x[c + j] / (1.0f + expf(-1.702f * x[c + j]));
#endif
    }
}

/* Per-thread scratch: S (T x T float32), then bf16 buffers: Q rows, K
 * packed, P rows, V packed (each padded to 32). */
size_t nli_attn_bf16_scratch_floats(int maxT, int hd) {
    size_t tp = nli_bf16_round32((size_t)maxT), hp = nli_bf16_round32((size_t)hd);
    size_t halves = tp * hp + tp * hp + tp * tp + hp * tp;
    return (size_t)maxT * (size_t)maxT + (halves + 1) / 2 + 32;
}

void nli_attend_bf16(const float *qkv, float *out, int T, int D, int hd, int h, int causal, float *S) {
    const size_t W = 3 * (size_t)D, tp = nli_bf16_round32((size_t)T), hp = nli_bf16_round32((size_t)hd);
    const float *q = qkv + (size_t)h * hd, *k = q + D, *v = q + 2 * (size_t)D;
    uint16_t *qb = (uint16_t *)(S + (size_t)T * T), *kb = qb + tp * hp, *pb = kb + tp * hp, *vb = pb + tp * tp;
    nli_bf16_matrix km, vm;
    /* S = (Q K^T) / sqrt(hd) */
    nli_bf16_convert_rows(q, W, (size_t)T, (size_t)hd, qb, hp, tp, hp);
    nli_bf16_pack_into(&km, kb, k, (size_t)T, (size_t)hd, W, 0);
    nli_gemm_bf16_1t(qb, hp, (size_t)T, &km, NULL, 1.0f / sqrtf((float)hd), S, (size_t)T);
#if defined(__x86_64__) && defined(__GNUC__)
    softmax_rows_512(S, T, causal);
#else
    nli_softmax_rows(S, T, causal);
#endif
    /* out = P V: V as the weight [hd][T] (transposed packing) */
    nli_bf16_convert_rows(S, (size_t)T, (size_t)T, (size_t)T, pb, tp, tp, tp);
    nli_bf16_pack_into(&vm, vb, v, (size_t)hd, (size_t)T, W, 1);
    nli_gemm_bf16_1t(pb, tp, (size_t)T, &vm, NULL, 1.0f, out + (size_t)h * hd, (size_t)D);
}
