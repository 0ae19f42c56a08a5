/* test_tokenizer.c — the CLIP BPE tokenizer against OpenAI's reference ids
 * (all of fixtures/tokenizer/golden.jsonl: from the shared vocab.json +
 * merges.txt, tiny-clip's, and the built-in BPE), plus hostile and malformed
 * input.
 * Expected strings below come from Python (ftfy 6.3.1, html.unescape, regex, str.lower),
 * not from this library. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer.h"
#include "tokenizer_errata.h"
#include "util.h"

static const char *tmp_file(const char *name, const char *data, size_t len) {
    static char path[4][512];
    static int k;
    char *p = path[k++ & 3];
    snprintf(p, 512, "%s/%s", check_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(1); }
    fwrite(data, 1, len, f);
    fclose(f);
    return p;
}

typedef struct { char *text; size_t len; int32_t *ids; size_t n; } golden;

static golden *read_golden(const char *path, size_t *count) {
    char *data;
    size_t len;
    if (nli_read_file(path, (size_t)1 << 30, &data, &len)) { fprintf(stderr, "%s\n", nli_geterr()); exit(1); }
    golden *g = NULL;
    size_t n = 0, cap = 0;
    for (char *s = data, *e; s < data + len; s = e + 1) {
        e = memchr(s, '\n', (size_t)(data + len - s));
        if (!e) e = data + len;
        if (e == s) continue;
        json_error_t jerr;
        json_t *o = json_loadb(s, (size_t)(e - s), 0, &jerr);
        json_t *t = json_object_get(o, "text"), *ids = json_object_get(o, "ids");
        if (!o || !json_is_string(t) || !json_is_array(ids)) { fprintf(stderr, "bad golden line %zu\n", n + 1); exit(1); }
        if (nli_grow((void **)&g, &cap, n + 1, sizeof *g)) exit(1);
        g[n].len = json_string_length(t);
        g[n].text = nli_strndup(json_string_value(t), g[n].len);
        g[n].n = json_array_size(ids);
        g[n].ids = nli_mallocarray(g[n].n, sizeof *g[n].ids);
        for (size_t i = 0; i < g[n].n; i++) g[n].ids[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        json_decref(o);
        n++;
    }
    free(data);
    *count = n;
    return g;
}

static int same(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static void print_ids(const char *what, const int32_t *v, size_t n) {
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", v[i]);
    fputc('\n', stderr);
}

/* Lines of golden.jsonl made with ftfy skipped: use the ids with ftfy. */
static void apply_errata(golden *g, size_t count) {
    for (size_t k = 0; k < TOKENIZER_ERRATA_COUNT; k++) {
        size_t i = TOKENIZER_ERRATA[k].line - 1, n = TOKENIZER_ERRATA[k].n;
        const char *text = TOKENIZER_ERRATA[k].text;
        CHECK(i < count && g[i].len == strlen(text) && memcmp(g[i].text, text, g[i].len) == 0,
              "erratum %zu: line %zu is not the expected text", k, TOKENIZER_ERRATA[k].line);
        if (i >= count) continue;
        CHECK(!same(g[i].ids, g[i].n, TOKENIZER_ERRATA[k].ids, n), "erratum %zu: golden line already has ftfy's ids", k);
        if (g[i].n < n && !(g[i].ids = realloc(g[i].ids, n * sizeof *g[i].ids))) exit(1);
        memcpy(g[i].ids, TOKENIZER_ERRATA[k].ids, n * sizeof *g[i].ids);
        g[i].n = n;
    }
}

/* Every golden line, on several threads at once (encode must be thread-safe). */
static void test_golden(const nli_tokenizer *t, const golden *g, size_t count, const char *label) {
    size_t mismatches = 0, errors = 0;
    double t0 = nli_now();
#pragma omp parallel for schedule(dynamic, 256) reduction(+ : mismatches, errors)
    for (size_t i = 0; i < count; i++) {
        int32_t *ids;
        size_t n;
        if (nli_tokenizer_encode(t, g[i].text, g[i].len, &ids, &n)) {
            errors++;
            continue;
        }
        if (!same(ids, n, g[i].ids, g[i].n)) {
#pragma omp critical
            if (mismatches < 5) {
                fprintf(stderr, "mismatch on line %zu: \"%s\"\n", i + 1, g[i].text);
                print_ids("got ", ids, n);
                print_ids("want", g[i].ids, g[i].n);
            }
            mismatches++;
        }
        free(ids);
    }
    printf("%s: %zu strings, %zu mismatches, %zu errors, %.2f s\n", label, count, mismatches, errors, nli_now() - t0);
    CHECK(mismatches == 0 && errors == 0, "%s: %zu mismatches, %zu errors", label, mismatches, errors);
}

