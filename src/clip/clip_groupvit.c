/* clip_groupvit.c — GroupViT's vision tower and projections on the CPU
 * (fp32). The stages' transformer blocks run over a chunk of images at
 * once (nli_block_forward: every image has the same token count in a
 * stage); the grouping steps run image by image, one image per thread
 * (inside the parallel loop OpenBLAS and nli_gemm run on that one thread,
 * and every product's sizes depend only on the model: the results do not
 * depend on the thread count or the batch). As
 * transformers runs the model in inference: the hard assignment is the
 * argmax over groups of each image token's logits (the first on a tie),
 * and each group's new token the sum of its members' values over their
 * count + assign_eps. */
#include "clip_groupvit.h"
#include "gemm.h"
#include "util.h"

#include <cblas.h>
#undef I /* OpenBLAS pulls in <complex.h> */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void gelu(float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static void relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0.0f;
}

static void add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* y (rows x out) = act(x * fc1^T + b1) * fc2^T + b2; h: rows x hid. */
static void mlp_rows(const nli_gv_mlp *m, const float *x, float *h, float *y, size_t rows, int use_relu) {
    nli_gemm(x, m->fc1_w, m->fc1_b, h, rows, (size_t)m->hid, (size_t)m->in);
    if (use_relu) relu(h, rows * (size_t)m->hid);
    else gelu(h, rows * (size_t)m->hid);
    nli_gemm(h, m->fc2_w, m->fc2_b, y, rows, (size_t)m->out, (size_t)m->hid);
}

/* GroupViTMixerMLP: the MLP along the token axis of X (in x D):
 * Y (out x D) = fc2 * gelu(fc1 * X + b1) + b2, biases per row; H: hid x D. */
static void mlp_tokens(const nli_gv_mlp *m, const float *X, float *H, float *Y, int D) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->hid, D, m->in, 1.0f, m->fc1_w, m->in, X, D, 0.0f, H, D);
    for (int i = 0; i < m->hid; i++)
        for (int d = 0; d < D; d++) H[(size_t)i * D + d] += m->fc1_b[i];
    gelu(H, (size_t)m->hid * D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->out, D, m->hid, 1.0f, m->fc2_w, m->hid, H, D, 0.0f, Y, D);
    for (int i = 0; i < m->out; i++)
        for (int d = 0; d < D; d++) Y[(size_t)i * D + d] += m->fc2_b[i];
}

/* out (Q x D) = multi-head attention of the queries q (Q x D, projected)
 * over kv (N rows of [k | v], 2D wide); S: Q x N. */
static void cross_attention(const float *q, const float *kv, float *out, int Q, int N, int D, int H, float *S) {
    const int hd = D / H;
    for (int h = 0; h < H; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Q, N, hd, 1.0f / sqrtf((float)hd), q + h * hd, D,
                    kv + h * hd, 2 * D, 0.0f, S, N);
        nli_softmax_rows(S, Q, N, 0, 0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Q, hd, N, 1.0f, S, N, kv + D + h * hd, 2 * D, 0.0f,
                    out + h * hd, D);
    }
}

/* Scratch floats of token_assign (and of a stage's group projector). */
static size_t assign_floats(const nli_clip_config *cfg, int G, int N, int O) {
    const size_t D = (size_t)cfg->vision.hidden_size, I = (size_t)cfg->vision.intermediate_size;
    size_t hid = (size_t)cfg->gv_tokens_dim > D / 2 ? (size_t)cfg->gv_tokens_dim : D / 2;
    size_t wide = I > (size_t)cfg->gv_channels_dim ? I : (size_t)cfg->gv_channels_dim;
    return (size_t)G * D + (size_t)N * D + hid * D + 3 * (size_t)O * D + 2 * (size_t)N * D + (size_t)O * N +
           (size_t)O * wide + (size_t)O * D + (size_t)G * D + 64;
}

/* GroupViTTokenAssign for one image: its N image tokens img and G group
 * tokens grp (after the stage's blocks) -> out, O new image tokens.
 * Scratch: sc (assign_floats), idx (N), acc (D). */
