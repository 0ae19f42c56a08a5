/* test_image.c — decoding and preprocessing against Pillow 9.4 goldens
 * (shared/fixtures/preprocess: none is over 2:1 tall, where Pillow 13's
 * resize differs), PNG bit depths / colour types (by Pillow 13's rules) and
 * WebP written at test time, and hostile inputs (truncated, corrupt, absurd
 * headers, not images). */
#include <jansson.h>
#include <math.h>
#include <png.h>
#include <webp/encode.h>

#include "check.h"
#include "clip.h"
#include "image.h"
#include "neglabel.h"
#include "util.h"

static const char *g_tmp;

static uint32_t lcg_state = 12345;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

static char *tmp_path(const char *name) { return check_path(g_tmp, name); }

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

static uint8_t *slurp(const char *path, size_t *n) {
    char *b;
    if (nli_read_file(path, (size_t)1 << 28, &b, n) != 0) {
        fprintf(stderr, "%s\n", nli_geterr());
        exit(1);
    }
    return (uint8_t *)b;
}

/* ------------------------------------------------------------ goldens */

static void test_goldens(const char *shared) {
    char *mpath = check_path(shared, "fixtures/preprocess/manifest.json");
    json_error_t jerr;
    json_t *m = json_load_file(mpath, 0, &jerr);
    CHECK(m != NULL, "%s: %s", mpath, jerr.text);
    if (!m) { free(mpath); return; }
    int size = (int)json_integer_value(json_object_get(m, "size"));
    CHECK(size == 224, "manifest size %d", size);
    json_t *images = json_object_get(m, "images");
    CHECK(json_object_size(images) == 20, "manifest lists %zu images", json_object_size(images));
    uint8_t *out = malloc((size_t)size * size * 3), *out2 = malloc((size_t)size * size * 3);
    const char *name;
    json_t *desc;
    int n_exact = 0, n_total = 0;
    json_object_foreach(images, name, desc) {
        char rel[512];
        snprintf(rel, sizeof rel, "fixtures/images/%s", name);
        char *ipath = check_path(shared, rel);
        nli_image img;
        int rc = nli_image_load(ipath, &img);
        CHECK(rc == 0, "%s: %s", ipath, nli_geterr());
        if (rc == 0) {
            int w = (int)json_integer_value(json_object_get(desc, "width"));
            int h = (int)json_integer_value(json_object_get(desc, "height"));
            CHECK(img.w == w && img.h == h, "%s: decoded %dx%d, Pillow %dx%d", name, img.w, img.h, w, h);
        }
        json_t *outputs = json_object_get(desc, "outputs");
        const char *rname;
        json_t *gfile;
        json_object_foreach(outputs, rname, gfile) {
            nl_resample r = strcmp(rname, "bilinear") == 0 ? NL_RESAMPLE_BILINEAR : NL_RESAMPLE_BICUBIC;
            CHECK(strcmp(rname, "bilinear") == 0 || strcmp(rname, "bicubic") == 0, "filter %s", rname);
            snprintf(rel, sizeof rel, "fixtures/preprocess/%s", json_string_value(gfile));
            char *gpath = check_path(shared, rel);
            size_t glen;
            uint8_t *gold = slurp(gpath, &glen);
            CHECK(glen == (size_t)size * size * 3, "%s: %zu bytes", gpath, glen);
            int prc = nl_preprocess_file(ipath, size, r, out);
            CHECK(prc == 0, "%s: %s", ipath, nl_last_error());
            if (prc == 0 && glen == (size_t)size * size * 3) {
                size_t ndiff = 0;
                int maxd = 0;
                for (size_t i = 0; i < glen; i++) {
                    int d = abs((int)out[i] - (int)gold[i]);
                    if (d) ndiff++;
                    if (d > maxd) maxd = d;
                }
                printf("%-26s %-8s differing bytes %zu, max difference %d\n", name, rname, ndiff, maxd);
                CHECK(ndiff == 0 || (maxd <= 1 && ndiff * 200 <= glen),
                      "%s %s: %zu bytes differ, max %d", name, rname, ndiff, maxd);
                n_total++;
                n_exact += ndiff == 0;
                /* The in-memory path must agree with the file path. */
                if (rc == 0) {
                    CHECK(nli_image_resize_crop(&img, size, r, out2) == 0, "%s", nli_geterr());
                    CHECK(memcmp(out, out2, glen) == 0, "%s %s: resize_crop differs from preprocess_file",
                          name, rname);
                }
            }
            free(gold);
            free(gpath);
        }
        if (rc == 0) nli_image_free(&img);
        free(ipath);
    }
    printf("goldens: %d of %d identical\n", n_exact, n_total);
    CHECK(n_total == 40, "compared %d goldens, expected 40", n_total);
    free(out);
    free(out2);
    json_decref(m);
    free(mpath);
}

