/* wordpiece.c — encoding with a BERT WordPiece tokenizer (tables:
 * wordpiece_load.c), step for step as Hugging Face tokenizers' encode():
 *
 * 1. added tokens with normalized false are found in the raw text,
 *    leftmost then longest, and split off (lstrip / rstrip only move
 *    whitespace, which BertPreTokenizer drops: they change no id);
 * 2. each other piece is normalized (the steps below, in order), and the
 *    added tokens with normalized true found in it the same way;
 * 3. pre-tokenized (BertPreTokenizer): whitespace (Rust's
 *    char::is_whitespace) dropped, each punctuation character a word;
 * 4. each word through the WordPiece model: longer than max_input_chars
 *    characters -> unk; else the longest piece of the vocabulary that
 *    starts it, then the longest "##"-prefixed piece from there, and so
 *    on; a word that cannot be covered whole -> one unk;
 * 5. the post-processor's special tokens around the ids.
 *
 * The normalizer's steps, as tokenizers' BertNormalizer and its NFD,
 * Lowercase and StripAccents do them: clean_text (drop U+0000, U+FFFD and
 * "other" characters: Cc, Cf, Co, but tab, CR, LF; whitespace to ' '),
 * handle_chinese_chars (' ' around the CJK ideograph blocks), NFD (its
 * canonical order), strip_accents (drop Mn after NFD), lowercase (Rust's
 * char::to_lowercase: U+0130 -> "i\u0307"); StripAccents drops every mark
 * (Mn, Mc, Me). tokenizers takes categories from the unicode_categories
 * crate (Unicode 8-ish: the characters added since are neither "other",
 * punctuation nor Mn), NFD and StripAccents' marks from a normalization
 * crate older than Unicode 13, lowercase from Rust's std (Unicode 17). neglabel uses utf8proc
 * (Unicode 15) and the tables below, where the two differ
 * (tests/gen/gen_wordpiece.py --tables; test_wordpiece checks every code
 * point against tokenizers 0.23.3). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "ftfy.h"
#include "neglabel.h"
#include "util.h"
#include "tokenizer_impl.h"
#include "wordpiece.h"

/* ------------------------------------------------------------ Unicode tables */

