/* test_csp_model.c — CSP with a model (the tiny random CLIP fixture): the
 * library's path (nl_embed_words_raw with the cache, nl_mine_model with
 * nl_templates_csp, the negatives file, nl_negatives_embed) against the
 * same steps done by hand from uncached raw text embeddings
 * (nl_embed_texts, nl_csp_phrases, nl_ensemble_raw, nl_mine with
 * max_cut 0.95). Word lists made here: CSP's excluded categories must be
 * left out, a word repeated across files kept once (first file in sorted
 * order), adjectives conjugated; a second run with the cache must give the
 * same floats. */
#include "check.h"
#include "neglabel.h"

#include <string.h>
#include <sys/stat.h>

static void write_file(const char *dir, const char *name, const char *text) {
    char *p = check_path(dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL, "cannot write %s", p);
    if (f) { fputs(text, f); fclose(f); }
    free(p);
}

/* words under templates, embedded raw (no cache), meaned, normalised once */
static float *direct(nl_model *m, char *const *w, size_t n, const char *const *t, size_t nt) {
    size_t dim = (size_t)nl_model_dim(m);
    const char **pr = malloc(nt * n * sizeof *pr);
    float *raw = malloc(nt * n * dim * 4), *out = malloc(n * dim * 4);
    for (size_t a = 0; a < nt; a++)
        for (size_t i = 0; i < n; i++) pr[a * n + i] = nl_apply_template(t[a], w[i]);
    CHECK(nl_embed_texts(m, pr, nt * n, raw) == 0, "%s", nl_last_error());
    CHECK(nl_ensemble_raw(raw, n, nt, dim, out) == 0, "%s", nl_last_error());
    for (size_t i = 0; i < nt * n; i++) free((char *)pr[i]);
    free(pr);
    free(raw);
    return out;
}

