/* ext_common.c — what the extension's files share: the library's errors
 * raised as neglabel.Error subclasses, the log and progress callbacks into
 * Python, and the conversions between Python objects and the C API's
 * types (ext.h). */
#include "ext.h"

/* ------------------------------------------------------------ errors */

static PyObject *status_exception(nl_status s) {
    switch (s) {
    case NL_ERR_INVALID: return nlpy_InvalidInputError;
    case NL_ERR_IO: return nlpy_FileError;
    case NL_ERR_NOMEM: return nlpy_OutOfMemoryError;
    case NL_ERR_UNSUPPORTED: return nlpy_UnsupportedError;
    case NL_ERR_DEVICE: return nlpy_DeviceError;
    default: return nlpy_Error;
    }
}

/* Raise the exception for a message and status; returns NULL. The
 * instance carries .status, the kind's name (nl_status_name: "invalid
 * input", "I/O error", ...). */
PyObject *nlpy_raise_status(nl_status st, const char *msg) {
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
PyObject *nlpy_raise_last(void) { return nlpy_raise_status(nl_last_status(), nl_last_error()); }

void nlpy_fail_capture(failure *f) {
    f->st = nl_last_status();
    f->msg = strdup(nl_last_error());
}
static int raise_mine(void);

PyObject *nlpy_fail_raise(failure *f) {
    if (f->closed == 3) return NULL; /* the signal handler's exception is set */
    if (f->closed == 2) {
        PyErr_SetString(PyExc_RuntimeError, "a log, progress or signal handler cannot use a model that is busy (the "
                                            "call it runs inside may be on it): use the model after that call returns");
        return NULL;
    }
    if (f->closed) {
        PyErr_SetString(PyExc_ValueError, "the model is closed");
        return NULL;
    }
    /* stopped for a Ctrl-C (or SystemExit) met during the call on this
     * thread: that, not the library's "cancelled" */
    if (!(f->st == NL_ERR_CANCELLED && raise_mine() != 0)) nlpy_raise_status(f->st, f->msg ? f->msg : "out of memory");
    free(f->msg);
    f->msg = NULL;
    return NULL;
}

/* ------------------------------------------------------------ callbacks */

static PyObject *progress_handler; /* callable or NULL; changed under the GIL */
static PyObject *log_handler;
atomic_int nlpy_have_progress, nlpy_have_log;

_Thread_local int nlpy_in_callback;

/* A handler's exception. An Exception a log or progress handler raises is
 * reported (sys.unraisablehook) and the library's work goes on. What a
 * signal's handler raises (KeyboardInterrupt from Ctrl-C, or any exception
 * of the user's own handler, e.g. a TimeoutError from SIGALRM), and any
 * other BaseException from a handler (SystemExit), is kept for the thread
 * it was raised on: that thread's call stops at its next poll
 * (nlpy_cancel_poll) and nlpy_fail_raise raises it; another thread's call
 * goes on. It is also a pending call, which the interpreter runs at its
 * next check in the main thread (as it runs a signal's handler): that
 * raises it when the call ended before a poll saw it. The first such
 * exception wins until it is raised; later ones are dropped. The GIL is
 * held. */
static PyObject *pending_exc;       /* the exception instance to raise; under the GIL */
static unsigned long pending_owner; /* the thread it was raised on */

static int take_pending(void) {
    PyObject *e = pending_exc;
    pending_exc = NULL;
    if (!e) return 0;
    PyErr_SetObject((PyObject *)Py_TYPE(e), e); /* keeps e.__traceback__ */
    Py_DECREF(e);
    return -1;
}

/* The pending call (main thread): whoever raised it. */
static int raise_pending(void *unused) {
    (void)unused;
    return take_pending();
}

/* In a failed call: only this thread's. */
static int raise_mine(void) {
    return pending_exc && pending_owner == PyThread_get_thread_ident() ? take_pending() : 0;
}

static void handler_failed(PyObject *cb, int from_signal) {
    if (!from_signal && PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_WriteUnraisable(cb); /* the library's work goes on */
        return;
    }
    if (pending_exc) { /* one is waiting to be raised already */
        PyErr_Clear();
        return;
    }
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *v = PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v && tb) PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
#endif
    if (!v) return;
    pending_exc = v;
    pending_owner = PyThread_get_thread_ident();
    if (Py_AddPendingCall(raise_pending, NULL) != 0) { /* the queue is full: report it at least */
        pending_exc = NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(v), v);
        Py_DECREF(v);
        PyErr_WriteUnraisable(cb);
    }
}

