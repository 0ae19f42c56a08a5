/* clip_text.c — the text tower. Sequences of different lengths are packed
 * as consecutive rows (no padding), so a chunk of short prompts costs only
 * its real tokens. Under the causal mask the state at the pooled (EOT)
 * position does not depend on later tokens, so each text is run only up to
 * it; nli_clip_encode_texts_padded runs the full context to prove that. */
#include "clip_impl.h"
#include "clip_groupvit.h"
#include "cuda/clip_cuda.h"
#include "gemm.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Pooled position as transformers' CLIPTextTransformer picks it: argmax of
 * the ids when pool_argmax (eos_token_id == 2 in legacy HF configs, and
 * every OpenCLIP text tower), else the first EOT;
 * with no EOT its argmax over an all-false mask gives 0. */
static size_t pool_index(const nli_tower_config *tc, const int32_t *ids, size_t len) {
    size_t best = 0;
    if (tc->pool_argmax) {
        for (size_t i = 1; i < len; i++)
            if (ids[i] > ids[best]) best = i;
        return best;
    }
    for (size_t i = 0; i < len; i++)
        if (ids[i] == tc->eos_token_id) return i;
    return 0;
}

/* What the GPU is given for n texts: each one's run (tokens through the
 * tower: up to its pooled row, or the whole context when padded) and pooled
 * row; SigLIP: its given tokens (the GPU pads them to the context with
 * pad_token_id, padded or not) and the last position. The caller frees
 * both arrays (also on failure). */
static int gpu_runs(const nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, int padded,
                    int **run, int **pool) {
    const nli_tower_config *tc = &c->cfg.text;
    *run = nli_mallocarray(n, sizeof(int));
    *pool = nli_mallocarray(n, sizeof(int));
    if (!*run || !*pool) return -1;
    for (size_t i = 0; i < n; i++) {
        if (c->cfg.siglip) {
            (*pool)[i] = tc->max_position_embeddings - 1;
            (*run)[i] = (int)lens[i];
            continue;
        }
        (*pool)[i] = (int)pool_index(tc, ids[i], lens[i]);
        (*run)[i] = padded ? tc->max_position_embeddings : (*pool)[i] + 1;
    }
    return 0;
}

/* Each text zero-padded to the context (the padded runs of tests and
 * benchmarks): *pad holds the rows, *use points at them. The caller frees
 * both (also on failure). */
static int pad_ids(const nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, int32_t **pad,
                   const int32_t ***use) {
    const size_t ctx = (size_t)c->cfg.text.max_position_embeddings;
    *pad = nli_mallocarray(n, ctx * sizeof(int32_t));
    *use = nli_mallocarray(n, sizeof(int32_t *));
    if (!*pad || !*use) return -1;
    for (size_t i = 0; i < n; i++) {
        int32_t *p = *pad + i * ctx;
        memset(p, 0, ctx * sizeof(int32_t));
        memcpy(p, ids[i], lens[i] * sizeof(int32_t));
        (*use)[i] = p;
    }
    return 0;
}

/* The GPU runs texts packed too. */
static int encode_gpu(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out, int padded) {
    int *run = NULL, *pool = NULL;
    int32_t *pad = NULL;
    const int32_t **use = NULL;
    if (c->cfg.siglip) padded = 0; /* every text padded to the context anyway, with pad_token_id (on the GPU) */
    int rc = gpu_runs(c, ids, lens, n, padded, &run, &pool);
    if (rc == 0 && padded) rc = pad_ids(c, ids, lens, n, &pad, &use);
    if (rc == 0) rc = nli_cuda_encode_texts(c->gpu, padded ? use : ids, run, pool, n, out);
    free(run); free(pool); free(pad); free(use);
    return rc;
}

/* Every text 1 to context tokens, every id in the vocabulary. */
static int check_ids(const nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n) {
    const nli_tower_config *tc = &c->cfg.text;
    const int ctx = tc->max_position_embeddings;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i] || lens[i] < 1 || lens[i] > (size_t)ctx) {
            nli_seterr("text %zu: %zu tokens (must be 1 to %d)", i, lens[i], ctx);
            return -1;
        }
        for (size_t k = 0; k < lens[i]; k++)
            if (ids[i][k] < 0 || ids[i][k] >= tc->vocab_size) {
                nli_seterr("text %zu: token id %d at position %zu outside the vocabulary (%d)", i, (int)ids[i][k], k,
                          tc->vocab_size);
                return -1;
            }
    }
    return 0;
}

int nli_clip_texts_submit(nli_clip *c, int slot, const int32_t *const *ids, const size_t *lens, size_t n) {
    if (!c->gpu) { nli_seterr("nli_clip_texts_submit: the model is not on a GPU"); return -1; }
    if (n == 0) return 0;
    if (!ids || !lens) { nli_seterr("nli_clip_texts_submit: NULL argument"); return -1; }
    if (check_ids(c, ids, lens, n) != 0) return -1;
    int *run = NULL, *pool = NULL;
    int rc = gpu_runs(c, ids, lens, n, 0, &run, &pool);
    if (rc == 0) rc = nli_cuda_texts_submit(c->gpu, slot, ids, run, pool, n);
    free(run); free(pool);
    return rc;
}

