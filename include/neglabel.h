/* neglabel.h — zero-shot OOD detection with negative labels (NegLabel,
 * Jiang et al., ICLR 2024) on a frozen CLIP model, in plain C.
 *
 * Conventions: functions returning int give 0 on success and -1 on error;
 * functions returning pointers give NULL on error. After an error,
 * nl_last_error() holds one message naming the file and the problem (it is
 * per thread). Nothing in the library exits or aborts. Arrays of embeddings
 * are row-major float32, one row of nl_model_dim() values per item.
 *
 *   nl_model *m = nl_model_load("clip-vit-base-patch16", NULL);
 *   if (!m) { fprintf(stderr, "%s\n", nl_last_error()); return 1; }
 *   float *e = malloc(sizeof(float) * nl_model_dim(m));
 *   const char *txt = "the nice dog";
 *   nl_embed_texts(m, &txt, 1, e);
 *   nl_model_free(m);
 */
#ifndef NEGLABEL_H
#define NEGLABEL_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NEGLABEL_VERSION "0.1.0"

const char *nl_last_error(void);

/* ---------------------------------------------------------------- model */

typedef struct nl_model nl_model;

typedef enum { NL_RESAMPLE_BICUBIC = 0, NL_RESAMPLE_BILINEAR = 1 } nl_resample;

typedef struct {
    int n_threads;        /* 0: NEGLABEL_THREADS / OMP_NUM_THREADS / all CPUs */
    int batch_size;       /* images per forward batch; 0: default (32) */
} nl_model_params;

nl_model_params nl_model_default_params(void);

/* Load a Hugging Face CLIP folder: config.json, model.safetensors (or a
 * sharded set with model.safetensors.index.json), vocab.json, merges.txt and
 * optionally preprocessor_config.json. Weights F32, F16 or BF16. */
nl_model *nl_model_load(const char *dir, const nl_model_params *params);
void nl_model_free(nl_model *m);

int nl_model_dim(const nl_model *m);        /* projection_dim */
int nl_model_image_size(const nl_model *m); /* vision_config.image_size */
/* Resolved configuration as a JSON object (malloc'd; caller frees). */
char *nl_model_info_json(const nl_model *m);
/* A string identifying the weights and config (for cache keys). */
const char *nl_model_fingerprint(const nl_model *m);

/* CLIP BPE token ids with SOT and EOT, not truncated (caller frees *ids). */
int nl_tokenize(const nl_model *m, const char *text, int32_t **ids, size_t *n);

/* Text embeddings (projections, not normalised). Texts longer than the
 * context are truncated to context-1 tokens + EOT, as clip.tokenize does. */
int nl_embed_texts(nl_model *m, const char *const *texts, size_t n, float *out);

/* Image embeddings from files. status (optional, n entries) receives 0 for
 * each image embedded and -1 for each that failed to load; with status NULL
 * the first failure is an error. Rows of failed images are zero. */
int nl_embed_images(nl_model *m, const char *const *paths, size_t n, nl_resample resample,
                    float *out, int *status);

/* Decode, convert to RGB, resize the shorter side to size and centre-crop
 * (Pillow + torchvision rules); out receives size*size*3 uint8 (HWC). */
int nl_preprocess_file(const char *path, int size, nl_resample resample, uint8_t *out);

/* L2-normalise each of n rows of length dim in place (zero rows stay zero). */
void nl_normalize_rows(float *x, size_t n, size_t dim);

/* ---------------------------------------------------------------- neglabel */
/* (corpus, mining, scoring and metrics: see the section below) */

#ifdef __cplusplus
}
#endif
#endif
