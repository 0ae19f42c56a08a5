/* test_image_formats_tiff_webp.c — TIFF, WebP (still and animated), PNG and
 * JPEG files, whole and damaged, decoded as Pillow 13 decodes them: every
 * entry of tests/data/images/tiff_webp/manifest.json (files written by
 * tests/gen/gen_images_tiff_webp.py, results recorded with Pillow 13 by
 * tests/gen/manifest_images_pillow13.py) must give the same size and the
 * same RGB bytes (sha256), or be refused where Pillow refuses it; the few
 * that script lists as still following Pillow 9.4 give 9.4's result, kept
 * in their entries. Each failing check names the file. Also: a folder listing takes
 * .tif/.tiff. Needs no reference data. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "image.h"
#include "neglabel.h"
#include "util.h"

static void sha256_hex(const uint8_t *p, size_t n, char out[65]) {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
}

/* Files where we knowingly differ from Pillow, with the reason. The test
 * requires that they still differ as stated, so a fix shows up here (then
 * remove the entry). */
static const struct { const char *file, *why; } known_gaps[] = {
    /* none at present: every generated file is decoded or refused as
     * Pillow 13 does (CIELab, 12/16/32-bit integer and 32-bit float grey,
     * separate planes of every kind included), or as Pillow 9.4 did for
     * those tests/gen/manifest_images_pillow13.py lists in KEEP_94 */
    {NULL, NULL},
};

static const char *known_gap(const char *file) {
    for (size_t i = 0; i < sizeof known_gaps / sizeof *known_gaps; i++)
        if (known_gaps[i].file && !strcmp(known_gaps[i].file, file)) return known_gaps[i].why;
    return NULL;
}

/* A folder's listing (nl_collect_images) takes TIFF files by their
 * extensions, any case, next to the other formats. */
static void check_listing(void) {
    const char *tmp = check_tmpdir();
    char *d = check_path(tmp, "listing");
    mkdir(d, 0755);
    static const char *names[] = {"a.tif", "b.TIFF", "c.webp", "d.txt", "e.tiff.bak"};
    for (size_t i = 0; i < 5; i++) {
        char *p = check_path(d, names[i]);
        FILE *f = fopen(p, "wb");
        if (f) fclose(f);
        free(p);
    }
    nl_strvec v;
    int rc = nl_collect_images(d, &v);
    CHECK(rc == 0 && v.n == 3, "listing: %zu images found, want a.tif, b.TIFF, c.webp", rc ? 0 : v.n);
    if (rc == 0) {
        for (size_t i = 0; i < v.n && i < 3; i++)
            CHECK(strstr(v.v[i], names[i]) != NULL, "listing: %s, want %s", v.v[i], names[i]);
        nl_strvec_free(&v);
    }
    free(d);
}

int main(void) {
    const char *src = getenv("NEGLABEL_SRC");
    if (!src || !*src) src = ".";
    char *dir = check_path(src, "tests/data/images/tiff_webp");
    char *mpath = check_path(dir, "manifest.json");
    json_error_t jerr;
    json_t *m = json_load_file(mpath, 0, &jerr);
    CHECK(m != NULL, "%s: %s", mpath, jerr.text);
    if (!m) return check_done();
    const char *pil = json_string_value(json_object_get(json_object_get(m, "versions"), "pillow"));
    CHECK(pil && strncmp(pil, "13.", 3) == 0, "manifest not made with Pillow 13 (%s)", pil ? pil : "?");
    json_t *entries = json_object_get(m, "entries");
    CHECK(json_array_size(entries) > 400, "manifest has %zu entries", json_array_size(entries));
    size_t i, accepted = 0, refused = 0, ngaps = 0, undefined = 0, n94 = 0, formats[5] = {0};
    json_t *e13;
    json_array_foreach(entries, i, e13) {
        const char *file = json_string_value(json_object_get(e13, "file"));
        /* Files listed in manifest_images_pillow13.py's KEEP_94 must still
         * give Pillow 9.4's result (which differs from 13's). */
        json_t *e94 = json_object_get(e13, "pillow94"), *e = e94 ? e94 : e13;
        if (e94) {
            n94++;
            printf("still Pillow 9.4: %s: %s\n", file ? file : "?", json_string_value(json_object_get(e13, "keep_pillow94")));
        }
        if (!file) { CHECK(0, "entry %zu has no file", i); continue; }
        char *path = check_path(dir, file);
        nli_image img;
        int rc = nli_image_load(path, &img);
        const char *why = json_string_value(json_object_get(e, "refused"));
        const char *ext = strrchr(file, '.');
        formats[!strcmp(ext, ".tif") ? 0 : !strcmp(ext, ".webp") ? 1 : !strcmp(ext, ".png") ? 2 : !strcmp(ext, ".jpg") ? 3 : 4]++;
        const char *gap = known_gap(file);
        if (gap) {
            printf("known difference: %s: %s\n", file, gap);
            CHECK(!why && rc != 0, "%s: listed as a known difference (%s) but now matches Pillow; remove it", file, gap);
            if (rc == 0) nli_image_free(&img);
            ngaps++;
        } else if (why) {
            refused++;
            CHECK(rc != 0, "%s: Pillow refuses it (%s), we decode it (%dx%d)", file, why, img.w, img.h);
            if (rc == 0) nli_image_free(&img);
            else CHECK(strstr(nli_geterr(), file) != NULL, "%s: the error names the file: %s", file, nli_geterr());
        } else {
            accepted++;
            int w = (int)json_integer_value(json_object_get(e, "width"));
            int h = (int)json_integer_value(json_object_get(e, "height"));
            const char *want = json_string_value(json_object_get(e, "sha256"));
            CHECK(rc == 0, "%s: Pillow decodes it (%dx%d), we refuse it: %s", file, w, h, rc ? nli_geterr() : "");
            if (rc == 0) {
                char got[65];
                sha256_hex(img.rgb, (size_t)img.w * img.h * 3, got);
                CHECK(img.w == w && img.h == h, "%s: size %dx%d, Pillow %dx%d", file, img.w, img.h, w, h);
                if (json_object_get(e, "pixels")) undefined++; /* Pillow's pixels are not defined: size only */
                else CHECK(want && !strcmp(got, want), "%s: RGB bytes differ from Pillow's", file);
                nli_image_free(&img);
            }
        }
        free(path);
    }
    printf("%zu files (%zu TIFF, %zu WebP, %zu PNG, %zu JPEG): %zu decoded as Pillow (%zu of them where Pillow's "
           "pixels are undefined: size only), %zu refused as Pillow; %zu of them as Pillow 9.4 rather than 13\n",
           json_array_size(entries), formats[0], formats[1], formats[2], formats[3], accepted, undefined, refused, n94);
    CHECK(undefined < 10, "%zu files with undefined pixels", undefined);
    CHECK(ngaps == sizeof known_gaps / sizeof *known_gaps - 1, "%zu of the known differences found", ngaps);
    CHECK(formats[4] == 0, "%zu files of no known extension", formats[4]);
    CHECK(accepted > 100 && refused > 100, "both kinds present");
    check_listing();
    json_decref(m);
    free(mpath);
    free(dir);
    return check_done();
}
