/* openclip_ckpt.h — deterministic-weight OpenCLIP checkpoints (test-only):
 * open_clip_config.json + open_clip_model.safetensors with every tensor of
 * open_clip's CLIP state dict (ViT or ModifiedResNet vision tower), in F32
 * or F16. Element i of tensor NAME is
 *     u = splitmix64(fnv1a64(NAME) + i) >> 11, scaled to [-1, 1)
 *     value = centre + scale * u   (computed in double, rounded to float)
 * with centre/scale per kind of tensor (oc_kind below) so that activations
 * stay O(1) at any depth. tests/gen/gen_openclip.py loads these same files
 * (written by `test_openclip --write`) into open_clip in float64 for the
 * goldens; tests/cli_openclip.sh writes them again at test time, so the
 * full-size RN50/RN101 checkpoints never need to be committed. */
#ifndef NEGLABEL_OPENCLIP_CKPT_H
#define NEGLABEL_OPENCLIP_CKPT_H
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "st_build.h"
#include "util.h"

typedef struct {
    const char *name;
    int resnet;                     /* vision: ModifiedResNet (layers) or ViT */
    int layers[4], width, head_width, patch, image; /* ViT: layers[0] blocks */
    double vmlp;                    /* ViT mlp_ratio */
    int embed, t_width, t_heads, t_layers, ctx;
    double tmlp;
    int quick_gelu;
    const char *preprocess;         /* preprocess_cfg JSON object */
} oc_spec;

/* The checkpoints of the tests (tests/data/openclip/golden.json names them). */
static const oc_spec oc_specs[] = {
    {"rn-small", 1, {3, 4, 6, 3}, 16, 64, 0, 224, 0, 128, 64, 4, 2, 77, 4.0, 0,
     "{\"mean\":[0.48145466,0.4578275,0.40821073],\"std\":[0.26862954,0.26130258,0.27577711],"
     "\"interpolation\":\"bicubic\",\"resize_mode\":\"shortest\"}"},
    {"vit-small-quickgelu", 0, {2, 0, 0, 0}, 64, 32, 16, 64, 4.0, 48, 64, 4, 2, 77, 4.0, 1,
     "{\"mean\":[0.5,0.5,0.5],\"std\":[0.5,0.5,0.5],\"interpolation\":\"bilinear\",\"resize_mode\":\"longest\","
     "\"fill_color\":0}"},
    {"vit-small-gelu", 0, {3, 0, 0, 0}, 96, 32, 8, 48, 2.5, 64, 32, 2, 3, 77, 3.0, 0,
     "{\"interpolation\":\"bicubic\",\"resize_mode\":\"squash\"}"},
    {"rn50", 1, {3, 4, 6, 3}, 64, 64, 0, 224, 0, 1024, 512, 8, 12, 77, 4.0, 1, "{}"},
    {"rn101", 1, {3, 4, 23, 3}, 64, 64, 0, 224, 0, 512, 512, 8, 12, 77, 4.0, 1, "{}"},
};
#define OC_N_SPECS (sizeof oc_specs / sizeof oc_specs[0])

static inline const oc_spec *oc_find(const char *name) {
    for (size_t i = 0; i < OC_N_SPECS; i++)
        if (strcmp(oc_specs[i].name, name) == 0) return &oc_specs[i];
    return NULL;
}

/* Kinds of tensor: weight (uniform, +-sqrt(3 / fan_in): unit variance per
 * output), LayerNorm / BatchNorm gain (1 +- 0.1), bias (+-0.02), embedding
 * (+-0.1), BN running mean (+-0.1) and variance (0.75 +- 0.25), I64 zero
 * (num_batches_tracked), logit_scale (log 100). */
enum { OC_W, OC_GAIN, OC_BIAS, OC_EMB, OC_MEAN, OC_VAR, OC_I64, OC_LOGIT };

typedef struct {
    json_t *hdr;
    FILE *f;
    size_t off;
    int f16;
} oc_writer;

