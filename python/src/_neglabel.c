/* _neglabel.c — the CPython extension under the `neglabel` package, written
 * over the public API (include/neglabel.h) and the C-API of CPython only.
 *
 * Each function here wraps one library call and stays thin: the Python
 * package (python/neglabel/__init__.py) checks and converts arguments,
 * allocates the numpy output arrays and passes them in as writable buffers.
 *
 * Threads: every call that can take long runs with the GIL released. A
 * Model holds a lock: the library lets one nl_model serve one call at a
 * time, so calls on the same Model from several Python threads queue on it
 * (with the GIL released while they wait). The library's log and progress
 * callbacks are installed once, at import, and call back into Python under
 * PyGILState_Ensure: they may run on any thread (also OpenMP workers) while
 * the calling thread has released the GIL.
 *
 * Errors: the library's message (nl_last_error, per thread: read on the
 * thread that made the call, before anything else runs there) raised as
 * neglabel.Error subclasses chosen by nl_last_status(). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <stddef.h>
#include <limits.h>

#include "neglabel.h"

#if PY_VERSION_HEX >= 0x030D0000
#define NLPY_FINALIZING() Py_IsFinalizing()
#else
#define NLPY_FINALIZING() _Py_IsFinalizing()
#endif

/* ------------------------------------------------------------ errors */

static PyObject *Error, *InvalidInputError, *FileError, *OutOfMemoryError, *UnsupportedError, *DeviceError;

static PyObject *status_exception(nl_status s) {
    switch (s) {
    case NL_ERR_INVALID: return InvalidInputError;
    case NL_ERR_IO: return FileError;
    case NL_ERR_NOMEM: return OutOfMemoryError;
    case NL_ERR_UNSUPPORTED: return UnsupportedError;
    case NL_ERR_DEVICE: return DeviceError;
    default: return Error;
    }
}

/* Raise the exception for a message and status; returns NULL. The
 * instance carries .status, the kind's name ("invalid", "io", ...). */
static PyObject *raise_status(nl_status st, const char *msg) {
    PyObject *type = status_exception(st);
    PyObject *m = PyUnicode_DecodeUTF8(msg ? msg : "unknown error", (Py_ssize_t)strlen(msg ? msg : "unknown error"),
                                       "backslashreplace");
    if (!m) return NULL;
    PyObject *exc = PyObject_CallOneArg(type, m);
    Py_DECREF(m);
    if (!exc) return NULL;
    PyObject *name = PyUnicode_FromString(nl_status_name(st));
    if (name) {
        PyObject_SetAttrString(exc, "status", name);
        Py_DECREF(name);
    }
    PyErr_Clear(); /* a failed setattr leaves the exception itself intact */
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

/* The library's last error on this thread, raised. */
static PyObject *raise_last(void) { return raise_status(nl_last_status(), nl_last_error()); }

/* ------------------------------------------------------------ callbacks */

static PyObject *progress_handler; /* callable or NULL; changed under the GIL */
static PyObject *log_handler;
static atomic_int have_progress, have_log;

static void progress_trampoline(const char *label, size_t done, size_t total, double elapsed, int final, void *user) {
    (void)user;
    if (!atomic_load(&have_progress) || NLPY_FINALIZING()) return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *cb = progress_handler;
    Py_XINCREF(cb);
    if (cb) {
        PyObject *r = PyObject_CallFunction(cb, "NnndO",
                                            PyUnicode_DecodeUTF8(label ? label : "", (Py_ssize_t)strlen(label ? label : ""),
                                                                 "replace"),
                                            (Py_ssize_t)done, (Py_ssize_t)total, elapsed, final ? Py_True : Py_False);
        if (!r) PyErr_WriteUnraisable(cb); /* the library's work goes on */
        Py_XDECREF(r);
        Py_DECREF(cb);
    }
    PyGILState_Release(g);
}

static void log_trampoline(nl_log_level level, const char *msg, void *user) {
    (void)user;
    if (!atomic_load(&have_log) || NLPY_FINALIZING()) return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *cb = log_handler;
    Py_XINCREF(cb);
    if (cb) {
        PyObject *r = PyObject_CallFunction(cb, "iN", (int)level,
                                            PyUnicode_DecodeUTF8(msg ? msg : "", (Py_ssize_t)strlen(msg ? msg : ""),
                                                                 "backslashreplace"));
        if (!r) PyErr_WriteUnraisable(cb);
        Py_XDECREF(r);
        Py_DECREF(cb);
    }
    PyGILState_Release(g);
}

static PyObject *set_handler(PyObject *fn, PyObject **slot, atomic_int *flag) {
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "expected a callable or None");
        return NULL;
    }
    PyObject *old = *slot;
    if (fn == Py_None) {
        atomic_store(flag, 0);
        *slot = NULL;
    } else {
        Py_INCREF(fn);
        *slot = fn;
        atomic_store(flag, 1);
    }
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

static PyObject *py_set_progress_handler(PyObject *self, PyObject *fn) {
    return set_handler(fn, &progress_handler, &have_progress);
}
static PyObject *py_set_log_handler(PyObject *self, PyObject *fn) { return set_handler(fn, &log_handler, &have_log); }

/* ------------------------------------------------------------ conversions */

/* A sequence of strings as a C array. fs: paths (str, bytes or PathLike,
 * the filesystem encoding); otherwise str as UTF-8. NULL entries where
 * allow_none and the item is None. */
typedef struct {
    PyObject *keep; /* list of bytes objects owning the strings */
    const char **v;
    size_t n;
} strarr;

static void strarr_free(strarr *a) {
    Py_CLEAR(a->keep);
    PyMem_Free(a->v);
    a->v = NULL;
    a->n = 0;
}

static int utf8_bytes(PyObject *item, PyObject **out, const char *what) {
    if (!PyUnicode_Check(item)) {
        PyErr_Format(PyExc_TypeError, "%s: expected str, got %.100s", what, Py_TYPE(item)->tp_name);
        return -1;
    }
    PyObject *b = PyUnicode_AsUTF8String(item);
    if (!b) return -1;
    if (strlen(PyBytes_AS_STRING(b)) != (size_t)PyBytes_GET_SIZE(b)) {
        Py_DECREF(b);
        PyErr_Format(PyExc_ValueError, "%s: embedded null character", what);
        return -1;
    }
    *out = b;
    return 0;
}

static int strarr_from(PyObject *seq, int fs, strarr *a, const char *what) {
    memset(a, 0, sizeof *a);
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    a->keep = PyList_New(n);
    a->v = PyMem_Calloc((size_t)n + 1, sizeof *a->v);
    if (!a->keep || !a->v) {
        Py_DECREF(fast);
        strarr_free(a);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i), *b = NULL;
        if (fs) {
            if (!PyUnicode_FSConverter(item, &b)) b = NULL;
        } else if (utf8_bytes(item, &b, what) != 0) b = NULL;
        if (!b) {
            Py_DECREF(fast);
            strarr_free(a);
            return -1;
        }
        PyList_SET_ITEM(a->keep, i, b);
        a->v[i] = PyBytes_AS_STRING(b);
    }
    a->n = (size_t)n;
    Py_DECREF(fast);
    return 0;
}

/* Optional UTF-8 string argument (None -> NULL); *keep owns the bytes. */
static int opt_utf8(PyObject *o, const char **s, PyObject **keep, const char *what) {
    *s = NULL;
    *keep = NULL;
    if (o == Py_None) return 0;
    if (utf8_bytes(o, keep, what) != 0) return -1;
    *s = PyBytes_AS_STRING(*keep);
    return 0;
}

/* Optional path argument (None -> NULL). */
static int opt_path(PyObject *o, const char **s, PyObject **keep) {
    *s = NULL;
    *keep = NULL;
    if (o == Py_None) return 0;
    if (!PyUnicode_FSConverter(o, keep)) return -1;
    *s = PyBytes_AS_STRING(*keep);
    return 0;
}

static PyObject *utf8_str(const char *s) {
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

static PyObject *strvec_list(const nl_strvec *v, int fs) {
    PyObject *l = PyList_New((Py_ssize_t)v->n);
    if (!l) return NULL;
    for (size_t i = 0; i < v->n; i++) {
        PyObject *s = fs ? PyUnicode_DecodeFSDefault(v->v[i]) : utf8_str(v->v[i]);
        if (!s) { Py_DECREF(l); return NULL; }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

/* A C-contiguous buffer of items of the given size and format kind
 * ('f' float, 'u' unsigned or 'i' signed integer); writable when asked. */
static int get_buffer(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, char kind, const char *what) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) != 0) return -1;
    const char *f = b->format ? b->format : "B";
    while (*f == '<' || *f == '=' || *f == '@') f++;
    int ok = b->itemsize == itemsize && f[0] && !f[1];
    if (ok) {
        if (kind == 'f') ok = f[0] == 'f' || f[0] == 'd';
        else if (kind == 'u') ok = strchr("BHILQN", f[0]) != NULL;
        else ok = strchr("bhilqn", f[0]) != NULL;
    }
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: expected a buffer of %zd-byte %s items, got format '%s'", what, itemsize,
                     kind == 'f' ? "float" : "integer", b->format ? b->format : "B");
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

