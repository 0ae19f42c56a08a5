/* spm_load.c — a SigLIP tokenizer folder as transformers 5.25 loads it
 * (AutoTokenizer -> SiglipTokenizer.from_pretrained): spiece.model
 * (spm_proto.c, spm_model.c), then the settings and the added and special
 * tokens as PreTrainedTokenizerBase._from_pretrained, SiglipTokenizer,
 * SentencePieceBackend and PythonBackend build them. Their dictionary
 * steps on init_kwargs are replayed on a JSON copy of
 * tokenizer_config.json, in their order:
 *
 * - additional_special_tokens becomes extra_special_tokens unless that is
 *   set; the other "*_token" keys with a string value (and a dict
 *   extra_special_tokens) become model-specific special tokens;
 * - with added_tokens_decoder, the config's tokens are the added tokens
 *   and nothing else is read; without it, special_tokens_map.json's
 *   entries replace the config's, then added_tokens.json and
 *   tokenizer.json's "added_tokens" give added tokens;
 * - {"__type": "AddedToken", ...} values become AddedTokens;
 * - SiglipTokenizer's defaults: eos "</s>", unk "<unk>", pad "</s>",
 *   do_lower_case true; legacy false turns add_dummy_prefix off;
 * - the special tokens (bos eos unk sep pad cls mask, the model-specific
 *   ones, the extra ones) that are not added tokens yet are added: a
 *   piece of the model keeps its id, another gets the next id past the
 *   vocabulary (with lstrip, rstrip, single_word false: the flags of a
 *   special token only come from added_tokens_decoder).
 *
 * What transformers would fail on is refused (NL_ERR_INVALID); what it
 * would run in a way neglabel does not (another tokenizer class,
 * sp_model_kwargs, a tokenizer.model beside spiece.model, added tokens
 * whose ids contradict the model) is refused by name
 * (NL_ERR_UNSUPPORTED). */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "spm_impl.h"
#include "tokenizer_impl.h"

static const char *const NAMED[7] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                     "pad_token", "cls_token", "mask_token"};
static const char *const SIGLIP_DEFAULT[7] = {NULL, "</s>", "<unk>", NULL, "</s>", NULL, NULL};
static const char *const FLAGS[5] = {"single_word", "lstrip", "rstrip", "normalized", "special"};

typedef struct {
    const char *s; /* in one of the JSON documents, alive while loading */
    size_t n;
    int single_word, lstrip, rstrip;
} tok;

typedef struct {
    long long id;
    tok t;
    const char *file;
} entry;

typedef struct {
    const char *dir, *cfg; /* cfg: tokenizer_config.json's path, else the folder (messages) */
    char *path[5];  /* tokenizer_config.json, special_tokens_map.json, added_tokens.json, tokenizer.json, spiece.model */
    json_t *doc[4];
    json_t *kw;     /* init_kwargs */
    json_t *ms;     /* model-specific special tokens, in order */
    entry *dec;     /* added_tokens_decoder, in order */
    size_t ndec, deccap;
    nli_spm_proto proto;
    char *model;    /* spiece.model's bytes */
    size_t model_len;
    nli_spm *s;
} loader;

