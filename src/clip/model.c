/* model.c — the public nl_model: CLIP weights + tokenizer + preprocessing,
 * glued together for the embedding entry points of neglabel.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "clip.h"
#include "image.h"
#include "neglabel.h"
#include "tokenizer.h"
#include "model.h"
#include "model_impl.h"
#include "util.h"
#include "gemm_bf16.h"
#include "cuda/cuda_device.h"
#include "cuda/clip_cuda.h"

nl_model_params nl_model_default_params(void) {
    nl_model_params p = {.n_threads = 0, .batch_size = 0, .device = NL_DEVICE_CPU, .device_index = 0,
                         .precision = NL_PRECISION_DEFAULT};
    return p;
}

/* Resolve AUTO and DEFAULT (and bf16 on a CPU without it) before the
 * weights are loaded: a CPU bf16 model is packed while loading. */
static int resolve(nl_model *m, const nl_model_params *p) {
    nl_device dev = p->device;
    int index = p->device_index;
    if (nl_resolve_device(&dev, &index) != 0) return -1;
    nl_precision prec = p->precision;
    if (prec == NL_PRECISION_DEFAULT) prec = dev == NL_DEVICE_CUDA ? NL_PRECISION_FP16 : NL_PRECISION_FP32;
    if (prec < NL_PRECISION_FP32 || prec > NL_PRECISION_BF16) { nli_seterr("unknown precision %d", (int)prec); return -1; }
    m->device = dev;
    m->precision = prec;
    m->device_index = dev == NL_DEVICE_CUDA ? index : 0;
    if (dev == NL_DEVICE_CPU) {
        if (prec == NL_PRECISION_FP16) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "precision fp16: the CPU engine computes in fp32 or bf16 (use --precision fp32 or bf16, or a CUDA device)");
            return -1;
        }
        if (prec == NL_PRECISION_BF16 && !nli_bf16_available()) {
            const char *f = nli_bf16_cpu_features();
            if (p->strict_precision) {
                nli_seterr_code(NL_ERR_UNSUPPORTED, "precision bf16: %s (NEGLABEL_CPU_BF16=%s); use --precision fp32",
                                *f ? "native bf16 is disabled" : "this CPU has no native bf16 (AVX512-BF16 or AMX)",
                                getenv("NEGLABEL_CPU_BF16") ? getenv("NEGLABEL_CPU_BF16") : "");
                return -1;
            }
            nli_log(NL_LOG_WARN, "precision bf16: %s; computing in fp32",
                    *f ? "native bf16 is disabled (NEGLABEL_CPU_BF16)" : "this CPU has no native bf16 (AVX512-BF16 or AMX)");
            m->precision = NL_PRECISION_FP32;
        }
    }
    return 0;
}

/* Images per batch on the CPU unless asked: 32, or fewer where 32 images'
 * pixels (decoded bytes and normalised floats, 15 bytes a pixel) would pass
 * 256 MiB: images over 747 pixels a side, which no released CLIP takes. */
static int cpu_default_batch(const nli_clip_config *cfg) {
    size_t S = (size_t)cfg->vision.image_size, per = 15 * S * S;
    size_t b = ((size_t)256 << 20) / per;
    return b < 1 ? 1 : b > 32 ? 32 : (int)b;
}

/* After loading: move the towers to the GPU if asked; name the device. */
static int place(nl_model *m, const nl_model_params *p) {
    if (m->device == NL_DEVICE_CUDA && p->device == NL_DEVICE_AUTO &&
        nli_clip_cpu_only(m->cfg)) {
        /* a GPU found by AUTO: GroupViT, AltCLIP and ALIGN have no CUDA engine, the CPU runs them */
        nli_log(NL_LOG_WARN, "%s runs on the CPU only: computing there in fp32, not on cuda:%d",
                nli_clip_arch_name(m->cfg), m->device_index);
        m->device = NL_DEVICE_CPU;
        m->device_index = 0;
        m->precision = NL_PRECISION_FP32;
    }
    if (m->device == NL_DEVICE_CPU) {
        m->batch = p->batch_size > 0 ? p->batch_size : cpu_default_batch(m->cfg);
        if (m->precision == NL_PRECISION_BF16)
            snprintf(m->device_name, sizeof m->device_name, "cpu (bf16: %s)", nli_bf16_kernel_name());
        else
            snprintf(m->device_name, sizeof m->device_name, "cpu");
        return 0;
    }
    if (nli_clip_use_device(m->clip, m->device_index, (int)m->precision, p->batch_size) != 0) return -1;
    m->batch = nli_cuda_clip_max_batch(nli_clip_gpu(m->clip));
    char name[128] = "?";
    size_t fr, tot;
    int ma, mi;
    nli_cuda_describe(m->device_index, name, sizeof name, &fr, &tot, &ma, &mi);
    snprintf(m->device_name, sizeof m->device_name, "cuda:%d (%s)", m->device_index, name);
    return 0;
}

