/* corpus.c — the NegLabel candidate corpus: WordNet nouns and adjectives.
 *
 * Two sources, one rule. A folder of word lists (noun.<cat>.txt,
 * adj.<cat>.txt, the reference's format) or a WordNet database folder
 * (data.noun, data.adj), whose synsets are grouped by lexicographer file as
 * if each group were the list file "<lexname>.txt". Groups are visited in
 * byte order of those file names and a word belongs to the first group that
 * has it, so both sources dedupe the same way. Words: first lemma of each
 * synset, lowercased, '_' -> ' ', adjective markers "(a)", "(p)", "(ip)"
 * removed.
 *
 * Filters: include keeps the matching groups (all if none), exclude then
 * drops matching ones. Every filter must match a group of the source.
 * A WordNet database also drops noun.animal and noun.food, whatever the
 * filters, unless an include names that category itself ("noun" does not):
 * the reference's word lists have neither file (it does not say why; the
 * two hold a large share of ImageNet's classes). A word-list folder has no
 * such rule. */
#include "neglabel.h"
#include "corpus.h"
#include "prng.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define WORD_MAX 1024        /* longest word accepted (bytes) */
#define LIST_MAX (64u << 20) /* largest list file read */

/* WordNet lexicographer files (lexnames(5)); only nouns and adjectives. */
static const char *lexname(unsigned num) {
    static const char *const noun[] = {
        "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute", "noun.body",
        "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food",
        "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
        "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity",
        "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time"};
    if (num == 0) return "adj.all";
    if (num == 1) return "adj.pert";
    if (num == 44) return "adj.ppl";
    if (num >= 3 && num <= 28) return noun[num - 3];
    return NULL;
}

static int utf8_valid(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

/* ------------------------------------------------------------ word set */

/* A hash set keyed per load (key: random bits): with the fixed FNV-1a a
 * word list could be made of words that all land in one slot (the low bits
 * of FNV-1a depend on the low bits alone), and 131,072 such words took
 * 131 s to load, quadratic. Which word is kept (the first) does not depend
 * on the key. */
typedef struct { char **slot; size_t cap, n; uint64_t key; } wordset;

static uint64_t ws_key(void) {
    uint64_t k = 0;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) { /* no entropy yet: time and address */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        k = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&k;
    }
    return k;
}

static size_t ws_hash(const wordset *s, const char *w) {
    nli_prng r; /* splitmix64's finaliser over FNV-1a from a keyed basis */
    nli_prng_seed(&r, nli_fnv1a(w, strlen(w), NL_FNV_INIT ^ s->key));
    return (size_t)nli_prng_next(&r);
}

/* 1 if w is already present, 0 if added (w stored by pointer), -1 error. */
static int ws_add(wordset *s, char *w) {
    if (2 * (s->n + 1) > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        char **ns = nli_calloc(nc, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) {
                size_t h = ws_hash(s, s->slot[i]) & (nc - 1);
                while (ns[h]) h = (h + 1) & (nc - 1);
                ns[h] = s->slot[i];
            }
        free(s->slot);
        s->slot = ns;
        s->cap = nc;
    }
    size_t h = ws_hash(s, w) & (s->cap - 1);
    while (s->slot[h]) {
        if (!strcmp(s->slot[h], w)) return 1;
        h = (h + 1) & (s->cap - 1);
    }
    s->slot[h] = w;
    s->n++;
    return 0;
}

/* ------------------------------------------------------------ building */

typedef struct {
    nl_corpus *c;
    size_t cap;
    wordset seen;
} builder;

/* Trimmed from both ends of a word: '_' (it becomes a space) and the
 * characters Python's str.strip() removes (the ASCII ones here, the others
 * in uspace), as NegLabel's (line.strip()) and CSP's reference do
 * (line.replace('_', ' ').strip()). Trimming before the '_' -> ' ' below
 * left "ice_cream_" as "ice cream ", a duplicate of "ice cream". */
static int trimmed(char ch) { return ch == ' ' || ch == '_' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f); }

/* The other characters str.isspace() holds true (U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), as UTF-8: the
 * byte length of one starting at s (n bytes there), else 0. */
static size_t uspace(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    unsigned cp = (unsigned)(u[0] & 0x0F) << 12 | (unsigned)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
    if ((u[0] & 0xF0) != 0xE0 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80) return 0;
    return cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
                   cp == 0x205F || cp == 0x3000
               ? 3
               : 0;
}