enum { CFG, MAP, ADDED, TJSON, MODEL };
static const char *const FILES[5] = {"tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                                     "tokenizer.json", "spiece.model"};

/* Python's truthiness of a JSON value (absent: false). */
static int truthy(json_t *v) {
    if (!v || json_is_null(v) || json_is_false(v)) return 0;
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    if (json_is_real(v)) return json_real_value(v) != 0.0;
    if (json_is_string(v)) return json_string_length(v) != 0;
    if (json_is_array(v)) return json_array_size(v) != 0;
    if (json_is_object(v)) return json_object_size(v) != 0;
    return 1;
}

static int is_named(const char *key) {
    for (int k = 0; k < 7; k++)
        if (!strcmp(key, NAMED[k])) return 1;
    return 0;
}

static int ends_with_token(const char *key) {
    size_t n = strlen(key);
    return n >= 6 && !strcmp(key + n - 6, "_token");
}

/* AddedToken(**o): a string content and flags that are booleans or null;
 * `also`: one more key that may be there, not passed on (a serialized
 * token's "__type", tokenizer.json's "id"), or NULL. */
static int added_token(json_t *o, const char *also, tok *t, const char *file, const char *where) {
    const char *key;
    json_t *v;
    memset(t, 0, sizeof *t);
    if (!json_is_object(o)) {
        nli_seterr("%s: %s: not an AddedToken object (transformers fails)", file, where);
        return -1;
    }
    json_object_foreach(o, key, v) {
        int known = !strcmp(key, "content") || (also && !strcmp(key, also));
        for (int k = 0; k < 5 && !known; k++) known = !strcmp(key, FLAGS[k]);
        if (!known) {
            nli_seterr("%s: %s: \"%.40s\" is not an AddedToken field (transformers fails)", file, where, key);
            return -1;
        }
        if (strcmp(key, "content") && !(also && !strcmp(key, also)) && !json_is_boolean(v) && !json_is_null(v)) {
            nli_seterr("%s: %s: %s is not true, false or null", file, where, key);
            return -1;
        }
    }
    json_t *c = json_object_get(o, "content");
    if (!json_is_string(c)) {
        nli_seterr("%s: %s: an AddedToken without a string \"content\"", file, where);
        return -1;
    }
    t->s = json_string_value(c);
    t->n = json_string_length(c);
    t->single_word = json_is_true(json_object_get(o, "single_word"));
    t->lstrip = json_is_true(json_object_get(o, "lstrip"));
    t->rstrip = json_is_true(json_object_get(o, "rstrip"));
    return 0;
}

static int is_added_token(json_t *v) {
    json_t *ty = json_object_get(v, "__type");
    return json_is_object(v) && json_is_string(ty) && !strcmp(json_string_value(ty), "AddedToken");
}

/* A special token's value once transformers has it: a string or an
 * AddedToken; 1 with its content, 0 for None, -1 (error set) else. */
static int token_value(json_t *v, tok *t, const char *file, const char *key) {
    memset(t, 0, sizeof *t);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        t->s = json_string_value(v), t->n = json_string_length(v);
        return 1;
    }
    if (is_added_token(v)) return added_token(v, "__type", t, file, key) ? -1 : 1;
    nli_seterr("%s: %s is neither a string nor an AddedToken (transformers fails)", file, key);
    return -1;
}

static int dec_add(loader *L, long long id, const tok *t, const char *file) {
    if (t->n == 0 || t->n > NLI_SPM_ADDED_LEN || strlen(t->s) != t->n || nli_tok_check_utf8(t->s, t->n)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token \"%.60s\": empty, longer than %d bytes or with a NUL",
                        file, t->s, NLI_SPM_ADDED_LEN);
        return -1;
    }
    if (id < 0 || id >= NLI_SPM_MAX_ID) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token \"%.60s\": id %lld is outside 0..%d", file, t->s, id,
                        NLI_SPM_MAX_ID - 1);
        return -1;
    }
    for (size_t k = 0; k < L->ndec; k++)
        if (L->dec[k].id == id) { /* a dict: the later token takes the id's place */
            L->dec[k].t = *t, L->dec[k].file = file;
            return 0;
        }
    if (L->ndec >= NLI_SPM_ADDED_MAX) {
        nli_seterr("%s: more than %d added tokens", file, NLI_SPM_ADDED_MAX);
        return -1;
    }
    if (L->ndec == L->deccap && nli_grow((void **)&L->dec, &L->deccap, L->ndec + 1, sizeof *L->dec)) return -1;
    L->dec[L->ndec++] = (entry){id, *t, file};
    return 0;
}

/* ------------------------------------------------------------ _from_pretrained */

/* tokenizer_config.json's added_tokens_decoder: {"id": {AddedToken}}. */
static int from_decoder(loader *L, json_t *dec) {
    const char *file = L->path[CFG], *key;
    json_t *v;
    if (!json_is_object(dec)) {
        nli_seterr("%s: added_tokens_decoder is not an object of id -> token", file);
        return -1;
    }
    json_object_foreach(dec, key, v) {
        char where[80];
        tok t;
        size_t n = strlen(key);
        snprintf(where, sizeof where, "added_tokens_decoder[\"%.40s\"]", key);
        if (n == 0 || n > 9 || strspn(key, "0123456789") != n) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: %s: the key is not a token id (digits)", file, where);
            return -1;
        }
        if (added_token(v, NULL, &t, file, where) || dec_add(L, atoll(key), &t, file)) return -1;
    }
    return 0;
}

