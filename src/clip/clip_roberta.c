/* clip_roberta.c — AltCLIP's text tower (transformers' AltCLIPTextModel):
 * XLM-R's RoBERTa encoder, then pre_LN, transformation and the model's
 * text_projection, pooled at the first token (<s>); and ALIGN's
 * (AlignTextModel), BERT: the same layers, positions 0, 1, 2, ... and
 * text_projection (with its bias) of the first token ([CLS]) alone.
 *
 *   x = LayerNorm(word[id] + token_type[0] + position[p])   p: RoBERTa's
 *       positions, pad_token_id + 1 on, a token equal to pad_token_id
 *       keeping position pad_token_id and not counting
 *   per layer (post-LN, attention over the whole text, no mask: each text
 *   runs at its own length, as an unpadded batch of one):
 *       x = LN1(x + out(attention(q, k, v)))
 *       x = LN2(x + fc2(gelu(fc1(x))))
 *   text = text_projection(transformation(pre_LN(x[0])))
 *
 * Weights: text_model.roberta.{embeddings, encoder.layers.i} (older files
 * say encoder.layer.i, which transformers 5 renames on load: both read),
 * text_model.{pre_LN, transformation}, text_projection; ALIGN's
 * text_model.{embeddings, encoder.layer.i} and text_projection. q, k and v are
 * fused into one matrix, as the CLIP blocks' (nli_block: ln1 is the
 * attention's output LayerNorm, ln2 the MLP's). */
#include "clip_impl.h"
#include "gemm.h"
#include "util.h"
#include "weights_plan.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nli_roberta {
    size_t o[11]; /* word, pos, type, eln w/b, pre w/b, tr w/b, proj, proj bias: offsets, then bound below */
    const float *word, *pos, *type0, *eln_w, *eln_b, *pre_w, *pre_b, *tr_w, *tr_b, *proj, *proj_b;
    nli_block *blk;
    nli_block_off *bo;
    int layers, bert; /* bert: ALIGN's (no pre_LN nor transformation; positions from 0) */
};

static int need(nli_plan *p, size_t *off, const char *name, int nd, int64_t d0, int64_t d1) {
    return nli_plan_need(p, off, name, nd, d0, d1, 0, 0);
}

int nli_roberta_plan(nli_clip *c, nli_plan *p, const nli_st *st) {
    const nli_clip_config *cfg = &c->cfg;
    const nli_tower_config *tc = &cfg->text;
    const int64_t D = tc->hidden_size, I = tc->intermediate_size, PD = cfg->text_project_dim;
    nli_roberta *r = c->rb = nli_calloc(1, sizeof *r);
    if (!r) return -1;
    r->layers = tc->num_hidden_layers;
    r->bert = cfg->text_arch == NLI_TEXT_BERT;
    r->blk = nli_calloc((size_t)r->layers, sizeof *r->blk);
    r->bo = nli_calloc((size_t)r->layers, sizeof *r->bo);
    if (!r->blk || !r->bo) return -1;
    const char *T = r->bert ? "text_model" : "text_model.roberta";
    char n[160], n2[160];
    static const char *const emb[5] = {"word_embeddings.weight", "position_embeddings.weight",
                                       "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias"};
    const int64_t rows[5] = {tc->vocab_size, tc->max_position_embeddings, cfg->text_type_vocab, D, D};
    for (int k = 0; k < 5; k++) {
        snprintf(n, sizeof n, "%s.embeddings.%s", T, emb[k]);
        if (need(p, &r->o[k], n, k < 3 ? 2 : 1, rows[k], k < 3 ? D : 0)) return -1;
    }
    /* transformers 5 writes AltCLIP's encoder.layers.i; the checkpoints
     * before it (and ALIGN's) encoder.layer.i */
    snprintf(n, sizeof n, "%s.encoder.layer.0.attention.self.query.weight", T);
    snprintf(n2, sizeof n2, "%s.encoder.layers.0.attention.self.query.weight", T);
    const char *L = nli_st_find(st, n) && !nli_st_find(st, n2) ? "layer" : "layers";
    for (int i = 0; i < r->layers; i++) {
        size_t *o = r->bo[i].o;
#define NEED(field, slot, nd, a, b)                                                                           \
    do {                                                                                                      \
        snprintf(n, sizeof n, "%s.encoder.%s.%d.%s", T, L, i, field);                                         \
        if (need(p, (slot) >= 0 ? o + ((slot) >= 0 ? (slot) : 0) : NULL, n, nd, a, b)) return -1;             \
    } while (0)
        /* q, k, v weights then biases, each consecutive: one fused qkv */
        NEED("attention.self.query.weight", 2, 2, D, D);
        NEED("attention.self.key.weight", -1, 2, D, D);
        NEED("attention.self.value.weight", -1, 2, D, D);
        NEED("attention.self.query.bias", 3, 1, D, 0);
        NEED("attention.self.key.bias", -1, 1, D, 0);
        NEED("attention.self.value.bias", -1, 1, D, 0);
        NEED("attention.output.dense.weight", 4, 2, D, D);
        NEED("attention.output.dense.bias", 5, 1, D, 0);
        NEED("attention.output.LayerNorm.weight", 0, 1, D, 0);
        NEED("attention.output.LayerNorm.bias", 1, 1, D, 0);
        NEED("intermediate.dense.weight", 8, 2, I, D);
        NEED("intermediate.dense.bias", 9, 1, I, 0);
        NEED("output.dense.weight", 10, 2, D, I);
        NEED("output.dense.bias", 11, 1, D, 0);
        NEED("output.LayerNorm.weight", 6, 1, D, 0);
        NEED("output.LayerNorm.bias", 7, 1, D, 0);
#undef NEED
    }
    if (r->bert)
        return need(p, &r->o[9], "text_projection.weight", 2, cfg->projection_dim, D) ||
               need(p, &r->o[10], "text_projection.bias", 1, cfg->projection_dim, 0);
    return need(p, &r->o[5], "text_model.pre_LN.weight", 1, D, 0) ||
           need(p, &r->o[6], "text_model.pre_LN.bias", 1, D, 0) ||
           need(p, &r->o[7], "text_model.transformation.weight", 2, PD, D) ||
           need(p, &r->o[8], "text_model.transformation.bias", 1, PD, 0) ||
           need(p, &r->o[9], "text_projection.weight", 2, cfg->projection_dim, PD);
}

