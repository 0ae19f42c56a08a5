/* device.c — device and precision names, the device summary, and (in a
 * build without CUDA) the stubs of base/cuda/cuda_device.h that say so. */
#include "neglabel.h"
#include "cuda/cuda_device.h"
#include "gemm_bf16.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int nl_parse_device(const char *s, nl_device *dev, int *index) {
    if (!dev || !index) return nli_null_arg(__func__);
    /* on failure *dev and *index keep what the caller had in them */
    if (!s) { nli_seterr("device: none given"); return -1; }
    if (!strcmp(s, "auto")) { *dev = NL_DEVICE_AUTO; *index = 0; return 0; }
    if (!strcmp(s, "cpu")) { *dev = NL_DEVICE_CPU; *index = 0; return 0; }
    if (!strcmp(s, "cuda")) { *dev = NL_DEVICE_CUDA; *index = 0; return 0; }
    if (!strncmp(s, "cuda:", 5) && s[5]) {
        char *end;
        long v = strtol(s + 5, &end, 10);
        if (*end == 0 && v >= 0 && v < 1024) {
            *dev = NL_DEVICE_CUDA;
            *index = (int)v;
            return 0;
        }
    }
    nli_seterr("device '%s': expected auto, cpu, cuda or cuda:N", s);
    return -1;
}

int nl_parse_precision(const char *s, nl_precision *p) {
    static const char *names[] = {"default", "fp32", "fp16", "bf16"};
    if (!p) return nli_null_arg(__func__);
    for (int i = 0; i < 4 && s; i++)
        if (!strcmp(s, names[i])) { *p = (nl_precision)i; return 0; }
    nli_seterr("precision '%s': expected fp32, fp16 or bf16", s ? s : "");
    return -1;
}

const char *nl_precision_name(nl_precision p) {
    switch (p) {
    case NL_PRECISION_FP32: return "fp32";
    case NL_PRECISION_FP16: return "fp16";
    case NL_PRECISION_BF16: return "bf16";
    case NL_PRECISION_DEFAULT: return "default";
    default: return "unknown";
    }
}

int nl_cuda_device_count(void) { return nli_cuda_count(); }

int nl_cuda_auto_device(void) {
    int index = -1;
    return nli_cuda_auto(&index, 1) ? index : -1;
}

int nl_resolve_device(nl_device *dev, int *index) {
    if (!dev || !index) return nli_null_arg(__func__);
    if (*dev == NL_DEVICE_AUTO) {
        int i = 0;
        int cuda = nli_cuda_auto(&i, 1);
        *dev = cuda ? NL_DEVICE_CUDA : NL_DEVICE_CPU;
        *index = cuda ? i : 0;
        return 0;
    }
    if (*dev != NL_DEVICE_CPU && *dev != NL_DEVICE_CUDA) {
        nli_seterr_code(NL_ERR_INVALID, "unknown device kind %d", (int)*dev);
        return -1;
    }
    return 0;
}

#ifdef NEGLABEL_HAVE_CUDA
int nl_cuda_built(void) { return 1; }
#else
int nl_cuda_built(void) { return 0; }
#endif

char *nl_devices_info_json(void) {
    nli_buf b = {0};
    int n = nli_cuda_count();
    nli_buf_printf(&b, "{\"cuda_built\":%s,\"cuda_devices\":[", nl_cuda_built() ? "true" : "false");
    for (int i = 0; i < n; i++) {
        char name[256];
        size_t fr = 0, tot = 0;
        int ma = 0, mi = 0;
        if (nli_cuda_describe(i, name, sizeof name, &fr, &tot, &ma, &mi) != 0) {
            /* listed with why (a device in exclusive-process mode that
             * another process holds): skipped, it left "[," in the JSON */
            nli_buf_printf(&b, "%s{\"index\":%d,\"supported\":false,\"error\":", i ? "," : "", i);
            nli_buf_json_string(&b, nli_geterr());
            nli_buf_puts(&b, "}");
            continue;
        }
        nli_buf_printf(&b, "%s{\"index\":%d,\"name\":", i ? "," : "", i);
        nli_buf_json_string(&b, name);
        nli_buf_printf(&b, ",\"compute_capability\":\"%d.%d\",\"memory_total\":%zu,\"memory_free\":%zu",
                       ma, mi, tot, fr);
        int ok = nli_cuda_supported(i) == 0;
        nli_buf_printf(&b, ",\"supported\":%s", ok ? "true" : "false");
        if (!ok) {
            nli_buf_puts(&b, ",\"unsupported\":");
            nli_buf_json_string(&b, nli_geterr());
        }
        nli_buf_puts(&b, "}");
    }
    nli_buf_puts(&b, "]");
    int auto_index = -1, on_gpu = n > 0 && nli_cuda_auto(&auto_index, 0);
    if (on_gpu) nli_buf_printf(&b, ",\"auto\":\"cuda:%d\"", auto_index);
    else nli_buf_puts(&b, ",\"auto\":\"cpu\"");
    if (n > 0 && nli_cublas_path()) {
        nli_buf_puts(&b, ",\"cublas\":");
        nli_buf_json_string(&b, nli_cublas_path());
    }
    if (!on_gpu) {
        nli_buf_puts(&b, ",\"cuda_unavailable\":");
        nli_buf_json_string(&b, nli_geterr());
    }
    nli_buf_printf(&b, ",\"cpu\":{\"bf16\":\"%s\",\"bf16_kernel\":\"%s\"}}", nli_bf16_cpu_features(),
                   nli_bf16_kernel_name());
    if (!b.s) nli_seterr("out of memory");
    return b.s;
}

#ifndef NEGLABEL_HAVE_CUDA
/* ------------------------------------------------ build without CUDA */
int nli_cuda_count(void) { NL_NO_CUDA(); return 0; }
int nli_cublas_load(void) { NL_NO_CUDA(); return -1; }
int nli_cuda_supported(int index) { (void)index; NL_NO_CUDA(); return -1; }
int nli_cuda_auto(int *index, int warn) { (void)index; (void)warn; NL_NO_CUDA(); return 0; }
const char *nli_cublas_path(void) { return NULL; }
int nli_cuda_describe(int index, char *name, size_t cap, size_t *free_bytes, size_t *total_bytes, int *cc_major,
                     int *cc_minor) { NL_NO_CUDA(); return -1; }
#endif
