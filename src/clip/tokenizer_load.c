/* tokenizer_load.c — where the tokenizer's vocabulary and merges come from:
 *
 * - vocab.json + merges.txt, the files of a Hugging Face CLIP folder saved
 *   by transformers 4 (and of every openai/ and laion/ repository);
 * - tokenizer.json alone, which transformers 5 writes instead of them
 *   (its "model": a BPE with "</w>" word ends, vocab and merges);
 * - OpenAI's CLIP merges built into the library (bpe_merges.c), with the
 *   vocabulary simple_tokenizer.py derives from them: what open_clip uses
 *   for every OpenAI-tokenizer model, so what an OpenCLIP folder without
 *   tokenizer files (the timm/ repositories, `neglabel convert`'s output)
 *   means.
 *
 * All three fill the same tables (tokenizer.c) with the same checks, and
 * the same texts give the same ids whichever the source. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "neglabel.h"
#include "tokenizer_impl.h"
#include "util.h"

#define VOCAB_FILE_MAX ((size_t)256 << 20)

static const char SRC_FILES[] = "vocab.json + merges.txt", SRC_JSON[] = "tokenizer.json",
                  SRC_BUILTIN[] = "built-in OpenAI CLIP BPE";

static int fill_vocab(nli_tokenizer *t, json_t *obj, const char *src) {
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        nli_seterr("%s: expected a non-empty JSON object of token -> id", src);
        return -1;
    }
    if (nli_tok_vocab_init(t, json_object_size(obj), src)) return -1;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        if (!json_is_integer(val)) {
            nli_seterr("%s: the id of token \"%.40s\" is not an integer", src, key);
            return -1;
        }
        if (nli_tok_vocab_add(t, key, strlen(key), (long long)json_integer_value(val), src)) return -1;
    }
    return nli_tok_vocab_done(t, src);
}

json_t *nli_tok_read_json(const char *path, int ints_as_real) { return nli_tok_read_json_hashed(path, ints_as_real, NULL); }

json_t *nli_tok_read_json_hashed(const char *path, int ints_as_real, uint64_t *digest) {
    char *data = NULL;
    size_t len = 0;
    if (nli_read_file(path, VOCAB_FILE_MAX, &data, &len)) return NULL;
    if (digest) *digest = nli_fnv1a(data, len, NL_FNV_INIT);
    if (nli_json_check_values(path, data, len, NLI_JSON_MAX_VALUES)) { free(data); return NULL; }
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES | (ints_as_real ? JSON_DECODE_INT_AS_REAL : 0), &jerr);
    free(data);
    if (!root) nli_seterr("%s: not valid JSON (line %d, column %d: %s)", path, jerr.line, jerr.column, jerr.text);
    return root;
}

static void malformed(const char *src, size_t line, const char *why, const char *s, size_t n) {
    nli_seterr("%s: line %zu: %s: \"%.*s\"", src, line, why, (int)(n > 60 ? 60 : n), s);
}

static const char NOT_IN_VOCAB[] = "a symbol or the merged result is not in the vocabulary";

/* merges.txt's text: an optional "#version" header (when header_ok), then
 * "a b" per line in rank order. */
static int parse_merges(nli_tokenizer *t, const char *data, size_t len, const char *src, int header_ok) {
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    if (nli_tok_merges_init(t, lines, src)) return -1;
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        lineno++;
        if (n && s[n - 1] == '\r') n--;
        if (header_ok && lineno == 1 && n && s[0] == '#') continue; /* "#version: 0.2" */
        if (n == 0) {
            if (pos >= len) break; /* final newline */
            malformed(src, lineno, "empty line", s, n);
            return -1;
        }
        const char *sp = memchr(s, ' ', n);
        if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1))) {
            malformed(src, lineno, "expected two symbols separated by one space", s, n);
            return -1;
        }
        int r = nli_tok_merge_add(t, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1));
        if (r > 0) malformed(src, lineno, NOT_IN_VOCAB, s, n);
        if (r < 0) nli_prefixerr("%s", src);
        if (r) return -1;
    }
    return 0;
}

static nli_tokenizer *load_files(const char *vocab_json, const char *merges_txt, int openclip_names) {
    if (!vocab_json || !merges_txt) { nli_seterr("tokenizer: NULL path"); return NULL; }
    nli_tokenizer *t = nli_tok_new(SRC_FILES, openclip_names);
    json_t *root = NULL;
    char *data = NULL;
    size_t len = 0;
    if (!t || !(root = nli_tok_read_json(vocab_json, 0)) || fill_vocab(t, root, vocab_json) ||
        nli_read_file(merges_txt, VOCAB_FILE_MAX, &data, &len) || parse_merges(t, data, len, merges_txt, 1) ||
        nli_tok_finish(t, merges_txt)) {
        nli_tokenizer_free(t);
        t = NULL;
    }
    json_decref(root);
    free(data);
    return t;
}

