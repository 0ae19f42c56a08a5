/* test_tokenizer_added.c — tokens added to a Hugging Face CLIP tokenizer
 * (LAION's pad_token "!", a fine-tune's new words) give transformers' ids
 * (tests/data/tokenizer/added.golden.json, tests/gen/gen_tokenizer_added.py)
 * from every file that lists them; an OpenCLIP folder ignores the config
 * files as open_clip does; the digest follows the added tokens; hostile
 * entries are refused naming the file. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "neglabel.h"
#include "tokenizer.h"
#include "util.h"

static const char *data(const char *name) { return check_src_data("tokenizer", name); }

static json_t *base; /* clip2000.tokenizer.json */

static void put(const char *dir, const char *name, json_t *root) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(json_dump_file(root, path, JSON_COMPACT | JSON_ENSURE_ASCII) == 0, "write %s", path);
}

static void put_text(const char *dir, const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

/* dir/name made, with vocab.json + merges.txt from clip2000.tokenizer.json
 * (added_tokens NULL), or tokenizer.json with those added_tokens. */
static const char *folder(const char *dir, const char *name, json_t *added) {
    static char sub[1024];
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    CHECK(mkdir(sub, 0755) == 0, "mkdir %s", sub);
    json_t *model = json_object_get(base, "model");
    if (added) {
        json_t *j = json_copy(base);
        json_object_set(j, "added_tokens", added);
        put(sub, "tokenizer.json", j);
        json_decref(j);
        return sub;
    }
    put(sub, "vocab.json", json_object_get(model, "vocab"));
    char path[1100];
    snprintf(path, sizeof path, "%s/merges.txt", sub);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "write %s", path);
    if (!f) return sub;
    fputs("#version: 0.2\n", f);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(model, "merges"), i, m) fprintf(
        f, "%s %s\n", json_string_value(json_array_get(m, 0)), json_string_value(json_array_get(m, 1)));
    CHECK(fclose(f) == 0, "write %s", path);
    return sub;
}

/* The ids of text, as a JSON list (NULL on error). */
static json_t *encode(const nli_tokenizer *t, const char *text) {
    int32_t *ids;
    size_t n;
    if (nli_tokenizer_encode(t, text, strlen(text), &ids, &n)) return NULL;
    json_t *l = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(l, json_integer(ids[i]));
    free(ids);
    return l;
}

static size_t differ(const nli_tokenizer *t, json_t *texts, json_t *ids, const char *label) {
    size_t bad = 0;
    for (size_t i = 0; i < json_array_size(texts); i++) {
        const char *text = json_string_value(json_array_get(texts, i));
        json_t *got = encode(t, text);
        if (!got || !json_equal(got, json_array_get(ids, i))) {
            char *g = got ? json_dumps(got, JSON_COMPACT) : NULL, *w = json_dumps(json_array_get(ids, i), JSON_COMPACT);
            fprintf(stderr, "  %s: \"%s\": %s, transformers %s\n", label, text, g ? g : nli_geterr(), w);
            free(g), free(w);
            bad++;
        }
        json_decref(got);
    }
    return bad;
}

static uint64_t digest_of(const char *dir, int openclip) {
    nli_tokenizer *t = nli_tokenizer_for_folder(dir, openclip);
    CHECK(t != NULL, "%s: %s", dir, nli_geterr());
    uint64_t d = t ? nli_tokenizer_digest(t) : 0;
    nli_tokenizer_free(t);
    return d;
}

