/* test_cli_engine.c — the CLIP engine end to end through the CLI, against
 * the reference data: `embed` from image files and strings vs transformers'
 * float64 embeddings (F32 and F16 weights), `tokenize` vs OpenAI's ids for
 * all golden strings, `preprocess` vs Pillow's pixels, `info`. */
#include <jansson.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "neglabel.h"
#include "tokenizer_errata.h"

static const char *BIN;
static const char *SH;

static json_t *load_json(const char *path) {
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) fprintf(stderr, "%s: %s\n", path, e.text);
    return j;
}

/* Run a shell command, return its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A model folder whose model.safetensors is the given weights file. */
static char *model_with(const char *weights, const char *name) {
    char *dir = check_path(check_tmpdir(), name);
    sh("mkdir -p '%s' && for f in config.json vocab.json merges.txt preprocessor_config.json; do "
       "ln -sf '%s/fixtures/tiny-clip/'$f '%s/'$f; done && ln -sf '%s/fixtures/tiny-clip/%s' '%s/model.safetensors'",
       dir, SH, dir, SH, weights, dir);
    return dir;
}

static double worst_ratio(json_t *out_line, json_t *golden_row) {
    json_t *emb = json_object_get(out_line, "embedding");
    size_t n = json_array_size(golden_row);
    if (json_array_size(emb) != n || n == 0) return INFINITY;
    double norm = 0, maxd = 0;
    for (size_t k = 0; k < n; k++) {
        double g = json_number_value(json_array_get(golden_row, k));
        double a = json_number_value(json_array_get(emb, k));
        norm += g * g;
        if (fabs(a - g) > maxd) maxd = fabs(a - g);
    }
    return maxd / (1e-4 * sqrt(norm));
}

static void test_embed(json_t *golden, const char *dtype, const char *weights) {
    char *model = model_with(weights, dtype);
    json_t *images = json_object_get(golden, "images"), *texts = json_object_get(golden, "texts");
    json_t *ref = json_object_get(golden, dtype);
    char *out = check_path(check_tmpdir(), "embed.jsonl");
    /* Interleave an image and a text first to check command-line order. */
    char cmd[65536];
    int off = snprintf(cmd, sizeof cmd, "'%s' embed --no-cache --model '%s'", BIN, model);
    size_t ni = json_array_size(images), nt = json_array_size(texts);
    for (size_t i = 0; i < ni; i++)
        off += snprintf(cmd + off, sizeof cmd - (size_t)off, " --image '%s/fixtures/images/%s'", SH,
                        json_string_value(json_array_get(images, i)));
    for (size_t i = 0; i < nt; i++) {
        off += snprintf(cmd + off, sizeof cmd - (size_t)off, " --text '");
        for (const char *s = json_string_value(json_array_get(texts, i)); *s; s++) {
            if (*s == '\'') off += snprintf(cmd + off, sizeof cmd - (size_t)off, "'\\''");
            else cmd[off++] = *s;
        }
        cmd[off++] = '\'';
        cmd[off] = 0;
    }
    snprintf(cmd + off, sizeof cmd - (size_t)off, " > '%s'", out);
    CHECK(sh("%s", cmd) == 0, "embed with %s weights failed", dtype);
    FILE *f = fopen(out, "r");
    char *line = NULL;
    size_t cap = 0, k = 0;
    double worst = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        int is_img = k < ni;
        json_t *rows = json_object_get(ref, is_img ? "image_embeds" : "text_embeds");
        json_t *g = json_array_get(rows, is_img ? k : k - ni);
        CHECK(o && !strcmp(json_string_value(json_object_get(o, "kind")), is_img ? "image" : "text"),
              "line %zu kind", k);
        double r = worst_ratio(o, g);
        CHECK(r <= 1.0, "%s %s %zu: max|a-g| = %.3g x 1e-4*||g||", dtype, is_img ? "image" : "text", k, r);
        if (r > worst) worst = r;
        json_decref(o);
        k++;
    }
    CHECK(k == ni + nt, "%s: expected %zu output lines, got %zu", dtype, ni + nt, k);
    printf("embed %s: %zu embeddings, worst max|a-g| / (1e-4*||g||) = %.4f\n", dtype, k, worst);
    free(line);
    if (f) fclose(f);
    free(out);
    free(model);
}

