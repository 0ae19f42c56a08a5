/* pipeline.c — the embedding cache loop, prompts, words and image files through it, and negatives files (declared in neglabel.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "gemm_bf16.h"
#include "model.h"
#include "neglabel.h"
#include "image.h"
#include "mine_model.h"
#include "util.h"

/* ------------------------------------------------------------ caching */

#define EMBED_CHUNK 512 /* items per forward call; the cache is flushed after each */

static nli_cache *open_cache(const nl_embed_opts *o, nl_model *m, const char *tag, const char *kind,
                             const char *ns_extra, int *err) {
    *err = 0;
    if (!o || !o->cache_dir) return NULL;
    /* A cache that cannot be opened is an error like any unwritable output
     * (the message names it; --no-cache runs without one). */
    if (nli_mkdir_p(o->cache_dir) != 0) { *err = 1; return NULL; }
    char name[320], ns[512], dev[64] = "";
    /* GPU embeddings (another precision, other rounding) never mix with the
     * CPU's: each device kind and precision has its own cache file. */
    if (nl_model_device(m, NULL) == NL_DEVICE_CUDA)
        snprintf(dev, sizeof dev, "-cuda-%s", nl_precision_name(nl_model_precision(m)));
    else if (nl_model_precision(m) == NL_PRECISION_BF16) /* the AMX and AVX512-BF16 kernels round differently */
        snprintf(dev, sizeof dev, "-cpu-bf16-%s", nli_bf16_kernel_name());
    snprintf(name, sizeof name, "%s%s%s-%s%s.nlc", nl_model_fingerprint(m), dev, tag, kind, ns_extra);
    snprintf(ns, sizeof ns, "neglabel %s model=%s%s%s %s", kind, nl_model_fingerprint(m), dev, tag, ns_extra);
    char *path = nli_path_join(o->cache_dir, name);
    nli_cache *c = path ? nli_cache_open(path, ns, (size_t)nl_model_dim(m)) : NULL;
    if (!c) *err = 1;
    free(path);
    return c;
}

/* Text embeddings are keyed by the prompt; the file name carries a
 * fingerprint of how this build tokenizes with the model's tokenizer
 * (ftfy, cleaning, BPE), probed on texts that exercise each step, so that
 * another release's tokenizer never reads this one's vectors. */
static nli_cache *open_text_cache(const nl_embed_opts *o, nl_model *m, int *err) {
    static const char *const probe[] = {
        "a photo of a dog.", "Grevy's zebra, the 2nd-largest (of 3)!", "na\xc3\xafve caf\xc3\xa9 \xe2\x80\x93 "
        "\xe2\x80\x9cquoted\xe2\x80\x9d \xef\xbc\xa1\xef\xbc\xa2", "  spaces\tand\nlines  ",
        "\xef\xac\x81ne &amp; HTML \xc3\x83\xc2\xa9", "\xf0\x9f\x90\x95 \xe7\x8a\xac <|endoftext|>"};
    *err = 0;
    if (!o || !o->cache_dir) return NULL;
    uint64_t h = NL_FNV_INIT;
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (nl_tokenize(m, probe[i], &ids, &n) == 0) h = nli_fnv1a(ids, n * sizeof *ids, h);
        else h = nli_fnv1a("!", 1, h);
        free(ids);
    }
    char tag[16];
    snprintf(tag, sizeof tag, "-tk%08x", (unsigned)(h ^ (h >> 32)));
    return open_cache(o, m, tag, "text", "", err);
}

/* Embed items in chunks, taking what the cache has and storing what it
 * lacks (keys[i] NULL: not cacheable). fn embeds items idx[0..k) into
 * out[k x dim] and sets status (0 ok, -1 failed), errors (malloc'd or
 * NULL) and, for failed items, codes (the nl_status of the failure) per
 * item; a failure keeps its kind in codes (optional, n entries) and, with
 * no status array, in the call's nl_last_status. Each chunk is computed with the cache locked and written
 * (and synced) before the lock is released: an interrupted run resumes
 * where it stopped, and another process sharing the cache waits for the
 * chunk and then takes it from the cache instead of computing it again.
 * Rows of out end L2-normalised unless raw (the cache holds the raw vectors
 * either way). */
