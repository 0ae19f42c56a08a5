/* image_tiff.c — TIFF as Pillow 13 opens it: Image.open(p).convert('RGB')
 * of the first page (TiffImagePlugin, TiffDecode.c, Unpack.c, Convert.c);
 * still as Pillow 9.4 did for uncompressed YCbCr (refused as truncated;
 * tests/gen/manifest_images_pillow13.py's KEEP_94).
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
 * pixels. 12-bit grey ("I;12") and 16-bit grey with fill order 2 ("I;16R")
 * as "I;16"; 32-bit integers ("I") clipped to 0..255; 32-bit floats ("F")
 * clipped and truncated (NaN 0); CIELab through LittleCMS as Pillow's
 * ImageCms (image_tiff_mode.c). Separate planes are decoded band by band
 * into Pillow's 4-byte pixels with its unpackers (uncompressed: the one of
 * the rawmode's letter for that plane, refused where Pillow has none;
 * libtiff: band k from plane k, 16-bit samples' high byte, associated alpha
 * then undone), then converted as Pillow converts the mode. Big-endian
 * 32-bit samples through libtiff are read, as Pillow reads them, with the
 * file's byte order although libtiff gives them in the machine's. Pillow's
 * directory reader, mode table and unpackers are in image_tiff_dir.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "image_internal.h"
#include "image_tiff.h"
#include "util.h"

/* libtiff allocations for one strip or tile, tags etc. (hostile headers) */
#define NL_TIFF_MAX_ALLOC ((tmsize_t)256 << 20)
/* A tile larger than this and than twice its image's samples is refused (read_libtiff) */
#define NL_TIFF_MAX_TILE ((uint64_t)64 << 20)

uint64_t nli_tiff_whole_strip_max = (uint64_t)16 << 20;

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
/* Mapped, as libtiff maps the file Pillow hands it (TIFFFdOpen, "rC"):
 * strips are then read in place, which changes what a decoder sees of a
 * strip whose byte count is wrong. */
static int t_map(thandle_t h, void **base, toff_t *size) {
    tmem *m = h;
    *base = (void *)m->p;
    *size = m->len;
    return 1;
}
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


/* ------------------------------------------- uncompressed: Pillow's own */

typedef struct {
    uint64_t off;
    uint32_t x0, y0, x1, y1;
    int layer;
    uint64_t stride, idx;
} ttile;

static int tile_cmp(const void *a, const void *b) {
    const ttile *p = a, *q = b;
    if (p->off != q->off) return p->off < q->off ? -1 : 1;
    return p->idx < q->idx ? -1 : p->idx > q->idx; /* stable, as Python's sort */
}

/* Unpack.c's unpacker of one band letter in the image's mode, as Pillow's
 * raw decoder picks it for a plane (rawmode[layer]): 0 with its bits and
 * band, -1 where Pillow has none ("unknown raw mode"). */
static int plane_unpacker(int mode, char c, int *bits, int *band) {
    static const struct {
        int mode;
        const char *letters;
        int bits;
    } tab[] = {{M_1, "1", 1},       {M_L, "L", 8},       {M_P, "P", 8},       {M_I, "I", 32},     {M_F, "F", 32},
               {M_RGB, "RGB", 8},   {M_RGBA, "RGBA", 8}, {M_RGBX, "RGBX", 8}, {M_CMYK, "CMYK", 8}, {M_LAB, "LAB", 8}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) {
        const char *p = tab[i].mode == mode ? strchr(tab[i].letters, c) : NULL;
        if (p && c) {
            *bits = tab[i].bits;
            *band = (int)(p - tab[i].letters);
            return 0;
        }
    }
    return -1;
}

/* TiffImagePlugin._setup's tile list, then ImageFile.load: a single tile in
 * the image's own mode is mapped from the file (map_buffer), otherwise the
 * tiles are sorted by offset, repeats dropped, and each decoded by the raw
 * decoder, which needs every row in the file. Allocates *rgbp (w*h*3) only
 * once the tiles are known to be in the file. */
