/* gemm.h — the matrix products whose results must not depend on the batch
 * or the thread count (see gemm.c for why OpenBLAS cannot give that). */
#ifndef NEGLABEL_GEMM_H
#define NEGLABEL_GEMM_H
#include <stddef.h>

/* C[M,N] = A[M,K] * W[N,K]^T (+ bias[N] on every row when bias != NULL):
 * a linear layer with PyTorch's [out, in] weight layout. Row-major.
 * C[i][j] depends only on row i of A, row j of W and bias[j] (fixed
 * summation order, see gemm.c): bit-identical whatever M, the row's
 * position in A or the thread count. Threads: omp_get_max_threads(). */
void nli_gemm(const float *A, const float *W, const float *bias, float *C, size_t M, size_t N, size_t K);
/* The same in double: C[M,N] = A[M,K] * B[N,K]^T (cosine tables), on
 * n_threads threads (<= 0: omp_get_max_threads()), with the same guarantee. */
void nli_gemm_f64(const double *A, const double *B, double *C, size_t M, size_t N, size_t K, int n_threads);
/* Threads OpenBLAS may use (process-wide; OpenBLAS's OpenMP build follows
 * omp_get_max_threads() instead). nli_gemm and nli_gemm_f64 do not use it. */
void nli_gemm_set_threads(int n);
/* The kernels in use: "avx512", "avx2", "sse" or "generic", chosen from the
 * CPU. The FMA ones (all but "sse") give identical bits; NEGLABEL_GEMM=<name>
 * forces one, for tests. */
const char *nli_gemm_kernel_name(void);
#endif
