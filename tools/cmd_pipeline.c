/* cmd_pipeline.c — the NegLabel commands: corpus, mine, score,
 * score-embeddings, metrics, eval. Each parses options and calls the
 * library; the work is in src/. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "neglabel.h"

/* Options shared by several commands. */
typedef struct {
    cli_list include, exclude, noun_t, adj_t;
    const char *wordnet, *lists;
    nl_corpus_params corpus;
    nl_mine_params mine;
    nl_score_params score;
    int method_set, tau_set, perm_set, cut_set, ngroup_set;
    double tau;
    const char *mcm_template;
    int allow_dups, remove_id;
    int strict; /* --strict: duplicate ID labels and unreadable images are errors */
} common_opts;

static void common_init(common_opts *c) {
    memset(c, 0, sizeof *c);
    c->mine = nl_mine_default_params();
    c->score = nl_score_default_params(NL_METHOD_NEGLABEL);
    c->mine.n_threads = c->score.n_threads = cli_g.model.n_threads; /* --threads */
    c->mcm_template = NL_TEMPLATE_MCM;
    c->allow_dups = 1; /* kept with a warning, as the reference keeps them */
}

static void common_free(common_opts *c) {
    free(c->include.v);
    free(c->exclude.v);
    free(c->noun_t.v);
    free(c->adj_t.v);
}

/* 1: consumed, 0: not ours, -1: bad value (message printed). */
static int corpus_opt(int argc, char **argv, int *i, common_opts *c) {
    const char *v;
    if (cli_opt(argc, argv, i, "--wordnet", &c->wordnet)) return 1;
    if (cli_opt(argc, argv, i, "--lists", &c->lists)) return 1;
    if (cli_opt(argc, argv, i, "--include", &v)) return cli_push(&c->include, v) ? -1 : 1;
    if (cli_opt(argc, argv, i, "--exclude", &v)) return cli_push(&c->exclude, v) ? -1 : 1;
    return 0;
}

static int mine_opt(int argc, char **argv, int *i, common_opts *c) {
    const char *v;
    long l;
    /* ranges as nl_mine_check's, refused here as usage errors (exit 2, as
     * --total and --max-cut) before anything is loaded */
    if (cli_opt(argc, argv, i, "--fraction", &v)) {
        if (cli_double("--fraction", v, &c->mine.fraction)) return -1;
        if (!(c->mine.fraction > 0 && c->mine.fraction <= 1)) {
            cli_fail("--fraction expects a number in (0, 1], got '%s'", v);
            return -1;
        }
        return 1;
    }
    if (cli_opt(argc, argv, i, "--quantile", &v)) {
        if (cli_double("--quantile", v, &c->mine.quantile)) return -1;
        if (!(c->mine.quantile >= 0 && c->mine.quantile <= 1)) {
            cli_fail("--quantile expects a number in [0, 1], got '%s'", v);
            return -1;
        }
        return 1;
    }
    if (cli_opt(argc, argv, i, "--total", &v)) {
        if (cli_int("--total", v, 1, 100000000, &l)) return -1;
        c->mine.total = (size_t)l;
        return 1;
    }
    if (cli_opt(argc, argv, i, "--max-cut", &v)) {
        if (cli_double("--max-cut", v, &c->mine.max_cut)) return -1;
        if (!(c->mine.max_cut >= -1 && c->mine.max_cut <= 2)) {
            cli_fail("--max-cut expects a number in [-1, 2]");
            return -1;
        }
        c->cut_set = 1;
        return 1;
    }
    if (cli_opt(argc, argv, i, "--template", &v)) return cli_push(&c->noun_t, v) ? -1 : 1;
    if (cli_opt(argc, argv, i, "--adj-template", &v)) return cli_push(&c->adj_t, v) ? -1 : 1;
    if (cli_opt(argc, argv, i, "--mcm-template", &c->mcm_template)) return 1;
    if (cli_flag(argv, *i, "--allow-duplicate-labels")) return 1; /* the default now; kept for old scripts */
    if (cli_flag(argv, *i, "--strict")) { /* also: no silent fp32 for --precision bf16 */
        c->strict = 1;
        cli_g.model.strict_precision = 1;
        return 1;
    }
    if (cli_flag(argv, *i, "--remove-id-labels")) { c->remove_id = 1; return 1; }
    return 0;
}

