/* spm_impl.h — a SentencePiece tokenizer's tables, shared by spm_proto.c
 * (spiece.model's protobuf), spm_load.c (the folder as transformers reads
 * it), spm.c (encoding) and spm_text.c (canonicalize_text). Not a public
 * header. */
#ifndef NEGLABEL_SPM_IMPL_H
#define NEGLABEL_SPM_IMPL_H
#include "spm.h"
#include "trie.h"
#include "unigram.h" /* nli_charsmap */
#include "util.h"

#define NLI_SPM_MAX_PIECES (1 << 21)  /* T5 has 32,000, XLM-R 250,002 */
#define NLI_SPM_PIECE_LEN 1024        /* bytes of a piece: bounds the Viterbi's walk */
#define NLI_SPM_FILE_MAX ((size_t)64 << 20)
#define NLI_SPM_ADDED_MAX 4096        /* added and special tokens */
#define NLI_SPM_ADDED_LEN 256         /* bytes of one: bounds the split's walk */
#define NLI_SPM_MAX_ID (1 << 24)

/* ModelProto.SentencePiece.Type */
enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER = 4, SPM_UNUSED = 5, SPM_BYTE = 6 };
/* TrainerSpec.ModelType */
enum { SPM_UNIGRAM = 1, SPM_BPE = 2, SPM_WORD = 3, SPM_CHAR = 4 };

typedef struct {
    const uint8_t *s;
    size_t n;
} nli_spm_str;

/* What spiece.model says (spm_proto.c); strings point into the file's
 * bytes. Unset fields keep proto2's defaults. */
typedef struct {
    nli_spm_str *piece;
    float *score;
    uint8_t *type;
    size_t n, cap;
    int model_type, byte_fallback, ws_suffix;   /* trainer_spec */
    int dummy_prefix, extra_ws, escape_ws;      /* normalizer_spec */
    nli_spm_str charsmap;
    int has_charsmap;
} nli_spm_proto;

/* The protobuf in data (len bytes) as sentencepiece's ModelProto parser
 * reads it (wire format, proto2 rules: unknown fields skipped, unknown
 * enum values ignored, repeated singular messages merged); 0, or -1 with
 * the error naming path. */
int nli_spm_proto_parse(nli_spm_proto *p, const uint8_t *data, size_t len, const char *path);
void nli_spm_proto_free(nli_spm_proto *p);

/* A token the folder adds (transformers' added_tokens_encoder) */
typedef struct {
    char *s;
    size_t len;
    int32_t id;
    uint8_t lstrip, rstrip, single_word;
    uint8_t special; /* one of all_special_tokens */
} nli_spm_added;

struct nli_spm {
    uint64_t digest;
    /* sentencepiece */
    size_t npieces;
    float *score;
    uint8_t *type;
    nli_trie pieces;   /* NORMAL, USER_DEFINED, UNUSED piece -> id: the Viterbi's and piece_to_id's */
    nli_trie reserved; /* CONTROL, UNKNOWN, BYTE piece -> id: piece_to_id looks here first */
    nli_trie user;     /* USER_DEFINED pieces: the normalizer keeps them whole */
    int has_user;
    int32_t unk_id;
    float min_score; /* of the NORMAL pieces (FLT_MAX if none): <unk> scores it - 10 */
    nli_charsmap cm;
    int has_cm;
    int dummy_prefix, extra_ws, escape_ws, ws_suffix, byte_fallback;
    /* transformers */
    int lower, split_special;
    char *unk;            /* unk_token's content, put before each piece's text */
    size_t unk_len, unk_pieces; /* unk_token_length: the pieces of unk alone */
    nli_spm_added *added;
    size_t nadded;
    nli_trie atrie; /* content -> index in added */
    int32_t eos_id, pad_id;
    size_t size;
};

/* One token of a piece's encoding (spm.c): its id and what transformers
 * compares its string with. */
typedef struct {
    int32_t id;
    uint8_t space;   /* the string is "▁" alone */
    uint8_t special; /* the string is one of all_special_tokens */
} nli_spm_tok;

typedef struct {
    nli_spm_tok *v;
    size_t n, cap;
} nli_spm_toks;

/* What sentencepiece 0.2.3 scores a USER_DEFINED piece of n bytes with:
 * n * 0.1 - 0.1 computed in double, as a float, whatever the other pieces
 * score (measured on 0.2.3 to the last bit; the sources before it had the
 * largest NORMAL score in place of 0.1). */
static inline float nli_spm_user_score(size_t n) { return (float)((double)n * 0.1 - 0.1); }

/* spm.c: transformers' id of a token string (added_tokens_encoder, else
 * sentencepiece's piece_to_id), with its flags, pushed; 0 or -1 (OOM). */
int nli_spm_push_str(const nli_spm *s, nli_spm_toks *t, const char *str, size_t n);
/* spm_sp.c: sentencepiece's encode(text, out_type=str) of text[0..n)
 * (valid UTF-8): fn(arg, piece, len) for each piece in order; 0, or -1
 * (error set, or fn's -1). */
typedef int (*nli_spm_piece_fn)(void *arg, const char *piece, size_t n);
int nli_spm_sp_encode(const nli_spm *s, const char *text, size_t n, nli_spm_piece_fn fn, void *arg);

/* spm_model.c: the sentencepiece side of a tokenizer from its ModelProto
 * (sentencepiece's Load checks); NULL with the error naming path. */
nli_spm *nli_spm_model_new(const nli_spm_proto *p, const char *path);

/* spm_text.c: canonicalize_text of s[0..n) (valid UTF-8) appended to out;
 * 0 or -1 (OOM). */
int nli_spm_canon(int lower, const char *s, size_t n, nli_buf *out);
/* Python's str.isspace() (re's \s, str.strip()) */
int nli_spm_py_space(uint32_t c);
/* The code point at s[i] (valid UTF-8 up to n) into *c; its length. */
size_t nli_spm_cp(const char *s, size_t n, size_t i, uint32_t *c);
#endif
