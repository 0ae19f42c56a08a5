/* clip_effnet.c — ALIGN's vision tower, transformers' AlignVisionModel (an
 * EfficientNet without its top convolution):
 *
 *   x = swish(BN(conv3x3 stride 2 (ZeroPad2d(0, 1, 0, 1)(pixels))))
 *   per block (clip_effnet.h, nli_mbconv):
 *       h = swish(BN(conv1x1(x)))                  when expand_ratio != 1
 *       h = swish(BN(depthwise kxk (h)))            stride 2: ZeroPad2d(correct_pad), else "same"
 *       h = h * sigmoid(W2 swish(W1 mean(h) + b1) + b2)
 *       x = BN(conv1x1(h)) (+ x for a stage's later blocks)
 *   image = mean (or max) of x over its pixels      AvgPool2d(hidden_dim, ceil_mode): one window
 *
 * Activations are channels-last ([image][y][x][channel]): a 1x1
 * convolution is one GEMM over the chunk's pixels (nli_gemm, whose rows do
 * not depend on the thread count or on the other images), the depthwise
 * one a loop over channels. */
#include "clip_effnet.h"
#include "clip_impl.h"
#include "gemm.h"
#include "util.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static inline float swish(float v) { return v / (1.0f + expf(-v)); }

static void swish_all(float *x, size_t n, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t i = 0; i < n; i++) x[i] = swish(x[i]);
}

/* The stem: B CHW images of S x S -> B x s x s x cout (s: nli_effnet_side;
 * a row and a column of zeros added below and right), by im2col ([ky][kx][cin]
 * columns, the folded weights' order) and one GEMM. */
static void stem(const nli_conv *cv, const float *pix, int B, int S, int s, float *col, float *out, int nt) {
    const int K = 27;
    const size_t rows = (size_t)B * s * s, SS = (size_t)S * S;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t r = 0; r < rows; r++) {
        const size_t b = r / ((size_t)s * s);
        const int oy = (int)(r / s % s), ox = (int)(r % s);
        float *dst = col + r * K;
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++)
                for (int ch = 0; ch < 3; ch++) {
                    const int iy = 2 * oy + ky, ix = 2 * ox + kx;
                    *dst++ = iy < S && ix < S ? pix[(b * 3 + ch) * SS + (size_t)iy * S + ix] : 0.0f;
                }
    }
    nli_gemm(col, cv->w, cv->b, out, rows, (size_t)cv->cout, K);
    swish_all(out, rows * cv->cout, nt);
}

/* Depthwise k x k of in (B x H x W x C) into out (B x oh x ow x C), with
 * the block's stride and top/left padding (the bottom/right one implied by
 * oh, ow), + the folded bias, then swish. */
static void depthwise(const nli_mbconv *m, const float *in, int B, int H, int W, int oh, int ow, float *out, int nt) {
    const int C = m->mid, k = m->k, s = m->stride, pad = m->pad_t;
    const float *w = m->dw.w, *bias = m->dw.b;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t r = 0; r < (size_t)B * oh; r++) {
        const size_t b = r / oh;
        const int oy = (int)(r % oh);
        for (int ox = 0; ox < ow; ox++) {
            float *dst = out + ((r * ow) + ox) * C;
            for (int c = 0; c < C; c++) dst[c] = bias[c];
            for (int ky = 0; ky < k; ky++) {
                const int iy = oy * s + ky - pad;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < k; kx++) {
                    const int ix = ox * s + kx - pad;
                    if (ix < 0 || ix >= W) continue;
                    const float *src = in + (((b * H) + iy) * (size_t)W + ix) * C, *wk = w + ((size_t)ky * k + kx) * C;
                    for (int c = 0; c < C; c++) dst[c] += src[c] * wk[c];
                }
            }
            for (int c = 0; c < C; c++) dst[c] = swish(dst[c]);
        }
    }
}

/* Squeeze-excite in place on h (B x HW x C); pool: B x C, red: B x se. */
static void squeeze_excite(const nli_mbconv *m, float *h, int B, size_t HW, float *pool, float *red, int nt) {
    const int C = m->mid;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int b = 0; b < B; b++) {
        const float *src = h + (size_t)b * HW * C;
        float *dst = pool + (size_t)b * C;
        for (int c = 0; c < C; c++) {
            double a = 0;
            for (size_t i = 0; i < HW; i++) a += src[i * C + c];
            dst[c] = (float)(a / (double)HW);
        }
    }
    nli_gemm(pool, m->r_w, m->r_b, red, (size_t)B, (size_t)m->se, (size_t)C);
    for (size_t i = 0; i < (size_t)B * m->se; i++) red[i] = swish(red[i]);
    nli_gemm(red, m->e_w, m->e_b, pool, (size_t)B, (size_t)C, (size_t)m->se);
    for (size_t i = 0; i < (size_t)B * C; i++) pool[i] = 1.0f / (1.0f + expf(-pool[i]));
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t r = 0; r < (size_t)B * HW; r++) {
        float *row = h + r * C;
        const float *g = pool + (r / HW) * C;
        for (int c = 0; c < C; c++) row[c] *= g[c];
    }
}

