/* spm_charsmap.c — SentencePiece's precompiled charsmap (the table of a
 * Unigram tokenizer's "Precompiled" normalizer, e.g. nmt_nfkc: NFKC and
 * SentencePiece's own folding), applied as Hugging Face tokenizers applies
 * it (its spm_precompiled crate).
 *
 * The blob: a little-endian u32, the byte size of a darts-clone double
 * array; the array's 32-bit units; then the replacement strings, each
 * ended by a NUL. A unit: bits 0-7 the label, bit 8 "has a leaf", bits
 * 10-31 the offset (shifted left 8 more when bit 9 is set); a leaf unit's
 * low 31 bits are the value, here the replacement's byte offset.
 *
 * The text is taken one extended grapheme cluster at a time (utf8proc):
 * a cluster under 6 bytes is replaced whole by the replacement of the
 * shortest prefix of it the table has (so a cluster whose first character
 * alone is in the table loses the rest: tokenizers does that, and so must
 * we); otherwise, or when the table has no prefix of it, each character
 * is replaced by its own replacement or kept. The array is checked as it
 * is walked: an index past its end ends the search (the crate would
 * panic); so does a replacement offset past the strings or inside a
 * character.
 *
 * sentencepiece's own normalizer (spm_sp.c, SigLIP's spiece.model) walks
 * the same array differently: from each position the *longest* key (of
 * the first 32 found), every byte walked, NULs too
 * (nli_charsmap_longest). */
#include "unigram.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int nli_charsmap_init(nli_charsmap *cm, const uint8_t *blob, size_t len, const char *what) {
    memset(cm, 0, sizeof *cm);
    if (len < 4) {
        nli_seterr("%s: the precompiled charsmap is %zu bytes (a 4-byte size first)", what, len);
        return -1;
    }
    uint32_t bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    size_t n = bytes / 4;
    if (n > (len - 4) / 4) {
        nli_seterr("%s: the precompiled charsmap's trie claims %u bytes, %zu are there", what, bytes, len - 4);
        return -1;
    }
    const uint8_t *norm = blob + 4 + 4 * n;
    size_t nnorm = len - 4 - 4 * n;
    for (size_t i = 0; i < nnorm;) { /* the strings must be UTF-8 (the crate refuses the table otherwise) */
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(norm + i, (utf8proc_ssize_t)(nnorm - i), &cp);
        if (k < 1) {
            nli_seterr("%s: the precompiled charsmap's strings are not UTF-8 (byte %zu)", what, i);
            return -1;
        }
        i += (size_t)k;
    }
    cm->units = nli_mallocarray(n + 1, sizeof(uint32_t));
    cm->norm = nli_malloc(nnorm + 1);
    if (!cm->units || !cm->norm) {
        nli_charsmap_free(cm);
        nli_prefixerr("%s: precompiled charsmap", what);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *u = blob + 4 + 4 * i;
        cm->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(cm->norm, norm, nnorm);
    cm->norm[nnorm] = 0;
    cm->nunits = n;
    cm->nnorm = nnorm;
    return 0;
}

void nli_charsmap_free(nli_charsmap *cm) {
    free(cm->units);
    free(cm->norm);
    memset(cm, 0, sizeof *cm);
}

static inline size_t unit_offset(uint32_t u) { return (size_t)(u >> 10) << ((u & (1u << 9)) >> 6); }

/* darts-clone's commonPrefixSearch over s[0..n): the value of the longest
 * of the first `max` keys that are prefixes of it (*len its length), or
 * -1. stop_nul: a NUL byte ends the key (the crate), else it is walked
 * like any byte (sentencepiece passes the length). */
static long long prefix_search(const nli_charsmap *cm, const uint8_t *s, size_t n, int max, int stop_nul, size_t *len) {
    if (cm->nunits == 0) return -1;
    long long found = -1;
    size_t node = unit_offset(cm->units[0]);
    for (size_t i = 0; i < n && max > 0 && !(stop_nul && !s[i]); i++) {
        node ^= s[i];
        if (node >= cm->nunits) break;
        uint32_t u = cm->units[node];
        if ((u & ((1u << 31) | 0xFFu)) != s[i]) break;
        node ^= unit_offset(u);
        if ((u >> 8) & 1) {
            if (node >= cm->nunits) break;
            found = (long long)(cm->units[node] & ((1u << 31) - 1));
            *len = i + 1;
            max--;
        }
    }
    return found;
}

/* The replacement of the shortest prefix of s[0..n) (up to a NUL) in the
 * table: its offset in cm->norm, or -1. */
static long long shortest_prefix(const nli_charsmap *cm, const uint8_t *s, size_t n) {
    size_t len;
    return prefix_search(cm, s, n, 1, 1, &len);
}

long long nli_charsmap_longest(const nli_charsmap *cm, const uint8_t *s, size_t n, size_t *len) {
    return prefix_search(cm, s, n, 32, 0, len);
}

static int put(char **out, size_t *olen, size_t *cap, const char *s, size_t n) {
    if (*olen + n + 1 > *cap) {
        size_t c = (*cap ? *cap : 64);
        while (c < *olen + n + 1) c *= 2;
        char *p = nli_realloc(*out, c);
        if (!p) return -1;
        *out = p;
        *cap = c;
    }
    memcpy(*out + *olen, s, n);
    *olen += n;
    (*out)[*olen] = 0;
    return 0;
}

/* The replacement for chunk s[0..n): 1 with it in [*r, *r + *rn), or 0. */
static int transform(const nli_charsmap *cm, const char *s, size_t n, const char **r, size_t *rn) {
    long long off = shortest_prefix(cm, (const uint8_t *)s, n);
    if (off < 0 || (size_t)off > cm->nnorm) return 0;
    const char *p = cm->norm + off;
    if ((size_t)off < cm->nnorm && ((uint8_t)*p & 0xC0) == 0x80) return 0; /* inside a character */
    *r = p;
    *rn = strlen(p);
    return 1;
}

int nli_charsmap_normalize(const nli_charsmap *cm, const char *s, size_t n, char **out, size_t *olen, size_t *cap) {
    size_t i = 0;
    while (i < n) {
        /* one extended grapheme cluster: [i, j) */
        utf8proc_int32_t prev, cp;
        utf8proc_int32_t state = 0;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &prev);
        if (k < 1) return -1; /* the caller validated the UTF-8 */
        size_t j = i + (size_t)k;
        while (j < n) {
            k = utf8proc_iterate((const uint8_t *)s + j, (utf8proc_ssize_t)(n - j), &cp);
            if (k < 1) return -1;
            if (utf8proc_grapheme_break_stateful(prev, cp, &state)) break;
            prev = cp;
            j += (size_t)k;
        }
        const char *r;
        size_t rn;
        if (j - i < 6 && transform(cm, s + i, j - i, &r, &rn)) {
            if (put(out, olen, cap, r, rn)) return -1;
        } else {
            for (size_t c = i; c < j;) {
                size_t w = (size_t)utf8proc_iterate((const uint8_t *)s + c, (utf8proc_ssize_t)(j - c), &cp);
                if (transform(cm, s + c, w, &r, &rn) ? put(out, olen, cap, r, rn) : put(out, olen, cap, s + c, w))
                    return -1;
                c += w;
            }
        }
        i = j;
    }
    return put(out, olen, cap, "", 0);
}
