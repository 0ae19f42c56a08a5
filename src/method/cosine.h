/* cosine.h — rows prepared for cosine tables in double (score.c, oodd.c). */
#ifndef NEGLABEL_COSINE_H
#define NEGLABEL_COSINE_H
#include <stddef.h>

/* n rows of float -> malloc'd double, each scaled to unit length in double
 * (zero rows stay 0). NULL (error set) when out of memory. */
double *nli_unit_rows(const float *x, size_t n, size_t dim);
#endif
