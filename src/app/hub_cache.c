/* hub_cache.c — the Hugging Face cache as neglabel reads it: Hub ids and
 * revisions, the cache folder, refs, whether a snapshot holds a whole model,
 * file digests; and the small helpers the other hub_*.c files share (see
 * hub_impl.h). The layout and rules follow huggingface_hub's
 * file_download.py and constants.py; the code is our own. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "clip.h"
#include "hub_impl.h"
#include "neglabel.h"
#include "safetensors.h"
#include "util.h"

int nli_hub_is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[n] == 0;
}

int nli_hub_is_commit(const char *s) { return s && strlen(s) == 40 && nli_hub_is_hex(s, 40); }

int nli_hub_env_true(const char *name) {
    const char *v = getenv(name);
    if (!v) return 0;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

const char *nli_hub_env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

char *nli_hub_expand_user(const char *p) {
    if (p[0] == '~' && (p[1] == '/' || p[1] == 0)) {
        const char *home = nli_hub_env("HOME");
        if (home) return nli_path_join(home, p[1] ? p + 2 : "");
    }
    return nli_strdup(p);
}

char *nli_hub_path(const char *root, ...) {
    va_list ap;
    va_start(ap, root);
    char *p = nli_strdup(root);
    for (const char *part; p && (part = va_arg(ap, const char *));) {
        char *q = nli_path_join(p, part);
        free(p);
        p = q;
    }
    va_end(ap);
    return p;
}

int nli_hub_is_regular(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int nli_hub_write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int repo_part_ok(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.')) return 0;
    }
    /* \b[\w\-.]+\b: starts and ends with a word character */
    unsigned char f = (unsigned char)s[0], l = (unsigned char)s[n - 1];
    return (isalnum(f) || f == '_') && (isalnum(l) || l == '_');
}

static int revision_ok(const char *r) {
    size_t n = strlen(r);
    if (n == 0 || n > 200) return 0;
    const char *c = r;
    while (*c) {
        const char *e = strchr(c, '/');
        size_t k = e ? (size_t)(e - c) : strlen(c);
        if (k == 0 || c[0] == '.') return 0;
        for (size_t i = 0; i < k; i++) {
            unsigned char ch = (unsigned char)c[i];
            if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == '.')) return 0;
        }
        if (k >= 5 && !memcmp(c + k - 5, ".lock", 5)) return 0;
        if (!e) break;
        c = e + 1;
        if (!*c) return 0; /* trailing '/' */
    }
    return !strstr(r, "..");
}

int nli_hub_parse_id(const char *name, char **repo_id, char **revision) {
    *repo_id = *revision = NULL;
    const char *at = strchr(name, '@');
    size_t idlen = at ? (size_t)(at - name) : strlen(name);
    const char *slash = memchr(name, '/', idlen);
    if (!slash || memchr(slash + 1, '/', idlen - (size_t)(slash - name) - 1)) {
        nli_seterr("'%s' is not of the form org/name[@revision]", name);
        return 0;
    }
    size_t org = (size_t)(slash - name), nm = idlen - org - 1;
    if (!repo_part_ok(name, org) || !repo_part_ok(slash + 1, nm)) {
        nli_seterr("'%.*s' is not a valid Hub repo id (org/name of letters, digits, '-', '_' and '.', each starting "
                  "and ending with a letter, digit or '_')", (int)(idlen > 200 ? 200 : idlen), name);
        return 0;
    }
    if (idlen > 96) {
        nli_seterr("Hub repo id '%.*s...' is longer than 96 characters", 40, name);
        return 0;
    }
    for (size_t i = 0; i + 1 < idlen; i++)
        if ((name[i] == '-' && name[i + 1] == '-') || (name[i] == '.' && name[i + 1] == '.')) {
            nli_seterr("Hub repo id '%.*s' contains '--' or '..'", (int)idlen, name);
            return 0;
        }
    const char *rev = at ? at + 1 : "main";
    if (!revision_ok(rev)) {
        char s[256];
        nli_sanitize(s, sizeof s, rev);
        nli_seterr("'%s' is not a valid revision (a branch, tag or commit: components of letters, digits, '-', '_' "
                  "and '.' separated by '/')", s);
        return 0;
    }
    *repo_id = nli_strndup(name, idlen);
    *revision = nli_strdup(rev);
    if (!*repo_id || !*revision) {
        free(*repo_id);
        free(*revision);
        *repo_id = *revision = NULL;
        return -1;
    }
    return 1;
}

