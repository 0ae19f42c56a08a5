/* attention.cu — fused multi-head attention over packed sequences.
 *
 * fp16/bf16 with head size 64 (every OpenAI CLIP tower): tensor cores
 * (mma.sync m16n8k16, fp32 accumulation), FlashAttention-2 style. A block of
 * 4 warps takes 64 query rows of one (sequence, head); each warp owns 16
 * rows. Keys and values stream through shared memory 64 at a time; scores
 * live in registers, the softmax is online (running max and sum per row,
 * exp2 of pre-scaled scores), and the probabilities are re-packed from the
 * score accumulators straight into the A operand of P x V, so the T x T
 * matrix never exists, not even in shared memory. Short causal sequences
 * (prompts, ~7 tokens) share a tile (see kernels.h, pos): a block then does
 * up to 64 useful rows instead of 7, and a warp skips the 8-key groups
 * outside its rows' sequences.
 *
 * Bidirectional sequences that fit in shared memory run attn_seq (below)
 * instead: keys and values loaded once per (sequence, head).
 *
 * Every other case (fp32, other head sizes) runs attention_scalar_t.cuh. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_util.h"
#include "kernels.h"

#define NL_T_FILE "attention_scalar_t.cuh"
#include "for_types.cuh"

/* ------------------------------------------------ tensor-core kernel */

#define HD 64
#define LDS 72 /* shared row stride in 16-bit elements: 144 bytes, conflict-free fragment loads */

/* 16-bit <-> float for either type; bf is uniform across the grid. */
__device__ __forceinline__ float h2f(uint16_t v, int bf) {
    return bf ? __uint_as_float((uint32_t)v << 16) : __half2float(__ushort_as_half(v));
}
__device__ __forceinline__ uint16_t f2h(float f, int bf) {
    return bf ? __bfloat16_as_ushort(__float2bfloat16_rn(f)) : __half_as_ushort(__float2half_rn(f));
}
__device__ __forceinline__ uint32_t pack2(float lo, float hi, int bf) {
    return (uint32_t)f2h(lo, bf) | ((uint32_t)f2h(hi, bf) << 16);
}

/* D += A(16x16, row) * B(16x8, col), fp32 accumulators. */
__device__ __forceinline__ void mma16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1, int bf) {
#ifdef NLEMU /* the CPU emulator of the tests (tests/cuda_emu): the same instruction, from the PTX ISA's layouts */
    nlemu::mma16816(c, a, b0, b1, bf);
#else
    if (bf)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

/* ldmatrix .x4: lanes 8i..8i+7 give the 16-byte rows of 8x8 matrix i; r[i]
 * is this lane's fragment of it (trans: of its transpose), as mma16816's
 * B operands take them. */
template <int TRANS> __device__ __forceinline__ void ldsm_x4(uint32_t *r, const uint16_t *row) {
#ifdef NLEMU
    nlemu::ldmatrix_x4(r, row, TRANS);
#else
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(row);
    if (TRANS)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(a));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(a));
#endif
}

/* Load 8 consecutive 16-bit values (16 bytes) and add a float bias. */
__device__ __forceinline__ void load8(const uint16_t *src, const float *bias, int valid, int bf, uint16_t *v) {
    if (!valid) {
#pragma unroll
        for (int i = 0; i < 8; i++) v[i] = 0;
        return;
    }
    uint4 raw = *(const uint4 *)src;
    const uint16_t *r = (const uint16_t *)&raw;
#pragma unroll
    for (int i = 0; i < 8; i++) v[i] = f2h(h2f(r[i], bf) + bias[i], bf);
}

/* The online softmax of one 64-key chunk for this thread's two query rows
 * (row g and g + 8 of its warp's 16): s holds the chunk's scaled, masked
 * scores (-inf where masked) and mx0/mx1 this thread's maxima of them. The
 * running maxima m and sums l are updated, o rescaled, and s left holding
 * the probabilities. EMPTY: a row may have no valid key yet (it then keeps
 * o = l = 0); attn_seq's rows all see key 0 in the first chunk. */
