/* cache.c — see cache.h; the file format is described in docs/cache.md.
 *
 * The whole file is read into memory at open (an open-addressing hash table
 * over an array of entries, vectors in one contiguous array); new records
 * are collected in memory and written after the valid data by
 * nli_cache_flush, under an flock that also covers reading what other
 * processes appended meanwhile. Integers and floats are stored
 * little-endian and assembled byte by byte, so the format does not depend on
 * the host. */
#include "cache.h"
#include "util.h"
#include "neglabel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "NLCACHE1"
#define VERSION 1u
#define HDR_FIXED 28 /* magic 8, version 4, dim 4, ns hash 8, ns length 4 */

typedef struct {
    uint64_t h;
    size_t koff; /* into keys */
    size_t klen;
} entry;

struct nli_cache {
    char *path, *ns;
    size_t dim;
    int fd;
    off_t len;     /* valid bytes in the file as this handle last read or wrote it */
    int locked;    /* holds the flock */
    uint8_t *pend; /* records put but not yet written */
    size_t pend_len, pend_cap;
    entry *ent;
    size_t n, cap;
    char *keys;
    size_t keys_len, keys_cap;
    float *vec;
    size_t vec_cap; /* in vectors */
    size_t *slot;   /* entry index + 1; 0 = empty */
    size_t nslot;   /* power of two */
};

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* FNV-1a's low bits are weak for power-of-two tables; mix them (murmur3 fmix). */
static uint64_t key_hash(const char *k, size_t len) {
    uint64_t h = nli_fnv1a(k, len, NL_FNV_INIT);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* Slot holding key, or the empty slot where it would go. */
static size_t *find_slot(nli_cache *c, const char *k, size_t len, uint64_t h) {
    size_t mask = c->nslot - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        size_t s = c->slot[i];
        if (!s) return &c->slot[i];
        const entry *e = &c->ent[s - 1];
        if (e->h == h && e->klen == len && memcmp(c->keys + e->koff, k, len) == 0) return &c->slot[i];
    }
}

static int rehash(nli_cache *c, size_t nslot) {
    size_t *s = nli_calloc(nslot, sizeof *s);
    if (!s) return -1;
    free(c->slot);
    c->slot = s;
    c->nslot = nslot;
    for (size_t i = 0; i < c->n; i++) {
        const entry *e = &c->ent[i];
        *find_slot(c, c->keys + e->koff, e->klen, e->h) = i + 1;
    }
    return 0;
}

/* Insert or replace in memory. */
static int mem_put(nli_cache *c, const char *k, size_t len, const float *v) {
    uint64_t h = key_hash(k, len);
    size_t *s = find_slot(c, k, len, h);
    if (*s) {
        memcpy(c->vec + (*s - 1) * c->dim, v, c->dim * sizeof(float));
        return 0;
    }
    if (nli_grow((void **)&c->ent, &c->cap, c->n + 1, sizeof(entry)) != 0) return -1;
    if (nli_grow((void **)&c->keys, &c->keys_cap, c->keys_len + len + 1, 1) != 0) return -1;
    if (nli_grow((void **)&c->vec, &c->vec_cap, c->n + 1, c->dim * sizeof(float)) != 0) return -1;
    entry *e = &c->ent[c->n];
    e->h = h;
    e->koff = c->keys_len;
    e->klen = len;
    memcpy(c->keys + c->keys_len, k, len);
    c->keys[c->keys_len + len] = 0;
    c->keys_len += len + 1;
    memcpy(c->vec + c->n * c->dim, v, c->dim * sizeof(float));
    c->n++;
    *s = c->n;
    /* Keep the load factor at or below one half. */
    if (c->n * 2 > c->nslot) return rehash(c, c->nslot * 2);
    return 0;
}