/* special_tokens_map.json over init_kwargs (no added_tokens_decoder). */
static int from_map(loader *L, json_t *map) {
    const char *file = L->path[MAP], *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        json_t *val = json_incref(v);
        tok t;
        if (json_is_object(v) && strcmp(key, "extra_special_tokens")) { /* AddedToken(**value, special=True) */
            json_t *c = json_deep_copy(v);
            json_object_del(c, "special");
            int rc = added_token(c, NULL, &t, file, key);
            if (!rc) rc = json_object_set_new(c, "__type", json_string("AddedToken"));
            json_decref(val);
            val = c;
            if (rc) {
                json_decref(val);
                return -1;
            }
        } else if (!strcmp(key, "extra_special_tokens") && json_is_array(v)) {
            json_t *old = json_object_get(L->kw, "extra_special_tokens"), *list = json_array(), *e;
            size_t i;
            if (truthy(old) && !json_is_array(old)) {
                json_decref(list), json_decref(val);
                nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: extra_special_tokens is not a list", L->cfg);
                return -1;
            }
            if (json_is_array(old)) json_array_extend(list, old);
            json_array_foreach(v, i, e) {
                json_t *x = json_incref(e);
                if (json_is_object(e)) {
                    json_decref(x);
                    x = json_deep_copy(e);
                    json_object_del(x, "special");
                    if (added_token(x, NULL, &t, file, "extra_special_tokens") ||
                        json_object_set_new(x, "__type", json_string("AddedToken"))) {
                        json_decref(x), json_decref(list), json_decref(val);
                        return -1;
                    }
                }
                json_array_append_new(list, x);
            }
            json_decref(val);
            val = list;
        }
        json_object_set_new(L->kw, key, val);
    }
    return 0;
}

/* added_tokens.json: {"content": id}. */
static int from_added_json(loader *L, json_t *a) {
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) {
        if (!json_is_integer(v)) {
            nli_seterr("%s: the id of \"%.40s\" is not an integer", L->path[ADDED], key);
            return -1;
        }
        tok t = {key, strlen(key), 0, 0, 0};
        if (dec_add(L, (long long)json_integer_value(v), &t, L->path[ADDED])) return -1;
    }
    return 0;
}

/* tokenizer.json's "added_tokens": [{"id", AddedToken...}]. */
static int from_tokenizer_json(loader *L, json_t *root) {
    json_t *list = json_object_get(root, "added_tokens");
    size_t count = json_array_size(list);
    int rc = json_is_array(list) ? 0 : -1;
    if (rc) nli_seterr("%s: no \"added_tokens\" list (transformers fails)", L->path[TJSON]);
    for (size_t i = 0; i < count && !rc; i++) { /* {"id": n, AddedToken...} */
        char where[48];
        json_t *e = json_array_get(list, i), *id = json_object_get(e, "id");
        tok t;
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        rc = added_token(e, "id", &t, L->path[TJSON], where);
        if (!rc && !json_is_integer(id)) {
            nli_seterr("%s: %s: no integer \"id\" (transformers fails)", L->path[TJSON], where);
            rc = -1;
        }
        if (!rc) rc = dec_add(L, (long long)json_integer_value(id), &t, L->path[TJSON]);
    }
    return rc;
}

/* convert_added_tokens: every {"__type": "AddedToken"} in v must be one. */
static int check_added_tokens(json_t *v, const char *file, int depth) {
    if (depth > 64) return 0;
    if (is_added_token(v)) {
        tok t;
        return added_token(v, "__type", &t, file, "an AddedToken");
    }
    const char *key;
    json_t *e;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, e) if (check_added_tokens(e, file, depth + 1)) return -1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e) if (check_added_tokens(e, file, depth + 1)) return -1;
    }
    return 0;
}

