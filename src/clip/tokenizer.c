/* tokenizer.c — CLIP's byte-level BPE, as OpenAI's simple_tokenizer.py.
 *
 * Text is normalised by nli_tokenizer_clean (tokenizer_clean.c), split by the
 * same regex (PCRE2, UTF + UCP + caseless), each piece's UTF-8 bytes mapped
 * through GPT-2's bytes_to_unicode, and BPE-merged with '</w>' on the last
 * symbol. BPE runs on vocabulary ids rather than strings: every symbol BPE
 * can produce is a base byte symbol or a merge result, and loading checks
 * that all of those are in the vocabulary, so ids and strings correspond
 * 1:1. The tables are filled by tokenizer_load.c (vocab.json + merges.txt,
 * tokenizer.json, or OpenAI's merges built in).
 *
 * The tokenizer is read-only after loading; each encode call has its own
 * scratch, so concurrent calls are safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"
#include "util.h"

/* Python's \s for the regex module, spelled out so PCRE2's own notion of
 * \s (which differs, e.g. U+180E) does not enter. U+0345 is left out of the
 * last class because under regex.IGNORECASE it case-folds to a letter and so
 * matches no alternative at all: Python drops it like a space. */
#define WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
/* The split regex after its first two alternatives, the special-token
 * strings (OpenAI's or open_clip's: compile_split). */
static const char PATTERN_REST[] =
    "|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^" WS "\\x{345}\\p{L}\\p{N}]+";
static const char OPENAI_SOT[] = "<|startoftext|>", OPENAI_EOT[] = "<|endoftext|>";
static const char OPENCLIP_SOT[] = "<start_of_text>", OPENCLIP_EOT[] = "<end_of_text>";

static uint64_t hash_bytes(const char *s, size_t n) { return nli_fnv1a(s, n, NL_FNV_INIT); }

