/* test_oodd.c — OODD (nl_score with NL_METHOD_OODD) against
 * tests/data/oodd_golden.txt, a numpy re-implementation of the reference's
 * stream (zxk1212/OODD NegLabel/tools/ood_test.py main(), with Python's own
 * queue.PriorityQueue and ScoreData's reversed comparison;
 * tests/gen/gen_oodd.py) on the deterministic embeddings of
 * tests/golden_embed.h. For every case: the scores agree to 1e-9 relative,
 * the static scores too (the reference's NegLabel grouping with torch's
 * permutation), and the discrete state is identical: the queue's contents
 * as stream indices in heap order, after a few batches and at the end,
 * ties included (duplicated rows, zero rows, integer static scores). The
 * reference's stream order (np.random.seed(110); permutation) equals
 * nli_permutation(NL_PERM_NUMPY, 110, N). One and two threads give the
 * same bits; the public nl_score the same as the traced entry point. Bad
 * parameters are refused with errors that name them.
 *
 * NEGLABEL_DEVICE=cuda (ctest's test_oodd_gpu): every case runs on CUDA
 * device 0 (method/cuda/oodd.cu) and must pass the same checks; each is also
 * run on the CPU, and the GPU's selected cosines must equal the CPU's to
 * 1e-14 with the same queues; and two larger streams (ties, evictions
 * within a batch, k = 1 and k = the queue) are compared with the CPU. */
#include "check.h"
#include "golden_embed.h"
#include "neglabel.h"
#include "oodd.h"
#include "prng.h"
#include "score_util.h"
#include "util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[64], kind[16];
    unsigned long long s, seed;
    size_t na, nb, zero, nid, nneg, dim, n;
    int ngroup, batch, queue, k;
    double tau;
    size_t *order;
    double *stat, *score;
    size_t nsnap, snap_batch[8], snap_len[8], *snap[8], final_len, *final;
} gcase;

/* Whitespace-separated numbers after the line's first word. */
static size_t *read_idx(char *rest, size_t n) {
    size_t *v = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++) v[i] = strtoull(rest, &rest, 10);
    return v;
}
static double *read_dbl(char *rest, size_t n) {
    double *v = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++) v[i] = strtod(rest, &rest);
    return v;
}

static void free_case(gcase *c) {
    free(c->order); free(c->stat); free(c->score); free(c->final);
    for (size_t i = 0; i < c->nsnap; i++) free(c->snap[i]);
    memset(c, 0, sizeof *c);
}

/* The case's stream: base rows matrix(s,0,na) then matrix(s,3,nb), the last
 * `zero` zeroed, taken in `order`. */
static float *stream_rows(const gcase *c) {
    size_t nbase = c->na + c->nb;
    float *a = golden_matrix(c->s, 0, c->na, c->dim), *b = golden_matrix(c->s, 3, c->nb, c->dim);
    float *base = malloc((nbase * c->dim + 1) * sizeof *base), *x = malloc((c->n * c->dim + 1) * sizeof *x);
    memcpy(base, a, c->na * c->dim * sizeof *base);
    memcpy(base + c->na * c->dim, b, c->nb * c->dim * sizeof *base);
    memset(base + (nbase - c->zero) * c->dim, 0, c->zero * c->dim * sizeof *base);
    for (size_t i = 0; i < c->n; i++) memcpy(x + i * c->dim, base + c->order[i] * c->dim, c->dim * sizeof *x);
    free(a); free(b); free(base);
    return x;
}

static double rel(double got, double want, double scale) {
    return fabs(got - want) / fmax(fmax(fabs(want), scale), 1e-300);
}

static int on_gpu;

/* On the GPU: the stream once more on the CPU; the cosines each score
 * subtracts agree to 1e-14 and the final queues are identical. */