template <int EMPTY>
__device__ __forceinline__ void softmax_chunk(float (&s)[8][4], float (&o)[8][4], float mx0, float mx1, float &m0,
                                              float &m1, float &l0, float &l1) {
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
    float a0 = EMPTY && n0 == -INFINITY ? 1.0f : exp2f(m0 - n0), a1 = EMPTY && n1 == -INFINITY ? 1.0f : exp2f(m1 - n1);
    float sub0 = EMPTY && n0 == -INFINITY ? 0.0f : n0, sub1 = EMPTY && n1 == -INFINITY ? 0.0f : n1;
    m0 = n0;
    m1 = n1;
    float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
        s[nt][0] = exp2f(s[nt][0] - sub0);
        s[nt][1] = exp2f(s[nt][1] - sub0);
        s[nt][2] = exp2f(s[nt][2] - sub1);
        s[nt][3] = exp2f(s[nt][3] - sub1);
        ps0 += s[nt][0] + s[nt][1];
        ps1 += s[nt][2] + s[nt][3];
    }
    l0 = l0 * a0 + ps0;
    l1 = l1 * a1 + ps1;
#pragma unroll
    for (int dt = 0; dt < 8; dt++) {
        o[dt][0] *= a0;
        o[dt][1] *= a0;
        o[dt][2] *= a1;
        o[dt][3] *= a1;
    }
}

/* The probabilities of keys kk*16 .. +15 (P, 16 x 16) as an A operand,
 * straight from the score accumulators. */
__device__ __forceinline__ void p_operand(const float (&s)[8][4], int kk, int bf, uint32_t *pa) {
    pa[0] = pack2(s[2 * kk][0], s[2 * kk][1], bf);
    pa[1] = pack2(s[2 * kk][2], s[2 * kk][3], bf);
    pa[2] = pack2(s[2 * kk + 1][0], s[2 * kk + 1][1], bf);
    pa[3] = pack2(s[2 * kk + 1][2], s[2 * kk + 1][3], bf);
}

/* The rows' outputs: o over the row sums (summed across the lanes of a
 * row first), rows at or past len not written. EMPTY as above (a row with
 * no key: zeros). */
template <int EMPTY>
__device__ __forceinline__ void store_rows(const float (&o)[8][4], float l0, float l1, uint16_t *ob, int row0, int row1,
                                           int len, int D, int tig, int bf) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    float i0 = !EMPTY || l0 > 0.0f ? 1.0f / l0 : 0.0f, i1 = !EMPTY || l1 > 0.0f ? 1.0f / l1 : 0.0f;
#pragma unroll
    for (int dt = 0; dt < 8; dt++) {
        int d = dt * 8 + tig * 2;
        if (row0 < len) *(uint32_t *)&ob[(size_t)row0 * D + d] = pack2(o[dt][0] * i0, o[dt][1] * i0, bf);
        if (row1 < len) *(uint32_t *)&ob[(size_t)row1 * D + d] = pack2(o[dt][2] * i1, o[dt][3] * i1, bf);
    }
}

