/* prng.c — splitmix64 and an unbiased Fisher–Yates shuffle (see prng.h). */
#include "prng.h"

void nli_prng_seed(nli_prng *r, uint64_t seed) { r->state = seed; }

uint64_t nli_prng_next(nli_prng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t nli_prng_upto(nli_prng *r, uint64_t bound) {
    if (bound == UINT64_MAX) return nli_prng_next(r);
    uint64_t range = bound + 1;
    /* Reject the lowest 2^64 mod range values so every residue is equally
     * likely (the arc4random_uniform rule). */
    uint64_t threshold = (0 - range) % range;
    for (;;) {
        uint64_t x = nli_prng_next(r);
        if (x >= threshold) return x % range;
    }
}

void nli_prng_shuffle(nli_prng *r, size_t *a, size_t n) {
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)nli_prng_upto(r, i);
        size_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
