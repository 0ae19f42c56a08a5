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

#include "util.h"

typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
} nli_sd_entry;

/* Entries OpenAI's state dicts carry that are not weights; open_clip drops
 * them before load_state_dict. 1 if name is one. */
int nli_openai_extra_key(const char *name);

/* The config JSON (pretty-printed, newline-terminated) into *out; -1 with
 * the error naming what (the file) and the missing or inconsistent tensor. */
int nli_openai_config_json(const nli_sd_entry *e, size_t n, const char *what, nli_buf *out);
#endif
