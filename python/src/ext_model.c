/* ext_model.c — the Model type (neglabel._neglabel.Model): loading,
 * closing, the embedding calls, the tokenizer and the resolved settings.
 * Each call holds the model's lock with the GIL released (MODEL_CALL,
 * ext.h); its negatives and mining methods are in ext_negatives.c. */
#include "ext.h"

/* ------------------------------------------------------------ Model */

int nlpy_model_ok(ModelObject *self) {
    if (!self->m) {
        PyErr_SetString(PyExc_ValueError, "the model is closed");
        return 0;
    }
    return 1;
}

static PyObject *Model_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    ModelObject *self = (ModelObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", "device", "precision", "threads", "batch_size", NULL};
    PyObject *path = NULL;
    const char *device = "auto", *precision = NULL;
    int threads = 0, batch = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|szii:Model", kwlist, PyUnicode_FSConverter, &path, &device,
                                     &precision, &threads, &batch))
        return -1;
    if (self->m) {
        Py_DECREF(path);
        PyErr_SetString(PyExc_RuntimeError, "Model is already initialised");
        return -1;
    }
    if (threads < 0 || batch < 0) {
        Py_DECREF(path);
        PyErr_SetString(nlpy_InvalidInputError, threads < 0 ? "threads must be >= 0 (0: all cores)"
                                                      : "batch_size must be >= 0 (0: the default)");
        return -1;
    }
    nl_model_params p = nl_model_default_params();
    p.n_threads = threads;
    p.batch_size = batch;
    if (nl_parse_device(device, &p.device, &p.device_index) != 0 ||
        (precision && nl_parse_precision(precision, &p.precision) != 0)) {
        Py_DECREF(path);
        nlpy_raise_last();
        return -1;
    }
    const char *dir = PyBytes_AS_STRING(path);
    nl_model *m;
    nl_status st = NL_OK;
    char *msg = NULL;
    Py_BEGIN_ALLOW_THREADS
    m = nl_model_load(dir, &p);
    if (!m) {
        st = nl_last_status();
        msg = strdup(nl_last_error());
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (!m) { /* a download stopped by Ctrl-C raises KeyboardInterrupt */
        failure f = {st, msg, 0};
        nlpy_fail_raise(&f);
        return -1;
    }
    self->m = m;
    self->dim = (size_t)nl_model_dim(m);
    self->image_size = (size_t)nl_model_image_size(m);
    return 0;
}

