/* test_tokenizer_sources.c — the tokenizer's three sources give the same
 * tables and ids: vocab.json + merges.txt (test_tokenizer checks them
 * against OpenAI's ids), tokenizer.json as transformers 5 saves it (golden
 * ids from transformers, tests/gen/gen_tokenizer_json.py) and the built-in
 * OpenAI CLIP BPE; hostile tokenizer.json files are refused by name; a
 * folder's tokenizer is picked in the documented order; OpenAI's and
 * open_clip's special-token strings (tests/gen/gen_openclip_specials.py). */
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

/* tests/data/tokenizer/NAME under $NEGLABEL_SRC (ctest sets it) or "." */
static const char *data(const char *name) { return check_src_data("tokenizer", name); }

static int err_has(const char *a, const char *b) {
    const char *e = nli_geterr();
    return strstr(e, a) && (!b || strstr(e, b));
}

/* Every token of vocab.json has its id in t. */
static void same_vocab(const nli_tokenizer *t, const char *vocab, const char *label) {
    json_error_t jerr;
    json_t *v = json_load_file(vocab, 0, &jerr);
    CHECK(v != NULL, "%s: %s", vocab, jerr.text);
    if (!v) return;
    size_t bad = 0;
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) bad += nli_tokenizer_token_id(t, key, strlen(key)) != json_integer_value(val);
    CHECK(bad == 0 && nli_tokenizer_vocab_size(t) == json_object_size(v), "%s: %zu of %zu ids differ, %zu tokens",
          label, bad, json_object_size(v), nli_tokenizer_vocab_size(t));
    json_decref(v);
}

static int encode_eq(const nli_tokenizer *t, const char *text, json_t *want) {
    int32_t *ids;
    size_t n;
    if (nli_tokenizer_encode(t, text, strlen(text), &ids, &n)) return 0;
    int ok = n == json_array_size(want);
    for (size_t i = 0; ok && i < n; i++) ok = ids[i] == json_integer_value(json_array_get(want, i));
    free(ids);
    return ok;
}

/* transformers' ids for the 2,000-merge tokenizer.json, both merge forms. */
static void test_transformers_golden(void) {
    json_error_t jerr;
    json_t *g = json_load_file(data("clip2000.golden.json"), 0, &jerr);
    CHECK(g != NULL, "golden: %s", jerr.text);
    if (!g) return;
    json_t *texts = json_object_get(g, "texts");
    CHECK(json_array_size(texts) >= 10, "golden texts: %zu", json_array_size(texts));
    uint64_t digest[2] = {0, 0};
    const char *files[2] = {data("clip2000.tokenizer.json"), data("clip2000-legacy.tokenizer.json")};
    for (int f = 0; f < 2; f++) {
        nli_tokenizer *t = nli_tokenizer_load_json(files[f]);
        CHECK(t != NULL, "%s: %s", files[f], nli_geterr());
        if (!t) continue;
        CHECK(!strcmp(nli_tokenizer_source(t), "tokenizer.json"), "source %s", nli_tokenizer_source(t));
        CHECK(nli_tokenizer_vocab_size(t) == 2514 && nli_tokenizer_sot(t) == 2512 && nli_tokenizer_eot(t) == 2513,
              "%s: %zu tokens, sot %d eot %d", files[f], nli_tokenizer_vocab_size(t), nli_tokenizer_sot(t),
              nli_tokenizer_eot(t));
        size_t bad = 0;
        for (size_t i = 0; i < json_array_size(texts); i++) {
            json_t *e = json_array_get(texts, i);
            const char *text = json_string_value(json_object_get(e, "text"));
            if (!encode_eq(t, text, json_object_get(e, "ids"))) {
                fprintf(stderr, "%s: ids differ from transformers' for \"%s\"\n", files[f], text);
                bad++;
            }
        }
        CHECK(bad == 0, "%s: %zu of %zu texts differ from transformers %s", files[f], bad, json_array_size(texts),
              json_string_value(json_object_get(g, "transformers")));
        digest[f] = nli_tokenizer_digest(t);
        nli_tokenizer_free(t);
    }
    CHECK(digest[0] == digest[1] && digest[0] != NLI_TOKENIZER_OPENAI_DIGEST,
          "the two merge forms: digests %016llx %016llx", (unsigned long long)digest[0], (unsigned long long)digest[1]);
    json_decref(g);
}

/* Write root to dir/name; the path is static. */
static const char *put_json(const char *dir, const char *name, json_t *root) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(json_dump_file(root, path, JSON_COMPACT) == 0, "write %s", path);
    return path;
}

