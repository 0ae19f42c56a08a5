/* kernels_t.cuh — the element-wise and row kernels that depend on the
 * activation type, written once and included by kernels.cu three times
 * (float, __half, __nv_bfloat16) with T, TOF (T -> float), FROMF (float ->
 * T) and SFX (name suffix) defined: C-style generics, as ggml does. */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define K(name) CAT(name, SFX)

/* LayerNorm, one warp per row, statistics in double (two passes) as the CPU
 * engine: v = x[src] (+ pb), y = (v - mean) * rstd * w + b. src = idx[r]
 * when idx is given (gather, e.g. the class token or the EOT row); pb is
 * the sum of the output biases the stream x lacks (clip_cuda.cu). x is only
 * read. yf (float) and yt (T) are optional. */
__global__ void K(layernorm)(const float *x, const int *idx, const float *pb, const float *w, const float *b,
                             float *yf, T *yt, int rows, int D, double eps) {
    int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (r >= rows) return;
    const float *xr = x + (size_t)(idx ? idx[r] : r) * D;
    double s = 0;
    for (int i = lane; i < D; i += 32) {
        float v = xr[i];
        if (pb) v += pb[i];
        s += v;
    }
    for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    double mean = s / D, ss = 0;
    for (int i = lane; i < D; i += 32) {
        float v = xr[i];
        if (pb) v += pb[i];
        double d = v - mean;
        ss += d * d;
    }
    for (int o = 16; o; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    float m = (float)mean, rstd = (float)(1.0 / sqrt(ss / D + eps));
    for (int i = lane; i < D; i += 32) {
        float v = xr[i];
        if (pb) v += pb[i];
        float y = (v - m) * rstd * w[i] + b[i];
        if (yf) yf[(size_t)r * D + i] = y;
        if (yt) yt[(size_t)r * D + i] = FROMF(y);
    }
}

/* The same LayerNorm with the row held in registers: x is read once, in
 * 16-byte loads. Each lane holds float4 k*32 + lane (k < LN_V) of the row,
 * so D <= 128 * LN_V and D % 4 == 0, and x, pb, w, b, yf, yt must be
 * 16-byte aligned (8 for 16-bit yt): nli_k_layernorm checks, else it runs the
 * kernel above. The statistics are the same double sums in another order. */
__global__ void K(layernorm_v)(const float *x, const int *idx, const float *pb, const float *w, const float *b,
                               float *yf, T *yt, int rows, int D, double eps) {
    int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (r >= rows) return;
    const float *xr = x + (size_t)(idx ? idx[r] : r) * D;
    __align__(16) float v[LN_V * 4];
    double s = 0;
#pragma unroll
    for (int k = 0; k < LN_V; k++) {
        int i = (k * 32 + lane) * 4;
        if (i < D) {
            *(uint4 *)&v[k * 4] = *(const uint4 *)(xr + i);
            if (pb) {
                __align__(16) float p[4];
                *(uint4 *)p = *(const uint4 *)(pb + i);
#pragma unroll
                for (int u = 0; u < 4; u++) v[k * 4 + u] += p[u];
            }
#pragma unroll
            for (int u = 0; u < 4; u++) s += v[k * 4 + u];
        }
    }
    for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    double mean = s / D, ss = 0;
#pragma unroll
    for (int k = 0; k < LN_V; k++)
        if ((k * 32 + lane) * 4 < D) {
#pragma unroll
            for (int u = 0; u < 4; u++) {
                double d = v[k * 4 + u] - mean;
                ss += d * d;
            }
        }
    for (int o = 16; o; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    float m = (float)mean, rstd = (float)(1.0 / sqrt(ss / D + eps));
#pragma unroll
    for (int k = 0; k < LN_V; k++) {
        int i = (k * 32 + lane) * 4;
        if (i >= D) continue;
        __align__(16) float ww[4], bb[4], y[4];
        __align__(16) T t[4];
        *(uint4 *)ww = *(const uint4 *)(w + i);
        *(uint4 *)bb = *(const uint4 *)(b + i);
#pragma unroll
        for (int u = 0; u < 4; u++) {
            y[u] = (v[k * 4 + u] - m) * rstd * ww[u] + bb[u];
            t[u] = FROMF(y[u]);
        }
        if (yf) *(uint4 *)(yf + (size_t)r * D + i) = *(const uint4 *)y;
        if (yt) {
            if (sizeof(T) == 4) *(uint4 *)(yt + (size_t)r * D + i) = *(const uint4 *)t;
            else *(uint2 *)(yt + (size_t)r * D + i) = *(const uint2 *)t;
        }
    }
}

/* h = act(h + bias) in place; act 0 none, 1 QuickGELU, 2 GELU (erf), 3 ReLU,
 * 4 GELU's tanh approximation (PyTorch's gelu(approximate="tanh"), SigLIP's
 * gelu_pytorch_tanh: the CPU's nli_act_f32 formula, sqrt(2 / pi) rounded
 * to float as it is there). */
__device__ __forceinline__ float K(act)(float v, int act) {
    if (act == 1) return v / (1.0f + expf(-1.702f * v));
    if (act == 2) return 0.5f * v * (1.0f + erff(v * 0.70710678118654752440f));
    if (act == 3) return v > 0.0f ? v : 0.0f;
    if (act == 4) return 0.5f * v * (1.0f + tanhf(0.797884560802865355880f * (v + 0.044715f * v * v * v)));
    return v;
}
__global__ void K(bias_act)(T *h, const float *bias, size_t rows, int N, int act) {
    size_t n = rows * (size_t)N;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        h[i] = FROMF(K(act)(TOF(h[i]) + bias[i % N], act));
    }
}

/* The same in 16-byte vectors (N a multiple of 16 / sizeof(T), h 16-byte
 * aligned: nli_k_bias_act checks): one index division per vector. */
__global__ void K(bias_act_v)(T *h, const float *bias, size_t rows, int N, int act) {
    const int V = (int)(16 / sizeof(T)), nv = N / V;
    size_t n = rows * (size_t)nv;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n; j += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(j % (size_t)nv) * V;
        __align__(16) T e[16 / sizeof(T)];
        *(uint4 *)e = *(const uint4 *)(h + j * V);
#pragma unroll
        for (int u = 0; u < V; u++) e[u] = FROMF(K(act)(TOF(e[u]) + bias[c + u], act));
        *(uint4 *)(h + j * V) = *(const uint4 *)e;
    }
}

