/* atomic.c — crash-safe outputs (util.h: nli_atomic_*, nl_write_file_atomic):
 * each file is written to a temporary beside its target and renamed over it
 * after an fsync, the folder synced after; a set of files is published
 * together; temporaries a killed writer left are removed. Split from util.c. */
#include "util.h"
#include "neglabel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* This host and pid namespace, as 8 hex digits (FNV-1a of the host name
 * and /proc/self/ns/pid's link): the last part of every temporary name, so
 * that a sweep only judges names whose pid it can check. A writer in a
 * container (another pid namespace) or on another host sharing the folder
 * (NFS) has another tag, and its live temporary is never taken for a dead
 * run's; a user's own file ("results.json.old.20240101") has none. */
static char g_tag[9];
static pthread_once_t g_tag_once = PTHREAD_ONCE_INIT;

static void make_tag(void) {
    char id[512] = {0};
    size_t n;
    if (gethostname(id, 255) != 0) id[0] = 0;
    id[255] = 0;
    n = strlen(id);
    id[n++] = '\n';
    ssize_t k = readlink("/proc/self/ns/pid", id + n, sizeof id - n - 1);
    if (k > 0) n += (size_t)k;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)id[i]) * 16777619u;
    snprintf(g_tag, sizeof g_tag, "%08x", (unsigned)h);
}

const char *nli_temp_tag(void) {
    pthread_once(&g_tag_once, make_tag);
    return g_tag;
}

/* Remove "<base>.tmp.<pid>.<n>.<tag>" and "<base>.old.<pid>.<n>.<tag>"
 * files that a killed writer of the same target left in dir: this host's
 * and namespace's tag, a pid that no longer runs. Any other name is left
 * alone: a live writer's, another namespace's or host's, a user's file. */
static void remove_stale_temps(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = nli_dirname(path);
    const char *base = slash ? slash + 1 : path, *tag = nli_temp_tag();
    size_t bl = strlen(base);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, base, bl) != 0 ||
            (strncmp(e->d_name + bl, ".tmp.", 5) != 0 && strncmp(e->d_name + bl, ".old.", 5) != 0))
            continue;
        const char *num = e->d_name + bl + 5, *seq;
        char *end;
        if (*num < '0' || *num > '9') continue;
        long pid = strtol(num, &end, 10);
        if (*end != '.' || end[1] < '0' || end[1] > '9') continue;
        seq = end + 1;
        (void)strtoul(seq, &end, 10);
        if (*end != '.' || strcmp(end + 1, tag) != 0) continue;
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char *p = nli_path_join(dir, e->d_name);
        if (p && unlink(p) == 0) nli_log(NL_LOG_INFO, "removed %s, left by an interrupted run", p);
        free(p);
    }
    if (d) closedir(d);
    free(dir);
}

/* The temp file's stream writes through this, so that the first write
 * error's errno is kept for the message (stdio keeps only a flag). */
struct nli_atomic_io {
    int fd;
    int err;
};

static ssize_t atomic_io_write(void *cookie, const char *buf, size_t n) {
    nli_atomic_io *io = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(io->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (!io->err) io->err = w < 0 ? errno : ENOSPC;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)w;
    }
    return (ssize_t)n;
}

static int atomic_io_close(void *cookie) {
    nli_atomic_io *io = cookie;
    int rc = close(io->fd);
    if (rc != 0 && !io->err) io->err = errno;
    io->fd = -1;
    return rc;
}

/* Where an output to path goes. A symbolic link to a regular file: its
 * target (the temp file beside the target, the rename onto it; the link
 * stays). A pipe, a device or a socket (/dev/stdout, a FIFO): written in
 * place (*direct), since a rename would replace it with a file. A dangling
 * link: refused (which file it should become is a guess). */
static char *output_target(const char *path, int *direct) {
    struct stat lst, st;
    *direct = 0;
    if (lstat(path, &lst) != 0) return nli_strdup(path); /* a new file */
    if (stat(path, &st) != 0) {
        nli_seterr_code(NL_ERR_IO, "%s: a symbolic link to a missing file (%s): give the file's own path", path,
                        strerror(errno));
        return NULL;
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode)) {
        *direct = 1;
        return nli_strdup(path);
    }
    if (!S_ISLNK(lst.st_mode)) return nli_strdup(path);
    char *r = realpath(path, NULL);
    if (!r) nli_seterr_code(NL_ERR_IO, "%s: cannot resolve the symbolic link: %s", path, strerror(errno));
    return r;
}

