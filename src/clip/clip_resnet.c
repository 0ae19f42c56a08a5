/* clip_resnet.c — the ModifiedResNet forward pass (open_clip's
 * modified_resnet.py, OpenAI's model.py): a stem of three 3x3 convolutions
 * (the first with stride 2) + BN + ReLU and a 2x2 average pool; four stages
 * of Bottleneck blocks whose stride is an average pool after the 3x3
 * convolution (and before the shortcut's 1x1 convolution); an attention
 * pool whose only query is the mean token.
 *
 * Activations are channels-last ([image][y][x][channel] rows), so a 1x1
 * convolution is one GEMM over all pixels of the chunk and a 3x3 one is an
 * im2col (columns [ky][kx][cin], the order clip_resnet_weights.c gives the
 * folded weights) plus one GEMM: nli_gemm, threaded, whose results do not
 * depend on the thread count or on the images batched with an image. */
#include "clip_impl.h"
#include "clip_resnet.h"
#include "gemm.h"
#include "util.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *p;
    size_t cap;
} fbuf;

static int need(fbuf *b, size_t n) {
    if (n <= b->cap) return 0;
    free(b->p);
    b->p = nli_mallocarray(n, sizeof(float));
    b->cap = b->p ? n : 0;
    return b->p ? 0 : -1;
}

/* Scratch shared by the layers of one chunk of B images. */
typedef struct {
    fbuf col, t1, t2, t3, id, pool;
    int nt;
} work;

static void relu(float *x, size_t n, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* out = conv(in) + folded bias: in is B x H x W x cin; a 3x3 kernel has
 * padding 1 and the given stride (1x1 kernels have stride 1 here). */
static int conv(const nli_conv *cv, const float *in, int B, int H, int W, int stride, float *out, int *Ho, int *Wo,
                work *ws) {
    if (cv->k == 1) {
        *Ho = H;
        *Wo = W;
        nli_gemm(in, cv->w, cv->b, out, (size_t)B * H * W, (size_t)cv->cout, (size_t)cv->cin);
        return 0;
    }
    const int oh = (H - 1) / stride + 1, ow = (W - 1) / stride + 1, cin = cv->cin;
    const size_t K = (size_t)9 * cin, rows = (size_t)B * oh * ow;
    if (need(&ws->col, rows * K)) return -1;
    float *col = ws->col.p;
#pragma omp parallel for schedule(static) num_threads(ws->nt)
    for (size_t r = 0; r < rows; r++) {
        size_t b = r / ((size_t)oh * ow);
        int oy = (int)(r / ow % oh), ox = (int)(r % ow);
        float *dst = col + r * K;
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++, dst += cin) {
                int iy = oy * stride + ky - 1, ix = ox * stride + kx - 1;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) memset(dst, 0, (size_t)cin * sizeof(float));
                else memcpy(dst, in + (((size_t)b * H + iy) * W + ix) * cin, (size_t)cin * sizeof(float));
            }
    }
    nli_gemm(col, cv->w, cv->b, out, rows, (size_t)cv->cout, K);
    *Ho = oh;
    *Wo = ow;
    return 0;
}

/* nn.AvgPool2d(k): k x k windows, stride k, no padding (floor). */
static void avgpool(const float *in, int B, int H, int W, int C, int k, float *out, int nt) {
    const int oh = H / k, ow = W / k;
    const size_t rows = (size_t)B * oh * ow;
    const double inv = 1.0 / (k * k);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t r = 0; r < rows; r++) {
        size_t b = r / ((size_t)oh * ow);
        int oy = (int)(r / ow % oh), ox = (int)(r % ow);
        float *dst = out + r * C;
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int dy = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++) s += in[(((size_t)b * H + oy * k + dy) * W + ox * k + dx) * C + ch];
            dst[ch] = (float)(s * inv);
        }
    }
}

