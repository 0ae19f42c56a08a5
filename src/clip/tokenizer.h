/* tokenizer.h — CLIP byte-level BPE, exactly as OpenAI's simple_tokenizer.py. */
#ifndef NEGLABEL_TOKENIZER_H
#define NEGLABEL_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

#define NL_TOKEN_SOT 49406
#define NL_TOKEN_EOT 49407

typedef struct nli_tokenizer nli_tokenizer;

/* Load Hugging Face vocab.json + merges.txt (as in a CLIP model folder).
 * NULL and an error naming the file on failure. */
nli_tokenizer *nli_tokenizer_load(const char *vocab_json, const char *merges_txt);
void nli_tokenizer_free(nli_tokenizer *t);

/* Full ids of text (len bytes, UTF-8): SOT, tokens, EOT; not truncated.
 * *ids is malloc'd. Invalid UTF-8 is an error. Thread-safe for concurrent
 * calls on one tokenizer. */
int nli_tokenizer_encode(const nli_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n);
/* The same, also counting BPE's steps (adjacent-pair lookups and heap pops)
 * in *work: at most 6 per byte of the cleaned text whatever the text (n - 1
 * lookups, 2 more per merge, each merge removes a symbol, a pop per push).
 * Tests check that bound instead of timing hostile input. */
int nli_tokenizer_encode_counted(const nli_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                                 size_t *work);

/* Ids of the special tokens as found in the vocabulary. */
int32_t nli_tokenizer_sot(const nli_tokenizer *t);
int32_t nli_tokenizer_eot(const nli_tokenizer *t);
size_t nli_tokenizer_vocab_size(const nli_tokenizer *t);

/* The text simple_tokenizer hands to its regex: ftfy.fix_text (ftfy.c),
 * html.unescape twice, strip, whitespace runs -> one space, strip,
 * str.lower(). *out is malloc'd
 * UTF-8, NUL-terminated (it may hold NUL itself: use *outlen). -1 on invalid
 * UTF-8, with the byte offset in the message. */
int nli_tokenizer_clean(const char *text, size_t len, char **out, size_t *outlen);
#endif
