/* config_openclip.c — open_clip_config.json (OpenCLIP Hub folders):
 * {"model_cfg": {...}, "preprocess_cfg": {...}}, resolved as open_clip 3.x
 * resolves them (model.py CLIPVisionCfg / CLIPTextCfg defaults,
 * transform.py PreprocessCfg). We implement the plain CLIP: a ViT or a
 * ModifiedResNet vision tower, the causal text transformer pooled at the
 * argmax token, linear projections. Every other option is refused by name
 * unless it holds its default (or a false/null/0 value), so a config we
 * would compute differently never loads silently. */
#include "clip.h"
#include "config_json.h"
#include "neglabel.h"
#include "util.h"

#include <math.h>
#include <string.h>

#define CONFIG_NAME "open_clip_config.json"

static int has_file(const char *dir, const char *name) {
    char *p = nli_path_join(dir, name);
    int yes = p && nli_file_exists(p);
    free(p);
    return yes;
}

/* open_clip_config.json, and its weights or no Hugging Face CLIP config: a
 * Hub snapshot that transformers filled (config.json, model.safetensors)
 * and an older open_clip added its config and .bin to is read as what it
 * has whole, the Hugging Face model (transformers reads it so too); timm's
 * config.json beside them (timm/ repositories) is no CLIP config. */
int nli_dir_has_hf_clip_config(const char *dir) {
    if (!has_file(dir, "config.json")) return 0;
    char *p = nli_path_join(dir, "config.json");
    int clip = p ? nli_hf_config_is_clip(p) : -1;
    free(p);
    return clip != 0;
}

int nli_is_openclip_dir(const char *dir) {
    if (!has_file(dir, CONFIG_NAME)) return 0;
    return has_file(dir, "open_clip_model.safetensors") || !nli_dir_has_hf_clip_config(dir);
}

/* A key we read ourselves, or one whose default is harmless, with the
 * value that is the default (NULL: any value, e.g. training-only). */
typedef struct {
    const char *key, *dflt;
} known;

static int is_falsy(json_t *v) {
    return json_is_null(v) || json_is_false(v) || (json_is_integer(v) && json_integer_value(v) == 0) ||
           (json_is_real(v) && json_real_value(v) == 0.0) || (json_is_string(v) && !*json_string_value(v)) ||
           (json_is_object(v) && json_object_size(v) == 0) || (json_is_array(v) && json_array_size(v) == 0);
}

/* Every key of o: read by us (handled), holding its known default, or falsy;
 * anything else is a feature we do not implement. */
static int check_keys(json_t *o, const char *sect, const char *const *handled, const known *dflt) {
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int ok = 0;
        for (size_t i = 0; handled[i] && !ok; i++) ok = strcmp(handled[i], key) == 0;
        for (size_t i = 0; dflt[i].key && !ok; i++)
            if (strcmp(dflt[i].key, key) == 0)
                ok = !dflt[i].dflt || (json_is_string(v) && strcmp(json_string_value(v), dflt[i].dflt) == 0);
        if (!ok && is_falsy(v)) ok = 1;
        if (!ok) {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            char val[64];
            nli_sanitize(val, sizeof val, s ? s : "?");
            free(s);
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s%s = %s is not implemented (neglabel runs plain CLIP ViT and ModifiedResNet towers)",
                            sect, key, val);
            return -1;
        }
    }
    return 0;
}

/* image_size: an integer, or [h, w] with h == w. */
static int get_size(json_t *o, const char *sect, const char *key, int *out) {
    json_t *v = json_object_get(o, key);
    if (v && json_is_array(v)) {
        json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
        if (json_array_size(v) != 2 || !json_is_integer(a) || !json_is_integer(b) ||
            json_integer_value(a) != json_integer_value(b)) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s%s: only square sizes (an integer or [s, s]) are implemented", sect, key);
            return -1;
        }
        json_t *tmp = json_pack("{sO}", key, a);
        int rc = tmp ? nli_cfg_get_int(tmp, sect, key, 1, 4096, out) : -1;
        json_decref(tmp);
        return rc;
    }
    return nli_cfg_get_int(o, sect, key, 1, 4096, out);
}

