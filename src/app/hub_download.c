/* hub_download.c — writing the Hugging Face cache as huggingface_hub
 * writes it (hub.h): blobs fetched under its lock, resumed and verified,
 * pointers, refs and .no_exist markers; the files of one snapshot neglabel
 * needs in the layout asked for; nli_hub_resolve (cache first, else the
 * Hub). See docs/hub.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "clip.h"
#include "hub_impl.h"
#include "neglabel.h"
#include "safetensors.h"
#include "util.h"

/* ------------------------------------------------------------ writing the cache */

/* mkdir -p; -1 with errno set (no error message). */
static int mkdirs(const char *path) {
    char *p = nli_strdup(path);
    if (!p) return -1;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = 0;
        struct stat st;
        if (mkdir(p, 0777) != 0 && !(errno == EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode))) {
            int e = errno == EEXIST ? ENOTDIR : errno;
            free(p);
            errno = e;
            return -1;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    return 0;
}

static int mkdir_cache(const nli_hub_ctx *h, const char *dir) {
    if (mkdirs(dir) != 0) {
        nli_hub_cache_error(h, dir, errno);
        return -1;
    }
    return 0;
}

/* Write data to path through a temporary file in the same folder and a
 * rename, so readers never see a partial file. */
static int write_atomic_small(const nli_hub_ctx *h, const char *path, const char *data, size_t n) {
    nli_buf t = {0};
    t.s = nli_temp_name(path, "tmp"); /* not "<path>.<pid>.tmp": threads of one process each need their own */
    if (!t.s) return -1;
    int fd = open(t.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || nli_hub_write_all(fd, data, n) != 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        unlink(t.s);
        nli_hub_cache_error(h, path, e);
        nli_buf_free(&t);
        return -1;
    }
    close(fd);
    if (rename(t.s, path) != 0) {
        int e = errno;
        unlink(t.s);
        nli_hub_cache_error(h, path, e);
        nli_buf_free(&t);
        return -1;
    }
    nli_buf_free(&t);
    return 0;
}

/* refs/<revision> := commit (when the revision is not the commit itself and
 * the file says otherwise). */
static int write_ref(const nli_hub_ctx *h, const char *commit) {
    if (!strcmp(h->revision, commit)) return 0;
    char cur[41];
    if (nli_hub_read_ref(h->repo, h->revision, cur) == 1 && !strcmp(cur, commit)) return 0;
    char *p = nli_hub_path(h->repo, "refs", h->revision, NULL);
    if (!p) return -1;
    char *slash = strrchr(p, '/');
    *slash = 0;
    int rc = mkdir_cache(h, p);
    *slash = '/';
    if (rc == 0) rc = write_atomic_small(h, p, commit, 40);
    free(p);
    return rc;
}

/* Best effort, as huggingface_hub: a cache directory tag and .no_exist
 * markers. */
static void touch(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0) close(fd);
}

static void write_cachedir_tag(const nli_hub_ctx *h) {
    char *p = nli_path_join(h->cache, "CACHEDIR.TAG");
    if (p && !nli_file_exists(p)) {
        static const char tag[] = "Signature: 8a477f597d28d172789f06886806bc55\n"
                                  "# This file is a cache directory tag created by huggingface_hub.\n"
                                  "# For information about cache directory tags, see:\n"
                                  "#\thttps://bford.info/cachedir/\n";
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (nli_hub_write_all(fd, tag, sizeof tag - 1) != 0) {}
            close(fd);
        }
    }
    free(p);
}

static int no_exist_marked(const nli_hub_ctx *h, const char *commit, const char *file) {
    return nli_hub_no_exist_marked(h->repo, commit, file);
}

static void mark_no_exist(const nli_hub_ctx *h, const char *commit, const char *file) {
    char *d = nli_hub_path(h->repo, ".no_exist", commit, NULL);
    char *p = d ? nli_path_join(d, file) : NULL;
    if (p && mkdirs(d) == 0) touch(p);
    free(p);
    free(d);
}

/* snapshots/<commit>/<name> -> ../../blobs/<etag>, replacing whatever is
 * there (a dangling link) atomically. */