static int method_opt(int argc, char **argv, int *i, common_opts *c) {
    const char *v;
    if (!cli_opt(argc, argv, i, "--method", &v)) return 0;
    if (nl_parse_method(v, &c->score.method) != 0) {
        cli_fail("--method expects neglabel, mcm, csp, adaneg or oodd, got '%s'", v);
        return -1;
    }
    c->method_set = 1;
    return 1;
}

/* AdaNeg's and OODD's options (their references' defaults). */
static int stream_opt(int argc, char **argv, int *i, common_opts *c) {
    const char *v;
    long l;
    nl_score_params *s = &c->score;
    struct { const char *name; int *dst; long lo, hi; } ints[] = {
        {"--adaneg-batch", &s->adaneg_batch, 1, 1L << 20}, {"--adaneg-memory", &s->adaneg_memory, 1, 10000},
        {"--oodd-batch", &s->oodd_batch, 1, 1L << 20}, {"--oodd-queue", &s->oodd_queue, 1, 1L << 24},
        {"--oodd-k", &s->oodd_k, 1, 1L << 24}};
    for (size_t k = 0; k < sizeof ints / sizeof *ints; k++)
        if (cli_opt(argc, argv, i, ints[k].name, &v)) {
            if (cli_int(ints[k].name, v, ints[k].lo, ints[k].hi, &l)) return -1;
            *ints[k].dst = (int)l;
            return 1;
        }
    struct { const char *name; double *dst; double lo, hi; } dbl[] = {
        {"--adaneg-thres", &s->adaneg_thres, 0, 1}, {"--adaneg-gap", &s->adaneg_gap, 0, 1},
        {"--adaneg-lambda", &s->adaneg_lambda, 0, 1e6}, {"--adaneg-beta", &s->adaneg_beta, 0, 1e6}};
    for (size_t k = 0; k < sizeof dbl / sizeof *dbl; k++)
        if (cli_opt(argc, argv, i, dbl[k].name, &v)) {
            if (cli_double(dbl[k].name, v, dbl[k].dst)) return -1;
            if (!(*dbl[k].dst >= dbl[k].lo && *dbl[k].dst <= dbl[k].hi)) {
                cli_fail("%s expects a number in [%g, %g]", dbl[k].name, dbl[k].lo, dbl[k].hi);
                return -1;
            }
            return 1;
        }
    if (cli_flag(argv, *i, "--adaneg-sample-adaptive")) { s->adaneg_sample_adaptive = 1; return 1; }
    return 0;
}

static int score_opt(int argc, char **argv, int *i, common_opts *c) {
    const char *v;
    long l;
    int r = method_opt(argc, argv, i, c);
    if (r) return r;
    if ((r = stream_opt(argc, argv, i, c))) return r;
    if (cli_opt(argc, argv, i, "--ngroup", &v)) {
        if (cli_int("--ngroup", v, 1, 100000000, &l)) return -1;
        c->score.ngroup = (int)l;
        c->ngroup_set = 1;
        return 1;
    }
    if (cli_opt(argc, argv, i, "--seed", &v)) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (!(*v >= '0' && *v <= '9') || *end || errno == ERANGE) {
            cli_fail("--seed expects an integer from 0 to %llu, got '%s'", ULLONG_MAX, v);
            return -1;
        }
        c->score.seed = s;
        return 1;
    }
    if (cli_flag(argv, *i, "--no-shuffle")) { c->score.shuffle = 0; return 1; }
    if (cli_opt(argc, argv, i, "--permutation", &v)) {
        if (nl_parse_permutation(v, &c->score.permutation) != 0) {
            cli_fail("--permutation expects splitmix, torch or numpy, got '%s'", v);
            return -1;
        }
        c->perm_set = 1;
        return 1;
    }
    if (cli_opt(argc, argv, i, "--tau", &v)) {
        if (cli_double("--tau", v, &c->tau)) return -1;
        if (!(c->tau > 0) || !isfinite(c->tau)) { cli_fail("--tau must be a positive number"); return -1; }
        c->tau_set = 1;
        return 1;
    }
    return 0;
}

/* The options as the library takes them; 2 (a usage error, said) for
 * values that contradict each other. */