__global__ void __launch_bounds__(128) attn_mma(const uint16_t *qkv, const float *qkv_b, const int *pos,
                                                uint16_t *out, const nli_attn_tile *tiles, int H, int causal,
                                                float scale_log2, int bf) {
    __shared__ __align__(16) uint16_t Qs[64 * LDS], Ks[64 * LDS], Vt[HD * LDS];
    const nli_attn_tile tl = tiles[blockIdx.x];
    const int h = blockIdx.y, D = H * HD, W = 3 * D;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tig = lane & 3;
    const uint16_t *base = qkv + (size_t)tl.start * W + h * HD;

    /* Q tile, bias added, rows past the sequence zero. */
    for (int c = tid; c < 64 * 8; c += 128) {
        int r = c >> 3, d0 = (c & 7) * 8;
        uint16_t v[8];
        load8(base + (size_t)(tl.q0 + r) * W + d0, qkv_b + h * HD + d0, tl.q0 + r < tl.len, bf, v);
        *(uint4 *)&Qs[r * LDS + d0] = *(uint4 *)v;
    }
    __syncthreads();
    const int r0 = warp * 16; /* this warp's first row within the tile */
    uint32_t qa[4][4];
#pragma unroll
    for (int ks = 0; ks < 4; ks++) {
        qa[ks][0] = *(const uint32_t *)&Qs[(r0 + g) * LDS + ks * 16 + tig * 2];
        qa[ks][1] = *(const uint32_t *)&Qs[(r0 + g + 8) * LDS + ks * 16 + tig * 2];
        qa[ks][2] = *(const uint32_t *)&Qs[(r0 + g) * LDS + ks * 16 + 8 + tig * 2];
        qa[ks][3] = *(const uint32_t *)&Qs[(r0 + g + 8) * LDS + ks * 16 + 8 + tig * 2];
    }
    float o[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
    const int row0 = tl.q0 + r0 + g, row1 = row0 + 8; /* this thread's two query rows */
    const int warp_live = tl.q0 + r0 < tl.len;
    /* The first key each row may see: its sequence's first row, where a
     * tile holds several (pos); a row past the end sees none. The warp's
     * lowest (wlo) and the causal limit of its last row (whi) bound the
     * 8-key groups it computes: the others are masked for all its rows. */
    int lo0 = 0, lo1 = 0;
    if (pos) {
        lo0 = row0 < tl.len ? row0 - pos[tl.start + row0] : row0;
        lo1 = row1 < tl.len ? row1 - pos[tl.start + row1] : row1;
    }
    int wlo = lo0 < lo1 ? lo0 : lo1;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        int v = __shfl_xor_sync(0xffffffffu, wlo, o);
        wlo = v < wlo ? v : wlo;
    }
    const int whi = causal ? tl.q0 + r0 + 15 : 0x7fffffff;
    int kend = tl.len;
    if (causal && tl.q0 + 64 < kend) kend = tl.q0 + 64;

    for (int k0 = 0; k0 < kend; k0 += 64) {
        __syncthreads(); /* previous tile consumed */
        /* Each lane takes 16 values of one key row: a warp spans 32 key rows
         * at one d0, so the transposed stores into Vt (row d, column key)
         * fall in 16 distinct banks and the 16-byte stores into Ks in
         * conflict-free quarter-warp phases. */
        for (int c = tid; c < 64 * 4; c += 128) {
            int j = c & 63, d0 = (c >> 6) * 16, ok = k0 + j < tl.len;
            const uint16_t *kp = base + (size_t)(k0 + j) * W + D + d0;
#pragma unroll
            for (int u = 0; u < 16; u += 8) {
                uint16_t v[8];
                load8(kp + u, qkv_b + D + h * HD + d0 + u, ok, bf, v);
                *(uint4 *)&Ks[j * LDS + d0 + u] = *(uint4 *)v;
                load8(kp + D + u, qkv_b + 2 * D + h * HD + d0 + u, ok, bf, v);
#pragma unroll
                for (int i = 0; i < 8; i++) Vt[(d0 + u + i) * LDS + j] = v[i];
            }
        }
        __syncthreads();
        if (!warp_live || k0 > whi || k0 + 64 <= wlo) continue;
        /* keys of this chunk inside the sequence: the products of the 8-key
         * groups past them are skipped (masked to -inf, then p = 0) */
        const int nk = tl.len - k0, glo = wlo - k0, ghi = whi - k0; /* group bounds, chunk coordinates */

        float s[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
            if (nt * 8 >= nk || nt * 8 > ghi || nt * 8 + 8 <= glo) continue;
#pragma unroll
            for (int ks = 0; ks < 4; ks++) {
                uint32_t b0 = *(const uint32_t *)&Ks[(nt * 8 + g) * LDS + ks * 16 + tig * 2];
                uint32_t b1 = *(const uint32_t *)&Ks[(nt * 8 + g) * LDS + ks * 16 + 8 + tig * 2];
                mma16816(s[nt], qa[ks], b0, b1, bf);
            }
        }
        /* scale (log2 domain) and mask; row maxima */
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = k0 + nt * 8 + tig * 2 + (e & 1), row = e < 2 ? row0 : row1;
                int ok = key < tl.len && (!causal || (key <= row && key >= (e < 2 ? lo0 : lo1)));
                float v = ok ? s[nt][e] * scale_log2 : -INFINITY;
                s[nt][e] = v;
                if (e < 2) mx0 = fmaxf(mx0, v);
                else mx1 = fmaxf(mx1, v);
            }
        softmax_chunk<1>(s, o, mx0, mx1, m0, m1, l0, l1);
        /* P (16 x 64) as A operands */
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            if (kk * 16 >= nk || kk * 16 > ghi || kk * 16 + 16 <= glo) continue; /* all 16 probabilities are 0 */
            uint32_t pa[4];
            p_operand(s, kk, bf, pa);
#pragma unroll
            for (int dt = 0; dt < 8; dt++) {
                uint32_t b0 = *(const uint32_t *)&Vt[(dt * 8 + g) * LDS + kk * 16 + tig * 2];
                uint32_t b1 = *(const uint32_t *)&Vt[(dt * 8 + g) * LDS + kk * 16 + 8 + tig * 2];
                mma16816(o[dt], pa, b0, b1, bf);
            }
        }
    }
    store_rows<1>(o, l0, l1, out + (size_t)tl.start * D + h * HD, row0, row1, tl.len, D, tig, bf);
}

