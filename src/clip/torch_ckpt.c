/* torch_ckpt.c — the state dict of a PyTorch archive (torch_ckpt.h).
 *
 * TorchScript (torch/csrc/jit/serialization/export_module.cpp, pickler.cpp):
 * data.pkl is the module tree, each module an object of its class
 * (GLOBAL '__torch__.<path> <Class>', NEWOBJ) whose BUILD state is a dict of
 * its attributes in slot order. Which attributes are parameters and buffers
 * is declared in code/<path>.py ("class Cls(Module):" then
 * "__parameters__ = [...]" and "__buffers__ = [...]"). state_dict() takes,
 * per module, the non-None parameters, then the buffers, each in slot
 * order, then the submodules (attributes that are modules) in slot order.
 * torch.save of a dict: data.pkl is the (Ordered)dict of tensors; of a
 * training checkpoint (open_clip_train's {"epoch", "name", "state_dict",
 * "optimizer", "scaler"}), a dict whose 'state_dict' entry is that dict:
 * open_clip's load_state_dict (src/open_clip/factory.py) takes it when the
 * root is a dict with that key, whatever else the root holds. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "neglabel.h"
#include "torch_ckpt.h"
#include "util.h"

/* ------------------------------------------------------------ class declarations */

typedef struct {
    char *cls;
    int is_module;
    char **params, **buffers;
    size_t np, nb;
} decl;

typedef struct {
    nli_ckpt *ck;
    decl *d;
    size_t n, cap;
    const char *what; /* "FILE: data.pkl" for messages */
    int have_code;
    size_t visits; /* module attributes visited (NL_CKPT_MAX_VISITS) */
} walker;

static void free_decls(walker *w) {
    for (size_t i = 0; i < w->n; i++) {
        free(w->d[i].cls);
        for (size_t j = 0; j < w->d[i].np; j++) free(w->d[i].params[j]);
        for (size_t j = 0; j < w->d[i].nb; j++) free(w->d[i].buffers[j]);
        free(w->d[i].params);
        free(w->d[i].buffers);
    }
    free(w->d);
}

/* "  __parameters__ = ["a", "b", ]" -> names */
static int parse_list(const char *p, const char *end, char ***out, size_t *n, const char *zip, const char *file) {
    size_t cap = 0;
    while (p < end && *p != ']') {
        if (*p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!q) break;
            if ((*n == cap && nli_grow((void **)out, &cap, *n + 1, sizeof **out) != 0) ||
                !((*out)[*n] = nli_strndup(p + 1, (size_t)(q - p - 1)))) {
                nli_prefixerr("%s: %s", zip, file);
                return -1;
            }
            (*n)++;
            p = q + 1;
        } else p++;
    }
    if (p >= end) { nli_seterr("%s: %s: an unterminated attribute list", zip, file); return -1; }
    return 0;
}

