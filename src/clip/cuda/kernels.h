/* kernels.h — launchers of the CLIP engine's small kernels (kernels.cu)
 * and its fused attention (attention.cu). Private to src/clip/cuda. prec is the
 * activation type of T* buffers (nl_precision: 1 float, 2 half, 3 bf16).
 * Each returns 0, or -1 with the launch error set. */
#ifndef NEGLABEL_CUDA_KERNELS_H
#define NEGLABEL_CUDA_KERNELS_H
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* C linkage: tests/test_gpu_kernels.c calls them from C */
#endif

/* y = LayerNorm(x[idx[r] or r] + pb) into yf (float) and/or yt (T); pb may be
 * NULL. yf may be x itself (in place). */
int nli_k_layernorm(int prec, cudaStream_t st, const float *x, const int *idx, const float *pb, const float *w,
                    const float *b, float *yf, void *yt, int rows, int D, double eps);
/* h (rows x N of T) = act(h + bias): act 0 none, 1 QuickGELU, 2 GELU (erf),
 * 3 ReLU, 4 GELU's tanh approximation (gelu_pytorch_tanh: SigLIP). */
int nli_k_bias_act(int prec, cudaStream_t st, void *h, const float *bias, size_t rows, int N, int act);
int nli_k_patches_u8(int prec, cudaStream_t st, const uint8_t *rgb, void *out, int B, int S, int p, const float mean[3],
                 const float stdv[3]);
int nli_k_patches_f32(int prec, cudaStream_t st, const float *pix, void *out, int B, int S, int p);
/* x[b*T + t] = (t ? pe[b*(T-1) + t-1] : cls) + pos[t]; without a class token
 * (cls NULL: SigLIP) x[b*T + t] = (pe[b*T + t] + pb) + pos[t] (pb: the patch
 * embedding's bias, NULL: none). */
int nli_k_vit_embed(cudaStream_t st, const float *pe, const float *pb, const float *cls, const float *pos, float *x,
                    int B, int T, int D);
/* SigLIP's attention pool: the probe's query q (D = H * hd, fp32, bias
 * included) attends over each of B images' Tn rows of kv ([k | v], 2D wide,
 * T, bias kv_b added on load); o gets B x D fp32 (before out_proj). Any Tn
 * (an online softmax), hd <= 128. */
int nli_k_siglip_probe(int prec, cudaStream_t st, const float *q, const void *kv, const float *kv_b, float *o, int B,
                       int Tn, int H, int hd);
/* x[r] = tok_emb[tok[r]] + pos_emb[posi[r]] */
int nli_k_text_embed(cudaStream_t st, const int32_t *tok, const int32_t *posi, int rows, const float *tok_emb,
                 const float *pos_emb, float *x, int D);
/* fp32 -> T conversion of n values. */
int nli_k_convert(int prec, cudaStream_t st, const float *src, void *dst, size_t n);

/* ModifiedResNet (resnet_cuda.cu), activations channels-last in T. */
int nli_k_rn_input_u8(int prec, cudaStream_t st, const uint8_t *rgb, void *out, size_t n_px, const float mean[3],
                      const float stdv[3]);
int nli_k_rn_input_f32(int prec, cudaStream_t st, const float *pix, void *out, int B, int S);
/* 3x3 convolution's im2col (padding 1, stride) of B x H x W x C into
 * (B * oh * ow) x (9 C) */
int nli_k_rn_im2col3(int prec, cudaStream_t st, const void *in, void *col, int B, int H, int W, int C, int stride);
int nli_k_rn_avgpool(int prec, cudaStream_t st, const void *in, void *out, int B, int H, int W, int C, int k);
int nli_k_rn_tokens(int prec, cudaStream_t st, const void *x, const float *pos, void *tok, void *q0, int B, int HW,
                    int E);
/* The attention pool's one query per image and head over its T tokens:
 * q (B x E) + q_b against kv (B x T x 2E: k then v) + kv_b, into o (B x E),
 * all fp32, with the CPU's order of operations. */
int nli_k_rn_attnpool(cudaStream_t st, const float *q, const float *q_b, const float *kv, const float *kv_b, float *o,
                      int B, int T, int H, int hd);

/* One attention tile: rows start .. start+len-1 (a sequence, or with pos
 * several whole ones), query rows q0 .. q0+63 of them. */
typedef struct { int start, len, q0, pad; } nli_attn_tile;

/* Fused multi-head attention over packed sequences: qkv rows are
 * [q | k | v] (3D wide, without bias; bias qkv_b added on load), out rows D
 * wide. Never materialises the T x T scores in global memory. causal: row i
 * attends keys 0..i of its sequence. pos (causal only; NULL: each tile is
 * one sequence from its start) holds every row's position in its sequence,
 * so a tile of at most 64 rows may hold several short sequences: row r of a
 * tile attends its keys r - pos[start + r] .. r. seq_len > 0 (without pos
 * or causal) says that the tiles are every sequence's tiles, q0 = 0, 64, ...
 * (as the towers build them), and no sequence is longer than seq_len: the
 * kernel may then take a sequence's rows in one block; 0: unknown. */
int nli_k_attention(int prec, cudaStream_t st, const void *qkv, const float *qkv_b, const int *pos, void *out,
                    const nli_attn_tile *tiles, int n_tiles, int H, int hd, int causal, int seq_len);
/* The kernel nli_k_attention would take on the current device. */
enum { NLI_ATTN_SCALAR, NLI_ATTN_MMA, NLI_ATTN_SEQ };
int nli_k_attention_kernel(int prec, int hd, int causal, const int *pos, int seq_len);

#ifdef __cplusplus
}
#endif
#endif
