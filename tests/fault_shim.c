/* fault_shim.c — LD_PRELOAD library for tests/cli_faults.sh: makes the
 * file writes of a program fail (a full disk, an I/O error) or kills the
 * program (SIGKILL) at a chosen point, so that every write path can be
 * tested for clean errors, intact earlier results and resumable runs.
 * Test-only; never linked into the library.
 *
 * A "fault point" is one call that changes a tracked file: open/creat with
 * a write mode, write, pwrite, writev, ftruncate, fsync, fdatasync, close of
 * a tracked descriptor, rename or mkdir of a tracked path. A file is tracked
 * when its path contains $NLFAULT_MATCH. Streams opened for writing on a
 * tracked file (fopen, fdopen) are replaced by fopencookie streams whose
 * writes go through the same checks, because glibc's stdio calls its own
 * internal write and would bypass an interposed write().
 *
 *   NLFAULT_MATCH   substring of the paths to track (unset: the shim does nothing)
 *   NLFAULT_AT      k: the k-th fault point (1-based) fails
 *   NLFAULT_STICKY  1: every point after the k-th fails too (a disk that stays full)
 *   NLFAULT_BYTES   N: a write that would take the bytes written to tracked
 *                   files past N writes only up to N, then fails (and so do
 *                   all later writes)
 *   NLFAULT_ERRNO   ENOSPC (default), EIO or EDQUOT
 *   NLFAULT_ACTION  fail (default); kill: SIGKILL the process at the point
 *                   (after the partial write, with NLFAULT_BYTES); pause:
 *                   sleep NLFAULT_PAUSE_MS (default 1000) at the point, then go on
 *   NLFAULT_TRACE   file: one line "k op path" per fault point is appended
 *   NLFAULT_READS   1: files of tracked paths opened read-only are tracked
 *                   too, and each read() of a tracked file is a fault point
 *                   named "read" (a disk that fails to read back)
 *   NLFAULT_ONLY    an operation name ("read", "write", ...): only such
 *                   calls are fault points (counted); the others go on
 * A sticky failure spares ftruncate: cutting a file back frees space, which
 * works on a full disk.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAXFD 4096

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int inited, active, sticky, kill_mode, pause_ms = -1, fail_errno = ENOSPC, trace_fd = -1, reads;
static const char *only_op;
static long at = -1, count;
static long long byte_limit = -1, bytes;
static int failing; /* sticky failure in force */
static const char *match;
static char *fd_path[MAXFD];

