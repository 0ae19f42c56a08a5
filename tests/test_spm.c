/* test_spm.c — SigLIP's tokenizer (src/clip/spm*.c: transformers 5's
 * SiglipTokenizer over sentencepiece) against transformers and
 * sentencepiece.
 *
 * Golden: tests/data/spm (tests/gen/gen_spm.py; transformers 5.25,
 * sentencepiece 0.2.3): a 1,500-piece nmt_nfkc Unigram in T5's and
 * SigLIP's settings, an identity one with user-defined pieces, a
 * byte_fallback one and hand-written ones, in 28 folder forms (the Hub's
 * files, transformers 5's save, no config, legacy files, special and
 * added tokens of every kind, single_word, split_special_tokens,
 * do_lower_case false, legacy false, NormalizerSpec and TrainerSpec edits
 * appended to spiece.model, user-defined, UNUSED and CONTROL pieces,
 * ties), the ids of 350 texts in each (prompts, punctuation, case, İ and
 * Σ, every kind of whitespace, "▁", special tokens in the text, accents,
 * NFKC forms, CJK, emoji, NUL, unknown characters, long words, random
 * mixes): every id must be equal. Then every code point through
 * canonicalize_text, sentencepiece's normalizer and the whole tokenizer
 * (hashes), what is refused (with what transformers does with it),
 * hostile files and sizes, threads. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "neglabel.h"
#include "spm.h"
#include "util.h"

static json_t *golden;
static const char *tmp;
static int folder_no;

/* dir/name := data[0..len) */
static void put(const char *dir, const char *name, const void *data, size_t len) {
    char *path = nli_path_join(dir, name);
    CHECK(path && nl_write_file_atomic(path, data, len) == 0, "writing %s/%s: %s", dir, name, nl_last_error());
    free(path);
}

/* tests/data/spm/name's bytes (malloc'd), or NULL after a failed check */
static char *data_file(const char *name, size_t *len) {
    char *data = NULL;
    if (nli_read_file(check_src_data("spm", name), (size_t)64 << 20, &data, len)) CHECK(0, "%s: %s", name, nl_last_error());
    return data;
}

static uint64_t fnv(const void *s, size_t n) { return nli_fnv1a(s, n, NL_FNV_INIT); }

/* A golden folder spec written under tmp: the model's spiece.model with
 * the hex bytes of "append" (cut to "truncate", or "replace"d), the text
 * files, config.json; "copy": spiece.model again under that name. */
static const char *write_folder(json_t *spec) {
    static char dir[1100];
    snprintf(dir, sizeof dir, "%s/f%d", tmp, folder_no++);
    CHECK(nli_mkdir_p(dir) == 0, "mkdir %s", dir);
    char name[200];
    snprintf(name, sizeof name, "%s/spiece.model", json_string_value(json_object_get(spec, "model")));
    size_t len = 0;
    char *model = data_file(name, &len);
    if (!model) return dir;
    json_t *t = json_object_get(spec, "truncate"), *r = json_object_get(spec, "replace");
    if (json_is_integer(t) && (size_t)json_integer_value(t) < len) len = (size_t)json_integer_value(t);
    if (json_is_string(r)) len = json_string_length(r), memcpy(model, json_string_value(r), len);
    const char *hex = json_string_value(json_object_get(spec, "append"));
    size_t nh = hex ? strlen(hex) / 2 : 0;
    model = realloc(model, len + nh + 1);
    for (size_t i = 0; i < nh; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        model[len++] = (char)v;
    }
    put(dir, "spiece.model", model, len);
    const char *copy = json_string_value(json_object_get(spec, "copy"));
    if (copy) put(dir, copy, model, len);
    free(model);
    const char *cfg = json_string_value(json_object_get(golden, "config.json")), *key;
    put(dir, "config.json", cfg, strlen(cfg));
    json_t *v;
    json_object_foreach(json_object_get(spec, "files"), key, v) put(dir, key, json_string_value(v), json_string_length(v));
    return dir;
}

