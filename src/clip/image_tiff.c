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
    case K_RGB: /* "RGB;R": each byte's bits reversed */
        for (x = 0; x < n; x++)
            for (c = 0; c < 3; c++) {
                const uint8_t *s = in + ((size_t)x * f->spp + c) * (f->bps / 8);
                out[3 * x + c] = f->bps == 16 ? (uint8_t)(u16s(f, s) >> 8) : f->bitrev ? rev8(s[0]) : s[0];
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
    case K_CMYK: /* 16-bit ("CMYK;16L"): the high bytes */
        if (f->bps == 8) nli_image_cmyk_row(in, f->spp, 0, out, n);
        else
            for (x = 0; x < n; x++) {
                uint8_t k[4];
                for (c = 0; c < 4; c++) k[c] = (uint8_t)(u16s(f, in + 8 * (size_t)x + 2 * c) >> 8);
                nli_image_cmyk_row(k, 4, 0, out + 3 * x, 1);
            }
        break;
    case K_RGBX_YCC:
        for (x = 0; x < n; x++) memcpy(out + 3 * x, in + 4 * x, 3);
        break;
    }
}

/* ------------------------------------------------ Pillow's directory reader */

/* One directory entry as ImageFileDirectory_v2.load keeps it. */
typedef struct {
    uint16_t tag, type;
    uint64_t count;
    const uint8_t *p; /* count values of the type, in the file's byte order */
} tent;

typedef struct {
    const uint8_t *data;
    size_t len;
    int be, big;
    tent *e;
    size_t n;
} tdir;

static uint64_t rdu(const tdir *d, const uint8_t *p, int size) {
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v = d->be ? v << 8 | p[i] : v | (uint64_t)p[i] << (8 * i);
    return v;
}

/* Bytes per value of the types Pillow 9.4 loads (others are skipped). */
static int type_size(unsigned t) {
    static const uint8_t sz[17] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8};
    return t < 17 ? sz[t] : 0;
}

/* ImageFileDirectory_v2.load at the first directory: entries are read until
 * the count says stop or the file ends; an entry of an unknown type or of no
 * data is skipped; an entry whose data lies (partly) past the end of the
 * file stops the reading there (_safe_read raises, load returns), keeping
 * the entries before it. 0, or -1 when the header is not a TIFF header. */
static int read_dir(tdir *d, const char *name) {
    const uint8_t *p = d->data;
    size_t len = d->len;
    d->be = p[0] == 'M';
    d->big = p[2] == 43; /* as Pillow tests it: "MM\0+" is read as classic */
    size_t hdr = d->big ? 16 : 8;
    if (len < hdr) {
        nli_seterr("%s: cannot identify image file (TIFF header cut)", name);
        return -1;
    }
    uint64_t at = d->big ? rdu(d, p + 8, 8) : rdu(d, p + 4, 4);
    if (at == 0) {
        nli_seterr("%s: cannot identify image file (TIFF without a directory)", name);
        return -1;
    }
    size_t esz = d->big ? 20 : 12, vsz = d->big ? 8 : 4;
    if (at > len || len - at < (d->big ? 8 : 2)) return 0; /* no entries */
    uint64_t count = rdu(d, p + at, d->big ? 8 : 2);
    at += d->big ? 8 : 2;
    uint64_t fit = (len - at) / esz;
    if (count > fit) count = fit;
    d->e = nli_mallocarray(count ? (size_t)count : 1, sizeof *d->e);
    if (!d->e) {
        nli_prefixerr("%s", name);
        return -1;
    }
    for (uint64_t i = 0; i < count; i++, at += esz) {
        const uint8_t *q = p + at;
        tent e = {(uint16_t)rdu(d, q, 2), (uint16_t)rdu(d, q + 2, 2), rdu(d, q + 4, d->big ? 8 : 4), q + 4 + vsz};
        int ts = type_size(e.type);
        if (!ts) continue;
        if (e.count > (uint64_t)len) break; /* its data cannot be in the file */
        uint64_t size = e.count * (uint64_t)ts;
        if (size == 0) continue;
        if (size > vsz) {
            uint64_t off = rdu(d, e.p, (int)vsz);
            if (off > len || size > len - off) break;
            e.p = p + off;
        }
        size_t k; /* a repeated tag replaces the earlier one, as in a dict */
        for (k = 0; k < d->n && d->e[k].tag != e.tag; k++) {}
        d->e[k] = e;
        if (k == d->n) d->n++;
    }
    return 0;
}

