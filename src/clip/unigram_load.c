/* unigram_load.c — a Unigram tokenizer's tables from tokenizer.json, as
 * Hugging Face tokenizers deserializes them: the model's pieces and scores
 * (into a byte trie), the normalizer, the pre-tokenizer, the
 * post-processor's special tokens and the added tokens. What tokenizers
 * would run differently from unigram.c is refused by name
 * (NL_ERR_UNSUPPORTED), never approximated. */
#include "unigram_impl.h"
#include "neglabel.h"
#include "tokenizer_impl.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define ADDED_MAX 4096
#define ADDED_LEN 256

/* The pieces into the trie; a piece listed twice keeps its last id. */
static int build_trie(nli_unigram *u, json_t *vocab, const char *path) {
    size_t bytes = 0;
    for (size_t i = 0; i < u->nvocab; i++) bytes += json_string_length(json_array_get(json_array_get(vocab, i), 0));
    if (nli_trie_init(&u->pieces, bytes)) {
        nli_prefixerr("%s: the Unigram vocabulary", path);
        return -1;
    }
    for (size_t i = 0; i < u->nvocab; i++) {
        json_t *s = json_array_get(json_array_get(vocab, i), 0);
        if (json_string_length(s)) /* tokenizers' trie never yields an empty piece */
            nli_trie_put(&u->pieces, json_string_value(s), json_string_length(s), (int32_t)i, 0);
    }
    return 0;
}

static int load_model(nli_unigram *u, json_t *model, const char *path) {
    json_t *type = json_object_get(model, "type"), *vocab = json_object_get(model, "vocab");
    if (!json_is_string(type) || strcmp(json_string_value(type), "Unigram")) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: model type '%.40s' is not a Unigram", path,
                        json_is_string(type) ? json_string_value(type) : "?");
        return -1;
    }
    json_t *bf = json_object_get(model, "byte_fallback");
    if (bf && json_is_true(bf)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: a Unigram with byte_fallback is not supported", path);
        return -1;
    }
    if (!json_is_array(vocab) || json_array_size(vocab) == 0 || json_array_size(vocab) > NLI_UG_MAX_VOCAB) {
        nli_seterr("%s: model.vocab must be a list of 1 to %d [piece, score] pairs", path, NLI_UG_MAX_VOCAB);
        return -1;
    }
    u->nvocab = json_array_size(vocab);
    if (!(u->score = nli_mallocarray(u->nvocab, sizeof(double)))) return -1;
    u->min_score = INFINITY;
    for (size_t i = 0; i < u->nvocab; i++) {
        json_t *e = json_array_get(vocab, i);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(json_array_get(e, 0)) ||
            !json_is_number(json_array_get(e, 1)) || json_string_length(json_array_get(e, 0)) > 1024) {
            nli_seterr("%s: model.vocab[%zu] is not a [piece (at most 1,024 bytes), score] pair", path, i);
            return -1;
        }
        double s = json_number_value(json_array_get(e, 1));
        if (!(s > -1e300 && s < 1e300)) {
            nli_seterr("%s: model.vocab[%zu]: the score is not a finite number", path, i);
            return -1;
        }
        u->score[i] = s;
        if (s < u->min_score) u->min_score = s;
    }
    json_t *unk = json_object_get(model, "unk_id");
    if (!json_is_integer(unk)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: a Unigram without an integer unk_id is not supported", path);
        return -1;
    }
    if (json_integer_value(unk) < 0 || (size_t)json_integer_value(unk) >= u->nvocab) {
        nli_seterr("%s: model.unk_id %lld is not in the vocabulary (%zu pieces)", path,
                   (long long)json_integer_value(unk), u->nvocab);
        return -1;
    }
    u->unk_id = (int32_t)json_integer_value(unk);
    return build_trie(u, vocab, path);
}

/* Standard base64 with its padding, as tokenizers' charsmap; -1 if not. */
static int base64(const char *s, size_t n, uint8_t **out, size_t *len) {
    if (n % 4) return -1;
    uint8_t *o = nli_malloc(n / 4 * 3 + 1);
    if (!o) return -2;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            int d = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
                  : c == '+' ? 62 : c == '/' ? 63 : -1;
            if (c == '=' && i + 4 == n && j >= 2) { pad++; d = 0; }
            else if (d < 0 || pad) { free(o); return -1; }
            v = v << 6 | (uint32_t)d;
        }
        if ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF))) { free(o); return -1; } /* not canonical */
        o[k++] = (uint8_t)(v >> 16);
        if (pad < 2) o[k++] = (uint8_t)(v >> 8);
        if (pad < 1) o[k++] = (uint8_t)v;
    }
    *out = o;
    *len = k;
    return 0;
}

