/* ext_score.c — module functions without a model: scoring embeddings
 * (nl_score) and its parameters, metrics, row normalisation, ID label and
 * image list files, devices. */
#include "ext.h"

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
    if (method < 0 || method >= NL_METHOD_COUNT) { PyErr_SetString(nlpy_InvalidInputError, "unknown method"); return NULL; }
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
int nlpy_score_params_from(PyObject *d, nl_score_params *p) {
    if (!d || d == Py_None) return 0;
    if (!PyDict_Check(d)) { PyErr_SetString(PyExc_TypeError, "score parameters must be a dict"); return -1; }
    /* a snapshot holding the names and values: a value's __index__ or
     * __float__ runs Python code, which may change or empty d meanwhile */
    PyObject *items = PyDict_Items(d);
    if (!items) return -1;
    int rc = -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i), *key = PyTuple_GET_ITEM(kv, 0), *val = PyTuple_GET_ITEM(kv, 1);
        const char *k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!k) { PyErr_SetString(PyExc_TypeError, "score parameter names must be strings"); goto out; }
        if (!strcmp(k, "name")) continue;
        if (!strcmp(k, "seed")) {
            unsigned long long v;
            if (nlpy_u64_arg(val, &v, k) != 0) goto out;
            p->seed = v;
            continue;
        }
        if (!strcmp(k, "permutation")) {
            const char *v = PyUnicode_Check(val) ? PyUnicode_AsUTF8(val) : NULL;
            if (!v || nl_parse_permutation(v, &p->permutation) != 0) {
                PyErr_SetString(nlpy_InvalidInputError, "permutation must be 'splitmix', 'torch' or 'numpy'");
                goto out;
            }
            continue;
        }
        size_t f = 0, nf = sizeof SP_FIELDS / sizeof *SP_FIELDS;
        while (f < nf && strcmp(SP_FIELDS[f].name, k)) f++;
        if (f == nf) {
            char known[512] = "seed, permutation";
            for (size_t j = 0; j < nf; j++) {
                size_t l = strlen(known);
                snprintf(known + l, sizeof known - l, ", %s", SP_FIELDS[j].name);
            }
            PyErr_Format(nlpy_InvalidInputError, "unknown score parameter '%s' (known: %s)", k, known);
            goto out;
        }
        char *at = (char *)p + SP_FIELDS[f].off;
        if (SP_FIELDS[f].kind == 'i') {
            long long v;
            if (nlpy_int_arg(val, INT_MIN, INT_MAX, &v, k) != 0) goto out;
            *(int *)at = (int)v;
        } else {
            double v;
            if (nlpy_real_arg(val, &v, k) != 0) goto out;
            *(double *)at = v;
        }
    }
    rc = 0;
out:
    Py_DECREF(items);
    return rc;
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
        PyErr_SetString(nlpy_InvalidInputError, "permutation must be 'splitmix', 'torch' or 'numpy'");
        return NULL;
    }
    if (dim <= 0) { PyErr_SetString(nlpy_InvalidInputError, "dim must be positive"); return NULL; }
    if (method < 0 || method >= NL_METHOD_COUNT) {
        PyErr_SetString(nlpy_InvalidInputError, "method must be 0 (NegLabel), 1 (MCM), 2 (CSP), 3 (AdaNeg) or 4 (OODD)");
        return NULL;
    }
    Py_buffer b[6];
    int held[6] = {0};
    PyObject *res = NULL;
    if (nlpy_get_buffer(img, &b[0], 0, 4, 'f', "images") != 0) goto done;
    held[0] = 1;
    if (nlpy_get_buffer(id, &b[1], 0, 4, 'f', "id") != 0) goto done;
    held[1] = 1;
    if (neg != Py_None) {
        if (nlpy_get_buffer(neg, &b[2], 0, 4, 'f', "negatives") != 0) goto done;
        held[2] = 1;
    }
    size_t n_img = (size_t)b[0].len / 4 / (size_t)dim, n_id = (size_t)b[1].len / 4 / (size_t)dim;
    size_t n_neg = held[2] ? (size_t)b[2].len / 4 / (size_t)dim : 0;
    if ((size_t)b[0].len != n_img * 4 * (size_t)dim || (size_t)b[1].len != n_id * 4 * (size_t)dim ||
        (held[2] && (size_t)b[2].len != n_neg * 4 * (size_t)dim)) {
        PyErr_SetString(nlpy_InvalidInputError, "embeddings: sizes are not multiples of dim");
        goto done;
    }
    if (nlpy_get_buffer(so, &b[3], 1, 8, 'f', "scores") != 0) goto done;
    held[3] = 1;
    if (nlpy_check_len(&b[3], n_img, "scores") != 0) goto done;
    if (tio != Py_None) {
        if (nlpy_get_buffer(tio, &b[4], 1, sizeof(size_t), 'u', "top_id") != 0) goto done;
        held[4] = 1;
        if (nlpy_check_len(&b[4], n_img, "top_id") != 0) goto done;
    }
    if (tno != Py_None) {
        if (nlpy_get_buffer(tno, &b[5], 1, sizeof(size_t), 'u', "top_neg") != 0) goto done;
        held[5] = 1;
        if (nlpy_check_len(&b[5], n_img, "top_neg") != 0) goto done;
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
    if (nlpy_score_params_from(extra, &p) != 0) goto done;
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_score(b[0].buf, n_img, b[1].buf, n_id, held[2] ? b[2].buf : NULL, n_neg, (size_t)dim, &p, b[3].buf,
                  held[4] ? b[4].buf : NULL, held[5] ? b[5].buf : NULL);
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
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
    if (dim <= 0) { PyErr_SetString(nlpy_InvalidInputError, "dim must be positive"); return NULL; }
    Py_buffer b;
    if (nlpy_get_buffer(x, &b, 1, 4, 'f', "x") != 0) return NULL;
    size_t n = (size_t)b.len / 4 / (size_t)dim;
    if ((size_t)b.len != n * 4 * (size_t)dim) {
        PyBuffer_Release(&b);
        PyErr_SetString(nlpy_InvalidInputError, "x: size is not a multiple of dim");
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
        PyErr_SetString(nlpy_InvalidInputError, "convention must be 0 (neglabel) or 1 (openood)");
        return NULL;
    }
    Py_buffer ba, bo;
    if (nlpy_get_buffer(a, &ba, 0, 8, 'f', "id_scores") != 0) return NULL;
    if (nlpy_get_buffer(o, &bo, 0, 8, 'f', "ood_scores") != 0) { PyBuffer_Release(&ba); return NULL; }
    nl_metrics m;
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_compute_metrics(ba.buf, (size_t)ba.len / 8, bo.buf, (size_t)bo.len / 8, (nl_fpr_convention)conv, &m);
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&ba);
    PyBuffer_Release(&bo);
    if (rc) return nlpy_fail_raise(&f);
    return Py_BuildValue("(dddd)", m.auroc, m.aupr_in, m.aupr_out, m.fpr95);
}

