/* kernels.cu — the CLIP engine's small kernels: LayerNorm, bias +
 * activation, im2col with normalisation, embeddings, conversion, SigLIP's
 * attention pool. The type-generic ones are in kernels_t.cuh, instantiated
 * here per type. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "cuda/cuda_util.h"
#include "kernels.h"

/* Element i of the im2col matrix (row: image b, patch; column: channel
 * ch, ky, kx, like the conv weight) is pixel (y, xx) of channel ch. */
__device__ __forceinline__ void patch_pixel(size_t i, int S, int p, int *b, int *ch, int *y, int *xx) {
    int g = S / p, np = g * g, Kc = 3 * p * p;
    size_t bp = i / Kc;
    int k = (int)(i % Kc), ky = (k / p) % p, kx = k % p, pi = (int)(bp % np);
    *ch = k / (p * p);
    *b = (int)(bp / np);
    *y = (pi / g) * p + ky;
    *xx = (pi % g) * p + kx;
}

#define LN_V 8 /* float4 per lane in layernorm_v: rows up to 1024 wide */
#define SG_THREADS 256 /* siglip_probe: threads per (image, head) */
#define SG_WARPS (SG_THREADS / 32)
#define NL_T_FILE "kernels_t.cuh"
#include "for_types.cuh"

static int launched(void) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        nli_seterr("CUDA kernel launch: %s", nli_cuda_errstr(e));
        return -1;
    }
    return 0;
}

/* NULL counts as aligned (an absent operand). */
static int aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* Grid for grid-stride loops: enough blocks to fill any current GPU. */
static unsigned grid_for(size_t n, int threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}


int nli_k_layernorm(int prec, cudaStream_t st, const float *x, const int *idx, const float *pb, const float *w,
                    const float *b, float *yf, void *yt, int rows, int D, double eps) {
    if (rows <= 0) return 0;
    unsigned blocks = (unsigned)((rows + 7) / 8);
    int vec = D % 4 == 0 && D <= 128 * LN_V && aligned(x, 16) && aligned(pb, 16) && aligned(w, 16) &&
              aligned(b, 16) && aligned(yf, 16) && aligned(yt, prec == 1 ? 16 : 8);
    if (vec) {
        if (prec == 2) layernorm_v_f16<<<blocks, 256, 0, st>>>(x, idx, pb, w, b, yf, (__half *)yt, rows, D, eps);
        else if (prec == 3)
            layernorm_v_bf16<<<blocks, 256, 0, st>>>(x, idx, pb, w, b, yf, (__nv_bfloat16 *)yt, rows, D, eps);
        else layernorm_v_f32<<<blocks, 256, 0, st>>>(x, idx, pb, w, b, yf, (float *)yt, rows, D, eps);
    } else if (prec == 2) layernorm_f16<<<blocks, 256, 0, st>>>(x, idx, pb, w, b, yf, (__half *)yt, rows, D, eps);
    else if (prec == 3)
        layernorm_bf16<<<blocks, 256, 0, st>>>(x, idx, pb, w, b, yf, (__nv_bfloat16 *)yt, rows, D, eps);
    else layernorm_f32<<<blocks, 256, 0, st>>>(x, idx, pb, w, b, yf, (float *)yt, rows, D, eps);
    return launched();
}

int nli_k_bias_act(int prec, cudaStream_t st, void *h, const float *bias, size_t rows, int N, int act) {
    size_t n = rows * (size_t)N;
    if (!n) return 0;
    int V = prec == 1 ? 4 : 8;
    if (N % V == 0 && aligned(h, 16)) {
        unsigned g = grid_for(n / V, 256);
        if (prec == 2) bias_act_v_f16<<<g, 256, 0, st>>>((__half *)h, bias, rows, N, act);
        else if (prec == 3) bias_act_v_bf16<<<g, 256, 0, st>>>((__nv_bfloat16 *)h, bias, rows, N, act);
        else bias_act_v_f32<<<g, 256, 0, st>>>((float *)h, bias, rows, N, act);
        return launched();
    }
    unsigned g = grid_for(n, 256);
    if (prec == 2) bias_act_f16<<<g, 256, 0, st>>>((__half *)h, bias, rows, N, act);
    else if (prec == 3) bias_act_bf16<<<g, 256, 0, st>>>((__nv_bfloat16 *)h, bias, rows, N, act);
    else bias_act_f32<<<g, 256, 0, st>>>((float *)h, bias, rows, N, act);
    return launched();
}

