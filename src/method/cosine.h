/* cosine.h — rows prepared for cosine tables in double (score.c, oodd.c):
 * nli_unit_rows, defined with the other shared score pieces in
 * score_util.c. */
#ifndef NEGLABEL_COSINE_H
#define NEGLABEL_COSINE_H
#include "score_util.h"
#endif
