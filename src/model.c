/* model.c — the public nl_model: CLIP weights + tokenizer + preprocessing,
 * glued together for the embedding entry points of neglabel.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "clip.h"
#include "image.h"
#include "neglabel.h"
#include "tokenizer.h"
#include "model.h"
#include "util.h"

struct nl_model {
    nl_clip *clip;
    nl_tokenizer *tok;
    const nl_clip_config *cfg;
    int n_threads, batch;
    char *dir;
    char fingerprint[64];
};

nl_model_params nl_model_default_params(void) {
    nl_model_params p = {0, 32};
    return p;
}

/* Identity of the weights for cache keys and negatives files: config.json,
 * and each safetensors file's name, size and 64 evenly spaced 4 KiB samples
 * of its bytes. Stable when a model folder is copied, different for a
 * fine-tune with the same shapes, and cheap (hashing 600 MB would not be). */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void make_fingerprint(nl_model *m) {
    uint64_t h = NL_FNV_INIT;
    char *cfg = NULL;
    size_t len = 0;
    char *p = nl_path_join(m->dir, "config.json");
    if (p && nl_read_file(p, 1 << 20, &cfg, &len) == 0) h = nl_fnv1a(cfg, len, h);
    free(cfg);
    free(p);
    char *names[256] = {0}; /* a model has a handful of shards */
    size_t nn = 0;
    DIR *d = opendir(m->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && nn < 256) {
            size_t n = strlen(e->d_name);
            if (n < 12 || strcmp(e->d_name + n - 12, ".safetensors") != 0) continue;
            if ((names[nn] = nl_strdup(e->d_name))) nn++;
        }
        closedir(d);
    }
    qsort(names, nn, sizeof names[0], cmp_str);
    uint8_t buf[4096];
    for (size_t k = 0; k < nn; k++) {
        char *f = nl_path_join(m->dir, names[k]);
        FILE *fp = f ? fopen(f, "rb") : NULL;
        struct stat st;
        h = nl_fnv1a(names[k], strlen(names[k]), h);
        if (fp && fstat(fileno(fp), &st) == 0) {
            uint64_t size = (uint64_t)st.st_size;
            h = nl_fnv1a(&size, sizeof size, h);
            for (int i = 0; i < 64 && size; i++) {
                uint64_t off = size > sizeof buf ? (size - sizeof buf) / 63 * (uint64_t)i : 0;
                if (fseeko(fp, (off_t)off, SEEK_SET) != 0) break;
                size_t got = fread(buf, 1, sizeof buf, fp);
                h = nl_fnv1a(buf, got, h);
            }
        }
        if (fp) fclose(fp);
        free(f);
        free(names[k]);
    }
    snprintf(m->fingerprint, sizeof m->fingerprint, "clip-%016llx", (unsigned long long)h);
}

nl_model *nl_model_load(const char *dir, const nl_model_params *params) {
    nl_model_params p = params ? *params : nl_model_default_params();
    nl_model *m = nl_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->n_threads = p.n_threads > 0 ? p.n_threads : nl_num_threads();
    m->batch = p.batch_size > 0 ? p.batch_size : 32;
    m->dir = nl_strdup(dir);
    if (!m->dir) goto fail;
    m->clip = nl_clip_load(dir, m->n_threads);
    if (!m->clip) goto fail;
    m->cfg = nl_clip_get_config(m->clip);
    char *vocab = nl_path_join(dir, "vocab.json"), *merges = nl_path_join(dir, "merges.txt");
    if (vocab && merges) m->tok = nl_tokenizer_load(vocab, merges);
    free(vocab);
    free(merges);
    if (!m->tok) goto fail;
    make_fingerprint(m);
    return m;
fail:
    nl_model_free(m);
    return NULL;
}

void nl_model_free(nl_model *m) {
    if (!m) return;
    nl_clip_free(m->clip);
    nl_tokenizer_free(m->tok);
    free(m->dir);
    free(m);
}