static void Model_dealloc(ModelObject *self) {
    if (self->m) nl_model_free(self->m);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

int nlpy_model_acquire(ModelObject *self, failure *f) {
    if (nlpy_in_callback) { /* a handler inside a call, which may hold this very lock: never wait */
        if (PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) return 1;
        f->closed = 2;
        return 0;
    }
    for (;;) {
        PyLockStatus r;
        Py_BEGIN_ALLOW_THREADS
        r = PyThread_acquire_lock_timed(self->lock, 100000, 0);
        Py_END_ALLOW_THREADS
        if (r == PY_LOCK_ACQUIRED) return 1;
        if (PyErr_CheckSignals() != 0) {
            f->closed = 3;
            return 0;
        }
    }
}

static PyObject *Model_close(ModelObject *self, PyObject *unused) {
    nl_model *m = NULL;
    failure f = {0}; /* closing twice is fine */
    MODEL_CALL(self, f, { m = self->m; self->m = NULL; });
    if (f.closed >= 2) return nlpy_fail_raise(&f);
    if (m) {
        Py_BEGIN_ALLOW_THREADS
        nl_model_free(m);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

/* embed_texts(texts, out): raw text projections into out (n x dim float32). */
static PyObject *Model_embed_texts(ModelObject *self, PyObject *args) {
    PyObject *texts, *out;
    if (!PyArg_ParseTuple(args, "OO:embed_texts", &texts, &out) || !nlpy_model_ok(self)) return NULL;
    strarr t;
    if (nlpy_strarr_from(texts, 0, &t, "texts") != 0) return NULL;
    Py_buffer b;
    if (nlpy_get_buffer(out, &b, 1, 4, 'f', "out") != 0) { nlpy_strarr_free(&t); return NULL; }
    PyObject *res = NULL;
    if (nlpy_check_len(&b, t.n * (size_t)self->dim, "out") == 0) {
        int rc = 0;
        failure f = {0};
        if (t.n) MODEL_CALL(self, f, { rc = nl_embed_texts(self->m, t.v, t.n, b.buf); if (rc) nlpy_fail_capture(&f); });
        res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
    }
    PyBuffer_Release(&b);
    nlpy_strarr_free(&t);
    return res;
}

/* embed_paths(paths, resample, out): raw image projections of files;
 * pixels_paths(...): the pixels the model is given (n x 3 x S x S). */
static PyObject *paths_call(ModelObject *self, PyObject *args, int pixels) {
    PyObject *paths, *out;
    int r;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, pixels ? "OiO:pixels_paths" : "OiO:embed_paths", &paths, &r, &out) ||
        !nlpy_model_ok(self) || nlpy_parse_resample(r, &resample))
        return NULL;
    strarr p;
    if (nlpy_strarr_from(paths, 1, &p, "paths") != 0) return NULL;
    Py_buffer b;
    if (nlpy_get_buffer(out, &b, 1, 4, 'f', "out") != 0) { nlpy_strarr_free(&p); return NULL; }
    PyObject *res = NULL;
    size_t row = pixels ? 3 * self->image_size * self->image_size : (size_t)self->dim;
    if (nlpy_check_len(&b, p.n * row, "out") == 0) {
        int rc = 0;
        failure f = {0};
        if (p.n)
            MODEL_CALL(self, f, {
                rc = pixels ? nl_image_pixels(self->m, p.v, p.n, resample, b.buf, NULL)
                            : nl_embed_images(self->m, p.v, p.n, resample, b.buf, NULL);
                if (rc) nlpy_fail_capture(&f);
            });
        res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
    }
    PyBuffer_Release(&b);
    nlpy_strarr_free(&p);
    return res;
}
static PyObject *Model_embed_paths(ModelObject *self, PyObject *args) { return paths_call(self, args, 0); }
static PyObject *Model_pixels_paths(ModelObject *self, PyObject *args) { return paths_call(self, args, 1); }

/* embed_pixels(pixels, n, out): raw projections of n preprocessed images,
 * a C-contiguous float32 buffer of n x 3 x S x S (the wrapper checks the
 * shape and converts). */
static PyObject *Model_embed_pixels(ModelObject *self, PyObject *args) {
    PyObject *pixels, *out;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OnO:embed_pixels", &pixels, &n, &out) || !nlpy_model_ok(self)) return NULL;
    if (n < 0) return PyErr_Format(nlpy_InvalidInputError, "embed_pixels: n must be >= 0, got %zd", n);
    size_t S = self->image_size;
    Py_buffer pb, ob;
    if (nlpy_get_buffer(pixels, &pb, 0, 4, 'f', "pixels") != 0) return NULL;
    if (nlpy_get_buffer(out, &ob, 1, 4, 'f', "out") != 0) { PyBuffer_Release(&pb); return NULL; }
    PyObject *res = NULL;
    if (nlpy_check_len(&pb, (size_t)n * 3 * S * S, "pixels") == 0 &&
        nlpy_check_len(&ob, (size_t)n * (size_t)self->dim, "out") == 0) {
        int rc = 0;
        failure f = {0};
        if (n)
            MODEL_CALL(self, f, { rc = nl_embed_pixels(self->m, pb.buf, (size_t)n, ob.buf); if (rc) nlpy_fail_capture(&f); });
        res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
    }
    PyBuffer_Release(&ob);
    PyBuffer_Release(&pb);
    return res;
}

/* embed_arrays(arrays, resample, out): raw projections of decoded images
 * (pixels_arrays(...): the pixels the model is given, n x 3 x S x S),
 * each an H x W x 3 uint8 buffer whose pixels are 3 bytes apart and
 * channels 1 byte apart; rows may be any stride >= W*3 apart (a crop of a
 * larger image is used in place). */
static PyObject *arrays_call(ModelObject *self, PyObject *args, int pixels) {
    PyObject *arrays, *out;
    int r;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, pixels ? "OiO:pixels_arrays" : "OiO:embed_arrays", &arrays, &r, &out) ||
        !nlpy_model_ok(self) ||
        nlpy_parse_resample(r, &resample))
        return NULL;
    PyObject *fast = nlpy_seq_tuple(arrays, "arrays: expected a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    Py_buffer *bufs = PyMem_Calloc((size_t)n + 1, sizeof *bufs);
    nl_rgb_image *imgs = PyMem_Calloc((size_t)n + 1, sizeof *imgs);
    Py_ssize_t got = 0;
    PyObject *res = NULL;
    Py_buffer ob = {0};
    int have_out = 0;
    if (!bufs || !imgs) { PyErr_NoMemory(); goto done; }
    for (; got < n; got++) {
        Py_buffer *b = &bufs[got];
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, got), b, PyBUF_STRIDED_RO | PyBUF_FORMAT) != 0) goto done;
        const char *fmt = b->format ? b->format : "B";
        if (b->ndim != 3 || b->itemsize != 1 || strcmp(fmt, "B") != 0 || b->shape[2] != 3) {
            PyErr_Format(nlpy_InvalidInputError, "image %zd: expected an H x W x 3 array of uint8, got %d dimensions of format '%s'",
                         got, b->ndim, fmt);
            got++;
            goto done;
        }
        /* a size-1 dimension's stride is meaningless (numpy may set any) */
        if (b->strides[2] != 1 || (b->shape[1] > 1 && b->strides[1] != 3) ||
            (b->shape[0] > 1 && b->strides[0] < 3 * b->shape[1]) || b->shape[0] > INT_MAX || b->shape[1] > INT_MAX) {
            PyErr_Format(nlpy_InvalidInputError, "image %zd: pixels must be 3 bytes apart and rows at least width*3 bytes "
                         "apart (copy it with numpy.ascontiguousarray)", got);
            got++;
            goto done;
        }
        imgs[got].rgb = b->buf;
        imgs[got].height = (int)b->shape[0];
        imgs[got].width = (int)b->shape[1];
        imgs[got].stride = b->shape[0] > 1 ? (size_t)b->strides[0] : (size_t)(3 * b->shape[1]);
    }
    if (nlpy_get_buffer(out, &ob, 1, 4, 'f', "out") != 0) goto done;
    have_out = 1;
    size_t S = self->image_size, row = pixels ? 3 * S * S : (size_t)self->dim;
    if (nlpy_check_len(&ob, (size_t)n * row, "out") != 0) goto done;
    int rc = 0;
    failure f = {0};
    if (n)
        MODEL_CALL(self, f, {
            rc = pixels ? nl_rgb_pixels(self->m, imgs, (size_t)n, resample, ob.buf, NULL)
                        : nl_embed_rgb(self->m, imgs, (size_t)n, resample, ob.buf, NULL);
            if (rc) nlpy_fail_capture(&f);
        });
    res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