/* ------------------------------------------------------------ normalize */

static void test_normalize(void) {
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    uint8_t hwc[2 * 2 * 3] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 255, 128, 1};
    float chw[12];
    nli_image_normalize(hwc, 2, mean, std, chw);
    int bad = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++) {
            double want = ((double)hwc[3 * i + c] / 255.0 - mean[c]) / std[c];
            if (fabs(chw[c * 4 + i] - want) > 1e-5) bad++;
        }
    CHECK(bad == 0, "%d normalized values off", bad);
}

/* ------------------------------------------------------------ crop offsets */

/* The two centre-crop rules: torchvision's CenterCrop puts the window at
 * int(round((len - size) / 2)) (half to even), transformers' center_crop
 * (CLIPImageProcessor, every backend) at (len - size) // 2. They differ when
 * len - size is 3 mod 4: a 224-wide, 227-tall image is cropped from row 2
 * by torchvision and from row 1 by transformers. With the shorter side
 * already 224 nothing is resampled, so the crop is the input's rows. */
static void test_crop_offsets(void) {
    const int S = 224;
    for (int t = 0; t < 2; t++) { /* t = 1: the long side across */
        int w = t ? 227 : 224, h = t ? 224 : 227;
        nli_image in = {w, h, malloc((size_t)w * h * 3)};
        for (size_t i = 0; i < (size_t)w * h * 3; i++) in.rgb[i] = (uint8_t)lcg();
        uint8_t *tv = malloc((size_t)S * S * 3), *hf = malloc((size_t)S * S * 3);
        CHECK(nli_image_resize_mode(&in, S, NL_RESAMPLE_BICUBIC, NLI_RESIZE_SHORTEST, 0, tv) == 0 &&
                  nli_image_resize_mode(&in, S, NL_RESAMPLE_BICUBIC, NLI_RESIZE_SHORTEST | NLI_RESIZE_CROP_FLOOR, 0,
                                        hf) == 0,
              "%dx%d: %s", w, h, nl_last_error());
        int bad_tv = 0, bad_hf = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++) {
                    size_t o = ((size_t)y * S + x) * 3 + c;
                    bad_tv += tv[o] != in.rgb[((size_t)(y + !t * 2) * w + x + t * 2) * 3 + c];
                    bad_hf += hf[o] != in.rgb[((size_t)(y + !t) * w + x + t) * 3 + c];
                }
        CHECK(bad_tv == 0, "%dx%d: torchvision's crop starts at 2 (%d values differ)", w, h, bad_tv);
        CHECK(bad_hf == 0, "%dx%d: transformers' crop starts at 1 (%d values differ)", w, h, bad_hf);
        free(tv);
        free(hf);
        free(in.rgb);
    }
    /* A resized image: 448x454 -> 224x227. The resize alone is the longest
     * mode's output at 227 (224x227 placed at column (227-224)//2 = 1). */
    nli_image in = {448, 454, malloc((size_t)448 * 454 * 3)};
    for (size_t i = 0; i < (size_t)448 * 454 * 3; i++) in.rgb[i] = (uint8_t)lcg();
    uint8_t *full = malloc((size_t)227 * 227 * 3), *tv = malloc((size_t)S * S * 3), *hf = malloc((size_t)S * S * 3);
    CHECK(nli_image_resize_mode(&in, 227, NL_RESAMPLE_BICUBIC, NLI_RESIZE_LONGEST, 0, full) == 0 &&
              nli_image_resize_mode(&in, S, NL_RESAMPLE_BICUBIC, NLI_RESIZE_SHORTEST, 0, tv) == 0 &&
              nli_image_resize_mode(&in, S, NL_RESAMPLE_BICUBIC, NLI_RESIZE_SHORTEST | NLI_RESIZE_CROP_FLOOR, 0,
                                    hf) == 0,
          "448x454: %s", nl_last_error());
    int bad_tv = 0, bad_hf = 0;
    for (int y = 0; y < S; y++) {
        bad_tv += memcmp(tv + (size_t)y * S * 3, full + ((size_t)(y + 2) * 227 + 1) * 3, (size_t)S * 3) != 0;
        bad_hf += memcmp(hf + (size_t)y * S * 3, full + ((size_t)(y + 1) * 227 + 1) * 3, (size_t)S * 3) != 0;
    }
    CHECK(bad_tv == 0 && bad_hf == 0, "448x454 resized: %d / %d rows differ (torchvision / transformers)", bad_tv,
          bad_hf);
    free(full);
    free(tv);
    free(hf);
    free(in.rgb);
}

