/* bench_gpu.c — neglabel's side of the GPU benchmark (bench/gpu.sh runs it,
 * bench/gpu_table.py merges its JSON lines with the PyTorch side's).
 * Built by CMake as `bench_gpu` when the CUDA backend is built. Every
 * subcommand prints one JSON object per measurement on stdout ({"kind":...});
 * progress and errors go to stderr. Exit status 1 on any failure.
 *
 *   bench_gpu devices
 *   bench_gpu prompts MODEL_DIR --lists TXTFILES_DIR --out PREFIX
 *       the NegLabel candidate prompts (corpus + default templates) as
 *       PREFIX.txt (one per line), PREFIX_ids.npy (int32, n x 77: SOT..EOT
 *       padded with 0, truncated to 76 tokens + EOT as clip.tokenize) and
 *       PREFIX_lens.npy (int32, n: tokens per prompt after truncation)
 *   bench_gpu images MODEL_DIR [--precision fp16,bf16] [--batch 256,1024] [--iters 5] [--warmup 2]
 *       model only (nli_cuda_bench_images): images/s and TFLOP/s
 *   bench_gpu stages MODEL_DIR [--precision fp16] [--batch 256] [--iters 5]
 *       where an image forward pass spends its time (nli_cuda_bench_stages:
 *       an event after every op): per stage ms, share, FLOPs and the fewest
 *       bytes it must move, so TFLOP/s and GB/s against the ceilings
 *   bench_gpu texts MODEL_DIR --prompts FILE [--precision fp16] [--save N --out PREFIX]
 *       nl_model_load on the GPU + nl_embed_texts of every prompt (wall
 *       time, tokenization included), then again (the second run: warm
 *       kernels and cuBLAS heuristics), the tokenization alone, and one
 *       more run under the stage clock (text_stage rows: ms per op kind,
 *       summed over layers and forward passes, and between passes)
 *   bench_gpu minescore [--cpu] [--n-cand 70000] [--n-id 1000] [--n-img 100000] [--n-neg 10000] [--dim 512]
 *                       [--adaneg-img 60000] [--oodd-img 60000]
 *           (then AdaNeg, both variants, and OODD on one stream of that many images each; 0: none)
 *       nl_mine and nl_score (NegLabel, 100 groups) on the GPU; --cpu also
 *       times the CPU and compares
 *   bench_gpu e2e MODEL_DIR --images DIR [--precision fp16] [--limit N]
 *       nl_embed_images on the GPU vs decode + preprocess alone (OpenMP)
 *   bench_gpu cosine MODEL_DIR --pixels FILE.npy --out PREFIX [--n N]
 *       CPU fp32 vs GPU fp32 / fp16 on the same pixels; writes
 *       PREFIX_cpu_fp32.npy, PREFIX_gpu_fp32.npy, PREFIX_gpu_fp16.npy */
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "neglabel.h"
#include "clip.h"
#include "cuda/cuda_device.h"
#include "cuda/clip_cuda.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include "bench_gpu.h"

#define CTX 77

int fail(const char *what) {
    const char *e = nl_last_error();
    fprintf(stderr, "bench_gpu: %s: %s\n", what, e && *e ? e : "(no message)");
    return 1;
}

/* ------------------------------------------------------------ options */

const char *opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}
int flag(int argc, char **argv, const char *name) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], name)) return 1;
    return 0;
}
long opt_long(int argc, char **argv, const char *name, long def) {
    const char *s = opt(argc, argv, name, NULL);
    return s ? strtol(s, NULL, 10) : def;
}
/* Comma-separated list of ints ("256,1024"); returns the count (<= cap). */
static int int_list(const char *s, int *out, int cap) {
    int n = 0;
    while (s && *s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0) return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}
static int precision_list(const char *s, nl_precision *out, int cap) {
    int n = 0;
    char buf[64];
    while (s && *s && n < cap) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (len >= sizeof buf) return -1;
        memcpy(buf, s, len);
        buf[len] = 0;
        if (nl_parse_precision(buf, &out[n]) != 0) return -1;
        n++;
        s = c ? c + 1 : s + len;
    }
    return n;
}

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static double urand01(void) { /* xorshift64*, uniform in (0, 1) */
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0) + 1e-300;
}
void randn_rows(float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n * dim; i += 2) {
        double r = sqrt(-2.0 * log(urand01())), t = 2 * M_PI * urand01();
        x[i] = (float)(r * cos(t));
        if (i + 1 < n * dim) x[i + 1] = (float)(r * sin(t));
    }
    nl_normalize_rows(x, n, dim);
}

