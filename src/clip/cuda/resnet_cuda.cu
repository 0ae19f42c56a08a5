/* resnet_cuda.cu — CLIP's ModifiedResNet vision tower (RN50, RN101,
 * RN50x4, …) on a CUDA GPU: the same computation as clip_resnet.c, whose
 * comment describes the network, in the engine's activation type T (fp32,
 * fp16 or bf16, fp32 accumulation).
 *
 * Activations are channels-last, so a 1x1 convolution is one GEMM over
 * every pixel of the batch and a 3x3 one an im2col (kernels_t.cuh) plus one
 * GEMM, against the BatchNorm-folded weights that clip_resnet_weights.c
 * left in the host weight block (converted to T once at load). Per
 * Bottleneck block:
 *   t   = relu(x W1^T + b1)                   1x1
 *   t   = relu(im2col3(t) W2^T + b2)          3x3
 *   y   = shortcut: x, or avgpool(x) Wd^T     (the downsample's bias deferred)
 *   y  += avgpool(t) W3^T                     (cuBLAS, beta = 1)
 *   x'  = relu(y + b3 (+ bd))                 (the two biases summed at load)
 * The attention pool runs its k, v and q projections as T GEMMs with fp32
 * outputs, the one-query attention in fp32 with the CPU's order of
 * operations, and the output projection in fp32. Every buffer is allocated
 * with the workspace (nothing allocates on the forward path). */
#include <stdlib.h>
#include <string.h>

#include "clip_cuda_impl.h"
extern "C" {
#include "clip_impl.h"
#include "clip_resnet.h"
}

typedef struct {
    const void *w; /* T, [cout][ky][kx][cin] */
    const float *b;
    int cin, cout, k;
} rconv;

typedef struct {
    rconv c1, c2, c3, down;
    int has_down, stride;
    const float *bout; /* bias of the block's output: b3, or b3 + bd (in bsum) */
} rblock;

/* Elements per image of each workspace buffer (T unless said). */
typedef struct {
    size_t act, t, col, pool, tok, kv /* fp32 */, e /* q0 (T), q and o (fp32) */;
} rsizes;

struct nli_cuda_rn {
    rconv stem[3];
    rblock *blk;
    int nblk;
    const float *pos, *kv_b, *q_b, *c_w, *c_b;
    const void *kv_w, *q_w; /* T */
    float *bsum;            /* device: the summed output biases of blocks with a downsample */
    rsizes sz;
    /* workspace for max_batch images */
    void *xa, *xb, *t, *col, *pool, *tok, *q0;
    float *kv, *q, *o;
};

static void walk_sizes(const nli_clip_config *cfg, const nli_resnet *r, rsizes *z) {
    size_t S = (size_t)cfg->vision.image_size, h = S, c = 3;
    memset(z, 0, sizeof *z);
    z->act = S * S * 3;
#define MAXTO(f, v)                      \
    do {                                 \
        size_t v_ = (v);                 \
        if (v_ > z->f) z->f = v_;        \
    } while (0)
    for (int k = 0; k < 3; k++) { /* stem: 3x3 convolutions, the first with stride 2 */
        size_t oh = (h - 1) / (k == 0 ? 2 : 1) + 1;
        MAXTO(col, oh * oh * 9 * c);
        c = (size_t)r->stem[k].cout;
        MAXTO(act, oh * oh * c);
        h = oh;
    }
    h /= 2; /* avgpool 2 */
    for (int k = 0; k < r->nblk; k++) {
        const nli_bottleneck *bk = &r->blk[k];
        size_t px = h * h, s = (size_t)bk->stride, opx = (h / s) * (h / s), planes = (size_t)bk->c1.cout;
        MAXTO(t, px * planes);
        MAXTO(col, px * 9 * planes);
        MAXTO(pool, opx * (planes > c ? planes : c));
        c = (size_t)bk->c3.cout;
        MAXTO(act, opx * c);
        h /= s;
    }
    size_t E = (size_t)cfg->vision.hidden_size, T = h * h + 1;
    z->tok = T * E;
    z->kv = T * 2 * E;
    z->e = E;
#undef MAXTO
}

