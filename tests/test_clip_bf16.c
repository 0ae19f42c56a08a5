/* test_clip_bf16.c — the CPU towers in bf16 (nli_clip_use_bf16), on every
 * bf16 kernel this CPU runs (AMX, AVX512-BF16):
 *   - agreement with float32: every image and text embedding of the tiny
 *     model and of a generated full-size ViT-B/16 (random weights, the
 *     shapes of openai/clip-vit-base-patch16) has cosine >= 0.9995 to the
 *     float32 one (issue 8's bound);
 *   - batch independence: an image or text gives the same bits alone, in a
 *     batch, and at another position; thread independence: 1 and 2 threads
 *     give the same bits;
 *   - float32 unchanged: switching bf16 on and off again gives float32's
 *     bits back;
 *   - the fallback through the public API: with no native bf16 (forced by
 *     the "none" kernel, as NEGLABEL_CPU_BF16=none does), --precision bf16
 *     loads in fp32 with the same bits as fp32, or fails with
 *     strict_precision.
 * On a CPU without native bf16 only the fallback part runs. */
#include "check.h"
#include "clip.h"
#include "gemm_bf16.h"
#include "neglabel.h"
#include "random_clip.h"

#include <math.h>

#define NI 5
#define NT 6

static uint64_t prng = 0x243F6A8885A308D3ull;
static float nrand(void) { /* roughly N(0, 1): normalised pixels */
    float s = 0;
    for (int i = 0; i < 4; i++) {
        prng ^= prng << 13;
        prng ^= prng >> 7;
        prng ^= prng << 17;
        s += (float)((prng >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
    }
    return s * 1.7f;
}

typedef struct {
    float *px;
    int32_t *ids[NT];
    size_t lens[NT];
} inputs;

static void make_inputs(inputs *in, const nli_clip_config *cfg) {
    size_t npx = (size_t)cfg->vision.num_channels * cfg->vision.image_size * cfg->vision.image_size;
    in->px = malloc(NI * npx * sizeof(float));
    for (size_t i = 0; i < NI * npx; i++) in->px[i] = nrand();
    int V = cfg->text.vocab_size, eot = cfg->text.eos_token_id > 2 ? cfg->text.eos_token_id : V - 1;
    for (int t = 0; t < NT; t++) {
        size_t L = 3 + (size_t)t * 7 % (size_t)(cfg->text.max_position_embeddings - 3);
        in->lens[t] = L;
        in->ids[t] = malloc(L * sizeof(int32_t));
        in->ids[t][0] = V - 2;
        for (size_t k = 1; k + 1 < L; k++) in->ids[t][k] = (int32_t)((t * 131 + k * 17) % (size_t)(V - 3));
        in->ids[t][L - 1] = eot;
    }
}

static void free_inputs(inputs *in) {
    free(in->px);
    for (int t = 0; t < NT; t++) free(in->ids[t]);
}

static int encode(nli_clip *c, const inputs *in, float *img, float *txt) {
    return nli_clip_encode_images(c, in->px, NI, img) ||
           nli_clip_encode_texts(c, (const int32_t *const *)in->ids, in->lens, NT, txt);
}

/* One model folder: agreement, batch and thread independence, fp32 back. */
static void check_model(const char *name, const char *dir, int full) {
    nli_clip *c = nli_clip_load(dir, 2), *c1 = nli_clip_load(dir, 1);
    CHECK(c && c1, "%s: load: %s", name, nli_geterr());
    if (!c || !c1) return;
    const nli_clip_config *cfg = nli_clip_get_config(c);
    size_t P = (size_t)cfg->projection_dim, npx = (size_t)cfg->vision.num_channels * cfg->vision.image_size *
                                                     cfg->vision.image_size;
    inputs in;
    make_inputs(&in, cfg);
    float *i32 = malloc(NI * P * 4), *t32 = malloc(NT * P * 4), *ib = malloc(NI * P * 4), *tb = malloc(NT * P * 4);
    float *x = malloc(NI * P * 4), *y = malloc(NT * P * 4);
    CHECK(encode(c, &in, i32, t32) == 0, "%s: fp32: %s", name, nli_geterr());
    CHECK(nli_clip_use_bf16(c, 1) == 0 && nli_clip_use_bf16(c1, 1) == 0, "%s: bf16 on: %s", name, nli_geterr());
    CHECK(encode(c, &in, ib, tb) == 0, "%s: bf16: %s", name, nli_geterr());
    double worst = 1;
    for (int i = 0; i < NI; i++) worst = fmin(worst, check_cosine(i32 + i * P, ib + i * P, P));
    for (int t = 0; t < NT; t++) worst = fmin(worst, check_cosine(t32 + t * P, tb + t * P, P));
    printf("%s (%s): worst cosine bf16 vs fp32 %.7f\n", name, nli_bf16_kernel_name(), worst);
    CHECK(worst >= 0.9995, "%s: bf16 embeddings within cosine 0.9995 of fp32 (worst %.7f)", name, worst);
    if (!full) {
        /* batches: each image alone, and images 1.. shifted to the front */
        int ok = 1;
        for (int i = 0; i < NI && ok; i++) {
            ok &= nli_clip_encode_images(c, in.px + i * npx, 1, x) == 0;
            ok &= !memcmp(x, ib + i * P, P * 4);
        }
        CHECK(ok, "%s: an image alone gives the bits it gets in a batch", name);
        CHECK(nli_clip_encode_images(c, in.px + npx, NI - 1, x) == 0 && !memcmp(x, ib + P, (NI - 1) * P * 4),
              "%s: images at other positions", name);
        ok = 1;
        for (int t = 0; t < NT && ok; t++) {
            ok &= nli_clip_encode_texts(c, (const int32_t *const *)&in.ids[t], &in.lens[t], 1, y) == 0;
            ok &= !memcmp(y, tb + t * P, P * 4);
        }
        CHECK(ok, "%s: a text alone gives the bits it gets in a batch", name);
    }
    CHECK(encode(c1, &in, x, y) == 0 && !memcmp(x, ib, NI * P * 4) && !memcmp(y, tb, NT * P * 4),
          "%s: 1 thread gives the bits of 2", name);
    /* Packed while loading (what nl_model_load does for bf16 on the CPU,
     * giving back the float32 matrices): the same packed bits. */
    nli_clip *cp = nli_clip_load_ex(dir, NULL, 2, 1, NLI_LAYOUT_AUTO);
    CHECK(cp != NULL, "%s: load packed for bf16: %s", name, nli_geterr());
    if (cp) {
        CHECK(encode(cp, &in, x, y) == 0 && !memcmp(x, ib, NI * P * 4) && !memcmp(y, tb, NT * P * 4),
              "%s: packed while loading gives the bits of packing after", name);
        CHECK(nli_clip_use_bf16(cp, 0) != 0 && strstr(nli_geterr(), "reload it for fp32"),
              "%s: packed while loading: no way back to fp32 (%s)", name, nli_geterr());
        CHECK(nli_clip_use_bf16(cp, 1) == 0 && encode(cp, &in, x, y) == 0 && !memcmp(x, ib, NI * P * 4),
              "%s: packed while loading: bf16 on again is a no-op", name);
        nli_clip_free(cp);
    }
    CHECK(nli_clip_use_bf16(c, 0) == 0 && encode(c, &in, x, y) == 0 && !memcmp(x, i32, NI * P * 4) &&
              !memcmp(y, t32, NT * P * 4),
          "%s: bf16 off again: fp32's bits", name);
    free_inputs(&in);
    free(i32); free(t32); free(ib); free(tb); free(x); free(y);
    nli_clip_free(c);
    nli_clip_free(c1);
}

/* The public API when the CPU has no native bf16. */
static void check_fallback(const char *dir) {
    CHECK(nli_bf16_set_kernel("none") == 0, "force the 'none' kernel");
    nl_model_params p = nl_model_default_params();
    p.device = NL_DEVICE_CPU;
    p.precision = NL_PRECISION_BF16;
    nl_model *m = nl_model_load(dir, &p);
    CHECK(m && nl_model_precision(m) == NL_PRECISION_FP32, "no bf16: loads in fp32 (%s)", m ? "" : nl_last_error());
    p.precision = NL_PRECISION_FP32;
    nl_model *m32 = nl_model_load(dir, &p);
    const char *texts[] = {"a photo of a dog", "the nice cat"};
    if (m && m32) {
        size_t d = (size_t)nl_model_dim(m);
        float *a = malloc(2 * d * 4), *b = malloc(2 * d * 4);
        CHECK(nl_embed_texts(m, texts, 2, a) == 0 && nl_embed_texts(m32, texts, 2, b) == 0 && !memcmp(a, b, 2 * d * 4),
              "no bf16: the fp32 bits");
        free(a);
        free(b);
    }
    nl_model_free(m);
    nl_model_free(m32);
    p.precision = NL_PRECISION_BF16;
    p.strict_precision = 1;
    m = nl_model_load(dir, &p);
    CHECK(!m && nl_last_status() == NL_ERR_UNSUPPORTED && strstr(nl_last_error(), "bf16"),
          "no bf16, strict: refused (%s)", nl_last_error());
    nl_model_free(m);
}

int main(void) {
    const char *shared = check_shared();
    char *tiny = check_path(shared, "fixtures/tiny-clip");
    printf("CPU bf16: '%s'\n", nli_bf16_cpu_features());
    static const char *kernels[] = {"amx", "avx512bf16"};
    int ran = 0;
    char dir[] = "/tmp/neglabel-bf16-XXXXXX";
    int made = 0;
    for (int k = 0; k < 2; k++) {
        if (nli_bf16_set_kernel(kernels[k]) != 0) {
            printf("kernel %s: not on this CPU\n", kernels[k]);
            continue;
        }
        ran++;
        check_model("tiny", tiny, 0);
        if (!made) {
            CHECK(mkdtemp(dir) != NULL, "mkdtemp");
            random_clip_write(dir);
            made = 1;
        }
        check_model("ViT-B/16 random", dir, 1);
    }
    if (made) stb_rmtree(dir);
    check_fallback(tiny);
    if (!ran) printf("no native bf16 on this CPU: only the fallback was checked\n");
    free(tiny);
    return check_done();
}
