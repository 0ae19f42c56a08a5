/* text_cuda.cu — the CLIP text tower on a CUDA GPU. Prompts are packed as
 * consecutive token rows into forward passes of up to TEXT_ROWS rows, each
 * run only up to its pooled (EOT) token, never padded to the context;
 * prompts of up to 64 tokens share attention tiles (attention.cu).
 *
 * Asynchronous and double-buffered, as the images are: submit packs up to
 * NLI_CUDA_TEXT_SLOT prompts into a slot's pinned staging (every pass of
 * them at once) and queues their passes on the stream (copies in, forward,
 * copy back into the slot's pinned output); collect waits for the slot and
 * writes the embeddings out. While the GPU runs one slot, the host
 * tokenizes and packs the next (model.c; nli_cuda_encode_texts does the
 * same over its input), and no pass waits for the host between passes.
 *
 * SigLIP (cfg.siglip), as clip_text.c runs it: every prompt is the whole
 * context, its run[i] given tokens then pad_token_id, attended without a
 * mask (each prompt its own tiles, no causal limit), pooled at its last
 * position, and text_model.head's bias added after the projection. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clip_cuda_impl.h"
#include "neglabel.h"

static void slot_release(nli_cg_text_slot *s) {
    if (s->done) {
        cudaEventSynchronize(s->done);
        cudaEventDestroy(s->done);
    }
    cudaFreeHost(s->tok);
    cudaFreeHost(s->pos);
    cudaFreeHost(s->pool);
    cudaFreeHost(s->tiles);
    cudaFreeHost(s->out);
    memset(s, 0, sizeof *s);
}

void nli_cg_text_free(nli_cuda_clip *g) {
    for (int k = 0; k < 2; k++) slot_release(&g->ts[k]);
    cudaGetLastError();
}

/* The slot's pinned buffers, for NLI_CUDA_TEXT_SLOT prompts of up to the
 * full context each (~5 MB of rows and P floats per prompt). */
static int slot_alloc(nli_cuda_clip *g, nli_cg_text_slot *s) {
    const size_t cap = NLI_CUDA_TEXT_SLOT, ctx = (size_t)g->cfg.text.max_position_embeddings;
    const size_t P = (size_t)g->cfg.projection_dim, tiles = cap * ((ctx + 63) / 64);
    if (s->done) return 0;
    CUDA_TRY(cudaHostAlloc((void **)&s->tok, cap * ctx * 4, cudaHostAllocDefault), fail);
    CUDA_TRY(cudaHostAlloc((void **)&s->pos, cap * ctx * 4, cudaHostAllocDefault), fail);
    CUDA_TRY(cudaHostAlloc((void **)&s->pool, cap * sizeof(int), cudaHostAllocDefault), fail);
    CUDA_TRY(cudaHostAlloc((void **)&s->tiles, tiles * sizeof(nli_attn_tile), cudaHostAllocDefault), fail);
    CUDA_TRY(cudaHostAlloc((void **)&s->out, cap * P * 4, cudaHostAllocDefault), fail);
    CUDA_TRY(cudaEventCreateWithFlags(&s->done, cudaEventDisableTiming), fail); /* last: the slot is ready */
    return 0;
fail:
    nli_prefixerr("cuda:%d: text staging (pinned host memory)", g->dev);
    slot_release(s);
    cudaGetLastError();
    return -1;
}

