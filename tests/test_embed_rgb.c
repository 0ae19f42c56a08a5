/* test_embed_rgb.c — images from memory (nl_embed_rgb, nl_preprocess_rgb,
 * nl_embed_image_buffers) give exactly what the same images give from
 * files: the decoded pixels of each fixture image, contiguous and with
 * padded rows, preprocess to the same bytes and embed to the same bits; the
 * files' encoded bytes embed to the same bits. Bad buffers are errors. */
#include "check.h"
#include "image.h"
#include "util.h"
#include "neglabel.h"

static const char *names[] = {"dog.jpg", "rgba-dog.png", "wide-1700x40.png", "tiny-1x1.png", "odd-227x389.png",
                              "cmyk-dog.jpg"};
#define N (sizeof names / sizeof names[0])

int main(void) {
    const char *shared = check_shared();
    char *dir = check_path(shared, "fixtures/tiny-clip");
    nl_model_params p = nl_model_default_params();
    nl_model *m = nl_model_load(dir, &p);
    CHECK(m != NULL, "load: %s", nl_last_error());
    if (!m) return check_done();
    size_t dim = (size_t)nl_model_dim(m);
    int S = nl_model_image_size(m);
    char *paths[N];
    nli_image img[N];
    nl_rgb_image buf[N], pad[N];
    uint8_t *padded[N];
    for (size_t i = 0; i < N; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "fixtures/images/%s", names[i]);
        paths[i] = check_path(shared, rel);
        CHECK(nli_image_load(paths[i], &img[i]) == 0, "decode %s: %s", names[i], nl_last_error());
        buf[i] = (nl_rgb_image){img[i].rgb, img[i].w, img[i].h, 0};
        /* the same pixels with 7 bytes of junk after each row */
        size_t row = (size_t)img[i].w * 3, stride = row + 7;
        padded[i] = malloc(stride * img[i].h);
        for (int y = 0; y < img[i].h; y++) {
            memcpy(padded[i] + y * stride, img[i].rgb + y * row, row);
            memset(padded[i] + y * stride + row, 0xA5, 7);
        }
        pad[i] = (nl_rgb_image){padded[i], img[i].w, img[i].h, stride};
    }
    for (int f = 0; f < 2; f++) {
        nl_resample rs = f ? NL_RESAMPLE_BILINEAR : NL_RESAMPLE_BICUBIC;
        for (size_t i = 0; i < N; i++) {
            uint8_t *a = malloc(S * S * 3), *b = malloc(S * S * 3), *c = malloc(S * S * 3);
            CHECK(nl_preprocess_file(paths[i], S, rs, a) == 0 && nl_preprocess_rgb(&buf[i], S, rs, b) == 0 &&
                      nl_preprocess_rgb(&pad[i], S, rs, c) == 0,
                  "preprocess %s: %s", names[i], nl_last_error());
            CHECK(!memcmp(a, b, S * S * 3) && !memcmp(a, c, S * S * 3), "%s (%s): buffer pixels differ from file's",
                  names[i], f ? "bilinear" : "bicubic");
            free(a); free(b); free(c);
        }
    }
    float *ef = calloc(N * dim, sizeof(float)), *eb = calloc(N * dim, sizeof(float)), *ep = calloc(N * dim, sizeof(float));
    int st[N];
    CHECK(nl_embed_images(m, (const char *const *)paths, N, NL_RESAMPLE_BICUBIC, ef, NULL) == 0, "files: %s", nl_last_error());
    CHECK(nl_embed_rgb(m, buf, N, NL_RESAMPLE_BICUBIC, eb, st) == 0, "buffers: %s", nl_last_error());
    CHECK(nl_embed_rgb(m, pad, N, NL_RESAMPLE_BICUBIC, ep, NULL) == 0, "padded buffers: %s", nl_last_error());
    CHECK(!memcmp(ef, eb, N * dim * 4) && !memcmp(ef, ep, N * dim * 4), "embeddings from buffers differ from files'");

    /* The encoded bytes of the same files (nl_embed_image_buffers), and
     * undecodable bytes: an error naming them, or with status only their row. */
    nl_image_buffer enc[N + 2];
    char *bytes[N];
    for (size_t i = 0; i < N; i++) {
        size_t len = 0;
        CHECK(nli_read_file(paths[i], (size_t)1 << 30, &bytes[i], &len) == 0, "read %s", names[i]);
        enc[i] = (nl_image_buffer){(const uint8_t *)bytes[i], len, names[i]};
    }
    float *ee = calloc((N + 2) * dim, sizeof(float));
    char *errs[N + 2] = {0};
    int est[N + 2];
    CHECK(nl_embed_image_buffers(m, enc, N, NL_RESAMPLE_BICUBIC, ee, NULL, NULL) == 0, "bytes: %s", nl_last_error());
    CHECK(!memcmp(ef, ee, N * dim * 4), "embeddings from encoded bytes differ from files'");
    static const uint8_t junk[] = "not an image";
    enc[N] = enc[0];
    enc[N].len /= 2; /* a truncated JPEG */
    enc[N].name = "half.jpg";
    enc[N + 1] = (nl_image_buffer){junk, sizeof junk, NULL};
    nl_image_buffer three[3] = {enc[0], enc[N + 1], enc[1]};
    CHECK(nl_embed_image_buffers(m, three, 3, NL_RESAMPLE_BICUBIC, ee, NULL, NULL) != 0 &&
              strstr(nl_last_error(), "<memory>"),
          "junk bytes, no status: %s", nl_last_error());
    CHECK(nl_embed_image_buffers(m, enc, N + 2, NL_RESAMPLE_BICUBIC, ee, est, errs) == 0, "with status: %s",
          nl_last_error());
    CHECK(est[N] == -1 && est[N + 1] == -1 && errs[N] && strstr(errs[N], "half.jpg") && errs[N + 1] &&
              strstr(errs[N + 1], "<memory>") && !errs[0],
          "bad bytes reported: %s | %s", errs[N] ? errs[N] : "-", errs[N + 1] ? errs[N + 1] : "-");
    CHECK(!memcmp(ef, ee, N * dim * 4), "good rows beside bad bytes differ");
    CHECK(nl_embed_image_buffers(m, NULL, 1, NL_RESAMPLE_BICUBIC, ee, NULL, NULL) != 0, "NULL images accepted");
    /* NULL entries: a clear error naming the row (with status: that row only), never a crash */
    nl_image_buffer nulldata[2] = {enc[0], {NULL, 10, "x.jpg"}};
    CHECK(nl_embed_image_buffers(m, nulldata, 2, NL_RESAMPLE_BICUBIC, ee, NULL, NULL) != 0 &&
              strstr(nl_last_error(), "image 1: the data is NULL"),
          "NULL data: %s", nl_last_error());
    const char *nullpath[3] = {paths[0], NULL, paths[1]};
    CHECK(nl_embed_images(m, nullpath, 3, NL_RESAMPLE_BICUBIC, ee, NULL) != 0 &&
              strstr(nl_last_error(), "image 1: the path is NULL"),
          "NULL path: %s", nl_last_error());
    CHECK(nl_embed_images(m, nullpath, 3, NL_RESAMPLE_BICUBIC, ee, est) == 0 && est[0] == 0 && est[1] == -1 &&
              est[2] == 0 && !memcmp(ee, ef, dim * 4) && !memcmp(ee + 2 * dim, ef + dim, dim * 4),
          "NULL path with status: %s [%d %d %d]", nl_last_error(), est[0], est[1], est[2]);
    CHECK(nl_embed_images(m, NULL, 1, NL_RESAMPLE_BICUBIC, ee, NULL) != 0, "NULL paths accepted");
    const char *nulltext[3] = {"a dog", NULL, "x"};
    CHECK(nl_embed_texts(m, nulltext, 3, ee) != 0 && strstr(nl_last_error(), "text 1: the text is NULL"),
          "NULL text: %s", nl_last_error());
    CHECK(nl_embed_texts(m, NULL, 1, ee) != 0 && nl_embed_texts(m, nulltext, 1, NULL) != 0, "NULL texts accepted");
    for (size_t i = 0; i < N + 2; i++) free(errs[i]);
    for (size_t i = 0; i < N; i++) free(bytes[i]);
    free(ee);

    /* A Hugging Face folder's own preprocessing (NL_RESAMPLE_MODEL) crops as
     * CLIPImageProcessor does (transformers' center_crop: (len - size) // 2):
     * a 224-wide, 227-tall image (no resize) embeds as its rows 1..224. A
     * filter named (BICUBIC) is torchvision's Resize + CenterCrop, as
     * clip.load and the NegLabel reference: rows 2..225. */
    {
        int w = S, h = S + 3;
        uint8_t *tall = malloc((size_t)w * h * 3);
        uint32_t r = 7;
        for (size_t i = 0; i < (size_t)w * h * 3; i++) tall[i] = (uint8_t)((r = r * 1664525u + 1013904223u) >> 24);
        nl_rgb_image v[3] = {{tall, w, h, 0}, {tall + (size_t)w * 3, w, S, 0}, {tall + (size_t)2 * w * 3, w, S, 0}};
        float *e3 = calloc(3 * dim, sizeof(float)), *tv = calloc(dim, sizeof(float));
        CHECK(nl_embed_rgb(m, v, 3, NL_RESAMPLE_MODEL, e3, NULL) == 0, "tall: %s", nl_last_error());
        CHECK(!memcmp(e3, e3 + dim, dim * 4), "224x227, the HF folder's own crop: not rows 1..224 (transformers')");
        CHECK(memcmp(e3, e3 + 2 * dim, dim * 4) != 0, "224x227, the HF folder's own crop: rows 2..225 (torchvision's)");
        CHECK(nl_embed_rgb(m, v, 1, NL_RESAMPLE_BICUBIC, tv, NULL) == 0, "tall: %s", nl_last_error());
        CHECK(!memcmp(tv, e3 + 2 * dim, dim * 4), "224x227, bicubic named: not rows 2..225 (torchvision's crop)");
        free(tv);
        free(e3);
        free(tall);
    }

    /* Bad buffers: errors naming the problem; with status, only that row. */
    nl_rgb_image bad[3] = {buf[0], {img[0].rgb, img[0].w, img[0].h, (size_t)img[0].w * 3 - 1}, buf[1]};
    CHECK(nl_embed_rgb(m, bad, 3, NL_RESAMPLE_BICUBIC, eb, NULL) != 0 && strstr(nl_last_error(), "stride"),
          "short stride: %s", nl_last_error());
    CHECK(nl_embed_rgb(m, bad, 3, NL_RESAMPLE_BICUBIC, eb, st) == 0 && st[0] == 0 && st[1] == -1 && st[2] == 0,
          "status marks only the bad buffer");
    CHECK(!memcmp(eb, ef, dim * 4) && !memcmp(eb + 2 * dim, ef + dim, dim * 4), "good rows still right");
    uint8_t out[3];
    nl_rgb_image zero = {img[0].rgb, 0, 5, 0}, huge = {img[0].rgb, 1 << 20, 1 << 20, 0}, null = {NULL, 4, 4, 0};
    CHECK(nl_preprocess_rgb(&zero, S, NL_RESAMPLE_BICUBIC, out) != 0, "0 x 5 accepted");
    CHECK(nl_preprocess_rgb(&huge, S, NL_RESAMPLE_BICUBIC, out) != 0 && strstr(nl_last_error(), "limit"),
          "2^40 pixels: %s", nl_last_error());
    CHECK(nl_preprocess_rgb(&null, S, NL_RESAMPLE_BICUBIC, out) != 0, "NULL pixels accepted");

    for (size_t i = 0; i < N; i++) {
        free(paths[i]);
        free(padded[i]);
        nli_image_free(&img[i]);
    }
    free(ef); free(eb); free(ep); free(dir);
    nl_model_free(m);
    return check_done();
}
