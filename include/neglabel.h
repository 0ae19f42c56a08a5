/* neglabel.h — zero-shot OOD detection with negative labels (NegLabel,
 * Jiang et al., ICLR 2024) on a frozen CLIP model, in plain C.
 *
 * Conventions: functions returning int give 0 on success and -1 on error;
 * functions returning pointers give NULL on error. After an error,
 * nl_last_error() holds one message naming the file and the problem (it is
 * per thread), and nl_last_status() its kind. Nothing in the library exits,
 * aborts or writes to stdout/stderr (messages and progress go to the
 * callbacks of nl_set_log / nl_set_progress). Arrays of embeddings are
 * row-major float32, one row of nl_model_dim() values per item.
 *
 * Threads: one nl_model serves one call at a time (its GPU workspace and
 * staging buffers are shared by its calls): serialise calls on a model, or
 * load one model per thread. Functions that take no model (nl_mine,
 * nl_score, nl_compute_metrics, nl_corpus_*, nl_npy_*, nl_preprocess_*,
 * nl_negatives_read/write) may run concurrently. The model's own work is
 * parallel inside each call (n_threads, and the GPU). nl_set_log and
 * nl_set_progress are process-wide: set them before starting work.
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
#include <stdio.h>

/* NL_API marks the public functions. The shared library is built with
 * -fvisibility=hidden and NL_BUILDING_LIBRARY defined, so that only these
 * are exported; for consumers (and the static library) it expands to
 * nothing special. Public names start with nl_ / NL_; the library's
 * internal functions are named nli_ and never exported. */
#ifndef NL_API
#if defined(NL_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define NL_API __attribute__((visibility("default")))
#else
#define NL_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define NEGLABEL_VERSION "0.1.0"

/* Errors: functions return -1 (or NULL) and set a message for this thread;
 * NULL where a function needs a pointer is such an error ("nl_mine: NULL
 * argument"), never a crash. */
NL_API const char *nl_last_error(void);

/* What kind of failure the last error was (per thread, like the message). */
typedef enum {
    NL_OK = 0,
    NL_ERR_INVALID = 1,     /* bad input: arguments, files, formats, sizes */
    NL_ERR_IO = 2,          /* a file or folder could not be read or written */
    NL_ERR_NOMEM = 3,       /* out of memory (host or GPU) */
    NL_ERR_UNSUPPORTED = 4, /* valid but not supported (a dtype, a precision, no CUDA build) */
    NL_ERR_DEVICE = 5,      /* GPU, driver or CUDA library failure */
    NL_ERR_CANCELLED = 6    /* stopped by the nl_set_cancel callback */
} nl_status;
NL_API nl_status nl_last_status(void);
NL_API const char *nl_status_name(nl_status s);

/* ---------------------------------------------------------------- model */

typedef struct nl_model nl_model;

/* Resize filter. MODEL: the model folder's own preprocessing (its
 * preprocessor_config.json's filter, resample 3 = bicubic for OpenAI's
 * CLIP, bicubic when absent; a Hugging Face folder's centre crop as
 * CLIPImageProcessor places it, at (len - size) // 2), valid wherever a
 * model is given. BICUBIC, BILINEAR: torchvision's Resize + CenterCrop
 * with that filter (the crop at round((len - size) / 2)), as OpenAI's
 * clip.load and the NegLabel reference (bilinear) preprocess. The two
 * crops differ by one pixel when len - size is 3 mod 4. */
typedef enum { NL_RESAMPLE_BICUBIC = 0, NL_RESAMPLE_BILINEAR = 1, NL_RESAMPLE_MODEL = 2 } nl_resample;

/* Where the model runs. AUTO: the first usable CUDA device, else the CPU. */
typedef enum { NL_DEVICE_AUTO = 0, NL_DEVICE_CPU = 1, NL_DEVICE_CUDA = 2 } nl_device;

/* Arithmetic of the forward passes. DEFAULT: fp32 on the CPU, fp16 on a
 * GPU (as the NegLabel authors ran). FP32 on a GPU is true fp32 (no TF32).
 * FP16/BF16: matrix products and attention in that type with fp32
 * accumulation; the residual stream, LayerNorm statistics, softmax and the
 * final projection stay fp32. The CPU engine computes in FP32 (the
 * default) or BF16 (below: CPUs with native bf16); FP16 is GPU-only. */
typedef enum {
    NL_PRECISION_DEFAULT = 0, NL_PRECISION_FP32 = 1, NL_PRECISION_FP16 = 2, NL_PRECISION_BF16 = 3
} nl_precision;

typedef struct {
    int n_threads;        /* at most 1024; 0: NEGLABEL_THREADS / OMP_NUM_THREADS / all CPUs */
    int batch_size;       /* images per forward batch; 0: default (32 on the CPU, fewer for
                             images over 747 pixels: 256 MiB of pixels; sized from free memory
                             on a GPU, at most 512); at most 4096 */
    nl_device device;     /* default NL_DEVICE_CPU */
    int device_index;     /* CUDA device ordinal for NL_DEVICE_CUDA (default 0) */
    nl_precision precision; /* default NL_PRECISION_DEFAULT: fp16 on CUDA, fp32 on the CPU */
    /* NL_PRECISION_BF16 on a CPU without native bf16 (AVX512-BF16 or AMX)
     * runs fp32 with a warning (nl_model_precision says fp32); with
     * strict_precision = 1 nl_model_load fails instead (default 0). */
    int strict_precision;
} nl_model_params;

NL_API nl_model_params nl_model_default_params(void);

/* "auto", "cpu", "cuda" or "cuda:N" (index 0 but for cuda:N). 0 on success,
 * -1 (error set) otherwise, *dev and *index then unchanged. */
