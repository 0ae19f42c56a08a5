/* gemm_bf16.h — matrix products in bfloat16 with float32 accumulation, on
 * the CPU's native bf16 instructions: Intel AMX (TDPBF16PS) or AVX512-BF16
 * (VDPBF16PS), chosen at run time. See gemm_bf16.c. */
#ifndef NEGLABEL_GEMM_BF16_H
#define NEGLABEL_GEMM_BF16_H
#include <stddef.h>
#include <stdint.h>

/* The kernels this CPU (and OS) can run: "amx", "avx512bf16", or "none"
 * (no native bf16). NEGLABEL_CPU_BF16=amx|avx512bf16|none forces a choice
 * (one the CPU lacks gives "none"). */
const char *nli_bf16_kernel_name(void);
int nli_bf16_available(void);
/* Tests: use kernel `name` from now on ("amx", "avx512bf16", "none");
 * -1 when this CPU cannot run it. */
int nli_bf16_set_kernel(const char *name);
/* What the CPU offers, whatever NEGLABEL_CPU_BF16 says: "amx-bf16
 * avx512-bf16", "avx512-bf16" or "" (static string). */
const char *nli_bf16_cpu_features(void);

/* float -> bfloat16, round to nearest even (as PyTorch's .to(bfloat16));
 * NaN stays NaN. */
static inline uint16_t nli_f32_to_bf16_rne(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1)) >> 16);
}
static inline size_t nli_bf16_round32(size_t x) { return (x + 31) & ~(size_t)31; }

/* A weight W[n][k] (PyTorch's [out, in] layout) packed for both kernels:
 * panels of 16 output columns, each [k_pad/2][16][2] (pairs of consecutive
 * k per column, "VNNI" order), n_pad = n rounded up to 32 and k_pad = k
 * rounded up to 32, zeros in the padding. */
typedef struct {
    size_t n, k, n_pad, k_pad;
    uint16_t *data; /* n_pad * k_pad values */
    int owned;      /* data was allocated by nli_bf16_pack */
} nli_bf16_matrix;

size_t nli_bf16_packed_count(size_t n, size_t k); /* n_pad * k_pad */
/* Pack W (ldw >= k floats per row) into a new allocation. 0, or -1 (error
 * set: out of memory). */
int nli_bf16_pack(nli_bf16_matrix *m, const float *W, size_t n, size_t k, size_t ldw);
/* The same into caller memory `buf` of nli_bf16_packed_count(n, k) values.
 * trans: W is given as [k][n] (element (j, kk) at W[kk * ldw + j]). */
void nli_bf16_pack_into(nli_bf16_matrix *m, uint16_t *buf, const float *W, size_t n, size_t k, size_t ldw,
                        int trans);
void nli_bf16_matrix_free(nli_bf16_matrix *m);

/* The left operand, "tiled": m rows of k values in bf16 as the kernels read
 * them, 16-row x 32-column tiles of 1 KiB, the k-tiles of one 16-row block
 * consecutive: element (i, j) at (i / 16) * kp * 16 + (j / 32) * 512 +
 * (i % 16) * 32 + j % 32, kp = round32(k); round32(m) rows. Padding
 * (rows past m, columns past k) is zero. */
static inline size_t nli_bf16_tiled_count(size_t m, size_t k) { return nli_bf16_round32(m) * nli_bf16_round32(k); }
/* A (m x k float32, lda apart) into tiled dst, on n_threads threads (<= 1:
 * the calling thread only). */
void nli_bf16_tile(const float *A, size_t lda, size_t m, size_t k, uint16_t *dst, int n_threads);
/* Row i of a tiled buffer from k float32 values (columns k..kp zeroed);
 * nli_bf16_tile_zero_rows zeroes rows [m, round32(m)). */
void nli_bf16_tile_row(const float *a, size_t k, uint16_t *dst, size_t i);
void nli_bf16_tile_zero_rows(uint16_t *dst, size_t m, size_t k);

/* What happens to each result: v = scale * sum (+ bias[col]), then act,
 * then either C[row][col] = v (float32) or, when out_tiled, bf16(v) into a
 * tiled buffer of W's n_pad columns: the next product's left operand. */
enum { NLI_ACT_NONE, NLI_ACT_QUICK_GELU, NLI_ACT_GELU, NLI_ACT_GELU_TANH };
/* x[0..n) = act(x) in float32 with the scalar libm formulas (QuickGELU
 * with expf, GELU with erff, its tanh approximation with tanhf). */
void nli_act_f32(float *x, size_t n, int act);
typedef struct {
    float *C;
    size_t ldc;
    const float *bias;
    float scale; /* 1: none. Give a scale or a bias, not both. */
    int act;
    uint16_t *out_tiled;
} nli_bf16_epilogue;

/* At (tiled, M rows, k = W's k) times W^T, through ep, on n_threads threads
 * (<= 1: the calling thread only, e.g. inside a parallel loop). A result
 * depends only on its row of At, its column of W and the kernel: not on M,
 * the row's position, the blocking or the threads. */
void nli_gemm_bf16_t(const uint16_t *At, size_t M, const nli_bf16_matrix *W, const nli_bf16_epilogue *ep,
                     int n_threads);
/* C[M][N] = A[M][K] * W^T + bias, A float32 (lda floats apart) rounded to
 * bf16 first; ws: nli_gemm_bf16_ws_bytes(M, K) bytes. */
size_t nli_gemm_bf16_ws_bytes(size_t M, size_t K);
void nli_gemm_bf16(const float *A, size_t lda, const nli_bf16_matrix *W, const float *bias, float *C, size_t ldc,
                   size_t M, int n_threads, void *ws);

/* Softmax of each row of S (rows x T) in place with a vector exp (causal:
 * S holds query rows row0.., row i over 0..row0+i, the rest 0): the bf16
 * path's. -1 (nothing done) on a CPU without AVX-512. */
int nli_bf16_softmax_rows(float *S, int rows, int T, int causal, int row0);
#endif
