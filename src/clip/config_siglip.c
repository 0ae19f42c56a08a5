/* config_siglip.c — SigLIP's config.json (transformers' SiglipConfig,
 * model_type "siglip": SiglipTextConfig and SiglipVisionConfig) and its
 * image processor (SiglipImageProcessor: both sides resized, x/255,
 * normalised). Missing keys take transformers' defaults
 * (configuration_siglip.py, image_processing_pil_siglip.py); configs
 * transformers could not run, or whose embeddings neglabel would not
 * compute as it does, are refused naming the key. */
#include "clip.h"
#include "config_json.h"
#include "neglabel.h"
#include "util.h"

#include <jansson.h>
#include <string.h>

static void siglip_defaults(nli_clip_config *cfg) {
    nli_tower_config *t = &cfg->text, *v = &cfg->vision;
    t->vocab_size = 32000;
    t->hidden_size = v->hidden_size = 768;
    t->intermediate_size = v->intermediate_size = 3072;
    t->num_hidden_layers = v->num_hidden_layers = 12;
    t->num_attention_heads = v->num_attention_heads = 12;
    t->max_position_embeddings = 64;
    t->quick_gelu = v->quick_gelu = 0;
    t->gelu_tanh = v->gelu_tanh = 1;
    t->layer_norm_eps = v->layer_norm_eps = 1e-6;
    t->pad_token_id = 1;
    t->bos_token_id = 49406;
    t->eos_token_id = 49407;
    v->num_channels = 3;
    v->image_size = 224;
    v->patch_size = 16;
    cfg->siglip = 1;
    /* SiglipImageProcessor: 224 x 224 (both sides), bicubic, mean and std 0.5 */
    for (int i = 0; i < 3; i++) cfg->image_mean[i] = cfg->image_std[i] = 0.5f;
    cfg->resample_default = NL_RESAMPLE_BICUBIC;
    cfg->resize_mode = NLI_RESIZE_SQUASH;
}

/* A boolean key that must be absent, null or `want`. */
static int want_bool(json_t *o, const char *s, const char *key, int want, const char *why) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) { nli_seterr("%s%s must be true or false", s, key); return -1; }
    if (json_is_true(v) != want) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s%s %s is not supported: %s", s, key, want ? "false" : "true", why);
        return -1;
    }
    return 0;
}

int nli_siglip_config_load(json_t *root, const char *path, const char *dir, nli_clip_config *cfg) {
    siglip_defaults(cfg);
    const char *tk = "text_config", *vk = "vision_config";
    json_t *t = json_object_get(root, tk), *v = json_object_get(root, vk);
    int proj = -1;
    if (nli_cfg_get_tower(t, tk, 1, &cfg->text) || nli_cfg_get_tower(v, vk, 0, &cfg->vision) ||
        (json_is_object(t) && nli_cfg_get_int(t, "text_config.", "projection_size", 1, 16384, &proj)) ||
        (json_is_object(v) && want_bool(v, "vision_config.", "vision_use_head", 1,
                                        "without its attention-pooling head SigLIP gives no image embedding"))) {
        nli_prefixerr("%s", path);
        return -1;
    }
    /* the image embedding is the head's output (the vision width); the
     * text's is text_model.head's (projection_size, default the text width) */
    if (proj < 0) proj = cfg->text.hidden_size;
    cfg->projection_dim = cfg->vision.hidden_size;
    if (proj != cfg->projection_dim) {
        nli_seterr("%s: text_config.projection_size %d differs from vision_config.hidden_size %d (the image "
                   "embedding's width): their cosines are undefined", path, proj, cfg->projection_dim);
        return -1;
    }
    if (cfg->text.pad_token_id >= cfg->text.vocab_size) {
        nli_seterr("%s: text_config.pad_token_id %d is outside the vocabulary (%d): texts are padded with it", path,
                   cfg->text.pad_token_id, cfg->text.vocab_size);
        return -1;
    }
    cfg->crop_floor = 1;
    return nli_cfg_preprocessor_file(dir, cfg, nli_cfg_clip_preprocessor, NULL);
}
