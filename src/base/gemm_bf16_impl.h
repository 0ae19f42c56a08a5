/* gemm_bf16_impl.h — what gemm_bf16.c (packing, tiling, drivers) and
 * gemm_bf16_kernels.c (CPU detection, the AMX and AVX512-BF16 kernels,
 * vector conversion and activations) share. Private to src/base. */
#ifndef NEGLABEL_GEMM_BF16_IMPL_H
#define NEGLABEL_GEMM_BF16_IMPL_H
#include <stddef.h>
#include <stdint.h>

#include "gemm_bf16.h"

enum { NLI_BF16_NONE, NLI_BF16_AVX512, NLI_BF16_AMX };

/* The kernel in use (NLI_BF16_*), chosen once. */
int nli_bf16_kernel(void);
/* 1 when the CPU runs AVX-512 F/BW/VL (the vector helpers below). */
int nli_bf16_have_avx512(void);

/* tile[32][32] (+)= A block x two panels over k in [k0, k1) (multiples of
 * 32). A: a 32-row block of tiled rows (nli_bf16_tile), b0/b1: the
 * panels of 16 columns; first: start from 0, else from tile. Both
 * kernels; AMX needs nli_bf16_begin() on the calling thread. */
typedef void (*nli_bf16_block_fn)(const uint16_t *A, const uint16_t *b0, const uint16_t *b1, size_t kp, size_t k0,
                                  size_t k1, float *tile, int first);
nli_bf16_block_fn nli_bf16_block(int kernel);
void nli_bf16_begin(int kernel); /* AMX: load the tile configuration */
void nli_bf16_end(int kernel);   /* AMX: release the tiles */

/* d[0..n) = bf16(a[0..n)), round to nearest even (nli_f32_to_bf16_rne). */
void nli_bf16_cvt(const float *a, uint16_t *d, size_t n);
/* x[0..n) = act(x), float32 (act: NLI_ACT_*; QuickGELU with the vector exp
 * on AVX-512, the rest as nli_act_f32). */
void nli_bf16_act(float *x, size_t n, int act);
/* The results of one 32 x 32 block (tile; rows row0.., columns col0..; mr
 * and nc of them valid) through ep; out_kp: the tiled output's row length
 * (W's n_pad). Padding rows and columns of a tiled output get zeros. */
void nli_bf16_epilogue_tile(const float *tile, size_t mr, size_t nc, const nli_bf16_epilogue *ep, size_t row0,
                            size_t col0, size_t out_kp);
#endif