typedef int (*embed_fn)(nl_model *m, void *ctx, const size_t *idx, size_t k, float *out, int *status, char **errors,
                        int *codes);

typedef struct { char *const *keys; const size_t *miss; } miss_keys;

static int cmp_miss_key(const void *a, const void *b, void *ctx) {
    const miss_keys *mk = ctx;
    size_t s = *(const size_t *)a, t = *(const size_t *)b;
    int c = strcmp(mk->keys[mk->miss[s]], mk->keys[mk->miss[t]]);
    return c ? c : (s > t) - (s < t);
}

/* lead[s]: the first of miss[0..nm) whose key equals miss[s]'s (s itself
 * when none comes before it; keyless items lead themselves). A list naming
 * one image many times (or a text twice) computes it once: before, each
 * copy in a chunk was embedded and appended to the cache (a list of 4,000
 * lines naming 2 images embedded 512 and wrote 512 records), and copies in
 * later chunks were reported as "stored meanwhile by another process". */
static int dup_leaders(char *const *keys, const size_t *miss, size_t nm, size_t *lead) {
    size_t *ord = nli_mallocarray(nm + 1, sizeof *ord), k = 0;
    if (!ord) return -1;
    for (size_t s = 0; s < nm; s++) {
        lead[s] = s;
        if (keys[miss[s]]) ord[k++] = s;
    }
    miss_keys mk = {keys, miss};
    qsort_r(ord, k, sizeof *ord, cmp_miss_key, &mk);
    for (size_t q = 1; q < k; q++) /* ties in miss order: the first of a run leads it */
        if (!strcmp(keys[miss[ord[q]]], keys[miss[ord[q - 1]]])) lead[ord[q]] = lead[ord[q - 1]];
    free(ord);
    return 0;
}

