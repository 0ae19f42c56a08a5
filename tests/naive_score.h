/* naive_score.h — direct double-precision implementations of the NegLabel
 * and MCM formulas, and random test embeddings: the references that
 * test_score.c (library) and test_cli_scoring.c (CLI) compare against. */
#ifndef NEGLABEL_NAIVE_SCORE_H
#define NEGLABEL_NAIVE_SCORE_H
#include <math.h>
#include "check.h"
#include <stdint.h>
#include <stdlib.h>

static uint64_t rs __attribute__((unused)) = 0x2545F4914F6CDD1DULL;
static inline double urand(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

/* Entries k/8, |k| <= 2: every dot product is exact in float, so the
 * library's GEMM and the naive double sums see the same cosines. */
static inline void exact_emb(float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n * dim; i++) x[i] = (float)(floor(urand() * 5) - 2) / 8.0f;
}

static inline void unit_emb(float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < dim; k++) {
            x[i * dim + k] = (float)(urand() - 0.5);
            s += (double)x[i * dim + k] * x[i * dim + k];
        }
        for (size_t k = 0; k < dim; k++) x[i * dim + k] = (float)(x[i * dim + k] / sqrt(s));
    }
}

/* Cosine similarity in double (the library normalises rows itself). */
static inline double dot(const float *a, const float *b, size_t d) { return check_cosine(a, b, d); }

/* Naive NegLabel: negatives order[0..kept) cut into ngroup contiguous groups;
 * per group, softmax over ID + group logits, ID mass; mean. */
static inline double naive_neglabel(const float *img, const float *id, size_t nid, const float *neg, size_t nneg,
                             size_t dim, size_t ngroup, const size_t *order, double tau) {
    size_t gs = nneg / ngroup;
    double *l = malloc((nid + gs) * sizeof *l), total = 0;
    for (size_t g = 0; g < ngroup; g++) {
        size_t n = 0;
        for (size_t j = 0; j < nid; j++) l[n++] = dot(img, id + j * dim, dim) / tau;
        for (size_t j = 0; j < gs; j++) {
            size_t k = g * gs + j;
            l[n++] = dot(img, neg + (order ? order[k] : k) * dim, dim) / tau;
        }
        double m = l[0], z = 0, zid = 0;
        for (size_t j = 1; j < n; j++) m = l[j] > m ? l[j] : m;
        for (size_t j = 0; j < n; j++) {
            double e = exp(l[j] - m);
            z += e;
            if (j < nid) zid += e;
        }
        total += zid / z;
    }
    free(l);
    return total / (double)ngroup;
}

static inline double naive_mcm(const float *img, const float *id, size_t nid, size_t dim, double tau) {
    double m = -INFINITY, z = 0;
    for (size_t j = 0; j < nid; j++) m = fmax(m, dot(img, id + j * dim, dim) / tau);
    for (size_t j = 0; j < nid; j++) z += exp(dot(img, id + j * dim, dim) / tau - m);
    return 1.0 / z;
}

static inline size_t naive_argmax(const float *img, const float *e, size_t n, size_t dim) {
    size_t b = 0;
    for (size_t j = 1; j < n; j++)
        if (dot(img, e + j * dim, dim) > dot(img, e + b * dim, dim)) b = j;
    return b;
}

#endif
