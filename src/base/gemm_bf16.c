/* gemm_bf16.c — see gemm_bf16.h: bf16 products with float32 sums on the
 * CPU's own bf16 instructions (kernels in gemm_bf16_kernels.c). Here: the
 * packed weights, the tiled left operand, and the drivers.
 *
 * Both kernels read W packed once (panels of 16 columns, k in pairs) and
 * A in tile order (16 x 32 bf16 tiles, zero-padded to 32 rows and 32
 * columns). Every element of C is one float32 accumulator that runs over
 * k from 0 to k_pad in a fixed order (blocks of KC k are summed into the
 * same accumulator, stored and reloaded exactly), and the padding adds
 * exact zeros, so a result depends only on its row of A, its column of W
 * and the kernel: not on the number of rows, the row's position, the task
 * split or the thread count. The AMX and AVX512-BF16 kernels differ from
 * each other in the last bits; one machine always uses the same one. */
#include "gemm_bf16.h"
#include "gemm_bf16_impl.h"
#include "util.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- packing */

size_t nli_bf16_packed_count(size_t n, size_t k) { return nli_bf16_round32(n) * nli_bf16_round32(k); }

/* Element (col, kx) of the packed matrix: panel col / 16, pair row kx / 2. */
#define PACKED_AT(buf, kp, col, kx) \
    ((buf)[((col) / 16) * (kp) * 16 + ((kx) / 2) * 32 + ((col) % 16) * 2 + ((kx) & 1)])
#define PACK_CHUNK 256

void nli_bf16_pack_into(nli_bf16_matrix *m, uint16_t *buf, const float *W, size_t n, size_t k, size_t ldw,
                        int trans) {
    m->n = n;
    m->k = k;
    m->n_pad = nli_bf16_round32(n);
    m->k_pad = nli_bf16_round32(k);
    m->data = buf;
    m->owned = 0;
    const size_t kp = m->k_pad;
    uint16_t tmp[PACK_CHUNK];
    memset(buf, 0, m->n_pad * kp * sizeof *buf);
    /* rows of W converted a chunk at a time, then spread into the panels */
    size_t rows = trans ? k : n, len = trans ? n : k;
    for (size_t r = 0; r < rows; r++)
        for (size_t c0 = 0; c0 < len; c0 += PACK_CHUNK) {
            size_t c = len - c0 < PACK_CHUNK ? len - c0 : PACK_CHUNK;
            nli_bf16_cvt(W + r * ldw + c0, tmp, c);
            if (trans)
                for (size_t e = 0; e < c; e++) PACKED_AT(buf, kp, c0 + e, r) = tmp[e];
            else
                for (size_t e = 0; e < c; e++) PACKED_AT(buf, kp, r, c0 + e) = tmp[e];
        }
}

int nli_bf16_pack(nli_bf16_matrix *m, const float *W, size_t n, size_t k, size_t ldw) {
    uint16_t *buf = nli_mallocarray(nli_bf16_packed_count(n, k), sizeof(uint16_t));
    if (!buf) {
        nli_prefixerr("bf16 weights");
        return -1;
    }
    nli_bf16_pack_into(m, buf, W, n, k, ldw, 0);
    m->owned = 1;
    return 0;
}

void nli_bf16_matrix_free(nli_bf16_matrix *m) {
    if (m && m->owned) free(m->data);
    if (m) memset(m, 0, sizeof *m);
}

/* --------------------------------------------------- the tiled operand */

void nli_bf16_tile_row(const float *a, size_t k, uint16_t *dst, size_t i) {
    const size_t kp = nli_bf16_round32(k);
    uint16_t *d = dst + (i / 16) * kp * 16 + (i % 16) * 32;
    for (size_t j0 = 0; j0 < kp; j0 += 32) {
        size_t n = j0 < k ? (k - j0 < 32 ? k - j0 : 32) : 0;
        uint16_t *t = d + j0 * 16;
        if (n) nli_bf16_cvt(a + j0, t, n);
        if (n < 32) memset(t + n, 0, (32 - n) * sizeof *t);
    }
}

void nli_bf16_tile_zero_rows(uint16_t *dst, size_t m, size_t k) {
    const size_t kp = nli_bf16_round32(k);
    for (size_t i = m; i < nli_bf16_round32(m); i++) {
        uint16_t *d = dst + (i / 16) * kp * 16 + (i % 16) * 32;
        for (size_t j0 = 0; j0 < kp; j0 += 32) memset(d + j0 * 16, 0, 32 * sizeof *d);
    }
}