static const tent *find(const tdir *d, unsigned tag) {
    for (size_t k = 0; k < d->n; k++)
        if (d->e[k].tag == tag) return &d->e[k];
    return NULL;
}

static int int_type(unsigned t) { return t == 1 || t == 3 || t == 4 || t == 6 || t == 8 || t == 9 || t == 13 || t == 16; }

/* Value i of an integer entry (signed types sign-extended). */
static int64_t val(const tdir *d, const tent *e, uint64_t i) {
    int ts = type_size(e->type);
    uint64_t v = rdu(d, e->p + i * ts, ts);
    if (e->type == 6) return (int8_t)v;
    if (e->type == 8) return (int16_t)v;
    if (e->type == 9) return (int32_t)v;
    return (int64_t)v;
}

/* A tag Pillow reads as one number (TiffTags length 1): 1 found, 0 absent
 * (*v = dflt), -1 present but not an integer (Pillow fails on it). */
static int get1(const tdir *d, unsigned tag, int64_t dflt, int64_t *v) {
    const tent *e = find(d, tag);
    *v = dflt;
    if (!e) return 0;
    if (!int_type(e->type)) return -1;
    *v = val(d, e, 0);
    return 1;
}

/* ------------------------------------------------------ Pillow's _setup */

enum { M_1, M_L, M_P, M_I16, M_I, M_LA, M_PA, M_RGB, M_RGBA, M_RGBX, M_CMYK };

typedef struct {
    tfmt f;
    int mode;
    int rawmode_is_mode; /* Pillow may map the file instead of decoding */
    int rawbits;         /* bits per pixel of the rawmode */
    const char *rawchars; /* the rawmode's letters, for separate planes */
    int64_t w, h, comp, planar, photo;
    int bps_count;
    uint64_t bps_sum;
} tsetup;

static int unknown_mode(const char *name, int64_t photo, int64_t spp, int64_t bps) {
    nli_seterr("%s: unsupported TIFF (unknown pixel mode: photometric %lld, %lld samples of %lld bits)", name,
               (long long)photo, (long long)spp, (long long)bps);
    return -1;
}

/* TiffImagePlugin._setup up to the choice of mode and rawmode (OPEN_INFO):
 * only the keys we decode; others are refused, as Pillow refuses the keys it
 * does not know. */
