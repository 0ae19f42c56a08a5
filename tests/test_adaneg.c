/* test_adaneg.c — AdaNeg against tests/data/adaneg_golden.txt, a numpy
 * re-implementation of the reference (TTAPromptPostprocessor_noadagap,
 * tests/gen/gen_adaneg.py) on the deterministic embeddings of
 * tests/golden_embed.h: scores to 1e-9 relative, the static argmaxes, and
 * the final memory identical (which stream image sits in which slot of
 * which label, the fill index, the counts of writes, replacements and
 * rejections; entropies to 1e-9). Also: nl_score gives the same scores,
 * 1 and 2 threads give the same bits, and bad parameters are refused with a
 * message naming the parameter.
 *
 * NEGLABEL_DEVICE=cuda (ctest's test_adaneg_gpu): every case runs on CUDA
 * device 0 (method/cuda/adaneg.cu) and must pass the same checks, and also
 * match the CPU path on the same case (scores to 1e-9 relative, the same
 * argmaxes, the same final memory); a larger random stream (1,000 ID and
 * 15,000 negative labels: the negative rows too large to stage in shared
 * memory; one batch of 300: two chunks) is compared with the CPU the
 * same way, task- and sample-adaptive. */
#include "adaneg.h"
#include "check.h"
#include "golden_embed.h"
#include "neglabel.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double rel(double got, double want) { return fabs(got - want) / fmax(fabs(want), 1e-12); }

static int on_gpu;

/* On the GPU: the same stream on the CPU, then scores to 1e-9 relative,
 * the same argmaxes and the same final memory (entropies to 1e-9). */
static void same_as_cpu(const char *what, const float *stream, size_t ni, const float *id, size_t nid,
                        const float *neg, size_t nneg, size_t dim, nl_score_params p, const double *got,
                        const size_t *tid, const size_t *tneg, const nli_adaneg_trace *tr) {
    double *c = malloc(ni * sizeof(double));
    size_t *cid = malloc(ni * sizeof(size_t)), *cneg = malloc(ni * sizeof(size_t));
    nli_adaneg_trace ct;
    p.device = NL_DEVICE_CPU;
    CHECK(nli_adaneg_run(stream, ni, id, nid, neg, nneg, dim, &p, c, cid, cneg, &ct) == 0, "%s on the CPU: %s", what,
          nl_last_error());
    double err = 0, eerr = 0;
    size_t tops = 0, slots = 0;
    for (size_t i = 0; i < ni; i++) {
        err = fmax(err, rel(got[i], c[i]));
        tops += tid[i] != cid[i] || tneg[i] != cneg[i];
    }
    for (size_t k = 0; ct.slot && tr->slot && k < ct.n_labels * ct.slots; k++) {
        slots += ct.slot[k] != tr->slot[k];
        eerr = fmax(eerr, fabs(ct.entropy[k] - tr->entropy[k]) / fmax(fabs(ct.entropy[k]), 1e-6));
    }
    for (size_t l = 0; ct.fill && tr->fill && l < ct.n_labels; l++) slots += ct.fill[l] != tr->fill[l];
    CHECK(err <= 1e-9, "%s: GPU scores differ from the CPU's by %.3g relative", what, err);
    CHECK(tops == 0, "%s: %zu images with another argmax on the GPU than on the CPU", what, tops);
    CHECK(slots == 0 && ct.cached_id == tr->cached_id && ct.cached_neg == tr->cached_neg &&
              ct.replaced == tr->replaced && ct.rejected == tr->rejected,
          "%s: the GPU's final memory differs from the CPU's (%zu slots or fill indices)", what, slots);
    CHECK(eerr <= 1e-9, "%s: GPU entropies differ from the CPU's by %.3g relative", what, eerr);
    printf("%s: GPU vs CPU: max relative score difference %.2g, entropies %.2g, %zu ID + %zu negative writes, "
           "%zu replaced\n", what, err, eerr, ct.cached_id, ct.cached_neg, ct.replaced);
    nli_adaneg_trace_free(&ct);
    free(c); free(cid); free(cneg);
}

