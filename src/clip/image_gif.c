/* image_gif.c — the first frame of a GIF as Pillow 13 gives it for
 * Image.open(path).convert("RGB") (GifImagePlugin.py, GifDecode.c,
 * ImageFile.load), written from their behaviour:
 *  - The screen size grows to hold the first frame when the frame reaches
 *    past it; pixels outside the frame hold the frame's transparent index
 *    (graphic control extension) or index 0, never the background colour.
 *  - Colours: the local palette, unless it is the identity grey ramp, then
 *    the global one; entries past a short palette are black (Pillow 13;
 *    9.4: the grey ramp), every index without a palette is Pillow's grey
 *    ramp (i, i, i). Transparency does not
 *    change the pixels in convert("RGB").
 *  - Refused as Pillow refuses: a header, extension or image descriptor cut
 *    short; no image before the trailer; a graphic control extension shorter
 *    than 3 bytes (4 with the transparency flag); an application extension
 *    with an empty first block, or NETSCAPE2.0 with an empty second one;
 *    an empty frame (Pillow 13; 9.4 decoded one at x=0 of width 0 as the
 *    whole image); code sizes above 12; LZW codes its decoder rejects;
 *    and a stream that ends before every pixel of the frame is written.
 *  - Pillow's decoder only starts a data sub-block once all of it is there,
 *    keeps decoding after an end code when the file goes on (it is fed in
 *    64 KiB reads, and an end code only stops the current read), never
 *    grows the code size past the first table entry for code size 1, and
 *    keeps the low byte of literal codes above 255. */
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"
#include "util.h"

#define GIF_TABLE 4096
#define GIF_FEED 65536 /* ImageFile.MAXBLOCK: Pillow feeds the decoder this much per read */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
} gif_rd;

/* GifImageFile.data(): one sub-block. NULL at a zero length byte or the end
 * of the file; else the bytes that are there (*n may be less than announced,
 * even 0, which Python's truth test treats like NULL). */
static const uint8_t *gif_block(gif_rd *r, size_t *n) {
    *n = 0;
    if (r->pos >= r->len) return NULL;
    size_t want = r->p[r->pos++];
    if (want == 0) return NULL;
    size_t have = r->len - r->pos;
    *n = want < have ? want : have;
    const uint8_t *b = r->p + r->pos;
    r->pos += *n;
    return b;
}

/* `while self.data(): pass` */
static void gif_skip_blocks(gif_rd *r) {
    size_t n;
    while (gif_block(r, &n) && n > 0) {
    }
}

/* Pillow's _is_palette_needed: anything but entries (i, i, i). */
static int gif_pal_needed(const uint8_t *p, int n) {
    for (int i = 0; i < n; i++)
        if (p[3 * i] != i || p[3 * i + 1] != i || p[3 * i + 2] != i) return 1;
    return 0;
}

typedef struct {
    /* where decoded pixels go: the frame inside an image of width stride */
    uint8_t *img;
    int stride, xoff, yoff, xsize, ysize;
    int x, y, step, pass; /* pass: 1..3 interlace passes still to come, 0 none */
    /* bit reader over data[pos..fed) */
    const uint8_t *d;
    size_t len, pos, fed;
    int blockleft, bitcount;
    uint32_t bits;
} gif_lzw;

enum { LZW_DONE, LZW_BROKEN, LZW_STOP };

/* One pixel; LZW_DONE once the last row of the frame is written. */
static int gif_put(gif_lzw *z, uint8_t v) {
    z->img[(size_t)(z->y + z->yoff) * z->stride + z->xoff + z->x] = v;
    if (++z->x < z->xsize) return LZW_STOP;
    z->x = 0;
    z->y += z->step;
    while (z->y >= z->ysize) {
        switch (z->pass) {
        case 3: z->y = 4; z->pass = 2; break;              /* rows 4, 12, ... */
        case 2: z->step = 4; z->y = 2; z->pass = 1; break; /* rows 2, 6, ... */
        case 1: z->step = 2; z->y = 1; z->pass = 0; break; /* rows 1, 3, ... */
        default: return LZW_DONE;
        }
    }
    return LZW_STOP;
}

/* Next code of `size` bits, or -1 when the fed data holds no complete
 * sub-block to take more bits from. */
