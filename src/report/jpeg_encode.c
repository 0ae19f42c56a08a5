/* jpeg_encode.c — RGB to JPEG in memory, for the report's thumbnails.
 * libjpeg's default error_exit calls exit(); we longjmp back instead, and
 * keep its messages out of stderr. */
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "report.h"
#include "util.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    /* Kept here rather than in locals: they change between setjmp and longjmp. */
    unsigned char *buf;
    unsigned long size;
} jerr;

static void on_error(j_common_ptr cinfo) {
    jerr *e = (jerr *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    e->pub.format_message(cinfo, msg);
    nli_seterr("JPEG encoder: %s", msg);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr cinfo) { (void)cinfo; /* warnings: nothing to tell */ }

int nli_jpeg_encode(const uint8_t *rgb, int w, int h, int quality, unsigned char **out, size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!rgb || !out || !len) { nli_seterr("JPEG encoder: missing argument"); return -1; }
    if (w <= 0 || h <= 0 || w > JPEG_MAX_DIMENSION || h > JPEG_MAX_DIMENSION) {
        nli_seterr("JPEG encoder: image size %dx%d out of range", w, h);
        return -1;
    }
    const int q = quality < 1 ? 1 : quality > 100 ? 100 : quality;

    struct jpeg_compress_struct ci;
    jerr *e = nli_calloc(1, sizeof *e);
    if (!e) return -1;
    ci.err = jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error;
    e->pub.output_message = on_message;
    if (setjmp(e->jump)) {
        jpeg_destroy_compress(&ci);
        free(e->buf);
        free(e);
        return -1;
    }
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &e->buf, &e->size);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, q, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)ci.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    *out = e->buf;
    *len = (size_t)e->size;
    free(e);
    return 0;
}
