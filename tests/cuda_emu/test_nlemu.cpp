/* test_nlemu.cpp — the CUDA emulator's own checks (built and run in
 * NEGLABEL_CUDA=EMU builds, ctest label gpu): what the GPU tests rely on it to
 * model must hold, and what it promises to catch must be caught.
 *   - mma.sync m16n8k16 (f16 and bf16) equals the matrix product, with the
 *     fragments loaded as the PTX ISA lays them out;
 *   - fp16/bf16 conversions: round to nearest even, overflow, subnormals, NaN;
 *   - shuffles and __syncthreads_or;
 *   - launch limits fail as on the device; the opt-in shared memory works;
 *   - streams are lazy; pageable copies snapshot their source;
 *   - the memory budget; operands outside an allocation and barrier deadlocks
 *     stop the process (checked in a child);
 *   - the thread order between barriers changes from phase to phase, so a
 *     racy kernel's result changes with the seed;
 *   - two devices: the current device per host thread, memory, streams,
 *     events and cuBLAS handles tied to theirs, cross-device misuse caught. */
#include "nlemu.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures = 0, passes = 0;
#define CHECK(cond, ...)                                                                                  \
    do {                                                                                                  \
        if (cond) passes++;                                                                               \
        else {                                                                                            \
            failures++;                                                                                   \
            printf("%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond);                                     \
            printf(__VA_ARGS__);                                                                          \
            printf("\n");                                                                                 \
        }                                                                                                 \
    } while (0)

/* ------------------------------------------------------------ mma */

static float A[16][16], B[16][8], C[16][8];

static uint16_t to16(float f, int bf) {
    return bf ? __bfloat16_as_ushort(__float2bfloat16_rn(f)) : __half_as_ushort(__float2half_rn(f));
}

__global__ void mma_kernel(int bf) {
    int lane = threadIdx.x, g = lane >> 2, tig = lane & 3;
    auto p = [bf](float lo, float hi) { return (uint32_t)to16(lo, bf) | ((uint32_t)to16(hi, bf) << 16); };
    uint32_t a[4] = {p(A[g][tig * 2], A[g][tig * 2 + 1]), p(A[g + 8][tig * 2], A[g + 8][tig * 2 + 1]),
                     p(A[g][tig * 2 + 8], A[g][tig * 2 + 9]), p(A[g + 8][tig * 2 + 8], A[g + 8][tig * 2 + 9])};
    uint32_t b0 = p(B[tig * 2][g], B[tig * 2 + 1][g]), b1 = p(B[tig * 2 + 8][g], B[tig * 2 + 9][g]);
    float c[4] = {1, 2, 3, 4}; /* D = A B + C */
    nlemu::mma16816(c, a, b0, b1, bf);
    C[g][tig * 2] = c[0] - 1;
    C[g][tig * 2 + 1] = c[1] - 2;
    C[g + 8][tig * 2] = c[2] - 3;
    C[g + 8][tig * 2 + 1] = c[3] - 4;
}

static void test_mma(void) {
    for (int bf = 0; bf < 2; bf++) {
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) A[i][j] = (float)((i * 7 + j * 3) % 11 - 5);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++) B[i][j] = (float)((i * 5 + j * 9) % 13 - 6);
        nlemu::launch_kernel(mma_kernel, 1, 32, 0, 0, bf);
        cudaDeviceSynchronize();
        double worst = 0;
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++) {
                double r = 0;
                for (int k = 0; k < 16; k++) r += A[i][k] * B[k][j];
                worst = fmax(worst, fabs(r - C[i][j]));
            }
        CHECK(worst == 0, "mma %s: worst difference %g", bf ? "bf16" : "f16", worst);
    }
}

/* ------------------------------------------------------------ conversions */

