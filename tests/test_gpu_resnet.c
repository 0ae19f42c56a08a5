/* test_gpu_resnet.c — CLIP's ModifiedResNet on the GPU (src/clip/cuda/
 * resnet_cuda.cu) against the CPU engine (clip_resnet.c) on the same
 * normalised float pixels: the small RN50-layout checkpoint of
 * openclip_ckpt.h (F32 and F16 files), 7 images in batches of 3 (a short
 * last batch), fp32 within 1e-5 * ||g|| per row, fp16 and bf16 cosine
 * >= 0.999. The uint8 path (the GPU's normalisation, the pipeline) and the
 * full-size RN50 and RN101 against open_clip's goldens are cli_openclip_gpu's.
 * Label gpu: exits 77 with the reason where no CUDA device is usable. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "clip.h"
#include "neglabel.h"
#include "openclip_ckpt.h"
#include "util.h"

#define N_IMG 7

int main(void) {
    if (nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    char tmp[] = "/tmp/neglabel-gpu-resnet-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    const oc_spec *spec = oc_find("rn-small");
    CHECK(spec != NULL, "rn-small in openclip_ckpt.h");
    if (!spec) return check_done();
    for (int f16 = 0; f16 < 2; f16++) {
        char *d = nli_path_join(tmp, f16 ? "f16" : "f32");
        nli_mkdir_p(d);
        CHECK(oc_write(d, spec, f16) == 0, "write rn-small");
        nli_clip *c = nli_clip_load(d, 2);
        CHECK(c != NULL, "load: %s", nli_geterr());
        if (!c) continue;
        const nli_clip_config *cfg = nli_clip_get_config(c);
        CHECK(cfg->arch == NLI_ARCH_RESNET, "a ResNet");
        const size_t S = (size_t)cfg->vision.image_size, per = 3 * S * S, dim = (size_t)cfg->projection_dim;
        float *pix = malloc(N_IMG * per * sizeof(float)), *ref = malloc(N_IMG * dim * sizeof(float)),
              *got = malloc(N_IMG * dim * sizeof(float));
        uint64_t s = 0x9e3779b97f4a7c15ULL + (uint64_t)f16;
        for (size_t i = 0; i < N_IMG * per; i++) { /* normalised pixels: about [-2, 2] */
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            pix[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 4.0 - 2.0);
        }
        CHECK(nli_clip_encode_images(c, pix, N_IMG, ref) == 0, "CPU: %s", nli_geterr());
        static const char *const names[4] = {"", "fp32", "fp16", "bf16"};
        for (int prec = 1; prec <= 3; prec++) {
            int ok = nli_clip_use_device(c, 0, prec, 3) == 0;
            CHECK(ok, "GPU %s: %s", names[prec], nli_geterr());
            if (!ok) continue;
            for (size_t i = 0; i < N_IMG * dim; i++) got[i] = NAN;
            CHECK(nli_clip_encode_images(c, pix, N_IMG, got) == 0, "GPU %s: %s", names[prec], nli_geterr());
            double worst = 0, cmin = 1;
            for (size_t i = 0; i < N_IMG; i++) {
                double e = check_row_err(got + i * dim, ref + i * dim, dim), cs = check_cosine(got + i * dim, ref + i * dim, dim);
                if (!(e <= worst)) worst = e;
                if (!(cs >= cmin)) cmin = cs;
            }
            printf("rn-small %s GPU %s vs CPU fp32: worst max|a-g|/||g|| %.3g, worst cosine %.8f\n", f16 ? "F16" : "F32",
                   names[prec], worst, cmin);
            if (prec == 1) CHECK(worst <= 1e-5, "GPU fp32: off by %g (limit 1e-5)", worst);
            else CHECK(cmin >= 0.999 && worst > 0, "GPU %s: cosine %g (limit 0.999), error %g", names[prec], cmin, worst);
        }
        CHECK(nli_clip_use_device(c, -1, 1, 0) == 0, "back to the CPU");
        free(pix);
        free(ref);
        free(got);
        nli_clip_free(c);
        free(d);
    }
    CHECK(check_rm_rf(tmp) == 0, "remove %s", tmp);
    return check_done();
}