static int read_raw(const tdir *d, const tsetup *s, const char *name, uint8_t **rgbp) {
    const tent *off = nli_tiff_find(d, 273);
    int tiled = !off;
    if (tiled) off = nli_tiff_find(d, 324);
    if (!off || !nli_tiff_int_type(off->type) || off->type == 1) {
        nli_seterr("%s: corrupt TIFF: unknown data organization (no strip or tile offsets)", name);
        return -1;
    }
    int64_t bw = s->w, bh;
    if (tiled) {
        if (nli_tiff_get1(d, 322, -1, &bw) < 1 || nli_tiff_get1(d, 323, -1, &bh) < 1) {
            nli_seterr("%s: corrupt TIFF: tiles without a tile size", name);
            return -1;
        }
    } else if (nli_tiff_get1(d, 278, s->h, &bh) < 0) {
        nli_seterr("%s: corrupt TIFF: rows per strip of the wrong type", name);
        return -1;
    }
    if (bw > ((int64_t)1 << 32) || bh > ((int64_t)1 << 32)) {
        nli_seterr("%s: corrupt TIFF: strip or tile size out of range", name);
        return -1;
    }
    int planar = s->planar == 2;
    uint64_t n = off->count;
    ttile *t = nli_mallocarray(n ? (size_t)n : 1, sizeof *t);
    uint8_t *px = NULL, *rgb = NULL;
    if (!t) {
        nli_prefixerr("%s", name);
        return -1;
    }
    int64_t x = 0, y = 0;
    int layer = 0, rc = -1;
    for (uint64_t i = 0; i < n; i++) {
        double stride = x + bw > s->w ? (double)bw * (double)s->bps_sum / 8 : 0;
        if (planar) stride /= s->bps_count;
        int64_t x1 = x + bw < s->w ? x + bw : s->w, y1 = y + bh < s->h ? y + bh : s->h;
        if (bw <= 0 || bh <= 0 || x1 <= x || y1 <= y || x < 0 || y < 0) x1 = x, y1 = y; /* refused when decoded */
        t[i] = (ttile){(uint64_t)nli_tiff_val(d, off, i), (uint32_t)x, (uint32_t)y, (uint32_t)x1, (uint32_t)y1, layer,
                       (uint64_t)stride, i};
        x += bw;
        if (x >= s->w) {
            x = 0;
            y += bh;
            if (y >= s->h) {
                y = 0;
                layer++;
            }
        }
    }
    size_t len = d->len;
    int w = (int)s->w;
    /* ImageFile.load's map_buffer: one tile, rawmode == mode */
    if (n == 1 && s->rawmode_is_mode && !planar) {
        uint64_t o = t[0].off, stride = t[0].stride;
        int pxb = s->mode == M_L || s->mode == M_P ? 1 : s->mode == M_I16 ? 2 : 4;
        if (o <= len && stride <= len && (uint64_t)s->h * stride <= len - o) { /* else: decoded below */
            if (!stride) stride = (uint64_t)w * pxb;
            if (o > len || (uint64_t)s->h * stride > len - o) {
                nli_seterr("%s: image file is truncated (TIFF image data past the end of the file)", name);
                goto out;
            }
            if (!(rgb = nli_image_alloc_rgb(name, w, (int)s->h))) goto out;
            for (int64_t r = 0; r < s->h; r++)
                nli_tiff_unpack_row(&s->f, d->data + o + r * stride, rgb + (size_t)r * w * 3, w);
            rc = 0;
            goto out;
        }
    }
    qsort(t, (size_t)n, sizeof *t, tile_cmp);
    /* Two passes over the tiles: the first only checks them (each one's
     * bytes within the file, ...), so a small file declaring a huge image
     * is refused before its pixels are allocated and filled; the second
     * decodes. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!(rgb = nli_image_alloc_rgb(name, w, (int)s->h))) goto out;
            /* separate planes: each band decoded into Pillow's image, 4 bytes a
             * pixel, converted at the end */
            if (planar && !(px = nli_calloc((size_t)s->w * (size_t)s->h, 4))) {
                nli_prefixerr("%s", name);
                goto out;
            }
            uint8_t z[3];
            nli_tiff_zero_pixel(s, z);
            for (size_t i = 0; i < (size_t)s->w * (size_t)s->h; i++) memcpy(rgb + 3 * i, z, 3);
        }
        for (uint64_t i = 0; i < n; i++) {
            const ttile *a = &t[i], *b = i + 1 < n ? &t[i + 1] : NULL;
            /* consecutive tiles that differ only by offset: the last one counts
             * (the rawmode differs between planes only) */
            if (b && a->x0 == b->x0 && a->y0 == b->y0 && a->x1 == b->x1 && a->y1 == b->y1 && a->stride == b->stride &&
                (!planar || a->layer == b->layer))
                continue;
            uint32_t tw = a->x1 - a->x0, th = a->y1 - a->y0;
            if (!tw || !th) { /* the decoder's setimage refuses it */
                nli_seterr("%s: corrupt TIFF: strip or tile of no size", name);
                goto out;
            }
            int bits = s->rawbits, band = 0;
            if (planar) {
                if (a->layer >= (int)strlen(s->rawchars)) {
                    nli_seterr("%s: corrupt TIFF: more planes than bands", name);
                    goto out;
                }
                if (plane_unpacker(s->mode, s->rawchars[a->layer], &bits, &band) != 0) {
                    nli_seterr("%s: unsupported TIFF (separate planes: unknown raw mode '%c' for this image mode)",
                               name, s->rawchars[a->layer]);
                    goto out;
                }
            }
            uint64_t bytes = ((uint64_t)tw * bits + 7) / 8, stride = a->stride ? a->stride : bytes;
            if (stride < bytes) {
                nli_seterr("%s: corrupt TIFF: strip or tile row longer than its stride", name);
                goto out;
            }
            uint64_t need = th > 1 && stride > len ? UINT64_MAX : (uint64_t)(th - 1) * stride + bytes;
            if (a->off > len || need > len - a->off) {
                nli_seterr("%s: image file is truncated (TIFF strip or tile at offset %llu)", name,
                           (unsigned long long)a->off);
                goto out;
            }
            for (uint32_t r = 0; pass == 1 && r < th; r++) {
                const uint8_t *in = d->data + a->off + (uint64_t)r * stride;
                if (!planar) {
                    nli_tiff_unpack_row(&s->f, in, rgb + ((size_t)(a->y0 + r) * w + a->x0) * 3, (int)tw);
                    continue;
                }
                uint8_t *o = px + ((size_t)(a->y0 + r) * w + a->x0) * 4;
                for (uint32_t k = 0; k < tw; k++, o += 4) {
                    if (bits == 1) o[0] = in[k / 8] >> (7 - k % 8) & 1 ? 255 : 0; /* unpack1 */
                    else if (bits == 32) memcpy(o, in + 4 * (size_t)k, 4); /* copy4 */
                    else o[band] = in[k];
                }
            }
        }
    }
    if (planar) nli_tiff_px4_to_rgb(s, px, rgb, (size_t)s->w * (size_t)s->h);
    rc = 0;
