/* gemm_bf16.c — see gemm_bf16.h. Products in bfloat16 with float32
 * accumulation on the CPU's own bf16 instructions:
 *
 *   - Intel AMX (Sapphire Rapids and later Xeons): TDPBF16PS multiplies a
 *     16 x 32 bf16 tile by a 32 x 16 one into a 16 x 16 float32 tile; the
 *     kernel keeps a 32 x 32 block of C in four tiles;
 *   - AVX512-BF16 (Cooper Lake, Zen 4 and later): VDPBF16PS, 16 float32
 *     lanes each adding two products per instruction; 8 x 32 blocks of C in
 *     16 registers.
 *
 * Both read the same packed weights (gemm_bf16.h: panels of 16 columns, k
 * in pairs) and the same bf16 rows of A (zero-padded to 32 rows and 32
 * columns). Every element of C is one accumulator that runs over k from 0
 * to k_pad in a fixed order, and the padding adds exact zeros, so a result
 * depends only on its row of A, its column of W and the kernel: not on the
 * number of rows, the row's position, the blocking or the thread count
 * (the AMX and AVX512-BF16 kernels differ from each other in the last
 * bits; one machine always uses the same one).
 *
 * AMX needs the kernel's permission (arch_prctl ARCH_REQ_XCOMP_PERM for
 * XTILEDATA, Linux 5.16+), asked once; without it the AVX512-BF16 kernel
 * runs. */
#include "gemm_bf16.h"
#include "util.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define NL_BF16_X86 1
#endif

enum { K_NONE, K_AVX512, K_AMX };

static void cvt(const float *a, uint16_t *d, size_t n);
static const char *const KERNEL_NAMES[] = {"none", "avx512bf16", "amx"};

/* ------------------------------------------------------------- packing */

size_t nli_bf16_packed_count(size_t n, size_t k) { return nli_bf16_round32(n) * nli_bf16_round32(k); }

/* Element (col, kx) of the packed matrix: panel col / 16, pair row kx / 2. */
#define PACKED_AT(buf, kp, col, kx) \
    ((buf)[((col) / 16) * (kp) * 16 + ((kx) / 2) * 32 + ((col) % 16) * 2 + ((kx) & 1)])
#define PACK_CHUNK 256

void nli_bf16_pack_into(nli_bf16_matrix *m, uint16_t *buf, const float *W, size_t n, size_t k, size_t ldw,
                        int trans) {
    m->n = n;
    m->k = k;
    m->n_pad = nli_bf16_round32(n);
    m->k_pad = nli_bf16_round32(k);
    m->data = buf;
    m->owned = 0;
    const size_t kp = m->k_pad;
    uint16_t tmp[PACK_CHUNK];
    memset(buf, 0, m->n_pad * kp * sizeof *buf);
    /* rows of W converted a chunk at a time, then spread into the panels */
    size_t rows = trans ? k : n, len = trans ? n : k;
    for (size_t r = 0; r < rows; r++)
        for (size_t c0 = 0; c0 < len; c0 += PACK_CHUNK) {
            size_t c = len - c0 < PACK_CHUNK ? len - c0 : PACK_CHUNK;
            cvt(W + r * ldw + c0, tmp, c);
            if (trans)
                for (size_t e = 0; e < c; e++) PACKED_AT(buf, kp, c0 + e, r) = tmp[e];
            else
                for (size_t e = 0; e < c; e++) PACKED_AT(buf, kp, r, c0 + e) = tmp[e];
        }
}

int nli_bf16_pack(nli_bf16_matrix *m, const float *W, size_t n, size_t k, size_t ldw) {
    uint16_t *buf = nli_mallocarray(nli_bf16_packed_count(n, k), sizeof(uint16_t));
    if (!buf) {
        nli_prefixerr("bf16 weights");
        return -1;
    }
    nli_bf16_pack_into(m, buf, W, n, k, ldw, 0);
    m->owned = 1;
    return 0;
}

void nli_bf16_matrix_free(nli_bf16_matrix *m) {
    if (m && m->owned) free(m->data);
    if (m) memset(m, 0, sizeof *m);
}

#ifdef NL_BF16_X86
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
/* nli_f32_to_bf16_rne on 16 values at a time: the same bits. */
AVX512_TARGET static void cvt_avx512(const float *a, uint16_t *d, size_t n) {
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    const __m512i absm = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i quiet = _mm512_set1_epi32(0x40);
    size_t j = 0;
    for (; j < n; j += 16) {
        __mmask16 in = n - j >= 16 ? 0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(in, a + j));
        __m512i hi = _mm512_srli_epi32(u, 16);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(hi, one))), 16);
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, absm), inf);
        r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(hi, quiet));
        _mm256_mask_storeu_epi16(d + j, in, _mm512_cvtepi32_epi16(r));
    }
}
#endif

