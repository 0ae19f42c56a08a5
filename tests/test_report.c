/* test_report.c — a synthetic report (random scores, hostile labels and
 * paths, JPEG thumbnails) written to a temp folder, or to
 * $NEGLABEL_REPORT_OUT for tests/cli_report_browser.sh; then results.json,
 * scores.csv, report.html and the terminal table are checked. Needs no
 * shared data. */
#include <dirent.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "report.h"
#include "cli.h"
#include "util.h"

#define N_ID 2000
#define N_O1 1500
#define N_O2 1000
#define N_EX 4

static const char *HOSTILE_SET = "Places<script>alert(1)</script> \x1b[2J";
static const char *HOSTILE_LABEL = "<script>alert(\"x\")</script>";
static const char *ATTR_BREAK = "\" onerror=\"alert(1)";
static const char *COMMA_PATH = "/data/id/a,b \"quoted\".jpg";
static const char *NL_PATH = "/data/id/line\nbreak's.jpg";
static const char *BAD_UTF8 = "/data/ood/bad\xff\xfe.jpg";

static uint64_t rng = 88172645463325252ULL;
static double urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

typedef struct {
    char **paths, **top_id, **top_neg;
    double *neg, *mcm, *oodd, *oodd_id; /* oodd_id: the ID images' OODD scores in this set's stream */
    size_t *order;                      /* this set's stream: ID images then the set's, reversed */
    unsigned char *thumb[N_EX];
    size_t thumb_len[N_EX];
    nli_report_example ex[N_EX];
} set_data;

static const char *LABELS[] = {"tench", "café au lait", "goldfish", "great white shark"};
/* Figure 4 bars of every example */
static const char *const AFF_ID[3] = {"tench", "<i>goldfish</i>", "a very long label that the chart cuts short"};
static const char *const AFF_NEG[3] = {"jellyfish", "fern", "moss"};
static const double AFF_P[6] = {0.5, 0.2, 0.1, 0.12, 0.05, 0.03};
static const char *NEGS[] = {"the nice jellyfish", "the nice \"fern\" & co", "This is a <b>moss</b> photo",
                             "the nice ß-glucan"};

static void make_set(set_data *d, nli_report_set *s, const char *name, size_t n, double shift, const char *dir) {
    d->paths = calloc(n, sizeof(char *));
    d->top_id = calloc(n, sizeof(char *));
    d->top_neg = calloc(n, sizeof(char *));
    d->neg = calloc(n, sizeof(double));
    d->mcm = calloc(n, sizeof(double));
    d->oodd = calloc(n, sizeof(double));
    d->oodd_id = calloc(N_ID, sizeof(double));
    d->order = calloc(N_ID + n, sizeof(size_t));
    for (size_t i = 0; i < N_ID; i++) d->oodd_id[i] = 0.5 + 0.25 * urand();
    for (size_t i = 0; i < N_ID + n; i++) d->order[i] = N_ID + n - 1 - i;
    for (size_t i = 0; i < n; i++) {
        char p[128];
        snprintf(p, sizeof p, "/data/%s/img_%05zu.jpg", dir, i);
        d->paths[i] = strdup(p);
        d->top_id[i] = strdup(LABELS[i % 4]);
        d->top_neg[i] = strdup(NEGS[i % 4]);
        d->neg[i] = 1.0 / (1.0 + exp(-(4.0 * (urand() - 0.5) + shift)));
        d->mcm[i] = 0.001 + 0.002 * urand() + 0.0005 * shift;
        d->oodd[i] = d->neg[i] - 0.125;
    }
    if (n > 10) {
        free(d->paths[3]); d->paths[3] = strdup(COMMA_PATH);
        free(d->paths[5]); d->paths[5] = strdup(NL_PATH);
        free(d->top_id[7]); d->top_id[7] = strdup(HOSTILE_LABEL);
        free(d->top_neg[7]); d->top_neg[7] = strdup(ATTR_BREAK);
        d->neg[9] = NAN; /* a score that could not be computed: empty in the CSV */
    }
    /* Thumbnails: a gradient per example, tinted by the set's shift. */
    enum { TW = 96, TH = 72 };
    uint8_t *rgb = malloc(TW * TH * 3);
    for (int k = 0; k < N_EX; k++) {
        for (int y = 0; y < TH; y++)
            for (int x = 0; x < TW; x++) {
                uint8_t *px = rgb + (y * TW + x) * 3;
                px[0] = (uint8_t)(x * 255 / (TW - 1));
                px[1] = (uint8_t)(y * 255 / (TH - 1));
                px[2] = (uint8_t)(shift > 0 ? 200 : 40 + 50 * k);
            }
        CHECK(nli_jpeg_encode(rgb, TW, TH, 85, &d->thumb[k], &d->thumb_len[k]) == 0, "jpeg: %s", nli_geterr());
        CHECK(d->thumb_len[k] > 100 && d->thumb[k][0] == 0xff && d->thumb[k][1] == 0xd8 &&
                  d->thumb[k][d->thumb_len[k] - 2] == 0xff && d->thumb[k][d->thumb_len[k] - 1] == 0xd9,
              "thumbnail %d is a JPEG (%zu bytes)", k, d->thumb_len[k]);
        d->ex[k] = (nli_report_example){d->paths[k + 4], d->neg[k], d->top_id[k + 4], d->top_neg[k + 4],
                                       d->thumb[k], d->thumb_len[k], NULL, 3, AFF_ID, AFF_NEG, AFF_P, AFF_P + 3};
    }
    d->ex[0].top_neg = NEGS[3];
    d->ex[3].top_id = HOSTILE_LABEL;
    d->ex[3].top_neg = ATTR_BREAK;
    free(rgb);
    memset(s, 0, sizeof *s);
    s->name = name;
    s->n = n;
    s->paths = (const char *const *)d->paths;
    s->scores[NL_METHOD_NEGLABEL] = d->neg;
    s->scores[NL_METHOD_MCM] = d->mcm;
    s->top_id = (const char *const *)d->top_id;
    s->top_neg = (const char *const *)d->top_neg;
    s->examples = d->ex;
    s->n_examples = N_EX;
}

