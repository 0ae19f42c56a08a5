/* model_images.c — the image entry points of nl_model: files, decoded
 * buffers, encoded bytes and preprocessed pixels, decoded and resized on
 * all cores, then the model (on the GPU overlapped with decoding). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "image.h"
#include "neglabel.h"
#include "model.h"
#include "model_impl.h"
#include "util.h"
#include "cuda/clip_cuda.h"

int nl_embed_images(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out,
                    int *status) {
    return nli_embed_images_ex(m, paths, n, resample, out, status, NULL, NULL);
}

/* Where images come from: files (paths), encoded bytes (enc) or decoded
 * buffers (rgb); crop_floor: transformers' crop offsets
 * (nli_model_crop_floor). */
typedef struct {
    const char *const *paths;
    const nl_rgb_image *rgb;
    const nl_image_buffer *enc;
    int crop_floor;
} img_src;

static int prep(const nli_clip_config *c, const img_src *src, size_t i, int S, nl_resample resample, uint8_t *out) {
    /* the model's resize mode: OpenCLIP's preprocess_cfg, else shortest */
    if ((src->paths && !src->paths[i]) || (src->enc && !src->enc[i].data && src->enc[i].len)) {
        nli_seterr_code(NL_ERR_INVALID, "image %zu: %s is NULL", i, src->paths ? "the path" : "the data");
        return -1;
    }
    int mode = (int)c->resize_mode | (src->crop_floor ? NLI_RESIZE_CROP_FLOOR : 0) |
               (c->resize_mode == NLI_RESIZE_SQUASH ? NLI_RESIZE_SQUASH_TO(c->resize_to) : 0);
    if (src->paths) return nli_preprocess_file_mode(src->paths[i], S, resample, mode, c->fill_color, out);
    if (src->enc)
        return nli_preprocess_mem_mode(src->enc[i].data, src->enc[i].len, src->enc[i].name, S, resample, mode,
                                       c->fill_color, out);
    if (nli_preprocess_rgb_mode(&src->rgb[i], S, resample, mode, c->fill_color, out) != 0) {
        nli_prefixerr("image %zu", i);
        return -1;
    }
    return 0;
}

/* Image row (of a batch decoded in parallel) that failed to load: its
 * status, a zero embedding, its message and nl_status passed on (errors,
 * codes) or made the call's error (no status array: the first failure
 * fails the call). */
static void note_failure(size_t row, char **err, int code, float *out, size_t dim, int *status, char **errors,
                         int *codes, int *rc) {
    memset(out + row * dim, 0, dim * sizeof(float));
    if (codes) codes[row] = *err ? code : NL_ERR_NOMEM;
    if (!status && *rc == 0) {
        nli_seterr_code(*err ? code : NL_ERR_NOMEM, "%s", *err ? *err : "out of memory");
        *rc = -1;
    }
    if (errors) { errors[row] = *err; *err = NULL; }
    free(*err);
    *err = NULL;
}

/* Decode (or take), resize and crop rows s..s+k-1 of src into rgb (px
 * bytes each) on all cores. ok[i]: whether row s+i loaded; if not, errs[i]
 * (malloc'd) and code[i] (its nl_status) say why. Each thread has its own
 * error message buffer. */
static void decode_batch(nl_model *m, const img_src *src, size_t s, size_t k, nl_resample resample, uint8_t *rgb,
                         int *ok, char **errs, int *code) {
    const nli_clip_config *c = m->cfg;
    int S = c->vision.image_size;
    size_t px = (size_t)S * S * 3;
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads)
    for (size_t i = 0; i < k; i++) {
        ok[i] = prep(c, src, s + i, S, resample, rgb + i * px) == 0;
        if (!ok[i]) {
            errs[i] = nli_strdup(nli_geterr());
            code[i] = (int)nl_last_status();
        }
    }
}

/* After decode_batch: each row's status, the failures noted (note_failure,
 * which frees every errs[i]), and the good images packed to the front of
 * rgb so the model sees one dense batch; idx[j] is the input row of packed
 * image j. Returns how many are good. */
