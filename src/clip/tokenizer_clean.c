/* tokenizer_clean.c — the text normalisation of OpenAI's simple_tokenizer.py:
 *
 *   whitespace_clean(basic_clean(text)).lower()
 *
 * basic_clean = ftfy.fix_text (ftfy.c), html.unescape twice, str.strip();
 * whitespace_clean = regex.sub(r'\s+', ' ') then str.strip().
 * Everything works on arrays of code points, as Python's str does, so that
 * "32 characters" and "strip" mean what they mean there. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "ftfy.h"
#include "tokenizer.h"
#include "util.h"

/* Generated tables (scripts/gen_tokenizer_tables.py -> tokenizer_tables.c). */
typedef struct { const char *name, *value; } nli_html_entity;
extern const nli_html_entity nli_html_entities[];
extern const size_t nli_html_entities_count;
extern const uint32_t nli_html_invalid_charrefs[][2];
extern const size_t nli_html_invalid_charrefs_count;
extern const uint32_t nli_html_invalid_codepoints[];
extern const size_t nli_html_invalid_codepoints_count;
extern const uint32_t nli_uc_cased[][2];
extern const size_t nli_uc_cased_count;
extern const uint32_t nli_uc_case_ignorable[][2];
extern const size_t nli_uc_case_ignorable_count;

typedef nli_cpbuf cpbuf;

/* Room for need code points and 8 more, the spare ones zeroed: PCRE2's JIT
 * (ftfy.c) may read whole words past the end of a subject, and memcheck
 * would report those bytes as uninitialised. */
static int cp_reserve(cpbuf *b, size_t need) {
    if (need + 8 <= b->cap) return 0;
    size_t old = b->cap;
    if (nli_grow((void **)&b->v, &b->cap, need + 8, sizeof *b->v)) return -1;
    memset(b->v + old, 0, (b->cap - old) * sizeof *b->v);
    return 0;
}

int nli_cpbuf_push(cpbuf *b, uint32_t c) {
    if (b->n + 8 >= b->cap && cp_reserve(b, b->n + 1)) return -1;
    b->v[b->n++] = c;
    return 0;
}
#define cp_push nli_cpbuf_push

int nli_cpbuf_append(cpbuf *b, const uint32_t *v, size_t n) {
    if (!n) return 0;
    if (cp_reserve(b, b->n + n)) return -1;
    memcpy(b->v + b->n, v, n * sizeof *v);
    b->n += n;
    return 0;
}

static int cp_push_utf8(cpbuf *b, const char *s);

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or values past U+10FFFF.
 * -1 out of memory, -2 invalid. */
int nli_utf8_decode(const uint8_t *s, size_t len, cpbuf *out) {
    size_t i = 0;
    while (i < len) {
        uint32_t c = s[i];
        size_t need;
        uint32_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) { if (cp_push(out, c)) return -1; i++; continue; }
        if (c < 0xC0) { nli_seterr("invalid UTF-8 at byte %zu: stray continuation byte 0x%02X", i, c); return -2; }
        if (c < 0xC2) { nli_seterr("invalid UTF-8 at byte %zu: overlong 2-byte sequence (lead 0x%02X)", i, c); return -2; }
        if (c < 0xE0) { need = 1; c &= 0x1F; }
        else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
            c &= 0x0F;
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
            c &= 0x07;
        } else {
            nli_seterr("invalid UTF-8 at byte %zu: byte 0x%02X never appears in UTF-8", i, c);
            return -2;
        }
        if (len - i <= need) {
            nli_seterr("invalid UTF-8 at byte %zu: truncated %zu-byte sequence at end of text", i, need + 1);
            return -2;
        }
        uint8_t b1 = s[i + 1];
        if (b1 < 0x80 || b1 > 0xBF) {
            nli_seterr("invalid UTF-8 at byte %zu: truncated sequence (byte 0x%02X is not a continuation)", i + 1, b1);
            return -2;
        }
        if (b1 < lo || b1 > hi) {
            const char *why = lo == 0xA0 || lo == 0x90 ? "overlong encoding"
                              : hi == 0x9F         ? "UTF-16 surrogate"
                                                   : "code point above U+10FFFF";
            nli_seterr("invalid UTF-8 at byte %zu: %s", i, why);
            return -2;
        }
        for (size_t k = 1; k <= need; k++) {
            uint8_t b = s[i + k];
            if ((b & 0xC0) != 0x80) {
                nli_seterr("invalid UTF-8 at byte %zu: truncated sequence (byte 0x%02X is not a continuation)", i + k, b);
                return -2;
            }
            c = (c << 6) | (b & 0x3F);
        }
        if (cp_push(out, c)) return -1;
        i += need + 1;
    }
    return 0;
}

