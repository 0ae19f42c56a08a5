/* tokenizer_added.c — tokens added to a Hugging Face tokenizer, matched whole
 * in the text before BPE, as Hugging Face tokenizers (AddedVocabulary)
 * matches them:
 *
 * - tokens with normalized false are found in the raw text; the text
 *   between them is cleaned (nli_tokenizer_clean) piece by piece, as
 *   tokenizers normalizes each piece;
 * - tokens with normalized true are found in those cleaned pieces, with
 *   their own cleaned content;
 * - at each stage the leftmost match wins, the longest one there; the scan
 *   goes on after it (a rejected single_word match is skipped whole, not
 *   searched again for a shorter token);
 * - single_word: a match is taken only if no word character (Rust regex's
 *   Unicode \w) touches it on either side within its piece;
 * - lstrip / rstrip move whitespace next to the token into its match; CLIP's
 *   split drops all whitespace anyway, so they change no id (contents that
 *   begin or end with whitespace, where they could, are refused).
 *
 * CLIP's own "<|startoftext|>" and "<|endoftext|>" with their vocabulary
 * ids are not kept here: the split regex gives them, as simple_tokenizer.py
 * does. The tokens are matched with a byte trie, at most
 * NLI_TOK_ADDED_LEN steps per byte of text. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "ftfy.h"
#include "neglabel.h"
#include "tokenizer_impl.h"
#include "util.h"

static const char OPENAI_SOT[] = "<|startoftext|>", OPENAI_EOT[] = "<|endoftext|>";
/* Rust regex's \w: [\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}] */
static const char WORD_CHAR[] = "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]";

static void unsupported(const nli_added *a, const char *why) {
    nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token \"%.60s\" (id %lld): %s", a->file, a->content, a->id, why);
}

