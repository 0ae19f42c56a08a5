/* test_cli_scoring.c — `neglabel score-embeddings` against a direct
 * implementation of the formulas (random .npy embeddings, several ngroup
 * values including 1, MCM), `neglabel metrics` against the scikit-learn
 * goldens (both FPR95 conventions), and the CLI's refusals of bad input:
 * non-finite values, mismatched dimensions, too many groups. */
#include <stdarg.h>
#include <sys/wait.h>

#include "check.h"
#include "naive_score.h"
#include "neglabel.h"

static const char *BIN, *DIR_;

static int run(const char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(const char *out, const char *fmt, ...) {
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s' 2> '%s/stderr.txt'", BIN, args, out, DIR_);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *path(const char *name) { return check_path(DIR_, name); }

static int stderr_has(const char *needle) {
    char *p = path("stderr.txt");
    FILE *f = fopen(p, "r");
    char buf[4096] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    free(p);
    return strstr(buf, needle) != NULL;
}

static double *read_scores(const char *file, size_t n) {
    FILE *f = fopen(file, "r");
    double *v = calloc(n + 1, sizeof *v);
    size_t k = 0;
    while (f && k <= n && fscanf(f, "%lf", &v[k]) == 1) k++;
    if (f) fclose(f);
    if (k != n) { free(v); return NULL; }
    return v;
}

static void test_score_embeddings(void) {
    enum { NID = 13, NNEG = 211, NIMG = 37, DIM = 24 };
    float *id = malloc(sizeof(float) * NID * DIM), *neg = malloc(sizeof(float) * NNEG * DIM),
          *img = malloc(sizeof(float) * NIMG * DIM);
    unit_emb(id, NID, DIM);
    unit_emb(neg, NNEG, DIM);
    unit_emb(img, NIMG, DIM);
    /* Rows need not be normalised: scale them (the reference computes
     * cosines of exactly the saved values). */
    for (size_t i = 0; i < NIMG * DIM; i++) img[i] *= 3.5f;
    char *pid = path("id.npy"), *pneg = path("neg.npy"), *pimg = path("img.npy"), *out = path("scores.txt");
    CHECK(nl_npy_save(pid, id, NID, DIM) == 0 && nl_npy_save(pneg, neg, NNEG, DIM) == 0 &&
              nl_npy_save(pimg, img, NIMG, DIM) == 0,
          "npy save: %s", nl_last_error());
    const int groups[] = {1, 2, 7, 100, NNEG};
    const double taus[] = {0.01, 1.0};
    double worst = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (size_t t = 0; t < 2; t++) {
            int rc = run(out, "score-embeddings --id '%s' --neg '%s' --images '%s' --no-shuffle --ngroup %d --tau %g",
                         pid, pneg, pimg, groups[g], taus[t]);
            CHECK(rc == 0, "score-embeddings ngroup %d failed (%d)", groups[g], rc);
            double *s = read_scores(out, NIMG);
            CHECK(s != NULL, "ngroup %d: expected %d scores", groups[g], NIMG);
            for (size_t i = 0; s && i < NIMG; i++) {
                /* The reference drops the last NNEG mod ngroup negatives. */
                double want = naive_neglabel(img + i * DIM, id, NID, neg, NNEG - NNEG % (size_t)groups[g], DIM,
                                             (size_t)groups[g], NULL, taus[t]);
                double d = fabs(s[i] - want);
                if (d > worst) worst = d;
                CHECK(d <= 1e-6, "ngroup %d tau %g image %zu: %.12g vs %.12g", groups[g], taus[t], i, s[i], want);
            }
            free(s);
        }
    printf("score-embeddings: worst |cli - direct| = %.3g\n", worst);
    /* MCM */
    CHECK(run(out, "score-embeddings --method mcm --id '%s' --images '%s'", pid, pimg) == 0, "mcm failed");
    double *s = read_scores(out, NIMG);
    CHECK(s != NULL, "mcm: expected %d scores", NIMG);
    for (size_t i = 0; s && i < NIMG; i++) {
        double want = naive_mcm(img + i * DIM, id, NID, DIM, 1.0);
        CHECK(fabs(s[i] - want) <= 1e-6, "mcm image %zu: %.12g vs %.12g", i, s[i], want);
    }
    free(s);
    /* Shuffled scores are deterministic for a seed and change with it. */
    char *o2 = path("scores2.txt");
    run(out, "score-embeddings --id '%s' --neg '%s' --images '%s' --ngroup 7 --seed 3", pid, pneg, pimg);
    run(o2, "score-embeddings --id '%s' --neg '%s' --images '%s' --ngroup 7 --seed 3", pid, pneg, pimg);
    double *a = read_scores(out, NIMG), *b = read_scores(o2, NIMG);
    CHECK(a && b && !memcmp(a, b, NIMG * sizeof *a), "same seed, different scores");
    run(o2, "score-embeddings --id '%s' --neg '%s' --images '%s' --ngroup 7 --seed 4", pid, pneg, pimg);
    free(b);
    b = read_scores(o2, NIMG);
    CHECK(a && b && memcmp(a, b, NIMG * sizeof *a) != 0, "seed has no effect");
    free(a);
    free(b);
    /* --permutation torch|numpy: the library's scores with that shuffle
     * (%.17g round-trips), and a bad name is a usage error. */
    const char *kinds[2] = {"torch", "numpy"};
    for (int k = 0; k < 2; k++) {
        CHECK(run(o2, "score-embeddings --id '%s' --neg '%s' --images '%s' --ngroup 7 --seed 3 --permutation %s", pid,
                  pneg, pimg, kinds[k]) == 0,
              "--permutation %s failed", kinds[k]);
        b = read_scores(o2, NIMG);
        double lib[NIMG];
        nl_score_params sp = nl_score_default_params(NL_METHOD_NEGLABEL);
        sp.ngroup = 7;
        sp.seed = 3;
        nl_parse_permutation(kinds[k], &sp.permutation);
        CHECK(nl_score(img, NIMG, id, NID, neg, NNEG, DIM, &sp, lib, NULL, NULL) == 0, "%s", nl_last_error());
        CHECK(b && !memcmp(b, lib, sizeof lib), "--permutation %s: CLI scores differ from nl_score's", kinds[k]);
        free(b);
    }
    CHECK(run(o2, "score-embeddings --id '%s' --neg '%s' --images '%s' --permutation shuffle", pid, pneg, pimg) == 2 &&
              stderr_has("splitmix, torch or numpy"),
          "bad --permutation: usage error naming the choices");
    free(o2);

    /* Refusals: mismatched dimensions, non-finite values, ngroup > negatives. */
    char *pbad = path("bad.npy");
    float *w = malloc(sizeof(float) * 5 * (DIM + 1));
    unit_emb(w, 5, DIM + 1);
    nl_npy_save(pbad, w, 5, DIM + 1);
    CHECK(run(out, "score-embeddings --id '%s' --neg '%s' --images '%s'", pid, pbad, pimg) == 1 &&
              stderr_has("dimension"),
          "mismatched dimensions not refused clearly");
    /* A NaN written by hand (nl_npy_save refuses them). */
    FILE *f = fopen(pbad, "r+b");
    if (f) {
        fseek(f, -4, SEEK_END);
        float nan = NAN;
        fwrite(&nan, 4, 1, f);
        fclose(f);
    }
    CHECK(run(out, "score-embeddings --id '%s' --neg '%s' --images '%s'", pid, pneg, pbad) == 1 && stderr_has("bad.npy"),
          "non-finite value not refused with the file named");
    CHECK(run(out, "score-embeddings --id '%s' --neg '%s' --images '%s' --ngroup 500", pid, pneg, pimg) == 1,
          "ngroup > negatives accepted");
    CHECK(run(out, "score-embeddings --id '%s' --images '%s'", pid, pimg) == 2, "missing --neg accepted");
    free(w);
    free(pbad);
    free(pid);
    free(pneg);
    free(pimg);
    free(out);
    free(id);
    free(neg);
    free(img);
}

static void write_list(const char *file, const double *v, size_t n) {
    FILE *f = fopen(file, "w");
    for (size_t i = 0; f && i < n; i++) fprintf(f, "%.17g\n", v[i]);
    if (f) fclose(f);
}

static double *read_tagged(FILE *f, const char *tag, size_t n) {
    char t[64];
    if (fscanf(f, "%63s", t) != 1 || strcmp(t, tag)) return NULL;
    double *v = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%lf", &v[i]) != 1) { free(v); return NULL; }
    return v;
}

static double json_field(const char *file, const char *key) {
    FILE *f = fopen(file, "r");
    char buf[1024] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    char *p = strstr(buf, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static void test_metrics(void) {
    const char *src = getenv("NEGLABEL_SRC");
    char *gp = check_path(src && *src ? src : ".", "tests/data/metrics_golden.txt");
    FILE *g = fopen(gp, "r");
    CHECK(g != NULL, "cannot open %s", gp);
    char *pa = path("id_scores.txt"), *pb = path("ood_scores.txt"), *out = path("metrics.json");
    char word[256];
    int ncase = 0;
    while (g && fscanf(g, "%255s", word) == 1 && ncase < 20) {
        if (word[0] == '#') { if (!fgets(word, sizeof word, g)) break; continue; }
        char name[128];
        size_t ni, no;
        if (strcmp(word, "case") || fscanf(g, "%127s %zu %zu", name, &ni, &no) != 3) break;
        double *a = read_tagged(g, "id", ni), *b = read_tagged(g, "ood", no), *e = read_tagged(g, "expect", 7);
        if (!a || !b || !e) { CHECK(0, "bad golden case %s", name); free(a); free(b); free(e); break; }
        write_list(pa, a, ni);
        write_list(pb, b, no);
        for (int conv = 0; conv < 2; conv++) {
            CHECK(run(out, "metrics --id-scores '%s' --ood-scores '%s' --convention %s", pa, pb,
                      conv ? "openood" : "neglabel") == 0,
                  "metrics %s failed", name);
            double got[4] = {json_field(out, "auroc"), json_field(out, "aupr_in"), json_field(out, "aupr_out"),
                             json_field(out, "fpr95")};
            /* expect: auroc, aupr_in, aupr_out, fpr95 neglabel, fpr95 openood,
             * then openood's trapezoid aupr_in and aupr_out */
            double want[4] = {e[0], conv ? e[5] : e[1], conv ? e[6] : e[2], e[3 + conv]};
            for (int k = 0; k < 4; k++)
                CHECK(fabs(got[k] - want[k]) <= 1e-9, "case %s conv %d field %d: %.17g vs sklearn %.17g", name, conv,
                      k, got[k], want[k]);
        }
        ncase++;
        free(a);
        free(b);
        free(e);
    }
    printf("metrics: %d golden cases through the CLI\n", ncase);
    CHECK(ncase == 20, "only %d cases", ncase);
    /* Bad score files. */
    FILE *f = fopen(pa, "w");
    if (f) { fputs("0.5\nnan\n", f); fclose(f); }
    CHECK(run(out, "metrics --id-scores '%s' --ood-scores '%s'", pa, pb) == 1 && stderr_has("id_scores.txt"),
          "NaN score accepted or file not named");
    f = fopen(pa, "w");
    if (f) fclose(f);
    CHECK(run(out, "metrics --id-scores '%s' --ood-scores '%s'", pa, pb) == 1, "empty ID scores accepted");
    if (g) fclose(g);
    free(gp);
    free(pa);
    free(pb);
    free(out);
}

int main(void) {
    BIN = getenv("NEGLABEL_BIN");
    if (!BIN) { printf("SKIP: NEGLABEL_BIN not set (run through ctest)\n"); return 77; }
    DIR_ = check_tmpdir();
    test_score_embeddings();
    test_metrics();
    if (check_rm_rf(DIR_)) {}
    return check_done();
}
