/* image_decode.c — JPEG and PNG decoding to 8-bit RGB, giving the
 * pixels Pillow 13 gives for Image.open(path).convert('RGB').
 *
 * Pillow's choices we reproduce (see PngImagePlugin._MODES, Unpack.c,
 * Convert.c, JpegDecode.c, JpegImagePlugin):
 *  - JPEG: libjpeg defaults (JDCT_ISLOW, fancy upsampling), no scaling;
 *    4-component JPEGs are read as Adobe-inverted CMYK ("CMYK;I") and turned
 *    into RGB with cmyk2rgb. Running out of data is an error ("image file is
 *    truncated"); other libjpeg warnings (corrupt entropy data) are ignored,
 *    as Pillow ignores them. Running out of data after the last scanline
 *    (a missing or cut EOI) is tolerated, as in Pillow.
 *  - PNG: no gamma/colour transforms; 16-bit samples keep their high byte,
 *    except 16-bit grey, which Pillow opens as mode "I" and clips to 0..255
 *    in convert('RGB'); 1/2/4-bit grey scale to 0..255; palette indices
 *    beyond PLTE are black (Pillow 13; 9.4: its grey ramp); alpha is dropped, not composited.
 * WebP is in image_webp.c, GIF in image_gif.c, BMP in image_bmp.c, TIFF in
 * image_tiff.c.
 * Sizes are checked against NL_MAX_IMAGE_PIXELS from the header, before any
 * pixel buffer is allocated. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <zlib.h>

#include "clip.h"
#include "image.h"
#include "image_internal.h"
#include "util.h"

/* Largest image file we read into memory (bytes). */
#define NL_MAX_IMAGE_FILE ((size_t)1 << 30)
/* Hostile progressive JPEGs can carry thousands of tiny scans, each costing
 * a full pass over the coefficients; real files have a dozen or so. */
#define NL_MAX_JPEG_SCANS 1000

int nli_image_check_dims(const char *name, const char *fmt, uint64_t w, uint64_t h) {
    if (w == 0 || h == 0) {
        nli_seterr("%s: %s image has zero size (%llux%llu)", name, fmt,
                  (unsigned long long)w, (unsigned long long)h);
        return -1;
    }
    if (w > NL_MAX_IMAGE_PIXELS || h > NL_MAX_IMAGE_PIXELS || w * h > NL_MAX_IMAGE_PIXELS) {
        nli_seterr("%s: %s image too large (%llux%llu pixels, limit %llu pixels)", name, fmt,
                  (unsigned long long)w, (unsigned long long)h, NL_MAX_IMAGE_PIXELS);
        return -1;
    }
    return 0;
}

uint8_t *nli_image_alloc_rgb(const char *name, int w, int h) {
    uint8_t *p = nli_mallocarray((size_t)w * (size_t)h, 3);
    if (!p) nli_prefixerr("%s", name);
    return p;
}

/* ------------------------------------------------------------------ JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_err;

static void jpeg_error_exit(j_common_ptr c) {
    jpeg_err *e = (jpeg_err *)c->err;
    char buf[JMSG_LENGTH_MAX];
    c->err->format_message(c, buf);
    snprintf(e->msg, sizeof e->msg, "corrupt JPEG: %s", buf);
    longjmp(e->jb, 1);
}

static void jpeg_emit(j_common_ptr c, int level) {
    if (level < 0) c->err->num_warnings++; /* warnings (corrupt data) are ignored, as in Pillow */
}

/* A suspending in-memory source, as Pillow's JpegDecode feeds libjpeg: the
 * whole file is in the buffer, and asking for more suspends the decoder
 * (fill_input_buffer returns FALSE) instead of inserting a fake EOI, as
 * jpeg_mem_src does. Suspension before the last scanline is Pillow's "image
 * file is truncated"; suspension in jpeg_finish_decompress, once all rows
 * are out, ends the decode successfully, as JpegDecode.c does. */
static void jsrc_init(j_decompress_ptr c) { (void)c; }
static boolean jsrc_fill(j_decompress_ptr c) { (void)c; return FALSE; }
static void jsrc_skip(j_decompress_ptr c, long n) {
    struct jpeg_source_mgr *s = c->src;
    if (n <= 0) return;
    if ((size_t)n > s->bytes_in_buffer) n = (long)s->bytes_in_buffer; /* then the next read suspends */
    s->next_input_byte += n;
    s->bytes_in_buffer -= (size_t)n;
}
static void jsrc_term(j_decompress_ptr c) { (void)c; }

