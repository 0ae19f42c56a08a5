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
    int quick_gelu; /* hidden_act: 1 quick_gelu, 0 gelu (exact erf, or tanh's when gelu_tanh) */
    int gelu_tanh;  /* hidden_act gelu_pytorch_tanh / gelu_new: GELU's tanh approximation (SigLIP) */
    int pool_argmax; /* text: pool at the argmax of the ids (OpenCLIP; HF eos_token_id 2) */
} nli_tower_config;

/* Vision architectures. */
enum { NLI_ARCH_VIT = 0, NLI_ARCH_RESNET = 1, NLI_ARCH_GROUPVIT = 2, NLI_ARCH_EFFNET = 3 };
/* Text towers: CLIP's causal transformer, AltCLIP's XLM-R (RoBERTa:
 * post-LN, bidirectional, pooled at <s>) or ALIGN's BERT (the same layers,
 * positions from 0, pooled at [CLS] through text_projection alone; both
 * clip_roberta.c). */
enum { NLI_TEXT_CLIP = 0, NLI_TEXT_ROBERTA = 1, NLI_TEXT_BERT = 2 };
/* ALIGN's EfficientNet (transformers' AlignVisionConfig): its base stages
 * before depth_coefficient repeats them, and its blocks after. */
#define NLI_EN_MAX_STAGES 16
#define NLI_EN_MAX_BLOCKS 256
typedef struct {
    int stages, kernel[NLI_EN_MAX_STAGES], cin[NLI_EN_MAX_STAGES], cout[NLI_EN_MAX_STAGES];
    int stride[NLI_EN_MAX_STAGES], repeats[NLI_EN_MAX_STAGES], expand[NLI_EN_MAX_STAGES];
    double width_coefficient, depth_coefficient, se_ratio, bn_eps;
    int depth_divisor, hidden_dim, pool_max, stem; /* stem: round_filters(32) */
    /* per block (index as transformers counts them): listed in
     * depthwise_padding (its stride-2 padding not adjusted) */
    unsigned char no_adjust[NLI_EN_MAX_BLOCKS];
} nli_effnet_config;
/* transformers' round_filters: channels * width_coefficient to a multiple
 * of depth_divisor, never under 90% of it (config_align.c). */
long long nli_effnet_filters(const nli_effnet_config *e, int channels);
/* The side a block's depthwise convolution (kernel k, stride) makes of an
 * s-pixel map (block < 0: the stem's, of s-pixel images); 0 when the map
 * is smaller than the kernel. Block: its index as transformers counts them
 * (depthwise_padding). */
int nli_effnet_side(const nli_effnet_config *e, int block, int k, int stride, int s);
/* GroupViT's grouping stages (transformers' GroupViTVisionConfig). */
#define NLI_GV_MAX_STAGES 4
/* Folder formats. */
enum { NLI_FORMAT_HF = 0, NLI_FORMAT_OPENCLIP = 1 };
/* OpenCLIP's preprocess_cfg resize_mode (src/clip/image_resize.c). */
typedef enum { NLI_RESIZE_SHORTEST = 0, NLI_RESIZE_LONGEST = 1, NLI_RESIZE_SQUASH = 2 } nli_resize_mode;
/* OR'ed into a resize mode: centre-crop offsets as transformers'
 * image_transforms.center_crop computes them, (len - size) // 2, instead of
 * torchvision's int(round((len - size) / 2)) (half to even): the two differ
 * by one pixel when len - size is 3 mod 4 (e.g. a 640x427 image, resized
 * to 335x224). */
#define NLI_RESIZE_CROP_FLOOR 0x100
/* OR'ed into NLI_RESIZE_SQUASH: both sides resized to r (1..16384), then
 * the centre crop (EfficientNetImageProcessor's size and crop_size). */
#define NLI_RESIZE_SQUASH_TO(r) ((r) << 12)
#define NLI_RESIZE_SQUASH_SIZE(mode) (((mode) >> 12) & 0x7fff)