static uint64_t oc_splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static void oc_put(oc_writer *w, const char *name, int kind, double fan_in, int ndim, int64_t d0, int64_t d1,
                   int64_t d2, int64_t d3) {
    int64_t d[4] = {d0, d1, d2, d3};
    size_t n = 1;
    json_t *sh = json_array();
    for (int i = 0; i < ndim; i++) { n *= (size_t)d[i]; json_array_append_new(sh, json_integer(d[i])); }
    const char *dt = kind == OC_I64 ? "I64" : w->f16 ? "F16" : "F32";
    size_t esz = kind == OC_I64 ? 8 : w->f16 ? 2 : 4;
    uint8_t *buf = calloc(n ? n : 1, esz);
    uint64_t h = nli_fnv1a(name, strlen(name), NL_FNV_INIT);
    double centre = kind == OC_GAIN ? 1.0 : kind == OC_VAR ? 0.75 : kind == OC_LOGIT ? log(100.0) : 0.0;
    double scale = kind == OC_W ? sqrt(3.0 / fan_in) : kind == OC_GAIN ? 0.1 : kind == OC_BIAS ? 0.02
                 : kind == OC_EMB || kind == OC_MEAN ? 0.1 : kind == OC_VAR ? 0.25 : 0.0;
    for (size_t i = 0; kind != OC_I64 && i < n; i++) {
        double u = (double)(oc_splitmix(h + i) >> 11) * (1.0 / 4503599627370496.0) - 1.0; /* [-1, 1) */
        float v = (float)(centre + scale * u);
        if (w->f16) { uint16_t x = nli_f32_to_f16(v); memcpy(buf + 2 * i, &x, 2); }
        else memcpy(buf + 4 * i, &v, 4);
    }
    fwrite(buf, esz, n, w->f);
    free(buf);
    json_object_set_new(w->hdr, name, json_pack("{s:s,s:o,s:[II]}", "dtype", dt, "shape", sh, "data_offsets",
                                                (json_int_t)w->off, (json_int_t)(w->off + esz * n)));
    w->off += esz * n;
}

static void oc_tower(oc_writer *w, const char *pre, int L, int64_t D, int64_t I) {
    char n[200];
#define P(field, kind, fan, nd, a, b) \
    do { snprintf(n, sizeof n, "%stransformer.resblocks.%d.%s", pre, l, field); oc_put(w, n, kind, fan, nd, a, b, 0, 0); } while (0)
    for (int l = 0; l < L; l++) {
        P("ln_1.weight", OC_GAIN, 1, 1, D, 0);
        P("ln_1.bias", OC_BIAS, 1, 1, D, 0);
        P("attn.in_proj_weight", OC_W, (double)D, 2, 3 * D, D);
        P("attn.in_proj_bias", OC_BIAS, 1, 1, 3 * D, 0);
        P("attn.out_proj.weight", OC_W, (double)D, 2, D, D);
        P("attn.out_proj.bias", OC_BIAS, 1, 1, D, 0);
        P("ln_2.weight", OC_GAIN, 1, 1, D, 0);
        P("ln_2.bias", OC_BIAS, 1, 1, D, 0);
        P("mlp.c_fc.weight", OC_W, (double)D, 2, I, D);
        P("mlp.c_fc.bias", OC_BIAS, 1, 1, I, 0);
        P("mlp.c_proj.weight", OC_W, (double)I, 2, D, I);
        P("mlp.c_proj.bias", OC_BIAS, 1, 1, D, 0);
    }
#undef P
}

