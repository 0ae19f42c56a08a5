/* clip_weights.c — find, validate and convert every CLIP tensor into one
 * float32 allocation. The checkpoint is checked completely (presence, shape
 * implied by the config, convertible dtype) before anything is allocated,
 * so a hostile header cannot make us allocate more than the files hold.
 *
 * Memory: each tensor's mapped file pages are given back as soon as it is
 * converted, so the peak is the float32 copy plus the tensors in flight,
 * not the file plus the copy. Loaded for bf16 (nli_clip_load_ex), the
 * matrices the bf16 kernels multiply by are packed one by one as they are
 * converted and their float32 pages given back too: the peak is then the
 * packed bf16 matrices plus the float32 rest (README, "Memory"). */
#include "clip_impl.h"
#include "cuda/clip_cuda.h"
#include "gemm.h"
#include "safetensors.h"
#include "weights_plan.h"
#include "clip_resnet.h"
#include "clip_groupvit.h"
#include "clip_effnet.h"
#include "util.h"
#include "neglabel.h"

#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Queue one tensor; its float32 copy goes at the next offset in mem. */
int nli_plan_need(nli_plan *p, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    if (nli_grow((void **)&p->w, &p->cap, p->n + 1, sizeof(nli_want)) != 0) return -1;
    nli_want *w = &p->w[p->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    w->numel = 1;
    for (int i = 0; i < ndim; i++) {
        w->shape[i] = d[i];
        w->numel *= (size_t)d[i]; /* config bounds keep this far from overflow */
    }
    if (off) p->total = (p->total + 15) & ~(size_t)15;
    w->off = p->total;
    p->total += w->numel;
    p->params += w->numel;
    if (off) *off = w->off;
    return 0;
}

int nli_plan_need_t(nli_plan *p, size_t *off, const char *name, int64_t d0, int64_t d1) {
    if (nli_plan_need(p, off, name, 2, d1, d0, 0, 0)) return -1;
    p->w[p->n - 1].transpose = 1;
    return 0;
}

static int need(nli_plan *p, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    return nli_plan_need(p, off, name, ndim, d0, d1, d2, d3);
}

int nli_plan_block(nli_plan *p, int openclip, const char *tower, int i, const nli_tower_config *tc, nli_block_off *bo) {
    char n[160];
    int64_t D = tc->hidden_size, I = tc->intermediate_size;
    size_t *o = bo->o;
    /* slot -1: k and v parts of the fused qkv, reached through q's offset */
#define NEED(field, slot, nd, a, b)                                                                         \
    do {                                                                                                    \
        if (openclip) snprintf(n, sizeof n, "%stransformer.resblocks.%d.%s", tower, i, field);              \
        else snprintf(n, sizeof n, "%s.%d.%s", tower, i, field);                                             \
        if (need(p, (slot) >= 0 ? o + ((slot) >= 0 ? (slot) : 0) : NULL, n, nd, a, b, 0, 0)) return -1; \
    } while (0)
    if (openclip) {
        /* nn.MultiheadAttention's in_proj is already [q; k; v] */
        NEED("ln_1.weight", 0, 1, D, 0);
        NEED("ln_1.bias", 1, 1, D, 0);
        NEED("attn.in_proj_weight", 2, 2, 3 * D, D);
        NEED("attn.in_proj_bias", 3, 1, 3 * D, 0);
        NEED("attn.out_proj.weight", 4, 2, D, D);
        NEED("attn.out_proj.bias", 5, 1, D, 0);
        NEED("ln_2.weight", 6, 1, D, 0);
        NEED("ln_2.bias", 7, 1, D, 0);
        NEED("mlp.c_fc.weight", 8, 2, I, D);
        NEED("mlp.c_fc.bias", 9, 1, I, 0);
        NEED("mlp.c_proj.weight", 10, 2, D, I);
        NEED("mlp.c_proj.bias", 11, 1, D, 0);
        return 0;
    }
    NEED("layer_norm1.weight", 0, 1, D, 0);
    NEED("layer_norm1.bias", 1, 1, D, 0);
    /* q, k, v weights then q, k, v biases, each consecutive: fused qkv. */
    NEED("self_attn.q_proj.weight", 2, 2, D, D);
    NEED("self_attn.k_proj.weight", -1, 2, D, D);
    NEED("self_attn.v_proj.weight", -1, 2, D, D);
    NEED("self_attn.q_proj.bias", 3, 1, D, 0);
    NEED("self_attn.k_proj.bias", -1, 1, D, 0);
    NEED("self_attn.v_proj.bias", -1, 1, D, 0);
    NEED("self_attn.out_proj.weight", 4, 2, D, D);
    NEED("self_attn.out_proj.bias", 5, 1, D, 0);
    NEED("layer_norm2.weight", 6, 1, D, 0);
    NEED("layer_norm2.bias", 7, 1, D, 0);
    NEED("mlp.fc1.weight", 8, 2, I, D);
    NEED("mlp.fc1.bias", 9, 1, I, 0);
    NEED("mlp.fc2.weight", 10, 2, D, I);
    NEED("mlp.fc2.bias", 11, 1, D, 0);
#undef NEED
    return 0;
}

void nli_block_bind(nli_block *b, const float *mem, const nli_block_off *bo) {
    const float **f[12] = {&b->ln1_w, &b->ln1_b, &b->qkv_w, &b->qkv_b, &b->o_w, &b->o_b,
                           &b->ln2_w, &b->ln2_b, &b->fc1_w, &b->fc1_b, &b->fc2_w, &b->fc2_b};
    for (int i = 0; i < 12; i++) *f[i] = mem + bo->o[i];
}

static void shape_str(char *s, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++) k += (size_t)snprintf(s + k, cap - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < cap) snprintf(s + k, cap - k, "]");
}

