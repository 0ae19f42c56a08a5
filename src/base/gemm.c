/* gemm.c — see gemm.h. Our own GEMM, written so that its results cannot
 * depend on the thread count or on the batch.
 *
 * Why not OpenBLAS: its micro-kernels do not sum every element of C the
 * same way. Which code path (and so which order of additions) an element
 * gets depends on where its row lands among the kernel's register blocks,
 * and that moves with the number of rows in the product and with the split
 * of rows between threads. Measured with OpenBLAS 0.3.21 (Debian 12),
 * computing the same row inside different products:
 *   - Prescott kernels (SSE3; also what 0.3.21 falls back to on Intel CPUs
 *     it does not know, e.g. Emerald Rapids, family 6 model 0xCF), and
 *     Core2/Penryn/Atom: a row in the 1-wide tail of the 4-wide kernel
 *     differs, and the thread split decides which rows are tails;
 *   - Haswell/Zen kernels (AVX2): results repeat only with period 12 in the
 *     row's position, even between products of one shape, because part of
 *     each 12-row block is summed with split accumulators;
 *   - SkylakeX/Cooperlake/Sandybridge/Nehalem: tails and thread splits.
 * No padding or fixed row blocking of OpenBLAS calls makes every row take
 * the same path on all of them (the AVX2 case defeats any blocking), so
 * the products whose results are promised bit-stable are computed here.
 *
 * The rule: C[i][j] = sum over k of A[i][k] * B[j][k] is computed in blocks
 * of KB consecutive k: within a block, one chain of fused multiply-adds in
 * increasing k from 0 (acc = fma(a, b, acc)); the block sums are added in
 * order (C = p0, C += p1, ...); then + bias[j]. Every element is one SIMD
 * lane of one accumulator, lanes are independent and FMA rounds once, so
 * the result depends only on row i of A, row j of B and bias[j]: not on M,
 * on the row's position, the tile, the thread or the vector width. The
 * AVX-512, AVX2 and portable (fma/fmaf) paths give the same bits; x86-64
 * CPUs without FMA (before Haswell / Piledriver) multiply, round, then add:
 * deterministic on that machine, different in the last bits. Summing in
 * blocks of 64 keeps the error below OpenBLAS's own (one chain over all of
 * K = 3072 would be ~3x worse than OpenBLAS's blocked kernels).
 *
 * Structure (BLIS-like): per block of KC k-steps (KC a multiple of KB;
 * KC, RG, CG and the thread count are cache/scheduling choices only), A's
 * rows are packed into panels of MR rows ([k][MR]) and B's rows into
 * panels of NR columns of C ([k][NR]); then tasks of RG x CG panels run a
 * register-blocked MR x NR micro-kernel. Packing is O((M+N)K) against
 * O(MNK) arithmetic. */
#include "gemm.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define NL_GEMM_X86 1
#endif

#define KB 64  /* summation block: part of the result's definition (see above) */
#define KC 384 /* k-steps per packed block, a multiple of KB (tuned on AVX-512 and AVX2) */
#define RG 8   /* row panels per task: RG*MR rows x KC of packed A stay in L2 */
#define CG 8   /* column panels per task */
#define MAX_TILE_BYTES 2048 /* >= MR*NR*element size of every kernel */

/* Cache hints for a kernel call: the next A panel and a slice of the next
 * B panel to prefetch (lengths in bytes; 0: nothing). */
typedef struct {
    const char *a, *b;
    size_t alen, blen;
} prefetch_hint;

/* c[MR x NR] (row stride ldc elements) = a-panel x b-panel over kc k-steps
 * (a: [kc][MR], b: [kc][NR]), summed in blocks of KB k-steps, each block
 * added to c (the first one replaces c unless add); + bias[0..NR) at the
 * end when bias != NULL. Element type: float or double, by kernel. */
typedef void (*kern_fn)(int kc, const void *a, const void *b, void *c, size_t ldc, int add, const void *bias,
                        const prefetch_hint *pf);

typedef struct {
    int mr, nr;
    kern_fn kern;
} kernel;