static int embed_cached(nl_model *m, const nl_embed_opts *o, nli_cache *c, const char *what, char *const *keys,
                        size_t n, embed_fn fn, void *ctx, int raw, float *out, int *status, char **errors,
                        int *codes) {
    size_t dim = (size_t)nl_model_dim(m);
    size_t *miss = nli_mallocarray(n ? n : 1, sizeof *miss), *lead = NULL;
    size_t *batch = nli_mallocarray(EMBED_CHUNK, sizeof *batch);
    int *st = nli_mallocarray(EMBED_CHUNK, sizeof *st), *cd = nli_calloc(EMBED_CHUNK, sizeof *cd);
    char **errs = nli_calloc(EMBED_CHUNK, sizeof *errs);
    float *tmp = nli_mallocarray((size_t)EMBED_CHUNK * dim, sizeof(float));
    int rc = -1, quiet = o && o->quiet, started = 0;
    nli_progress pr;
    if (!miss || !batch || !st || !cd || !errs || !tmp) goto done;
    if (c && nli_cache_lock(c) != 0) goto done;
    size_t nm = 0, later = 0;
    for (size_t i = 0; i < n; i++) {
        if (status) status[i] = 0;
        if (!c || !keys[i] || nli_cache_get(c, keys[i], out + i * dim) != 1) miss[nm++] = i;
    }
    if (c && (!(lead = nli_mallocarray(nm + 1, sizeof *lead)) || dup_leaders(keys, miss, nm, lead) != 0)) goto done;
    size_t distinct = 0;
    for (size_t s = 0; lead && s < nm; s++) distinct += lead[s] == s;
    if (c && !quiet) {
        if (distinct < nm) nli_log(NL_LOG_INFO, "%s: %zu cached, %zu to embed (%zu distinct)", what, n - nm, nm, distinct);
        else nli_log(NL_LOG_INFO, "%s: %zu cached, %zu to embed", what, n - nm, nm);
    }
    char label[64];
    snprintf(label, sizeof label, "embedding %s", what);
    nli_progress_start(&pr, label, nm);
    started = 1;
    if (quiet) pr.quiet = 1;
    for (size_t s = 0; s < nm;) {
        if (c && nli_cache_lock(c) != 0) goto done; /* held from the first pass: a no-op */
        size_t k = 0;
        while (s < nm && k < EMBED_CHUNK) {
            if (lead && lead[s] != s) { s++; continue; } /* a copy: its first's result, below */
            size_t i = miss[s++];
            if (c && keys[i] && nli_cache_get(c, keys[i], out + i * dim) == 1) later++; /* stored meanwhile */
            else batch[k++] = i;
        }
        memset(errs, 0, k * sizeof *errs);
        if (k) { /* the plain call inside reports nothing: this job's progress covers it */
            int muted = nli_progress_mute(1), frc = fn(m, ctx, batch, k, tmp, st, errs, cd);
            nli_progress_mute(muted);
            if (frc != 0) goto done;
        }
        for (size_t j = 0; !status && j < k; j++) /* no status array: a failure fails the call, keeping its kind */
            if (st[j] != 0) {
                nli_seterr_code(errs[j] && cd[j] ? cd[j] : NL_ERR_NOMEM, "%s", errs[j] ? errs[j] : "out of memory");
                for (size_t q = 0; q < k; q++) free(errs[q]);
                goto done;
            }
        for (size_t j = 0; j < k; j++) {
            size_t i = batch[j];
            memcpy(out + i * dim, tmp + j * dim, dim * sizeof(float));
            if (status) status[i] = st[j];
            if (codes && st[j] != 0) codes[i] = cd[j];
            if (errors) errors[i] = errs[j];
            else free(errs[j]);
            errs[j] = NULL;
            if (c && st[j] == 0 && keys[i] && nli_cache_put(c, keys[i], tmp + j * dim) != 0)
                nli_log(NL_LOG_WARN, "not cached: %s", nli_geterr());
        }
        if (c && nli_cache_flush(c) != 0) goto done;
        nli_progress_update(&pr, s);
        if (s < nm && nli_cancelled()) goto done; /* what was embedded is cached */
    }
    if (c && nli_cache_flush(c) != 0) goto done; /* nothing to embed: just unlock */
    for (size_t s = 0; lead && s < nm; s++) { /* the copies: their first's vector, status and message */
        size_t i = miss[s], f = miss[lead[s]];
        if (lead[s] == s) continue;
        memcpy(out + i * dim, out + f * dim, dim * sizeof(float));
        if (status) status[i] = status[f];
        if (codes && status && status[f] != 0) codes[i] = codes[f];
        if (errors && errors[f] && !(errors[i] = nli_strdup(errors[f]))) goto done;
    }
    nli_progress_end(&pr);
    if (later && !quiet)
        nli_log(NL_LOG_INFO, "%s: %zu of them were stored meanwhile by another process and reused", what, later);
    if (!raw) nl_normalize_rows(out, n, dim);
    rc = 0;
done:
    if (rc != 0 && started) nli_progress_finish(&pr, rc); /* stopped (an error, nl_set_cancel): final all the same */
    free(miss);
    free(lead);
    free(batch);
    free(st);
    free(cd);
    free(errs);
    free(tmp);
    return rc;
}

static int embed_prompt_chunk(nl_model *m, void *ctx, const size_t *idx, size_t k, float *out, int *status,
                              char **errors, int *codes) {
    const char *const *prompts = ctx;
    const char *batch[EMBED_CHUNK];
    for (size_t j = 0; j < k; j++) { batch[j] = prompts[idx[j]]; status[j] = 0; }
    (void)errors; /* a text that cannot be embedded fails the whole call */
    (void)codes;
    return nl_embed_texts(m, batch, k, out);
}

/* Prompt embeddings through the text cache c (NULL: none; the prompt is its
 * own key); raw: as the model gives them, else normalised. */
static int embed_prompts_in(nl_model *m, const nl_embed_opts *o, nli_cache *c, const char *const *prompts, size_t n,
                            int raw, float *out) {
    return embed_cached(m, o, c, "prompts", (char *const *)prompts, n, embed_prompt_chunk, (void *)prompts, raw, out,
                        NULL, NULL, NULL);
}

/* The text cache is opened once per call that embeds in steps (a template
 * at a time, 1,024 words at a time): opening reads and checks the whole
 * file, and CSP's ensemble of a WordNet corpus fills one of ~1.4 GB in ~80
 * steps (reopened at each, ~100 GB read for a run that had it all cached). */
