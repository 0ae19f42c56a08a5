/* spm_sp.c — sentencepiece's encode(text, out_type=str) for a Unigram
 * model, step for step as sentencepiece 0.2 (normalizer.cc,
 * unigram_model.cc's EncodeOptimized, sentencepiece_processor.cc):
 *
 * 1. Normalizer::Normalize, one prefix at a time: the longest
 *    user-defined piece that starts the rest of the text is kept as it is;
 *    else the longest key of the precompiled charsmap (darts' common
 *    prefix search, every byte walked) is replaced; else one character is
 *    kept. remove_extra_whitespaces drops the prefixes that normalize to
 *    " " at the start, the spaces that start a prefix after one that ended
 *    with a space, and the space symbols at the end; escape_whitespaces
 *    writes ' ' as U+2581; add_dummy_prefix puts one space symbol first
 *    (last with treat_whitespace_as_suffix).
 * 2. The Viterbi over the normalized bytes: from each character, every
 *    NORMAL or USER_DEFINED piece that starts there (UNUSED ones skipped)
 *    scores its score (a user-defined piece: its length in bytes * 0.1 -
 *    0.1, see nli_spm_user_score), summed in float (sentencepiece 0.2.3:
 *    its sources before summed in double); a character that no one-character piece covers
 *    gets <unk> at the lowest NORMAL score - 10 (in float); a later path
 *    wins only with a strictly larger score.
 * 3. The pieces back from the end: runs of <unk> fused into one piece, or
 *    with byte_fallback each unknown byte as its "<0xXX>" piece. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "spm_impl.h"
#include "tokenizer_impl.h" /* nli_tok_check_utf8 */

static const char SPACE_SYMBOL[] = "\xe2\x96\x81";

/* sentencepiece's OneCharLen: the length a lead byte announces. */
static size_t char_len(uint8_t b) { return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

/* NormalizePrefix: what the prefix of in[0..n) becomes (*out, *olen) and
 * how many bytes it takes (returned; 0: error set). */
static size_t norm_prefix(const nli_spm *m, const char *in, size_t n, const char **out, size_t *olen) {
    size_t len = 0;
    if (m->has_user) {
        int32_t node = 0;
        for (size_t i = 0; i < n && i < NLI_SPM_PIECE_LEN; i++) {
            if ((node = nli_trie_child(&m->user, node, (uint8_t)in[i])) < 0) break;
            if (m->user.id[node] >= 0) len = i + 1;
        }
        if (len) {
            *out = in, *olen = len;
            return len;
        }
    }
    long long off = m->has_cm ? nli_charsmap_longest(&m->cm, (const uint8_t *)in, n, &len) : -1;
    if (off >= 0 && (size_t)off < m->cm.nnorm) { /* an offset past the replacements: one character kept */
        const char *r = m->cm.norm + off;
        if (((uint8_t)*r & 0xC0) == 0x80) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "the precompiled charsmap's replacement for \"%.*s\" starts inside a "
                            "character (offset %lld)", (int)len, in, off);
            return 0;
        }
        *out = r, *olen = strlen(r);
        return len;
    }
    len = char_len((uint8_t)in[0]);
    *out = in, *olen = len < n ? len : n;
    return *olen;
}

static int ends_with(const nli_buf *b, const char *s, size_t n) { return b->len >= n && !memcmp(b->s + b->len - n, s, n); }

/* Normalizer::Normalize of in[0..n) into out (emptied first). */
static int sp_normalize(const nli_spm *m, const char *in, size_t n, nli_buf *out) {
    const char *sp = m->escape_ws ? SPACE_SYMBOL : " ", *r;
    size_t spn = m->escape_ws ? 3 : 1, i = 0, rn, used;
    out->len = 0;
    if (nli_buf_append(out, "", 0)) return -1;
    while (m->extra_ws && i < n) { /* prefixes that are a space, at the start */
        if (!(used = norm_prefix(m, in + i, n - i, &r, &rn))) return -1;
        if (rn != 1 || r[0] != ' ') break;
        i += used;
    }
    if (i == n) return 0;
    if (m->dummy_prefix && !m->ws_suffix && nli_buf_append(out, sp, spn)) return -1;
    int prev_space = m->extra_ws;
    while (i < n) {
        if (!(used = norm_prefix(m, in + i, n - i, &r, &rn))) return -1;
        while (prev_space && rn && *r == ' ') r++, rn--;
        if (rn) {
            for (size_t k = 0; k < rn; k++)
                if (r[k] == ' ' ? nli_buf_append(out, sp, spn) : nli_buf_append(out, r + k, 1)) return -1;
            prev_space = r[rn - 1] == ' ';
        }
        i += used;
        if (!m->extra_ws) prev_space = 0;
    }
    while (m->extra_ws && ends_with(out, sp, spn)) out->s[out->len -= spn] = 0;
    if (m->dummy_prefix && m->ws_suffix && nli_buf_append(out, sp, spn)) return -1;
    return 0;
}