static int check_len(Py_buffer *b, size_t items, const char *what) {
    if ((size_t)b->len != items * (size_t)b->itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zu items, the buffer holds %zd", what, items,
                     b->len / (b->itemsize ? b->itemsize : 1));
        return -1;
    }
    return 0;
}

static int parse_resample(int r, nl_resample *out) {
    if (r < 0 || r > 2) {
        PyErr_SetString(PyExc_ValueError, "resample must be 0 (bicubic), 1 (bilinear) or 2 (model)");
        return -1;
    }
    *out = (nl_resample)r;
    return 0;
}

/* ------------------------------------------------------------ Model */

typedef struct {
    PyObject_HEAD
    nl_model *m;
    size_t dim;              /* nl_model_dim, kept: readable without the lock */
    PyThread_type_lock lock; /* one library call on the model at a time */
} ModelObject;

/* Run the statements on the model with the GIL released and the model's
 * lock held; f (a failure) records a model closed by another thread. */
#define MODEL_CALL(self, f, ...)                             \
    do {                                                     \
        Py_BEGIN_ALLOW_THREADS                               \
        PyThread_acquire_lock((self)->lock, WAIT_LOCK);      \
        if (!(self)->m) (f).closed = 1; /* closed meanwhile */ \
        else { __VA_ARGS__; }                                \
        PyThread_release_lock((self)->lock);                 \
        Py_END_ALLOW_THREADS                                 \
    } while (0)

/* The failure of a call made inside MODEL_CALL: status and message copied
 * on the calling thread while still inside. */
typedef struct { nl_status st; char *msg; int closed; } failure;
static void fail_capture(failure *f) {
    f->st = nl_last_status();
    f->msg = strdup(nl_last_error());
}
static PyObject *fail_raise(failure *f) {
    if (f->closed) {
        PyErr_SetString(PyExc_ValueError, "the model is closed");
        return NULL;
    }
    raise_status(f->st, f->msg ? f->msg : "out of memory");
    free(f->msg);
    f->msg = NULL;
    return NULL;
}

static int model_ok(ModelObject *self) {
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
        PyErr_SetString(PyExc_ValueError, threads < 0 ? "threads must be >= 0 (0: all cores)"
                                                      : "batch_size must be >= 0 (0: the default)");
        return -1;
    }
    nl_model_params p = nl_model_default_params();
    p.n_threads = threads;
    p.batch_size = batch;
    if (nl_parse_device(device, &p.device, &p.device_index) != 0 ||
        (precision && nl_parse_precision(precision, &p.precision) != 0)) {
        Py_DECREF(path);
        raise_last();
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
    if (!m) {
        raise_status(st, msg ? msg : "out of memory");
        free(msg);
        return -1;
    }
    self->m = m;
    self->dim = (size_t)nl_model_dim(m);
    return 0;
}

static void Model_dealloc(ModelObject *self) {
    if (self->m) nl_model_free(self->m);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Model_close(ModelObject *self, PyObject *unused) {
    nl_model *m = NULL;
    failure f = {0}; /* closing twice is fine */
    MODEL_CALL(self, f, { m = self->m; self->m = NULL; });
    (void)f;
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
    if (!PyArg_ParseTuple(args, "OO:embed_texts", &texts, &out) || !model_ok(self)) return NULL;
    strarr t;
    if (strarr_from(texts, 0, &t, "texts") != 0) return NULL;
    Py_buffer b;
    if (get_buffer(out, &b, 1, 4, 'f', "out") != 0) { strarr_free(&t); return NULL; }
    PyObject *res = NULL;
    if (check_len(&b, t.n * (size_t)self->dim, "out") == 0) {
        int rc = 0;
        failure f = {0};
        if (t.n) MODEL_CALL(self, f, { rc = nl_embed_texts(self->m, t.v, t.n, b.buf); if (rc) fail_capture(&f); });
        res = rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
    }
    PyBuffer_Release(&b);
    strarr_free(&t);
    return res;
}

/* embed_paths(paths, resample, out): raw image projections of files. */
static PyObject *Model_embed_paths(ModelObject *self, PyObject *args) {
    PyObject *paths, *out;
    int r;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, "OiO:embed_paths", &paths, &r, &out) || !model_ok(self) || parse_resample(r, &resample))
        return NULL;
    strarr p;
    if (strarr_from(paths, 1, &p, "paths") != 0) return NULL;
    Py_buffer b;
    if (get_buffer(out, &b, 1, 4, 'f', "out") != 0) { strarr_free(&p); return NULL; }
    PyObject *res = NULL;
    if (check_len(&b, p.n * (size_t)self->dim, "out") == 0) {
        int rc = 0;
        failure f = {0};
        if (p.n)
            MODEL_CALL(self, f, { rc = nl_embed_images(self->m, p.v, p.n, resample, b.buf, NULL); if (rc) fail_capture(&f); });
        res = rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
    }
    PyBuffer_Release(&b);
    strarr_free(&p);
    return res;
}

/* embed_arrays(arrays, resample, out): raw projections of decoded images,
 * each an H x W x 3 uint8 buffer whose pixels are 3 bytes apart and
 * channels 1 byte apart; rows may be any stride >= W*3 apart (a crop of a
 * larger image is used in place). */
static PyObject *Model_embed_arrays(ModelObject *self, PyObject *args) {
    PyObject *arrays, *out;
    int r;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, "OiO:embed_arrays", &arrays, &r, &out) || !model_ok(self) ||
        parse_resample(r, &resample))
        return NULL;
    PyObject *fast = PySequence_Fast(arrays, "arrays: expected a sequence");
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
            PyErr_Format(PyExc_ValueError, "image %zd: expected an H x W x 3 array of uint8, got %d dimensions of format '%s'",
                         got, b->ndim, fmt);
            got++;
            goto done;
        }
        /* a size-1 dimension's stride is meaningless (numpy may set any) */
        if (b->strides[2] != 1 || (b->shape[1] > 1 && b->strides[1] != 3) ||
            (b->shape[0] > 1 && b->strides[0] < 3 * b->shape[1]) || b->shape[0] > INT_MAX || b->shape[1] > INT_MAX) {
            PyErr_Format(PyExc_ValueError, "image %zd: pixels must be 3 bytes apart and rows at least width*3 bytes "
                         "apart (copy it with numpy.ascontiguousarray)", got);
            got++;
            goto done;
        }
        imgs[got].rgb = b->buf;
        imgs[got].height = (int)b->shape[0];
        imgs[got].width = (int)b->shape[1];
        imgs[got].stride = b->shape[0] > 1 ? (size_t)b->strides[0] : (size_t)(3 * b->shape[1]);
    }
    if (get_buffer(out, &ob, 1, 4, 'f', "out") != 0) goto done;
    have_out = 1;
    if (check_len(&ob, (size_t)n * (size_t)self->dim, "out") != 0) goto done;
    int rc = 0;
    failure f = {0};
    if (n) MODEL_CALL(self, f, { rc = nl_embed_rgb(self->m, imgs, (size_t)n, resample, ob.buf, NULL); if (rc) fail_capture(&f); });
    res = rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
done:
    if (have_out) PyBuffer_Release(&ob);
    for (Py_ssize_t i = 0; i < got; i++)
        if (bufs[i].obj) PyBuffer_Release(&bufs[i]);
    PyMem_Free(bufs);
    PyMem_Free(imgs);
    Py_DECREF(fast);
    return res;
}

/* embed_image_files(paths, resample, cache_dir, strict, out) -> list of the
 * indices embedded: nl_embed_image_files_readable (L2-normalised rows packed
 * at the top of out, unreadable images skipped with a warning unless strict). */
static PyObject *Model_embed_image_files(ModelObject *self, PyObject *args) {
    PyObject *paths, *cache, *out;
    int r, strict;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, "OiOpO:embed_image_files", &paths, &r, &cache, &strict, &out) || !model_ok(self) ||
        parse_resample(r, &resample))
        return NULL;
    strarr p;
    PyObject *ck;
    nl_embed_opts o = {NULL, 0};
    if (opt_path(cache, &o.cache_dir, &ck) != 0) return NULL;
    if (strarr_from(paths, 1, &p, "paths") != 0) { Py_XDECREF(ck); return NULL; }
    Py_buffer b;
    PyObject *res = NULL;
    size_t *good = NULL, n_good = 0;
    if (get_buffer(out, &b, 1, 4, 'f', "out") != 0) goto done0;
    if (check_len(&b, p.n * (size_t)self->dim, "out") != 0) goto done;
    if (!(good = PyMem_Calloc(p.n + 1, sizeof *good))) { PyErr_NoMemory(); goto done; }
    int rc = 0;
    failure f = {0};
    if (p.n)
        MODEL_CALL(self, f, {
            rc = nl_embed_image_files_readable(self->m, &o, resample, p.v, p.n, strict, b.buf, good, &n_good, NULL);
            if (rc) fail_capture(&f);
        });
    if (rc || f.closed) { fail_raise(&f); goto done; }
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
    strarr_free(&p);
    Py_XDECREF(ck);
    return res;
}

