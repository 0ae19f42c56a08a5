/* golden_embed.h — the deterministic embeddings of tests/gen/golden_embed.py
 * (entry k of matrix m in case s: splitmix64's output function of
 * (s << 40) ^ (m << 32) ^ k, top 24 bits mapped to [-1, 1), exact in
 * float32), so goldens need not store their inputs. */
#ifndef NEGLABEL_GOLDEN_EMBED_H
#define NEGLABEL_GOLDEN_EMBED_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline float golden_value(uint64_t s, uint64_t m, uint64_t k) {
    uint64_t z = ((s << 40) ^ (m << 32) ^ k) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((double)(z >> 40) / (double)(1u << 23) - 1.0);
}

/* rows x cols, malloc'd. */
static inline float *golden_matrix(uint64_t s, uint64_t m, size_t rows, size_t cols) {
    float *x = malloc((rows * cols + 1) * sizeof *x);
    for (size_t k = 0; x && k < rows * cols; k++) x[k] = golden_value(s, m, k);
    return x;
}
#endif
