/* score.cu — NegLabel / MCM scoring and NegMining's quantiles on a GPU, with
 * the same formulas as the CPU code in score.c and mine.c.
 *
 * Scoring, per chunk of images:
 *   1. k_unit_rows: float rows -> double, scaled to unit length exactly as
 *      score.c's unit_rows (sum of squares in index order, no fused
 *      multiply-add, inv = 1/sqrt(ss), zero rows stay zero), so the
 *      normalised rows are bit-identical to the CPU's. The ID and negative
 *      rows are normalised once, the images chunk by chunk.
 *   2. cublasDgemm: cosines image x ID and image x negative, in double.
 *   3. k_score: one block of SCORE_THREADS threads per image: argmax and
 *      log-sum-exp of the ID row; argmax of the negative row, which is also
 *      staged in shared memory when it fits; then the groups (a warp per
 *      group when there are at least as many groups as warps, else the whole
 *      block per group), each group's LSE as score.c computes it (max, then
 *      the sum of exp(x - max)), combined with log1p as score.c does. Only
 *      the order of the sums differs from the CPU (tree reductions), which
 *      moves scores by ~1e-15 relative.
 *   Device memory per chunk: chunk * ((n_id + n_neg) * 8 + dim * 12 + 24)
 *   bytes, the chunk sized to stay within 1 GiB, plus the normalised label
 *   rows (n_id + n_neg) * dim * 8 bytes.
 *
 * Mining, per chunk of candidates: rows converted to double as given (no
 * normalisation), cublasDgemm candidate x ID, then k_quantile: one block per
 * candidate sorts its n_id cosines in shared memory (bitonic, padded with
 * +inf to a power of two) and interpolates between two order statistics with
 * torch.quantile's linear rule, exactly as mine.c. For n_id above
 * QUANT_MAX_SORT the cosines come back to the host and mine.c's own
 * selection (nli_mine_quantile) is used.
 *
 * NEGLABEL_CUDA_CHUNK_BYTES (bytes) overrides the per-chunk memory budget;
 * the tests use it to exercise many chunks on small inputs. */
#include "cuda/cublas_load.h"
#include <cuda_runtime.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "util.h"
}
#include "score_cuda.h"
#include "neglabel.h"

#include "mine.h" /* nli_mine_quantile: the host fallback for large n_id */
#include "score_device.cuh"

#define UNIT_WARPS 4                     /* k_unit_rows: warps per block, 32 rows each */
#define QUANT_MAX_SORT 8192              /* largest n_id sorted in shared memory */
#define DEFAULT_BUDGET ((size_t)1 << 30) /* device bytes per chunk */
#define HOST_FALLBACK_BUDGET ((size_t)256 << 20)


/* ------------------------------------------------------------ helpers */

/* Bytes per chunk: NEGLABEL_CUDA_CHUNK_BYTES, else def. */
static size_t chunk_budget(size_t def) {
    const char *s = getenv("NEGLABEL_CUDA_CHUNK_BYTES");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == 0 && v > 0) return (size_t)v;
    }
    return def;
}

/* Items per chunk for per_item bytes each within budget: [1, min(n, cap)]. */
static size_t chunk_items(size_t budget, size_t per_item, size_t n, size_t cap) {
    size_t c = per_item ? budget / per_item : n;
    if (c < 1) c = 1;
    if (c > n) c = n;
    if (c > cap) c = cap;
    return c;
}

/* ------------------------------------------------------------ kernels */

/* x: n rows of dim floats -> out: the same rows in double, scaled to unit
 * length with score.c's operations in score.c's order (normalise 0: only
 * converted). Each warp owns 32 rows: tiles of 32 columns pass through
 * shared memory so that reads are coalesced while each lane sums its own
 * row sequentially; the scaled rows are written row by row, coalesced. */