static void put_text(const char *dir, const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

/* A full-size tokenizer.json from vocab.json + merges.txt (merges as
 * strings): the same tables as the two files and the built-in BPE. */
static void test_full_size(const char *dir, const char *vocab, const char *merges) {
    json_error_t jerr;
    json_t *v = json_load_file(vocab, 0, &jerr);
    char *m = NULL;
    size_t mlen = 0;
    CHECK(v && nli_read_file(merges, 1 << 26, &m, &mlen) == 0, "read the shared tokenizer files");
    if (!v || !m) { json_decref(v); free(m); return; }
    json_t *list = json_array();
    for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n"))
        if (line != m) json_array_append_new(list, json_string(line)); /* after "#version: 0.2" */
    json_t *root = json_pack("{s{ss ss so so}}", "model", "type", "BPE", "end_of_word_suffix", "</w>", "vocab", v,
                             "merges", list);
    const char *p = put_json(dir, "full.json", root);
    nli_tokenizer *t = nli_tokenizer_load_json(p);
    CHECK(t && nli_tokenizer_digest(t) == NLI_TOKENIZER_OPENAI_DIGEST, "full-size tokenizer.json: %s",
          t ? "another digest" : nli_geterr());
    nli_tokenizer_free(t);
    json_decref(root);
    free(m);
}

typedef struct { const char *path, *value, *why; } edit; /* value: JSON text, NULL = delete */

static void test_hostile(const char *dir) {
    json_error_t jerr;
    json_t *base = json_load_file(data("clip2000.tokenizer.json"), 0, &jerr);
    CHECK(base != NULL, "base: %s", jerr.text);
    if (!base) return;
    static const edit edits[] = {
        {"model", NULL, "no \"model\" object"},
        {"model", "[]", "no \"model\" object"},
        {"model.type", "\"WordPiece\"", "not \"BPE\""},
        {"model.type", NULL, "model.type is missing"},
        {"model.end_of_word_suffix", NULL, "end_of_word_suffix is not \"</w>\""},
        {"model.end_of_word_suffix", "\"\"", "end_of_word_suffix is not \"</w>\""},
        {"model.continuing_subword_prefix", "\"##\"", "continuing_subword_prefix"},
        {"model.byte_fallback", "true", "byte_fallback"},
        {"model.dropout", "0.1", "dropout"},
        {"model.ignore_merges", "true", "ignore_merges"},
        {"model.vocab", "[]", "non-empty JSON object"},
        {"model.vocab", "{}", "non-empty JSON object"},
        {"model.vocab", "{\"a\": \"x\"}", "not an integer"},
        {"model.vocab", "{\"a\": -3}", "outside"},
        {"model.vocab", "{\"a\": 1}", "byte symbol"},
        {"model.merges", "{}", "model.merges is not a list"},
        {"model.merges", "[]", "no merges found"},
        {"model.merges", "[[\"i\", \"n\"], 7]", "model.merges[1]: expected"},
        {"model.merges", "[\"i n x\"]", "model.merges[0]: expected"},
        {"model.merges", "[\"in\"]", "model.merges[0]: expected"},
        {"model.merges", "[\" n\"]", "model.merges[0]: expected"},
        {"model.merges", "[[\"i\"]]", "model.merges[0]: expected"},
        {"model.merges", "[[\"\", \"n\"]]", "model.merges[0]: expected"},
        {"model.merges", "[[\"i\", 2]]", "model.merges[0]: expected"},
        {"model.merges", "[[\"i\", \"n\"], [\"zq\", \"qz\"]]", "model.merges[1]: a symbol or the merged result"},
        /* added tokens are matched as transformers matches them
         * (test_tokenizer_added); ids it would not keep are refused */
        {"added_tokens", "[{\"id\": 7, \"content\": \"<sks>\"}]", "added token \"<sks>\" (id 7)"},
        {"added_tokens", "[{\"id\": 7, \"content\": \"<|endoftext|>\"}]", "added token \"<|endoftext|>\" (id 7)"},
        {"added_tokens", "[{\"id\": 2512}]", "added_tokens[0]: expected"},
        {"added_tokens", "{}", "added_tokens is not a list"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        json_t *root = json_deep_copy(base), *obj = root;
        const char *key = edits[i].path, *dot = strchr(key, '.');
        char head[64];
        if (dot) {
            snprintf(head, sizeof head, "%.*s", (int)(dot - key), key);
            obj = json_object_get(root, head);
            key = dot + 1;
        }
        if (edits[i].value)
            json_object_set_new(obj, key, json_loads(edits[i].value, JSON_DECODE_ANY, NULL));
        else
            json_object_del(obj, key);
        const char *p = put_json(dir, "bad.json", root);
        nli_tokenizer *t = nli_tokenizer_load_json(p);
        CHECK(!t && err_has(p, edits[i].why), "%s = %s: %s", edits[i].path, edits[i].value ? edits[i].value : "(none)",
              nli_geterr());
        nli_tokenizer_free(t);
        json_decref(root);
    }
    static const char *const raw[][2] = {
        {"{\"model\": ", "not valid JSON"},
        {"{\"model\": {\"type\": \"BPE\", \"type\": \"BPE\"}}", "not valid JSON"},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        put_text(dir, "raw.json", raw[i][0]);
        char p[1024];
        snprintf(p, sizeof p, "%s/raw.json", dir);
        nli_tokenizer *t = nli_tokenizer_load_json(p);
        CHECK(!t && err_has(p, raw[i][1]), "raw \"%s\": %s", raw[i][0], nli_geterr());
    }
    nli_tokenizer *t = nli_tokenizer_load_json("/nonexistent/tokenizer.json");
    CHECK(!t && err_has("/nonexistent/tokenizer.json", NULL), "missing file: %s", nli_geterr());
    json_decref(base);
}

/* Which source a folder uses: the two files, else tokenizer.json, else (for
 * OpenCLIP folders) the built-in BPE. */
static void test_folder(const char *dir, const char *vocab, const char *merges) {
    char sub[1024], cmd[3200];
    snprintf(sub, sizeof sub, "%s/folder", dir);
    CHECK(mkdir(sub, 0755) == 0, "mkdir %s", sub);
    nli_tokenizer *t = nli_tokenizer_for_folder(sub, 0);
    CHECK(!t && err_has(sub, "no tokenizer files") && nl_last_status() == NL_ERR_IO, "empty HF folder: %s",
          nli_geterr());
    t = nli_tokenizer_for_folder(sub, 1);
    CHECK(t && !strcmp(nli_tokenizer_source(t), "built-in OpenAI CLIP BPE"), "empty OpenCLIP folder: %s",
          t ? nli_tokenizer_source(t) : nli_geterr());
    nli_tokenizer_free(t);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/tokenizer.json'", data("clip2000.tokenizer.json"), sub);
    CHECK(system(cmd) == 0, "%s", cmd);
    for (int oc = 0; oc < 2; oc++) {
        t = nli_tokenizer_for_folder(sub, oc);
        CHECK(t && !strcmp(nli_tokenizer_source(t), "tokenizer.json") && nli_tokenizer_vocab_size(t) == 2514,
              "folder with tokenizer.json (openclip %d): %s", oc, t ? nli_tokenizer_source(t) : nli_geterr());
        nli_tokenizer_free(t);
    }
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/vocab.json'", vocab, sub);
    CHECK(system(cmd) == 0, "%s", cmd);
    t = nli_tokenizer_for_folder(sub, 1);
    CHECK(!t && err_has(sub, "has vocab.json but not merges.txt"), "vocab.json alone: %s", nli_geterr());
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/merges.txt'", merges, sub);
    CHECK(system(cmd) == 0, "%s", cmd);
    t = nli_tokenizer_for_folder(sub, 0);
    CHECK(t && !strcmp(nli_tokenizer_source(t), "vocab.json + merges.txt") && nli_tokenizer_vocab_size(t) == 49408,
          "all three files: %s", t ? nli_tokenizer_source(t) : nli_geterr());
    nli_tokenizer_free(t);
    /* transformers 4's added_tokens.json: CLIP's specials change nothing; a
     * new word is matched whole, normalized, as transformers does (5.24
     * gives [49406, 320, 49408, 256, 49407] for "a <SKS>!" in this folder),
     * and changes the digest */
    put_text(sub, "added_tokens.json", "{\"<|startoftext|>\": 49406, \"<|endoftext|>\": 49407}");
    t = nli_tokenizer_for_folder(sub, 0);
    CHECK(t != NULL, "added_tokens.json with the specials: %s", nli_geterr());
    CHECK(t && nli_tokenizer_digest(t) == NLI_TOKENIZER_OPENAI_DIGEST, "specials only: another digest");
    nli_tokenizer_free(t);
    put_text(sub, "added_tokens.json", "{\"<|endoftext|>\": 49407, \"<sks>\": 49408}");
    t = nli_tokenizer_for_folder(sub, 0);
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(t && nli_tokenizer_digest(t) != NLI_TOKENIZER_OPENAI_DIGEST &&
              nli_tokenizer_encode(t, "a <SKS>!", 8, &ids, &n) == 0 && n == 5 && ids[1] == 320 && ids[2] == 49408 &&
              ids[3] == 256,
          "added_tokens.json with a new word: %s", t ? "other ids or digest" : nli_geterr());
    free(ids);
    nli_tokenizer_free(t);
    put_text(sub, "added_tokens.json", "{\"<|endoftext|>\": 49407, \"<sks>\": 7}");
    t = nli_tokenizer_for_folder(sub, 0);
    CHECK(!t && err_has("added_tokens.json: added token \"<sks>\" (id 7)", NULL) &&
              nl_last_status() == NL_ERR_UNSUPPORTED,
          "added_tokens.json with a vocabulary id: %s", nli_geterr());
    put_text(sub, "added_tokens.json", "[1]");
    t = nli_tokenizer_for_folder(sub, 0);
    CHECK(!t && err_has("added_tokens.json: expected a JSON object", NULL), "added_tokens.json a list: %s",
          nli_geterr());
}

/* OpenAI's simple_tokenizer.py maps "<|startoftext|>" / "<|endoftext|>" in a
 * text to SOT / EOT, open_clip's SimpleTokenizer "<start_of_text>" /
 * "<end_of_text>" (and splits OpenAI's as text): each mode against the
 * real tokenizer's ids, from every source. */
static void test_specials(const char *dir, const char *vocab, const char *merges) {
    json_error_t jerr;
    json_t *g = json_load_file(data("specials.golden.json"), 0, &jerr);
    json_t *texts = json_object_get(g, "texts");
    CHECK(json_array_size(texts) >= 10, "specials.golden.json: %s", g ? "no texts" : jerr.text);
    /* an OpenCLIP folder with the two files, and one with none (the
     * built-in BPE) */
    char files[1024], empty[1024], cmd[3200];
    snprintf(files, sizeof files, "%s/specials-files", dir);
    snprintf(empty, sizeof empty, "%s/specials-none", dir);
    CHECK(mkdir(files, 0755) == 0 && mkdir(empty, 0755) == 0, "mkdir %s", files);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/vocab.json' && cp '%s' '%s/merges.txt'", vocab, files, merges, files);
    CHECK(system(cmd) == 0, "%s", cmd);
    for (int src = 0; src < 2; src++)
        for (int oc = 0; oc < 2; oc++) {
            nli_tokenizer *t = oc ? nli_tokenizer_for_folder(src ? empty : files, 1)
                                  : (src ? nli_tokenizer_builtin() : nli_tokenizer_load(vocab, merges));
            CHECK(t && !strcmp(nli_tokenizer_source(t), src ? "built-in OpenAI CLIP BPE" : "vocab.json + merges.txt"),
                  "load: %s", t ? nli_tokenizer_source(t) : nli_geterr());
            if (!t) continue;
            size_t bad = 0;
            for (size_t i = 0; i < json_array_size(texts); i++) {
                json_t *e = json_array_get(texts, i);
                const char *text = json_string_value(json_object_get(e, "text"));
                if (!encode_eq(t, text, json_object_get(e, oc ? "openclip" : "openai"))) {
                    bad++;
                    fprintf(stderr, "  %s, %s specials: '%s'\n", src ? "built-in" : "files", oc ? "open_clip" : "OpenAI",
                            text);
                }
            }
            CHECK(bad == 0, "%s, %s specials: %zu texts differ", src ? "built-in" : "files",
                  oc ? "open_clip's" : "OpenAI's", bad);
            nli_tokenizer_free(t);
        }
    json_decref(g);
}

int main(void) {
    const char *shared = check_shared();
    char *vocab = check_path(shared, "clip-tokenizer/vocab.json");
    char *merges = check_path(shared, "clip-tokenizer/merges.txt");
    const char *dir = check_tmpdir();

    nli_tokenizer *files = nli_tokenizer_load(vocab, merges), *builtin = nli_tokenizer_builtin();
    CHECK(files && builtin, "load: %s", nli_geterr());
    if (!files || !builtin) return check_done();
    CHECK(!strcmp(nli_tokenizer_source(builtin), "built-in OpenAI CLIP BPE"), "source %s",
          nli_tokenizer_source(builtin));
    CHECK(nli_tokenizer_sot(builtin) == NL_TOKEN_SOT && nli_tokenizer_eot(builtin) == NL_TOKEN_EOT,
          "built-in special ids %d %d", nli_tokenizer_sot(builtin), nli_tokenizer_eot(builtin));
    same_vocab(builtin, vocab, "built-in vs vocab.json");
    printf("digests: files %016llx, built-in %016llx\n", (unsigned long long)nli_tokenizer_digest(files),
           (unsigned long long)nli_tokenizer_digest(builtin));
    CHECK(nli_tokenizer_digest(files) == NLI_TOKENIZER_OPENAI_DIGEST &&
              nli_tokenizer_digest(builtin) == NLI_TOKENIZER_OPENAI_DIGEST,
          "OpenAI's BPE must have digest %016llx", (unsigned long long)NLI_TOKENIZER_OPENAI_DIGEST);
    nli_tokenizer_free(files);
    nli_tokenizer_free(builtin);

    test_transformers_golden();
    test_specials(dir, vocab, merges);
    test_full_size(dir, vocab, merges);
    test_hostile(dir);
    test_folder(dir, vocab, merges);
    check_rm_rf(dir);
    free(vocab), free(merges);
    return check_done();
}
