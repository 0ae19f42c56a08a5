/* scores_read.c — the score files `metrics` takes: one number per line, or
 * a CSV table with a header (what `neglabel score` writes), one column of it.
 * The table is read as RFC 4180 says (quoted fields may hold commas, quotes
 * and line breaks, as a path may), and every error names the file and the
 * line it is on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "util.h"

#define SCORES_MAX_BYTES ((size_t)1 << 34) /* 16 GiB: ~400 million rows of `score` output */

#define READ_STEP ((size_t)1 << 20) /* bytes read at a time */

/* The file is read in steps (a score file of millions of rows was read
 * whole: 119 MB for 1,000,000 rows of `score` output, beside the 8 MB of
 * scores): buf holds the records not yet parsed, from s to end. */
typedef struct {
    const char *path;
    char *s, *end; /* the records read and not yet parsed, NUL-terminated at end */
    size_t line;   /* of s */
    nli_input in;
    char *buf;
    size_t cap, scan; /* scan: bytes after s known to hold no whole record */
    int eof, quotes;  /* quotes: '"' seen in those bytes, odd inside a quoted field */
    int blank;        /* those bytes since the last line break are blank so far */
} reader;

/* Read more after the unparsed bytes (moved to the start of buf). */
static int refill(reader *r) {
    size_t keep = (size_t)(r->end - r->s);
    if (r->s != r->buf) memmove(r->buf, r->s, keep + 1);
    if (nli_grow((void **)&r->buf, &r->cap, keep + READ_STEP + 1, 1) != 0) return -1;
    r->s = r->buf;
    long long got = nli_input_read(&r->in, r->buf + keep, READ_STEP);
    if (got < 0) return -1;
    if (got == 0) r->eof = 1;
    if (memchr(r->buf + keep, 0, (size_t)got)) { nli_seterr("%s: a NUL byte: not a text file", r->path); return -1; }
    r->end = r->buf + keep + got;
    *r->end = 0;
    return 0;
}

/* Make s..end hold a whole record that is not blank (a line break outside
 * quotes after a byte other than a space, tab or CR), or all the rest of
 * the file: next_record never reads past such a line break. */
static int fill(reader *r) {
    for (;;) {
        for (char *q = r->s + r->scan; q < r->end; q++, r->scan++) {
            if (*q == '"') r->quotes ^= 1;
            if (*q == '\n' && !r->quotes) {
                if (!r->blank) { r->scan = 0, r->blank = 1; return 0; }
            } else if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n') r->blank = 0;
        }
        if (r->eof) { r->scan = 0, r->quotes = 0, r->blank = 1; return 0; }
        if (refill(r) != 0) return -1;
    }
}

/* The next record's fields, unquoted in place (each NUL-terminated); 0 at
 * the end of the file, -1 on a malformed one. *at: its first line. */
static int next_record(reader *r, char ***fields, size_t *n, size_t *cap, size_t *at) {
    *n = 0;
    for (;;) { /* blank lines (spaces and tabs alone count as blank) */
        char *q = r->s;
        while (q < r->end && (*q == ' ' || *q == '\t')) q++;
        if (q >= r->end) return 0;
        if (*q == '\r' && q[1] == '\n') q++;
        if (*q != '\n') break;
        r->s = q + 1;
        r->line++;
    }
    *at = r->line;
    for (;;) {
        if (nli_grow((void **)fields, cap, *n + 1, sizeof **fields) != 0) return -1;
        char *w = r->s, *f = w;
        (*fields)[(*n)++] = f;
        if (*r->s == '"') { /* quoted: "" is a quote; ends at a lone quote */
            size_t first = r->line;
            for (r->s++;; r->s++) {
                if (r->s >= r->end) {
                    nli_seterr("%s: line %zu: a quoted field is not closed before the end of the file", r->path, first);
                    return -1;
                }
                if (*r->s == '"') {
                    if (r->s[1] != '"') break;
                    r->s++;
                }
                if (*r->s == '\n') r->line++;
                *w++ = *r->s;
            }
            r->s++;
            if (r->s < r->end && *r->s != ',' && *r->s != '\n' && !(*r->s == '\r' && r->s[1] == '\n')) {
                nli_seterr("%s: line %zu: text after a quoted field's closing quote", r->path, r->line);
                return -1;
            }
        } else {
            while (r->s < r->end && *r->s != ',' && *r->s != '\n' && !(*r->s == '\r' && r->s[1] == '\n')) {
                if (*r->s == '"') {
                    nli_seterr("%s: line %zu: a quote inside an unquoted field", r->path, r->line);
                    return -1;
                }
                *w++ = *r->s++;
            }
        }
        char c = r->s < r->end ? *r->s : '\n';
        if (c == '\r') r->s++;
        r->s += r->s < r->end;
        *w = 0;
        if (c != ',') {
            r->line++;
            return 1;
        }
    }
}

