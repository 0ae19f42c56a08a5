/* test_groupvit.c — GroupViT at the vision shapes of
 * nvidia/groupvit-gcc-yfcc (width 384, stages of 6, 3 and 3 blocks with 64,
 * 8 and 0 group tokens, 224-pixel input; projections through 4096), with
 * deterministic weights written at test time (openclip_ckpt.h's values, in
 * transformers' names): the image embeddings are the same bits whatever
 * the thread count and whether an image comes alone or in a batch, as for
 * every tower of the engine (the grouping's products used to be single
 * OpenBLAS calls split over the threads: 2e-7 apart between 1 and 2
 * threads at these shapes); bf16 and a GPU are refused by name.
 * Exactness against transformers is cli_groupvit.sh's (small model). */
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "clip.h"
#include "openclip_ckpt.h"
#include "prng.h"
#include "util.h"

enum { D = 384, I = 1536, HEADS = 6, IMG = 224, PATCH = 16, DT = 32, PI = 4096, P = 256 };
static const int depths[3] = {6, 3, 3}, groups[3] = {64, 8, 0}, outg[3] = {64, 8, 8};

static void ln(oc_writer *w, const char *pre, const char *name, int64_t n) {
    char s[200];
    snprintf(s, sizeof s, "%s.%s.weight", pre, name);
    oc_put(w, s, OC_GAIN, 1, 1, n, 0, 0, 0);
    snprintf(s, sizeof s, "%s.%s.bias", pre, name);
    oc_put(w, s, OC_BIAS, 1, 1, n, 0, 0, 0);
}

static void linear(oc_writer *w, const char *pre, const char *name, int64_t out, int64_t in) {
    char s[200];
    snprintf(s, sizeof s, "%s.%s.weight", pre, name);
    oc_put(w, s, OC_W, (double)in, 2, out, in, 0, 0);
    snprintf(s, sizeof s, "%s.%s.bias", pre, name);
    oc_put(w, s, OC_BIAS, 1, 1, out, 0, 0, 0);
}

static void attn(oc_writer *w, const char *pre, const char *out) {
    linear(w, pre, "q_proj", D, D);
    linear(w, pre, "k_proj", D, D);
    linear(w, pre, "v_proj", D, D);
    linear(w, pre, out, D, D);
}

