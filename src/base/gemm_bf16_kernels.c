/* gemm_bf16_kernels.c — the machine side of the bf16 products (see
 * gemm_bf16.c): which kernel this CPU runs, the AMX and AVX512-BF16 block
 * kernels, and the AVX-512 helpers of the bf16 path (float -> bf16
 * conversion, QuickGELU, softmax with a vector exp).
 *
 * Both kernels compute a 32 x 32 block of C from a 32-row block of A in
 * tile order and two 16-column panels of W:
 *   - AMX (Sapphire Rapids and later Xeons): TDPBF16PS multiplies a 16 x 32
 *     bf16 tile by a 32 x 16 one into a 16 x 16 float32 tile; four C tiles,
 *     two A tiles, two B tiles (all 16 rows x 64 bytes);
 *   - AVX512-BF16 (Cooper Lake, Zen 4 and later): VDPBF16PS, 16 float32
 *     lanes each adding two products per instruction; 8 rows x 32 columns
 *     in 16 registers, four times.
 * AMX needs the kernel's permission (arch_prctl ARCH_REQ_XCOMP_PERM for
 * XTILEDATA, Linux 5.16+), asked once; without it AVX512-BF16 runs. */
#include "gemm_bf16.h"
#include "gemm_bf16_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define NL_BF16_X86 1
#endif

static const char *const KERNEL_NAMES[] = {"none", "avx512bf16", "amx"};

/* ------------------------------------------------------ CPU detection */

#ifdef NL_BF16_X86
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
    /* AVX512F, BW, VL and BF16, and the OS saving SSE, AVX, opmask and ZMM state */
    int f = (r[1] & (1u << 16)) && (r[1] & (1u << 30)) && (r[1] & (1u << 31)) && (s[0] & (1u << 5));
    return f && (xcr0() & 0xe6) == 0xe6;
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
    if (env && !strcmp(env, "none")) return NLI_BF16_NONE;
    if (env && !strcmp(env, "avx512bf16")) return has512 ? NLI_BF16_AVX512 : NLI_BF16_NONE;
    if (amx && amx_permission()) return NLI_BF16_AMX;
    if (env && !strcmp(env, "amx")) return NLI_BF16_NONE;
    return has512 ? NLI_BF16_AVX512 : NLI_BF16_NONE;
#else
    return NLI_BF16_NONE;
#endif
}

static int chosen = -1; /* every thread would pick the same */

int nli_bf16_kernel(void) {
    int k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (k < 0) {
        k = pick();
        __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    }
    return k;
}

const char *nli_bf16_kernel_name(void) { return KERNEL_NAMES[nli_bf16_kernel()]; }
int nli_bf16_available(void) { return nli_bf16_kernel() != NLI_BF16_NONE; }

int nli_bf16_set_kernel(const char *name) {
    int want = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, KERNEL_NAMES[i])) want = i;
    if (want < 0) return -1;
#ifdef NL_BF16_X86
    if (want == NLI_BF16_AVX512 && !cpu_avx512bf16()) return -1;
    if (want == NLI_BF16_AMX && !(cpu_avx512bf16() && cpu_amx() && amx_permission())) return -1;
#else
    if (want != NLI_BF16_NONE) return -1;
#endif
    __atomic_store_n(&chosen, want, __ATOMIC_RELEASE);
    return 0;
}

const char *nli_bf16_cpu_features(void) {
#ifdef NL_BF16_X86
    if (!cpu_avx512bf16()) return "";
    return cpu_amx() ? "amx-bf16 avx512-bf16" : "avx512-bf16";
#else
    return "";
#endif
}

int nli_bf16_have_avx512(void) {
#ifdef NL_BF16_X86
    static int v = -1;
    int x = __atomic_load_n(&v, __ATOMIC_RELAXED);
    if (x < 0) {
        __builtin_cpu_init();
        x = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl");
        __atomic_store_n(&v, x, __ATOMIC_RELAXED);
    }
    return x;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------ kernels */

#ifdef NL_BF16_X86
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bf16")))
#define AVX512BF16_TARGET __attribute__((target("avx512f,avx512bf16")))
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

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
 * 16-31 x 16-31); 4, 5: A rows 0-15 and 16-31; 6, 7: the two panels. A's
 * k-tiles are 1 KiB apart (tile order), B's 32-k steps too (16 pairs x 64
 * bytes). Storing and reloading float32 between k ranges is exact. */