static int embed_prompts(nl_model *m, const nl_embed_opts *o, const char *const *prompts, size_t n, int raw,
                         float *out) {
    int cerr;
    nli_cache *c = open_text_cache(o, m, &cerr);
    if (cerr) return -1;
    int rc = embed_prompts_in(m, o, c, prompts, n, raw, out);
    nli_cache_close(c);
    return rc;
}

int nl_embed_prompts(nl_model *m, const nl_embed_opts *o, const char *const *prompts, size_t n, float *out) {
    if (!m || (n && (!prompts || !out))) return nli_null_arg(__func__);
    return embed_prompts(m, o, prompts, n, 0, out);
}

typedef struct { const char *const *paths; nl_resample resample; } image_ctx;

static int embed_image_chunk(nl_model *m, void *ctx, const size_t *idx, size_t k, float *out, int *status,
                             char **errors, int *codes) {
    const image_ctx *ic = ctx;
    const char *batch[EMBED_CHUNK];
    for (size_t j = 0; j < k; j++) batch[j] = ic->paths[idx[j]];
    return nli_embed_images_ex(m, batch, k, ic->resample, out, status, errors, codes);
}

/* nl_embed_image_files, plus codes (optional, n entries): the nl_status of
 * each failed image (see embed_cached), and shared (optional): the image
 * cache kept open for the caller's next call (opened here when *shared is
 * NULL; the caller closes it), since an open reads and checks the whole
 * file and eval embeds one set after another. */
static int embed_image_files(nl_model *m, const nl_embed_opts *o, nl_resample resample, const char *const *paths,
                             size_t n, float *out, int *status, char **errors, int *codes, nli_cache **shared) {
    /* the cache key names the filter and the crop rule (nli_embed_images_ex
     * gets resample as given: MODEL decides the crop too) */
    nl_resample filter = resample == NL_RESAMPLE_MODEL ? nl_model_resample(m) : resample;
    char extra[96], pp[32];
    nli_model_preprocess_tag(m, resample, pp, sizeof pp);
    snprintf(extra, sizeof extra, "-%s-%d%s", filter == NL_RESAMPLE_BILINEAR ? "bilinear" : "bicubic",
             nl_model_image_size(m), pp);
    /* and the pixels this build makes: another release's decoders or
     * resize would have given other vectors */
    char px[16];
    snprintf(px, sizeof px, "-px%08x", (unsigned)nli_pixels_fingerprint());
    int cerr = 0;
    nli_cache *c = shared && *shared ? *shared : open_cache(o, m, px, "image", extra, &cerr);
    if (cerr) return -1;
    if (shared) *shared = c;
    char **keys = nli_calloc(n ? n : 1, sizeof *keys);
    int rc = -1;
    if (keys) {
        /* A file that cannot be stat'ed gets no key; decoding reports it. */
        for (size_t i = 0; c && i < n; i++) keys[i] = nli_cache_file_key(paths[i]);
        image_ctx ic = {paths, resample};
        rc = embed_cached(m, o, c, "images", keys, n, embed_image_chunk, &ic, 0, out, status, errors, codes);
        for (size_t i = 0; i < n; i++) free(keys[i]);
    }
    free(keys);
    if (!shared) nli_cache_close(c);
    return rc;
}

int nl_embed_image_files(nl_model *m, const nl_embed_opts *o, nl_resample resample, const char *const *paths,
                         size_t n, float *out, int *status, char **errors) {
    if (!m || (n && (!paths || !out))) return nli_null_arg(__func__);
    return embed_image_files(m, o, resample, paths, n, out, status, errors, NULL, NULL);
}

/* The arguments nl_embed_words and nl_embed_words_raw share. */
static int words_args_check(const char *fn, const nl_model *m, const char *const *words, size_t n,
                            const char *const *templates, size_t n_templates, const float *out) {
    if (!m || (n && (!words || !out)) || (n_templates && !templates)) return nli_null_arg(fn);
    for (size_t t = 0; t < n_templates; t++)
        if (!templates[t]) return nli_null_arg(fn);
    for (size_t i = 0; i < n; i++)
        if (!words[i]) { nli_seterr("%s: word %zu is NULL", fn, i); return -1; }
    if (n_templates == 0) { nli_seterr("no prompt template given"); return -1; }
    return 0;
}

