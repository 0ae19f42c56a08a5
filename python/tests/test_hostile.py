"""Unusual use of the package that once crashed, hung or gave wrong results
quietly: a huge thread count, handlers that call the model they report on,
generators of images, negatives that a TSV cannot hold, NaN embeddings,
stream parameters of the wrong type, a closed model given nothing."""
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neglabel


def test_thread_and_batch_bounds(tiny):
    # 100,000 OpenMP threads overflowed the stack while loading (a segfault)
    with pytest.raises(neglabel.InvalidInputError, match="n_threads 100000"):
        neglabel.Model(tiny, device="cpu", threads=100000)
    with pytest.raises(neglabel.InvalidInputError, match="batch_size 5000"):
        neglabel.Model(tiny, device="cpu", batch_size=5000)
    assert neglabel.Model(tiny, device="cpu", threads=1024).threads == 1024


def _run(code, tiny, images, timeout=120):
    """code in a fresh interpreter, bounded: a deadlock fails the test instead
    of hanging the suite."""
    env = dict(os.environ, TINY=str(tiny), IMG=images[0])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_log_handler_calling_the_busy_model(tiny, images):
    # the handler runs inside the embedding call, which holds the model's
    # lock (the cache's INFO message): its call used to wait for that lock
    # for ever; now it raises, and the work goes on
    r = _run("""
        import logging, os, tempfile, neglabel
        m = neglabel.Model(os.environ["TINY"], device="cpu")
        logging.getLogger("neglabel").setLevel(logging.INFO)
        seen = []
        class H(logging.Handler):
            def emit(self, rec):
                try:
                    m.tokenize("x")
                    seen.append("ran")
                except RuntimeError as e:
                    seen.append(str(e))
        logging.getLogger("neglabel").addHandler(H())
        s = neglabel.MCM(m, ["cat", "dog"], cache_dir=tempfile.mkdtemp()).score(
            [os.environ["IMG"], "/nonexistent.jpg"], skip_unreadable=True)
        print(len(s), s[0] == s[0], s[1] != s[1])
        print(seen[0] if seen else "no handler call")
        m.tokenize("x")  # usable after the call
        print("after ok")
    """, tiny, images)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "2 True True"
    assert "handler cannot use a model that is busy" in out[1]
    assert out[2] == "after ok"


