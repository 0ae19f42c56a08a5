/* ext_negatives.c — negative labels across the boundary: negatives files
 * read and written, their embedding and NegMining (Model methods), and the
 * corpus parameters mining and eval share. */
#include "ext.h"

/* ------------------------------------------------------------ negatives */

/* Negatives cross the boundary as a tuple:
 * (words, prompts, pos bytes (0 noun / 1 adj), model str|None, dim,
 *  noun_templates, adj_templates, raw_mean) -- raw_mean optional on input
 *  (CSP's "ensemble=raw", see nl_negatives). */
static PyObject *negatives_tuple(const nl_negatives *n) {
    PyObject *w = nlpy_strvec_list(&n->words, 0), *p = nlpy_strvec_list(&n->prompts, 0);
    PyObject *pos = PyBytes_FromStringAndSize((const char *)n->pos, (Py_ssize_t)n->words.n);
    PyObject *model = n->model ? nlpy_utf8_str(n->model) : Py_NewRef(Py_None);
    PyObject *nt = nlpy_strvec_list(&n->noun_templates, 0), *at = nlpy_strvec_list(&n->adj_templates, 0);
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
    nlpy_strarr_free(&v->w);
    nlpy_strarr_free(&v->p);
    nlpy_strarr_free(&v->nt);
    nlpy_strarr_free(&v->at);
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
    if (nlpy_strarr_from(w, 0, &v->w, "words") || nlpy_strarr_from(p, 0, &v->p, "prompts") ||
        nlpy_strarr_from(nt, 0, &v->nt, "noun_templates") || nlpy_strarr_from(at, 0, &v->at, "adj_templates") ||
        nlpy_opt_utf8(model, &ms, &v->model_keep, "model"))
        goto fail;
    if (v->p.n != v->w.n || (size_t)PyBytes_GET_SIZE(pos) != v->w.n) {
        PyErr_SetString(nlpy_InvalidInputError, "negatives: words, prompts and pos differ in length");
        goto fail;
    }
    for (size_t i = 0; i < v->w.n; i++)
        if ((unsigned char)PyBytes_AS_STRING(pos)[i] > 1) {
            PyErr_SetString(nlpy_InvalidInputError, "negatives: pos entries must be 0 (noun) or 1 (adj)");
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
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (rc) return nlpy_fail_raise(&f);
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
        if (nlpy_get_buffer(qsim, &qb, 0, 8, 'f', "similarities") != 0) goto out;
        have_q = 1;
        if (nlpy_check_len(&qb, v.w.n, "similarities") != 0) goto out;
    }
    int rc;
    failure f = {0};
    Py_BEGIN_ALLOW_THREADS
    rc = nl_negatives_write(PyBytes_AS_STRING(path), &v.neg, have_q ? qb.buf : NULL);
    if (rc) nlpy_fail_capture(&f);
    Py_END_ALLOW_THREADS
    res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
out:
    if (have_q) PyBuffer_Release(&qb);
    negview_free(&v);
out0:
    Py_DECREF(path);
    return res;
}

/* templates_for_negatives(negatives, templates, given, raw_mean, path) ->
 * (templates, raw_mean): nl_templates_for_negatives, the ID labels'
 * templates for these negatives. */
static PyObject *py_templates_for_negatives(PyObject *self, PyObject *args) {
    PyObject *tup, *tl, *path;
    int given, raw;
    if (!PyArg_ParseTuple(args, "OOppO&:templates_for_negatives", &tup, &tl, &given, &raw, PyUnicode_FSConverter, &path))
        return NULL;
    negview v;
    strarr t = {0};
    PyObject *res = NULL;
    if (negview_from(tup, &v) != 0) goto out0;
    if (nlpy_strarr_from(tl, 0, &t, "templates") != 0) goto out;
    nl_templates tt = nl_templates_default();
    tt.noun = t.v;
    tt.n_noun = t.n;
    tt.raw_mean = raw;
    if (nl_templates_for_negatives(&tt, given, &v.neg, PyBytes_AS_STRING(path)) != 0) {
        failure f = {0};
        nlpy_fail_capture(&f);
        res = nlpy_fail_raise(&f);
        goto out;
    }
    PyObject *l = PyList_New((Py_ssize_t)tt.n_noun);
    for (size_t i = 0; l && i < tt.n_noun; i++) {
        PyObject *u = nlpy_utf8_str(tt.noun[i]);
        if (!u) { Py_CLEAR(l); break; }
        PyList_SET_ITEM(l, (Py_ssize_t)i, u);
    }
    if (l) res = Py_BuildValue("(NO)", l, tt.raw_mean ? Py_True : Py_False);
out:
    nlpy_strarr_free(&t);
    negview_free(&v);
out0:
    Py_DECREF(path);
    return res;
}

/* negatives_embed(negatives, path_for_messages, cache_dir, out) */
PyObject *nlpy_model_negatives_embed(ModelObject *self, PyObject *args) {
    PyObject *tup, *label, *cache, *out;
    if (!PyArg_ParseTuple(args, "OO&OO:negatives_embed", &tup, PyUnicode_FSConverter, &label, &cache, &out)) return NULL;
    if (!nlpy_model_ok(self)) { Py_DECREF(label); return NULL; }
    negview v;
    PyObject *ck = NULL, *res = NULL;
    nl_embed_opts o = {NULL, 0};
    if (nlpy_opt_path(cache, &o.cache_dir, &ck) != 0) { Py_DECREF(label); return NULL; }
    if (negview_from(tup, &v) == 0) {
        Py_buffer b;
        if (nlpy_get_buffer(out, &b, 1, 4, 'f', "out") == 0) {
            if (nlpy_check_len(&b, v.w.n * (size_t)self->dim, "out") == 0) {
                int rc = 0;
                failure f = {0};
                MODEL_CALL(self, f, {
                    rc = nl_negatives_embed(self->m, &o, PyBytes_AS_STRING(label), &v.neg, b.buf);
                    if (rc) nlpy_fail_capture(&f);
                });
                res = rc || f.closed ? nlpy_fail_raise(&f) : Py_NewRef(Py_None);
            }
            PyBuffer_Release(&b);
        }
        negview_free(&v);
    }
    Py_XDECREF(ck);
    Py_DECREF(label);
    return res;
}