/* Cc/Cf/Co in utf8proc, unassigned for unicode_categories: kept by clean_text */
static const uint32_t CTRL_NEW[][2] = {
    {0x0890, 0x0891}, {0x08E2, 0x08E2}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},
};
/* punctuation in utf8proc, not for unicode_categories */
static const uint32_t PUNCT_NEW[][2] = {
    {0x061D, 0x061D}, {0x09FD, 0x09FD}, {0x0A76, 0x0A76}, {0x0C77, 0x0C77}, {0x0C84, 0x0C84}, {0x1B7D, 0x1B7E},
    {0x2E43, 0x2E4F}, {0x2E52, 0x2E5D}, {0x10EAD, 0x10EAD}, {0x10F55, 0x10F59}, {0x10F86, 0x10F89}, {0x1144B, 0x1144F},
    {0x1145A, 0x1145B}, {0x1145D, 0x1145D}, {0x11660, 0x1166C}, {0x116B9, 0x116B9}, {0x1183B, 0x1183B}, {0x11944, 0x11946},
    {0x119E2, 0x119E2}, {0x11A3F, 0x11A46}, {0x11A9A, 0x11A9C}, {0x11A9E, 0x11AA2}, {0x11B00, 0x11B09}, {0x11C41, 0x11C45},
    {0x11C70, 0x11C71}, {0x11EF7, 0x11EF8}, {0x11F43, 0x11F4F}, {0x11FFF, 0x11FFF}, {0x12FF1, 0x12FF2}, {0x16E97, 0x16E9A},
    {0x16FE2, 0x16FE2}, {0x1E95E, 0x1E95F},
};
/* punctuation for unicode_categories, no longer in Unicode 15 */
static const uint32_t PUNCT_OLD[][2] = {
    {0x166D, 0x166D}, {0x111C9, 0x111C9},
};
/* Mn in utf8proc, not for unicode_categories: kept by BertNormalizer's strip_accents */
static const uint32_t MN_NEW[][2] = {
    {0x07FD, 0x07FD}, {0x0898, 0x089F}, {0x08CA, 0x08E1}, {0x09FE, 0x09FE}, {0x0AFA, 0x0AFF}, {0x0B55, 0x0B55},
    {0x0C04, 0x0C04}, {0x0C3C, 0x0C3C}, {0x0D00, 0x0D00}, {0x0D3B, 0x0D3C}, {0x0D81, 0x0D81}, {0x0EBA, 0x0EBA},
    {0x0ECE, 0x0ECE}, {0x180F, 0x180F}, {0x1885, 0x1886}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFB}, {0xA82C, 0xA82C},
    {0xA8C5, 0xA8C5}, {0xA8FF, 0xA8FF}, {0xA9BD, 0xA9BD}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x11073, 0x11074}, {0x110C2, 0x110C2}, {0x111C9, 0x111C9},
    {0x111CF, 0x111CF}, {0x1123E, 0x1123E}, {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x11438, 0x1143F}, {0x11442, 0x11444},
    {0x11446, 0x11446}, {0x1145E, 0x1145E}, {0x1182F, 0x11837}, {0x11839, 0x1183A}, {0x1193B, 0x1193C}, {0x1193E, 0x1193E},
    {0x11943, 0x11943}, {0x119D4, 0x119D7}, {0x119DA, 0x119DB}, {0x119E0, 0x119E0}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A38},
    {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47}, {0x11A51, 0x11A56}, {0x11A59, 0x11A5B}, {0x11A8A, 0x11A96}, {0x11A98, 0x11A99},
    {0x11C30, 0x11C36}, {0x11C38, 0x11C3D}, {0x11C3F, 0x11C3F}, {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0}, {0x11CB2, 0x11CB3},
    {0x11CB5, 0x11CB6}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D}, {0x11D3F, 0x11D45}, {0x11D47, 0x11D47},
    {0x11D90, 0x11D91}, {0x11D95, 0x11D95}, {0x11D97, 0x11D97}, {0x11EF3, 0x11EF4}, {0x11F00, 0x11F01}, {0x11F36, 0x11F3A},
    {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13440, 0x13440}, {0x13447, 0x13455}, {0x16F4F, 0x16F4F}, {0x16FE4, 0x16FE4},
    {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46}, {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024},
    {0x1E026, 0x1E02A}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
    {0x1E944, 0x1E94A},
};
/* Mn for unicode_categories, not in Unicode 15 */
static const uint32_t MN_OLD[][2] = {
    {0x1734, 0x1734},
};
/* marks in utf8proc the normalization crate does not know: kept by
 * StripAccents, combining class 0 and no decomposition in NFD */
static const uint32_t MARK_NEW[][2] = {
    {0x07FD, 0x07FD}, {0x0898, 0x089F}, {0x08CA, 0x08D3}, {0x09FE, 0x09FE}, {0x0AFA, 0x0AFF}, {0x0B55, 0x0B55},
    {0x0C04, 0x0C04}, {0x0C3C, 0x0C3C}, {0x0CF3, 0x0CF3}, {0x0D00, 0x0D00}, {0x0D3B, 0x0D3C}, {0x0D81, 0x0D81},
    {0x0EBA, 0x0EBA}, {0x0ECE, 0x0ECE}, {0x1715, 0x1715}, {0x180F, 0x180F}, {0x1ABF, 0x1ACE}, {0x1CF7, 0x1CF7},
    {0x1DF6, 0x1DFA}, {0xA82C, 0xA82C}, {0xA8FF, 0xA8FF}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x11073, 0x11074}, {0x110C2, 0x110C2}, {0x11145, 0x11146},
    {0x111C9, 0x111C9}, {0x111CE, 0x111CF}, {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x1182C, 0x1183A},
    {0x11930, 0x11935}, {0x11937, 0x11938}, {0x1193B, 0x1193E}, {0x11940, 0x11940}, {0x11942, 0x11943}, {0x119D1, 0x119D7},
    {0x119DA, 0x119E0}, {0x119E4, 0x119E4}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A39}, {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47},
    {0x11A51, 0x11A5B}, {0x11A8A, 0x11A99}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D}, {0x11D3F, 0x11D45},
    {0x11D47, 0x11D47}, {0x11D8A, 0x11D8E}, {0x11D90, 0x11D91}, {0x11D93, 0x11D97}, {0x11EF3, 0x11EF6}, {0x11F00, 0x11F01},
    {0x11F03, 0x11F03}, {0x11F34, 0x11F3A}, {0x11F3E, 0x11F42}, {0x13440, 0x13440}, {0x13447, 0x13455}, {0x16F4F, 0x16F4F},
    {0x16F7F, 0x16F87}, {0x16FE4, 0x16FE4}, {0x16FF0, 0x16FF1}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46}, {0x1E08F, 0x1E08F},
    {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
};
/* marks for the normalization crate, letters in Unicode 15 */
static const uint32_t MARK_OLD[][2] = {
    {0x1CF2, 0x1CF3},
};
/* lowercase mappings of Unicode 16 and 17 (Rust's), unknown to utf8proc:
 * [first, last] -> target of first, consecutively */
