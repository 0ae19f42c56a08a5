/* eval.c — NegMining with a model, and `neglabel eval` end to end:
 * labels -> negatives -> image embeddings -> NegLabel and MCM scores ->
 * metrics -> results.json, scores.csv, report.html. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "neglabel.h"
#include "image.h"
#include "report.h"
#include "util.h"

static const char *const DEFAULT_NOUN[] = {NL_TEMPLATE_NOUN};
static const char *const DEFAULT_ADJ[] = {NL_TEMPLATE_ADJ};

nl_templates nl_templates_default(void) {
    nl_templates t = {DEFAULT_NOUN, 1, DEFAULT_ADJ, 1, NL_TEMPLATE_MCM, 0, 0, 0};
    return t;
}

nl_templates nl_templates_csp(void) {
    nl_templates t = nl_templates_default();
    t.noun = nl_csp_noun_templates(&t.n_noun);
    t.adj = nl_csp_adj_templates(&t.n_adj);
    t.raw_mean = t.conjugate = 1;
    t.conjugate_seed = 0;
    return t;
}

static int cmp_nocase(const void *a, const void *b) { return strcasecmp(*(char *const *)a, *(char *const *)b); }

/* Remove the corpus words found in drop, keeping the order of the rest;
 * text (NULL or c->n entries, parallel to the corpus) is compacted alike. */
static int corpus_drop(nl_corpus *c, const nl_strvec *drop, nl_strvec *text) {
    char **keys = nli_mallocarray(drop->n + 1, sizeof *keys);
    if (!keys) return -1;
    memcpy(keys, drop->v, drop->n * sizeof *keys);
    qsort(keys, drop->n, sizeof *keys, cmp_nocase);
    size_t k = 0, removed = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (bsearch(&c->word[i], keys, drop->n, sizeof *keys, cmp_nocase)) {
            free(c->word[i]);
            free(c->category[i]);
            if (text) free(text->v[i]);
            if (c->pos[i] == NL_POS_NOUN) c->n_noun--; else c->n_adj--;
            removed++;
            continue;
        }
        c->word[k] = c->word[i];
        c->pos[k] = c->pos[i];
        c->category[k] = c->category[i];
        if (text) text->v[k] = text->v[i];
        k++;
    }
    c->n = k;
    if (text) text->n = k;
    free(keys);
    nli_log(NL_LOG_INFO, "removed %zu candidates equal to an ID label", removed);
    return 0;
}