static size_t conv_floats(const nli_conv *cv) { return (size_t)cv->cout * cv->cin * cv->k * cv->k; }

size_t nli_cg_rn_matrix_floats(const nli_clip *c) {
    const nli_resnet *r = c->rn;
    size_t n = 0, E = (size_t)c->cfg.vision.hidden_size;
    for (int k = 0; k < 3; k++) n += conv_floats(&r->stem[k]);
    for (int k = 0; k < r->nblk; k++) {
        const nli_bottleneck *bk = &r->blk[k];
        n += conv_floats(&bk->c1) + conv_floats(&bk->c2) + conv_floats(&bk->c3) + (bk->has_down ? conv_floats(&bk->down) : 0);
    }
    return n + 3 * E * E; /* k and v, q */
}

static int setup_conv(nli_cuda_clip *g, const nli_clip *c, const nli_conv *h, rconv *d, size_t *off) {
    d->cin = h->cin;
    d->cout = h->cout;
    d->k = h->k;
    d->b = nli_cg_dev(g, c, h->b);
    return (d->w = nli_cg_as_t(g, c, h->w, conv_floats(h), off)) ? 0 : -1;
}

int nli_cg_rn_setup(nli_cuda_clip *g, const nli_clip *c, size_t *off) {
    const nli_resnet *r = c->rn;
    const size_t E = (size_t)c->cfg.vision.hidden_size;
    nli_cuda_rn *d = (nli_cuda_rn *)calloc(1, sizeof *d);
    float *hs = NULL;
    if (!d || !(d->blk = (rblock *)calloc((size_t)r->nblk, sizeof *d->blk))) {
        free(d);
        nli_seterr("out of memory");
        return -1;
    }
    g->rn = d;
    d->nblk = r->nblk;
    walk_sizes(&c->cfg, r, &d->sz);
    size_t nsum = 0;
    for (int k = 0; k < r->nblk; k++)
        if (r->blk[k].has_down) nsum += (size_t)r->blk[k].c3.cout;
    for (int k = 0; k < 3; k++)
        if (setup_conv(g, c, &r->stem[k], &d->stem[k], off)) return -1;
    if (nsum) {
        cudaError_t e = cudaErrorMemoryAllocation;
        if ((hs = (float *)malloc(nsum * sizeof(float)))) e = cudaMalloc((void **)&d->bsum, nsum * sizeof(float));
        if (e != cudaSuccess) {
            cudaGetLastError();
            free(hs);
            nli_seterr("cuda:%d: ResNet biases: %s", g->dev, nli_cuda_errstr(e));
            return -1;
        }
    }
    size_t at = 0;
    for (int k = 0; k < r->nblk; k++) {
        const nli_bottleneck *h = &r->blk[k];
        rblock *b = &d->blk[k];
        b->has_down = h->has_down;
        b->stride = h->stride;
        if (setup_conv(g, c, &h->c1, &b->c1, off) || setup_conv(g, c, &h->c2, &b->c2, off) ||
            setup_conv(g, c, &h->c3, &b->c3, off) || (h->has_down && setup_conv(g, c, &h->down, &b->down, off))) {
            free(hs);
            return -1;
        }
        b->bout = b->c3.b;
        if (h->has_down) { /* relu(out + b3 + id + bd): one bias (the CPU adds them apart; ~1 ulp) */
            for (int i = 0; i < h->c3.cout; i++) hs[at + i] = h->c3.b[i] + h->down.b[i];
            b->bout = d->bsum + at;
            at += (size_t)h->c3.cout;
        }
    }
    if (nsum) {
        cudaError_t e = cudaMemcpy(d->bsum, hs, nsum * sizeof(float), cudaMemcpyHostToDevice);
        free(hs);
        if (e != cudaSuccess) {
            cudaGetLastError();
            nli_seterr("cuda:%d: ResNet biases: %s", g->dev, nli_cuda_errstr(e));
            return -1;
        }
    }
    d->pos = nli_cg_dev(g, c, r->pos);
    d->kv_b = nli_cg_dev(g, c, r->kv_b);
    d->q_b = nli_cg_dev(g, c, r->q_b);
    d->c_w = nli_cg_dev(g, c, r->c_w);
    d->c_b = nli_cg_dev(g, c, r->c_b);
    if (!(d->kv_w = nli_cg_as_t(g, c, r->kv_w, 2 * E * E, off)) || !(d->q_w = nli_cg_as_t(g, c, r->q_w, E * E, off)))
        return -1;
    return 0;
}

