/* image_bmp.c — BMP (and headerless DIB) files as Pillow 13 gives them for
 * Image.open(path).convert("RGB") (BmpImagePlugin.py, RawDecode.c, Unpack.c,
 * ImageFile.load), written from their behaviour:
 *  - Headers: OS/2 v1 (12 bytes: 16-bit sizes, 3-byte palette entries) and
 *    40/52/56/64/108/124-byte info headers (the colour masks in the header
 *    from 52 bytes on, alpha from 56; after a 40-byte one); a height whose
 *    top byte is 0xFF means top-down (height 2^32 - value), other values
 *    are unsigned.
 *  - Depths 1/4/8 (palette), 16 (5-5-5, or BITFIELDS 5-6-5 / 5-5-5), 24,
 *    32 (BGRX; BITFIELDS layouts BGRX, XBGR, BGXR, ABGR, RGBA, BGRA, BGAR,
 *    all-zero = BGRA); RLE8 and RLE4. Alpha is dropped by convert("RGB").
 *  - Palettes: `colors` entries (0 = 2^bits), at most 65536; a palette that
 *    is the grey ramp makes the image mode "L" (or "1" for two entries black
 *    and white) and is then dropped: pixels are read as 8-bit grey (or
 *    1-bit) values whatever the file's depth. Otherwise more than 256
 *    entries are refused; indices past the palette are black (Pillow 13;
 *    9.4 gave its grey ramp).
 *  - Pillow's quirks kept: the pixel offset skips padding*colors (3 or 4
 *    bytes an entry) when it points right behind the header; an offset of
 *    0 means "after the palette"; the last row needs no padding; 8-bit
 *    "P"/"L" and RGBA rows are memory-mapped when the whole data is there
 *    at a stride of at least one row of pixels (so an "L" image from a
 *    1/4-bit grey-palette file is read at a stride of its width if the file
 *    holds that much), otherwise decoded, which refuses a stride shorter
 *    than a row (9.4 mapped such rows overlapping); RLE (Pillow 13's
 *    BmpRleDecoder) runs are cut at the row end, absolute runs are not (but
 *    stop at the end of the image); an RLE4 absolute run of n pixels reads
 *    (n+1)/2 bytes; a delta reads its 2 bytes; padding after an absolute
 *    run follows the file offset's parity; the RLE data must cover every
 *    pixel (an early end of bitmap is refused), and RLE in a mode other
 *    than "P"/"L" is refused.
 *  - Refused as Pillow refuses: other header sizes, depths, compressions
 *    and bitfield layouts, header or masks cut short, zero sizes, more than
 *    NL_MAX_IMAGE_PIXELS, and pixel data that ends early. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"
#include "util.h"

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t le16(const uint8_t *p) { return p[0] | p[1] << 8; }

/* Raw layouts: Pillow's rawmode for the image's rows. */
enum { R_1, R_L, R_P1, R_P4, R_P8, R_BGR15, R_BGR16, R_BGR, R_BGRX, R_XBGR, R_ABGR, R_RGBA, R_BGRA, R_BGXR, R_BGAR };
static const int raw_bits[] = {1, 8, 1, 4, 8, 16, 16, 24, 32, 32, 32, 32, 32, 32, 32};

typedef struct {
    uint64_t w, h;
    int topdown, bits, raw;
    char mode; /* '1', 'L', 'P', 'R' (RGB), 'A' (RGBA) */
    uint8_t pal[256][3];
} bmp_info;

static int bmp_err(const char *name, const char *why) {
    nli_seterr("%s: %s", name, why);
    return -1;
}

