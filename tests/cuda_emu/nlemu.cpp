/* nlemu.cpp — the CUDA/cuBLAS emulator's runtime (see nlemu.h for what it
 * models and checks). Test-only code: a misuse of the API that a GPU would
 * punish unpredictably (an operand outside its allocation, a barrier some
 * threads never reach) stops the process here with a message. */
#include "nlemu.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

[[noreturn]] void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nlemu (CUDA emulator): ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    abort();
}

std::recursive_mutex mu;
#define LOCK std::lock_guard<std::recursive_mutex> lock_(mu)

const size_t OPTIN_SMEM = 232448; /* H100/H200: 227 KiB per block, opted in */
const size_t DEFAULT_SMEM = 48 * 1024;

cudaError_t last_error = cudaSuccess;
int current_device = 0;

int device_count(void) {
    const char *s = getenv("NLEMU_DEVICES");
    return s && *s ? atoi(s) : 1;
}

cudaError_t fail(cudaError_t e) {
    last_error = e;
    return e;
}

/* ------------------------------------------------------------ memory */

enum { DEVICE = 1, PINNED = 2 };
struct alloc {
    size_t size;
    int kind;
};
std::map<uintptr_t, alloc> allocs;
size_t device_used = 0;

size_t budget(void) {
    const char *s = getenv("NLEMU_MEM_BYTES");
    return s && *s ? (size_t)strtoull(s, NULL, 10) : (size_t)16 << 30;
}

/* The kind of the allocation that holds p, or 0 when none; one that holds p
 * but not all of [p, p + n) stops the process (what: the operand, for the
 * message). */
int kind_of(const void *p, size_t n, const char *what = "an operand") {
    uintptr_t a = (uintptr_t)p;
    auto it = allocs.upper_bound(a);
    if (it == allocs.begin()) return 0;
    --it;
    if (a < it->first || a - it->first >= it->second.size + (n == 0)) return 0;
    if (n > it->second.size - (a - it->first))
        fatal("%s: %zu bytes at offset %zu of a %zu-byte %s allocation run past its end", what, n,
              (size_t)(a - it->first), it->second.size, it->second.kind == DEVICE ? "device" : "pinned host");
    return it->second.kind;
}

void need_device(const void *p, size_t n, const char *what) {
    if (n && kind_of(p, n, what) != DEVICE) fatal("%s: %zu bytes at %p are not inside one device allocation", what, n, p);
}

/* ------------------------------------------------------------ streams */

struct op {
    uint64_t seq;
    std::function<void()> fn;
};

} // namespace

struct nlemu_stream {
    std::deque<op> q;
    uint64_t seq = 0;
};
struct nlemu_event {
    nlemu_stream *st = nullptr;
    uint64_t seq = 0;
    bool recorded = false, done = false;
    double t = 0;
};
struct nlemu_blas {
    nlemu_stream *st = nullptr;
};