static int get_ratio(json_t *o, const char *sect, double *out) {
    json_t *v = json_object_get(o, "mlp_ratio");
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v) || !(json_number_value(v) > 0 && json_number_value(v) <= 64)) {
        nli_seterr("%smlp_ratio must be a number in (0, 64]", sect);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static const known tower_defaults[] = {
    {"pool_type", NULL}, /* checked per tower below */
    {"pos_embed_type", "learnable"}, {"proj_type", "linear"}, {"patch_dropout", NULL},
    {"attn_pooler_queries", NULL}, {"attn_pooler_heads", NULL}, {"timm_pool", NULL}, {"timm_proj", NULL},
    {"timm_model_pretrained", NULL}, {"timm_drop", NULL}, {"timm_drop_path", NULL}, {"timm_proj_bias", NULL},
    {"hf_model_pretrained", NULL}, {"hf_proj_type", NULL}, {"hf_pooler_type", NULL}, {"pad_id", NULL},
    {"eos_id", NULL}, {"output_tokens", NULL}, {"block_type", "default"}, {NULL, NULL}};

static int get_vision(json_t *o, nli_clip_config *cfg) {
    static const char *const handled[] = {"layers", "width", "head_width", "mlp_ratio", "patch_size", "image_size", NULL};
    const char *s = "model_cfg.vision_cfg.";
    nli_tower_config *v = &cfg->vision;
    json_t *pool = json_object_get(o, "pool_type");
    if (pool && !json_is_null(pool) && !(json_is_string(pool) && strcmp(json_string_value(pool), "tok") == 0)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%spool_type: only \"tok\" (the class token) is implemented", s);
        return -1;
    }
    if (check_keys(o, s, handled, tower_defaults)) return -1;
    int width = 768, head_width = 64, patch = 16, size = 224, nlayers = 12;
    double ratio = 4.0;
    json_t *layers = json_object_get(o, "layers");
    if (nli_cfg_get_int(o, s, "width", 1, 16384, &width) || nli_cfg_get_int(o, s, "head_width", 1, 16384, &head_width) ||
        get_ratio(o, s, &ratio) || nli_cfg_get_int(o, s, "patch_size", 1, 4096, &patch) ||
        get_size(o, s, "image_size", &size))
        return -1;
    v->image_size = size;
    v->num_channels = 3;
    v->layer_norm_eps = 1e-5;
    if (layers && json_is_array(layers)) {
        /* ModifiedResNet: four stages of Bottleneck blocks */
        if (json_array_size(layers) != 4) { nli_seterr("%slayers: a ResNet has 4 stages", s); return -1; }
        int total = 0;
        for (size_t i = 0; i < 4; i++) {
            json_t *tmp = json_pack("{sO}", "layers", json_array_get(layers, i));
            int rc = tmp ? nli_cfg_get_int(tmp, s, "layers", 1, 64, &cfg->rn_layers[i]) : -1;
            json_decref(tmp);
            if (rc) return -1;
            total += cfg->rn_layers[i];
        }
        if (width < 2 || width % 2 || width > 1024) { nli_seterr("%swidth %d: a ResNet stem width must be even, 2 to 1024", s, width); return -1; }
        if (size % 32) { nli_seterr("%simage_size %d: a ResNet needs a multiple of 32", s, size); return -1; }
        /* the second stem convolution's im2col: 9/8 S^2 width floats for one
         * image (RN50x64 at 448 pixels: 29 Mi), bounded like the
         * EfficientNet's maps, for configs asking for huge images */
        if (1.125 * size * (double)size * width > 128.0 * (1 << 20)) {
            nli_seterr("%simage_size %d at width %d: one image's feature maps would pass 128 Mi floats (RN50x64 at 448 "
                       "pixels needs 29 Mi)", s, size, width);
            return -1;
        }
        cfg->arch = NLI_ARCH_RESNET;
        cfg->rn_width = width;
        v->hidden_size = width * 32;
        v->num_attention_heads = width * 32 / head_width;
        v->num_hidden_layers = total;
        v->patch_size = 32;
        v->intermediate_size = 0;
        if (v->num_attention_heads < 1 || v->hidden_size % v->num_attention_heads) {
            nli_seterr("%sthe attention pool's width %d is not divisible by its %d heads", s, v->hidden_size,
                       v->num_attention_heads);
            return -1;
        }
        return 0;
    }
    if (nli_cfg_get_int(o, s, "layers", 1, 256, &nlayers)) return -1;
    cfg->arch = NLI_ARCH_VIT;
    v->hidden_size = width;
    v->num_hidden_layers = nlayers;
    /* open_clip: heads = width // head_width, and nn.MultiheadAttention
     * needs width % heads == 0 (width 100, head_width 64: one head of 100) */
    v->num_attention_heads = width / head_width;
    v->intermediate_size = (int)(width * ratio);
    v->patch_size = patch;
    if (v->num_attention_heads < 1) {
        nli_seterr("%shead_width %d is wider than width %d (no attention head)", s, head_width, width);
        return -1;
    }
    if (width % v->num_attention_heads) {
        nli_seterr("%swidth %d is not divisible by its %d heads (width // head_width %d)", s, width,
                   v->num_attention_heads, head_width);
        return -1;
    }
    if (size % patch) { nli_seterr("%simage_size %d is not divisible by patch_size %d", s, size, patch); return -1; }
    if ((size / patch) * (size / patch) > 65536) { nli_seterr("%stoo many patches", s); return -1; }
    if (v->intermediate_size < 1) { nli_seterr("%smlp_ratio gives an empty MLP", s); return -1; }
    return 0;
}

