/* bench_tokenizer.c — tokenizer throughput on a JSONL file of {"text": ...}
 * lines (e.g. ../shared/fixtures/tokenizer/golden.jsonl), one thread, and
 * the share of it spent in ftfy.fix_text. Not a test.
 *
 *   bench_tokenizer VOCAB_JSON MERGES_TXT GOLDEN_JSONL [ROUNDS] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfy.h"
#include "tokenizer.h"
#include "util.h"

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s VOCAB_JSON MERGES_TXT GOLDEN_JSONL [ROUNDS]\n", argv[0]); return 2; }
    int rounds = argc > 4 ? atoi(argv[4]) : 3;
    nli_tokenizer *t = nli_tokenizer_load(argv[1], argv[2]);
    char *data;
    size_t len;
    if (!t || nli_read_file(argv[3], (size_t)1 << 30, &data, &len)) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
    char **txt = NULL;
    size_t *tl = NULL, n = 0, cap = 0, cap2 = 0, bytes = 0;
    for (char *s = data, *e; s < data + len; s = e + 1) {
        e = memchr(s, '\n', (size_t)(data + len - s));
        if (!e) e = data + len;
        json_t *o = json_loadb(s, (size_t)(e - s), JSON_ALLOW_NUL, NULL);
        json_t *jt = json_object_get(o, "text");
        if (json_is_string(jt)) {
            if (nli_grow((void **)&txt, &cap, n + 1, sizeof *txt) || nli_grow((void **)&tl, &cap2, n + 1, sizeof *tl)) return 1;
            tl[n] = json_string_length(jt);
            txt[n] = nli_strndup(json_string_value(jt), tl[n]);
            bytes += tl[n++];
        }
        json_decref(o);
    }
    for (int r = 0; r < rounds; r++) {
        double t0 = nli_now();
        size_t ids_total = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t *ids;
            size_t m;
            if (nli_tokenizer_encode(t, txt[i], tl[i], &ids, &m)) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
            ids_total += m;
            free(ids);
        }
        double enc = nli_now() - t0;
        t0 = nli_now();
        for (size_t i = 0; i < n; i++) {
            char *o;
            size_t m;
            if (nli_ftfy_fix_utf8(txt[i], tl[i], &o, &m)) { fprintf(stderr, "%s\n", nli_geterr()); return 1; }
            free(o);
        }
        double fx = nli_now() - t0;
        printf("round %d: %zu strings (%zu bytes, %zu ids): encode %.3f s (%.0f strings/s, %.1f MB/s); "
               "fix_text alone %.3f s\n", r + 1, n, bytes, ids_total, enc, n / enc, bytes / enc / 1e6, fx);
    }
    return 0;
}