/* The parts of tokenizer.json's "model" that change what BPE computes must
 * be CLIP's; the normalizer and pre-tokenizer are CLIP's by construction
 * (neglabel runs simple_tokenizer.py's cleaning and split for every source). */
static int check_model(json_t *model, const char *path) {
    json_t *type = json_object_get(model, "type"), *eow = json_object_get(model, "end_of_word_suffix"),
           *cont = json_object_get(model, "continuing_subword_prefix"),
           *fallback = json_object_get(model, "byte_fallback"), *dropout = json_object_get(model, "dropout"),
           *ignore = json_object_get(model, "ignore_merges");
    if (!json_is_string(type) || strcmp(json_string_value(type), "BPE") != 0) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: model.type is %s%s%s, not \"BPE\": not a CLIP tokenizer", path,
                        json_is_string(type) ? "\"" : "", json_is_string(type) ? json_string_value(type) : "missing",
                        json_is_string(type) ? "\"" : "");
        return -1;
    }
    if (!json_is_string(eow) || strcmp(json_string_value(eow), "</w>") != 0) {
        nli_seterr_code(NL_ERR_UNSUPPORTED,
                        "%s: model.end_of_word_suffix is not \"</w>\": not CLIP's byte-level BPE (a GPT-2 style "
                        "tokenizer?)",
                        path);
        return -1;
    }
    if ((cont && !json_is_null(cont) && !(json_is_string(cont) && !json_string_value(cont)[0])) ||
        json_is_true(fallback) || json_is_true(ignore) ||
        (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0))) {
        nli_seterr_code(NL_ERR_UNSUPPORTED,
                        "%s: model has continuing_subword_prefix, byte_fallback, ignore_merges or dropout set: not "
                        "CLIP's BPE",
                        path);
        return -1;
    }
    return 0;
}

/* One entry of model.merges: "a b" (tokenizers before 0.20) or ["a", "b"]. */
static int json_merge(nli_tokenizer *t, json_t *m, size_t k, const char *path) {
    const char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (json_is_string(m)) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        size_t n = json_string_length(m);
        if (sp && sp != s && sp != s + n - 1 && !strchr(sp + 1, ' ') && strlen(s) == n)
            a = s, na = (size_t)(sp - s), b = sp + 1, nb = n - na - 1;
    } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
               json_is_string(json_array_get(m, 1))) {
        a = json_string_value(json_array_get(m, 0)), na = json_string_length(json_array_get(m, 0));
        b = json_string_value(json_array_get(m, 1)), nb = json_string_length(json_array_get(m, 1));
        if (!na || !nb) a = NULL;
    }
    if (!a) {
        nli_seterr("%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"] with two non-empty symbols", path, k);
        return -1;
    }
    int r = nli_tok_merge_add(t, a, na, b, nb);
    if (r > 0) nli_seterr("%s: model.merges[%zu]: %s: \"%.40s\" + \"%.40s\"", path, k, NOT_IN_VOCAB, a, b);
    if (r < 0) nli_prefixerr("%s", path);
    return r ? -1 : 0;
}

nli_tokenizer *nli_tokenizer_load(const char *vocab_json, const char *merges_txt) {
    return load_files(vocab_json, merges_txt, 0);
}

static nli_tokenizer *load_json(const char *path, int openclip_names) {
    if (!path) { nli_seterr("tokenizer: NULL path"); return NULL; }
    nli_tokenizer *t = nli_tok_new(SRC_JSON, openclip_names);
    json_t *root = t ? nli_tok_read_json(path, 0) : NULL;
    if (!root) goto fail;
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) {
        nli_seterr("%s: no \"model\" object: not a Hugging Face tokenizers file", path);
        goto fail;
    }
    if (check_model(model, path) || fill_vocab(t, json_object_get(model, "vocab"), path)) goto fail;
    json_t *merges = json_object_get(model, "merges");
    if (!json_is_array(merges)) {
        nli_seterr("%s: model.merges is not a list", path);
        goto fail;
    }
    if (nli_tok_merges_init(t, json_array_size(merges), path)) goto fail;
    for (size_t k = 0; k < json_array_size(merges); k++)
        if (json_merge(t, json_array_get(merges, k), k, path)) goto fail;
    if (nli_tok_finish(t, path) || nli_tok_added_from_list(t, json_object_get(root, "added_tokens"), path)) goto fail;
    json_decref(root);
    return t;
