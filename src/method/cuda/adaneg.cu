/* adaneg.cu — AdaNeg's heavy steps on a GPU (adaneg_cuda.h), with adaneg.c's
 * formulas and, where a value decides something (entropies, the adaptive
 * cosines), its roundings: products and sums spelled __dmul_rn / __dadd_rn
 * so that nvcc fuses nothing the host build does not.
 *
 * Per chunk of images (adaneg.c decides the chunks and the memory):
 *   static    cublasDgemm cosines image x ID and image x negative (kept in
 *             d_sid / d_sneg), k_score (score.cu's NegLabel kernel) for the
 *             static score and the argmaxes, k_entropy for the entropies;
 *   adaptive  the static cosines copied to d_aid / d_aneg, cublasDgemm of the
 *             images against the proxies (task-adaptive) or against every
 *             slot vector of the touched labels (sample-adaptive: d_V, kept
 *             here and updated for the labels that changed, so a batch sends
 *             only those), k_adapt_task / k_adapt_sample writing
 *             each touched label's adaptive cosine over its static one, and
 *             k_score again.
 * Only the order of the sums in the reductions and DGEMMs differs from the
 * CPU, which moves scores and entropies by ~1e-15 relative.
 *
 * Device memory: the label rows (n_id + n_neg) * dim * 8 bytes, per chunk
 * sub * (4 (n_id + n_neg) + dim) * 8 bytes, and per touched label: its proxy
 * (dim doubles) or its Gram matrix and slot vectors (slots^2 + slots * dim),
 * and a chunk's cosines to them (sub * 1 or sub * slots). */
#include "score_device.cuh"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adaneg_cuda.h"

#define PAIR_THREADS 256

struct nli_cuda_adaneg {
    int index;
    cudaStream_t st;
    cublasHandle_t h;
    size_t n_id, n_neg, dim, sub, slots, ngroup, gsize, rowlen;
    int samada, stage;
    double inv_tau, beta;
    double *d_id, *d_neg, *d_u, *d_sid, *d_sneg, *d_aid, *d_aneg, *d_score, *d_ent, *d_ad;
    int *d_perm;
    unsigned long long *d_tid, *d_tneg;
    double *d_rows, *d_pack;  /* proxy rows (cap_rows), packed uploads (cap_pack rows) */
    int *d_rowidx;            /* cap_rowidx */
    size_t cap_rows, cap_pack, cap_rowidx;
    double *d_V, *d_vpack;    /* sample-adaptive: slot vectors, slots * dim per row (cap_v, cap_vpack rows) */
    int *d_kind, *d_kpack;    /* slot kinds, slots per row (cap_kind, cap_kpack rows) */
    size_t cap_v, cap_vpack, cap_kind, cap_kpack;
    int *d_touched;           /* cap_touched */
    size_t cap_touched, n_touched, rows_set; /* rows_set: 1 + the highest proxy row given */
    double *d_T;              /* sub * cap_t */
    size_t cap_t;
    size_t m;                 /* images of the last static step */
};

/* ------------------------------------------------------------ kernels */

/* One block per image: H = -sum p log(p + 1e-8), p the softmax of the row /
 * tau (exp(x - max) / sum, as adaneg.c's entropy()), over the ID cosines when
 * the static score is above hi, the negative ones when below lo; else 0. */
static __global__ void __launch_bounds__(SCORE_THREADS)
k_entropy(const double *__restrict__ sid, int n_id, const double *__restrict__ sneg, int n_neg,
          const double *__restrict__ score, double hi, double lo, double inv_tau, double *__restrict__ out) {
    __shared__ reduce_smem red;
    const size_t img = blockIdx.x;
    const double v = score[img]; /* the same for the whole block: the branch is uniform */
    const double *s;
    int n;
    if (v > hi) {
        s = sid + img * (size_t)n_id;
        n = n_id;
    } else if (v < lo) {
        s = sneg + img * (size_t)n_neg;
        n = n_neg;
    } else {
        if (threadIdx.x == 0) out[img] = 0;
        return;
    }
    double mx = -INFINITY;
    for (int k = threadIdx.x; k < n; k += SCORE_THREADS) {
        const double x = __dmul_rn(s[k], inv_tau);
        if (x > mx) mx = x;
    }
    mx = block_max(red, mx);
    double sum = 0;
    for (int k = threadIdx.x; k < n; k += SCORE_THREADS) sum = __dadd_rn(sum, exp_shifted(s[k], inv_tau, mx));
    sum = block_sum(red, sum);
    double h = 0;
    for (int k = threadIdx.x; k < n; k += SCORE_THREADS) {
        const double p = exp_shifted(s[k], inv_tau, mx) / sum;
        h = __dadd_rn(h, __dmul_rn(p, log(__dadd_rn(p, 1e-8))));
    }
    h = block_sum(red, h);
    if (threadIdx.x == 0) out[img] = -h;
}