static uint64_t hash_pair(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static int32_t vocab_get(const nli_tokenizer *t, const char *s, size_t n) {
    size_t mask = t->vcap - 1, i = hash_bytes(s, n) & mask;
    while (t->vkey[i]) {
        if (t->vlen[i] == n && memcmp(t->vkey[i], s, n) == 0) return t->vid[i];
        i = (i + 1) & mask;
    }
    return -1;
}

static int64_t merge_get(const nli_tokenizer *t, int32_t a, int32_t b) {
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t mask = t->mcap - 1, i = hash_pair(k) & mask;
    while (t->mrank[i] != UINT32_MAX) {
        if (t->mkey[i] == k) return t->mrank[i];
        i = (i + 1) & mask;
    }
    return -1;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * rest to U+0100 upwards in byte order. */
static uint32_t byte_to_unicode(int b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return (uint32_t)b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
    return 256 + (uint32_t)n;
}

static size_t put_utf8_2(uint32_t c, char *o) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    o[0] = (char)(0xC0 | c >> 6); /* byte symbols are all below U+0800 */
    o[1] = (char)(0x80 | (c & 0x3F));
    return 2;
}

size_t nli_tok_byte_symbol(int byte, char o[2]) { return put_utf8_2(byte_to_unicode(byte), o); }

nli_tokenizer *nli_tok_new(const char *source, int openclip_names) {
    nli_tokenizer *t = nli_calloc(1, sizeof *t);
    if (t) {
        t->source = source;
        t->sot_str = openclip_names ? OPENCLIP_SOT : OPENAI_SOT;
        t->eot_str = openclip_names ? OPENCLIP_EOT : OPENAI_EOT;
    }
    return t;
}

int nli_tok_vocab_init(nli_tokenizer *t, size_t count, const char *src) {
    if (count == 0 || count > NLI_TOK_MAX_ID) {
        nli_seterr("%s: %zu tokens in the vocabulary (expected 1 to %d)", src, count, NLI_TOK_MAX_ID);
        return -1;
    }
    t->vcap = pow2_at_least(count * 2);
    t->vkey = nli_calloc(t->vcap, sizeof *t->vkey);
    t->vlen = nli_calloc(t->vcap, sizeof *t->vlen);
    t->vid = nli_calloc(t->vcap, sizeof *t->vid);
    t->seen = nli_calloc(NLI_TOK_MAX_ID, 1);
    if (!t->vkey || !t->vlen || !t->vid || !t->seen) {
        nli_prefixerr("%s", src);
        return -1;
    }
    return 0;
}

int nli_tok_vocab_add(nli_tokenizer *t, const char *key, size_t klen, long long id, const char *src) {
    if (id < 0 || id >= NLI_TOK_MAX_ID) {
        nli_seterr("%s: token \"%.40s\" has id %lld, outside 0..%d", src, key, id, NLI_TOK_MAX_ID - 1);
        return -1;
    }
    if (t->seen[id]) {
        nli_seterr("%s: id %lld is given to more than one token (again for \"%.40s\")", src, id, key);
        return -1;
    }
    if (t->vcount * 2 >= t->vcap || klen > UINT32_MAX) {
        nli_seterr("%s: more tokens than announced", src);
        return -1;
    }
    size_t mask = t->vcap - 1, i = hash_bytes(key, klen) & mask;
    for (; t->vkey[i]; i = (i + 1) & mask)
        if (t->vlen[i] == klen && memcmp(t->vkey[i], key, klen) == 0) {
            nli_seterr("%s: token \"%.40s\" appears twice", src, key);
            return -1;
        }
    if (!(t->vkey[i] = nli_strndup(key, klen))) {
        nli_prefixerr("%s", src);
        return -1;
    }
    t->seen[id] = 1;
    t->vlen[i] = (uint32_t)klen;
    t->vid[i] = (int32_t)id;
    t->vcount++;
    if (klen + 8 > t->catcap) t->catcap = klen + 8;
    return 0;
}

int32_t nli_tok_vocab_get(const nli_tokenizer *t, const char *s, size_t n) { return vocab_get(t, s, n); }

/* The symbols BPE starts from, and the special tokens. */
int nli_tok_vocab_done(nli_tokenizer *t, const char *src) {
    free(t->seen);
    t->seen = NULL;
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t n = put_utf8_2(byte_to_unicode(b), s);
        t->byte_id[b] = vocab_get(t, s, n);
        memcpy(s + n, "</w>", 4);
        t->byte_end_id[b] = vocab_get(t, s, n + 4);
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0) {
            s[n] = 0;
            nli_seterr("%s: byte symbol \"%s\" (byte 0x%02X) or its \"</w>\" form is missing", src, s, b);
            return -1;
        }
    }
    t->sot = vocab_get(t, "<|startoftext|>", 15);
    t->eot = vocab_get(t, "<|endoftext|>", 13);
    if (t->sot < 0 || t->eot < 0) {
        nli_seterr("%s: special token <|startoftext|> or <|endoftext|> is missing", src);
        return -1;
    }
    return 0;
}

int nli_tok_merges_init(nli_tokenizer *t, size_t count, const char *src) {
    if (count > NLI_TOK_MAX_ID) {
        nli_seterr("%s: %zu merges (at most %d)", src, count, NLI_TOK_MAX_ID);
        return -1;
    }
    t->mmax = count ? count : 1;
    t->mcap = pow2_at_least(t->mmax * 2);
    t->mkey = nli_mallocarray(t->mcap, sizeof *t->mkey);
    t->mrank = nli_mallocarray(t->mcap, sizeof *t->mrank);
    t->ra = nli_mallocarray(t->mmax, sizeof *t->ra);
    t->rb = nli_mallocarray(t->mmax, sizeof *t->rb);
    t->rm = nli_mallocarray(t->mmax, sizeof *t->rm);
    /* a join longer than the longest token is in no vocabulary */
    t->cat = nli_malloc(t->catcap);
    if (!t->mkey || !t->mrank || !t->ra || !t->rb || !t->rm || !t->cat) {
        nli_prefixerr("%s", src);
        return -1;
    }
    memset(t->mrank, 0xFF, t->mcap * sizeof *t->mrank);
    return 0;
}