static int setup(const tdir *d, const char *name, tsetup *s) {
    memset(s, 0, sizeof *s);
    int64_t fill, spp;
    if (find(d, 0xBC01)) {
        nli_seterr("%s: unsupported TIFF (Windows Media Photo)", name);
        return -1;
    }
    if (get1(d, 259, 1, &s->comp) < 0 || get1(d, 284, 1, &s->planar) < 0 || get1(d, 262, 0, &s->photo) < 0 ||
        get1(d, 266, 1, &fill) < 0 || get1(d, 256, -1, &s->w) < 1 || get1(d, 257, -1, &s->h) < 1) {
        nli_seterr("%s: cannot identify image file (TIFF without a usable size, or a tag of the wrong type)", name);
        return -1;
    }
    static const int comps[] = {1, 2, 3, 4, 5, 6, 7, 8, 32771, 32773, 32809, 32946, 34676, 34677, 34925, 50000, 50001};
    int known = 0;
    for (size_t i = 0; i < sizeof comps / sizeof *comps; i++) known |= comps[i] == s->comp;
    if (!known) {
        nli_seterr("%s: unsupported TIFF compression %lld", name, (long long)s->comp);
        return -1;
    }
    if (s->comp == 6) s->photo = 6; /* old-style JPEG: YCbCr */
    /* sample format: one value for all samples (Pillow collapses (1,1,1)) */
    const tent *sf = find(d, 339), *bp = find(d, 258), *ex = find(d, 338);
    if ((sf && (!int_type(sf->type) || sf->type == 1)) || (bp && (!int_type(bp->type) || bp->type == 1)) ||
        (ex && (!int_type(ex->type) || ex->type == 1))) {
        nli_seterr("%s: cannot identify image file (TIFF sample tags of the wrong type)", name);
        return -1;
    }
    int64_t sfmt = 1;
    if (sf) {
        sfmt = val(d, sf, 0);
        int all1 = 1;
        for (uint64_t i = 0; i < sf->count; i++) all1 &= val(d, sf, i) == 1;
        if (sf->count > 1 && !all1) return unknown_mode(name, s->photo, 0, 0);
    }
    uint64_t nextra = ex ? ex->count : 0;
    if (nextra > 6) return unknown_mode(name, s->photo, 0, 0);
    int extra[6] = {0};
    for (uint64_t i = 0; i < nextra; i++) extra[i] = (int)val(d, ex, i);
    s->bps_count = (int)(s->photo == 2 || s->photo == 6 || s->photo == 8 ? 3 : s->photo == 5 ? 4 : 1) + (int)nextra;
    if (get1(d, 277, s->comp == 6 && (s->photo == 2 || s->photo == 6) ? 3 : 1, &spp) < 0) spp = -1;
    if (spp > 6 || spp < 1) {
        nli_seterr("%s: corrupt TIFF: invalid value for samples per pixel", name);
        return -1;
    }
    /* bits per sample: one value per sample; one value is repeated */
    uint64_t nb = bp ? bp->count : 1;
    int64_t b0 = bp ? val(d, bp, 0) : 1;
    for (uint64_t i = 1; i < nb && i < (uint64_t)spp; i++)
        if (val(d, bp, i) != b0) return unknown_mode(name, s->photo, spp, -1);
    if ((uint64_t)spp > nb && nb != 1) {
        nli_seterr("%s: corrupt TIFF: unknown data organization (bits per sample)", name);
        return -1;
    }
    s->bps_sum = (uint64_t)b0 * (uint64_t)spp;
    int be = d->be, bps = (int)b0;
    tfmt *f = &s->f;
    f->spp = (int)spp;
    f->bps = bps;
    f->be = be;
    f->bitrev = fill == 2;
    int e0 = nextra ? extra[0] : -1, rest0 = 1;
    for (uint64_t i = 1; i < nextra; i++) rest0 &= extra[i] == 0;
    s->rawbits = bps * (int)spp;
    s->rawchars = "";
    int ph = (int)s->photo;
    if (fill != 1 && fill != 2) return unknown_mode(name, ph, spp, bps);
    if (sfmt == 2) {
        if (!(ph == 1 && spp == 1 && nextra == 0 && bps == 16 && fill == 1)) return unknown_mode(name, ph, spp, bps);
        f->kind = K_GREY16S;
        s->mode = M_I;
        return 0;
    }
    if (sfmt != 1) return unknown_mode(name, ph, spp, bps);
    if ((ph == 0 || ph == 1) && spp == 1 && nextra == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8)) {
        f->kind = bps == 1 ? K_BILEVEL : K_GREY;
        f->invert = ph == 0;
        s->mode = bps == 1 ? M_1 : M_L;
        s->rawmode_is_mode = bps == 8 && ph == 1 && fill == 1;
        return 0;
    }
    if ((ph == 0 || ph == 1) && spp == 1 && nextra == 0 && bps == 16 && fill == 1 && (!be || ph == 1)) {
        f->kind = K_GREY16;
        s->mode = M_I16;
        s->rawmode_is_mode = 1;
        return 0;
    }
    if (ph == 1 && spp == 2 && bps == 8 && nextra == 1 && e0 == 2 && fill == 1) {
        f->kind = K_GREY;
        s->mode = M_LA;
        s->rawchars = "LA";
        return 0;
    }
    if (ph == 2 && fill == 1 && (bps == 8 || bps == 16) && spp == 3 + (int)nextra + (nextra == 0 && spp == 4) &&
        rest0 && (e0 <= 2 || (e0 == 999 && nextra == 1 && bps == 8)) && (bps == 8 || spp <= 4)) {
        f->kind = e0 == 1 ? K_RGBA_PRE : K_RGB;
        s->mode = spp == 3 ? M_RGB : e0 == 0 ? M_RGBX : M_RGBA;
        s->rawmode_is_mode = bps == 8 && spp == 4 && e0 != 1;
        s->rawchars = spp == 3 ? "RGB" : e0 == 0 ? "RGBX" : e0 == 1 ? "RGBa" : "RGBA";
        return 0;
    }
    if (ph == 2 && fill == 2 && bps == 8 && spp == 3 && nextra == 0) { /* "RGB;R" */
        f->kind = K_RGB;
        s->mode = M_RGB;
        return 0;
    }
    if (ph == 3 && spp == 1 && nextra == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8)) {
        f->kind = K_PAL;
        s->mode = M_P;
        s->rawmode_is_mode = bps == 8 && fill == 1;
    } else if (ph == 3 && spp == 2 && bps == 8 && nextra == 1 && e0 == 2 && fill == 1) {
        f->kind = K_PAL;
        s->mode = M_PA;
    } else if (ph == 5 && fill == 1 && ((bps == 8 && spp == 4 + (int)nextra && (nextra == 0 || (e0 == 0 && rest0))) ||
                                        (bps == 16 && !be && spp == 4 && nextra == 0))) {
        f->kind = K_CMYK;
        s->mode = M_CMYK;
        s->rawmode_is_mode = bps == 8 && spp == 4;
        return 0;
    } else if (ph == 6 && spp == 3 && bps == 8 && nextra == 0 && fill == 1) {
        f->kind = s->comp == 1 ? K_RGBX_YCC : K_RGB; /* raw: read as "RGBX", 4 bytes a pixel */
        s->mode = M_RGB;
        if (s->comp == 1) s->rawbits = 32;
        return 0;
    } else return unknown_mode(name, ph, spp, bps);
    /* palette: Pillow's palette from the colour map's high bytes */
    const tent *cm = find(d, 320);
    if (!cm || !int_type(cm->type)) {
        nli_seterr("%s: cannot identify image file (TIFF palette image without its colour map)", name);
        return -1;
    }
    uint64_t third = cm->count / 3;
    for (int i = 0; i < 256; i++) f->pal[i][0] = f->pal[i][1] = f->pal[i][2] = 0;
    for (uint64_t i = 0; i < third && i < 256; i++)
        for (int c = 0; c < 3; c++) f->pal[i][c] = (uint8_t)(val(d, cm, c * third + i) >> 8);
    return 0;
}