void nli_roberta_bind(nli_clip *c, const float *mem) {
    nli_roberta *r = c->rb;
    r->word = mem + r->o[0], r->pos = mem + r->o[1], r->type0 = mem + r->o[2];
    r->eln_w = mem + r->o[3], r->eln_b = mem + r->o[4], r->pre_w = mem + r->o[5], r->pre_b = mem + r->o[6];
    r->tr_w = mem + r->o[7], r->tr_b = mem + r->o[8], r->proj = mem + r->o[9], r->proj_b = mem + r->o[10];
    for (int i = 0; i < r->layers; i++) nli_block_bind(&r->blk[i], mem, &r->bo[i]);
}

void nli_roberta_free(nli_roberta *r) {
    if (!r) return;
    free(r->blk);
    free(r->bo);
    free(r);
}

/* x = LayerNorm(x + y), row by row; y may be overwritten. */
static void add_ln(float *x, const float *y, const float *w, const float *b, size_t rows, int D, double eps, int nt) {
    size_t n = rows * (size_t)D;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t i = 0; i < n; i++) x[i] += y[i];
    nli_layernorm(x, w, b, x, rows, D, eps);
}

/* One post-LN layer over `items` texts (rows start[b].., len[b] each).
 * With the CPU's bf16 (the blocks packed: clip_bf16.c) the four linear
 * layers run on the bf16 weights with float32 sums; attention, the
 * LayerNorms and the activation stay float32 (the texts are short). */
static void layer(const nli_tower_config *tc, const nli_block *bk, float *x, size_t rows, size_t items,
                  const size_t *start, const int *len, int maxT, int nt, float *ws) {
    const int D = tc->hidden_size, I = tc->intermediate_size;
    const size_t mr = rows < nli_mlp_rows(I) ? rows : nli_mlp_rows(I);
    float *qkv = ws, *att = qkv + rows * 3 * D, *h = att + rows * D, *mlp = h + rows * D, *scratch = mlp + mr * I;
    void *lws = scratch + (size_t)nt * nli_attn_block_floats(maxT); /* the bf16 products' operands */
    nli_linear(x, bk->qkv_w, &bk->qkv_p, bk->qkv_b, qkv, rows, 3 * (size_t)D, D, nt, lws);
    nli_attention(tc, qkv, att, items, start, len, maxT, 0, nt, scratch);
    nli_linear(att, bk->o_w, &bk->o_p, bk->o_b, h, rows, D, D, nt, lws);
    add_ln(x, h, bk->ln1_w, bk->ln1_b, rows, D, tc->layer_norm_eps, nt);
    for (size_t r0 = 0; r0 < rows; r0 += mr) {
        size_t m = rows - r0 < mr ? rows - r0 : mr, nm = m * (size_t)I;
        nli_linear(x + r0 * D, bk->fc1_w, &bk->fc1_p, bk->fc1_b, mlp, m, I, D, nt, lws);
        nli_activate(tc, mlp, nm, nt);
        nli_linear(mlp, bk->fc2_w, &bk->fc2_p, bk->fc2_b, h + r0 * D, m, D, I, nt, lws);
    }
    add_ln(x, h, bk->ln2_w, bk->ln2_b, rows, D, tc->layer_norm_eps, nt);
}