NL_API int nl_parse_device(const char *s, nl_device *dev, int *index);
/* "fp32", "fp16" or "bf16" (also "default"). */
NL_API int nl_parse_precision(const char *s, nl_precision *p);
/* The name nl_parse_precision reads; "unknown" for a value outside the enum. */
NL_API const char *nl_precision_name(nl_precision p);
/* Number of CUDA devices (cuda:0 to cuda:N-1): 0 when built without CUDA,
 * with no driver, no GPU or no cuBLAS (nl_last_error() then says why). A
 * device may still be one this build cannot run on: its kernels need
 * compute capability 8.0 or newer (nl_devices_info_json: "supported"). */
NL_API int nl_cuda_device_count(void);
/* The device NL_DEVICE_AUTO runs on: the first supported CUDA device, or -1
 * for the CPU (nl_last_error() says why; when there are GPUs but none to
 * run on, too old or without cuBLAS, a warning is also logged, once per
 * process). */
NL_API int nl_cuda_auto_device(void);
/* Resolve NL_DEVICE_AUTO in place (*dev becomes NL_DEVICE_CUDA with *index
 * set to nl_cuda_auto_device(), or NL_DEVICE_CPU with *index 0); CPU and
 * CUDA stay as given. -1 (error set) for an unknown device kind. */
NL_API int nl_resolve_device(nl_device *dev, int *index);
/* 1 when this build contains the CUDA backend. */
NL_API int nl_cuda_built(void);
/* JSON describing the CUDA build and the devices found (malloc'd). */
NL_API char *nl_devices_info_json(void);

/* Load a Hugging Face CLIP folder: config.json, model.safetensors (or a
 * sharded set with model.safetensors.index.json), vocab.json, merges.txt and
 * optionally preprocessor_config.json; or an OpenCLIP folder:
 * open_clip_config.json, open_clip_model.safetensors, vocab.json, merges.txt
 * (ViT and ModifiedResNet towers; docs/openclip.md). Weights F32, F16 or
 * BF16. dir may also be a Hugging Face Hub id (see nl_model_resolve). */
NL_API nl_model *nl_model_load(const char *dir, const nl_model_params *params);

/* The CLI's default model: the NegLabel paper's CLIP ViT-B/16. */
#define NL_DEFAULT_MODEL "openai/clip-vit-base-patch16"
/* The folder nl_model_load reads for name (malloc'd; NULL with the error
 * set): name itself when it exists (or cannot be a Hub id); otherwise a
 * Hub id "org/name[@revision]" (default revision "main"; open_clip's
 * "hf-hub:org/name" is the same repository) found in the
 * Hugging Face cache (HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub) as huggingface_hub lays it out, the files
 * neglabel needs downloaded there from HF_ENDPOINT (default
 * https://huggingface.co, token HF_TOKEN) when missing, unless
 * HF_HUB_OFFLINE is set. A repository (or cached snapshot) whose weights
 * are only pytorch_model.bin (or its shards), or open_clip_pytorch_model.bin,
 * has them converted to model.safetensors (open_clip_model.safetensors) in
 * the snapshot, as nl_convert_checkpoint does. Where a repository has
 * both layouts, "org/name" is its Hugging Face model (config.json), as
 * transformers reads it, and "hf-hub:org/name" its OpenCLIP one
 * (open_clip_config.json), as open_clip reads it, whatever else the
 * snapshot holds: nl_model_load(name) reads that layout, while
 * nl_model_load on the returned folder reads it as any folder (see
 * nl_model_load). See docs/hub.md, "Which layout".
 * Also, as OpenAI's clip.load takes them: one of clip.available_models()'
 * names ("RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32",
 * "ViT-B/16", "ViT-L/14", "ViT-L/14@336px"), read from where clip.load
 * downloads it (~/.cache/clip/ViT-B-16.pt, …; neglabel downloads nothing
 * from OpenAI), or the path of a checkpoint file ending in ".pt"; the file
 * is converted once, as nl_convert_checkpoint converts it, into
 * nl_default_cache_dir()/openai-clip/<its SHA-256>, the folder returned. A
 * name's file is checked against the SHA-256 OpenAI publishes for it (a
 * mismatch is converted with a warning). docs/hub.md. */
NL_API char *nl_model_resolve(const char *name);
/* neglabel's cache folder (malloc'd; NULL when none of these is set):
 * $NEGLABEL_CACHE, else $XDG_CACHE_HOME/neglabel, else
 * $HOME/.cache/neglabel. The CLI's default --cache, and where OpenAI's
 * checkpoints are converted (openai-clip/ in it; nl_model_resolve). */
NL_API char *nl_default_cache_dir(void);
NL_API void nl_model_free(nl_model *m);

NL_API int nl_model_dim(const nl_model *m);        /* projection_dim */
NL_API int nl_model_image_size(const nl_model *m); /* vision_config.image_size */
/* Where the model runs after nl_model_load resolved AUTO: NL_DEVICE_CPU or
 * NL_DEVICE_CUDA (with *index), and in which precision (never DEFAULT). */
NL_API nl_device nl_model_device(const nl_model *m, int *index);
NL_API nl_precision nl_model_precision(const nl_model *m);
/* "cpu" or "cuda:N (NVIDIA H200)", for messages. */
NL_API const char *nl_model_device_name(const nl_model *m);
/* The model's default resize filter (never NL_RESAMPLE_MODEL). */
NL_API nl_resample nl_model_resample(const nl_model *m);
/* CPU threads the model uses (resolved from nl_model_params.n_threads). */
NL_API int nl_model_threads(const nl_model *m);
/* Resolved configuration as a JSON object (malloc'd; caller frees);
 * "format" ("huggingface" or "open_clip") and "architecture" ("ViT" or
 * "ModifiedResNet") say what was loaded; "device", "precision",
 * "batch_size" and "threads" where and how it runs. */
