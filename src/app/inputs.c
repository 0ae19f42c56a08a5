/* inputs.c — what users hand the pipeline as files: string lists, label and list files, prompt templates, and image datasets walked from folders or list files (declared in neglabel.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "neglabel.h"
#include "util.h"

int nl_strvec_push_owned(nl_strvec *s, char *str) {
    if (!s) { free(str); return nli_null_arg(__func__); }
    /* A NULL str is how a failed nli_strdup/nli_strndup/nli_path_join
     * arrives, its message already set: keep that message, add none. */
    if (!str) return -1;
    if (nli_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v) != 0) { free(str); return -1; }
    s->v[s->n++] = str;
    return 0;
}

int nl_strvec_push(nl_strvec *s, const char *str) {
    if (!s || !str) return nli_null_arg(__func__);
    return nl_strvec_push_owned(s, nli_strdup(str));
}

void nl_strvec_free(nl_strvec *s) {
    if (!s) return;
    for (size_t i = 0; s->v && i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Strict UTF-8 check (no overlongs, surrogates or values past U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned min, cp;
        if (c < 0x80) { if (!c) return 0; i++; continue; }
        else if ((c & 0xE0) == 0xC0) { k = 1; min = 0x80; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { k = 2; min = 0x800; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { k = 3; min = 0x10000; cp = c & 0x07; }
        else return 0;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

#define MAX_LIST_FILE ((size_t)1 << 30)

/* nl_read_lines; utf8 0: any bytes but NUL (an image list: a file name is
 * bytes, and the walk of a folder lists names that are not UTF-8). */
static int read_lines(const char *path, int utf8, nl_strvec *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    if (nli_read_input(path, MAX_LIST_FILE, &buf, &len) != 0) return -1;
    size_t lineno = 0;
    char *p = buf, *end = buf + len;
    p += nli_bom_len(p, len);
    while (p < end) {
        /* a line ends in LF, CR LF or CR alone (Python's universal
         * newlines: an old Mac file's labels were read as one label) */
        char *e = p;
        while (e < end && *e != '\n' && *e != '\r') e++;
        lineno++;
        if (memchr(p, 0, (size_t)(e - p))) {
            nli_seterr("%s:%zu: NUL byte in text file", path, lineno);
            goto fail;
        }
        char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        if (b > a) {
            if (utf8 && !utf8_valid((unsigned char *)a, (size_t)(b - a))) {
                nli_seterr("%s:%zu: invalid UTF-8", path, lineno);
                goto fail;
            }
            if (utf8 && (size_t)(b - a) > NLI_TEXT_EMBED_MAX) {
                nli_seterr("%s:%zu: a line of %zu bytes, and a text to embed is at most 1 MiB: a missing line break?",
                           path, lineno, (size_t)(b - a));
                goto fail;
            }
            if (nl_strvec_push_owned(out, nli_strndup(a, (size_t)(b - a))) != 0) goto fail;
        }
        p = e < end ? e + (*e == '\r' && e + 1 < end && e[1] == '\n' ? 2 : 1) : end;
    }
    free(buf);
    return 0;
fail:
    free(buf);
    nl_strvec_free(out);
    return -1;
}

int nl_read_lines(const char *path, nl_strvec *out) {
    if (!path || !out) return nli_null_arg(__func__);
    return read_lines(path, 1, out);
}

static int cmp_ent(const void *a, const void *b) {
    const struct { const char *s; size_t i; } *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

int nl_read_id_labels(const char *path, int allow_duplicates, nl_strvec *out) {
    if (nl_read_lines(path, out) != 0) return -1;
    if (out->n == 0) {
        nli_seterr("%s: no ID labels (the file is empty)", path);
        return -1;
    }
    /* Duplicates make two classes indistinguishable: refuse them (sorted
     * copy, O(n log n); ties keep file order so both lines can be named). */
    struct ent { const char *s; size_t i; } *e = nli_mallocarray(out->n, sizeof *e);
    if (!e) { nl_strvec_free(out); return -1; }
    for (size_t i = 0; i < out->n; i++) e[i] = (struct ent){out->v[i], i};
    qsort(e, out->n, sizeof *e, cmp_ent);
    size_t dups = 0;
    for (size_t i = 1; i < out->n; i++)
        if (!strcmp(e[i].s, e[i - 1].s)) {
            if (allow_duplicates) { dups++; continue; }
            nli_seterr("%s: duplicate ID label '%s' (entries %zu and %zu): two classes of one name cannot be "
                       "told apart", path, e[i].s, e[i - 1].i + 1, e[i].i + 1);
            free(e);
            nl_strvec_free(out);
            return -1;
        }
    if (dups) nli_log(NL_LOG_WARN, "%s: %zu duplicate ID label(s) kept", path, dups);
    free(e);
    return 0;
}

/* tmpl.format(word), as the NegLabel reference (and CLIP's prompt
 * ensembles) build prompts: "{}" or "{0}" is the word, "{{" and "}}" are
 * literal braces. What Python refuses is refused: a second "{}" (IndexError:
 * the word would have been left as "{}" in the prompt), "{}" mixed with
 * "{0}", a lone '{' or '}', and any other field ("{name}", "{0!r}", "{:>9}");
 * so is a template without a field, whose prompts would all be the same. */
/* Checks tmpl as str.format with the word alone would, and gives the
 * prompt's length for a word of w bytes; -1 with the error set. */
static int template_measure(const char *tmpl, size_t w, size_t *len) {
    size_t n = 0, autos = 0, zeros = 0;
    for (const char *p = tmpl; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            n++, p += 2;
            continue;
        }
        if (*p == '}') {
            nli_seterr("prompt template '%s': '}' without its '{' (write '}}' for a brace)", tmpl);
            return -1;
        }
        if (*p != '{') {
            n++, p++;
            continue;
        }
        const char *close = strchr(p + 1, '}'), *open = strchr(p + 1, '{');
        if (!close || (open && open < close)) {
            nli_seterr("prompt template '%s': '{' without its '}' (write '{{' for a brace)", tmpl);
            return -1;
        }
        size_t fl = (size_t)(close - p - 1);
        if (fl == 0) autos++;
        else if (fl == 1 && p[1] == '0') zeros++;
        else {
            nli_seterr("prompt template '%s': field '{%.*s}': the word is '{}' (or '{0}'), a literal brace '{{' "
                       "or '}}'",
                       tmpl, (int)fl, p + 1);
            return -1;
        }
        if (autos > 1) {
            nli_seterr("prompt template '%s' has more than one '{}' (Python's format would fail; use '{0}' to "
                       "repeat the word)",
                       tmpl);
            return -1;
        }
        if (autos && zeros) {
            nli_seterr("prompt template '%s' mixes '{}' and '{0}'", tmpl);
            return -1;
        }
        n += w, p = close + 1;
    }
    if (autos + zeros == 0) {
        nli_seterr("prompt template '%s' has no '{}' placeholder", tmpl);
        return -1;
    }
    *len = n;
    return 0;
}

char *nl_apply_template(const char *tmpl, const char *word) {
    if (!tmpl || !word) {
        nli_null_arg(__func__);
        return NULL;
    }
    size_t w = strlen(word), len, o = 0;
    if (template_measure(tmpl, w, &len) != 0) return NULL;
    char *s = nli_malloc(len + 1);
    if (!s) return NULL;
    for (const char *p = tmpl; *p;) /* checked: every brace is doubled or a field */
        if (p[0] == '{' && p[1] != '{') {
            memcpy(s + o, word, w);
            o += w, p = strchr(p + 1, '}') + 1;
        } else {
            s[o++] = *p;
            p += *p == '{' || *p == '}' ? 2 : 1;
        }
    s[o] = 0;
    return s;
}

/* ------------------------------------------------------------ datasets */

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    static const char *ext[] = {".jpg", ".jpeg", ".png", ".webp", ".jpe", ".jfif", ".gif", ".bmp", ".tif", ".tiff"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The folders a walk has entered, by device and inode (an open-addressing
 * hash set: datasets may have 100,000 folders): a folder reached a second
 * time (a symbolic link back up the tree, or two links to one folder) is
 * skipped, so a loop ends and no image is listed twice. */
typedef struct { dev_t dev; ino_t ino; int used; } dir_id;
typedef struct { dir_id *v; size_t n, cap; } dir_seen; /* cap: 0 or a power of two */

static dir_id *seen_slot(dir_id *v, size_t cap, dev_t dev, ino_t ino) {
    size_t h = (size_t)(((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev) & (cap - 1);
    while (v[h].used && (v[h].dev != dev || v[h].ino != ino)) h = (h + 1) & (cap - 1);
    return &v[h];
}

/* 0: added, 1: there already, -1: out of memory. */
static int seen_add(dir_seen *s, dev_t dev, ino_t ino) {
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        dir_id *v = nli_calloc(cap, sizeof *v);
        if (!v) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].used) *seen_slot(v, cap, s->v[i].dev, s->v[i].ino) = s->v[i];
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    dir_id *e = seen_slot(s->v, s->cap, dev, ino);
    if (e->used) return 1;
    *e = (dir_id){dev, ino, 1};
    s->n++;
    return 0;
}

static int walk(const char *dir, const struct stat *dst, nl_strvec *out, dir_seen *seen, int depth) {
    if (depth > 64) { nli_seterr("%s: directory nesting too deep", dir); return -1; }
    int known = seen_add(seen, dst->st_dev, dst->st_ino);
    if (known < 0) return -1;
    if (known) {
        nli_log(NL_LOG_WARN, "%s: skipped, a folder already walked (a symbolic link loop or a second link)", dir);
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) { nli_seterr_code(NL_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno)); return -1; }
    nl_strvec names = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && nl_strvec_push(&names, e->d_name) != 0) { rc = -1; break; }
    closedir(d);
    if (rc == 0 && names.n) qsort(names.v, names.n, sizeof *names.v, cmp_cstr);
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        char *p = nli_path_join(dir, names.v[i]);
        struct stat st;
        if (!p) { rc = -1; break; }
        if (stat(p, &st) != 0) {
            /* A dangling link, a link to itself, a path too long: never
             * dropped unseen. An image's name is listed, so the embedding
             * reports it as unreadable and counts it skipped (--strict:
             * fatal), as a list file's missing entry; anything else (it may
             * have been a folder of images) is named in a warning. */
            if (has_image_ext(p)) rc = nl_strvec_push_owned(out, p);
            else {
                nli_log(NL_LOG_WARN, "%s: skipped, cannot be read: %s", p, strerror(errno));
                free(p);
            }
            continue;
        }
        if (S_ISDIR(st.st_mode)) { rc = walk(p, &st, out, seen, depth + 1); free(p); }
        else if (S_ISREG(st.st_mode) && has_image_ext(p)) rc = nl_strvec_push_owned(out, p);
        else free(p);
    }
    nl_strvec_free(&names);
    return rc;
}

int nl_collect_images(const char *spec, nl_strvec *out) {
    if (!spec || !out) return nli_null_arg(__func__);
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(spec, &st) != 0) { nli_seterr_code(NL_ERR_IO, "%s: %s", spec, strerror(errno)); return -1; }
    if (S_ISDIR(st.st_mode)) {
        dir_seen seen = {0};
        int rc = walk(spec, &st, out, &seen, 0);
        free(seen.v);
        if (rc != 0) { nl_strvec_free(out); return -1; }
        if (!out->n) { nli_seterr("%s: no images found (looked for .jpg, .jpeg, .jpe, .jfif, .png, .webp, .gif, .bmp, .tif, .tiff, any case)", spec); return -1; }
        return 0;
    }
    nl_strvec lines;
    if (read_lines(spec, 0, &lines) != 0) return -1;
    char *base = nli_strdup(spec);
    if (!base) { nl_strvec_free(&lines); return -1; }
    /* relative lines: against the list's folder, or the current one for a
     * pipe or a descriptor (--list /dev/stdin, <(ls ...), a here-string),
     * whose "folder" would be /dev or /dev/fd, as the command that wrote
     * them meant */
    int here = !S_ISREG(st.st_mode) || !strncmp(spec, "/dev/", 5) || !strncmp(spec, "/proc/", 6);
    char *slash = here ? NULL : strrchr(base, '/');
    if (slash) slash[1] = 0; else base[0] = 0;
    for (size_t i = 0; i < lines.n; i++) {
        if (lines.v[i][0] == '#') {
            /* a comment; one that names an existing file is said, not
             * dropped unseen (such a file is listed as ./#name) */
            char *p = nli_path_join(base, lines.v[i]);
            struct stat cs;
            if (p && stat(p, &cs) == 0)
                nli_log(NL_LOG_WARN, "%s: \"%s\" is read as a comment, though a file of that name exists (list it as "
                        "./%s)", spec, lines.v[i], lines.v[i]);
            free(p);
            continue;
        }
        if (nl_strvec_push_owned(out, nli_path_join(base, lines.v[i])) != 0) {
            free(base); nl_strvec_free(&lines); nl_strvec_free(out); return -1;
        }
    }
    free(base);
    nl_strvec_free(&lines);
    if (!out->n) { nli_seterr("%s: the image list is empty", spec); return -1; }
    return 0;
}