int main(void) {
    const char *shared = check_shared();
    const char *tmp = check_tmpdir();
    char *lists = check_path(tmp, "lists"), *cache = check_path(tmp, "cache");
    mkdir(lists, 0755);
    write_file(lists, "noun.artifact.txt", "hammer\nsailing_boat\nteapot\nviolin\nlamp\nbridge\nkettle\nkite\n");
    write_file(lists, "noun.plant.txt", "oak\nfern\nrose\nmoss\nkite\nlily\ncactus\n");
    write_file(lists, "noun.person.txt", "carpenter\nsailor\n");   /* excluded by CSP */
    write_file(lists, "noun.group.txt", "orchestra\n");            /* excluded */
    write_file(lists, "adj.all.txt", "lively\nquiet\nrusty\nbright\nlamp\nwooden\ngreen\ncold\n");
    write_file(lists, "adj.pert.txt", "musical\n");                /* excluded */
    char *model_dir = check_path(shared, "fixtures/tiny-clip");
    nl_model_params mp = nl_model_default_params();
    mp.device = NL_DEVICE_CPU;
    nl_model *m = nl_model_load(model_dir, &mp);
    CHECK(m != NULL, "load: %s", nl_last_error());
    if (!m) return check_done();
    size_t dim = (size_t)nl_model_dim(m);
    char *ids[] = {"dog", "cat", "car", "tree"};
    nl_templates t = nl_templates_csp();
    CHECK(t.n_noun == 8 && t.n_adj == 4 && t.raw_mean && t.conjugate, "nl_templates_csp");

    /* ID labels: cached path == direct, cold and warm cache */
    float *id_d = direct(m, ids, 4, t.noun, t.n_noun), *id_c = malloc(4 * dim * 4);
    nl_embed_opts o = {cache, 1};
    for (int run = 0; run < 2; run++) {
        CHECK(nl_embed_words_raw(m, &o, (const char *const *)ids, 4, t.noun, t.n_noun, id_c) == 0, "%s", nl_last_error());
        CHECK(!memcmp(id_c, id_d, 4 * dim * 4), "raw ensemble (run %d, %s cache) differs from the direct one", run,
              run ? "warm" : "cold");
    }
    float *norm_first = malloc(4 * dim * 4);
    CHECK(nl_embed_words(m, &o, (const char *const *)ids, 4, t.noun, t.n_noun, norm_first) == 0 &&
              memcmp(norm_first, id_d, 4 * dim * 4) != 0,
          "the raw mean is not the mean of normalised prompts");

    /* the corpus and phrases by hand */
    size_t n_ex;
    const char *const *ex = nl_csp_exclude(&n_ex);
    nl_corpus_params cp = {.lists_dir = lists, .exclude = ex, .n_exclude = n_ex, .absent_ok = 1}; /* no noun.quantity */
    nl_corpus c;
    CHECK(nl_corpus_load(&cp, &c) == 0, "%s", nl_last_error());
    /* sorted files: adj.all first, so "lamp" is an adjective; "kite" once, as a noun */
    CHECK(c.n_adj == 8 && c.n_noun == 7 + 6, "corpus %zu nouns + %zu adjectives, expected 13 + 8", c.n_noun, c.n_adj);
    nl_strvec text;
    CHECK(nl_csp_phrases(&c, 0, &text) == 0, "%s", nl_last_error());
    size_t nn = c.n_noun, na = c.n_adj, nc = c.n;
    char **wn = malloc(nn * sizeof *wn), **wa = malloc(na * sizeof *wa);
    size_t kn = 0, ka = 0;
    for (size_t i = 0; i < nc; i++) {
        if (c.pos[i] == NL_POS_NOUN) wn[kn++] = text.v[i];
        else wa[ka++] = text.v[i];
    }
    float *en = direct(m, wn, nn, t.noun, t.n_noun), *ea = direct(m, wa, na, t.adj, t.n_adj);
    float *cand = malloc(nc * dim * 4);
    uint8_t *pos = malloc(nc);
    memcpy(cand, en, nn * dim * 4);
    memcpy(cand + nn * dim, ea, na * dim * 4);
    for (size_t i = 0; i < nc; i++) pos[i] = i < nn ? NL_POS_NOUN : NL_POS_ADJ;
    nl_mine_params mine = nl_mine_default_params();
    mine.max_cut = 0.95;
    mine.fraction = 0.5;
    size_t *sel, nsel;
    CHECK(nl_mine(id_d, 4, cand, nc, pos, dim, &mine, &sel, &nsel, NULL) == 0, "%s", nl_last_error());

    /* the library's path, twice (cold and warm cache) */
    for (int run = 0; run < 2; run++) {
        nl_negatives neg;
        float *emb = NULL;
        CHECK(nl_mine_model(m, &o, id_d, 4, &cp, NULL, &mine, &t, &neg, &emb, NULL) == 0, "%s", nl_last_error());
        CHECK(neg.words.n == nsel && neg.raw_mean, "%zu negatives (expected %zu), raw ensemble flagged", neg.words.n,
              nsel);
        int same = neg.words.n == nsel;
        for (size_t i = 0; same && i < nsel; i++) {
            const char *want = sel[i] < nn ? wn[sel[i]] : wa[sel[i] - nn];
            same &= !strcmp(neg.words.v[i], want) && !memcmp(emb + i * dim, cand + sel[i] * dim, dim * 4);
        }
        CHECK(same, "run %d: nl_mine_model's negatives (words, order, embeddings) differ from the direct ones", run);
        /* the file round trip keeps the raw ensemble */
        char *f = check_path(tmp, "neg.tsv");
        nl_negatives back;
        float *e2 = malloc(nsel * dim * 4 + 4);
        CHECK(nl_negatives_write(f, &neg, NULL) == 0 && nl_negatives_read(f, &back) == 0 && back.raw_mean &&
                  back.noun_templates.n == 8 && back.adj_templates.n == 4,
              "negatives file: %s", nl_last_error());
        CHECK(nl_negatives_embed(m, &o, f, &back, e2) == 0 && !memcmp(e2, emb, nsel * dim * 4),
              "negatives re-embedded from the file differ from the mined ones");
        /* every adjective negative is "<adjective> <superclass word>" */
        size_t ns, n_adj_sel = 0, n_conj = 0;
        const char *const *sup = nl_csp_superclasses(&ns);
        for (size_t i = 0; i < back.words.n; i++) {
            if (back.pos[i] != NL_POS_ADJ) continue;
            n_adj_sel++;
            const char *sp = strrchr(back.words.v[i], ' ');
            for (size_t k = 0; sp && k < ns; k++) n_conj += !strcmp(sp + 1, sup[k] + 3); /* "{} environment" */
        }
        CHECK(n_adj_sel == 4 && n_conj == n_adj_sel, "%zu of %zu adjective negatives are superclass phrases (4 expected)",
              n_conj, n_adj_sel);
        nl_negatives_free(&back);
        nl_negatives_free(&neg);
        free(e2);
        free(emb);
        free(f);
    }
    /* the ID-label drop compares in the corpus's form: "Sailing_Boat " and
     * "OAK" drop "sailing boat" and "oak" (before: only case was ignored,
     * so an ID label written with '_' dropped nothing) */
    {
        char *dv[] = {"Sailing_Boat ", "OAK"};
        nl_strvec drop = {dv, 2, 2};
        nl_mine_params all = nl_mine_default_params();
        all.fraction = 1;
        nl_negatives neg;
        CHECK(nl_mine_model(m, &o, id_d, 4, &cp, &drop, &all, &t, &neg, NULL, NULL) == 0, "%s", nl_last_error());
        size_t hit = 0, nouns = 0;
        for (size_t i = 0; i < neg.words.n; i++) {
            hit += !strcmp(neg.words.v[i], "sailing boat") || !strcmp(neg.words.v[i], "oak");
            nouns += neg.pos[i] == NL_POS_NOUN;
        }
        CHECK(hit == 0 && nouns == nn - 2, "drop: %zu dropped words kept, %zu nouns (want %zu)", hit, nouns, nn - 2);
        nl_negatives_free(&neg);
    }
    /* a bad ensemble value in a header is refused */
    char *bad = check_path(tmp, "bad.tsv");
    write_file(tmp, "bad.tsv", "# neglabel negatives\tmodel=x\tdim=8\tensemble=weird\nnoun\tx\tthe x\n");
    nl_negatives b;
    CHECK(nl_negatives_read(bad, &b) != 0 && strstr(nl_last_error(), "ensemble"), "bad ensemble refused");
    free(bad);

    nl_strvec_free(&text);
    nl_corpus_free(&c);
    free(sel); free(cand); free(pos); free(en); free(ea); free(wn); free(wa);
    free(id_d); free(id_c); free(norm_first);
    nl_model_free(m);
    free(model_dir); free(lists); free(cache);
    return check_done();
}