int nli_clip_texts_collect(nli_clip *c, int slot, float *out) {
    if (!c->gpu) { nli_seterr("nli_clip_texts_collect: the model is not on a GPU"); return -1; }
    return nli_cuda_texts_collect(c->gpu, slot, out);
}

static int encode(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out, int padded) {
    const nli_tower_config *tc = &c->cfg.text;
    const int D = tc->hidden_size, P = c->cfg.projection_dim, ctx = tc->max_position_embeddings;
    /* SigLIP: every text padded to the context with pad_token_id, as its
     * tokenizer's padding="max_length" does, run without a mask and pooled
     * at the last position */
    const int sg = c->cfg.siglip;
    const int32_t fill = sg ? tc->pad_token_id : 0;
    if (n == 0) return 0;
    if (!ids || !lens || !out) { nli_seterr("nli_clip_encode_texts: NULL argument"); return -1; }
    if (c->rb) return nli_roberta_encode_texts(c, ids, lens, n, out); /* AltCLIP: never padded */
    if (check_ids(c, ids, lens, n) != 0) return -1;
    if (c->gpu) return encode_gpu(c, ids, lens, n, out, padded);
    nli_clip_use_threads(c);
    const int nt = c->n_threads;
    const size_t max_rows = NL_CHUNK_ROWS > (size_t)ctx ? NL_CHUNK_ROWS : (size_t)ctx;
    size_t nws = nli_block_ws_floats(tc, max_rows, ctx, nt, c->bf16_mem != NULL);
    float *x = nli_mallocarray(max_rows, (size_t)D * sizeof(float)), *ws = nli_mallocarray(nws, sizeof(float));
    size_t *start = nli_mallocarray(max_rows, sizeof(size_t)), *pool = nli_mallocarray(max_rows, sizeof(size_t));
    int *len = nli_mallocarray(max_rows, sizeof(int));
    int rc = -1;
    if (!x || !ws || !start || !pool || !len) { nli_prefixerr("text forward"); goto done; }
    for (size_t i0 = 0; i0 < n;) {
        /* Fill a chunk with whole texts up to max_rows rows. */
        size_t nb = 0, rows = 0;
        while (i0 + nb < n) {
            size_t i = i0 + nb, pl = sg ? (size_t)ctx - 1 : pool_index(tc, ids[i], lens[i]);
            size_t L = padded || sg ? (size_t)ctx : pl + 1;
            if (rows + L > max_rows) break;
            start[nb] = rows;
            len[nb] = (int)L;
            pool[nb] = pl;
            rows += L;
            nb++;
        }
        /* token + position embeddings; padding id 0 (SigLIP: pad_token_id) past the given tokens */
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
        for (size_t b = 0; b < nb; b++) {
            const int32_t *id = ids[i0 + b];
            for (int t = 0; t < len[b]; t++) {
                int32_t tok = (size_t)t < lens[i0 + b] ? id[t] : fill;
                const float *te = c->tok_emb + (size_t)tok * D, *pe = c->tpos_emb + (size_t)t * D;
                float *dst = x + (start[b] + t) * D;
                for (int d = 0; d < D; d++) dst[d] = te[d] + pe[d];
            }
        }
        const size_t TD = rows * (size_t)D;
        float *cap = c->capture && n == 1 ? c->capture : NULL; /* tests: hidden states */
        if (cap) memcpy(cap, x, TD * sizeof(float));
        for (int l = 0; l < tc->num_hidden_layers; l++) {
            nli_block_forward(tc, &c->tblk[l], x, rows, nb, start, len, ctx, !sg, nt, ws);
            if (cap) memcpy(cap + (l + 1) * TD, x, TD * sizeof(float));
        }
        if (cap) nli_layernorm(x, c->tfinal_w, c->tfinal_b, cap + (tc->num_hidden_layers + 1) * TD, rows, D,
                               tc->layer_norm_eps);
        /* final_layer_norm is per row: apply it to the pooled rows only */
        float *pooled = ws;
        for (size_t b = 0; b < nb; b++) memcpy(pooled + b * D, x + (start[b] + pool[b]) * D, D * sizeof(float));
        nli_layernorm(pooled, c->tfinal_w, c->tfinal_b, pooled, nb, D, tc->layer_norm_eps);
        if (c->gv) {
            if (nli_groupvit_project_texts(c, pooled, nb, out + i0 * P) != 0) goto done;
        } else {
            nli_gemm(pooled, c->tproj, sg ? c->sg.tproj_b : NULL, out + i0 * P, nb, P, D);
        }
        i0 += nb;
    }
    rc = 0;
done:
    free(x);
    free(ws);
    free(start);
    free(pool);
    free(len);
    return rc;
}

int nli_clip_encode_texts(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out) {
    return encode(c, ids, lens, n, out, 0);
}

int nli_clip_encode_texts_padded(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out) {
    return encode(c, ids, lens, n, out, 1);
}
