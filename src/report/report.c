/* report.c — results.json, scores.csv, the terminal table, and the helpers
 * report_html.c shares. See report.h. */
#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

void nli_rw_puts(nli_rw *w, const char *s) {
    if (!w->err && nli_buf_puts(&w->b, s) != 0) w->err = 1;
}

void nli_rw_printf(nli_rw *w, const char *fmt, ...) {
    if (w->err) return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { w->err = 1; nli_seterr("format error"); return; }
    if ((size_t)n < sizeof small) { nli_rw_puts(w, small); return; }
    char *big = nli_malloc((size_t)n + 1);
    if (!big) { w->err = 1; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    nli_rw_puts(w, big);
    free(big);
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid (overlong
 * forms, surrogates and code points over U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *p) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

char *nli_utf8_clean(const char *s) {
    nli_rw w = {0};
    if (!s) s = "";
    nli_rw_puts(&w, ""); /* an allocated empty string for s = "" */
    for (const unsigned char *p = (const unsigned char *)s; *p && !w.err;) {
        size_t n = utf8_seq(p);
        if (n) {
            if (nli_buf_append(&w.b, (const char *)p, n) != 0) w.err = 1;
            p += n;
        } else {
            nli_rw_puts(&w, "\xef\xbf\xbd");
            p++;
        }
    }
    if (w.err) { nli_buf_free(&w.b); return NULL; }
    return w.b.s;
}

void nli_rw_html(nli_rw *w, const char *s) {
    if (!s) return;
    for (const unsigned char *p = (const unsigned char *)s; *p && !w->err;) {
        size_t n = utf8_seq(p);
        const char *rep = NULL;
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if (!n) rep = "\xef\xbf\xbd";
            else if (*p < 0x20 || *p == 0x7f) rep = " "; /* control characters are parse errors */
        }
        if (rep) {
            nli_rw_puts(w, rep);
            p += n ? n : 1;
        } else {
            if (nli_buf_append(&w->b, (const char *)p, n) != 0) w->err = 1;
            p += n;
        }
    }
}

int nli_method_is_stream(nl_method m) { return m == NL_METHOD_ADANEG || m == NL_METHOD_OODD; }

void nli_report_average(const nli_report *r, nl_metrics avg[NL_METHOD_COUNT]) {
    double n = r->n_ood ? (double)r->n_ood : NAN; /* no OOD sets: no average */
    for (int m = 0; m < NL_METHOD_COUNT; m++) {
        nl_metrics a = {0, 0, 0, 0};
        for (size_t i = 0; i < r->n_ood; i++) {
            const nl_metrics *x = &r->ood[i].metrics[m];
            a.auroc += x->auroc; a.aupr_in += x->aupr_in; a.aupr_out += x->aupr_out; a.fpr95 += x->fpr95;
        }
        a.auroc /= n; a.aupr_in /= n; a.aupr_out /= n; a.fpr95 /= n;
        avg[m] = a;
    }
}

nl_method nli_report_best(const nli_report *r, const nl_metrics *m) {
    nl_method best = r->n_methods ? r->methods[0] : NL_METHOD_NEGLABEL;
    for (size_t k = 1; k < r->n_methods; k++) {
        const nl_metrics *x = &m[r->methods[k]], *b = &m[best];
        int better = isfinite(x->fpr95) && (!isfinite(b->fpr95) || x->fpr95 < b->fpr95 ||
                                            (x->fpr95 == b->fpr95 && x->auroc > b->auroc));
        if (better) best = r->methods[k];
    }
    return best;
}

const char *nl_fpr_convention_text(nl_fpr_convention c) {
    if (c == NL_FPR95_OPENOOD)
        return "OpenOOD: OOD as positive class, FPR at the first threshold with TPR >= 95%; AUPR as the "
               "trapezoid over the PR curve";
    if (c != NL_FPR95_NEGLABEL) return "unknown convention";
    return "NegLabel/MCM code: FPR of OOD at the threshold where ID recall is closest to 95%";
}

/* Reject structurally impossible input before writing anything. */
static int check_set(const nli_report *r, const nli_report_set *s, const char *what) {
    if (!s) { nli_seterr("report: %s set missing", what); return -1; }
    for (size_t k = 0; k < r->n_methods; k++) {
        nl_method m = r->methods[k];
        int need = s != r->id || !nli_method_is_stream(m);
        if (s->n && need && !s->scores[m]) {
            nli_seterr("report: set '%s' has no %s scores", s->name ? s->name : what, nl_method_name(m));
            return -1;
        }
        if (s != r->id && need && r->id->n && !s->id_scores[m]) {
            nli_seterr("report: set '%s' has no %s ID scores", s->name ? s->name : what, nl_method_name(m));
            return -1;
        }
        if (s != r->id && nli_method_is_stream(m)) {
            if (!s->order) { nli_seterr("report: set '%s' has no stream order", s->name ? s->name : what); return -1; }
            for (size_t i = 0; i < r->id->n + s->n; i++)
                if (s->order[i] >= r->id->n + s->n) {
                    nli_seterr("report: set '%s': stream position %zu out of range", s->name ? s->name : what, i);
                    return -1;
                }
        }
    }
    if (s->n_examples && !s->examples) { nli_seterr("report: set '%s' has no example array", s->name ? s->name : what); return -1; }
    for (size_t i = 0; i < s->n_examples; i++)
        if (s->examples[i].thumb_len && !s->examples[i].thumb) {
            nli_seterr("report: set '%s': example %zu has a length but no thumbnail", s->name ? s->name : what, i);
            return -1;
        }
    return 0;
}

static int check_report(const nli_report *r) {
    if (!r) { nli_seterr("report: nothing to write"); return -1; }
    if (!r->n_methods || r->n_methods > NL_METHOD_COUNT || !r->methods || !r->score) {
        nli_seterr("report: no methods");
        return -1;
    }
    for (size_t k = 0; k < r->n_methods; k++)
        if ((unsigned)r->methods[k] >= NL_METHOD_COUNT) { nli_seterr("report: unknown method %d", (int)r->methods[k]); return -1; }
    if (check_set(r, r->id, "ID") != 0) return -1;
    if (r->n_ood && !r->ood) { nli_seterr("report: %zu OOD sets but no array", r->n_ood); return -1; }
    for (size_t i = 0; i < r->n_ood; i++)
        if (check_set(r, &r->ood[i], "OOD") != 0) return -1;
    if (r->n_skipped && !r->skipped) { nli_seterr("report: skipped count without paths"); return -1; }
    return 0;
}

static const char *str_or_empty(const char *const *a, size_t i) { return a && a[i] ? a[i] : ""; }

/* ------------------------------------------------------------ results.json */

static void json_str(nli_rw *w, const char *s) {
    char *c = nli_utf8_clean(s ? s : "");
    if (!c || nli_buf_json_string(&w->b, c) != 0) w->err = 1;
    free(c);
}

static void json_str_or_null(nli_rw *w, const char *s) {
    if (s) json_str(w, s);
    else nli_rw_puts(w, "null");
}

static void json_num(nli_rw *w, double v) {
    if (isfinite(v)) nli_rw_printf(w, "%.17g", v);
    else nli_rw_puts(w, "null"); /* JSON has no NaN */
}

static void json_metrics(nli_rw *w, const char *name, const nl_metrics *m) {
    nli_rw_printf(w, "\"%s\": {\"fpr95\": ", name);
    json_num(w, m->fpr95);
    nli_rw_puts(w, ", \"auroc\": ");
    json_num(w, m->auroc);
    nli_rw_puts(w, ", \"aupr_in\": ");
    json_num(w, m->aupr_in);
    nli_rw_puts(w, ", \"aupr_out\": ");
    json_num(w, m->aupr_out);
    nli_rw_puts(w, "}");
}

/* The model info goes in as JSON when it is a JSON object, else as a string. */
static void json_model_info(nli_rw *w, const char *info) {
    if (!info) { nli_rw_puts(w, "null"); return; }
    json_error_t je;
    json_t *j = json_loads(info, JSON_REJECT_DUPLICATES, &je);
    if (j && json_is_object(j)) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
        if (s) nli_rw_puts(w, s);
        else w->err = 1;
        free(s);
    } else {
        json_str(w, info);
    }
    json_decref(j);
}