namespace {

nlemu_stream legacy;
std::set<nlemu_stream *> streams;
std::set<nlemu_event *> events;
std::set<nlemu_blas *> handles;

nlemu_stream *stream_of(cudaStream_t st) {
    if (!st) return &legacy;
    if (!streams.count(st)) fatal("stream %p is not a live stream", (void *)st);
    return st;
}

void enqueue(nlemu_stream *s, std::function<void()> fn) { s->q.push_back(op{++s->seq, std::move(fn)}); }

/* Run the stream's work up to sequence number upto (all of it: UINT64_MAX). */
void drain(nlemu_stream *s, uint64_t upto = UINT64_MAX) {
    while (!s->q.empty() && s->q.front().seq <= upto) {
        op o = std::move(s->q.front());
        s->q.pop_front();
        o.fn();
    }
}

void drain_all(void) {
    drain(&legacy);
    for (nlemu_stream *s : streams) drain(s);
}

double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ fibers */

/* Context switch: ucontext's swapcontext saves the signal mask with a
 * system call each time, too slow for a switch at every shuffle; on x86-64
 * a few instructions (callee-saved registers, MXCSR and the x87 control
 * word, the stack pointer) do. Elsewhere ucontext. */
#if defined(__x86_64__)
extern "C" void nlemu_swap(void **save_sp, void *load_sp);
__asm__(".text\n"
        ".globl nlemu_swap\n"
        ".type nlemu_swap,@function\n"
        "nlemu_swap:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n  stmxcsr (%rsp)\n  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n  fldcw 4(%rsp)\n  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size nlemu_swap, .-nlemu_swap\n");
struct context {
    void *sp;
};
void fiber_entry(void);
void context_make(context *c, char *stack, size_t size) {
    uintptr_t top = ((uintptr_t)(stack + size) & ~(uintptr_t)15) - 16;
    void **sp = (void **)top; /* the return address sits at a 16-byte boundary, as after a call */
    *sp = (void *)fiber_entry;
    sp -= 6;                  /* rbp rbx r12 r13 r14 r15 */
    memset(sp, 0, 6 * sizeof(void *));
    sp -= 1;                  /* MXCSR and x87 control word, the current ones */
    uint32_t csr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    memcpy((char *)sp, &csr, 4);
    memcpy((char *)sp + 4, &cw, 2);
    c->sp = sp;
}
inline void context_swap(context *save, context *load) { nlemu_swap(&save->sp, load->sp); }
#else
struct context {
    ucontext_t uc;
};
void fiber_entry(void);
void context_make(context *c, char *stack, size_t size) {
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = nullptr;
    makecontext(&c->uc, fiber_entry, 0);
}
inline void context_swap(context *save, context *load) { swapcontext(&save->uc, &load->uc); }
#endif

enum { READY, WAIT_BLOCK, WAIT_WARP, DONE };
struct fiber {
    context ctx;
    int state, pred;
    unsigned mask;
};
const size_t STACK = 128 * 1024;
std::vector<fiber> fibers;
char *stacks = nullptr;
size_t n_stacks = 0;
context sched_ctx;
int cur = 0, n_threads = 0, block_or = 0;
const std::function<void()> *body = nullptr;
std::vector<char> dyn;
std::map<const void *, int> max_dyn; /* cudaFuncAttributeMaxDynamicSharedMemorySize */
struct warp_area {
    uint64_t slot[32];
    uint32_t a[32][4], b[32][2];
};
std::vector<warp_area> warps;

/* A fiber's life: the kernel body, then back to the scheduler for good. */
void fiber_entry(void) {
    (*body)();
    fibers[cur].state = DONE;
    context_swap(&fibers[cur].ctx, &sched_ctx);
    fatal("an exited fiber was resumed");
}

void yield(int state) {
    fibers[cur].state = state;
    context_swap(&fibers[cur].ctx, &sched_ctx);
}

void set_thread(int i) {
    cur = i;
    threadIdx.x = (unsigned)i % blockDim.x;
    threadIdx.y = (unsigned)i / blockDim.x % blockDim.y;
    threadIdx.z = (unsigned)i / (blockDim.x * blockDim.y);
}

const char *state_name(int s) {
    return s == READY ? "ready" : s == WAIT_BLOCK ? "__syncthreads" : s == WAIT_WARP ? "warp sync" : "exited";
}

[[noreturn]] void deadlock(const char *why) {
    fprintf(stderr, "nlemu: block (%u,%u,%u) of %d threads: %s; thread states:\n", blockIdx.x, blockIdx.y, blockIdx.z,
            n_threads, why);
    for (int w = 0; w * 32 < n_threads; w++) {
        fprintf(stderr, "  warp %d:", w);
        for (int i = w * 32; i < n_threads && i < w * 32 + 32; i++) fprintf(stderr, " %s", state_name(fibers[i].state));
        fprintf(stderr, "\n");
    }
    fatal("barrier deadlock (%s)", why);
}

/* The order in which the fibers of a block run between two barriers. A
 * GPU gives no order; a kernel whose result depends on one has a race. So
 * by default every phase runs the threads in a new pseudo-random order
 * (NLEMU_ORDER=random, seed NLEMU_SEED), which makes such a race show as a
 * difference from the CPU engine; NLEMU_ORDER=linear runs them by index. */
std::vector<int> order;
uint64_t order_state = 0;
int order_mode = -1; /* 0 linear, 1 random */

void next_order(void) {
    if (order_mode < 0) {
        const char *m = getenv("NLEMU_ORDER"), *seed = getenv("NLEMU_SEED");
        order_mode = !(m && !strcmp(m, "linear"));
        order_state = seed && *seed ? strtoull(seed, NULL, 10) : 0x9e3779b97f4a7c15ULL;
        if (!order_state) order_state = 1;
    }
    order.resize(n_threads);
    for (int i = 0; i < n_threads; i++) order[i] = i;
    if (!order_mode) return;
    for (int i = n_threads - 1; i > 0; i--) {
        order_state ^= order_state << 13;
        order_state ^= order_state >> 7;
        order_state ^= order_state << 17;
        int j = (int)(order_state % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void run_block(void) {
    for (int i = 0; i < n_threads; i++) {
        fiber &f = fibers[i];
        context_make(&f.ctx, stacks + (size_t)i * STACK, STACK);
        f.state = READY;
    }
    for (;;) {
        next_order();
        for (int k = 0; k < n_threads; k++)
            if (int i = order[k]; fibers[i].state == READY) {
                set_thread(i);
                context_swap(&sched_ctx, &fibers[i].ctx);
            }
        /* Every fiber waits or has exited: release a barrier. */
        bool released = false;
        int live = 0, at_block = 0;
        for (int w = 0; w * 32 < n_threads; w++) {
            int lo = w * 32, hi = lo + 32 < n_threads ? lo + 32 : n_threads, waiting = 0, exited = 0;
            for (int i = lo; i < hi; i++) {
                waiting += fibers[i].state == WAIT_WARP;
                exited += fibers[i].state == DONE;
            }
            if (waiting && waiting + exited == hi - lo) {
                if (exited) deadlock("a warp-synchronous operation (shuffle, __syncwarp, mma) with exited lanes");
                for (int i = lo; i < hi; i++) {
                    unsigned need = hi - lo == 32 ? 0xffffffffu : (1u << (hi - lo)) - 1;
                    if ((fibers[i].mask & need) != need)
                        deadlock("a warp-synchronous operation whose mask leaves out lanes that take part");
                    fibers[i].state = READY;
                }
                released = true;
            }
        }
        if (released) continue;
        block_or = 0;
        for (int i = 0; i < n_threads; i++) {
            live += fibers[i].state != DONE;
            if (fibers[i].state == WAIT_BLOCK) {
                at_block++;
                block_or |= fibers[i].pred != 0;
            }
        }
        if (!live) return;
        if (at_block != live) deadlock("threads wait at different barriers");
        for (int i = 0; i < n_threads; i++)
            if (fibers[i].state == WAIT_BLOCK) fibers[i].state = READY;
    }
}

void run_grid(dim3 grid, dim3 block, size_t smem, const std::function<void()> &fn) {
    n_threads = (int)(block.x * block.y * block.z);
    if ((size_t)n_threads > n_stacks) {
        if (stacks) munmap(stacks, n_stacks * STACK);
        n_stacks = 1024;
        stacks = (char *)mmap(NULL, n_stacks * STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                              -1, 0);
        if (stacks == MAP_FAILED) fatal("cannot map fiber stacks");
        fibers.resize(n_stacks);
    }
    warps.resize((n_threads + 31) / 32);
    dyn.assign(smem ? smem : 1, (char)0xff);
    body = &fn;
    blockDim = block;
    gridDim = grid;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx.x = x;
                blockIdx.y = y;
                blockIdx.z = z;
                run_block();
            }
    body = nullptr;
}

/* ------------------------------------------------------------ 16-bit */

float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
        return sign ? -v : v;
    }
    if (e == 31) return nlemu_u2f(sign | 0x7f800000u | (m << 13));
    return nlemu_u2f(sign | ((e - 15 + 127) << 23) | (m << 13));
}

uint16_t f2h(float f) {
    uint32_t u = nlemu_f2u(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | (a > 0x7f800000u ? 0x7e00 : 0x7c00));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* >= 65520 rounds to infinity */
    if (a < 0x38800000u) {                                   /* below 2^-14: subnormal (or zero) */
        float v = nlemu_u2f(a) * 16777216.0f;                   /* in units of 2^-24, exact */
        return (uint16_t)(sign | (uint32_t)nearbyintf(v));      /* ties to even (default rounding) */
    }
    uint32_t h = ((((a >> 23) - 127 + 15) << 10) | ((a & 0x7fffff) >> 13)), rem = a & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float bf2f(uint16_t b) { return nlemu_u2f((uint32_t)b << 16); }

uint16_t f2bf(float f) {
    uint32_t u = nlemu_f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* Elements of a matrix of type t as float. */
float elem(const void *p, cudaDataType t, size_t i) {
    switch (t) {
    case CUDA_R_32F: return ((const float *)p)[i];
    case CUDA_R_16F: return h2f(((const uint16_t *)p)[i]);
    case CUDA_R_16BF: return bf2f(((const uint16_t *)p)[i]);
    default: fatal("cublasGemmEx: data type %d not emulated", (int)t);
    }
}

void set_elem(void *p, cudaDataType t, size_t i, float v) {
    switch (t) {
    case CUDA_R_32F: ((float *)p)[i] = v; break;
    case CUDA_R_16F: ((uint16_t *)p)[i] = f2h(v); break;
    case CUDA_R_16BF: ((uint16_t *)p)[i] = f2bf(v); break;
    default: fatal("cublasGemmEx: data type %d not emulated", (int)t);
    }
}

size_t type_size(cudaDataType t) {
    return t == CUDA_R_32F ? 4 : t == CUDA_R_64F ? 8 : t == CUDA_R_16F || t == CUDA_R_16BF ? 2 : 0;
}

/* Elements spanned by a column-major rows x cols matrix with leading dim ld. */
size_t span(int rows, int cols, int ld) { return rows && cols ? (size_t)ld * (cols - 1) + rows : 0; }

} // namespace

/* ------------------------------------------------------------ device side */

float __half2float(__half h) { return h2f(h.x); }
__half __float2half_rn(float f) { return __half{f2h(f)}; }
__nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{f2bf(f)}; }

namespace nlemu {

int lane(void) { return cur & 31; }
void *warp_slot(void) { return warps[cur >> 5].slot; }
void *dyn_smem(void) { return dyn.data(); }

void sync_block(void) { yield(WAIT_BLOCK); }

int sync_block_or(int pred) {
    fibers[cur].pred = pred;
    yield(WAIT_BLOCK);
    return block_or;
}

void sync_warp(unsigned mask) {
    fibers[cur].mask = mask;
    yield(WAIT_WARP);
}

/* mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D = A B + C, with the
 * fragment layouts of the PTX ISA (groupID = lane / 4, tig = lane % 4):
 *   A (16x16, .row): a[r] holds rows groupID (r = 0, 2) or groupID + 8
 *     (r = 1, 3), columns tig*2, tig*2+1 (r = 0, 1) or those + 8 (r = 2, 3),
 *     the lower column in the low half;
 *   B (16x8, .col): b0 holds rows (k) tig*2, tig*2+1 and b1 those + 8, of
 *     column groupID;
 *   C/D (16x8): c[0], c[1] row groupID, columns tig*2, tig*2+1; c[2], c[3]
 *     row groupID + 8. */
void mma16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1, int bf) {
    warp_area &w = warps[cur >> 5];
    const int ln = lane();
    memcpy(w.a[ln], a, sizeof w.a[ln]);
    w.b[ln][0] = b0;
    w.b[ln][1] = b1;
    sync_warp(0xffffffffu);
    auto half = [bf](uint32_t reg, int hi) {
        uint16_t v = (uint16_t)(hi ? reg >> 16 : reg & 0xffff);
        return bf ? bf2f(v) : h2f(v);
    };
    const int g = ln >> 2, tig = ln & 3;
    float d[4];
    for (int e = 0; e < 4; e++) {
        const int r = g + (e >= 2 ? 8 : 0), n = tig * 2 + (e & 1);
        float acc = c[e];
        for (int k = 0; k < 16; k++) {
            const float av = half(w.a[(r % 8) * 4 + (k % 8) / 2][(r >= 8) + 2 * (k >= 8)], k & 1);
            const float bv = half(w.b[n * 4 + (k % 8) / 2][k >= 8], k & 1);
            acc += av * bv;
        }
        d[e] = acc;
    }
    sync_warp(0xffffffffu); /* every lane has read the fragments */
    memcpy(c, d, sizeof d);
}

void launch(const void *func, dim3 grid, dim3 block, size_t smem, cudaStream_t st, std::function<void()> fn) {
    LOCK;
    nlemu_stream *s = stream_of(st);
    size_t threads = (size_t)block.x * block.y * block.z;
    if (!threads || threads > 1024 || block.z > 64 || !grid.x || !grid.y || !grid.z || grid.x > 2147483647u ||
        grid.y > 65535 || grid.z > 65535) {
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (smem > OPTIN_SMEM) {
        fail(cudaErrorInvalidValue);
        return;
    }
    if (smem > DEFAULT_SMEM) {
        auto it = max_dyn.find(func);
        if (it == max_dyn.end() || (size_t)it->second < smem) {
            fail(cudaErrorInvalidValue);
            return;
        }
    }
    enqueue(s, [grid, block, smem, fn]() { run_grid(grid, block, smem, fn); });
}

} // namespace nlemu

/* ------------------------------------------------------------ host API */

extern "C" {

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    default: return "unknown error (emulated)";
    }
}

