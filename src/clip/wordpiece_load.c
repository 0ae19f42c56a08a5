/* wordpiece_load.c — a WordPiece tokenizer's tables (encoding:
 * wordpiece.c), from a model folder as transformers 5 reads it, or from a
 * tokenizer.json as Hugging Face tokenizers reads it.
 *
 * transformers 5's BertTokenizer (ALIGN's tokenizer class) does not run a
 * tokenizer.json's pipeline: it takes the WordPiece vocabulary (from
 * tokenizer.json's model when the folder has one, else vocab.txt) and
 * builds its own around it from tokenizer_config.json: BertNormalizer
 * (clean_text, handle_chinese_chars = tokenize_chinese_chars, strip_accents,
 * lowercase = do_lower_case; defaults true, true, null, true),
 * BertPreTokenizer, WordPiece with unk_token, "##" and 100 characters,
 * TemplateProcessing "cls_token $A sep_token". Its added tokens are the
 * ones transformers reads (tokenizer_added_files.c, shared with the CLIP
 * tokenizer) plus BertTokenizer's own five specials when the config names
 * none. What neither runs as tokenizers does (single_word) is refused by
 * name (NL_ERR_UNSUPPORTED), never approximated. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "neglabel.h"
#include "tokenizer_impl.h"
#include "util.h"
#include "wordpiece.h"

#define VOCAB_TXT_MAX ((size_t)64 << 20)
#define CONFIG_MAX ((size_t)64 << 20)
#define MAX_ID (1 << 24)
#define PREFIX_MAX 64 /* bytes of a continuing-subword prefix */

static const char SRC_JSON[] = "tokenizer.json (WordPiece)", SRC_TXT[] = "vocab.txt (WordPiece)";

/* A boolean field; absent: dflt; null: null_ok ? -1 : an error. */
static int get_bool(json_t *o, const char *key, int dflt, int null_ok, int *out, const char *path, const char *what) {
    json_t *v = json_object_get(o, key);
    if (!v) { *out = dflt; return 0; }
    if (json_is_null(v) && null_ok) { *out = -1; return 0; }
    if (!json_is_boolean(v)) {
        nli_seterr("%s: %s%s%s is not a boolean", path, what, *what ? "." : "", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static void grow_size(nli_wordpiece *w, int32_t id) {
    if ((size_t)id + 1 > w->size) w->size = (size_t)id + 1;
}

/* ------------------------------------------------------------ the vocabulary */

/* tokenizer.json's model.vocab: {piece: id}. */
static int vocab_from_json(nli_wordpiece *w, json_t *vocab, const char *path) {
    if (!json_is_object(vocab) || json_object_size(vocab) == 0 || json_object_size(vocab) > MAX_ID) {
        nli_seterr("%s: model.vocab must be an object of 1 to %d piece -> id", path, MAX_ID);
        return -1;
    }
    const char *key;
    json_t *v;
    size_t bytes = 0;
    json_object_foreach(vocab, key, v) {
        size_t n = strlen(key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= MAX_ID || n > NLI_WP_PIECE_LEN) {
            nli_seterr("%s: model.vocab[\"%.40s\"]: a piece of at most %d bytes with an id in 0..%d is needed", path, key,
                       NLI_WP_PIECE_LEN, MAX_ID - 1);
            return -1;
        }
        bytes += n;
    }
    if (nli_trie_init(&w->vocab, bytes)) return -1;
    json_object_foreach(vocab, key, v) {
        int32_t id = (int32_t)json_integer_value(v);
        grow_size(w, id);
        if (*key) nli_trie_put(&w->vocab, key, strlen(key), id, 0); /* "" can match no word */
    }
    return 0;
}

/* The end of s[0..n) with its trailing whitespace trimmed (Rust's trim_end). */
static size_t trim_end(const char *s, size_t n) {
    size_t end = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        i += k < 1 ? 1 : (size_t)k;
        if (k < 1 || !nli_wp_is_space((uint32_t)c)) end = i;
    }
    return end;
}

/* vocab.txt as tokenizers' WordPiece::read_file reads it (transformers 5
 * hands it the file): line i (split at '\n', a last empty line not
 * counted) is the piece of id i with its trailing whitespace trimmed; a
 * piece listed twice keeps its last line's id. */
static int vocab_from_txt(nli_wordpiece *w, const char *data, size_t len, const char *path) {
    size_t line = 1, lines = 0, bytes = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)data + i, (utf8proc_ssize_t)(len - i), &c);
        if (k < 1) {
            nli_seterr("%s: line %zu: not valid UTF-8 (byte %zu)", path, line, i);
            return -1;
        }
        line += c == '\n';
        i += (size_t)k;
    }
    for (size_t pos = 0; pos < len; lines++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - data - pos) : len - pos, t = trim_end(data + pos, n);
        if (t > NLI_WP_PIECE_LEN || lines >= MAX_ID) {
            nli_seterr("%s: line %zu: %s", path, lines + 1,
                       t > NLI_WP_PIECE_LEN ? "a piece of more than 1,024 bytes" : "more than 16,777,216 pieces");
            return -1;
        }
        bytes += t;
        pos += n + 1;
    }
    if (lines == 0) {
        nli_seterr("%s: no pieces", path);
        return -1;
    }
    if (nli_trie_init(&w->vocab, bytes)) return -1;
    lines = 0;
    for (size_t pos = 0; pos < len; lines++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - data - pos) : len - pos, t = trim_end(data + pos, n);
        if (t) nli_trie_put(&w->vocab, data + pos, t, (int32_t)lines, 0);
        pos += n + 1;
    }
    w->size = lines;
    return 0;
}

