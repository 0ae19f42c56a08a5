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
/* How many nouns (keep[0]) and adjectives (keep[1]) NegMining selects from
 * n_noun + n_adj candidates: floor(fraction * each), or total split in
 * proportion. -1 (error set) when total exceeds the candidates or nothing
 * would be selected: known once the corpus is read, before it is embedded. */
int nli_mine_keep(const nl_mine_params *p, size_t n_noun, size_t n_adj, size_t keep[2]);
#ifdef __cplusplus
}
#endif
#endif
