/* st_build.h — tests' helpers to read and write safetensors files (for
 * building sharded, BF16 and hostile variants of the tiny model at test
 * time, in a temporary folder). Not hardened: test-only. */
#ifndef NEGLABEL_ST_BUILD_H
#define NEGLABEL_ST_BUILD_H
#include <ftw.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *hdr;    /* parsed JSON header */
    uint8_t *file;  /* whole file */
    const uint8_t *data;
    size_t len, data_len;
} stb;

static inline int stb_slurp(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    *len = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    return *len == (size_t)n ? 0 : -1;
}

static inline int stb_spit(const char *path, const void *a, size_t na, const void *b, size_t nb) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(a, 1, na, f) == na && (!nb || fwrite(b, 1, nb, f) == nb);
    return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int stb_read(const char *path, stb *s) {
    memset(s, 0, sizeof *s);
    if (stb_slurp(path, &s->file, &s->len) != 0 || s->len < 8) return -1;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | s->file[i];
    s->hdr = json_loadb((const char *)s->file + 8, (size_t)n, 0, NULL);
    s->data = s->file + 8 + n;
    s->data_len = s->len - 8 - (size_t)n;
    return s->hdr ? 0 : -1;
}

static inline void stb_free(stb *s) {
    json_decref(s->hdr);
    free(s->file);
}

/* Write u64 header length + raw header text + data. */
static inline int stb_write_raw(const char *path, const char *hdr, size_t hlen, const void *data, size_t dlen) {
    uint8_t *buf = malloc(8 + hlen);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, hdr, hlen);
    int rc = stb_spit(path, buf, 8 + hlen, data, dlen);
    free(buf);
    return rc;
}

static inline int stb_write(const char *path, json_t *hdr, const void *data, size_t dlen) {
    char *h = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = stb_write_raw(path, h, strlen(h), data, dlen);
    free(h);
    return rc;
}

static inline int stb_copy(const char *src, const char *dst) {
    uint8_t *b;
    size_t n;
    if (stb_slurp(src, &b, &n) != 0) return -1;
    int rc = stb_spit(dst, b, n, NULL, 0);
    free(b);
    return rc;
}

/* Offsets of tensor name in s (0 when absent). */
static inline int stb_offsets(const stb *s, const char *name, size_t *b, size_t *e) {
    json_t *o = json_object_get(json_object_get(s->hdr, name), "data_offsets");
    if (!o) return -1;
    *b = (size_t)json_integer_value(json_array_get(o, 0));
    *e = (size_t)json_integer_value(json_array_get(o, 1));
    return 0;
}

static inline int stb_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) { return remove(p); }
/* Remove a test's temporary tree (tests build ~100 MB of model copies). */
static inline void stb_rmtree(const char *dir) { nftw(dir, stb_rm_one, 16, FTW_DEPTH | FTW_PHYS); }
#endif