/* A model section holds a WordPiece: its type, or (older files) its fields. */
static int is_wordpiece(json_t *model, const char *path) {
    json_t *type = json_object_get(model, "type");
    if (!json_is_object(model)) {
        nli_seterr("%s: no \"model\" object", path);
        return 0;
    }
    if (json_is_string(type) ? !strcmp(json_string_value(type), "WordPiece")
                             : !type && json_object_get(model, "max_input_chars_per_word"))
        return 1;
    nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: model type '%.40s' is not a WordPiece", path,
                    json_is_string(type) ? json_string_value(type) : "?");
    return 0;
}

/* ------------------------------------------------------------ added tokens */

/* The added tokens collected in t (tokenizer_added_files.c's readers),
 * their ids as transformers resolves them: a token without one takes the
 * vocabulary's (none: no_id); a piece of the vocabulary keeps its id; a new
 * token's id is no piece's and no other added token's. Normalized ones are
 * matched by their normalized content. */
static int take_added(nli_wordpiece *w, nli_tokenizer *t) {
    if (t->nadded == 0) return 0;
    const size_t vsize = w->size; /* the bitmap's: w->size grows with the added ids */
    uint8_t *used = nli_calloc(vsize / 8 + 1, 1);
    w->added = nli_calloc(t->nadded, sizeof *w->added);
    if (!used || !w->added) {
        free(used);
        return -1;
    }
    for (size_t k = 0; k < w->vocab.nnodes; k++)
        if (w->vocab.id[k] >= 0) used[w->vocab.id[k] / 8] |= (uint8_t)(1 << (w->vocab.id[k] % 8));
    int rc = 0;
    size_t bytes[2] = {0, 0};
    for (size_t k = 0; k < t->nadded && !rc; k++) {
        const nli_added *a = &t->added[k];
        nli_wp_added *b = &w->added[w->nadded];
        const char *why = NULL;
        int32_t v = nli_trie_get(&w->vocab, a->content, a->len);
        if (a->flags & NLI_ADDED_SINGLE_WORD) why = "single_word is not supported for a WordPiece tokenizer";
        else if (a->id >= 0 && v >= 0 && v != a->id) why = "the vocabulary gives this token another id";
        else if (a->id >= 0 && v < 0 && (size_t)a->id < vsize && (used[a->id / 8] >> (a->id % 8) & 1))
            why = "that id is another token's in the vocabulary";
        for (size_t j = 0; j < w->nadded && !why && a->id >= 0; j++)
            if (!w->added[j].no_id && w->added[j].id == a->id) why = "that id is another added token's";
        if (why) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token \"%.60s\" (id %lld): %s", a->file, a->content, a->id, why);
            rc = -1;
            break;
        }
        if (!(b->content = nli_strndup(a->content, a->len))) { rc = -1; break; }
        w->nadded++;
        b->len = a->len;
        b->id = a->id >= 0 ? (int32_t)a->id : v;
        b->no_id = b->id < 0;
        if (!b->no_id) grow_size(w, b->id);
        b->normalized = !!(a->flags & NLI_ADDED_NORMALIZED);
        b->match = b->content, b->mlen = b->len;
        if (b->normalized && nli_wp_normalize(w, b->content, b->len, &b->match, &b->mlen)) { rc = -1; break; }
        if (b->mlen == 0) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token \"%.60s\": nothing is left of it once normalized",
                            a->file, a->content);
            rc = -1;
        }
        bytes[b->normalized] += b->mlen;
    }
    free(used);
    for (int s = 0; s < 2 && !rc; s++) {
        if (!bytes[s]) continue;
        if (nli_trie_init(&w->atrie[s], bytes[s])) return -1;
        for (size_t k = 0; k < w->nadded; k++) /* two contents alike: the first */
            if (w->added[k].normalized == s)
                nli_trie_put(&w->atrie[s], w->added[k].match, w->added[k].mlen, (int32_t)k, 1);
    }
    return rc;
}