/* im2col of uint8 HWC images, normalised as nli_image_normalize does:
 * ((float)u / 255 - mean) / std. Row (b, py, px), column (c, ky, kx). */
__global__ void K(patches_u8)(const uint8_t *rgb, T *out, int B, int S, int p, float m0, float m1, float m2, float s0,
                              float s1, float s2) {
    size_t n = (size_t)B * (S / p) * (S / p) * 3 * p * p;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int b, ch, y, xx;
        patch_pixel(i, S, p, &b, &ch, &y, &xx);
        float u = (float)rgb[(((size_t)b * S + y) * S + xx) * 3 + ch];
        float m = ch == 0 ? m0 : ch == 1 ? m1 : m2, s = ch == 0 ? s0 : ch == 1 ? s1 : s2;
        out[i] = FROMF((u / 255.0f - m) / s);
    }
}

/* im2col of float CHW (already normalised) images. */
__global__ void K(patches_f32)(const float *pix, T *out, int B, int S, int p) {
    size_t n = (size_t)B * (S / p) * (S / p) * 3 * p * p;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int b, ch, y, xx;
        patch_pixel(i, S, p, &b, &ch, &y, &xx);
        out[i] = FROMF(pix[(((size_t)b * 3 + ch) * S + y) * S + xx]);
    }
}

/* SigLIP's attention-pooling head (clip_cuda.cu): the probe's one query q
 * (D = H * hd floats, its bias included: the same for every image) against
 * each image's Tn keys and values, rows of kv ([k | v], 2D wide, T, without
 * bias: kv_b added on load), into o (B x D, fp32): clip_siglip.c's
 * attend_probe (scaled scores, softmax over the keys, the values weighted)
 * with the softmax online, so that no buffer grows with Tn. One block of
 * SG_THREADS per (image, head); warp w takes keys w, w + SG_WARPS, ...: the
 * score is a warp-wide dot product (lanes over the head's dimensions,
 * coalesced), and the warp keeps its running max, sum and weighted values
 * (dimensions lane, lane + 32, ...); the warps' results are then merged in
 * warp order. */
__global__ void __launch_bounds__(SG_THREADS) K(siglip_probe)(const float *q, const T *kv, const float *kv_b,
                                                               float *o, int Tn, int H, int hd, float scale) {
    __shared__ float part[SG_WARPS][128], wm[SG_WARPS], wl[SG_WARPS];
    const int b = blockIdx.x / H, h = blockIdx.x % H, D = H * hd, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const T *base = kv + (size_t)b * Tn * 2 * D + h * hd;
    const float *qh = q + h * hd, *kb = kv_b + h * hd, *vb = kv_b + D + h * hd;
    float m = -INFINITY, l = 0.0f, acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int j = warp; j < Tn; j += SG_WARPS) {
        const T *kj = base + (size_t)j * 2 * D, *vj = kj + D;
        float s = 0.0f;
        for (int d = lane; d < hd; d += 32) s += qh[d] * (TOF(kj[d]) + kb[d]);
        for (int w = 16; w; w >>= 1) s += __shfl_xor_sync(0xffffffffu, s, w);
        s *= scale;
        const float mn = fmaxf(m, s), corr = expf(m - mn), p = expf(s - mn);
        l = l * corr + p;
#pragma unroll
        for (int u = 0; u < 4; u++) {
            int d = lane + 32 * u;
            if (d < hd) acc[u] = acc[u] * corr + p * (TOF(vj[d]) + vb[d]);
        }
        m = mn;
    }