int nl_mine_model(nl_model *m, const nl_embed_opts *o, const float *id_emb, size_t n_id, const nl_corpus_params *cp,
                  const nl_strvec *drop, const nl_mine_params *mp, const nl_templates *t, nl_negatives *neg, float **emb, double **qsim) {
    size_t dim = (size_t)nl_model_dim(m);
    nl_corpus c;
    memset(neg, 0, sizeof *neg);
    if (emb) *emb = NULL;
    if (qsim) *qsim = NULL;
    if (nl_corpus_load(cp, &c) != 0) return -1;
    /* CSP: phrases drawn over the whole corpus in list order, then the
     * same drop as the words (matched on the words themselves) */
    nl_strvec text = {0};
    if (t->conjugate && nl_csp_phrases(&c, t->conjugate_seed, &text) != 0) { nl_corpus_free(&c); return -1; }
    if (drop && corpus_drop(&c, drop, t->conjugate ? &text : NULL) != 0) {
        nl_corpus_free(&c);
        nl_strvec_free(&text);
        return -1;
    }
    char **label = t->conjugate ? text.v : c.word; /* what the templates are applied to */
    int rc = -1;
    float *ce = nli_mallocarray(c.n * dim + 1, sizeof(float));
    double *qs = nli_mallocarray(c.n + 1, sizeof(double));
    size_t *sel = NULL, n_sel = 0;
    const char **w = nli_mallocarray(c.n + 1, sizeof *w);
    size_t *at = nli_mallocarray(c.n + 1, sizeof *at);
    float *tmp = nli_mallocarray(c.n * dim + 1, sizeof(float));
    if (!ce || !qs || !w || !at || !tmp) goto done;
    /* Embed nouns and adjectives, each with its template ensemble. */
    for (int pos = 0; pos < 2; pos++) {
        size_t k = 0;
        for (size_t i = 0; i < c.n; i++)
            if (c.pos[i] == pos) { w[k] = label[i]; at[k++] = i; }
        if (!k) continue;
        if (!o->quiet) nli_log(NL_LOG_INFO, "embedding %zu %s candidates", k, pos ? "adjective" : "noun");
        if ((t->raw_mean ? nl_embed_words_raw : nl_embed_words)(m, o, w, k, pos ? t->adj : t->noun,
                                                                  pos ? t->n_adj : t->n_noun, tmp) != 0)
            goto done;
        for (size_t j = 0; j < k; j++) memcpy(ce + at[j] * dim, tmp + j * dim, dim * sizeof(float));
    }
    /* Mining runs where the model runs. */
    nl_mine_params mpd = mp ? *mp : nl_mine_default_params();
    mpd.device = nl_model_device(m, &mpd.device_index);
    mpd.n_threads = nl_model_threads(m);
    if (nl_mine(id_emb, n_id, ce, c.n, c.pos, dim, &mpd, &sel, &n_sel, qs) != 0) goto done;
    neg->pos = nli_malloc(n_sel + 1);
    neg->model = nli_strdup(nl_model_fingerprint(m));
    neg->dim = (int)dim;
    neg->raw_mean = t->raw_mean;
    if (!neg->pos || !neg->model) goto done;
    for (size_t i = 0; i < t->n_noun; i++) if (nl_strvec_push(&neg->noun_templates, t->noun[i])) goto done;
    for (size_t i = 0; i < t->n_adj; i++) if (nl_strvec_push(&neg->adj_templates, t->adj[i])) goto done;
    for (size_t i = 0; i < n_sel; i++) {
        size_t j = sel[i];
        neg->pos[i] = c.pos[j];
        if (nl_strvec_push(&neg->words, label[j])) goto done;
        if (nl_strvec_push_owned(&neg->prompts, nl_apply_template(c.pos[j] ? t->adj[0] : t->noun[0], label[j])))
            goto done;
    }
    if (emb) {
        if (!(*emb = nli_mallocarray(n_sel * dim + 1, sizeof(float)))) goto done;
        for (size_t i = 0; i < n_sel; i++) memcpy(*emb + i * dim, ce + sel[i] * dim, dim * sizeof(float));
    }
    if (qsim) {
        if (!(*qsim = nli_mallocarray(n_sel + 1, sizeof(double)))) goto done;
        for (size_t i = 0; i < n_sel; i++) (*qsim)[i] = qs[sel[i]];
    }
    if (!o->quiet)
        nli_log(NL_LOG_INFO, "mined %zu negative labels from %zu candidates (%zu nouns, %zu adjectives%s)", n_sel,
                c.n, c.n_noun, c.n_adj, t->conjugate ? ", conjugated with CSP's superclass phrases" : "");
    rc = 0;
done:
    if (rc != 0) {
        nl_negatives_free(neg);
        if (emb) { free(*emb); *emb = NULL; }
        if (qsim) { free(*qsim); *qsim = NULL; }
    }
    nl_corpus_free(&c);
    nl_strvec_free(&text);
    free(ce);
    free(qs);
    free(sel);
    free(w);
    free(at);
    free(tmp);
    return rc;
}

static void negatives_print(nli_atomic *ap, const nl_negatives *neg, const double *qsim) {
    nli_atomic a = *ap;
    fprintf(a.f, "# neglabel negatives\tmodel=%s\tdim=%d", neg->model ? neg->model : "", neg->dim);
    for (size_t i = 0; i < neg->noun_templates.n; i++) fprintf(a.f, "\tnoun_template=%s", neg->noun_templates.v[i]);
    for (size_t i = 0; i < neg->adj_templates.n; i++) fprintf(a.f, "\tadj_template=%s", neg->adj_templates.v[i]);
    if (neg->raw_mean) fprintf(a.f, "\tensemble=raw");
    fprintf(a.f, "\tcount=%zu\n", neg->words.n);
    for (size_t i = 0; i < neg->words.n; i++) {
        fprintf(a.f, "%s\t%s\t%s", neg->pos[i] ? "adj" : "noun", neg->words.v[i], neg->prompts.v[i]);
        if (qsim) fprintf(a.f, "\t%.8f", qsim[i]);
        fputc('\n', a.f);
    }
}

int nl_negatives_write(const char *path, const nl_negatives *neg, const double *qsim) {
    nli_atomic a;
    if (nli_atomic_open(&a, path) != 0) return -1;
    negatives_print(&a, neg, qsim);
    return nli_atomic_commit(&a); /* checks ferror and fsyncs */
}