/* The adaptive cosine of image i to touched label r replaces its static one
 * in aid / aneg. Task-adaptive: T[i, r], the cosine to the label's proxy. */
static __global__ void k_adapt_task(const double *__restrict__ T, int tcols, const int *__restrict__ touched,
                                    int n_touched, int m, int n_id, int n_neg, double *__restrict__ aid,
                                    double *__restrict__ aneg) {
    const size_t t = (size_t)blockIdx.x * PAIR_THREADS + threadIdx.x;
    if (t >= (size_t)m * n_touched) return;
    const int i = (int)(t / n_touched), r = (int)(t % n_touched), lab = touched[r];
    const double c = T[(size_t)i * tcols + r];
    if (lab < n_id) aid[(size_t)i * n_id + lab] = c;
    else aneg[(size_t)i * n_neg + lab - n_id] = c;
}

/* x_k: the cosine of image i to slot k of touched row r (0 for an empty
 * slot, the static cosine for the label's text, else T's column r S + k). */
static __device__ __forceinline__ double slot_cos(const int *__restrict__ kr, int k, int lab, int i, int n_id, int n_neg,
                                                  const double *__restrict__ sid, const double *__restrict__ sneg,
                                                  const double *__restrict__ tr) {
    const int c = kr[k];
    if (c == -1) return 0;
    if (c == -2) return lab < n_id ? sid[(size_t)i * n_id + lab] : sneg[(size_t)i * n_neg + lab - n_id];
    return tr[k];
}

/* exp(-beta (1 - x)), adaneg.c's slot weight. */
static __device__ __forceinline__ double slot_weight(double beta, double x) {
    return exp(__dmul_rn(-beta, __dsub_rn(1.0, x)));
}

/* Sample-adaptive: img . sum_k w_k v_k / |sum_k w_k v_k| = sum_k w_k x_k /
 * sqrt(w^T G w), in adaneg.c's order (the weights recomputed, not stored:
 * S + S^2 exponentials per pair, each the same value every time). */
static __global__ void k_adapt_sample(const double *__restrict__ T, const int *__restrict__ touched,
                                      const int *__restrict__ kinds, const double *__restrict__ G, int n_touched, int S,
                                      int m, int n_id, int n_neg, double beta, const double *__restrict__ sid,
                                      const double *__restrict__ sneg, double *__restrict__ aid,
                                      double *__restrict__ aneg) {
    const size_t t = (size_t)blockIdx.x * PAIR_THREADS + threadIdx.x;
    if (t >= (size_t)m * n_touched) return;
    const int i = (int)(t / n_touched), r = (int)(t % n_touched), lab = touched[r];
    const int *kr = kinds + (size_t)r * S;
    const double *g = G + (size_t)r * S * S, *tr = T + ((size_t)i * n_touched + r) * S;
    double num = 0, den = 0;
    for (int k = 0; k < S; k++) {
        const double x = slot_cos(kr, k, lab, i, n_id, n_neg, sid, sneg, tr);
        num = __dadd_rn(num, __dmul_rn(slot_weight(beta, x), x));
    }
    for (int a = 0; a < S; a++) {
        const double wa = slot_weight(beta, slot_cos(kr, a, lab, i, n_id, n_neg, sid, sneg, tr));
        for (int b = 0; b < S; b++) {
            const double wb = slot_weight(beta, slot_cos(kr, b, lab, i, n_id, n_neg, sid, sneg, tr));
            den = __dadd_rn(den, __dmul_rn(__dmul_rn(wa, wb), g[(size_t)a * S + b]));
        }
    }
    const double c = den > 0 ? num / sqrt(den) : 0;
    if (lab < n_id) aid[(size_t)i * n_id + lab] = c;
    else aneg[(size_t)i * n_neg + lab - n_id] = c;
}