static size_t pack_batch(size_t s, size_t k, const int *ok, char **errs, const int *code, uint8_t *rgb, size_t px,
                         size_t *idx, float *out, size_t dim, int *status, char **errors, int *codes, int *rc) {
    size_t good = 0;
    for (size_t i = 0; i < k; i++) {
        if (status) status[s + i] = ok[i] ? 0 : -1;
        if (!ok[i]) {
            note_failure(s + i, &errs[i], code[i], out, dim, status, errors, codes, rc);
            continue;
        }
        if (good != i) memmove(rgb + good * px, rgb + i * px, px);
        idx[good++] = s + i;
    }
    return good;
}

/* One decoded batch's bookkeeping: which input rows its images are. */
typedef struct { size_t *idx, n; } gpu_slot;

/* Scatter n embeddings (tmp) to their input rows idx of out. */
static void scatter_rows(const float *tmp, const size_t *idx, size_t n, float *out, size_t dim) {
    for (size_t j = 0; j < n; j++) memcpy(out + idx[j] * dim, tmp + j * dim, dim * sizeof(float));
}

/* Scatter a collected slot's embeddings to their rows of out. */
static int gpu_collect(nli_cuda_clip *g, int slot, gpu_slot *sl, float *tmp, float *out, size_t dim) {
    if (nli_cuda_images_collect(g, slot, tmp) != 0) return -1;
    scatter_rows(tmp, sl->idx, sl->n, out, dim);
    sl->n = 0;
    return 0;
}

/* GPU path: decode batch k on all cores straight into pinned memory while
 * the GPU runs batch k-1 (two slots), so decoding hides the model. */
static int embed_images_gpu(nl_model *m, const img_src *src, size_t n, nl_resample resample, float *out,
                            int *status, char **errors, int *codes) {
    const nli_clip_config *c = m->cfg;
    nli_cuda_clip *g = nli_clip_gpu(m->clip);
    int S = c->vision.image_size;
    size_t dim = (size_t)c->projection_dim, px = (size_t)S * S * 3, B = (size_t)m->batch;
    int *ok = nli_mallocarray(B, sizeof(int)), *code = nli_calloc(B, sizeof(int)); /* code: nl_status of a failure */
    char **errs = nli_calloc(B, sizeof(char *));
    float *tmp = nli_mallocarray(B * dim, sizeof(float));
    gpu_slot sl[2] = {{nli_mallocarray(B, sizeof(size_t)), 0}, {nli_mallocarray(B, sizeof(size_t)), 0}};
    int rc = ok && code && errs && tmp && sl[0].idx && sl[1].idx ? 0 : -1, slot = 0;
    nli_progress pr;
    nli_progress_start(&pr, "embedding images", n);
    for (size_t s = 0; s < n && rc == 0; s += B) {
        size_t k = n - s < B ? n - s : B;
        uint8_t *stage = nli_cuda_images_staging(g, slot);
        decode_batch(m, src, s, k, resample, stage, ok, errs, code);
        size_t good =
            pack_batch(s, k, ok, errs, code, stage, px, sl[slot].idx, out, dim, status, errors, codes, &rc);
        if (rc != 0) break;
        sl[slot].n = good;
        if (nli_cuda_images_submit(g, slot, stage, good) != 0) { sl[slot].n = 0; rc = -1; break; }
        if (sl[slot ^ 1].n && gpu_collect(g, slot ^ 1, &sl[slot ^ 1], tmp, out, dim) != 0) rc = -1;
        slot ^= 1;
        if (rc == 0) nli_progress_update(&pr, s + k);
        if (rc == 0 && s + k < n && nli_cancelled()) rc = -1; /* nl_set_cancel, after each batch but the last */
    }
    /* drain: the other slot may still be in flight (also after an error) */
    for (int k = 0; k < 2; k++)
        if (sl[k].n && gpu_collect(g, k, &sl[k], tmp, out, dim) != 0 && rc == 0) rc = -1;
    nli_progress_finish(&pr, rc);
    free(ok);
    free(code);
    free(errs);
    free(tmp);
    free(sl[0].idx);
    free(sl[1].idx);
    return rc;
}