static int have_avx512(void) {
#ifdef NL_BF16_X86
    static int v = -1;
    int x = __atomic_load_n(&v, __ATOMIC_RELAXED);
    if (x < 0) {
        __builtin_cpu_init();
        x = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
        __atomic_store_n(&v, x, __ATOMIC_RELAXED);
    }
    return x;
#else
    return 0;
#endif
}

/* d[0..n) = bf16(a[0..n)) */
static void cvt(const float *a, uint16_t *d, size_t n) {
#ifdef NL_BF16_X86
    if (have_avx512()) {
        cvt_avx512(a, d, n);
        return;
    }
#endif
    for (size_t j = 0; j < n; j++) d[j] = nli_f32_to_bf16_rne(a[j]);
}

void nli_bf16_convert_rows(const float *A, size_t lda, size_t m, size_t k, uint16_t *dst, size_t ldd,
                           size_t m_pad, size_t k_pad) {
    for (size_t i = 0; i < m_pad; i++) {
        uint16_t *d = dst + i * ldd;
        if (i >= m) {
            memset(d, 0, k_pad * sizeof *d);
            continue;
        }
        cvt(A + i * lda, d, k);
        memset(d + k, 0, (k_pad - k) * sizeof *d);
    }
}

/* Rows [0, 32) of A (m of them valid) in tile order: element (i, j) at
 * ((i / 16) * (kp / 32) + j / 32) * 512 + (i % 16) * 32 + j % 32. */
static void convert_tiled(const float *A, size_t lda, size_t m, size_t k, uint16_t *dst, size_t kp) {
    for (size_t i = 0; i < 32; i++) {
        uint16_t *d = dst + (i / 16) * kp * 16 + (i % 16) * 32;
        for (size_t j0 = 0; j0 < kp; j0 += 32) {
            uint16_t *t = d + j0 * 16;
            size_t n = i < m && j0 < k ? (k - j0 < 32 ? k - j0 : 32) : 0;
            if (n) cvt(A + i * lda + j0, t, n);
            if (n < 32) memset(t + n, 0, (32 - n) * sizeof *t);
        }
    }
}

/* -------------------------------------------------------------- kernels */

/* tile[32][32] = A[32 rows, lda apart][kp] * panels b0, b1 (32 columns). */
typedef void (*block_fn)(const uint16_t *A, size_t lda, const uint16_t *b0, const uint16_t *b1, size_t kp,
                         float *tile);

#ifdef NL_BF16_X86
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bf16")))
#define AVX512BF16_TARGET __attribute__((target("avx512f,avx512bf16")))

