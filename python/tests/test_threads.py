"""Threads: several Python threads with their own Model objects, and one
Model shared by several threads (the package serialises calls on it with
a lock; the library lets one model serve one call at a time). Long calls
release the GIL."""
import threading
import time

import numpy as np

import neglabel
from conftest import hub_server, run_threads

TEXTS = [f"the nice {w}" for w in ("cat", "dog", "tuba", "fern", "anvil", "kite", "bridge", "violin")]


def test_separate_models(tiny, images, labels_file, cat_images, negatives_ref):
    # the reference on one thread too (the library's rounding may depend on
    # its thread count)
    with neglabel.Model(tiny, device="cpu", threads=1) as m:
        ref_t = m.embed_texts(TEXTS)
        ref_i = m.embed_images(images[:6])
        ref_s = neglabel.NegLabel(m, labels_file, negatives_ref.negatives, ngroup=10).score(cat_images)

    def work(k):
        with neglabel.Model(tiny, device="cpu", threads=1) as m:
            out = []
            for _ in range(2):
                out.append((m.embed_texts(TEXTS), m.embed_images(images[:6]),
                            neglabel.NegLabel(m, labels_file, negatives_ref.negatives, ngroup=10).score(cat_images)))
            return out

    for res in run_threads(3, work):
        for t, i, s in res:
            assert np.array_equal(t, ref_t) and np.array_equal(i, ref_i) and np.array_equal(s, ref_s)


def test_shared_model(tiny, images, cat_images, labels_file, negatives_ref):
    m = neglabel.Model(tiny, device="cpu")
    ref_t = m.embed_texts(TEXTS)
    ref_i = m.embed_images(images[:6])
    ref_tok = m.tokenize("a photo of a cat")
    det = neglabel.NegLabel(m, labels_file, negatives_ref.negatives, ngroup=10)
    ref_s = det.score(cat_images)

    def work(k):
        for it in range(3):
            if (k + it) % 3 == 0:
                assert np.array_equal(m.embed_texts(TEXTS), ref_t)
            elif (k + it) % 3 == 1:
                assert np.array_equal(m.embed_images(images[:6]), ref_i)
            else:
                assert np.array_equal(det.score(cat_images), ref_s)
            assert m.tokenize("a photo of a cat") == ref_tok
        return True

    assert all(run_threads(4, work))
    m.close()


def test_close_while_shared(tiny, images):
    """close() from another thread waits for a call in progress (which
    completes) or comes first (the call raises ValueError); never a crash."""
    ref = neglabel.Model(tiny, device="cpu", threads=1).embed_images(images[:8])
    for _ in range(5):
        m = neglabel.Model(tiny, device="cpu", threads=1)
        started = threading.Event()
        outcome = []

        def work():
            started.set()
            try:
                outcome.append(m.embed_images(images[:8]))
            except ValueError as e:
                outcome.append(e)

        t = threading.Thread(target=work)
        t.start()
        started.wait()
        m.close()
        t.join()
        r = outcome[0]
        if isinstance(r, ValueError):
            assert "closed" in str(r)
        else:
            assert np.array_equal(r, ref)
        try:
            m.embed_texts(["x"])
        except ValueError as e:
            assert "closed" in str(e)
        else:
            raise AssertionError("a closed model should refuse calls")


def test_gil_released(tiny, images):
    """While one thread embeds images, another Python thread keeps running."""
    m = neglabel.Model(tiny, device="cpu", threads=1)
    work = images * 3
    t0 = time.perf_counter()
    m.embed_images(work)
    alone = time.perf_counter() - t0
    done = threading.Event()
    ticks = 0

    def embed():
        m.embed_images(work)
        done.set()

    t = threading.Thread(target=embed)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    # with the GIL held for the whole call the loop could not tick at all
    assert alone < 0.05 or ticks >= 5, (alone, ticks)


def test_threads_resolving_one_hub_model(tiny, tmp_path, monkeypatch):
    """Threads loading one Hub model into an empty cache at once (one Model
    per thread, as the docs say) all get it. The refs and snapshot links
    were written through "<path>.<pid>.tmp", which threads of one process
    shared: one thread's unlink removed another's link, which then failed
    as "cannot write to the Hugging Face cache" (in review: 6 of 40 runs of
    4 threads). 8 threads, 6 fresh caches."""
    with hub_server(tmp_path, tiny, monkeypatch, "tiny") as repo:
        monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        want = neglabel.Model(str(repo), device="cpu").fingerprint
        for round_ in range(6):
            monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / f"hf{round_}"))
            got = run_threads(8, lambda k: neglabel.Model("org/tiny", device="cpu").fingerprint)
            assert got == [want] * 8, (round_, got)
            left = [p.name for p in (tmp_path / f"hf{round_}").rglob("*") if ".tmp" in p.name]
            assert not left, left