/* Serialise the header into a malloc'd buffer. */
static uint8_t *make_header(const nli_cache *c, size_t *len) {
    size_t nsl = strlen(c->ns);
    *len = HDR_FIXED + nsl + 8;
    uint8_t *h = nli_malloc(*len);
    if (!h) return NULL;
    memcpy(h, MAGIC, 8);
    wr32(h + 8, VERSION);
    wr32(h + 12, (uint32_t)c->dim);
    wr64(h + 16, nli_fnv1a(c->ns, nsl, NL_FNV_INIT));
    wr32(h + 24, (uint32_t)nsl);
    memcpy(h + HDR_FIXED, c->ns, nsl);
    wr64(h + HDR_FIXED + nsl, nli_fnv1a(h, HDR_FIXED + nsl, NL_FNV_INIT));
    return h;
}

/* Why the header is unusable (NULL if it is ours); *hlen receives its length. */
static const char *check_header(const nli_cache *c, const uint8_t *d, size_t len, size_t *hlen,
                                char *why, size_t whysz) {
    if (len < 12) return "too short for a cache header";
    if (memcmp(d, MAGIC, 8) != 0) return "not a neglabel cache (bad magic)";
    uint32_t ver = rd32(d + 8);
    if (ver != VERSION) {
        snprintf(why, whysz, "cache format version %u, this program reads %u", ver, VERSION);
        return why;
    }
    if (len < HDR_FIXED) return "damaged header (cut off)";
    size_t nsl = rd32(d + 24);
    if (nsl > NL_CACHE_MAX_NS) return "damaged header (namespace length out of range)";
    if (len - HDR_FIXED < nsl + 8) return "damaged header (cut off)";
    if (rd64(d + HDR_FIXED + nsl) != nli_fnv1a(d, HDR_FIXED + nsl, NL_FNV_INIT))
        return "damaged header (checksum mismatch)";
    if (rd32(d + 12) != c->dim) {
        snprintf(why, whysz, "written for vectors of dim %u, not %zu", rd32(d + 12), c->dim);
        return why;
    }
    size_t mynsl = strlen(c->ns);
    if (nsl != mynsl || memcmp(d + HDR_FIXED, c->ns, nsl) != 0) {
        snprintf(why, whysz, "written for another namespace (\"%.*s%s\", not \"%.*s%s\")",
                 (int)(nsl < 80 ? nsl : 80), (const char *)d + HDR_FIXED, nsl > 80 ? "..." : "",
                 (int)(mynsl < 80 ? mynsl : 80), c->ns, mynsl > 80 ? "..." : "");
        return why;
    }
    *hlen = HDR_FIXED + nsl + 8;
    return NULL;
}

#define DROP_STEP ((size_t)8 << 20) /* mapped bytes read before they are given back */

/* Load records after the header; returns the length of the valid prefix and
 * sets *why when a record was rejected. -1 on out-of-memory. The mapped
 * pages read are given back as it goes, and the vectors' array is sized
 * once for the most records the bytes can hold (pages never touched cost
 * nothing): a cache of 100,000 vectors of 512 (216 MB) took 427 MB to open,
 * the file's pages and the copy, plus the array's copies as it doubled. */
