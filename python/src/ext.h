/* ext.h — what the files of the CPython extension neglabel._neglabel
 * (python/src/, over the public API include/neglabel.h) share: the
 * exception objects and how a library failure is raised, the conversions
 * between Python objects and the API's types, the Model object, and the
 * method tables each file hands to the module (_neglabel.c). Everything
 * else stays static in its file.
 *
 *   ext_common.c     errors, log/progress callbacks, conversions
 *   ext_model.c      the Model type: embedding, tokenizer, settings
 *   ext_negatives.c  negatives files, their embedding, mining, corpora
 *   ext_score.c      scoring, metrics, normalisation, files, devices
 *   ext_eval.c       the whole benchmark, checkpoint conversion
 *   _neglabel.c      the module: exceptions, constants, registration */
#ifndef NLPY_EXT_H
#define NLPY_EXT_H

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

/* ------------------------------------------------------------ errors (ext_common.c) */

/* neglabel.Error and its subclasses: defined and created in _neglabel.c */
extern PyObject *nlpy_Error, *nlpy_InvalidInputError, *nlpy_FileError, *nlpy_OutOfMemoryError, *nlpy_UnsupportedError,
    *nlpy_DeviceError;

/* Raise the exception for a message and status; returns NULL. The
 * instance carries .status, the kind's name (nl_status_name: "invalid
 * input", "I/O error", ...). */
PyObject *nlpy_raise_status(nl_status st, const char *msg);
/* The library's last error on this thread, raised. */
PyObject *nlpy_raise_last(void);

/* The failure of a call made inside MODEL_CALL: status and message copied
 * on the calling thread while still inside. */
typedef struct { nl_status st; char *msg; int closed; } failure; /* closed: see nlpy_model_acquire */
void nlpy_fail_capture(failure *f);
PyObject *nlpy_fail_raise(failure *f);

/* ------------------------------------------------------------ callbacks (ext_common.c) */

/* A handler is set (the trampolines call nothing while 0). */
extern atomic_int nlpy_have_progress, nlpy_have_log;
/* Installed with nl_set_progress / nl_set_log once, at import. */
void nlpy_progress_trampoline(const char *label, size_t done, size_t total, double elapsed, int final, void *user);
void nlpy_log_trampoline(nl_log_level level, const char *msg, void *user);
/* Installed with nl_set_cancel at import: stops a call on Ctrl-C. */
int nlpy_cancel_poll(void *user);

/* ------------------------------------------------------------ conversions (ext_common.c) */

/* A sequence of strings as a C array. fs: paths (str, bytes or PathLike,
 * the filesystem encoding); otherwise str as UTF-8. NULL entries where
 * allow_none and the item is None. */
typedef struct {
    PyObject *keep; /* list of bytes objects owning the strings */
    const char **v;
    size_t n;
} strarr;

void nlpy_strarr_free(strarr *a);
/* The items of a sequence as a tuple (a new reference; TypeError msg when
 * not a sequence): a snapshot that holds its items, for loops that run
 * Python code per item (__fspath__, __index__, a buffer export), which
 * could otherwise shrink or change a list under them. */
PyObject *nlpy_seq_tuple(PyObject *seq, const char *msg);
int nlpy_strarr_from(PyObject *seq, int fs, strarr *a, const char *what);
/* Optional UTF-8 string argument (None -> NULL); *keep owns the bytes. */
int nlpy_opt_utf8(PyObject *o, const char **s, PyObject **keep, const char *what);
/* Optional path argument (None -> NULL). */
int nlpy_opt_path(PyObject *o, const char **s, PyObject **keep);
PyObject *nlpy_utf8_str(const char *s);
PyObject *nlpy_strvec_list(const nl_strvec *v, int fs);
/* A C-contiguous buffer of items of the given size and format kind
 * ('f' float, 'u' unsigned or 'i' signed integer); writable when asked. */
int nlpy_get_buffer(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, char kind, const char *what);
int nlpy_check_len(Py_buffer *b, size_t items, const char *what);
int nlpy_parse_resample(int r, nl_resample *out);
/* Numbers given by the user, named what in the error: an integer is
 * anything with __index__ (int, bool, NumPy's integers; not 3.0) in
 * [lo, hi] (ValueError "out of range" outside), an unsigned 64-bit one the
 * same from 0; a real number anything with __float__ or __index__
 * (NumPy's floats too; not str). TypeError naming the type otherwise. */
int nlpy_int_arg(PyObject *o, long long lo, long long hi, long long *out, const char *what);
int nlpy_u64_arg(PyObject *o, unsigned long long *out, const char *what);
int nlpy_real_arg(PyObject *o, double *out, const char *what);

/* ------------------------------------------------------------ Model (ext_model.c) */

typedef struct {
    PyObject_HEAD
    nl_model *m;
    size_t dim;              /* nl_model_dim, kept: readable without the lock */
    size_t image_size;       /* nl_model_image_size, kept likewise */
    PyThread_type_lock lock; /* one library call on the model at a time */
} ModelObject;

/* > 0 while this thread runs a Python log, progress or signal handler
 * inside a library call (ext_common.c). */
extern _Thread_local int nlpy_in_callback;

/* Run the statements on the model with the GIL released and the model's
 * lock held; f (a failure) records a model closed by another thread
 * (closed 1), or a handler's call on a model in use (closed 2: the handler
 * runs inside a library call that may hold this very lock, so it never
 * waits for it). */
#define MODEL_CALL(self, f, ...)                                                    \
    do {                                                                            \
        if (nlpy_model_acquire((self), &(f))) {                                     \
            Py_BEGIN_ALLOW_THREADS                                                  \
            if (!(self)->m) (f).closed = 1; /* closed meanwhile */                  \
            else { __VA_ARGS__; }                                                   \
            PyThread_release_lock((self)->lock);                                    \
            Py_END_ALLOW_THREADS                                                    \
        }                                                                           \
    } while (0)

/* Take the model's lock for MODEL_CALL (the GIL held on entry and exit,
 * released while waiting): 1, or 0 with f->closed 2 (a handler's call on a
 * busy model) or 3 (a signal handler raised while this thread waited for
 * another thread's call: Ctrl-C, the exception set). The wait checks
 * Python's signals every 100 ms, so Ctrl-C is not held up by another
 * thread's long call. */
int nlpy_model_acquire(ModelObject *self, failure *f);

extern PyTypeObject nlpy_ModelType;
/* 1 when open, else 0 with ValueError set. */
int nlpy_model_ok(ModelObject *self);

/* ------------------------------------------------------------ negatives (ext_negatives.c) */

/* Model methods, in the Model type's table (ext_model.c). */
PyObject *nlpy_model_negatives_embed(ModelObject *self, PyObject *args);
PyObject *nlpy_model_mine(ModelObject *self, PyObject *args);

/* Corpus parameters from (wordnet_dir|None, lists_dir|None, include, exclude). */
typedef struct {
    nl_corpus_params cp;
    PyObject *wk, *lk;
    strarr inc, exc;
} corpusview;

void nlpy_corpusview_free(corpusview *c);
int nlpy_corpusview_from(PyObject *tup, corpusview *c);

/* ------------------------------------------------------------ scoring (ext_score.c) */

/* Fields of a dict (None: nothing) into p; unknown keys are errors. */
int nlpy_score_params_from(PyObject *d, nl_score_params *p);

/* ------------------------------------------------------------ the module's functions */

/* Each file's module-level functions, added to the module by _neglabel.c. */
extern PyMethodDef nlpy_callback_methods[], nlpy_negatives_methods[], nlpy_score_methods[], nlpy_eval_methods[];

#endif
