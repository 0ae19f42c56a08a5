"""Metrics, the whole benchmark (:func:`evaluate`), checkpoint conversion
and the CUDA devices."""
from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from . import _neglabel as _C
from ._methods import METHODS, AdaNeg, OODD, _check_score_params
from ._model import Model, Negatives
from ._neglabel import InvalidInputError
from ._util import (TEMPLATE_ADJ, TEMPLATE_NOUN, Labels, PathLike, _CONVENTION, _CONVENTION_NAME, _c_int, _corpus,
                    _f64_vector, _is_path, _labels, _resample, _templates)


# ---------------------------------------------------------------- metrics and evaluation


def read_scores(path: PathLike, column: Optional[str] = None) -> np.ndarray:
    """The scores of a file as ``neglabel metrics`` reads it: one number per
    line, or a CSV table with a header (``neglabel score``'s output as it is),
    its ``"score"`` column or ``column``. float64, one per image."""
    return np.frombuffer(_C.read_scores(os.fspath(path), column), dtype=np.float64).copy()


def metrics(id_scores: Any, ood_scores: Any, convention: str = "neglabel", *,
            column: Optional[str] = None) -> Dict[str, float]:
    """AUROC, AUPR-In, AUPR-Out and FPR95 of ID vs OOD scores (``neglabel
    metrics``), equal to scikit-learn's; fractions, not %. Each of the two is
    an array of scores or a score file (a path: read by :func:`read_scores`,
    with ``column``). ``convention``: ``"neglabel"`` (the paper's and MCM's
    FPR95, AUPRs as average precision) or ``"openood"`` (OpenOOD's
    evaluator: its FPR95, AUPRs as the trapezoid over the PR curve)."""
    conv = _CONVENTION.get(convention) if isinstance(convention, str) else None
    if conv is None:
        raise InvalidInputError(f"convention must be 'neglabel' or 'openood', got {convention!r}")
    if _is_path(id_scores):
        id_scores = read_scores(id_scores, column)
    if _is_path(ood_scores):
        ood_scores = read_scores(ood_scores, column)
    a, b = _f64_vector(id_scores, "id_scores"), _f64_vector(ood_scores, "ood_scores")
    auroc, aupr_in, aupr_out, fpr95 = _C.compute_metrics(a, b, conv)
    return {"auroc": auroc, "aupr_in": aupr_in, "aupr_out": aupr_out, "fpr95": fpr95}


def _write_lines(d: str, name: str, lines: Sequence[str]) -> str:
    p = os.path.join(d, name)
    with open(p, "w", encoding="utf-8", errors="surrogateescape") as f:
        for s in lines:
            if "\n" in s or "\r" in s:
                raise InvalidInputError(f"{name}: entry {s!r} holds a newline")
            f.write(s + "\n")
    return p


def _image_spec(d: str, name: str, spec: Union[PathLike, Sequence[PathLike]]) -> str:
    """A folder or list file as it is; a sequence of paths as a list file."""
    if _is_path(spec):
        return os.fsdecode(spec)
    return _write_lines(d, name, [os.path.abspath(os.fsdecode(p)) for p in spec])


_MAX_EXAMPLES = 100  # NL_EVAL_MAX_EXAMPLES


def _long_names(method: str, params: Dict[str, Any]) -> Dict[str, Any]:
    """A stream method's parameters as its class takes them (``k``,
    ``queue``, ``lambda_``: ``OODD(k=5)``) under the names of
    ``_C.score_defaults`` (``oodd_k``); both spellings are taken."""
    cls = {"adaneg": AdaNeg, "oodd": OODD}.get(method)
    if cls is None:
        return params
    out: Dict[str, Any] = {}
    for k, v in params.items():
        short = "lambda" if k == "lambda_" else k
        key = f"{cls._prefix}_{short}" if short in cls._defaults else k
        if key in out:
            raise InvalidInputError(f"method_params[{method!r}]: {k!r} given twice (as {key!r} too)")
        out[key] = v
    return out