/* Every wanted tensor present, shaped as the config implies, convertible. */
static int validate(const nli_st *st, nli_plan *p, nli_clip_config *cfg) {
    int first_dtype = -1, mixed = 0;
    for (size_t i = 0; i < p->n; i++) {
        nli_want *w = &p->w[i];
        const nli_st_tensor *t = nli_st_find(st, w->name);
        if (!t) { nli_seterr("%s: tensor '%s' missing", st->source, w->name); return -1; }
        int ok = t->ndim == w->ndim;
        for (int d = 0; ok && d < w->ndim; d++) ok = t->shape[d] == w->shape[d];
        if (!ok) {
            char a[96], b[96];
            shape_str(a, sizeof a, t->ndim, t->shape);
            shape_str(b, sizeof b, w->ndim, w->shape);
            nli_seterr("%s: tensor '%s' has shape %s, config implies %s", st->paths[t->file], w->name, a, b);
            return -1;
        }
        if (t->dtype != NL_ST_F32 && t->dtype != NL_ST_F16 && t->dtype != NL_ST_BF16) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (only F32, F16 and BF16 weights are supported)",
                      st->paths[t->file], w->name, nli_st_dtype_name(t->dtype));
            return -1;
        }
        if (first_dtype < 0) first_dtype = (int)t->dtype;
        else if ((int)t->dtype != first_dtype) mixed = 1;
        w->t = t;
    }
    snprintf(cfg->dtype, sizeof cfg->dtype, "%s", mixed ? "mixed" : nli_st_dtype_name((nli_st_dtype)first_dtype));
    return 0;
}

/* One tensor to float32 at its offset (transposed when the plan says so);
 * then its file pages go. */
static int convert(const nli_st *st, const nli_want *w, float *mem) {
    float *dst = mem + w->off;
    if (!w->transpose) {
        if (nli_st_to_f32(st, w->t, dst) != 0) return -1;
    } else {
        float *tmp = nli_mallocarray(w->numel, sizeof(float));
        if (!tmp || nli_st_to_f32(st, w->t, tmp) != 0) { free(tmp); return -1; }
        size_t r = (size_t)w->shape[0], k = (size_t)w->shape[1]; /* stored [r, k]: we want [k, r] */
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < k; j++) dst[j * r + i] = tmp[i * k + j];
        free(tmp);
    }
    nli_pages_drop(w->t->data, w->t->nbytes);
    return 0;
}

typedef struct {
    const nli_st *st;
    nli_plan *p;
    float *mem;
} fill_ctx;

/* nli_clip_pack_bf16's fill: convert the tensors making up the float32
 * range [first, first + count) of c->mem (wants are in offset order). */
static int fill_range(void *ctx, size_t first, size_t count) {
    fill_ctx *f = ctx;
    size_t lo = 0, hi = f->p->n;
    while (lo < hi) { /* first want ending after `first` */
        size_t mid = lo + (hi - lo) / 2;
        if (f->p->w[mid].off + f->p->w[mid].numel <= first) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < f->p->n && f->p->w[i].off < first + count; i++) {
        nli_want *w = &f->p->w[i];
        if (w->off < first || w->off + w->numel > first + count) {
            nli_seterr("internal error: packed range [%zu,+%zu) splits tensor '%s'", first, count, w->name);
            return -1;
        }
        if (convert(f->st, w, f->mem) != 0) return -1;
        w->done = 1;
    }
    return 0;
}

