/* test_ftfy.c — ftfy.fix_text (src/clip/ftfy.c) byte for byte, and the
 * tokenizer ids behind it, against tests/data/ftfy_golden.jsonl: every
 * string there was fixed by the real ftfy and tokenized by OpenAI's
 * simple_tokenizer.py (tests/gen/gen_ftfy_golden.py records the versions).
 * Lines marked "mark" hold code points whose Unicode properties differ
 * between Python's tables and ours (docs/tokenizer.md): they are run and
 * their differences counted and printed, not failed. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ftfy.h"
#include "tokenizer.h"
#include "util.h"

static uint64_t fnv(const void *p, size_t n) { return nli_fnv1a(p, n, NL_FNV_INIT); }

static void show(const char *what, const char *s, size_t n) {
    fprintf(stderr, "  %s: \"", what);
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') fprintf(stderr, "\\x%02X", c);
        else fputc(c, stderr);
    }
    fprintf(stderr, "\"\n");
}

static size_t fixed_bad, ids_bad, errors, marked, marked_diff, lines, longs;

static void check_line(const nli_tokenizer *t, json_t *o, size_t lineno) {
    json_t *jt = json_object_get(o, "text"), *jf = json_object_get(o, "fixed"), *ji = json_object_get(o, "ids");
    int mark = json_is_true(json_object_get(o, "mark")) || json_integer_value(json_object_get(o, "mark")) == 1;
    if (!json_is_string(jt) || !json_is_string(jf) || !json_is_array(ji)) {
        CHECK(0, "golden line %zu: missing text/fixed/ids", lineno);
        return;
    }
    lines++;
    marked += mark;
    const char *text = json_string_value(jt), *want = json_string_value(jf);
    size_t tlen = json_string_length(jt), wlen = json_string_length(jf);
    char *got = NULL;
    size_t glen = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    int bad = 0, fbad = 0;
    if (nli_ftfy_fix_utf8(text, tlen, &got, &glen)) {
        fprintf(stderr, "line %zu: fix_text failed: %s\n", lineno, nli_geterr());
        errors++;
        return;
    }
    if (glen != wlen || memcmp(got, want, glen) != 0) {
        bad = fbad = 1;
        if (!mark && fixed_bad++ < 8) {
            fprintf(stderr, "line %zu (%s): fix_text differs\n", lineno, json_string_value(json_object_get(o, "kind")));
            show("text", text, tlen);
            show("got ", got, glen);
            show("want", want, wlen);
        }
    }
    free(got);
    if (nli_tokenizer_encode(t, text, tlen, &ids, &n)) {
        fprintf(stderr, "line %zu: encode failed: %s\n", lineno, nli_geterr());
        errors++;
        return;
    }
    int same = n == json_array_size(ji);
    for (size_t i = 0; same && i < n; i++) same = ids[i] == json_integer_value(json_array_get(ji, i));
    free(ids);
    if (!same) {
        bad = 1;
        if (!mark && ids_bad++ < 8) {
            fprintf(stderr, "line %zu: ids differ\n", lineno);
            show("text", text, tlen);
        }
    }
    if (mark && bad) {
        marked_diff++;
        fprintf(stderr, "line %zu (marked): %s differ, as its code points' Unicode versions do\n", lineno,
                fbad && !same ? "fix_text and ids" : fbad ? "fix_text" : "ids");
    }
}

/* {"cps": [...], "fixed"}: code points with surrogates, which UTF-8 cannot
 * carry, straight into nli_ftfy_fix_text. */
static size_t surrogate_lines;
static void check_cps(json_t *o, size_t lineno) {
    json_t *jc = json_object_get(o, "cps"), *jf = json_object_get(o, "fixed");
    nli_cpbuf in = {0}, out = {0};
    for (size_t i = 0; i < json_array_size(jc); i++)
        if (nli_cpbuf_push(&in, (uint32_t)json_integer_value(json_array_get(jc, i)))) exit(1);
    surrogate_lines++;
    int rc = nli_ftfy_fix_text(in.v, in.n, &out);
    char *got = nli_mallocarray(out.n + 1, 4);
    size_t glen = 0;
    for (size_t i = 0; rc == 0 && i < out.n; i++) glen += nli_utf8_put(out.v[i], got + glen);
    CHECK(rc == 0 && json_is_string(jf) && glen == json_string_length(jf) && memcmp(got, json_string_value(jf), glen) == 0,
          "line %zu: fix_text on code points with surrogates", lineno);
    free(got);
    free(in.v);
    free(out.v);
}