typedef struct {
    nli_tower_config text, vision;
    int projection_dim;
    float image_mean[3], image_std[3]; /* preprocessor_config.json or OpenAI's */
    int resample_default;              /* nl_resample from preprocessor_config */
    char dtype[8];                     /* "F32", "F16", "BF16" (weights on disk) */
    int format;                        /* NLI_FORMAT_*: which folder layout was read */
    int arch;                          /* NLI_ARCH_*: the vision tower */
    /* ResNet (ModifiedResNet): blocks per stage and the stem width; vision
     * hidden_size is the attention pool's width (width * 32), heads its heads,
     * patch_size 32 (the total stride), num_hidden_layers the block count. */
    int rn_layers[4], rn_width;
    /* GroupViT (model_type "groupvit"): per stage its layers, group tokens
     * and output groups (depths, num_group_tokens, num_output_groups); the
     * token and channel widths of the grouping MLPs (assign_mlp_ratio *
     * hidden_size), assign_eps; both projections are Linear -> BatchNorm1d
     * -> ReLU -> Linear with projection_intermediate_dim between. */
    int gv_stages, gv_depths[NLI_GV_MAX_STAGES], gv_groups[NLI_GV_MAX_STAGES], gv_out_groups[NLI_GV_MAX_STAGES];
    int gv_tokens_dim, gv_channels_dim, proj_intermediate;
    double gv_assign_eps;
    /* AltCLIP (model_type "altclip"): text_arch NLI_TEXT_ROBERTA, its
     * transformation's width (text_config.project_dim) and token types */
    int text_arch, text_project_dim, text_type_vocab;
    /* ALIGN (model_type "align"): arch NLI_ARCH_EFFNET, text_arch
     * NLI_TEXT_BERT; vision.image_size is the crop, resize_to the side both
     * sides are resized to before it (EfficientNetImageProcessor's size) */
    nli_effnet_config en;
    int resize_to;
    /* SigLIP (model_type "siglip"): a ViT without class token or
     * pre-LayerNorm whose patch embedding has a bias, pooled by its
     * attention-pooling head (MAP) into the image embedding; a text tower
     * without causal mask, every text padded to the context with
     * pad_token_id and pooled at the last position through text_model.head
     * (with its bias). projection_dim is the vision width. clip_siglip.c. */
    int siglip;
    nli_resize_mode resize_mode;       /* OpenCLIP preprocess_cfg; HF: shortest */
    int fill_color;                    /* longest: padding value (0..255) */
    int crop_floor;                    /* HF: CLIPImageProcessor's crop offsets (NLI_RESIZE_CROP_FLOOR) */
} nli_clip_config;

/* OpenCLIP folders (config_openclip.c): open_clip_config.json, with
 * open_clip_model.safetensors, or without a Hugging Face CLIP config.json
 * (none, or timm's; else the folder is read as a Hugging Face one). */
int nli_is_openclip_dir(const char *dir);
/* Which files a folder holding both layouts is read by: AUTO, the rule of
 * nli_is_openclip_dir (a folder given by path); HF or OPENCLIP, decided by
 * how a Hub model was named (nl_model_resolve: "org/name" is what
 * transformers loads, "hf-hub:org/name" what open_clip loads), so that
 * what another tool put in the same snapshot changes nothing. */
typedef enum { NLI_LAYOUT_AUTO = 0, NLI_LAYOUT_HF = 1, NLI_LAYOUT_OPENCLIP = 2 } nli_layout;
/* nl_model_resolve, also saying which layout to read (src/app/hub_download.c). */
char *nli_model_resolve_layout(const char *name, nli_layout *layout);
/* config.json at path is a Hugging Face CLIP config: a JSON object with
 * model_type "clip" or a text_config / vision_config (or their *_dict);
 * timm's config.json (timm/ repositories) is not. 1, 0 (not, or not JSON),
 * -1 unreadable (error set). */
int nli_hf_config_is_clip(const char *path);
/* dir holds a config.json that is a Hugging Face CLIP config, or one that
 * cannot be read (counted as one, so that loading it reports the error):
 * the rule both layouts' checks share (a folder's, a Hub snapshot's). */
int nli_dir_has_hf_clip_config(const char *dir);
/* Parse open_clip_config.json's model_cfg and preprocess_cfg as open_clip
 * resolves them; anything we do not implement is refused by name. */
int nli_openclip_config_load(const char *dir, nli_clip_config *cfg);

/* Parse config.json (+ preprocessor_config.json if present) in dir, filling
 * Hugging Face's CLIPTextConfig / CLIPVisionConfig defaults. */
/* Hugging Face's CLIPConfig defaults (and OpenAI's preprocessing: mean/std,
 * bicubic, shorter side and crop). */
void nli_clip_config_defaults(nli_clip_config *cfg);
int nli_clip_config_load(const char *dir, nli_layout layout, nli_clip_config *cfg);
/* "ViT", "ModifiedResNet", "GroupViT", "AltCLIP", "ALIGN" or "SigLIP" (config.c). */
const char *nli_clip_arch_name(const nli_clip_config *c);
/* GroupViT, AltCLIP and ALIGN: no CUDA engine, no CPU bf16 path. */
int nli_clip_cpu_only(const nli_clip_config *c);
/* The Hugging Face files alone (config.json and the preprocessing), also in
 * a folder that has open_clip_config.json too. */
int nli_hf_config_load(const char *dir, nli_clip_config *cfg);

