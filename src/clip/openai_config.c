/* openai_config.c — open_clip's build_model_from_openai_state_dict, the
 * inference part (open_clip 3.3.0, model.py), on names and shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "openai_config.h"
#include "util.h"

int nli_openai_extra_key(const char *name) {
    return strcmp(name, "input_resolution") == 0 || strcmp(name, "context_length") == 0 ||
           strcmp(name, "vocab_size") == 0;
}

static const nli_sd_entry *find(const nli_sd_entry *e, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) return &e[i];
    return NULL;
}

/* shape[dim] of a tensor that must exist with at least ndim dimensions
 * (dim -1: the last). */
static int dim_of(const nli_sd_entry *e, size_t n, const char *name, int ndim, int dim, const char *what, int64_t *out) {
    const nli_sd_entry *t = find(e, n, name);
    if (!t) { nli_seterr("%s: no tensor '%s' (not an OpenAI CLIP state dict)", what, name); return -1; }
    if (t->ndim < ndim) { nli_seterr("%s: tensor '%s' has %d dimensions, expected %d", what, name, t->ndim, ndim); return -1; }
    *out = t->shape[dim < 0 ? t->ndim - 1 : dim];
    return 0;
}

/* More blocks under one prefix than any CLIP has (open_clip's configs
 * stop at 256 text layers, 64 per ResNet stage): the count stops there,
 * so that a hostile archive of 160,000 block names costs no n^2 compares
 * (22 s before). */
#define NL_OPENAI_MAX_BLOCKS 1024

/* len(set(k.split(".")[2] for k in keys if k.startswith(prefix))); -1 with
 * the error set past NL_OPENAI_MAX_BLOCKS */
static int64_t count_third(const nli_sd_entry *e, size_t n, const char *prefix, const char *what) {
    const char **seen = nli_mallocarray(NL_OPENAI_MAX_BLOCKS, sizeof *seen);
    size_t *lens = nli_mallocarray(NL_OPENAI_MAX_BLOCKS, sizeof *lens);
    int64_t count = 0;
    if (!seen || !lens) { free(seen); free(lens); return -1; }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(e[i].name, prefix, strlen(prefix)) != 0) continue;
        const char *p = strchr(e[i].name, '.');
        p = p ? strchr(p + 1, '.') : NULL;
        if (!p) continue; /* Python would raise; such a key cannot be a block's */
        p++;
        const char *q = strchr(p, '.');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        int dup = 0;
        for (int64_t j = 0; j < count && !dup; j++) dup = lens[j] == len && strncmp(seen[j], p, len) == 0;
        if (dup) continue;
        if (count == NL_OPENAI_MAX_BLOCKS) {
            nli_seterr("%s: more than %d blocks under '%s' (not a CLIP state dict)", what, NL_OPENAI_MAX_BLOCKS,
                       prefix);
            count = -1;
            break;
        }
        seen[count] = p;
        lens[count++] = len;
    }
    free(seen);
    free(lens);
    return count;
}

static int64_t round_sqrt(int64_t v) { return (int64_t)llround(sqrt((double)v)); }

static int64_t mlp_rows(const nli_sd_entry *e, size_t n, const char *name) {
    const nli_sd_entry *t = find(e, n, name);
    return t && t->ndim == 2 ? t->shape[0] : 0;
}

