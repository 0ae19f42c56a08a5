/* gemm.h — the one matrix product the transformers need, on OpenBLAS. */
#ifndef NEGLABEL_GEMM_H
#define NEGLABEL_GEMM_H
#include <stddef.h>

/* C[M,N] = A[M,K] * W[N,K]^T (+ bias[N] on every row when bias != NULL):
 * a linear layer with PyTorch's [out, in] weight layout. Row-major. */
void nl_gemm(const float *A, const float *W, const float *bias, float *C, size_t M, size_t N, size_t K);
/* Threads OpenBLAS may use (process-wide OpenBLAS setting). */
void nl_gemm_set_threads(int n);
#endif