NL_API char *nl_model_info_json(const nl_model *m);
/* A string identifying the weights and config, for cache keys and negatives
 * files: "clip2-" and a 64-bit hash of the config, every byte of every
 * weight file the model loaded and a non-OpenAI tokenizer. The same for a
 * copied folder, another for any changed weight. (Before 2026-12: "clip-",
 * a hash of 64 samples per file; until 2026-12-01, every *.safetensors in
 * the folder, loaded or not; negatives files carrying either are still
 * checked against it.) */
NL_API const char *nl_model_fingerprint(const nl_model *m);

/* CLIP BPE token ids with SOT and EOT, not truncated (caller frees *ids). */
NL_API int nl_tokenize(const nl_model *m, const char *text, int32_t **ids, size_t *n);
/* The same for len bytes of UTF-8 that may hold NUL characters (U+0000,
 * which ftfy.fix_text removes, as the reference tokenizer does). */
NL_API int nl_tokenize_n(const nl_model *m, const char *text, size_t len, int32_t **ids, size_t *n);

/* Text embeddings (projections, not normalised). Texts longer than the
 * context are truncated to context-1 tokens + EOT, as clip.tokenize does. */
NL_API int nl_embed_texts(nl_model *m, const char *const *texts, size_t n, float *out);

/* Image embeddings from files. status (optional, n entries) receives 0 for
 * each image embedded and -1 for each that failed to load; with status NULL
 * the first failure is an error. Rows of failed images are zero. */
NL_API int nl_embed_images(nl_model *m, const char *const *paths, size_t n, nl_resample resample,
                    float *out, int *status);

/* An image already decoded (a video frame, a PIL image, a numpy array):
 * width x height RGB pixels, 8 bits per channel, rows stride bytes apart
 * (0: width*3). */
typedef struct {
    const uint8_t *rgb;
    int width, height;
    size_t stride;
} nl_rgb_image;

/* Image embeddings from decoded buffers of any size, resized and cropped
 * exactly as files are (nl_preprocess_rgb). status as nl_embed_images. */
NL_API int nl_embed_rgb(nl_model *m, const nl_rgb_image *images, size_t n, nl_resample resample, float *out,
                        int *status);
/* An encoded image in memory: the bytes of an image file (JPEG, PNG, WebP,
 * GIF, BMP, TIFF), e.g. a Parquet or WebDataset column; name (optional)
 * is what messages call it. */
typedef struct {
    const uint8_t *data;
    size_t len;
    const char *name;
} nl_image_buffer;

/* Image embeddings from encoded bytes, decoded exactly as nl_embed_images
 * decodes the same bytes read from a file (same rows, bit for bit). status
 * as nl_embed_images; errors (optional, n entries, zeroed by the caller): a
 * malloc'd message for each image that failed (status -1). */
NL_API int nl_embed_image_buffers(nl_model *m, const nl_image_buffer *images, size_t n, nl_resample resample,
                                  float *out, int *status, char **errors);
/* Image embeddings from pixels already preprocessed (a PyTorch DataLoader's
 * batch, transformers' pixel_values, open_clip's or clip.load's preprocess):
 * n images, each 3 x S x S float32 in C order (CHW; S = nl_model_image_size),
 * resized, cropped, scaled to [0, 1] and normalised with the model's mean
 * and std as its own preprocessing does; the model runs on them as given
 * (model.get_image_features(pixel_values), model.encode_image(x)). out:
 * n x dim projections, not normalised. A NaN or inf is an error naming the
 * image; values far outside what [0, 1] pixels normalise to (0..255
 * values, or none normalised) give a warning. */
NL_API int nl_embed_pixels(nl_model *m, const float *pixels, size_t n, float *out);
/* The pixels nl_embed_images (files) and nl_embed_rgb (decoded buffers)
 * give the model: decoded, resized and cropped as they do (resample as
 * there), scaled to [0, 1] and normalised with the model's mean and std;
 * n x 3 x S x S float32 (CHW), S = nl_model_image_size. nl_embed_pixels of
 * them gives those functions' rows, bit for bit. status as nl_embed_images
 * (a failed image's pixels are zero). */
NL_API int nl_image_pixels(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out,
                           int *status);
NL_API int nl_rgb_pixels(nl_model *m, const nl_rgb_image *images, size_t n, nl_resample resample, float *out,
                         int *status);

/* Resize the shorter side to size and centre-crop, as nl_preprocess_file
 * does after decoding; out receives size*size*3 uint8 (HWC). */
NL_API int nl_preprocess_rgb(const nl_rgb_image *img, int size, nl_resample resample, uint8_t *out);

/* Decode, convert to RGB, resize the shorter side to size and centre-crop
 * (Pillow + torchvision rules); out receives size*size*3 uint8 (HWC). */
NL_API int nl_preprocess_file(const char *path, int size, nl_resample resample, uint8_t *out);

/* One RFC 4180 CSV field (quoted when it holds a comma, quote, CR or LF). */
NL_API void nl_csv_field(FILE *f, const char *s);

/* Write len bytes to path crash-safely: a temporary file in the same
 * folder, fsync, rename. */
NL_API int nl_write_file_atomic(const char *path, const void *data, size_t len);

/* L2-normalise each of n rows of length dim in place (zero rows stay zero). */
NL_API void nl_normalize_rows(float *x, size_t n, size_t dim);

