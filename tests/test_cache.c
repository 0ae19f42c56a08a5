/* test_cache.c — the embedding cache: round trips, namespaces, damaged and
 * cut-off files, hostile lengths, limits and speed. Needs no shared data. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "check.h"
#include "neglabel.h"
#include "util.h"

#define DIM 8
static const char *NS = "clip-tiny@abc123|a photo of a {}.";

/* Record size for the fixed-width keys used below ("key-0000"). */
static size_t rec_size(size_t klen, size_t dim) { return 4 + klen + dim * 4 + 8; }
static size_t hdr_size(const char *ns) { return 36 + strlen(ns); }

static void vec_for(int i, float *v, size_t dim) {
    for (size_t j = 0; j < dim; j++) v[j] = (float)i * 0.5f + (float)j / 7.0f - 3.0f;
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* stderr capture, to check that damage is reported (once, naming the file). */
static int saved_fd = -1;
static char cap_path[512];
static void cap_begin(void) {
    fflush(stderr);
    snprintf(cap_path, sizeof cap_path, "%s/stderr.txt", check_tmpdir());
    int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
}
static char *cap_end(void) {
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    char *s = NULL;
    size_t n;
    if (nli_read_file(cap_path, 1 << 20, &s, &n) != 0) s = strdup("");
    return s;
}
static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Write n records "key-0000".. into a fresh cache at path. */
static void fill(const char *path, const char *ns, int n) {
    unlink(path);
    nli_cache *c = nli_cache_open(path, ns, DIM);
    CHECK(c != NULL, "open %s: %s", path, nli_geterr());
    if (!c) return;
    float v[DIM];
    char key[32];
    for (int i = 0; i < n; i++) {
        vec_for(i, v, DIM);
        snprintf(key, sizeof key, "key-%04d", i);
        CHECK(nli_cache_put(c, key, v) == 0, "put %s: %s", key, nli_geterr());
    }
    nli_cache_close(c);
}

/* Open, expect count and that keys [0, keep) hit with the right vectors and
 * [keep, total) miss; returns what was written on stderr. */
static char *reopen_expect(const char *path, const char *ns, size_t dim, int keep, int total) {
    cap_begin();
    nli_cache *c = nli_cache_open(path, ns, dim);
    char *err = cap_end();
    CHECK(c != NULL, "reopen %s: %s", path, nli_geterr());
    if (!c) return err;
    CHECK(nli_cache_count(c) == (size_t)keep, "count %zu, expected %d", nli_cache_count(c), keep);
    float v[DIM], w[DIM];
    char key[32];
    int good = 1;
    for (int i = 0; i < total && dim == DIM; i++) {
        snprintf(key, sizeof key, "key-%04d", i);
        int hit = nli_cache_get(c, key, w);
        vec_for(i, v, DIM);
        if (hit != (i < keep) || (hit && memcmp(v, w, sizeof v) != 0)) good = 0;
    }
    CHECK(good, "hits are exactly keys 0..%d with their vectors", keep - 1);
    nli_cache_close(c);
    return err;
}

static void flip_byte(const char *path, long off) {
    int fd = open(path, O_RDWR);
    unsigned char b;
    CHECK(pread(fd, &b, 1, off) == 1, "read byte %ld", off);
    b ^= 0x40;
    CHECK(pwrite(fd, &b, 1, off) == 1, "write byte %ld", off);
    close(fd);
}

static void test_round_trip(const char *dir) {
    char *p = check_path(dir, "sub/dir/rt.nlc"); /* parent folders are created */
    nli_cache *c = nli_cache_open(p, NS, DIM);
    CHECK(c != NULL, "open new: %s", nli_geterr());
    if (!c) { free(p); return; }
    CHECK(nli_cache_count(c) == 0, "new cache is empty");
    float v[DIM], w[DIM];
    vec_for(1, v, DIM);
    CHECK(nli_cache_get(c, "a", w) == 0, "miss on empty");
    CHECK(nli_cache_put(c, "a", v) == 0, "put a");
    CHECK(nli_cache_get(c, "a", w) == 1 && memcmp(v, w, sizeof v) == 0, "hit a in memory");
    vec_for(2, v, DIM);
    v[0] = -0.0f;
    v[1] = 1e-45f; /* denormal: bits must survive */
    CHECK(nli_cache_put(c, "b", v) == 0, "put b");
    vec_for(3, v, DIM);
    CHECK(nli_cache_put(c, "a", v) == 0, "replace a");
    CHECK(nli_cache_count(c) == 2, "replace does not add (count %zu)", nli_cache_count(c));
    CHECK(nli_cache_put(c, "", v) == 0, "empty key is a key");
    v[4] = NAN;
    CHECK(nli_cache_put(c, "nan", v) == -1 && strstr(nli_geterr(), "non-finite"), "NaN refused: %s", nli_geterr());
    v[4] = INFINITY;
    CHECK(nli_cache_put(c, "inf", v) == -1, "Inf refused");
    CHECK(nli_cache_count(c) == 3 && nli_cache_get(c, "nan", w) == 0, "refused vectors not stored");

    /* Nothing is written before the flush; flushed records are on disk
     * before close. A second handle (another process) opens the same file,
     * sees them, and what it stores is seen by the first when it locks. */
    CHECK(file_size(p) == (long)hdr_size(NS), "puts are held until the flush (size %ld)", file_size(p));
    CHECK(nli_cache_flush(c) == 0, "flush");
    CHECK(file_size(p) == (long)(hdr_size(NS) + 3 * rec_size(1, DIM) + rec_size(0, DIM)),
          "file holds header + 4 records after flush (size %ld)", file_size(p));
    nli_cache *c2 = nli_cache_open(p, NS, DIM);
    CHECK(c2 != NULL && nli_cache_count(c2) == 3, "second handle opens and sees 3 keys: %s",
          c2 ? "" : nli_geterr());
    vec_for(9, v, DIM);
    CHECK(c2 && nli_cache_put(c2, "shared", v) == 0 && nli_cache_flush(c2) == 0, "second handle stores a key");
    nli_cache_close(c2);
    CHECK(nli_cache_get(c, "shared", w) == 0, "not seen before the first handle locks");
    CHECK(nli_cache_lock(c) == 0 && nli_cache_get(c, "shared", w) == 1 && memcmp(v, w, sizeof v) == 0,
          "seen after it locks (%zu keys)", nli_cache_count(c));
    CHECK(nli_cache_flush(c) == 0, "unlock");
    nli_cache_close(c);

    cap_begin();
    c = nli_cache_open(p, NS, DIM);
    char *err = cap_end();
    CHECK(c != NULL && nli_cache_count(c) == 4, "reopen: 4 keys");
    CHECK(err[0] == 0, "clean reopen is silent, got: %s", err);
    free(err);
    if (c) {
        vec_for(3, v, DIM);
        CHECK(nli_cache_get(c, "a", w) == 1 && memcmp(v, w, sizeof v) == 0, "last put of a wins");
        vec_for(2, v, DIM);
        v[0] = -0.0f;
        v[1] = 1e-45f;
        CHECK(nli_cache_get(c, "b", w) == 1 && memcmp(v, w, sizeof v) == 0, "b bit-exact");
        CHECK(nli_cache_get(c, "", w) == 1, "empty key");
        CHECK(nli_cache_get(c, "c", w) == 0, "miss c");
    }
    nli_cache_close(c);
    free(p);
}

/* Another process that opens the cache while this one holds the lock (it
 * computes a chunk) waits, then finds what this one stored. No timing: the
 * child's log callback reports on a pipe that it found the lock taken and is
 * about to wait; only then does the parent store and unlock. */
static void wait_logged(nl_log_level level, const char *msg, void *user) {
    (void)level;
    if (strstr(msg, "waiting for it")) {
        int *fd = user;
        if (write(*fd, "w", 1) != 1) _exit(4);
    }
}

static void test_lock_wait(const char *dir) {
    char *p = check_path(dir, "wait.nlc");
    nli_cache *c = nli_cache_open(p, NS, DIM);
    CHECK(c != NULL && nli_cache_lock(c) == 0, "open and lock: %s", nli_geterr());
    int fds[2];
    if (!c || pipe(fds) != 0) {
        if (c) CHECK(0, "pipe: %s", strerror(errno));
        nli_cache_close(c);
        free(p);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        nl_set_log(wait_logged, &fds[1]);
        nli_cache *c2 = nli_cache_open(p, NS, DIM); /* logs, then blocks until the parent's flush */
        float w[DIM];
        int found = c2 && nli_cache_get(c2, "late", w) == 1;
        nli_cache_close(c2);
        _exit(found ? 0 : 3);
    }
    close(fds[1]);
    char b = 0;
    ssize_t r = read(fds[0], &b, 1); /* the child is waiting for the lock (0: it exited without) */
    close(fds[0]);
    CHECK(r == 1 && b == 'w', "the other process found the lock taken and waits");
    float v[DIM];
    vec_for(7, v, DIM);
    CHECK(nli_cache_put(c, "late", v) == 0 && nli_cache_flush(c) == 0, "store while the other waits");
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the other process, once the lock was free, found the entry (status %d: 3 = not found, 4 = pipe)",
          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    nli_cache_close(c);
    free(p);
}

/* Waiting for another process's lock asks the cancel callback (Ctrl-C in
 * the CLI, whose SA_RESTART used to restart a blocking flock until the
 * holder let go): the child gives up within a second of being told to. If
 * it does not, the parent unlocks after 4 s and the child reports it. */
static double mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static double stop_after;
static int stop_late(void *user) { (void)user; return mono() > stop_after; }

static void test_lock_cancel(const char *dir) {
    char *p = check_path(dir, "cancel.nlc");
    nli_cache *c = nli_cache_open(p, NS, DIM);
    CHECK(c != NULL && nli_cache_lock(c) == 0, "open and lock: %s", nli_geterr());
    if (!c) { free(p); return; }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        double t0 = mono();
        stop_after = t0 + 0.5;
        nl_set_cancel(stop_late, NULL);
        nli_cache *c2 = nli_cache_open(p, NS, DIM);
        double took = mono() - t0;
        if (c2) { nli_cache_close(c2); _exit(3); }      /* got the lock: not cancelled */
        if (nl_last_status() != NL_ERR_CANCELLED) _exit(4);
        _exit(took < 2.0 ? 0 : 5);
    }
    int st = 0, let_go = 0;
    double t0 = mono();
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (mono() - t0 > 4 && !let_go) { /* let go (a flush unlocks the description the child shares) */
            float v[DIM];
            vec_for(1, v, DIM);
            CHECK(nli_cache_put(c, "k", v) == 0 && nli_cache_flush(c) == 0, "unlock: %s", nli_geterr());
            let_go = 1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "waiting for the lock, cancelled (status %d: 3 = waited for the holder, 4 = another error, 5 = slow)",
          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    nli_cache_close(c);
    free(p);
}

/* The file replaced in place while a handle has it open (a backup copied
 * over it) is read again from its header: the handle finds the copy's
 * entries, and the file is not cut at the old end of this handle's view
 * (which falls inside a record of the copy: it used to be taken for a
 * damaged tail and cut back, dropping every entry). */
static void test_replaced_in_place(const char *dir) {
    char *p = check_path(dir, "replaced.nlc");
    fill(p, NS, 5); /* key-0000..key-0004 */
    char *backup = NULL;
    size_t blen = 0;
    CHECK(nli_read_file(p, 1 << 20, &backup, &blen) == 0, "read %s: %s", p, nli_geterr());
    unlink(p);
    nli_cache *a = nli_cache_open(p, NS, DIM);
    float v[DIM], w[DIM];
    vec_for(99, v, DIM);
    CHECK(a && nli_cache_put(a, "a", v) == 0 && nli_cache_flush(a) == 0, "a: %s", nli_geterr());
    int fd = open(p, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && backup && write(fd, backup, blen) == (ssize_t)blen, "copy the backup over %s", p);
    if (fd >= 0) close(fd);
    if (a && backup) {
        cap_begin();
        CHECK(nli_cache_lock(a) == 0, "reload: %s", nli_geterr());
        free(cap_end());
        int good = 1;
        for (int i = 0; i < 5; i++) {
            char key[32];
            snprintf(key, sizeof key, "key-%04d", i);
            vec_for(i, v, DIM);
            if (nli_cache_get(a, key, w) != 1 || memcmp(v, w, sizeof v) != 0) good = 0;
        }
        CHECK(good, "the handle finds the copy's 5 entries");
        CHECK(nli_cache_flush(a) == 0, "unlock: %s", nli_geterr());
        struct stat st;
        CHECK(stat(p, &st) == 0 && (size_t)st.st_size == blen, "the copy is whole (%lld of %zu bytes)",
              (long long)st.st_size, blen);
    }
    nli_cache_close(a);
    free(reopen_expect(p, NS, DIM, 5, 5));
    free(backup);
    free(p);
}

static void test_foreign(const char *dir) {
    char *p = check_path(dir, "foreign.nlc");
    fill(p, NS, 5);
    char *err = reopen_expect(p, "another-model|a photo of a {}.", DIM, 0, 5);
    CHECK(strstr(err, "foreign.nlc") && strstr(err, "another namespace") && count_lines(err) == 1,
          "foreign namespace reported once, naming the file: %s", err);
    free(err);
    /* The file was rebuilt for the new namespace: reopening it is clean. */
    err = reopen_expect(p, "another-model|a photo of a {}.", DIM, 0, 0);
    CHECK(err[0] == 0, "rebuilt file reopens silently: %s", err);
    free(err);
    /* And the old data is gone, not silently reused. */
    err = reopen_expect(p, NS, DIM, 0, 5);
    CHECK(strstr(err, "another namespace"), "back to the first namespace is foreign too");
    free(err);

    fill(p, NS, 5);
    err = reopen_expect(p, NS, 16, 0, 0);
    CHECK(strstr(err, "foreign.nlc") && strstr(err, "dim 8, not 16"), "wrong dim reported: %s", err);
    free(err);
    err = reopen_expect(p, NS, 16, 0, 0);
    CHECK(err[0] == 0, "rebuilt for dim 16: %s", err);
    free(err);

    fill(p, NS, 5);
    flip_byte(p, 30); /* inside the namespace string: header checksum fails */
    err = reopen_expect(p, NS, DIM, 0, 5);
    CHECK(strstr(err, "checksum"), "damaged header reported: %s", err);
    free(err);

    CHECK(nl_write_file_atomic(p, "NLCACHE1\x02\0\0\0", 12) == 0, "write v2 header");
    err = reopen_expect(p, NS, DIM, 0, 0);
    CHECK(strstr(err, "version 2"), "newer format version reported: %s", err);
    free(err);
    free(p);
}

static void test_damaged_tail(const char *dir) {
    char *p = check_path(dir, "tail.nlc");
    size_t h = hdr_size(NS), r = rec_size(8, DIM);

    fill(p, NS, 10);
    CHECK(file_size(p) == (long)(h + 10 * r), "10 records on disk");
    flip_byte(p, (long)(h + 5 * r + 20)); /* inside record 5's vector */
    char *err = reopen_expect(p, NS, DIM, 5, 10);
    CHECK(strstr(err, "tail.nlc") && strstr(err, "checksum") && count_lines(err) == 1,
          "damaged record reported once: %s", err);
    free(err);
    CHECK(file_size(p) == (long)(h + 5 * r), "file cut back to 5 records (%ld)", file_size(p));
    err = reopen_expect(p, NS, DIM, 5, 10);
    CHECK(err[0] == 0, "valid after repair: %s", err);
    free(err);

    /* Interrupted run: cut mid-record, resume, and keep appending. */
    fill(p, NS, 10);
    CHECK(truncate(p, (off_t)(h + 7 * r + r / 2)) == 0, "truncate");
    err = reopen_expect(p, NS, DIM, 7, 10);
    CHECK(strstr(err, "cut-off"), "cut-off record reported: %s", err);
    free(err);
    nli_cache *c = nli_cache_open(p, NS, DIM);
    float v[DIM];
    vec_for(7, v, DIM);
    CHECK(c && nli_cache_put(c, "key-0007", v) == 0, "resume: put the missing record");
    nli_cache_close(c);
    err = reopen_expect(p, NS, DIM, 8, 10);
    CHECK(err[0] == 0, "resumed file is valid: %s", err);
    free(err);

    /* Cut inside the length field of a record. */
    fill(p, NS, 3);
    CHECK(truncate(p, (off_t)(h + 2 * r + 2)) == 0, "truncate");
    free(reopen_expect(p, NS, DIM, 2, 3));

    /* Hostile key length: 0xffffffff after 3 good records. */
    fill(p, NS, 3);
    int fd = open(p, O_WRONLY | O_APPEND);
    CHECK(write(fd, "\xff\xff\xff\xff junk junk junk", 19) == 19, "append junk");
    close(fd);
    err = reopen_expect(p, NS, DIM, 3, 3);
    CHECK(strstr(err, "key length"), "huge key length reported: %s", err);
    free(err);
    CHECK(file_size(p) == (long)(h + 3 * r), "junk removed");

    /* Header only, and an empty file, are both empty caches. */
    fill(p, NS, 0);
    CHECK(file_size(p) == (long)h, "header-only file (%ld)", file_size(p));
    free(reopen_expect(p, NS, DIM, 0, 0));
    CHECK(nl_write_file_atomic(p, "", 0) == 0, "empty file");
    err = reopen_expect(p, NS, DIM, 0, 0);
    CHECK(err[0] == 0 && file_size(p) == (long)h, "empty file silently gets a header: %s", err);
    free(err);
    free(p);
}

static void test_garbage(const char *dir) {
    char *p = check_path(dir, "garbage.nlc");
    unsigned char junk[1000];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        s = s * 1664525u + 1013904223u;
        junk[i] = (unsigned char)(s >> 24);
    }
    CHECK(nl_write_file_atomic(p, junk, sizeof junk) == 0, "write garbage");
    char *err = reopen_expect(p, NS, DIM, 0, 0);
    CHECK(strstr(err, "garbage.nlc") && strstr(err, "bad magic"), "garbage reported: %s", err);
    free(err);
    CHECK(file_size(p) == (long)hdr_size(NS), "garbage replaced by a header");
    CHECK(nl_write_file_atomic(p, "NLCA", 4) == 0, "write short file");
    err = reopen_expect(p, NS, DIM, 0, 0);
    CHECK(strstr(err, "too short"), "short file reported: %s", err);
    free(err);
    free(p);
}