int nl_embed_words(nl_model *m, const nl_embed_opts *o, const char *const *words, size_t n,
                   const char *const *templates, size_t n_templates, float *out) {
    if (words_args_check(__func__, m, words, n, templates, n_templates, out) != 0) return -1;
    size_t dim = (size_t)nl_model_dim(m);
    int cerr = 0;
    nli_cache *c = n ? open_text_cache(o, m, &cerr) : NULL; /* nothing to embed: no cache made */
    if (cerr) return -1;
    char **prompts = nli_calloc(n ? n : 1, sizeof *prompts);
    float *tmp = n_templates > 1 ? nli_mallocarray(n * dim + 1, sizeof(float)) : NULL;
    int rc = -1;
    if (!prompts || (n_templates > 1 && !tmp)) goto done;
    if (n_templates > 1) memset(out, 0, n * dim * sizeof(float));
    for (size_t t = 0; t < n_templates; t++) {
        for (size_t i = 0; i < n; i++) {
            free(prompts[i]);
            if (!(prompts[i] = nl_apply_template(templates[t], words[i]))) goto done;
        }
        float *dst = n_templates > 1 ? tmp : out;
        if (embed_prompts_in(m, o, c, (const char *const *)prompts, n, 0, dst) != 0) goto done;
        if (n_templates > 1)
            for (size_t i = 0; i < n * dim; i++) out[i] += tmp[i];
    }
    /* Ensemble: mean of normalised embeddings, renormalised (the mean's
     * scale drops out under normalisation). */
    if (n_templates > 1) nl_normalize_rows(out, n, dim);
    rc = 0;
done:
    if (prompts)
        for (size_t i = 0; i < n; i++) free(prompts[i]);
    free(prompts);
    free(tmp);
    nli_cache_close(c);
    return rc;
}


#define RAW_CHUNK 1024 /* words per ensemble step: n_templates x 1024 x dim floats */

int nl_embed_words_raw(nl_model *m, const nl_embed_opts *o, const char *const *words, size_t n,
                       const char *const *templates, size_t n_templates, float *out) {
    if (words_args_check(__func__, m, words, n, templates, n_templates, out) != 0) return -1;
    size_t dim = (size_t)nl_model_dim(m);
    size_t chunk = n < RAW_CHUNK ? n : RAW_CHUNK;
    int cerr = 0;
    nli_cache *c = n ? open_text_cache(o, m, &cerr) : NULL; /* nothing to embed: no cache made */
    if (cerr) return -1;
    char **prompts = nli_calloc(n_templates * chunk + 1, sizeof *prompts);
    float *raw = nli_mallocarray(n_templates * chunk * dim + 1, sizeof(float));
    int rc = -1;
    if (!prompts || !raw) goto done;
    for (size_t w0 = 0; w0 < n; w0 += chunk) {
        size_t k = n - w0 < chunk ? n - w0 : chunk;
        /* template-major: prompts[t * k + i] = templates[t] applied to word w0 + i */
        for (size_t t = 0; t < n_templates; t++)
            for (size_t i = 0; i < k; i++) {
                free(prompts[t * k + i]);
                if (!(prompts[t * k + i] = nl_apply_template(templates[t], words[w0 + i]))) goto done;
            }
        if (embed_prompts_in(m, o, c, (const char *const *)prompts, n_templates * k, 1, raw) != 0 ||
            nl_ensemble_raw(raw, k, n_templates, dim, out + w0 * dim) != 0)
            goto done;
        for (size_t i = 0; i < n_templates * k; i++) { free(prompts[i]); prompts[i] = NULL; }
    }
    rc = 0;
done:
    if (prompts)
        for (size_t i = 0; i < n_templates * chunk; i++) free(prompts[i]);
    free(prompts);
    free(raw);
    nli_cache_close(c);
    return rc;
}

/* ------------------------------------------------------------ negatives */

void nl_negatives_free(nl_negatives *n) {
    if (!n) return;
    nl_strvec_free(&n->words);
    nl_strvec_free(&n->prompts);
    nl_strvec_free(&n->noun_templates);
    nl_strvec_free(&n->adj_templates);
    free(n->pos);
    free(n->model);
    memset(n, 0, sizeof *n);
}