static int link_pointer(const nli_hub_ctx *h, const char *commit, const char *name, const char *etag) {
    char *snap = nli_hub_path(h->repo, "snapshots", commit, NULL);
    char *ptr = snap ? nli_path_join(snap, name) : NULL;
    nli_buf target = {0}, tmp = {0};
    int rc = -1;
    if (!ptr) goto done;
    nli_buf_printf(&target, "../../blobs/%s", etag);
    tmp.s = nli_temp_name(ptr, "tmp"); /* threads resolving one model at once each have their own */
    if (!target.s || !tmp.s) goto done;
    if (mkdir_cache(h, snap) != 0) goto done;
    unlink(tmp.s);
    if (symlink(target.s, tmp.s) != 0 || rename(tmp.s, ptr) != 0) {
        int e = errno;
        unlink(tmp.s);
        nli_hub_cache_error(h, ptr, e);
        goto done;
    }
    rc = 0;
done:
    nli_buf_free(&target);
    nli_buf_free(&tmp);
    free(ptr);
    free(snap);
    return rc;
}

static int pointer_present(const nli_hub_ctx *h, const char *commit, const char *name) {
    char *ptr = nli_hub_path(h->repo, "snapshots", commit, name, NULL);
    int r = ptr && nli_hub_is_regular(ptr);
    free(ptr);
    return r;
}

/* Verify a complete download against the ETag: SHA-256 for LFS files, the
 * git blob id (SHA-1 of "blob <size>\0" + bytes) for the others. 0, -2
 * (error set) when the bytes differ, -1 when they could not be read back
 * (an I/O error: the download may be whole, and is kept). */
static int verify(const char *path, const nli_hub_file *m, const char *url) {
    char hex[65];
    if (nli_hub_file_digest(path, !m->lfs, hex) != 0) {
        nli_prefixerr("checking the download (kept, to be checked again next time)");
        return -1;
    }
    if (strcmp(hex, m->etag) != 0) {
        char u[600];
        nli_hub_url_text(u, sizeof u, url);
        nli_seterr_code(NL_ERR_IO,
                       "%s: the downloaded bytes do not match the Hub's checksum: %s %s, expected %s (%s); the corrupt "
                       "download was removed, run again to retry",
                       u, m->lfs ? "SHA-256" : "git blob id", hex, m->etag, m->lfs ? "X-Linked-Etag" : "ETag");
        return -2;
    }
    return 0;
}

/* Fetch one blob into blobs/<etag>: under a lock shared with huggingface_hub
 * (.locks/<repo>/<etag>.lock), into blobs/<etag>.incomplete, resuming what
 * an earlier run left there (HTTP Range), verified, then renamed. */
static int fetch_blob(const nli_hub_ctx *h, const nli_hub_file *m) {
    char *blobs = nli_path_join(h->repo, "blobs");
    char *blob = blobs ? nli_path_join(blobs, m->etag) : NULL;
    char *folder = nli_hub_repo_folder(h->repo_id);
    char *lockdir = folder ? nli_hub_path(h->cache, ".locks", folder, NULL) : NULL;
    nli_buf lockp = {0}, inc = {0};
    int lockfd = -1, fd = -1, rc = -1;
    if (!blob || !lockdir) goto done;
    nli_buf_printf(&lockp, "%s/%s.lock", lockdir, m->etag);
    nli_buf_printf(&inc, "%s.incomplete", blob);
    if (!lockp.s || !inc.s) goto done;
    if (mkdir_cache(h, blobs) != 0 || mkdir_cache(h, lockdir) != 0) goto done;
    lockfd = open(lockp.s, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lockfd < 0) {
        nli_hub_cache_error(h, lockp.s, errno);
        goto done;
    }
    /* another process (neglabel, huggingface_hub) may be downloading the
     * same blob, for minutes: wait for it, but stop when asked to
     * (nl_set_cancel), which a blocking flock would not let us see */
    while (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK) {
            nli_hub_cache_error(h, lockp.s, errno);
            goto done;
        }
        if (nli_cancelled()) {
            nli_seterr_code(NL_ERR_CANCELLED, "%s: cancelled while waiting for another download of it (%s)", m->name,
                            lockp.s);
            goto done;
        }
        usleep(100000);
    }
    struct stat st;
    if (stat(blob, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == m->size) {
        rc = 0; /* another process finished it */
        goto done;
    }
    fd = open(inc.s, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0 || fstat(fd, &st) != 0) {
        nli_hub_cache_error(h, inc.s, errno);
        goto done;
    }
    long long have = st.st_size;
    if (have > m->size) {
        if (ftruncate(fd, 0) != 0) {
            nli_hub_cache_error(h, inc.s, errno);
            goto done;
        }
        have = 0;
    }
    /* room for the rest? */
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) == 0 && vfs.f_blocks > 0) {
        unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
        if (avail < (unsigned long long)(m->size - have)) {
            nli_seterr_code(NL_ERR_IO, "%s: not enough disk space for %s (%lld bytes to fetch, %llu free)", h->cache,
                           m->name, m->size - have, avail);
            goto done;
        }
    }
    if (nli_hub_get(h, m, fd, inc.s, &have) != 0) goto done;
    if (fsync(fd) != 0) {
        nli_hub_cache_error(h, inc.s, errno);
        goto done;
    }
    int v = verify(inc.s, m, m->url);
    if (v != 0) {
        if (v == -2) unlink(inc.s); /* corrupt: fetched again next time */
        goto done;
    }
    if (rename(inc.s, blob) != 0) {
        nli_hub_cache_error(h, blob, errno);
        goto done;
    }
    int dfd = open(blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) {}
        close(dfd);
    }
    rc = 0;
