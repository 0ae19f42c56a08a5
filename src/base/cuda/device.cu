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

/* The driver's devices; 0 with the reason when none. */
static int driver_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky-free error state */
        nli_seterr_code(NL_ERR_DEVICE, "no usable CUDA device: %s", nli_cuda_errstr(e));
        return 0;
    }
    if (n == 0) nli_seterr_code(NL_ERR_DEVICE, "no usable CUDA device: the driver reports none");
    return n;
}

extern "C" int nli_cuda_count(void) {
    int n = driver_count();
    if (n == 0) return 0;
    if (nli_cublas_load() != 0) {
        char why[1600];
        snprintf(why, sizeof why, "%s", nli_geterr());
        nli_seterr_code(NL_ERR_DEVICE, "no usable CUDA device: %d GPU%s found, but %s", n, n == 1 ? "" : "s", why);
        return 0;
    }
    return n;
}

/* The oldest GPU the kernels run on: compute capability 8.0. They use
 * mma.sync on bf16 and other sm_80 instructions; the build carries sm_80
 * machine code (which every 8.x GPU runs), sm_90's, and sm_90 PTX that
 * later GPUs compile. A T4 (7.5) or V100 (7.0) has nothing to run. */
#define NLI_CUDA_MIN_CC 80

extern "C" int nli_cuda_supported(int index) {
    int ma = 0, mi = 0;
    cudaError_t e = cudaDeviceGetAttribute(&ma, cudaDevAttrComputeCapabilityMajor, index);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&mi, cudaDevAttrComputeCapabilityMinor, index);
    if (e != cudaSuccess) {
        cudaGetLastError();
        nli_seterr_code(NL_ERR_DEVICE, "cuda:%d: cannot read its compute capability: %s", index, nli_cuda_errstr(e));
        return -1;
    }
    if (ma * 10 + mi >= NLI_CUDA_MIN_CC) return 0;
    cudaDeviceProp p;
    const char *name = "";
    if (cudaGetDeviceProperties(&p, index) == cudaSuccess) name = p.name;
    else cudaGetLastError();
    nli_seterr_code(NL_ERR_UNSUPPORTED,
                    "cuda:%d%s%s%s has compute capability %d.%d; this build's GPU kernels need %d.%d or newer (A100, "
                    "A10, L4, RTX 30xx/40xx, H100 and later)",
                    index, *name ? " (" : "", name, *name ? ")" : "", ma, mi, NLI_CUDA_MIN_CC / 10,
                    NLI_CUDA_MIN_CC % 10);
    return -1;
}

extern "C" int nli_cuda_auto(int *index, int warn) {
    int n = driver_count();
    if (n == 0) return 0;
    char first[1024] = "";
    for (int i = 0; i < n; i++) {
        if (nli_cuda_supported(i) == 0) {
            if (nli_cuda_count() == 0) goto cpu; /* cuBLAS missing: the reason is set */
            *index = i;
            return 1;
        }
        if (!*first) snprintf(first, sizeof first, "%s", nli_geterr());
    }
    if (n == 1) nli_seterr_code(NL_ERR_UNSUPPORTED, "no usable CUDA device: %s", first);
    else nli_seterr_code(NL_ERR_UNSUPPORTED, "no usable CUDA device: none of the %d GPUs is supported: %s", n, first);
cpu:; /* GPUs, but none to run on: say so (a machine without any stays quiet) */
    static int warned; /* once per process: every AUTO decision comes here */
    if (warn && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        nli_log(NL_LOG_WARN, "%s; running on the CPU", nli_geterr());
    return 0;
}

/* Check index (and, with need_supported, that the kernels run there), make
 * it current; *prev receives the device that was current. */
static int enter(int index, int *prev, int need_supported) {
    int n = nli_cuda_count();
    if (n == 0) return -1;
    if (index < 0 || index >= n) {
        nli_seterr("cuda:%d: no such device (%d CUDA device%s: cuda:0%s)", index, n, n == 1 ? "" : "s",
                  n > 1 ? " to cuda:N-1" : "");
        return -1;
    }
    if (need_supported && nli_cuda_supported(index) != 0) return -1;
    *prev = 0;
    if (cudaGetDevice(prev) != cudaSuccess) cudaGetLastError();
    cudaError_t e = cudaSetDevice(index);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* leave no error behind for the next caller */
        nli_seterr_code(NL_ERR_DEVICE, "cuda:%d: %s", index, nli_cuda_errstr(e));
        return -1;
    }
    return 0;
}

int nli_cuda_select(int index, int *prev) { return enter(index, prev, 1); }

extern "C" int nli_cuda_describe(int index, char *name, size_t cap, size_t *free_bytes, size_t *total_bytes,
                                int *cc_major, int *cc_minor) {
    int prev;
    if (enter(index, &prev, 0) != 0) return -1; /* also an unsupported GPU */
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