static long long load_records(nli_cache *c, const uint8_t *d, size_t len, size_t pos, const char **why) {
    size_t vbytes = c->dim * sizeof(float), given_back = pos;
    float *v = nli_malloc(vbytes);
    if (!v) return -1;
    *why = NULL;
    size_t most = pos < len ? (len - pos) / (4 + vbytes + 8) : 0;
    if (nli_grow((void **)&c->vec, &c->vec_cap, c->n + most, vbytes) != 0 ||
        nli_grow((void **)&c->ent, &c->cap, c->n + most, sizeof(entry)) != 0) {
        free(v);
        return -1;
    }
    while (pos < len) {
        if (pos - given_back >= DROP_STEP) {
            nli_pages_drop(d + given_back, pos - given_back);
            given_back = pos;
        }
        size_t left = len - pos;
        if (left < 4) { *why = "cut-off record"; break; }
        size_t klen = rd32(d + pos);
        if (klen > NL_CACHE_MAX_KEY) { *why = "damaged record (key length out of range)"; break; }
        size_t need = 4 + klen + vbytes + 8;
        if (left < need) { *why = "cut-off record"; break; }
        const uint8_t *r = d + pos;
        if (rd64(r + need - 8) != nli_fnv1a(r, need - 8, NL_FNV_INIT)) {
            *why = "damaged record (checksum mismatch)";
            break;
        }
        if (memchr(r + 4, 0, klen)) { *why = "damaged record (NUL byte in key)"; break; }
        for (size_t i = 0; i < c->dim; i++) {
            uint32_t bits = rd32(r + 4 + klen + 4 * i);
            memcpy(&v[i], &bits, 4);
        }
        if (!nli_all_finite(v, c->dim)) { *why = "damaged record (non-finite value)"; break; }
        if (mem_put(c, (const char *)r + 4, klen, v) != 0) { free(v); return -1; }
        pos += need;
    }
    free(v);
    return (long long)pos;
}

/* pwrite all of buf at off; -1 with errno set (ENOSPC for a write of 0). */
static int write_all(int fd, const uint8_t *buf, size_t n, off_t off) {
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, buf + done, n - done, off + (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) { errno = ENOSPC; return -1; }
        done += (size_t)w;
    }
    return 0;
}

/* Forget everything loaded (the file is read again from the start). */
static void mem_clear(nli_cache *c) {
    c->n = 0;
    c->keys_len = 0;
    memset(c->slot, 0, c->nslot * sizeof *c->slot);
    c->len = 0;
}

/* Replace the file's contents with a fresh header. */
static int reset_file(nli_cache *c) {
    size_t hl;
    uint8_t *h = make_header(c, &hl);
    if (!h) return -1;
    int rc = 0;
    if (ftruncate(c->fd, 0) != 0) rc = -1;
    if (rc == 0) rc = write_all(c->fd, h, hl, 0);
    if (rc == 0 && fsync(c->fd) != 0) rc = -1;
    if (rc != 0) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot write cache header: %s", c->path, strerror(errno));
        if (ftruncate(c->fd, 0) != 0) { /* an empty file is a valid new cache; nothing more to do */ }
        c->len = 0;
    } else {
        c->len = (off_t)hl;
    }
    free(h);
    return rc;
}

/* Read what the file holds beyond the c->len bytes already loaded (all of
 * it when c->len is 0), validating every record; a damaged header makes a
 * new empty cache, a damaged or cut-off tail is cut back. Called with the
 * lock held. */
static int load_file(nli_cache *c) {
    struct stat st;
    if (fstat(c->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        nli_seterr("%s: not a regular file", c->path);
        return -1;
    }
    if (st.st_size == c->len && c->len > 0) return 0; /* nothing new */
    if (st.st_size < c->len) mem_clear(c);          /* rebuilt by another process: read it all again */
    if (st.st_size == 0) return reset_file(c);
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, c->fd, 0);
    if (map == MAP_FAILED) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot map: %s", c->path, strerror(errno));
        return -1;
    }
    const uint8_t *d = map;
    size_t start = (size_t)c->len, hl = 0;
    char whybuf[512];
    /* the header on every load, not only the first: a file replaced in
     * place since (a copy over it) may be another namespace's */
    const char *bad = check_header(c, d, len, &hl, whybuf, sizeof whybuf);
    if (bad) {
        munmap(map, len);
        if (start) mem_clear(c);
        nli_log(NL_LOG_WARN, "cache %s: %s; starting a new empty cache", c->path, bad);
        return reset_file(c);
    }
    if (start == 0) start = hl;
    const char *why;
    size_t n0 = c->n;
    long long valid = load_records(c, d, len, start, &why);
    if (valid >= 0 && (size_t)valid < len && start > hl) {
        /* damage right where this process's view of the file ended: the
         * file may have been replaced in place rather than cut off, so it
         * is read again from its header before anything is cut */
        mem_clear(c);
        n0 = 0;
        start = hl;
        valid = load_records(c, d, len, start, &why);
    }
    munmap(map, len);
    if (valid < 0) {
        nli_prefixerr("%s", c->path);
        return -1;
    }
    if (start > 0 && c->len > 0 && c->n > n0)
        nli_log(NL_LOG_INFO, "cache %s: %zu entries stored by another process since it was opened here", c->path,
                c->n - n0);
    if ((size_t)valid < len) {
        nli_log(NL_LOG_WARN,
                "cache %s: %s at byte %lld (an interrupted run?); keeping the %zu "
                "records before it and dropping the last %zu bytes",
                c->path, why, valid, c->n, len - (size_t)valid);
        if (ftruncate(c->fd, (off_t)valid) != 0 || fsync(c->fd) != 0) {
            nli_seterr_code(NL_ERR_IO, "%s: cannot cut back the damaged tail: %s", c->path, strerror(errno));
            return -1;
        }
    }
    c->len = (off_t)valid;
    return 0;
}

