/* adaneg.c — AdaNeg (Zhang et al., NeurIPS 2024) as its reference code
 * runs it (YBZh/OpenOOD-VLM, openood/postprocessors/ttaprompt_postprocessor.py,
 * TTAPromptPostprocessor_noadagap.postprocess); docs/methods.md, "AdaNeg".
 *
 * Per label (ID labels, then every negative) a memory of 1 + L slots, slot 0
 * the label's text embedding. The stream goes by in batches; for each batch:
 *   1. static score (NegLabel's, ngroup groups, the same permutation every
 *      batch), the ID argmax, the argmax over all negatives;
 *   2. images above thres + gap (1 - thres) are written under their ID label
 *      with the entropy of the softmax over the ID logits, then images below
 *      thres - gap thres under their negative with the entropy over all
 *      negative logits; a label whose fill index reached L ("full": only
 *      L - 1 image slots are ever filled, the reference's off-by-one)
 *      replaces its highest-entropy slot if the new entropy is lower;
 *   3. proxies: the normalised mean of the 1 + L slots (zeros included), or
 *      per image the normalised sum of the slots weighted by
 *      exp(-beta (1 - cos)) (sample-adaptive, beta truncated to an integer);
 *   4. score = NegLabel's over cos(image, proxy) / tau + lambda * static.
 * Slots hold stream indices, not vectors: an image slot's vector is the
 * image's unit row, recomputed when needed. A label whose slots hold no
 * image has its text embedding as proxy, so its adaptive cosine is the
 * static one; only labels with images ("touched") get proxy rows. Cosines
 * in double from unit rows (score.c), GEMMs in fixed 256-image chunks: the
 * scores do not depend on the thread count. With NL_DEVICE_CUDA the same
 * logic runs here and each chunk's cosines, scores, entropies and adaptive
 * cosines on the GPU (method/cuda/adaneg.cu). */
#include "adaneg.h"
#include "cuda/adaneg_cuda.h"
#include "gemm.h"
#include "prng.h"
#include "score_util.h"
#include "util.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define SUB 256            /* images per GEMM (fixed: thread-independent results) */
#define MAX_MEMORY 10000   /* image slots per label */

typedef struct {
    const float *img;
    size_t n_img, n_id, n_neg, n_lab, dim, S; /* S = 1 + L slots */
    size_t L;
    const double *did, *dneg; /* unit text rows */
    const size_t *perm;
    size_t ngroup, gsize;
    double inv_tau, beta;
    int nt, samada;
    int64_t *slot;  /* n_lab * S */
    double *ent;    /* n_lab * S */
    size_t *fill;   /* n_lab */
    int64_t *row;   /* n_lab: row of a touched label in P / G, or -1 */
    size_t *touched, n_touched, cap; /* row -> label */
    double *P;      /* cap * dim: task-adaptive proxies */
    double *G;      /* cap * S * S: Gram matrices of the slot vectors (sample-adaptive) */
    unsigned char *changed;
    size_t *changed_list, n_changed;
    double *work;   /* per thread: a slot vector (task-adaptive), or the S slot
                       vectors, later the S weights (sample-adaptive) */
    size_t cached_id, cached_neg, replaced, rejected;
} state;

static const double *text_row(const state *st, size_t lab) {
    return lab < st->n_id ? st->did + lab * st->dim : st->dneg + (lab - st->n_id) * st->dim;
}

/* H = -sum p log(p + 1e-8), p the softmax of s / tau as torch.softmax
 * computes it (exp(x - max) / sum), as the reference does. */
static double entropy(const double *s, size_t n, double inv_tau) {
    double m = -INFINITY, sum = 0, h = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] * inv_tau > m) m = s[k] * inv_tau;
    for (size_t k = 0; k < n; k++) sum += exp(s[k] * inv_tau - m);
    for (size_t k = 0; k < n; k++) {
        double p = exp(s[k] * inv_tau - m) / sum;
        h -= p * log(p + 1e-8);
    }
    return h;
}

