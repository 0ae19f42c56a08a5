/* report_html.c — report.html: one self-contained page (inline CSS and SVG,
 * images as data: URIs, no scripts, nothing fetched), in the spirit of the
 * NegLabel paper's Figure 4. Every string from the data goes through
 * nli_rw_html. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROC_MAX_POINTS 500
#define HIST_BINS 40
#define MAX_SKIPPED_LISTED 1000

/* Plot geometry shared by the ROC and histogram panels (SVG user units). */
#define SVG_W 340
#define SVG_H 320
#define PX0 52.0  /* plot left */
#define PY0 48.0  /* plot top */
#define PW 270.0  /* plot width */
#define PH 220.0  /* plot height */

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:1200px;"
    "padding:0 1em;color:#1b1f24;background:#fff}\n"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}\n"
    ".meta{color:#57606a;line-height:1.6}.meta b{color:#1b1f24}code{font-size:.9em}\n"
    "table.metrics{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.5em 0}\n"
    "table.metrics th,table.metrics td{border:1px solid #d0d7de;padding:.35em .7em;text-align:right}\n"
    "table.metrics th{background:#f6f8fa;text-align:center}table.metrics td.name,table.metrics th.name{text-align:left}\n"
    "table.metrics tr.avg td{font-weight:600;background:#f6f8fa}table.metrics td.best{color:#0a7d32;font-weight:600}\n"
    "table.metrics td.method{text-align:left}\n"
    ".note{color:#57606a;font-size:.92em}\n"
    ".panels{display:flex;flex-wrap:wrap;gap:1em}.panels figure{margin:0;border:1px solid #d0d7de;border-radius:6px;"
    "padding:.4em;width:340px}\n"
    "figcaption{font-size:.92em;text-align:center;overflow-wrap:anywhere}\n"
    "svg text{font-size:11px;fill:#1b1f24}svg .grid{stroke:#eaeef2}svg .axis{stroke:#57606a;fill:none}\n"
    ".ex-grid{display:flex;flex-wrap:wrap;gap:.8em}.ex{margin:0;width:150px;font-size:.82em}\n"
    ".ex.fig4{width:400px;display:grid;grid-template-columns:150px 240px;gap:0 10px}.ex.fig4 figcaption{grid-column:1/3}\n"
    "svg.aff text{font-size:10px}svg.aff text.id{fill:#0a7d32}svg.aff text.neg{fill:#b42318}\n"
    ".ex img,.ex .noimg{width:150px;height:150px;object-fit:cover;border-radius:4px;display:block;background:#eaeef2}\n"
    ".ex figcaption{text-align:left;margin-top:.3em;line-height:1.35}.ex .score{font-weight:600}\n"
    ".ex .path{color:#57606a;overflow-wrap:anywhere}.ex .neg{color:#b42318}.ex .id{color:#0a7d32}\n"
    "pre{background:#f6f8fa;padding:.8em;overflow:auto;max-height:30em}\n";

static const char *set_name(const nli_report_set *s) { return s->name ? s->name : "(unnamed)"; }

/* Each method's curve style, by nl_method. */
static const char *const COLOR[NL_METHOD_COUNT] = {"#1f6feb", "#e8710a", "#8250df", "#0a7d32", "#bf3989"};
static const char *const DASH[NL_METHOD_COUNT] = {"", " stroke-dasharray=\"6 3\"", " stroke-dasharray=\"2 2\"",
                                                  " stroke-dasharray=\"8 3 2 3\"", " stroke-dasharray=\"4 4\""};
static const char *const TITLE[NL_METHOD_COUNT] = {"NegLabel", "MCM", "CSP", "AdaNeg", "OODD"};

/* ------------------------------------------------------------ numbers */

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Finite values of a, sorted descending (malloc'd). */
static double *sorted_finite(const double *a, size_t n, size_t *m) {
    double *s = nli_mallocarray(n ? n : 1, sizeof *s);
    if (!s) return NULL;
    *m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a[i])) s[(*m)++] = a[i];
    qsort(s, *m, sizeof *s, cmp_desc);
    return s;
}

/* ROC with ID as positive: sweep the threshold down over all scores; at
 * each distinct value x = fraction of OOD >= t, y = fraction of ID >= t.
 * Points closer than a fixed L1 step to the last kept one are dropped; the
 * curve's L1 length is at most 2, so at most ROC_MAX_POINTS remain.
 * Returns the number of points, -1 on error, 0 when a side is empty. */
