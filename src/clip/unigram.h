/* unigram.h — SentencePiece Unigram tokenizers as Hugging Face `tokenizers`
 * runs them from a tokenizer.json (XLM-R's, so AltCLIP's; T5's and
 * SigLIP's): the added tokens split off the raw text, the normalizers
 * (Precompiled: SentencePiece's charsmap, Replace, Strip, Prepend), the
 * pre-tokenizers (WhitespaceSplit, Metaspace), the Unigram model's best
 * segmentation, the post-processor's special tokens. Not a public header;
 * AltCLIP's texts go through it (model.c). */
#ifndef NEGLABEL_UNIGRAM_H
#define NEGLABEL_UNIGRAM_H
#include <stddef.h>
#include <stdint.h>

typedef struct nli_unigram nli_unigram;

/* A tokenizer.json whose "model" is a Unigram. NULL with the error set:
 * NL_ERR_INVALID naming the file and the field for a malformed one,
 * NL_ERR_UNSUPPORTED naming the component for one neglabel does not run
 * (another normalizer or pre-tokenizer, byte_fallback, added tokens matched
 * after normalization, ...). */
nli_unigram *nli_unigram_load(const char *path);
/* The pipeline transformers 5's XLMRobertaTokenizer puts over the file's
 * (AltCLIP's tokenizer class): the file's vocabulary, added tokens and
 * Precompiled charsmap, its other normalizers dropped, WhitespaceSplit then
 * Metaspace ("always"), "<s> $A </s>". 0, or -1 (error set) when the
 * vocabulary lacks <s> or </s>. */
int nli_unigram_as_xlmr(nli_unigram *u, const char *path);
void nli_unigram_free(nli_unigram *u);
size_t nli_unigram_vocab_size(const nli_unigram *u);
/* A hash of the tokenizer.json it was read from (model fingerprints). */
uint64_t nli_unigram_digest(const nli_unigram *u);
/* The last special token the post-processor puts after the text (</s>),
 * kept last when a text is cut to the model's positions; -1 if none. */
int32_t nli_unigram_last_suffix(const nli_unigram *u);
/* Ids of text (len bytes of UTF-8) as tokenizers' encode(text) gives them
 * (special tokens added). *ids is malloc'd. -1 on invalid UTF-8 (the
 * offset in the message) or out of memory. Thread-safe. */
int nli_unigram_encode(const nli_unigram *u, const char *text, size_t len, int32_t **ids, size_t *n);

/* SentencePiece's precompiled charsmap (spm_charsmap.c): a darts double
 * array of the strings to replace, then their replacements. */
typedef struct {
    uint32_t *units;
    size_t nunits;
    char *norm; /* the replacements, NUL-separated, valid UTF-8 */
    size_t nnorm;
} nli_charsmap;
/* From the decoded bytes; -1 (error set, naming `what`) when malformed. */
int nli_charsmap_init(nli_charsmap *cm, const uint8_t *blob, size_t len, const char *what);
void nli_charsmap_free(nli_charsmap *cm);
/* sentencepiece's Normalizer::NormalizePrefix: of the keys that are
 * prefixes of s[0..n) (every byte walked, NULs too; the first 32
 * matches), the longest: its replacement's offset in cm->norm, *len its
 * length; -1 if none. */
long long nli_charsmap_longest(const nli_charsmap *cm, const uint8_t *s, size_t n, size_t *len);
/* s (n bytes of valid UTF-8) normalized as tokenizers' Precompiled does:
 * each extended grapheme cluster under 6 bytes replaced whole when the
 * table has a prefix of it (the shortest prefix's replacement), else each
 * of its characters replaced when the table has it. Appended to *out
 * (malloc'd, *cap its size, *olen its length). -1 on out of memory. */
int nli_charsmap_normalize(const nli_charsmap *cm, const char *s, size_t n, char **out, size_t *olen, size_t *cap);
#endif
