/* zipread.c — zip archives through libzip, every entry validated at open
 * (see zipread.h). libzip checks the central directory against the local
 * headers (ZIP_CHECKCONS) and the CRC-32 of what it inflates or copies. */
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <zip.h>

#include "neglabel.h"
#include "util.h"
#include "zipread.h"

typedef struct {
    char *name;
    uint64_t size, comp_size;
    int deflated;
} zentry;

struct nli_zip {
    zip_t *za;
    char *path;
    zentry *e;
    size_t n;
    size_t *by_name; /* entry indices sorted by name (nli_zip_find: a storage per tensor) */
};

static int cmp_names(const void *a, const void *b, void *ctx);

/* A name PyTorch could have written: relative, no "..", no '\\', printable
 * (a ':' is allowed: torch names the folder after the file, and
 * "ckpt_2024-01-01T12:00.pt" is a file name). */
static const char *bad_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0) return "an empty name";
    if (n > NL_ZIP_MAX_NAME) return "a name too long";
    if (s[0] == '/') return "an absolute path";
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) return "a control character in a name";
        if (c == '\\') return "a backslash in a name";
    }
    for (const char *p = s; p;) {
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') return "a '..' component";
        if (len == 0 && q) return "an empty path component";
        p = q ? q + 1 : NULL;
    }
    return NULL;
}

static int zip_fail(nli_zip *z, const char *what) {
    zip_error_t *ze = zip_get_error(z->za);
    nli_seterr("%s: %s: %s", z->path, what, zip_error_strerror(ze));
    return -1;
}

static int index_entries(nli_zip *z) {
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    if (n < 0) return zip_fail(z, "cannot list the entries");
    if (n > NL_ZIP_MAX_ENTRIES) {
        nli_seterr("%s: %lld entries (limit %d)", z->path, (long long)n, NL_ZIP_MAX_ENTRIES);
        return -1;
    }
    z->e = nli_calloc((size_t)n ? (size_t)n : 1, sizeof *z->e);
    if (!z->e) return -1;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW, &st) != 0) return zip_fail(z, "cannot stat an entry");
        char name[256];
        const char *why = NULL;
        if (!(st.valid & ZIP_STAT_NAME) || !st.name) why = "an entry without a name";
        else why = bad_name(st.name);
        nli_sanitize(name, sizeof name, st.name ? st.name : "");
        if (why) { nli_seterr("%s: entry %lld ('%s'): %s", z->path, (long long)i, name, why); return -1; }
        if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_METHOD)) {
            nli_seterr("%s: entry '%s': no size or compression method", z->path, name);
            return -1;
        }
        if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
            nli_seterr("%s: entry '%s': compression method %d (only stored or deflated entries are read)", z->path,
                       name, (int)st.comp_method);
            return -1;
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
            nli_seterr("%s: entry '%s': encrypted", z->path, name);
            return -1;
        }
        if (st.comp_method == ZIP_CM_STORE && (st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size != st.size) {
            nli_seterr("%s: entry '%s': stored, but its size %llu differs from its compressed size %llu", z->path,
                       name, (unsigned long long)st.size, (unsigned long long)st.comp_size);
            return -1;
        }
        z->e[i].name = nli_strdup(st.name);
        if (!z->e[i].name) return -1;
        z->e[i].size = st.size;
        z->e[i].deflated = st.comp_method == ZIP_CM_DEFLATE;
        z->e[i].comp_size = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : st.size;
        z->n = (size_t)i + 1;
    }
    /* sorted by name for lookups; duplicate names: which one a reader takes
     * would be ambiguous */
    if (!(z->by_name = nli_mallocarray(z->n + 1, sizeof *z->by_name))) return -1;
    for (size_t i = 0; i < z->n; i++) z->by_name[i] = i;
    qsort_r(z->by_name, z->n, sizeof *z->by_name, cmp_names, z);
    for (size_t i = 1; i < z->n; i++)
        if (strcmp(z->e[z->by_name[i - 1]].name, z->e[z->by_name[i]].name) == 0) {
            char name[256];
            nli_sanitize(name, sizeof name, z->e[z->by_name[i]].name);
            nli_seterr("%s: entry '%s' appears twice", z->path, name);
            return -1;
        }
    return 0;
}

static int cmp_names(const void *a, const void *b, void *ctx) {
    const nli_zip *z = ctx;
    return strcmp(z->e[*(const size_t *)a].name, z->e[*(const size_t *)b].name);
}

static int finish_open(nli_zip *z, nli_zip **out) {
    if (index_entries(z) != 0) { nli_zip_close(z); return -1; }
    *out = z;
    return 0;
}

