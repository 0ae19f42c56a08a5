/* bench_clip.c — timing of the CLIP engine with ViT-B/16-sized random
 * weights (built at bench time in a temporary folder, F16 on disk).
 * Not a ctest; built with the project (target bench_clip):
 *   build/bench_clip [threads] [images] [texts] [fp32|bf16]
 * bf16: the CPU's native bf16 kernels (nli_clip_use_bf16). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip.h"
#include "gemm_bf16.h"
#include "safetensors.h"
#include "random_clip.h"
#include "st_build.h"
#include "util.h"

int main(int argc, char **argv) {
    int nt = argc > 1 ? atoi(argv[1]) : nli_num_threads();
    size_t ni = argc > 2 ? (size_t)atoi(argv[2]) : 32, ntx = argc > 3 ? (size_t)atoi(argv[3]) : 1000;
    char dir[] = "/tmp/neglabel-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    double t0 = nli_now();
    random_clip_write(dir);
    printf("built random ViT-B/16 checkpoint (F16) in %.1f s\n", nli_now() - t0);
    t0 = nli_now();
    nli_clip *c = nli_clip_load(dir, nt);
    if (!c) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
    printf("load: %.2f s (%zu params), threads %d\n", nli_now() - t0, nli_clip_param_count(c), nt);
    if (argc > 4 && !strcmp(argv[4], "bf16")) {
        if (nli_clip_use_bf16(c, 1) != 0) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
        printf("precision bf16 (kernel %s)\n", nli_bf16_kernel_name());
    }
    float *px = malloc(sizeof(float) * ni * 3 * 224 * 224), *out = malloc(sizeof(float) * (ni > ntx ? ni : ntx) * 512);
    for (size_t i = 0; i < ni * 3 * 224 * 224; i++) px[i] = urand() * 2;
    nli_clip_encode_images(c, px, ni < 2 ? ni : 2, out); /* warm-up */
    t0 = nli_now();
    if (nli_clip_encode_images(c, px, ni, out) != 0) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
    double ti = nli_now() - t0;
    printf("images: %zu in %.2f s = %.1f ms/image\n", ni, ti, 1e3 * ti / ni);
    /* Prompts like "the nice <word>": SOT + 4..7 tokens + EOT. */
    int32_t **ids = malloc(ntx * sizeof *ids);
    size_t *lens = malloc(ntx * sizeof *lens);
    for (size_t i = 0; i < ntx; i++) {
        lens[i] = 6 + i % 4;
        ids[i] = malloc(lens[i] * sizeof(int32_t));
        ids[i][0] = 49406;
        for (size_t k = 1; k + 1 < lens[i]; k++) ids[i][k] = (int32_t)(1000 + (i * 7 + k * 13) % 40000);
        ids[i][lens[i] - 1] = 49407;
    }
    t0 = nli_now();
    if (nli_clip_encode_texts(c, (const int32_t *const *)ids, lens, ntx, out) != 0) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
    double tt = nli_now() - t0;
    printf("texts: %zu in %.2f s = %.3f ms/text\n", ntx, tt, 1e3 * tt / ntx);
    for (size_t i = 0; i < ntx; i++) free(ids[i]);
    free(ids); free(lens); free(px); free(out);
    nli_clip_free(c);
    stb_rmtree(dir);
    return 0;
}
