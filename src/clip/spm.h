/* spm.h — SentencePiece tokenizers as transformers 5's SiglipTokenizer
 * runs a model folder (google/siglip-*: T5's spiece.model,
 * tokenizer_config.json, special_tokens_map.json): the added and special
 * tokens split off the text with transformers' Trie, each other piece
 * canonicalized (lowercase, ASCII punctuation removed, whitespace folded)
 * and encoded by sentencepiece behind "<unk>" (whose pieces are dropped),
 * </s> appended. docs/tokenizer.md. Not a public header. */
#ifndef NEGLABEL_SPM_H
#define NEGLABEL_SPM_H
#include <stddef.h>
#include <stdint.h>

typedef struct nli_spm nli_spm;

/* A folder's SigLIP tokenizer as transformers 5's AutoTokenizer loads it
 * (SiglipTokenizer over spiece.model + tokenizer_config.json, and
 * special_tokens_map.json, added_tokens.json and tokenizer.json's added
 * tokens when the config has no added_tokens_decoder). NULL with the error
 * set: NL_ERR_IO when spiece.model is missing, NL_ERR_INVALID for a
 * malformed file (named, with the field), NL_ERR_UNSUPPORTED for a setting
 * neglabel does not run exactly (named). */
nli_spm *nli_spm_load_dir(const char *dir);
void nli_spm_free(nli_spm *s);
/* The largest id encode can give, plus one. */
size_t nli_spm_vocab_size(const nli_spm *s);
/* A hash of the bytes of the files read (model fingerprints). */
uint64_t nli_spm_digest(const nli_spm *s);
/* The </s> id appended after the text (kept last when a text is cut to
 * the model's positions); -1 if none. */
int32_t nli_spm_last_suffix(const nli_spm *s);
/* The pad token's id (what padding="max_length" pads with); -1 if none. */
int32_t nli_spm_pad_id(const nli_spm *s);
/* "spiece.model (SentencePiece Unigram)" (static). */
const char *nli_spm_source(const nli_spm *s);
/* Ids of text (len bytes of UTF-8) as transformers' tokenizer(text)
 * gives them (no truncation, no padding); *ids malloc'd. -1 on invalid
 * UTF-8 (the byte offset in the message) or out of memory. Thread-safe. */
int nli_spm_encode(const nli_spm *s, const char *text, size_t len, int32_t **ids, size_t *n);

/* For tests and fuzzing; *out malloc'd, NUL-terminated, -1 on invalid
 * UTF-8 or out of memory: SiglipTokenizer.canonicalize_text (lower: its
 * do_lower_case), and sentencepiece's normalizer (the model's
 * NormalizerSpec, user-defined pieces kept whole). */
int nli_spm_canonicalize(int lower, const char *text, size_t len, char **out, size_t *olen);
int nli_spm_normalize(const nli_spm *s, const char *text, size_t len, char **out, size_t *olen);
#endif