static int read_decl(walker *w, const char *cls, decl *d) {
    nli_ckpt *ck = w->ck;
    /* "__torch__.a.b.Cls" -> "<prefix>/code/__torch__/a/b.py", class "Cls" */
    const char *dot = strrchr(cls, '.');
    size_t mlen = (size_t)(dot - cls);
    char *path = nli_malloc(strlen(ck->prefix) + mlen + 16);
    if (!path) return -1;
    int k = sprintf(path, "%s/code/", ck->prefix);
    for (size_t i = 0; i < mlen; i++) path[k++] = cls[i] == '.' ? '/' : cls[i];
    strcpy(path + k, ".py");
    long idx = nli_zip_find(ck->zip, path);
    if (idx < 0) {
        nli_seterr("%s: class '%s' is not declared (no %s)", nli_zip_path(ck->zip), cls, path);
        free(path);
        return -1;
    }
    uint8_t *src;
    size_t len;
    if (nli_zip_read(ck->zip, (size_t)idx, NL_CKPT_MAX_CODE, &src, &len) != 0) { free(path); return -1; }
    char head[300];
    snprintf(head, sizeof head, "class %s(", dot + 1);
    const char *s = (const char *)src, *end = s + len, *found = NULL;
    for (const char *p = s; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if ((size_t)(eol - p) > strlen(head) && strncmp(p, head, strlen(head)) == 0) { found = p; break; }
        p = eol + 1;
    }
    int rc = 0;
    if (!found) {
        nli_seterr("%s: %s declares no class %s", nli_zip_path(ck->zip), path, dot + 1);
        rc = -1;
    } else {
        const char *eol = memchr(found, '\n', (size_t)(end - found));
        if (!eol) eol = end;
        d->is_module = (size_t)(eol - found) >= strlen(head) + 8 && strncmp(found + strlen(head), "Module):", 8) == 0;
        /* the class body: the indented lines that follow */
        for (const char *p = eol + 1; p < end && *p == ' ' && rc == 0;) {
            const char *le = memchr(p, '\n', (size_t)(end - p));
            if (!le) le = end;
            if (strncmp(p, "  __parameters__ = [", 20) == 0)
                rc = parse_list(p + 20, le, &d->params, &d->np, nli_zip_path(ck->zip), path);
            else if (strncmp(p, "  __buffers__ = [", 17) == 0)
                rc = parse_list(p + 17, le, &d->buffers, &d->nb, nli_zip_path(ck->zip), path);
            p = le + 1;
        }
    }
    free(src);
    free(path);
    return rc;
}

static const decl *find_decl(walker *w, const char *cls) {
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->d[i].cls, cls) == 0) return &w->d[i];
    if (w->n == w->cap && nli_grow((void **)&w->d, &w->cap, w->n + 1, sizeof *w->d) != 0) return NULL;
    decl *d = &w->d[w->n];
    memset(d, 0, sizeof *d);
    if (!(d->cls = nli_strdup(cls))) return NULL;
    w->n++;
    if (!w->have_code) { d->is_module = 1; return d; } /* the fuzzer: every tensor a parameter */
    if (read_decl(w, cls, d) != 0) return NULL;
    return d;
}

static int in_list(char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

/* ------------------------------------------------------------ the walk */

static int emit(walker *w, const char *prefix, const char *key, const nli_pk *v) {
    nli_ckpt *ck = w->ck;
    char shown[300];
    if (v->kind != NLI_PK_TENSOR) {
        nli_sanitize(shown, sizeof shown, key);
        nli_seterr("%s: '%s%s' is a %s, not a tensor", w->what, prefix, shown, nli_pk_kind_name(v->kind));
        return -1;
    }
    size_t pl = strlen(prefix), kl = strlen(key);
    if (pl + kl >= NL_CKPT_MAX_NAME) { nli_seterr("%s: a tensor name longer than %d bytes", w->what, NL_CKPT_MAX_NAME); return -1; }
    if (nli_grow((void **)&ck->t, &ck->cap, ck->n + 1, sizeof *ck->t) != 0) return -1;
    nli_ckpt_tensor *t = &ck->t[ck->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = nli_malloc(pl + kl + 1))) return -1;
    memcpy(t->name, prefix, pl);
    memcpy(t->name + pl, key, kl + 1);
    const nli_pk_tensor *pt = v->t;
    t->src = pt;
    t->dtype = pt->storage->dtype;
    t->ndim = pt->ndim;
    memcpy(t->shape, pt->size, sizeof t->shape);
    t->nbytes = (size_t)pt->numel * nli_dtype_size(t->dtype);
    ck->n++;
    return 0;
}