static void test_golden(const char *dir) {
    json_error_t jerr;
    json_t *g = json_load_file(data("added.golden.json"), 0, &jerr);
    CHECK(g != NULL, "added.golden.json: %s", jerr.text);
    if (!g) return;
    json_t *texts = json_object_get(g, "texts"), *folders = json_object_get(g, "folders"), *f;
    CHECK(json_array_size(texts) >= 30 && json_array_size(folders) >= 6, "golden: %zu texts, %zu folders",
          json_array_size(texts), json_array_size(folders));
    size_t i;
    json_array_foreach(folders, i, f) {
        const char *name = json_string_value(json_object_get(f, "name")), *key;
        const char *sub = folder(dir, name, json_object_get(f, "tokenizer_json_added_tokens"));
        json_t *file;
        json_object_foreach(json_object_get(f, "files"), key, file) put(sub, key, file);
        nli_tokenizer *t = nli_tokenizer_for_folder(sub, 0);
        CHECK(t != NULL, "%s: %s", name, nli_geterr());
        if (!t) continue;
        size_t bad = differ(t, texts, json_object_get(f, "ids"), name);
        CHECK(bad == 0, "%s: %zu of %zu texts differ from transformers %s", name, bad, json_array_size(texts),
              json_string_value(json_object_get(g, "transformers")));
        nli_tokenizer_free(t);
    }
    /* the digest follows the added tokens: "!" as LAION sets it, from the
     * two files or tokenizer.json, is one tokenizer; normalized, another;
     * none, the plain BPE's */
    char plain[1024], p[4][1100];
    snprintf(plain, sizeof plain, "%s", folder(dir, "plain", NULL));
    const char *names[4] = {"laion-files", "laion-resaved", "laion-pad-dict", "new-tokens-resaved"};
    uint64_t d[4], d0 = digest_of(plain, 0);
    for (int k = 0; k < 4; k++) snprintf(p[k], sizeof p[k], "%s/%s", dir, names[k]), d[k] = digest_of(p[k], 0);
    CHECK(d[0] == d[1] && d[0] != d0 && d[2] != d0 && d[2] != d[0] && d[3] != d[0] && d0 != NLI_TOKENIZER_OPENAI_DIGEST,
          "digests: plain %016llx, laion %016llx %016llx, normalized %016llx, new tokens %016llx",
          (unsigned long long)d0, (unsigned long long)d[0], (unsigned long long)d[1], (unsigned long long)d[2],
          (unsigned long long)d[3]);
    /* open_clip reads no tokenizer_config.json / special_tokens_map.json: a
     * LAION folder as an OpenCLIP model is the plain BPE; an OpenCLIP
     * folder whose tokenizer.json lists "!" is refused, as before */
    nli_tokenizer *t = nli_tokenizer_for_folder(p[0], 1), *ref = nli_tokenizer_for_folder(plain, 0);
    CHECK(t && ref && nli_tokenizer_digest(t) == d0, "laion-files as OpenCLIP: %s", t ? "another digest" : nli_geterr());
    if (t && ref) {
        size_t bad = 0;
        for (i = 0; i < json_array_size(texts); i++) {
            const char *text = json_string_value(json_array_get(texts, i));
            if (strstr(text, "endoftext") || strstr(text, "startoftext")) continue; /* open_clip's names differ */
            json_t *a = encode(t, text), *b = encode(ref, text);
            bad += !a || !json_equal(a, b);
            json_decref(a), json_decref(b);
        }
        CHECK(bad == 0, "laion-files as OpenCLIP: %zu texts differ from the plain BPE", bad);
    }
    nli_tokenizer_free(t);
    nli_tokenizer_free(ref);
    t = nli_tokenizer_for_folder(p[1], 1);
    CHECK(!t && nl_last_status() == NL_ERR_UNSUPPORTED && strstr(nli_geterr(), "added token \"!\" (id 0)"),
          "laion-resaved as OpenCLIP: %s", t ? "loaded" : nli_geterr());
    nli_tokenizer_free(t);
    json_decref(g);
}

/* Hostile text with LAION's "!": the BPE bound holds and invalid UTF-8 is
 * reported at its offset in the whole text. */
static void test_text(const char *dir) {
    char p[1100];
    snprintf(p, sizeof p, "%s/laion-files", dir);
    nli_tokenizer *t = nli_tokenizer_for_folder(p, 0);
    CHECK(t != NULL, "%s: %s", p, nli_geterr());
    if (!t) return;
    size_t len = 200000;
    char *s = malloc(len + 1);
    for (size_t i = 0; i < len; i++) s[i] = "ab!"[i % 3 == 2 ? 2 : (i / 3) % 2];
    s[len] = 0;
    int32_t *ids = NULL;
    size_t n = 0, work = 0;
    int rc = nli_tokenizer_encode_counted(t, s, len, &ids, &n, &work);
    size_t bangs = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) bangs += ids[i] == 0;
    CHECK(rc == 0 && bangs == len / 3 && work <= 6 * len, "%zu bytes of \"aa!bb!\": rc %d, %zu ids 0, work %zu", len,
          rc, bangs, work);
    free(ids);
    memcpy(s + 1000, "\xff", 1);
    rc = nli_tokenizer_encode(t, s, len, &ids, &n);
    CHECK(rc != 0 && strstr(nli_geterr(), "invalid UTF-8 at byte 1000"), "invalid UTF-8: %s", nli_geterr());
    free(s);
    nli_tokenizer_free(t);
}