static void free_set(set_data *d, size_t n) {
    for (size_t i = 0; i < n; i++) { free(d->paths[i]); free(d->top_id[i]); free(d->top_neg[i]); }
    free(d->paths); free(d->top_id); free(d->top_neg); free(d->neg); free(d->mcm);
    free(d->oodd); free(d->oodd_id); free(d->order);
    for (int k = 0; k < N_EX; k++) free(d->thumb[k]);
}

static size_t count_of(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static double jnum(json_t *o, const char *path1, const char *path2) {
    json_t *a = json_object_get(o, path1);
    json_t *b = a ? json_object_get(a, path2) : NULL;
    return b && json_is_number(b) ? json_number_value(b) : NAN;
}

static void check_metrics(json_t *m, const nl_metrics *want, const char *what) {
    CHECK(json_is_object(m), "%s present", what);
    double tol = 1e-15;
    CHECK(fabs(json_number_value(json_object_get(m, "fpr95")) - want->fpr95) <= tol &&
              fabs(json_number_value(json_object_get(m, "auroc")) - want->auroc) <= tol &&
              fabs(json_number_value(json_object_get(m, "aupr_in")) - want->aupr_in) <= tol &&
              fabs(json_number_value(json_object_get(m, "aupr_out")) - want->aupr_out) <= tol,
          "%s metrics match", what);
}

static void check_json(const char *dir, const nli_report *r) {
    char *p = check_path(dir, "results.json");
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    CHECK(j != NULL, "results.json parses: %s line %d", e.text, e.line);
    free(p);
    if (!j) return;
    json_t *params = json_object_get(j, "params");
    json_t *ms = json_object_get(params, "methods");
    json_t *m0 = json_array_get(ms, 0), *m1 = json_array_get(ms, 1), *m2 = json_array_get(ms, 2);
    CHECK(json_integer_value(json_object_get(params, "n_id_labels")) == 1000 &&
              json_integer_value(json_object_get(params, "n_negatives")) == 10000 &&
              json_integer_value(json_object_get(params, "stream_seed")) == 110 && json_array_size(ms) == 3,
          "params");
    CHECK(!strcmp(json_string_value(json_object_get(m0, "name")), "neglabel") &&
              json_integer_value(json_object_get(m0, "ngroup")) == 100 &&
              json_integer_value(json_object_get(m0, "seed")) == 42 && json_is_true(json_object_get(m0, "shuffle")) &&
              !strcmp(json_string_value(json_object_get(m0, "permutation")), "torch") &&
              json_number_value(json_object_get(m0, "tau")) == 0.01,
          "neglabel's params");
    CHECK(!strcmp(json_string_value(json_object_get(m1, "name")), "mcm") && json_number_value(json_object_get(m1, "tau")) == 1.0 &&
              !json_object_get(m1, "ngroup"),
          "mcm's params");
    CHECK(!strcmp(json_string_value(json_object_get(m2, "name")), "oodd") &&
              json_integer_value(json_object_get(m2, "queue")) == 2048 && json_integer_value(json_object_get(m2, "k")) == 5 &&
              json_integer_value(json_object_get(m2, "batch")) == 64,
          "oodd's params");
    CHECK(!strcmp(json_string_value(json_object_get(params, "fpr95_convention")), "neglabel"), "convention");
    json_t *info = json_object_get(json_object_get(j, "model"), "info");
    CHECK(json_integer_value(json_object_get(info, "projection_dim")) == 512, "model info embedded as JSON");
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "model"), "dir")), r->model_dir), "model dir");
    CHECK(jnum(j, "id", "n") == N_ID, "id n");
    json_t *ood = json_object_get(j, "ood");
    CHECK(json_array_size(ood) == 2, "two OOD sets");
    for (size_t i = 0; i < json_array_size(ood) && i < 2; i++) {
        json_t *s = json_array_get(ood, i);
        CHECK(!strcmp(json_string_value(json_object_get(s, "name")), r->ood[i].name), "set %zu name round-trips", i);
        CHECK(json_integer_value(json_object_get(s, "n")) == (json_int_t)r->ood[i].n, "set %zu n", i);
        check_metrics(json_object_get(s, "neglabel"), &r->ood[i].metrics[NL_METHOD_NEGLABEL], "ood neglabel");
        check_metrics(json_object_get(s, "mcm"), &r->ood[i].metrics[NL_METHOD_MCM], "ood mcm");
        check_metrics(json_object_get(s, "oodd"), &r->ood[i].metrics[NL_METHOD_OODD], "ood oodd");
        CHECK(!json_object_get(s, "csp"), "no metrics of a method not run");
        CHECK(!strcmp(json_string_value(json_object_get(s, "best")), i ? "oodd" : "neglabel"), "set %zu: best method", i);
    }
    /* Averages, worked out by hand from the fixed numbers in main(). */
    nl_metrics an = {(0.9949 + 0.9000) / 2, (0.9988 + 0.9500) / 2, (0.9768 + 0.8200) / 2, (0.0191 + 0.3500) / 2};
    nl_metrics am = {(0.9461 + 0.8000) / 2, (0.9880 + 0.8500) / 2, (0.7730 + 0.7000) / 2, (0.3094 + 0.6000) / 2};
    json_t *avg = json_object_get(j, "average");
    check_metrics(json_object_get(avg, "neglabel"), &an, "average neglabel");
    check_metrics(json_object_get(avg, "mcm"), &am, "average mcm");
    nl_metrics ao = {(0.9900 + 0.9100) / 2, (0.9950 + 0.9600) / 2, (0.9700 + 0.8300) / 2, (0.0500 + 0.3000) / 2};
    check_metrics(json_object_get(avg, "oodd"), &ao, "average oodd");
    CHECK(!strcmp(json_string_value(json_object_get(avg, "best")), "oodd"), "best on average");
    json_t *sk = json_object_get(j, "skipped");
    json_t *skp = json_object_get(sk, "paths");
    CHECK(json_integer_value(json_object_get(sk, "count")) == 2 && json_array_size(skp) == 2, "skipped count");
    CHECK(!strcmp(json_string_value(json_array_get(skp, 0)), NL_PATH), "skipped path with newline round-trips");
    CHECK(!strcmp(json_string_value(json_array_get(skp, 1)), "/data/ood/bad\xef\xbf\xbd\xef\xbf\xbd.jpg"),
          "invalid UTF-8 becomes U+FFFD: %s", json_string_value(json_array_get(skp, 1)));
    json_decref(j);
}

