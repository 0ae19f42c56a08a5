/* prng.h — the library's one seeded generator: splitmix64 (Steele, Lea and
 * Flood 2014), chosen because it is tiny, fully specified and gives the same
 * stream on every platform. Used for the NegLabel group shuffle. */
#ifndef NEGLABEL_PRNG_H
#define NEGLABEL_PRNG_H
#include <stddef.h>
#include <stdint.h>

#include "neglabel.h" /* nl_permutation */

typedef struct { uint64_t state; } nli_prng;

void nli_prng_seed(nli_prng *r, uint64_t seed);
uint64_t nli_prng_next(nli_prng *r);
/* Uniform in [0, bound] inclusive, without modulo bias (rejection). */
uint64_t nli_prng_upto(nli_prng *r, uint64_t bound);
/* Fisher–Yates from the last index down: for i = n-1 .. 1, swap a[i] with
 * a[j], j = nli_prng_upto(i). */
void nli_prng_shuffle(nli_prng *r, size_t *a, size_t n);

/* PyTorch's CPU generator and torch.randperm, bit for bit: the NegLabel
 * reference and its successors shuffle the negatives with
 * torch.manual_seed(seed); torch.randperm(n). MT19937 seeded as
 * at::mt19937 seeds it (the seed's low 32 bits, Knuth's initialisation),
 * outputs tempered as std::mt19937. */
typedef struct {
    uint32_t s[624];
    int i;
} nli_mt19937;

void nli_mt19937_seed(nli_mt19937 *m, uint64_t seed);
uint32_t nli_mt19937_next(nli_mt19937 *m);
/* out[0..n) = torch.randperm(n) right after torch.manual_seed(seed), on the
 * CPU generator (torch's algorithm for n < 2^32 / 20: for i in 0..n-2, swap
 * out[i] with out[i + next() % (n - i)]). -1 (error set) for larger n, where
 * torch switches to 64-bit draws (not reproduced: not testable here). */
int nli_torch_randperm(uint64_t seed, size_t n, size_t *out);

/* out[0..n) = np.random.seed(seed); np.random.permutation(n) (NumPy's
 * legacy RandomState: MT19937 seeded as above, then Fisher–Yates from the
 * last index down, j = random_interval(i): 32-bit draws masked to the
 * smallest all-ones mask >= i, rejected while above i). -1 (error set)
 * for seed >= 2^32 (NumPy refuses it) or n > 2^32 - 1. */
int nli_numpy_permutation(uint64_t seed, size_t n, size_t *out);

/* out[0..n) = the permutation of that kind for seed (docs/scoring.md). */
int nli_permutation(nl_permutation kind, uint64_t seed, size_t n, size_t *out);

/* CPython's random module: random.seed(int) is init_by_array over the
 * seed's 32-bit words (least significant first; 0 is one word 0);
 * nli_pyrandom_below(n) is _randbelow(n) (k = n.bit_length(), draw
 * getrandbits(k) = next() >> (32 - k) until below n), so random.choice(seq)
 * is seq[nli_pyrandom_below(len(seq))]. n == 0 returns 0 without drawing. */
void nli_mt19937_seed_array(nli_mt19937 *m, const uint32_t *key, size_t len);
void nli_pyrandom_seed(nli_mt19937 *m, uint64_t seed);
uint32_t nli_pyrandom_below(nli_mt19937 *m, uint32_t n);

#endif
