/* image_internal.h — helpers shared by the image decoders (image_decode.c,
 * image_webp.c, image_gif.c, image_bmp.c, image_tiff.c); not part of the
 * public API. */
#ifndef NEGLABEL_IMAGE_INTERNAL_H
#define NEGLABEL_IMAGE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "image.h"

/* Refuse zero or too large sizes (NL_MAX_IMAGE_PIXELS), naming the file and
 * format: 0 when w x h may be decoded. */
int nli_image_check_dims(const char *name, const char *fmt, uint64_t w, uint64_t h);
/* w*h*3 bytes, or NULL with the error set (naming the file). */
uint8_t *nli_image_alloc_rgb(const char *name, int w, int h);
/* Pillow's cmyk2rgb on a row of w pixels, samples `step` bytes apart;
 * inverted: Adobe-inverted "CMYK;I" data. */
void nli_image_cmyk_row(const uint8_t *in, int step, int inverted, uint8_t *out, int w);

/* Decoders by format: 0 and out filled, or -1 with the error set. */
int nli_image_load_webp(const uint8_t *data, size_t len, const char *name, nli_image *out);
int nli_image_load_gif(const uint8_t *data, size_t len, const char *name, nli_image *out);
/* dib: a headerless BMP (Pillow's DIB format: starts with the info header). */
int nli_image_load_bmp(const uint8_t *data, size_t len, const char *name, int dib, nli_image *out);
int nli_image_load_tiff(const uint8_t *data, size_t len, const char *name, nli_image *out);
#endif