/* A token's id for the post-processor: the vocabulary's, else an added
 * token's; -1 with the error set. */
static int32_t special_id(const nli_wordpiece *w, const char *s, const char *file, const char *key) {
    int32_t id = nli_trie_get(&w->vocab, s, strlen(s));
    for (size_t k = 0; k < w->nadded && id < 0; k++)
        if (!w->added[k].no_id && !strcmp(w->added[k].content, s)) id = w->added[k].id;
    if (id < 0) nli_seterr("%s: %s \"%.60s\" is not in the vocabulary", file, key, s);
    return id;
}

/* ------------------------------------------------------------ tokenizer.json's own pipeline */

static int push_step(nli_wordpiece *w, int op, const char *path) {
    if (w->nnorm == NLI_WP_MAX_STEPS) {
        nli_seterr("%s: more than %d normalizer steps", path, NLI_WP_MAX_STEPS);
        return -1;
    }
    w->norm[w->nnorm++] = (uint8_t)op;
    return 0;
}

/* BertNormalizer's steps (strip_accents -1: as lowercase). */
static int bert_steps(nli_wordpiece *w, int clean, int chinese, int strip, int lower, const char *path) {
    if (strip < 0) strip = lower;
    return (clean && push_step(w, NLI_WP_CLEAN, path)) || (chinese && push_step(w, NLI_WP_CHINESE, path)) ||
           (strip && (push_step(w, NLI_WP_NFD, path) || push_step(w, NLI_WP_STRIP, path))) ||
           (lower && push_step(w, NLI_WP_LOWER, path)) ? -1 : 0;
}

static int add_norm(nli_wordpiece *w, json_t *n, const char *path, int depth) {
    const char *t = nli_tok_json_type(n);
    if (!strcmp(t, "Sequence") && depth < 4) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list)) {
            nli_seterr("%s: normalizer Sequence without a normalizers list", path);
            return -1;
        }
        for (size_t i = 0; i < json_array_size(list); i++)
            if (add_norm(w, json_array_get(list, i), path, depth + 1)) return -1;
        return 0;
    }
    if (!strcmp(t, "BertNormalizer")) {
        static const char *const keys[4] = {"clean_text", "handle_chinese_chars", "strip_accents", "lowercase"};
        int f[4];
        for (int k = 0; k < 4; k++) {
            if (!json_object_get(n, keys[k])) {
                nli_seterr("%s: normalizer BertNormalizer: no %s", path, keys[k]);
                return -1;
            }
            if (get_bool(n, keys[k], 0, k == 2, &f[k], path, "normalizer")) return -1;
        }
        return bert_steps(w, f[0], f[1], f[2], f[3], path);
    }
    if (!strcmp(t, "NFD")) return push_step(w, NLI_WP_NFD, path);
    if (!strcmp(t, "Lowercase")) return push_step(w, NLI_WP_LOWER, path);
    if (!strcmp(t, "StripAccents")) return push_step(w, NLI_WP_STRIP_MARKS, path);
    nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: normalizer '%.40s' is not supported (BertNormalizer, NFD, Lowercase, "
                    "StripAccents, Sequence)", path, t);
    return -1;
}

