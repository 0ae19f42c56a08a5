/* util.c — see util.h (the crash-safe writes are in atomic.c). */
#include "util.h"
#include "neglabel.h"

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char g_err[2048];
static _Thread_local int g_status;

void nli_seterr(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    g_status = NL_ERR_INVALID;
}

int nli_null_arg(const char *fn) {
    nli_seterr("%s: NULL argument", fn);
    return -1;
}

void nli_seterr_code(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    g_status = status;
}

nl_status nl_last_status(void) { return g_err[0] ? (nl_status)g_status : NL_OK; }

const char *nl_status_name(nl_status s) {
    static const char *names[] = {"ok", "invalid input", "I/O error", "out of memory", "unsupported", "device error",
                                  "cancelled"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

void nli_prefixerr(const char *fmt, ...) {
    char pre[1024], old[sizeof g_err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, g_err, sizeof old);
    snprintf(g_err, sizeof g_err, "%s: %s", pre, old);
}

const char *nli_geterr(void) { return g_err[0] ? g_err : "unknown error"; }

void nli_prefixerr_file(const char *path) {
    size_t n = strlen(path);
    if (strncmp(g_err, path, n) != 0 || g_err[n] != ':') nli_prefixerr("%s", path);
}

void nli_err_save(nli_saved_err *e) {
    e->status = g_err[0] ? g_status : NL_ERR_INVALID;
    snprintf(e->msg, sizeof e->msg, "%s", nli_geterr());
}

void nli_err_restore(const nli_saved_err *e) { nli_seterr_code(e->status, "%s", e->msg); }

void *nli_malloc(size_t n) {
    if (n > NL_ALLOC_LIMIT) {
        nli_seterr("refusing to allocate %zu bytes (limit %zu)", n, NL_ALLOC_LIMIT);
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    if (!p) nli_seterr_code(NL_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *nli_mallocarray(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) {
        nli_seterr("allocation size overflow (%zu x %zu)", count, size);
        return NULL;
    }
    return nli_malloc(count * size);
}

void *nli_calloc(size_t count, size_t size) {
    void *p = nli_mallocarray(count, size);
    if (p) memset(p, 0, count * size);
    return p;
}

void *nli_realloc(void *p, size_t n) {
    if (n > NL_ALLOC_LIMIT) {
        nli_seterr("refusing to allocate %zu bytes (limit %zu)", n, NL_ALLOC_LIMIT);
        return NULL;
    }
    void *q = realloc(p, n ? n : 1);
    if (!q) nli_seterr_code(NL_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return q;
}

char *nli_strndup(const char *s, size_t n) {
    char *d = nli_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *nli_strdup(const char *s) { return nli_strndup(s, strlen(s)); }

void nli_sanitize(char *out, size_t cap, const char *in) {
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 4 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        if (i >= 200) {
            memcpy(out + j, "...", 3);
            j += 3;
            break;
        }
    }
    out[j] = 0;
}

int nli_grow(void **p, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) { nli_seterr("allocation size overflow"); return -1; }
        nc *= 2;
    }
    if (sz && nc > SIZE_MAX / sz) { nli_seterr("allocation size overflow"); return -1; }
    void *q = nli_realloc(*p, nc * sz);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

int nli_ivec_push(nli_ivec *v, int32_t x) {
    if (v->n == v->cap && nli_grow((void **)&v->v, &v->cap, v->n + 1, sizeof *v->v)) return -1;
    v->v[v->n++] = x;
    return 0;
}

int nli_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

size_t nli_bom_len(const char *s, size_t len) {
    return s && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

/* O_NONBLOCK: opening a FIFO (a list file or a dataset naming one) waited
 * for a writer that never came, a hang one Ctrl-C could not end. */
int nli_open_regular(const char *path, struct stat *st) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { nli_seterr_code(NL_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        nli_seterr("%s: not a regular file", path);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK); /* no effect on a regular file; cleared all the same */
    return fd;
}

FILE *nli_fopen_regular(const char *path, struct stat *st) {
    int fd = nli_open_regular(path, st);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) { nli_seterr_code(NL_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); close(fd); }
    return f;
}

/* One read of a pipe or character device. The descriptor (this file's own
 * open) stays non-blocking: a FIFO without a writer reads as empty at
 * once, and while a writer is slow the wait is poll()s of 250 ms, each
 * followed by nl_set_cancel's callback, so Ctrl-C stops it (poll returns
 * EINTR even under SA_RESTART, which restarts a blocking read() and would
 * hide the signal until the next byte). */
static long long stream_read(int fd, const char *path, char *buf, size_t want) {
    for (;;) {
        ssize_t got = read(fd, buf, want);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (nli_cancelled()) return -1;
            struct pollfd pf = {fd, POLLIN, 0};
            (void)poll(&pf, 1, 250); /* ready, hung up, timed out or interrupted: read (or check) again */
            continue;
        }
        if (got < 0) { nli_seterr_code(NL_ERR_IO, "%s: read error: %s", path, strerror(errno)); return -1; }
        return got;
    }
}

/* A pipe or character device read to its end (at most max bytes). */
static int read_stream(int fd, const char *path, size_t max, char **out, size_t *len) {
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    size_t n = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (nli_grow((void **)&buf, &cap, n + 65537, 1) != 0) { nli_prefixerr("%s", path); goto fail; }
        size_t want = cap - 1 - n;
        if (want > (max - n) + 1) want = (max - n) + 1; /* one byte past max tells "too large" */
        long long got = stream_read(fd, path, buf + n, want);
        if (got < 0) goto fail;
        if (got == 0) break;
        n += (size_t)got;
        if (n > max) { nli_seterr("%s: more than %zu bytes (the limit)", path, max); goto fail; }
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
fail:
    close(fd);
    free(buf);
    return -1;
}

/* A user's input opened as nli_read_input takes it: *stream 1 for a pipe or
 * character device, 0 for a regular file (of at most max bytes, blocking). */
static int input_open(const char *path, size_t max, struct stat *st, int *stream) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot open: %s%s", path, strerror(errno),
                        strcmp(path, "-") ? "" : " (standard input is /dev/stdin)");
        return -1;
    }
    int got = fstat(fd, st) == 0;
    *stream = got && (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode));
    if (*stream) return fd;
    if (!got || !S_ISREG(st->st_mode)) {
        close(fd);
        nli_seterr("%s: not a regular file or a pipe", path);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if ((uint64_t)st->st_size > max) {
        nli_seterr("%s: file too large (%lld bytes, limit %zu)", path, (long long)st->st_size, max);
        close(fd);
        return -1;
    }
    return fd;
}

