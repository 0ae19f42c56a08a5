/* image_tiff.c — TIFF as Pillow 9.4 opens it: Image.open(p).convert('RGB')
 * of the first page (TiffImagePlugin, TiffDecode.c, Unpack.c, Convert.c).
 *
 * Pillow reads the directory itself and picks a (mode, rawmode) from its
 * OPEN_INFO table keyed by byte order, photometric interpretation, sample
 * format, fill order, bits per sample and extra samples; a key it does not
 * know is refused ("unknown pixel mode"). Then:
 *  - uncompressed images go through Pillow's own raw decoder: the rows are
 *    read at the strip or tile offsets (the byte counts are not looked at)
 *    and running out of file is "image file is truncated";
 *  - every other compression goes through libtiff (READ_LIBTIFF is off, but
 *    compression != "raw" selects it): TIFFReadEncodedStrip / TIFFReadTile
 *    with Pillow's size checks, YCbCr with JPEG compression as libjpeg's RGB
 *    (JPEGCOLORMODE_RGB), other YCbCr through TIFFRGBAImage.
 * Orientation is not applied (Pillow's open/convert do not). The rows are
 * then unpacked and converted to RGB as Pillow does: "1" to 0/255,
 * min-is-white inverted, 2/4-bit grey scaled by 0x55/0x11, 16-bit grey
 * ("I;16") clipped to 255, signed 16-bit clipped to 0..255, 16-bit colour
 * samples keep their high byte, the palette's 16-bit entries their high
 * byte, associated alpha ("RGBa") un-premultiplied, CMYK by cmyk2rgb, alpha
 * dropped. Uncompressed YCbCr is read, as Pillow reads it, as 4-byte RGBX
 * pixels. LAB, float and 32-bit integer samples are refused (Pillow reads
 * them; not supported here). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "image_internal.h"
#include "util.h"

/* libtiff allocations for one strip or tile, tags etc. (hostile headers) */
#define NL_TIFF_MAX_ALLOC ((tmsize_t)256 << 20)

typedef struct {
    const uint8_t *p;
    toff_t len, pos;
    char msg[256];
} tmem;

static tmsize_t t_read(thandle_t h, void *buf, tmsize_t n) {
    tmem *m = h;
    if (n <= 0 || m->pos >= m->len) return 0;
    toff_t left = m->len - m->pos;
    if ((toff_t)n > left) n = (tmsize_t)left;
    memcpy(buf, m->p + m->pos, (size_t)n);
    m->pos += (toff_t)n;
    return n;
}
static tmsize_t t_write(thandle_t h, void *buf, tmsize_t n) { (void)h, (void)buf, (void)n; return -1; }
static toff_t t_seek(thandle_t h, toff_t off, int whence) {
    tmem *m = h;
    toff_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->len : 0;
    m->pos = base + off; /* unsigned wrap-around gives the negative offsets */
    return m->pos;
}
static int t_close(thandle_t h) { (void)h; return 0; }
static toff_t t_size(thandle_t h) { return ((tmem *)h)->len; }
static int t_map(thandle_t h, void **base, toff_t *size) { (void)h, (void)base, (void)size; return 0; }
static void t_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

static int t_err(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    tmem *m = user;
    if (!m->msg[0]) {
        int k = snprintf(m->msg, sizeof m->msg, "%s: ", module ? module : "libtiff");
        if (k > 0 && (size_t)k < sizeof m->msg) vsnprintf(m->msg + k, sizeof m->msg - (size_t)k, fmt, ap);
    }
    return 1;
}
static int t_warn(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}

/* Pillow's directory reader drops a tag whose data lies past the end of
 * the file (ImageFileDirectory_v2.load: "Possibly corrupt EXIF data");
 * libtiff may keep going without it (a palette image without its colour
 * map becomes grey). 1: the first directory of a classic TIFF has the tag
 * and its data is in the file (BigTIFF: not checked, 1). */