int nli_tok_merge_add(nli_tokenizer *t, const char *a, size_t na, const char *b, size_t nb) {
    int32_t ia = vocab_get(t, a, na), ib = vocab_get(t, b, nb);
    if (ia < 0 || ib < 0 || na + nb > t->catcap) return 1;
    memcpy(t->cat, a, na);
    memcpy(t->cat + na, b, nb);
    int32_t m = vocab_get(t, t->cat, na + nb);
    if (m < 0) return 1;
    if (t->nrank >= t->mmax) return 1;
    uint32_t r = (uint32_t)t->nrank++;
    t->ra[r] = ia, t->rb[r] = ib, t->rm[r] = m;
    uint64_t k = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    size_t mask = t->mcap - 1, i = hash_pair(k) & mask;
    while (t->mrank[i] != UINT32_MAX && t->mkey[i] != k) i = (i + 1) & mask;
    t->mkey[i] = k;
    t->mrank[i] = r;
    return 0;
}

/* A regex literal for s: every character that PCRE2 could read as syntax
 * escaped (the names hold '|', '<', '>' and '_' only). */
static void regex_quote(const char *s, char *o) {
    for (; *s; s++) {
        if (*s == '|') *o++ = '\\';
        *o++ = *s;
    }
    *o = 0;
}

/* The split regex for the tokenizer's special-token strings, compiled once
 * when the tables are full. */
static int compile_split(nli_tokenizer *t) {
    char sot[64], eot[64], pat[sizeof PATTERN_REST + 160];
    regex_quote(t->sot_str, sot);
    regex_quote(t->eot_str, eot);
    snprintf(pat, sizeof pat, "%s|%s%s", sot, eot, PATTERN_REST);
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                                   &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        nli_seterr("tokenizer: cannot compile the split pattern at %zu: %s", (size_t)off, (char *)msg);
        return -1;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; the interpreter is the fallback */
    t->re = re;
    return 0;
}

int nli_tok_finish(nli_tokenizer *t, const char *src) {
    free(t->cat);
    t->cat = NULL;
    if (t->nrank == 0) {
        nli_seterr("%s: no merges found", src);
        return -1;
    }
    return compile_split(t);
}

void nli_tokenizer_free(nli_tokenizer *t) {
    if (!t) return;
    if (t->vkey)
        for (size_t i = 0; i < t->vcap; i++) free(t->vkey[i]);
    free(t->vkey);
    free(t->vlen);
    free(t->vid);
    free(t->mkey);
    free(t->mrank);
    free(t->ra);
    free(t->rb);
    free(t->rm);
    free(t->seen);
    free(t->cat);
    pcre2_code_free(t->re);
    nli_tok_added_free(t);
    free(t);
}

int32_t nli_tokenizer_sot(const nli_tokenizer *t) { return t->sot; }
int32_t nli_tokenizer_eot(const nli_tokenizer *t) { return t->eot; }
size_t nli_tokenizer_vocab_size(const nli_tokenizer *t) { return t->vcount; }

uint64_t nli_tokenizer_digest(const nli_tokenizer *t) {
    /* the vocabulary as a set (its slot order depends on how it was filled),
     * then the merges in rank order and the special tokens */
    uint64_t vocab = 0;
    for (size_t i = 0; i < t->vcap; i++)
        if (t->vkey[i]) vocab += hash_pair(nli_fnv1a(t->vkey[i], t->vlen[i], NL_FNV_INIT) ^ (uint64_t)t->vid[i]);
    uint64_t h = nli_fnv1a(&vocab, sizeof vocab, NL_FNV_INIT);
    for (size_t r = 0; r < t->nrank; r++) {
        int32_t v[3] = {t->ra[r], t->rb[r], t->rm[r]};
        h = nli_fnv1a(v, sizeof v, h);
    }
    int32_t sp[2] = {t->sot, t->eot};
    return nli_tok_added_digest(t, nli_fnv1a(sp, sizeof sp, h));
}