/* Minimal RFC 4180 reader: returns fields of the next record (NULL at end). */
static int csv_record(const char **pp, char fields[10][256], int *nf) {
    const char *p = *pp;
    if (!*p) return 0;
    *nf = 0;
    for (;;) {
        char *f = fields[*nf];
        size_t k = 0;
        if (*p == '"') {
            for (p++;; p++) {
                if (!*p) return -1;
                if (*p == '"') {
                    if (p[1] == '"') p++;
                    else { p++; break; }
                }
                if (k < 255) f[k++] = *p;
            }
        } else {
            while (*p && *p != ',' && *p != '\n') {
                if (*p == '"' || *p == '\r') return -1; /* must have been quoted */
                if (k < 255) f[k++] = *p;
                p++;
            }
        }
        f[k] = 0;
        if (*nf < 9) (*nf)++;
        if (*p == ',') { p++; continue; }
        if (*p == '\n') p++;
        else if (*p) return -1;
        break;
    }
    *pp = p;
    return 1;
}

static void check_csv(const char *dir, const nli_report *r) {
    char *p = check_path(dir, "scores.csv");
    char *s = NULL;
    size_t len;
    CHECK(nli_read_file(p, 1 << 26, &s, &len) == 0, "read scores.csv");
    free(p);
    if (!s) return;
    const char *q = s;
    static char f[10][256];
    int nf, rc, rows = 0, good_fields = 1, comma_ok = 0, nli_ok = 0, scores_ok = 1, nan_empty = 0, label_ok = 0;
    rc = csv_record(&q, f, &nf);
    CHECK(rc == 1 && nf == 9 && !strcmp(f[0], "set") && !strcmp(f[1], "path") && !strcmp(f[2], "neglabel") &&
              !strcmp(f[3], "mcm") && !strcmp(f[4], "oodd") && !strcmp(f[5], "top_id_label") &&
              !strcmp(f[6], "top_negative_label") && !strcmp(f[7], "stream") && !strcmp(f[8], "position"),
          "header");
    const nli_report_set *sets[3] = {r->id, &r->ood[0], &r->ood[1]};
    size_t si = 0, row = 0;
    /* the order-free methods: each image once, the stream columns empty */
    while (si < 3 && (rc = csv_record(&q, f, &nf)) == 1) {
        rows++;
        const nli_report_set *st = sets[si];
        if (nf != 9 || strcmp(f[0], st->name) || strcmp(f[1], st->paths[row]) || f[4][0] || f[7][0] || f[8][0])
            good_fields = 0;
        if (!strcmp(f[1], COMMA_PATH)) comma_ok++;
        if (!strcmp(f[1], NL_PATH)) nli_ok++;
        if (!strcmp(f[5], HOSTILE_LABEL) && !strcmp(f[6], ATTR_BREAK)) label_ok++;
        const double *neg = st->scores[NL_METHOD_NEGLABEL], *mcm = st->scores[NL_METHOD_MCM];
        if (isnan(neg[row])) nan_empty += f[2][0] == 0;
        else if (strtod(f[2], NULL) != neg[row] || strtod(f[3], NULL) != mcm[row]) scores_ok = 0;
        if (++row == st->n) { si++; row = 0; }
    }
    CHECK(rows == N_ID + N_O1 + N_O2, "one row per image (%d)", rows);
    CHECK(good_fields, "every row: 9 fields, set name and path as given (quoting round-trips)");
    CHECK(comma_ok == 3 && nli_ok == 3, "paths with comma/quote (%d) and newline (%d) round-trip", comma_ok, nli_ok);
    CHECK(label_ok == 3, "hostile labels round-trip (%d)", label_ok);
    CHECK(scores_ok, "scores round-trip exactly");
    CHECK(nan_empty == 3, "non-finite score is an empty field (%d)", nan_empty);
    /* then each OOD set's stream in order: only the stream method's column */
    int stream_ok = 1, srows = 0;
    for (size_t k = 0; k < 2; k++) {
        const nli_report_set *o = &r->ood[k];
        for (size_t pos = 0; pos < N_ID + o->n; pos++) {
            if ((rc = csv_record(&q, f, &nf)) != 1) { stream_ok = 0; break; }
            srows++;
            size_t w = o->order[pos], is_id = w < N_ID, i = is_id ? w : w - N_ID;
            const nli_report_set *st = is_id ? r->id : o;
            double want = is_id ? o->id_scores[NL_METHOD_OODD][i] : o->scores[NL_METHOD_OODD][i];
            char ps[32];
            snprintf(ps, sizeof ps, "%zu", pos);
            if (nf != 9 || strcmp(f[0], st->name) || strcmp(f[1], st->paths[i]) || f[2][0] || f[3][0] ||
                strcmp(f[7], o->name) || strcmp(f[8], ps) || (!isnan(want) && strtod(f[4], NULL) != want))
                stream_ok = 0;
        }
    }
    CHECK(stream_ok && srows == 2 * N_ID + N_O1 + N_O2, "stream rows in stream order, set named, OODD column (%d)", srows);
    CHECK(csv_record(&q, f, &nf) == 0, "CSV is well-formed to the end");
    free(s);
}