static void test_limits(const char *dir) {
    char *p = check_path(dir, "limits.nlc");
    unlink(p);
    nli_cache *c = nli_cache_open(p, NS, DIM);
    CHECK(c != NULL, "open");
    if (!c) { free(p); return; }
    char *key = malloc(NL_CACHE_MAX_KEY + 2);
    memset(key, 'k', NL_CACHE_MAX_KEY + 1);
    key[NL_CACHE_MAX_KEY + 1] = 0;
    float v[DIM], w[DIM];
    vec_for(9, v, DIM);
    CHECK(nli_cache_put(c, key, v) == -1 && strstr(nli_geterr(), "limit"), "key over the limit refused");
    key[NL_CACHE_MAX_KEY] = 0;
    CHECK(nli_cache_put(c, key, v) == 0, "key of maximum length: %s", nli_geterr());
    nli_cache_close(c);
    c = nli_cache_open(p, NS, DIM);
    CHECK(c && nli_cache_count(c) == 1 && nli_cache_get(c, key, w) == 1 && memcmp(v, w, sizeof v) == 0,
          "maximum-length key survives reopen");
    key[NL_CACHE_MAX_KEY - 1] = 0;
    CHECK(c && nli_cache_get(c, key, w) == 0, "a prefix of it is another key");
    nli_cache_close(c);
    free(key);

    CHECK(nli_cache_open(p, NS, 0) == NULL && strstr(nli_geterr(), "dim"), "dim 0 refused");
    CHECK(nli_cache_open(p, NS, NL_CACHE_MAX_DIM + 1) == NULL, "huge dim refused");
    CHECK(nli_cache_open("/proc/version", NS, DIM) == NULL, "unwritable path refused: %s", nli_geterr());
    free(p);
}

