/* spm.c — encoding with SiglipTokenizer (tables: spm_load.c), step for
 * step as transformers 5.25 runs tokenizer(text)["input_ids"]:
 *
 * 1. SiglipTokenizer.tokenize: "▁" (U+2581) put first, each "▁" of the
 *    text replaced by " ";
 * 2. PythonBackend.tokenize: the added tokens split off with transformers'
 *    Trie.split (its own longest-first scan, ported over code points as
 *    written, lookahead included); then each added token's rstrip strips
 *    the whitespace that starts the next piece, lstrip the whitespace that
 *    ends the one before, single_word glues it to a neighbour that does
 *    not end (start) with a space; with split_special_tokens nothing is
 *    split;
 * 3. each other piece: canonicalize_text (spm_text.c), then
 *    sentencepiece's encode(unk_token + piece) (spm_sp.c) with the
 *    unk_token_length pieces of unk_token alone dropped;
 * 4. a "▁" token first is dropped when a special token follows it;
 * 5. each token string to its id: added_tokens_encoder, else
 *    sentencepiece's piece_to_id (CONTROL, UNKNOWN and BYTE pieces first,
 *    then the others, else <unk>);
 * 6. </s> appended unless the ids end with it (_add_eos_if_not_present).
 *
 * Whitespace is Python's str.isspace(). Nothing here is shared between
 * calls but the read-only tables. */
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "spm_impl.h"
#include "tokenizer_impl.h" /* nli_tok_check_utf8 */

static const char SPACE_SYMBOL[] = "\xe2\x96\x81";

int nli_spm_push_str(const nli_spm *s, nli_spm_toks *t, const char *str, size_t n) {
    if (t->n == t->cap && nli_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v)) return -1;
    nli_spm_tok *k = &t->v[t->n++];
    int32_t a = nli_trie_get(&s->atrie, str, n), r = a < 0 ? nli_trie_get(&s->reserved, str, n) : -1,
            p = a < 0 && r < 0 ? nli_trie_get(&s->pieces, str, n) : -1;
    k->id = a >= 0 ? s->added[a].id : r >= 0 ? r : p >= 0 ? p : s->unk_id;
    k->special = a >= 0 && s->added[a].special;
    k->space = n == 3 && !memcmp(str, SPACE_SYMBOL, 3);
    return 0;
}

/* ------------------------------------------------------------ transformers' Trie.split */

typedef struct {
    size_t start;
    int32_t node;
    int gone;
} state;

static size_t cp_len(const char *s, size_t n, size_t i) {
    uint32_t c;
    return nli_spm_cp(s, n, i, &c);
}

/* The node after the code point s[0..w) from node, or -1. */
static int32_t step(const nli_trie *t, int32_t node, const char *s, size_t w) {
    for (size_t k = 0; k < w && node >= 0; k++) node = nli_trie_child(t, node, (uint8_t)s[k]);
    return node;
}

typedef struct {
    size_t *v;
    size_t n, cap;
} offsets;

static int off_push(offsets *o, size_t a, size_t b) {
    if (nli_grow((void **)&o->v, &o->cap, o->n + 2, sizeof *o->v)) return -1;
    o->v[o->n++] = a;
    o->v[o->n++] = b;
    return 0;
}

/* Trie.split's cut offsets of text[0..n) (byte offsets where Python has
 * code point indices: the same order, so the same comparisons). */