static void trim(const char **w, size_t *len) {
    for (;;) {
        size_t k = 0;
        if (*len && trimmed((*w)[*len - 1])) k = 1;
        else if (*len >= 2 && uspace(*w + *len - 2, 2) == 2) k = 2;
        else if (*len >= 3 && uspace(*w + *len - 3, 3) == 3) k = 3;
        if (!k) break;
        *len -= k;
    }
    for (;;) {
        size_t k = *len && trimmed(**w) ? 1 : uspace(*w, *len);
        if (!k) break;
        *w += k;
        *len -= k;
    }
}

/* w[0..len) in the corpus's form: trimmed, '_' -> ' ', ASCII letters
 * lowercased. malloc'd; NULL: out of memory (error set). */
static char *corpus_word(const char *w, size_t len) {
    trim(&w, &len);
    char *s = nli_strndup(w, len);
    if (!s) return NULL;
    for (char *p = s; *p; p++) {
        if (*p == '_') *p = ' ';
        else if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }
    return s;
}

/* Add one raw word (not NUL-terminated) of a group. Invalid text is an error
 * naming the file and line. */
static int add_word(builder *b, const char *file, size_t line, const char *w, size_t len,
                    nl_pos pos, const char *cat) {
    trim(&w, &len);
    if (len == 0) return 0;
    if (len > WORD_MAX) {
        nli_seterr("%s: line %zu: word longer than %d bytes", file, line, WORD_MAX);
        return -1;
    }
    if (memchr(w, 0, len)) {
        nli_seterr("%s: line %zu: NUL byte", file, line);
        return -1;
    }
    if (memchr(w, '\t', len) || memchr(w, '\r', len)) { /* neither fits a negatives file's TSV */
        nli_seterr("%s: line %zu: a TAB or CR inside the word (one word per line)", file, line);
        return -1;
    }
    if (!utf8_valid(w, len)) {
        nli_seterr("%s: line %zu: invalid UTF-8", file, line);
        return -1;
    }
    nl_corpus *c = b->c;
    if (c->n == b->cap) { /* grow first so nothing below can fail half-way */
        size_t cap = b->cap;
        if (nli_grow((void **)&c->word, &cap, c->n + 1, sizeof *c->word)) return -1;
        cap = b->cap;
        if (nli_grow((void **)&c->category, &cap, c->n + 1, sizeof *c->category)) return -1;
        cap = b->cap;
        if (nli_grow((void **)&c->pos, &cap, c->n + 1, sizeof *c->pos)) return -1;
        b->cap = cap;
    }
    char *s = corpus_word(w, len);
    char *cs = nli_strdup(cat);
    if (!s || !cs) { free(s); free(cs); return -1; }
    int r = ws_add(&b->seen, s);
    if (r != 0) { free(s); free(cs); return r < 0 ? -1 : 0; }
    /* s is owned by the corpus from here; the set only borrows it. */
    c->word[c->n] = s;
    c->category[c->n] = cs;
    c->pos[c->n] = (uint8_t)pos;
    c->n++;
    if (pos == NL_POS_NOUN) c->n_noun++;
    else c->n_adj++;
    return 0;
}

/* ------------------------------------------------------------ dropping */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* w in the form drop's words and the corpus's are compared in: the
 * corpus's form (corpus_word), then Unicode case folding and NFC
 * (utf8proc), so that the ID label "Éclair" drops the candidate "éclair"
 * and "STRASSE" drops "straße" (the corpus's form lowercases ASCII only).
 * malloc'd; NULL with the error set. */
static char *drop_key(const char *w) {
    char *cw = corpus_word(w, strlen(w));
    if (!cw) return NULL;
    utf8proc_uint8_t *f = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)cw, 0, &f,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0) {
        nli_seterr("'%.60s': %s", cw, utf8proc_errmsg(n));
        free(cw);
        return NULL;
    }
    free(cw);
    return (char *)f;
}

/* Remove the corpus words found in drop, keeping the order of the rest;
 * text (NULL or c->n entries, parallel to the corpus) is compacted alike.
 * Both sides are compared as drop_key makes them, so the ID label
 * "Pickup_Truck" drops the candidate "pickup truck" (before: compared as
 * given, ignoring case only, it dropped nothing). */