/* The steps of _from_pretrained on init_kwargs (L->kw, from the config). */
static int from_pretrained(loader *L) {
    json_t *kw = L->kw, *v;
    const char *key, *cfg = L->cfg;
    void *tmp;
    json_object_del(kw, "tokenizer_class");
    v = json_object_get(kw, "init_inputs");
    if (v && !(json_is_array(v) && json_array_size(v) == 0)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: init_inputs is set: not supported", cfg);
        return -1;
    }
    json_object_del(kw, "init_inputs");
    if (json_object_get(kw, "fast_tokenizer_files")) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: fast_tokenizer_files is set: not supported", cfg);
        return -1;
    }
    if ((v = json_object_get(kw, "additional_special_tokens")) && !truthy(json_object_get(kw, "extra_special_tokens"))) {
        json_object_set(kw, "extra_special_tokens", v);
        json_object_del(kw, "additional_special_tokens");
    }
    json_object_foreach_safe(kw, tmp, key, v) {
        if (!is_named(key) && ends_with_token(key) && json_is_string(v)) {
            json_object_set(L->ms, key, v);
            json_object_del(kw, key);
        }
    }
    if (json_is_object(v = json_object_get(kw, "extra_special_tokens"))) {
        json_object_update(L->ms, v);
        json_object_del(kw, "extra_special_tokens");
    }
    json_t *dec = json_object_get(kw, "added_tokens_decoder");
    int rc = 0;
    if (dec) { /* the tokens' strings stay in the config's own document */
        rc = from_decoder(L, json_object_get(L->doc[CFG], "added_tokens_decoder"));
        json_object_del(kw, "added_tokens_decoder");
    } else {
        if (L->doc[MAP]) rc = from_map(L, L->doc[MAP]);
        if (!rc && json_is_object(v = json_object_get(kw, "extra_special_tokens"))) {
            json_object_update(L->ms, v);
            json_object_del(kw, "extra_special_tokens");
        }
        if (!rc && L->doc[ADDED]) rc = from_added_json(L, L->doc[ADDED]);
        if (!rc && L->doc[TJSON]) rc = from_tokenizer_json(L, L->doc[TJSON]);
    }
    if (!rc) rc = check_added_tokens(kw, cfg, 0) || check_added_tokens(L->ms, cfg, 0);
    return rc;
}

/* ------------------------------------------------------------ the tokenizer's special tokens */

typedef struct {
    tok *v;
    size_t n, cap;
} toklist;

static int list_add(toklist *l, const tok *t) {
    for (size_t k = 0; k < l->n; k++)
        if (l->v[k].n == t->n && !memcmp(l->v[k].s, t->s, t->n)) return 0; /* all_special_tokens: unique */
    if (l->n >= NLI_SPM_ADDED_MAX) {
        nli_seterr("more than %d special tokens", NLI_SPM_ADDED_MAX);
        return -1;
    }
    if (l->n == l->cap && nli_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v)) return -1;
    l->v[l->n++] = *t;
    return 0;
}

/* all_special_tokens, in order: the named ones (SiglipTokenizer's
 * defaults where the key is absent), the model-specific ones (those
 * PreTrainedTokenizerBase finds among the keyword arguments first), the
 * extra ones. named[2]: unk_token, [1] eos, [4] pad. */
static int special_tokens(loader *L, toklist *all, tok named[7]) {
    const char *cfg = L->cfg, *key;
    json_t *kw = L->kw, *v;
    for (int k = 0; k < 7; k++) {
        json_t *val = json_object_get(kw, NAMED[k]), *dflt = NULL;
        if (!val && SIGLIP_DEFAULT[k]) val = dflt = json_string(SIGLIP_DEFAULT[k]);
        int rc = token_value(val, &named[k], cfg, NAMED[k]);
        if (rc > 0 && dflt) named[k].s = SIGLIP_DEFAULT[k];
        json_decref(dflt);
        if (rc < 0 || (rc > 0 && list_add(all, &named[k]))) return -1;
    }
    json_t *explicit = json_object_size(L->ms) ? L->ms : json_object_get(kw, "model_specific_special_tokens");
    if (explicit && !json_is_null(explicit) && !json_is_object(explicit)) {
        nli_seterr("%s: model_specific_special_tokens is not an object (transformers fails)", cfg);
        return -1;
    }
    json_object_foreach(kw, key, v) { /* found among the keyword arguments */
        tok t;
        if (is_named(key) || !ends_with_token(key) || json_object_get(explicit, key)) continue;
        if ((json_is_string(v) || is_added_token(v)) && (token_value(v, &t, cfg, key) < 0 || list_add(all, &t)))
            return -1;
    }
    json_object_foreach(explicit, key, v) {
        tok t;
        if (token_value(v, &t, cfg, key) <= 0 || list_add(all, &t)) {
            if (json_is_null(v)) nli_seterr("%s: %s is null (transformers fails)", cfg, key);
            return -1;
        }
    }
    /* extra_special_tokens, or the Siglip argument additional_special_tokens in its place */
    json_t *extra = json_object_get(kw, "extra_special_tokens"), *e;
    if (!extra) extra = json_object_get(kw, "additional_special_tokens");
    if (!extra || json_is_null(extra)) return 0;
    if (!json_is_array(extra)) {
        nli_seterr("%s: extra_special_tokens is not a list (transformers fails)", cfg);
        return -1;
    }
    size_t i;
    json_array_foreach(extra, i, e) {
        tok t;
        if (!json_is_string(e) && !is_added_token(e)) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: extra_special_tokens[%zu] is neither a string nor an AddedToken "
                            "(transformers would take its Python repr as the token)", cfg, i);
            return -1;
        }
        if (token_value(e, &t, cfg, "extra_special_tokens") < 0 || list_add(all, &t)) return -1;
    }
    return 0;
}

