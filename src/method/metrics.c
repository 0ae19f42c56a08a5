/* metrics.c — AUROC, AUPR-In/Out and FPR@95, equal to scikit-learn 1.2
 * (roc_auc_score, average_precision_score, roc_curve) and to MCM's
 * fpr_and_fdr_at_recall; in OpenOOD's convention, its FPR95 and its AUPRs
 * (auc over precision_recall_curve). Every metric walks one "binary classifier curve":
 * scores sorted descending, one point per distinct score, cumulative true
 * and false positives there (sklearn's _binary_clf_curve). */
#include "neglabel.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { double s; int pos; } item;

/* Descending by score; ties in any order, since only distinct thresholds
 * are kept and counts at a threshold include all tied items. */
static int cmp_desc(const void *a, const void *b) {
    double x = ((const item *)a)->s, y = ((const item *)b)->s;
    return (x < y) - (x > y);
}

/* Curve over distinct thresholds: tps[k], fps[k] for k < *nk. */
typedef struct { double *tps, *fps; size_t n; } curve;

/* positive: the positive class is the ID set (1) or the OOD set (0);
 * negate: use -score. */
static int clf_curve(const double *id, size_t n_id, const double *ood, size_t n_ood, int id_positive,
                     int negate, curve *c) {
    size_t n = n_id + n_ood;
    item *it = nli_mallocarray(n, sizeof *it);
    c->tps = nli_mallocarray(n, sizeof(double));
    c->fps = nli_mallocarray(n, sizeof(double));
    if (!it || !c->tps || !c->fps) {
        free(it); free(c->tps); free(c->fps);
        return -1;
    }
    for (size_t i = 0; i < n_id; i++) it[i] = (item){negate ? -id[i] : id[i], id_positive};
    for (size_t i = 0; i < n_ood; i++) it[n_id + i] = (item){negate ? -ood[i] : ood[i], !id_positive};
    qsort(it, n, sizeof *it, cmp_desc);
    double tp = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        tp += it[i].pos;
        if (i + 1 == n || it[i + 1].s != it[i].s) {
            c->tps[k] = tp;
            c->fps[k] = (double)(i + 1) - tp;
            k++;
        }
    }
    c->n = k;
    free(it);
    return 0;
}

static void curve_free(curve *c) { free(c->tps); free(c->fps); }

/* sklearn average_precision_score: sum over thresholds of
 * (recall_k - recall_{k-1}) * precision_k, recall_{-1} = 0. */
static double average_precision(const curve *c) {
    double last = c->tps[c->n - 1], ap = 0, prev = 0;
    for (size_t k = 0; k < c->n; k++) {
        double r = c->tps[k] / last, p = c->tps[k] / (c->tps[k] + c->fps[k]);
        ap += (r - prev) * p;
        prev = r;
    }
    return ap;
}

/* OpenOOD's AUPR: sklearn auc(recall, precision) over precision_recall_curve,
 * the trapezoid through (recall 0, precision 1) and every threshold's point
 * (points past full recall add no width). */
static double trapezoid_pr(const curve *c) {
    double last = c->tps[c->n - 1], area = 0, r0 = 0, p0 = 1;
    for (size_t k = 0; k < c->n; k++) {
        double r = c->tps[k] / last, p = c->tps[k] / (c->tps[k] + c->fps[k]);
        area += (r - r0) * (p + p0) / 2.0;
        r0 = r;
        p0 = p;
    }
    return area;
}

/* sklearn roc_curve (drop_intermediate=True): keep the first and last point
 * and every corner (non-zero second difference of fps or tps), then prepend
 * (0, 0). Writes fpr/tpr (n+1 each), returns their length. */
static size_t roc_points(const curve *c, double *fpr, double *tpr) {
    size_t m = 0;
    fpr[m] = tpr[m] = 0;
    m++;
    double ft = c->fps[c->n - 1], tt = c->tps[c->n - 1];
    for (size_t k = 0; k < c->n; k++) {
        int keep = 1;
        if (c->n > 2 && k > 0 && k + 1 < c->n) {
            double d2f = c->fps[k + 1] - 2 * c->fps[k] + c->fps[k - 1];
            double d2t = c->tps[k + 1] - 2 * c->tps[k] + c->tps[k - 1];
            keep = d2f != 0 || d2t != 0;
        }
        if (keep) {
            fpr[m] = c->fps[k] / ft;
            tpr[m] = c->tps[k] / tt;
            m++;
        }
    }
    return m;
}

