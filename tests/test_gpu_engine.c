/* test_gpu_engine.c — the CUDA engine through the public API against the
 * CPU engine on the tiny model: images from files (decode, the GPU's own
 * normalisation, the double-buffered pipeline, an unreadable file among
 * them) and texts (packed, causal, truncated at 77 tokens; also three
 * chunks' worth of them, 17,161 (2,825 on the emulator), through the
 * asynchronous text slots, and a failure there). fp32 on the GPU
 * must equal the CPU within 1e-5 * ||g|| per row; fp16 and bf16 must keep
 * cosine >= 0.999 to it. Then: a device index that does not exist, and an
 * out-of-memory batch that is retried smaller. Label gpu: exits 77 with
 * the reason where no CUDA device is usable. */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "check_log.h"
#include "neglabel.h"
#ifdef NEGLABEL_HAVE_CUDA
#include <cuda_runtime.h>
#endif

static char *paths[64];
static size_t n_paths;

static nl_model *load(const char *dir, nl_device dev, int index, nl_precision prec, int batch) {
    nl_model_params p = nl_model_default_params();
    p.device = dev;
    p.device_index = index;
    p.precision = prec;
    p.batch_size = batch;
    return nl_model_load(dir, &p);
}

static const char *texts[] = {
    "a photo of a dog.", "The nice tabby cat.", "This is a scary photo.", "x", "",
    "a very long prompt that keeps going and going well past the seventy seven token context of the "
    "text tower so that truncation to seventy six tokens plus the end of text token is exercised on "
    "the gpu exactly as on the cpu engine, with words words words words words words words words words",
    "Grevy's zebra", "the nice submarine sandwich", "café au lait", "123 456 789",
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

typedef struct { float *img, *txt; int *status; } run_out;

static int run(nl_model *m, run_out *o) {
    size_t dim = (size_t)nl_model_dim(m);
    o->img = calloc(n_paths * dim, sizeof(float));
    o->txt = calloc(N_TEXTS * dim, sizeof(float));
    o->status = calloc(n_paths, sizeof(int));
    if (nl_embed_images(m, (const char *const *)paths, n_paths, NL_RESAMPLE_BICUBIC, o->img, o->status) != 0) return -1;
    return nl_embed_texts(m, texts, N_TEXTS, o->txt);
}

static void free_out(run_out *o) { free(o->img); free(o->txt); free(o->status); }

/* run() on another host thread (which starts on device 0). */
typedef struct {
    nl_model *m;
    run_out o;
    int rc;
} thread_run;

static void *run_thread(void *arg) {
    thread_run *t = arg;
    t->rc = run(t->m, &t->o);
    return NULL;
}

static const char *ref_name = "CPU fp32"; /* what compare's c is */

/* Compare a GPU run with the CPU run. exact: fp32 bound, else cosine. */
static void compare(const char *label, const run_out *g, const run_out *c, size_t dim, int exact) {
    double worst_i = 0, worst_t = 0, cos_i = 1, cos_t = 1;
    for (size_t i = 0; i < n_paths; i++) {
        CHECK(g->status[i] == c->status[i], "%s: image %zu status %d vs CPU %d", label, i, g->status[i], c->status[i]);
        if (c->status[i] != 0) {
            int zero = 1;
            for (size_t d = 0; d < dim; d++) zero &= g->img[i * dim + d] == 0.0f;
            CHECK(zero, "%s: failed image %zu has a non-zero row", label, i);
            continue;
        }
        double e = check_row_err(g->img + i * dim, c->img + i * dim, dim), cs = check_cosine(g->img + i * dim, c->img + i * dim, dim);
        if (!(e <= worst_i)) worst_i = e;
        if (!(cs >= cos_i)) cos_i = cs;
    }
    for (size_t i = 0; i < N_TEXTS; i++) {
        double e = check_row_err(g->txt + i * dim, c->txt + i * dim, dim), cs = check_cosine(g->txt + i * dim, c->txt + i * dim, dim);
        if (!(e <= worst_t)) worst_t = e;
        if (!(cs >= cos_t)) cos_t = cs;
    }
    printf("%s vs %s: worst max|a-g|/||g|| images %.3g texts %.3g; worst cosine images %.8f texts %.8f\n", label,
           ref_name, worst_i, worst_t, cos_i, cos_t);
    if (exact) {
        CHECK(worst_i <= 1e-5 && worst_t <= 1e-5, "%s: off by %g / %g (limit 1e-5)", label, worst_i, worst_t);
    } else {
        CHECK(cos_i >= 0.999 && cos_t >= 0.999, "%s: cosine %g / %g (limit 0.999)", label, cos_i, cos_t);
        CHECK(worst_i > 0 && worst_t > 0, "%s: identical to fp32: reduced precision not exercised", label);
    }
}

/* Many texts (three GPU slots' worth and more, so both slots are reused,
 * of mixed lengths: most short, some past the 64-token shared tiles and
 * past the context) through the GPU's asynchronous text pipeline in fp32,
 * against the CPU; then a NULL text in the third slot's chunk: the call
 * fails naming it, and the next call gives the same embeddings again. */
/* (chunk: the library's texts per GPU chunk, NEGLABEL_CUDA_TEXT_CHUNK when
 * set (the emulator: 1024), else the slot's 8192) */
static void check_many_texts(nl_model *cpu, nl_model *g) {
    static const char *syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "photo", "of", "the", "zebra",
                                "nice", "big", "cat", "dog", "ship", "café", "x", "7"};
    const char *ce = getenv("NEGLABEL_CUDA_TEXT_CHUNK");
    const size_t chunk = ce ? strtoul(ce, NULL, 10) : 8192;
    const size_t n = 2 * chunk + 777, dim = (size_t)nl_model_dim(cpu);
    CHECK(chunk >= 1 && chunk <= 8192, "NEGLABEL_CUDA_TEXT_CHUNK=%s: 1..8192", ce);
    char **tx = calloc(n, sizeof *tx);
    float *ec = calloc(n * dim, sizeof(float)), *eg = calloc(n * dim, sizeof(float)),
          *eg2 = calloc(n * dim, sizeof(float));
    CHECK(tx && ec && eg && eg2, "out of memory");
    if (!tx || !ec || !eg || !eg2) return;
    uint64_t r = 12345;
    size_t longs = 0;
    for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t words = i % 97 == 3 ? 30 + (size_t)(r >> 58) : 1 + (size_t)(r >> 62); /* long: 30..93 words */
        longs += words >= 30;
        char *t = calloc(words * 8 + 1, 1);
        if (!t) break;
        for (size_t w = 0; w < words; w++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            strcat(t, syl[(r >> 40) % (sizeof syl / sizeof syl[0])]);
            if (w + 1 < words) strcat(t, (r >> 20) & 1 ? " " : "");
        }
        tx[i] = t;
    }
    CHECK(nl_embed_texts(cpu, (const char *const *)tx, n, ec) == 0, "CPU, %zu texts: %s", n, nl_last_error());
    CHECK(nl_embed_texts(g, (const char *const *)tx, n, eg) == 0, "GPU, %zu texts: %s", n, nl_last_error());
    double worst = check_worst_row_err(eg, ec, n, dim);
    printf("%zu texts (%zu long) through the GPU's text slots, fp32: worst max|a-g|/||g|| %.3g\n", n, longs, worst);
    CHECK(worst <= 1e-5, "%zu texts on the GPU: off by %g (limit 1e-5)", n, worst);

    const size_t bad = 2 * chunk + 5;
    char *keep = tx[bad];
    tx[bad] = NULL;
    char want[64];
    snprintf(want, sizeof want, "text %zu", bad);
    CHECK(nl_embed_texts(g, (const char *const *)tx, n, eg2) != 0 && strstr(nl_last_error(), want) &&
              strstr(nl_last_error(), "NULL"),
          "a NULL text in the third chunk: %s", nl_last_error());
    tx[bad] = keep;
    CHECK(nl_embed_texts(g, (const char *const *)tx, n, eg2) == 0 && !memcmp(eg, eg2, n * dim * sizeof(float)),
          "after a failed call, the same texts give different embeddings (%s)", nl_last_error());
    for (size_t i = 0; i < n; i++) free(tx[i]);
    free(tx);
    free(ec);
    free(eg);
    free(eg2);
}