/* One golden case; returns 0 at the end of the file. */
static int run_case(FILE *f, int *replaced_total) {
    char line[65536];
    unsigned long long s, seed;
    size_t ni, nid, nneg, dim, step;
    int ngroup, shuffle, batch, memory, samada;
    double tau, thres, gap, lam, beta;
    do {
        if (!fgets(line, sizeof line, f)) return 0;
    } while (line[0] == '#');
    if (sscanf(line, "case %llu %zu %zu %zu %zu %d %llu %d %lf %d %d %lf %lf %lf %d %lf %zu", &s, &ni, &nid, &nneg,
               &dim, &ngroup, &seed, &shuffle, &tau, &batch, &memory, &thres, &gap, &lam, &samada, &beta, &step) != 17) {
        CHECK(0, "bad case line: %s", line);
        return 0;
    }
    size_t want_c[4];
    if (!fgets(line, sizeof line, f) ||
        sscanf(line, "counts %zu %zu %zu %zu", &want_c[0], &want_c[1], &want_c[2], &want_c[3]) != 4) {
        CHECK(0, "case %llu: bad counts line", s);
        return 0;
    }
    float *img = golden_matrix(s, 0, ni, dim), *id = golden_matrix(s, 1, nid, dim), *neg = golden_matrix(s, 2, nneg, dim);
    float *stream = malloc(ni * dim * sizeof(float));
    for (size_t k = 0; k < ni; k++) memcpy(stream + k * dim, img + (k * step % ni) * dim, dim * sizeof(float));
    double *want = malloc(ni * sizeof(double)), *got = malloc(ni * sizeof(double)), *pub = malloc(ni * sizeof(double));
    double *one = malloc(ni * sizeof(double));
    size_t *wid = malloc(ni * sizeof(size_t)), *wneg = malloc(ni * sizeof(size_t));
    size_t *tid = malloc(ni * sizeof(size_t)), *tneg = malloc(ni * sizeof(size_t));
    for (size_t i = 0; i < ni; i++) {
        if (!fgets(line, sizeof line, f) || sscanf(line, "%lf %zu %zu", &want[i], &wid[i], &wneg[i]) != 3) {
            CHECK(0, "case %llu: short golden", s);
            return 0;
        }
    }
    nl_score_params p = nl_score_default_params(NL_METHOD_ADANEG);
    p.ngroup = ngroup;
    p.seed = seed;
    p.shuffle = shuffle;
    p.tau = tau;
    p.adaneg_batch = batch;
    p.adaneg_memory = memory;
    p.adaneg_thres = thres;
    p.adaneg_gap = gap;
    p.adaneg_lambda = lam;
    p.adaneg_sample_adaptive = samada;
    p.adaneg_beta = beta;
    p.n_threads = 2;
    if (on_gpu) p.device = NL_DEVICE_CUDA;
    nli_adaneg_trace tr;
    CHECK(nli_adaneg_run(stream, ni, id, nid, neg, nneg, dim, &p, got, tid, tneg, &tr) == 0, "case %llu: %s", s,
          nl_last_error());
    double err = 0;
    size_t tops = 0;
    for (size_t i = 0; i < ni; i++) {
        err = fmax(err, rel(got[i], want[i]));
        tops += tid[i] != wid[i] || tneg[i] != wneg[i];
    }
    CHECK(err <= 1e-9, "case %llu (samada %d, batch %d, memory %d): max relative error %.3g vs the reference", s,
          samada, batch, memory, err);
    CHECK(tops == 0, "case %llu: %zu images with another static argmax than the reference's", s, tops);
    size_t got_c[4] = {tr.cached_id, tr.cached_neg, tr.replaced, tr.rejected};
    CHECK(!memcmp(got_c, want_c, sizeof got_c),
          "case %llu: cached ID/negative, replaced, rejected %zu %zu %zu %zu (reference %zu %zu %zu %zu)", s, got_c[0],
          got_c[1], got_c[2], got_c[3], want_c[0], want_c[1], want_c[2], want_c[3]);
    *replaced_total += (int)tr.replaced;
    /* the memory: listed labels slot for slot, all others as reset */
    size_t n_listed = 0, S = (size_t)memory + 1, bad_slots = 0, bad_fill = 0;
    double eerr = 0;
    unsigned char *listed = calloc(nid + nneg, 1);
    if (!fgets(line, sizeof line, f) || sscanf(line, "labels %zu", &n_listed) != 1) {
        CHECK(0, "case %llu: bad labels line", s);
        return 0;
    }
    CHECK(tr.n_labels == nid + nneg && tr.slots == S, "case %llu: trace of %zu labels x %zu slots", s, tr.n_labels, tr.slots);
    for (size_t k = 0; k < n_listed && tr.slot; k++) {
        char *q = fgets(line, sizeof line, f), *e;
        size_t lab = q ? strtoull(q, &e, 10) : SIZE_MAX, fill = q ? strtoull(e, &e, 10) : 0;
        if (lab >= nid + nneg) { CHECK(0, "case %llu: bad label line", s); break; }
        listed[lab] = 1;
        bad_fill += tr.fill[lab] != fill;
        for (size_t j = 0; j < S; j++) {
            long long idx = strtoll(e, &e, 10);
            double h = strtod(e, &e);
            bad_slots += tr.slot[lab * S + j] != idx;
            eerr = fmax(eerr, fabs(tr.entropy[lab * S + j] - h) / fmax(fabs(h), 1e-6));
        }
    }
    for (size_t lab = 0; lab < nid + nneg && tr.slot; lab++) {
        if (listed[lab]) continue;
        bad_fill += tr.fill[lab] != 1;
        for (size_t j = 0; j < S; j++)
            bad_slots += tr.slot[lab * S + j] != (j ? NLI_ADANEG_EMPTY : NLI_ADANEG_TEXT) || tr.entropy[lab * S + j] != 0;
    }
    CHECK(bad_slots == 0 && bad_fill == 0, "case %llu: %zu slots and %zu fill indices differ from the reference's", s,
          bad_slots, bad_fill);
    CHECK(eerr <= 1e-9, "case %llu: entropies differ by %.3g relative", s, eerr);
    if (on_gpu) {
        char what[64];
        snprintf(what, sizeof what, "case %llu", s);
        same_as_cpu(what, stream, ni, id, nid, neg, nneg, dim, p, got, tid, tneg, &tr);
    }
    /* the public entry point; one thread gives the same bits */
    CHECK(nl_score(stream, ni, id, nid, neg, nneg, dim, &p, pub, NULL, NULL) == 0, "%s", nl_last_error());
    CHECK(!memcmp(pub, got, ni * sizeof(double)), "case %llu: nl_score gives other scores than the traced run", s);
    if (!on_gpu) { /* (the GPU path has no threads) */
        p.n_threads = 1;
        CHECK(nl_score(stream, ni, id, nid, neg, nneg, dim, &p, one, NULL, NULL) == 0, "%s", nl_last_error());
        CHECK(!memcmp(one, got, ni * sizeof(double)), "case %llu: 1 thread gives other bits than 2", s);
    }
    nli_adaneg_trace_free(&tr);
    free(listed); free(img); free(id); free(neg); free(stream); free(want); free(got); free(pub); free(one);
    free(wid); free(wneg); free(tid); free(tneg);
    return 1;
}