/* Take the file's lock (waiting for another process that holds it) and
 * read what others appended meanwhile. */
static int lock_file(nli_cache *c) {
    if (c->locked) return 0;
    if (flock(c->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) goto fail;
        nli_log(NL_LOG_INFO, "cache %s: in use by another process; waiting for it", c->path);
        /* polled, not a blocking flock: the CLI's SA_RESTART would restart
         * that through Ctrl-C, and the cancel callback is asked meanwhile */
        while (flock(c->fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) goto fail;
            if (nli_sleep_cancellable(0.1) != 0) return -1;
        }
    }
    c->locked = 1;
    if (load_file(c) != 0) {
        flock(c->fd, LOCK_UN);
        c->locked = 0;
        return -1;
    }
    return 0;
fail:
    nli_seterr_code(NL_ERR_IO, "%s: cannot lock cache: %s", c->path, strerror(errno));
    return -1;
}

/* Write the pending records after the valid data and sync; on failure the
 * file is cut back to what it held before, so it stays valid. */
static int write_pending(nli_cache *c) {
    if (!c->pend_len) return 0;
    int rc = write_all(c->fd, c->pend, c->pend_len, c->len);
    if (rc == 0 && fsync(c->fd) != 0) rc = -1;
    if (rc != 0) {
        int e = errno;
        int cut = ftruncate(c->fd, c->len);
        nli_seterr_code(NL_ERR_IO, "%s: cannot write cache: %s (%s)", c->path, strerror(e),
                        cut == 0 ? "the entries stored before are kept" : "the next run cuts the cache back");
    } else {
        c->len += (off_t)c->pend_len;
    }
    c->pend_len = 0;
    return rc;
}

static void cache_free(nli_cache *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd); /* also drops the lock */
    free(c->path); free(c->ns); free(c->ent); free(c->keys); free(c->vec); free(c->slot); free(c->pend);
    free(c);
}

nli_cache *nli_cache_open(const char *path, const char *ns, size_t dim) {
    if (!path || !*path || !ns) { nli_seterr("cache: no path or namespace given"); return NULL; }
    if (dim == 0 || dim > NL_CACHE_MAX_DIM) {
        nli_seterr("%s: cache vector dim %zu out of range (1..%d)", path, dim, NL_CACHE_MAX_DIM);
        return NULL;
    }
    if (strlen(ns) > NL_CACHE_MAX_NS) {
        nli_seterr("%s: cache namespace longer than %zu bytes", path, NL_CACHE_MAX_NS);
        return NULL;
    }
    nli_cache *c = nli_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    c->dim = dim;
    c->path = nli_strdup(path);
    c->ns = nli_strdup(ns);
    c->nslot = 1024;
    c->slot = nli_calloc(c->nslot, sizeof *c->slot);
    if (!c->path || !c->ns || !c->slot) goto fail;

    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char *dir = nli_strndup(path, (size_t)(slash - path));
        int rc = dir ? nli_mkdir_p(dir) : -1;
        free(dir);
        if (rc != 0) goto fail;
    }
    c->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->fd < 0) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot open cache: %s", path, strerror(errno));
        goto fail;
    }
    /* Read (and repair) under the lock, then let others in. */
    if (lock_file(c) != 0) goto fail;
    flock(c->fd, LOCK_UN);
    c->locked = 0;
    return c;
