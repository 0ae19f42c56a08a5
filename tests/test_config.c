/* test_config.c — config.json resolution against Hugging Face's
 * CLIPTextConfig / CLIPVisionConfig defaults (transformers'
 * configuration_clip.py), preprocessor_config.json, and malformed input. */
#include <math.h>

#include "check.h"
#include "clip.h"
#include "neglabel.h"
#include "st_build.h"
#include "util.h"
#include <unistd.h>

static const char *tmp;
static int counter;

/* A folder holding config.json (and preprocessor_config.json if pp). */
static char *folder(const char *cfg, const char *pp) {
    char name[32];
    snprintf(name, sizeof name, "cfg%02d", counter++);
    char *d = check_path(tmp, name);
    nli_mkdir_p(d);
    char *c = check_path(d, "config.json");
    stb_spit(c, cfg, strlen(cfg), NULL, 0);
    free(c);
    if (pp) {
        char *p = check_path(d, "preprocessor_config.json");
        stb_spit(p, pp, strlen(pp), NULL, 0);
        free(p);
    }
    return d;
}

/* transformers 5 saves processor_config.json, the image processor's
 * settings under "image_processor", and no preprocessor_config.json. */
static void processor_config_cases(void) {
    nli_clip_config c;
    char *d = folder("{}", NULL), *p = check_path(d, "processor_config.json");
    const char *proc = "{\"image_processor\":{\"crop_size\":{\"height\":224,\"width\":224},\"do_center_crop\":true,"
                       "\"do_convert_rgb\":true,\"do_normalize\":true,\"do_rescale\":true,\"do_resize\":true,"
                       "\"image_mean\":[0.5,0.25,0.125],\"image_processor_type\":\"CLIPImageProcessor\","
                       "\"image_std\":[0.5,0.5,0.5],\"resample\":2,\"rescale_factor\":0.00392156862745098,"
                       "\"size\":{\"shortest_edge\":224}},\"processor_class\":\"CLIPProcessor\"}";
    stb_spit(p, proc, strlen(proc), NULL, 0);
    int rc = nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c);
    CHECK(rc == 0 && c.image_mean[1] == 0.25f && c.image_std[2] == 0.5f && c.resample_default == NL_RESAMPLE_BILINEAR,
          "processor_config.json read: %s", rc ? nli_geterr() : "other values");
    /* preprocessor_config.json wins when both are there */
    char *pp = check_path(d, "preprocessor_config.json");
    stb_spit(pp, "{\"resample\":3}", 14, NULL, 0);
    rc = nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c);
    CHECK(rc == 0 && c.image_mean[1] == 0.4578275f && c.resample_default == NL_RESAMPLE_BICUBIC,
          "preprocessor_config.json first: %s", rc ? nli_geterr() : "processor_config.json read");
    unlink(pp);
    const char *bad = "{\"image_processor\":{\"size\":{\"shortest_edge\":256}}}";
    stb_spit(p, bad, strlen(bad), NULL, 0);
    rc = nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c);
    CHECK(rc != 0 && strstr(nli_geterr(), "processor_config.json: image_processor") && strstr(nli_geterr(), "size 256"),
          "bad image_processor: %s", nli_geterr());
    stb_spit(p, "{\"image_processor\":3}", 21, NULL, 0);
    rc = nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c);
    CHECK(rc != 0 && strstr(nli_geterr(), "processor_config.json") && strstr(nli_geterr(), "not an object"),
          "image_processor not an object: %s", nli_geterr());
    stb_spit(p, "{\"processor_class\":\"CLIPProcessor\"}", 35, NULL, 0);
    rc = nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c);
    CHECK(rc == 0 && c.image_mean[0] == 0.48145466f, "processor_config.json without image_processor: %s", nli_geterr());
    free(pp);
    free(p);
    free(d);
}

static int load(const char *cfg, const char *pp, nli_clip_config *out);

/* size {"height": n, "width": n}: both sides resized (squash), as
 * CLIPImageProcessor does; a crop then changes nothing, so it may be off. */
