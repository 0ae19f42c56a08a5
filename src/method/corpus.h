/* corpus.h — the corpus's form of a word, shared with the ID-label drop
 * of nl_mine_model (app/eval.c), so both sides compare alike. */
#ifndef NEGLABEL_CORPUS_H
#define NEGLABEL_CORPUS_H
#include <stddef.h>

/* w[0..len) as the corpus stores it: the ends stripped (ASCII whitespace
 * and '_'), '_' -> ' ', ASCII letters lowercased. malloc'd ("" when nothing
 * is left); NULL: out of memory (error set). */
char *nli_corpus_word(const char *w, size_t len);
#endif