/* The result of an embedding call with per-image messages: its failure
 * raised, else a list of None for each image embedded and the library's
 * message for each that failed; frees the messages either way. */
static PyObject *errors_list(int rc, failure *f, char **errs, const int *status, size_t n) {
    PyObject *l = rc || f->closed ? fail_raise(f) : PyList_New((Py_ssize_t)n);
    for (size_t i = 0; i < n; i++) {
        PyObject *v = NULL;
        if (l && !rc) {
            if (status[i] == 0) v = Py_NewRef(Py_None);
            else v = utf8_str(errs[i] ? errs[i] : "the image could not be read");
            if (v) PyList_SET_ITEM(l, (Py_ssize_t)i, v);
            else Py_CLEAR(l);
        }
        free(errs[i]);
    }
    return l;
}

/* embed_files_each(paths, resample, cache_dir, out) -> [None or message]:
 * nl_embed_image_files (L2-normalised rows, as `neglabel score` embeds
 * them; rows of unreadable images are zero, their messages returned). */
static PyObject *Model_embed_files_each(ModelObject *self, PyObject *args) {
    PyObject *paths, *cache, *out;
    int r;
    nl_resample resample;
    if (!PyArg_ParseTuple(args, "OiOO:embed_files_each", &paths, &r, &cache, &out) || !model_ok(self) ||
        parse_resample(r, &resample))
        return NULL;
    strarr p;
    PyObject *ck, *res = NULL;
    nl_embed_opts o = {NULL, 1};
    if (opt_path(cache, &o.cache_dir, &ck) != 0) return NULL;
    if (strarr_from(paths, 1, &p, "paths") != 0) { Py_XDECREF(ck); return NULL; }
    Py_buffer b;
    int *st = PyMem_Calloc(p.n + 1, sizeof *st);
    char **errs = PyMem_Calloc(p.n + 1, sizeof *errs);
    if (!st || !errs) { PyErr_NoMemory(); goto done0; }
    if (get_buffer(out, &b, 1, 4, 'f', "out") != 0) goto done0;
    if (check_len(&b, p.n * (size_t)self->dim, "out") == 0) {
        int rc = 0;
        failure f = {0};
        if (p.n)
            MODEL_CALL(self, f, {
                rc = nl_embed_image_files(self->m, &o, resample, p.v, p.n, b.buf, st, errs);
                if (rc) fail_capture(&f);
            });
        res = errors_list(rc, &f, errs, st, p.n);
    }
    PyBuffer_Release(&b);
done0:
    PyMem_Free(st);
    PyMem_Free(errs);
    strarr_free(&p);
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
    if (!PyArg_ParseTuple(args, "OOiO:embed_buffers_each", &bufs, &names, &r, &out) || !model_ok(self) ||
        parse_resample(r, &resample))
        return NULL;
    PyObject *fast = PySequence_Fast(bufs, "buffers: expected a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    strarr nm;
    if (strarr_from(names, 0, &nm, "names") != 0) { Py_DECREF(fast); return NULL; }
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
        PyErr_Format(PyExc_ValueError, "names: expected %zd names, got %zu", n, nm.n);
        goto done;
    }
    for (; got < n; got++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, got), &views[got], PyBUF_SIMPLE) != 0) goto done;
        imgs[got] = (nl_image_buffer){views[got].buf, (size_t)views[got].len, nm.v[got]};
    }
    if (get_buffer(out, &ob, 1, 4, 'f', "out") != 0) goto done;
    have_out = 1;
    if (check_len(&ob, (size_t)n * self->dim, "out") != 0) goto done;
    int rc = 0;
    failure f = {0};
    if (n)
        MODEL_CALL(self, f, {
            rc = nl_embed_image_buffers(self->m, imgs, (size_t)n, resample, ob.buf, st, errs);
            if (rc) fail_capture(&f);
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
    strarr_free(&nm);
    Py_DECREF(fast);
    return res;
}

/* embed_words(words, templates, cache_dir, out): nl_embed_words (normalised,
 * template ensemble, cached). */
static PyObject *Model_embed_words(ModelObject *self, PyObject *args) {
    PyObject *words, *templates, *cache, *out;
    int raw = 0; /* CSP's ensemble: mean of the raw prompt embeddings, normalised once */
    if (!PyArg_ParseTuple(args, "OOOO|p:embed_words", &words, &templates, &cache, &out, &raw) || !model_ok(self))
        return NULL;
    strarr w, t;
    PyObject *ck, *res = NULL;
    nl_embed_opts o = {NULL, 0};
    if (opt_path(cache, &o.cache_dir, &ck) != 0) return NULL;
    if (strarr_from(words, 0, &w, "words") != 0) { Py_XDECREF(ck); return NULL; }
    if (strarr_from(templates, 0, &t, "templates") != 0) { strarr_free(&w); Py_XDECREF(ck); return NULL; }
    Py_buffer b;
    if (get_buffer(out, &b, 1, 4, 'f', "out") == 0) {
        if (check_len(&b, w.n * (size_t)self->dim, "out") == 0) {
            int rc = 0;
            failure f = {0};
            MODEL_CALL(self, f, {
                rc = (raw ? nl_embed_words_raw : nl_embed_words)(self->m, &o, w.v, w.n, t.v, t.n, b.buf);
                if (rc) fail_capture(&f);
            });
            res = rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
        }
        PyBuffer_Release(&b);
    }
    strarr_free(&w);
    strarr_free(&t);
    Py_XDECREF(ck);
    return res;
}

/* ------------------------------------------------------------ negatives */

/* Negatives cross the boundary as a tuple:
 * (words, prompts, pos bytes (0 noun / 1 adj), model str|None, dim,
 *  noun_templates, adj_templates, raw_mean) -- raw_mean optional on input
 *  (CSP's "ensemble=raw", see nl_negatives). */
static PyObject *negatives_tuple(const nl_negatives *n) {
    PyObject *w = strvec_list(&n->words, 0), *p = strvec_list(&n->prompts, 0);
    PyObject *pos = PyBytes_FromStringAndSize((const char *)n->pos, (Py_ssize_t)n->words.n);
    PyObject *model = n->model ? utf8_str(n->model) : Py_NewRef(Py_None);
    PyObject *nt = strvec_list(&n->noun_templates, 0), *at = strvec_list(&n->adj_templates, 0);
    PyObject *res = NULL;
    if (w && p && pos && model && nt && at) res = Py_BuildValue("(OOOOiOOi)", w, p, pos, model, n->dim, nt, at, n->raw_mean);
    Py_XDECREF(w);
    Py_XDECREF(p);
    Py_XDECREF(pos);
    Py_XDECREF(model);
    Py_XDECREF(nt);
    Py_XDECREF(at);
    return res;
}

/* The C view of a negatives tuple, borrowing the strings (arrays owned). */
typedef struct {
    nl_negatives neg;
    strarr w, p, nt, at;
    PyObject *pos_keep, *model_keep;
} negview;

static void negview_free(negview *v) {
    strarr_free(&v->w);
    strarr_free(&v->p);
    strarr_free(&v->nt);
    strarr_free(&v->at);
    Py_CLEAR(v->pos_keep);
    Py_CLEAR(v->model_keep);
}

static int negview_from(PyObject *tup, negview *v) {
    memset(v, 0, sizeof *v);
    PyObject *w, *p, *pos, *model, *nt, *at;
    int dim, raw_mean = 0;
    if (!PyArg_ParseTuple(tup, "OOSOiOO|p;negatives: expected (words, prompts, pos, model, dim, noun_templates, adj_templates[, raw_mean])",
                          &w, &p, &pos, &model, &dim, &nt, &at, &raw_mean))
        return -1;
    const char *ms;
    if (strarr_from(w, 0, &v->w, "words") || strarr_from(p, 0, &v->p, "prompts") ||
        strarr_from(nt, 0, &v->nt, "noun_templates") || strarr_from(at, 0, &v->at, "adj_templates") ||
        opt_utf8(model, &ms, &v->model_keep, "model"))
        goto fail;
    if (v->p.n != v->w.n || (size_t)PyBytes_GET_SIZE(pos) != v->w.n) {
        PyErr_SetString(PyExc_ValueError, "negatives: words, prompts and pos differ in length");
        goto fail;
    }
    for (size_t i = 0; i < v->w.n; i++)
        if ((unsigned char)PyBytes_AS_STRING(pos)[i] > 1) {
            PyErr_SetString(PyExc_ValueError, "negatives: pos entries must be 0 (noun) or 1 (adj)");
            goto fail;
        }
    v->pos_keep = Py_NewRef(pos);
    /* nl_strvec fields point at the borrowed arrays; never freed by the library here */
    v->neg.words = (nl_strvec){(char **)v->w.v, v->w.n, v->w.n};
    v->neg.prompts = (nl_strvec){(char **)v->p.v, v->p.n, v->p.n};
    v->neg.noun_templates = (nl_strvec){(char **)v->nt.v, v->nt.n, v->nt.n};
    v->neg.adj_templates = (nl_strvec){(char **)v->at.v, v->at.n, v->at.n};
    v->neg.pos = (uint8_t *)PyBytes_AS_STRING(pos);
    v->neg.model = (char *)ms;
    v->neg.dim = dim;
    v->neg.raw_mean = raw_mean;
    return 0;
fail:
    negview_free(v);
    return -1;
}

static PyObject *py_negatives_read(PyObject *self, PyObject *args) {
    PyObject *path;
    if (!PyArg_ParseTuple(args, "O&:negatives_read", PyUnicode_FSConverter, &path)) return NULL;
    nl_negatives n;
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_negatives_read(PyBytes_AS_STRING(path), &n);
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (rc) return fail_raise(&f);
    PyObject *res = negatives_tuple(&n);
    nl_negatives_free(&n);
    return res;
}

/* negatives_write(path, negatives, qsim or None) */
static PyObject *py_negatives_write(PyObject *self, PyObject *args) {
    PyObject *path, *tup, *qsim;
    if (!PyArg_ParseTuple(args, "O&OO:negatives_write", PyUnicode_FSConverter, &path, &tup, &qsim)) return NULL;
    negview v;
    PyObject *res = NULL;
    Py_buffer qb = {0};
    int have_q = 0;
    if (negview_from(tup, &v) != 0) goto out0;
    if (qsim != Py_None) {
        if (get_buffer(qsim, &qb, 0, 8, 'f', "similarities") != 0) goto out;
        have_q = 1;
        if (check_len(&qb, v.w.n, "similarities") != 0) goto out;
    }
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_negatives_write(PyBytes_AS_STRING(path), &v.neg, have_q ? qb.buf : NULL);
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    res = rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
out:
    if (have_q) PyBuffer_Release(&qb);
    negview_free(&v);
out0:
    Py_DECREF(path);
    return res;
}

/* negatives_embed(negatives, path_for_messages, cache_dir, out) */
static PyObject *Model_negatives_embed(ModelObject *self, PyObject *args) {
    PyObject *tup, *label, *cache, *out;
    if (!PyArg_ParseTuple(args, "OO&OO:negatives_embed", &tup, PyUnicode_FSConverter, &label, &cache, &out)) return NULL;
    if (!model_ok(self)) { Py_DECREF(label); return NULL; }
    negview v;
    PyObject *ck = NULL, *res = NULL;
    nl_embed_opts o = {NULL, 0};
    if (opt_path(cache, &o.cache_dir, &ck) != 0) { Py_DECREF(label); return NULL; }
    if (negview_from(tup, &v) == 0) {
        Py_buffer b;
        if (get_buffer(out, &b, 1, 4, 'f', "out") == 0) {
            if (check_len(&b, v.w.n * (size_t)self->dim, "out") == 0) {
                int rc = 0;
                failure f = {0};
                MODEL_CALL(self, f, {
                    rc = nl_negatives_embed(self->m, &o, PyBytes_AS_STRING(label), &v.neg, b.buf);
                    if (rc) fail_capture(&f);
                });
                res = rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
            }
            PyBuffer_Release(&b);
        }
        negview_free(&v);
    }
    Py_XDECREF(ck);
    Py_DECREF(label);
    return res;
}

/* Corpus parameters from (wordnet_dir|None, lists_dir|None, include, exclude). */
typedef struct {
    nl_corpus_params cp;
    PyObject *wk, *lk;
    strarr inc, exc;
} corpusview;

static void corpusview_free(corpusview *c) {
    Py_CLEAR(c->wk);
    Py_CLEAR(c->lk);
    strarr_free(&c->inc);
    strarr_free(&c->exc);
}

static int corpusview_from(PyObject *tup, corpusview *c) {
    memset(c, 0, sizeof *c);
    PyObject *wn, *lists, *inc, *exc;
    if (!PyArg_ParseTuple(tup, "OOOO;corpus: expected (wordnet_dir, lists_dir, include, exclude)", &wn, &lists, &inc, &exc))
        return -1;
    if (opt_path(wn, &c->cp.wordnet_dir, &c->wk) || opt_path(lists, &c->cp.lists_dir, &c->lk) ||
        strarr_from(inc, 0, &c->inc, "include") || strarr_from(exc, 0, &c->exc, "exclude")) {
        corpusview_free(c);
        return -1;
    }
    c->cp.include = c->inc.v;
    c->cp.n_include = c->inc.n;
    c->cp.exclude = c->exc.v;
    c->cp.n_exclude = c->exc.n;
    return 0;
}

/* mine(labels, id_emb, corpus, fraction, quantile, total, n_threads,
 *      noun_templates, adj_templates, cache_dir, remove_id_labels)
 * -> (negatives tuple, qsim bytes of float64): nl_mine_model. */
static PyObject *Model_mine(ModelObject *self, PyObject *args) {
    PyObject *labels, *id_emb, *corpus, *nt_o, *at_o, *cache;
    double fraction, quantile;
    Py_ssize_t total;
    int n_threads, remove_id, csp = 0;
    if (!PyArg_ParseTuple(args, "OOOddniOOOp|p:mine", &labels, &id_emb, &corpus, &fraction, &quantile, &total,
                          &n_threads, &nt_o, &at_o, &cache, &remove_id, &csp) ||
        !model_ok(self))
        return NULL;
    if (total < 0) { PyErr_SetString(PyExc_ValueError, "total must be >= 0"); return NULL; }
    strarr lab = {0}, nt = {0}, at = {0};
    corpusview cv;
    PyObject *ck = NULL, *res = NULL;
    Py_buffer ib = {0};
    int have_ib = 0;
    nl_embed_opts o = {NULL, 0};
    if (corpusview_from(corpus, &cv) != 0) return NULL;
    if (opt_path(cache, &o.cache_dir, &ck) || strarr_from(labels, 0, &lab, "labels") ||
        strarr_from(nt_o, 0, &nt, "templates") || strarr_from(at_o, 0, &at, "adj_templates"))
        goto done;
    if (get_buffer(id_emb, &ib, 0, 4, 'f', "id_emb") != 0) goto done;
    have_ib = 1;
    size_t dim = (size_t)self->dim;
    if (check_len(&ib, lab.n * dim, "id_emb") != 0) goto done;
    nl_mine_params mp = nl_mine_default_params();
    mp.fraction = fraction;
    mp.quantile = quantile;
    mp.total = (size_t)total;
    mp.n_threads = n_threads;
    /* csp: CSP's templates, phrases, raw ensembles, similarity cut and (with
     * no include/exclude) its word lists' categories */
    nl_templates t = csp ? nl_templates_csp() : nl_templates_default();
    if (csp) {
        nl_eval_params d = nl_eval_default_params();
        mp.max_cut = d.csp_mine.max_cut;
        if (!cv.cp.n_include && !cv.cp.n_exclude) {
            cv.cp.exclude = d.csp_corpus.exclude;
            cv.cp.n_exclude = d.csp_corpus.n_exclude;
        }
    }
    if (nt.n) { t.noun = nt.v; t.n_noun = nt.n; }
    if (at.n) { t.adj = at.v; t.n_adj = at.n; }
    nl_strvec drop = {(char **)lab.v, lab.n, lab.n};
    nl_negatives neg = {0};
    double *qsim = NULL;
    int rc = 0;
    failure f = {0};
    MODEL_CALL(self, f, {
        rc = nl_mine_model(self->m, &o, ib.buf, lab.n, &cv.cp, remove_id ? &drop : NULL, &mp, &t, &neg, NULL, &qsim);
        if (rc) fail_capture(&f);
    });
    if (rc || f.closed) { fail_raise(&f); goto done; }
    PyObject *nt_tuple = negatives_tuple(&neg);
    PyObject *q = PyBytes_FromStringAndSize((const char *)qsim, (Py_ssize_t)(neg.words.n * sizeof(double)));
    if (nt_tuple && q) res = PyTuple_Pack(2, nt_tuple, q);
    Py_XDECREF(nt_tuple);
    Py_XDECREF(q);
    nl_negatives_free(&neg);
    free(qsim);
done:
    if (have_ib) PyBuffer_Release(&ib);
    strarr_free(&lab);
    strarr_free(&nt);
    strarr_free(&at);
    corpusview_free(&cv);
    Py_XDECREF(ck);
    return res;
}

/* ------------------------------------------------------------ model info */

static PyObject *Model_tokenize(ModelObject *self, PyObject *arg) {
    if (!model_ok(self)) return NULL;
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
        if (rc) fail_capture(&f);
    });
    Py_DECREF(b);
    if (rc || f.closed) return fail_raise(&f);
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
    if (!model_ok(self)) return NULL;
    char *js = NULL;
    failure f = {0};
    MODEL_CALL(self, f, { js = nl_model_info_json(self->m); if (!js) fail_capture(&f); });
    if (!js) return fail_raise(&f);
    PyObject *s = utf8_str(js);
    free(js);
    return s;
}