static int gif_code(gif_lzw *z, int size) {
    while (z->bitcount < size) {
        if (z->blockleft > 0) {
            z->bits |= (uint32_t)z->d[z->pos++] << z->bitcount;
            z->bitcount += 8;
            z->blockleft--;
        } else {
            if (z->pos >= z->fed) return -1;
            size_t c = z->d[z->pos];
            if (z->fed - z->pos < c + 1) return -1;
            z->blockleft = (int)c;
            z->pos++;
        }
    }
    int c = (int)(z->bits & ((1u << size) - 1));
    z->bits >>= size;
    z->bitcount -= size;
    return c;
}

/* GifDecode.c's state machine over the whole stream, fed as Pillow feeds
 * it: 0 when every pixel of the frame was written, -1 (error set) if not. */
static int gif_decode(gif_lzw *z, int bits, const char *name) {
    static const char *trunc = "image file is truncated (GIF image data ends before the last pixel)";
    if (z->len == 0) { nli_seterr("%s: %s", name, trunc); return -1; }
    uint16_t link[GIF_TABLE];
    uint8_t suffix[GIF_TABLE], stack[GIF_TABLE];
    const int clear = 1 << bits, end = clear + 1;
    int next = clear + 2, size = bits + 1, first = 1, last = 0;
    uint8_t lastdata = 0;
    memset(link, 0, sizeof link);
    memset(suffix, 0, sizeof suffix);
    z->fed = z->len < GIF_FEED ? z->len : GIF_FEED;
    for (;;) {
        int c = gif_code(z, size);
        if (c < 0 || c == end) {
            /* The decoder returns; Pillow reads on, or reports truncation. */
            if (z->fed == z->len) { nli_seterr("%s: %s", name, trunc); return -1; }
            z->fed = z->len - z->fed < GIF_FEED ? z->len : z->fed + GIF_FEED;
            continue;
        }
        if (c == clear) {
            next = clear + 2;
            size = bits + 1;
            first = 1;
            continue;
        }
        int sp = 0;
        if (first) {
            if (c > clear) goto broken;
            lastdata = (uint8_t)c;
            last = c;
            first = 0;
        } else {
            int code = c;
            if (c > next) goto broken;
            if (c == next) { /* the entry being defined: previous string + its first byte */
                stack[sp++] = lastdata;
                c = last;
            }
            while (c >= clear) {
                if (sp >= GIF_TABLE || c >= GIF_TABLE) goto broken;
                stack[sp++] = suffix[c];
                c = link[c];
            }
            lastdata = (uint8_t)c;
            if (next < GIF_TABLE) {
                suffix[next] = (uint8_t)c;
                link[next] = (uint16_t)last;
                if (next == (1 << size) - 1 && size < 12) size++;
                next++;
            }
            last = code;
        }
        /* The string: its first byte, then the stacked bytes in reverse. */
        if (gif_put(z, lastdata) == LZW_DONE) return 0;
        while (sp > 0)
            if (gif_put(z, stack[--sp]) == LZW_DONE) return 0;
    }
broken:
    nli_seterr("%s: corrupt GIF: broken LZW data stream", name);
    return -1;
}

static int gif_refuse(const char *name, const char *why) {
    nli_seterr("%s: cannot identify image file (GIF: %s)", name, why);
    return -1;
}

