/* session_device.cuh — what the GPU's method code (score.cu, adaneg.cu,
 * oodd.cu) shares to run a session on one device: the error macros that
 * name the device and the step, leaving the device, a stream with a
 * cuBLAS handle on it in true fp64 (and its end), and an indexed row copy.
 * Included by those .cu files only. */
#ifndef NEGLABEL_SESSION_DEVICE_CUH
#define NEGLABEL_SESSION_DEVICE_CUH
#include "cuda/cublas_load.h"
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "util.h"
}
#include "neglabel.h"

/* Both macros need `index` (the device, for the message) and a `done:` label. */
#define CUDA_TRY(call, what)                                                                          \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            nli_seterr_code(e_ == cudaErrorMemoryAllocation ? NL_ERR_NOMEM : NL_ERR_DEVICE,             \
                           "cuda:%d: %s: %s", index, what, cudaGetErrorString(e_));                    \
            goto done;                                                                                \
        }                                                                                             \
    } while (0)

#define CUBLAS_TRY(call, what)                                                                        \
    do {                                                                                              \
        cublasStatus_t s_ = (call);                                                                   \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                            \
            nli_seterr_code(s_ == CUBLAS_STATUS_ALLOC_FAILED ? NL_ERR_NOMEM : NL_ERR_DEVICE,           \
                           "cuda:%d: %s: %s (cuBLAS status %d)", index, what,                         \
                           nli_cublas.GetStatusString(s_), (int)s_);                                  \
            goto done;                                                                                \
        }                                                                                             \
    } while (0)

static inline void device_leave(int index, int prev) {
    if (prev >= 0 && prev != index && cudaSetDevice(prev) != cudaSuccess) (void)cudaGetLastError();
}

/* A stream and a cuBLAS handle on it (default math: true fp64). The caller
 * destroys both, also after a failure here (either may be left NULL). */
static inline int open_blas(int index, cudaStream_t *st, cublasHandle_t *h) {
    CUDA_TRY(cudaStreamCreateWithFlags(st, cudaStreamNonBlocking), "creating a stream");
    CUBLAS_TRY(nli_cublas.Create(h), "creating the cuBLAS handle");
    CUBLAS_TRY(nli_cublas.SetStream(*h, *st), "setting the cuBLAS stream");
    CUBLAS_TRY(nli_cublas.SetMathMode(*h, CUBLAS_DEFAULT_MATH), "setting the cuBLAS math mode");
    return 0;
done:
    return -1;
}

/* Undo open_blas (either may be NULL): the stream's work finished first. */
static inline void close_blas(cudaStream_t st, cublasHandle_t h) {
    if (h) nli_cublas.Destroy(h);
    if (st) {
        cudaStreamSynchronize(st);
        cudaStreamDestroy(st);
    }
}
#define COPY_ROWS_THREADS 256

/* dst[dst_idx[j]] <- src[src_idx ? src_idx[j] : j], rows of len 4-byte
 * words (a double is two), for j < n. */
static __global__ void k_copy_rows(const uint32_t *__restrict__ src, const int *__restrict__ src_idx,
                                   const int *__restrict__ dst_idx, int n, int len, uint32_t *__restrict__ dst) {
    const size_t t = (size_t)blockIdx.x * COPY_ROWS_THREADS + threadIdx.x;
    if (t >= (size_t)n * len) return;
    const size_t j = t / len, k = t % len;
    const size_t from = src_idx ? (size_t)src_idx[j] : j;
    dst[(size_t)dst_idx[j] * len + k] = src[from * len + k];
}

/* Blocks of COPY_ROWS_THREADS for k_copy_rows over n rows of len words
 * (the launch itself stays in the .cu files, which the emulator rewrites). */
static inline unsigned copy_rows_blocks(size_t n, size_t len) {
    return (unsigned)((n * len + COPY_ROWS_THREADS - 1) / COPY_ROWS_THREADS);
}
#endif