static void show(const char *name, size_t i, const char *text, json_t *want, const int32_t *ids, size_t n, int rc) {
    char *ws = json_dumps(want, JSON_COMPACT);
    fprintf(stderr, "%s: text %zu \"%.60s\": want %.300s, got", name, i, text, ws ? ws : "?");
    for (size_t k = 0; k < n && k < 60; k++) fprintf(stderr, " %d", ids[k]);
    fprintf(stderr, " (rc %d%s%s)\n", rc, rc ? ": " : "", rc ? nl_last_error() : "");
    free(ws);
}

/* Does text i encode to the golden ids of folder `name` (null there: of
 * folder `ref`)? Up to four differences are shown. */
static int same_ids(const nli_spm *s, const char *name, const char *ref, size_t i, size_t *shown) {
    json_t *all = json_object_get(golden, "ids"), *t = json_array_get(json_object_get(golden, "texts"), i);
    json_t *g = json_array_get(json_object_get(all, name), i);
    if (json_is_null(g) && ref) g = json_array_get(json_object_get(all, ref), i);
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = nli_spm_encode(s, json_string_value(t), json_string_length(t), &ids, &n), eq = !rc && n == json_array_size(g);
    for (size_t k = 0; eq && k < n; k++) eq = ids[k] == json_integer_value(json_array_get(g, k));
    if (!eq && (*shown)++ < 4) show(name, i, json_string_value(t), g, ids, n, rc);
    free(ids);
    return eq;
}

/* Every golden folder: loaded, every text's ids, its sizes and ids. */
static void test_folders(void) {
    const char *name;
    json_t *spec;
    size_t ntexts = json_array_size(json_object_get(golden, "texts")), good = 0, all = 0;
    json_object_foreach(json_object_get(golden, "folders"), name, spec) {
        nli_spm *s = nli_spm_load_dir(write_folder(spec));
        CHECK(s != NULL, "folder %s: %s", name, nl_last_error());
        if (!s) continue;
        const char *ref = json_string_value(json_object_get(spec, "ref"));
        size_t same = 0, shown = 0;
        for (size_t i = 0; i < ntexts; i++) same += (size_t)same_ids(s, name, ref, i, &shown);
        CHECK(same == ntexts, "%s: %zu of %zu texts give transformers' ids", name, same, ntexts);
        good += same, all += ntexts;
        json_t *pad = json_object_get(spec, "pad");
        CHECK(nli_spm_vocab_size(s) == (size_t)json_integer_value(json_object_get(spec, "vocab")) &&
              nli_spm_last_suffix(s) == json_integer_value(json_object_get(spec, "eos")) &&
              nli_spm_pad_id(s) == (json_is_null(pad) ? -1 : json_integer_value(pad)),
              "%s: vocabulary %zu, eos %d, pad %d as transformers' largest id + 1, eos_token_id, pad_token_id", name,
              nli_spm_vocab_size(s), nli_spm_last_suffix(s), nli_spm_pad_id(s));
        printf("folder %-22s vocabulary %zu\n", name, nli_spm_vocab_size(s));
        nli_spm_free(s);
    }
    printf("%zu of %zu tokenizations equal transformers'\n", good, all);
}

/* ------------------------------------------------------------ every code point */

