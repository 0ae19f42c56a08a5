/* cache.h — on-disk store of float32 embedding vectors keyed by strings.
 *
 * One file per namespace: the namespace string says what produced the
 * vectors (model fingerprint + prompt template, or preprocessing), so a
 * vector is only ever reused for the same computation. Records are appended
 * and checksummed; an interrupted run leaves a valid prefix that the next
 * open keeps. Format and guarantees: docs/cache.md.
 *
 *   nli_cache *c = nli_cache_open("cache/img.nlc", ns, 512);
 *   if (!nli_cache_get(c, key, v)) { compute(v); nli_cache_put(c, key, v); }
 *   ... every few hundred puts: nli_cache_flush(c);
 *   nli_cache_close(c);
 *
 * Several processes may share one cache. The file is locked (flock) from
 * the first put (or nli_cache_lock) to the next flush; taking the lock reads
 * what other processes stored meanwhile, so a caller that locks before it
 * computes a chunk and flushes after stores each vector once, and another
 * process waits for the chunk and then reuses it. A handle is not
 * thread-safe; one process should hold one cache's lock at a time. */
#ifndef NEGLABEL_CACHE_H
#define NEGLABEL_CACHE_H
#include <stddef.h>

#define NL_CACHE_MAX_KEY ((size_t)64 << 10) /* bytes per key */
#define NL_CACHE_MAX_NS ((size_t)64 << 10)  /* bytes of namespace string */
#define NL_CACHE_MAX_DIM 65536

typedef struct nli_cache nli_cache;

/* Open or create the cache file at path (parent folders are created). A file
 * for another namespace or dim, or with a damaged header, is reported once on
 * stderr and replaced by an empty cache; a damaged or cut-off tail is
 * reported and cut back to the last valid record. NULL + error when the file
 * cannot be created, read or locked. Waits while another process holds the
 * lock. */
nli_cache *nli_cache_open(const char *path, const char *ns, size_t dim);

/* Take the lock (waiting while another process holds it) and load the
 * records others appended since; held until nli_cache_flush. -1 + error
 * when the file cannot be locked or read. */
int nli_cache_lock(nli_cache *c);

/* 1 and out (dim floats) filled on a hit, 0 on a miss. */
int nli_cache_get(nli_cache *c, const char *key, float *out);

/* Store v (dim floats) under key, replacing any earlier vector; it is
 * written by the next nli_cache_flush. Takes the lock if not held. -1 +
 * error for a key over NL_CACHE_MAX_KEY bytes, a non-finite value, or a
 * lock error. */
int nli_cache_put(nli_cache *c, const char *key, const float *v);

/* Write the records put since the last flush after the file's valid data,
 * fsync, and release the lock. On a write or sync error (disk full) the
 * file is cut back to its valid length and -1 + error names it; the
 * entries stored before stay valid. */
int nli_cache_flush(nli_cache *c);

size_t nli_cache_count(const nli_cache *c);

/* Flush, unlock and free. Safe with NULL. Flush errors are reported on
 * stderr (there is no caller left to tell). */
void nli_cache_close(nli_cache *c);

/* "realpath|size|mtime_ns" for a file, so a cached image embedding is
 * recomputed when the file changes (malloc'd; NULL + error if stat fails). */
char *nli_cache_file_key(const char *path);
#endif