static void test_many(const char *dir) {
    enum { N = 100000, D = 16 };
    char *p = check_path(dir, "many.nlc");
    unlink(p);
    double t0 = nli_now();
    nli_cache *c = nli_cache_open(p, NS, D);
    CHECK(c != NULL, "open");
    if (!c) { free(p); return; }
    float v[D], w[D];
    char key[64];
    int ok = 1;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "/data/images/class%03d/img_%06d.jpg|1234|%d", i % 1000, i, i * 7);
        for (int j = 0; j < D; j++) v[j] = (float)(i ^ j);
        if (nli_cache_put(c, key, v) != 0) ok = 0;
        if (i % 500 == 499 && nli_cache_flush(c) != 0) ok = 0;
    }
    CHECK(ok, "100k puts");
    nli_cache_close(c);
    double t1 = nli_now();
    c = nli_cache_open(p, NS, D);
    CHECK(c && nli_cache_count(c) == N, "reopen: %zu keys", c ? nli_cache_count(c) : 0);
    for (int i = 0; c && i < N; i++) {
        snprintf(key, sizeof key, "/data/images/class%03d/img_%06d.jpg|1234|%d", i % 1000, i, i * 7);
        for (int j = 0; j < D; j++) v[j] = (float)(i ^ j);
        if (nli_cache_get(c, key, w) != 1 || memcmp(v, w, sizeof v) != 0) ok = 0;
    }
    CHECK(ok, "100k gets after reopen");
    CHECK(c && nli_cache_get(c, "/data/images/class000/img_000000.jpg|1234|1", w) == 0, "near-miss key");
    nli_cache_close(c);
    double t2 = nli_now();
    printf("100k keys: write %.2f s, reopen + read %.2f s\n", t1 - t0, t2 - t1);
    CHECK(t2 - t0 < 30.0, "100k keys take %.1f s", t2 - t0);
    free(p);
}

