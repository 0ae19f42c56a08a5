/* test_csp.c — CSP against tests/data/csp_golden.txt, written by
 * tests/gen/gen_csp.py (a numpy re-implementation of the reference code,
 * MengyuanChen21/NeurIPS2024-CSP multi_modal.py and clip_ood.py):
 * - the corpus on the reference word lists (CSP's excluded files, one
 *   deduplication table) with each adjective's superclass phrase drawn as
 *   Python's random.seed(0); random.choice: counts and a hash of every
 *   candidate text equal the reference's;
 * - on deterministic raw prompt embeddings: nl_ensemble_raw (mean of raw
 *   prompts, normalised once), nl_mine with max_cut 0.95 (the same selected
 *   negatives, in the same order) and nl_score with NL_METHOD_CSP's
 *   defaults (100 groups... or the case's, torch permutation), to 1e-9
 *   relative;
 * - the raw ensemble differs from the normalise-first one, and bad input is
 *   refused. */
#include "check.h"
#include "golden_embed.h"
#include "neglabel.h"
#include "util.h"

#include <math.h>
#include <string.h>

static void corpus_check(const char *line) {
    size_t nn, na;
    unsigned long long hash;
    char first[512] = "";
    CHECK(sscanf(line, "lists %zu %zu %llu %511[^\n]", &nn, &na, &hash, first) == 4, "bad lists line");
    const char *shared = check_shared();
    char *lists = check_path(shared, "neglabel-reference/txtfiles");
    size_t n_ex;
    const char *const *ex = nl_csp_exclude(&n_ex);
    nl_corpus_params cp = {.lists_dir = lists, .exclude = ex, .n_exclude = n_ex};
    nl_corpus c;
    CHECK(nl_corpus_load(&cp, &c) == 0, "corpus: %s", nl_last_error());
    nl_strvec t;
    CHECK(nl_csp_phrases(&c, 0, &t) == 0 && t.n == c.n, "phrases: %s", nl_last_error());
    /* the reference lists nouns then adjectives, each in list order */
    uint64_t h = NL_FNV_INIT;
    char phrases[512] = "";
    int k = 0, joined = 0;
    for (int pos = 0; pos < 2; pos++)
        for (size_t i = 0; i < c.n; i++) {
            if (c.pos[i] != pos) continue;
            if (joined++) h = nli_fnv1a("\n", 1, h);
            h = nli_fnv1a(t.v[i], strlen(t.v[i]), h);
            if (pos == 1 && k < 3) {
                if (k++) strcat(phrases, "|");
                strncat(phrases, t.v[i], 100);
            }
        }
    CHECK(c.n_noun == nn && c.n_adj == na, "CSP corpus: %zu nouns + %zu adjectives, reference %zu + %zu", c.n_noun,
          c.n_adj, nn, na);
    CHECK(h == hash, "CSP candidate texts (nouns, conjugated adjectives) differ from the reference's");
    CHECK(!strcmp(phrases, first), "first phrases '%s', reference '%s'", phrases, first);
    nl_strvec_free(&t);
    nl_corpus_free(&c);
    free(lists);
}