int nli_openai_dims(const nli_sd_entry *e, size_t n, const char *what, nli_sd_dims *d) {
    memset(d, 0, sizeof *d);
    int vit = d->vit = find(e, n, "visual.proj") != NULL;
    int64_t pos;
    if (vit) {
        if (dim_of(e, n, "visual.conv1.weight", 4, 0, what, &d->width) != 0 ||
            dim_of(e, n, "visual.conv1.weight", 4, -1, what, &d->patch) != 0 ||
            dim_of(e, n, "visual.positional_embedding", 2, 0, what, &pos) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            d->layers += strncmp(e[i].name, "visual.", 7) == 0 && nli_ends_with(e[i].name, ".attn.in_proj_weight");
        if (pos < 1) { nli_seterr("%s: visual.positional_embedding has no rows", what); return -1; }
        d->image_size = d->patch * round_sqrt(pos - 1);
        d->v_mlp = mlp_rows(e, n, "visual.transformer.resblocks.0.mlp.c_fc.weight");
    } else {
        for (int b = 0; b < 4; b++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "visual.layer%d", b + 1);
            if ((d->rn_layers[b] = count_third(e, n, prefix, what)) < 0) return -1;
        }
        if (dim_of(e, n, "visual.layer1.0.conv1.weight", 1, 0, what, &d->width) != 0 ||
            dim_of(e, n, "visual.attnpool.positional_embedding", 2, 0, what, &pos) != 0)
            return -1;
        int64_t ow = pos >= 1 ? round_sqrt(pos - 1) : -1;
        if (ow < 0 || ow * ow + 1 != pos) {
            nli_seterr("%s: visual.attnpool.positional_embedding has %lld rows, not a square grid plus one", what,
                       (long long)pos);
            return -1;
        }
        d->image_size = ow * 32;
    }
    if (dim_of(e, n, "text_projection", 2, 1, what, &d->embed) != 0 ||
        dim_of(e, n, "positional_embedding", 1, 0, what, &d->ctx) != 0 ||
        dim_of(e, n, "token_embedding.weight", 1, 0, what, &d->vocab) != 0 ||
        dim_of(e, n, "ln_final.weight", 1, 0, what, &d->tw) != 0)
        return -1;
    if ((d->tl = count_third(e, n, "transformer.resblocks", what)) < 0) return -1;
    d->t_mlp = mlp_rows(e, n, "transformer.resblocks.0.mlp.c_fc.weight");
    return 0;
}

typedef struct {
    const char *field; /* in open_clip_config.json */
    int64_t cfg, sd;   /* its value; what the state dict's shapes give */
    const char *from;  /* the tensors that give it */
} field;

int nli_openai_config_check(const nli_sd_dims *d, const nli_clip_config *c, const char *cfg_path, const char *what) {
    if (d->vit != (c->arch == NLI_ARCH_VIT)) {
        nli_seterr("%s describes a %s vision tower, but %s holds a %s (%s)", cfg_path,
                   c->arch == NLI_ARCH_VIT ? "ViT" : "ModifiedResNet", what, d->vit ? "ViT" : "ModifiedResNet",
                   d->vit ? "visual.proj" : "no visual.proj");
        return -1;
    }
    field f[16];
    int k = 0;
#define FIELD(name, a, b, src) f[k++] = (field){name, (int64_t)(a), (int64_t)(b), src}
    FIELD("model_cfg.embed_dim", c->projection_dim, d->embed, "text_projection's columns");
    FIELD("model_cfg.vision_cfg.image_size", c->vision.image_size, d->image_size,
          d->vit ? "visual.positional_embedding's rows and the patch size" : "visual.attnpool.positional_embedding's rows");
    if (d->vit) {
        FIELD("model_cfg.vision_cfg.width", c->vision.hidden_size, d->width, "visual.conv1.weight");
        FIELD("model_cfg.vision_cfg.patch_size", c->vision.patch_size, d->patch, "visual.conv1.weight");
        FIELD("model_cfg.vision_cfg.layers", c->vision.num_hidden_layers, d->layers, "visual.transformer.resblocks");
        if (d->v_mlp)
            FIELD("model_cfg.vision_cfg.width * mlp_ratio", c->vision.intermediate_size, d->v_mlp,
                  "visual.transformer.resblocks.0.mlp.c_fc.weight");
    } else {
        FIELD("model_cfg.vision_cfg.width", c->rn_width, d->width, "visual.layer1.0.conv1.weight");
        for (int b = 0; b < 4; b++) {
            static const char *const st[4] = {"visual.layer1", "visual.layer2", "visual.layer3", "visual.layer4"};
            static const char *const nm[4] = {"model_cfg.vision_cfg.layers[0]", "model_cfg.vision_cfg.layers[1]",
                                              "model_cfg.vision_cfg.layers[2]", "model_cfg.vision_cfg.layers[3]"};
            FIELD(nm[b], c->rn_layers[b], d->rn_layers[b], st[b]);
        }
    }
    FIELD("model_cfg.text_cfg.context_length", c->text.max_position_embeddings, d->ctx, "positional_embedding");
    FIELD("model_cfg.text_cfg.vocab_size", c->text.vocab_size, d->vocab, "token_embedding.weight");
    FIELD("model_cfg.text_cfg.width", c->text.hidden_size, d->tw, "ln_final.weight");
    FIELD("model_cfg.text_cfg.layers", c->text.num_hidden_layers, d->tl, "transformer.resblocks");
    if (d->t_mlp)
        FIELD("model_cfg.text_cfg.width * mlp_ratio", c->text.intermediate_size, d->t_mlp,
              "transformer.resblocks.0.mlp.c_fc.weight");
#undef FIELD
    for (int i = 0; i < k; i++)
        if (f[i].cfg != f[i].sd) {
            nli_seterr("%s does not describe %s: %s is %lld, the checkpoint's %s give %lld", cfg_path, what,
                       f[i].field, (long long)f[i].cfg, f[i].from, (long long)f[i].sd);
            return -1;
        }
    return 0;
}