static void json_method_params(nli_rw *w, nl_method m, const nl_score_params *p) {
    nli_rw_printf(w, "{\"name\": \"%s\", \"tau\": ", nl_method_name(m));
    json_num(w, p->tau);
    if (m != NL_METHOD_MCM)
        nli_rw_printf(w, ", \"ngroup\": %d, \"seed\": %llu, \"shuffle\": %s, \"permutation\": \"%s\"", p->ngroup,
                     (unsigned long long)p->seed, p->shuffle ? "true" : "false", nl_permutation_name(p->permutation));
    if (m == NL_METHOD_ADANEG) {
        nli_rw_printf(w, ", \"batch\": %d, \"memory\": %d, \"thres\": ", p->adaneg_batch, p->adaneg_memory);
        json_num(w, p->adaneg_thres);
        nli_rw_puts(w, ", \"gap\": ");
        json_num(w, p->adaneg_gap);
        nli_rw_puts(w, ", \"lambda\": ");
        json_num(w, p->adaneg_lambda);
        nli_rw_printf(w, ", \"sample_adaptive\": %s, \"beta\": ", p->adaneg_sample_adaptive ? "true" : "false");
        json_num(w, p->adaneg_beta);
    }
    if (m == NL_METHOD_OODD)
        nli_rw_printf(w, ", \"batch\": %d, \"queue\": %d, \"k\": %d", p->oodd_batch, p->oodd_queue, p->oodd_k);
    nli_rw_puts(w, "}");
}