void nli_bf16_tile(const float *A, size_t lda, size_t m, size_t k, uint16_t *dst, int n_threads) {
    if (n_threads <= 1) {
        for (size_t i = 0; i < m; i++) nli_bf16_tile_row(A + i * lda, k, dst, i);
    } else {
#pragma omp parallel for schedule(static) num_threads(n_threads)
        for (size_t i = 0; i < m; i++) nli_bf16_tile_row(A + i * lda, k, dst, i);
    }
    nli_bf16_tile_zero_rows(dst, m, k);
}

/* ------------------------------------------------------------ drivers */

/* Tasks of MC rows x NC columns, k in steps of KC (a block's A tiles and
 * B panels, 32 KiB each, stay in L1); their sizes and order change which
 * thread computes what, never a result. */
#define MC 128
#define NC 128
#define KC 512

/* One task: rows [m0, m1) x columns [n0, n1) (multiples of 32); partial
 * sums in acc until the last k step, then the epilogue. */
static void task(nli_bf16_block_fn blk, const uint16_t *At, size_t M, size_t m0, size_t m1,
                 const nli_bf16_matrix *W, size_t n0, size_t n1, const nli_bf16_epilogue *ep) {
    float acc[MC * NC] __attribute__((aligned(64)));
    const size_t kp = W->k_pad;
#define ACC(mb, nb) (acc + ((((mb) - m0) / 32) * (NC / 32) + ((nb) - n0) / 32) * 1024)
    for (size_t k0 = 0; k0 < kp; k0 += KC) {
        size_t k1 = kp - k0 < KC ? kp : k0 + KC;
        for (size_t nb = n0; nb < n1; nb += 32) {
            const uint16_t *b0 = W->data + (nb / 16) * kp * 16, *b1 = b0 + kp * 16;
            for (size_t mb = m0; mb < m1; mb += 32) blk(At + mb * kp, b0, b1, kp, k0, k1, ACC(mb, nb), k0 == 0);
        }
    }
    for (size_t nb = n0; nb < n1; nb += 32)
        for (size_t mb = m0; mb < m1; mb += 32)
            nli_bf16_epilogue_tile(ACC(mb, nb), M - mb < 32 ? M - mb : 32, W->n - nb < 32 ? W->n - nb : 32, ep, mb,
                                   nb, W->n_pad);
#undef ACC
}

void nli_gemm_bf16_t(const uint16_t *At, size_t M, const nli_bf16_matrix *W, const nli_bf16_epilogue *ep,
                     int n_threads) {
    const int k = nli_bf16_kernel();
    nli_bf16_block_fn blk = nli_bf16_block(k);
    if (!blk || M == 0) return; /* callers check nli_bf16_available() */
    const size_t mp = nli_bf16_round32(M), tm = (mp + MC - 1) / MC, tn = (W->n_pad + NC - 1) / NC;
#define RUN_TASK(t)                                                                                                 \
    do {                                                                                                            \
        size_t m0_ = ((t) / tn) * MC, n0_ = ((t) % tn) * NC;                                                        \
        task(blk, At, M, m0_, m0_ + MC < mp ? m0_ + MC : mp, W, n0_, n0_ + NC < W->n_pad ? n0_ + NC : W->n_pad, ep); \
    } while (0)
    if (n_threads <= 1) {
        nli_bf16_begin(k);
        for (size_t t = 0; t < tm * tn; t++) RUN_TASK(t);
        nli_bf16_end(k);
        return;
    }
#pragma omp parallel num_threads(n_threads)
    {
        nli_bf16_begin(k);
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < tm * tn; t++) RUN_TASK(t);
        nli_bf16_end(k);
    }
#undef RUN_TASK
}

size_t nli_gemm_bf16_ws_bytes(size_t M, size_t K) { return nli_bf16_tiled_count(M, K) * sizeof(uint16_t); }

void nli_gemm_bf16(const float *A, size_t lda, const nli_bf16_matrix *W, const float *bias, float *C, size_t ldc,
                   size_t M, int n_threads, void *ws) {
    if (M == 0 || !nli_bf16_available()) return;
    if (n_threads < 1) n_threads = omp_get_max_threads();
    nli_bf16_tile(A, lda, M, W->k, ws, n_threads);
    nli_bf16_epilogue ep = {.C = C, .ldc = ldc, .bias = bias, .scale = 1.0f};
    nli_gemm_bf16_t(ws, M, W, &ep, n_threads);
}