typedef struct {
    const char *name;
    kernel f32, f64;
    int fused; /* multiply-add with one rounding */
} gemm_isa;

/* ------------------------------------------------------------------------
 * Kernels. Each is written out for one element type; the macros only
 * repeat a statement for every row of the tile. */
#define REP4(X) X(0) X(1) X(2) X(3)
#define REP6(X) REP4(X) X(4) X(5)
#define REP12(X) REP6(X) X(6) X(7) X(8) X(9) X(10) X(11)

/* Portable: fmaf/fma are exactly one rounding, like the SIMD FMAs. */
#define G_MR 4
#define G_NR 8
#define GENERIC_KERNEL(name, T, FMA)                                                                               \
    static void name(int kc, const void *av, const void *bv, void *cv, size_t ldc, int add, const void *biasv,   \
                     const prefetch_hint *pf) {                                                                  \
        const T *a = av, *b = bv, *bias = biasv;                                                                 \
        T *c = cv;                                                                                               \
        (void)pf;                                                                                                \
        for (int k0 = 0; k0 < kc; k0 += KB) {                                                                    \
            const int k1 = kc - k0 < KB ? kc : k0 + KB;                                                          \
            T acc[G_MR][G_NR] = {{0}};                                                                           \
            for (int k = k0; k < k1; k++, a += G_MR, b += G_NR)                                                  \
                for (int i = 0; i < G_MR; i++)                                                                   \
                    for (int j = 0; j < G_NR; j++) acc[i][j] = FMA(a[i], b[j], acc[i][j]);                       \
            for (int i = 0; i < G_MR; i++)                                                                       \
                for (int j = 0; j < G_NR; j++) {                                                                 \
                    T v = add || k0 ? c[i * ldc + j] + acc[i][j] : acc[i][j];                                    \
                    c[i * ldc + j] = bias && k1 == kc ? v + bias[j] : v;                                         \
                }                                                                                                \
        }                                                                                                        \
    }
GENERIC_KERNEL(kern_generic_f32, float, fmaf)
GENERIC_KERNEL(kern_generic_f64, double, fma)

#ifdef NL_GEMM_X86
/* Prefetch: this call's C tile (first stored after one KB block), one line
 * of the next A panel per k-step and one line of the next B slice every 4
 * k-steps, so that the next call does not wait on L3. */
#define PREFETCH_C(rows, cols, esz)                                                                                \
    for (int i_ = 0; i_ < (rows); i_++)                                                                          \
        for (int j_ = 0; j_ < (int)((cols) * (esz)); j_ += 64)                                                   \
            _mm_prefetch((const char *)c + (i_ * ldc) * (esz) + j_, _MM_HINT_T0);
#define PREFETCH_NEXT(k)                                                                                         \
    if ((size_t)(k) * 64 < pf->alen) _mm_prefetch(pf->a + (size_t)(k) * 64, _MM_HINT_T0);                        \
    if (!((k) & 3) && (size_t)(k) * 16 < pf->blen) _mm_prefetch(pf->b + (size_t)(k) * 16, _MM_HINT_T0);

/* One SIMD kernel per (instruction set, element type): MR rows x 2 vectors
 * of L lanes (type V, loaded with LOAD); the per-row statements are the
 * DECL_/ZERO_/STEP_/ADDC_/BIAS_/STORE_ macros named after the kernel. END
 * runs last: VZEROUPPER for the AVX kernels, whatever the optimisation
 * level (GCC adds it only when optimising with -O2 or more). With the upper
 * halves left dirty, every later SSE instruction of the caller (the
 * GELU, the softmax's expf) pays a false dependency: the ASan build at -O1
 * ran its image embedding 6x slower without it. */