int nli_hub_home(char **home) {
    const char *v;
    *home = NULL;
    if ((v = nli_hub_env("HF_HOME"))) *home = nli_hub_expand_user(v);
    else if ((v = nli_hub_env("XDG_CACHE_HOME"))) {
        /* expanduser(join(XDG_CACHE_HOME, "huggingface")), as huggingface_hub */
        char *x = nli_hub_expand_user(v);
        *home = x ? nli_path_join(x, "huggingface") : NULL;
        free(x);
    }
    else if ((v = nli_hub_env("HOME"))) *home = nli_path_join(v, ".cache/huggingface");
    else return 0;
    return *home ? 0 : -1;
}

char *nli_hub_cache_dir(void) {
    const char *v = nli_hub_env("HF_HUB_CACHE");
    if (!v) v = nli_hub_env("HUGGINGFACE_HUB_CACHE");
    /* transformers 4's own (deprecated) name: where it downloaded to */
    if (!v) v = nli_hub_env("TRANSFORMERS_CACHE");
    if (v) return nli_hub_expand_user(v);
    char *home;
    if (nli_hub_home(&home) != 0) return NULL;
    if (!home) {
        nli_seterr("no Hugging Face cache folder: set HF_HUB_CACHE, HF_HOME or HOME");
        return NULL;
    }
    char *r = nli_path_join(home, "hub");
    free(home);
    return r;
}

char *nli_hub_repo_folder(const char *repo_id) {
    const char *slash = strchr(repo_id, '/');
    nli_buf b = {0};
    nli_buf_puts(&b, "models--");
    if (slash) {
        nli_buf_append(&b, repo_id, (size_t)(slash - repo_id));
        nli_buf_puts(&b, "--");
        nli_buf_puts(&b, slash + 1);
    } else {
        nli_buf_puts(&b, repo_id);
    }
    if (!b.s) nli_seterr("out of memory");
    return b.s;
}

int nli_hub_read_ref(const char *repo_dir, const char *revision, char commit[41]) {
    if (nli_hub_is_commit(revision)) {
        memcpy(commit, revision, 41);
        return 1;
    }
    char *p = nli_hub_path(repo_dir, "refs", revision, NULL);
    if (!p) return -1;
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
        nli_seterr("%s: no such ref", p);
        free(p);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    if (nli_read_file(p, 1024, &text, &len) != 0) {
        nli_prefixerr("Hugging Face cache ref");
        free(p);
        return -1;
    }
    size_t a = 0, b = len;
    while (a < b && isspace((unsigned char)text[a])) a++;
    while (b > a && isspace((unsigned char)text[b - 1])) b--;
    int ok = b - a == 40;
    if (ok) {
        memcpy(commit, text + a, 40);
        commit[40] = 0;
        ok = nli_hub_is_commit(commit);
    }
    if (!ok) nli_seterr("%s: not a commit hash (40 lowercase hex digits): the cache is damaged; delete the file", p);
    free(text);
    free(p);
    return ok ? 1 : -1;
}

const char *const nli_hub_required[NL_HUB_N_REQUIRED] = {"config.json", "vocab.json", "merges.txt"};
const char *const nli_hub_tokenizer_extras[NL_HUB_N_TOKENIZER_EXTRAS] = {"tokenizer_config.json",
                                                                         "special_tokens_map.json", NL_HUB_SPIECE};

const char *nli_hub_layout_config(nli_layout layout) {
    return layout == NLI_LAYOUT_OPENCLIP ? NL_HUB_OPENCLIP_CONFIG : nli_hub_required[0];
}

int nli_hub_in_snapshot(const char *snap, const char *name) {
    char *p = nli_path_join(snap, name);
    int ok = p && nli_hub_is_regular(p);
    free(p);
    return ok;
}

int nli_hub_no_exist_marked(const char *repo_dir, const char *commit, const char *file) {
    char *p = nli_hub_path(repo_dir, ".no_exist", commit, file, NULL);
    int r = p && nli_file_exists(p);
    free(p);
    return r;
}