int nli_openai_config_json(const nli_sd_dims *d, const char *what, nli_buf *out) {
    int vit = d->vit;
    int64_t embed = d->embed, image_size = d->image_size, layers = d->layers, width = d->width, patch = d->patch;
    const int64_t *rn_layers = d->rn_layers;
    int64_t ctx = d->ctx, vocab = d->vocab, tw = d->tw, tl = d->tl;
    if (tw < 64 || (vit ? width : width * 32) < 64) {
        nli_seterr("%s: a width under 64 (open_clip gives such a tower 0 attention heads)", what);
        return -1;
    }
    int rc = nli_buf_printf(out, "{\n  \"model_cfg\": {\n    \"embed_dim\": %lld,\n    \"quick_gelu\": true,\n"
                                 "    \"vision_cfg\": {\n      \"image_size\": %lld,\n      \"layers\": ",
                            (long long)embed, (long long)image_size);
    if (vit) rc |= nli_buf_printf(out, "%lld", (long long)layers);
    else rc |= nli_buf_printf(out, "[%lld, %lld, %lld, %lld]", (long long)rn_layers[0], (long long)rn_layers[1],
                              (long long)rn_layers[2], (long long)rn_layers[3]);
    rc |= nli_buf_printf(out, ",\n      \"width\": %lld,\n      \"patch_size\": ", (long long)width);
    if (vit) rc |= nli_buf_printf(out, "%lld\n", (long long)patch);
    else rc |= nli_buf_puts(out, "null\n");
    rc |= nli_buf_printf(out, "    },\n    \"text_cfg\": {\n      \"context_length\": %lld,\n      \"vocab_size\": %lld,\n"
                              "      \"width\": %lld,\n      \"heads\": %lld,\n      \"layers\": %lld\n    }\n  },\n",
                         (long long)ctx, (long long)vocab, (long long)tw, (long long)(tw / 64), (long long)tl);
    rc |= nli_buf_puts(out, "  \"preprocess_cfg\": {\n    \"mean\": [0.48145466, 0.4578275, 0.40821073],\n"
                            "    \"std\": [0.26862954, 0.26130258, 0.27577711],\n"
                            "    \"interpolation\": \"bicubic\",\n    \"resize_mode\": \"shortest\"\n  }\n}\n");
    return rc ? -1 : 0;
}