static int common_finish(common_opts *c, const char *cmd) {
    if (c->score.oodd_k > c->score.oodd_queue)
        return cli_bad_value(cmd, "--oodd-k %d is past the queue's %d images (--oodd-queue)", c->score.oodd_k,
                         c->score.oodd_queue);
    if (c->strict) c->allow_dups = 0;
    c->corpus.wordnet_dir = c->wordnet;
    c->corpus.lists_dir = c->lists;
    c->corpus.include = c->include.v;
    c->corpus.n_include = c->include.n;
    c->corpus.exclude = c->exclude.v;
    c->corpus.n_exclude = c->exclude.n;
    if (!c->wordnet && !c->lists) c->corpus.wordnet_dir = "/usr/share/wordnet";
    if (c->score.method == NL_METHOD_CSP) {
        if (!c->include.n && !c->exclude.n) { /* CSP's word lists' categories */
            nl_eval_params d = nl_eval_default_params();
            c->corpus.exclude = d.csp_corpus.exclude;
            c->corpus.n_exclude = d.csp_corpus.n_exclude;
            c->corpus.absent_ok = d.csp_corpus.absent_ok;
        }
        if (!c->cut_set) c->mine.max_cut = 0.95;
    }
    if (c->method_set) {
        nl_score_params d = nl_score_default_params(c->score.method);
        c->score.tau = d.tau;
        if (!c->perm_set) c->score.permutation = d.permutation;
        if (!c->ngroup_set) c->score.ngroup = d.ngroup;
    }
    if (c->tau_set) c->score.tau = c->tau;
    return 0;
}

static nl_templates common_templates(const common_opts *c) {
    nl_templates t = c->score.method == NL_METHOD_CSP ? nl_templates_csp() : nl_templates_default();
    if (c->noun_t.n) { t.noun = c->noun_t.v; t.n_noun = c->noun_t.n; }
    if (c->adj_t.n) { t.adj = c->adj_t.v; t.n_adj = c->adj_t.n; }
    t.mcm = c->mcm_template;
    return t;
}

/* Dispatch an option to the groups a command accepts. A plain block, not
 * do-while(0): its `continue` must reach the caller's option loop. */
#define TRY(fn)                                   \
    {                                             \
        int r_ = fn(argc, argv, &i, &c);          \
        if (r_ < 0) { rc = 2; goto out; }         \
        if (r_ > 0) continue;                     \
    }

static nl_embed_opts embed_opts(void) {
    nl_embed_opts o = {cli_g.cache_dir, cli_g.quiet};
    return o;
}

int cmd_corpus(int argc, char **argv) {
    common_opts c;
    common_init(&c);
    const char *out = NULL;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        TRY(corpus_opt);
        if (cli_opt(argc, argv, &i, "-o", &out) || cli_opt(argc, argv, &i, "--output", &out)) continue;
        rc = cli_usage("corpus", "unknown option '%s'", argv[i]);
        goto out;
    }
    if (!out) { rc = cli_usage("corpus", "-o FILE is required"); goto out; }
    if ((rc = common_finish(&c, "corpus"))) goto out;
    nl_corpus corpus;
    if (nl_corpus_load(&c.corpus, &corpus) != 0) { rc = cli_fail("%s", nl_last_error()); goto out; }
    if (nl_corpus_write(&corpus, out) != 0) rc = cli_fail("%s", nl_last_error());
    else if (!cli_g.quiet) /* -q: errors and warnings only */
        fprintf(stderr, "corpus: %zu nouns + %zu adjectives = %zu candidates\n", corpus.n_noun, corpus.n_adj, corpus.n);
    nl_corpus_free(&corpus);
out:
    common_free(&c);
    return rc;
}