static int get_bool(json_t *o, const char *key, int dflt, int *out, const char *path, const char *what) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) { *out = dflt; return 0; }
    if (!json_is_boolean(v)) { nli_seterr("%s: %s.%s is not a boolean", path, what, key); return -1; }
    *out = json_is_true(v);
    return 0;
}

static int add_norm(nli_unigram *u, json_t *n, const char *path) {
    const char *t = nli_tok_json_type(n);
    if (!strcmp(t, "Sequence")) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list)) { nli_seterr("%s: normalizer Sequence without a normalizers list", path); return -1; }
        for (size_t i = 0; i < json_array_size(list); i++)
            if (add_norm(u, json_array_get(list, i), path)) return -1;
        return 0;
    }
    if (!strcmp(t, "Precompiled") && json_is_null(json_object_get(n, "precompiled_charsmap"))) return 0; /* none */
    if (u->nnorm == NLI_UG_MAX_STEPS) { nli_seterr("%s: more than %d normalizers", path, NLI_UG_MAX_STEPS); return -1; }
    nli_ug_norm *m = &u->norm[u->nnorm];
    memset(m, 0, sizeof *m);
    if (!strcmp(t, "Precompiled")) {
        json_t *b = json_object_get(n, "precompiled_charsmap");
        uint8_t *blob = NULL;
        size_t len = 0;
        int rc = json_is_string(b) ? base64(json_string_value(b), json_string_length(b), &blob, &len) : -1;
        if (rc == -1) nli_seterr("%s: the Precompiled normalizer's precompiled_charsmap is not base64", path);
        if (rc) return -1;
        if (u->cm.units) {
            free(blob);
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: two Precompiled normalizers", path);
            return -1;
        }
        rc = nli_charsmap_init(&u->cm, blob, len, path);
        free(blob);
        if (rc) return -1;
        m->kind = UG_PRECOMPILED;
    } else if (!strcmp(t, "Replace") || !strcmp(t, "Prepend")) {
        int rep = !strcmp(t, "Replace");
        json_t *c = json_object_get(n, rep ? "content" : "prepend"), *p = json_object_get(n, "pattern");
        json_t *lit = rep ? json_object_get(p, "String") : NULL, *re = rep ? json_object_get(p, "Regex") : NULL;
        if (!json_is_string(c) || (rep && !json_is_string(lit) && !json_is_string(re))) {
            nli_seterr("%s: normalizer %s: %s", path, t, rep ? "pattern {String|Regex} and content are needed" : "prepend is needed");
            return -1;
        }
        m->kind = rep ? UG_REPLACE : UG_PREPEND;
        m->content = nli_strdup(json_string_value(c));
        m->clen = json_string_length(c);
        if (!m->content) return -1;
        u->nnorm++; /* owned from here: freed with the tokenizer */
        if (!rep) return 0;
        json_t *pat = lit ? lit : re;
        int err;
        PCRE2_SIZE off;
        m->re = pcre2_compile((PCRE2_SPTR)json_string_value(pat), json_string_length(pat),
                              PCRE2_UTF | PCRE2_UCP | (lit ? PCRE2_LITERAL : 0), &err, &off, NULL);
        if (!m->re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof msg);
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: normalizer Replace: pattern '%.60s' at %zu: %s", path,
                            json_string_value(pat), (size_t)off, (const char *)msg);
            return -1;
        }
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
        int empty = md ? pcre2_match(m->re, (PCRE2_SPTR) "", 0, 0, 0, md, NULL) >= 0 : 1;
        pcre2_match_data_free(md);
        if (empty || json_string_length(pat) == 0) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: normalizer Replace: a pattern that matches the empty string ('%.60s')",
                            path, json_string_value(pat));
            return -1;
        }
        return 0;
    } else if (!strcmp(t, "Strip")) {
        m->kind = UG_STRIP;
        if (get_bool(n, "strip_left", 1, &m->left, path, "Strip") || get_bool(n, "strip_right", 1, &m->right, path, "Strip"))
            return -1;
    } else {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: normalizer '%.40s' is not supported (Precompiled, Replace, Strip, "
                        "Prepend, Sequence)", path, t);
        return -1;
    }
    u->nnorm++;
    return 0;
}

