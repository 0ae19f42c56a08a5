/* test_metrics.c — nl_compute_metrics against scikit-learn 1.2.1 and the
 * MCM / OpenOOD reference code (OpenOOD's FPR95 and trapezoid AUPRs) (tests/data/metrics_golden.txt, written by
 * tests/gen/gen_metrics.py), plus the error cases. */
#include "check.h"
#include "neglabel.h"

#include <math.h>

static double *read_list(FILE *f, const char *tag, size_t n) {
    char t[16];
    if (fscanf(f, "%15s", t) != 1 || strcmp(t, tag) != 0) return NULL;
    double *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%lf", &x[i]) != 1) { free(x); return NULL; }
    return x;
}

int main(void) {
    const char *src = getenv("NEGLABEL_SRC");
    char *path = check_path(src && *src ? src : ".", "tests/data/metrics_golden.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    int ncase = 0;
    char line[256];
    while (f && fscanf(f, "%255s", line) == 1) {
        if (line[0] == '#') { if (!fgets(line, sizeof line, f)) break; continue; }
        char name[128];
        size_t ni, no;
        if (strcmp(line, "case") || fscanf(f, "%127s %zu %zu", name, &ni, &no) != 3) {
            CHECK(0, "bad golden file near '%s'", line);
            break;
        }
        double *a = read_list(f, "id", ni), *b = read_list(f, "ood", no), *e = read_list(f, "expect", 7);
        CHECK(a && b && e, "case %s: cannot parse", name);
        if (!a || !b || !e) { free(a); free(b); free(e); break; }
        nl_metrics m[2];
        int rc0 = nl_compute_metrics(a, ni, b, no, NL_FPR95_NEGLABEL, &m[0]);
        int rc1 = nl_compute_metrics(a, ni, b, no, NL_FPR95_OPENOOD, &m[1]);
        CHECK(rc0 == 0 && rc1 == 0, "case %s: %s", name, nl_last_error());
        double got[7] = {m[0].auroc, m[0].aupr_in, m[0].aupr_out, m[0].fpr95, m[1].fpr95, m[1].aupr_in, m[1].aupr_out};
        static const char *what[7] = {"auroc",         "aupr_in",        "aupr_out",        "fpr95 neglabel",
                                      "fpr95 openood", "aupr_in openood", "aupr_out openood"};
        for (int k = 0; k < 7; k++)
            CHECK(fabs(got[k] - e[k]) <= 1e-9, "case %s: %s %.17g, sklearn %.17g", name, what[k], got[k], e[k]);
        CHECK(m[1].auroc == m[0].auroc, "case %s: AUROC depends on the convention", name);
        ncase++;
        free(a); free(b); free(e);
    }
    if (f) fclose(f);
    free(path);
    printf("%d golden cases\n", ncase);
    CHECK(ncase >= 30, "only %d golden cases", ncase);

    /* errors */
    double s[3] = {0.1, 0.2, 0.3}, bad[2] = {0.5, NAN};
    nl_metrics m;
    CHECK(nl_compute_metrics(s, 0, s, 3, NL_FPR95_NEGLABEL, &m) == -1, "empty ID accepted");
    CHECK(strstr(nl_last_error(), "at least one ID") != NULL, "message: %s", nl_last_error());
    CHECK(nl_compute_metrics(s, 3, s, 0, NL_FPR95_NEGLABEL, &m) == -1, "empty OOD accepted");
    CHECK(nl_compute_metrics(s, 3, bad, 2, NL_FPR95_OPENOOD, &m) == -1, "NaN accepted");
    CHECK(strstr(nl_last_error(), "OOD score 1") != NULL, "message: %s", nl_last_error());
    bad[1] = INFINITY;
    CHECK(nl_compute_metrics(bad, 2, s, 3, NL_FPR95_OPENOOD, &m) == -1, "inf accepted");
    CHECK(!strcmp(nl_fpr_convention_name(NL_FPR95_NEGLABEL), "neglabel"), "name");
    CHECK(!strcmp(nl_fpr_convention_name(NL_FPR95_OPENOOD), "openood"), "name");
    return check_done();
}