static __global__ void __launch_bounds__(UNIT_WARPS * 32)
k_unit_rows(const float *__restrict__ x, size_t n, int dim, int normalise, double *__restrict__ out) {
    __shared__ float tile[UNIT_WARPS][32][33];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const size_t r0 = ((size_t)blockIdx.x * UNIT_WARPS + warp) * 32;
    if (r0 >= n) return; /* whole warp: only warp-level synchronisation below */
    const int rows = n - r0 < 32 ? (int)(n - r0) : 32;
    float(*t)[33] = tile[warp];
    double ss = 0;
    if (normalise) {
        for (int k0 = 0; k0 < dim; k0 += 32) {
            const int kw = dim - k0 < 32 ? dim - k0 : 32;
            for (int j = 0; j < rows; j++)
                if (lane < kw) t[j][lane] = x[(r0 + j) * (size_t)dim + k0 + lane];
            __syncwarp();
            if (lane < rows)
                for (int k = 0; k < kw; k++) {
                    const double d = (double)t[lane][k];
                    ss = __dadd_rn(ss, __dmul_rn(d, d));
                }
            __syncwarp();
        }
    }
    const double inv = normalise ? (ss > 0 ? 1.0 / sqrt(ss) : 0.0) : 1.0;
    for (int j = 0; j < rows; j++) {
        const double s = __shfl_sync(0xffffffffu, inv, j);
        const float *xr = x + (r0 + j) * (size_t)dim;
        double *o = out + (r0 + j) * (size_t)dim;
        for (int k = lane; k < dim; k += 32) o[k] = normalise ? __dmul_rn((double)xr[k], s) : (double)xr[k];
    }
}

/* Copy n float rows to the device (through the staging buffer d_f) and
 * turn them into doubles there, normalised or not. 0, or -1 with the error
 * set (what: which rows, for the message). */
static int upload_rows(int index, cudaStream_t st, const float *host, size_t n, size_t dim, int normalise, float *d_f,
                       double *d_out, const char *what) {
    CUDA_TRY(cudaMemcpyAsync(d_f, host, n * dim * sizeof(float), cudaMemcpyHostToDevice, st), what);
    k_unit_rows<<<(unsigned)((n + UNIT_WARPS * 32 - 1) / (UNIT_WARPS * 32)), UNIT_WARPS * 32, 0, st>>>(
        d_f, n, (int)dim, normalise, d_out);
    CUDA_TRY(cudaGetLastError(), "launching the row conversion kernel");
    return 0;
done:
    return -1;
}

/* One block per candidate: its n cosines (row of S, ld n) sorted ascending
 * in shared memory (p >= n, a power of two, padded with +inf), then
 * v[lo] + (v[lo+1] - v[lo]) * frac, or v[lo] when has_next is 0 — mine.c's
 * quantile(). A NaN anywhere gives NaN (mine.c then reports the candidate). */
static __global__ void k_quantile(const double *__restrict__ S, int n, int p, int lo, double frac, int has_next,
                           double *__restrict__ out) {
    extern __shared__ double v[];
    const double *s = S + (size_t)blockIdx.x * n;
    int bad = 0;
    for (int k = threadIdx.x; k < p; k += blockDim.x) {
        double x = INFINITY;
        if (k < n) {
            x = s[k];
            if (isnan(x)) bad = 1;
        }
        v[k] = x;
    }
    bad = __syncthreads_or(bad);
    const int half = p >> 1;
    for (int k = 2; k <= p; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int t = threadIdx.x; t < half; t += blockDim.x) {
                const int i = 2 * t - (t & (j - 1)); /* (t / j) * 2j + t % j: bit j clear */
                const int l = i + j;
                const double x = v[i], y = v[l];
                const bool up = (i & k) == 0;
                if (up ? x > y : x < y) {
                    v[i] = y;
                    v[l] = x;
                }
            }
            __syncthreads();
        }
    if (threadIdx.x == 0) {
        double r;
        if (bad) {
            r = NAN;
        } else {
            const double a = v[lo];
            r = has_next ? __dadd_rn(a, __dmul_rn(__dsub_rn(v[lo + 1], a), frac)) : a;
        }
        out[blockIdx.x] = r;
    }
}

/* ------------------------------------------------------------ scoring */

