/* test_corpus.c — the candidate corpus from the reference word lists
 * (exact counts), from Debian's WordNet database, and hostile folders. */
#include "check.h"
#include "corpus.h"
#include "neglabel.h"

#include <signal.h>
#include <unistd.h>

/* FNV-1a (64-bit, as the library's nli_fnv1a) from state h over w. */
static uint64_t fnv(uint64_t h, const char *w) {
    for (; *w; w++) h = (h ^ (unsigned char)*w) * 0x100000001b3ULL;
    return h;
}

/* 2^m words that all collide in the low 22 bits of FNV-1a from its usual
 * basis: m blocks, each a pair of 5-letter strings taking the state's low
 * bits to the same value (those bits depend on the low bits alone), so any
 * choice of one string per block ends in one state. Written one per line. */
static void colliding_words(const char *path, int m) {
    enum { K = 22 };
    const uint32_t mask = (1u << K) - 1;
    char blk[20][2][6];
    uint32_t s = (uint32_t)(0xcbf29ce484222325ULL & mask);
    int32_t *tab = malloc(sizeof(int32_t) << K);
    uint64_t rng = 88172645463325252ULL;
    for (int j = 0; j < m; j++) {
        memset(tab, 0xff, sizeof(int32_t) << K);
        for (;;) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            uint32_t code = (uint32_t)(rng % 11881376u), c = code; /* 26^5 */
            char w[6];
            for (int i = 0; i < 5; i++, c /= 26) w[i] = (char)('a' + c % 26);
            w[5] = 0;
            uint32_t t = (uint32_t)(fnv(s, w) & mask);
            if (tab[t] >= 0 && (uint32_t)tab[t] != code) {
                c = (uint32_t)tab[t];
                for (int i = 0; i < 5; i++, c /= 26) blk[j][0][i] = (char)('a' + c % 26);
                blk[j][0][5] = 0;
                memcpy(blk[j][1], w, 6);
                s = t;
                break;
            }
            tab[t] = (int32_t)code;
        }
    }
    free(tab);
    FILE *f = fopen(path, "wb");
    for (uint64_t x = 0; x < (1ull << m); x++) {
        for (int j = 0; j < m; j++) fputs(blk[j][(x >> j) & 1], f);
        fputc('\n', f);
    }
    fclose(f);
}

static long find(const nl_corpus *c, const char *w) {
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->word[i], w)) return (long)i;
    return -1;
}

static int has_cat(const nl_corpus *c, const char *cat) {
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->category[i], cat)) return 1;
    return 0;
}

