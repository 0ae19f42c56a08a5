/* spm_text.c — SiglipTokenizer.canonicalize_text (transformers 5, from
 * big_vision's prompt engineering), run on each piece of the text between
 * special tokens before sentencepiece sees it:
 *
 *   text.lower() (when do_lower_case), then the 32 characters of Python's
 *   string.punctuation removed, re.sub(r"\s+", " "), strip().
 *
 * Python's str.lower() is the full Unicode lowercase (Python 3.11:
 * Unicode 14): the simple mapping (utf8proc's, Unicode 15: the same for
 * every code point, checked by test_spm), U+0130 `İ` to "i" + U+0307, and
 * U+03A3 `Σ` to final `ς` when a cased letter precedes it and none
 * follows it, case-ignorable characters skipped both ways (Python's
 * handle_capital_sigma: Cased and Case_Ignorable from Python's Unicode
 * database; here utf8proc's categories with the code points where they
 * differ, printed by tests/gen/gen_spm.py --tables). \s and strip() are
 * str.isspace(): Unicode White_Space, plus U+001C..U+001F, without
 * U+180E. */
#include <string.h>
#include <utf8proc.h>

#include "spm_impl.h"
#include "tokenizer_impl.h" /* nli_tok_check_utf8 */

/* Where Python 3.11's Case_Ignorable differs from Mn Me Cf Lm Sk and the
 * apostrophes and middle letters of Word_Break (utf8proc, Unicode 15):
 * characters of Unicode 15 that Python does not know yet. */
static const uint32_t IGNORABLE_FLIP[][2] = {
    {0x0ECE, 0x0ECE},   {0x10EFD, 0x10EFF}, {0x11241, 0x11241}, {0x11F00, 0x11F01},
    {0x11F36, 0x11F3A}, {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13439, 0x13440},
    {0x13447, 0x13455}, {0x1E030, 0x1E06D}, {0x1E08F, 0x1E08F}, {0x1E4EB, 0x1E4EF},
};
/* Where Python's Cased differs from Lu Ll Lt (for characters that are
 * not case-ignorable): Other_Lowercase and Other_Uppercase letters. */
static const uint32_t CASED_FLIP[][2] = {
    {0x00AA, 0x00AA},   {0x00BA, 0x00BA},   {0x2160, 0x217F},   {0x24B6, 0x24E9},
    {0x1DF25, 0x1DF2A}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

#define NRANGES(r) (sizeof r / sizeof *r)

static int case_ignorable(uint32_t c) {
    static const uint32_t mid[] = {0x27,   0x2E,   0x3A,   0xB7,   0x387,  0x55F,  0x5F4,  0x2018, 0x2019,
                                   0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    int v = k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
            k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
    for (size_t i = 0; i < sizeof mid / sizeof *mid && !v; i++) v = c == mid[i];
    return v != in_ranges(IGNORABLE_FLIP, NRANGES(IGNORABLE_FLIP), c);
}

static int cased(uint32_t c) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    int v = k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
    return v != in_ranges(CASED_FLIP, NRANGES(CASED_FLIP), c);
}

int nli_spm_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t nli_spm_cp(const char *s, size_t n, size_t i, uint32_t *c) {
    utf8proc_int32_t v;
    utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &v);
    *c = k < 1 ? 0xFFFD : (uint32_t)v;
    return k < 1 ? 1 : (size_t)k;
}

/* The start of the code point that ends at s[i] (i > 0). */
static size_t back(const char *s, size_t i) {
    do i--;
    while (i > 0 && ((uint8_t)s[i] & 0xC0) == 0x80);
    return i;
}

/* Σ at s[i..i+w) is final: a cased character before it and none after
 * it, case-ignorable ones skipped (Python's handle_capital_sigma). */
static int final_sigma(const char *s, size_t n, size_t i, size_t w) {
    uint32_t c = 0;
    size_t j = i;
    int found = 0;
    while (j > 0) {
        j = back(s, j);
        nli_spm_cp(s, n, j, &c);
        if (!case_ignorable(c)) {
            found = 1;
            break;
        }
    }
    if (!found || !cased(c)) return 0;
    for (j = i + w; j < n;) {
        j += nli_spm_cp(s, n, j, &c);
        if (!case_ignorable(c)) return !cased(c);
    }
    return 1;
}

/* string.punctuation: the printable ASCII that is neither a letter nor a digit */
static int is_punct(uint32_t c) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

/* Appends the lowercase of code point c (at s[i..i+w)). */
static size_t lower_into(const char *s, size_t n, size_t i, size_t w, uint32_t c, uint32_t out[2]) {
    if (c == 0x130) {
        out[0] = 'i', out[1] = 0x307;
        return 2;
    }
    out[0] = c == 0x3A3 && final_sigma(s, n, i, w) ? 0x3C2 : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

int nli_spm_canon(int lower, const char *s, size_t n, nli_buf *out) {
    int gap = 0; /* whitespace seen since the last character kept */
    size_t start = out->len;
    for (size_t i = 0; i < n;) {
        uint32_t c, low[2];
        size_t w = nli_spm_cp(s, n, i, &c), k = 1;
        if (lower) k = lower_into(s, n, i, w, c, low);
        else low[0] = c;
        i += w;
        for (size_t j = 0; j < k; j++) {
            uint32_t d = low[j];
            if (is_punct(d)) continue;
            if (nli_spm_py_space(d)) {
                gap = 1;
                continue;
            }
            uint8_t u[4];
            utf8proc_ssize_t m = utf8proc_encode_char((utf8proc_int32_t)d, u);
            if ((gap && out->len > start && nli_buf_append(out, " ", 1)) || nli_buf_append(out, (const char *)u, (size_t)m))
                return -1;
            gap = 0;
        }
    }
    return nli_buf_append(out, "", 0);
}

int nli_spm_canonicalize(int lower, const char *text, size_t len, char **out, size_t *olen) {
    *out = NULL;
    *olen = 0;
    if (nli_tok_check_utf8(text, len)) return -1;
    nli_buf b = {0};
    if (nli_spm_canon(lower, text, len, &b)) {
        nli_buf_free(&b);
        return -1;
    }
    *out = b.s;
    *olen = b.len;
    return 0;
}
