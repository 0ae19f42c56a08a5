/* nlemu.h — a CPU emulator of the parts of CUDA and cuBLAS that neglabel's
 * CUDA backend uses, so that the backend's own code (the .cu files of src/<layer>/cuda:
 * kernels, launch configurations, buffer sizes, stream order, cuBLAS
 * operand shapes, the out-of-memory retry) runs and is tested on machines
 * without a GPU. Test-only: `cmake -DNEGLABEL_CUDA=EMU` builds the backend
 * with the host C++ compiler against these headers (tests/cuda_emu/
 * unlaunch.py turns `k<<<g, b, s, st>>>(...)` into a call the emulator
 * understands). Never shipped, and it proves nothing about speed.
 *
 * What it models, and checks:
 *  - every CUDA thread of a block is a fiber; blocks run one after another.
 *    __syncthreads, __syncwarp, shuffles and mma.sync are real barriers
 *    among those fibers, so a barrier not reached by every thread it needs
 *    (divergence, an exited lane) stops the process with a message, as the
 *    hardware would hang or misbehave. Threads that have exited do not
 *    count at __syncthreads (as on Volta and later). Between two barriers
 *    the threads run in a new pseudo-random order each time
 *    (NLEMU_ORDER=linear: by index; NLEMU_SEED), so a kernel whose result
 *    depends on the order, a race, gives results that differ;
 *  - mma.sync.m16n8k16 (f16/bf16 in, f32 accumulate) and ldmatrix (.x4,
 *    .trans) from the fragment layouts of the PTX ISA, independently of
 *    the kernels that use them;
 *  - launches: more than 1024 threads, grid.y/z over 65535, dynamic shared
 *    memory over 48 KiB without cudaFuncSetAttribute, or over the device's
 *    opt-in limit, fail as on the device (cudaGetLastError);
 *  - streams execute lazily: work queued on a stream runs only when the host
 *    synchronises on it (stream, event, device, or a synchronous copy), the
 *    worst timing a real GPU may show. A host buffer rewritten before the
 *    copy that reads it has run gives wrong results here, as it could there.
 *    Copies from pageable memory snapshot their source at the call and
 *    copies into pageable memory complete before returning, as CUDA does;
 *  - device memory: a budget (NLEMU_MEM_BYTES, default 16 GiB) that
 *    cudaMalloc fails beyond; every copy and cuBLAS operand must lie inside
 *    one live allocation of the right kind;
 *  - dynamic shared memory and fresh cudaMalloc memory are filled with 0xff
 *    bytes (NaN as floats and doubles), so reading what was never written
 *    shows;
 *  - the current device and the last error (cudaGetLastError) are per host
 *    thread, as in CUDA: a thread does not see, or clear, another's error.
 *  - compute capability: NLEMU_CC, one "major.minor" per device separated
 *    by commas, the last repeated (default 9.0); kernels launched on a
 *    device older than 8.0 fail with cudaErrorNoKernelImageForDevice, as
 *    this build's sm_80/sm_90 code and sm_90 PTX do on a real one.
 * Environment: NLEMU_DEVICES (default 1; 0 = no device), NLEMU_CC. */
#ifndef NLEMU_H
#define NLEMU_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInsufficientDriver = 35,
    cudaErrorInvalidDevice = 101,
    cudaErrorNoDevice = 100,
    cudaErrorNoKernelImageForDevice = 209,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorLaunchFailure = 719
} cudaError_t;

typedef enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
} cudaMemcpyKind;

typedef struct nlemu_stream *cudaStream_t;
typedef struct nlemu_event *cudaEvent_t;

#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00

typedef struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
    int major, minor;
    int multiProcessorCount;
} cudaDeviceProp;

typedef enum cudaDeviceAttr {
    cudaDevAttrMaxSharedMemoryPerBlock = 8,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76,
    cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97
} cudaDeviceAttr;

typedef enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 } cudaFuncAttribute;

typedef enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType_t;
typedef cudaDataType_t cudaDataType;

cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaGetDevice(int *d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d);
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int d);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);

cudaError_t cudaMalloc(void **p, size_t n);
cudaError_t cudaFree(void *p);
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags);
cudaError_t cudaMallocHost(void **p, size_t n);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind k);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind k, cudaStream_t st);
cudaError_t cudaMemset(void *p, int v, size_t n);

cudaError_t cudaStreamCreate(cudaStream_t *st);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t st);
cudaError_t cudaStreamSynchronize(cudaStream_t st);
cudaError_t cudaEventCreate(cudaEvent_t *ev);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t ev);
cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t st);
cudaError_t cudaEventSynchronize(cudaEvent_t ev);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b);

/* (cudaFuncSetAttribute takes the kernel as a pointer; see below.) */
cudaError_t nlemu_func_set_attribute(const void *func, cudaFuncAttribute a, int v);

