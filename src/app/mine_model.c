/* mine_model.c — NegMining with a model (`neglabel mine`, the first step of
 * `eval`): prompt templates, mining from the model's embeddings of the
 * corpus, and the negatives file written atomically. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "neglabel.h"
#include "corpus.h"
#include "mine.h"
#include "util.h"
#include "mine_model.h"

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

int nl_mine_check(const nl_mine_params *mp, const nl_templates *t) {
    if (!t || (t->n_noun && !t->noun) || (t->n_adj && !t->adj)) return nli_null_arg(__func__);
    for (size_t i = 0; i < t->n_noun + t->n_adj; i++)
        if (!(i < t->n_noun ? t->noun[i] : t->adj[i - t->n_noun])) {
            nli_seterr("nl_mine_check: %s template %zu is NULL", i < t->n_noun ? "noun" : "adjective",
                       i < t->n_noun ? i : i - t->n_noun);
            return -1;
        }
    /* each template's placeholders, before any model work (a bad one was
     * found only when its prompts were made, after the nouns' embedding) */
    for (size_t i = 0; i < t->n_noun + t->n_adj; i++) {
        char *probe = nl_apply_template(i < t->n_noun ? t->noun[i] : t->adj[i - t->n_noun], "x");
        if (!probe) return -1;
        free(probe);
    }
    nl_mine_params md = nl_mine_default_params();
    if (nli_mine_check(mp ? mp : &md) != 0) return -1;
    const char *bad = nli_tsv_first_bad(t->noun, t->n_noun);
    if (!bad) bad = nli_tsv_first_bad(t->adj, t->n_adj);
    if (bad) {
        nli_seterr("mine: the template '%s' holds a TAB or a line break, which a negatives file cannot store", bad);
        return -1;
    }
    return 0;
}

int nl_mine_model(nl_model *m, const nl_embed_opts *o, const float *id_emb, size_t n_id, const nl_corpus_params *cp,
                  const nl_strvec *drop, const nl_mine_params *mp, const nl_templates *t, nl_negatives *neg, float **emb, double **qsim) {
    if (!m || !id_emb || !cp || !t || !neg) return nli_null_arg(__func__);
    size_t dim = (size_t)nl_model_dim(m);
    nl_corpus c;
    memset(neg, 0, sizeof *neg);
    nl_embed_opts no_opts = {0};
    if (!o) o = &no_opts; /* as nl_embed_words: no cache */
    if (drop && drop->n && !drop->v) return nli_null_arg(__func__);
    for (size_t i = 0; drop && i < drop->n; i++)
        if (!drop->v[i]) { nli_seterr("nl_mine_model: drop entry %zu is NULL", i); return -1; }
    if (emb) *emb = NULL;
    if (qsim) *qsim = NULL;
    /* what would fail after the corpus is embedded, checked first */
    if (nl_mine_check(mp, t) != 0) return -1;
    if (nl_corpus_load(cp, &c) != 0) return -1;
    /* CSP: phrases drawn over the whole corpus in list order, then the
     * same drop as the words (matched on the words themselves) */
    nl_strvec text = {0};
    if (t->conjugate && nl_csp_phrases(&c, t->conjugate_seed, &text) != 0) { nl_corpus_free(&c); return -1; }
    if (drop && nli_corpus_drop(&c, drop, t->conjugate ? &text : NULL) != 0) {
        nl_corpus_free(&c);
        nl_strvec_free(&text);
        return -1;
    }
    char **label = t->conjugate ? text.v : c.word; /* what the templates are applied to */
    int rc = -1;
    /* a part of speech without templates fails here, not after the other's
     * embedding (before: the nouns were embedded, then "no prompt template") */
    if ((c.n_noun && !t->n_noun) || (c.n_adj && !t->n_adj)) {
        int adj = c.n_adj && !t->n_adj;
        nli_seterr("mine: the corpus has %zu %s, but no %s template was given", adj ? c.n_adj : c.n_noun,
                   adj ? "adjectives" : "nouns", adj ? "adjective" : "noun");
        nl_corpus_free(&c);
        nl_strvec_free(&text);
        return -1;
    }
    nl_mine_params mpd = mp ? *mp : nl_mine_default_params();
    size_t keep[2]; /* a --total past the corpus, a fraction selecting nothing: said before the embedding */
    if (nli_mine_keep(&mpd, c.n_noun, c.n_adj, keep) != 0) {
        nl_corpus_free(&c);
        nl_strvec_free(&text);
        return -1;
    }
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

void nli_negatives_print(nli_atomic *ap, const nl_negatives *neg, const double *qsim) {
    nli_atomic a = *ap;
    void *loc = nli_numeric_c_begin(); /* the similarities as "0.5", whatever LC_NUMERIC says */
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
    nli_numeric_c_end(loc);
}

/* Every string of neg as one TSV field (no TAB or line break), or an error
 * naming the first that is not. */
static int negatives_check(const char *path, const nl_negatives *neg) {
    if (neg->words.n == 0) { /* nl_negatives_read refuses such a file */
        nli_seterr("%s: no negative labels to write (a negatives file holds at least one)", path);
        return -1;
    }
    if (neg->dim < 0) {
        nli_seterr("%s: dim %d is negative (the embedding size, or 0 for none)", path, neg->dim);
        return -1;
    }
    const char *bad = nli_tsv_first_bad((const char *const *)neg->noun_templates.v, neg->noun_templates.n);
    if (!bad) bad = nli_tsv_first_bad((const char *const *)neg->adj_templates.v, neg->adj_templates.n);
    if (bad) {
        nli_seterr("%s: the template '%s' holds a TAB or a line break, which the file cannot store", path, bad);
        return -1;
    }
    if (neg->model && !nli_tsv_field_ok(neg->model)) {
        nli_seterr("%s: the model fingerprint holds a TAB or a line break", path);
        return -1;
    }
    if (neg->prompts.n != neg->words.n) {
        nli_seterr("%s: %zu words but %zu prompts", path, neg->words.n, neg->prompts.n);
        return -1;
    }
    for (size_t i = 0; i < neg->words.n; i++) {
        if (neg->pos[i] > NL_POS_ADJ) { /* written as "adj" before, whatever it was */
            nli_seterr("%s: negative %zu has bad part of speech %u (NL_POS_NOUN or NL_POS_ADJ)", path, i + 1,
                       neg->pos[i]);
            return -1;
        }
        if (!neg->words.v[i] || !neg->prompts.v[i] || !*neg->words.v[i] || !*neg->prompts.v[i]) {
            nli_seterr("%s: negative %zu has an empty word or prompt", path, i + 1);
            return -1;
        }
        const char *pair[2] = {neg->words.v[i], neg->prompts.v[i]};
        if ((bad = nli_tsv_first_bad(pair, 2))) {
            nli_seterr("%s: negative %zu, '%s', holds a TAB or a line break, which the file cannot store "
                       "(remove it from the word list)", path, i + 1, bad);
            return -1;
        }
    }
    return 0;
}

int nl_negatives_write(const char *path, const nl_negatives *neg, const double *qsim) {
    nli_atomic a;
    if (!path || !neg || (neg->words.n && (!neg->words.v || !neg->prompts.v || !neg->pos)))
        return nli_null_arg(__func__);
    if (negatives_check(path, neg) != 0) return -1;
    if (nli_atomic_open(&a, path) != 0) return -1;
    nli_negatives_print(&a, neg, qsim);
    return nli_atomic_commit(&a); /* checks ferror and fsyncs */
}
