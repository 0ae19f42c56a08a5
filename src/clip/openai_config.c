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

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* len(set(k.split(".")[2] for k in keys if k.startswith(prefix))) */
static int64_t count_third(const nli_sd_entry *e, size_t n, const char *prefix) {
    const char **seen = nli_mallocarray(n ? n : 1, sizeof *seen);
    size_t *lens = nli_mallocarray(n ? n : 1, sizeof *lens);
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
        if (!dup) { seen[count] = p; lens[count++] = len; }
    }
    free(seen);
    free(lens);
    return count;
}

static int64_t round_sqrt(int64_t v) { return (int64_t)llround(sqrt((double)v)); }

int nli_openai_config_json(const nli_sd_entry *e, size_t n, const char *what, nli_buf *out) {
    int vit = find(e, n, "visual.proj") != NULL;
    int64_t width, patch = 0, image_size, layers = 0, rn_layers[4] = {0}, pos;
    if (vit) {
        if (dim_of(e, n, "visual.conv1.weight", 4, 0, what, &width) != 0 ||
            dim_of(e, n, "visual.conv1.weight", 4, -1, what, &patch) != 0 ||
            dim_of(e, n, "visual.positional_embedding", 2, 0, what, &pos) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            layers += strncmp(e[i].name, "visual.", 7) == 0 && ends_with(e[i].name, ".attn.in_proj_weight");
        if (pos < 1) { nli_seterr("%s: visual.positional_embedding has no rows", what); return -1; }
        image_size = patch * round_sqrt(pos - 1);
    } else {
        for (int b = 0; b < 4; b++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "visual.layer%d", b + 1);
            if ((rn_layers[b] = count_third(e, n, prefix)) < 0) return -1;
        }
        if (dim_of(e, n, "visual.layer1.0.conv1.weight", 1, 0, what, &width) != 0 ||
            dim_of(e, n, "visual.attnpool.positional_embedding", 2, 0, what, &pos) != 0)
            return -1;
        int64_t ow = pos >= 1 ? round_sqrt(pos - 1) : -1;
        if (ow < 0 || ow * ow + 1 != pos) {
            nli_seterr("%s: visual.attnpool.positional_embedding has %lld rows, not a square grid plus one", what,
                       (long long)pos);
            return -1;
        }
        image_size = ow * 32;
    }
    int64_t embed, ctx, vocab, tw, tl;
    if (dim_of(e, n, "text_projection", 2, 1, what, &embed) != 0 ||
        dim_of(e, n, "positional_embedding", 1, 0, what, &ctx) != 0 ||
        dim_of(e, n, "token_embedding.weight", 1, 0, what, &vocab) != 0 ||
        dim_of(e, n, "ln_final.weight", 1, 0, what, &tw) != 0)
        return -1;
    if ((tl = count_third(e, n, "transformer.resblocks")) < 0) return -1;
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