/* ------------------------------------------------------------ files */

/* read_scores(path, column or None) -> bytes of float64 */
static PyObject *py_read_scores(PyObject *self, PyObject *args) {
    PyObject *path;
    const char *column = NULL;
    if (!PyArg_ParseTuple(args, "O&z:read_scores", PyUnicode_FSConverter, &path, &column)) return NULL;
    double *v = NULL;
    size_t n = 0;
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_read_scores(PyBytes_AS_STRING(path), column, &v, &n);
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (rc) return nlpy_fail_raise(&f);
    PyObject *b = PyBytes_FromStringAndSize((const char *)v, (Py_ssize_t)(n * sizeof *v));
    free(v);
    return b;
}

static PyObject *py_read_id_labels(PyObject *self, PyObject *args) {
    PyObject *path;
    int allow;
    if (!PyArg_ParseTuple(args, "O&p:read_id_labels", PyUnicode_FSConverter, &path, &allow)) return NULL;
    nl_strvec v = {0};
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_read_id_labels(PyBytes_AS_STRING(path), allow, &v);
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (rc) return nlpy_fail_raise(&f);
    PyObject *l = nlpy_strvec_list(&v, 0);
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
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(spec);
    if (rc) return nlpy_fail_raise(&f);
    PyObject *l = nlpy_strvec_list(&v, 1);
    nl_strvec_free(&v);
    return l;
}

/* parse_device("cuda:1") -> (kind, index) with kind 0 auto, 1 cpu, 2 cuda */
static PyObject *py_parse_device(PyObject *self, PyObject *args) {
    const char *s;
    if (!PyArg_ParseTuple(args, "s:parse_device", &s)) return NULL;
    nl_device d;
    int idx = 0;
    if (nl_parse_device(s, &d, &idx) != 0) return nlpy_raise_last();
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
    if (!js) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    if (!js) return nlpy_fail_raise(&f);
    PyObject *s = nlpy_utf8_str(js);
    free(js);
    return s;
}

static PyObject *py_fpr_convention_text(PyObject *self, PyObject *args) {
    int c;
    if (!PyArg_ParseTuple(args, "i:fpr_convention_text", &c)) return NULL;
    if (c != NL_FPR95_NEGLABEL && c != NL_FPR95_OPENOOD) {
        PyErr_SetString(nlpy_InvalidInputError, "convention must be 0 or 1");
        return NULL;
    }
    return PyUnicode_FromString(nl_fpr_convention_text((nl_fpr_convention)c));
}

PyMethodDef nlpy_score_methods[] = {
    {"score", py_score, METH_VARARGS, "nl_score"},
    {"score_defaults", py_score_defaults, METH_VARARGS, "nl_score_default_params(method) as a dict"},
    {"normalize_rows", py_normalize_rows, METH_VARARGS, "nl_normalize_rows(x, dim) in place"},
    {"compute_metrics", py_compute_metrics, METH_VARARGS, "nl_compute_metrics"},
    {"read_scores", py_read_scores, METH_VARARGS, "nl_read_scores(path, column) -> float64 bytes"},
    {"read_id_labels", py_read_id_labels, METH_VARARGS, "nl_read_id_labels(path, allow_duplicates) -> list"},
    {"collect_images", py_collect_images, METH_VARARGS, "nl_collect_images(spec) -> list"},
    {"parse_device", py_parse_device, METH_VARARGS, "nl_parse_device(s) -> (kind, index)"},
    {"cuda_device_count", py_cuda_device_count, METH_NOARGS, "nl_cuda_device_count"},
    {"cuda_built", py_cuda_built, METH_NOARGS, "nl_cuda_built"},
    {"devices_info_json", py_devices_info_json, METH_NOARGS, "nl_devices_info_json"},
    {"fpr_convention_text", py_fpr_convention_text, METH_VARARGS, "nl_fpr_convention_text"},
    {NULL, NULL, 0, NULL},
};
