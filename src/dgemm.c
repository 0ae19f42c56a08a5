/* dgemm.c — see dgemm.h. */
#include "dgemm.h"

#include <cblas.h>

void nl_dgemm_nt(const double *A, const double *B, double *C, size_t M, size_t N, size_t K, int n_threads) {
    if (!M || !N) return;
    size_t nb = (N + NL_DGEMM_COLS - 1) / NL_DGEMM_COLS;
    /* A team of one thread is no active parallel region, and OpenBLAS
     * would then split the call over its own threads: it must not. */
    openblas_set_num_threads(1);
    /* Inside an OpenMP parallel region the OpenMP build of OpenBLAS runs
     * each call on the calling thread alone. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads > 0 ? n_threads : 1)
    for (size_t b = 0; b < nb; b++) {
        size_t j0 = b * NL_DGEMM_COLS, w = N - j0 < NL_DGEMM_COLS ? N - j0 : NL_DGEMM_COLS;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)w, (int)K, 1.0, A, (int)K, B + j0 * K,
                    (int)K, 0.0, C + j0, (int)N);
    }
}