/* {"repeat": [head, unit, count, tail]}: fixed and ids by length and FNV-1a. */
static void check_long(const nli_tokenizer *t, json_t *o, size_t lineno) {
    json_t *r = json_object_get(o, "repeat");
    const char *head = json_string_value(json_array_get(r, 0)), *unit = json_string_value(json_array_get(r, 1)),
               *tail = json_string_value(json_array_get(r, 3));
    size_t count = (size_t)json_integer_value(json_array_get(r, 2));
    if (!head || !unit || !tail || !count) { CHECK(0, "golden line %zu: bad repeat", lineno); return; }
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), len = hl + ul * count + tl;
    char *s = malloc(len);
    if (!s) exit(1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < count; i++) memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * count, tail, tl);
    char *got;
    size_t glen;
    int32_t *ids;
    size_t n;
    longs++;
    int rc = nli_ftfy_fix_utf8(s, len, &got, &glen);
    CHECK(rc == 0, "line %zu: long fix_text failed: %s", lineno, nli_geterr());
    if (rc == 0) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv(got, glen));
        CHECK(glen == (size_t)json_integer_value(json_object_get(o, "fixed_len")) &&
                  strcmp(hex, json_string_value(json_object_get(o, "fixed_fnv"))) == 0,
              "line %zu: long string (%zu bytes) fixed to %zu bytes, fnv %s", lineno, len, glen, hex);
        free(got);
    }
    rc = nli_tokenizer_encode(t, s, len, &ids, &n);
    CHECK(rc == 0, "line %zu: long encode failed: %s", lineno, nli_geterr());
    if (rc == 0) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv(ids, n * sizeof *ids)); /* little-endian */
        CHECK(n == (size_t)json_integer_value(json_object_get(o, "ids_n")) &&
                  strcmp(hex, json_string_value(json_object_get(o, "ids_fnv"))) == 0,
              "line %zu: long string gives %zu ids, fnv %s", lineno, n, hex);
        free(ids);
    }
    free(s);
}

static void test_golden(const nli_tokenizer *t, const char *path) {
    char *data;
    size_t len, lineno = 0, meta_differing = 0;
    if (nli_read_file(path, (size_t)64 << 20, &data, &len)) { CHECK(0, "%s", nli_geterr()); return; }
    double t0 = nli_now();
    for (char *s = data, *e; s < data + len; s = e + 1) {
        e = memchr(s, '\n', (size_t)(data + len - s));
        if (!e) e = data + len;
        lineno++;
        json_error_t jerr;
        json_t *o = json_loadb(s, (size_t)(e - s), JSON_ALLOW_NUL, &jerr);
        if (!o) { CHECK(0, "%s:%zu: %s", path, lineno, jerr.text); continue; }
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (kind && strcmp(kind, "meta") == 0) {
            printf("golden made with ftfy %s (ours: tables from ftfy %s), Python Unicode %s, utf8proc %s\n",
                   json_string_value(json_object_get(o, "ftfy")), nli_ftfy_version,
                   json_string_value(json_object_get(o, "unicodedata")), json_string_value(json_object_get(o, "utf8proc")));
            CHECK(strcmp(json_string_value(json_object_get(o, "ftfy")), nli_ftfy_version) == 0,
                  "golden and tables come from different ftfy versions");
            meta_differing = (size_t)json_integer_value(json_object_get(o, "differing"));
        } else if (kind && strcmp(kind, "surrogates") == 0) {
            check_cps(o, lineno);
        } else if (kind && strcmp(kind, "long") == 0) {
            check_long(t, o, lineno);
        } else {
            check_line(t, o, lineno);
        }
        json_decref(o);
    }
    free(data);
    printf("%zu strings (%zu marked, %zu of them differing) + %zu long ones: %zu fix_text and %zu id "
           "mismatches, %zu errors, %.2f s\n", lines, marked, marked_diff, longs, fixed_bad, ids_bad, errors,
           nli_now() - t0);
    CHECK(lines > 15000 && longs == 4 && surrogate_lines >= 7 && meta_differing > 0,
          "golden incomplete: %zu lines, %zu long, %zu with surrogates", lines, longs, surrogate_lines);
    CHECK(fixed_bad == 0, "%zu fix_text mismatches", fixed_bad);
    CHECK(ids_bad == 0, "%zu id mismatches", ids_bad);
    CHECK(errors == 0, "%zu errors", errors);
}