static int walk_module(walker *w, const nli_pk *obj, const char *prefix, int depth) {
    char shown[300];
    if (depth > NL_CKPT_MAX_DEPTH) {
        nli_seterr("%s: modules nested deeper than %d (or a cycle)", w->what, NL_CKPT_MAX_DEPTH);
        return -1;
    }
    const decl *d = find_decl(w, obj->cls->s);
    if (!d) return -1;
    const nli_pk *st = obj->state;
    if (!st || st->kind != NLI_PK_DICT) {
        nli_sanitize(shown, sizeof shown, obj->cls->s);
        nli_seterr("%s: module '%s' (%s) has no attribute dict", w->what, prefix, shown);
        return -1;
    }
    w->visits += 1 + st->n / 2;
    if (w->visits > NL_CKPT_MAX_VISITS) {
        nli_seterr("%s: more than %zu module attributes to visit (modules shared along very many paths)", w->what,
                   NL_CKPT_MAX_VISITS);
        return -1;
    }
    for (size_t i = 0; i + 1 < st->n; i += 2)
        if (st->items[i]->kind != NLI_PK_STR) {
            nli_seterr("%s: module '%s' has an attribute named by a %s", w->what, prefix,
                       nli_pk_kind_name(st->items[i]->kind));
            return -1;
        }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i + 1 < st->n; i += 2) {
            const char *k = st->items[i]->s;
            const nli_pk *v = st->items[i + 1];
            int want = w->have_code ? in_list(pass ? d->buffers : d->params, pass ? d->nb : d->np, k)
                                    : pass == 0 && v->kind == NLI_PK_TENSOR;
            if (!want || v->kind == NLI_PK_NONE) continue;
            if (emit(w, prefix, k, v) != 0) return -1;
        }
    for (size_t i = 0; i + 1 < st->n; i += 2) {
        const nli_pk *v = st->items[i + 1];
        if (v->kind != NLI_PK_OBJECT) continue;
        const decl *sub = find_decl(w, v->cls->s);
        if (!sub) return -1;
        if (!sub->is_module) continue;
        size_t pl = strlen(prefix), kl = st->items[i]->slen;
        if (pl + kl + 2 > NL_CKPT_MAX_NAME) { nli_seterr("%s: a module name longer than %d bytes", w->what, NL_CKPT_MAX_NAME); return -1; }
        char *np = nli_malloc(pl + kl + 2);
        if (!np) return -1;
        memcpy(np, prefix, pl);
        memcpy(np + pl, st->items[i]->s, kl);
        np[pl + kl] = '.';
        np[pl + kl + 1] = 0;
        int rc = walk_module(w, v, np, depth + 1);
        free(np);
        if (rc != 0) return -1;
    }
    return 0;
}

static int cmp_tensor_names(const void *a, const void *b) {
    return strcmp((*(const nli_ckpt_tensor *const *)a)->name, (*(const nli_ckpt_tensor *const *)b)->name);
}

/* No name twice (a dict key repeated, or two names made one by stripping);
 * how says which, for the message. */
static int check_unique(nli_ckpt *ck, const char *what, const char *how) {
    if (ck->n < 2) return 0;
    const nli_ckpt_tensor **s = nli_mallocarray(ck->n, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < ck->n; i++) s[i] = &ck->t[i];
    qsort(s, ck->n, sizeof *s, cmp_tensor_names);
    int rc = 0;
    for (size_t i = 1; i < ck->n && rc == 0; i++)
        if (strcmp(s[i - 1]->name, s[i]->name) == 0) {
            char shown[300];
            nli_sanitize(shown, sizeof shown, s[i]->name);
            nli_seterr("%s: tensor '%s' appears twice%s", what, shown, how);
            rc = -1;
        }
    free(s);
    return rc;
}

/* A state dict: every key a string, every value a tensor. */
static int walk_dict(walker *w, const nli_pk *d, const char *what) {
    for (size_t i = 0; i + 1 < d->n; i += 2) {
        if (d->items[i]->kind != NLI_PK_STR) {
            nli_seterr("%s: a state dict key that is a %s", what, nli_pk_kind_name(d->items[i]->kind));
            return -1;
        }
        if (emit(w, "", d->items[i]->s, d->items[i + 1]) != 0) return -1;
    }
    return 0;
}

/* A training checkpoint's state dict: the root's 'state_dict' entry (NULL
 * when it has none). *twice is set when the key appears more than once. */
