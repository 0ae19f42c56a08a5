/* config.c — config.json and preprocessor_config.json for CLIP folders.
 * Missing keys take Hugging Face's CLIPTextConfig / CLIPVisionConfig
 * defaults (transformers' configuration_clip.py), so minimal official
 * configs resolve to the same numbers transformers uses. */
#include "clip.h"
#include "config_json.h"
#include "neglabel.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static void text_defaults(nli_tower_config *t) {
    memset(t, 0, sizeof *t);
    t->vocab_size = 49408;
    t->hidden_size = 512;
    t->intermediate_size = 2048;
    t->num_hidden_layers = 12;
    t->num_attention_heads = 8;
    t->max_position_embeddings = 77;
    t->quick_gelu = 1;
    t->layer_norm_eps = 1e-5;
    t->pad_token_id = 1;
    t->bos_token_id = 49406;
    t->eos_token_id = 49407;
}

static void vision_defaults(nli_tower_config *v) {
    memset(v, 0, sizeof *v);
    v->hidden_size = 768;
    v->intermediate_size = 3072;
    v->num_hidden_layers = 12;
    v->num_attention_heads = 12;
    v->num_channels = 3;
    v->image_size = 224;
    v->patch_size = 32;
    v->quick_gelu = 1;
    v->layer_norm_eps = 1e-5;
}

/* Read integer key into *out if present and not null; [lo, hi] inclusive. */
int nli_cfg_get_int(json_t *obj, const char *sect, const char *key, long long lo, long long hi, int *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 0;
    double d;
    if (json_is_integer(v)) d = (double)json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) d = json_real_value(v);
    else { nli_seterr("%s%s is not an integer", sect, key); return -1; }
    if (d < (double)lo || d > (double)hi) {
        nli_seterr("%s%s = %.0f out of range [%lld, %lld]", sect, key, d, lo, hi);
        return -1;
    }
    *out = (int)d;
    return 0;
}

int nli_cfg_get_tower(json_t *o, const char *sect, int text, nli_tower_config *t) {
    if (!o || json_is_null(o)) return 0;
    if (!json_is_object(o)) { nli_seterr("%s is not an object", sect); return -1; }
    char s[32];
    snprintf(s, sizeof s, "%s.", sect);
    if (nli_cfg_get_int(o, s, "hidden_size", 1, 16384, &t->hidden_size) || nli_cfg_get_int(o, s, "intermediate_size", 1, 65536, &t->intermediate_size) ||
        nli_cfg_get_int(o, s, "num_hidden_layers", 1, 256, &t->num_hidden_layers) ||
        nli_cfg_get_int(o, s, "num_attention_heads", 1, 1024, &t->num_attention_heads))
        return -1;
    if (text) {
        if (nli_cfg_get_int(o, s, "vocab_size", 1, 10000000, &t->vocab_size) ||
            nli_cfg_get_int(o, s, "max_position_embeddings", 2, 4096, &t->max_position_embeddings) ||
            nli_cfg_get_int(o, s, "eos_token_id", 0, INT32_MAX, &t->eos_token_id) ||
            nli_cfg_get_int(o, s, "bos_token_id", 0, INT32_MAX, &t->bos_token_id) ||
            nli_cfg_get_int(o, s, "pad_token_id", 0, INT32_MAX, &t->pad_token_id))
            return -1;
    } else {
        if (nli_cfg_get_int(o, s, "image_size", 1, 4096, &t->image_size) || nli_cfg_get_int(o, s, "patch_size", 1, 4096, &t->patch_size) ||
            nli_cfg_get_int(o, s, "num_channels", 1, 16, &t->num_channels))
            return -1;
        if (t->num_channels != 3) { /* images are decoded to RGB: other counts would misread the pixels */
            nli_seterr("%snum_channels %d not supported (images are RGB: 3 channels)", s, t->num_channels);
            return -1;
        }
    }
    json_t *v = json_object_get(o, "layer_norm_eps");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v) || !(json_number_value(v) > 0 && json_number_value(v) < 1)) {
            nli_seterr("%slayer_norm_eps must be a number in (0, 1)", s);
            return -1;
        }
        t->layer_norm_eps = json_number_value(v);
    }
    v = json_object_get(o, "hidden_act");
    if (v && !json_is_null(v)) {
        const char *a = json_is_string(v) ? json_string_value(v) : "";
        /* transformers' gelu_pytorch_tanh and gelu_new are one function */
        t->gelu_tanh = strcmp(a, "gelu_pytorch_tanh") == 0 || strcmp(a, "gelu_new") == 0;
        if (strcmp(a, "quick_gelu") == 0) t->quick_gelu = 1;
        else if (strcmp(a, "gelu") == 0 || t->gelu_tanh) t->quick_gelu = 0;
        else {
            nli_seterr("%shidden_act '%.40s' not supported (quick_gelu, gelu, gelu_pytorch_tanh or gelu_new)", s, a);
            return -1;
        }
    }
    if (t->hidden_size % t->num_attention_heads) {
        nli_seterr("%shidden_size %d is not divisible by num_attention_heads %d", s, t->hidden_size, t->num_attention_heads);
        return -1;
    }
    if (!text) {
        if (t->image_size % t->patch_size) {
            nli_seterr("%simage_size %d is not divisible by patch_size %d", s, t->image_size, t->patch_size);
            return -1;
        }
        int g = t->image_size / t->patch_size;
        if (g * g > 65536) { nli_seterr("%s%d x %d patches is too many", s, g, g); return -1; }
    }
    return 0;
}

