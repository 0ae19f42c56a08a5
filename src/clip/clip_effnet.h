/* clip_effnet.h — ALIGN's vision tower (transformers' AlignVisionModel, an
 * EfficientNet): weights (clip_effnet_weights.c) and the forward pass
 * (clip_effnet.c). Private to the engine. */
#ifndef NEGLABEL_CLIP_EFFNET_H
#define NEGLABEL_CLIP_EFFNET_H
#include <stddef.h>
#include "clip.h"
#include "clip_resnet.h"

/* One MBConv block: [expand 1x1 + BN + swish] -> depthwise kxk (stride) +
 * BN + swish -> squeeze-excite (mean, reduce + swish, expand + sigmoid,
 * scale) -> project 1x1 + BN [+ the block's input when residual]. The
 * convolutions' BatchNorms are folded (nli_conv); the depthwise weight is
 * kept as [ky][kx][channel] (dw.w), its folded bias dw.b. */
typedef struct {
    int cin, cout, mid, se, k, stride, pad_t; /* mid: the expanded width; pad_t: top/left padding */
    int side;                                 /* of its output map (config_align.c checked it is >= 1) */
    int expand, residual;
    nli_conv ex, dw, proj;
    size_t o_rw, o_rb, o_ew, o_eb; /* squeeze-excite reduce / expand weight and bias */
    const float *r_w, *r_b, *e_w, *e_b;
} nli_mbconv;

struct nli_effnet {
    nli_conv stem; /* 3x3 stride 2, zero padding right and bottom */
    nli_mbconv *blk;
    int nblk, stem_side; /* stem_side: of the stem's output map */
    size_t max_act; /* floats of the largest activation of one image */
};
typedef struct nli_effnet nli_effnet;

void nli_effnet_free(nli_effnet *e);
/* n images (CHW float32, normalised) -> n x projection_dim (the pooled
 * last feature map: ALIGN's image embedding has no projection). */
int nli_effnet_encode_images(nli_clip *c, const float *pixels, size_t n, float *out);
#endif
