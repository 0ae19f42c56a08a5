/* csp.c — CSP's label texts and ensembles (Chen et al., "Conjugated
 * Semantic Pool Improves OOD Detection with Pre-trained Vision-Language
 * Models", NeurIPS 2024), as its reference code builds them
 * (MengyuanChen21/NeurIPS2024-CSP, mmcls/models/classifiers/multi_modal.py,
 * CLIPScalableClassifier.__init__, and the template lists of
 * class_names.py). docs/methods.md lists each detail followed. */
#include "neglabel.h"
#include "prng.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* custom_config/clip-ViT-B16.py: txt_exclude */
static const char *const csp_exclude[] = {"noun.person", "noun.quantity", "noun.group", "adj.pert"};
/* class_names.py: preset_noun_prompt_templates (ID labels and nouns) */
static const char *const csp_noun_t[] = {
    "a close-up photo of the nice {}.", "a photo with the nice {}.", "a good photo with the nice {}.",
    "a photo of the nice {}.", "{}", "the {}", "the good {}", "the nice {}"};
/* class_names.py: csp_templates (the superclass phrases) */
static const char *const csp_super[] = {
    "{} environment", "{} space", "{} object", "{} scene", "{} place", "{} item", "{} area",
    "{} view", "{} thing", "{} pattern", "{} structure", "{} landscape", "{} vista", "{} creature"};
/* class_names.py: preset_adj_prompt_templates (applied to the phrases) */
static const char *const csp_adj_t[] = {"{}", "a nice photo of {}", "a good photo of {}", "a close-up photo of {}"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *const *nl_csp_exclude(size_t *n) { if (n) *n = COUNT(csp_exclude); return csp_exclude; }
const char *const *nl_csp_noun_templates(size_t *n) { if (n) *n = COUNT(csp_noun_t); return csp_noun_t; }
const char *const *nl_csp_superclasses(size_t *n) { if (n) *n = COUNT(csp_super); return csp_super; }
const char *const *nl_csp_adj_templates(size_t *n) { if (n) *n = COUNT(csp_adj_t); return csp_adj_t; }

int nl_csp_phrases(const nl_corpus *c, uint64_t seed, nl_strvec *out) {
    if (!out) return nli_null_arg(__func__);
    memset(out, 0, sizeof *out);
    if (!c || (c->n && (!c->word || !c->pos))) { nli_seterr("CSP phrases: no corpus"); return -1; }
    /* random.seed(seed), then one random.choice(csp_templates) per
     * adjective kept after deduplication, in word-list order */
    nli_mt19937 m;
    nli_pyrandom_seed(&m, seed);
    for (size_t i = 0; i < c->n; i++) {
        if (c->pos[i] > NL_POS_ADJ) {
            nli_seterr("CSP phrases: candidate %zu has bad part of speech %u", i, c->pos[i]);
            goto fail;
        }
        char *t = c->pos[i] == NL_POS_ADJ
                      ? nl_apply_template(csp_super[nli_pyrandom_below(&m, (uint32_t)COUNT(csp_super))], c->word[i])
                      : nli_strdup(c->word[i]);
        if (!t || nl_strvec_push_owned(out, t) != 0) goto fail;
    }
    return 0;
fail:
    nli_prefixerr("CSP phrases");
    nl_strvec_free(out);
    return -1;
}

int nl_ensemble_raw(const float *raw, size_t n, size_t n_templates, size_t dim, float *out) {
    if (n && (!raw || !out)) return nli_null_arg(__func__);
    if (n_templates == 0 || dim == 0) {
        nli_seterr("ensemble: %zu templates, dimension %zu", n_templates, dim);
        return -1;
    }
    double *acc = nli_mallocarray(dim, sizeof(double));
    if (!acc) return -1;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < dim; k++) acc[k] = 0;
        for (size_t t = 0; t < n_templates; t++) {
            const float *r = raw + (t * n + i) * dim;
            for (size_t k = 0; k < dim; k++) acc[k] += r[k];
        }
        double ss = 0;
        for (size_t k = 0; k < dim; k++) {
            acc[k] /= (double)n_templates;
            ss += acc[k] * acc[k];
        }
        double norm = sqrt(ss);
        for (size_t k = 0; k < dim; k++) out[i * dim + k] = norm > 0 ? (float)(acc[k] / norm) : 0.0f;
    }
    free(acc);
    return 0;
}
