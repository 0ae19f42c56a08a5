/* ftfy.c — ftfy.fix_text(text) with ftfy's default TextFixerConfig, step for
 * step as ftfy/__init__.py, fixes.py, badness.py and chardata.py do it:
 *
 *   fix_text: split after each '\n' (and every max_decode_length code
 *     points); unescape_html="auto" turns off for good at the first segment
 *     holding '<'; each segment goes through fix_and_explain:
 *   repeat until nothing changes: unescape_html, fix_encoding (mojibake:
 *     badness heuristic, one-byte encodings incl. the sloppy codecs,
 *     restore_byte_a0, replace_lossy_sequences, utf-8-variants,
 *     decode_inconsistent_utf8, latin-1 -> windows-1252, fix_c1_controls),
 *     fix_c1_controls, fix_latin_ligatures, fix_character_width,
 *     uncurl_quotes (these four are one generated map), fix_line_breaks,
 *     fix_surrogates, remove_terminal_escapes, remove_control_chars, NFC.
 *
 * The regular expressions of the badness heuristic and of the UTF-8 detector
 * run in PCRE2's 32-bit library on the code points themselves (no UTF mode,
 * every class spelled out by the generator); the byte patterns in the 8-bit
 * library without UTF. Plain text (ASCII without '&', ESC or controls) is
 * returned as is without any of this. */
#define PCRE2_CODE_UNIT_WIDTH 0
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "ftfy.h"
#include "util.h"

#define ENC_LATIN1 0
#define ENC_SLOPPY1252 1
#define MAX_ROUNDS 100000 /* fix_and_explain rounds; each strictly shrinks "&amp;" nests */
#define MAX_DEPTH 64      /* decode_inconsistent_utf8 -> fix_encoding recursion */