int nli_hub_snapshot_complete(const char *snap, nli_layout layout, const char **missing) {
    static _Thread_local char miss[256];
    /* an OpenCLIP snapshot: its config and weights (the tokenizer files are
     * not in every such repo; the model load says when they are missing) */
    if (layout == NLI_LAYOUT_OPENCLIP) {
        const char *need[] = {NL_HUB_OPENCLIP_CONFIG, NL_HUB_OPENCLIP_WEIGHTS};
        for (int k = 0; k < 2; k++)
            if (!nli_hub_in_snapshot(snap, need[k])) {
                *missing = need[k];
                return 0;
            }
        return 1;
    }
    /* config.json, and vocab.json + merges.txt or else tokenizer.json (or
     * BERT's vocab.txt, or SentencePiece's spiece.model) */
    int have[NL_HUB_N_REQUIRED];
    for (size_t i = 0; i < NL_HUB_N_REQUIRED; i++) have[i] = nli_hub_in_snapshot(snap, nli_hub_required[i]);
    if (!have[1] && !have[2])
        have[1] = have[2] = nli_hub_in_snapshot(snap, NL_HUB_TOKENIZER_JSON) || nli_hub_in_snapshot(snap, NL_HUB_VOCAB_TXT) ||
                            nli_hub_in_snapshot(snap, NL_HUB_SPIECE);
    for (size_t i = 0; i < NL_HUB_N_REQUIRED; i++)
        if (!have[i]) {
            *missing = nli_hub_required[i];
            return 0;
        }
    if (nli_hub_in_snapshot(snap, "model.safetensors")) return 1;
    char *index = nli_path_join(snap, "model.safetensors.index.json");
    if (!index) return -1;
    if (!nli_hub_is_regular(index)) {
        free(index);
        *missing = "model.safetensors";
        return 0;
    }
    nli_st_index ix;
    int rc = nli_st_index_read(index, &ix);
    free(index);
    if (rc != 0) return -1;
    rc = 1;
    for (int i = 0; i < ix.n_shards && rc == 1; i++) {
        char *p = nli_path_join(snap, ix.shards[i]);
        if (!p || !nli_hub_is_regular(p)) {
            snprintf(miss, sizeof miss, "%s", ix.shards[i]);
            *missing = miss;
            rc = 0;
        }
        free(p);
    }
    nli_st_index_free(&ix);
    return rc;
}

int nli_hub_convert_bin(const char *repo_id, const char *snap, const char *from) {
    const char *commit = strrchr(snap, '/');
    commit = commit ? commit + 1 : snap;
    char *src = nli_path_join(snap, from);
    if (!src) return -1;
    const char *to = strcmp(from, NL_HUB_OPENCLIP_BIN) ? "model.safetensors" : NL_HUB_OPENCLIP_WEIGHTS;
    nli_log(NL_LOG_INFO, "%s@%.12s has no safetensors weights: converting its %s to %s in %s", repo_id, commit, from,
            to, snap);
    int rc = nl_convert_checkpoint(src, snap);
    if (rc != 0) nli_prefixerr("%s@%.12s: converting %s to %s", repo_id, commit, from, to);
    free(src);
    return rc;
}

/* A cached snapshot whose weights are a pytorch_model.bin (or its index)
 * only, as transformers leaves an older repository in the cache (or
 * open_clip_pytorch_model.bin, as open_clip does; missing: the weights file
 * the snapshot lacks): converted there, with no network. 1 converted, 0 no
 * such file, -1 error. */
static int convert_cached(const char *repo_id, const char *snap, const char *missing) {
    if (!missing) return 0;
    static const char *const hf[] = {NL_HUB_BIN, NL_HUB_BIN_INDEX}, *const oc[] = {NL_HUB_OPENCLIP_BIN};
    int openclip = !strcmp(missing, NL_HUB_OPENCLIP_WEIGHTS);
    if (!openclip && strcmp(missing, "model.safetensors")) return 0;
    const char *const *bins = openclip ? oc : hf;
    for (int k = 0; k < (openclip ? 1 : 2); k++) {
        char *p = nli_path_join(snap, bins[k]);
        int have = p && nli_hub_is_regular(p);
        free(p);
        if (have) return nli_hub_convert_bin(repo_id, snap, bins[k]) == 0 ? 1 : -1;
    }
    return 0;
}