/* One image set (ID or an OOD set) through embedding and scoring. */
typedef struct {
    const char *name;
    nl_strvec all;        /* every path found */
    nl_strvec paths;      /* the ones embedded */
    float *emb;           /* paths.n x dim */
    double *s_neg, *s_mcm;
    size_t *top_id, *top_neg;
    const char **top_id_s, **top_neg_s;
    nl_metrics m_neg, m_mcm;
    nli_report_example *ex;
    unsigned char **thumbs;
    size_t n_ex;
} eval_set;

static void set_free(eval_set *s) {
    nl_strvec_free(&s->all);
    nl_strvec_free(&s->paths);
    free(s->emb);
    free(s->s_neg);
    free(s->s_mcm);
    free(s->top_id);
    free(s->top_neg);
    free(s->top_id_s);
    free(s->top_neg_s);
    for (size_t i = 0; i < s->n_ex; i++) free(s->thumbs ? s->thumbs[i] : NULL);
    free(s->thumbs);
    free(s->ex);
}

static int set_embed(nl_model *m, const nl_eval_params *p, eval_set *s, nl_strvec *skipped) {
    size_t dim = (size_t)nl_model_dim(m), n = s->all.n, k = 0;
    size_t *good = nli_mallocarray(n + 1, sizeof(size_t));
    int rc = -1;
    if (!good || !(s->emb = nli_mallocarray(n * dim + 1, sizeof(float)))) goto done;
    if (!p->embed.quiet) nli_log(NL_LOG_INFO, "%s: %zu images", s->name, n);
    if (nl_embed_image_files_readable(m, &p->embed, p->resample, (const char *const *)s->all.v, n, p->strict, s->emb,
                                      good, &k, skipped) != 0) {
        nli_prefixerr("%s", s->name);
        goto done;
    }
    for (size_t i = 0; i < k; i++)
        if (nl_strvec_push(&s->paths, s->all.v[good[i]])) goto done;
    rc = 0;
done:
    free(good);
    return rc;
}

static int set_score(const nl_eval_params *p0, const nl_model *m, eval_set *s, size_t dim, const float *id_emb, const float *mcm_emb,
                     size_t n_id, const float *neg_emb, size_t n_neg, const nl_strvec *id_labels,
                     const nl_negatives *neg) {
    size_t n = s->paths.n;
    /* Scoring runs where the model runs. */
    nl_eval_params pd = *p0, *p = &pd;
    pd.neglabel.device = nl_model_device(m, &pd.neglabel.device_index);
    pd.mcm.device = nl_model_device(m, &pd.mcm.device_index);
    pd.neglabel.n_threads = pd.mcm.n_threads = nl_model_threads(m);
    s->s_neg = nli_mallocarray(n, sizeof(double));
    s->s_mcm = nli_mallocarray(n, sizeof(double));
    s->top_id = nli_mallocarray(n, sizeof(size_t));
    s->top_neg = nli_mallocarray(n, sizeof(size_t));
    s->top_id_s = nli_mallocarray(n, sizeof(char *));
    s->top_neg_s = nli_mallocarray(n, sizeof(char *));
    if (!s->s_neg || !s->s_mcm || !s->top_id || !s->top_neg || !s->top_id_s || !s->top_neg_s) return -1;
    if (nl_score(s->emb, n, id_emb, n_id, neg_emb, n_neg, dim, &p->neglabel, s->s_neg, s->top_id, s->top_neg) != 0)
        return -1;
    if (nl_score(s->emb, n, mcm_emb, n_id, NULL, 0, dim, &p->mcm, s->s_mcm, NULL, NULL) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        s->top_id_s[i] = id_labels->v[s->top_id[i]];
        s->top_neg_s[i] = neg->words.v[s->top_neg[i]];
    }
    return 0;
}

static int cmp_score_desc(const void *a, const void *b, void *ctx) {
    const double *sc = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sc[i] != sc[j]) return sc[i] < sc[j] ? 1 : -1;
    return (i > j) - (i < j);
}

/* A few example images per set for the report: evenly spaced through the
 * NegLabel score ranking (highest first), as small JPEG thumbnails. */