static int embed_images_src(nl_model *m, const img_src *src, size_t n, nl_resample resample, float *out, int *status,
                            char **errors, int *codes);

int nli_embed_images_ex(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out,
                       int *status, char **errors, int *codes) {
    if (!m || (n && (!paths || !out))) return nli_null_arg("nl_embed_images");
    img_src src = {paths, NULL, NULL, nli_model_crop_floor(m, resample)};
    if (resample == NL_RESAMPLE_MODEL) resample = nl_model_resample(m);
    return embed_images_src(m, &src, n, resample, out, status, errors, codes);
}

int nl_embed_rgb(nl_model *m, const nl_rgb_image *images, size_t n, nl_resample resample, float *out, int *status) {
    if (!m || (n && (!images || !out))) return nli_null_arg(__func__);
    img_src src = {NULL, images, NULL, nli_model_crop_floor(m, resample)};
    if (resample == NL_RESAMPLE_MODEL) resample = nl_model_resample(m);
    return embed_images_src(m, &src, n, resample, out, status, NULL, NULL);
}

/* Pixels a caller preprocessed: every value finite (else an error naming the
 * image, channel, row and column), and a warning when a value is far outside
 * what [0, 1] pixels normalised with the model's mean and std can give
 * (p = x * std + mean outside [-0.5, 1.5]: 0..255 values, or no
 * normalisation), the usual mistake; a resize on float tensors overshoots
 * by far less. */
static int check_pixels(const nl_model *m, const float *pixels, size_t n) {
    const nli_clip_config *c = m->cfg;
    const size_t S = (size_t)c->vision.image_size, plane = S * S, np = 3 * n;
    /* each plane scanned on all cores (a batch of 256 ViT-B/16 images is
     * 154 MB: 23 ms on one core here), then reported in order */
    uint8_t *flag = nli_malloc(np ? np : 1); /* 1: not finite, 2: far out of range */
    if (!flag) return -1;
    float lo[3], hi[3]; /* what [-0.5, 1.5] normalises to, per channel */
    for (int ch = 0; ch < 3; ch++) {
        lo[ch] = (-0.5f - c->image_mean[ch]) / c->image_std[ch];
        hi[ch] = (1.5f - c->image_mean[ch]) / c->image_std[ch];
    }
#pragma omp parallel for schedule(static) num_threads(m->n_threads)
    for (size_t q = 0; q < np; q++) {
        const float *x = pixels + q * plane, l = lo[q % 3], h = hi[q % 3];
        uint32_t bad = 0;
        int out = 0;
        for (size_t k = 0; k < plane; k++) { /* branch-free: vectorised */
            uint32_t u;
            memcpy(&u, &x[k], 4);
            bad |= (u & 0x7f800000u) == 0x7f800000u;
            out |= (x[k] < l) | (x[k] > h);
        }
        flag[q] = (uint8_t)((bad ? 1 : 0) | (out ? 2 : 0));
    }
    int warned = 0, rc = 0;
    for (size_t q = 0; q < np && rc == 0; q++) {
        const size_t i = q / 3;
        const int ch = (int)(q % 3);
        const float *x = pixels + q * plane;
        if (flag[q] & 1) {
            size_t k = 0; /* bounded: the caller may change the pixels meanwhile (another thread) */
            while (k < plane && isfinite(x[k])) k++;
            if (k == plane) {
                nli_seterr("pixels: image %zu, channel %d changed while it was checked", i, ch);
            } else {
                nli_seterr("pixels: image %zu holds a non-finite value (%s) at channel %d, row %zu, column %zu", i,
                           isnan(x[k]) ? "NaN" : "inf", ch, k / S, k % S);
            }
            rc = -1;
        } else if ((flag[q] & 2) && !warned) {
            size_t k = 0;
            while (k < plane && !(x[k] < lo[ch] || x[k] > hi[ch])) k++;
            if (k < plane) /* (it may have changed meanwhile) */
                nli_log(NL_LOG_WARN,
                        "pixels: image %zu holds %g at channel %d, row %zu, column %zu, far outside [%.3g, %.3g], "
                        "what pixels in [0, 1] normalised with the model's mean (%g, %g, %g) and std (%g, %g, %g) "
                        "give: were they scaled to [0, 1] and normalised as the model expects?",
                        i, (double)x[k], ch, k / S, k % S, (double)((0.0f - c->image_mean[ch]) / c->image_std[ch]),
                        (double)((1.0f - c->image_mean[ch]) / c->image_std[ch]), (double)c->image_mean[0],
                        (double)c->image_mean[1], (double)c->image_mean[2], (double)c->image_std[0],
                        (double)c->image_std[1], (double)c->image_std[2]);
            warned = 1;
        }
    }
    free(flag);
    return rc;
}

