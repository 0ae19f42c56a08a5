/* image_tiff_dir.c — the parts of Pillow's TIFF reader (13; 9.4 where
 * image_tiff.c says so) that are Pillow's own: its directory reader
 * (ImageFileDirectory_v2.load), the choice of mode and rawmode
 * (TiffImagePlugin._setup, OPEN_INFO) and the unpackers and conversions to
 * RGB (Unpack.c, Convert.c) for the modes we read. image_tiff.c decodes
 * with them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"
#include "image_tiff.h"
#include "util.h"

static int u16s(const tfmt *f, const uint8_t *p) { return f->be ? p[0] << 8 | p[1] : p[1] << 8 | p[0]; }
static uint8_t rev8(uint8_t b) {
    b = (uint8_t)((b & 0xF0) >> 4 | (b & 0x0F) << 4);
    b = (uint8_t)((b & 0xCC) >> 2 | (b & 0x33) << 2);
    return (uint8_t)((b & 0xAA) >> 1 | (b & 0x55) << 1);
}

/* One row (or tile row) of n pixels to RGB. */
void nli_tiff_unpack_row(const tfmt *f, const uint8_t *in, uint8_t *out, int n) {
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
    case K_GREY12:
    case K_INT32:
    case K_FLOAT32: nli_tiff_unpack_wide(f, in, out, n); break;
    case K_LAB: nli_tiff_unpack_lab(f, in, out, n); break;
    case K_GREY16:
    case K_GREY16S:
        for (x = 0; x < n; x++) { /* "I;16R": each byte's bits reversed */
            int v = f->bitrev ? rev8(in[2 * x + !f->be]) << 8 | rev8(in[2 * x + f->be]) : u16s(f, in + 2 * x);
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
    case K_CMYK: /* 16-bit ("CMYK;16L", "CMYK;16B"): the high bytes */
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

static uint64_t rdu(const tdir *d, const uint8_t *p, int size) {
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v = d->be ? v << 8 | p[i] : v | (uint64_t)p[i] << (8 * i);
    return v;
}

const uint16_t nli_tiff_tags[NL_TIFF_NTAGS] = {256, 257, 258, 259, 262, 266, 273, 277, 278,
                                               284, 320, 322, 323, 324, 338, 339, 0xBC01};

/* Bytes per value of the types Pillow loads (others are skipped). */
static int type_size(unsigned t) {
    static const uint8_t sz[17] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8};
    return t < 17 ? sz[t] : 0;
}

/* ImageFileDirectory_v2.load at the first directory: entries are read until
 * the count says stop or the file ends; an entry of an unknown type or of no
 * data is skipped; an entry whose data lies (partly) past the end of the
 * file stops the reading there (_safe_read raises, load returns), keeping
 * the entries before it. 0, or -1 when the header is not a TIFF header. */
int nli_tiff_read_dir(tdir *d, const char *name) {
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
        /* only the tags we use are kept; a repeated tag replaces the
         * earlier one, as in Pillow's dict */
        for (int k = 0; k < NL_TIFF_NTAGS; k++)
            if (nli_tiff_tags[k] == e.tag) d->e[k] = e;
    }
    return 0;
}

const tent *nli_tiff_find(const tdir *d, unsigned tag) {
    for (int k = 0; k < NL_TIFF_NTAGS; k++)
        if (nli_tiff_tags[k] == tag) return d->e[k].count ? &d->e[k] : NULL;
    return NULL;
}

int nli_tiff_int_type(unsigned t) { return t == 1 || t == 3 || t == 4 || t == 6 || t == 8 || t == 9 || t == 13 || t == 16; }

/* Value i of an integer entry (signed types sign-extended). */
int64_t nli_tiff_val(const tdir *d, const tent *e, uint64_t i) {
    int ts = type_size(e->type);
    uint64_t v = rdu(d, e->p + i * ts, ts);
    if (e->type == 6) return (int8_t)v;
    if (e->type == 8) return (int16_t)v;
    if (e->type == 9) return (int32_t)v;
    return (int64_t)v;
}

/* A tag Pillow reads as one number (TiffTags length 1): 1 found, 0 absent
 * (*v = dflt), -1 present but not an integer (Pillow fails on it). */
int nli_tiff_get1(const tdir *d, unsigned tag, int64_t dflt, int64_t *v) {
    const tent *e = nli_tiff_find(d, tag);
    *v = dflt;
    if (!e) return 0;
    if (!nli_tiff_int_type(e->type)) return -1;
    *v = nli_tiff_val(d, e, 0);
    return 1;
}

/* ------------------------------------------------------ Pillow's _setup */

