/* mine.h — NegMining internals shared with the CUDA backend. */
#ifndef NEGLABEL_MINE_H
#define NEGLABEL_MINE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
/* torch.quantile's "linear" rule on n values: pos = q (n-1), interpolate
 * between the floor(pos)-th and next order statistics. Reorders a. */
double nli_mine_quantile(double *a, size_t n, double q);
#ifdef __cplusplus
}
#endif
#endif
