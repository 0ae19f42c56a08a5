/* test_wordpiece.c — the BERT WordPiece tokenizer (src/clip/wordpiece*.c)
 * against transformers 5 and Hugging Face tokenizers.
 *
 * Golden: tests/data/wordpiece (tests/gen/gen_wordpiece.py, transformers
 * 5.25, tokenizers 0.23.3): an uncased and a cased WordPiece of ~2,000
 * pieces in ALIGN's files, and the ids of 305 texts (prompts, punctuation
 * runs, accents, U+0130, CJK, Devanagari, emoji, controls, NUL, U+FFFD,
 * non-ASCII spaces, words over 100 characters, words needing [UNK],
 * special tokens in the text, characters newer than tokenizers' tables,
 * random mixes) for every folder form (as transformers 5's AutoTokenizer
 * loads it) and every tokenizer.json variant (as tokenizers runs it).
 * Every id must be equal. Then every code point through each normalizer
 * and BertPreTokenizer, what is refused, and hostile sizes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "neglabel.h"
#include "util.h"
#include "wordpiece.h"

static json_t *golden;
static const char *tmp;
static int folder_no;

static void put_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len, "writing %s", path);
    if (f) fclose(f);
}

static char *get_file(const char *path, size_t *len) {
    char *data = NULL;
    CHECK(nli_read_file(path, (size_t)64 << 20, &data, len) == 0, "reading %s: %s", path, nl_last_error());
    return data;
}

static char *path2(const char *dir, const char *name) {
    static char p[4][1200];
    static int k;
    char *s = p[k++ & 3];
    snprintf(s, sizeof p[0], "%s/%s", dir, name);
    return s;
}

static json_t *load_json(const char *path) {
    json_error_t e;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &e);
    CHECK(j != NULL, "%s: %s", path, e.text);
    return j;
}

/* tokenizer.json edits as the generator makes them ("model.x": in the model) */
static void edit_json(json_t *doc, json_t *edits) {
    const char *k;
    json_t *v;
    json_object_foreach(edits, k, v) {
        if (!strcmp(k, "from")) continue;
        if (!strncmp(k, "model.", 6)) json_object_set(json_object_get(doc, "model"), k + 6, v);
        else json_object_set(doc, k, v);
    }
}

/* vocab.txt rewritten as gen_wordpiece.py's "vocab" edit */
static void edit_vocab(const char *path, json_t *v) {
    size_t len;
    char *data = get_file(path, &len);
    if (!data) return;
    nli_buf o = {0};
    const char *trail = json_string_value(json_object_get(v, "trail")), *app = json_string_value(json_object_get(v, "append"));
    size_t blank = (size_t)json_integer_value(json_object_get(v, "blank_at")), line = 0;
    for (size_t pos = 0; pos < len; line++) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = (size_t)(nl - data - pos);
        if (line == blank) nli_buf_puts(&o, "\r\n");
        nli_buf_append(&o, data + pos, n);
        if (n == strlen(trail) && !memcmp(data + pos, trail, n)) nli_buf_puts(&o, " \t\xe3\x80\x80");
        nli_buf_puts(&o, "\r\n");
        pos += n + 1;
    }
    nli_buf_puts(&o, app);
    nli_buf_puts(&o, "\r\n");
    put_file(path, o.s, o.len);
    nli_buf_free(&o);
    free(data);
}

