/* config_align.c — ALIGN's config.json (transformers' AlignConfig,
 * model_type "align": an EfficientNet vision tower, AlignVisionConfig, and
 * a BERT text tower, AlignTextConfig) and its image processor
 * (EfficientNetImageProcessor). Missing keys take transformers' defaults
 * (configuration_align.py, image_processing_pil_efficientnet.py); configs
 * transformers could not build or run are refused, naming the key. */
#include "clip.h"
#include "config_json.h"
#include "neglabel.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static void align_defaults(nli_clip_config *cfg) {
    nli_tower_config *t = &cfg->text, *v = &cfg->vision;
    t->vocab_size = 30522;
    t->hidden_size = 768;
    t->intermediate_size = 3072;
    t->num_hidden_layers = 12;
    t->num_attention_heads = 12;
    t->max_position_embeddings = 512;
    t->quick_gelu = 0;
    t->layer_norm_eps = 1e-12;
    t->pad_token_id = 0;
    t->bos_token_id = t->eos_token_id = -1; /* BERT's are [CLS] and [SEP], the tokenizer's */
    cfg->text_arch = NLI_TEXT_BERT;
    cfg->text_type_vocab = 2;
    cfg->projection_dim = 640;
    cfg->arch = NLI_ARCH_EFFNET;
    v->num_channels = 3;
    v->image_size = 600;
    v->quick_gelu = 0;
    nli_effnet_config *e = &cfg->en;
    static const int k[7] = {3, 3, 5, 3, 5, 5, 3}, ci[7] = {32, 16, 24, 40, 80, 112, 192},
                     co[7] = {16, 24, 40, 80, 112, 192, 320}, st[7] = {1, 2, 2, 2, 1, 2, 1},
                     rep[7] = {1, 2, 2, 3, 3, 4, 1}, ex[7] = {1, 6, 6, 6, 6, 6, 6};
    e->stages = 7;
    memcpy(e->kernel, k, sizeof k);
    memcpy(e->cin, ci, sizeof ci);
    memcpy(e->cout, co, sizeof co);
    memcpy(e->stride, st, sizeof st);
    memcpy(e->repeats, rep, sizeof rep);
    memcpy(e->expand, ex, sizeof ex);
    e->width_coefficient = 2.0;
    e->depth_coefficient = 3.1;
    e->depth_divisor = 8;
    e->se_ratio = 0.25;
    e->hidden_dim = 2560;
    e->bn_eps = 1e-3;
}

/* round_filters: channels * width_coefficient to a multiple of
 * depth_divisor, never under 90% of it (transformers' round_filters). */
long long nli_effnet_filters(const nli_effnet_config *e, int channels) {
    double c = channels * e->width_coefficient;
    long long d = e->depth_divisor, n = (long long)(c + d / 2.0) / d * d;
    if (n < d) n = d;
    if ((double)n < 0.9 * c) n += d;
    return n;
}

static int get_num(json_t *o, const char *s, const char *key, double lo, double hi, double *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v) || !(json_number_value(v) > lo && json_number_value(v) <= hi)) {
        nli_seterr("%s%s must be a number in (%g, %g]", s, key, lo, hi);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int get_str(json_t *o, const char *s, const char *key, const char *const *allowed, int *which) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    const char *a = json_is_string(v) ? json_string_value(v) : "";
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(a, allowed[i])) { *which = i; return 0; }
    nli_seterr_code(NL_ERR_UNSUPPORTED, "%s%s '%.40s' is not supported (%s or %s)", s, key, a, allowed[0], allowed[1]);
    return -1;
}

/* AlignVisionConfig: the stages, then the blocks transformers builds from
 * them (channels chained, at most NLI_EN_MAX_BLOCKS). */