static void same_as_cpu(const char *what, const float *img, size_t n, size_t dim, const double *stat,
                        nl_score_params p, const double *kth, const size_t *final, size_t final_len) {
    double *sc = malloc((n + 1) * sizeof *sc), *ck = malloc((n + 1) * sizeof *ck);
    size_t *cf = calloc((size_t)p.oodd_queue + 1, sizeof *cf);
    nli_oodd_trace ct = {.final_heap = cf, .kth = ck};
    p.device = NL_DEVICE_CPU;
    CHECK(nli_oodd_stream(img, n, dim, stat, &p, sc, &ct) == 0, "%s on the CPU: %s", what, nl_last_error());
    double err = 0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(kth[i] - ck[i]));
    CHECK(err <= 1e-14, "%s: the GPU's k-th cosines differ from the CPU's by %.3g", what, err);
    CHECK(ct.final_len == final_len && !memcmp(cf, final, final_len * sizeof *cf),
          "%s: the GPU's final queue differs from the CPU's", what);
    printf("%s: GPU vs CPU: k-th cosines within %.2g, queue of %zu identical\n", what, err, final_len);
    free(sc); free(ck); free(cf);
}

static void run_case(const gcase *c, int *evict_cases) {
    float *img = stream_rows(c), *id = golden_matrix(c->s, 1, c->nid, c->dim),
          *neg = golden_matrix(c->s, 2, c->nneg, c->dim);
    nl_score_params p = nl_score_default_params(NL_METHOD_OODD);
    CHECK(p.permutation == NL_PERM_TORCH && p.oodd_batch == 64 && p.oodd_queue == 2048 && p.oodd_k == 5 &&
              p.ngroup == 100 && p.tau == 0.01,
          "OODD's defaults are the reference's");
    p.ngroup = c->ngroup; p.seed = c->seed; p.tau = c->tau;
    if (on_gpu) p.device = NL_DEVICE_CUDA;
    p.oodd_batch = c->batch; p.oodd_queue = c->queue; p.oodd_k = c->k;
    size_t q = (size_t)c->queue;
    size_t *snap_heap = calloc(c->nsnap * q + 1, sizeof(size_t)), snap_len[8] = {0};
    size_t *final = calloc(q + 1, sizeof(size_t));
    double *got = malloc(c->n * sizeof *got), *kth = malloc(c->n * sizeof *kth), *again = malloc(c->n * sizeof *again);
    nli_oodd_trace tr = {.snap_after = c->snap_batch, .n_snap = c->nsnap, .snap_heap = snap_heap,
                         .snap_len = snap_len, .final_heap = final, .kth = kth};
    int is_static = !strcmp(c->kind, "static");
    p.n_threads = 1;
    int rc = is_static ? nli_oodd_stream(img, c->n, c->dim, c->stat, &p, got, &tr)
                       : nli_score_oodd_trace(img, c->n, id, c->nid, neg, c->nneg, c->dim, &p, got, NULL, NULL, &tr);
    CHECK(rc == 0, "case %s: %s", c->name, nl_last_error());
    /* the static score OODD subtracts from: NegLabel's with the same parameters */
    nl_score_params ps = p;
    ps.method = NL_METHOD_NEGLABEL;
    double *stat = malloc(c->n * sizeof *stat);
    CHECK(is_static || nl_score(img, c->n, id, c->nid, neg, c->nneg, c->dim, &ps, stat, NULL, NULL) == 0, "%s",
          nl_last_error());
    double es = 0, et = 0;
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        /* relative to the operands' size: a score is a difference of two O(1) numbers */
        es = fmax(es, rel(got[i], c->score[i], fabs(c->stat[i]) + fabs(kth[i])));
        if (!is_static) et = fmax(et, rel(stat[i], c->stat[i], 0));
    }
    CHECK(es <= 1e-9, "case %s: OODD scores: max relative error %.3g vs the reference", c->name, es);
    CHECK(et <= 1e-9, "case %s: static scores: max relative error %.3g vs the reference", c->name, et);
    for (size_t t = 0; t < c->nsnap; t++) {
        CHECK(snap_len[t] == c->snap_len[t] &&
                  !memcmp(snap_heap + t * q, c->snap[t], c->snap_len[t] * sizeof(size_t)),
              "case %s: the queue after batch %zu (%zu items, want %zu) differs from the reference's heap", c->name,
              c->snap_batch[t], snap_len[t], c->snap_len[t]);
    }
    CHECK(tr.final_len == c->final_len && !memcmp(final, c->final, c->final_len * sizeof(size_t)),
          "case %s: the final queue (%zu items, want %zu) differs from the reference's heap", c->name, tr.final_len,
          c->final_len);
    CHECK((tr.n_short > 0) == !strcmp(c->name, "short_k"),
          "case %s: %zu images scored with fewer than k queued", c->name, tr.n_short);
    if (c->final_len == q && c->n > q) (*evict_cases)++;
    /* the static scores the stream ran on (NegLabel's, on the GPU when it is) */
    if (on_gpu) same_as_cpu(c->name, img, c->n, c->dim, is_static ? c->stat : stat, p, kth, final, tr.final_len);
    free(stat);

    /* two threads: the same bits; the public entry point: the same bits */
    p.n_threads = 2;
    rc = is_static ? nli_oodd_stream(img, c->n, c->dim, c->stat, &p, again, NULL)
                   : nl_score(img, c->n, id, c->nid, neg, c->nneg, c->dim, &p, again, NULL, NULL);
    CHECK(rc == 0 && !memcmp(got, again, c->n * sizeof *got), "case %s: 2 threads (nl_score) != 1 thread (traced)",
          c->name);
    if (!strcmp(c->kind, "ref")) { /* the reference's order: np.random.seed(110); np.random.permutation(N) */
        size_t *perm = malloc((c->n + 1) * sizeof *perm);
        CHECK(nli_permutation(NL_PERM_NUMPY, 110, c->n, perm) == 0 && !memcmp(perm, c->order, c->n * sizeof *perm),
              "case %s: nli_permutation(numpy, 110) is the reference's stream order", c->name);
        free(perm);
    }
    free(img); free(id); free(neg); free(snap_heap); free(final); free(got); free(kth); free(again);
}