/* The folder golden's "folders" entry describes, written under tmp. */
static const char *write_folder(json_t *spec) {
    static char dir[1100];
    snprintf(dir, sizeof dir, "%s/f%d", tmp, folder_no++);
    CHECK(nli_mkdir_p(dir) == 0, "mkdir %s", dir);
    char src[1100];
    snprintf(src, sizeof src, "%s", check_src_data("wordpiece", json_string_value(json_object_get(spec, "from"))));
    json_t *files = json_object_get(spec, "files"), *f;
    size_t i;
    json_array_foreach(files, i, f) {
        size_t len;
        char *data = get_file(path2(src, json_string_value(f)), &len);
        if (data) put_file(path2(dir, json_string_value(f)), data, len);
        free(data);
    }
    json_t *cfg_edits = json_object_get(spec, "config"), *json_edits = json_object_get(spec, "json"),
           *added = json_object_get(spec, "added"), *writes = json_object_get(spec, "write"), *v;
    const char *k;
    if (cfg_edits) {
        json_t *cfg = load_json(path2(dir, "tokenizer_config.json"));
        json_object_foreach(cfg_edits, k, v) json_is_null(v) ? json_object_del(cfg, k) : json_object_set(cfg, k, v);
        json_dump_file(cfg, path2(dir, "tokenizer_config.json"), 0);
        json_decref(cfg);
    }
    if (json_edits || added) {
        json_t *doc = load_json(path2(dir, "tokenizer.json"));
        if (json_edits) edit_json(doc, json_edits);
        if (added) json_array_extend(json_object_get(doc, "added_tokens"), added);
        json_dump_file(doc, path2(dir, "tokenizer.json"), 0);
        json_decref(doc);
    }
    if (json_object_get(spec, "vocab")) edit_vocab(path2(dir, "vocab.txt"), json_object_get(spec, "vocab"));
    json_object_foreach(writes, k, v) json_dump_file(v, path2(dir, k), 0);
    return dir;
}

/* Every text's ids against the golden's; the number equal. */
static size_t compare(const nli_wordpiece *w, const char *name) {
    json_t *texts = json_object_get(golden, "texts"), *want = json_object_get(json_object_get(golden, "ids"), name);
    size_t same = 0, shown = 0;
    for (size_t i = 0; i < json_array_size(texts); i++) {
        json_t *t = json_array_get(texts, i), *g = json_array_get(want, i);
        int32_t *ids = NULL;
        size_t n = 0;
        int rc = nli_wordpiece_encode(w, json_string_value(t), json_string_length(t), &ids, &n);
        int eq = rc == 0 && n == json_array_size(g);
        for (size_t k = 0; eq && k < n; k++) eq = ids[k] == json_integer_value(json_array_get(g, k));
        if (eq) same++;
        else if (shown++ < 4) {
            char *gs = json_dumps(g, JSON_COMPACT);
            fprintf(stderr, "%s: text %zu \"%.60s\": want %.300s, got", name, i, json_string_value(t), gs);
            for (size_t k = 0; k < n && k < 60; k++) fprintf(stderr, " %d", ids[k]);
            fprintf(stderr, " (rc %d%s%s)\n", rc, rc ? ": " : "", rc ? nl_last_error() : "");
            free(gs);
        }
        free(ids);
    }
    CHECK(same == json_array_size(texts), "%s: %zu of %zu texts give transformers' / tokenizers' ids", name, same,
          json_array_size(texts));
    return same;
}

static size_t total_same, total_texts;

static void test_folders(void) {
    const char *name;
    json_t *spec;
    json_object_foreach(json_object_get(golden, "folders"), name, spec) {
        const char *dir = write_folder(spec);
        nli_wordpiece *w = nli_wordpiece_load_dir(dir);
        CHECK(w != NULL, "folder %s: %s", name, nl_last_error());
        if (!w) continue;
        total_same += compare(w, name);
        total_texts += json_array_size(json_object_get(golden, "texts"));
        printf("folder %-22s %s, vocabulary %zu\n", name, nli_wordpiece_source(w), nli_wordpiece_vocab_size(w));
        nli_wordpiece_free(w);
    }
}

/* base tokenizer.json (uncased or cased) with edits, written: its path. */
static const char *write_json(const char *from, json_t *edits, const char *name) {
    static char path[1100];
    json_t *doc = load_json(check_src_data("wordpiece", from[0] == 'c' ? "cased/tokenizer.json" : "uncased/tokenizer.json"));
    if (edits) edit_json(doc, edits);
    snprintf(path, sizeof path, "%s/%s.json", tmp, name);
    CHECK(json_dump_file(doc, path, 0) == 0, "writing %s", path);
    json_decref(doc);
    return path;
}