done:
    if (have_out) PyBuffer_Release(&ob);
    for (Py_ssize_t i = 0; i < got; i++)
        if (bufs[i].obj) PyBuffer_Release(&bufs[i]);
    PyMem_Free(bufs);
    PyMem_Free(imgs);
    Py_DECREF(fast);
    return res;
}

static PyObject *Model_embed_arrays(ModelObject *self, PyObject *args) { return arrays_call(self, args, 0); }
static PyObject *Model_pixels_arrays(ModelObject *self, PyObject *args) { return arrays_call(self, args, 1); }

/* embed_image_files(paths, resample, cache_dir, strict, out) -> list of the
 * indices embedded: nl_embed_image_files_readable (L2-normalised rows packed
 * at the top of out, unreadable images skipped with a warning unless strict). */
static PyObject *Model_embed_image_files(ModelObject *self, PyObject *args) {
    PyObject *paths, *cache, *out;
    int r, strict;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, "OiOpO:embed_image_files", &paths, &r, &cache, &strict, &out) || !nlpy_model_ok(self) ||
        nlpy_parse_resample(r, &resample))
        return NULL;
    strarr p;
    PyObject *ck;
    nl_embed_opts o = {NULL, 0};
    if (nlpy_opt_path(cache, &o.cache_dir, &ck) != 0) return NULL;
    if (nlpy_strarr_from(paths, 1, &p, "paths") != 0) { Py_XDECREF(ck); return NULL; }
    Py_buffer b;
    PyObject *res = NULL;
    size_t *good = NULL, n_good = 0;
    if (nlpy_get_buffer(out, &b, 1, 4, 'f', "out") != 0) goto done0;
    if (nlpy_check_len(&b, p.n * (size_t)self->dim, "out") != 0) goto done;
    if (!(good = PyMem_Calloc(p.n + 1, sizeof *good))) { PyErr_NoMemory(); goto done; }
    int rc = 0;
    failure f = {0};
    if (p.n)
        MODEL_CALL(self, f, {
            rc = nl_embed_image_files_readable(self->m, &o, resample, p.v, p.n, strict, b.buf, good, &n_good, NULL);
            if (rc) nlpy_fail_capture(&f);
        });
    if (rc || f.closed) { nlpy_fail_raise(&f); goto done; }
    if (!(res = PyList_New((Py_ssize_t)n_good))) goto done;
    for (size_t i = 0; i < n_good; i++) {
        PyObject *v = PyLong_FromSize_t(good[i]);
        if (!v) { Py_CLEAR(res); goto done; }
        PyList_SET_ITEM(res, (Py_ssize_t)i, v);
    }
