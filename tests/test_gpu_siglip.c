/* test_gpu_siglip.c — SigLIP (transformers' SiglipModel) on the GPU
 * (src/clip/cuda: patch bias, no class token, no pre-LayerNorm,
 * post_layernorm on every token, the attention-pooling head; the text tower
 * padded to the context with pad_token_id, unmasked, pooled at the last
 * position, its head with a bias; GELU's tanh approximation) against the
 * CPU engine (clip_vision.c, clip_siglip.c, clip_text.c), which matches
 * transformers' float64 outputs (cli_siglip.sh).
 *
 * Two models: the fixture tests/data/siglip (tests/gen/gen_siglip.py;
 * width 32, head size 8: the CUDA-core attention in every precision), its
 * images (shared/fixtures/images, as golden.json names them) and 3
 * pseudo-random ones, in batches of 3, through the float pixel path and the
 * uint8 path (normalised on the GPU, both pipeline slots), texts as token
 * ids (the fixture's tokenized texts, and every length from 1 to the
 * context, ids across the whole vocabulary), also through the asynchronous
 * text slots and in several forward passes; and a random SigLIP written
 * here: its vision tower with head size 64 (the tensor-core attention in
 * fp16/bf16) and 729 tokens (so400m's 27 x 27 at 384 pixels: 12 attention
 * tiles per image, the pool over 729 keys), its text tower wider (144)
 * with so400m's head size 72 (the CUDA-core attention) and a 64-token
 * context (google/siglip-*'s), projected to the vision width.
 * fp32 on the GPU within 1e-5 * ||g|| of the CPU per row, fp16 and bf16
 * cosine >= 0.999. Label gpu: exits 77 with the reason where no CUDA device
 * is usable. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "clip.h"
#include "cuda/clip_cuda.h"
#include "image.h"
#include "neglabel.h"
#include "st_build.h"
#include "util.h"

static const char *const pname[4] = {"", "fp32", "fp16", "bf16"};

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void) {
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rs >> 33);
}
static double urand(void) { return rnd() / 2147483648.0 * 2.0 - 1.0; } /* [-1, 1) */

/* got against ref, n rows of dim: fp32 within 1e-5 * ||g||, else cosine >= 0.999 (and not identical). */
static void compare(const char *what, int prec, const float *got, const float *ref, size_t n, size_t dim) {
    double worst = 0, cmin = 1;
    for (size_t i = 0; i < n; i++) {
        double e = check_row_err(got + i * dim, ref + i * dim, dim), cs = check_cosine(got + i * dim, ref + i * dim, dim);
        if (!(e <= worst)) worst = e;
        if (!(cs >= cmin)) cmin = cs;
    }
    printf("%s GPU %s vs CPU fp32, %zu rows: worst max|a-g|/||g|| %.3g, worst cosine %.8f\n", what, pname[prec], n,
           worst, cmin);
    if (prec == 1) CHECK(worst <= 1e-5, "%s GPU fp32: off by %g (limit 1e-5)", what, worst);
    else CHECK(cmin >= 0.999 && worst > 0, "%s GPU %s: cosine %.8f (limit 0.999), error %g", what, pname[prec], cmin, worst);
}

/* Texts: ids[i][0..lens[i]). */
typedef struct {
    int32_t **ids;
    size_t *lens, n;
} texts;

static void texts_free(texts *t) {
    for (size_t i = 0; i < t->n; i++) free(t->ids[i]);
    free(t->ids);
    free(t->lens);
    memset(t, 0, sizeof *t);
}

static void texts_add(texts *t, const int32_t *ids, size_t len) {
    t->ids = realloc(t->ids, (t->n + 1) * sizeof *t->ids);
    t->lens = realloc(t->lens, (t->n + 1) * sizeof *t->lens);
    t->ids[t->n] = malloc(len * sizeof(int32_t));
    memcpy(t->ids[t->n], ids, len * sizeof(int32_t));
    t->lens[t->n++] = len;
}