static void write_file(const char *dir, const char *name, const char *data, size_t n) {
    char *p = check_path(dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    free(p);
}

/* Load lists_dir and expect failure with needle (and the file) in the message. */
static void expect_fail(const char *what, const char *dir, const char *needle) {
    nl_corpus_params p = {.lists_dir = dir};
    nl_corpus c;
    CHECK(nl_corpus_load(&p, &c) == -1, "%s: accepted", what);
    CHECK(strstr(nl_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, nl_last_error(), needle);
    CHECK(c.n == 0 && c.word == NULL, "%s: corpus not emptied", what);
}

int main(void) {
    const char *shared = check_shared();
    char *lists = check_path(shared, "neglabel-reference/txtfiles");
    nl_corpus c;
    nl_corpus_params p = {.lists_dir = lists};
    CHECK(nl_corpus_load(&p, &c) == 0, "%s", nl_last_error());
    printf("reference lists: %zu nouns + %zu adjectives = %zu\n", c.n_noun, c.n_adj, c.n);
    CHECK(c.n_noun == 56909 && c.n_adj == 13091 && c.n == 70000, "counts %zu + %zu", c.n_noun, c.n_adj);
    /* sorted file order: adj.all first, its first line first; a word in both
     * an adjective and a noun list goes to the adjective (adj.* sorts first) */
    CHECK(!strcmp(c.word[0], "unheard") && !strcmp(c.category[0], "adj.all") && c.pos[0] == NL_POS_ADJ, "first word %s", c.word[0]);
    long i = find(&c, "outback");
    CHECK(i >= 0 && !strcmp(c.category[i], "adj.all"), "outback");
    i = find(&c, "living thing");
    CHECK(i == (long)c.n_adj && !strcmp(c.category[i], "noun.Tops") && c.pos[i] == NL_POS_NOUN, "first noun at %ld", i);
    size_t bad = 0;
    for (size_t k = 0; k < c.n; k++) bad += (k < c.n_adj) != (c.pos[k] == NL_POS_ADJ);
    CHECK(bad == 0, "adjectives are not all before nouns");
    nl_corpus_free(&c);
    /* filters */
    const char *inc[] = {"adj"}, *exc[] = {"noun.plant", "adj.ppl"};
    p.include = inc; p.n_include = 1;
    CHECK(nl_corpus_load(&p, &c) == 0 && c.n_noun == 0 && c.n_adj == 13091, "include adj: %zu/%zu", c.n_noun, c.n_adj);
    nl_corpus_free(&c);
    p.include = NULL; p.n_include = 0; p.exclude = exc; p.n_exclude = 2;
    CHECK(nl_corpus_load(&p, &c) == 0 && !has_cat(&c, "noun.plant") && !has_cat(&c, "adj.ppl") &&
          has_cat(&c, "adj.pert") && c.n < 70000, "exclude");
    nl_corpus_free(&c);
    const char *badf[] = {"verb"};
    p.exclude = badf; p.n_exclude = 1;
    CHECK(nl_corpus_load(&p, &c) == -1 && strstr(nl_last_error(), "verb"), "bad filter: %s", nl_last_error());
    /* a name the folder lacks is an error naming it and the folder, not a
     * filter that silently drops nothing (or everything) */
    const char *typo[] = {"noun.artifcat"}, *animal[] = {"noun.animal"};
    for (int k = 0; k < 2; k++) {
        nl_corpus_params t = {.lists_dir = lists};
        if (k) { t.include = typo; t.n_include = 1; } else { t.exclude = typo; t.n_exclude = 1; }
        CHECK(nl_corpus_load(&t, &c) == -1 && strstr(nl_last_error(), "noun.artifcat") &&
              strstr(nl_last_error(), lists) && strstr(nl_last_error(), "noun.artifact"),
              "%s noun.artifcat: %s", k ? "include" : "exclude", c.n ? "accepted" : nl_last_error());
        CHECK(nl_corpus_check(&t) == -1 && strstr(nl_last_error(), "noun.artifcat"), "check %d: %s", k, nl_last_error());
    }
    nl_corpus_params la = {.lists_dir = lists, .exclude = animal, .n_exclude = 1}; /* the lists have no noun.animal */
    CHECK(nl_corpus_load(&la, &c) == -1 && strstr(nl_last_error(), "noun.animal"), "lists exclude noun.animal: %s",
          c.n ? "accepted" : nl_last_error());
    la.absent_ok = 1; /* built-in defaults (CSP's) may name categories a folder lacks */
    CHECK(nl_corpus_load(&la, &c) == 0 && c.n == 70000, "absent_ok: %s", nl_last_error());
    nl_corpus_free(&c);
    p.exclude = exc; p.n_exclude = 2;
    CHECK(nl_corpus_check(&p) == 0, "check: %s", nl_last_error());
    /* CSP's default categories exist in the reference lists */
    nl_eval_params ev = nl_eval_default_params();
    ev.csp_corpus.wordnet_dir = NULL;
    ev.csp_corpus.lists_dir = lists;
    CHECK(nl_corpus_load(&ev.csp_corpus, &c) == 0 && !has_cat(&c, "noun.person") && has_cat(&c, "noun.plant"),
          "CSP's default on the reference lists: %s", nl_last_error());
    nl_corpus_free(&c);
    free(lists);

    /* WordNet database (Debian wordnet-base) */
    const char *wn = "/usr/share/wordnet";
    char *probe = check_path(wn, "data.noun");
    if (access(probe, R_OK) == 0) {
        nl_corpus_params w = {.wordnet_dir = wn};
        CHECK(nl_corpus_load(&w, &c) == 0, "%s", nl_last_error());
        printf("WordNet %s: %zu nouns + %zu adjectives = %zu\n", wn, c.n_noun, c.n_adj, c.n);
        CHECK(c.n_noun > 50000 && c.n_adj > 10000, "WordNet counts");
        i = find(&c, "entity");
        CHECK(i >= 0 && !strcmp(c.category[i], "noun.Tops"), "entity");
        i = find(&c, "plantae");
        CHECK(i >= 0 && !strcmp(c.category[i], "noun.plant"), "plantae (lowercased)");
        i = find(&c, "abandoned ship");
        CHECK(i >= 0 && !strcmp(c.category[i], "noun.artifact"), "abandoned ship ('_' -> ' ')");
        i = find(&c, "dead-on");
        CHECK(i >= 0 && !strcmp(c.category[i], "adj.all"), "dead-on (marker '(a)' stripped)");
        CHECK(find(&c, "outback(a)") < 0 && find(&c, "outback") >= 0, "outback");
        CHECK(!has_cat(&c, "noun.food") && !has_cat(&c, "noun.animal"), "default exclusion");
        size_t paren = 0;
        for (size_t k = 0; k < c.n; k++) paren += strchr(c.word[k], '(') != NULL;
        CHECK(paren == 0, "%zu words keep a '(' marker", paren);
        nl_corpus_free(&c);
        const char *food[] = {"noun.food"};
        w.include = food; w.n_include = 1;
        CHECK(nl_corpus_load(&w, &c) == 0 && c.n_adj == 0 && find(&c, "food") >= 0 && !strcmp(c.category[0], "noun.food"),
              "include noun.food");
        nl_corpus_free(&c);
        /* the default drop holds with other filters too: excluding a
         * category never brings noun.animal and noun.food back */
        size_t n_all, n_plant = 0;
        nl_corpus_params wd = {.wordnet_dir = wn};
        CHECK(nl_corpus_load(&wd, &c) == 0, "%s", nl_last_error());
        n_all = c.n;
        for (size_t k = 0; k < c.n; k++) n_plant += !strcmp(c.category[k], "noun.plant");
        nl_corpus_free(&c);
        const char *plant[] = {"noun.plant"};
        wd.exclude = plant; wd.n_exclude = 1;
        CHECK(nl_corpus_load(&wd, &c) == 0 && !has_cat(&c, "noun.animal") && !has_cat(&c, "noun.food") &&
              !has_cat(&c, "noun.plant") && c.n < n_all, "WordNet exclude noun.plant: %zu candidates, default %zu",
              c.n, n_all);
        printf("WordNet without noun.plant: %zu candidates (default %zu, of which %zu plants)\n", c.n, n_all, n_plant);
        nl_corpus_free(&c);
        wd.exclude = typo; wd.n_exclude = 1;
        CHECK(nl_corpus_load(&wd, &c) == -1 && strstr(nl_last_error(), "noun.artifcat") && strstr(nl_last_error(), wn),
              "WordNet exclude noun.artifcat: %s", c.n ? "accepted" : nl_last_error());
        nl_corpus_free(&c);
    } else {
        printf("note: %s not installed, WordNet checks skipped\n", probe);
    }
    free(probe);

    /* hostile folders */
    const char *tmp = check_tmpdir();
    char *d = check_path(tmp, "missing");
    expect_fail("missing folder", d, "cannot open");
    free(d);
    d = check_path(tmp, "empty");
    mkdir(d, 0700);
    write_file(d, "readme.txt", "x\n", 2);
    expect_fail("no lists", d, "no word lists");
    write_file(d, "noun.a.txt", "Big_Cat\r\nbig cat\n\n  dog  \ncat\n", 30);
    write_file(d, "adj.z.txt", "cat\nred\n", 8);
    nl_corpus_params q = {.lists_dir = d};
    CHECK(nl_corpus_load(&q, &c) == 0, "%s", nl_last_error());
    CHECK(c.n == 4 && c.n_adj == 2 && !strcmp(c.word[0], "cat") && !strcmp(c.word[2], "big cat") &&
          !strcmp(c.word[3], "dog") && !strcmp(c.category[3], "noun.a"), "small lists: %zu words", c.n);
    nl_corpus_free(&c);
    /* a byte order mark (Windows Notepad) is no part of the first word:
     * "\xEF\xBB\xBFapple" would escape deduplication */
    char *bd = check_path(tmp, "bom");
    mkdir(bd, 0700);
    const char *bom_food = "\xEF\xBB\xBF" "Apple\r\nbanana\r\nApple\r\n", *bom_adj = "\xEF\xBB\xBF" "red\n";
    write_file(bd, "noun.food.txt", bom_food, strlen(bom_food));
    write_file(bd, "adj.all.txt", bom_adj, strlen(bom_adj));
    nl_corpus_params bq = {.lists_dir = bd};
    CHECK(nl_corpus_load(&bq, &c) == 0, "BOM lists: %s", nl_last_error());
    CHECK(c.n == 3 && c.n_adj == 1 && !strcmp(c.word[0], "red") && !strcmp(c.word[1], "apple") &&
          !strcmp(c.word[2], "banana"), "BOM lists: %zu words, first noun '%s'", c.n, c.n > 1 ? c.word[1] : "");
    nl_corpus_free(&c);
    free(bd);
    /* '_' is a space and the ends are stripped after it, as CSP's reference
     * does (line.replace('_', ' ').strip()): "ice_cream_" is "ice cream"
     * (was "ice cream ", a second candidate), "\vdog\f" is "dog" */
    char *ud = check_path(tmp, "ends");
    mkdir(ud, 0700);
    const char *ends = "ice_cream_\nice cream\n__fox\nfox\n\vdog\f\ndog\n_\n";
    write_file(ud, "noun.a.txt", ends, strlen(ends));
    nl_corpus_params uq = {.lists_dir = ud};
    CHECK(nl_corpus_load(&uq, &c) == 0, "ends: %s", nl_last_error());
    CHECK(c.n == 3 && !strcmp(c.word[0], "ice cream") && !strcmp(c.word[1], "fox") && !strcmp(c.word[2], "dog"),
          "ends: %zu words, first '%s'", c.n, c.n ? c.word[0] : "");
    nl_corpus_free(&c);
    free(ud);
    write_file(d, "noun.b.txt", "ok\nfine\n\xc3\x28 bad\n", 13);
    expect_fail("invalid UTF-8", d, "noun.b.txt: line 3: invalid UTF-8");
    write_file(d, "noun.b.txt", "ok\nfi\0ne\n", 9);
    expect_fail("NUL byte", d, "noun.b.txt: line 2: NUL");
    char longl[5000];
    memset(longl, 'a', sizeof longl);
    write_file(d, "noun.b.txt", longl, sizeof longl);
    expect_fail("long line", d, "noun.b.txt: line 1: word longer than");
    char *nb = check_path(d, "noun.b.txt");
    unlink(nb);
    free(nb);
    char *sub = check_path(d, "noun.c.txt");
    mkdir(sub, 0700);
    expect_fail("unreadable list", d, "noun.c.txt");
    rmdir(sub);
    free(sub);
    nl_corpus_params w2 = {.wordnet_dir = d};
    CHECK(nl_corpus_load(&w2, &c) == -1 && strstr(nl_last_error(), "data.noun"), "WordNet without data.noun: %s", nl_last_error());
    write_file(d, "data.noun", "  1 license header\n00001740 03 n 01 entity 0 000 | x\n", 51);
    write_file(d, "data.adj", "00001740 0x n 01 able 0 000 | x\n", 32);
    CHECK(nl_corpus_load(&w2, &c) == -1 && strstr(nl_last_error(), "data.adj: line 1"), "bad lex_filenum: %s", nl_last_error());
    write_file(d, "data.adj", "00001740 00 a 01 able(p) 0 000 | x\n", 35);
    CHECK(nl_corpus_load(&w2, &c) == 0 && c.n == 2 && !strcmp(c.word[0], "able") && !strcmp(c.word[1], "entity"),
          "tiny WordNet: %s", c.n ? c.word[0] : nl_last_error());
    nl_corpus_free(&c);
    /* WordNet's default drop of noun.animal (05) and noun.food (13) holds
     * whatever the filters, unless an include names the category itself */
    const char *tiny = "00001740 03 n 01 entity 0 000 | x\n00002000 05 n 01 dog 0 000 | x\n"
                       "00003000 13 n 01 apple 0 000 | x\n00004000 20 n 01 oak 0 000 | x\n";
    write_file(d, "data.noun", tiny, strlen(tiny));
    static const struct {
        const char *inc[2], *exc[2], *want; /* want: the words, comma-separated; NULL: an error */
    } wf[] = {
        {{NULL}, {NULL}, "able,entity,oak"},
        {{NULL}, {"noun.plant"}, "able,entity"},
        {{NULL}, {"noun.animal"}, "able,entity,oak"},
        {{NULL}, {"adj"}, "entity,oak"},
        {{"noun"}, {NULL}, "entity,oak"},
        {{"noun.animal"}, {NULL}, "dog"},
        {{"noun", "noun.food"}, {NULL}, "entity,apple,oak"},
        {{"noun.food"}, {"noun"}, ""},
        {{NULL}, {"noun.artifcat"}, NULL},
        {{"noun.artifcat"}, {NULL}, NULL},
        {{NULL}, {"adj.nothing"}, NULL},
    };
    for (size_t k = 0; k < sizeof wf / sizeof *wf; k++) {
        nl_corpus_params t = {.wordnet_dir = d, .include = wf[k].inc, .n_include = wf[k].inc[0] ? 1 + !!wf[k].inc[1] : 0,
                              .exclude = wf[k].exc, .n_exclude = wf[k].exc[0] ? 1 : 0};
        char got[256] = "";
        int r = nl_corpus_load(&t, &c);
        for (size_t j = 0; r == 0 && j < c.n; j++) {
            if (j) strcat(got, ",");
            strncat(got, c.word[j], 64);
        }
        if (!wf[k].want) {
            const char *bad1 = wf[k].inc[0] ? wf[k].inc[0] : wf[k].exc[0];
            CHECK(r == -1 && strstr(nl_last_error(), bad1) && strstr(nl_last_error(), d) &&
                  strstr(nl_last_error(), "noun.artifact"), "tiny WordNet filter %zu: %s", k, r ? nl_last_error() : got);
            CHECK(nl_corpus_check(&t) == -1 && strstr(nl_last_error(), bad1), "check %zu: %s", k, nl_last_error());
        } else if (!*wf[k].want) {
            CHECK(r == -1 && strstr(nl_last_error(), "no candidate words"), "tiny WordNet filter %zu: %s", k, got);
            CHECK(nl_corpus_check(&t) == 0, "check %zu: %s", k, nl_last_error());
        } else {
            CHECK(r == 0 && !strcmp(got, wf[k].want), "tiny WordNet filter %zu: '%s', want '%s' (%s)", k, got,
                  wf[k].want, r ? nl_last_error() : "");
            CHECK(nl_corpus_check(&t) == 0, "check %zu: %s", k, nl_last_error());
        }
        nl_corpus_free(&c);
    }
    nl_eval_params ew = nl_eval_default_params(); /* CSP's default: no animals, no food from WordNet */
    ew.csp_corpus.wordnet_dir = d;
    CHECK(nl_corpus_load(&ew.csp_corpus, &c) == 0 && c.n == 3 && find(&c, "dog") < 0 && find(&c, "apple") < 0,
          "CSP's default on a WordNet database: %s", nl_last_error());
    nl_corpus_free(&c);
    nl_corpus_params wm = {.wordnet_dir = tmp}; /* no data files: check fails as load does */
    CHECK(nl_corpus_check(&wm) == -1 && strstr(nl_last_error(), "data.noun"), "check without data.noun: %s", nl_last_error());
    nl_corpus_params none = {0};
    CHECK(nl_corpus_load(&none, &c) == -1, "no source accepted");

    /* Lines ending in CR alone (old Mac files; Python's readlines() reads
     * them: before, "word longer than 1024 bytes" or "a TAB or CR inside
     * the word"), and words stripped of Unicode spaces as str.strip()
     * strips them (before: "dog\u00a0" escaped deduplication and a line of
     * U+3000 became a candidate) */
    char *u = check_path(tmp, "cr-unicode");
    mkdir(u, 0700);
    const char *lla = "dog\rcat\r\rbird\r\nowl", *lb = "dog\xc2\xa0\n\xe3\x80\x80\n\xc2\x85" "fox\xe2\x80\xaf\n\xc2\xa0\xe2\x80\x80\n";
    write_file(u, "noun.a.txt", lla, strlen(lla));
    write_file(u, "noun.b.txt", lb, strlen(lb));
    nl_corpus_params up = {.lists_dir = u};
    char got[256] = "";
    CHECK(nl_corpus_load(&up, &c) == 0, "CR and Unicode spaces: %s", nl_last_error());
    for (size_t j = 0; j < c.n; j++) {
        if (j) strcat(got, ",");
        strncat(got, c.word[j], 64);
    }
    CHECK(!strcmp(got, "dog,cat,bird,owl,fox"), "CR line ends, Unicode spaces stripped: '%s'", got);
    nl_corpus_free(&c);
    /* noun.txt / adj.txt are read (categories "noun", "adj"), as the
     * reference reads them (before: skipped without a word) */
    write_file(u, "adj.txt", "red\n", 4);
    write_file(u, "noun.a.txt.bak", "old\n", 4);
    CHECK(nl_corpus_load(&up, &c) == 0 && c.n == 6 && find(&c, "red") == 0 && find(&c, "old") < 0 &&
              !strcmp(c.category[0], "adj"),
          "adj.txt read, a backup not: %zu words (%s)", c.n, nl_last_error());
    nl_corpus_free(&c);
    /* nl_read_lines (ID labels, negatives files): CR alone ends a line too
     * (before: "dog\rairplane\rcat" was one ID label) */
    const char *lc = "dog\rairplane\r\ncat\r";
    write_file(u, "labels.txt", lc, strlen(lc));
    char *lp = check_path(u, "labels.txt");
    nl_strvec lv = {0};
    CHECK(nl_read_lines(lp, &lv) == 0 && lv.n == 3 && !strcmp(lv.v[0], "dog") && !strcmp(lv.v[1], "airplane") &&
              !strcmp(lv.v[2], "cat"),
          "CR-only label file: %zu lines (%s)", lv.n, lv.n ? lv.v[0] : nl_last_error());
    nl_strvec_free(&lv);
    free(lp);

    /* A word list made to collide in the word set's hash: 262,144 words of
     * one FNV-1a slot (24 MB) take minutes to load with the fixed hash
     * (quadratic: 131,072 took 32 s here); the keyed hash loads them in about
     * a second. The alarm ends a run that hangs. */
    char *fl = check_path(tmp, "flood");
    mkdir(fl, 0700);
    char *fp = check_path(fl, "noun.flood.txt");
    colliding_words(fp, 18);
    nl_corpus_params fpp = {.lists_dir = fl};
    alarm(30);
    CHECK(nl_corpus_load(&fpp, &c) == 0 && c.n == 262144, "colliding words: %zu (%s)", c.n, nl_last_error());
    alarm(0);
    nl_corpus_free(&c);
    free(fp);
    free(fl);

    /* --remove-id-labels: an ID label drops the candidates equal to it
     * ignoring case in Unicode (not ASCII alone), with '_' as a space and
     * either normal form of an accent; the rest keep their order */
    char *dl = check_path(tmp, "drop");
    mkdir(dl, 0700);
    const char words[] = "\xc3\xa9" "clair\nstra\xc3\x9f" "e\npickup truck\nApple\ne\xcc\x81" "tude\ndog\n"
                         "\xc3\xa9" "clairs\n";
    write_file(dl, "noun.x.txt", words, sizeof words - 1);
    nl_corpus_params dp = {.lists_dir = dl};
    CHECK(nl_corpus_load(&dp, &c) == 0 && c.n == 7, "drop corpus: %zu (%s)", c.n, nl_last_error());
    const char *labels[] = {"\xc3\x89" "clair", "STRASSE", "Pickup_Truck", "\xc3\x89" "TUDE", "cat", "APPLE"};
    nl_strvec drop = {.v = (char **)labels, .n = 6};
    CHECK(nli_corpus_drop(&c, &drop, NULL) == 0, "drop: %s", nl_last_error());
    CHECK(c.n == 2 && c.n_noun == 2 && !strcmp(c.word[0], "dog") && !strcmp(c.word[1], "\xc3\xa9" "clairs"),
          "after dropping: %zu words, first '%s'", c.n, c.n ? c.word[0] : "");
    nl_corpus_free(&c);
    free(dl);
    free(u);
    free(d);
    return check_done();
}