static void test_files(void) {
    const char *name;
    json_t *edits;
    json_object_foreach(json_object_get(golden, "files"), name, edits) {
        json_t *from = json_object_get(edits, "from");
        nli_wordpiece *w = nli_wordpiece_load_json(write_json(from ? json_string_value(from) : "uncased", edits, name));
        CHECK(w != NULL, "file %s: %s", name, nl_last_error());
        if (!w) continue;
        total_same += compare(w, name);
        total_texts += json_array_size(json_object_get(golden, "texts"));
        nli_wordpiece_free(w);
    }
}

/* ------------------------------------------------------------ every code point */

static uint64_t fnv(const char *s, size_t n) { return nli_fnv1a(s, n, NL_FNV_INIT); }

/* Code points [first, ...) skipping surrogates, `count` of them, as UTF-8. */
static char *chunk_text(uint32_t *next_cp, size_t count, size_t *len) {
    char *s = malloc(count * 4 + 1);
    size_t n = 0;
    for (size_t k = 0; k < count && *next_cp < 0x110000; (*next_cp)++) {
        uint32_t c = *next_cp;
        if (c >= 0xD800 && c < 0xE000) continue;
        if (c < 0x80) s[n++] = (char)c;
        else if (c < 0x800) s[n++] = (char)(0xC0 | c >> 6), s[n++] = (char)(0x80 | (c & 63));
        else if (c < 0x10000) s[n++] = (char)(0xE0 | c >> 12), s[n++] = (char)(0x80 | (c >> 6 & 63)), s[n++] = (char)(0x80 | (c & 63));
        else s[n++] = (char)(0xF0 | c >> 18), s[n++] = (char)(0x80 | (c >> 12 & 63)), s[n++] = (char)(0x80 | (c >> 6 & 63)),
             s[n++] = (char)(0x80 | (c & 63));
        k++;
    }
    *len = n;
    return s;
}

static void test_normalizers(json_t *uni) {
    size_t chunk = (size_t)json_integer_value(json_object_get(uni, "chunk"));
    const char *name;
    json_t *spec;
    json_object_foreach(json_object_get(uni, "normalizers"), name, spec) {
        json_t *edit = json_pack("{s:O}", "normalizer", spec);
        nli_wordpiece *w = nli_wordpiece_load_json(write_json("uncased", edit, "normalizer"));
        json_decref(edit);
        CHECK(w != NULL, "normalizer %s: %s", name, nl_last_error());
        if (!w) continue;
        json_t *hashes = json_object_get(json_object_get(uni, "hashes"), name);
        uint32_t cp = 0;
        size_t same = 0;
        for (size_t i = 0; i < json_array_size(hashes); i++) {
            size_t len, olen = 0;
            char *s = chunk_text(&cp, chunk, &len), *out = NULL, hex[17];
            int rc = nli_wordpiece_normalize(w, s, len, &out, &olen);
            snprintf(hex, sizeof hex, "%016llx", rc ? 0ULL : (unsigned long long)fnv(out, olen));
            if (!strcmp(hex, json_string_value(json_array_get(hashes, i)))) same++;
            else fprintf(stderr, "normalizer %s: code points of chunk %zu (from U+%04zX) differ\n", name, i, i * chunk);
            free(s);
            free(out);
        }
        CHECK(same == json_array_size(hashes) && cp == 0x110000, "normalizer %s: %zu of %zu chunks of code points as "
              "tokenizers", name, same, json_array_size(hashes));
        nli_wordpiece_free(w);
    }
}

static int in(json_t *ranges, uint32_t c) {
    for (size_t i = 0; i < json_array_size(ranges); i++) {
        json_t *r = json_array_get(ranges, i);
        if (c >= json_integer_value(json_array_get(r, 0)) && c <= json_integer_value(json_array_get(r, 1))) return 1;
    }
    return 0;
}

/* "a" c "b" for every code point c, through BertPreTokenizer over the
 * pieces [UNK] a b: whitespace gives a b, punctuation a [UNK] b, any other
 * character one [UNK] (the word acb). One text of 7.5 MB. */