int nl_model_dim(const nl_model *m) { return m->cfg->projection_dim; }
int nl_model_image_size(const nl_model *m) { return m->cfg->vision.image_size; }
const char *nl_model_fingerprint(const nl_model *m) { return m->fingerprint; }

static void tower_json(nl_buf *b, const char *name, const nl_tower_config *t, int text) {
    nl_buf_printf(b, "\"%s\":{\"hidden_size\":%d,\"intermediate_size\":%d,\"num_hidden_layers\":%d,"
                     "\"num_attention_heads\":%d,\"hidden_act\":\"%s\",\"layer_norm_eps\":%g,",
                  name, t->hidden_size, t->intermediate_size, t->num_hidden_layers, t->num_attention_heads,
                  t->quick_gelu ? "quick_gelu" : "gelu", t->layer_norm_eps);
    if (text)
        nl_buf_printf(b, "\"max_position_embeddings\":%d,\"vocab_size\":%d,\"bos_token_id\":%d,\"eos_token_id\":%d}",
                      t->max_position_embeddings, t->vocab_size, t->bos_token_id, t->eos_token_id);
    else
        nl_buf_printf(b, "\"patch_size\":%d,\"image_size\":%d,\"num_channels\":%d}", t->patch_size, t->image_size,
                      t->num_channels);
}

char *nl_model_info_json(const nl_model *m) {
    const nl_clip_config *c = m->cfg;
    nl_buf b = {0};
    nl_buf_puts(&b, "{\"model\":");
    nl_buf_json_string(&b, m->dir);
    nl_buf_puts(&b, ",");
    tower_json(&b, "vision", &c->vision, 0);
    nl_buf_puts(&b, ",");
    tower_json(&b, "text", &c->text, 1);
    nl_buf_printf(&b, ",\"projection_dim\":%d,\"dtype\":\"%s\",\"parameters\":%zu,", c->projection_dim, c->dtype,
                  nl_clip_param_count(m->clip));
    nl_buf_printf(&b, "\"image_mean\":[%.8g,%.8g,%.8g],\"image_std\":[%.8g,%.8g,%.8g],\"resample\":\"%s\",",
                  c->image_mean[0], c->image_mean[1], c->image_mean[2], c->image_std[0], c->image_std[1],
                  c->image_std[2], c->resample_default == NL_RESAMPLE_BILINEAR ? "bilinear" : "bicubic");
    nl_buf_printf(&b, "\"fingerprint\":\"%s\"}", m->fingerprint);
    if (!b.s) nl_seterr("out of memory");
    return b.s;
}

int nl_tokenize(const nl_model *m, const char *text, int32_t **ids, size_t *n) {
    return nl_tokenizer_encode(m->tok, text, strlen(text), ids, n);
}

/* Tokenise for the text tower: clip.tokenize(truncate=True) keeps the first
 * context-1 tokens and puts EOT last. */
static int tokenize_for_model(const nl_model *m, const char *text, int32_t **ids, size_t *n) {
    if (nl_tokenizer_encode(m->tok, text, strlen(text), ids, n) != 0) return -1;
    size_t ctx = (size_t)m->cfg->text.max_position_embeddings;
    if (*n > ctx) {
        (*ids)[ctx - 1] = nl_tokenizer_eot(m->tok);
        *n = ctx;
    }
    for (size_t i = 0; i < *n; i++)
        if ((*ids)[i] < 0 || (*ids)[i] >= m->cfg->text.vocab_size) {
            nl_seterr("token id %d outside the model's vocabulary (%d): vocab.json does not match the model",
                      (*ids)[i], m->cfg->text.vocab_size);
            free(*ids);
            *ids = NULL;
            return -1;
        }
    return 0;
}

#define TEXT_CHUNK 256