int nli_cuda_score(int index, const float *img, size_t n_img, const float *id_emb, size_t n_id,
                  const float *neg_emb, size_t n_neg, size_t dim, int method, size_t ngroup, size_t gsize,
                  const size_t *perm, double inv_tau, double *scores, size_t *top_id, size_t *top_neg) {
    int rc = -1, prev = -1, entered = 0;
    cudaStream_t st = NULL;
    cublasHandle_t h = NULL;
    float *d_f = NULL;
    double *d_id = NULL, *d_neg = NULL, *d_img = NULL, *d_sid = NULL, *d_sneg = NULL, *d_score = NULL;
    int *d_perm = NULL, *h_perm = NULL;
    unsigned long long *d_tid = NULL, *d_tneg = NULL;
    size_t kept = 0, use_neg = 0, chunk = 0, per_img = 0, stage_bytes = 0, fmax_rows = 0;
    int stage = 0, optin = 0;
    const double one = 1.0, zero = 0.0;

    if (method != 0 && method != 1) {
        nli_seterr("cuda:%d: score: unknown method %d", index, method);
        return -1;
    }
    if (n_id == 0 || dim == 0 || dim > INT_MAX || n_id > INT_MAX || n_neg > INT_MAX || !(inv_tau > 0)) {
        nli_seterr("cuda:%d: score: bad sizes (dim %zu, %zu ID, %zu negative labels)", index, dim, n_id, n_neg);
        return -1;
    }
    if (method == 0) {
        if (n_neg == 0 || ngroup == 0 || gsize == 0 || !perm || ngroup > n_neg || gsize > n_neg / ngroup) {
            nli_seterr("cuda:%d: score: bad groups (%zu groups of %zu of %zu negative labels)", index, ngroup, gsize,
                      n_neg);
            return -1;
        }
        kept = ngroup * gsize;
        for (size_t k = 0; k < kept; k++)
            if (perm[k] >= n_neg) {
                nli_seterr("cuda:%d: score: group index %zu out of range (%zu negative labels)", index, perm[k], n_neg);
                return -1;
            }
    }
    if (top_neg && n_neg == 0)
        for (size_t i = 0; i < n_img; i++) top_neg[i] = SIZE_MAX;
    if (n_img == 0) return 0;
    /* the negative cosines: for NegLabel, and for top_neg */
    use_neg = n_neg > 0 && (method == 0 || top_neg) ? n_neg : 0;

    if (nli_cuda_select(index, &prev) != 0) return -1;
    entered = 1;
    CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, index),
             "reading the shared-memory limit");
    stage_bytes = use_neg * sizeof(double);
    stage = method == 0 && stage_bytes <= STAGE_MAX_BYTES && stage_bytes + 2048 <= (size_t)optin;

    per_img = (n_id + use_neg) * sizeof(double) + dim * (sizeof(float) + sizeof(double)) + sizeof(double) +
              2 * sizeof(unsigned long long);
    chunk = chunk_items(chunk_budget(DEFAULT_BUDGET), per_img, n_img, (size_t)1 << 24);
    fmax_rows = chunk;
    if (n_id > fmax_rows) fmax_rows = n_id;
    if (use_neg > fmax_rows) fmax_rows = use_neg;

    if (open_blas(index, &st, &h) != 0) goto done;

    CUDA_TRY(cudaMalloc((void **)&d_f, fmax_rows * dim * sizeof(float)), "allocating the upload buffer");
    CUDA_TRY(cudaMalloc((void **)&d_id, n_id * dim * sizeof(double)), "allocating the ID rows");
    CUDA_TRY(cudaMalloc((void **)&d_img, chunk * dim * sizeof(double)), "allocating the image rows");
    CUDA_TRY(cudaMalloc((void **)&d_sid, chunk * n_id * sizeof(double)), "allocating the ID cosines");
    CUDA_TRY(cudaMalloc((void **)&d_score, chunk * sizeof(double)), "allocating the scores");
    CUDA_TRY(cudaMalloc((void **)&d_tid, chunk * sizeof(unsigned long long)), "allocating the top labels");
    if (use_neg) {
        CUDA_TRY(cudaMalloc((void **)&d_neg, use_neg * dim * sizeof(double)), "allocating the negative rows");
        CUDA_TRY(cudaMalloc((void **)&d_sneg, chunk * use_neg * sizeof(double)), "allocating the negative cosines");
        CUDA_TRY(cudaMalloc((void **)&d_tneg, chunk * sizeof(unsigned long long)), "allocating the top negatives");
    }
    if (kept) {
        h_perm = (int *)nli_mallocarray(kept, sizeof(int));
        if (!h_perm) goto done;
        for (size_t k = 0; k < kept; k++) h_perm[k] = (int)perm[k];
        CUDA_TRY(cudaMalloc((void **)&d_perm, kept * sizeof(int)), "allocating the groups");
        CUDA_TRY(cudaMemcpyAsync(d_perm, h_perm, kept * sizeof(int), cudaMemcpyHostToDevice, st),
                 "copying the groups");
    }
    if (stage) CUDA_TRY(k_score_allow_staging(optin), "raising the shared-memory limit of the scoring kernel");

    /* label rows: upload, normalise in double */
    if (upload_rows(index, st, id_emb, n_id, dim, 1, d_f, d_id, "copying the ID embeddings")) goto done;
    if (use_neg) {
        if (upload_rows(index, st, neg_emb, use_neg, dim, 1, d_f, d_neg, "copying the negative embeddings")) goto done;
    }

    for (size_t i0 = 0; i0 < n_img; i0 += chunk) {
        const size_t m = n_img - i0 < chunk ? n_img - i0 : chunk;
        if (upload_rows(index, st, img + i0 * dim, m, dim, 1, d_f, d_img, "copying the image embeddings")) goto done;
        /* row-major S (m x n) = IMG (m x dim) * L^T is column-major S^T (n x m)
         * = L * IMG^T, where the row-major L (n x dim) is column-major dim x n */
        CUBLAS_TRY(nli_cublas.Dgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)n_id, (int)m, (int)dim, &one, d_id, (int)dim,
                                    d_img, (int)dim, &zero, d_sid, (int)n_id),
                   "cosines to the ID labels (cublasDgemm)");
        if (use_neg)
            CUBLAS_TRY(nli_cublas.Dgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)use_neg, (int)m, (int)dim, &one, d_neg,
                                        (int)dim, d_img, (int)dim, &zero, d_sneg, (int)use_neg),
                       "cosines to the negative labels (cublasDgemm)");
        k_score<<<(unsigned)m, SCORE_THREADS, stage ? stage_bytes : 0, st>>>(
            d_sid, (int)n_id, use_neg ? d_sneg : NULL, (int)use_neg, d_perm, (int)ngroup, (int)gsize, method,
            inv_tau, stage, d_score, d_tid, use_neg ? d_tneg : NULL);
        CUDA_TRY(cudaGetLastError(), "launching the scoring kernel");
        CUDA_TRY(cudaMemcpyAsync(scores + i0, d_score, m * sizeof(double), cudaMemcpyDeviceToHost, st),
                 "copying the scores back");
        if (top_id)
            CUDA_TRY(cudaMemcpyAsync(top_id + i0, d_tid, m * sizeof(size_t), cudaMemcpyDeviceToHost, st),
                     "copying the top ID labels back");
        if (top_neg && use_neg)
            CUDA_TRY(cudaMemcpyAsync(top_neg + i0, d_tneg, m * sizeof(size_t), cudaMemcpyDeviceToHost, st),
                     "copying the top negative labels back");
        CUDA_TRY(cudaStreamSynchronize(st), "scoring");
    }
    rc = 0;