/* The accessors take a loaded model; given NULL they answer 0 (the first
 * enum value, an empty string) rather than crash. */
nl_device nl_model_device(const nl_model *m, int *index) {
    if (index) *index = m ? m->device_index : 0;
    return m ? m->device : NL_DEVICE_CPU;
}
nl_precision nl_model_precision(const nl_model *m) { return m ? m->precision : NL_PRECISION_DEFAULT; }
int nl_model_threads(const nl_model *m) { return m ? m->n_threads : 0; }
struct nli_clip *nli_model_clip(const nl_model *m) { return m->clip; }
nl_resample nl_model_resample(const nl_model *m) {
    if (!m) return NL_RESAMPLE_BICUBIC;
    return m->cfg->resample_default == NL_RESAMPLE_BILINEAR ? NL_RESAMPLE_BILINEAR : NL_RESAMPLE_BICUBIC;
}
const char *nl_model_device_name(const nl_model *m) { return m ? m->device_name : ""; }

/* Identity of the weights for cache keys and negatives files, "clip2-" and
 * 16 hex digits: config.json (open_clip_config.json in OpenCLIP folders),
 * each safetensors file's name, size and every byte (nli_hash64 over 4 MiB
 * pieces on the model's threads, folded in order, so the thread count does
 * not matter), and the tokenizer's digest when it is not OpenAI's CLIP BPE
 * (so every folder with the usual tokenizer keeps its fingerprint, from
 * whichever files it reads it). Stable when a model folder is copied,
 * different whenever one weight differs.
 *
 * The safetensors files are those the load read. Until 2026-12 they were
 * every *.safetensors in the folder: a clone of a Hub repository that holds
 * two sets of weights (laion's hold model.safetensors and
 * open_clip_model.safetensors, 10 GB each for ViT-bigG) hashed both, and
 * differed from a download of the set it loads. The same in folders with
 * one set; negatives files that carry the old one in other folders are
 * still accepted (nli_model_fingerprint_legacy).
 *
 * The first fingerprint ("clip-") read 64 windows of 4 KiB per file: an
 * edit outside them (a fine-tuned projection, ~1.7 % of the tiny model's
 * bytes and 0.04 % of ViT-B/16's were read) kept it, so cached embeddings
 * of the old weights came back and negatives mined with them were accepted.
 * Negatives files written then still carry it; nli_model_fingerprint_legacy
 * computes it for them. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

#define FP_MAX_FILES 256 /* a model has a handful of shards */
#define FP_PIECE ((size_t)4 << 20)
/* Threads that hash: each holds a FP_PIECE buffer while the loaded weights
 * are resident, so the model's threads (all cores: 64 on a 64-core machine,
 * 256 MiB of buffers) would grow the peak RSS with the core count past the
 * README's weights + 200 MB. 8 hash a ViT-B/16 (600 MB) in a fraction of a second. */
#define FP_MAX_THREADS 8

/* The names of the safetensors files hashed, sorted: every one in the
 * folder (all), else those the load read. */
static size_t safetensors_names(const nl_model *m, int all, char **names) {
    size_t nn = 0;
    if (all) {
        DIR *d = opendir(m->dir);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) && nn < FP_MAX_FILES) {
                size_t n = strlen(e->d_name);
                if (n < 12 || strcmp(e->d_name + n - 12, ".safetensors") != 0) continue;
                if ((names[nn] = nli_strdup(e->d_name))) nn++;
            }
            closedir(d);
        }
    } else {
        int nf = 0;
        const char *const *files = nli_clip_weight_files(m->clip, &nf);
        for (int i = 0; i < nf && nn < FP_MAX_FILES; i++) {
            const char *slash = strrchr(files[i], '/');
            if ((names[nn] = nli_strdup(slash ? slash + 1 : files[i]))) nn++;
        }
    }
    qsort(names, nn, sizeof names[0], cmp_str);
    return nn;
}

