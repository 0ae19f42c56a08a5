/* clip_cuda_impl.h — the CUDA CLIP engine's context, shared by the files
 * of src/clip/cuda (clip_cuda.cu: the ViT towers and the entry points;
 * resnet_cuda.cu: the ModifiedResNet vision tower). Private. */
#ifndef NEGLABEL_CLIP_CUDA_IMPL_H
#define NEGLABEL_CLIP_CUDA_IMPL_H
#include "cuda/cuda_util.h"
#include "kernels.h"
#include "clip_cuda.h"
extern "C" {
#include "clip.h"
}

struct nli_clip;
struct nli_cuda_rn; /* resnet_cuda.cu */

#define TEXT_ROWS 32768 /* token rows per text forward pass */

/* A text slot (text_cuda.cu): pinned host staging for up to
 * NLI_CUDA_TEXT_SLOT prompts packed into forward passes, and their
 * embeddings coming back; allocated on the first text call. */
typedef struct {
    int32_t *tok, *pos;   /* token rows of all the slot's passes, in order */
    int *pool;            /* per prompt: its pooled row within its pass */
    nli_attn_tile *tiles; /* per pass, its attention tiles (rows within the pass) */
    float *out;           /* n x P embeddings */
    size_t n;             /* prompts queued and not yet collected (0: none) */
    int failed;           /* queuing failed part-way: collect reports it */
    cudaEvent_t done;     /* recorded after the slot's last copy back */
} nli_cg_text_slot;

typedef struct {
    const float *ln1_w, *ln1_b, *qkv_b, *o_b, *ln2_w, *ln2_b, *fc1_b, *fc2_b;
    const void *qkv_w, *o_w, *fc1_w, *fc2_w; /* T */
    /* Sum of every bias the residual stream has received before LN1 and
     * LN2 of this block (o_b and fc2_b of the blocks before, and o_b of
     * this one for LN2; NULL before the first block's LN1): x holds the
     * GEMM outputs alone, LayerNorm adds these, nothing writes them back. */
    const float *cb1, *cb2;
} gblock;

/* SigLIP (cfg.siglip): what its towers add to CLIP's, on the device. The
 * attention-pooling head runs after post_layernorm of every token:
 * kv = ln W_kv^T (T GEMM, W_kv in_proj's last 2D rows), the probe's query
 * q (fp32, in_proj's first D rows applied to the probe at load, in double)
 * attends over each image's tokens (nli_k_siglip_probe), then in fp32:
 * r = o W_out^T; y = r + fc2(act(fc1(LN(r + out_b)))), with out_b + fc2_b
 * (bsum, summed at load) added last. */
typedef struct {
    const float *patch_b, *tproj_b; /* the patch embedding's and text_model.head's biases */
    const float *q;                 /* D: the probe's query, its bias included */
    const void *kv_w;               /* 2D x D, T */
    const float *kv_b, *out_w, *out_b, *ln_w, *ln_b, *fc1_w, *fc1_b, *fc2_w, *bsum; /* fp32 */
} nli_cg_siglip;

struct nli_cuda_clip {
    int dev, prec, tsize, max_batch;
    nli_clip_config cfg;
    cudaStream_t st;
    cublasHandle_t blas;
    float *wmem; /* every weight in fp32, as on the host */
    float *cumb; /* the cumulative biases of both towers (gblock cb1, cb2; *_cbf) */
    const float *t_cbf, *v_cbf; /* after the last block: for the final LayerNorm */
    void *tmem;  /* matrices converted to T (fp16/bf16) */
    gblock *tb, *vb;
    const float *tok_emb, *tpos, *tfin_w, *tfin_b, *tproj, *cls, *vpos, *pre_w, *pre_b, *post_w, *post_b, *vproj;
    const void *patch_w;
    /* workspace */
    size_t rows_cap;
    float *x, *ln; /* ln holds T values, or fp32 patch embeddings */
    void *big;     /* rows_cap x max(3D, I) of T: qkv, MLP hidden, patches */
    float *pooled, *outd;
    int *cls_idx;          /* b * T_vision */
    nli_attn_tile *vtiles;  /* vision tiles for max_batch images */
    int vtiles_per_image;
    /* text: one pass's rows on the device, and the two pinned host slots */
    int32_t *d_tok, *d_pos;
    int *d_pool;
    nli_attn_tile *d_tiles;
    nli_cg_text_slot ts[2];
    /* image slots */
    uint8_t *stage[2], *d_rgb;
    float *h_out[2];
    size_t n_slot[2];
    cudaEvent_t done[2];
    float *d_pix; /* float-input path (nl_embed_pixels, bench), allocated on first use */
    size_t d_pix_cap;
    size_t pix_batch; /* images d_pix takes at a time: max_batch, less after an out-of-memory retry */
    /* stage clock (benchmarks: nli_cuda_stage_clock_start): an event after each op */
    cudaEvent_t *sev;
    unsigned char *skind;
    int sn, scap;
    struct nli_cuda_rn *rn; /* the ModifiedResNet vision tower, or NULL (ViT) */
    nli_cg_siglip sg;       /* SigLIP's additions (cfg.siglip) */
    float *sg_mem;          /* its q and bsum (2 x D floats), computed at load */
};

/* Record the end of an op of kind k on the stream when the stage clock is
 * on; always 0, so that it chains with the launchers' ||. */
int nli_cg_mark(nli_cuda_clip *g, int k);
/* The activation code of a tower's MLP for nli_k_bias_act. */
int nli_cg_act(const nli_tower_config *tc);
/* The blocks of one tower over `rows` rows of x (seq_len: see
 * nli_k_attention). */
int nli_cg_run_blocks(nli_cuda_clip *g, const nli_tower_config *tc, const gblock *bl, int rows,
                      const nli_attn_tile *tiles, int n_tiles, const int *pos, int causal, int seq_len);
/* Release the text slots (text_cuda.cu; their work finished first). */
void nli_cg_text_free(nli_cuda_clip *g);

/* C[M,N] (row-major) = A[M,K] W[N,K]^T (+ beta C). T inputs unless f32in;
 * T output unless c_f32. */
int nli_cg_gemm(nli_cuda_clip *g, const void *A, const void *W, void *C, int c_f32, int f32in, int M, int N, int K,
                float beta);
/* Device copy in T of one fp32 host weight matrix of c (fp32: the weight
 * itself in g->wmem); *off counts the T floats used in g->tmem. */
const void *nli_cg_as_t(nli_cuda_clip *g, const struct nli_clip *c, const float *host, size_t n, size_t *off);
/* The device address of a host weight of c (in g->wmem). */
const float *nli_cg_dev(nli_cuda_clip *g, const struct nli_clip *c, const float *host);

/* ModifiedResNet vision tower (resnet_cuda.cu). */
size_t nli_cg_rn_matrix_floats(const struct nli_clip *c);   /* T floats of its matrices */
int nli_cg_rn_setup(nli_cuda_clip *g, const struct nli_clip *c, size_t *off); /* weights; -1: error set */
size_t nli_cg_rn_per_image(const nli_cuda_clip *g);         /* workspace bytes per image */
cudaError_t nli_cg_rn_alloc(nli_cuda_clip *g, int B);       /* workspace for B images */
void nli_cg_rn_free_workspace(nli_cuda_clip *g);
void nli_cg_rn_free(nli_cuda_clip *g);
/* n images (u8 HWC on the device, or f32 CHW) -> g->outd (n x P, fp32). */
int nli_cg_rn_forward(nli_cuda_clip *g, const uint8_t *rgb, const float *pix, int n);
#endif
