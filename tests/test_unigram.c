/* test_unigram.c — the Unigram tokenizer (src/clip/unigram*.c,
 * spm_charsmap.c) against Hugging Face tokenizers.
 *
 * Golden: tests/data/unigram (tests/gen/gen_unigram.py, tokenizers 0.23.3,
 * sentencepiece 0.2.3): a 3,000-piece Unigram with the nmt_nfkc charsmap
 * in three forms (XLM-R's as AltCLIP ships it, transformers 5's XLM-R, a
 * T5/SigLIP-like one), and the ids tokenizers gives for 320 texts each
 * (prompts, whitespace runs, fullwidth letters and ligatures, combining
 * marks, CJK, Devanagari, emoji sequences, characters no piece holds,
 * special tokens in the text, and 300 random mixes). Every id must be
 * equal. Then what is refused, and a hostile charsmap. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "neglabel.h"
#include "unigram.h"
#include "util.h"

static json_t *base;      /* tokenizer.json */
static const char *tmp;

/* base with `edit` applied, written to a temporary file: its path. */
static const char *write_variant(const char *name, json_t *doc) {
    static char path[1100];
    snprintf(path, sizeof path, "%s/%s.json", tmp, name);
    CHECK(json_dump_file(doc, path, JSON_COMPACT) == 0, "writing %s", path);
    return path;
}

/* Replace the placeholder "(tokenizer.json's)" by the base's charsmap. */
static void fill_charsmap(json_t *v, const char *charsmap) {
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (json_is_string(x) && !strcmp(json_string_value(x), "(tokenizer.json's)"))
                json_object_set_new(v, k, json_string(charsmap));
            else
                fill_charsmap(x, charsmap);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) fill_charsmap(json_array_get(v, i), charsmap);
    }
}

static const char *base_charsmap(void) {
    json_t *n = json_object_get(base, "normalizer"), *list = json_object_get(n, "normalizers");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *m = json_array_get(list, i);
        if (!strcmp(json_string_value(json_object_get(m, "type")), "Precompiled"))
            return json_string_value(json_object_get(m, "precompiled_charsmap"));
    }
    return "";
}

/* transformers 5's XLMRobertaTokenizer over the 2022 form: the 2025 form's ids. */
static void test_as_xlmr(json_t *golden) {
    nli_unigram *u = nli_unigram_load(write_variant("as-xlmr", base));
    CHECK(u && nli_unigram_as_xlmr(u, "as-xlmr") == 0, "as_xlmr: %s", nl_last_error());
    if (!u) return;
    json_t *texts = json_object_get(golden, "texts"), *want = json_object_get(json_object_get(golden, "ids"), "xlmr-2025");
    size_t same = 0;
    for (size_t i = 0; i < json_array_size(texts); i++) {
        json_t *t = json_array_get(texts, i), *w = json_array_get(want, i);
        int32_t *ids = NULL;
        size_t n = 0;
        int eq = nli_unigram_encode(u, json_string_value(t), json_string_length(t), &ids, &n) == 0 &&
                 n == json_array_size(w);
        for (size_t k = 0; eq && k < n; k++) eq = ids[k] == json_integer_value(json_array_get(w, k));
        same += eq;
        free(ids);
    }
    CHECK(same == json_array_size(texts), "XLMRobertaTokenizer's pipeline over the 2022 file: %zu of %zu texts as "
          "the 2025 form", same, json_array_size(texts));
    nli_unigram_free(u);
}

static void test_golden(json_t *golden) {
    json_t *texts = json_object_get(golden, "texts"), *variants = json_object_get(golden, "variants");
    const char *kind;
    json_t *var;
    int forms = 0;
    json_object_foreach(variants, kind, var) {
        json_t *doc = json_deep_copy(base);
        json_t *v = json_deep_copy(var);
        fill_charsmap(v, base_charsmap());
        json_object_update(doc, v);
        const char *path = write_variant(kind, doc);
        json_decref(v);
        json_decref(doc);
        nli_unigram *u = nli_unigram_load(path);
        CHECK(u != NULL, "%s: %s", kind, nl_last_error());
        if (!u) continue;
        forms++;
        json_t *want = json_object_get(json_object_get(golden, "ids"), kind);
        size_t same = 0, shown = 0;
        for (size_t i = 0; i < json_array_size(texts); i++) {
            json_t *t = json_array_get(texts, i), *w = json_array_get(want, i);
            int32_t *ids = NULL;
            size_t n = 0;
            int rc = nli_unigram_encode(u, json_string_value(t), json_string_length(t), &ids, &n);
            int eq = rc == 0 && n == json_array_size(w);
            for (size_t k = 0; eq && k < n; k++) eq = ids[k] == json_integer_value(json_array_get(w, k));
            if (eq) same++;
            else if (shown++ < 5) {
                char *ws = json_dumps(w, JSON_COMPACT);
                fprintf(stderr, "%s: text %zu \"%.80s\": want %.300s, got", kind, i, json_string_value(t), ws);
                for (size_t k = 0; k < n && k < 60; k++) fprintf(stderr, " %d", ids[k]);
                fprintf(stderr, " (rc %d)\n", rc);
                free(ws);
            }
            free(ids);
        }
        CHECK(same == json_array_size(texts), "%s: %zu of %zu texts tokenized as tokenizers does", kind, same,
              json_array_size(texts));
        printf("%s: %zu of %zu texts equal tokenizers' ids\n", kind, same, json_array_size(texts));
        nli_unigram_free(u);
    }
    CHECK(forms == 3, "3 forms of the tokenizer loaded (%d)", forms);
}

