/* cuda_util.h — error handling shared by the CUDA sources (private). Every
 * CUDA and cuBLAS call is checked; a failure sets the library's message
 * (nli_seterr) naming the call, and jumps to the function's cleanup. */
#ifndef NEGLABEL_CUDA_UTIL_H
#define NEGLABEL_CUDA_UTIL_H
#include "cublas_load.h"
#include <cuda_runtime.h>

#include "neglabel.h"

extern "C" {
#include "util.h"
}

/* cudaError_t -> message, with the usual causes spelled out. */
const char *nli_cuda_errstr(cudaError_t e);
const char *nli_cublas_errstr(cublasStatus_t s);

#define CUDA_TRY(call, label)                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        if (e_ != cudaSuccess) {                                                               \
            nli_seterr_code(e_ == cudaErrorMemoryAllocation ? NL_ERR_NOMEM : NL_ERR_DEVICE, "CUDA: %s: %s", #call, nli_cuda_errstr(e_));                              \
            goto label;                                                                        \
        }                                                                                      \
    } while (0)

#define CUBLAS_TRY(call, label)                                                                \
    do {                                                                                       \
        cublasStatus_t s_ = (call);                                                            \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                     \
            nli_seterr_code(s_ == CUBLAS_STATUS_ALLOC_FAILED ? NL_ERR_NOMEM : NL_ERR_DEVICE, "cuBLAS: %s: %s", #call, nli_cublas_errstr(s_));                          \
            goto label;                                                                        \
        }                                                                                      \
    } while (0)

/* After a kernel launch: launch errors (bad configuration, no device). */
#define LAUNCH_TRY(label) CUDA_TRY(cudaGetLastError(), label)

#endif