int nli_input_open(nli_input *in, const char *path, size_t max) {
    struct stat st;
    memset(in, 0, sizeof *in);
    in->fd = -1;
    if ((in->fd = input_open(path, max, &st, &in->stream)) < 0) return -1;
    in->path = path;
    in->max = max;
    return 0;
}

long long nli_input_read(nli_input *in, char *buf, size_t want) {
    if (in->fd < 0) return 0;
    if (want > (in->max - in->total) + 1) want = (in->max - in->total) + 1; /* one byte past max tells "too large" */
    long long got;
    if (in->stream) got = stream_read(in->fd, in->path, buf, want);
    else
        do got = read(in->fd, buf, want);
        while (got < 0 && errno == EINTR);
    if (got < 0 && !in->stream) nli_seterr_code(NL_ERR_IO, "%s: read error: %s", in->path, strerror(errno));
    if (got < 0) return -1;
    in->total += (size_t)got;
    if (in->total > in->max) { nli_seterr("%s: more than %zu bytes (the limit)", in->path, in->max); return -1; }
    return got;
}

void nli_input_close(nli_input *in) {
    if (in->fd >= 0) close(in->fd);
    in->fd = -1;
}

/* streams: also a pipe or character device (nli_read_input). One open,
 * non-blocking (never waits for a FIFO's writer), then the kind decides. */