def test_progress_handler_closing_the_busy_model(tiny, images):
    # MCM embeds its labels holding the model's lock and reports progress
    # (after 0.2 s: more labels until it does, as test_progress.py)
    r = _run("""
        import os, random, neglabel
        m = neglabel.Model(os.environ["TINY"], device="cpu")
        errs = []
        def progress(*a):
            try:
                m.close()
            except RuntimeError as e:
                errs.append(str(e))
        neglabel.set_progress(progress)
        rng = random.Random(2)
        for n in (2000, 8000, 32000, 128000):
            labels = [" ".join("".join(rng.choice("abcdefghij") for _ in range(9)) for _ in range(3)) for _ in range(n)]
            neglabel.MCM(m, labels)
            if errs:
                break
        neglabel.set_progress(None)
        print(len(errs) > 0, m.closed)
        print(errs[0] if errs else "no progress")
    """, tiny, images, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "True False", out
    assert "busy" in out[1]


def test_signal_handler_calling_the_busy_model(tiny, images):
    # Between batches the extension runs Python's signal handlers (so that
    # Ctrl-C stops a long call), inside the call, which holds the model's
    # lock: a handler using that model waited for the lock for ever (a
    # service's SIGTERM handler closing its model hung the process). It
    # now raises RuntimeError there, as a log or progress handler's call
    # does, and the work goes on.
    r = _run("""
        import os, signal, threading, time, neglabel
        m = neglabel.Model(os.environ["TINY"], device="cpu")
        neglabel.set_progress(None)
        seen = []
        def handler(signum, frame):
            try:
                m.tokenize("x")
                seen.append("ran")
            except RuntimeError as e:
                seen.append(str(e))
        signal.signal(signal.SIGUSR1, handler)
        for n in (4000, 16000, 64000, 256000):  # until the call outlasts the signal
            t = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
            t.start()
            t0 = time.time()
            e = m._embed_words([f"word{i}" for i in range(n)], ["a photo of a {}."], None)
            t.join()
            if time.time() - t0 > 0.6 and seen:
                break
            seen.clear()
        print(e.shape == (n, m.dim))
        print(seen[0])
        m.tokenize("x")  # usable after the call
        print("after ok")
    """, tiny, images, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "True"
    assert "signal handler cannot use a model that is busy" in out[1]
    assert out[2] == "after ok"


def test_generator_of_images(negatives_ref, images):
    det = negatives_ref
    paths = images[:3]
    want = det.score(paths)
    assert not np.isnan(want).any()
    # score() counted the images with a first pass over the generator, then
    # embedded an empty second pass: every score NaN, no error
    np.testing.assert_array_equal(det.score(iter(paths)), want)
    np.testing.assert_array_equal(det.score(p for p in paths), want)
    s, ti, tn = det.score((p for p in paths), return_labels=True)
    np.testing.assert_array_equal(s, want)
    assert None not in ti and None not in tn


@pytest.mark.parametrize("kw", [
    dict(words=["a\tb"], pos=["noun"], prompts=["x"]),
    dict(words=["a\nb"], pos=["noun"], prompts=["x"]),
    dict(words=["a"], pos=["noun"], prompts=["x\ry"]),
    dict(words=[""], pos=["noun"], prompts=[""]),
    dict(words=["x"], pos=["noun"], prompts=["x"], noun_templates=["a\t{}"]),
    dict(words=["x"], pos=["noun"], prompts=["x"], model="a\nb"),
])
def test_negatives_a_tsv_cannot_hold(tmp_path, kw):
    # these were written, and read back as other words (or not at all)
    p = tmp_path / "n.tsv"
    with pytest.raises(neglabel.InvalidInputError, match="n.tsv"):
        neglabel.Negatives(**kw).save(p)
    assert not p.exists()


def test_negatives_cut_short(tmp_path, negatives_ref):
    p = tmp_path / "n.tsv"
    negatives_ref.negatives.save(p)
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "cut.tsv").write_text("".join(lines[:-3]), encoding="utf-8")
    with pytest.raises(neglabel.InvalidInputError, match="header says count="):
        neglabel.Negatives.load(tmp_path / "cut.tsv")
    assert len(neglabel.Negatives.load(p).words) == len(lines) - 1


def test_nan_rows_have_no_top_labels(negatives_ref, model):
    emb = np.ones((2, model.dim), dtype=np.float32)
    emb[1] = np.nan
    s, ti, tn = negatives_ref.score_embeddings(emb, return_labels=True)
    assert not np.isnan(s[0]) and np.isnan(s[1])
    assert ti[0] is not None and tn[0] is not None
    assert ti[1] is None and tn[1] is None  # was label 0, as if it matched


def test_stream_parameters_checked_at_construction(model, labels_file, negatives_ref):
    # wrong types named (they gave "'float' object cannot be interpreted as an
    # integer" at the first score); values out of range refused before any
    # image is embedded (they failed after)
    neg = negatives_ref.negatives
    with pytest.raises(TypeError, match="oodd_k: expected an integer, got float"):
        neglabel.OODD(model, labels_file, neg, k=5.0)
    with pytest.raises(TypeError, match="adaneg_memory: expected an integer, got str"):
        neglabel.AdaNeg(model, labels_file, neg, memory="10")
    with pytest.raises(TypeError, match="adaneg_thres: expected a number, got str"):
        neglabel.AdaNeg(model, labels_file, neg, thres="0.5")
    with pytest.raises(ValueError, match="oodd"):
        neglabel.OODD(model, labels_file, neg, queue=10, k=100)
    with pytest.raises(ValueError, match="adaneg: thres must be in"):
        neglabel.AdaNeg(model, labels_file, neg, thres=2.0)
    with pytest.raises(ValueError, match="ngroup 100000 outside"):
        neglabel.NegLabel(model, labels_file, neg, ngroup=100000)


def test_closed_model_given_nothing(tiny):
    m = neglabel.Model(tiny, device="cpu")
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.embed_texts([])
    with pytest.raises(ValueError, match="closed"):
        m.embed_images([])


def test_sequences_changed_by_their_items(tiny, images):
    # The extension walked a list by index while each item's __fspath__ or
    # __index__ (Python code) ran: one that emptied the list made it read
    # past the list's end (a segfault); it now walks a snapshot. In a fresh
    # interpreter: the old code's crash fails the test, not the suite.
    r = _run("""
        import os, numpy as np, neglabel
        from neglabel import _neglabel as C
        m = C.Model(os.environ["TINY"], "cpu")
        paths = []
        class P:
            def __fspath__(self):
                paths.clear()
                return os.environ["IMG"]
        paths.extend([P()] + [os.environ["IMG"]] * 50)
        out = np.empty((51, 32), np.float32)
        m.embed_paths(paths, 0, out)
        print("paths", out.shape, bool(np.isfinite(out).all()))
        methods = []
        class M:
            def __index__(self):
                methods.clear()
                return 0
        methods.extend([M(), 1, 2])
        try:
            C.eval(model=os.environ["TINY"], id_labels="/nonexistent", id="/nonexistent", ood_names=["a"],
                   ood_specs=["/x"], negatives=None, corpus=(None, None, [], []), fraction=.15, quantile=.95,
                   total=0, noun_templates=[], adj_templates=[], mcm_template=None, ngroup=100, seed=0,
                   shuffle=True, tau=.01, mcm_tau=1., convention=0, resample=0, out_dir=None, cache_dir=None,
                   strict=False, remove_id_labels=False, examples=0, device="cpu", precision=None, threads=1,
                   batch_size=0, methods=methods)
        except neglabel.FileError as e:
            print("methods", e)
    """, tiny, images)
    assert r.returncode == 0, (r.returncode, r.stderr)
    out = r.stdout.splitlines()
    assert out[0] == "paths (51, 32) True"
    assert out[1].startswith("methods /nonexistent")


def test_score_parameters_changed_by_a_value(tiny):
    # nlpy_score_params_from walked the dict with borrowed names and values
    # while a value's __index__ ran: one that emptied the dict freed the
    # name the error message was then made from (it read freed memory:
    # "ZZZZZZZZZZZZZ out of range"); it now walks a snapshot of the items
    d = {}

    class X:
        def __index__(self):
            d.clear()
            global _junk
            _junk = ["".join(["Z"] * 13) for _ in range(1000)]  # reuse what was freed
            return 2 ** 40

    d["".join(["adaneg_", "memory"])] = X()  # made at run time: only d holds it
    dim = 32
    with pytest.raises(ValueError, match="^adaneg_memory out of range$"):
        neglabel._neglabel.score(np.zeros((1, dim), np.float32), np.zeros((2, dim), np.float32),
                                 np.zeros((10, dim), np.float32), dim, 3, 5, 0, True, .01, 1, 0, 0, np.empty(1),
                                 None, None, "torch", d)