done:
    PyBuffer_Release(&b);
done0:
    PyMem_Free(good);
    nlpy_strarr_free(&p);
    Py_XDECREF(ck);
    return res;
}

/* The result of an embedding call with per-image messages: its failure
 * raised, else a list of None for each image embedded and the library's
 * message for each that failed; frees the messages either way. */
static PyObject *errors_list(int rc, failure *f, char **errs, const int *status, size_t n) {
    PyObject *l = rc || f->closed ? nlpy_fail_raise(f) : PyList_New((Py_ssize_t)n);
    for (size_t i = 0; i < n; i++) {
        PyObject *v = NULL;
        if (l && !rc) {
            if (status[i] == 0) v = Py_NewRef(Py_None);
            else v = nlpy_utf8_str(errs[i] ? errs[i] : "the image could not be read");
            if (v) PyList_SET_ITEM(l, (Py_ssize_t)i, v);
            else Py_CLEAR(l);
        }
        free(errs[i]);
    }
    return l;
}

/* embed_files_each(paths, resample, cache_dir, out[, quiet=True]) -> [None
 * or message]: nl_embed_image_files (L2-normalised rows, as `neglabel
 * score` embeds them; rows of unreadable images are zero, their messages
 * returned). quiet: no INFO messages about the cache. */