out:
    if (rc == 0) *rgbp = rgb;
    else free(rgb);
    free(px);
    free(t);
    return rc;
}

/* --------------------------------------------- compressed: through libtiff */

/* TiffDecode.c's _decodeStrip / _decodeTile, with _pickUnpackers: separate
 * planes (8 or 16 bits) land plane by plane in the first bands. */
static int read_libtiff(TIFF *tif, const tmem *m, const char *name, const tsetup *s, uint8_t *rgb) {
    const tfmt *f = &s->f;
    int w = (int)s->w, h = (int)s->h;
    uint16_t pc = PLANARCONFIG_CONTIG;
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &pc);
    int bands = s->mode == M_RGB || s->mode == M_LAB ? 3 : s->mode == M_LA || s->mode == M_PA ? 2 : s->mode == M_RGBA || s->mode == M_RGBX || s->mode == M_CMYK ? 4 : 1;
    int planes = pc == PLANARCONFIG_SEPARATE && bands > 1 ? bands : 1;
    uint16_t pbps = 8;
    if (planes > 1) {
        TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &pbps);
        if (pbps != 8 && pbps != 16) {
            nli_seterr("%s: corrupt TIFF: %u bits per sample on separate planes", name, pbps);
            return -1;
        }
    }
    uint64_t bits = (uint64_t)f->spp * f->bps; /* the rawmode's bits */
    /* a plane holds one sample (Pillow 13 reads the image's bands, so an RGB
     * image's planes past the third, e.g. RGBX's X, are not read) */
    uint64_t pbits = planes > 1 ? (uint64_t)f->bps : bits;
    uint8_t *buf = NULL, *px = NULL;
    int rc = -1;
    /* separate planes: plane k into band k of Pillow's image (4 bytes a
     * pixel; 16-bit samples: the high byte), converted at the end */
    if (planes > 1 && !(px = nli_calloc((size_t)w * (size_t)h, 4))) goto out;