static int read_whole(const char *path, size_t max, char **out, size_t *len, int streams) {
    *out = NULL;
    if (len) *len = 0;
    struct stat st;
    int stream = 0;
    int fd = streams ? input_open(path, max, &st, &stream) : nli_open_regular(path, &st);
    if (fd < 0) return -1;
    if (stream) return read_stream(fd, path, max, out, len);
    FILE *f = fdopen(fd, "rb");
    if (!f) { nli_seterr_code(NL_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); close(fd); return -1; }
    if ((uint64_t)st.st_size > max) {
        nli_seterr("%s: file too large (%lld bytes, limit %zu)", path, (long long)st.st_size, max);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    char *buf = nli_malloc(n + 1);
    if (!buf) { fclose(f); nli_prefixerr("%s", path); return -1; }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
        nli_seterr("%s: read error (got %zu of %zu bytes)", path, got, n);
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

int nli_read_file(const char *path, size_t max, char **out, size_t *len) {
    return read_whole(path, max, out, len, 0);
}

int nli_read_input(const char *path, size_t max, char **out, size_t *len) {
    return read_whole(path, max, out, len, 1);
}

int nli_map_file(const char *path, nli_map *m) {
    m->data = NULL;
    m->len = 0;
    struct stat st;
    int fd = nli_open_regular(path, &st);
    if (fd < 0) return -1;
    if (st.st_size == 0) { close(fd); m->data = (const uint8_t *)""; return 0; }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) { nli_seterr_code(NL_ERR_IO, "%s: cannot map: %s", path, strerror(errno)); return -1; }
    m->data = p;
    m->len = (size_t)st.st_size;
    return 0;
}

void nli_unmap(nli_map *m) {
    if (m->data && m->len) munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

void nli_pages_drop(const void *p, size_t len) {
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p, e = a + len;
    if (!p || !len || pg == (uintptr_t)-1) return;
    a = (a + pg - 1) / pg * pg;
    e = e / pg * pg;
    /* advice only: on failure the pages stay resident, nothing else changes */
    if (e > a) (void)madvise((void *)a, e - a, MADV_DONTNEED);
}

void *nli_pages_alloc(size_t n) {
    if (n > NL_ALLOC_LIMIT) {
        nli_seterr("refusing to allocate %zu bytes (limit %zu)", n, NL_ALLOC_LIMIT);
        return NULL;
    }
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        nli_seterr_code(NL_ERR_NOMEM, "out of memory allocating %zu bytes", n);
        return NULL;
    }
    return p;
}

void nli_pages_free(void *p, size_t n) {
    if (p) munmap(p, n ? n : 1);
}

char *nli_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? nli_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : nli_strdup(".");
}

int nli_tsv_field_ok(const char *s) { return s[strcspn(s, "\t\r\n")] == 0; }

const char *nli_tsv_first_bad(const char *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i] && !nli_tsv_field_ok(v[i])) return v[i];
    return NULL;
}

int nli_buf_append(nli_buf *b, const char *s, size_t n) {
    if (nli_grow((void **)&b->s, &b->cap, b->len + n + 1, 1) != 0) return -1;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

int nli_buf_puts(nli_buf *b, const char *s) { return nli_buf_append(b, s, strlen(s)); }

int nli_buf_printf(nli_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { nli_seterr("format error"); return -1; }
    if (nli_grow((void **)&b->s, &b->cap, b->len + (size_t)n + 1, 1) != 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int nli_buf_json_string(nli_buf *b, const char *s) {
    if (nli_buf_append(b, "\"", 1)) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': if (nli_buf_append(b, "\\\"", 2)) return -1; break;
        case '\\': if (nli_buf_append(b, "\\\\", 2)) return -1; break;
        case '\n': if (nli_buf_append(b, "\\n", 2)) return -1; break;
        case '\r': if (nli_buf_append(b, "\\r", 2)) return -1; break;
        case '\t': if (nli_buf_append(b, "\\t", 2)) return -1; break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                if (nli_buf_append(b, esc, 6)) return -1;
            } else if (nli_buf_append(b, (const char *)p, 1)) return -1;
        }
    }
    return nli_buf_append(b, "\"", 1);
}

