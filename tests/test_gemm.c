/* test_gemm.c — src/base/gemm.c's products (nli_gemm, nli_gemm_f64) on
 * their own: accuracy against a double (long double) reference, the
 * summation rule's promise that a row's bits do not depend on the product
 * it is in, its position or the thread count, and that every FMA kernel
 * (avx512, avx2, generic) gives the same bits. The kernel is chosen once
 * per process, so each forced one runs in a child process of its own. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "gemm.h"

static uint64_t rng;
static float urand(void) { /* [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}
static float *rand_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = urand();
    return p;
}

/* Shapes of the engine's linear layers (ViT-B/16's qkv and fc2 on a few
 * tokens) and edges: one row, one column, K not a multiple of the 64-step
 * summation block, M and N not multiples of any kernel's tile. */
static const size_t shapes[][3] = {{13, 2304, 768}, {7, 768, 3072}, {1, 5, 3},
                                   {29, 1, 130},    {50, 33, 1},    {31, 40, 449}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* Every shape through nli_gemm (with a bias); the results back to back.
 * check: also their accuracy, and each product's middle row computed
 * alone (M = 1) and on 1 thread against 2, bit for bit. */
static float *products(size_t *total, int check) {
    size_t n = 0;
    for (size_t s = 0; s < N_SHAPES; s++) n += shapes[s][0] * shapes[s][1];
    float *all = malloc(n * sizeof *all), *out = all;
    rng = 0x2545F4914F6CDD1Dull; /* the same operands in every process */
    for (size_t s = 0; s < N_SHAPES; s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = rand_floats(M * K), *W = rand_floats(N * K), *bias = rand_floats(N);
        nli_gemm(A, W, bias, out, M, N, K);
        if (check) {
            double worst = 0;
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) {
                    double sum = bias[j], na = 1, nw = 1;
                    for (size_t k = 0; k < K; k++) {
                        sum += (double)A[i * K + k] * W[j * K + k];
                        na += (double)A[i * K + k] * A[i * K + k];
                        nw += (double)W[j * K + k] * W[j * K + k];
                    }
                    double e = fabs(out[i * N + j] - sum) / sqrt(na * nw);
                    worst = e > worst ? e : worst;
                }
            CHECK(worst < 1e-6, "%zux%zux%zu: worst relative error %.3g", M, N, K, worst);
            size_t i = M / 2;
            float *row = malloc(N * sizeof *row), *C1 = malloc(M * N * sizeof *C1);
            nli_gemm(A + i * K, W, bias, row, 1, N, K);
            CHECK(!memcmp(row, out + i * N, N * sizeof(float)), "%zux%zux%zu: row %zu alone differs", M, N, K, i);
            int nt = omp_get_max_threads();
            omp_set_num_threads(nt > 1 ? 1 : 2);
            nli_gemm(A, W, bias, C1, M, N, K);
            omp_set_num_threads(nt);
            CHECK(!memcmp(C1, out, M * N * sizeof(float)), "%zux%zux%zu: 1 and 2 threads differ", M, N, K);
            free(row);
            free(C1);
        }
        out += M * N;
        free(A);
        free(W);
        free(bias);
    }
    *total = n;
    return all;
}

/* nli_gemm_f64 (the cosine tables): accuracy, and a row's bits the same
 * alone on 1 thread as inside the product on 2. */
static void test_f64(void) {
    size_t M = 67, N = 45, K = 512;
    double *A = malloc(M * K * sizeof *A), *B = malloc(N * K * sizeof *B), *C = malloc(M * N * sizeof *C),
           *row = malloc(N * sizeof *row);
    for (size_t i = 0; i < M * K; i++) A[i] = urand();
    for (size_t i = 0; i < N * K; i++) B[i] = urand();
    nli_gemm_f64(A, B, C, M, N, K, 2);
    nli_gemm_f64(A + 9 * K, B, row, 1, N, K, 1);
    CHECK(!memcmp(row, C + 9 * N, N * sizeof(double)), "nli_gemm_f64: row 9 alone on 1 thread differs");
    double worst = 0;
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            long double s = 0;
            for (size_t k = 0; k < K; k++) s += (long double)A[i * K + k] * B[j * K + k];
            double e = fabs((double)(C[i * N + j] - s));
            worst = e > worst ? e : worst;
        }
    CHECK(worst < 1e-12, "nli_gemm_f64: worst error %.3g", worst);
    free(A), free(B), free(C), free(row);
}

/* The products under kernel `name` (NEGLABEL_GEMM) in a child process,
 * their checks included: the bytes come back through a pipe. NULL when the
 * child failed or got another kernel. */
static float *products_under(const char *name, size_t n) {
    int fd[2];
    if (pipe(fd) != 0) return NULL;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        setenv("NEGLABEL_GEMM", name, 1);
        size_t m;
        float *r = products(&m, 1);
        int ok = m == n && strcmp(nli_gemm_kernel_name(), name) == 0 && check_failed == 0;
        if (strcmp(nli_gemm_kernel_name(), name) != 0)
            fprintf(stderr, "NEGLABEL_GEMM=%s: got %s\n", name, nli_gemm_kernel_name());
        size_t bytes = ok ? n * sizeof(float) : 0, off = 0;
        while (off < bytes) {
            ssize_t w = write(fd[1], (char *)r + off, bytes - off);
            if (w <= 0) _exit(1);
            off += (size_t)w;
        }
        _exit(ok ? 0 : 1);
    }
    close(fd[1]);
    float *r = malloc(n * sizeof(float));
    size_t off = 0, bytes = n * sizeof(float);
    ssize_t got;
    while (off < bytes && (got = read(fd[0], (char *)r + off, bytes - off)) > 0) off += (size_t)got;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (off != bytes || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

int main(void) {
    /* The children first, before this process starts OpenMP's threads
     * (a child forked after that must not use OpenMP). */
    size_t n = 0;
    for (size_t s = 0; s < N_SHAPES; s++) n += shapes[s][0] * shapes[s][1];
    __builtin_cpu_init();
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
        has512 = __builtin_cpu_supports("avx512f");
    float *generic = products_under("generic", n), *avx2 = has2 ? products_under("avx2", n) : NULL,
          *avx512 = has512 ? products_under("avx512", n) : NULL;
    CHECK(generic, "the generic kernel's run failed");
    CHECK(!has2 || (avx2 && generic && !memcmp(avx2, generic, n * sizeof(float))), "avx2 and generic bits differ");
    CHECK(!has512 || (avx512 && generic && !memcmp(avx512, generic, n * sizeof(float))),
          "avx512 and generic bits differ");
    printf("kernels compared with generic: %s%s\n", has2 ? "avx2 " : "", has512 ? "avx512" : "");

    size_t m;
    float *mine = products(&m, 1);
    printf("kernel in use: %s\n", nli_gemm_kernel_name());
    /* the FMA kernels give generic's bits; "sse" (no FMA) rounds twice */
    if (strcmp(nli_gemm_kernel_name(), "sse") != 0)
        CHECK(m == n && generic && !memcmp(generic, mine, n * sizeof(float)), "%s's bits differ from generic's",
              nli_gemm_kernel_name());
    test_f64();
    free(generic);
    free(avx2);
    free(avx512);
    free(mine);
    return check_done();
}