static void set_examples(eval_set *s, int want) {
    size_t n = s->paths.n, k = want > 0 ? (size_t)want : 0;
    if (k > n) k = n;
    s->ex = nli_calloc(k + 1, sizeof *s->ex);
    s->thumbs = nli_calloc(k + 1, sizeof *s->thumbs);
    size_t *ord = nli_mallocarray(n, sizeof *ord);
    if (!s->ex || !s->thumbs || !ord) { free(ord); return; }
    for (size_t i = 0; i < n; i++) ord[i] = i;
    qsort_r(ord, n, sizeof *ord, cmp_score_desc, s->s_neg);
    enum { TS = 128 };
    uint8_t *px = nli_malloc(TS * TS * 3);
    for (size_t e = 0; e < k; e++) {
        size_t i = ord[k > 1 ? e * (n - 1) / (k - 1) : 0];
        nli_report_example *x = &s->ex[s->n_ex];
        x->path = s->paths.v[i];
        x->score = s->s_neg[i];
        x->top_id = s->top_id_s[i];
        x->top_neg = s->top_neg_s[i];
        size_t len = 0;
        if (px && nl_preprocess_file(x->path, TS, NL_RESAMPLE_BICUBIC, px) == 0 &&
            nli_jpeg_encode(px, TS, TS, 85, &s->thumbs[s->n_ex], &len) == 0) {
            x->thumb = s->thumbs[s->n_ex];
            x->thumb_len = len;
            x->thumb_mime = "image/jpeg";
        }
        s->n_ex++;
    }
    free(px);
    free(ord);
}

static void set_report(const eval_set *s, nli_report_set *r) {
    memset(r, 0, sizeof *r);
    r->name = s->name;
    r->n = s->paths.n;
    r->paths = (const char *const *)s->paths.v;
    r->neglabel = s->s_neg;
    r->mcm = s->s_mcm;
    r->top_id = s->top_id_s;
    r->top_neg = s->top_neg_s;
    r->m_neglabel = s->m_neg;
    r->m_mcm = s->m_mcm;
    r->examples = s->ex;
    r->n_examples = s->n_ex;
}

void nl_eval_result_free(nl_eval_result *r) {
    if (!r) return;
    free(r->id.name);
    for (size_t i = 0; i < r->n_ood; i++) free(r->ood[i].name);
    free(r->ood);
    memset(r, 0, sizeof *r);
}

/* The report's numbers as the public result. */
static int fill_result(const nli_report *r, nl_eval_result *out) {
    memset(out, 0, sizeof *out);
    out->id.name = nli_strdup(r->id->name ? r->id->name : "ID");
    out->id.n_images = r->id->n;
    out->ood = nli_calloc(r->n_ood ? r->n_ood : 1, sizeof *out->ood);
    if (!out->id.name || !out->ood) { nl_eval_result_free(out); return -1; }
    out->n_ood = r->n_ood;
    for (size_t i = 0; i < r->n_ood; i++) {
        nl_eval_set *s = &out->ood[i];
        if (!(s->name = nli_strdup(r->ood[i].name ? r->ood[i].name : ""))) { nl_eval_result_free(out); return -1; }
        s->n_images = r->ood[i].n;
        s->neglabel = r->ood[i].m_neglabel;
        s->mcm = r->ood[i].m_mcm;
    }
    nli_report_average(r, &out->avg_neglabel, &out->avg_mcm);
    out->n_id_labels = r->n_id_labels;
    out->n_negatives = r->n_negatives;
    out->n_skipped = r->n_skipped;
    out->convention = r->convention;
    out->seconds = r->seconds;
    return 0;
}

