/* test_npy.c — .npy round trip, float64 load, v2.0 headers, and every
 * hostile header we refuse. Files are built byte by byte here. */
#include "check.h"
#include "neglabel.h"
#include "util.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp(const char *name) { return check_path(check_tmpdir(), name); }

/* Write magic, version, header (padded to 16 with '\n') and data bytes. */
static char *write_npy(const char *name, int major, const char *dict, const void *data, size_t n) {
    char *p = tmp(name);
    FILE *f = fopen(p, "wb");
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    while ((pre + hl) % 16) hl++;
    fwrite("\x93NUMPY", 1, 6, f);
    fputc(major, f);
    fputc(0, f);
    fputc((int)(hl & 0xff), f);
    fputc((int)((hl >> 8) & 0xff), f);
    if (major == 2) { fputc(0, f); fputc(0, f); }
    fputs(dict, f);
    for (size_t i = strlen(dict); i + 1 < hl; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, n, f);
    fclose(f);
    return p;
}

static void expect_fail(const char *name, const char *path, const char *needle) {
    float *d = NULL;
    size_t r, c;
    int rc = nl_npy_load(path, &d, &r, &c);
    CHECK(rc == -1 && d == NULL, "%s: accepted", name);
    CHECK(strstr(nl_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", name, nl_last_error(), needle);
    CHECK(strstr(nl_last_error(), path) != NULL, "%s: message '%s' does not name the file", name, nl_last_error());
}

/* Threads saving one path at once (nl_npy_* may run concurrently): each
 * call succeeds and the file is one of them, whole. Before, they shared
 * the temporary file "<path>.tmp.<pid>": one truncated and wrote over the
 * other's, whose rename then failed ("cannot rename into place"). */
typedef struct { const char *path; size_t rows; int fails; char msg[256]; } saver;
static void *save_many(void *arg) {
    saver *s = arg;
    enum { COLS = 32 };
    float *d = malloc(s->rows * COLS * sizeof(float));
    for (size_t i = 0; i < s->rows * COLS; i++) d[i] = (float)s->rows;
    for (int k = 0; k < 100; k++)
        if (nl_npy_save(s->path, d, s->rows, COLS) != 0 && !s->fails++)
            snprintf(s->msg, sizeof s->msg, "%s", nl_last_error());
    free(d);
    return NULL;
}
static void concurrent_saves(void) {
    char *dir = tmp("concurrent"), *p = check_path(dir, "same.npy");
    mkdir(dir, 0755);
    /* temporary files a killed writer of this host and pid namespace left
     * (a pid that has ended, this process's tag): removed by the next save
     * of that path. Kept: another namespace's or host's (its pid cannot be
     * checked here), and names that only look like ours (a user's
     * "same.npy.old.20240101", the untagged form of earlier versions). */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char stale[2][600], keep[4][600];
    snprintf(stale[0], sizeof stale[0], "%s.tmp.%ld.7.%s", p, (long)child, nli_temp_tag());
    snprintf(stale[1], sizeof stale[1], "%s.old.%ld.0.%s", p, (long)child, nli_temp_tag());
    snprintf(keep[0], sizeof keep[0], "%s.tmp.%ld.7.%s", p, (long)child, strcmp(nli_temp_tag(), "0badc0de") ? "0badc0de" : "0badc0df");
    snprintf(keep[1], sizeof keep[1], "%s.old.20240101", p);
    snprintf(keep[2], sizeof keep[2], "%s.tmp.%ld", p, (long)child);
    snprintf(keep[3], sizeof keep[3], "%s.old.%ld.7", p, (long)child);
    CHECK(strlen(nli_temp_tag()) == 8 && strspn(nli_temp_tag(), "0123456789abcdef") == 8, "tag '%s'", nli_temp_tag());
    for (int i = 0; i < 2; i++) fclose(fopen(stale[i], "w"));
    for (int i = 0; i < 4; i++) fclose(fopen(keep[i], "w"));
    saver s[2] = {{p, 50, 0, ""}, {p, 2000, 0, ""}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, save_many, &s[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK(s[0].fails == 0 && s[1].fails == 0, "concurrent saves of one path failed %d and %d times: %s%s", s[0].fails,
          s[1].fails, s[0].msg, s[1].msg);
    float *d = NULL;
    size_t r = 0, c = 0;
    CHECK(nl_npy_load(p, &d, &r, &c) == 0 && (r == 50 || r == 2000) && c == 32 && d[0] == (float)r &&
              d[r * c - 1] == (float)r,
          "the file is one save, whole: %s (%zu x %zu)", nl_last_error(), r, c);
    free(d);
    struct stat st;
    for (int i = 0; i < 4; i++) {
        CHECK(stat(keep[i], &st) == 0, "%s was removed", keep[i]);
        unlink(keep[i]);
    }
    DIR *dd = opendir(dir);
    int others = 0;
    for (struct dirent *e; dd && (e = readdir(dd));)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "same.npy")) {
            others++;
            printf("left: %s\n", e->d_name);
        }
    if (dd) closedir(dd);
    CHECK(others == 0, "%d temporary files left beside the file", others);
    free(p);
    free(dir);
}

int main(void) {
    /* round trip */
    float x[3 * 5];
    for (int i = 0; i < 15; i++) x[i] = (float)(i * 0.37 - 2.1);
    char *p = tmp("a.npy");
    CHECK(nl_npy_save(p, x, 3, 5) == 0, "save: %s", nl_last_error());
    float *d = NULL;
    size_t r = 0, c = 0;
    CHECK(nl_npy_load(p, &d, &r, &c) == 0, "load: %s", nl_last_error());
    CHECK(r == 3 && c == 5 && d && !memcmp(d, x, sizeof x), "round trip differs");
    free(d);
    /* header as numpy writes it: data offset a multiple of 64 */
    FILE *f = fopen(p, "rb");
    unsigned char h[10];
    CHECK(fread(h, 1, 10, f) == 10, "short file");
    fclose(f);
    CHECK((10 + h[8] + 256 * h[9]) % 64 == 0, "header not 64-aligned");
    free(p);

    /* float64, v1 and v2 headers */
    double y[6] = {1, -2.5, 3.25, 1e-3, 0, 7};
    const char *f8 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    for (int major = 1; major <= 2; major++) {
        p = write_npy(major == 1 ? "f8v1.npy" : "f8v2.npy", major, f8, y, sizeof y);
        CHECK(nl_npy_load(p, &d, &r, &c) == 0, "f8 v%d: %s", major, nl_last_error());
        int same = d && r == 2 && c == 3;
        for (int i = 0; same && i < 6; i++) same = d[i] == (float)y[i];
        CHECK(same, "f8 v%d values differ", major);
        free(d);
        free(p);
    }
    /* hostile */
    struct { const char *name, *dict, *needle; size_t bytes; } bad[] = {
        {"fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "fortran_order", 24},
        {"dtype i4", "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", "dtype", 24},
        {"big endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", "dtype", 24},
        {"1-D", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", "2-D", 24},
        {"3-D", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", "2-D", 24},
        {"short data", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", "needs 24", 20},
        {"long data", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", "needs 24", 28},
        {"overflow", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", "too large", 24},
        {"huge dim", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }", "2-D", 24},
        {"no descr", "{'fortran_order': False, 'shape': (2, 3), }", "descr", 24},
    };
    float z[7] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = write_npy("bad.npy", 1, bad[i].dict, z, bad[i].bytes);
        expect_fail(bad[i].name, p, bad[i].needle);
        free(p);
    }
    /* non-finite values: message names row and column */
    float nf[6] = {1, 2, 3, 4, NAN, 6};
    p = write_npy("nan.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", nf, sizeof nf);
    expect_fail("NaN", p, "row 1, col 1");
    free(p);
    double big[2] = {1, 1e300};
    p = write_npy("big.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", big, sizeof big);
    expect_fail("f8 beyond float32", p, "row 0, col 1");
    free(p);
    /* truncated header, bad magic, header length past the end, version 3 */
    p = tmp("trunc.npy");
    f = fopen(p, "wb");
    fwrite("\x93NUMPY\x01\x00\xff\x00{'descr'", 1, 18, f);
    fclose(f);
    expect_fail("header past end", p, "past end");
    f = fopen(p, "wb");
    fwrite("PK\x03\x04 not numpy at all", 1, 22, f);
    fclose(f);
    expect_fail("magic", p, "magic");
    f = fopen(p, "wb");
    fwrite("\x93NUMPY\x03\x00\x00\x00\x00\x00", 1, 12, f);
    fclose(f);
    expect_fail("version 3", p, "version");
    f = fopen(p, "wb");
    fclose(f);
    expect_fail("empty file", p, "magic");
    free(p);
    p = tmp("missing.npy");
    expect_fail("missing", p, "cannot open");
    /* save refuses NaN and leaves no file */
    CHECK(nl_npy_save(p, nf, 2, 3) == -1, "saved NaN");
    CHECK(strstr(nl_last_error(), "row 1, col 1") != NULL, "message: %s", nl_last_error());
    struct stat st;
    CHECK(stat(p, &st) != 0, "file left after refused save");
    free(p);
    /* no rows: data may be NULL (before: passed on to fwrite, undefined
     * behaviour that the sanitizer build stops at) */
    p = tmp("empty-rows.npy");
    float *e = NULL;
    size_t er = 9, ec = 9;
    CHECK(nl_npy_save(p, NULL, 0, 5) == 0 && nl_npy_load(p, &e, &er, &ec) == 0 && er == 0 && ec == 5,
          "0 x 5 with NULL data: %s (%zu x %zu)", nl_last_error(), er, ec);
    free(e);
    free(p);
    concurrent_saves();
    return check_done();
}
