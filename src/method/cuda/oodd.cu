/* oodd.cu — OODD's queue cosines on a GPU (oodd_cuda.h). oodd.c runs the
 * queue (CPython's heapq, slot for slot) and hands each batch here:
 *   put    the batch's unit rows (one copy) and, by k_copy_rows, the rows that
 *          are queued into their slots, which stay on the device for the
 *          whole stream (so a batch sends its own rows and the queue's slot
 *          list, ~8 KB at the default queue of 2,048, never the queue);
 *   cos    cublasDgemm of the batch against every slot written so far, in
 *          fp64 as oodd.c's nli_gemm_f64;
 *   kth    k_kth, one block per image: the k-th largest of its cosines to
 *          the queued slots, by radix selection on the doubles' bits (eight
 *          passes of 8 bits; the result is one of the cosines, bit for bit,
 *          as the CPU's select_kth returns one).
 * Only the DGEMM's order of summation differs from the CPU, which moves a
 * cosine, and so a score, by ~1e-16.
 *
 * Device memory: the slots (slots * dim doubles), a batch's rows and
 * cosines (batch * (dim + slots) doubles) and the slot lists. */
#include "session_device.cuh"
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "oodd_cuda.h"

#define KTH_THREADS 256

struct nli_cuda_oodd {
    int index;
    cudaStream_t st;
    cublasHandle_t h;
    size_t dim, slots, batch;
    double *d_slots, *d_rows, *d_cos, *d_kth;
    int *d_put, *d_q; /* n_put rows then their n_put slots (2 * batch ints); the queued slots (`slots` ints) */
    int *h_put, *h_q; /* their host copies */
};

/* ------------------------------------------------------------ kernels */

/* A double's bits as an unsigned key in the doubles' order (negative
 * numbers: every bit flipped; others: the sign bit set), and back. */
static __device__ __forceinline__ unsigned long long order_key(double x) {
    const unsigned long long b = (unsigned long long)__double_as_longlong(x);
    return b >> 63 ? ~b : b | 0x8000000000000000ULL;
}
static __device__ __forceinline__ double key_value(unsigned long long k) {
    return __longlong_as_double((long long)(k >> 63 ? k & 0x7fffffffffffffffULL : ~k));
}

/* out[i] = the (rank + 1)-th largest of cos[i * ld + q[t]], t < n (rank <
 * n). Each pass counts, among the keys that share the digits fixed so far,
 * how many have each value of the next 8 bits, and fixes the digit that
 * holds the wanted rank. */
static __global__ void __launch_bounds__(KTH_THREADS)
k_kth(const double *__restrict__ cos, int ld, const int *__restrict__ q, int n, int rank, double *__restrict__ out) {
    __shared__ unsigned hist[256];
    __shared__ unsigned long long s_prefix;
    __shared__ int s_rank;
    const double *c = cos + (size_t)blockIdx.x * ld;
    unsigned long long prefix = 0, mask = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += KTH_THREADS) hist[b] = 0;
        __syncthreads();
        for (int t = threadIdx.x; t < n; t += KTH_THREADS) {
            const unsigned long long key = order_key(c[q[t]]);
            if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned above = 0;
            int b = 255;
            while (b > 0 && above + hist[b] <= (unsigned)rank) above += hist[b--];
            s_rank = rank - (int)above;
            s_prefix = prefix | (unsigned long long)b << shift;
        }
        __syncthreads();
        rank = s_rank;
        prefix = s_prefix;
        mask |= 255ULL << shift;
    }
    if (threadIdx.x == 0) out[blockIdx.x] = key_value(prefix);
}

/* ------------------------------------------------------------ host */

void nli_cuda_oodd_close(nli_cuda_oodd *g) {
    if (!g) return;
    int prev = -1;
    int ok = nli_cuda_select(g->index, &prev) == 0;
    close_blas(g->st, g->h);
    void *bufs[] = {g->d_slots, g->d_rows, g->d_cos, g->d_kth, g->d_put, g->d_q};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) cudaFree(bufs[k]);
    (void)cudaGetLastError();
    if (ok) device_leave(g->index, prev);
    free(g->h_put);
    free(g->h_q);
    free(g);
}

