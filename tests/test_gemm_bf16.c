/* test_gemm_bf16.c — the bf16 matrix products (src/base/gemm_bf16.c) on
 * every kernel this CPU runs ("amx", "avx512bf16"):
 *   - against a double-precision product of the same bf16-rounded inputs,
 *     within float32 accumulation error (bound below);
 *   - batch independence: a row gives the same bits alone, at another
 *     position, and in products of other sizes;
 *   - thread independence: 1 and 2 threads give the same bits;
 *   - the tiled entry on one thread (attention) equals the threaded one,
 *     with a scale; a transposed packing equals the plain one; the fused
 *     epilogue (bias, activation, bf16 operand of the next product) equals
 *     the same steps done one after the other;
 *   - float -> bf16 rounding: to nearest even, NaN kept.
 * On a CPU without native bf16 it checks that the kernel says "none" (the
 * engine then falls back to fp32, tested in test_clip_bf16). */
#include "check.h"
#include "gemm_bf16.h"
#include "gemm_bf16_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float urand(void) { /* [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void check_rounding(void) {
    CHECK(nli_f32_to_bf16_rne(1.0f) == 0x3f80, "1.0");
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0) */
    CHECK(nli_f32_to_bf16_rne(1.0f + 1.0f / 256) == 0x3f80, "tie to even down");
    CHECK(nli_f32_to_bf16_rne(1.0f + 3.0f / 256) == 0x3f82, "tie to even up");
    CHECK(nli_f32_to_bf16_rne(1.0f + 1.5f / 256) == 0x3f81, "above half rounds up");
    uint16_t n = nli_f32_to_bf16_rne(NAN);
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f), "NaN stays NaN (0x%04x)", n);
    CHECK(nli_f32_to_bf16_rne(INFINITY) == 0x7f80, "inf");
    CHECK(nli_f32_to_bf16_rne(-2.5f) == 0xc020, "-2.5");
}

