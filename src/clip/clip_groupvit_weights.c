/* clip_groupvit_weights.c — GroupViT's tensors in transformers' names
 * (vision_model.embeddings.*, vision_model.encoder.stages.S.{group_token,
 * layers.L, downsample, group_projector}, vision_model.layernorm,
 * visual_projection.{0,1,3}, text_projection.{0,1,3}), queued with the
 * shapes the config implies; after conversion the pointers are bound and
 * each projection's BatchNorm1d (inference form, eps 1e-5) folded into the
 * Linear before it, in double: w' = w * g / sqrt(var + eps),
 * b' = (b - mean) * g / sqrt(var + eps) + beta. */
#include "clip_groupvit.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define BN_EPS 1e-5

/* Queue one tensor (up to 4 dims); dst (when given) is bound to it later. */
static int want_dims(nli_groupvit *g, nli_plan *p, const float **dst, const char *name, int nd, int64_t d0,
                     int64_t d1, int64_t d2, int64_t d3) {
    size_t off;
    if (nli_plan_need(p, dst ? &off : NULL, name, nd, d0, d1, d2, d3)) return -1;
    if (!dst) return 0;
    if (nli_grow((void **)&g->binds, &g->capbind, g->nbind + 1, sizeof *g->binds)) return -1;
    g->binds[g->nbind++] = (nli_gv_bind){dst, off};
    return 0;
}

