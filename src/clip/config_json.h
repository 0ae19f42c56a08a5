/* config_json.h — JSON helpers shared by the two config readers (config.c:
 * Hugging Face folders, config_openclip.c: OpenCLIP folders). */
#ifndef NEGLABEL_CONFIG_JSON_H
#define NEGLABEL_CONFIG_JSON_H
#include "clip.h"
#include <jansson.h>

/* The JSON object in path (at most 16 MiB), or NULL with an error. */
json_t *nli_cfg_load_json(const char *path);
/* obj[key] into *out when present and not null; an integer in [lo, hi]
 * (an integral real is accepted). Errors name sect + key. */
int nli_cfg_get_int(json_t *obj, const char *sect, const char *key, long long lo, long long hi, int *out);
/* o[key] into out[0..*n) when present and not null: an array of min_n to
 * cap integers in [lo, hi]. Errors name s (a prefix ending in '.') + key. */
int nli_cfg_get_ints(json_t *o, const char *s, const char *key, int lo, int hi, int min_n, int cap, int *out,
                     int *n);
/* obj[key]: an array of 3 finite numbers (positive: each > 0). */
int nli_cfg_get_triple(json_t *obj, const char *key, int positive, float out[3]);
/* A tower's CLIPTextConfig / CLIPVisionConfig keys in o (text or vision)
 * over *t; errors name sect. */
int nli_cfg_get_tower(json_t *o, const char *sect, int text, nli_tower_config *t);
/* dir's image processor settings: preprocessor_config.json, else the
 * "image_processor" object of processor_config.json, given to load (errors
 * prefixed with the file). Neither file: 0, or when need is not NULL an
 * error saying so, need its reason. */
int nli_cfg_preprocessor_file(const char *dir, nli_clip_config *cfg, int (*load)(json_t *, nli_clip_config *),
                              const char *need);
/* CLIPImageProcessor's settings (the loader nli_cfg_preprocessor_file takes
 * for CLIP and SigLIP folders): mean, std and resample read; the shorter
 * side resized and a centre crop, or both sides for a size of {"height",
 * "width"} (SigLIP: only that); settings that would preprocess otherwise
 * refused. */
int nli_cfg_clip_preprocessor(json_t *root, nli_clip_config *cfg);
/* SigLIP's config.json (root, read from path) and preprocessing
 * (config_siglip.c). */
int nli_siglip_config_load(json_t *root, const char *path, const char *dir, nli_clip_config *cfg);
/* ALIGN's config.json (root, read from path) and preprocessing
 * (config_align.c). */
int nli_align_config_load(json_t *root, const char *path, const char *dir, nli_clip_config *cfg);
#endif
