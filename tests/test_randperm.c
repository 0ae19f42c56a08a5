/* test_randperm.c — nli_torch_randperm against torch.randperm after
 * torch.manual_seed (tests/data/randperm_golden.txt, written by
 * tests/gen/gen_randperm.py with torch): 66 sizes from 1 to 2^20 (around
 * MT19937's 624-word refills too) and 5 seeds, one a 64-bit seed. Every
 * element counts through a weighted checksum; the first 64 are compared
 * one by one. Also: MT19937's reference output (10000th draw of the
 * default seed 5489 is 4123659995, the C++ standard's check), a
 * permutation is a permutation, and the refusal past torch's 32-bit path.
 * tests/data/permutation_golden.txt (same script): torch and NumPy's legacy
 * np.random.permutation for every n <= 1000 and a spread up to 100,000
 * (checksum + first 8 elements), through nli_permutation. And
 * tests/data/pyrandom_golden.txt (tests/gen/gen_pyrandom.py): CPython's
 * random.seed + random.choice (CSP's adjective phrases). */
#include "check.h"
#include "prng.h"
#include "util.h"

#include <stdint.h>

#define M61 ((UINT64_C(1) << 61) - 1)

static uint64_t mulmod61(uint64_t a, uint64_t b) { return (uint64_t)(((unsigned __int128)a * b) % M61); }

static FILE *open_golden(const char *name, char **path) {
    const char *src = getenv("NEGLABEL_SRC");
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/%s", name);
    *path = check_path(src && *src ? src : ".", rel);
    FILE *f = fopen(*path, "r");
    CHECK(f != NULL, "cannot open %s (set NEGLABEL_SRC to the repository)", *path);
    return f;
}

/* permutation_golden.txt: kind seed n checksum first<=8. Returns the cases
 * read; counts[0] torch, counts[1] numpy. */
static int sweep(int counts[2]) {
    char *path;
    FILE *f = open_golden("permutation_golden.txt", &path);
    char line[1024];
    size_t *perm = NULL, cap = 0;
    int cases = 0, bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char kind[16], *end;
        int off = 0;
        if (sscanf(line, "%15s %n", kind, &off) != 1) { bad++; continue; }
        nl_permutation k;
        if (nl_parse_permutation(kind, &k) != 0 || k == NL_PERM_SPLITMIX) { bad++; continue; }
        unsigned long long seed = strtoull(line + off, &end, 10), n = strtoull(end, &end, 10),
                           cs = strtoull(end, &end, 10);
        if (n > cap) {
            free(perm);
            perm = malloc(n * sizeof *perm);
            cap = n;
        }
        if (nli_permutation(k, seed, n, perm) != 0) {
            CHECK(0, "%s seed %llu n %llu: %s", kind, seed, n, nli_geterr());
            bad++;
            continue;
        }
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) sum = (sum + mulmod61(i + 1, perm[i])) % M61;
        int first_ok = 1;
        for (size_t i = 0; i < n && i < 8; i++) first_ok &= perm[i] == strtoull(end, &end, 10);
        if (!(first_ok && sum == cs)) {
            CHECK(0, "%s seed %llu n %llu: differs from the reference (checksum %llu, reference %llu)", kind, seed, n,
                  (unsigned long long)sum, cs);
            bad++;
        }
        counts[k == NL_PERM_NUMPY]++;
        cases++;
    }
    CHECK(bad == 0, "%d bad permutation cases", bad);
    if (f) fclose(f);
    free(perm);
    free(path);
    return cases;
}

/* pyrandom_golden.txt: seed n draws checksum first<=24. */
static int pyrandom(void) {
    char *path;
    FILE *f = open_golden("pyrandom_golden.txt", &path);
    char line[1024];
    int cases = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *end;
        unsigned long long seed = strtoull(line, &end, 10), n = strtoull(end, &end, 10),
                           draws = strtoull(end, &end, 10), cs = strtoull(end, &end, 10);
        nli_mt19937 m;
        nli_pyrandom_seed(&m, seed);
        uint64_t sum = 0;
        int first_ok = 1;
        for (unsigned long long i = 0; i < draws; i++) {
            uint32_t d = nli_pyrandom_below(&m, (uint32_t)n);
            if (i < 24) first_ok &= d == strtoull(end, &end, 10);
            sum = (sum + mulmod61(i + 1, d)) % M61;
        }
        CHECK(first_ok && sum == cs, "random.seed(%llu); choice over %llu: differs from CPython (checksum %llu, CPython %llu)",
              seed, n, (unsigned long long)sum, cs);
        cases++;
    }
    if (f) fclose(f);
    free(path);
    return cases;
}

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
    CHECK(nli_numpy_permutation((uint64_t)1 << 32, 1, &one) != 0 && strstr(nli_geterr(), "2^32"),
          "np.random.seed refuses seeds >= 2^32, so do we");
    CHECK(nli_numpy_permutation(0, (size_t)UINT32_MAX + 1, &one) != 0 && strstr(nli_geterr(), "64-bit"),
          "NumPy's 64-bit draws are refused, not imitated");
    CHECK(nli_permutation((nl_permutation)7, 0, 1, &one) != 0, "an unknown permutation kind is an error");

    int counts[2] = {0, 0};
    int swept = sweep(counts);
    /* 1,000 + 120 spread sizes (some coincide) for each kind at seed 0, and more seeds */
    CHECK(swept == 2577 && counts[0] >= 1100 && counts[1] >= 1100, "%d sweep cases (%d torch, %d numpy), expected 2577",
          swept, counts[0], counts[1]);
    CHECK(pyrandom() == 217, "CPython random cases (expected 7 seeds x 31 sizes)");

    nl_permutation k;
    CHECK(nl_parse_permutation("torch", &k) == 0 && k == NL_PERM_TORCH && nl_parse_permutation("numpy", &k) == 0 &&
              k == NL_PERM_NUMPY && nl_parse_permutation("splitmix", &k) == 0 && k == NL_PERM_SPLITMIX &&
              nl_parse_permutation("Torch", &k) != 0 && !strcmp(nl_permutation_name(NL_PERM_TORCH), "torch"),
          "permutation names");
    free(perm);
    free(path);
    return check_done();
}
