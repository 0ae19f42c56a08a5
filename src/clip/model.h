/* model.h — internal extensions of the public nl_model API. */
#ifndef NEGLABEL_MODEL_H
#define NEGLABEL_MODEL_H
#include "neglabel.h"

/* nl_embed_images, plus errors (optional, n entries, zeroed by the caller):
 * a malloc'd message for each image that failed (status -1), and codes
 * (optional, n entries): that failure's nl_status (NL_ERR_IO for a file
 * that cannot be read, ...), set for failed rows only. */
int nli_embed_images_ex(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out,
                       int *status, char **errors, int *codes);

/* 1 when images embedded with this resample (as the caller gave it, before
 * NL_RESAMPLE_MODEL is resolved) are cropped at transformers' offsets: the
 * model's own preprocessing of a Hugging Face folder. */
int nli_model_crop_floor(const nl_model *m, nl_resample requested);
/* The part of the preprocessing with resample as requested (mean, std,
 * resize mode, fill, crop rule) that may differ from OpenAI's and is not
 * in the fingerprint (a Hugging Face folder's preprocessor config is not,
 * so that negatives files keep matching): "" for OpenAI's preprocessing,
 * else "-pp" and a hash of it, for cache keys of image embeddings. */
void nli_model_preprocess_tag(const nl_model *m, nl_resample requested, char *buf, size_t cap);

/* The model's fingerprint as earlier versions computed it, for negatives
 * files that carry one (model.c, fingerprint): prefix "clip" ("clip-" and a
 * hash of 64 samples of each *.safetensors in the folder, before 2026-12)
 * or "clip2" (every byte of each *.safetensors in the folder, loaded or
 * not, until 2026-12-01). */
void nli_model_fingerprint_legacy(const nl_model *m, const char *prefix, char *buf, size_t cap);

/* The model's CLIP (benchmarks reach its GPU context through nli_clip_gpu). */
struct nli_clip *nli_model_clip(const nl_model *m);
#endif
