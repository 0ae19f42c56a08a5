/* mine.c — NegMining (NegLabel, Jiang et al. 2024, section 3.2): keep the
 * candidates least similar to the ID labels, measured by a high quantile
 * (default 0.95) of each candidate's cosines to all ID labels. Cosines are
 * computed in double from the float rows, on the CPU here or, with
 * NL_DEVICE_CUDA, on a GPU (method/cuda/score.cu), with the same results. */
#include "neglabel.h"
#include "mine.h"
#include "cuda/score_cuda.h"
#include "gemm.h"
#include "score_util.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CAND_CHUNK 2048                   /* candidate rows per GEMM */
#define SIM_BYTES ((size_t)256 << 20)     /* and at most this many bytes of cosines */

nl_mine_params nl_mine_default_params(void) {
    return (nl_mine_params){.fraction = 0.15, .quantile = 0.95, .total = 0, .max_cut = 2.0,
                            .device = NL_DEVICE_CPU, .device_index = 0};
}

/* Quickselect: after return a[k] is the k-th smallest, a[<k] <= a[k] <= a[>k]. */
static void select_k(double *a, size_t n, size_t k) {
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        /* median of three as pivot keeps sorted input linear */
        ptrdiff_t mid = lo + (hi - lo) / 2;
        double x = a[lo], y = a[mid], z = a[hi];
        double piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) {
                double t = a[i]; a[i] = a[j]; a[j] = t;
                i++;
                j--;
            }
        }
        /* now a[lo..j] <= piv <= a[i..hi] and a[j+1..i-1] == piv */
        if (kk <= j) hi = j;
        else if (kk >= i) lo = i;
        else return;
    }
}

/* torch.quantile's "linear" rule: pos = q (n-1), interpolate between the
 * floor(pos)-th and next order statistics; NaN when any value is NaN, as
 * torch.quantile and the GPU kernel (k_quantile) give (the selection alone
 * left a NaN wherever its pivots put it, so a NaN ID embedding could give
 * finite, meaningless quantiles that nl_mine accepted). Reorders a. Also
 * used by the CUDA backend (method/cuda/score.cu) where n_id is too large
 * to sort there. */
double nli_mine_quantile(double *a, size_t n, double q) {
    for (size_t i = 0; i < n; i++)
        if (isnan(a[i])) return NAN;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) lo = n - 1;
    select_k(a, n, lo);
    double v = a[lo];
    if (lo + 1 >= n) return v;
    double next = a[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
        if (a[i] < next) next = a[i];
    return v + (next - v) * (pos - (double)lo);
}

typedef struct { double q; size_t i; } ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int nli_mine_check(const nl_mine_params *p) {
    if (p->total == 0 && !(p->fraction > 0 && p->fraction <= 1)) { /* with total, fraction is not used */
        nli_seterr("mine: fraction %g outside (0, 1]", p->fraction);
        return -1;
    }
    if (!(p->quantile >= 0 && p->quantile <= 1)) {
        nli_seterr("mine: quantile %g outside [0, 1]", p->quantile);
        return -1;
    }
    return 0;
}

int nli_mine_keep(const nl_mine_params *p, size_t n_noun, size_t n_adj, size_t keep[2]) {
    size_t n = n_noun + n_adj;
    if (p->total > 0) {
        if (p->total > n) {
            nli_seterr("mine: fewer candidates than requested: %zu, total %zu (--total)", n, p->total);
            return -1;
        }
        /* nouns = floor(M * n_noun / n) in exact integer arithmetic. */
        keep[0] = (size_t)((unsigned __int128)p->total * n_noun / n);
        keep[1] = p->total - keep[0];
    } else {
        keep[0] = (size_t)floor(p->fraction * (double)n_noun);
        keep[1] = (size_t)floor(p->fraction * (double)n_adj);
    }
    if (keep[0] + keep[1] == 0) {
        nli_seterr("mine: fraction %g of %zu nouns and %zu adjectives selects no candidate (--fraction)",
                   p->fraction, n_noun, n_adj);
        return -1;
    }
    return 0;
}

