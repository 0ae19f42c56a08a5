/* hub.c — Hugging Face Hub model names: the cache resolver and the
 * downloader (see hub.h and docs/hub.md). The layout, headers and rules
 * follow huggingface_hub's file_download.py and constants.py; the code is
 * our own. Every value a server sends (headers, sizes, ETags, commits,
 * redirect targets, the shard index) is checked before use. */
#include "hub.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "neglabel.h"
#include "safetensors.h"
#include "util.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"
#define HEADER_VALUE_MAX 8192
#define ERROR_BODY_MAX (64 << 10)
#define RETRIES 5 /* failed attempts in a row without new bytes, as huggingface_hub */

/* ------------------------------------------------------------ small helpers */

static int is_hex_n(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[n] == 0;
}

int nli_hub_is_commit(const char *s) { return s && strlen(s) == 40 && is_hex_n(s, 40); }

static int env_true(const char *name) {
    const char *v = getenv(name);
    if (!v) return 0;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int offline(void) { return env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE"); }

/* "~/x" -> "$HOME/x" (malloc'd). */
static char *expand_user(const char *p) {
    if (p[0] == '~' && (p[1] == '/' || p[1] == 0)) {
        const char *home = env_nonempty("HOME");
        if (home) return nli_path_join(home, p[1] ? p + 2 : "");
    }
    return nli_strdup(p);
}

/* root/a/b/... up to the NULL argument (malloc'd). */
__attribute__((sentinel)) static char *path_of(const char *root, ...) {
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

static int is_regular(const char *path) { /* follows symlinks */
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

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

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ------------------------------------------------------------ names */

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

/* The Hugging Face home folder, which holds the cache and the token file,
 * as huggingface_hub finds it: HF_HOME ("~/" expanded), else
 * $XDG_CACHE_HOME/huggingface, else $HOME/.cache/huggingface. 0 with *home
 * malloc'd, or NULL when none of them is set; -1 out of memory. */
static int hf_home(char **home) {
    const char *v;
    *home = NULL;
    if ((v = env_nonempty("HF_HOME"))) *home = expand_user(v);
    else if ((v = env_nonempty("XDG_CACHE_HOME"))) *home = nli_path_join(v, "huggingface");
    else if ((v = env_nonempty("HOME"))) *home = nli_path_join(v, ".cache/huggingface");
    else return 0;
    return *home ? 0 : -1;
}

char *nli_hub_cache_dir(void) {
    const char *v = env_nonempty("HF_HUB_CACHE");
    if (!v) v = env_nonempty("HUGGINGFACE_HUB_CACHE");
    if (v) return expand_user(v);
    char *home;
    if (hf_home(&home) != 0) return NULL;
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
    char *p = path_of(repo_dir, "refs", revision, NULL);
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

static const char *const REQUIRED[] = {"config.json", "vocab.json", "merges.txt"};
#define OPTIONAL_FILE "preprocessor_config.json"

/* 1 when snap holds every file neglabel needs; else 0 with *missing set
 * (static string or error message); -1 on a bad index. */
static int snapshot_complete(const char *snap, const char **missing) {
    static _Thread_local char miss[256];
    for (size_t i = 0; i < sizeof REQUIRED / sizeof REQUIRED[0]; i++) {
        char *p = nli_path_join(snap, REQUIRED[i]);
        int ok = p && is_regular(p);
        free(p);
        if (!ok) {
            *missing = REQUIRED[i];
            return 0;
        }
    }
    char *single = nli_path_join(snap, "model.safetensors");
    int ok = single && is_regular(single);
    free(single);
    if (ok) return 1;
    char *index = nli_path_join(snap, "model.safetensors.index.json");
    if (!index) return -1;
    if (!is_regular(index)) {
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
        if (!p || !is_regular(p)) {
            snprintf(miss, sizeof miss, "%s", ix.shards[i]);
            *missing = miss;
            rc = 0;
        }
        free(p);
    }
    nli_st_index_free(&ix);
    return rc;
}

char *nli_hub_find_cached(const char *cache_dir, const char *repo_id, const char *revision) {
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
    snap = path_of(repo, "snapshots", commit, NULL);
    free(repo);
    if (!snap) return NULL;
    const char *missing = NULL;
    int c = snapshot_complete(snap, &missing);
    if (c == 1) return snap;
    if (c == 0)
        nli_seterr_code(NL_ERR_IO, "%s@%s is in the cache only in part: %s has no %s", repo_id, revision, snap, missing);
    free(snap);
    return NULL;
}

int nli_hub_file_digest(const char *path, int git_blob, char hex[65]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        nli_seterr_code(NL_ERR_IO, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
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

/* ------------------------------------------------------------ HTTP */

typedef struct {
    long status;
    int bad;                   /* a header too long or malformed */
    char *location, *etag, *linked_etag, *commit, *error_code, *error_message, *content_range, *content_encoding;
    long long content_length, linked_size; /* -1: absent */
} http_resp;

static void resp_clear(http_resp *r) {
    free(r->location);
    free(r->etag);
    free(r->linked_etag);
    free(r->commit);
    free(r->error_code);
    free(r->error_message);
    free(r->content_range);
    free(r->content_encoding);
    memset(r, 0, sizeof *r);
    r->content_length = r->linked_size = -1;
}

static long long parse_size(const char *s) {
    if (!s || !*s || strlen(s) > 18) return -1;
    long long v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9') return -1;
        v = v * 10 + (*c - '0');
    }
    return v;
}

static size_t header_cb(char *buf, size_t size, size_t nmemb, void *ud) {
    http_resp *r = ud;
    size_t n = size * nmemb;
    if (n >= 5 && !memcmp(buf, "HTTP/", 5)) { /* a new response (redirects, 100 Continue) */
        resp_clear(r);
        const char *sp = memchr(buf, ' ', n);
        if (sp && (size_t)(sp - buf) + 4 <= n && isdigit((unsigned char)sp[1]) && isdigit((unsigned char)sp[2]) &&
            isdigit((unsigned char)sp[3]))
            r->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return n;
    size_t kn = (size_t)(colon - buf);
    const char *v = colon + 1, *end = buf + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t vn = (size_t)(end - v);
    char **slot = NULL;
    long long *num = NULL;
#define HDR(name) (kn == sizeof(name) - 1 && !strncasecmp(buf, name, kn))
    if (HDR("Location")) slot = &r->location;
    else if (HDR("ETag")) slot = &r->etag;
    else if (HDR("X-Linked-Etag")) slot = &r->linked_etag;
    else if (HDR("X-Repo-Commit")) slot = &r->commit;
    else if (HDR("X-Error-Code")) slot = &r->error_code;
    else if (HDR("X-Error-Message")) slot = &r->error_message;
    else if (HDR("Content-Range")) slot = &r->content_range;
    else if (HDR("Content-Encoding")) slot = &r->content_encoding;
    else if (HDR("Content-Length")) num = &r->content_length;
    else if (HDR("X-Linked-Size")) num = &r->linked_size;
#undef HDR
    if (!slot && !num) return n;
    if (vn > HEADER_VALUE_MAX) {
        r->bad = 1;
        return n;
    }
    char *val = nli_strndup(v, vn);
    if (!val) return 0;
    if (slot) {
        free(*slot);
        *slot = val;
    } else {
        *num = parse_size(val);
        if (*num < 0) r->bad = 1;
        free(val);
    }
    return n;
}

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;
static void curl_init_once(void) { g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
    const char *endpoint; /* no trailing '/' */
    const char *repo_id, *revision;
    char *token;
    long etag_timeout, dl_timeout;
    char *cache, *repo;   /* cache root and models--org--name within it */
} hub_ctx;

/* Where the body goes on a GET. */
typedef struct {
    http_resp *resp;
    int fd;               /* the .incomplete file (O_APPEND); -1: discard */
    long long have;       /* bytes in the file before this transfer */
    long long expected;   /* the file's full size */
    long long got;        /* body bytes written this transfer */
    long long discarded;
    int checked, restarted, too_much, bad_range, io_error;
    nli_progress *prog;
    long long unit;
} sink;

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *ud) {
    sink *s = ud;
    size_t n = size * nmemb;
    long st = s->resp->status;
    if (s->fd < 0 || (st != 200 && st != 206)) {
        s->discarded += (long long)n;
        return s->discarded > ERROR_BODY_MAX ? 0 : n;
    }
    if (!s->checked) {
        s->checked = 1;
        if (st == 206) {
            /* Content-Range: bytes <start>-<end>/<total>; must continue where we are */
            const char *cr = s->resp->content_range;
            long long a = -1, b = -1, t = -1;
            if (!cr || sscanf(cr, "bytes %lld-%lld/%lld", &a, &b, &t) != 3 || a != s->have || t != s->expected) {
                s->bad_range = 1;
                return 0;
            }
        } else if (s->have > 0) {
            /* the server ignored the Range header: start again from 0 */
            if (ftruncate(s->fd, 0) != 0) {
                s->io_error = errno;
                return 0;
            }
            s->have = 0;
            s->restarted = 1;
        }
    }
    if (s->have + s->got + (long long)n > s->expected) {
        s->too_much = 1;
        return 0;
    }
    if (write_all(s->fd, buf, n) != 0) {
        s->io_error = errno ? errno : EIO;
        return 0;
    }
    s->got += (long long)n;
    if (s->prog) nli_progress_update(s->prog, (size_t)((s->have + s->got) / s->unit));
    return n;
}

/* Same scheme, host and port as the endpoint: the only place a token goes. */
static int same_origin(const char *a, const char *b) {
    const char *pa = strstr(a, "://"), *pb = strstr(b, "://");
    if (!pa || !pb) return 0;
    size_t sa = (size_t)(pa - a), sb = (size_t)(pb - b);
    if (sa != sb || strncasecmp(a, b, sa) != 0) return 0;
    pa += 3;
    pb += 3;
    size_t ha = strcspn(pa, "/?#"), hb = strcspn(pb, "/?#");
    return ha == hb && strncasecmp(pa, pb, ha) == 0;
}

/* One request without following redirects (HEAD, or GET into a sink when
 * s is given and follow is set). Returns the CURLcode; errbuf gets
 * libcurl's message. */
static CURLcode http_do(const hub_ctx *h, const char *url, int head, sink *s, int follow, long long range_from,
                        http_resp *resp, char errbuf[CURL_ERROR_SIZE]) {
    pthread_once(&g_curl_once, curl_init_once);
    resp_clear(resp);
    errbuf[0] = 0;
    if (g_curl_init_rc != CURLE_OK) {
        snprintf(errbuf, CURL_ERROR_SIZE, "libcurl initialisation failed");
        return g_curl_init_rc;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(errbuf, CURL_ERROR_SIZE, "libcurl: out of memory");
        return CURLE_OUT_OF_MEMORY;
    }
    struct curl_slist *hdrs = NULL;
    char auth[1200], range[64];
    hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
    if (h->token && same_origin(url, h->endpoint)) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (range_from > 0) {
        snprintf(range, sizeof range, "Range: bytes=%lld-", range_from);
        hdrs = curl_slist_append(hdrs, range);
    }
    sink discard = {.resp = resp, .fd = -1};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "neglabel/" NEGLABEL_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s ? s : &discard);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->etag_timeout);
    if (head) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, h->etag_timeout);
    } else {
        /* huggingface_hub's read timeout: give up when nothing arrives for
         * HF_HUB_DOWNLOAD_TIMEOUT seconds */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->dl_timeout);
    }
    if (follow) {
        /* libcurl sends our Authorization header to the first host only */
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        resp->status = code;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return rc;
}

/* An error for an HTTP status, naming the URL and what the Hub said. */
static void http_status_error(const hub_ctx *h, const char *method, const char *url, const http_resp *r) {
    char code[256] = "", msg[256] = "", u[600];
    nli_sanitize(u, sizeof u, url);
    if (r->error_code) nli_sanitize(code, sizeof code, r->error_code);
    if (r->error_message) nli_sanitize(msg, sizeof msg, r->error_message);
    const char *hint = "";
    if (r->status == 401 || r->status == 403)
        hint = h->token ? " (the token in HF_TOKEN has no access to this repository, or it does not exist)"
                        : " (the repository does not exist, or it is private or gated: set HF_TOKEN to a token with "
                          "access)";
    else if (r->status == 404)
        hint = !strcmp(code, "RevisionNotFound") ? " (no such revision)"
               : !strcmp(code, "EntryNotFound")  ? " (no such file at this revision)"
                                                 : " (check the repository name and revision)";
    else if (r->status == 429)
        hint = " (rate limited: try again later, or set HF_TOKEN)";
    nli_seterr_code(NL_ERR_IO, "%s %s: HTTP %ld%s%s%s%s%s", method, u, r->status, *code ? " " : "", code,
                   *msg ? ": " : "", msg, hint);
}

static void curl_error(const char *method, const char *url, CURLcode rc, const char *errbuf) {
    char u[600];
    nli_sanitize(u, sizeof u, url);
    nli_seterr_code(NL_ERR_IO, "%s %s: %s", method, u, *errbuf ? errbuf : curl_easy_strerror(rc));
}

static int transient_curl(CURLcode rc) {
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE ||
           rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_HTTP2 ||
           rc == CURLE_HTTP2_STREAM || rc == CURLE_SSL_CONNECT_ERROR;
}

/* What a HEAD on /resolve/ tells about one file. */
typedef struct {
    char name[256];
    char etag[65];
    char commit[41];
    char *url;          /* where to GET it: the resolve URL, or the CDN location */
    long long size;
    int lfs;            /* etag is a SHA-256 (64 hex) */
} file_meta;

/* The redirect target of location seen from url, when it stays on the Hub
 * (same origin as url or as the endpoint): malloc'd; NULL when it leaves
 * (a CDN: the file's metadata is on this answer) or is not http(s). */
static char *hub_redirect(const hub_ctx *h, const char *url, const char *location) {
    nli_buf b = {0};
    const char *p = strstr(url, "://");
    if (!p) return NULL;
    if (location[0] == '/' && location[1] == '/') { /* scheme-relative */
        nli_buf_append(&b, url, (size_t)(p + 1 - url));
        nli_buf_puts(&b, location);
    } else if (location[0] == '/') {
        nli_buf_append(&b, url, (size_t)(p + 3 - url) + strcspn(p + 3, "/?#"));
        nli_buf_puts(&b, location);
    } else if (!strncmp(location, "http://", 7) || !strncmp(location, "https://", 8)) {
        nli_buf_puts(&b, location);
    } else {
        return NULL;
    }
    if (b.s && (same_origin(b.s, url) || same_origin(b.s, h->endpoint))) return b.s;
    nli_buf_free(&b);
    return NULL;
}

/* HEAD url following redirects that stay on the Hub (a renamed repo), as
 * huggingface_hub does; a redirect elsewhere (the CDN, for LFS files) is
 * where the content will come from. 0 on success with *m filled; -1 with the
 * error set; *status receives the HTTP status (0: no response). */
static int head_file(const hub_ctx *h, const char *url0, file_meta *m, long *status, char **error_code) {
    http_resp r = {0};
    r.content_length = r.linked_size = -1;
    char errbuf[CURL_ERROR_SIZE];
    char *url = nli_strdup(url0);
    int rc = -1;
    *status = 0;
    if (error_code) *error_code = NULL;
    if (!url) return -1;
    for (int hop = 0;; hop++) {
        CURLcode cc = CURLE_OK;
        for (int attempt = 0; attempt < 3; attempt++) {
            if (attempt) sleep_s((double)attempt);
            /* no retry on network errors: the caller falls back to the
             * cache at once, as huggingface_hub does */
            cc = http_do(h, url, 1, NULL, 0, 0, &r, errbuf);
            if (cc != CURLE_OK || !(r.status == 429 || r.status >= 500)) break;
        }
        if (cc != CURLE_OK) {
            curl_error("HEAD", url, cc, errbuf);
            goto done;
        }
        *status = r.status;
        char *next = r.status >= 300 && r.status < 400 && r.location ? hub_redirect(h, url, r.location) : NULL;
        if (!next) break;
        free(url);
        url = next;
        if (hop >= 10) {
            nli_seterr_code(NL_ERR_IO, "HEAD %s: too many redirects", url0);
            goto done;
        }
    }
    if (r.status >= 400 || r.status < 200) {
        http_status_error(h, "HEAD", url, &r);
        if (error_code && r.error_code) *error_code = nli_strdup(r.error_code);
        goto done;
    }
    char u[600];
    nli_sanitize(u, sizeof u, url);
    if (r.bad) {
        nli_seterr_code(NL_ERR_IO, "HEAD %s: malformed or oversized header in the answer", u);
        goto done;
    }
    /* commit */
    if (!r.commit || !nli_hub_is_commit(r.commit)) {
        char s[128];
        nli_sanitize(s, sizeof s, r.commit ? r.commit : "(none)");
        nli_seterr_code(NL_ERR_IO,
                       "HEAD %s: X-Repo-Commit '%s' is not a commit hash (is HF_ENDPOINT a Hugging Face Hub?)", u, s);
        goto done;
    }
    memcpy(m->commit, r.commit, 41);
    /* ETag: X-Linked-Etag (LFS: the SHA-256 of the content), else ETag (the
     * git blob id); W/ and quotes removed as huggingface_hub does */
    const char *et = r.linked_etag ? r.linked_etag : r.etag;
    char norm[HEADER_VALUE_MAX + 1] = "";
    if (et) {
        if (!strncmp(et, "W/", 2)) et += 2;
        size_t n = strlen(et);
        while (n && et[0] == '"') et++, n--;
        while (n && et[n - 1] == '"') n--;
        memcpy(norm, et, n);
        norm[n] = 0;
    }
    size_t en = strlen(norm);
    if (!((en == 64 && is_hex_n(norm, 64)) || (en == 40 && is_hex_n(norm, 40)))) {
        char s[128];
        nli_sanitize(s, sizeof s, et ? et : "(none)");
        nli_seterr_code(NL_ERR_IO, "HEAD %s: ETag '%s' is neither a SHA-256 nor a git blob id", u, s);
        goto done;
    }
    memcpy(m->etag, norm, en + 1);
    m->lfs = en == 64;
    int redirect = r.status >= 300 && r.status < 400;
    m->size = r.linked_size >= 0 ? r.linked_size : redirect ? -1 : r.content_length;
    if (m->size < 0) {
        nli_seterr_code(NL_ERR_IO, "HEAD %s: no file size (X-Linked-Size or Content-Length)", u);
        goto done;
    }
    if (r.content_encoding && strcasecmp(r.content_encoding, "identity") != 0 && r.linked_size < 0) {
        nli_seterr_code(NL_ERR_IO, "HEAD %s: compressed answer (Content-Encoding) gives no file size", u);
        goto done;
    }
    if (redirect) {
        if (!r.location || (strncmp(r.location, "http://", 7) != 0 && strncmp(r.location, "https://", 8) != 0)) {
            char s[128];
            nli_sanitize(s, sizeof s, r.location ? r.location : "(none)");
            nli_seterr_code(NL_ERR_IO, "HEAD %s: redirect to '%s', not an http(s) URL", u, s);
            goto done;
        }
        m->url = nli_strdup(r.location);
    } else {
        m->url = nli_strdup(url);
    }
    if (!m->url) goto done;
    rc = 0;
done:
    resp_clear(&r);
    free(url);
    return rc;
}

/* ------------------------------------------------------------ the cache */

static char *resolve_url(const hub_ctx *h, const char *revision, const char *file) {
    nli_buf b = {0};
    nli_buf_printf(&b, "%s/%s/resolve/", h->endpoint, h->repo_id);
    /* quote(revision, safe=""): a branch "refs/pr/1" is one path segment */
    for (const char *c = revision; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') nli_buf_append(&b, c, 1);
        else nli_buf_printf(&b, "%%%02X", ch);
    }
    nli_buf_printf(&b, "/%s", file); /* plain names need no quoting */
    if (!b.s) nli_seterr("out of memory");
    return b.s;
}

static void cache_error(const hub_ctx *h, const char *path, int err) {
    nli_seterr_code(NL_ERR_IO,
                   "cannot write to the Hugging Face cache %s: %s: %s (set HF_HUB_CACHE to a writable folder, or "
                   "download the model where the cache is writable)",
                   h->cache, path, strerror(err));
}

static int mkdir_cache(const hub_ctx *h, const char *dir) {
    if (mkdirs(dir) != 0) {
        cache_error(h, dir, errno);
        return -1;
    }
    return 0;
}

/* Write data to path through a temporary file in the same folder and a
 * rename, so readers never see a partial file. */
static int write_atomic_small(const hub_ctx *h, const char *path, const char *data, size_t n) {
    nli_buf t = {0};
    nli_buf_printf(&t, "%s.%ld.tmp", path, (long)getpid());
    if (!t.s) return -1;
    int fd = open(t.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || write_all(fd, data, n) != 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        unlink(t.s);
        cache_error(h, path, e);
        nli_buf_free(&t);
        return -1;
    }
    close(fd);
    if (rename(t.s, path) != 0) {
        int e = errno;
        unlink(t.s);
        cache_error(h, path, e);
        nli_buf_free(&t);
        return -1;
    }
    nli_buf_free(&t);
    return 0;
}

/* refs/<revision> := commit (when the revision is not the commit itself and
 * the file says otherwise). */
static int write_ref(const hub_ctx *h, const char *commit) {
    if (!strcmp(h->revision, commit)) return 0;
    char cur[41];
    if (nli_hub_read_ref(h->repo, h->revision, cur) == 1 && !strcmp(cur, commit)) return 0;
    char *p = path_of(h->repo, "refs", h->revision, NULL);
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

static void write_cachedir_tag(const hub_ctx *h) {
    char *p = nli_path_join(h->cache, "CACHEDIR.TAG");
    if (p && !nli_file_exists(p)) {
        static const char tag[] = "Signature: 8a477f597d28d172789f06886806bc55\n"
                                  "# This file is a cache directory tag created by huggingface_hub.\n"
                                  "# For information about cache directory tags, see:\n"
                                  "#\thttps://bford.info/cachedir/\n";
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (write_all(fd, tag, sizeof tag - 1) != 0) {}
            close(fd);
        }
    }
    free(p);
}

static int no_exist_marked(const hub_ctx *h, const char *commit, const char *file) {
    char *p = path_of(h->repo, ".no_exist", commit, file, NULL);
    int r = p && nli_file_exists(p);
    free(p);
    return r;
}

static void mark_no_exist(const hub_ctx *h, const char *commit, const char *file) {
    char *d = path_of(h->repo, ".no_exist", commit, NULL);
    char *p = d ? nli_path_join(d, file) : NULL;
    if (p && mkdirs(d) == 0) touch(p);
    free(p);
    free(d);
}

/* snapshots/<commit>/<name> -> ../../blobs/<etag>, replacing whatever is
 * there (a dangling link) atomically. */
static int link_pointer(const hub_ctx *h, const char *commit, const char *name, const char *etag) {
    char *snap = path_of(h->repo, "snapshots", commit, NULL);
    char *ptr = snap ? nli_path_join(snap, name) : NULL;
    nli_buf target = {0}, tmp = {0};
    int rc = -1;
    if (!ptr) goto done;
    nli_buf_printf(&target, "../../blobs/%s", etag);
    nli_buf_printf(&tmp, "%s.%ld.tmp", ptr, (long)getpid());
    if (!target.s || !tmp.s) goto done;
    if (mkdir_cache(h, snap) != 0) goto done;
    unlink(tmp.s);
    if (symlink(target.s, tmp.s) != 0 || rename(tmp.s, ptr) != 0) {
        int e = errno;
        unlink(tmp.s);
        cache_error(h, ptr, e);
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

static int pointer_present(const hub_ctx *h, const char *commit, const char *name) {
    char *ptr = path_of(h->repo, "snapshots", commit, name, NULL);
    int r = ptr && is_regular(ptr);
    free(ptr);
    return r;
}

/* Verify a complete download against the ETag: SHA-256 for LFS files, the
 * git blob id (SHA-1 of "blob <size>\0" + bytes) for the others. */
static int verify(const char *path, const file_meta *m, const char *url) {
    char hex[65];
    if (nli_hub_file_digest(path, !m->lfs, hex) != 0) return -1;
    if (strcmp(hex, m->etag) != 0) {
        char u[600];
        nli_sanitize(u, sizeof u, url);
        nli_seterr_code(NL_ERR_IO,
                       "%s: the downloaded bytes do not match the Hub's checksum: %s %s, expected %s (%s); the corrupt "
                       "download was removed, run again to retry",
                       u, m->lfs ? "SHA-256" : "git blob id", hex, m->etag, m->lfs ? "X-Linked-Etag" : "ETag");
        return -1;
    }
    return 0;
}

/* Fetch one blob into blobs/<etag>: under a lock shared with huggingface_hub
 * (.locks/<repo>/<etag>.lock), into blobs/<etag>.incomplete, resuming what
 * an earlier run left there (HTTP Range), verified, then renamed. */
static int fetch_blob(const hub_ctx *h, const file_meta *m) {
    char *blobs = nli_path_join(h->repo, "blobs");
    char *blob = blobs ? nli_path_join(blobs, m->etag) : NULL;
    char *folder = nli_hub_repo_folder(h->repo_id);
    char *lockdir = folder ? path_of(h->cache, ".locks", folder, NULL) : NULL;
    nli_buf lockp = {0}, inc = {0}, label = {0};
    int lockfd = -1, fd = -1, rc = -1;
    if (!blob || !lockdir) goto done;
    nli_buf_printf(&lockp, "%s/%s.lock", lockdir, m->etag);
    nli_buf_printf(&inc, "%s.incomplete", blob);
    if (!lockp.s || !inc.s) goto done;
    if (mkdir_cache(h, blobs) != 0 || mkdir_cache(h, lockdir) != 0) goto done;
    lockfd = open(lockp.s, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lockfd < 0) {
        cache_error(h, lockp.s, errno);
        goto done;
    }
    while (flock(lockfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            cache_error(h, lockp.s, errno);
            goto done;
        }
    }
    struct stat st;
    if (stat(blob, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == m->size) {
        rc = 0; /* another process finished it */
        goto done;
    }
    fd = open(inc.s, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0 || fstat(fd, &st) != 0) {
        cache_error(h, inc.s, errno);
        goto done;
    }
    long long have = st.st_size;
    if (have > m->size) {
        if (ftruncate(fd, 0) != 0) {
            cache_error(h, inc.s, errno);
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
    long long unit = m->size >= 10000000 ? 1000000 : 1000;
    nli_buf_printf(&label, "downloading %s %s (%s)", h->repo_id, m->name, unit == 1000000 ? "MB" : "kB");
    if (!label.s) goto done;
    nli_progress prog;
    nli_progress_start(&prog, label.s, (size_t)((m->size + unit - 1) / unit));
    if (env_true("HF_HUB_DISABLE_PROGRESS_BARS")) prog.quiet = 1;
    nli_progress_update(&prog, (size_t)(have / unit));
    int fails = 0;
    char errbuf[CURL_ERROR_SIZE];
    http_resp r = {0};
    for (int attempt = 0; have < m->size; attempt++) {
        if (attempt >= 200) { /* a server dribbling a few bytes per connection */
            char u[600];
            nli_sanitize(u, sizeof u, m->url);
            nli_seterr_code(NL_ERR_IO, "GET %s: still incomplete after %d attempts (%lld of %lld bytes, kept in %s: "
                           "run again to resume)", u, attempt, have, m->size, inc.s);
            break;
        }
        sink s = {.resp = &r, .fd = fd, .have = have, .expected = m->size, .prog = &prog, .unit = unit};
        CURLcode cc = http_do(h, m->url, 0, &s, 1, have, &r, errbuf);
        if (fstat(fd, &st) != 0) {
            cache_error(h, inc.s, errno);
            break;
        }
        long long now = st.st_size;
        int progressed = now > have || s.restarted;
        have = now;
        char u[600];
        nli_sanitize(u, sizeof u, m->url);
        if (s.io_error) {
            cache_error(h, inc.s, s.io_error);
            break;
        }
        if (s.too_much) {
            nli_seterr_code(NL_ERR_IO, "GET %s: the server sent more than the %lld bytes it announced", u, m->size);
            break;
        }
        if (s.bad_range) {
            char cr[128];
            nli_sanitize(cr, sizeof cr, r.content_range ? r.content_range : "(none)");
            nli_seterr_code(NL_ERR_IO,
                           "GET %s: answer 206 with Content-Range '%s' does not continue at byte %lld of %lld", u, cr,
                           have, m->size);
            break;
        }
        if (cc == CURLE_OK && r.status == 416 && have > 0) {
            /* our partial file does not fit the server's: start over */
            if (ftruncate(fd, 0) != 0) {
                cache_error(h, inc.s, errno);
                break;
            }
            have = 0;
            if (++fails > RETRIES) {
                nli_seterr_code(NL_ERR_IO, "GET %s: HTTP 416 (range not satisfiable) again after starting over", u);
                break;
            }
            continue;
        }
        if (cc == CURLE_OK && (r.status < 200 || r.status >= 300)) {
            if ((r.status == 429 || r.status >= 500) && ++fails <= RETRIES) {
                sleep_s(1.0);
                continue;
            }
            http_status_error(h, "GET", m->url, &r);
            break;
        }
        if (cc == CURLE_OK && have < m->size) {
            /* the server ended the body early without an error */
            if (progressed) fails = 0;
            if (++fails > RETRIES) {
                nli_seterr_code(
                    NL_ERR_IO,
                    "GET %s: the server keeps ending the file early (%lld of %lld bytes); the bytes received "
                    "are kept in %s: run again to resume",
                    u, have, m->size, inc.s);
                break;
            }
            continue;
        }
        if (cc != CURLE_OK) {
            if (progressed) fails = 0;
            if (!transient_curl(cc) || ++fails > RETRIES) {
                curl_error("GET", m->url, cc, errbuf);
                if (have > 0) {
                    char msg[1600];
                    snprintf(msg, sizeof msg, "%s", nli_geterr());
                    nli_seterr_code(NL_ERR_IO, "%s; %lld of %lld bytes are kept in %s: run again to resume", msg, have,
                                   m->size, inc.s);
                }
                break;
            }
            sleep_s(1.0); /* as huggingface_hub, then resume with a Range request */
        }
    }
    resp_clear(&r);
    nli_progress_end(&prog);
    if (have != m->size) goto done;
    if (fsync(fd) != 0) {
        cache_error(h, inc.s, errno);
        goto done;
    }
    if (verify(inc.s, m, m->url) != 0) {
        unlink(inc.s);
        goto done;
    }
    if (rename(inc.s, blob) != 0) {
        cache_error(h, blob, errno);
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
    nli_buf_free(&label);
    free(lockdir);
    free(folder);
    free(blob);
    free(blobs);
    return rc;
}

/* HEAD one file at the commit. 1: found (*m filled), 0: the repo has no
 * such file (404), -1: error. */
static int head_at_commit(const hub_ctx *h, const char *commit, const char *name, file_meta *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    char *url = resolve_url(h, commit, name);
    if (!url) return -1;
    long status;
    int rc = head_file(h, url, m, &status, NULL);
    free(url);
    if (rc == 0) {
        if (strcmp(m->commit, commit) != 0) {
            nli_seterr_code(NL_ERR_IO, "HEAD %s at commit %s: the server answered for commit %s", name, commit,
                           m->commit);
            return -1;
        }
        long long max = nli_st_valid_shard_name(name) || !strcmp(name, "model.safetensors") ? NL_HUB_WEIGHTS_FILE_MAX
                                                                                              : NL_HUB_SMALL_FILE_MAX;
        if (m->size > max) {
            nli_seterr("%s: the Hub says it has %lld bytes, more than neglabel accepts (%lld)", name, m->size, max);
            return -1;
        }
        return 1;
    }
    return status == 404 ? 0 : -1;
}

static void meta_free(file_meta *m) {
    free(m->url);
    m->url = NULL;
}

/* The files to fetch for one snapshot. */
typedef struct {
    file_meta *v;
    size_t n, cap;
} plan;

static void plan_free(plan *p) {
    for (size_t i = 0; i < p->n; i++) meta_free(&p->v[i]);
    free(p->v);
}

/* Add name to the plan unless the snapshot has it. 1 planned or present,
 * 0 absent from the repo (404), -1 error. */
static int plan_file(const hub_ctx *h, const char *commit, const char *name, plan *p) {
    if (pointer_present(h, commit, name)) return 1;
    if (nli_grow((void **)&p->v, &p->cap, p->n + 1, sizeof *p->v) != 0) return -1;
    int r = head_at_commit(h, commit, name, &p->v[p->n]);
    if (r == 1) p->n++;
    else meta_free(&p->v[p->n]);
    return r;
}

static int blob_present(const hub_ctx *h, const file_meta *m) {
    char *blob = path_of(h->repo, "blobs", m->etag, NULL);
    struct stat st;
    int have = blob && stat(blob, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == m->size;
    free(blob);
    return have;
}

/* The blob is there (this or an earlier run, or huggingface_hub): link it;
 * else download it first. */
static int place_file(const hub_ctx *h, const char *commit, const file_meta *m) {
    if (!blob_present(h, m) && fetch_blob(h, m) != 0) return -1;
    return link_pointer(h, commit, m->name, m->etag);
}

static int download_snapshot(const hub_ctx *h, const char *commit, file_meta *config) {
    char *snap = path_of(h->repo, "snapshots", commit, NULL);
    plan p = {0};
    int rc = -1;
    if (!snap) return -1;
    if (mkdir_cache(h, snap) != 0) goto done;
    write_cachedir_tag(h);
    if (!pointer_present(h, commit, "config.json")) {
        /* fetched at the commit, not at the revision, which may move */
        if (nli_grow((void **)&p.v, &p.cap, 1, sizeof *p.v) != 0) goto done;
        p.v[0] = *config;
        p.v[0].url = config->lfs ? nli_strdup(config->url) : resolve_url(h, commit, "config.json");
        if (!p.v[0].url) goto done;
        p.n = 1;
    }
    /* the weights: model.safetensors, else the index and its shards (as
     * transformers asks for them) */
    int single = no_exist_marked(h, commit, "model.safetensors") ? 0 : plan_file(h, commit, "model.safetensors", &p);
    if (single < 0) goto done;
    if (single == 0) {
        mark_no_exist(h, commit, "model.safetensors");
        plan ip = {0};
        int idx = plan_file(h, commit, "model.safetensors.index.json", &ip);
        if (idx == 1 && ip.n) idx = place_file(h, commit, &ip.v[0]) == 0 ? 1 : -1; /* small; needed now */
        plan_free(&ip);
        if (idx < 0) goto done;
        if (idx == 0) {
            nli_seterr("%s@%s has neither model.safetensors nor model.safetensors.index.json (neglabel reads "
                      "safetensors weights only)", h->repo_id, commit);
            goto done;
        }
        char *index = nli_path_join(snap, "model.safetensors.index.json");
        nli_st_index ix;
        int ir = index ? nli_st_index_read(index, &ix) : -1;
        free(index);
        if (ir != 0) goto done;
        for (int i = 0; i < ix.n_shards && ir == 0; i++) {
            int s = plan_file(h, commit, ix.shards[i], &p);
            if (s == 0)
                nli_seterr("the index names shard %s, which %s@%s does not have", ix.shards[i], h->repo_id, commit);
            if (s != 1) ir = -1;
        }
        nli_st_index_free(&ix);
        if (ir != 0) goto done;
    }
    for (size_t i = 1; i < sizeof REQUIRED / sizeof REQUIRED[0]; i++) {
        int s = plan_file(h, commit, REQUIRED[i], &p);
        if (s == 0)
            nli_seterr("%s@%s has no %s (neglabel needs a CLIP model in Hugging Face format)", h->repo_id, commit,
                      REQUIRED[i]);
        if (s != 1) goto done;
    }
    if (!no_exist_marked(h, commit, OPTIONAL_FILE)) {
        int s = plan_file(h, commit, OPTIONAL_FILE, &p);
        if (s < 0) goto done;
        if (s == 0) mark_no_exist(h, commit, OPTIONAL_FILE);
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
    rc = 0;
done:
    plan_free(&p);
    free(snap);
    return rc;
}

/* The token huggingface_hub would send: HF_TOKEN (or the older
 * HUGGING_FACE_HUB_TOKEN), else the file written by `hf auth login`
 * (HF_TOKEN_PATH, or $HF_HOME/token); none with
 * HF_HUB_DISABLE_IMPLICIT_TOKEN. */
static int get_token(char **out) {
    *out = NULL;
    if (env_true("HF_HUB_DISABLE_IMPLICIT_TOKEN")) return 0;
    const char *v = env_nonempty("HF_TOKEN");
    if (!v) v = env_nonempty("HUGGING_FACE_HUB_TOKEN");
    char *text = NULL;
    const char *what = "HF_TOKEN";
    if (!v) {
        char *path = NULL, *home = NULL;
        const char *tp = env_nonempty("HF_TOKEN_PATH");
        if (tp) path = expand_user(tp);
        else if (hf_home(&home) == 0 && home) path = nli_path_join(home, "token");
        free(home);
        size_t len;
        if (path && is_regular(path) && nli_read_file(path, 4096, &text, &len) == 0) v = text;
        free(path);
        what = "the Hugging Face token file";
        if (!v) return 0;
    }
    size_t a = 0, b = strlen(v);
    while (a < b && isspace((unsigned char)v[a])) a++;
    while (b > a && isspace((unsigned char)v[b - 1])) b--;
    int ok = b - a <= 1024;
    for (size_t i = a; i < b && ok; i++) ok = v[i] > 0x20 && v[i] < 0x7f;
    if (!ok) {
        nli_seterr("%s holds characters a token cannot have", what);
        free(text);
        return -1;
    }
    if (b > a) *out = nli_strndup(v + a, b - a);
    free(text);
    return b > a && !*out ? -1 : 0;
}

static long env_seconds(const char *name, long dflt) {
    const char *v = env_nonempty(name);
    if (!v) return dflt;
    char *end;
    double d = strtod(v, &end);
    if (*end || !(d >= 1 && d <= 86400)) return dflt;
    return (long)d;
}

char *nli_hub_resolve(const char *repo_id, const char *revision) {
    hub_ctx h = {.repo_id = repo_id, .revision = revision};
    char *endpoint = NULL, *snap = NULL, *folder = NULL;
    file_meta config = {0};
    char *result = NULL;
    if (!(h.cache = nli_hub_cache_dir())) return NULL;
    if (!(folder = nli_hub_repo_folder(repo_id)) || !(h.repo = nli_path_join(h.cache, folder))) goto done;

    if (offline()) {
        result = nli_hub_find_cached(h.cache, repo_id, revision);
        if (!result)
            nli_prefixerr("not in the Hugging Face cache (HF_HUB_OFFLINE is set, so nothing is downloaded; unset it, "
                         "or pass a model folder)");
        goto done;
    }
    /* a commit already complete in the cache: no network at all */
    if (nli_hub_is_commit(revision) && (result = nli_hub_find_cached(h.cache, repo_id, revision))) {
        char *opt = nli_path_join(result, OPTIONAL_FILE);
        int done_opt = opt && (is_regular(opt) || no_exist_marked(&h, revision, OPTIONAL_FILE));
        free(opt);
        if (done_opt) goto done;
        free(result);
        result = NULL;
    }

    const char *ep = env_nonempty("HF_ENDPOINT");
    if (!ep) ep = DEFAULT_ENDPOINT;
    if ((strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) || strlen(ep) > 2000) {
        char s[256];
        nli_sanitize(s, sizeof s, ep);
        nli_seterr("HF_ENDPOINT '%s' is not an http(s) URL", s);
        goto done;
    }
    if (!(endpoint = nli_strdup(ep))) goto done;
    for (size_t n = strlen(endpoint); n > 0 && endpoint[n - 1] == '/'; n--) endpoint[n - 1] = 0;
    h.endpoint = endpoint;
    if (get_token(&h.token) != 0) goto done;
    h.etag_timeout = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
    h.dl_timeout = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);

    /* Which commit is the revision now? (one HEAD, as huggingface_hub) */
    char *url = resolve_url(&h, revision, "config.json");
    if (!url) goto done;
    long status = 0;
    char *code = NULL;
    snprintf(config.name, sizeof config.name, "config.json");
    int hr = head_file(&h, url, &config, &status, &code);
    free(url);
    if (hr == 0 && config.size > NL_HUB_SMALL_FILE_MAX) {
        nli_seterr("config.json: the Hub says it has %lld bytes, more than neglabel accepts", config.size);
        hr = -2;
    }
    if (hr == -1) {
        /* Unreachable, or the repo is not visible: use the cache when it has
         * the model, as huggingface_hub does; a missing revision or file is
         * an error. */
        int definite = code && (!strcmp(code, "RevisionNotFound") || !strcmp(code, "EntryNotFound"));
        free(code);
        if (!definite) {
            char saved[2048];
            nl_status st = nl_last_status();
            snprintf(saved, sizeof saved, "%s%s", nli_geterr(),
                     status ? "" : " (the Hub cannot be reached and the model is not in the Hugging Face cache)");
            if ((result = nli_hub_find_cached(h.cache, repo_id, revision))) goto done;
            nli_seterr_code(st, "%s", saved);
        }
        goto done;
    }
    free(code);
    if (hr != 0) goto done;
    const char *commit = config.commit;
    if (!(snap = path_of(h.repo, "snapshots", commit, NULL))) goto done;
    const char *missing;
    char *opt = nli_path_join(snap, OPTIONAL_FILE);
    int complete = snapshot_complete(snap, &missing) == 1 && opt &&
                   (is_regular(opt) || no_exist_marked(&h, commit, OPTIONAL_FILE));
    free(opt);
    if (complete) {
        /* up to date; the ref is refreshed best effort (the cache may be
         * read-only, which is fine when it holds the model) */
        char saved[2048];
        nl_status st = nl_last_status();
        snprintf(saved, sizeof saved, "%s", nli_geterr());
        if (write_ref(&h, commit) != 0) nli_seterr_code(st, "%s", saved);
        result = snap;
        snap = NULL;
        goto done;
    }
    if (download_snapshot(&h, commit, &config) != 0) goto done;
    if (snapshot_complete(snap, &missing) != 1) {
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
    free(endpoint);
    free(h.token);
    free(h.repo);
    free(h.cache);
    free(folder);
    return result;
}

/* ------------------------------------------------------------ public */

char *nl_model_resolve(const char *name) {
    if (!name || !*name) {
        nli_seterr("empty model name");
        return NULL;
    }
    struct stat st;
    /* a path that exists wins; so do names that can only be paths */
    if (stat(name, &st) == 0 || name[0] == '/' || name[0] == '.' || name[0] == '~' || !strchr(name, '/'))
        return nli_strdup(name);
    const char *at = strchr(name, '@');
    size_t idlen = at ? (size_t)(at - name) : strlen(name);
    const char *s1 = memchr(name, '/', idlen);
    if (!s1 || memchr(s1 + 1, '/', idlen - (size_t)(s1 - name) - 1)) return nli_strdup(name); /* a/b/c: a path */
    char *repo_id, *revision;
    int r = nli_hub_parse_id(name, &repo_id, &revision);
    if (r <= 0) {
        if (r == 0) nli_prefixerr("%s: no such folder, and not a Hugging Face Hub model name", name);
        return NULL;
    }
    char *dir = nli_hub_resolve(repo_id, revision);
    if (!dir) nli_prefixerr("%s: no such folder; as a Hugging Face Hub model", name);
    free(repo_id);
    free(revision);
    return dir;
}