static void oc_convbn(oc_writer *w, const char *conv, const char *bn, int64_t cin, int64_t cout, int64_t k) {
    char n[200];
    snprintf(n, sizeof n, "%s.weight", conv); oc_put(w, n, OC_W, (double)(cin * k * k), 4, cout, cin, k, k);
    snprintf(n, sizeof n, "%s.weight", bn); oc_put(w, n, OC_GAIN, 1, 1, cout, 0, 0, 0);
    snprintf(n, sizeof n, "%s.bias", bn); oc_put(w, n, OC_BIAS, 1, 1, cout, 0, 0, 0);
    snprintf(n, sizeof n, "%s.running_mean", bn); oc_put(w, n, OC_MEAN, 1, 1, cout, 0, 0, 0);
    snprintf(n, sizeof n, "%s.running_var", bn); oc_put(w, n, OC_VAR, 1, 1, cout, 0, 0, 0);
    snprintf(n, sizeof n, "%s.num_batches_tracked", bn); oc_put(w, n, OC_I64, 1, 0, 0, 0, 0, 0);
}

static void oc_resnet(oc_writer *w, const oc_spec *s) {
    const int64_t wd = s->width, E = wd * 32, g = s->image / 32;
    char a[200], b[200];
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "visual.conv%d", i + 1);
        snprintf(b, sizeof b, "visual.bn%d", i + 1);
        oc_convbn(w, a, b, i == 0 ? 3 : wd / 2, i == 2 ? wd : wd / 2, 3);
    }
    int64_t inplanes = wd;
    for (int st = 0; st < 4; st++) {
        int64_t planes = wd << st;
        for (int j = 0; j < s->layers[st]; j++) {
            int64_t cin[3] = {inplanes, planes, planes}, cout[3] = {planes, planes, planes * 4}, k[3] = {1, 3, 1};
            for (int i = 0; i < 3; i++) {
                snprintf(a, sizeof a, "visual.layer%d.%d.conv%d", st + 1, j, i + 1);
                snprintf(b, sizeof b, "visual.layer%d.%d.bn%d", st + 1, j, i + 1);
                oc_convbn(w, a, b, cin[i], cout[i], k[i]);
            }
            if ((st > 0 && j == 0) || inplanes != planes * 4) {
                snprintf(a, sizeof a, "visual.layer%d.%d.downsample.0", st + 1, j);
                snprintf(b, sizeof b, "visual.layer%d.%d.downsample.1", st + 1, j);
                oc_convbn(w, a, b, inplanes, planes * 4, 1);
            }
            inplanes = planes * 4;
        }
    }
    oc_put(w, "visual.attnpool.positional_embedding", OC_EMB, 1, 2, g * g + 1, E, 0, 0);
    const char *pr[3] = {"k_proj", "q_proj", "v_proj"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "visual.attnpool.%s.weight", pr[i]); oc_put(w, a, OC_W, (double)E, 2, E, E, 0, 0);
        snprintf(a, sizeof a, "visual.attnpool.%s.bias", pr[i]); oc_put(w, a, OC_BIAS, 1, 1, E, 0, 0, 0);
    }
    oc_put(w, "visual.attnpool.c_proj.weight", OC_W, (double)E, 2, s->embed, E, 0, 0);
    oc_put(w, "visual.attnpool.c_proj.bias", OC_BIAS, 1, 1, s->embed, 0, 0, 0);
}

static void oc_vit(oc_writer *w, const oc_spec *s) {
    const int64_t D = s->width, g = s->image / s->patch;
    oc_put(w, "visual.class_embedding", OC_EMB, 1, 1, D, 0, 0, 0);
    oc_put(w, "visual.positional_embedding", OC_EMB, 1, 2, g * g + 1, D, 0, 0);
    oc_put(w, "visual.conv1.weight", OC_W, 3.0 * s->patch * s->patch, 4, D, 3, s->patch, s->patch);
    oc_put(w, "visual.ln_pre.weight", OC_GAIN, 1, 1, D, 0, 0, 0);
    oc_put(w, "visual.ln_pre.bias", OC_BIAS, 1, 1, D, 0, 0, 0);
    oc_tower(w, "visual.", s->layers[0], D, (int64_t)(D * s->vmlp));
    oc_put(w, "visual.ln_post.weight", OC_GAIN, 1, 1, D, 0, 0, 0);
    oc_put(w, "visual.ln_post.bias", OC_BIAS, 1, 1, D, 0, 0, 0);
    oc_put(w, "visual.proj", OC_W, (double)D, 2, D, s->embed, 0, 0);
}