cudaError_t cudaGetLastError(void) {
    LOCK;
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) {
    LOCK;
    return last_error;
}

cudaError_t cudaGetDeviceCount(int *n) {
    int c = device_count();
    *n = c;
    return c > 0 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDevice(int *d) {
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    *d = current_device;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int d) {
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    if (d < 0 || d >= device_count()) return fail(cudaErrorInvalidDevice);
    current_device = d;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d < 0 || d >= device_count()) return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "nlemu CPU emulation of an sm_90 GPU");
    p->totalGlobalMem = budget();
    p->sharedMemPerBlock = DEFAULT_SMEM;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 132;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int d) {
    if (d < 0 || d >= device_count()) return fail(cudaErrorInvalidDevice);
    switch (a) {
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = (int)DEFAULT_SMEM; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = (int)OPTIN_SMEM; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *v = 132; return cudaSuccess;
    default: return fail(cudaErrorInvalidValue);
    }
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    LOCK;
    size_t b = budget();
    *total_bytes = b;
    *free_bytes = device_used < b ? b - device_used : 0;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
    LOCK;
    drain_all();
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t n) {
    LOCK;
    *p = NULL;
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    if (n == 0) return cudaSuccess;
    if (n > budget() || device_used > budget() - n) return fail(cudaErrorMemoryAllocation);
    /* Up to 1 GiB from malloc, so that AddressSanitizer sees a kernel that
     * reads or writes past a buffer; filled with 0xff because fresh device
     * memory is not zero on a GPU. Bigger blocks (the out-of-memory test's
     * hog) are mapped and left untouched. */
    const bool big = n > ((size_t)1 << 30);
    void *m = big ? mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : malloc(n);
    if (m == MAP_FAILED || !m) return fail(cudaErrorMemoryAllocation);
    if (!big) memset(m, 0xff, n);
    allocs[(uintptr_t)m] = alloc{n, DEVICE};
    device_used += n;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    drain_all(); /* cudaFree synchronises the device */
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end() || it->second.kind != DEVICE) fatal("cudaFree(%p): not a device allocation", p);
    if (it->second.size > ((size_t)1 << 30)) munmap(p, it->second.size);
    else free(p);
    device_used -= it->second.size;
    allocs.erase(it);
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags) {
    LOCK;
    (void)flags;
    *p = NULL;
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    void *m = malloc(n ? n : 1);
    if (!m) return fail(cudaErrorMemoryAllocation);
    memset(m, 0xff, n);
    allocs[(uintptr_t)m] = alloc{n ? n : 1, PINNED};
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n) { return cudaHostAlloc(p, n, 0); }

