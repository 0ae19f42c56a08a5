"""Progress goes to the callback of neglabel.set_progress (called back from
the library's threads while the caller has released the GIL); the default
draws a tqdm-style line only on a terminal. Warnings go to logging."""
import functools
import io
import logging
import random
import sys

import numpy as np
import pytest

import neglabel
from conftest import hub_server


@pytest.fixture
def restore_progress():
    yield
    neglabel.set_progress(neglabel.default_progress)


_rng = random.Random(1)


def many(n):
    """n prompts never seen before (the tokenizer caches the words it has seen)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [" ".join("".join(_rng.choice(letters) for _ in range(9)) for _ in range(3)) for _ in range(n)]


def until(reported, job):
    """Run job(labels) on more and more prompts until reported() is true:
    jobs shorter than 0.2 s report no progress at all, and how many prompts
    take that long depends on the machine."""
    for n in (2000, 8000, 32000, 128000):
        labels = many(n)
        job(labels)
        if reported():
            return labels
    raise AssertionError("no progress reported")


def test_progress_callback(model, restore_progress):
    calls = []
    neglabel.set_progress(lambda *a: calls.append(a))
    labels = until(lambda: calls, lambda labels: neglabel.MCM(model, labels))
    for label, done, total, elapsed, final in calls:
        assert isinstance(label, str) and 0 <= done <= total and elapsed >= 0 and isinstance(final, bool)
    finals = [c for c in calls if c[4]]
    assert finals and all(c[1] == c[2] for c in finals) and finals[-1][2] == len(labels)
    assert all(c[0] == "embedding prompts" for c in calls)
    calls.clear()
    neglabel.set_progress(None)
    neglabel.MCM(model, many(len(labels)))
    assert not calls
    with pytest.raises(TypeError):
        neglabel.set_progress(42)


def test_progress_from_threads(model, tiny, restore_progress):
    """Two models embedding in two threads both report, through one callback,
    called from the library's threads while the callers hold no GIL."""
    import threading

    calls = []
    lock = threading.Lock()

    def fn(*a):
        with lock:
            calls.append((threading.get_ident(),) + a)

    neglabel.set_progress(fn)
    other = neglabel.Model(tiny, device="cpu")

    def job(labels):
        calls.clear()
        half = len(labels) // 2
        ts = [threading.Thread(target=neglabel.MCM, args=(m, part))
              for m, part in ((model, labels[:half]), (other, labels[half:]))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    until(lambda: len([c for c in calls if c[5]]) == 2, job)


def test_progress_callback_errors_do_not_stop_work(model, restore_progress, monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))

    def bad(*a):
        raise RuntimeError("progress display broke")

    neglabel.set_progress(bad)
    out = []
    until(lambda: seen, lambda labels: out.append((len(labels), neglabel.MCM(model, labels))))
    n, mcm = out[-1]
    assert mcm.id_embeddings.shape == (n, model.dim)
    assert isinstance(seen[0], RuntimeError)


def test_default_progress_only_on_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, plain = Tty(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    neglabel.default_progress("embedding prompts", 5, 10, 1.0, False)
    assert plain.getvalue() == ""
    monkeypatch.setattr(sys, "stderr", tty)
    neglabel.default_progress("embedding prompts", 5, 10, 1.0, False)
    neglabel.default_progress("embedding prompts", 10, 10, 2.0, True)
    out = tty.getvalue()
    assert "embedding prompts:  50%|" in out and "5/10" in out and "it/s" in out
    assert out.endswith("\n") and "100%" in out


def test_default_progress_in_a_notebook(monkeypatch):
    """A Jupyter kernel's stderr (ipykernel.iostream.OutStream) is not a
    terminal but redraws a line on "\r": the line is drawn there, without
    the terminal's erase code, which a notebook would show as text."""
    OutStream = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})
    nb = OutStream()
    assert not nb.isatty()
    monkeypatch.setattr(sys, "stderr", nb)
    neglabel.default_progress("mining", 3, 10, 1.0, False)
    neglabel.default_progress("mining", 10, 10, 2.0, True)
    out = nb.getvalue()
    assert out.startswith("\rmining:  30%|") and "\rmining: 100%|" in out and out.endswith("\n")
    assert "\033" not in out


