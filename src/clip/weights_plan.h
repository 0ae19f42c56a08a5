/* weights_plan.h — the list of tensors a model needs, each with its shape
 * and its offset in one float32 allocation (clip_weights.c fills it from a
 * checkpoint; clip_resnet_weights.c adds a ResNet's tensors). */
#ifndef NEGLABEL_WEIGHTS_PLAN_H
#define NEGLABEL_WEIGHTS_PLAN_H
#include <stddef.h>
#include <stdint.h>
#include "clip.h"
#include "clip_impl.h"
#include "clip_resnet.h"
#include "safetensors.h"

typedef struct {
    char name[160];
    int ndim, transpose; /* transpose: a 2-D [a, b] tensor stored as [b, a] */
    int64_t shape[4];
    size_t off, numel;
    const nli_st_tensor *t;
    int done; /* converted while packing (bf16 loads) */
} nli_want;

typedef struct {
    nli_want *w;
    size_t n, cap;
    size_t total;  /* floats of the allocation, alignment gaps included */
    size_t params; /* floats of the tensors alone */
} nli_plan;

/* Queue one tensor of ndim dims (d0..d3, unused ones 0); its float32 copy
 * goes at the next offset, returned in *off when off != NULL. With off, that
 * offset is a multiple of 16 floats (64 bytes: whole vectors for the CPU's
 * and the GPU's vector loads); without, the tensor follows the previous one
 * directly (k and v after q: one fused qkv matrix). */
int nli_plan_need(nli_plan *p, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Same for a 2-D tensor wanted as [d0, d1] but stored as [d1, d0]
 * (OpenCLIP's x @ proj projections): transposed while converting. */
int nli_plan_need_t(nli_plan *p, size_t *off, const char *name, int64_t d0, int64_t d1);

/* Offsets of one transformer block's fields, in nli_block order. */
typedef struct { size_t o[12]; } nli_block_off;
/* Queue block i's tensors: Hugging Face's names under tower, the layer
 * list ("text_model.encoder.layers": tower.i.self_attn.q_proj.weight, ...;
 * q, k and v fused), or OpenCLIP's (openclip: tower "visual." or "":
 * tower transformer.resblocks.i.attn.in_proj_weight, ...). */
int nli_plan_block(nli_plan *p, int openclip, const char *tower, int i, const nli_tower_config *tc, nli_block_off *bo);
/* Point the block's fields into the converted weights. */
void nli_block_bind(nli_block *b, const float *mem, const nli_block_off *bo);

/* AltCLIP's text tower and text_projection (clip_roberta.c); st tells
 * which of the two layer namings the checkpoint uses. */
int nli_roberta_plan(nli_clip *c, nli_plan *p, const nli_st *st);

/* GroupViT's vision tower and projections (clip_groupvit_weights.c). */
int nli_groupvit_plan(nli_clip *c, nli_plan *p);
int nli_groupvit_bind(nli_clip *c, float *mem);

/* The ModifiedResNet's tensors (clip_resnet_weights.c): queue them, and
 * after conversion fold the BatchNorms and bind c->rn. */
int nli_resnet_plan(nli_clip *c, nli_plan *p);
/* Queue conv.weight [cout, cin, k, k] and bn.{weight, bias, running_mean,
 * running_var} into cv (folded after conversion: nli_fold_conv_bn). */
int nli_plan_conv_bn(nli_plan *p, nli_conv *cv, const char *conv, const char *bn, int cin, int cout, int k);

/* ALIGN's EfficientNet (clip_effnet_weights.c): queue its tensors, and
 * after conversion fold its BatchNorms and bind c->en. */
int nli_effnet_plan(nli_clip *c, nli_plan *p);
int nli_effnet_bind(nli_clip *c, float *mem);
int nli_resnet_bind(nli_clip *c, float *mem);

/* SigLIP's tensors beyond CLIP's (clip_siglip.c): the patch embedding's and
 * text_model.head's biases and vision_model.head; bind points c->sg at them. */
int nli_siglip_plan(nli_clip *c, nli_plan *p);
void nli_siglip_bind(nli_clip *c, const float *mem);
#endif