def evaluate(model: Union[Model, PathLike], id_labels: Labels, id: Union[PathLike, Sequence[PathLike]],
             ood: Mapping[str, Union[PathLike, Sequence[PathLike]]], out_dir: Optional[PathLike] = None, *,
             negatives: Optional[Union[Negatives, PathLike]] = None, corpus: Optional[PathLike] = None,
             include: Optional[Sequence[str]] = None, exclude: Optional[Sequence[str]] = None,
             fraction: float = 0.15, quantile: float = 0.95, total: int = 0, ngroup: int = 100, tau: float = 0.01,
             seed: int = 0, shuffle: bool = True, permutation: str = "splitmix", mcm_tau: float = 1.0,
             convention: str = "neglabel",
             resample: str = "model", templates: Union[None, str, Sequence[str]] = None,
             adj_templates: Union[None, str, Sequence[str]] = None, mcm_template: Optional[str] = None,
             cache_dir: Optional[PathLike] = None, strict: bool = False, remove_id_labels: bool = False,
             examples: int = 6, device: str = "auto", precision: Optional[str] = None, threads: int = 0,
             batch_size: int = 0, methods: Union[str, Sequence[str]] = ("neglabel", "mcm"),
             method_params: Optional[Mapping[str, Mapping[str, Any]]] = None,
             stream_seed: int = 110) -> Dict[str, Any]:
    """The whole benchmark (``neglabel eval``): labels, negatives (mined, or
    given), embeddings, NegLabel and MCM scores and their metrics for each
    OOD set against the ID set.

    Args:
        model: a model folder / Hub id, or a :class:`Model` (its folder and
            load settings are used: the evaluation loads its own copy).
        id_labels: ID class names, a list or a file.
        id: the ID images: a folder (walked recursively), a list file (one
            path per line, relative to its folder) or a sequence of paths.
        ood: OOD set name -> folder, list file or sequence of paths.
        out_dir: where results.json, scores.csv, report.html and (when
            mined) negatives.tsv are written (``--out``); None: no files.
        methods: names from ``METHODS`` or ``"all"`` (``--method``), in
            report order; default NegLabel and MCM. ``ngroup``, ``tau``,
            ``seed``, ``shuffle`` and ``permutation`` are NegLabel's; every
            other method keeps its reference defaults unless
            ``method_params[name]`` overrides them (keys as
            ``_C.score_defaults``: ``ngroup``, ``tau``, ``seed``,
            ``permutation``, ``adaneg_batch``, ``oodd_queue``, ...).
        examples: example images per set in report.html, 0 to 100
            (``--examples``).
        stream_seed: AdaNeg and OODD score each OOD set as one stream, the
            ID images then the set's, ordered by
            ``np.random.seed(stream_seed); np.random.permutation(N)``.
        Other arguments as the CLI's options of the same names; unreadable
        images are skipped with a warning unless ``strict``.

    Returns the table's numbers (fractions, not %)::

        {"id": {"name", "n_images"}, "methods": [...],
         "ood": {name: {"n_images", "neglabel": {auroc, aupr_in, aupr_out, fpr95}, "mcm": {...}, ...,
                        "best": "neglabel"}},
         "average": {"neglabel": {...}, ..., "best": ...},
         "n_id_labels", "n_negatives", "n_negatives_csp", "n_skipped", "convention", "seconds"}
    """
    mlist = list(METHODS) if methods == "all" else [methods] if isinstance(methods, str) else list(methods)
    for nm in mlist:
        if nm not in METHODS:
            raise InvalidInputError(f"unknown method {nm!r}; expected one of {METHODS} or 'all'")
    if len(set(mlist)) != len(mlist) or not mlist:
        raise InvalidInputError("methods: each method at most once, at least one")
    mp: Dict[str, Dict[str, Any]] = {}
    for nm, d in (method_params or {}).items():
        if nm not in METHODS:
            raise InvalidInputError(f"method_params: unknown method {nm!r}")
        mp[nm] = _long_names(nm, dict(d))
    if not (0 <= int(stream_seed) < 2 ** 32):
        raise InvalidInputError("stream_seed must be in [0, 2**32)")
    if not (0 <= int(examples) <= _MAX_EXAMPLES):  # the CLI's --examples bounds (tools/cmd_pipeline.c)
        raise InvalidInputError(f"examples must be between 0 and {_MAX_EXAMPLES} (example images per set in "
                                f"report.html), got {int(examples)}")
    if isinstance(model, Model):
        load = model._load
        model_dir = model.name_or_path
        device, precision, threads, batch_size = load["device"], load["precision"], load["threads"], load["batch_size"]
    else:
        model_dir = os.fsdecode(model)
    conv = _CONVENTION.get(convention) if isinstance(convention, str) else None
    if conv is None:
        raise InvalidInputError(f"convention must be 'neglabel' or 'openood', got {convention!r}")
    _check_score_params(ngroup, tau, seed, permutation)
    if not (float(mcm_tau) > 0 and math.isfinite(float(mcm_tau))):
        raise InvalidInputError("mcm_tau must be a positive number")
    if not ood:
        raise InvalidInputError("no OOD set given")
    names = list(ood.keys())
    for nm in names:
        if not isinstance(nm, str) or not nm:
            raise InvalidInputError(f"OOD set names must be non-empty strings, got {nm!r}")
    with tempfile.TemporaryDirectory(prefix="neglabel-eval-") as tmp:
        labels_path = os.fsdecode(id_labels) if _is_path(id_labels) else _write_lines(
            tmp, "id_labels.txt", _labels(id_labels, strict))
        neg_path = None
        if isinstance(negatives, Negatives):
            neg_path = os.path.join(tmp, "negatives.tsv")
            negatives.save(neg_path)
        elif negatives is not None:
            neg_path = os.fsdecode(negatives)
        id_spec = _image_spec(tmp, "id.lst", id)
        specs = [_image_spec(tmp, f"ood{k}.lst", ood[nm]) for k, nm in enumerate(names)]
        nt = [] if templates is None else _templates(templates, TEMPLATE_NOUN)
        at = [] if adj_templates is None else _templates(adj_templates, TEMPLATE_ADJ)
        r = _C.eval(model=model_dir, id_labels=labels_path, id=id_spec, ood_names=names, ood_specs=specs,
                    negatives=neg_path, corpus=_corpus(corpus, include, exclude), fraction=float(fraction),
                    quantile=float(quantile), total=_c_int(total, "total", 64), noun_templates=nt, adj_templates=at,
                    mcm_template=mcm_template, ngroup=int(ngroup), seed=int(seed), shuffle=bool(shuffle),
                    tau=float(tau), mcm_tau=float(mcm_tau), convention=conv, resample=_resample(resample),
                    out_dir=out_dir, cache_dir=cache_dir, strict=bool(strict),
                    remove_id_labels=bool(remove_id_labels), examples=int(examples), device=device,
                    precision=precision, threads=_c_int(threads, "threads"),
                    batch_size=_c_int(batch_size, "batch_size"), permutation=permutation,
                    methods=[METHODS.index(nm) for nm in mlist], score_params=mp, stream_seed=int(stream_seed))
    r["ood"] = {s.pop("name"): s for s in r["ood"]}
    r["convention"] = _CONVENTION_NAME[r["convention"]]
    return r