#ifdef NEGLABEL_HAVE_CUDA
#define HOG_MAX 64
/* Takes device memory until at most `room` bytes are free, or until not
 * even 64 KiB more can be had: a real GPU refuses one allocation of all but
 * a few hundred KiB (the emulator does not), so the rest is taken in
 * halves. Returns the number of allocations in hog (each freed by
 * hog_free); 0 when none could be made. */
static int hog_until(size_t room, void **hog) {
    int n = 0;
    size_t fr = 0, tot = 0;
    while (n < HOG_MAX && cudaMemGetInfo(&fr, &tot) == cudaSuccess && fr > room) {
        size_t want = fr - room;
        void *p = NULL;
        while (want >= ((size_t)1 << 16) && cudaMalloc(&p, want) != cudaSuccess) {
            cudaGetLastError();
            p = NULL;
            want /= 2;
        }
        if (!p) break;
        hog[n++] = p;
    }
    return n;
}
static void hog_free(void **hog, int n) {
    for (int i = 0; i < n; i++) cudaFree(hog[i]);
}

/* nl_embed_pixels allocates its float32 pixel buffer (4x the RGB path's
 * bytes) on first use. With room for the pixels of only about 6 of the
 * model's 16 images per batch, the call halves its chunk until they fit
 * (one warning; the next call keeps the smaller chunk and warns no more)
 * and gives the embeddings of an unconstrained call; with room for none,
 * it fails with NL_ERR_NOMEM naming the pixels, and the model still runs
 * once the memory is back. */