/* sentencepiece's piece_to_id when IdToPiece gives the string back (the
 * model's piece), else -1. */
static int32_t base_id(const loader *L, const char *s, size_t n) {
    const nli_spm *m = L->s;
    int32_t r = nli_trie_get(&m->reserved, s, n), p = nli_trie_get(&m->pieces, s, n),
            id = r >= 0 ? r : p >= 0 ? p : m->unk_id;
    const nli_spm_str *q = &L->proto.piece[id];
    return q->n == n && !memcmp(q->s, s, n) ? id : -1;
}

static int added_push(nli_spm *s, const tok *t, long long id, int special) {
    nli_spm_added *a = &s->added[s->nadded];
    if (!(a->s = nli_strndup(t->s, t->n))) return -1;
    s->nadded++;
    a->len = t->n, a->id = (int32_t)id;
    a->lstrip = (uint8_t)t->lstrip, a->rstrip = (uint8_t)t->rstrip, a->single_word = (uint8_t)t->single_word;
    a->special = (uint8_t)special;
    if ((size_t)id + 1 > s->size) s->size = (size_t)id + 1;
    return 0;
}

/* PythonBackend: the decoder's tokens, then the special tokens not among
 * them (_add_tokens); the encoder's trie. */
static int take_tokens(loader *L, const toklist *all) {
    nli_spm *s = L->s;
    size_t distinct = s->npieces, past = 0, bytes = 0;
    for (size_t i = 0; i < L->proto.n; i++) { /* a string both CONTROL and NORMAL is one key of get_vocab() */
        const nli_spm_str *q = &L->proto.piece[i];
        int t = L->proto.type[i];
        if ((t == SPM_CONTROL || t == SPM_UNKNOWN || t == SPM_BYTE) && nli_trie_get(&s->pieces, (const char *)q->s, q->n) >= 0)
            distinct--;
    }
    if (!(s->added = nli_calloc(L->ndec + all->n + 1, sizeof *s->added))) return -1;
    for (size_t k = 0; k < L->ndec; k++) {
        const entry *d = &L->dec[k];
        int32_t b = base_id(L, d->t.s, d->t.n);
        const char *why = NULL;
        if (d->id < (long long)s->npieces && (b != d->id))
            why = "its id is another piece's in spiece.model";
        else if (d->id >= (long long)s->npieces && b >= 0)
            why = "spiece.model has it under another id";
        for (size_t j = 0; j < k && !why; j++)
            if (L->dec[j].t.n == d->t.n && !memcmp(L->dec[j].t.s, d->t.s, d->t.n)) why = "it is listed under two ids";
        if (why) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: added token \"%.60s\" (id %lld): %s", d->file, d->t.s, d->id, why);
            return -1;
        }
        past += d->id >= (long long)s->npieces;
        bytes += d->t.n;
    }
    for (size_t k = 0; k < L->ndec; k++) {
        int special = 0;
        for (size_t j = 0; j < all->n && !special; j++)
            special = all->v[j].n == L->dec[k].t.n && !memcmp(all->v[j].s, L->dec[k].t.s, L->dec[k].t.n);
        if (added_push(s, &L->dec[k].t, L->dec[k].id, special)) return -1;
    }
    /* _add_tokens: the special tokens the decoder lacks; next_index is len(self) */
    long long next = (long long)(distinct + past);
    for (size_t k = 0; k < all->n; k++) {
        const tok *t = &all->v[k];
        size_t j = 0;
        while (j < L->ndec && !(L->dec[j].t.n == t->n && !memcmp(L->dec[j].t.s, t->s, t->n))) j++;
        if (j < L->ndec) continue;
        if (t->n == 0 || t->n > NLI_SPM_ADDED_LEN || strlen(t->s) != t->n || nli_tok_check_utf8(t->s, t->n)) {
            nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: special token \"%.60s\": empty, longer than %d bytes or with a NUL",
                            L->cfg, t->s, NLI_SPM_ADDED_LEN);
            return -1;
        }
        int32_t b = base_id(L, t->s, t->n);
        long long id = b >= 0 ? b : next++;
        for (size_t i = 0; i < L->ndec && b < 0; i++)
            if (L->dec[i].id == id) {
                nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: special token \"%.60s\" would take id %lld, added token "
                                "\"%.60s\"'s", L->cfg, t->s, id, L->dec[i].t.s);
                return -1;
            }
        tok plain = {t->s, t->n, 0, 0, 0};
        if (added_push(s, &plain, id, 1)) return -1;
        bytes += t->n;
    }
    if (s->nadded && nli_trie_init(&s->atrie, bytes)) return -1;
    for (size_t k = 0; k < s->nadded; k++) nli_trie_put(&s->atrie, s->added[k].s, s->added[k].len, (int32_t)k, 1);
    return 0;
}

