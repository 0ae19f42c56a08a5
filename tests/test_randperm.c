/* test_randperm.c — nli_torch_randperm against torch.randperm after
 * torch.manual_seed (tests/data/randperm_golden.txt, written by
 * tests/gen/gen_randperm.py with torch): 66 sizes from 1 to 2^20 (around
 * MT19937's 624-word refills too) and 5 seeds, one a 64-bit seed. Every
 * element counts through a weighted checksum; the first 64 are compared
 * one by one. Also: MT19937's reference output (10000th draw of the
 * default seed 5489 is 4123659995, the C++ standard's check), a
 * permutation is a permutation, and the refusal past torch's 32-bit path. */
#include "check.h"
#include "prng.h"
#include "util.h"

#include <stdint.h>

#define M61 ((UINT64_C(1) << 61) - 1)

static uint64_t mulmod61(uint64_t a, uint64_t b) { return (uint64_t)(((unsigned __int128)a * b) % M61); }

int main(void) {
    nli_mt19937 m;
    nli_mt19937_seed(&m, 5489);
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++) x = nli_mt19937_next(&m);
    CHECK(x == 4123659995u, "mt19937(5489): 10000th output %u, the standard says 4123659995", x);

    const char *src = getenv("NEGLABEL_SRC");
    char *path = check_path(src && *src ? src : ".", "tests/data/randperm_golden.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (set NEGLABEL_SRC to the repository)", path);
    char line[1 << 12];
    int cases = 0;
    size_t *perm = NULL, cap = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *p = line, *end;
        unsigned long long seed = strtoull(p, &end, 10), n = strtoull(end, &end, 10), cs = strtoull(end, &end, 10);
        if (n > cap) {
            free(perm);
            perm = malloc(n * sizeof *perm);
            cap = n;
        }
        CHECK(nli_torch_randperm(seed, n, perm) == 0, "seed %llu n %llu: %s", seed, n, nli_geterr());
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) sum = (sum + mulmod61(i + 1, perm[i])) % M61;
        int first_ok = 1;
        for (size_t i = 0; i < n && i < 64; i++) first_ok &= perm[i] == strtoull(end, &end, 10);
        CHECK(first_ok && sum == cs, "seed %llu n %llu: differs from torch.randperm (checksum %llu, torch %llu)",
              seed, n, (unsigned long long)sum, cs);
        /* a permutation */
        unsigned char *seen = calloc(n ? n : 1, 1);
        int perm_ok = 1;
        for (size_t i = 0; i < n; i++) {
            perm_ok &= perm[i] < n && !seen[perm[i]];
            if (perm[i] < n) seen[perm[i]] = 1;
        }
        free(seen);
        CHECK(perm_ok, "seed %llu n %llu: not a permutation", seed, n);
        cases++;
    }
    if (f) fclose(f);
    CHECK(cases == 330, "%d golden cases (expected 66 sizes x 5 seeds)", cases);
    size_t one;
    CHECK(nli_torch_randperm(0, (size_t)UINT32_MAX / 20, &one) != 0 && strstr(nli_geterr(), "64-bit"),
          "torch's 64-bit path is refused, not imitated");
    free(perm);
    free(path);
    return check_done();
}