/* nl_set_cancel's callback, polled between batches on the thread running a
 * call (the GIL released): Python's SIGINT handler only set a flag, so the
 * signals are checked here (on the main thread; elsewhere a no-op), and an
 * exception met (here, or a handler's, see handler_failed) on this thread
 * stops the call; nlpy_fail_raise then raises it. */
int nlpy_cancel_poll(void *user) {
    (void)user;
    if (NLPY_FINALIZING()) return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    /* a Python signal handler runs here, inside the call: as a log or
     * progress handler, it must not wait for the lock this call may hold */
    nlpy_in_callback++;
    if (!pending_exc && PyErr_CheckSignals() != 0) handler_failed(Py_None, 1);
    nlpy_in_callback--;
    int stop = pending_exc != NULL && pending_owner == PyThread_get_thread_ident();
    PyGILState_Release(g);
    return stop;
}

void nlpy_progress_trampoline(const char *label, size_t done, size_t total, double elapsed, int final, void *user) {
    (void)user;
    if (!atomic_load(&nlpy_have_progress) || NLPY_FINALIZING()) return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *cb = progress_handler;
    Py_XINCREF(cb);
    if (cb) {
        /* Ctrl-C during the call: Python's SIGINT handler only set a flag
         * (the GIL is released); on the main thread its handler runs here,
         * whatever the progress handler is (a C callable checks nothing). */
        nlpy_in_callback++; /* (the signal handlers too, see nlpy_cancel_poll) */
        if (PyErr_CheckSignals() != 0) handler_failed(cb, 1);
        PyObject *r = PyObject_CallFunction(cb, "NnndO",
                                            PyUnicode_DecodeUTF8(label ? label : "", (Py_ssize_t)strlen(label ? label : ""),
                                                                 "replace"),
                                            (Py_ssize_t)done, (Py_ssize_t)total, elapsed, final ? Py_True : Py_False);
        nlpy_in_callback--;
        if (!r) handler_failed(cb, 0);
        Py_XDECREF(r);
        Py_DECREF(cb);
    }
    PyGILState_Release(g);
}

