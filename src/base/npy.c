/* npy.c — NumPy .npy files: 2-D, C order, little-endian float32/float64.
 * The header is a Python dict literal; we parse only the three keys numpy
 * writes and refuse anything we do not understand, since the shape decides
 * how much we read. */
#include "neglabel.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif

/* Find 'key' (quoted) in the header and return the text after its colon. */
static const char *npy_key(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\"", key);
        p = strstr(h, pat);
    }
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

/* Parse "(R, C)" with optional trailing comma; exactly two dims. */
static int npy_shape(const char *p, size_t dims[2]) {
    if (*p++ != '(') return -1;
    int nd = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        if (!isdigit((unsigned char)*p) || nd == 2) return -1;
        size_t v = 0;
        while (isdigit((unsigned char)*p)) {
            unsigned d = (unsigned)(*p++ - '0');
            if (v > (SIZE_MAX - d) / 10) return -1;
            v = v * 10 + d;
        }
        dims[nd++] = v;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')') return -1;
    }
    return nd == 2 ? 0 : -1;
}

int nl_npy_load(const char *path, float **data, size_t *rows, size_t *cols) {
    if (!path || !data || !rows || !cols) return nli_null_arg(__func__);
    *data = NULL;
    *rows = *cols = 0;
    nli_map m;
    if (nli_map_file(path, &m) != 0) return -1;
    const uint8_t *b = m.data;
    char *hdr = NULL;
    int rc = -1;
    if (m.len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        nli_seterr("%s: not a .npy file (bad magic)", path);
        goto out;
    }
    size_t hlen, off;
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (b[6] == 2) {
        if (m.len < 12) { nli_seterr("%s: truncated .npy header", path); goto out; }
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        nli_seterr("%s: unsupported .npy version %u.%u (need 1.0 or 2.0)", path, b[6], b[7]);
        goto out;
    }
    if (hlen > m.len - off) { nli_seterr("%s: .npy header runs past end of file", path); goto out; }
    if (!(hdr = nli_strndup((const char *)b + off, hlen))) { nli_prefixerr("%s", path); goto out; }
    if (strlen(hdr) != hlen) { nli_seterr("%s: NUL byte in .npy header", path); goto out; }
    off += hlen;

    const char *d = npy_key(hdr, "descr");
    size_t isz;
    if (!d) { nli_seterr("%s: .npy header has no 'descr'", path); goto out; }
    if (!strncmp(d, "'<f4'", 5)) isz = 4;
    else if (!strncmp(d, "'<f8'", 5)) isz = 8;
    else {
        const char *e = d;
        while (*e && *e != ',' && e - d < 16) e++;
        nli_seterr("%s: unsupported dtype %.*s (need '<f4' or '<f8')", path, (int)(e - d), d);
        goto out;
    }
    const char *fo = npy_key(hdr, "fortran_order");
    if (!fo || strncmp(fo, "False", 5) != 0) {
        nli_seterr("%s: fortran_order must be False (C order)", path);
        goto out;
    }
    const char *sp = npy_key(hdr, "shape");
    size_t dims[2];
    if (!sp || npy_shape(sp, dims) != 0) {
        nli_seterr("%s: shape must be 2-D (rows, cols)", path);
        goto out;
    }
    size_t n;
    if (__builtin_mul_overflow(dims[0], dims[1], &n) || __builtin_mul_overflow(n, isz, &(size_t){0})) {
        nli_seterr("%s: shape (%zu, %zu) is too large", path, dims[0], dims[1]);
        goto out;
    }
    if (m.len - off != n * isz) {
        nli_seterr("%s: shape (%zu, %zu) needs %zu data bytes but the file has %zu", path, dims[0],
                  dims[1], n * isz, m.len - off);
        goto out;
    }
    float *x = nli_mallocarray(n, sizeof(float));
    if (!x) { nli_prefixerr("%s", path); goto out; }
    const uint8_t *src = b + off;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (isz == 4) {
            float f;
            memcpy(&f, src + 4 * i, 4);
            v = f;
        } else {
            memcpy(&v, src + 8 * i, 8);
        }
        /* A finite float64 beyond float32 range would become inf. */
        if (!isfinite(v) || fabs(v) > 3.4028234663852886e38) {
            nli_seterr("%s: %s value at row %zu, col %zu", path,
                      isfinite(v) ? "out-of-float32-range" : "non-finite", i / dims[1], i % dims[1]);
            free(x);
            goto out;
        }
        x[i] = (float)v;
    }
    *data = x;
    *rows = dims[0];
    *cols = dims[1];
    rc = 0;
out:
    free(hdr);
    nli_unmap(&m);
    return rc;
}

int nl_npy_save(const char *path, const float *data, size_t rows, size_t cols) {
    size_t n;
    if (!path || (rows && cols && !data)) return nli_null_arg(__func__);
    if (__builtin_mul_overflow(rows, cols, &n) || n > NL_ALLOC_LIMIT / sizeof(float)) {
        nli_seterr("%s: shape (%zu, %zu) is too large", path, rows, cols);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(data[i])) {
            nli_seterr("%s: refusing to save non-finite value at row %zu, col %zu", path, i / cols,
                      i % cols);
            return -1;
        }
    /* v1.0 header padded with spaces so the data starts on a 64-byte
     * boundary, as numpy itself writes it. */
    char hdr[256];
    int len = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                       rows, cols);
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(hdr + len, ' ', pad);
    hdr[len + pad] = '\n';
    size_t hlen = (size_t)len + pad + 1;
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};
    nli_atomic a;
    if (nli_atomic_open(&a, path) != 0) return -1;
    if (fwrite(pre, 1, 10, a.f) != 10 || fwrite(hdr, 1, hlen, a.f) != hlen ||
        (n && fwrite(data, sizeof(float), n, a.f) != n)) { /* n 0: data may be NULL, which fwrite may not take */
        nli_seterr("%s: write error", path);
        nli_atomic_abort(&a);
        return -1;
    }
    return nli_atomic_commit(&a);
}