/* The peak RSS (KiB) of a child opening path (want entries of dim), -1 if
 * it failed. */
static long open_peak(const char *path, size_t dim, size_t want) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        nli_cache *c = nli_cache_open(path, NS, dim);
        _exit(c && nli_cache_count(c) == want ? 0 : 1);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return ru.ru_maxrss;
}

/* Opening a cache holds its vectors once: the file's mapped pages are
 * given back as they are read, and the vectors' array is not copied as it
 * grows. Before: the file and the copy (2.0x the file: 427 MB to open a
 * 216 MB cache of 100,000 vectors of 512). */
static void test_open_memory(const char *dir) {
    enum { N = 32768, D = 512 };
    char *p = check_path(dir, "big.nlc"), *small = check_path(dir, "small.nlc");
    unlink(p);
    unlink(small);
    nli_cache *c = nli_cache_open(p, NS, D), *s = nli_cache_open(small, NS, D);
    CHECK(c && s, "open");
    float v[D];
    char key[64];
    int ok = c && s;
    for (int i = 0; ok && i < N; i++) {
        snprintf(key, sizeof key, "/data/img_%06d.jpg|1234|%d", i, i * 7);
        for (int j = 0; j < D; j++) v[j] = (float)(i ^ j);
        if (nli_cache_put(c, key, v) != 0 || (i < 2 && nli_cache_put(s, key, v) != 0)) ok = 0;
        if (i % 512 == 511 && nli_cache_flush(c) != 0) ok = 0;
    }
    CHECK(ok, "%d puts", N);
    nli_cache_close(c);
    nli_cache_close(s);
    long size = file_size(p) / 1024, base = open_peak(small, D, 2), peak = open_peak(p, D, N);
    printf("open: a cache of 2 vectors %ld KiB, of %d vectors of %d (%ld KiB) %ld KiB\n", base, N, D, size, peak);
    CHECK(base > 0 && peak > 0 && peak - base < size * 3 / 2, "opening a %ld KiB cache took %ld KiB (a small one %ld)",
          size, peak, base);
    unlink(p);
    unlink(small);
    free(p);
    free(small);
}