/* A scratch CLIP tokenizer that only collects added tokens (its readers
 * are transformers' rules); CLIP's two specials are not special here. */
static nli_tokenizer *collector(void) {
    nli_tokenizer *t = nli_tok_new("", 0);
    if (t) t->sot = t->eot = -2;
    return t;
}

nli_wordpiece *nli_wordpiece_load_json(const char *path) {
    uint64_t digest = 0;
    json_t *root = nli_tok_read_json_hashed(path, 0, &digest);
    nli_wordpiece *w = root ? nli_calloc(1, sizeof *w) : NULL;
    nli_tokenizer *t = w ? collector() : NULL;
    json_t *model = json_object_get(root, "model"), *unk = json_object_get(model, "unk_token"),
           *cont = json_object_get(model, "continuing_subword_prefix"), *max = json_object_get(model, "max_input_chars_per_word");
    int rc = t ? 0 : -1;
    if (!rc) {
        w->digest = digest, w->source = SRC_JSON, w->split = 1, w->unk_id = -1;
        rc = is_wordpiece(model, path) ? vocab_from_json(w, json_object_get(model, "vocab"), path) : -1;
    }
    if (!rc && (!json_is_string(unk) || !json_is_string(cont) || json_string_length(cont) > PREFIX_MAX ||
                !json_is_integer(max) || json_integer_value(max) < 0)) {
        nli_seterr("%s: model: unk_token, continuing_subword_prefix (at most %d bytes) and max_input_chars_per_word "
                   "(an integer >= 0) are needed", path, PREFIX_MAX);
        rc = -1;
    }
    if (!rc) {
        w->max_chars = (size_t)json_integer_value(max);
        w->cont = nli_trie_walk(&w->vocab, json_string_value(cont), json_string_length(cont));
        if ((w->unk_id = special_id(w, json_string_value(unk), path, "model.unk_token")) < 0) rc = -1;
    }
    json_t *norm = json_object_get(root, "normalizer"), *pre = json_object_get(root, "pre_tokenizer");
    if (!rc && norm && !json_is_null(norm)) rc = add_norm(w, norm, path, 0);
    if (!rc && pre && !json_is_null(pre) && strcmp(nli_tok_json_type(pre), "BertPreTokenizer")) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: pre_tokenizer '%.40s' is not supported (BertPreTokenizer)", path,
                        nli_tok_json_type(pre));
        rc = -1;
    }
    if (!rc) w->split = pre && !json_is_null(pre);
    const char *const cut[2] = {"truncation", "padding"};
    for (int k = 0; k < 2 && !rc; k++) {
        json_t *v = json_object_get(root, cut[k]);
        if (v && !json_is_null(v)) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: %s is set: not supported (the model cuts texts itself)", path, cut[k]);
            rc = -1;
        }
    }
    if (!rc) {
        rc = nli_tok_json_post(json_object_get(root, "post_processor"), path, MAX_ID, w->prefix, &w->nprefix,
                               w->suffix, &w->nsuffix);
        for (size_t k = 0; !rc && k < w->nprefix + w->nsuffix; k++)
            grow_size(w, k < w->nprefix ? w->prefix[k] : w->suffix[k - w->nprefix]);
    }
    if (!rc) rc = nli_tok_added_from_list(t, json_object_get(root, "added_tokens"), path) || take_added(w, t);
    json_decref(root);
    nli_tokenizer_free(t);
    if (rc) {
        nli_wordpiece_free(w);
        return NULL;
    }
    return w;
}

/* ------------------------------------------------------------ a folder, as transformers 5 */

