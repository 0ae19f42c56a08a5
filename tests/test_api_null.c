/* test_api_null.c — every public entry point given NULL where it needs a
 * pointer (or a NULL entry in an array of texts, paths, words or
 * templates) returns an error naming the function or the row, and never
 * crashes; accessors of a NULL model answer 0 or an empty string; the free
 * functions take NULL. Run under ASan/UBSan in CI like every test. */
#include "check.h"
#include "neglabel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* rc is -1 and the message contains want. */
#define FAILS(call, want)                                                                                    \
    do {                                                                                                     \
        int rc_ = (call);                                                                                    \
        CHECK(rc_ == -1 && strstr(nl_last_error(), want), "%s: rc %d, '%s' (want '%s')", #call, rc_,         \
              nl_last_error(), want);                                                                        \
    } while (0)

static int polls;
static int cancel_after_first(void *user) { return ++polls >= *(int *)user; }

/* nl_set_cancel: polled after each batch the model runs (256 prompts, or
 * the model's batch of images: 32 on the CPU) and after each block of 512
 * of the cached embedding; a stop fails the call with NL_ERR_CANCELLED, and
 * no poll follows the last batch. */
static void cancel_cases(nl_model *m, size_t dim, const char *img) {
    enum { N = 700, NI = 100 };
    static char text[N][32];
    const char *v[N], *paths[NI];
    for (int i = 0; i < N; i++) { snprintf(text[i], sizeof text[i], "word %d", i); v[i] = text[i]; }
    for (int i = 0; i < NI; i++) paths[i] = img;
    float *o = malloc(N * dim * sizeof(float));
    int stop_at = 1;
    nl_set_cancel(cancel_after_first, &stop_at);
    polls = 0;
    CHECK(nl_embed_prompts(m, NULL, v, N, o) != 0 && nl_last_status() == NL_ERR_CANCELLED &&
              !strcmp(nl_last_error(), "cancelled") && polls == 1,
          "cancelled after the first batch: %s (polls %d)", nl_last_error(), polls);
    CHECK(!strcmp(nl_status_name(NL_ERR_CANCELLED), "cancelled"), "status name");
    polls = 0;
    CHECK(nl_embed_prompts(m, NULL, v, 256, o) == 0 && polls == 0, "one batch: no poll (%d)", polls);
    stop_at = 1000;
    polls = 0;
    /* 700: the blocks 512 + 188, the first run as 256 + 256 */
    CHECK(nl_embed_prompts(m, NULL, v, N, o) == 0 && polls == 2, "not asked to stop: %s (polls %d)",
          nl_last_error(), polls);
    /* the plain calls too (before, only the cached embedding polled: the
     * CLI's embed and Python's Model.embed_* ran to their end) */
    stop_at = 2;
    polls = 0;
    CHECK(nl_embed_texts(m, v, N, o) != 0 && nl_last_status() == NL_ERR_CANCELLED && polls == 2,
          "nl_embed_texts: cancelled after its second batch of 256: %s (polls %d)", nl_last_error(), polls);
    polls = 0;
    CHECK(nl_embed_images(m, paths, NI, NL_RESAMPLE_MODEL, o, NULL) != 0 && nl_last_status() == NL_ERR_CANCELLED &&
              polls == 2,
          "nl_embed_images: cancelled after its second batch of 32: %s (polls %d)", nl_last_error(), polls);
    stop_at = 1000;
    polls = 0;
    CHECK(nl_embed_images(m, paths, NI, NL_RESAMPLE_MODEL, o, NULL) == 0 && polls == 3,
          "nl_embed_images: 100 images, 3 polls (%d): %s", polls, nl_last_error());
    nl_set_cancel(NULL, NULL);
    CHECK(nl_embed_prompts(m, NULL, v, N, o) == 0, "no callback: %s", nl_last_error());
    free(o);
}

/* nl_set_progress: a job's last call is final, also when it stops early
 * (before: a cancelled or failed embedding left its last call non-final,
 * so the CLI's and Python's live progress line was never ended). */