int nl_embed_pixels(nl_model *m, const float *pixels, size_t n, float *out) {
    if (!m || (n && (!pixels || !out))) return nli_null_arg(__func__);
    const nli_clip_config *c = m->cfg;
    const size_t S = (size_t)c->vision.image_size, px = 3 * S * S, dim = (size_t)c->projection_dim;
    if (n > SIZE_MAX / px / sizeof(float)) { nli_seterr("pixels: %zu images is too many", n); return -1; }
    if (check_pixels(m, pixels, n) != 0) return -1;
    const size_t B = (size_t)m->batch;
    nli_progress pr;
    nli_progress_start(&pr, "embedding pixels", n);
    int rc = 0;
    for (size_t s = 0; s < n && rc == 0; s += B) {
        size_t k = n - s < B ? n - s : B;
        if (nli_clip_encode_images(m->clip, pixels + s * px, k, out + s * dim) != 0) { rc = -1; break; }
        nli_progress_update(&pr, s + k);
        if (s + k < n && nli_cancelled()) rc = -1; /* nl_set_cancel, after each batch but the last */
    }
    nli_progress_finish(&pr, rc);
    return rc;
}

/* The buffers of one batch on the CPU: decoded pixels (rgb), which rows
 * loaded (ok, errs, code), and the good ones normalised (pix, idx[j] the
 * row of pix row j). */
typedef struct {
    uint8_t *rgb;
    float *pix;
    size_t *idx;
    int *ok, *code;
    char **errs;
} cpu_batch;

static int batch_alloc(cpu_batch *b, size_t B, size_t px) {
    b->rgb = nli_mallocarray(B, px);
    b->pix = nli_mallocarray(B * px, sizeof(float));
    b->idx = nli_mallocarray(B, sizeof(size_t));
    b->ok = nli_mallocarray(B, sizeof(int));
    b->code = nli_calloc(B, sizeof(int)); /* code: nl_status of a failure */
    b->errs = nli_calloc(B, sizeof(char *));
    return b->rgb && b->pix && b->idx && b->ok && b->code && b->errs ? 0 : -1;
}

static void batch_free(cpu_batch *b) {
    free(b->rgb);
    free(b->pix);
    free(b->idx);
    free(b->ok);
    free(b->code);
    free(b->errs);
}

/* Rows s..s+k-1 of src decoded, resized and cropped on all cores (decoding
 * and resampling dominate for small models), each failure noted as
 * note_failure says (its row of out, dim wide, zeroed), and the good rows
 * normalised into b->pix in order; how many are good. */
static size_t batch_pixels(nl_model *m, const img_src *src, size_t s, size_t k, nl_resample resample, cpu_batch *b,
                           float *out, size_t dim, int *status, char **errors, int *codes, int *rc) {
    const nli_clip_config *c = m->cfg;
    const int S = c->vision.image_size;
    const size_t px = (size_t)S * S * 3;
    decode_batch(m, src, s, k, resample, b->rgb, b->ok, b->errs, b->code);
    size_t good = pack_batch(s, k, b->ok, b->errs, b->code, b->rgb, px, b->idx, out, dim, status, errors, codes, rc);
    if (*rc != 0) return 0;
#pragma omp parallel for schedule(static) num_threads(m->n_threads)
    for (size_t j = 0; j < good; j++) nli_image_normalize(b->rgb + j * px, S, c->image_mean, c->image_std, b->pix + j * px);
    return good;
}