#define SIMD_KERNEL(name, attr, T, REP, MR, V, L, LOAD, END)                                                       \
    attr static void name(int kc, const void *av, const void *bv, void *cv, size_t ldc, int add,                 \
                          const void *biasv, const prefetch_hint *pf) {                                          \
        const T *a = av, *b = bv, *bias = biasv;                                                                 \
        T *c = cv;                                                                                               \
        REP(DECL_##name)                                                                                         \
        PREFETCH_C(MR, 2 * L, sizeof(T))                                                                         \
        for (int k0 = 0; k0 < kc; k0 += KB) {                                                                    \
            const int k1 = kc - k0 < KB ? kc : k0 + KB;                                                          \
            REP(ZERO_##name)                                                                                     \
            for (int k = k0; k < k1; k++, a += MR, b += 2 * L) {                                                 \
                V b0 = LOAD(b), b1 = LOAD(b + L);                                                                \
                PREFETCH_NEXT(k)                                                                                 \
                REP(STEP_##name)                                                                                 \
            }                                                                                                    \
            if (add || k0) { REP(ADDC_##name) }                                                                  \
            if (bias && k1 == kc) {                                                                              \
                V s0 = LOAD(bias), s1 = LOAD(bias + L);                                                          \
                REP(BIAS_##name)                                                                                 \
            }                                                                                                    \
            REP(STORE_##name)                                                                                    \
        }                                                                                                        \
        END                                                                                                      \
    }
/* AVX-512F, float: 12 rows x 32 columns in 24 zmm accumulators. */
#define DECL_kern_avx512_f32(i) __m512 c##i##a, c##i##b;
#define ZERO_kern_avx512_f32(i) c##i##a = _mm512_setzero_ps(); c##i##b = _mm512_setzero_ps();
#define STEP_kern_avx512_f32(i) { __m512 ai = _mm512_set1_ps(a[i]); \
    c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a); c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b); }
#define ADDC_kern_avx512_f32(i) c##i##a = _mm512_add_ps(_mm512_loadu_ps(c + (i) * ldc), c##i##a); \
    c##i##b = _mm512_add_ps(_mm512_loadu_ps(c + (i) * ldc + 16), c##i##b);
#define BIAS_kern_avx512_f32(i) c##i##a = _mm512_add_ps(c##i##a, s0); c##i##b = _mm512_add_ps(c##i##b, s1);
#define STORE_kern_avx512_f32(i) _mm512_storeu_ps(c + (i) * ldc, c##i##a); \
    _mm512_storeu_ps(c + (i) * ldc + 16, c##i##b);
SIMD_KERNEL(kern_avx512_f32, __attribute__((target("avx512f"))), float, REP12, 12, __m512, 16, _mm512_loadu_ps,
            _mm256_zeroupper();)

/* AVX-512F, double: 12 rows x 16 columns. */
#define DECL_kern_avx512_f64(i) __m512d c##i##a, c##i##b;
#define ZERO_kern_avx512_f64(i) c##i##a = _mm512_setzero_pd(); c##i##b = _mm512_setzero_pd();
#define STEP_kern_avx512_f64(i) { __m512d ai = _mm512_set1_pd(a[i]); \
    c##i##a = _mm512_fmadd_pd(ai, b0, c##i##a); c##i##b = _mm512_fmadd_pd(ai, b1, c##i##b); }
#define ADDC_kern_avx512_f64(i) c##i##a = _mm512_add_pd(_mm512_loadu_pd(c + (i) * ldc), c##i##a); \
    c##i##b = _mm512_add_pd(_mm512_loadu_pd(c + (i) * ldc + 8), c##i##b);
#define BIAS_kern_avx512_f64(i) c##i##a = _mm512_add_pd(c##i##a, s0); c##i##b = _mm512_add_pd(c##i##b, s1);
#define STORE_kern_avx512_f64(i) _mm512_storeu_pd(c + (i) * ldc, c##i##a); _mm512_storeu_pd(c + (i) * ldc + 8, c##i##b);
SIMD_KERNEL(kern_avx512_f64, __attribute__((target("avx512f"))), double, REP12, 12, __m512d, 8, _mm512_loadu_pd,
            _mm256_zeroupper();)

/* AVX2 + FMA, float: 6 rows x 16 columns in 12 ymm accumulators. */
#define DECL_kern_avx2_f32(i) __m256 c##i##a, c##i##b;
#define ZERO_kern_avx2_f32(i) c##i##a = _mm256_setzero_ps(); c##i##b = _mm256_setzero_ps();
#define STEP_kern_avx2_f32(i) { __m256 ai = _mm256_broadcast_ss(a + (i)); \
    c##i##a = _mm256_fmadd_ps(ai, b0, c##i##a); c##i##b = _mm256_fmadd_ps(ai, b1, c##i##b); }
#define ADDC_kern_avx2_f32(i) c##i##a = _mm256_add_ps(_mm256_loadu_ps(c + (i) * ldc), c##i##a); \
    c##i##b = _mm256_add_ps(_mm256_loadu_ps(c + (i) * ldc + 8), c##i##b);
#define BIAS_kern_avx2_f32(i) c##i##a = _mm256_add_ps(c##i##a, s0); c##i##b = _mm256_add_ps(c##i##b, s1);
#define STORE_kern_avx2_f32(i) _mm256_storeu_ps(c + (i) * ldc, c##i##a); _mm256_storeu_ps(c + (i) * ldc + 8, c##i##b);
SIMD_KERNEL(kern_avx2_f32, __attribute__((target("avx2,fma"))), float, REP6, 6, __m256, 8, _mm256_loadu_ps,
            _mm256_zeroupper();)

/* AVX2 + FMA, double: 6 rows x 8 columns. */
#define DECL_kern_avx2_f64(i) __m256d c##i##a, c##i##b;
#define ZERO_kern_avx2_f64(i) c##i##a = _mm256_setzero_pd(); c##i##b = _mm256_setzero_pd();
#define STEP_kern_avx2_f64(i) { __m256d ai = _mm256_broadcast_sd(a + (i)); \
    c##i##a = _mm256_fmadd_pd(ai, b0, c##i##a); c##i##b = _mm256_fmadd_pd(ai, b1, c##i##b); }
#define ADDC_kern_avx2_f64(i) c##i##a = _mm256_add_pd(_mm256_loadu_pd(c + (i) * ldc), c##i##a); \
    c##i##b = _mm256_add_pd(_mm256_loadu_pd(c + (i) * ldc + 4), c##i##b);
#define BIAS_kern_avx2_f64(i) c##i##a = _mm256_add_pd(c##i##a, s0); c##i##b = _mm256_add_pd(c##i##b, s1);
#define STORE_kern_avx2_f64(i) _mm256_storeu_pd(c + (i) * ldc, c##i##a); _mm256_storeu_pd(c + (i) * ldc + 4, c##i##b);
SIMD_KERNEL(kern_avx2_f64, __attribute__((target("avx2,fma"))), double, REP6, 6, __m256d, 4, _mm256_loadu_pd,
            _mm256_zeroupper();)

/* SSE2 without FMA (pre-2013 CPUs): multiply, round, add, round. */
#define DECL_kern_sse_f32(i) __m128 c##i##a, c##i##b;
#define ZERO_kern_sse_f32(i) c##i##a = _mm_setzero_ps(); c##i##b = _mm_setzero_ps();
#define STEP_kern_sse_f32(i) { __m128 ai = _mm_set1_ps(a[i]); \
    c##i##a = _mm_add_ps(c##i##a, _mm_mul_ps(ai, b0)); c##i##b = _mm_add_ps(c##i##b, _mm_mul_ps(ai, b1)); }
#define ADDC_kern_sse_f32(i) c##i##a = _mm_add_ps(_mm_loadu_ps(c + (i) * ldc), c##i##a); \
    c##i##b = _mm_add_ps(_mm_loadu_ps(c + (i) * ldc + 4), c##i##b);
#define BIAS_kern_sse_f32(i) c##i##a = _mm_add_ps(c##i##a, s0); c##i##b = _mm_add_ps(c##i##b, s1);
#define STORE_kern_sse_f32(i) _mm_storeu_ps(c + (i) * ldc, c##i##a); _mm_storeu_ps(c + (i) * ldc + 4, c##i##b);
SIMD_KERNEL(kern_sse_f32, , float, REP4, 4, __m128, 4, _mm_loadu_ps, )

#define DECL_kern_sse_f64(i) __m128d c##i##a, c##i##b;
#define ZERO_kern_sse_f64(i) c##i##a = _mm_setzero_pd(); c##i##b = _mm_setzero_pd();
#define STEP_kern_sse_f64(i) { __m128d ai = _mm_set1_pd(a[i]); \
    c##i##a = _mm_add_pd(c##i##a, _mm_mul_pd(ai, b0)); c##i##b = _mm_add_pd(c##i##b, _mm_mul_pd(ai, b1)); }
#define ADDC_kern_sse_f64(i) c##i##a = _mm_add_pd(_mm_loadu_pd(c + (i) * ldc), c##i##a); \
    c##i##b = _mm_add_pd(_mm_loadu_pd(c + (i) * ldc + 2), c##i##b);
#define BIAS_kern_sse_f64(i) c##i##a = _mm_add_pd(c##i##a, s0); c##i##b = _mm_add_pd(c##i##b, s1);
#define STORE_kern_sse_f64(i) _mm_storeu_pd(c + (i) * ldc, c##i##a); _mm_storeu_pd(c + (i) * ldc + 2, c##i##b);
SIMD_KERNEL(kern_sse_f64, , double, REP4, 4, __m128d, 2, _mm_loadu_pd, )
#endif

static const gemm_isa isa_generic = {"generic", {G_MR, G_NR, kern_generic_f32}, {G_MR, G_NR, kern_generic_f64}, 1};
#ifdef NL_GEMM_X86
static const gemm_isa isa_avx512 = {"avx512", {12, 32, kern_avx512_f32}, {12, 16, kern_avx512_f64}, 1};
static const gemm_isa isa_avx2 = {"avx2", {6, 16, kern_avx2_f32}, {6, 8, kern_avx2_f64}, 1};
static const gemm_isa isa_sse = {"sse", {4, 8, kern_sse_f32}, {4, 4, kern_sse_f64}, 0};
#endif

/* Chosen once per process from the CPU. NEGLABEL_GEMM=avx512|avx2|sse|generic
 * forces one (for tests; one the CPU lacks falls back to the best). */
static const gemm_isa *pick(void) {
    const char *env = getenv("NEGLABEL_GEMM");
    if (env && !strcmp(env, "generic")) return &isa_generic;
#ifdef NL_GEMM_X86
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (env && !strcmp(env, "sse")) return &isa_sse;
    if (env && !strcmp(env, "avx2") && has2) return &isa_avx2;
    return has512 ? &isa_avx512 : has2 ? &isa_avx2 : &isa_sse;
#else
    return &isa_generic;
#endif
}

static const gemm_isa *isa(void) {
    static const gemm_isa *chosen; /* every thread would pick the same */
    const gemm_isa *p = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!p) {
        p = pick();
        __atomic_store_n(&chosen, p, __ATOMIC_RELEASE);
    }
    return p;
}

const char *nli_gemm_kernel_name(void) { return isa()->name; }

void nli_gemm_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

/* ------------------------------------------------------------------------
 * Packing, and the same sums without packing (only when the packing
 * buffers cannot be allocated), for each element type. */
#define PACK_FUNCS(T, SUF, FMA)                                                                                   \
    /* rows [r0, r0+mr) of X (M x K), k in [k0, k0+kc), to [kc][mr]; rows past M are 0 */                       \
    static void pack_##SUF(const void *Xv, size_t M, size_t K, size_t r0, int mr, size_t k0, int kc, void *dv) { \
        const T *X = Xv, *src[32] = {0};                                                                         \
        T *dst = dv;                                                                                             \
        for (int i = 0; i < mr; i++) src[i] = r0 + i < M ? X + (r0 + i) * K + k0 : NULL;                          \
        for (int k = 0; k < kc; k++, dst += mr)                                                                  \
            for (int i = 0; i < mr; i++) dst[i] = src[i] ? src[i][k] : 0;                                       \
    }                                                                                                            \
    static void unpacked_##SUF(int fused, const T *A, const T *B, const T *bias, T *C, size_t M, size_t N,        \
                               size_t K) {                                                                       \
        for (size_t i = 0; i < M; i++)                                                                           \
            for (size_t j = 0; j < N; j++) {                                                                     \
                const T *a = A + i * K, *b = B + j * K;                                                          \
                T acc = 0;                                                                                       \
                for (size_t k0 = 0; k0 < K; k0 += KB) {                                                          \
                    size_t k1 = K - k0 < KB ? K : k0 + KB;                                                       \
                    T part = 0;                                                                                  \
                    for (size_t k = k0; k < k1; k++) {                                                           \
                        if (fused) {                                                                             \
                            part = FMA(a[k], b[k], part);                                                        \
                        } else {                                                                                 \
                            volatile T p = a[k] * b[k]; /* round the product: no contraction */                  \
                            part += p;                                                                           \
                        }                                                                                        \
                    }                                                                                            \
                    acc = k0 ? acc + part : part;                                                                \
                }                                                                                                \
                C[i * N + j] = bias ? acc + bias[j] : acc;                                                       \
            }                                                                                                    \
    }
PACK_FUNCS(float, f32, fmaf)
PACK_FUNCS(double, f64, fma)

typedef void (*pack_fn)(const void *X, size_t M, size_t K, size_t r0, int mr, size_t k0, int kc, void *dst);

static void *alloc64(size_t n) { return aligned_alloc(64, (n + 63) & ~(size_t)63); }

/* C[M,N] = A[M,K] B[N,K]^T (+ biasp, the bias padded to whole panels, when
 * not NULL) with kernel kn, on nt threads; ap, bp: packing buffers for one
 * block of KC k-steps. */
static void gemm_packed(const kernel *kn, pack_fn pack, size_t esz, const char *A, const char *B, const char *biasp,
                        char *C, size_t M, size_t N, size_t K, int nt, char *ap, char *bp) {
    const int mr = kn->mr, nr = kn->nr;
    const size_t rp = (M + mr - 1) / mr, cp = (N + nr - 1) / nr; /* row and column panels */
    const size_t rtasks = (rp + RG - 1) / RG, ctasks = (cp + CG - 1) / CG, ntask = rtasks * ctasks;
    if ((size_t)nt > ntask) nt = (int)ntask;
#pragma omp parallel num_threads(nt)
    for (size_t k0 = 0; k0 < K; k0 += KC) {
        const int kc = (int)(K - k0 < KC ? K - k0 : KC);
        const int first = k0 == 0, last = k0 + (size_t)kc == K;
        const size_t apan = (size_t)mr * kc * esz, bpan = (size_t)nr * kc * esz; /* panel bytes */
#pragma omp for schedule(static)
        for (size_t p = 0; p < rp + cp; p++) {
            if (p < rp)
                pack(A, M, K, p * mr, mr, k0, kc, ap + p * apan);
            else
                pack(B, N, K, (p - rp) * nr, nr, k0, kc, bp + (p - rp) * bpan);
        }
        /* (implicit barrier: all panels packed before any tile reads them) */
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < ntask; t++) {
            const size_t r_lo = (t / ctasks) * RG, c_lo = (t % ctasks) * CG;
            const size_t r_hi = r_lo + RG < rp ? r_lo + RG : rp, c_hi = c_lo + CG < cp ? c_lo + CG : cp;
            /* the next B panel is prefetched in slices, one per row panel */
            const size_t bslice = (bpan + (r_hi - r_lo) - 1) / (r_hi - r_lo);
            char tmp[MAX_TILE_BYTES] __attribute__((aligned(64)));
            for (size_t q = c_lo; q < c_hi; q++) {
                const char *bq = bp + q * bpan, *sq = last && biasp ? biasp + q * nr * esz : NULL;
                const size_t j0 = q * nr, nj = N - j0 < (size_t)nr ? N - j0 : (size_t)nr;
                for (size_t r = r_lo; r < r_hi; r++) {
                    const char *ar = ap + r * apan;
                    const size_t i0 = r * mr, ni = M - i0 < (size_t)mr ? M - i0 : (size_t)mr;
                    const size_t rn = r + 1 < r_hi ? r + 1 : r_lo;
                    const int more_b = q + 1 < c_hi;
                    prefetch_hint pf = {ap + rn * apan, more_b ? bq + bpan + (r - r_lo) * bslice : bq,
                                        rn != r_lo || more_b ? apan : 0, more_b ? bslice : 0};
                    char *c = C + (i0 * N + j0) * esz;
                    if (ni == (size_t)mr && nj == (size_t)nr) {
                        kn->kern(kc, ar, bq, c, N, !first, sq, &pf);
                        continue;
                    }
                    /* edge tile: through a full-size scratch tile (the padding
                     * rows and columns are zeros in the panels, discarded) */
                    memset(tmp, 0, sizeof tmp);
                    if (!first)
                        for (size_t i = 0; i < ni; i++) memcpy(tmp + i * nr * esz, c + i * N * esz, nj * esz);
                    kn->kern(kc, ar, bq, tmp, (size_t)nr, !first, sq, &pf);
                    for (size_t i = 0; i < ni; i++) memcpy(c + i * N * esz, tmp + i * nr * esz, nj * esz);
                }
            }
        }
    }
}

/* Threads: small products stay on the calling thread (the count changes
 * only who computes a tile, never how). */
static int threads_for(size_t M, size_t N, size_t K, int n_threads) {
    if ((double)M * (double)N * (double)K < (double)(1 << 20)) return 1;
    int nt = n_threads > 0 ? n_threads : omp_get_max_threads();
    return nt < 1 ? 1 : nt;
}

#define GEMM_ENTRY(T, SUF, field)                                                                                 \
    static void gemm_##SUF(const T *A, const T *B, const T *bias, T *C, size_t M, size_t N, size_t K,             \
                           int n_threads) {                                                                      \
        if (!M || !N) return;                                                                                    \
        const gemm_isa *is = isa();                                                                              \
        if (!K) { /* empty sums: the bias, or zeros */                                                           \
            for (size_t i = 0; i < M; i++)                                                                       \
                for (size_t j = 0; j < N; j++) C[i * N + j] = bias ? bias[j] : 0;                                \
            return;                                                                                              \
        }                                                                                                        \
        const kernel *kn = &is->field;                                                                           \
        const size_t rp = (M + kn->mr - 1) / kn->mr, cp = (N + kn->nr - 1) / kn->nr;                             \
        const size_t kc = K < KC ? K : KC;                                                                       \
        char *ap = alloc64(rp * kn->mr * kc * sizeof(T)), *bp = alloc64(cp * kn->nr * kc * sizeof(T));           \
        T *biasp = bias ? calloc(cp * kn->nr, sizeof(T)) : NULL;                                                 \
        if (ap && bp && (!bias || biasp)) {                                                                      \
            if (bias) memcpy(biasp, bias, N * sizeof(T));                                                        \
            gemm_packed(kn, pack_##SUF, sizeof(T), (const char *)A, (const char *)B, (const char *)biasp,       \
                        (char *)C, M, N, K, threads_for(M, N, K, n_threads), ap, bp);                            \
        } else {                                                                                                 \
            unpacked_##SUF(is->fused, A, B, bias, C, M, N, K);                                                   \
        }                                                                                                        \
        free(ap);                                                                                                \
        free(bp);                                                                                                \
        free(biasp);                                                                                             \
    }
GEMM_ENTRY(float, f32, f32)
GEMM_ENTRY(double, f64, f64)

void nli_gemm(const float *A, const float *W, const float *bias, float *C, size_t M, size_t N, size_t K) {
    gemm_f32(A, W, bias, C, M, N, K, 0);
}

void nli_gemm_f64(const double *A, const double *B, double *C, size_t M, size_t N, size_t K, int n_threads) {
    gemm_f64(A, B, NULL, C, M, N, K, n_threads);
}