static struct {
    pcre2_code_32 *bad, *detect;
    pcre2_code_8 *altered, *lossy, *agrave;
    uint32_t c1_sloppy[32]; /* sloppy-windows-1252 decoding of bytes 0x80-0x9F */
    int enc_macroman, ok;
    char err[200];
} G;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static pcre2_code_32 *compile32(const char *pat) {
    size_t n = strlen(pat);
    uint32_t *w = malloc((n + 1) * sizeof *w);
    if (!w) return NULL;
    for (size_t i = 0; i <= n; i++) w[i] = (uint8_t)pat[i];
    int err;
    PCRE2_SIZE off;
    pcre2_code_32 *re = pcre2_compile_32(w, n, 0, &err, &off, NULL);
    free(w);
    if (re) pcre2_jit_compile_32(re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    return re;
}

static pcre2_code_8 *compile8(const char *pat) {
    int err;
    PCRE2_SIZE off;
    pcre2_code_8 *re = pcre2_compile_8((PCRE2_SPTR8)pat, PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
    if (re) pcre2_jit_compile_8(re, PCRE2_JIT_COMPLETE);
    return re;
}

static void init_once(void) {
    G.bad = compile32(nli_ftfy_badness_re);
    G.detect = compile32(nli_ftfy_utf8_detector_re);
    G.altered = compile8(nli_ftfy_altered_utf8_re);
    G.lossy = compile8(nli_ftfy_lossy_utf8_re);
    G.agrave = compile8(nli_ftfy_a_grave_word_re);
    if (!G.bad || !G.detect || !G.altered || !G.lossy || !G.agrave) {
        strcpy(G.err, "ftfy: cannot compile the generated patterns (out of memory?)");
        return;
    }
    G.enc_macroman = -1;
    for (size_t e = 0; e < nli_ftfy_enc_count; e++)
        if (strcmp(nli_ftfy_enc_names[e], "macroman") == 0) G.enc_macroman = (int)e;
    const uint32_t(*t)[2] = nli_ftfy_enc_tables[ENC_SLOPPY1252];
    for (size_t i = 0; i < nli_ftfy_enc_sizes[ENC_SLOPPY1252]; i++)
        if (t[i][1] >= 0x80 && t[i][1] < 0xA0) G.c1_sloppy[t[i][1] - 0x80] = t[i][0];
    if (strcmp(nli_ftfy_enc_names[ENC_LATIN1], "latin-1") || strcmp(nli_ftfy_enc_names[ENC_SLOPPY1252], "sloppy-windows-1252") ||
        G.enc_macroman < 0) {
        strcpy(G.err, "ftfy: the generated encoding tables are not in the expected order");
        return;
    }
    G.ok = 1;
}

static int ready(void) {
    pthread_once(&g_once, init_once);
    if (!G.ok) nli_seterr("%s", G.err);
    return G.ok;
}

static int same(const nli_cpbuf *a, const nli_cpbuf *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

static void swap(nli_cpbuf *a, nli_cpbuf *b) {
    nli_cpbuf t = *a;
    *a = *b;
    *b = t;
}

/* ---- regular expressions ---------------------------------------------- */

/* 1 found (*at, *end set), 0 not, -1 error. */
static int search32(const pcre2_code_32 *re, const uint32_t *s, size_t n, size_t start, size_t *at, size_t *end) {
    pcre2_match_data_32 *md = pcre2_match_data_create_from_pattern_32(re, NULL);
    if (!md) { nli_seterr("ftfy: out of memory for match data"); return -1; }
    static const uint32_t empty[1];
    int m = pcre2_match_32(re, n ? s : empty, n, start, 0, md, NULL);
    if (m >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer_32(md);
        *at = ov[0], *end = ov[1];
    }
    pcre2_match_data_free_32(md);
    if (m == PCRE2_ERROR_NOMATCH) return 0;
    if (m < 0) { nli_seterr("ftfy: regex match failed (%d)", m); return -1; }
    return 1;
}

/* badness.is_bad: BADNESS_RE.search(text). 1, 0, -1 error. */
static int is_bad(const uint32_t *s, size_t n) {
    size_t a, b;
    return search32(G.bad, s, n, 0, &a, &b);
}

typedef struct { uint8_t *v; size_t n, cap; } bytebuf;

/* Room for need bytes and 32 more, the spare ones zeroed (PCRE2's JIT may
 * read words past the end of a subject; see nli_cpbuf_push). */
static int bb_reserve(bytebuf *b, size_t need) {
    if (need + 32 <= b->cap) return 0;
    size_t old = b->cap;
    if (nli_grow((void **)&b->v, &b->cap, need + 32, 1)) return -1;
    memset(b->v + old, 0, b->cap - old);
    return 0;
}

static int bb_put(bytebuf *b, const uint8_t *p, size_t n) {
    if (!n) return 0;
    if (bb_reserve(b, b->n + n)) return -1;
    memcpy(b->v + b->n, p, n);
    b->n += n;
    return 0;
}

/* re.sub over bytes; fn writes the replacement of s[a:e] to out. Every
 * pattern here matches at least one byte. 1 if anything matched. */
static int sub8(const pcre2_code_8 *re, bytebuf *in, int (*fn)(bytebuf *, const uint8_t *, size_t)) {
    pcre2_match_data_8 *md = pcre2_match_data_create_from_pattern_8(re, NULL);
    bytebuf out = {0};
    int rc = -1, any = 0;
    if (!md) { nli_seterr("ftfy: out of memory for match data"); return -1; }
    size_t pos = 0, last = 0;
    while (pos <= in->n) {
        int m = pcre2_match_8(re, in->v, in->n, pos, 0, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) { nli_seterr("ftfy: regex match failed (%d)", m); goto done; }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer_8(md);
        if (ov[1] <= ov[0]) { nli_seterr("ftfy: empty byte match"); goto done; }
        if (bb_put(&out, in->v + last, ov[0] - last) || fn(&out, in->v + ov[0], ov[1] - ov[0])) goto done;
        last = pos = ov[1];
        any = 1;
    }
    if (any) {
        if (bb_put(&out, in->v + last, in->n - last)) goto done;
        free(in->v);
        *in = out;
        out.v = NULL;
    }
    rc = any;
done:
    free(out.v);
    pcre2_match_data_free_8(md);
    return rc;
}

static int rep_agrave(bytebuf *o, const uint8_t *p, size_t n) { (void)p, (void)n; return bb_put(o, (const uint8_t *)"\xC3\xA0 ", 3); }
static int rep_lossy(bytebuf *o, const uint8_t *p, size_t n) { (void)p, (void)n; return bb_put(o, (const uint8_t *)"\xEF\xBF\xBD", 3); }
static int rep_altered(bytebuf *o, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i] == ' ' ? 0xA0 : p[i];
        if (bb_put(o, &b, 1)) return -1;
    }
    return 0;
}

/* ---- one-byte encodings and the UTF-8 decoders ------------------------ */

static int enc_byte(size_t e, uint32_t c) {
    if (c < 0x80 && c != 0x1A) return (int)c;
    const uint32_t(*t)[2] = nli_ftfy_enc_tables[e];
    size_t lo = 0, hi = nli_ftfy_enc_sizes[e];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid][0] == c) return (int)t[mid][1];
        if (t[mid][0] < c) lo = mid + 1; else hi = mid;
    }
    return -1;
}

