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

/* Where the model runs. AUTO: the first usable CUDA device, else the CPU. */
typedef enum { NL_DEVICE_AUTO = 0, NL_DEVICE_CPU = 1, NL_DEVICE_CUDA = 2 } nl_device;

/* Arithmetic of the forward passes. DEFAULT: fp32 on the CPU, fp16 on a
 * GPU (as the NegLabel authors ran). FP32 on a GPU is true fp32 (no TF32).
 * FP16/BF16: matrix products and attention in that type with fp32
 * accumulation; the residual stream, LayerNorm statistics, softmax and the
 * final projection stay fp32. The CPU engine supports FP32 only. */
typedef enum {
    NL_PRECISION_DEFAULT = 0, NL_PRECISION_FP32 = 1, NL_PRECISION_FP16 = 2, NL_PRECISION_BF16 = 3
} nl_precision;

typedef struct {
    int n_threads;        /* 0: NEGLABEL_THREADS / OMP_NUM_THREADS / all CPUs */
    int batch_size;       /* images per forward batch; 0: default (32 on the CPU,
                             sized from free memory on a GPU, at most 512) */
    nl_device device;     /* default NL_DEVICE_CPU */
    int device_index;     /* CUDA device ordinal for NL_DEVICE_CUDA (default 0) */
    nl_precision precision; /* default NL_PRECISION_DEFAULT */
} nl_model_params;

nl_model_params nl_model_default_params(void);

/* "auto", "cpu", "cuda" or "cuda:N". 0 on success, -1 (error set) otherwise. */
int nl_parse_device(const char *s, nl_device *dev, int *index);
/* "fp32", "fp16" or "bf16" (also "default"). */
int nl_parse_precision(const char *s, nl_precision *p);
const char *nl_precision_name(nl_precision p);
/* Number of usable CUDA devices: 0 when built without CUDA, with no driver
 * or no GPU (nl_last_error() then says why). */
int nl_cuda_device_count(void);
/* 1 when this build contains the CUDA backend. */
int nl_cuda_built(void);
/* JSON describing the CUDA build and the devices found (malloc'd). */
char *nl_devices_info_json(void);

/* Load a Hugging Face CLIP folder: config.json, model.safetensors (or a
 * sharded set with model.safetensors.index.json), vocab.json, merges.txt and
 * optionally preprocessor_config.json. Weights F32, F16 or BF16. */
nl_model *nl_model_load(const char *dir, const nl_model_params *params);
void nl_model_free(nl_model *m);

int nl_model_dim(const nl_model *m);        /* projection_dim */
int nl_model_image_size(const nl_model *m); /* vision_config.image_size */
/* Where the model runs after nl_model_load resolved AUTO: NL_DEVICE_CPU or
 * NL_DEVICE_CUDA (with *index), and in which precision (never DEFAULT). */
nl_device nl_model_device(const nl_model *m, int *index);
nl_precision nl_model_precision(const nl_model *m);
/* "cpu" or "cuda:N (NVIDIA H200)", for messages. */
const char *nl_model_device_name(const nl_model *m);
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

/* Candidate corpus: WordNet nouns and adjectives (first lemma of each synset,
 * lowercased, '_' -> ' ', deduplicated across files in sorted file order). */
typedef enum { NL_POS_NOUN = 0, NL_POS_ADJ = 1 } nl_pos;

typedef struct {
    size_t n, n_noun, n_adj;
    char **word;      /* n words */
    uint8_t *pos;     /* n nl_pos values */
    char **category;  /* n category names, e.g. "noun.artifact" */
} nl_corpus;

typedef struct {
    const char *wordnet_dir;  /* WordNet database folder (data.noun, data.adj) */
    const char *lists_dir;    /* or: folder of noun.<cat>.txt / adj.<cat>.txt */
    const char *const *include; size_t n_include; /* categories ("noun.plant") or "noun"/"adj"; none = all */
    const char *const *exclude; size_t n_exclude;
} nl_corpus_params;