static void bad_params(void) {
    float x[6] = {1, 0, 0, 1, 1, 1};
    double sc[2];
    struct { int batch, queue, k; const char *msg; } bad[] = {
        {0, 2048, 5, "oodd batch must be at least 1 (got 0)"},
        {-3, 2048, 5, "oodd batch must be at least 1 (got -3)"},
        {64, 0, 1, "oodd queue must be at least 1 (got 0)"},
        {64, 2048, 0, "oodd k must be in [1, 2048]"},
        {64, 4, 5, "oodd k must be in [1, 4] (the queue size), got 5"},
    };
    for (size_t t = 0; t < sizeof bad / sizeof *bad; t++) {
        nl_score_params p = nl_score_default_params(NL_METHOD_OODD);
        p.ngroup = 1;
        if (on_gpu) p.device = NL_DEVICE_CUDA;
        p.oodd_batch = bad[t].batch; p.oodd_queue = bad[t].queue; p.oodd_k = bad[t].k;
        CHECK(nl_score(x, 2, x, 1, x + 2, 2, 2, &p, sc, NULL, NULL) != 0 && strstr(nl_last_error(), bad[t].msg),
              "refused with '%s' (got '%s')", bad[t].msg, nl_last_error());
    }
    /* NegLabel's own checks apply to OODD's static score */
    nl_score_params p = nl_score_default_params(NL_METHOD_OODD);
    if (on_gpu) p.device = NL_DEVICE_CUDA; /* the one-image edge and the NaN row there too */
    CHECK(nl_score(x, 2, x, 1, x + 2, 2, 2, &p, sc, NULL, NULL) != 0 && strstr(nl_last_error(), "ngroup 100"),
          "ngroup above the negatives refused (got '%s')", nl_last_error());
    CHECK(nl_score(x, 2, x, 1, NULL, 0, 2, &p, sc, NULL, NULL) != 0 && strstr(nl_last_error(), "oodd needs negative"),
          "no negatives refused (got '%s')", nl_last_error());
    /* one image, k 5: the queue holds only it; its cosine to itself is the one subtracted */
    p.ngroup = 1;
    double st;
    nl_score_params nq = p;
    nq.method = NL_METHOD_NEGLABEL;
    CHECK(nl_score(x + 4, 1, x, 1, x + 2, 2, 2, &p, sc, NULL, NULL) == 0 &&
              nl_score(x + 4, 1, x, 1, x + 2, 2, 2, &nq, &st, NULL, NULL) == 0 && fabs(sc[0] - (st - 1.0)) < 1e-15,
          "a lone image scores static - 1 (got %.17g, static %.17g)", sc[0], st);
    /* a NaN row: no hang, no crash (the selection cannot run off its range) */
    float nan_img[4] = {NAN, 0, 1, 0};
    p.oodd_k = 1;
    CHECK(nl_score(nan_img, 2, x, 1, x + 2, 2, 2, &p, sc, NULL, NULL) == 0, "a NaN image is scored without hanging");
    /* a NaN image first, batches of 1: nothing is queued for its batch.
     * It scores NaN and the next image as alone; before, the GPU refused
     * the batch ("bad batch ... k 0") and the CPU selected from an
     * uninitialised buffer */
    p.oodd_batch = 1;
    float two[4] = {NAN, 0, x[4], x[5]};
    int rc = nl_score(two, 2, x, 1, x + 2, 2, 2, &p, sc, NULL, NULL);
    double st2;
    CHECK(rc == 0 && isnan(sc[0]) && nl_score(two + 2, 1, x, 1, x + 2, 2, 2, &nq, &st2, NULL, NULL) == 0 &&
              fabs(sc[1] - (st2 - 1.0)) < 1e-15,
          "a NaN first image in a batch of its own: rc %d (%s), scores %g %.17g (static %.17g)", rc,
          rc ? nl_last_error() : "", sc[0], sc[1], st2);
}

