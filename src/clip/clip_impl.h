/* clip_impl.h — the nli_clip struct shared by clip_weights.c (loading) and
 * clip_vision.c / clip_text.c (forward passes). Private to the engine. */
#ifndef NEGLABEL_CLIP_IMPL_H
#define NEGLABEL_CLIP_IMPL_H
#include "clip.h"
#include "gemm_bf16.h"

/* One pre-LN transformer block. q, k and v are fused at load time into one
 * [3*hidden, hidden] weight so a block needs one GEMM for them. */
typedef struct {
    const float *ln1_w, *ln1_b, *qkv_w, *qkv_b, *o_w, *o_b;
    const float *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    /* bf16 copies of the four weights (nli_clip_use_bf16), data NULL in fp32 */
    nli_bf16_matrix qkv_p, o_p, fc1_p, fc2_p;
} nli_block;

/* SigLIP's tensors beyond CLIP's ViT and text tower: the MAP head
 * (vision_model.head: a learned probe attends over the tokens through
 * nn.MultiheadAttention, then LayerNorm + MLP with a residual). */
typedef struct {
    const float *patch_b, *tproj_b, *probe, *in_w, *in_b, *out_w, *out_b, *ln_w, *ln_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} nli_siglip;
#define NLI_SIGLIP_TENSORS 13

struct nli_clip {
    nli_clip_config cfg;
    int n_threads;
    size_t n_params; /* as stored in the checkpoint (q,k,v counted once each) */
    float *mem;      /* one allocation (nli_pages_alloc) holding every weight below */
    size_t mem_bytes;
    /* loaded packed for bf16 (nli_clip_load_ex): the float32 copies of the
     * packed matrices were given back, their pointers below are NULL */
    int fp32_released;
    float logit_scale;
    /* text tower */
    const float *tok_emb, *tpos_emb, *tfinal_w, *tfinal_b, *tproj;
    nli_block *tblk;
    /* vision tower */
    const float *cls, *patch_w, *vpos_emb, *pre_w, *pre_b, *post_w, *post_b, *vproj;
    nli_block *vblk;
    /* vision tower when cfg.arch is NLI_ARCH_RESNET (clip_resnet.h), else NULL */
    struct nli_resnet *rn;
    /* vision tower and projections when cfg.arch is NLI_ARCH_GROUPVIT (clip_groupvit.h), else NULL */
    struct nli_groupvit *gv;
    /* text tower when cfg.text_arch is NLI_TEXT_ROBERTA (AltCLIP, clip_roberta.c), else NULL */
    struct nli_roberta *rb;
    /* vision tower when cfg.arch is NLI_ARCH_EFFNET (ALIGN, clip_effnet.h), else NULL */
    struct nli_effnet *en;
    /* SigLIP (cfg.siglip, clip_siglip.c): the patch embedding's and
     * text_model.head's biases and the attention-pooling head; sg_off their
     * offsets in mem between plan and bind */
    nli_siglip sg;
    size_t sg_off[NLI_SIGLIP_TENSORS];
    /* bf16 on the CPU (nli_clip_use_bf16): the packed weights, one allocation */
    uint16_t *bf16_mem;
    nli_bf16_matrix patch_p;
    /* tests (nli_clip_capture): the hidden states of the next single input */
    float *capture;
    /* CUDA engine (nli_clip_use_device), or NULL: the CPU runs the towers */
    struct nli_cuda_clip *gpu;
    /* the weight files read, as opened (nli_clip_weight_files) */
    char **files;
    int n_files;
};

/* Pack the matrices the bf16 kernels multiply by (nli_clip_use_bf16).
 * fill NULL: from their float32 copies in c->mem. Else, for a load
 * (clip_weights.c): before a matrix is packed, fill(ctx, first, count) must
 * write its float32 values to c->mem[first, first + count), and once packed
 * those pages are given back and its float32 pointer cleared
 * (c->fp32_released). -1 with the error set (then nothing is packed). */
int nli_clip_pack_bf16(nli_clip *c, int (*fill)(void *ctx, size_t first, size_t count), void *ctx);

/* Shared forward-pass pieces (clip_vision.c). All are deterministic for any
 * thread count: each output row is computed by one thread. */
void nli_layernorm(const float *x, const float *w, const float *b, float *y, size_t rows, int dim, double eps);
/* x = block(x) for `items` sequences stored as consecutive rows: item b is
 * rows [start[b], start[b] + len[b]). causal: mask future positions.
 * ws: nli_block_ws_floats() floats for `rows` rows and sequences <= maxT
 * (bf16: the block's weights are packed, nli_clip_use_bf16). */
void nli_block_forward(const nli_tower_config *tc, const nli_block *bk, float *x, size_t rows, size_t items,
                      const size_t *start, const int *len, int maxT, int causal, int n_threads, float *ws);
/* The tower's hidden_act as NLI_ACT_* (quick_gelu, gelu or its tanh
 * approximation); nli_activate: x[0..n) = it(x) in place, float32. */
int nli_tower_act(const nli_tower_config *tc);
void nli_activate(const nli_tower_config *tc, float *x, size_t n, int n_threads);
size_t nli_block_ws_floats(const nli_tower_config *tc, size_t rows, int maxT, int n_threads, int bf16);
/* Softmax of each row of S (rows x cols) in place; causal: S holds query
 * rows row0..row0+rows-1 and row i is taken over 0..row0+i, the rest set
 * to 0. */