/* A text of len random ids of the vocabulary (the pad id among them at times). */
static void texts_add_random(texts *t, size_t len, int vocab) {
    int32_t *ids = malloc(len * sizeof(int32_t));
    for (size_t k = 0; k < len; k++) ids[k] = (int32_t)(rnd() % (uint32_t)vocab);
    texts_add(t, ids, len);
    free(ids);
}

/* The texts on the GPU (c on a device) against ref: nli_clip_encode_texts,
 * the padded entry (the same for SigLIP: bit for bit), and the
 * asynchronous slots (two submits in flight; fp32: within 1e-6 of the one
 * call). */
static void check_texts(nli_clip *c, const char *what, int prec, const texts *t, const float *ref, size_t dim) {
    const int32_t *const *ids = (const int32_t *const *)t->ids;
    float *got = malloc(t->n * dim * sizeof(float)), *pad = malloc(t->n * dim * sizeof(float)),
          *asy = malloc(t->n * dim * sizeof(float));
    for (size_t i = 0; i < t->n * dim; i++) got[i] = pad[i] = asy[i] = NAN;
    char label[96];
    snprintf(label, sizeof label, "%s texts", what);
    CHECK(nli_clip_encode_texts(c, ids, t->lens, t->n, got) == 0, "%s GPU %s: %s", label, pname[prec], nli_geterr());
    compare(label, prec, got, ref, t->n, dim);
    CHECK(nli_clip_encode_texts_padded(c, ids, t->lens, t->n, pad) == 0 && !memcmp(pad, got, t->n * dim * sizeof(float)),
          "%s GPU %s: padded differs from unpadded (%s)", label, pname[prec], nli_geterr());
    size_t h = t->n / 2;
    int ok = nli_clip_texts_submit(c, 0, ids, t->lens, h) == 0 &&
             nli_clip_texts_submit(c, 1, ids + h, t->lens + h, t->n - h) == 0 && nli_clip_texts_collect(c, 0, asy) == 0 &&
             nli_clip_texts_collect(c, 1, asy + h * dim) == 0;
    CHECK(ok, "%s GPU %s: the text slots: %s", label, pname[prec], nli_geterr());
    /* other batches: other GEMM shapes, other roundings (16-bit ones too) */
    snprintf(label, sizeof label, "%s texts, two slots", what);
    compare(label, prec, asy, ref, t->n, dim);
    if (prec == 1) {
        double e = check_worst_row_err(asy, got, t->n, dim);
        CHECK(e <= 1e-6, "%s GPU fp32: %g from one call's (limit 1e-6)", label, e);
    }
    free(got);
    free(pad);
    free(asy);
}

/* n images of uint8 HWC through the GPU's pipeline (both slots, batches of
 * the model's size) into out. */
static int images_u8(nli_clip *c, const uint8_t *rgb, size_t n, size_t px, size_t dim, float *out) {
    nli_cuda_clip *g = nli_clip_gpu(c);
    const size_t B = (size_t)nli_cuda_clip_max_batch(g);
    size_t at[2] = {0, 0};
    int slot = 0, rc = 0;
    for (size_t s = 0; s < n && rc == 0; s += B, slot ^= 1) {
        size_t k = n - s < B ? n - s : B;
        if (s >= 2 * B && nli_cuda_images_collect(g, slot, out + at[slot] * dim) != 0) rc = -1;
        if (rc == 0 && nli_cuda_images_submit(g, slot, rgb + s * px, k) != 0) rc = -1;
        at[slot] = s;
    }
    for (int k = 0; k < 2; k++)
        if (nli_cuda_images_collect(g, k, out + at[k] * dim) != 0) rc = -1;
    return rc;
}

/* ------------------------------------------------------------ the fixture */