static void test_conversions(void) {
    struct { float f; uint16_t h; } hs[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff}, {65519.99f, 0x7bff}, {65520.0f, 0x7c00},
        {1e9f, 0x7c00}, {5.9604644775390625e-8f, 0x0001}, {2.98023223876953125e-8f, 0x0000}, /* tie to even: 0 */
        {8.940696716308594e-8f, 0x0002},                                                       /* 1.5 ulp -> 2 */
        {6.103515625e-5f, 0x0400}, {1.0009765625f, 0x3c01}, {1.00048828125f, 0x3c00},          /* tie -> even */
        {1.00146484375f, 0x3c02}, {INFINITY, 0x7c00}, {-0.0f, 0x8000}};
    for (auto &t : hs) {
        uint16_t h = __half_as_ushort(__float2half_rn(t.f));
        CHECK(h == t.h, "half(%.10g) = %04x, want %04x", t.f, h, t.h);
    }
    CHECK(isnan(__half2float(__float2half_rn(NAN))), "half(NaN) is not NaN");
    for (uint32_t h = 0; h < 0x7c00; h++) { /* every finite positive half round-trips */
        float f = __half2float(__ushort_as_half((uint16_t)h));
        if (__half_as_ushort(__float2half_rn(f)) != h) {
            CHECK(0, "half %04x -> %g does not round-trip", h, f);
            break;
        }
    }
    struct { float f; uint16_t b; } bs[] = {{1.0f, 0x3f80}, {1.00390625f, 0x3f80}, {1.01171875f, 0x3f82},
                                           {3.0e38f, 0x7f62}, {-1.5f, 0xbfc0}};
    for (auto &t : bs) {
        uint16_t b = __bfloat16_as_ushort(__float2bfloat16_rn(t.f));
        CHECK(b == t.b, "bf16(%.10g) = %04x, want %04x", t.f, b, t.b);
    }
    CHECK(isnan(__bfloat162float(__float2bfloat16_rn(NAN))), "bf16(NaN) is not NaN");
}

/* ------------------------------------------------------------ warps, blocks */

__global__ void shfl_kernel(int *out) {
    int lane = threadIdx.x & 31;
    double v = lane;
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int from7 = __shfl_sync(0xffffffffu, lane * 10, 7);
    int any = __syncthreads_or(threadIdx.x == 77);
    int none = __syncthreads_or(0);
    out[threadIdx.x] = (int)v * 1000000 + from7 * 100 + any * 10 + none;
}

static void test_warps(void) {
    int *d, h[128];
    cudaMalloc((void **)&d, sizeof h);
    nlemu::launch_kernel(shfl_kernel, 1, 128, 0, 0, d);
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int i = 0; i < 128; i++) bad += h[i] != 496 * 1000000 + 70 * 100 + 10;
    CHECK(!bad, "shuffles / __syncthreads_or: %d threads wrong (thread 0: %d)", bad, h[0]);
    cudaFree(d);
}

/* Each thread writes 4 KiB further into dynamic shared memory. */
__global__ void smem_kernel(int *out) {
    int *s = (int *)nlemu::dyn_smem();
    s[threadIdx.x * 1024] = (int)threadIdx.x;
    __syncthreads();
    if (threadIdx.x == 0) out[0] = s[1024 * (blockDim.x - 1)];
}

static void test_launch_limits(void) {
    int *d, h = -1;
    const size_t need = 15 * 4096 + 4; /* 16 threads: 60 KiB, over the default 48 */
    cudaMalloc((void **)&d, 4);
    cudaGetLastError();
    nlemu::launch_kernel(smem_kernel, 1, 1025, 0, 0, d);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "1025 threads were launched");
    nlemu::launch_kernel(smem_kernel, dim3(1, 65536), 32, 0, 0, d);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "grid.y 65536 was launched");
    nlemu::launch_kernel(smem_kernel, 1, 16, (size_t)256 * 1024, 0, d);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue, "256 KiB of dynamic shared memory (over 227) was accepted");
    nlemu::launch_kernel(smem_kernel, 1, 16, need, 0, d);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue, "60 KiB without cudaFuncSetAttribute was accepted");
    CHECK(cudaFuncSetAttribute(smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024) == cudaSuccess,
          "cudaFuncSetAttribute failed");
    nlemu::launch_kernel(smem_kernel, 1, 16, need, 0, d);
    CHECK(cudaGetLastError() == cudaSuccess, "60 KiB with the attribute was refused");
    cudaMemcpy(&h, d, 4, cudaMemcpyDeviceToHost);
    CHECK(h == 15, "the 60 KiB kernel did not run: %d", h);
    nlemu::launch_kernel(smem_kernel, 1, 16, (size_t)210 * 1024, 0, d);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue, "210 KiB, over the attribute's 200, was accepted");
    /* a GPU older than the build's sm_80 code (NLEMU_CC): no kernel image */
    setenv("NLEMU_CC", "7.5", 1);
    int ma = 0, mi = 0;
    cudaDeviceGetAttribute(&ma, cudaDevAttrComputeCapabilityMajor, 0);
    cudaDeviceGetAttribute(&mi, cudaDevAttrComputeCapabilityMinor, 0);
    CHECK(ma == 7 && mi == 5, "NLEMU_CC=7.5 gives compute capability %d.%d", ma, mi);
    nlemu::launch_kernel(smem_kernel, 1, 16, 0, 0, d);
    CHECK(cudaGetLastError() == cudaErrorNoKernelImageForDevice, "a kernel was launched on a 7.5 device");
    setenv("NLEMU_CC", "8.0", 1);
    nlemu::launch_kernel(smem_kernel, 1, 16, 0, 0, d);
    CHECK(cudaGetLastError() == cudaSuccess, "a kernel was refused on an 8.0 device");
    unsetenv("NLEMU_CC");
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    CHECK(p.major == 9 && p.minor == 0, "default compute capability %d.%d, not 9.0", p.major, p.minor);
    cudaDeviceSynchronize();
    cudaFree(d);
}