typedef struct {
    uint8_t palette_id, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_config;

/* Every tile 16 rows x 64 bytes. Loaded with inline asm: GCC 12 drops the
 * stores that fill a local config before its _tile_loadconfig builtin
 * (rows and colsb stay 0, and the next tile instruction faults). */
static const tile_config TILE_CONFIG __attribute__((aligned(64))) = {
    .palette_id = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

AMX_TARGET static void amx_configure(void) { __asm__ volatile("ldtilecfg %0" : : "m"(TILE_CONFIG) : "memory"); }

AMX_TARGET static void amx_release(void) { _tile_release(); }

/* Tiles 0-3: C (rows 0-15 x cols 0-15, 0-15 x 16-31, 16-31 x 0-15,
 * 16-31 x 16-31); 4, 5: A rows 0-15 and 16-31; 6, 7: the two panels. Per
 * step of 32 k: B tile rows are k pairs, 16 columns x 2 values = 64 bytes. */
AMX_TARGET static void block_amx(const uint16_t *A, size_t lda, const uint16_t *b0, const uint16_t *b1, size_t kp,
                                 float *tile) {
    const long sa = (long)(lda * sizeof(uint16_t));
    const uint16_t *a1 = A + 16 * lda;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t k = 0; k < kp; k += 32) {
        _tile_loadd(4, A + k, sa);
        _tile_loadd(5, a1 + k, sa);
        _tile_loadd(6, b0 + k * 16, 64);
        _tile_loadd(7, b1 + k * 16, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, tile, 128);
    _tile_stored(1, tile + 16, 128);
    _tile_stored(2, tile + 16 * 32, 128);
    _tile_stored(3, tile + 16 * 32 + 16, 128);
}

/* The same on A in tile order (convert_tiled): 16-row x 32-k tiles of 1 KiB,
 * k-tiles of one 16-row block consecutive, so every tile load is contiguous.
 * A points at the block's first tile; its second 16 rows start kp*16
 * values later. Only k in [k0, k1): the sums start from tile (a 32 x 32
 * float block, kept between calls) unless first. Storing and reloading
 * float32 is exact, so splitting k changes nothing in the result. */
AMX_TARGET static void block_amx_tiled(const uint16_t *A, const uint16_t *b0, const uint16_t *b1, size_t kp,
                                       size_t k0, size_t k1, float *tile, int first) {
    const uint16_t *a1 = A + 16 * kp;
    if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        _tile_loadd(0, tile, 128);
        _tile_loadd(1, tile + 16, 128);
        _tile_loadd(2, tile + 16 * 32, 128);
        _tile_loadd(3, tile + 16 * 32 + 16, 128);
    }
    for (size_t k = k0; k < k1; k += 32) {
        _tile_loadd(4, A + k * 16, 64);
        _tile_loadd(5, a1 + k * 16, 64);
        _tile_loadd(6, b0 + k * 16, 64);
        _tile_loadd(7, b1 + k * 16, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, tile, 128);
    _tile_stored(1, tile + 16, 128);
    _tile_stored(2, tile + 16 * 32, 128);
    _tile_stored(3, tile + 16 * 32 + 16, 128);
}

/* Four groups of 8 rows; per k pair, two 64-byte panel rows and 8
 * broadcast pairs of A. */
AVX512BF16_TARGET static void block_avx512(const uint16_t *A, size_t lda, const uint16_t *b0, const uint16_t *b1,
                                           size_t kp, float *tile) {
    for (int g = 0; g < 4; g++) {
        const uint16_t *a = A + (size_t)g * 8 * lda;
        __m512 c0[8], c1[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) c0[r] = c1[r] = _mm512_setzero_ps();
        for (size_t kk = 0; kk < kp; kk += 2) {
            __m512i v0 = _mm512_loadu_si512((const void *)(b0 + kk * 16));
            __m512i v1 = _mm512_loadu_si512((const void *)(b1 + kk * 16));
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) {
                int32_t pair;
                memcpy(&pair, a + r * lda + kk, sizeof pair);
                __m512i av = _mm512_set1_epi32(pair);
                c0[r] = _mm512_dpbf16_ps(c0[r], (__m512bh)av, (__m512bh)v0);
                c1[r] = _mm512_dpbf16_ps(c1[r], (__m512bh)av, (__m512bh)v1);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            _mm512_storeu_ps(tile + (g * 8 + r) * 32, c0[r]);
            _mm512_storeu_ps(tile + (g * 8 + r) * 32 + 16, c1[r]);
        }
    }
}

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3])) r[0] = r[1] = r[2] = r[3] = 0;
}

static unsigned long long xcr0(void) {
    unsigned r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 27))) return 0; /* no OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static int cpu_avx512bf16(void) {
    unsigned r[4], s[4];
    cpuid(0, 0, r);
    if (r[0] < 7) return 0;
    cpuid(7, 0, r);
    cpuid(7, 1, s);
    int f = (r[1] & (1u << 16)) && (s[0] & (1u << 5)); /* AVX512F, AVX512_BF16 */
    return f && (xcr0() & 0xe6) == 0xe6;               /* SSE, AVX, opmask, ZMM state */
}

static int cpu_amx(void) {
    unsigned r[4];
    cpuid(0, 0, r);
    if (r[0] < 7) return 0;
    cpuid(7, 0, r);
    int f = (r[3] & (1u << 22)) && (r[3] & (1u << 24)); /* AMX-BF16, AMX-TILE */
    return f && (xcr0() & (3ull << 17)) == (3ull << 17); /* XTILECFG, XTILEDATA */
}

static int amx_permission(void) {
#ifdef SYS_arch_prctl
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
    return 0;
#endif
}
#endif /* NL_BF16_X86 */

static int pick(void) {
#ifdef NL_BF16_X86
    const char *env = getenv("NEGLABEL_CPU_BF16");
    int has512 = cpu_avx512bf16();
    int amx = has512 && cpu_amx();
    if (env && !strcmp(env, "none")) return K_NONE;
    if (env && !strcmp(env, "avx512bf16")) return has512 ? K_AVX512 : K_NONE;
    if (amx && amx_permission()) return K_AMX;
    if (env && !strcmp(env, "amx")) return K_NONE;
    return has512 ? K_AVX512 : K_NONE;
#else
    return K_NONE;
#endif
}