int nli_k_patches_u8(int prec, cudaStream_t st, const uint8_t *rgb, void *out, int B, int S, int p, const float mean[3],
                 const float stdv[3]) {
    size_t n = (size_t)B * (S / p) * (S / p) * 3 * p * p;
    unsigned g = grid_for(n, 256);
    if (prec == 2)
        patches_u8_f16<<<g, 256, 0, st>>>(rgb, (__half *)out, B, S, p, mean[0], mean[1], mean[2], stdv[0], stdv[1], stdv[2]);
    else if (prec == 3)
        patches_u8_bf16<<<g, 256, 0, st>>>(rgb, (__nv_bfloat16 *)out, B, S, p, mean[0], mean[1], mean[2], stdv[0], stdv[1],
                                           stdv[2]);
    else
        patches_u8_f32<<<g, 256, 0, st>>>(rgb, (float *)out, B, S, p, mean[0], mean[1], mean[2], stdv[0], stdv[1], stdv[2]);
    return launched();
}

int nli_k_patches_f32(int prec, cudaStream_t st, const float *pix, void *out, int B, int S, int p) {
    size_t n = (size_t)B * (S / p) * (S / p) * 3 * p * p;
    unsigned g = grid_for(n, 256);
    if (prec == 2) patches_f32_f16<<<g, 256, 0, st>>>(pix, (__half *)out, B, S, p);
    else if (prec == 3) patches_f32_bf16<<<g, 256, 0, st>>>(pix, (__nv_bfloat16 *)out, B, S, p);
    else patches_f32_f32<<<g, 256, 0, st>>>(pix, (float *)out, B, S, p);
    return launched();
}

/* With a class token (cls): token 0 is it, token t patch t - 1; without
 * (SigLIP), token t is patch t, plus the patch embedding's bias pb. */
__global__ void vit_embed_kernel(const float *pe, const float *pb, const float *cls, const float *pos, float *x, int B,
                                 int T, int D) {
    size_t n = (size_t)B * T * D;
    const int c = cls != NULL, np = T - c;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int d = (int)(i % D);
        size_t bt = i / D;
        int t = (int)(bt % T);
        size_t b = bt / T;
        float v;
        if (c && t == 0) {
            v = cls[d];
        } else {
            v = pe[(b * np + t - c) * D + d];
            if (pb) v += pb[d];
        }
        x[i] = v + pos[(size_t)t * D + d];
    }
}

int nli_k_vit_embed(cudaStream_t st, const float *pe, const float *pb, const float *cls, const float *pos, float *x,
                    int B, int T, int D) {
    size_t n = (size_t)B * T * D;
    if (!n) return 0;
    vit_embed_kernel<<<grid_for(n, 256), 256, 0, st>>>(pe, pb, cls, pos, x, B, T, D);
    return launched();
}

int nli_k_siglip_probe(int prec, cudaStream_t st, const float *q, const void *kv, const float *kv_b, float *o, int B,
                       int Tn, int H, int hd) {
    if (B <= 0) return 0;
    if (hd < 1 || hd > 128 || Tn < 1 || (size_t)B * H > 2147483647u) {
        nli_seterr("SigLIP attention pool: %d tokens, %d heads of %d: unsupported (head size at most 128)", Tn, H, hd);
        return -1;
    }
    dim3 grid((unsigned)((size_t)B * H));
    float scale = 1.0f / sqrtf((float)hd);
    if (prec == 2) siglip_probe_f16<<<grid, SG_THREADS, 0, st>>>(q, (const __half *)kv, kv_b, o, Tn, H, hd, scale);
    else if (prec == 3)
        siglip_probe_bf16<<<grid, SG_THREADS, 0, st>>>(q, (const __nv_bfloat16 *)kv, kv_b, o, Tn, H, hd, scale);
    else siglip_probe_f32<<<grid, SG_THREADS, 0, st>>>(q, (const float *)kv, kv_b, o, Tn, H, hd, scale);
    return launched();
}