/* describe() -> dict of the resolved settings (cheap getters). */
static PyObject *Model_describe(ModelObject *self, PyObject *unused) {
    if (!model_ok(self)) return NULL;
    int idx = 0;
    nl_device d = NL_DEVICE_CPU;
    PyObject *res = NULL;
    char dev[32];
    const char *name = NULL, *prec = NULL, *fp = NULL;
    int dim = 0, size = 0, threads = 0;
    nl_resample rs = NL_RESAMPLE_BICUBIC;
    failure f = {0};
    MODEL_CALL(self, f, {
        d = nl_model_device(self->m, &idx);
        name = nl_model_device_name(self->m);
        prec = nl_precision_name(nl_model_precision(self->m));
        fp = nl_model_fingerprint(self->m);
        dim = nl_model_dim(self->m);
        size = nl_model_image_size(self->m);
        threads = nl_model_threads(self->m);
        rs = nl_model_resample(self->m);
    });
    if (f.closed) return fail_raise(&f);
    /* (the strings stay valid: closing needs the GIL, held from here on) */
    if (d == NL_DEVICE_CUDA) snprintf(dev, sizeof dev, "cuda:%d", idx);
    else snprintf(dev, sizeof dev, "cpu");
    res = Py_BuildValue("{s:s,s:i,s:s,s:s,s:s,s:i,s:i,s:i,s:s}", "device", dev, "device_index", idx, "device_name",
                        name ? name : dev, "precision", prec ? prec : "", "fingerprint", fp ? fp : "", "dim", dim,
                        "image_size", size, "threads", threads, "resample",
                        rs == NL_RESAMPLE_BILINEAR ? "bilinear" : "bicubic");
    return res;
}