/* convert_tokens_to_ids of one string. */
static int32_t token_id(const nli_spm *s, const tok *t) {
    nli_spm_toks v = {0};
    int32_t id = nli_spm_push_str(s, &v, t->s, t->n) ? -1 : v.v[0].id;
    free(v.v);
    return id;
}

static int count_piece(void *arg, const char *piece, size_t n) {
    (void)piece, (void)n;
    ++*(size_t *)arg;
    return 0;
}

/* ------------------------------------------------------------ the folder */

/* transformers reads another file as the vocabulary when the folder has a
 * name matching "tekken.json", "tokenizer.model" or "tiktoken.model" and
 * none holding "tokenizer.json". */
static int check_listing(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char bad[256] = "";
    int json = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        json |= strstr(n, "tokenizer.json") != NULL;
        if (!*bad && (strstr(n, "tekken.json") || strstr(n, "tokenizer.model") || strstr(n, "tiktoken.model")))
            nli_sanitize(bad, sizeof bad, n);
    }
    closedir(d);
    if (*bad && !json) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s/%s: transformers 5 reads this file in place of spiece.model (a folder "
                        "without tokenizer.json): not supported", dir, bad);
        return -1;
    }
    return 0;
}

/* The JSON files transformers reads: tokenizer_config.json, and without
 * its added_tokens_decoder the three others; each hashed into *h. */
static int read_docs(loader *L, uint64_t *h) {
    for (int k = 0; k < MODEL; k++) {
        if (k > CFG && L->doc[CFG] && json_object_get(L->doc[CFG], "added_tokens_decoder")) break;
        if (!(L->path[k] = nli_path_join(L->dir, FILES[k]))) return -1;
        if (!nli_file_exists(L->path[k])) {
            free(L->path[k]);
            L->path[k] = NULL;
            continue;
        }
        uint64_t d = 0;
        if (!(L->doc[k] = nli_tok_read_json_hashed(L->path[k], k == CFG || k == MAP, &d))) return -1;
        if (!json_is_object(L->doc[k])) {
            nli_seterr("%s: expected a JSON object", L->path[k]);
            return -1;
        }
        *h = nli_fnv1a(&d, sizeof d, nli_fnv1a(FILES[k], strlen(FILES[k]), *h));
    }
    L->cfg = L->path[CFG] ? L->path[CFG] : L->dir;
    return 0;
}

static int check_class(const loader *L) {
    json_t *cls = L->doc[CFG] ? json_object_get(L->doc[CFG], "tokenizer_class") : NULL;
    const char *c = json_string_value(cls);
    if (!cls || json_is_null(cls) || (c && (!strcmp(c, "SiglipTokenizer") || !strcmp(c, "SiglipTokenizerFast")))) return 0;
    nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: tokenizer_class '%.60s' is not supported (SiglipTokenizer)", L->path[CFG],
                    c ? c : "?");
    return -1;
}