static int is_space(uint32_t c) {
    if ((c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85) return 1;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

int nli_tok_added_add(nli_tokenizer *t, const char *content, size_t len, long long id, int flags, const char *file) {
    if (len == 0) {
        nli_seterr("%s: an added token has empty content", file);
        return -1;
    }
    if (len > NLI_TOK_ADDED_LEN || strlen(content) != len) {
        nli_seterr("%s: added token \"%.60s\": longer than %d bytes or holds a NUL", file, content, NLI_TOK_ADDED_LEN);
        return -1;
    }
    if (id < -1 || id >= NLI_TOK_MAX_ID) {
        nli_seterr("%s: added token \"%.60s\" has id %lld, outside 0..%d", file, content, id, NLI_TOK_MAX_ID - 1);
        return -1;
    }
    nli_cpbuf cp = {0};
    if (nli_utf8_decode((const uint8_t *)content, len, &cp)) {
        nli_prefixerr("%s: added token", file);
        free(cp.v);
        return -1;
    }
    int edge_space = is_space(cp.v[0]) || is_space(cp.v[cp.n - 1]);
    free(cp.v);
    for (size_t k = 0; k < t->nadded; k++) {
        nli_added *a = &t->added[k];
        if (a->len != len || memcmp(a->content, content, len) != 0) continue;
        if (id < 0 || a->id < 0 || a->id == id) { /* the first definition wins, as in transformers */
            if (a->id < 0) a->id = id;
            return 0;
        }
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token \"%.60s\" has id %lld, but %s gives it id %lld", file,
                        content, id, a->file, a->id);
        return -1;
    }
    int special = !strcmp(content, OPENAI_SOT) ? 1 : !strcmp(content, OPENAI_EOT) ? 2 : 0;
    if (special && (id < 0 || id == (special == 1 ? t->sot : t->eot))) return 0; /* CLIP's own */
    if (t->nadded >= NLI_TOK_ADDED_MAX) {
        nli_seterr("%s: more than %d added tokens", file, NLI_TOK_ADDED_MAX);
        return -1;
    }
    if (t->nadded == t->addedcap && nli_grow((void **)&t->added, &t->addedcap, t->nadded + 1, sizeof *t->added)) {
        nli_prefixerr("%s", file);
        return -1;
    }
    nli_added *a = &t->added[t->nadded];
    memset(a, 0, sizeof *a);
    a->content = nli_strndup(content, len);
    a->file = nli_strndup(file, strlen(file));
    if (!a->content || !a->file) {
        free(a->content), free(a->file);
        nli_prefixerr("%s", file);
        return -1;
    }
    t->nadded++;
    a->len = len;
    a->id = id;
    a->flags = flags;
    if (special) {
        unsupported(a, "CLIP's special token with another id than the vocabulary's");
        return -1;
    }
    if (edge_space) {
        unsupported(a, "begins or ends with whitespace, which neglabel cannot match as tokenizers does");
        return -1;
    }
    return 0;
}

static int trie_build(nli_trie *tr, const nli_added *added, size_t n, int normalized) {
    size_t bytes = 0;
    for (size_t k = 0; k < n; k++)
        if (!!(added[k].flags & NLI_ADDED_NORMALIZED) == normalized) bytes += added[k].mlen;
    if (!bytes) return 0;
    if (nli_trie_init(tr, bytes)) return -1;
    for (size_t k = 0; k < n; k++) /* two contents cleaned alike: the first */
        if (!!(added[k].flags & NLI_ADDED_NORMALIZED) == normalized)
            nli_trie_put(tr, added[k].match, added[k].mlen, (int32_t)k, 1);
    return 0;
}

/* Ids as transformers resolves them: a token without one (a *_token entry)
 * takes the vocabulary's; a token of the vocabulary keeps its id; a new
 * token's id must be no vocabulary token's and no other added token's. */
static int check_ids(nli_tokenizer *t) {
    int32_t maxid = -1;
    for (size_t i = 0; i < t->vcap; i++)
        if (t->vkey[i] && t->vid[i] > maxid) maxid = t->vid[i];
    uint8_t *used = nli_calloc((size_t)maxid + 1, 1);
    if (!used) return -1;
    for (size_t i = 0; i < t->vcap; i++)
        if (t->vkey[i]) used[t->vid[i]] = 1;
    int rc = -1;
    for (size_t k = 0; k < t->nadded; k++) {
        nli_added *a = &t->added[k];
        int32_t v = nli_tok_vocab_get(t, a->content, a->len);
        if (a->id < 0 && v < 0) {
            /* transformers appends it to the vocabulary at load (id 49408
             * for OpenAI's), an id past the model's embeddings: the folder
             * loads, a text holding it fails (nli_tok_added_next) */
            a->no_id = 1;
            continue;
        }
        if (a->id < 0) a->id = v;
        if (v >= 0 && v != a->id) {
            unsupported(a, "the vocabulary gives this token another id");
            goto done;
        }
        if (v < 0 && a->id <= maxid && used[a->id]) {
            unsupported(a, "that id is another token's in the vocabulary");
            goto done;
        }
        for (size_t j = 0; j < k; j++)
            if (!t->added[j].no_id && t->added[j].id == a->id) {
                unsupported(a, "that id is another added token's");
                goto done;
            }
    }
    rc = 0;
done:
    free(used);
    return rc;
}

int nli_tok_added_done(nli_tokenizer *t) {
    if (t->nadded == 0) return 0;
    if (check_ids(t)) return -1;
    int single = 0;
    for (size_t k = 0; k < t->nadded; k++) {
        nli_added *a = &t->added[k];
        single |= a->flags & NLI_ADDED_SINGLE_WORD;
        if (!(a->flags & NLI_ADDED_NORMALIZED)) {
            a->match = a->content, a->mlen = a->len;
            continue;
        }
        char *c = NULL;
        size_t n = 0;
        if (nli_tokenizer_clean(a->content, a->len, &c, &n)) {
            nli_prefixerr("%s: added token \"%.60s\"", a->file, a->content);
            return -1;
        }
        a->match = c, a->mlen = n, a->owned = 1;
        if (n == 0) {
            unsupported(a, "normalized, and nothing is left of it once normalized");
            return -1;
        }
    }
    if (trie_build(&t->trie[0], t->added, t->nadded, 0) || trie_build(&t->trie[1], t->added, t->nadded, 1)) {
        nli_prefixerr("%s: added tokens", t->added[0].file);
        return -1;
    }
    if (single) {
        int err;
        PCRE2_SIZE off;
        t->word = pcre2_compile((PCRE2_SPTR)WORD_CHAR, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
        if (!t->word) {
            nli_seterr("tokenizer: cannot compile the word-character class (error %d)", err);
            return -1;
        }
    }
    return 0;
}

/* Is there a word character at byte offset i of s (n bytes)? */
static int word_at(const nli_tokenizer *t, const char *s, size_t n, size_t i, pcre2_match_data *md) {
    return pcre2_match(t->word, (PCRE2_SPTR)s, n, i, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, md, NULL) >= 0;
}

int nli_tok_added_next(const nli_tokenizer *t, int normalized, const char *s, size_t n, size_t from,
                       pcre2_match_data *md, size_t *start, size_t *end, int32_t *id) {
    const nli_trie *tr = &t->trie[normalized ? 1 : 0];
    if (!tr->nnodes) return 0;
    for (size_t i = from; i < n;) {
        int32_t node = 0, best = -1;
        size_t best_end = 0;
        for (size_t j = i; j < n; j++) {
            if ((node = nli_trie_child(tr, node, (uint8_t)s[j])) < 0) break;
            if (tr->id[node] >= 0) best = tr->id[node], best_end = j + 1;
        }
        if (best < 0) {
            i++;
            continue;
        }
        const nli_added *a = &t->added[best];
        if (a->flags & NLI_ADDED_SINGLE_WORD) {
            int before = 0;
            if (i > 0) {
                size_t p = i - 1; /* back to the first byte of the character before i */
                while (p > 0 && ((uint8_t)s[p] & 0xC0) == 0x80) p--;
                before = word_at(t, s, n, p, md);
            }
            int after = best_end < n && word_at(t, s, n, best_end, md);
            if (before || after) {
                i = best_end;
                continue;
            }
        }
        if (a->no_id) {
            nli_seterr_code(NL_ERR_UNSUPPORTED,
                            "%s: the text holds \"%.60s\", a special token in neither the vocabulary nor given an "
                            "id: transformers appends it to the vocabulary at load, an id past the model's embeddings",
                            a->file, a->content);
            return -1;
        }
        *start = i, *end = best_end, *id = (int32_t)a->id;
        return 1;
    }
    return 0;
}

uint64_t nli_tok_added_digest(const nli_tokenizer *t, uint64_t h) {
    if (t->nadded == 0) return h; /* OpenAI's BPE keeps its digest */
    uint64_t set = 0;
    for (size_t k = 0; k < t->nadded; k++) {
        const nli_added *a = &t->added[k];
        uint64_t x = nli_fnv1a(a->match, a->mlen, NL_FNV_INIT);
        int64_t v[2] = {a->id, a->flags & (NLI_ADDED_NORMALIZED | NLI_ADDED_SINGLE_WORD)};
        x = nli_fnv1a(v, sizeof v, x);
        set += x ^ (x >> 29) * 0xBF58476D1CE4E5B9ULL;
    }
    return nli_fnv1a(&set, sizeof set, nli_fnv1a("added", 5, h));
}

void nli_tok_added_free(nli_tokenizer *t) {
    for (size_t k = 0; k < t->nadded; k++) {
        if (t->added[k].owned) free(t->added[k].match);
        free(t->added[k].content);
        free(t->added[k].file);
    }
    free(t->added);
    for (int s = 0; s < 2; s++) {
        nli_trie_free(&t->trie[s]);
    }
    pcre2_code_free(t->word);
}