/* Per-call scratch for BPE over one piece. */
typedef struct {
    int32_t *id, *prev, *next;
    uint64_t *heap; /* (rank << 32 | position), a min-heap */
    uint32_t *merged;
    size_t cap, hcap, hn;
    int32_t *out;
    size_t nout, outcap;
    size_t work; /* pair lookups + heap pops, for nli_tokenizer_encode_counted */
} scratch;

static void heap_push(scratch *s, uint64_t v) {
    size_t i = s->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p] <= v) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = v;
}

static uint64_t heap_pop(scratch *s) {
    uint64_t top = s->heap[0], v = s->heap[--s->hn];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->hn) break;
        if (c + 1 < s->hn && s->heap[c + 1] < s->heap[c]) c++;
        if (v <= s->heap[c]) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->hn) s->heap[i] = v;
    return top;
}

static void push_pair(const nli_tokenizer *t, scratch *s, int32_t p) {
    if (p < 0 || s->next[p] < 0) return;
    s->work++;
    int64_t r = merge_get(t, s->id[p], s->id[s->next[p]]);
    if (r >= 0) heap_push(s, (uint64_t)r << 32 | (uint32_t)p);
}

static int emit(scratch *s, int32_t id) {
    if (s->nout == s->outcap && nli_grow((void **)&s->out, &s->outcap, s->nout + 1, sizeof *s->out)) return -1;
    s->out[s->nout++] = id;
    return 0;
}

/* simple_tokenizer.bpe(): repeatedly take the lowest-ranked adjacent pair
 * and merge all its occurrences left to right. The heap yields one rank's
 * occurrences in position order; pairs that a pass creates are queued only
 * after the pass, exactly as Python recomputes pairs between passes. Each
 * merge removes a symbol, so this is O(n log n) even for hostile input. */
static int bpe(const nli_tokenizer *t, scratch *s, const uint8_t *p, size_t n) {
    if (n == 1) return emit(s, t->byte_end_id[p[0]]);
    for (size_t i = 0; i < n; i++) {
        s->id[i] = i + 1 < n ? t->byte_id[p[i]] : t->byte_end_id[p[i]];
        s->prev[i] = (int32_t)i - 1;
        s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    s->hn = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, s, (int32_t)i);
    while (s->hn) {
        uint32_t rank = (uint32_t)(s->heap[0] >> 32);
        size_t nmerged = 0;
        while (s->hn && (uint32_t)(s->heap[0] >> 32) == rank) {
            int32_t i = (int32_t)(uint32_t)heap_pop(s), j = s->next[i];
            s->work++;
            /* stale entries: i was absorbed (id -1) or its pair changed */
            if (s->id[i] != t->ra[rank] || j < 0 || s->id[j] != t->rb[rank]) continue;
            s->id[i] = t->rm[rank];
            s->id[j] = -1;
            s->next[i] = s->next[j];
            if (s->next[j] >= 0) s->prev[s->next[j]] = i;
            s->merged[nmerged++] = (uint32_t)i;
        }
        for (size_t k = 0; k < nmerged; k++) {
            int32_t i = (int32_t)s->merged[k];
            push_pair(t, s, s->prev[i]);
            push_pair(t, s, i);
        }
    }
    for (int32_t i = 0; i >= 0; i = s->next[i])
        if (emit(s, s->id[i])) return -1;
    return 0;
}

/* Room in the scratch for BPE over pieces of up to n bytes (n <= 1 GiB:
 * nli_tokenizer_clean's limit). */
static int reserve(scratch *s, size_t n) {
    if (n <= s->cap) return 0;
    size_t c = s->cap ? s->cap : 64;
    while (c < n) c *= 2;
    void *p;
    if (!(p = nli_realloc(s->id, c * sizeof *s->id))) return -1;
    s->id = p;
    if (!(p = nli_realloc(s->prev, c * sizeof *s->prev))) return -1;
    s->prev = p;
    if (!(p = nli_realloc(s->next, c * sizeof *s->next))) return -1;
    s->next = p;
    if (!(p = nli_realloc(s->merged, c * sizeof *s->merged))) return -1;
    s->merged = p;
    if (!(p = nli_realloc(s->heap, 3 * c * sizeof *s->heap))) return -1; /* n-1 pairs + 2 per merge */
    s->heap = p;
    s->cap = c, s->hcap = 3 * c;
    return 0;
}

