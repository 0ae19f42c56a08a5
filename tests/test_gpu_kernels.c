/* test_gpu_kernels.c — the CLIP engine's own GPU kernels one by one
 * (src/clip/cuda: fused attention, LayerNorm, bias + activation) against
 * double-precision references computed here from the same inputs, in fp32,
 * fp16 and bf16, on shapes that take every path: attention over packed
 * sequences of 1 to 257 rows (the 64-row tiles, the last partial key chunk
 * whose empty 8-key groups are skipped, the causal mask), LayerNorm with
 * the register-resident vector kernel and the scalar fallback (a row wider
 * than 1,024 or not a multiple of 4), bias + activation vectorised and not
 * (QuickGELU, GELU, its tanh approximation), SigLIP's attention pool.
 * The engine tests (test_gpu_engine) compare whole models with a cosine
 * of 0.999 in fp16; here each kernel must hold a bound set by its rounding,
 * so one wrong key or element shows. Outputs are poisoned (NaN) first, so
 * an unwritten element fails. Label gpu: exits 77 with the reason where no
 * CUDA device is usable; runs on the emulator in CI. */
#include "check.h"
#include "neglabel.h"

#include <math.h>
#include <stdint.h>

#ifndef NEGLABEL_HAVE_CUDA
int main(void) {
    printf("SKIP: built without CUDA\n");
    return 77;
}
#else
#include <cuda_runtime.h>

#include "cuda/kernels.h"
#include "safetensors.h" /* the library's own fp16/bf16 conversions (round to nearest even) */

static uint64_t rs = 0x2545f4914f6cdd1dULL;
static double urand(void) { /* [0, 1) */
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static const char *pname(int prec) { return prec == 1 ? "fp32" : prec == 2 ? "fp16" : "bf16"; }
static size_t tsz(int prec) { return prec == 1 ? 4 : 2; }
/* Element i of a T array on the host, as float; and stored from float. */
static float tget(const void *a, size_t i, int prec) {
    return prec == 1 ? ((const float *)a)[i] : prec == 2 ? nli_f16_to_f32(((const uint16_t *)a)[i]) : nli_bf16_to_f32(((const uint16_t *)a)[i]);
}
static void tset(void *a, size_t i, float v, int prec) {
    if (prec == 1) ((float *)a)[i] = v;
    else ((uint16_t *)a)[i] = prec == 2 ? nli_f32_to_f16(v) : nli_f32_to_bf16(v);
}
/* The rounding of T: a float rounded to it. */
static float tround(float v, int prec) {
    return prec == 1 ? v : prec == 2 ? nli_f16_to_f32(nli_f32_to_f16(v)) : nli_bf16_to_f32(nli_f32_to_bf16(v));
}

static void *dev_copy(const void *h, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes) != cudaSuccess) return NULL;
    if (h && cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice) != cudaSuccess) return NULL;
    if (!h) cudaMemset(d, 0xff, bytes); /* poison: NaN in every type */
    return d;
}
static int to_host(void *h, const void *d, size_t bytes) {
    return cudaDeviceSynchronize() == cudaSuccess && cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost) == cudaSuccess;
}

/* ------------------------------------------------------------ attention */

#define HD 64
#define NH 2

/* packed (causal only): sequences of up to 64 rows share tiles as the
 * text tower packs prompts (clip_cuda.cu), the kernel told each row's
 * position; runs of short prompts, one of exactly 64, longer ones between.
 * seq (bidirectional only): the kernel is told the longest sequence, so
 * 16-bit runs take attn_seq (a block per sequence and head, its keys
 * resident; sequences of up to 320 tokens on sm_90, so the 577 is left
 * out); else attn_mma (a block per 64 query rows). */
