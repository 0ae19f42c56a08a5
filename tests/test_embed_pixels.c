/* test_embed_pixels.c — nl_embed_pixels, images a caller preprocessed
 * (a DataLoader's batch, transformers' pixel_values): the tiny model's
 * golden pixels (fixtures/preprocess, normalised with the manifest's mean
 * and std, as transformers was given them) embed to transformers' float64
 * image_embeds within 1e-4 of each row's norm, and to the bits
 * nl_embed_images gives for the same files; the model's batch splits a
 * call, which polls nl_set_cancel between batches; NaN and inf are errors
 * naming the image and the place; 0..255 values warn once; NULLs and an
 * impossible count are errors. nl_image_pixels and nl_rgb_pixels give the
 * golden's pixels, the same for files and decoded buffers, and pixels that
 * embed to nl_embed_images' bits for every resample (the folder's own crop
 * included); a missing file zeroes only its row. NEGLABEL_DEVICE=cuda (test_embed_pixels_gpu):
 * the same on CUDA device 0 in fp32. */
#include "check.h"
#include "check_log.h"
#include "image.h"
#include "neglabel.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>

#define S 224
#define PLANE ((size_t)S * S)
#define PX (3 * PLANE)

static int polls, stop_at;
static int cancel_cb(void *user) { (void)user; return ++polls >= stop_at; }

static nl_model *load(const char *dir, int batch, int gpu) {
    nl_model_params p = nl_model_default_params();
    p.batch_size = batch;
    if (gpu) {
        p.device = NL_DEVICE_CUDA;
        p.precision = NL_PRECISION_FP32;
    }
    nl_model *m = nl_model_load(dir, &p);
    CHECK(m != NULL, "load %s (batch %d): %s", dir, batch, nl_last_error());
    return m;
}

