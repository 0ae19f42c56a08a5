/* score_device.cuh — what the GPU's NegLabel scoring (score.cu) and AdaNeg
 * (adaneg.cu) share beyond session_device.cuh: the block reductions and
 * k_score, NegLabel / MCM scores of a chunk of cosines (its contract and
 * rounding are described in score.cu). Included by those .cu files only;
 * everything here is static to each. */
#ifndef NEGLABEL_SCORE_DEVICE_CUH
#define NEGLABEL_SCORE_DEVICE_CUH
#include "session_device.cuh"
#include <limits.h>
#include <math.h>
#include <stddef.h>

/* A kernel's dynamic shared memory (the CPU emulator's rewriting of .cu
 * files, tests/cuda_emu/unlaunch.py, does not reach this header). */
#ifdef NLEMU
#define NLI_DYN_SMEM(T, name) T *name = (T *)nlemu::dyn_smem()
#else
#define NLI_DYN_SMEM(T, name) extern __shared__ T name[]
#endif

/* top labels come back as unsigned long long into size_t arrays */
static_assert(sizeof(size_t) == sizeof(unsigned long long), "size_t must be 64-bit");

#define SCORE_THREADS 256
#define SCORE_WARPS (SCORE_THREADS / 32)
#define STAGE_MAX_BYTES (110 * 1024) /* stage a negative row in shared memory up to this */
/* The most a call stages on a device whose opt-in limit is optin (a call
 * stages n_neg doubles when they fit under this). */
#define STAGE_LIMIT(optin) ((size_t)(optin) - 2048 < STAGE_MAX_BYTES ? (size_t)(optin) - 2048 : STAGE_MAX_BYTES)

/* (value, index) pairs ordered by value descending, then index ascending:
 * the first maximum, as score.c's argmax (NaN never wins). */
static __device__ __forceinline__ void argmax_merge(double &v, int &i, double v2, int i2) {
    if (v2 > v || (v2 == v && i2 < i)) {
        v = v2;
        i = i2;
    }
}

static __device__ __forceinline__ void warp_argmax(double &v, int &i) {
    for (int off = 16; off > 0; off >>= 1) {
        const double v2 = __shfl_xor_sync(0xffffffffu, v, off);
        const int i2 = __shfl_xor_sync(0xffffffffu, i, off);
        argmax_merge(v, i, v2, i2);
    }
}

static __device__ __forceinline__ double warp_max(double v) {
    for (int off = 16; off > 0; off >>= 1) {
        const double v2 = __shfl_xor_sync(0xffffffffu, v, off);
        if (v2 > v) v = v2;
    }
    return v;
}

static __device__ __forceinline__ double warp_sum(double v) {
    for (int off = 16; off > 0; off >>= 1) v = __dadd_rn(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

/* Shared scratch of the block reductions. */
struct reduce_smem {
    double v[SCORE_WARPS];
    int i[SCORE_WARPS];
    double out_v;
    int out_i;
};

/* Block-wide first argmax; every thread gets the result. */
static __device__ void block_argmax(reduce_smem &r, double &v, int &i) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    warp_argmax(v, i);
    if (lane == 0) {
        r.v[warp] = v;
        r.i[warp] = i;
    }
    __syncthreads();
    if (warp == 0) {
        double w = lane < SCORE_WARPS ? r.v[lane] : -INFINITY;
        int wi = lane < SCORE_WARPS ? r.i[lane] : INT_MAX;
        warp_argmax(w, wi);
        if (lane == 0) {
            r.out_v = w;
            r.out_i = wi;
        }
    }
    __syncthreads();
    v = r.out_v;
    i = r.out_i;
    __syncthreads(); /* r may be reused at once */
}

static __device__ double block_max(reduce_smem &r, double v) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    v = warp_max(v);
    if (lane == 0) r.v[warp] = v;
    __syncthreads();
    if (warp == 0) {
        double w = warp_max(lane < SCORE_WARPS ? r.v[lane] : -INFINITY);
        if (lane == 0) r.out_v = w;
    }
    __syncthreads();
    v = r.out_v;
    __syncthreads();
    return v;
}

static __device__ double block_sum(reduce_smem &r, double v) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    v = warp_sum(v);
    if (lane == 0) r.v[warp] = v;
    __syncthreads();
    if (warp == 0) {
        double w = warp_sum(lane < SCORE_WARPS ? r.v[lane] : 0.0);
        if (lane == 0) r.out_v = w;
    }
    __syncthreads();
    v = r.out_v;
    __syncthreads();
    return v;
}

/* exp(x * inv_tau - m) with score.c's two roundings (no fused multiply-add). */
static __device__ __forceinline__ double exp_shifted(double x, double inv_tau, double m) {
    return exp(__dsub_rn(__dmul_rn(x, inv_tau), m));
}

/* score.c's neglabel_one, one group: exp(a - log(e^a + e^b)). */
static __device__ __forceinline__ double group_term(double a, double b) {
    const double hi = a > b ? a : b, lo = a > b ? b : a;
    const double all = hi + log1p(exp(lo - hi));
    return exp(a - all);
}

