/* eval.c — `neglabel eval` end to end: labels -> negatives (mine_model.c)
 * -> image embeddings -> NegLabel, CSP, MCM and stream scores -> metrics ->
 * results.json, scores.csv, report.html. */
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
#include "image.h"
#include "prng.h"
#include "report.h"
#include "util.h"
#include "mine_model.h"

nl_eval_params nl_eval_default_params(void) {
    nl_eval_params p;
    memset(&p, 0, sizeof p);
    p.model = nl_model_default_params();
    p.methods[0] = NL_METHOD_NEGLABEL;
    p.methods[1] = NL_METHOD_MCM;
    p.n_methods = 2;
    for (int m = 0; m < NL_METHOD_COUNT; m++) p.score[m] = nl_score_default_params((nl_method)m);
    p.corpus.wordnet_dir = p.csp_corpus.wordnet_dir = "/usr/share/wordnet";
    /* CSP's word lists leave out nl_csp_exclude's categories and, like
     * NegLabel's, have no noun.animal or noun.food: nl_corpus_load leaves
     * those out of a WordNet database anyway (named here, they would be an
     * error with lists that lack them, as the reference's do). */
    p.csp_corpus.exclude = nl_csp_exclude(&p.csp_corpus.n_exclude);
    p.csp_corpus.absent_ok = 1; /* a word-list folder may lack some of them */
    p.mine = p.csp_mine = nl_mine_default_params();
    p.csp_mine.max_cut = 0.95;
    p.templates = nl_templates_default();
    p.csp_templates = nl_templates_csp();
    p.stream_seed = 110;
    p.convention = NL_FPR95_NEGLABEL;
    p.resample = NL_RESAMPLE_MODEL;
    p.allow_duplicate_labels = 1;
    p.n_examples = 6;
    return p;
}

enum { HEAD_NEG = 0, HEAD_CSP = 1, HEAD_MCM = 2, N_HEADS = 3 };
enum { N_AFF = 5 }; /* Figure 4: top ID and top negative labels shown */

static int head_of(nl_method m) { return m == NL_METHOD_CSP ? HEAD_CSP : m == NL_METHOD_MCM ? HEAD_MCM : HEAD_NEG; }

/* A set of label embeddings methods score against: NegLabel's negatives
 * (NegLabel, AdaNeg, OODD), CSP's, or MCM's ID prompts alone. */
typedef struct {
    int used;
    float *id_emb, *neg_emb;
    nl_negatives neg;
    double *qsim;
    const nl_score_params *sp; /* a method of this head (its tau for Figure 4) */
} eval_head;

/* One image set (ID or an OOD set) through embedding and scoring. */
typedef struct {
    const char *name;
    nl_strvec all;                    /* every path found */
    nl_strvec paths;                  /* the ones embedded */
    float *emb;                       /* paths.n x dim */
    double *sc[NL_METHOD_COUNT];      /* per method; stream methods (OOD sets): this set's images in its stream */
    double *id_sc[NL_METHOD_COUNT];   /* OOD sets, stream methods: the ID images' scores in this set's stream */
    size_t *order;                    /* OOD sets with stream methods: the stream (ID images, then this set's) */
    size_t *top_id, *top_neg;
    const char **top_id_s, **top_neg_s;
    nl_metrics mt[NL_METHOD_COUNT];
    nli_report_example *ex;
    unsigned char **thumbs;
    double *aff;                      /* n_ex x 2 x N_AFF probabilities */
    const char **aff_lab;             /* n_ex x 2 x N_AFF labels */
    size_t n_ex;
} eval_set;

static void set_free(eval_set *s) {
    nl_strvec_free(&s->all);
    nl_strvec_free(&s->paths);
    free(s->emb);
    for (int m = 0; m < NL_METHOD_COUNT; m++) { free(s->sc[m]); free(s->id_sc[m]); }
    free(s->order);
    free(s->top_id);
    free(s->top_neg);
    free(s->top_id_s);
    free(s->top_neg_s);
    for (size_t i = 0; i < s->n_ex; i++) free(s->thumbs ? s->thumbs[i] : NULL);
    free(s->thumbs);
    free(s->ex);
    free(s->aff);
    free(s->aff_lab);
}