size_t nli_utf8_put(uint32_t c, char *o) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12); o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18); o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Append a (valid, table-made) UTF-8 string as code points. */
static int cp_push_utf8(cpbuf *b, const char *s) {
    cpbuf tmp = {0};
    size_t n = strlen(s);
    if (nli_utf8_decode((const uint8_t *)s, n, &tmp)) { free(tmp.v); return -1; }
    for (size_t i = 0; i < tmp.n; i++)
        if (cp_push(b, tmp.v[i])) { free(tmp.v); return -1; }
    free(tmp.v);
    return 0;
}

static int cmp_entity(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const nli_html_entity *)elem)->name);
}

static const char *entity_lookup(const char *name) {
    const nli_html_entity *e = bsearch(name, nli_html_entities, nli_html_entities_count,
                                      sizeof *nli_html_entities, cmp_entity);
    return e ? e->value : NULL;
}

static int u32_in_sorted(uint32_t c, const uint32_t *v, size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == c) return 1;
        if (v[mid] < c) lo = mid + 1; else hi = mid;
    }
    return 0;
}

int nli_in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

/* html._replace_charref for a numeric reference (num saturates past U+10FFFF;
 * Python itself would raise on more than 4300 digits). */
static int numeric_ref(cpbuf *out, uint32_t num) {
    for (size_t k = 0; k < nli_html_invalid_charrefs_count; k++)
        if (nli_html_invalid_charrefs[k][0] == num) return cp_push(out, nli_html_invalid_charrefs[k][1]);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return cp_push(out, 0xFFFD);
    if (u32_in_sorted(num, nli_html_invalid_codepoints, nli_html_invalid_codepoints_count)) return 0;
    return cp_push(out, num);
}

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int is_xdigit(uint32_t c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
static uint32_t xval(uint32_t c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }

/* Python's html.unescape: the regex
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * replaced by _replace_charref, scanning left to right. */
int nli_html_unescape(const uint32_t *in, size_t n, cpbuf *out) {
    size_t i = 0;
    while (i < n) {
        if (in[i] != '&') { if (cp_push(out, in[i++])) return -1; continue; }
        size_t j = i + 1;
        if (j < n && in[j] == '#') {
            size_t k = j + 1;
            int hex = 0;
            if (k + 1 < n && (in[k] == 'x' || in[k] == 'X') && is_xdigit(in[k + 1])) { hex = 1; k++; }
            size_t d0 = k;
            uint32_t num = 0;
            while (k < n && (hex ? is_xdigit(in[k]) : is_digit(in[k]))) {
                uint32_t v = hex ? xval(in[k]) : in[k] - '0';
                num = num > 0x10FFFF ? 0x110000 : num * (hex ? 16 : 10) + v;
                k++;
            }
            if (k == d0) { if (cp_push(out, '&')) return -1; i++; continue; } /* no match */
            if (k < n && in[k] == ';') k++;
            if (numeric_ref(out, num)) return -1;
            i = k;
            continue;
        }
        /* Named: up to 32 characters, then an optional ';'. */
        size_t k = j;
        while (k < n && k - j < 32) {
            uint32_t c = in[k];
            if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';') break;
            k++;
        }
        if (k == j) { if (cp_push(out, '&')) return -1; i++; continue; }
        if (k < n && in[k] == ';') k++;
        /* Names are ASCII: only the ASCII head of s can match anything. */
        char name[40];
        size_t slen = k - j, ascii = 0;
        while (ascii < slen && in[j + ascii] < 0x80) { name[ascii] = (char)in[j + ascii]; ascii++; }
        name[ascii] = 0;
        const char *val = ascii == slen ? entity_lookup(name) : NULL;
        size_t used = slen;
        if (!val) {
            /* the longest prefix (2+ chars) that names an entity */
            for (size_t x = (slen - 1 < ascii ? slen - 1 : ascii); x >= 2 && !val; x--) {
                name[x] = 0;
                val = entity_lookup(name);
                if (val) used = x;
            }
        }
        if (!val) {
            for (size_t p = i; p < k; p++) if (cp_push(out, in[p])) return -1;
        } else {
            if (cp_push_utf8(out, val)) return -1;
            for (size_t p = j + used; p < k; p++) if (cp_push(out, in[p])) return -1;
        }
        i = k;
    }
    return 0;
}