static nli_clip *build(const char *dir, const char *weights_path, int n_threads, int bf16, nli_layout layout) {
    nli_clip *c = nli_calloc(1, sizeof *c);
    nli_st st = {0};
    nli_plan p = {0};
    nli_block_off *bo = NULL;
    if (!c) return NULL;
    if (bf16 && !nli_bf16_available()) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "this CPU has no native bf16 (AVX512-BF16 or AMX)");
        goto fail;
    }
    if (nli_clip_config_load(dir, layout, &c->cfg) != 0) goto fail;
    if (weights_path) {
        if (nli_st_open_file(weights_path, &st) != 0) goto fail;
    } else if (c->cfg.format == NLI_FORMAT_OPENCLIP) {
        /* OpenCLIP's Hub layout: one open_clip_model.safetensors */
        char *f = nli_path_join(dir, "open_clip_model.safetensors");
        int rc = !f ? -1 : !nli_file_exists(f) ? (nli_seterr_code(NL_ERR_IO, "%s: no open_clip_model.safetensors (the "
                                                                              "weights of an OpenCLIP folder)", dir), -1)
                                              : nli_st_open_file(f, &st);
        free(f);
        if (rc != 0) goto fail;
    } else if (nli_st_open_dir(dir, &st) != 0) goto fail;
    c->n_threads = n_threads > 0 ? n_threads : nli_num_threads();
    const nli_tower_config *tc = &c->cfg.text, *vc = &c->cfg.vision;
    int64_t Dt = tc->hidden_size, Dv = vc->hidden_size, P = c->cfg.projection_dim, ps = vc->patch_size;
    int64_t grid = vc->image_size / vc->patch_size;
    size_t o_tok = 0, o_tpos = 0, o_tfw = 0, o_tfb = 0, o_tproj = 0, o_cls = 0, o_patch = 0, o_vpos = 0, o_prew = 0, o_preb = 0, o_postw = 0,
           o_postb = 0, o_vproj = 0, o_ls = 0;
    const int rn = c->cfg.arch == NLI_ARCH_RESNET, gv = c->cfg.arch == NLI_ARCH_GROUPVIT;
    const int en = c->cfg.arch == NLI_ARCH_EFFNET, sg = c->cfg.siglip;
    const int rb = c->cfg.text_arch != NLI_TEXT_CLIP; /* AltCLIP's RoBERTa, ALIGN's BERT */
    int nt = rb ? 0 : tc->num_hidden_layers, nv = rn || gv || en ? 0 : vc->num_hidden_layers;
    bo = nli_calloc((size_t)(nt + nv), sizeof *bo);
    c->tblk = nli_calloc((size_t)nt, sizeof(nli_block));
    c->vblk = nli_calloc((size_t)nv, sizeof(nli_block));
    if (!bo || !c->tblk || !c->vblk) goto fail;
    /* names: Hugging Face CLIPModel, or OpenCLIP's state dict (whose
     * projections are x @ proj, stored [in, out]: transposed on load) */
    const int oc = c->cfg.format == NLI_FORMAT_OPENCLIP;
    /* AltCLIP as transformers 5 saves it names the ViT's layers
     * encoder.layer.i (it renames layer. to layers. on load, and back) */
    const int vlayer = c->cfg.text_arch == NLI_TEXT_ROBERTA &&
                       nli_st_find(&st, "vision_model.encoder.layer.0.layer_norm1.weight") &&
                       !nli_st_find(&st, "vision_model.encoder.layers.0.layer_norm1.weight");
    const char *tname = oc ? "" : "text_model.encoder.layers",
               *vname = oc ? "visual." : vlayer ? "vision_model.encoder.layer" : "vision_model.encoder.layers";
    if (rb) {
        if (nli_roberta_plan(c, &p, &st)) goto fail;
    } else {
        if (need(&p, &o_tok, oc ? "token_embedding.weight" : "text_model.embeddings.token_embedding.weight", 2,
                 tc->vocab_size, Dt, 0, 0) ||
            need(&p, &o_tpos, oc ? "positional_embedding" : "text_model.embeddings.position_embedding.weight", 2,
                 tc->max_position_embeddings, Dt, 0, 0))
            goto fail;
        for (int i = 0; i < nt; i++)
            if (nli_plan_block(&p, oc, tname, i, tc, &bo[i])) goto fail;
        if (need(&p, &o_tfw, oc ? "ln_final.weight" : "text_model.final_layer_norm.weight", 1, Dt, 0, 0, 0) ||
            need(&p, &o_tfb, oc ? "ln_final.bias" : "text_model.final_layer_norm.bias", 1, Dt, 0, 0, 0) ||
            (gv ? 0 /* an MLP: nli_groupvit_plan */
             : oc ? nli_plan_need_t(&p, &o_tproj, "text_projection", P, Dt)
             : sg ? need(&p, &o_tproj, "text_model.head.weight", 2, P, Dt, 0, 0)
                  : need(&p, &o_tproj, "text_projection.weight", 2, P, Dt, 0, 0)))
            goto fail;
    }
    /* ALIGN has a temperature (logits divided by it) instead; SigLIP's is
     * one value in a vector (its logit_bias is not needed) */
    if (need(&p, &o_ls, en ? "temperature" : "logit_scale", sg, 1, 0, 0, 0)) goto fail;
    if (rn) {
        if (nli_resnet_plan(c, &p)) goto fail;
    } else if (en) {
        if (nli_effnet_plan(c, &p)) goto fail;
    } else if (gv) {
        if (nli_groupvit_plan(c, &p)) goto fail;
    } else {
        if ((!sg && need(&p, &o_cls, oc ? "visual.class_embedding" : "vision_model.embeddings.class_embedding", 1, Dv,
                         0, 0, 0)) ||
            need(&p, &o_patch, oc ? "visual.conv1.weight" : "vision_model.embeddings.patch_embedding.weight", 4, Dv,
                 vc->num_channels, ps, ps) ||
            need(&p, &o_vpos, oc ? "visual.positional_embedding" : "vision_model.embeddings.position_embedding.weight",
                 2, grid * grid + !sg, Dv, 0, 0) ||
            (!sg && need(&p, &o_prew, oc ? "visual.ln_pre.weight" : "vision_model.pre_layrnorm.weight", 1, Dv, 0, 0, 0)) ||
            (!sg && need(&p, &o_preb, oc ? "visual.ln_pre.bias" : "vision_model.pre_layrnorm.bias", 1, Dv, 0, 0, 0)))
            goto fail;
        for (int i = 0; i < nv; i++)
            if (nli_plan_block(&p, oc, vname, i, vc, &bo[nt + i])) goto fail;
        if (need(&p, &o_postw, oc ? "visual.ln_post.weight" : "vision_model.post_layernorm.weight", 1, Dv, 0, 0, 0) ||
            need(&p, &o_postb, oc ? "visual.ln_post.bias" : "vision_model.post_layernorm.bias", 1, Dv, 0, 0, 0) ||
            (sg ? nli_siglip_plan(c, &p) /* the head, no projection */
             : oc ? nli_plan_need_t(&p, &o_vproj, "visual.proj", P, Dv)
                  : need(&p, &o_vproj, "visual_projection.weight", 2, P, Dv, 0, 0)))
            goto fail;
    }
    if (validate(&st, &p, &c->cfg) != 0) goto fail;
    /* pages, not malloc: a bf16 load gives back the ranges it has packed */
    if (p.total > SIZE_MAX / sizeof(float)) { nli_seterr("%s: weights too large", st.source); goto fail; }
    if (!(c->mem = nli_pages_alloc(p.total * sizeof(float)))) { nli_prefixerr_file(st.source); goto fail; }
    c->mem_bytes = p.total * sizeof(float);
    float *m = c->mem;
    c->tok_emb = m + o_tok; c->tpos_emb = m + o_tpos; c->tfinal_w = m + o_tfw; c->tfinal_b = m + o_tfb;
    c->tproj = m + o_tproj; c->cls = m + o_cls; c->patch_w = m + o_patch; c->vpos_emb = m + o_vpos;
    c->pre_w = m + o_prew; c->pre_b = m + o_preb; c->post_w = m + o_postw; c->post_b = m + o_postb;
    c->vproj = m + o_vproj;
    for (int i = 0; i < nt; i++) nli_block_bind(&c->tblk[i], m, &bo[i]);
    for (int i = 0; i < nv; i++) nli_block_bind(&c->vblk[i], m, &bo[nt + i]);
    /* bound before packing: a bf16 load packs the RoBERTa blocks too, and
     * clears the pointers to the float32 matrices it gives back */
    if (rb) nli_roberta_bind(c, m);
    c->n_params = p.params;
    if (bf16) {
        fill_ctx f = {&st, &p, m};
        if (nli_clip_pack_bf16(c, fill_range, &f) != 0) { nli_prefixerr_file(st.source); goto fail; }
    }
    int bad = 0;
    nli_saved_err err;
    /* Conversion is embarrassingly parallel over tensors. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->n_threads)
    for (size_t i = 0; i < p.n; i++) {
        if (bad || p.w[i].done) continue;
        if (convert(&st, &p.w[i], m) != 0) {
#pragma omp critical
            if (!bad) { bad = 1; nli_err_save(&err); }
        }
    }
    if (bad) { nli_err_restore(&err); goto fail; }
    if (rn && nli_resnet_bind(c, m) != 0) goto fail;
    if (gv && nli_groupvit_bind(c, m) != 0) goto fail;
    if (en && nli_effnet_bind(c, m) != 0) goto fail;
    if (sg) nli_siglip_bind(c, m);
    c->logit_scale = en ? -logf(m[o_ls]) : m[o_ls]; /* log of what the cosines are multiplied by */
    /* the file names, kept for the model's fingerprint */
    if (!(c->files = nli_calloc((size_t)st.n_files, sizeof *c->files))) goto fail;
    for (; c->n_files < st.n_files; c->n_files++)
        if (!(c->files[c->n_files] = nli_strdup(st.paths[c->n_files]))) goto fail;
    free(p.w);
    free(bo);
    nli_st_close(&st);
    return c;