/* Convert a PyTorch checkpoint of an OpenAI CLIP (OpenAI's TorchScript .pt
 * files such as ViT-B-16.pt or RN50.pt, a torch.save'd zip of their state
 * dict, or an open_clip_train checkpoint epoch_N.pt, read as open_clip's
 * load_state_dict reads it: its 'state_dict' entry, DDP's 'module.' prefix
 * stripped when the first name begins with 'module') into an OpenCLIP
 * folder: dst_dir/open_clip_model.safetensors (the state dict, dtypes kept,
 * without the input_resolution, context_length and vocab_size entries) and
 * dst_dir/open_clip_config.json: the one beside src (an OpenCLIP
 * open_clip_pytorch_model.bin's) or already in dst_dir, checked against the
 * tensors' shapes and never replaced by a different one; else the
 * architecture as open_clip infers it for OpenAI's weights (QuickGELU,
 * OpenAI's preprocessing; logged). A Hugging Face CLIPModel state dict
 * (pytorch_model.bin, names text_model.* / vision_model.*; as transformers
 * reads it, no 'state_dict' entry taken, no prefix stripped; or a sharded
 * one, src its pytorch_model.bin.index.json: every shard read, each tensor
 * where the index says, one shard alone refused) becomes a
 * Hugging Face folder instead: dst_dir/model.safetensors (every tensor,
 * names and dtypes kept) and copies of the config, tokenizer and
 * preprocessing files beside the .bin (config.json required; dst_dir may be
 * that folder). The pickle is read by a restricted unpickler that runs no
 * code; archives it cannot read, and archives whose storages would inflate
 * or be copied far beyond their size, are refused. 0 or -1. */
NL_API int nl_convert_checkpoint(const char *src, const char *dst_dir);

/* ---------------------------------------------------------------- neglabel */

/* Candidate corpus: WordNet nouns and adjectives (first lemma of each synset,
 * lowercased, '_' -> ' ', the ends stripped, deduplicated across files in
 * sorted file order). */
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
    const char *const *exclude; size_t n_exclude; /* the same; dropped after include; none = none */
    int absent_ok; /* 1: a filter the source lacks is skipped, not an error
                      (built-in defaults, such as CSP's categories) */
} nl_corpus_params;

/* Each include and exclude must match a category (or part of speech) the
 * source has, else -1 with a message naming it and the source (unless
 * absent_ok). A WordNet
 * database always leaves out noun.animal and noun.food (the reference's
 * word lists have neither), unless include names that category itself:
 * "noun.animal" brings it back, "noun" does not. A word-list folder keeps
 * whatever its files hold. Lines of a word list may end in LF, CRLF or CR
 * (as Python's readlines() reads them), a UTF-8 byte order mark before the
 * first is skipped, and words are stripped as str.strip() strips them
 * (Unicode spaces such as U+00A0 and U+3000 included). */
NL_API int nl_corpus_load(const nl_corpus_params *p, nl_corpus *out);
/* nl_corpus_load's checks that need no word read (one source, readable;
 * every include/exclude matching a category of it), for a caller to fail
 * fast before loading a model. 0 or -1. */
NL_API int nl_corpus_check(const nl_corpus_params *p);
/* The corpus as TSV lines pos<TAB>word ("noun"/"adj"), written atomically. */
NL_API int nl_corpus_write(const nl_corpus *c, const char *path);
NL_API void nl_corpus_free(nl_corpus *c);

/* NegMining: for each candidate, the q-quantile (linear interpolation, as
 * torch.quantile) of its cosine similarities to the ID labels; nouns and
 * adjectives ranked separately, ascending; keep floor(fraction * count) of
 * each, or, with total > 0, total split in proportion to the counts.
 * Embeddings must be L2-normalised. *selected (malloc'd) lists candidate
 * indices: selected nouns then selected adjectives, each ascending by
 * similarity. qsim (optional, n_cand) receives every candidate's quantile. */
typedef struct {
    double fraction;  /* default 0.15; not used (nor checked) with total > 0 */
    double quantile;  /* default 0.95 */
    size_t total;     /* default 0: use fraction */
    /* CSP's rule: a candidate whose largest cosine to the ID labels exceeds
     * max_cut ranks with similarity 1 (after every other candidate).
     * Default 2: off (no cosine exceeds it); CSP uses 0.95. When on, the
     * cosines are computed on the CPU. */
    double max_cut;
    nl_device device; /* default NL_DEVICE_CPU; NL_DEVICE_CUDA computes the
                         similarities and quantiles on that GPU */
    int device_index;
    int n_threads;    /* CPU threads; 0: NEGLABEL_THREADS / OMP_NUM_THREADS / all CPUs */
} nl_mine_params;

NL_API nl_mine_params nl_mine_default_params(void);
NL_API int nl_mine(const float *id_emb, size_t n_id, const float *cand_emb, size_t n_cand,
            const uint8_t *cand_pos, size_t dim, const nl_mine_params *p,
            size_t **selected, size_t *n_selected, double *qsim);

/* Scoring. NegLabel: logits cos/tau; drop the last n_neg mod ngroup
 * negatives, shuffle the rest (seeded, see docs/scoring.md) unless shuffle
 * is 0, split into ngroup contiguous groups; score = mean over groups of
 * the softmax mass on the ID labels over ID + that group's negatives.
 * MCM: max softmax probability over the ID cosines / tau.
 * Rows need not be normalised: cosines are computed in double precision.
 * Higher = more in-distribution. */
/* CSP (Chen et al., NeurIPS 2024) scores with NegLabel's formula over its
 * own negatives (nl_csp_*, nl_mine with max_cut 0.95); its defaults
 * differ only in the permutation (torch, as its reference).
 * AdaNeg (Zhang et al., NeurIPS 2024) and OODD (CVPR 2025) are stream
 * methods: an image's score depends on the images before it (and, within
 * a batch, beside it), so nl_score takes the rows as one stream in the
 * given order, from a fresh memory (docs/methods.md). */