static int chosen = -1; /* every thread would pick the same */

static int kernel_id(void) {
    int k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (k < 0) {
        k = pick();
        __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    }
    return k;
}

const char *nli_bf16_kernel_name(void) { return KERNEL_NAMES[kernel_id()]; }

int nli_bf16_set_kernel(const char *name) {
    int want = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, KERNEL_NAMES[i])) want = i;
    if (want < 0) return -1;
#ifdef NL_BF16_X86
    if (want == K_AVX512 && !cpu_avx512bf16()) return -1;
    if (want == K_AMX && !(cpu_avx512bf16() && cpu_amx() && amx_permission())) return -1;
#else
    if (want != K_NONE) return -1;
#endif
    __atomic_store_n(&chosen, want, __ATOMIC_RELEASE);
    return 0;
}
int nli_bf16_available(void) { return kernel_id() != K_NONE; }

const char *nli_bf16_cpu_features(void) {
#ifdef NL_BF16_X86
    if (!cpu_avx512bf16()) return "";
    return cpu_amx() ? "amx-bf16 avx512-bf16" : "avx512-bf16";
#else
    return "";
#endif
}

/* ------------------------------------------------------------ drivers */

/* C[mb.., nb..] = scale * tile + bias, for the valid rows and columns
 * (callers give a scale or a bias, not both: no fused multiply-add). */
#ifdef NL_BF16_X86
AVX512_TARGET static void store_tile_avx512(const float *tile, size_t mr, size_t nc, const float *bias, float scale,
                                            float *C, size_t ldc) {
    __mmask16 m0 = nc >= 16 ? 0xffff : (__mmask16)((1u << nc) - 1);
    __mmask16 m1 = nc <= 16 ? 0 : nc >= 32 ? 0xffff : (__mmask16)((1u << (nc - 16)) - 1);
    __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    __m512 sc = _mm512_set1_ps(scale);
    for (size_t i = 0; i < mr; i++) {
        __m512 v0 = _mm512_load_ps(tile + i * 32), v1 = _mm512_load_ps(tile + i * 32 + 16);
        if (scale != 1.0f) {
            v0 = _mm512_mul_ps(v0, sc);
            v1 = _mm512_mul_ps(v1, sc);
        }
        if (bias) {
            v0 = _mm512_add_ps(v0, b0);
            v1 = _mm512_add_ps(v1, b1);
        }
        _mm512_mask_storeu_ps(C + i * ldc, m0, v0);
        _mm512_mask_storeu_ps(C + i * ldc + 16, m1, v1);
    }
}
#endif

static void store_tile(const float *tile, size_t m, size_t mb, const nli_bf16_matrix *W, size_t nb,
                       const float *bias, float scale, float *C, size_t ldc) {
    size_t mr = m - mb < 32 ? m - mb : 32, nc = W->n - nb < 32 ? W->n - nb : 32;
#ifdef NL_BF16_X86
    if (have_avx512()) {
        store_tile_avx512(tile, mr, nc, bias ? bias + nb : NULL, scale, C + mb * ldc + nb, ldc);
        return;
    }
#endif
    for (size_t i = 0; i < mr; i++) {
        float *c = C + (mb + i) * ldc + nb;
        const float *t = tile + i * 32;
        for (size_t j = 0; j < nc; j++) {
            float v = t[j];
            if (scale != 1.0f) v *= scale;
            if (bias) v += bias[nb + j];
            c[j] = v;
        }
    }
}

/* C rows [m0, m1) x columns [n0, n1) (n0, n1 multiples of 32 or n1 = n_pad)
 * of scale * Ab W^T + bias; one thread, tiles configured by the caller. */
static void region(block_fn blk, const uint16_t *Ab, size_t lda, size_t m, size_t m0, size_t m1,
                   const nli_bf16_matrix *W, size_t n0, size_t n1, const float *bias, float scale, float *C,
                   size_t ldc) {
    float tile[32 * 32] __attribute__((aligned(64)));
    const size_t kp = W->k_pad;
    for (size_t nb = n0; nb < n1; nb += 32) {
        const uint16_t *b0 = W->data + (nb / 16) * kp * 16, *b1 = b0 + kp * 16;
        if (nb >= W->n) break;
        for (size_t mb = m0; mb < m1; mb += 32) {
            blk(Ab + mb * lda, lda, b0, b1, kp, tile);
            store_tile(tile, m, mb, W, nb, bias, scale, C, ldc);
        }
    }
}