/* str.isspace() — what str.strip() removes. */
static int py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The regex module's \s: Unicode White_Space (unlike isspace, not 0x1C-0x1F). */
static int re_space(uint32_t c) { return py_isspace(c) && !(c >= 0x1C && c <= 0x1F); }

static int is_cased(uint32_t c) { return nli_in_ranges(c, nli_uc_cased, nli_uc_cased_count); }
static int is_case_ignorable(uint32_t c) {
    return nli_in_ranges(c, nli_uc_case_ignorable, nli_uc_case_ignorable_count);
}

/* CPython's handle_capital_sigma: Σ becomes ς at the end of a word, i.e.
 * \p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased}). */
static uint32_t lower_sigma(const uint32_t *a, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && is_case_ignorable(a[j - 1])) j--;
    if (j == 0 || !is_cased(a[j - 1])) return 0x3C3;
    j = i + 1;
    while (j < n && is_case_ignorable(a[j])) j++;
    return (j == n || !is_cased(a[j])) ? 0x3C2 : 0x3C3;
}

/* str.lower(): simple lowercase mapping from utf8proc, plus the two cases
 * where Python's full mapping differs (U+0130 and the final sigma). */
static int py_lower(const uint32_t *a, size_t n, cpbuf *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = a[i];
        if (c == 0x130) {
            if (cp_push(out, 'i') || cp_push(out, 0x307)) return -1;
        } else if (c == 0x3A3) {
            if (cp_push(out, lower_sigma(a, n, i))) return -1;
        } else if (cp_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c))) {
            return -1;
        }
    }
    return 0;
}

static int check_text(const char *text, size_t len, cpbuf *cp) {
    if (!text && len) { nli_seterr("tokenizer: NULL text"); return -1; }
    if (len > ((size_t)1 << 30)) { nli_seterr("tokenizer: text too long (%zu bytes, limit 1 GiB)", len); return -1; }
    return nli_utf8_decode((const uint8_t *)text, len, cp) ? -1 : 0;
}

int nli_tokenizer_check_text(const char *text, size_t len) {
    cpbuf cp = {0};
    int rc = check_text(text, len, &cp);
    free(cp.v);
    return rc;
}

int nli_tokenizer_clean(const char *text, size_t len, char **out, size_t *outlen) {
    cpbuf a = {0}, b = {0};
    char *s = NULL;
    *out = NULL;
    if (outlen) *outlen = 0;
    if (check_text(text, len, &b)) goto fail;
    if (nli_ftfy_fix_text(b.v, b.n, &a)) goto fail;
    b.n = 0;
    if (nli_html_unescape(a.v, a.n, &b)) goto fail;
    a.n = 0;
    if (nli_html_unescape(b.v, b.n, &a)) goto fail;

    /* strip; collapse \s+ to ' '; strip again (in place). */
    size_t lo = 0, hi = a.n;
    while (lo < hi && py_isspace(a.v[lo])) lo++;
    while (hi > lo && py_isspace(a.v[hi - 1])) hi--;
    size_t m = 0;
    for (size_t i = lo; i < hi;) {
        if (re_space(a.v[i])) {
            while (i < hi && re_space(a.v[i])) i++;
            a.v[m++] = ' ';
        } else {
            a.v[m++] = a.v[i++];
        }
    }
    lo = 0, hi = m;
    while (lo < hi && py_isspace(a.v[lo])) lo++;
    while (hi > lo && py_isspace(a.v[hi - 1])) hi--;

    b.n = 0;
    if (hi > lo && py_lower(a.v + lo, hi - lo, &b)) goto fail; /* a.v is NULL for "" */
    s = nli_mallocarray(b.n + 1, 4);
    if (!s) goto fail;
    size_t o = 0;
    for (size_t i = 0; i < b.n; i++) o += nli_utf8_put(b.v[i], s + o);
    s[o] = 0;
    free(a.v);
    free(b.v);
    *out = s;
    if (outlen) *outlen = o;
    return 0;
fail:
    free(a.v);
    free(b.v);
    return -1;
}