static void jpeg_progress(j_common_ptr c) {
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > NL_MAX_JPEG_SCANS) {
        jpeg_err *e = (jpeg_err *)c->err;
        snprintf(e->msg, sizeof e->msg, "corrupt JPEG: more than %d scans", NL_MAX_JPEG_SCANS);
        longjmp(e->jb, 1);
    }
}

/* Pillow's cmyk2rgb with MULDIV255 rounding, on CMYK samples `step` bytes
 * apart per pixel; inverted: Adobe "CMYK;I" raw data (JPEG). */
void nli_image_cmyk_row(const uint8_t *in, int step, int inverted, uint8_t *out, int w) {
    for (int x = 0; x < w; x++, in += step, out += 3) {
        int nk = inverted ? in[3] : 255 - in[3];
        for (int c = 0; c < 3; c++) {
            int v = inverted ? 255 - in[c] : in[c];
            int t = v * nk + 128;
            int m = ((t >> 8) + t) >> 8;
            int r = nk - m;
            out[c] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
        }
    }
}

static int load_jpeg(const uint8_t *data, size_t len, const char *name, nli_image *out) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr prog;
    jpeg_err err;
    uint8_t *volatile rgb = NULL;
    uint8_t *volatile row = NULL;

    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_error_exit;
    err.pub.emit_message = jpeg_emit;
    err.msg[0] = 0;
    if (setjmp(err.jb)) {
        nli_seterr("%s: %s", name, err.msg);
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        free(row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    prog.progress_monitor = jpeg_progress;
    cinfo.progress = &prog;
    struct jpeg_source_mgr src = {.next_input_byte = data, .bytes_in_buffer = len, .init_source = jsrc_init,
                                  .fill_input_buffer = jsrc_fill, .skip_input_data = jsrc_skip,
                                  .resync_to_restart = jpeg_resync_to_restart, .term_source = jsrc_term};
    cinfo.src = &src;
    int hr = jpeg_read_header(&cinfo, TRUE);
    if (hr != JPEG_HEADER_OK) {
        snprintf(err.msg, sizeof err.msg, "%s", hr == JPEG_SUSPENDED ? "image file is truncated (JPEG header incomplete)"
                                                                      : "corrupt JPEG: no image in the file");
        longjmp(err.jb, 1);
    }

    if (nli_image_check_dims(name, "JPEG", cinfo.image_width, cinfo.image_height) != 0) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    int nc = cinfo.num_components;
    if (nc == 1) cinfo.out_color_space = JCS_GRAYSCALE;
    else if (nc == 3) cinfo.out_color_space = JCS_RGB;
    else if (nc == 4) cinfo.out_color_space = JCS_CMYK;
    else {
        nli_seterr("%s: unsupported JPEG with %d components", name, nc);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    /* Pillow's settings: the library defaults (accurate integer IDCT, fancy
     * upsampling, no scaling); spelled out so a changed default shows. */
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    cinfo.scale_num = cinfo.scale_denom = 1;

    if (!jpeg_start_decompress(&cinfo)) {
        snprintf(err.msg, sizeof err.msg, "image file is truncated (JPEG scans incomplete)");
        longjmp(err.jb, 1);
    }
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if (cinfo.output_components != (nc == 1 ? 1 : nc)) {
        nli_seterr("%s: unexpected JPEG output layout", name);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    rgb = nli_image_alloc_rgb(name, w, h);
    if (nc != 3) row = nli_mallocarray((size_t)w, (size_t)nc);
    if (!rgb || (nc != 3 && !row)) {
        if (!row && rgb) nli_prefixerr("%s", name);
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        free(row);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        uint8_t *dst = rgb + (size_t)y * w * 3;
        JSAMPROW rp = nc == 3 ? dst : row;
        if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) {
            snprintf(err.msg, sizeof err.msg, "image file is truncated");
            longjmp(err.jb, 1);
        }
        if (nc == 1) {
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
        } else if (nc == 4) {
            nli_image_cmyk_row(row, 4, 1, dst, w);
        }
    }
    /* Pillow finishes too: a broken trailing marker is an error, running
     * out of data here is not (the function then returns FALSE). */
    (void)jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->w = w;
    out->h = h;
    out->rgb = rgb;
    return 0;
}

/* ------------------------------------------------------------------- PNG */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    jmp_buf jb;
    char msg[256];
    int h, interlaced;
    int cut_after_rows; /* the data ran out after the last row was decoded */
} png_src;

static void png_read_cb(png_structp png, png_bytep dst, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) {
        /* libpng reads on past the last row (the zlib stream's end, the
         * IDAT's CRC); Pillow's decoder stops at the last row and then takes
         * a cut file quietly. libpng has counted the last row (interlaced:
         * the last pass) when it asks for more. */
        s->cut_after_rows = s->interlaced ? png_get_current_pass_number(png) >= 7
                                          : png_get_current_row_number(png) >= (png_uint_32)s->h;
        png_error(png, "image file is truncated");
    }
    memcpy(dst, s->p + s->pos, n);
    s->pos += n;
}

