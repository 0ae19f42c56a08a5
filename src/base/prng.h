/* prng.h — the library's one seeded generator: splitmix64 (Steele, Lea and
 * Flood 2014), chosen because it is tiny, fully specified and gives the same
 * stream on every platform. Used for the NegLabel group shuffle. */
#ifndef NEGLABEL_PRNG_H
#define NEGLABEL_PRNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t state; } nli_prng;

void nli_prng_seed(nli_prng *r, uint64_t seed);
uint64_t nli_prng_next(nli_prng *r);
/* Uniform in [0, bound] inclusive, without modulo bias (rejection). */
uint64_t nli_prng_upto(nli_prng *r, uint64_t bound);
/* Fisher–Yates from the last index down: for i = n-1 .. 1, swap a[i] with
 * a[j], j = nli_prng_upto(i). */
void nli_prng_shuffle(nli_prng *r, size_t *a, size_t n);

#endif