/* ------------------------------------- whole sequences, keys resident */

/* attn_seq: one block of SEQ_WARPS warps per (sequence, head), for
 * bidirectional attention (vision towers, SigLIP's text). Every key and
 * value of the sequence is loaded into shared memory once, bias added, and
 * the warps then take its 16-row query tiles in turn, each streaming over
 * the resident keys with no barrier; K and V fragments come through
 * ldmatrix (V's transposed), so both are stored as rows. attn_mma instead
 * loads the keys once per 64 query rows (4 times at 197 tokens), waits at
 * a barrier for each chunk of 64 and transposes V with 2-byte stores. Used
 * when two blocks fit in a multiprocessor's shared memory (T <= 320 on
 * sm_90; nli_k_attention_kernel). */
#define SEQ_WARPS 8

static size_t seq_smem_bytes(int T) {
    size_t Tp = ((size_t)T + 63) / 64 * 64;
    return (2 * Tp * LDS + (size_t)SEQ_WARPS * 16 * LDS) * sizeof(uint16_t);
}

__global__ void __launch_bounds__(SEQ_WARPS * 32, 2) attn_seq(const uint16_t *qkv, const float *qkv_b, uint16_t *out,
                                                             const nli_attn_tile *tiles, int H, int seq_len,
                                                             float scale_log2, int bf) {
    extern __shared__ uint4 seq_sm[];
    const nli_attn_tile tl = tiles[blockIdx.x];
    /* The block of a sequence's first tile does all its rows. One longer
     * than the shared memory was sized for breaks the caller's promise
     * (kernels.h): its rows are left unwritten rather than overrun it. */
    if (tl.q0 != 0 || tl.len > seq_len) return;
    const int T = tl.len, Tp = (T + 63) & ~63;
    const int h = blockIdx.y, D = H * HD, W = 3 * D;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tig = lane & 3;
    uint16_t *Ks = (uint16_t *)seq_sm, *Vs = Ks + (size_t)Tp * LDS, *Qw = Vs + (size_t)Tp * LDS + warp * 16 * LDS;
    const uint16_t *base = qkv + (size_t)tl.start * W + h * HD;
    /* Keys and values as rows, bias added, zero past T: 16 bytes a store. */
    for (int c = tid; c < Tp * 8; c += SEQ_WARPS * 32) {
        int j = c >> 3, d0 = (c & 7) * 8, ok = j < T;
        uint16_t v[8];
        load8(base + (size_t)j * W + D + d0, qkv_b + D + h * HD + d0, ok, bf, v);
        *(uint4 *)&Ks[j * LDS + d0] = *(uint4 *)v;
        load8(base + (size_t)j * W + 2 * D + d0, qkv_b + 2 * D + h * HD + d0, ok, bf, v);
        *(uint4 *)&Vs[j * LDS + d0] = *(uint4 *)v;
    }
    /* the rows this lane addresses for ldmatrix: K, matrix lane/8 of an
     * 8-key group (its 8 columns at (lane/8)*8 of 32); V, keys (lane/8 & 1)*8
     * of a 16-key group at columns (lane/16)*8 of 16 */
    const int kr = lane & 7, kc = (lane >> 3) * 8, vr = ((lane >> 3) & 1) * 8 + (lane & 7), vc = (lane >> 4) * 8;
    __syncthreads();
    uint16_t *ob = out + (size_t)tl.start * D + h * HD;
    for (int q0 = warp * 16; q0 < T; q0 += SEQ_WARPS * 16) {
        /* this warp's 16 query rows, bias added, through its own staging rows */
        for (int c = lane; c < 16 * 8; c += 32) {
            int r = c >> 3, d0 = (c & 7) * 8;
            uint16_t v[8];
            load8(base + (size_t)(q0 + r) * W + d0, qkv_b + h * HD + d0, q0 + r < T, bf, v);
            *(uint4 *)&Qw[r * LDS + d0] = *(uint4 *)v;
        }
        __syncwarp();
        uint32_t qa[4][4];
#pragma unroll
        for (int ks = 0; ks < 4; ks++) {
            qa[ks][0] = *(const uint32_t *)&Qw[g * LDS + ks * 16 + tig * 2];
            qa[ks][1] = *(const uint32_t *)&Qw[(g + 8) * LDS + ks * 16 + tig * 2];
            qa[ks][2] = *(const uint32_t *)&Qw[g * LDS + ks * 16 + 8 + tig * 2];
            qa[ks][3] = *(const uint32_t *)&Qw[(g + 8) * LDS + ks * 16 + 8 + tig * 2];
        }
        __syncwarp(); /* every lane has its fragments before the next tile's rows overwrite them */
        float o[8][4];
#pragma unroll
        for (int i = 0; i < 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
        float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
        for (int k0 = 0; k0 < T; k0 += 64) {
            const int nk = T - k0; /* keys of this chunk inside the sequence (all 64 but in the last) */
            float s[8][4];
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
                if (nt * 8 >= nk) continue;
#pragma unroll
                for (int kp = 0; kp < 2; kp++) { /* head dims kp*32 .. +31: two k-steps */
                    uint32_t b[4];
                    ldsm_x4<0>(b, &Ks[(k0 + nt * 8 + kr) * LDS + kp * 32 + kc]);
                    mma16816(s[nt], qa[2 * kp], b[0], b[1], bf);
                    mma16816(s[nt], qa[2 * kp + 1], b[2], b[3], bf);
                }
            }
            float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float v = s[nt][e] * scale_log2;
                    if (nk < 64 && nt * 8 + tig * 2 + (e & 1) >= nk) v = -INFINITY; /* past the sequence */
                    s[nt][e] = v;
                    if (e < 2) mx0 = fmaxf(mx0, v);
                    else mx1 = fmaxf(mx1, v);
                }
            softmax_chunk<0>(s, o, mx0, mx1, m0, m1, l0, l1);
#pragma unroll
            for (int kk = 0; kk < 4; kk++) {
                if (kk * 16 >= nk) continue; /* all 16 probabilities are 0 */
                uint32_t pa[4];
                p_operand(s, kk, bf, pa);
#pragma unroll
                for (int dp = 0; dp < 4; dp++) { /* head dims dp*16 .. +15: two n-tiles */
                    uint32_t b[4];
                    ldsm_x4<1>(b, &Vs[(k0 + kk * 16 + vr) * LDS + dp * 16 + vc]);
                    mma16816(o[2 * dp], pa, b[0], b[1], bf);
                    mma16816(o[2 * dp + 1], pa, b[2], b[3], bf);
                }
            }
        }
        store_rows<0>(o, l0, l1, ob, q0 + g, q0 + g + 8, T, D, tig, bf);
    }
}