static size_t ws_floats(const nli_tower_config *tc, size_t rows, int maxT, int nt, int bf16) {
    size_t D = (size_t)tc->hidden_size, I = (size_t)tc->intermediate_size;
    size_t mr = rows < nli_mlp_rows(tc->intermediate_size) ? rows : nli_mlp_rows(tc->intermediate_size);
    size_t lws = bf16 ? nli_gemm_bf16_ws_bytes(rows, I > D ? I : D) / sizeof(float) + 16 : 0;
    return rows * (3 * D + D + D) + mr * I + (size_t)nt * nli_attn_block_floats(maxT) + lws;
}

nli_block *nli_roberta_blocks(nli_roberta *r, int *layers) {
    *layers = r->layers;
    return r->blk;
}

int nli_roberta_encode_texts(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out) {
    const nli_clip_config *cfg = &c->cfg;
    const nli_tower_config *tc = &cfg->text;
    const nli_roberta *r = c->rb;
    const int D = tc->hidden_size, P = cfg->projection_dim, PD = cfg->text_project_dim, pad = tc->pad_token_id;
    /* the positions a text can take */
    const int maxT = r->bert ? tc->max_position_embeddings : tc->max_position_embeddings - pad - 1;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i] || lens[i] < 1 || lens[i] > (size_t)maxT) {
            nli_seterr("text %zu: %zu tokens (must be 1 to %d)", i, lens[i], maxT);
            return -1;
        }
        for (size_t t = 0; t < lens[i]; t++)
            if (ids[i][t] < 0 || ids[i][t] >= tc->vocab_size) {
                nli_seterr("text %zu: token id %d outside the vocabulary (%d)", i, ids[i][t], tc->vocab_size);
                return -1;
            }
    }
    nli_clip_use_threads(c);
    const int nt = c->n_threads;
    const size_t max_rows = NL_CHUNK_ROWS > (size_t)maxT ? NL_CHUNK_ROWS : (size_t)maxT;
    float *x = nli_mallocarray(max_rows, (size_t)D * sizeof(float));
    float *ws = nli_mallocarray(ws_floats(tc, max_rows, maxT, nt, c->bf16_mem != NULL), sizeof(float));
    float *t1 = nli_mallocarray(max_rows, (size_t)(D > PD ? D : PD) * sizeof(float));
    size_t *start = nli_mallocarray(max_rows, sizeof(size_t));
    int *len = nli_mallocarray(max_rows, sizeof(int));
    int rc = -1;
    if (!x || !ws || !t1 || !start || !len) { nli_prefixerr("text forward"); goto done; }
    for (size_t i0 = 0; i0 < n;) {
        size_t nb = 0, rows = 0;
        while (i0 + nb < n && rows + lens[i0 + nb] <= max_rows) {
            start[nb] = rows;
            len[nb] = (int)lens[i0 + nb];
            rows += lens[i0 + nb];
            nb++;
        }
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
        for (size_t b = 0; b < nb; b++) {
            const int32_t *id = ids[i0 + b];
            int seen = 0;
            for (int t = 0; t < len[b]; t++) {
                int p = r->bert ? t : id[t] == pad ? pad : pad + ++seen;
                const float *we = r->word + (size_t)id[t] * D, *pe = r->pos + (size_t)p * D;
                float *dst = x + (start[b] + t) * D;
                for (int d = 0; d < D; d++) dst[d] = we[d] + r->type0[d] + pe[d];
            }
        }
        nli_layernorm(x, r->eln_w, r->eln_b, x, rows, D, tc->layer_norm_eps);
        for (int l = 0; l < r->layers; l++) layer(tc, &r->blk[l], x, rows, nb, start, len, maxT, nt, ws);
        /* pre_LN, transformation and the projection of each text's first
         * row (BERT: the projection alone) */
        for (size_t b = 0; b < nb; b++) memcpy(ws + b * D, x + start[b] * D, D * sizeof(float));
        if (r->bert) {
            nli_gemm(ws, r->proj, r->proj_b, out + i0 * P, nb, P, D);
        } else {
            nli_layernorm(ws, r->pre_w, r->pre_b, ws, nb, D, tc->layer_norm_eps);
            nli_gemm(ws, r->tr_w, r->tr_b, t1, nb, PD, D);
            nli_gemm(t1, r->proj, NULL, out + i0 * P, nb, P, PD);
        }
        i0 += nb;
    }
    rc = 0;
done:
    free(x);
    free(ws);
    free(t1);
    free(start);
    free(len);
    return rc;
}