static PyObject *Model_embed_files_each(ModelObject *self, PyObject *args) {
    PyObject *paths, *cache, *out;
    int r, quiet = 1;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, "OiOO|p:embed_files_each", &paths, &r, &cache, &out, &quiet) || !nlpy_model_ok(self) ||
        nlpy_parse_resample(r, &resample))
        return NULL;
    strarr p;
    PyObject *ck, *res = NULL;
    nl_embed_opts o = {NULL, quiet};
    if (nlpy_opt_path(cache, &o.cache_dir, &ck) != 0) return NULL;
    if (nlpy_strarr_from(paths, 1, &p, "paths") != 0) { Py_XDECREF(ck); return NULL; }
    Py_buffer b;
    int *st = PyMem_Calloc(p.n + 1, sizeof *st);
    char **errs = PyMem_Calloc(p.n + 1, sizeof *errs);
    if (!st || !errs) { PyErr_NoMemory(); goto done0; }
    if (nlpy_get_buffer(out, &b, 1, 4, 'f', "out") != 0) goto done0;
    if (nlpy_check_len(&b, p.n * (size_t)self->dim, "out") == 0) {
        int rc = 0;
        failure f = {0};
        if (p.n)
            MODEL_CALL(self, f, {
                rc = nl_embed_image_files(self->m, &o, resample, p.v, p.n, b.buf, st, errs);
                if (rc) nlpy_fail_capture(&f);
            });
        res = errors_list(rc, &f, errs, st, p.n);
    }
    PyBuffer_Release(&b);
done0:
    PyMem_Free(st);
    PyMem_Free(errs);
    nlpy_strarr_free(&p);
    Py_XDECREF(ck);
    return res;
}

/* embed_buffers_each(buffers, names, resample, out) -> [None or message]:
 * encoded images (bytes-like) through nl_embed_image_buffers, then
 * nl_normalize_rows: the rows the same files give embed_files_each. */
static PyObject *Model_embed_buffers_each(ModelObject *self, PyObject *args) {
    PyObject *bufs, *names, *out;
    int r;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, "OOiO:embed_buffers_each", &bufs, &names, &r, &out) || !nlpy_model_ok(self) ||
        nlpy_parse_resample(r, &resample))
        return NULL;
    PyObject *fast = nlpy_seq_tuple(bufs, "buffers: expected a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    strarr nm;
    if (nlpy_strarr_from(names, 0, &nm, "names") != 0) { Py_DECREF(fast); return NULL; }
    Py_buffer *views = PyMem_Calloc((size_t)n + 1, sizeof *views);
    nl_image_buffer *imgs = PyMem_Calloc((size_t)n + 1, sizeof *imgs);
    int *st = PyMem_Calloc((size_t)n + 1, sizeof *st);
    char **errs = PyMem_Calloc((size_t)n + 1, sizeof *errs);
    Py_ssize_t got = 0;
    PyObject *res = NULL;
    Py_buffer ob = {0};
    int have_out = 0;
    if (!views || !imgs || !st || !errs) { PyErr_NoMemory(); goto done; }
    if (nm.n != (size_t)n) {
        PyErr_Format(nlpy_InvalidInputError, "names: expected %zd names, got %zu", n, nm.n);
        goto done;
    }
    for (; got < n; got++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, got), &views[got], PyBUF_SIMPLE) != 0) goto done;
        imgs[got] = (nl_image_buffer){views[got].buf, (size_t)views[got].len, nm.v[got]};
    }
    if (nlpy_get_buffer(out, &ob, 1, 4, 'f', "out") != 0) goto done;
    have_out = 1;
    if (nlpy_check_len(&ob, (size_t)n * self->dim, "out") != 0) goto done;
    int rc = 0;
    failure f = {0};
    if (n)
        MODEL_CALL(self, f, {
            rc = nl_embed_image_buffers(self->m, imgs, (size_t)n, resample, ob.buf, st, errs);
            if (rc) nlpy_fail_capture(&f);
            else nl_normalize_rows(ob.buf, (size_t)n, self->dim);
        });
    res = errors_list(rc, &f, errs, st, (size_t)n);
done:
    if (have_out) PyBuffer_Release(&ob);
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    PyMem_Free(imgs);
    PyMem_Free(st);
    PyMem_Free(errs);
    nlpy_strarr_free(&nm);
    Py_DECREF(fast);
    return res;
}

/* embed_words(words, templates, cache_dir, out): nl_embed_words (normalised,
 * template ensemble, cached). */