static int prog_calls, prog_last_final;
static void record_progress(const char *label, size_t done, size_t total, double elapsed, int final, void *user) {
    (void)label, (void)done, (void)total, (void)elapsed, (void)user;
    prog_calls++;
    prog_last_final = final;
}
static int slow_then_stop(void *user) {
    (void)user;
    if (++polls == 1) { /* after the first block: let the second one report progress */
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return 0;
    }
    return 1;
}
static void progress_cases(nl_model *m, size_t dim) {
    enum { N = 1200 }; /* blocks of 512: 512, 512, 176 */
    static char text[N][32];
    const char *v[N];
    for (int i = 0; i < N; i++) { snprintf(text[i], sizeof text[i], "progress %d", i); v[i] = text[i]; }
    float *o = malloc(N * dim * sizeof(float));
    nl_set_progress(record_progress, NULL);
    nl_set_cancel(slow_then_stop, NULL);
    polls = prog_calls = 0;
    prog_last_final = -1;
    CHECK(nl_embed_prompts(m, NULL, v, N, o) != 0 && nl_last_status() == NL_ERR_CANCELLED &&
              !strcmp(nl_last_error(), "cancelled") && polls == 2,
          "cancelled after the second block: %s (polls %d)", nl_last_error(), polls);
    CHECK(prog_calls >= 2 && prog_last_final == 1, "cancelled job: %d progress calls, the last final=%d", prog_calls,
          prog_last_final);
    nl_set_cancel(NULL, NULL);
    nl_set_progress(NULL, NULL);
    free(o);
}

/* The plain calls report their own progress ("embedding texts", "embedding
 * images", "embedding pixels", "preprocessing images": before, a long
 * nl_embed_images, the CLI's embed or Python's Model.embed_images, was
 * silent), ending with a final call at done == total, or at the stop; the
 * cached pipeline's job, which runs them in blocks, reports once for all
 * ("embedding prompts" only). Each poll of the cancel callback sleeps, so
 * every job outlasts the callback's 0.2 s threshold. */