size_t nli_cg_rn_per_image(const nli_cuda_clip *g) {
    const rsizes *z = &g->rn->sz;
    return (2 * z->act + z->t + z->col + z->pool + z->tok + z->e) * (size_t)g->tsize + (z->kv + 2 * z->e) * 4;
}

void nli_cg_rn_free_workspace(nli_cuda_clip *g) {
    nli_cuda_rn *d = g->rn;
    if (!d) return;
    cudaFree(d->xa); cudaFree(d->xb); cudaFree(d->t); cudaFree(d->col); cudaFree(d->pool); cudaFree(d->tok);
    cudaFree(d->q0); cudaFree(d->kv); cudaFree(d->q); cudaFree(d->o);
    d->xa = d->xb = d->t = d->col = d->pool = d->tok = d->q0 = NULL;
    d->kv = d->q = d->o = NULL;
}

cudaError_t nli_cg_rn_alloc(nli_cuda_clip *g, int B) {
    nli_cuda_rn *d = g->rn;
    const rsizes *z = &d->sz;
    const size_t n = (size_t)B, ts = (size_t)g->tsize;
    cudaError_t e;
    if ((e = cudaMalloc(&d->xa, n * z->act * ts)) != cudaSuccess || (e = cudaMalloc(&d->xb, n * z->act * ts)) != cudaSuccess ||
        (e = cudaMalloc(&d->t, n * z->t * ts)) != cudaSuccess || (e = cudaMalloc(&d->col, n * z->col * ts)) != cudaSuccess ||
        (e = cudaMalloc(&d->pool, n * z->pool * ts + 1)) != cudaSuccess ||
        (e = cudaMalloc(&d->tok, n * z->tok * ts)) != cudaSuccess || (e = cudaMalloc(&d->q0, n * z->e * ts)) != cudaSuccess ||
        (e = cudaMalloc((void **)&d->kv, n * z->kv * 4)) != cudaSuccess ||
        (e = cudaMalloc((void **)&d->q, n * z->e * 4)) != cudaSuccess ||
        (e = cudaMalloc((void **)&d->o, n * z->e * 4)) != cudaSuccess)
        nli_cg_rn_free_workspace(g);
    return e;
}

void nli_cg_rn_free(nli_cuda_clip *g) {
    if (!g->rn) return;
    nli_cg_rn_free_workspace(g);
    cudaFree(g->rn->bsum);
    free(g->rn->blk);
    free(g->rn);
    g->rn = NULL;
}

static void swap(void **a, void **b) {
    void *t = *a;
    *a = *b;
    *b = t;
}