/* ------------------------------------------------------------ PNG variants */

static void write_png(const char *path, int w, int h, int depth, int ctype, int interlace,
                      png_bytep *rows, png_color *pal, int npal, uint32_t key) {
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) { fprintf(stderr, "png write failed\n"); exit(1); }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, ctype, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_check_for_invalid_index(png, 0);
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_set_PLTE(png, info, pal, npal);
        png_byte trns[4] = {0, 10, 128, 255};
        png_set_tRNS(png, info, trns, npal < 4 ? npal : 4, NULL);
    } else if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_RGB) {
        png_color_16 t = {0, (png_uint_16)key, (png_uint_16)key, (png_uint_16)key, (png_uint_16)key};
        png_set_tRNS(png, info, NULL, 0, &t); /* colour key: convert('RGB') ignores it */
    }
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* Write a w x h PNG of the given type from samples (values < 2^depth), and
 * return what Pillow 9.4's convert('RGB') makes of it (computed here from
 * Pillow's rules, independently of the library). */
static uint8_t *make_png(const char *path, int w, int h, int depth, int ctype, int interlace) {
    int chans = ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_PALETTE ? 1
                : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : ctype == PNG_COLOR_TYPE_RGB ? 3 : 4;
    int maxv = (1 << depth) - 1;
    uint32_t *s = malloc(sizeof *s * w * h * chans);
    for (int i = 0; i < w * h * chans; i++) s[i] = lcg() % (maxv + 1);
    if (depth == 16 && ctype == PNG_COLOR_TYPE_GRAY) /* values on both sides of Pillow's clip */
        for (int i = 0; i < w * h; i += 3) s[i] = lcg() % 256;
    int npal = ctype == PNG_COLOR_TYPE_PALETTE ? (maxv + 1) * 3 / 4 : 0; /* some indices beyond PLTE */
    if (npal < 1) npal = 1;
    png_color pal[256];
    for (int i = 0; i < 256; i++) {
        pal[i].red = (png_byte)lcg();
        pal[i].green = (png_byte)lcg();
        pal[i].blue = (png_byte)lcg();
    }
    uint8_t *want = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) {
        const uint32_t *p = s + (size_t)i * chans;
        uint8_t *o = want + 3 * i;
        switch (ctype) {
        case PNG_COLOR_TYPE_GRAY: {
            uint32_t v = depth == 16 ? (p[0] > 255 ? 255 : p[0]) : depth == 8 ? p[0] : p[0] * 255 / maxv;
            o[0] = o[1] = o[2] = (uint8_t)v;
            break;
        }
        case PNG_COLOR_TYPE_GRAY_ALPHA:
            o[0] = o[1] = o[2] = (uint8_t)(depth == 16 ? p[0] >> 8 : p[0]);
            break;
        case PNG_COLOR_TYPE_PALETTE:
            if ((int)p[0] < npal) {
                o[0] = pal[p[0]].red; o[1] = pal[p[0]].green; o[2] = pal[p[0]].blue;
            } else { /* past the PLTE: black in Pillow 13 (9.4: its grey ramp) */
                o[0] = o[1] = o[2] = 0;
            }
            break;
        default:
            for (int c = 0; c < 3; c++) o[c] = (uint8_t)(depth == 16 ? p[c] >> 8 : p[c]);
        }
    }
    size_t rowbytes = ((size_t)w * chans * depth + 7) / 8;
    png_bytep *rows = malloc(sizeof *rows * h);
    for (int y = 0; y < h; y++) {
        rows[y] = calloc(1, rowbytes);
        for (int x = 0; x < w * chans; x++) {
            uint32_t v = s[(size_t)y * w * chans + x];
            if (depth == 16) {
                rows[y][2 * x] = (png_byte)(v >> 8);
                rows[y][2 * x + 1] = (png_byte)v;
            } else if (depth == 8) {
                rows[y][x] = (png_byte)v;
            } else {
                int per = 8 / depth;
                rows[y][x / per] |= (png_byte)(v << (8 - depth * (x % per + 1)));
            }
        }
    }
    write_png(path, w, h, depth, ctype, interlace, rows, pal, npal, s[0]);
    for (int y = 0; y < h; y++) free(rows[y]);
    free(rows);
    free(s);
    return want;
}