int nli_corpus_drop(nl_corpus *c, const nl_strvec *drop, nl_strvec *text) {
    char **keys = nli_calloc(drop->n + 1, sizeof *keys);
    if (!keys) return -1;
    int rc = -1;
    size_t nk = 0;
    for (; nk < drop->n; nk++)
        if (!(keys[nk] = drop_key(drop->v[nk]))) goto out;
    qsort(keys, drop->n, sizeof *keys, cmp_str);
    size_t k = 0, removed = 0;
    int failed = 0;
    for (size_t i = 0; i < c->n; i++) {
        /* after a failure (out of memory) the rest is kept, the corpus whole */
        char *key = failed ? NULL : drop_key(c->word[i]);
        failed |= !key;
        int hit = key && bsearch(&key, keys, drop->n, sizeof *keys, cmp_str) != NULL;
        free(key);
        if (hit) {
            free(c->word[i]);
            free(c->category[i]);
            if (text) free(text->v[i]);
            if (c->pos[i] == NL_POS_NOUN) c->n_noun--; else c->n_adj--;
            removed++;
            continue;
        }
        c->word[k] = c->word[i];
        c->pos[k] = c->pos[i];
        c->category[k] = c->category[i];
        if (text) text->v[k] = text->v[i];
        k++;
    }
    rc = failed ? -1 : 0;
    c->n = k;
    if (text) text->n = k;
    if (rc == 0) nli_log(NL_LOG_INFO, "removed %zu candidates equal to an ID label", removed);
out:
    for (size_t i = 0; i < nk; i++) free(keys[i]);
    free(keys);
    return rc;
}

/* ------------------------------------------------------------ groups */

typedef struct {
    char *cat;   /* "noun.plant" */
    char *fname; /* "noun.plant.txt": the sort key */
    nl_pos pos;
    unsigned lexnum; /* WordNet source only */
} group;

static int cmp_group(const void *a, const void *b) {
    return strcmp(((const group *)a)->fname, ((const group *)b)->fname);
}

/* A filter name is "noun", "adj" or a category "noun.x" / "adj.x". */
static int filter_valid(const char *f) {
    if (!strcmp(f, "noun") || !strcmp(f, "adj")) return 1;
    if (!strncmp(f, "noun.", 5)) return f[5] != 0;
    if (!strncmp(f, "adj.", 4)) return f[4] != 0;
    return 0;
}

static int filter_match(const char *f, const char *cat) {
    size_t n = strlen(f);
    return !strcmp(f, cat) || (!strchr(f, '.') && !strncmp(cat, f, n) && cat[n] == '.');
}

/* WordNet's categories left out unless an include names them. */
static int wordnet_dropped(const nl_corpus_params *p, const char *cat) {
    if (strcmp(cat, "noun.animal") != 0 && strcmp(cat, "noun.food") != 0) return 0;
    for (size_t i = 0; i < p->n_include; i++)
        if (!strcmp(p->include[i], cat)) return 0;
    return 1;
}

static int group_wanted(const nl_corpus_params *p, const char *cat, int wordnet) {
    if (wordnet && wordnet_dropped(p, cat)) return 0;
    if (p->n_include) {
        int any = 0;
        for (size_t i = 0; i < p->n_include && !any; i++) any = filter_match(p->include[i], cat);
        if (!any) return 0;
    }
    for (size_t i = 0; i < p->n_exclude; i++)
        if (filter_match(p->exclude[i], cat)) return 0;
    return 1;
}

static void groups_free(group *g, size_t n) {
    for (size_t i = 0; i < n; i++) { free(g[i].cat); free(g[i].fname); }
    free(g);
}

static int group_push(group **g, size_t *n, size_t *cap, const char *cat, nl_pos pos, unsigned lexnum) {
    if (nli_grow((void **)g, cap, *n + 1, sizeof **g)) return -1;
    group *x = &(*g)[*n];
    x->cat = nli_strdup(cat);
    size_t l = strlen(cat);
    x->fname = nli_malloc(l + 5);
    if (!x->cat || !x->fname) { free(x->cat); free(x->fname); return -1; }
    memcpy(x->fname, cat, l);
    memcpy(x->fname + l, ".txt", 5);
    x->pos = pos;
    x->lexnum = lexnum;
    (*n)++;
    return 0;
}

/* Every include and exclude must match a group of the source: a misspelt
 * category would otherwise drop nothing, or everything, silently. The
 * groups are sorted; the message lists their names. */
