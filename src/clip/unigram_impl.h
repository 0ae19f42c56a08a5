/* unigram_impl.h — the tables of a Unigram tokenizer, shared by
 * unigram_load.c (filling them from tokenizer.json) and unigram.c
 * (encoding). Not a public header. */
#ifndef NEGLABEL_UNIGRAM_IMPL_H
#define NEGLABEL_UNIGRAM_IMPL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "trie.h"
#include "unigram.h"

#define NLI_UG_MAX_VOCAB (1 << 24)
#define NLI_UG_MAX_STEPS 16 /* normalizers or pre-tokenizers in a Sequence, nesting flattened */

enum { UG_PRECOMPILED, UG_REPLACE, UG_STRIP, UG_PREPEND };
typedef struct {
    int kind;
    char *content; /* Replace's content or Prepend's prepend */
    size_t clen;
    pcre2_code *re; /* Replace's pattern (a literal one compiled as PCRE2_LITERAL) */
    int left, right; /* Strip */
} nli_ug_norm;

enum { UG_WHITESPACE_SPLIT, UG_METASPACE };
enum { UG_PREPEND_ALWAYS, UG_PREPEND_FIRST, UG_PREPEND_NEVER };
typedef struct {
    int kind;
    char rep[5]; /* Metaspace's replacement character, UTF-8 */
    size_t rlen;
    int scheme, split;
} nli_ug_pre;

typedef struct {
    char *s;
    size_t len;
    int32_t id;
    int lstrip, rstrip, single_word; /* rstrip and single_word are refused at load */
} nli_ug_added;

typedef nli_trie nli_ug_trie; /* trie.h */

struct nli_unigram {
    uint64_t digest; /* of the file's bytes */
    size_t nvocab;
    double *score, min_score;
    int32_t unk_id;
    nli_ug_trie pieces; /* id: the piece's id (the last one listed, as tokenizers' map keeps) */
    nli_ug_trie atrie;  /* id: the added token's index in added (the first listed) */
    nli_charsmap cm;
    nli_ug_norm norm[NLI_UG_MAX_STEPS];
    size_t nnorm;
    nli_ug_pre pre[NLI_UG_MAX_STEPS];
    size_t npre;
    int32_t prefix[8], suffix[8]; /* the post-processor's special tokens around the text */
    size_t nprefix, nsuffix;
    nli_ug_added *added;
    size_t nadded;
};


#endif