static int set_embed(nl_model *m, const nl_eval_params *p, eval_set *s, nl_strvec *skipped, nli_cache **cache) {
    size_t dim = (size_t)nl_model_dim(m), n = s->all.n, k = 0;
    size_t *good = nli_mallocarray(n + 1, sizeof(size_t));
    int rc = -1;
    if (!good || !(s->emb = nli_mallocarray(n * dim + 1, sizeof(float)))) goto done;
    if (!p->embed.quiet) nli_log(NL_LOG_INFO, "%s: %zu images", s->name, n);
    if (nli_embed_image_files_readable_in(m, &p->embed, p->resample, (const char *const *)s->all.v, n, p->strict,
                                          s->emb, good, &k, skipped, cache) != 0) {
        nli_prefixerr("%s", s->name);
        goto done;
    }
    /* An image whose embedding is not finite (the forward pass overflowed:
     * huge weights, fp16) has a NaN score and no top labels, which no
     * metric takes: left out like an unreadable image (an error with
     * --strict), where it used to fail the metrics after all the work and
     * read its labels at index SIZE_MAX. */
    size_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        const float *e = s->emb + i * dim;
        if (!nli_all_finite(e, dim)) {
            if (p->strict) {
                nli_seterr("%s: the embedding of %s is not finite (" NLI_OVERFLOW_HINT ") (--strict: unreadable "
                           "images are fatal)", s->name, s->all.v[good[i]]);
                goto done;
            }
            nli_log(NL_LOG_WARN, "skipping %s: its embedding is not finite (" NLI_OVERFLOW_HINT ")", s->all.v[good[i]]);
            if (nl_strvec_push(skipped, s->all.v[good[i]])) goto done;
            continue;
        }
        if (kept != i) memmove(s->emb + kept * dim, e, dim * sizeof(float));
        kept++;
        if (nl_strvec_push(&s->paths, s->all.v[good[i]])) goto done;
    }
    if (kept == 0) {
        nli_seterr("%s: none of the %zu images has a finite embedding (" NLI_OVERFLOW_HINT ")", s->name, k);
        goto done;
    }
    rc = 0;
done:
    free(good);
    return rc;
}

static int score_head(const eval_head *h, size_t dim, size_t n_id, const float *img, size_t n,
                      const nl_score_params *sp, double *out, size_t *top_id, size_t *top_neg) {
    return nl_score(img, n, h->id_emb, n_id, h->neg_emb, h->neg.words.n, dim, sp, out, top_id, top_neg);
}

/* The order-free methods on one set, and its top labels. */
static int set_score(const nl_eval_params *p, const nl_score_params *sp, const eval_head *heads, int top_head,
                     eval_set *s, size_t dim, size_t n_id, const nl_strvec *id_labels) {
    size_t n = s->paths.n;
    s->top_id = nli_mallocarray(n + 1, sizeof(size_t));
    s->top_neg = nli_mallocarray(n + 1, sizeof(size_t));
    s->top_id_s = nli_mallocarray(n + 1, sizeof(char *));
    s->top_neg_s = nli_mallocarray(n + 1, sizeof(char *));
    if (!s->top_id || !s->top_neg || !s->top_id_s || !s->top_neg_s) return -1;
    int have_top = 0;
    for (size_t k = 0; k < p->n_methods; k++) {
        nl_method m = p->methods[k];
        if (nli_method_is_stream(m)) continue;
        if (!(s->sc[m] = nli_mallocarray(n + 1, sizeof(double)))) return -1;
        int mine = head_of(m) == top_head && !have_top;
        if (score_head(&heads[head_of(m)], dim, n_id, s->emb, n, &sp[m], s->sc[m], mine ? s->top_id : NULL,
                       mine && top_head != HEAD_MCM ? s->top_neg : NULL) != 0)
            return -1;
        have_top |= mine;
    }
    if (!have_top) { /* only stream methods use this head: their static argmax */
        double *tmp = nli_mallocarray(n + 1, sizeof(double));
        nl_score_params q = *heads[top_head].sp;
        q.method = NL_METHOD_NEGLABEL;
        int rc = tmp ? score_head(&heads[top_head], dim, n_id, s->emb, n, &q, tmp, s->top_id, s->top_neg) : -1;
        free(tmp);
        if (rc != 0) return -1;
    }
    const nl_negatives *neg = &heads[top_head].neg;
    for (size_t i = 0; i < n; i++) { /* SIZE_MAX: a NaN score, no label (set_embed keeps such images out) */
        s->top_id_s[i] = s->top_id[i] < id_labels->n ? id_labels->v[s->top_id[i]] : NULL;
        s->top_neg_s[i] = top_head != HEAD_MCM && s->top_neg[i] < neg->words.n ? neg->words.v[s->top_neg[i]] : NULL;
    }
    return 0;
}