int nli_zip_open(const char *path, nli_zip **out) {
    *out = NULL;
    nli_zip *z = nli_calloc(1, sizeof *z);
    if (!z) return -1;
    z->path = nli_strdup(path);
    if (!z->path) { free(z); return -1; }
    /* libzip's open would wait on a FIFO for a writer: a regular file only */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        nli_seterr_code(NL_ERR_IO, "%s: not a regular file", path);
        nli_zip_close(z);
        return -1;
    }
    int err = 0;
    z->za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z->za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        nli_seterr_code(err == ZIP_ER_OPEN || err == ZIP_ER_READ || err == ZIP_ER_NOENT ? NL_ERR_IO : NL_ERR_INVALID,
                        "%s: not a readable zip archive: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        nli_zip_close(z);
        return -1;
    }
    return finish_open(z, out);
}

int nli_zip_open_buffer(const void *data, size_t len, const char *name, nli_zip **out) {
    *out = NULL;
    if (len == 0) { /* (libzip would not take ownership of an empty buffer) */
        nli_seterr("%s: not a readable zip archive: empty", name);
        return -1;
    }
    nli_zip *z = nli_calloc(1, sizeof *z);
    if (!z) return -1;
    z->path = nli_strdup(name);
    void *copy = nli_malloc(len);
    if (!z->path || !copy) { free(copy); nli_zip_close(z); return -1; }
    memcpy(copy, data, len);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(copy, len, 1, &ze); /* frees copy */
    if (!src) {
        free(copy);
        nli_seterr("%s: %s", name, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        nli_zip_close(z);
        return -1;
    }
    z->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!z->za) {
        nli_seterr("%s: not a readable zip archive: %s", name, zip_error_strerror(&ze));
        zip_source_free(src);
        zip_error_fini(&ze);
        nli_zip_close(z);
        return -1;
    }
    zip_error_fini(&ze);
    return finish_open(z, out);
}

void nli_zip_close(nli_zip *z) {
    if (!z) return;
    if (z->za) zip_discard(z->za);
    for (size_t i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    free(z->by_name);
    free(z->path);
    free(z);
}

const char *nli_zip_path(const nli_zip *z) { return z->path; }
size_t nli_zip_count(const nli_zip *z) { return z->n; }
const char *nli_zip_name(const nli_zip *z, size_t i) { return i < z->n ? z->e[i].name : NULL; }
uint64_t nli_zip_size(const nli_zip *z, size_t i) { return i < z->n ? z->e[i].size : 0; }
uint64_t nli_zip_comp_size(const nli_zip *z, size_t i) { return i < z->n ? z->e[i].comp_size : 0; }
int nli_zip_deflated(const nli_zip *z, size_t i) { return i < z->n && z->e[i].deflated; }

long nli_zip_find(const nli_zip *z, const char *name) {
    size_t lo = 0, hi = z->by_name ? z->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(z->e[z->by_name[mid]].name, name);
        if (c == 0) return (long)z->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

int nli_zip_read(nli_zip *z, size_t i, uint64_t max, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (i >= z->n) { nli_seterr("%s: no entry %zu", z->path, i); return -1; }
    char name[256];
    nli_sanitize(name, sizeof name, z->e[i].name);
    uint64_t size = z->e[i].size;
    if (size > max || size >= SIZE_MAX) {
        nli_seterr("%s: entry '%s' is %llu bytes (limit %llu)", z->path, name, (unsigned long long)size,
                   (unsigned long long)max);
        return -1;
    }
    uint8_t *buf = nli_malloc((size_t)size + 1);
    if (!buf) { nli_prefixerr("%s: entry '%s'", z->path, name); return -1; }
    zip_file_t *f = zip_fopen_index(z->za, i, 0);
    if (!f) {
        free(buf);
        char what[300];
        snprintf(what, sizeof what, "cannot open entry '%s'", name);
        return zip_fail(z, what);
    }
    size_t got = 0;
    int bad = 0;
    /* read to the end: libzip checks the CRC-32 when it reaches it */
    for (;;) {
        uint8_t extra;
        zip_int64_t r = got < size ? zip_fread(f, buf + got, (zip_uint64_t)(size - got)) : zip_fread(f, &extra, 1);
        if (r < 0) { bad = 1; break; }
        if (r == 0) break;
        if (got >= size) { bad = 2; break; }
        got += (size_t)r;
    }
    if (bad) {
        if (bad == 2) nli_seterr("%s: entry '%s' holds more than its declared %llu bytes", z->path, name,
                                 (unsigned long long)size);
        else nli_seterr("%s: entry '%s': %s", z->path, name, zip_error_strerror(zip_file_get_error(f)));
        zip_fclose(f);
        free(buf);
        return -1;
    }
    zip_fclose(f);
    if (got != size) {
        nli_seterr("%s: entry '%s' is truncated (%zu of %llu bytes)", z->path, name, got, (unsigned long long)size);
        free(buf);
        return -1;
    }
    buf[got] = 0;
    *data = buf;
    *len = got;
    return 0;
}
