/* gemm.c — see gemm.h. OpenBLAS splits the work across threads by output
 * blocks, never along K, so each C element is summed in the same order
 * whatever the thread count (tests check this bitwise).
 *
 * One exception makes results depend on the batch: OpenBLAS (0.3.17+) sends
 * products with M*N*K <= 1e6 to separate "small matrix" kernels that sum in
 * another order. A text encoded alone would then differ in the last bits
 * from the same text inside a batch, and cached embeddings from fresh ones.
 * Small products are therefore padded with zero rows past that size, so
 * every row of every product takes the same path. */
#include "gemm.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_MNK 2.0e6 /* above OpenBLAS's 1e6 small-kernel limit, with margin */

void nl_gemm_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

static void gemm_raw(const float *A, const float *W, const float *bias, float *C, size_t M, size_t N, size_t K) {
    float beta = 0.0f;
    if (bias) {
        for (size_t i = 0; i < M; i++) memcpy(C + i * N, bias, N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, A, (int)K, W, (int)K,
                beta, C, (int)N);
}

void nl_gemm(const float *A, const float *W, const float *bias, float *C, size_t M, size_t N, size_t K) {
    if (!M || !N) return;
    if ((double)M * (double)N * (double)K > SMALL_MNK || !K) {
        gemm_raw(A, W, bias, C, M, N, K);
        return;
    }
    size_t Mp = (size_t)(SMALL_MNK / ((double)N * (double)K)) + 1;
    float *a = calloc(Mp * K, sizeof(float)), *c = malloc(Mp * N * sizeof(float));
    if (!a || !c) {
        /* Small buffers (< 8 MB); if even they fail, compute unpadded:
         * correct, only possibly not bit-identical across batch sizes. */
        free(a);
        free(c);
        gemm_raw(A, W, bias, C, M, N, K);
        return;
    }
    memcpy(a, A, M * K * sizeof(float));
    gemm_raw(a, W, bias, c, Mp, N, K);
    memcpy(C, c, M * N * sizeof(float));
    free(a);
    free(c);
}