static void attention_case(int prec, int causal, int packed, int seq) {
    static const int lens_one[] = {1, 5, 9, 17, 50, 63, 64, 65, 73, 77, 128, 136, 197, 200, 257, 577};
    static const int lens_packed[] = {1, 5, 9, 17, 3, 7, 7, 12, 64, 2, 9, 30, 33, 65, 6, 6, 6, 6, 6, 6,
                                      6, 6, 6, 6, 6, 1, 77, 8, 20, 40, 24, 1, 63, 1, 2};
    const int *lens = packed ? lens_packed : lens_one;
    const int ns = packed ? (int)(sizeof lens_packed / sizeof *lens_packed)
                          : (int)(sizeof lens_one / sizeof *lens_one) - (seq ? 1 : 0);
    const int D = NH * HD, W = 3 * D;
    int rows = 0, nt = 0, longest = 0;
    for (int s = 0; s < ns; s++) {
        if (lens[s] > longest) longest = lens[s];
        rows += lens[s];
        nt += (lens[s] + 63) / 64;
    }
    void *qkv = malloc((size_t)rows * W * tsz(prec)), *out = malloc((size_t)rows * D * tsz(prec));
    float *bias = malloc((size_t)W * sizeof(float));
    nli_attn_tile *tiles = malloc((size_t)nt * sizeof *tiles);
    int *pos = malloc((size_t)rows * sizeof *pos);
    /* Wide scores (|q|, |k| up to 2: softmax weights from ~0 to ~1), so a
     * key skipped or leaked from the next sequence moves outputs far more
     * than rounding does. */
    for (size_t i = 0; i < (size_t)rows * W; i++) tset(qkv, i, (float)(4 * urand() - 2), prec);
    for (int i = 0; i < W; i++) bias[i] = (float)(urand() - 0.5);
    int nt_used = 0, shared = 0;
    for (int s = 0, r = 0, open = -1; s < ns; r += lens[s++]) {
        for (int i = 0; i < lens[s]; i++) pos[r + i] = i;
        if (packed && lens[s] <= 64 && open >= 0 && tiles[open].len + lens[s] <= 64) {
            tiles[open].len += lens[s];
            shared++;
            continue;
        }
        open = packed && lens[s] <= 64 ? nt_used : -1;
        for (int q0 = 0; q0 < lens[s]; q0 += 64) tiles[nt_used++] = (nli_attn_tile){r, lens[s], q0, 0};
    }
    if (packed) CHECK(shared >= 20, "attention: only %d sequences share a tile", shared);
    void *dq = dev_copy(qkv, (size_t)rows * W * tsz(prec)), *dout = dev_copy(NULL, (size_t)rows * D * tsz(prec));
    float *db = dev_copy(bias, (size_t)W * sizeof(float));
    nli_attn_tile *dt = dev_copy(tiles, (size_t)nt_used * sizeof *tiles);
    int *dpos = dev_copy(pos, (size_t)rows * sizeof *pos);
    CHECK(dq && dout && db && dt && dpos, "attention %s: device buffers", pname(prec));
    if (!(dq && dout && db && dt && dpos)) return;
    if (seq) {
        CHECK(nli_k_attention_kernel(prec, HD, causal, NULL, longest) == (prec == 1 ? NLI_ATTN_SCALAR : NLI_ATTN_SEQ),
              "attention %s: sequences of up to %d rows do not take attn_seq", pname(prec), longest);
        /* the limit on an sm_90 (228 KiB a multiprocessor): two blocks of 320 tokens fit, of 321 not */
        if (prec != 1)
            CHECK(nli_k_attention_kernel(prec, HD, 0, NULL, 320) == NLI_ATTN_SEQ &&
                      nli_k_attention_kernel(prec, HD, 0, NULL, 321) == NLI_ATTN_MMA &&
                      nli_k_attention_kernel(prec, HD, 0, NULL, 577) == NLI_ATTN_MMA &&
                      nli_k_attention_kernel(prec, HD, 1, NULL, 197) == NLI_ATTN_MMA &&
                      nli_k_attention_kernel(prec, 72, 0, NULL, 197) == NLI_ATTN_SCALAR,
                  "attention %s: the kernel choice at the limits", pname(prec));
    }
    int rc = nli_k_attention(prec, 0, dq, db, packed ? dpos : NULL, dout, dt, nt_used, NH, HD, causal, seq ? longest : 0);
    CHECK(rc == 0, "attention %s causal %d packed %d seq %d: launch: %s", pname(prec), causal, packed, seq,
          nl_last_error());
    if (packed)
        CHECK(nli_k_attention(prec, 0, dq, db, dpos, dout, dt, nt_used, NH, HD, 0, 0) == -1 &&
                  strstr(nl_last_error(), "causal"),
              "attention: shared tiles without the causal mask refused: %s", nl_last_error());
    CHECK(to_host(out, dout, (size_t)rows * D * tsz(prec)), "attention %s: copy back", pname(prec));
    /* Reference in double from the kernel's own inputs: q, k, v with the
     * bias added and rounded to T, as the kernel loads them. */
    double worst = 0, scale = 1.0 / sqrt((double)HD);
    int bad_rows = 0;
    double *p = malloc(sizeof(double) * 1024);
    for (int s = 0, r0 = 0; s < ns; r0 += lens[s++]) {
        int L = lens[s];
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < L; i++) {
                int kmax = causal ? i + 1 : L;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < kmax; j++) {
                    double dot = 0;
                    for (int d = 0; d < HD; d++) {
                        int c = h * HD + d;
                        double q = tround(tget(qkv, (size_t)(r0 + i) * W + c, prec) + bias[c], prec);
                        double k = tround(tget(qkv, (size_t)(r0 + j) * W + D + c, prec) + bias[D + c], prec);
                        dot += q * k;
                    }
                    p[j] = dot * scale;
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < kmax; j++) sum += (p[j] = exp(p[j] - mx));
                double row_worst = 0;
                for (int d = 0; d < HD; d++) {
                    int c = h * HD + d;
                    double o = 0;
                    for (int j = 0; j < kmax; j++)
                        o += p[j] / sum * tround(tget(qkv, (size_t)(r0 + j) * W + 2 * D + c, prec) + bias[2 * D + c], prec);
                    double e = fabs(tget(out, (size_t)(r0 + i) * D + c, prec) - o);
                    if (!(e <= row_worst)) row_worst = e; /* NaN too */
                }
                if (!(row_worst <= worst)) worst = row_worst;
                /* values are within [-2.5, 2.5]: absolute bounds */
                if (!(row_worst <= (prec == 1 ? 1e-5 : prec == 2 ? 6e-3 : 5e-2))) bad_rows++;
            }
    }
    CHECK(bad_rows == 0, "attention %s causal %d packed %d seq %d: %d rows off, worst %.3g", pname(prec), causal,
          packed, seq, bad_rows, worst);
    printf("attention %s causal %d packed %d seq %d: %d rows in %d sequences, %d tiles, worst |out - ref| %.2e\n",
           pname(prec), causal, packed, seq, rows, ns, nt_used, worst);
    free(p);
    free(qkv); free(out); free(bias); free(tiles); free(pos);
    cudaFree(dq); cudaFree(dout); cudaFree(db); cudaFree(dt); cudaFree(dpos);
}