/* The reference's memory write for one image under label lab. */
static void cache(state *st, size_t lab, size_t idx, double h) {
    int64_t *sl = st->slot + lab * st->S;
    double *e = st->ent + lab * st->S;
    size_t s;
    if (st->fill[lab] == st->L) {
        /* "(h < entropy_memory[c]).sum() == 0": no stored entropy above h.
         * Else replace the largest (torch.sort ascending, last; among equal
         * largest the highest slot, as a stable sort puts it). */
        size_t b = 0;
        for (size_t k = 1; k < st->S; k++)
            if (e[k] >= e[b]) b = k;
        if (!(h < e[b])) { st->rejected++; return; }
        s = b;
        st->replaced++;
    } else {
        s = st->fill[lab]++;
    }
    sl[s] = (int64_t)idx;
    e[s] = h;
    if (lab < st->n_id) st->cached_id++; else st->cached_neg++;
    if (!st->changed[lab]) { st->changed[lab] = 1; st->changed_list[st->n_changed++] = lab; }
}

/* Give newly touched labels a row (growing P / G); 0 or -1 (error set). */
static int assign_rows(state *st) {
    for (size_t c = 0; c < st->n_changed; c++) {
        size_t lab = st->changed_list[c];
        if (st->row[lab] >= 0) continue;
        if (st->n_touched == st->cap) {
            /* A row: a proxy (dim doubles), or a Gram matrix (S x S: 800 MB
             * at 10,000 slots, so 64 rows are refused at once) */
            size_t row_bytes = (st->samada ? st->S * st->S : st->dim) * sizeof(double);
            size_t cap = st->cap ? 2 * st->cap : 64;
            if (cap > st->n_lab) cap = st->n_lab;
            size_t *t = nli_realloc(st->touched, cap * sizeof *t);
            if (!t) return -1;
            st->touched = t;
            double *m = nli_mallocarray(cap, row_bytes);
            if (!m) {
                if (st->samada)
                    nli_prefixerr("adaneg: sample-adaptive proxies keep a %zu x %zu matrix (%.1f MB) per label with "
                                  "images, here for %zu labels; a smaller memory (--adaneg-memory, now %zu) needs less",
                                  st->S, st->S, (double)row_bytes / 1e6, cap, st->L);
                else
                    nli_prefixerr("adaneg: proxies for %zu labels", cap);
                return -1;
            }
            double **dst = st->samada ? &st->G : &st->P;
            if (*dst) memcpy(m, *dst, st->cap * row_bytes);
            free(*dst);
            *dst = m;
            st->cap = cap;
        }
        st->row[lab] = (int64_t)st->n_touched;
        st->touched[st->n_touched++] = lab;
    }
    return 0;
}

/* The vector of slot k of label lab into out (dim); 0 if the slot is empty. */
static int slot_vector(const state *st, size_t lab, size_t k, double *out) {
    int64_t v = st->slot[lab * st->S + k];
    if (v == NLI_ADANEG_EMPTY) return 0;
    if (v == NLI_ADANEG_TEXT) memcpy(out, text_row(st, lab), st->dim * sizeof(double));
    else nli_unit_row(st->img + (size_t)v * st->dim, st->dim, out);
    return 1;
}

/* Recompute the proxy (task-adaptive) or Gram matrix (sample-adaptive) of
 * every label whose memory changed in this batch (the list stays for the
 * GPU's copy; the caller empties it). */
static void refresh(state *st) {
    size_t dim = st->dim, S = st->S;
#pragma omp parallel for num_threads(st->nt) schedule(dynamic, 4)
    for (size_t c = 0; c < st->n_changed; c++) {
        size_t lab = st->changed_list[c];
        double *w = st->work + (size_t)omp_get_thread_num() * (st->samada ? S : 1) * dim;
        if (!st->samada) {
            /* feat_memory.mean(1), then / its norm */
            double *p = st->P + (size_t)st->row[lab] * dim;
            memset(p, 0, dim * sizeof(double));
            for (size_t k = 0; k < S; k++)
                if (slot_vector(st, lab, k, w))
                    for (size_t d = 0; d < dim; d++) p[d] += w[d];
            double ss = 0;
            for (size_t d = 0; d < dim; d++) {
                p[d] /= (double)S;
                ss += p[d] * p[d];
            }
            double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
            for (size_t d = 0; d < dim; d++) p[d] *= inv;
        } else {
            double *g = st->G + (size_t)st->row[lab] * S * S;
            for (size_t k = 0; k < S; k++)
                if (!slot_vector(st, lab, k, w + k * dim)) memset(w + k * dim, 0, dim * sizeof(double));
            for (size_t a = 0; a < S; a++)
                for (size_t b = 0; b <= a; b++) {
                    double x = 0;
                    for (size_t d = 0; d < dim; d++) x += w[a * dim + d] * w[b * dim + d];
                    g[a * S + b] = g[b * S + a] = x;
                }
        }
        st->changed[lab] = 0;
    }
}