fail:
    free(p.w);
    free(bo);
    nli_st_close(&st);
    nli_clip_free(c);
    return NULL;
}

nli_clip *nli_clip_load(const char *dir, int n_threads) { return build(dir, NULL, n_threads, 0, NLI_LAYOUT_AUTO); }

nli_clip *nli_clip_load_file(const char *dir, const char *weights_path, int n_threads) {
    return build(dir, weights_path, n_threads, 0, NLI_LAYOUT_AUTO);
}

nli_clip *nli_clip_load_ex(const char *dir, const char *weights_path, int n_threads, int bf16, nli_layout layout) {
    return build(dir, weights_path, n_threads, bf16, layout);
}

void nli_clip_free(nli_clip *c) {
    if (!c) return;
    nli_cuda_clip_free(c->gpu);
    nli_pages_free(c->mem, c->mem_bytes);
    free(c->bf16_mem);
    free(c->tblk);
    free(c->vblk);
    if (c->rn) free(c->rn->blk);
    free(c->rn);
    nli_groupvit_free(c->gv);
    nli_roberta_free(c->rb);
    nli_effnet_free(c->en);
    for (int i = 0; i < c->n_files; i++) free(c->files[i]);
    free(c->files);
    free(c);
}

const nli_clip_config *nli_clip_get_config(const nli_clip *c) { return &c->cfg; }
size_t nli_clip_param_count(const nli_clip *c) { return c->n_params; }
const char *const *nli_clip_weight_files(const nli_clip *c, int *n) {
    *n = c->n_files;
    return (const char *const *)c->files;
}
float nli_clip_logit_scale(const nli_clip *c) { return c->logit_scale; }

int nli_clip_use_device(nli_clip *c, int index, int precision, int max_batch) {
    nli_cuda_clip_free(c->gpu);
    c->gpu = NULL;
    if (index < 0) return 0;
    if (nli_clip_cpu_only(&c->cfg)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s runs on the CPU only (fp32): use --device cpu", nli_clip_arch_name(&c->cfg));
        return -1;
    }
    if (c->fp32_released) {
        nli_seterr("the model was loaded packed for the CPU's bf16 (its float32 matrices released): reload it for a GPU");
        return -1;
    }
    c->gpu = nli_cuda_clip_create(c, index, precision, max_batch);
    return c->gpu ? 0 : -1;
}

struct nli_cuda_clip *nli_clip_gpu(const nli_clip *c) { return c->gpu; }

void nli_clip_capture(nli_clip *c, float *buf) { c->capture = buf; }

void nli_clip_use_threads(const nli_clip *c) {
    nli_gemm_set_threads(c->n_threads);
    omp_set_num_threads(c->n_threads);
}