static int ifd_tag_in_file(const uint8_t *p, size_t len, unsigned tag, unsigned *value) {
    int be = p[0] == 'M';
#define RD16(q) (be ? (unsigned)(q)[0] << 8 | (q)[1] : (unsigned)(q)[1] << 8 | (q)[0])
#define RD32(q) (be ? (uint32_t)(q)[0] << 24 | (uint32_t)(q)[1] << 16 | (uint32_t)(q)[2] << 8 | (q)[3] \
                    : (uint32_t)(q)[3] << 24 | (uint32_t)(q)[2] << 16 | (uint32_t)(q)[1] << 8 | (q)[0])
    if (len < 8 || RD16(p + 2) == 43) return 1;
    uint32_t ifd = RD32(p + 4);
    if (ifd > len || len - ifd < 2) return 0;
    unsigned n = RD16(p + ifd);
    static const uint8_t tsize[13] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
    for (unsigned i = 0; i < n; i++) {
        size_t at = (size_t)ifd + 2 + 12 * (size_t)i;
        if (at + 12 > len) return 0;
        if (RD16(p + at) != tag) continue;
        unsigned type = RD16(p + at + 2);
        uint64_t size = (uint64_t)RD32(p + at + 4) * (type < 13 ? tsize[type] : 1);
        if (value) *value = RD16(p + at + 8);
        if (size <= 4) return 1;
        uint32_t off = RD32(p + at + 8);
        return off <= len && size <= len - off;
    }
#undef RD16
#undef RD32
    return 0;
}

/* What a row holds, after Pillow's OPEN_INFO. */
enum { K_BILEVEL, K_GREY, K_GREY16, K_GREY16S, K_RGB, K_RGBA_PRE, K_CMYK, K_PAL, K_RGBX_YCC };

typedef struct {
    int kind, spp, bps, invert, be, bitrev;
    uint8_t pal[256][3];
} tfmt;

static int u16s(const tfmt *f, const uint8_t *p) { return f->be ? p[0] << 8 | p[1] : p[1] << 8 | p[0]; }
static uint8_t rev8(uint8_t b) {
    b = (uint8_t)((b & 0xF0) >> 4 | (b & 0x0F) << 4);
    b = (uint8_t)((b & 0xCC) >> 2 | (b & 0x33) << 2);
    return (uint8_t)((b & 0xAA) >> 1 | (b & 0x55) << 1);
}

/* One row (or tile row) of n pixels to RGB. */
static void unpack_row(const tfmt *f, const uint8_t *in, uint8_t *out, int n) {
    int x, c;
    switch (f->kind) {
    case K_BILEVEL:
    case K_GREY:
    case K_PAL: {
        int d = f->bps, per = 8 / d, mask = (1 << d) - 1, mul = d == 1 ? 255 : d == 2 ? 0x55 : d == 4 ? 0x11 : 1;
        for (x = 0; x < n; x++) {
            int v;
            if (d == 8) { /* LA / PA: the first sample; "L;R" / "P;R": bits reversed */
                v = in[(size_t)x * f->spp];
                if (f->bitrev) v = rev8((uint8_t)v);
            } else {
                uint8_t b = in[x / per];
                if (f->bitrev) b = rev8(b);
                v = (b >> (8 - d * (x % per + 1))) & mask;
            }
            if (f->kind == K_PAL) {
                memcpy(out + 3 * x, f->pal[v], 3);
                continue;
            }
            v *= mul;
            if (f->invert) v = 255 - v;
            out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = (uint8_t)v;
        }
        break;
    }
    case K_GREY16:
    case K_GREY16S:
        for (x = 0; x < n; x++) {
            int v = u16s(f, in + 2 * x);
            if (f->kind == K_GREY16S && v >= 32768) v = 0;
            if (v > 255) v = 255;
            out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = (uint8_t)v;
        }
        break;
    case K_RGB:
        for (x = 0; x < n; x++)
            for (c = 0; c < 3; c++) {
                const uint8_t *s = in + ((size_t)x * f->spp + c) * (f->bps / 8);
                out[3 * x + c] = f->bps == 16 ? (uint8_t)(u16s(f, s) >> 8) : s[0];
            }
        break;
    case K_RGBA_PRE: /* Unpack.c unpackRGBa (16-bit: the high bytes first) */
        for (x = 0; x < n; x++) {
            int v[4];
            for (c = 0; c < 4; c++) {
                const uint8_t *s = in + ((size_t)x * f->spp + c) * (f->bps / 8);
                v[c] = f->bps == 16 ? u16s(f, s) >> 8 : s[0];
            }
            for (c = 0; c < 3; c++) {
                int r = v[3] == 0 ? 0 : v[3] == 255 ? v[c] : v[c] * 255 / v[3];
                out[3 * x + c] = (uint8_t)(r > 255 ? 255 : r);
            }
        }
        break;
    case K_CMYK:
        nli_image_cmyk_row(in, f->spp, 0, out, n);
        break;
    case K_RGBX_YCC:
        for (x = 0; x < n; x++) memcpy(out + 3 * x, in + 4 * x, 3);
        break;
    }
}