cudaError_t cudaFreeHost(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    drain_all();
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end() || it->second.kind != PINNED) fatal("cudaFreeHost(%p): not a pinned allocation", p);
    allocs.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind k, cudaStream_t st) {
    LOCK;
    nlemu_stream *s = stream_of(st);
    if (n == 0) return cudaSuccess;
    switch (k) {
    case cudaMemcpyHostToDevice:
        need_device(dst, n, "cudaMemcpy host to device, destination");
        if (kind_of(src, 1) == DEVICE) fatal("cudaMemcpy host to device from device memory %p", src);
        if (kind_of(src, n) == PINNED) {
            enqueue(s, [=]() { memcpy(dst, src, n); });
        } else { /* pageable: the source is taken now, the device written later */
            std::shared_ptr<std::vector<char>> snap(new std::vector<char>((const char *)src, (const char *)src + n));
            enqueue(s, [=]() { memcpy(dst, snap->data(), n); });
        }
        return cudaSuccess;
    case cudaMemcpyDeviceToHost:
        need_device(src, n, "cudaMemcpy device to host, source");
        if (kind_of(dst, 1) == DEVICE) fatal("cudaMemcpy device to host into device memory %p", dst);
        if (kind_of(dst, n) == PINNED) {
            enqueue(s, [=]() { memcpy(dst, src, n); });
        } else { /* pageable: complete before returning */
            drain(s);
            memcpy(dst, src, n);
        }
        return cudaSuccess;
    case cudaMemcpyDeviceToDevice:
        need_device(src, n, "cudaMemcpy device to device, source");
        need_device(dst, n, "cudaMemcpy device to device, destination");
        enqueue(s, [=]() { memmove(dst, src, n); });
        return cudaSuccess;
    default: fatal("cudaMemcpy kind %d not emulated", (int)k);
    }
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind k) {
    LOCK;
    cudaError_t e = cudaMemcpyAsync(dst, src, n, k, NULL);
    drain(&legacy);
    return e;
}