#define EMIT(src, y, x, n, plane)                                                              \
    do {                                                                                       \
        if (planes == 1) nli_tiff_unpack_row(f, (src), rgb + ((size_t)(y) * w + (x)) * 3, (int)(n)); \
        else if ((plane) < 4)                                                                  \
            for (uint32_t k_ = 0; k_ < (uint32_t)(n); k_++)                                    \
                px[((size_t)(y) * w + (x) + k_) * 4 + (plane)] = pbps == 16 ? (src)[2 * k_ + 1] : (src)[k_]; \
    } while (0)
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        tmsize_t tsz = TIFFTileSize(tif), rowb = TIFFTileRowSize(tif);
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        if (tsz <= 0 || rowb <= 0 || rowb > tsz || tw == 0 || th == 0 ||
            (uint64_t)tsz > ((uint64_t)th * pbits + 7) / 8 * tw) {
            nli_seterr("%s: corrupt TIFF: inconsistent tile size", name);
            return -1;
        }
        /* A tile is decoded whole (as Pillow does), and libtiff zero-fills
         * what a corrupt tile leaves: a 222-byte file declaring one
         * 60000x60000 tile for a 16x16 image touched 10 GB. A tile larger
         * than NL_TIFF_MAX_TILE and than twice the image's own samples
         * (one plane's, at its bits per pixel: 16-bit RGBA in one tile is
         * 8 bytes a pixel) holds mostly nothing (real files tile by
         * 256..4096, or the whole image in one tile). */
        if ((uint64_t)tsz > NL_TIFF_MAX_TILE && (uint64_t)tsz > 2 * (((uint64_t)w * pbits + 7) / 8) * (uint64_t)h) {
            nli_seterr("%s: TIFF tile of %ux%u (%lld bytes) is far larger than the %dx%d image", name, tw, th,
                       (long long)tsz, w, h);
            return -1;
        }
        if (!(buf = nli_calloc((size_t)tsz, 1))) goto out;
        for (uint32_t y = 0; y < (uint32_t)h; y += th)
            for (int pl = 0; pl < planes; pl++)
                for (uint32_t x = 0; x < (uint32_t)w; x += tw) {
                    if (TIFFReadTile(tif, buf, x, y, 0, (uint16_t)pl) == -1) {
                        nli_seterr("%s: corrupt TIFF: tile at %ux%u: %s", name, x, y, m->msg[0] ? m->msg : "read error");
                        goto out;
                    }
                    uint32_t cw = x + tw > (uint32_t)w ? (uint32_t)w - x : tw;
                    uint32_t ch = y + th > (uint32_t)h ? (uint32_t)h - y : th;
                    if ((uint64_t)rowb * ch > (uint64_t)tsz || ((uint64_t)cw * pbits + 7) / 8 > (uint64_t)rowb) {
                        nli_seterr("%s: corrupt TIFF: inconsistent tile size", name);
                        goto out;
                    }
                    for (uint32_t r = 0; r < ch; r++) EMIT(buf + (size_t)r * (size_t)rowb, y + r, x, cw, pl);
                }
    } else {
        uint32_t rps = 0;
        if (TIFFGetField(tif, TIFFTAG_ROWSPERSTRIP, &rps) != 1 || rps == (uint32_t)-1) rps = (uint32_t)h;
        tmsize_t ssz = TIFFStripSize(tif), rowb = TIFFScanlineSize(tif);
        uint64_t urow = ((uint64_t)w * pbits + 7) / 8;
        if (rps == 0 || ssz <= 0 || (uint64_t)ssz > urow * rps || rowb <= 0 || urow > (uint64_t)rowb) {
            nli_seterr("%s: corrupt TIFF: inconsistent strip size", name);
            return -1;
        }
        /* A strip larger than nli_tiff_whole_strip_max is read row by row
         * (the same bytes from a whole stream): a 222-byte deflate file
         * declaring one 13000x13000 strip touched 500 MB, libtiff
         * zero-filling the strip buffer after the first bad byte; now it
         * fails at its first row. Smaller strips are read whole, as Pillow
         * reads them, so that a damaged stream gives Pillow's pixels (a fax
         * decoder that "does not error on badly-terminated strips" stops a
         * whole strip's decoding there, but goes on with the next row when
         * read by rows). Each plane's rows of a strip are read in order
         * (going back would decode the strip again). */
        int by_rows = (uint64_t)ssz > nli_tiff_whole_strip_max;
        if (!(buf = nli_calloc(by_rows ? (size_t)rowb : (size_t)ssz, 1))) goto out;
        for (uint32_t y = 0; y < (uint32_t)h; y += rps) {
            for (int pl = 0; pl < planes; pl++) {
                if (!by_rows && TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, (uint16_t)pl), buf, ssz) == -1) {
                    nli_seterr("%s: corrupt TIFF: strip at row %u: %s", name, y, m->msg[0] ? m->msg : "read error");
                    goto out;
                }
                for (uint32_t r = 0; r < rps && y + r < (uint32_t)h; r++) {
                    if (by_rows && TIFFReadScanline(tif, buf, y + r, (uint16_t)pl) == -1) {
                        nli_seterr("%s: corrupt TIFF: strip at row %u: row %u: %s", name, y, y + r,
                                   m->msg[0] ? m->msg : "read error");
                        goto out;
                    }
                    if (!by_rows && (uint64_t)(r + 1) * (uint64_t)rowb > (uint64_t)ssz) break;
                    EMIT(buf + (by_rows ? 0 : (size_t)r * (size_t)rowb), y + r, 0, w, pl);
                }
            }
            if ((uint64_t)y + rps >= (uint64_t)h) break;
        }
    }
