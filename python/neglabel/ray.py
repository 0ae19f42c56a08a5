"""neglabel on a Ray cluster: NegLabel (or MCM) scores of a Ray Dataset of
images, with the same numbers as the single-process ``neglabel score``.

    import ray, neglabel.ray as nlr
    ds = ray.data.read_parquet("s3://bucket/listing/")          # a "path" column (or image bytes)
    scored = nlr.score_dataset(ds, model="/models/clip-vit-b16", id_labels="classes.txt",
                               negatives="negatives.tsv")
    scored.write_parquet("s3://bucket/scores/")

How it runs (docs/scale.md): the ID and negative label embeddings are
computed once, on the driver, and put in the object store; one actor per
worker slot loads the model once and scores batches of images through the
C library (the same image embedding path and the same ``nl_score`` as the
CLI). An image's NegLabel or MCM score does not depend on the other images
of its batch, so any split of the data gives the CLI's scores bit for bit.
An image that cannot be read gets a null score and its message in the
``error`` column; the job goes on. Actors are restarted and their tasks
retried when a worker dies (``max_restarts``, ``max_task_retries``).

The stream methods (AdaNeg, OODD) depend on the order the images arrive
in, so they are refused here; NegLabel, MCM and CSP are not.

For people who do not write Python::

    python -m neglabel.ray score --input 'images/**/*.jpg' --output scores/ \\
        --model DIR --id-labels classes.txt --negatives negatives.tsv

writes ``part-NNNNN.parquet`` shards of ``--shard-size`` rows, each
atomically (a temporary file renamed); a rerun skips the shards already
written.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

import neglabel
from . import _neglabel as _C
from ._util import _top_labels

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray
    import ray.exceptions
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError("neglabel.ray needs Ray Data and pyarrow: pip install 'neglabel[ray]' "
                      f"(or 'ray[data]' pyarrow): {e}") from e

__all__ = ["Labels", "BatchScorer", "prepare", "mine", "score_dataset", "evaluate_dataset", "score_to_shards", "main"]

_METHODS = {"neglabel": 0, "mcm": 1, "csp": 2}
_RESAMPLE = {"bicubic": 0, "bilinear": 1, "model": 2}
OUTPUT_COLUMNS = ("score", "top_id_label", "top_negative_label", "error")


def _check_method(method: str) -> int:
    if method in ("adaneg", "oodd"):
        raise neglabel.InvalidInputError(
            f"method '{method}' scores the images as one stream in the order given (docs/methods.md): it cannot "
            "run on a Ray Dataset, whose batches arrive in any order; use the CLI (neglabel score --method "
            f"{method}) on one machine, or method 'neglabel', 'mcm' or 'csp'")
    if method not in _METHODS:
        raise neglabel.InvalidInputError(f"method must be 'neglabel', 'mcm' or 'csp', got {method!r}")
    return _METHODS[method]


class Labels:
    """What every actor needs besides the model, computed once on the driver:
    the normalised ID and negative label embeddings, their names and the
    scoring parameters. Small enough for the object store (10,499
    negatives x 512 floats = 21 MB)."""

    def __init__(self, method: str, id_labels: List[str], negative_words: List[str], id_embeddings: np.ndarray,
                 neg_embeddings: Optional[np.ndarray], ngroup: int, seed: int, shuffle: bool, tau: float,
                 permutation: str, fingerprint: str, dim: int) -> None:
        self.method = method
        self.id_labels = id_labels
        self.negative_words = negative_words
        self.id_embeddings = id_embeddings
        self.neg_embeddings = neg_embeddings
        self.ngroup, self.seed, self.shuffle, self.tau = ngroup, seed, shuffle, tau
        self.permutation = permutation
        self.fingerprint = fingerprint
        self.dim = dim

    def digest(self) -> str:
        """A hash of everything that changes a score (for resumed jobs)."""
        h = hashlib.sha256()
        h.update(json.dumps([self.method, self.id_labels, self.negative_words, self.ngroup, self.seed, self.shuffle,
                             self.tau, self.permutation, self.fingerprint, self.dim]).encode())
        h.update(self.id_embeddings.tobytes())
        if self.neg_embeddings is not None:
            h.update(self.neg_embeddings.tobytes())
        return h.hexdigest()[:16]

    def score(self, emb: np.ndarray, device: str, device_index: int, threads: int):
        """nl_score on normalised image rows: scores, top ID, top negative."""
        n = emb.shape[0]
        scores = np.empty(n, dtype=np.float64)
        top_id = np.zeros(n, dtype=np.uintp)
        neg = self.neg_embeddings
        top_neg = np.zeros(n, dtype=np.uintp) if neg is not None and len(neg) else None
        if n:
            kind = 2 if device.startswith("cuda") else 1
            _C.score(np.ascontiguousarray(emb), self.id_embeddings, neg, self.dim, _METHODS[self.method], self.ngroup,
                     self.seed, self.shuffle, self.tau, kind, device_index, threads, scores, top_id, top_neg,
                     self.permutation)
        return scores, top_id, top_neg


def _driver_model(model: Any, device: str, precision: Optional[str], threads: int) -> neglabel.Model:
    return model if isinstance(model, neglabel.Model) else neglabel.Model(model, device=device, precision=precision,
                                                                          threads=threads)


def prepare(model: Any, id_labels: Any, negatives: Any = None, *, method: str = "neglabel", ngroup: int = 100,
            tau: Optional[float] = None, seed: int = 0, shuffle: bool = True, permutation: Optional[str] = None,
            templates: Any = None, corpus: Any = None, cache_dir: Any = None, device: str = "cpu",
            precision: Optional[str] = None, threads: int = 0) -> Labels:
    """The label embeddings, on the driver, as ``neglabel score`` computes
    them (``negatives``: a :class:`neglabel.Negatives`, a negatives file, or
    None to mine them now over ``corpus``). The CLI embeds its labels on the
    device it runs on: compare with a CLI run on the same ``device``."""
    _check_method(method)
    m = _driver_model(model, device, precision, threads)
    if method == "mcm":
        det = neglabel.MCM(m, id_labels, 1.0 if tau is None else tau, cache_dir=cache_dir)
        return Labels("mcm", det.labels, [], det.id_embeddings, None, 100, 0, True, det.tau, "splitmix",
                      m.fingerprint, m.dim)
    if method == "csp":  # its templates, raw-mean ensembles and the torch permutation (neglabel.CSP)
        det = neglabel.CSP(m, id_labels, negatives, ngroup=ngroup, tau=0.01 if tau is None else tau, seed=seed,
                           shuffle=shuffle, permutation=permutation or "torch", corpus=corpus, cache_dir=cache_dir)
    else:
        det = neglabel.NegLabel(m, id_labels, negatives, ngroup=ngroup, tau=0.01 if tau is None else tau,
                                seed=seed, shuffle=shuffle, permutation=permutation or "splitmix",
                                templates=templates, corpus=corpus, cache_dir=cache_dir)
    return Labels(method, det.labels, det.negatives.words, det.id_embeddings, det.neg_embeddings, det.ngroup,
                  det.seed, det.shuffle, det.tau, det.permutation, m.fingerprint, m.dim)


def mine(model: Any, id_labels: Any, corpus: Any = None, *, device: str = "cpu", threads: int = 0,
         **options: Any) -> neglabel.Negatives:
    """NegMining once, on the driver (:func:`neglabel.mine`'s options): the
    negatives every actor then uses through :func:`prepare`."""
    return neglabel.mine(_driver_model(model, device, None, threads), id_labels, corpus, **options)


class BatchScorer:
    """Scores Arrow tables of images with a model loaded once: what each Ray
    actor runs, and what a Spark ``mapInArrow`` function can run per
    partition (docs/scale.md). ``labels`` from :func:`prepare`; ``load``:
    :class:`neglabel.Model` options (device, precision, threads,
    batch_size); other arguments as :func:`score_dataset`'s."""

    def __init__(self, model: str, labels: Labels, *, load: Optional[Dict[str, Any]] = None,
                 path_column: Optional[str] = "path", bytes_column: Optional[str] = None,
                 name_column: Optional[str] = None, key_columns: Optional[List[str]] = None,
                 return_embedding: bool = False, resample: str = "model") -> None:
        self.labels: Labels = labels
        self.model = neglabel.Model(model, **(load or {"device": "cpu", "threads": 1}))
        if self.model.dim != self.labels.dim or self.model.fingerprint != self.labels.fingerprint:
            raise neglabel.InvalidInputError(f"{model}: this worker's model is not the one the labels were "
                                             f"embedded with (fingerprint {self.model.fingerprint} vs "
                                             f"{self.labels.fingerprint})")
        self.path_column, self.bytes_column, self.name_column = path_column, bytes_column, name_column
        self.key_columns, self.return_embedding = key_columns, return_embedding
        self.resample = _RESAMPLE[resample]
        self.device_index = self.model._desc["device_index"]

    def _embed(self, batch: "pa.Table") -> tuple:
        n, dim = batch.num_rows, self.labels.dim
        emb = np.zeros((n, dim), dtype=np.float32)
        errors: List[Optional[str]] = [None] * n
        if self.bytes_column:
            data = batch.column(self.bytes_column).to_pylist()
            names_col = self.name_column or (self.path_column if self.path_column in batch.column_names else None)
            names = batch.column(names_col).to_pylist() if names_col else [None] * n
            # (a NUL would fail the whole batch in the converter; a name is only for messages)
            names = [str(x).replace("\0", "\\0") if x is not None else f"row {i}" for i, x in enumerate(names)]
            rows = [i for i in range(n) if data[i] is not None]
            for i in range(n):
                if data[i] is None:
                    errors[i] = f"{names[i]}: no image bytes (null)"
            if rows:
                part = np.zeros((len(rows), dim), dtype=np.float32)
                errs = self.model._m.embed_buffers_each([data[i] for i in rows], [names[i] for i in rows],
                                                        self.resample, part)
                emb[rows] = part
                for i, e in zip(rows, errs):
                    errors[i] = e
        else:
            paths = batch.column(self.path_column).to_pylist()
            nul = [i for i in range(n) if paths[i] and ("\0" if isinstance(paths[i], str) else b"\0") in paths[i]]
            for i in nul:  # no file has such a name; the converter would fail the whole batch
                shown = paths[i] if isinstance(paths[i], str) else os.fsdecode(paths[i])
                errors[i] = f"{shown.replace(chr(0), chr(92) + '0')}: a path cannot hold a NUL byte"
            rows = [i for i in range(n) if paths[i] and errors[i] is None]
            for i in range(n):
                if not paths[i]:
                    errors[i] = f"row {i}: no path (null or empty)"
            if rows:
                part = np.zeros((len(rows), dim), dtype=np.float32)
                errs = self.model._m.embed_files_each([paths[i] for i in rows], self.resample, None, part)
                emb[rows] = part
                for i, e in zip(rows, errs):
                    errors[i] = e
        return emb, errors

    def __call__(self, batch: "pa.Table") -> "pa.Table":
        """Key columns + score, top_id_label, top_negative_label, error
        (+ embedding) of one table of images."""
        n = batch.num_rows
        emb, errors = self._embed(batch)
        good = np.array([e is None for e in errors], dtype=bool)
        idx = np.flatnonzero(good)
        lab = self.labels
        s, ti, tn = lab.score(emb[idx], self.model.device, self.device_index, self.model.threads)
        score = np.zeros(n, dtype=np.float64)
        score[idx] = s
        # no top labels for a NaN score (an embedding holding NaN), as neglabel.NegLabel gives
        top_id = _top_labels(ti, lab.id_labels, idx, n, score)
        top_neg = _top_labels(tn, lab.negative_words, idx, n, score)
        keep = self.key_columns if self.key_columns is not None else [
            c for c in batch.column_names if c != self.bytes_column and c not in OUTPUT_COLUMNS and c != "embedding"]
        cols = {c: batch.column(c) for c in keep}
        cols["score"] = pa.array(score, mask=~good, type=pa.float64())
        cols["top_id_label"] = pa.array(top_id, type=pa.string())
        cols["top_negative_label"] = pa.array(top_neg, type=pa.string())
        cols["error"] = pa.array(errors, type=pa.string())
        if self.return_embedding:
            flat = pa.array(emb.reshape(-1), type=pa.float32())
            arr = pa.FixedSizeListArray.from_arrays(flat, lab.dim)
            cols["embedding"] = pa.array(arr.to_pylist(), type=pa.list_(pa.float32(), lab.dim), mask=~good) \
                if not good.all() else arr
        return pa.table(cols)


class _ScoreActor(BatchScorer):
    """One per worker slot: the labels from the object store, the model
    loaded once, then batch after batch."""

    def __init__(self, model: str, load: Dict[str, Any], labels_ref: List[Any], **kw: Any) -> None:
        super().__init__(model, ray.get(labels_ref[0]), load=load, **kw)


def _model_for_workers(model: Any) -> str:
    """A model folder or file that exists here, as an absolute path (each
    worker runs in a folder of its own); a Hub name as it is; a loaded
    neglabel.Model as the name it was loaded from."""
    m = model.name_or_path if isinstance(model, neglabel.Model) else os.fspath(model)
    return os.path.abspath(m) if os.path.exists(m) else m


def score_dataset(ds: "ray.data.Dataset", *, model: Any, id_labels: Any = None, negatives: Any = None,
                  method: str = "neglabel", device: str = "cpu", precision: Optional[str] = None,
                  batch_size: int = 64, concurrency: Optional[int] = None, num_cpus: float = 1,
                  num_gpus: Optional[float] = None, threads: Optional[int] = None, path_column: str = "path",
                  bytes_column: Optional[str] = None, name_column: Optional[str] = None,
                  key_columns: Optional[Sequence[str]] = None, return_embedding: bool = False,
                  resample: str = "model", labels: Optional[Labels] = None, max_restarts: int = -1,
                  max_task_retries: int = -1, **label_options: Any) -> "ray.data.Dataset":
    """Scores of a Ray Dataset of images: the input's key columns (all but
    ``bytes_column``, or ``key_columns``) plus ``score`` (float64, null for an
    image that could not be read), ``top_id_label``, ``top_negative_label``
    (null for MCM, and for a NaN score), ``error`` (null, or the library's message) and, with
    ``return_embedding``, ``embedding`` (the L2-normalised image embedding).

    Images come from ``path_column`` (file paths every worker can read) or
    ``bytes_column`` (the encoded bytes of each image: ``read_images`` is not
    needed, ``read_parquet`` / ``read_webdataset`` columns are decoded by the
    library exactly as the same file). ``model`` is a model folder every
    worker can read, a Hub name, or a :class:`neglabel.Model` (each worker
    loads what it was loaded from, with this call's ``device`` and
    ``precision``). The label embeddings are computed once here (see
    :func:`prepare`, whose options ``label_options`` are: ``ngroup``, ``tau``,
    ``seed``, ``shuffle``, ``permutation``, ``templates``, ``corpus``,
    ``cache_dir``), or given as ``labels``. One actor per ``num_cpus`` CPUs
    (and ``num_gpus`` GPUs, default 1 with ``device="cuda"``, and with
    ``device="auto"`` when the cluster has GPUs) holds the
    model and runs ``threads`` CPU threads (default: ``num_cpus``, at least
    1); ``concurrency`` actors (default: one per GPU, or one per ``num_cpus`` of
    the cluster's CPUs less one, left to Ray Data's read tasks).
    """
    _check_method(method)
    if resample not in _RESAMPLE:
        raise neglabel.InvalidInputError(f"resample must be 'model', 'bicubic' or 'bilinear', got {resample!r}")
    if int(batch_size) < 1:
        raise neglabel.InvalidInputError("batch_size must be >= 1")
    if labels is None:
        if id_labels is None:
            raise neglabel.InvalidInputError("give id_labels (or labels from prepare())")
        labels = prepare(model, id_labels, negatives, method=method, **label_options)
    elif labels.method != method:
        raise neglabel.InvalidInputError(f"labels were prepared for method '{labels.method}', not '{method}'")
    elif id_labels is not None or negatives is not None or label_options:
        given = ["id_labels"] * (id_labels is not None) + ["negatives"] * (negatives is not None) + sorted(label_options)
        raise neglabel.InvalidInputError(f"labels from prepare() hold the label embeddings: {', '.join(given)} "
                                         "would be ignored (give them to prepare() instead)")
    if not ray.is_initialized():
        ray.init()
    if num_gpus is None and (str(device).startswith("cuda") or
                             (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)):
        # one GPU per actor: without it Ray sets no CUDA_VISIBLE_DEVICES, so
        # every actor (one per CPU) would load the model on the same GPU 0.
        # "auto" on a cluster with GPUs is a GPU's; without any, the CPU's.
        num_gpus = 1
    if threads is None:
        threads = max(1, int(num_cpus))  # the CPUs Ray holds for each actor
    ref = ray.put(labels)
    if concurrency is None:
        res = ray.cluster_resources()
        # GPU actors: one per GPU. CPU actors: one per num_cpus, less one
        # slot left to Ray Data's read and shuffle tasks (with every CPU held
        # by an actor those tasks never start and the job waits forever).
        concurrency = max(1, int(res.get("GPU", 0) // num_gpus) if num_gpus else
                          int(res.get("CPU", 1) // num_cpus) - 1)
    load = dict(device=device, precision=precision, threads=int(threads), batch_size=int(batch_size))
    remote: Dict[str, Any] = dict(num_cpus=num_cpus)
    if num_gpus:
        remote["num_gpus"] = num_gpus
    # -1 (restart a lost actor and retry its tasks forever) is Ray Data's own
    # default for actor pools; other values go through **ray_remote_args,
    # which Ray 2.60 deprecates, so only when asked for.
    if max_restarts != -1:
        remote["max_restarts"] = int(max_restarts)
    if max_task_retries != -1:
        remote["max_task_retries"] = int(max_task_retries)
    return ds.map_batches(
        _ScoreActor,
        fn_constructor_kwargs=dict(model=_model_for_workers(model), load=load, labels_ref=[ref], path_column=path_column,
                                   bytes_column=bytes_column, name_column=name_column,
                                   key_columns=None if key_columns is None else list(key_columns),
                                   return_embedding=bool(return_embedding), resample=resample),
        batch_size=int(batch_size), batch_format="pyarrow", zero_copy_batch=True,
        compute=ray.data.ActorPoolStrategy(size=int(concurrency)),
        **remote)


def _scores_of(ds: Any, column: str) -> tuple:
    """The non-null values of a score column (a scored Dataset, a pyarrow
    table or an array) as float64, and how many were null."""
    if isinstance(ds, ray.data.Dataset):
        ds = pa.concat_tables(list(ds.select_columns([column]).iter_batches(batch_format="pyarrow",
                                                                             batch_size=None)))
    if isinstance(ds, pa.Table):
        col = ds.column(column)
        return np.asarray(col.drop_null(), dtype=np.float64), col.null_count
    a = np.asarray(ds, dtype=np.float64)
    return a[~np.isnan(a)], int(np.isnan(a).sum())


def evaluate_dataset(id_scored: Any, ood_scored: Mapping[str, Any], *, column: str = "score",
                     convention: str = "neglabel") -> Dict[str, Any]:
    """AUROC, AUPR-In, AUPR-Out and FPR95 of each OOD set against the ID set
    (:func:`neglabel.metrics`, the library's exact metrics) over the full
    score columns of scored Datasets (or Arrow tables): the columns are
    gathered on the driver (8 bytes an image), never averaged per shard.
    Unreadable images (null scores) are left out and counted."""
    ids, id_null = _scores_of(id_scored, column)
    out: Dict[str, Any] = {"id": {"n_images": len(ids), "n_skipped": id_null}, "ood": {}, "convention": convention}
    keys = ("auroc", "aupr_in", "aupr_out", "fpr95")
    for name, ds in ood_scored.items():
        o, o_null = _scores_of(ds, column)
        m = neglabel.metrics(ids, o, convention)
        out["ood"][name] = dict(m, n_images=len(o), n_skipped=o_null)
    if out["ood"]:
        out["average"] = {k: float(np.mean([v[k] for v in out["ood"].values()])) for k in keys}
    return out


# ---------------------------------------------------------------- shards: the command


def _absolute(p: Any, base: str) -> Any:
    """p (str or bytes) made absolute against base; None and absolute paths
    as they are."""
    if isinstance(p, bytes):
        return p if os.path.isabs(p) else os.path.abspath(os.path.join(os.fsencode(base), p))
    if isinstance(p, str) and p:
        return p if os.path.isabs(p) else os.path.abspath(os.path.join(base, p))
    return p


def _listing(spec: str, path_column: str) -> "pa.Table":
    """The input rows: a Parquet file or folder (a listing with a path
    column, plus any key columns), else a glob of image files (sorted).
    Paths are made absolute here, on the driver, since the workers run in
    folders of their own: a glob's against the current folder, a listing's
    relative paths against the listing's folder (as the CLI's ``--list``)."""
    if spec.endswith(".parquet") or (os.path.isdir(spec) and glob.glob(os.path.join(spec, "*.parquet"))):
        t = pq.read_table(spec)
        if path_column not in t.column_names:
            raise neglabel.InvalidInputError(f"{spec}: no column '{path_column}' (--path-column)")
        base = os.path.abspath(spec if os.path.isdir(spec) else os.path.dirname(spec) or ".")
        col = t.column(path_column)
        paths = col.to_pylist()
        fixed = [_absolute(p, base) for p in paths]
        if fixed != paths:
            t = t.set_column(t.column_names.index(path_column), path_column, pa.array(fixed, type=col.type))
        return t
    files = sorted(os.path.abspath(f) for f in glob.glob(spec, recursive=True) if os.path.isfile(f))
    if not files:
        raise neglabel.InvalidInputError(f"{spec}: no file matches")
    return pa.table({path_column: files})


def _atomic_parquet(table: "pa.Table", path: str) -> None:
    tmp = f"{os.path.dirname(path)}/.{os.path.basename(path)}.tmp-{os.getpid()}"
    pq.write_table(table, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _log(msg: str) -> None:
    print(f"neglabel.ray: {msg}", file=sys.stderr, flush=True)


def score_to_shards(input: str, output: str, *, model: Any, id_labels: Any, negatives: Any = None,
                    method: str = "neglabel", shard_size: int = 10000, batch_size: int = 64,
                    path_column: str = "path", return_embedding: bool = False, **options: Any) -> Dict[str, int]:
    """Score the rows of ``input`` (see :func:`_listing`) into
    ``output/part-NNNNN.parquet``, ``shard_size`` rows each, in input order.
    Shards already there from an earlier run of the same job (same rows,
    labels, model and options: ``output/_job.json``) are skipped."""
    if shard_size < 1:
        raise neglabel.InvalidInputError("shard_size must be >= 1")
    t0 = time.time()
    table = _listing(input, path_column)
    n = table.num_rows
    lab_opts = {k: options.pop(k) for k in ("ngroup", "tau", "seed", "shuffle", "permutation", "templates", "corpus",
                                            "cache_dir") if k in options}
    labels = prepare(model, id_labels, negatives, method=method, **lab_opts)
    rows_digest = hashlib.sha256()
    for p in table.column(path_column).to_pylist():
        rows_digest.update(str(p).encode("utf-8", "surrogateescape") + b"\0")
    job = {"rows": n, "shard_size": shard_size, "rows_sha256": rows_digest.hexdigest()[:16],
           "labels": labels.digest(), "method": method, "embedding": bool(return_embedding),
           "resample": options.get("resample", "model"),
           # the actors' image embeddings: a GPU's (fp16 by default) or
           # another precision's differ from the CPU's fp32 ones
           "device": options.get("device", "cpu"), "precision": options.get("precision")}
    others = [c for c in table.column_names if c != path_column]
    if others:  # the listing's other columns (ids, ground truth...) go into the shards too
        cols_digest = hashlib.sha256()
        for c in others:
            cols_digest.update(f"{c}\0{table.schema.field(c).type}\0".encode("utf-8", "surrogateescape"))
            for v in table.column(c).to_pylist():
                cols_digest.update(repr(v).encode("utf-8", "surrogateescape") + b"\0")
        job["columns_sha256"] = cols_digest.hexdigest()[:16]
    os.makedirs(output, exist_ok=True)
    job_path = os.path.join(output, "_job.json")
    if os.path.exists(job_path):
        with open(job_path) as f:
            old = json.load(f)
        if old != job:
            raise neglabel.InvalidInputError(f"{output}: holds shards of another job (_job.json differs: "
                                             f"{old} vs {job}); use another --output")
    else:
        tmp = job_path + f".tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(job, f)
        os.replace(tmp, job_path)
    n_shards = (n + shard_size - 1) // shard_size
    names = [os.path.join(output, f"part-{k:05d}.parquet") for k in range(n_shards)]
    done = [k for k in range(n_shards) if os.path.exists(names[k])]
    todo = [k for k in range(n_shards) if not os.path.exists(names[k])]
    if done:
        _log(f"{len(done)} of {n_shards} shards already written, skipped")
    stats = {"rows": n, "shards": n_shards, "skipped": len(done), "written": 0, "unreadable": 0}
    if not todo:
        return stats
    table = table.append_column("_row", pa.array(np.arange(n, dtype=np.int64)))
    if options.get("key_columns") is not None:  # the row numbers travel with the rows, dropped below
        options["key_columns"] = [c for c in options["key_columns"] if c != "_row"] + ["_row"]
    blocks = []
    for k in todo:
        lo, hi = k * shard_size, min(n, (k + 1) * shard_size)
        for s in range(lo, hi, batch_size):  # one block a batch: spread over the actors
            blocks.append(table.slice(s, min(batch_size, hi - s)))
    if not ray.is_initialized():
        ray.init()
    # the batches in input order, so shards complete one after another and few
    # wait in memory; set for this job only (it is the driver's process-wide
    # DataContext, which the caller's own datasets use too)
    ctx = ray.data.DataContext.get_current()
    keep = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True
    try:
        ds = ray.data.from_arrow(blocks)
        scored = score_dataset(ds, model=model, method=method, labels=labels, batch_size=batch_size,
                               path_column=path_column, return_embedding=return_embedding, **options)
        pending: Dict[int, List["pa.Table"]] = {}
        counts: Dict[int, int] = {}
        for b in scored.iter_batches(batch_format="pyarrow", batch_size=None):
            shard = b.column("_row").to_numpy() // shard_size
            for k in np.unique(shard):
                part = b.filter(pa.array(shard == k))
                pending.setdefault(int(k), []).append(part)
                counts[int(k)] = counts.get(int(k), 0) + part.num_rows
                want = min(n, (int(k) + 1) * shard_size) - int(k) * shard_size
                if counts[int(k)] == want:
                    t = pa.concat_tables(pending.pop(int(k)))
                    t = t.sort_by("_row").drop_columns(["_row"])
                    _atomic_parquet(t, names[int(k)])
                    stats["written"] += 1
                    bad = t.num_rows - t.column("error").null_count
                    stats["unreadable"] += bad
                    _log(f"wrote {os.path.basename(names[int(k)])} ({want} rows"
                         + (f", {bad} unreadable: see the error column)" if bad else ")"))
                elif counts[int(k)] > want:
                    raise RuntimeError(f"shard {k}: {counts[int(k)]} rows for {want}")
    finally:
        ctx.execution_options.preserve_order = keep
    if pending:
        raise RuntimeError(f"shards {sorted(pending)} are incomplete")
    _log(f"{stats['written']} shards written, {stats['skipped']} skipped, {n} rows in {time.time() - t0:.1f} s"
         + (f"; {stats['unreadable']} images in the shards written could not be read" if stats["unreadable"] else ""))
    return stats


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neglabel.ray", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("score", help="score images into Parquet shards (resumable)")
    s.add_argument("--input", required=True, help="a glob of image files ('**' recurses) or a Parquet listing")
    s.add_argument("--output", required=True, help="folder of part-NNNNN.parquet shards")
    s.add_argument("--model", required=True, help="model folder, readable on every worker")
    s.add_argument("--id-labels", required=True)
    s.add_argument("--negatives", help="negatives file (neglabel mine); default: mined now on the driver")
    s.add_argument("--corpus", help="WordNet folder or word lists when mining (default Debian's WordNet)")
    s.add_argument("--method", default="neglabel", help="neglabel, mcm or csp")
    s.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    s.add_argument("--path-column", default="path")
    s.add_argument("--shard-size", type=int, default=10000)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--concurrency", type=int)
    s.add_argument("--num-cpus", type=float, default=1)
    s.add_argument("--num-gpus", type=float,
                   help="GPUs per actor (default: 1 with --device cuda, or auto on a cluster with GPUs; else 0)")
    s.add_argument("--device", default="cpu",
                   help="device of each actor's model: cpu, cuda, or auto (a GPU each when the cluster has GPUs)")
    s.add_argument("--threads", type=int, help="CPU threads per actor (default: --num-cpus)")
    s.add_argument("--ngroup", type=int, default=100)
    s.add_argument("--tau", type=float)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--resample", default="model")
    s.add_argument("--embedding", action="store_true", help="also write each image's embedding")
    a = ap.parse_args(argv)
    try:
        ray.init(address=a.address, log_to_driver=False)
        score_to_shards(a.input, a.output, model=a.model, id_labels=a.id_labels, negatives=a.negatives,
                        corpus=a.corpus, method=a.method, shard_size=a.shard_size, batch_size=a.batch_size,
                        path_column=a.path_column, return_embedding=a.embedding, concurrency=a.concurrency,
                        num_cpus=a.num_cpus, num_gpus=a.num_gpus, device=a.device, threads=a.threads,
                        ngroup=a.ngroup, tau=a.tau, seed=a.seed, resample=a.resample)
    except neglabel.Error as e:
        _log(str(e))
        return 1
    except ray.exceptions.RayError as e:
        # an actor that failed to start (a model the workers cannot load)
        # or died: Ray's message, which carries the library's, without the
        # driver's traceback
        _log(f"the Ray job failed: {e}")
        return 1
    except KeyboardInterrupt:
        _log("stopped by Ctrl-C; the shards written are whole: run the same command again to resume")
        return 130
    return 0


if __name__ == "__main__":
    # run as the module neglabel.ray (not __main__), so that the actors'
    # classes are imported by name on the workers
    from neglabel.ray import main as _main

    sys.exit(_main())