typedef struct nli_clip nli_clip;

/* Load config and weights from a Hugging Face CLIP folder. Every tensor is
 * validated (present, known dtype, shape implied by the config, byte range
 * inside its file); weights are converted to float32. */
nli_clip *nli_clip_load(const char *dir, int n_threads);
void nli_clip_free(nli_clip *c);
const nli_clip_config *nli_clip_get_config(const nli_clip *c);
size_t nli_clip_param_count(const nli_clip *c);
/* The weight files the load read (paths as opened: one file, or an index's
 * shards in its order); *n of them. */
const char *const *nli_clip_weight_files(const nli_clip *c, int *n);

/* pixels: n images, each CHW float32 normalised, image_size^2*3 values.
 * out: n * projection_dim (projections, not normalised). */
int nli_clip_encode_images(nli_clip *c, const float *pixels, size_t n, float *out);

/* ids[i] has lens[i] tokens (SOT ... EOT, at most max_position_embeddings).
 * Pools at the first EOT (eos_token_id), or at argmax(ids) when
 * eos_token_id == 2, as transformers does. Only tokens up to the pooled
 * position are run (exact under the causal mask). */
int nli_clip_encode_texts(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out);
/* The same on the GPU (nli_clip_use_device), asynchronous: submit queues
 * n <= NLI_CUDA_TEXT_SLOT texts on slot 0 or 1 and returns (ids may be
 * freed then); collect waits for the slot and writes its embeddings to out
 * (NULL: drops them). See nli_cuda_texts_submit. */
int nli_clip_texts_submit(nli_clip *c, int slot, const int32_t *const *ids, const size_t *lens, size_t n);
int nli_clip_texts_collect(nli_clip *c, int slot, float *out);

/* Internal entries (engine tests and tools). */
/* Like nli_clip_load, with the weights taken from one explicit safetensors
 * file instead of dir's model.safetensors / sharded index. */
nli_clip *nli_clip_load_file(const char *dir, const char *weights_path, int n_threads);
/* Either of the two (weights_path NULL: from dir; layout: which files of
 * dir, nli_layout); bf16: packed for the
 * CPU's bf16 kernels while loading, as nli_clip_use_bf16(c, 1) packs them,
 * but without ever holding all the float32 matrices at once: the float32
 * copies of the packed matrices are given back, so the clip cannot go back
 * to float32 (nli_clip_use_bf16(c, 0) fails) nor to a GPU. -1 like
 * nli_clip_use_bf16 where the CPU has no native bf16. */
nli_clip *nli_clip_load_ex(const char *dir, const char *weights_path, int n_threads, int bf16, nli_layout layout);
/* Like nli_clip_encode_texts, but each text is padded with id 0 after its
 * last token to max_position_embeddings and the full causal pass is run;
 * the result must equal nli_clip_encode_texts (proves the truncation). */
int nli_clip_encode_texts_padded(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out);
/* Run the towers on CUDA device `index` (cuda/clip_cuda.h) with `precision`
 * (nl_precision: 1 fp32, 2 fp16, 3 bf16) and up to max_batch images per
 * forward pass (0: sized from free memory); the encode functions above then
 * dispatch there. index < 0: back to the CPU. */
int nli_clip_use_device(nli_clip *c, int index, int precision, int max_batch);
struct nli_cuda_clip *nli_clip_gpu(const nli_clip *c);
/* CPU towers in bf16 (on): the linear layers, the patch embedding and the
 * attention products take bf16 operands with float32 sums; LayerNorm,
 * softmax, activations, residuals and the final projection stay float32.
 * Packs the weights once (-1, error set: out of memory, or no native bf16
 * on this CPU). off: back to float32, the packed copies freed (-1 for a
 * clip loaded packed, nli_clip_load_ex). */
int nli_clip_use_bf16(nli_clip *c, int on);
/* Tests (per-layer checks against transformers' hidden states): while buf
 * is set, encoding ONE image or text on the CPU also writes (layers + 2)
 * blocks of T x hidden floats to buf: [0] the first block's input (the
 * embeddings; vision: after pre_layrnorm, as transformers' hidden_states[0]),
 * [1..layers] each block's output, and [layers + 1]:
 * vision, the pooled output after post_layernorm (first hidden floats;
 * SigLIP: post_layernorm of every token, transformers' last_hidden_state);
 * text, the final LayerNorm of every position. T: the image's tokens, or
 * the text's tokens up to the pooled one. NULL: off. */
void nli_clip_capture(nli_clip *c, float *buf);
/* logit_scale as stored in the checkpoint (log of 1/temperature). */
float nli_clip_logit_scale(const nli_clip *c);
#endif