static void test_clean(void) {
    static const struct { const char *in, *want; } cases[] = {
        {"&amp;amp;", "&"},
        {"&amp;amp;amp;", "&"}, /* ftfy unescapes to a fixed point first */
        {"&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"},
        {"x &#39;q&#x27; &#X41;", "x 'q' a"},
        {"&#128;&#x80;", "\342\202\254\342\202\254"},
        {"&#0;|&#xD800;|&#1114112;|&#99999999999999999999;", "\357\277\275|\357\277\275|\357\277\275|\357\277\275"},
        {"a&#1;b&#xFFFE;c", "abc"},
        {"&notit; &ampxyz &unknown; &AMP &amp", "\302\254it; &xyz &unknown; & &"},
        {"&# &#x; &#xg; &;", "&# &#x; &#xg; &;"},
        {"&Eacute&eacute;&ETH;", "\303\251\303\251\303\260"},
        {"&NotEqualTilde;", "\342\211\202\314\270"},
        {"&aacute&", "\303\241&"},
        {"&#x110000;&#x10FFFF;", "\357\277\275"},
        {"\034 a \034", "a"},
        /* ftfy: U+001C removed, U+0085 is windows-1252's ellipsis */
        {"a\034b\302\205c\343\200\200\342\200\250d", "ab\342\200\246c d"},
        {"\304\260STANBUL", "i\314\207stanbul"},
        {"\316\237\316\224\316\237\316\243 \316\243\316\221 \316\243 A\316\243. A\316\243'A",
         "\316\277\316\264\316\277\317\202 \317\203\316\261 \317\203 a\317\202. a\317\203'a"},
        {"\316\243\316\243\316\243", "\317\203\317\203\317\202"},
        {"\342\204\252\305\277", "k\305\277"},
        {"  \t\n", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out;
        size_t n;
        int rc = nli_tokenizer_clean(cases[i].in, strlen(cases[i].in), &out, &n);
        CHECK(rc == 0 && n == strlen(cases[i].want) && memcmp(out, cases[i].want, n) == 0,
              "clean(\"%s\") = \"%s\", want \"%s\"", cases[i].in, rc ? nli_geterr() : out, cases[i].want);
        free(out);
    }
}

/* Cases the golden set does not reach. Expected ids come from running
 * simple_tokenizer's steps in Python 3.11 with the `regex` module. */
static void test_python_cases(const nli_tokenizer *t) {
    static const struct { const char *text; int32_t ids[16]; } cases[] = {
        /* U+0345 folds to a letter under IGNORECASE: it matches no branch */
        {"a\315\205b \315\205", {49406, 320, 321, 49407}},
        /* 's does not take the long s; Kelvin sign lowercases to k */
        {"it'\305\277 \342\204\252elvin", {49406, 585, 6, 129, 379, 32859, 49407}},
        /* final sigma */
        {"\316\237\316\224\316\237\316\243 \316\243\316\221",
         {49406, 138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138, 365, 49407}},
        /* U+001C: a control character ftfy removes */
        {"a\034b \034", {49406, 3937, 49407}},
        {"\304\260stanbul", {49406, 328, 16384, 11231, 49407}},
        /* U+180E is not whitespace for Python (it is for PCRE2's \s) */
        {"x\341\240\216y", {49406, 343, 157, 254, 492, 344, 49407}},
        {"\307\205emal", {49406, 67, 129, 122, 908, 566, 49407}}, /* ftfy: the ligature is split */
        {"&notit; &amp;amp;lt;", {49406, 126, 361, 585, 282, 283, 49407}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t want = 0;
        while (want < 16 && cases[i].ids[want]) want++;
        int32_t *ids;
        size_t n;
        int rc = nli_tokenizer_encode(t, cases[i].text, strlen(cases[i].text), &ids, &n);
        CHECK(rc == 0 && same(ids, n, cases[i].ids, want), "python case %zu (\"%s\")", i, cases[i].text);
        if (rc == 0 && !same(ids, n, cases[i].ids, want)) print_ids("got", ids, n);
        if (rc == 0) free(ids);
    }
}

static void test_bad_utf8(const nli_tokenizer *t) {
    static const struct { const char *s; size_t len; const char *why; } cases[] = {
        {"ab\x80" "cd", 5, "stray continuation"},
        {"\xC0\xAF", 2, "overlong"},
        {"\xE0\x80\xAF", 3, "overlong"},
        {"\xF0\x80\x80\xAF", 4, "overlong"},
        {"x\xED\xA0\x80", 4, "surrogate"},
        {"abc\xE2\x82", 5, "truncated"},
        {"\xE2\x82x", 3, "truncated"},
        {"\xF4\x90\x80\x80", 4, "above U+10FFFF"},
        {"\xFF", 1, "never appears"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int32_t *ids = (int32_t *)&ids;
        size_t n = 99;
        nli_seterr("none");
        int rc = nli_tokenizer_encode(t, cases[i].s, cases[i].len, &ids, &n);
        CHECK(rc == -1 && ids == NULL && n == 0, "bad UTF-8 case %zu accepted", i);
        CHECK(strstr(nli_geterr(), "invalid UTF-8") && strstr(nli_geterr(), cases[i].why),
              "case %zu: message \"%s\" should say \"%s\"", i, nli_geterr(), cases[i].why);
    }
    /* NUL is valid UTF-8 and must not end the text early; ftfy removes it
     * as a control character: Python gives SOT ab EOT = 49406 3937 49407. */
    int32_t *ids;
    size_t n;
    int rc = nli_tokenizer_encode(t, "a\0b", 3, &ids, &n);
    static const int32_t want[] = {49406, 3937, 49407};
    CHECK(rc == 0 && same(ids, n, want, 3), "embedded NUL: rc %d n %zu", rc, n);
    if (rc == 0) free(ids);
}

/* Pieces past what the golden set holds: long runs, every byte value. */
static void test_hostile(const nli_tokenizer *t) {
    size_t len = 300000;
    char *s = malloc(len);
    for (size_t i = 0; i < len; i++) s[i] = "abcdefghij"[(i * 7 + i / 13) % 10];
    int32_t *ids;
    size_t n;
    /* BPE must not be quadratic (Python's loop rescans every pair after each
     * merge): its step count, not a clock, says so. The cleaned text of this
     * ASCII word is the word itself. */
    size_t work = 0;
    double t0 = nli_now();
    int rc = nli_tokenizer_encode_counted(t, s, len, &ids, &n, &work);
    CHECK(rc == 0 && n > 2 && n < len, "300 kB single word: rc %d n %zu (%s)", rc, n, nli_geterr());
    CHECK(work > len && work <= 6 * len, "300 kB single word: %zu BPE steps for %zu bytes (bound: 6 per byte)", work,
          len);
    printf("300 kB single word: %zu tokens, %zu BPE steps (%.2f per byte), %.3f s\n", n, work, (double)work / len,
           nli_now() - t0);
    int ok = rc == 0;
    for (size_t i = 0; ok && i < n; i++) ok = ids[i] >= 0 && ids[i] < 49408;
    CHECK(ok, "ids out of range");
    if (rc == 0) free(ids);
    /* every non-ASCII scalar region: U+0080.. U+10FFFF samples, 4-byte forms */
    const char *mixed = "\xF0\x9F\x98\x80\xC2\xA0\xE2\x80\x8B\xF4\x8F\xBF\xBF\xEF\xBF\xBD";
    rc = nli_tokenizer_encode(t, mixed, strlen(mixed), &ids, &n);
    CHECK(rc == 0 && n >= 3 && ids[0] == NL_TOKEN_SOT && ids[n - 1] == NL_TOKEN_EOT, "mixed: %s", nli_geterr());
    if (rc == 0) free(ids);
    rc = nli_tokenizer_encode(t, "", 0, &ids, &n);
    CHECK(rc == 0 && n == 2 && ids[0] == NL_TOKEN_SOT && ids[1] == NL_TOKEN_EOT, "empty text");
    if (rc == 0) free(ids);
    free(s);
}

static int err_has(const char *a, const char *b) {
    const char *e = nli_geterr();
    return strstr(e, a) && (!b || strstr(e, b));
}

static void test_bad_files(const char *vocab, const char *merges) {
    nli_tokenizer *t = nli_tokenizer_load("/nonexistent/vocab.json", merges);
    CHECK(!t && err_has("/nonexistent/vocab.json", "cannot open"), "missing vocab: %s", nli_geterr());
    t = nli_tokenizer_load(vocab, "/nonexistent/merges.txt");
    CHECK(!t && err_has("/nonexistent/merges.txt", "cannot open"), "missing merges: %s", nli_geterr());

    char *vdata, *mdata;
    size_t vlen, mlen;
    if (nli_read_file(vocab, 1 << 26, &vdata, &vlen) || nli_read_file(merges, 1 << 26, &mdata, &mlen)) {
        CHECK(0, "read: %s", nli_geterr());
        return;
    }
    const char *p = tmp_file("trunc.json", vdata, vlen / 2);
    t = nli_tokenizer_load(p, merges);
    CHECK(!t && err_has(p, "not valid JSON"), "truncated vocab: %s", nli_geterr());
    static const struct { const char *json, *why; } bad[] = {
        {"[1, 2]", "expected a non-empty JSON object"},
        {"{}", "expected a non-empty JSON object"},
        {"{\"a\": \"x\"}", "not an integer"},
        {"{\"a\": -1}", "outside"},
        {"{\"a\": 99999999999}", "outside"},
        {"{\"a\": 1, \"b\": 1}", "more than one token"},
        {"{\"a\": 1, \"a\": 2}", "not valid JSON"},
        {"{\"a\": 1}", "byte symbol"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = tmp_file("bad.json", bad[i].json, strlen(bad[i].json));
        t = nli_tokenizer_load(p, merges);
        CHECK(!t && err_has(p, bad[i].why), "vocab %s: \"%s\"", bad[i].json, nli_geterr());
    }
    /* The real vocabulary without <|endoftext|>. */
    char *v2 = nli_strdup(vdata), *q = strstr(v2, "\"<|endoftext|>\"");
    if (q) q[2] = 'X';
    p = tmp_file("noeot.json", v2, vlen);
    t = nli_tokenizer_load(p, merges);
    CHECK(q && !t && err_has(p, "special token"), "vocab without EOT: %s", nli_geterr());
    free(v2);

    /* merges.txt: header + two good lines, then one bad line (line 4). */
    static const struct { const char *line, *why; } badm[] = {
        {"a b c\n", "one space"},
        {"ab\n", "one space"},
        {" a\n", "one space"},
        {"a \n", "one space"},
        {"\n\n", "empty line"},
        {"\xC3\x98\xC3\x98\xC3\x98 qqq\n", "not in the vocabulary"},
    };
    for (size_t i = 0; i < sizeof badm / sizeof *badm; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "#version: 0.2\ni n\nt h\n%sa b\n", badm[i].line);
        p = tmp_file("bad.txt", buf, strlen(buf));
        t = nli_tokenizer_load(vocab, p);
        CHECK(!t && err_has(p, "line 4") && err_has(badm[i].why, NULL), "merges \"%s\": %s", badm[i].line, nli_geterr());
    }
    /* A short but valid merges file loads, and CRLF lines are accepted. */
    const char *ok = "#version: 0.2\r\ni n\r\nt h\r\n";
    p = tmp_file("ok.txt", ok, strlen(ok));
    t = nli_tokenizer_load(vocab, p);
    CHECK(t != NULL, "short merges: %s", nli_geterr());
    if (t) {
        int32_t *ids;
        size_t n;
        /* "inn" -> i n n</w>: only "i n" applies, giving "in" "n</w>" */
        CHECK(nli_tokenizer_encode(t, "inn", 3, &ids, &n) == 0 && n == 4, "encode with short merges");
        if (n == 4) free(ids);
        nli_tokenizer_free(t);
    }
    free(vdata);
    free(mdata);
}

int main(void) {
    const char *shared = check_shared();
    char *vocab = check_path(shared, "clip-tokenizer/vocab.json");
    char *merges = check_path(shared, "clip-tokenizer/merges.txt");
    char *gpath = check_path(shared, "fixtures/tokenizer/golden.jsonl");
    char *tvocab = check_path(shared, "fixtures/tiny-clip/vocab.json");
    char *tmerges = check_path(shared, "fixtures/tiny-clip/merges.txt");

    nli_tokenizer *t = nli_tokenizer_load(vocab, merges);
    CHECK(t != NULL, "load: %s", nli_geterr());
    if (!t) return check_done();
    CHECK(nli_tokenizer_vocab_size(t) == 49408, "vocab size %zu", nli_tokenizer_vocab_size(t));
    CHECK(nli_tokenizer_sot(t) == NL_TOKEN_SOT && nli_tokenizer_eot(t) == NL_TOKEN_EOT, "special ids %d %d",
          nli_tokenizer_sot(t), nli_tokenizer_eot(t));

    size_t count;
    golden *g = read_golden(gpath, &count);
    CHECK(count == 80496, "golden lines: %zu", count);
    apply_errata(g, count);
    test_golden(t, g, count, "clip-tokenizer");
    nli_tokenizer *tiny = nli_tokenizer_load(tvocab, tmerges);
    CHECK(tiny != NULL, "tiny-clip load: %s", nli_geterr());
    if (tiny) test_golden(tiny, g, count, "tiny-clip");
    nli_tokenizer_free(tiny);
    /* the BPE built into the library (OpenCLIP folders without tokenizer
     * files; test_tokenizer_sources compares its tables) */
    double t0 = nli_now();
    nli_tokenizer *builtin = nli_tokenizer_builtin();
    CHECK(builtin != NULL, "built-in: %s", nli_geterr());
    printf("built-in BPE loaded in %.3f s\n", nli_now() - t0);
    if (builtin) test_golden(builtin, g, count, "built-in");
    nli_tokenizer_free(builtin);

    test_clean();
    test_python_cases(t);
    test_bad_utf8(t);
    test_hostile(t);
    test_bad_files(vocab, merges);

    for (size_t i = 0; i < count; i++) free(g[i].text), free(g[i].ids);
    free(g);
    nli_tokenizer_free(t);
    free(vocab), free(merges), free(gpath), free(tvocab), free(tmerges);
    return check_done();
}