static int cmp_nan_last(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

/* A NaN row in the queue (CPU): its cosines count as the largest, as
 * torch.kthvalue's selection orders NaN, so the other images subtract
 * their k-th largest among the rest (the (k-1)-th finite one). Before,
 * the quickselect put NaN wherever its pivots fell: some images got NaN
 * scores, others a finite k-th. */
static void nan_row(void) {
    const size_t n = 64, dim = 8, bad = 10;
    float *img = malloc(n * dim * sizeof *img);
    double *stat = malloc(n * sizeof *stat), *sc = malloc(n * sizeof *sc), *kth = malloc(n * sizeof *kth);
    double *u = malloc(n * dim * sizeof *u), *col = malloc(n * sizeof *col);
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n * dim; i++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        img[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
    }
    img[bad * dim + 3] = NAN;
    for (size_t i = 0; i < n; i++) {
        stat[i] = (double)i / 64;
        nli_unit_row(img + i * dim, dim, u + i * dim);
    }
    for (int k = 2; k <= 3; k++) {
        nl_score_params p = nl_score_default_params(NL_METHOD_OODD);
        p.device = NL_DEVICE_CPU;
        p.oodd_batch = 64; p.oodd_queue = 100; p.oodd_k = k;
        nli_oodd_trace tr = {.kth = kth};
        CHECK(nli_oodd_stream(img, n, dim, stat, &p, sc, &tr) == 0, "%s", nl_last_error());
        size_t wrong = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == bad) continue;
            for (size_t q = 0; q < n; q++) {
                double c = 0;
                for (size_t d = 0; d < dim; d++) c += u[j * dim + d] * u[q * dim + d];
                col[q] = c;
            }
            qsort(col, n, sizeof *col, cmp_nan_last);
            if (!(fabs(kth[j] - col[n - (size_t)k]) < 1e-12) || !isfinite(sc[j])) {
                if (!wrong) printf("NaN row, k %d, image %zu: k-th %.17g, want %.17g\n", k, j, kth[j], col[n - (size_t)k]);
                wrong++;
            }
        }
        CHECK(wrong == 0, "NaN row, k %d: %zu images with another k-th cosine than NaN-as-largest gives", k, wrong);
    }
    free(img); free(stat); free(sc); free(kth); free(u); free(col);
}

/* GPU only: larger streams than the goldens', against the CPU: 3,000 rows
 * of dim 48 around one direction (cosines up to ~0.9), every 7th a copy of
 * an earlier one and the static scores on a grid of 1/64 (ties in both);
 * a queue of 500 in batches of 64 with k 5, a queue of 40 (smaller than
 * the batch of 100: slots reused within a batch) with k 1 and k 40. */
