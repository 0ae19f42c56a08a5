/* prng.c — splitmix64 and an unbiased Fisher–Yates shuffle, and MT19937 with torch.randperm (see prng.h). */
#include "prng.h"
#include "util.h"

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

/* ------------------------------------------------------------ MT19937 */

void nli_mt19937_seed(nli_mt19937 *m, uint64_t seed) {
    m->s[0] = (uint32_t)seed;
    for (int j = 1; j < 624; j++) m->s[j] = 1812433253u * (m->s[j - 1] ^ (m->s[j - 1] >> 30)) + (uint32_t)j;
    m->i = 624;
}

uint32_t nli_mt19937_next(nli_mt19937 *m) {
    if (m->i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % 624] & 0x7fffffffu);
            m->s[k] = m->s[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) ? 0x9908b0dfu : 0);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

int nli_torch_randperm(uint64_t seed, size_t n, size_t *out) {
    if (n >= UINT32_MAX / 20) {
        nli_seterr("torch permutation of %zu elements: torch draws 64-bit numbers from n = %u on, not reproduced",
                   n, UINT32_MAX / 20);
        return -1;
    }
    nli_mt19937 m;
    nli_mt19937_seed(&m, seed);
    for (size_t i = 0; i < n; i++) out[i] = i;
    for (size_t i = 0; i + 1 < n; i++) {
        size_t z = nli_mt19937_next(&m) % (n - i), t = out[i];
        out[i] = out[i + z];
        out[i + z] = t;
    }
    return 0;
}