void nli_buf_free(nli_buf *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

char *nli_path_join(const char *dir, const char *name) {
    if (!dir || !*dir || name[0] == '/') return nli_strdup(name);
    size_t a = strlen(dir), c = strlen(name);
    int slash = dir[a - 1] != '/';
    char *p = nli_malloc(a + slash + c + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, c + 1);
    return p;
}

int nli_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int nli_is_lfs_pointer(const void *data, size_t len) {
    static const char sig[] = "version https://git-lfs.github.com/spec/";
    return len >= sizeof sig - 1 && memcmp(data, sig, sizeof sig - 1) == 0;
}

int nli_json_check_values(const char *what, const char *text, size_t len, size_t max_values) {
    size_t n = 1;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if ((c == ',' || c == '[' || c == '{') && ++n > max_values) {
            nli_seterr("%s: more than %zu JSON values (at byte %zu of %zu): too many for this file, which is "
                       "damaged or not what it is named", what, max_values, i, len);
            return -1;
        }
    }
    return 0;
}

int nli_mkdir_p(const char *path) {
    if (!path[0]) { nli_seterr("cannot create a directory with an empty name"); return -1; }
    char *p = nli_strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            nli_seterr_code(NL_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    struct stat st; /* EEXIST: a folder, or a link to one, and not a file */
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot create directory: %s", p,
                        stat(p, &st) != 0 ? strerror(errno) : "a file of that name exists");
        free(p);
        return -1;
    }
    free(p);
    return 0;
}

int nli_threads(int requested) {
    if (requested <= 0) return nli_num_threads();
    return requested > NLI_MAX_THREADS ? NLI_MAX_THREADS : requested;
}

int nli_num_threads(void) {
    /* NEGLABEL_THREADS, else OMP_NUM_THREADS (also when the first is not a
     * count: each bad one is warned about once), else all cores */
    static const char *const names[2] = {"NEGLABEL_THREADS", "OMP_NUM_THREADS"};
    static _Atomic int warned[2];
    for (int k = 0; k < 2; k++) {
        const char *e = getenv(names[k]);
        if (!e || !*e) continue;
        char *end;
        errno = 0;
        long v = strtol(e, &end, 10);
        while (*end == ' ' || *end == '\t') end++; /* strtol skips leading blanks; trailing ones too */
        /* OMP_NUM_THREADS may be a list for nested levels ("4,2"): its first */
        int list = end != e && *end == ',' && k == 1;
        if (!errno && end != e && (!*end || list) && v >= 1 && v <= NLI_MAX_THREADS) return (int)v;
        if (!warned[k]++) {
            const char *next = getenv(names[1]);
            nli_log(NL_LOG_WARN, "%s='%.40s' is not a thread count from 1 to %d: ignored (%s)", names[k], e,
                    NLI_MAX_THREADS, k == 0 && next && *next ? "OMP_NUM_THREADS read instead" : "all cores used");
        }
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)(n > NLI_MAX_THREADS ? NLI_MAX_THREADS : n) : 1;
}

double nli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static nl_log_fn g_log;
static void *g_log_user;
static nl_progress_fn g_prog;
static void *g_prog_user;

void nl_set_log(nl_log_fn fn, void *user) {
    g_log = fn;
    g_log_user = user;
}

void nl_set_progress(nl_progress_fn fn, void *user) {
    g_prog = fn;
    g_prog_user = user;
}

static nl_cancel_fn g_cancel;
static void *g_cancel_user;

void nl_set_cancel(nl_cancel_fn fn, void *user) {
    g_cancel = fn;
    g_cancel_user = user;
}

int nli_cancelled(void) {
    if (!g_cancel || !g_cancel(g_cancel_user)) return 0;
    nli_seterr_code(NL_ERR_CANCELLED, "cancelled");
    return 1;
}

int nli_all_finite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

