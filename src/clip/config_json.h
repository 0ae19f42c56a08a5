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
/* obj[key]: an array of 3 finite numbers (positive: each > 0). */
int nli_cfg_get_triple(json_t *obj, const char *key, int positive, float out[3]);
#endif
