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
/* Load the "model" (a BPE with "</w>" word ends) of a Hugging Face
 * tokenizers file, tokenizer.json: what transformers 5 saves instead of
 * vocab.json + merges.txt, and its "added_tokens". Other models are
 * refused (NL_ERR_UNSUPPORTED). */
nli_tokenizer *nli_tokenizer_load_json(const char *path);
/* OpenAI's CLIP BPE, built in (open_clip's SimpleTokenizer vocabulary). */
nli_tokenizer *nli_tokenizer_builtin(void);
/* A model folder's tokenizer: vocab.json + merges.txt, else tokenizer.json,
 * else (openclip: OpenCLIP folders) the built-in BPE; else an error.
 *
 * The loaders above match OpenAI's special-token strings, as OpenAI's
 * simple_tokenizer.py and transformers do: "<|startoftext|>" and
 * "<|endoftext|>" in a text are SOT and EOT. With openclip the tokenizer
 * matches open_clip's instead: its SimpleTokenizer (what open_clip runs for
 * every OpenCLIP model with OpenAI's BPE) names them "<start_of_text>" and
 * "<end_of_text>" and puts those in its split regex, so "<|endoftext|>" is
 * split into ordinary tokens. Same ids 49406 and 49407 either way.
 *
 * Without openclip, tokens added to the tokenizer are matched whole before
 * BPE, as Hugging Face tokenizers matches them (tokenizer_added.c): those
 * of tokenizer.json, tokenizer_config.json (added_tokens_decoder and its
 * *_token entries), special_tokens_map.json and added_tokens.json; LAION's
 * pad_token "!" is one. One neglabel cannot match as transformers does is
 * refused (NL_ERR_UNSUPPORTED) naming the file and the token. open_clip
 * reads no such files: with openclip, tokenizer_config.json and
 * special_tokens_map.json are ignored and a new token in tokenizer.json or
 * added_tokens.json is refused. */
nli_tokenizer *nli_tokenizer_for_folder(const char *dir, int openclip);
void nli_tokenizer_free(nli_tokenizer *t);
/* What the tables came from: "vocab.json + merges.txt", "tokenizer.json"
 * or "built-in OpenAI CLIP BPE". */
const char *nli_tokenizer_source(const nli_tokenizer *t);
/* The id of one vocabulary string, -1 if absent. */
int32_t nli_tokenizer_token_id(const nli_tokenizer *t, const char *s, size_t n);

/* Full ids of text (len bytes, UTF-8): SOT, tokens, EOT; not truncated.
 * *ids is malloc'd. Invalid UTF-8 is an error. Thread-safe for concurrent
 * calls on one tokenizer. */
int nli_tokenizer_encode(const nli_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n);
/* The same, also counting BPE's steps (adjacent-pair lookups and heap pops)
 * in *work: at most 6 per byte of the cleaned text whatever the text (n - 1
 * lookups, 2 more per merge, each merge removes a symbol, a pop per push).
 * Tests check that bound instead of timing hostile input. Added tokens are
 * found in at most NLI_TOK_ADDED_LEN (256) trie steps per byte, not
 * counted. */
int nli_tokenizer_encode_counted(const nli_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                                 size_t *work);

/* Ids of the special tokens as found in the vocabulary. */
int32_t nli_tokenizer_sot(const nli_tokenizer *t);
int32_t nli_tokenizer_eot(const nli_tokenizer *t);
size_t nli_tokenizer_vocab_size(const nli_tokenizer *t);
/* A hash of the vocabulary, merges, special tokens and added tokens (with
 * how they are matched), the same whatever the source;
 * NLI_TOKENIZER_OPENAI_DIGEST for OpenAI's CLIP BPE without added tokens
 * (checked by test_tokenizer). Model fingerprints mix it in for any other
 * tokenizer. */
uint64_t nli_tokenizer_digest(const nli_tokenizer *t);
#define NLI_TOKENIZER_OPENAI_DIGEST 0x5fd87dc271be6af3ULL

/* The text simple_tokenizer hands to its regex: ftfy.fix_text (ftfy.c),
 * html.unescape twice, strip, whitespace runs -> one space, strip,
 * str.lower(). *out is malloc'd
 * UTF-8, NUL-terminated (it may hold NUL itself: use *outlen). -1 on invalid
 * UTF-8, with the byte offset in the message. */
int nli_tokenizer_clean(const char *text, size_t len, char **out, size_t *outlen);
/* What nli_tokenizer_clean refuses before cleaning: NULL text, more than
 * 1 GiB, invalid UTF-8 (the message gives the byte offset). 0 or -1. */
int nli_tokenizer_check_text(const char *text, size_t len);
#endif