int nli_sleep_cancellable(double seconds) {
    for (double left = seconds; left > 0; left -= 0.1) {
        if (nli_cancelled()) return -1;
        double step = left < 0.1 ? left : 0.1;
        struct timespec ts = {0, (long)(step * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    return nli_cancelled() ? -1 : 0;
}

void nli_log(int level, const char *fmt, ...) {
    if (!g_log) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g_log((nl_log_level)level, msg, g_log_user);
}

static __thread int g_progress_muted;

int nli_progress_mute(int on) {
    int was = g_progress_muted;
    g_progress_muted = on;
    return was;
}

void nli_progress_start(nli_progress *p, const char *label, size_t total) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t0 = p->last = nli_now();
    p->quiet = g_progress_muted;
}

void nli_progress_update(nli_progress *p, size_t done) {
    p->done = done;
    if (!g_prog || p->quiet) return;
    double now = nli_now();
    if (now - p->last < 0.2) return;
    p->last = now;
    g_prog(p->label, p->done, p->total, now - p->t0, 0, g_prog_user);
}

void nli_progress_end(nli_progress *p) {
    if (!g_prog || p->quiet) return;
    double now = nli_now();
    if (now - p->t0 < 0.2) return; /* short jobs: no progress at all */
    g_prog(p->label, p->done, p->total, now - p->t0, 1, g_prog_user);
}

void nli_progress_finish(nli_progress *p, int rc) {
    if (rc == 0) { nli_progress_end(p); return; }
    nli_saved_err e;
    nli_err_save(&e);
    nli_progress_end(p);
    nli_err_restore(&e); /* whatever the callback did */
}

uint64_t nli_fnv1a(const void *data, size_t len, uint64_t h) {
    const uint8_t *d = data;
    for (size_t i = 0; i < len; i++) {
        h ^= d[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define H64_P1 0x9e3779b185ebca87ULL
#define H64_P2 0xc2b2ae3d27d4eb4fULL
#define H64_P3 0x165667b19e3779f9ULL
static inline uint64_t h64_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t h64_load(const uint8_t *p) { /* little-endian on every host (one load on x86/ARM) */
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
           (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}
static inline uint64_t h64_lane(uint64_t acc, uint64_t w) { return h64_rotl(acc + w * H64_P2, 31) * H64_P1; }
static inline uint64_t h64_fold(uint64_t h, uint64_t v) { return (h ^ h64_lane(0, v)) * H64_P1 + H64_P3; }

uint64_t nli_hash64(const void *data, size_t len, uint64_t seed) {
    const uint8_t *p = data, *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t a = seed + H64_P1 + H64_P2, b = seed + H64_P2, c = seed, d = seed - H64_P1;
        for (; end - p >= 32; p += 32) {
            a = h64_lane(a, h64_load(p));
            b = h64_lane(b, h64_load(p + 8));
            c = h64_lane(c, h64_load(p + 16));
            d = h64_lane(d, h64_load(p + 24));
        }
        h = h64_rotl(a, 1) + h64_rotl(b, 7) + h64_rotl(c, 12) + h64_rotl(d, 18);
        h = h64_fold(h64_fold(h64_fold(h64_fold(h, a), b), c), d);
    } else {
        h = seed + H64_P3;
    }
    h += (uint64_t)len;
    for (; end - p >= 8; p += 8) h = h64_rotl(h ^ h64_lane(0, h64_load(p)), 27) * H64_P1 + H64_P2;
    for (; p < end; p++) h = h64_rotl(h ^ (*p * H64_P3), 11) * H64_P1;
    h ^= h >> 33;
    h *= H64_P2;
    h ^= h >> 29;
    h *= H64_P3;
    return h ^ (h >> 32);
}

/* ------------------------------------------------------------ locale */

/* one C locale for the process, made on first use and never freed: the
 * whole C locale, not LC_NUMERIC over a copy of the thread's, since these
 * writers and readers format and parse numbers and copy bytes, which no
 * other category changes (and newlocale over a base leaked its LOCPATH
 * list on every call whenever LOCPATH is set, glibc 2.36) */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_make(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

void *nli_numeric_c_begin(void) {
    pthread_once(&c_locale_once, c_locale_make);
    if (!c_locale) return NULL;
    locale_t old = uselocale(c_locale); /* LC_GLOBAL_LOCALE when the thread had none */
    return old == (locale_t)0 ? NULL : (void *)old;
}

void nli_numeric_c_end(void *saved) {
    if (saved) uselocale((locale_t)saved);
}