/* ------------------------------------------------------------ streams */

__global__ void add_kernel(float *x, float v) { x[threadIdx.x] += v; }

static void test_streams(void) {
    cudaStream_t st;
    CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) == cudaSuccess, "stream");
    float *pinned, *d, page[4] = {1, 2, 3, 4}, back[4] = {0};
    cudaHostAlloc((void **)&pinned, 16, cudaHostAllocDefault);
    cudaMalloc((void **)&d, 16);
    for (int i = 0; i < 4; i++) pinned[i] = 10;
    cudaMemcpyAsync(d, pinned, 16, cudaMemcpyHostToDevice, st);
    pinned[0] = 99; /* before the stream ran: the copy reads this */
    nlemu::launch_kernel(add_kernel, 1, 4, 0, st, d, 0.5f);
    cudaMemcpyAsync(pinned, d, 16, cudaMemcpyDeviceToHost, st);
    CHECK(pinned[1] == 10, "work ran before the host synchronised");
    cudaStreamSynchronize(st);
    CHECK(pinned[0] == 99.5f && pinned[1] == 10.5f, "lazy stream: %g %g", pinned[0], pinned[1]);
    cudaMemcpyAsync(d, page, 16, cudaMemcpyHostToDevice, st);
    page[0] = -1; /* pageable: the source was taken at the call */
    cudaMemcpyAsync(back, d, 16, cudaMemcpyDeviceToHost, st); /* pageable: complete on return */
    CHECK(back[0] == 1 && back[3] == 4, "pageable copies: %g %g", back[0], back[3]);
    cudaEvent_t ev;
    cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    nlemu::launch_kernel(add_kernel, 1, 4, 0, st, d, 1.0f);
    cudaEventRecord(ev, st);
    nlemu::launch_kernel(add_kernel, 1, 4, 0, st, d, 100.0f);
    cudaEventSynchronize(ev); /* runs up to the event only */
    float mid[4];
    memcpy(mid, d, 16); /* (the emulator's device memory is host memory) */
    CHECK(mid[0] == 2.0f, "event: %g, want 2 (the work after the event must not have run)", mid[0]);
    cudaStreamSynchronize(st);
    memcpy(mid, d, 16);
    CHECK(mid[0] == 102.0f, "after the stream: %g", mid[0]);
    cudaEventDestroy(ev);
    cudaFree(d);
    cudaFreeHost(pinned);
    cudaStreamDestroy(st);
}

static void test_memory(void) {
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    void *p = NULL;
    CHECK(cudaMalloc(&p, tot + 1) == cudaErrorMemoryAllocation && !p, "more than the budget was allocated");
    CHECK(cudaGetLastError() == cudaErrorMemoryAllocation, "the error was not recorded");
    CHECK(cudaGetLastError() == cudaSuccess, "the error was not cleared");
    CHECK(cudaMalloc(&p, 1 << 20) == cudaSuccess, "1 MiB");
    size_t fr2 = 0;
    cudaMemGetInfo(&fr2, &tot);
    CHECK(fr - fr2 == (1 << 20), "free memory went from %zu to %zu", fr, fr2);
    const unsigned char *b = (const unsigned char *)p;
    CHECK(b[0] == 0xff && b[(1 << 20) - 1] == 0xff, "fresh device memory is not 0xff");
    cudaFree(p);
}

/* ------------------------------------------------------------ devices */

/* Two devices (NLEMU_DEVICES=2): the current device is per host thread;
 * memory, streams, events and cuBLAS handles belong to the device current
 * when they were made; a launch into another device's stream and an event
 * recorded on another device's stream fail, as the CUDA Programming Guide
 * says they do. */
static void *other_thread_device(void *arg) {
    int d = -1;
    cudaGetDevice(&d);
    *(int *)arg = d; /* a new thread starts on device 0 */
    return NULL;
}

/* The last error is per host thread: another thread neither sees nor
 * clears it. */
static void *other_thread_error(void *arg) {
    cudaError_t *e = (cudaError_t *)arg;
    e[0] = cudaPeekAtLastError();
    e[1] = cudaSetDevice(-1);
    e[2] = cudaGetLastError();
    return NULL;
}