AMX_TARGET static void block_amx(const uint16_t *A, const uint16_t *b0, const uint16_t *b1, size_t kp, size_t k0,
                                 size_t k1, float *tile, int first) {
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

/* Four groups of 8 rows; per k pair, two 64-byte panel rows and 8 broadcast
 * pairs of A (row r of the block: (r / 16) * kp * 16 + (r % 16) * 32, then
 * 512 values per 32 k). */
AVX512BF16_TARGET static void block_avx512(const uint16_t *A, const uint16_t *b0, const uint16_t *b1, size_t kp,
                                           size_t k0, size_t k1, float *tile, int first) {
    for (int g = 0; g < 4; g++) {
        const uint16_t *a = A + (size_t)(g / 2) * kp * 16 + (size_t)(g % 2) * 8 * 32;
        __m512 c0[8], c1[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            c0[r] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(tile + (g * 8 + r) * 32);
            c1[r] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(tile + (g * 8 + r) * 32 + 16);
        }
        for (size_t kt = k0; kt < k1; kt += 32)
            for (size_t kk = 0; kk < 32; kk += 2) {
                __m512i v0 = _mm512_loadu_si512((const void *)(b0 + (kt + kk) * 16));
                __m512i v1 = _mm512_loadu_si512((const void *)(b1 + (kt + kk) * 16));
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++) {
                    int32_t pair;
                    memcpy(&pair, a + kt * 16 + r * 32 + kk, sizeof pair);
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
#endif /* NL_BF16_X86 */

nli_bf16_block_fn nli_bf16_block(int kernel) {
#ifdef NL_BF16_X86
    if (kernel == NLI_BF16_AMX) return block_amx;
    if (kernel == NLI_BF16_AVX512) return block_avx512;
#endif
    (void)kernel;
    return NULL;
}

void nli_bf16_begin(int kernel) {
#ifdef NL_BF16_X86
    if (kernel == NLI_BF16_AMX) amx_configure();
#endif
    (void)kernel;
}

void nli_bf16_end(int kernel) {
#ifdef NL_BF16_X86
    if (kernel == NLI_BF16_AMX) amx_release();
#endif
    (void)kernel;
}

/* ------------------------------------------------------ vector helpers */

#ifdef NL_BF16_X86
/* nli_f32_to_bf16_rne on 16 values at a time: the same bits. */
AVX512_TARGET static inline __m256i bf16_512(__m512 x) {
    __m512i u = _mm512_castps_si512(x), hi = _mm512_srli_epi32(u, 16);
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(hi, _mm512_set1_epi32(1)))),
        16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(hi, _mm512_set1_epi32(0x40)));
    return _mm512_cvtepi32_epi16(r);
}

AVX512_TARGET static void cvt_avx512(const float *a, uint16_t *d, size_t n) {
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 in = n - j >= 16 ? 0xffff : (__mmask16)((1u << (n - j)) - 1);
        _mm256_mask_storeu_epi16(d + j, in, bf16_512(_mm512_maskz_loadu_ps(in, a + j)));
    }
}

/* exp on 16 floats: Cephes' expf (range reduction by ln 2 in two parts,
 * degree-6 polynomial), about 2 ulp; clamped to float's range. */
AVX512_TARGET static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.37626f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail_mask(size_t left) { return left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1); }

AVX512_TARGET static void quick_gelu_512(float *x, size_t n) {
    const __m512 one = _mm512_set1_ps(1.0f), a = _mm512_set1_ps(-1.702f);
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 k = tail_mask(n - j);
        __m512 v = _mm512_maskz_loadu_ps(k, x + j);
        __m512 d = _mm512_add_ps(one, exp512(_mm512_mul_ps(v, a)));
        _mm512_mask_storeu_ps(x + j, k, _mm512_div_ps(v, d));
    }
}

AVX512_TARGET static void softmax_512(float *S, int rows, int T, int causal, int row0) {
    for (int i = 0; i < rows; i++) {
        float *r = S + (size_t)i * T;
        size_t n = causal ? (size_t)row0 + i + 1 : (size_t)T;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (size_t j = 0; j < n; j += 16)
            mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - j), r + j));
        __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 k = tail_mask(n - j);
            __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, r + j), m)));
            _mm512_mask_storeu_ps(r + j, k, e);
            sum = _mm512_add_ps(sum, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 k = tail_mask(n - j);
            _mm512_mask_storeu_ps(r + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, r + j), inv));
        }
        for (size_t j = n; j < (size_t)T; j++) r[j] = 0.0f;
    }
}
AVX512_TARGET static __m512 act_512(__m512 v, int act) {
    if (act == NLI_ACT_QUICK_GELU)
        return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_mul_ps(v, _mm512_set1_ps(-1.702f)))));
    if (act == NLI_ACT_GELU || act == NLI_ACT_GELU_TANH) {
        float t[16];
        _mm512_storeu_ps(t, v);
        nli_bf16_act(t, 16, act);
        return _mm512_loadu_ps(t);
    }
    return v;
}