int nli_image_load_gif(const uint8_t *data, size_t len, const char *name, nli_image *out) {
    gif_rd r = {data, len, 13};
    if (len < 13) return gif_refuse(name, "logical screen descriptor cut short");
    uint64_t W = data[6] | data[7] << 8, H = data[8] | data[9] << 8;
    const uint8_t *gpal = NULL, *lpal = NULL;
    int ngpal = 0, nlpal = 0;
    if (data[10] & 0x80) {
        ngpal = 1 << ((data[10] & 7) + 1);
        if (len - r.pos < (size_t)ngpal * 3) return gif_refuse(name, "global palette cut short");
        gpal = data + r.pos;
        r.pos += (size_t)ngpal * 3;
    }
    /* Blocks up to the first image descriptor. */
    int trns = -1;
    uint64_t x0 = 0, y0 = 0, fw = 0, fh = 0;
    int interlace = 0, bits = 0;
    for (;;) {
        if (r.pos >= len || data[r.pos] == ';') return gif_refuse(name, "no image before the trailer");
        uint8_t tag = data[r.pos++];
        if (tag == '!') {
            if (r.pos >= len) return gif_refuse(name, "extension cut short");
            uint8_t label = data[r.pos++];
            size_t n;
            const uint8_t *b = gif_block(&r, &n);
            if (label == 0xF9) {
                if (!b || n < 3 || ((b[0] & 1) && n < 4))
                    return gif_refuse(name, "graphic control extension too short");
                if (b[0] & 1) trns = b[3];
            } else if (label == 0xFE) {
                while (b && n > 0) b = gif_block(&r, &n);
                continue; /* the comment loop has read the terminator */
            } else if (label == 0xFF) {
                if (!b) return gif_refuse(name, "application extension without data");
                if (n >= 11 && memcmp(b, "NETSCAPE2.0", 11) == 0 && !gif_block(&r, &n))
                    return gif_refuse(name, "NETSCAPE2.0 extension without data");
            }
            gif_skip_blocks(&r);
        } else if (tag == ',') {
            if (len - r.pos < 9) return gif_refuse(name, "image descriptor cut short");
            const uint8_t *s = data + r.pos;
            r.pos += 9;
            x0 = s[0] | s[1] << 8;
            y0 = s[2] | s[3] << 8;
            fw = s[4] | s[5] << 8;
            fh = s[6] | s[7] << 8;
            interlace = (s[8] & 0x40) != 0;
            if (s[8] & 0x80) {
                nlpal = 1 << ((s[8] & 7) + 1);
                if (len - r.pos < (size_t)nlpal * 3) return gif_refuse(name, "local palette cut short");
                lpal = data + r.pos;
                r.pos += (size_t)nlpal * 3;
            }
            if (r.pos >= len) return gif_refuse(name, "LZW code size missing");
            bits = data[r.pos++];
            break;
        }
        /* any other byte between blocks is skipped, as Pillow does */
    }
    if (x0 + fw > W) W = x0 + fw;
    if (y0 + fh > H) H = y0 + fh;
    if (nli_image_check_dims(name, "GIF", W, H) != 0) return -1;

    /* The decoder's tile: Pillow 13 refuses every empty frame (9.4 decoded
     * one at x=0 of width 0 as the whole image). */
    gif_lzw z = {0};
    z.stride = (int)W;
    z.xoff = (int)x0;
    z.yoff = (int)y0;
    z.xsize = (int)fw;
    z.ysize = (int)fh;
    if (z.xsize <= 0 || z.ysize <= 0) {
        nli_seterr("%s: corrupt GIF: empty frame (%llux%llu)", name, (unsigned long long)fw,
                   (unsigned long long)fh);
        return -1;
    }
    z.d = data + r.pos;
    z.len = len - r.pos;
    if (bits > 12) { /* Pillow's decoder refuses it on its first call */
        nli_seterr("%s: corrupt GIF: LZW code size %d", name, bits);
        return -1;
    }
    z.step = interlace ? 8 : 1;
    z.pass = interlace ? 3 : 0;
    /* Every code is at least one bit and yields at most 4097 pixels: a
     * stream too short to fill the frame is refused before allocating. */
    if ((uint64_t)z.xsize * (uint64_t)z.ysize > (uint64_t)z.len * 8 * (GIF_TABLE + 1)) {
        nli_seterr("%s: image file is truncated (GIF image data ends before the last pixel)", name);
        return -1;
    }
    size_t npx = (size_t)W * (size_t)H;
    uint8_t *idx = nli_malloc(npx);
    if (!idx) { nli_prefixerr("%s", name); return -1; }
    memset(idx, trns >= 0 ? trns : 0, npx);
    z.img = idx;
    if (gif_decode(&z, bits, name) != 0) { free(idx); return -1; }

    uint8_t pal[256][3];
    /* No colour table at all: Pillow's grey ramp. A table shorter than the
     * indices used: black past its end (Pillow 13; 9.4 kept the ramp). */
    const uint8_t *p = lpal && gif_pal_needed(lpal, nlpal) ? lpal : gpal;
    int np = p == lpal ? nlpal : ngpal;
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = p ? 0 : (uint8_t)i;
    if (p) memcpy(pal, p, (size_t)np * 3);
    uint8_t *rgb = nli_image_alloc_rgb(name, (int)W, (int)H);
    if (!rgb) { free(idx); return -1; }
    for (size_t i = 0; i < npx; i++) memcpy(rgb + 3 * i, pal[idx[i]], 3);
    free(idx);
    out->w = (int)W;
    out->h = (int)H;
    out->rgb = rgb;
    return 0;
}