static int split_offsets(const nli_trie *t, const char *text, size_t n, offsets *o) {
    state *st = NULL;
    size_t ns = 0, cap = 0, skip = 0;
    int rc = 0;
#define FINAL(node) (t->id[node] >= 0)
    for (size_t cur = 0; cur < n && !rc;) {
        size_t w = cp_len(text, n, cur), next = cur + w;
        if (skip && cur < skip) {
            cur = next;
            continue;
        }
        int reset = 0;
        for (size_t k = 0; k < ns && !reset; k++) {
            if (!FINAL(st[k].node)) { /* a partial match goes on, or stops */
                int32_t c = step(t, st[k].node, text + cur, w);
                if (c >= 0) st[k].node = c;
                else st[k].gone = 1;
                continue;
            }
            /* a match ends here: the lookahead for a longer one, earlier
             * partial matches first (already moved past cur) */
            size_t start = st[k].start, end = cur;
            for (size_t j = 0; j < ns && st[j].start <= start; j++) {
                size_t la = st[j].start < start ? next : cur;
                int32_t node = st[j].node;
                end = la;
                if (FINAL(node)) start = st[j].start, end = skip = la;
                while (la < n) {
                    size_t lw = cp_len(text, n, la);
                    int32_t c = step(t, node, text + la, lw);
                    if (c < 0) break;
                    node = c, la += lw;
                    if (FINAL(node)) start = st[j].start, end = skip = la;
                }
            }
            rc = off_push(o, start, end);
            reset = 1;
        }
        if (reset) ns = 0;
        else {
            size_t kept = 0;
            for (size_t k = 0; k < ns; k++)
                if (!st[k].gone) st[kept++] = st[k];
            ns = kept;
        }
        int32_t c = cur >= skip ? step(t, 0, text + cur, w) : -1;
        if (c >= 0 && !rc) {
            if (ns == cap && nli_grow((void **)&st, &cap, ns + 1, sizeof *st)) rc = -1;
            else st[ns++] = (state){cur, c, 0};
        }
        cur = next;
    }
    for (size_t k = 0; k < ns && !rc; k++)
        if (FINAL(st[k].node)) {
            rc = off_push(o, st[k].start, n);
            break;
        }
#undef FINAL
    free(st);
    return rc;
}

/* ------------------------------------------------------------ the pieces */

typedef struct {
    char *buf;      /* owned */
    size_t off, n;  /* the piece: buf[off..off+n) */
} piece;

typedef struct {
    piece *v;
    size_t n, cap;
} pieces;

static int piece_set(piece *p, const char *a, size_t na, const char *b, size_t nb) {
    char *s = nli_malloc(na + nb + 1);
    if (!s) return -1;
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    s[na + nb] = 0;
    free(p->buf);
    *p = (piece){s, 0, na + nb};
    return 0;
}

static void pieces_free(pieces *ps) {
    for (size_t i = 0; i < ps->n; i++) free(ps->v[i].buf);
    free(ps->v);
}

/* cut_text: the pieces between the offsets (a backwards offset skipped,
 * as Python logs and skips it). */
static int cut(const char *text, size_t n, offsets *o, pieces *ps) {
    size_t start = 0;
    for (size_t k = 0; k <= o->n; k++) {
        size_t end = k < o->n ? o->v[k] : n;
        if (start >= end) continue;
        if (ps->n == ps->cap && nli_grow((void **)&ps->v, &ps->cap, ps->n + 1, sizeof *ps->v)) return -1;
        ps->v[ps->n] = (piece){NULL, 0, 0};
        if (piece_set(&ps->v[ps->n++], text + start, end - start, "", 0)) return -1;
        start = end;
    }
    return 0;
}

#define PTR(p) ((p)->buf + (p)->off)

static void lstrip(piece *p) {
    while (p->n) {
        uint32_t c;
        size_t w = nli_spm_cp(PTR(p), p->n, 0, &c);
        if (!nli_spm_py_space(c)) break;
        p->off += w, p->n -= w;
    }
}

static void rstrip(piece *p) {
    size_t end = 0;
    for (size_t i = 0; i < p->n;) {
        uint32_t c;
        i += nli_spm_cp(PTR(p), p->n, i, &c);
        if (!nli_spm_py_space(c)) end = i;
    }
    p->n = end;
}

/* PythonBackend.tokenize's pass over the pieces for the added tokens'
 * rstrip, lstrip and single_word. */
static int strip_pass(const nli_spm *s, pieces *ps) {
    for (size_t i = 0; i < ps->n; i++) {
        piece *p = &ps->v[i];
        int32_t a = nli_trie_get(&s->atrie, PTR(p), p->n);
        if (a < 0) continue;
        const nli_spm_added *t = &s->added[a];
        piece *l = i > 0 ? &ps->v[i - 1] : NULL, *r = i + 1 < ps->n ? &ps->v[i + 1] : NULL;
        int left = l && l->n, right = r && r->n;
        /* the neighbours' ends before this step strips them */
        int left_space = left && PTR(l)[l->n - 1] == ' ', right_space = right && PTR(r)[0] == ' ';
        if (t->rstrip && right) lstrip(r);
        if (t->lstrip && left) rstrip(l);
        if (!t->single_word) continue;
        if (left && !left_space) {
            if (piece_set(l, PTR(l), l->n, PTR(p), p->n)) return -1;
            p->n = 0;
        } else if (right && !right_space) {
            if (piece_set(r, PTR(p), p->n, PTR(r), r->n)) return -1;
            p->n = 0;
        }
    }
    return 0;
}