def test_warnings_to_logging(model, tmp_path, caplog):
    dup = tmp_path / "dup.txt"
    dup.write_text("cat\ndog\ncat\n")
    with caplog.at_level(logging.INFO, logger="neglabel"):
        mcm = neglabel.MCM(model, str(dup))
    assert mcm.labels == ["cat", "dog", "cat"]
    assert any(r.levelno == logging.WARNING and "1 duplicate ID label(s) kept" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="neglabel"):
        neglabel.MCM(model, ["cat", "dog", "cat"])
    assert any("duplicate" in r.getMessage() for r in caplog.records)


def test_cache_dir(model, labels_file, cat_images, tmp_path, caplog):
    """cache_dir: the CLI's embedding cache; the second run embeds nothing
    and gives the same bits."""
    c = tmp_path / "cache"
    a = neglabel.MCM(model, labels_file, cache_dir=c).score(cat_images)
    with caplog.at_level(logging.INFO, logger="neglabel"):
        b = neglabel.MCM(model, labels_file, cache_dir=c).score(cat_images)
    assert np.array_equal(a, b)
    assert any("images: 12 cached, 0 to embed" in r.getMessage() for r in caplog.records)
    assert np.array_equal(neglabel.MCM(model, labels_file).score(cat_images), a)


def _interrupt_during(job):
    """Send SIGINT 0.3 s into job(labels), growing the job until it lasts
    past the signal. 'during': KeyboardInterrupt came out of the call;
    'after': the call ended first (too short: grown); 'lost': the call
    swallowed it (none came, even after it returned)."""
    import os
    import signal
    import threading
    import time

    assert threading.current_thread() is threading.main_thread()
    for n in (4000, 16000, 64000):
        labels = many(n)
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        returned = False
        try:
            timer.start()
            job(labels)
            returned = True
            time.sleep(1.0)  # a signal that came during the call would be raised by now
            return "lost"
        except KeyboardInterrupt:
            if not returned:
                return "during"
        finally:
            timer.join()
    raise AssertionError("the job never outlasted the signal")


@pytest.mark.parametrize("handler", ["default", "custom", "builtin", "none"])
def test_ctrl_c_during_a_long_call_reaches_the_caller(model, restore_progress, handler):
    """Ctrl-C while the library works (GIL released) lands in the progress
    handler; it was reported as unraisable and dropped, so the call's
    caller never saw the KeyboardInterrupt. It is raised once the call
    returns (the API cannot stop a call midway)."""
    if handler == "custom":
        neglabel.set_progress(lambda *a: None)
    elif handler == "builtin":  # a C callable: the interpreter checks no signal in it
        neglabel.set_progress(functools.partial(print, file=io.StringIO()))
    elif handler == "none":
        neglabel.set_progress(None)
    assert _interrupt_during(lambda labels: model._embed_words(labels, ["a photo of a {}."], None)) == "during"
    # nothing is left pending: the next call runs and returns normally
    assert neglabel.MCM(model, ["cat", "dog"]).id_embeddings.shape == (2, model.dim)


def test_ctrl_c_stops_the_call(model, restore_progress, tmp_path, caplog):
    """Ctrl-C stops the call at the next batch (nl_set_cancel), not at its
    end: run again, the prompts embedded before the stop come from the
    cache and the rest are still to embed."""
    import logging
    import os
    import re
    import signal
    import threading
    import time

    neglabel.set_progress(None)  # the poll checks signals whatever the handler
    templates = ["a photo of a {}."]

    def cache_counts(labels, cache):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="neglabel"):
            model._embed_words(labels, templates, cache)
        counts = [re.search(r"(\d+) cached, (\d+) to embed", r.getMessage()) for r in caplog.records]
        counts = [(int(m.group(1)), int(m.group(2))) for m in counts if m]
        assert counts, [r.getMessage() for r in caplog.records]
        return counts[0]

    # The signal may land after the last batch's poll (the call then ends
    # whole and the interrupt is raised as it returns) or after the call:
    # the cache is then complete and a longer job is tried.
    for n in (4000, 16000, 64000, 256000):
        labels, cache = many(n), tmp_path / f"c{n}"
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            try:
                model._embed_words(labels, templates, cache)
            finally:
                timer.join()
            time.sleep(1.0)  # a signal sent after the call is raised here
        except KeyboardInterrupt:
            pass
        cached, todo = cache_counts(labels, cache)
        assert cached + todo == n, (n, cached, todo)
        if todo > 0:
            assert cached % 512 == 0, (n, cached, todo)  # whole batches only
            return  # stopped midway; what was embedded before it is cached
    raise AssertionError("no call stopped midway: the interrupt only came at their ends")