int nl_eval(const nl_eval_params *p, nl_eval_result *result) {
    if (result) memset(result, 0, sizeof *result);
    double t0 = nli_now();
    nl_model *m = NULL;
    nl_strvec labels = {0}, skipped = {0};
    nl_negatives neg = {0};
    float *id_emb = NULL, *mcm_emb = NULL, *neg_emb = NULL;
    double *qsim = NULL;
    size_t n_sets = p->n_ood + 1;
    eval_set *sets = nli_calloc(n_sets, sizeof *sets);
    nli_report_set *rs = nli_calloc(n_sets, sizeof *rs);
    char *info = NULL;
    nli_atomic neg_file = {0};
    int rc = -1;
    if (!sets || !rs) goto done;
    if (p->n_ood == 0) { nli_seterr("no OOD set given (--ood NAME=DIR|LIST)"); goto done; }

    /* Find every image first: a typo in a path should fail in a second, not
     * after an hour of mining. */
    sets[0].name = "ID";
    if (nl_collect_images(p->id_spec, &sets[0].all) != 0) goto done;
    for (size_t k = 0; k < p->n_ood; k++) {
        sets[k + 1].name = p->ood_names[k];
        if (nl_collect_images(p->ood_specs[k], &sets[k + 1].all) != 0) {
            nli_prefixerr("OOD set '%s'", p->ood_names[k]);
            goto done;
        }
    }
    if (nl_read_id_labels(p->id_labels, p->allow_duplicate_labels, &labels) != 0) goto done;
    if (p->out_dir && nli_mkdir_p(p->out_dir) != 0) goto done;
    if (p->out_dir && access(p->out_dir, W_OK) != 0) { /* before the hours of work, not after */
        nli_seterr_code(NL_ERR_IO, "%s: cannot write to the output folder: %s", p->out_dir, strerror(errno));
        goto done;
    }
    if (!(m = nl_model_load(p->model_dir, &p->model))) goto done;
    if (!p->embed.quiet)
        nli_log(NL_LOG_INFO, "model on %s, %s", nl_model_device_name(m), nl_precision_name(nl_model_precision(m)));
    size_t dim = (size_t)nl_model_dim(m), n_id = labels.n;

    if (!(id_emb = nli_mallocarray(n_id * dim, sizeof(float))) || !(mcm_emb = nli_mallocarray(n_id * dim, sizeof(float))))
        goto done;
    if (nl_embed_words(m, &p->embed, (const char *const *)labels.v, n_id, p->templates.noun, p->templates.n_noun,
                       id_emb) != 0)
        goto done;
    if (nl_embed_words(m, &p->embed, (const char *const *)labels.v, n_id, &p->templates.mcm, 1, mcm_emb) != 0)
        goto done;

    if (p->negatives) {
        if (nl_negatives_read(p->negatives, &neg) != 0) goto done;
        if (!(neg_emb = nli_mallocarray(neg.words.n * dim, sizeof(float)))) goto done;
        if (nl_negatives_embed(m, &p->embed, p->negatives, &neg, neg_emb) != 0) goto done;
    } else {
        if (nl_mine_model(m, &p->embed, id_emb, n_id, &p->corpus, p->remove_id_labels ? &labels : NULL, &p->mine, &p->templates, &neg, &neg_emb, &qsim) != 0)
            goto done;
        if (p->out_dir) { /* published with the report, so a failed run leaves the earlier set whole */
            char *np = nli_path_join(p->out_dir, "negatives.tsv");
            int w = np ? nli_atomic_open(&neg_file, np) : -1;
            free(np);
            if (w != 0) goto done;
            negatives_print(&neg_file, &neg, qsim);
        }
    }

    for (size_t k = 0; k < n_sets; k++) {
        if (set_embed(m, p, &sets[k], &skipped) != 0) goto done;
        if (set_score(p, m, &sets[k], dim, id_emb, mcm_emb, n_id, neg_emb, neg.words.n, &labels, &neg) != 0) goto done;
    }
    for (size_t k = 1; k < n_sets; k++) {
        if (nl_compute_metrics(sets[0].s_neg, sets[0].paths.n, sets[k].s_neg, sets[k].paths.n, p->convention,
                               &sets[k].m_neg) != 0 ||
            nl_compute_metrics(sets[0].s_mcm, sets[0].paths.n, sets[k].s_mcm, sets[k].paths.n, p->convention,
                               &sets[k].m_mcm) != 0) {
            nli_prefixerr("OOD set '%s'", sets[k].name);
            goto done;
        }
    }
    for (size_t k = 0; k < n_sets; k++) {
        set_examples(&sets[k], p->n_examples);
        set_report(&sets[k], &rs[k]);
    }
    info = nl_model_info_json(m);
    nli_report r = {
        .model_dir = p->model_dir, .model_info_json = info, .n_id_labels = n_id, .n_negatives = neg.words.n,
        .ngroup = p->neglabel.ngroup, .seed = (unsigned long long)p->neglabel.seed, .shuffle = p->neglabel.shuffle,
        .permutation = nl_permutation_name(p->neglabel.permutation),
        .tau_neglabel = p->neglabel.tau, .tau_mcm = p->mcm.tau, .convention = p->convention, .id = &rs[0],
        .ood = rs + 1, .n_ood = p->n_ood, .skipped = (const char *const *)skipped.v, .n_skipped = skipped.n,
        .seconds = nli_now() - t0,
    };
    if (p->out_dir && nli_report_write_with(p->out_dir, &r, &neg_file, neg_file.f ? 1 : 0) != 0) goto done;
    if (result && fill_result(&r, result) != 0) goto done;
    rc = 0;
done:
    nli_atomic_abort(&neg_file); /* a no-op once published */
    for (size_t k = 0; sets && k < n_sets; k++) set_free(&sets[k]);
    free(sets);
    free(rs);
    free(info);
    nl_model_free(m);
    nl_strvec_free(&labels);
    nl_strvec_free(&skipped);
    nl_negatives_free(&neg);
    free(id_emb);
    free(mcm_emb);
    free(neg_emb);
    free(qsim);
    return rc;
}