static void png_error_cb(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    if (strstr(msg, "truncated")) snprintf(s->msg, sizeof s->msg, "%s", msg);
    else snprintf(s->msg, sizeof s->msg, "corrupt PNG: %s", msg);
    longjmp(s->jb, 1);
}

static void png_warn_cb(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One raw PNG row (no libpng transforms) to RGB, per Pillow's rawmodes. */
static void png_row_rgb(const uint8_t *in, uint8_t *out, int w, int depth, int ctype,
                        const uint8_t pal[256][3]) {
    int x;
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY:
        if (depth == 16) { /* mode "I": i2rgb clips to 0..255 */
            for (x = 0; x < w; x++) {
                uint8_t v = in[2 * x] ? 255 : in[2 * x + 1];
                out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = v;
            }
        } else if (depth == 8) {
            for (x = 0; x < w; x++) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
        } else {
            /* "1": 0/255; "L;2": x*0x55; "L;4": x*0x11 */
            int per = 8 / depth, mask = (1 << depth) - 1;
            int mul = depth == 1 ? 255 : depth == 2 ? 0x55 : 0x11;
            for (x = 0; x < w; x++) {
                int shift = 8 - depth * (x % per + 1);
                uint8_t v = (uint8_t)(((in[x / per] >> shift) & mask) * mul);
                out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = v;
            }
        }
        break;
    case PNG_COLOR_TYPE_PALETTE: {
        int per = 8 / depth, mask = (1 << depth) - 1;
        for (x = 0; x < w; x++) {
            int shift = 8 - depth * (x % per + 1);
            int i = (in[x / per] >> shift) & mask;
            memcpy(out + 3 * x, pal[i], 3);
        }
        break;
    }
    case PNG_COLOR_TYPE_RGB:
        if (depth == 8) memcpy(out, in, (size_t)w * 3);
        else
            for (x = 0; x < 3 * w; x++) out[x] = in[2 * x];
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
        int step = depth == 8 ? 2 : 4;
        for (x = 0; x < w; x++) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[step * x];
        break;
    }
    case PNG_COLOR_TYPE_RGB_ALPHA: {
        int bs = depth / 8;
        for (x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) out[3 * x + c] = in[(4 * x + c) * bs];
        break;
    }
    }
}

/* Pillow's chunk checks (PngImagePlugin.PngImageFile._open, load_end): every
 * chunk before the first IDAT must be whole, have a name of four [A-Za-z0-9_]
 * and a correct CRC; the image data's CRCs are never checked (libpng is
 * told to ignore them all, below). After the image data Pillow reads chunk
 * by chunk up to IEND without checking CRCs: a chunk whose header is cut or
 * whose name is not a chunk name ends the file quietly, a chunk whose body
 * is cut is an error ("Truncated File Read"). *idat is set to the offset
 * of the first IDAT chunk. */
