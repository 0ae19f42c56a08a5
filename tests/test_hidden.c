/* test_hidden.c — every layer of both towers against transformers'
 * hidden states (../shared/fixtures/tiny-clip/hidden.json, float64
 * reference): the first block's input (transformers' hidden_states[0]:
 * for vision after pre_layrnorm, although the file's note says before),
 * each block's output, the vision
 * pooler output and the text tower's final LayerNorm, for one image
 * (dog.jpg, bicubic 224) and one text. A mismatch names the layer (the
 * end-to-end embedding checks are in test_clip.c). Limit: max |ours - ref|
 * <= 1e-5 of the layer's largest |ref|. */
#include "check.h"
#include "clip.h"
#include "image.h"
#include "neglabel.h"
#include "util.h"

#include <jansson.h>
#include <math.h>

#define LIMIT 1e-5

/* Largest |a - ref| over n values of a JSON array of arrays (or array),
 * relative to the largest |ref|; -1 on a shape mismatch. */
static double rel_err(const float *a, json_t *ref, size_t rows, size_t cols) {
    double mx = 0, mr = 0;
    if (json_array_size(ref) != rows) return -1;
    for (size_t i = 0; i < rows; i++) {
        json_t *row = cols ? json_array_get(ref, i) : ref;
        if (cols && json_array_size(row) != cols) return -1;
        for (size_t j = 0; j < (cols ? cols : 1); j++) {
            double r = json_number_value(json_array_get(row, cols ? j : i));
            double d = fabs(a[i * (cols ? cols : 1) + j] - r);
            mx = d > mx ? d : mx;
            mr = fabs(r) > mr ? fabs(r) : mr;
        }
        if (!cols) break;
    }
    if (!cols) { /* a flat vector of `rows` values */
        mx = mr = 0;
        for (size_t i = 0; i < rows; i++) {
            double r = json_number_value(json_array_get(ref, i)), d = fabs(a[i] - r);
            mx = d > mx ? d : mx;
            mr = fabs(r) > mr ? fabs(r) : mr;
        }
    }
    return mr > 0 ? mx / mr : mx;
}

static void check_layers(const char *tower, const float *cap, json_t *states, int layers, size_t T, size_t D) {
    CHECK(json_array_size(states) == (size_t)layers + 1, "%s: %zu hidden states in the reference, %d layers here",
          tower, json_array_size(states), layers);
    for (int l = 0; l <= layers && l < (int)json_array_size(states); l++) {
        double e = rel_err(cap + (size_t)l * T * D, json_array_get(states, l), T, D);
        printf("%s hidden state %d (%s): %.3g\n", tower, l, l ? "block output" : "embeddings", e);
        CHECK(e >= 0 && e <= LIMIT, "%s %s %d: off by %.3g of its largest value (limit %g)", tower,
              l ? "block" : "embeddings", l ? l : 0, e, LIMIT);
    }
}

int main(void) {
    const char *shared = check_shared();
    char *dir = check_path(shared, "fixtures/tiny-clip"), *hp = check_path(dir, "hidden.json");
    json_error_t jerr;
    json_t *h = json_load_file(hp, 0, &jerr);
    CHECK(h != NULL, "%s: %s", hp, jerr.text);
    nli_clip *c = nli_clip_load(dir, 2);
    CHECK(c != NULL, "load: %s", nli_geterr());
    if (!h || !c) return check_done();
    const nli_clip_config *cfg = nli_clip_get_config(c);
    const size_t S = (size_t)cfg->vision.image_size, g = S / (size_t)cfg->vision.patch_size, Tv = g * g + 1;
    const size_t Dv = (size_t)cfg->vision.hidden_size, Dt = (size_t)cfg->text.hidden_size;
    const int Lv = cfg->vision.num_hidden_layers, Lt = cfg->text.num_hidden_layers;
    float out[4096];

    /* vision: the image as the golden preprocessing gives it */
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/images/%s", json_string_value(json_object_get(h, "image")));
    char *img = check_path(shared, rel);
    uint8_t *hwc = malloc(S * S * 3);
    float *px = malloc(S * S * 3 * sizeof(float)), *cap = calloc((size_t)(Lv + 2) * Tv * Dv, sizeof(float));
    CHECK(nl_preprocess_file(img, (int)S, NL_RESAMPLE_BICUBIC, hwc) == 0, "preprocess %s: %s", img, nl_last_error());
    nli_image_normalize(hwc, (int)S, cfg->image_mean, cfg->image_std, px);
    nli_clip_capture(c, cap);
    CHECK(nli_clip_encode_images(c, px, 1, out) == 0, "vision forward: %s", nli_geterr());
    check_layers("vision", cap, json_object_get(h, "vision_hidden_states"), Lv, Tv, Dv);
    double e = rel_err(cap + (size_t)(Lv + 1) * Tv * Dv, json_object_get(h, "vision_pooler_output"), Dv, 0);
    printf("vision pooler output: %.3g\n", e);
    CHECK(e >= 0 && e <= LIMIT, "vision pooler output (post_layernorm): off by %.3g", e);

    /* text */
    json_t *jids = json_object_get(h, "text_ids");
    size_t Tt = json_array_size(jids);
    int32_t ids[77];
    CHECK(Tt > 1 && Tt <= 77, "text_ids: %zu tokens", Tt);
    for (size_t i = 0; i < Tt && i < 77; i++) ids[i] = (int32_t)json_integer_value(json_array_get(jids, i));
    float *tcap = calloc((size_t)(Lt + 2) * Tt * Dt, sizeof(float));
    const int32_t *idp = ids;
    CHECK(nli_clip_encode_texts(c, &idp, &Tt, 1, out) == 0, "text forward: %s", nli_geterr());
    nli_clip_capture(c, tcap);
    CHECK(nli_clip_encode_texts(c, &idp, &Tt, 1, out) == 0, "text forward: %s", nli_geterr());
    check_layers("text", tcap, json_object_get(h, "text_hidden_states"), Lt, Tt, Dt);
    e = rel_err(tcap + (size_t)(Lt + 1) * Tt * Dt, json_object_get(h, "text_last_hidden_state_final_ln"), Tt, Dt);
    printf("text final LayerNorm: %.3g\n", e);
    CHECK(e >= 0 && e <= LIMIT, "text final LayerNorm: off by %.3g", e);

    nli_clip_capture(c, NULL);
    free(cap);
    free(tcap);
    free(px);
    free(hwc);
    free(img);
    free(hp);
    free(dir);
    json_decref(h);
    nli_clip_free(c);
    return check_done();
}