/* Decode the base64 after the first data: URI and compare with the thumbnail. */
static int b64_matches(const char *s, const unsigned char *want, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '"' && *s != '='; s++) {
        const char *c = strchr(A, *s);
        if (!c) return 0;
        acc = acc << 6 | (unsigned)(c - A);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k >= n || ((acc >> bits) & 0xff) != want[k]) return 0;
            k++;
        }
    }
    return k == n;
}

static void check_html(const char *dir, const nli_report *r) {
    char *p = check_path(dir, "report.html");
    char *h = NULL;
    size_t len;
    CHECK(nli_read_file(p, 1 << 26, &h, &len) == 0, "read report.html");
    free(p);
    if (!h) return;
    CHECK(!strncmp(h, "<!DOCTYPE html>", 15) && strstr(h, "</html>"), "a complete HTML document");
    CHECK(!strstr(h, HOSTILE_LABEL) && !strstr(h, "<script") && !strstr(h, ATTR_BREAK) && !strstr(h, "<b>moss"),
          "no hostile string unescaped");
    CHECK(strstr(h, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "hostile label shown escaped");
    CHECK(strstr(h, "&quot; onerror=&quot;alert(1)"), "attribute breaker shown escaped");
    CHECK(strstr(h, "Places&lt;script&gt;alert(1)&lt;/script&gt;"), "hostile set name escaped");
    CHECK(!strchr(h, '\x1b') && !memchr(h, 0xff, len), "no control or invalid bytes");
    CHECK(strstr(h, "café au lait") && strstr(h, "ß-glucan"), "non-ASCII labels kept");
    CHECK(!strstr(h, "src=\"http") && !strstr(h, "href=") && !strstr(h, "<link") && !strstr(h, "url(") &&
              !strstr(h, "@import"),
          "no external resources");
    CHECK(strstr(h, "<table class=\"metrics\" id=\"metrics\">") && strstr(h, ">Average<"), "table with average row");
    CHECK(strstr(h, "<td class=\"best\">1.91</td>") && strstr(h, "<td>30.94</td>") && strstr(h, "99.49"),
          "metrics in percent");
    CHECK(strstr(h, "<b>neglabel</b>"), "convention named");
    CHECK(strstr(h, " &middot; 2 OOD sets<br>") && !strstr(h, " 1 OOD sets") && !strstr(h, " 1 images"),
          "counts in the header, plural where more than one");
    CHECK(count_of(h, "<polyline class=\"neglabel\"") == 2 && count_of(h, "<polyline class=\"mcm\"") == 2 &&
              count_of(h, "<polyline class=\"oodd\"") == 2,
          "ROC: every method for each OOD set");
    CHECK(count_of(h, "<td class=\"method best\">") == 3, "best method starred per set and on average");
    CHECK(count_of(h, "<svg class=\"aff\"") == 3 * N_EX && count_of(h, "<figure class=\"ex fig4\">") == 3 * N_EX,
          "Figure 4 chart beside every example");
    CHECK(strstr(h, "&lt;i&gt;goldfish&lt;/i&gt;") && strstr(h, "a very long label \xe2\x80\xa6") &&
              strstr(h, ">0.500</text>") && strstr(h, ">0.030</text>"),
          "Figure 4 labels escaped and cut, probabilities shown");
    /* Each polyline: from (0,0) to (1,1), at most 500 points. */
    int pts_ok = 1, ends_ok = 1;
    for (const char *s = h; (s = strstr(s, "<polyline")); s++) {
        const char *pt = strstr(s, "points=\"") + 8, *end = strchr(pt, '"');
        size_t npts = 1;
        for (const char *c = pt; c < end; c++) npts += *c == ' ';
        if (npts > 500 || npts < 20) pts_ok = 0;
        if (strncmp(pt, "52.0,268.0 ", 11) || strncmp(end - 10, "322.0,48.0", 10)) ends_ok = 0;
    }
    CHECK(pts_ok, "20..500 points per curve (downsampled)");
    CHECK(ends_ok, "curves run from (0,0) to (1,1)");
    CHECK(count_of(h, "<svg class=\"hist\"") == 2 && count_of(h, "<path class=\"id\"") == 2 &&
              count_of(h, "<path class=\"ood\"") == 2,
          "histograms: ID and OOD for each OOD set");
    CHECK(count_of(h, "<img ") == 3 * N_EX && count_of(h, "src=\"data:image/jpeg;base64,") == 3 * N_EX,
          "every example embedded as a data URI");
    const char *b = strstr(h, "base64,");
    CHECK(b && b64_matches(b + 7, r->id->examples[0].thumb, r->id->examples[0].thumb_len), "base64 decodes to the JPEG");
    CHECK(strstr(h, "<code>/data/id/line break&#39;s.jpg</code>"), "skipped paths listed, escaped, newline as space");
    free(h);
}

/* The CLI's table (tools/eval_table.c) of the same numbers. */
static void check_table(const nli_report *r) {
    char *s = NULL;
    size_t len = 0;
    nl_eval_result res = {0};
    res.id.name = (char *)r->id->name;
    res.id.n_images = r->id->n;
    nl_eval_set ood[8];
    res.methods[0] = NL_METHOD_NEGLABEL;
    res.methods[1] = NL_METHOD_MCM;
    res.methods[2] = NL_METHOD_OODD;
    res.n_methods = 3;
    for (size_t i = 0; i < r->n_ood && i < 8; i++) {
        ood[i] = (nl_eval_set){.name = (char *)r->ood[i].name, .n_images = r->ood[i].n};
        memcpy(ood[i].metrics, r->ood[i].metrics, sizeof ood[i].metrics);
        ood[i].best = nli_report_best(r, ood[i].metrics);
    }
    res.ood = ood;
    res.n_ood = r->n_ood < 8 ? r->n_ood : 8;
    nli_report_average(r, res.average.metrics);
    res.average.best = nli_report_best(r, res.average.metrics);
    res.n_skipped = r->n_skipped;
    res.convention = r->convention;
    FILE *f = open_memstream(&s, &len);
    cli_print_eval_table(f, &res);
    fclose(f);
    CHECK(strstr(s, "Average") && strstr(s, "1.91") && strstr(s, "99.49") && strstr(s, "30.94"), "table numbers:\n%s", s);
    const char *avg = strstr(s, "Average");
    CHECK(avg && strstr(avg, "97.44") && strstr(avg, "45.47"), "average row in %% (97.44 AUPR-In, 45.47 MCM FPR95)");
    const char *st = strstr(s, "OODD");
    CHECK(st && strstr(st, "83.00  *\n") && strstr(st, "90.00  *\n") && strstr(s, "97.68  *\n") &&
              !strstr(s, "82.00  *"),
          "the best method of each set starred");
    CHECK(strstr(s, "FPR95 convention: neglabel"), "convention named");
    CHECK(!strchr(s, '\x1b'), "escape sequence from a set name neutralised");
    printf("%s", s);
    free(s);
}

/* A tiny report whose ROC can be worked out by hand; optional arrays absent. */
static void check_tiny(void) {
    char *dir = check_path(check_tmpdir(), "tiny");
    /* Thresholds 0.9, 0.8 (a tie between ID and OOD: one diagonal step), 0.1. */
    double sid[2] = {0.9, 0.8}, sood[2] = {0.8, 0.1};
    nli_report_set id = {0}, ood = {0};
    id.name = "id";
    id.n = 2;
    id.scores[NL_METHOD_NEGLABEL] = sid;
    ood.name = "ood";
    ood.n = 2;
    ood.scores[NL_METHOD_NEGLABEL] = sood;
    ood.id_scores[NL_METHOD_NEGLABEL] = sid;
    ood.metrics[NL_METHOD_NEGLABEL] = (nl_metrics){0.875, 0.9, 0.8, 0.5};
    nl_method methods[1] = {NL_METHOD_NEGLABEL};
    nl_score_params sp[NL_METHOD_COUNT];
    for (int m = 0; m < NL_METHOD_COUNT; m++) sp[m] = nl_score_default_params((nl_method)m);
    nli_report r = {0};
    r.methods = methods;
    r.n_methods = 1;
    r.score = sp;
    r.id = &id;
    r.ood = &ood;
    r.n_ood = 1;
    r.convention = NL_FPR95_OPENOOD;
    CHECK(nli_report_write(dir, &r) == 0, "tiny report: %s", nli_geterr());
    char *p = check_path(dir, "report.html"), *h = NULL;
    CHECK(nli_read_file(p, 1 << 20, &h, NULL) == 0, "read tiny report.html");
    free(p);
    if (h) {
        CHECK(strstr(h, "points=\"52.0,268.0 52.0,158.0 187.0,48.0 322.0,48.0\""),
              "ROC points: (0,0) (0,.5) (.5,1) (1,1)");
        CHECK(!strstr(h, "class=\"mcm\"") && !strstr(h, "<h2>Examples") && !strstr(h, "&#9733;"),
              "no MCM curve, examples or star when absent");
        CHECK(strstr(h, "<b>openood</b>") && strstr(h, "<td>87.50</td>"), "openood named; one method, nothing marked");
        free(h);
    }
    p = check_path(dir, "scores.csv");
    char *c = NULL;
    CHECK(nli_read_file(p, 1 << 20, &c, NULL) == 0 &&
              !strcmp(c, "set,path,neglabel,top_id_label,top_negative_label,stream,position\n"
                         "id,,0.90000000000000002,,,,\nid,,0.80000000000000004,,,,\n"
                         "ood,,0.80000000000000004,,,,\nood,,0.10000000000000001,,,,\n"),
          "tiny scores.csv: %s", c ? c : "");
    free(c);
    free(p);
    p = check_path(dir, "results.json");
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    CHECK(j && json_is_null(json_object_get(json_object_get(j, "model"), "info")), "missing model info is JSON null");
    CHECK(jnum(json_object_get(j, "average"), "neglabel", "auroc") == 0.875, "average of one set");
    json_decref(j);
    free(p);
    free(dir);
}

/* The folder's entries other than report.html, as "a b c". */
static void entries(const char *dir, char *out, size_t cap) {
    DIR *d = opendir(dir);
    struct dirent *e;
    *out = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "report.html"))
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", *out ? " " : "", e->d_name);
    if (d) closedir(d);
}