static int roc_points(const double *id, size_t nid, const double *ood, size_t nood, double *px, double *py) {
    size_t na, nb;
    double *a = sorted_finite(id, nid, &na);
    double *b = a ? sorted_finite(ood, nood, &nb) : NULL;
    if (!a || !b) { free(a); free(b); return -1; }
    int np = 0;
    if (na && nb) {
        const double step = 2.0 / (ROC_MAX_POINTS - 2);
        size_t i = 0, j = 0;
        px[0] = py[0] = 0;
        np = 1;
        while (i < na || j < nb) {
            double t = i < na && (j >= nb || a[i] >= b[j]) ? a[i] : b[j];
            while (i < na && a[i] == t) i++;
            while (j < nb && b[j] == t) j++;
            double x = (double)j / (double)nb, y = (double)i / (double)na;
            int last = i == na && j == nb;
            if (last || fabs(x - px[np - 1]) + fabs(y - py[np - 1]) >= step) {
                px[np] = x;
                py[np] = y;
                np++;
            }
        }
    }
    free(a);
    free(b);
    return np;
}

/* ------------------------------------------------------------ SVG pieces */

static double sx(double v) { return PX0 + v * PW; }
static double sy(double v) { return PY0 + (1.0 - v) * PH; }

/* Frame, grid and tick labels for a plot whose x runs xlo..xhi and y 0..ymax. */
static void axes(nli_rw *w, double xlo, double xhi, double ymax, const char *xtitle, const char *ytitle) {
    for (int k = 0; k <= 4; k++) {
        double f = k / 4.0;
        nli_rw_printf(w, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", sx(f), sy(0), sx(f), sy(1));
        nli_rw_printf(w, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", sx(0), sy(f), sx(1), sy(f));
        nli_rw_printf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>", sx(f), sy(0) + 14,
                     xlo + f * (xhi - xlo));
        nli_rw_printf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", sx(0) - 4, sy(f) + 4, f * ymax);
    }
    nli_rw_printf(w, "<rect class=\"axis\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", PX0, PY0, PW, PH);
    nli_rw_printf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", sx(0.5), sy(0) + 30, xtitle);
    nli_rw_printf(w, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n", sy(0.5),
                 ytitle);
}

/* Legends sit in a row above the plot, where no curve or bar can hide them. */
static void legend(nli_rw *w, int slot, const char *color, const char *dash, const char *label) {
    double x = PX0 + (slot % 2) * 140.0, y = 12.0 + 12 * (slot / 2);
    nli_rw_printf(w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"%s/>",
                 x, y - 4, x + 20, y - 4, color, dash);
    nli_rw_printf(w, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 25, y, label);
}

static void svg_open(nli_rw *w, const char *cls, const char *what, const nli_report_set *s) {
    nli_rw_printf(w, "<figure><svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                    "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s: ",
                 cls, SVG_W, SVG_H, SVG_W, SVG_H, what);
    nli_rw_html(w, set_name(s));
    nli_rw_puts(w, "\">\n");
}

static void svg_close(nli_rw *w, const char *what, const nli_report *r, const nli_report_set *s) {
    nli_rw_printf(w, "</svg><figcaption>%s: ", what);
    nli_rw_html(w, set_name(r->id));
    nli_rw_puts(w, " (ID) vs ");
    nli_rw_html(w, set_name(s));
    nli_rw_puts(w, "</figcaption></figure>\n");
}

static int roc_polyline(nli_rw *w, const nli_report *r, const double *id, const double *ood, size_t nood,
                        const char *cls, const char *color, const char *dash) {
    size_t cap = r->id->n + nood + 2;
    double *px = nli_mallocarray(cap, sizeof *px), *py = nli_mallocarray(cap, sizeof *py);
    int np = px && py ? roc_points(id, r->id->n, ood, nood, px, py) : -1;
    if (np > 0) {
        nli_rw_printf(w, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", cls, color,
                     dash);
        for (int k = 0; k < np; k++) nli_rw_printf(w, "%s%.1f,%.1f", k ? " " : "", sx(px[k]), sy(py[k]));
        nli_rw_puts(w, "\"/>\n");
    }
    free(px);
    free(py);
    return np < 0 ? -1 : 0;
}

static void roc_panel(nli_rw *w, const nli_report *r, const nli_report_set *s) {
    svg_open(w, "roc", "ROC curve", s);
    axes(w, 0, 1, 1, "FPR (OOD images accepted as ID)", "TPR (ID images accepted)");
    nli_rw_printf(w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#afb8c1\" stroke-dasharray=\"4 4\"/>\n",
                 sx(0), sy(0), sx(1), sy(1));
    /* the first method drawn last, on top */
    for (size_t k = r->n_methods; k-- > 0;) {
        nl_method m = r->methods[k];
        if (s->scores[m] && s->id_scores[m] &&
            roc_polyline(w, r, s->id_scores[m], s->scores[m], s->n, nl_method_name(m), COLOR[m], DASH[m]) != 0)
            w->err = 1;
    }
    for (size_t k = 0; k < r->n_methods; k++) {
        nl_method m = r->methods[k];
        char lab[96];
        snprintf(lab, sizeof lab, "%s %.2f%%", TITLE[m], 100 * s->metrics[m].auroc);
        legend(w, (int)k, COLOR[m], DASH[m], lab);
    }
    svg_close(w, "ROC", r, s);
}

/* Fraction of a's finite values in each of HIST_BINS bins over [lo, hi]. */
static void histogram(const double *a, size_t n, double lo, double hi, double *h) {
    size_t m = 0;
    memset(h, 0, HIST_BINS * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) continue;
        double t = (a[i] - lo) / (hi - lo) * HIST_BINS; /* NaN if hi - lo overflowed */
        int b = !(t >= 0) ? 0 : t >= HIST_BINS ? HIST_BINS - 1 : (int)t;
        h[b] += 1;
        m++;
    }
    for (int b = 0; b < HIST_BINS && m; b++) h[b] /= (double)m;
}