/* Pillow's OPEN_INFO, for the modes we read. */
static int pick_format(TIFF *tif, const char *name, int raw, int colormap_ok, tfmt *f) {
    uint16_t photo = 0, spp = 1, bps = 1, fill = 1, sfmt = 1, nextra = 0, comp = 1, *extra = NULL;
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    if (comp == COMPRESSION_OJPEG) photo = PHOTOMETRIC_YCBCR;
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_FILLORDER, &fill);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &sfmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
    memset(f, 0, sizeof *f);
    f->spp = spp;
    f->bps = bps;
    f->be = raw && TIFFIsBigEndian(tif); /* libtiff gives 16-bit samples in native order */
    f->bitrev = raw && fill == FILLORDER_LSB2MSB;
    int e0 = nextra ? extra[0] : -1;
    int extras_zero = 1;
    for (int i = 1; i < nextra; i++) extras_zero &= extra[i] == 0;
    const char *why = NULL;
    if (sfmt != SAMPLEFORMAT_UINT && !(sfmt == SAMPLEFORMAT_INT && bps == 16 && photo == 1 && spp == 1)) why = "sample format";
    else if (photo <= 1 && spp == 1 && nextra == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8)) {
        f->kind = bps == 1 ? K_BILEVEL : K_GREY;
        f->invert = photo == 0;
    } else if (photo <= 1 && spp == 1 && nextra == 0 && bps == 16 && fill == 1) {
        f->kind = sfmt == SAMPLEFORMAT_INT ? K_GREY16S : K_GREY16;
        if (photo == 0 && (f->kind == K_GREY16S || (!TIFFIsBigEndian(tif) ? 0 : 1))) why = "photometric";
    } else if (photo == 1 && spp == 2 && bps == 8 && nextra == 1 && e0 == 2 && fill == 1) {
        f->kind = K_GREY; /* LA */
    } else if (photo == 2 && fill == 1 && (bps == 8 || bps == 16) && spp >= 3 && spp <= 6 && spp == 3 + nextra + (nextra == 0 && spp == 4)) {
        f->kind = (e0 == 1 && extras_zero) ? K_RGBA_PRE : K_RGB;
        if (bps == 16 && (spp > 4 || (spp == 4 && nextra == 1 && e0 != 0 && e0 != 1 && e0 != 2))) why = "extra samples";
        if (bps == 8 && nextra && !extras_zero) why = "extra samples";
        if (bps == 8 && nextra == 1 && e0 != 0 && e0 != 1 && e0 != 2 && e0 != 999) why = "extra samples";
        if (bps == 8 && nextra >= 2 && e0 > 2) why = "extra samples";
    } else if (photo == 3 && spp == 1 && nextra == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8)) {
        f->kind = K_PAL;
    } else if (photo == 3 && spp == 2 && bps == 8 && nextra == 1 && e0 == 2 && fill == 1) {
        f->kind = K_PAL; /* PA */
    } else if (photo == 5 && bps == 8 && fill == 1 && spp >= 4 && spp <= 6 && nextra == spp - 4 && extras_zero &&
               (nextra == 0 || e0 == 0)) {
        f->kind = K_CMYK;
    } else if (photo == 6 && spp == 3 && bps == 8 && nextra == 0 && fill == 1) {
        f->kind = raw ? K_RGBX_YCC : K_RGB;
    } else why = "pixel layout";
    if (why) {
        nli_seterr("%s: unsupported TIFF (unknown pixel mode: %s; photometric %u, %u samples of %u bits, "
                   "sample format %u, %u extra)", name, why, photo, spp, bps, sfmt, nextra);
        return -1;
    }
    if (f->kind == K_PAL) {
        uint16_t *r, *g, *b;
        if (!colormap_ok || !TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b)) {
            nli_seterr("%s: corrupt TIFF: palette image without a colour map", name);
            return -1;
        }
        for (int i = 0; i < 256; i++) f->pal[i][0] = f->pal[i][1] = f->pal[i][2] = (uint8_t)i;
        for (int i = 0; i < (1 << bps); i++) {
            f->pal[i][0] = (uint8_t)(r[i] >> 8);
            f->pal[i][1] = (uint8_t)(g[i] >> 8);
            f->pal[i][2] = (uint8_t)(b[i] >> 8);
        }
    }
    return 0;
}

