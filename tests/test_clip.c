/* test_clip.c — the CLIP forward passes against transformers' float64
 * golden embeddings for the tiny model (F32 and F16 weights), plus the
 * engine's own invariants: truncation at the EOT is exact, thread count
 * does not change a bit, sharded and BF16 checkpoints load. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "clip.h"
#include "safetensors.h"
#include "st_build.h"
#include "util.h"
#include "neglabel.h"

static json_t *golden;
static size_t n_img, n_txt;
static float *pixels;
static int32_t **ids;
static size_t *lens;

/* Worst max|a-g| / ||g||_2 over the rows of one golden matrix. */
static double worst_ratio(const float *a, json_t *g, size_t rows, size_t dim) {
    double worst = 0;
    for (size_t r = 0; r < rows; r++) {
        json_t *row = json_array_get(g, r);
        if (json_array_size(row) != dim) return INFINITY;
        double norm = 0, mx = 0;
        for (size_t d = 0; d < dim; d++) {
            double gv = json_number_value(json_array_get(row, d));
            norm += gv * gv;
            double e = fabs(a[r * dim + d] - gv);
            if (!(e <= mx)) mx = e; /* NaN propagates as a failure */
        }
        double ratio = mx / sqrt(norm);
        if (!(ratio <= worst)) worst = ratio;
    }
    return worst;
}

static double rel_diff(const float *a, const float *b, size_t rows, size_t dim) {
    double worst = 0;
    for (size_t r = 0; r < rows; r++) {
        double norm = 0, mx = 0;
        for (size_t d = 0; d < dim; d++) {
            norm += (double)b[r * dim + d] * b[r * dim + d];
            double e = fabs((double)a[r * dim + d] - b[r * dim + d]);
            if (!(e <= mx)) mx = e;
        }
        double ratio = mx / sqrt(norm);
        if (!(ratio <= worst)) worst = ratio;
    }
    return worst;
}

static int load_inputs(const char *shared) {
    char *gp = check_path(shared, "fixtures/tiny-clip/golden.json");
    char *mp = check_path(shared, "fixtures/preprocess/manifest.json");
    golden = json_load_file(gp, 0, NULL);
    json_t *man = json_load_file(mp, 0, NULL);
    free(gp);
    free(mp);
    if (!golden || !man) return -1;
    json_t *imgs = json_object_get(golden, "images"), *tids = json_object_get(golden, "text_ids_used");
    n_img = json_array_size(imgs);
    n_txt = json_array_size(tids);
    float mean[3], std[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = (float)json_number_value(json_array_get(json_object_get(man, "mean"), c));
        std[c] = (float)json_number_value(json_array_get(json_object_get(man, "std"), c));
    }
    json_decref(man);
    const size_t S = 224, plane = S * S;
    pixels = malloc(sizeof(float) * n_img * 3 * plane);
    for (size_t i = 0; i < n_img; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s/fixtures/preprocess/%s.bicubic.rgb", shared, json_string_value(json_array_get(imgs, i)));
        uint8_t *rgb;
        size_t len;
        if (stb_slurp(name, &rgb, &len) != 0 || len != 3 * plane) return -1;
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < 3; c++)
                pixels[(i * 3 + c) * plane + p] = ((float)rgb[p * 3 + c] / 255.0f - mean[c]) / std[c];
        free(rgb);
    }
    ids = calloc(n_txt, sizeof *ids);
    lens = calloc(n_txt, sizeof *lens);
    for (size_t i = 0; i < n_txt; i++) {
        json_t *a = json_array_get(tids, i);
        lens[i] = json_array_size(a);
        ids[i] = malloc(sizeof(int32_t) * (lens[i] ? lens[i] : 1));
        for (size_t k = 0; k < lens[i]; k++) ids[i][k] = (int32_t)json_integer_value(json_array_get(a, k));
    }
    return n_img && n_txt ? 0 : -1;
}

/* NEGLABEL_DEVICE=cuda (ctest's test_clip_gpu): every model below runs on
 * CUDA device 0 in fp32, and must pass the same checks. */