static int get_text(json_t *o, nli_tower_config *t) {
    static const char *const handled[] = {"context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio", NULL};
    const char *s = "model_cfg.text_cfg.";
    json_t *pool = json_object_get(o, "pool_type");
    if (pool && !json_is_null(pool) && !(json_is_string(pool) && strcmp(json_string_value(pool), "argmax") == 0)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%spool_type: only \"argmax\" (the end-of-text token) is implemented", s);
        return -1;
    }
    if (check_keys(o, s, handled, tower_defaults)) return -1;
    int width = 512;
    double ratio = 4.0;
    t->num_hidden_layers = 12;
    t->num_attention_heads = 8;
    t->max_position_embeddings = 77;
    t->vocab_size = 49408;
    if (nli_cfg_get_int(o, s, "width", 1, 16384, &width) || nli_cfg_get_int(o, s, "heads", 1, 1024, &t->num_attention_heads) ||
        nli_cfg_get_int(o, s, "layers", 1, 256, &t->num_hidden_layers) || get_ratio(o, s, &ratio) ||
        nli_cfg_get_int(o, s, "context_length", 2, 4096, &t->max_position_embeddings) ||
        nli_cfg_get_int(o, s, "vocab_size", 1, 10000000, &t->vocab_size))
        return -1;
    t->hidden_size = width;
    t->intermediate_size = (int)(width * ratio);
    t->layer_norm_eps = 1e-5;
    t->pool_argmax = 1;
    t->bos_token_id = 49406;
    t->eos_token_id = 49407;
    t->pad_token_id = 0;
    if (width % t->num_attention_heads) {
        nli_seterr("%swidth %d is not divisible by heads %d", s, width, t->num_attention_heads);
        return -1;
    }
    if (t->intermediate_size < 1) { nli_seterr("%smlp_ratio gives an empty MLP", s); return -1; }
    return 0;
}

