/* gemm_bf16.h — matrix products in bfloat16 with float32 accumulation, on
 * the CPU's native bf16 instructions: Intel AMX (TDPBF16PS) or AVX512-BF16
 * (VDPBF16PS), chosen at run time. See gemm_bf16.c. */
#ifndef NEGLABEL_GEMM_BF16_H
#define NEGLABEL_GEMM_BF16_H
#include <stddef.h>
#include <stdint.h>

/* The kernels this CPU (and OS) can run: "amx", "avx512bf16", or "none"
 * (no native bf16). NEGLABEL_CPU_BF16=amx|avx512bf16|none forces a choice
 * (one the CPU lacks gives "none"), for tests. */
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

/* Rows of A (lda floats apart) as bf16 rows of ldd >= k_pad values; rows in
 * [m, m_pad) and columns in [k, k_pad) are zero. */
void nli_bf16_convert_rows(const float *A, size_t lda, size_t m, size_t k, uint16_t *dst, size_t ldd,
                           size_t m_pad, size_t k_pad);
static inline size_t nli_bf16_round32(size_t x) { return (x + 31) & ~(size_t)31; }

/* C[m][n] = scale * (Ab[m][.] * W^T) (+ bias[n]), one thread. Ab: bf16 rows
 * from nli_bf16_convert_rows (lda values apart, nli_bf16_round32(m) rows).
 * For an element of C the order of the operations is fixed by the kernel
 * and k alone: the result does not depend on m or the row's position. */
void nli_gemm_bf16_1t(const uint16_t *Ab, size_t lda, size_t m, const nli_bf16_matrix *W, const float *bias,
                      float scale, float *C, size_t ldc);

/* C[M][N] = A[M][K] * W^T + bias, A float32 (lda floats apart) rounded to
 * bf16, on n_threads threads; ws: nli_gemm_bf16_ws_bytes(M, K) bytes.
 * Results are bit-identical whatever M, the row's position or the threads. */
size_t nli_gemm_bf16_ws_bytes(size_t M, size_t K);
void nli_gemm_bf16(const float *A, size_t lda, const nli_bf16_matrix *W, const float *bias, float *C, size_t ldc,
                   size_t M, int n_threads, void *ws);
#endif
