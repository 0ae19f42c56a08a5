/* device.c — device and precision names, the device summary, and (in a
 * build without CUDA) the stubs of src/cuda/nl_cuda.h that say so. */
#include "neglabel.h"
#include "cuda/nl_cuda.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int nl_parse_device(const char *s, nl_device *dev, int *index) {
    *index = 0;
    if (!s) { nl_seterr("device: none given"); return -1; }
    if (!strcmp(s, "auto")) { *dev = NL_DEVICE_AUTO; return 0; }
    if (!strcmp(s, "cpu")) { *dev = NL_DEVICE_CPU; return 0; }
    if (!strcmp(s, "cuda")) { *dev = NL_DEVICE_CUDA; return 0; }
    if (!strncmp(s, "cuda:", 5) && s[5]) {
        char *end;
        long v = strtol(s + 5, &end, 10);
        if (*end == 0 && v >= 0 && v < 1024) {
            *dev = NL_DEVICE_CUDA;
            *index = (int)v;
            return 0;
        }
    }
    nl_seterr("device '%s': expected auto, cpu, cuda or cuda:N", s);
    return -1;
}

int nl_parse_precision(const char *s, nl_precision *p) {
    static const char *names[] = {"default", "fp32", "fp16", "bf16"};
    for (int i = 0; i < 4 && s; i++)
        if (!strcmp(s, names[i])) { *p = (nl_precision)i; return 0; }
    nl_seterr("precision '%s': expected fp32, fp16 or bf16", s ? s : "");
    return -1;
}

const char *nl_precision_name(nl_precision p) {
    switch (p) {
    case NL_PRECISION_FP32: return "fp32";
    case NL_PRECISION_FP16: return "fp16";
    case NL_PRECISION_BF16: return "bf16";
    default: return "default";
    }
}

int nl_cuda_device_count(void) { return nl_cuda_count(); }

#ifdef NEGLABEL_HAVE_CUDA
int nl_cuda_built(void) { return 1; }
#else
int nl_cuda_built(void) { return 0; }
#endif

char *nl_devices_info_json(void) {
    nl_buf b = {0};
    int n = nl_cuda_count();
    nl_buf_printf(&b, "{\"cuda_built\":%s,\"cuda_devices\":[", nl_cuda_built() ? "true" : "false");
    for (int i = 0; i < n; i++) {
        char name[256];
        size_t fr = 0, tot = 0;
        int ma = 0, mi = 0;
        if (nl_cuda_describe(i, name, sizeof name, &fr, &tot, &ma, &mi) != 0) continue;
        nl_buf_printf(&b, "%s{\"index\":%d,\"name\":", i ? "," : "", i);
        nl_buf_json_string(&b, name);
        nl_buf_printf(&b, ",\"compute_capability\":\"%d.%d\",\"memory_total\":%zu,\"memory_free\":%zu}", ma, mi, tot, fr);
    }
    nl_buf_puts(&b, "]");
    if (n == 0) {
        nl_buf_puts(&b, ",\"cuda_unavailable\":");
        nl_buf_json_string(&b, nl_geterr());
    }
    nl_buf_puts(&b, "}");
    if (!b.s) nl_seterr("out of memory");
    return b.s;
}

#ifndef NEGLABEL_HAVE_CUDA
/* ------------------------------------------------ build without CUDA */
#define NO_CUDA() nl_seterr_code(NL_ERR_UNSUPPORTED, "this neglabel was built without CUDA (rebuild with the CUDA toolkit, NEGLABEL_CUDA=ON)")

int nl_cuda_count(void) { NO_CUDA(); return 0; }
int nl_cuda_describe(int index, char *name, size_t cap, size_t *free_bytes, size_t *total_bytes, int *cc_major,
                     int *cc_minor) { NO_CUDA(); return -1; }
nl_cuda_clip *nl_cuda_clip_create(const struct nl_clip *c, int index, int precision, int max_batch) {
    NO_CUDA();
    return NULL;
}
void nl_cuda_clip_free(nl_cuda_clip *g) { (void)g; }
int nl_cuda_clip_max_batch(const nl_cuda_clip *g) { return 0; }
int nl_cuda_encode_images(nl_cuda_clip *g, const float *pixels, size_t n, float *out) { NO_CUDA(); return -1; }
int nl_cuda_images_submit(nl_cuda_clip *g, int slot, const uint8_t *rgb, size_t n) { NO_CUDA(); return -1; }
int nl_cuda_images_collect(nl_cuda_clip *g, int slot, float *out) { NO_CUDA(); return -1; }
uint8_t *nl_cuda_images_staging(nl_cuda_clip *g, int slot) { NO_CUDA(); return NULL; }
int nl_cuda_encode_texts(nl_cuda_clip *g, const int32_t *const *ids, const int *run, const int *pool, size_t n,
                         float *out) { NO_CUDA(); return -1; }
int nl_cuda_bench_images(nl_cuda_clip *g, int batch, int iters, double *seconds) { NO_CUDA(); return -1; }
int nl_cuda_score(int index, const float *img, size_t n_img, const float *id_emb, size_t n_id,
                  const float *neg_emb, size_t n_neg, size_t dim, int method, size_t ngroup, size_t gsize,
                  const size_t *perm, double inv_tau, double *scores, size_t *top_id, size_t *top_neg) {
    NO_CUDA();
    return -1;
}
int nl_cuda_mine_quantiles(int index, const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
                           size_t dim, double q, double *qsim) { NO_CUDA(); return -1; }
#endif