static size_t put_cp(char *s, uint32_t c) {
    if (c < 0x80) return s[0] = (char)c, 1;
    if (c < 0x800) return s[0] = (char)(0xC0 | c >> 6), s[1] = (char)(0x80 | (c & 63)), 2;
    if (c < 0x10000)
        return s[0] = (char)(0xE0 | c >> 12), s[1] = (char)(0x80 | (c >> 6 & 63)), s[2] = (char)(0x80 | (c & 63)), 3;
    s[0] = (char)(0xF0 | c >> 18), s[1] = (char)(0x80 | (c >> 12 & 63)), s[2] = (char)(0x80 | (c >> 6 & 63));
    s[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* The next `count` code points from *next (surrogates skipped), as UTF-8;
 * sigma: each in gen_spm.py's four final-sigma patterns instead. */
static char *chunk_text(uint32_t *next, size_t count, int sigma, size_t *len) {
    char *s = malloc(count * 40 + 1);
    size_t n = 0;
    static const char *const pat[4][2] = {{"A", "\xce\xa3|"}, {"|", "\xce\xa3|"}, {"A\xce\xa3", "|"}, {"A\xce\xa3", "A|"}};
    for (size_t k = 0; k < count && *next < 0x110000; (*next)++) {
        uint32_t c = *next;
        if (c >= 0xD800 && c < 0xE000) continue;
        for (int p = 0; p < (sigma ? 4 : 1); p++) {
            if (sigma) memcpy(s + n, pat[p][0], strlen(pat[p][0])), n += strlen(pat[p][0]);
            n += put_cp(s + n, c);
            if (sigma) memcpy(s + n, pat[p][1], strlen(pat[p][1])), n += strlen(pat[p][1]);
        }
        k++;
    }
    *len = n;
    return s;
}

typedef enum { CANON_LOWER, CANON, NORMALIZE, IDS } probe;

/* Every chunk's hash against the golden's list `key`. */
static void code_points(const char *key, probe what, const nli_spm *s) {
    json_t *uni = json_object_get(golden, "unicode"), *hashes = json_object_get(uni, key);
    size_t chunk = (size_t)json_integer_value(json_object_get(uni, "chunk")), same = 0;
    uint32_t cp = 0;
    for (size_t i = 0; i < json_array_size(hashes); i++) {
        size_t len, olen = 0;
        char *text = chunk_text(&cp, chunk, what <= CANON, &len), *out = NULL, hex[17];
        int32_t *ids = NULL;
        int rc;
        uint64_t h = 0;
        if (what == IDS) {
            rc = nli_spm_encode(s, text, len, &ids, &olen);
            if (!rc) {
                uint8_t *le = malloc(4 * olen + 1);
                for (size_t k = 0; k < olen; k++)
                    for (int b = 0; b < 4; b++) le[4 * k + b] = (uint8_t)((uint32_t)ids[k] >> (8 * b));
                h = fnv(le, 4 * olen);
                free(le);
            }
        } else {
            rc = what == NORMALIZE ? nli_spm_normalize(s, text, len, &out, &olen)
                                   : nli_spm_canonicalize(what == CANON_LOWER, text, len, &out, &olen);
            if (!rc) h = fnv(out, olen);
        }
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
        if (rc == 0 && !strcmp(hex, json_string_value(json_array_get(hashes, i)))) same++;
        else fprintf(stderr, "%s: chunk %zu (from the %zu-th code point) differs%s%s\n", key, i, i * chunk,
                     rc ? ": " : "", rc ? nl_last_error() : "");
        free(text), free(out), free(ids);
    }
    CHECK(same == json_array_size(hashes) && cp == 0x110000, "%s: %zu of %zu chunks of code points as Python", key,
          same, json_array_size(hashes));
}

static nli_spm *load_named(const char *name) {
    nli_spm *s = nli_spm_load_dir(write_folder(json_object_get(json_object_get(golden, "folders"), name)));
    CHECK(s != NULL, "%s: %s", name, nl_last_error());
    return s;
}

static void test_code_points(void) {
    code_points("canon_lower", CANON_LOWER, NULL);
    code_points("canon", CANON, NULL);
    nli_spm *t5 = load_named("hub"), *plain = load_named("plain");
    if (t5) code_points("normalize_t5", NORMALIZE, t5), code_points("ids_hub", IDS, t5);
    if (plain) code_points("normalize_plain", NORMALIZE, plain);
    nli_spm_free(t5), nli_spm_free(plain);
}

/* ------------------------------------------------------------ refusals */

/* Every golden refusal is refused: NL_ERR_INVALID where transformers fails
 * too, NL_ERR_UNSUPPORTED where it loads the folder (a setting neglabel
 * does not run), the message naming the file. */
static void test_refusals(void) {
    const char *name;
    json_t *spec;
    size_t n = 0;
    json_object_foreach(json_object_get(golden, "refusals"), name, spec) {
        const char *dir = write_folder(spec), *tr = json_string_value(json_object_get(spec, "transformers"));
        int want = !strcmp(tr, "loads") ? NL_ERR_UNSUPPORTED : NL_ERR_INVALID;
        nli_spm *s = nli_spm_load_dir(dir);
        CHECK(!s && (int)nl_last_status() == want && strstr(nl_last_error(), dir), "refusal %s (transformers %s): want "
              "status %d naming the folder, got %s%d: %s", name, tr, want, s ? "a tokenizer, " : "",
              (int)nl_last_status(), nl_last_error());
        printf("refused %-22s (transformers: %s): %s\n", name, tr, nl_last_error());
        nli_spm_free(s);
        n++;
    }
    CHECK(n >= 15, "%zu refusals", n);
    /* no spiece.model: NL_ERR_IO */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/empty", tmp);
    nli_mkdir_p(dir);
    nli_spm *s = nli_spm_load_dir(dir);
    CHECK(!s && nl_last_status() == NL_ERR_IO && strstr(nl_last_error(), "spiece.model"), "no spiece.model: %s",
          nl_last_error());
    /* config edits refused by name */
    static const struct {
        const char *cfg, *want;
        int status;
    } cfgs[] = {
        {"{\"init_inputs\": [\"x\"]}", "init_inputs", NL_ERR_UNSUPPORTED},
        {"{\"fast_tokenizer_files\": [\"tokenizer.json\"]}", "fast_tokenizer_files", NL_ERR_UNSUPPORTED},
        {"{\"sp_model_kwargs\": 3}", "sp_model_kwargs", NL_ERR_INVALID},
        {"{\"extra_special_tokens\": [{\"content\": \"<x>\"}]}", "extra_special_tokens[0]", NL_ERR_UNSUPPORTED},
        {"{\"added_tokens_decoder\": {\"1\": {\"content\": \"</s>\", \"bogus\": true}}}", "bogus", NL_ERR_INVALID},
        {"{\"added_tokens_decoder\": {\"-1\": {\"content\": \"x\"}}}", "not a token id", NL_ERR_UNSUPPORTED},
        {"{\"added_tokens_decoder\": {\"1600\": {\"content\": \"\\u2581cat\"}}}", "under another id", NL_ERR_UNSUPPORTED},
        {"{\"added_tokens_decoder\": {\"1600\": {\"content\": \"<a>\"}, \"1601\": {\"content\": \"<a>\"}}}", "two ids",
         NL_ERR_UNSUPPORTED},
        {"{\"added_tokens_decoder\": {\"1501\": {\"content\": \"<a>\"}}, \"mask_token\": \"<m>\"}", "would take id 1501",
         NL_ERR_UNSUPPORTED},
        {"{\"eos_token\": null}", "eos_token is null", NL_ERR_INVALID},
        {"{\"mask_token\": {\"content\": \"<m>\"}}", "neither a string nor an AddedToken", NL_ERR_INVALID},
        {"{\"image_token\": {\"__type\": \"AddedToken\", \"content\": 5}}", "content", NL_ERR_INVALID},
        {"[1, 2]", "expected a JSON object", NL_ERR_INVALID},
    };
    json_t *t5 = json_pack("{s:s,s:{}}", "model", "t5", "files");
    for (size_t k = 0; k < sizeof cfgs / sizeof *cfgs; k++) {
        const char *d = write_folder(t5);
        put(d, "tokenizer_config.json", cfgs[k].cfg, strlen(cfgs[k].cfg));
        s = nli_spm_load_dir(d);
        CHECK(!s && (int)nl_last_status() == cfgs[k].status && strstr(nl_last_error(), cfgs[k].want) &&
              strstr(nl_last_error(), "tokenizer_config.json"), "config %s: want %d \"%s\", got %d: %s", cfgs[k].cfg,
              cfgs[k].status, cfgs[k].want, (int)nl_last_status(), s ? "(loaded)" : nl_last_error());
        nli_spm_free(s);
    }
    json_decref(t5);
}

/* ------------------------------------------------------------ hostile files */

/* spiece.model's bytes in a folder of their own; the tokenizer or NULL. */
static nli_spm *load_bytes(const void *data, size_t len) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/bytes%d", tmp, folder_no++);
    nli_mkdir_p(dir);
    put(dir, "spiece.model", data, len);
    return nli_spm_load_dir(dir);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t next_rand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void encode_some(const nli_spm *s) {
    static const char *const texts[] = {"a photo of a dog.", "  ＦＵＬＬ ﬁ e\xcc\x81" "cole \xe7\x8a\xac </s> x", "\x00\xe2\x96\x81<unk>"};
    for (int i = 0; i < 3; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        int rc = nli_spm_encode(s, texts[i], i == 2 ? 10 : strlen(texts[i]), &ids, &n);
        CHECK(rc != 0 || (n >= 1 && ids[n - 1] == nli_spm_last_suffix(s)), "a tokenizer that loads ends its ids with </s>");
        for (size_t k = 0; k < n; k++)
            if (ids[k] < 0 || (size_t)ids[k] >= nli_spm_vocab_size(s)) {
                CHECK(0, "id %d outside the vocabulary (%zu)", ids[k], nli_spm_vocab_size(s));
                break;
            }
        free(ids);
    }
}

static void test_hostile_files(void) {
    size_t len = 0, slen = 0;
    char *t5 = data_file("t5/spiece.model", &len), *syn = data_file("synth/spiece.model", &slen);
    if (!t5 || !syn) return;
    /* every prefix of the small model, and 200 of the large one */
    size_t loaded = 0, refused = 0;
    for (size_t cut = 0; cut <= slen + 200; cut++) {
        size_t n = cut <= slen ? cut : (size_t)(next_rand() % len);
        nli_spm *s = load_bytes(cut <= slen ? syn : t5, n);
        if (s) loaded++, encode_some(s);
        else {
            refused++;
            CHECK(nl_last_status() == NL_ERR_INVALID || nl_last_status() == NL_ERR_UNSUPPORTED, "a cut model: %s",
                  nl_last_error());
        }
        nli_spm_free(s);
    }
    CHECK(refused > 0 && loaded > 0, "cut models: %zu loaded, %zu refused", loaded, refused);
    /* 3,000 random byte flips and inserted varints in the small model */
    char *buf = malloc(slen + 16);
    for (int k = 0; k < 3000; k++) {
        memcpy(buf, syn, slen);
        size_t n = slen;
        for (int f = 0; f < 1 + k % 4; f++) buf[next_rand() % n] = (char)(next_rand() & 0xFF);
        if (k % 3 == 0) { /* a huge length or a deep group */
            size_t at = next_rand() % n;
            memcpy(buf + at, k % 2 ? "\x0a\xff\xff\xff\xff\x0f" : "\x0b\x0b\x0b\x0b\x0b\x0b", 6 < n - at ? 6 : n - at);
        }
        nli_spm *s = load_bytes(buf, n);
        if (s) encode_some(s);
        nli_spm_free(s);
    }
    free(buf);
    /* groups nested 101 deep: refused; 99 deep in an unknown field: read */
    nli_buf b = {0};
    nli_buf_append(&b, syn, slen);
    for (int d = 0; d < 101; d++) nli_buf_append(&b, "\x33", 1);  /* field 6, start group */
    for (int d = 0; d < 101; d++) nli_buf_append(&b, "\x34", 1);  /* field 6, end group */
    nli_spm *s = load_bytes(b.s, b.len);
    CHECK(!s && strstr(nl_last_error(), "nested too deep"), "groups 101 deep: %s", s ? "(loaded)" : nl_last_error());
    nli_spm_free(s);
    b.len = slen;
    for (int d = 0; d < 99; d++) nli_buf_append(&b, "\x33", 1);
    for (int d = 0; d < 99; d++) nli_buf_append(&b, "\x34", 1);
    s = load_bytes(b.s, b.len);
    CHECK(s != NULL, "groups 99 deep in an unknown field: %s", nl_last_error());
    nli_spm_free(s);
    /* 2,100,000 pieces: refused without building them */
    b.len = 0;
    for (int k = 0; k < 2100000; k++) nli_buf_append(&b, "\x0a\x03\x0a\x01x", 5);
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    s = load_bytes(b.s, b.len);
    CHECK(!s && strstr(nl_last_error(), "more than 2097152 pieces"), "2.1 million pieces: %s", s ? "(loaded)" : nl_last_error());
    printf("hostile: 2.1 million pieces refused in %.2f s\n", (double)clock() / CLOCKS_PER_SEC - t0);
    nli_spm_free(s);
    /* a piece of 1,025 bytes (sentencepiece takes up to 7,999): refused by name */
    b.len = 0;
    nli_buf_append(&b, syn, slen);
    nli_buf_append(&b, "\x0a\x84\x08\x0a\x81\x08", 6);
    for (int k = 0; k < 1025; k++) nli_buf_append(&b, "y", 1);
    s = load_bytes(b.s, b.len);
    CHECK(!s && nl_last_status() == NL_ERR_UNSUPPORTED && strstr(nl_last_error(), "longer than 1,024"), "a piece of "
          "1,025 bytes: %s", s ? "(loaded)" : nl_last_error());
    nli_spm_free(s);
    nli_buf_free(&b);
    free(t5), free(syn);
}

/* ------------------------------------------------------------ hostile texts, threads */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const nli_spm *s;
    int bad;
} job;

static void *encode_all(void *arg) {
    job *j = arg;
    json_t *texts = json_object_get(golden, "texts"), *want = json_object_get(json_object_get(golden, "ids"), "hub");
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < json_array_size(texts); i++) {
            json_t *t = json_array_get(texts, i), *g = json_array_get(want, i);
            int32_t *ids = NULL;
            size_t n = 0;
            int eq = nli_spm_encode(j->s, json_string_value(t), json_string_length(t), &ids, &n) == 0 &&
                     n == json_array_size(g);
            for (size_t k = 0; eq && k < n; k++) eq = ids[k] == json_integer_value(json_array_get(g, k));
            j->bad += !eq;
            free(ids);
        }
    return NULL;
}