/* chardata.possible_encoding, then text.encode(encoding). 1 encoded, 0 not
 * possible, -1 out of memory. */
static int encode1(size_t e, const uint32_t *s, size_t n, bytebuf *out) {
    out->n = 0;
    if (bb_reserve(out, n)) return -1;
    for (size_t i = 0; i < n; i++) {
        int b = enc_byte(e, s[i]);
        if (b < 0) return 0;
        out->v[i] = (uint8_t)b;
    }
    out->n = n;
    return 1;
}

/* Python's `$` in a bytes pattern without MULTILINE: at the end, or before a
 * final '\n'. */
static int at_end(const uint8_t *s, size_t n, size_t p) { return p == n || (p + 1 == n && s[p] == '\n'); }

/* Strict UTF-8 of s[a:b], appended; 0 ok, -2 invalid, -1 out of memory. */
static int strict(const uint8_t *s, size_t a, size_t b, nli_cpbuf *out) {
    size_t keep = out->n;
    int rc = nli_utf8_decode(s + a, b - a, out);
    if (rc == -2) out->n = keep;
    return rc;
}

/* ftfy's utf-8-variants codec (bad_codecs/utf8_variants.py), decoding all
 * of s: strict UTF-8 except that C0 80 is U+0000 and a CESU-8 surrogate pair
 * is one supplementary character; both as its SPECIAL_BYTES_RE finds them,
 * `$` included. 0, -2 invalid, -1 out of memory. */
static int decode_variants(const uint8_t *s, size_t n, nli_cpbuf *out) {
    size_t pos = 0;
    while (pos < n) {
        size_t i = pos;
        for (; i < n; i++) {
            if (s[i] == 0xC0 && (i + 1 < n ? s[i + 1] == 0x80 || at_end(s, n, i + 1) : 1)) break;
            if (s[i] == 0xED) {
                if (at_end(s, n, i + 1)) break;
                if (i + 1 < n && s[i + 1] >= 0xA0 && s[i + 1] <= 0xBF &&
                    (at_end(s, n, i + 2) || (i + 2 < n && s[i + 2] >= 0x80 && s[i + 2] <= 0xBF)))
                    break;
            }
        }
        if (i > pos) {
            int rc = strict(s, pos, i, out);
            if (rc) return rc;
            pos = i;
            continue;
        }
        const uint8_t *r = s + pos;
        size_t rn = n - pos;
        if (r[0] == 0xC0) {
            if (rn < 2) return -2;
            if (nli_cpbuf_push(out, 0)) return -1;
            pos += 2;
            continue;
        }
        if (rn < 6) return -2;
        if (r[1] >= 0xA0 && r[1] <= 0xAF && r[2] >= 0x80 && r[2] <= 0xBF && r[3] == 0xED && r[4] >= 0xB0 &&
            r[4] <= 0xBF && ((r[5] >= 0x80 && r[5] <= 0xBF) || at_end(s, n, pos + 5))) {
            uint32_t cp = ((uint32_t)(r[1] & 15) << 16) + ((uint32_t)(r[2] & 63) << 10) + ((uint32_t)(r[4] & 15) << 6) +
                          (r[5] & 63u) + 0x10000;
            if (nli_cpbuf_push(out, cp)) return -1;
            pos += 6;
            continue;
        }
        return -2;
    }
    return 0;
}

/* ---- fix_encoding ------------------------------------------------------ */

static int fix_encoding(const uint32_t *s, size_t n, nli_cpbuf *out, int depth);

/* fixes.fix_c1_controls: U+0080-U+009F through sloppy-windows-1252. */
static int fix_c1(const uint32_t *s, size_t n, nli_cpbuf *out) {
    for (size_t i = 0; i < n; i++)
        if (nli_cpbuf_push(out, s[i] >= 0x80 && s[i] < 0xA0 ? G.c1_sloppy[s[i] - 0x80] : s[i])) return -1;
    return 0;
}