/* Images per chunk: each of the four activation buffers within 16 Mi
 * floats (at least one image, at most 32). */
static size_t chunk_images(const nli_effnet *en, size_t n) {
    size_t B = ((size_t)16 << 20) / (en->max_act ? en->max_act : 1);
    if (B < 1) B = 1;
    if (B > 32) B = 32;
    return B < n ? B : n;
}

int nli_effnet_encode_images(nli_clip *c, const float *pixels, size_t n, float *out) {
    const nli_effnet *en = c->en;
    const int S = c->cfg.vision.image_size, P = c->cfg.projection_dim, nt = c->n_threads;
    nli_clip_use_threads(c);
    const size_t Bmax = chunk_images(en, n), s0 = (size_t)en->stem_side;
    float *x = nli_mallocarray(Bmax, en->max_act * sizeof(float));
    float *y = nli_mallocarray(Bmax, en->max_act * sizeof(float));
    float *t1 = nli_mallocarray(Bmax, en->max_act * sizeof(float));
    float *t2 = nli_mallocarray(Bmax, en->max_act * sizeof(float));
    float *col = nli_mallocarray(Bmax * s0 * s0, 27 * sizeof(float));
    int widest = en->stem.cout;
    for (int k = 0; k < en->nblk; k++) widest = en->blk[k].mid > widest ? en->blk[k].mid : widest;
    float *pool = nli_mallocarray(Bmax, (size_t)widest * sizeof(float));
    float *red = nli_mallocarray(Bmax, (size_t)widest * sizeof(float));
    int rc = -1;
    if (!x || !y || !t1 || !t2 || !col || !pool || !red) goto done;
    for (size_t i0 = 0; i0 < n; i0 += Bmax) {
        const int B = (int)(n - i0 < Bmax ? n - i0 : Bmax);
        stem(&en->stem, pixels + i0 * 3 * (size_t)S * S, B, S, (int)s0, col, x, nt);
        int H = (int)s0, W = (int)s0;
        for (int k = 0; k < en->nblk; k++) {
            const nli_mbconv *m = &en->blk[k];
            const float *h = x;
            if (m->expand) {
                nli_gemm(x, m->ex.w, m->ex.b, t1, (size_t)B * H * W, (size_t)m->mid, (size_t)m->cin);
                swish_all(t1, (size_t)B * H * W * m->mid, nt);
                h = t1;
            }
            const int oh = m->side, ow = m->side;
            depthwise(m, h, B, H, W, oh, ow, t2, nt);
            squeeze_excite(m, t2, B, (size_t)oh * ow, pool, red, nt);
            const size_t rows = (size_t)B * oh * ow;
            nli_gemm(t2, m->proj.w, m->proj.b, y, rows, (size_t)m->cout, (size_t)m->mid);
            if (m->residual) {
                const size_t nv = rows * m->cout;
#pragma omp parallel for schedule(static) num_threads(nt)
                for (size_t i = 0; i < nv; i++) y[i] += x[i];
            }
            float *t = x;
            x = y;
            y = t;
            H = oh;
            W = ow;
        }
        /* one pooling window over the whole map (config_align.c checked
         * it fits): the mean (AvgPool2d counts H x W) or the max */
        const size_t HW = (size_t)H * W;
        const int pmax = c->cfg.en.pool_max;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < B; b++)
            for (int ch = 0; ch < P; ch++) {
                const float *src = x + (size_t)b * HW * P + ch;
                double a = pmax ? -INFINITY : 0;
                for (size_t i = 0; i < HW; i++) a = pmax ? (src[i * P] > a ? src[i * P] : a) : a + src[i * P];
                out[(i0 + b) * P + ch] = (float)(pmax ? a : a / (double)HW);
            }
    }
    rc = 0;
done:
    if (rc) nli_prefixerr("EfficientNet forward");
    free(x);
    free(y);
    free(t1);
    free(t2);
    free(col);
    free(pool);
    free(red);
    return rc;
}