static void test_pretokenizer(json_t *uni) {
    json_t *doc = json_pack("{s:s,s:n,s:{s:s},s:n,s:n,s:n,s:[],s:{s:s,s:s,s:s,s:i,s:{s:i,s:i,s:i}}}", "version", "1.0",
                            "normalizer", "pre_tokenizer", "type", "BertPreTokenizer", "post_processor", "truncation",
                            "padding", "added_tokens", "model", "type", "WordPiece", "unk_token", "[UNK]",
                            "continuing_subword_prefix", "##", "max_input_chars_per_word", 100, "vocab", "[UNK]", 0, "a", 1,
                            "b", 2);
    char path[1100];
    snprintf(path, sizeof path, "%s/pretok.json", tmp);
    json_dump_file(doc, path, 0);
    json_decref(doc);
    nli_wordpiece *w = nli_wordpiece_load_json(path);
    CHECK(w != NULL, "pre-tokenizer probe: %s", nl_last_error());
    if (!w) return;
    json_t *punct = json_object_get(uni, "punct"), *ws = json_object_get(uni, "whitespace");
    nli_buf text = {0};
    int32_t *want = malloc(3 * 0x110000 * sizeof *want);
    size_t nw = 0;
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c < 0xE000) continue;
        uint32_t cp = c;
        size_t len;
        char *s = chunk_text(&cp, 1, &len);
        nli_buf_puts(&text, " a");
        nli_buf_append(&text, s, len);
        nli_buf_puts(&text, "b");
        free(s);
        if (in(ws, c)) want[nw++] = 1, want[nw++] = 2;
        else if (in(punct, c)) want[nw++] = 1, want[nw++] = 0, want[nw++] = 2;
        else want[nw++] = 0;
    }
    int32_t *ids = NULL;
    size_t n = 0, same = 0;
    int rc = nli_wordpiece_encode(w, text.s, text.len, &ids, &n);
    for (size_t i = 0; rc == 0 && i < n && i < nw; i++) same += ids[i] == want[i];
    CHECK(rc == 0 && n == nw && same == nw, "every code point through BertPreTokenizer as tokenizers: rc %d, %zu ids "
          "(want %zu), %zu equal", rc, n, nw, same);
    free(ids);
    free(want);
    nli_buf_free(&text);
    nli_wordpiece_free(w);
}

/* ------------------------------------------------------------ refusals */

static void refused_json(const char *what, const char *json_text, int status, const char *want) {
    char path[1100];
    snprintf(path, sizeof path, "%s/refused.json", tmp);
    put_file(path, json_text, strlen(json_text));
    nli_wordpiece *w = nli_wordpiece_load_json(path);
    CHECK(w == NULL && (int)nl_last_status() == status && strstr(nl_last_error(), want) && strstr(nl_last_error(), path),
          "%s: refused with %d \"%s\" naming the file (got %d: %s)", what, status, want, (int)nl_last_status(),
          w ? "(loaded)" : nl_last_error());
    nli_wordpiece_free(w);
}

/* The uncased tokenizer.json with one edit, through load_json. */
static void refused_edit(const char *what, const char *edit, int status, const char *want) {
    json_error_t e;
    json_t *ed = json_loads(edit, 0, &e), *doc = load_json(check_src_data("wordpiece", "uncased/tokenizer.json"));
    CHECK(ed != NULL, "edit %s: %s", edit, e.text);
    edit_json(doc, ed);
    char *s = json_dumps(doc, JSON_COMPACT);
    refused_json(what, s, status, want);
    free(s);
    json_decref(ed);
    json_decref(doc);
}

/* A folder of the uncased files (those named) with tokenizer_config.json
 * replaced by cfg (NULL: kept) and vocab.txt's lines `drop` removed. */