typedef enum {
    NL_METHOD_NEGLABEL = 0, NL_METHOD_MCM = 1, NL_METHOD_CSP = 2, NL_METHOD_ADANEG = 3, NL_METHOD_OODD = 4
} nl_method;
#define NL_METHOD_COUNT 5
/* "neglabel", "mcm", "csp", "adaneg", "oodd". 0, or -1 (error set). */
NL_API int nl_parse_method(const char *s, nl_method *out);
NL_API const char *nl_method_name(nl_method m);

/* The shuffle of the negatives before grouping (docs/scoring.md).
 * SPLITMIX: neglabel's own splitmix64 Fisher–Yates (the default).
 * TORCH: torch.manual_seed(seed); torch.randperm(n) on torch's CPU
 * generator, bit for bit, as the NegLabel reference and its successors
 * shuffle (use it to reproduce their groups). NUMPY: np.random.seed(seed);
 * np.random.permutation(n) (legacy RandomState; seed < 2^32). */
typedef enum { NL_PERM_SPLITMIX = 0, NL_PERM_TORCH = 1, NL_PERM_NUMPY = 2 } nl_permutation;
/* "splitmix", "torch" or "numpy". 0 on success, -1 (error set) otherwise. */
NL_API int nl_parse_permutation(const char *s, nl_permutation *out);
NL_API const char *nl_permutation_name(nl_permutation p);

typedef struct {
    nl_method method;
    int ngroup;      /* default 100 */
    uint64_t seed;   /* default 0 */
    int shuffle;     /* default 1 */
    nl_permutation permutation; /* default NL_PERM_SPLITMIX */
    double tau;      /* default 0.01 (NegLabel) or 1 (MCM) */
    nl_device device; /* default NL_DEVICE_CPU; NL_DEVICE_CUDA: cosines (in
                         double) and group sums on that GPU, equal to the
                         CPU's to ~1e-12 relative */
    int device_index;
    int n_threads;    /* CPU threads; 0: NEGLABEL_THREADS / OMP_NUM_THREADS / all CPUs */
    /* AdaNeg (NL_METHOD_ADANEG; defaults: its reference script's,
     * ngroup 5, torch permutation). Stream batches of adaneg_batch; an
     * image is cached under its ID label when its static score exceeds
     * thres + gap (1 - thres), under its negative label below
     * thres - gap thres; adaneg_memory image slots per label;
     * score = adaptive + lambda * static. sample_adaptive: proxies
     * weighted by exp(-beta (1 - cos)), beta truncated to an integer as
     * the reference does. */
    int adaneg_batch;           /* default 256 */
    int adaneg_memory;          /* default 10 */
    double adaneg_thres;        /* default 0.5 */
    double adaneg_gap;          /* default 0.5 */
    double adaneg_lambda;       /* default 0.1 */
    int adaneg_sample_adaptive; /* default 0 */
    double adaneg_beta;         /* default 5.5 */
    /* OODD (NL_METHOD_OODD; static score NegLabel's with this struct's
     * ngroup, tau and permutation): batches of oodd_batch enter a queue of
     * the oodd_queue lowest static scores; score = static - the oodd_k-th
     * largest cosine between the image and the queued images. */
    int oodd_batch;             /* default 64 */
    int oodd_queue;             /* default 2048 */
    int oodd_k;                 /* default 5 */
} nl_score_params;

NL_API nl_score_params nl_score_default_params(nl_method method);
/* The checks nl_score makes of p and the sizes (n_id ID and n_neg negative
 * labels of dim floats), without images: call it before embedding images
 * so that a bad parameter fails in a second, not after the embedding. */
NL_API int nl_score_check(const nl_score_params *p, size_t n_id, size_t n_neg, size_t dim);
/* top_id / top_neg (optional, n_img each): index of each image's most similar
 * ID label and negative label; SIZE_MAX for top_neg without negatives, and
 * for both where scores[i] is NaN: an image embedding that is not finite
 * (the model's forward pass overflowed) scores NaN, with a warning logged. */
NL_API int nl_score(const float *img, size_t n_img, const float *id_emb, size_t n_id,
             const float *neg_emb, size_t n_neg, size_t dim, const nl_score_params *p,
             double *scores, size_t *top_id, size_t *top_neg);

/* Metrics, with in-distribution as the positive class for AUROC/AUPR-In and
 * OOD positive (negated scores) for AUPR-Out; equal to scikit-learn. The
 * convention sets FPR95 and the AUPRs: */
typedef enum {
    NL_FPR95_NEGLABEL = 0, /* paper/MCM: ID recall closest to 0.95; FPR = OOD fraction >= threshold;
                              AUPR = average precision (average_precision_score) */
    NL_FPR95_OPENOOD = 1   /* OpenOOD's evaluator: OOD positive, first point with TPR >= 0.95;
                              AUPR = auc(recall, precision) over precision_recall_curve (trapezoid) */
} nl_fpr_convention;

typedef struct { double auroc, aupr_in, aupr_out, fpr95; } nl_metrics;

NL_API int nl_compute_metrics(const double *id_scores, size_t n_id, const double *ood_scores, size_t n_ood,
                       nl_fpr_convention conv, nl_metrics *out);
NL_API const char *nl_fpr_convention_name(nl_fpr_convention c);
/* Scores from a file, for nl_compute_metrics: one finite number per line
 * (blank lines skipped), or a CSV table (RFC 4180: quoted fields may hold
 * commas, quotes and line breaks) whose first row is a header, read from its
 * column `column`. NULL column: a file whose first line is a number is read
 * as numbers, anything else as a table with a "score" column (what
 * `neglabel score` writes). Errors name the file and the line. *scores is
 * malloc'd (free()), *n >= 1. */
