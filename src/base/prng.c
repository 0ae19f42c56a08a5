/* prng.c — splitmix64 and an unbiased Fisher–Yates shuffle; MT19937 with
 * torch.randperm, NumPy's legacy permutation and CPython's random seeding
 * and choice (see prng.h). */
#include "prng.h"
#include "util.h"

#include <string.h>

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

int nli_numpy_permutation(uint64_t seed, size_t n, size_t *out) {
    if (seed > UINT32_MAX) {
        nli_seterr("NumPy permutation: seed %llu outside [0, 2^32 - 1] (np.random.seed refuses it)",
                   (unsigned long long)seed);
        return -1;
    }
    if (n > UINT32_MAX) {
        nli_seterr("NumPy permutation of %zu elements: NumPy draws 64-bit numbers past 2^32, not reproduced", n);
        return -1;
    }
    nli_mt19937 m;
    nli_mt19937_seed(&m, seed); /* mt19937_seed: the same Knuth initialisation */
    for (size_t i = 0; i < n; i++) out[i] = i;
    for (size_t i = n; i-- > 1;) {
        /* random_interval(i): the smallest all-ones mask >= i, 32-bit draws
         * masked and rejected while above i */
        uint32_t max = (uint32_t)i, mask = max, v;
        mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16;
        while ((v = nli_mt19937_next(&m) & mask) > max) {}
        size_t t = out[i];
        out[i] = out[v];
        out[v] = t;
    }
    return 0;
}

int nli_permutation(nl_permutation kind, uint64_t seed, size_t n, size_t *out) {
    switch (kind) {
    case NL_PERM_SPLITMIX: {
        nli_prng r;
        nli_prng_seed(&r, seed);
        for (size_t i = 0; i < n; i++) out[i] = i;
        nli_prng_shuffle(&r, out, n);
        return 0;
    }
    case NL_PERM_TORCH: return nli_torch_randperm(seed, n, out);
    case NL_PERM_NUMPY: return nli_numpy_permutation(seed, n, out);
    }
    nli_seterr("unknown permutation %d", (int)kind);
    return -1;
}

/* ------------------------------------------------------------ CPython random */

void nli_mt19937_seed_array(nli_mt19937 *m, const uint32_t *key, size_t len) {
    nli_mt19937_seed(m, 19650218u);
    uint32_t *mt = m->s;
    size_t i = 1, j = 0;
    for (size_t k = 624 > len ? 624 : len; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= 624) { mt[0] = mt[623]; i = 1; }
        if (j >= len) j = 0;
    }
    for (size_t k = 623; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) { mt[0] = mt[623]; i = 1; }
    }
    mt[0] = 0x80000000u;
    m->i = 624;
}

void nli_pyrandom_seed(nli_mt19937 *m, uint64_t seed) {
    /* random.seed(int): the absolute value as 32-bit words, least
     * significant first, at least one word */
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    nli_mt19937_seed_array(m, key, key[1] ? 2 : 1);
}

uint32_t nli_pyrandom_below(nli_mt19937 *m, uint32_t n) {
    if (n == 0) return 0; /* choice() of an empty sequence raises before drawing */
    int k = 0;
    while (k < 32 && (n >> k)) k++; /* n.bit_length() */
    for (;;) {
        uint32_t r = nli_mt19937_next(m) >> (32 - k); /* getrandbits(k), k <= 32 */
        if (r < n) return r;
    }
}

/* ------------------------------------------------------------ names */

static const char *const perm_names[] = {"splitmix", "torch", "numpy"};

int nl_parse_permutation(const char *s, nl_permutation *out) {
    if (!out) return nli_null_arg(__func__);
    for (int k = 0; k < 3; k++)
        if (s && !strcmp(s, perm_names[k])) {
            *out = (nl_permutation)k;
            return 0;
        }
    nli_seterr("permutation '%s': expected splitmix, torch or numpy", s ? s : "(null)");
    return -1;
}

const char *nl_permutation_name(nl_permutation p) {
    return (unsigned)p < 3 ? perm_names[p] : "unknown";
}