fail:
    cache_free(c);
    return NULL;
}

int nli_cache_get(nli_cache *c, const char *key, float *out) {
    if (!c || !key) return 0;
    size_t len = strlen(key);
    size_t s = *find_slot(c, key, len, key_hash(key, len));
    if (!s) return 0;
    memcpy(out, c->vec + (s - 1) * c->dim, c->dim * sizeof(float));
    return 1;
}

int nli_cache_lock(nli_cache *c) { return c ? lock_file(c) : 0; }

int nli_cache_put(nli_cache *c, const char *key, const float *v) {
    if (!c || !key || !v) { nli_seterr("cache: missing argument"); return -1; }
    size_t klen = strlen(key);
    if (klen > NL_CACHE_MAX_KEY) {
        nli_seterr("%s: cache key of %zu bytes is over the %zu-byte limit", c->path, klen, NL_CACHE_MAX_KEY);
        return -1;
    }
    if (!nli_all_finite(v, c->dim)) {
        nli_seterr("%s: refusing to cache a non-finite vector for key \"%.200s\"", c->path, key);
        return -1;
    }
    if (lock_file(c) != 0) return -1;
    size_t need = 4 + klen + c->dim * sizeof(float) + 8;
    if (nli_grow((void **)&c->pend, &c->pend_cap, c->pend_len + need, 1) != 0) return -1;
    uint8_t *r = c->pend + c->pend_len;
    wr32(r, (uint32_t)klen);
    memcpy(r + 4, key, klen);
    for (size_t i = 0; i < c->dim; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        wr32(r + 4 + klen + 4 * i, bits);
    }
    wr64(r + need - 8, nli_fnv1a(r, need - 8, NL_FNV_INIT));
    if (mem_put(c, key, klen, v) != 0) return -1;
    c->pend_len += need;
    return 0;
}

int nli_cache_flush(nli_cache *c) {
    if (!c) return 0;
    int rc = write_pending(c);
    if (c->locked) {
        flock(c->fd, LOCK_UN);
        c->locked = 0;
    }
    return rc;
}

size_t nli_cache_count(const nli_cache *c) { return c ? c->n : 0; }

void nli_cache_close(nli_cache *c) {
    if (!c) return;
    if (c->pend_len && nli_cache_flush(c) != 0) nli_log(NL_LOG_ERROR, "%s", nli_geterr());
    cache_free(c);
}

char *nli_cache_file_key(const char *path) {
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot stat: %s", path ? path : "(null)", strerror(errno));
        return NULL;
    }
    char *real = realpath(path, NULL);
    if (!real) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot resolve path: %s", path, strerror(errno));
        return NULL;
    }
    /* ctime too: a replacement of the same size given the old mtime (cp -p,
     * rsync -a, touch -r; uncompressed formats keep their size) still
     * changes it, and nothing can set it back */
    long long mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    long long ctime_ns = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    nli_buf b = {0};
    int rc = nli_buf_printf(&b, "%s|%lld|%lld|%lld", real, (long long)st.st_size, mtime_ns, ctime_ns);
    free(real);
    if (rc != 0) { nli_buf_free(&b); return NULL; }
    return b.s;
}

char *nl_default_cache_dir(void) {
    const char *e = getenv("NEGLABEL_CACHE");
    if (e && *e) return nli_strdup(e);
    e = getenv("XDG_CACHE_HOME");
    if (e && *e) return nli_path_join(e, "neglabel");
    e = getenv("HOME");
    if (e && *e) return nli_path_join(e, ".cache/neglabel");
    return NULL;
}
