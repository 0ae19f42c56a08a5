/* test_gpu_score.c — NegLabel / MCM scoring and NegMining on a GPU
 * (method/cuda/score.cu) against the CPU path on the same inputs: scores equal
 * to 1e-9 relative, the same top labels (up to exact ties), quantiles equal
 * to 1e-12 relative and the same selections; every kernel path (warp and
 * block groups, staged and global negative rows, many chunks, the host
 * fallback of the quantiles); a bad device index; and the timings of
 * 100,000 images x (1,000 + 10,000) labels and of mining 70,000 x 1,000.
 * Exits 77 (skipped) where no CUDA device is usable. */
#include "check.h"
#include "neglabel.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>

/* Image and candidate counts: the full ones on a GPU; on the CPU emulator of
 * tests/cuda_emu (NEGLABEL_GPU_EMU=1, set by a NEGLABEL_CUDA=EMU build) a
 * tenth or less, so that CI runs every kernel path in minutes. The label
 * counts and dimensions, which decide the kernel paths (staged rows,
 * warp/block groups, chunking, the quantile sort), stay the same. */
static size_t scaled(size_t full, size_t emu) {
    const char *e = getenv("NEGLABEL_GPU_EMU");
    return e && *e == '1' ? emu : full;
}

static uint64_t rs = 0x853c49e6748fea9bULL;
static double urand(void) { /* xorshift64, [0, 1) */
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

/* n rows clustered around one direction, as CLIP embeddings are (cosines
 * ~0.6, so quantiles and scores are far from 0); unit length or scaled by a
 * random factor in [0.2, 5). */
static float *make_rows(size_t n, size_t dim, int unit) {
    float *x = malloc(n * dim * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double ss = 0, scale = unit ? 1 : 0.2 + 4.8 * urand();
        float *r = x + i * dim;
        for (size_t k = 0; k < dim; k++) {
            double mu = (k % 2 ? 1.0 : -1.0) / sqrt((double)dim);
            r[k] = (float)(mu + 1.6 * (urand() - 0.5) / sqrt((double)dim) * sqrt(3.0));
            ss += (double)r[k] * r[k];
        }
        for (size_t k = 0; k < dim; k++) r[k] = (float)(r[k] / sqrt(ss) * scale);
    }
    return x;
}

static double cosine(const float *a, const float *b, size_t dim) {
    double s = 0, na = 0, nb = 0;
    for (size_t k = 0; k < dim; k++) {
        s += (double)a[k] * b[k];
        na += (double)a[k] * a[k];
        nb += (double)b[k] * b[k];
    }
    return na > 0 && nb > 0 ? s / sqrt(na * nb) : 0.0;
}

/* |a - b| relative to the larger; below the normal range (tiny scores at
 * tau 1e-4, where exp may round to a subnormal or 0 either way) relative
 * to 1e-290. */
static double reldiff(double a, double b) {
    if (isnan(a) && isnan(b)) return 0; /* both NaN (a non-finite image); one NaN counts */
    double d = fabs(a - b), s = fmax(fmax(fabs(a), fabs(b)), 1e-290);
    return d == 0 ? 0 : d / s;
}

typedef struct {
    const float *img, *id, *neg;
    size_t ni, nid, nneg, dim;
} data;

typedef struct {
    double *sc;
    size_t *tid, *tneg;
} result;

static result run_score(const data *d, nl_score_params p, nl_device dev, int index, double *seconds) {
    result r = {malloc((d->ni + 1) * sizeof(double)), malloc((d->ni + 1) * sizeof(size_t)),
                malloc((d->ni + 1) * sizeof(size_t))};
    p.device = dev;
    p.device_index = index;
    double t0 = nli_now();
    int rc = nl_score(d->img, d->ni, d->id, d->nid, d->neg, d->nneg, d->dim, &p, r.sc, r.tid, r.tneg);
    if (seconds) *seconds = nli_now() - t0;
    CHECK(rc == 0, "nl_score on %s: %s", dev == NL_DEVICE_CPU ? "cpu" : "cuda", nl_last_error());
    if (rc != 0) {
        free(r.sc); free(r.tid); free(r.tneg);
        r = (result){NULL, NULL, NULL};
    }
    return r;
}

static void free_result(result *r) { free(r->sc); free(r->tid); free(r->tneg); }

/* GPU result g against CPU result c: scores to 1e-9 relative; top labels
 * equal, or their cosines equal within 1e-12. */
static void compare(const char *what, const data *d, const result *c, const result *g) {
    if (!c->sc || !g->sc) return;
    double worst = 0;
    size_t bad_id = 0, bad_neg = 0, ties = 0;
    for (size_t i = 0; i < d->ni; i++) {
        double e = reldiff(c->sc[i], g->sc[i]);
        if (!(e <= worst)) worst = e; /* NaN counts */
        const float *x = d->img + i * d->dim;
        if (c->tid[i] != g->tid[i]) {
            if (g->tid[i] < d->nid &&
                fabs(cosine(x, d->id + c->tid[i] * d->dim, d->dim) - cosine(x, d->id + g->tid[i] * d->dim, d->dim)) <= 1e-12)
                ties++;
            else
                bad_id++;
        }
        if (c->tneg[i] != g->tneg[i]) {
            if (d->nneg && g->tneg[i] < d->nneg &&
                fabs(cosine(x, d->neg + c->tneg[i] * d->dim, d->dim) - cosine(x, d->neg + g->tneg[i] * d->dim, d->dim)) <= 1e-12)
                ties++;
            else
                bad_neg++;
        }
    }
    CHECK(worst <= 1e-9, "%s: scores differ by %.3g relative", what, worst);
    CHECK(bad_id == 0, "%s: %zu images with another top ID label", what, bad_id);
    CHECK(bad_neg == 0, "%s: %zu images with another top negative label", what, bad_neg);
    printf("%s: %zu images, max relative difference %.3g, %zu tied top labels\n", what, d->ni, worst, ties);
}

/* CPU once, then the GPU with the default chunks and (small) with tiny ones. */
static void score_case(const char *what, const data *d, nl_score_params p, int small_chunks) {
    result c = run_score(d, p, NL_DEVICE_CPU, 0, NULL);
    double t = 0;
    result g = run_score(d, p, NL_DEVICE_CUDA, 0, &t);
    char name[256];
    snprintf(name, sizeof name, "%s (GPU %.3f s)", what, t);
    compare(name, d, &c, &g);
    free_result(&g);
    if (small_chunks) {
        setenv("NEGLABEL_CUDA_CHUNK_BYTES", "3000000", 1);
        g = run_score(d, p, NL_DEVICE_CUDA, 0, NULL);
        unsetenv("NEGLABEL_CUDA_CHUNK_BYTES");
        snprintf(name, sizeof name, "%s, 3 MB chunks", what);
        compare(name, d, &c, &g);
        free_result(&g);
    }
    free_result(&c);
}

static nl_score_params neglabel(int ngroup, double tau, int shuffle) {
    nl_score_params p = nl_score_default_params(NL_METHOD_NEGLABEL);
    p.ngroup = ngroup;
    p.tau = tau;
    p.shuffle = shuffle;
    p.seed = 7;
    return p;
}

/* run_score on another host thread (which starts on device 0). */
typedef struct {
    const data *d;
    nl_score_params p;
    int index;
    result r;
} other_dev;

static void *score_other_thread(void *arg) {
    other_dev *o = arg;
    o->r = run_score(o->d, o->p, NL_DEVICE_CUDA, o->index, NULL);
    return NULL;
}

/* Mining on the CPU and the GPU: quantiles to 1e-12 relative, same selection. */
static void mine_case(const char *what, const float *id, size_t nid, const float *cand, size_t nc,
                      const uint8_t *pos, size_t dim, nl_mine_params p) {
    double *qc = malloc(nc * sizeof *qc), *qg = malloc(nc * sizeof *qg);
    size_t *sc = NULL, *sg = NULL, nsc = 0, nsg = 0;
    p.device = NL_DEVICE_CPU;
    int okc = nl_mine(id, nid, cand, nc, pos, dim, &p, &sc, &nsc, qc) == 0;
    CHECK(okc, "%s: CPU: %s", what, nl_last_error());
    p.device = NL_DEVICE_CUDA;
    p.device_index = 0;
    double t0 = nli_now();
    int okg = nl_mine(id, nid, cand, nc, pos, dim, &p, &sg, &nsg, qg) == 0;
    double t = nli_now() - t0;
    CHECK(okg, "%s: GPU: %s", what, nl_last_error());
    if (okc && okg) {
        double worst = 0;
        for (size_t i = 0; i < nc; i++) {
            double e = reldiff(qc[i], qg[i]);
            if (!(e <= worst)) worst = e;
        }
        CHECK(worst <= 1e-12, "%s: quantiles differ by %.3g relative", what, worst);
        CHECK(nsc == nsg && !memcmp(sc, sg, nsc * sizeof *sc), "%s: selections differ (%zu vs %zu)", what, nsc, nsg);
        printf("%s: %zu x %zu, max relative difference %.3g, %zu selected (GPU %.3f s)\n", what, nc, nid, worst,
               nsg, t);
    }
    free(sc); free(sg); free(qc); free(qg);
}

int main(void) {
    if (nl_cuda_device_count() == 0) {
        const char *why = nl_last_error();
        if (!strncmp(why, "no usable CUDA device", 21)) printf("SKIP: %s\n", why);
        else printf("SKIP: no usable CUDA device: %s\n", why);
        return 77;
    }
    char *info = nl_devices_info_json();
    printf("devices: %s\n", info ? info : nl_last_error());
    free(info);

    /* 1. the main case: 5,000 images x (1,000 ID + 10,000 negatives), dim 512 */
    {
        size_t ni = scaled(5000, 600), nid = 1000, nneg = 10000, dim = 512;
        float *img = make_rows(ni, dim, 0), *id = make_rows(nid, dim, 0), *neg = make_rows(nneg, dim, 0);
        data d = {img, id, neg, ni, nid, nneg, dim};
        score_case("NegLabel tau 0.01 ngroup 100", &d, neglabel(100, 0.01, 1), 1);
        nl_score_params p = nl_score_default_params(NL_METHOD_MCM);
        score_case("MCM tau 1", &d, p, 1);
        p.tau = 0.01;
        score_case("MCM tau 0.01", &d, p, 0);
        /* MCM without negatives: top_neg is SIZE_MAX */
        data d0 = {img, id, NULL, ni < 1000 ? ni : 1000, nid, 0, dim};
        result g = run_score(&d0, nl_score_default_params(NL_METHOD_MCM), NL_DEVICE_CUDA, 0, NULL);
        result c = run_score(&d0, nl_score_default_params(NL_METHOD_MCM), NL_DEVICE_CPU, 0, NULL);
        compare("MCM without negatives", &d0, &c, &g);
        size_t notmax = 0;
        for (size_t i = 0; g.tneg && i < d0.ni; i++) notmax += g.tneg[i] != SIZE_MAX;
        CHECK(notmax == 0, "MCM without negatives: %zu top negatives not SIZE_MAX", notmax);
        free_result(&g);
        free_result(&c);
        free(img); free(id); free(neg);
    }

    /* 2. group layouts: block per group (ngroup < 8), warp per group, gsize 1,
     * n_neg not a multiple of ngroup, no shuffle; AUTO is the GPU here */
    {
        size_t ni = 300, nid = 50, nneg = 1003, dim = 64;
        float *img = make_rows(ni, dim, 0), *id = make_rows(nid, dim, 0), *neg = make_rows(nneg, dim, 0);
        data d = {img, id, neg, ni, nid, nneg, dim};
        int groups[] = {1, 3, 7, 8, 9, 100, 1003};
        for (size_t k = 0; k < sizeof groups / sizeof *groups; k++) {
            char name[64];
            snprintf(name, sizeof name, "ngroup %d", groups[k]);
            score_case(name, &d, neglabel(groups[k], 0.01, 1), 0);
        }
        score_case("no shuffle, tau 0.05", &d, neglabel(10, 0.05, 0), 0);
        score_case("tau 1e-4", &d, neglabel(10, 1e-4, 1), 0);
        result a = run_score(&d, neglabel(100, 0.01, 1), NL_DEVICE_AUTO, 0, NULL);
        result g = run_score(&d, neglabel(100, 0.01, 1), NL_DEVICE_CUDA, 0, NULL);
        CHECK(a.sc && g.sc && !memcmp(a.sc, g.sc, ni * sizeof(double)), "AUTO differs from CUDA");
        free_result(&a);
        free_result(&g);
        free(img); free(id); free(neg);
    }

    /* 3. negative rows too large for shared memory (read from global memory) */
    {
        size_t ni = 200, nid = 20, nneg = 20011, dim = 32;
        float *img = make_rows(ni, dim, 0), *id = make_rows(nid, dim, 0), *neg = make_rows(nneg, dim, 0);
        data d = {img, id, neg, ni, nid, nneg, dim};
        score_case("20,011 negatives, ngroup 5", &d, neglabel(5, 0.01, 1), 0);
        score_case("20,011 negatives, ngroup 100", &d, neglabel(100, 0.01, 1), 1);
        free(img); free(id); free(neg);
    }

    /* 4. odd shapes: one image; unnormalised rows with a zero ID row and a
     * zero negative row; ngroup 1; n_neg not a multiple of ngroup; a zero
     * image among 37 */
    {
        size_t ni = 37, nid = 7, nneg = 103, dim = 40;
        float *img = make_rows(ni, dim, 0), *id = make_rows(nid, dim, 0), *neg = make_rows(nneg, dim, 0);
        memset(id + 2 * dim, 0, dim * sizeof *id);
        memset(neg + 40 * dim, 0, dim * sizeof *neg);
        data one = {img, id, neg, 1, nid, nneg, dim};
        score_case("one image, ngroup 1", &one, neglabel(1, 0.01, 1), 0);
        score_case("one image, ngroup 10", &one, neglabel(10, 0.01, 1), 0);
        score_case("one image, MCM", &one, nl_score_default_params(NL_METHOD_MCM), 0);
        memset(img + 5 * dim, 0, dim * sizeof *img);
        data d = {img, id, neg, ni, nid, nneg, dim};
        score_case("zero image row, ngroup 10", &d, neglabel(10, 0.01, 1), 0);
        score_case("zero image row, MCM", &d, nl_score_default_params(NL_METHOD_MCM), 0);
        /* image rows that are not finite (a forward pass that overflowed):
         * NaN scores without top labels on both, the other rows as ever */
        img[9 * dim + 4] = INFINITY;
        img[20 * dim] = NAN;
        score_case("non-finite image rows, ngroup 10", &d, neglabel(10, 0.01, 1), 0);
        score_case("non-finite image rows, MCM", &d, nl_score_default_params(NL_METHOD_MCM), 0);
        nl_score_params po = nl_score_default_params(NL_METHOD_OODD);
        po.ngroup = 10, po.oodd_batch = 8, po.oodd_queue = 12, po.oodd_k = 3;
        score_case("non-finite image rows, OODD", &d, po, 0);
        result g = run_score(&d, neglabel(10, 0.01, 1), NL_DEVICE_CUDA, 0, NULL);
        size_t nan_rows = 0, unlabelled = 0;
        for (size_t i = 0; g.sc && i < ni; i++) {
            nan_rows += isnan(g.sc[i]) && g.tid[i] == SIZE_MAX && g.tneg[i] == SIZE_MAX;
            unlabelled += !isnan(g.sc[i]) && (g.tid[i] >= nid || g.tneg[i] >= nneg);
        }
        CHECK(nan_rows == 2 && unlabelled == 0, "non-finite image rows on the GPU: %zu NaN rows without labels (2), "
              "%zu finite rows without", nan_rows, unlabelled);
        free_result(&g);
        free(img); free(id); free(neg);
    }

    /* 5. mining: 20,000 candidates x 1,000 ID labels, dim 512 */
    {
        size_t nc = scaled(20000, 2000), nid = 1000, dim = 512;
        float *id = make_rows(nid, dim, 1), *cand = make_rows(nc, dim, 1);
        uint8_t *pos = malloc(nc);
        for (size_t i = 0; i < nc; i++) pos[i] = urand() < 0.2;
        nl_mine_params p = nl_mine_default_params();
        CHECK(p.device == NL_DEVICE_CPU && p.device_index == 0, "mining defaults");
        mine_case("mining, fraction 0.15", id, nid, cand, nc, pos, dim, p);
        p.total = scaled(3001, 301);
        mine_case(p.total == 3001 ? "mining, total 3001" : "mining, total 301", id, nid, cand, nc, pos, dim, p);
        setenv("NEGLABEL_CUDA_CHUNK_BYTES", "5000000", 1);
        mine_case("mining, 5 MB chunks", id, nid, cand, nc, pos, dim, p);
        unsetenv("NEGLABEL_CUDA_CHUNK_BYTES");
        free(id); free(cand); free(pos);
    }

    /* 6. quantile edge cases: n_id 1..3, powers of two, the largest sorted
     * on the GPU (8192) and the host fallback above it */
    {
        size_t nids[] = {1, 2, 3, 5, 1000, 1024, 8192, 8193, 9000}, nc = 257, dim = 32;
        double qs[] = {0, 0.5, 0.95, 1};
        float *cand = make_rows(nc, dim, 1);
        uint8_t *pos = malloc(nc);
        for (size_t i = 0; i < nc; i++) pos[i] = i % 3 == 0;
        for (size_t a = 0; a < sizeof nids / sizeof *nids; a++) {
            float *id = make_rows(nids[a], dim, 1);
            for (size_t b = 0; b < sizeof qs / sizeof *qs; b++) {
                nl_mine_params p = nl_mine_default_params();
                p.quantile = qs[b];
                char name[64];
                snprintf(name, sizeof name, "quantile %g of %zu", qs[b], nids[a]);
                mine_case(name, id, nids[a], cand, nc, pos, dim, p);
            }
            free(id);
        }
        free(cand);
        free(pos);
    }

    /* 6b. two threads scoring at once on one GPU with different numbers of
     * negatives, both staged in shared memory: each call used to set the
     * kernel's limit to its own size, so the smaller one lowered it under
     * the larger one's next launch ("launching the scoring kernel: invalid
     * argument"; 4 runs of 4 failed on the emulator) */
    {
        size_t ni = 400, nid = 10, dim = 16;
        float *img = make_rows(ni, dim, 0), *id = make_rows(nid, dim, 0), *negA = make_rows(12000, dim, 0),
              *negB = make_rows(7000, dim, 0);
        data dA = {img, id, negA, ni, nid, 12000, dim}, dB = {img, id, negB, 40, nid, 7000, dim};
        nl_score_params sp = neglabel(10, 0.01, 1);
        setenv("NEGLABEL_CUDA_CHUNK_BYTES", "2000000", 1); /* many launches */
        result cA = run_score(&dA, sp, NL_DEVICE_CPU, 0, NULL);
        other_dev oa = {&dA, sp, 0, {0}};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, score_other_thread, &oa) == 0, "pthread_create");
        int fails = 0, runs = 0;
        for (; runs < 6; runs++) {
            result rb = run_score(&dB, sp, NL_DEVICE_CUDA, 0, NULL);
            fails += rb.sc == NULL;
            free_result(&rb);
        }
        pthread_join(t, NULL);
        unsetenv("NEGLABEL_CUDA_CHUNK_BYTES");
        CHECK(oa.r.sc != NULL && fails == 0, "scoring at once on one GPU: %s; %d of %d of the other's runs failed",
              oa.r.sc ? "ran" : "failed", fails, runs);
        if (oa.r.sc) compare("12,000 negatives while another thread scores 7,000", &dA, &cA, &oa.r);
        free_result(&oa.r);
        free_result(&cA);
        free(img), free(id), free(negA), free(negB);
    }

    /* 7. the last of several GPUs, from this thread (whose current device is
     * 0) and from another one (a new host thread starts on device 0): the
     * same scores and selections as on device 0. A machine with one GPU
     * cannot run this; the emulator runs these tests with two. */
    {
        int ndev = nl_cuda_device_count();
        if (ndev >= 2) {
            size_t ni = 500, nid = 100, nneg = 2000, dim = 64;
            float *img = make_rows(ni, dim, 0), *id = make_rows(nid, dim, 0), *neg = make_rows(nneg, dim, 0);
            data d = {img, id, neg, ni, nid, nneg, dim};
            nl_score_params sp = neglabel(10, 0.01, 1);
            result g0 = run_score(&d, sp, NL_DEVICE_CUDA, 0, NULL);
            result gl = run_score(&d, sp, NL_DEVICE_CUDA, ndev - 1, NULL);
            char what[64];
            snprintf(what, sizeof what, "scores on cuda:%d vs cuda:0", ndev - 1);
            compare(what, &d, &g0, &gl);
            other_dev od = {&d, sp, ndev - 1, {0}};
            pthread_t t;
            CHECK(pthread_create(&t, NULL, score_other_thread, &od) == 0, "pthread_create");
            pthread_join(t, NULL);
            snprintf(what, sizeof what, "scores on cuda:%d from another thread", ndev - 1);
            compare(what, &d, &g0, &od.r);
            free_result(&od.r);
            free_result(&g0);
            free_result(&gl);
            uint8_t *pos = malloc(nneg);
            for (size_t i = 0; i < nneg; i++) pos[i] = i % 4 == 0;
            nl_mine_params mp = nl_mine_default_params();
            mp.device = NL_DEVICE_CUDA;
            size_t *s0 = NULL, *sl = NULL, n0 = 0, nl = 0;
            double *q0 = malloc(nneg * sizeof *q0), *ql = malloc(nneg * sizeof *ql);
            int ok0 = nl_mine(id, nid, neg, nneg, pos, dim, &mp, &s0, &n0, q0) == 0;
            mp.device_index = ndev - 1;
            int okl = nl_mine(id, nid, neg, nneg, pos, dim, &mp, &sl, &nl, ql) == 0;
            CHECK(ok0 && okl, "mining on cuda:0 / cuda:%d: %s", ndev - 1, nl_last_error());
            CHECK(ok0 && okl && n0 == nl && !memcmp(s0, sl, n0 * sizeof *s0) && !memcmp(q0, ql, nneg * sizeof *q0),
                  "mining on cuda:%d differs from cuda:0", ndev - 1);
            printf("cuda:%d: scores and mining as on cuda:0 (%zu selected)\n", ndev - 1, nl);
            free(s0); free(sl); free(q0); free(ql); free(pos);
            free(img); free(id); free(neg);
        } else {
            CHECK(!getenv("NEGLABEL_GPU_EMU"), "the emulator runs these tests with 2 devices (NLEMU_DEVICES=2)");
            printf("one GPU: the checks on a second device need two (the emulator runs them)\n");
        }
    }

    /* 8. a device that does not exist */
    {
        float *x = make_rows(4, 8, 1);
        double sc[4];
        nl_score_params p = nl_score_default_params(NL_METHOD_NEGLABEL);
        p.ngroup = 2;
        p.device = NL_DEVICE_CUDA;
        p.device_index = 99;
        CHECK(nl_score(x, 4, x, 4, x, 4, 8, &p, sc, NULL, NULL) == -1 && strstr(nl_last_error(), "cuda:99"),
              "score on cuda:99: %s", nl_last_error());
        printf("score on cuda:99: %s\n", nl_last_error());
        nl_mine_params m = nl_mine_default_params();
        m.device = NL_DEVICE_CUDA;
        m.device_index = 99;
        m.fraction = 0.5; /* one of each part of speech: selecting none is refused before the device is used */
        uint8_t pos[4] = {0, 0, 1, 1};
        size_t *sel = NULL, ns = 0;
        CHECK(nl_mine(x, 4, x, 4, pos, 8, &m, &sel, &ns, NULL) == -1 && strstr(nl_last_error(), "cuda:99"),
              "mine on cuda:99: %s", nl_last_error());
        printf("mine on cuda:99: %s\n", nl_last_error());
        free(sel);
        free(x);
    }

    /* 9. timings: 100,000 images x (1,000 + 10,000) labels, dim 512, on the
     * GPU only (a first and a second run), checked against the CPU on the
     * first and the last 256 images (the last, partial chunk) */
    {
        size_t ni = scaled(100000, 3000), nid = 1000, nneg = 10000, dim = 512, part = 256;
        float *img = make_rows(ni, dim, 0), *id = make_rows(nid, dim, 0), *neg = make_rows(nneg, dim, 0);
        data d = {img, id, neg, ni, nid, nneg, dim};
        nl_score_params p = nl_score_default_params(NL_METHOD_NEGLABEL);
        double t1 = 0, t2 = 0;
        result g = run_score(&d, p, NL_DEVICE_CUDA, 0, &t1);
        free_result(&g);
        g = run_score(&d, p, NL_DEVICE_CUDA, 0, &t2);
        printf("bench: GPU NegLabel scoring %zu images x (%zu + %zu) labels, dim %zu: %.3f s (first run %.3f s)\n",
               ni, nid, nneg, dim, t2, t1);
        int fin = g.sc != NULL;
        for (size_t i = 0; fin && i < ni; i++) fin = isfinite(g.sc[i]) && g.sc[i] >= 0 && g.sc[i] <= 1;
        CHECK(fin, "bench: a score is not finite or outside [0, 1]");
        for (int end = 0; end < 2 && g.sc; end++) {
            size_t i0 = end ? ni - part : 0;
            data s = {img + i0 * dim, id, neg, part, nid, nneg, dim};
            result c = run_score(&s, p, NL_DEVICE_CPU, 0, NULL);
            result gs = {g.sc + i0, g.tid + i0, g.tneg + i0};
            compare(end ? "bench, last 256 images" : "bench, first 256 images", &s, &c, &gs);
            free_result(&c);
        }
        free_result(&g);
        p = nl_score_default_params(NL_METHOD_MCM);
        g = run_score(&d, p, NL_DEVICE_CUDA, 0, &t1);
        printf("bench: GPU MCM scoring %zu images x %zu labels (top negatives too): %.3f s\n", ni, nid, t1);
        free_result(&g);
        free(img); free(id); free(neg);

        size_t nc = scaled(70000, 3000);
        float *ci = make_rows(nc, dim, 1), *ii = make_rows(nid, dim, 1);
        uint8_t *pp = malloc(nc);
        for (size_t i = 0; i < nc; i++) pp[i] = i >= nc / 70000.0 * 56909;
        nl_mine_params m = nl_mine_default_params();
        m.device = NL_DEVICE_CUDA;
        size_t *sel = NULL, ns = 0;
        double t0 = nli_now();
        CHECK(nl_mine(ii, nid, ci, nc, pp, dim, &m, &sel, &ns, NULL) == 0, "%s", nl_last_error());
        printf("bench: GPU mining %zu candidates x %zu ID labels, dim %zu: %.3f s (%zu selected)\n", nc, nid, dim,
               nli_now() - t0, ns);
        free(sel); free(ci); free(ii); free(pp);
    }
    return check_done();
}