static void fixture(void) {
    const char *dir = check_src_data("siglip", ".");
    const char *shared = check_shared();
    char *imgs = check_path(shared, "fixtures/images");
    json_error_t je;
    json_t *golden = json_load_file(check_src_data("siglip", "golden.json"), 0, &je);
    CHECK(golden != NULL, "%s: %s", check_src_data("siglip", "golden.json"), je.text);
    nli_clip *c = nli_clip_load(dir, 2);
    CHECK(c != NULL, "load %s: %s", dir, nli_geterr());
    if (!c || !golden) {
        free(imgs);
        json_decref(golden);
        nli_clip_free(c);
        return;
    }
    const nli_clip_config *cfg = nli_clip_get_config(c);
    CHECK(cfg->siglip && cfg->vision.gelu_tanh && cfg->text.gelu_tanh, "the fixture is a SigLIP with tanh GELUs");
    const int S = cfg->vision.image_size, ctx = cfg->text.max_position_embeddings, vocab = cfg->text.vocab_size;
    const size_t px = (size_t)S * S * 3, per = 3 * (size_t)S * S, dim = (size_t)cfg->projection_dim;

    /* images: the fixture's, then 3 of random pixels */
    json_t *names = json_object_get(golden, "images");
    const size_t nf = json_object_size(names), n_img = nf + 3;
    CHECK(nf >= 3, "golden.json names %zu images", nf);
    uint8_t *rgb = malloc(n_img * px);
    float *pix = malloc(n_img * per * sizeof(float));
    size_t i = 0;
    const char *name;
    json_t *v;
    json_object_foreach(names, name, v) {
        char *p = check_path(imgs, name);
        int mode = cfg->resize_mode | (cfg->crop_floor ? NLI_RESIZE_CROP_FLOOR : 0);
        CHECK(nli_preprocess_file_mode(p, S, NL_RESAMPLE_BICUBIC, mode, cfg->fill_color, rgb + i * px) == 0, "%s: %s",
              p, nli_geterr());
        free(p);
        i++;
    }
    for (size_t k = nf * px; k < n_img * px; k++) rgb[k] = (uint8_t)(rnd() >> 8);
    for (size_t k = 0; k < n_img; k++) nli_image_normalize(rgb + k * px, S, cfg->image_mean, cfg->image_std, pix + k * per);

    /* texts: the fixture's tokenized ones, every length 1..ctx (the last exactly the context) */
    texts t = {0};
    json_t *gids = json_object_get(golden, "ids");
    json_object_foreach(gids, name, v) {
        size_t len = json_array_size(v) < (size_t)ctx ? json_array_size(v) : (size_t)ctx;
        int32_t buf[4096];
        for (size_t k = 0; k < len && k < 4096; k++) buf[k] = (int32_t)json_integer_value(json_array_get(v, k));
        if (len >= 1) texts_add(&t, buf, len);
    }
    CHECK(t.n >= 3, "golden.json has %zu id lists", t.n);
    for (int len = 1; len <= ctx; len++) texts_add_random(&t, (size_t)len, vocab);
    texts_add_random(&t, (size_t)ctx, vocab);
    /* many: more than one forward pass of 32,768 token rows */
    texts many = {0};
    const size_t n_many = 32768 / (size_t)ctx + 301;
    for (size_t k = 0; k < n_many; k++) texts_add_random(&many, 1 + rnd() % (uint32_t)ctx, vocab);

    float *ref_i = malloc(n_img * dim * sizeof(float)), *ref_t = malloc(t.n * dim * sizeof(float));
    float *ref_m = malloc(n_many * dim * sizeof(float)), *got = malloc(n_many * dim * sizeof(float));
    CHECK(nli_clip_encode_images(c, pix, n_img, ref_i) == 0, "CPU images: %s", nli_geterr());
    CHECK(nli_clip_encode_texts(c, (const int32_t *const *)t.ids, t.lens, t.n, ref_t) == 0, "CPU texts: %s",
          nli_geterr());
    CHECK(nli_clip_encode_texts(c, (const int32_t *const *)many.ids, many.lens, many.n, ref_m) == 0,
          "CPU many texts: %s", nli_geterr());
    for (int prec = 1; prec <= 3; prec++) {
        int ok = nli_clip_use_device(c, 0, prec, 3) == 0;
        CHECK(ok, "GPU %s: %s", pname[prec], nli_geterr());
        if (!ok) continue;
        for (size_t k = 0; k < n_img * dim; k++) got[k] = NAN;
        CHECK(nli_clip_encode_images(c, pix, n_img, got) == 0, "GPU %s images: %s", pname[prec], nli_geterr());
        compare("fixture images (float pixels)", prec, got, ref_i, n_img, dim);
        for (size_t k = 0; k < n_img * dim; k++) got[k] = NAN;
        CHECK(images_u8(c, rgb, n_img, px, dim, got) == 0, "GPU %s uint8 images: %s", pname[prec], nli_geterr());
        compare("fixture images (uint8, the pipeline)", prec, got, ref_i, n_img, dim);
        check_texts(c, "fixture", prec, &t, ref_t, dim);
        if (prec == 1) {
            for (size_t k = 0; k < n_many * dim; k++) got[k] = NAN;
            CHECK(nli_clip_encode_texts(c, (const int32_t *const *)many.ids, many.lens, many.n, got) == 0,
                  "GPU many texts: %s", nli_geterr());
            char what[64];
            snprintf(what, sizeof what, "fixture, %zu texts (several passes)", n_many);
            compare(what, prec, got, ref_m, n_many, dim);
        }
    }
    CHECK(nli_clip_use_device(c, -1, 1, 0) == 0, "back to the CPU");
    texts_free(&t);
    texts_free(&many);
    free(rgb);
    free(pix);
    free(ref_i);
    free(ref_t);
    free(ref_m);
    free(got);
    free(imgs);
    json_decref(golden);
    nli_clip_free(c);
}