int nl_embed_texts(nl_model *m, const char *const *texts, size_t n, float *out) {
    size_t dim = (size_t)m->cfg->projection_dim;
    int32_t *ids[TEXT_CHUNK];
    size_t lens[TEXT_CHUNK];
    for (size_t s = 0; s < n; s += TEXT_CHUNK) {
        size_t k = n - s < TEXT_CHUNK ? n - s : TEXT_CHUNK;
        size_t got = 0;
        int rc = 0;
        for (; got < k; got++)
            if (tokenize_for_model(m, texts[s + got], &ids[got], &lens[got]) != 0) {
                nl_prefixerr("text %zu", s + got);
                rc = -1;
                break;
            }
        if (rc == 0) rc = nl_clip_encode_texts(m->clip, (const int32_t *const *)ids, lens, k, out + s * dim);
        for (size_t i = 0; i < got; i++) free(ids[i]);
        if (rc != 0) return -1;
    }
    return 0;
}

void nl_normalize_rows(float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        double ss = 0;
        for (size_t j = 0; j < dim; j++) ss += (double)r[j] * r[j];
        if (ss <= 0) continue;
        float inv = (float)(1.0 / sqrt(ss));
        for (size_t j = 0; j < dim; j++) r[j] *= inv;
    }
}

int nl_embed_images(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out,
                    int *status) {
    return nl_embed_images_ex(m, paths, n, resample, out, status, NULL);
}

int nl_embed_images_ex(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out,
                       int *status, char **errors) {
    const nl_clip_config *c = m->cfg;
    int S = c->vision.image_size;
    size_t dim = (size_t)c->projection_dim, px = (size_t)S * S * 3;
    size_t B = (size_t)m->batch;
    float *pix = nl_mallocarray(B * px, sizeof(float));
    uint8_t *rgb = nl_mallocarray(B * px, 1);
    int *ok = nl_mallocarray(B, sizeof(int));
    char **errs = nl_calloc(B, sizeof(char *));
    int rc = 0;
    if (!pix || !rgb || !ok || !errs) { rc = -1; goto done; }
    for (size_t s = 0; s < n && rc == 0; s += B) {
        size_t k = n - s < B ? n - s : B;
        /* Decoding and resampling dominate for small models: do them in
         * parallel. Each thread has its own error message buffer. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads)
        for (size_t i = 0; i < k; i++) {
            ok[i] = nl_preprocess_file(paths[s + i], S, resample, rgb + i * px) == 0;
            if (ok[i]) nl_image_normalize(rgb + i * px, S, c->image_mean, c->image_std, pix + i * px);
            else errs[i] = nl_strdup(nl_geterr());
        }
        /* Pack the good images together so the model sees one dense batch. */
        size_t good = 0;
        for (size_t i = 0; i < k; i++) {
            if (status) status[s + i] = ok[i] ? 0 : -1;
            if (!ok[i]) {
                memset(out + (s + i) * dim, 0, dim * sizeof(float));
                if (!status && rc == 0) { nl_seterr("%s", errs[i]); rc = -1; }
                if (errors) { errors[s + i] = errs[i]; errs[i] = NULL; }
                continue;
            }
            if (good != i) memcpy(pix + good * px, pix + i * px, px * sizeof(float));
            good++;
        }
        for (size_t i = 0; i < k; i++) { free(errs[i]); errs[i] = NULL; }
        if (rc != 0) break;
        float *emb = nl_mallocarray(good ? good * dim : 1, sizeof(float));
        if (!emb) { rc = -1; break; }
        if (good && nl_clip_encode_images(m->clip, pix, good, emb) != 0) { free(emb); rc = -1; break; }
        for (size_t i = 0, g = 0; i < k; i++)
            if (ok[i]) memcpy(out + (s + i) * dim, emb + (g++) * dim, dim * sizeof(float));
        free(emb);
    }
done:
    free(pix);
    free(rgb);
    free(ok);
    free(errs);
    return rc;
}