/* ------------------------------------------------------------ host */

static unsigned blocks_for(size_t n) { return (unsigned)((n + PAIR_THREADS - 1) / PAIR_THREADS); }

/* Scatter n packed rows of len doubles (or ints: words 1) on the stream. */
static void scatter(nli_cuda_adaneg *g, const void *pack, size_t n, size_t len, int words, void *rows) {
    const size_t w = len * (size_t)words;
    if (!n || !w) return;
    k_copy_rows<<<copy_rows_blocks(n, w), COPY_ROWS_THREADS, 0, g->st>>>(
        (const uint32_t *)pack, (const int *)NULL, g->d_rowidx, (int)n, (int)w, (uint32_t *)rows);
}

/* Grow a device buffer to hold `want` items of `size` bytes (keep: copy the
 * old contents); 0 or -1 with the error set. */
static int grow(int index, cudaStream_t st, void **buf, size_t *cap, size_t want, size_t size, int keep,
                const char *what) {
    void *nb = NULL;
    size_t nc;
    if (want <= *cap && *buf) return 0;
    nc = *cap ? *cap : 64;
    while (nc < want) nc *= 2;
    CUDA_TRY(cudaMalloc(&nb, nc * size), what);
    if (keep && *buf && *cap) CUDA_TRY(cudaMemcpyAsync(nb, *buf, *cap * size, cudaMemcpyDeviceToDevice, st), what);
    CUDA_TRY(cudaStreamSynchronize(st), what);
    cudaFree(*buf);
    *buf = nb;
    *cap = nc;
    return 0;
done:
    cudaFree(nb);
    return -1;
}

void nli_cuda_adaneg_close(nli_cuda_adaneg *g) {
    if (!g) return;
    int prev = -1;
    int ok = nli_cuda_select(g->index, &prev) == 0;
    close_blas(g->st, g->h);
    void *bufs[] = {g->d_id, g->d_neg, g->d_u, g->d_sid, g->d_sneg, g->d_aid, g->d_aneg, g->d_score, g->d_ent,
                    g->d_ad, g->d_perm, g->d_tid, g->d_tneg, g->d_rows, g->d_pack, g->d_rowidx, g->d_V,
                    g->d_vpack, g->d_kind, g->d_kpack, g->d_touched, g->d_T};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) cudaFree(bufs[k]);
    (void)cudaGetLastError();
    if (ok) device_leave(g->index, prev);
    free(g);
}

