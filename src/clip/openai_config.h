/* openai_config.h — the OpenCLIP model config of an OpenAI CLIP state dict,
 * inferred from its names and shapes as open_clip's
 * build_model_from_openai_state_dict does (open_clip/model.py): a ViT when
 * "visual.proj" is present, else a ModifiedResNet; quick_gelu true (OpenAI
 * trained with QuickGELU); heads = width / 64. Written as the Hub's
 * open_clip_config.json: {"model_cfg": {...}, "preprocess_cfg": {...}} with
 * OpenAI's mean/std, bicubic, resize mode "shortest". */
#ifndef NEGLABEL_OPENAI_CONFIG_H
#define NEGLABEL_OPENAI_CONFIG_H
#include <stddef.h>
#include <stdint.h>

#include "clip.h"
#include "util.h"

typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
} nli_sd_entry;

/* Entries OpenAI's state dicts carry that are not weights; open_clip drops
 * them before load_state_dict. 1 if name is one. */
int nli_openai_extra_key(const char *name);

/* What the shapes of a state dict in OpenAI's (= OpenCLIP's) names fix. */
typedef struct {
    int vit;
    int64_t embed, image_size, width, patch, layers, rn_layers[4]; /* vision (ResNet: width the stem's) */
    int64_t ctx, vocab, tw, tl;                                    /* text */
    int64_t v_mlp, t_mlp; /* block 0's MLP width, 0 when the block has no c_fc */
} nli_sd_dims;

/* The dims of the state dict; -1 with the error naming what (the file) and
 * the missing or inconsistent tensor. */
int nli_openai_dims(const nli_sd_entry *e, size_t n, const char *what, nli_sd_dims *d);
/* The config open_clip infers for OpenAI's checkpoints (QuickGELU, heads =
 * width / 64, OpenAI's preprocessing), pretty-printed, newline-terminated,
 * into *out; -1 when a width gives no heads. */
int nli_openai_config_json(const nli_sd_dims *d, const char *what, nli_buf *out);
/* A config read from cfg_path (open_clip_config.json) against the dims of
 * the state dict in what: -1 naming both and the first field that differs. */
int nli_openai_config_check(const nli_sd_dims *d, const nli_clip_config *c, const char *cfg_path, const char *what);
#endif