/* ------------------------------------------------------------ LayerNorm */

static void layernorm_case(int prec, int D, int with_pb, int gather) {
    const int rows = 37, src_rows = 53;
    const double eps = 1e-5;
    size_t nx = (size_t)src_rows * D;
    float *x = malloc(nx * 4), *pb = malloc((size_t)D * 4), *w = malloc((size_t)D * 4), *b = malloc((size_t)D * 4);
    float *yf = malloc((size_t)rows * D * 4), *xo = malloc(nx * 4);
    void *yt = malloc((size_t)rows * D * tsz(prec));
    int idx[37];
    for (size_t i = 0; i < nx; i++) x[i] = (float)(3 * urand() - 1); /* mean far from 0 */
    for (int i = 0; i < D; i++) {
        pb[i] = (float)(urand() - 0.5);
        w[i] = (float)(urand() + 0.5);
        b[i] = (float)(urand() - 0.5);
    }
    for (int r = 0; r < rows; r++) idx[r] = (r * 7 + 3) % src_rows;
    float *dx = dev_copy(x, nx * 4), *dpb = dev_copy(pb, (size_t)D * 4), *dw = dev_copy(w, (size_t)D * 4);
    float *dbb = dev_copy(b, (size_t)D * 4), *dyf = dev_copy(NULL, (size_t)rows * D * 4);
    void *dyt = dev_copy(NULL, (size_t)rows * D * tsz(prec));
    int *didx = dev_copy(idx, sizeof idx);
    if (!(dx && dpb && dw && dbb && dyf && dyt && didx)) {
        CHECK(0, "layernorm: device buffers");
        return;
    }
    int rc = nli_k_layernorm(prec, 0, dx, gather ? didx : NULL, with_pb ? dpb : NULL, dw, dbb, dyf, dyt,
                         gather ? rows : src_rows < rows ? src_rows : rows, D, eps);
    CHECK(rc == 0, "layernorm: launch: %s", nl_last_error());
    int ok = to_host(yf, dyf, (size_t)rows * D * 4) && to_host(yt, dyt, (size_t)rows * D * tsz(prec)) &&
             to_host(xo, dx, nx * 4);
    CHECK(ok, "layernorm: copy back");
    double wf = 0, wt = 0, wx = 0;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)(gather ? idx[r] : r) * D;
        double s = 0, ss = 0;
        for (int i = 0; i < D; i++) s += (double)(xr[i] + (with_pb ? pb[i] : 0.0f));
        double mean = s / D;
        for (int i = 0; i < D; i++) {
            double d = (double)(xr[i] + (with_pb ? pb[i] : 0.0f)) - mean;
            ss += d * d;
        }
        double rstd = 1.0 / sqrt(ss / D + eps);
        for (int i = 0; i < D; i++) {
            double v = (double)(xr[i] + (with_pb ? pb[i] : 0.0f)), y = (v - mean) * rstd * w[i] + b[i];
            double ef = fabs(yf[(size_t)r * D + i] - y), et = fabs(tget(yt, (size_t)r * D + i, prec) - y);
            double ex = fabs(xo[(size_t)(gather ? idx[r] : r) * D + i] - xr[i]); /* x is only read */
            if (!(ef <= wf)) wf = ef;
            if (!(et <= wt)) wt = et;
            if (!(ex <= wx)) wx = ex;
        }
    }
    /* |y| stays under ~6: fp32 to 1e-5, T to its half ulp there */
    double tt = prec == 1 ? 1e-5 : prec == 2 ? 4e-3 : 3e-2;
    CHECK(wf <= 1e-5 && wt <= tt && wx == 0, "layernorm %s D %d pb %d gather %d: float %.3g, T %.3g, x %.3g",
          pname(prec), D, with_pb, gather, wf, wt, wx);
    free(x); free(pb); free(w); free(b); free(yf); free(xo); free(yt);
    cudaFree(dx); cudaFree(dpb); cudaFree(dw); cudaFree(dbb); cudaFree(dyf); cudaFree(dyt); cudaFree(didx);
}

