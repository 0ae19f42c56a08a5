/* clip_resnet.h — CLIP's ModifiedResNet vision tower (RN50, RN101, RN50x4,
 * RN50x16, RN50x64): weights (clip_resnet_weights.c) and the forward pass
 * (clip_resnet.c). Private to the engine. */
#ifndef NEGLABEL_CLIP_RESNET_H
#define NEGLABEL_CLIP_RESNET_H
#include <stddef.h>
#include "clip.h"

/* A bias-free convolution followed by BatchNorm, folded at load into
 * w (rows [cout][ky][kx][cin], the im2col column order of channels-last
 * activations) and b (beta - mean * gamma / sqrt(var + eps)). */
typedef struct {
    int cin, cout, k;
    size_t o_w, o_bn; /* offsets: weight; BN weight, bias, running_mean, running_var (consecutive) */
    const float *w, *b;
} nli_conv;

/* Fold the BatchNorm (eps) into the convolution, in place: the weight rows
 * become [ky][kx][cin] and scaled, the BN bias slot the folded bias; -1
 * (error naming what) for a running_var that is not a variance. */
int nli_fold_conv_bn(nli_conv *cv, float *mem, double eps, const char *what);

/* 1x1 -> 3x3 -> avgpool(stride) -> 1x1 (x4), plus the shortcut:
 * avgpool(stride) -> 1x1 conv (when has_down), then ReLU(sum). */
typedef struct {
    nli_conv c1, c2, c3, down;
    int has_down, stride;
} nli_bottleneck;

struct nli_resnet {
    nli_conv stem[3];
    nli_bottleneck *blk;
    int nblk;
    /* AttentionPool2d: positional embedding [g*g+1, E]; k and v fused into
     * one [2E, E] weight (k rows then v rows), q separate (one query row),
     * c_proj [P, E] */
    size_t o_pos, o_kv_w, o_kv_b, o_q_w, o_q_b, o_c_w, o_c_b;
    const float *pos, *kv_w, *kv_b, *q_w, *q_b, *c_w, *c_b;
};
typedef struct nli_resnet nli_resnet;

/* n images (CHW float32, normalised) -> n x projection_dim. */
int nli_resnet_encode_images(nli_clip *c, const float *pixels, size_t n, float *out);
#endif