__global__ void text_embed_kernel(const int32_t *tok, const int32_t *posi, int rows, const float *tok_emb,
                                  const float *pos_emb, float *x, int D) {
    size_t n = (size_t)rows * D;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / D;
        int d = (int)(i % D);
        x[i] = tok_emb[(size_t)tok[r] * D + d] + pos_emb[(size_t)posi[r] * D + d];
    }
}

int nli_k_text_embed(cudaStream_t st, const int32_t *tok, const int32_t *posi, int rows, const float *tok_emb,
                 const float *pos_emb, float *x, int D) {
    size_t n = (size_t)rows * D;
    if (!n) return 0;
    text_embed_kernel<<<grid_for(n, 256), 256, 0, st>>>(tok, posi, rows, tok_emb, pos_emb, x, D);
    return launched();
}

__global__ void convert_f16(const float *s, __half *d, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        d[i] = __float2half_rn(s[i]);
}
__global__ void convert_bf16(const float *s, __nv_bfloat16 *d, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        d[i] = __float2bfloat16_rn(s[i]);
}

int nli_k_convert(int prec, cudaStream_t st, const float *src, void *dst, size_t n) {
    if (!n) return 0;
    if (prec == 2) convert_f16<<<grid_for(n, 256), 256, 0, st>>>(src, (__half *)dst, n);
    else if (prec == 3) convert_bf16<<<grid_for(n, 256), 256, 0, st>>>(src, (__nv_bfloat16 *)dst, n);
    else {
        cudaError_t e = cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, st);
        if (e != cudaSuccess) { nli_seterr("CUDA copy: %s", nli_cuda_errstr(e)); return -1; }
        return 0;
    }
    return launched();
}

/* ------------------------------------------------------------ ModifiedResNet */

int nli_k_rn_input_u8(int prec, cudaStream_t st, const uint8_t *rgb, void *out, size_t n_px, const float mean[3],
                      const float stdv[3]) {
    unsigned g = grid_for(n_px * 3, 256);
    if (!n_px) return 0;
    if (prec == 2)
        rn_input_u8_f16<<<g, 256, 0, st>>>(rgb, (__half *)out, n_px, mean[0], mean[1], mean[2], stdv[0], stdv[1], stdv[2]);
    else if (prec == 3)
        rn_input_u8_bf16<<<g, 256, 0, st>>>(rgb, (__nv_bfloat16 *)out, n_px, mean[0], mean[1], mean[2], stdv[0], stdv[1],
                                            stdv[2]);
    else
        rn_input_u8_f32<<<g, 256, 0, st>>>(rgb, (float *)out, n_px, mean[0], mean[1], mean[2], stdv[0], stdv[1], stdv[2]);
    return launched();
}

int nli_k_rn_input_f32(int prec, cudaStream_t st, const float *pix, void *out, int B, int S) {
    unsigned g = grid_for((size_t)B * S * S * 3, 256);
    if (prec == 2) rn_input_f32_f16<<<g, 256, 0, st>>>(pix, (__half *)out, B, S);
    else if (prec == 3) rn_input_f32_bf16<<<g, 256, 0, st>>>(pix, (__nv_bfloat16 *)out, B, S);
    else rn_input_f32_f32<<<g, 256, 0, st>>>(pix, (float *)out, B, S);
    return launched();
}

int nli_k_rn_im2col3(int prec, cudaStream_t st, const void *in, void *col, int B, int H, int W, int C, int stride) {
    int oh = (H - 1) / stride + 1, ow = (W - 1) / stride + 1;
    unsigned g = grid_for((size_t)B * oh * ow * 9 * C, 256);
    if (prec == 2) rn_im2col3_f16<<<g, 256, 0, st>>>((const __half *)in, (__half *)col, B, H, W, C, stride, oh, ow);
    else if (prec == 3)
        rn_im2col3_bf16<<<g, 256, 0, st>>>((const __nv_bfloat16 *)in, (__nv_bfloat16 *)col, B, H, W, C, stride, oh, ow);
    else rn_im2col3_f32<<<g, 256, 0, st>>>((const float *)in, (float *)col, B, H, W, C, stride, oh, ow);
    return launched();
}