static const uint32_t LOWER_NEW[][3] = {
    {0x1C89, 0x1C89, 0x1C8A}, {0xA7CB, 0xA7CB, 0x0264}, {0xA7CC, 0xA7CC, 0xA7CD}, {0xA7CE, 0xA7CE, 0xA7CF},
    {0xA7D2, 0xA7D2, 0xA7D3}, {0xA7D4, 0xA7D4, 0xA7D5}, {0xA7DA, 0xA7DA, 0xA7DB}, {0xA7DC, 0xA7DC, 0x019B},
    {0x10D50, 0x10D65, 0x10D70}, {0x16EA0, 0x16EB8, 0x16EBB},
};
/* tokenizers' is_chinese_char: the CJK ideograph blocks it lists */
static const uint32_t CJK[][2] = {
    {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xF900, 0xFAFF}, {0x20000, 0x2A6DF},
    {0x2A700, 0x2B73F}, {0x2B740, 0x2B81F}, {0x2B920, 0x2CEAF}, {0x2F800, 0x2FA1F},
};
#define COUNT(a) (sizeof a / sizeof *a)

int nli_wp_is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int category(uint32_t c) { return utf8proc_category((utf8proc_int32_t)c); }

/* tokenizers' BertNormalizer is_control: "other" but tab, LF, CR */
static int is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    int k = category(c);
    return (k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO) &&
           !nli_in_ranges(c, CTRL_NEW, COUNT(CTRL_NEW));
}

/* BertPreTokenizer's is_bert_punc: ASCII punctuation or Unicode P* */
static int is_punct(uint32_t c) {
    if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    int k = category(c);
    return (k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO && !nli_in_ranges(c, PUNCT_NEW, COUNT(PUNCT_NEW))) ||
           nli_in_ranges(c, PUNCT_OLD, COUNT(PUNCT_OLD));
}

static int mark_new(uint32_t c) { return c >= 0x7FD && nli_in_ranges(c, MARK_NEW, COUNT(MARK_NEW)); }

/* what BertNormalizer's strip_accents drops (unicode_categories'
 * is_mark_nonspacing) */
static int is_nonspacing(uint32_t c) {
    if (c < 0x300) return 0;
    return (category(c) == UTF8PROC_CATEGORY_MN && !nli_in_ranges(c, MN_NEW, COUNT(MN_NEW))) ||
           nli_in_ranges(c, MN_OLD, COUNT(MN_OLD));
}

/* what StripAccents drops (the normalization crate's is_combining_mark) */
static int is_mark(uint32_t c) {
    if (c < 0x300) return 0;
    int k = category(c);
    return ((k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME) && !mark_new(c)) ||
           nli_in_ranges(c, MARK_OLD, COUNT(MARK_OLD));
}

static int ccc(uint32_t c) {
    return c < 0x300 || mark_new(c) ? 0 : utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
}

/* ------------------------------------------------------------ normalizer */

static int put(nli_buf *o, uint32_t c) {
    char u[4];
    return nli_buf_append(o, u, nli_utf8_put(c, u));
}

static uint32_t next(const char *s, size_t n, size_t *i) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + *i, (utf8proc_ssize_t)(n - *i), &c);
    *i += k < 1 ? 1 : (size_t)k;
    return k < 1 ? 0xFFFD : (uint32_t)c;
}

/* A run of combining characters in canonical order (stable by class):
 * insertion for short runs, counting for long ones. */
static int flush_run(nli_cpbuf *run, nli_cpbuf *tmp, nli_buf *o) {
    uint32_t *v = run->v;
    size_t k = run->n;
    if (k > 32) {
        size_t count[257] = {0};
        for (size_t i = 0; i < k; i++) count[ccc(v[i]) + 1]++;
        for (int c = 1; c < 257; c++) count[c] += count[c - 1];
        tmp->n = 0;
        if (nli_grow((void **)&tmp->v, &tmp->cap, k, sizeof *tmp->v)) return -1;
        for (size_t i = 0; i < k; i++) tmp->v[count[ccc(v[i])]++] = v[i];
        v = tmp->v;
    } else {
        for (size_t i = 1; i < k; i++) {
            uint32_t x = v[i];
            int cx = ccc(x);
            size_t j = i;
            for (; j > 0 && ccc(v[j - 1]) > cx; j--) v[j] = v[j - 1];
            v[j] = x;
        }
    }
    for (size_t i = 0; i < k; i++)
        if (put(o, v[i])) return -1;
    run->n = 0;
    return 0;
}

