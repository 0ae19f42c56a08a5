/* model.h — internal extensions of the public nl_model API. */
#ifndef NEGLABEL_MODEL_H
#define NEGLABEL_MODEL_H
#include "neglabel.h"

/* nl_embed_images, plus errors (optional, n entries, zeroed by the caller):
 * a malloc'd message for each image that failed (status -1). */
int nli_embed_images_ex(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out,
                       int *status, char **errors);

/* The model's CLIP (benchmarks reach its GPU context through nli_clip_gpu). */
struct nli_clip *nli_model_clip(const nl_model *m);
#endif