static void squash_cases(void) {
    nli_clip_config c;
    int rc = load("{}", "{\"size\":{\"height\":224,\"width\":224},\"crop_size\":224}", &c);
    CHECK(rc == 0 && c.resize_mode == NLI_RESIZE_SQUASH, "squash: %s", rc ? nli_geterr() : "other mode");
    rc = load("{}", "{\"size\":{\"height\":224,\"width\":224},\"do_center_crop\":false}", &c);
    CHECK(rc == 0 && c.resize_mode == NLI_RESIZE_SQUASH, "squash, no crop: %s", rc ? nli_geterr() : "other mode");
    rc = load("{}", "{\"size\":{\"shortest_edge\":224},\"crop_size\":{\"height\":224,\"width\":224}}", &c);
    CHECK(rc == 0 && c.resize_mode == NLI_RESIZE_SHORTEST, "shortest edge: %s", rc ? nli_geterr() : "other mode");
}

static int load(const char *cfg, const char *pp, nli_clip_config *out) {
    char *d = folder(cfg, pp);
    int rc = nli_clip_config_load(d, NLI_LAYOUT_AUTO, out);
    free(d);
    return rc;
}

static void expect_fail(const char *what, const char *cfg, const char *pp, const char *file, const char *frag) {
    nli_clip_config c;
    int rc = load(cfg, pp, &c);
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0) return;
    const char *e = nli_geterr();
    printf("%-28s -> %s\n", what, e);
    CHECK(strstr(e, file) != NULL, "%s: message does not name %s: %s", what, file, e);
    CHECK(strstr(e, frag) != NULL, "%s: expected '%s' in: %s", what, frag, e);
}

/* Values openai/clip-vit-base-patch16 resolves to in transformers. */
static void check_b16_text(const nli_clip_config *c, int bos, int eos) {
    const nli_tower_config *t = &c->text;
    CHECK(t->vocab_size == 49408 && t->hidden_size == 512 && t->intermediate_size == 2048, "text sizes");
    CHECK(t->num_hidden_layers == 12 && t->num_attention_heads == 8 && t->max_position_embeddings == 77, "text depth");
    CHECK(t->bos_token_id == bos && t->eos_token_id == eos && t->pad_token_id == 1, "text ids %d %d %d",
          t->bos_token_id, t->eos_token_id, t->pad_token_id);
    CHECK(t->quick_gelu == 1 && t->layer_norm_eps == 1e-5, "text act/eps");
}

static void check_vision(const nli_clip_config *c, int patch) {
    const nli_tower_config *v = &c->vision;
    CHECK(v->hidden_size == 768 && v->intermediate_size == 3072 && v->num_hidden_layers == 12 &&
              v->num_attention_heads == 12, "vision sizes");
    CHECK(v->image_size == 224 && v->patch_size == patch && v->num_channels == 3, "vision patch %d", v->patch_size);
    CHECK(v->quick_gelu == 1 && v->layer_norm_eps == 1e-5, "vision act/eps");
    CHECK(c->projection_dim == 512, "projection_dim %d", c->projection_dim);
}