static int is_cid(const uint8_t *c) {
    for (int i = 0; i < 4; i++)
        if (!((c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') ||
              c[i] == '_'))
            return 0;
    return 1;
}

static int png_prescan(const uint8_t *data, size_t len, const char *name, size_t *idat) {
    size_t pos = 8;
    for (;;) {
        if (len - pos < 8) {
            nli_seterr("%s: image file is truncated (PNG chunk header cut before the image data)", name);
            return -1;
        }
        uint32_t n = be32(data + pos);
        const uint8_t *cid = data + pos + 4;
        if (!is_cid(cid)) {
            nli_seterr("%s: corrupt PNG: broken chunk name at offset %zu", name, pos);
            return -1;
        }
        if (memcmp(cid, "IDAT", 4) == 0) {
            *idat = pos;
            return 0;
        }
        if (memcmp(cid, "IEND", 4) == 0) {
            nli_seterr("%s: corrupt PNG: IEND before any image data", name);
            return -1;
        }
        if (n > len - pos - 8 || len - pos - 8 - n < 4) {
            nli_seterr("%s: image file is truncated (PNG chunk %.4s cut)", name, (const char *)cid);
            return -1;
        }
        uint32_t crc = (uint32_t)crc32(0L, cid, 4 + n);
        if (crc != be32(data + pos + 8 + n)) {
            nli_seterr("%s: corrupt PNG: bad checksum in chunk %.4s", name, (const char *)cid);
            return -1;
        }
        pos += 12 + (size_t)n;
    }
}

static int png_postscan(const uint8_t *data, size_t len, const char *name, size_t pos) {
    while (len - pos >= 8 && memcmp(data + pos + 4, "IDAT", 4) == 0) {
        uint32_t n = be32(data + pos);
        if (n > len - pos - 8) return 0; /* the image decoded from what there is */
        pos += 8 + (size_t)n;
        pos += len - pos < 4 ? len - pos : 4;
    }
    for (;;) {
        if (len - pos < 8 || !is_cid(data + pos + 4) || memcmp(data + pos + 4, "IEND", 4) == 0) return 0;
        uint32_t n = be32(data + pos);
        if (n > len - pos - 8) {
            nli_seterr("%s: image file is truncated (PNG chunk %.4s after the image data cut)", name,
                       (const char *)data + pos + 4);
            return -1;
        }
        pos += 8 + (size_t)n;
        pos += len - pos < 4 ? len - pos : 4;
    }
}

static int load_png(const uint8_t *data, size_t len, const char *name, nli_image *out) {
    /* Read the size from IHDR ourselves, so absurd sizes are refused before
     * libpng reads further. */
    if (len < 33) {
        nli_seterr("%s: image file is truncated (PNG header incomplete)", name);
        return -1;
    }
    if (memcmp(data + 12, "IHDR", 4) != 0) {
        nli_seterr("%s: corrupt PNG: first chunk is not IHDR", name);
        return -1;
    }
    if (nli_image_check_dims(name, "PNG", be32(data + 16), be32(data + 20)) != 0) return -1;
    size_t idat_at = 0;
    if (png_prescan(data, len, name, &idat_at) != 0) return -1;

    png_src src = {.p = data, .len = len, .pos = 0};
    uint8_t pal[256][3]; /* before setjmp: read again after a longjmp (rows_done) */
    uint8_t *volatile rgb = NULL;
    uint8_t *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_error_cb, png_warn_cb);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        nli_seterr("%s: out of memory creating PNG decoder", name);
        return -1;
    }
    if (setjmp(src.jb)) {
        if (src.cut_after_rows && rgb) goto rows_done;
        nli_seterr("%s: %s", name, src.msg);
        png_destroy_read_struct(&png, &info, NULL);
        free(rgb);
        free(raw);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, &src, png_read_cb);
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE); /* checked above, as Pillow does */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* our pixel limit applies instead */
    png_read_info(png, info);

    png_uint_32 w32, h32;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w32, &h32, &depth, &ctype, &interlace, NULL, NULL);
    if (nli_image_check_dims(name, "PNG", w32, h32) != 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    int w = (int)w32, h = (int)h32;

    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i; /* Pillow's ramp */
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        /* Pillow 13: indices past the PLTE's entries are black (9.4 read
         * its grey ramp there). */
        memset(pal, 0, sizeof pal);
        png_colorp plte = NULL;
        int np = 0;
        if (png_get_PLTE(png, info, &plte, &np) && plte)
            for (int i = 0; i < np && i < 256; i++) {
                pal[i][0] = plte[i].red;
                pal[i][1] = plte[i].green;
                pal[i][2] = plte[i].blue;
            }
    }

    int passes = interlace != PNG_INTERLACE_NONE ? png_set_interlace_handling(png) : 1;
    src.h = h;
    src.interlaced = passes > 1;
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    rgb = nli_image_alloc_rgb(name, w, h);
    if (!rgb) goto fail;
    if (passes > 1) {
        /* Interlaced: libpng fills the whole image over its passes. */
        raw = nli_mallocarray(rowbytes, (size_t)h);
        rows = nli_mallocarray((size_t)h, sizeof *rows);
        if (!raw || !rows) { nli_prefixerr("%s", name); goto fail; }
        for (int y = 0; y < h; y++) rows[y] = raw + (size_t)y * rowbytes;
        png_read_image(png, rows);
    } else {
        raw = nli_malloc(rowbytes);
        if (!raw) { nli_prefixerr("%s", name); goto fail; }
        for (int y = 0; y < h; y++) {
            png_read_row(png, raw, NULL);
            png_row_rgb(raw, rgb + (size_t)y * w * 3, w, depth, ctype, (const uint8_t(*)[3])pal);
        }
    }