/* All or none: report.html is a folder, so its rename fails after
 * results.json and scores.csv were renamed into place; both are put back
 * (removed in a fresh folder, their earlier bytes otherwise) and nothing
 * else is left there. */
static void check_publish_all_or_none(const nli_report *r, const char *base) {
    char *d = check_path(base, "publish"), *html = check_path(d, "report.html"), *in = check_path(html, "keep");
    char *rj = check_path(d, "results.json"), *sc = check_path(d, "scores.csv"), left[512];
    CHECK(nli_mkdir_p(html) == 0 && nl_write_file_atomic(in, "x", 1) == 0, "set up %s", html);
    CHECK(nli_report_write(d, r) == -1 && strstr(nli_geterr(), "report.html: cannot rename into place") &&
              strstr(nli_geterr(), "no file was changed") && !strstr(nli_geterr(), "already replaced"),
          "a failing rename in a fresh folder: %s", nli_geterr());
    entries(d, left, sizeof left);
    CHECK(!*left, "a fresh folder stays empty after a failing publish (found: %s)", left);
    const char *old_rj = "{\"earlier\": true}\n", *old_sc = "set,path\n";
    CHECK(nl_write_file_atomic(rj, old_rj, strlen(old_rj)) == 0 && nl_write_file_atomic(sc, old_sc, strlen(old_sc)) == 0,
          "earlier files");
    CHECK(nli_report_write(d, r) == -1 && strstr(nli_geterr(), "no file was changed"),
          "a failing rename over earlier files: %s", nli_geterr());
    char *got = NULL;
    size_t n = 0;
    CHECK(nli_read_file(rj, 1 << 20, &got, &n) == 0 && n == strlen(old_rj) && !memcmp(got, old_rj, n),
          "results.json put back byte for byte");
    free(got);
    CHECK(nli_read_file(sc, 1 << 20, &got, &n) == 0 && n == strlen(old_sc) && !memcmp(got, old_sc, n),
          "scores.csv put back byte for byte");
    free(got);
    entries(d, left, sizeof left);
    CHECK(!strcmp(left, "results.json scores.csv") || !strcmp(left, "scores.csv results.json"),
          "no temporary or backup file left (found: %s)", left);
    /* the folder made a file again: the set publishes */
    CHECK(unlink(in) == 0 && rmdir(html) == 0 && nli_report_write(d, r) == 0, "publish: %s", nli_geterr());
    CHECK(nli_read_file(rj, 1 << 24, &got, &n) == 0 && n > strlen(old_rj) && strstr(got, "\"methods\""),
          "the new results.json in place");
    free(got);
    entries(d, left, sizeof left);
    CHECK(!strcmp(left, "results.json scores.csv") || !strcmp(left, "scores.csv results.json"),
          "no backup left after a publish (found: %s)", left);
    free(d); free(html); free(in); free(rj); free(sc);
}