/* x (B x H x W x cin) -> out (B x H/stride x W/stride x 4 planes). */
static int bottleneck(const nli_bottleneck *bk, const float *x, int B, int *H, int *W, float *out, work *ws) {
    const int h = *H, w = *W, s = bk->stride, nt = ws->nt;
    int oh, ow;
    size_t px = (size_t)B * h * w, opx = (size_t)B * (h / s) * (w / s);
    if (need(&ws->t1, px * bk->c1.cout) || need(&ws->t2, px * bk->c2.cout) ||
        need(&ws->pool, px * (size_t)(bk->c2.cout > bk->c1.cin ? bk->c2.cout : bk->c1.cin)) ||
        need(&ws->id, opx * bk->c3.cout))
        return -1;
    if (conv(&bk->c1, x, B, h, w, 1, ws->t1.p, &oh, &ow, ws)) return -1;
    relu(ws->t1.p, px * bk->c1.cout, nt);
    if (conv(&bk->c2, ws->t1.p, B, h, w, 1, ws->t2.p, &oh, &ow, ws)) return -1;
    relu(ws->t2.p, px * bk->c2.cout, nt);
    const float *mid = ws->t2.p;
    if (s > 1) {
        avgpool(ws->t2.p, B, h, w, bk->c2.cout, s, ws->pool.p, nt);
        mid = ws->pool.p;
    }
    if (conv(&bk->c3, mid, B, h / s, w / s, 1, out, &oh, &ow, ws)) return -1;
    const float *id = x;
    if (bk->has_down) {
        const float *src = x;
        if (s > 1) {
            avgpool(x, B, h, w, bk->c1.cin, s, ws->pool.p, nt);
            src = ws->pool.p;
        }
        if (conv(&bk->down, src, B, h / s, w / s, 1, ws->id.p, &oh, &ow, ws)) return -1;
        id = ws->id.p;
    }
    const size_t n = opx * bk->c3.cout;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t i = 0; i < n; i++) {
        float v = out[i] + id[i];
        out[i] = v > 0.0f ? v : 0.0f;
    }
    *H = h / s;
    *W = w / s;
    return 0;
}

/* AttentionPool2d over x (B x g*g x E): tokens [mean; pixels] + positions,
 * one query (the mean token) per image, heads of E / heads, then c_proj. */
static int attnpool(const nli_clip *c, const float *x, int B, int HW, float *out, work *ws) {
    const nli_resnet *r = c->rn;
    const int E = c->cfg.vision.hidden_size, H = c->cfg.vision.num_attention_heads, hd = E / H, T = HW + 1;
    const int P = c->cfg.projection_dim, nt = ws->nt;
    const size_t rows = (size_t)B * T;
    if (need(&ws->t1, rows * E) || need(&ws->t2, rows * 2 * E) || need(&ws->t3, (size_t)B * E * 3) ||
        need(&ws->pool, (size_t)B * T * H))
        return -1;
    float *tok = ws->t1.p, *kv = ws->t2.p, *q0 = ws->t3.p, *q = q0 + (size_t)B * E, *o = q + (size_t)B * E;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * HW * E;
        float *tb = tok + (size_t)b * T * E;
        for (int d = 0; d < E; d++) {
            double s = 0;
            for (int i = 0; i < HW; i++) s += xb[(size_t)i * E + d];
            tb[d] = (float)(s / HW) + r->pos[d];
        }
        for (int i = 0; i < HW; i++)
            for (int d = 0; d < E; d++) tb[(size_t)(i + 1) * E + d] = xb[(size_t)i * E + d] + r->pos[(size_t)(i + 1) * E + d];
        memcpy(q0 + (size_t)b * E, tb, (size_t)E * sizeof(float));
    }
    nli_gemm(tok, r->kv_w, r->kv_b, kv, rows, 2 * (size_t)E, E);
    nli_gemm(q0, r->q_w, r->q_b, q, B, E, E);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int job = 0; job < B * H; job++) {
        int b = job / H, h = job % H;
        nli_attend_query(q + (size_t)b * E + h * hd, kv + (size_t)b * T * 2 * E, T, E, h * hd, hd,
                         ws->pool.p + (size_t)job * T, o + (size_t)b * E + h * hd);
    }
    nli_gemm(o, r->c_w, r->c_b, out, B, P, E);
    return 0;
}