static PyObject *Model_get_closed(ModelObject *self, void *unused) { return PyBool_FromLong(self->m == NULL); }

static PyMethodDef Model_methods[] = {
    {"embed_texts", (PyCFunction)Model_embed_texts, METH_VARARGS, "embed_texts(texts, out): raw text projections"},
    {"embed_paths", (PyCFunction)Model_embed_paths, METH_VARARGS, "embed_paths(paths, resample, out): nl_embed_images"},
    {"embed_arrays", (PyCFunction)Model_embed_arrays, METH_VARARGS, "embed_arrays(arrays, resample, out): nl_embed_rgb"},
    {"embed_image_files", (PyCFunction)Model_embed_image_files, METH_VARARGS,
     "embed_image_files(paths, resample, cache_dir, strict, out) -> good indices: nl_embed_image_files_readable"},
    {"embed_files_each", (PyCFunction)Model_embed_files_each, METH_VARARGS,
     "embed_files_each(paths, resample, cache_dir, out) -> [None or message]: nl_embed_image_files"},
    {"embed_buffers_each", (PyCFunction)Model_embed_buffers_each, METH_VARARGS,
     "embed_buffers_each(buffers, names, resample, out) -> [None or message]: nl_embed_image_buffers, normalised"},
    {"embed_words", (PyCFunction)Model_embed_words, METH_VARARGS, "embed_words(words, templates, cache_dir, out[, raw])"},
    {"negatives_embed", (PyCFunction)Model_negatives_embed, METH_VARARGS,
     "negatives_embed(negatives, path, cache_dir, out)"},
    {"mine", (PyCFunction)Model_mine, METH_VARARGS, "mine(...): nl_mine_model"},
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

static PyTypeObject ModelType = {
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

/* ------------------------------------------------------------ scoring */

/* The nl_score_params fields settable from Python, by name. */
#define SP_INT(f) {#f, offsetof(nl_score_params, f), 'i'}
#define SP_DBL(f) {#f, offsetof(nl_score_params, f), 'd'}
static const struct { const char *name; size_t off; char kind; } SP_FIELDS[] = {
    SP_INT(ngroup), SP_DBL(tau), SP_INT(shuffle), SP_INT(adaneg_batch), SP_INT(adaneg_memory), SP_DBL(adaneg_thres),
    SP_DBL(adaneg_gap), SP_DBL(adaneg_lambda), SP_INT(adaneg_sample_adaptive), SP_DBL(adaneg_beta),
    SP_INT(oodd_batch), SP_INT(oodd_queue), SP_INT(oodd_k)};

/* score_defaults(method) -> dict of nl_score_default_params(method). */
static PyObject *py_score_defaults(PyObject *self, PyObject *args) {
    int method;
    if (!PyArg_ParseTuple(args, "i:score_defaults", &method)) return NULL;
    if (method < 0 || method >= NL_METHOD_COUNT) { PyErr_SetString(PyExc_ValueError, "unknown method"); return NULL; }
    nl_score_params p = nl_score_default_params((nl_method)method);
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (size_t k = 0; k < sizeof SP_FIELDS / sizeof *SP_FIELDS; k++) {
        const char *at = (const char *)&p + SP_FIELDS[k].off;
        PyObject *v = SP_FIELDS[k].kind == 'i' ? PyLong_FromLong(*(const int *)at) : PyFloat_FromDouble(*(const double *)at);
        if (!v || PyDict_SetItemString(d, SP_FIELDS[k].name, v) != 0) { Py_XDECREF(v); Py_DECREF(d); return NULL; }
        Py_DECREF(v);
    }
    PyObject *v = PyLong_FromUnsignedLongLong(p.seed);
    PyObject *pm = PyUnicode_FromString(nl_permutation_name(p.permutation));
    PyObject *nm = PyUnicode_FromString(nl_method_name((nl_method)method));
    if (!v || !pm || !nm || PyDict_SetItemString(d, "seed", v) || PyDict_SetItemString(d, "permutation", pm) ||
        PyDict_SetItemString(d, "name", nm)) {
        Py_XDECREF(v); Py_XDECREF(pm); Py_XDECREF(nm); Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(v); Py_DECREF(pm); Py_DECREF(nm);
    return d;
}

/* Fields of a dict (None: nothing) into p; unknown keys are errors. */
static int score_params_from(PyObject *d, nl_score_params *p) {
    if (!d || d == Py_None) return 0;
    if (!PyDict_Check(d)) { PyErr_SetString(PyExc_TypeError, "score parameters must be a dict"); return -1; }
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &key, &val)) {
        const char *k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!k) { PyErr_SetString(PyExc_TypeError, "score parameter names must be strings"); return -1; }
        if (!strcmp(k, "name")) continue;
        if (!strcmp(k, "seed")) {
            unsigned long long v = PyLong_AsUnsignedLongLong(val);
            if (PyErr_Occurred()) return -1;
            p->seed = v;
            continue;
        }
        if (!strcmp(k, "permutation")) {
            const char *v = PyUnicode_Check(val) ? PyUnicode_AsUTF8(val) : NULL;
            if (!v || nl_parse_permutation(v, &p->permutation) != 0) {
                PyErr_SetString(PyExc_ValueError, "permutation must be 'splitmix', 'torch' or 'numpy'");
                return -1;
            }
            continue;
        }
        size_t f = 0, nf = sizeof SP_FIELDS / sizeof *SP_FIELDS;
        while (f < nf && strcmp(SP_FIELDS[f].name, k)) f++;
        if (f == nf) { PyErr_Format(PyExc_ValueError, "unknown score parameter '%s'", k); return -1; }
        char *at = (char *)p + SP_FIELDS[f].off;
        if (SP_FIELDS[f].kind == 'i') {
            long v = PyLong_AsLong(val);
            if (PyErr_Occurred()) return -1;
            if (v < INT_MIN || v > INT_MAX) { PyErr_Format(PyExc_ValueError, "%s out of range", k); return -1; }
            *(int *)at = (int)v;
        } else {
            double v = PyFloat_AsDouble(val);
            if (PyErr_Occurred()) return -1;
            *(double *)at = v;
        }
    }
    return 0;
}