static void test_png_variants(void) {
    static const struct { int ctype, depths[5], nd; } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}, 5},
        {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}, 4},
        {PNG_COLOR_TYPE_RGB, {8, 16}, 2},
        {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}, 2},
        {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}, 2},
    };
    int n = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int d = 0; d < kinds[k].nd; d++)
            for (int il = 0; il < 2; il++) {
                char name[64];
                int depth = kinds[k].depths[d], ctype = kinds[k].ctype;
                snprintf(name, sizeof name, "c%d-d%d-i%d.png", ctype, depth, il);
                char *path = tmp_path(name);
                int w = 13 + d, h = 9 + il; /* odd sizes: partial bytes, all Adam7 passes */
                uint8_t *want = make_png(path, w, h, depth, ctype, il);
                nli_image img;
                int rc = nli_image_load(path, &img);
                CHECK(rc == 0, "%s: %s", name, nli_geterr());
                if (rc == 0) {
                    CHECK(img.w == w && img.h == h, "%s: %dx%d", name, img.w, img.h);
                    CHECK(memcmp(img.rgb, want, (size_t)w * h * 3) == 0, "%s: pixels differ from Pillow's rules",
                          name);
                    nli_image_free(&img);
                }
                n++;
                free(want);
                free(path);
            }
    printf("png variants: %d files checked\n", n);
}

/* ------------------------------------------------------------ WebP */

static void test_webp(void) {
    int w = 29, h = 17;
    uint8_t *rgba = malloc((size_t)w * h * 4), *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) {
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = rgba[4 * i + c] = (uint8_t)lcg();
        rgba[4 * i + 3] = (uint8_t)(i % 5 == 0 ? 0 : lcg()); /* fully transparent pixels too */
    }
    nli_image img;

    /* Lossless RGB round trip. */
    uint8_t *enc = NULL;
    size_t n = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &enc);
    CHECK(n > 0, "WebPEncodeLosslessRGB failed");
    char *p1 = tmp_path("lossless.webp");
    write_bytes(p1, enc, n);
    int rc = nli_image_load(p1, &img);
    CHECK(rc == 0, "%s", nli_geterr());
    if (rc == 0) {
        CHECK(img.w == w && img.h == h && memcmp(img.rgb, rgb, (size_t)w * h * 3) == 0,
              "lossless WebP pixels differ");
        nli_image_free(&img);
    }
    /* Truncated. */
    char *pt = tmp_path("truncated.webp");
    write_bytes(pt, enc, n / 2);
    CHECK(nli_image_load(pt, &img) == -1 && strstr(nli_geterr(), pt), "truncated WebP: %s", nli_geterr());
    CHECK(img.rgb == NULL, "output left set after failure");
    WebPFree(enc);

    /* Lossless RGBA with exact colours under alpha 0: alpha is dropped, the
     * colour is not composited onto any background. */
    WebPConfig cfg;
    WebPPicture pic;
    WebPMemoryWriter wr;
    CHECK(WebPConfigInit(&cfg) && WebPPictureInit(&pic), "webp init");
    cfg.lossless = 1;
    cfg.exact = 1;
    pic.use_argb = 1;
    pic.width = w;
    pic.height = h;
    WebPMemoryWriterInit(&wr);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &wr;
    CHECK(WebPPictureImportRGBA(&pic, rgba, w * 4) && WebPEncode(&cfg, &pic), "WebP RGBA encode failed");
    char *p2 = tmp_path("alpha.webp");
    write_bytes(p2, wr.mem, wr.size);
    rc = nli_image_load(p2, &img);
    CHECK(rc == 0, "%s", nli_geterr());
    if (rc == 0) {
        CHECK(img.w == w && img.h == h && memcmp(img.rgb, rgb, (size_t)w * h * 3) == 0,
              "WebP with alpha: RGB differs from source");
        nli_image_free(&img);
    }
    WebPPictureFree(&pic);
    WebPMemoryWriterClear(&wr);

    /* Lossy: decodes, right size, close to the (smooth) source. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = rgb + 3 * (y * w + x);
            q[0] = (uint8_t)(x * 8);
            q[1] = (uint8_t)(y * 12);
            q[2] = (uint8_t)(100 + x + y);
        }
    size_t nl = WebPEncodeRGB(rgb, w, h, w * 3, 95.0f, &enc);
    char *p3 = tmp_path("lossy.webp");
    write_bytes(p3, enc, nl);
    WebPFree(enc);
    rc = nli_image_load(p3, &img);
    CHECK(rc == 0, "%s", nli_geterr());
    if (rc == 0) {
        double mad = 0;
        for (int i = 0; i < w * h * 3; i++) mad += abs((int)img.rgb[i] - (int)rgb[i]);
        mad /= w * h * 3;
        CHECK(img.w == w && img.h == h && mad < 6, "lossy WebP: %dx%d, mean abs diff %.1f", img.w, img.h, mad);
        nli_image_free(&img);
    }
    free(p1); free(p2); free(p3); free(pt);
    free(rgba);
    free(rgb);
}

/* ------------------------------------------------------------ hostile */