int nl_mine(const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
            const uint8_t *cand_pos, size_t dim, const nl_mine_params *p,
            size_t **selected, size_t *n_selected, double *qsim) {
    if (!id_emb || !cand_emb || !cand_pos || !selected || !n_selected) return nli_null_arg(__func__);
    *selected = NULL;
    *n_selected = 0;
    nl_mine_params d = nl_mine_default_params();
    if (!p) p = &d;
    if (n_id == 0) { nli_seterr("mine: no ID labels"); return -1; }
    if (n_cand == 0) { nli_seterr("mine: no candidate labels"); return -1; }
    if (dim == 0 || dim > INT32_MAX || n_id > INT32_MAX) {
        nli_seterr("mine: bad sizes (dim %zu, %zu ID labels)", dim, n_id);
        return -1;
    }
    if (nli_mine_check(p) != 0) return -1;
    nl_device dev = p->device;
    int index = p->device_index;
    if (nl_resolve_device(&dev, &index) != 0) {
        nli_prefixerr("mine");
        return -1;
    }
    if (isnan(p->max_cut)) { nli_seterr("mine: max_cut is NaN"); return -1; }
    int cut = p->max_cut < 1.5; /* any cosine can exceed it (the default 2 is off) */
    size_t cnt[2] = {0, 0};
    for (size_t i = 0; i < n_cand; i++) {
        if (cand_pos[i] > NL_POS_ADJ) {
            nli_seterr("mine: candidate %zu has bad part of speech %u", i, cand_pos[i]);
            return -1;
        }
        cnt[cand_pos[i]]++;
    }
    /* a bad row named before any work (else every candidate's quantile is
     * NaN and the message blames candidate 0) */
    size_t bad = nli_first_nonfinite(id_emb, n_id, dim);
    if (bad < n_id) { nli_seterr("mine: ID label embedding %zu holds a non-finite value", bad); return -1; }
    if ((bad = nli_first_nonfinite(cand_emb, n_cand, dim)) < n_cand) {
        nli_seterr("mine: candidate embedding %zu holds a non-finite value", bad);
        return -1;
    }
    size_t keep[2];
    if (nli_mine_keep(p, cnt[0], cnt[1], keep) != 0) return -1;

    /* the GPU path returns quantiles only; CSP's cut needs each row's maximum */
    int use_cuda = !cut && dev == NL_DEVICE_CUDA;
    ranked *r = nli_mallocarray(n_cand, sizeof *r);
    size_t *sel = nli_mallocarray(keep[0] + keep[1] ? keep[0] + keep[1] : 1, sizeof(size_t));
    double *did = NULL, *cd = NULL, *sim = NULL;
    if (!r || !sel) goto fail;
    if (use_cuda) {
        /* the quantiles on the GPU (same cosines and rule), into r[].q */
        if (!(sim = nli_mallocarray(n_cand, sizeof(double)))) goto fail;
        if (nli_cuda_mine_quantiles(index, id_emb, n_id, cand_emb, n_cand, dim, p->quantile, sim) != 0)
            goto fail;
        for (size_t i = 0; i < n_cand; i++) r[i] = (ranked){sim[i], i};
    } else {
        /* cosines in double from the float rows as given (as on the GPU) */
        size_t chunk = n_cand < CAND_CHUNK ? n_cand : CAND_CHUNK;
        if (chunk > SIM_BYTES / (n_id * sizeof(double))) chunk = SIM_BYTES / (n_id * sizeof(double));
        if (chunk < 1) chunk = 1;
        did = nli_mallocarray(n_id * dim, sizeof(double));
        cd = nli_mallocarray(chunk * dim, sizeof(double));
        sim = nli_mallocarray(chunk * n_id, sizeof(double));
        if (!did || !cd || !sim) goto fail;
        for (size_t k = 0; k < n_id * dim; k++) did[k] = id_emb[k];
        int nt = nli_threads(p->n_threads);
        for (size_t c0 = 0; c0 < n_cand; c0 += chunk) {
            size_t m = n_cand - c0 < chunk ? n_cand - c0 : chunk;
            for (size_t k = 0; k < m * dim; k++) cd[k] = cand_emb[c0 * dim + k];
            nli_gemm_f64(cd, did, sim, m, n_id, dim, nt);
#pragma omp parallel for num_threads(nt) schedule(static)
            for (size_t i = 0; i < m; i++) {
                double *row = sim + i * n_id, mx = row[0];
                for (size_t k = 1; k < n_id; k++) mx = row[k] > mx ? row[k] : mx;
                double q = nli_mine_quantile(row, n_id, p->quantile);
                /* CSP: sim[maximum > 0.95] = 1.0 (a row with a NaN: torch.max is
                 * NaN, so NaN stays NaN, refused below) */
                r[c0 + i] = (ranked){cut && mx > p->max_cut && !isnan(q) ? 1.0 : q, c0 + i};
            }
        }
    }
    for (size_t i = 0; i < n_cand; i++)
        if (!isfinite(r[i].q)) {
            free(did); free(cd); free(sim); free(r); free(sel);
            nli_seterr("mine: non-finite similarity for candidate %zu (bad embeddings?)", i);
            return -1;
        }
    if (qsim)
        for (size_t i = 0; i < n_cand; i++) qsim[i] = r[i].q;
    qsort(r, n_cand, sizeof *r, cmp_ranked);
    size_t ns = 0;
    for (int pos = 0; pos < 2; pos++) {
        size_t got = 0;
        for (size_t i = 0; i < n_cand && got < keep[pos]; i++)
            if (cand_pos[r[i].i] == pos) { sel[ns++] = r[i].i; got++; }
    }
    free(did); free(cd); free(sim); free(r);
    *selected = sel;
    *n_selected = ns;
    return 0;
fail:
    free(did); free(cd); free(sim); free(r); free(sel);
    nli_prefixerr("mine");
    return -1;
}