/* fixes.decode_inconsistent_utf8. 1 changed (out set), 0 not, -1 error. */
static int decode_inconsistent(const uint32_t *s, size_t n, nli_cpbuf *out, int depth) {
    size_t pos = 0, last = 0, a, e;
    int r;
    out->n = 0;
    while (pos <= n && (r = search32(G.detect, s, n, pos, &a, &e)) == 1) {
        if (e <= a) { nli_seterr("ftfy: empty detector match"); return -1; }
        if (nli_cpbuf_append(out, s + last, a - last)) return -1;
        int bad = 0;
        if (e - a < n && (bad = is_bad(s + a, e - a)) < 0) return -1;
        if (bad) {
            if (fix_encoding(s + a, e - a, out, depth + 1)) return -1;
        } else if (nli_cpbuf_append(out, s + a, e - a)) {
            return -1;
        }
        last = pos = e;
    }
    if (r < 0 || nli_cpbuf_append(out, s + last, n - last)) return -1;
    return !(out->n == n && memcmp(out->v, s, n * sizeof *s) == 0);
}

/* _fix_encoding_one_step_and_explain: out = the fixed text (maybe equal). */
static int fix_encoding_step(const uint32_t *s, size_t n, nli_cpbuf *out, int depth) {
    out->n = 0;
    size_t i = 0;
    while (i < n && s[i] < 0x80) i++;
    if (i == n) return nli_cpbuf_append(out, s, n);
    int bad = is_bad(s, n);
    if (bad < 0) return -1;
    if (!bad) return nli_cpbuf_append(out, s, n);

    int rc = -1, latin1_possible = 0;
    bytebuf b = {0};
    for (size_t e = 0; e < nli_ftfy_enc_count; e++) {
        int p = encode1(e, s, n, &b);
        if (p < 0) goto done;
        if (!p) continue;
        if (e == ENC_LATIN1) latin1_possible = 1;
        if ((int)e != G.enc_macroman) { /* ALTERED_UTF8_RE.search -> restore_byte_a0 */
            pcre2_match_data_8 *md = pcre2_match_data_create_from_pattern_8(G.altered, NULL);
            if (!md) { nli_seterr("ftfy: out of memory for match data"); goto done; }
            int m = pcre2_match_8(G.altered, b.v, b.n, 0, 0, md, NULL);
            pcre2_match_data_free_8(md);
            if (m < -1) { nli_seterr("ftfy: regex match failed (%d)", m); goto done; }
            if (m >= 0 && (sub8(G.agrave, &b, rep_agrave) < 0 || sub8(G.altered, &b, rep_altered) < 0)) goto done;
        }
        if (strncmp(nli_ftfy_enc_names[e], "sloppy", 6) == 0 && sub8(G.lossy, &b, rep_lossy) < 0) goto done;
        int variants = memchr(b.v, 0xED, b.n) || memchr(b.v, 0xC0, b.n);
        int d = variants ? decode_variants(b.v, b.n, out) : strict(b.v, 0, b.n, out);
        if (d == -1) goto done;
        if (d == 0) { rc = 0; goto done; }
        out->n = 0;
    }
    if (search32(G.detect, s, n, 0, &(size_t){0}, &(size_t){0}) == 1) {
        int c = decode_inconsistent(s, n, out, depth);
        if (c < 0) goto done;
        if (c) { rc = 0; goto done; }
        out->n = 0;
    }
    if (latin1_possible) { /* 'windows-1252' is never in the list: always tried */
        int ok = 1, changed = 0;
        for (size_t k = 0; k < n && ok; k++) {
            uint32_t c = s[k];
            if (c >= 0x80 && c < 0xA0) {
                c = nli_ftfy_cp1252_c1[c - 0x80];
                ok = c != 0;
                changed = 1;
            }
            if (ok && nli_cpbuf_push(out, c)) goto done;
        }
        if (ok && changed) { rc = 0; goto done; }
        out->n = 0;
    }
    for (size_t k = 0; k < n; k++)
        if (s[k] >= 0x80 && s[k] < 0xA0) { rc = fix_c1(s, n, out); goto done; }
    rc = nli_cpbuf_append(out, s, n);
done:
    free(b.v);
    return rc;
}

/* ftfy.fix_encoding: steps until the text stops changing; appended to out. */
static int fix_encoding(const uint32_t *s, size_t n, nli_cpbuf *out, int depth) {
    if (depth > MAX_DEPTH) { nli_seterr("ftfy: mojibake nested more than %d deep", MAX_DEPTH); return -1; }
    nli_cpbuf a = {0}, b = {0};
    int rc = -1;
    if (nli_cpbuf_append(&a, s, n)) goto done;
    for (;;) {
        if (fix_encoding_step(a.v, a.n, &b, depth)) goto done;
        if (same(&a, &b)) break;
        swap(&a, &b);
    }
    rc = nli_cpbuf_append(out, a.v, a.n);
done:
    free(a.v);
    free(b.v);
    return rc;
}

