/* tokenizer_errata.h — lines of ../shared/fixtures/tokenizer/golden.jsonl
 * whose ids were written with ftfy.fix_text skipped, where ftfy is not the
 * identity. The ids here are what OpenAI's simple_tokenizer.py gives with
 * ftfy 6.3.1 (the same strings are in tests/data/ftfy_golden.jsonl, kind
 * "shared-golden", made by tests/gen/gen_ftfy_golden.py). Line 80476: the
 * full-width comma U+FF0C becomes ','. */
#ifndef NEGLABEL_TOKENIZER_ERRATA_H
#define NEGLABEL_TOKENIZER_ERRATA_H
#include <stddef.h>
#include <stdint.h>

static const struct { size_t line; const char *text; int32_t ids[12]; size_t n; } TOKENIZER_ERRATA[] = {
    {80476, "\344\275\240\345\245\275\357\274\214\344\270\226\347\225\214",
     {49406, 47466, 254, 29290, 377, 267, 19759, 244, 163, 243, 490, 49407}, 12},
};
#define TOKENIZER_ERRATA_COUNT (sizeof TOKENIZER_ERRATA / sizeof *TOKENIZER_ERRATA)
#endif