static nli_wordpiece *folder_with(const char *files, const char *cfg, const char *drop) {
    char spec[400];
    snprintf(spec, sizeof spec, "{\"from\": \"uncased\", \"files\": [%s]}", files);
    json_t *sp = json_loads(spec, 0, NULL);
    const char *dir = write_folder(sp);
    json_decref(sp);
    if (cfg) put_file(path2(dir, "tokenizer_config.json"), cfg, strlen(cfg));
    if (drop) {
        size_t len;
        char *data = get_file(path2(dir, "vocab.txt"), &len), *p = data ? strstr(data, drop) : NULL;
        if (p) memmove(p, p + strlen(drop), len - (size_t)(p - data) - strlen(drop) + 1);
        if (data) put_file(path2(dir, "vocab.txt"), data, strlen(data));
        free(data);
    }
    return nli_wordpiece_load_dir(dir);
}

static void refused_folder(const char *what, const char *files, const char *cfg, const char *drop, int status,
                           const char *want) {
    nli_wordpiece *w = folder_with(files, cfg, drop);
    CHECK(w == NULL && (int)nl_last_status() == status && strstr(nl_last_error(), want), "%s: refused with %d \"%s\" "
          "(got %d: %s)", what, status, want, (int)nl_last_status(), w ? "(loaded)" : nl_last_error());
    nli_wordpiece_free(w);
}

