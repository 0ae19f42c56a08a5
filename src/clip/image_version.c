/* image_version.c — a fingerprint of the pixels this build makes from an
 * image, for the image embedding cache's name: cached embeddings are only
 * as good as the decoding and resizing that produced them, and a release
 * that changes either (Pillow 13's resize order changed the pixels of
 * images over 2:1 tall) must not be handed the vectors of the old one.
 *
 * Resizing is probed: synthetic images of several shapes (tall, wide,
 * square, smaller than the output) through every filter and resize mode,
 * their output bytes hashed, so a change there moves the fingerprint by
 * itself. Decoding is versioned by hand (NLI_DECODE_VERSION: bump it with
 * any change to what a decoder of ours gives) and by the versions of the
 * decoding libraries as they report themselves at run time. */
#include <png.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include <webp/decode.h>

#include <jpeglib.h> /* after stdio.h */

#include "clip.h"
#include "image.h"
#include "util.h"

/* 1: decoders as of Pillow 13 (GIF/BMP/TIFF directory readers, palettes) */
#define NLI_DECODE_VERSION 1

static uint64_t g_fp;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint64_t mix(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void probe(void) {
    enum { OUT = 24 };
    /* w x h: over 2:1 tall and wide on both sides of 24, square, smaller */
    static const int shapes[][2] = {{17, 61}, {61, 17}, {30, 200}, {200, 30}, {60, 121}, {40, 40}, {9, 13}, {50, 23}};
    static uint8_t px[8192 * 3]; /* w * h at most 8192 */
    uint8_t out[OUT * OUT * 3];
    uint64_t h = NL_FNV_INIT, seed = 1;
    int v[2] = {NLI_DECODE_VERSION, (int)png_access_version_number()};
    h = nli_fnv1a(v, sizeof v, h);
    int wv = WebPGetDecoderVersion();
    h = nli_fnv1a(&wv, sizeof wv, h);
    const char *tv = TIFFGetVersion();
    if (tv) h = nli_fnv1a(tv, strlen(tv), h);
#ifdef LIBJPEG_TURBO_VERSION_NUMBER /* libjpeg has no run-time version: the one built against */
    int jv = LIBJPEG_TURBO_VERSION_NUMBER;
#else
    int jv = JPEG_LIB_VERSION;
#endif
    h = nli_fnv1a(&jv, sizeof jv, h);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        nli_image im = {shapes[s][0], shapes[s][1], px};
        if (im.w * im.h > 8192) continue; /* (none is) */
        for (int i = 0; i < im.w * im.h * 3; i++) px[i] = (uint8_t)mix(&seed);
        for (int f = 0; f < 2; f++)
            for (int mode = 0; mode < 4; mode++) {
                nl_resample r = f ? NL_RESAMPLE_BILINEAR : NL_RESAMPLE_BICUBIC;
                int m = mode == 3 ? NLI_RESIZE_SHORTEST | NLI_RESIZE_CROP_FLOOR : mode;
                memset(out, 0, sizeof out);
                if (nli_image_resize_mode(&im, OUT, r, m, 128, out) != 0) memset(out, 0xff, sizeof out);
                h = nli_fnv1a(out, sizeof out, h);
            }
    }
    g_fp = h;
}

uint32_t nli_pixels_fingerprint(void) {
    pthread_once(&g_once, probe);
    return (uint32_t)(g_fp ^ (g_fp >> 32));
}