/* dir/name parsed when it is there; *rc -1 on error. */
static json_t *optional_json(const char *dir, const char *name, char **path, int *rc) {
    *path = nli_path_join(dir, name);
    if (!*path) { *rc = -1; return NULL; }
    if (!nli_file_exists(*path)) return NULL;
    json_t *root = nli_tok_read_json(*path, 1);
    if (root && !json_is_object(root)) {
        nli_seterr("%s: expected a JSON object", *path);
        json_decref(root);
        root = NULL;
    }
    if (!root) *rc = -1;
    return root;
}

/* A special token's content as BertTokenizer gets it: special_tokens_map.json's
 * entry over tokenizer_config.json's (when the config has no
 * added_tokens_decoder), else BertTokenizer's default; NULL: error set. */
static const char *special(json_t *cfg, json_t *map, const char *cfgpath, const char *mappath, const char *key,
                           const char *dflt) {
    json_t *v = map ? json_object_get(map, key) : NULL;
    const char *file = v ? mappath : cfgpath;
    if (!v && cfg) v = json_object_get(cfg, key);
    if (!v) return dflt;
    const char *c = json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "content"));
    if (!c || !*c) nli_seterr("%s: %s is not a token (a string or {\"content\": ...})%s", file, key,
                              json_is_null(v) ? ": null, which BertTokenizer cannot take" : "");
    return c && *c ? c : NULL;
}

/* The files' bytes into the digest, each after its name. */
static int digest_file(const char *dir, const char *name, uint64_t *h) {
    char *path = nli_path_join(dir, name), *data = NULL;
    size_t len = 0;
    int rc = path ? 0 : -1;
    if (!rc && nli_file_exists(path) && !(rc = nli_read_file(path, CONFIG_MAX, &data, &len)))
        *h = nli_fnv1a(data, len, nli_fnv1a(name, strlen(name), *h));
    free(path);
    free(data);
    return rc;
}

static const char *const SPECIALS[5][2] = {{"unk_token", "[UNK]"}, {"sep_token", "[SEP]"}, {"pad_token", "[PAD]"},
                                           {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}};

/* The vocabulary (tokenizer.json's or vocab.txt) into w; *json: tokenizer.json
 * parsed, *vpath: the file's path (the caller frees both). */
static int folder_vocab(nli_wordpiece *w, const char *dir, json_t **json, char **vpath) {
    char *jp = nli_path_join(dir, "tokenizer.json"), *tp = nli_path_join(dir, "vocab.txt"), *data = NULL;
    size_t len = 0;
    int rc = jp && tp ? 0 : -1;
    if (!rc && nli_file_exists(jp)) {
        w->source = SRC_JSON;
        *json = nli_tok_read_json_hashed(jp, 0, &w->digest);
        json_t *model = json_object_get(*json, "model");
        rc = *json && is_wordpiece(model, jp) ? vocab_from_json(w, json_object_get(model, "vocab"), jp) : -1;
    } else if (!rc && nli_file_exists(tp)) {
        w->source = SRC_TXT;
        rc = nli_read_file(tp, VOCAB_TXT_MAX, &data, &len);
        if (!rc) w->digest = nli_fnv1a(data, len, NL_FNV_INIT), rc = vocab_from_txt(w, data, len, tp);
    } else if (!rc) {
        nli_seterr_code(NL_ERR_IO, "%s: neither tokenizer.json nor vocab.txt (a BERT tokenizer needs one)", dir);
        rc = -1;
    }
    *vpath = w->source == SRC_JSON ? jp : tp;
    free(w->source == SRC_JSON ? tp : jp);
    free(data);
    return rc;
}