static block_fn block_for(int k) {
#ifdef NL_BF16_X86
    if (k == K_AMX) return block_amx;
    if (k == K_AVX512) return block_avx512;
#endif
    (void)k;
    return NULL;
}

static void begin(int k) {
#ifdef NL_BF16_X86
    if (k == K_AMX) amx_configure();
#endif
    (void)k;
}

static void end(int k) {
#ifdef NL_BF16_X86
    if (k == K_AMX) amx_release();
#endif
    (void)k;
}

void nli_gemm_bf16_1t(const uint16_t *Ab, size_t lda, size_t m, const nli_bf16_matrix *W, const float *bias,
                      float scale, float *C, size_t ldc) {
    int k = kernel_id();
    block_fn blk = block_for(k);
    if (!blk || m == 0) return; /* callers check nli_bf16_available() */
    begin(k);
    region(blk, Ab, lda, m, 0, nli_bf16_round32(m), W, 0, W->n_pad, bias, scale, C, ldc);
    end(k);
}

size_t nli_gemm_bf16_ws_bytes(size_t M, size_t K) {
    return nli_bf16_round32(M) * nli_bf16_round32(K) * sizeof(uint16_t);
}

/* Work split: tasks of MC rows x NC columns; their order and size change
 * which thread computes what, never a result. AMX: k in steps of KC, so
 * that a block's A tiles and B panels stay in L1 (32 KiB each). */
#define MC 128
#define NC 128
#define KC 512

#ifdef NL_BF16_X86
/* region() for AMX on A in tile order, k split in KC steps; the partial
 * sums of the task's MC x NC block wait in acc. */
static void region_amx(const uint16_t *Ab, size_t m, size_t m0, size_t m1, const nli_bf16_matrix *W, size_t n0,
                       size_t n1, const float *bias, float *C, size_t ldc) {
    float acc[MC * NC] __attribute__((aligned(64)));
    const size_t kp = W->k_pad;
    if (n1 > W->n) n1 = nli_bf16_round32(W->n);
    for (size_t k0 = 0; k0 < kp; k0 += KC) {
        size_t k1 = kp - k0 < KC ? kp : k0 + KC;
        for (size_t nb = n0; nb < n1; nb += 32) {
            const uint16_t *b0 = W->data + (nb / 16) * kp * 16, *b1 = b0 + kp * 16;
            for (size_t mb = m0; mb < m1; mb += 32)
                block_amx_tiled(Ab + mb * kp, b0, b1, kp, k0, k1,
                                acc + (((mb - m0) / 32) * (NC / 32) + (nb - n0) / 32) * 1024, k0 == 0);
        }
    }
    for (size_t nb = n0; nb < n1; nb += 32)
        for (size_t mb = m0; mb < m1; mb += 32)
            store_tile(acc + (((mb - m0) / 32) * (NC / 32) + (nb - n0) / 32) * 1024, m, mb, W, nb, bias, 1.0f, C,
                       ldc);
}
#endif

void nli_gemm_bf16(const float *A, size_t lda, const nli_bf16_matrix *W, const float *bias, float *C, size_t ldc,
                   size_t M, int n_threads, void *ws) {
    int k = kernel_id();
    block_fn blk = block_for(k);
    if (!blk || M == 0) return;
    if (n_threads < 1) n_threads = omp_get_max_threads();
    const size_t kp = W->k_pad, mp = nli_bf16_round32(M);
    uint16_t *Ab = ws;
    int tiled = k == K_AMX; /* AMX: A in tile order, so that every tile load is contiguous */
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t i = 0; i < mp; i += 32) {
        size_t rows = M - i < 32 ? M - i : 32;
        if (tiled) convert_tiled(A + i * lda, lda, rows, W->k, Ab + i * kp, kp);
        else nli_bf16_convert_rows(A + i * lda, lda, rows, W->k, Ab + i * kp, kp, 32, kp);
    }
    const size_t tm = (mp + MC - 1) / MC, tn = (W->n_pad + NC - 1) / NC;
#pragma omp parallel num_threads(n_threads)
    {
        begin(k);
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < tm * tn; t++) {
            size_t m0 = (t / tn) * MC, n0 = (t % tn) * NC;
            size_t m1 = m0 + MC < mp ? m0 + MC : mp, n1 = n0 + NC < W->n_pad ? n0 + NC : W->n_pad;
#ifdef NL_BF16_X86
            if (tiled) {
                region_amx(Ab, M, m0, m1, W, n0, n1, bias, C, ldc);
                continue;
            }
#endif
            region(blk, Ab, kp, M, m0, m1, W, n0, n1, bias, 1.0f, C, ldc);
        }
        end(k);
    }
}
