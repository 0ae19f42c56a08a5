/* test_image_tiff_bomb.c — small TIFFs declaring huge images must fail
 * without touching memory of the image's size. The peak memory of a child
 * process that loads each must stay far below it.
 * - Uncompressed, 222 bytes declaring 13000 x 13000 RGB (500 MB) in one
 *   strip of 100 bytes: refused as truncated (as Pillow does) before any
 *   pixel buffer is filled (each strip or tile's byte range is checked
 *   against the file first).
 * - The same with a deflate, LZW or PackBits strip of 100 bytes: libtiff
 *   zero-fills a whole-strip buffer after the first bad byte (500 MB); a
 *   strip that large is decoded row by row, failing at row 0. (Not CCITT
 *   fax: its decoder ends a short strip without error, as in Pillow, and a
 *   valid fax page of 13000 x 13000 is a few KB anyway; the pixel limit
 *   bounds it.)
 * - One 60000 x 60000 deflate tile for a 16 x 16 image (10 GB zero-filled):
 *   refused by its size.
 * And the row-by-row reading gives the same pixels as whole strips on valid
 * files that libtiff writes here (each codec, predictor, 16 bits, separate
 * planes, JPEG in RGB and YCbCr, a short last strip). Needs no reference data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "image.h"
#include "image_tiff.h"
#include "neglabel.h"
#include "util.h"

static size_t put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); return 2; }
static size_t put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); return 4; }

/* A little-endian TIFF of one IFD (nt tags as (tag, value); tags 258..277
 * are SHORTs, the rest LONGs) and payload bytes of 0x80 right after it,
 * which the offset tag (273 or 324) points at. */
static size_t tiff_write(uint8_t *o, const uint32_t (*tags)[2], int nt, uint32_t payload) {
    const uint32_t data_off = 8 + 2 + (uint32_t)nt * 12 + 4;
    size_t n = 0;
    memcpy(o, "II*\0", 4);
    n = 4;
    n += put32(o + n, 8);
    n += put16(o + n, (uint16_t)nt);
    for (int i = 0; i < nt; i++) {
        int shorts = tags[i][0] >= 258 && tags[i][0] <= 277;
        uint32_t v = tags[i][0] == 273 || tags[i][0] == 324 ? data_off : tags[i][1];
        n += put16(o + n, (uint16_t)tags[i][0]);
        n += put16(o + n, shorts ? 3 : 4);
        n += put32(o + n, 1);
        if (shorts) n += put16(o + n, (uint16_t)v), n += put16(o + n, 0);
        else n += put32(o + n, v);
    }
    n += put32(o + n, 0);
    memset(o + n, 0x80, payload);
    return n + payload;
}

/* w x h, 3 x 8-bit RGB, one strip of nstrip bytes; compression comp. */
static size_t tiff_bomb_c(uint8_t *o, uint32_t w, uint32_t h, uint32_t nstrip, uint16_t comp) {
    const uint32_t tags[9][2] = {{256, w}, {257, h}, {258, 8}, {259, comp}, {262, 2},
                                 {273, 0}, {277, 3}, {278, h}, {279, nstrip}};
    return tiff_write(o, tags, 9, nstrip);
}

static size_t tiff_bomb(uint8_t *o, uint32_t w, uint32_t h, uint32_t nstrip) {
    return tiff_bomb_c(o, w, h, nstrip, 1);
}

/* w x h RGB of bps bits a sample, one deflate tile of tw x th, 100 bytes. */
static size_t tiff_tile_bomb_bps(uint8_t *o, uint32_t w, uint32_t h, uint32_t tw, uint32_t th, uint32_t bps) {
    const uint32_t tags[10][2] = {{256, w}, {257, h}, {258, bps}, {259, 8}, {262, 2},
                                  {277, 3}, {322, tw}, {323, th}, {324, 0}, {325, 100}};
    return tiff_write(o, tags, 10, 100);
}

static size_t tiff_tile_bomb(uint8_t *o, uint32_t w, uint32_t h, uint32_t tw, uint32_t th) {
    return tiff_tile_bomb_bps(o, w, h, tw, th, 8);
}

/* A valid w x h TIFF written by libtiff (spp samples of bps bits, strips of
 * rps rows, compression comp, predictor pred, planar config pc), its pixels
 * a fixed pattern; into a malloc'd buffer (*len), NULL on failure. */