/* The same for a tensor of up to 3 dims named by fmt. */
static int want(nli_groupvit *g, nli_plan *p, const float **dst, int nd, int64_t d0, int64_t d1, int64_t d2,
                const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static int want(nli_groupvit *g, nli_plan *p, const float **dst, int nd, int64_t d0, int64_t d1, int64_t d2,
                const char *fmt, ...) {
    char n[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n, sizeof n, fmt, ap);
    va_end(ap);
    return want_dims(g, p, dst, n, nd, d0, d1, d2, 0);
}

static int want_ln(nli_groupvit *g, nli_plan *p, nli_gv_ln *ln, int D, const char *pre, const char *name) {
    return want(g, p, &ln->w, 1, D, 0, 0, "%s.%s.weight", pre, name) ||
           want(g, p, &ln->b, 1, D, 0, 0, "%s.%s.bias", pre, name);
}

static int want_mlp(nli_groupvit *g, nli_plan *p, nli_gv_mlp *m, int in, int hid, int out, const char *pre,
                    const char *fc1, const char *fc2) {
    m->in = in, m->hid = hid, m->out = out;
    return want(g, p, &m->fc1_w, 2, hid, in, 0, "%s.%s.weight", pre, fc1) ||
           want(g, p, &m->fc1_b, 1, hid, 0, 0, "%s.%s.bias", pre, fc1) ||
           want(g, p, &m->fc2_w, 2, out, hid, 0, "%s.%s.weight", pre, fc2) ||
           want(g, p, &m->fc2_b, 1, out, 0, 0, "%s.%s.bias", pre, fc2);
}

/* q separate; k and v fused ([2D, D] and [2D]); the output projection. */
static int want_attn(nli_groupvit *g, nli_plan *p, const float **q_w, const float **q_b, const float **kv_w,
                     const float **kv_b, const float **o_w, const float **o_b, int D, const char *pre,
                     const char *out) {
    return want(g, p, q_w, 2, D, D, 0, "%s.q_proj.weight", pre) || want(g, p, q_b, 1, D, 0, 0, "%s.q_proj.bias", pre) ||
           want(g, p, kv_w, 2, D, D, 0, "%s.k_proj.weight", pre) || want(g, p, NULL, 2, D, D, 0, "%s.v_proj.weight", pre) ||
           want(g, p, kv_b, 1, D, 0, 0, "%s.k_proj.bias", pre) || want(g, p, NULL, 1, D, 0, 0, "%s.v_proj.bias", pre) ||
           want(g, p, o_w, 2, D, D, 0, "%s.%s.weight", pre, out) || want(g, p, o_b, 1, D, 0, 0, "%s.%s.bias", pre, out);
}

/* Linear -> BatchNorm1d -> ReLU -> Linear (modules 0, 1, 3). */
static int want_projection(nli_groupvit *g, nli_plan *p, nli_gv_mlp *m, size_t *o_bn, int in, int hid, int out,
                           const char *pre) {
    static const char *const bn[4] = {"weight", "bias", "running_mean", "running_var"};
    m->in = in, m->hid = hid, m->out = out;
    if (want(g, p, &m->fc1_w, 2, hid, in, 0, "%s.0.weight", pre) || want(g, p, &m->fc1_b, 1, hid, 0, 0, "%s.0.bias", pre))
        return -1;
    for (int i = 0; i < 4; i++) {
        char n[160];
        snprintf(n, sizeof n, "%s.1.%s", pre, bn[i]);
        if (nli_plan_need(p, i == 0 ? o_bn : NULL, n, 1, hid, 0, 0, 0)) return -1;
    }
    return want(g, p, &m->fc2_w, 2, out, hid, 0, "%s.3.weight", pre) ||
           want(g, p, &m->fc2_b, 1, out, 0, 0, "%s.3.bias", pre);
}

static int plan_stage(nli_groupvit *g, nli_plan *p, const nli_clip_config *cfg, int s) {
    const nli_tower_config *vc = &cfg->vision;
    const int D = vc->hidden_size, I = vc->intermediate_size;
    nli_gv_stage *st = &g->st[s];
    char pre[96], ds[128];
    snprintf(pre, sizeof pre, "vision_model.encoder.stages.%d", s);
    snprintf(ds, sizeof ds, "%s.downsample", pre);
    st->depth = cfg->gv_depths[s];
    st->groups = cfg->gv_groups[s];
    st->out_groups = cfg->gv_out_groups[s];
    st->blk = nli_calloc((size_t)st->depth, sizeof *st->blk);
    st->bo = nli_calloc((size_t)st->depth, sizeof *st->bo);
    if (!st->blk || !st->bo) return -1;
    if (st->groups > 0 && want(g, p, &st->group_token, 3, 1, st->groups, D, "%s.group_token", pre)) return -1;
    char layers[140];
    snprintf(layers, sizeof layers, "%s.layers", pre);
    for (int l = 0; l < st->depth; l++)
        if (nli_plan_block(p, 0, layers, l, vc, &st->bo[l])) return -1;
    if (st->groups > 0) {
        nli_gv_assign *a = &st->as;
        st->has_assign = 1;
        char x[160];
        snprintf(x, sizeof x, "%s.pre_assign_attn", ds);
        char xa[176], as[160];
        snprintf(xa, sizeof xa, "%s.attn", x);
        snprintf(as, sizeof as, "%s.assign", ds);
        if (want_ln(g, p, &a->norm_tokens, D, ds, "norm_tokens") ||
            want_mlp(g, p, &a->mlp_inter, st->groups, cfg->gv_tokens_dim, st->out_groups, ds, "mlp_inter.fc1",
                     "mlp_inter.fc2") ||
            want_ln(g, p, &a->norm_post_tokens, D, ds, "norm_post_tokens") || want_ln(g, p, &a->norm_x, D, ds, "norm_x") ||
            want_attn(g, p, &a->x_q_w, &a->x_q_b, &a->x_kv_w, &a->x_kv_b, &a->x_o_w, &a->x_o_b, D, xa, "out_proj") ||
            want_ln(g, p, &a->x_norm2, D, x, "norm2") || want_mlp(g, p, &a->x_mlp, D, I, D, x, "mlp.fc1", "mlp.fc2") ||
            want_ln(g, p, &a->x_norm_post, D, x, "norm_post") ||
            want_attn(g, p, &a->a_q_w, &a->a_q_b, &a->a_kv_w, &a->a_kv_b, &a->a_o_w, &a->a_o_b, D, as, "proj") ||
            want_ln(g, p, &a->norm_new_x, D, ds, "norm_new_x") ||
            want_mlp(g, p, &a->mlp_channels, D, cfg->gv_channels_dim, D, ds, "mlp_channels.fc1", "mlp_channels.fc2"))
            return -1;
    }
    /* as transformers builds it: from the previous stage's output groups */
    int prev = s > 0 ? cfg->gv_out_groups[s - 1] : 0;
    if (prev > 0 && st->groups > 0) {
        st->has_projector = 1;
        if (want(g, p, &st->proj_ln.w, 1, D, 0, 0, "%s.group_projector.0.weight", pre) ||
            want(g, p, &st->proj_ln.b, 1, D, 0, 0, "%s.group_projector.0.bias", pre) ||
            want_mlp(g, p, &st->proj_mix, prev, D / 2, st->groups, pre, "group_projector.1.fc1", "group_projector.1.fc2"))
            return -1;
    }
    return 0;
}

int nli_groupvit_plan(nli_clip *c, nli_plan *p) {
    const nli_clip_config *cfg = &c->cfg;
    const nli_tower_config *vc = &cfg->vision;
    const int D = vc->hidden_size, ps = vc->patch_size, grid = vc->image_size / vc->patch_size;
    nli_groupvit *g = c->gv = nli_calloc(1, sizeof *g);
    if (!g) return -1;
    g->nst = cfg->gv_stages;
    if (want_dims(g, p, &g->patch_w, "vision_model.embeddings.patch_embeddings.projection.weight", 4, D,
                  vc->num_channels, ps, ps) ||
        want(g, p, &g->patch_b, 1, D, 0, 0, "vision_model.embeddings.patch_embeddings.projection.bias") ||
        want(g, p, &g->pos, 3, 1, (int64_t)grid * grid, D, "vision_model.embeddings.position_embeddings") ||
        want(g, p, &g->emb_ln_w, 1, D, 0, 0, "vision_model.embeddings.layernorm.weight") ||
        want(g, p, &g->emb_ln_b, 1, D, 0, 0, "vision_model.embeddings.layernorm.bias"))
        return -1;
    for (int s = 0; s < g->nst; s++)
        if (plan_stage(g, p, cfg, s)) return -1;
    return want(g, p, &g->final_ln_w, 1, D, 0, 0, "vision_model.layernorm.weight") ||
           want(g, p, &g->final_ln_b, 1, D, 0, 0, "vision_model.layernorm.bias") ||
           want_projection(g, p, &g->vproj, &g->o_vbn, D, cfg->proj_intermediate, cfg->projection_dim,
                           "visual_projection") ||
           want_projection(g, p, &g->tproj, &g->o_tbn, cfg->text.hidden_size, cfg->proj_intermediate,
                           cfg->projection_dim, "text_projection");
}

static void fold_bn(nli_gv_mlp *m, const float *bn) {
    const int H = m->hid;
    const float *gamma = bn, *beta = bn + H, *mean = bn + 2 * H, *var = bn + 3 * H;
    float *w = (float *)m->fc1_w, *b = (float *)m->fc1_b; /* in the model's own writable weights */
    for (int i = 0; i < H; i++) {
        double s = (double)gamma[i] / sqrt((double)var[i] + BN_EPS);
        for (int k = 0; k < m->in; k++) w[(size_t)i * m->in + k] = (float)(w[(size_t)i * m->in + k] * s);
        b[i] = (float)(((double)b[i] - mean[i]) * s + beta[i]);
    }
}

int nli_groupvit_bind(nli_clip *c, float *mem) {
    nli_groupvit *g = c->gv;
    for (size_t i = 0; i < g->nbind; i++) *g->binds[i].dst = mem + g->binds[i].off;
    for (int s = 0; s < g->nst; s++)
        for (int l = 0; l < g->st[s].depth; l++) nli_block_bind(&g->st[s].blk[l], mem, &g->st[s].bo[l]);
    fold_bn(&g->vproj, mem + g->o_vbn);
    fold_bn(&g->tproj, mem + g->o_tbn);
    return 0;
}

void nli_groupvit_free(nli_groupvit *g) {
    if (!g) return;
    for (int s = 0; s < NLI_GV_MAX_STAGES; s++) {
        free(g->st[s].blk);
        free(g->st[s].bo);
    }
    free(g->binds);
    free(g);
}
