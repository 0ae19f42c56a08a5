/* fuzz_image.c — libFuzzer entry over image decoding and preprocessing.
 * Not part of the default build. Build with clang, e.g.:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iinclude -Isrc fuzz/fuzz_image.c src/clip/image_decode.c src/clip/image_webp.c src/clip/image_tiff.c \
 *     src/clip/image_tiff_dir.c src/clip/image_tiff_mode.c src/clip/image_resize.c \
 *     src/base/util.c $(pkg-config --cflags --libs libjpeg libpng libwebp libwebpdemux libtiff-4 lcms2 zlib) -lm -o fuzz_image
 *   ./fuzz_image -rss_limit_mb=4096 corpus/   (seed corpus: shared/fixtures/images)
 * Any crash, hang, leak or sanitizer report is a bug: hostile bytes must only
 * ever produce -1 and a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "image.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nli_image img;
    if (nli_image_load_mem(data, size, "fuzz", &img) != 0) {
        /* Failure must leave a message naming the input and no image. */
        if (!strstr(nli_geterr(), "fuzz") || img.rgb) abort();
        return 0;
    }
    if (img.w <= 0 || img.h <= 0 || !img.rgb) abort();
    static uint8_t out[224 * 224 * 3];
    /* Very large decodes are legal but make fuzzing slow; resize the rest.
     * Resizing may refuse absurd aspect ratios (with a message). */
    if ((uint64_t)img.w * img.h <= 4u << 20) {
        (void)nli_image_resize_crop(&img, 224, NL_RESAMPLE_BICUBIC, out);
        (void)nli_image_resize_crop(&img, 7, NL_RESAMPLE_BILINEAR, out);
        /* OpenCLIP's other resize modes: longest side then pad (refuses a
         * side that would round to 0 pixels), squash; transformers' crop
         * offsets. */
        (void)nli_image_resize_mode(&img, 9, NL_RESAMPLE_BICUBIC, NLI_RESIZE_LONGEST, 128, out);
        (void)nli_image_resize_mode(&img, 8, NL_RESAMPLE_BILINEAR, NLI_RESIZE_SQUASH | NLI_RESIZE_CROP_FLOOR, 0, out);
        (void)nli_image_resize_mode(&img, 5, NL_RESAMPLE_BICUBIC, NLI_RESIZE_SHORTEST | NLI_RESIZE_CROP_FLOOR, 0, out);
    }
    nli_image_free(&img);
    return 0;
}
