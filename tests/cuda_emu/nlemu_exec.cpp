/* nlemu_exec.cpp — the CUDA emulator's kernel execution: every thread of a
 * block a fiber, barriers among them, the block scheduler, the device-side
 * functions (shuffles, mma.sync, 16-bit conversions) and launches. */
#include "nlemu_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <vector>

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace nlemu_rt {

std::map<const void *, int> max_dyn;

namespace { /* this file's state: the fibers of the running block */

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
struct warp_area {
    uint64_t slot[32];
    uint32_t a[32][4], b[32][2];
    const uint16_t *row[32]; /* ldmatrix's row addresses */
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

} // namespace

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

} // namespace nlemu_rt

using namespace nlemu_rt;

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

/* ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16, from the PTX ISA:
 * lanes 8i..8i+7 give the rows of matrix i (8 16-bit values, 16-byte
 * aligned); lane l gets from matrix i, in r[i], the pair (row l/4, columns
 * 2(l%4), 2(l%4)+1), or with trans the pair (rows 2(l%4), 2(l%4)+1,
 * column l/4); the first of each pair in the low half. */
void ldmatrix_x4(uint32_t *r, const uint16_t *row, int trans) {
    warp_area &w = warps[cur >> 5];
    const int ln = lane();
    if ((uintptr_t)row % 16) fatal("ldmatrix: lane %d's row address %p is not 16-byte aligned", ln, (const void *)row);
    w.row[ln] = row;
    sync_warp(0xffffffffu);
    const int q = ln >> 2, p = (ln & 3) * 2;
    uint32_t d[4];
    for (int i = 0; i < 4; i++) {
        const uint16_t lo = trans ? w.row[i * 8 + p][q] : w.row[i * 8 + q][p];
        const uint16_t hi = trans ? w.row[i * 8 + p + 1][q] : w.row[i * 8 + q][p + 1];
        d[i] = (uint32_t)lo | (uint32_t)hi << 16;
    }
    sync_warp(0xffffffffu); /* every lane has read the rows */
    memcpy(r, d, sizeof d);
}

void launch(const void *func, dim3 grid, dim3 block, size_t smem, cudaStream_t st, std::function<void()> fn) {
    LOCK;
    nlemu_stream *s = stream_of(st);
    /* "A kernel launch will fail if it is issued to a stream that is not
     * associated to the current device" (CUDA Programming Guide) */
    if (s->dev >= 0 && s->dev != current()) {
        fail(cudaErrorInvalidResourceHandle);
        return;
    }
    /* the build has sm_80 and sm_90 machine code and sm_90 PTX: nothing
     * for an older GPU */
    if (compute_capability(current()) < 80) {
        fail(cudaErrorNoKernelImageForDevice);
        return;
    }
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

