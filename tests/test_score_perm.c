/* test_score_perm.c — nl_score with permutation = NL_PERM_TORCH against
 * tests/data/score_perm_golden.txt: a numpy re-implementation of the
 * reference's grouping (clip_ood.py ScalableClassifier.grouping) with
 * torch.randperm's permutation (tests/gen/gen_score_perm.py), on the
 * deterministic embeddings of tests/golden_embed.h. Scores must agree to
 * 1e-9 relative: same groups as the reference, not just the same
 * distribution. The splitmix permutation must differ there (a check that
 * the option is used), and the numpy permutation's seed bound is refused. */
#include "check.h"
#include "golden_embed.h"
#include "neglabel.h"
#include "util.h"

#include <math.h>
#include <string.h>

int main(void) {
    const char *src = getenv("NEGLABEL_SRC");
    char *path = check_path(src && *src ? src : ".", "tests/data/score_perm_golden.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (set NEGLABEL_SRC to the repository)", path);
    char line[512];
    int cases = 0, differs = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        unsigned long long s, seed;
        size_t ni, nid, nneg, dim;
        int ngroup;
        double tau;
        if (sscanf(line, "case %llu %zu %zu %zu %zu %d %llu %lf", &s, &ni, &nid, &nneg, &dim, &ngroup, &seed, &tau) != 8) {
            CHECK(0, "bad case line: %s", line);
            break;
        }
        float *img = golden_matrix(s, 0, ni, dim), *id = golden_matrix(s, 1, nid, dim),
              *neg = golden_matrix(s, 2, nneg, dim);
        double *want = malloc(ni * sizeof *want), *got = malloc(ni * sizeof *got), *other = malloc(ni * sizeof *other);
        for (size_t i = 0; i < ni; i++) {
            if (!fgets(line, sizeof line, f)) { CHECK(0, "case %llu: short golden", s); break; }
            want[i] = strtod(line, NULL);
        }
        nl_score_params p = nl_score_default_params(NL_METHOD_NEGLABEL);
        p.ngroup = ngroup;
        p.seed = seed;
        p.tau = tau;
        p.permutation = NL_PERM_TORCH;
        CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, got, NULL, NULL) == 0, "%s", nl_last_error());
        double err = 0;
        for (size_t i = 0; i < ni; i++) err = fmax(err, fabs(got[i] - want[i]) / fmax(fabs(want[i]), 1e-300));
        CHECK(err <= 1e-9, "case %llu (%zu negatives, %d groups, seed %llu): max relative error %.3g vs the reference",
              s, nneg, ngroup, seed, err);
        p.permutation = NL_PERM_SPLITMIX;
        CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, other, NULL, NULL) == 0, "%s", nl_last_error());
        for (size_t i = 0; i < ni; i++) differs += fabs(other[i] - want[i]) > 1e-9 * fabs(want[i]);
        free(img); free(id); free(neg); free(want); free(got); free(other);
        cases++;
    }
    if (f) fclose(f);
    CHECK(cases == 6, "%d golden cases (expected 6)", cases);
    CHECK(differs > 0, "splitmix grouping gives other scores than torch's on some image (the option is used)");

    float x[4] = {1, 0, 0, 1};
    double sc;
    nl_score_params p = nl_score_default_params(NL_METHOD_NEGLABEL);
    p.ngroup = 1;
    p.permutation = NL_PERM_NUMPY;
    p.seed = (uint64_t)1 << 32;
    CHECK(nl_score(x, 1, x, 1, x + 2, 1, 2, &p, &sc, NULL, NULL) != 0 && strstr(nl_last_error(), "2^32"),
          "numpy permutation: seed >= 2^32 refused");
    p.permutation = (nl_permutation)9;
    CHECK(nl_score(x, 1, x, 1, x + 2, 1, 2, &p, &sc, NULL, NULL) != 0 && strstr(nl_last_error(), "permutation"),
          "unknown permutation refused");
    free(path);
    return check_done();
}