/* A locale whose decimal point is a comma (de_DE): the system's, else one
 * localedef makes in the temp folder (LOCPATH); NULL when neither works. */
static const char *comma_locale(void) {
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8", "fr_FR.utf8"};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            if (setlocale(LC_NUMERIC, names[k]) && localeconv()->decimal_point[0] == ',') return names[k];
        if (pass) break;
        char *loc = check_path(check_tmpdir(), "locales"), cmd[4200];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' && localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", loc,
                 loc);
        if (system(cmd) != -1) setenv("LOCPATH", loc, 1); /* localedef exits 1 on mere warnings */
        free(loc);
    }
    setlocale(LC_NUMERIC, "C");
    return NULL;
}

static int same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = nli_read_file(a, 1 << 30, &x, &nx) == 0 && nli_read_file(b, 1 << 30, &y, &ny) == 0 && nx == ny &&
               !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

/* The files are C-locale text whatever the process's LC_NUMERIC: a program
 * that set a German locale (Python's locale.setlocale(LC_ALL, "")) got
 * "auroc": 0,9988 in results.json, a column more per number in scores.csv,
 * "52,0,268,0" in the SVG; score files and negatives files the same way. */
static void check_numeric_locale(const nli_report *r, const char *dir) {
    const char *name = comma_locale();
    if (!name) { /* CI installs Debian's locales (.ci/packages.txt): there, a failure */
        const char *ns = getenv("NEGLABEL_NO_SKIP");
        CHECK(!(ns && *ns), "no locale with a decimal comma (de_DE), and localedef could not make "
                                                "one (Debian: apt-get install locales)");
        printf("note: no locale with a decimal comma (de_DE) and localedef could not make one: the files under "
               "such a locale were not checked\n");
        return;
    }
    char *d2 = check_path(dir, "../locale-report");
    CHECK(nli_report_write(d2, r) == 0, "write report under LC_NUMERIC=%s: %s", name, nli_geterr());
    const char *names[] = {"results.json", "scores.csv", "report.html"};
    for (int k = 0; k < 3; k++) {
        char *a = check_path(dir, names[k]), *b = check_path(d2, names[k]);
        CHECK(same_file(a, b), "%s under LC_NUMERIC=%s: the same bytes as under C", names[k], name);
        free(a);
        free(b);
    }
    char *sp = check_path(d2, "s.txt");
    FILE *f = fopen(sp, "w");
    if (f) { fputs("0.25\n1.5e-3\n", f); fclose(f); }
    double *v = NULL;
    size_t n = 0;
    CHECK(nl_read_scores(sp, NULL, &v, &n) == 0 && n == 2 && v[0] == 0.25 && v[1] == 0.0015,
          "nl_read_scores under LC_NUMERIC=%s: 0.25 and 1.5e-3 (%s)", name, n ? "" : nli_geterr());
    free(v);
    nl_negatives neg;
    memset(&neg, 0, sizeof neg);
    uint8_t pos[1] = {0};
    double q[1] = {0.5};
    neg.pos = pos;
    neg.dim = 2;
    nl_strvec_push(&neg.words, "fern");
    nl_strvec_push(&neg.prompts, "the nice fern");
    char *np = check_path(d2, "neg.tsv"), *text = NULL;
    size_t tl = 0;
    CHECK(nl_negatives_write(np, &neg, q) == 0 && nli_read_file(np, 1 << 20, &text, &tl) == 0 &&
              strstr(text, "\tthe nice fern\t0.50000000\n"),
          "negatives file under LC_NUMERIC=%s: similarity 0.50000000 (%s)", name, text ? text : nli_geterr());
    free(text);
    nl_strvec_free(&neg.words);
    nl_strvec_free(&neg.prompts);
    const char *shared = check_shared_opt(); /* the model's info JSON too, where the tiny model is at hand */
    if (shared) {
        char *mp = check_path(shared, "fixtures/tiny-clip");
        nl_model *m = nl_model_load(mp, NULL);
        char *js = m ? nl_model_info_json(m) : NULL;
        json_error_t je;
        json_t *j = js ? json_loads(js, 0, &je) : NULL;
        double mean0 = json_real_value(json_array_get(json_object_get(j, "image_mean"), 0));
        CHECK(j && fabs(mean0 - 0.48145466) < 1e-7, "model info JSON under LC_NUMERIC=%s: %.160s", name,
              js ? js : nl_last_error());
        json_decref(j);
        free(js);
        nl_model_free(m);
        free(mp);
    }
    setlocale(LC_NUMERIC, "C");
    free(np);
    free(sp);
    free(d2);
}

