/* test_openclip.c — OpenCLIP folders: the config resolved as open_clip
 * resolves it, unimplemented options refused by name, hostile numbers
 * refused; the deterministic checkpoints of openclip_ckpt.h load with the
 * shapes their configs imply.
 *
 * Also the helper of tests/cli_openclip.sh and tests/gen/gen_openclip.py:
 *   test_openclip --write DIR NAME f32|f16   write checkpoint NAME to DIR
 *   test_openclip --pixels IMAGE SIZE bicubic|bilinear shortest|longest|squash
 *                                            preprocessed HWC bytes to stdout
 *   test_openclip --config DIR               the resolved config, or the error */
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "clip.h"
#include "image.h"
#include "neglabel.h"
#include "openclip_ckpt.h"
#include "st_build.h"
#include "util.h"

static char tmp[] = "/tmp/neglabel-openclip-XXXXXX";
static int counter;

static char *folder(const char *json) {
    char name[32];
    snprintf(name, sizeof name, "oc%02d", counter++);
    char *d = nli_path_join(tmp, name);
    nli_mkdir_p(d);
    char *c = nli_path_join(d, "open_clip_config.json");
    stb_spit(c, json, strlen(json), NULL, 0);
    free(c);
    return d;
}

#define VIT "\"vision_cfg\":{\"image_size\":224,\"layers\":12,\"width\":768,\"patch_size\":16}"
#define TXT "\"text_cfg\":{\"context_length\":77,\"vocab_size\":49408,\"width\":512,\"heads\":8,\"layers\":12}"

/* open_clip_config.json text must fail with code and a message holding frag. */
static void refuse(const char *what, const char *json, int code, const char *frag) {
    char *d = folder(json);
    nli_clip_config c;
    int rc = nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c);
    CHECK(rc != 0, "%s: accepted", what);
    if (rc != 0) {
        CHECK(strstr(nli_geterr(), frag) != NULL, "%s: message '%s' lacks '%s'", what, nli_geterr(), frag);
        CHECK(strstr(nli_geterr(), "open_clip_config.json") != NULL, "%s: message '%s' does not name the file", what,
              nli_geterr());
        CHECK((int)nl_last_status() == code, "%s: status %d, want %d", what, (int)nl_last_status(), code);
    }
    free(d);
}