nli_wordpiece *nli_wordpiece_load_dir(const char *dir) {
    char *cfgpath = NULL, *mappath = NULL, *vpath = NULL;
    json_t *json = NULL, *map = NULL;
    int rc = 0;
    json_t *cfg = optional_json(dir, "tokenizer_config.json", &cfgpath, &rc);
    if (!rc) map = optional_json(dir, "special_tokens_map.json", &mappath, &rc);
    json_t *cls = json_object_get(cfg, "tokenizer_class"), *dec = json_object_get(cfg, "added_tokens_decoder");
    if (!rc && cls && !json_is_null(cls) &&
        !(json_is_string(cls) && (!strcmp(json_string_value(cls), "BertTokenizer") ||
                                  !strcmp(json_string_value(cls), "BertTokenizerFast")))) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: tokenizer_class '%.60s' is not supported (BertTokenizer)", cfgpath,
                        json_is_string(cls) ? json_string_value(cls) : "?");
        rc = -1;
    }
    if (dec) map = (json_decref(map), NULL); /* transformers reads the map only without added_tokens_decoder */
    nli_wordpiece *w = rc ? NULL : nli_calloc(1, sizeof *w);
    nli_tokenizer *t = w ? collector() : NULL;
    rc = t ? folder_vocab(w, dir, &json, &vpath) : -1;
    static const char *const configs[3] = {"tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"};
    for (int k = 0; k < 3 && !rc; k++) rc = digest_file(dir, configs[k], &w->digest);
    int lower = 1, chinese = 1, strip = -1;
    if (!rc && cfg)
        rc = get_bool(cfg, "do_lower_case", 1, 0, &lower, cfgpath, "") || get_bool(cfg, "strip_accents", -1, 1, &strip, cfgpath, "") ||
             get_bool(cfg, "tokenize_chinese_chars", 1, 0, &chinese, cfgpath, "");
    if (!rc) {
        w->split = 1, w->max_chars = 100, w->cont = nli_trie_walk(&w->vocab, "##", 2);
        rc = bert_steps(w, 1, chinese, strip, lower, dir);
    }
    const char *name[5] = {NULL};
    for (int k = 0; k < 5 && !rc; k++)
        if (!(name[k] = special(cfg, map, cfgpath, mappath, SPECIALS[k][0], SPECIALS[k][1]))) rc = -1;
    /* the added tokens, in transformers' order; BertTokenizer's specials last */
    if (!rc && !dec && json) rc = nli_tok_added_from_list(t, json_object_get(json, "added_tokens"), vpath);
    if (!rc) rc = nli_tok_added_from_folder(t, dir, 1);
    for (int k = 0; k < 5 && !rc; k++)
        if (name[k] == SPECIALS[k][1] && nli_tok_added_add(t, name[k], strlen(name[k]), -1, 0, "BertTokenizer's defaults"))
            rc = -1;
    if (!rc) rc = take_added(w, t);
    if (!rc && (w->unk_id = nli_trie_get(&w->vocab, name[0], strlen(name[0]))) < 0) {
        nli_seterr("%s: unk_token \"%.60s\" is not in the vocabulary", vpath, name[0]);
        rc = -1;
    }
    if (!rc && ((w->prefix[0] = special_id(w, name[3], vpath, "cls_token")) < 0 ||
                (w->suffix[0] = special_id(w, name[1], vpath, "sep_token")) < 0))
        rc = -1;
    if (!rc) w->nprefix = w->nsuffix = 1;
    json_decref(cfg), json_decref(map), json_decref(json);
    free(cfgpath), free(mappath), free(vpath);
    nli_tokenizer_free(t);
    if (rc) {
        nli_wordpiece_free(w);
        return NULL;
    }
    return w;
}

void nli_wordpiece_free(nli_wordpiece *w) {
    if (!w) return;
    nli_trie_free(&w->vocab);
    for (int s = 0; s < 2; s++) nli_trie_free(&w->atrie[s]);
    for (size_t k = 0; k < w->nadded; k++) {
        if (w->added[k].match != w->added[k].content) free(w->added[k].match);
        free(w->added[k].content);
    }
    free(w->added);
    free(w);
}

size_t nli_wordpiece_vocab_size(const nli_wordpiece *w) { return w ? w->size : 0; }
uint64_t nli_wordpiece_digest(const nli_wordpiece *w) { return w->digest; }
int32_t nli_wordpiece_last_suffix(const nli_wordpiece *w) { return w->nsuffix ? w->suffix[w->nsuffix - 1] : -1; }
const char *nli_wordpiece_source(const nli_wordpiece *w) { return w->source; }
