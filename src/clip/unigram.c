/* unigram.c — encoding with a Unigram tokenizer (tables: unigram_load.c),
 * step for step as Hugging Face tokenizers' encode():
 *
 * 1. added tokens are found in the raw text, leftmost then longest, and
 *    split off (lstrip: the whitespace before one goes with it);
 * 2. each other piece is normalized: the normalizers in order;
 * 3. pre-tokenized: WhitespaceSplit drops whitespace and splits there;
 *    Metaspace replaces ' ' with its character, prepends it ("always":
 *    unless there; "first": only to the piece that starts the text) and
 *    splits before each occurrence; empty pieces are dropped;
 * 4. each piece is segmented by the Unigram model: the best-scoring path
 *    (sum of piece scores, ties to the path found first: shorter pieces
 *    first, then later starts lose), a character no piece starts with
 *    scoring as <unk> at the lowest score - 10, and runs of <unk> fused
 *    into one token;
 * 5. the post-processor's special tokens go around the ids.
 * "Whitespace" is Unicode's White_Space, as Rust's char::is_whitespace. */
#include "tokenizer_impl.h"
#include "unigram_impl.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < b->n + n + 1) c *= 2;
        char *p = nli_realloc(b->p, c);
        if (!p) return -1;
        b->p = p;
        b->cap = c;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static int is_ws(utf8proc_int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The code point at s[i] (valid UTF-8 up to n) and its length. */
static size_t cp_at(const char *s, size_t n, size_t i, utf8proc_int32_t *c) {
    utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), c);
    return k < 1 ? 1 : (size_t)k;
}

/* The start of the whitespace run that ends s[0..n) (n if none). */
static size_t trailing_ws(const char *s, size_t n) {
    size_t start = n;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        size_t k = cp_at(s, n, i, &c);
        if (!is_ws(c)) start = n;
        else if (start == n) start = i;
        i += k;
    }
    return start;
}

/* ------------------------------------------------------------ normalizers */

static int replace_all(const nli_ug_norm *m, const sbuf *in, sbuf *out) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
    if (!md) return -1;
    size_t pos = 0;
    int rc = 0;
    while (pos <= in->n) {
        int r = pcre2_match(m->re, (PCRE2_SPTR)in->p, in->n, pos, pos ? PCRE2_NO_UTF_CHECK : 0, md, NULL);
        if (r < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (sb_put(out, in->p + pos, ov[0] - pos) || sb_put(out, m->content, m->clen)) { rc = -1; break; }
        pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1; /* patterns that match "" are refused at load */
    }
    if (!rc && pos < in->n) rc = sb_put(out, in->p + pos, in->n - pos);
    pcre2_match_data_free(md);
    return rc;
}