int main(void) {
    const char *src = getenv("NEGLABEL_SRC");
    char *path = check_path(src && *src ? src : ".", "tests/data/csp_golden.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (set NEGLABEL_SRC to the repository)", path);
    char line[1 << 16];
    int cases = 0, lists = 0;
    size_t n_nt, n_at, n_sup;
    nl_csp_noun_templates(&n_nt);
    nl_csp_adj_templates(&n_at);
    nl_csp_superclasses(&n_sup);
    CHECK(n_nt == 8 && n_at == 4 && n_sup == 14, "CSP's 8 noun templates, 4 adjective templates, 14 phrases");
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (!strncmp(line, "lists ", 6)) { corpus_check(line); lists++; continue; }
        unsigned long long s, seed;
        size_t ni, nid, nn, na, dim, ncut_want;
        int ngroup;
        double frac, q, cut;
        if (sscanf(line, "case %llu %zu %zu %zu %zu %zu %lf %lf %lf %d %llu", &s, &ni, &nid, &nn, &na, &dim, &frac, &q,
                   &cut, &ngroup, &seed) != 11 ||
            !fgets(line, sizeof line, f) || sscanf(line, "cut %zu", &ncut_want) != 1) {
            CHECK(0, "bad case line");
            break;
        }
        float *img = golden_matrix(s, 0, ni, dim), *rid = golden_matrix(s, 1, 8 * nid, dim),
              *rn = golden_matrix(s, 2, 8 * nn, dim), *ra = golden_matrix(s, 3, 4 * na, dim);
        size_t nc = nn + na;
        float *id = malloc(nid * dim * 4), *cand = malloc(nc * dim * 4), *neg = malloc(nc * dim * 4);
        uint8_t *pos = malloc(nc);
        CHECK(nl_ensemble_raw(rid, nid, 8, dim, id) == 0 && nl_ensemble_raw(rn, nn, 8, dim, cand) == 0 &&
                  nl_ensemble_raw(ra, na, 4, dim, cand + nn * dim) == 0,
              "%s", nl_last_error());
        for (size_t i = 0; i < nc; i++) pos[i] = i < nn ? NL_POS_NOUN : NL_POS_ADJ;
        nl_mine_params mp = nl_mine_default_params();
        mp.fraction = frac;
        mp.quantile = q;
        mp.max_cut = cut;
        size_t *sel = NULL, nsel = 0;
        double *qsim = malloc(nc * sizeof *qsim);
        CHECK(nl_mine(id, nid, cand, nc, pos, dim, &mp, &sel, &nsel, qsim) == 0, "mine: %s", nl_last_error());
        size_t ncut = 0;
        for (size_t i = 0; i < nc; i++) ncut += qsim[i] == 1.0;
        CHECK(ncut == ncut_want, "case %llu: %zu candidates cut (similarity 1), reference %zu", s, ncut, ncut_want);
        /* selected negatives: the same indices in the same order */
        if (!fgets(line, sizeof line, f) || strncmp(line, "selected", 8)) { CHECK(0, "no selected line"); break; }
        char *p = line + 8, *end;
        size_t k = 0;
        int same = 1;
        for (;; k++) {
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p) break;
            p = end;
            same &= k < nsel && sel[k] == v;
        }
        CHECK(same && k == nsel, "case %llu: selected negatives differ from the reference (%zu vs %zu)", s, nsel, k);
        for (size_t i = 0; i < nsel; i++) memcpy(neg + i * dim, cand + sel[i] * dim, dim * 4);
        nl_score_params sp = nl_score_default_params(NL_METHOD_CSP);
        CHECK(sp.permutation == NL_PERM_TORCH && sp.ngroup == 100 && sp.tau == 0.01, "CSP's score defaults");
        sp.ngroup = ngroup;
        sp.seed = seed;
        double *want = malloc(ni * 8), *got = malloc(ni * 8);
        for (size_t i = 0; i < ni; i++) {
            if (!fgets(line, sizeof line, f)) { CHECK(0, "short golden"); break; }
            want[i] = strtod(line, NULL);
        }
        CHECK(nl_score(img, ni, id, nid, neg, nsel, dim, &sp, got, NULL, NULL) == 0, "score: %s", nl_last_error());
        double err = 0;
        for (size_t i = 0; i < ni; i++) err = fmax(err, fabs(got[i] - want[i]) / fabs(want[i]));
        CHECK(err <= 1e-9, "case %llu: CSP scores differ from the reference by %.3g relative", s, err);
        free(img); free(rid); free(rn); free(ra); free(id); free(cand); free(neg); free(pos); free(sel); free(qsim);
        free(want); free(got);
        cases++;
    }
    if (f) fclose(f);
    CHECK(cases == 5 && lists == 1, "%d cases, %d corpus lines (expected 5 and 1)", cases, lists);

    /* mean of raw prompts != mean of normalised prompts */
    float raw[2 * 2] = {3, 0, 0, 1}, e[2], e2[2];
    CHECK(nl_ensemble_raw(raw, 1, 2, 2, e) == 0 && fabsf(e[0] - 0.9486833f) < 1e-6f && fabsf(e[1] - 0.3162278f) < 1e-6f,
          "raw ensemble of (3,0) and (0,1) is (3,1)/sqrt(10), not (1,1)/sqrt(2)");
    float zero[4] = {1, 0, -1, 0};
    CHECK(nl_ensemble_raw(zero, 1, 2, 2, e2) == 0 && e2[0] == 0 && e2[1] == 0, "a zero mean stays zero");
    CHECK(nl_ensemble_raw(raw, 1, 0, 2, e) != 0, "no templates refused");
    nl_mine_params mp = nl_mine_default_params();
    mp.max_cut = NAN;
    size_t *sel;
    size_t nsel;
    uint8_t pos = 0;
    CHECK(nl_mine(raw, 1, raw, 1, &pos, 2, &mp, &sel, &nsel, NULL) != 0 && strstr(nl_last_error(), "NaN"),
          "max_cut NaN refused");
    free(path);
    return check_done();
}