static void big_streams(void) {
    const size_t n = 3000, dim = 48;
    float *img = malloc(n * dim * sizeof *img);
    double *stat = malloc(n * sizeof *stat), *got = malloc(n * sizeof *got), *kth = malloc(n * sizeof *kth);
    uint64_t r = 0x2545f4914f6cdd1dULL;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < dim; k++) {
            r ^= r << 13; r ^= r >> 7; r ^= r << 17;
            img[i * dim + k] = i % 7 == 6 ? img[(i / 3) * dim + k]
                                          : (float)(1.0 + 1.5 * ((double)(r >> 11) / 9007199254740992.0 - 0.5));
        }
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        stat[i] = floor((double)(r >> 11) / 9007199254740992.0 * 64.0) / 64.0;
    }
    struct { int queue, batch, k; const char *what; } runs[] = {
        {500, 64, 5, "big stream, queue 500, k 5"},
        {40, 100, 1, "big stream, queue 40 < batch 100, k 1"},
        {40, 100, 40, "big stream, queue 40 < batch 100, k 40"},
    };
    for (size_t t = 0; t < sizeof runs / sizeof *runs; t++) {
        nl_score_params p = nl_score_default_params(NL_METHOD_OODD);
        p.device = NL_DEVICE_CUDA;
        p.oodd_queue = runs[t].queue; p.oodd_batch = runs[t].batch; p.oodd_k = runs[t].k;
        size_t *final = calloc((size_t)p.oodd_queue + 1, sizeof *final);
        nli_oodd_trace tr = {.final_heap = final, .kth = kth};
        CHECK(nli_oodd_stream(img, n, dim, stat, &p, got, &tr) == 0, "%s on the GPU: %s", runs[t].what,
              nl_last_error());
        size_t off = 0;
        for (size_t i = 0; i < n; i++) off += got[i] != stat[i] - kth[i] || !(kth[i] > 0.2 && kth[i] <= 1.0 + 1e-12);
        CHECK(off == 0, "%s: %zu scores are not static - a cosine in (0.2, 1]", runs[t].what, off);
        same_as_cpu(runs[t].what, img, n, dim, stat, p, kth, final, tr.final_len);
        free(final);
    }
    free(img); free(stat); free(got); free(kth);
}

int main(void) {
    const char *dev = getenv("NEGLABEL_DEVICE");
    on_gpu = dev && !strncmp(dev, "cuda", 4);
    if (on_gpu && nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    const char *src = getenv("NEGLABEL_SRC");
    char *path = check_path(src && *src ? src : ".", "tests/data/oodd_golden.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (set NEGLABEL_SRC to the repository)", path);
    char *line = NULL;
    size_t cap = 0;
    gcase c = {0};
    int cases = 0, evict_cases = 0, have = 0;
    while (f && getline(&line, &cap, f) > 0) {
        char *rest = strchr(line, ' ');
        if (line[0] == '#' || !rest) continue;
        if (!strncmp(line, "case ", 5)) {
            if (have) { run_case(&c, &evict_cases); cases++; free_case(&c); }
            have = sscanf(line, "case %63s %llu %zu %zu %zu %zu %zu %zu %d %llu %lf %d %d %d %15s %zu", c.name, &c.s,
                          &c.na, &c.nb, &c.zero, &c.nid, &c.nneg, &c.dim, &c.ngroup, &c.seed, &c.tau, &c.batch,
                          &c.queue, &c.k, c.kind, &c.n) == 16;
            CHECK(have, "bad case line: %s", line);
        } else if (have && !strncmp(line, "order ", 6)) {
            c.order = read_idx(rest, c.n);
        } else if (have && !strncmp(line, "stat ", 5)) {
            c.stat = read_dbl(rest, c.n);
        } else if (have && !strncmp(line, "score ", 6)) {
            c.score = read_dbl(rest, c.n);
        } else if (have && !strncmp(line, "snap ", 5) && c.nsnap < 8) {
            size_t t = c.nsnap++;
            c.snap_batch[t] = strtoull(rest, &rest, 10);
            c.snap_len[t] = strtoull(rest, &rest, 10);
            c.snap[t] = read_idx(rest, c.snap_len[t]);
        } else if (have && !strncmp(line, "final ", 6)) {
            c.final_len = strtoull(rest, &rest, 10);
            c.final = read_idx(rest, c.final_len);
        }
    }
    if (have) { run_case(&c, &evict_cases); cases++; free_case(&c); }
    if (f) fclose(f);
    free(line);
    CHECK(cases == 12, "%d golden cases (expected 12)", cases);
    CHECK(evict_cases >= 8, "%d cases fill the queue and evict (expected >= 8)", evict_cases);
    bad_params();
    nan_row();
    if (on_gpu) big_streams();
    free(path);
    return check_done();
}