/* One kernel: products of shapes like the ViT's, and odd ones. */
static void check_kernel(const char *name) {
    static const size_t shapes[][3] = {{197, 96, 64}, {37, 70, 33}, {1, 17, 5}, {64, 64, 768}, {33, 1, 31}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(M * K * sizeof *A), *W = malloc(N * K * sizeof *W), *Wt = malloc(N * K * sizeof *Wt);
        float *bias = malloc(N * sizeof *bias), *C = malloc(M * N * sizeof *C), *C2 = malloc(M * N * sizeof *C2);
        float *C1 = malloc(M * N * sizeof *C1);
        for (size_t i = 0; i < M * K; i++) A[i] = urand();
        for (size_t i = 0; i < N * K; i++) W[i] = urand() * 0.1f;
        for (size_t j = 0; j < N; j++)
            for (size_t k = 0; k < K; k++) Wt[k * N + j] = W[j * K + k];
        for (size_t j = 0; j < N; j++) bias[j] = urand();
        nli_bf16_matrix P, Pt;
        CHECK(nli_bf16_pack(&P, W, N, K, K) == 0, "pack");
        uint16_t *tbuf = malloc(nli_bf16_packed_count(N, K) * sizeof *tbuf);
        nli_bf16_pack_into(&Pt, tbuf, Wt, N, K, N, 1);
        CHECK(!memcmp(P.data, Pt.data, nli_bf16_packed_count(N, K) * 2), "%s %zux%zu: transposed packing", name, N, K);
        void *ws = malloc(nli_gemm_bf16_ws_bytes(M + 40, K));
        nli_gemm_bf16(A, K, &P, bias, C, N, M, 2, ws);
        /* reference: double sums of the bf16-rounded inputs */
        double worst = 0;
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                double ref = bias[j], mag = fabs(bias[j]);
                for (size_t k = 0; k < K; k++) {
                    double p = (double)bf16_to_f32(nli_f32_to_bf16_rne(A[i * K + k])) *
                               bf16_to_f32(nli_f32_to_bf16_rne(W[j * K + k]));
                    ref += p;
                    mag += fabs(p);
                }
                /* float32 accumulation: each of K additions errs by at most
                 * 2^-24 of the running magnitude */
                double err = fabs(C[i * N + j] - ref), tol = mag * (K + 2) * ldexp(1, -24) + 1e-30;
                if (err / tol > worst) worst = err / tol;
            }
        CHECK(worst <= 1.0, "%s %zux%zux%zu: error %.3g of the float32 bound", name, M, N, K, worst);
        /* threads */
        nli_gemm_bf16(A, K, &P, bias, C2, N, M, 1, ws);
        CHECK(!memcmp(C, C2, M * N * sizeof *C), "%s %zux%zux%zu: 1 thread == 2 threads", name, M, N, K);
        /* batch: each row alone, and the rows shifted down by 7 in a larger
         * product */
        int alone_ok = 1;
        for (size_t i = 0; i < M && alone_ok; i += (M > 8 ? M / 8 : 1)) {
            nli_gemm_bf16(A + i * K, K, &P, bias, C1, N, 1, 2, ws);
            alone_ok = !memcmp(C1, C + i * N, N * sizeof *C);
        }
        CHECK(alone_ok, "%s %zux%zux%zu: a row alone gives the same bits", name, M, N, K);
        float *A2 = malloc((M + 40) * K * sizeof *A2), *C3 = malloc((M + 40) * N * sizeof *C3);
        for (size_t i = 0; i < (M + 40) * K; i++) A2[i] = urand();
        memcpy(A2 + 7 * K, A, M * K * sizeof *A);
        nli_gemm_bf16(A2, K, &P, bias, C3, N, M + 40, 2, ws);
        CHECK(!memcmp(C3 + 7 * N, C, M * N * sizeof *C), "%s %zux%zux%zu: rows at another position", name, M, N, K);
        /* the tiled entry on the calling thread, with a scale and no bias */
        uint16_t *Ab = malloc(nli_bf16_tiled_count(M, K) * sizeof *Ab);
        nli_bf16_tile(A, K, M, K, Ab, 1);
        nli_bf16_epilogue es = {.C = C2, .ldc = N, .scale = 0.125f};
        nli_gemm_bf16_t(Ab, M, &P, &es, 1);
        nli_gemm_bf16(A, K, &P, NULL, C, N, M, 2, ws);
        int sc_ok = 1;
        for (size_t i = 0; i < M * N; i++) sc_ok &= C2[i] == C[i] * 0.125f;
        CHECK(sc_ok, "%s %zux%zux%zu: one thread, tiled operand, scale", name, M, N, K);
        /* fused epilogue: bias, activation, bf16 operand of the next product
         * == the float32 results, activated, then tiled */
        for (int act = NLI_ACT_QUICK_GELU; act <= NLI_ACT_GELU; act++) {
            uint16_t *T1 = malloc(nli_bf16_tiled_count(M, N) * 2), *T2 = malloc(nli_bf16_tiled_count(M, N) * 2);
            memset(T1, 0xAB, nli_bf16_tiled_count(M, N) * 2); /* padding must be overwritten with zeros */
            nli_bf16_epilogue ea = {.bias = bias, .scale = 1.0f, .act = act, .out_tiled = T1};
            nli_gemm_bf16_t(Ab, M, &P, &ea, 2);
            nli_gemm_bf16(A, K, &P, bias, C, N, M, 2, ws);
            for (size_t i = 0; i < M; i++) nli_bf16_act(C + i * N, N, act);
            nli_bf16_tile(C, N, M, N, T2, 1);
            CHECK(!memcmp(T1, T2, nli_bf16_tiled_count(M, N) * 2), "%s %zux%zux%zu: fused epilogue (act %d)", name,
                  M, N, K, act);
            free(T1);
            free(T2);
        }
        free(Ab);
        free(A2);
        free(C3);
        free(ws);
        free(tbuf);
        nli_bf16_matrix_free(&P);
        free(A);
        free(W);
        free(Wt);
        free(bias);
        free(C);
        free(C1);
        free(C2);
    }
}

int main(void) {
    check_rounding();
    printf("CPU bf16 features: '%s'; default kernel: %s\n", nli_bf16_cpu_features(), nli_bf16_kernel_name());
    int ran = 0;
    static const char *kernels[] = {"amx", "avx512bf16"};
    for (int i = 0; i < 2; i++) {
        if (nli_bf16_set_kernel(kernels[i]) != 0) {
            printf("kernel %s: not on this CPU\n", kernels[i]);
            continue;
        }
        printf("kernel %s\n", kernels[i]);
        check_kernel(kernels[i]);
        ran++;
    }
    if (!ran) {
        /* no native bf16: the library must say so */
        CHECK(nli_bf16_set_kernel("none") == 0 && !nli_bf16_available(), "no bf16 kernel: none");
        CHECK(!strcmp(nli_bf16_cpu_features(), ""), "no bf16 features reported");
    } else {
        CHECK(strstr(nli_bf16_cpu_features(), "avx512-bf16") != NULL, "features name avx512-bf16");
    }
    CHECK(nli_bf16_set_kernel("none") == 0 && !nli_bf16_available(), "the 'none' kernel can be forced");
    return check_done();
}