int main(void) {
    const char *out = getenv("NEGLABEL_REPORT_OUT");
    char *dir = out && *out ? strdup(out) : check_path(check_tmpdir(), "report/sub");
    set_data di, d1, d2;
    nli_report_set id, ood[2];
    make_set(&di, &id, "ImageNet-1k (val) & co", N_ID, 2.0, "id");
    make_set(&d1, &ood[0], "iNaturalist", N_O1, -1.5, "inat");
    make_set(&d2, &ood[1], HOSTILE_SET, N_O2, 0.0, "places");
    ood[0].metrics[NL_METHOD_NEGLABEL] = (nl_metrics){0.9949, 0.9988, 0.9768, 0.0191};
    ood[0].metrics[NL_METHOD_MCM] = (nl_metrics){0.9461, 0.9880, 0.7730, 0.3094};
    ood[0].metrics[NL_METHOD_OODD] = (nl_metrics){0.9900, 0.9950, 0.9700, 0.0500};
    ood[1].metrics[NL_METHOD_NEGLABEL] = (nl_metrics){0.9000, 0.9500, 0.8200, 0.3500};
    ood[1].metrics[NL_METHOD_MCM] = (nl_metrics){0.8000, 0.8500, 0.7000, 0.6000};
    ood[1].metrics[NL_METHOD_OODD] = (nl_metrics){0.9100, 0.9600, 0.8300, 0.3000};
    set_data *dd[2] = {&d1, &d2};
    for (int k = 0; k < 2; k++) {
        ood[k].scores[NL_METHOD_OODD] = dd[k]->oodd;
        ood[k].id_scores[NL_METHOD_OODD] = dd[k]->oodd_id;
        ood[k].id_scores[NL_METHOD_NEGLABEL] = di.neg;
        ood[k].id_scores[NL_METHOD_MCM] = di.mcm;
        ood[k].order = dd[k]->order;
    }
    const char *skipped[2] = {NL_PATH, BAD_UTF8};
    nl_method methods[3] = {NL_METHOD_NEGLABEL, NL_METHOD_MCM, NL_METHOD_OODD};
    nl_score_params sp[NL_METHOD_COUNT];
    for (int m = 0; m < NL_METHOD_COUNT; m++) sp[m] = nl_score_default_params((nl_method)m);
    sp[NL_METHOD_NEGLABEL].seed = 42;
    sp[NL_METHOD_NEGLABEL].permutation = NL_PERM_TORCH;
    nli_report r = {.model_dir = "/models/clip-vit-b16 <local>",
                    .model_info_json = "{\"projection_dim\": 512, \"name\": \"<clip>\"}", .n_id_labels = 1000,
                    .n_negatives = 10000, .methods = methods, .n_methods = 3, .score = sp, .stream_seed = 110,
                    .convention = NL_FPR95_NEGLABEL, .id = &id, .ood = ood, .n_ood = 2, .skipped = skipped,
                    .n_skipped = 2, .seconds = 12.5};

    CHECK(nli_report_write(dir, &r) == 0, "write report: %s", nli_geterr());
    const char *names[] = {"results.json", "scores.csv", "report.html"};
    for (int k = 0; k < 3; k++) {
        char *p = check_path(dir, names[k]);
        CHECK(nli_file_exists(p), "%s written", names[k]);
        free(p);
    }
    check_json(dir, &r);
    check_csv(dir, &r);
    check_html(dir, &r);
    check_table(&r);
    check_tiny();
    check_publish_all_or_none(&r, dir);
    check_numeric_locale(&r, dir);

    /* Bad input: one clear message, nothing written. */
    nli_report bad = r;
    bad.id = NULL;
    CHECK(nli_report_write(dir, &bad) == -1 && strstr(nli_geterr(), "ID set"), "missing ID set: %s", nli_geterr());
    bad = r;
    nli_report_set o2[2] = {ood[0], ood[1]};
    o2[1].order = NULL;
    bad.ood = o2;
    CHECK(nli_report_write(dir, &bad) == -1 && strstr(nli_geterr(), "stream order"), "stream without order: %s", nli_geterr());
    size_t badorder[N_ID + N_O2];
    memcpy(badorder, ood[1].order, sizeof badorder);
    badorder[7] = N_ID + N_O2;
    o2[1].order = badorder;
    CHECK(nli_report_write(dir, &bad) == -1 && strstr(nli_geterr(), "out of range"), "stream index out of range: %s", nli_geterr());
    o2[1] = ood[1];
    o2[1].scores[NL_METHOD_OODD] = NULL;
    CHECK(nli_report_write(dir, &bad) == -1 && strstr(nli_geterr(), "no oodd scores"), "missing scores: %s", nli_geterr());
    CHECK(nli_report_write("/proc/version/report", &r) == -1 && strstr(nli_geterr(), "/proc/version"),
          "unwritable folder: %s", nli_geterr());
    unsigned char *j = NULL;
    size_t jl = 0;
    uint8_t px[3] = {1, 2, 3};
    CHECK(nli_jpeg_encode(px, 0, 1, 80, &j, &jl) == -1 && !j, "jpeg: zero width refused");
    CHECK(nli_jpeg_encode(px, 70000, 1, 80, &j, &jl) == -1, "jpeg: huge width refused");
    CHECK(nli_jpeg_encode(px, 1, 1, 500, &j, &jl) == 0 && jl > 0, "jpeg: 1x1, quality clamped");
    free(j);

    free_set(&di, N_ID);
    free_set(&d1, N_O1);
    free_set(&d2, N_O2);
    free(dir);
    return check_done();
}