static int on_gpu;

static nli_clip *load_model(const char *dir, const char *weights, int threads) {
    nli_clip *c = weights ? nli_clip_load_file(dir, weights, threads) : nli_clip_load(dir, threads);
    if (c && on_gpu && nli_clip_use_device(c, 0, 1, 0) != 0) {
        fprintf(stderr, "GPU placement failed: %s\n", nli_geterr());
        nli_clip_free(c);
        return NULL;
    }
    return c;
}

typedef struct { float *img, *txt; } embeds;

static int run(nli_clip *c, embeds *e) {
    int P = nli_clip_get_config(c)->projection_dim;
    e->img = calloc(n_img * P, sizeof(float));
    e->txt = calloc(n_txt * P, sizeof(float));
    if (nli_clip_encode_images(c, pixels, n_img, e->img) != 0) return -1;
    return nli_clip_encode_texts(c, (const int32_t *const *)ids, lens, n_txt, e->txt);
}

static void free_embeds(embeds *e) { free(e->img); free(e->txt); }

static void check_golden(const char *label, nli_clip *c, const char *key, embeds *out) {
    CHECK(c != NULL, "%s: load failed: %s", label, nli_geterr());
    if (!c) return;
    int P = nli_clip_get_config(c)->projection_dim;
    int rc = run(c, out);
    CHECK(rc == 0, "%s: encode failed: %s", label, nli_geterr());
    json_t *g = json_object_get(golden, key);
    double wi = worst_ratio(out->img, json_object_get(g, "image_embeds"), n_img, (size_t)P);
    double wt = worst_ratio(out->txt, json_object_get(g, "text_embeds"), n_txt, (size_t)P);
    printf("%s: worst max|a-g|/||g||: images %.3g, texts %.3g (limit 1e-4)\n", label, wi, wt);
    CHECK(wi <= 1e-4, "%s: image embeddings off by %g", label, wi);
    CHECK(wt <= 1e-4, "%s: text embeddings off by %g", label, wt);
}

