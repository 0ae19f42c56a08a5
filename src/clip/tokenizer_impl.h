/* tokenizer_impl.h — the tokenizer's tables, shared by tokenizer.c (the
 * tables and encoding) and tokenizer_load.c (filling them from vocab.json +
 * merges.txt, tokenizer.json or the built-in merges). Not a public header. */
#ifndef NEGLABEL_TOKENIZER_IMPL_H
#define NEGLABEL_TOKENIZER_IMPL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include "trie.h"
#include <jansson.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

#define NLI_TOK_MAX_ID (1 << 24) /* CLIP has 49,408; refuse absurd ids */
#define NLI_TOK_ADDED_MAX 4096   /* added tokens (tokenizer_added.c) */
#define NLI_TOK_ADDED_LEN 256    /* bytes of one added token's content */
enum { NLI_ADDED_NORMALIZED = 1, NLI_ADDED_SINGLE_WORD = 2 };

/* A token added to a Hugging Face tokenizer (tokenizer_added.c). */
typedef struct {
    char *content, *match; /* match: content, or content cleaned when normalized (owned then) */
    size_t len, mlen;
    long long id; /* -1 until resolved: a *_token entry names no id */
    int flags, owned;
    int no_id; /* neither an id nor in the vocabulary: transformers appends it
                * at load, past the model's embeddings; a text holding it fails */
    char *file; /* the file that first gave it, for errors */
} nli_added;


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
    nli_added *added;   /* CLIP's two specials are not among them */
    size_t nadded, addedcap;
    nli_trie trie[2];  /* added tokens' match strings (id: index in added); [0]: normalized false (raw text), [1]: normalized true */
    pcre2_code *word;  /* a word character, when a token is single_word */
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

/* Added tokens, once the tables are finished. _add records one (id -1:
 * the vocabulary's, for a *_token entry; CLIP's two specials with their
 * ids are skipped; a repeated content keeps its first flags, as
 * transformers); _done checks the ids against the vocabulary and builds
 * the tries. Both return 0, or -1 with an error naming `file` (the file
 * that gave the token; NL_ERR_UNSUPPORTED for what neglabel cannot match
 * as tokenizers does). */
int nli_tok_added_add(nli_tokenizer *t, const char *content, size_t len, long long id, int flags, const char *file);
int nli_tok_added_done(nli_tokenizer *t);
/* The next added token of one stage (normalized 0: raw text, 1: a cleaned
 * piece) in s[from..n): 1 with [*start, *end) and its id, 0 if none, -1
 * (NL_ERR_UNSUPPORTED) for a token without an id (no_id). md: the caller's
 * match data (for single_word's check). */
int nli_tok_added_next(const nli_tokenizer *t, int normalized, const char *s, size_t n, size_t from,
                       pcre2_match_data *md, size_t *start, size_t *end, int32_t *id);
/* tokenizer_added_files.c: tokenizer.json's "added_tokens" list; a
 * folder's tokenizer_config.json, added_tokens.json and
 * special_tokens_map.json (configs 0: added_tokens.json only). */
int nli_tok_added_from_list(nli_tokenizer *t, json_t *list, const char *path);
int nli_tok_added_from_folder(nli_tokenizer *t, const char *dir, int configs);
/* tokenizer_load.c; NULL with the error set. ints_as_real: every number a
 * double, for files whose integers are never read (tokenizer_config.json,
 * special_tokens_map.json), where transformers writes model_max_length
 * 1e30 as an integer past 64 bits, which jansson refuses as one. */
json_t *nli_tok_read_json(const char *path, int ints_as_real);
/* The same, also hashing the file's bytes into *digest (FNV-1a). */
json_t *nli_tok_read_json_hashed(const char *path, int ints_as_real, uint64_t *digest);
/* 0 when text (len bytes) is valid UTF-8, else -1 with the error naming
 * the first bad byte's offset (the Unigram and WordPiece encoders). */
int nli_tok_check_utf8(const char *text, size_t len);
/* o's "type" string, or "" (tokenizer.json's components). */
const char *nli_tok_json_type(json_t *o);
/* tokenizer.json's post_processor p (TemplateProcessing's single template,
 * Bert- or RobertaProcessing's cls and sep; absent or null: none): the ids
 * put before and after a text, at most 8 a side, each below limit. -1 with
 * the error naming path. */
int nli_tok_json_post(json_t *p, const char *path, int32_t limit, int32_t prefix[8], size_t *np, int32_t suffix[8],
                      size_t *ns);
uint64_t nli_tok_added_digest(const nli_tokenizer *t, uint64_t h); /* h unchanged without added tokens */
void nli_tok_added_free(nli_tokenizer *t);

/* GPT-2's bytes_to_unicode as UTF-8 (1 or 2 bytes, returned) into o. */
size_t nli_tok_byte_symbol(int byte, char o[2]);

/* bpe_merges.c (generated): OpenAI's CLIP merges, "a b\n" per line, in
 * chunks of whole lines. */
extern const size_t nli_bpe_merges_count, nli_bpe_merges_bytes, nli_bpe_merges_nchunks;
extern const char *const nli_bpe_merges_chunks[];
#endif