/* x (B x h x h x cin, in *xa) -> the block's output, in *xa after the swap. */
static int block_forward(nli_cuda_clip *g, const rblock *bk, void **xa, void **xb, int B, int *h) {
    nli_cuda_rn *d = g->rn;
    const int p = g->prec, s = bk->stride, H = *h, oh = H / s, planes = bk->c1.cout, cin = bk->c1.cin;
    const int px = B * H * H, opx = B * oh * oh, cout = bk->c3.cout;
    cudaStream_t st = g->st;
    if (nli_cg_gemm(g, *xa, bk->c1.w, d->t, 0, 0, px, planes, cin, 0.0f) ||
        nli_k_bias_act(p, st, d->t, bk->c1.b, (size_t)px, planes, 3) ||
        nli_k_rn_im2col3(p, st, d->t, d->col, B, H, H, planes, 1) ||
        nli_cg_gemm(g, d->col, bk->c2.w, d->t, 0, 0, px, planes, 9 * planes, 0.0f) ||
        nli_k_bias_act(p, st, d->t, bk->c2.b, (size_t)px, planes, 3))
        return -1;
    /* the shortcut into xb first: the pool buffer is free until the main path's avgpool */
    if (bk->has_down) {
        const void *src = *xa;
        if (s > 1) {
            if (nli_k_rn_avgpool(p, st, *xa, d->pool, B, H, H, cin, s)) return -1;
            src = d->pool;
        }
        if (nli_cg_gemm(g, src, bk->down.w, *xb, 0, 0, opx, cout, cin, 0.0f)) return -1;
    } else {
        cudaError_t e = cudaMemcpyAsync(*xb, *xa, (size_t)opx * cout * g->tsize, cudaMemcpyDeviceToDevice, st);
        if (e != cudaSuccess) {
            nli_seterr_code(NL_ERR_DEVICE, "CUDA: ResNet shortcut copy: %s", nli_cuda_errstr(e));
            return -1;
        }
    }
    const void *mid = d->t;
    if (s > 1) {
        if (nli_k_rn_avgpool(p, st, d->t, d->pool, B, H, H, planes, s)) return -1;
        mid = d->pool;
    }
    if (nli_cg_gemm(g, mid, bk->c3.w, *xb, 0, 0, opx, cout, planes, 1.0f) ||
        nli_k_bias_act(p, st, *xb, bk->bout, (size_t)opx, cout, 3))
        return -1;
    swap(xa, xb);
    *h = oh;
    return 0;
}

int nli_cg_rn_forward(nli_cuda_clip *g, const uint8_t *rgb, const float *pix, int n) {
    nli_cuda_rn *d = g->rn;
    const nli_clip_config *cfg = &g->cfg;
    const int p = g->prec, S = cfg->vision.image_size, E = cfg->vision.hidden_size, P = cfg->projection_dim;
    const int Hd = cfg->vision.num_attention_heads;
    cudaStream_t st = g->st;
    void *xa = d->xa, *xb = d->xb;
    if (rgb ? nli_k_rn_input_u8(p, st, rgb, xa, (size_t)n * S * S, cfg->image_mean, cfg->image_std)
            : nli_k_rn_input_f32(p, st, pix, xa, n, S))
        return -1;
    int h = S, c = 3;
    for (int k = 0; k < 3; k++) { /* stem: 3x3 convolution (+ folded BN) + ReLU, the first with stride 2 */
        const rconv *cv = &d->stem[k];
        int stride = k == 0 ? 2 : 1, oh = (h - 1) / stride + 1, rows = n * oh * oh;
        if (nli_k_rn_im2col3(p, st, xa, d->col, n, h, h, c, stride) ||
            nli_cg_gemm(g, d->col, cv->w, xb, 0, 0, rows, cv->cout, 9 * c, 0.0f) ||
            nli_k_bias_act(p, st, xb, cv->b, (size_t)rows, cv->cout, 3))
            return -1;
        swap(&xa, &xb);
        h = oh;
        c = cv->cout;
    }
    if (nli_k_rn_avgpool(p, st, xa, xb, n, h, h, c, 2)) return -1;
    swap(&xa, &xb);
    h /= 2;
    for (int k = 0; k < d->nblk; k++)
        if (block_forward(g, &d->blk[k], &xa, &xb, n, &h)) return -1;
    /* attention pool: tokens [mean; pixels] + positions, k/v of every token,
     * q of the mean token, one query per image and head, then c_proj */
    const int HW = h * h, T = HW + 1;
    if (nli_k_rn_tokens(p, st, xa, d->pos, d->tok, d->q0, n, HW, E) ||
        nli_cg_gemm(g, d->tok, d->kv_w, d->kv, 1, 0, n * T, 2 * E, E, 0.0f) ||
        nli_cg_gemm(g, d->q0, d->q_w, d->q, 1, 0, n, E, E, 0.0f) ||
        nli_k_rn_attnpool(st, d->q, d->q_b, d->kv, d->kv_b, d->o, n, T, Hd, E / Hd) ||
        nli_cg_gemm(g, d->o, d->c_w, g->outd, 1, 1, n, P, E, 0.0f) ||
        nli_k_bias_act(1, st, g->outd, d->c_b, (size_t)n, P, 0))
        return -1;
    return 0;
}