int nl_corpus_load(const nl_corpus_params *p, nl_corpus *out);
void nl_corpus_free(nl_corpus *c);

/* NegMining: for each candidate, the q-quantile (linear interpolation, as
 * torch.quantile) of its cosine similarities to the ID labels; nouns and
 * adjectives ranked separately, ascending; keep floor(fraction * count) of
 * each, or, with total > 0, total split in proportion to the counts.
 * Embeddings must be L2-normalised. *selected (malloc'd) lists candidate
 * indices: selected nouns then selected adjectives, each ascending by
 * similarity. qsim (optional, n_cand) receives every candidate's quantile. */
typedef struct {
    double fraction;  /* default 0.15 */
    double quantile;  /* default 0.95 */
    size_t total;     /* default 0: use fraction */
    nl_device device; /* default NL_DEVICE_CPU; NL_DEVICE_CUDA computes the
                         similarities and quantiles on that GPU */
    int device_index;
} nl_mine_params;

nl_mine_params nl_mine_default_params(void);
int nl_mine(const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
            const uint8_t *cand_pos, size_t dim, const nl_mine_params *p,
            size_t **selected, size_t *n_selected, double *qsim);

/* Scoring. NegLabel: logits cos/tau; drop the last n_neg mod ngroup
 * negatives, shuffle the rest (seeded, see docs/scoring.md) unless shuffle
 * is 0, split into ngroup contiguous groups; score = mean over groups of
 * the softmax mass on the ID labels over ID + that group's negatives.
 * MCM: max softmax probability over the ID cosines / tau.
 * Rows need not be normalised: cosines are computed in double precision.
 * Higher = more in-distribution. */
typedef enum { NL_METHOD_NEGLABEL = 0, NL_METHOD_MCM = 1 } nl_method;

typedef struct {
    nl_method method;
    int ngroup;      /* default 100 */
    uint64_t seed;   /* default 0 */
    int shuffle;     /* default 1 */
    double tau;      /* default 0.01 (NegLabel) or 1 (MCM) */
    nl_device device; /* default NL_DEVICE_CPU; NL_DEVICE_CUDA: cosines (in
                         double) and group sums on that GPU, equal to the
                         CPU's to ~1e-12 relative */
    int device_index;
} nl_score_params;

nl_score_params nl_score_default_params(nl_method method);
/* top_id / top_neg (optional, n_img each): index of each image's most similar
 * ID label and negative label. */
int nl_score(const float *img, size_t n_img, const float *id_emb, size_t n_id,
             const float *neg_emb, size_t n_neg, size_t dim, const nl_score_params *p,
             double *scores, size_t *top_id, size_t *top_neg);

/* Metrics, with in-distribution as the positive class for AUROC/AUPR-In and
 * OOD positive (negated scores) for AUPR-Out; equal to scikit-learn. */
typedef enum {
    NL_FPR95_NEGLABEL = 0, /* paper/MCM: ID recall closest to 0.95; FPR = OOD fraction >= threshold */
    NL_FPR95_OPENOOD = 1   /* OpenOOD: OOD positive, first point with TPR >= 0.95 */
} nl_fpr_convention;

typedef struct { double auroc, aupr_in, aupr_out, fpr95; } nl_metrics;

int nl_compute_metrics(const double *id_scores, size_t n_id, const double *ood_scores, size_t n_ood,
                       nl_fpr_convention conv, nl_metrics *out);
const char *nl_fpr_convention_name(nl_fpr_convention c);

/* .npy files: 2-D, C order, float32 or float64 (little-endian). Non-finite
 * values are an error. *data is malloc'd float32, rows x cols. */
int nl_npy_load(const char *path, float **data, size_t *rows, size_t *cols);
int nl_npy_save(const char *path, const float *data, size_t rows, size_t cols);

#ifdef __cplusplus
}
#endif
#endif
