/* mine_model.h — what eval.c shares with mine_model.c. */
#ifndef NEGLABEL_MINE_MODEL_H
#define NEGLABEL_MINE_MODEL_H

#include "neglabel.h"
#include "util.h"

/* The negatives file's text (header line, one word per line, the
 * similarities when qsim is given) into an open atomic file, in the C
 * locale's number format; errors show when the file is committed. */
void nli_negatives_print(nli_atomic *ap, const nl_negatives *neg, const double *qsim);

#endif