static void token_assign(const nli_clip_config *cfg, const nli_gv_stage *st, const float *img, int N, const float *grp,
                         float *out, float *sc, int *idx, double *acc) {
    const nli_gv_assign *a = &st->as;
    const int D = cfg->vision.hidden_size, G = st->groups, O = st->out_groups;
    const double eps = cfg->vision.layer_norm_eps;
    float *gt = sc, *xt = gt + (size_t)G * D, *mh = xt + (size_t)N * D;
    size_t hid = (size_t)cfg->gv_tokens_dim > (size_t)D / 2 ? (size_t)cfg->gv_tokens_dim : (size_t)D / 2;
    float *pg = mh + hid * D, *q = pg + (size_t)O * D, *att = q + (size_t)O * D, *kv = att + (size_t)O * D;
    float *S = kv + 2 * (size_t)N * D, *h = S + (size_t)O * N;
    size_t wide = cfg->vision.intermediate_size > cfg->gv_channels_dim ? cfg->vision.intermediate_size
                                                                         : cfg->gv_channels_dim;
    float *t = h + (size_t)O * wide;
    const size_t OD = (size_t)O * D;
    nli_layernorm(grp, a->norm_tokens.w, a->norm_tokens.b, gt, (size_t)G, D, eps);
    nli_layernorm(img, a->norm_x.w, a->norm_x.b, xt, (size_t)N, D, eps);
    /* the groups projected to the output groups */
    mlp_tokens(&a->mlp_inter, gt, mh, pg, D);
    nli_layernorm(pg, a->norm_post_tokens.w, a->norm_post_tokens.b, pg, (size_t)O, D, eps);
    /* pre_assign_attn: x = pg + attn(pg, xt); x += mlp(norm2(x)); norm_post */
    nli_gemm(pg, a->x_q_w, a->x_q_b, q, (size_t)O, (size_t)D, (size_t)D);
    nli_gemm(xt, a->x_kv_w, a->x_kv_b, kv, (size_t)N, 2 * (size_t)D, (size_t)D);
    cross_attention(q, kv, att, O, N, D, cfg->vision.num_attention_heads, S);
    nli_gemm(att, a->x_o_w, a->x_o_b, t, (size_t)O, (size_t)D, (size_t)D);
    add(pg, t, OD);
    nli_layernorm(pg, a->x_norm2.w, a->x_norm2.b, att, (size_t)O, D, eps);
    mlp_rows(&a->x_mlp, att, h, t, (size_t)O, 0);
    add(pg, t, OD);
    nli_layernorm(pg, a->x_norm_post.w, a->x_norm_post.b, pg, (size_t)O, D, eps);
    /* assign: logits O x N, the hard softmax over the groups (dim -2) */
    nli_gemm(pg, a->a_q_w, a->a_q_b, q, (size_t)O, (size_t)D, (size_t)D);
    nli_gemm(xt, a->a_kv_w, a->a_kv_b, kv, (size_t)N, 2 * (size_t)D, (size_t)D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, N, D, (float)(1.0 / sqrt((double)D)), q, D, kv, 2 * D,
                0.0f, S, N);
    for (int j = 0; j < N; j++) {
        int best = 0;
        for (int i = 1; i < O; i++)
            if (S[(size_t)i * N + j] > S[(size_t)best * N + j]) best = i;
        idx[j] = best;
    }
    /* each group: the sum of its members' values / (count + assign_eps) */
    for (int i = 0; i < O; i++) {
        int cnt = 0;
        for (int d = 0; d < D; d++) acc[d] = 0;
        for (int j = 0; j < N; j++) {
            if (idx[j] != i) continue;
            const float *v = kv + (size_t)j * 2 * D + D;
            for (int d = 0; d < D; d++) acc[d] += v[d];
            cnt++;
        }
        double div = cnt + cfg->gv_assign_eps;
        for (int d = 0; d < D; d++) att[(size_t)i * D + d] = div > 0 ? (float)(acc[d] / div) : 0.0f;
    }
    nli_gemm(att, a->a_o_w, a->a_o_b, out, (size_t)O, (size_t)D, (size_t)D);
    add(out, pg, OD);
    nli_layernorm(out, a->norm_new_x.w, a->norm_new_x.b, att, (size_t)O, D, eps);
    mlp_rows(&a->mlp_channels, att, h, t, (size_t)O, 0);
    add(out, t, OD);
}

/* The projection MLP (BatchNorm folded, ReLU) of nb rows. */
static int project(const nli_gv_mlp *m, const float *x, size_t nb, float *out) {
    float *h = nli_mallocarray(nb, (size_t)m->hid * sizeof(float));
    if (!h) {
        nli_prefixerr("GroupViT projection");
        return -1;
    }
    mlp_rows(m, x, h, out, nb, 1);
    free(h);
    return 0;
}

int nli_groupvit_project_texts(const nli_clip *c, const float *pooled, size_t nb, float *out) {
    return project(&c->gv->tproj, pooled, nb, out);
}