typedef struct { const char *file, *text, *why; } hostile;

static void test_hostile(const char *dir) {
    static const hostile cases[] = {
        {"tokenizer_config.json", "[]", "tokenizer_config.json: expected a JSON object"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": []}", "added_tokens_decoder is not an object"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}", "the key is not a token id"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"-1\": {\"content\": \"a\"}}}", "the key is not a token id"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"0\": \"!\"}}", "expected {\"content\""},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"0\": {\"id\": 0}}}", "expected a token"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"2514\": {\"content\": \"\"}}}", "empty content"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"99999999999\": {\"content\": \"zz\"}}}", "outside 0.."},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"5\": {\"content\": \"!\"}}}",
         "added token \"!\" (id 5): the vocabulary gives this token another id"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"7\": {\"content\": \"<sks>\"}}}",
         "that id is another token's in the vocabulary"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"7\": {\"content\": \"<|endoftext|>\"}}}",
         "added token \"<|endoftext|>\" (id 7)"},
        {"tokenizer_config.json",
         "{\"added_tokens_decoder\": {\"2514\": {\"content\": \"<x>\"}, \"2515\": {\"content\": \"<x>\"}}}",
         "added token \"<x>\" has id 2515"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"0\": {\"content\": \"!\", \"normalized\": \"no\"}}}",
         "\"normalized\" is not true or false"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"2514\": {\"content\": \" sp\"}}}", "whitespace"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"2514\": {\"content\": \"\\u3000\"}}}", "whitespace"},
        {"tokenizer_config.json", "{\"pad_token\": 3}", "pad_token: expected a token"},
        {"tokenizer_config.json", "{\"extra_special_tokens\": \"<a>\"}", "extra_special_tokens is not a list"},
        {"special_tokens_map.json", "{\"pad_token\": ", "special_tokens_map.json: not valid JSON"},
        {"added_tokens.json", "{\"<x>\": 2514, \"<y>\": 2514}", "that id is another added token's"},
        {"added_tokens.json", "{\"<x>\": 1.5}", "the id of \"<x>\" is not an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32];
        snprintf(name, sizeof name, "hostile%zu", i);
        const char *sub = folder(dir, name, NULL);
        put_text(sub, cases[i].file, cases[i].text);
        nli_tokenizer *t = nli_tokenizer_for_folder(sub, 0);
        CHECK(!t && strstr(nli_geterr(), cases[i].file) && strstr(nli_geterr(), cases[i].why), "%s = %s: %s",
              cases[i].file, cases[i].text, t ? "loaded" : nli_geterr());
        nli_tokenizer_free(t);
    }
    /* a special token in neither the vocabulary nor given an id: transformers
     * (5.24) loads the folder and appends it (id 49408 after OpenAI's BPE,
     * past the model's embeddings). The folder loads; only a text holding
     * it fails (before: the folder was refused) */
    {
        const char *sub = folder(dir, "noid", NULL);
        put_text(sub, "tokenizer_config.json",
                 "{\"added_tokens_decoder\": {\"2514\": {\"content\": \"<x>\"}}, \"pad_token\": \"<z>\"}");
        nli_tokenizer *t = nli_tokenizer_for_folder(sub, 0);
        CHECK(t != NULL, "pad_token <z> without an id: %s", t ? "" : nli_geterr());
        int32_t *ids = NULL;
        size_t n = 0;
        const char *ok = "a <x> photo", *bad = "a photo of <z>!";
        int rc = t ? nli_tokenizer_encode(t, ok, strlen(ok), &ids, &n) : -1;
        CHECK(rc == 0 && n == 5 && ids[2] == 2514, "a text without <z>: rc %d, %zu ids", rc, n);
        free(ids);
        ids = NULL;
        rc = t ? nli_tokenizer_encode(t, bad, strlen(bad), &ids, &n) : 0;
        CHECK(rc != 0 && ids == NULL && strstr(nli_geterr(), "tokenizer_config.json: the text holds \"<z>\"") &&
                  nl_last_status() == NL_ERR_UNSUPPORTED,
              "a text with <z>: rc %d, %s", rc, nli_geterr());
        nli_tokenizer_free(t);
    }
    /* tokenizer.json's list, read by nli_tokenizer_load_json alone too */
    json_t *added = json_loads("[{\"id\": 0, \"content\": \"!\", \"normalized\": 1}]", 0, NULL);
    char path[1100];
    snprintf(path, sizeof path, "%s/tokenizer.json", folder(dir, "hostile-json", added));
    nli_tokenizer *t = nli_tokenizer_load_json(path);
    CHECK(!t && strstr(nli_geterr(), path) && strstr(nli_geterr(), "added_tokens[0]: \"normalized\" is not true"),
          "tokenizer.json normalized 1: %s", t ? "loaded" : nli_geterr());
    json_decref(added);
}

