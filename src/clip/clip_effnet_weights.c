/* clip_effnet_weights.c — ALIGN's EfficientNet tensors, as transformers'
 * AlignVisionModel names them (vision_model.embeddings.{convolution,
 * batchnorm}, vision_model.encoder.blocks.i.{expansion.expand_conv,
 * expansion.expand_bn, depthwise_conv.depthwise_conv,
 * depthwise_conv.depthwise_norm, squeeze_excite.reduce,
 * squeeze_excite.expand, projection.project_conv, projection.project_bn}),
 * with the shapes the config implies; after conversion the BatchNorms are
 * folded into the convolutions with the config's batch_norm_eps. The
 * blocks are built as transformers' AlignVisionEncoder builds them. */
#include "clip_effnet.h"
#include "clip_impl.h"
#include "neglabel.h"
#include "util.h"
#include "weights_plan.h"

#define NLI_EN_MAX_ACT (128 << 20) /* floats of one feature map of one image */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nli_effnet_plan(nli_clip *c, nli_plan *p) {
    const nli_effnet_config *e = &c->cfg.en;
    nli_effnet *en = c->en = nli_calloc(1, sizeof *en);
    if (!en) return -1;
    en->nblk = c->cfg.vision.num_hidden_layers;
    if (!(en->blk = nli_calloc((size_t)en->nblk, sizeof *en->blk))) return -1;
    if (nli_plan_conv_bn(p, &en->stem, "vision_model.embeddings.convolution", "vision_model.embeddings.batchnorm", 3,
                         e->stem, 3))
        return -1;
    /* activations of one image: the stem's output, then per block its
     * input, expanded and output maps (the largest of each kind) */
    int side = nli_effnet_side(e, -1, 3, 2, c->cfg.vision.image_size);
    en->stem_side = side;
    size_t most = (size_t)side * side * (size_t)(e->stem > 27 ? e->stem : 27); /* the stem's im2col: 27 columns */
    char a[160], b[160];
    for (int i = 0, k = 0; i < e->stages; i++) {
        int reps = (int)ceil(e->depth_coefficient * e->repeats[i]);
        for (int j = 0; j < reps; j++, k++) {
            nli_mbconv *m = &en->blk[k];
            m->cin = j ? (int)nli_effnet_filters(e, e->cout[i]) : (int)nli_effnet_filters(e, e->cin[i]);
            m->cout = (int)nli_effnet_filters(e, e->cout[i]);
            m->stride = j ? 1 : e->stride[i];
            m->k = e->kernel[i];
            m->expand = e->expand[i] != 1;
            m->mid = m->cin * e->expand[i];
            m->se = (int)(m->cin * e->se_ratio);
            if (m->se < 1) m->se = 1;
            m->residual = m->stride == 1 && j > 0;
            /* stride 2: ZeroPad2d(correct_pad) then no padding; stride 1:
             * PyTorch's "same" (the odd one of an even total at the end) */
            m->pad_t = m->stride == 2 ? (e->no_adjust[k] ? m->k / 2 : m->k / 2 - 1) : (m->k - 1) / 2;
            snprintf(a, sizeof a, "vision_model.encoder.blocks.%d.", k);
            size_t L = strlen(a);
            if (m->expand) {
                snprintf(a + L, sizeof a - L, "expansion.expand_conv");
                snprintf(b, sizeof b, "vision_model.encoder.blocks.%d.expansion.expand_bn", k);
                if (nli_plan_conv_bn(p, &m->ex, a, b, m->cin, m->mid, 1)) return -1;
            }
            snprintf(a + L, sizeof a - L, "depthwise_conv.depthwise_conv");
            snprintf(b, sizeof b, "vision_model.encoder.blocks.%d.depthwise_conv.depthwise_norm", k);
            if (nli_plan_conv_bn(p, &m->dw, a, b, 1, m->mid, m->k)) return -1;
            snprintf(a + L, sizeof a - L, "squeeze_excite.reduce.weight");
            if (nli_plan_need(p, &m->o_rw, a, 4, m->se, m->mid, 1, 1)) return -1;
            snprintf(a + L, sizeof a - L, "squeeze_excite.reduce.bias");
            if (nli_plan_need(p, &m->o_rb, a, 1, m->se, 0, 0, 0)) return -1;
            snprintf(a + L, sizeof a - L, "squeeze_excite.expand.weight");
            if (nli_plan_need(p, &m->o_ew, a, 4, m->mid, m->se, 1, 1)) return -1;
            snprintf(a + L, sizeof a - L, "squeeze_excite.expand.bias");
            if (nli_plan_need(p, &m->o_eb, a, 1, m->mid, 0, 0, 0)) return -1;
            snprintf(a + L, sizeof a - L, "projection.project_conv");
            snprintf(b, sizeof b, "vision_model.encoder.blocks.%d.projection.project_bn", k);
            if (nli_plan_conv_bn(p, &m->proj, a, b, m->mid, m->cout, 1)) return -1;
            size_t in = (size_t)side * side;
            side = m->side = nli_effnet_side(e, k, m->k, m->stride, side);
            size_t sz[3] = {in * m->mid, (size_t)side * side * m->mid, (size_t)side * side * m->cout};
            for (int t = 0; t < 3; t++)
                if (sz[t] > most) most = sz[t];
        }
    }
    /* a config may ask for large images over small weights: what one
     * image's activations take is bounded (EfficientNet-B7 at 600 pixels,
     * the largest released, needs 17 Mi floats a map) */
    if (most > NLI_EN_MAX_ACT) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%d-pixel images: a feature map of this EfficientNet would hold %zu Mi "
                        "floats (at most %d Mi): the image size is too large for it", c->cfg.vision.image_size,
                        most >> 20, NLI_EN_MAX_ACT >> 20);
        return -1;
    }
    en->max_act = most;
    return 0;
}

int nli_effnet_bind(nli_clip *c, float *mem) {
    nli_effnet *en = c->en;
    const double eps = c->cfg.en.bn_eps;
    if (nli_fold_conv_bn(&en->stem, mem, eps, "vision_model.embeddings.batchnorm")) return -1;
    char what[64];
    for (int k = 0; k < en->nblk; k++) {
        nli_mbconv *m = &en->blk[k];
        snprintf(what, sizeof what, "EfficientNet block %d", k);
        if ((m->expand && nli_fold_conv_bn(&m->ex, mem, eps, what)) || nli_fold_conv_bn(&m->dw, mem, eps, what) ||
            nli_fold_conv_bn(&m->proj, mem, eps, what))
            return -1;
        /* the depthwise weight [channel][ky][kx] -> [ky][kx][channel] */
        const size_t kk = (size_t)m->k * m->k, C = (size_t)m->mid;
        float *w = (float *)m->dw.w, *t = nli_mallocarray(kk * C, sizeof(float));
        if (!t) return -1;
        for (size_t ch = 0; ch < C; ch++)
            for (size_t q = 0; q < kk; q++) t[q * C + ch] = w[ch * kk + q];
        memcpy(w, t, kk * C * sizeof(float));
        free(t);
        m->r_w = mem + m->o_rw, m->r_b = mem + m->o_rb, m->e_w = mem + m->o_ew, m->e_b = mem + m->o_eb;
    }
    return 0;
}

void nli_effnet_free(nli_effnet *e) {
    if (!e) return;
    free(e->blk);
    free(e);
}