fail:
    json_decref(root);
    nli_tokenizer_free(t);
    return NULL;
}

/* simple_tokenizer.py: vocab = the 256 byte symbols in bytes_to_unicode's
 * order (the printable bytes first, then the others), the same with
 * "</w>", each merge's join in rank order, then <|startoftext|> and
 * <|endoftext|>: ids 0 .. 49,407. */
static int printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

/* The added tokens read so far checked and made ready: t, or NULL (t freed).
 * open_clip's SimpleTokenizer has none, so an OpenCLIP folder that lists
 * one is refused. */
static nli_tokenizer *added_done(nli_tokenizer *t, int openclip) {
    if (t && openclip && t->nadded) {
        const nli_added *a = &t->added[0];
        nli_seterr_code(NL_ERR_UNSUPPORTED,
                        "%s: added token \"%.60s\" (id %lld): an OpenCLIP model's tokenizer (open_clip's "
                        "SimpleTokenizer) has CLIP's BPE and its two special tokens only",
                        a->file, a->content, a->id);
    } else if (t && nli_tok_added_done(t) == 0) {
        return t;
    }
    nli_tokenizer_free(t);
    return NULL;
}

nli_tokenizer *nli_tokenizer_load_json(const char *path) { return added_done(load_json(path, 0), 0); }

static nli_tokenizer *builtin(int openclip_names) {
    nli_tokenizer *t = nli_tok_new(SRC_BUILTIN, openclip_names);
    char *text = t ? nli_malloc(nli_bpe_merges_bytes + 1) : NULL;
    if (!text) goto fail;
    size_t len = 0;
    for (size_t c = 0; c < nli_bpe_merges_nchunks; c++) {
        size_t n = strlen(nli_bpe_merges_chunks[c]);
        if (len + n > nli_bpe_merges_bytes) break;
        memcpy(text + len, nli_bpe_merges_chunks[c], n);
        len += n;
    }
    if (len != nli_bpe_merges_bytes) {
        nli_seterr("%s: the built-in merges are damaged (%zu bytes, expected %zu)", SRC_BUILTIN, len,
                   nli_bpe_merges_bytes);
        goto fail;
    }
    const size_t nvocab = 512 + nli_bpe_merges_count + 2;
    if (nli_tok_vocab_init(t, nvocab, SRC_BUILTIN)) goto fail;
    long long id = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int printable_first = 1; printable_first >= 0; printable_first--)
            for (int b = 0; b < 256; b++) {
                if (printable(b) != printable_first) continue;
                char s[8];
                size_t n = nli_tok_byte_symbol(b, s);
                if (pass) memcpy(s + n, "</w>", 4), n += 4;
                if (nli_tok_vocab_add(t, s, n, id++, SRC_BUILTIN)) goto fail;
            }
    for (size_t pos = 0; pos < len;) {
        const char *s = text + pos, *nl = memchr(s, '\n', len - pos), *sp = memchr(s, ' ', len - pos);
        if (!nl || !sp || sp > nl) break; /* checked again by parse_merges */
        char join[256];
        size_t na = (size_t)(sp - s), nb = (size_t)(nl - sp - 1);
        if (na + nb > sizeof join) break;
        memcpy(join, s, na);
        memcpy(join + na, sp + 1, nb);
        if (nli_tok_vocab_add(t, join, na + nb, id++, SRC_BUILTIN)) goto fail;
        pos = (size_t)(nl - text) + 1;
    }
    if (id != (long long)(nvocab - 2)) {
        nli_seterr("%s: the built-in merges are damaged (%lld tokens)", SRC_BUILTIN, id);
        goto fail;
    }
    if (nli_tok_vocab_add(t, "<|startoftext|>", 15, id, SRC_BUILTIN) ||
        nli_tok_vocab_add(t, "<|endoftext|>", 13, id + 1, SRC_BUILTIN) || nli_tok_vocab_done(t, SRC_BUILTIN) ||
        parse_merges(t, text, len, SRC_BUILTIN, 0) || nli_tok_finish(t, SRC_BUILTIN))
        goto fail;
    free(text);
    return t;
fail:
    free(text);
    nli_tokenizer_free(t);
    return NULL;
}

nli_tokenizer *nli_tokenizer_builtin(void) { return builtin(0); }

const char *nli_tokenizer_source(const nli_tokenizer *t) { return t ? t->source : ""; }

int32_t nli_tokenizer_token_id(const nli_tokenizer *t, const char *s, size_t n) {
    return t && s ? nli_tok_vocab_get(t, s, n) : -1;
}