json_t *nli_cfg_load_json(const char *path) {
    char *text = NULL;
    size_t len = 0;
    if (nli_read_file(path, 16 << 20, &text, &len) != 0) return NULL;
    if (nli_json_check_values(path, text, len, NLI_JSON_MAX_VALUES)) { free(text); return NULL; }
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    free(text);
    if (!root) {
        nli_seterr("%s: invalid JSON at line %d, column %d: %s", path, err.line, err.column, err.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        nli_seterr("%s: top level is not a JSON object", path);
        json_decref(root);
        return NULL;
    }
    return root;
}

int nli_cfg_get_triple(json_t *o, const char *key, int positive, float out[3]) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v) || json_array_size(v) != 3) { nli_seterr("%s must be an array of 3 numbers", key); return -1; }
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(v, i);
        double d = json_is_number(e) ? json_number_value(e) : NAN;
        if (!isfinite(d) || (positive && !(d > 0)) || fabs(d) > 1e6) {
            nli_seterr("%s[%zu] is not a valid %snumber", key, i, positive ? "positive " : "");
            return -1;
        }
        out[i] = (float)d;
    }
    return 0;
}

/* size / crop_size as CLIPImageProcessor reads them: an integer (for size:
 * the shorter side), {"shortest_edge": n} (size only), or {"height": n,
 * "width": n} with n the same (for size: both sides, *squash set). *px
 * stays 0 when the key is absent. */
static int get_px(json_t *root, const char *key, int *px, int *squash) {
    json_t *v = json_object_get(root, key);
    *px = 0;
    if (!v || json_is_null(v)) return 0;
    json_t *e = json_object_get(v, "shortest_edge"), *l = json_object_get(v, "longest_edge"),
           *h = json_object_get(v, "height"), *w = json_object_get(v, "width");
    json_int_t n = -1;
    if (json_is_integer(v)) n = json_integer_value(v);
    else if (json_is_object(v) && !strcmp(key, "size") && json_is_integer(e) && (!l || json_is_null(l)) &&
             json_object_size(v) == 1u + (l != NULL))
        n = json_integer_value(e);
    else if (json_is_object(v) && json_is_integer(h) && json_is_integer(w) &&
             json_integer_value(h) == json_integer_value(w) && json_object_size(v) == 2) {
        n = json_integer_value(h);
        if (squash) *squash = 1;
    }
    if (n <= 0 || n >= 100000) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s %.80s: neglabel makes square images (expected %s)", key,
                        text ? text : "?",
                        squash ? "an integer, {\"shortest_edge\": n} or {\"height\": n, \"width\": n}"
                               : "an integer or {\"height\": n, \"width\": n}");
        free(text);
        return -1;
    }
    *px = (int)n;
    return 0;
}

/* The image processor's settings: preprocessor_config.json, or the
 * "image_processor" object of the processor_config.json transformers 5
 * saves instead. neglabel preprocesses as CLIPImageProcessor does (RGB;
 * the shorter side resized to the image size and a centre crop, or, for a
 * size of {"height", "width"}, both sides resized; x/255; normalised): mean,
 * std and resample are read; settings that would compute something else
 * are refused, never ignored. */