/* Expect failure naming the file and containing `what`, quickly. */
static void expect_fail(const char *label, const char *path, const char *what) {
    nli_image img = {7, 7, (uint8_t *)&img};
    double t0 = nli_now();
    int rc = nli_image_load(path, &img);
    double dt = nli_now() - t0;
    const char *e = nli_geterr();
    CHECK(rc == -1, "%s: expected failure, got %d", label, rc);
    CHECK(strstr(e, path) != NULL, "%s: message does not name the file: %s", label, e);
    CHECK(!what || strstr(e, what) != NULL, "%s: message lacks '%s': %s", label, what, e);
    CHECK(img.rgb == NULL && img.w == 0 && img.h == 0, "%s: output not cleared", label);
    CHECK(dt < 2.0, "%s: took %.2f s", label, dt);
    if (rc == 0) nli_image_free(&img);
    printf("  %-28s -> %s\n", label, e);
    /* The public entry point fails the same way. */
    uint8_t *out = malloc(224 * 224 * 3);
    CHECK(nl_preprocess_file(path, 224, NL_RESAMPLE_BICUBIC, out) == -1 && strstr(nl_last_error(), path),
          "%s: nl_preprocess_file: %s", label, nl_last_error());
    free(out);
}

static void write_mod(const char *name, const uint8_t *data, size_t n, char **path) {
    *path = tmp_path(name);
    write_bytes(*path, data, n);
}

static size_t find_sof(const uint8_t *d, size_t n) {
    for (size_t i = 2; i + 9 < n; i++)
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) return i;
    return 0;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Patch IHDR's size and fix its CRC, so only the size is wrong. */