#undef EMIT
    if (planes > 1) {
        /* TiffDecode.c: RGBA from separate planes whose first extra sample
         * is associated alpha (or unspecified) is un-premultiplied */
        uint16_t nex = 0, *info = NULL;
        if (planes > 3 && s->mode == M_RGBA && TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &nex, &info) == 1 &&
            nex >= 1 && info && (info[0] == EXTRASAMPLE_UNSPECIFIED || info[0] == EXTRASAMPLE_ASSOCALPHA))
            nli_tiff_unpremultiply(px, (size_t)w * (size_t)h);
        nli_tiff_px4_to_rgb(s, px, rgb, (size_t)w * (size_t)h);
    }
    rc = 0;
out:
    if (rc && !buf) nli_prefixerr("%s", name);
    free(px);
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
    tdir d = {.data = data, .len = len};
    tsetup s = {0};
    uint8_t *rgb = NULL;
    TIFF *tif = NULL;
    tmem m = {.p = data, .len = len, .pos = 0};
    if (nli_tiff_read_dir(&d, name) != 0) return -1;
    if (nli_tiff_setup(&d, name, &s) != 0 || nli_image_check_dims(name, "TIFF", s.w < 0 ? 0 : (uint64_t)s.w,
                                                         s.h < 0 ? 0 : (uint64_t)s.h) != 0)
        goto fail;
    if (s.mode == M_LAB && nli_tiff_lab_begin(&s.f, name) != 0) goto fail;
    if (s.comp == COMPRESSION_NONE) {
        /* allocates rgb once the strips or tiles are known to be in the file */
        if (read_raw(&d, &s, name, &rgb) != 0) goto fail;
    } else {
        if (!(rgb = nli_image_alloc_rgb(name, (int)s.w, (int)s.h))) goto fail;
        TIFFOpenOptions *opt = TIFFOpenOptionsAlloc();
        if (!opt) {
            nli_seterr("%s: out of memory opening TIFF", name);
            goto fail;
        }
        TIFFOpenOptionsSetMaxSingleMemAlloc(opt, NL_TIFF_MAX_ALLOC);
        TIFFOpenOptionsSetErrorHandlerExtR(opt, t_err, &m);
        TIFFOpenOptionsSetWarningHandlerExtR(opt, t_warn, &m);
        /* "rC", as Pillow's libtiff decoder opens it */
        tif = TIFFClientOpenExt(name, "rC", &m, t_read, t_write, t_seek, t_close, t_size, t_map, t_unmap, opt);
        TIFFOpenOptionsFree(opt);
        if (!tif) {
            nli_seterr("%s: corrupt TIFF: %s", name, m.msg[0] ? m.msg : "libtiff cannot read it");
            goto fail;
        }
        uint32_t w = 0, h = 0;
        uint16_t comp = 0, photo = 0, pc = PLANARCONFIG_CONTIG;
        TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
        TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
        TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
        TIFFGetField(tif, TIFFTAG_COMPRESSION, &comp);
        TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &pc);
        if ((int64_t)w != s.w || (int64_t)h != s.h) {
            nli_seterr("%s: corrupt TIFF: libtiff reads a size of %ux%u", name, w, h);
            goto fail;
        }
        /* libtiff gives 16-bit samples in the machine's order and has
         * already reversed the bits of fill order 2; except for signed
         * 16-bit, Pillow 13 turns only rawmodes ending in ";16B"/";16L" into
         * native order, so "I;16BS" reads libtiff's machine-order samples
         * as big-endian (9.4 turned it into "I;16NS") */
        if (s.f.bps == 16 && s.f.kind != K_GREY16S) s.f.be = 0;
        s.f.bitrev = 0;
        int rc;
        if (photo == PHOTOMETRIC_YCBCR && !(comp == COMPRESSION_JPEG && pc == PLANARCONFIG_CONTIG)) {
            rc = read_rgba(tif, &m, name, (int)s.w, (int)s.h, rgb);
        } else {
            if (photo == PHOTOMETRIC_YCBCR) TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
            rc = read_libtiff(tif, &m, name, &s, rgb);
        }
        if (rc != 0) goto fail;
        TIFFClose(tif);
    }
    nli_tiff_lab_end(&s.f);
    out->w = (int)s.w;
    out->h = (int)s.h;
    out->rgb = rgb;
    return 0;
fail:
    if (tif) TIFFClose(tif);
    nli_tiff_lab_end(&s.f);
    free(rgb);
    return -1;
}
