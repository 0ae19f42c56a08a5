/* bench_gpu_methods.c — `bench_gpu minescore` (see bench_gpu.c's usage):
 * NegMining and NegLabel scoring on the GPU against the CPU, then AdaNeg and
 * OODD on one stream each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "util.h"
#include "bench_gpu.h"

/* One stream method (AdaNeg or OODD, p) over n CLIP-like images (an eval's
 * stream per OOD set: ImageNet's 50,000 ID images and a set's 10,000): two
 * thirds near an ID label, the rest near 12 negatives (low in most groups),
 * so that AdaNeg's memories fill and replace and OODD's queue evicts; the
 * GPU's time (after a warm-up), and with cpu the CPU's on all cores, the
 * largest relative score difference and whether the argmaxes agree.
 * `extra`: the method's parameters as JSON members. */
static int bench_stream(const char *kind, const char *extra, nl_score_params p, const float *id, size_t n_id,
                        const float *neg, size_t n_neg, size_t dim, size_t n, int cpu) {
    float *img = malloc(sizeof(float) * n * dim);
    double *sg = malloc(sizeof(double) * n), *sc = malloc(sizeof(double) * n);
    size_t *tg = malloc(sizeof(size_t) * n), *tc = malloc(sizeof(size_t) * n);
    if (!img || !sg || !sc || !tg || !tc) { fprintf(stderr, "out of memory\n"); return 1; }
    randn_rows(img, n, dim);
    for (size_t i = 0; i < n; i++) {
        float *x = img + i * dim;
        for (size_t k = 0; k < dim; k++) x[k] *= 0.5f;
        for (size_t j = 0; j < (i % 3 ? 1u : 12u); j++) {
            const float *t = i % 3 ? id + (i * 7919 % n_id) * dim : neg + ((i * 104729 + j * 7727) % n_neg) * dim;
            for (size_t k = 0; k < dim; k++) x[k] += t[k] * (i % 3 ? 1.0f : 0.29f);
        }
    }
    nl_normalize_rows(img, n, dim);
    p.device = NL_DEVICE_CUDA;
    size_t warm = n < 512 ? n : 512;
    if (nl_score(img, warm, id, n_id, neg, n_neg, dim, &p, sg, NULL, NULL) != 0) return fail("stream (GPU warm-up)");
    double t0 = nli_now();
    if (nl_score(img, n, id, n_id, neg, n_neg, dim, &p, sg, tg, NULL) != 0) return fail("stream (GPU)");
    double t_gpu = nli_now() - t0, t_cpu = -1, d_rel = -1;
    long same = -1;
    if (cpu) {
        p.device = NL_DEVICE_CPU;
        t0 = nli_now();
        if (nl_score(img, n, id, n_id, neg, n_neg, dim, &p, sc, tc, NULL) != 0) return fail("stream (CPU)");
        t_cpu = nli_now() - t0;
        d_rel = 0;
        same = 1;
        for (size_t i = 0; i < n; i++) {
            if (sc[i] != 0) d_rel = fmax(d_rel, fabs(sg[i] - sc[i]) / fabs(sc[i]));
            if (tg[i] != tc[i]) same = 0;
        }
    }
    printf("{\"kind\":\"%s\",%s,\"n_img\":%zu,\"n_id\":%zu,\"n_neg\":%zu,\"dim\":%zu,\"ngroup\":%d,"
           "\"gpu_s\":%.4f,\"cpu_s\":%.4f,\"cpu_threads\":%d,\"max_rel_diff\":%.3e,\"same_top_id\":%s}\n",
           kind, extra, n, n_id, n_neg, dim, p.ngroup, t_gpu, t_cpu, nli_num_threads(), d_rel,
           same < 0 ? "null" : same ? "true" : "false");
    fflush(stdout);
    free(img); free(sg); free(sc); free(tg); free(tc);
    return 0;
}