static int vision_config(json_t *o, const char *sect, nli_clip_config *cfg) {
    nli_effnet_config *e = &cfg->en;
    nli_tower_config *v = &cfg->vision;
    char s[40];
    snprintf(s, sizeof s, "%s.", sect);
    if (o && !json_is_null(o)) {
        if (!json_is_object(o)) { nli_seterr("%s is not an object", sect); return -1; }
        int n[6], pad[NLI_EN_MAX_BLOCKS], npad = 0, act = 0;
        static const char *const keys[6] = {"kernel_sizes", "in_channels", "out_channels", "strides",
                                            "num_block_repeats", "expand_ratios"};
        int *dst[6] = {e->kernel, e->cin, e->cout, e->stride, e->repeats, e->expand};
        static const int lo[6] = {1, 1, 1, 1, 0, 1}, hi[6] = {31, 65536, 65536, 2, 64, 64};
        for (int i = 0; i < 6; i++) {
            n[i] = e->stages;
            if (nli_cfg_get_ints(o, s, keys[i], lo[i], hi[i], 1, NLI_EN_MAX_STAGES, dst[i], &n[i])) return -1;
        }
        for (int i = 1; i < 6; i++)
            if (n[i] != n[0]) {
                nli_seterr("%s%s has %d stages but %s has %d", s, keys[i], n[i], keys[0], n[0]);
                return -1;
            }
        e->stages = n[0];
        static const char *const acts[] = {"swish", "silu", NULL}, *pools[] = {"mean", "max", NULL};
        if (nli_cfg_get_int(o, s, "num_channels", 1, 16, &v->num_channels) ||
            nli_cfg_get_int(o, s, "image_size", 1, 4096, &v->image_size) ||
            nli_cfg_get_int(o, s, "depth_divisor", 1, 1024, &e->depth_divisor) ||
            nli_cfg_get_int(o, s, "hidden_dim", 1, 1 << 20, &e->hidden_dim) ||
            get_num(o, s, "width_coefficient", 0, 64, &e->width_coefficient) ||
            get_num(o, s, "depth_coefficient", 0, 64, &e->depth_coefficient) ||
            get_num(o, s, "squeeze_expansion_ratio", 0, 64, &e->se_ratio) ||
            get_num(o, s, "batch_norm_eps", 0, 1, &e->bn_eps) ||
            nli_cfg_get_ints(o, s, "depthwise_padding", 0, INT32_MAX, 0, NLI_EN_MAX_BLOCKS, pad, &npad) ||
            get_str(o, s, "hidden_act", acts, &act) || get_str(o, s, "pooling_type", pools, &e->pool_max))
            return -1;
        if (v->num_channels != 3) {
            nli_seterr("%snum_channels %d not supported (images are RGB: 3 channels)", s, v->num_channels);
            return -1;
        }
        for (int i = 0; i < npad; i++)
            if (pad[i] < NLI_EN_MAX_BLOCKS) e->no_adjust[pad[i]] = 1;
    }
    if (e->stages < 1) { nli_seterr("%skernel_sizes: no stages", s); return -1; }
    long long prev = nli_effnet_filters(e, 32), blocks = 0;
    e->stem = (int)prev;
    for (int i = 0; i < e->stages; i++) {
        long long in = nli_effnet_filters(e, e->cin[i]), out = nli_effnet_filters(e, e->cout[i]);
        long long reps = (long long)ceil(e->depth_coefficient * e->repeats[i]);
        if (in > 65536 || out > 65536 || in * e->expand[i] > 262144) {
            nli_seterr("%sstage %d: %lld to %lld channels (x%d) is too wide", s, i, in, out, e->expand[i]);
            return -1;
        }
        if (reps <= 0) continue;
        if (in != prev) {
            nli_seterr("%sstage %d takes %lld channels but gets %lld (in_channels[%d] after width_coefficient; "
                       "transformers cannot run it)", s, i, in, prev, i);
            return -1;
        }
        blocks += reps;
        if (blocks > NLI_EN_MAX_BLOCKS) {
            nli_seterr("%sover %d blocks (num_block_repeats x depth_coefficient)", s, NLI_EN_MAX_BLOCKS);
            return -1;
        }
        prev = out;
    }
    if (blocks < 1) { nli_seterr("%snum_block_repeats: no blocks", s); return -1; }
    if (prev != cfg->projection_dim) {
        nli_seterr("%sthe last stage's %lld channels (the image embedding) differ from projection_dim %d (the text "
                   "embedding)", s, prev, cfg->projection_dim);
        return -1;
    }
    v->hidden_size = (int)prev;
    v->num_hidden_layers = (int)blocks;
    v->patch_size = 1;
    return 0;
}

int nli_effnet_side(const nli_effnet_config *e, int block, int k, int stride, int s) {
    if (block < 0) return s + 1 < 3 ? 0 : (s + 1 - 3) / 2 + 1; /* stem: zero pad right/bottom 1, 3x3 stride 2 */
    if (stride == 1) return s;                                  /* "same" padding */
    int pad = e->no_adjust[block] ? 2 * (k / 2) : 2 * (k / 2) - 1; /* correct_pad, adjusted or not */
    return s + pad < k ? 0 : (s + pad - k) / 2 + 1;
}

/* The side of the last feature map for s-pixel images, as the convolutions
 * shrink it; 0 when some layer would get less than its kernel. */
static int final_side(const nli_effnet_config *e, int s) {
    s = nli_effnet_side(e, -1, 3, 2, s);
    for (int i = 0, b = 0; i < e->stages && s > 0; i++) {
        int reps = (int)ceil(e->depth_coefficient * e->repeats[i]);
        for (int j = 0; j < reps && s > 0; j++, b++) s = nli_effnet_side(e, b, e->kernel[i], j ? 1 : e->stride[i], s);
    }
    return s;
}

/* An image side: an integer or {"height": n, "width": n}, n the same. */
static int get_side(json_t *o, const char *key, int *px) {
    json_t *v = json_object_get(o, key), *h = json_object_get(v, "height"), *w = json_object_get(v, "width");
    if (!v || json_is_null(v)) return 0;
    json_int_t n = -1;
    if (json_is_integer(v)) n = json_integer_value(v);
    else if (json_is_object(v) && json_object_size(v) == 2 && json_is_integer(h) && json_is_integer(w) &&
             json_integer_value(h) == json_integer_value(w))
        n = json_integer_value(h);
    if (n < 1 || n > 16384) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: neglabel makes square images (an integer or {\"height\": n, "
                                            "\"width\": n}, n in 1..16384)", key);
        return -1;
    }
    *px = (int)n;
    return 0;
}