/* The temporary files' names: the pid and a number of this process, so
 * that threads writing one target at once (nl_npy_save, nl_negatives_write
 * may run concurrently) each have their own file and the last rename wins
 * with a whole file; before, they shared "<path>.tmp.<pid>", and one
 * truncated and wrote over the other's file, whose rename then failed. */
static _Atomic unsigned long g_temp_seq;

char *nli_temp_name(const char *path, const char *kind) {
    size_t n = strlen(path) + strlen(kind) + 64;
    char *t = nli_malloc(n);
    if (t) snprintf(t, n, "%s.%s.%ld.%lu.%s", path, kind, (long)getpid(), g_temp_seq++, nli_temp_tag());
    return t;
}

int nli_atomic_open(nli_atomic *a, const char *path) {
    int direct;
    memset(a, 0, sizeof *a);
    if (!(a->path = output_target(path, &direct))) return -1;
    if (!direct) {
        if (!(a->tmp = nli_temp_name(a->path, "tmp"))) { free(a->path); a->path = NULL; return -1; }
        remove_stale_temps(a->path);
    }
    a->io = nli_calloc(1, sizeof *a->io);
    int fd = !a->io ? -1 : direct ? open(a->path, O_WRONLY | O_CLOEXEC)
                                  : open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0) {
        a->io->fd = fd;
        cookie_io_functions_t fns = {NULL, atomic_io_write, NULL, atomic_io_close};
        a->f = fopencookie(a->io, "w", fns);
    }
    if (!a->f) {
        if (a->io) nli_seterr_code(NL_ERR_IO, "%s: cannot create %s: %s", path, direct ? a->path : a->tmp,
                                   strerror(errno));
        if (fd >= 0) { close(fd); if (!direct) unlink(a->tmp); }
        free(a->path); free(a->tmp); free(a->io);
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

/* Say why writing a failed: the first write error's errno, else e. */
static void atomic_write_error(const nli_atomic *a, int e) {
    if (a->io && a->io->err) e = a->io->err;
    nli_seterr_code(NL_ERR_IO, "%s: write error: %s (the file was left as it was)", a->path,
                    e ? strerror(e) : "unknown error");
}

int nli_atomic_finish(nli_atomic *a) {
    int rc = 0;
    errno = 0;
    if (fflush(a->f) != 0 || ferror(a->f) || a->io->err || (a->tmp && fsync(a->io->fd) != 0)) {
        atomic_write_error(a, errno);
        rc = -1;
    }
    errno = 0;
    if (fclose(a->f) != 0 && rc == 0) { atomic_write_error(a, errno); rc = -1; }
    a->f = NULL;
    if (rc != 0) nli_atomic_abort(a);
    else { free(a->io); a->io = NULL; }
    return rc;
}

/* fsync the folder holding path, so a rename into it survives a crash. */
static int sync_dir_of(const char *path) {
    char *dir = nli_dirname(path);
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL)) { /* EINVAL: a file system without directory fsync */
        nli_seterr_code(NL_ERR_IO, "%s: cannot sync the folder: %s", dir, strerror(errno));
        rc = -1;
    }
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

int nli_atomic_publish(nli_atomic *a) {
    int rc = 0;
    free(a->io); /* finished: closed already */
    a->io = NULL;
    if (!a->tmp) { /* written in place */
    } else if (rename(a->tmp, a->path) != 0) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot rename into place: %s (the file was left as it was)", a->path,
                        strerror(errno));
        unlink(a->tmp);
        rc = -1;
    } else if (sync_dir_of(a->path) != 0) {
        nli_prefixerr("%s: written, but", a->path);
        rc = -1;
    }
    free(a->path); free(a->tmp);
    memset(a, 0, sizeof *a);
    return rc;
}

/* "<path>.old.<pid>.<n>.<tag>": a file's earlier version while a set is
 * published (remove_stale_temps removes those of killed runs too). */
static char *backup_name(const char *path) { return nli_temp_name(path, "old"); }

static const char *base_name(const char *path) {
    const char *sl = strrchr(path, '/');
    return sl ? sl + 1 : path;
}

