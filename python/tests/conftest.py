"""Fixtures of the Python tests: the tiny random-weight CLIP of ../shared
(NEGLABEL_SHARED overrides) and the CLI binary (NEGLABEL_BIN, else
build/neglabel) whose outputs every test compares with.

Where the data or the binary is missing the tests are skipped with the
reason, except under CI (CI or NEGLABEL_NO_SKIP set), where a skip fails
the run. Tests marked gpu (test_gpu.py) run instead of the others when
NEGLABEL_GPU_TESTS=1."""
import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("NEGLABEL_SHARED") or ROOT.parent / "shared")
BIN = pathlib.Path(os.environ.get("NEGLABEL_BIN") or ROOT / "build" / "neglabel")
NO_SKIP = bool(os.environ.get("CI") or os.environ.get("NEGLABEL_NO_SKIP"))


def need(ok, reason):
    if not ok:
        if NO_SKIP:
            pytest.fail(f"{reason} (skipping is not allowed under CI)", pytrace=False)
        pytest.skip(reason)


def run_threads(n, fn):
    """fn(k) on n threads at once; their results in order (an exception in
    any fails the test)."""
    errors, results = [], [None] * n

    def target(k):
        try:
            results[k] = fn(k)
        except BaseException as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=target, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    return results


_skipped = []
GPU_TESTS = os.environ.get("NEGLABEL_GPU_TESTS") == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs the CUDA backend and a GPU; run with NEGLABEL_GPU_TESTS=1")


def pytest_collection_modifyitems(config, items):
    """Tests marked gpu run only with NEGLABEL_GPU_TESTS=1 (then only they:
    the rest compare with the CPU CLI and assume the CPU); without it they are
    deselected, not skipped."""
    keep, drop = [], []
    for i in items:
        (keep if (i.get_closest_marker("gpu") is not None) == GPU_TESTS else drop).append(i)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if NO_SKIP and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if NO_SKIP and _skipped:
        terminalreporter.write_line(f"FAILED: {len(_skipped)} test(s) skipped under CI: {', '.join(_skipped)}")