/* Pillow's raw decoder: rows straight from the file at each strip's or
 * tile's offset; stride: bytes per row in the file. */
static int read_raw(TIFF *tif, const tmem *m, const char *name, const tfmt *f, int planar, int w, int h,
                    uint8_t *rgb) {
    /* planar: one band per plane, in the order of Pillow's rawmode ("RGB",
     * "RGBA"): the colour bands land in their channel, the rest is dropped */
    uint64_t bpp_bits = (uint64_t)(planar ? f->bps : f->kind == K_RGBX_YCC ? 32 : f->spp * f->bps);
    int layer = 0;
    int tiled = TIFFIsTiled(tif);
    uint32_t bw = (uint32_t)w, bh = (uint32_t)h;
    if (tiled) {
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &bw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &bh);
    } else {
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &bh);
        if (bh == 0 || bh > (uint32_t)h) bh = (uint32_t)h;
    }
    if (bw == 0 || bh == 0) {
        nli_seterr("%s: corrupt TIFF: zero tile size", name);
        return -1;
    }
    uint32_t nblk = tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
    uint32_t x = 0, y = 0;
    for (uint32_t i = 0; i < nblk; i++) {
        uint32_t x1 = x + bw > (uint32_t)w ? (uint32_t)w : x + bw, y1 = y + bh > (uint32_t)h ? (uint32_t)h : y + bh;
        uint64_t stride = ((uint64_t)(x + bw > (uint32_t)w ? bw : x1 - x) * bpp_bits + 7) / 8;
        int oerr = 0;
        uint64_t off = TIFFGetStrileOffsetWithErr(tif, i, &oerr);
        if (oerr) {
            nli_seterr("%s: corrupt TIFF: cannot read the strip or tile offsets", name);
            return -1;
        }
        for (uint32_t yy = y; yy < y1; yy++) {
            uint64_t at = off + (uint64_t)(yy - y) * stride;
            uint64_t need = ((uint64_t)(x1 - x) * bpp_bits + 7) / 8;
            if (at > m->len || need > m->len - at || stride > m->len - at) {
                nli_seterr("%s: image file is truncated (TIFF data at offset %llu past the end of the file)", name,
                           (unsigned long long)at);
                return -1;
            }
            if (!planar) unpack_row(f, m->p + at, rgb + ((size_t)yy * w + x) * 3, (int)(x1 - x));
            else if (layer < 3)
                for (uint32_t k = 0; k < x1 - x; k++) rgb[((size_t)yy * w + x + k) * 3 + layer] = m->p[at + k];
        }
        x += bw;
        if (x >= (uint32_t)w) {
            x = 0;
            y += bh;
            if (y >= (uint32_t)h) {
                if (!planar || ++layer >= f->spp) break;
                y = 0;
            }
        }
    }
    if (y < (uint32_t)h || (planar && layer < f->spp)) {
        nli_seterr("%s: image file is truncated (TIFF has fewer strips or tiles than rows)", name);
        return -1;
    }
    return 0;
}