static void test_hostile_texts(void) {
    nli_spm *s = load_named("hub");
    if (!s) return;
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(nli_spm_encode(s, "ab\xff", 3, &ids, &n) == -1 && strstr(nl_last_error(), "byte 2"), "invalid UTF-8: %s",
          nl_last_error());
    CHECK(nli_spm_encode(s, "a\xed\xa0\x80", 4, &ids, &n) == -1 && strstr(nl_last_error(), "byte 1"), "a surrogate: %s",
          nl_last_error());
    CHECK(!strcmp(nli_spm_source(s), "spiece.model (SentencePiece Unigram)"), "the source named");
    /* a word of 4 MiB: the Viterbi's 12 bytes a byte */
    size_t big = (size_t)4 << 20;
    char *text = malloc(big + 64);
    memset(text, 'a', big);
    double t0 = now();
    int rc = nli_spm_encode(s, text, big, &ids, &n);
    CHECK(rc == 0 && n > 1000 && ids[n - 1] == 1, "a 4 MiB word (rc %d, %zu ids)", rc, n);
    free(ids);
    /* 8 MB of prompts: each one's ids (no </s>), in turn */
    static const char *const prompts[2] = {"a photo of a Dog, \xc3\xa9t\xc3\xa9! ", "A PHOTO of the cat\xe2\x80\xa6 "};
    nli_buf many = {0};
    int32_t *each[2] = {NULL, NULL};
    size_t ne[2] = {0, 0}, reps = 0;
    rc = 0;
    for (int k = 0; k < 2 && !rc; k++) rc = nli_spm_encode(s, prompts[k], strlen(prompts[k]), &each[k], &ne[k]);
    while (!rc && many.len < ((size_t)8 << 20)) nli_buf_puts(&many, prompts[reps++ % 2]);
    if (!rc) rc = nli_spm_encode(s, many.s, many.len, &ids, &n);
    size_t at = 0;
    for (size_t r = 0; !rc && r < reps && at <= n; r++) {
        const int32_t *want = each[r % 2];
        size_t m = ne[r % 2] - 1;
        if (at + m > n || memcmp(ids + at, want, m * sizeof *ids)) break;
        at += m;
    }
    CHECK(!rc && at + 1 == n && ids[at] == 1, "8 MB of prompts: each prompt's ids in turn (rc %d, %zu of %zu ids)", rc,
          at, n);
    free(ids), free(each[0]), free(each[1]);
    nli_buf_free(&many);
    /* 100,000 special tokens and spaces */
    nli_buf b = {0};
    for (int k = 0; k < 100000; k++) nli_buf_puts(&b, k % 3 ? "</s> " : "<unk>x");
    rc = nli_spm_encode(s, b.s, b.len, &ids, &n);
    CHECK(rc == 0 && n > 100000, "100,000 special tokens (rc %d, %zu ids)", rc, n);
    free(ids);
    nli_buf_free(&b);
    printf("hostile: a 4 MiB word, 8 MB of prompts, 100,000 special tokens in %.2f s\n", now() - t0);
    free(text);
    /* four threads on one tokenizer */
    pthread_t th[4];
    job jobs[4];
    for (int k = 0; k < 4; k++) jobs[k] = (job){s, 0}, pthread_create(&th[k], NULL, encode_all, &jobs[k]);
    int bad = 0;
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL), bad += jobs[k].bad;
    CHECK(bad == 0, "four threads encoding at once: %d texts differ", bad);
    nli_spm_free(s);
}