cudaError_t cudaMemset(void *p, int v, size_t n) {
    LOCK;
    need_device(p, n, "cudaMemset");
    drain(&legacy);
    memset(p, v, n);
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned flags) {
    LOCK;
    (void)flags;
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    *st = new nlemu_stream;
    streams.insert(*st);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *st) { return cudaStreamCreateWithFlags(st, 0); }

cudaError_t cudaStreamDestroy(cudaStream_t st) {
    LOCK;
    nlemu_stream *s = stream_of(st);
    if (s == &legacy) return fail(cudaErrorInvalidResourceHandle);
    drain(s); /* work already queued still completes */
    streams.erase(s);
    delete s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t st) {
    LOCK;
    drain(stream_of(st));
    return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned flags) {
    LOCK;
    (void)flags;
    *ev = new nlemu_event;
    events.insert(*ev);
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *ev) { return cudaEventCreateWithFlags(ev, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t ev) {
    LOCK;
    if (!events.count(ev)) fatal("cudaEventDestroy(%p): not a live event", (void *)ev);
    events.erase(ev);
    /* queued records of it may still run: keep them harmless */
    for (nlemu_stream *s : streams)
        if (ev->st == s) drain(s);
    if (ev->st == &legacy) drain(&legacy);
    delete ev;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t st) {
    LOCK;
    if (!events.count(ev)) fatal("cudaEventRecord(%p): not a live event", (void *)ev);
    nlemu_stream *s = stream_of(st);
    ev->st = s;
    ev->recorded = true;
    ev->done = false;
    enqueue(s, [ev]() {
        ev->done = true;
        ev->t = now();
    });
    ev->seq = s->seq;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev) {
    LOCK;
    if (!events.count(ev)) fatal("cudaEventSynchronize(%p): not a live event", (void *)ev);
    if (ev->recorded && streams.count(ev->st) + (ev->st == &legacy)) drain(ev->st, ev->seq);
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    LOCK;
    if (!a->done || !b->done) return fail(cudaErrorInvalidResourceHandle);
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}

cudaError_t nlemu_func_set_attribute(const void *func, cudaFuncAttribute a, int v) {
    LOCK;
    if (a != cudaFuncAttributeMaxDynamicSharedMemorySize) return fail(cudaErrorInvalidValue);
    if (v < 0 || (size_t)v > OPTIN_SMEM) return fail(cudaErrorInvalidValue);
    max_dyn[func] = v;
    return cudaSuccess;
}

/* ------------------------------------------------------------ cuBLAS */

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    LOCK;
    if (device_count() <= 0) return CUBLAS_STATUS_NOT_INITIALIZED;
    *h = new nlemu_blas;
    (*h)->st = &legacy;
    handles.insert(*h);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t h) {
    LOCK;
    if (!handles.count(h)) fatal("cublasDestroy(%p): not a live handle", (void *)h);
    handles.erase(h);
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t st) {
    LOCK;
    h->st = stream_of(st);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) {
    (void)h;
    (void)m;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_(emulated error)";
}

