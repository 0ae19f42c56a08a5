/* tokenizer_added_files.c — where a Hugging Face folder lists its added
 * tokens, read as transformers reads them (the first definition of a
 * content wins):
 *
 * - tokenizer.json's "added_tokens": [{"id", "content", "normalized",
 *   "single_word", "lstrip", "rstrip", "special"}, ...];
 * - tokenizer_config.json's "added_tokens_decoder": {"id": {"content", ...}};
 *   when it is there, transformers reads neither of the next two;
 * - added_tokens.json (transformers 4, beside vocab.json): {"content": id},
 *   normalized unless a special-token entry names it;
 * - special_tokens_map.json, then tokenizer_config.json: the special tokens
 *   they name (bos/eos/unk/sep/pad/cls/mask_token, the
 *   additional_special_tokens / extra_special_tokens lists), each a string
 *   (normalized false) or {"content": ..., flags}; their id is the one
 *   given above, else the vocabulary's. LAION's pad_token "!" is one.
 *
 * tokenizer_added.c checks and matches them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "tokenizer_impl.h"
#include "util.h"

static const char *const SPECIAL_KEYS[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                           "pad_token", "cls_token", "mask_token"};
static const char *const SPECIAL_LISTS[] = {"additional_special_tokens", "extra_special_tokens"};

/* A boolean field of an entry; absent or null: dflt. */
static int flag(json_t *e, const char *key, int dflt, int *out, const char *file, const char *where) {
    json_t *v = json_object_get(e, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v)) {
        nli_seterr("%s: %s: \"%s\" is not true or false", file, where, key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* One token: a string, or an object with "content" and flags. `special`:
 * the default of "special" (normalized defaults to its opposite, as
 * tokenizers' AddedToken). id -1: the vocabulary's. */
static int add_entry(nli_tokenizer *t, json_t *e, long long id, int special, const char *file, const char *where) {
    if (json_is_string(e))
        return nli_tok_added_add(t, json_string_value(e), json_string_length(e), id, 0, file);
    json_t *c = json_object_get(e, "content");
    if (!json_is_object(e) || !json_is_string(c)) {
        nli_seterr("%s: %s: expected a token: a string or {\"content\": string, ...}", file, where);
        return -1;
    }
    int normalized, single, lstrip, rstrip;
    if (flag(e, "special", special, &special, file, where) ||
        flag(e, "normalized", !special, &normalized, file, where) ||
        flag(e, "single_word", 0, &single, file, where) || flag(e, "lstrip", 0, &lstrip, file, where) ||
        flag(e, "rstrip", 0, &rstrip, file, where))
        return -1;
    /* lstrip and rstrip only move whitespace, which CLIP's split drops */
    int flags = (normalized ? NLI_ADDED_NORMALIZED : 0) | (single ? NLI_ADDED_SINGLE_WORD : 0);
    return nli_tok_added_add(t, json_string_value(c), json_string_length(c), id, flags, file);
}

int nli_tok_added_from_list(nli_tokenizer *t, json_t *list, const char *path) {
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list)) {
        nli_seterr("%s: added_tokens is not a list", path);
        return -1;
    }
    for (size_t k = 0; k < json_array_size(list); k++) {
        json_t *e = json_array_get(list, k), *c = json_object_get(e, "content"), *id = json_object_get(e, "id");
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%zu]", k);
        if (!json_is_string(c) || !json_is_integer(id)) {
            nli_seterr("%s: %s: expected {\"id\": integer, \"content\": string}", path, where);
            return -1;
        }
        if (add_entry(t, e, (long long)json_integer_value(id), 0, path, where)) return -1;
    }
    return 0;
}

/* tokenizer_config.json's added_tokens_decoder: {"0": {"content": "!", ...}}. */
static int from_decoder(nli_tokenizer *t, json_t *dec, const char *path) {
    if (!dec || json_is_null(dec)) return 0;
    if (!json_is_object(dec)) {
        nli_seterr("%s: added_tokens_decoder is not an object of id -> token", path);
        return -1;
    }
    const char *key;
    json_t *e;
    json_object_foreach(dec, key, e) {
        char *end = NULL, where[80];
        errno = 0;
        long long id = strtoll(key, &end, 10);
        snprintf(where, sizeof where, "added_tokens_decoder[\"%.40s\"]", key);
        if (!*key || *key == '-' || *key == '+' || *end || errno) {
            nli_seterr("%s: %s: the key is not a token id", path, where);
            return -1;
        }
        if (!json_is_object(e)) {
            nli_seterr("%s: %s: expected {\"content\": string, ...}", path, where);
            return -1;
        }
        if (add_entry(t, e, id, 0, path, where)) return -1;
    }
    return 0;
}

/* The content of a *_token value: a string or {"content": string}. */
static const char *content_of(json_t *e) {
    return json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "content"));
}

/* Each special token of root (tokenizer_config.json or
 * special_tokens_map.json): fn(e, key) for every *_token value and list
 * item; skip: a root whose *_token values take precedence (NULL: none). */