/* The digest follows the files read. */
static void test_digest(void) {
    json_t *f = json_object_get(golden, "folders");
    nli_spm *a = nli_spm_load_dir(write_folder(json_object_get(f, "hub"))),
            *b = nli_spm_load_dir(write_folder(json_object_get(f, "no-lower"))),
            *c = nli_spm_load_dir(write_folder(json_object_get(f, "no-dummy"))),
            *d = nli_spm_load_dir(write_folder(json_object_get(f, "hub")));
    CHECK(a && b && c && d, "four folders: %s", nl_last_error());
    if (a && b && c && d)
        CHECK(nli_spm_digest(a) != nli_spm_digest(b) && nli_spm_digest(a) != nli_spm_digest(c) &&
              nli_spm_digest(a) == nli_spm_digest(d), "digests follow the files");
    nli_spm_free(a), nli_spm_free(b), nli_spm_free(c), nli_spm_free(d);
}

int main(void) {
    tmp = check_tmpdir();
    json_error_t e;
    golden = json_load_file(check_src_data("spm", "golden.json"), JSON_ALLOW_NUL, &e);
    if (!golden) {
        fprintf(stderr, "tests/data/spm/golden.json: %s (set NEGLABEL_SRC to the repository)\n", e.text);
        return check_done();
    }
    printf("golden: transformers %s, sentencepiece %s, protobuf %s\n",
           json_string_value(json_object_get(golden, "transformers")),
           json_string_value(json_object_get(golden, "sentencepiece")),
           json_string_value(json_object_get(golden, "protobuf")));
    test_folders();
    test_code_points();
    test_refusals();
    test_hostile_files();
    test_hostile_texts();
    test_digest();
    json_decref(golden);
    check_rm_rf(tmp);
    return check_done();
}