/* Pillow's image before decoding is all zeros in its mode. */
static void zero_pixel(const tsetup *s, uint8_t rgb[3]) {
    memset(rgb, s->mode == M_CMYK ? 255 : 0, 3);
    if (s->mode == M_P || s->mode == M_PA) memcpy(rgb, s->f.pal[0], 3);
}

/* ------------------------------------------- uncompressed: Pillow's own */

typedef struct {
    uint64_t off;
    uint32_t x0, y0, x1, y1;
    int layer;
    uint64_t stride;
} ttile;

static int tile_cmp(const void *a, const void *b) {
    const ttile *p = a, *q = b;
    if (p->off != q->off) return p->off < q->off ? -1 : 1;
    return p < q ? -1 : p > q; /* stable */
}

/* TiffImagePlugin._setup's tile list, then ImageFile.load: a single tile in
 * the image's own mode is mapped from the file (map_buffer), otherwise the
 * tiles are sorted by offset, repeats dropped, and each decoded by the raw
 * decoder, which needs every row in the file. */
static int read_raw(const tdir *d, const tsetup *s, const char *name, uint8_t *rgb) {
    const tent *off = find(d, 273);
    int tiled = !off;
    if (tiled) off = find(d, 324);
    if (!off || !int_type(off->type) || off->type == 1) {
        nli_seterr("%s: corrupt TIFF: unknown data organization (no strip or tile offsets)", name);
        return -1;
    }
    int64_t bw = s->w, bh;
    if (tiled) {
        if (get1(d, 322, -1, &bw) < 1 || get1(d, 323, -1, &bh) < 1) {
            nli_seterr("%s: corrupt TIFF: tiles without a tile size", name);
            return -1;
        }
    } else if (get1(d, 278, s->h, &bh) < 0) {
        nli_seterr("%s: corrupt TIFF: rows per strip of the wrong type", name);
        return -1;
    }
    int planar = s->planar == 2;
    if (planar && (s->f.bps != 8 || !strchr("RGB RGBX RGBA", s->rawchars[0] ? s->rawchars[0] : '?') ||
                   (s->mode != M_RGB && s->mode != M_RGBA && s->mode != M_RGBX) || strchr(s->rawchars, 'a'))) {
        nli_seterr("%s: unsupported TIFF (separate planes of this kind)", name);
        return -1;
    }
    uint64_t n = off->count;
    ttile *t = nli_mallocarray(n ? (size_t)n : 1, sizeof *t);
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
        t[i] = (ttile){(uint64_t)val(d, off, i), (uint32_t)x, (uint32_t)y, (uint32_t)x1, (uint32_t)y1, layer,
                       (uint64_t)stride};
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
        int px = s->mode == M_L || s->mode == M_P ? 1 : s->mode == M_I16 ? 2 : 4;
        if (!(o + (uint64_t)s->h * stride > len)) {
            if (!stride) stride = (uint64_t)w * px;
            if (o > len || (uint64_t)s->h * stride > len - o) {
                nli_seterr("%s: image file is truncated (TIFF image data past the end of the file)", name);
                goto out;
            }
            for (int64_t r = 0; r < s->h; r++)
                unpack_row(&s->f, d->data + o + r * stride, rgb + (size_t)r * w * 3, w);
            rc = 0;
            goto out;
        }
    }
    uint8_t z[3];
    zero_pixel(s, z);
    for (size_t i = 0; i < (size_t)s->w * (size_t)s->h; i++) memcpy(rgb + 3 * i, z, 3);
    qsort(t, (size_t)n, sizeof *t, tile_cmp);
    for (uint64_t i = 0; i < n; i++) {
        const ttile *a = &t[i], *b = i + 1 < n ? &t[i + 1] : NULL;
        if (b && a->x0 == b->x0 && a->y0 == b->y0 && a->x1 == b->x1 && a->y1 == b->y1 && a->layer == b->layer &&
            a->stride == b->stride && !planar)
            continue; /* consecutive repeats: the last one counts */
        if (b && planar && a->x0 == b->x0 && a->y0 == b->y0 && a->x1 == b->x1 && a->y1 == b->y1 &&
            a->layer == b->layer && a->stride == b->stride)
            continue;
        uint32_t tw = a->x1 - a->x0, th = a->y1 - a->y0;
        if (!tw || !th) { /* the decoder's setimage refuses it */
            nli_seterr("%s: corrupt TIFF: strip or tile of no size", name);
            goto out;
        }
        int bits = planar ? 8 : s->rawbits;
        uint64_t bytes = ((uint64_t)tw * bits + 7) / 8, stride = a->stride ? a->stride : bytes;
        if (stride < bytes) {
            nli_seterr("%s: corrupt TIFF: strip or tile row longer than its stride", name);
            goto out;
        }
        uint64_t need = (uint64_t)(th - 1) * stride + bytes;
        if (a->off > len || need > len - a->off) {
            nli_seterr("%s: image file is truncated (TIFF strip or tile at offset %llu)", name,
                       (unsigned long long)a->off);
            goto out;
        }
        if (planar && a->layer >= (int)strlen(s->rawchars)) {
            nli_seterr("%s: corrupt TIFF: more planes than bands", name);
            goto out;
        }
        for (uint32_t r = 0; r < th; r++) {
            const uint8_t *in = d->data + a->off + (uint64_t)r * stride;
            uint8_t *o = rgb + ((size_t)(a->y0 + r) * w + a->x0) * 3;
            if (!planar) unpack_row(&s->f, in, o, (int)tw);
            else if (a->layer < 3)
                for (uint32_t k = 0; k < tw; k++) o[3 * k + a->layer] = in[k];
        }
    }
    rc = 0;