/* ------------------------------------------------------------ bias + act */

static void bias_act_case(int prec, int N, int act) {
    const size_t rows = 29, n = rows * (size_t)N;
    void *h = malloc(n * tsz(prec)), *got = malloc(n * tsz(prec));
    float *bias = malloc((size_t)N * 4);
    for (size_t i = 0; i < n; i++) tset(h, i, (float)(8 * urand() - 4), prec);
    for (int i = 0; i < N; i++) bias[i] = (float)(urand() - 0.5);
    void *dh = dev_copy(h, n * tsz(prec));
    float *db = dev_copy(bias, (size_t)N * 4);
    if (!dh || !db) {
        CHECK(0, "bias_act: device buffers");
        return;
    }
    CHECK(nli_k_bias_act(prec, 0, dh, db, rows, N, act) == 0, "bias_act: launch: %s", nl_last_error());
    CHECK(to_host(got, dh, n * tsz(prec)), "bias_act: copy back");
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double v = (double)tget(h, i, prec) + bias[i % N];
        double y = act == 1   ? v / (1 + exp(-1.702 * v))
                   : act == 2 ? 0.5 * v * (1 + erf(v / sqrt(2.0)))
                   : act == 4 ? 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                              : v;
        double e = fabs(tget(got, i, prec) - y) / (fabs(y) + 1e-2);
        if (!(e <= worst)) worst = e;
    }
    /* relative, with a floor: T's half ulp, and float's erff and expf where
     * 1 + erf(v / sqrt 2) cancels (GELU far below 0) */
    double tol = prec == 1 ? 1e-4 : prec == 2 ? 1.5e-3 : 1e-2;
    CHECK(worst <= tol, "bias_act %s N %d act %d: relative error %.3g", pname(prec), N, act, worst);
    free(h); free(got); free(bias);
    cudaFree(dh); cudaFree(db);
}

/* ------------------------------------------------------------ SigLIP's pool */

/* nli_k_siglip_probe: 3 images of Tn tokens, 2 heads of hd, against the
 * softmax of the scaled scores and the weighted values in double (from the
 * T-rounded kv plus its bias, as the kernel reads them). Scores spread over
 * about +-8, so the softmax is neither uniform nor one-hot. */