/* The best path's pieces of s[0..n) (n > 0): each as [start, end) with
 * its id, in order, into *seg (3 values a piece); the count returned, or
 * -1 (error set). */
static long long viterbi(const nli_spm *m, const char *s, size_t n, int64_t **seg) {
    if (n >= INT32_MAX) {
        nli_seterr("a normalized piece of %zu bytes (at most 2 GiB)", n);
        return -1;
    }
    float *best = nli_mallocarray(n + 1, sizeof *best);
    int32_t *from = nli_mallocarray(n + 1, sizeof *from), *id = nli_mallocarray(n + 1, sizeof *id);
    long long count = -1;
    if (!best || !from || !id) goto done;
    for (size_t e = 0; e <= n; e++) best[e] = 0.0f, from[e] = -1, id[e] = -1;
    const float unk_score = m->min_score - 10.0f;
    for (size_t st = 0; st < n;) {
        const float here = best[st];
        size_t mblen = char_len((uint8_t)s[st]), k;
        if (mblen > n - st) mblen = n - st;
        int single = 0;
        int32_t node = 0;
        for (k = st; k < n && (node = nli_trie_child(&m->pieces, node, (uint8_t)s[k])) >= 0; k++) {
            int32_t p = m->pieces.id[node];
            if (p < 0 || m->type[p] == SPM_UNUSED) continue;
            size_t len = k + 1 - st;
            float cand = (m->type[p] == SPM_USER ? nli_spm_user_score(len) : m->score[p]) + here;
            if (from[k + 1] < 0 || cand > best[k + 1]) best[k + 1] = cand, from[k + 1] = (int32_t)st, id[k + 1] = p;
            single |= len == mblen;
        }
        if (!single) {
            float cand = unk_score + here;
            size_t e = st + mblen;
            if (from[e] < 0 || cand > best[e]) best[e] = cand, from[e] = (int32_t)st, id[e] = m->unk_id;
        }
        st += mblen;
    }
    count = 0;
    for (size_t e = n; e > 0; e = (size_t)from[e]) count++;
    if (!(*seg = nli_mallocarray((size_t)count, 3 * sizeof **seg))) {
        count = -1;
        goto done;
    }
    long long k = count;
    for (size_t e = n; e > 0; e = (size_t)from[e]) {
        k--;
        (*seg)[3 * k] = from[e], (*seg)[3 * k + 1] = (int64_t)e, (*seg)[3 * k + 2] = id[e];
    }
done:
    free(best);
    free(from);
    free(id);
    return count;
}

int nli_spm_sp_encode(const nli_spm *m, const char *text, size_t n, nli_spm_piece_fn fn, void *arg) {
    nli_buf norm = {0};
    int64_t *seg = NULL;
    long long count = 0;
    int rc = sp_normalize(m, text, n, &norm);
    if (!rc && norm.len) rc = (count = viterbi(m, norm.s, norm.len, &seg)) < 0 ? -1 : 0;
    for (long long k = 0; k < count && !rc; k++) {
        size_t a = (size_t)seg[3 * k], e = (size_t)seg[3 * k + 1];
        int unk = seg[3 * k + 2] == m->unk_id;
        if (unk && m->byte_fallback) {
            for (size_t b = a; b < e && !rc; b++) {
                char piece[8];
                snprintf(piece, sizeof piece, "<0x%02X>", (unsigned)(uint8_t)norm.s[b]);
                rc = fn(arg, piece, 6);
            }
            continue;
        }
        while (unk && k + 1 < count && seg[3 * (k + 1) + 2] == m->unk_id) e = (size_t)seg[3 * ++k + 1];
        rc = fn(arg, norm.s + a, e - a);
    }
    free(seg);
    nli_buf_free(&norm);
    return rc;
}

int nli_spm_normalize(const nli_spm *s, const char *text, size_t len, char **out, size_t *olen) {
    *out = NULL;
    *olen = 0;
    nli_buf b = {0};
    if (nli_tok_check_utf8(text, len)) return -1;
    if (sp_normalize(s, text, len, &b)) {
        nli_buf_free(&b);
        return -1;
    }
    *out = b.s;
    *olen = b.len;
    return 0;
}