static void check_pixels_oom(const char *dir) {
    const int B = 16;
    nl_model *m = load(dir, NL_DEVICE_CUDA, 0, NL_PRECISION_FP32, B);
    CHECK(m != NULL, "pixels OOM: load: %s", nl_last_error());
    if (!m) return;
    const size_t S = (size_t)nl_model_image_size(m), per = 3 * S * S, dim = (size_t)nl_model_dim(m), n = 40;
    float *pix = malloc(n * per * sizeof(float)), *ref = malloc(n * dim * sizeof(float)),
          *got = malloc(n * dim * sizeof(float));
    int *st = calloc(n_paths, sizeof(int));
    CHECK(pix && ref && got && st, "out of memory");
    if (!pix || !ref || !got || !st) goto done;
    /* the fixture images' pixels, repeated to n images */
    CHECK(nl_image_pixels(m, (const char *const *)paths, n_paths, NL_RESAMPLE_BICUBIC, pix, st) == 0,
          "pixels OOM: nl_image_pixels: %s", nl_last_error());
    for (size_t i = n_paths; i < n; i++) memcpy(pix + i * per, pix + (i % n_paths) * per, per * sizeof(float));
    nl_model *fresh = load(dir, NL_DEVICE_CUDA, 0, NL_PRECISION_FP32, B);
    CHECK(fresh && nl_embed_pixels(fresh, pix, n, ref) == 0, "pixels OOM: reference run: %s", nl_last_error());
    nl_model_free(fresh);

    size_t fr = 0, tot = 0, room = 5 * per * sizeof(float) + ((size_t)1 << 20);
    void *hog[HOG_MAX];
    int nh = hog_until(room, hog);
    CHECK(nh > 0 && cudaMemGetInfo(&fr, &tot) == cudaSuccess, "pixels OOM: could not take all but %zu bytes", room);
    if (!nh) goto done;
    check_warnings = 0;
    nl_set_log(check_log_warnings, NULL);
    CHECK(nl_embed_pixels(m, pix, n, got) == 0, "pixels OOM: %s", nl_last_error());
    printf("pixels with room for ~6 images (%zu bytes free): %d warning(s): %s\n", fr, check_warnings,
           check_last_warning);
    /* 16 images' pixels do not fit, nor 8: the chunk is halved to 4 (the
     * emulator, whose allocations are exact) or fewer (a GPU, whose
     * allocations come in pages) */
    int k = 0;
    const char *w = strstr(check_last_warning, "out of GPU memory for the pixels of 16 images; ");
    CHECK(check_warnings == 1 && w && sscanf(w, "out of GPU memory for the pixels of 16 images; %d at a time", &k) == 1 &&
              (k == 1 || k == 2 || k == 4),
          "pixels OOM: %d warnings, '%s'", check_warnings, check_last_warning);
    double worst = check_worst_row_err(got, ref, n, dim);
    printf("pixels in chunks of %d vs 16: worst max|a-g|/||g|| %.3g (limit 1e-5)\n", k, worst);
    CHECK(worst <= 1e-5, "pixels OOM: chunks of %d differ from 16 by %g", k, worst);
    check_warnings = 0;
    CHECK(nl_embed_pixels(m, pix, n, got) == 0 && check_warnings == 0, "pixels OOM, second call: %s; %d warnings",
          nl_last_error(), check_warnings);
    nl_set_log(NULL, NULL);
    hog_free(hog, nh);
    nl_model_free(m);

    /* no room for even one image's pixels */
    m = load(dir, NL_DEVICE_CUDA, 0, NL_PRECISION_FP32, B);
    CHECK(m != NULL, "pixels OOM: load: %s", nl_last_error());
    if (!m) goto done;
    room = per * sizeof(float) / 2;
    nh = hog_until(room, hog);
    CHECK(nh > 0, "pixels OOM: could not take all but %zu bytes", room);
    if (nh) {
        CHECK(nl_embed_pixels(m, pix, 3, got) != 0 && nl_last_status() == NL_ERR_NOMEM &&
                  strstr(nl_last_error(), "cuda:0: image forward pass") && strstr(nl_last_error(), "for pixels"),
              "pixels with no room: %s (status %d)", nl_last_error(), (int)nl_last_status());
        printf("pixels with no room: %s\n", nl_last_error());
        hog_free(hog, nh);
        int ok = nl_embed_pixels(m, pix, 3, got) == 0;
        double e = ok ? check_worst_row_err(got, ref, 3, dim) : 0;
        CHECK(ok && e <= 1e-5, "pixels after the memory is back: %s (off by %g)", ok ? "ran" : nl_last_error(), e);
    }
done:
    nl_model_free(m);
    free(pix);
    free(ref);
    free(got);
    free(st);
}
#endif