/* ---- the other fixers -------------------------------------------------- */

static int is_alnum_ascii(uint32_t c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

static int cmp_entity(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const nli_ftfy_entity *)elem)->name);
}

/* fixes.unescape_html: HTML_ENTITY_RE = &#?[0-9A-Za-z]{1,24}; */
static int unescape_html(const uint32_t *s, size_t n, nli_cpbuf *out) {
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') { if (nli_cpbuf_push(out, s[i++])) return -1; continue; }
        size_t j = i + 1 + (i + 1 < n && s[i + 1] == '#'), k = j;
        while (k < n && k - j <= 24 && is_alnum_ascii(s[k])) k++;
        if (k == j || k - j > 24 || k >= n || s[k] != ';') { if (nli_cpbuf_push(out, s[i++])) return -1; continue; }
        const nli_ftfy_entity *ent = NULL;
        if (j == i + 1) {
            char name[32];
            for (size_t p = j; p < k; p++) name[p - j] = (char)s[p];
            name[k - j] = 0;
            ent = bsearch(name, nli_ftfy_entities, nli_ftfy_entities_count, sizeof *nli_ftfy_entities, cmp_entity);
        }
        if (ent) {
            if (nli_utf8_decode((const uint8_t *)ent->value, strlen(ent->value), out)) return -1;
        } else if (j == i + 2) { /* "&#...;": html.unescape, kept if a ';' is left */
            size_t keep = out->n;
            if (nli_html_unescape(s + i, k + 1 - i, out)) return -1;
            int semi = 0;
            for (size_t p = keep; p < out->n; p++) semi |= out->v[p] == ';';
            if (semi) {
                out->n = keep;
                if (nli_cpbuf_append(out, s + i, k + 1 - i)) return -1;
            }
        } else if (nli_cpbuf_append(out, s + i, k + 1 - i)) {
            return -1;
        }
        i = k + 1;
    }
    return 0;
}

static int cmp_charmap(const void *key, const void *elem) {
    uint32_t c = *(const uint32_t *)key, d = ((const nli_ftfy_charmap *)elem)->cp;
    return c < d ? -1 : c > d;
}

/* fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes */
static int charmaps(const uint32_t *s, size_t n, nli_cpbuf *out) {
    for (size_t i = 0; i < n; i++) {
        const nli_ftfy_charmap *m = s[i] < 0x80 ? NULL
            : bsearch(&s[i], nli_ftfy_charmaps, nli_ftfy_charmaps_count, sizeof *nli_ftfy_charmaps, cmp_charmap);
        if (m ? nli_cpbuf_append(out, m->to, m->n) : nli_cpbuf_push(out, s[i])) return -1;
    }
    return 0;
}

/* fix_line_breaks, fix_surrogates, remove_terminal_escapes and
 * remove_control_chars, in that order, in place over a (via out). */
static int breaks_surrogates(const uint32_t *s, size_t n, nli_cpbuf *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c == '\r' && i + 1 < n && s[i + 1] == '\n') continue; /* "\r\n" -> "\n" */
        if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        if (nli_cpbuf_push(out, c)) return -1;
    }
    return 0;
}

/* ANSI_RE = \x1b\[((?:\d|;)*)([a-zA-Z]) removed, then CONTROL_CHARS. */
static int escapes_controls(const uint32_t *s, size_t n, nli_cpbuf *out) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 0x1B && i + 1 < n && s[i + 1] == '[') {
            size_t k = i + 2;
            while (k < n && (s[k] == ';' || nli_in_ranges(s[k], nli_ftfy_digit, nli_ftfy_digit_count))) k++;
            if (k < n && s[k] < 0x80 && (s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z') { i = k; continue; }
        }
        if (nli_in_ranges(s[i], nli_ftfy_control, nli_ftfy_control_count)) continue;
        if (nli_cpbuf_push(out, s[i])) return -1;
    }
    return 0;
}

/* unicodedata.normalize("NFC") through utf8proc (identity below U+0300). */
static int nfc(const uint32_t *s, size_t n, nli_cpbuf *out) {
    size_t i = 0;
    while (i < n && s[i] < 0x300) i++;
    if (i == n) return nli_cpbuf_append(out, s, n);
    char *u = nli_mallocarray(n, 4);
    if (!u) return -1;
    size_t len = 0;
    for (size_t k = 0; k < n; k++) len += nli_utf8_put(s[k], u + len);
    utf8proc_uint8_t *r = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)u, (utf8proc_ssize_t)len, &r,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(u);
    if (m < 0) { nli_seterr("ftfy: NFC failed: %s", utf8proc_errmsg(m)); return -1; }
    int rc = nli_utf8_decode(r, (size_t)m, out);
    free(r);
    return rc ? -1 : 0;
}