/* score(img, id, neg or None, dim, method, ngroup, seed, shuffle, tau,
 *       device, device_index, n_threads, scores_out, top_id_out, top_neg_out
 *       [, permutation "splitmix"|"torch"|"numpy" [, params dict]])
 * img/id/neg: float32 rows of dim; scores_out float64; top_*: size_t
 * buffers or None; params: more nl_score_params fields by name
 * (score_defaults' keys). */
static PyObject *py_score(PyObject *self, PyObject *args) {
    PyObject *img, *id, *neg, *so, *tio, *tno;
    Py_ssize_t dim;
    int method, ngroup, shuffle, device, device_index, n_threads;
    unsigned long long seed;
    double tau;
    const char *perm = NULL;
    PyObject *extra = NULL;
    if (!PyArg_ParseTuple(args, "OOOniiKpdiiiOOO|zO:score", &img, &id, &neg, &dim, &method, &ngroup, &seed, &shuffle,
                          &tau, &device, &device_index, &n_threads, &so, &tio, &tno, &perm, &extra))
        return NULL;
    nl_permutation pk = NL_PERM_SPLITMIX;
    if (perm && nl_parse_permutation(perm, &pk) != 0) {
        PyErr_SetString(PyExc_ValueError, "permutation must be 'splitmix', 'torch' or 'numpy'");
        return NULL;
    }
    if (dim <= 0) { PyErr_SetString(PyExc_ValueError, "dim must be positive"); return NULL; }
    if (method < 0 || method >= NL_METHOD_COUNT) {
        PyErr_SetString(PyExc_ValueError, "method must be 0 (NegLabel), 1 (MCM), 2 (CSP), 3 (AdaNeg) or 4 (OODD)");
        return NULL;
    }
    Py_buffer b[6];
    int held[6] = {0};
    PyObject *res = NULL;
    if (get_buffer(img, &b[0], 0, 4, 'f', "images") != 0) goto done;
    held[0] = 1;
    if (get_buffer(id, &b[1], 0, 4, 'f', "id") != 0) goto done;
    held[1] = 1;
    if (neg != Py_None) {
        if (get_buffer(neg, &b[2], 0, 4, 'f', "negatives") != 0) goto done;
        held[2] = 1;
    }
    size_t n_img = (size_t)b[0].len / 4 / (size_t)dim, n_id = (size_t)b[1].len / 4 / (size_t)dim;
    size_t n_neg = held[2] ? (size_t)b[2].len / 4 / (size_t)dim : 0;
    if ((size_t)b[0].len != n_img * 4 * (size_t)dim || (size_t)b[1].len != n_id * 4 * (size_t)dim ||
        (held[2] && (size_t)b[2].len != n_neg * 4 * (size_t)dim)) {
        PyErr_SetString(PyExc_ValueError, "embeddings: sizes are not multiples of dim");
        goto done;
    }
    if (get_buffer(so, &b[3], 1, 8, 'f', "scores") != 0) goto done;
    held[3] = 1;
    if (check_len(&b[3], n_img, "scores") != 0) goto done;
    if (tio != Py_None) {
        if (get_buffer(tio, &b[4], 1, sizeof(size_t), 'u', "top_id") != 0) goto done;
        held[4] = 1;
        if (check_len(&b[4], n_img, "top_id") != 0) goto done;
    }
    if (tno != Py_None) {
        if (get_buffer(tno, &b[5], 1, sizeof(size_t), 'u', "top_neg") != 0) goto done;
        held[5] = 1;
        if (check_len(&b[5], n_img, "top_neg") != 0) goto done;
    }
    nl_score_params p = nl_score_default_params((nl_method)method);
    p.ngroup = ngroup;
    p.seed = seed;
    p.shuffle = shuffle;
    p.permutation = pk;
    p.tau = tau;
    p.device = (nl_device)device;
    p.device_index = device_index;
    p.n_threads = n_threads;
    if (score_params_from(extra, &p) != 0) goto done;
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_score(b[0].buf, n_img, b[1].buf, n_id, held[2] ? b[2].buf : NULL, n_neg, (size_t)dim, &p, b[3].buf,
                  held[4] ? b[4].buf : NULL, held[5] ? b[5].buf : NULL);
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    res = rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
done:
    for (int k = 0; k < 6; k++)
        if (held[k]) PyBuffer_Release(&b[k]);
    return res;
}

/* normalize_rows(x, dim): nl_normalize_rows in place on float32 rows. */
static PyObject *py_normalize_rows(PyObject *self, PyObject *args) {
    PyObject *x;
    Py_ssize_t dim;
    if (!PyArg_ParseTuple(args, "On:normalize_rows", &x, &dim)) return NULL;
    if (dim <= 0) { PyErr_SetString(PyExc_ValueError, "dim must be positive"); return NULL; }
    Py_buffer b;
    if (get_buffer(x, &b, 1, 4, 'f', "x") != 0) return NULL;
    size_t n = (size_t)b.len / 4 / (size_t)dim;
    if ((size_t)b.len != n * 4 * (size_t)dim) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "x: size is not a multiple of dim");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    nl_normalize_rows(b.buf, n, (size_t)dim);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    Py_RETURN_NONE;
}

/* compute_metrics(id_scores, ood_scores, convention) -> (auroc, aupr_in, aupr_out, fpr95) */
static PyObject *py_compute_metrics(PyObject *self, PyObject *args) {
    PyObject *a, *o;
    int conv;
    if (!PyArg_ParseTuple(args, "OOi:compute_metrics", &a, &o, &conv)) return NULL;
    if (conv != NL_FPR95_NEGLABEL && conv != NL_FPR95_OPENOOD) {
        PyErr_SetString(PyExc_ValueError, "convention must be 0 (neglabel) or 1 (openood)");
        return NULL;
    }
    Py_buffer ba, bo;
    if (get_buffer(a, &ba, 0, 8, 'f', "id_scores") != 0) return NULL;
    if (get_buffer(o, &bo, 0, 8, 'f', "ood_scores") != 0) { PyBuffer_Release(&ba); return NULL; }
    nl_metrics m;
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_compute_metrics(ba.buf, (size_t)ba.len / 8, bo.buf, (size_t)bo.len / 8, (nl_fpr_convention)conv, &m);
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&ba);
    PyBuffer_Release(&bo);
    if (rc) return fail_raise(&f);
    return Py_BuildValue("(dddd)", m.auroc, m.aupr_in, m.aupr_out, m.fpr95);
}

/* ------------------------------------------------------------ files */

static PyObject *py_read_id_labels(PyObject *self, PyObject *args) {
    PyObject *path;
    int allow;
    if (!PyArg_ParseTuple(args, "O&p:read_id_labels", PyUnicode_FSConverter, &path, &allow)) return NULL;
    nl_strvec v = {0};
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_read_id_labels(PyBytes_AS_STRING(path), allow, &v);
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (rc) return fail_raise(&f);
    PyObject *l = strvec_list(&v, 0);
    nl_strvec_free(&v);
    return l;
}

static PyObject *py_collect_images(PyObject *self, PyObject *args) {
    PyObject *spec;
    if (!PyArg_ParseTuple(args, "O&:collect_images", PyUnicode_FSConverter, &spec)) return NULL;
    nl_strvec v = {0};
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_collect_images(PyBytes_AS_STRING(spec), &v);
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(spec);
    if (rc) return fail_raise(&f);
    PyObject *l = strvec_list(&v, 1);
    nl_strvec_free(&v);
    return l;
}

/* parse_device("cuda:1") -> (kind, index) with kind 0 auto, 1 cpu, 2 cuda */
static PyObject *py_parse_device(PyObject *self, PyObject *args) {
    const char *s;
    if (!PyArg_ParseTuple(args, "s:parse_device", &s)) return NULL;
    nl_device d;
    int idx = 0;
    if (nl_parse_device(s, &d, &idx) != 0) return raise_last();
    return Py_BuildValue("(ii)", (int)d, idx);
}

static PyObject *py_cuda_device_count(PyObject *self, PyObject *unused) {
    int n;
    Py_BEGIN_ALLOW_THREADS
    n = nl_cuda_device_count();
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(n);
}

static PyObject *py_cuda_built(PyObject *self, PyObject *unused) { return PyBool_FromLong(nl_cuda_built()); }

static PyObject *py_devices_info_json(PyObject *self, PyObject *unused) {
    char *js;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    js = nl_devices_info_json();
    if (!js) fail_capture(&f);
    Py_END_ALLOW_THREADS
    if (!js) return fail_raise(&f);
    PyObject *s = utf8_str(js);
    free(js);
    return s;
}