static const nli_pk *training_state_dict(const nli_pk *root, int *twice) {
    const nli_pk *sd = NULL;
    *twice = 0;
    for (size_t i = 0; i + 1 < root->n; i += 2)
        if (root->items[i]->kind == NLI_PK_STR && strcmp(root->items[i]->s, "state_dict") == 0) {
            if (sd) *twice = 1;
            sd = root->items[i + 1];
        }
    return sd;
}

int nli_ckpt_walk(nli_ckpt *ck, const nli_pk *root, const char *what) {
    walker w = {.ck = ck, .what = what, .have_code = ck->zip != NULL};
    int rc = 0, twice = 0;
    ck->epoch = -1;
    const nli_pk *sd = root->kind == NLI_PK_DICT ? training_state_dict(root, &twice) : NULL;
    if (root->kind == NLI_PK_OBJECT) {
        ck->torchscript = 1;
        rc = walk_module(&w, root, "", 0);
    } else if (sd) {
        /* open_clip_train's checkpoint: the model's weights in 'state_dict',
         * the optimizer and the rest beside them, never read */
        if (twice) {
            nli_seterr("%s: a training checkpoint with two 'state_dict' entries", what);
            rc = -1;
        } else if (sd->kind != NLI_PK_DICT) {
            nli_seterr("%s: its 'state_dict' entry is a %s, not a dict of tensors (open_clip takes a checkpoint's "
                       "weights from that entry when the saved dict has one)", what, nli_pk_kind_name(sd->kind));
            rc = -1;
        } else {
            size_t len = strlen(what) + 32;
            char *inner = nli_malloc(len);
            if (!inner) rc = -1;
            else {
                snprintf(inner, len, "%s: its 'state_dict'", what);
                w.what = inner;
                rc = walk_dict(&w, sd, inner);
                w.what = what;
                free(inner);
            }
            ck->training = 1;
            ck->ignored = root->n / 2 - 1;
            const nli_pk *ep = nli_pk_get(root, "epoch");
            if (ep && ep->kind == NLI_PK_INT) ck->epoch = ep->i;
        }
    } else if (root->kind == NLI_PK_DICT) {
        rc = walk_dict(&w, root, what);
    } else {
        nli_seterr("%s: holds a %s, neither a TorchScript module nor a state dict", what, nli_pk_kind_name(root->kind));
        rc = -1;
    }
    free_decls(&w);
    if (rc == 0 && ck->n == 0) {
        nli_seterr(ck->training ? "%s: no tensors in its 'state_dict'" : "%s: no tensors", what);
        rc = -1;
    }
    if (rc == 0) rc = check_unique(ck, what, "");
    return rc;
}

int nli_ckpt_strip_module(nli_ckpt *ck, const char *what) {
    if (ck->n == 0 || strncmp(ck->t[0].name, "module", 6) != 0) return 0;
    for (size_t i = 0; i < ck->n; i++)
        if (strlen(ck->t[i].name) <= 7) {
            char shown[300];
            nli_sanitize(shown, sizeof shown, ck->t[i].name);
            nli_seterr("%s: its first tensor name begins with 'module', so DDP's 'module.' prefix is stripped from "
                       "every name (their first 7 bytes, as open_clip does), which leaves tensor '%s' without a name",
                       what, shown);
            return -1;
        }
    for (size_t i = 0; i < ck->n; i++) {
        char *s = ck->t[i].name;
        memmove(s, s + 7, strlen(s + 7) + 1);
    }
    return check_unique(ck, what, " once DDP's 'module.' prefix is stripped (the first 7 bytes of every name, as "
                                  "open_clip strips them)") == 0 ? 1 : -1;
}

/* ------------------------------------------------------------ the archive */