static void refused(nl_score_params p, const char *word, const char *what) {
    float x[8] = {1, 0, 0, 1, 1, 1, 0.5f, -1};
    double sc[2];
    int rc = nl_score(x, 2, x + 2, 1, x + 4, 2, 2, &p, sc, NULL, NULL);
    CHECK(rc != 0 && strstr(nl_last_error(), word), "%s refused naming '%s' (rc %d, '%s')", what, word, rc,
          rc ? nl_last_error() : "");
}

/* GPU only: a larger random stream, CLIP-like (rows around one direction,
 * images near an ID label or a negative), against the CPU. */
static void big_stream(int samada) {
    const size_t ni = 300, nid = 1000, nneg = 15000, dim = 32;
    uint64_t r = 0x9e3779b97f4a7c15ULL + (uint64_t)samada;
    float *id = malloc(nid * dim * sizeof(float)), *neg = malloc(nneg * dim * sizeof(float));
    float *img = malloc(ni * dim * sizeof(float));
    for (size_t k = 0; k < (nid + nneg + ni) * dim; k++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        double u = (double)(r >> 11) / 9007199254740992.0 - 0.5, mu = (k % 2 ? 1.0 : -1.0) / sqrt((double)dim);
        float v = (float)(mu + 2.0 * u / sqrt((double)dim));
        if (k < nid * dim) id[k] = v;
        else if (k < (nid + nneg) * dim) neg[k - nid * dim] = v;
        else img[k - (nid + nneg) * dim] = v;
    }
    for (size_t i = 0; i < ni; i++) { /* two thirds near one of 23 ID labels, the rest near one of 11 negatives */
        const float *t = i % 3 ? id + (i * 7 % 23) * dim : neg + (i * 31 % 11) * dim;
        for (size_t k = 0; k < dim; k++) img[i * dim + k] = 0.3f * img[i * dim + k] + t[k];
    }
    nl_score_params p = nl_score_default_params(NL_METHOD_ADANEG);
    p.device = NL_DEVICE_CUDA;
    p.adaneg_batch = 300;
    p.adaneg_memory = 4;
    p.adaneg_sample_adaptive = samada;
    double *got = malloc(ni * sizeof(double));
    size_t *tid = malloc(ni * sizeof(size_t)), *tneg = malloc(ni * sizeof(size_t));
    nli_adaneg_trace tr;
    CHECK(nli_adaneg_run(img, ni, id, nid, neg, nneg, dim, &p, got, tid, tneg, &tr) == 0, "big stream on the GPU: %s",
          nl_last_error());
    CHECK(tr.cached_id > 50 && tr.cached_neg > 20 && tr.replaced > 20,
          "the big stream writes both kinds of memory and replaces (%zu, %zu, %zu)", tr.cached_id, tr.cached_neg,
          tr.replaced);
    same_as_cpu(samada ? "big stream, sample-adaptive" : "big stream, task-adaptive", img, ni, id, nid, neg, nneg, dim,
                p, got, tid, tneg, &tr);
    nli_adaneg_trace_free(&tr);
    free(id); free(neg); free(img); free(got); free(tid); free(tneg);
}