static uint64_t hash_config(const nl_model *m) {
    uint64_t h = NL_FNV_INIT;
    char *cfg = NULL;
    size_t len = 0;
    char *p = nli_path_join(m->dir, m->cfg->format == NLI_FORMAT_OPENCLIP ? "open_clip_config.json" : "config.json");
    if (p && nli_read_file(p, 1 << 20, &cfg, &len) == 0) h = nli_fnv1a(cfg, len, h);
    free(cfg);
    free(p);
    return h;
}

/* Every byte of one file: its 4 MiB pieces read (pread: page-cache pages
 * read so do not count in the process's memory, as a mapping's would) and
 * hashed in parallel, their hashes folded in order. 0 and h, or -1 when
 * the file could not be read. */
static int hash_file(int fd, uint64_t size, int nt, uint64_t *h) {
    size_t np = (size_t)(size / FP_PIECE) + 1;
    if (nt > FP_MAX_THREADS) nt = FP_MAX_THREADS;
    uint64_t *ph = nli_mallocarray(np, sizeof *ph);
    int bad = !ph;
#pragma omp parallel num_threads(nt) if (ph)
    {
        uint8_t *buf = ph ? malloc(FP_PIECE) : NULL;
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < np; i++) {
            if (!buf) {
#pragma omp atomic write
                bad = 1;
                continue;
            }
            uint64_t off = (uint64_t)i * FP_PIECE;
            size_t n = size - off < FP_PIECE ? (size_t)(size - off) : FP_PIECE, got = 0;
            while (got < n) {
                ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
                if (r <= 0) break;
                got += (size_t)r;
            }
            if (got == n) ph[i] = nli_hash64(buf, n, i);
            else {
#pragma omp atomic write
                bad = 1;
            }
        }
        free(buf);
    }
    if (!bad) *h = nli_fnv1a(ph, np * sizeof *ph, *h);
    free(ph);
    return bad ? -1 : 0;
}

/* The 64 evenly spaced 4 KiB windows of the first fingerprint. */
static uint64_t hash_samples(const char *path, uint64_t h) {
    struct stat st;
    FILE *fp = nli_fopen_regular(path, &st); /* a FIFO beside the weights is not waited on */
    uint8_t b[4096];
    if (fp) {
        uint64_t size = (uint64_t)st.st_size;
        h = nli_fnv1a(&size, sizeof size, h);
        for (int i = 0; i < 64 && size; i++) {
            uint64_t off = size > sizeof b ? (size - sizeof b) / 63 * (uint64_t)i : 0;
            if (fseeko(fp, (off_t)off, SEEK_SET) != 0) break;
            size_t got = fread(b, 1, sizeof b, fp);
            h = nli_fnv1a(b, got, h);
        }
    }
    if (fp) fclose(fp);
    return h;
}

/* every_byte 0: the first fingerprint ("clip-", all files sampled); all:
 * the folder's every *.safetensors instead of the files the load read. */
static void fingerprint(const nl_model *m, int every_byte, int all, char *buf, size_t cap) {
    uint64_t h = hash_config(m);
    char *names[FP_MAX_FILES] = {0};
    size_t nn = safetensors_names(m, all, names);
    for (size_t k = 0; k < nn; k++) {
        char *f = nli_path_join(m->dir, names[k]);
        h = nli_fnv1a(names[k], strlen(names[k]), h);
        if (f && !every_byte) h = hash_samples(f, h);
        else if (f) { /* read a moment ago by the load: a failure here is one more byte of the hash */
            struct stat st;
            int fd = nli_open_regular(f, &st); /* (a FIFO named *.safetensors is not waited on) */
            uint64_t size = fd >= 0 ? (uint64_t)st.st_size : 0;
            h = nli_fnv1a(&size, sizeof size, h);
            if (fd < 0 || hash_file(fd, size, m->n_threads, &h) != 0) h = nli_fnv1a("?", 1, h);
            if (fd >= 0) close(fd);
        }
        free(f);
        free(names[k]);
    }
    uint64_t tok = m->ug ? nli_unigram_digest(m->ug) : m->wp ? nli_wordpiece_digest(m->wp)
                   : m->sp ? nli_spm_digest(m->sp) : nli_tokenizer_digest(m->tok);
    if (tok != NLI_TOKENIZER_OPENAI_DIGEST) h = nli_fnv1a(&tok, sizeof tok, h);
    snprintf(buf, cap, "%s-%016llx", every_byte ? "clip2" : "clip", (unsigned long long)h);
}

