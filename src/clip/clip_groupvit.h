/* clip_groupvit.h — GroupViT (Xu et al., CVPR 2022; transformers'
 * GroupViTModel): its vision tower, grouping image tokens into fewer and
 * fewer segments stage by stage, and the MLP projections of both towers.
 * The text tower is CLIP's (clip_text.c). Weights: clip_groupvit_weights.c;
 * forward passes: clip_groupvit.c. Private to the engine.
 *
 * Per image: patches -> LayerNorm -> + positions; then each stage s runs
 * its transformer blocks over [image tokens; group tokens] and, when it has
 * group tokens, assigns every image token to one group (argmax: the hard
 * softmax of inference) and makes each group's token from the mean of its
 * members (GroupViTTokenAssign). The mean of the final tokens after a
 * LayerNorm goes through the visual projection. */
#ifndef NEGLABEL_CLIP_GROUPVIT_H
#define NEGLABEL_CLIP_GROUPVIT_H
#include <stddef.h>
#include "clip_impl.h"
#include "weights_plan.h"

/* Linear(in -> hid) -> act -> Linear(hid -> out); act GELU (exact), or
 * ReLU for the projections (whose BatchNorm1d is folded into fc1). */
typedef struct {
    const float *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    int in, hid, out;
} nli_gv_mlp;

typedef struct {
    const float *w, *b;
} nli_gv_ln;

/* GroupViTTokenAssign: group tokens -> num_output_groups new image tokens. */
typedef struct {
    nli_gv_ln norm_tokens, norm_post_tokens, norm_x, norm_new_x;
    nli_gv_mlp mlp_inter;    /* over the token axis: groups -> tokens_dim -> out_groups */
    /* pre_assign_attn (GroupViTCrossAttentionLayer): multi-head attention of
     * the projected groups (queries) over the image tokens (k and v fused:
     * [2D, D]), then an MLP, each with a residual, then norm_post */
    const float *x_q_w, *x_q_b, *x_kv_w, *x_kv_b, *x_o_w, *x_o_b;
    nli_gv_ln x_norm2, x_norm_post;
    nli_gv_mlp x_mlp;
    /* assign (GroupViTAssignAttention): one head over the full width */
    const float *a_q_w, *a_q_b, *a_kv_w, *a_kv_b, *a_o_w, *a_o_b;
    nli_gv_mlp mlp_channels; /* D -> channels_dim -> D */
} nli_gv_assign;

typedef struct {
    int depth, groups, out_groups;
    nli_block *blk;
    nli_block_off *bo;
    const float *group_token;  /* [groups, D], or NULL */
    int has_projector;         /* previous stage's groups -> these (LayerNorm + token MLP) */
    nli_gv_ln proj_ln;
    nli_gv_mlp proj_mix;
    int has_assign;            /* groups > 0 */
    nli_gv_assign as;
} nli_gv_stage;

/* A float32 range of the weights a plan entry fills: bound after loading. */
typedef struct {
    const float **dst;
    size_t off;
} nli_gv_bind;

struct nli_groupvit {
    const float *patch_w, *patch_b, *pos, *emb_ln_w, *emb_ln_b, *final_ln_w, *final_ln_b;
    nli_gv_stage st[NLI_GV_MAX_STAGES];
    int nst;
    nli_gv_mlp vproj, tproj;   /* BatchNorm1d folded into fc1 at bind */
    nli_gv_bind *binds;
    size_t nbind, capbind;
    size_t o_vbn, o_tbn;       /* the two BatchNorm1d: weight, bias, running mean, running var */
};
typedef struct nli_groupvit nli_groupvit;

void nli_groupvit_free(nli_groupvit *g);
/* n images (CHW float32, normalised) -> n x projection_dim. */
int nli_groupvit_encode_images(nli_clip *c, const float *pixels, size_t n, float *out);
/* The text projection of nb pooled rows (nb x text hidden) -> out (nb x P). */
int nli_groupvit_project_texts(const nli_clip *c, const float *pooled, size_t nb, float *out);
#endif