/* Header fields are key=value separated by TABs (values may hold spaces). */
static int parse_header(const char *path, const char *line, nl_negatives *out, long long *count) {
    const char *p = line + strlen("# neglabel negatives");
    while (*p) {
        while (*p == '\t' || *p == ' ') p++;
        const char *e = strchr(p, '\t');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            size_t kl = (size_t)(eq - p);
            char *val = nli_strndup(eq + 1, len - kl - 1);
            if (!val) return -1;
            if (kl == 5 && !strncmp(p, "model", 5)) { /* empty: none, as nl_negatives_write writes a NULL model */
                free(out->model);
                out->model = NULL;
                if (*val) { out->model = val; val = NULL; }
            }
            else if (kl == 3 && !strncmp(p, "dim", 3)) {
                char *end;
                errno = 0;
                long d = strtol(val, &end, 10);
                if (errno || end == val || *end || d < 0 || d > 1 << 20) {
                    nli_seterr("%s: header: dim '%s' is not an embedding size", path, val);
                    free(val);
                    return -1;
                }
                out->dim = (int)d;
            }
            else if (kl == 5 && !strncmp(p, "count", 5)) {
                char *end;
                errno = 0;
                *count = strtoll(val, &end, 10);
                if (errno || end == val || *end || *count < 0) {
                    nli_seterr("%s: header: count '%s' is not a number of entries", path, val);
                    free(val);
                    return -1;
                }
            }
            else if (kl == 13 && !strncmp(p, "noun_template", 13)) { if (nl_strvec_push_owned(&out->noun_templates, val)) return -1; val = NULL; }
            else if (kl == 12 && !strncmp(p, "adj_template", 12)) { if (nl_strvec_push_owned(&out->adj_templates, val)) return -1; val = NULL; }
            else if (kl == 8 && !strncmp(p, "ensemble", 8)) {
                if (strcmp(val, "raw") && strcmp(val, "normalised")) {
                    nli_seterr("%s: header: ensemble '%s' (expected raw or normalised)", path, val);
                    free(val);
                    return -1;
                }
                out->raw_mean = !strcmp(val, "raw");
            }
            free(val);
        }
        p += len;
    }
    return 0;
}

int nl_negatives_read(const char *path, nl_negatives *out) {
    if (!path || !out) return nli_null_arg(__func__);
    memset(out, 0, sizeof *out);
    nl_strvec lines;
    if (nl_read_lines(path, &lines) != 0) return -1;
    size_t cap = 0;
    int tsv = 0, header = 0;
    long long count = -1; /* the header's count= (files written by nl_negatives_write) */
    for (size_t i = 0; i < lines.n; i++) {
        const char *l = lines.v[i];
        if (l[0] == '#') {
            if (!strncmp(l, "# neglabel negatives", 20)) {
                if (parse_header(path, l, out, &count) != 0) goto fail;
                header = 1;
            }
            continue;
        }
        if (nli_grow((void **)&out->pos, &cap, out->words.n + 1, 1) != 0) goto fail;
        const char *t1 = strchr(l, '\t');
        if (t1) {
            /* pos<TAB>word<TAB>prompt[<TAB>similarity] */
            const char *t2 = strchr(t1 + 1, '\t');
            const char *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
            size_t pl = (size_t)(t1 - l);
            int pos = pl == 4 && !strncmp(l, "noun", 4) ? NL_POS_NOUN : pl == 3 && !strncmp(l, "adj", 3) ? NL_POS_ADJ : -1;
            if (pos < 0 || !t2) {
                nli_seterr("%s: entry %zu: expected pos<TAB>word<TAB>prompt with pos 'noun' or 'adj'", path,
                          out->words.n + 1);
                goto fail;
            }
            out->pos[out->words.n] = (uint8_t)pos;
            if (nl_strvec_push_owned(&out->words, nli_strndup(t1 + 1, (size_t)(t2 - t1 - 1))) ||
                nl_strvec_push_owned(&out->prompts, t3 ? nli_strndup(t2 + 1, (size_t)(t3 - t2 - 1)) : nli_strdup(t2 + 1)))
                goto fail;
            tsv = 1;
        } else if (header) {
            nli_seterr("%s: entry %zu: '%s' has no TAB, but a neglabel negatives file holds pos<TAB>word<TAB>prompt "
                       "on every line (cut short or edited?)", path, out->words.n + 1, l);
            goto fail;
        } else {
            out->pos[out->words.n] = NL_POS_NOUN;
            if (nl_strvec_push(&out->words, l) || nl_strvec_push(&out->prompts, l)) goto fail;
        }
    }
    nl_strvec_free(&lines);
    if (count >= 0 && (unsigned long long)count != out->words.n) {
        nli_seterr("%s: %zu entries, but the header says count=%lld (cut short or edited?)", path, out->words.n, count);
        nl_negatives_free(out);
        return -1;
    }
    if (out->words.n == 0) {
        nli_seterr("%s: no negative labels in the file", path);
        nl_negatives_free(out);
        return -1;
    }
    if (!tsv) { /* plain prompt lists carry no templates */
        nl_strvec_free(&out->noun_templates);
        nl_strvec_free(&out->adj_templates);
    }
    return 0;
fail:
    nl_strvec_free(&lines);
    nl_negatives_free(out);
    return -1;
}