void nli_model_fingerprint_legacy(const nl_model *m, const char *prefix, char *buf, size_t cap) {
    if (!strcmp(prefix, "clip")) fingerprint(m, 0, 1, buf, cap);
    else fingerprint(m, 1, 1, buf, cap);
}

nl_model *nl_model_load(const char *dir, const nl_model_params *params) {
    nl_model_params p = params ? *params : nl_model_default_params();
    if (p.n_threads < 0 || p.n_threads > NLI_MAX_THREADS) {
        nli_seterr("model parameters: n_threads %d (expected 1 to %d, or 0: automatic)", p.n_threads, NLI_MAX_THREADS);
        return NULL;
    }
    if (p.batch_size < 0 || p.batch_size > 4096) {
        nli_seterr("model parameters: batch_size %d (expected 1 to 4096, or 0: automatic)", p.batch_size);
        return NULL;
    }
    nl_model *m = nli_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->n_threads = nli_threads(p.n_threads);
    /* a folder, or a Hub id "org/name[@rev]" resolved to its snapshot in the
     * Hugging Face cache (downloaded when missing; src/app/hub_download.c) */
    nli_layout layout = NLI_LAYOUT_AUTO;
    m->dir = nli_model_resolve_layout(dir, &layout);
    if (!m->dir) goto fail;
    dir = m->dir;
    if (resolve(m, &p) != 0) goto fail;
    /* bf16 on the CPU: packed while loading, never all float32 at once */
    m->clip = nli_clip_load_ex(dir, NULL, m->n_threads, m->device == NL_DEVICE_CPU && m->precision == NL_PRECISION_BF16,
                               layout);
    if (!m->clip) goto fail;
    m->cfg = nli_clip_get_config(m->clip);
    /* OpenCLIP folders may carry no tokenizer files: open_clip always uses
     * OpenAI's BPE from its package, which the library has built in, and
     * its SimpleTokenizer names the special tokens "<start_of_text>" /
     * "<end_of_text>", which a text may hold */
    if (m->cfg->text_arch == NLI_TEXT_ROBERTA) {
        /* AltCLIP: XLM-R's SentencePiece Unigram, from its tokenizer.json */
        char *tj = nli_path_join(dir, "tokenizer.json");
        if (tj && !nli_file_exists(tj))
            nli_seterr_code(NL_ERR_IO, "%s: no tokenizer.json (AltCLIP's XLM-R tokenizer is read from it; "
                            "sentencepiece.bpe.model alone is not)", dir);
        else if (tj && (m->ug = nli_unigram_load(tj)) && nli_unigram_as_xlmr(m->ug, tj) != 0) {
            nli_unigram_free(m->ug); /* transformers 5 tokenizes AltCLIP's texts with XLMRobertaTokenizer */
            m->ug = NULL;
        }
        free(tj);
        if (!m->ug) goto fail;
    } else if (m->cfg->text_arch == NLI_TEXT_BERT) {
        /* ALIGN: BERT's WordPiece, from tokenizer.json or vocab.txt */
        if (!(m->wp = nli_wordpiece_load_dir(dir))) goto fail;
    } else if (m->cfg->siglip) {
        /* SigLIP: SiglipTokenizer over spiece.model; texts are padded with
         * the tokenizer's pad token, which must be the config's */
        if (!(m->sp = nli_spm_load_dir(dir))) goto fail;
        if (nli_spm_pad_id(m->sp) != m->cfg->text.pad_token_id) {
            nli_seterr("%s: the tokenizer pads with id %d, config.json's text_config.pad_token_id is %d: the "
                       "tokenizer does not match the model", dir, (int)nli_spm_pad_id(m->sp), m->cfg->text.pad_token_id);
            goto fail;
        }
    } else {
        m->tok = nli_tokenizer_for_folder(dir, m->cfg->format == NLI_FORMAT_OPENCLIP);
        if (!m->tok) goto fail;
    }
    if (place(m, &p) != 0) goto fail;
    fingerprint(m, 1, 0, m->fingerprint, sizeof m->fingerprint);
    return m;
fail:
    nl_model_free(m);
    return NULL;
}