done:
    close_blas(st, h);
    cudaFree(d_f);
    cudaFree(d_id);
    cudaFree(d_neg);
    cudaFree(d_img);
    cudaFree(d_sid);
    cudaFree(d_sneg);
    cudaFree(d_score);
    cudaFree(d_tid);
    cudaFree(d_tneg);
    cudaFree(d_perm);
    free(h_perm);
    if (rc != 0) (void)cudaGetLastError(); /* leave no error behind for the next caller */
    if (entered) device_leave(index, prev);
    return rc;
}

/* ------------------------------------------------------------ mining */

/* Smallest power of two >= n (n >= 1). */
static int pow2_at_least(size_t n) {
    int p = 1;
    while ((size_t)p < n) p <<= 1;
    return p;
}

int nli_cuda_mine_quantiles(int index, const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
                           size_t dim, double q, double *qsim) {
    int rc = -1, prev = -1, entered = 0, on_gpu = 0, optin = 0, p = 1, threads = 32, has_next = 0, lo_i = 0;
    cudaStream_t st = NULL;
    cublasHandle_t h = NULL;
    float *d_f = NULL;
    double *d_id = NULL, *d_cand = NULL, *d_s = NULL, *d_q = NULL, *h_s = NULL;
    size_t lo = 0, chunk = 0, per_cand = 0, fmax_rows = 0, smem = 0;
    double pos = 0, frac = 0;
    const double one = 1.0, zero = 0.0;

    if (n_id == 0 || dim == 0 || dim > INT_MAX || n_id > INT_MAX) {
        nli_seterr("cuda:%d: mine: bad sizes (dim %zu, %zu ID labels)", index, dim, n_id);
        return -1;
    }
    if (!(q >= 0 && q <= 1)) {
        nli_seterr("cuda:%d: mine: quantile %g outside [0, 1]", index, q);
        return -1;
    }
    if (n_cand == 0) return 0;
    /* mine.c's quantile(): pos = q (n-1), lo = floor(pos) clamped to n-1 */
    pos = q * (double)(n_id - 1);
    lo = (size_t)floor(pos);
    if (lo >= n_id - 1) lo = n_id - 1;
    frac = pos - (double)lo;
    has_next = lo + 1 < n_id;
    lo_i = (int)lo;

    if (nli_cuda_select(index, &prev) != 0) return -1;
    entered = 1;
    CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, index),
             "reading the shared-memory limit");
    if (n_id <= QUANT_MAX_SORT) {
        p = pow2_at_least(n_id);
        smem = (size_t)p * sizeof(double);
        on_gpu = smem <= (size_t)optin;
        threads = p / 2 < 32 ? 32 : p / 2 > 1024 ? 1024 : p / 2;
    }

    per_cand = n_id * sizeof(double) + dim * (sizeof(float) + sizeof(double)) + sizeof(double);
    chunk = chunk_items(chunk_budget(on_gpu ? DEFAULT_BUDGET : HOST_FALLBACK_BUDGET), per_cand, n_cand,
                        (size_t)1 << 24);
    fmax_rows = chunk > n_id ? chunk : n_id;

    if (open_blas(index, &st, &h) != 0) goto done;
    CUDA_TRY(cudaMalloc((void **)&d_f, fmax_rows * dim * sizeof(float)), "allocating the upload buffer");
    CUDA_TRY(cudaMalloc((void **)&d_id, n_id * dim * sizeof(double)), "allocating the ID rows");
    CUDA_TRY(cudaMalloc((void **)&d_cand, chunk * dim * sizeof(double)), "allocating the candidate rows");
    CUDA_TRY(cudaMalloc((void **)&d_s, chunk * n_id * sizeof(double)), "allocating the similarities");
    if (on_gpu) {
        CUDA_TRY(cudaMalloc((void **)&d_q, chunk * sizeof(double)), "allocating the quantiles");
        if (smem > 48 * 1024)
            CUDA_TRY(cudaFuncSetAttribute(k_quantile, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
                     "raising the shared-memory limit of the quantile kernel");
    } else {
        h_s = (double *)nli_mallocarray(chunk * n_id, sizeof(double));
        if (!h_s) goto done;
    }

    if (upload_rows(index, st, id_emb, n_id, dim, 0, d_f, d_id, "copying the ID embeddings")) goto done;

    for (size_t c0 = 0; c0 < n_cand; c0 += chunk) {
        const size_t m = n_cand - c0 < chunk ? n_cand - c0 : chunk;
        if (upload_rows(index, st, cand_emb + c0 * dim, m, dim, 0, d_f, d_cand, "copying the candidate embeddings"))
            goto done;
        /* row-major S (m x n_id) = CAND * ID^T, as in nli_cuda_score */
        CUBLAS_TRY(nli_cublas.Dgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)n_id, (int)m, (int)dim, &one, d_id, (int)dim,
                                    d_cand, (int)dim, &zero, d_s, (int)n_id),
                   "candidate-ID similarities (cublasDgemm)");
        if (on_gpu) {
            k_quantile<<<(unsigned)m, threads, smem, st>>>(d_s, (int)n_id, p, lo_i, frac, has_next, d_q);
            CUDA_TRY(cudaGetLastError(), "launching the quantile kernel");
            CUDA_TRY(cudaMemcpyAsync(qsim + c0, d_q, m * sizeof(double), cudaMemcpyDeviceToHost, st),
                     "copying the quantiles back");
            CUDA_TRY(cudaStreamSynchronize(st), "mining");
        } else {
            CUDA_TRY(cudaMemcpyAsync(h_s, d_s, m * n_id * sizeof(double), cudaMemcpyDeviceToHost, st),
                     "copying the similarities back");
            CUDA_TRY(cudaStreamSynchronize(st), "mining");
            for (size_t i = 0; i < m; i++) qsim[c0 + i] = nli_mine_quantile(h_s + i * n_id, n_id, q);
        }
    }
    rc = 0;
done:
    close_blas(st, h);
    cudaFree(d_f);
    cudaFree(d_id);
    cudaFree(d_cand);
    cudaFree(d_s);
    cudaFree(d_q);
    free(h_s);
    if (rc != 0) (void)cudaGetLastError();
    if (entered) device_leave(index, prev);
    return rc;
}