def test_base_exception_from_progress_handler_is_raised(model, restore_progress):
    """A SystemExit (a BaseException, not an Exception) raised by the handler
    reaches the caller after the call; an Exception is still only reported."""
    def stop(*a):
        raise SystemExit(3)

    neglabel.set_progress(stop)
    with pytest.raises(SystemExit) as e:
        for n in (2000, 8000, 32000, 128000):
            neglabel.MCM(model, many(n))
    assert e.value.code == 3


def test_ctrl_c_stops_a_download(tiny, tmp_path, monkeypatch):
    """Ctrl-C during a download from the Hub stops it within a fraction of a
    second, even while the server sends nothing (nl_set_cancel polled by
    libcurl's progress callback); the bytes received stay to resume. The
    stand-in Hub (tests/hub_server.py) stalls 60 s after 3 MB."""
    import os
    import signal
    import threading
    import time

    with hub_server(tmp_path, tiny, monkeypatch, "stall", "--stall", "org/stall:model.safetensors:3000000") as repo:
        cache = tmp_path / "hf"
        monkeypatch.setenv("HF_HUB_CACHE", str(cache))
        monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "300")  # the stall is not cut short by the read timeout

        def part():
            p = list(cache.glob("models--org--stall/blobs/*.incomplete"))
            return p[0] if p else None

        sent = []

        def interrupt_in_the_stall():
            for _ in range(600):  # 30 s at most
                p = part()
                if p is not None and p.stat().st_size >= 3000000:
                    break
                time.sleep(0.05)
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Thread(target=interrupt_in_the_stall)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            try:
                neglabel.Model("org/stall", device="cpu")
            finally:
                timer.join()
        took = time.monotonic() - sent[0]
        assert took < 10, f"the download went on {took:.1f} s after Ctrl-C"
        assert part() is not None and part().stat().st_size == 3000000
        # run again: it resumes from the bytes kept, and it is the model served
        again = neglabel.Model("org/stall", device="cpu")
        assert part() is None
        assert again.fingerprint == neglabel.Model(str(repo), device="cpu").fingerprint


def test_ctrl_c_stops_scoring(model, restore_progress):
    """Ctrl-C stops score_embeddings between blocks of 256 images
    (nl_set_cancel, polled by nl_score); before, it came only when the
    whole call had ended (a minute for 200,000 images x 10,000 labels)."""
    import os
    import signal
    import threading
    import time

    mcm = neglabel.MCM(model, many(4000))
    rng = np.random.default_rng(0)
    for n in (20000, 80000, 320000):
        emb = rng.standard_normal((n, model.dim), dtype=np.float32)
        t0 = time.monotonic()
        mcm.score_embeddings(emb)
        whole = time.monotonic() - t0
        if whole < 2.0:
            continue  # too short for the signal to land midway: a longer job
        sent = []
        timer = threading.Timer(0.3, lambda: (sent.append(time.monotonic()), os.kill(os.getpid(), signal.SIGINT)))
        t0 = time.monotonic()
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                mcm.score_embeddings(emb)
                time.sleep(1.0)  # (a signal after the call would be raised here: the test fails on took)
        finally:
            timer.join()
        took = time.monotonic() - sent[0]
        assert took < 0.5 * whole, f"the scoring went on {took:.2f} s after Ctrl-C (the whole call: {whole:.2f} s)"
        return
    raise AssertionError("no scoring call lasted 2 s")