/* base with one change made by `edit`, loaded: NULL expected, with status
 * and a message holding `want`. */
static void refuse(const char *what, void (*edit)(json_t *doc), int status, const char *want) {
    json_t *doc = json_deep_copy(base);
    edit(doc);
    const char *path = write_variant("refused", doc);
    json_decref(doc);
    nli_unigram *u = nli_unigram_load(path);
    CHECK(u == NULL && (int)nl_last_status() == status && strstr(nl_last_error(), want), "%s: refused with %d \"%s\" (got %d: %s)",
          what, status, want, (int)nl_last_status(), u ? "(loaded)" : nl_last_error());
    nli_unigram_free(u);
}

static json_t *model(json_t *d) { return json_object_get(d, "model"); }
static void byte_fallback(json_t *d) { json_object_set_new(model(d), "byte_fallback", json_true()); }
static void bpe(json_t *d) { json_object_set_new(model(d), "type", json_string("BPE")); }
static void unk_far(json_t *d) { json_object_set_new(model(d), "unk_id", json_integer(999999)); }
static void unk_null(json_t *d) { json_object_set_new(model(d), "unk_id", json_null()); }
static void bad_score(json_t *d) { json_array_set_new(json_array_get(json_object_get(model(d), "vocab"), 7), 1, json_string("x")); }
static void nfkc(json_t *d) { json_object_set_new(d, "normalizer", json_pack("{s:s}", "type", "NFKC")); }
static void empty_regex(json_t *d) {
    json_object_set_new(d, "normalizer", json_pack("{s:s,s:{s:s},s:s}", "type", "Replace", "pattern", "Regex", "x*", "content", "y"));
}
static void bad_b64(json_t *d) {
    json_object_set_new(d, "normalizer", json_pack("{s:s,s:s}", "type", "Precompiled", "precompiled_charsmap", "AAA*"));
}
static void big_trie(json_t *d) { /* claims 1 MiB of trie in 8 bytes */
    json_object_set_new(d, "normalizer", json_pack("{s:s,s:s}", "type", "Precompiled", "precompiled_charsmap", "AAAQAAAAAAA="));
}
static void normalized_added(json_t *d) {
    json_array_append_new(json_object_get(d, "added_tokens"),
                          json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", 5, "content", "dog", "single_word", 0, "lstrip", 0,
                                    "rstrip", 0, "normalized", 1, "special", 0));
}
static void first_after_split(json_t *d) {
    json_object_set_new(d, "pre_tokenizer",
                        json_pack("{s:s,s:[{s:s},{s:s,s:s,s:s,s:b}]}", "type", "Sequence", "pretokenizers", "type",
                                  "WhitespaceSplit", "type", "Metaspace", "replacement", "\xe2\x96\x81", "prepend_scheme",
                                  "first", "split", 1));
}
static void bert_pre(json_t *d) { json_object_set_new(d, "pre_tokenizer", json_pack("{s:s}", "type", "BertPreTokenizer")); }

static void test_refusals(void) {
    const int U = NL_ERR_UNSUPPORTED, I = NL_ERR_INVALID;
    refuse("byte_fallback", byte_fallback, U, "byte_fallback");
    refuse("a BPE", bpe, U, "not a Unigram");
    refuse("unk_id past the vocabulary", unk_far, I, "unk_id 999999");
    refuse("no unk_id", unk_null, U, "unk_id");
    refuse("a score that is not a number", bad_score, I, "model.vocab[7]");
    refuse("NFKC", nfkc, U, "normalizer 'NFKC'");
    refuse("a regex matching nothing", empty_regex, U, "empty string");
    refuse("charsmap not base64", bad_b64, I, "not base64");
    refuse("charsmap trie past its end", big_trie, I, "claims");
    refuse("an added token matched after normalization", normalized_added, U, "'dog'");
    refuse("Metaspace first after WhitespaceSplit", first_after_split, U, "first");
    refuse("BertPreTokenizer", bert_pre, U, "BertPreTokenizer");
}