int main(void) {
    const char *dev = getenv("NEGLABEL_DEVICE");
    on_gpu = dev && !strncmp(dev, "cuda", 4);
    if (on_gpu && nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    const char *src = getenv("NEGLABEL_SRC");
    char *path = check_path(src && *src ? src : ".", "tests/data/adaneg_golden.txt");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (set NEGLABEL_SRC to the repository)", path);
    int cases = 0, replaced = 0;
    while (f && run_case(f, &replaced)) cases++;
    if (f) fclose(f);
    CHECK(cases == 10, "%d golden cases (expected 10)", cases);
    CHECK(replaced > 100, "the goldens replace slots (%d replacements)", replaced);
    if (on_gpu) {
        big_stream(0);
        big_stream(1);
    }

    nl_score_params d = nl_score_default_params(NL_METHOD_ADANEG), p;
    CHECK(d.ngroup == 5 && d.permutation == NL_PERM_TORCH && d.tau == 0.01 && d.adaneg_batch == 256 &&
              d.adaneg_memory == 10 && d.adaneg_thres == 0.5 && d.adaneg_gap == 0.5 && d.adaneg_lambda == 0.1 &&
              !d.adaneg_sample_adaptive && d.adaneg_beta == 5.5,
          "defaults are the reference script's");
    d.ngroup = 1;
    if (on_gpu) d.device = NL_DEVICE_CUDA; /* the refusals and the one-image edge there too */
    p = d; p.adaneg_batch = 0; refused(p, "batch", "batch 0");
    p = d; p.adaneg_memory = 0; refused(p, "memory", "memory 0");
    p = d; p.adaneg_memory = 10001; refused(p, "memory", "memory 10001");
    p = d; p.adaneg_thres = -0.1; refused(p, "thres", "thres -0.1");
    p = d; p.adaneg_thres = 1.5; refused(p, "thres", "thres 1.5");
    p = d; p.adaneg_thres = NAN; refused(p, "thres", "thres NaN");
    p = d; p.adaneg_gap = 2; refused(p, "gap", "gap 2");
    p = d; p.adaneg_gap = -1; refused(p, "gap", "gap -1");
    p = d; p.adaneg_lambda = INFINITY; refused(p, "lambda", "lambda inf");
    p = d; p.adaneg_beta = -1; refused(p, "beta", "beta -1");
    p = d; p.adaneg_beta = NAN; refused(p, "beta", "beta NaN");
    p = d; p.ngroup = 3; refused(p, "ngroup", "more groups than negatives");
    p = d; p.tau = 0; refused(p, "tau", "tau 0");
    /* the valid edge: a one-image stream with memory 1 scores */
    float x[6] = {1, 0, 0, 1, 1, 1};
    double sc = NAN;
    p = d; p.adaneg_memory = 1; p.adaneg_batch = 1;
    CHECK(nl_score(x, 1, x + 2, 1, x + 4, 1, 2, &p, &sc, NULL, NULL) == 0 && isfinite(sc), "one image, memory 1: %s",
          nl_last_error());
    free(path);
    return check_done();
}