nli_cuda_adaneg *nli_cuda_adaneg_open(int index, const double *did, size_t n_id, const double *dneg, size_t n_neg,
                                      size_t dim, const size_t *perm, size_t ngroup, size_t gsize, double inv_tau,
                                      size_t sub, size_t slots, int samada, double beta) {
    int prev = -1, optin = 0, *h_perm = NULL;
    size_t kept = ngroup * gsize, nl = n_id + n_neg, stage_bytes = n_neg * sizeof(double);
    nli_cuda_adaneg *g = NULL;
    if (!n_id || !n_neg || !dim || !sub || !slots || !ngroup || !gsize || kept > n_neg || nl > INT_MAX ||
        dim > INT_MAX || sub > INT_MAX || slots > 46340 /* slots^2 < 2^31 */) {
        nli_seterr("cuda:%d: adaneg: bad sizes (%zu ID, %zu negative labels, dim %zu, %zu images per chunk, %zu slots)",
                   index, n_id, n_neg, dim, sub, slots);
        return NULL;
    }
    if (nli_cuda_select(index, &prev) != 0) return NULL;
    g = (nli_cuda_adaneg *)calloc(1, sizeof *g);
    if (!g) {
        nli_seterr("out of memory");
        device_leave(index, prev);
        return NULL;
    }
    *g = (nli_cuda_adaneg){.index = index, .n_id = n_id, .n_neg = n_neg, .dim = dim, .sub = sub, .slots = slots,
                           .ngroup = ngroup, .gsize = gsize, .rowlen = samada ? slots * slots : dim,
                           .samada = samada, .inv_tau = inv_tau, .beta = beta};
    CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, index),
             "reading the shared-memory limit");
    g->stage = stage_bytes <= STAGE_MAX_BYTES && stage_bytes + 2048 <= (size_t)optin;
    if (open_blas(index, &g->st, &g->h) != 0) goto done;
    CUDA_TRY(cudaMalloc((void **)&g->d_id, n_id * dim * sizeof(double)), "allocating the ID rows");
    CUDA_TRY(cudaMalloc((void **)&g->d_neg, n_neg * dim * sizeof(double)), "allocating the negative rows");
    CUDA_TRY(cudaMalloc((void **)&g->d_u, sub * dim * sizeof(double)), "allocating the image rows");
    CUDA_TRY(cudaMalloc((void **)&g->d_sid, sub * n_id * sizeof(double)), "allocating the ID cosines");
    CUDA_TRY(cudaMalloc((void **)&g->d_aid, sub * n_id * sizeof(double)), "allocating the adaptive ID cosines");
    CUDA_TRY(cudaMalloc((void **)&g->d_sneg, sub * n_neg * sizeof(double)), "allocating the negative cosines");
    CUDA_TRY(cudaMalloc((void **)&g->d_aneg, sub * n_neg * sizeof(double)), "allocating the adaptive negative cosines");
    CUDA_TRY(cudaMalloc((void **)&g->d_score, sub * sizeof(double)), "allocating the scores");
    CUDA_TRY(cudaMalloc((void **)&g->d_ad, sub * sizeof(double)), "allocating the scores");
    CUDA_TRY(cudaMalloc((void **)&g->d_ent, sub * sizeof(double)), "allocating the entropies");
    CUDA_TRY(cudaMalloc((void **)&g->d_tid, sub * sizeof(unsigned long long)), "allocating the top labels");
    CUDA_TRY(cudaMalloc((void **)&g->d_tneg, sub * sizeof(unsigned long long)), "allocating the top labels");
    CUDA_TRY(cudaMalloc((void **)&g->d_perm, kept * sizeof(int)), "allocating the groups");
    if (!(h_perm = (int *)nli_mallocarray(kept, sizeof(int)))) goto done;
    for (size_t k = 0; k < kept; k++) h_perm[k] = (int)perm[k];
    CUDA_TRY(cudaMemcpyAsync(g->d_perm, h_perm, kept * sizeof(int), cudaMemcpyHostToDevice, g->st), "copying the groups");
    CUDA_TRY(cudaMemcpyAsync(g->d_id, did, n_id * dim * sizeof(double), cudaMemcpyHostToDevice, g->st),
             "copying the ID rows");
    CUDA_TRY(cudaMemcpyAsync(g->d_neg, dneg, n_neg * dim * sizeof(double), cudaMemcpyHostToDevice, g->st),
             "copying the negative rows");
    if (g->stage) CUDA_TRY(k_score_allow_staging(optin), "raising the shared-memory limit of the scoring kernel");
    CUDA_TRY(cudaStreamSynchronize(g->st), "uploading the labels");
    free(h_perm);
    device_leave(index, prev);
    return g;
done:
    free(h_perm);
    device_leave(index, prev);
    nli_cuda_adaneg_close(g);
    return NULL;
}

