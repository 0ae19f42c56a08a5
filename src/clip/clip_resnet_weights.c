/* clip_resnet_weights.c — the ModifiedResNet's tensors in OpenCLIP's state
 * dict (visual.conv1..3 + bn1..3, visual.layerN.M.{conv1..3, bn1..3,
 * downsample.0, downsample.1}, visual.attnpool.*), queued with the shapes
 * the config implies, then BatchNorm folded into the convolutions in
 * inference form: w' = w * gamma / sqrt(var + eps), b' = beta - mean *
 * gamma / sqrt(var + eps), eps = 1e-5 (nn.BatchNorm2d), in double. */
#include "clip_impl.h"
#include "clip_resnet.h"
#include "util.h"
#include "weights_plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-5

int nli_plan_conv_bn(nli_plan *p, nli_conv *cv, const char *conv, const char *bn, int cin, int cout, int k) {
    char n[160];
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    cv->cin = cin;
    cv->cout = cout;
    cv->k = k;
    snprintf(n, sizeof n, "%s.weight", conv);
    if (nli_plan_need(p, &cv->o_w, n, 4, cout, cin, k, k)) return -1;
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "%s.%s", bn, parts[i]);
        if (nli_plan_need(p, i == 0 ? &cv->o_bn : NULL, n, 1, cout, 0, 0, 0)) return -1;
    }
    return 0;
}

int nli_resnet_plan(nli_clip *c, nli_plan *p) {
    const nli_clip_config *cfg = &c->cfg;
    const int w = cfg->rn_width, E = cfg->vision.hidden_size, P = cfg->projection_dim;
    const int g = cfg->vision.image_size / 32;
    nli_resnet *r = c->rn = nli_calloc(1, sizeof *r);
    if (!r) return -1;
    for (int s = 0; s < 4; s++) r->nblk += cfg->rn_layers[s];
    if (!(r->blk = nli_calloc((size_t)r->nblk, sizeof *r->blk))) return -1;
    char a[160], b[160];
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "visual.conv%d", i + 1);
        snprintf(b, sizeof b, "visual.bn%d", i + 1);
        if (nli_plan_conv_bn(p, &r->stem[i], a, b, i == 0 ? 3 : w / 2, i == 2 ? w : w / 2, 3)) return -1;
    }
    int inplanes = w, k = 0;
    for (int s = 0; s < 4; s++) {
        int planes = w << s;
        for (int j = 0; j < cfg->rn_layers[s]; j++, k++) {
            nli_bottleneck *bk = &r->blk[k];
            bk->stride = s > 0 && j == 0 ? 2 : 1;
            const char *cn[3] = {"conv1", "conv2", "conv3"}, *bn[3] = {"bn1", "bn2", "bn3"};
            nli_conv *cv[3] = {&bk->c1, &bk->c2, &bk->c3};
            int cin[3] = {inplanes, planes, planes}, cout[3] = {planes, planes, planes * 4}, ks[3] = {1, 3, 1};
            for (int i = 0; i < 3; i++) {
                snprintf(a, sizeof a, "visual.layer%d.%d.%s", s + 1, j, cn[i]);
                snprintf(b, sizeof b, "visual.layer%d.%d.%s", s + 1, j, bn[i]);
                if (nli_plan_conv_bn(p, cv[i], a, b, cin[i], cout[i], ks[i])) return -1;
            }
            bk->has_down = bk->stride > 1 || inplanes != planes * 4;
            if (bk->has_down) {
                snprintf(a, sizeof a, "visual.layer%d.%d.downsample.0", s + 1, j);
                snprintf(b, sizeof b, "visual.layer%d.%d.downsample.1", s + 1, j);
                if (nli_plan_conv_bn(p, &bk->down, a, b, inplanes, planes * 4, 1)) return -1;
            }
            inplanes = planes * 4;
        }
    }
    /* k and v consecutive (one GEMM over every token), q apart */
    if (nli_plan_need(p, &r->o_pos, "visual.attnpool.positional_embedding", 2, (int64_t)g * g + 1, E, 0, 0) ||
        nli_plan_need(p, &r->o_kv_w, "visual.attnpool.k_proj.weight", 2, E, E, 0, 0) ||
        nli_plan_need(p, NULL, "visual.attnpool.v_proj.weight", 2, E, E, 0, 0) ||
        nli_plan_need(p, &r->o_kv_b, "visual.attnpool.k_proj.bias", 1, E, 0, 0, 0) ||
        nli_plan_need(p, NULL, "visual.attnpool.v_proj.bias", 1, E, 0, 0, 0) ||
        nli_plan_need(p, &r->o_q_w, "visual.attnpool.q_proj.weight", 2, E, E, 0, 0) ||
        nli_plan_need(p, &r->o_q_b, "visual.attnpool.q_proj.bias", 1, E, 0, 0, 0) ||
        nli_plan_need(p, &r->o_c_w, "visual.attnpool.c_proj.weight", 2, P, E, 0, 0) ||
        nli_plan_need(p, &r->o_c_b, "visual.attnpool.c_proj.bias", 1, P, 0, 0, 0))
        return -1;
    return 0;
}

int nli_fold_conv_bn(nli_conv *cv, float *mem, double eps, const char *what) {
    const int K = cv->cin * cv->k * cv->k, kk = cv->k * cv->k;
    float *w = mem + cv->o_w, *gamma = mem + cv->o_bn, *beta = gamma + cv->cout, *mean = beta + cv->cout,
          *var = mean + cv->cout;
    float *row = nli_mallocarray((size_t)K, sizeof(float));
    if (!row) return -1;
    for (int o = 0; o < cv->cout; o++) {
        if (!(var[o] >= 0) || !isfinite(var[o])) {
            nli_seterr("%s: BatchNorm running_var[%d] = %g is not a variance", what, o, var[o]);
            free(row);
            return -1;
        }
        double s = gamma[o] / sqrt((double)var[o] + eps);
        float *wr = w + (size_t)o * K;
        for (int ci = 0; ci < cv->cin; ci++)
            for (int t = 0; t < kk; t++) row[t * cv->cin + ci] = (float)(wr[ci * kk + t] * s);
        memcpy(wr, row, (size_t)K * sizeof(float));
        beta[o] = (float)(beta[o] - mean[o] * s);
    }
    free(row);
    cv->w = w;
    cv->b = beta;
    return 0;
}

int nli_resnet_bind(nli_clip *c, float *mem) {
    nli_resnet *r = c->rn;
    char what[64];
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof what, "visual.bn%d", i + 1);
        if (nli_fold_conv_bn(&r->stem[i], mem, BN_EPS, what)) return -1;
    }
    for (int k = 0; k < r->nblk; k++) {
        nli_bottleneck *bk = &r->blk[k];
        snprintf(what, sizeof what, "ResNet block %d", k);
        if (nli_fold_conv_bn(&bk->c1, mem, BN_EPS, what) || nli_fold_conv_bn(&bk->c2, mem, BN_EPS, what) ||
            nli_fold_conv_bn(&bk->c3, mem, BN_EPS, what) ||
            (bk->has_down && nli_fold_conv_bn(&bk->down, mem, BN_EPS, what)))
            return -1;
    }
    r->pos = mem + r->o_pos;
    r->kv_w = mem + r->o_kv_w;
    r->kv_b = mem + r->o_kv_b;
    r->q_w = mem + r->o_q_w;
    r->q_b = mem + r->o_q_b;
    r->c_w = mem + r->o_c_w;
    r->c_b = mem + r->o_c_b;
    return 0;
}