/* The pixels the model is given (on the GPU the same formula runs there,
 * on the uint8 pixels). */
static int pixels_src(nl_model *m, const img_src *src, size_t n, nl_resample resample, float *out, int *status) {
    const int S = m->cfg->vision.image_size;
    const size_t px = (size_t)S * S * 3, B = (size_t)m->batch;
    cpu_batch b;
    int rc = batch_alloc(&b, B, px);
    nli_progress pr;
    nli_progress_start(&pr, "preprocessing images", n);
    for (size_t s = 0; s < n && rc == 0; s += B) {
        size_t k = n - s < B ? n - s : B;
        size_t good = batch_pixels(m, src, s, k, resample, &b, out, px, status, NULL, NULL, &rc);
        if (rc != 0) break;
        scatter_rows(b.pix, b.idx, good, out, px);
        nli_progress_update(&pr, s + k);
        if (s + k < n && nli_cancelled()) rc = -1; /* nl_set_cancel, after each batch but the last */
    }
    nli_progress_finish(&pr, rc);
    batch_free(&b);
    return rc;
}

int nl_image_pixels(nl_model *m, const char *const *paths, size_t n, nl_resample resample, float *out, int *status) {
    if (!m || (n && (!paths || !out))) return nli_null_arg(__func__);
    img_src src = {paths, NULL, NULL, nli_model_crop_floor(m, resample)};
    if (resample == NL_RESAMPLE_MODEL) resample = nl_model_resample(m);
    return pixels_src(m, &src, n, resample, out, status);
}

int nl_rgb_pixels(nl_model *m, const nl_rgb_image *images, size_t n, nl_resample resample, float *out, int *status) {
    if (!m || (n && (!images || !out))) return nli_null_arg(__func__);
    img_src src = {NULL, images, NULL, nli_model_crop_floor(m, resample)};
    if (resample == NL_RESAMPLE_MODEL) resample = nl_model_resample(m);
    return pixels_src(m, &src, n, resample, out, status);
}

int nl_embed_image_buffers(nl_model *m, const nl_image_buffer *images, size_t n, nl_resample resample, float *out,
                           int *status, char **errors) {
    if (!m || (n && (!images || !out))) return nli_null_arg(__func__);
    img_src src = {NULL, NULL, images, nli_model_crop_floor(m, resample)};
    if (resample == NL_RESAMPLE_MODEL) resample = nl_model_resample(m);
    return embed_images_src(m, &src, n, resample, out, status, errors, NULL);
}

/* Decode (files) or take (buffers), resize and crop on all cores, then the
 * model: on the GPU overlapped, on the CPU batch after batch. */
static int embed_images_src(nl_model *m, const img_src *src, size_t n, nl_resample resample, float *out, int *status,
                            char **errors, int *codes) {
    if (m->device == NL_DEVICE_CUDA) return embed_images_gpu(m, src, n, resample, out, status, errors, codes);
    const nli_clip_config *c = m->cfg;
    const int S = c->vision.image_size;
    const size_t dim = (size_t)c->projection_dim, px = (size_t)S * S * 3, B = (size_t)m->batch;
    float *emb = nli_mallocarray(B, dim * sizeof(float));
    cpu_batch b;
    int rc = batch_alloc(&b, B, px) == 0 && emb ? 0 : -1;
    nli_progress pr;
    nli_progress_start(&pr, "embedding images", n);
    for (size_t s = 0; s < n && rc == 0; s += B) {
        size_t k = n - s < B ? n - s : B;
        size_t good = batch_pixels(m, src, s, k, resample, &b, out, dim, status, errors, codes, &rc);
        if (rc != 0) break;
        if (good && nli_clip_encode_images(m->clip, b.pix, good, emb) != 0) { rc = -1; break; }
        scatter_rows(emb, b.idx, good, out, dim);
        nli_progress_update(&pr, s + k);
        if (s + k < n && nli_cancelled()) rc = -1; /* nl_set_cancel, after each batch but the last */
    }
    nli_progress_finish(&pr, rc);
    free(emb);
    batch_free(&b);
    return rc;
}