void nlpy_corpusview_free(corpusview *c) {
    Py_CLEAR(c->wk);
    Py_CLEAR(c->lk);
    nlpy_strarr_free(&c->inc);
    nlpy_strarr_free(&c->exc);
}

int nlpy_corpusview_from(PyObject *tup, corpusview *c) {
    memset(c, 0, sizeof *c);
    PyObject *wn, *lists, *inc, *exc;
    if (!PyArg_ParseTuple(tup, "OOOO;corpus: expected (wordnet_dir, lists_dir, include, exclude)", &wn, &lists, &inc, &exc))
        return -1;
    if (nlpy_opt_path(wn, &c->cp.wordnet_dir, &c->wk) || nlpy_opt_path(lists, &c->cp.lists_dir, &c->lk) ||
        nlpy_strarr_from(inc, 0, &c->inc, "include") || nlpy_strarr_from(exc, 0, &c->exc, "exclude")) {
        nlpy_corpusview_free(c);
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
 * -> (negatives tuple, qsim bytes of float64): nl_mine_model. id_emb None:
 * only nl_mine_check and nl_corpus_check (before the ID labels are
 * embedded), -> None. */
PyObject *nlpy_model_mine(ModelObject *self, PyObject *args) {
    PyObject *labels, *id_emb, *corpus, *nt_o, *at_o, *cache;
    double fraction, quantile;
    Py_ssize_t total;
    int n_threads, remove_id, csp = 0;
    if (!PyArg_ParseTuple(args, "OOOddniOOOp|p:mine", &labels, &id_emb, &corpus, &fraction, &quantile, &total,
                          &n_threads, &nt_o, &at_o, &cache, &remove_id, &csp) ||
        !nlpy_model_ok(self))
        return NULL;
    if (total < 0) { PyErr_SetString(nlpy_InvalidInputError, "total must be >= 0"); return NULL; }
    strarr lab = {0}, nt = {0}, at = {0};
    corpusview cv;
    PyObject *ck = NULL, *res = NULL;
    Py_buffer ib = {0};
    int have_ib = 0;
    nl_embed_opts o = {NULL, 0};
    if (nlpy_corpusview_from(corpus, &cv) != 0) return NULL;
    if (nlpy_opt_path(cache, &o.cache_dir, &ck) || nlpy_strarr_from(labels, 0, &lab, "labels") ||
        nlpy_strarr_from(nt_o, 0, &nt, "templates") || nlpy_strarr_from(at_o, 0, &at, "adj_templates"))
        goto done;
    if (id_emb != Py_None) {
        if (nlpy_get_buffer(id_emb, &ib, 0, 4, 'f', "id_emb") != 0) goto done;
        have_ib = 1;
        if (nlpy_check_len(&ib, lab.n * (size_t)self->dim, "id_emb") != 0) goto done;
    }
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
            cv.cp.absent_ok = d.csp_corpus.absent_ok;
        }
    }
    if (nt.n) { t.noun = nt.v; t.n_noun = nt.n; }
    if (at.n) { t.adj = at.v; t.n_adj = at.n; }
    if (!have_ib) { /* check only: nothing long runs, no model call */
        if (nl_mine_check(&mp, &t) != 0 || nl_corpus_check(&cv.cp) != 0) nlpy_raise_last();
        else res = Py_NewRef(Py_None);
        goto done;
    }
    nl_strvec drop = {(char **)lab.v, lab.n, lab.n};
    nl_negatives neg = {0};
    double *qsim = NULL;
    int rc = 0;
    failure f = {0};
    MODEL_CALL(self, f, {
        rc = nl_mine_model(self->m, &o, ib.buf, lab.n, &cv.cp, remove_id ? &drop : NULL, &mp, &t, &neg, NULL, &qsim);
        if (rc) nlpy_fail_capture(&f);
    });
    if (rc || f.closed) { nlpy_fail_raise(&f); goto done; }
    PyObject *nt_tuple = negatives_tuple(&neg);
    PyObject *q = PyBytes_FromStringAndSize((const char *)qsim, (Py_ssize_t)(neg.words.n * sizeof(double)));
    if (nt_tuple && q) res = PyTuple_Pack(2, nt_tuple, q);
    Py_XDECREF(nt_tuple);
    Py_XDECREF(q);
    nl_negatives_free(&neg);
    free(qsim);
done:
    if (have_ib) PyBuffer_Release(&ib);
    nlpy_strarr_free(&lab);
    nlpy_strarr_free(&nt);
    nlpy_strarr_free(&at);
    nlpy_corpusview_free(&cv);
    Py_XDECREF(ck);
    return res;
}

PyMethodDef nlpy_negatives_methods[] = {
    {"negatives_read", py_negatives_read, METH_VARARGS, "nl_negatives_read(path) -> negatives tuple"},
    {"negatives_write", py_negatives_write, METH_VARARGS, "nl_negatives_write(path, negatives, qsim)"},
    {"templates_for_negatives", py_templates_for_negatives, METH_VARARGS,
     "nl_templates_for_negatives(negatives, templates, given, raw_mean, path) -> (templates, raw_mean)"},
    {NULL, NULL, 0, NULL},
};
