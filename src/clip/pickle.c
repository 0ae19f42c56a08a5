/* pickle.c — the safe unpickler of pickle.h: a stack machine over the
 * opcodes torch.save / torch.jit.save write (pickletools' semantics), that
 * builds plain values and refuses every global outside a short allow-list.
 * Nothing read from the input is ever called or imported. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pickle.h"
#include "util.h"

/* ------------------------------------------------------------ the arena */

#define CHUNK 1024
typedef struct chunk {
    struct chunk *next;
    size_t used;
    nli_pk v[CHUNK];
} chunk;

struct nli_pk_arena {
    chunk *head;
    size_t count, limit;
};

static void free_value(nli_pk *v) {
    free(v->s);
    free(v->items);
    free(v->t);
}

void nli_pk_free(nli_pk_arena *a) {
    if (!a) return;
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->used; i++) free_value(&c->v[i]);
        free(c);
    }
    free(a);
}

size_t nli_dtype_size(nli_dtype d) {
    switch (d) {
    case NLI_DT_F64: case NLI_DT_I64: return 8;
    case NLI_DT_F32: case NLI_DT_I32: return 4;
    case NLI_DT_F16: case NLI_DT_BF16: case NLI_DT_I16: return 2;
    default: return 1;
    }
}

const char *nli_dtype_st_name(nli_dtype d) {
    static const char *const n[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"};
    return (unsigned)d < sizeof n / sizeof *n ? n[d] : "?";
}

const char *nli_pk_kind_name(nli_pk_kind k) {
    static const char *const n[] = {"None", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict",
                                    "global", "object", "storage", "tensor", "mark"};
    return (unsigned)k < sizeof n / sizeof *n ? n[k] : "?";
}

nli_pk *nli_pk_get(const nli_pk *d, const char *key) {
    if (!d || d->kind != NLI_PK_DICT) return NULL;
    nli_pk *found = NULL; /* the last one wins, as in a Python dict */
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (d->items[i]->kind == NLI_PK_STR && strcmp(d->items[i]->s, key) == 0) found = d->items[i + 1];
    return found;
}

/* ------------------------------------------------------------ the machine */

typedef struct {
    const uint8_t *p;
    size_t len, pos, op_pos;
    const char *name;
    nli_pk_arena *a;
    nli_pk **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    nli_pk **memo;
    size_t memo_cap, memo_count, memo_limit;
} up;

static int fail(up *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(up *u, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nli_seterr("%s: pickle byte %zu (opcode 0x%02x): %s", u->name, u->op_pos,
               u->op_pos < u->len ? u->p[u->op_pos] : 0, msg);
    return -1;
}

static nli_pk *newv(up *u, nli_pk_kind k) {
    nli_pk_arena *a = u->a;
    if (a->count >= a->limit) { fail(u, "more than %zu values", a->limit); return NULL; }
    if (!a->head || a->head->used == CHUNK) {
        chunk *c = nli_calloc(1, sizeof *c);
        if (!c) { nli_prefixerr("%s", u->name); return NULL; }
        c->next = a->head;
        a->head = c;
    }
    nli_pk *v = &a->head->v[a->head->used++];
    a->count++;
    v->kind = k;
    return v;
}

static int push(up *u, nli_pk *v) {
    if (!v) return -1;
    if (u->sp == u->scap && nli_grow((void **)&u->stack, &u->scap, u->sp + 1, sizeof *u->stack) != 0) return -1;
    u->stack[u->sp++] = v;
    return 0;
}

static size_t mark_base(const up *u) { return u->nmarks ? u->marks[u->nmarks - 1] : 0; }

static nli_pk *pop(up *u) {
    if (u->sp <= mark_base(u)) { fail(u, "stack underflow"); return NULL; }
    return u->stack[--u->sp];
}

static nli_pk *top(up *u) {
    if (u->sp <= mark_base(u)) { fail(u, "stack underflow"); return NULL; }
    return u->stack[u->sp - 1];
}

/* Items above the last MARK: *first and *n; the MARK is removed (the
 * caller drops the items by setting sp = *first). */
static int pop_mark(up *u, size_t *first, size_t *n) {
    if (!u->nmarks) return fail(u, "no MARK on the stack");
    *first = u->marks[--u->nmarks];
    *n = u->sp - *first;
    return 0;
}

static int need(up *u, size_t n) {
    if (n > u->len - u->pos) return fail(u, "truncated (needs %zu more bytes, %zu left)", n, u->len - u->pos);
    return 0;
}

static uint64_t rd_le(up *u, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)u->p[u->pos + i] << (8 * i);
    u->pos += n;
    return v;
}

static int add_items(up *u, nli_pk *c, nli_pk **items, size_t n) {
    if (!n) return 0;
    if (c->n + n < c->n) return fail(u, "too many items");
    if (nli_grow((void **)&c->items, &c->cap, c->n + n, sizeof *c->items) != 0) return -1;
    memcpy(c->items + c->n, items, n * sizeof *items);
    c->n += n;
    return 0;
}

static nli_pk *make_seq(up *u, nli_pk_kind k, nli_pk **items, size_t n) {
    nli_pk *v = newv(u, k);
    if (!v || add_items(u, v, items, n) != 0) return NULL;
    return v;
}

static int push_string(up *u, nli_pk_kind k, uint64_t n) {
    if (need(u, n) != 0) return -1;
    if (k == NLI_PK_STR && memchr(u->p + u->pos, 0, n)) return fail(u, "a string with a NUL byte");
    nli_pk *v = newv(u, k);
    if (!v) return -1;
    v->s = nli_malloc(n + 1);
    if (!v->s) return -1;
    memcpy(v->s, u->p + u->pos, n);
    v->s[n] = 0;
    v->slen = n;
    u->pos += n;
    return push(u, v);
}

static int push_int(up *u, int64_t i) {
    nli_pk *v = newv(u, NLI_PK_INT);
    if (!v) return -1;
    v->i = i;
    return push(u, v);
}

/* LONG1/LONG4: little-endian two's complement of n bytes; int64 only. */
static int push_long(up *u, uint64_t n) {
    if (need(u, n) != 0) return -1;
    if (n > 8) return fail(u, "an integer of %llu bytes (at most 8 are supported)", (unsigned long long)n);
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; i++) v |= (uint64_t)u->p[u->pos + i] << (8 * i);
    if (n && n < 8 && (u->p[u->pos + n - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    u->pos += n;
    return push_int(u, (int64_t)v);
}

/* ------------------------------------------------------------ globals */

static const char *const storage_types[] = {
    "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage",
    "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage",
    "torch.BoolStorage"};
static const nli_dtype storage_dtypes[] = {NLI_DT_F32, NLI_DT_F16, NLI_DT_BF16, NLI_DT_F64, NLI_DT_I64,
                                           NLI_DT_I32, NLI_DT_I16, NLI_DT_I8, NLI_DT_U8, NLI_DT_BOOL};
#define N_STORAGE ((int)(sizeof storage_types / sizeof *storage_types))

static const char *const list_builders[] = {
    "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_floatlist", "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_tensorlist"};

static int storage_index(const char *s) {
    for (int i = 0; i < N_STORAGE; i++)
        if (strcmp(s, storage_types[i]) == 0) return i;
    return -1;
}

static int is_list_builder(const char *s) {
    for (size_t i = 0; i < sizeof list_builders / sizeof *list_builders; i++)
        if (strcmp(s, list_builders[i]) == 0) return 1;
    return 0;
}

/* A TorchScript class: "__torch__." then dotted identifiers. */
static int is_torch_class(const char *s) {
    if (strncmp(s, "__torch__.", 10) != 0) return 0;
    const char *p = s + 10;
    if (!*p) return 0;
    for (int start = 1; *p; p++) {
        char c = *p;
        int ident = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!start && c >= '0' && c <= '9');
        if (c == '.' && !start) { start = 1; continue; }
        if (!ident) return 0;
        start = 0;
    }
    return p[-1] != '.';
}

static int allowed_global(const char *s) {
    return strcmp(s, "torch._utils._rebuild_tensor_v2") == 0 || strcmp(s, "torch._utils._rebuild_parameter") == 0 ||
           strcmp(s, "torch._utils._rebuild_parameter_with_state") == 0 ||
           strcmp(s, "collections.OrderedDict") == 0 || strcmp(s, "torch.jit._pickle.restore_type_tag") == 0 ||
           storage_index(s) >= 0 || is_list_builder(s) || is_torch_class(s);
}

static int push_global(up *u, const char *mod, size_t ml, const char *name, size_t nl) {
    char shown[300];
    if (ml + nl + 2 > 1024) return fail(u, "a global name of %zu bytes", ml + nl);
    nli_pk *v = newv(u, NLI_PK_GLOBAL);
    if (!v) return -1;
    v->s = nli_malloc(ml + nl + 2);
    if (!v->s) return -1;
    memcpy(v->s, mod, ml);
    v->s[ml] = '.';
    memcpy(v->s + ml + 1, name, nl);
    v->s[ml + nl + 1] = 0;
    v->slen = ml + nl + 1;
    if (strlen(v->s) != v->slen || !allowed_global(v->s)) {
        nli_sanitize(shown, sizeof shown, v->s);
        return fail(u, "global '%s' is not allowed (a checkpoint holds tensors, not code)", shown);
    }
    return push(u, v);
}

/* GLOBAL: "module\nname\n" */
static int op_global(up *u) {
    const char *lines[2];
    size_t lens[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *nl = memchr(u->p + u->pos, '\n', u->len - u->pos);
        if (!nl) return fail(u, "GLOBAL without a newline");
        lines[k] = (const char *)u->p + u->pos;
        lens[k] = (size_t)(nl - (u->p + u->pos));
        u->pos += lens[k] + 1;
    }
    return push_global(u, lines[0], lens[0], lines[1], lens[1]);
}

static int op_stack_global(up *u) {
    nli_pk *name = pop(u), *mod = name ? pop(u) : NULL;
    if (!mod) return -1;
    if (name->kind != NLI_PK_STR || mod->kind != NLI_PK_STR) return fail(u, "STACK_GLOBAL of non-strings");
    return push_global(u, mod->s, mod->slen, name->s, name->slen);
}

/* ------------------------------------------------------------ tensors */

static int get_int(up *u, const nli_pk *v, const char *what, int64_t *out) {
    if (v->kind != NLI_PK_INT) return fail(u, "%s is a %s, not an int", what, nli_pk_kind_name(v->kind));
    *out = v->i;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static nli_pk *rebuild_tensor(up *u, const nli_pk *args) {
    if (args->n < 6 || args->n > 7) { fail(u, "_rebuild_tensor_v2 with %zu arguments (6 or 7)", args->n); return NULL; }
    const nli_pk *st = args->items[0], *sz = args->items[2], *sd = args->items[3];
    if (st->kind != NLI_PK_STORAGE) { fail(u, "_rebuild_tensor_v2 of a %s, not a storage", nli_pk_kind_name(st->kind)); return NULL; }
    if (sz->kind != NLI_PK_TUPLE || sd->kind != NLI_PK_TUPLE) { fail(u, "tensor size or stride not a tuple"); return NULL; }
    if (sz->n != sd->n) { fail(u, "tensor with %zu sizes but %zu strides", sz->n, sd->n); return NULL; }
    if (sz->n > NL_PK_MAX_DIMS) { fail(u, "tensor with %zu dimensions (at most %d)", sz->n, NL_PK_MAX_DIMS); return NULL; }
    nli_pk_tensor t = {.storage = st, .ndim = (int)sz->n, .numel = 1};
    if (get_int(u, args->items[1], "tensor offset", &t.offset) != 0) return NULL;
    if (t.offset < 0) { fail(u, "negative tensor offset %lld", (long long)t.offset); return NULL; }
    int64_t last = t.offset; /* index of the last element */
    for (int d = 0; d < t.ndim; d++) {
        if (get_int(u, sz->items[d], "tensor size", &t.size[d]) != 0 ||
            get_int(u, sd->items[d], "tensor stride", &t.stride[d]) != 0)
            return NULL;
        if (t.size[d] < 0 || t.stride[d] < 0) {
            fail(u, "tensor size %lld or stride %lld negative", (long long)t.size[d], (long long)t.stride[d]);
            return NULL;
        }
        if (__builtin_mul_overflow(t.numel, t.size[d], &t.numel) || t.numel > NL_PK_MAX_NUMEL) {
            fail(u, "tensor of more than 2^40 elements");
            return NULL;
        }
    }
    if (t.numel > 0) {
        for (int d = 0; d < t.ndim; d++) {
            int64_t span;
            if (__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &span) || __builtin_add_overflow(last, span, &last)) {
                fail(u, "tensor strides overflow");
                return NULL;
            }
        }
        if (last >= st->i) {
            fail(u, "tensor reaches element %lld of storage '%s', which holds %lld: the storage is shorter than "
                 "the tensor", (long long)last, st->s, (long long)st->i);
            return NULL;
        }
    } else if (t.offset > st->i) {
        fail(u, "empty tensor at offset %lld past storage '%s' (%lld elements)", (long long)t.offset, st->s,
             (long long)st->i);
        return NULL;
    }
    /* more elements than the storage holds: an expanded, overlapping view
     * (stride 0); no state dict has one, and its copy could be huge */
    if (t.numel > st->i) {
        fail(u, "tensor of %lld elements on storage '%s' of %lld (an overlapping view)", (long long)t.numel, st->s,
             (long long)st->i);
        return NULL;
    }
    nli_pk *v = newv(u, NLI_PK_TENSOR);
    if (!v) return NULL;
    v->t = nli_malloc(sizeof *v->t);
    if (!v->t) return NULL;
    *v->t = t;
    return v;
}

/* BINPERSID: ('storage', <storage type>, key, location, numel) */
static int op_persid(up *u) {
    nli_pk *pid = pop(u);
    if (!pid) return -1;
    if (pid->kind != NLI_PK_TUPLE || pid->n != 5) return fail(u, "a persistent id that is not a 5-tuple");
    nli_pk **it = pid->items;
    if (it[0]->kind != NLI_PK_STR || strcmp(it[0]->s, "storage") != 0)
        return fail(u, "a persistent id that is not a storage");
    if (it[1]->kind != NLI_PK_GLOBAL || storage_index(it[1]->s) < 0) return fail(u, "a storage of an unknown type");
    if (it[2]->kind != NLI_PK_STR || it[2]->slen == 0 || it[2]->slen > 64 ||
        strspn(it[2]->s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != it[2]->slen)
        return fail(u, "a storage key that is not a short name of letters, digits and '_'");
    if (it[3]->kind != NLI_PK_STR) return fail(u, "a storage location that is not a string");
    int64_t numel = 0;
    if (get_int(u, it[4], "storage size", &numel) != 0) return -1;
    if (numel < 0 || numel > NL_PK_MAX_NUMEL) return fail(u, "storage '%s' of %lld elements", it[2]->s, (long long)numel);
    nli_pk *v = newv(u, NLI_PK_STORAGE);
    if (!v) return -1;
    v->s = nli_strdup(it[2]->s);
    if (!v->s) return -1;
    v->slen = it[2]->slen;
    v->i = numel;
    v->dtype = storage_dtypes[storage_index(it[1]->s)];
    return push(u, v);
}

static int op_reduce(up *u) {
    nli_pk *args = pop(u), *fn = args ? pop(u) : NULL;
    if (!fn) return -1;
    if (fn->kind != NLI_PK_GLOBAL) return fail(u, "REDUCE of a %s", nli_pk_kind_name(fn->kind));
    if (args->kind != NLI_PK_TUPLE) return fail(u, "REDUCE with %s arguments", nli_pk_kind_name(args->kind));
    const char *f = fn->s;
    nli_pk *r = NULL;
    if (strcmp(f, "torch._utils._rebuild_tensor_v2") == 0) {
        r = rebuild_tensor(u, args);
        if (!r) return -1;
    } else if (strcmp(f, "torch._utils._rebuild_parameter") == 0 ||
               strcmp(f, "torch._utils._rebuild_parameter_with_state") == 0) {
        if (args->n < 3 || args->n > 4 || args->items[0]->kind != NLI_PK_TENSOR)
            return fail(u, "%s without a tensor", f);
        r = args->items[0];
    } else if (strcmp(f, "collections.OrderedDict") == 0) {
        if (args->n != 0) return fail(u, "collections.OrderedDict with arguments");
        if (!(r = newv(u, NLI_PK_DICT))) return -1;
    } else if (is_list_builder(f)) {
        if (args->n != 1 || args->items[0]->kind != NLI_PK_LIST) return fail(u, "%s without a list", f);
        r = args->items[0];
    } else if (strcmp(f, "torch.jit._pickle.restore_type_tag") == 0) {
        if (args->n != 2) return fail(u, "%s with %zu arguments", f, args->n);
        r = args->items[0];
    } else {
        char shown[300];
        nli_sanitize(shown, sizeof shown, f);
        return fail(u, "REDUCE of '%s' is not allowed", shown);
    }
    return push(u, r);
}

static int op_newobj(up *u) {
    nli_pk *args = pop(u), *cls = args ? pop(u) : NULL;
    if (!cls) return -1;
    if (cls->kind != NLI_PK_GLOBAL || !is_torch_class(cls->s)) {
        char shown[300];
        nli_sanitize(shown, sizeof shown, cls->kind == NLI_PK_GLOBAL ? cls->s : nli_pk_kind_name(cls->kind));
        return fail(u, "NEWOBJ of '%s' is not allowed (only TorchScript classes)", shown);
    }
    if (args->kind != NLI_PK_TUPLE || args->n != 0) return fail(u, "NEWOBJ with arguments");
    nli_pk *o = newv(u, NLI_PK_OBJECT);
    if (!o) return -1;
    o->cls = cls;
    return push(u, o);
}

static int op_build(up *u) {
    nli_pk *state = pop(u), *obj = state ? top(u) : NULL;
    if (!obj) return -1;
    if (obj->kind == NLI_PK_OBJECT) {
        if (obj->state) return fail(u, "BUILD of an object twice");
        obj->state = state;
        return 0;
    }
    /* an OrderedDict's instance dict (a state dict's _metadata): not needed */
    if (obj->kind == NLI_PK_DICT && (state->kind == NLI_PK_DICT || state->kind == NLI_PK_NONE ||
                                     state->kind == NLI_PK_TUPLE))
        return 0;
    return fail(u, "BUILD of a %s", nli_pk_kind_name(obj->kind));
}

static int memo_put(up *u, uint64_t idx) {
    nli_pk *v = top(u);
    if (!v) return -1;
    if (idx >= u->memo_limit) return fail(u, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= u->memo_cap) {
        size_t old = u->memo_cap;
        if (nli_grow((void **)&u->memo, &u->memo_cap, (size_t)idx + 1, sizeof *u->memo) != 0) return -1;
        memset(u->memo + old, 0, (u->memo_cap - old) * sizeof *u->memo);
    }
    if (!u->memo[idx]) u->memo_count++;
    u->memo[idx] = v;
    return 0;
}

static int memo_get(up *u, uint64_t idx) {
    if (idx >= u->memo_cap || !u->memo[idx]) return fail(u, "memo index %llu was never set", (unsigned long long)idx);
    return push(u, u->memo[idx]);
}

static int setitems(up *u, nli_pk *d, nli_pk **kv, size_t n) {
    if (d->kind != NLI_PK_DICT) return fail(u, "SETITEM on a %s", nli_pk_kind_name(d->kind));
    if (n % 2) return fail(u, "SETITEMS with an odd number of items");
    return add_items(u, d, kv, n);
}

static int step(up *u, int *stop) {
    u->op_pos = u->pos;
    uint8_t op = u->p[u->pos++];
    size_t first = 0, n = 0;
    nli_pk *v, *w;
    switch (op) {
    case 0x80: /* PROTO */
        if (need(u, 1) != 0) return -1;
        if (u->p[u->pos] < 2 || u->p[u->pos] > 5) return fail(u, "pickle protocol %d (2 to 5 are read)", u->p[u->pos]);
        u->pos++;
        return 0;
    case 0x95: /* FRAME */
        if (need(u, 8) != 0) return -1;
        u->pos += 8;
        return 0;
    case '.': /* STOP */
        *stop = 1;
        return 0;
    case '(': /* MARK */
        if (u->nmarks == u->mcap && nli_grow((void **)&u->marks, &u->mcap, u->nmarks + 1, sizeof *u->marks) != 0)
            return -1;
        u->marks[u->nmarks++] = u->sp;
        return 0;
    case '0': /* POP */
        return pop(u) ? 0 : -1;
    case '1': /* POP_MARK */
        if (pop_mark(u, &first, &n) != 0) return -1;
        u->sp = first;
        return 0;
    case '2': /* DUP */
        return (v = top(u)) ? push(u, v) : -1;
    case 'N': return push(u, newv(u, NLI_PK_NONE));
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
        if (!(v = newv(u, NLI_PK_BOOL))) return -1;
        v->i = op == 0x88;
        return push(u, v);
    case 'J': /* BININT */
        if (need(u, 4) != 0) return -1;
        return push_int(u, (int32_t)(uint32_t)rd_le(u, 4));
    case 'K': /* BININT1 */
        if (need(u, 1) != 0) return -1;
        return push_int(u, (int64_t)rd_le(u, 1));
    case 'M': /* BININT2 */
        if (need(u, 2) != 0) return -1;
        return push_int(u, (int64_t)rd_le(u, 2));
    case 0x8a: /* LONG1 */
        if (need(u, 1) != 0) return -1;
        return push_long(u, rd_le(u, 1));
    case 0x8b: /* LONG4 */
        if (need(u, 4) != 0) return -1;
        return push_long(u, rd_le(u, 4));
    case 'G': { /* BINFLOAT, big-endian */
        if (need(u, 8) != 0) return -1;
        uint64_t b = 0;
        for (int i = 0; i < 8; i++) b = b << 8 | u->p[u->pos + i];
        u->pos += 8;
        if (!(v = newv(u, NLI_PK_FLOAT))) return -1;
        memcpy(&v->f, &b, sizeof v->f);
        return push(u, v);
    }
    case 'X': /* BINUNICODE */
        if (need(u, 4) != 0) return -1;
        return push_string(u, NLI_PK_STR, rd_le(u, 4));
    case 0x8c: /* SHORT_BINUNICODE */
        if (need(u, 1) != 0) return -1;
        return push_string(u, NLI_PK_STR, rd_le(u, 1));
    case 0x8d: /* BINUNICODE8 */
        if (need(u, 8) != 0) return -1;
        return push_string(u, NLI_PK_STR, rd_le(u, 8));
    case 'B': /* BINBYTES */
        if (need(u, 4) != 0) return -1;
        return push_string(u, NLI_PK_BYTES, rd_le(u, 4));
    case 'C': /* SHORT_BINBYTES */
        if (need(u, 1) != 0) return -1;
        return push_string(u, NLI_PK_BYTES, rd_le(u, 1));
    case 0x8e: /* BINBYTES8 */
        if (need(u, 8) != 0) return -1;
        return push_string(u, NLI_PK_BYTES, rd_le(u, 8));
    case ')': return push(u, newv(u, NLI_PK_TUPLE));
    case ']': return push(u, newv(u, NLI_PK_LIST));
    case '}': return push(u, newv(u, NLI_PK_DICT));
    case 't': case 'l': case 'd': /* TUPLE, LIST, DICT from the mark */
        if (pop_mark(u, &first, &n) != 0) return -1;
        if (op == 'd' && n % 2) return fail(u, "DICT with an odd number of items");
        v = make_seq(u, op == 't' ? NLI_PK_TUPLE : op == 'l' ? NLI_PK_LIST : NLI_PK_DICT, n ? u->stack + first : NULL, n);
        u->sp = first;
        return push(u, v);
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        n = (size_t)(op - 0x84);
        if (u->sp < mark_base(u) + n) return fail(u, "stack underflow");
        v = make_seq(u, NLI_PK_TUPLE, u->stack + u->sp - n, n);
        u->sp -= n;
        return push(u, v);
    }
    case 'a': /* APPEND */
        if (!(w = pop(u)) || !(v = top(u))) return -1;
        if (v->kind != NLI_PK_LIST) return fail(u, "APPEND to a %s", nli_pk_kind_name(v->kind));
        return add_items(u, v, &w, 1);
    case 'e': /* APPENDS */
        if (pop_mark(u, &first, &n) != 0) return -1;
        u->sp = first;
        if (!(v = top(u))) return -1;
        if (v->kind != NLI_PK_LIST) return fail(u, "APPENDS to a %s", nli_pk_kind_name(v->kind));
        return add_items(u, v, u->stack + first, n);
    case 's': /* SETITEM */
        if (!(w = pop(u)) || !(v = pop(u))) return -1;
        {
            nli_pk *d = top(u), *kv[2] = {v, w};
            return d ? setitems(u, d, kv, 2) : -1;
        }
    case 'u': /* SETITEMS */
        if (pop_mark(u, &first, &n) != 0) return -1;
        u->sp = first;
        if (!(v = top(u))) return -1;
        return setitems(u, v, u->stack + first, n);
    case 'q': /* BINPUT */
        if (need(u, 1) != 0) return -1;
        return memo_put(u, rd_le(u, 1));
    case 'r': /* LONG_BINPUT */
        if (need(u, 4) != 0) return -1;
        return memo_put(u, rd_le(u, 4));
    case 0x94: /* MEMOIZE */
        return memo_put(u, u->memo_count);
    case 'h': /* BINGET */
        if (need(u, 1) != 0) return -1;
        return memo_get(u, rd_le(u, 1));
    case 'j': /* LONG_BINGET */
        if (need(u, 4) != 0) return -1;
        return memo_get(u, rd_le(u, 4));
    case 'c': return op_global(u);
    case 0x93: return op_stack_global(u);
    case 'R': return op_reduce(u);
    case 0x81: return op_newobj(u);
    case 'b': return op_build(u);
    case 'Q': return op_persid(u);
    default: {
        char c = op >= 0x20 && op < 0x7f ? (char)op : '?';
        return fail(u, "opcode '%c' is not supported (not one a state dict needs)", c);
    }
    }
}

int nli_unpickle(const uint8_t *data, size_t len, const char *name, nli_pk_arena **arena, nli_pk **root) {
    *arena = NULL;
    *root = NULL;
    if (len > NL_PK_MAX_INPUT) {
        nli_seterr("%s: pickle of %zu bytes (limit %zu)", name, len, NL_PK_MAX_INPUT);
        return -1;
    }
    up u = {.p = data, .len = len, .name = name, .memo_limit = len < NL_PK_MAX_MEMO ? len : NL_PK_MAX_MEMO};
    u.a = nli_calloc(1, sizeof *u.a);
    if (!u.a) return -1;
    u.a->limit = len + 16 < NL_PK_MAX_VALUES ? len + 16 : NL_PK_MAX_VALUES;
    int stop = 0, rc = 0;
    while (!stop) {
        if (u.pos >= len) { u.op_pos = len; rc = fail(&u, "ends without STOP"); break; }
        if ((rc = step(&u, &stop)) != 0) break;
    }
    if (rc == 0) {
        nli_pk *r = pop(&u);
        if (!r) rc = -1;
        else if (u.nmarks) rc = fail(&u, "STOP inside a MARK");
        else *root = r;
    }
    free(u.stack);
    free(u.marks);
    free(u.memo);
    if (rc != 0) { nli_pk_free(u.a); *root = NULL; return -1; }
    *arena = u.a;
    return 0;
}