/* The stream methods on one OOD set: its images after the ID set's, in the
 * order np.random.seed(stream_seed); np.random.permutation(N) gives. */
static int set_stream(const nl_eval_params *p, const nl_score_params *sp, const eval_head *heads, const eval_set *id,
                      eval_set *s, size_t dim, size_t n_id) {
    size_t a = id->paths.n, b = s->paths.n, n = a + b;
    float *st = NULL;
    double *out = NULL;
    int rc = -1;
    if (!(s->order = nli_mallocarray(n + 1, sizeof(size_t)))) return -1;
    if (nli_permutation(NL_PERM_NUMPY, p->stream_seed, n, s->order) != 0) return -1;
    if (!(st = nli_mallocarray(n * dim + 1, sizeof(float))) || !(out = nli_mallocarray(n + 1, sizeof(double)))) goto done;
    for (size_t pos = 0; pos < n; pos++) {
        size_t q = s->order[pos];
        memcpy(st + pos * dim, q < a ? id->emb + q * dim : s->emb + (q - a) * dim, dim * sizeof(float));
    }
    for (size_t k = 0; k < p->n_methods; k++) {
        nl_method m = p->methods[k];
        if (!nli_method_is_stream(m)) continue;
        if (!(s->sc[m] = nli_mallocarray(b + 1, sizeof(double))) || !(s->id_sc[m] = nli_mallocarray(a + 1, sizeof(double))))
            goto done;
        if (score_head(&heads[head_of(m)], dim, n_id, st, n, &sp[m], out, NULL, NULL) != 0) goto done;
        for (size_t pos = 0; pos < n; pos++) {
            size_t q = s->order[pos];
            if (q < a) s->id_sc[m][q] = out[pos];
            else s->sc[m][q - a] = out[pos];
        }
    }
    rc = 0;
done:
    if (rc != 0) nli_prefixerr("OOD set '%s' (stream)", s->name);
    free(st);
    free(out);
    return rc;
}

static int cmp_score_desc(const void *a, const void *b, void *ctx) {
    const double *sc = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sc[i] != sc[j]) return sc[i] < sc[j] ? 1 : -1;
    return (i > j) - (i < j);
}

