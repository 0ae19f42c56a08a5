/* cublas_load.h — cuBLAS as the CUDA sources call it (private): through a
 * table of functions, filled when a GPU is first used (cublas_load.cu).
 *
 * The library is not linked with libcublas: a process that never uses a
 * GPU never maps it (libcublasLt alone is ~540 MB, and mapping it touched
 * ~180 MB of relocated pages at every start), and a CUDA build starts, and
 * runs on the CPU, where cuBLAS is not installed. nli_cuda_count() loads it
 * once it has found a GPU; a call through the table before a successful
 * nli_cublas_load() is a bug. In the emulator build (NLEMU) the table holds
 * the emulator's functions. */
#ifndef NEGLABEL_CUBLAS_LOAD_H
#define NEGLABEL_CUBLAS_LOAD_H
#include <cublas_v2.h>

#include "cuda_device.h" /* nli_cublas_load, nli_cublas_path */

/* member, cuBLAS function (cublas_v2.h makes some names macros for their
 * _v2 symbols), its type as the C library exports it (the loader checks it
 * against the header's declaration; C++ also sees an inline overload of
 * cublasGemmEx taking a cudaDataType compute type, which this picks out). */
#define NLI_CUBLAS_FUNCS(X)                                                                                 \
    X(Create, cublasCreate, cublasStatus_t(cublasHandle_t *))                                               \
    X(Destroy, cublasDestroy, cublasStatus_t(cublasHandle_t))                                               \
    X(SetStream, cublasSetStream, cublasStatus_t(cublasHandle_t, cudaStream_t))                             \
    X(SetMathMode, cublasSetMathMode, cublasStatus_t(cublasHandle_t, cublasMath_t))                         \
    X(GetStatusString, cublasGetStatusString, const char *(cublasStatus_t))                                 \
    X(GemmEx, cublasGemmEx,                                                                                 \
      cublasStatus_t(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,     \
                     const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *, \
                     cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t))                             \
    X(Dgemm, cublasDgemm,                                                                                   \
      cublasStatus_t(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const double *,   \
                     const double *, int, const double *, int, const double *, double *, int))

template <class T> using nli_fn_ptr = T *;
struct nli_cublas_fns {
#define NLI_CUBLAS_MEMBER(m, f, type) nli_fn_ptr<type> m;
    NLI_CUBLAS_FUNCS(NLI_CUBLAS_MEMBER)
#undef NLI_CUBLAS_MEMBER
};
extern struct nli_cublas_fns nli_cublas;
#endif