static int get_bool(json_t *o, const char *key, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) { nli_seterr("%s is not true or false", key); return -1; }
    *out = json_is_true(v);
    return 0;
}

/* EfficientNetImageProcessor (its Pillow backend): both sides resized to
 * size, optionally the centre crop_size ((len - crop) // 2), then x *
 * rescale_factor (- 1 with rescale_offset), (x - mean) / std when
 * do_normalize, / std again when include_top. Those steps are one affine
 * map per channel, kept as the mean and std of x / 255 that give it. */
static int effnet_preprocessor(json_t *o, nli_clip_config *cfg) {
    float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f};
    int size = 346, crop = 289, resize = 1, center = 0, rescale = 1, offset = 0, norm = 1, top = 1;
    double f = 1.0 / 255;
    if (nli_cfg_get_triple(o, "image_mean", 0, mean) || nli_cfg_get_triple(o, "image_std", 1, std) ||
        get_side(o, "size", &size) || get_side(o, "crop_size", &crop) || get_bool(o, "do_resize", &resize) ||
        get_bool(o, "do_center_crop", &center) || get_bool(o, "do_rescale", &rescale) ||
        get_bool(o, "rescale_offset", &offset) || get_bool(o, "do_normalize", &norm) ||
        get_bool(o, "include_top", &top) || get_num(o, "", "rescale_factor", 0, 1, &f))
        return -1;
    cfg->resample_default = NL_RESAMPLE_BICUBIC;
    json_t *r = json_object_get(o, "resample");
    if (r && !json_is_null(r)) {
        json_int_t code = json_is_integer(r) ? json_integer_value(r) : -1;
        if (code == 3) cfg->resample_default = NL_RESAMPLE_BICUBIC;
        else if (code == 2) cfg->resample_default = NL_RESAMPLE_BILINEAR;
        else { nli_seterr("resample must be 2 (bilinear) or 3 (bicubic)"); return -1; }
    }
    if (!resize) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "do_resize is false: neglabel always resizes");
        return -1;
    }
    if (center && crop > size) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "crop_size %d is larger than size %d (a padded crop)", crop, size);
        return -1;
    }
    if (!rescale) f = 1;
    double scale = 255.0 * f;
    for (int c = 0; c < 3; c++) {
        double m = norm ? mean[c] : 0.0, s = norm ? std[c] : 1.0;
        if (top) s *= std[c];
        cfg->image_mean[c] = (float)(((offset ? 1.0 : 0.0) + m) / scale);
        cfg->image_std[c] = (float)(s / scale);
    }
    cfg->vision.image_size = center ? crop : size;
    cfg->resize_to = size;
    cfg->resize_mode = NLI_RESIZE_SQUASH;
    return 0;
}

int nli_align_config_load(json_t *root, const char *path, const char *dir, nli_clip_config *cfg) {
    align_defaults(cfg);
    const char *tk = "text_config", *vk = "vision_config";
    json_t *t = json_object_get(root, tk), *pe = json_is_object(t) ? json_object_get(t, "position_embedding_type") : NULL;
    if (nli_cfg_get_int(root, "", "projection_dim", 1, 16384, &cfg->projection_dim) ||
        nli_cfg_get_tower(t, tk, 1, &cfg->text) ||
        (json_is_object(t) && nli_cfg_get_int(t, "text_config.", "type_vocab_size", 1, 1024, &cfg->text_type_vocab)) ||
        vision_config(json_object_get(root, vk), vk, cfg)) {
        nli_prefixerr("%s", path);
        return -1;
    }
    if (pe && !json_is_null(pe) && !(json_is_string(pe) && !strcmp(json_string_value(pe), "absolute"))) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: text_config.position_embedding_type '%.30s' is not supported (absolute)",
                        path, json_is_string(pe) ? json_string_value(pe) : "?");
        return -1;
    }
    cfg->crop_floor = 1;
    if (nli_cfg_preprocessor_file(dir, cfg, effnet_preprocessor, "ALIGN's image processor settings (size, crop_size, "
                                                                 "rescale_factor, ...) are not guessed") != 0)
        return -1;
    int side = final_side(&cfg->en, cfg->vision.image_size);
    if (side < 1) {
        nli_seterr("%s: %d-pixel images are too small for the EfficientNet's convolutions", path, cfg->vision.image_size);
        return -1;
    }
    if (side > cfg->en.hidden_dim) {
        nli_seterr("%s: vision_config.hidden_dim %d (the pooling window) is smaller than the last feature map (%d x %d "
                   "for %d-pixel images; transformers cannot run it)", path, cfg->en.hidden_dim, side, side,
                   cfg->vision.image_size);
        return -1;
    }
    return 0;
}