static void hist_path(nli_rw *w, const double *h, double ymax, const char *cls, const char *color) {
    nli_rw_printf(w, "<path class=\"%s\" fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\" stroke-width=\"1.5\" d=\"M%.1f,%.1f",
                 cls, color, color, sx(0), sy(0));
    for (int b = 0; b < HIST_BINS; b++) {
        double y = sy(h[b] / ymax);
        nli_rw_printf(w, " L%.1f,%.1f L%.1f,%.1f", sx((double)b / HIST_BINS), y, sx((double)(b + 1) / HIST_BINS), y);
    }
    nli_rw_printf(w, " L%.1f,%.1f Z\"/>\n", sx(1), sy(0));
}

static void hist_panel(nli_rw *w, const nli_report *r, const nli_report_set *s) {
    double lo = INFINITY, hi = -INFINITY;
    nl_method m0 = r->methods[0];
    const double *ids = s->id_scores[m0], *oods = s->scores[m0];
    if (!ids || !oods) return;
    for (int k = 0; k < 2; k++) {
        const double *a = k ? oods : ids;
        size_t n = k ? s->n : r->id->n;
        for (size_t i = 0; i < n; i++)
            if (isfinite(a[i])) { lo = a[i] < lo ? a[i] : lo; hi = a[i] > hi ? a[i] : hi; }
    }
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
    double hid[HIST_BINS], hood[HIST_BINS], ymax = 0;
    histogram(ids, r->id->n, lo, hi, hid);
    histogram(oods, s->n, lo, hi, hood);
    for (int b = 0; b < HIST_BINS; b++) {
        if (hid[b] > ymax) ymax = hid[b];
        if (hood[b] > ymax) ymax = hood[b];
    }
    if (ymax <= 0) ymax = 1;
    char what[64], xt[64];
    snprintf(what, sizeof what, "%s score histogram", TITLE[m0]);
    snprintf(xt, sizeof xt, "%s score", TITLE[m0]);
    svg_open(w, "hist", what, s);
    axes(w, lo, hi, ymax, xt, "fraction of images");
    hist_path(w, hid, ymax, "id", "#0a7d32");
    hist_path(w, hood, ymax, "ood", "#b42318");
    legend(w, 0, "#0a7d32", "", "ID");
    legend(w, 1, "#b42318", "", "OOD");
    snprintf(what, sizeof what, "%s scores", TITLE[m0]);
    svg_close(w, what, r, s);
}

/* ------------------------------------------------------------ examples */