/* The static cosines of the m unit rows u (host) into d_sid / d_sneg. */
static int static_cosines(nli_cuda_adaneg *g, const double *u, size_t m) {
    const int index = g->index;
    const double one = 1.0, zero = 0.0;
    CUDA_TRY(cudaMemcpyAsync(g->d_u, u, m * g->dim * sizeof(double), cudaMemcpyHostToDevice, g->st),
             "copying the image rows");
    /* row-major S (m x n) = U (m x dim) * L^T: column-major S^T = L * U^T (see score.cu) */
    CUBLAS_TRY(nli_cublas.Dgemm(g->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)g->n_id, (int)m, (int)g->dim, &one, g->d_id,
                                (int)g->dim, g->d_u, (int)g->dim, &zero, g->d_sid, (int)g->n_id),
               "adaneg: cosines to the ID labels (cublasDgemm)");
    CUBLAS_TRY(nli_cublas.Dgemm(g->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)g->n_neg, (int)m, (int)g->dim, &one, g->d_neg,
                                (int)g->dim, g->d_u, (int)g->dim, &zero, g->d_sneg, (int)g->n_neg),
               "adaneg: cosines to the negative labels (cublasDgemm)");
    g->m = m;
    return 0;
done:
    return -1;
}

static void launch_score(nli_cuda_adaneg *g, const double *sid, const double *sneg, size_t m, double *out,
                         unsigned long long *tid, unsigned long long *tneg) {
    k_score<<<(unsigned)m, SCORE_THREADS, g->stage ? g->n_neg * sizeof(double) : 0, g->st>>>(
        sid, (int)g->n_id, sneg, (int)g->n_neg, g->d_perm, (int)g->ngroup, (int)g->gsize, 0, g->inv_tau, g->stage,
        out, tid, tneg);
}

int nli_cuda_adaneg_static(nli_cuda_adaneg *g, const double *u, size_t m, double hi, double lo, double *score,
                           size_t *top_id, size_t *top_neg, double *entropy) {
    const int index = g->index;
    int prev = -1, rc = -1;
    if (m == 0 || m > g->sub) {
        nli_seterr("cuda:%d: adaneg: %zu images in a chunk of %zu", index, m, g->sub);
        return -1;
    }
    if (nli_cuda_select(index, &prev) != 0) return -1;
    if (static_cosines(g, u, m) != 0) goto done;
    launch_score(g, g->d_sid, g->d_sneg, m, g->d_score, g->d_tid, g->d_tneg);
    CUDA_TRY(cudaGetLastError(), "adaneg: launching the scoring kernel");
    k_entropy<<<(unsigned)m, SCORE_THREADS, 0, g->st>>>(g->d_sid, (int)g->n_id, g->d_sneg, (int)g->n_neg, g->d_score,
                                                        hi, lo, g->inv_tau, g->d_ent);
    CUDA_TRY(cudaGetLastError(), "adaneg: launching the entropy kernel");
    CUDA_TRY(cudaMemcpyAsync(score, g->d_score, m * sizeof(double), cudaMemcpyDeviceToHost, g->st),
             "adaneg: copying the scores back");
    CUDA_TRY(cudaMemcpyAsync(entropy, g->d_ent, m * sizeof(double), cudaMemcpyDeviceToHost, g->st),
             "adaneg: copying the entropies back");
    CUDA_TRY(cudaMemcpyAsync(top_id, g->d_tid, m * sizeof(size_t), cudaMemcpyDeviceToHost, g->st),
             "adaneg: copying the top labels back");
    CUDA_TRY(cudaMemcpyAsync(top_neg, g->d_tneg, m * sizeof(size_t), cudaMemcpyDeviceToHost, g->st),
             "adaneg: copying the top labels back");
    CUDA_TRY(cudaStreamSynchronize(g->st), "adaneg: static scores");
    rc = 0;
done:
    if (rc) (void)cudaGetLastError();
    device_leave(index, prev);
    return rc;
}

