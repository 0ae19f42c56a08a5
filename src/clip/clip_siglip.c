/* clip_siglip.c — what SigLIP (transformers' SiglipModel) adds to CLIP's
 * ViT and text tower: its tensors, and the attention-pooling head (MAP,
 * SiglipMultiheadAttentionPoolingHead) that turns a image's tokens into its
 * embedding. The rest of SigLIP runs in clip_vision.c (no class token, no
 * pre-LayerNorm, a patch bias) and clip_text.c (bidirectional, padded to
 * the context, pooled at the last position, head with bias). */
#include "clip_impl.h"
#include "gemm.h"
#include "util.h"
#include "weights_plan.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

int nli_siglip_plan(nli_clip *c, nli_plan *p) {
    const int64_t D = c->cfg.vision.hidden_size, I = c->cfg.vision.intermediate_size, P = c->cfg.projection_dim;
    static const char *const names[NLI_SIGLIP_TENSORS] = {
        "vision_model.embeddings.patch_embedding.bias", "text_model.head.bias", "vision_model.head.probe",
        "vision_model.head.attention.in_proj_weight", "vision_model.head.attention.in_proj_bias",
        "vision_model.head.attention.out_proj.weight", "vision_model.head.attention.out_proj.bias",
        "vision_model.head.layernorm.weight", "vision_model.head.layernorm.bias", "vision_model.head.mlp.fc1.weight",
        "vision_model.head.mlp.fc1.bias", "vision_model.head.mlp.fc2.weight", "vision_model.head.mlp.fc2.bias"};
    /* ndim, then the dims (the probe is [1, 1, D]) */
    const int64_t shape[NLI_SIGLIP_TENSORS][4] = {{1, D}, {1, P}, {3, 1, 1, D}, {2, 3 * D, D}, {1, 3 * D}, {2, D, D},
                                                  {1, D}, {1, D}, {1, D}, {2, I, D}, {1, I}, {2, D, I}, {1, D}};
    for (int i = 0; i < NLI_SIGLIP_TENSORS; i++)
        if (nli_plan_need(p, &c->sg_off[i], names[i], (int)shape[i][0], shape[i][1], shape[i][2], shape[i][3], 0))
            return -1;
    return 0;
}

void nli_siglip_bind(nli_clip *c, const float *mem) {
    const float **f[NLI_SIGLIP_TENSORS] = {&c->sg.patch_b, &c->sg.tproj_b, &c->sg.probe, &c->sg.in_w, &c->sg.in_b,
                                           &c->sg.out_w,   &c->sg.out_b,   &c->sg.ln_w,  &c->sg.ln_b, &c->sg.fc1_w,
                                           &c->sg.fc1_b,   &c->sg.fc2_w,   &c->sg.fc2_b};
    for (int i = 0; i < NLI_SIGLIP_TENSORS; i++) *f[i] = mem + c->sg_off[i];
}

int nli_siglip_pool(const nli_clip *c, const float *x, size_t nb, int T, float *out) {
    const nli_tower_config *vc = &c->cfg.vision;
    const int D = vc->hidden_size, I = vc->intermediate_size, H = vc->num_attention_heads, nt = c->n_threads;
    const nli_siglip *g = &c->sg;
    const size_t rows = nb * (size_t)T;
    float *kv = nli_mallocarray(rows, 2 * (size_t)D * sizeof(float)), *q = nli_mallocarray((size_t)D, sizeof(float));
    float *o = nli_mallocarray(nb, (size_t)D * sizeof(float)), *ln = nli_mallocarray(nb, (size_t)D * sizeof(float));
    float *mlp = nli_mallocarray(nb, (size_t)I * sizeof(float));
    float *s = nli_mallocarray((size_t)nt, (size_t)T * sizeof(float));
    int rc = -1;
    if (!kv || !q || !o || !ln || !mlp || !s) { nli_prefixerr("SigLIP's attention-pooling head"); goto done; }
    /* the query is the probe's, the same for every image; keys and values
     * are in_proj's last two thirds over every token */
    nli_gemm(g->probe, g->in_w, g->in_b, q, 1, (size_t)D, (size_t)D);
    nli_gemm(x, g->in_w + (size_t)D * D, g->in_b + D, kv, rows, 2 * (size_t)D, (size_t)D);
    const int hd = D / H;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t job = 0; job < nb * (size_t)H; job++) {
        size_t b = job / H;
        int h = (int)(job % H);
        nli_attend_query(q + h * hd, kv + b * T * 2 * (size_t)D, T, D, h * hd, hd, s + (size_t)omp_get_thread_num() * T,
                         o + b * D + h * hd);
    }
    /* out = res + fc2(act(fc1(layernorm(res)))), res = out_proj(o) */
    nli_gemm(o, g->out_w, g->out_b, out, nb, (size_t)D, (size_t)D);
    nli_layernorm(out, g->ln_w, g->ln_b, ln, nb, D, vc->layer_norm_eps);
    nli_gemm(ln, g->fc1_w, g->fc1_b, mlp, nb, (size_t)I, (size_t)D);
    nli_activate(vc, mlp, nb * (size_t)I, nt);
    nli_gemm(mlp, g->fc2_w, g->fc2_b, ln, nb, (size_t)D, (size_t)I);
    for (size_t i = 0; i < nb * (size_t)D; i++) out[i] += ln[i];
    rc = 0;
done:
    free(kv);
    free(q);
    free(o);
    free(ln);
    free(mlp);
    free(s);
    return rc;
}