void nl_model_free(nl_model *m) {
    if (!m) return;
    nli_clip_free(m->clip);
    nli_tokenizer_free(m->tok);
    nli_unigram_free(m->ug);
    nli_wordpiece_free(m->wp);
    nli_spm_free(m->sp);
    free(m->dir);
    free(m);
}

int nli_model_crop_floor(const nl_model *m, nl_resample requested) {
    return requested == NL_RESAMPLE_MODEL && m->cfg->crop_floor;
}

void nli_model_preprocess_tag(const nl_model *m, nl_resample requested, char *buf, size_t cap) {
    const nli_clip_config *c = m->cfg;
    nli_clip_config d; /* OpenAI's preprocessing: the defaults of every config */
    nli_clip_config_defaults(&d);
    int floor_crop = nli_model_crop_floor(m, requested);
    if (!memcmp(c->image_mean, d.image_mean, sizeof d.image_mean) &&
        !memcmp(c->image_std, d.image_std, sizeof d.image_std) && c->resize_mode == d.resize_mode &&
        c->fill_color == d.fill_color && floor_crop == d.crop_floor) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    uint64_t h = nli_fnv1a(c->image_mean, sizeof c->image_mean, NL_FNV_INIT);
    h = nli_fnv1a(c->image_std, sizeof c->image_std, h);
    int32_t v[3] = {(int32_t)c->resize_mode, c->fill_color, floor_crop};
    h = nli_fnv1a(v, sizeof v, h);
    if (c->resize_to) h = nli_fnv1a(&c->resize_to, sizeof c->resize_to, h); /* ALIGN's resize before its crop */
    snprintf(buf, cap, "-pp%016llx", (unsigned long long)h);
}

int nl_model_dim(const nl_model *m) { return m ? m->cfg->projection_dim : 0; }
int nl_model_image_size(const nl_model *m) { return m ? m->cfg->vision.image_size : 0; }
const char *nl_model_fingerprint(const nl_model *m) { return m ? m->fingerprint : ""; }

/* "name":{...} for a tower; open: without its closing brace (more keys follow). */
static void tower_json(nli_buf *b, const char *name, const nli_tower_config *t, int text, int open) {
    nli_buf_printf(b, "\"%s\":{\"hidden_size\":%d,\"intermediate_size\":%d,\"num_hidden_layers\":%d,"
                     "\"num_attention_heads\":%d,\"hidden_act\":\"%s\",\"layer_norm_eps\":%g,",
                  name, t->hidden_size, t->intermediate_size, t->num_hidden_layers, t->num_attention_heads,
                  t->quick_gelu ? "quick_gelu" : t->gelu_tanh ? "gelu_pytorch_tanh" : "gelu", t->layer_norm_eps);
    if (text)
        nli_buf_printf(b, "\"max_position_embeddings\":%d,\"vocab_size\":%d,\"bos_token_id\":%d,\"eos_token_id\":%d",
                      t->max_position_embeddings, t->vocab_size, t->bos_token_id, t->eos_token_id);
    else
        nli_buf_printf(b, "\"patch_size\":%d,\"image_size\":%d,\"num_channels\":%d", t->patch_size, t->image_size,
                      t->num_channels);
    if (!open) nli_buf_puts(b, "}");
}

static char *model_info_json(const nl_model *m);

char *nl_model_info_json(const nl_model *m) {
    if (!m) {
        nli_null_arg(__func__);
        return NULL;
    }
    void *loc = nli_numeric_c_begin(); /* JSON numbers: "1e-05", "0.48145467", whatever LC_NUMERIC says */
    char *s = model_info_json(m);
    nli_numeric_c_end(loc);
    return s;
}