/* MCM / Hendrycks fpr_and_fdr_at_recall with ID positive: walk the
 * thresholds from the first reaching full recall back to the top, then the
 * appended point (recall 1, fps 0); take the first point whose recall is
 * closest to 0.95. */
static double fpr_neglabel(const curve *c, size_t n_ood) {
    double last = c->tps[c->n - 1];
    size_t last_ind = 0; /* tps.searchsorted(tps[-1]), tps non-decreasing */
    while (c->tps[last_ind] < last) last_ind++;
    double best = INFINITY, fps = 0;
    for (size_t j = last_ind + 1; j-- > 0;) {
        double d = fabs(c->tps[j] / last - 0.95);
        if (d < best) { best = d; fps = c->fps[j]; }
    }
    if (fabs(1.0 - 0.95) < best) fps = 0;
    return fps / (double)n_ood;
}

int nl_compute_metrics(const double *id_scores, size_t n_id, const double *ood_scores, size_t n_ood,
                       nl_fpr_convention conv, nl_metrics *out) {
    if (!out || (n_id && !id_scores) || (n_ood && !ood_scores)) return nli_null_arg(__func__);
    if (n_id == 0 || n_ood == 0) {
        nli_seterr("metrics: need at least one ID and one OOD score (got %zu ID, %zu OOD)", n_id, n_ood);
        return -1;
    }
    if (conv != NL_FPR95_NEGLABEL && conv != NL_FPR95_OPENOOD) {
        nli_seterr("metrics: unknown FPR95 convention %d", (int)conv);
        return -1;
    }
    for (size_t i = 0; i < n_id; i++)
        if (!isfinite(id_scores[i])) { nli_seterr("metrics: ID score %zu is not finite", i); return -1; }
    for (size_t i = 0; i < n_ood; i++)
        if (!isfinite(ood_scores[i])) { nli_seterr("metrics: OOD score %zu is not finite", i); return -1; }

    curve in, oo;
    if (clf_curve(id_scores, n_id, ood_scores, n_ood, 1, 0, &in) != 0) return -1;
    if (clf_curve(id_scores, n_id, ood_scores, n_ood, 0, 1, &oo) != 0) { curve_free(&in); return -1; }
    double *fpr = nli_mallocarray(in.n + 1, sizeof(double));
    double *tpr = nli_mallocarray(in.n + 1, sizeof(double));
    if (!fpr || !tpr) {
        free(fpr); free(tpr); curve_free(&in); curve_free(&oo);
        return -1;
    }
    /* AUROC: trapezoid over the ROC points (np.trapz). */
    size_t m = roc_points(&in, fpr, tpr);
    double auc = 0;
    for (size_t i = 1; i < m; i++) auc += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2.0;
    out->auroc = auc;
    if (conv == NL_FPR95_NEGLABEL) {
        out->aupr_in = average_precision(&in);
        out->aupr_out = average_precision(&oo);
        out->fpr95 = fpr_neglabel(&in, n_ood);
    } else {
        /* OpenOOD: roc_curve(ood_indicator, -score); fpr at argmax(tpr >= 0.95). */
        out->aupr_in = trapezoid_pr(&in);
        out->aupr_out = trapezoid_pr(&oo);
        m = roc_points(&oo, fpr, tpr);
        out->fpr95 = fpr[m - 1];
        for (size_t i = 0; i < m; i++)
            if (tpr[i] >= 0.95) { out->fpr95 = fpr[i]; break; }
    }
    free(fpr); free(tpr); curve_free(&in); curve_free(&oo);
    return 0;
}

const char *nl_fpr_convention_name(nl_fpr_convention c) {
    switch (c) {
    case NL_FPR95_NEGLABEL: return "neglabel";
    case NL_FPR95_OPENOOD: return "openood";
    }
    return "unknown";
}