/* "'a', 'b'" (raw) of a template list, cut at cap. */
static void templates_text(char *buf, size_t cap, const char *const *v, size_t n, int raw_mean) {
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && at + 1 < cap; i++) {
        int w = snprintf(buf + at, cap - at, "%s'%s'", i ? ", " : "", v[i] ? v[i] : "(NULL)");
        at = w < 0 ? cap : at + (size_t)w;
    }
    if (at + 1 < cap) snprintf(buf + at, cap - at, " (%s ensemble)", raw_mean ? "raw" : "normalised");
}

int nl_templates_for_negatives(nl_templates *t, int given, const nl_negatives *neg, const char *path) {
    if (!t || !neg || (neg->noun_templates.n && !neg->noun_templates.v) || (given && t->n_noun && !t->noun))
        return nli_null_arg(__func__);
    if (!path) path = "negatives";
    if (!neg->noun_templates.n) return 0;
    const char *const *fv = (const char *const *)neg->noun_templates.v;
    size_t fn = neg->noun_templates.n;
    if (!given) {
        t->noun = fv;
        t->n_noun = fn;
        t->raw_mean = neg->raw_mean;
        return 0;
    }
    int same = t->n_noun == fn && !t->raw_mean == !neg->raw_mean;
    for (size_t i = 0; same && i < fn; i++) same = t->noun[i] && fv[i] && !strcmp(t->noun[i], fv[i]);
    if (same) return 0;
    char a[512], b[512];
    templates_text(a, sizeof a, fv, fn, neg->raw_mean);
    templates_text(b, sizeof b, t->noun, t->n_noun, t->raw_mean);
    nli_seterr("%s: the negatives were mined with the template %s, the ID labels would be embedded with %s; ID labels "
               "and negatives must share their template (leave it out to use the file's, or mine again)",
               path, a, b);
    return -1;
}

