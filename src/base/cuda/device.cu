/* device.cu — finding CUDA devices, and error messages for CUDA/cuBLAS. */
#include "cuda_util.h"
#include "cuda_device.h"

#include <stdio.h>

const char *nli_cuda_errstr(cudaError_t e) {
    switch (e) {
    case cudaErrorNoDevice: return "no CUDA-capable GPU is visible (cudaErrorNoDevice)";
    case cudaErrorInsufficientDriver:
        return "the NVIDIA driver is missing or older than this build's CUDA 13 runtime (cudaErrorInsufficientDriver)";
    case cudaErrorMemoryAllocation: return "out of GPU memory (cudaErrorMemoryAllocation)";
    case cudaErrorInvalidDevice: return "no such CUDA device (cudaErrorInvalidDevice)";
    case cudaErrorNoKernelImageForDevice:
        return "this build has no machine code or PTX for the GPU's architecture (cudaErrorNoKernelImageForDevice)";
    default: return cudaGetErrorString(e);
    }
}

const char *nli_cublas_errstr(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS could not initialise (driver or library missing)";
    case CUBLAS_STATUS_ALLOC_FAILED: return "out of GPU memory";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "operation not supported on this GPU";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "kernel execution failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "operation not supported";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    default: return "unknown cuBLAS error";
    }
}

extern "C" int nli_cuda_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky-free error state */
        nli_seterr_code(NL_ERR_DEVICE, "no usable CUDA device: %s", nli_cuda_errstr(e));
        return 0;
    }
    if (n == 0) {
        nli_seterr_code(NL_ERR_DEVICE, "no usable CUDA device: the driver reports none");
        return 0;
    }
    if (nli_cublas_load() != 0) {
        char why[1600];
        snprintf(why, sizeof why, "%s", nli_geterr());
        nli_seterr_code(NL_ERR_DEVICE, "no usable CUDA device: %d GPU%s found, but %s", n, n == 1 ? "" : "s", why);
        return 0;
    }
    return n;
}

int nli_cuda_select(int index, int *prev) {
    int n = nli_cuda_count();
    if (n == 0) return -1;
    if (index < 0 || index >= n) {
        nli_seterr("cuda:%d: no such device (%d CUDA device%s: cuda:0%s)", index, n, n == 1 ? "" : "s",
                  n > 1 ? " to cuda:N-1" : "");
        return -1;
    }
    *prev = 0;
    cudaGetDevice(prev);
    cudaError_t e = cudaSetDevice(index);
    if (e != cudaSuccess) {
        nli_seterr_code(NL_ERR_DEVICE, "cuda:%d: %s", index, nli_cuda_errstr(e));
        return -1;
    }
    return 0;
}

extern "C" int nli_cuda_describe(int index, char *name, size_t cap, size_t *free_bytes, size_t *total_bytes,
                                int *cc_major, int *cc_minor) {
    int prev;
    if (nli_cuda_select(index, &prev) != 0) return -1;
    cudaDeviceProp p;
    int rc = -1;
    CUDA_TRY(cudaGetDeviceProperties(&p, index), out);
    snprintf(name, cap, "%s", p.name);
    *cc_major = p.major;
    *cc_minor = p.minor;
    CUDA_TRY(cudaMemGetInfo(free_bytes, total_bytes), out);
    rc = 0;
out:
    cudaSetDevice(prev);
    return rc;
}