/* ------------------------------------------------------------ a larger random SigLIP */

typedef struct {
    json_t *hdr;
    float *data;
    size_t n, cap;
} stw;

/* kind 0: a weight (fan_in columns: ~U(-1, 1) / sqrt(fan_in)); 1: a
 * LayerNorm gain (1 +- 0.2); 2: a bias (+-0.1); 3: embeddings (+-0.5). */
static void stw_put(stw *w, const char *name, int ndim, const int64_t *shape, int kind) {
    size_t n = 1;
    json_t *sh = json_array();
    for (int i = 0; i < ndim; i++) {
        n *= (size_t)shape[i];
        json_array_append_new(sh, json_integer(shape[i]));
    }
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2;
        w->data = realloc(w->data, w->cap * sizeof(float));
    }
    double sc = kind == 0 ? 1.0 / sqrt((double)shape[ndim - 1]) : kind == 1 ? 0.2 : kind == 2 ? 0.1 : 0.5;
    for (size_t i = 0; i < n; i++) w->data[w->n + i] = (float)((kind == 1 ? 1.0 : 0.0) + sc * urand());
    json_object_set_new(w->hdr, name, json_pack("{s:s,s:o,s:[II]}", "dtype", "F32", "shape", sh, "data_offsets",
                                                (json_int_t)(w->n * 4), (json_int_t)((w->n + n) * 4)));
    w->n += n;
}

static void stw_tower(stw *w, const char *pre, int L, int64_t D, int64_t I) {
    char nm[160];
    for (int l = 0; l < L; l++) {
        static const char *const lin[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                          "self_attn.out_proj", "mlp.fc1", "mlp.fc2"};
        for (int k = 0; k < 6; k++) {
            int64_t s[2] = {k == 4 ? I : D, k == 5 ? I : D};
            snprintf(nm, sizeof nm, "%s.encoder.layers.%d.%s.weight", pre, l, lin[k]);
            stw_put(w, nm, 2, s, 0);
            snprintf(nm, sizeof nm, "%s.encoder.layers.%d.%s.bias", pre, l, lin[k]);
            stw_put(w, nm, 1, s, 2);
        }
        for (int k = 1; k <= 2; k++) {
            snprintf(nm, sizeof nm, "%s.encoder.layers.%d.layer_norm%d.weight", pre, l, k);
            stw_put(w, nm, 1, &D, 1);
            snprintf(nm, sizeof nm, "%s.encoder.layers.%d.layer_norm%d.bias", pre, l, k);
            stw_put(w, nm, 1, &D, 2);
        }
    }
}

