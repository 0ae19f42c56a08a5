/* test_image_resize_order.c — tall and wide images resized as Pillow 13
 * does (tests/data/resize_pillow13, written by
 * tests/gen/gen_resize_pillow13.py): Pillow 13 runs the vertical pass first
 * when the height shrinks by more than twice what the width does, and the
 * rounding between passes makes the order visible. Every case is compared
 * byte for byte (shortest side + centre crop, squash, longest side + pad;
 * bicubic and bilinear), through nli_image_resize_mode and, for the
 * shortest-side ones, the public nl_preprocess_file too. Needs no reference
 * data from ../shared. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clip.h"
#include "image.h"
#include "neglabel.h"
#include "util.h"

int main(void) {
    const char *src = getenv("NEGLABEL_SRC");
    char *dir = check_path(src && *src ? src : ".", "tests/data/resize_pillow13");
    char *mpath = check_path(dir, "manifest.json"), *opath = check_path(dir, "outputs.bin");
    json_error_t jerr;
    json_t *m = json_load_file(mpath, 0, &jerr);
    CHECK(m != NULL, "%s: %s", mpath, jerr.text);
    char *blob = NULL;
    size_t blen = 0;
    CHECK(nli_read_file(opath, 1 << 20, &blob, &blen) == 0, "%s: %s", opath, nli_geterr());
    if (!m || !blob) return check_done();
    const char *pil = json_string_value(json_object_get(m, "pillow"));
    CHECK(pil && strncmp(pil, "13.", 3) == 0, "manifest not made with Pillow 13 (%s)", pil ? pil : "?");
    int S = (int)json_integer_value(json_object_get(m, "size"));
    size_t n = (size_t)S * S * 3;
    uint8_t *out = malloc(n), *out2 = malloc(n);
    json_t *cases = json_object_get(m, "cases"), *c;
    size_t i;
    int n_vf = 0, n_hf = 0;
    json_array_foreach(cases, i, c) {
        const char *file = json_string_value(json_object_get(c, "file"));
        const char *mode = json_string_value(json_object_get(c, "mode"));
        const char *rs = json_string_value(json_object_get(c, "resample"));
        int fill = (int)json_integer_value(json_object_get(c, "fill"));
        size_t off = (size_t)json_integer_value(json_object_get(c, "offset"));
        int vf = json_is_true(json_object_get(c, "vertical_first"));
        CHECK(off + n <= blen, "case %zu: offset %zu past outputs.bin", i, off);
        if (off + n > blen) continue;
        const uint8_t *want = (const uint8_t *)blob + off;
        nl_resample r = strcmp(rs, "bilinear") == 0 ? NL_RESAMPLE_BILINEAR : NL_RESAMPLE_BICUBIC;
        int md = strcmp(mode, "squash") == 0    ? NLI_RESIZE_SQUASH
                 : strcmp(mode, "longest") == 0 ? NLI_RESIZE_LONGEST
                                                : NLI_RESIZE_SHORTEST;
        char *path = check_path(dir, file);
        nli_image img;
        int rc = nli_image_load(path, &img);
        CHECK(rc == 0, "%s: %s", path, nli_geterr());
        if (rc == 0) {
            CHECK(nli_image_resize_mode(&img, S, r, md, fill, out) == 0, "%s: %s", file, nli_geterr());
            size_t nd = 0;
            for (size_t k = 0; k < n; k++) nd += out[k] != want[k];
            printf("%-14s %-8s %-8s %s first: %zu bytes differ\n", file, mode, rs, vf ? "vertical" : "horizontal", nd);
            CHECK(nd == 0, "%s %s %s: %zu of %zu bytes differ from Pillow 13", file, mode, rs, nd, n);
            if (md == NLI_RESIZE_SHORTEST) {
                CHECK(nl_preprocess_file(path, S, r, out2) == 0, "%s: %s", file, nl_last_error());
                CHECK(memcmp(out2, want, n) == 0, "%s %s: nl_preprocess_file differs from Pillow 13", file, rs);
            }
            nli_image_free(&img);
        }
        n_vf += vf;
        n_hf += !vf;
        free(path);
    }
    CHECK(json_array_size(cases) == 20 && n_vf > 0 && n_hf > 0, "%zu cases (%d vertical first, %d horizontal)",
          json_array_size(cases), n_vf, n_hf);
    free(out);
    free(out2);
    free(blob);
    json_decref(m);
    free(mpath);
    free(opath);
    free(dir);
    return check_done();
}