nli_tokenizer *nli_tokenizer_for_folder(const char *dir, int openclip) {
    char *vocab = nli_path_join(dir, "vocab.json"), *merges = nli_path_join(dir, "merges.txt"),
         *json = nli_path_join(dir, "tokenizer.json");
    nli_tokenizer *t = NULL;
    if (!vocab || !merges || !json) goto done;
    int hv = nli_file_exists(vocab), hm = nli_file_exists(merges);
    if (hv && hm)
        t = load_files(vocab, merges, openclip);
    else if (hv || hm)
        nli_seterr_code(NL_ERR_IO, "%s: has %s but not %s (the CLIP tokenizer needs both)", dir,
                        hv ? "vocab.json" : "merges.txt", hv ? "merges.txt" : "vocab.json");
    else if (nli_file_exists(json))
        t = load_json(json, openclip);
    else if (openclip)
        t = builtin(openclip);
    else
        nli_seterr_code(NL_ERR_IO,
                        "%s: no tokenizer files: a Hugging Face CLIP folder has vocab.json + merges.txt "
                        "(transformers 4) or tokenizer.json (transformers 5)",
                        dir);
    /* open_clip reads no tokenizer_config.json / special_tokens_map.json
     * (LAION's pad_token "!" is transformers' alone) */
    if (t && (hv || !openclip) && nli_tok_added_from_folder(t, dir, !openclip)) {
        nli_tokenizer_free(t);
        t = NULL;
    }
    t = added_done(t, openclip);
done:
    free(vocab);
    free(merges);
    free(json);
    return t;
}

const char *nli_tok_json_type(json_t *o) {
    json_t *t = json_object_get(o, "type");
    return json_is_string(t) ? json_string_value(t) : "";
}

/* One id around the text: below limit, at most 8 on a side. */
static int post_id(json_t *v, int32_t *ids, size_t *n, int32_t limit, const char *path, const char *what) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= limit || *n == 8) {
        nli_seterr("%s: post_processor: %s: an id in 0..%d is needed (at most 8 around the text)", path, what,
                   (int)limit - 1);
        return -1;
    }
    ids[(*n)++] = (int32_t)json_integer_value(v);
    return 0;
}

int nli_tok_json_post(json_t *p, const char *path, int32_t limit, int32_t prefix[8], size_t *np, int32_t suffix[8],
                      size_t *ns) {
    if (!p || json_is_null(p)) return 0;
    const char *t = nli_tok_json_type(p);
    if (!strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")) { /* one id each side: [token, id] */
        json_t *cls = json_object_get(p, "cls"), *sep = json_object_get(p, "sep");
        if (json_array_size(cls) != 2 || json_array_size(sep) != 2) {
            nli_seterr("%s: post_processor.cls and .sep must be [token, id]", path);
            return -1;
        }
        return post_id(json_array_get(cls, 1), prefix, np, limit, path, "cls") ||
               post_id(json_array_get(sep, 1), suffix, ns, limit, path, "sep");
    }
    if (strcmp(t, "TemplateProcessing")) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: post_processor '%.40s' is not supported (TemplateProcessing, "
                        "BertProcessing, RobertaProcessing)", path, t);
        return -1;
    }
    json_t *single = json_object_get(p, "single"), *specials = json_object_get(p, "special_tokens");
    if (!json_is_array(single)) { nli_seterr("%s: post_processor: no single template", path); return -1; }
    int seen = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *e = json_array_get(single, i), *sp = json_object_get(e, "SpecialToken"), *sq = json_object_get(e, "Sequence");
        json_t *id = json_object_get(sp ? sp : sq, "id");
        if (!json_is_string(id) || (sq && (seen || strcmp(json_string_value(id), "A")))) {
            nli_seterr("%s: post_processor: the single template must hold $A once and special tokens", path);
            return -1;
        }
        if (sq) { seen = 1; continue; }
        json_t *list = json_object_get(json_object_get(specials, json_string_value(id)), "ids");
        if (!json_is_array(list)) {
            nli_seterr("%s: post_processor: special token '%.40s' has no ids", path, json_string_value(id));
            return -1;
        }
        for (size_t k = 0; k < json_array_size(list); k++)
            if (post_id(json_array_get(list, k), seen ? suffix : prefix, seen ? ns : np, limit, path,
                        json_string_value(id)))
                return -1;
    }
    if (!seen) { nli_seterr("%s: post_processor: the single template has no $A", path); return -1; }
    return 0;
}

int nli_tok_check_utf8(const char *text, size_t len) {
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (k < 1) {
            nli_seterr("text is not valid UTF-8 (byte %zu)", i);
            return -1;
        }
        i += (size_t)k;
    }
    return 0;
}
