/* ext_eval.c — the whole benchmark (nl_eval, `neglabel eval`) with its
 * result as a dict, and checkpoint conversion (`neglabel convert`). */
#include "ext.h"

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
        PyObject *d = method_metrics(r, s, Py_BuildValue("{s:N,s:n}", "name", nlpy_utf8_str(s->name ? s->name : ""), "n_images",
                                                         (Py_ssize_t)s->n_images));
        if (!d) { Py_DECREF(ood); Py_DECREF(methods); return NULL; }
        PyList_SET_ITEM(ood, (Py_ssize_t)i, d);
    }
    PyObject *avg = method_metrics(r, &r->average, PyDict_New());
    if (!avg) { Py_DECREF(ood); Py_DECREF(methods); return NULL; }
    return Py_BuildValue("{s:{s:N,s:n},s:N,s:N,s:N,s:n,s:n,s:n,s:n,s:i,s:d}", "id", "name",
                         nlpy_utf8_str(r->id.name ? r->id.name : "ID"), "n_images", (Py_ssize_t)r->id.n_images, "methods",
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
    if (nlpy_parse_resample(resample, &rs) != 0) return NULL;
    if (total < 0 || threads < 0 || batch < 0) {
        PyErr_SetString(nlpy_InvalidInputError, "total, threads and batch_size must be >= 0");
        return NULL;
    }
    nl_eval_params p = nl_eval_default_params();
    PyObject *mk = NULL, *lk = NULL, *ik = NULL, *nk = NULL, *ok = NULL, *ck = NULL, *mtk = NULL, *res = NULL;
    strarr names = {0}, specs = {0}, nt = {0}, at = {0};
    corpusview cv;
    int have_cv = 0;
    if (nlpy_opt_path(model_o, &p.model_dir, &mk) || nlpy_opt_path(labels_o, &p.id_labels, &lk) || nlpy_opt_path(id_o, &p.id_spec, &ik) ||
        nlpy_opt_path(neg_o, &p.negatives, &nk) || nlpy_opt_path(out_o, &p.out_dir, &ok) || nlpy_opt_path(cache_o, &p.embed.cache_dir, &ck) ||
        nlpy_opt_utf8(mcm_t_o, &p.templates.mcm, &mtk, "mcm_template") || nlpy_strarr_from(names_o, 0, &names, "ood names") ||
        nlpy_strarr_from(specs_o, 1, &specs, "ood specs") || nlpy_strarr_from(nt_o, 0, &nt, "templates") ||
        nlpy_strarr_from(at_o, 0, &at, "adj_templates"))
        goto done;
    if (nlpy_corpusview_from(corpus_o, &cv) != 0) goto done;
    have_cv = 1;
    if (!p.model_dir || !p.id_labels || !p.id_spec) {
        PyErr_SetString(nlpy_InvalidInputError, "model, id_labels and id are required");
        goto done;
    }
    if (names.n != specs.n) {
        PyErr_SetString(nlpy_InvalidInputError, "ood names and specs differ in length");
        goto done;
    }
    p.model = nl_model_default_params();
    p.model.n_threads = threads;
    p.model.batch_size = batch;
    if (nl_parse_device(device, &p.model.device, &p.model.device_index) != 0 ||
        (precision && nl_parse_precision(precision, &p.model.precision) != 0)) {
        nlpy_raise_last();
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
        p.csp_corpus.absent_ok = 0; /* the user's names must exist */
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
    if (nt.n) { p.templates.noun = nt.v; p.templates.n_noun = nt.n; p.templates_given = 1; }
    if (at.n) { p.templates.adj = at.v; p.templates.n_adj = at.n; }
    if (mcm_t) p.templates.mcm = mcm_t;
    nl_score_params *ps = &p.score[NL_METHOD_NEGLABEL];
    ps->ngroup = ngroup;
    ps->seed = seed;
    ps->shuffle = shuffle;
    if (perm && nl_parse_permutation(perm, &ps->permutation) != 0) {
        PyErr_SetString(nlpy_InvalidInputError, "permutation must be 'splitmix', 'torch' or 'numpy'");
        goto done;
    }
    ps->tau = tau;
    p.score[NL_METHOD_MCM].tau = mcm_tau;
    /* methods: a sequence of nl_method values; score_params: a dict method
     * name -> dict of score parameters (score_defaults' keys) */
    if (methods_o && methods_o != Py_None) {
        PyObject *seq = nlpy_seq_tuple(methods_o, "methods must be a sequence");
        if (!seq) goto done;
        Py_ssize_t nm = PySequence_Fast_GET_SIZE(seq);
        if (nm > NL_METHOD_COUNT) { Py_DECREF(seq); PyErr_SetString(nlpy_InvalidInputError, "too many methods"); goto done; }
        p.n_methods = 0;
        for (Py_ssize_t k = 0; k < nm; k++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, k));
            if (PyErr_Occurred() || v < 0 || v >= NL_METHOD_COUNT) {
                Py_DECREF(seq);
                if (!PyErr_Occurred()) PyErr_SetString(nlpy_InvalidInputError, "unknown method");
                goto done;
            }
            p.methods[p.n_methods++] = (nl_method)v;
        }
        Py_DECREF(seq);
    }
    if (sp_o && sp_o != Py_None) {
        if (!PyDict_Check(sp_o)) { PyErr_SetString(PyExc_TypeError, "score_params must be a dict"); goto done; }
        for (int m = 0; m < NL_METHOD_COUNT; m++)
            if (nlpy_score_params_from(PyDict_GetItemString(sp_o, nl_method_name((nl_method)m)), &p.score[m]) != 0) goto done;
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
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    if (rc) nlpy_fail_raise(&f);
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
    nlpy_strarr_free(&names);
    nlpy_strarr_free(&specs);
    nlpy_strarr_free(&nt);
    nlpy_strarr_free(&at);
    if (have_cv) nlpy_corpusview_free(&cv);
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
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(src);
    Py_DECREF(dst);
    return rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
}

PyMethodDef nlpy_eval_methods[] = {
    {"eval", (PyCFunction)(void (*)(void))py_eval, METH_VARARGS | METH_KEYWORDS, "nl_eval"},
    {"convert_checkpoint", py_convert_checkpoint, METH_VARARGS, "nl_convert_checkpoint(src, dst_dir)"},
    {NULL, NULL, 0, NULL},
};