static int add_pre(nli_unigram *u, json_t *p, const char *path) {
    const char *t = nli_tok_json_type(p);
    if (!strcmp(t, "Sequence")) {
        json_t *list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list)) { nli_seterr("%s: pre_tokenizer Sequence without a pretokenizers list", path); return -1; }
        for (size_t i = 0; i < json_array_size(list); i++)
            if (add_pre(u, json_array_get(list, i), path)) return -1;
        return 0;
    }
    if (u->npre == NLI_UG_MAX_STEPS) { nli_seterr("%s: more than %d pre-tokenizers", path, NLI_UG_MAX_STEPS); return -1; }
    nli_ug_pre *m = &u->pre[u->npre];
    memset(m, 0, sizeof *m);
    if (!strcmp(t, "WhitespaceSplit")) {
        m->kind = UG_WHITESPACE_SPLIT;
    } else if (!strcmp(t, "Metaspace")) {
        m->kind = UG_METASPACE;
        json_t *r = json_object_get(p, "replacement"), *sch = json_object_get(p, "prepend_scheme");
        const char *rs = json_is_string(r) ? json_string_value(r) : "";
        utf8proc_ssize_t k;
        utf8proc_int32_t cp;
        if (!json_is_string(r) || (k = utf8proc_iterate((const uint8_t *)rs, (utf8proc_ssize_t)json_string_length(r), &cp)) < 1 ||
            (size_t)k != json_string_length(r)) {
            nli_seterr("%s: pre_tokenizer Metaspace: replacement must be one character", path);
            return -1;
        }
        memcpy(m->rep, rs, (size_t)k);
        m->rlen = (size_t)k;
        const char *s = json_is_string(sch) ? json_string_value(sch) : "always";
        if (sch && !json_is_null(sch) && !json_is_string(sch)) s = "?";
        m->scheme = !strcmp(s, "always") ? UG_PREPEND_ALWAYS : !strcmp(s, "first") ? UG_PREPEND_FIRST
                  : !strcmp(s, "never") ? UG_PREPEND_NEVER : -1;
        if (m->scheme < 0) {
            nli_seterr("%s: pre_tokenizer Metaspace: prepend_scheme '%.20s' (always, first or never)", path, s);
            return -1;
        }
        int aps;
        if (get_bool(p, "add_prefix_space", 1, &aps, path, "Metaspace") || get_bool(p, "split", 1, &m->split, path, "Metaspace"))
            return -1;
        if (!aps) {
            if (m->scheme != UG_PREPEND_NEVER && json_is_string(sch)) {
                nli_seterr("%s: pre_tokenizer Metaspace: add_prefix_space does not match declared prepend_scheme", path);
                return -1;
            }
            m->scheme = UG_PREPEND_NEVER;
        }
        /* "first" asks whether a piece starts the original text; after a
         * split that is a question of alignments we do not keep */
        for (size_t i = 0; m->scheme == UG_PREPEND_FIRST && i < u->npre; i++)
            if (u->pre[i].kind == UG_WHITESPACE_SPLIT || (u->pre[i].kind == UG_METASPACE && u->pre[i].split)) {
                nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: pre_tokenizer Metaspace with prepend_scheme \"first\" after a "
                                "split is not supported", path);
                return -1;
            }
    } else {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: pre_tokenizer '%.40s' is not supported (Metaspace, WhitespaceSplit, "
                        "Sequence)", path, t);
        return -1;
    }
    u->npre++;
    return 0;
}

static int load_added(nli_unigram *u, json_t *list, const char *path) {
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list) || json_array_size(list) > ADDED_MAX) {
        nli_seterr("%s: added_tokens must be a list of at most %d tokens", path, ADDED_MAX);
        return -1;
    }
    size_t n = json_array_size(list);
    if (!(u->added = nli_calloc(n + 1, sizeof *u->added))) return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i), *c = json_object_get(e, "content"), *id = json_object_get(e, "id");
        nli_ug_added *a = &u->added[u->nadded];
        int normalized, special;
        if (!json_is_string(c) || json_string_length(c) == 0 || json_string_length(c) > ADDED_LEN || !json_is_integer(id) ||
            json_integer_value(id) < 0 || json_integer_value(id) >= NLI_UG_MAX_VOCAB) {
            nli_seterr("%s: added_tokens[%zu]: content (1 to %d bytes) and id are needed", path, i, ADDED_LEN);
            return -1;
        }
        if (get_bool(e, "special", 0, &special, path, "added_tokens") || get_bool(e, "normalized", !special, &normalized, path, "added_tokens") ||
            get_bool(e, "lstrip", 0, &a->lstrip, path, "added_tokens") || get_bool(e, "rstrip", 0, &a->rstrip, path, "added_tokens") ||
            get_bool(e, "single_word", 0, &a->single_word, path, "added_tokens"))
            return -1;
        if (normalized) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token '%.60s' is matched after normalization (normalized: "
                            "true): not supported for a Unigram tokenizer", path, json_string_value(c));
            return -1;
        }
        if (a->rstrip || a->single_word) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token '%.60s' with %s: not supported for a Unigram "
                            "tokenizer", path, json_string_value(c), a->rstrip ? "rstrip" : "single_word");
            return -1;
        }
        if (!(a->s = nli_strdup(json_string_value(c)))) return -1;
        a->len = json_string_length(c);
        a->id = (int32_t)json_integer_value(id);
        u->nadded++;
    }
    /* the tokens' trie: matching walks at most ADDED_LEN bytes from a position */
    if (nli_trie_init(&u->atrie, (size_t)ADDED_LEN * u->nadded)) return -1;
    for (size_t i = 0; i < u->nadded; i++)
        nli_trie_put(&u->atrie, u->added[i].s, u->added[i].len, (int32_t)i, 1);
    return 0;
}

