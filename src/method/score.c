/* score.c — NegLabel and MCM scores from image and label embeddings.
 * Formulas, grouping and the PRNG are described in docs/scoring.md. All
 * softmax sums are log-sum-exp in double, so no accepted tau (1/tau finite) overflows. Cosines
 * are computed in double from the float inputs (normalised here, in
 * double): at tau = 0.01 a float32 dot product's rounding (~1e-7) would
 * move scores by ~1e-6, more than the formulas' own precision. With
 * NL_DEVICE_CUDA the same steps run on a GPU (method/cuda/score.cu). */
#include "neglabel.h"
#include "cuda/score_cuda.h"
#include "adaneg.h"
#include "oodd.h"
#include "prng.h"
#include "score_util.h"
#include "gemm.h"
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Images per GEMM. Fixed (not derived from the thread count) so that the
 * similarities, and so the scores, never depend on the number of threads. */
#define IMG_CHUNK 256

static const char *const METHOD_NAMES[NL_METHOD_COUNT] = {"neglabel", "mcm", "csp", "adaneg", "oodd"};

int nl_parse_method(const char *s, nl_method *out) {
    if (!out) return nli_null_arg(__func__);
    for (int m = 0; s && m < NL_METHOD_COUNT; m++)
        if (!strcmp(s, METHOD_NAMES[m])) { *out = (nl_method)m; return 0; }
    nli_seterr("unknown method '%s' (neglabel, mcm, csp, adaneg or oodd)", s ? s : "");
    return -1;
}

const char *nl_method_name(nl_method m) { return (unsigned)m < NL_METHOD_COUNT ? METHOD_NAMES[m] : "unknown"; }

nl_score_params nl_score_default_params(nl_method method) {
    /* the references of CSP, AdaNeg and OODD shuffle with torch.randperm */
    int torch_perm = method == NL_METHOD_CSP || method == NL_METHOD_ADANEG || method == NL_METHOD_OODD;
    return (nl_score_params){.method = method, .ngroup = method == NL_METHOD_ADANEG ? 5 : 100, .seed = 0,
                             .shuffle = 1, .permutation = torch_perm ? NL_PERM_TORCH : NL_PERM_SPLITMIX,
                             .tau = method == NL_METHOD_MCM ? 1.0 : 0.01, .device = NL_DEVICE_CPU,
                             .device_index = 0, .adaneg_batch = 256, .adaneg_memory = 10, .adaneg_thres = 0.5,
                             .adaneg_gap = 0.5, .adaneg_lambda = 0.1, .adaneg_sample_adaptive = 0,
                             .adaneg_beta = 5.5, .oodd_batch = 64, .oodd_queue = 2048, .oodd_k = 5};
}

int nl_score_check(const nl_score_params *p, size_t n_id, size_t n_neg, size_t dim) {
    if (!p) { nli_seterr("score: no parameters"); return -1; }
    if ((unsigned)p->method >= NL_METHOD_COUNT) {
        nli_seterr("score: unknown method %d", (int)p->method);
        return -1;
    }
    if (n_id == 0) { nli_seterr("score: no ID labels"); return -1; }
    if ((unsigned)p->permutation > NL_PERM_NUMPY) {
        nli_seterr("score: unknown permutation %d", (int)p->permutation);
        return -1;
    }
    if (p->permutation == NL_PERM_NUMPY && p->shuffle && p->seed > UINT32_MAX) {
        nli_seterr("score: the numpy permutation takes a seed below 2^32 (got %llu)", (unsigned long long)p->seed);
        return -1;
    }
    /* 1 / tau must be finite too: a subnormal tau (1e-310) made every logit
     * inf or NaN, so every score NaN, with no error */
    if (!(p->tau > 0) || !isfinite(p->tau) || !isfinite(1.0 / p->tau)) {
        nli_seterr("score: tau must be positive and finite, with 1/tau finite (got %g)", p->tau);
        return -1;
    }
    nl_device dev = p->device;
    int index = p->device_index;
    if (nl_resolve_device(&dev, &index) != 0) {
        nli_prefixerr("score");
        return -1;
    }
    if (dim == 0 || dim > INT_MAX || n_id > INT_MAX || n_neg > INT_MAX) {
        nli_seterr("score: bad sizes (dim %zu, %zu ID, %zu negative labels)", dim, n_id, n_neg);
        return -1;
    }
    if (p->method != NL_METHOD_MCM) { /* NegLabel's formula; CSP's too */
        if (n_neg == 0) { nli_seterr("score: %s needs negative labels", nl_method_name(p->method)); return -1; }
        if (p->ngroup < 1 || (size_t)p->ngroup > n_neg) {
            nli_seterr("score: ngroup %d outside [1, %zu] (the number of negative labels)", p->ngroup, n_neg);
            return -1;
        }
    }
    if (p->method == NL_METHOD_ADANEG && nli_adaneg_check(p) != 0) {
        nli_prefixerr("score"); /* "score: adaneg: ...", as OODD's "score: oodd ..." */
        return -1;
    }
    if (p->method == NL_METHOD_OODD) return nli_oodd_check(p);
    return 0;
}

