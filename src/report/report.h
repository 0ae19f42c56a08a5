/* report.h — the evaluation report: results.json, scores.csv and one
 * self-contained report.html (table, ROC curves, score histograms, example
 * images), plus the terminal table.
 *
 * Every string in a report (paths, labels, set names, the model folder) is
 * treated as hostile: it is HTML-escaped in report.html, JSON-escaped in
 * results.json (invalid UTF-8 becomes U+FFFD in both), RFC 4180-quoted in
 * scores.csv (bytes kept as they are), and control characters are replaced
 * in the terminal table. Metrics are fractions in the structs and in
 * results.json, percentages in the table and the page. */
#ifndef NEGLABEL_REPORT_H
#define NEGLABEL_REPORT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "neglabel.h"
#include "util.h"

/* One example image shown on the page. thumb may be NULL (no image);
 * thumb_mime NULL means "image/jpeg"; only image/jpeg, image/png and
 * image/webp are embedded. The paper's Figure 4 view: the image's softmax
 * over the logits (cos / tau) of all ID and negative labels, its n_aff
 * most probable ID labels and n_aff most probable negatives (descending). */
typedef struct {
    const char *path;
    double score; /* the ranking method's score */
    const char *top_id, *top_neg;
    const unsigned char *thumb;
    size_t thumb_len;
    const char *thumb_mime;
    size_t n_aff;
    const char *const *aff_id_label, *const *aff_neg_label; /* n_aff each */
    const double *aff_id, *aff_neg;                         /* n_aff each */
} nli_report_example;

/* One image set (the ID set or an OOD set); arrays have n entries. paths,
 * top_id and top_neg may be NULL (empty in the outputs). scores[m] (by
 * nl_method) are the set's scores under each method run (for a stream
 * method, this OOD set's images in its stream; NULL in the ID set).
 * OOD sets: id_scores[m], the ID scores method m is measured against
 * (the ID set's, or the ID images' in this set's stream), metrics[m], and,
 * with stream methods, order: the stream as indices into the ID images
 * then this set's (i < id->n an ID image, else this set's i - id->n). */
typedef struct {
    const char *name;
    size_t n;
    const char *const *paths;
    const double *scores[NL_METHOD_COUNT];
    const double *id_scores[NL_METHOD_COUNT];
    const size_t *order;
    const char *const *top_id, *const *top_neg;
    nl_metrics metrics[NL_METHOD_COUNT];
    const nli_report_example *examples;
    size_t n_examples;
} nli_report_set;

typedef struct {
    const char *model_dir;
    const char *model_info_json; /* nl_model_info_json(); may be NULL */
    size_t n_id_labels, n_negatives, n_negatives_csp;
    /* where the negatives came from: the file read (--negatives), or the
     * name of the file written in out_dir beside the report for a mined
     * set; NULL: that set is unused, or mined and not saved */
    const char *negatives_file, *negatives_csp_file;
    const nl_method *methods;     /* n_methods, in report order */
    size_t n_methods;
    const nl_score_params *score; /* indexed by nl_method */
    unsigned long long stream_seed;
    nl_fpr_convention convention;
    const nli_report_set *id;
    const nli_report_set *ood; /* n_ood sets */
    size_t n_ood;
    const char *const *skipped; /* images that failed to load */
    size_t n_skipped;
    double seconds; /* wall time of the run */
} nli_report;

/* Create out_dir if needed and write results.json, scores.csv and
 * report.html in it, each atomically. -1 + error (naming the file) on bad
 * input or a write failure. All three are written and synced under
 * temporary names before the first is renamed into place, so a write error
 * leaves earlier results as they were. */
int nli_report_write(const char *out_dir, const nli_report *r);
/* The same, publishing also[0..n_also) (opened with nli_atomic_open and
 * written, not finished) with them, first; they are consumed either way. */
int nli_report_write_with(const char *out_dir, const nli_report *r, nli_atomic *also, size_t n_also);


/* Encode w x h RGB (HWC uint8) as a baseline JPEG in memory (*out malloc'd,
 * caller frees). libjpeg errors become -1 + message, never exit(). */
int nli_jpeg_encode(const uint8_t *rgb, int w, int h, int quality, unsigned char **out, size_t *len);

/* ---- internal to report.c / report_html.c ---- */

/* Output buffer with a sticky error: write everything, check once. */
typedef struct {
    nli_buf b;
    int err;
} nli_rw;
void nli_rw_puts(nli_rw *w, const char *s);
void nli_rw_printf(nli_rw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nli_rw_html(nli_rw *w, const char *s); /* HTML-escaped, invalid UTF-8 -> U+FFFD */
/* Copy of s with invalid UTF-8 replaced by U+FFFD (malloc'd). */
char *nli_utf8_clean(const char *s);
/* Mean of the OOD sets' metrics per method (NaN when there are none). */
void nli_report_average(const nli_report *r, nl_metrics avg[NL_METHOD_COUNT]);
/* The best of the methods run: lowest FPR95, then highest AUROC, then the
 * first listed. */
nl_method nli_report_best(const nli_report *r, const nl_metrics *m);
/* Stream methods (AdaNeg, OODD) score in a stream that depends on order. */
int nli_method_is_stream(nl_method m);
int nli_report_html(nli_atomic *a, const nli_report *r); /* into a->f */
#endif