#define REAL(name, ret, ...)                                                                                       \
    static ret (*real_##name)(__VA_ARGS__);                                                                        \
    if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static void init(void) {
    if (inited) return;
    inited = 1;
    match = getenv("NLFAULT_MATCH");
    active = match && *match;
    const char *e;
    if ((e = getenv("NLFAULT_AT")) && *e) at = atol(e);
    if ((e = getenv("NLFAULT_BYTES")) && *e) byte_limit = atoll(e);
    sticky = (e = getenv("NLFAULT_STICKY")) && !strcmp(e, "1");
    reads = (e = getenv("NLFAULT_READS")) && !strcmp(e, "1");
    if ((e = getenv("NLFAULT_ONLY")) && *e) only_op = e;
    kill_mode = (e = getenv("NLFAULT_ACTION")) && !strcmp(e, "kill");
    if ((e = getenv("NLFAULT_ACTION")) && !strcmp(e, "pause")) {
        const char *ms = getenv("NLFAULT_PAUSE_MS");
        pause_ms = ms && *ms ? atoi(ms) : 1000;
    }
    if ((e = getenv("NLFAULT_ERRNO")) && *e)
        fail_errno = !strcmp(e, "EIO") ? EIO : !strcmp(e, "EDQUOT") ? EDQUOT : ENOSPC;
    if (active && (e = getenv("NLFAULT_TRACE")) && *e) {
        REAL(open, int, const char *, int, ...);
        trace_fd = real_open(e, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
}

static int tracked_path(const char *p) { return active && p && strstr(p, match); }
static int tracked_fd(int fd) { return active && fd >= 0 && fd < MAXFD && fd_path[fd]; }

/* One fault point: 0 to go on, -1 (errno set) to fail. */
static int point(const char *op, const char *path) {
    if (only_op && strcmp(op, only_op) != 0) return 0;
    pthread_mutex_lock(&mu);
    long k = ++count;
    if (trace_fd >= 0) {
        char line[600];
        int n = snprintf(line, sizeof line, "%ld %s %s\n", k, op, path ? path : "?");
        REAL(write, ssize_t, int, const void *, size_t);
        if (n > 0 && real_write(trace_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1)) {}
    }
    int fail = (failing && strncmp(op, "ftruncate", 9) != 0) || k == at;
    if (k == at && sticky) failing = 1;
    pthread_mutex_unlock(&mu);
    if (!fail) return 0;
    if (pause_ms >= 0) {
        if (trace_fd >= 0) {
            REAL(write, ssize_t, int, const void *, size_t);
            if (real_write(trace_fd, "paused\n", 7)) {}
        }
        usleep((useconds_t)pause_ms * 1000);
        return 0;
    }
    if (kill_mode) kill(getpid(), SIGKILL);
    errno = fail_errno;
    return -1;
}

static void track(int fd, const char *path) {
    if (fd < 0 || fd >= MAXFD) return;
    pthread_mutex_lock(&mu);
    free(fd_path[fd]);
    fd_path[fd] = strdup(path);
    pthread_mutex_unlock(&mu);
}

static void untrack(int fd) {
    if (fd < 0 || fd >= MAXFD) return;
    pthread_mutex_lock(&mu);
    free(fd_path[fd]);
    fd_path[fd] = NULL;
    pthread_mutex_unlock(&mu);
}

static int writes(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)); }

static int do_open(const char *name, int (*real)(const char *, int, ...), const char *path, int flags, mode_t mode) {
    init();
    if (!tracked_path(path) || !(writes(flags) || reads)) return real(path, flags, mode);
    if (writes(flags) && point(name, path) != 0) return -1;
    int fd = real(path, flags, mode);
    if (fd >= 0) track(fd, path);
    return fd;
}

#define OPEN_WRAPPER(name)                                                                                         \
    int name(const char *path, int flags, ...) {                                                                   \
        mode_t mode = 0;                                                                                           \
        if (flags & (O_CREAT | O_TMPFILE)) {                                                                       \
            va_list ap;                                                                                            \
            va_start(ap, flags);                                                                                   \
            mode = va_arg(ap, mode_t);                                                                             \
            va_end(ap);                                                                                            \
        }                                                                                                          \
        REAL(name, int, const char *, int, ...);                                                                   \
        return do_open(#name, real_##name, path, flags, mode);                                                     \
    }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int creat(const char *path, mode_t mode) { return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode); }

int openat(int dirfd, const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    REAL(openat, int, int, const char *, int, ...);
    init();
    if (!tracked_path(path) || !writes(flags)) return real_openat(dirfd, path, flags, mode);
    if (point("openat", path) != 0) return -1;
    int fd = real_openat(dirfd, path, flags, mode);
    if (fd >= 0) track(fd, path);
    return fd;
}

/* The byte budget: how many of n bytes may still be written (n: all). */
static size_t budget(size_t n) {
    if (byte_limit < 0) return n;
    pthread_mutex_lock(&mu);
    long long left = byte_limit - bytes;
    size_t ok = left <= 0 ? 0 : (unsigned long long)left < n ? (size_t)left : n;
    bytes += (long long)ok;
    pthread_mutex_unlock(&mu);
    return ok;
}

/* Called after a short write forced by the byte budget. */
static ssize_t budget_hit(ssize_t written) {
    if (kill_mode) kill(getpid(), SIGKILL);
    if (written > 0) return written; /* a short write; the next one fails */
    errno = fail_errno;
    return -1;
}

ssize_t read(int fd, void *buf, size_t n) {
    REAL(read, ssize_t, int, void *, size_t);
    init();
    if (!reads || !tracked_fd(fd)) return real_read(fd, buf, n);
    if (point("read", fd_path[fd]) != 0) return -1;
    return real_read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(write, ssize_t, int, const void *, size_t);
    init();
    if (!tracked_fd(fd)) return real_write(fd, buf, n);
    if (point("write", fd_path[fd]) != 0) return -1;
    size_t ok = budget(n);
    if (ok < n) {
        ssize_t w = ok ? real_write(fd, buf, ok) : 0;
        return budget_hit(w);
    }
    return real_write(fd, buf, n);
}

#define PWRITE_WRAPPER(name)                                                                                       \
    ssize_t name(int fd, const void *buf, size_t n, off_t off) {                                                   \
        REAL(name, ssize_t, int, const void *, size_t, off_t);                                                     \
        init();                                                                                                    \
        if (!tracked_fd(fd)) return real_##name(fd, buf, n, off);                                                  \
        if (point(#name, fd_path[fd]) != 0) return -1;                                                             \
        size_t ok = budget(n);                                                                                     \
        if (ok < n) {                                                                                              \
            ssize_t w = ok ? real_##name(fd, buf, ok, off) : 0;                                                    \
            return budget_hit(w);                                                                                  \
        }                                                                                                          \
        return real_##name(fd, buf, n, off);                                                                       \
    }
PWRITE_WRAPPER(pwrite)
PWRITE_WRAPPER(pwrite64)

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    REAL(writev, ssize_t, int, const struct iovec *, int);
    init();
    if (!tracked_fd(fd)) return real_writev(fd, iov, cnt);
    /* Written one buffer at a time, so that the byte budget applies. */
    ssize_t total = 0;
    for (int i = 0; i < cnt; i++) {
        ssize_t w = write(fd, iov[i].iov_base, iov[i].iov_len);
        if (w < 0) return total ? total : -1;
        total += w;
        if ((size_t)w < iov[i].iov_len) break;
    }
    return total;
}

#define FD_OP(name, type)                                                                                          \
    int name(int fd, type arg) {                                                                                   \
        REAL(name, int, int, type);                                                                                \
        init();                                                                                                    \
        if (tracked_fd(fd) && point(#name, fd_path[fd]) != 0) return -1;                                           \
        return real_##name(fd, arg);                                                                               \
    }
FD_OP(ftruncate, off_t)
FD_OP(ftruncate64, off_t)

int fsync(int fd) {
    REAL(fsync, int, int);
    init();
    if (tracked_fd(fd) && point("fsync", fd_path[fd]) != 0) return -1;
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync, int, int);
    init();
    if (tracked_fd(fd) && point("fdatasync", fd_path[fd]) != 0) return -1;
    return real_fdatasync(fd);
}

int close(int fd) {
    REAL(close, int, int);
    init();
    if (!tracked_fd(fd)) return real_close(fd);
    char path[512];
    snprintf(path, sizeof path, "%s", fd_path[fd]);
    untrack(fd);
    int bad = point("close", path); /* the descriptor is closed either way, as close(2) does */
    int e = errno;
    int rc = real_close(fd);
    if (bad) { errno = e; return -1; }
    return rc;
}

int rename(const char *from, const char *to) {
    REAL(rename, int, const char *, const char *);
    init();
    if ((tracked_path(from) || tracked_path(to)) && point("rename", to) != 0) return -1;
    return real_rename(from, to);
}

int mkdir(const char *path, mode_t mode) {
    REAL(mkdir, int, const char *, mode_t);
    init();
    if (tracked_path(path) && point("mkdir", path) != 0) return -1;
    return real_mkdir(path, mode);
}

/* ---- stdio on tracked files: fopencookie streams over the descriptor ---- */

typedef struct { int fd; FILE *f; } cookie;
static cookie *streams[256];

static ssize_t ck_write(void *c, const char *buf, size_t n) {
    ssize_t w = write(((cookie *)c)->fd, buf, n);
    return w < 0 ? -1 : w;
}
static ssize_t ck_read(void *c, char *buf, size_t n) { return read(((cookie *)c)->fd, buf, n); }
static int ck_seek(void *c, off64_t *off, int whence) {
    off_t r = lseek(((cookie *)c)->fd, (off_t)*off, whence);
    if (r < 0) return -1;
    *off = r;
    return 0;
}
static int ck_close(void *c) {
    cookie *k = c;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 256; i++)
        if (streams[i] == k) streams[i] = NULL;
    pthread_mutex_unlock(&mu);
    int rc = close(k->fd);
    free(k);
    return rc;
}

static FILE *wrap(int fd, const char *mode) {
    cookie *k = malloc(sizeof *k);
    if (!k) return NULL;
    k->fd = fd;
    cookie_io_functions_t io = {ck_read, ck_write, ck_seek, ck_close};
    FILE *f = fopencookie(k, mode, io);
    if (!f) { free(k); return NULL; }
    k->f = f;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 256; i++)
        if (!streams[i]) { streams[i] = k; break; }
    pthread_mutex_unlock(&mu);
    return f;
}

static int mode_flags(const char *mode) {
    int plus = strchr(mode, '+') != NULL;
    switch (mode[0]) {
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default: return plus ? O_RDWR : O_RDONLY;
    }
}

#define FOPEN_WRAPPER(name)                                                                                        \
    FILE *name(const char *path, const char *mode) {                                                               \
        REAL(name, FILE *, const char *, const char *);                                                            \
        init();                                                                                                    \
        int flags = mode_flags(mode);                                                                              \
        if (!tracked_path(path) || !writes(flags)) return real_##name(path, mode);                                 \
        int fd = open(path, flags | (strchr(mode, 'e') ? O_CLOEXEC : 0), 0666);                                    \
        if (fd < 0) return NULL;                                                                                   \
        FILE *f = wrap(fd, mode);                                                                                  \
        if (!f) close(fd);                                                                                         \
        return f;                                                                                                  \
    }
FOPEN_WRAPPER(fopen)
FOPEN_WRAPPER(fopen64)

FILE *fdopen(int fd, const char *mode) {
    REAL(fdopen, FILE *, int, const char *);
    init();
    if (!tracked_fd(fd) || !writes(mode_flags(mode))) return real_fdopen(fd, mode);
    return wrap(fd, mode);
}

int fileno(FILE *f) {
    REAL(fileno, int, FILE *);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 256; i++)
        if (streams[i] && streams[i]->f == f) {
            int fd = streams[i]->fd;
            pthread_mutex_unlock(&mu);
            return fd;
        }
    pthread_mutex_unlock(&mu);
    return real_fileno(f);
}