static int normalize(const nli_unigram *u, sbuf *s) {
    for (size_t k = 0; k < u->nnorm && s->n; k++) {
        const nli_ug_norm *m = &u->norm[k];
        sbuf o = {0};
        int rc = 0;
        if (m->kind == UG_PRECOMPILED) {
            rc = nli_charsmap_normalize(&u->cm, s->p, s->n, &o.p, &o.n, &o.cap);
        } else if (m->kind == UG_REPLACE) {
            rc = replace_all(m, s, &o);
        } else if (m->kind == UG_PREPEND) {
            rc = sb_put(&o, m->content, m->clen) || sb_put(&o, s->p, s->n);
        } else { /* Strip */
            size_t a = 0, b = s->n;
            if (m->left)
                for (utf8proc_int32_t c; a < b;) {
                    size_t w = cp_at(s->p, s->n, a, &c);
                    if (!is_ws(c)) break;
                    a += w;
                }
            if (m->right) b = a + trailing_ws(s->p + a, b - a);
            rc = sb_put(&o, s->p + a, b - a);
        }
        free(s->p);
        *s = o;
        if (rc) return -1;
        if (!s->p && sb_put(s, "", 0)) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ pre-tokenizers */

typedef struct {
    sbuf *v;
    size_t n, cap;
} pieces;

static int pc_push(pieces *ps, const char *s, size_t n) {
    if (n == 0) return 0; /* tokenizers drops empty pieces */
    if (ps->n == ps->cap) {
        size_t c = ps->cap ? 2 * ps->cap : 16;
        sbuf *p = nli_realloc(ps->v, c * sizeof *p);
        if (!p) return -1;
        ps->v = p;
        ps->cap = c;
    }
    sbuf *b = &ps->v[ps->n++];
    memset(b, 0, sizeof *b);
    return sb_put(b, s, n);
}

static void pc_free(pieces *ps) {
    for (size_t i = 0; i < ps->n; i++) free(ps->v[i].p);
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

/* One pre-tokenizer over every piece of *ps; first: the text's first
 * piece starts it (Metaspace "first"). */
static int pre_step(const nli_ug_pre *m, pieces *ps, int first) {
    pieces out = {0};
    int rc = 0;
    for (size_t k = 0; k < ps->n && !rc; k++) {
        const char *s = ps->v[k].p;
        size_t n = ps->v[k].n;
        if (m->kind == UG_WHITESPACE_SPLIT) {
            size_t a = 0;
            for (size_t i = 0; i < n && !rc;) {
                utf8proc_int32_t c;
                size_t w = cp_at(s, n, i, &c);
                if (is_ws(c)) {
                    rc = pc_push(&out, s + a, i - a);
                    a = i + w;
                }
                i += w;
            }
            if (!rc) rc = pc_push(&out, s + a, n - a);
            continue;
        }
        /* Metaspace */
        sbuf t = {0};
        int pre = m->scheme == UG_PREPEND_ALWAYS || (m->scheme == UG_PREPEND_FIRST && first && k == 0);
        /* spaces replaced first: a piece that then starts with the character gets none prepended */
        if (pre && !(n > 0 && s[0] == ' ') && !(n >= m->rlen && !memcmp(s, m->rep, m->rlen)))
            rc = sb_put(&t, m->rep, m->rlen);
        for (size_t i = 0; i < n && !rc; i++) rc = s[i] == ' ' ? sb_put(&t, m->rep, m->rlen) : sb_put(&t, s + i, 1);
        if (!rc && !m->split) rc = pc_push(&out, t.p, t.n);
        else if (!rc) { /* split before each replacement character, which starts the next piece */
            size_t a = 0;
            for (size_t i = 0; i + m->rlen <= t.n && !rc; i++)
                if (i > a && !memcmp(t.p + i, m->rep, m->rlen)) {
                    rc = pc_push(&out, t.p + a, i - a);
                    a = i;
                }
            if (!rc) rc = pc_push(&out, t.p + a, t.n - a);
        }
        free(t.p);
    }
    pc_free(ps);
    *ps = out;
    return rc;
}

/* ------------------------------------------------------------ the model */

/* The id of the piece s[0..n), or unk_id. */
static int32_t piece_id(const nli_unigram *u, const char *s, size_t n) {
    int32_t node = 0;
    for (size_t i = 0; i < n && node >= 0; i++) node = nli_trie_child(&u->pieces, node, (uint8_t)s[i]);
    return node >= 0 && u->pieces.id[node] >= 0 ? u->pieces.id[node] : u->unk_id;
}

/* The best segmentation of s[0..n) (one pre-token), its ids appended:
 * 16 bytes a byte of the piece (best score, where the best path into a
 * position starts, its token). */
static int segment(const nli_unigram *u, const char *s, size_t n, nli_ivec *ids) {
    if (n >= UINT32_MAX) {
        nli_seterr("a piece of %zu bytes (at most 4 GiB)", n);
        return -1;
    }
    const uint32_t NONE = UINT32_MAX;
    double *best = nli_mallocarray(n + 1, sizeof(double));
    uint32_t *from = nli_mallocarray(n + 1, sizeof(uint32_t));
    int32_t *tok = nli_mallocarray(n + 1, sizeof(int32_t));
    int rc = -1;
    if (!best || !from || !tok) goto done;
    const double unk_score = u->min_score - 10.0;
    for (size_t i = 0; i <= n; i++) from[i] = NONE, best[i] = 0.0;
    for (size_t st = 0; st < n;) {
        utf8proc_int32_t c;
        size_t mblen = cp_at(s, n, st, &c);
        int single = 0;
        int32_t node = 0;
        for (size_t k = st; k < n; k++) {
            if ((node = nli_trie_child(&u->pieces, node, (uint8_t)s[k])) < 0) break;
            int32_t id = u->pieces.id[node];
            if (id < 0) continue;
            double cand = u->score[id] + best[st];
            if (from[k + 1] == NONE || cand > best[k + 1]) best[k + 1] = cand, from[k + 1] = (uint32_t)st, tok[k + 1] = id;
            if (k + 1 - st == mblen) single = 1;
        }
        if (!single) {
            double cand = unk_score + best[st];
            size_t e = st + mblen;
            if (from[e] == NONE || cand > best[e]) best[e] = cand, from[e] = (uint32_t)st, tok[e] = u->unk_id;
        }
        st += mblen;
    }
    /* back from the end, the ids pushed last first, then put in order; a
     * run of <unk> is one token */
    size_t first = ids->n;
    for (size_t e = n; e > 0;) {
        size_t b = from[e];
        int32_t id = tok[e];
        if (id == u->unk_id) { /* the fused run's string may still be a piece: tokenizers looks it up */
            while (b > 0 && tok[b] == u->unk_id) b = from[b];
            id = piece_id(u, s + b, e - b);
        }
        if (nli_ivec_push(ids, id)) goto done;
        e = b;
    }
    for (size_t a = first, z = ids->n; a + 1 < z; a++, z--) {
        int32_t t = ids->v[a];
        ids->v[a] = ids->v[z - 1];
        ids->v[z - 1] = t;
    }
    rc = 0;
done:
    free(best);
    free(from);
    free(tok);
    return rc;
}

/* A piece of the raw text between added tokens: normalized, pre-tokenized,
 * segmented. first: it starts the text. */
static int encode_piece(const nli_unigram *u, const char *s, size_t n, int first, nli_ivec *ids) {
    if (n == 0) return 0;
    sbuf t = {0};
    pieces ps = {0};
    int rc = sb_put(&t, s, n) || normalize(u, &t);
    if (!rc && t.n) {
        rc = pc_push(&ps, t.p, t.n);
        for (size_t k = 0; k < u->npre && !rc; k++) rc = pre_step(&u->pre[k], &ps, first);
        for (size_t k = 0; k < ps.n && !rc; k++) rc = segment(u, ps.v[k].p, ps.v[k].n, ids);
    }
    free(t.p);
    pc_free(&ps);
    return rc;
}

/* The leftmost, then longest, added token in s[from..n): its index, or -1.
 * A trie walk of at most ADDED_LEN bytes from each position. */
static long next_added(const nli_unigram *u, const char *s, size_t n, size_t from, size_t *at) {
    if (!u->nadded) return -1;
    for (size_t i = from; i < n; i++) {
        long best = -1;
        int32_t node = 0;
        for (size_t k = i; k < n && (node = nli_trie_child(&u->atrie, node, (uint8_t)s[k])) >= 0; k++)
            if (u->atrie.id[node] >= 0) best = u->atrie.id[node];
        if (best >= 0) {
            *at = i;
            return best;
        }
    }
    return -1;
}

int nli_unigram_encode(const nli_unigram *u, const char *text, size_t len, int32_t **ids_out, size_t *n_out) {
    *ids_out = NULL;
    *n_out = 0;
    if (nli_tok_check_utf8(text, len)) return -1;
    nli_ivec ids = {0};
    int rc = 0;
    for (size_t i = 0; i < u->nprefix && !rc; i++) rc = nli_ivec_push(&ids, u->prefix[i]);
    size_t start_offset = 0, from = 0, at;
    long a;
    while (!rc && (a = next_added(u, text, len, from, &at)) >= 0) {
        const nli_ug_added *t = &u->added[a];
        size_t start = at, stop = at + t->len;
        if (t->lstrip) {
            size_t ns = trailing_ws(text, start);
            start = ns > start_offset ? ns : start_offset;
        }
        if (start_offset < start) rc = encode_piece(u, text + start_offset, start - start_offset, start_offset == 0, &ids);
        if (!rc) rc = nli_ivec_push(&ids, t->id);
        start_offset = from = stop;
    }
    if (!rc && start_offset < len) rc = encode_piece(u, text + start_offset, len - start_offset, start_offset == 0, &ids);
    for (size_t i = 0; i < u->nsuffix && !rc; i++) rc = nli_ivec_push(&ids, u->suffix[i]);
    if (rc) {
        free(ids.v);
        nli_prefixerr("tokenizing");
        return -1;
    }
    if (!ids.v && nli_ivec_push(&ids, 0) == 0) ids.n = 0; /* an empty result is still an allocation */
    *ids_out = ids.v;
    *n_out = ids.n;
    return ids.v ? 0 : -1;
}