/* Which kernel a launch takes (kernels.h). attn_seq: 16-bit, head size
 * 64, bidirectional, sequences known to be at most seq_len rows, and two
 * blocks of them fitting in one multiprocessor's shared memory (with the
 * 1 KiB each block reserves), so that 16 warps are resident as in
 * attn_mma: on an H100/H200 (228 KiB) sequences of up to 320 tokens (every
 * ViT at 224 pixels); attn_seq was measured there only, and with fewer
 * resident warps (an A100's 164 KiB, an L4's 100) or longer sequences
 * (ViT-L/14 at 336 pixels: 577 tokens, one block) attn_mma stays. The
 * kernel's attribute is set to the device's opt-in limit, the same value
 * for every caller on the device, so concurrent models never lower it
 * under each other. NEGLABEL_CUDA_ATTN_SEQ=0 (for benchmarks) keeps
 * attn_mma. */
int nli_k_attention_kernel(int prec, int hd, int causal, const int *pos, int seq_len) {
    const int mma = (prec == 2 || prec == 3) && hd == HD;
    if (!(mma && !causal && !pos && seq_len > 0)) return mma ? NLI_ATTN_MMA : NLI_ATTN_SCALAR;
    const char *ev = getenv("NEGLABEL_CUDA_ATTN_SEQ");
    if (ev && !strcmp(ev, "0")) return NLI_ATTN_MMA;
    int dev = 0, optin = 0, per_sm = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev) != cudaSuccess) {
        cudaGetLastError();
        return NLI_ATTN_MMA;
    }
    const size_t bytes = seq_smem_bytes(seq_len);
    if (bytes > (size_t)optin || 2 * (bytes + 1024) > (size_t)per_sm) return NLI_ATTN_MMA;
    if (cudaFuncSetAttribute(attn_seq, cudaFuncAttributeMaxDynamicSharedMemorySize, optin) != cudaSuccess) {
        cudaGetLastError();
        return NLI_ATTN_MMA;
    }
    return NLI_ATTN_SEQ;
}