static PyObject *py_fpr_convention_text(PyObject *self, PyObject *args) {
    int c;
    if (!PyArg_ParseTuple(args, "i:fpr_convention_text", &c)) return NULL;
    if (c != NL_FPR95_NEGLABEL && c != NL_FPR95_OPENOOD) {
        PyErr_SetString(PyExc_ValueError, "convention must be 0 or 1");
        return NULL;
    }
    return PyUnicode_FromString(nl_fpr_convention_text((nl_fpr_convention)c));
}

/* ------------------------------------------------------------ eval */

static PyObject *metrics_dict(const nl_metrics *m) {
    return Py_BuildValue("{s:d,s:d,s:d,s:d}", "auroc", m->auroc, "aupr_in", m->aupr_in, "aupr_out", m->aupr_out,
                         "fpr95", m->fpr95);
}

/* {"neglabel": {...}, ..., "best": "..."} of the methods run. */
static PyObject *method_metrics(const nl_eval_result *r, const nl_eval_set *s, PyObject *d) {
    if (!d) return NULL;
    for (size_t k = 0; k < r->n_methods; k++) {
        PyObject *m = metrics_dict(&s->metrics[r->methods[k]]);
        if (!m || PyDict_SetItemString(d, nl_method_name(r->methods[k]), m) != 0) { Py_XDECREF(m); Py_DECREF(d); return NULL; }
        Py_DECREF(m);
    }
    PyObject *b = PyUnicode_FromString(nl_method_name(s->best));
    if (!b || PyDict_SetItemString(d, "best", b) != 0) { Py_XDECREF(b); Py_DECREF(d); return NULL; }
    Py_DECREF(b);
    return d;
}

static PyObject *eval_result_dict(const nl_eval_result *r) {
    PyObject *ood = PyList_New((Py_ssize_t)r->n_ood), *methods = PyList_New((Py_ssize_t)r->n_methods);
    if (!ood || !methods) { Py_XDECREF(ood); Py_XDECREF(methods); return NULL; }
    for (size_t k = 0; k < r->n_methods; k++)
        PyList_SET_ITEM(methods, (Py_ssize_t)k, PyUnicode_FromString(nl_method_name(r->methods[k])));
    for (size_t i = 0; i < r->n_ood; i++) {
        const nl_eval_set *s = &r->ood[i];
        PyObject *d = method_metrics(r, s, Py_BuildValue("{s:N,s:n}", "name", utf8_str(s->name ? s->name : ""), "n_images",
                                                         (Py_ssize_t)s->n_images));
        if (!d) { Py_DECREF(ood); Py_DECREF(methods); return NULL; }
        PyList_SET_ITEM(ood, (Py_ssize_t)i, d);
    }
    PyObject *avg = method_metrics(r, &r->average, PyDict_New());
    if (!avg) { Py_DECREF(ood); Py_DECREF(methods); return NULL; }
    return Py_BuildValue("{s:{s:N,s:n},s:N,s:N,s:N,s:n,s:n,s:n,s:n,s:i,s:d}", "id", "name",
                         utf8_str(r->id.name ? r->id.name : "ID"), "n_images", (Py_ssize_t)r->id.n_images, "methods",
                         methods, "ood", ood, "average", avg, "n_id_labels", (Py_ssize_t)r->n_id_labels, "n_negatives",
                         (Py_ssize_t)r->n_negatives, "n_negatives_csp", (Py_ssize_t)r->n_negatives_csp, "n_skipped",
                         (Py_ssize_t)r->n_skipped, "convention", (int)r->convention, "seconds", r->seconds);
}

/* eval(**params) -> dict: nl_eval with nl_eval_result. */
static PyObject *py_eval(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"model", "id_labels", "id", "ood_names", "ood_specs", "negatives", "corpus", "fraction",
                             "quantile", "total", "noun_templates", "adj_templates", "mcm_template", "ngroup", "seed",
                             "shuffle", "tau", "mcm_tau", "convention", "resample", "out_dir", "cache_dir", "strict",
                             "remove_id_labels", "examples", "device", "precision", "threads", "batch_size", "permutation",
                             "methods", "score_params", "stream_seed", NULL};
    PyObject *model_o, *labels_o, *id_o, *names_o, *specs_o, *neg_o, *corpus_o, *nt_o, *at_o, *mcm_t_o, *out_o,
        *cache_o;
    double fraction, quantile, tau, mcm_tau;
    Py_ssize_t total;
    int ngroup, shuffle, conv, resample, strict, remove_id, examples, threads, batch;
    unsigned long long seed;
    const char *device, *precision, *perm = NULL;
    PyObject *methods_o = NULL, *sp_o = NULL;
    unsigned long long stream_seed = 110;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOddnOOOiKpddiiOOppiszii|zOOK:eval", kwlist, &model_o, &labels_o,
                                     &id_o, &names_o, &specs_o, &neg_o, &corpus_o, &fraction, &quantile, &total, &nt_o,
                                     &at_o, &mcm_t_o, &ngroup, &seed, &shuffle, &tau, &mcm_tau, &conv, &resample,
                                     &out_o, &cache_o, &strict, &remove_id, &examples, &device, &precision, &threads,
                                     &batch, &perm, &methods_o, &sp_o, &stream_seed))
        return NULL;
    nl_resample rs;
    if (parse_resample(resample, &rs) != 0) return NULL;
    if (total < 0 || threads < 0 || batch < 0) {
        PyErr_SetString(PyExc_ValueError, "total, threads and batch_size must be >= 0");
        return NULL;
    }
    nl_eval_params p = nl_eval_default_params();
    PyObject *mk = NULL, *lk = NULL, *ik = NULL, *nk = NULL, *ok = NULL, *ck = NULL, *mtk = NULL, *res = NULL;
    strarr names = {0}, specs = {0}, nt = {0}, at = {0};
    corpusview cv;
    int have_cv = 0;
    if (opt_path(model_o, &p.model_dir, &mk) || opt_path(labels_o, &p.id_labels, &lk) || opt_path(id_o, &p.id_spec, &ik) ||
        opt_path(neg_o, &p.negatives, &nk) || opt_path(out_o, &p.out_dir, &ok) || opt_path(cache_o, &p.embed.cache_dir, &ck) ||
        opt_utf8(mcm_t_o, &p.templates.mcm, &mtk, "mcm_template") || strarr_from(names_o, 0, &names, "ood names") ||
        strarr_from(specs_o, 1, &specs, "ood specs") || strarr_from(nt_o, 0, &nt, "templates") ||
        strarr_from(at_o, 0, &at, "adj_templates"))
        goto done;
    if (corpusview_from(corpus_o, &cv) != 0) goto done;
    have_cv = 1;
    if (!p.model_dir || !p.id_labels || !p.id_spec) {
        PyErr_SetString(PyExc_ValueError, "model, id_labels and id are required");
        goto done;
    }
    if (names.n != specs.n) {
        PyErr_SetString(PyExc_ValueError, "ood names and specs differ in length");
        goto done;
    }
    p.model = nl_model_default_params();
    p.model.n_threads = threads;
    p.model.batch_size = batch;
    if (nl_parse_device(device, &p.model.device, &p.model.device_index) != 0 ||
        (precision && nl_parse_precision(precision, &p.model.precision) != 0)) {
        raise_last();
        goto done;
    }
    p.ood_names = names.v;
    p.ood_specs = specs.v;
    p.n_ood = names.n;
    p.corpus = cv.cp;
    if (cv.cp.wordnet_dir || cv.cp.lists_dir) { /* CSP reads the same words, its own categories */
        p.csp_corpus.wordnet_dir = cv.cp.wordnet_dir;
        p.csp_corpus.lists_dir = cv.cp.lists_dir;
    }
    if (cv.cp.n_include || cv.cp.n_exclude) {
        p.csp_corpus.include = cv.cp.include; p.csp_corpus.n_include = cv.cp.n_include;
        p.csp_corpus.exclude = cv.cp.exclude; p.csp_corpus.n_exclude = cv.cp.n_exclude;
    }
    p.mine = nl_mine_default_params();
    p.mine.fraction = fraction;
    p.mine.quantile = quantile;
    p.mine.total = (size_t)total;
    p.mine.n_threads = threads;
    p.csp_mine.fraction = fraction;
    p.csp_mine.quantile = quantile;
    p.csp_mine.total = (size_t)total;
    const char *mcm_t = p.templates.mcm;
    p.templates = nl_templates_default();
    if (nt.n) { p.templates.noun = nt.v; p.templates.n_noun = nt.n; }
    if (at.n) { p.templates.adj = at.v; p.templates.n_adj = at.n; }
    if (mcm_t) p.templates.mcm = mcm_t;
    nl_score_params *ps = &p.score[NL_METHOD_NEGLABEL];
    ps->ngroup = ngroup;
    ps->seed = seed;
    ps->shuffle = shuffle;
    if (perm && nl_parse_permutation(perm, &ps->permutation) != 0) {
        PyErr_SetString(PyExc_ValueError, "permutation must be 'splitmix', 'torch' or 'numpy'");
        goto done;
    }
    ps->tau = tau;
    p.score[NL_METHOD_MCM].tau = mcm_tau;
    /* methods: a sequence of nl_method values; score_params: a dict method
     * name -> dict of score parameters (score_defaults' keys) */
    if (methods_o && methods_o != Py_None) {
        PyObject *seq = PySequence_Fast(methods_o, "methods must be a sequence");
        if (!seq) goto done;
        Py_ssize_t nm = PySequence_Fast_GET_SIZE(seq);
        if (nm > NL_METHOD_COUNT) { Py_DECREF(seq); PyErr_SetString(PyExc_ValueError, "too many methods"); goto done; }
        p.n_methods = 0;
        for (Py_ssize_t k = 0; k < nm; k++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, k));
            if (PyErr_Occurred() || v < 0 || v >= NL_METHOD_COUNT) {
                Py_DECREF(seq);
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "unknown method");
                goto done;
            }
            p.methods[p.n_methods++] = (nl_method)v;
        }
        Py_DECREF(seq);
    }
    if (sp_o && sp_o != Py_None) {
        if (!PyDict_Check(sp_o)) { PyErr_SetString(PyExc_TypeError, "score_params must be a dict"); goto done; }
        for (int m = 0; m < NL_METHOD_COUNT; m++)
            if (score_params_from(PyDict_GetItemString(sp_o, nl_method_name((nl_method)m)), &p.score[m]) != 0) goto done;
    }
    p.stream_seed = stream_seed;
    p.convention = (nl_fpr_convention)conv;
    p.resample = rs;
    p.strict = strict;
    p.allow_duplicate_labels = !strict;
    p.remove_id_labels = remove_id;
    p.n_examples = examples;
    nl_eval_result r;
    memset(&r, 0, sizeof r);
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_eval(&p, &r);
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    if (rc) fail_raise(&f);
    else res = eval_result_dict(&r);
    nl_eval_result_free(&r);