static void base64(nli_rw *w, const unsigned char *d, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (w->err) return;
    if (nli_grow((void **)&w->b.s, &w->b.cap, w->b.len + (n + 2) / 3 * 4 + 1, 1) != 0) { w->err = 1; return; }
    char *o = w->b.s + w->b.len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        *o++ = A[v >> 18]; *o++ = A[(v >> 12) & 63]; *o++ = A[(v >> 6) & 63]; *o++ = A[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        *o++ = A[v >> 18];
        *o++ = A[(v >> 12) & 63];
        *o++ = i + 1 < n ? A[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    w->b.len = (size_t)(o - w->b.s);
}

/* Only these types go into a data: URI (the type is written into the page). */
static const char *safe_mime(const char *m) {
    if (!m) return "image/jpeg";
    static const char *const ok[] = {"image/jpeg", "image/png", "image/webp"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(m, ok[i])) return ok[i];
    return NULL;
}

/* The paper's Figure 4: horizontal bars of the softmax-normalised affinity
 * to the image's top ID labels (green) and top negative labels (red), on
 * one scale (the largest bar full width). */
static void affinity_chart(nli_rw *w, const nli_report_example *e) {
    if (!e->n_aff || !e->aff_id || !e->aff_neg || !e->aff_id_label || !e->aff_neg_label) return;
    enum { ROW = 15, LABW = 110, BARW = 90 };
    size_t n = e->n_aff;
    double top = 0;
    for (size_t k = 0; k < n; k++) {
        if (e->aff_id[k] > top) top = e->aff_id[k];
        if (e->aff_neg[k] > top) top = e->aff_neg[k];
    }
    if (!(top > 0)) top = 1;
    int h = (int)(2 * n + 1) * ROW;
    nli_rw_printf(w, "<svg class=\"aff\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                    "height=\"%d\" role=\"img\" aria-label=\"softmax affinities to the top ID and negative labels\">\n",
                 LABW + BARW + 40, h, LABW + BARW + 40, h);
    for (int kind = 0; kind < 2; kind++) {
        const double *p = kind ? e->aff_neg : e->aff_id;
        const char *const *lab = kind ? e->aff_neg_label : e->aff_id_label;
        for (size_t k = 0; k < n; k++) {
            double y = (double)(kind * (n + 1) + k) * ROW;
            double bw = p[k] / top * BARW;
            nli_rw_printf(w, "<text class=\"%s\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", kind ? "neg" : "id",
                         LABW - 4, y + 11);
            char cut[64];
            snprintf(cut, sizeof cut, "%s", lab[k] ? lab[k] : "");
            if (strlen(lab[k] ? lab[k] : "") > 18) { /* cut on a UTF-8 boundary */
                size_t c = 18;
                while (c > 0 && ((unsigned char)cut[c] & 0xc0) == 0x80) c--;
                snprintf(cut + c, sizeof cut - c, "\xe2\x80\xa6");
            }
            nli_rw_html(w, cut);
            nli_rw_printf(w, "</text><rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"11\" fill=\"%s\"/>"
                            "<text x=\"%.1f\" y=\"%.1f\">%.3f</text>\n",
                         LABW, y + 2, bw, kind ? "#b42318" : "#0a7d32", LABW + bw + 3, y + 11, p[k]);
        }
    }
    nli_rw_puts(w, "</svg>");
}

static void examples(nli_rw *w, const nli_report_set *s, int is_id) {
    if (!s->n_examples) return;
    nli_rw_puts(w, "<h3>");
    nli_rw_html(w, set_name(s));
    nli_rw_printf(w, " <span class=\"note\">(%s)</span></h3>\n<div class=\"ex-grid\">\n", is_id ? "ID" : "OOD");
    for (size_t i = 0; i < s->n_examples; i++) {
        const nli_report_example *e = &s->examples[i];
        const char *mime = safe_mime(e->thumb_mime);
        nli_rw_puts(w, e->n_aff ? "<figure class=\"ex fig4\">" : "<figure class=\"ex\">");
        if (e->thumb && e->thumb_len && mime) {
            nli_rw_printf(w, "<img alt=\"example %zu\" src=\"data:%s;base64,", i + 1, mime);
            base64(w, e->thumb, e->thumb_len);
            nli_rw_puts(w, "\">");
        } else {
            nli_rw_puts(w, "<div class=\"noimg\"></div>");
        }
        affinity_chart(w, e);
        nli_rw_printf(w, "<figcaption><div class=\"score\">score %.4f</div>", e->score);
        nli_rw_puts(w, "<div class=\"id\">ID: ");
        nli_rw_html(w, e->top_id ? e->top_id : "");
        nli_rw_puts(w, "</div><div class=\"neg\">neg: ");
        nli_rw_html(w, e->top_neg ? e->top_neg : "");
        nli_rw_puts(w, "</div><div class=\"path\" title=\"");
        nli_rw_html(w, e->path ? e->path : "");
        nli_rw_puts(w, "\">");
        const char *base = e->path ? strrchr(e->path, '/') : NULL;
        nli_rw_html(w, base ? base + 1 : e->path ? e->path : "");
        nli_rw_puts(w, "</div></figcaption></figure>\n");
    }
    nli_rw_puts(w, "</div>\n");
}

/* ------------------------------------------------------------ table */

static void cell(nli_rw *w, double v, int best) {
    if (isfinite(v)) nli_rw_printf(w, "<td%s>%.2f</td>", best ? " class=\"best\"" : "", 100 * v);
    else nli_rw_puts(w, "<td>&ndash;</td>");
}

/* One OOD set (or the average): a row per method, the best value of each
 * column in green and the best method (nli_report_best) named. */
static void table_block(nli_rw *w, const nli_report *r, const char *name, size_t n, int avg, const nl_metrics *mt) {
    nl_method best = nli_report_best(r, mt);
    double bf = INFINITY, ba = -INFINITY, bi = -INFINITY, bo = -INFINITY;
    for (size_t k = 0; k < r->n_methods; k++) {
        const nl_metrics *x = &mt[r->methods[k]];
        if (x->fpr95 < bf) bf = x->fpr95;
        if (x->auroc > ba) ba = x->auroc;
        if (x->aupr_in > bi) bi = x->aupr_in;
        if (x->aupr_out > bo) bo = x->aupr_out;
    }
    int many = r->n_methods > 1;
    for (size_t k = 0; k < r->n_methods; k++) {
        nl_method m = r->methods[k];
        const nl_metrics *x = &mt[m];
        nli_rw_puts(w, avg ? "<tr class=\"avg\">" : "<tr>");
        if (k == 0) {
            nli_rw_printf(w, "<td class=\"name\" rowspan=\"%zu\">", r->n_methods);
            nli_rw_html(w, name);
            if (avg) nli_rw_printf(w, "</td><td rowspan=\"%zu\"></td>", r->n_methods);
            else nli_rw_printf(w, "</td><td rowspan=\"%zu\">%zu</td>", r->n_methods, n);
        }
        nli_rw_printf(w, "<td class=\"method%s\">%s%s</td>", many && m == best ? " best" : "", TITLE[m],
                     many && m == best ? " &#9733;" : "");
        cell(w, x->fpr95, many && x->fpr95 == bf);
        cell(w, x->auroc, many && x->auroc == ba);
        cell(w, x->aupr_in, many && x->aupr_in == bi);
        cell(w, x->aupr_out, many && x->aupr_out == bo);
        nli_rw_puts(w, "</tr>\n");
    }
}

static void table(nli_rw *w, const nli_report *r) {
    nli_rw_puts(w, "<table class=\"metrics\" id=\"metrics\">\n<thead><tr><th class=\"name\">OOD set</th>"
                  "<th>images</th><th class=\"name\">method</th><th>FPR95 &darr;</th><th>AUROC &uarr;</th>"
                  "<th>AUPR-In &uarr;</th><th>AUPR-Out &uarr;</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->n_ood; i++) table_block(w, r, set_name(&r->ood[i]), r->ood[i].n, 0, r->ood[i].metrics);
    nl_metrics avg[NL_METHOD_COUNT];
    nli_report_average(r, avg);
    table_block(w, r, "Average", 0, 1, avg);
    nli_rw_printf(w, "</tbody></table>\n<p class=\"note\">Metrics in %%; for each set the best value of each column "
                    "in green, the best method (lowest FPR95, then highest AUROC) starred. AdaNeg and OODD score "
                    "each OOD set as one stream with the ID images (seeded order, see scores.csv). "
                    "FPR95 convention: <b>%s</b> &mdash; %s.</p>\n",
                 nl_fpr_convention_name(r->convention), nl_fpr_convention_text(r->convention));
}

/* ------------------------------------------------------------ page */

static void header(nli_rw *w, const nli_report *r) {
    nli_rw_puts(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>NegLabel OOD detection report</title>\n<style>\n");
    nli_rw_puts(w, CSS);
    nli_rw_puts(w, "</style>\n</head>\n<body>\n<h1>NegLabel OOD detection report</h1>\n<p class=\"meta\">Model: <b><code>");
    nli_rw_html(w, r->model_dir ? r->model_dir : "");
    nli_rw_puts(w, "</code></b><br>ID set: <b>");
    nli_rw_html(w, set_name(r->id));
    nli_rw_printf(w, "</b> (%zu image%s) &middot; %zu OOD set%s<br>%zu ID label%s &middot; %zu negative label%s",
                 r->id->n, r->id->n == 1 ? "" : "s", r->n_ood, r->n_ood == 1 ? "" : "s", r->n_id_labels,
                 r->n_id_labels == 1 ? "" : "s", r->n_negatives, r->n_negatives == 1 ? "" : "s");
    if (r->negatives_file) {
        nli_rw_puts(w, " (<code>");
        nli_rw_html(w, r->negatives_file);
        nli_rw_puts(w, "</code>)");
    }
    if (r->n_negatives_csp) nli_rw_printf(w, " (CSP: %zu)", r->n_negatives_csp);
    nli_rw_puts(w, "<br>");
    for (size_t k = 0; k < r->n_methods; k++) {
        nl_method m = r->methods[k];
        const nl_score_params *p = &r->score[m];
        nli_rw_printf(w, "%s<b>%s</b> &tau; = %g", k ? " &middot; " : "", TITLE[m], p->tau);
        if (m != NL_METHOD_MCM)
            nli_rw_printf(w, ", %d groups, %s (%s), seed %llu", p->ngroup, p->shuffle ? "shuffled" : "not shuffled",
                         nl_permutation_name(p->permutation), (unsigned long long)p->seed);
    }
    nli_rw_puts(w, "<br>");
    nli_rw_printf(w, "%zu images skipped &middot; run time %.1f s &middot; neglabel %s</p>\n", r->n_skipped, r->seconds,
                 NEGLABEL_VERSION);
}

static void footer(nli_rw *w, const nli_report *r) {
    if (r->n_skipped) {
        nli_rw_printf(w, "<details><summary>%zu images could not be read and were skipped</summary><ul>\n", r->n_skipped);
        for (size_t i = 0; i < r->n_skipped && i < MAX_SKIPPED_LISTED; i++) {
            nli_rw_puts(w, "<li><code>");
            nli_rw_html(w, r->skipped[i] ? r->skipped[i] : "");
            nli_rw_puts(w, "</code></li>\n");
        }
        if (r->n_skipped > MAX_SKIPPED_LISTED)
            nli_rw_printf(w, "<li>&hellip; and %zu more (see results.json)</li>\n", r->n_skipped - MAX_SKIPPED_LISTED);
        nli_rw_puts(w, "</ul></details>\n");
    }
    if (r->model_info_json) {
        nli_rw_puts(w, "<details><summary>Model configuration</summary><pre>");
        nli_rw_html(w, r->model_info_json);
        nli_rw_puts(w, "</pre></details>\n");
    }
    nli_rw_puts(w, "</body>\n</html>\n");
}

int nli_report_html(nli_atomic *a, const nli_report *r) {
    nli_rw w = {0};
    header(&w, r);
    nli_rw_puts(&w, "<h2>Results</h2>\n");
    table(&w, r);
    if (r->n_ood) {
        nli_rw_puts(&w, "<h2>ROC curves</h2>\n<p class=\"note\">ID as the positive class; one curve per method, its AUROC in the legend."
                       "</p>\n<div class=\"panels\">\n");
        for (size_t i = 0; i < r->n_ood; i++) roc_panel(&w, r, &r->ood[i]);
        nli_rw_printf(&w, "</div>\n<h2>%s score histograms</h2>\n<div class=\"panels\">\n", TITLE[r->methods[0]]);
        for (size_t i = 0; i < r->n_ood; i++) hist_panel(&w, r, &r->ood[i]);
        nli_rw_puts(&w, "</div>\n");
    }
    int any = r->id->n_examples > 0;
    for (size_t i = 0; i < r->n_ood; i++) any |= r->ood[i].n_examples > 0;
    if (any) {
        nli_rw_printf(&w, "<h2>Examples</h2>\n<p class=\"note\">Spread over the %s ranking: the image, its "
                         "softmax-normalised affinities to its most similar ID labels (green) and negative labels "
                         "(red), as in the NegLabel paper's Figure 4, its %s score, and its most similar ID and "
                         "negative label.</p>\n", TITLE[r->methods[0]], TITLE[r->methods[0]]);
        examples(&w, r->id, 1);
        for (size_t i = 0; i < r->n_ood; i++) examples(&w, &r->ood[i], 0);
    }
    footer(&w, r);
    int rc = -1;
    if (w.err) nli_prefixerr("%s", a->path);
    else {
        rc = 0;
        if (w.b.len) fwrite(w.b.s, 1, w.b.len, a->f); /* a write error shows in nli_atomic_finish */
    }
    nli_buf_free(&w.b);
    return rc;
}