int nli_score_rows(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                   size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                   size_t *top_neg) {
    nl_device dev = p->device;
    int index = p->device_index;
    if (nl_resolve_device(&dev, &index) != 0) return -1; /* resolved once already by the check */
    size_t ngroup = 0, gsize = 0, kept = 0;
    if (p->method != NL_METHOD_MCM) {
        ngroup = (size_t)p->ngroup;
        kept = n_neg - n_neg % ngroup;
        gsize = kept / ngroup;
    }
    if (n_img == 0) return 0;
    if (p->method == NL_METHOD_ADANEG)
        return nli_score_adaneg(img, n_img, id_emb, n_id, neg_emb, n_neg, dim, p, scores, top_id, top_neg);
    if (p->method == NL_METHOD_OODD)
        return nli_score_oodd(img, n_img, id_emb, n_id, neg_emb, n_neg, dim, p, scores, top_id, top_neg);

    size_t chunk = n_img < IMG_CHUNK ? n_img : IMG_CHUNK;
    double *sid = NULL, *sneg = NULL, *did = NULL, *dneg = NULL, *dimg = NULL;
    size_t *perm = kept ? nli_mallocarray(kept, sizeof(size_t)) : NULL;
    int rc = -1;
    if (kept && !perm) goto done;
    if (kept) {
        if (p->shuffle) {
            if (nli_permutation(p->permutation, p->seed, kept, perm) != 0) goto done;
        } else {
            for (size_t k = 0; k < kept; k++) perm[k] = k;
        }
    }
    double inv_tau = 1.0 / p->tau;
    if (dev == NL_DEVICE_CUDA) {
        /* the same normalisation, cosines and formulas on the GPU */
        rc = nli_cuda_score(index, img, n_img, id_emb, n_id, neg_emb, n_neg, dim,
                           p->method == NL_METHOD_MCM ? 1 : 0, ngroup, gsize, perm, inv_tau, scores, top_id,
                           top_neg);
        goto done;
    }
    sid = nli_mallocarray(chunk * n_id, sizeof(double));
    sneg = n_neg ? nli_mallocarray(chunk * n_neg, sizeof(double)) : NULL;
    did = nli_unit_rows(id_emb, n_id, dim);
    dneg = n_neg ? nli_unit_rows(neg_emb, n_neg, dim) : NULL;
    if (!sid || (n_neg && (!sneg || !dneg)) || !did) goto done;
    int nt = nli_threads(p->n_threads);
    for (size_t i0 = 0; i0 < n_img; i0 += chunk) {
        size_t m = n_img - i0 < chunk ? n_img - i0 : chunk;
        if (i0 && nli_cancelled()) goto done; /* millions of images x 10,000 negatives take minutes */
        free(dimg);
        if (!(dimg = nli_unit_rows(img + i0 * dim, m, dim))) goto done;
        nli_gemm_f64(dimg, did, sid, m, n_id, dim, nt);
        if (n_neg) nli_gemm_f64(dimg, dneg, sneg, m, n_neg, dim, nt);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 8)
        for (size_t i = 0; i < m; i++) {
            const double *a = sid + i * n_id, *b = sneg ? sneg + i * n_neg : NULL;
            if (top_id) top_id[i0 + i] = nli_argmax(a, n_id);
            if (top_neg) top_neg[i0 + i] = n_neg ? nli_argmax(b, n_neg) : SIZE_MAX;
            if (p->method == NL_METHOD_MCM) {
                /* max softmax probability = exp(max logit - LSE) */
                scores[i0 + i] = exp(a[nli_argmax(a, n_id)] * inv_tau - nli_lse(a, NULL, n_id, inv_tau));
            } else {
                scores[i0 + i] = nli_neglabel_one(a, n_id, b, perm, ngroup, gsize, inv_tau);
            }
        }
    }
    rc = 0;
done:
    if (rc != 0) nli_prefixerr("score");
    free(sid); free(sneg); free(perm); free(did); free(dneg); free(dimg);
    return rc;
}

int nl_score(const float *img, size_t n_img, const float *id_emb, size_t n_id,
             const float *neg_emb, size_t n_neg, size_t dim, const nl_score_params *p,
             double *scores, size_t *top_id, size_t *top_neg) {
    if ((n_img && (!img || !scores)) || (n_id && !id_emb) || (n_neg && !neg_emb)) return nli_null_arg(__func__);
    if (nl_score_check(p, n_id, n_neg, dim) != 0) return -1;
    /* a non-finite label row made every image's score NaN, with rc 0; an
     * image's row makes only its own score NaN (by design: one bad image
     * does not stop a batch; below) */
    size_t bad = nli_first_nonfinite(id_emb, n_id, dim);
    if (bad < n_id) { nli_seterr("score: ID label embedding %zu holds a non-finite value", bad); return -1; }
    if (n_neg && (bad = nli_first_nonfinite(neg_emb, n_neg, dim)) < n_neg) {
        nli_seterr("score: negative label embedding %zu holds a non-finite value", bad);
        return -1;
    }
    if (nli_score_rows(img, n_img, id_emb, n_id, neg_emb, n_neg, dim, p, scores, top_id, top_neg) != 0) return -1;
    /* A NaN score comes from an image embedding that is not finite (the
     * model's forward pass overflowed): such an image has no most similar
     * label (an argmax over NaN would name the first one). */
    bad = 0;
    for (size_t i = 0; i < n_img; i++) {
        if (!isnan(scores[i])) continue;
        bad++;
        if (top_id) top_id[i] = SIZE_MAX;
        if (top_neg) top_neg[i] = SIZE_MAX;
    }
    if (bad)
        nli_log(NL_LOG_WARN,
                "score: %zu of %zu images have a NaN score: their embeddings are not finite (" NLI_OVERFLOW_HINT ")",
                bad, n_img);
    return 0;
}