int nli_cfg_clip_preprocessor(json_t *root, nli_clip_config *cfg) {
    if (nli_cfg_get_triple(root, "image_mean", 0, cfg->image_mean) || nli_cfg_get_triple(root, "image_std", 1, cfg->image_std))
        return -1;
    json_t *r = json_object_get(root, "resample");
    if (r && !json_is_null(r)) {
        /* PIL codes: 2 bilinear, 3 bicubic; others are not implemented. */
        json_int_t code = json_is_integer(r) ? json_integer_value(r) : -1;
        if (code == 3) cfg->resample_default = NL_RESAMPLE_BICUBIC;
        else if (code == 2) cfg->resample_default = NL_RESAMPLE_BILINEAR;
        else { nli_seterr("resample must be 2 (bilinear) or 3 (bicubic)"); return -1; }
    }
    int size, crop, squash = 0, want = cfg->vision.image_size;
    if (get_px(root, "size", &size, &squash) || get_px(root, "crop_size", &crop, NULL)) return -1;
    /* without a crop, only a resize of both sides gives a square */
    static const char *const steps[] = {"do_resize", "do_rescale", "do_normalize", "do_center_crop"};
    for (size_t i = 0; i < sizeof steps / sizeof *steps - (size_t)squash; i++)
        if (json_is_false(json_object_get(root, steps[i]))) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s is false: neglabel always resizes, crops, rescales and normalises",
                            steps[i]);
            return -1;
        }
    json_t *f = json_object_get(root, "rescale_factor");
    if (f && !json_is_null(f) && !(json_is_number(f) && fabs(json_number_value(f) * 255.0 - 1.0) < 1e-6)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "rescale_factor must be 1/255");
        return -1;
    }
    if ((size && size != want) || (crop && crop != want)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED,
                        "size %d / crop_size %d: neglabel resizes to the model's image size (%d, "
                        "vision_config.image_size) and crops that square",
                        size, crop, want);
        return -1;
    }
    if (squash) cfg->resize_mode = NLI_RESIZE_SQUASH;
    else if (cfg->siglip) { /* SiglipImageProcessor never crops: a shorter-side resize gives no square */
        nli_seterr_code(NL_ERR_UNSUPPORTED, "size must be {\"height\": %d, \"width\": %d} (SigLIP resizes both "
                        "sides, without a crop)", want, want);
        return -1;
    }
    return 0;
}

int nli_cfg_preprocessor_file(const char *dir, nli_clip_config *cfg, int (*load)(json_t *, nli_clip_config *),
                              const char *need) {
    char *pp = nli_path_join(dir, "preprocessor_config.json"), *proc = nli_path_join(dir, "processor_config.json");
    const char *path = NULL;
    json_t *root = NULL, *obj = NULL;
    int rc = -1;
    if (!pp || !proc) goto done;
    if (nli_file_exists(pp)) {
        path = pp;
        if (!(obj = root = nli_cfg_load_json(pp))) goto done;
    } else if (nli_file_exists(proc)) {
        path = proc;
        if (!(root = nli_cfg_load_json(proc))) goto done;
        obj = json_object_get(root, "image_processor");
        if (obj && !json_is_object(obj)) {
            nli_seterr("%s: \"image_processor\" is not an object", proc);
            goto done;
        }
    }
    if (!path && need) {
        nli_seterr_code(NL_ERR_IO, "%s: no preprocessor_config.json (nor processor_config.json): %s", dir, need);
        goto done;
    }
    rc = obj ? load(obj, cfg) : 0;
    if (rc && strncmp(nli_geterr(), path, strlen(path)) != 0)
        nli_prefixerr("%s%s", path, obj == root ? "" : ": image_processor");
done:
    json_decref(root);
    free(pp);
    free(proc);
    return rc;
}

void nli_clip_config_defaults(nli_clip_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    text_defaults(&cfg->text);
    vision_defaults(&cfg->vision);
    cfg->projection_dim = 512;
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memcpy(cfg->image_mean, mean, sizeof mean);
    memcpy(cfg->image_std, std, sizeof std);
    cfg->resample_default = NL_RESAMPLE_BICUBIC;
    strcpy(cfg->dtype, "F32");
}