NL_API int nl_read_scores(const char *path, const char *column, double **scores, size_t *n);

/* .npy files: 2-D, C order, float32 or float64 (little-endian). Non-finite
 * values are an error. *data is malloc'd float32, rows x cols. */
NL_API int nl_npy_load(const char *path, float **data, size_t *rows, size_t *cols);
NL_API int nl_npy_save(const char *path, const float *data, size_t rows, size_t cols);


/* ---------------------------------------------------------------- logging */

/* Messages and progress from long work go to callbacks set here; with none
 * set (the default for library callers) the library is silent. The CLI
 * installs callbacks that print to stderr. Process-wide; set them before
 * starting work, not while another thread is inside the library. */
typedef enum { NL_LOG_ERROR = 0, NL_LOG_WARN = 1, NL_LOG_INFO = 2 } nl_log_level;
/* msg: one line, no trailing newline. */
typedef void (*nl_log_fn)(nl_log_level level, const char *msg, void *user);
NL_API void nl_set_log(nl_log_fn fn, void *user);
/* Progress of long work (embedding, and so the embeddings mining needs; the
 * similarities and quantiles after them report none): done of total items under a
 * label, throttled by the library (a few calls a second at most); final is
 * 1 on the last call of a job, also of one stopped by an error or by
 * nl_set_cancel (done then short of total). elapsed in seconds since the
 * job started. */
typedef void (*nl_progress_fn)(const char *label, size_t done, size_t total, double elapsed, int final, void *user);
NL_API void nl_set_progress(nl_progress_fn fn, void *user);
/* Stopping long work: fn is polled on the calling thread after each batch
 * the model runs but the last (256 prompts; the model's batch of images,
 * 32 on the CPU by default, about a second for ViT-B/16), after each block
 * of 512 of a cached embedding (the cache's unit: every whole block stays
 * cached), between blocks of 256 images that nl_score scores on the CPU
 * (and between AdaNeg's and OODD's batches), while waiting (another
 * process's cache lock, a pipe's writer, a wait between Hub attempts), and
 * during a download from the Hub (a few times a second, also while no data
 * comes; the bytes received are kept to resume); when it
 * returns non-zero, the call stops and fails with NL_ERR_CANCELLED
 * (message "cancelled", or naming the download). Process-wide, as
 * nl_set_log; NULL (the default): never. The Python package stops a call
 * so on Ctrl-C. */
typedef int (*nl_cancel_fn)(void *user);
NL_API void nl_set_cancel(nl_cancel_fn fn, void *user);

/* ------------------------------------------------------- labels and files */

/* A growable list of owned strings. */
typedef struct { char **v; size_t n, cap; } nl_strvec;
NL_API int nl_strvec_push(nl_strvec *s, const char *str); /* copies */
NL_API int nl_strvec_push_owned(nl_strvec *s, char *str); /* takes ownership (frees on error); NULL str: -1 */
NL_API void nl_strvec_free(nl_strvec *s);

/* Non-empty lines of a UTF-8 text file (a line ends in LF, CRLF or CR;
 * surrounding spaces and tabs trimmed; invalid UTF-8 or NUL bytes are errors
 * naming the line). */
NL_API int nl_read_lines(const char *path, nl_strvec *out);
/* ID class names: at least one. A duplicate is an error naming both entries
 * unless allow_duplicates (CLIP's ImageNet names repeat "missile" and
 * "sunglasses"; two such classes are indistinguishable), then a warning. */
NL_API int nl_read_id_labels(const char *path, int allow_duplicates, nl_strvec *out);

/* Image paths of a dataset: a folder (walked recursively, sorted, files
 * with image extensions; symbolic links followed, a folder reached twice
 * walked once, with a warning; an entry that cannot be stat'ed, such as a
 * dangling link, is listed when it has an image's name (the embedding then
 * reports it unreadable), else named in a warning) or a list file (one
 * path per line, relative to the list's folder, any bytes but NUL: unlike
 * nl_read_lines, not checked as UTF-8). Empty is an error. */
NL_API int nl_collect_images(const char *spec, nl_strvec *out);

/* ------------------------------------------------ prompts and the cache */

/* Default prompt templates (the NegLabel reference's). */
#define NL_TEMPLATE_NOUN "the nice {}"
#define NL_TEMPLATE_ADJ "This is a {} photo"
#define NL_TEMPLATE_MCM "a photo of a {}"
/* tmpl.format(word) as Python computes it (malloc'd): "{}" (or "{0}", which
 * may repeat) is the word, "{{" and "}}" literal braces. An error, as in
 * Python, for a second "{}", a lone brace or any other field; and for a
 * template without "{}". */
NL_API char *nl_apply_template(const char *tmpl, const char *word);

/* Prompt templates: ID labels and nouns share one ensemble (the reference
 * uses "the nice {}" for both); adjectives have their own. */
typedef struct {
    const char *const *noun; size_t n_noun;
    const char *const *adj; size_t n_adj;
    const char *mcm; /* MCM's ID prompt, "a photo of a {}" */
    /* CSP's scheme (0 in nl_templates_default): raw_mean = each label's
     * embedding is the mean of its RAW prompt embeddings, normalised once
     * (nl_embed_words_raw) instead of the mean of normalised ones;
     * conjugate = each adjective becomes a superclass phrase drawn with
     * Python's random.seed(conjugate_seed) (nl_csp_phrases) before the
     * adjective templates are applied. */
    int raw_mean, conjugate;
    uint64_t conjugate_seed;
} nl_templates;
NL_API nl_templates nl_templates_default(void);
/* CSP's: its 8 noun templates (ID labels and nouns), 4 adjective templates,
 * raw_mean and conjugate on, seed 0. */
