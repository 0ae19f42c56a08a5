/* safetensors_write.c — write a safetensors file (see safetensors.h). */
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "safetensors.h"
#include "util.h"

int nli_st_write_finish(nli_atomic *a, const char *path, const nli_st_out *t, size_t n) {
    nli_buf h = {0};
    uint64_t off = 0;
    int rc = nli_buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc |= nli_buf_puts(&h, ",");
        rc |= nli_buf_json_string(&h, t[i].name);
        rc |= nli_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) rc |= nli_buf_printf(&h, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        rc |= nli_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                             (unsigned long long)(off + t[i].nbytes));
        off += t[i].nbytes;
    }
    rc |= nli_buf_puts(&h, "}");
    while (rc == 0 && h.len % 8) rc |= nli_buf_puts(&h, " ");
    if (rc != 0) { nli_buf_free(&h); return -1; }
    if (nli_atomic_open(a, path) != 0) { nli_buf_free(&h); return -1; }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    int bad = fwrite(len8, 1, 8, a->f) != 8 || fwrite(h.s, 1, h.len, a->f) != h.len;
    for (size_t i = 0; i < n && !bad; i++)
        if (t[i].nbytes && fwrite(t[i].data, 1, t[i].nbytes, a->f) != t[i].nbytes) bad = 1;
    nli_buf_free(&h);
    /* a failed fwrite leaves the stream's error flag (and the first errno)
     * set: nli_atomic_finish reports it with the reason and removes the
     * temporary file */
    return nli_atomic_finish(a);
}

int nli_st_write(const char *path, const nli_st_out *t, size_t n) {
    nli_atomic a;
    if (nli_st_write_finish(&a, path, t, n) != 0) return -1;
    return nli_atomic_publish(&a);
}
