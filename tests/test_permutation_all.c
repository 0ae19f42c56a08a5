/* test_permutation_all.c — nli_permutation against torch and NumPy for
 * EVERY n from 1 to 100,000: torch.manual_seed(0); torch.randperm(n) and
 * np.random.seed(110); np.random.permutation(n) (the seeds of the NegLabel,
 * CSP and AdaNeg groupings and of OODD's stream). The golden,
 * tests/data/permutation_all_golden.txt from
 * tests/gen/gen_permutation_all.py, holds one hash per block of 1,000 n
 * (every element of every permutation counts, see the script). About 5e9
 * elements per kind: labelled "long", run by the release build only
 * (.ci/run leaves it out of the sanitizer run). */
#include "check.h"
#include "prng.h"
#include "util.h"

#include <stdint.h>
#include <string.h>

#define K UINT64_C(0x9E3779B97F4A7C15)

int main(void) {
    const char *src = getenv("NEGLABEL_SRC");
    char *path = check_path(src && *src ? src : ".", "tests/data/permutation_all_golden.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (set NEGLABEL_SRC to the repository)", path);
    size_t *perm = NULL, cap = 0;
    int blocks[2] = {0, 0}, bad = 0;
    char line[256];
    size_t next_n[2] = {1, 1};
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char kind[16];
        unsigned long long seed, lo, hi, want;
        if (sscanf(line, "%15s %llu %llu %llu %llu", kind, &seed, &lo, &hi, &want) != 5) { bad++; continue; }
        nl_permutation k;
        if (nl_parse_permutation(kind, &k) != 0 || k == NL_PERM_SPLITMIX || lo > hi || hi > 10000000) { bad++; continue; }
        int ki = k == NL_PERM_NUMPY;
        if (lo != next_n[ki]) { bad++; CHECK(0, "%s: blocks not contiguous at n = %llu", kind, lo); }
        next_n[ki] = hi + 1;
        if (hi > cap) {
            free(perm);
            perm = malloc(hi * sizeof *perm);
            cap = hi;
            if (!perm) { CHECK(0, "out of memory"); break; }
        }
        uint64_t H = 0;
        for (unsigned long long n = lo; n <= hi; n++) {
            if (nli_permutation(k, seed, n, perm) != 0) { bad++; CHECK(0, "%s n %llu: %s", kind, n, nli_geterr()); break; }
            uint64_t h = 0;
            for (size_t i = 0; i < n; i++) h += (uint64_t)(i + 1) * (uint64_t)perm[i] * K;
            H += h * (uint64_t)(2 * n + 1);
        }
        if (H != want) {
            bad++;
            CHECK(0, "%s seed %llu: a permutation of n in [%llu, %llu] differs from the reference", kind, seed, lo, hi);
        }
        blocks[ki]++;
    }
    CHECK(bad == 0, "%d bad blocks", bad);
    CHECK(blocks[0] == 100 && blocks[1] == 100 && next_n[0] == 100001 && next_n[1] == 100001,
          "every n from 1 to 100,000 for torch (%d blocks) and NumPy (%d blocks)", blocks[0], blocks[1]);
    if (f) fclose(f);
    free(perm);
    free(path);
    return check_done();
}
