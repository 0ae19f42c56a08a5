/* consumer.c — a program that knows neglabel only through its installed
 * header and library (built by tests/install/check.sh with pkg-config, with
 * CMake's find_package, and against the static archive). It prints "ok" and
 * exits 0 when every check passes.
 *
 * With NEGLABEL_SHARED set (the reference data folder) it also loads
 * fixtures/tiny-clip and embeds a text, compared with transformers' float64
 * output for the same prompt (golden.json, f32 text_embeds[0]). */
#include <neglabel.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond, ...)                                        \
    do {                                                        \
        if (!(cond)) {                                          \
            fprintf(stderr, "consumer: FAILED: " __VA_ARGS__);  \
            fprintf(stderr, "\n");                              \
            failures++;                                         \
        }                                                       \
    } while (0)

int main(void) {
    printf("neglabel %s (CUDA backend built: %d)\n", NEGLABEL_VERSION, nl_cuda_built());

    nl_model_params mp = nl_model_default_params();
    CHECK(mp.device == NL_DEVICE_CPU && mp.precision == NL_PRECISION_DEFAULT,
          "nl_model_default_params: device %d precision %d", (int)mp.device, (int)mp.precision);

    nl_device dev = NL_DEVICE_AUTO;
    int index = -1;
    CHECK(nl_parse_device("cuda:3", &dev, &index) == 0 && dev == NL_DEVICE_CUDA && index == 3,
          "nl_parse_device(cuda:3): %d %d", (int)dev, index);
    CHECK(nl_parse_device("cpu", &dev, &index) == 0 && dev == NL_DEVICE_CPU, "nl_parse_device(cpu)");
    CHECK(nl_parse_device("tpu", &dev, &index) == -1 && nl_last_error()[0] != '\0',
          "nl_parse_device(tpu) should fail with a message");

    /* ID scores above all OOD scores but one pair (0.7 < 0.75): AUROC 8/9. */
    const double id[] = {0.9, 0.8, 0.7}, ood[] = {0.1, 0.2, 0.75};
    nl_metrics met;
    CHECK(nl_compute_metrics(id, 3, ood, 3, NL_FPR95_NEGLABEL, &met) == 0, "nl_compute_metrics: %s",
          nl_last_error());
    CHECK(fabs(met.auroc - 8.0 / 9.0) < 1e-12, "AUROC %.17g, want 8/9", met.auroc);
    CHECK(met.aupr_in > 0 && met.aupr_in <= 1 && met.aupr_out > 0 && met.aupr_out <= 1,
          "AUPR in %g out %g", met.aupr_in, met.aupr_out);

    const char *shared = getenv("NEGLABEL_SHARED");
    if (shared && *shared) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/fixtures/tiny-clip", shared);
        nl_model *m = nl_model_load(dir, NULL);
        CHECK(m != NULL, "nl_model_load(%s): %s", dir, nl_last_error());
        if (m) {
            int d = nl_model_dim(m);
            CHECK(d == 32, "nl_model_dim %d, want 32", d);
            float *e = calloc(d > 0 ? (size_t)d : 1, sizeof *e);
            const char *txt = "a photo of a fox";
            CHECK(e && nl_embed_texts(m, &txt, 1, e) == 0, "nl_embed_texts: %s", nl_last_error());
            /* golden.json f32 text_embeds[0][0..3] (float64 reference) */
            const double want[4] = {-1.0972033021393646, -1.1443314099793462, 1.2740189249649143,
                                    -0.1154774339892983};
            for (int i = 0; e && d >= 4 && i < 4; i++)
                CHECK(fabs(e[i] - want[i]) < 1e-4, "embedding[%d] = %.7g, want %.7g", i, e[i], want[i]);
            free(e);
            nl_model_free(m);
            printf("tiny-clip text embedding matches the reference\n");
        }
    } else {
        printf("NEGLABEL_SHARED not set: model checks skipped\n");
    }

    if (failures) return 1;
    printf("ok\n");
    return 0;
}