extern "C" int nli_cuda_texts_submit(nli_cuda_clip *g, int slot, const int32_t *const *ids, const int *run,
                                    const int *pool, size_t n) {
    const nli_tower_config *tc = &g->cfg.text;
    const int D = tc->hidden_size, P = g->cfg.projection_dim, sg = g->cfg.siglip, ctx = tc->max_position_embeddings;
    nli_cg_text_slot *s = &g->ts[slot & 1];
    int prev, rc = -1, queued = 0;
    if (n == 0) return 0;
    if (n > NLI_CUDA_TEXT_SLOT || s->n) {
        nli_seterr("cuda: text slot %d: %zu texts (at most %d), %zu not yet collected", slot & 1, n,
                   NLI_CUDA_TEXT_SLOT, s->n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (run[i] < 1 || run[i] > ctx || run[i] > TEXT_ROWS || pool[i] < 0 ||
            (sg ? pool[i] != ctx - 1 : pool[i] >= run[i])) {
            nli_seterr(sg ? "cuda: text %zu: %d tokens / pool %d: SigLIP takes 1 to %d tokens, pooled at the last "
                            "position"
                          : "cuda: text %zu: run %d / pool %d outside the context (%d)",
                       i, run[i], pool[i], ctx);
            return -1;
        }
    /* Prompts of up to 64 tokens share attention tiles (one block, 64 query
     * rows); NEGLABEL_CUDA_TEXT_PACK=0 gives each its own, for benchmarks. */
    const char *pk = getenv("NEGLABEL_CUDA_TEXT_PACK");
    const int pack = !sg && !(pk && !strcmp(pk, "0")); /* SigLIP: unmasked, so never shared */
    if (nli_cuda_select(g->dev, &prev) != 0) return -1;
    if (slot_alloc(g, s) != 0) goto out;
    /* the slot's earlier passes read its staging and wrote its output */
    CUDA_TRY(cudaEventSynchronize(s->done), out);
    for (size_t i0 = 0, row0 = 0, tile0 = 0; i0 < n;) {
        int32_t *tok = s->tok + row0, *pos = s->pos + row0;
        nli_attn_tile *tl = s->tiles + tile0;
        int *pl = s->pool + i0;
        size_t nb = 0, rows = 0, nt = 0, open = SIZE_MAX; /* open: the tile short prompts join */
        while (i0 + nb < n && rows + (size_t)(sg ? ctx : run[i0 + nb]) <= TEXT_ROWS) {
            size_t i = i0 + nb, L = (size_t)(sg ? ctx : run[i]);
            for (size_t t = 0; t < L; t++) {
                tok[rows + t] = t < (size_t)run[i] ? ids[i][t] : (int32_t)tc->pad_token_id; /* SigLIP pads */
                pos[rows + t] = (int32_t)t;
            }
            if (pack && L <= 64 && open != SIZE_MAX && tl[open].len + (int)L <= 64) {
                tl[open].len += (int)L;
            } else {
                open = pack && L <= 64 ? nt : SIZE_MAX; /* a longer prompt ends the run of shared tiles */
                for (size_t q0 = 0; q0 < L; q0 += 64) tl[nt++] = (nli_attn_tile){(int)rows, (int)L, (int)q0, 0};
            }
            pl[nb] = (int)(rows + (size_t)pool[i]);
            rows += L;
            nb++;
        }
        queued = 1;
        nli_cg_mark(g, NLI_STAGES); /* the stage clock: a forward pass starts */
        CUDA_TRY(cudaMemcpyAsync(g->d_tok, tok, rows * 4, cudaMemcpyHostToDevice, g->st), out);
        CUDA_TRY(cudaMemcpyAsync(g->d_pos, pos, rows * 4, cudaMemcpyHostToDevice, g->st), out);
        CUDA_TRY(cudaMemcpyAsync(g->d_pool, pl, nb * 4, cudaMemcpyHostToDevice, g->st), out);
        CUDA_TRY(cudaMemcpyAsync(g->d_tiles, tl, nt * sizeof(nli_attn_tile), cudaMemcpyHostToDevice, g->st), out);
        if (nli_k_text_embed(g->st, g->d_tok, g->d_pos, (int)rows, g->tok_emb, g->tpos, g->x, D) ||
            nli_cg_mark(g, NLI_STAGE_EMBED) ||
            nli_cg_run_blocks(g, tc, g->tb, (int)rows, g->d_tiles, (int)nt, sg ? NULL : g->d_pos, !sg, sg ? (int)ctx : 0) ||
            nli_k_layernorm(1, g->st, g->x, g->d_pool, g->t_cbf, g->tfin_w, g->tfin_b, g->pooled, NULL, (int)nb, D,
                            tc->layer_norm_eps) ||
            nli_cg_gemm(g, g->pooled, g->tproj, g->outd, 1, 1, (int)nb, P, D, 0.0f) ||
            (sg && nli_k_bias_act(1, g->st, g->outd, g->sg.tproj_b, nb, P, 0)) ||
            nli_cg_mark(g, NLI_STAGE_HEAD))
            goto out;
        CUDA_TRY(cudaMemcpyAsync(s->out + i0 * P, g->outd, nb * P * 4, cudaMemcpyDeviceToHost, g->st), out);
        row0 += rows;
        tile0 += nt;
        i0 += nb;
    }
    CUDA_TRY(cudaEventRecord(s->done, g->st), out);
    s->n = n;
    rc = 0;
out:
    if (rc) {
        nli_prefixerr("cuda:%d: text forward pass", g->dev);
        /* passes queued before the failure still use the slot: let them end */
        if (queued) cudaStreamSynchronize(g->st);
        cudaGetLastError();
    }
    cudaSetDevice(prev);
    return rc;
}

extern "C" int nli_cuda_texts_collect(nli_cuda_clip *g, int slot, float *out) {
    nli_cg_text_slot *s = &g->ts[slot & 1];
    const size_t n = s->n, P = (size_t)g->cfg.projection_dim;
    if (n == 0) return 0;
    s->n = 0;
    if (!out) { /* drop: wait, ignore errors (the caller reports its own) */
        cudaEventSynchronize(s->done);
        cudaGetLastError();
        return 0;
    }
    CUDA_TRY(cudaEventSynchronize(s->done), fail);
    memcpy(out, s->out, n * P * 4);
    return 0;
fail:
    cudaGetLastError();
    nli_prefixerr("cuda:%d: text forward pass", g->dev);
    return -1;
}

extern "C" int nli_cuda_encode_texts(nli_cuda_clip *g, const int32_t *const *ids, const int *run, const int *pool,
                                    size_t n, float *out) {
    const size_t P = (size_t)g->cfg.projection_dim, cap = NLI_CUDA_TEXT_SLOT;
    size_t at[2] = {0, 0};
    int rc = 0, k = 0;
    for (size_t s = 0; s < n && rc == 0; s += cap, k ^= 1) {
        const size_t m = n - s < cap ? n - s : cap;
        if (nli_cuda_texts_collect(g, k, out + at[k] * P) != 0 ||
            nli_cuda_texts_submit(g, k, ids + s, run + s, pool + s, m) != 0)
            rc = -1;
        at[k] = s;
    }
    for (k = 0; k < 2; k++) /* after a failure: wait for the slots, drop them */
        if (nli_cuda_texts_collect(g, k, rc ? NULL : out + at[k] * P) != 0) rc = -1;
    return rc;
}