/* NFD: each character's canonical decomposition, combining runs ordered */
static int nfd(const char *s, size_t n, nli_buf *o) {
    nli_cpbuf run = {0}, tmp = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        uint32_t c = next(s, n, &i);
        utf8proc_int32_t d[8];
        utf8proc_ssize_t nd = 1;
        int bound = 0;
        d[0] = (utf8proc_int32_t)c;
        if (c >= 0xC0 && !mark_new(c)) nd = utf8proc_decompose_char(d[0], d, 8, UTF8PROC_DECOMPOSE, &bound);
        if (nd < 1 || nd > 8) {
            nli_seterr("U+%04X: no canonical decomposition from utf8proc (%d)", c, (int)nd);
            rc = -1;
            break;
        }
        for (utf8proc_ssize_t k = 0; k < nd && !rc; k++) {
            if (ccc((uint32_t)d[k])) rc = nli_cpbuf_push(&run, (uint32_t)d[k]);
            else rc = (run.n && flush_run(&run, &tmp, o)) || put(o, (uint32_t)d[k]);
        }
    }
    if (!rc && run.n) rc = flush_run(&run, &tmp, o);
    free(run.v);
    free(tmp.v);
    return rc ? -1 : 0;
}

static int lower(nli_buf *o, uint32_t c) {
    if (c < 0x80) return put(o, c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (c == 0x130) return put(o, 'i') || put(o, 0x307);
    for (size_t k = 0; k < COUNT(LOWER_NEW); k++)
        if (c >= LOWER_NEW[k][0] && c <= LOWER_NEW[k][1]) return put(o, LOWER_NEW[k][2] + (c - LOWER_NEW[k][0]));
    return put(o, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

static int step(int op, const char *s, size_t n, nli_buf *o) {
    if (op == NLI_WP_NFD) return nfd(s, n, o);
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        uint32_t c = next(s, n, &i);
        if (op == NLI_WP_CLEAN) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            rc = put(o, c == '\t' || c == '\n' || c == '\r' || nli_wp_is_space(c) ? ' ' : c);
        } else if (op == NLI_WP_CHINESE) {
            int cjk = c >= 0x3400 && nli_in_ranges(c, CJK, COUNT(CJK));
            rc = cjk ? put(o, ' ') || put(o, c) || put(o, ' ') : put(o, c);
        } else if (op == NLI_WP_STRIP) {
            if (!is_nonspacing(c)) rc = put(o, c);
        } else if (op == NLI_WP_STRIP_MARKS) {
            if (!is_mark(c)) rc = put(o, c);
        } else {
            rc = lower(o, c);
        }
    }
    return rc ? -1 : 0;
}

int nli_wp_normalize(const nli_wordpiece *w, const char *s, size_t n, char **out, size_t *olen) {
    nli_buf cur = {0};
    int rc = nli_buf_append(&cur, s, n);
    for (size_t k = 0; k < w->nnorm && !rc && cur.len; k++) {
        nli_buf o = {0};
        rc = step(w->norm[k], cur.s, cur.len, &o) || nli_buf_append(&o, "", 0);
        nli_buf_free(&cur);
        cur = o;
    }
    if (rc) {
        nli_buf_free(&cur);
        return -1;
    }
    *out = cur.s;
    *olen = cur.len;
    return 0;
}

/* ------------------------------------------------------------ encoding */


/* One word through the WordPiece model. */
static int wordpiece(const nli_wordpiece *w, const char *s, size_t n, nli_ivec *ids) {
    size_t chars = 0;
    for (size_t i = 0; i < n && chars <= w->max_chars; i++) chars += ((uint8_t)s[i] & 0xC0) != 0x80;
    if (chars > w->max_chars) return nli_ivec_push(ids, w->unk_id);
    size_t mark = ids->n;
    for (size_t start = 0; start < n;) {
        int32_t node = start ? w->cont : 0, best = -1;
        size_t end = start;
        /* the longest piece: keys are whole UTF-8, so every match ends on a character */
        for (size_t k = start; k < n && node >= 0; k++) {
            if ((node = nli_trie_child(&w->vocab, node, (uint8_t)s[k])) >= 0 && w->vocab.id[node] >= 0)
                best = w->vocab.id[node], end = k + 1;
        }
        if (best < 0) {
            ids->n = mark;
            return nli_ivec_push(ids, w->unk_id);
        }
        if (nli_ivec_push(ids, best)) return -1;
        start = end;
    }
    return 0;
}

/* Pre-tokenized, each word through the model. */
static int words(const nli_wordpiece *w, const char *s, size_t n, nli_ivec *ids) {
    if (!w->split) return n ? wordpiece(w, s, n, ids) : 0;
    size_t a = 0;
    for (size_t i = 0; i < n;) {
        size_t at = i;
        uint32_t c = next(s, n, &i);
        int ws = nli_wp_is_space(c);
        if (!ws && !is_punct(c)) continue;
        if (at > a && wordpiece(w, s + a, at - a, ids)) return -1;
        if (!ws && wordpiece(w, s + at, i - at, ids)) return -1;
        a = i;
    }
    return n > a ? wordpiece(w, s + a, n - a, ids) : 0;
}

/* The leftmost, then longest, added token of trie t in s[from..n): its
 * index, [*at, *end); or -1. At most the longest token's length in steps
 * from each position. */
static long next_added(const nli_trie *t, const char *s, size_t n, size_t from, size_t *at, size_t *end) {
    if (!t->ecap) return -1;
    for (size_t i = from; i < n; i++) {
        long best = -1;
        int32_t node = 0;
        for (size_t k = i; k < n && (node = nli_trie_child(t, node, (uint8_t)s[k])) >= 0; k++)
            if (t->id[node] >= 0) best = t->id[node], *end = k + 1;
        if (best >= 0) {
            *at = i;
            return best;
        }
    }
    return -1;
}

static int push_added(const nli_wordpiece *w, long a, nli_ivec *ids) {
    const nli_wp_added *t = &w->added[a];
    if (t->no_id) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "the text holds \"%.60s\", a special token with no id in the "
                        "vocabulary (transformers gives it one past the model's embeddings)", t->content);
        return -1;
    }
    return nli_ivec_push(ids, t->id);
}