/* TiffDecode.c's _decodeStrip / _decodeTile. */
static int read_libtiff(TIFF *tif, const tmem *m, const char *name, const tfmt *f, int w, int h, uint8_t *rgb) {
    uint64_t bits = (uint64_t)f->spp * f->bps;
    uint8_t *buf = NULL;
    int rc = -1;
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        tmsize_t tsz = TIFFTileSize(tif), rowb = TIFFTileRowSize(tif);
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        if (tsz <= 0 || rowb <= 0 || rowb > tsz || tw == 0 || th == 0 ||
            (uint64_t)tsz > ((uint64_t)th * bits + 7) / 8 * tw || (uint64_t)rowb < ((uint64_t)tw * bits + 7) / 8) {
            nli_seterr("%s: corrupt TIFF: inconsistent tile size", name);
            return -1;
        }
        if (!(buf = nli_malloc((size_t)tsz))) goto out;
        for (uint32_t y = 0; y < (uint32_t)h; y += th)
            for (uint32_t x = 0; x < (uint32_t)w; x += tw) {
                if (TIFFReadTile(tif, buf, x, y, 0, 0) == -1) {
                    nli_seterr("%s: corrupt TIFF: tile at %ux%u: %s", name, x, y, m->msg[0] ? m->msg : "read error");
                    goto out;
                }
                uint32_t cw = x + tw > (uint32_t)w ? (uint32_t)w - x : tw, ch = y + th > (uint32_t)h ? (uint32_t)h - y : th;
                for (uint32_t r = 0; r < ch; r++)
                    unpack_row(f, buf + (size_t)r * (size_t)rowb, rgb + ((size_t)(y + r) * w + x) * 3, (int)cw);
            }
    } else {
        uint32_t rps = 0;
        if (TIFFGetField(tif, TIFFTAG_ROWSPERSTRIP, &rps) != 1 || rps == (uint32_t)-1) rps = (uint32_t)h;
        tmsize_t ssz = TIFFStripSize(tif), rowb = TIFFScanlineSize(tif);
        uint64_t urow = ((uint64_t)w * bits + 7) / 8;
        if (rps == 0 || ssz <= 0 || (uint64_t)ssz > urow * rps || rowb <= 0 || urow > (uint64_t)rowb) {
            nli_seterr("%s: corrupt TIFF: inconsistent strip size", name);
            return -1;
        }
        if (!(buf = nli_malloc((size_t)ssz))) goto out;
        for (uint32_t y = 0; y < (uint32_t)h; y += rps) {
            if (TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, 0), buf, ssz) == -1) {
                nli_seterr("%s: corrupt TIFF: strip at row %u: %s", name, y, m->msg[0] ? m->msg : "read error");
                goto out;
            }
            for (uint32_t r = 0; r < rps && y + r < (uint32_t)h; r++)
                unpack_row(f, buf + (size_t)r * (size_t)rowb, rgb + (size_t)(y + r) * w * 3, w);
            if ((uint64_t)y + rps >= (uint64_t)h) break;
        }
    }
    rc = 0;
out:
    if (rc && !buf) nli_prefixerr("%s", name);
    free(buf);
    return rc;
}

/* TiffDecode.c's _decodeAsRGBA: YCbCr that is not JPEG-compressed. */
static int read_rgba(TIFF *tif, const tmem *m, const char *name, int w, int h, uint8_t *rgb) {
    char emsg[1024] = "";
    TIFFRGBAImage img;
    uint32_t rpb = 0;
    int ok = TIFFIsTiled(tif) ? TIFFGetFieldDefaulted(tif, TIFFTAG_TILELENGTH, &rpb)
                              : TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rpb);
    if (ok != 1 || rpb == (uint32_t)-1 || rpb == 0 || rpb > (uint32_t)h) rpb = (uint32_t)h;
    if (!TIFFRGBAImageOK(tif, emsg) || !TIFFRGBAImageBegin(&img, tif, 0, emsg)) {
        nli_seterr("%s: corrupt TIFF: %s", name, emsg[0] ? emsg : m->msg);
        return -1;
    }
    img.req_orientation = ORIENTATION_TOPLEFT;
    img.col_offset = 0;
    uint32_t *buf = nli_mallocarray((size_t)w * rpb, 4);
    int rc = -1;
    if (!buf) {
        nli_prefixerr("%s", name);
        goto out;
    }
    for (uint32_t y = 0; y < (uint32_t)h; y += rpb) {
        uint32_t n = rpb < (uint32_t)h - y ? rpb : (uint32_t)h - y;
        img.row_offset = (int)y;
        if (!TIFFRGBAImageGet(&img, buf, (uint32_t)w, n)) {
            nli_seterr("%s: corrupt TIFF: rows from %u: %s", name, y, m->msg[0] ? m->msg : "read error");
            goto out;
        }
        for (size_t i = 0; i < (size_t)w * n; i++) {
            uint8_t *o = rgb + ((size_t)y * w + i) * 3;
            o[0] = (uint8_t)TIFFGetR(buf[i]);
            o[1] = (uint8_t)TIFFGetG(buf[i]);
            o[2] = (uint8_t)TIFFGetB(buf[i]);
        }
    }
    rc = 0;