static PyObject *Model_embed_words(ModelObject *self, PyObject *args) {
    PyObject *words, *templates, *cache, *out;
    int raw = 0; /* CSP's ensemble: mean of the raw prompt embeddings, normalised once */
    if (!PyArg_ParseTuple(args, "OOOO|p:embed_words", &words, &templates, &cache, &out, &raw) || !nlpy_model_ok(self))
        return NULL;
    strarr w, t;
    PyObject *ck, *res = NULL;
    nl_embed_opts o = {NULL, 0};
    if (nlpy_opt_path(cache, &o.cache_dir, &ck) != 0) return NULL;
    if (nlpy_strarr_from(words, 0, &w, "words") != 0) { Py_XDECREF(ck); return NULL; }
    if (nlpy_strarr_from(templates, 0, &t, "templates") != 0) { nlpy_strarr_free(&w); Py_XDECREF(ck); return NULL; }
    Py_buffer b;
    if (nlpy_get_buffer(out, &b, 1, 4, 'f', "out") == 0) {
        if (nlpy_check_len(&b, w.n * (size_t)self->dim, "out") == 0) {
            int rc = 0;
            failure f = {0};
            MODEL_CALL(self, f, {
                rc = (raw ? nl_embed_words_raw : nl_embed_words)(self->m, &o, w.v, w.n, t.v, t.n, b.buf);
                if (rc) nlpy_fail_capture(&f);
            });
            res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
        }
        PyBuffer_Release(&b);
    }
    nlpy_strarr_free(&w);
    nlpy_strarr_free(&t);
    Py_XDECREF(ck);
    return res;
}

/* ------------------------------------------------------------ model info */

static PyObject *Model_tokenize(ModelObject *self, PyObject *arg) {
    if (!nlpy_model_ok(self)) return NULL;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "text: expected str, got %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    PyObject *b = PyUnicode_AsUTF8String(arg); /* "\0" allowed: ftfy removes it */
    if (!b) return NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 0;
    failure f = {0};
    MODEL_CALL(self, f, {
        rc = nl_tokenize_n(self->m, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b), &ids, &n);
        if (rc) nlpy_fail_capture(&f);
    });
    Py_DECREF(b);
    if (rc || f.closed) return nlpy_fail_raise(&f);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *v = PyLong_FromLong(ids[i]);
        if (!v) { Py_CLEAR(l); break; }
        PyList_SET_ITEM(l, (Py_ssize_t)i, v);
    }
    free(ids);
    return l;
}

static PyObject *Model_info_json(ModelObject *self, PyObject *unused) {
    if (!nlpy_model_ok(self)) return NULL;
    char *js = NULL;
    failure f = {0};
    MODEL_CALL(self, f, { js = nl_model_info_json(self->m); if (!js) nlpy_fail_capture(&f); });
    if (!js) return nlpy_fail_raise(&f);
    PyObject *s = nlpy_utf8_str(js);
    free(js);
    return s;
}

/* describe() -> dict of the resolved settings (cheap getters). */
static PyObject *Model_describe(ModelObject *self, PyObject *unused) {
    if (!nlpy_model_ok(self)) return NULL;
    int idx = 0;
    nl_device d = NL_DEVICE_CPU;
    PyObject *res = NULL;
    char dev[32], name[192] = "", fp[96] = ""; /* copied under the lock: the model's own strings */
    const char *prec = NULL;
    int dim = 0, size = 0, threads = 0;
    nl_resample rs = NL_RESAMPLE_BICUBIC;
    failure f = {0};
    MODEL_CALL(self, f, {
        d = nl_model_device(self->m, &idx);
        snprintf(name, sizeof name, "%s", nl_model_device_name(self->m));
        prec = nl_precision_name(nl_model_precision(self->m)); /* a static string */
        snprintf(fp, sizeof fp, "%s", nl_model_fingerprint(self->m));
        dim = nl_model_dim(self->m);
        size = nl_model_image_size(self->m);
        threads = nl_model_threads(self->m);
        rs = nl_model_resample(self->m);
    });
    if (f.closed) return nlpy_fail_raise(&f);
    /* (name and fp are copies: a close() on another thread may free the
     * model between this lock's release and the GIL's return; it frees
     * with the GIL released) */
    if (d == NL_DEVICE_CUDA) snprintf(dev, sizeof dev, "cuda:%d", idx);
    else snprintf(dev, sizeof dev, "cpu");
    res = Py_BuildValue("{s:s,s:i,s:s,s:s,s:s,s:i,s:i,s:i,s:s}", "device", dev, "device_index", idx, "device_name",
                        name, "precision", prec ? prec : "", "fingerprint", fp, "dim", dim,
                        "image_size", size, "threads", threads, "resample",
                        rs == NL_RESAMPLE_BILINEAR ? "bilinear" : "bicubic");
    return res;
}