static void test_error_per_thread(void) {
    cudaGetLastError();
    CHECK(cudaSetDevice(99) == cudaErrorInvalidDevice, "device 99 was accepted");
    cudaError_t e[3] = {cudaErrorLaunchFailure, cudaErrorLaunchFailure, cudaErrorLaunchFailure};
    pthread_t t;
    pthread_create(&t, NULL, other_thread_error, e);
    pthread_join(t, NULL);
    CHECK(e[0] == cudaSuccess, "another thread sees this thread's error (%d)", (int)e[0]);
    CHECK(e[1] == cudaErrorInvalidDevice && e[2] == cudaErrorInvalidDevice, "the other thread's own error: %d %d",
          (int)e[1], (int)e[2]);
    CHECK(cudaPeekAtLastError() == cudaErrorInvalidDevice, "another thread cleared this thread's error");
    CHECK(cudaGetLastError() == cudaErrorInvalidDevice && cudaGetLastError() == cudaSuccess, "not cleared");
}

static void test_devices(void) {
    setenv("NLEMU_DEVICES", "2", 1);
    int n = 0, d = -1;
    CHECK(cudaGetDeviceCount(&n) == cudaSuccess && n == 2, "2 devices: %d", n);
    CHECK(cudaSetDevice(2) == cudaErrorInvalidDevice, "device 2 of 2 was accepted");
    cudaGetLastError();
    CHECK(cudaSetDevice(1) == cudaSuccess && cudaGetDevice(&d) == cudaSuccess && d == 1, "set device 1: %d", d);
    pthread_t t;
    int td = -1;
    pthread_create(&t, NULL, other_thread_device, &td);
    pthread_join(t, NULL);
    CHECK(td == 0, "another thread sees device %d, not 0", td);
    size_t f0, f1, tot;
    cudaMemGetInfo(&f1, &tot);
    float *d1;
    cudaStream_t s1;
    cudaEvent_t e1;
    cudaMalloc((void **)&d1, 1 << 20);
    cudaStreamCreate(&s1);
    cudaEventCreate(&e1);
    size_t f1b;
    cudaMemGetInfo(&f1b, &tot);
    cudaSetDevice(0);
    cudaMemGetInfo(&f0, &tot);
    CHECK(f1 - f1b == (1 << 20) && f0 == tot, "budgets: device 1 %zu -> %zu, device 0 free %zu of %zu", f1, f1b, f0,
          tot);
    nlemu::launch_kernel(add_kernel, 1, 4, 0, s1, d1, 1.0f);
    CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle, "a launch into device 1's stream from device 0 ran");
    cudaEvent_t e0;
    cudaEventCreate(&e0);
    CHECK(cudaEventRecord(e0, s1) == cudaErrorInvalidResourceHandle, "device 0's event recorded on device 1's stream");
    cudaGetLastError();
    /* a copy into another device's stream succeeds (the guide says so) */
    float h[4] = {1, 2, 3, 4};
    CHECK(cudaMemcpyAsync(d1, h, 16, cudaMemcpyHostToDevice, s1) == cudaSuccess, "copy on device 1's stream");
    cudaSetDevice(1);
    nlemu::launch_kernel(add_kernel, 1, 4, 0, s1, d1, 1.0f);
    CHECK(cudaGetLastError() == cudaSuccess, "a launch on device 1 from device 1 failed");
    CHECK(cudaEventRecord(e1, s1) == cudaSuccess, "device 1's event on device 1's stream");
    cudaStreamSynchronize(s1);
    CHECK(d1[0] == 2.0f && d1[3] == 5.0f, "device 1 kernel: %g %g", d1[0], d1[3]);
    cudaEventDestroy(e1);
    cudaStreamDestroy(s1);
    cudaFree(d1);
    cudaSetDevice(0);
    cudaEventDestroy(e0);
}

/* a cuBLAS handle of device 1 called while device 0 is current */
static void run_handle_other_device(void) {
    setenv("NLEMU_DEVICES", "2", 1);
    float *a, *b, *c, one = 1, zero = 0;
    cudaMalloc((void **)&a, 64);
    cudaMalloc((void **)&b, 64);
    cudaMalloc((void **)&c, 64);
    cudaSetDevice(1);
    cublasHandle_t h;
    cublasCreate(&h);
    cudaSetDevice(0);
    cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, a, CUDA_R_32F, 4, b, CUDA_R_32F, 4, &zero, c, CUDA_R_32F,
                 4, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT);
}

