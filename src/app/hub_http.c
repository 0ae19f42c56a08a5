/* hub_http.c — talking to the Hub with libcurl (hub_impl.h): the settings
 * huggingface_hub reads from the environment, one request with its headers
 * parsed and bounded, HEAD on /resolve/ with every answer checked (commit,
 * ETag, size, redirects that stay on the Hub), GET resumed with Range and
 * retried as huggingface_hub retries. The token goes to the endpoint's
 * origin only. Every value a server sends is checked before use. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hub_impl.h"
#include "neglabel.h"
#include "util.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"
#define HEADER_VALUE_MAX 8192
#define ERROR_BODY_MAX (64 << 10)
#define RETRIES 5 /* failed attempts in a row without new bytes, as huggingface_hub */
#define RETRY_AFTER_MAX 60 /* seconds: the most a Retry-After header makes us wait */
#define LINK_RENEWALS 2 /* new links asked of the Hub in a row, without new bytes between them */

/* ------------------------------------------------------------ settings */

/* The token huggingface_hub would send: HF_TOKEN (or the older
 * HUGGING_FACE_HUB_TOKEN), else the file written by `hf auth login`
 * (HF_TOKEN_PATH, or $HF_HOME/token); none with
 * HF_HUB_DISABLE_IMPLICIT_TOKEN. */