/* Split the tiny model's tensors across two shard files plus an index. */
static int make_sharded(const char *src_dir, const char *dir) {
    char *sp = check_path(src_dir, "model.safetensors"), *cp = check_path(src_dir, "config.json");
    char *dc = check_path(dir, "config.json"), *ip = check_path(dir, "model.safetensors.index.json");
    stb s;
    int rc = stb_read(sp, &s) || stb_copy(cp, dc);
    json_t *h[2] = {json_object(), json_object()}, *wm = json_object();
    uint8_t *buf[2] = {malloc(s.data_len), malloc(s.data_len)};
    size_t used[2] = {0, 0}, k = 0;
    const char *shard[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    const char *name;
    json_t *v;
    json_object_foreach(s.hdr, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        int f = (int)(k++ % 2); /* alternate, so both shards hold both towers */
        size_t b = 0, e = 0;
        stb_offsets(&s, name, &b, &e);
        memcpy(buf[f] + used[f], s.data + b, e - b);
        json_t *t = json_deep_copy(v);
        json_object_set_new(t, "data_offsets", json_pack("[II]", (json_int_t)used[f], (json_int_t)(used[f] + e - b)));
        json_object_set_new(h[f], name, t);
        used[f] += e - b;
        json_object_set_new(wm, name, json_string(shard[f]));
    }
    for (int f = 0; f < 2; f++) {
        char *p = check_path(dir, shard[f]);
        rc |= stb_write(p, h[f], buf[f], used[f]);
        free(p);
        free(buf[f]);
        json_decref(h[f]);
    }
    json_t *idx = json_pack("{s:{s:I},s:o}", "metadata", "total_size", (json_int_t)s.data_len, "weight_map", wm);
    rc |= json_dump_file(idx, ip, JSON_INDENT(1));
    json_decref(idx);
    stb_free(&s);
    free(sp); free(cp); free(dc); free(ip);
    return rc ? -1 : 0;
}

/* The tiny model with every F32 tensor rounded to BF16. */
static int make_bf16(const char *src_dir, const char *dir) {
    char *sp = check_path(src_dir, "model.safetensors"), *cp = check_path(src_dir, "config.json");
    char *dc = check_path(dir, "config.json"), *dp = check_path(dir, "model.safetensors");
    stb s;
    int rc = stb_read(sp, &s) || stb_copy(cp, dc);
    json_t *h = json_object();
    uint8_t *buf = malloc(s.data_len);
    size_t used = 0;
    const char *name;
    json_t *v;
    json_object_foreach(s.hdr, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        size_t b = 0, e = 0;
        stb_offsets(&s, name, &b, &e);
        for (size_t i = b; i < e; i += 4) {
            float f;
            memcpy(&f, s.data + i, 4);
            uint16_t x = nli_f32_to_bf16(f);
            buf[used + (i - b) / 2] = (uint8_t)x;
            buf[used + (i - b) / 2 + 1] = (uint8_t)(x >> 8);
        }
        json_t *t = json_deep_copy(v);
        json_object_set_new(t, "dtype", json_string("BF16"));
        json_object_set_new(t, "data_offsets", json_pack("[II]", (json_int_t)used, (json_int_t)(used + (e - b) / 2)));
        json_object_set_new(h, name, t);
        used += (e - b) / 2;
    }
    rc |= stb_write(dp, h, buf, used);
    json_decref(h);
    free(buf);
    stb_free(&s);
    free(sp); free(cp); free(dc); free(dp);
    return rc ? -1 : 0;
}

int main(void) {
    const char *dev = getenv("NEGLABEL_DEVICE");
    on_gpu = dev && !strncmp(dev, "cuda", 4);
    if (on_gpu && nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    const char *shared = check_shared();
    char *dir = check_path(shared, "fixtures/tiny-clip");
    if (load_inputs(shared) != 0) {
        CHECK(0, "cannot read golden.json / preprocess fixtures under %s", shared);
        return check_done();
    }

    double t0 = nli_now();
    nli_clip *c1 = load_model(dir, NULL, 1);
    printf("tiny model load (F32): %.1f ms\n", 1e3 * (nli_now() - t0));
    embeds e32 = {0}, e16 = {0}, e2 = {0}, esh = {0}, ebf = {0};
    check_golden("F32", c1, "f32", &e32);
    if (!c1) return check_done();
    const nli_clip_config *cfg = nli_clip_get_config(c1);
    const size_t P = (size_t)cfg->projection_dim;
    CHECK(!strcmp(cfg->dtype, "F32"), "dtype %s", cfg->dtype);
    CHECK(fabs(nli_clip_logit_scale(c1) - json_number_value(json_object_get(golden, "logit_scale"))) < 1e-6,
          "logit_scale %g", nli_clip_logit_scale(c1));

    char *f16p = check_path(dir, "model-f16.safetensors");
    nli_clip *c16 = load_model(dir, f16p, 1);
    check_golden("F16", c16, "f16", &e16);
    if (c16) CHECK(!strcmp(nli_clip_get_config(c16)->dtype, "F16"), "dtype %s", nli_clip_get_config(c16)->dtype);

    /* Padded to the full context == stopped at the EOT. */
    float *pad = calloc(n_txt * P, sizeof(float));
    CHECK(nli_clip_encode_texts_padded(c1, (const int32_t *const *)ids, lens, n_txt, pad) == 0, "%s", nli_geterr());
    double dp = rel_diff(pad, e32.txt, n_txt, P);
    printf("padded-to-%d vs truncated-at-EOT: worst rel diff %.3g\n", cfg->text.max_position_embeddings, dp);
    CHECK(dp <= 2e-6, "padded vs truncated differ by %g", dp);
    free(pad);

    /* One text at a time equals the packed batch bit for bit: an
     * embedding must not depend on what it was batched with (cached and
     * fresh embeddings are mixed freely). On a GPU cuBLAS may pick another
     * kernel for another row count: equal to rounding there (1e-6). */
    float *one = calloc(P, sizeof(float));
    for (size_t i = 0; i < n_txt; i++) {
        int rc = nli_clip_encode_texts(c1, (const int32_t *const *)&ids[i], &lens[i], 1, one);
        double d = rel_diff(one, e32.txt + i * P, 1, P);
        CHECK(rc == 0 && (on_gpu ? d <= 1e-6 : !memcmp(one, e32.txt + i * P, P * sizeof(float))),
              "text %zu alone differs from batch by %g", i, d);
    }
    free(one);

    /* Bitwise identical with 2 threads. */
    nli_clip *c2 = load_model(dir, NULL, 2);
    CHECK(c2 && run(c2, &e2) == 0, "2-thread run: %s", nli_geterr());
    if (c2) {
        CHECK(!memcmp(e2.img, e32.img, n_img * P * sizeof(float)), "image embeddings differ between 1 and 2 threads");
        CHECK(!memcmp(e2.txt, e32.txt, n_txt * P * sizeof(float)), "text embeddings differ between 1 and 2 threads");
    }

    /* Sharded copy: same tensors, so the same bits. */
    const char *tmp = check_tmpdir();
    char *shd = check_path(tmp, "sharded"), *bfd = check_path(tmp, "bf16");
    nli_mkdir_p(shd);
    nli_mkdir_p(bfd);
    CHECK(make_sharded(dir, shd) == 0, "cannot build sharded copy in %s", shd);
    nli_clip *csh = load_model(shd, NULL, 1);
    CHECK(csh && run(csh, &esh) == 0, "sharded load/run: %s", nli_geterr());
    if (csh) {
        CHECK(!memcmp(esh.img, e32.img, n_img * P * sizeof(float)), "sharded image embeddings differ");
        CHECK(!memcmp(esh.txt, e32.txt, n_txt * P * sizeof(float)), "sharded text embeddings differ");
        CHECK(nli_clip_param_count(csh) == nli_clip_param_count(c1), "param count");
    }

    /* BF16 copy: 8 mantissa bits, so about 2^-9 relative per weight. */
    CHECK(make_bf16(dir, bfd) == 0, "cannot build bf16 copy in %s", bfd);
    nli_clip *cbf = load_model(bfd, NULL, 1);
    CHECK(cbf && run(cbf, &ebf) == 0, "bf16 load/run: %s", nli_geterr());
    if (cbf) {
        CHECK(!strcmp(nli_clip_get_config(cbf)->dtype, "BF16"), "dtype %s", nli_clip_get_config(cbf)->dtype);
        double bi = rel_diff(ebf.img, e32.img, n_img, P), bt = rel_diff(ebf.txt, e32.txt, n_txt, P);
        printf("BF16 vs F32: worst rel diff images %.3g, texts %.3g (limit 0.02)\n", bi, bt);
        CHECK(bi <= 0.02 && bt <= 0.02, "bf16 too far from f32: %g %g", bi, bt);
        CHECK(bi > 0 && bt > 0, "bf16 identical to f32: conversion not exercised");
    }

    /* Bad inputs to the encoders are errors, not crashes. */
    int32_t bad[3] = {49406, 60000, 49407};
    const int32_t *bp = bad;
    size_t bl = 3;
    float tmpout[64];
    CHECK(nli_clip_encode_texts(c1, &bp, &bl, 1, tmpout) != 0 && strstr(nli_geterr(), "vocabulary"), "bad id: %s", nli_geterr());
    bl = 78;
    CHECK(nli_clip_encode_texts(c1, &bp, &bl, 1, tmpout) != 0, "78 tokens accepted");

    free_embeds(&e32); free_embeds(&e16); free_embeds(&e2); free_embeds(&esh); free_embeds(&ebf);
    nli_clip_free(c1); nli_clip_free(c16); nli_clip_free(c2); nli_clip_free(csh); nli_clip_free(cbf);
    for (size_t i = 0; i < n_txt; i++) free(ids[i]);
    free(ids); free(lens); free(pixels); free(dir); free(f16p); free(shd); free(bfd);
    json_decref(golden);
    stb_rmtree(check_tmpdir());
    return check_done();
}