def _long_embedding(model, at_least):
    """Prompts whose embedding takes at least at_least seconds here: the
    count grows with what the last size took (a quiet machine embedded
    128,000 prompts of the tiny model in under 4 s, where a fixed list of
    sizes stopped)."""
    import time

    n = 2000
    while n <= 4_000_000:
        took = []
        for _ in range(2):  # the first run of a size is slower (its buffers' pages, the threads): the second counts
            labels = many(n)  # new words: the tokenizer caches those it has seen
            t0 = time.monotonic()
            model._embed_words(labels, ["a {}"], None)
            took.append(time.monotonic() - t0)
        if took[1] >= at_least:
            return many(n)
        # enough for at_least with a margin, at least twice as many
        n = int(n * max(2.0, 1.5 * at_least / max(took[1], 0.01)))
    raise AssertionError(f"no embedding lasted {at_least} s")


def test_a_signal_handlers_exception_stops_the_call(model, restore_progress):
    """An exception a signal handler raises during a long call (a
    TimeoutError from SIGALRM) stops the call and reaches its caller, as
    the same alarm does to Python code; it was reported as unraisable and
    the call ran to its end."""
    import signal
    import time

    neglabel.set_progress(None)
    labels = _long_embedding(model, 3.0)

    def alarm(signum, frame):
        raise TimeoutError("too slow")

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="too slow"):
            model._embed_words(labels, ["a {}"], None)
        took = time.monotonic() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert took < 2.0, f"the call went on to {took:.2f} s"


def test_a_handlers_exit_stays_on_its_thread(model, tiny, restore_progress):
    """A SystemExit from a progress handler on thread A is A's: B's call on
    another model goes on (before, B's next poll stopped it and B raised
    A's exception)."""
    import threading
    import time

    other = neglabel.Model(tiny, device="cpu")
    long_labels = _long_embedding(other, 3.0)
    a_labels = _long_embedding(model, 0.5)  # over 0.2 s: its progress has a final call
    results = {}

    def handler(label, done, total, elapsed, final):
        if threading.current_thread().name == "A" and final:
            raise SystemExit("from A's handler")

    def run(name, m, labels):
        try:
            m._embed_words(labels, ["a {}"], None)
            results[name] = "ok"
        except BaseException as e:  # noqa: B902 - what reached this thread
            results[name] = f"{type(e).__name__}: {e}"

    neglabel.set_progress(handler)
    tb = threading.Thread(target=run, args=("B", other, long_labels), name="B")
    ta = threading.Thread(target=run, args=("A", model, a_labels), name="A")
    tb.start()
    time.sleep(0.3)
    ta.start()
    exits = 0
    for t in (ta, tb):
        while t.is_alive():
            try:
                t.join()
            except SystemExit:  # A's, raised in the main thread: A's call had ended
                exits += 1
    try:
        time.sleep(0.5)  # a pending call not run yet runs here
    except SystemExit:
        exits += 1
    assert results["B"] == "ok", results
    assert results["A"] == "SystemExit: from A's handler" or (results["A"] == "ok" and exits == 1), (results, exits)


def test_ctrl_c_while_waiting_for_a_busy_model(model, restore_progress):
    """Ctrl-C while this thread waits for the model's lock (another thread's
    long call holds it) raises KeyboardInterrupt at once; the wait ignored
    it until the other call ended."""
    import os
    import signal
    import threading
    import time

    neglabel.set_progress(None)
    labels = _long_embedding(model, 4.0)
    # the other call holds the model once it reports progress (after 0.2 s
    # of work; it lasts 4 s or more): only then is this thread's call made,
    # and the signal sent while it waits. (Timed from the thread's start, a
    # loaded machine let this call take the model first, and the signal then
    # landed after the test, killing the session.)
    in_call = threading.Event()
    neglabel.set_progress(lambda *a: in_call.set())
    worker = threading.Thread(target=lambda: model._embed_words(labels, ["a {}"], None))
    worker.start()
    sent = []
    timer = threading.Timer(0.5, lambda: (sent.append(time.monotonic()), os.kill(os.getpid(), signal.SIGINT)))
    try:
        assert in_call.wait(30), "the other call reported no progress"
        neglabel.set_progress(None)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            model.embed_texts(["a photo"])
        took = time.monotonic() - sent[0]
    finally:
        timer.cancel()  # not sent after the test when the call did not wait
        if timer.is_alive():
            timer.join()
        worker.join()
    print(f"KeyboardInterrupt {took:.2f} s after the signal")
    assert took < 1.0, f"the wait went on {took:.2f} s after Ctrl-C"