static void test_resolve(void) {
    /* the Hub's ViT-B-16 (timm/vit_base_patch16_clip_224.openai) shape */
    char *d = folder("{\"model_cfg\":{\"embed_dim\":512,\"quick_gelu\":true," VIT "," TXT "},"
                     "\"preprocess_cfg\":{\"mean\":[0.48145466,0.4578275,0.40821073],"
                     "\"std\":[0.26862954,0.26130258,0.27577711]}}");
    nli_clip_config c;
    CHECK(nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c) == 0, "ViT-B-16: %s", nli_geterr());
    CHECK(c.format == NLI_FORMAT_OPENCLIP && c.arch == NLI_ARCH_VIT, "format %d arch %d", c.format, c.arch);
    CHECK(c.vision.hidden_size == 768 && c.vision.num_attention_heads == 12 && c.vision.intermediate_size == 3072 &&
              c.vision.patch_size == 16 && c.vision.num_hidden_layers == 12,
          "vision %d %d %d", c.vision.hidden_size, c.vision.num_attention_heads, c.vision.intermediate_size);
    CHECK(c.text.hidden_size == 512 && c.text.num_attention_heads == 8 && c.text.intermediate_size == 2048 &&
              c.text.pool_argmax && c.text.quick_gelu && c.vision.quick_gelu,
          "text");
    CHECK(c.resize_mode == NLI_RESIZE_SHORTEST && c.resample_default == NL_RESAMPLE_BICUBIC, "preprocess defaults");
    free(d);
    /* quick_gelu absent: open_clip's default is nn.GELU; ViT-H-14's head_width 80 */
    d = folder("{\"model_cfg\":{\"embed_dim\":1024,\"vision_cfg\":{\"image_size\":224,\"layers\":32,\"width\":1280,"
               "\"head_width\":80,\"patch_size\":14},\"text_cfg\":{\"context_length\":77,\"vocab_size\":49408,"
               "\"width\":1024,\"heads\":16,\"layers\":24}},\"preprocess_cfg\":{\"interpolation\":\"bilinear\","
               "\"resize_mode\":\"squash\"}}");
    CHECK(nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c) == 0, "ViT-H-14: %s", nli_geterr());
    CHECK(!c.text.quick_gelu && !c.vision.quick_gelu && c.vision.num_attention_heads == 16 &&
              c.resize_mode == NLI_RESIZE_SQUASH && c.resample_default == NL_RESAMPLE_BILINEAR,
          "ViT-H-14 resolved");
    free(d);
    /* open_clip's heads are width // head_width: width 100, head_width 64 is
     * one head of 100 (nn.MultiheadAttention only needs width % heads == 0) */
    d = folder("{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"width\":100,\"head_width\":64}," TXT "}}");
    CHECK(nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c) == 0, "width 100, head_width 64: %s", nli_geterr());
    CHECK(c.vision.num_attention_heads == 1 && c.vision.hidden_size == 100, "width 100, head_width 64: %d heads",
          c.vision.num_attention_heads);
    free(d);
    d = folder("{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"width\":96,\"head_width\":40}," TXT "}}");
    CHECK(nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c) == 0, "width 96, head_width 40: %s", nli_geterr());
    CHECK(c.vision.num_attention_heads == 2, "width 96, head_width 40: %d heads (2 of 48)", c.vision.num_attention_heads);
    free(d);
    /* RN50x4: layers [4,6,10,6], width 80, image 288 */
    d = folder("{\"model_cfg\":{\"embed_dim\":640,\"quick_gelu\":true,\"vision_cfg\":{\"image_size\":288,"
               "\"layers\":[4,6,10,6],\"width\":80,\"patch_size\":null},\"text_cfg\":{\"context_length\":77,"
               "\"vocab_size\":49408,\"width\":640,\"heads\":10,\"layers\":12}}}");
    CHECK(nli_clip_config_load(d, NLI_LAYOUT_AUTO, &c) == 0, "RN50x4: %s", nli_geterr());
    CHECK(c.arch == NLI_ARCH_RESNET && c.rn_width == 80 && c.vision.hidden_size == 2560 &&
              c.vision.num_attention_heads == 40 && c.rn_layers[2] == 10 && c.vision.num_hidden_layers == 26,
          "RN50x4 resolved: width %d heads %d", c.rn_width, c.vision.num_attention_heads);
    free(d);
}