# ---------------------------------------------------------------- checkpoints


def convert_checkpoint(src: PathLike, dst_dir: PathLike) -> None:
    """``neglabel convert``: OpenAI's CLIP checkpoint (``ViT-B-16.pt``, ``RN50.pt``: TorchScript, or a
    ``torch.save``'d zip of the state dict, e.g. OpenCLIP's ``open_clip_pytorch_model.bin``, or an
    ``open_clip_train`` checkpoint ``epoch_N.pt``: its ``state_dict`` entry, DDP's ``module.`` prefix stripped,
    as open_clip loads it) to an OpenCLIP
    folder (``open_clip_model.safetensors``, ``open_clip_config.json``: the one beside ``src`` when there is one,
    checked against the shapes, else OpenAI's QuickGELU and preprocessing) that :class:`Model` loads; or a Hugging Face ``pytorch_model.bin`` (its
    ``config.json`` beside it; a sharded one by its ``pytorch_model.bin.index.json``) to a Hugging Face folder (``model.safetensors`` and copies of the config,
    tokenizer and preprocessing files; ``dst_dir`` may be the ``.bin``'s own folder). The pickle is read by a
    restricted unpickler that runs nothing; an archive it cannot read raises :class:`InvalidInputError` naming
    the problem."""
    _C.convert_checkpoint(src, dst_dir)


# ---------------------------------------------------------------- devices


def cuda_built() -> bool:
    """True when this build contains the CUDA backend (``pip install .`` with the CUDA toolkit present)."""
    return _C.cuda_built()


def cuda_device_count() -> int:
    """CUDA devices found (0 without the CUDA backend, a driver, a GPU or cuBLAS);
    ``devices_info()`` says which this build supports (compute capability 8.0+)."""
    return _C.cuda_device_count()


def devices_info() -> Dict[str, Any]:
    """The CUDA build and the devices found (``neglabel devices``)."""
    return json.loads(_C.devices_info_json())