static uint8_t *tiff_valid(uint32_t w, uint32_t h, int spp, int bps, uint32_t rps, uint16_t comp, uint16_t pred,
                           uint16_t pc, int ycbcr, size_t *len) {
    char path[] = "/tmp/nl_tiff_rows_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    close(fd);
    TIFF *t = TIFFOpen(path, "w");
    uint8_t *out = NULL;
    if (!t) goto done;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)spp);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)bps);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, ycbcr ? PHOTOMETRIC_YCBCR : spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, pc);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rps);
    TIFFSetField(t, TIFFTAG_COMPRESSION, comp);
    if (pred) TIFFSetField(t, TIFFTAG_PREDICTOR, pred);
    if (ycbcr) TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB); /* RGB rows in, YCbCr 2x2 stored */
    int planes = pc == PLANARCONFIG_SEPARATE ? spp : 1;
    tmsize_t rowb = TIFFScanlineSize(t);
    uint8_t *row = calloc((size_t)rowb, 1);
    int ok = row != NULL;
    for (int pl = 0; pl < planes && ok; pl++)
        for (uint32_t y = 0; y < h && ok; y++) {
            for (tmsize_t k = 0; k < rowb; k++) row[k] = (uint8_t)((k * 7 + y * 13 + (uint32_t)pl * 51) ^ (k / 5));
            if (bps == 16 && spp == 1) /* 16-bit grey becomes 8 bits by clipping: keep values under 256 */
                for (tmsize_t k = 0; k + 1 < rowb; k += 2) row[k + 1] = 0;
            ok = TIFFWriteScanline(t, row, y, (uint16_t)pl) == 1;
        }
    free(row);
    TIFFClose(t);
    if (!ok) goto done;
    FILE *f = fopen(path, "rb");
    if (!f) goto done;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz > 0 && (out = malloc((size_t)sz)) != NULL && fread(out, 1, (size_t)sz, f) != (size_t)sz) {
        free(out);
        out = NULL;
    }
    fclose(f);
    *len = (size_t)sz;
done:
    unlink(path);
    return out;
}

/* Each valid file decodes to the same pixels from whole strips and by rows. */
static void rows_equal_whole(void) {
    static const struct {
        const char *what;
        int spp, bps;
        uint32_t rps;
        uint16_t comp, pred, pc;
        int ycbcr;
    } v[] = {
        {"LZW RGB", 3, 8, 8, COMPRESSION_LZW, 0, PLANARCONFIG_CONTIG, 0},
        {"LZW RGB predictor 2", 3, 8, 8, COMPRESSION_LZW, 2, PLANARCONFIG_CONTIG, 0},
        {"deflate RGB", 3, 8, 5, COMPRESSION_ADOBE_DEFLATE, 0, PLANARCONFIG_CONTIG, 0},
        {"deflate RGB 16-bit predictor 2", 3, 16, 8, COMPRESSION_ADOBE_DEFLATE, 2, PLANARCONFIG_CONTIG, 0},
        {"PackBits grey", 1, 8, 8, COMPRESSION_PACKBITS, 0, PLANARCONFIG_CONTIG, 0},
        {"LZW RGB separate planes", 3, 8, 8, COMPRESSION_LZW, 0, PLANARCONFIG_SEPARATE, 0},
        {"deflate grey 16-bit", 1, 16, 37, COMPRESSION_ADOBE_DEFLATE, 0, PLANARCONFIG_CONTIG, 0},
        {"CCITT G4 bilevel", 1, 1, 37, COMPRESSION_CCITTFAX4, 0, PLANARCONFIG_CONTIG, 0},
        {"CCITT G3 bilevel", 1, 1, 8, COMPRESSION_CCITTFAX3, 0, PLANARCONFIG_CONTIG, 0},
        {"JPEG RGB", 3, 8, 16, COMPRESSION_JPEG, 0, PLANARCONFIG_CONTIG, 0},
        {"JPEG YCbCr 2x2", 3, 8, 16, COMPRESSION_JPEG, 0, PLANARCONFIG_CONTIG, 1},
    };
    const uint64_t dflt = nli_tiff_whole_strip_max;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len = 0;
        uint8_t *f = tiff_valid(29, 37, v[i].spp, v[i].bps, v[i].rps, v[i].comp, v[i].pred, v[i].pc, v[i].ycbcr, &len);
        CHECK(f != NULL, "%s: libtiff could not write it", v[i].what);
        if (!f) continue;
        nli_image whole, rows;
        nli_tiff_whole_strip_max = dflt;
        int rw = nli_image_load_mem(f, len, "whole.tif", &whole);
        CHECK(rw == 0, "%s (whole strips): %s", v[i].what, rw ? nli_geterr() : "");
        nli_tiff_whole_strip_max = 0;
        int rr = nli_image_load_mem(f, len, "rows.tif", &rows);
        CHECK(rr == 0, "%s (by rows): %s", v[i].what, rr ? nli_geterr() : "");
        nli_tiff_whole_strip_max = dflt;
        if (rw == 0 && rr == 0) {
            size_t nb = (size_t)whole.w * (size_t)whole.h * 3, varied = 0;
            CHECK(rows.w == whole.w && rows.h == whole.h && !memcmp(rows.rgb, whole.rgb, nb),
                  "%s: pixels by rows differ from whole strips", v[i].what);
            for (size_t k = 1; k < nb; k++) varied += whole.rgb[k] != whole.rgb[k - 1];
            CHECK(whole.w == 29 && whole.h == 37 && varied > nb / 100, "%s: %dx%d, %zu of %zu values vary", v[i].what,
                  whole.w, whole.h, varied, nb);
            if (v[i].bps == 8 && v[i].spp == 3 && v[i].pc == PLANARCONFIG_CONTIG && v[i].comp != COMPRESSION_JPEG)
                CHECK(whole.rgb[3 * 30 + 1] == (uint8_t)((4 * 7 + 1 * 13) ^ (4 / 5)), "%s: a pixel is not what was written",
                      v[i].what);
        }
        if (rw == 0) nli_image_free(&whole);
        if (rr == 0) nli_image_free(&rows);
        free(f);
    }
}

