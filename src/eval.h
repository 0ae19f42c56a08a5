/* eval.h — NegMining from a model, and the end-to-end evaluation. */
#ifndef NEGLABEL_EVAL_H
#define NEGLABEL_EVAL_H
#include "neglabel.h"
#include "pipeline.h"

/* Prompt templates: ID labels and nouns share one ensemble (the reference
 * uses "the nice {}" for both); adjectives have their own. */
typedef struct {
    const char *const *noun; size_t n_noun;
    const char *const *adj; size_t n_adj;
    const char *mcm; /* MCM's ID prompt, "a photo of a {}" */
} nl_templates;
nl_templates nl_templates_default(void);

/* Mine negatives for the given (normalised) ID embeddings: load the corpus,
 * drop the candidates equal (ignoring ASCII case) to a word of drop (NULL:
 * none; the ID class names with --remove-id-labels), embed every candidate
 * (cached), run nl_mine. Fills neg (words, prompts,
 * pos, templates, model fingerprint) and, when emb is non-NULL, *emb
 * (malloc'd, neg->words.n x dim, normalised). qsim (optional) receives the
 * selected labels' quantile similarities (malloc'd). */
int nl_mine_model(nl_model *m, const nl_embed_opts *o, const float *id_emb, size_t n_id, const nl_corpus_params *cp,
                  const nl_strvec *drop, const nl_mine_params *mp, const nl_templates *t, nl_negatives *neg, float **emb, double **qsim);

/* Write a negatives file (header + TSV), atomically. */
int nl_negatives_write(const char *path, const nl_negatives *neg, const double *qsim);

typedef struct {
    const char *model_dir, *id_labels, *id_spec;
    nl_model_params model;           /* device, precision, batch, threads */
    const char *const *ood_names; const char *const *ood_specs; size_t n_ood;
    const char *negatives;           /* NULL: mine */
    nl_corpus_params corpus;
    nl_mine_params mine;
    nl_templates templates;
    nl_score_params neglabel, mcm;
    nl_fpr_convention convention;
    nl_resample resample;
    const char *out_dir;             /* results.json, scores.csv, report.html, negatives.tsv */
    nl_embed_opts embed;
    int strict;                      /* unreadable images are fatal */
    int allow_duplicate_labels;
    int remove_id_labels;            /* drop ID class names from the candidates */
    int n_examples;                  /* example images per set in the report */
} nl_eval_params;

int nl_eval(const nl_eval_params *p);
#endif