/* k largest of v[0..n) as indices, descending (ties: lower index first). */
static void top_k(const double *v, size_t n, size_t k, size_t *idx) {
    size_t got = 0;
    for (size_t i = 0; k && i < n; i++) {
        if (got == k && !(v[i] > v[idx[k - 1]])) continue;
        size_t j = got < k ? got++ : k - 1;
        while (j > 0 && v[i] > v[idx[j - 1]]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
}

/* Figure 4 for one image: the softmax over the logits cos / tau of every
 * ID and negative label of the head, in double; the N_AFF most probable of
 * each kind into prob[0..N_AFF) (ID) and prob[N_AFF..2 N_AFF) (negatives). */
static int affinities(const float *img, const eval_head *h, size_t n_id, size_t dim, const nl_strvec *id_labels,
                      double *prob, const char **lab, size_t *n_aff) {
    size_t nn = h->neg.words.n, n = n_id + nn;
    double *z = nli_mallocarray(n + 1, sizeof(double));
    size_t *ix = nli_mallocarray(N_AFF, sizeof(size_t));
    if (!z || !ix) { free(z); free(ix); return -1; }
    double ni = 0;
    for (size_t d = 0; d < dim; d++) ni += (double)img[d] * img[d];
    ni = ni > 0 ? 1 / sqrt(ni) : 0;
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < n; j++) {
        const float *e = j < n_id ? h->id_emb + j * dim : h->neg_emb + (j - n_id) * dim;
        double dot = 0, ne = 0;
        for (size_t d = 0; d < dim; d++) { dot += (double)img[d] * e[d]; ne += (double)e[d] * e[d]; }
        z[j] = ne > 0 ? dot * ni / sqrt(ne) / h->sp->tau : 0;
        if (z[j] > mx) mx = z[j];
    }
    for (size_t j = 0; j < n; j++) sum += exp(z[j] - mx);
    for (size_t j = 0; j < n; j++) z[j] = exp(z[j] - mx) / sum;
    size_t k = n_id < N_AFF ? n_id : N_AFF;
    if (nn < k) k = nn;
    top_k(z, n_id, k, ix);
    for (size_t q = 0; q < k; q++) { prob[q] = z[ix[q]]; lab[q] = id_labels->v[ix[q]]; }
    top_k(z + n_id, nn, k, ix);
    for (size_t q = 0; q < k; q++) { prob[N_AFF + q] = z[n_id + ix[q]]; lab[N_AFF + q] = h->neg.words.v[ix[q]]; }
    *n_aff = k;
    free(z);
    free(ix);
    return 0;
}

/* A few example images per set for the report: evenly spaced through the
 * ranking by rank_sc (highest first), as small JPEG thumbnails, each with
 * its Figure 4 affinities under head h (none for MCM). */
static void set_examples(eval_set *s, const double *rank_sc, int want, const eval_head *h, size_t n_id, size_t dim,
                         const nl_strvec *id_labels) {
    size_t n = s->paths.n, k = want > 0 ? (size_t)want : 0;
    if (k > n) k = n;
    if (!rank_sc) k = 0;
    s->ex = nli_calloc(k + 1, sizeof *s->ex);
    s->thumbs = nli_calloc(k + 1, sizeof *s->thumbs);
    s->aff = nli_calloc(2 * N_AFF * (k + 1), sizeof *s->aff);
    s->aff_lab = nli_calloc(2 * N_AFF * (k + 1), sizeof *s->aff_lab);
    size_t *ord = nli_mallocarray(n + 1, sizeof *ord);
    if (!s->ex || !s->thumbs || !s->aff || !s->aff_lab || !ord) { free(ord); return; }
    for (size_t i = 0; i < n; i++) ord[i] = i;
    if (k) qsort_r(ord, n, sizeof *ord, cmp_score_desc, (void *)rank_sc);
    enum { TS = 128 };
    uint8_t *px = nli_malloc(TS * TS * 3);
    for (size_t e = 0; e < k; e++) {
        size_t i = ord[k > 1 ? e * (n - 1) / (k - 1) : 0];
        nli_report_example *x = &s->ex[s->n_ex];
        x->path = s->paths.v[i];
        x->score = rank_sc[i];
        x->top_id = s->top_id_s[i];
        x->top_neg = s->top_neg_s[i];
        double *pr = s->aff + s->n_ex * 2 * N_AFF;
        const char **lb = s->aff_lab + s->n_ex * 2 * N_AFF;
        if (h && affinities(s->emb + i * dim, h, n_id, dim, id_labels, pr, lb, &x->n_aff) == 0) {
            x->aff_id = pr;
            x->aff_neg = pr + N_AFF;
            x->aff_id_label = lb;
            x->aff_neg_label = lb + N_AFF;
        }
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

static void set_report(const eval_set *s, const eval_set *id, nli_report_set *r) {
    memset(r, 0, sizeof *r);
    r->name = s->name;
    r->n = s->paths.n;
    r->paths = (const char *const *)s->paths.v;
    for (int m = 0; m < NL_METHOD_COUNT; m++) {
        r->scores[m] = s->sc[m];
        r->id_scores[m] = s->id_sc[m] ? s->id_sc[m] : id->sc[m];
        r->metrics[m] = s->mt[m];
    }
    r->order = s->order;
    r->top_id = s->top_id_s;
    r->top_neg = s->top_neg_s;
    r->examples = s->ex;
    r->n_examples = s->n_ex;
}

void nl_eval_result_free(nl_eval_result *r) {
    if (!r) return;
    free(r->id.name);
    for (size_t i = 0; r->ood && i < r->n_ood; i++) free(r->ood[i].name);
    free(r->ood);
    memset(r, 0, sizeof *r);
}

static void result_set(const nli_report *r, const nl_metrics *mt, nl_eval_set *s) {
    for (int m = 0; m < NL_METHOD_COUNT; m++) s->metrics[m] = (nl_metrics){NAN, NAN, NAN, NAN};
    for (size_t k = 0; k < r->n_methods; k++) s->metrics[r->methods[k]] = mt[r->methods[k]];
    s->best = nli_report_best(r, s->metrics);
}

/* The report's numbers as the public result. */
static int fill_result(const nli_report *r, nl_eval_result *out) {
    memset(out, 0, sizeof *out);
    out->id.name = nli_strdup(r->id->name ? r->id->name : "ID");
    out->id.n_images = r->id->n;
    out->ood = nli_calloc(r->n_ood ? r->n_ood : 1, sizeof *out->ood);
    if (!out->id.name || !out->ood) { nl_eval_result_free(out); return -1; }
    for (size_t k = 0; k < r->n_methods; k++) out->methods[k] = r->methods[k];
    out->n_methods = r->n_methods;
    nl_metrics none[NL_METHOD_COUNT];
    for (int m = 0; m < NL_METHOD_COUNT; m++) none[m] = (nl_metrics){NAN, NAN, NAN, NAN};
    result_set(r, none, &out->id);
    out->n_ood = r->n_ood;
    for (size_t i = 0; i < r->n_ood; i++) {
        nl_eval_set *s = &out->ood[i];
        if (!(s->name = nli_strdup(r->ood[i].name ? r->ood[i].name : ""))) { nl_eval_result_free(out); return -1; }
        s->n_images = r->ood[i].n;
        result_set(r, r->ood[i].metrics, s);
    }
    nl_metrics avg[NL_METHOD_COUNT];
    nli_report_average(r, avg);
    result_set(r, avg, &out->average);
    out->n_id_labels = r->n_id_labels;
    out->n_negatives = r->n_negatives;
    out->n_negatives_csp = r->n_negatives_csp;
    out->n_skipped = r->n_skipped;
    out->convention = r->convention;
    out->seconds = r->seconds;
    return 0;
}

static int check_methods(const nl_eval_params *p) {
    if (p->n_methods > NL_METHOD_COUNT) { nli_seterr("eval: %zu methods (at most %d)", p->n_methods, NL_METHOD_COUNT); return -1; }
    for (size_t k = 0; k < p->n_methods; k++) {
        if ((unsigned)p->methods[k] >= NL_METHOD_COUNT) { nli_seterr("eval: unknown method %d", (int)p->methods[k]); return -1; }
        for (size_t j = 0; j < k; j++)
            if (p->methods[j] == p->methods[k]) {
                nli_seterr("eval: method %s given twice", nl_method_name(p->methods[k]));
                return -1;
            }
    }
    return 0;
}

/* the files mined negatives are saved to in out_dir, NegLabel's and CSP's */
static const char *const neg_file_name[2] = {"negatives.tsv", "negatives-csp.tsv"};

/* A head's ID embeddings and negatives (read from p->negatives, or mined
 * now; their file is written with the report). */
static int head_build(nl_model *m, const nl_eval_params *p, int which, const nl_strvec *labels, eval_head *h) {
    size_t dim = (size_t)nl_model_dim(m), n_id = labels->n;
    nl_templates tt = which == HEAD_CSP ? p->csp_templates : p->templates, *t = &tt;
    if (!(h->id_emb = nli_mallocarray(n_id * dim, sizeof(float)))) return -1;
    if (which == HEAD_MCM)
        return nl_embed_words(m, &p->embed, (const char *const *)labels->v, n_id, &p->templates.mcm, 1, h->id_emb);
    int given = which == HEAD_NEG && p->negatives;
    /* the ID labels are embedded with the negatives' own templates */
    if (given && (nl_negatives_read(p->negatives, &h->neg) != 0 ||
                  nl_templates_for_negatives(t, p->templates_given, &h->neg, p->negatives) != 0))
        return -1;
    if ((t->raw_mean ? nl_embed_words_raw : nl_embed_words)(m, &p->embed, (const char *const *)labels->v, n_id, t->noun,
                                                            t->n_noun, h->id_emb) != 0)
        return -1;
    if (given) {
        if (!(h->neg_emb = nli_mallocarray(h->neg.words.n * dim + 1, sizeof(float)))) return -1;
        return nl_negatives_embed(m, &p->embed, p->negatives, &h->neg, h->neg_emb);
    }
    if (!p->embed.quiet && which == HEAD_CSP) nli_log(NL_LOG_INFO, "CSP: its own corpus, prompts and negatives");
    if (nl_mine_model(m, &p->embed, h->id_emb, n_id, which == HEAD_CSP ? &p->csp_corpus : &p->corpus,
                      p->remove_id_labels ? labels : NULL, which == HEAD_CSP ? &p->csp_mine : &p->mine, t, &h->neg,
                      &h->neg_emb, &h->qsim) != 0)
        return -1;
    return 0;
}

/* The same image twice in a set, or in the ID set and an OOD set (by its
 * real path: links and ./ spellings too), is scored as listed, and the
 * metrics count it each time and on both sides; said once per set, with
 * an example, before the work. Best effort: no warning without memory. */
typedef struct { char *real; size_t set; } real_entry;

static int cmp_real(const void *a, const void *b) {
    const real_entry *x = a, *y = b;
    int c = strcmp(x->real, y->real);
    return c ? c : x->set < y->set ? -1 : x->set > y->set;
}

static void warn_shared_images(const eval_set *sets, size_t n_sets) {
    size_t n = 0, k = 0;
    for (size_t s = 0; s < n_sets; s++) n += sets[s].all.n;
    real_entry *e = n ? malloc(n * sizeof *e) : NULL;
    size_t *dup = calloc(n_sets, sizeof *dup), *shared = calloc(n_sets, sizeof *shared);
    const char **dup_ex = calloc(n_sets, sizeof *dup_ex), **shared_ex = calloc(n_sets, sizeof *shared_ex);
    if (!e || !dup || !shared || !dup_ex || !shared_ex) goto done;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < sets[s].all.n; i++)
            if ((e[k].real = realpath(sets[s].all.v[i], NULL))) e[k++].set = s; /* unreadable: reported later */
    qsort(e, k, sizeof *e, cmp_real);
    for (size_t a = 0, b; a < k; a = b) {
        int in_id = e[a].set == 0;
        for (b = a + 1; b < k && !strcmp(e[a].real, e[b].real); b++) {
            size_t s = e[b].set;
            if (s == e[b - 1].set) { if (!dup[s]++) dup_ex[s] = e[b].real; }
            else if (in_id && s && !shared[s]++) shared_ex[s] = e[b].real;
        }
    }
    for (size_t s = 0; s < n_sets; s++) {
        if (dup[s])
            nli_log(NL_LOG_WARN, "%s%s%s: %zu image%s listed more than once (e.g. %s): scored as often as listed",
                    s ? "OOD set '" : "", sets[s].name, s ? "'" : "", dup[s], dup[s] > 1 ? "s" : "", dup_ex[s]);
        if (shared[s])
            nli_log(NL_LOG_WARN, "OOD set '%s': %zu image%s also in the ID set (e.g. %s): the metrics count %s on both "
                    "sides", sets[s].name, shared[s], shared[s] > 1 ? "s" : "", shared_ex[s],
                    shared[s] > 1 ? "them" : "it");
    }
done:
    for (size_t i = 0; i < k; i++) free(e[i].real);
    free(e), free(dup), free(shared), free(dup_ex), free(shared_ex);
}

/* A negatives file in out_dir that this run did not write is from an
 * earlier run: said once, and left alone (it may be a set the user keeps
 * there); results.json names the negatives this run used. */
static void warn_stale_negatives(const nl_eval_params *p, const eval_head *heads) {
    for (int k = 0; k < 2; k++) {
        const eval_head *h = &heads[k ? HEAD_CSP : HEAD_NEG];
        if (h->used && !(k == 0 && p->negatives)) continue; /* written by this run */
        char *np = nli_path_join(p->out_dir, neg_file_name[k]);
        struct stat a, b;
        if (np && stat(np, &a) == 0 &&
            !(k == 0 && p->negatives && stat(p->negatives, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
            nli_log(NL_LOG_WARN, "%s is from an earlier run, not this one (this run's %snegatives: %s)", np,
                    k ? "CSP " : "", !h->used ? "none" : p->negatives);
        free(np);
    }
}

int nl_eval(const nl_eval_params *p, nl_eval_result *result) {
    if (result) memset(result, 0, sizeof *result);
    if (!p) return nli_null_arg(__func__);
    double t0 = nli_now();
    nl_model *m = NULL;
    nli_cache *img_cache = NULL;
    nl_strvec labels = {0}, skipped = {0};
    eval_head heads[N_HEADS];
    memset(heads, 0, sizeof heads);
    size_t n_sets = p->n_ood + 1;
    eval_set *sets = nli_calloc(n_sets, sizeof *sets);
    nli_report_set *rs = nli_calloc(n_sets, sizeof *rs);
    char *info = NULL;
    nli_atomic neg_file[2];
    memset(neg_file, 0, sizeof neg_file);
    nl_method methods[NL_METHOD_COUNT] = {NL_METHOD_NEGLABEL, NL_METHOD_MCM};
    size_t n_methods = p->n_methods ? p->n_methods : 2;
    nl_score_params sp[NL_METHOD_COUNT];
    int rc = -1, streams = 0, made_out = 0; /* made_out: this run created out_dir */
    if (!sets || !rs) goto done;
    if (check_methods(p) != 0) goto done;
    if (p->n_examples < 0 || p->n_examples > NL_EVAL_MAX_EXAMPLES) { /* each a thumbnail in the report */
        nli_seterr("eval: examples must be between 0 and %d (example images per set in the report), got %d",
                   NL_EVAL_MAX_EXAMPLES, p->n_examples);
        goto done;
    }
    if (p->n_methods) memcpy(methods, p->methods, p->n_methods * sizeof *methods);
    if (p->n_ood == 0) { nli_seterr("no OOD set given (--ood NAME=DIR|LIST)"); goto done; }
    if (!p->ood_names || !p->ood_specs || !p->id_spec) { nli_null_arg(__func__); goto done; }
    /* the sets' names tell them apart in scores.csv and results.json */
    for (size_t k = 0; k < p->n_ood; k++) {
        const char *nk = p->ood_names[k];
        if (!nk || !p->ood_specs[k]) { nli_null_arg(__func__); goto done; }
        if (!*nk || !strcmp(nk, "ID")) {
            nli_seterr("OOD set '%s': %s", nk, *nk ? "the name ID is the ID set's" : "an empty name");
            goto done;
        }
        for (size_t j = 0; j < k; j++)
            if (!strcmp(p->ood_names[j], nk)) {
                nli_seterr("OOD set '%s' given twice (set %zu and set %zu): the names must differ", nk, j + 1, k + 1);
                goto done;
            }
    }
    for (size_t k = 0; k < n_methods; k++) {
        heads[head_of(methods[k])].used = 1;
        streams |= nli_method_is_stream(methods[k]);
    }
    if (streams && p->stream_seed > UINT32_MAX) {
        nli_seterr("eval: the stream seed must be below 2^32 (NumPy's legacy seeding), got %llu",
                   (unsigned long long)p->stream_seed);
        goto done;
    }

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
    warn_shared_images(sets, p->n_ood + 1);
    if (nl_read_id_labels(p->id_labels, p->allow_duplicate_labels, &labels) != 0) goto done;
    if (p->out_dir) {
        struct stat ost;
        made_out = stat(p->out_dir, &ost) != 0;
        if (nli_mkdir_p(p->out_dir) != 0) goto done;
    }
    if (p->out_dir && access(p->out_dir, W_OK) != 0) { /* before the hours of work, not after */
        nli_seterr_code(NL_ERR_IO, "%s: cannot write to the output folder: %s", p->out_dir, strerror(errno));
        goto done;
    }
    /* a bad mining setting or a misspelt category fails here, not after the
     * model and the ID labels */
    if (heads[HEAD_NEG].used && !p->negatives &&
        (nl_mine_check(&p->mine, &p->templates) != 0 || nl_corpus_check(&p->corpus) != 0))
        goto done;
    if (heads[HEAD_CSP].used &&
        (nl_mine_check(&p->csp_mine, &p->csp_templates) != 0 || nl_corpus_check(&p->csp_corpus) != 0))
        goto done;
    /* and a bad scoring parameter (tau, AdaNeg's and OODD's ranges) here too;
     * ngroup against the negatives once they are known, before any image is
     * embedded (before: after the ID set's embedding) */
    for (size_t k = 0; k < n_methods; k++) {
        nl_score_params c = p->score[methods[k]];
        c.method = methods[k];
        c.device = NL_DEVICE_CPU; /* where it runs is the model's */
        if (nl_score_check(&c, labels.n, INT_MAX, 1) != 0) {
            nli_prefixerr("eval, %s", nl_method_name(methods[k]));
            goto done;
        }
    }
    if (!(m = nl_model_load(p->model_dir, &p->model))) goto done;
    if (!p->embed.quiet)
        nli_log(NL_LOG_INFO, "model on %s, %s", nl_model_device_name(m), nl_precision_name(nl_model_precision(m)));
    size_t dim = (size_t)nl_model_dim(m), n_id = labels.n;
    /* Scoring runs where the model runs. */
    for (int k = 0; k < NL_METHOD_COUNT; k++) {
        sp[k] = p->score[k];
        sp[k].method = (nl_method)k;
        sp[k].device = nl_model_device(m, &sp[k].device_index);
        sp[k].n_threads = nl_model_threads(m);
    }
    for (size_t k = 0; k < n_methods; k++) heads[head_of(methods[k])].sp = &sp[methods[k]];
    for (int h = 0; h < N_HEADS; h++)
        if (heads[h].used && head_build(m, p, h, &labels, &heads[h]) != 0) goto done;
    int top_head = heads[HEAD_NEG].used ? HEAD_NEG : heads[HEAD_CSP].used ? HEAD_CSP : HEAD_MCM;
    for (size_t k = 0; k < n_methods; k++)
        if (nl_score_check(&sp[methods[k]], n_id, heads[head_of(methods[k])].neg.words.n, dim) != 0) {
            nli_prefixerr("eval, %s", nl_method_name(methods[k]));
            goto done;
        }

    for (size_t k = 0; k < n_sets; k++) {
        if (set_embed(m, p, &sets[k], &skipped, &img_cache) != 0) goto done;
        if (set_score(p, sp, heads, top_head, &sets[k], dim, n_id, &labels) != 0) goto done;
    }
    nli_cache_close(img_cache); /* opened once for every set: an open reads the whole file */
    img_cache = NULL;
    for (size_t k = 1; streams && k < n_sets; k++)
        if (set_stream(p, sp, heads, &sets[0], &sets[k], dim, n_id) != 0) goto done;
    for (size_t k = 1; k < n_sets; k++) {
        for (size_t j = 0; j < n_methods; j++) {
            nl_method me = methods[j];
            const double *ids = sets[k].id_sc[me] ? sets[k].id_sc[me] : sets[0].sc[me];
            if (nl_compute_metrics(ids, sets[0].paths.n, sets[k].sc[me], sets[k].paths.n, p->convention,
                                   &sets[k].mt[me]) != 0) {
                nli_prefixerr("OOD set '%s', %s", sets[k].name, nl_method_name(me));
                goto done;
            }
        }
    }
    nl_method m0 = methods[0];
    const eval_head *fig = top_head != HEAD_MCM ? &heads[top_head] : NULL;
    for (size_t k = 0; k < n_sets; k++) {
        const double *rank = sets[k].sc[m0] ? sets[k].sc[m0] : n_sets > 1 ? sets[1].id_sc[m0] : NULL;
        set_examples(&sets[k], rank, p->n_examples, fig, n_id, dim, &labels);
        set_report(&sets[k], &sets[0], &rs[k]);
    }
    info = nl_model_info_json(m);
    nli_report r = {
        .model_dir = p->model_dir, .model_info_json = info, .n_id_labels = n_id,
        .n_negatives = heads[HEAD_NEG].neg.words.n, .n_negatives_csp = heads[HEAD_CSP].neg.words.n,
        .negatives_file = !heads[HEAD_NEG].used ? NULL : p->negatives ? p->negatives : p->out_dir ? neg_file_name[0] : NULL,
        .negatives_csp_file = heads[HEAD_CSP].used && p->out_dir ? neg_file_name[1] : NULL,
        .methods = methods, .n_methods = n_methods, .score = sp, .stream_seed = (unsigned long long)p->stream_seed,
        .convention = p->convention, .id = &rs[0], .ood = rs + 1, .n_ood = p->n_ood,
        .skipped = (const char *const *)skipped.v, .n_skipped = skipped.n, .seconds = nli_now() - t0,
    };
    /* the mined negatives, published with the report (a failed run leaves
     * the earlier set whole), their files opened only now: a run killed
     * while embedding (hours) left a negatives.tsv.tmp.* in out_dir */
    for (int k = 0; p->out_dir && k < 2; k++) {
        const eval_head *h = &heads[k ? HEAD_CSP : HEAD_NEG];
        if (!h->used || (k == 0 && p->negatives)) continue;
        char *np = nli_path_join(p->out_dir, neg_file_name[k]);
        int w = np ? nli_atomic_open(&neg_file[k], np) : -1;
        free(np);
        if (w != 0) goto done;
        nli_negatives_print(&neg_file[k], &h->neg, h->qsim);
    }
    nli_atomic also[2];
    size_t n_also = 0;
    for (int k = 0; k < 2; k++)
        if (neg_file[k].f) { also[n_also++] = neg_file[k]; memset(&neg_file[k], 0, sizeof neg_file[k]); }
    if (p->out_dir && nli_report_write_with(p->out_dir, &r, also, n_also) != 0) goto done;
    if (p->out_dir) warn_stale_negatives(p, heads);
    if (!p->out_dir)
        for (size_t k = 0; k < n_also; k++) nli_atomic_abort(&also[k]);
    if (result && fill_result(&r, result) != 0) goto done;
    rc = 0;
done:
    for (int k = 0; k < 2; k++) nli_atomic_abort(&neg_file[k]); /* a no-op once published */
    if (rc != 0 && made_out) (void)rmdir(p->out_dir); /* a failed run leaves no empty folder it made */
    nli_cache_close(img_cache);
    for (size_t k = 0; sets && k < n_sets; k++) set_free(&sets[k]);
    free(sets);
    free(rs);
    free(info);
    nl_model_free(m);
    nl_strvec_free(&labels);
    nl_strvec_free(&skipped);
    for (int h = 0; h < N_HEADS; h++) {
        free(heads[h].id_emb);
        free(heads[h].neg_emb);
        nl_negatives_free(&heads[h].neg);
        free(heads[h].qsim);
    }
    return rc;
}