#pragma unroll
    for (int u = 0; u < 4; u++)
        if (lane + 32 * u < hd) part[warp][lane + 32 * u] = acc[u];
    if (lane == 0) {
        wm[warp] = m;
        wl[warp] = l;
    }
    __syncthreads();
    float M = wm[0], L = 0.0f;
    for (int w = 1; w < SG_WARPS; w++) M = fmaxf(M, wm[w]);
    for (int w = 0; w < SG_WARPS; w++) L += wm[w] == -INFINITY ? 0.0f : wl[w] * expf(wm[w] - M);
    for (int d = threadIdx.x; d < hd; d += SG_THREADS) {
        float s = 0.0f;
        for (int w = 0; w < SG_WARPS; w++)
            if (wm[w] != -INFINITY) s += part[w][d] * expf(wm[w] - M);
        o[(size_t)b * D + h * hd + d] = s / L;
    }
}

/* ------------------------------------------------ ModifiedResNet (resnet_cuda.cu)
 * Activations channels-last: [image][y][x][channel], as clip_resnet.c. */

/* uint8 HWC pixels -> normalised T, HWC (n_px pixels of 3 channels), with
 * patches_u8's formula. */
__global__ void K(rn_input_u8)(const uint8_t *rgb, T *out, size_t n_px, float m0, float m1, float m2, float s0,
                               float s1, float s2) {
    size_t n = n_px * 3;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int ch = (int)(i % 3);
        float m = ch == 0 ? m0 : ch == 1 ? m1 : m2, s = ch == 0 ? s0 : ch == 1 ? s1 : s2;
        out[i] = FROMF(((float)rgb[i] / 255.0f - m) / s);
    }
}

/* float CHW images -> T HWC. */
__global__ void K(rn_input_f32)(const float *pix, T *out, int B, int S) {
    size_t SS = (size_t)S * S, n = (size_t)B * SS * 3;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t px = i / 3, b = px / SS;
        int ch = (int)(i % 3);
        out[i] = FROMF(pix[(b * 3 + ch) * SS + px % SS]);
    }
}

/* im2col of a 3x3 convolution with padding 1: row (b, oy, ox), columns
 * [ky][kx][c] (clip_resnet_weights.c's weight order); outside the image 0. */
__global__ void K(rn_im2col3)(const T *in, T *col, int B, int H, int W, int C, int stride, int oh, int ow) {
    size_t K9 = (size_t)9 * C, n = (size_t)B * oh * ow * K9;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / K9;
        int k = (int)(i % K9), t = k / C, c = k % C;
        int ox = (int)(r % ow), oy = (int)(r / ow % oh);
        size_t b = r / ((size_t)oh * ow);
        int iy = oy * stride + t / 3 - 1, ix = ox * stride + t % 3 - 1;
        col[i] = iy < 0 || iy >= H || ix < 0 || ix >= W ? FROMF(0.0f) : in[((b * H + iy) * W + ix) * C + c];
    }
}

/* nn.AvgPool2d(k): k x k windows, stride k, the sum in double as the CPU. */
__global__ void K(rn_avgpool)(const T *in, T *out, int B, int H, int W, int C, int k) {
    int oh = H / k, ow = W / k;
    size_t n = (size_t)B * oh * ow * C;
    double inv = 1.0 / (k * k);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        size_t r = i / C;
        int ox = (int)(r % ow), oy = (int)(r / ow % oh);
        size_t b = r / ((size_t)oh * ow);
        double s = 0;
        for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++) s += TOF(in[((b * H + oy * k + dy) * W + ox * k + dx) * C + c]);
        out[i] = FROMF((float)(s * inv));
    }
}

/* The attention pool's tokens: row 0 of each image the mean of its HW
 * pixels (double sum) + pos[0], also written to q0 (the query's input);
 * row t + 1 pixel t + pos[t + 1]. */
__global__ void K(rn_tokens)(const T *x, const float *pos, T *tok, T *q0, int B, int HW, int E) {
    size_t n = (size_t)B * (HW + 1) * E;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int d = (int)(i % E), t = (int)(i / E % (HW + 1));
        size_t b = i / ((size_t)E * (HW + 1));
        const T *xb = x + b * HW * E;
        if (t == 0) {
            double s = 0;
            for (int p = 0; p < HW; p++) s += TOF(xb[(size_t)p * E + d]);
            T v = FROMF((float)(s / HW) + pos[d]);
            tok[i] = v;
            q0[b * E + d] = v;
        } else {
            tok[i] = FROMF(TOF(xb[(size_t)(t - 1) * E + d]) + pos[(size_t)t * E + d]);
        }
    }
}

#undef K
#undef CAT
#undef CAT_