done:
    if (fd >= 0) close(fd);
    if (lockfd >= 0) close(lockfd); /* releases the lock */
    nli_buf_free(&lockp);
    nli_buf_free(&inc);
    free(lockdir);
    free(folder);
    free(blob);
    free(blobs);
    return rc;
}

/* ------------------------------------------------------------ one snapshot */

/* A file that holds weights (the size limit is a model's, not a config's):
 * the single files, and shards as an index may name them. */
static int is_weights(const char *name) {
    static const char *const single[] = {"model.safetensors", NL_HUB_OPENCLIP_WEIGHTS, NL_HUB_BIN,
                                         NL_HUB_OPENCLIP_BIN};
    for (size_t k = 0; k < sizeof single / sizeof *single; k++)
        if (!strcmp(name, single[k])) return 1;
    return nli_st_valid_shard_name(name) || nli_st_valid_shard_name_ext(name, ".bin");
}

/* HEAD one file at the commit. 1: found (*m filled), 0: the repo has no
 * such file (404 with X-Error-Code EntryNotFound, what the Hub answers and
 * the only 404 huggingface_hub records in .no_exist), -1: error, a bare
 * 404 (a proxy's, a repo or revision not found) included: the callers
 * record 0 in .no_exist, which must not outlive a passing failure. */
static int head_at_commit(const nli_hub_ctx *h, const char *commit, const char *name, nli_hub_file *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    char *url = nli_hub_resolve_url(h, commit, name);
    if (!url) return -1;
    long status;
    char *code = NULL;
    int rc = nli_hub_head(h, url, m, &status, &code);
    int absent = rc != 0 && status == 404 && code && !strcmp(code, "EntryNotFound");
    free(code);
    free(url);
    if (rc == 0) {
        if (strcmp(m->commit, commit) != 0) {
            nli_seterr_code(NL_ERR_IO, "HEAD %s at commit %s: the server answered for commit %s", name, commit,
                           m->commit);
            return -1;
        }
        long long max = is_weights(name) ? NL_HUB_WEIGHTS_FILE_MAX : NL_HUB_SMALL_FILE_MAX;
        if (m->size > max) {
            nli_seterr("%s: the Hub says it has %lld bytes, more than neglabel accepts (%lld)", name, m->size, max);
            return -1;
        }
        return 1;
    }
    return absent ? 0 : -1;
}

static void meta_free(nli_hub_file *m) {
    free(m->url);
    m->url = NULL;
}

/* The files to fetch for one snapshot. */
typedef struct {
    nli_hub_file *v;
    size_t n, cap;
} plan;

static void plan_free(plan *p) {
    for (size_t i = 0; i < p->n; i++) meta_free(&p->v[i]);
    free(p->v);
}

/* Add name to the plan unless the snapshot has it. 1 planned or present,
 * 0 absent from the repo (404 EntryNotFound), -1 error. */
static int plan_file(const nli_hub_ctx *h, const char *commit, const char *name, plan *p) {
    if (pointer_present(h, commit, name)) return 1;
    if (nli_grow((void **)&p->v, &p->cap, p->n + 1, sizeof *p->v) != 0) return -1;
    int r = head_at_commit(h, commit, name, &p->v[p->n]);
    if (r == 1) p->n++;
    else meta_free(&p->v[p->n]);
    return r;
}

/* name is in the plan already (spiece.model: SigLIP's tokenizer, and an
 * extra where a repository has tokenizer.json too). */
static int planned(const plan *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].name, name)) return 1;
    return 0;
}

/* plan_file for a file the repository may lack: one known absent (.no_exist)
 * is not asked for again, one found absent is recorded so. */