out:
    free(buf);
    TIFFRGBAImageEnd(&img);
    return rc;
}

int nli_image_load_tiff(const uint8_t *data, size_t len, const char *name, nli_image *out) {
    tmem m = {.p = data, .len = len, .pos = 0};
    TIFFOpenOptions *opt = TIFFOpenOptionsAlloc();
    if (!opt) {
        nli_seterr("%s: out of memory opening TIFF", name);
        return -1;
    }
    TIFFOpenOptionsSetMaxSingleMemAlloc(opt, NL_TIFF_MAX_ALLOC);
    TIFFOpenOptionsSetErrorHandlerExtR(opt, t_err, &m);
    TIFFOpenOptionsSetWarningHandlerExtR(opt, t_warn, &m);
    /* "c": no strip chopping, so the raw path sees the file's own strips;
     * "m": no memory mapping (the data is in memory already); "O": each strip's
     * offset and byte count read when first used (Pillow's raw path does
     * not read the byte counts, so broken ones do not stop it). */
    TIFF *tif = TIFFClientOpenExt(name, "rcmO", &m, t_read, t_write, t_seek, t_close, t_size, t_map, t_unmap, opt);
    TIFFOpenOptionsFree(opt);
    if (!tif) {
        nli_seterr("%s: cannot identify image file (corrupt TIFF: %s)", name, m.msg[0] ? m.msg : "unreadable header");
        return -1;
    }
    uint8_t *rgb = NULL;
    uint32_t w = 0, h = 0;
    uint16_t comp = 1, planar = 1, photo = 0;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
    int raw = comp == COMPRESSION_NONE;
    unsigned file_photo = 0;
    if (ifd_tag_in_file(data, len, TIFFTAG_PHOTOMETRIC, &file_photo) && file_photo == PHOTOMETRIC_PALETTE &&
        !ifd_tag_in_file(data, len, TIFFTAG_COLORMAP, NULL)) {
        nli_seterr("%s: cannot identify image file (TIFF palette image whose colour map is missing or past the end)",
                   name);
        goto fail;
    }
    tfmt f;
    if (nli_image_check_dims(name, "TIFF", w, h) != 0 || pick_format(tif, name, raw, ifd_tag_in_file(data, len, TIFFTAG_COLORMAP, NULL), &f) != 0) goto fail;
    int sep = planar == PLANARCONFIG_SEPARATE && f.spp > 1;
    if (sep && !(raw && f.kind == K_RGB && f.bps == 8)) {
        nli_seterr("%s: unsupported TIFF (separate colour planes)", name);
        goto fail;
    }
    if (!raw && !TIFFIsCODECConfigured(comp)) {
        nli_seterr("%s: unsupported TIFF compression %u", name, comp);
        goto fail;
    }
    if (!(rgb = nli_image_alloc_rgb(name, (int)w, (int)h))) goto fail;
    int rc;
    if (raw) rc = read_raw(tif, &m, name, &f, sep, (int)w, (int)h, rgb);
    else if (photo == PHOTOMETRIC_YCBCR && comp != COMPRESSION_JPEG) rc = read_rgba(tif, &m, name, (int)w, (int)h, rgb);
    else {
        if (photo == PHOTOMETRIC_YCBCR) TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        rc = read_libtiff(tif, &m, name, &f, (int)w, (int)h, rgb);
    }
    if (rc != 0) goto fail;
    TIFFClose(tif);
    out->w = (int)w;
    out->h = (int)h;
    out->rgb = rgb;
    return 0;
fail:
    free(rgb);
    TIFFClose(tif);
    return -1;
}
