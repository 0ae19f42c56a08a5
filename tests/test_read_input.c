/* test_read_input.c — nli_read_input, how text inputs (labels, negatives,
 * scores, image lists) are read: a regular file as nli_read_file reads it;
 * a pipe to its end (3 MiB through a 64 KiB pipe buffer, byte for byte),
 * refused one byte past the limit and taken at exactly the limit; an empty
 * pipe, /dev/null and a FIFO without a writer read as empty without
 * waiting; a slow writer is waited for, and nl_set_cancel's callback is
 * asked while waiting (a silent writer is stopped by it in well under a
 * second; it used to block in read() until the writer closed); a folder is
 * neither; "-" is no name for standard input, and the
 * message says which is. */
#include "check.h"
#include "util.h"
#include "neglabel.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    const char *data;
    size_t len;
} writer;

static void *write_all(void *arg) {
    writer *w = arg;
    size_t off = 0;
    while (off < w->len) {
        ssize_t k = write(w->fd, w->data + off, w->len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break; /* the reader stopped early (EPIPE): the test says so */
        off += (size_t)k;
    }
    close(w->fd);
    return NULL;
}

/* Read len bytes of data through a pipe named /dev/fd/N, limit max. */
static int through_pipe(const char *data, size_t len, size_t max, char **out, size_t *got) {
    int p[2];
    if (pipe(p) != 0) return -2;
    writer w = {p[1], data, len};
    pthread_t t;
    pthread_create(&t, NULL, write_all, &w);
    char name[64];
    snprintf(name, sizeof name, "/dev/fd/%d", p[0]);
    int rc = nli_read_input(name, max, out, got);
    close(p[0]); /* a writer still blocked gets EPIPE and ends */
    pthread_join(t, NULL);
    return rc;
}

/* Writes text (may be NULL) after delay seconds into fd, then closes it. */
typedef struct {
    int fd;
    double delay;
    const char *text;
} late_writer;

static void *write_late(void *arg) {
    late_writer *w = arg;
    struct timespec ts = {(time_t)w->delay, (long)((w->delay - (double)(time_t)w->delay) * 1e9)};
    nanosleep(&ts, NULL);
    if (w->text) {
        ssize_t k = write(w->fd, w->text, strlen(w->text));
        (void)k;
    }
    close(w->fd);
    return NULL;
}

static double cancel_after; /* now() past which the cancel callback says stop */
static int cancel_asked;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cancel_late(void *user) {
    (void)user;
    cancel_asked++;
    return now() > cancel_after;
}


int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const size_t big = (size_t)3 << 20;
    char *data = malloc(big);
    uint32_t r = 1;
    for (size_t i = 0; i < big; i++) data[i] = (char)((r = r * 1664525u + 1013904223u) >> 24);
    char *out = NULL;
    size_t len = 0;

    CHECK(through_pipe(data, big, big, &out, &len) == 0 && len == big && !memcmp(out, data, big) && out[big] == 0,
          "3 MiB through a pipe: %s (got %zu)", nl_last_error(), len);
    free(out);
    out = NULL;
    CHECK(through_pipe(data, big, big - 1, &out, &len) != 0 && out == NULL && strstr(nl_last_error(), "more than"),
          "one byte past the limit: %s", nl_last_error());
    CHECK(through_pipe(data, 100, 100, &out, &len) == 0 && len == 100 && !memcmp(out, data, 100), "exactly the limit: %s",
          nl_last_error());
    free(out);
    CHECK(through_pipe(data, 0, 100, &out, &len) == 0 && len == 0 && out && out[0] == 0, "an empty pipe: %s",
          nl_last_error());
    free(out);
    CHECK(nli_read_input("/dev/null", 100, &out, &len) == 0 && len == 0, "/dev/null: %s", nl_last_error());
    free(out);

    const char *tmp = check_tmpdir();
    char *file = check_path(tmp, "input.txt"), *fifo = check_path(tmp, "fifo");
    FILE *f = fopen(file, "wb");
    CHECK(f && fwrite(data, 1, 5000, f) == 5000, "write %s", file);
    if (f) fclose(f);
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    CHECK(nli_read_input(file, 5000, &a, &la) == 0 && nli_read_file(file, 5000, &b, &lb) == 0 && la == 5000 &&
              lb == 5000 && !memcmp(a, b, 5000),
          "a regular file: as nli_read_file: %s", nl_last_error());
    free(a);
    free(b);
    CHECK(nli_read_input(file, 4999, &a, &la) != 0 && strstr(nl_last_error(), "file too large"), "file over the limit: %s",
          nl_last_error());

    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    double t0 = now();
    CHECK(nli_read_input(fifo, 100, &out, &len) == 0 && len == 0, "a FIFO without a writer: %s", nl_last_error());
    CHECK(now() - t0 < 5, "a FIFO without a writer took %.1f s", now() - t0);
    free(out);
    CHECK(nli_read_file(fifo, 100, &out, &len) != 0 && strstr(nl_last_error(), "not a regular file"),
          "nli_read_file still refuses a FIFO: %s", nl_last_error());

    /* A writer that is there but slow (this test's O_RDWR descriptor is one,
     * without blocking): waited for, its text read to its close. */
    late_writer lw = {open(fifo, O_RDWR | O_CLOEXEC), 0.6, "late text\n"};
    pthread_t th;
    CHECK(lw.fd >= 0 && pthread_create(&th, NULL, write_late, &lw) == 0, "slow writer: %s", strerror(errno));
    if (lw.fd >= 0) {
        t0 = now();
        CHECK(nli_read_input(fifo, 100, &out, &len) == 0 && len == 10 && !memcmp(out, "late text\n", 10),
              "a slow writer: %s (%zu bytes)", nl_last_error(), len);
        CHECK(now() - t0 >= 0.5, "a slow writer's text came back after %.2f s", now() - t0);
        free(out);
        pthread_join(th, NULL);
    }
    /* A writer that never writes (closes after 3 s): the cancel callback,
     * asked while waiting, stops the read within a second of saying so. */
    lw = (late_writer){open(fifo, O_RDWR | O_CLOEXEC), 3.0, NULL};
    CHECK(lw.fd >= 0 && pthread_create(&th, NULL, write_late, &lw) == 0, "silent writer: %s", strerror(errno));
    if (lw.fd >= 0) {
        t0 = now();
        cancel_after = t0 + 0.5;
        cancel_asked = 0;
        nl_set_cancel(cancel_late, NULL);
        int rc = nli_read_input(fifo, 100, &out, &len);
        double took = now() - t0;
        nl_set_cancel(NULL, NULL);
        printf("silent writer: the read ended after %.2f s, the callback asked %d times\n", took, cancel_asked);
        CHECK(rc != 0 && nl_last_status() == NL_ERR_CANCELLED && took < 1.5,
              "a silent writer and a cancel: rc %d after %.2f s: %s", rc, took, rc ? nl_last_error() : "read");
        if (rc == 0) free(out);
        pthread_join(th, NULL);
    }

    CHECK(nli_read_input(tmp, 100, &out, &len) != 0 && strstr(nl_last_error(), "not a regular file or a pipe") &&
              nl_last_status() == NL_ERR_INVALID,
          "a folder: %s", nl_last_error());
    CHECK(access("-", F_OK) != 0, "a file named '-' in the test's folder");
    CHECK(nli_read_input("-", 100, &out, &len) != 0 && strstr(nl_last_error(), "standard input is /dev/stdin") &&
              nl_last_status() == NL_ERR_IO,
          "'-': %s", nl_last_error());
    CHECK(nli_read_input("/nonexistent/x", 100, &out, &len) != 0 && !strstr(nl_last_error(), "/dev/stdin"),
          "a missing file: %s", nl_last_error());

    unlink(file);
    unlink(fifo);
    rmdir(tmp);
    free(file);
    free(fifo);
    free(data);
    return check_done();
}