int nli_ckpt_open_zip(nli_zip *z, nli_ckpt *ck) {
    memset(ck, 0, sizeof *ck);
    ck->zip = z;
    const char *path = nli_zip_path(z);
    if (nli_zip_count(z) == 0) { nli_seterr("%s: an empty archive", path); goto fail; }
    /* every entry under one top-level folder, whose data.pkl is the state */
    const char *first = nli_zip_name(z, 0), *slash = strchr(first, '/');
    if (!slash) { nli_seterr("%s: entry '%s' is not inside the archive's folder", path, first); goto fail; }
    if (!(ck->prefix = nli_strndup(first, (size_t)(slash - first)))) goto fail;
    size_t pl = strlen(ck->prefix);
    for (size_t i = 0; i < nli_zip_count(z); i++) {
        const char *n = nli_zip_name(z, i);
        if (strncmp(n, ck->prefix, pl) != 0 || n[pl] != '/') {
            char shown[300];
            nli_sanitize(shown, sizeof shown, n);
            nli_seterr("%s: entry '%s' is outside the archive's folder '%s'", path, shown, ck->prefix);
            goto fail;
        }
    }
    char name[NL_ZIP_MAX_NAME + 32];
    snprintf(name, sizeof name, "%s/byteorder", ck->prefix);
    long bo = nli_zip_find(z, name);
    if (bo >= 0) {
        uint8_t *b;
        size_t bl;
        if (nli_zip_read(z, (size_t)bo, 16, &b, &bl) != 0) goto fail;
        int little = bl == 6 && memcmp(b, "little", 6) == 0;
        free(b);
        if (!little) { nli_seterr("%s: a big-endian archive (only little-endian ones are read)", path); goto fail; }
    }
    snprintf(name, sizeof name, "%s/data.pkl", ck->prefix);
    long di = nli_zip_find(z, name);
    if (di < 0) { nli_seterr("%s: no %s (not a PyTorch archive)", path, name); goto fail; }
    /* A deflated data.pkl inflates within the storages' bound: the
     * unpickler's values take ~100 bytes per pickle byte */
    if (nli_zip_deflated(z, (size_t)di) &&
        nli_zip_size(z, (size_t)di) > nli_zip_comp_size(z, (size_t)di) * NL_CKPT_MAX_INFLATE + NL_CKPT_INFLATE_SLACK) {
        nli_seterr("%s: %s is deflated from %llu to %llu bytes: at most %d times its compressed size (plus %llu KiB) "
                   "is read; torch.save writes it uncompressed",
                   path, name, (unsigned long long)nli_zip_comp_size(z, (size_t)di),
                   (unsigned long long)nli_zip_size(z, (size_t)di), NL_CKPT_MAX_INFLATE,
                   (unsigned long long)(NL_CKPT_INFLATE_SLACK >> 10));
        goto fail;
    }
    uint8_t *pkl;
    size_t len;
    if (nli_zip_read(z, (size_t)di, NL_PK_MAX_INPUT, &pkl, &len) != 0) goto fail;
    char what[NL_ZIP_MAX_NAME + 600];
    char shown[300];
    nli_sanitize(shown, sizeof shown, name);
    snprintf(what, sizeof what, "%s: %s", path, shown);
    nli_pk *root;
    int rc = nli_unpickle(pkl, len, what, &ck->arena, &root);
    free(pkl);
    if (rc != 0 || nli_ckpt_walk(ck, root, what) != 0) goto fail;
    return 0;
fail:
    nli_ckpt_free(ck);
    return -1;
}

/* What a file that is not a zip archive may be instead, said in place of
 * libzip's message: a Git LFS pointer, or torch.save's format before torch
 * 1.6 (a pickle of the magic number 0x1950a86a20f9469cfc6c first). */
static void not_zip(const char *path) {
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    uint8_t b[64];
    struct stat st;
    FILE *f = nli_fopen_regular(path, &st);
    size_t n = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    if (nli_is_lfs_pointer(b, n))
        nli_seterr_code(NL_ERR_IO, "%s: a Git LFS pointer, not the checkpoint: the repository was cloned without "
                        "git-lfs (run `git lfs pull` in it, or download the file)", path);
    else if (n >= sizeof legacy && memcmp(b, legacy, sizeof legacy) == 0)
        nli_seterr_code(NL_ERR_UNSUPPORTED, "%s: saved in torch.save's format before torch 1.6 (not a zip archive), "
                        "which is not read: load and save it again with a newer torch", path);
}