int main(void) {
    const char *dev = getenv("NEGLABEL_DEVICE");
    int gpu = dev && !strncmp(dev, "cuda", 4);
    if (gpu && nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    const char *shared = check_shared();
    char *dir = check_path(shared, "fixtures/tiny-clip");
    char *gp = check_path(shared, "fixtures/tiny-clip/golden.json");
    char *mp = check_path(shared, "fixtures/preprocess/manifest.json");
    json_t *golden = json_load_file(gp, 0, NULL), *man = json_load_file(mp, 0, NULL);
    CHECK(golden && man, "read golden.json and manifest.json");
    nl_model *m = load(dir, 0, gpu), *m2 = load(dir, 2, gpu);
    if (!golden || !man || !m || !m2) return check_done();
    CHECK(nl_model_image_size(m) == S, "image size %d", nl_model_image_size(m));
    size_t dim = (size_t)nl_model_dim(m);

    /* The golden's pixels, as transformers was given them. */
    json_t *imgs = json_object_get(golden, "images");
    size_t n = json_array_size(imgs);
    CHECK(n >= 3, "golden images: %zu", n);
    float mean[3], std[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = (float)json_number_value(json_array_get(json_object_get(man, "mean"), c));
        std[c] = (float)json_number_value(json_array_get(json_object_get(man, "std"), c));
    }
    float *pix = malloc(n * PX * sizeof(float)), *raw = malloc(n * PX * sizeof(float));
    char **paths = calloc(n, sizeof *paths);
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        const char *name = json_string_value(json_array_get(imgs, i));
        snprintf(rel, sizeof rel, "fixtures/preprocess/%s.bicubic.rgb", name);
        char *rp = check_path(shared, rel);
        FILE *f = fopen(rp, "rb");
        uint8_t *rgb = malloc(PX);
        CHECK(f && fread(rgb, 1, PX, f) == PX, "read %s", rp);
        if (f) fclose(f);
        for (size_t p = 0; p < PLANE; p++)
            for (int c = 0; c < 3; c++) {
                pix[(i * 3 + c) * PLANE + p] = ((float)rgb[p * 3 + c] / 255.0f - mean[c]) / std[c];
                raw[(i * 3 + c) * PLANE + p] = (float)rgb[p * 3 + c]; /* 0..255, not normalised */
            }
        free(rgb);
        free(rp);
        snprintf(rel, sizeof rel, "fixtures/images/%s", name);
        paths[i] = check_path(shared, rel);
    }

    /* transformers' float64 embeddings of the same pixels */
    float *e = calloc(n * dim, sizeof(float)), *ef = calloc(n * dim, sizeof(float)), *e2 = calloc(n * dim, sizeof(float));
    nl_set_log(check_log_warnings, NULL);
    check_warnings = 0;
    CHECK(nl_embed_pixels(m, pix, n, e) == 0, "embed pixels: %s", nl_last_error());
    CHECK(check_warnings == 0, "normalised pixels warned: %s", check_last_warning);
    json_t *ge = json_object_get(json_object_get(golden, "f32"), "image_embeds");
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(ge, i);
        CHECK(json_array_size(row) == dim, "golden row %zu has %zu values", i, json_array_size(row));
        float g[4096];
        for (size_t d = 0; d < dim && d < 4096; d++) g[d] = (float)json_number_value(json_array_get(row, d));
        double err = check_row_err(e + i * dim, g, dim);
        if (!(err <= worst)) worst = err;
    }
    printf("%s: worst max|a-g|/||g|| against transformers float64: %.3g (limit 1e-4)\n", gpu ? "cuda fp32" : "cpu",
           worst);
    CHECK(worst <= 1e-4, "embeddings of the golden pixels off by %g", worst);

    /* The same files through neglabel's own decoding and preprocessing:
     * the same pixels, so the same bits. */
    CHECK(nl_embed_images(m, (const char *const *)paths, n, NL_RESAMPLE_BICUBIC, ef, NULL) == 0, "files: %s",
          nl_last_error());
    CHECK(!memcmp(e, ef, n * dim * sizeof(float)), "pixels embed differently from the same images as files");

    /* nl_image_pixels / nl_rgb_pixels: the pixels the model is given, the
     * golden's for bicubic; and with each folder's own preprocessing
     * (transformers' crop for this Hugging Face folder) and awkward
     * images, embedded by nl_embed_pixels, nl_embed_images' bits. */
    float *p2 = malloc((n + 4) * PX * sizeof(float));
    CHECK(nl_image_pixels(m, (const char *const *)paths, n, NL_RESAMPLE_BICUBIC, p2, NULL) == 0, "pixels: %s",
          nl_last_error());
    CHECK(!memcmp(p2, pix, n * PX * sizeof(float)), "nl_image_pixels (bicubic) differ from the golden's pixels");
    {
        static const char *more[] = {"odd-227x389.png", "wide-1700x40.png", "rgba-dog.png", "cmyk-dog.jpg"};
        size_t nm = n + 4;
        char **all = calloc(nm, sizeof *all);
        nl_rgb_image *dec = calloc(nm, sizeof *dec);
        nli_image *img = calloc(nm, sizeof *img);
        for (size_t i = 0; i < nm; i++) {
            char rel[512];
            snprintf(rel, sizeof rel, "fixtures/images/%s",
                     i < n ? json_string_value(json_array_get(imgs, i)) : more[i - n]);
            all[i] = check_path(shared, rel);
            CHECK(nli_image_load(all[i], &img[i]) == 0, "decode %s: %s", all[i], nl_last_error());
            dec[i] = (nl_rgb_image){img[i].rgb, img[i].w, img[i].h, 0};
        }
        float *pm = malloc(nm * PX * sizeof(float)), *pr = malloc(nm * PX * sizeof(float));
        float *ea = calloc(nm * dim, sizeof(float)), *eb = calloc(nm * dim, sizeof(float));
        for (int f = 0; f < 3; f++) {
            nl_resample rs = f == 0 ? NL_RESAMPLE_MODEL : f == 1 ? NL_RESAMPLE_BICUBIC : NL_RESAMPLE_BILINEAR;
            CHECK(nl_image_pixels(m, (const char *const *)all, nm, rs, pm, NULL) == 0 &&
                      nl_rgb_pixels(m, dec, nm, rs, pr, NULL) == 0,
                  "pixels (%d): %s", f, nl_last_error());
            CHECK(!memcmp(pm, pr, nm * PX * sizeof(float)), "resample %d: decoded buffers' pixels differ from files'", f);
            CHECK(nl_embed_pixels(m, pm, nm, ea) == 0 && nl_embed_images(m, (const char *const *)all, nm, rs, eb, NULL) == 0,
                  "embed (%d): %s", f, nl_last_error());
            CHECK(!memcmp(ea, eb, nm * dim * sizeof(float)), "resample %d: embedding the pixels differs from the files",
                  f);
        }
        /* the folder's own crop is transformers' for this Hugging Face folder: not torchvision's for 227 x 389 */
        CHECK(nl_image_pixels(m, (const char *const *)all + n, 1, NL_RESAMPLE_MODEL, pm, NULL) == 0 &&
                  nl_image_pixels(m, (const char *const *)all + n, 1, NL_RESAMPLE_BICUBIC, pr, NULL) == 0 &&
                  memcmp(pm, pr, PX * sizeof(float)) != 0,
              "odd-227x389.png: the folder's own preprocessing equals torchvision's bicubic crop");
        /* a missing file: with status only its row (zeros), else the call fails naming it */
        char *keep = all[1];
        all[1] = check_path(shared, "fixtures/images/missing.jpg");
        int st[64];
        CHECK(nl_image_pixels(m, (const char *const *)all, nm, NL_RESAMPLE_BICUBIC, pm, NULL) != 0 &&
                  strstr(nl_last_error(), "missing.jpg"),
              "missing file, no status: %s", nl_last_error());
        memset(pm, 0xff, nm * PX * sizeof(float));
        CHECK(nl_image_pixels(m, (const char *const *)all, nm, NL_RESAMPLE_BICUBIC, pm, st) == 0 && st[0] == 0 &&
                  st[1] == -1 && st[2] == 0,
              "missing file with status: %s", nl_last_error());
        int zero = 1;
        for (size_t k = 0; k < PX; k++) zero &= pm[PX + k] == 0.0f;
        CHECK(zero, "a failed image's pixels are not zero");
        CHECK(!memcmp(pm, p2, PX * sizeof(float)) && !memcmp(pm + 2 * PX, p2 + 2 * PX, (n - 2) * PX * sizeof(float)),
              "the other images' pixels changed beside a missing file");
        free(all[1]);
        all[1] = keep;
        /* batches of 2: the same pixels; nl_set_cancel polled between them */
        stop_at = 1000;
        polls = 0;
        nl_set_cancel(cancel_cb, NULL);
        CHECK(nl_image_pixels(m2, (const char *const *)all, nm, NL_RESAMPLE_BICUBIC, pm, NULL) == 0 &&
                  !memcmp(pm, p2, n * PX * sizeof(float)) && polls == (int)((nm + 1) / 2 - 1),
              "pixels in batches of 2: %s (polls %d)", nl_last_error(), polls);
        stop_at = 1;
        polls = 0;
        CHECK(nl_rgb_pixels(m2, dec, nm, NL_RESAMPLE_BICUBIC, pm, NULL) != 0 && nl_last_status() == NL_ERR_CANCELLED &&
                  polls == 1,
              "pixels cancelled after the first batch: %s (polls %d)", nl_last_error(), polls);
        nl_set_cancel(NULL, NULL);
        CHECK(nl_image_pixels(NULL, (const char *const *)all, 1, NL_RESAMPLE_MODEL, pm, NULL) != 0 &&
                  strstr(nl_last_error(), "nl_image_pixels: NULL argument") &&
                  nl_rgb_pixels(m, NULL, 1, NL_RESAMPLE_MODEL, pm, NULL) != 0 &&
                  strstr(nl_last_error(), "nl_rgb_pixels: NULL argument") &&
                  nl_image_pixels(m, NULL, 0, NL_RESAMPLE_MODEL, NULL, NULL) == 0,
              "NULLs: %s", nl_last_error());
        for (size_t i = 0; i < nm; i++) {
            free(all[i]);
            nli_image_free(&img[i]);
        }
        free(all);
        free(dec);
        free(img);
        free(pm);
        free(pr);
        free(ea);
        free(eb);
    }
    free(p2);

    /* The half precisions (bf16 on the CPU, or fp32 there without native
     * bf16; fp16 and bf16 on a GPU): pixels embed as the same files do,
     * bit for bit, and near fp32. */
    for (int h = 0; h < (gpu ? 2 : 1); h++) {
        nl_model_params hp = nl_model_default_params();
        hp.device = gpu ? NL_DEVICE_CUDA : NL_DEVICE_CPU;
        hp.precision = h == 0 ? NL_PRECISION_BF16 : NL_PRECISION_FP16;
        nl_model *mh = nl_model_load(dir, &hp);
        CHECK(mh != NULL, "load in %s: %s", nl_precision_name(hp.precision), nl_last_error());
        if (!mh) continue;
        float *ha = calloc(n * dim, sizeof(float)), *hb = calloc(n * dim, sizeof(float));
        CHECK(nl_embed_pixels(mh, pix, n, ha) == 0 &&
                  nl_embed_images(mh, (const char *const *)paths, n, NL_RESAMPLE_BICUBIC, hb, NULL) == 0,
              "%s: %s", nl_precision_name(nl_model_precision(mh)), nl_last_error());
        CHECK(!memcmp(ha, hb, n * dim * sizeof(float)), "%s: pixels embed differently from the same files",
              nl_precision_name(nl_model_precision(mh)));
        double low = 1;
        for (size_t i = 0; i < n; i++) {
            double c = check_cosine(ha + i * dim, e + i * dim, dim);
            if (!(c >= low)) low = c;
        }
        printf("%s (%s): worst cosine to fp32 %.6f\n", nl_precision_name(nl_model_precision(mh)),
               nl_model_device_name(mh), low);
        CHECK(low >= 0.999, "%s: cosine %.6f to fp32", nl_precision_name(nl_model_precision(mh)), low);
        free(ha);
        free(hb);
        nl_model_free(mh);
    }

    /* Batches of 2: the same rows (to BLAS's blocking), nl_set_cancel
     * polled after each batch but the last. */
    stop_at = 1000;
    polls = 0;
    nl_set_cancel(cancel_cb, NULL);
    CHECK(nl_embed_pixels(m2, pix, n, e2) == 0, "batch 2: %s", nl_last_error());
    CHECK(polls == (int)((n + 1) / 2 - 1), "batch 2, %zu images: %d polls", n, polls);
    double wb = check_worst_row_err(e2, e, n, dim);
    CHECK(wb <= 1e-5, "batch 2 differs from one batch by %g", wb);
    stop_at = 1;
    polls = 0;
    CHECK(nl_embed_pixels(m2, pix, n, e2) != 0 && nl_last_status() == NL_ERR_CANCELLED && polls == 1,
          "cancelled after the first batch: %s (polls %d)", nl_last_error(), polls);
    nl_set_cancel(NULL, NULL);

    /* Non-finite values: an error naming the image, channel, row and column. */
    size_t at = (2 * 3 + 1) * PLANE + 5 * S + 7; /* image 2, channel 1, row 5, column 7 */
    float keep = pix[at];
    pix[at] = NAN;
    CHECK(nl_embed_pixels(m, pix, n, e2) != 0 && nl_last_status() == NL_ERR_INVALID &&
              strstr(nl_last_error(), "image 2 holds a non-finite value (NaN) at channel 1, row 5, column 7"),
          "NaN: %s", nl_last_error());
    pix[at] = -INFINITY;
    CHECK(nl_embed_pixels(m, pix, n, e2) != 0 && strstr(nl_last_error(), "image 2 holds a non-finite value (inf)"),
          "-inf: %s", nl_last_error());
    pix[at] = keep;
    keep = pix[n * PX - 1];
    pix[n * PX - 1] = INFINITY; /* the very last value */
    char want[128];
    snprintf(want, sizeof want, "image %zu holds a non-finite value (inf) at channel 2, row 223, column 223", n - 1);
    CHECK(nl_embed_pixels(m, pix, n, e2) != 0 && strstr(nl_last_error(), want), "inf last: %s", nl_last_error());
    pix[n * PX - 1] = keep;
    CHECK(nl_embed_pixels(m, pix, n, e2) == 0, "after restoring: %s", nl_last_error());

    /* 0..255 values (no scaling, no normalisation): embedded, with one
     * warning naming the first such value. */
    check_warnings = 0;
    CHECK(nl_embed_pixels(m, raw, n, e2) == 0, "0..255 pixels: %s", nl_last_error());
    CHECK(check_warnings == 1 && strstr(check_last_warning, "far outside") && strstr(check_last_warning, "normalised as the model expects"),
          "0..255 pixels: %d warnings, '%s'", check_warnings, check_last_warning);
    CHECK(memcmp(e2, e, n * dim * sizeof(float)) != 0, "0..255 pixels embedded as normalised ones");
    /* A resize on float tensors overshoots [0, 1] a little: no warning. */
    memcpy(raw, pix, PX * sizeof(float));
    for (size_t k = 0; k < PLANE; k++) raw[k] = (1.1f - mean[0]) / std[0];
    check_warnings = 0;
    CHECK(nl_embed_pixels(m, raw, 1, e2) == 0 && check_warnings == 0, "1.1 before normalising warned: %s", check_last_warning);
    nl_set_log(NULL, NULL);

    /* NULLs, nothing to do, an impossible count. */
    CHECK(nl_embed_pixels(NULL, pix, 1, e2) != 0 && strstr(nl_last_error(), "nl_embed_pixels: NULL argument"),
          "NULL model: %s", nl_last_error());
    CHECK(nl_embed_pixels(m, NULL, 1, e2) != 0 && nl_embed_pixels(m, pix, 1, NULL) != 0, "NULL buffers accepted");
    CHECK(nl_embed_pixels(m, NULL, 0, NULL) == 0, "n = 0: %s", nl_last_error());
    CHECK(nl_embed_pixels(m, pix, SIZE_MAX / 8, e2) != 0 && strstr(nl_last_error(), "too many"),
          "SIZE_MAX / 8 images: %s", nl_last_error());

    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(pix);
    free(raw);
    free(e);
    free(ef);
    free(e2);
    free(dir);
    free(gp);
    free(mp);
    json_decref(golden);
    json_decref(man);
    nl_model_free(m);
    nl_model_free(m2);
    return check_done();
}