nli_cuda_oodd *nli_cuda_oodd_open(int index, size_t dim, size_t slots, size_t batch) {
    int prev = -1;
    nli_cuda_oodd *g = NULL;
    if (!dim || !slots || !batch || dim > INT_MAX || slots > INT_MAX || batch > INT_MAX) {
        nli_seterr("cuda:%d: oodd: bad sizes (dim %zu, %zu slots, batches of %zu)", index, dim, slots, batch);
        return NULL;
    }
    if (nli_cuda_select(index, &prev) != 0) return NULL;
    g = (nli_cuda_oodd *)calloc(1, sizeof *g);
    if (!g) {
        nli_seterr("out of memory");
        device_leave(index, prev);
        return NULL;
    }
    *g = (nli_cuda_oodd){.index = index, .dim = dim, .slots = slots, .batch = batch};
    if (!(g->h_put = (int *)nli_mallocarray(2 * batch, sizeof(int))) ||
        !(g->h_q = (int *)nli_mallocarray(slots, sizeof(int))))
        goto done;
    if (open_blas(index, &g->st, &g->h) != 0) goto done;
    CUDA_TRY(cudaMalloc((void **)&g->d_slots, slots * dim * sizeof(double)), "oodd: allocating the queue's rows");
    CUDA_TRY(cudaMalloc((void **)&g->d_rows, batch * dim * sizeof(double)), "oodd: allocating a batch's rows");
    CUDA_TRY(cudaMalloc((void **)&g->d_cos, batch * slots * sizeof(double)), "oodd: allocating a batch's cosines");
    CUDA_TRY(cudaMalloc((void **)&g->d_kth, batch * sizeof(double)), "oodd: allocating the selected cosines");
    CUDA_TRY(cudaMalloc((void **)&g->d_put, 2 * batch * sizeof(int)), "oodd: allocating the slot lists");
    CUDA_TRY(cudaMalloc((void **)&g->d_q, slots * sizeof(int)), "oodd: allocating the slot lists");
    device_leave(index, prev);
    return g;
done:
    device_leave(index, prev);
    nli_cuda_oodd_close(g);
    return NULL;
}

int nli_cuda_oodd_batch(nli_cuda_oodd *g, const double *rows, size_t m, const size_t *put_row,
                        const size_t *put_slot, size_t n_put, const size_t *queued, size_t n_queued, size_t used,
                        size_t k, double *kth) {
    const int index = g->index;
    const double one = 1.0, zero = 0.0;
    int prev = -1, rc = -1;
    if (m == 0) return 0;
    if (m > g->batch || n_put > m || n_queued > g->slots || used > g->slots || n_queued > used || k < 1 ||
        k > n_queued) {
        nli_seterr("cuda:%d: oodd: bad batch (%zu images of %zu, %zu written, %zu queued of %zu slots (%zu used), k %zu)",
                   index, m, g->batch, n_put, n_queued, g->slots, used, k);
        return -1;
    }
    for (size_t j = 0; j < n_put; j++) {
        if (put_row[j] >= m || put_slot[j] >= used) {
            nli_seterr("cuda:%d: oodd: row %zu into slot %zu outside the batch (%zu) or the slots used (%zu)", index,
                       put_row[j], put_slot[j], m, used);
            return -1;
        }
        g->h_put[j] = (int)put_row[j];
        g->h_put[n_put + j] = (int)put_slot[j];
    }
    for (size_t t = 0; t < n_queued; t++) {
        if (queued[t] >= used) {
            nli_seterr("cuda:%d: oodd: queued slot %zu outside the slots used (%zu)", index, queued[t], used);
            return -1;
        }
        g->h_q[t] = (int)queued[t];
    }
    if (nli_cuda_select(index, &prev) != 0) return -1;
    /* copies from pageable memory: the sources are read before these return */
    CUDA_TRY(cudaMemcpyAsync(g->d_rows, rows, m * g->dim * sizeof(double), cudaMemcpyHostToDevice, g->st),
             "oodd: copying the batch's rows");
    if (n_put) {
        CUDA_TRY(cudaMemcpyAsync(g->d_put, g->h_put, 2 * n_put * sizeof(int), cudaMemcpyHostToDevice, g->st),
                 "oodd: copying the slot lists");
        k_copy_rows<<<copy_rows_blocks(n_put, 2 * g->dim), COPY_ROWS_THREADS, 0, g->st>>>(
            (const uint32_t *)g->d_rows, g->d_put, g->d_put + n_put, (int)n_put, (int)(2 * g->dim),
            (uint32_t *)g->d_slots);
        CUDA_TRY(cudaGetLastError(), "oodd: launching the queue's update");
    }
    CUDA_TRY(cudaMemcpyAsync(g->d_q, g->h_q, n_queued * sizeof(int), cudaMemcpyHostToDevice, g->st),
             "oodd: copying the slot lists");
    /* row-major C (m x used) = R (m x dim) * S^T: column-major C^T = S * R^T (see score.cu) */
    CUBLAS_TRY(nli_cublas.Dgemm(g->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)used, (int)m, (int)g->dim, &one, g->d_slots,
                                (int)g->dim, g->d_rows, (int)g->dim, &zero, g->d_cos, (int)used),
               "oodd: cosines to the queue (cublasDgemm)");
    k_kth<<<(unsigned)m, KTH_THREADS, 0, g->st>>>(g->d_cos, (int)used, g->d_q, (int)n_queued, (int)k - 1, g->d_kth);
    CUDA_TRY(cudaGetLastError(), "oodd: launching the selection");
    CUDA_TRY(cudaMemcpyAsync(kth, g->d_kth, m * sizeof(double), cudaMemcpyDeviceToHost, g->st),
             "oodd: copying the selected cosines back");
    CUDA_TRY(cudaStreamSynchronize(g->st), "oodd: a batch");
    rc = 0;
done:
    if (rc) (void)cudaGetLastError();
    device_leave(index, prev);
    return rc;
}