/* int32 .npy, 1-D (cols == 0) or 2-D. */
static int npy_save_i32(const char *path, const int32_t *data, size_t rows, size_t cols) {
    char hdr[128];
    int hl = cols ? snprintf(hdr, sizeof hdr, "{'descr': '<i4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols)
                  : snprintf(hdr, sizeof hdr, "{'descr': '<i4', 'fortran_order': False, 'shape': (%zu,), }", rows);
    size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) { nli_seterr("%s: cannot write", path); return -1; }
    uint16_t hlen = (uint16_t)(hl + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fwrite(&hlen, 2, 1, f);
    fwrite(hdr, 1, (size_t)hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t n = rows * (cols ? cols : 1);
    int ok = fwrite(data, sizeof(int32_t), n, f) == n;
    if (fclose(f) != 0 || !ok) { nli_seterr("%s: write failed", path); return -1; }
    return 0;
}

/* Matrix-product FLOPs of one image through the vision tower (linear
 * layers, attention's two products, patch embedding). */
/* The same for a ModifiedResNet (convolutions as the GEMMs they are, the
 * attention pool's projections), from the config alone. */
static double resnet_flops(const nli_clip_config *cfg) {
    double w = cfg->rn_width, h = cfg->vision.image_size / 2, f = 0, E = cfg->vision.hidden_size, cin = w;
    f += 2 * h * h * (w / 2) * 9 * 3 + 2 * h * h * (w / 2) * 9 * (w / 2) + 2 * h * h * w * 9 * (w / 2); /* stem */
    h /= 2;
    for (int s = 0; s < 4; s++)
        for (int j = 0; j < cfg->rn_layers[s]; j++) {
            double planes = w * (1 << s), st = s > 0 && j == 0 ? 2 : 1, oh = h / st;
            f += 2 * h * h * planes * cin + 2 * h * h * planes * 9 * planes + 2 * oh * oh * 4 * planes * planes;
            if (st > 1 || cin != 4 * planes) f += 2 * oh * oh * 4 * planes * cin; /* downsample */
            cin = 4 * planes;
            h = oh;
        }
    double T = h * h + 1;
    return f + 2 * T * 2 * E * E + 2 * E * E + 4 * T * E + 2 * E * cfg->projection_dim;
}

static double vision_flops(const nli_clip_config *cfg) {
    if (cfg->arch == NLI_ARCH_RESNET) return resnet_flops(cfg);
    const nli_tower_config *v = &cfg->vision;
    double p = v->patch_size, np = (double)(v->image_size / v->patch_size) * (v->image_size / v->patch_size);
    double T = np + 1, D = v->hidden_size, I = v->intermediate_size;
    double layer = 2 * T * (3 * D * D + D * D + 2 * D * I) + 4 * T * T * D;
    return v->num_hidden_layers * layer + 2 * np * D * 3 * p * p;
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static size_t gpu_free(int index) {
    char name[256];
    size_t fr = 0, tot = 0;
    int ma, mi;
    if (nli_cuda_describe(index, name, sizeof name, &fr, &tot, &ma, &mi) != 0) return 0;
    return fr;
}

static int load_gpu_model(const char *dir, nl_precision prec, int batch, nl_model **out) {
    nl_model_params mp = nl_model_default_params();
    mp.device = NL_DEVICE_CUDA;
    mp.device_index = 0;
    mp.precision = prec;
    mp.batch_size = batch;
    *out = nl_model_load(dir, &mp);
    if (!*out) return fail(dir);
    int idx = 0;
    if (nl_model_device(*out, &idx) != NL_DEVICE_CUDA) {
        fprintf(stderr, "bench_gpu: %s: model loaded on %s, not on the GPU\n", dir, nl_model_device_name(*out));
        nl_model_free(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

static void print_model(const char *dir) {
    const char *b = strrchr(dir, '/');
    json_str(b && b[1] ? b + 1 : dir);
}

/* ------------------------------------------------------------ devices */

static int cmd_devices(void) {
    char *j = nl_devices_info_json();
    if (!j) return fail("devices");
    printf("{\"kind\":\"devices\",\"info\":%s,\"threads\":%d}\n", j, nli_num_threads());
    free(j);
    return 0;
}

/* ------------------------------------------------------------ prompts */

static int cmd_prompts(const char *model, int argc, char **argv) {
    const char *lists = opt(argc, argv, "--lists", NULL), *prefix = opt(argc, argv, "--out", NULL);
    if (!lists || !prefix) { fprintf(stderr, "prompts: --lists DIR and --out PREFIX are required\n"); return 2; }
    nl_corpus_params cp = {0};
    cp.lists_dir = lists;
    nl_corpus c;
    if (nl_corpus_load(&cp, &c) != 0) return fail("corpus");
    nli_tokenizer *tok = nli_tokenizer_for_folder(model, 1);
    if (!tok) { nl_corpus_free(&c); return fail("tokenizer"); }
    char path[4096];
    snprintf(path, sizeof path, "%s.txt", prefix);
    FILE *f = fopen(path, "w");
    int32_t *ids = calloc(c.n * CTX + 1, sizeof *ids), *lens = calloc(c.n + 1, sizeof *lens);
    if (!f || !ids || !lens) { fprintf(stderr, "bench_gpu: %s: cannot write\n", path); return 1; }
    size_t truncated = 0, maxlen = 0, total = 0;
    double t0 = nli_now();
    for (size_t i = 0; i < c.n; i++) {
        /* As eval.c's nl_mine_model: nouns under the noun template, adjectives under the adjective one. */
        char *p = nl_apply_template(c.pos[i] == NL_POS_ADJ ? NL_TEMPLATE_ADJ : NL_TEMPLATE_NOUN, c.word[i]);
        if (!p) return fail("template");
        if (strchr(p, '\n')) { fprintf(stderr, "bench_gpu: prompt %zu holds a newline\n", i); return 1; }
        fprintf(f, "%s\n", p);
        int32_t *t;
        size_t n;
        if (nli_tokenizer_encode(tok, p, strlen(p), &t, &n) != 0) return fail(p);
        if (n > maxlen) maxlen = n;
        if (n > CTX) { /* clip.tokenize(truncate=True): 76 tokens + EOT */
            truncated++;
            t[CTX - 1] = nli_tokenizer_eot(tok);
            n = CTX;
        }
        memcpy(ids + i * CTX, t, n * sizeof *t);
        lens[i] = (int32_t)n;
        total += n;
        free(t);
        free(p);
    }
    double tt = nli_now() - t0;
    if (fclose(f) != 0) { fprintf(stderr, "bench_gpu: %s: write failed\n", path); return 1; }
    snprintf(path, sizeof path, "%s_ids.npy", prefix);
    if (npy_save_i32(path, ids, c.n, CTX) != 0) return fail("ids");
    snprintf(path, sizeof path, "%s_lens.npy", prefix);
    if (npy_save_i32(path, lens, c.n, 0) != 0) return fail("lens");
    printf("{\"kind\":\"prompts\",\"n\":%zu,\"n_noun\":%zu,\"n_adj\":%zu,\"noun_template\":", c.n, c.n_noun, c.n_adj);
    json_str(NL_TEMPLATE_NOUN);
    printf(",\"adj_template\":");
    json_str(NL_TEMPLATE_ADJ);
    printf(",\"max_tokens\":%zu,\"mean_tokens\":%.3f,\"truncated\":%zu,\"tokenize_s\":%.4f}\n", maxlen,
           (double)total / (double)c.n, truncated, tt);
    free(ids);
    free(lens);
    nli_tokenizer_free(tok);
    nl_corpus_free(&c);
    return 0;
}

/* ------------------------------------------------------------ images */

static int cmd_images(const char *model, int argc, char **argv) {
    nl_precision prec[4];
    int batch[8];
    int np = precision_list(opt(argc, argv, "--precision", "fp16,bf16"), prec, 4);
    int nb = int_list(opt(argc, argv, "--batch", "256,1024"), batch, 8);
    int iters = (int)opt_long(argc, argv, "--iters", 5), warm = (int)opt_long(argc, argv, "--warmup", 2);
    if (np <= 0 || nb <= 0 || iters < 1 || warm < 0) { fprintf(stderr, "images: bad --precision/--batch/--iters\n"); return 2; }
    int maxb = 0;
    for (int i = 0; i < nb; i++) if (batch[i] > maxb) maxb = batch[i];
    double t0 = nli_now();
    nli_clip *c = nli_clip_load(model, nli_num_threads());
    if (!c) return fail(model);
    double t_load = nli_now() - t0;
    const nli_clip_config *cfg = nli_clip_get_config(c);
    double flops = vision_flops(cfg);
    int rc = 0;
    for (int p = 0; p < np && !rc; p++) {
        size_t free0 = gpu_free(0);
        t0 = nli_now();
        nli_cuda_clip *g = nli_cuda_clip_create(c, 0, (int)prec[p], maxb);
        if (!g) { rc = fail("nli_cuda_clip_create"); break; }
        double t_up = nli_now() - t0;
        for (int b = 0; b < nb; b++) {
            double s = 0;
            if (batch[b] > nli_cuda_clip_max_batch(g)) { /* the engine shrank its workspace (GPU memory) */
                fprintf(stderr, "bench_gpu: batch %d does not fit: the workspace holds %d images\n", batch[b],
                        nli_cuda_clip_max_batch(g));
                rc = 1;
                continue;
            }
            if (warm > 0 && nli_cuda_bench_images(g, batch[b], warm, &s) != 0) { rc = fail("nli_cuda_bench_images (warm-up)"); break; }
            if (nli_cuda_bench_images(g, batch[b], iters, &s) != 0 || !(s > 0)) { rc = fail("nli_cuda_bench_images"); break; }
            size_t free1 = gpu_free(0);
            printf("{\"kind\":\"images\",\"model\":");
            print_model(model);
            printf(",\"precision\":\"%s\",\"batch\":%d,\"iters\":%d,\"seconds_per_batch\":%.6f,\"images_per_s\":%.1f,"
                   "\"flops_per_image\":%.6e,\"tflops\":%.2f,\"gpu_mem_used_bytes\":%zu,\"max_batch\":%d,"
                   "\"load_s\":%.3f,\"upload_s\":%.3f}\n",
                   nl_precision_name(prec[p]), batch[b], iters, s, batch[b] / s, flops, flops * batch[b] / s / 1e12,
                   free0 > free1 ? free0 - free1 : 0, nli_cuda_clip_max_batch(g), t_load, t_up);
            fflush(stdout);
        }
        nli_cuda_clip_free(g);
    }
    nli_clip_free(c);
    return rc;
}

/* ------------------------------------------------------------ stages */

/* FLOPs and the fewest bytes each stage of one image forward pass must move
 * (each operand read once, each result written once; the residual stream x
 * is fp32, T activations are tsz bytes), for batch B, summed over layers. */
static void stage_work(const nli_clip_config *cfg, int B, int tsz, double *flops, double *bytes) {
    const nli_tower_config *v = &cfg->vision;
    double p = v->patch_size, S = v->image_size, np = (S / p) * (S / p), T = np + 1, D = v->hidden_size;
    double I = v->intermediate_size, L = v->num_hidden_layers, Kc = 3 * p * p, R = B * T, t = tsz;
    for (int k = 0; k < NLI_STAGES; k++) flops[k] = bytes[k] = 0;
    bytes[NLI_STAGE_PATCH] = B * 3 * S * S * 4 + B * np * Kc * t;
    flops[NLI_STAGE_PATCH_GEMM] = 2 * B * np * D * Kc;
    bytes[NLI_STAGE_PATCH_GEMM] = B * np * Kc * t + D * Kc * t + B * np * D * 4;
    bytes[NLI_STAGE_EMBED] = B * np * D * 4 + 3 * R * D * 4;
    bytes[NLI_STAGE_LN1] = bytes[NLI_STAGE_LN2] = L * (R * D * 4 + R * D * t); /* x read, nothing written back */
    flops[NLI_STAGE_QKV] = L * 2 * R * 3 * D * D;
    bytes[NLI_STAGE_QKV] = L * (R * D * t + 3 * D * D * t + 3 * R * D * t);
    flops[NLI_STAGE_ATTN] = L * 4 * B * T * T * D;
    bytes[NLI_STAGE_ATTN] = L * (3 * R * D * t + R * D * t);
    flops[NLI_STAGE_OPROJ] = L * 2 * R * D * D;
    bytes[NLI_STAGE_OPROJ] = L * (R * D * t + D * D * t + 2 * R * D * 4);
    flops[NLI_STAGE_FC1] = L * 2 * R * I * D;
    bytes[NLI_STAGE_FC1] = L * (R * D * t + I * D * t + R * I * t);
    bytes[NLI_STAGE_ACT] = L * 2 * R * I * t;
    flops[NLI_STAGE_FC2] = L * 2 * R * D * I;
    bytes[NLI_STAGE_FC2] = L * (R * I * t + D * I * t + 2 * R * D * 4);
    flops[NLI_STAGE_HEAD] = 2.0 * B * D * cfg->projection_dim;
    bytes[NLI_STAGE_HEAD] = B * D * 4 * 2 + (double)D * cfg->projection_dim * 4;
}

static int cmd_stages(const char *model, int argc, char **argv) {
    static const char *names[] = NLI_STAGE_NAMES;
    nl_precision prec;
    int B = (int)opt_long(argc, argv, "--batch", 256), iters = (int)opt_long(argc, argv, "--iters", 5);
    if (nl_parse_precision(opt(argc, argv, "--precision", "fp16"), &prec) != 0 || B < 1 || iters < 1) {
        fprintf(stderr, "stages: --precision fp32|fp16|bf16, --batch N, --iters N\n");
        return 2;
    }
    nli_clip *c = nli_clip_load(model, nli_num_threads());
    if (!c) return fail(model);
    nli_cuda_clip *g = nli_cuda_clip_create(c, 0, (int)prec, B);
    if (!g) { nli_clip_free(c); return fail("nli_cuda_clip_create"); }
    double ms[NLI_STAGES], total = 0, fl[NLI_STAGES], by[NLI_STAGES];
    int rc = 0;
    if (nli_cuda_bench_stages(g, B, iters, ms, &total) != 0) rc = fail("nli_cuda_bench_stages");
    else {
        stage_work(nli_clip_get_config(c), B, prec == NL_PRECISION_FP32 ? 4 : 2, fl, by);
        for (int k = 0; k < NLI_STAGES; k++) {
            printf("{\"kind\":\"stage\",\"model\":");
            print_model(model);
            printf(",\"precision\":\"%s\",\"batch\":%d,\"iters\":%d,\"stage\":\"%s\",\"ms\":%.4f,\"share\":%.4f,"
                   "\"flops\":%.6e,\"bytes\":%.6e,\"tflops\":%.2f,\"gbps\":%.1f,\"pass_ms\":%.4f}\n",
                   nl_precision_name(prec), B, iters, names[k], ms[k], total > 0 ? ms[k] / total : 0, fl[k], by[k],
                   ms[k] > 0 ? fl[k] / ms[k] / 1e9 : 0, ms[k] > 0 ? by[k] / ms[k] / 1e6 : 0, total);
        }
        fflush(stdout);
    }
    nli_cuda_clip_free(g);
    nli_clip_free(c);
    return rc;
}

/* ------------------------------------------------------------ texts */

static int cmd_texts(const char *model, int argc, char **argv) {
    const char *file = opt(argc, argv, "--prompts", NULL), *prefix = opt(argc, argv, "--out", NULL);
    nl_precision prec;
    if (!file || nl_parse_precision(opt(argc, argv, "--precision", "fp16"), &prec) != 0) {
        fprintf(stderr, "texts: --prompts FILE required; --precision fp32|fp16|bf16\n");
        return 2;
    }
    size_t save = (size_t)opt_long(argc, argv, "--save", 0);
    nl_strvec pr;
    if (nl_read_lines(file, &pr) != 0) return fail(file);
    nl_model *m;
    double t0 = nli_now();
    if (load_gpu_model(model, prec, 0, &m)) return 1;
    double t_load = nli_now() - t0;
    size_t dim = (size_t)nl_model_dim(m), warm = pr.n < 256 ? pr.n : 256;
    float *out = malloc(sizeof(float) * pr.n * dim + 1);
    if (!out) { fprintf(stderr, "bench_gpu: out of memory\n"); return 1; }
    size_t free0 = gpu_free(0);
    t0 = nli_now();
    if (nl_embed_texts(m, (const char *const *)pr.v, warm, out) != 0) return fail("nl_embed_texts (warm-up)");
    double t_warm = nli_now() - t0;
    t0 = nli_now();
    if (nl_embed_texts(m, (const char *const *)pr.v, pr.n, out) != 0) return fail("nl_embed_texts");
    double t = nli_now() - t0;
    size_t free1 = gpu_free(0);
    int bad = 0;
    for (size_t i = 0; i < pr.n * dim; i++) if (!isfinite(out[i])) { bad = 1; break; }
    t0 = nli_now();
    if (nl_embed_texts(m, (const char *const *)pr.v, pr.n, out) != 0) return fail("nl_embed_texts (second run)");
    double t2 = nli_now() - t0;
    /* each prompt in its own attention tiles (the packing off), for what
     * the shared tiles save; the embeddings agree to rounding */
    float *out2 = malloc(sizeof(float) * pr.n * dim + 1);
    if (!out2) { fprintf(stderr, "bench_gpu: out of memory\n"); return 1; }
    setenv("NEGLABEL_CUDA_TEXT_PACK", "0", 1);
    t0 = nli_now();
    if (nl_embed_texts(m, (const char *const *)pr.v, pr.n, out2) != 0) return fail("nl_embed_texts (unpacked)");
    double t_unp = nli_now() - t0;
    unsetenv("NEGLABEL_CUDA_TEXT_PACK");
    double unp_diff = 0;
    for (size_t i = 0; i < pr.n * dim; i++) {
        double e = fabs((double)out[i] - out2[i]);
        if (!(e <= unp_diff)) unp_diff = e;
    }
    free(out2);
    /* the tokenization alone, on as many threads as nl_embed_texts uses */
    int tok_bad = 0;
    t0 = nli_now();
#pragma omp parallel for schedule(dynamic, 64) num_threads(nli_num_threads()) reduction(| : tok_bad)
    for (size_t i = 0; i < pr.n; i++) {
        int32_t *ids = NULL;
        size_t k = 0;
        if (nl_tokenize(m, pr.v[i], &ids, &k) != 0) tok_bad = 1;
        free(ids);
    }
    double t_tok = nli_now() - t0;
    if (tok_bad) return fail("nl_tokenize");
    /* where the time of one more run goes: the stage clock on (an event
     * after every op of every forward pass; a forward pass holds at most
     * 32,768 token rows, and nl_embed_texts hands over 8,192 texts at a time,
     * tokenizing the next 8,192 while the GPU runs them) */
    nli_clip *c = nli_model_clip(m);
    nli_cuda_clip *g = nli_clip_gpu(c);
    const int L = nli_clip_get_config(c)->text.num_hidden_layers;
    size_t passes = pr.n * CTX / (32768 - CTX) + pr.n / NLI_CUDA_TEXT_SLOT + 4;
    int cap = (int)((8 * (size_t)L + 3) * passes), events;
    double sms[NLI_STAGES + 1];
    if (!g || nli_cuda_stage_clock_start(g, cap) != 0) return fail("stage clock");
    t0 = nli_now();
    int rc_clock = nl_embed_texts(m, (const char *const *)pr.v, pr.n, out);
    double t_clock = nli_now() - t0;
    if ((events = nli_cuda_stage_clock_stop(g, sms)) < 0 || rc_clock != 0) return fail("nl_embed_texts (stage clock)");
    printf("{\"kind\":\"texts\",\"model\":");
    print_model(model);
    printf(",\"precision\":\"%s\",\"device\":", nl_precision_name(nl_model_precision(m)));
    json_str(nl_model_device_name(m));
    printf(",\"n\":%zu,\"seconds\":%.4f,\"prompts_per_s\":%.1f,\"second_run_s\":%.4f,\"unpacked_s\":%.4f,"
           "\"unpacked_max_abs_diff\":%.3g,\"tokenize_s\":%.4f,\"threads\":%d,\"warmup_prompts\":%zu,\"warmup_s\":%.4f,"
           "\"load_s\":%.3f,\"gpu_mem_used_bytes\":%zu,\"all_finite\":%s}\n",
           pr.n, t, pr.n / t, t2, t_unp, unp_diff, t_tok, nli_num_threads(), warm, t_warm, t_load,
           free0 > free1 ? free0 - free1 : 0, bad ? "false" : "true");
    static const char *names[] = NLI_STAGE_NAMES;
    static const int text_stages[] = {NLI_STAGE_EMBED, NLI_STAGE_LN1, NLI_STAGE_QKV, NLI_STAGE_ATTN, NLI_STAGE_OPROJ,
                                      NLI_STAGE_LN2, NLI_STAGE_FC1, NLI_STAGE_ACT, NLI_STAGE_FC2, NLI_STAGE_HEAD,
                                      NLI_STAGES};
    double clocked = 0;
    for (int k = 0; k <= NLI_STAGES; k++) clocked += sms[k];
    for (size_t j = 0; j < sizeof text_stages / sizeof *text_stages; j++) {
        int k = text_stages[j];
        printf("{\"kind\":\"text_stage\",\"model\":");
        print_model(model);
        printf(",\"precision\":\"%s\",\"stage\":\"%s\",\"ms\":%.4f,\"share\":%.4f}\n",
               nl_precision_name(nl_model_precision(m)), k == NLI_STAGES ? "between_passes" : names[k], sms[k],
               clocked > 0 ? sms[k] / clocked : 0);
    }
    printf("{\"kind\":\"text_clock\",\"model\":");
    print_model(model);
    printf(",\"precision\":\"%s\",\"n\":%zu,\"events\":%d,\"cap\":%d,\"clocked_ms\":%.3f,\"wall_ms\":%.3f}\n",
           nl_precision_name(nl_model_precision(m)), pr.n, events, cap, clocked, t_clock * 1e3);
    fflush(stdout);
    if (save && prefix) {
        char path[4096];
        snprintf(path, sizeof path, "%s.npy", prefix);
        if (nl_npy_save(path, out, save < pr.n ? save : pr.n, dim) != 0) return fail(path);
    }
    free(out);
    nl_model_free(m);
    nl_strvec_free(&pr);
    return bad;
}

/* ------------------------------------------------------------ end to end */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_images(const char *dir, nl_strvec *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) { nli_seterr("%s: cannot open folder", dir); return -1; }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *x = strrchr(e->d_name, '.');
        if (!x || (strcasecmp(x, ".jpg") && strcasecmp(x, ".jpeg") && strcasecmp(x, ".png") && strcasecmp(x, ".webp")))
            continue;
        if (nl_strvec_push_owned(out, nli_path_join(dir, e->d_name)) != 0) { closedir(d); return -1; }
    }
    closedir(d);
    if (!out->n) { nli_seterr("%s: no images", dir); return -1; }
    qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return 0;
}

static int cmd_e2e(const char *model, int argc, char **argv) {
    const char *dir = opt(argc, argv, "--images", NULL);
    nl_precision prec;
    if (!dir || nl_parse_precision(opt(argc, argv, "--precision", "fp16"), &prec) != 0) {
        fprintf(stderr, "e2e: --images DIR required\n");
        return 2;
    }
    int batch = (int)opt_long(argc, argv, "--batch", 0);
    size_t limit = (size_t)opt_long(argc, argv, "--limit", 0);
    nl_strvec paths;
    if (list_images(dir, &paths) != 0) return fail("images");
    size_t n = limit && limit < paths.n ? limit : paths.n;
    int nt = nli_num_threads();
    /* Decode + resize + crop only, every core (the CPU ceiling of the pipeline). */
    int bad = 0;
    double t0 = nli_now();
#pragma omp parallel num_threads(nt) reduction(+ : bad)
    {
        uint8_t *buf = malloc(224 * 224 * 3);
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++)
            if (!buf || nl_preprocess_file(paths.v[i], 224, NL_RESAMPLE_BICUBIC, buf) != 0) bad++;
        free(buf);
    }
    double t_dec = nli_now() - t0;
    if (bad) { fprintf(stderr, "bench_gpu: %d images failed to decode\n", bad); return 1; }

    nl_model *m;
    t0 = nli_now();
    if (load_gpu_model(model, prec, batch, &m)) return 1;
    double t_load = nli_now() - t0;
    if (nl_model_image_size(m) != 224) { fprintf(stderr, "bench_gpu: e2e expects 224-pixel models\n"); return 1; }
    size_t dim = (size_t)nl_model_dim(m), warm = n < 256 ? n : 256;
    float *out = malloc(sizeof(float) * n * dim + 1);
    int *status = malloc(sizeof(int) * n + 1);
    if (!out || !status) { fprintf(stderr, "out of memory\n"); return 1; }
    t0 = nli_now();
    if (nl_embed_images(m, (const char *const *)paths.v, warm, NL_RESAMPLE_BICUBIC, out, NULL) != 0)
        return fail("nl_embed_images (warm-up)");
    double t_warm = nli_now() - t0;
    t0 = nli_now();
    if (nl_embed_images(m, (const char *const *)paths.v, n, NL_RESAMPLE_BICUBIC, out, status) != 0)
        return fail("nl_embed_images");
    double t = nli_now() - t0;
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) failed += status[i] != 0;
    printf("{\"kind\":\"e2e\",\"model\":");
    print_model(model);
    printf(",\"precision\":\"%s\",\"n\":%zu,\"threads\":%d,\"seconds\":%.4f,\"images_per_s\":%.1f,\"decode_seconds\":%.4f,"
           "\"decode_images_per_s\":%.1f,\"ratio_e2e_to_decode\":%.3f,\"failed\":%zu,\"warmup_s\":%.3f,\"load_s\":%.3f}\n",
           nl_precision_name(nl_model_precision(m)), n, nt, t, n / t, t_dec, n / t_dec, t_dec / t, failed, t_warm, t_load);
    free(out);
    free(status);
    nl_model_free(m);
    nl_strvec_free(&paths);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------ cosine */

static double worst_cos(const float *a, const float *b, size_t n, size_t d) {
    double w = 2;
    for (size_t i = 0; i < n; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t k = 0; k < d; k++) {
            ab += (double)a[i * d + k] * b[i * d + k];
            aa += (double)a[i * d + k] * a[i * d + k];
            bb += (double)b[i * d + k] * b[i * d + k];
        }
        double c = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
        if (c < w) w = c;
    }
    return w;
}

static int cmd_cosine(const char *model, int argc, char **argv) {
    const char *px = opt(argc, argv, "--pixels", NULL), *prefix = opt(argc, argv, "--out", NULL);
    if (!px || !prefix) { fprintf(stderr, "cosine: --pixels FILE.npy and --out PREFIX required\n"); return 2; }
    float *pix;
    size_t rows, cols;
    if (nl_npy_load(px, &pix, &rows, &cols) != 0) return fail(px);
    size_t n = (size_t)opt_long(argc, argv, "--n", (long)rows);
    if (n > rows) n = rows;
    nli_clip *c = nli_clip_load(model, nli_num_threads());
    if (!c) return fail(model);
    const nli_clip_config *cfg = nli_clip_get_config(c);
    size_t want = (size_t)cfg->vision.image_size * cfg->vision.image_size * 3, d = (size_t)cfg->projection_dim;
    if (cols != want) { fprintf(stderr, "bench_gpu: %s: %zu values per row, the model wants %zu\n", px, cols, want); return 1; }
    float *cpu = malloc(sizeof(float) * n * d), *g32 = malloc(sizeof(float) * n * d), *g16 = malloc(sizeof(float) * n * d);
    if (!cpu || !g32 || !g16) { fprintf(stderr, "out of memory\n"); return 1; }
    double t0 = nli_now();
    if (nli_clip_encode_images(c, pix, n, cpu) != 0) return fail("nli_clip_encode_images (CPU)");
    double t_cpu = nli_now() - t0;
    nl_precision precs[2] = {NL_PRECISION_FP32, NL_PRECISION_FP16};
    float *dst[2] = {g32, g16};
    for (int k = 0; k < 2; k++) {
        nli_cuda_clip *g = nli_cuda_clip_create(c, 0, (int)precs[k], (int)n);
        if (!g) return fail("nli_cuda_clip_create");
        if (nli_cuda_encode_images(g, pix, n, dst[k]) != 0) return fail("nli_cuda_encode_images");
        nli_cuda_clip_free(g);
    }
    const char *names[3] = {"cpu_fp32", "gpu_fp32", "gpu_fp16"};
    const float *arr[3] = {cpu, g32, g16};
    for (int k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s_%s.npy", prefix, names[k]);
        if (nl_npy_save(path, arr[k], n, d) != 0) return fail(path);
    }
    double w32 = worst_cos(g32, cpu, n, d), w16 = worst_cos(g16, cpu, n, d);
    printf("{\"kind\":\"cosine\",\"model\":");
    print_model(model);
    printf(",\"n\":%zu,\"worst_cos_gpu_fp32_vs_cpu_fp32\":%.9f,\"worst_cos_gpu_fp16_vs_cpu_fp32\":%.9f,"
           "\"pass_fp32\":%s,\"cpu_seconds\":%.3f}\n",
           n, w32, w16, w32 >= 0.99999 ? "true" : "false", t_cpu);
    printf("worst cosine, GPU fp32 vs CPU fp32: %.9f\n", w32);
    free(cpu); free(g32); free(g16); free(pix);
    nli_clip_free(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_gpu devices|prompts|images|stages|texts|minescore|e2e|cosine ... (see bench/bench_gpu.c)\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "devices")) return cmd_devices();
    if (!strcmp(cmd, "minescore")) return bench_cmd_minescore(argc - 2, argv + 2);
    if (argc < 3) { fprintf(stderr, "bench_gpu %s: MODEL_DIR required\n", cmd); return 2; }
    if (!strcmp(cmd, "prompts")) return cmd_prompts(argv[2], argc - 3, argv + 3);
    if (!strcmp(cmd, "images")) return cmd_images(argv[2], argc - 3, argv + 3);
    if (!strcmp(cmd, "texts")) return cmd_texts(argv[2], argc - 3, argv + 3);
    if (!strcmp(cmd, "stages")) return cmd_stages(argv[2], argc - 3, argv + 3);
    if (!strcmp(cmd, "e2e")) return cmd_e2e(argv[2], argc - 3, argv + 3);
    if (!strcmp(cmd, "cosine")) return cmd_cosine(argv[2], argc - 3, argv + 3);
    fprintf(stderr, "bench_gpu: unknown command '%s'\n", cmd);
    return 2;
}