int main(void) {
    if (nl_cuda_device_count() == 0) {
        printf("SKIP: %s\n", nl_last_error());
        return 77;
    }
    const char *shared = check_shared();
    char *dir = check_path(shared, "fixtures/tiny-clip"), *imgs = check_path(shared, "fixtures/images");
    DIR *d = opendir(imgs);
    struct dirent *e;
    while (d && (e = readdir(d)) && n_paths < 40)
        if (e->d_name[0] != '.') paths[n_paths++] = check_path(imgs, e->d_name);
    if (d) closedir(d);
    paths[n_paths++] = check_path(imgs, "no-such-image.jpg"); /* fails to load: put it mid-batch */
    if (n_paths > 6) {
        char *t = paths[5];
        paths[5] = paths[n_paths - 1];
        paths[n_paths - 1] = t;
    }
    CHECK(n_paths > 10, "fixture images under %s", imgs);

    nl_model *cpu = load(dir, NL_DEVICE_CPU, 0, NL_PRECISION_FP32, 0);
    CHECK(cpu != NULL, "CPU load: %s", nl_last_error());
    if (!cpu) return check_done();
    size_t dim = (size_t)nl_model_dim(cpu);
    run_out c = {0};
    CHECK(run(cpu, &c) == 0, "CPU run: %s", nl_last_error());

    /* Batch 4: several batches, so both pipeline slots alternate. */
    static const struct { nl_precision p; const char *name; } precs[] = {
        {NL_PRECISION_FP32, "GPU fp32"}, {NL_PRECISION_FP16, "GPU fp16"}, {NL_PRECISION_BF16, "GPU bf16"}};
    for (int k = 0; k < 3; k++) {
        nl_model *g = load(dir, NL_DEVICE_CUDA, 0, precs[k].p, 4);
        CHECK(g != NULL, "%s load: %s", precs[k].name, nl_last_error());
        if (!g) continue;
        int idx = -1;
        CHECK(nl_model_device(g, &idx) == NL_DEVICE_CUDA && idx == 0, "device");
        CHECK(nl_model_precision(g) == precs[k].p, "precision");
        printf("%s on %s\n", precs[k].name, nl_model_device_name(g));
        run_out o = {0}, o2 = {0};
        CHECK(run(g, &o) == 0, "%s run: %s", precs[k].name, nl_last_error());
        compare(precs[k].name, &o, &c, dim, k == 0);
        /* Deterministic: the same inputs give the same bits again. */
        CHECK(run(g, &o2) == 0 && !memcmp(o.img, o2.img, n_paths * dim * 4) && !memcmp(o.txt, o2.txt, N_TEXTS * dim * 4),
              "%s: second run differs", precs[k].name);
        free_out(&o);
        free_out(&o2);
        nl_model_free(g);
    }

    nl_model *gm = load(dir, NL_DEVICE_CUDA, 0, NL_PRECISION_FP32, 4);
    CHECK(gm != NULL, "GPU fp32 load: %s", nl_last_error());
    if (gm) check_many_texts(cpu, gm);
    nl_model_free(gm);

    /* The last of several GPUs, in fp32: from this thread while a model on
     * device 0 is used in turn with it, and from another thread (a new host
     * thread starts on device 0), the results of device 0. A machine with
     * one GPU cannot run this; the emulator runs these tests with two. */
    int ndev = nl_cuda_device_count();
    if (ndev >= 2) {
        nl_model *g0 = load(dir, NL_DEVICE_CUDA, 0, NL_PRECISION_FP32, 4);
        nl_model *gl = load(dir, NL_DEVICE_CUDA, ndev - 1, NL_PRECISION_FP32, 4);
        CHECK(g0 && gl, "models on cuda:0 and cuda:%d: %s", ndev - 1, nl_last_error());
        if (g0 && gl) {
            int idx = -1;
            CHECK(nl_model_device(gl, &idx) == NL_DEVICE_CUDA && idx == ndev - 1, "device index %d", idx);
            printf("second device: %s\n", nl_model_device_name(gl));
            run_out a = {0}, b = {0}, a2 = {0};
            CHECK(run(g0, &a) == 0 && run(gl, &b) == 0 && run(g0, &a2) == 0, "interleaved runs: %s",
                  nl_last_error());
            char what[64];
            snprintf(what, sizeof what, "GPU fp32 on cuda:%d", ndev - 1);
            ref_name = "GPU fp32 on cuda:0";
            compare(what, &b, &a, dim, 1);
            CHECK(!memcmp(a.img, a2.img, n_paths * dim * 4), "cuda:0 changed after a run on cuda:%d", ndev - 1);
            thread_run tr = {gl, {0}, -1};
            pthread_t t;
            CHECK(pthread_create(&t, NULL, run_thread, &tr) == 0, "pthread_create");
            pthread_join(t, NULL);
            CHECK(tr.rc == 0, "cuda:%d from another thread failed", ndev - 1);
            if (tr.rc == 0) {
                snprintf(what, sizeof what, "GPU fp32 on cuda:%d, another thread", ndev - 1);
                compare(what, &tr.o, &a, dim, 1);
            }
            ref_name = "CPU fp32";
            free_out(&tr.o);
            free_out(&a);
            free_out(&b);
            free_out(&a2);
        }
        nl_model_free(g0);
        nl_model_free(gl);
    } else {
        CHECK(!getenv("NEGLABEL_GPU_EMU"), "the emulator runs these tests with 2 devices (NLEMU_DEVICES=2)");
        printf("one GPU: the checks on a second device need two (the emulator runs them)\n");
    }

    /* AUTO picks the GPU, in fp16. */
    nl_model *a = load(dir, NL_DEVICE_AUTO, 0, NL_PRECISION_DEFAULT, 0);
    CHECK(a && nl_model_device(a, NULL) == NL_DEVICE_CUDA && nl_model_precision(a) == NL_PRECISION_FP16,
          "auto: %s", a ? nl_model_device_name(a) : nl_last_error());
    nl_model_free(a);

    /* A device that does not exist: an error naming it. */
    nl_model *bad = load(dir, NL_DEVICE_CUDA, 99, NL_PRECISION_FP32, 0);
    CHECK(!bad && strstr(nl_last_error(), "cuda:99") && strstr(nl_last_error(), "no such device"), "cuda:99: %s",
          bad ? "loaded" : nl_last_error());
    nl_model_free(bad);

#ifdef NEGLABEL_HAVE_CUDA
    /* Out of memory: hold all but ~1.5 GB of the GPU, ask for 4096 images
     * per batch (~2.3 GB of workspace): the batch is halved until it fits,
     * and the results are unchanged. */
    size_t fr = 0, tot = 0;
    void *hog = NULL;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && fr > ((size_t)2 << 30) &&
        cudaMalloc(&hog, fr - ((size_t)3 << 29)) == cudaSuccess) {
        nl_model *om = load(dir, NL_DEVICE_CUDA, 0, NL_PRECISION_FP16, 4096);
        CHECK(om != NULL, "OOM retry: load failed: %s", nl_last_error());
        if (om) {
            char *js = nl_model_info_json(om);
            const char *bs = js ? strstr(js, "\"batch_size\":") : NULL;
            long b = bs ? strtol(bs + 13, NULL, 10) : -1;
            printf("OOM retry: asked 4096 images per batch, got %ld\n", b);
            CHECK(b > 0 && b < 4096, "batch after OOM retry: %ld", b);
            run_out o = {0};
            CHECK(run(om, &o) == 0, "OOM-retried model run: %s", nl_last_error());
            compare("GPU fp16 after OOM retry", &o, &c, dim, 0);
            free_out(&o);
            free(js);
            nl_model_free(om);
        }
        cudaFree(hog);
    } else {
        CHECK(0, "could not reserve GPU memory for the out-of-memory test");
    }
    check_pixels_oom(dir);
#endif

    free_out(&c);
    nl_model_free(cpu);
    for (size_t i = 0; i < n_paths; i++) free(paths[i]);
    free(dir);
    free(imgs);
    return check_done();
}