int nli_k_attention(int prec, cudaStream_t st, const void *qkv, const float *qkv_b, const int *pos, void *out,
                    const nli_attn_tile *tiles, int n_tiles, int H, int hd, int causal, int seq_len) {
    if (n_tiles <= 0) return 0;
    if (pos && !causal) {
        nli_seterr("attention: several sequences per tile need the causal mask");
        return -1;
    }
    if (hd > 128 || hd % 4 != 0) {
        nli_seterr("attention: head size %d unsupported (at most 128, a multiple of 4)", hd);
        return -1;
    }
    if (n_tiles > 2147483647 || H > 65535) {
        nli_seterr("attention: too many tiles (%d) or heads (%d)", n_tiles, H);
        return -1;
    }
    dim3 grid((unsigned)n_tiles, (unsigned)H);
    float scale = 1.0f / sqrtf((float)hd);
    const int kern = nli_k_attention_kernel(prec, hd, causal, pos, seq_len);
    if (kern == NLI_ATTN_SEQ) {
        attn_seq<<<grid, SEQ_WARPS * 32, seq_smem_bytes(seq_len), st>>>(
            (const uint16_t *)qkv, qkv_b, (uint16_t *)out, tiles, H, seq_len, scale * 1.4426950408889634f, prec == 3);
    } else if (kern == NLI_ATTN_MMA) {
        attn_mma<<<grid, 128, 0, st>>>((const uint16_t *)qkv, qkv_b, pos, (uint16_t *)out, tiles, H, causal,
                                       scale * 1.4426950408889634f, prec == 3);
    } else if (prec == 2) {
        attn_scalar_f16<<<grid, 256, 0, st>>>((const __half *)qkv, qkv_b, pos, (__half *)out, tiles, H, hd, causal,
                                              scale);
    } else if (prec == 3) {
        attn_scalar_bf16<<<grid, 256, 0, st>>>((const __nv_bfloat16 *)qkv, qkv_b, pos, (__nv_bfloat16 *)out, tiles, H,
                                               hd, causal, scale);
    } else {
        attn_scalar_f32<<<grid, 256, 0, st>>>((const float *)qkv, qkv_b, pos, (float *)out, tiles, H, hd, causal,
                                              scale);
    }
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        nli_seterr("attention kernel launch: %s", nli_cuda_errstr(e));
        return -1;
    }
    return 0;
}
