/* mine.h — NegMining internals shared with the CUDA backend. */
#ifndef NEGLABEL_MINE_H
#define NEGLABEL_MINE_H
#include <stddef.h>

#include "neglabel.h"

#ifdef __cplusplus
extern "C" {
#endif
/* torch.quantile's "linear" rule on n values: pos = q (n-1), interpolate
 * between the floor(pos)-th and next order statistics; NaN if any value is
 * NaN. Reorders a. */
double nli_mine_quantile(double *a, size_t n, double q);
/* fraction in (0, 1] and quantile in [0, 1]: 0, or -1 with the error set
 * (nl_mine's own check, also made before the corpus is embedded). */
int nli_mine_check(const nl_mine_params *p);
#ifdef __cplusplus
}
#endif
#endif