/* Close w (its data written to the file dp) and write the safetensors file
 * mp: w's header, then dp's bytes; dp is removed. Frees w's header. */
static inline int oc_finish(oc_writer *w, const char *dp, const char *mp) {
    fclose(w->f);
    char *h = json_dumps(w->hdr, JSON_COMPACT);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = stb_slurp(dp, &data, &len);
    if (rc == 0) rc = stb_write_raw(mp, h, strlen(h), data, len);
    unlink(dp);
    free(data);
    free(h);
    json_decref(w->hdr);
    return rc;
}

/* Write dir/open_clip_config.json and dir/open_clip_model.safetensors. */
static inline int oc_write(const char *dir, const oc_spec *s, int f16) {
    char *cp = nli_path_join(dir, "open_clip_config.json"), *dp = nli_path_join(dir, "oc-data.bin"),
         *mp = nli_path_join(dir, "open_clip_model.safetensors");
    char cfg[2048];
    if (s->resnet)
        snprintf(cfg, sizeof cfg,
                 "{\"model_cfg\":{\"embed_dim\":%d,\"quick_gelu\":%s,\"vision_cfg\":{\"image_size\":%d,"
                 "\"layers\":[%d,%d,%d,%d],\"width\":%d,\"head_width\":%d,\"patch_size\":null},",
                 s->embed, s->quick_gelu ? "true" : "false", s->image, s->layers[0], s->layers[1], s->layers[2],
                 s->layers[3], s->width, s->head_width);
    else
        snprintf(cfg, sizeof cfg,
                 "{\"model_cfg\":{\"embed_dim\":%d,\"quick_gelu\":%s,\"vision_cfg\":{\"image_size\":%d,"
                 "\"layers\":%d,\"width\":%d,\"head_width\":%d,\"patch_size\":%d,\"mlp_ratio\":%g},",
                 s->embed, s->quick_gelu ? "true" : "false", s->image, s->layers[0], s->width, s->head_width,
                 s->patch, s->vmlp);
    size_t k = strlen(cfg);
    snprintf(cfg + k, sizeof cfg - k,
             "\"text_cfg\":{\"context_length\":%d,\"vocab_size\":49408,\"width\":%d,\"heads\":%d,\"layers\":%d,"
             "\"mlp_ratio\":%g}},\"preprocess_cfg\":%s}\n",
             s->ctx, s->t_width, s->t_heads, s->t_layers, s->tmlp, s->preprocess);
    int rc = stb_spit(cp, cfg, strlen(cfg), NULL, 0);
    oc_writer w = {json_object(), fopen(dp, "wb"), 0, f16};
    if (rc != 0 || !w.f) { free(cp); free(dp); free(mp); json_decref(w.hdr); return -1; }
    const int64_t Dt = s->t_width;
    oc_put(&w, "positional_embedding", OC_EMB, 1, 2, s->ctx, Dt, 0, 0);
    oc_put(&w, "text_projection", OC_W, (double)Dt, 2, Dt, s->embed, 0, 0);
    oc_put(&w, "logit_scale", OC_LOGIT, 1, 0, 0, 0, 0, 0);
    if (s->resnet) oc_resnet(&w, s);
    else oc_vit(&w, s);
    oc_put(&w, "token_embedding.weight", OC_EMB, 1, 2, 49408, Dt, 0, 0);
    oc_tower(&w, "", s->t_layers, Dt, (int64_t)(Dt * s->tmlp));
    oc_put(&w, "ln_final.weight", OC_GAIN, 1, 1, Dt, 0, 0, 0);
    oc_put(&w, "ln_final.bias", OC_BIAS, 1, 1, Dt, 0, 0, 0);
    rc = oc_finish(&w, dp, mp);
    free(cp); free(dp); free(mp);
    return rc;
}
#endif