static void siglip_probe_case(int prec, int Tn, int hd) {
    const int B = 3, H = 2, D = H * hd;
    const size_t nkv = (size_t)B * Tn * 2 * D;
    void *kv = malloc(nkv * tsz(prec));
    float *q = malloc((size_t)D * 4), *kvb = malloc((size_t)2 * D * 4), *got = malloc((size_t)B * D * 4);
    double *s = malloc((size_t)Tn * sizeof(double));
    for (int i = 0; i < D; i++) q[i] = (float)(4 * urand() - 2);
    for (int i = 0; i < 2 * D; i++) kvb[i] = (float)(urand() - 0.5);
    for (size_t i = 0; i < nkv; i++) tset(kv, i, (float)(4 * urand() - 2), prec);
    float *dq = dev_copy(q, (size_t)D * 4), *db = dev_copy(kvb, (size_t)2 * D * 4), *dout = dev_copy(NULL, (size_t)B * D * 4);
    void *dkv = dev_copy(kv, nkv * tsz(prec));
    if (!dq || !db || !dout || !dkv) {
        CHECK(0, "siglip_probe: device buffers");
        return;
    }
    CHECK(nli_k_siglip_probe(prec, 0, dq, dkv, db, dout, B, Tn, H, hd) == 0, "siglip_probe: launch: %s",
          nl_last_error());
    CHECK(to_host(got, dout, (size_t)B * D * 4), "siglip_probe: copy back");
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            double mx = -INFINITY, sum = 0;
            for (int t = 0; t < Tn; t++) {
                double d = 0;
                for (int j = 0; j < hd; j++)
                    d += (double)q[h * hd + j] *
                         ((double)tget(kv, ((size_t)b * Tn + t) * 2 * D + h * hd + j, prec) + kvb[h * hd + j]);
                s[t] = d / sqrt((double)hd);
                if (s[t] > mx) mx = s[t];
            }
            for (int t = 0; t < Tn; t++) sum += s[t] = exp(s[t] - mx);
            for (int j = 0; j < hd; j++) {
                double o = 0;
                for (int t = 0; t < Tn; t++)
                    o += s[t] / sum *
                         ((double)tget(kv, ((size_t)b * Tn + t) * 2 * D + D + h * hd + j, prec) + kvb[D + h * hd + j]);
                double e = fabs(got[(size_t)b * D + h * hd + j] - o);
                if (!(e <= worst)) worst = e;
            }
        }
    printf("siglip_probe %s: 3 images of %d tokens, head size %d, worst |out - ref| %.3g\n", pname(prec), Tn, hd, worst);
    /* fp32 arithmetic throughout (T only rounds the inputs, as above) */
    CHECK(worst <= 2e-6, "siglip_probe %s Tn %d hd %d: off by %.3g", pname(prec), Tn, hd, worst);
    free(kv); free(q); free(kvb); free(got); free(s);
    cudaFree(dq); cudaFree(db); cudaFree(dout); cudaFree(dkv);
}

int main(void) {
    int dev = nl_cuda_auto_device();
    if (dev < 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    if (cudaSetDevice(dev) != cudaSuccess) {
        printf("FAILED: cudaSetDevice(%d)\n", dev);
        return 1;
    }
    for (int prec = 1; prec <= 3; prec++) {
        for (int causal = 0; causal <= 1; causal++) attention_case(prec, causal, 0, 0);
        attention_case(prec, 0, 0, 1);
        attention_case(prec, 1, 1, 0);
        /* 128, 768, 1024: the vector kernel; 1280 (too wide) and 130 (not a
         * multiple of 4): the scalar one */
        static const int dims[] = {128, 768, 1024, 1280, 130};
        for (int k = 0; k < 5; k++)
            for (int pb = 0; pb < 2; pb++) layernorm_case(prec, dims[k], pb, k == 1);
        /* 3072: vectors of 16 bytes; 100: vectors for fp32 only; 66: none */
        static const int ns[] = {3072, 100, 66};
        for (int k = 0; k < 3; k++)
            for (int act = 0; act <= 4; act++)
                if (act != 3) bias_act_case(prec, ns[k], act); /* 3, ReLU: the ResNet's, test_gpu_resnet */
        /* SigLIP's pool: one token, fewer than the block's 8 warps, 9 x 9,
         * so400m's 27 x 27 at 384 pixels, 32 x 32; head sizes 64 and 72 */
        static const int toks[] = {1, 5, 81, 729, 1024};
        for (int k = 0; k < 5; k++) siglip_probe_case(prec, toks[k], k == 3 ? 72 : 64);
    }
    return check_done();
}
#endif