static int get_token(char **out) {
    *out = NULL;
    if (nli_hub_env_true("HF_HUB_DISABLE_IMPLICIT_TOKEN")) return 0;
    const char *v = nli_hub_env("HF_TOKEN");
    if (!v) v = nli_hub_env("HUGGING_FACE_HUB_TOKEN");
    /* only white space: no token from the environment, and the file is
     * read (huggingface_hub's _clean_token(...) or the file's token) */
    if (v && !v[strspn(v, " \t\r\n\v\f")]) v = NULL;
    char *text = NULL;
    const char *what = "HF_TOKEN";
    if (!v) {
        char *path = NULL, *home = NULL;
        const char *tp = nli_hub_env("HF_TOKEN_PATH");
        if (tp) path = nli_hub_expand_user(tp);
        else if (nli_hub_home(&home) == 0 && home) path = nli_path_join(home, "token");
        free(home);
        size_t len;
        if (path && nli_hub_is_regular(path) && nli_read_file(path, 4096, &text, &len) == 0) v = text;
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
    const char *v = nli_hub_env(name);
    if (!v) return dflt;
    char *end;
    double d = strtod(v, &end);
    if (*end || !(d >= 1 && d <= 86400)) return dflt;
    return (long)d;
}

int nli_hub_settings(nli_hub_ctx *h) {
    const char *ep = nli_hub_env("HF_ENDPOINT");
    if (!ep) ep = DEFAULT_ENDPOINT;
    if ((strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) || strlen(ep) > 2000) {
        char s[256];
        nli_sanitize(s, sizeof s, ep);
        nli_seterr("HF_ENDPOINT '%s' is not an http(s) URL", s);
        return -1;
    }
    if (!(h->endpoint = nli_strdup(ep))) return -1;
    for (size_t n = strlen(h->endpoint); n > 0 && h->endpoint[n - 1] == '/'; n--) h->endpoint[n - 1] = 0;
    if (get_token(&h->token) != 0) return -1;
    h->etag_timeout = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
    h->dl_timeout = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
    return 0;
}

/* ------------------------------------------------------------ one request */

typedef struct {
    long status;
    int bad;                   /* a header too long or malformed */
    char *location, *etag, *linked_etag, *commit, *error_code, *error_message, *content_range, *content_encoding;
    long long content_length, linked_size; /* -1: absent */
    long long retry_after;                 /* Retry-After in seconds; -1: absent or an HTTP date */
    long long ratelimit_reset;             /* RateLimit's t= when its r= is 0; -1: absent */
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
    r->content_length = r->linked_size = r->retry_after = r->ratelimit_reset = -1;
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

/* Digits at *p (after white space), as parse_size; p moved past them. */
static long long scan_number(const char **p, const char *end) {
    while (*p < end && (**p == ' ' || **p == '\t')) (*p)++;
    char tmp[20];
    size_t k = 0;
    while (*p < end && **p >= '0' && **p <= '9' && k < sizeof tmp - 1) tmp[k++] = *(*p)++;
    tmp[k] = 0;
    return *p < end && **p >= '0' && **p <= '9' ? -1 : parse_size(tmp);
}

/* c (after white space) at *p: 1 and p moved past it, else 0. */
static int scan_char(const char **p, const char *end, char c) {
    while (*p < end && (**p == ' ' || **p == '\t')) (*p)++;
    if (*p == end || **p != c) return 0;
    (*p)++;
    return 1;
}

/* The Hub's RateLimit header (IETF draft, as huggingface_hub reads it):
 * '"<name>";r=<remaining>;t=<seconds>' anywhere in the value. The seconds
 * until the window resets when none remain, else -1. */
static long long parse_ratelimit(const char *v, size_t n) {
    const char *end = v + n;
    for (const char *q = memchr(v, '"', n); q; q = memchr(q + 1, '"', (size_t)(end - q - 1))) {
        const char *p = q + 1;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_')) p++;
        if (p == q + 1 || !scan_char(&p, end, '"') || !scan_char(&p, end, ';') || !scan_char(&p, end, 'r') ||
            !scan_char(&p, end, '='))
            continue;
        long long rem = scan_number(&p, end);
        if (rem < 0 || !scan_char(&p, end, ';') || !scan_char(&p, end, 't') || !scan_char(&p, end, '=')) continue;
        long long t = scan_number(&p, end);
        if (t < 0) continue;
        return rem == 0 ? t : -1;
    }
    return -1;
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
    else if (HDR("Retry-After")) {
        /* delay-seconds only (an HTTP date is ignored, as huggingface_hub) */
        char tmp[20];
        if (vn > 0 && vn < sizeof tmp) {
            memcpy(tmp, v, vn);
            tmp[vn] = 0;
            r->retry_after = parse_size(tmp);
        }
        return n;
    } else if (HDR("RateLimit")) {
        if (vn <= HEADER_VALUE_MAX) r->ratelimit_reset = parse_ratelimit(v, vn);
        return n;
    }
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

/* Where the body goes on a GET. */
typedef struct {
    http_resp *resp;
    int fd;               /* the .incomplete file (O_APPEND); -1: discard */
    long long have;       /* bytes in the file before this transfer */
    long long expected;   /* the file's full size */
    long long got;        /* body bytes written this transfer */
    long long discarded;
    int checked, restarted, too_much, bad_range, io_error;
    int body_cut; /* an error answer's body stopped at ERROR_BODY_MAX */
    nli_progress *prog;
    long long unit;
} sink;

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *ud) {
    sink *s = ud;
    size_t n = size * nmemb;
    long st = s->resp->status;
    if (s->fd < 0 || (st != 200 && st != 206)) {
        s->discarded += (long long)n;
        if (s->discarded <= ERROR_BODY_MAX) return n;
        s->body_cut = 1;
        return 0;
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
    if (nli_hub_write_all(s->fd, buf, n) != 0) {
        s->io_error = errno ? errno : EIO;
        return 0;
    }
    s->got += (long long)n;
    if (s->prog) nli_progress_update(s->prog, (size_t)((s->have + s->got) / s->unit));
    return n;
}

/* libcurl's progress callback, called while data flows and about once a
 * second while none does: polls nl_set_cancel (at most 20 times a second)
 * so that a download stops on request, its bytes kept to resume. */
static int xfer_cb(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt, (void)dn, (void)ut, (void)un;
    double *last = ud, now = nli_now();
    if (now - *last < 0.05) return 0;
    *last = now;
    return nli_cancelled();
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
static CURLcode http_do(const nli_hub_ctx *h, const char *url, int head, sink *s, int follow, long long range_from,
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
    double polled = 0;
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &polled);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
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
    /* a long error page (a proxy's 503) is cut short, not read to its end:
     * its status is the answer, retried or reported as any other */
    if (rc == CURLE_WRITE_ERROR && (s ? s : &discard)->body_cut) rc = CURLE_OK;
    if (rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        resp->status = code;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return rc;
}

void nli_hub_url_text(char *out, size_t n, const char *url) {
    nli_sanitize(out, n, url);
    char *q = strchr(out, '?');
    if (!q) return;
    if ((size_t)(q - out) + sizeof "?..." <= n) memcpy(q, "?...", sizeof "?...");
    else *q = 0;
}

/* An error for an HTTP status, naming the URL and what the Hub said. */
static void http_status_error(const nli_hub_ctx *h, const char *method, const char *url, const http_resp *r) {
    char code[256] = "", msg[256] = "", u[600];
    nli_hub_url_text(u, sizeof u, url);
    if (r->error_code) nli_sanitize(code, sizeof code, r->error_code);
    if (r->error_message) nli_sanitize(msg, sizeof msg, r->error_message);
    const char *hint = "";
    if (r->status >= 400 && r->status < 500 && r->status != 429 && !same_origin(url, h->endpoint))
        /* the CDN or storage a redirect led to: our token never goes there
         * (nli_hub_get has asked the Hub for new links before this) */
        hint = " (the storage host refused the download link the Hub gave)";
    else if (r->status == 401 || r->status == 403)
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
    nli_hub_url_text(u, sizeof u, url);
    if (rc == CURLE_ABORTED_BY_CALLBACK) /* only xfer_cb aborts */
        nli_seterr_code(NL_ERR_CANCELLED, "%s %s: cancelled", method, u);
    else
        nli_seterr_code(NL_ERR_IO, "%s %s: %s", method, u, *errbuf ? errbuf : curl_easy_strerror(rc));
}

static int transient_curl(CURLcode rc) {
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE ||
           rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_HTTP2 ||
           rc == CURLE_HTTP2_STREAM || rc == CURLE_SSL_CONNECT_ERROR;
}

/* ------------------------------------------------------------ HEAD, GET */

/* The redirect target of location seen from url, when it stays on the Hub
 * (same origin as url or as the endpoint): malloc'd; NULL when it leaves
 * (a CDN: the file's metadata is on this answer) or is not http(s). */
static char *hub_redirect(const nli_hub_ctx *h, const char *url, const char *location) {
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

int nli_hub_head(const nli_hub_ctx *h, const char *url0, nli_hub_file *m, long *status, char **error_code) {
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
            if (attempt && nli_sleep_cancellable((double)attempt) != 0) goto done;
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
    nli_hub_url_text(u, sizeof u, url);
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
    if (!((en == 64 && nli_hub_is_hex(norm, 64)) || (en == 40 && nli_hub_is_hex(norm, 40)))) {
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

char *nli_hub_resolve_url(const nli_hub_ctx *h, const char *revision, const char *file) {
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

/* A new download link for m, from the Hub (a HEAD at m's commit), when the
 * storage host refused the one it gave (a signed link expires: an hour for
 * some, and a link fetched before a long download of other files, or
 * resumed after a break, may be past it). The file must be the one m names:
 * same ETag and size. 0 with *url malloc'd, or -1 with the error set. */
static int renew_link(const nli_hub_ctx *h, const nli_hub_file *m, long status, char **url) {
    char old[600];
    nli_hub_url_text(old, sizeof old, m->url);
    if (!nli_hub_is_commit(m->commit)) {
        nli_seterr_code(NL_ERR_IO, "GET %s: HTTP %ld from the storage host, and no commit to ask the Hub again at", old,
                       status);
        return -1;
    }
    nli_log(NL_LOG_INFO, "%s: the storage host answered HTTP %ld to the download link: asking the Hub for a new one",
            m->name, status);
    char *resolve = nli_hub_resolve_url(h, m->commit, m->name);
    if (!resolve) return -1;
    nli_hub_file fresh = {0};
    snprintf(fresh.name, sizeof fresh.name, "%s", m->name);
    long st = 0;
    int rc = nli_hub_head(h, resolve, &fresh, &st, NULL);
    free(resolve);
    if (rc == 0 && (strcmp(fresh.etag, m->etag) != 0 || fresh.size != m->size)) {
        nli_seterr_code(NL_ERR_IO, "%s at commit %.12s: the Hub now gives ETag %s and %lld bytes, not %s and %lld as "
                       "before", m->name, m->commit, fresh.etag, fresh.size, m->etag, m->size);
        rc = -1;
    }
    if (rc != 0) {
        free(fresh.url);
        return -1;
    }
    *url = fresh.url;
    return 0;
}

int nli_hub_get(const nli_hub_ctx *h, const nli_hub_file *m, int fd, const char *part, long long *have_io) {
    long long have = *have_io;
    const char *url = m->url; /* m->url, or a new link the Hub gave (fresh) */
    char *fresh = NULL;
    int renewals = 0;
    struct stat st;
    nli_buf label = {0};
    long long unit = m->size >= 10000000 ? 1000000 : 1000;
    nli_buf_printf(&label, "downloading %s %s (%s)", h->repo_id, m->name, unit == 1000000 ? "MB" : "kB");
    if (!label.s) return -1;
    nli_progress prog;
    nli_progress_start(&prog, label.s, (size_t)((m->size + unit - 1) / unit));
    if (nli_hub_env_true("HF_HUB_DISABLE_PROGRESS_BARS")) prog.quiet = 1;
    nli_progress_update(&prog, (size_t)(have / unit));
    int fails = 0;
    char errbuf[CURL_ERROR_SIZE];
    http_resp r = {0};
    for (int attempt = 0; have < m->size; attempt++) {
        if (attempt >= 200) { /* a server dribbling a few bytes per connection */
            char u[600];
            nli_hub_url_text(u, sizeof u, url);
            nli_seterr_code(NL_ERR_IO, "GET %s: still incomplete after %d attempts (%lld of %lld bytes, kept in %s: "
                           "run again to resume)", u, attempt, have, m->size, part);
            break;
        }
        sink s = {.resp = &r, .fd = fd, .have = have, .expected = m->size, .prog = &prog, .unit = unit};
        CURLcode cc = http_do(h, url, 0, &s, 1, have, &r, errbuf);
        if (fstat(fd, &st) != 0) {
            nli_hub_cache_error(h, part, errno);
            break;
        }
        long long now = st.st_size;
        int progressed = now > have || s.restarted;
        have = now;
        if (progressed) renewals = 0;
        char u[600];
        nli_hub_url_text(u, sizeof u, url);
        if (s.io_error) {
            nli_hub_cache_error(h, part, s.io_error);
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
                nli_hub_cache_error(h, part, errno);
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
                /* as huggingface_hub: on a 429 the reset of an exhausted
                 * RateLimit window (the Hub's header), else the server's
                 * Retry-After when it sends one (bounded), else a second */
                long long after = r.status == 429 && r.ratelimit_reset >= 0 ? r.ratelimit_reset : r.retry_after;
                double wait = after < 0 ? 1.0 : after > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (double)after + 1;
                if (nli_sleep_cancellable(wait) != 0) break;
                continue;
            }
            if (r.status >= 400 && r.status < 500 && r.status != 429 && !same_origin(url, h->endpoint) &&
                renewals < LINK_RENEWALS) {
                /* the storage host refused the Hub's link: ask for a new one */
                renewals++;
                char *next = NULL;
                if (renew_link(h, m, r.status, &next) != 0) break;
                free(fresh);
                url = fresh = next;
                continue;
            }
            http_status_error(h, "GET", url, &r);
            if (renewals) {
                char msg[1600];
                snprintf(msg, sizeof msg, "%s", nli_geterr());
                nli_seterr_code(nl_last_status(), "%s; refused with %d new link%s from the Hub too", msg, renewals,
                                renewals > 1 ? "s" : "");
            }
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
                    u, have, m->size, part);
                break;
            }
            continue;
        }
        if (cc != CURLE_OK) {
            if (progressed) fails = 0;
            if (!transient_curl(cc) || ++fails > RETRIES) {
                curl_error("GET", url, cc, errbuf);
                if (have > 0) {
                    char msg[1600];
                    snprintf(msg, sizeof msg, "%s", nli_geterr());
                    nli_seterr_code(nl_last_status(), "%s; %lld of %lld bytes are kept in %s: run again to resume",
                                    msg, have, m->size, part);
                }
                break;
            }
            if (nli_sleep_cancellable(1.0) != 0) break; /* as huggingface_hub, then resume with a Range request */
        }
    }
    resp_clear(&r);
    free(fresh);
    nli_progress_end(&prog);
    nli_buf_free(&label);
    *have_io = have;
    return have == m->size ? 0 : -1;
}
