/* _neglabel.c — the CPython extension under the `neglabel` package, written
 * over the public API (include/neglabel.h) and the C-API of CPython only.
 *
 * Each function here wraps one library call and stays thin: the Python
 * package (python/neglabel/) checks and converts arguments,
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
 * neglabel.Error subclasses chosen by nl_last_status().
 *
 * The files (ext.h lists them): this one is the module, its exceptions and
 * constants; the functions are in ext_*.c, each file handing its own
 * method table to the module. */
#include "ext.h"

/* ------------------------------------------------------------ exceptions */

PyObject *nlpy_Error, *nlpy_InvalidInputError, *nlpy_FileError, *nlpy_OutOfMemoryError, *nlpy_UnsupportedError,
    *nlpy_DeviceError;

/* ------------------------------------------------------------ module */

static void module_free(void *m) {
    /* the trampolines stay installed but find no handler */
    atomic_store(&nlpy_have_progress, 0);
    atomic_store(&nlpy_have_log, 0);
}

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_neglabel",
    "The C extension of the neglabel package (use the package, not this module).", -1, NULL,
    NULL, NULL, NULL, module_free,
};

/* status: the class's .status (nl_status_name of its kind), so that an
 * instance the package raises itself (InvalidInputError from Python code)
 * carries one too; the library's errors set it on the instance. */
static PyObject *new_exception(PyObject *mod, const char *name, PyObject *base2, const char *doc, const char *status) {
    char full[96];
    snprintf(full, sizeof full, "neglabel.%s", name);
    PyObject *bases = base2 ? PyTuple_Pack(2, nlpy_Error, base2) : PyTuple_Pack(1, PyExc_Exception);
    PyObject *dict = Py_BuildValue("{s:s}", "status", status);
    PyObject *e = bases && dict ? PyErr_NewExceptionWithDoc(full, doc, bases, dict) : NULL;
    Py_XDECREF(bases);
    Py_XDECREF(dict);
    if (!e) return NULL;
    if (PyModule_AddObjectRef(mod, name, e) != 0) { Py_DECREF(e); return NULL; }
    return e;
}

PyMODINIT_FUNC PyInit__neglabel(void) {
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    if (PyModule_AddFunctions(m, nlpy_callback_methods) != 0 || PyModule_AddFunctions(m, nlpy_score_methods) != 0 ||
        PyModule_AddFunctions(m, nlpy_negatives_methods) != 0 || PyModule_AddFunctions(m, nlpy_eval_methods) != 0)
        goto fail;
    if (PyType_Ready(&nlpy_ModelType) < 0 || PyModule_AddObjectRef(m, "Model", (PyObject *)&nlpy_ModelType) != 0) goto fail;
    if (!(nlpy_Error = new_exception(m, "Error", NULL, "A neglabel library error; .status names its kind.",
                                    "unknown" /* nl_status_name's word for a kind it does not know */)) ||
        !(nlpy_InvalidInputError = new_exception(m, "InvalidInputError", PyExc_ValueError,
                                            "Bad input: arguments, files, formats, sizes (NL_ERR_INVALID).",
                                            nl_status_name(NL_ERR_INVALID))) ||
        !(nlpy_FileError = new_exception(m, "FileError", PyExc_OSError,
                                    "A file or folder could not be read or written (NL_ERR_IO).",
                                    nl_status_name(NL_ERR_IO))) ||
        !(nlpy_OutOfMemoryError = new_exception(m, "OutOfMemoryError", PyExc_MemoryError,
                                           "Out of host or GPU memory (NL_ERR_NOMEM).",
                                           nl_status_name(NL_ERR_NOMEM))) ||
        !(nlpy_UnsupportedError = new_exception(m, "UnsupportedError", PyExc_NotImplementedError,
                                           "Valid but not supported here (NL_ERR_UNSUPPORTED).",
                                           nl_status_name(NL_ERR_UNSUPPORTED))) ||
        !(nlpy_DeviceError = new_exception(m, "DeviceError", PyExc_RuntimeError,
                                      "GPU, driver or CUDA library failure (NL_ERR_DEVICE).",
                                      nl_status_name(NL_ERR_DEVICE))))
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
    nl_set_progress(nlpy_progress_trampoline, NULL);
    nl_set_log(nlpy_log_trampoline, NULL);
    nl_set_cancel(nlpy_cancel_poll, NULL);
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