void nli_softmax_rows(float *S, int rows, int cols, int causal, int row0);
/* Every head of every sequence of qkv (rows [q | k | v], 3 * hidden wide)
 * into att, float32, one (sequence, head) per job; scratch: n_threads *
 * nli_attn_block_floats(maxT) floats. */
void nli_attention(const nli_tower_config *tc, const float *qkv, float *att, size_t items, const size_t *start,
                   const int *len, int maxT, int causal, int n_threads, float *scratch);
/* One query's attention (one head, hd wide) over T rows of kv ([k | v],
 * 2 * E wide; the head's columns from col): o = softmax(q k^T / sqrt(hd)) v.
 * s: T floats of scratch. The ResNet's attention pool and SigLIP's head. */
void nli_attend_query(const float *q, const float *kv, int T, int E, int col, int hd, float *s, float *o);
/* SigLIP's head (clip_siglip.c): x holds nb images' T rows after
 * post_layernorm; out gets nb x hidden pooled embeddings. -1 on out of
 * memory (error set). Its plan and bind are in weights_plan.h. */
int nli_siglip_pool(const nli_clip *c, const float *x, size_t nb, int T, float *out);
/* AltCLIP's text tower (clip_roberta.c; its plan in weights_plan.h). */
typedef struct nli_roberta nli_roberta;
void nli_roberta_bind(nli_clip *c, const float *mem);
void nli_roberta_free(nli_roberta *r);
/* Its blocks (packed for the CPU's bf16 by clip_bf16.c) and their count. */
nli_block *nli_roberta_blocks(nli_roberta *r, int *layers);
int nli_roberta_encode_texts(nli_clip *c, const int32_t *const *ids, const size_t *lens, size_t n, float *out);
/* im2col of nb images (CHW, S x S, C channels) in p x p patches: one row
 * per patch (row-major over the grid), ordered (c, ky, kx) like a conv
 * weight; patches: nb * (S/p)^2 rows of C*p*p floats. */
void nli_patches(const float *pixels, size_t nb, int C, int S, int p, float *patches, int n_threads);
/* Attention of head h of one sequence of T rows in bf16 (clip_bf16.c):
 * scores and outputs from bf16 products with float32 accumulation, the
 * softmax in float32. Same arguments as the float32 attend (clip_vision.c);
 * S: nli_attn_bf16_scratch_floats(maxT, hd) floats. */
void nli_attend_bf16(const float *qkv, float *out, int T, int D, int hd, int h, int causal, float *S);
size_t nli_attn_bf16_scratch_floats(int maxT, int hd);
/* nli_layernorm with the result rounded to bf16 into a tiled buffer (the
 * next product's left operand, nli_bf16_tile), padding rows zeroed. */
void nli_layernorm_tiled(const float *x, const float *w, const float *b, uint16_t *y, size_t rows, int dim,
                         double eps);
/* x (rows x K, float32) * W^T + bias on the bf16 weights when W->data,
 * else on the float32 ones (w): C[rows][W's n]. ws: nli_gemm_bf16_ws_bytes(rows, k)
 * bytes when W->data. */
void nli_linear(const float *x, const float *w, const nli_bf16_matrix *W, const float *bias, float *C, size_t rows,
                size_t n, size_t k, int n_threads, void *ws);

/* Rows per forward chunk: bounds the workspace (one sequence at least). */
#define NL_CHUNK_ROWS 2048

/* Attention scores per (sequence, head) are computed in blocks of query
 * rows: the whole T x T matrix up to NL_ATTN_BLOCK floats (T <= 2048,
 * every released CLIP), else blocks of a multiple of 32 rows within it,
 * so a config with 65,536 patches needs 16 MiB of scores per thread, not
 * 17 GB. Rows are independent: blocking changes no result's meaning. */
#define NL_ATTN_BLOCK ((size_t)1 << 22)
static inline int nli_attn_rows(int T) {
    if ((size_t)T * (size_t)T <= NL_ATTN_BLOCK) return T;
    size_t r = (NL_ATTN_BLOCK / (size_t)T) & ~(size_t)31;
    return r < 32 ? 32 : (int)r;
}
/* The score floats a block takes, for every T <= maxT. */
static inline size_t nli_attn_block_floats(int maxT) {
    size_t T = (size_t)maxT;
    if (T * T <= NL_ATTN_BLOCK) return T * T;
    return 32 * T > NL_ATTN_BLOCK ? 32 * T : NL_ATTN_BLOCK;
}
/* Rows the MLP's hidden layer (rows x intermediate_size) is computed for at
 * a time: a multiple of 32, NL_CHUNK_ROWS (every chunk whole: all real
 * models) unless that would pass 16 Mi floats. */
static inline size_t nli_mlp_rows(int I) {
    size_t r = (((size_t)1 << 24) / (size_t)I) & ~(size_t)31;
    return r < 32 ? 32 : r > NL_CHUNK_ROWS ? NL_CHUNK_ROWS : r;
}
/* Set OpenBLAS and OpenMP to the model's thread count for this call. */
void nli_clip_use_threads(const nli_clip *c);
#endif