static void defaults_cases(void) {
    nli_clip_config c;
    int rc = load("{\"text_config\":{\"bos_token_id\":0,\"eos_token_id\":2},\"vision_config\":{\"patch_size\":16}}", NULL, &c);
    CHECK(rc == 0, "minimal B/16: %s", nli_geterr());
    if (rc == 0) {
        check_b16_text(&c, 0, 2);
        check_vision(&c, 16);
        /* OpenAI preprocessing when there is no preprocessor_config.json */
        CHECK(c.image_mean[0] == 0.48145466f && c.image_std[2] == 0.27577711f, "default mean/std");
        CHECK(c.resample_default == NL_RESAMPLE_BICUBIC, "default resample");
    }

    /* The shape of the real openai config (clip-vit-base-patch16): names,
     * architectures, and the *_dict keys of configs saved before
     * transformers 4.27, which CLIPConfig builds the towers from (over the
     * defaults, so eos_token_id is 49407 here, not text_config's 2).
     * Expected values: tests/gen/gen_config_dicts.py ("openai-style"). */
    rc = load("{\"_name_or_path\":\"openai/clip-vit-base-patch16\",\"architectures\":[\"CLIPModel\"],"
              "\"initializer_factor\":1.0,\"logit_scale_init_value\":2.6592,\"model_type\":\"clip\","
              "\"projection_dim\":512,\"text_config\":{\"_name_or_path\":\"\",\"bos_token_id\":0,"
              "\"dropout\":0.0,\"eos_token_id\":2,\"hidden_act\":\"quick_gelu\",\"max_length\":20,"
              "\"pad_token_id\":1,\"bad_words_ids\":null,\"task_specific_params\":null},"
              "\"text_config_dict\":{\"hidden_size\":512,\"intermediate_size\":2048,\"num_attention_heads\":8,"
              "\"num_hidden_layers\":12},"
              "\"vision_config\":{\"dropout\":0.0,\"patch_size\":16,\"hidden_act\":\"quick_gelu\"},"
              "\"vision_config_dict\":{\"hidden_size\":768,\"intermediate_size\":3072,\"num_attention_heads\":12,"
              "\"num_hidden_layers\":12,\"patch_size\":16},\"torch_dtype\":\"float32\"}",
              NULL, &c);
    CHECK(rc == 0, "openai-style B/16: %s", nli_geterr());
    if (rc == 0) {
        check_b16_text(&c, 49406, 49407);
        check_vision(&c, 16);
        CHECK(!c.text.pool_argmax, "openai-style: pooled at the first eos_token_id 49407");
    }
    /* the dicts alone ("dict-only"): an L/14, not the defaults' B/32 */
    rc = load("{\"projection_dim\":768,\"text_config_dict\":{\"hidden_size\":768,\"num_attention_heads\":12,"
              "\"intermediate_size\":3072},\"vision_config_dict\":{\"hidden_size\":1024,\"num_hidden_layers\":24,"
              "\"num_attention_heads\":16,\"intermediate_size\":4096,\"patch_size\":14}}",
              NULL, &c);
    CHECK(rc == 0, "dicts only: %s", nli_geterr());
    if (rc == 0) {
        CHECK(c.text.hidden_size == 768 && c.text.intermediate_size == 3072 && c.text.num_attention_heads == 12 &&
                  c.text.num_hidden_layers == 12 && c.text.quick_gelu == 1 && c.text.eos_token_id == 49407,
              "dicts only: text %d %d %d", c.text.hidden_size, c.text.intermediate_size, c.text.num_attention_heads);
        CHECK(c.vision.hidden_size == 1024 && c.vision.intermediate_size == 4096 && c.vision.num_hidden_layers == 24 &&
                  c.vision.num_attention_heads == 16 && c.vision.patch_size == 14 && c.vision.quick_gelu == 1,
              "dicts only: vision %d %d %d", c.vision.hidden_size, c.vision.num_hidden_layers, c.vision.patch_size);
    }
    /* a dict without hidden_act / layer_norm_eps ("dict-lacks-act"): the
     * defaults (quick_gelu, 1e-5), not text_config's gelu and 1e-6 */
    rc = load("{\"text_config\":{\"hidden_act\":\"gelu\",\"eos_token_id\":2,\"layer_norm_eps\":1e-6},"
              "\"text_config_dict\":{\"hidden_size\":512},"
              "\"vision_config\":{\"hidden_act\":\"quick_gelu\",\"patch_size\":32},"
              "\"vision_config_dict\":{\"hidden_act\":\"gelu\",\"patch_size\":16}}",
              NULL, &c);
    CHECK(rc == 0, "dict without hidden_act: %s", nli_geterr());
    if (rc == 0) {
        check_b16_text(&c, 49406, 49407);
        CHECK(!c.text.pool_argmax, "dict without hidden_act: first-eos pooling");
        CHECK(c.vision.quick_gelu == 0 && c.vision.patch_size == 16 && c.vision.layer_norm_eps == 1e-5,
              "dict without hidden_act: vision gelu, patch 16");
    }
    /* null dicts ("null-dicts", openai/clip-vit-base-patch32): text_config
     * and vision_config */
    rc = load("{\"text_config\":{\"eos_token_id\":2,\"hidden_act\":\"gelu\"},\"text_config_dict\":null,"
              "\"vision_config\":{\"patch_size\":16},\"vision_config_dict\":null}",
              NULL, &c);
    CHECK(rc == 0, "null dicts: %s", nli_geterr());
    if (rc == 0) {
        CHECK(c.text.quick_gelu == 0 && c.text.eos_token_id == 2 && c.text.bos_token_id == 49406 && c.text.pool_argmax,
              "null dicts: text_config read");
        check_vision(&c, 16);
    }
    expect_fail("dict not an object", "{\"text_config\":{},\"text_config_dict\":[1]}", NULL, "config.json",
                "text_config_dict is not an object");

    rc = load("{\"text_config\":{}}", NULL, &c);
    CHECK(rc == 0, "no vision_config: %s", nli_geterr());
    if (rc == 0) { check_b16_text(&c, 49406, 49407); check_vision(&c, 32); }
    rc = load("{\"text_config\":null,\"vision_config\":null}", NULL, &c);
    CHECK(rc == 0, "null towers: %s", nli_geterr());
    if (rc == 0) { check_b16_text(&c, 49406, 49407); check_vision(&c, 32); }

    /* ViT-L/14-336 numbers pass through; gelu is the exact variant. */
    rc = load("{\"projection_dim\":768,\"text_config\":{\"hidden_size\":768,\"num_attention_heads\":12,"
              "\"intermediate_size\":3072,\"hidden_act\":\"gelu\",\"layer_norm_eps\":1e-6},"
              "\"vision_config\":{\"hidden_size\":1024,\"num_hidden_layers\":24,\"num_attention_heads\":16,"
              "\"intermediate_size\":4096,\"patch_size\":14,\"image_size\":336}}",
              "{\"image_mean\":[0.5,0.5,0.5],\"image_std\":[0.25,0.5,1.0],\"resample\":2,\"crop_size\":{\"height\":336,\"width\":336}}", &c);
    CHECK(rc == 0, "L/14: %s", nli_geterr());
    if (rc == 0) {
        CHECK(c.projection_dim == 768 && c.text.hidden_size == 768 && c.text.quick_gelu == 0 && c.text.layer_norm_eps == 1e-6,
              "L/14 text");
        CHECK(c.vision.hidden_size == 1024 && c.vision.num_hidden_layers == 24 && c.vision.patch_size == 14 &&
                  c.vision.image_size == 336 && c.vision.quick_gelu == 1, "L/14 vision");
        CHECK(c.image_mean[1] == 0.5f && c.image_std[0] == 0.25f && c.image_std[2] == 1.0f, "custom mean/std");
        CHECK(c.resample_default == NL_RESAMPLE_BILINEAR, "resample 2 -> bilinear");
    }
}