#define BIG_D 128    /* the vision width (the embeddings'): 2 heads of 64 */
#define BIG_I 256
#define BIG_DT 144   /* the text width: 2 heads of 72 (so400m's head size), projected to BIG_D */
#define BIG_IT 288
#define BIG_S 378    /* 27 x 27 patches of 14 pixels: 729 tokens */
#define BIG_P 14
#define BIG_CTX 64
#define BIG_VOCAB 300

static int write_big(const char *dir) {
    const int64_t D = BIG_D, I = BIG_I, Dt = BIG_DT, It = BIG_IT, g = BIG_S / BIG_P, V = BIG_VOCAB, C = BIG_CTX;
    char cfgs[1024];
    snprintf(cfgs, sizeof cfgs,
             "{\"model_type\": \"siglip\", \"text_config\": {\"hidden_size\": %d, \"intermediate_size\": %d, "
             "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"max_position_embeddings\": %d, \"vocab_size\": %d, "
             "\"pad_token_id\": 1, \"projection_size\": %d, \"hidden_act\": \"gelu_pytorch_tanh\", "
             "\"layer_norm_eps\": 1e-06}, "
             "\"vision_config\": {\"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": 2, "
             "\"num_attention_heads\": 2, \"image_size\": %d, \"patch_size\": %d, \"hidden_act\": "
             "\"gelu_pytorch_tanh\", \"layer_norm_eps\": 1e-06}}",
             BIG_DT, BIG_IT, BIG_CTX, BIG_VOCAB, BIG_D, BIG_D, BIG_I, BIG_S, BIG_P);
    char pre[512];
    snprintf(pre, sizeof pre,
             "{\"do_normalize\": true, \"do_rescale\": true, \"do_resize\": true, \"image_mean\": [0.5, 0.5, 0.5], "
             "\"image_std\": [0.5, 0.5, 0.5], \"image_processor_type\": \"SiglipImageProcessor\", \"resample\": 3, "
             "\"rescale_factor\": 0.00392156862745098, \"size\": {\"height\": %d, \"width\": %d}}",
             BIG_S, BIG_S);
    char *p1 = check_path(dir, "config.json"), *p2 = check_path(dir, "preprocessor_config.json"),
         *p3 = check_path(dir, "model.safetensors");
    int rc = stb_spit(p1, cfgs, strlen(cfgs), NULL, 0) | stb_spit(p2, pre, strlen(pre), NULL, 0);
    stw w = {json_object(), NULL, 0, 0};
    int64_t s1[1] = {1}, sv[2] = {V, Dt}, sc[2] = {C, Dt}, sdd[2] = {D, D}, sdt[1] = {Dt}, shead[2] = {D, Dt}, spatch[4] = {D, 3, BIG_P, BIG_P},
            svp[2] = {g * g, D}, sin[2] = {3 * D, D}, sinb[1] = {3 * D}, sfc1[2] = {I, D}, sfc2[2] = {D, I},
            sprobe[3] = {1, 1, D}, sd[1] = {D}, si[1] = {I};
    stw_put(&w, "logit_scale", 1, s1, 2);
    stw_put(&w, "logit_bias", 1, s1, 2);
    stw_put(&w, "text_model.embeddings.token_embedding.weight", 2, sv, 3);
    stw_put(&w, "text_model.embeddings.position_embedding.weight", 2, sc, 3);
    stw_tower(&w, "text_model", 2, Dt, It);
    stw_put(&w, "text_model.final_layer_norm.weight", 1, sdt, 1);
    stw_put(&w, "text_model.final_layer_norm.bias", 1, sdt, 2);
    stw_put(&w, "text_model.head.weight", 2, shead, 0);
    stw_put(&w, "text_model.head.bias", 1, sd, 2);
    stw_put(&w, "vision_model.embeddings.patch_embedding.weight", 4, spatch, 0);
    stw_put(&w, "vision_model.embeddings.patch_embedding.bias", 1, sd, 2);
    stw_put(&w, "vision_model.embeddings.position_embedding.weight", 2, svp, 3);
    stw_tower(&w, "vision_model", 2, D, I);
    stw_put(&w, "vision_model.post_layernorm.weight", 1, sd, 1);
    stw_put(&w, "vision_model.post_layernorm.bias", 1, sd, 2);
    stw_put(&w, "vision_model.head.probe", 3, sprobe, 3);
    stw_put(&w, "vision_model.head.attention.in_proj_weight", 2, sin, 0);
    stw_put(&w, "vision_model.head.attention.in_proj_bias", 1, sinb, 2);
    stw_put(&w, "vision_model.head.attention.out_proj.weight", 2, sdd, 0);
    stw_put(&w, "vision_model.head.attention.out_proj.bias", 1, sd, 2);
    stw_put(&w, "vision_model.head.layernorm.weight", 1, sd, 1);
    stw_put(&w, "vision_model.head.layernorm.bias", 1, sd, 2);
    stw_put(&w, "vision_model.head.mlp.fc1.weight", 2, sfc1, 0);
    stw_put(&w, "vision_model.head.mlp.fc1.bias", 1, si, 2);
    stw_put(&w, "vision_model.head.mlp.fc2.weight", 2, sfc2, 0);
    stw_put(&w, "vision_model.head.mlp.fc2.bias", 1, sd, 2);
    char *h = json_dumps(w.hdr, JSON_COMPACT);
    rc |= stb_write_raw(p3, h, strlen(h), w.data, w.n * 4);
    free(h);
    json_decref(w.hdr);
    free(w.data);
    free(p1);
    free(p2);
    free(p3);
    return rc;
}