/* A whole field as a finite number (spaces around it allowed). */
static int parse_number(const char *f, double *v) {
    char *e;
    while (*f == ' ' || *f == '\t') f++;
    *v = strtod(f, &e);
    if (e == f) return -1;
    while (*e == ' ' || *e == '\t') e++;
    return *e || !isfinite(*v) ? -1 : 0;
}

static int read_scores(const char *path, const char *column, double **out, size_t *n_out);

int nl_read_scores(const char *path, const char *column, double **out, size_t *n_out) {
    if (out) *out = NULL;
    if (n_out) *n_out = 0;
    if (!path || !out || !n_out) return nli_null_arg(__func__);
    void *loc = nli_numeric_c_begin(); /* "0.5" is a number, whatever LC_NUMERIC says */
    int rc = read_scores(path, column, out, n_out);
    nli_numeric_c_end(loc);
    return rc;
}

/* The next record (fill, then next_record). */
static int next(reader *r, char ***fields, size_t *n, size_t *cap, size_t *at) {
    return fill(r) != 0 ? -1 : next_record(r, fields, n, cap, at);
}

static int read_scores(const char *path, const char *column, double **out, size_t *n_out) {
    reader r = {.path = path, .line = 1, .blank = 1};
    size_t nf = 0, cap = 0, vcap = 0, n = 0, at = 0, col = 0, width = 0;
    char **fields = NULL;
    double *v = NULL;
    int rc = -1, csv = 0, got;
    if (nli_input_open(&r.in, path, SCORES_MAX_BYTES) != 0) return -1;
    if (refill(&r) != 0) goto done;
    while (!r.eof && r.end - r.s < 3)
        if (refill(&r) != 0) goto done;
    r.s += nli_bom_len(r.s, (size_t)(r.end - r.s)); /* a UTF-8 byte order mark */
    got = next(&r, &fields, &nf, &cap, &at);
    if (got < 0) goto done;
    if (!got) { nli_seterr("%s: no scores in the file", path); goto done; }
    double x;
    csv = column || nf > 1 || parse_number(fields[0], &x) != 0;
    if (csv) { /* the first record is the header */
        const char *want = column ? column : "score";
        for (col = 0; col < nf && strcmp(fields[col], want); col++) {}
        if (col == nf) {
            if (!column && nf == 1)
                nli_seterr("%s: line %zu: '%s' is not a number (a score file holds one per line, or is a CSV table "
                           "with a header naming a 'score' column)", path, at, fields[0]);
            else
                nli_seterr("%s: line %zu: the header has no column '%s'%s", path, at, want,
                           column ? "" : " (a CSV score file names its scores 'score'; choose another column by name)");
            goto done;
        }
        width = nf;
        got = next(&r, &fields, &nf, &cap, &at);
    }
    for (; got > 0; got = next(&r, &fields, &nf, &cap, &at)) {
        if (csv && nf != width) {
            nli_seterr("%s: line %zu: %zu fields where the header has %zu", path, at, nf, width);
            goto done;
        }
        if (!csv && nf != 1) {
            nli_seterr("%s: line %zu: more than one value (a score file without a header holds one number per line)",
                       path, at);
            goto done;
        }
        if (parse_number(fields[col], &x) != 0) {
            char shown[64];
            nli_sanitize(shown, sizeof shown, fields[col]);
            /* `score` writes NaN (printf: "nan" or "-nan") for an image whose embedding is not finite */
            int nan = strcasestr(fields[col], "nan") != NULL;
            nli_seterr("%s: line %zu: '%s' is not a finite number%s", path, at, shown,
                       nan ? " (a NaN score: `neglabel score` writes one for an image whose embedding is not finite, "
                             "and warns; leave such rows out)" : "");
            goto done;
        }
        if (nli_grow((void **)&v, &vcap, n + 1, sizeof *v) != 0) goto done;
        v[n++] = x;
    }
    if (got < 0) goto done;
    if (!n) { nli_seterr("%s: no scores in the file%s", path, csv ? " (only the header)" : ""); goto done; }
    *out = v;
    *n_out = n;
    v = NULL;
    rc = 0;
done:
    free(v);
    free(fields);
    free(r.buf);
    nli_input_close(&r.in);
    return rc;
}