static int get_preprocess(json_t *o, nli_clip_config *cfg) {
    static const char *const handled[] = {"mean", "std", "interpolation", "resize_mode", "fill_color", "size", NULL};
    static const known dflt[] = {{"mode", "RGB"}, {NULL, NULL}};
    const char *s = "preprocess_cfg.";
    if (!o || json_is_null(o)) return 0;
    if (!json_is_object(o)) { nli_seterr("preprocess_cfg is not an object"); return -1; }
    if (check_keys(o, s, handled, dflt)) return -1;
    /* open_clip accepts one number for all three channels */
    const char *keys[2] = {"mean", "std"};
    float *dst[2] = {cfg->image_mean, cfg->image_std};
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (v && json_is_number(v)) {
            json_t *tmp = json_pack("{s[OOO]}", keys[k], v, v, v);
            int rc = tmp ? nli_cfg_get_triple(tmp, keys[k], k, dst[k]) : -1;
            json_decref(tmp);
            if (rc) { nli_prefixerr("preprocess_cfg"); return -1; }
        } else if (nli_cfg_get_triple(o, keys[k], k, dst[k])) {
            nli_prefixerr("preprocess_cfg");
            return -1;
        }
    }
    json_t *v = json_object_get(o, "interpolation");
    if (v && !json_is_null(v)) {
        const char *m = json_is_string(v) ? json_string_value(v) : "";
        /* transform.py: "random" is a training option; inference uses bicubic */
        if (strcmp(m, "bicubic") == 0 || strcmp(m, "random") == 0) cfg->resample_default = NL_RESAMPLE_BICUBIC;
        else if (strcmp(m, "bilinear") == 0) cfg->resample_default = NL_RESAMPLE_BILINEAR;
        else { nli_seterr_code(NL_ERR_UNSUPPORTED, "%sinterpolation must be \"bicubic\" or \"bilinear\"", s); return -1; }
    }
    v = json_object_get(o, "resize_mode");
    if (v && !json_is_null(v)) {
        const char *m = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(m, "shortest") == 0) cfg->resize_mode = NLI_RESIZE_SHORTEST;
        else if (strcmp(m, "longest") == 0) cfg->resize_mode = NLI_RESIZE_LONGEST;
        else if (strcmp(m, "squash") == 0) cfg->resize_mode = NLI_RESIZE_SQUASH;
        else { nli_seterr_code(NL_ERR_UNSUPPORTED, "%sresize_mode must be \"shortest\", \"longest\" or \"squash\"", s); return -1; }
    }
    if (nli_cfg_get_int(o, s, "fill_color", 0, 255, &cfg->fill_color)) return -1;
    int size = cfg->vision.image_size;
    if (json_object_get(o, "size") && (get_size(o, s, "size", &size) || size != cfg->vision.image_size)) {
        if (size != cfg->vision.image_size)
            nli_seterr("%ssize %d differs from the model's image_size %d", s, size, cfg->vision.image_size);
        return -1;
    }
    return 0;
}

int nli_openclip_config_load(const char *dir, nli_clip_config *cfg) {
    static const char *const handled[] = {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu", NULL};
    static const known dflt[] = {{"cast_dtype", NULL}, {"init_logit_scale", NULL}, {"output_dict", NULL}, {NULL, NULL}};
    nli_clip_config_defaults(cfg);
    cfg->format = NLI_FORMAT_OPENCLIP;
    cfg->text.quick_gelu = cfg->vision.quick_gelu = 0; /* open_clip's default: nn.GELU */
    char *path = nli_path_join(dir, CONFIG_NAME);
    json_t *root = path ? nli_cfg_load_json(path) : NULL;
    int rc = -1;
    if (!root) goto done;
    json_t *mc = json_object_get(root, "model_cfg");
    if (!mc || !json_is_object(mc)) { nli_seterr("%s: no \"model_cfg\" object", path); goto done; }
    if (check_keys(mc, "model_cfg.", handled, dflt) || nli_cfg_get_int(mc, "model_cfg.", "embed_dim", 1, 16384, &cfg->projection_dim))
        goto fail;
    json_t *q = json_object_get(mc, "quick_gelu");
    if (q && !json_is_null(q) && !json_is_boolean(q)) { nli_seterr("model_cfg.quick_gelu must be true or false"); goto fail; }
    cfg->text.quick_gelu = cfg->vision.quick_gelu = q && json_is_true(q);
    json_t *vc = json_object_get(mc, "vision_cfg"), *tc = json_object_get(mc, "text_cfg");
    if (!vc || !json_is_object(vc) || !tc || !json_is_object(tc)) {
        nli_seterr("model_cfg needs vision_cfg and text_cfg objects");
        goto fail;
    }
    if (get_vision(vc, cfg) || get_text(tc, &cfg->text) || get_preprocess(json_object_get(root, "preprocess_cfg"), cfg))
        goto fail;
    rc = 0;
    goto done;
fail:
    nli_prefixerr("%s", path);
done:
    json_decref(root);
    free(path);
    return rc;
}
