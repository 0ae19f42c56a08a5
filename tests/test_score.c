/* test_score.c — nl_score against a direct double-precision implementation
 * of the formulas (plain softmax on shifted logits, explicit groups), the
 * seeded shuffle, extreme tau, thread-count independence and errors.
 * NEGLABEL_BENCH=1 also times 10,000 images x (1,000 + 10,000) labels. */
#include "check.h"
#include "neglabel.h"
#include "prng.h"
#include "util.h"

#include <math.h>
#include <stdint.h>

#include "naive_score.h"

static int cancel_polls, cancel_at;
static int cancel_cb(void *user) {
    (void)user;
    return ++cancel_polls >= cancel_at;
}

int main(void) {
    /* splitmix64's published stream for seed 0 */
    nli_prng r;
    nli_prng_seed(&r, 0);
    CHECK(nli_prng_next(&r) == 0xe220a8397b1dcdafULL, "splitmix64 first value");

    size_t ni = 300, nid = 20, nneg = 61, dim = 16;
    float *img = malloc(ni * dim * 4), *id = malloc(nid * dim * 4), *neg = malloc(nneg * dim * 4);
    double *sc = malloc(ni * 8), *sc2 = malloc(ni * 8);
    size_t *tid = malloc(ni * sizeof *tid), *tneg = malloc(ni * sizeof *tneg);
    for (int emb = 0; emb < 2; emb++) {
        if (emb == 0) { exact_emb(img, ni, dim); exact_emb(id, nid, dim); exact_emb(neg, nneg, dim); }
        else { unit_emb(img, ni, dim); unit_emb(id, nid, dim); unit_emb(neg, nneg, dim); }
        /* exact cosines: tight; float GEMM on unit vectors: 1e-6 at tau 1 */
        double taus[3] = {0.01, 0.1, 1}, tol = emb == 0 ? 1e-12 : 1e-6;
        size_t groups[5] = {1, 2, 3, 7, nneg};
        for (int t = 2 * emb; t < 3; t++)
            for (int g = 0; g < 5; g++) {
                nl_score_params p = nl_score_default_params(NL_METHOD_NEGLABEL);
                p.ngroup = (int)groups[g];
                p.shuffle = 0;
                p.tau = emb ? 1 : taus[t];
                CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, tid, tneg) == 0, "%s", nl_last_error());
                double err = 0;
                for (size_t i = 0; i < ni; i++)
                    err = fmax(err, fabs(sc[i] - naive_neglabel(img + i * dim, id, nid, neg, nneg, dim, groups[g], NULL, p.tau)));
                CHECK(err < tol, "emb %d tau %g ngroup %zu: max error %g", emb, p.tau, groups[g], err);
            }
        /* The top label must have the largest cosine (exact embeddings have
         * ties, which rounding may break either way: allow 1e-12). */
        size_t bad = 0;
        for (size_t i = 0; i < ni; i++) {
            const float *x = img + i * dim;
            bad += dot(x, id + tid[i] * dim, dim) < dot(x, id + naive_argmax(x, id, nid, dim) * dim, dim) - 1e-12 ||
                   dot(x, neg + tneg[i] * dim, dim) < dot(x, neg + naive_argmax(x, neg, nneg, dim) * dim, dim) - 1e-12;
        }
        CHECK(bad == 0, "emb %d: %zu images with a different top label", emb, bad);
        /* MCM */
        nl_score_params p = nl_score_default_params(NL_METHOD_MCM);
        CHECK(p.tau == 1.0, "MCM default tau");
        for (int t = emb; t < 2; t++) { /* float GEMM cosines: tau 1 only */
            p.tau = t ? 1.0 : 0.02;
            CHECK(nl_score(img, ni, id, nid, NULL, 0, dim, &p, sc, tid, NULL) == 0, "%s", nl_last_error());
            double err = 0;
            for (size_t i = 0; i < ni; i++) err = fmax(err, fabs(sc[i] - naive_mcm(img + i * dim, id, nid, dim, p.tau)));
            CHECK(err < tol, "MCM emb %d tau %g: max error %g", emb, p.tau, err);
        }
    }

    /* shuffle: the documented PRNG decides the groups */
    nl_score_params p = nl_score_default_params(NL_METHOD_NEGLABEL);
    CHECK(p.ngroup == 100 && p.seed == 0 && p.shuffle == 1 && p.tau == 0.01, "NegLabel defaults");
    p.ngroup = 7;
    p.tau = 0.05;
    p.seed = 12345;
    size_t kept = nneg - nneg % 7, order[61];
    for (size_t k = 0; k < kept; k++) order[k] = k;
    nli_prng_seed(&r, p.seed);
    nli_prng_shuffle(&r, order, kept);
    CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, NULL, NULL) == 0, "%s", nl_last_error());
    double err = 0;
    for (size_t i = 0; i < ni; i++)
        err = fmax(err, fabs(sc[i] - naive_neglabel(img + i * dim, id, nid, neg, nneg, dim, 7, order, p.tau)));
    CHECK(err < 1e-6, "shuffled groups: max error %g", err);
    CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc2, NULL, NULL) == 0 && !memcmp(sc, sc2, ni * 8),
          "same seed, different scores");
    p.seed = 12346;
    CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc2, NULL, NULL) == 0, "%s", nl_last_error());
    size_t differ = 0;
    for (size_t i = 0; i < ni; i++) differ += fabs(sc[i] - sc2[i]) > 1e-9;
    CHECK(differ > ni / 2, "another seed changed only %zu of %zu scores", differ, ni);

    /* scores do not depend on the thread count */
    setenv("NEGLABEL_THREADS", "1", 1);
    CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, NULL, NULL) == 0, "%s", nl_last_error());
    setenv("NEGLABEL_THREADS", "3", 1);
    CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc2, NULL, NULL) == 0, "%s", nl_last_error());
    CHECK(!memcmp(sc, sc2, ni * 8), "1 and 3 threads differ");
    unsetenv("NEGLABEL_THREADS");

    /* extreme tau: finite, within [0, 1] */
    p.tau = 1e-4;
    int fin = nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, NULL, NULL) == 0;
    for (size_t i = 0; i < ni && fin; i++) fin = isfinite(sc[i]) && sc[i] >= 0 && sc[i] <= 1;
    CHECK(fin, "tau 1e-4 gave a non-finite or out-of-range score");
    p.method = NL_METHOD_MCM;
    fin = nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, NULL, NULL) == 0;
    for (size_t i = 0; i < ni && fin; i++) fin = isfinite(sc[i]) && sc[i] > 0 && sc[i] <= 1;
    CHECK(fin, "MCM tau 1e-4 gave a non-finite score");

    /* errors */
    p = nl_score_default_params(NL_METHOD_NEGLABEL);
    p.ngroup = 10;
    CHECK(nl_score(img, ni, id, 0, neg, nneg, dim, &p, sc, NULL, NULL) == -1, "n_id 0");
    CHECK(nl_score(img, ni, id, nid, neg, 0, dim, &p, sc, NULL, NULL) == -1, "NegLabel without negatives");
    double badtau[5] = {0, -1, INFINITY, NAN, 1e-310}; /* 1e-310: 1/tau overflows (was: every score NaN) */
    for (int i = 0; i < 5; i++) {
        p.tau = badtau[i];
        CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, NULL, NULL) == -1, "tau %g", badtau[i]);
    }
    /* a non-finite label row is refused, naming it (was: every score NaN, rc 0);
     * for every method, the stream ones too */
    for (int m = 0; m < NL_METHOD_COUNT; m++) {
        nl_score_params q = nl_score_default_params((nl_method)m);
        q.ngroup = 7;
        float *rowp[2] = {id + 3 * dim + 5, neg + 40 * dim};
        const char *want[2] = {"ID label embedding 3 ", "negative label embedding 40 "};
        for (int w = 0; w < 2 - (m == NL_METHOD_MCM); w++) {
            float save = *rowp[w];
            *rowp[w] = w ? INFINITY : NAN;
            CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &q, sc, NULL, NULL) == -1 && strstr(nl_last_error(), want[w]),
                  "%s, a bad %s: %s", nl_method_name((nl_method)m), want[w], nl_last_error());
            *rowp[w] = save;
        }
    }
    p.tau = 0.01;
    p.ngroup = 0;
    CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, NULL, NULL) == -1, "ngroup 0");
    p.ngroup = (int)nneg + 1;
    CHECK(nl_score(img, ni, id, nid, neg, nneg, dim, &p, sc, NULL, NULL) == -1 && strstr(nl_last_error(), "ngroup"),
          "ngroup > n_neg: %s", nl_last_error());

    /* An image embedding that is not finite (a forward pass that overflowed)
     * scores NaN and has no top labels (SIZE_MAX; before, the argmax over
     * NaN named label 0); every other image scores as without it (the
     * stream methods: finite, a NaN image joins no memory or queue). */
    {
        unit_emb(img, ni, dim); unit_emb(id, nid, dim); unit_emb(neg, nneg, dim);
        size_t bad_row = 7, bad_row2 = 150;
        double *ref = malloc(ni * 8);
        for (int meth = 0; meth < NL_METHOD_COUNT; meth++) {
            if (meth == NL_METHOD_CSP) continue; /* NegLabel's formula on other labels */
            p = nl_score_default_params((nl_method)meth);
            if (meth != NL_METHOD_MCM) p.ngroup = 3;
            if (meth == NL_METHOD_ADANEG) p.adaneg_batch = 16;
            if (meth == NL_METHOD_OODD) p.oodd_batch = 16, p.oodd_queue = 40, p.oodd_k = 3;
            size_t nn = meth == NL_METHOD_MCM ? 0 : nneg;
            CHECK(nl_score(img, ni, id, nid, neg, nn, dim, &p, ref, NULL, NULL) == 0, "%s", nl_last_error());
            float keep[2];
            keep[0] = img[bad_row * dim + 3];
            keep[1] = img[bad_row2 * dim];
            img[bad_row * dim + 3] = INFINITY;
            img[bad_row2 * dim] = NAN;
            for (size_t i = 0; i < ni; i++) tid[i] = tneg[i] = 12345;
            CHECK(nl_score(img, ni, id, nid, neg, nn, dim, &p, sc, tid, nn ? tneg : NULL) == 0, "%s", nl_last_error());
            img[bad_row * dim + 3] = keep[0];
            img[bad_row2 * dim] = keep[1];
            CHECK(isnan(sc[bad_row]) && isnan(sc[bad_row2]), "method %d: a non-finite embedding scored %g, %g", meth,
                  sc[bad_row], sc[bad_row2]);
            CHECK(tid[bad_row] == SIZE_MAX && tid[bad_row2] == SIZE_MAX, "method %d: top ID label %zu, %zu of NaN scores",
                  meth, tid[bad_row], tid[bad_row2]);
            if (nn)
                CHECK(tneg[bad_row] == SIZE_MAX && tneg[bad_row2] == SIZE_MAX,
                      "method %d: top negative label %zu, %zu of NaN scores", meth, tneg[bad_row], tneg[bad_row2]);
            size_t other = 0, unlabelled = 0;
            for (size_t i = 0; i < ni; i++) {
                if (i == bad_row || i == bad_row2) continue;
                int stream = meth == NL_METHOD_ADANEG || meth == NL_METHOD_OODD;
                if (stream ? !isfinite(sc[i]) : sc[i] != ref[i]) other++;
                if (tid[i] >= nid || (nn && tneg[i] >= nn)) unlabelled++;
            }
            CHECK(other == 0, "method %d: %zu other images' scores changed by the NaN ones", meth, other);
            CHECK(unlabelled == 0, "method %d: %zu finite images without a top label", meth, unlabelled);
        }
        free(ref);
    }

    /* nl_set_cancel stops scoring between blocks of 256 images (NegLabel,
     * MCM, CSP) and between AdaNeg's and OODD's batches: polled after each
     * block but the last. Before, nl_score never polled: Ctrl-C in Python
     * waited a minute for 200,000 images x 10,000 negatives. */
    {
        size_t N = 1000, I = 10, G = 40, D = 16;
        float *ci = malloc(N * D * 4), *cid = malloc(I * D * 4), *cneg = malloc(G * D * 4);
        double *cs = malloc(N * 8);
        unit_emb(ci, N, D); unit_emb(cid, I, D); unit_emb(cneg, G, D);
        const nl_method ms[] = {NL_METHOD_NEGLABEL, NL_METHOD_MCM, NL_METHOD_ADANEG, NL_METHOD_OODD};
        const size_t blocks[] = {256, 256, 100, 100};
        for (size_t k = 0; k < 4; k++) {
            nl_score_params q = nl_score_default_params(ms[k]);
            q.ngroup = 4;
            q.adaneg_batch = q.oodd_batch = 100;
            size_t polls_all = (N + blocks[k] - 1) / blocks[k] - 1;
            if (ms[k] == NL_METHOD_OODD) polls_all += (N + 255) / 256 - 1; /* its static scores first */
            cancel_polls = 0, cancel_at = 1000000;
            nl_set_cancel(cancel_cb, NULL);
            int rc = nl_score(ci, N, cid, I, cneg, G, D, &q, cs, NULL, NULL);
            CHECK(rc == 0 && cancel_polls == (int)polls_all, "%s, no cancel: rc %d (%s), %d polls for %zu",
                  nl_method_name(ms[k]), rc, rc ? nl_last_error() : "", cancel_polls, polls_all);
            cancel_polls = 0, cancel_at = 2;
            rc = nl_score(ci, N, cid, I, cneg, G, D, &q, cs, NULL, NULL);
            CHECK(rc == -1 && nl_last_status() == NL_ERR_CANCELLED && cancel_polls == 2,
                  "%s, cancelled at the second poll: rc %d, status %d, %d polls", nl_method_name(ms[k]), rc,
                  (int)nl_last_status(), cancel_polls);
            nl_set_cancel(NULL, NULL);
        }
        free(ci); free(cid); free(cneg); free(cs);
    }

    if (getenv("NEGLABEL_BENCH")) {
        size_t N = 10000, I = 1000, G = 10000, D = 512;
        float *bi = malloc(N * D * 4), *bid = malloc(I * D * 4), *bneg = malloc(G * D * 4);
        double *bs = malloc(N * 8);
        unit_emb(bi, N, D); unit_emb(bid, I, D); unit_emb(bneg, G, D);
        p = nl_score_default_params(NL_METHOD_NEGLABEL);
        double t0 = nli_now();
        CHECK(nl_score(bi, N, bid, I, bneg, G, D, &p, bs, NULL, NULL) == 0, "%s", nl_last_error());
        printf("bench: scoring %zu images x (%zu + %zu) labels: %.2f s (%d threads)\n", N, I, G, nli_now() - t0, nli_num_threads());
        free(bi); free(bid); free(bneg); free(bs);
    }
    free(img); free(id); free(neg); free(sc); free(sc2); free(tid); free(tneg);
    return check_done();
}
