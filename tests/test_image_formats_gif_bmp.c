/* test_image_formats_gif_bmp.c — every file of tests/data/images/gif_bmp
 * (written by tests/gen/gen_images_gif_bmp.py) decoded by nli_image_load
 * and compared with Pillow 13's Image.open(path).convert("RGB"), recorded
 * in manifest.json by tests/gen/manifest_images_pillow13.py: the same size
 * and the same RGB bytes (sha256), or a refusal where Pillow refuses; the
 * files that script lists as still following Pillow 9.4 against 9.4's
 * result, kept in their entries. Prints each file that differs. Needs no
 * reference data from ../shared. */
#include <jansson.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "image.h"
#include "neglabel.h"
#include "util.h"

/* ---- SHA-256 (FIPS 180-4), to compare with the manifest's digests */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 | p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) + K[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof a[0]);
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) h[i] += a[i];
}

static void sha256_hex(const uint8_t *p, size_t n, char hex[65]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    uint8_t tail[128] = {0};
    size_t full = n / 64 * 64, rest = n - full;
    for (size_t i = 0; i < full; i += 64) sha256_block(h, p + i);
    memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    size_t tl = rest + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t i = 0; i < tl; i += 64) sha256_block(h, tail + i);
    for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", h[i]);
}

static void test_sha256(void) {
    char hex[65];
    sha256_hex((const uint8_t *)"abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "sha256(abc) %s", hex);
    uint8_t z[64] = {0};
    sha256_hex(z, 56, hex); /* the padding spills into a second block */
    CHECK(strcmp(hex, "d4817aa5497628e7c77e6b606107042bbba3130888c5f47a375e6179be789fbb") == 0, "sha256(56 zeros) %s", hex);
}

/* A folder given to embed/eval is walked for .gif and .bmp files too, and
 * the public preprocessing path reads them. */
static void test_collect(const char *dir) {
    char tmpl[] = "/tmp/neglabel-gifbmp-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL, "mkdtemp");
    static const char *copy[][2] = {{"pil_P_7x5.gif", "a.gif"}, {"rgb24.bmp", "b.BMP"}, {"rgb24.bmp", "c.txt"}};
    for (int i = 0; i < 3; i++) {
        char *from = check_path(dir, copy[i][0]), *to = check_path(tmpl, copy[i][1]);
        char *buf = NULL;
        size_t n = 0;
        int rc = nli_read_file(from, 1 << 20, &buf, &n);
        CHECK(rc == 0, "%s", nli_geterr());
        FILE *f = rc == 0 ? fopen(to, "wb") : NULL;
        CHECK(f && fwrite(buf, 1, n, f) == n, "%s", to);
        if (f) fclose(f);
        free(buf);
        free(from);
        free(to);
    }
    nl_strvec v;
    CHECK(nl_collect_images(tmpl, &v) == 0, "%s", nl_last_error());
    CHECK(v.n == 2 && strstr(v.v[0], "/a.gif") && strstr(v.v[1], "/b.BMP"), "collected %zu files", v.n);
    uint8_t px[7 * 7 * 3];
    for (size_t i = 0; i < v.n; i++)
        CHECK(nl_preprocess_file(v.v[i], 7, NL_RESAMPLE_BICUBIC, px) == 0, "%s", nl_last_error());
    for (size_t i = 0; i < v.n; i++) unlink(v.v[i]);
    nl_strvec_free(&v);
    char *txt = check_path(tmpl, "c.txt");
    unlink(txt);
    free(txt);
    rmdir(tmpl);
}

int main(void) {
    test_sha256();
    const char *src = getenv("NEGLABEL_SRC");
    char *dir = check_path(src && *src ? src : ".", "tests/data/images/gif_bmp");
    char *mpath = check_path(dir, "manifest.json");
    json_error_t jerr;
    json_t *m = json_load_file(mpath, 0, &jerr);
    CHECK(m != NULL, "%s: %s", mpath, jerr.text);
    if (!m) return check_done();
    test_collect(dir);
    const char *pil = json_string_value(json_object_get(m, "pillow"));
    CHECK(pil && strncmp(pil, "13.", 3) == 0, "manifest not made with Pillow 13 (%s)", pil ? pil : "?");
    json_t *files = json_object_get(m, "files");
    const char *name;
    json_t *e13;
    int n = 0, n_acc = 0, n_ref = 0, n_gif = 0, n_bmp = 0, bad = 0, n_94 = 0;
    json_object_foreach(files, name, e13) {
        char *path = check_path(dir, name);
        nli_image img;
        int rc = nli_image_load(path, &img);
        /* Files listed in manifest_images_pillow13.py's KEEP_94 must still
         * give Pillow 9.4's result (which differs from 13's). */
        json_t *e94 = json_object_get(e13, "pillow94"), *e = e94 ? e94 : e13;
        if (e94) {
            n_94++;
            printf("still Pillow 9.4: %s: %s\n", name, json_string_value(json_object_get(e13, "keep_pillow94")));
        }
        const char *refused = json_string_value(json_object_get(e, "refused"));
        n++;
        n_gif += strstr(name, ".gif") != NULL;
        n_bmp += strstr(name, ".bmp") != NULL || strstr(name, ".dib") != NULL;
        if (refused) {
            n_ref++;
            if (rc == 0) {
                bad++;
                CHECK(0, "%s: Pillow refuses it (%s), we decode %dx%d", name, refused, img.w, img.h);
                nli_image_free(&img);
            } else {
                CHECK(strstr(nli_geterr(), name) != NULL, "%s: error does not name the file: %s", name, nli_geterr());
            }
        } else {
            n_acc++;
            int w = (int)json_integer_value(json_object_get(e, "width"));
            int h = (int)json_integer_value(json_object_get(e, "height"));
            const char *want = json_string_value(json_object_get(e, "sha256"));
            if (rc != 0) {
                bad++;
                CHECK(0, "%s: Pillow decodes it (%dx%d), we refuse: %s", name, w, h, nli_geterr());
            } else {
                char hex[65];
                sha256_hex(img.rgb, (size_t)img.w * img.h * 3, hex);
                int same = img.w == w && img.h == h && want && strcmp(hex, want) == 0;
                bad += !same;
                CHECK(same, "%s: decoded %dx%d sha256 %s, Pillow %dx%d %s", name, img.w, img.h, hex, w, h,
                      want ? want : "?");
                nli_image_free(&img);
            }
        }
        free(path);
    }
    printf("%d files (%d GIF, %d BMP/DIB): %d decoded by Pillow, %d refused by Pillow (%d of them as Pillow 9.4 "
           "rather than 13); %d differ\n", n, n_gif, n_bmp, n_acc, n_ref, n_94, bad);
    /* The generator writes well over a thousand cases; a manifest that lost
     * most of them must not pass. */
    CHECK(n >= 1500 && n_gif >= 550 && n_bmp >= 600 && n_acc >= 400 && n_ref >= 800,
          "manifest too small: %d files", n);
    json_decref(m);
    free(mpath);
    free(dir);
    return check_done();
}
