/* dgemm.h — double-precision cosine products whose results do not depend
 * on the thread count. */
#ifndef NEGLABEL_DGEMM_H
#define NEGLABEL_DGEMM_H
#include <stddef.h>

/* C[M,N] (row-major, ldc N) = A[M,K] B[N,K]^T. The N columns are cut into
 * fixed blocks of NL_DGEMM_COLS, each computed by a single-threaded BLAS
 * call (our OpenMP loop runs the blocks on n_threads threads), so every
 * element is summed the same way whatever n_threads: OpenBLAS's own
 * threading splits the work by thread count, and on some CPUs its kernels
 * sum an element differently depending on where the split puts it. */
#define NL_DGEMM_COLS 256
void nl_dgemm_nt(const double *A, const double *B, double *C, size_t M, size_t N, size_t K, int n_threads);
#endif
