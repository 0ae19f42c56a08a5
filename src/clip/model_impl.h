/* model_impl.h — the inside of nl_model, shared by model.c (loading,
 * texts) and model_images.c (images). */
#ifndef NEGLABEL_MODEL_IMPL_H
#define NEGLABEL_MODEL_IMPL_H
#include "clip.h"
#include "neglabel.h"
#include "tokenizer.h"
#include "unigram.h"
#include "wordpiece.h"
#include "spm.h"

struct nl_model {
    nli_clip *clip;
    nli_tokenizer *tok; /* CLIP's BPE, or NULL when ug: */
    nli_unigram *ug;    /* AltCLIP's XLM-R tokenizer (cfg->text_arch NLI_TEXT_ROBERTA) */
    nli_wordpiece *wp;  /* ALIGN's BERT tokenizer (cfg->text_arch NLI_TEXT_BERT) */
    nli_spm *sp;        /* SigLIP's SentencePiece tokenizer (cfg->siglip) */
    const nli_clip_config *cfg;
    int n_threads, batch;
    nl_device device;       /* resolved: CPU or CUDA */
    int device_index;
    nl_precision precision; /* resolved: never DEFAULT */
    char device_name[160];
    char *dir;
    char fingerprint[64];
};
#endif
