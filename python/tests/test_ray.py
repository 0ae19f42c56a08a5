"""neglabel.ray on a real local Ray cluster: a head and two worker nodes
(separate `ray start` processes on 127.0.0.1, one CPU each, a private temp
folder), scoring the 10,000 CIFAR-10 test images plus unreadable files
from a Parquet listing. Checked against the single-process CLI on the same
inputs: `neglabel score` (its CSV, text for text) and `neglabel eval`'s
scores.csv (every score with 17 digits: bit for bit). A worker process is
killed with SIGKILL mid-job; the CLI command `python -m neglabel.ray score`
is killed mid-run and rerun, and must reuse the shards already written.
Every Ray process started here is ended at the end, also on failure."""
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from conftest import need

# Ray turns token authentication on by itself where ~/.ray/auth_token
# exists (a ray.init elsewhere made it), and reads the mode when imported:
# this local test cluster, its driver and its nodes all run without.
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[data]' pyarrow)")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

import neglabel  # noqa: E402
import neglabel.ray as nlr  # noqa: E402

N_CIFAR = 10000
SHARD = 1000  # rows per shard of the command's run


def _ray_bin():
    b = os.path.join(os.path.dirname(sys.executable), "ray")
    need(os.access(b, os.X_OK), f"the ray command is not beside {sys.executable} (pip install 'ray[data]')")
    return b


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _procs_of(tag):
    """Pids of the processes started for this cluster: their command line
    or environment names its private temp folder, or an ancestor's does."""
    parent, mine = {}, set()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
            env = b""
            try:
                with open(f"/proc/{p}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                pass
            if tag.encode() in cmd or tag.encode() in env:
                mine.add(int(p))
        except (OSError, ValueError, IndexError):
            continue
    changed = True
    while changed:
        changed = False
        for p, pp in parent.items():
            if pp in mine and p not in mine:
                mine.add(p)
                changed = True
    mine.discard(os.getpid())
    return mine


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture(scope="module")
def cluster():
    """`ray start --head` + 2 x `ray start --address`, one CPU each."""
    rb = _ray_bin()
    tmp = tempfile.mkdtemp(prefix="nlray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = _free_port()
    env = dict(os.environ, NEGLABEL_TEST_RAY=tmp, RAY_TMPDIR=tmp)
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--object-store-memory", str(200 << 20),
              "--disable-usage-stats"]
    log = open(os.path.join(tmp, "start.log"), "w")  # not a pipe: the daemons keep their stdout

    def start(*args):
        r = subprocess.run([rb, "start", *args, *common], env=env, stdout=log, stderr=log, timeout=180)
        if r.returncode != 0:
            log.flush()
            raise AssertionError(f"ray start {' '.join(args)} failed: {open(log.name).read()[-3000:]}")

    try:
        start("--head", "--port", str(port), "--include-dashboard=false", "--temp-dir", tmp)
        for _ in range(2):
            start("--address", f"127.0.0.1:{port}")
        ray.init(address=f"127.0.0.1:{port}", _node_ip_address="127.0.0.1", log_to_driver=False)
        deadline = time.time() + 120
        while len([n for n in ray.nodes() if n["Alive"]]) < 3 and time.time() < deadline:
            time.sleep(1)
        nodes = [n for n in ray.nodes() if n["Alive"]]
        assert len(nodes) == 3 and ray.cluster_resources().get("CPU") == 3, nodes
        raylets = [p for p in _procs_of(tmp) if "raylet" in _cmdline(p).split(" ")[0]]
        assert len(raylets) == 3, f"expected 3 raylet processes, found {raylets}"
        yield {"address": f"127.0.0.1:{port}", "tmp": tmp, "env": env}
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in _procs_of(tmp):
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            time.sleep(2)
        left = _procs_of(tmp)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"Ray processes left: {[_cmdline(p) for p in left]}"


@pytest.fixture(scope="module")
def inputs(cifar, labels_file, tiny, cli, mini_corpus, tmp_path_factory):
    """The listing (10,000 CIFAR-10 images + 3 unreadable files, shuffled
    with a fixed seed), the negatives, and the CLI's results."""
    d = tmp_path_factory.mktemp("rayin")
    good = sorted(str(p) for p in cifar.rglob("*.jpg"))
    assert len(good) == N_CIFAR
    (d / "notes.jpg").write_text("not an image\n")
    data = open(good[0], "rb").read()
    (d / "half.jpg").write_bytes(data[: len(data) // 2])
    bad = [str(d / "missing.jpg"), str(d / "notes.jpg"), str(d / "half.jpg")]
    rows = good + bad
    np.random.default_rng(7).shuffle(rows)
    pq.write_table(pa.table({"path": rows, "id": np.arange(len(rows), dtype=np.int64)}), d / "listing.parquet",
                   row_group_size=500)
    (d / "all.lst").write_text("".join(p + "\n" for p in rows))
    neg = d / "neg.tsv"
    cli("mine", "--model", tiny, "--id-labels", labels_file, "--lists", mini_corpus, "-o", neg)
    cache = d / "cache"
    t0 = time.time()
    # `score` fills an embedding cache that `eval` then reuses: cached rows
    # are the computed floats, stored bit for bit (docs/determinism.md), so
    # the 10,000 images are embedded once for both.
    r = subprocess.run([cli.path, "score", "--model", tiny, "--id-labels", labels_file, "--negatives", neg, "--list",
                        d / "all.lst", "--threads", "1", "--quiet", "--cache", cache], capture_output=True,
                       text=True, env=cli.env)
    cli_s = time.time() - t0
    assert r.returncode == 0, r.stderr
    # `score` skips unreadable images with a warning: each is named
    for b in bad:
        assert os.path.basename(b) in r.stderr, r.stderr
    score_rows = list(csv.DictReader(r.stdout.splitlines()))
    # full-precision scores of the same single-process CLI: `eval`'s scores.csv (%.17g), both methods
    (d / "id.lst").write_text("".join(p + "\n" for p in good[:5000]))
    (d / "ood.lst").write_text("".join(p + "\n" for p in good[5000:]))
    r = subprocess.run([cli.path, "eval", "--model", tiny, "--id-labels", labels_file, "--negatives", neg,
                        "--id", d / "id.lst", "--ood", f"rest={d / 'ood.lst'}", "--out", d / "eval",
                        "--cache", cache, "--examples", "0", "--threads", "1"], capture_output=True, text=True,
                       env=cli.env)
    assert "images: 5000 cached, 0 to embed" in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    ev = {row["path"]: row for row in csv.DictReader(open(d / "eval" / "scores.csv"))}
    assert len(ev) == N_CIFAR
    print(f"\nCLI: neglabel score, {len(rows)} images: {cli_s:.1f} s ({len(good) / cli_s:.1f} images/s)")
    return {"dir": d, "listing": str(d / "listing.parquet"), "rows": rows, "good": good, "bad": bad,
            "neg": str(neg), "labels": open(labels_file).read().split(), "score": {x["path"]: x for x in score_rows}, "eval": ev, "cli_seconds": cli_s}


def _check_against_cli(table, inputs, method="neglabel"):
    """Each listed row exactly once; readable ones with the CLI's score (bit
    for bit), labels and CSV text; unreadable ones with a null score and
    the library's message naming the file."""
    rows = table.to_pylist()
    paths = [r["path"] for r in rows]
    assert len(paths) == len(inputs["rows"]) and sorted(paths) == sorted(inputs["rows"]), "rows lost or repeated"
    if "id" in table.column_names:
        assert sorted(r["id"] for r in rows) == list(range(len(inputs["rows"])))
    for r in rows:
        p = r["path"]
        if p in inputs["bad"]:
            assert r["score"] is None and r["top_id_label"] is None, r
            assert r["error"] and os.path.basename(p) in r["error"], r
            continue
        assert r["error"] is None, r
        ev = inputs["eval"][p]
        want = float(ev[method])
        assert r["score"] == want, f"{p}: {r['score']!r} != CLI {want!r}"
        if method == "neglabel":  # (scores.csv's labels are NegLabel's)
            assert r["top_id_label"] == ev["top_id_label"], r
            assert r["top_negative_label"] == ev["top_negative_label"], r
            s = inputs["score"][p]
            assert (f"{r['score']:.17g}", r["top_id_label"], r["top_negative_label"]) == (
                s["score"], s["top_id_label"], s["top_negative_label"]), (r, s)
        else:
            assert r["top_id_label"] in inputs["labels"] and r["top_negative_label"] is None, r


def _worker_pids(tag):
    return [p for p in _procs_of(tag) if _cmdline(p).startswith("ray::") and "ScoreActor" in _cmdline(p)]


def test_score_dataset_matches_cli_despite_a_killed_worker(cluster, inputs, tiny, labels_file):
    ds = ray.data.read_parquet(inputs["listing"]).repartition(160)
    scored = nlr.score_dataset(ds, model=tiny, id_labels=labels_file, negatives=inputs["neg"], batch_size=64)
    parts, killed = [], None
    t0 = time.time()
    for b in scored.iter_batches(batch_format="pyarrow", batch_size=None):
        parts.append(b)
        if killed is None and sum(x.num_rows for x in parts) >= 1000:
            pids = _worker_pids(cluster["tmp"])
            assert pids, "no scoring actor process found"
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
    took = time.time() - t0
    assert killed is not None
    table = pa.concat_tables(parts)
    _check_against_cli(table, inputs)
    print(f"\nRay, 3 one-CPU nodes: {table.num_rows} images in {took:.1f} s "
          f"({table.num_rows / took:.1f} images/s; CLI on this machine {len(inputs['good']) / inputs['cli_seconds']:.1f})")


def test_bytes_column_and_mcm(cluster, inputs, tiny, labels_file):
    """Image bytes in a column give the files' scores; MCM too; a truncated
    image's bytes are an error row; the stream methods are refused."""
    paths = inputs["good"][:40:3] + [inputs["bad"][2]]
    t = pa.table({"name": paths, "image": [open(p, "rb").read() for p in paths]})
    ds = ray.data.from_arrow([t.slice(i, 5) for i in range(0, t.num_rows, 5)])
    got = nlr.score_dataset(ds, model=tiny, id_labels=labels_file, negatives=inputs["neg"], bytes_column="image",
                            name_column="name", batch_size=5, return_embedding=True).to_arrow_refs()
    got = pa.concat_tables(ray.get(got)).sort_by("name")
    assert "image" not in got.column_names and got.num_rows == len(paths)
    model = neglabel.Model(tiny, device="cpu")
    for r in got.to_pylist():
        if r["name"] == inputs["bad"][2]:
            assert r["score"] is None and "half.jpg" in r["error"] and r["embedding"] is None
            continue
        assert r["score"] == float(inputs["eval"][r["name"]]["neglabel"]) and r["error"] is None
        e = model.embed_images(r["name"])[0]
        assert np.array_equal(np.asarray(r["embedding"], dtype=np.float32), e / np.float32(np.linalg.norm(e))) or \
            np.allclose(r["embedding"], e / np.linalg.norm(e), rtol=0, atol=1e-6)
    ds = ray.data.from_arrow([pa.table({"path": inputs["good"][i:i + 8]}) for i in range(0, 48, 8)])
    mcm = pa.concat_tables(ray.get(nlr.score_dataset(ds, model=tiny, id_labels=labels_file, method="mcm",
                                                     batch_size=8).to_arrow_refs()))
    sub = dict(inputs, rows=inputs["good"][:48], bad=[])
    _check_against_cli(mcm, sub, method="mcm")
    for m in ("adaneg", "oodd"):
        with pytest.raises(neglabel.InvalidInputError, match="stream"):
            nlr.score_dataset(ds, model=tiny, id_labels=labels_file, method=m)


def test_a_loaded_model_is_taken_as_prepare_takes_it(cluster, inputs, tiny, labels_file):
    """score_dataset(model=neglabel.Model(...)), as prepare() takes it (it
    failed in os.fspath, after the labels were embedded)."""
    m = neglabel.Model(tiny, device="cpu")
    paths = inputs["good"][:8]
    ds = ray.data.from_arrow([pa.table({"path": paths})])
    got = pa.concat_tables(ray.get(nlr.score_dataset(ds, model=m, id_labels=labels_file, negatives=inputs["neg"],
                                                     batch_size=8).to_arrow_refs()))
    assert sorted(got.column("path").to_pylist()) == sorted(paths)
    for r in got.to_pylist():
        assert r["score"] == float(inputs["eval"][r["path"]]["neglabel"]) and r["error"] is None


def test_evaluate_dataset_is_the_exact_metrics(inputs):
    ev = inputs["eval"]
    idt = pa.table({"score": [float(ev[p]["neglabel"]) for p in inputs["good"][:5000]] + [None]})
    ood = pa.table({"score": [float(ev[p]["neglabel"]) for p in inputs["good"][5000:]]})
    got = nlr.evaluate_dataset(idt, {"rest": ood})
    want = neglabel.metrics(idt.column("score").drop_null().to_numpy(), ood.column("score").to_numpy())
    assert {k: got["ood"]["rest"][k] for k in want} == want
    assert got["id"] == {"n_images": 5000, "n_skipped": 1}


def test_cli_resumes_from_written_shards(cluster, inputs, tiny, labels_file, tmp_path):
    out = tmp_path / "scores"
    cmd = [sys.executable, "-m", "neglabel.ray", "score", "--input", inputs["listing"], "--output", str(out),
           "--model", tiny, "--id-labels", labels_file, "--negatives", inputs["neg"], "--address",
           cluster["address"], "--shard-size", str(SHARD), "--batch-size", "50"]
    n_shards = -(-len(inputs["rows"]) // SHARD)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 900
    try:
        while len(list(out.glob("part-*.parquet"))) < 3 and p.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert p.poll() is None, f"the run ended before it could be killed: {p.stdout.read().decode()}"
        os.killpg(p.pid, signal.SIGKILL)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    first = {f.name: f.stat().st_mtime_ns for f in out.glob("part-*.parquet")}
    assert 3 <= len(first) < n_shards, first
    for f in out.glob("part-*.parquet"):  # each shard there is whole (written to a temporary, renamed)
        k = int(f.name[5:10])
        assert pq.read_metadata(f).num_rows == min(SHARD, len(inputs["rows"]) - k * SHARD), f
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr
    assert f"{len(first)} of {n_shards} shards already written, skipped" in r.stderr, r.stderr
    after = {f.name: f.stat().st_mtime_ns for f in out.glob("part-*.parquet")}
    assert len(after) == n_shards and all(after[k] == v for k, v in first.items()), "written shards were rewritten"
    table = pa.concat_tables([pq.read_table(out / f"part-{k:05d}.parquet") for k in range(n_shards)])
    assert table.column("id").to_pylist() == list(range(len(inputs["rows"]))), "shards out of input order"
    _check_against_cli(table, inputs)
    # a third run has nothing to do; another job's options are refused in the same folder
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and f"{n_shards} of {n_shards} shards already written" in r.stderr, r.stderr
    r = subprocess.run(cmd + ["--seed", "3"], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and "another job" in r.stderr, r.stderr


def test_batch_scorer_without_a_cluster(inputs, tiny, labels_file):
    """What a Spark mapInArrow function runs (docs/scale.md): the labels
    prepared once, a BatchScorer per partition, no Ray involved."""
    labels = nlr.prepare(tiny, labels_file, inputs["neg"])
    scorer = nlr.BatchScorer(tiny, labels)
    rows = inputs["good"][:20] + inputs["bad"]
    out = scorer(pa.table({"path": rows, "k": list(range(len(rows)))}))
    assert out.column_names == ["path", "k", "score", "top_id_label", "top_negative_label", "error"]
    _check_against_cli(out.drop_columns(["k"]), dict(inputs, rows=rows))


def test_nan_rows_have_no_top_labels(inputs, tiny, labels_file):
    """A row whose embedding holds NaN scores NaN and gets no top labels, as
    neglabel.NegLabel's score_images gives (before: label 0's names)."""
    labels = nlr.prepare(tiny, labels_file, inputs["neg"])
    scorer = nlr.BatchScorer(tiny, labels)
    real = scorer._embed

    def nan_in_row_1(batch):
        emb, errors = real(batch)
        emb[1] = np.nan
        return emb, errors

    scorer._embed = nan_in_row_1
    out = scorer(pa.table({"path": inputs["good"][:3]})).to_pydict()
    assert np.isnan(out["score"][1]) and out["error"][1] is None
    assert out["top_id_label"][1] is None and out["top_negative_label"][1] is None
    for i in (0, 2):
        assert not np.isnan(out["score"][i]) and out["top_id_label"][i] and out["top_negative_label"][i]


def test_batch_scorer_csp_matches_cli(cli, tiny, labels_file, mini_corpus, inputs, tmp_path):
    """CSP (its own negatives, raw-mean ensembles, torch permutation) as
    `neglabel score --method csp`, text for text."""
    neg = tmp_path / "csp.tsv"
    cli("mine", "--method", "csp", "--model", tiny, "--id-labels", labels_file, "--lists", mini_corpus, "-o", neg)
    rows = inputs["good"][:16]
    out = cli("score", "--method", "csp", "--model", tiny, "--id-labels", labels_file, "--negatives", neg, *rows)
    want = [(r["path"], r["score"], r["top_id_label"], r["top_negative_label"]) for r in csv.DictReader(out.splitlines())]
    got = nlr.BatchScorer(tiny, nlr.prepare(tiny, labels_file, str(neg), method="csp"))(pa.table({"path": rows}))
    assert [(r["path"], f"{r['score']:.17g}", r["top_id_label"], r["top_negative_label"])
            for r in got.to_pylist()] == want


class _Recorder:
    """Stands in for a Ray Dataset: records what score_dataset asks
    map_batches for (the actors' options), runs nothing."""

    def map_batches(self, fn, **kw):
        self.kw = kw
        return self


def test_cuda_actors_get_a_gpu_each(cluster, tiny, labels_file):
    """device="cuda" without num_gpus: one GPU per actor, one actor per GPU
    (Ray sets no CUDA_VISIBLE_DEVICES for an actor without GPUs, so every
    actor, one per CPU, would load the model on the same GPU 0)."""
    labs = nlr.prepare(tiny, labels_file, method="mcm")
    for device in ("cuda", "cuda:0"):
        ds = _Recorder()
        nlr.score_dataset(ds, model=tiny, labels=labs, method="mcm", device=device)
        assert ds.kw.get("num_gpus") == 1, ds.kw
        # the test cluster has no GPU: still one actor, not one per CPU
        assert ds.kw["compute"].max_size == 1, vars(ds.kw["compute"])
        assert ds.kw["fn_constructor_kwargs"]["load"]["device"] == device
    ds = _Recorder()
    nlr.score_dataset(ds, model=tiny, labels=labs, method="mcm")  # CPU actors: no GPU asked for
    assert "num_gpus" not in ds.kw and ds.kw["compute"].max_size == 2, ds.kw
    ds = _Recorder()  # "auto" on this cluster, which has no GPU: CPU actors
    nlr.score_dataset(ds, model=tiny, labels=labs, method="mcm", device="auto")
    assert "num_gpus" not in ds.kw and ds.kw["compute"].max_size == 2, ds.kw


def test_auto_actors_get_a_gpu_each_where_there_are_gpus(cluster, tiny, labels_file, monkeypatch):
    """device="auto" on a cluster with GPUs: one GPU per actor, one actor per
    GPU, as with "cuda" (before, the actors asked for no GPU, and every one
    found and loaded the model on GPU 0). The cluster's resources are made
    to say 3 GPUs: nothing runs."""
    labs = nlr.prepare(tiny, labels_file, method="mcm")
    real = ray.cluster_resources
    monkeypatch.setattr(ray, "cluster_resources", lambda: {**real(), "GPU": 3.0})
    ds = _Recorder()
    nlr.score_dataset(ds, model=tiny, labels=labs, method="mcm", device="auto")
    assert ds.kw.get("num_gpus") == 1 and ds.kw["compute"].max_size == 3, ds.kw
    assert ds.kw["fn_constructor_kwargs"]["load"]["device"] == "auto"
    ds = _Recorder()  # num_gpus given: as given
    nlr.score_dataset(ds, model=tiny, labels=labs, method="mcm", device="auto", num_gpus=0.5)
    assert ds.kw.get("num_gpus") == 0.5 and ds.kw["compute"].max_size == 6, ds.kw


def test_actors_use_the_cpus_they_hold(cluster, tiny, labels_file):
    """Each actor's model runs as many threads as the CPUs Ray holds for it
    (docs/scale.md's GPU example: num_cpus=4 to decode on 4 threads), unless
    threads= says otherwise."""
    labs = nlr.prepare(tiny, labels_file, method="mcm")
    for kw, want in ((dict(num_cpus=4), 4), (dict(), 1), (dict(num_cpus=0.5), 1), (dict(num_cpus=4, threads=2), 2)):
        ds = _Recorder()
        nlr.score_dataset(ds, model=tiny, labels=labs, method="mcm", concurrency=1, **kw)
        assert ds.kw["fn_constructor_kwargs"]["load"]["threads"] == want, (kw, ds.kw)
        assert ds.kw["num_cpus"] == kw.get("num_cpus", 1)


def test_shards_of_another_device_are_refused(cluster, cifar, tiny, labels_file, tmp_path):
    """The actors' device and precision change the image embeddings (a GPU's
    are fp16 by default): a rerun with another one must not pass shards
    written on the CPU off as its own (docs/scale.md: a rerun with other
    options is refused)."""
    rows = sorted(str(p) for p in cifar.rglob("*.jpg"))[::1000][:8]
    pq.write_table(pa.table({"path": rows}), tmp_path / "l.parquet")
    out = str(tmp_path / "out")
    kw = dict(model=tiny, id_labels=labels_file, method="mcm", shard_size=4, batch_size=4, concurrency=1)
    assert nlr.score_to_shards(str(tmp_path / "l.parquet"), out, **kw)["written"] == 2
    assert nlr.score_to_shards(str(tmp_path / "l.parquet"), out, **kw)["skipped"] == 2
    for other in (dict(device="cuda"), dict(precision="bf16")):
        with pytest.raises(neglabel.InvalidInputError, match="another job"):
            nlr.score_to_shards(str(tmp_path / "l.parquet"), out, **kw, **other)


def test_label_options_beside_prepared_labels_are_refused(cluster, tiny, labels_file):
    """With labels= the label embeddings are fixed: a label option given
    too (ngroup, tau, negatives, or a misspelt option, which lands in
    **label_options) would be silently ignored, the scores not what was
    asked for."""
    labs = nlr.prepare(tiny, labels_file, method="mcm")
    for bad in (dict(tau=0.5), dict(id_labels=labels_file), dict(concurency=4)):
        with pytest.raises(neglabel.InvalidInputError, match="ignored"):
            nlr.score_dataset(_Recorder(), model=tiny, labels=labs, method="mcm", **bad)
    nlr.score_dataset(_Recorder(), model=tiny, labels=labs, method="mcm")


def test_cli_ctrl_c_stops_with_status_130(cluster, cifar, tiny, labels_file, tmp_path):
    """Ctrl-C to `python -m neglabel.ray score`: it stops, says how to
    resume and exits 130 (as the neglabel CLI), not 1 with a traceback that
    reads as a crash; the shards written are whole."""
    rows = sorted(str(p) for p in cifar.rglob("*.jpg"))[:600]
    pq.write_table(pa.table({"path": rows}), tmp_path / "l.parquet")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "neglabel.ray", "score", "--input", str(tmp_path / "l.parquet"), "--output",
           str(out), "--model", tiny, "--id-labels", labels_file, "--method", "mcm", "--address", cluster["address"],
           "--shard-size", "20", "--batch-size", "10"]
    p = subprocess.Popen(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300
        while not list(out.glob("part-*.parquet")) and p.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert p.poll() is None, f"the run ended before Ctrl-C: {p.stdout.read()}"
        os.kill(p.pid, signal.SIGINT)
        log = p.communicate(timeout=120)[0]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 130 and "stopped by Ctrl-C" in log and "Traceback" not in log, (p.returncode, log[-3000:])
    written = list(out.glob("part-*.parquet"))
    assert 1 <= len(written) < 30
    for f in written:
        assert pq.read_metadata(f).num_rows == 20, f


def test_shards_with_key_columns(cluster, cifar, tiny, labels_file, tmp_path):
    """score_to_shards(key_columns=[...]) (a score_dataset option it passes
    on): the shards hold those columns, in input order; the row numbers
    that put the rows back in order are not lost with the other columns."""
    rows = sorted(str(p) for p in cifar.rglob("*.jpg"))[::1000][:6]
    pq.write_table(pa.table({"path": rows, "id": list(range(6)), "extra": ["x"] * 6}), tmp_path / "l.parquet")
    out = tmp_path / "out"
    ctx = ray.data.DataContext.get_current()
    assert not ctx.execution_options.preserve_order  # Ray Data's default
    nlr.score_to_shards(str(tmp_path / "l.parquet"), str(out), model=tiny, id_labels=labels_file, method="mcm",
                        shard_size=3, batch_size=2, concurrency=1, key_columns=["path", "id"])
    # its ordered execution was for its own job: the driver's other datasets keep the default
    assert not ray.data.DataContext.get_current().execution_options.preserve_order
    t = pa.concat_tables([pq.read_table(out / f"part-{k:05d}.parquet") for k in range(2)])
    assert t.column_names == ["path", "id", "score", "top_id_label", "top_negative_label", "error"]
    assert t.column("id").to_pylist() == list(range(6)) and t.column("path").to_pylist() == rows
    assert t.column("error").null_count == 6


def test_shards_of_another_listing_are_refused(cluster, cifar, tiny, labels_file, tmp_path):
    """The shards carry the listing's other columns (ids, ground truth): a
    rerun over the same paths with other values there is another job, not a
    resume that would keep the old values in the shards written."""
    rows = sorted(str(p) for p in cifar.rglob("*.jpg"))[::1000][:4]
    listing = str(tmp_path / "l.parquet")
    kw = dict(model=tiny, id_labels=labels_file, method="mcm", shard_size=2, batch_size=2, concurrency=1)
    pq.write_table(pa.table({"path": rows, "id": [0, 1, 2, 3]}), listing)
    assert nlr.score_to_shards(listing, str(tmp_path / "out"), **kw)["written"] == 2
    assert nlr.score_to_shards(listing, str(tmp_path / "out"), **kw)["skipped"] == 2
    pq.write_table(pa.table({"path": rows, "id": [3, 2, 1, 0]}), listing)
    with pytest.raises(neglabel.InvalidInputError, match="another job"):
        nlr.score_to_shards(listing, str(tmp_path / "out"), **kw)


def test_relative_paths_are_the_drivers(cluster, cifar, tiny, labels_file, tmp_path):
    """`python -m neglabel.ray score --input 'imgs/*.jpg' --model m` run in
    a folder of its own: the workers run elsewhere (here, where `ray start`
    ran), so the driver sends absolute paths. A listing's relative paths are
    the listing folder's (as the CLI's --list). Before: every row was an
    error ("imgs/...: cannot open"), the job exited 0 and a rerun took that
    shard as done; a relative --model failed every actor with a traceback."""
    src = sorted(cifar.rglob("*.jpg"))[::1000][:6]
    (tmp_path / "imgs").mkdir()
    names = [f"{p.parent.name}-{p.name}" for p in src]  # (class folders hold 0000.jpg each)
    for p, n in zip(src, names):
        (tmp_path / "imgs" / n).symlink_to(p)
    (tmp_path / "m").symlink_to(tiny)
    (tmp_path / "lst").mkdir()
    pq.write_table(pa.table({"path": [f"../imgs/{n}" for n in names]}), tmp_path / "lst" / "l.parquet")
    assert os.getcwd() != str(tmp_path)
    want = nlr.BatchScorer(tiny, nlr.prepare(tiny, labels_file, method="mcm"))(
        pa.table({"path": [str(tmp_path / "imgs" / n) for n in names]}))
    for spec, out in (("imgs/*.jpg", "out1"), ("lst/l.parquet", "out2")):
        r = subprocess.run([sys.executable, "-m", "neglabel.ray", "score", "--input", spec, "--output", out,
                            "--model", "m", "--id-labels", labels_file, "--method", "mcm", "--address",
                            cluster["address"], "--shard-size", "6", "--batch-size", "3", "--concurrency", "1"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        assert "unreadable" not in r.stderr, r.stderr
        t = pq.read_table(tmp_path / out / "part-00000.parquet")
        assert t.column("error").null_count == 6, t.column("error").to_pylist()
        assert sorted(t.column("path").to_pylist()) == sorted(want.column("path").to_pylist())
        got = dict(zip(t.column("path").to_pylist(), t.column("score").to_pylist()))
        assert got == dict(zip(want.column("path").to_pylist(), want.column("score").to_pylist()))


def test_a_nul_in_one_row_is_that_rows_error(inputs, tiny, labels_file):
    """A path or name holding a NUL byte (no file has one) is that row's
    error; the other rows of the batch are scored. Before: a ValueError
    ("embedded null byte") failed the whole batch."""
    scorer = nlr.BatchScorer(tiny, nlr.prepare(tiny, labels_file, method="mcm"))
    good = inputs["good"][:2]
    out = scorer(pa.table({"path": [good[0], "/x/bad\0name.jpg", good[1]]})).to_pylist()
    assert [r["error"] is None for r in out] == [True, False, True], out
    assert "a path cannot hold a NUL byte" in out[1]["error"] and out[1]["score"] is None
    scorer = nlr.BatchScorer(tiny, nlr.prepare(tiny, labels_file, method="mcm"), path_column=None,
                             bytes_column="image", name_column="name")
    data = [open(p, "rb").read() for p in good]
    out = scorer(pa.table({"name": ["a\0b", "c"], "image": data})).to_pylist()
    assert all(r["error"] is None and r["score"] is not None for r in out), out
