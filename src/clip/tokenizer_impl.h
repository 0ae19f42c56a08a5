/* tokenizer_impl.h — the tokenizer's tables, shared by tokenizer.c (the
 * tables and encoding) and tokenizer_load.c (filling them from vocab.json +
 * merges.txt, tokenizer.json or the built-in merges). Not a public header. */
#ifndef NEGLABEL_TOKENIZER_IMPL_H
#define NEGLABEL_TOKENIZER_IMPL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

#define NLI_TOK_MAX_ID (1 << 24) /* CLIP has 49,408; refuse absurd ids */

struct nli_tokenizer {
    /* vocab: open addressing, string -> id */
    char **vkey;
    uint32_t *vlen;
    int32_t *vid;
    size_t vcap, vcount;
    uint8_t *seen; /* NLI_TOK_MAX_ID flags while the vocabulary is filled, then freed */
    /* merges: open addressing, (id a, id b) -> rank; rank -> pair, result */
    uint64_t *mkey;
    uint32_t *mrank;
    size_t mcap, mmax;
    int32_t *ra, *rb, *rm;
    size_t nrank;
    char *cat; /* scratch for a merge's joined symbols while loading */
    size_t catcap;
    int32_t byte_id[256], byte_end_id[256];
    int32_t sot, eot;
    /* The strings in a text that stand for sot and eot (static): OpenAI's
     * "<|startoftext|>" and "<|endoftext|>", or open_clip's names. */
    const char *sot_str, *eot_str;
    pcre2_code *re;
    const char *source; /* static: what the tables came from */
};

/* Filling the tables; `src` names the source in errors. Each returns 0, or
 * -1 with the error set. Order: nli_tok_new, nli_tok_vocab_init, _add for
 * every token, nli_tok_vocab_done, nli_tok_merges_init, _add for every
 * merge in rank order, nli_tok_finish. */
nli_tokenizer *nli_tok_new(const char *source, int openclip_names); /* see nli_tokenizer_for_folder */
int nli_tok_vocab_init(nli_tokenizer *t, size_t count, const char *src);
int nli_tok_vocab_add(nli_tokenizer *t, const char *key, size_t klen, long long id, const char *src);
int nli_tok_vocab_done(nli_tokenizer *t, const char *src); /* byte symbols and special tokens */
int32_t nli_tok_vocab_get(const nli_tokenizer *t, const char *s, size_t n);
int nli_tok_merges_init(nli_tokenizer *t, size_t count, const char *src);
/* 1 when a, b or their join is not in the vocabulary (the caller says
 * where), 0 when added (a repeated pair keeps its last rank, as Python's
 * dict), -1 on allocation failure. */
int nli_tok_merge_add(nli_tokenizer *t, const char *a, size_t na, const char *b, size_t nb);
int nli_tok_finish(nli_tokenizer *t, const char *src); /* at least one merge; the split regex */

/* GPT-2's bytes_to_unicode as UTF-8 (1 or 2 bytes, returned) into o. */
size_t nli_tok_byte_symbol(int byte, char o[2]);

/* bpe_merges.c (generated): OpenAI's CLIP merges, "a b\n" per line, in
 * chunks of whole lines. */
extern const size_t nli_bpe_merges_count, nli_bpe_merges_bytes, nli_bpe_merges_nchunks;
extern const char *const nli_bpe_merges_chunks[];
#endif