const char *nli_clip_arch_name(const nli_clip_config *c) {
    return c->siglip ? "SigLIP" : c->arch == NLI_ARCH_EFFNET ? "ALIGN" : c->arch == NLI_ARCH_RESNET ? "ModifiedResNet"
           : c->arch == NLI_ARCH_GROUPVIT ? "GroupViT" : c->text_arch == NLI_TEXT_ROBERTA ? "AltCLIP" : "ViT";
}

int nli_clip_cpu_only(const nli_clip_config *c) {
    return c->arch == NLI_ARCH_GROUPVIT || c->arch == NLI_ARCH_EFFNET || c->text_arch != NLI_TEXT_CLIP;
}

int nli_clip_config_load(const char *dir, nli_layout layout, nli_clip_config *cfg) {
    int oc = layout == NLI_LAYOUT_AUTO ? nli_is_openclip_dir(dir) : layout == NLI_LAYOUT_OPENCLIP;
    return oc ? nli_openclip_config_load(dir, cfg) : nli_hf_config_load(dir, cfg);
}

int nli_hf_config_is_clip(const char *path) {
    char *text = NULL;
    size_t len = 0;
    if (nli_read_file(path, 16 << 20, &text, &len) != 0) return -1;
    if (nli_json_check_values(path, text, len, NLI_JSON_MAX_VALUES)) { free(text); return -1; }
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    static const char *const towers[] = {"text_config", "vision_config", "text_config_dict", "vision_config_dict"};
    json_t *mt = json_object_get(root, "model_type"); /* (NULL when root is not an object) */
    int yes = mt && json_is_string(mt) && !strcmp(json_string_value(mt), "clip");
    for (size_t i = 0; i < sizeof towers / sizeof *towers && !yes; i++) yes = json_is_object(json_object_get(root, towers[i]));
    json_decref(root);
    return yes;
}

/* Configs saved before transformers 4.27 also hold text_config_dict /
 * vision_config_dict (openai/, laion/ repositories). CLIPConfig builds the
 * tower from such a dict whenever it is not null, over the tower's
 * defaults: the keys it lacks take the defaults, not text_config's values
 * (transformers 4.27 on; before it the dicts alone were read; checked
 * with transformers 5.24). */
static const char *tower_key(json_t *root, const char *key, const char *dict_key) {
    json_t *d = json_object_get(root, dict_key);
    return d && !json_is_null(d) ? dict_key : key;
}

int nli_cfg_get_ints(json_t *o, const char *s, const char *key, int lo, int hi, int min_n, int cap, int *out,
                     int *n) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v) || json_array_size(v) < (size_t)min_n || json_array_size(v) > (size_t)cap) {
        nli_seterr("%s%s must be an array of %d to %d integers", s, key, min_n, cap);
        return -1;
    }
    *n = (int)json_array_size(v);
    for (int i = 0; i < *n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < lo || json_integer_value(e) > hi) {
            nli_seterr("%s%s[%d] must be an integer in [%d, %d]", s, key, i, lo, hi);
            return -1;
        }
        out[i] = (int)json_integer_value(e);
    }
    return 0;
}

/* GroupViTConfig's defaults (transformers' configuration_groupvit.py) over
 * CLIP's, before config.json is read. */
static void groupvit_defaults(nli_clip_config *cfg) {
    cfg->arch = NLI_ARCH_GROUPVIT;
    cfg->text.hidden_size = 256;
    cfg->text.intermediate_size = 1024;
    cfg->text.num_attention_heads = 4;
    nli_tower_config *v = &cfg->vision;
    v->hidden_size = 384;
    v->intermediate_size = 1536;
    v->num_attention_heads = 6;
    v->patch_size = 16;
    v->quick_gelu = 0;
    cfg->projection_dim = 256;
    cfg->proj_intermediate = 4096;
    cfg->gv_stages = 3;
    static const int depths[3] = {6, 3, 3}, groups[3] = {64, 8, 0}, out[3] = {64, 8, 8};
    memcpy(cfg->gv_depths, depths, sizeof depths);
    memcpy(cfg->gv_groups, groups, sizeof groups);
    memcpy(cfg->gv_out_groups, out, sizeof out);
    cfg->gv_assign_eps = 1.0;
}

/* GroupViT's vision keys beyond CLIP's, checked so that the model is one
 * transformers can build and run (the stage shapes chain). */