int nli_k_rn_avgpool(int prec, cudaStream_t st, const void *in, void *out, int B, int H, int W, int C, int k) {
    unsigned g = grid_for((size_t)B * (H / k) * (W / k) * C, 256);
    if (prec == 2) rn_avgpool_f16<<<g, 256, 0, st>>>((const __half *)in, (__half *)out, B, H, W, C, k);
    else if (prec == 3) rn_avgpool_bf16<<<g, 256, 0, st>>>((const __nv_bfloat16 *)in, (__nv_bfloat16 *)out, B, H, W, C, k);
    else rn_avgpool_f32<<<g, 256, 0, st>>>((const float *)in, (float *)out, B, H, W, C, k);
    return launched();
}

int nli_k_rn_tokens(int prec, cudaStream_t st, const void *x, const float *pos, void *tok, void *q0, int B, int HW,
                    int E) {
    unsigned g = grid_for((size_t)B * (HW + 1) * E, 256);
    if (prec == 2) rn_tokens_f16<<<g, 256, 0, st>>>((const __half *)x, pos, (__half *)tok, (__half *)q0, B, HW, E);
    else if (prec == 3)
        rn_tokens_bf16<<<g, 256, 0, st>>>((const __nv_bfloat16 *)x, pos, (__nv_bfloat16 *)tok, (__nv_bfloat16 *)q0, B, HW,
                                          E);
    else rn_tokens_f32<<<g, 256, 0, st>>>((const float *)x, pos, (float *)tok, (float *)q0, B, HW, E);
    return launched();
}

/* One block per (image, head): scores (a thread per key, the dot product in
 * index order), then max, exp and their sum in key order by one thread (as
 * clip_resnet.c's attnpool, so the fp32 results follow the CPU's), then the
 * output (a thread per dimension, keys in order). Scores in dynamic shared
 * memory (T floats). */
__global__ void rn_attnpool_kernel(const float *q, const float *q_b, const float *kv, const float *kv_b, float *o,
                                   int T, int H, int hd, float scale) {
    extern __shared__ float p[];
    __shared__ float sum;
    const int b = blockIdx.x / H, h = blockIdx.x % H, E = H * hd;
    const float *qh = q + (size_t)b * E + h * hd, *qb = q_b + h * hd, *kvb = kv + (size_t)b * T * 2 * E;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        const float *kj = kvb + (size_t)j * 2 * E + h * hd, *kb = kv_b + h * hd;
        float s = 0;
        for (int d = 0; d < hd; d++) s += (qh[d] + qb[d]) * (kj[d] + kb[d]);
        p[j] = s * scale;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float mx = -INFINITY, s = 0;
        for (int j = 0; j < T; j++) mx = p[j] > mx ? p[j] : mx;
        for (int j = 0; j < T; j++) {
            p[j] = expf(p[j] - mx);
            s += p[j];
        }
        sum = s;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        const float vb = kv_b[E + h * hd + d];
        float acc = 0;
        for (int j = 0; j < T; j++) acc += p[j] / sum * (kvb[(size_t)j * 2 * E + E + h * hd + d] + vb);
        o[(size_t)b * E + h * hd + d] = acc;
    }
}

int nli_k_rn_attnpool(cudaStream_t st, const float *q, const float *q_b, const float *kv, const float *kv_b, float *o,
                      int B, int T, int H, int hd) {
    if (B <= 0) return 0;
    if ((size_t)T * sizeof(float) > 48 * 1024) {
        nli_seterr("attention pool: %d tokens, more than shared memory holds", T);
        return -1;
    }
    rn_attnpool_kernel<<<(unsigned)B * H, 128, (size_t)T * sizeof(float), st>>>(q, q_b, kv, kv_b, o, T, H, hd,
                                                                            1.0f / sqrtf((float)hd));
    return launched();
}