static void test_tokenize(void) {
    char *model = model_with("model.safetensors", "tok");
    char *out = check_path(check_tmpdir(), "tok.jsonl");
    CHECK(sh("'%s' tokenize --model '%s' < '%s/fixtures/tokenizer/golden.jsonl' > '%s'", BIN, model, SH, out) == 0,
          "tokenize failed");
    char *gp = check_path(SH, "fixtures/tokenizer/golden.jsonl");
    FILE *g = fopen(gp, "r"), *o = fopen(out, "r");
    char *gl = NULL, *ol = NULL;
    size_t gc = 0, oc = 0, n = 0, bad = 0, errata = 0;
    while (g && o && getline(&gl, &gc, g) > 0) {
        if (getline(&ol, &oc, o) <= 0) { bad++; break; }
        json_t *a = json_loads(gl, 0, NULL), *b = json_loads(ol, 0, NULL);
        for (size_t k = 0; a && k < TOKENIZER_ERRATA_COUNT; k++) { /* golden made without ftfy */
            if (TOKENIZER_ERRATA[k].line != n + 1) continue;
            json_t *ids = json_array();
            for (size_t i = 0; i < TOKENIZER_ERRATA[k].n; i++) json_array_append_new(ids, json_integer(TOKENIZER_ERRATA[k].ids[i]));
            CHECK(!json_equal(json_object_get(a, "ids"), ids), "erratum %zu: golden line already has ftfy's ids", k);
            json_object_set_new(a, "ids", ids);
            errata++;
        }
        int same = a && b && json_equal(json_object_get(a, "ids"), json_object_get(b, "ids")) &&
                   json_equal(json_object_get(a, "text"), json_object_get(b, "text"));
        if (!same && bad++ < 5) fprintf(stderr, "mismatch on golden line %zu: %s", n + 1, gl);
        json_decref(a);
        json_decref(b);
        n++;
    }
    CHECK(n == 80496, "expected 80496 golden strings, read %zu", n);
    CHECK(errata == TOKENIZER_ERRATA_COUNT, "%zu of %zu errata applied", errata, TOKENIZER_ERRATA_COUNT);
    CHECK(bad == 0, "%zu of %zu strings tokenized differently", bad, n);
    printf("tokenize: %zu strings, %zu mismatches\n", n, bad);
    free(gl);
    free(ol);
    if (g) fclose(g);
    if (o) fclose(o);
    free(gp);
    free(out);
    free(model);
}

static void test_preprocess(void) {
    char *mp = check_path(SH, "fixtures/preprocess/manifest.json");
    json_t *man = load_json(mp);
    json_t *imgs = json_object_get(man, "images");
    const char *name;
    json_t *v;
    size_t total = 0;
    json_object_foreach(imgs, name, v) {
        for (int r = 0; r < 2; r++) {
            const char *filt = r ? "bilinear" : "bicubic";
            char *out = check_path(check_tmpdir(), "pp.rgb");
            CHECK(sh("'%s' preprocess --resample %s '%s/fixtures/images/%s' -o '%s'", BIN, filt, SH, name, out) == 0,
                  "preprocess %s %s", name, filt);
            char gold[4096];
            snprintf(gold, sizeof gold, "%s/fixtures/preprocess/%s",
                     SH, json_string_value(json_object_get(json_object_get(v, "outputs"), filt)));
            FILE *a = fopen(out, "rb"), *b = fopen(gold, "rb");
            size_t n = 224 * 224 * 3, diff = 0, max = 0;
            uint8_t *x = malloc(n), *y = malloc(n);
            size_t ra = a ? fread(x, 1, n, a) : 0, rb = b ? fread(y, 1, n, b) : 0;
            CHECK(ra == n && rb == n, "%s %s: sizes %zu %zu", name, filt, ra, rb);
            for (size_t k = 0; ra == n && rb == n && k < n; k++) {
                size_t d = (size_t)abs((int)x[k] - (int)y[k]);
                if (d) diff++;
                if (d > max) max = d;
            }
            CHECK(max <= 1 && diff * 200 <= n, "%s %s: %zu bytes differ, max %zu", name, filt, diff, max);
            total += diff;
            if (a) fclose(a);
            if (b) fclose(b);
            free(x);
            free(y);
            free(out);
        }
    }
    printf("preprocess: %zu differing bytes over all images and filters\n", total);
    json_decref(man);
    free(mp);
}

