/* wordpiece.h — BERT WordPiece tokenizers (ALIGN's text tower: kakaobrain/
 * align-base uses bert-base-uncased's), as transformers 5's BertTokenizer
 * runs a model folder, or as Hugging Face `tokenizers` runs a
 * tokenizer.json: added tokens split off the raw text, BertNormalizer
 * (clean_text, handle_chinese_chars, strip_accents, lowercase),
 * BertPreTokenizer (whitespace dropped, punctuation alone), greedy
 * longest-match-first WordPiece, "[CLS] $A [SEP]". docs/tokenizer.md.
 * Not a public header. */
#ifndef NEGLABEL_WORDPIECE_H
#define NEGLABEL_WORDPIECE_H
#include <stddef.h>
#include <stdint.h>

#include "trie.h"

typedef struct nli_wordpiece nli_wordpiece;

/* A folder's BERT tokenizer as transformers 5's AutoTokenizer loads it
 * (BertTokenizer, which rebuilds its pipeline: the vocabulary of
 * tokenizer.json's WordPiece model when the folder has one, else vocab.txt;
 * tokenizer_config.json's do_lower_case, strip_accents,
 * tokenize_chinese_chars, unk/cls/sep tokens; the added tokens transformers
 * reads). NULL with the error set: NL_ERR_INVALID naming the file and the
 * field for malformed input, NL_ERR_UNSUPPORTED naming the component for
 * pipelines it does not run, NL_ERR_IO when the folder has neither file. */
nli_wordpiece *nli_wordpiece_load_dir(const char *dir);
/* A tokenizer.json whose model is a WordPiece, run as tokenizers runs the
 * file (Tokenizer.from_file(path).encode(text)): its own normalizer
 * (BertNormalizer, NFD, Lowercase, StripAccents, a Sequence of them),
 * pre-tokenizer (BertPreTokenizer or none), WordPiece settings,
 * post-processor (TemplateProcessing, BertProcessing, RobertaProcessing or
 * none) and added tokens. NULL with the error set, as above. */
nli_wordpiece *nli_wordpiece_load_json(const char *path);
void nli_wordpiece_free(nli_wordpiece *w);
/* The largest id encode can give, plus one. */
size_t nli_wordpiece_vocab_size(const nli_wordpiece *w);
/* A hash of the bytes of the files read (model fingerprints). */
uint64_t nli_wordpiece_digest(const nli_wordpiece *w);
/* [SEP]'s id: the last special token after the text, kept last when a text
 * is cut to the model's positions; -1 if none. */
int32_t nli_wordpiece_last_suffix(const nli_wordpiece *w);
/* "tokenizer.json (WordPiece)" or "vocab.txt (WordPiece)" (static). */
const char *nli_wordpiece_source(const nli_wordpiece *w);
/* Ids of text (len bytes of UTF-8) as transformers' tokenizer(text) gives
 * them ([CLS] ... [SEP]); *ids malloc'd. -1 on invalid UTF-8 (the byte
 * offset in the message), out of memory, or a special token in the text
 * that transformers would give an id past the vocabulary (NL_ERR_UNSUPPORTED,
 * naming it). Thread-safe. */
int nli_wordpiece_encode(const nli_wordpiece *w, const char *text, size_t len, int32_t **ids, size_t *n);
/* text normalized by the tokenizer's normalizer alone (tests, fuzzing);
 * *out malloc'd, NUL-terminated. -1 on invalid UTF-8 or out of memory. */
int nli_wordpiece_normalize(const nli_wordpiece *w, const char *text, size_t len, char **out, size_t *olen);

/* ---- shared by wordpiece.c (encoding) and wordpiece_load.c (tables) ---- */

#define NLI_WP_MAX_STEPS 16   /* normalizer steps, Sequences flattened */
#define NLI_WP_PIECE_LEN 1024 /* bytes of a vocabulary piece: bounds the longest-match walk */
/* normalizer steps: BertNormalizer's clean_text, handle_chinese_chars,
 * (NFD +) strip_accents (Mn), lowercase; StripAccents (every mark) */
enum { NLI_WP_CLEAN, NLI_WP_CHINESE, NLI_WP_NFD, NLI_WP_STRIP, NLI_WP_LOWER, NLI_WP_STRIP_MARKS };


typedef struct {
    char *content, *match; /* match: content, or content normalized (owned then) */
    size_t len, mlen;
    int32_t id;
    int normalized, no_id; /* no_id: transformers appends it past the vocabulary: a text holding it fails */
} nli_wp_added;

struct nli_wordpiece {
    uint64_t digest;
    const char *source;
    nli_trie vocab; /* piece -> id */
    size_t size;       /* largest id + 1 */
    int32_t unk_id;
    int32_t cont;      /* the vocabulary trie's node for the continuing-subword prefix, -1 if none */
    size_t max_chars;  /* max_input_chars_per_word */
    uint8_t norm[NLI_WP_MAX_STEPS];
    size_t nnorm;
    int split; /* BertPreTokenizer; else a piece is one word */
    int32_t prefix[8], suffix[8];
    size_t nprefix, nsuffix;
    nli_wp_added *added;
    size_t nadded;
    nli_trie atrie[2]; /* id: index in added; [0] matched in the raw text, [1] after normalization */
};

/* Rust's char::is_whitespace (Unicode White_Space). */
int nli_wp_is_space(uint32_t c);
/* s (n bytes of valid UTF-8) through w's normalizer, into *out (malloc'd,
 * NUL-terminated, *olen bytes): 0, or -1 (error set). */
int nli_wp_normalize(const nli_wordpiece *w, const char *s, size_t n, char **out, size_t *olen);
#endif