int cmd_mine(int argc, char **argv) {
    common_opts c;
    common_init(&c);
    const char *model = NULL, *labels_path = NULL, *out = NULL;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        TRY(corpus_opt);
        TRY(mine_opt);
        TRY(method_opt);
        if (cli_opt(argc, argv, &i, "--model", &model) || cli_opt(argc, argv, &i, "--id-labels", &labels_path)) continue;
        if (cli_opt(argc, argv, &i, "-o", &out) || cli_opt(argc, argv, &i, "--output", &out)) continue;
        rc = cli_usage("mine", "unknown option '%s'", argv[i]);
        goto out;
    }
    if ((rc = cli_required("mine", 3, "--model", model != NULL, "--id-labels", labels_path != NULL, "-o", out != NULL))) goto out;
    if (c.score.method == NL_METHOD_MCM) { rc = cli_usage("mine", "--method mcm uses no negatives"); goto out; }
    if ((rc = common_finish(&c, "mine"))) goto out;
    nl_strvec labels = {0};
    nl_negatives neg = {0};
    float *id_emb = NULL;
    double *qsim = NULL;
    nl_model *m = NULL;
    nl_embed_opts o = embed_opts();
    nl_templates t = common_templates(&c);
    rc = 1;
    if (nl_read_id_labels(labels_path, c.allow_dups, &labels) != 0) { cli_fail("%s", nl_last_error()); goto done; }
    if (nl_mine_check(&c.mine, &t) != 0 || nl_corpus_check(&c.corpus) != 0) { /* before the model */
        cli_fail("%s", nl_last_error());
        goto done;
    }
    if (!(m = cli_load_model(model))) goto done;
    size_t dim = (size_t)nl_model_dim(m);
    if (!(id_emb = malloc(labels.n * dim * sizeof(float)))) { cli_fail("out of memory"); goto done; }
    if ((t.raw_mean ? nl_embed_words_raw : nl_embed_words)(m, &o, (const char *const *)labels.v, labels.n, t.noun,
                                                           t.n_noun, id_emb) != 0 ||
        nl_mine_model(m, &o, id_emb, labels.n, &c.corpus, c.remove_id ? &labels : NULL, &c.mine, &t, &neg, NULL, &qsim) != 0 ||
        nl_negatives_write(out, &neg, qsim) != 0) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    rc = 0;
done:
    nl_strvec_free(&labels);
    nl_negatives_free(&neg);
    free(id_emb);
    free(qsim);
    nl_model_free(m);
out:
    common_free(&c);
    return rc;
}