static cublasStatus_t check_gemm(const char *who, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                 const void *A, size_t as, int lda, const void *B, size_t bs, int ldb, const void *C,
                                 size_t cs, int ldc) {
    if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
    int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1)) return CUBLAS_STATUS_INVALID_VALUE;
    if (m && n) {
        char what[64];
        snprintf(what, sizeof what, "%s operand A", who);
        if (k) need_device(A, span(ar, ac, lda) * as, what);
        snprintf(what, sizeof what, "%s operand B", who);
        if (k) need_device(B, span(br, bc, ldb) * bs, what);
        snprintf(what, sizeof what, "%s operand C", who);
        need_device(C, span(m, n, ldc) * cs, what);
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B,
                            cudaDataType bt, int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                            cublasComputeType_t comp, cublasGemmAlgo_t algo) {
    LOCK;
    (void)algo;
    if (!handles.count(h)) fatal("cublasGemmEx: not a live handle");
    if (comp != CUBLAS_COMPUTE_32F && comp != CUBLAS_COMPUTE_32F_PEDANTIC) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!type_size(at) || !type_size(bt) || !type_size(ct) || at == CUDA_R_64F || at != bt)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (at == CUDA_R_32F && ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    cublasStatus_t s = check_gemm("cublasGemmEx", ta, tb, m, n, k, A, type_size(at), lda, B, type_size(bt), ldb, C,
                                  type_size(ct), ldc);
    if (s != CUBLAS_STATUS_SUCCESS || !m || !n) return s;
    const float al = *(const float *)alpha, be = *(const float *)beta;
    const int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    const int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    enqueue(h->st, [=]() {
        std::vector<float> fa(span(ar, ac, lda)), fb(span(br, bc, ldb)), fc((size_t)m * n);
        for (size_t i = 0; i < fa.size(); i++) fa[i] = elem(A, at, i);
        for (size_t i = 0; i < fb.size(); i++) fb[i] = elem(B, bt, i);
        if (k)
            cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                        tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, 1.0f, fa.data(), lda, fb.data(), ldb,
                        0.0f, fc.data(), m);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                size_t ci = (size_t)j * ldc + i;
                float v = al * fc[(size_t)j * m + i];
                if (be != 0.0f) v += be * elem(C, ct, ci); /* beta 0: C is not read */
                set_elem(C, ct, ci, v);
            }
    });
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double *alpha, const double *A, int lda, const double *B, int ldb,
                           const double *beta, double *C, int ldc) {
    LOCK;
    if (!handles.count(h)) fatal("cublasDgemm: not a live handle");
    cublasStatus_t s = check_gemm("cublasDgemm", ta, tb, m, n, k, A, 8, lda, B, 8, ldb, C, 8, ldc);
    if (s != CUBLAS_STATUS_SUCCESS || !m || !n) return s;
    const double al = *alpha, be = *beta;
    enqueue(h->st, [=]() {
        if (be == 0.0)
            for (int j = 0; j < n; j++) memset(C + (size_t)j * ldc, 0, (size_t)m * sizeof(double));
        if (k)
            cblas_dgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                        tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, al, A, lda, B, ldb,
                        be == 0.0 ? 0.0 : be, C, ldc);
        else if (be != 0.0)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) C[(size_t)j * ldc + i] *= be;
    });
    return CUBLAS_STATUS_SUCCESS;
}

} /* extern "C" */