int nli_atomic_publish_set(nli_atomic *a, size_t n) {
    char **bak = nli_calloc(n + 1, sizeof *bak);
    /* 0 no earlier file, 1 kept as bak, 2 there but not kept, 3 written in place (a pipe, a device) */
    int *state = nli_calloc(n + 1, sizeof *state);
    int rc = 0;
    size_t k = 0;
    if (!bak || !state) goto out_abort;
    for (size_t j = 0; j < n; j++) {
        free(a[j].io); /* finished: closed already */
        a[j].io = NULL;
        if (!a[j].tmp) { state[j] = 3; continue; }
        if (!(bak[j] = backup_name(a[j].path))) goto out_abort;
        unlink(bak[j]);
        if (link(a[j].path, bak[j]) == 0) state[j] = 1;
        else state[j] = errno == ENOENT ? 0 : 2; /* e.g. no hard links on this file system */
    }
    for (k = 0; k < n; k++)
        if (state[k] != 3 && rename(a[k].tmp, a[k].path) != 0) break;
    if (k == n) { /* all in place: drop the earlier versions, then make the renames durable */
        for (size_t j = 0; j < n; j++)
            if (state[j] == 1) unlink(bak[j]);
        for (size_t j = 0; j < n && rc == 0; j++)
            if (state[j] != 3 && sync_dir_of(a[j].path) != 0) {
                nli_prefixerr("%s: written, but", a[j].path);
                rc = -1;
            }
        goto out;
    }
    /* a[k] failed: put back what a[0..k) replaced, newest first */
    rc = -1;
    int e = errno, e_back = 0, uncopied = 0;
    char msg[1024], kept[1024] = "";
    snprintf(msg, sizeof msg, "%s: cannot rename into place: %s", a[k].path, strerror(e));
    for (size_t j = k; j < n; j++)
        if (a[j].tmp) unlink(a[j].tmp);
    for (size_t j = k; j-- > 0;) {
        if (state[j] == 3) continue; /* a pipe or a device: what went out is out */
        int back = state[j] == 1 ? rename(bak[j], a[j].path) : state[j] == 0 ? unlink(a[j].path) : -1;
        if (back == 0) {
            if (state[j] == 1) state[j] = 0; /* the backup is the file again */
            continue;
        }
        if (state[j] == 2) uncopied = 1;
        else if (!e_back) e_back = errno;
        snprintf(kept + strlen(kept), sizeof kept - strlen(kept), "%s%s", *kept ? ", " : "", base_name(a[j].path));
    }
    for (size_t j = 0; j < n; j++)
        if (state[j] == 1) unlink(bak[j]);
    (void)sync_dir_of(a[k].path);
    if (!*kept)
        nli_seterr_code(NL_ERR_IO, "%s (no file was changed%s)", msg,
                        k ? ": the ones replaced before it were put back" : "");
    else
        nli_seterr_code(NL_ERR_IO, "%s; putting the earlier versions back failed (%s); already replaced: %s", msg,
                        e_back ? strerror(e_back) : uncopied ? "no copy could be kept on this file system" : "?", kept);
    goto out;
out_abort:
    for (size_t j = 0; j < n; j++)
        if (a[j].tmp) unlink(a[j].tmp);
    rc = -1;
out:
    for (size_t j = 0; j < n; j++) {
        free(a[j].io); free(a[j].path); free(a[j].tmp);
        memset(&a[j], 0, sizeof a[j]);
        if (bak) free(bak[j]);
    }
    free(bak);
    free(state);
    return rc;
}

int nli_atomic_commit(nli_atomic *a) {
    if (nli_atomic_finish(a) != 0) return -1;
    return nli_atomic_publish(a);
}

void nli_atomic_abort(nli_atomic *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->path); free(a->tmp); free(a->io);
    memset(a, 0, sizeof *a);
}

int nl_write_file_atomic(const char *path, const void *data, size_t len) {
    nli_atomic a;
    if (!path || (len && !data)) return nli_null_arg(__func__);
    if (nli_atomic_open(&a, path) != 0) return -1;
    if (len && fwrite(data, 1, len, a.f) != len) {
        atomic_write_error(&a, errno);
        nli_atomic_abort(&a);
        return -1;
    }
    return nli_atomic_commit(&a);
}