int nli_cuda_adaneg_set_rows(nli_cuda_adaneg *g, const size_t *rows, size_t n, const double *data,
                             const double *slotv, const int *kinds) {
    const int index = g->index;
    const size_t S = g->slots, vlen = S * g->dim;
    int prev = -1, rc = -1, *h_idx = NULL;
    size_t need = 0;
    if (n == 0) return 0;
    if (g->samada && (!slotv || !kinds)) {
        nli_seterr("cuda:%d: adaneg: sample-adaptive rows need their slot vectors and kinds", index);
        return -1;
    }
    if (nli_cuda_select(index, &prev) != 0) return -1;
    if (!(h_idx = (int *)nli_mallocarray(n, sizeof(int)))) goto done;
    for (size_t j = 0; j < n; j++) {
        if (rows[j] >= g->n_id + g->n_neg) {
            nli_seterr("cuda:%d: adaneg: proxy row %zu out of range", index, rows[j]);
            goto done;
        }
        h_idx[j] = (int)rows[j];
        if (rows[j] + 1 > need) need = rows[j] + 1;
    }
    if (need > g->rows_set) g->rows_set = need;
    if (grow(index, g->st, (void **)&g->d_rows, &g->cap_rows, need, g->rowlen * sizeof(double), 1,
             "adaneg: allocating the proxy rows") ||
        grow(index, g->st, (void **)&g->d_pack, &g->cap_pack, n, g->rowlen * sizeof(double), 0,
             "adaneg: allocating the proxy upload") ||
        grow(index, g->st, (void **)&g->d_rowidx, &g->cap_rowidx, n, sizeof(int), 0, "adaneg: allocating the proxy upload"))
        goto done;
    CUDA_TRY(cudaMemcpyAsync(g->d_pack, data, n * g->rowlen * sizeof(double), cudaMemcpyHostToDevice, g->st),
             "adaneg: copying the proxy rows");
    CUDA_TRY(cudaMemcpyAsync(g->d_rowidx, h_idx, n * sizeof(int), cudaMemcpyHostToDevice, g->st),
             "adaneg: copying the proxy rows");
    scatter(g, g->d_pack, n, g->rowlen, 2, g->d_rows);
    CUDA_TRY(cudaGetLastError(), "adaneg: launching the row scatter");
    if (g->samada) {
        if (grow(index, g->st, (void **)&g->d_V, &g->cap_v, need, vlen * sizeof(double), 1,
                 "adaneg: allocating the slot vectors") ||
            grow(index, g->st, (void **)&g->d_vpack, &g->cap_vpack, n, vlen * sizeof(double), 0,
                 "adaneg: allocating the slot vector upload") ||
            grow(index, g->st, (void **)&g->d_kind, &g->cap_kind, need, S * sizeof(int), 1,
                 "adaneg: allocating the slot kinds") ||
            grow(index, g->st, (void **)&g->d_kpack, &g->cap_kpack, n, S * sizeof(int), 0,
                 "adaneg: allocating the slot kind upload"))
            goto done;
        CUDA_TRY(cudaMemcpyAsync(g->d_vpack, slotv, n * vlen * sizeof(double), cudaMemcpyHostToDevice, g->st),
                 "adaneg: copying the slot vectors");
        CUDA_TRY(cudaMemcpyAsync(g->d_kpack, kinds, n * S * sizeof(int), cudaMemcpyHostToDevice, g->st),
                 "adaneg: copying the slot kinds");
        scatter(g, g->d_vpack, n, vlen, 2, g->d_V);
        CUDA_TRY(cudaGetLastError(), "adaneg: launching the row scatter");
        scatter(g, g->d_kpack, n, S, 1, g->d_kind);
        CUDA_TRY(cudaGetLastError(), "adaneg: launching the row scatter");
    }
    CUDA_TRY(cudaStreamSynchronize(g->st), "adaneg: proxy rows"); /* h_idx is freed below */
    rc = 0;
done:
    if (rc) (void)cudaGetLastError();
    free(h_idx);
    device_leave(index, prev);
    return rc;
}

int nli_cuda_adaneg_memory(nli_cuda_adaneg *g, const size_t *touched, size_t n_touched) {
    const int index = g->index;
    int prev = -1, rc = -1, *h_t = NULL;
    if (n_touched > g->rows_set) {
        nli_seterr("cuda:%d: adaneg: %zu touched labels, %zu proxy rows set", index, n_touched, g->rows_set);
        return -1;
    }
    if (nli_cuda_select(index, &prev) != 0) return -1;
    if (n_touched) {
        if (!(h_t = (int *)nli_mallocarray(n_touched, sizeof(int)))) goto done;
        for (size_t r = 0; r < n_touched; r++) {
            if (touched[r] >= g->n_id + g->n_neg) {
                nli_seterr("cuda:%d: adaneg: label %zu out of range", index, touched[r]);
                goto done;
            }
            h_t[r] = (int)touched[r];
        }
        if (grow(index, g->st, (void **)&g->d_touched, &g->cap_touched, n_touched, sizeof(int), 0,
                 "adaneg: allocating the touched labels"))
            goto done;
        CUDA_TRY(cudaMemcpyAsync(g->d_touched, h_t, n_touched * sizeof(int), cudaMemcpyHostToDevice, g->st),
                 "adaneg: copying the touched labels");
        CUDA_TRY(cudaStreamSynchronize(g->st), "adaneg: memory"); /* h_t is freed below */
    }
    g->n_touched = n_touched;
    rc = 0;
done:
    if (rc) (void)cudaGetLastError();
    free(h_t);
    device_leave(index, prev);
    return rc;
}