static int unknown_mode(const char *name, int64_t photo, int64_t spp, int64_t bps) {
    nli_seterr("%s: unsupported TIFF (unknown pixel mode: photometric %lld, %lld samples of %lld bits)", name,
               (long long)photo, (long long)spp, (long long)bps);
    return -1;
}

/* TiffImagePlugin._setup up to the choice of mode and rawmode (OPEN_INFO):
 * only the keys we decode; others are refused, as Pillow refuses the keys it
 * does not know. */
int nli_tiff_setup(const tdir *d, const char *name, tsetup *s) {
    memset(s, 0, sizeof *s);
    int64_t fill, spp;
    if (nli_tiff_find(d, 0xBC01)) {
        nli_seterr("%s: unsupported TIFF (Windows Media Photo)", name);
        return -1;
    }
    if (nli_tiff_get1(d, 259, 1, &s->comp) < 0 || nli_tiff_get1(d, 284, 1, &s->planar) < 0 || nli_tiff_get1(d, 262, 0, &s->photo) < 0 ||
        nli_tiff_get1(d, 266, 1, &fill) < 0 || nli_tiff_get1(d, 256, -1, &s->w) < 1 || nli_tiff_get1(d, 257, -1, &s->h) < 1) {
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
    const tent *sf = nli_tiff_find(d, 339), *bp = nli_tiff_find(d, 258), *ex = nli_tiff_find(d, 338);
    if ((sf && (!nli_tiff_int_type(sf->type) || sf->type == 1)) || (bp && (!nli_tiff_int_type(bp->type) || bp->type == 1)) ||
        (ex && (!nli_tiff_int_type(ex->type) || ex->type == 1))) {
        nli_seterr("%s: cannot identify image file (TIFF sample tags of the wrong type)", name);
        return -1;
    }
    int64_t sfmt = 1;
    if (sf) {
        sfmt = nli_tiff_val(d, sf, 0);
        int all1 = 1;
        for (uint64_t i = 0; i < sf->count; i++) all1 &= nli_tiff_val(d, sf, i) == 1;
        if (sf->count > 1 && !all1) return unknown_mode(name, s->photo, 0, 0);
    }
    uint64_t nextra = ex ? ex->count : 0;
    if (nextra > 6) return unknown_mode(name, s->photo, 0, 0);
    int extra[6] = {0};
    for (uint64_t i = 0; i < nextra; i++) extra[i] = (int)nli_tiff_val(d, ex, i);
    s->bps_count = (int)(s->photo == 2 || s->photo == 6 || s->photo == 8 ? 3 : s->photo == 5 ? 4 : 1) + (int)nextra;
    if (nli_tiff_get1(d, 277, s->comp == 6 && (s->photo == 2 || s->photo == 6) ? 3 : 1, &spp) < 0) spp = -1;
    if (spp > 6 || spp < 1) {
        nli_seterr("%s: corrupt TIFF: invalid value for samples per pixel", name);
        return -1;
    }
    /* bits per sample: one value per sample; one value is repeated */
    uint64_t nb = bp ? bp->count : 1;
    int64_t b0 = bp ? nli_tiff_val(d, bp, 0) : 1;
    for (uint64_t i = 1; i < nb && i < (uint64_t)spp; i++)
        if (nli_tiff_val(d, bp, i) != b0) return unknown_mode(name, s->photo, spp, -1);
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
    if (sfmt == 2) { /* "I;16S", "I;16BS", "I;32S", "I;32BS" */
        if (!(ph == 1 && spp == 1 && nextra == 0 && (bps == 16 || bps == 32) && fill == 1))
            return unknown_mode(name, ph, spp, bps);
        f->kind = bps == 16 ? K_GREY16S : K_INT32;
        s->mode = M_I;
        s->rawchars = "I";
        return 0;
    }
    if (sfmt == 3) { /* "F;32F", "F;32BF", min-is-white not inverted */
        if (!((ph == 0 || ph == 1) && spp == 1 && nextra == 0 && bps == 32 && fill == 1))
            return unknown_mode(name, ph, spp, bps);
        f->kind = K_FLOAT32;
        s->mode = M_F;
        s->rawchars = "F";
        return 0;
    }
    if (sfmt != 1) return unknown_mode(name, ph, spp, bps);
    if (ph == 1 && spp == 1 && nextra == 0 && !be && fill == 1 && (bps == 12 || bps == 32)) { /* "I;12", "I;32N" */
        f->kind = bps == 12 ? K_GREY12 : K_INT32;
        s->mode = bps == 12 ? M_I16 : M_I;
        s->rawchars = "I";
        return 0;
    }
    if (ph == 8 && spp == 3 && nextra == 0 && bps == 8 && fill == 1) {
        f->kind = K_LAB;
        s->mode = M_LAB;
        s->rawchars = "LAB";
        return 0;
    }
    if ((ph == 0 || ph == 1) && spp == 1 && nextra == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8)) {
        f->kind = bps == 1 ? K_BILEVEL : K_GREY;
        f->invert = ph == 0;
        s->mode = bps == 1 ? M_1 : M_L;
        s->rawchars = bps == 1 ? "1" : "L";
        s->rawmode_is_mode = bps == 8 && ph == 1 && fill == 1;
        return 0;
    }
    if ((ph == 0 || ph == 1) && spp == 1 && nextra == 0 && bps == 16 &&
        ((fill == 1 && (!be || ph == 1)) || (fill == 2 && !be && ph == 1))) { /* "I;16", "I;16B", "I;16R" */
        f->kind = K_GREY16;
        s->mode = M_I16;
        s->rawmode_is_mode = fill == 1;
        s->rawchars = "I";
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
        /* Pillow 13: RGB plus unspecified extra samples is mode "RGB"
         * (rawmode "RGBX..."; 9.4: mode "RGBX") */
        s->mode = spp == 3 || e0 == 0 ? M_RGB : M_RGBA;
        s->rawmode_is_mode = bps == 8 && spp == 4 && e0 == 2;
        static const char *raws[3][3] = {{"RGBX", "RGBXX", "RGBXXX"}, {"RGBa", "RGBaX", "RGBaXX"},
                                         {"RGBA", "RGBAX", "RGBAXX"}};
        s->rawchars = spp == 3 ? "RGB" : raws[e0 == 0 ? 0 : e0 == 1 ? 1 : 2][nextra > 1 ? nextra - 1 : 0];
        return 0;
    }
    if (ph == 2 && fill == 2 && bps == 8 && spp == 3 && nextra == 0) { /* "RGB;R" */
        f->kind = K_RGB;
        s->mode = M_RGB;
        s->rawchars = "RGB";
        return 0;
    }
    if (ph == 3 && spp == 1 && nextra == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8)) {
        f->kind = K_PAL;
        s->mode = M_P;
        s->rawchars = "P";
        s->rawmode_is_mode = bps == 8 && fill == 1;
    } else if (ph == 3 && spp == 2 && bps == 8 && nextra == 1 && e0 == 2 && fill == 1) {
        f->kind = K_PAL;
        s->mode = M_PA;
        s->rawchars = "PA";
    } else if (ph == 5 && fill == 1 && ((bps == 8 && spp == 4 + (int)nextra && (nextra == 0 || (e0 == 0 && rest0))) ||
                                        (bps == 16 && spp == 4 && nextra == 0))) { /* 16B: Pillow 13 */
        f->kind = K_CMYK;
        s->mode = M_CMYK;
        s->rawchars = nextra == 0 ? "CMYK" : nextra == 1 ? "CMYKX" : "CMYKXX";
        s->rawmode_is_mode = bps == 8 && spp == 4;
        return 0;
    } else if (ph == 6 && spp == 3 && bps == 8 && nextra == 0 && fill == 1) {
        /* Pillow 13 opens it as mode "YCbCr", which has no unpacker for
         * separate uncompressed planes (9.4 read them as "RGBX" planes) */
        if (s->comp == 1 && s->planar == 2) {
            nli_seterr("%s: unsupported TIFF (separate YCbCr planes: unknown raw mode for this image mode)", name);
            return -1;
        }
        f->kind = s->comp == 1 ? K_RGBX_YCC : K_RGB; /* raw: read as "RGBX", 4 bytes a pixel */
        s->mode = M_RGB;
        if (s->comp == 1) s->rawbits = 32;
        s->rawchars = "RGBX";
        return 0;
    } else return unknown_mode(name, ph, spp, bps);
    /* palette: Pillow's palette from the colour map's high bytes */
    const tent *cm = nli_tiff_find(d, 320);
    if (!cm || !nli_tiff_int_type(cm->type)) {
        nli_seterr("%s: cannot identify image file (TIFF palette image without its colour map)", name);
        return -1;
    }
    uint64_t third = cm->count / 3;
    for (int i = 0; i < 256; i++) f->pal[i][0] = f->pal[i][1] = f->pal[i][2] = 0;
    for (uint64_t i = 0; i < third && i < 256; i++)
        for (int c = 0; c < 3; c++) f->pal[i][c] = (uint8_t)(nli_tiff_val(d, cm, c * third + i) >> 8);
    return 0;
}