/* Images per chunk: the largest im2col (the stem's second convolution and
 * stage 2's first 3x3, about 1.125 * S^2 * width floats an image) within
 * 32 Mi floats, and at most 16. */
static size_t chunk_images(const nli_clip_config *cfg, size_t n) {
    double per = 1.125 * cfg->vision.image_size * (double)cfg->vision.image_size * cfg->rn_width + 1;
    size_t B = (size_t)((32u << 20) / per);
    if (B < 1) B = 1;
    if (B > 16) B = 16;
    return B < n ? B : n;
}

int nli_resnet_encode_images(nli_clip *c, const float *pixels, size_t n, float *out) {
    const nli_resnet *r = c->rn;
    const int S = c->cfg.vision.image_size, P = c->cfg.projection_dim;
    nli_clip_use_threads(c);
    work ws = {.nt = c->n_threads};
    fbuf xa = {0}, xb = {0};
    int rc = -1;
    size_t Bmax = chunk_images(&c->cfg, n);
    for (size_t i0 = 0; i0 < n; i0 += Bmax) {
        const int B = (int)(n - i0 < Bmax ? n - i0 : Bmax);
        const size_t SS = (size_t)S * S;
        if (need(&xa, (size_t)B * SS * 3)) goto done;
        /* CHW pixels -> channels-last */
        for (int b = 0; b < B; b++) {
            const float *src = pixels + (i0 + b) * 3 * SS;
            float *dst = xa.p + (size_t)b * SS * 3;
            for (size_t i = 0; i < SS; i++)
                for (int ch = 0; ch < 3; ch++) dst[i * 3 + ch] = src[ch * SS + i];
        }
        int H = S, W = S, oh, ow;
        /* stem: conv1 (stride 2), conv2, conv3, each + BN + ReLU, avgpool 2 */
        for (int k = 0; k < 3; k++) {
            const nli_conv *cv = &r->stem[k];
            size_t outn = (size_t)B * ((H - 1) / (k == 0 ? 2 : 1) + 1) * ((W - 1) / (k == 0 ? 2 : 1) + 1) * cv->cout;
            if (need(&xb, outn)) goto done;
            if (conv(cv, xa.p, B, H, W, k == 0 ? 2 : 1, xb.p, &oh, &ow, &ws)) goto done;
            H = oh;
            W = ow;
            relu(xb.p, outn, ws.nt);
            fbuf t = xa; xa = xb; xb = t;
        }
        int C = r->stem[2].cout;
        if (need(&xb, (size_t)B * (H / 2) * (W / 2) * C)) goto done;
        avgpool(xa.p, B, H, W, C, 2, xb.p, ws.nt);
        H /= 2;
        W /= 2;
        { fbuf t = xa; xa = xb; xb = t; }
        for (int k = 0; k < r->nblk; k++) {
            const nli_bottleneck *bk = &r->blk[k];
            if (need(&xb, (size_t)B * (H / bk->stride) * (W / bk->stride) * bk->c3.cout)) goto done;
            if (bottleneck(bk, xa.p, B, &H, &W, xb.p, &ws)) goto done;
            fbuf t = xa; xa = xb; xb = t;
        }
        if (attnpool(c, xa.p, B, H * W, out + i0 * P, &ws)) goto done;
    }
    rc = 0;
done:
    if (rc) nli_prefixerr("ResNet forward");
    free(xa.p); free(xb.p);
    free(ws.col.p); free(ws.t1.p); free(ws.t2.p); free(ws.t3.p); free(ws.id.p); free(ws.pool.p);
    return rc;
}