typedef struct {
    const nli_spm *s;
    nli_spm_toks *t;
} pusher;

static int push_piece(void *arg, const char *str, size_t n) {
    pusher *p = arg;
    return nli_spm_push_str(p->s, p->t, str, n);
}

/* SiglipTokenizer._tokenize: canonicalize_text, then sentencepiece's
 * pieces of unk_token + the text past unk_token_length. */
static int tokenize_piece(const nli_spm *s, const char *str, size_t n, nli_spm_toks *t) {
    nli_buf b = {0};
    size_t before = t->n;
    pusher p = {s, t};
    int rc = nli_buf_append(&b, s->unk, s->unk_len) || nli_spm_canon(s->lower, str, n, &b) ||
             nli_spm_sp_encode(s, b.s, b.len, push_piece, &p);
    nli_buf_free(&b);
    if (!rc && t->n - before >= s->unk_pieces) {
        memmove(t->v + before, t->v + before + s->unk_pieces, (t->n - before - s->unk_pieces) * sizeof *t->v);
        t->n -= s->unk_pieces;
    }
    return rc;
}

static int tokenize(const nli_spm *s, const char *text, size_t n, nli_spm_toks *t) {
    if (s->split_special) return tokenize_piece(s, text, n, t);
    offsets o = {0};
    pieces ps = {0};
    int rc = s->nadded ? split_offsets(&s->atrie, text, n, &o) : 0;
    if (!rc) rc = cut(text, n, &o, &ps) || strip_pass(s, &ps);
    for (size_t i = 0; i < ps.n && !rc; i++) {
        piece *p = &ps.v[i];
        if (!p->n) continue;
        rc = nli_trie_get(&s->atrie, PTR(p), p->n) >= 0 ? nli_spm_push_str(s, t, PTR(p), p->n)
                                                          : tokenize_piece(s, PTR(p), p->n, t);
    }
    free(o.v);
    pieces_free(&ps);
    return rc;
}

int nli_spm_encode(const nli_spm *s, const char *text, size_t len, int32_t **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    if (nli_tok_check_utf8(text, len)) return -1;
    nli_buf b = {0};
    nli_spm_toks t = {0};
    int rc = nli_buf_append(&b, SPACE_SYMBOL, 3);
    for (size_t i = 0, from = 0; i <= len && !rc; i++) { /* "▁" + text.replace("▁", " ") */
        int hit = i + 3 <= len && !memcmp(text + i, SPACE_SYMBOL, 3);
        if (!hit && i < len) continue;
        rc = nli_buf_append(&b, text + from, i - from) || (hit && nli_buf_append(&b, " ", 1));
        from = i + 3, i += 2;
    }
    if (!rc) rc = tokenize(s, b.s, b.len, &t);
    nli_buf_free(&b);
    if (!rc && t.n > 1 && t.v[0].space && t.v[1].special) memmove(t.v, t.v + 1, --t.n * sizeof *t.v);
    int32_t *out = rc ? NULL : nli_mallocarray(t.n + 1, sizeof *out);
    if (out) {
        for (size_t i = 0; i < t.n; i++) out[i] = t.v[i].id;
        *n = t.n;
        if (!t.n || out[t.n - 1] != s->eos_id) out[(*n)++] = s->eos_id;
        *ids = out;
    }
    free(t.v);
    if (!out) nli_prefixerr("tokenizing");
    return out ? 0 : -1;
}

size_t nli_spm_vocab_size(const nli_spm *s) { return s ? s->size : 0; }
uint64_t nli_spm_digest(const nli_spm *s) { return s->digest; }
int32_t nli_spm_last_suffix(const nli_spm *s) { return s->eos_id; }
int32_t nli_spm_pad_id(const nli_spm *s) { return s->pad_id; }
const char *nli_spm_source(const nli_spm *s) {
    (void)s;
    return "spiece.model (SentencePiece Unigram)";
}