/* A piece of the raw text between added tokens. */
static int encode_piece(const nli_wordpiece *w, const char *s, size_t n, nli_ivec *ids) {
    if (n == 0) return 0;
    char *t = NULL;
    size_t m = 0, from = 0, at, end;
    if (nli_wp_normalize(w, s, n, &t, &m)) return -1;
    int rc = 0;
    long a;
    while (!rc && (a = next_added(&w->atrie[1], t, m, from, &at, &end)) >= 0) {
        rc = words(w, t + from, at - from, ids) || push_added(w, a, ids);
        from = end;
    }
    if (!rc) rc = words(w, t + from, m - from, ids);
    free(t);
    return rc ? -1 : 0;
}

int nli_wordpiece_encode(const nli_wordpiece *w, const char *text, size_t len, int32_t **ids_out, size_t *n_out) {
    *ids_out = NULL;
    *n_out = 0;
    if (nli_tok_check_utf8(text, len)) return -1;
    nli_ivec ids = {0};
    int rc = 0;
    for (size_t i = 0; i < w->nprefix && !rc; i++) rc = nli_ivec_push(&ids, w->prefix[i]);
    size_t from = 0, at, end;
    long a;
    while (!rc && (a = next_added(&w->atrie[0], text, len, from, &at, &end)) >= 0) {
        rc = encode_piece(w, text + from, at - from, &ids) || push_added(w, a, &ids);
        from = end;
    }
    if (!rc) rc = encode_piece(w, text + from, len - from, &ids);
    for (size_t i = 0; i < w->nsuffix && !rc; i++) rc = nli_ivec_push(&ids, w->suffix[i]);
    if (!rc && !ids.v) rc = nli_grow((void **)&ids.v, &ids.cap, 1, sizeof *ids.v); /* an empty result is still an allocation */
    if (rc) {
        free(ids.v);
        nli_prefixerr("tokenizing");
        return -1;
    }
    *ids_out = ids.v;
    *n_out = ids.n;
    return 0;
}

int nli_wordpiece_normalize(const nli_wordpiece *w, const char *text, size_t len, char **out, size_t *olen) {
    *out = NULL;
    *olen = 0;
    return nli_tok_check_utf8(text, len) || nli_wp_normalize(w, text, len, out, olen) ? -1 : 0;
}