@pytest.fixture(scope="session")
def shared():
    need((SHARED / "README.md").is_file(), f"reference data not found at {SHARED} (set NEGLABEL_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def tiny(shared):
    return str(shared / "fixtures" / "tiny-clip")


@pytest.fixture(scope="session")
def cli_bin():
    need(BIN.is_file() and os.access(BIN, os.X_OK), f"CLI binary not found at {BIN} (set NEGLABEL_BIN)")
    return str(BIN)


class Cli:
    """The CLI, pinned to the CPU, without cache or progress."""

    def __init__(self, path):
        self.path = path
        self.env = dict(os.environ, NEGLABEL_DEVICE="cpu")
        self.env.pop("NEGLABEL_PRECISION", None)

    def run(self, *args, input=None):
        return subprocess.run([self.path, *map(str, args), "--quiet", "--no-cache"], input=input,
                              capture_output=True, text=True, env=self.env)

    def __call__(self, *args, input=None):
        r = self.run(*args, input=input)
        if r.returncode != 0:
            raise AssertionError(f"neglabel {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def error(self, *args):
        """The one-line message of a failing command, without 'neglabel CMD: '."""
        r = self.run(*args)
        assert r.returncode != 0, f"neglabel {args} should have failed"
        line = [l for l in r.stderr.splitlines() if l.startswith("neglabel ")][0]
        return line.split(": ", 1)[1]


@pytest.fixture(scope="session")
def cli(cli_bin):
    return Cli(cli_bin)


@pytest.fixture(scope="session")
def model(tiny):
    import neglabel

    return neglabel.Model(tiny, device="cpu")


@pytest.fixture(scope="session")
def images(shared):
    """The 20 fixture images (photos, grey, palette, RGBA, CMYK, 1x1, 1700x40...)."""
    return sorted(str(p) for p in (shared / "fixtures" / "images").iterdir())


@pytest.fixture(scope="session")
def cifar(shared):
    return shared / "data" / "cifar10-test"


@pytest.fixture(scope="session")
def labels_file(cifar, tmp_path_factory):
    """The 10 CIFAR-10 class names, one per line."""
    p = tmp_path_factory.mktemp("labels") / "labels.txt"
    p.write_text("".join(f"{c}\n" for c in sorted(os.listdir(cifar))))
    return str(p)


@pytest.fixture(scope="session")
def mini_corpus(shared, tmp_path_factory):
    """A small word-list corpus (the first words of three reference lists),
    as tests/cli_pipeline.sh makes: mining stays quick."""
    src = shared / "neglabel-reference" / "txtfiles"
    d = tmp_path_factory.mktemp("mini")
    for name, n in (("noun.artifact.txt", 400), ("noun.plant.txt", 300), ("adj.all.txt", 300)):
        lines = (src / name).read_text(encoding="utf-8").splitlines(keepends=True)[:n]
        (d / name).write_text("".join(lines), encoding="utf-8")
    return str(d)


@pytest.fixture(scope="session")
def cat_images(cifar):
    return sorted(str(p) for p in (cifar / "cat").iterdir())[:12]


@pytest.fixture(scope="session")
def negatives_ref(model, labels_file, mini_corpus):
    """A NegLabel detector (ngroup 10) over negatives mined from the mini corpus."""
    import neglabel

    return neglabel.NegLabel(model, labels_file, neglabel.mine(model, labels_file, corpus=mini_corpus), ngroup=10)


@contextlib.contextmanager
def hub_server(tmp_path, tiny, monkeypatch, name, *options):
    """tests/hub_server.py (the stand-in Hub) serving a copy of the tiny
    model as org/<name>, with more server options; HF_ENDPOINT set to it
    and the other Hub variables cleared. Yields the copy's folder."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for f in ("config.json", "vocab.json", "merges.txt", "preprocessor_config.json", "model.safetensors"):
        shutil.copy(os.path.join(tiny, f), repo / f)
    port = tmp_path / "port"
    srv = subprocess.Popen([sys.executable, str(ROOT / "tests" / "hub_server.py"), "--port-file", str(port),
                            "--log", str(tmp_path / "log"), "--repo", f"org/{name}={repo}", *options])
    try:
        for _ in range(200):
            if port.exists() and port.read_text():
                break
            time.sleep(0.05)
        for k in ("HF_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HUGGINGFACE_HUB_CACHE",
                  "TRANSFORMERS_CACHE", "HF_HUB_DISABLE_PROGRESS_BARS"):
            monkeypatch.delenv(k, raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port.read_text()}")
        yield repo
    finally:
        srv.terminate()
        srv.wait()


def assert_close(got, want, tol=1e-5):
    """Every row of got within tol ||g|| of want's (relative error)."""
    import numpy as np
    want = np.array(want)
    err = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    assert err.max() < tol, err


def check_golden_folder(d, g, arch, cut, tokenizer=None):
    """A model folder d against its golden.json g (texts, images, ids):
    info names arch (and tokenizer, when given, within its "tokenizer"),
    Model.tokenize gives the ids of the texts under cut tokens (tokenize
    does not cut; the model's positions do), the embeddings are within 1e-5
    of g's, and the texts' are the CLI's bit for bit."""
    import json
    import numpy as np
    import neglabel
    texts, images = list(g["texts"]), [str(SHARED / "fixtures" / "images" / k) for k in g["images"]]
    with neglabel.Model(str(d), device="cpu") as m:
        assert m.info["architecture"] == arch
        assert tokenizer is None or tokenizer in m.info["tokenizer"], m.info["tokenizer"]
        for t, ids in g["ids"].items():
            if len(ids) < cut:
                assert list(m.tokenize(t)) == ids, t
        got_t, got_i = m.embed_texts(texts), m.embed_images(images)
    assert_close(got_t, [g["texts"][t] for t in texts])
    assert_close(got_i, [g["images"][k] for k in g["images"]])
    args = [str(BIN), "embed", "-q", "--no-cache", "--device", "cpu", "--model", str(d)]
    for t in texts:
        args += ["--text", t]
    rows = [json.loads(l)["embedding"] for l in subprocess.run(args, capture_output=True, text=True,
                                                                 check=True).stdout.splitlines()]
    np.testing.assert_array_equal(got_t, np.array(rows, dtype=np.float32))