AVX512_TARGET static void epilogue_512(const float *tile, size_t mr, size_t nc, const nli_bf16_epilogue *ep,
                                       size_t row0, size_t col0, size_t out_kp) {
    __mmask16 m0 = tail_mask(nc), m1 = nc <= 16 ? 0 : tail_mask(nc - 16);
    const float *bias = ep->bias ? ep->bias + col0 : NULL;
    __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    __m512 sc = _mm512_set1_ps(ep->scale);
    for (size_t i = 0; i < 32; i++) {
        size_t row = row0 + i;
        uint16_t *o = ep->out_tiled ? ep->out_tiled + (row / 16) * out_kp * 16 + (col0 / 32) * 512 + (row % 16) * 32
                                    : NULL;
        if (i >= mr) {
            if (o) _mm512_storeu_si512((void *)o, _mm512_setzero_si512());
            continue;
        }
        __m512 v0 = _mm512_load_ps(tile + i * 32), v1 = _mm512_load_ps(tile + i * 32 + 16);
        if (ep->scale != 1.0f) {
            v0 = _mm512_mul_ps(v0, sc);
            v1 = _mm512_mul_ps(v1, sc);
        }
        if (bias) {
            v0 = _mm512_add_ps(v0, b0);
            v1 = _mm512_add_ps(v1, b1);
        }
        if (ep->act != NLI_ACT_NONE) {
            v0 = act_512(v0, ep->act);
            v1 = act_512(v1, ep->act);
        }
        if (o) { /* columns past n are zero in the next operand */
            _mm256_storeu_si256((__m256i *)o, bf16_512(_mm512_maskz_mov_ps(m0, v0)));
            _mm256_storeu_si256((__m256i *)(o + 16), bf16_512(_mm512_maskz_mov_ps(m1, v1)));
        } else {
            float *c = ep->C + row * ep->ldc + col0;
            _mm512_mask_storeu_ps(c, m0, v0);
            _mm512_mask_storeu_ps(c + 16, m1, v1);
        }
    }
}
#endif /* NL_BF16_X86 */

void nli_bf16_epilogue_tile(const float *tile, size_t mr, size_t nc, const nli_bf16_epilogue *ep, size_t row0,
                            size_t col0, size_t out_kp) {
#ifdef NL_BF16_X86
    if (nli_bf16_have_avx512()) {
        epilogue_512(tile, mr, nc, ep, row0, col0, out_kp);
        return;
    }
#endif
    float v[32];
    for (size_t i = 0; i < 32; i++) {
        size_t row = row0 + i;
        uint16_t *o = ep->out_tiled ? ep->out_tiled + (row / 16) * out_kp * 16 + (col0 / 32) * 512 + (row % 16) * 32
                                    : NULL;
        if (i >= mr) {
            if (o) memset(o, 0, 32 * sizeof *o);
            continue;
        }
        for (size_t j = 0; j < 32; j++) {
            float x = j < nc ? tile[i * 32 + j] : 0.0f;
            if (ep->scale != 1.0f) x *= ep->scale;
            if (ep->bias && j < nc) x += ep->bias[col0 + j];
            v[j] = x;
        }
        nli_bf16_act(v, nc, ep->act);
        if (o)
            for (size_t j = 0; j < 32; j++) o[j] = j < nc ? nli_f32_to_bf16_rne(v[j]) : 0;
        else
            memcpy(ep->C + row * ep->ldc + col0, v, nc * sizeof *v);
    }
}

void nli_bf16_cvt(const float *a, uint16_t *d, size_t n) {
#ifdef NL_BF16_X86
    if (nli_bf16_have_avx512()) {
        cvt_avx512(a, d, n);
        return;
    }
#endif
    for (size_t j = 0; j < n; j++) d[j] = nli_f32_to_bf16_rne(a[j]);
}

void nli_act_f32(float *x, size_t n, int act) {
    if (act == NLI_ACT_QUICK_GELU) {
        for (size_t j = 0; j < n; j++) x[j] = x[j] / (1.0f + expf(-1.702f * x[j]));
    } else if (act == NLI_ACT_GELU) {
        for (size_t j = 0; j < n; j++) x[j] = 0.5f * x[j] * (1.0f + erff(x[j] * (float)M_SQRT1_2));
    } else if (act == NLI_ACT_GELU_TANH) { /* PyTorch's gelu(approximate="tanh") */
        const float beta = (float)(M_SQRT2 * M_2_SQRTPI * 0.5), kappa = 0.044715f;
        for (size_t j = 0; j < n; j++) x[j] = 0.5f * x[j] * (1.0f + tanhf(beta * (x[j] + kappa * x[j] * x[j] * x[j])));
    }
}

void nli_bf16_act(float *x, size_t n, int act) {
#ifdef NL_BF16_X86
    if (act == NLI_ACT_QUICK_GELU && nli_bf16_have_avx512()) {
        quick_gelu_512(x, n);
        return;
    }
#endif
    nli_act_f32(x, n, act);
}

int nli_bf16_softmax_rows(float *S, int rows, int T, int causal, int row0) {
#ifdef NL_BF16_X86
    if (nli_bf16_have_avx512()) {
        softmax_512(S, rows, T, causal, row0);
        return 0;
    }
#endif
    (void)S, (void)rows, (void)T, (void)causal, (void)row0;
    return -1;
}