static void test_info(void) {
    char *model = model_with("model.safetensors", "info");
    char *out = check_path(check_tmpdir(), "info.json");
    CHECK(sh("'%s' info --model '%s' > '%s'", BIN, model, out) == 0, "info failed");
    json_t *j = load_json(out);
    json_t *vis = json_object_get(j, "vision"), *txt = json_object_get(j, "text");
    CHECK(json_integer_value(json_object_get(vis, "hidden_size")) == 128, "vision hidden_size");
    CHECK(json_integer_value(json_object_get(vis, "patch_size")) == 16, "vision patch_size");
    CHECK(json_integer_value(json_object_get(vis, "image_size")) == 224, "vision image_size");
    CHECK(json_integer_value(json_object_get(vis, "num_attention_heads")) == 2, "vision heads");
    CHECK(json_integer_value(json_object_get(txt, "hidden_size")) == 64, "text hidden_size");
    CHECK(json_integer_value(json_object_get(txt, "intermediate_size")) == 256, "text intermediate_size");
    CHECK(json_integer_value(json_object_get(txt, "max_position_embeddings")) == 77, "text max_pos");
    CHECK(json_integer_value(json_object_get(txt, "vocab_size")) == 49408, "text vocab");
    CHECK(json_integer_value(json_object_get(txt, "num_hidden_layers")) == 2, "text layers");
    CHECK(json_integer_value(json_object_get(j, "projection_dim")) == 32, "projection_dim");
    CHECK(!strcmp(json_string_value(json_object_get(j, "dtype")) ? json_string_value(json_object_get(j, "dtype")) : "", "F32"), "dtype");
    /* Where it ran: NEGLABEL_DEVICE (the ctest environment) decides. */
    const char *want = getenv("NEGLABEL_DEVICE"), *got = json_string_value(json_object_get(j, "device"));
    int gpu = want && !strncmp(want, "cuda", 4);
    CHECK(got && (gpu ? !strncmp(got, "cuda:0", 6) : !strcmp(got, "cpu")), "device %s (NEGLABEL_DEVICE=%s)",
          got ? got : "(none)", want ? want : "");
    CHECK(!strcmp(json_string_value(json_object_get(j, "precision")) ? json_string_value(json_object_get(j, "precision")) : "", "fp32"),
          "precision");
    /* The parameter count: every element of every tensor in the checkpoint,
     * summed here from its safetensors header. */
    char *st = check_path(model, "model.safetensors");
    FILE *f = fopen(st, "rb");
    uint64_t hlen = 0;
    json_int_t want_params = -1;
    if (f && fread(&hlen, 8, 1, f) == 1 && hlen < (1u << 24)) {
        char *h = malloc(hlen);
        json_t *hdr = h && fread(h, 1, hlen, f) == hlen ? json_loadb(h, hlen, 0, NULL) : NULL;
        const char *k;
        json_t *v;
        want_params = 0;
        json_object_foreach(hdr, k, v) {
            json_t *shape = json_object_get(v, "shape");
            if (!shape) continue; /* __metadata__ */
            json_int_t c = 1;
            for (size_t d = 0; d < json_array_size(shape); d++) c *= json_integer_value(json_array_get(shape, d));
            want_params += c;
        }
        json_decref(hdr);
        free(h);
    }
    if (f) fclose(f);
    free(st);
    CHECK(want_params > 0 && json_integer_value(json_object_get(j, "parameters")) == want_params,
          "parameters %lld, the checkpoint holds %lld", (long long)json_integer_value(json_object_get(j, "parameters")),
          (long long)want_params);
    json_decref(j);
    free(out);
    free(model);
}

int main(void) {
    const char *dev = getenv("NEGLABEL_DEVICE");
    if (dev && !strncmp(dev, "cuda", 4) && nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    SH = check_shared();
    BIN = getenv("NEGLABEL_BIN");
    if (!BIN) { printf("SKIP: NEGLABEL_BIN not set (run through ctest)\n"); return 77; }
    char *gp = check_path(SH, "fixtures/tiny-clip/golden.json");
    json_t *golden = load_json(gp);
    CHECK(golden != NULL, "golden.json");
    if (golden) {
        test_embed(golden, "f32", "model.safetensors");
        test_embed(golden, "f16", "model-f16.safetensors");
    }
    test_info();
    test_preprocess();
    test_tokenize();
    json_decref(golden);
    free(gp);
    sh("rm -rf '%s'", check_tmpdir());
    return check_done();
}