/* ---- cuBLAS (the calls neglabel makes) ---- */
typedef struct nlemu_blas *cublasHandle_t;
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2, CUBLAS_TF32_TENSOR_OP_MATH = 3 } cublasMath_t;
typedef enum {
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    CUBLAS_COMPUTE_64F = 70
} cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;

cublasStatus_t cublasCreate(cublasHandle_t *h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t st);
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m);
const char *cublasGetStatusString(cublasStatus_t s);
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B,
                            cudaDataType bt, int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                            cublasComputeType_t comp, cublasGemmAlgo_t algo);
cublasStatus_t cublasDgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double *alpha, const double *A, int lda, const double *B, int ldb,
                           const double *beta, double *C, int ldc);

#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
/* ------------------------------------------------------- device side */
#include <math.h>
#include <string.h>

#include <functional>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
/* Static shared memory: one copy, shared by the fibers of the running
 * block (blocks run one at a time, under the emulator's lock). */
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint3 {
    unsigned x, y, z;
};
struct alignas(8) uint2 {
    unsigned x, y;
};
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};

extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

/* 16-bit floats: storage plus round-to-nearest-even conversions. */
struct __half {
    uint16_t x;
};
struct __nv_bfloat16 {
    uint16_t x;
};
static inline uint32_t nlemu_f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float nlemu_u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float __uint_as_float(uint32_t u) { return nlemu_u2f(u); }
static inline uint32_t __float_as_uint(float f) { return nlemu_f2u(f); }
float __half2float(__half h);
__half __float2half_rn(float f);
static inline float __bfloat162float(__nv_bfloat16 b) { return nlemu_u2f((uint32_t)b.x << 16); }
__nv_bfloat16 __float2bfloat16_rn(float f);
static inline __half __ushort_as_half(uint16_t v) { return __half{v}; }
static inline uint16_t __half_as_ushort(__half h) { return h.x; }
static inline uint16_t __bfloat16_as_ushort(__nv_bfloat16 b) { return b.x; }

static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline long long __double_as_longlong(double d) {
    long long v;
    memcpy(&v, &d, 8);
    return v;
}
static inline double __longlong_as_double(long long v) {
    double d;
    memcpy(&d, &v, 8);
    return d;
}
/* A thread runs alone until its next barrier (fibers), so a plain
 * read-modify-write is atomic here. */
static inline unsigned atomicAdd(unsigned *p, unsigned v) {
    unsigned o = *p;
    *p = o + v;
    return o;
}

namespace nlemu {
void sync_block(void);                 /* __syncthreads */
int sync_block_or(int pred);           /* __syncthreads_or */
void sync_warp(unsigned mask);         /* __syncwarp, and the halves of shuffles */
void *warp_slot(void);                 /* this warp's exchange area: 32 x 8 bytes */
int lane(void);
void *dyn_smem(void);
void mma16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1, int bf);
void ldmatrix_x4(uint32_t *r, const uint16_t *row, int trans); /* ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 */
void launch(const void *func, dim3 grid, dim3 block, size_t smem, cudaStream_t st, std::function<void()> body);

template <typename T> T shfl(unsigned mask, T v, int src) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    char(*slot)[8] = (char(*)[8])warp_slot();
    memcpy(slot[lane()], &v, sizeof(T));
    sync_warp(mask);
    T r;
    memcpy(&r, slot[src & 31], sizeof(T));
    sync_warp(mask);
    return r;
}

/* k<<<grid, block, smem, st>>>(args...): the arguments are converted to the
 * kernel's parameter types now (as CUDA copies them at the launch) and the
 * body runs later, when the stream is synchronised. */
template <typename... P, typename... A>
void launch_kernel(void (*k)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t st, A &&...a) {
    std::tuple<typename std::decay<P>::type...> args(std::forward<A>(a)...);
    launch((const void *)k, grid, block, smem, st, [k, args]() { std::apply(k, args); });
}
} // namespace nlemu

static inline void __syncthreads(void) { nlemu::sync_block(); }
static inline int __syncthreads_or(int p) { return nlemu::sync_block_or(p); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) { nlemu::sync_warp(mask); }
template <typename T> static inline T __shfl_xor_sync(unsigned mask, T v, int m) {
    return nlemu::shfl(mask, v, nlemu::lane() ^ m);
}
template <typename T> static inline T __shfl_sync(unsigned mask, T v, int src) { return nlemu::shfl(mask, v, src); }

template <typename F> static inline cudaError_t cudaFuncSetAttribute(F *func, cudaFuncAttribute a, int v) {
    return nlemu_func_set_attribute((const void *)func, a, v);
}
#endif /* __cplusplus */
#endif
