/* random_clip.h — a random-weight CLIP with the shapes of
 * openai/clip-vit-base-patch16 (F16 on disk, or F32 / BF16 with
 * random_clip_write_dtype; other shapes with random_clip_write_shape; weights ~U(-0.03, 0.03), LayerNorm gains 1,
 * biases 0), written as a Hugging Face folder: for benchmarks
 * (bench/bench_clip.c) and full-size tests (test_clip_bf16.c, the memory
 * test's tests/memtool.c). Test-only.
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

typedef struct { json_t *hdr; FILE *f; size_t off; nli_st_dtype dtype; } writer;

static void put(writer *w, const char *name, int ndim, const int64_t *shape, int kind) {
    size_t n = 1, es = w->dtype == NL_ST_F32 ? 4 : 2;
    json_t *sh = json_array();
    for (int i = 0; i < ndim; i++) { n *= (size_t)shape[i]; json_array_append_new(sh, json_integer(shape[i])); }
    uint8_t *buf = malloc(n * es);
    for (size_t i = 0; i < n; i++) { /* kind 0: weights ~0.03, 1: LN gain 1, 2: zero bias */
        float v = kind == 1 ? 1.0f : kind == 2 ? 0.0f : 0.03f * urand();
        uint16_t h = w->dtype == NL_ST_BF16 ? nli_f32_to_bf16(v) : nli_f32_to_f16(v);
        memcpy(buf + i * es, es == 4 ? (const void *)&v : (const void *)&h, es);
    }
    fwrite(buf, es, n, w->f);
    free(buf);
    json_object_set_new(w->hdr, name, json_pack("{s:s,s:o,s:[II]}", "dtype", nli_st_dtype_name(w->dtype), "shape", sh,
                                                "data_offsets", (json_int_t)w->off, (json_int_t)(w->off + es * n)));
    w->off += es * n;
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

/* The shapes written: ViT-B/16's (RANDOM_CLIP_B16), or others. */
typedef struct {
    int64_t text_layers, text_width, text_mlp, vision_layers, vision_width, vision_heads, vision_mlp, image_size,
        patch, proj;
} random_clip_shape;
#define RANDOM_CLIP_B16 {12, 512, 2048, 12, 768, 12, 3072, 224, 16, 512}

/* config.json and model.safetensors of a random CLIP of shape sh in dir
 * (the tokenizer files are not written), weights stored as dtype (F32, F16
 * or BF16; the same random draws, rounded to nearest even). 0, or -1 when
 * a file could not be written. */
static int random_clip_write_shape(const char *dir, nli_st_dtype dtype, const random_clip_shape *sh) {
    char *cp = nli_path_join(dir, "config.json"), *dp = nli_path_join(dir, "data.bin"), *mp = nli_path_join(dir, "model.safetensors");
    const int64_t Dt = sh->text_width, Dv = sh->vision_width, P = sh->proj, p = sh->patch;
    const int64_t Tv = (sh->image_size / p) * (sh->image_size / p) + 1;
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"projection_dim\":%lld,\"text_config\":{\"hidden_size\":%lld,\"intermediate_size\":%lld,"
             "\"num_hidden_layers\":%lld,\"num_attention_heads\":%lld},\"vision_config\":{\"hidden_size\":%lld,"
             "\"intermediate_size\":%lld,\"num_hidden_layers\":%lld,\"num_attention_heads\":%lld,"
             "\"image_size\":%lld,\"patch_size\":%lld}}",
             (long long)P, (long long)Dt, (long long)sh->text_mlp, (long long)sh->text_layers,
             (long long)(Dt >= 64 ? Dt / 64 : 1), (long long)Dv, (long long)sh->vision_mlp,
             (long long)sh->vision_layers, (long long)sh->vision_heads, (long long)sh->image_size, (long long)p);
    stb_spit(cp, cfg, strlen(cfg), NULL, 0);
    rng = 88172645463325252ULL; /* the same weights every call */
    writer w = {json_object(), fopen(dp, "wb"), 0, dtype};
    if (!w.f) { json_decref(w.hdr); free(cp); free(dp); free(mp); return -1; }
    int64_t s[4];
    s[0] = 49408; s[1] = Dt; put(&w, "text_model.embeddings.token_embedding.weight", 2, s, 0);
    s[0] = 77; put(&w, "text_model.embeddings.position_embedding.weight", 2, s, 0);
    tower(&w, "text_model", (int)sh->text_layers, Dt, sh->text_mlp);
    s[0] = Dt; put(&w, "text_model.final_layer_norm.weight", 1, s, 1); put(&w, "text_model.final_layer_norm.bias", 1, s, 2);
    s[0] = P; s[1] = Dt; put(&w, "text_projection.weight", 2, s, 0);
    s[0] = Dv; put(&w, "vision_model.embeddings.class_embedding", 1, s, 0);
    s[1] = 3; s[2] = p; s[3] = p; put(&w, "vision_model.embeddings.patch_embedding.weight", 4, s, 0);
    s[0] = Tv; s[1] = Dv; put(&w, "vision_model.embeddings.position_embedding.weight", 2, s, 0);
    s[0] = Dv; put(&w, "vision_model.pre_layrnorm.weight", 1, s, 1); put(&w, "vision_model.pre_layrnorm.bias", 1, s, 2);
    tower(&w, "vision_model", (int)sh->vision_layers, Dv, sh->vision_mlp);
    put(&w, "vision_model.post_layernorm.weight", 1, s, 1); put(&w, "vision_model.post_layernorm.bias", 1, s, 2);
    s[0] = P; s[1] = Dv; put(&w, "visual_projection.weight", 2, s, 0);
    put(&w, "logit_scale", 0, s, 2);
    int rc = fclose(w.f) == 0 ? 0 : -1;
    /* header + data: write the header, then append the data in pieces
     * (an F32 checkpoint is 600 MB) */
    char *h = json_dumps(w.hdr, JSON_COMPACT);
    size_t hl = strlen(h);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    FILE *in = fopen(dp, "rb"), *out = fopen(mp, "wb");
    if (!in || !out || fwrite(len8, 1, 8, out) != 8 || fwrite(h, 1, hl, out) != hl) rc = -1;
    char *chunk = malloc(1 << 20);
    size_t got;
    while (rc == 0 && chunk && (got = fread(chunk, 1, 1 << 20, in)) > 0)
        if (fwrite(chunk, 1, got, out) != got) rc = -1;
    if (!chunk || (in && ferror(in))) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    unlink(dp);
    free(chunk); free(h); json_decref(w.hdr); free(cp); free(dp); free(mp);
    return rc;
}

static inline int random_clip_write_dtype(const char *dir, nli_st_dtype dtype) {
    const random_clip_shape b16 = RANDOM_CLIP_B16;
    return random_clip_write_shape(dir, dtype, &b16);
}
static inline void random_clip_write(const char *dir) { random_clip_write_dtype(dir, NL_ST_F16); }

#endif