static void layers(oc_writer *w, const char *pre, int n, int64_t d, int64_t inter) {
    char s[200];
    for (int l = 0; l < n; l++) {
        snprintf(s, sizeof s, "%s.layers.%d", pre, l);
        ln(w, s, "layer_norm1", d);
        char a[220];
        snprintf(a, sizeof a, "%s.self_attn", s);
        const char *pr[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
        for (int k = 0; k < 4; k++) linear(w, a, pr[k], d, d);
        ln(w, s, "layer_norm2", d);
        linear(w, s, "mlp.fc1", inter, d);
        linear(w, s, "mlp.fc2", d, inter);
    }
}

/* Linear -> BatchNorm1d (random statistics) -> ReLU -> Linear. */
static void projection_bn(oc_writer *w, const char *pre, int64_t in) {
    char s[200];
    linear(w, pre, "0", PI, in);
    snprintf(s, sizeof s, "%s.1.weight", pre), oc_put(w, s, OC_GAIN, 1, 1, PI, 0, 0, 0);
    snprintf(s, sizeof s, "%s.1.bias", pre), oc_put(w, s, OC_BIAS, 1, 1, PI, 0, 0, 0);
    snprintf(s, sizeof s, "%s.1.running_mean", pre), oc_put(w, s, OC_MEAN, 1, 1, PI, 0, 0, 0);
    snprintf(s, sizeof s, "%s.1.running_var", pre), oc_put(w, s, OC_VAR, 1, 1, PI, 0, 0, 0);
    snprintf(s, sizeof s, "%s.1.num_batches_tracked", pre), oc_put(w, s, OC_I64, 1, 0, 0, 0, 0, 0);
    linear(w, pre, "3", P, PI);
}

static int write_model(const char *dir) {
    char *cp = nli_path_join(dir, "config.json"), *dp = nli_path_join(dir, "gv-data.bin"),
         *mp = nli_path_join(dir, "model.safetensors");
    const char *cfg =
        "{\"model_type\":\"groupvit\",\"projection_dim\":256,\"projection_intermediate_dim\":4096,"
        "\"text_config\":{\"hidden_size\":32,\"intermediate_size\":64,\"num_hidden_layers\":1,"
        "\"num_attention_heads\":2},\"vision_config\":{}}\n"; /* the vision defaults are nvidia's shapes */
    int rc = stb_spit(cp, cfg, strlen(cfg), NULL, 0);
    oc_writer w = {json_object(), fopen(dp, "wb"), 0, 1};
    if (rc != 0 || !w.f) return -1;
    const char *e = "vision_model.embeddings";
    oc_put(&w, "vision_model.embeddings.patch_embeddings.projection.weight", OC_W, 3.0 * PATCH * PATCH, 4, D, 3, PATCH,
           PATCH);
    oc_put(&w, "vision_model.embeddings.patch_embeddings.projection.bias", OC_BIAS, 1, 1, D, 0, 0, 0);
    oc_put(&w, "vision_model.embeddings.position_embeddings", OC_EMB, 1, 3, 1, (IMG / PATCH) * (IMG / PATCH), D, 0);
    ln(&w, e, "layernorm", D);
    for (int s = 0; s < 3; s++) {
        char pre[96], ds[128], x[160];
        snprintf(pre, sizeof pre, "vision_model.encoder.stages.%d", s);
        snprintf(ds, sizeof ds, "%s.downsample", pre);
        if (groups[s]) {
            char n[160];
            snprintf(n, sizeof n, "%s.group_token", pre);
            /* group tokens far apart: the assignments win clearly */
            oc_put(&w, n, OC_GAIN, 1, 3, 1, groups[s], D, 0);
        }
        layers(&w, pre, depths[s], D, I);
        if (!groups[s]) continue;
        ln(&w, ds, "norm_tokens", D);
        linear(&w, ds, "mlp_inter.fc1", D / 2, groups[s]);
        linear(&w, ds, "mlp_inter.fc2", outg[s], D / 2);
        ln(&w, ds, "norm_post_tokens", D);
        ln(&w, ds, "norm_x", D);
        snprintf(x, sizeof x, "%s.pre_assign_attn.attn", ds);
        attn(&w, x, "out_proj");
        snprintf(x, sizeof x, "%s.pre_assign_attn", ds);
        ln(&w, x, "norm2", D);
        linear(&w, x, "mlp.fc1", I, D);
        linear(&w, x, "mlp.fc2", D, I);
        ln(&w, x, "norm_post", D);
        snprintf(x, sizeof x, "%s.assign", ds);
        attn(&w, x, "proj");
        ln(&w, ds, "norm_new_x", D);
        linear(&w, ds, "mlp_channels.fc1", 4 * D, D);
        linear(&w, ds, "mlp_channels.fc2", D, 4 * D);
        if (s > 0) {
            ln(&w, pre, "group_projector.0", D);
            linear(&w, pre, "group_projector.1.fc1", D / 2, outg[s - 1]);
            linear(&w, pre, "group_projector.1.fc2", groups[s], D / 2);
        }
    }
    ln(&w, "vision_model", "layernorm", D);
    projection_bn(&w, "visual_projection", D);
    oc_put(&w, "text_model.embeddings.token_embedding.weight", OC_EMB, 1, 2, 49408, DT, 0, 0);
    oc_put(&w, "text_model.embeddings.position_embedding.weight", OC_EMB, 1, 2, 77, DT, 0, 0);
    layers(&w, "text_model.encoder", 1, DT, 64);
    ln(&w, "text_model", "final_layer_norm", DT);
    projection_bn(&w, "text_projection", DT);
    oc_put(&w, "logit_scale", OC_LOGIT, 1, 0, 0, 0, 0, 0);
    rc = oc_finish(&w, dp, mp);
    free(cp), free(dp), free(mp);
    return rc;
}

int main(void) {
    char tmp[] = "/tmp/neglabel-groupvit-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    CHECK(write_model(tmp) == 0, "write the model");
    enum { N = 3 };
    const size_t px = 3 * (size_t)IMG * IMG;
    float *pixels = malloc(N * px * sizeof(float)), *want = malloc(N * P * sizeof(float)),
          *got = malloc(N * P * sizeof(float));
    nli_prng r;
    nli_prng_seed(&r, 7);
    for (size_t i = 0; i < N * px; i++) pixels[i] = (float)((double)(nli_prng_next(&r) >> 11) / 9007199254740992.0 * 4 - 2);
    nli_clip *c = nli_clip_load(tmp, 1);
    CHECK(c != NULL, "load: %s", nli_geterr());
    if (c) {
        const nli_clip_config *cfg = nli_clip_get_config(c);
        CHECK(cfg->arch == NLI_ARCH_GROUPVIT && cfg->gv_stages == 3 && cfg->gv_groups[0] == 64 &&
                  cfg->gv_tokens_dim == 192 && cfg->gv_channels_dim == 1536 && cfg->vision.num_hidden_layers == 12,
              "GroupViT's vision defaults: arch %d, %d stages", cfg->arch, cfg->gv_stages);
        CHECK(nli_clip_encode_images(c, pixels, N, want) == 0, "encode: %s", nli_geterr());
        int finite = 1;
        for (size_t i = 0; i < N * P; i++) finite &= isfinite(want[i]) && fabsf(want[i]) < 1e4f;
        CHECK(finite, "finite embeddings");
        CHECK(nli_clip_use_bf16(c, 1) != 0 && strstr(nli_geterr(), "GroupViT"), "bf16 refused: %s", nli_geterr());
        CHECK(nli_clip_use_device(c, 0, 1, 0) != 0 && strstr(nli_geterr(), "GroupViT runs on the CPU only"),
              "a GPU refused: %s", nli_geterr());
    }
    nli_clip_free(c);
    for (int t = 2; t <= 3; t++) {
        c = nli_clip_load(tmp, t);
        CHECK(c != NULL, "load: %s", nli_geterr());
        if (!c) continue;
        CHECK(nli_clip_encode_images(c, pixels, N, got) == 0, "encode");
        CHECK(memcmp(got, want, N * P * sizeof(float)) == 0, "%d threads: the bits of 1 thread", t);
        for (int i = 0; i < N; i++) {
            CHECK(nli_clip_encode_images(c, pixels + i * px, 1, got) == 0, "encode one");
            CHECK(memcmp(got, want + i * P, P * sizeof(float)) == 0, "%d threads: image %d alone = in the batch", t, i);
        }
        nli_clip_free(c);
    }
    free(pixels), free(want), free(got);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) {}
    return check_done();
}