int nli_ckpt_open(const char *path, nli_ckpt *ck) {
    memset(ck, 0, sizeof *ck);
    nli_zip *z;
    if (nli_zip_open(path, &z) != 0) {
        if (nl_last_status() == NL_ERR_INVALID) not_zip(path);
        return -1;
    }
    return nli_ckpt_open_zip(z, ck);
}

static int contiguous(const nli_pk_tensor *t) {
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != expect) return 0;
        expect *= t->size[d];
    }
    return 1;
}

/* Copy t's elements, row-major, out of its storage (a strided view). */
static void gather(uint8_t *dst, const uint8_t *base, const nli_pk_tensor *t, size_t es) {
    int64_t idx[NL_PK_MAX_DIMS] = {0};
    for (int64_t e = 0; e < t->numel; e++) {
        int64_t off = t->offset;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        memcpy(dst + (size_t)e * es, base + (size_t)off * es, es);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

/* A storage entry, read once and shared by every tensor that views it. */
typedef struct {
    const char *key;
    long entry;
    uint64_t bytes, viewed; /* its size; the bytes of the tensors that view it */
    size_t views;
    uint8_t *data;
} stor;

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* Storages by key: an open-addressing table of twice the tensors' count.
 * Pass 1 checks every storage entry (present, its size as declared, and
 * what a deflated one inflates to) and the bytes the tensors would take,
 * before anything is read; pass 2 reads each storage once. */
int nli_ckpt_load_data(nli_ckpt *ck) {
    const char *path = nli_zip_path(ck->zip);
    size_t cap = 16;
    while (cap < 2 * ck->n) cap *= 2;
    stor *tab = nli_calloc(cap, sizeof *tab);
    size_t *slot = nli_mallocarray(ck->n ? ck->n : 1, sizeof *slot);
    int rc = -1;
    char name[NL_ZIP_MAX_NAME + 100], shown[300];
    if (!tab || !slot) goto out;
    uint64_t storage_bytes = 0, tensor_bytes = 0, inflated = 0, deflated = 0;
    size_t nstor = 0;
    for (size_t i = 0; i < ck->n; i++) {
        nli_ckpt_tensor *t = &ck->t[i];
        const nli_pk *s = t->src->storage;
        size_t es = nli_dtype_size(s->dtype);
        size_t h = (size_t)nli_fnv1a(s->s, s->slen, NL_FNV_INIT) & (cap - 1);
        while (tab[h].key && strcmp(tab[h].key, s->s) != 0) h = (h + 1) & (cap - 1);
        uint64_t want = (uint64_t)s->i * es;
        snprintf(name, sizeof name, "%s/data/%s", ck->prefix, s->s);
        nli_sanitize(shown, sizeof shown, name);
        if (tab[h].key && tab[h].bytes != want) {
            nli_seterr("%s: tensor '%s': storage '%s' declared again with another size", path, t->name, shown);
            goto out;
        }
        if (!tab[h].key) {
            long e = nli_zip_find(ck->zip, name);
            if (e < 0) { nli_seterr("%s: tensor '%s': its storage %s is missing", path, t->name, shown); goto out; }
            uint64_t have = nli_zip_size(ck->zip, (size_t)e);
            if (have != want) {
                nli_seterr("%s: tensor '%s': storage %s holds %llu bytes, its header says %lld elements of %zu "
                           "bytes (%llu)", path, t->name, shown, (unsigned long long)have, (long long)s->i, es,
                           (unsigned long long)want);
                goto out;
            }
            /* torch.save writes storages stored (uncompressed); a deflated
             * one may claim any size, so what they inflate to is bounded by
             * what they take in the file */
            if (nli_zip_deflated(ck->zip, (size_t)e)) {
                inflated = sat_add(inflated, want);
                deflated = sat_add(deflated, nli_zip_comp_size(ck->zip, (size_t)e));
                if (inflated > sat_add(deflated > UINT64_MAX / NL_CKPT_MAX_INFLATE ? UINT64_MAX
                                                                                     : deflated * NL_CKPT_MAX_INFLATE,
                                       NL_CKPT_INFLATE_SLACK)) {
                    nli_seterr("%s: storage %s is deflated from %llu to %llu bytes: deflated storages may inflate "
                               "to at most %d times their compressed size (plus %llu KiB in all); torch.save writes "
                               "storages uncompressed",
                               path, shown, (unsigned long long)nli_zip_comp_size(ck->zip, (size_t)e),
                               (unsigned long long)want, NL_CKPT_MAX_INFLATE,
                               (unsigned long long)(NL_CKPT_INFLATE_SLACK >> 10));
                    goto out;
                }
            }
            tab[h].key = s->s;
            tab[h].entry = e;
            tab[h].bytes = want;
            storage_bytes = sat_add(storage_bytes, want);
            nstor++;
        }
        tab[h].viewed = sat_add(tab[h].viewed, t->nbytes);
        tab[h].views++;
        tensor_bytes = sat_add(tensor_bytes, t->nbytes);
        slot[i] = h;
    }
    /* views share their storage in memory, but every tensor is written out
     * on its own: only tied weights view one storage twice */
    if (tensor_bytes > sat_add(sat_add(storage_bytes, storage_bytes), NL_CKPT_VIEW_SLACK)) {
        size_t worst = 0;
        uint64_t excess = 0;
        for (size_t h = 0; h < cap; h++)
            if (tab[h].key && tab[h].viewed > tab[h].bytes && tab[h].viewed - tab[h].bytes >= excess) {
                excess = tab[h].viewed - tab[h].bytes;
                worst = h;
            }
        snprintf(name, sizeof name, "%s/data/%s", ck->prefix, tab[worst].key);
        nli_sanitize(shown, sizeof shown, name);
        nli_seterr("%s: its tensors take %llu bytes of %llu bytes of storage (more than twice, plus %llu KiB: "
                   "storages viewed over and over; storage %s of %llu bytes is viewed by %zu tensors of %llu bytes)",
                   path, (unsigned long long)tensor_bytes, (unsigned long long)storage_bytes,
                   (unsigned long long)(NL_CKPT_VIEW_SLACK >> 10), shown, (unsigned long long)tab[worst].bytes,
                   tab[worst].views, (unsigned long long)tab[worst].viewed);
        goto out;
    }
    if (!(ck->stor = nli_calloc(nstor ? nstor : 1, sizeof *ck->stor))) goto out;
    for (size_t i = 0; i < ck->n; i++) {
        nli_ckpt_tensor *t = &ck->t[i];
        stor *st = &tab[slot[i]];
        size_t es = nli_dtype_size(t->src->storage->dtype);
        if (!st->data) {
            size_t len;
            if (nli_zip_read(ck->zip, (size_t)st->entry, st->bytes, &st->data, &len) != 0) goto out;
            ck->stor[ck->nstor++] = st->data;
        }
        if (contiguous(t->src)) {
            t->data = st->data + (size_t)t->src->offset * es;
        } else {
            if (!(t->own = nli_malloc(t->nbytes ? t->nbytes : 1))) goto out;
            gather(t->own, st->data, t->src, es);
            t->data = t->own;
        }
    }
    rc = 0;
out:
    free(tab);
    free(slot);
    return rc;
}

void nli_ckpt_free(nli_ckpt *ck) {
    for (size_t i = 0; i < ck->n; i++) {
        free(ck->t[i].name);
        free(ck->t[i].own);
    }
    free(ck->t);
    for (size_t i = 0; i < ck->nstor; i++) free(ck->stor[i]);
    free(ck->stor);
    nli_pk_free(ck->arena);
    nli_zip_close(ck->zip);
    free(ck->prefix);
    memset(ck, 0, sizeof *ck);
}