nli_unigram *nli_unigram_load(const char *path) {
    uint64_t digest = 0;
    json_t *root = nli_tok_read_json_hashed(path, 0, &digest);
    nli_unigram *u = root ? nli_calloc(1, sizeof *u) : NULL;
    if (!u) {
        json_decref(root);
        return NULL;
    }
    u->digest = digest;
    json_t *model = json_object_get(root, "model"), *norm = json_object_get(root, "normalizer");
    json_t *pre = json_object_get(root, "pre_tokenizer");
    int rc = json_is_object(model) ? load_model(u, model, path) : (nli_seterr("%s: no \"model\" object", path), -1);
    if (!rc && norm && !json_is_null(norm)) rc = add_norm(u, norm, path);
    if (!rc && pre && !json_is_null(pre)) rc = add_pre(u, pre, path);
    if (!rc)
        rc = nli_tok_json_post(json_object_get(root, "post_processor"), path, (int32_t)u->nvocab, u->prefix,
                               &u->nprefix, u->suffix, &u->nsuffix);
    if (!rc) rc = load_added(u, json_object_get(root, "added_tokens"), path);
    json_decref(root);
    if (rc) {
        nli_unigram_free(u);
        return NULL;
    }
    return u;
}

int nli_unigram_as_xlmr(nli_unigram *u, const char *path) {
    int32_t ids[2];
    const char *names[2] = {"<s>", "</s>"};
    for (int k = 0; k < 2; k++) {
        int32_t node = 0;
        for (const char *c = names[k]; *c && node >= 0; c++) node = nli_trie_child(&u->pieces, node, (uint8_t)*c);
        if (node < 0 || (ids[k] = u->pieces.id[node]) < 0) {
            nli_seterr("%s: no '%s' in the vocabulary (XLM-R's special tokens)", path, names[k]);
            return -1;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < u->nnorm; i++) {
        if (u->norm[i].kind == UG_PRECOMPILED) {
            u->norm[k++] = u->norm[i];
            continue;
        }
        free(u->norm[i].content);
        pcre2_code_free(u->norm[i].re);
    }
    u->nnorm = k;
    memset(u->pre, 0, 2 * sizeof *u->pre);
    u->pre[0].kind = UG_WHITESPACE_SPLIT;
    u->pre[1] = (nli_ug_pre){.kind = UG_METASPACE, .rep = "\xe2\x96\x81", .rlen = 3, .scheme = UG_PREPEND_ALWAYS, .split = 1};
    u->npre = 2;
    u->prefix[0] = ids[0], u->suffix[0] = ids[1];
    u->nprefix = u->nsuffix = 1;
    return 0;
}

void nli_unigram_free(nli_unigram *u) {
    if (!u) return;
    free(u->score);
    nli_trie_free(&u->pieces);
    nli_trie_free(&u->atrie);
    nli_charsmap_free(&u->cm);
    for (size_t i = 0; i < u->nnorm; i++) {
        free(u->norm[i].content);
        pcre2_code_free(u->norm[i].re);
    }
    for (size_t i = 0; i < u->nadded; i++) free(u->added[i].s);
    free(u->added);
    free(u);
}

size_t nli_unigram_vocab_size(const nli_unigram *u) { return u ? u->nvocab : 0; }
uint64_t nli_unigram_digest(const nli_unigram *u) { return u->digest; }
int32_t nli_unigram_last_suffix(const nli_unigram *u) { return u->nsuffix ? u->suffix[u->nsuffix - 1] : -1; }