/* "neglabel": {...}, "mcm": {...}, "best": "..." for the methods run. */
static void json_method_metrics(nli_rw *w, const nli_report *r, const nl_metrics *m) {
    for (size_t k = 0; k < r->n_methods; k++) {
        json_metrics(w, nl_method_name(r->methods[k]), &m[r->methods[k]]);
        nli_rw_puts(w, ", ");
    }
    nli_rw_printf(w, "\"best\": \"%s\"", nl_method_name(nli_report_best(r, m)));
}

static int write_json(nli_atomic *a, const nli_report *r) {
    nli_rw w = {0};
    nli_rw_printf(&w, "{\n  \"neglabel_version\": \"%s\",\n  \"model\": {\"dir\": ", NEGLABEL_VERSION);
    json_str(&w, r->model_dir);
    nli_rw_puts(&w, ", \"info\": ");
    json_model_info(&w, r->model_info_json);
    nli_rw_printf(&w, "},\n  \"params\": {\"n_id_labels\": %zu, \"n_negatives\": %zu, \"n_negatives_csp\": %zu, "
                     "\"stream_seed\": %llu, \"fpr95_convention\": \"%s\", ",
                 r->n_id_labels, r->n_negatives, r->n_negatives_csp, r->stream_seed,
                 nl_fpr_convention_name(r->convention));
    nli_rw_puts(&w, "\"negatives_file\": ");
    json_str_or_null(&w, r->negatives_file);
    nli_rw_puts(&w, ", \"negatives_csp_file\": ");
    json_str_or_null(&w, r->negatives_csp_file);
    nli_rw_puts(&w, ", \"methods\": [");
    for (size_t k = 0; k < r->n_methods; k++) {
        nli_rw_puts(&w, k ? ",\n    " : "\n    ");
        json_method_params(&w, r->methods[k], &r->score[r->methods[k]]);
    }
    nli_rw_puts(&w, "]},\n  \"metrics_unit\": \"fraction\",\n  \"id\": {\"name\": ");
    json_str(&w, r->id->name);
    nli_rw_printf(&w, ", \"n\": %zu},\n  \"ood\": [", r->id->n);
    for (size_t i = 0; i < r->n_ood; i++) {
        const nli_report_set *s = &r->ood[i];
        nli_rw_puts(&w, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        json_str(&w, s->name);
        nli_rw_printf(&w, ", \"n\": %zu, ", s->n);
        json_method_metrics(&w, r, s->metrics);
        nli_rw_puts(&w, "}");
    }
    nli_rw_puts(&w, r->n_ood ? "\n  ],\n  \"average\": {" : "],\n  \"average\": {");
    nl_metrics avg[NL_METHOD_COUNT];
    nli_report_average(r, avg);
    json_method_metrics(&w, r, avg);
    nli_rw_printf(&w, "},\n  \"skipped\": {\"count\": %zu, \"paths\": [", r->n_skipped);
    for (size_t i = 0; i < r->n_skipped; i++) {
        nli_rw_puts(&w, i ? ", " : "");
        json_str(&w, r->skipped[i] ? r->skipped[i] : "");
    }
    nli_rw_puts(&w, "]},\n  \"seconds\": ");
    json_num(&w, r->seconds);
    nli_rw_puts(&w, "\n}\n");
    int rc = w.err ? -1 : 0;
    if (w.err) nli_prefixerr("%s", a->path);
    else if (w.b.len) fwrite(w.b.s, 1, w.b.len, a->f); /* a write error shows in nli_atomic_finish */
    nli_buf_free(&w.b);
    return rc;
}

/* ------------------------------------------------------------ scores.csv */

/* RFC 4180: quote a field holding a comma, quote, CR or LF; double quotes.
 * Bytes are kept as they are so a path can be matched exactly. */
void nl_csv_field(FILE *f, const char *s) {
    if (!f) return;
    if (!s) s = "";
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, const double *a, size_t i) {
    if (a && isfinite(a[i])) fprintf(f, "%.17g", a[i]);
}

/* One row: set, path, each method's score (NULL arrays: empty), the top
 * labels, and the stream and position (empty outside a stream). */
static void csv_row(FILE *f, const nli_report *r, const nli_report_set *s, size_t i, const double *const *sc,
                    size_t j, const char *stream, size_t pos) {
    nl_csv_field(f, s->name ? s->name : "");
    fputc(',', f);
    nl_csv_field(f, str_or_empty(s->paths, i));
    for (size_t k = 0; k < r->n_methods; k++) {
        fputc(',', f);
        csv_num(f, sc[r->methods[k]], j);
    }
    fputc(',', f);
    nl_csv_field(f, str_or_empty(s->top_id, i));
    fputc(',', f);
    nl_csv_field(f, str_or_empty(s->top_neg, i));
    fputc(',', f);
    if (stream) {
        nl_csv_field(f, stream);
        fprintf(f, ",%zu\n", pos);
    } else {
        fputs(",\n", f);
    }
}

static int write_csv(nli_atomic *a, const nli_report *r) {
    fputs("set,path", a->f);
    int streams = 0;
    for (size_t k = 0; k < r->n_methods; k++) {
        fprintf(a->f, ",%s", nl_method_name(r->methods[k]));
        streams |= nli_method_is_stream(r->methods[k]);
    }
    fputs(",top_id_label,top_negative_label,stream,position\n", a->f);
    /* the order-free methods: each image once */
    const nli_report_set *sets[1] = {r->id};
    for (size_t si = 0; si <= r->n_ood; si++) {
        const nli_report_set *s = si ? &r->ood[si - 1] : sets[0];
        const double *sc[NL_METHOD_COUNT] = {0};
        for (size_t k = 0; k < r->n_methods; k++)
            if (!nli_method_is_stream(r->methods[k])) sc[r->methods[k]] = s->scores[r->methods[k]];
        for (size_t i = 0; i < s->n; i++) csv_row(a->f, r, s, i, sc, i, NULL, 0);
    }
    /* the stream methods: each OOD set's stream, in order */
    for (size_t si = 0; streams && si < r->n_ood; si++) {
        const nli_report_set *s = &r->ood[si];
        size_t nid = r->id->n;
        for (size_t pos = 0; pos < nid + s->n; pos++) {
            size_t q = s->order[pos], is_id = q < nid, i = is_id ? q : q - nid;
            const double *sc[NL_METHOD_COUNT] = {0};
            for (size_t k = 0; k < r->n_methods; k++)
                if (nli_method_is_stream(r->methods[k]))
                    sc[r->methods[k]] = is_id ? s->id_scores[r->methods[k]] : s->scores[r->methods[k]];
            csv_row(a->f, r, is_id ? r->id : s, i, sc, i, s->name ? s->name : "", pos);
        }
    }
    return 0; /* write errors: nli_atomic_finish checks ferror and fsyncs */
}

/* ------------------------------------------------------------ entry points */

static int report_write_with(const char *out_dir, const nli_report *r, nli_atomic *also, size_t n_also) {
    enum { MAXF = 8 };
    nli_atomic f[MAXF];
    size_t n = 0;
    memset(f, 0, sizeof f);
    int rc = -1;
    if (n_also > MAXF - 3) { nli_seterr("report: too many files"); goto fail; }
    if (!out_dir || !*out_dir) { nli_seterr("report: no output folder"); goto fail; }
    if (check_report(r) != 0) goto fail;
    if (nli_mkdir_p(out_dir) != 0) goto fail;
    /* Every file is written, synced and closed under a temporary name
     * before any is renamed into place: a write error (a full disk) leaves
     * the earlier results in out_dir as they were; so does a failing
     * rename (nli_atomic_publish_set puts back what it replaced). */
    for (size_t k = 0; k < n_also; k++) {
        f[n] = also[k];
        memset(&also[k], 0, sizeof also[k]);
        if (nli_atomic_finish(&f[n++]) != 0) goto fail;
    }
    static const char *const own[3] = {"results.json", "scores.csv", "report.html"};
    for (int k = 0; k < 3; k++) {
        char *p = nli_path_join(out_dir, own[k]);
        int ok = p && nli_atomic_open(&f[n], p) == 0;
        free(p);
        if (!ok) goto fail;
        n++;
        int w = k == 0 ? write_json(&f[n - 1], r) : k == 1 ? write_csv(&f[n - 1], r) : nli_report_html(&f[n - 1], r);
        if (w != 0 || nli_atomic_finish(&f[n - 1]) != 0) goto fail;
    }
    return nli_atomic_publish_set(f, n); /* all or none */
fail:
    for (size_t k = 0; k < n; k++) nli_atomic_abort(&f[k]);
    for (size_t k = 0; k < n_also; k++) nli_atomic_abort(&also[k]);
    return rc;
}

int nli_report_write_with(const char *out_dir, const nli_report *r, nli_atomic *also, size_t n_also) {
    void *loc = nli_numeric_c_begin(); /* "0.5", never "0,5", in all three files */
    int rc = report_write_with(out_dir, r, also, n_also);
    nli_numeric_c_end(loc);
    return rc;
}

int nli_report_write(const char *out_dir, const nli_report *r) { return nli_report_write_with(out_dir, r, NULL, 0); }