static void test_errors(void) {
    char *out = (char *)1;
    size_t n = 7;
    CHECK(nli_ftfy_fix_utf8("caf\xC3", 4, &out, &n) != 0 && out == NULL && n == 0, "truncated UTF-8 refused");
    CHECK(strstr(nli_geterr(), "byte 3") != NULL, "error names the byte: %s", nli_geterr());
    CHECK(nli_ftfy_fix_utf8("\xED\xA0\x80", 3, &out, &n) != 0, "a surrogate in UTF-8 is refused");
    CHECK(nli_ftfy_fix_utf8(NULL, 1, &out, &n) != 0, "NULL text refused");
    CHECK(nli_ftfy_fix_utf8(NULL, 0, &out, &n) == 0 && n == 0 && out && out[0] == 0, "empty text");
    free(out);
    /* NUL is text, removed as a control character (ftfy's remove_control_chars) */
    CHECK(nli_ftfy_fix_utf8("a\0b", 3, &out, &n) == 0 && n == 2 && memcmp(out, "ab", 2) == 0, "NUL removed");
    free(out);
    /* HTML entities nested deep: one level goes a round, and each round
     * reads the whole text (ftfy's loop; Python's ftfy is quadratic too).
     * '&' + 'amp;' x 20,000 + 'lt;' (80 KB) took ~30 s and a 1 MB prompt
     * would take an hour: refused once the work passes 8 rounds over the
     * text + 64 Mi characters. A few levels are fixed as ftfy fixes them. */
    {
        size_t levels = 20000, len = 1 + 4 * levels + 3;
        char *t = malloc(len + 1);
        t[0] = '&';
        for (size_t i = 0; i < levels; i++) memcpy(t + 1 + 4 * i, "amp;", 4);
        memcpy(t + 1 + 4 * levels, "lt;", 4);
        double t0 = nli_now();
        int rc = nli_ftfy_fix_utf8(t, len, &out, &n);
        double took = nli_now() - t0;
        CHECK(rc != 0 && strstr(nli_geterr(), "keeps changing round after round"), "20,000 nested entities: %s",
              rc ? nli_geterr() : "fixed");
        printf("20,000 nested entities refused after %.2f s\n", took);
        if (rc == 0) free(out);
        free(t);
        const char *few = "a &amp;amp;amp;amp;amp;lt; b";
        CHECK(nli_ftfy_fix_utf8(few, strlen(few), &out, &n) == 0 && n == 5 && !memcmp(out, "a < b", 5),
              "five levels: '%.*s'", (int)n, out ? out : "");
        free(out);
    }
}

int main(void) {
    const char *shared = check_shared();
    const char *src = getenv("NEGLABEL_SRC");
    char *vocab = check_path(shared, "clip-tokenizer/vocab.json"), *merges = check_path(shared, "clip-tokenizer/merges.txt");
    char *golden = check_path(src && *src ? src : ".", "tests/data/ftfy_golden.jsonl");
    nli_tokenizer *t = nli_tokenizer_load(vocab, merges);
    CHECK(t != NULL, "load tokenizer: %s", t ? "" : nli_geterr());
    if (t) test_golden(t, golden);
    test_errors();
    nli_tokenizer_free(t);
    free(vocab);
    free(merges);
    free(golden);
    return check_done();
}