static char *model_info_json(const nl_model *m) {
    const nli_clip_config *c = m->cfg;
    nli_buf b = {0};
    nli_buf_puts(&b, "{\"model\":");
    nli_buf_json_string(&b, m->dir);
    nli_buf_printf(&b, ",\"format\":\"%s\",\"architecture\":\"%s\",",
                   c->format == NLI_FORMAT_OPENCLIP ? "open_clip" : "huggingface",
                   nli_clip_arch_name(c));
    if (c->arch == NLI_ARCH_GROUPVIT) {
        /* the ViT's keys, then the stages and the projections' width */
        tower_json(&b, "vision", &c->vision, 0, 1);
        const char *keys[3] = {"depths", "num_group_tokens", "num_output_groups"};
        const int *vals[3] = {c->gv_depths, c->gv_groups, c->gv_out_groups};
        for (int k = 0; k < 3; k++) {
            nli_buf_printf(&b, ",\"%s\":[", keys[k]);
            for (int s = 0; s < c->gv_stages; s++) nli_buf_printf(&b, "%s%d", s ? "," : "", vals[k][s]);
            nli_buf_puts(&b, "]");
        }
        nli_buf_printf(&b, ",\"assign_eps\":%g},\"projection_intermediate_dim\":%d", c->gv_assign_eps,
                       c->proj_intermediate);
    } else if (c->arch == NLI_ARCH_RESNET)
        nli_buf_printf(&b, "\"vision\":{\"layers\":[%d,%d,%d,%d],\"width\":%d,\"attnpool_width\":%d,"
                           "\"attnpool_heads\":%d,\"image_size\":%d,\"num_channels\":3}",
                       c->rn_layers[0], c->rn_layers[1], c->rn_layers[2], c->rn_layers[3], c->rn_width,
                       c->vision.hidden_size, c->vision.num_attention_heads, c->vision.image_size);
    else if (c->arch == NLI_ARCH_EFFNET)
        nli_buf_printf(&b, "\"vision\":{\"architecture\":\"EfficientNet\",\"width_coefficient\":%g,"
                           "\"depth_coefficient\":%g,\"blocks\":%d,\"hidden_size\":%d,\"hidden_dim\":%d,"
                           "\"hidden_act\":\"swish\",\"pooling_type\":\"%s\",\"batch_norm_eps\":%g,\"image_size\":%d,"
                           "\"resize_to\":%d,\"num_channels\":3}",
                       c->en.width_coefficient, c->en.depth_coefficient, c->vision.num_hidden_layers,
                       c->vision.hidden_size, c->en.hidden_dim, c->en.pool_max ? "max" : "mean", c->en.bn_eps,
                       c->vision.image_size, c->resize_to);
    else
        tower_json(&b, "vision", &c->vision, 0, 0);
    nli_buf_puts(&b, ",");
    tower_json(&b, "text", &c->text, 1, c->text_arch != NLI_TEXT_CLIP || c->siglip);
    if (c->text_arch == NLI_TEXT_ROBERTA) /* XLM-R's: its positions and the transformation's width */
        nli_buf_printf(&b, ",\"pad_token_id\":%d,\"type_vocab_size\":%d,\"project_dim\":%d}", c->text.pad_token_id,
                       c->text_type_vocab, c->text_project_dim);
    else if (c->text_arch == NLI_TEXT_BERT)
        nli_buf_printf(&b, ",\"pad_token_id\":%d,\"type_vocab_size\":%d}", c->text.pad_token_id, c->text_type_vocab);
    else if (c->siglip) /* texts padded to the context with it */
        nli_buf_printf(&b, ",\"pad_token_id\":%d}", c->text.pad_token_id);
    nli_buf_printf(&b, ",\"projection_dim\":%d,\"dtype\":\"%s\",\"parameters\":%zu,", c->projection_dim, c->dtype,
                  nli_clip_param_count(m->clip));
    nli_buf_printf(&b, "\"image_mean\":[%.8g,%.8g,%.8g],\"image_std\":[%.8g,%.8g,%.8g],\"resample\":\"%s\",",
                  c->image_mean[0], c->image_mean[1], c->image_mean[2], c->image_std[0], c->image_std[1],
                  c->image_std[2], c->resample_default == NL_RESAMPLE_BILINEAR ? "bilinear" : "bicubic");
    static const char *const modes[3] = {"shortest", "longest", "squash"};
    nli_buf_printf(&b, "\"resize_mode\":\"%s\",", modes[c->resize_mode]);
    nli_buf_puts(&b, "\"device\":");
    nli_buf_json_string(&b, m->device_name);
    nli_buf_printf(&b, ",\"precision\":\"%s\",\"batch_size\":%d,\"threads\":%d,", nl_precision_name(m->precision), m->batch,
                   m->n_threads);
    nli_buf_printf(&b, "\"cpu_bf16\":\"%s\",\"tokenizer\":\"%s\",", nli_bf16_cpu_features(),
                   m->ug ? "tokenizer.json (SentencePiece Unigram)"
                   : m->wp ? nli_wordpiece_source(m->wp)
                   : m->sp ? nli_spm_source(m->sp) : nli_tokenizer_source(m->tok));
    nli_buf_printf(&b, "\"fingerprint\":\"%s\"}", m->fingerprint);
    if (!b.s) nli_seterr("out of memory");
    return b.s;
}