/* Host buffers of the GPU uploads, grown as needed. */
typedef struct {
    double *pack, *slotv;
    size_t *rows, cap;
    int *kinds;
} gpu_upload;

/* The GPU's copy of the proxy rows that changed, and for sample-adaptive
 * their slots' unit vectors (zeros for text and empty slots, which the GPU
 * reads as kinds -2 and -1); 0 or -1. */
static int upload_changed(const state *st, nli_cuda_adaneg *gpu, gpu_upload *b) {
    size_t S = st->S, len = st->samada ? S * S : st->dim, n = st->n_changed;
    if (n > b->cap) {
        double *p = nli_realloc(b->pack, n * len * sizeof(double));
        if (!p) return -1;
        b->pack = p;
        size_t *r = nli_realloc(b->rows, n * sizeof(size_t));
        if (!r) return -1;
        b->rows = r;
        if (st->samada) {
            double *v = nli_realloc(b->slotv, n * S * st->dim * sizeof(double));
            if (!v) return -1;
            b->slotv = v;
            int *k = nli_realloc(b->kinds, n * S * sizeof(int));
            if (!k) return -1;
            b->kinds = k;
        }
        b->cap = n;
    }
    for (size_t c = 0; c < n; c++) {
        size_t lab = st->changed_list[c], row = (size_t)st->row[lab];
        b->rows[c] = row;
        memcpy(b->pack + c * len, (st->samada ? st->G : st->P) + row * len, len * sizeof(double));
        for (size_t k = 0; st->samada && k < S; k++) {
            int64_t v = st->slot[lab * S + k];
            double *out = b->slotv + (c * S + k) * st->dim;
            b->kinds[c * S + k] = v == NLI_ADANEG_EMPTY ? -1 : v == NLI_ADANEG_TEXT ? -2 : 0;
            if (v >= 0) nli_unit_row(st->img + (size_t)v * st->dim, st->dim, out);
            else memset(out, 0, st->dim * sizeof(double));
        }
    }
    return nli_cuda_adaneg_set_rows(gpu, b->rows, n, b->pack, b->slotv, b->kinds);
}

/* Unit rows of images rows[0..m) of the stream into out (m * dim). */
static void unit_images(const state *st, const size_t *rows, size_t m, double *out) {
    for (size_t i = 0; i < m; i++) nli_unit_row(st->img + rows[i] * st->dim, st->dim, out + i * st->dim);
}

/* Cosines of m unit image rows to the ID and negative text rows. */
static void static_cos(const state *st, const double *u, size_t m, double *sid, double *sneg) {
    nli_gemm_f64(u, st->did, sid, m, st->n_id, st->dim, st->nt);
    nli_gemm_f64(u, st->dneg, sneg, m, st->n_neg, st->dim, st->nt);
}

int nli_adaneg_check(const nl_score_params *p) {
    if (p->adaneg_batch < 1) { nli_seterr("adaneg: batch must be at least 1 image (got %d)", p->adaneg_batch); return -1; }
    if (p->adaneg_memory < 1 || p->adaneg_memory > MAX_MEMORY) {
        nli_seterr("adaneg: memory must be 1 to %d image slots per label (got %d)", MAX_MEMORY, p->adaneg_memory);
        return -1;
    }
    if (!(p->adaneg_thres >= 0 && p->adaneg_thres <= 1)) {
        nli_seterr("adaneg: thres must be in [0, 1] (got %g)", p->adaneg_thres);
        return -1;
    }
    if (!(p->adaneg_gap >= 0 && p->adaneg_gap <= 1)) {
        nli_seterr("adaneg: gap must be in [0, 1] (got %g)", p->adaneg_gap);
        return -1;
    }
    if (!isfinite(p->adaneg_lambda)) { nli_seterr("adaneg: lambda must be finite (got %g)", p->adaneg_lambda); return -1; }
    if (!(p->adaneg_beta >= 0 && p->adaneg_beta <= 1e6)) {
        nli_seterr("adaneg: beta must be in [0, 1e6] (got %g)", p->adaneg_beta);
        return -1;
    }
    return 0;
}