int nli_tokenizer_encode(const nli_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n) {
    return nli_tokenizer_encode_counted(t, text, len, ids, n, NULL);
}

/* simple_tokenizer's split and BPE over c[0..n), a cleaned piece. */
static int encode_clean(const nli_tokenizer *t, scratch *s, pcre2_match_data *md, const char *c, size_t n) {
    PCRE2_SIZE start = 0;
    while (start < n) {
        int m = pcre2_match(t->re, (PCRE2_SPTR)c, n, start, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            nli_seterr("tokenizer: regex match failed: %s", (char *)msg);
            return -1;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (b <= a) { start = a + 1; continue; } /* cannot happen: no alternative matches empty */
        start = b;
        const char *piece = c + a;
        size_t plen = b - a;
        /* simple_tokenizer's cache is pre-seeded with the two special tokens
         * (a piece the caseless regex matched in their place, "<|ſtartoftext|>"
         * say, is not in the cache and goes through BPE) */
        if (plen == strlen(t->sot_str) && memcmp(piece, t->sot_str, plen) == 0) {
            if (emit(s, t->sot)) return -1;
        } else if (plen == strlen(t->eot_str) && memcmp(piece, t->eot_str, plen) == 0) {
            if (emit(s, t->eot)) return -1;
        } else if (reserve(s, plen) || bpe(t, s, (const uint8_t *)piece, plen)) {
            return -1;
        }
    }
    return 0;
}

/* One piece of raw text between added tokens of the raw stage: cleaned,
 * then split at added tokens of the normalized stage. */
static int encode_raw(const nli_tokenizer *t, scratch *s, pcre2_match_data *md, const char *text, size_t len) {
    char *clean = NULL;
    size_t clen = 0, from = 0, a, b;
    int32_t id;
    if (nli_tokenizer_clean(text, len, &clean, &clen)) return -1;
    int rc = -1, r;
    while ((r = nli_tok_added_next(t, 1, clean, clen, from, md, &a, &b, &id)) > 0) {
        if (encode_clean(t, s, md, clean + from, a - from) || emit(s, id)) goto done;
        from = b;
    }
    if (r == 0) rc = encode_clean(t, s, md, clean + from, clen - from);
done:
    free(clean);
    return rc;
}

int nli_tokenizer_encode_counted(const nli_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                                 size_t *work) {
    if (work) *work = 0;
    *ids = NULL;
    *n = 0;
    if (!t) { nli_seterr("tokenizer: NULL tokenizer"); return -1; }
    if (!text && !len) text = "";
    int rc = -1;
    scratch s = {0};
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->re, NULL);
    if (!md) { nli_seterr("tokenizer: out of memory for match data"); goto done; }
    if (emit(&s, t->sot)) goto done;
    size_t from = 0, a, b;
    int32_t id;
    if (t->trie[0].nnodes) {
        /* added tokens are found in the raw text: check it all first, so
         * that an error gives the offset in the whole text */
        if (nli_tokenizer_check_text(text, len)) goto done;
        int r;
        while ((r = nli_tok_added_next(t, 0, text, len, from, md, &a, &b, &id)) > 0) {
            if (encode_raw(t, &s, md, text + from, a - from) || emit(&s, id)) goto done;
            from = b;
        }
        if (r < 0) goto done;
    }
    if (encode_raw(t, &s, md, text + from, len - from) || emit(&s, t->eot)) goto done;
    *ids = s.out;
    *n = s.nout;
    s.out = NULL;
    if (work) *work = s.work;
    rc = 0;
done:
    pcre2_match_data_free(md);
    free(s.id);
    free(s.prev);
    free(s.next);
    free(s.merged);
    free(s.heap);
    free(s.out);
    return rc;
}