static int filters_check(const nl_corpus_params *p, const group *g, size_t ng) {
    if (p->absent_ok) return 0;
    const char *src = p->lists_dir ? p->lists_dir : p->wordnet_dir;
    for (int k = 0; k < 2; k++) {
        const char *const *f = k ? p->exclude : p->include;
        size_t nf = k ? p->n_exclude : p->n_include;
        for (size_t i = 0; i < nf; i++) {
            size_t j = 0;
            while (j < ng && !filter_match(f[i], g[j].cat)) j++;
            if (j < ng) continue;
            char have[640];
            size_t at = 0;
            have[0] = 0;
            for (j = 0; j < ng && at < 480; j++) {
                int w = snprintf(have + at, sizeof have - at, "%s%s", j ? ", " : "", g[j].cat);
                at = w < 0 ? sizeof have : at + (size_t)w;
            }
            if (j < ng && at < sizeof have) snprintf(have + at, sizeof have - at, ", ...");
            nli_seterr("%s: %s '%s' matches no category of this %s (it has: %s)", src, k ? "exclude" : "include", f[i],
                       p->lists_dir ? "word-list folder" : "WordNet database", have);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ word lists */

static int load_list(builder *b, const char *path, const group *g) {
    char *text;
    size_t len;
    if (nli_read_file(path, LIST_MAX, &text, &len) != 0) return -1;
    size_t line = 0;
    int rc = 0;
    /* a byte order mark is no part of the first word (it would escape deduplication) */
    /* lines end in LF, CR LF or CR alone, as Python's readlines() reads
     * them (universal newlines) */
    for (size_t i = nli_bom_len(text, len); i < len && rc == 0;) {
        size_t n = 0;
        while (i + n < len && text[i + n] != '\n' && text[i + n] != '\r') n++;
        line++;
        rc = add_word(b, path, line, text + i, n, g->pos, g->cat);
        i += n + (i + n + 1 < len && text[i + n] == '\r' && text[i + n + 1] == '\n' ? 2 : 1);
    }
    free(text);
    return rc;
}

/* The folder's lists noun.<cat>.txt / adj.<cat>.txt, sorted. */
static int list_groups(const nl_corpus_params *p, group **gp, size_t *ngp) {
    DIR *d = opendir(p->lists_dir);
    if (!d) { nli_seterr_code(NL_ERR_IO, "%s: cannot open word-list folder: %s", p->lists_dir, strerror(errno)); return -1; }
    group *g = NULL;
    size_t ng = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        const char *nm = de->d_name;
        size_t l = strlen(nm);
        nl_pos pos;
        int noun = !strncmp(nm, "noun.", 5), adj = !strncmp(nm, "adj.", 4);
        if (!noun && !adj) continue;
        /* noun.<category>.txt, adj.<category>.txt, or noun.txt / adj.txt
         * (categories "noun", "adj"), as the reference reads them; another
         * noun.* / adj.* (an editor's backup) is said and left out (the
         * reference reads every such file) */
        int whole = !strcmp(nm, "noun.txt") || !strcmp(nm, "adj.txt");
        if (!whole && (l <= (noun ? 9u : 8u) || strcmp(nm + l - 4, ".txt") != 0)) {
            char shown[300];
            nli_sanitize(shown, sizeof shown, nm);
            nli_log(NL_LOG_WARN, "%s/%s: not read (word lists are named noun.<category>.txt or adj.<category>.txt)",
                    p->lists_dir, shown);
            continue;
        }
        pos = noun ? NL_POS_NOUN : NL_POS_ADJ;
        char cat[512];
        if (l - 4 >= sizeof cat) continue;
        memcpy(cat, nm, l - 4);
        cat[l - 4] = 0;
        rc = group_push(&g, &ng, &cap, cat, pos, 0);
    }
    closedir(d);
    if (rc == 0 && ng == 0) {
        nli_seterr("%s: no word lists (noun.<category>.txt / adj.<category>.txt) found", p->lists_dir);
        rc = -1;
    }
    if (rc != 0) { groups_free(g, ng); return -1; }
    qsort(g, ng, sizeof *g, cmp_group);
    *gp = g;
    *ngp = ng;
    return 0;
}

static int load_lists(const nl_corpus_params *p, builder *b, const group *g, size_t ng) {
    int rc = 0;
    for (size_t i = 0; i < ng && rc == 0; i++) {
        if (!group_wanted(p, g[i].cat, 0)) continue;
        char *path = nli_path_join(p->lists_dir, g[i].fname);
        if (!path) return -1;
        rc = load_list(b, path, &g[i]);
        free(path);
    }
    return rc;
}

/* ------------------------------------------------------------ WordNet */

/* One synset's first lemma as found in a data file. */
typedef struct { const char *w; size_t len, line; unsigned lexnum; } lemma;

/* Parse "offset lex_filenum ss_type w_cnt word lex_id ..." lines; header
 * lines start with two spaces. */
static int parse_data(const char *path, const nli_map *m, lemma **out, size_t *n, size_t *cap) {
    const char *t = (const char *)m->data;
    size_t len = m->len, line = 0;
    for (size_t i = 0; i < len;) {
        const char *e = memchr(t + i, '\n', len - i);
        size_t ll = e ? (size_t)(e - (t + i)) : len - i;
        const char *s = t + i, *end = s + ll;
        line++;
        i += ll + 1;
        if (ll == 0 || (ll >= 2 && s[0] == ' ' && s[1] == ' ')) continue;
        const char *f[5];
        size_t fl[5];
        const char *p = s;
        for (int k = 0; k < 5; k++) {
            while (p < end && *p == ' ') p++;
            f[k] = p;
            while (p < end && *p != ' ') p++;
            fl[k] = (size_t)(p - f[k]);
            if (fl[k] == 0) { nli_seterr("%s: line %zu: malformed synset line", path, line); return -1; }
        }
        if (fl[1] != 2 || f[1][0] < '0' || f[1][0] > '9' || f[1][1] < '0' || f[1][1] > '9') {
            nli_seterr("%s: line %zu: bad lex_filenum", path, line);
            return -1;
        }
        unsigned lex = (unsigned)(f[1][0] - '0') * 10 + (unsigned)(f[1][1] - '0');
        if (!lexname(lex)) { nli_seterr("%s: line %zu: unknown lex_filenum %u", path, line, lex); return -1; }
        size_t wl = fl[4];
        /* Adjective syntactic markers: word(a), word(p), word(ip). */
        if (wl > 3 && f[4][wl - 1] == ')') {
            if (!memcmp(f[4] + wl - 3, "(a)", 3) || !memcmp(f[4] + wl - 3, "(p)", 3)) wl -= 3;
            else if (wl > 4 && !memcmp(f[4] + wl - 4, "(ip)", 4)) wl -= 4;
        }
        if (nli_grow((void **)out, cap, *n + 1, sizeof **out)) return -1;
        (*out)[(*n)++] = (lemma){f[4], wl, line, lex};
    }
    return 0;
}

static const char *const wordnet_files[2] = {"data.noun", "data.adj"};

/* The lexicographer files of nouns and adjectives, sorted. */
static int wordnet_groups(group **gp, size_t *ngp) {
    group *g = NULL;
    size_t ng = 0, cap = 0;
    for (unsigned lex = 0; lex <= 44; lex++)
        if (lexname(lex) && group_push(&g, &ng, &cap, lexname(lex), lex >= 3 && lex <= 28 ? NL_POS_NOUN : NL_POS_ADJ, lex)) {
            groups_free(g, ng);
            return -1;
        }
    qsort(g, ng, sizeof *g, cmp_group);
    *gp = g;
    *ngp = ng;
    return 0;
}

/* Map a WordNet database's data file k (0 nouns, 1 adjectives). */
static int wordnet_map(const nl_corpus_params *p, int k, char **path, nli_map *m) {
    if (!(*path = nli_path_join(p->wordnet_dir, wordnet_files[k]))) return -1;
    if (nli_map_file(*path, m) != 0) { nli_prefixerr("WordNet database"); return -1; }
    return 0;
}

static int load_wordnet(const nl_corpus_params *p, builder *b, const group *g, size_t ng) {
    char *path[2] = {NULL, NULL};
    nli_map m[2] = {{0}, {0}};
    lemma *lem[2] = {NULL, NULL};
    size_t nl[2] = {0, 0}, lcap[2] = {0, 0};
    int rc = -1;
    for (int k = 0; k < 2; k++) {
        if (wordnet_map(p, k, &path[k], &m[k]) != 0) goto out;
        if (parse_data(path[k], &m[k], &lem[k], &nl[k], &lcap[k]) != 0) goto out;
    }
    if (nl[0] + nl[1] == 0) { nli_seterr("%s: WordNet data files hold no synsets", p->wordnet_dir); goto out; }
    for (size_t i = 0; i < ng; i++) {
        if (!group_wanted(p, g[i].cat, 1)) continue;
        int k = g[i].pos == NL_POS_NOUN ? 0 : 1;
        for (size_t j = 0; j < nl[k]; j++)
            if (lem[k][j].lexnum == g[i].lexnum &&
                add_word(b, path[k], lem[k][j].line, lem[k][j].w, lem[k][j].len, g[i].pos, g[i].cat))
                goto out;
    }
    rc = 0;
out:
    for (int k = 0; k < 2; k++) { free(path[k]); nli_unmap(&m[k]); free(lem[k]); }
    return rc;
}

/* ------------------------------------------------------------ public */

/* One source, well-formed filters, and the source's groups with every
 * filter matching one of them. */
static int corpus_groups(const nl_corpus_params *p, group **g, size_t *ng) {
    *g = NULL;
    *ng = 0;
    if (!p || (!p->wordnet_dir) == (!p->lists_dir)) {
        nli_seterr("corpus: give exactly one of a WordNet folder or a word-list folder");
        return -1;
    }
    if ((p->n_include && !p->include) || (p->n_exclude && !p->exclude)) {
        nli_seterr("corpus: NULL argument (%s: %zu entries, no array)", !p->include && p->n_include ? "include" : "exclude",
                   !p->include && p->n_include ? p->n_include : p->n_exclude);
        return -1;
    }
    for (size_t i = 0; i < p->n_include; i++)
        if (!p->include[i] || !filter_valid(p->include[i])) {
            nli_seterr("corpus: bad include '%s' (want noun, adj, noun.<category> or adj.<category>)",
                      p->include[i] ? p->include[i] : "(null)");
            return -1;
        }
    for (size_t i = 0; i < p->n_exclude; i++)
        if (!p->exclude[i] || !filter_valid(p->exclude[i])) {
            nli_seterr("corpus: bad exclude '%s' (want noun, adj, noun.<category> or adj.<category>)",
                      p->exclude[i] ? p->exclude[i] : "(null)");
            return -1;
        }
    if ((p->lists_dir ? list_groups(p, g, ng) : wordnet_groups(g, ng)) != 0) return -1;
    if (filters_check(p, *g, *ng) != 0) {
        groups_free(*g, *ng);
        *g = NULL;
        *ng = 0;
        return -1;
    }
    return 0;
}

int nl_corpus_check(const nl_corpus_params *p) {
    group *g;
    size_t ng;
    if (corpus_groups(p, &g, &ng) != 0) return -1;
    groups_free(g, ng);
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0 && p->wordnet_dir; k++) { /* readable, not parsed */
        char *path = NULL;
        nli_map m = {0};
        rc = wordnet_map(p, k, &path, &m);
        free(path);
        nli_unmap(&m);
    }
    return rc;
}

int nl_corpus_load(const nl_corpus_params *p, nl_corpus *out) {
    if (!out) return nli_null_arg(__func__);
    memset(out, 0, sizeof *out);
    group *g;
    size_t ng;
    if (corpus_groups(p, &g, &ng) != 0) return -1;
    builder b = {out, 0, {.key = ws_key()}};
    int rc = p->lists_dir ? load_lists(p, &b, g, ng) : load_wordnet(p, &b, g, ng);
    free(b.seen.slot);
    groups_free(g, ng);
    if (rc == 0 && out->n == 0) {
        nli_seterr("%s: no candidate words after filtering", p->lists_dir ? p->lists_dir : p->wordnet_dir);
        rc = -1;
    }
    if (rc != 0) nl_corpus_free(out);
    return rc;
}

void nl_corpus_free(nl_corpus *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) { /* a partly built corpus may lack an array */
        if (c->word) free(c->word[i]);
        if (c->category) free(c->category[i]);
    }
    free(c->word);
    free(c->category);
    free(c->pos);
    memset(c, 0, sizeof *c);
}

int nl_corpus_write(const nl_corpus *c, const char *path) {
    nli_atomic a;
    if (!c || !path || (c->n && (!c->word || !c->pos))) return nli_null_arg(__func__);
    const char *bad = nli_tsv_first_bad((const char *const *)c->word, c->n);
    if (bad) {
        nli_seterr("%s: the word '%s' holds a TAB or a line break, which the file cannot store", path, bad);
        return -1;
    }
    if (nli_atomic_open(&a, path) != 0) return -1;
    for (size_t k = 0; k < c->n; k++)
        fprintf(a.f, "%s\t%s\n", c->pos[k] == NL_POS_ADJ ? "adj" : "noun", c->word[k]);
    return nli_atomic_commit(&a);
}