/* One block per image of the chunk. sid: m x n_id cosines (row-major),
 * sneg: m x n_neg (n_neg 0: none). method 0 NegLabel (perm: ngroup * gsize
 * indices into the negative row), 1 MCM. stage: copy each negative row to
 * dynamic shared memory (n_neg doubles) before the groups read it. */
static __global__ void __launch_bounds__(SCORE_THREADS)
k_score(const double *__restrict__ sid, int n_id, const double *__restrict__ sneg, int n_neg,
        const int *__restrict__ perm, int ngroup, int gsize, int method, double inv_tau, int stage,
        double *__restrict__ scores, unsigned long long *__restrict__ top_id,
        unsigned long long *__restrict__ top_neg) {
    NLI_DYN_SMEM(double, srow);
    __shared__ reduce_smem red;
    __shared__ double warp_total[SCORE_WARPS];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const size_t img = blockIdx.x;

    /* ID labels: first argmax, then LSE = m + log(sum exp(x - m)) */
    const double *a = sid + img * (size_t)n_id;
    double bv = -INFINITY;
    int bi = INT_MAX;
    for (int k = tid; k < n_id; k += SCORE_THREADS) {
        const double x = a[k];
        if (x > bv) {
            bv = x;
            bi = k;
        }
    }
    block_argmax(red, bv, bi);
    if (bi == INT_MAX) bi = 0; /* all NaN */
    /* max(s * inv_tau) == max(s) * inv_tau: rounding is monotone */
    const double m_id = __dmul_rn(bv, inv_tau);
    double s = 0;
    for (int k = tid; k < n_id; k += SCORE_THREADS) s += exp_shifted(a[k], inv_tau, m_id);
    s = block_sum(red, s);
    const double lse_id = m_id + log(s);
    if (tid == 0 && top_id) top_id[img] = (unsigned long long)bi;

    /* negative labels: first argmax over all of them (and the staging copy) */
    const double *b = sneg ? sneg + img * (size_t)n_neg : NULL;
    if (n_neg > 0) {
        double nv = -INFINITY;
        int ni = INT_MAX;
        for (int k = tid; k < n_neg; k += SCORE_THREADS) {
            const double x = b[k];
            if (stage) srow[k] = x;
            if (x > nv) {
                nv = x;
                ni = k;
            }
        }
        block_argmax(red, nv, ni); /* its __syncthreads also publish srow */
        if (ni == INT_MAX) ni = 0;
        if (tid == 0 && top_neg) top_neg[img] = (unsigned long long)ni;
    }

    if (method == 1) {
        if (tid == 0) scores[img] = exp(__dsub_rn(m_id, lse_id));
        return;
    }

    const double *row = stage ? srow : b;
    double total = 0; /* thread 0 (block path) or each warp's lane 0 (warp path) */
    if (ngroup >= SCORE_WARPS) {
        /* a warp per group */
        for (int g = warp; g < ngroup; g += SCORE_WARPS) {
            const int *pg = perm + (size_t)g * gsize;
            double mx = -INFINITY;
            for (int j = lane; j < gsize; j += 32) {
                const double x = row[pg[j]];
                if (x > mx) mx = x;
            }
            const double mb = __dmul_rn(warp_max(mx), inv_tau);
            double sb = 0;
            for (int j = lane; j < gsize; j += 32) sb += exp_shifted(row[pg[j]], inv_tau, mb);
            sb = warp_sum(sb);
            total += group_term(lse_id, mb + log(sb));
        }
        if (lane == 0) warp_total[warp] = total;
        __syncthreads();
        if (tid == 0) {
            double t = 0;
            for (int w = 0; w < SCORE_WARPS; w++) t += warp_total[w];
            scores[img] = t / (double)ngroup;
        }
    } else {
        /* few, large groups: the whole block per group, in score.c's order */
        for (int g = 0; g < ngroup; g++) {
            const int *pg = perm + (size_t)g * gsize;
            double mx = -INFINITY;
            for (int j = tid; j < gsize; j += SCORE_THREADS) {
                const double x = row[pg[j]];
                if (x > mx) mx = x;
            }
            const double mb = __dmul_rn(block_max(red, mx), inv_tau);
            double sb = 0;
            for (int j = tid; j < gsize; j += SCORE_THREADS) sb += exp_shifted(row[pg[j]], inv_tau, mb);
            sb = block_sum(red, sb);
            total += group_term(lse_id, mb + log(sb));
        }
        if (tid == 0) scores[img] = total / (double)ngroup;
    }
}

/* k_score may stage any size a call on this device stages: one value for
 * every call (calls may run at once: a call's own size would lower the
 * limit under another's launch), set at any staged size (under 48 KiB the
 * default limit also counts the kernel's static shared memory). */
static cudaError_t k_score_allow_staging(int optin) {
    return cudaFuncSetAttribute(k_score, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)STAGE_LIMIT(optin));
}

#endif