/* The snapshot has layout's config: open_clip_config.json; config.json,
 * a CLIP one where open_clip_config.json is there too (timm/ repositories
 * have their own config.json; an unreadable one counts, to be reported). */
static int layout_present(const char *snap, nli_layout layout) {
    if (!nli_hub_in_snapshot(snap, nli_hub_layout_config(layout))) return 0;
    if (layout == NLI_LAYOUT_OPENCLIP || !nli_hub_in_snapshot(snap, NL_HUB_OPENCLIP_CONFIG)) return 1;
    return nli_dir_has_hf_clip_config(snap);
}

char *nli_hub_find_cached(const char *cache_dir, const char *repo_id, const char *revision, nli_layout prefer,
                          nli_layout *layout, int *fallback) {
    char *folder = nli_hub_repo_folder(repo_id);
    char *repo = folder ? nli_path_join(cache_dir, folder) : NULL;
    free(folder);
    if (!repo) return NULL;
    char commit[41];
    char *snap = NULL;
    int r = nli_hub_read_ref(repo, revision, commit);
    if (r <= 0) {
        if (r == 0) nli_seterr_code(NL_ERR_IO, "no %s in the cache %s (no refs/%s)", repo_id, cache_dir, revision);
        free(repo);
        return NULL;
    }
    snap = nli_hub_path(repo, "snapshots", commit, NULL);
    if (!snap) {
        free(repo);
        return NULL;
    }
    const nli_layout other = prefer == NLI_LAYOUT_OPENCLIP ? NLI_LAYOUT_HF : NLI_LAYOUT_OPENCLIP;
    const nli_layout use = !layout_present(snap, prefer) && layout_present(snap, other) ? other : prefer;
    if (fallback) *fallback = use != prefer && !nli_hub_no_exist_marked(repo, commit, nli_hub_layout_config(prefer));
    free(repo);
    if (layout) *layout = use;
    const char *missing = NULL;
    int c = nli_hub_snapshot_complete(snap, use, &missing);
    if (c == 0) {
        int k = convert_cached(repo_id, snap, missing);
        c = k < 0 ? -1 : k ? nli_hub_snapshot_complete(snap, use, &missing) : 0;
    }
    if (c == 1) return snap;
    if (c == 0)
        nli_seterr_code(NL_ERR_IO, "%s@%s is in the cache only in part: %s has no %s", repo_id, revision, snap, missing);
    free(snap);
    return NULL;
}

int nli_hub_file_digest(const char *path, int git_blob, char hex[65]) {
    struct stat st;
    int fd = nli_open_regular(path, &st); /* a FIFO in the cache is refused, not waited on */
    if (fd < 0) return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t bufsz = 1 << 20;
    unsigned char *buf = nli_malloc(bufsz);
    int rc = -1;
    if (!ctx || !buf || fstat(fd, &st) != 0) {
        if (!ctx) nli_seterr("out of memory");
        else if (buf) nli_seterr("%s: %s", path, strerror(errno));
        goto done;
    }
    if (!EVP_DigestInit_ex(ctx, git_blob ? EVP_sha1() : EVP_sha256(), NULL)) {
        nli_seterr("OpenSSL: cannot start a %s digest", git_blob ? "SHA-1" : "SHA-256");
        goto done;
    }
    if (git_blob) {
        char head[64];
        int hn = snprintf(head, sizeof head, "blob %lld", (long long)st.st_size);
        EVP_DigestUpdate(ctx, head, (size_t)hn + 1); /* with the NUL */
    }
    for (;;) {
        ssize_t got = read(fd, buf, bufsz);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            nli_seterr("%s: %s", path, strerror(errno));
            goto done;
        }
        if (got == 0) break;
        EVP_DigestUpdate(ctx, buf, (size_t)got);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
        nli_seterr("OpenSSL: digest failed");
        goto done;
    }
    for (unsigned i = 0; i < mdlen; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * mdlen] = 0;
    rc = 0;
done:
    free(buf);
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}

void nli_hub_cache_error(const nli_hub_ctx *h, const char *path, int err) {
    nli_seterr_code(NL_ERR_IO,
                   "cannot write to the Hugging Face cache %s: %s: %s (set HF_HUB_CACHE to a writable folder, or "
                   "download the model where the cache is writable)",
                   h->cache, path, strerror(err));
}