/* The settings SiglipTokenizer and its bases take from init_kwargs. */
static int settings(loader *L) {
    nli_spm *s = L->s;
    json_t *kw = L->kw, *v = json_object_get(kw, "do_lower_case");
    const char *cfg = L->cfg;
    s->lower = v ? truthy(v) : 1;
    s->split_special = truthy(json_object_get(kw, "split_special_tokens"));
    v = json_object_get(kw, "sp_model_kwargs");
    if (v && !json_is_null(v) && !json_is_object(v)) {
        nli_seterr("%s: sp_model_kwargs is not an object (transformers fails)", cfg);
        return -1;
    }
    if (json_object_size(v)) {
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: sp_model_kwargs is set (%.40s...): not supported", cfg,
                        json_object_iter_key(json_object_iter(v)));
        return -1;
    }
    v = json_object_get(kw, "legacy");
    if (v && !truthy(v)) s->dummy_prefix = 0; /* SentencePieceBackend reloads the model without it */
    return 0;
}

static int load(loader *L) {
    uint64_t h = NL_FNV_INIT;
    if (!(L->path[MODEL] = nli_path_join(L->dir, FILES[MODEL]))) return -1;
    if (!nli_file_exists(L->path[MODEL])) {
        nli_seterr_code(NL_ERR_IO, "%s: no spiece.model (a SigLIP tokenizer needs it)", L->dir);
        return -1;
    }
    if (read_docs(L, &h) || check_class(L) || check_listing(L->dir)) return -1;
    if (nli_read_file(L->path[MODEL], NLI_SPM_FILE_MAX, &L->model, &L->model_len)) return -1;
    h = nli_fnv1a(L->model, L->model_len, nli_fnv1a(FILES[MODEL], strlen(FILES[MODEL]), h));
    if (nli_spm_proto_parse(&L->proto, (const uint8_t *)L->model, L->model_len, L->path[MODEL]) ||
        !(L->s = nli_spm_model_new(&L->proto, L->path[MODEL])))
        return -1;
    L->s->digest = h;
    L->kw = L->doc[CFG] ? json_deep_copy(L->doc[CFG]) : json_object();
    L->ms = json_object();
    if (!L->kw || !L->ms || from_pretrained(L) || settings(L)) return -1;
    toklist all = {0};
    tok named[7];
    int rc = special_tokens(L, &all, named) || take_tokens(L, &all);
    free(all.v);
    if (rc) return -1;
    nli_spm *s = L->s;
    const char *cfg = L->cfg;
    if (!named[2].s || !named[1].s) {
        nli_seterr("%s: %s is null: transformers' SiglipTokenizer cannot encode without it (%s)", cfg,
                   named[2].s ? "eos_token" : "unk_token", named[2].s ? "None ends the ids" : "a TypeError");
        return -1;
    }
    s->eos_id = token_id(s, &named[1]);
    s->pad_id = named[4].s ? token_id(s, &named[4]) : -1;
    if (s->eos_id < 0 || !(s->unk = nli_strndup(named[2].s, named[2].n))) return -1;
    s->unk_len = named[2].n;
    if (nli_tok_check_utf8(s->unk, s->unk_len) || nli_spm_sp_encode(s, s->unk, s->unk_len, count_piece, &s->unk_pieces)) {
        nli_prefixerr("%s: unk_token", cfg);
        return -1;
    }
    return 0;
}

nli_spm *nli_spm_load_dir(const char *dir) {
    loader L = {0};
    L.dir = dir;
    int rc = load(&L);
    for (int k = 0; k < 5; k++) free(L.path[k]);
    for (int k = 0; k < 4; k++) json_decref(L.doc[k]);
    json_decref(L.kw);
    json_decref(L.ms);
    free(L.dec);
    nli_spm_proto_free(&L.proto);
    free(L.model);
    if (rc) {
        nli_spm_free(L.s);
        return NULL;
    }
    return L.s;
}

void nli_spm_free(nli_spm *s) {
    if (!s) return;
    free(s->score);
    free(s->type);
    nli_trie_free(&s->pieces);
    nli_trie_free(&s->reserved);
    nli_trie_free(&s->user);
    nli_trie_free(&s->atrie);
    nli_charsmap_free(&s->cm);
    for (size_t k = 0; k < s->nadded; k++) free(s->added[k].s);
    free(s->added);
    free(s->unk);
    free(s);
}
