/* corpus.h — corpus internals shared with nl_mine_model (app/eval.c). */
#ifndef NEGLABEL_CORPUS_H
#define NEGLABEL_CORPUS_H
#include "neglabel.h"

/* Remove from c the words equal to a word of drop, both in the corpus's
 * form (the ends stripped of white space, '_' -> ' ', ASCII letters
 * lowercased) then Unicode case-folded and NFC; the order of the rest kept;
 * text (NULL or c->n entries, parallel to the corpus) is compacted alike.
 * 0, or -1 (out of memory, or a drop word not UTF-8; the corpus is whole). */
int nli_corpus_drop(nl_corpus *c, const nl_strvec *drop, nl_strvec *text);
#endif