/* fix_and_explain(segment) with unescape_html on or off. */
static int fix_segment(const uint32_t *s, size_t n, int html, nli_cpbuf *out, size_t *budget) {
    nli_cpbuf cur = {0}, orig = {0}, tmp = {0};
    int rc = -1;
    if (nli_cpbuf_append(&cur, s, n)) goto done;
    for (int round = 0;; round++) {
        if (round == MAX_ROUNDS) { nli_seterr("ftfy: text still changing after %d rounds", MAX_ROUNDS); goto done; }
        /* each round reads the whole segment, and "&amp;amp;...;" nests
         * lose one level a round: 32,000 levels in a 128 KB prompt took 70 s */
        if (cur.n > *budget) {
            nli_seterr("ftfy: the text keeps changing round after round (HTML entities nested %d deep or more, "
                       "such as '&amp;amp;amp;'): more fixing than a text of this length needs; refused",
                       round);
            goto done;
        }
        *budget -= cur.n;
        orig.n = 0;
        if (nli_cpbuf_append(&orig, cur.v, cur.n)) goto done;
        if (html) {
            tmp.n = 0;
            if (unescape_html(cur.v, cur.n, &tmp)) goto done;
            swap(&cur, &tmp);
        }
        int (*const steps[])(const uint32_t *, size_t, nli_cpbuf *) = {charmaps, breaks_surrogates, escapes_controls, nfc};
        tmp.n = 0;
        if (fix_encoding(cur.v, cur.n, &tmp, 0)) goto done;
        swap(&cur, &tmp);
        for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
            tmp.n = 0;
            if (steps[k](cur.v, cur.n, &tmp)) goto done;
            swap(&cur, &tmp);
        }
        if (same(&cur, &orig)) break;
    }
    rc = nli_cpbuf_append(out, cur.v, cur.n);
done:
    free(cur.v);
    free(orig.v);
    free(tmp.v);
    return rc;
}

/* Text that no fixer changes: printable ASCII, \t \n \f, no '&'. */
static int plain(const uint32_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0x7F || c == '&' || (c < 0x20 && c != '\t' && c != '\n' && c != '\f')) return 0;
    }
    return 1;
}

int nli_ftfy_fix_text(const uint32_t *in, size_t n, nli_cpbuf *out) {
    if (plain(in, n)) return nli_cpbuf_append(out, in, n);
    if (!ready()) return -1;
    int html = 1;
    /* work bound: 8 rounds over all of it, plus 64 Mi characters' worth
     * (a real text settles in two or three) */
    size_t budget = (n < ((size_t)1 << 58) ? 8 * n : n) + ((size_t)1 << 26);
    for (size_t pos = 0; pos < n;) {
        size_t end = pos;
        while (end < n && in[end] != '\n') end++;
        end = end < n ? end + 1 : n;
        if (end - pos > nli_ftfy_max_decode_length) end = pos + nli_ftfy_max_decode_length;
        for (size_t k = pos; html && k < end; k++)
            if (in[k] == '<') html = 0;
        if (fix_segment(in + pos, end - pos, html, out, &budget)) return -1;
        pos = end;
    }
    return 0;
}

int nli_ftfy_fix_utf8(const char *s, size_t len, char **out, size_t *outlen) {
    nli_cpbuf a = {0}, b = {0};
    *out = NULL;
    if (outlen) *outlen = 0;
    if (!s && len) { nli_seterr("ftfy: NULL text"); return -1; }
    if (len > ((size_t)1 << 30)) { nli_seterr("ftfy: text too long (%zu bytes, limit 1 GiB)", len); return -1; }
    int rc = -1;
    if (nli_utf8_decode((const uint8_t *)s, len, &a) || nli_ftfy_fix_text(a.v, a.n, &b)) goto done;
    char *o = nli_mallocarray(b.n + 1, 4);
    if (!o) goto done;
    size_t k = 0;
    for (size_t i = 0; i < b.n; i++) k += nli_utf8_put(b.v[i], o + k);
    o[k] = 0;
    *out = o;
    if (outlen) *outlen = k;
    rc = 0;
done:
    free(a.v);
    free(b.v);
    return rc;
}