static void error_cases(void) {
    expect_fail("malformed JSON", "{\"text_config\": {\"hidden_size\": 512,,}}", NULL, "config.json", "line 1, column");
    expect_fail("not an object", "[1,2]", NULL, "config.json", "not a JSON object");
    expect_fail("negative size", "{\"vision_config\":{\"hidden_size\":-768}}", NULL, "config.json", "vision_config.hidden_size");
    expect_fail("zero layers", "{\"text_config\":{\"num_hidden_layers\":0}}", NULL, "config.json", "num_hidden_layers");
    expect_fail("too many layers", "{\"text_config\":{\"num_hidden_layers\":1000}}", NULL, "config.json", "out of range");
    expect_fail("huge hidden", "{\"vision_config\":{\"hidden_size\":100000,\"num_attention_heads\":1}}", NULL, "config.json", "out of range");
    expect_fail("heads do not divide", "{\"text_config\":{\"hidden_size\":512,\"num_attention_heads\":7}}", NULL, "config.json",
                "not divisible by num_attention_heads");
    expect_fail("patch does not divide", "{\"vision_config\":{\"image_size\":224,\"patch_size\":15}}", NULL, "config.json",
                "not divisible by patch_size");
    /* the pixels are RGB: a 1- or 16-channel patch layer misread (or overran) them */
    expect_fail("one channel", "{\"vision_config\":{\"num_channels\":1}}", NULL, "config.json", "vision_config.num_channels 1 not supported");
    expect_fail("16 channels", "{\"vision_config\":{\"num_channels\":16}}", NULL, "config.json", "num_channels 16 not supported");
    expect_fail("unknown activation", "{\"text_config\":{\"hidden_act\":\"relu\"}}", NULL, "config.json", "hidden_act 'relu'");
    expect_fail("string size", "{\"text_config\":{\"hidden_size\":\"512\"}}", NULL, "config.json", "not an integer");
    expect_fail("fractional size", "{\"text_config\":{\"hidden_size\":512.5}}", NULL, "config.json", "not an integer");
    expect_fail("bad eps", "{\"text_config\":{\"layer_norm_eps\":-1}}", NULL, "config.json", "layer_norm_eps");
    expect_fail("tower not object", "{\"vision_config\":3}", NULL, "config.json", "vision_config is not an object");
    expect_fail("bad projection", "{\"projection_dim\":0}", NULL, "config.json", "projection_dim");
    expect_fail("preprocessor JSON", "{}", "{\"image_mean\": [0.5,", "preprocessor_config.json", "invalid JSON");
    expect_fail("zero std", "{}", "{\"image_std\":[0.2,0,0.2]}", "preprocessor_config.json", "image_std[1]");
    expect_fail("two means", "{}", "{\"image_mean\":[0.2,0.2]}", "preprocessor_config.json", "image_mean");
    expect_fail("nearest resample", "{}", "{\"resample\":0}", "preprocessor_config.json", "resample");
    /* what neglabel would compute differently is refused, not ignored */
    expect_fail("no resize", "{}", "{\"do_resize\":false}", "preprocessor_config.json", "do_resize is false");
    expect_fail("no crop", "{}", "{\"do_center_crop\":false}", "preprocessor_config.json", "do_center_crop is false");
    expect_fail("no normalise", "{}", "{\"do_normalize\":false}", "preprocessor_config.json", "do_normalize is false");
    expect_fail("rescale 1", "{}", "{\"rescale_factor\":1}", "preprocessor_config.json", "rescale_factor must be 1/255");
    expect_fail("resize 256, crop 224", "{}", "{\"size\":{\"shortest_edge\":256},\"crop_size\":224}",
                "preprocessor_config.json", "size 256 / crop_size 224");
    expect_fail("crop not the image size", "{}", "{\"size\":224,\"crop_size\":{\"height\":336,\"width\":336}}",
                "preprocessor_config.json", "crop_size 336");
    expect_fail("oblong resize", "{}", "{\"size\":{\"height\":224,\"width\":200}}", "preprocessor_config.json",
                "size {\"height\":224");
    expect_fail("squash to another size", "{}", "{\"size\":{\"height\":256,\"width\":256}}",
                "preprocessor_config.json", "size 256");
    expect_fail("no crop after a shorter-side resize", "{}", "{\"size\":224,\"do_center_crop\":false}",
                "preprocessor_config.json", "do_center_crop is false");
    expect_fail("oblong crop", "{}", "{\"crop_size\":{\"height\":224,\"width\":200}}", "preprocessor_config.json",
                "crop_size {");
    expect_fail("string size", "{}", "{\"size\":\"224\"}", "preprocessor_config.json", "size \"224\"");

    nli_clip_config c;
    char *d = check_path(tmp, "empty-folder");
    nli_mkdir_p(d);
    CHECK(nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c) != 0 && strstr(nli_geterr(), "config.json"), "missing config: %s", nli_geterr());
    free(d);
}

int main(void) {
    tmp = check_tmpdir();
    defaults_cases();
    error_cases();
    processor_config_cases();
    squash_cases();
    const char *shared = check_shared(); /* the rest reads the tiny model */
    /* The tiny fixture's own config. */
    char *dir = check_path(shared, "fixtures/tiny-clip");
    nli_clip_config c;
    int rc = nli_clip_config_load(dir, NLI_LAYOUT_AUTO, &c);
    CHECK(rc == 0, "tiny config: %s", nli_geterr());
    if (rc == 0)
        CHECK(c.text.hidden_size == 64 && c.text.num_attention_heads == 1 && c.vision.hidden_size == 128 &&
                  c.vision.num_attention_heads == 2 && c.vision.patch_size == 16 && c.projection_dim == 32 &&
                  c.text.eos_token_id == 49407, "tiny config values");
    free(dir);
    stb_rmtree(check_tmpdir());
    return check_done();
}