NL_API nl_templates nl_templates_csp(void);

/* Embedding with the on-disk cache (docs/cache.md). Every function taking
 * one also takes NULL: no cache, not quiet. */
typedef struct {
    const char *cache_dir; /* NULL: no cache */
    int quiet;             /* no INFO messages about the cache */
} nl_embed_opts;

/* Normalised embeddings of words under a template ensemble: each template's
 * prompt embedding is L2-normalised, the mean is renormalised (one template:
 * just the normalised embedding). Cached per prompt. out: n x dim. */
NL_API int nl_embed_words(nl_model *m, const nl_embed_opts *o, const char *const *words, size_t n,
                   const char *const *templates, size_t n_templates, float *out);
/* CSP's ensemble: each word's embedding is the mean over the templates of
 * its raw (unnormalised) prompt embeddings, L2-normalised once, in double
 * (nl_ensemble_raw). Cached per prompt like nl_embed_words. */
NL_API int nl_embed_words_raw(nl_model *m, const nl_embed_opts *o, const char *const *words, size_t n,
                              const char *const *templates, size_t n_templates, float *out);
/* Normalised embeddings of ready-made prompts (cached). */
NL_API int nl_embed_prompts(nl_model *m, const nl_embed_opts *o, const char *const *prompts, size_t n, float *out);
/* Normalised image embeddings (cached by path, size, mtime). status[i] -1 and
 * errors[i] (malloc'd) for images that failed; rows of those are zero.
 * status NULL: the first image that fails fails the call (its message). */
NL_API int nl_embed_image_files(nl_model *m, const nl_embed_opts *o, nl_resample resample, const char *const *paths,
                         size_t n, float *out, int *status, char **errors);
/* The same, keeping only the readable images: their rows are packed at the
 * top of out (n x dim capacity) and good[0..*n_good) (n entries of room)
 * lists their indices in order. Each unreadable image is a warning (log)
 * and, with skipped non-NULL, its path is appended there; with strict it is
 * an error instead. None readable is an error. */
NL_API int nl_embed_image_files_readable(nl_model *m, const nl_embed_opts *o, nl_resample resample,
                                         const char *const *paths, size_t n, int strict, float *out, size_t *good,
                                         size_t *n_good, nl_strvec *skipped);

/* ------------------------------------------------------- negatives files */

/* Written by nl_negatives_write / `neglabel mine`: a "# neglabel negatives
 * ..." header line (model fingerprint, dim, templates), then TSV
 * pos<TAB>word<TAB>prompt<TAB>quantile_similarity. Also read: a plain list
 * of prompts, one per line (like the authors' selected-label file). */
typedef struct {
    nl_strvec words;     /* the word (plain lists: the prompt itself) */
    nl_strvec prompts;   /* the prompt as embedded (first template) */
    uint8_t *pos;        /* nl_pos per entry (plain lists: NOUN) */
    char *model;         /* fingerprint from the header, or NULL */
    int dim;             /* from the header, or 0 */
    nl_strvec noun_templates, adj_templates; /* from the header, or empty */
    int raw_mean;        /* header "ensemble=raw": embed with nl_embed_words_raw (CSP) */
} nl_negatives;
NL_API int nl_negatives_read(const char *path, nl_negatives *out);
/* Write (header + TSV), atomically: at least one entry (what
 * nl_negatives_read takes), dim >= 0; qsim (optional): each entry's quantile
 * similarity. */
NL_API int nl_negatives_write(const char *path, const nl_negatives *neg, const double *qsim);
NL_API void nl_negatives_free(nl_negatives *n);
/* Embed negatives (templates of the file when it has them) after checking
 * that the file was mined with this model. out: n x dim, normalised, n =
 * words.n, which must equal prompts.n (as nl_negatives_read fills them). */
NL_API int nl_negatives_embed(nl_model *m, const nl_embed_opts *o, const char *path, const nl_negatives *neg, float *out);
/* The ID labels' templates for negatives read from a file. ID labels and
 * nouns share one template ensemble, so when the file records its noun
 * templates (every file `mine` writes does), the ID labels are embedded with
 * those and the file's ensemble (raw or normalised): with given 0, t's noun
 * templates and raw_mean become the file's (t->noun then points into neg:
 * keep it while t is used); with given 1 (the caller chose t's templates),
 * they must be the file's, else -1 with a message naming the file and both.
 * A file without templates (a list of prompts) leaves t as it is. Before
 * 2026-12, score and eval embedded the ID labels with the default template
 * whatever the file said. */
NL_API int nl_templates_for_negatives(nl_templates *t, int given, const nl_negatives *neg, const char *path);

/* NegMining from a model: load the corpus, drop the candidates equal
 * to a word of drop in the corpus's form (ASCII case ignored, '_' as a
 * space, ends stripped; NULL: none; the ID class names with
 * --remove-id-labels), embed every candidate (cached), run nl_mine
 * where the model runs. id_emb: the normalised ID embeddings. Fills neg
 * (words, prompts, pos, templates, model fingerprint) and, when emb is
 * non-NULL, *emb (malloc'd, neg->words.n x dim, normalised). qsim
 * (optional) receives the selected labels' quantile similarities.
 * With t->conjugate, adjectives are replaced by CSP's phrases (drawn over
 * the whole corpus, before drop) and the negatives' words are the phrases;
 * with t->raw_mean, candidates are embedded with nl_embed_words_raw. */
/* nl_mine_model's checks that need no model: the mining parameters (mp
 * NULL: the defaults) and the templates' text; with nl_corpus_check, for a
 * caller to fail fast before loading a model. 0 or -1. */
