/* bench_clip.c — timing of the CLIP engine with ViT-B/16-sized random
 * weights (built at bench time in a temporary folder, F16 on disk).
 * Not a ctest. Build after the library (from the repository root):
 *   cc -O3 -fopenmp -D_GNU_SOURCE -Isrc -Iinclude -Itests bench/bench_clip.c build/libneglabel.a \
 *      $(pkg-config --libs jansson libpcre2-8 libutf8proc libjpeg libpng libwebp openblas) -lm -o build/bench_clip
 *   build/bench_clip [threads] [images] [texts]   */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip.h"
#include "safetensors.h"
#include "st_build.h"
#include "util.h"

static uint64_t rng = 88172645463325252ULL;
static float urand(void) { /* xorshift64, uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) / 8388608.0 - 1.0);
}

typedef struct { json_t *hdr; FILE *f; size_t off; } writer;

static void put(writer *w, const char *name, int ndim, const int64_t *shape, int kind) {
    size_t n = 1;
    json_t *sh = json_array();
    for (int i = 0; i < ndim; i++) { n *= (size_t)shape[i]; json_array_append_new(sh, json_integer(shape[i])); }
    uint16_t *buf = malloc(n * 2);
    for (size_t i = 0; i < n; i++) /* kind 0: weights ~0.03, 1: LN gain 1, 2: zero bias */
        buf[i] = nli_f32_to_f16(kind == 1 ? 1.0f : kind == 2 ? 0.0f : 0.03f * urand());
    fwrite(buf, 2, n, w->f);
    free(buf);
    json_object_set_new(w->hdr, name, json_pack("{s:s,s:o,s:[II]}", "dtype", "F16", "shape", sh, "data_offsets",
                                                (json_int_t)w->off, (json_int_t)(w->off + 2 * n)));
    w->off += 2 * n;
}

static void tower(writer *w, const char *pre, int L, int64_t D, int64_t I) {
    char n[160];
    for (int l = 0; l < L; l++) {
        const char *lin[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2"};
        for (int k = 0; k < 6; k++) {
            int64_t o = k == 4 ? I : D, i = k == 5 ? I : D, s[2] = {o, i};
            snprintf(n, sizeof n, "%s.encoder.layers.%d.%s.weight", pre, l, lin[k]); put(w, n, 2, s, 0);
            snprintf(n, sizeof n, "%s.encoder.layers.%d.%s.bias", pre, l, lin[k]); put(w, n, 1, s, 2);
        }
        for (int k = 1; k <= 2; k++) {
            snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm%d.weight", pre, l, k); put(w, n, 1, &D, 1);
            snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm%d.bias", pre, l, k); put(w, n, 1, &D, 2);
        }
    }
}

static void make_b16(const char *dir) {
    char *cp = nli_path_join(dir, "config.json"), *dp = nli_path_join(dir, "data.bin"), *mp = nli_path_join(dir, "model.safetensors");
    const char *cfg = "{\"projection_dim\":512,\"text_config\":{},\"vision_config\":{\"patch_size\":16}}";
    stb_spit(cp, cfg, strlen(cfg), NULL, 0);
    writer w = {json_object(), fopen(dp, "wb"), 0};
    int64_t s[4];
    s[0] = 49408; s[1] = 512; put(&w, "text_model.embeddings.token_embedding.weight", 2, s, 0);
    s[0] = 77; put(&w, "text_model.embeddings.position_embedding.weight", 2, s, 0);
    tower(&w, "text_model", 12, 512, 2048);
    s[0] = 512; put(&w, "text_model.final_layer_norm.weight", 1, s, 1); put(&w, "text_model.final_layer_norm.bias", 1, s, 2);
    s[1] = 512; put(&w, "text_projection.weight", 2, s, 0);
    s[0] = 768; put(&w, "vision_model.embeddings.class_embedding", 1, s, 0);
    s[1] = 3; s[2] = 16; s[3] = 16; put(&w, "vision_model.embeddings.patch_embedding.weight", 4, s, 0);
    s[0] = 197; s[1] = 768; put(&w, "vision_model.embeddings.position_embedding.weight", 2, s, 0);
    s[0] = 768; put(&w, "vision_model.pre_layrnorm.weight", 1, s, 1); put(&w, "vision_model.pre_layrnorm.bias", 1, s, 2);
    tower(&w, "vision_model", 12, 768, 3072);
    put(&w, "vision_model.post_layernorm.weight", 1, s, 1); put(&w, "vision_model.post_layernorm.bias", 1, s, 2);
    s[0] = 512; s[1] = 768; put(&w, "visual_projection.weight", 2, s, 0);
    put(&w, "logit_scale", 0, s, 2);
    fclose(w.f);
    /* header + data: write the header file, then append the data */
    char *h = json_dumps(w.hdr, JSON_COMPACT);
    uint8_t *data; size_t len;
    stb_slurp(dp, &data, &len);
    stb_write_raw(mp, h, strlen(h), data, len);
    unlink(dp);
    free(data); free(h); json_decref(w.hdr); free(cp); free(dp); free(mp);
}

int main(int argc, char **argv) {
    int nt = argc > 1 ? atoi(argv[1]) : nli_num_threads();
    size_t ni = argc > 2 ? (size_t)atoi(argv[2]) : 32, ntx = argc > 3 ? (size_t)atoi(argv[3]) : 1000;
    char dir[] = "/tmp/neglabel-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    double t0 = nli_now();
    make_b16(dir);
    printf("built random ViT-B/16 checkpoint (F16) in %.1f s\n", nli_now() - t0);
    t0 = nli_now();
    nli_clip *c = nli_clip_load(dir, nt);
    if (!c) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
    printf("load: %.2f s (%zu params), threads %d\n", nli_now() - t0, nli_clip_param_count(c), nt);
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
