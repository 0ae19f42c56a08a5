/* attention_scalar_t.cuh — fused attention on CUDA cores in fp32
 * arithmetic, any head size hd <= 128 with hd % 4 == 0: the exact (fp32)
 * path and the fallback for head sizes the tensor-core kernel lacks.
 * Included by attention.cu once per activation type (T, TOF, FROMF, SFX).
 *
 * Block: 256 threads = 64 query rows x 4 threads; thread `sub` of a row owns
 * dims sub, sub+4, ... (so the 4 threads read 4 consecutive words). Keys
 * and values stream through shared memory 32 at a time with an online
 * softmax; the scores never leave registers. */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)

__global__ void __launch_bounds__(256) CAT(attn_scalar, SFX)(const T *qkv, const float *qkv_b, const int *pos,
                                                              T *out, const nli_attn_tile *tiles, int H, int hd,
                                                              int causal, float scale) {
    __shared__ float Ks[32][128], Vs[32][128];
    const nli_attn_tile tl = tiles[blockIdx.x];
    const int h = blockIdx.y, D = H * hd, W = 3 * D;
    const int tid = threadIdx.x, sub = tid & 3, row = tl.q0 + (tid >> 2), dpt = hd >> 2;
    const int qrow = row < tl.len ? row : tl.len - 1; /* rows past the end compute, never store */
    const int lo = pos ? qrow - pos[tl.start + qrow] : 0; /* its sequence's first row (several per tile) */
    float q[32], o[32];
    const T *qp = qkv + (size_t)(tl.start + qrow) * W + h * hd;
#pragma unroll
    for (int i = 0; i < 32; i++) {
        q[i] = 0.0f;
        o[i] = 0.0f;
        if (i < dpt) q[i] = TOF(qp[sub + 4 * i]) + qkv_b[h * hd + sub + 4 * i];
    }
    float m = -INFINITY, l = 0.0f;
    int kend = tl.len;
    if (causal && tl.q0 + 64 < kend) kend = tl.q0 + 64;
    for (int k0 = 0; k0 < kend; k0 += 32) {
        __syncthreads();
        for (int e = tid; e < 32 * hd; e += 256) {
            int j = e / hd, d = e % hd, key = k0 + j;
            float kv = 0.0f, vv = 0.0f;
            if (key < tl.len) {
                const T *kp = qkv + (size_t)(tl.start + key) * W + D + h * hd;
                kv = TOF(kp[d]) + qkv_b[D + h * hd + d];
                vv = TOF(kp[D + d]) + qkv_b[2 * D + h * hd + d];
            }
            Ks[j][d] = kv;
            Vs[j][d] = vv;
        }
        __syncthreads();
        int jn = kend - k0 < 32 ? kend - k0 : 32;
        for (int j = 0; j < jn; j++) {
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < 32; i++)
                if (i < dpt) s += q[i] * Ks[j][sub + 4 * i];
            s += __shfl_xor_sync(0xffffffffu, s, 1);
            s += __shfl_xor_sync(0xffffffffu, s, 2);
            int key = k0 + j;
            if (causal && (key > qrow || key < lo)) continue; /* uniform across the row's 4 threads */
            s *= scale;
            float mn = s > m ? s : m, corr = expf(m - mn), p = expf(s - mn);
            l = l * corr + p;
#pragma unroll
            for (int i = 0; i < 32; i++)
                if (i < dpt) o[i] = o[i] * corr + p * Vs[j][sub + 4 * i];
            m = mn;
        }
    }
    if (row < tl.len) {
        float inv = 1.0f / l;
        T *op = out + (size_t)(tl.start + row) * D + h * hd;
#pragma unroll
        for (int i = 0; i < 32; i++)
            if (i < dpt) op[sub + 4 * i] = FROMF(o[i] * inv);
    }
}

#undef CAT
#undef CAT_