rows_done:
    png_get_IHDR(png, info, &w32, &h32, &depth, &ctype, &interlace, NULL, NULL);
    w = (int)w32;
    h = (int)h32;
    if (rows) {
        for (int y = 0; y < h; y++)
            png_row_rgb(rows[y], rgb + (size_t)y * w * 3, w, depth, ctype, (const uint8_t(*)[3])pal);
    } else if (src.cut_after_rows) { /* the last row is in raw, not yet converted */
        png_row_rgb(raw, rgb + (size_t)(h - 1) * w * 3, w, depth, ctype, (const uint8_t(*)[3])pal);
    }
    /* No png_read_end: Pillow does not check the chunks after the image data
     * as libpng does; png_postscan does what it does. */
    png_destroy_read_struct(&png, &info, NULL);
    if (png_postscan(data, len, name, idat_at) != 0) {
        free(raw);
        free(rows);
        free(rgb);
        return -1;
    }
    free(raw);
    free(rows);
    out->w = w;
    out->h = h;
    out->rgb = rgb;
    return 0;
fail:
    png_destroy_read_struct(&png, &info, NULL);
    free(rgb);
    free(raw);
    free(rows);
    return -1;
}

/* ---------------------------------------------------------------- public */

int nli_image_load_mem(const uint8_t *data, size_t len, const char *name, nli_image *out) {
    if (!name) name = "<memory>";
    out->w = out->h = 0;
    out->rgb = NULL;
    if (!data || len == 0) {
        nli_seterr("%s: file is empty", name);
        return -1;
    }
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return load_jpeg(data, len, name, out);
    if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) return load_png(data, len, name, out);
    if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return nli_image_load_webp(data, len, name, out);
    if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return nli_image_load_gif(data, len, name, out);
    if (len >= 2 && memcmp(data, "BM", 2) == 0) return nli_image_load_bmp(data, len, name, 0, out);
    if (len >= 4 && data[1] == 0 && data[2] == 0 && data[3] == 0 &&
        (data[0] == 12 || data[0] == 40 || data[0] == 64 || data[0] == 108 || data[0] == 124))
        return nli_image_load_bmp(data, len, name, 1, out); /* Pillow's DIB: a BMP without file header */
    if (len >= 4 && (!memcmp(data, "MM\0*", 4) || !memcmp(data, "II*\0", 4) || !memcmp(data, "MM*\0", 4) ||
                     !memcmp(data, "II\0*", 4) || !memcmp(data, "MM\0+", 4) || !memcmp(data, "II+\0", 4)))
        return nli_image_load_tiff(data, len, name, out);
    nli_seterr("%s: cannot identify image file (not JPEG, PNG, WebP, GIF, BMP or TIFF)", name);
    return -1;
}

int nli_image_load(const char *path, nli_image *out) {
    char *buf;
    size_t len;
    out->w = out->h = 0;
    out->rgb = NULL;
    if (nli_read_file(path, NL_MAX_IMAGE_FILE, &buf, &len) != 0) return -1;
    int rc = nli_image_load_mem((const uint8_t *)buf, len, path, out);
    free(buf);
    return rc;
}

void nli_image_free(nli_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

int nl_preprocess_file(const char *path, int size, nl_resample resample, uint8_t *out) {
    if (!path || !out) return nli_null_arg(__func__);
    return nli_preprocess_file_mode(path, size, resample, NLI_RESIZE_SHORTEST, 0, out);
}

int nli_preprocess_file_mode(const char *path, int size, nl_resample resample, int mode, int fill, uint8_t *out) {
    char *buf;
    size_t len;
    if (nli_read_file(path, NL_MAX_IMAGE_FILE, &buf, &len) != 0) return -1;
    int rc = nli_preprocess_mem_mode((const uint8_t *)buf, len, path, size, resample, mode, fill, out);
    free(buf);
    return rc;
}

int nli_preprocess_mem_mode(const uint8_t *data, size_t len, const char *name, int size, nl_resample resample,
                            int mode, int fill, uint8_t *out) {
    if (!name) name = "<memory>";
    if (len > NL_MAX_IMAGE_FILE) {
        nli_seterr_code(NL_ERR_INVALID, "%s: %zu bytes is larger than the %zu-byte limit for an image", name, len,
                        NL_MAX_IMAGE_FILE);
        return -1;
    }
    nli_image img;
    if (nli_image_load_mem(data, len, name, &img) != 0) return -1;
    int rc = nli_image_resize_mode(&img, size, resample, mode, fill, out);
    if (rc != 0) nli_prefixerr("%s", name);
    nli_image_free(&img);
    return rc;
}