static int plan_optional(const nli_hub_ctx *h, const char *commit, const char *name, plan *p) {
    if (no_exist_marked(h, commit, name)) return 0;
    int s = plan_file(h, commit, name, p);
    if (s == 0) mark_no_exist(h, commit, name);
    return s;
}

static int blob_present(const nli_hub_ctx *h, const nli_hub_file *m) {
    char *blob = nli_hub_path(h->repo, "blobs", m->etag, NULL);
    struct stat st;
    int have = blob && stat(blob, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == m->size;
    free(blob);
    return have;
}

/* The blob is there (this or an earlier run, or huggingface_hub): link it;
 * else download it first. */
static int place_file(const nli_hub_ctx *h, const char *commit, const nli_hub_file *m) {
    if (!blob_present(h, m) && fetch_blob(h, m) != 0) return -1;
    return link_pointer(h, commit, m->name, m->etag);
}

/* An index (name; its shards end in suffix) and its shards: the index
 * fetched now (small; it says which shards), the shards planned. 1, 0 the
 * repository has no such index, -1 error. */
static int plan_index(const nli_hub_ctx *h, const char *commit, const char *snap, const char *name,
                      const char *suffix, plan *p) {
    plan ip = {0};
    int idx = plan_file(h, commit, name, &ip);
    if (idx == 1 && ip.n) idx = place_file(h, commit, &ip.v[0]) == 0 ? 1 : -1;
    plan_free(&ip);
    if (idx != 1) return idx;
    char *index = nli_path_join(snap, name);
    nli_st_index ix;
    int ir = index ? nli_st_index_read_ext(index, suffix, &ix) : -1;
    free(index);
    if (ir != 0) return -1;
    for (int i = 0; i < ix.n_shards && ir == 0; i++) {
        int s = plan_file(h, commit, ix.shards[i], p);
        if (s == 0)
            nli_seterr("the index names shard %s, which %s@%s does not have", ix.shards[i], h->repo_id, commit);
        if (s != 1) ir = -1;
    }
    nli_st_index_free(&ix);
    return ir == 0 ? 1 : -1;
}

/* A repository without safetensors weights (many older fine-tunes): its
 * pytorch_model.bin, else the sharded one's index and shards, planned; they
 * are converted to model.safetensors in the snapshot once fetched
 * (*convert: the file to convert). 1, or -1 with the error set (also when
 * the repository has neither). */
static int plan_bin(const nli_hub_ctx *h, const char *commit, const char *snap, plan *p, const char **convert) {
    int s = plan_file(h, commit, NL_HUB_BIN, p);
    if (s == 0) {
        s = plan_index(h, commit, snap, NL_HUB_BIN_INDEX, ".bin", p);
        if (s == 1) *convert = NL_HUB_BIN_INDEX;
    } else if (s == 1) {
        *convert = NL_HUB_BIN;
    }
    if (s == 0)
        nli_seterr("%s@%s has neither model.safetensors nor model.safetensors.index.json, nor a pytorch_model.bin "
                   "(or its index) to convert", h->repo_id, commit);
    return s == 1 ? 1 : -1;
}

static int download_snapshot(const nli_hub_ctx *h, const char *commit, nli_hub_file *config) {
    char *snap = nli_hub_path(h->repo, "snapshots", commit, NULL);
    plan p = {0};
    const char *convert = NULL; /* pytorch_model.bin or its index, to convert once fetched */
    int rc = -1;
    if (!snap) return -1;
    if (mkdir_cache(h, snap) != 0) goto done;
    write_cachedir_tag(h);
    /* config.json, or open_clip_config.json for an OpenCLIP repository */
    const int openclip = strcmp(config->name, NL_HUB_OPENCLIP_CONFIG) == 0;
    if (!pointer_present(h, commit, config->name)) {
        /* fetched at the commit, not at the revision, which may move */
        if (nli_grow((void **)&p.v, &p.cap, 1, sizeof *p.v) != 0) goto done;
        p.v[0] = *config;
        p.v[0].url = config->lfs ? nli_strdup(config->url) : nli_hub_resolve_url(h, commit, config->name);
        if (!p.v[0].url) goto done;
        p.n = 1;
    }
    if (openclip) {
        /* open_clip_model.safetensors; the tokenizer files when the repo has
         * them (timm/ repos do not: the model load then says what to do) */
        int w = plan_file(h, commit, NL_HUB_OPENCLIP_WEIGHTS, &p);
        if (w == 0) { /* older repositories: the .bin alone, converted once fetched */
            w = plan_file(h, commit, NL_HUB_OPENCLIP_BIN, &p);
            if (w == 1) convert = NL_HUB_OPENCLIP_BIN;
        }
        if (w == 0)
            nli_seterr("%s@%s has neither %s nor %s", h->repo_id, commit, NL_HUB_OPENCLIP_WEIGHTS, NL_HUB_OPENCLIP_BIN);
        if (w != 1) goto done;
        for (size_t i = 1; i < NL_HUB_N_REQUIRED; i++)
            if (plan_file(h, commit, nli_hub_required[i], &p) < 0) goto done;
        goto fetch;
    }
    /* the weights: model.safetensors, else the index and its shards (as
     * transformers asks for them) */
    /* (one converted from a .bin is in the snapshot, though the Hub has none) */
    int single = pointer_present(h, commit, "model.safetensors")     ? 1
                 : no_exist_marked(h, commit, "model.safetensors") ? 0
                                                                   : plan_file(h, commit, "model.safetensors", &p);
    if (single < 0) goto done;
    if (single == 0) {
        mark_no_exist(h, commit, "model.safetensors");
        int idx = plan_index(h, commit, snap, "model.safetensors.index.json", ".safetensors", &p);
        if (idx < 0 || (idx == 0 && plan_bin(h, commit, snap, &p, &convert) != 1)) goto done;
    }
    /* the tokenizer: vocab.json + merges.txt (and added_tokens.json when
     * the repository has one: a fine-tune's added words), else
     * tokenizer.json (all that transformers 5 saves), else a BERT
     * tokenizer's vocab.txt (ALIGN's, saved without tokenizer.json), else
     * spiece.model (SigLIP's); then the files that
     * list added tokens, when there (transformers matches them whole) */
    int v = plan_file(h, commit, nli_hub_required[1], &p);
    if (v == 1) {
        v = plan_file(h, commit, nli_hub_required[2], &p);
        if (v == 0)
            nli_seterr("%s@%s has %s but no %s (the CLIP tokenizer needs both)", h->repo_id, commit,
                       nli_hub_required[1], nli_hub_required[2]);
        if (v == 1 && plan_optional(h, commit, NL_HUB_ADDED_TOKENS, &p) < 0) goto done;
    } else if (v == 0) {
        v = plan_file(h, commit, NL_HUB_TOKENIZER_JSON, &p);
        if (v == 0) v = plan_file(h, commit, NL_HUB_VOCAB_TXT, &p); /* a BERT tokenizer's (ALIGN's) */
        if (v == 0) v = plan_file(h, commit, NL_HUB_SPIECE, &p);    /* SentencePiece's (SigLIP's) */
        if (v == 0)
            nli_seterr("%s@%s has neither %s + %s nor %s nor %s nor %s (neglabel needs a CLIP model in Hugging Face "
                       "format)", h->repo_id, commit, nli_hub_required[1], nli_hub_required[2], NL_HUB_TOKENIZER_JSON,
                       NL_HUB_VOCAB_TXT, NL_HUB_SPIECE);
    }
    if (v != 1) goto done;
    for (size_t k = 0; k < NL_HUB_N_TOKENIZER_EXTRAS; k++)
        if (!planned(&p, nli_hub_tokenizer_extras[k]) && plan_optional(h, commit, nli_hub_tokenizer_extras[k], &p) < 0)
            goto done;
fetch:
    /* preprocessor_config.json, else processor_config.json (transformers 5
     * nests the image processor's settings there) */
    for (int k = 0; k < 2; k++) {
        int s = plan_optional(h, commit, k ? NL_HUB_OPTIONAL_FILE2 : NL_HUB_OPTIONAL_FILE, &p);
        if (s < 0) goto done;
        if (s == 1) break;
    }
    long long bytes = 0;
    size_t files = 0;
    for (size_t i = 0; i < p.n; i++)
        if (!blob_present(h, &p.v[i])) bytes += p.v[i].size, files++;
    if (files)
        nli_log(NL_LOG_INFO, "downloading %s@%.12s (%zu file%s, %.1f MB) from %s into %s", h->repo_id, commit, files,
               files == 1 ? "" : "s", (double)bytes / 1e6, h->endpoint, h->cache);
    for (size_t i = 0; i < p.n; i++)
        if (place_file(h, commit, &p.v[i]) != 0) goto done;
    if (convert && nli_hub_convert_bin(h->repo_id, snap, convert) != 0) goto done;
    rc = 0;
done:
    plan_free(&p);
    free(snap);
    return rc;
}

/* ------------------------------------------------------------ resolve */

/* The optional preprocessing file is in the snapshot, or known absent:
 * preprocessor_config.json, else processor_config.json. */
static int preprocessing_done(const nli_hub_ctx *h, const char *snap, const char *commit) {
    for (int k = 0; k < 2; k++) {
        const char *name = k ? NL_HUB_OPTIONAL_FILE2 : NL_HUB_OPTIONAL_FILE;
        if (nli_hub_in_snapshot(snap, name)) return 1;
        if (!no_exist_marked(h, commit, name)) return 0;
    }
    return 1;
}

static int present_or_absent(const nli_hub_ctx *h, const char *snap, const char *commit, const char *name) {
    return nli_hub_in_snapshot(snap, name) || no_exist_marked(h, commit, name);
}

/* Every optional file is in the snapshot or known absent: the
 * preprocessing, beside vocab.json the added tokens, and in a Hugging Face
 * snapshot the tokenizer's config files (snapshots written earlier, or by
 * another tool, may lack the record: asked once). */
static int optional_done(const nli_hub_ctx *h, const char *snap, const char *commit, nli_layout layout) {
    if (!preprocessing_done(h, snap, commit)) return 0;
    if (layout == NLI_LAYOUT_OPENCLIP) return 1;
    for (size_t k = 0; k < NL_HUB_N_TOKENIZER_EXTRAS; k++)
        if (!present_or_absent(h, snap, commit, nli_hub_tokenizer_extras[k])) return 0;
    return !nli_hub_in_snapshot(snap, nli_hub_required[1]) || present_or_absent(h, snap, commit, NL_HUB_ADDED_TOKENS);
}

/* A snapshot taken from the cache without asking the Hub (offline, or the
 * Hub unreachable) may lack the preprocessing file only because the
 * download that wrote it was interrupted before it (the files are fetched
 * one by one) or because another tool fetched the weights alone: the
 * model then loads with CLIP's default preprocessing, which is not the
 * repository's when it has its own. Said, since it cannot be told apart
 * here from a repository that has none (.no_exist records that). */
static void warn_optional_unknown(const nli_hub_ctx *h, const char *snap, nli_layout layout) {
    const char *commit = strrchr(snap, '/');
    commit = commit ? commit + 1 : snap;
    /* an OpenCLIP folder's preprocessing is in its open_clip_config.json */
    if (nli_hub_is_commit(commit) && layout != NLI_LAYOUT_OPENCLIP && !preprocessing_done(h, snap, commit))
        nli_log(NL_LOG_WARN,
                "%s: no %s in the cached snapshot, and no record that %s has none (an interrupted download?): "
                "CLIP's default image preprocessing is used; load it once with the Hub reachable to complete it",
                snap, NL_HUB_OPTIONAL_FILE, h->repo_id);
}

/* A snapshot from the cache alone read in the layout not asked for (see
 * nli_hub_find_cached's fallback): said, since the repository may have the
 * other one, which the reference library would read. */
static void warn_fallback(const nli_hub_ctx *h, const char *snap, nli_layout prefer) {
    const int oc = prefer == NLI_LAYOUT_OPENCLIP;
    const char *tool = oc ? "open_clip" : "transformers";
    nli_log(NL_LOG_WARN,
            "%s%s: the cached snapshot %s has no %s, and no record that the repository has none: read as %s (%s), "
            "which %s does not read; load it once with the Hub reachable to read what %s reads",
            oc ? "hf-hub:" : "", h->repo_id, snap, nli_hub_layout_config(prefer),
            oc ? "the Hugging Face model" : "an OpenCLIP model",
            nli_hub_layout_config(oc ? NLI_LAYOUT_HF : NLI_LAYOUT_OPENCLIP), tool, tool);
}

/* The cached snapshot, as nli_hub_find_cached finds it, with the warnings
 * a snapshot not checked against the Hub gets. */
static char *cached(const nli_hub_ctx *h, nli_layout prefer, nli_layout *layout) {
    int fallback = 0;
    char *snap = nli_hub_find_cached(h->cache, h->repo_id, h->revision, prefer, layout, &fallback);
    if (!snap) return NULL;
    if (fallback) warn_fallback(h, snap, prefer);
    warn_optional_unknown(h, snap, *layout);
    return snap;
}

/* The config file fetched (at the commit, not at the revision, which may
 * move) when the snapshot lacks it. */
static int place_config(const nli_hub_ctx *h, const char *commit, const nli_hub_file *config) {
    if (pointer_present(h, commit, config->name)) return 0;
    nli_hub_file m = *config;
    m.url = config->lfs ? nli_strdup(config->url) : nli_hub_resolve_url(h, commit, config->name);
    if (!m.url) return -1;
    char *snap = nli_hub_path(h->repo, "snapshots", commit, NULL);
    int rc = snap && mkdir_cache(h, snap) == 0 ? place_file(h, commit, &m) : -1;
    free(snap);
    meta_free(&m);
    return rc;
}

/* For a name transformers would load ("org/name"): the repository's
 * config.json is a CLIP one, else (timm/ repositories: timm's config.json)
 * its open_clip_config.json, when it has one, is what is read. *config and
 * *layout are switched to it then. 0 or -1. */
static int settle_layout(const nli_hub_ctx *h, const char *commit, nli_hub_file *config, nli_layout *layout) {
    if (*layout != NLI_LAYOUT_HF) return 0;
    if (place_config(h, commit, config) != 0) return -1;
    char *p = nli_hub_path(h->repo, "snapshots", commit, nli_hub_required[0], NULL);
    int clip = p ? nli_hf_config_is_clip(p) : -1;
    free(p);
    if (clip != 0) return clip < 0 ? -1 : 0;
    nli_hub_file oc = {0};
    int s = 1; /* in the snapshot already: not asked for again (download_snapshot fetches it only when missing) */
    if (pointer_present(h, commit, NL_HUB_OPENCLIP_CONFIG)) {
        snprintf(oc.name, sizeof oc.name, "%s", NL_HUB_OPENCLIP_CONFIG);
        snprintf(oc.commit, sizeof oc.commit, "%s", commit);
    } else {
        s = no_exist_marked(h, commit, NL_HUB_OPENCLIP_CONFIG) ? 0 : head_at_commit(h, commit, NL_HUB_OPENCLIP_CONFIG, &oc);
    }
    if (s == 0) mark_no_exist(h, commit, NL_HUB_OPENCLIP_CONFIG);
    if (s != 1) return s;
    nli_log(NL_LOG_INFO, "%s@%.12s: its config.json is no CLIP config (timm's?): reading its %s", h->repo_id, commit,
            NL_HUB_OPENCLIP_CONFIG);
    meta_free(config);
    *config = oc;
    *layout = NLI_LAYOUT_OPENCLIP;
    return 0;
}

/* huggingface_hub: _is_true(HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE): a
 * non-empty HF_HUB_OFFLINE decides, "0" included */
static int offline(void) {
    return nli_hub_env("HF_HUB_OFFLINE") ? nli_hub_env_true("HF_HUB_OFFLINE") : nli_hub_env_true("TRANSFORMERS_OFFLINE");
}

char *nli_hub_resolve(const char *repo_id, const char *revision, nli_layout prefer, nli_layout *layout) {
    nli_hub_ctx h = {.repo_id = repo_id, .revision = revision};
    char *snap = NULL, *folder = NULL;
    nli_hub_file config = {0};
    char *result = NULL;
    const nli_layout other = prefer == NLI_LAYOUT_OPENCLIP ? NLI_LAYOUT_HF : NLI_LAYOUT_OPENCLIP;
    *layout = prefer;
    if (!(h.cache = nli_hub_cache_dir())) return NULL;
    if (!(folder = nli_hub_repo_folder(repo_id)) || !(h.repo = nli_path_join(h.cache, folder))) goto done;

    if (offline()) {
        result = cached(&h, prefer, layout);
        if (!result)
            nli_prefixerr("not in the Hugging Face cache (HF_HUB_OFFLINE is set, so nothing is downloaded; unset it, "
                         "or pass a model folder)");
        goto done;
    }
    /* a commit already complete in the cache, in the layout asked for (or
     * the other, the repository known to lack the first): no network */
    if (nli_hub_is_commit(revision)) {
        int fallback = 0;
        if ((result = nli_hub_find_cached(h.cache, repo_id, revision, prefer, layout, &fallback)) && !fallback &&
            optional_done(&h, result, revision, *layout))
            goto done;
        free(result);
        result = NULL;
        *layout = prefer;
    }

    if (nli_hub_settings(&h) != 0) goto done;

    /* Which commit is the revision now? (one HEAD, as huggingface_hub: of
     * the layout's config, else of the other's) */
    long status = 0;
    char *code = NULL;
    int hr = -1;
    char saved[2048] = "";
    nl_status st = NL_OK;
    for (int k = 0; k < 2; k++) {
        const char *name = nli_hub_layout_config(k ? other : prefer);
        char *url = nli_hub_resolve_url(&h, revision, name);
        if (!url) goto done;
        meta_free(&config);
        memset(&config, 0, sizeof config);
        snprintf(config.name, sizeof config.name, "%s", name);
        free(code);
        code = NULL;
        hr = nli_hub_head(&h, url, &config, &status, &code);
        free(url);
        if (!(hr == -1 && code && !strcmp(code, "EntryNotFound"))) {
            if (k) *layout = other;
            break;
        }
        if (k) { /* neither: the first one's error */
            nli_seterr_code(st, "%s", saved);
            break;
        }
        st = nl_last_status();
        snprintf(saved, sizeof saved, "%s", nli_geterr());
    }
    if (hr == 0 && nli_hub_is_commit(revision) && strcmp(config.commit, revision) != 0) {
        /* a pinned commit is that commit or nothing: a server (a mirror
         * ignoring the revision) answering for another would give another
         * model and write refs/<commit> pointing elsewhere, which
         * huggingface_hub's try_to_load_from_cache then follows too */
        nli_seterr_code(NL_ERR_IO, "HEAD %s at commit %s: the server answered for commit %s", config.name,
                        revision, config.commit);
        hr = -2;
    }
    if (hr == 0 && config.size > NL_HUB_SMALL_FILE_MAX) {
        nli_seterr("%s: the Hub says it has %lld bytes, more than neglabel accepts", config.name, config.size);
        hr = -2;
    }
    if (hr == -1) {
        /* Unreachable, or the repo is not visible: use the cache when it has
         * the model, as huggingface_hub does; a missing revision or file is
         * an error. */
        int definite = (code && (!strcmp(code, "RevisionNotFound") || !strcmp(code, "EntryNotFound"))) ||
                       nl_last_status() == NL_ERR_CANCELLED; /* stopped: no fallback either */
        free(code);
        if (!definite) {
            nl_status st2 = nl_last_status();
            snprintf(saved, sizeof saved, "%s%s", nli_geterr(),
                     status ? "" : " (the Hub cannot be reached and the model is not in the Hugging Face cache)");
            if ((result = cached(&h, prefer, layout))) goto done;
            nli_seterr_code(st2, "%s", saved);
        }
        goto done;
    }
    free(code);
    if (hr != 0) goto done;
    const char *commit = config.commit;
    /* the other layout's config found: the repository lacks the first */
    if (*layout != prefer) mark_no_exist(&h, commit, nli_hub_layout_config(prefer));
    if (prefer == NLI_LAYOUT_HF && settle_layout(&h, commit, &config, layout) != 0) goto done;
    commit = config.commit;
    if (!(snap = nli_hub_path(h.repo, "snapshots", commit, NULL))) goto done;
    const char *missing;
    int required = nli_hub_snapshot_complete(snap, *layout, &missing) == 1;
    int complete = required && optional_done(&h, snap, commit, *layout);
    if (required && !complete && access(h.repo, W_OK) != 0) {
        /* a cache shared read-only (filled by someone else, who fetched
         * the model's files alone): what it holds is used, as offline;
         * asking for the optional files would end in "cannot write" */
        nli_log(NL_LOG_WARN,
                "%s: the snapshot %s lacks optional files (or the record that %s has none), and the cache %s "
                "cannot be written to fetch them: used as it is",
                repo_id, snap, repo_id, h.cache);
        warn_optional_unknown(&h, snap, *layout);
        complete = 1;
    }
    if (complete) {
        /* up to date; the ref is refreshed best effort (the cache may be
         * read-only, which is fine when it holds the model) */
        st = nl_last_status();
        snprintf(saved, sizeof saved, "%s", nli_geterr());
        if (write_ref(&h, commit) != 0) nli_seterr_code(st, "%s", saved);
        result = snap;
        snap = NULL;
        goto done;
    }
    if (download_snapshot(&h, commit, &config) != 0) goto done;
    if (nli_hub_snapshot_complete(snap, *layout, &missing) != 1) {
        nli_seterr("%s@%s: the snapshot %s is still incomplete after downloading (%s)", repo_id, revision, snap,
                  missing);
        goto done;
    }
    if (write_ref(&h, commit) != 0) goto done;
    result = snap;
    snap = NULL;
done:
    meta_free(&config);
    free(snap);
    free(h.endpoint);
    free(h.token);
    free(h.repo);
    free(h.cache);
    free(folder);
    return result;
}