/* The peak RSS of a child that loads data (KiB), or -1 if the child did
 * not exit as expected (decoded when ok, refused otherwise). */
static long child_peak(const uint8_t *data, size_t len, int ok) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        nli_image im;
        int rc = nli_image_load_mem(data, len, "child.tif", &im);
        _exit((rc == 0) == ok ? 0 : 1);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return ru.ru_maxrss;
}

int main(void) {
    uint8_t f[512], f2[512];
    /* a small one that is whole decodes (the layout is right) */
    size_t n2 = tiff_bomb(f2, 10, 10, 300), n;
    nli_image img;
    int rc = nli_image_load_mem(f2, n2, "whole.tif", &img);
    CHECK(rc == 0, "whole.tif: %s", rc ? nli_geterr() : "");
    if (rc == 0) {
        CHECK(img.w == 10 && img.h == 10 && img.rgb[0] == 0x80 && img.rgb[299] == 0x80, "whole.tif: %dx%d", img.w,
              img.h);
        nli_image_free(&img);
    }
    n = tiff_bomb(f, 13000, 13000, 100);
    CHECK(n == 222, "the bomb is %zu bytes", n);
    rc = nli_image_load_mem(f, n, "bomb.tif", &img);
    CHECK(rc != 0 && strstr(nli_geterr(), "truncated"), "bomb.tif: %s", rc ? nli_geterr() : "decoded");
    if (rc == 0) nli_image_free(&img);

    /* Peak memory, each in a child of its own (ru_maxrss: KiB on Linux),
     * against the small whole file's (a sanitizer or valgrind adds its own). */
    long base = child_peak(f2, n2, 1), bomb = child_peak(f, n, 0);
    printf("peak RSS: whole.tif %ld KiB, bomb.tif %ld KiB\n", base, bomb);
    CHECK(base > 0 && bomb > 0 && bomb < base + 100 * 1024, "loading a 222-byte TIFF took %ld KiB (a 10x10 one %ld)",
          bomb, base);

    /* compressed strips: refused as corrupt at row 0, in little memory */
    static const struct { uint16_t comp; const char *name; } codecs[] = {
        {8, "deflate"}, {5, "LZW"}, {32773, "PackBits"}};
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        n = tiff_bomb_c(f, 13000, 13000, 100, codecs[i].comp);
        rc = nli_image_load_mem(f, n, "cbomb.tif", &img);
        CHECK(rc != 0 && strstr(nli_geterr(), "corrupt TIFF"), "%s bomb: %s", codecs[i].name, rc ? nli_geterr() : "decoded");
        if (rc == 0) nli_image_free(&img);
        long peak = child_peak(f, n, 0);
        printf("peak RSS: %s bomb %ld KiB\n", codecs[i].name, peak);
        CHECK(peak > 0 && peak < base + 100 * 1024, "loading a %zu-byte %s TIFF declaring 13000x13000 took %ld KiB",
              n, codecs[i].name, peak);
    }

    /* one 60000x60000 tile for a 16x16 image: refused by its size */
    n = tiff_tile_bomb(f, 16, 16, 60000, 60000);
    rc = nli_image_load_mem(f, n, "tbomb.tif", &img);
    CHECK(rc != 0 && strstr(nli_geterr(), "tile of 60000x60000"), "tile bomb: %s", rc ? nli_geterr() : "decoded");
    if (rc == 0) nli_image_free(&img);
    long tpeak = child_peak(f, n, 0);
    printf("peak RSS: tile bomb %ld KiB\n", tpeak);
    CHECK(tpeak > 0 && tpeak < base + 100 * 1024, "loading a %zu-byte TIFF with one 60000x60000 tile took %ld KiB", n,
          tpeak);
    /* a tile a little larger than a large image is read (here: found corrupt) */
    n = tiff_tile_bomb(f, 4000, 4000, 4096, 4096);
    rc = nli_image_load_mem(f, n, "tile.tif", &img);
    CHECK(rc != 0 && strstr(nli_geterr(), "corrupt TIFF: tile at 0x0"), "4096 tile of a 4000x4000 image: %s",
          rc ? nli_geterr() : "decoded");
    if (rc == 0) nli_image_free(&img);

    /* 16-bit RGB, one tile a little larger than the image: 70 MB, 1.005x
     * the image's own samples (the first rule compared it with the 8-bit
     * RGB the image becomes, and refused it) */
    n = tiff_tile_bomb_bps(f, 3400, 3400, 3408, 3408, 16);
    rc = nli_image_load_mem(f, n, "tile16.tif", &img);
    CHECK(rc != 0 && strstr(nli_geterr(), "corrupt TIFF: tile at 0x0"), "16-bit 3408 tile of a 3400x3400 image: %s",
          rc ? nli_geterr() : "decoded");
    if (rc == 0) nli_image_free(&img);

    rows_equal_whole();
    return check_done();
}