static void test_refusals(void) {
    const int U = NL_ERR_UNSUPPORTED, I = NL_ERR_INVALID;
    refuse("timm tower", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"timm_model_name\":\"vit_x\"}," TXT "}}", U,
           "timm_model_name");
    refuse("attentional pool", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"attentional_pool\":true}," TXT "}}",
           U, "attentional_pool");
    refuse("no_ln_pre", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"no_ln_pre\":true}," TXT "}}", U, "no_ln_pre");
    refuse("layer scale", "{\"model_cfg\":{\"embed_dim\":512," VIT ",\"text_cfg\":{\"ls_init_value\":1e-5}}}", U,
           "ls_init_value");
    refuse("eos pooling", "{\"model_cfg\":{\"embed_dim\":512," VIT ",\"text_cfg\":{\"pool_type\":\"eos\"}}}", U,
           "pool_type");
    refuse("vision avg pooling", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"pool_type\":\"avg\"}," TXT "}}", U,
           "pool_type");
    refuse("custom text (CoCa, HF towers)", "{\"model_cfg\":{\"embed_dim\":512,\"custom_text\":true," VIT "," TXT "}}",
           U, "custom_text");
    refuse("CoCa", "{\"model_cfg\":{\"embed_dim\":512,\"multimodal_cfg\":{\"width\":512}," VIT "," TXT "}}", U,
           "multimodal_cfg");
    refuse("SigLIP bias", "{\"model_cfg\":{\"embed_dim\":512,\"init_logit_bias\":-10," VIT "," TXT "}}", U,
           "init_logit_bias");
    refuse("HF text tower", "{\"model_cfg\":{\"embed_dim\":512," VIT ",\"text_cfg\":{\"hf_model_name\":\"xlm\"}}}", U,
           "hf_model_name");
    refuse("tokenizer options", "{\"model_cfg\":{\"embed_dim\":512," VIT ",\"text_cfg\":{\"tokenizer_kwargs\":{\"clean\":\"canonicalize\"}}}}",
           U, "tokenizer_kwargs");
    refuse("resize mode", "{\"model_cfg\":{\"embed_dim\":512," VIT "," TXT "},\"preprocess_cfg\":{\"resize_mode\":\"crop\"}}",
           U, "resize_mode");
    refuse("interpolation", "{\"model_cfg\":{\"embed_dim\":512," VIT "," TXT "},\"preprocess_cfg\":{\"interpolation\":\"nearest\"}}",
           U, "interpolation");
    refuse("non-square", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"image_size\":[224,256]}," TXT "}}", U,
           "square");
    refuse("no model_cfg", "{\"preprocess_cfg\":{}}", I, "model_cfg");
    refuse("huge width", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"width\":1e12}," TXT "}}", I, "width");
    refuse("ResNet 3 stages", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"layers\":[3,4,6]}," TXT "}}", I,
           "4 stages");
    refuse("ResNet image size", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"layers\":[3,4,6,3],\"image_size\":100}," TXT "}}",
           I, "multiple of 32");
    refuse("ResNet huge images", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"layers\":[3,4,6,3],\"width\":64,"
           "\"image_size\":4096}," TXT "}}", I, "128 Mi floats");
    refuse("ResNet odd width", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"layers\":[3,4,6,3],\"width\":63}," TXT "}}",
           I, "even");
    refuse("bad fill", "{\"model_cfg\":{\"embed_dim\":512," VIT "," TXT "},\"preprocess_cfg\":{\"fill_color\":300}}", I,
           "fill_color");
    refuse("bad std", "{\"model_cfg\":{\"embed_dim\":512," VIT "," TXT "},\"preprocess_cfg\":{\"std\":[0,1,1]}}", I, "std");
    refuse("head wider than the tower", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"width\":100,\"head_width\":128}," TXT "}}",
           I, "head_width 128 is wider than width 100");
    refuse("heads that do not divide the width", "{\"model_cfg\":{\"embed_dim\":512,\"vision_cfg\":{\"width\":100,\"head_width\":30}," TXT "}}",
           I, "not divisible by its 3 heads");
    refuse("not JSON", "{\"model_cfg\":", I, "invalid JSON");
}

/* Every small checkpoint loads (F32 and F16); a missing tensor and a BN
 * variance that is not one are refused naming the tensor. */