done:
    Py_XDECREF(mk);
    Py_XDECREF(lk);
    Py_XDECREF(ik);
    Py_XDECREF(nk);
    Py_XDECREF(ok);
    Py_XDECREF(ck);
    Py_XDECREF(mtk);
    strarr_free(&names);
    strarr_free(&specs);
    strarr_free(&nt);
    strarr_free(&at);
    if (have_cv) corpusview_free(&cv);
    return res;
}

static PyObject *py_convert_checkpoint(PyObject *self, PyObject *args) {
    PyObject *src, *dst;
    if (!PyArg_ParseTuple(args, "O&O&:convert_checkpoint", PyUnicode_FSConverter, &src, PyUnicode_FSConverter, &dst))
        return NULL;
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_convert_checkpoint(PyBytes_AS_STRING(src), PyBytes_AS_STRING(dst));
    if (rc) fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(src);
    Py_DECREF(dst);
    return rc || f.closed ? fail_raise(&f) : Py_NewRef(Py_None);
}

/* ------------------------------------------------------------ module */

static PyMethodDef module_methods[] = {
    {"set_progress_handler", py_set_progress_handler, METH_O,
     "set_progress_handler(fn or None): fn(label, done, total, elapsed, final) for the library's progress"},
    {"set_log_handler", py_set_log_handler, METH_O, "set_log_handler(fn or None): fn(level, message)"},
    {"score", py_score, METH_VARARGS, "nl_score"},
    {"score_defaults", py_score_defaults, METH_VARARGS, "nl_score_default_params(method) as a dict"},
    {"normalize_rows", py_normalize_rows, METH_VARARGS, "nl_normalize_rows(x, dim) in place"},
    {"compute_metrics", py_compute_metrics, METH_VARARGS, "nl_compute_metrics"},
    {"negatives_read", py_negatives_read, METH_VARARGS, "nl_negatives_read(path) -> negatives tuple"},
    {"negatives_write", py_negatives_write, METH_VARARGS, "nl_negatives_write(path, negatives, qsim)"},
    {"read_id_labels", py_read_id_labels, METH_VARARGS, "nl_read_id_labels(path, allow_duplicates) -> list"},
    {"collect_images", py_collect_images, METH_VARARGS, "nl_collect_images(spec) -> list"},
    {"parse_device", py_parse_device, METH_VARARGS, "nl_parse_device(s) -> (kind, index)"},
    {"cuda_device_count", py_cuda_device_count, METH_NOARGS, "nl_cuda_device_count"},
    {"cuda_built", py_cuda_built, METH_NOARGS, "nl_cuda_built"},
    {"devices_info_json", py_devices_info_json, METH_NOARGS, "nl_devices_info_json"},
    {"fpr_convention_text", py_fpr_convention_text, METH_VARARGS, "nl_fpr_convention_text"},
    {"eval", (PyCFunction)(void (*)(void))py_eval, METH_VARARGS | METH_KEYWORDS, "nl_eval"},
    {"convert_checkpoint", py_convert_checkpoint, METH_VARARGS, "nl_convert_checkpoint(src, dst_dir)"},
    {NULL, NULL, 0, NULL},
};

static void module_free(void *m) {
    /* the trampolines stay installed but find no handler */
    atomic_store(&have_progress, 0);
    atomic_store(&have_log, 0);
}

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_neglabel",
    "The C extension of the neglabel package (use the package, not this module).", -1, module_methods,
    NULL, NULL, NULL, module_free,
};

static PyObject *new_exception(PyObject *mod, const char *name, PyObject *base2, const char *doc) {
    char full[96];
    snprintf(full, sizeof full, "neglabel.%s", name);
    PyObject *bases = base2 ? PyTuple_Pack(2, Error, base2) : PyTuple_Pack(1, PyExc_Exception);
    if (!bases) return NULL;
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (!e) return NULL;
    if (PyModule_AddObjectRef(mod, name, e) != 0) { Py_DECREF(e); return NULL; }
    return e;
}

PyMODINIT_FUNC PyInit__neglabel(void) {
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    if (PyType_Ready(&ModelType) < 0 || PyModule_AddObjectRef(m, "Model", (PyObject *)&ModelType) != 0) goto fail;
    if (!(Error = new_exception(m, "Error", NULL, "A neglabel library error; .status names its kind.")) ||
        !(InvalidInputError = new_exception(m, "InvalidInputError", PyExc_ValueError,
                                            "Bad input: arguments, files, formats, sizes (NL_ERR_INVALID).")) ||
        !(FileError = new_exception(m, "FileError", PyExc_OSError,
                                    "A file or folder could not be read or written (NL_ERR_IO).")) ||
        !(OutOfMemoryError = new_exception(m, "OutOfMemoryError", PyExc_MemoryError,
                                           "Out of host or GPU memory (NL_ERR_NOMEM).")) ||
        !(UnsupportedError = new_exception(m, "UnsupportedError", PyExc_NotImplementedError,
                                           "Valid but not supported here (NL_ERR_UNSUPPORTED).")) ||
        !(DeviceError = new_exception(m, "DeviceError", PyExc_RuntimeError,
                                      "GPU, driver or CUDA library failure (NL_ERR_DEVICE).")))
        goto fail;
    if (PyModule_AddStringConstant(m, "version", NEGLABEL_VERSION) != 0 ||
        PyModule_AddStringConstant(m, "DEFAULT_MODEL", NL_DEFAULT_MODEL) != 0 ||
        PyModule_AddStringConstant(m, "TEMPLATE_NOUN", NL_TEMPLATE_NOUN) != 0 ||
        PyModule_AddStringConstant(m, "TEMPLATE_ADJ", NL_TEMPLATE_ADJ) != 0 ||
        PyModule_AddStringConstant(m, "TEMPLATE_MCM", NL_TEMPLATE_MCM) != 0 ||
        PyModule_AddIntConstant(m, "SIZEOF_SIZE_T", (long)sizeof(size_t)) != 0)
        goto fail;
    size_t n_csp;
    const char *const *csp_t = nl_csp_noun_templates(&n_csp);
    PyObject *ct = PyTuple_New((Py_ssize_t)n_csp);
    for (size_t k = 0; ct && k < n_csp; k++) {
        PyObject *v = PyUnicode_FromString(csp_t[k]);
        if (!v) { Py_CLEAR(ct); break; }
        PyTuple_SET_ITEM(ct, (Py_ssize_t)k, v);
    }
    if (!ct || PyModule_AddObject(m, "CSP_NOUN_TEMPLATES", ct) != 0) { Py_XDECREF(ct); goto fail; }
    /* Installed once, before any work: the library's callbacks are process-wide. */
    nl_set_progress(progress_trampoline, NULL);
    nl_set_log(log_trampoline, NULL);
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