int nl_tokenize(const nl_model *m, const char *text, int32_t **ids, size_t *n) {
    if (!m || !text || !ids || !n) return nli_null_arg(__func__);
    return nl_tokenize_n(m, text, strlen(text), ids, n);
}

int nl_tokenize_n(const nl_model *m, const char *text, size_t len, int32_t **ids, size_t *n) {
    if (!m || !text || !ids || !n) return nli_null_arg(__func__);
    if (m->ug) return nli_unigram_encode(m->ug, text, len, ids, n);
    if (m->wp) return nli_wordpiece_encode(m->wp, text, len, ids, n);
    if (m->sp) return nli_spm_encode(m->sp, text, len, ids, n);
    return nli_tokenizer_encode(m->tok, text, len, ids, n);
}

/* Tokenise for the text tower: clip.tokenize(truncate=True) keeps the first
 * context-1 tokens and puts EOT last. BPE needs a whole piece of text (a
 * merge far in a word can change its first tokens), so a text is tokenised
 * whole before the cut, on each thread: texts are bounded
 * (NLI_TEXT_EMBED_MAX). */
static int tokenize_for_model(const nl_model *m, const char *text, int32_t **ids, size_t *n) {
    if (!text) {
        nli_seterr("the text is NULL");
        return -1;
    }
    size_t len = strlen(text);
    if (len > NLI_TEXT_EMBED_MAX) {
        nli_seterr("%zu bytes long, and a text to embed is at most 1 MiB (the model reads only its first %d "
                   "tokens): a missing line break?",
                   len, m->cfg->text.max_position_embeddings - 1);
        return -1;
    }
    if (nl_tokenize_n(m, text, len, ids, n) != 0) return -1;
    /* AltCLIP: RoBERTa's positions start after pad_token_id; the cut keeps
     * </s> (ALIGN's BERT: [SEP]) last, as transformers' truncation does */
    const nli_tower_config *tc = &m->cfg->text;
    size_t ctx = (size_t)(m->ug ? tc->max_position_embeddings - tc->pad_token_id - 1 : tc->max_position_embeddings);
    if (*n > ctx) {
        int32_t last = m->ug ? nli_unigram_last_suffix(m->ug) : m->wp ? nli_wordpiece_last_suffix(m->wp)
                       : m->sp ? nli_spm_last_suffix(m->sp) : nli_tokenizer_eot(m->tok);
        if (last >= 0) (*ids)[ctx - 1] = last;
        *n = ctx;
    }
    for (size_t i = 0; i < *n; i++)
        if ((*ids)[i] < 0 || (*ids)[i] >= m->cfg->text.vocab_size) {
            nli_seterr("token id %d outside the model's vocabulary (%d): the tokenizer does not match the model",
                      (*ids)[i], m->cfg->text.vocab_size);
            free(*ids);
            *ids = NULL;
            return -1;
        }
    return 0;
}

/* Texts per forward call on the CPU; on a GPU, a slot's worth. */
#define TEXT_CHUNK_CPU 256

/* NEGLABEL_CUDA_TEXT_CHUNK (1..NLI_CUDA_TEXT_SLOT) puts fewer texts in a
 * GPU chunk: tests run three chunks through both slots with a few thousand
 * texts, not 17,161 (the CUDA emulator took 160 s). Not meant for users. */