static int groupvit_vision(json_t *o, const char *sect, nli_clip_config *cfg) {
    nli_tower_config *v = &cfg->vision;
    int nd = cfg->gv_stages, ng = nd, no = nd;
    double ratio[2] = {0.5, 4};
    if (o && json_is_object(o)) {
        char d[40];
        snprintf(d, sizeof d, "%s.", sect);
        if (nli_cfg_get_ints(o, d, "depths", 1, 256, 1, NLI_GV_MAX_STAGES, cfg->gv_depths, &nd) ||
            nli_cfg_get_ints(o, d, "num_group_tokens", 0, 4096, 1, NLI_GV_MAX_STAGES, cfg->gv_groups, &ng) ||
            nli_cfg_get_ints(o, d, "num_output_groups", 0, 4096, 1, NLI_GV_MAX_STAGES, cfg->gv_out_groups, &no))
            return -1;
        json_t *e = json_object_get(o, "assign_eps");
        if (e && !json_is_null(e)) {
            if (!json_is_number(e) || !(json_number_value(e) >= 0 && json_number_value(e) <= 1e6)) {
                nli_seterr("%s.assign_eps must be a number in [0, 1e6]", sect);
                return -1;
            }
            cfg->gv_assign_eps = json_number_value(e);
        }
        json_t *r = json_object_get(o, "assign_mlp_ratio");
        if (r && !json_is_null(r)) {
            int ok = json_is_number(r) || (json_is_array(r) && json_array_size(r) == 2 &&
                                           json_is_number(json_array_get(r, 0)) && json_is_number(json_array_get(r, 1)));
            if (ok && json_is_number(r)) ratio[0] = ratio[1] = json_number_value(r);
            else if (ok) ratio[0] = json_number_value(json_array_get(r, 0)), ratio[1] = json_number_value(json_array_get(r, 1));
            if (!ok) {
                nli_seterr("%s.assign_mlp_ratio must be a number or two", sect);
                return -1;
            }
        }
    }
    if (ng != nd || no != nd) {
        nli_seterr("%s: depths, num_group_tokens and num_output_groups have %d, %d and %d stages", sect, nd, ng, no);
        return -1;
    }
    cfg->gv_stages = nd;
    /* int(ratio * hidden_size), as GroupViTTokenAssign computes the widths */
    for (int k = 0; k < 2; k++) {
        double w = ratio[k] * v->hidden_size;
        if (!(w >= 1 && w <= 65536)) {
            nli_seterr("%s.assign_mlp_ratio %g gives a width of %g", sect, ratio[k], w);
            return -1;
        }
        *(k ? &cfg->gv_channels_dim : &cfg->gv_tokens_dim) = (int)w;
    }
    int layers = 0;
    for (int i = 0; i < nd; i++) {
        int g = cfg->gv_groups[i];
        layers += cfg->gv_depths[i];
        /* the group projector maps the previous stage's groups to these:
         * it needs them, as many as that stage says it outputs */
        if (i > 0 && g > 0 && cfg->gv_out_groups[i - 1] > 0 && cfg->gv_groups[i - 1] != cfg->gv_out_groups[i - 1]) {
            nli_seterr("%s: stage %d has %d group tokens, but stage %d outputs %d groups from %d group tokens "
                       "(transformers cannot run it)", sect, i, g, i - 1, cfg->gv_out_groups[i - 1],
                       cfg->gv_groups[i - 1]);
            return -1;
        }
        if (g > 0 && cfg->gv_out_groups[i] < 1) {
            nli_seterr("%s.num_output_groups[%d] is 0 for a stage with group tokens", sect, i);
            return -1;
        }
    }
    v->num_hidden_layers = layers; /* transformers warns when they differ; the stages decide */
    return 0;
}

/* AltCLIPConfig's defaults (transformers' configuration_altclip.py): an
 * XLM-R large text tower (AltCLIPTextConfig), CLIP's vision defaults. */
static void altclip_defaults(nli_clip_config *cfg) {
    nli_tower_config *t = &cfg->text;
    t->vocab_size = 250002;
    t->hidden_size = 1024;
    t->intermediate_size = 4096;
    t->num_hidden_layers = 24;
    t->num_attention_heads = 16;
    t->max_position_embeddings = 514;
    t->quick_gelu = 0;
    t->layer_norm_eps = 1e-5;
    t->pad_token_id = 1;
    t->bos_token_id = 0;
    t->eos_token_id = 2;
    cfg->text_arch = NLI_TEXT_ROBERTA;
    cfg->text_project_dim = 768;
    cfg->text_type_vocab = 1;
    cfg->projection_dim = 768;
}