static void big(void) {
    char tmp[] = "/tmp/neglabel-gpu-siglip-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    CHECK(write_big(tmp) == 0, "write the random SigLIP");
    nli_clip *c = nli_clip_load(tmp, 2);
    CHECK(c != NULL, "load the random SigLIP: %s", nli_geterr());
    if (!c) return;
    const nli_clip_config *cfg = nli_clip_get_config(c);
    const size_t S = BIG_S, per = 3 * S * S, dim = (size_t)cfg->projection_dim, n_img = 3;
    CHECK(cfg->siglip && dim == BIG_D, "a SigLIP of width %d", BIG_D);
    float *pix = malloc(n_img * per * sizeof(float)), *ref = malloc(n_img * dim * sizeof(float));
    for (size_t k = 0; k < n_img * per; k++) pix[k] = (float)(2 * urand());
    texts t = {0};
    static const int lens[] = {1, 2, 7, 17, 40, 63, BIG_CTX, BIG_CTX};
    for (int k = 0; k < 8; k++) texts_add_random(&t, (size_t)lens[k], BIG_VOCAB);
    float *ref_t = malloc(t.n * dim * sizeof(float)), *got = malloc((t.n + n_img) * dim * sizeof(float));
    CHECK(nli_clip_encode_images(c, pix, n_img, ref) == 0, "CPU images: %s", nli_geterr());
    CHECK(nli_clip_encode_texts(c, (const int32_t *const *)t.ids, t.lens, t.n, ref_t) == 0, "CPU texts: %s",
          nli_geterr());
    for (int prec = 1; prec <= 3; prec++) {
        int ok = nli_clip_use_device(c, 0, prec, 2) == 0;
        CHECK(ok, "GPU %s: %s", pname[prec], nli_geterr());
        if (!ok) continue;
        for (size_t k = 0; k < n_img * dim; k++) got[k] = NAN;
        CHECK(nli_clip_encode_images(c, pix, n_img, got) == 0, "GPU %s images: %s", pname[prec], nli_geterr());
        compare("random SigLIP (729 tokens, head size 64) images", prec, got, ref, n_img, dim);
        check_texts(c, "random SigLIP (64 positions, head size 72)", prec, &t, ref_t, dim);
    }
    CHECK(nli_clip_use_device(c, -1, 1, 0) == 0, "back to the CPU");
    texts_free(&t);
    free(pix);
    free(ref);
    free(ref_t);
    free(got);
    nli_clip_free(c);
    CHECK(check_rm_rf(tmp) == 0, "remove %s", tmp);
}

int main(void) {
    if (nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    big();
    fixture();
    return check_done();
}