typedef int (*special_fn)(nli_tokenizer *t, json_t *e, const char *key, const char *path, void *arg);

static int each_special(nli_tokenizer *t, json_t *root, json_t *skip, const char *path, special_fn fn, void *arg) {
    if (!root) return 0;
    for (size_t k = 0; k < sizeof SPECIAL_KEYS / sizeof *SPECIAL_KEYS; k++) {
        json_t *e = json_object_get(root, SPECIAL_KEYS[k]), *o = skip ? json_object_get(skip, SPECIAL_KEYS[k]) : NULL;
        if (e && !json_is_null(e) && !(o && !json_is_null(o)) && fn(t, e, SPECIAL_KEYS[k], path, arg)) return -1;
    }
    for (size_t k = 0; k < sizeof SPECIAL_LISTS / sizeof *SPECIAL_LISTS; k++) {
        json_t *l = json_object_get(root, SPECIAL_LISTS[k]), *e;
        if (!l || json_is_null(l)) continue;
        if (!json_is_array(l) && !json_is_object(l)) {
            nli_seterr("%s: %s is not a list", path, SPECIAL_LISTS[k]);
            return -1;
        }
        const char *key;
        size_t i;
        if (json_is_array(l)) {
            json_array_foreach(l, i, e) if (fn(t, e, SPECIAL_LISTS[k], path, arg)) return -1;
        } else {
            json_object_foreach(l, key, e) if (fn(t, e, SPECIAL_LISTS[k], path, arg)) return -1;
        }
    }
    return 0;
}

static int add_special(nli_tokenizer *t, json_t *e, const char *key, const char *path, void *arg) {
    (void)arg;
    return add_entry(t, e, -1, 1, path, key);
}

/* Sets *(int *)arg when e's content is the one looked for (in arg[1]). */
static int is_named(nli_tokenizer *t, json_t *e, const char *key, const char *path, void *arg) {
    (void)t, (void)key, (void)path;
    const char *c = content_of(e), **want = arg;
    if (c && !strcmp(c, want[1])) want[0] = want[1];
    return 0;
}

/* dir/name parsed, or NULL: *rc 0 when absent, -1 on error. */
static json_t *optional(const char *dir, const char *name, char **path, int *rc) {
    *rc = 0;
    *path = nli_path_join(dir, name);
    if (!*path) {
        *rc = -1;
        return NULL;
    }
    if (!nli_file_exists(*path)) return NULL;
    json_t *root = nli_tok_read_json(*path, strcmp(name, "added_tokens.json") != 0); /* its ids are integers */
    if (!root) *rc = -1;
    else if (!json_is_object(root)) {
        nli_seterr("%s: expected a JSON object", *path);
        json_decref(root);
        root = NULL;
        *rc = -1;
    }
    return root;
}

/* added_tokens.json: {"content": id}; a token that a special-token entry
 * also names is special (normalized false), the others normalized, as
 * transformers reads it. */
static int from_added_json(nli_tokenizer *t, json_t *a, const char *path, json_t *cfg, json_t *map) {
    const char *key;
    json_t *val;
    json_object_foreach(a, key, val) {
        if (!json_is_integer(val)) {
            nli_seterr("%s: the id of \"%.40s\" is not an integer", path, key);
            return -1;
        }
        const char *want[2] = {NULL, key};
        each_special(t, cfg, NULL, "", is_named, want); /* errors come when they are added */
        each_special(t, map, NULL, "", is_named, want);
        if (nli_tok_added_add(t, key, strlen(key), (long long)json_integer_value(val),
                              want[0] ? 0 : NLI_ADDED_NORMALIZED, path))
            return -1;
    }
    return 0;
}

/* As transformers 5 (PreTrainedTokenizerBase.from_pretrained): a
 * tokenizer_config.json with added_tokens_decoder lists them all;
 * otherwise (older folders) special_tokens_map.json's *_token entries
 * replace tokenizer_config.json's, and added_tokens.json adds tokens. */
int nli_tok_added_from_folder(nli_tokenizer *t, const char *dir, int configs) {
    static const char *const names[3] = {"tokenizer_config.json", "added_tokens.json", "special_tokens_map.json"};
    char *path[3] = {NULL, NULL, NULL};
    json_t *root[3] = {NULL, NULL, NULL};
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++)
        if (configs || k == 1) root[k] = optional(dir, names[k], &path[k], &rc);
    json_t *dec = root[0] ? json_object_get(root[0], "added_tokens_decoder") : NULL;
    if (!rc && dec) {
        rc = from_decoder(t, dec, path[0]);
        json_decref(root[1]), json_decref(root[2]);
        root[1] = root[2] = NULL; /* not read then */
    }
    if (!rc && root[1]) rc = from_added_json(t, root[1], path[1], root[0], root[2]);
    if (!rc) rc = each_special(t, root[2], NULL, path[2], add_special, NULL);
    if (!rc) rc = each_special(t, root[0], root[2], path[0], add_special, NULL);
    for (int k = 0; k < 3; k++) {
        json_decref(root[k]);
        free(path[k]);
    }
    return rc;
}