out:
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
    int bands = s->mode == M_RGB ? 3 : s->mode == M_LA || s->mode == M_PA ? 2 : s->mode == M_RGBA || s->mode == M_RGBX || s->mode == M_CMYK ? 4 : 1;
    int planes = pc == PLANARCONFIG_SEPARATE && bands > 1 ? bands : 1;
    uint16_t pbps = 8;
    if (planes > 1) {
        TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &pbps);
        if (pbps != 8 && pbps != 16) {
            nli_seterr("%s: corrupt TIFF: %u bits per sample on separate planes", name, pbps);
            return -1;
        }
        if (s->mode == M_CMYK || s->f.kind == K_RGBA_PRE || s->mode == M_PA) {
            nli_seterr("%s: unsupported TIFF (separate planes of this kind)", name);
            return -1;
        }
    }
    uint64_t bits = planes > 1 ? pbps : (uint64_t)f->spp * f->bps;
    uint8_t *buf = NULL;
    int rc = -1;
#define EMIT(src, y, x, n, plane)                                                              \
    do {                                                                                       \
        uint8_t *o_ = rgb + ((size_t)(y) * w + (x)) * 3;                                        \
        if (planes == 1) unpack_row(f, (src), o_, (int)(n));                                   \
        else if ((plane) < 3 && !(s->mode == M_LA && (plane) > 0))                             \
            for (uint32_t k_ = 0; k_ < (uint32_t)(n); k_++) {                                  \
                uint8_t v_ = pbps == 16 ? (src)[2 * k_ + 1] : (src)[k_];                       \
                if (s->mode == M_LA) o_[3 * k_] = o_[3 * k_ + 1] = o_[3 * k_ + 2] = v_;        \
                else o_[3 * k_ + (plane)] = v_;                                                \
            }                                                                                  \
    } while (0)
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        tmsize_t tsz = TIFFTileSize(tif), rowb = TIFFTileRowSize(tif);
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        if (tsz <= 0 || rowb <= 0 || rowb > tsz || tw == 0 || th == 0 ||
            (uint64_t)tsz > ((uint64_t)th * bits / planes + 7) / 8 * tw) {
            nli_seterr("%s: corrupt TIFF: inconsistent tile size", name);
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
                    if ((uint64_t)rowb * ch > (uint64_t)tsz || ((uint64_t)cw * bits / planes + 7) / 8 > (uint64_t)rowb) {
                        nli_seterr("%s: corrupt TIFF: inconsistent tile size", name);
                        goto out;
                    }
                    for (uint32_t r = 0; r < ch; r++) EMIT(buf + (size_t)r * (size_t)rowb, y + r, x, cw, pl);
                }
    } else {
        uint32_t rps = 0;
        if (TIFFGetField(tif, TIFFTAG_ROWSPERSTRIP, &rps) != 1 || rps == (uint32_t)-1) rps = (uint32_t)h;
        tmsize_t ssz = TIFFStripSize(tif), rowb = TIFFScanlineSize(tif);
        uint64_t urow = ((uint64_t)w * bits / planes + 7) / 8;
        if (rps == 0 || ssz <= 0 || (uint64_t)ssz > urow * rps || rowb <= 0 || urow > (uint64_t)rowb) {
            nli_seterr("%s: corrupt TIFF: inconsistent strip size", name);
            return -1;
        }
        if (!(buf = nli_calloc((size_t)ssz, 1))) goto out;
        for (uint32_t y = 0; y < (uint32_t)h; y += rps) {
            for (int pl = 0; pl < planes; pl++) {
                if (TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, (uint16_t)pl), buf, ssz) == -1) {
                    nli_seterr("%s: corrupt TIFF: strip at row %u: %s", name, y, m->msg[0] ? m->msg : "read error");
                    goto out;
                }
                for (uint32_t r = 0; r < rps && y + r < (uint32_t)h; r++) {
                    if ((uint64_t)(r + 1) * (uint64_t)rowb > (uint64_t)ssz) break;
                    EMIT(buf + (size_t)r * (size_t)rowb, y + r, 0, w, pl);
                }
            }
            if ((uint64_t)y + rps >= (uint64_t)h) break;
        }
    }
#undef EMIT
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
    tdir d = {.data = data, .len = len};
    tsetup s;
    uint8_t *rgb = NULL;
    TIFF *tif = NULL;
    tmem m = {.p = data, .len = len, .pos = 0};
    if (read_dir(&d, name) != 0) return -1;
    if (setup(&d, name, &s) != 0 || nli_image_check_dims(name, "TIFF", s.w < 0 ? 0 : (uint64_t)s.w,
                                                         s.h < 0 ? 0 : (uint64_t)s.h) != 0)
        goto fail;
    if (!(rgb = nli_image_alloc_rgb(name, (int)s.w, (int)s.h))) goto fail;
    if (s.comp == COMPRESSION_NONE) {
        if (read_raw(&d, &s, name, rgb) != 0) goto fail;
    } else {
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
         * already reversed the bits of fill order 2 */
        s.f.be = 0;
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
    free(d.e);
    out->w = (int)s.w;
    out->h = (int)s.h;
    out->rgb = rgb;
    return 0;
fail:
    if (tif) TIFFClose(tif);
    free(d.e);
    free(rgb);
    return -1;
}