/* tokenizer_config.json as transformers (4 and 5) writes it for a
 * tokenizer with no length limit: model_max_length 1e30 as an integer past
 * 64 bits. Such a folder loads (before: "not valid JSON ... too big
 * integer"), with vocab.json + merges.txt and with tokenizer.json, and the
 * decoder's tokens are read; an id that size in added_tokens.json, which
 * is read as an integer, is still refused. */
static void test_big_numbers(const char *dir) {
    static const char cfg[] = "{\"added_tokens_decoder\": {\"2514\": {\"content\": \"<x>\"}}, "
                              "\"model_max_length\": 1000000000000000019884624838656, "
                              "\"tokenizer_class\": \"CLIPTokenizer\"}";
    json_t *none = json_array();
    const char *subs[2] = {"bignum-files", "bignum-json"};
    for (int k = 0; k < 2; k++) {
        const char *sub = folder(dir, subs[k], k ? none : NULL);
        put_text(sub, "tokenizer_config.json", cfg);
        put_text(sub, "special_tokens_map.json", "{\"pad_token\": \"<|endoftext|>\", "
                                                 "\"m\": 99999999999999999999999}");
        nli_tokenizer *t = nli_tokenizer_for_folder(sub, 0);
        CHECK(t != NULL, "%s: model_max_length 1e30: %s", subs[k], t ? "" : nli_geterr());
        int32_t *ids = NULL;
        size_t n = 0;
        const char *text = "a <x> photo";
        int rc = t ? nli_tokenizer_encode(t, text, strlen(text), &ids, &n) : -1;
        CHECK(rc == 0 && n == 5 && ids[2] == 2514, "%s: '%s': rc %d, %zu ids", subs[k], text, rc, n);
        free(ids);
        nli_tokenizer_free(t);
    }
    json_decref(none);
    const char *sub = folder(dir, "bignum-added", NULL);
    put_text(sub, "added_tokens.json", "{\"<x>\": 1000000000000000019884624838656}");
    nli_tokenizer *t = nli_tokenizer_for_folder(sub, 0);
    CHECK(!t && strstr(nli_geterr(), "added_tokens.json") && strstr(nli_geterr(), "too big integer"),
          "added_tokens.json with an id of 1e30: %s", t ? "loaded" : nli_geterr());
    nli_tokenizer_free(t);
}

int main(void) {
    const char *dir = check_tmpdir();
    json_error_t jerr;
    base = json_load_file(data("clip2000.tokenizer.json"), 0, &jerr);
    CHECK(base != NULL, "clip2000.tokenizer.json: %s", jerr.text);
    if (!base) return check_done();
    json_object_del(base, "added_tokens");
    test_golden(dir);
    test_text(dir);
    test_hostile(dir);
    test_big_numbers(dir);
    json_decref(base);
    check_rm_rf(dir);
    return check_done();
}