int cmd_score(int argc, char **argv) {
    common_opts c;
    common_init(&c);
    const char *model = NULL, *labels_path = NULL, *neg_path = NULL, *v;
    int resample = NL_RESAMPLE_MODEL, rc = 0;
    cli_list operands = {0}, lists = {0}; /* --list is repeatable, as embed's */
    nl_strvec images = {0};
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) { /* the end of the options: IMAGE... may start with '-' */
            while (++i < argc) cli_push(&operands, argv[i]);
            break;
        }
        TRY(score_opt);
        TRY(mine_opt);
        TRY(corpus_opt);
        if (cli_opt(argc, argv, &i, "--model", &model) || cli_opt(argc, argv, &i, "--id-labels", &labels_path) ||
            cli_opt(argc, argv, &i, "--negatives", &neg_path))
            continue;
        if (cli_opt(argc, argv, &i, "--list", &v)) {
            if (cli_push(&lists, v) != 0) { rc = cli_fail("out of memory"); goto out; }
            continue;
        }
        if (cli_opt(argc, argv, &i, "--resample", &v)) { if (cli_resample(v, &resample)) { rc = 2; goto out; } continue; }
        if (argv[i][0] == '-' && argv[i][1]) { rc = cli_usage("score", "unknown option '%s'", argv[i]); goto out; }
        cli_push(&operands, argv[i]);
    }
    if ((rc = common_finish(&c, "score"))) goto out;
    if ((rc = cli_required("score", 2, "--model", model != NULL, "--id-labels", labels_path != NULL))) goto out;
    if (!operands.n && !lists.n) { rc = cli_usage("score", "no images: give IMAGE... or --list FILE"); goto out; }
    nl_strvec labels = {0};
    nl_negatives neg = {0};
    float *id_emb = NULL, *neg_emb = NULL, *img = NULL;
    double *scores = NULL;
    size_t *top_id = NULL, *top_neg = NULL, *which = NULL, good = 0;
    nl_model *m = NULL;
    nl_embed_opts o = embed_opts();
    nl_templates t = common_templates(&c);
    size_t dim = 0, n = 0;
    rc = 1;
    /* the operands in order, a folder's images (walked as --list walks
     * one) in its place; then each --list's */
    for (size_t k = 0; k < operands.n + lists.n; k++) {
        const char *a = k < operands.n ? operands.v[k] : lists.v[k - operands.n];
        struct stat st;
        if (k < operands.n && (stat(a, &st) != 0 || !S_ISDIR(st.st_mode))) {
            if (nl_strvec_push(&images, a) != 0) { cli_fail("out of memory"); goto done; }
            continue;
        }
        nl_strvec found;
        if (nl_collect_images(a, &found) != 0) { cli_fail("%s", nl_last_error()); goto done; }
        int bad = 0;
        for (size_t j = 0; j < found.n && !bad; j++) bad = nl_strvec_push(&images, found.v[j]) != 0;
        nl_strvec_free(&found);
        if (bad) { cli_fail("out of memory"); goto done; }
    }
    if (nl_read_id_labels(labels_path, c.allow_dups, &labels) != 0) { cli_fail("%s", nl_last_error()); goto done; }
    if (neg_path && c.score.method == NL_METHOD_MCM) { /* read and embedded for nothing before */
        fprintf(stderr, "neglabel: warning: --negatives is not used by --method mcm: %s ignored\n", neg_path);
        neg_path = NULL;
    }
    if (neg_path && nl_negatives_read(neg_path, &neg) != 0) { cli_fail("%s", nl_last_error()); goto done; }
    /* the ID labels are embedded with the negatives' own templates */
    if (neg_path && c.score.method != NL_METHOD_MCM && nl_templates_for_negatives(&t, c.noun_t.n > 0, &neg, neg_path) != 0) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    if (c.score.method != NL_METHOD_MCM && !neg_path && /* mined: checked before the model */
        (nl_mine_check(&c.mine, &t) != 0 || nl_corpus_check(&c.corpus) != 0)) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    if (!(m = cli_load_model(model))) goto done;
    dim = (size_t)nl_model_dim(m);
    n = images.n;
    id_emb = malloc(labels.n * dim * sizeof(float));
    neg_emb = malloc((neg.words.n + 1) * dim * sizeof(float));
    img = malloc(n * dim * sizeof(float));
    scores = malloc(n * sizeof(double));
    top_id = malloc(n * sizeof(size_t));
    top_neg = malloc(n * sizeof(size_t));
    which = malloc(n * sizeof(size_t));
    if (!id_emb || !neg_emb || !img || !scores || !top_id || !top_neg || !which) { cli_fail("out of memory"); goto done; }
    int mcm = c.score.method == NL_METHOD_MCM;
    const char *const *tp = mcm ? &t.mcm : t.noun;
    if ((t.raw_mean && !mcm ? nl_embed_words_raw : nl_embed_words)(m, &o, (const char *const *)labels.v, labels.n, tp,
                                                                    mcm ? 1 : t.n_noun, id_emb) != 0) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    if (!mcm && !neg_path) {
        /* No --negatives: mine them now, as `mine` would (the candidates'
         * embeddings are cached, so later runs only embed the images). */
        float *mined = NULL;
        if (nl_mine_model(m, &o, id_emb, labels.n, &c.corpus, c.remove_id ? &labels : NULL, &c.mine, &t, &neg, &mined,
                          NULL) != 0) {
            cli_fail("%s", nl_last_error());
            goto done;
        }
        free(neg_emb);
        neg_emb = mined;
    }
    c.score.device = nl_model_device(m, &c.score.device_index); /* score where the model runs */
    if ((neg_path && nl_negatives_embed(m, &o, neg_path, &neg, neg_emb) != 0) ||
        nl_score_check(&c.score, labels.n, neg.words.n, dim) != 0 || /* before the images are embedded */
        nl_embed_image_files_readable(m, &o, (nl_resample)resample, (const char *const *)images.v, n, c.strict, img, which, &good, NULL) !=
            0) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    if (nl_score(img, good, id_emb, labels.n, neg_emb, neg.words.n, dim, &c.score, scores, top_id,
                 neg.words.n ? top_neg : NULL) != 0) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    printf("path,score,top_id_label,top_negative_label\n");
    for (size_t g = 0; g < good; g++) {
        nl_csv_field(stdout, images.v[which[g]]);
        printf(",%.17g,", scores[g]); /* a double: every digit, as eval's scores.csv (metrics reads it back) */
        /* SIZE_MAX: a NaN score, no label (nl_score warned) */
        if (top_id[g] != SIZE_MAX) nl_csv_field(stdout, labels.v[top_id[g]]);
        putchar(',');
        if (neg.words.n && top_neg[g] != SIZE_MAX) nl_csv_field(stdout, neg.words.v[top_neg[g]]);
        putchar('\n');
    }
    rc = 0;