static size_t text_chunk_gpu(void) {
    const char *s = getenv("NEGLABEL_CUDA_TEXT_CHUNK");
    char *end = NULL;
    unsigned long v = s && *s ? strtoul(s, &end, 10) : 0;
    return end && !*end && v >= 1 && v <= NLI_CUDA_TEXT_SLOT ? (size_t)v : NLI_CUDA_TEXT_SLOT;
}

/* Tokenise texts[s..s+k) into ids/lens on all cores (the tokenizer is
 * read-only once loaded); 0, or -1 with the first failure's message. */
static int tokenize_chunk(nl_model *m, const char *const *texts, size_t s, size_t k, int32_t **ids, size_t *lens,
                          char **errs) {
    int rc = 0;
#pragma omp parallel for schedule(dynamic, 64) num_threads(m->n_threads)
    for (size_t i = 0; i < k; i++)
        if (tokenize_for_model(m, texts[s + i], &ids[i], &lens[i]) != 0) errs[i] = nli_strdup(nli_geterr());
    for (size_t i = 0; i < k && rc == 0; i++)
        if (errs[i] || !ids[i]) {
            nli_seterr("text %zu: %s", s + i, errs[i] ? errs[i] : "out of memory");
            rc = -1;
        }
    return rc;
}

static void free_chunk(size_t k, int32_t **ids, char **errs) {
    for (size_t i = 0; i < k; i++) {
        free(ids[i]);
        free(errs[i]);
        ids[i] = NULL;
        errs[i] = NULL;
    }
}

int nl_embed_texts(nl_model *m, const char *const *texts, size_t n, float *out) {
    if (!m) return nli_null_arg(__func__);
    size_t dim = (size_t)m->cfg->projection_dim;
    const int gpu = m->device == NL_DEVICE_CUDA;
    size_t chunk = gpu ? text_chunk_gpu() : TEXT_CHUNK_CPU;
    if (chunk > n) chunk = n;
    if (n == 0) return 0;
    if (!texts || !out) return nli_null_arg(__func__);
    int32_t **ids = nli_calloc(chunk, sizeof *ids);
    size_t *lens = nli_calloc(chunk, sizeof *lens);
    char **errs = nli_calloc(chunk, sizeof *errs);
    int rc = ids && lens && errs ? 0 : -1;
    /* On a GPU the chunks alternate between two slots: the host tokenises
     * (and packs) chunk c while the GPU runs chunk c - 1. at: each slot's
     * first text. */
    size_t at[2] = {0, 0};
    int slot = 0;
    nli_progress pr;
    nli_progress_start(&pr, "embedding texts", n);
    for (size_t s = 0; s < n && rc == 0; s += chunk, slot ^= 1) {
        size_t k = n - s < chunk ? n - s : chunk;
        rc = tokenize_chunk(m, texts, s, k, ids, lens, errs);
        if (!gpu) {
            if (rc == 0) rc = nli_clip_encode_texts(m->clip, (const int32_t *const *)ids, lens, k, out + s * dim);
        } else {
            if (rc == 0) rc = nli_clip_texts_collect(m->clip, slot, out + at[slot] * dim); /* chunk c - 2 */
            if (rc == 0) rc = nli_clip_texts_submit(m->clip, slot, (const int32_t *const *)ids, lens, k);
            at[slot] = s;
        }
        free_chunk(k, ids, errs);
        if (rc == 0) nli_progress_update(&pr, s + k);
        if (rc == 0 && s + k < n && nli_cancelled()) rc = -1; /* nl_set_cancel, after each chunk but the last */
    }
    if (gpu) /* the last two chunks; after a failure, wait for them and drop them */
        for (slot = 0; slot < 2; slot++)
            if (nli_clip_texts_collect(m->clip, slot, rc ? NULL : out + at[slot] * dim) != 0) rc = -1;
    nli_progress_finish(&pr, rc);
    free(ids);
    free(lens);
    free(errs);
    return rc;
}

void nl_normalize_rows(float *x, size_t n, size_t dim) {
    if (!x) return;
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        double ss = 0;
        for (size_t j = 0; j < dim; j++) ss += (double)r[j] * r[j];
        if (ss <= 0) continue;
        float inv = (float)(1.0 / sqrt(ss));
        for (size_t j = 0; j < dim; j++) r[j] *= inv;
    }
}