/* a GEMM on device 1 whose operand B is device 0's memory */
static void run_operand_other_device(void) {
    setenv("NLEMU_DEVICES", "2", 1);
    float *a, *b, *c, one = 1, zero = 0;
    cudaMalloc((void **)&b, 64);
    cudaSetDevice(1);
    cudaMalloc((void **)&a, 64);
    cudaMalloc((void **)&c, 64);
    cublasHandle_t h;
    cublasCreate(&h);
    cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, a, CUDA_R_32F, 4, b, CUDA_R_32F, 4, &zero, c, CUDA_R_32F,
                 4, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT);
}

/* ------------------------------------------------------------ what stops */

/* fn in a child: it must die of abort() with `want` in its stderr */
static void expect_abort(const char *what, void (*fn)(void), const char *want) {
    int fd[2];
    if (pipe(fd) != 0) return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn();
        _exit(0);
    }
    close(fd[1]);
    char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    buf[n] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, want), "%s: status %d, stderr: %.300s",
          what, status, buf);
}

/* A shuffle inside a branch half of each warp skips: the shuffling lanes
 * wait for partners that sit at __syncthreads (a hang on a GPU). (Threads
 * that have exited do not count at __syncthreads, as on Volta and later.) */
__global__ void divergent_kernel(void) {
    int v = (int)threadIdx.x;
    if ((threadIdx.x & 31) < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    __syncthreads();
}
__global__ void exited_lane_kernel(int *x) {
    if (threadIdx.x == 3) return;
    x[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 1);
}
static void run_divergent(void) {
    nlemu::launch_kernel(divergent_kernel, 1, 64, 0, 0);
    cudaDeviceSynchronize();
}
static void run_exited_lane(void) {
    int *d;
    cudaMalloc((void **)&d, 128);
    nlemu::launch_kernel(exited_lane_kernel, 1, 32, 0, 0, d);
    cudaDeviceSynchronize();
}
static void run_copy_past_end(void) {
    void *d;
    char h[64];
    cudaMalloc(&d, 32);
    cudaMemcpy(h, d, 64, cudaMemcpyDeviceToHost);
}
static void run_gemm_past_end(void) {
    float *a, *b, *c, one = 1, zero = 0;
    cudaMalloc((void **)&a, 4 * 4 * 4);
    cudaMalloc((void **)&b, 4 * 4 * 4);
    cudaMalloc((void **)&c, 4 * 3 * 4); /* 4 x 4 wanted */
    cublasHandle_t h;
    cublasCreate(&h);
    cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, a, CUDA_R_32F, 4, b, CUDA_R_32F, 4, &zero, c, CUDA_R_32F,
                 4, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT);
}

/* ------------------------------------------------------------ order */

__global__ void racy_kernel(int *out) {
    __shared__ int s[64];
    s[threadIdx.x] = (int)threadIdx.x + 1;
    /* missing __syncthreads: reading a neighbour's slot races with its write */
    int v = s[(threadIdx.x + 1) % 64];
    __syncthreads();
    s[threadIdx.x] = 0;
    __syncthreads();
    out[threadIdx.x] = v;
}

static void test_order(void) {
    int *d, h[64];
    cudaMalloc((void **)&d, sizeof h);
    int distinct = 0, first[64];
    for (int run = 0; run < 4; run++) {
        nlemu::launch_kernel(racy_kernel, 1, 64, 0, 0, d);
        cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
        if (run == 0) memcpy(first, h, sizeof h);
        else distinct += memcmp(first, h, sizeof h) != 0;
    }
    CHECK(distinct > 0, "a racy kernel gave the same result in 4 runs: thread order never changes");
    cudaFree(d);
}

int main(void) {
    test_mma();
    test_conversions();
    test_warps();
    test_launch_limits();
    test_streams();
    test_memory();
    test_order();
    test_error_per_thread();
    test_devices();
    unsetenv("NLEMU_DEVICES");
    expect_abort("a shuffle that half of each warp skips", run_divergent, "threads wait at different barriers");
    expect_abort("a shuffle with an exited lane", run_exited_lane, "exited lanes");
    expect_abort("a copy past the end of an allocation", run_copy_past_end, "run past its end");
    expect_abort("a GEMM whose C is too small", run_gemm_past_end, "cublasGemmEx operand C: 64 bytes");
    expect_abort("a cuBLAS handle of device 1 called on device 0", run_handle_other_device,
                 "a handle of device 1 used while device 0 is current");
    expect_abort("a GEMM on device 1 with device 0's memory", run_operand_other_device,
                 "operand B is memory of device 0, the handle's device is 1");
    printf("%d passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}