/* One row of `raw` pixels to RGB. */
static void bmp_row(const bmp_info *b, const uint8_t *in, uint8_t *o, int w) {
    for (int x = 0; x < w; x++, o += 3) {
        uint32_t v;
        switch (b->raw) {
        case R_1: o[0] = o[1] = o[2] = (in[x >> 3] >> (7 - (x & 7)) & 1) ? 255 : 0; break;
        case R_L: o[0] = o[1] = o[2] = in[x]; break;
        case R_P1: memcpy(o, b->pal[in[x >> 3] >> (7 - (x & 7)) & 1], 3); break;
        case R_P4: memcpy(o, b->pal[in[x >> 1] >> (x & 1 ? 0 : 4) & 15], 3); break;
        case R_P8: memcpy(o, b->pal[in[x]], 3); break;
        case R_BGR15:
            v = le16(in + 2 * x);
            o[0] = (uint8_t)(((v >> 10) & 31) * 255 / 31);
            o[1] = (uint8_t)(((v >> 5) & 31) * 255 / 31);
            o[2] = (uint8_t)((v & 31) * 255 / 31);
            break;
        case R_BGR16:
            v = le16(in + 2 * x);
            o[0] = (uint8_t)(((v >> 11) & 31) * 255 / 31);
            o[1] = (uint8_t)(((v >> 5) & 63) * 255 / 63);
            o[2] = (uint8_t)((v & 31) * 255 / 31);
            break;
        case R_BGR: o[0] = in[3 * x + 2]; o[1] = in[3 * x + 1]; o[2] = in[3 * x]; break;
        case R_BGRX: case R_BGRA: o[0] = in[4 * x + 2]; o[1] = in[4 * x + 1]; o[2] = in[4 * x]; break;
        case R_BGXR: case R_BGAR: o[0] = in[4 * x + 3]; o[1] = in[4 * x + 1]; o[2] = in[4 * x]; break;
        case R_XBGR: case R_ABGR: o[0] = in[4 * x + 3]; o[1] = in[4 * x + 2]; o[2] = in[4 * x + 1]; break;
        case R_RGBA: memcpy(o, in + 4 * x, 3); break;
        }
    }
}

/* Pillow 13's BmpRleDecoder.decode: the length of the data it builds (n,
 * at most w*h: it stops once the image is full), writing the bytes into idx
 * when idx is not NULL (idx is zeroed). Positions are file offsets: Pillow
 * pads after absolute runs by the file offset. A delta escape reads its two
 * bytes (Pillow 9.4 skipped two more); an absolute RLE4 run of k pixels
 * reads (k+1)/2 bytes and writes k nibbles (9.4: k/2 bytes, 2 nibbles
 * each). Data that ends early is short, not an error, here. */
static uint64_t bmp_rle(const uint8_t *d, size_t len, uint64_t pos, uint64_t w, uint64_t h, int rle4,
                        uint8_t *idx) {
    uint64_t n = 0, x = 0, total = w * h;
#define RD(v) (pos < len ? (v = d[pos++], 1) : 0)
#define PUT(v) do { if (idx && n < total) idx[n] = (uint8_t)(v); n++; } while (0)
    while (n < total) {
        int cnt, byte;
        if (!RD(cnt) || !RD(byte)) break;
        if (cnt) { /* encoded run, cut at the end of the row */
            uint64_t k = (uint64_t)cnt;
            if (x + k > w) k = x > w ? 0 : w - x;
            for (uint64_t i = 0; i < k; i++) PUT(rle4 ? (i & 1 ? byte & 15 : byte >> 4) : byte);
            x += k;
        } else if (byte == 0) { /* end of line */
            if (n % w) n += w - n % w;
            x = 0;
        } else if (byte == 1) { /* end of bitmap */
            break;
        } else if (byte == 2) { /* delta: right, up */
            int right, up;
            if (!RD(right) || !RD(up)) break;
            uint64_t skip = (uint64_t)right + (uint64_t)up * w;
            n += skip < total - n ? skip : total - n;
            x = n % w;
        } else { /* absolute run of `byte` pixels */
            uint64_t k = total - n < (uint64_t)byte ? total - n : (uint64_t)byte;
            uint64_t want = rle4 ? (k + 1) / 2 : k;
            uint64_t have = pos < len ? len - pos : 0, got = want < have ? want : have;
            for (uint64_t i = 0; i < got; i++) {
                int v = d[pos + i];
                if (!rle4) { PUT(v); continue; }
                PUT(v >> 4);
                if (2 * i + 1 < k) PUT(v & 15);
            }
            pos += got;
            if (got < want || n == total) break;
            x += (uint64_t)byte;
            if (pos % 2) pos++;
        }
    }
#undef RD
#undef PUT
    return n;
}