/* 4,000 added tokens of 256 bytes sharing 252 bytes of 'a', and a text of
 * 256 KiB of 'a': every position is a prefix of every token. The tokens'
 * trie walks at most 256 bytes from a position (6.7e7 steps); comparing
 * each token at each position was ~2.7e11 byte comparisons. */
static void test_added_bound(void) {
    json_t *doc = json_deep_copy(base), *list = json_object_get(doc, "added_tokens");
    char tokn[260];
    for (int k = 0; k < 4000; k++) {
        memset(tokn, 'a', 252);
        snprintf(tokn + 252, 5, "%04d", k);
        json_array_append_new(list, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", 5 + k % 2000, "content", tokn,
                                              "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1));
    }
    nli_unigram *u = nli_unigram_load(write_variant("many-added", doc));
    json_decref(doc);
    CHECK(u != NULL, "4,000 added tokens: %s", nl_last_error());
    if (!u) return;
    size_t n = 256 << 10;
    char *text = malloc(n + 8);
    memset(text, 'a', n);
    memcpy(text + n, "0007 a", 6); /* the text ends with token 7 and a word */
    int32_t *ids = NULL;
    size_t m = 0;
    int rc = nli_unigram_encode(u, text, n + 6, &ids, &m);
    CHECK(rc == 0 && m > 3 && ids[m - 3] == 5 + 7, "a text of 256 KiB of 'a' then token 7: rc %d, %zu ids", rc, m);
    free(ids);
    free(text);
    nli_unigram_free(u);
}

/* Invalid UTF-8 is an error naming the byte; a charsmap whose array points
 * past its end, or whose leaf points past its strings, changes nothing
 * (the crate would panic) and reads nothing out of bounds (ASan). */
static void test_hostile(void) {
    nli_unigram *u = nli_unigram_load(write_variant("base", base));
    CHECK(u != NULL, "base: %s", nl_last_error());
    if (u) {
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(nli_unigram_encode(u, "ab\xff", 3, &ids, &n) == -1 && strstr(nl_last_error(), "byte 2"),
              "invalid UTF-8: %s", nl_last_error());
        free(ids);
        nli_unigram_free(u);
    }
    /* units: [0] offset 1<<20 (past the end); then 'a' -> a leaf at 3 whose value is 999 */
    uint8_t blob[4 + 16 + 3];
    uint32_t units[4] = {1u << 30, 0, 0, 0};
    uint32_t nbytes = sizeof units;
    memcpy(blob, &nbytes, 4);
    memcpy(blob + 4, units, sizeof units);
    memcpy(blob + 20, "xy", 3);
    nli_charsmap cm;
    CHECK(nli_charsmap_init(&cm, blob, sizeof blob, "hostile") == 0, "%s", nl_last_error());
    char *out = NULL;
    size_t olen = 0, cap = 0;
    CHECK(nli_charsmap_normalize(&cm, "abc", 3, &out, &olen, &cap) == 0 && olen == 3 && !memcmp(out, "abc", 3),
          "an array past its end changes nothing");
    free(out);
    nli_charsmap_free(&cm);
    /* root offset 0; 'a' (97) at unit 97 with leaf bit, offset 0 -> value unit 97: 999 past the strings */
    uint32_t *big = calloc(128, sizeof(uint32_t));
    big[97] = 97u | 1u << 8;
    uint8_t *b2 = malloc(4 + 128 * 4 + 2);
    nbytes = 128 * 4;
    memcpy(b2, &nbytes, 4);
    memcpy(b2 + 4, big, 128 * 4);
    memcpy(b2 + 4 + 128 * 4, "z", 2);
    CHECK(nli_charsmap_init(&cm, b2, 4 + 128 * 4 + 2, "hostile2") == 0, "%s", nl_last_error());
    out = NULL, olen = 0, cap = 0;
    CHECK(nli_charsmap_normalize(&cm, "ab", 2, &out, &olen, &cap) == 0 && olen == 2 && !memcmp(out, "ab", 2),
          "a leaf past the strings changes nothing (got %.*s)", (int)olen, out ? out : "");
    free(out);
    nli_charsmap_free(&cm);
    free(big);
    free(b2);
}

int main(void) {
    tmp = check_tmpdir();
    json_error_t e;
    base = json_load_file(check_src_data("unigram", "tokenizer.json"), 0, &e);
    json_t *golden = json_load_file(check_src_data("unigram", "golden.json"), 0, &e);
    CHECK(base && golden, "tests/data/unigram: %s (set NEGLABEL_SRC to the repository)", e.text);
    if (base && golden) {
        test_golden(golden);
        test_as_xlmr(golden);
        test_refusals();
        test_hostile();
        test_added_bound();
    }
    json_decref(base);
    json_decref(golden);
    check_rm_rf(tmp);
    return check_done();
}