void nli_adaneg_trace_free(nli_adaneg_trace *t) {
    if (!t) return;
    free(t->slot); free(t->entropy); free(t->fill);
    memset(t, 0, sizeof *t);
}

int nli_adaneg_run(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                   size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                   size_t *top_neg, nli_adaneg_trace *trace) {
    if (trace) memset(trace, 0, sizeof *trace);
    if (nli_adaneg_check(p) != 0) return -1;
    state st = {.img = img, .n_img = n_img, .n_id = n_id, .n_neg = n_neg, .n_lab = n_id + n_neg, .dim = dim,
                .L = (size_t)p->adaneg_memory, .S = (size_t)p->adaneg_memory + 1, .ngroup = (size_t)p->ngroup,
                .inv_tau = 1.0 / p->tau, .beta = trunc(p->adaneg_beta), .samada = p->adaneg_sample_adaptive != 0,
                .nt = nli_threads(p->n_threads)};
    size_t kept = n_neg - n_neg % st.ngroup, S = st.S, n_lab = st.n_lab;
    st.gsize = kept / st.ngroup;
    size_t batch = (size_t)p->adaneg_batch < n_img ? (size_t)p->adaneg_batch : n_img;
    size_t sub = batch < SUB ? batch : SUB;
    double hi = p->adaneg_thres + p->adaneg_gap * (1 - p->adaneg_thres), lo = p->adaneg_thres - p->adaneg_gap * p->adaneg_thres;
    int rc = -1;
    nl_device dev = p->device;
    int index = p->device_index;
    if (nl_resolve_device(&dev, &index) != 0) {
        nli_prefixerr("adaneg");
        return -1;
    }
    nli_cuda_adaneg *gpu = NULL;
    double *gad = NULL; /* GPU: a chunk's adaptive scores */
    gpu_upload up = {0};
    size_t *perm = nli_mallocarray(kept, sizeof(size_t)), *rows = nli_mallocarray(sub, sizeof(size_t));
    size_t *bid = nli_mallocarray(batch, sizeof(size_t)), *bneg = nli_mallocarray(batch, sizeof(size_t));
    double *bent = nli_mallocarray(batch, sizeof(double)), *dimg = nli_mallocarray(sub * dim, sizeof(double));
    /* the cosines: on the CPU only (the GPU keeps its own) */
    int on_cpu = dev != NL_DEVICE_CUDA;
    double *sid = on_cpu ? nli_mallocarray(sub * n_id, sizeof(double)) : NULL;
    double *sneg = on_cpu ? nli_mallocarray(sub * n_neg, sizeof(double)) : NULL;
    double *aid = on_cpu ? nli_mallocarray(sub * n_id, sizeof(double)) : NULL;
    double *aneg = on_cpu ? nli_mallocarray(sub * n_neg, sizeof(double)) : NULL;
    double *T = NULL, *U = NULL;
    int64_t *upos = NULL;
    size_t *ulist = NULL, n_u = 0;
    st.perm = perm;
    st.did = nli_unit_rows(id_emb, n_id, dim);
    st.dneg = nli_unit_rows(neg_emb, n_neg, dim);
    st.slot = nli_mallocarray(n_lab * S, sizeof(int64_t));
    st.ent = nli_calloc(n_lab * S, sizeof(double));
    st.fill = nli_mallocarray(n_lab, sizeof(size_t));
    st.row = nli_mallocarray(n_lab, sizeof(int64_t));
    st.changed = nli_calloc(n_lab, 1);
    st.changed_list = nli_mallocarray(n_lab, sizeof(size_t));
    st.work = nli_mallocarray((size_t)st.nt * (st.samada ? S : 1) * dim, sizeof(double));
    if (!perm || !rows || !bid || !bneg || !bent || !dimg || (on_cpu && (!sid || !sneg || !aid || !aneg)) || !st.did ||
        !st.dneg || !st.slot || !st.ent || !st.fill || !st.row || !st.changed || !st.changed_list || !st.work)
        goto done;
    if (on_cpu && st.samada && (!(upos = nli_mallocarray(n_img, sizeof(int64_t))) || !(ulist = nli_mallocarray(n_img, sizeof(size_t)))))
        goto done;
    if (p->shuffle) {
        if (nli_permutation(p->permutation, p->seed, kept, perm) != 0) goto done;
    } else {
        for (size_t k = 0; k < kept; k++) perm[k] = k;
    }
    for (size_t l = 0; l < n_lab; l++) {
        st.slot[l * S] = NLI_ADANEG_TEXT;
        for (size_t k = 1; k < S; k++) st.slot[l * S + k] = NLI_ADANEG_EMPTY;
        st.fill[l] = 1;
        st.row[l] = -1;
    }
    if (upos)
        for (size_t i = 0; i < n_img; i++) upos[i] = -1;
    if (!on_cpu) {
        if (!(gad = nli_mallocarray(sub, sizeof(double)))) goto done;
        if (!(gpu = nli_cuda_adaneg_open(index, st.did, n_id, st.dneg, n_neg, dim, perm, st.ngroup, st.gsize,
                                         st.inv_tau, sub, S, st.samada, st.beta)))
            goto done;
    }

    for (size_t b0 = 0; b0 < n_img; b0 += batch) {
        size_t bn = n_img - b0 < batch ? n_img - b0 : batch, nsub = (bn + sub - 1) / sub;
        if (b0 && nli_cancelled()) goto done;
        /* 1. static scores, argmaxes, entropies of the images that qualify */
        for (size_t s0 = 0; s0 < bn; s0 += sub) {
            size_t m = bn - s0 < sub ? bn - s0 : sub;
            for (size_t i = 0; i < m; i++) rows[i] = b0 + s0 + i;
            unit_images(&st, rows, m, dimg);
            if (gpu) {
                if (nli_cuda_adaneg_static(gpu, dimg, m, hi, lo, scores + b0 + s0, bid + s0, bneg + s0, bent + s0) != 0)
                    goto done;
                continue;
            }
            static_cos(&st, dimg, m, sid, sneg);
#pragma omp parallel for num_threads(st.nt) schedule(dynamic, 8)
            for (size_t i = 0; i < m; i++) {
                const double *a = sid + i * n_id, *b = sneg + i * n_neg;
                double v = nli_neglabel_one(a, n_id, b, perm, st.ngroup, st.gsize, st.inv_tau);
                size_t j = s0 + i;
                scores[b0 + j] = v;
                bid[j] = nli_argmax(a, n_id);
                bneg[j] = nli_argmax(b, n_neg);
                bent[j] = v > hi ? entropy(a, n_id, st.inv_tau) : v < lo ? entropy(b, n_neg, st.inv_tau) : 0;
            }
        }
        for (size_t j = 0; j < bn; j++) {
            if (top_id) top_id[b0 + j] = bid[j];
            if (top_neg) top_neg[b0 + j] = bneg[j];
        }
        /* 2. the whole batch into memory: ID labels first, then negatives */
        for (size_t j = 0; j < bn; j++)
            if (scores[b0 + j] > hi) cache(&st, bid[j], b0 + j, bent[j]);
        for (size_t j = 0; j < bn; j++)
            if (scores[b0 + j] < lo) cache(&st, n_id + bneg[j], b0 + j, bent[j]);
        /* 3. proxies of the labels that changed */
        if (assign_rows(&st) != 0) goto done;
        refresh(&st);
        if (gpu && upload_changed(&st, gpu, &up) != 0) goto done;
        st.n_changed = 0;
        if (st.samada && !gpu) { /* the images now in memory, for their cosines to this batch */
            for (size_t u = 0; u < n_u; u++) upos[ulist[u]] = -1;
            n_u = 0;
            for (size_t r = 0; r < st.n_touched; r++)
                for (size_t k = 0; k < S; k++) {
                    int64_t v = st.slot[st.touched[r] * S + k];
                    if (v >= 0 && upos[v] < 0) { upos[v] = (int64_t)n_u; ulist[n_u++] = (size_t)v; }
                }
            free(U);
            if (!(U = nli_mallocarray(n_u * dim + 1, sizeof(double)))) goto done;
            unit_images(&st, ulist, n_u, U);
        }
        if (gpu) { /* the memory as the GPU reads it; then the chunks' adaptive scores there */
            if (nli_cuda_adaneg_memory(gpu, st.touched, st.n_touched) != 0) goto done;
            for (size_t s0 = 0; s0 < bn; s0 += sub) {
                size_t m = bn - s0 < sub ? bn - s0 : sub;
                if (nsub > 1) { /* the device holds the last chunk's static cosines: this one's again */
                    for (size_t i = 0; i < m; i++) rows[i] = b0 + s0 + i;
                    unit_images(&st, rows, m, dimg);
                }
                if (nli_cuda_adaneg_adaptive(gpu, nsub > 1 ? dimg : NULL, m, gad) != 0) goto done;
                for (size_t i = 0; i < m; i++)
                    scores[b0 + s0 + i] = gad[i] + p->adaneg_lambda * scores[b0 + s0 + i];
            }
            continue;
        }
        free(T);
        size_t tcols = st.samada ? n_u : st.n_touched;
        if (!(T = nli_mallocarray(sub * tcols + 1, sizeof(double)))) goto done;
        /* 4. adaptive scores */
        for (size_t s0 = 0; s0 < bn; s0 += sub) {
            size_t m = bn - s0 < sub ? bn - s0 : sub;
            if (nsub > 1) { /* the static cosines of this chunk again */
                for (size_t i = 0; i < m; i++) rows[i] = b0 + s0 + i;
                unit_images(&st, rows, m, dimg);
                static_cos(&st, dimg, m, sid, sneg);
            }
            memcpy(aid, sid, m * n_id * sizeof(double));
            memcpy(aneg, sneg, m * n_neg * sizeof(double));
            if (tcols) nli_gemm_f64(dimg, st.samada ? U : st.P, T, m, tcols, dim, st.nt);
#pragma omp parallel for num_threads(st.nt) schedule(dynamic, 8)
            for (size_t i = 0; i < m; i++) {
                for (size_t r = 0; r < st.n_touched; r++) {
                    size_t lab = st.touched[r];
                    double c;
                    if (!st.samada) {
                        c = T[i * tcols + r];
                    } else {
                        /* img . sum_k w_k v_k / |sum_k w_k v_k|, w_k = exp(-beta (1 - img . v_k)) */
                        double *wk = st.work + (size_t)omp_get_thread_num() * S * dim, num = 0, den = 0;
                        const double *g = st.G + (size_t)r * S * S;
                        for (size_t k = 0; k < S; k++) {
                            int64_t v = st.slot[lab * S + k];
                            double x = v == NLI_ADANEG_EMPTY ? 0
                                       : v == NLI_ADANEG_TEXT ? (lab < n_id ? sid[i * n_id + lab] : sneg[i * n_neg + lab - n_id])
                                                              : T[i * tcols + (size_t)upos[v]];
                            wk[k] = exp(-st.beta * (1 - x));
                            num += wk[k] * x;
                        }
                        for (size_t a = 0; a < S; a++)
                            for (size_t b = 0; b < S; b++) den += wk[a] * wk[b] * g[a * S + b];
                        c = den > 0 ? num / sqrt(den) : 0;
                    }
                    if (lab < n_id) aid[i * n_id + lab] = c;
                    else aneg[i * n_neg + lab - n_id] = c;
                }
                double ad = nli_neglabel_one(aid + i * n_id, n_id, aneg + i * n_neg, perm, st.ngroup, st.gsize, st.inv_tau);
                scores[b0 + s0 + i] = ad + p->adaneg_lambda * scores[b0 + s0 + i];
            }
        }
    }
    rc = 0;
    if (trace) {
        trace->n_labels = n_lab;
        trace->slots = S;
        trace->slot = st.slot; st.slot = NULL;
        trace->entropy = st.ent; st.ent = NULL;
        trace->fill = st.fill; st.fill = NULL;
        trace->cached_id = st.cached_id;
        trace->cached_neg = st.cached_neg;
        trace->replaced = st.replaced;
        trace->rejected = st.rejected;
    }
done:
    nli_cuda_adaneg_close(gpu);
    free(up.pack); free(up.slotv); free(up.rows); free(up.kinds); free(gad);
    free(perm); free(rows); free(bid); free(bneg); free(bent); free(dimg); free(sid); free(sneg); free(aid);
    free(aneg); free(T); free(U); free(upos); free(ulist);
    free((double *)st.did); free((double *)st.dneg); free(st.slot); free(st.ent); free(st.fill); free(st.row);
    free(st.changed); free(st.changed_list); free(st.work); free(st.touched); free(st.P); free(st.G);
    return rc;
}

int nli_score_adaneg(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                     size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                     size_t *top_neg) {
    int rc = nli_adaneg_run(img, n_img, id_emb, n_id, neg_emb, n_neg, dim, p, scores, top_id, top_neg, NULL);
    if (rc != 0) nli_prefixerr("score");
    return rc;
}