int nli_groupvit_encode_images(nli_clip *c, const float *pixels, size_t n, float *out) {
    const nli_clip_config *cfg = &c->cfg;
    const nli_tower_config *vc = &cfg->vision;
    const nli_groupvit *g = c->gv;
    const int D = vc->hidden_size, C = vc->num_channels, p = vc->patch_size, S = vc->image_size;
    const int grid = S / p, np = grid * grid, K = C * p * p, P = cfg->projection_dim;
    const double eps = vc->layer_norm_eps;
    nli_clip_use_threads(c);
    const int nt = c->n_threads;
    /* the widest stage: tokens in and out, group tokens, assign scratch */
    int Nmax = np, Tmax = 0, Gmax = 1, N = np;
    size_t scn = 0;
    for (int s = 0; s < g->nst; s++) {
        const nli_gv_stage *st = &g->st[s];
        int T = N + st->groups;
        Tmax = T > Tmax ? T : Tmax;
        Gmax = st->groups > Gmax ? st->groups : Gmax;
        if (st->has_assign) {
            size_t a = assign_floats(cfg, st->groups, N, st->out_groups);
            scn = a > scn ? a : scn;
            N = st->out_groups;
            Nmax = N > Nmax ? N : Nmax;
        }
    }
    size_t B = NL_CHUNK_ROWS / (size_t)Tmax;
    if (B < 1) B = 1;
    if (B > n) B = n;
    size_t nws = nli_block_ws_floats(vc, B * (size_t)Tmax, Tmax, nt, 0);
    float *tok = nli_mallocarray(B * (size_t)Nmax, (size_t)D * sizeof(float));
    float *x = nli_mallocarray(B * (size_t)Tmax, (size_t)D * sizeof(float));
    float *prevg = nli_mallocarray(B * (size_t)Gmax, (size_t)D * sizeof(float));
    float *ws = nli_mallocarray(nws, sizeof(float)), *sc = nli_mallocarray((size_t)nt, (scn + 1) * sizeof(float));
    int *idx = nli_mallocarray((size_t)nt, (size_t)Nmax * sizeof(int));
    double *acc = nli_mallocarray((size_t)nt, (size_t)D * sizeof(double));
    float *patches = nli_mallocarray(B * (size_t)np, (size_t)K * sizeof(float));
    float *pooled = nli_mallocarray(B, (size_t)D * sizeof(float));
    size_t *start = nli_mallocarray(B, sizeof(size_t));
    int *len = nli_mallocarray(B, sizeof(int));
    int rc = -1;
    if (!tok || !x || !prevg || !ws || !sc || !idx || !acc || !patches || !pooled || !start || !len) {
        nli_prefixerr("GroupViT vision forward");
        goto done;
    }
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t nb = n - i0 < B ? n - i0 : B;
        /* patches (conv with bias) -> LayerNorm -> + positions */
        nli_patches(pixels + i0 * (size_t)C * S * S, nb, C, S, p, patches, nt);
        nli_gemm(patches, g->patch_w, g->patch_b, tok, nb * np, (size_t)D, (size_t)K);
        nli_layernorm(tok, g->emb_ln_w, g->emb_ln_b, tok, nb * np, D, eps);
        for (size_t b = 0; b < nb; b++) add(tok + b * np * D, g->pos, (size_t)np * D);
        N = np;
        for (int s = 0; s < g->nst; s++) {
            const nli_gv_stage *st = &g->st[s];
            const int G = st->groups, T = N + G;
            /* [image tokens; group tokens (+ the previous groups, projected)] */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
            for (size_t b = 0; b < nb; b++) {
                float *xb = x + b * T * D;
                memcpy(xb, tok + b * N * D, (size_t)N * D * sizeof(float));
                if (!G) continue;
                float *gb = xb + (size_t)N * D;
                memcpy(gb, st->group_token, (size_t)G * D * sizeof(float));
                if (st->has_projector) {
                    const int prev = st->proj_mix.in;
                    float *ln = sc + (size_t)omp_get_thread_num() * (scn + 1), *h = ln + (size_t)prev * D,
                          *y = h + (size_t)st->proj_mix.hid * D;
                    nli_layernorm(prevg + b * prev * D, st->proj_ln.w, st->proj_ln.b, ln, (size_t)prev, D, eps);
                    mlp_tokens(&st->proj_mix, ln, h, y, D);
                    add(gb, y, (size_t)G * D);
                }
            }
            for (size_t b = 0; b < nb; b++) {
                start[b] = b * T;
                len[b] = T;
            }
            for (int l = 0; l < st->depth; l++)
                nli_block_forward(vc, &st->blk[l], x, nb * T, nb, start, len, T, 0, nt, ws);
            if (!st->has_assign) {
                memcpy(tok, x, nb * (size_t)T * D * sizeof(float));
                continue;
            }
            const int O = st->out_groups;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
            for (size_t b = 0; b < nb; b++) {
                const float *xb = x + b * T * D;
                const int th = omp_get_thread_num();
                token_assign(cfg, st, xb, N, xb + (size_t)N * D, tok + b * O * D, sc + (size_t)th * (scn + 1),
                             idx + (size_t)th * Nmax, acc + (size_t)th * D);
                memcpy(prevg + b * G * D, xb + (size_t)N * D, (size_t)G * D * sizeof(float));
            }
            N = O;
        }
        /* the mean of the final tokens after the LayerNorm */
        nli_layernorm(tok, g->final_ln_w, g->final_ln_b, tok, nb * N, D, eps);
        for (size_t b = 0; b < nb; b++)
            for (int d = 0; d < D; d++) {
                double s = 0;
                for (int t = 0; t < N; t++) s += tok[(b * N + t) * D + d];
                pooled[b * D + d] = (float)(s / N);
            }
        if (project(&g->vproj, pooled, nb, out + i0 * P) != 0) goto done;
    }
    rc = 0;
done:
    free(tok);
    free(x);
    free(prevg);
    free(ws);
    free(sc);
    free(idx);
    free(acc);
    free(patches);
    free(pooled);
    free(start);
    free(len);
    return rc;
}