done:
    free(which);
    free(top_id);
    free(top_neg);
    free(scores);
    free(img);
    free(id_emb);
    free(neg_emb);
    nl_model_free(m);
    nl_negatives_free(&neg);
    nl_strvec_free(&labels);
out:
    nl_strvec_free(&images);
    free(operands.v);
    free(lists.v);
    common_free(&c);
    return rc;
}

int cmd_score_embeddings(int argc, char **argv) {
    common_opts c;
    common_init(&c);
    const char *idp = NULL, *negp = NULL, *imgp = NULL;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        TRY(score_opt);
        if (cli_opt(argc, argv, &i, "--id", &idp) || cli_opt(argc, argv, &i, "--neg", &negp) ||
            cli_opt(argc, argv, &i, "--images", &imgp))
            continue;
        rc = cli_usage("score-embeddings", "unknown option '%s'", argv[i]);
        goto out;
    }
    if ((rc = common_finish(&c, "score-embeddings"))) goto out;
    if (!idp || !imgp || (c.score.method != NL_METHOD_MCM && !negp)) {
        rc = cli_usage("score-embeddings", "--id ID.npy, --images IMG.npy and (for every method but MCM) --neg NEG.npy are required");
        goto out;
    }
    float *id = NULL, *neg = NULL, *img = NULL;
    size_t nid = 0, nneg = 0, nimg = 0, did = 0, dneg = 0, dimg = 0;
    double *scores = NULL;
    rc = 1;
    if (nl_npy_load(idp, &id, &nid, &did) != 0 || (negp && nl_npy_load(negp, &neg, &nneg, &dneg) != 0) ||
        nl_npy_load(imgp, &img, &nimg, &dimg) != 0) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    if (did != dimg || (negp && dneg != dimg)) {
        if (negp) /* one line, as every error */
            cli_fail("embedding dimensions differ: %s has %zu columns, %s %zu, %s %zu", idp, did, negp, dneg, imgp, dimg);
        else
            cli_fail("embedding dimensions differ: %s has %zu columns, %s %zu", idp, did, imgp, dimg);
        goto done;
    }
    /* No normalisation here: nl_score takes raw rows (cosines in double). */
    if (!(scores = malloc((nimg + 1) * sizeof(double)))) { cli_fail("out of memory"); goto done; }
    cli_compute_device(&c.score.device, &c.score.device_index);
    if (nl_score(img, nimg, id, nid, neg, nneg, dimg, &c.score, scores, NULL, NULL) != 0) {
        cli_fail("%s", nl_last_error());
        goto done;
    }
    for (size_t k = 0; k < nimg; k++) printf("%.17g\n", scores[k]);
    rc = 0;
done:
    free(id);
    free(neg);
    free(img);
    free(scores);
out:
    common_free(&c);
    return rc;
}

int cmd_metrics(int argc, char **argv) {
    const char *idp = NULL, *oodp = NULL, *column = NULL, *v;
    nl_fpr_convention conv = NL_FPR95_NEGLABEL;
    for (int i = 2; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--id-scores", &idp) || cli_opt(argc, argv, &i, "--ood-scores", &oodp) ||
            cli_opt(argc, argv, &i, "--column", &column))
            continue;
        if (cli_opt(argc, argv, &i, "--convention", &v)) {
            if (!strcmp(v, "neglabel")) conv = NL_FPR95_NEGLABEL;
            else if (!strcmp(v, "openood")) conv = NL_FPR95_OPENOOD;
            else return cli_bad_value("metrics", "--convention expects neglabel or openood, got '%s'", v);
            continue;
        }
        return cli_usage("metrics", "unknown option '%s'", argv[i]);
    }
    if (!idp || !oodp) return cli_usage("metrics", "--id-scores FILE and --ood-scores FILE are required");
    double *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int rc = 0;
    if (nl_read_scores(idp, column, &a, &na) != 0 || nl_read_scores(oodp, column, &b, &nb) != 0)
        rc = cli_fail("%s", nl_last_error());
    nl_metrics mt;
    if (!rc && nl_compute_metrics(a, na, b, nb, conv, &mt) != 0) rc = cli_fail("%s", nl_last_error());
    if (!rc)
        printf("{\"auroc\":%.17g,\"aupr_in\":%.17g,\"aupr_out\":%.17g,\"fpr95\":%.17g,\"convention\":\"%s\"}\n",
               mt.auroc, mt.aupr_in, mt.aupr_out, mt.fpr95, nl_fpr_convention_name(conv));
    free(a);
    free(b);
    return rc;
}