static void test_load(void) {
    for (size_t i = 0; i < 3; i++) {
        for (int f16 = 0; f16 < 2; f16++) {
            char name[64];
            snprintf(name, sizeof name, "ck-%s-%d", oc_specs[i].name, f16);
            char *d = nli_path_join(tmp, name);
            nli_mkdir_p(d);
            CHECK(oc_write(d, &oc_specs[i], f16) == 0, "write %s", name);
            nli_clip *c = nli_clip_load(d, 2);
            CHECK(c != NULL, "load %s: %s", name, nli_geterr());
            if (c) {
                const nli_clip_config *cfg = nli_clip_get_config(c);
                CHECK(strcmp(cfg->dtype, "F32") == 0 ? !f16 : (f16 && strcmp(cfg->dtype, "F16") == 0), "dtype %s",
                      cfg->dtype);
                CHECK(fabsf(nli_clip_logit_scale(c) - logf(100.0f)) < 1e-2f, "logit_scale %g", nli_clip_logit_scale(c));
                if (cfg->arch == NLI_ARCH_RESNET) {
                    CHECK(nli_clip_use_bf16(c, 1) != 0 && strstr(nli_geterr(), "ResNet"), "bf16 refused for ResNets");
                }
            }
            nli_clip_free(c);
            free(d);
        }
    }
    /* a truncated state dict: rewrite with one ResNet BN tensor renamed */
    char *d = nli_path_join(tmp, "ck-rn-small-0");
    char *mp = nli_path_join(d, "open_clip_model.safetensors");
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(stb_slurp(mp, &buf, &len) == 0, "read back");
    const char *key = "visual.layer3.2.bn2.running_var";
    uint8_t *hit = buf ? memmem(buf, len < 1 << 20 ? len : 1 << 20, key, strlen(key)) : NULL;
    CHECK(hit != NULL, "BN tensor in the header");
    if (hit) {
        hit[strlen(key) - 3] = 'X'; /* running_var -> running_Xar */
        stb_spit(mp, buf, len, NULL, 0);
        nli_clip *c = nli_clip_load(d, 2);
        CHECK(!c && strstr(nli_geterr(), key), "missing tensor: %s", nli_geterr());
        nli_clip_free(c);
        /* a negative variance (the bytes of -1.0f over the first element) */
        hit[strlen(key) - 3] = 'v';
        stb_spit(mp, buf, len, NULL, 0);
        stb s;
        size_t b = 0, e = 0;
        CHECK(stb_read(mp, &s) == 0 && stb_offsets(&s, key, &b, &e) == 0, "offsets of %s", key);
        size_t data0 = (size_t)(s.data - (const uint8_t *)s.file);
        stb_free(&s);
        float m1 = -1.0f;
        memcpy(buf + data0 + b, &m1, 4);
        stb_spit(mp, buf, len, NULL, 0);
        c = nli_clip_load(d, 2);
        CHECK(!c && strstr(nli_geterr(), "running_var"), "negative variance: %s", nli_geterr());
        nli_clip_free(c);
    }
    free(buf);
    free(mp);
    free(d);
}

static int write_main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: test_openclip --write DIR NAME f32|f16\n"); return 2; }
    const oc_spec *s = oc_find(argv[3]);
    if (!s) { fprintf(stderr, "unknown checkpoint %s\n", argv[3]); return 2; }
    nli_mkdir_p(argv[2]);
    if (oc_write(argv[2], s, strcmp(argv[4], "f16") == 0) != 0) { fprintf(stderr, "write failed\n"); return 1; }
    return 0;
}

static int pixels_main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: test_openclip --pixels IMAGE SIZE RESAMPLE MODE\n"); return 2; }
    int size = atoi(argv[3]);
    nl_resample r = strcmp(argv[4], "bilinear") == 0 ? NL_RESAMPLE_BILINEAR : NL_RESAMPLE_BICUBIC;
    int mode = strcmp(argv[5], "longest") == 0 ? NLI_RESIZE_LONGEST
             : strcmp(argv[5], "squash") == 0  ? NLI_RESIZE_SQUASH
                                               : NLI_RESIZE_SHORTEST;
    uint8_t *px = malloc((size_t)size * size * 3);
    if (!px || nli_preprocess_file_mode(argv[2], size, r, mode, 0, px) != 0) {
        fprintf(stderr, "%s\n", nli_geterr());
        free(px);
        return 1;
    }
    fwrite(px, 1, (size_t)size * size * 3, stdout);
    free(px);
    return 0;
}

/* --config DIR: the resolved config, or the error (a survey tool). */
static int config_main(int argc, char **argv) {
    nli_clip_config c;
    if (argc != 3) return 2;
    if (nli_clip_config_load(argv[2], NLI_LAYOUT_AUTO, &c) != 0) { printf("refused: %s\n", nli_geterr()); return 1; }
    printf("%s vision %d/%d/%d heads %d image %d patch %d text %d/%d/%d heads %d embed %d quick_gelu %d\n",
           c.arch == NLI_ARCH_RESNET ? "ResNet" : "ViT", c.vision.hidden_size, c.vision.intermediate_size,
           c.vision.num_hidden_layers, c.vision.num_attention_heads, c.vision.image_size, c.vision.patch_size,
           c.text.hidden_size, c.text.intermediate_size, c.text.num_hidden_layers, c.text.num_attention_heads,
           c.projection_dim, c.text.quick_gelu);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--config") == 0) return config_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--write") == 0) return write_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--pixels") == 0) return pixels_main(argc, argv);
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    test_resolve();
    test_refusals();
    test_load();
    stb_rmtree(tmp);
    return check_done();
}