void nlpy_log_trampoline(nl_log_level level, const char *msg, void *user) {
    (void)user;
    if (!atomic_load(&nlpy_have_log) || NLPY_FINALIZING()) return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *cb = log_handler;
    Py_XINCREF(cb);
    if (cb) {
        nlpy_in_callback++;
        PyObject *r = PyObject_CallFunction(cb, "iN", (int)level,
                                            PyUnicode_DecodeUTF8(msg ? msg : "", (Py_ssize_t)strlen(msg ? msg : ""),
                                                                 "backslashreplace"));
        nlpy_in_callback--;
        if (!r) handler_failed(cb, 0);
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
    return set_handler(fn, &progress_handler, &nlpy_have_progress);
}
static PyObject *py_set_log_handler(PyObject *self, PyObject *fn) { return set_handler(fn, &log_handler, &nlpy_have_log); }

PyMethodDef nlpy_callback_methods[] = {
    {"set_progress_handler", py_set_progress_handler, METH_O,
     "set_progress_handler(fn or None): fn(label, done, total, elapsed, final) for the library's progress"},
    {"set_log_handler", py_set_log_handler, METH_O, "set_log_handler(fn or None): fn(level, message)"},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------ conversions */

void nlpy_strarr_free(strarr *a) {
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
        PyErr_Format(nlpy_InvalidInputError, "%s: embedded null character", what);
        return -1;
    }
    *out = b;
    return 0;
}

PyObject *nlpy_seq_tuple(PyObject *seq, const char *msg) {
    PyObject *fast = PySequence_Fast(seq, msg);
    if (!fast || PyTuple_Check(fast)) return fast;
    PyObject *t = PyList_AsTuple(fast);
    Py_DECREF(fast);
    return t;
}

int nlpy_strarr_from(PyObject *seq, int fs, strarr *a, const char *what) {
    memset(a, 0, sizeof *a);
    PyObject *fast = nlpy_seq_tuple(seq, what);
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    a->keep = PyList_New(n);
    a->v = PyMem_Calloc((size_t)n + 1, sizeof *a->v);
    if (!a->keep || !a->v) {
        Py_DECREF(fast);
        nlpy_strarr_free(a);
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
            nlpy_strarr_free(a);
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
int nlpy_opt_utf8(PyObject *o, const char **s, PyObject **keep, const char *what) {
    *s = NULL;
    *keep = NULL;
    if (o == Py_None) return 0;
    if (utf8_bytes(o, keep, what) != 0) return -1;
    *s = PyBytes_AS_STRING(*keep);
    return 0;
}

/* Optional path argument (None -> NULL). */
int nlpy_opt_path(PyObject *o, const char **s, PyObject **keep) {
    *s = NULL;
    *keep = NULL;
    if (o == Py_None) return 0;
    if (!PyUnicode_FSConverter(o, keep)) return -1;
    *s = PyBytes_AS_STRING(*keep);
    return 0;
}

PyObject *nlpy_utf8_str(const char *s) {
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

PyObject *nlpy_strvec_list(const nl_strvec *v, int fs) {
    PyObject *l = PyList_New((Py_ssize_t)v->n);
    if (!l) return NULL;
    for (size_t i = 0; i < v->n; i++) {
        PyObject *s = fs ? PyUnicode_DecodeFSDefault(v->v[i]) : nlpy_utf8_str(v->v[i]);
        if (!s) { Py_DECREF(l); return NULL; }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

/* A C-contiguous buffer of items of the given size and format kind
 * ('f' float, 'u' unsigned or 'i' signed integer); writable when asked. */
int nlpy_get_buffer(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, char kind, const char *what) {
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

int nlpy_check_len(Py_buffer *b, size_t items, const char *what) {
    if ((size_t)b->len != items * (size_t)b->itemsize) {
        PyErr_Format(nlpy_InvalidInputError, "%s: expected %zu items, the buffer holds %zd", what, items,
                     b->len / (b->itemsize ? b->itemsize : 1));
        return -1;
    }
    return 0;
}

int nlpy_parse_resample(int r, nl_resample *out) {
    if (r < 0 || r > 2) {
        PyErr_SetString(nlpy_InvalidInputError, "resample must be 0 (bicubic), 1 (bilinear) or 2 (model)");
        return -1;
    }
    *out = (nl_resample)r;
    return 0;
}

/* The argument as a Python int (a new reference) through __index__. */
static PyObject *index_of(PyObject *o, const char *what) {
    if (!PyIndex_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s: expected an integer, got %.100s", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    return PyNumber_Index(o);
}

int nlpy_int_arg(PyObject *o, long long lo, long long hi, long long *out, const char *what) {
    PyObject *i = index_of(o, what);
    if (!i) return -1;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v < lo || v > hi) {
        PyErr_Format(nlpy_InvalidInputError, "%s out of range", what);
        return -1;
    }
    *out = v;
    return 0;
}

int nlpy_u64_arg(PyObject *o, unsigned long long *out, const char *what) {
    PyObject *i = index_of(o, what);
    if (!i) return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(i); /* OverflowError below 0 too */
    Py_DECREF(i);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(nlpy_InvalidInputError, "%s out of range", what);
        }
        return -1;
    }
    *out = v;
    return 0;
}

int nlpy_real_arg(PyObject *o, double *out, const char *what) {
    if (!PyFloat_Check(o) && !PyIndex_Check(o) && !(Py_TYPE(o)->tp_as_number && Py_TYPE(o)->tp_as_number->nb_float)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a number, got %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}
