/* test_image_tiff_bomb.c — an uncompressed TIFF of 222 bytes that declares
 * 13000 x 13000 RGB pixels (500 MB) with one strip of 100 bytes: refused
 * as truncated (as Pillow does) before any pixel buffer is allocated. Each
 * strip or tile's byte range is checked against the file first; the old
 * decoder allocated and filled the whole image before finding the strip
 * short. The peak memory of a child process that loads it must stay far
 * below the image's size. Needs no reference data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "image.h"
#include "neglabel.h"
#include "util.h"

static size_t put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); return 2; }
static size_t put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); return 4; }

/* Little-endian TIFF: w x h, 3 x 8-bit RGB, one strip of nstrip bytes
 * (of value 0x80) right after the IFD; compression 1. */
static size_t tiff_bomb(uint8_t *o, uint32_t w, uint32_t h, uint32_t nstrip) {
    const uint16_t tags[9][3] = {{256, 4, 0}, {257, 4, 0}, {258, 3, 8}, {259, 3, 1}, {262, 3, 2},
                                 {273, 4, 0}, {277, 3, 3}, {278, 4, 0}, {279, 4, 0}};
    uint32_t data_off = 8 + 2 + 9 * 12 + 4;
    size_t n = 0;
    memcpy(o, "II*\0", 4);
    n = 4;
    n += put32(o + n, 8);
    n += put16(o + n, 9);
    for (int i = 0; i < 9; i++) {
        uint32_t v = tags[i][0] == 256 ? w : tags[i][0] == 257 || tags[i][0] == 278 ? h
                     : tags[i][0] == 273 ? data_off : tags[i][0] == 279 ? nstrip : tags[i][2];
        n += put16(o + n, tags[i][0]);
        n += put16(o + n, tags[i][1]);
        n += put32(o + n, 1);
        if (tags[i][1] == 3) n += put16(o + n, (uint16_t)v), n += put16(o + n, 0);
        else n += put32(o + n, v);
    }
    n += put32(o + n, 0);
    memset(o + n, 0x80, nstrip);
    return n + nstrip;
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
    return check_done();
}
