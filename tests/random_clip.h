/* random_clip.h — a random-weight CLIP with the shapes of
 * openai/clip-vit-base-patch16 (F16 on disk, weights ~U(-0.03, 0.03), LayerNorm
 * gains 1, biases 0), written as a Hugging Face folder: for benchmarks
 * (bench/bench_clip.c) and full-size tests (test_clip_bf16.c). Test-only.
 * Uses st_build.h, safetensors.h (nli_f32_to_f16) and util.h. */
#ifndef NEGLABEL_RANDOM_CLIP_H
#define NEGLABEL_RANDOM_CLIP_H
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* config.json and model.safetensors of a random ViT-B/16 CLIP in dir (the
 * tokenizer files are not written). */
static void random_clip_write(const char *dir) {
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

#endif
