/* check.h — the tests' small assertion header.
 * CHECK(cond, fmt, ...) records a failure and continues; the test program
 * ends with check_done(), which prints "N passed, N failed" and returns the
 * exit status. Tests that need ../shared call check_shared(), which exits 77
 * (ctest: skipped) with a reason when the reference data is absent. */
#ifndef NEGLABEL_CHECK_H
#define NEGLABEL_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) {                                                             \
            check_passed++;                                                     \
        } else {                                                                \
            check_failed++;                                                     \
            fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

static inline int check_done(void) {
    printf("%d passed, %d failed\n", check_passed, check_failed);
    if (check_passed + check_failed == 0) {
        fprintf(stderr, "FAILED: no check ran\n");
        return 1;
    }
    return check_failed ? 1 : 0;
}

/* Cosine of two float vectors, summed in double; 0 when one is zero. */
static inline double check_cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / __builtin_sqrt(aa * bb) : 0.0;
}

/* max |a - g| / ||g|| (the engine tests' bound on one output row); NaN in
 * a counts as an infinite error. */
static inline double check_row_err(const float *a, const float *g, size_t dim) {
    double norm = 0, mx = 0;
    for (size_t d = 0; d < dim; d++) {
        norm += (double)g[d] * g[d];
        double e = __builtin_fabs((double)a[d] - g[d]);
        if (!(e <= mx)) mx = e != e ? __builtin_inf() : e;
    }
    return norm > 0 ? mx / __builtin_sqrt(norm) : mx;
}

/* The worst check_row_err over n rows of dim values. */
static inline double check_worst_row_err(const float *a, const float *g, size_t n, size_t dim) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = check_row_err(a + i * dim, g + i * dim, dim);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* Path of the shared reference data: NEGLABEL_SHARED as the test runs,
 * else NEGLABEL_SHARED_DEFAULT (set by ctest from the configure step), else
 * ../shared; NULL when it is not there. */
static inline const char *check_shared_opt(void) {
    const char *s = getenv("NEGLABEL_SHARED");
    if (!s || !*s) s = getenv("NEGLABEL_SHARED_DEFAULT");
    if (!s || !*s) s = "../shared";
    struct stat st;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/README.md", s);
    return stat(probe, &st) == 0 ? s : NULL;
}

/* The reference data, or exit 77 (ctest: skipped) with the reason. Tests
 * whose first part needs no data run it first and then call this: without
 * the data, what ran is reported, and a failure there is still a failure. */
static inline const char *check_shared(void) {
    const char *s = check_shared_opt();
    if (!s) {
        if (check_passed + check_failed) {
            printf("%d passed, %d failed without reference data\n", check_passed, check_failed);
            if (check_failed) exit(1);
        }
        printf("SKIP: reference data not found (set NEGLABEL_SHARED to the shared/ folder)\n");
        exit(77);
    }
    return s;
}

/* Join two path parts into a static-free heap string (caller frees). */
static inline char *check_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* tests/data/SUB/NAME under $NEGLABEL_SRC (ctest sets it) or "."; the last
 * four results stay valid. */
static inline const char *check_src_data(const char *sub, const char *name) {
    static char path[4][1024];
    static int k;
    const char *src = getenv("NEGLABEL_SRC");
    char *p = path[k++ & 3];
    snprintf(p, sizeof path[0], "%s/tests/data/%s/%s", src && *src ? src : ".", sub, name);
    return p;
}

/* Remove a test's temporary directory and everything in it; 0 on success. */
static inline int check_rm_rf(const char *dir) {
    char cmd[4200];
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= (int)sizeof cmd) return -1;
    return system(cmd);
}

/* A fresh temporary directory for the test (caller may leave it). */
static inline const char *check_tmpdir(void) {
    static char dir[] = "/tmp/neglabel-test-XXXXXX";
    static int made;
    if (!made) {
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
        made = 1;
    }
    return dir;
}
#endif