int bench_cmd_minescore(int argc, char **argv) {
    size_t n_cand = (size_t)opt_long(argc, argv, "--n-cand", 70000), n_id = (size_t)opt_long(argc, argv, "--n-id", 1000);
    size_t n_img = (size_t)opt_long(argc, argv, "--n-img", 100000), n_neg = (size_t)opt_long(argc, argv, "--n-neg", 10000);
    size_t dim = (size_t)opt_long(argc, argv, "--dim", 512);
    int ngroup = (int)opt_long(argc, argv, "--ngroup", 100), cpu = flag(argc, argv, "--cpu");
    if (nl_cuda_device_count() < 1) return fail("no usable CUDA device");
    /* The reference corpus's split: 56,909 nouns + 13,091 adjectives. */
    size_t n_noun = (size_t)llround((double)n_cand * 56909.0 / 70000.0);
    float *id = malloc(sizeof(float) * n_id * dim), *cand = malloc(sizeof(float) * n_cand * dim);
    float *img = malloc(sizeof(float) * n_img * dim), *neg = malloc(sizeof(float) * n_neg * dim);
    uint8_t *pos = malloc(n_cand);
    double *q_gpu = malloc(sizeof(double) * n_cand), *q_cpu = malloc(sizeof(double) * n_cand);
    double *s_gpu = malloc(sizeof(double) * n_img), *s_cpu = malloc(sizeof(double) * n_img);
    if (!id || !cand || !img || !neg || !pos || !q_gpu || !q_cpu || !s_gpu || !s_cpu) { fprintf(stderr, "out of memory\n"); return 1; }
    randn_rows(id, n_id, dim);
    randn_rows(cand, n_cand, dim);
    randn_rows(img, n_img, dim);
    randn_rows(neg, n_neg, dim);
    for (size_t i = 0; i < n_cand; i++) pos[i] = i < n_noun ? NL_POS_NOUN : NL_POS_ADJ;

    nl_mine_params mp = nl_mine_default_params();
    mp.device = NL_DEVICE_CUDA;
    size_t *sel = NULL, n_sel = 0, *sel_c = NULL, n_sel_c = 0;
    /* warm-up (context, cuBLAS handle): a small problem */
    double t0 = nli_now();
    if (nl_mine(id, n_id, cand, n_cand < 1000 ? n_cand : 1000, pos, dim, &mp, &sel, &n_sel, NULL) != 0)
        return fail("nl_mine (GPU warm-up)");
    double t_mine_first = nli_now() - t0;
    free(sel);
    t0 = nli_now();
    if (nl_mine(id, n_id, cand, n_cand, pos, dim, &mp, &sel, &n_sel, q_gpu) != 0) return fail("nl_mine (GPU)");
    double t_mine = nli_now() - t0, t_mine_cpu = -1, q_diff = -1;
    int same_sel = -1;
    if (cpu) {
        nl_mine_params mc = nl_mine_default_params();
        t0 = nli_now();
        if (nl_mine(id, n_id, cand, n_cand, pos, dim, &mc, &sel_c, &n_sel_c, q_cpu) != 0) return fail("nl_mine (CPU)");
        t_mine_cpu = nli_now() - t0;
        q_diff = 0;
        for (size_t i = 0; i < n_cand; i++) q_diff = fmax(q_diff, fabs(q_gpu[i] - q_cpu[i]));
        same_sel = n_sel == n_sel_c && !memcmp(sel, sel_c, n_sel * sizeof *sel);
    }
    printf("{\"kind\":\"mine\",\"n_cand\":%zu,\"n_id\":%zu,\"dim\":%zu,\"n_selected\":%zu,\"gpu_s\":%.4f,"
           "\"gpu_first_call_s\":%.4f,\"cpu_s\":%.4f,\"cpu_threads\":%d,\"max_abs_qsim_diff\":%.3e,\"same_selection\":%s}\n",
           n_cand, n_id, dim, n_sel, t_mine, t_mine_first, t_mine_cpu, nli_num_threads(), q_diff,
           same_sel < 0 ? "null" : same_sel ? "true" : "false");
    fflush(stdout);
    free(sel);
    free(sel_c);

    nl_score_params sp = nl_score_default_params(NL_METHOD_NEGLABEL);
    sp.ngroup = ngroup;
    sp.device = NL_DEVICE_CUDA;
    size_t warm = n_img < 1000 ? n_img : 1000;
    if (nl_score(img, warm, id, n_id, neg, n_neg, dim, &sp, s_gpu, NULL, NULL) != 0) return fail("nl_score (GPU warm-up)");
    t0 = nli_now();
    if (nl_score(img, n_img, id, n_id, neg, n_neg, dim, &sp, s_gpu, NULL, NULL) != 0) return fail("nl_score (GPU)");
    double t_score = nli_now() - t0, t_score_cpu = -1, d_abs = -1, d_rel = -1;
    if (cpu) {
        nl_score_params sc = nl_score_default_params(NL_METHOD_NEGLABEL);
        sc.ngroup = ngroup;
        t0 = nli_now();
        if (nl_score(img, n_img, id, n_id, neg, n_neg, dim, &sc, s_cpu, NULL, NULL) != 0) return fail("nl_score (CPU)");
        t_score_cpu = nli_now() - t0;
        d_abs = d_rel = 0;
        for (size_t i = 0; i < n_img; i++) {
            double d = fabs(s_gpu[i] - s_cpu[i]);
            d_abs = fmax(d_abs, d);
            if (s_cpu[i] != 0) d_rel = fmax(d_rel, d / fabs(s_cpu[i]));
        }
    }
    printf("{\"kind\":\"score\",\"n_img\":%zu,\"n_id\":%zu,\"n_neg\":%zu,\"dim\":%zu,\"ngroup\":%d,\"gpu_s\":%.4f,"
           "\"cpu_s\":%.4f,\"cpu_threads\":%d,\"max_abs_diff\":%.3e,\"max_rel_diff\":%.3e}\n",
           n_img, n_id, n_neg, dim, ngroup, t_score, t_score_cpu, nli_num_threads(), d_abs, d_rel);
    fflush(stdout);
    size_t n_ada = (size_t)opt_long(argc, argv, "--adaneg-img", 60000);
    for (int v = 0; v < 2 && n_ada > 0; v++) {
        nl_score_params p = nl_score_default_params(NL_METHOD_ADANEG);
        p.adaneg_sample_adaptive = v;
        char extra[128];
        snprintf(extra, sizeof extra, "\"variant\":\"%s\",\"memory\":%d", v ? "sample" : "task", p.adaneg_memory);
        if (bench_stream("adaneg", extra, p, id, n_id, neg, n_neg, dim, n_ada, cpu) != 0) return 1;
    }
    size_t n_oodd = (size_t)opt_long(argc, argv, "--oodd-img", 60000);
    if (n_oodd > 0) {
        nl_score_params p = nl_score_default_params(NL_METHOD_OODD);
        char extra[128];
        snprintf(extra, sizeof extra, "\"batch\":%d,\"queue\":%d,\"k\":%d", p.oodd_batch, p.oodd_queue, p.oodd_k);
        if (bench_stream("oodd", extra, p, id, n_id, neg, n_neg, dim, n_oodd, cpu) != 0) return 1;
    }
    free(id); free(cand); free(img); free(neg); free(pos);
    free(q_gpu); free(q_cpu); free(s_gpu); free(s_cpu);
    return 0;
}