int nli_cuda_adaneg_adaptive(nli_cuda_adaneg *g, const double *u, size_t m, double *out) {
    const int index = g->index;
    int prev = -1, rc = -1;
    const double one = 1.0, zero = 0.0;
    const size_t tcols = g->samada ? g->n_touched * g->slots : g->n_touched;
    if (m == 0 || m > g->sub || (!u && m != g->m) || tcols > INT_MAX) {
        nli_seterr("cuda:%d: adaneg: %zu images for the adaptive step (chunk of %zu, %zu in the last static step)",
                   index, m, g->sub, g->m);
        return -1;
    }
    if (nli_cuda_select(index, &prev) != 0) return -1;
    if (u && static_cosines(g, u, m) != 0) goto done;
    CUDA_TRY(cudaMemcpyAsync(g->d_aid, g->d_sid, m * g->n_id * sizeof(double), cudaMemcpyDeviceToDevice, g->st),
             "adaneg: copying the cosines");
    CUDA_TRY(cudaMemcpyAsync(g->d_aneg, g->d_sneg, m * g->n_neg * sizeof(double), cudaMemcpyDeviceToDevice, g->st),
             "adaneg: copying the cosines");
    if (tcols) {
        if (grow(index, g->st, (void **)&g->d_T, &g->cap_t, tcols, g->sub * sizeof(double), 0,
                 "adaneg: allocating the proxy cosines"))
            goto done;
        /* row-major T (m x tcols) = U (m x dim) * R^T, R the proxies or every slot vector of the touched rows */
        CUBLAS_TRY(nli_cublas.Dgemm(g->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)tcols, (int)m, (int)g->dim, &one,
                                    g->samada ? g->d_V : g->d_rows, (int)g->dim, g->d_u, (int)g->dim, &zero, g->d_T,
                                    (int)tcols),
                   "adaneg: cosines to the proxies (cublasDgemm)");
        const size_t pairs = m * g->n_touched;
        if (g->samada)
            k_adapt_sample<<<blocks_for(pairs), PAIR_THREADS, 0, g->st>>>(
                g->d_T, g->d_touched, g->d_kind, g->d_rows, (int)g->n_touched, (int)g->slots, (int)m, (int)g->n_id,
                (int)g->n_neg, g->beta, g->d_sid, g->d_sneg, g->d_aid, g->d_aneg);
        else
            k_adapt_task<<<blocks_for(pairs), PAIR_THREADS, 0, g->st>>>(g->d_T, (int)tcols, g->d_touched,
                                                                        (int)g->n_touched, (int)m, (int)g->n_id,
                                                                        (int)g->n_neg, g->d_aid, g->d_aneg);
        CUDA_TRY(cudaGetLastError(), "adaneg: launching the adaptive cosines");
    }
    launch_score(g, g->d_aid, g->d_aneg, m, g->d_ad, NULL, NULL);
    CUDA_TRY(cudaGetLastError(), "adaneg: launching the scoring kernel");
    CUDA_TRY(cudaMemcpyAsync(out, g->d_ad, m * sizeof(double), cudaMemcpyDeviceToHost, g->st),
             "adaneg: copying the scores back");
    CUDA_TRY(cudaStreamSynchronize(g->st), "adaneg: adaptive scores");
    rc = 0;
done:
    if (rc) (void)cudaGetLastError();
    device_leave(index, prev);
    return rc;
}