static PyObject *Model_get_closed(ModelObject *self, void *unused) { return PyBool_FromLong(self->m == NULL); }

static PyMethodDef Model_methods[] = {
    {"embed_texts", (PyCFunction)Model_embed_texts, METH_VARARGS, "embed_texts(texts, out): raw text projections"},
    {"embed_paths", (PyCFunction)Model_embed_paths, METH_VARARGS, "embed_paths(paths, resample, out): nl_embed_images"},
    {"embed_arrays", (PyCFunction)Model_embed_arrays, METH_VARARGS, "embed_arrays(arrays, resample, out): nl_embed_rgb"},
    {"embed_pixels", (PyCFunction)Model_embed_pixels, METH_VARARGS, "embed_pixels(pixels, n, out): nl_embed_pixels"},
    {"pixels_paths", (PyCFunction)Model_pixels_paths, METH_VARARGS, "pixels_paths(paths, resample, out): nl_image_pixels"},
    {"pixels_arrays", (PyCFunction)Model_pixels_arrays, METH_VARARGS, "pixels_arrays(arrays, resample, out): nl_rgb_pixels"},
    {"embed_image_files", (PyCFunction)Model_embed_image_files, METH_VARARGS,
     "embed_image_files(paths, resample, cache_dir, strict, out) -> good indices: nl_embed_image_files_readable"},
    {"embed_files_each", (PyCFunction)Model_embed_files_each, METH_VARARGS,
     "embed_files_each(paths, resample, cache_dir, out) -> [None or message]: nl_embed_image_files"},
    {"embed_buffers_each", (PyCFunction)Model_embed_buffers_each, METH_VARARGS,
     "embed_buffers_each(buffers, names, resample, out) -> [None or message]: nl_embed_image_buffers, normalised"},
    {"embed_words", (PyCFunction)Model_embed_words, METH_VARARGS, "embed_words(words, templates, cache_dir, out[, raw])"},
    {"negatives_embed", (PyCFunction)nlpy_model_negatives_embed, METH_VARARGS,
     "negatives_embed(negatives, path, cache_dir, out)"},
    {"mine", (PyCFunction)nlpy_model_mine, METH_VARARGS, "mine(...): nl_mine_model"},
    {"tokenize", (PyCFunction)Model_tokenize, METH_O, "tokenize(text) -> ids"},
    {"info_json", (PyCFunction)Model_info_json, METH_NOARGS, "nl_model_info_json"},
    {"describe", (PyCFunction)Model_describe, METH_NOARGS, "resolved settings as a dict"},
    {"close", (PyCFunction)Model_close, METH_NOARGS, "free the model (later calls raise ValueError)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Model_getset[] = {
    {"closed", (getter)Model_get_closed, NULL, "True after close()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject nlpy_ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "neglabel._neglabel.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(path, device='auto', precision=None, threads=0, batch_size=0): a loaded CLIP model (nl_model)",
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
    .tp_init = (initproc)Model_init,
    .tp_new = Model_new,
};