NL_API int nl_mine_check(const nl_mine_params *mp, const nl_templates *t);
NL_API int nl_mine_model(nl_model *m, const nl_embed_opts *o, const float *id_emb, size_t n_id, const nl_corpus_params *cp,
                  const nl_strvec *drop, const nl_mine_params *mp, const nl_templates *t, nl_negatives *neg,
                  float **emb, double **qsim);

/* ---------------------------------------------------------------- CSP */

/* CSP's label texts (docs/methods.md). Its candidates are the word lists
 * without noun.person, noun.quantity, noun.group and adj.pert
 * (nl_csp_exclude, an exclude list for nl_corpus_params with absent_ok
 * set, as a folder may lack some); each adjective is "conjugated" with one of 14
 * superclass phrases ("{} environment", ...) drawn with Python's
 * random.seed(seed); random.choice in corpus order (CSP's seed 0).
 * out (n entries, malloc'd strings) receives each candidate's text: the
 * noun itself, or the adjective's phrase. Prompts: nouns and ID labels
 * with the 8 nl_csp_noun_templates, phrases with the 4
 * nl_csp_adj_templates; each label's embedding is the mean of its RAW
 * prompt embeddings, normalised once (nl_ensemble_raw). */
NL_API const char *const *nl_csp_exclude(size_t *n);
NL_API const char *const *nl_csp_noun_templates(size_t *n);
NL_API const char *const *nl_csp_superclasses(size_t *n);
NL_API const char *const *nl_csp_adj_templates(size_t *n);
NL_API int nl_csp_phrases(const nl_corpus *c, uint64_t seed, nl_strvec *out);
/* raw: n_templates blocks of n rows (template-major, as the reference's
 * view(n_templates, n, dim)); out[i] = normalise(mean_t raw[t][i]), in
 * double, rounded to float once. A zero mean stays zero. */
NL_API int nl_ensemble_raw(const float *raw, size_t n, size_t n_templates, size_t dim, float *out);

/* ---------------------------------------------------------------- eval */

typedef struct {
    const char *model_dir, *id_labels, *id_spec;
    nl_model_params model;           /* device, precision, batch, threads */
    const char *const *ood_names; const char *const *ood_specs; size_t n_ood;
    /* The methods to run, in report order, each at most once; none: NegLabel
     * and MCM. NegLabel, AdaNeg and OODD share one set of negatives (mined
     * with corpus, mine and templates, or read from negatives); CSP mines
     * its own with csp_corpus, csp_mine and csp_templates. */
    nl_method methods[NL_METHOD_COUNT]; size_t n_methods;
    nl_score_params score[NL_METHOD_COUNT]; /* indexed by nl_method */
    const char *negatives;           /* NULL: mine */
    nl_corpus_params corpus, csp_corpus;
    nl_mine_params mine, csp_mine;
    nl_templates templates, csp_templates;
    /* 1: templates were chosen by the caller, so with a negatives file they
     * must be its own; 0 (default): the file's are used
     * (nl_templates_for_negatives) */
    int templates_given;
    /* AdaNeg and OODD score each OOD set as one stream: the ID images then
     * the set's, in the order np.random.seed(stream_seed);
     * np.random.permutation(N) gives (OODD's reference, seed 110). */
    uint64_t stream_seed;
    nl_fpr_convention convention;
    nl_resample resample;
    const char *out_dir;             /* results.json, scores.csv, report.html, negatives*.tsv */
    nl_embed_opts embed;
    int strict;                      /* unreadable images are fatal */
    int allow_duplicate_labels;
    int remove_id_labels;            /* drop ID class names from the candidates */
    int n_examples;                  /* example images per set in the report, 0..NL_EVAL_MAX_EXAMPLES */
} nl_eval_params;

#define NL_EVAL_MAX_EXAMPLES 100

/* NegLabel and MCM with their defaults; CSP's corpus exclusions (its word
 * lists': nl_csp_exclude; a WordNet database also leaves out noun.animal
 * and noun.food, see nl_corpus_load), its mining
 * (max_cut 0.95) and templates (nl_templates_csp); stream_seed 110;
 * 6 examples; WordNet in /usr/share/wordnet. */
NL_API nl_eval_params nl_eval_default_params(void);

/* One image set's outcome: for OOD sets, each method's metrics against the
 * ID set (for AdaNeg and OODD, the ID images' scores in that set's
 * stream). */
typedef struct {
    char *name;
    size_t n_images;                        /* images scored (unreadable ones skipped) */
    nl_metrics metrics[NL_METHOD_COUNT];    /* indexed by nl_method; NaN for methods not run */
    nl_method best;                         /* lowest FPR95 (then highest AUROC) of the methods run */
} nl_eval_set;

typedef struct {
    nl_eval_set id;
    nl_eval_set *ood; size_t n_ood;
    nl_method methods[NL_METHOD_COUNT]; size_t n_methods;
    nl_eval_set average;                    /* means over the OOD sets */
    size_t n_id_labels, n_negatives, n_negatives_csp, n_skipped;
    nl_fpr_convention convention;
    double seconds;
} nl_eval_result;

/* The evaluation end to end: labels, negatives (mined or read), embeddings
 * (cached), scores, metrics, and the report files in out_dir. result
 * (optional) receives the table's numbers (free with nl_eval_result_free). */
NL_API int nl_eval(const nl_eval_params *p, nl_eval_result *result);
NL_API void nl_eval_result_free(nl_eval_result *r);
/* One line explaining an FPR95 convention (for tables); "unknown convention"
 * for a value outside the enum. */
NL_API const char *nl_fpr_convention_text(nl_fpr_convention c);

#ifdef __cplusplus
}
#endif
#endif
