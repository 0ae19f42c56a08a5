/* spm_model.c — a SentencePiece Unigram model's tables from its parsed
 * ModelProto (spm_proto.c), checked as sentencepiece's Load checks them
 * (model_interface.cc InitializePieces, unigram_model.cc, normalizer.cc):
 * a model it would refuse is refused (NL_ERR_INVALID), one it would run
 * differently from spm_sp.c is refused by name (NL_ERR_UNSUPPORTED).
 * These are sentencepiece 0.2.3's checks: NaN and infinite scores, NUL
 * bytes and pieces of 8,000 bytes are refused; a CONTROL (UNKNOWN, BYTE)
 * piece may share its string with a NORMAL one. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "spm_impl.h"
#include "tokenizer_impl.h" /* nli_tok_check_utf8 */

static const char *const MODEL_NAME[5] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};

/* sentencepiece's PieceToByte: "<0xXX>" (upper-case hex) -> XX, else -1. */
static int piece_byte(const nli_spm_str *p) {
    char want[8];
    if (p->n != 6 || memcmp(p->s, "<0x", 3) || p->s[5] != '>') return -1;
    for (int b = 0; b < 256; b++) {
        snprintf(want, sizeof want, "<0x%02X>", b);
        if (!memcmp(p->s, want, 6)) return b;
    }
    return -1;
}

static int bad_piece(const char *path, size_t i, const nli_spm_str *p, int status, const char *why) {
    char safe[96], raw[72];
    size_t n = p->n < sizeof raw - 1 ? p->n : sizeof raw - 1;
    if (n) memcpy(raw, p->s, n);
    raw[n] = 0;
    nli_sanitize(safe, sizeof safe, raw);
    nli_seterr_code(status, "%s: piece %zu (\"%s\"): %s", path, i, safe, why);
    return -1;
}

/* The pieces into s's tries (InitializePieces' checks); 0 or -1. */
static int take_pieces(nli_spm *s, const nli_spm_proto *p, const char *path) {
    const int I = NL_ERR_INVALID, U = NL_ERR_UNSUPPORTED;
    size_t bytes[3] = {0, 0, 0};
    uint8_t byte_seen[256] = {0};
    if (p->n == 0) {
        nli_seterr("%s: no pieces", path);
        return -1;
    }
    s->unk_id = -1;
    for (size_t i = 0; i < p->n; i++) {
        const nli_spm_str *q = &p->piece[i];
        int t = p->type[i];
        if (q->n == 0) return bad_piece(path, i, q, I, "empty (sentencepiece refuses it)");
        if (q->n >= 8000) return bad_piece(path, i, q, I, "8,000 bytes or more (sentencepiece refuses it)");
        if (q->n > NLI_SPM_PIECE_LEN) return bad_piece(path, i, q, U, "longer than 1,024 bytes");
        if (memchr(q->s, 0, q->n)) return bad_piece(path, i, q, I, "holds a NUL byte (sentencepiece refuses it)");
        if (!isfinite(p->score[i])) return bad_piece(path, i, q, I, "its score is NaN or infinite (sentencepiece refuses it)");
        if (nli_tok_check_utf8((const char *)q->s, q->n)) return bad_piece(path, i, q, U, "not UTF-8");
        if (t == SPM_UNKNOWN && s->unk_id >= 0) return bad_piece(path, i, q, I, "a second UNKNOWN piece");
        if (t == SPM_UNKNOWN) s->unk_id = (int32_t)i;
        if (t == SPM_BYTE) {
            int b = piece_byte(q);
            if (!p->byte_fallback) return bad_piece(path, i, q, I, "a BYTE piece although byte_fallback is false");
            if (b < 0) return bad_piece(path, i, q, I, "a BYTE piece that is not <0xXX>");
            byte_seen[b] = 1;
        }
        int normal = t == SPM_NORMAL || t == SPM_USER || t == SPM_UNUSED;
        bytes[normal] += q->n;
        if (t == SPM_USER) bytes[2] += q->n;
    }
    if (s->unk_id < 0) {
        nli_seterr("%s: no UNKNOWN piece (<unk>)", path);
        return -1;
    }
    for (int b = 0; b < 256 && p->byte_fallback; b++)
        if (!byte_seen[b]) {
            nli_seterr("%s: byte_fallback is true but there is no piece <0x%02X>", path, b);
            return -1;
        }
    if (!bytes[1]) {
        nli_seterr("%s: no NORMAL, USER_DEFINED or UNUSED piece", path);
        return -1;
    }
    if (nli_trie_init(&s->pieces, bytes[1]) || nli_trie_init(&s->reserved, bytes[0]) ||
        (bytes[2] && nli_trie_init(&s->user, bytes[2])))
        return -1;
    s->has_user = bytes[2] > 0;
    s->min_score = FLT_MAX;
    for (size_t i = 0; i < p->n; i++) {
        const nli_spm_str *q = &p->piece[i];
        int t = p->type[i], normal = t == SPM_NORMAL || t == SPM_USER || t == SPM_UNUSED;
        if (nli_trie_put(normal ? &s->pieces : &s->reserved, (const char *)q->s, q->n, (int32_t)i, 1) >= 0)
            return bad_piece(path, i, q, I, "listed twice (sentencepiece refuses it)");
        if (t == SPM_USER) nli_trie_put(&s->user, (const char *)q->s, q->n, (int32_t)i, 1);
        if (t == SPM_NORMAL && p->score[i] < s->min_score) s->min_score = p->score[i];
    }
    return 0;
}

/* The precompiled charsmap, as Normalizer::Init decodes it: a trie of
 * whole 1,024-byte blocks, then the replacements, the last ended by a NUL. */
static int take_charsmap(nli_spm *s, const nli_spm_proto *p, const char *path) {
    if (!p->has_charsmap || p->charsmap.n == 0) return 0;
    const uint8_t *b = p->charsmap.s;
    size_t n = p->charsmap.n;
    uint32_t trie = n > 4 ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24 : 0;
    if (n <= 4 || trie >= n - 4 || trie < 1024 || trie % 1024 || b[n - 1] != 0) {
        nli_seterr("%s: normalizer_spec.precompiled_charsmap is broken (%zu bytes, a trie of %u; sentencepiece "
                   "refuses it)", path, n, trie);
        return -1;
    }
    if (nli_charsmap_init(&s->cm, b, n, path)) return -1;
    s->has_cm = 1;
    return 0;
}

nli_spm *nli_spm_model_new(const nli_spm_proto *p, const char *path) {
    if (p->model_type != SPM_UNIGRAM) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: trainer_spec.model_type is %s: only UNIGRAM models are supported", path,
                        MODEL_NAME[p->model_type]);
        return NULL;
    }
    nli_spm *s = nli_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->npieces = s->size = p->n;
    s->byte_fallback = p->byte_fallback, s->ws_suffix = p->ws_suffix;
    s->dummy_prefix = p->dummy_prefix, s->extra_ws = p->extra_ws, s->escape_ws = p->escape_ws;
    s->score = nli_mallocarray(p->n ? p->n : 1, sizeof *s->score);
    s->type = nli_malloc(p->n ? p->n : 1);
    if (!s->score || !s->type || take_pieces(s, p, path) || take_charsmap(s, p, path)) {
        nli_spm_free(s);
        return NULL;
    }
    memcpy(s->score, p->score, p->n * sizeof *s->score);
    memcpy(s->type, p->type, p->n);
    return s;
}