int nl_negatives_embed(nl_model *m, const nl_embed_opts *o, const char *path, const nl_negatives *neg, float *out) {
    if (!m || !neg || !out) return nli_null_arg(__func__);
    /* a hand-filled struct: the arrays its counts promise (the template
     * lists' and the prompts' entries are checked where they are embedded) */
    if ((neg->noun_templates.n || neg->adj_templates.n) && neg->words.n && (!neg->words.v || !neg->pos))
        return nli_null_arg(__func__);
    if (!path) path = "negatives";
    if (neg->words.n != neg->prompts.n) {
        /* out holds one row per entry: which count is meant is unknowable */
        nli_seterr_code(NL_ERR_INVALID, "%s: %zu words but %zu prompts (one of each per negative label)", path,
                        neg->words.n, neg->prompts.n);
        return -1;
    }
    size_t dim = (size_t)nl_model_dim(m);
    if (neg->model) {
        /* files written before 2026-12 carry the sampled fingerprint
         * ("clip-"), and until 2026-12-01 the weights were every
         * *.safetensors in the folder, loaded or not */
        char old[64];
        const char *fp = nl_model_fingerprint(m);
        int same = !strcmp(neg->model, fp), v1 = !strncmp(neg->model, "clip-", 5);
        if (!same && (v1 || !strncmp(neg->model, "clip2-", 6))) {
            nli_model_fingerprint_legacy(m, v1 ? "clip" : "clip2", old, sizeof old);
            same = !strcmp(neg->model, old);
            if (v1) fp = old; /* named as the file names it */
        }
        if (!same) {
            nli_seterr("%s: negatives were mined with model %s, but the model given is %s; re-run 'neglabel mine' "
                      "with this model",
                      path, neg->model, fp);
            return -1;
        }
    }
    if (neg->dim && (size_t)neg->dim != dim) {
        nli_seterr("%s: negatives were mined in dimension %d, the model has %zu", path, neg->dim, dim);
        return -1;
    }
    if (!neg->noun_templates.n && !neg->adj_templates.n)
        return nl_embed_prompts(m, o, (const char *const *)neg->prompts.v, neg->prompts.n, out);
    /* Mined files: embed each part of speech with its template ensemble. */
    size_t n = neg->words.n;
    int rc = -1;
    for (int pos = 0; pos < 2; pos++) {
        const nl_strvec *tv = pos == NL_POS_NOUN ? &neg->noun_templates : &neg->adj_templates;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += neg->pos[i] == pos;
        if (!k) continue;
        if (!tv->n) { nli_seterr("%s: header names no template for %s", path, pos ? "adjectives" : "nouns"); return -1; }
        const char **w = nli_mallocarray(k, sizeof *w);
        size_t *at = nli_mallocarray(k, sizeof *at);
        float *e = nli_mallocarray(k * dim, sizeof(float));
        if (w && at && e) {
            for (size_t i = 0, j = 0; i < n; i++)
                if (neg->pos[i] == pos) { w[j] = neg->words.v[i]; at[j++] = i; }
            if ((neg->raw_mean ? nl_embed_words_raw : nl_embed_words)(m, o, w, k, (const char *const *)tv->v, tv->n,
                                                                    e) == 0) {
                for (size_t j = 0; j < k; j++) memcpy(out + at[j] * dim, e + j * dim, dim * sizeof(float));
                rc = 0;
            } else rc = -1;
        } else rc = -1;
        free(w);
        free(at);
        free(e);
        if (rc != 0) return -1;
    }
    return 0;
}


int nl_embed_image_files_readable(nl_model *m, const nl_embed_opts *o, nl_resample resample, const char *const *paths,
                                  size_t n, int strict, float *out, size_t *good, size_t *n_good, nl_strvec *skipped) {
    return nli_embed_image_files_readable_in(m, o, resample, paths, n, strict, out, good, n_good, skipped, NULL);
}

int nli_embed_image_files_readable_in(nl_model *m, const nl_embed_opts *o, nl_resample resample,
                                      const char *const *paths, size_t n, int strict, float *out, size_t *good,
                                      size_t *n_good, nl_strvec *skipped, nli_cache **cache) {
    if (!m || !n_good || (n && (!paths || !out || !good))) return nli_null_arg("nl_embed_image_files_readable");
    size_t dim = (size_t)nl_model_dim(m), k = 0;
    int *st = nli_mallocarray(n + 1, sizeof(int)), *codes = nli_calloc(n + 1, sizeof(int));
    char **errs = nli_calloc(n + 1, sizeof(char *));
    int rc = -1;
    *n_good = 0;
    if (!st || !codes || !errs) goto done;
    if (embed_image_files(m, o, resample, paths, n, out, st, errs, codes, cache) != 0) goto done;
    for (size_t i = 0; i < n; i++) {
        const char *why = errs[i] ? errs[i] : paths[i];
        if (st[i] != 0) {
            if (strict) {
                nli_seterr_code(codes[i] ? codes[i] : NL_ERR_INVALID, "%s (--strict: unreadable images are fatal)",
                                why);
                goto done;
            }
            nli_log(NL_LOG_WARN, "skipping unreadable image: %s", why);
            if (skipped && nl_strvec_push(skipped, paths[i])) goto done;
            continue;
        }
        if (k != i) memmove(out + k * dim, out + i * dim, dim * sizeof(float));
        good[k++] = i;
    }
    if (k == 0) { nli_seterr("none of the %zu images could be read", n); goto done; }
    *n_good = k;
    rc = 0;
done:
    if (errs)
        for (size_t i = 0; i < n; i++) free(errs[i]);
    free(errs);
    free(st);
    free(codes);
    return rc;
}