int nli_image_load_bmp(const uint8_t *d, size_t len, const char *name, int dib, nli_image *out) {
    bmp_info b;
    memset(&b, 0, sizeof b);
    uint64_t offset = 0;
    size_t pos = 0;
    if (!dib) {
        if (len < 14) return bmp_err(name, "cannot identify image file (BMP file header cut short)");
        offset = le32(d + 10);
        pos = 14;
    }
    if (len - pos < 4) return bmp_err(name, "cannot identify image file (BMP header cut short)");
    uint32_t hs = le32(d + pos);
    pos += 4;
    if (hs > 4 && len - pos < (uint64_t)hs - 4) return bmp_err(name, "truncated BMP header");
    const uint8_t *hd = d + pos;
    uint64_t colors = 0;
    uint32_t comp = 0, masks[4] = {0, 0, 0, 0};
    int padding;
    if (hs == 12) {
        b.w = le16(hd);
        b.h = le16(hd + 2);
        b.bits = (int)le16(hd + 6);
        padding = 3;
        pos += 8;
    } else if (hs == 40 || hs == 52 || hs == 56 || hs == 64 || hs == 108 || hs == 124) {
        b.topdown = hd[7] == 0xFF;
        b.w = le32(hd);
        b.h = b.topdown ? ((uint64_t)1 << 32) - le32(hd + 4) : le32(hd + 4);
        b.bits = (int)le16(hd + 10);
        comp = le32(hd + 12);
        colors = le32(hd + 28);
        padding = 4;
        pos += hs - 4;
        if (comp == 3) {
            if (hs >= 52) { /* the masks in the header; alpha from 56 bytes on */
                for (int i = 0; i < (hs >= 56 ? 4 : 3); i++) masks[i] = le32(hd + 36 + 4 * i);
            } else {
                if (len - pos < 12) return bmp_err(name, "cannot identify image file (BMP bitfield masks cut short)");
                for (int i = 0; i < 3; i++) masks[i] = le32(d + pos + 4 * i);
                pos += 12;
            }
        }
    } else {
        nli_seterr("%s: unsupported BMP header type (%u)", name, hs);
        return -1;
    }
    if (colors == 0 && b.bits <= 8) colors = (uint64_t)1 << b.bits;
    if (!dib && offset == 14 + (uint64_t)hs && b.bits <= 8) offset += (uint64_t)padding * colors;

    switch (b.bits) {
    case 1: b.mode = 'P'; b.raw = R_P1; break;
    case 4: b.mode = 'P'; b.raw = R_P4; break;
    case 8: b.mode = 'P'; b.raw = R_P8; break;
    case 16: b.mode = 'R'; b.raw = R_BGR15; break;
    case 24: b.mode = 'R'; b.raw = R_BGR; break;
    case 32: b.mode = 'R'; b.raw = R_BGRX; break;
    default: nli_seterr("%s: unsupported BMP pixel depth (%d)", name, b.bits); return -1;
    }
    int rle = 0;
    if (comp == 3) {
        static const struct { int bits; uint32_t m[4]; int raw; } layouts[] = {
            {32, {0xFF0000, 0xFF00, 0xFF, 0}, R_BGRX},
            {32, {0xFF000000, 0xFF0000, 0xFF00, 0}, R_XBGR},
            {32, {0xFF000000, 0xFF0000, 0xFF00, 0xFF}, R_ABGR},
            {32, {0xFF, 0xFF00, 0xFF0000, 0xFF000000}, R_RGBA},
            {32, {0xFF0000, 0xFF00, 0xFF, 0xFF000000}, R_BGRA},
            {32, {0xFF000000, 0xFF00, 0xFF, 0}, R_BGXR},
            {32, {0xFF000000, 0xFF00, 0xFF, 0xFF0000}, R_BGAR},
            {32, {0, 0, 0, 0}, R_BGRA},
            {24, {0xFF0000, 0xFF00, 0xFF, 0}, R_BGR},
            {16, {0xF800, 0x7E0, 0x1F, 0}, R_BGR16},
            {16, {0x7C00, 0x3E0, 0x1F, 0}, R_BGR15},
        };
        int found = 0;
        for (size_t i = 0; i < sizeof layouts / sizeof layouts[0] && !found; i++) {
            int nm = b.bits == 32 ? 4 : 3; /* 16 and 24 bits: the alpha mask is not looked at */
            if (layouts[i].bits != b.bits || memcmp(layouts[i].m, masks, nm * sizeof masks[0]) != 0) continue;
            b.raw = layouts[i].raw;
            if (b.raw == R_ABGR || b.raw == R_RGBA || b.raw == R_BGRA || b.raw == R_BGAR) b.mode = 'A';
            found = 1;
        }
        if (!found) return bmp_err(name, "unsupported BMP bitfields layout");
    } else if (comp == 1 || comp == 2) {
        rle = 1;
    } else if (comp != 0) {
        nli_seterr("%s: unsupported BMP compression (%u)", name, comp);
        return -1;
    }

    /* The palette: Pillow reads what is there of padding*colors bytes. */
    const uint8_t *pal = NULL;
    size_t palbytes = 0;
    if (b.mode == 'P') {
        if (colors == 0 || colors > 65536) {
            nli_seterr("%s: unsupported BMP palette size (%llu)", name, (unsigned long long)colors);
            return -1;
        }
        pal = d + pos;
        palbytes = (size_t)colors * padding;
        if (palbytes > len - pos) palbytes = len - pos;
        pos += palbytes;
        int grey = 1;
        for (uint64_t i = 0; i < colors && grey; i++) {
            int v = colors == 2 ? (i ? 255 : 0) : (int)(i & 255);
            size_t o = (size_t)i * padding;
            grey = o + 3 <= palbytes && pal[o] == v && pal[o + 1] == v && pal[o + 2] == v;
        }
        if (grey) {
            b.mode = colors == 2 ? '1' : 'L';
            b.raw = colors == 2 ? R_1 : R_L;
        } else {
            /* Indices past the file's palette are black (Pillow 13; 9.4
             * read its grey ramp there). */
            memset(b.pal, 0, sizeof b.pal);
            size_t n = palbytes / padding;
            if (n > 256) return bmp_err(name, "invalid BMP palette size (more than 256 colours)");
            for (size_t i = 0; i < n; i++) {
                b.pal[i][0] = pal[i * padding + 2];
                b.pal[i][1] = pal[i * padding + 1];
                b.pal[i][2] = pal[i * padding];
            }
        }
    }
    if (offset == 0) offset = pos;
    if (b.w == 0 || b.h == 0) return bmp_err(name, "cannot identify image file (BMP size is zero)");
    if (nli_image_check_dims(name, "BMP", b.w, b.h) != 0) return -1;
    int w = (int)b.w, h = (int)b.h;

    uint8_t *rgb = NULL, *idx = NULL;
    if (rle) {
        uint64_t n = bmp_rle(d, len, offset, b.w, b.h, comp == 2, NULL);
        if (b.mode != 'P' && b.mode != 'L') return bmp_err(name, "unsupported BMP: RLE data in a non-palette mode");
        if (n < b.w * b.h) return bmp_err(name, "not enough image data (BMP RLE data ends before the last pixel)");
        idx = nli_calloc((size_t)w * h, 1);
        if (!idx) { nli_prefixerr("%s", name); return -1; }
        bmp_rle(d, len, offset, b.w, b.h, comp == 2, idx);
        rgb = nli_image_alloc_rgb(name, w, h);
        if (!rgb) { free(idx); return -1; }
        bmp_info rb = b;
        rb.raw = b.mode == 'L' ? R_L : R_P8;
        for (int y = 0; y < h; y++)
            bmp_row(&rb, idx + (size_t)y * w, rgb + (size_t)(b.topdown ? y : h - 1 - y) * w * 3, w);
        free(idx);
    } else {
        uint64_t stride = ((b.w * (uint64_t)b.bits + 31) >> 3) & ~(uint64_t)3;
        uint64_t rowbytes = (b.w * (uint64_t)raw_bits[b.raw] + 7) / 8;
        uint64_t avail = offset < len ? len - offset : 0;
        /* ImageFile.load maps 8-bit "L"/"P" and RGBA rows when all padded
         * rows are there, the rows at least a row of pixels apart (Pillow 13:
         * an "L" image read from a 1/4-bit grey-palette file has rows wider
         * than the file's stride; 9.4 mapped them overlapping). */
        int mappable = b.raw == R_L || b.raw == R_P8 || b.raw == R_RGBA;
        if (mappable && stride < rowbytes) stride = rowbytes;
        int mapped = mappable && offset + b.h * stride <= len;
        if (!mapped) {
            if (b.w > (uint64_t)(INT_MAX / raw_bits[b.raw] - 7))
                return bmp_err(name, "BMP image too wide for Pillow's raw decoder");
            if (avail == 0) return bmp_err(name, "image file is truncated (no BMP pixel data)");
            if (stride < rowbytes) return bmp_err(name, "corrupt BMP: row stride shorter than a row");
            if ((b.h - 1) * stride + rowbytes > avail)
                return bmp_err(name, "image file is truncated (BMP pixel data ends early)");
        }
        rgb = nli_image_alloc_rgb(name, w, h);
        if (!rgb) return -1;
        for (int y = 0; y < h; y++)
            bmp_row(&b, d + offset + (uint64_t)y * stride, rgb + (size_t)(b.topdown ? y : h - 1 - y) * w * 3, w);
    }
    out->w = w;
    out->h = h;
    out->rgb = rgb;
    return 0;
}
