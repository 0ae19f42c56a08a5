/* pipeline.h — the pieces the CLI commands and nl_eval share: label and
 * list files, prompt templates, negatives files, dataset walking, and
 * embedding with the on-disk cache. */
#ifndef NEGLABEL_PIPELINE_H
#define NEGLABEL_PIPELINE_H
#include <stddef.h>
#include <stdint.h>
#include "neglabel.h"

typedef struct { char **v; size_t n, cap; } nl_strvec;
int nl_strvec_push(nl_strvec *s, const char *str); /* copies */
int nl_strvec_push_owned(nl_strvec *s, char *str); /* takes ownership (frees on error) */
void nl_strvec_free(nl_strvec *s);

/* Non-empty lines of a UTF-8 text file (CR/LF stripped, surrounding spaces
 * trimmed; invalid UTF-8 or NUL bytes are errors naming the line). */
int nl_read_lines(const char *path, nl_strvec *out);
/* ID class names: at least one. A duplicate is an error naming both entries
 * unless allow_duplicates (CLIP's ImageNet names repeat "missile" and
 * "sunglasses"; two such classes are indistinguishable), then a warning. */
int nl_read_id_labels(const char *path, int allow_duplicates, nl_strvec *out);

/* Default prompt templates (the NegLabel reference's). */
#define NL_TEMPLATE_NOUN "the nice {}"
#define NL_TEMPLATE_ADJ "This is a {} photo"
#define NL_TEMPLATE_MCM "a photo of a {}"
/* tmpl with its "{}" replaced by word (malloc'd). Error if no "{}". */
char *nl_apply_template(const char *tmpl, const char *word);

typedef struct {
    const char *cache_dir; /* NULL: no cache */
    int quiet;
} nl_embed_opts;

/* Normalised embeddings of words under a template ensemble: each template's
 * prompt embedding is L2-normalised, the mean is renormalised (one template:
 * just the normalised embedding). Cached per prompt. out: n x dim. */
int nl_embed_words(nl_model *m, const nl_embed_opts *o, const char *const *words, size_t n,
                   const char *const *templates, size_t n_templates, float *out);
/* Normalised embeddings of ready-made prompts (cached). */
int nl_embed_prompts(nl_model *m, const nl_embed_opts *o, const char *const *prompts, size_t n, float *out);
/* Normalised image embeddings (cached by path, size, mtime). status[i] -1 and
 * errors[i] (malloc'd) for images that failed; rows of those are zero. */
int nl_embed_image_files(nl_model *m, const nl_embed_opts *o, nl_resample resample, const char *const *paths,
                         size_t n, float *out, int *status, char **errors);

/* Negatives file. Written by `neglabel mine`: a "# neglabel negatives ..."
 * header line (model fingerprint, dim, templates), then TSV
 * pos<TAB>word<TAB>prompt<TAB>quantile_similarity. Also accepted: a plain
 * list of prompts, one per line (like the authors' selected-label file). */
typedef struct {
    nl_strvec words;     /* the word (plain lists: the prompt itself) */
    nl_strvec prompts;   /* the prompt as embedded (first template) */
    uint8_t *pos;        /* nl_pos per entry (plain lists: NOUN) */
    char *model;         /* fingerprint from the header, or NULL */
    int dim;             /* from the header, or 0 */
    nl_strvec noun_templates, adj_templates; /* from the header, or empty */
} nl_negatives;
int nl_negatives_read(const char *path, nl_negatives *out);
void nl_negatives_free(nl_negatives *n);
/* Embed negatives (templates of the file when it has them) after checking
 * that the file was mined with this model. */
int nl_negatives_embed(nl_model *m, const nl_embed_opts *o, const char *path, const nl_negatives *neg, float *out);

/* Image paths of a dataset: a folder (walked recursively, sorted, files
 * with image extensions) or a list file (one path per line, relative to the
 * list's folder). Empty is an error. */
int nl_collect_images(const char *spec, nl_strvec *out);
#endif