static void test_refusals(void) {
    const int U = NL_ERR_UNSUPPORTED, I = NL_ERR_INVALID;
    size_t len;
    char *unigram = get_file(check_src_data("unigram", "tokenizer.json"), &len);
    if (unigram) {
        refused_json("a Unigram tokenizer.json", unigram, U, "not a WordPiece");
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/unigram-folder", tmp);
        nli_mkdir_p(dir);
        put_file(path2(dir, "tokenizer.json"), unigram, len);
        nli_wordpiece *w = nli_wordpiece_load_dir(dir);
        CHECK(!w && nl_last_status() == NL_ERR_UNSUPPORTED && strstr(nl_last_error(), "tokenizer.json"),
              "a folder with a Unigram tokenizer.json: %s", w ? "(loaded)" : nl_last_error());
        nli_wordpiece_free(w);
    }
    free(unigram);
    refused_json("malformed JSON", "{\"model\": {\"type\": \"WordPiece\", ", I, "not valid JSON");
    refused_edit("NFKC", "{\"normalizer\": {\"type\": \"NFKC\"}}", U, "normalizer 'NFKC'");
    refused_edit("a BertNormalizer without lowercase", "{\"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": "
                 "true, \"handle_chinese_chars\": true, \"strip_accents\": null}}", I, "no lowercase");
    refused_edit("Whitespace pre-tokenizer", "{\"pre_tokenizer\": {\"type\": \"Whitespace\"}}", U, "'Whitespace'");
    refused_edit("ByteLevel post-processor", "{\"post_processor\": {\"type\": \"ByteLevel\"}}", U, "'ByteLevel'");
    refused_edit("truncation", "{\"truncation\": {\"max_length\": 5}}", U, "truncation");
    refused_edit("unk_token not in the vocabulary", "{\"model.unk_token\": \"[NOPE]\"}", I, "[NOPE]");
    refused_edit("no continuing_subword_prefix", "{\"model.continuing_subword_prefix\": null}", I, "continuing_subword_prefix");
    refused_edit("a vocabulary id that is not a number", "{\"model.vocab\": {\"[UNK]\": 0, \"a\": \"one\"}}", I,
                 "model.vocab[\"a\"]");
    refused_edit("single_word", "{\"added_tokens\": [{\"id\": 5000, \"content\": \"<x>\", \"single_word\": true, "
                 "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}]}", U, "single_word");
    refused_edit("an added token with a piece's id", "{\"added_tokens\": [{\"id\": 7, \"content\": \"<x>\", "
                 "\"normalized\": false, \"special\": true}]}", U, "another token's");
    /* new tokens past the vocabulary, a larger id first */
    json_t *ed = json_loads("{\"added_tokens\": [{\"id\": 90000, \"content\": \"<a>\", \"normalized\": false}, {\"id\": 4000, "
                            "\"content\": \"<b>\", \"normalized\": true}]}", 0, NULL);
    nli_wordpiece *w = nli_wordpiece_load_json(write_json("uncased", ed, "new-ids"));
    json_decref(ed);
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(w && nli_wordpiece_vocab_size(w) == 90001 && nli_wordpiece_encode(w, "<b><a>", 6, &ids, &n) == 0 && n == 4 &&
          ids[1] == 4000 && ids[2] == 90000, "added tokens 90000 and 4000: %s", w ? "" : nl_last_error());
    free(ids);
    nli_wordpiece_free(w);
    const char *ALL = "\"tokenizer.json\", \"vocab.txt\", \"tokenizer_config.json\"", *TXT = "\"vocab.txt\"";
    refused_folder("no [CLS] in vocab.txt", TXT, NULL, "[CLS]\n", I, "cls_token \"[CLS]\" is not in the vocabulary");
    refused_folder("no [SEP] in vocab.txt", TXT, NULL, "[SEP]\n", I, "sep_token \"[SEP]\"");
    refused_folder("no [UNK] in vocab.txt", TXT, NULL, "[UNK]\n", I, "unk_token \"[UNK]\"");
    refused_folder("do_lower_case not a boolean", ALL, "{\"do_lower_case\": \"yes\"}", NULL, I,
                   "tokenizer_config.json: do_lower_case is not a boolean");
    refused_folder("another tokenizer class", ALL, "{\"tokenizer_class\": \"XLMRobertaTokenizer\"}", NULL, U,
                   "XLMRobertaTokenizer");
    refused_folder("a null cls_token", TXT, "{\"cls_token\": null}", NULL, I, "cls_token is not a token");
    refused_folder("a malformed config", ALL, "{\"do_lower_case\": tru", NULL, I, "tokenizer_config.json: not valid JSON");
    refused_folder("neither file", "\"tokenizer_config.json\"", NULL, NULL, NL_ERR_IO, "neither tokenizer.json nor vocab.txt");
    /* vocab.txt not UTF-8: named with its line */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/badutf8", tmp);
    nli_mkdir_p(dir);
    static const char bad[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\xff\n";
    put_file(path2(dir, "vocab.txt"), bad, sizeof bad - 1);
    w = nli_wordpiece_load_dir(dir);
    CHECK(!w && strstr(nl_last_error(), "vocab.txt: line 5: not valid UTF-8"), "vocab.txt not UTF-8: %s",
          w ? "(loaded)" : nl_last_error());
    nli_wordpiece_free(w);
    nli_buf longp = {0};
    nli_buf_puts(&longp, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int k = 0; k < 1100; k++) nli_buf_puts(&longp, "x");
    nli_buf_puts(&longp, "\n");
    put_file(path2(dir, "vocab.txt"), longp.s, longp.len);
    nli_buf_free(&longp);
    w = nli_wordpiece_load_dir(dir);
    CHECK(!w && nl_last_status() == NL_ERR_INVALID && strstr(nl_last_error(), "vocab.txt: line 6: a piece of more than"),
          "a piece of 1,100 bytes: %s", w ? "(loaded)" : nl_last_error());
    nli_wordpiece_free(w);
    refused_json("no model", "{\"normalizer\": null}", I, "no \"model\" object");
    /* a special token the vocabulary lacks, with no id: the folder loads, a text holding it fails */
    w = folder_with(TXT, "{\"mask_token\": \"<mask>\"}", NULL);
    CHECK(w != NULL, "mask_token outside the vocabulary: %s", nl_last_error());
    if (w) {
        ids = NULL;
        CHECK(nli_wordpiece_encode(w, "a dog", 5, &ids, &n) == 0 && n == 4, "a text without it encodes");
        free(ids);
        CHECK(nli_wordpiece_encode(w, "a <mask> dog", 12, &ids, &n) == -1 && nl_last_status() == NL_ERR_UNSUPPORTED &&
              strstr(nl_last_error(), "<mask>"), "a text holding it fails naming it: %s", nl_last_error());
        nli_wordpiece_free(w);
    }
}

/* ------------------------------------------------------------ hostile sizes */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_hostile(void) {
    nli_wordpiece *w = folder_with("\"tokenizer.json\", \"tokenizer_config.json\"", NULL, NULL);
    CHECK(w != NULL, "uncased: %s", nl_last_error());
    if (!w) return;
    int32_t *ids = NULL, *one = NULL;
    size_t n = 0, n1 = 0;
    CHECK(nli_wordpiece_encode(w, "ab\xff", 3, &ids, &n) == -1 && strstr(nl_last_error(), "byte 2"), "invalid UTF-8: %s",
          nl_last_error());
    CHECK(nli_wordpiece_last_suffix(w) == 3 && !strcmp(nli_wordpiece_source(w), "tokenizer.json (WordPiece)"),
          "[SEP] (3) kept last, the source named");
    /* a word of 16 MiB: one [UNK], counted only to 101 characters */
    size_t big = (size_t)16 << 20;
    char *text = malloc(big + 64);
    memset(text, 'a', big);
    double t0 = now();
    int rc = nli_wordpiece_encode(w, text, big, &ids, &n);
    CHECK(rc == 0 && n == 3 && ids[1] == 1, "a 16 MiB word: one [UNK] (rc %d, %zu ids)", rc, n);
    free(ids);
    /* 20 MB of prompts: the ids of one, repeated */
    static const char prompt[] = "a photo of a Dog, \xc3\xa9t\xc3\xa9! ";
    size_t plen = sizeof prompt - 1, reps = (20u << 20) / plen;
    free(text);
    text = malloc(reps * plen + 1);
    for (size_t r = 0; r < reps; r++) memcpy(text + r * plen, prompt, plen);
    rc = nli_wordpiece_encode(w, prompt, plen, &one, &n1) || nli_wordpiece_encode(w, text, reps * plen, &ids, &n);
    int same = rc == 0 && n == 2 + reps * (n1 - 2);
    for (size_t i = 0; same && i < n - 2; i++) same = ids[1 + i] == one[1 + i % (n1 - 2)];
    double dt = now() - t0;
    CHECK(same, "a 20 MB text of prompts: the ids of one prompt repeated (rc %d, %zu ids)", rc, n);
    printf("hostile: a 16 MiB word and a 20 MB text in %.2f s\n", dt);
    free(ids), free(one), free(text);
    nli_wordpiece_free(w);
    /* 100,000 combining marks after a letter: NFD's canonical order (ccc 220 before 230) */
    json_t *doc = load_json(check_src_data("wordpiece", "uncased/tokenizer.json"));
    json_object_set_new(doc, "normalizer", json_pack("{s:s}", "type", "NFD"));
    char path[1100];
    snprintf(path, sizeof path, "%s/nfd.json", tmp);
    json_dump_file(doc, path, 0);
    json_decref(doc);
    w = nli_wordpiece_load_json(path);
    CHECK(w != NULL, "NFD: %s", nl_last_error());
    if (w) {
        size_t marks = 100000;
        text = malloc(1 + 2 * marks);
        text[0] = 'a';
        for (size_t i = 0; i < marks; i++) memcpy(text + 1 + 2 * i, i % 2 ? "\xcc\x96" : "\xcc\x81", 2); /* U+0301, U+0316 */
        char *out = NULL;
        size_t olen = 0;
        rc = nli_wordpiece_normalize(w, text, 1 + 2 * marks, &out, &olen);
        int ok = rc == 0 && olen == 1 + 2 * marks && out[0] == 'a';
        for (size_t i = 0; ok && i < marks; i++) ok = !memcmp(out + 1 + 2 * i, i < marks / 2 ? "\xcc\x96" : "\xcc\x81", 2);
        CHECK(ok, "100,000 combining marks in canonical order (rc %d)", rc);
        free(out), free(text);
        nli_wordpiece_free(w);
    }
    /* 100,000 added tokens: refused (4,096 at most), naming the file */
    nli_buf j = {0};
    nli_buf_puts(&j, "{\"added_tokens\": [");
    for (int k = 0; k < 100000; k++)
        nli_buf_printf(&j, "%s{\"id\": %d, \"content\": \"<t%d>\", \"normalized\": false}", k ? "," : "", 3000 + k, k);
    nli_buf_puts(&j, "]}");
    refused_edit("100,000 added tokens", j.s, NL_ERR_INVALID, "more than 4096 added tokens");
    nli_buf_free(&j);
    /* 4,000 added tokens sharing 252 bytes, a 256 KiB text of their prefix:
     * at most 256 trie steps a byte */
    nli_buf_puts(&j, "{\"added_tokens\": [");
    char tok[260];
    memset(tok, 'a', 252);
    for (int k = 0; k < 4000; k++) {
        snprintf(tok + 252, 5, "%04d", k);
        nli_buf_printf(&j, "%s{\"id\": %d, \"content\": \"%s\", \"normalized\": %s}", k ? "," : "", 3000 + k, tok,
                       k % 2 ? "true" : "false");
    }
    nli_buf_puts(&j, "]}");
    json_t *ed = json_loads(j.s, 0, NULL);
    nli_buf_free(&j);
    w = nli_wordpiece_load_json(write_json("uncased", ed, "many-added"));
    json_decref(ed);
    CHECK(w != NULL, "4,000 added tokens: %s", nl_last_error());
    if (w) {
        size_t m = (size_t)256 << 10;
        text = malloc(m + 8);
        memset(text, 'a', m);
        memcpy(text + m, "0007 a", 6);
        t0 = now();
        rc = nli_wordpiece_encode(w, text, m + 6, &ids, &n);
        CHECK(rc == 0 && n >= 4 && ids[n - 3] == 3007, "a 256 KiB text then token 7: rc %d, %zu ids", rc, n);
        printf("hostile: 4,000 added tokens over 256 KiB in %.2f s\n", now() - t0);
        free(ids), free(text);
        nli_wordpiece_free(w);
    }
}

/* The digest follows the files; the forms of one vocabulary agree. */
static void test_digest(void) {
    nli_wordpiece *a = folder_with("\"tokenizer.json\", \"vocab.txt\", \"tokenizer_config.json\"", NULL, NULL),
                  *b = folder_with("\"vocab.txt\", \"tokenizer_config.json\"", NULL, NULL),
                  *c = folder_with("\"vocab.txt\", \"tokenizer_config.json\"", "{\"do_lower_case\": false}", NULL);
    CHECK(a && b && c, "three folders: %s", nl_last_error());
    if (a && b && c) {
        CHECK(nli_wordpiece_digest(a) != nli_wordpiece_digest(b) && nli_wordpiece_digest(b) != nli_wordpiece_digest(c),
              "digests differ with the files");
        CHECK(nli_wordpiece_vocab_size(a) == nli_wordpiece_vocab_size(b) && !strcmp(nli_wordpiece_source(b),
              "vocab.txt (WordPiece)"), "vocab.txt gives tokenizer.json's vocabulary (%zu, %zu)",
              nli_wordpiece_vocab_size(a), nli_wordpiece_vocab_size(b));
    }
    nli_wordpiece_free(a), nli_wordpiece_free(b), nli_wordpiece_free(c);
}

int main(void) {
    tmp = check_tmpdir();
    golden = load_json(check_src_data("wordpiece", "golden.json"));
    if (!golden) {
        fprintf(stderr, "tests/data/wordpiece: set NEGLABEL_SRC to the repository\n");
        return check_done();
    }
    printf("golden: tokenizers %s, transformers %s\n", json_string_value(json_object_get(golden, "tokenizers")),
           json_string_value(json_object_get(golden, "transformers")));
    test_folders();
    test_files();
    printf("%zu of %zu tokenizations equal the golden's\n", total_same, total_texts);
    test_normalizers(json_object_get(golden, "unicode"));
    test_pretokenizer(json_object_get(golden, "unicode"));
    test_refusals();
    test_hostile();
    test_digest();
    json_decref(golden);
    check_rm_rf(tmp);
    return check_done();
}