/* AltCLIPTextConfig's own keys; positions are counted from pad_token_id + 1
 * (RoBERTa's), so pad_token_id must leave one. */
static int altclip_text(json_t *o, const char *sect, nli_clip_config *cfg) {
    char s[40];
    snprintf(s, sizeof s, "%s.", sect);
    if (o && json_is_object(o)) {
        if (nli_cfg_get_int(o, s, "project_dim", 1, 16384, &cfg->text_project_dim) ||
            nli_cfg_get_int(o, s, "type_vocab_size", 1, 1024, &cfg->text_type_vocab))
            return -1;
        json_t *pe = json_object_get(o, "position_embedding_type");
        if (pe && !json_is_null(pe) && !(json_is_string(pe) && !strcmp(json_string_value(pe), "absolute"))) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%sposition_embedding_type '%.30s' is not supported (absolute)", s,
                            json_is_string(pe) ? json_string_value(pe) : "?");
            return -1;
        }
    }
    const nli_tower_config *t = &cfg->text;
    if (t->pad_token_id >= t->max_position_embeddings - 1) {
        nli_seterr("%spad_token_id %d leaves no position (max_position_embeddings %d; positions start at "
                   "pad_token_id + 1)", s, t->pad_token_id, t->max_position_embeddings);
        return -1;
    }
    return 0;
}

int nli_hf_config_load(const char *dir, nli_clip_config *cfg) {
    nli_clip_config_defaults(cfg);
    char *path = nli_path_join(dir, "config.json");
    json_t *root = NULL;
    int rc = -1;
    if (!path) goto done;
    if (!(root = nli_cfg_load_json(path))) goto done;
    const char *tk = tower_key(root, "text_config", "text_config_dict"),
               *vk = tower_key(root, "vision_config", "vision_config_dict");
    json_t *mt = json_object_get(root, "model_type");
    if (json_is_string(mt) && !strcmp(json_string_value(mt), "align")) {
        rc = nli_align_config_load(root, path, dir, cfg);
        goto done;
    }
    if (json_is_string(mt) && !strcmp(json_string_value(mt), "siglip")) {
        rc = nli_siglip_config_load(root, path, dir, cfg);
        goto done;
    }
    if (json_is_string(mt) && !strcmp(json_string_value(mt), "siglip2")) { /* NaFlex patches, Gemma's tokenizer */
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: model_type siglip2 (SigLIP 2) is not supported (SigLIP is: model_type "
                        "siglip)", path);
        goto done;
    }
    const int gv = json_is_string(mt) && !strcmp(json_string_value(mt), "groupvit");
    const int alt = json_is_string(mt) && !strcmp(json_string_value(mt), "altclip");
    if (gv) groupvit_defaults(cfg);
    if (alt) altclip_defaults(cfg);
    if (nli_cfg_get_int(root, "", "projection_dim", 1, 16384, &cfg->projection_dim) ||
        (gv && nli_cfg_get_int(root, "", "projection_intermediate_dim", 1, 65536, &cfg->proj_intermediate)) ||
        nli_cfg_get_tower(json_object_get(root, tk), tk, 1, &cfg->text) ||
        nli_cfg_get_tower(json_object_get(root, vk), vk, 0, &cfg->vision) ||
        (gv && groupvit_vision(json_object_get(root, vk), vk, cfg)) ||
        (alt && altclip_text(json_object_get(root, tk), tk, cfg))) {
        nli_prefixerr("%s", path);
        goto done;
    }
    if (gv && (cfg->text.gelu_tanh || cfg->vision.gelu_tanh)) { /* its grouping MLPs are exact GELUs here */
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: GroupViT with hidden_act gelu_pytorch_tanh is not supported", path);
        goto done;
    }
    cfg->text.pool_argmax = cfg->text.eos_token_id == 2; /* transformers' legacy rule */
    /* transformers' centre crop (every backend of CLIPImageProcessor) puts
     * the window at (len - size) // 2, not at torchvision's rounded half */
    cfg->crop_floor = 1;
    if (nli_cfg_preprocessor_file(dir, cfg, nli_cfg_clip_preprocessor, NULL) != 0) goto done;
    rc = 0;
done:
    json_decref(root);
    free(path);
    return rc;
}