/* eval's --method: a name, a comma-separated list, or "all"; repeatable. */
static int eval_methods(const char *v, nl_eval_params *p) {
    char buf[256];
    size_t got = 0;
    if (strlen(v) >= sizeof buf) { /* was cut silently, dropping the methods past it */
        cli_fail("--method: a list of %zu characters (at most %zu)", strlen(v), sizeof buf - 1);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), got++) {
        nl_method all[NL_METHOD_COUNT] = {NL_METHOD_NEGLABEL, NL_METHOD_MCM, NL_METHOD_CSP, NL_METHOD_ADANEG,
                                          NL_METHOD_OODD};
        nl_method one;
        size_t n = 1;
        if (!strcmp(t, "all")) n = NL_METHOD_COUNT;
        else if (nl_parse_method(t, &one) != 0) {
            cli_fail("--method expects neglabel, mcm, csp, adaneg, oodd or all, got '%s'", t);
            return -1;
        } else all[0] = one;
        for (size_t k = 0; k < n; k++) {
            int dup = 0;
            for (size_t j = 0; j < p->n_methods; j++) dup |= p->methods[j] == all[k];
            if (!dup) p->methods[p->n_methods++] = all[k];
        }
    }
    if (!got) { cli_fail("--method: no method in '%s'", v); return -1; }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    common_opts c;
    common_init(&c);
    nl_eval_params p = nl_eval_default_params();
    p.n_methods = 0;
    cli_list names = {0}, specs = {0};
    const char *v;
    int resample = NL_RESAMPLE_MODEL, rc = 0;
    double mcm_tau = 1.0;
    long l;
    p.out_dir = "neglabel-eval";
    for (int i = 2; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--method", &v)) {
            if (eval_methods(v, &p)) { rc = 2; goto out; }
            continue;
        }
        TRY(corpus_opt);
        TRY(mine_opt);
        TRY(score_opt);
        if (cli_opt(argc, argv, &i, "--id", &v)) { /* one ID set: a second one was the one used, silently */
            if (p.id_spec) { rc = cli_usage("eval", "--id given twice ('%s', '%s'): one ID set (a folder or a list)",
                                            p.id_spec, v); goto out; }
            p.id_spec = v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--model", &p.model_dir) || cli_opt(argc, argv, &i, "--id-labels", &p.id_labels) ||
            cli_opt(argc, argv, &i, "--negatives", &p.negatives) || cli_opt(argc, argv, &i, "--out", &p.out_dir))
            continue;
        if (cli_opt(argc, argv, &i, "--ood", &v)) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || !eq[1]) { rc = cli_bad_value("eval", "--ood expects NAME=DIR|LIST, got '%s'", v); goto out; }
            char *name = strndup(v, (size_t)(eq - v));
            cli_push(&names, name);
            cli_push(&specs, eq + 1);
            continue;
        }
        if (cli_opt(argc, argv, &i, "--convention", &v)) {
            if (!strcmp(v, "neglabel")) p.convention = NL_FPR95_NEGLABEL;
            else if (!strcmp(v, "openood")) p.convention = NL_FPR95_OPENOOD;
            else { rc = cli_bad_value("eval", "--convention expects neglabel or openood, got '%s'", v); goto out; }
            continue;
        }
        if (cli_opt(argc, argv, &i, "--resample", &v)) { if (cli_resample(v, &resample)) { rc = 2; goto out; } continue; }
        if (cli_opt(argc, argv, &i, "--examples", &v)) {
            if (cli_int("--examples", v, 0, NL_EVAL_MAX_EXAMPLES, &l)) { rc = 2; goto out; }
            p.n_examples = (int)l;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--stream-seed", &v)) {
            if (cli_int("--stream-seed", v, 0, 4294967295L, &l)) { rc = 2; goto out; }
            p.stream_seed = (uint64_t)l;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--mcm-tau", &v)) {
            if (cli_double("--mcm-tau", v, &mcm_tau) || !(mcm_tau > 0) || !isfinite(mcm_tau)) {
                rc = cli_bad_value("eval", "--mcm-tau must be a positive number");
                goto out;
            }
            continue;
        }
        rc = cli_usage("eval", "unknown option '%s'", argv[i]);
        goto out;
    }
    if ((rc = cli_required("eval", 4, "--model", p.model_dir != NULL, "--id-labels", p.id_labels != NULL, "--id",
                           p.id_spec != NULL, "at least one --ood NAME=DIR|LIST", names.n > 0)))
        goto out;
    if (!p.n_methods) { p.methods[0] = NL_METHOD_NEGLABEL; p.methods[1] = NL_METHOD_MCM; p.n_methods = 2; }
    if ((rc = common_finish(&c, "eval"))) goto out;
    p.corpus = c.corpus;
    /* CSP: the same word source; its own categories unless --include/--exclude are given */
    p.csp_corpus.wordnet_dir = c.corpus.wordnet_dir;
    p.csp_corpus.lists_dir = c.corpus.lists_dir;
    if (c.include.n || c.exclude.n) {
        p.csp_corpus.include = c.corpus.include; p.csp_corpus.n_include = c.corpus.n_include;
        p.csp_corpus.exclude = c.corpus.exclude; p.csp_corpus.n_exclude = c.corpus.n_exclude;
        p.csp_corpus.absent_ok = 0; /* the user's names must exist */
    }
    p.mine = c.mine;
    p.csp_mine = c.mine;
    if (!c.cut_set) p.csp_mine.max_cut = 0.95;
    p.templates = common_templates(&c);
    p.templates_given = c.noun_t.n > 0;
    /* Each method keeps its reference defaults; options given apply to
     * every method that has them (--tau not to MCM: --mcm-tau). */
    for (int m = 0; m < NL_METHOD_COUNT; m++) {
        nl_score_params *q = &p.score[m];
        if (c.ngroup_set) q->ngroup = c.score.ngroup;
        if (c.perm_set) q->permutation = c.score.permutation;
        if (c.tau_set && m != NL_METHOD_MCM) q->tau = c.tau;
        q->seed = c.score.seed;
        q->shuffle = c.score.shuffle;
        /* the --adaneg-* and --oodd-* options (their defaults otherwise) */
        q->adaneg_batch = c.score.adaneg_batch;
        q->adaneg_memory = c.score.adaneg_memory;
        q->adaneg_thres = c.score.adaneg_thres;
        q->adaneg_gap = c.score.adaneg_gap;
        q->adaneg_lambda = c.score.adaneg_lambda;
        q->adaneg_sample_adaptive = c.score.adaneg_sample_adaptive;
        q->adaneg_beta = c.score.adaneg_beta;
        q->oodd_batch = c.score.oodd_batch;
        q->oodd_queue = c.score.oodd_queue;
        q->oodd_k = c.score.oodd_k;
    }
    p.score[NL_METHOD_MCM].tau = mcm_tau;
    p.ood_names = names.v;
    p.ood_specs = specs.v;
    p.n_ood = names.n;
    p.resample = (nl_resample)resample;
    p.strict = c.strict;
    p.allow_duplicate_labels = !c.strict;
    p.remove_id_labels = c.remove_id;
    p.embed = embed_opts();
    p.model = cli_g.model;
    nl_eval_result res;
    if (nl_eval(&p, &res) != 0) {
        rc = cli_fail("%s", nl_last_error());
    } else {
        cli_print_eval_table(stdout, &res);
        if (!cli_g.quiet) /* and the negatives this run mined (not a --negatives file it read) */
            fprintf(stderr, "neglabel eval: wrote %s/results.json, scores.csv, report.html%s%s\n", p.out_dir,
                    res.n_negatives && !p.negatives ? ", negatives.tsv" : "",
                    res.n_negatives_csp ? ", negatives-csp.tsv" : "");
    }
    nl_eval_result_free(&res);
out:
    for (size_t k = 0; k < names.n; k++) free((char *)names.v[k]);
    free(names.v);
    free(specs.v);
    common_free(&c);
    return rc;
}