static void test_file_key(const char *dir) {
    char *p = check_path(dir, "img.jpg");
    CHECK(nl_write_file_atomic(p, "abcdef", 6) == 0, "write");
    char *k = nli_cache_file_key(p);
    CHECK(k && k[0] == '/' && strstr(k, "img.jpg|6|"), "file key: %s", k ? k : nli_geterr());
    /* replaced by other bytes of the same size, given the old mtime (as
     * cp -p, rsync -a or touch -r do): another key (it used to be the same:
     * the old embedding came back) */
    struct timespec pause = {0, 50 * 1000 * 1000}; /* past the coarse clock ctime is taken from */
    nanosleep(&pause, NULL);
    char *r = check_path(dir, "img.new");
    struct stat st;
    CHECK(nl_write_file_atomic(r, "ABCDEF", 6) == 0 && stat(p, &st) == 0, "write the replacement");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    CHECK(utimensat(AT_FDCWD, r, times, 0) == 0 && rename(r, p) == 0, "replace with the old mtime: %s",
          strerror(errno));
    char *k2 = nli_cache_file_key(p);
    CHECK(k && k2 && strcmp(k, k2) != 0, "a replacement with the same size and mtime: key %s, before %s",
          k2 ? k2 : nli_geterr(), k ? k : "-");
    char *k3 = nli_cache_file_key(p);
    CHECK(k2 && k3 && !strcmp(k2, k3), "the same file twice: the same key");
    free(k3);
    free(k2);
    free(r);
    free(k);
    char *q = check_path(dir, "missing.jpg");
    k = nli_cache_file_key(q);
    CHECK(k == NULL && strstr(nli_geterr(), "missing.jpg"), "missing file: %s", nli_geterr());
    free(q);
    free(p);
}

/* The library reports cache damage through the log callback (silent by
 * default); this one prints like the CLI's, so the capture sees it. */
static void log_stderr(nl_log_level level, const char *msg, void *user) {
    (void)user;
    fprintf(stderr, "neglabel: %s%s\n", level == NL_LOG_WARN ? "warning: " : "", msg);
}

int main(void) {
    nl_set_log(log_stderr, NULL);
    const char *dir = check_tmpdir();
    test_round_trip(dir);
    test_lock_wait(dir);
    test_lock_cancel(dir);
    test_replaced_in_place(dir);
    test_foreign(dir);
    test_damaged_tail(dir);
    test_garbage(dir);
    test_limits(dir);
    test_many(dir);
    test_open_memory(dir);
    test_file_key(dir);
    return check_done();
}