static char labels_seen[512];
static size_t last_done, last_total;
static void record_labels(const char *label, size_t done, size_t total, double elapsed, int final, void *user) {
    (void)elapsed, (void)user;
    if (!strstr(labels_seen, label) && strlen(labels_seen) + strlen(label) + 2 < sizeof labels_seen) {
        strcat(labels_seen, label);
        strcat(labels_seen, ";");
    }
    prog_calls++;
    prog_last_final = final;
    last_done = done;
    last_total = total;
}
static int slow(void *user) {
    struct timespec ts = {0, 120 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return ++polls >= *(int *)user;
}
static void plain_progress_cases(nl_model *m, size_t dim, const char *img) {
    enum { N = 1200, NI = 70 };
    static char text[N][32];
    const char *v[N], *paths[NI];
    for (int i = 0; i < N; i++) { snprintf(text[i], sizeof text[i], "plain %d", i); v[i] = text[i]; }
    for (int i = 0; i < NI; i++) paths[i] = img;
    int S = nl_model_image_size(m), never = 1 << 30, second = 2;
    float *o = malloc(N * dim * sizeof(float)), *px = malloc((size_t)NI * 3 * S * S * sizeof(float));
    nl_set_progress(record_labels, NULL);
    nl_set_cancel(slow, &never);
#define RUN(call, lab, count)                                                                                \
    do {                                                                                                     \
        labels_seen[0] = 0;                                                                                  \
        prog_calls = polls = 0;                                                                              \
        prog_last_final = -1;                                                                                \
        int rc_ = (call);                                                                                    \
        CHECK(rc_ == 0 && !strcmp(labels_seen, lab ";") && prog_last_final == 1 && last_done == (count) &&   \
                  last_total == (count),                                                                     \
              "%s: rc %d (%s), labels '%s', final %d, %zu of %zu", #call, rc_, nl_last_error(), labels_seen,   \
              prog_last_final, last_done, last_total);                                                       \
    } while (0)
    RUN(nl_embed_texts(m, v, N, o), "embedding texts", (size_t)N);
    RUN(nl_embed_images(m, paths, NI, NL_RESAMPLE_MODEL, o, NULL), "embedding images", (size_t)NI);
    RUN(nl_image_pixels(m, paths, NI, NL_RESAMPLE_MODEL, px, NULL), "preprocessing images", (size_t)NI);
    RUN(nl_embed_pixels(m, px, NI, o), "embedding pixels", (size_t)NI);
    RUN(nl_embed_prompts(m, NULL, v, N, o), "embedding prompts", (size_t)N); /* its blocks: no "embedding texts" */
#undef RUN
    /* stopped after the second batch of 32: the last call is final, the error kept */
    nl_set_cancel(slow, &second);
    prog_calls = polls = 0;
    prog_last_final = -1;
    CHECK(nl_embed_images(m, paths, NI, NL_RESAMPLE_MODEL, o, NULL) != 0 && nl_last_status() == NL_ERR_CANCELLED &&
              !strcmp(nl_last_error(), "cancelled") && prog_last_final == 1 && last_done == 64,
          "cancelled plain call: %s, final %d at %zu", nl_last_error(), prog_last_final, last_done);
    nl_set_cancel(NULL, NULL);
    nl_set_progress(NULL, NULL);
    free(o);
    free(px);
}

int main(void) {
    const char *shared = check_shared();
    char *dir = check_path(shared, "fixtures/tiny-clip");
    char *img = check_path(shared, "fixtures/images/dog.jpg");
    nl_model *m = nl_model_load(dir, NULL);
    CHECK(m != NULL, "load %s: %s", dir, nl_last_error());
    if (!m) return check_done();
    const size_t dim = (size_t)nl_model_dim(m);
    float *out = calloc(8 * dim, sizeof(float));
    double sc[8];
    int st[4];
    int32_t *ids = NULL;
    size_t n = 0;
    nl_device dev;
    int idx;
    nl_precision prec;
    nl_method meth;
    nl_permutation perm;
    nl_strvec sv = {0};
    nl_corpus corpus;
    nl_negatives neg;
    nl_metrics met;
    const char *null1[] = {NULL};
    const char *tmpl[] = {"a photo of a {}."}, *null_tmpl[] = {NULL};
    nl_embed_opts eo = {0};

    /* parsing */
    FAILS(nl_parse_device("cuda", NULL, &idx), "nl_parse_device: NULL argument");
    FAILS(nl_parse_device("cuda", &dev, NULL), "nl_parse_device: NULL argument");
    FAILS(nl_parse_device(NULL, &dev, &idx), "device: none given");
    /* a failed parse leaves the caller's values (before: *index set to 0) */
    dev = NL_DEVICE_CUDA;
    idx = 3;
    FAILS(nl_parse_device("cuda:x", &dev, &idx), "expected auto, cpu, cuda or cuda:N");
    CHECK(dev == NL_DEVICE_CUDA && idx == 3, "failed parse changed device %d index %d", (int)dev, idx);
    CHECK(nl_parse_device("cuda:2", &dev, &idx) == 0 && idx == 2 && nl_parse_device("cpu", &dev, &idx) == 0 &&
              dev == NL_DEVICE_CPU && idx == 0,
          "device parse");
    /* names of values outside the enums (before: "default", and NegLabel's text) */
    CHECK(!strcmp(nl_precision_name(NL_PRECISION_DEFAULT), "default") &&
              !strcmp(nl_precision_name((nl_precision)9), "unknown"),
          "precision name of 9: %s", nl_precision_name((nl_precision)9));
    CHECK(!strcmp(nl_fpr_convention_text((nl_fpr_convention)7), "unknown convention") &&
              strstr(nl_fpr_convention_text(NL_FPR95_NEGLABEL), "closest to 95%"),
          "convention text of 7: %s", nl_fpr_convention_text((nl_fpr_convention)7));
    FAILS(nl_parse_precision("fp16", NULL), "nl_parse_precision: NULL argument");
    FAILS(nl_parse_precision(NULL, &prec), "precision");
    FAILS(nl_parse_method("mcm", NULL), "nl_parse_method: NULL argument");
    FAILS(nl_parse_method(NULL, &meth), "unknown method");
    FAILS(nl_parse_permutation("torch", NULL), "nl_parse_permutation: NULL argument");
    FAILS(nl_parse_permutation(NULL, &perm), "permutation");
    FAILS(nl_resolve_device(NULL, NULL), "nl_resolve_device: NULL argument");

    /* the model */
    CHECK(nl_model_load(NULL, NULL) == NULL && strstr(nl_last_error(), "empty model name"), "load NULL: %s",
          nl_last_error());
    CHECK(nl_model_resolve(NULL) == NULL, "resolve NULL");
    CHECK(nl_model_dim(NULL) == 0 && nl_model_image_size(NULL) == 0 && nl_model_threads(NULL) == 0 &&
              nl_model_device(NULL, &idx) == NL_DEVICE_CPU && idx == 0 &&
              nl_model_precision(NULL) == NL_PRECISION_DEFAULT && nl_model_resample(NULL) == NL_RESAMPLE_BICUBIC &&
              !strcmp(nl_model_device_name(NULL), "") && !strcmp(nl_model_fingerprint(NULL), ""),
          "accessors of a NULL model");
    CHECK(nl_model_info_json(NULL) == NULL && strstr(nl_last_error(), "nl_model_info_json: NULL argument"),
          "info of a NULL model: %s", nl_last_error());
    nl_model_free(NULL);
    /* each names itself, as the header's convention says (before: "tokenize:",
     * "preprocess: NULL image or output", "resolve device:") */
    FAILS(nl_tokenize(NULL, "x", &ids, &n), "nl_tokenize: NULL argument");
    FAILS(nl_tokenize_n(m, NULL, 3, &ids, &n), "nl_tokenize_n: NULL argument");

    /* embedding */
    FAILS(nl_embed_texts(NULL, null1, 1, out), "nl_embed_texts: NULL argument");
    FAILS(nl_embed_texts(m, NULL, 1, out), "nl_embed_texts: NULL argument");
    FAILS(nl_embed_texts(m, null1, 1, NULL), "nl_embed_texts: NULL argument");
    FAILS(nl_embed_texts(m, null1, 1, out), "text 0: the text is NULL");
    FAILS(nl_embed_images(NULL, null1, 1, NL_RESAMPLE_BICUBIC, out, NULL), "nl_embed_images: NULL argument");
    FAILS(nl_embed_images(m, NULL, 1, NL_RESAMPLE_BICUBIC, out, NULL), "nl_embed_images: NULL argument");
    FAILS(nl_embed_images(m, null1, 1, NL_RESAMPLE_BICUBIC, out, NULL), "image 0: the path is NULL");
    FAILS(nl_embed_rgb(NULL, NULL, 1, NL_RESAMPLE_BICUBIC, out, NULL), "nl_embed_rgb: NULL argument");
    FAILS(nl_embed_pixels(NULL, out, 1, out), "nl_embed_pixels: NULL argument");
    FAILS(nl_embed_pixels(m, NULL, 1, out), "nl_embed_pixels: NULL argument");
    FAILS(nl_embed_pixels(m, out, 1, NULL), "nl_embed_pixels: NULL argument");
    FAILS(nl_image_pixels(NULL, null1, 1, NL_RESAMPLE_BICUBIC, out, NULL), "nl_image_pixels: NULL argument");
    FAILS(nl_image_pixels(m, NULL, 1, NL_RESAMPLE_BICUBIC, out, NULL), "nl_image_pixels: NULL argument");
    FAILS(nl_image_pixels(m, null1, 1, NL_RESAMPLE_BICUBIC, NULL, NULL), "nl_image_pixels: NULL argument");
    float *pix = malloc((size_t)3 * nl_model_image_size(m) * nl_model_image_size(m) * sizeof(float));
    FAILS(nl_image_pixels(m, null1, 1, NL_RESAMPLE_BICUBIC, pix, NULL), "image 0: the path is NULL");
    free(pix);
    FAILS(nl_rgb_pixels(NULL, NULL, 1, NL_RESAMPLE_BICUBIC, out, NULL), "nl_rgb_pixels: NULL argument");
    FAILS(nl_embed_image_buffers(NULL, NULL, 1, NL_RESAMPLE_BICUBIC, out, NULL, NULL),
          "nl_embed_image_buffers: NULL argument");
    FAILS(nl_preprocess_rgb(NULL, 224, NL_RESAMPLE_BICUBIC, (uint8_t *)out), "nl_preprocess_rgb: NULL argument");
    FAILS(nl_preprocess_file(NULL, 224, NL_RESAMPLE_BICUBIC, (uint8_t *)out), "nl_preprocess_file: NULL argument");
    FAILS(nl_preprocess_file(img, 224, NL_RESAMPLE_BICUBIC, NULL), "nl_preprocess_file: NULL argument");
    FAILS(nl_embed_words(NULL, &eo, null1, 1, tmpl, 1, out), "nl_embed_words: NULL argument");
    FAILS(nl_embed_words(m, &eo, NULL, 1, tmpl, 1, out), "nl_embed_words: NULL argument");
    FAILS(nl_embed_words(m, &eo, tmpl, 1, NULL, 1, out), "nl_embed_words: NULL argument");
    FAILS(nl_embed_words(m, &eo, tmpl, 1, null_tmpl, 1, out), "nl_embed_words: NULL argument");
    FAILS(nl_embed_words(m, &eo, null1, 1, tmpl, 1, out), "nl_embed_words: word 0 is NULL");
    FAILS(nl_embed_words_raw(m, NULL, null1, 1, tmpl, 1, out), "nl_embed_words_raw: word 0 is NULL");
    FAILS(nl_embed_words_raw(m, NULL, tmpl, 1, tmpl, 1, NULL), "nl_embed_words_raw: NULL argument");
    FAILS(nl_embed_prompts(m, NULL, NULL, 1, out), "nl_embed_prompts: NULL argument");
    FAILS(nl_embed_prompts(m, NULL, null1, 1, out), "text 0: the text is NULL");
    FAILS(nl_embed_image_files(NULL, NULL, NL_RESAMPLE_BICUBIC, null1, 1, out, st, NULL),
          "nl_embed_image_files: NULL argument");
    /* no status array: the failed image fails the call (before: a zero row and success) */
    FAILS(nl_embed_image_files(m, NULL, NL_RESAMPLE_BICUBIC, null1, 1, out, NULL, NULL), "image 0: the path is NULL");
    CHECK(nl_embed_image_files(m, NULL, NL_RESAMPLE_BICUBIC, null1, 1, out, st, NULL) == 0 && st[0] == -1,
          "with a status array, the NULL path is that row's failure: %s", nl_last_error());
    {
        size_t good[2], ng = 9;
        FAILS(nl_embed_image_files_readable(m, NULL, NL_RESAMPLE_BICUBIC, null1, 1, 0, out, good, NULL, NULL),
              "nl_embed_image_files_readable: NULL argument");
        FAILS(nl_embed_image_files_readable(m, NULL, NL_RESAMPLE_BICUBIC, null1, 1, 0, out, NULL, &ng, NULL),
              "nl_embed_image_files_readable: NULL argument");
    }
    nl_normalize_rows(NULL, 3, 4);

    /* files, lists, templates */
    FAILS(nl_write_file_atomic(NULL, "x", 1), "nl_write_file_atomic: NULL argument");
    FAILS(nl_write_file_atomic("/nonexistent/x", NULL, 1), "nl_write_file_atomic: NULL argument");
    FAILS(nl_npy_load(NULL, (float **)&ids, &n, &n), "nl_npy_load: NULL argument");
    FAILS(nl_npy_save(NULL, out, 1, 1), "nl_npy_save: NULL argument");
    FAILS(nl_npy_save("/nonexistent/x.npy", NULL, 1, 1), "nl_npy_save: NULL argument");
    FAILS(nl_read_lines(NULL, &sv), "nl_read_lines: NULL argument");
    FAILS(nl_read_lines(img, NULL), "nl_read_lines: NULL argument");
    FAILS(nl_read_id_labels(NULL, 0, &sv), "nl_read_lines: NULL argument");
    FAILS(nl_collect_images(NULL, &sv), "nl_collect_images: NULL argument");
    FAILS(nl_collect_images(dir, NULL), "nl_collect_images: NULL argument");
    FAILS(nl_strvec_push(NULL, "x"), "nl_strvec_push: NULL argument");
    FAILS(nl_strvec_push(&sv, NULL), "nl_strvec_push: NULL argument");
    FAILS(nl_strvec_push_owned(NULL, strdup("x")), "nl_strvec_push_owned: NULL argument"); /* frees it */
    nl_strvec_free(NULL);
    CHECK(nl_apply_template(NULL, "x") == NULL && strstr(nl_last_error(), "nl_apply_template: NULL argument"),
          "template NULL: %s", nl_last_error());
    CHECK(nl_apply_template("a {}", NULL) == NULL && strstr(nl_last_error(), "nl_apply_template: NULL argument"),
          "word NULL: %s", nl_last_error());
    nl_csv_field(NULL, "x");
    nl_csv_field(stdout, NULL);
    FAILS(nl_convert_checkpoint(NULL, NULL), "NULL argument");

    /* corpus, mining, scoring, metrics */
    FAILS(nl_corpus_load(NULL, &corpus), "corpus: give exactly one");
    FAILS(nl_corpus_check(NULL), "corpus: give exactly one");
    FAILS(nl_mine_check(NULL, NULL), "nl_mine_check: NULL argument");
    {
        nl_corpus_params cp = {0};
        FAILS(nl_corpus_load(&cp, NULL), "nl_corpus_load: NULL argument");
    }
    FAILS(nl_corpus_write(NULL, "/nonexistent/c"), "nl_corpus_write: NULL argument");
    nl_corpus_free(NULL);
    {
        size_t *sel = NULL, ns = 0;
        uint8_t pos[2] = {0, 0};
        nl_mine_params mp = nl_mine_default_params();
        FAILS(nl_mine(NULL, 2, out, 2, pos, 4, &mp, &sel, &ns, NULL), "nl_mine: NULL argument");
        FAILS(nl_mine(out, 2, NULL, 2, pos, 4, &mp, &sel, &ns, NULL), "nl_mine: NULL argument");
        FAILS(nl_mine(out, 2, out, 2, NULL, 4, &mp, &sel, &ns, NULL), "nl_mine: NULL argument");
        FAILS(nl_mine(out, 2, out, 2, pos, 4, &mp, NULL, &ns, NULL), "nl_mine: NULL argument");
        FAILS(nl_mine(out, 2, out, 2, pos, 4, &mp, &sel, NULL, NULL), "nl_mine: NULL argument");
    }
    {
        nl_score_params sp = nl_score_default_params(NL_METHOD_NEGLABEL);
        sp.ngroup = 1;
        FAILS(nl_score(NULL, 2, out, 2, out, 2, 4, &sp, sc, NULL, NULL), "nl_score: NULL argument");
        FAILS(nl_score(out, 2, NULL, 2, out, 2, 4, &sp, sc, NULL, NULL), "nl_score: NULL argument");
        FAILS(nl_score(out, 2, out, 2, NULL, 2, 4, &sp, sc, NULL, NULL), "nl_score: NULL argument");
        FAILS(nl_score(out, 2, out, 2, out, 2, 4, &sp, NULL, NULL, NULL), "nl_score: NULL argument");
        FAILS(nl_score(out, 2, out, 2, out, 2, 4, NULL, sc, NULL, NULL), "score: no parameters");
        FAILS(nl_score_check(NULL, 2, 2, 4), "score: no parameters");
        /* the checks without images: what nl_score would refuse */
        CHECK(nl_score_check(&sp, 2, 2, 4) == 0, "nl_score_check: %s", nl_last_error());
        sp.ngroup = 3;
        FAILS(nl_score_check(&sp, 2, 2, 4), "ngroup 3 outside [1, 2]");
        FAILS(nl_score(out, 2, out, 2, out, 2, 4, &sp, sc, NULL, NULL), "ngroup 3 outside [1, 2]");
        nl_score_params so = nl_score_default_params(NL_METHOD_OODD);
        so.ngroup = 1;
        so.oodd_queue = 10;
        so.oodd_k = 100;
        FAILS(nl_score_check(&so, 2, 2, 4), "oodd");
        nl_score_params sa = nl_score_default_params(NL_METHOD_ADANEG);
        sa.ngroup = 1;
        sa.adaneg_thres = 2;
        FAILS(nl_score_check(&sa, 2, 2, 4), "score: adaneg: thres must be in [0, 1]"); /* as oodd's: "score: " */
    }
    FAILS(nl_compute_metrics(NULL, 2, sc, 2, NL_FPR95_NEGLABEL, &met), "nl_compute_metrics: NULL argument");
    FAILS(nl_compute_metrics(sc, 2, NULL, 2, NL_FPR95_NEGLABEL, &met), "nl_compute_metrics: NULL argument");
    FAILS(nl_compute_metrics(sc, 2, sc, 2, NL_FPR95_NEGLABEL, NULL), "nl_compute_metrics: NULL argument");
    double *rs = NULL;
    FAILS(nl_read_scores(NULL, NULL, &rs, &n), "nl_read_scores: NULL argument");
    FAILS(nl_read_scores(img, NULL, NULL, &n), "nl_read_scores: NULL argument");
    FAILS(nl_read_scores(img, NULL, &rs, NULL), "nl_read_scores: NULL argument");
    FAILS(nl_ensemble_raw(NULL, 1, 1, 4, out), "nl_ensemble_raw: NULL argument");
    FAILS(nl_ensemble_raw(out, 1, 1, 4, NULL), "nl_ensemble_raw: NULL argument");
    FAILS(nl_csp_phrases(NULL, 1, &sv), "CSP phrases: no corpus");
    FAILS(nl_csp_phrases(NULL, 1, NULL), "nl_csp_phrases: NULL argument");
    CHECK(nl_csp_exclude(NULL) && nl_csp_noun_templates(NULL) && nl_csp_superclasses(NULL) &&
              nl_csp_adj_templates(NULL),
          "CSP lists without a count");

    /* negatives, eval */
    FAILS(nl_negatives_read(NULL, &neg), "nl_negatives_read: NULL argument");
    FAILS(nl_negatives_read(img, NULL), "nl_negatives_read: NULL argument");
    FAILS(nl_negatives_write(NULL, &neg, NULL), "nl_negatives_write: NULL argument");
    FAILS(nl_negatives_write("/nonexistent/n", NULL, NULL), "nl_negatives_write: NULL argument");
    FAILS(nl_negatives_embed(m, &eo, NULL, NULL, out), "nl_negatives_embed: NULL argument");
    {
        nl_templates tn = nl_templates_default();
        FAILS(nl_templates_for_negatives(NULL, 0, &neg, NULL), "nl_templates_for_negatives: NULL argument");
        FAILS(nl_templates_for_negatives(&tn, 1, NULL, NULL), "nl_templates_for_negatives: NULL argument");
    }
    nl_negatives_free(NULL);
    {
        nl_templates t = nl_templates_default();
        nl_corpus_params cp = {0};
        FAILS(nl_mine_model(NULL, &eo, out, 1, &cp, NULL, NULL, &t, &neg, NULL, NULL), "nl_mine_model: NULL argument");
        FAILS(nl_mine_model(m, &eo, out, 1, &cp, NULL, NULL, NULL, &neg, NULL, NULL), "nl_mine_model: NULL argument");
        FAILS(nl_mine_model(m, &eo, out, 1, &cp, NULL, NULL, &t, NULL, NULL, NULL), "nl_mine_model: NULL argument");
    }
    /* NULL arrays behind counts in the structs the caller fills (before: a
     * NULL dereference in each), and NULL options for nl_mine_model as for
     * the other embedding calls (before: a crash after the corpus loaded) */
    {
        nl_templates t = nl_templates_default();
        t.noun = NULL;
        FAILS(nl_mine_check(NULL, &t), "nl_mine_check: NULL argument");
        t = nl_templates_default();
        t.adj = NULL;
        FAILS(nl_mine_check(NULL, &t), "nl_mine_check: NULL argument");
        const char *nt[] = {"the {}", NULL};
        t = nl_templates_default();
        t.noun = nt;
        t.n_noun = 2;
        FAILS(nl_mine_check(NULL, &t), "nl_mine_check: noun template 1 is NULL");

        nl_negatives hn;
        memset(&hn, 0, sizeof hn);
        nl_strvec_push(&hn.noun_templates, "the nice {}");
        nl_strvec_push(&hn.words, "dog");
        nl_strvec_push(&hn.prompts, "the nice dog");
        t = nl_templates_default();
        t.noun = NULL;
        FAILS(nl_templates_for_negatives(&t, 1, &hn, "n.tsv"), "nl_templates_for_negatives: NULL argument");
        FAILS(nl_negatives_embed(m, NULL, "n.tsv", &hn, out), "nl_negatives_embed: NULL argument"); /* pos NULL */
        /* a part of speech past NL_POS_ADJ is refused (before: written as "adj") */
        uint8_t bad_pos[1] = {5};
        hn.pos = bad_pos;
        char *np = check_path(check_tmpdir(), "badpos.tsv");
        FAILS(nl_negatives_write(np, &hn, NULL), "negative 1 has bad part of speech 5");
        free(np);
        /* words and prompts of different counts: out's rows would be one or
         * the other (before: no check) */
        uint8_t noun[1] = {NL_POS_NOUN};
        hn.pos = noun;
        nl_strvec_push(&hn.prompts, "the nice cat");
        FAILS(nl_negatives_embed(m, &eo, "n.tsv", &hn, out), "n.tsv: 1 words but 2 prompts");
        hn.pos = NULL;
        nl_negatives_free(&hn);

        char *lists = check_path(check_tmpdir(), "lists"), *f = check_path(lists, "noun.thing.txt");
        mkdir(lists, 0755);
        FILE *fp = fopen(f, "w");
        fputs("lamp\nkite\nmoss\nrope\nvase\ndrum\nbell\n", fp);
        fclose(fp);
        nl_corpus_params cp = {.lists_dir = lists, .n_include = 1};
        FAILS(nl_corpus_check(&cp), "corpus: NULL argument");
        FAILS(nl_corpus_load(&cp, &corpus), "corpus: NULL argument");
        cp.n_include = 0;
        cp.n_exclude = 2;
        FAILS(nl_corpus_check(&cp), "corpus: NULL argument");
        cp.n_exclude = 0;
        nl_strvec drop = {NULL, 1, 0};
        t = nl_templates_default();
        FAILS(nl_mine_model(m, NULL, out, 2, &cp, &drop, NULL, &t, &neg, NULL, NULL), "nl_mine_model: NULL argument");
        float *ce = NULL;
        CHECK(nl_mine_model(m, NULL, out, 2, &cp, NULL, NULL, &t, &neg, &ce, NULL) == 0 && neg.words.n == 1 && ce,
              "nl_mine_model without options: %s", nl_last_error()); /* 15 % of 7 nouns: 1 */
        nl_negatives_free(&neg);
        free(ce);
        /* adjectives in the corpus but no adjective template: refused before
         * any embedding (before: after the nouns' embedding, "no prompt
         * template given") */
        char *fa = check_path(lists, "adj.all.txt");
        fp = fopen(fa, "w");
        fputs("rusty\n", fp);
        fclose(fp);
        t.n_adj = 0;
        FAILS(nl_mine_model(m, NULL, out, 2, &cp, NULL, NULL, &t, &neg, NULL, NULL),
              "mine: the corpus has 1 adjectives, but no adjective template was given");
        unlink(fa);
        free(fa);
        free(f);
        free(lists);
    }
    FAILS(nl_eval(NULL, NULL), "nl_eval: NULL argument");
    {
        nl_eval_params ep = nl_eval_default_params();
        nl_eval_result er;
        ep.n_examples = NL_EVAL_MAX_EXAMPLES + 1; /* a thumbnail each: bounded in the library, not only the CLI */
        FAILS(nl_eval(&ep, &er), "eval: examples must be between 0 and 100 (example images per set in the report), got 101");
        ep.n_examples = -1;
        FAILS(nl_eval(&ep, &er), "got -1");
        nl_eval_result_free(&er);
    }
    /* nl_eval checks the scoring parameters before the work: tau before the
     * model loads, ngroup against the mined negatives before any image is
     * embedded (before: after the model and the ID set's embedding) */
    {
        const char *tmp = check_tmpdir();
        char *labels = check_path(tmp, "id_labels.txt"), *id_list = check_path(tmp, "id.lst");
        char *lists = check_path(tmp, "lists"), *no_model = check_path(tmp, "no-model");
        FILE *fp = fopen(labels, "w");
        fputs("dog\ncat\n", fp);
        fclose(fp);
        fp = fopen(id_list, "w"); /* an unreadable image, fatal with strict: reached only by embedding */
        fprintf(fp, "%s\n%s\n", img, "/nonexistent/unreadable.jpg");
        fclose(fp);
        const char *names[] = {"o"}, *specs[] = {id_list};
        nl_eval_params ep = nl_eval_default_params();
        ep.model_dir = no_model;
        ep.id_labels = labels;
        ep.id_spec = id_list;
        ep.ood_names = names;
        ep.ood_specs = specs;
        ep.n_ood = 1;
        ep.corpus.wordnet_dir = NULL;
        ep.corpus.lists_dir = lists; /* 7 nouns */
        ep.mine.fraction = 1;
        ep.strict = 1;
        ep.embed.quiet = 1;
        ep.score[NL_METHOD_NEGLABEL].tau = 0;
        FAILS(nl_eval(&ep, NULL), "eval, neglabel: score: tau must be positive");
        ep.score[NL_METHOD_NEGLABEL].tau = 0.01;
        ep.model_dir = dir;
        FAILS(nl_eval(&ep, NULL), "eval, neglabel: score: ngroup 100 outside [1, 7]");
        ep.score[NL_METHOD_NEGLABEL].ngroup = 3;
        FAILS(nl_eval(&ep, NULL), "unreadable.jpg"); /* and with a good ngroup, the images are embedded */
        free(labels);
        free(id_list);
        free(lists);
        free(no_model);
    }
    nl_eval_result_free(NULL);
    /* partly filled by a caller (a count set, its array not allocated): the
     * free functions free what is there (before: a NULL dereference) */
    {
        nl_corpus pc = {.n = 2, .word = calloc(2, sizeof(char *))};
        pc.word[0] = strdup("kite");
        nl_corpus_free(&pc);
        nl_corpus_free(&pc);
        nl_strvec ps = {NULL, 3, 0};
        nl_strvec_free(&ps);
        nl_eval_result pr;
        memset(&pr, 0, sizeof pr);
        pr.n_ood = 2;
        pr.id.name = strdup("ID");
        nl_eval_result_free(&pr);
        nl_eval_result_free(&pr);
        nl_negatives pn;
        memset(&pn, 0, sizeof pn);
        pn.words.n = 4;
        nl_negatives_free(&pn);
        CHECK(pc.n == 0 && ps.n == 0 && pr.n_ood == 0 && pn.words.n == 0, "partly filled structs freed and zeroed");
    }

    cancel_cases(m, dim, img);
    progress_cases(m, dim);
    plain_progress_cases(m, dim, img);
    nl_model_free(m);
    free(out);
    free(dir);
    free(img);
    return check_done();
}
