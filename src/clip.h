/* clip.h — CLIP configuration, weights and the two forward passes. */
#ifndef NEGLABEL_CLIP_H
#define NEGLABEL_CLIP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int hidden_size, intermediate_size, num_hidden_layers, num_attention_heads;
    int max_position_embeddings, vocab_size; /* text only */
    int eos_token_id, bos_token_id, pad_token_id; /* text only */
    int image_size, patch_size, num_channels;  /* vision only */
    double layer_norm_eps;
    int quick_gelu; /* hidden_act: 1 quick_gelu, 0 gelu (exact erf) */
} nl_tower_config;

typedef struct {
    nl_tower_config text, vision;
    int projection_dim;
    float image_mean[3], image_std[3]; /* preprocessor_config.json or OpenAI's */
    int resample_default;              /* nl_resample from preprocessor_config */
    char dtype[8];                     /* "F32", "F16", "BF16" (weights on disk) */
} nl_clip_config;

/* Parse config.json (+ preprocessor_config.json if present) in dir, filling
 * Hugging Face's CLIPTextConfig / CLIPVisionConfig defaults. */
int nl_clip_config_load(const char *dir, nl_clip_config *cfg);

typedef struct nl_clip nl_clip;

/* Load config and weights from a Hugging Face CLIP folder. Every tensor is
 * validated (present, known dtype, shape implied by the config, byte range
 * inside its file); weights are converted to float32. */
nl_clip *nl_clip_load(const char *dir, int n_threads);
void nl_clip_free(nl_clip *c);
const nl_clip_config *nl_clip_get_config(const nl_clip *c);
size_t nl_clip_param_count(const nl_clip *c);

/* pixels: n images, each CHW float32 normalised, image_size^2*3 values.
 * out: n * projection_dim (projections, not normalised). */
int nl_clip_encode_images(nl_clip *c, const float *pixels, size_t n, float *out);

/* ids[i] has lens[i] tokens (SOT ... EOT, at most max_position_embeddings).
 * Pools at the first EOT (eos_token_id), or at argmax(ids) when
 * eos_token_id == 2, as transformers does. Only tokens up to the pooled
 * position are run (exact under the causal mask). */
int nl_clip_encode_texts(nl_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out);

/* Internal entries (engine tests and tools). */
/* Like nl_clip_load, with the weights taken from one explicit safetensors
 * file instead of dir's model.safetensors / sharded index. */
nl_clip *nl_clip_load_file(const char *dir, const char *weights_path, int n_threads);
/* Like nl_clip_encode_texts, but each text is padded with id 0 after its
 * last token to max_position_embeddings and the full causal pass is run;
 * the result must equal nl_clip_encode_texts (proves the truncation). */
int nl_clip_encode_texts_padded(nl_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out);
/* Run the towers on CUDA device `index` (nl_cuda.h) with `precision`
 * (nl_precision: 1 fp32, 2 fp16, 3 bf16) and up to max_batch images per
 * forward pass (0: sized from free memory); the encode functions above then
 * dispatch there. index < 0: back to the CPU. */
int nl_clip_use_device(nl_clip *c, int index, int precision, int max_batch);
struct nl_cuda_clip *nl_clip_gpu(const nl_clip *c);
/* logit_scale as stored in the checkpoint (log of 1/temperature). */
float nl_clip_logit_scale(const nl_clip *c);
#endif