static void png_set_size(uint8_t *png, uint32_t w, uint32_t h) {
    put_be32(png + 16, w);
    put_be32(png + 20, h);
    uint32_t c = 0xFFFFFFFFu;
    for (int i = 12; i < 29; i++) {
        c ^= png[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    put_be32(png + 29, ~c);
}

static void test_hostile(const char *shared) {
    char *p;
    size_t n;
    char *src = check_path(shared, "fixtures/images/dog.jpg");
    uint8_t *jpg = slurp(src, &n);
    size_t njpg = n;
    free(src);
    src = check_path(shared, "fixtures/images/progressive-dog.jpg");
    size_t nprog;
    uint8_t *prog = slurp(src, &nprog);
    free(src);
    src = check_path(shared, "fixtures/images/gray-dog.png");
    size_t npng;
    uint8_t *png = slurp(src, &npng);
    free(src);
    uint8_t *buf = malloc(njpg > npng ? (njpg > nprog ? njpg : nprog) : (npng > nprog ? npng : nprog));

    p = tmp_path("does-not-exist.jpg");
    expect_fail("missing file", p, "cannot open");
    free(p);
    expect_fail("directory", g_tmp, NULL);
    write_mod("empty.jpg", (const uint8_t *)"", 0, &p);
    expect_fail("empty file", p, "empty");
    free(p);
    const char *txt = "this is a text file, not an image\n";
    write_mod("text.jpg", (const uint8_t *)txt, strlen(txt), &p);
    expect_fail("not an image", p, "cannot identify");
    free(p);
    write_mod("magic-only.jpg", jpg, 3, &p);
    expect_fail("JPEG magic only", p, NULL);
    free(p);

    write_mod("truncated.jpg", jpg, njpg / 2, &p);
    expect_fail("truncated JPEG", p, "truncated");
    free(p);
    write_mod("truncated-end.jpg", jpg, njpg - 20, &p);
    expect_fail("truncated JPEG (last 20 B)", p, "truncated");
    free(p);
    write_mod("truncated-progressive.jpg", prog, nprog * 2 / 3, &p);
    expect_fail("truncated progressive JPEG", p, "truncated");
    free(p);
    write_mod("truncated.png", png, npng / 2, &p);
    expect_fail("truncated PNG", p, "truncated");
    free(p);
    write_mod("truncated-header.png", png, 20, &p);
    expect_fail("truncated PNG header", p, "truncated");
    free(p);

    /* Corrupt data in the middle. A stray marker inside a progressive scan
     * is fatal in libjpeg (and hence in Pillow). */
    memcpy(buf, prog, nprog);
    for (int i = 0; i < 16; i += 2) { buf[nprog / 2 + i] = 0xFF; buf[nprog / 2 + i + 1] = 0x4A; }
    write_mod("corrupt-middle.jpg", buf, nprog, &p);
    expect_fail("corrupt JPEG (stray marker)", p, "corrupt JPEG");
    free(p);
    memcpy(buf, png, npng);
    for (int i = 0; i < 256; i++) buf[npng / 2 + i] = (uint8_t)lcg();
    write_mod("corrupt-middle.png", buf, npng, &p);
    expect_fail("corrupt PNG (garbage IDAT)", p, "corrupt PNG");
    free(p);
    /* Garbage entropy data in a baseline JPEG with restart markers is only a
     * libjpeg warning; Pillow ignores it and returns a damaged image, and so
     * do we (the contract is "as Pillow", and no crash). */
    memcpy(buf, jpg, njpg);
    for (int i = 0; i < 256; i++) buf[njpg / 2 + i] = (uint8_t)lcg();
    {
        nli_image img;
        int rc = nli_image_load_mem(buf, njpg, "garbage.jpg", &img);
        CHECK(rc == 0 && img.w == 768 && img.h == 576, "baseline JPEG with garbage: rc %d (%s)", rc, nli_geterr());
        if (rc == 0) nli_image_free(&img);
    }

    /* Headers claiming 0x0 and absurd sizes: refused before decoding. */
    size_t sof = find_sof(jpg, njpg);
    CHECK(sof > 0, "no SOF in dog.jpg");
    memcpy(buf, jpg, njpg);
    buf[sof + 5] = buf[sof + 6] = buf[sof + 7] = buf[sof + 8] = 0;
    write_mod("zero.jpg", buf, njpg, &p);
    expect_fail("JPEG claiming 0x0", p, "Empty JPEG image");
    free(p);
    buf[sof + 5] = 20000 >> 8; buf[sof + 6] = 20000 & 255; /* height */
    buf[sof + 7] = 20000 >> 8; buf[sof + 8] = 20000 & 255; /* width */
    write_mod("huge.jpg", buf, njpg, &p);
    expect_fail("JPEG claiming 20000x20000", p, "too large");
    free(p);

    memcpy(buf, png, npng);
    png_set_size(buf, 0, 0);
    write_mod("zero.png", buf, npng, &p);
    expect_fail("PNG claiming 0x0", p, "zero size");
    free(p);
    png_set_size(buf, 100000, 100000);
    write_mod("huge.png", buf, npng, &p);
    expect_fail("PNG claiming 100000x100000", p, "too large");
    free(p);
    /* A wide-but-legal header whose data is far too short. */
    png_set_size(buf, 10000, 10000);
    write_mod("short-data.png", buf, npng, &p);
    expect_fail("PNG 10000x10000, little data", p, "corrupt PNG");
    /* Unchanged size, so the CRC fix itself is shown to be right. */
    memcpy(buf, png, npng);
    png_set_size(buf, 768, 576);
    CHECK(memcmp(buf, png, 33) == 0, "IHDR CRC helper is wrong");
    free(p);

    free(buf);
    free(jpg);
    free(prog);
    free(png);
}

int main(void) {
    g_tmp = check_tmpdir();
    test_normalize();
    test_crop_offsets();
    test_png_variants();
    test_webp();
    const char *shared = check_shared(); /* the rest reads the fixture images */
    test_goldens(shared);
    printf("hostile inputs:\n");
    test_hostile(shared);
    return check_done();
}
