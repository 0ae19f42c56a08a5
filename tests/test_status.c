/* test_status.c — nl_last_status(): each kind of failure is told apart
 * beside its message, survives the context the callers prefix, and success
 * does not leave a stale code for a new thread. */
#include <pthread.h>

#include "check.h"
#include "neglabel.h"
#include "util.h"

/* A worker that fails out of memory: its error, saved to be raised by the
 * caller (the model loader's converting and bf16-packing threads; they
 * kept the message only, and out of memory came back as invalid input). */
static void *failing_worker(void *arg) {
    nli_seterr_code(NL_ERR_NOMEM, "out of memory allocating 12 bytes");
    nli_err_save(arg);
    return NULL;
}

static void *fresh_thread(void *arg) {
    (void)arg;
    return (void *)(intptr_t)nl_last_status();
}

int main(void) {
    const char *tmp = check_tmpdir();
    char *missing = check_path(tmp, "no-such.npy"), *bad = check_path(tmp, "bad.npy");
    float *d = NULL;
    size_t r = 0, c = 0;

    CHECK(nl_npy_load(missing, &d, &r, &c) != 0 && nl_last_status() == NL_ERR_IO, "missing file: %s (%s)",
          nl_status_name(nl_last_status()), nl_last_error());
    CHECK(strstr(nl_last_error(), "no-such.npy") != NULL, "message names the file: %s", nl_last_error());

    FILE *f = fopen(bad, "wb");
    fputs("not an npy file at all", f);
    fclose(f);
    CHECK(nl_npy_load(bad, &d, &r, &c) != 0 && nl_last_status() == NL_ERR_INVALID, "garbage file: %s (%s)",
          nl_status_name(nl_last_status()), nl_last_error());

    nl_model_params p = nl_model_default_params();
    p.precision = NL_PRECISION_FP16;
    char *tiny = check_path(check_shared(), "fixtures/tiny-clip"); /* exits 77 without the data */
    if (tiny) {
        nl_model *m = nl_model_load(tiny, &p);
        CHECK(!m && nl_last_status() == NL_ERR_UNSUPPORTED, "fp16 on the CPU: %s (%s)",
              nl_status_name(nl_last_status()), nl_last_error());
        nl_model_free(m);
        /* A missing image: I/O, also when it comes back from a decoding thread. */
        nl_model *cm = nl_model_load(tiny, NULL);
        const char *img[2] = {missing, missing};
        float e[2 * 1024];
        CHECK(cm && nl_embed_images(cm, img, 2, NL_RESAMPLE_MODEL, e, NULL) != 0 && nl_last_status() == NL_ERR_IO,
              "missing image: %s (%s)", nl_status_name(nl_last_status()), nl_last_error());
        /* the same through the cached path and the readable-only one with
         * strict (before: invalid input, the kind lost between the chunks) */
        CHECK(cm && nl_embed_image_files(cm, NULL, NL_RESAMPLE_MODEL, img, 2, e, NULL, NULL) != 0 &&
                  nl_last_status() == NL_ERR_IO && strstr(nl_last_error(), "no-such.npy"),
              "missing image, nl_embed_image_files: %s (%s)", nl_status_name(nl_last_status()), nl_last_error());
        size_t good[2], ng = 0;
        CHECK(cm && nl_embed_image_files_readable(cm, NULL, NL_RESAMPLE_MODEL, img, 2, 1, e, good, &ng, NULL) != 0 &&
                  nl_last_status() == NL_ERR_IO && strstr(nl_last_error(), "no-such.npy"),
              "missing image, strict: %s (%s)", nl_status_name(nl_last_status()), nl_last_error());
        nl_model_free(cm);
    }

    nl_device dev;
    int idx;
    CHECK(nl_parse_device("tpu", &dev, &idx) != 0 && nl_last_status() == NL_ERR_INVALID, "bad device name");
    /* AUTO resolves as nl_cuda_auto_device says; CPU and CUDA stay; an
     * unknown kind is refused, also by scoring, which resolves the same way */
    int want = nl_cuda_auto_device();
    dev = NL_DEVICE_AUTO;
    idx = 7;
    CHECK(nl_resolve_device(&dev, &idx) == 0 && dev == (want >= 0 ? NL_DEVICE_CUDA : NL_DEVICE_CPU) &&
              idx == (want >= 0 ? want : 0),
          "auto resolves to %d:%d (auto device %d)", (int)dev, idx, want);
    dev = NL_DEVICE_CUDA;
    idx = 5;
    CHECK(nl_resolve_device(&dev, &idx) == 0 && dev == NL_DEVICE_CUDA && idx == 5, "cuda:5 stays");
    dev = NL_DEVICE_CPU;
    CHECK(nl_resolve_device(&dev, &idx) == 0 && dev == NL_DEVICE_CPU, "cpu stays");
    dev = (nl_device)9;
    CHECK(nl_resolve_device(&dev, &idx) != 0 && nl_last_status() == NL_ERR_INVALID &&
              strstr(nl_last_error(), "unknown device kind 9"),
          "unknown device kind: %s", nl_last_error());
    {
        nl_score_params sp = nl_score_default_params(NL_METHOD_MCM);
        sp.device = (nl_device)9;
        float im[4] = {1, 0, 0, 0}, id[4] = {0, 1, 0, 0};
        double sc[1];
        CHECK(nl_score(im, 1, id, 1, NULL, 0, 4, &sp, sc, NULL, NULL) != 0 &&
                  strstr(nl_last_error(), "score: unknown device kind 9"),
              "score on an unknown device kind: %s", nl_last_error());
    }
    if (!nl_cuda_built()) {
        CHECK(nl_cuda_device_count() == 0 && nl_last_status() == NL_ERR_UNSUPPORTED, "no CUDA build: %s",
              nl_status_name(nl_last_status()));
    } else if (nl_cuda_device_count() == 0) {
        CHECK(nl_last_status() == NL_ERR_DEVICE, "CUDA build without a GPU: %s (%s)", nl_status_name(nl_last_status()),
              nl_last_error());
    }
    CHECK(!strcmp(nl_status_name(NL_ERR_NOMEM), "out of memory"), "status names");

    pthread_t t;
    void *st = NULL;
    pthread_create(&t, NULL, fresh_thread, NULL);
    pthread_join(t, &st);
    CHECK((intptr_t)st == NL_OK, "a new thread starts with NL_OK");

    free(missing);
    free(bad);
    free(tiny);
    nli_saved_err e;
    pthread_t w;
    pthread_create(&w, NULL, failing_worker, &e);
    pthread_join(w, NULL);
    nli_seterr("something else");
    nli_err_restore(&e);
    CHECK(nl_last_status() == NL_ERR_NOMEM && !strcmp(nl_last_error(), "out of memory allocating 12 bytes"),
          "a worker's error raised again: %s (%s)", nl_status_name(nl_last_status()), nl_last_error());
    nli_seterr("x.bin: y");
    nli_prefixerr_file("x.bin");
    CHECK(!strcmp(nl_last_error(), "x.bin: y"), "prefixed once: %s", nl_last_error());
    nli_prefixerr_file("x.b");
    CHECK(!strcmp(nl_last_error(), "x.b: x.bin: y"), "a name the message begins with is not the file: %s",
          nl_last_error());
    return check_done();
}
