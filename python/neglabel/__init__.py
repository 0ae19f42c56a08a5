"""neglabel: zero-shot out-of-distribution detection with negative labels
(NegLabel, Jiang et al., ICLR 2024) on a frozen CLIP model.

Python bindings of the C library (``include/neglabel.h``); every function
gives the same numbers as the ``neglabel`` command-line tool::

    import neglabel
    model = neglabel.Model("clip-vit-base-patch16")          # a Hugging Face CLIP folder or Hub id
    negatives = neglabel.mine(model, ["cat", "dog"])          # NegMining over WordNet
    detector = neglabel.NegLabel(model, ["cat", "dog"], negatives)
    scores = detector.score(["photo.jpg", numpy_rgb_array, pil_image])  # higher = more in-distribution

Errors raise :class:`neglabel.Error` subclasses carrying the library's
message; each also derives from the matching built-in exception
(``ValueError``, ``OSError``, ``MemoryError``, ``NotImplementedError``,
``RuntimeError``). Long calls release the GIL. Progress of long work goes to
:func:`set_progress` (by default a line on stderr when it is a terminal);
the library's warnings and notes go to the ``logging`` logger ``"neglabel"``.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _neglabel as _C
from ._neglabel import (
    DeviceError,
    Error,
    FileError,
    InvalidInputError,
    OutOfMemoryError,
    UnsupportedError,
)

__version__: str = _C.version

__all__ = [
    "Model", "Negatives", "NegLabel", "MCM", "CSP", "AdaNeg", "OODD", "METHODS", "mine", "metrics", "evaluate", "set_progress", "default_progress",
    "cuda_device_count", "cuda_built", "devices_info", "convert_checkpoint",
    "Error", "InvalidInputError", "FileError", "OutOfMemoryError", "UnsupportedError", "DeviceError",
    "DEFAULT_MODEL", "TEMPLATE_NOUN", "TEMPLATE_ADJ", "TEMPLATE_MCM", "__version__",
]

#: The CLI's default model, the NegLabel paper's CLIP ViT-B/16 (a Hub id).
DEFAULT_MODEL: str = _C.DEFAULT_MODEL
#: Default prompt templates (the NegLabel reference's).
TEMPLATE_NOUN: str = _C.TEMPLATE_NOUN
TEMPLATE_ADJ: str = _C.TEMPLATE_ADJ
TEMPLATE_MCM: str = _C.TEMPLATE_MCM
CSP_NOUN_TEMPLATES: Tuple[str, ...] = _C.CSP_NOUN_TEMPLATES

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: One image: a file path, an H x W x 3 uint8 RGB array, or a PIL image.
ImageLike = Union[PathLike, np.ndarray, Any]
Labels = Union[PathLike, Sequence[str]]
ProgressFn = Callable[[str, int, int, float, bool], Any]

_RESAMPLE = {"bicubic": 0, "bilinear": 1, "model": 2}
_CONVENTION = {"neglabel": 0, "openood": 1}
_CONVENTION_NAME = {0: "neglabel", 1: "openood"}
_DEVICE_KIND = {"cpu": 1, "cuda": 2}
_DEFAULT_WORDNET = "/usr/share/wordnet"

# ---------------------------------------------------------------- logging and progress

_logger = logging.getLogger("neglabel")
_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}


def _log(level: int, message: str) -> None:
    _logger.log(_LEVELS.get(level, logging.INFO), "%s", message)


_C.set_log_handler(_log)


def _hms(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def default_progress(label: str, done: int, total: int, elapsed: float, final: bool) -> None:
    """The default progress display: a tqdm-style line on stderr, redrawn in
    place, only when stderr is a terminal (nothing otherwise)."""
    stream = sys.stderr
    try:
        if stream is None or not stream.isatty():
            return
    except (ValueError, OSError):  # closed or detached
        return
    frac = done / total if total else 1.0
    width = 24
    full = int(frac * width)
    bar = "\u2588" * full + (" " * (width - full))
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 and total > done else 0.0
    line = f"\r\033[K{label}: {100 * frac:3.0f}%|{bar}| {done}/{total} [{_hms(elapsed)}<{_hms(eta)}, {rate:.1f}it/s]"
    try:
        stream.write(line + ("\n" if final else ""))
        stream.flush()
    except (ValueError, OSError):
        pass


def set_progress(fn: Optional[ProgressFn]) -> None:
    """Route the progress of long work (embedding prompts and images, mining)
    to ``fn(label, done, total, elapsed_seconds, final)``, or silence it with
    ``None``. The library throttles calls (a few a second); ``final`` is True
    on a job's last call. ``fn`` may be called from any thread, with the GIL
    held; an exception it raises is reported (sys.unraisablehook) and the work
    goes on. The default is :func:`default_progress`."""
    if fn is not None and not callable(fn):
        raise TypeError("set_progress expects a callable or None")
    _C.set_progress_handler(fn)


set_progress(default_progress)

# ---------------------------------------------------------------- helpers


def _resample(resample: str) -> int:
    try:
        return _RESAMPLE[resample]
    except (KeyError, TypeError):
        raise ValueError(f"resample must be 'model', 'bicubic' or 'bilinear', got {resample!r}") from None


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, bytes, os.PathLike))


def _is_pil(x: Any) -> bool:
    mod = type(x).__module__ or ""
    return mod.startswith("PIL.") and hasattr(x, "convert") and hasattr(x, "mode")


def _image_list(images: Any) -> List[Any]:
    """One image or a sequence of them, as a list."""
    if _is_path(images) or _is_pil(images):
        return [images]
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            return [images]
        if images.ndim == 4:
            return list(images)
        raise ValueError(f"expected an H x W x 3 image or an N x H x W x 3 batch, got an array of shape {images.shape}")
    try:
        return list(images)
    except TypeError:
        raise TypeError(f"expected an image (path, numpy array, PIL image) or a sequence of them, "
                        f"got {type(images).__name__}") from None


def _rgb_array(x: Any, i: int) -> np.ndarray:
    """An H x W x 3 uint8 array the extension takes as it is: pixels 3 bytes
    apart, channels 1 byte apart, rows any stride >= W*3 apart (a crop of a
    larger array is used in place); anything else is copied."""
    if _is_pil(x):
        if x.mode != "RGB":
            x = x.convert("RGB")
        a = np.asarray(x)
    else:
        a = np.asarray(x)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise InvalidInputError(f"image {i}: expected an H x W x 3 uint8 RGB array, "
                                f"got shape {a.shape} of {a.dtype}")
    h, w, _ = a.shape
    s = a.strides
    if s[2] != 1 or (w > 1 and s[1] != 3) or (h > 1 and s[0] < 3 * w):
        a = np.ascontiguousarray(a)
    return a


def _str_list(xs: Union[str, Iterable[str]], what: str) -> List[str]:
    if isinstance(xs, str):
        return [xs]
    out = list(xs)
    for x in out:
        if not isinstance(x, str):
            raise TypeError(f"{what}: expected str, got {type(x).__name__}")
    return out


def _templates(t: Union[None, str, Sequence[str]], default: str) -> List[str]:
    if t is None:
        return [default]
    out = _str_list(t, "templates")
    if not out:
        raise InvalidInputError("templates: give at least one template with '{}'")
    return out


def _labels(id_labels: Labels, strict: bool) -> List[str]:
    """ID class names from a file (as the CLI reads --id-labels) or a list
    (trimmed the same way; duplicates kept with a warning unless strict)."""
    if _is_path(id_labels):
        return _C.read_id_labels(id_labels, not strict)
    labels = []
    for i, x in enumerate(_str_list(id_labels, "id_labels")):
        s = x.strip(" \t\r")
        if not s:
            raise InvalidInputError(f"id_labels: entry {i + 1} is empty")
        if "\n" in s or "\0" in s:
            raise InvalidInputError(f"id_labels: entry {i + 1} holds a newline or NUL character")
        labels.append(s)
    if not labels:
        raise InvalidInputError("id_labels: no ID labels (the list is empty)")
    seen: Dict[str, int] = {}
    dups = 0
    for i, s in enumerate(labels):
        if s in seen:
            if strict:
                raise InvalidInputError(f"id_labels: duplicate ID label '{s}' (entries {seen[s] + 1} and {i + 1})")
            dups += 1
        else:
            seen[s] = i
    if dups:
        _logger.warning("id_labels: %d duplicate ID label(s) kept", dups)
    return labels


def _corpus(corpus: Optional[PathLike], include: Optional[Sequence[str]], exclude: Optional[Sequence[str]]) -> tuple:
    """(wordnet_dir, lists_dir, include, exclude): a folder holding data.noun
    or data.adj is a WordNet database (--wordnet), any other a folder of word
    lists (--lists); None is Debian's WordNet."""
    inc = _str_list(include or [], "include")
    exc = _str_list(exclude or [], "exclude")
    if corpus is None:
        return (_DEFAULT_WORDNET, None, inc, exc)
    d = os.fspath(corpus)
    if any(os.path.isfile(os.path.join(d, f)) for f in ((b"data.noun", b"data.adj") if isinstance(d, bytes)
                                                         else ("data.noun", "data.adj"))):
        return (d, None, inc, exc)
    return (None, d, inc, exc)


def _f32_rows(x: Any, dim: int, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != dim:
        raise InvalidInputError(f"{what}: expected rows of {dim} values, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _f64_vector(x: Any, what: str) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
    return a


# ---------------------------------------------------------------- model


class Model:
    """A CLIP model loaded by the library (``nl_model_load``).

    Args:
        name_or_path: a Hugging Face CLIP folder (config.json,
            model.safetensors, vocab.json, merges.txt), an OpenCLIP folder
            (open_clip_config.json, open_clip_model.safetensors, vocab.json,
            merges.txt: ViTs and CLIP ResNets, docs/openclip.md) or a Hub id
            ``org/name[@revision]`` taken from the Hugging Face cache
            (downloaded there when missing, unless HF_HUB_OFFLINE is set).
        device: ``"auto"`` (the first usable GPU, else the CPU), ``"cpu"``,
            ``"cuda"`` or ``"cuda:N"``.
        precision: ``None`` (fp32 on the CPU, fp16 on a GPU), ``"fp32"``,
            ``"fp16"`` or ``"bf16"`` (the CPU runs fp32, or bf16 on AVX512-BF16 /
            AMX; without them bf16 falls back to fp32 with a warning, see
            docs/cpu-bf16.md; ``precision`` says what runs).
        threads: CPU threads (0: NEGLABEL_THREADS, OMP_NUM_THREADS or all cores).
        batch_size: images per forward pass (0: the library's default).

    One model serves one call at a time: calls on the same Model from
    several threads are serialised by a lock held by the object (load one
    Model per thread to run in parallel). Use ``close()`` or ``with`` to free
    it early.
    """

    def __init__(self, name_or_path: PathLike, device: str = "auto", precision: Optional[str] = None,
                 threads: int = 0, batch_size: int = 0) -> None:
        self._m = _C.Model(name_or_path, device, precision, int(threads), int(batch_size))
        self.name_or_path: str = os.fsdecode(name_or_path)
        self._load = dict(device=device, precision=precision, threads=int(threads), batch_size=int(batch_size))
        self._desc: Dict[str, Any] = self._m.describe()
        self._info: Optional[Dict[str, Any]] = None

    # -- resolved settings
    @property
    def dim(self) -> int:
        """Embedding size (projection_dim)."""
        return self._desc["dim"]

    @property
    def image_size(self) -> int:
        """Input side of the vision tower (images are resized and centre-cropped to it)."""
        return self._desc["image_size"]

    @property
    def device(self) -> str:
        """Where the model runs: ``"cpu"`` or ``"cuda:N"`` (``"auto"`` resolved)."""
        return self._desc["device"]

    @property
    def device_name(self) -> str:
        """The device for messages, e.g. ``"cuda:0 (NVIDIA H200)"``."""
        return self._desc["device_name"]

    @property
    def precision(self) -> str:
        """Arithmetic of the forward passes: ``"fp32"``, ``"fp16"`` or ``"bf16"``."""
        return self._desc["precision"]

    @property
    def threads(self) -> int:
        """CPU threads the model uses."""
        return self._desc["threads"]

    @property
    def fingerprint(self) -> str:
        """A string identifying the weights and config (recorded in negatives files)."""
        return self._desc["fingerprint"]

    @property
    def resample(self) -> str:
        """The model's own resize filter (its preprocessor_config.json): ``"bicubic"`` or ``"bilinear"``."""
        return self._desc["resample"]

    @property
    def info(self) -> Dict[str, Any]:
        """The resolved configuration (``neglabel info``) as a dict."""
        if self._info is None:
            self._info = json.loads(self._m.info_json())
        return self._info

    @property
    def closed(self) -> bool:
        return self._m.closed

    def close(self) -> None:
        """Free the model now (waits for a call in progress); later calls raise ValueError."""
        self._m.close()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"dim={self.dim}, device={self.device!r}, precision={self.precision!r}"
        return f"neglabel.Model({self.name_or_path!r}, {state})"

    # -- the CLIP engine
    def tokenize(self, text: str) -> List[int]:
        """CLIP BPE token ids of ``text``, with start and end tokens, not truncated."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, got {type(text).__name__}")
        return self._m.tokenize(text)

    def embed_texts(self, texts: Union[str, Sequence[str]]) -> np.ndarray:
        """Text embeddings: an (n, dim) float32 array of CLIP's projections,
        **not normalised** (as ``neglabel embed --text``). Texts longer than
        the context are truncated to context-1 tokens + EOT. A single string
        gives one row."""
        t = _str_list(texts, "texts")
        out = np.empty((len(t), self.dim), dtype=np.float32)
        if t:
            self._m.embed_texts(t, out)
        return out

    def embed_images(self, images: Union[ImageLike, Sequence[ImageLike]], resample: str = "model") -> np.ndarray:
        """Image embeddings: an (n, dim) float32 array of CLIP's projections,
        **not normalised** (as ``neglabel embed --image``).

        ``images`` is one image or a sequence of them, each a file path, an
        H x W x 3 uint8 RGB numpy array (any strides: a crop view is used in
        place, other layouts copied) or a PIL image (converted to RGB); an
        N x H x W x 3 array is a batch. Arrays are resized and cropped
        exactly as files are. ``resample``: ``"model"`` (the model's
        preprocessor_config.json), ``"bicubic"`` or ``"bilinear"``. An image
        that cannot be read raises an exception naming it.

        The rows equal ``neglabel embed``'s for the same list of images.
        (The library's last bits may depend on how images are batched and
        on the thread count; a list mixing files with decoded images is
        embedded as two calls, the files and then the decoded images.)
        """
        r = _resample(resample)
        items = _image_list(images)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        paths = [(i, x) for i, x in enumerate(items) if _is_path(x)]
        arrays = [(i, _rgb_array(x, i)) for i, x in enumerate(items) if not _is_path(x)]
        if not arrays:
            if paths:
                self._m.embed_paths([x for _, x in paths], r, out)
            return out
        if not paths:
            self._m.embed_arrays([a for _, a in arrays], r, out)
            return out
        for group, fn in ((paths, self._m.embed_paths), (arrays, self._m.embed_arrays)):
            part = np.empty((len(group), self.dim), dtype=np.float32)
            fn([x for _, x in group], r, part)
            out[[i for i, _ in group]] = part
        return out

    # -- pipeline helpers (normalised, cached embeddings as the CLI's commands use)
    def _embed_words(self, words: Sequence[str], templates: Sequence[str], cache_dir: Optional[PathLike],
                     raw: bool = False) -> np.ndarray:
        out = np.empty((len(words), self.dim), dtype=np.float32)
        self._m.embed_words(list(words), list(templates), cache_dir, out, raw)
        return out

    def _embed_normalized(self, images: Any, resample: str, cache_dir: Optional[PathLike],
                          skip_unreadable: bool) -> Tuple[np.ndarray, np.ndarray]:
        """L2-normalised embeddings of the readable images and their indices:
        files through the cached path of ``neglabel score``, arrays through
        nl_embed_rgb + nl_normalize_rows."""
        r = _resample(resample)
        items = _image_list(images)
        n = len(items)
        out = np.empty((n, self.dim), dtype=np.float32)
        ok = np.zeros(n, dtype=bool)
        paths = [(i, x) for i, x in enumerate(items) if _is_path(x)]
        arrays = [(i, _rgb_array(x, i)) for i, x in enumerate(items) if not _is_path(x)]
        if paths:
            part = np.empty((len(paths), self.dim), dtype=np.float32)
            good = self._m.embed_image_files([x for _, x in paths], r, cache_dir, not skip_unreadable, part)
            rows = [paths[g][0] for g in good]
            out[rows] = part[: len(good)]
            ok[rows] = True
        if arrays:
            part = np.empty((len(arrays), self.dim), dtype=np.float32)
            self._m.embed_arrays([a for _, a in arrays], r, part)
            _C.normalize_rows(part, self.dim)
            rows = [i for i, _ in arrays]
            out[rows] = part
            ok[rows] = True
        idx = np.flatnonzero(ok)
        return np.ascontiguousarray(out[idx]), idx

    def _score_device(self) -> Tuple[int, int]:
        return _DEVICE_KIND["cuda" if self.device.startswith("cuda") else "cpu"], self._desc["device_index"]


# ---------------------------------------------------------------- negatives


class Negatives:
    """Negative labels: mined by :func:`mine` or read with :meth:`load` from
    the CLI's file format (``neglabel mine -o FILE``; plain prompt lists,
    one per line, are read too).

    Attributes:
        words: the words (for plain lists: the prompts themselves).
        pos: ``"noun"`` or ``"adj"`` per word.
        prompts: each word in its first template, as embedded.
        similarities: float64 quantile similarity to the ID labels per word
            (mined files; ``None`` for plain lists). Files keep 8 decimals.
        model: fingerprint of the model they were mined with (or None).
        dim: embedding size recorded in the file (0: none).
        noun_templates, adj_templates: the prompt templates of the file.
        raw_mean: the labels are embedded as CSP does, the mean of raw
            prompt embeddings normalised once (the file's ``ensemble=raw``).
    """

    def __init__(self, words: Sequence[str], pos: Sequence[str], prompts: Sequence[str],
                 similarities: Optional[Sequence[float]] = None, *, model: Optional[str] = None, dim: int = 0,
                 noun_templates: Sequence[str] = (), adj_templates: Sequence[str] = (),
                 path: Optional[str] = None, raw_mean: bool = False) -> None:
        self.words: List[str] = list(words)
        self.pos: List[str] = list(pos)
        self.prompts: List[str] = list(prompts)
        if not (len(self.words) == len(self.pos) == len(self.prompts)):
            raise InvalidInputError("negatives: words, pos and prompts differ in length")
        bad = [p for p in self.pos if p not in ("noun", "adj")]
        if bad:
            raise InvalidInputError(f"negatives: pos must be 'noun' or 'adj', got {bad[0]!r}")
        self.similarities: Optional[np.ndarray] = (
            None if similarities is None else np.array(similarities, dtype=np.float64).reshape(-1))
        if self.similarities is not None and len(self.similarities) != len(self.words):
            raise InvalidInputError("negatives: similarities and words differ in length")
        self.model: Optional[str] = model
        self.dim: int = int(dim)
        self.noun_templates: List[str] = list(noun_templates)
        self.adj_templates: List[str] = list(adj_templates)
        self.path: Optional[str] = path
        self.raw_mean: bool = bool(raw_mean)

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        n = sum(p == "noun" for p in self.pos)
        return f"neglabel.Negatives({len(self)} labels: {n} nouns, {len(self) - n} adjectives)"

    def _tuple(self) -> tuple:
        pos = bytes(0 if p == "noun" else 1 for p in self.pos)
        return (self.words, self.prompts, pos, self.model, self.dim, self.noun_templates, self.adj_templates,
                self.raw_mean)

    @classmethod
    def _from_tuple(cls, t: tuple, similarities: Optional[np.ndarray], path: Optional[str]) -> "Negatives":
        words, prompts, pos, model, dim, nt, at, raw = t
        return cls(words, ["adj" if b else "noun" for b in pos], prompts, similarities, model=model, dim=dim,
                   noun_templates=nt, adj_templates=at, path=path, raw_mean=bool(raw))

    def save(self, path: PathLike) -> None:
        """Write the CLI's format (header + ``pos<TAB>word<TAB>prompt<TAB>similarity``), atomically."""
        sims = None if self.similarities is None else np.ascontiguousarray(self.similarities, dtype=np.float64)
        _C.negatives_write(path, self._tuple(), sims)

    @classmethod
    def load(cls, path: PathLike) -> "Negatives":
        """Read a negatives file (``neglabel mine`` output or a plain prompt list)."""
        t = _C.negatives_read(path)
        return cls._from_tuple(t, _read_similarities(path, len(t[0])), os.fsdecode(path))

    def embed(self, model: Model, cache_dir: Optional[PathLike] = None) -> np.ndarray:
        """L2-normalised (n, dim) float32 embeddings of the labels with the
        file's templates (as ``neglabel score``); refused when the labels were
        mined with another model."""
        out = np.empty((len(self), model.dim), dtype=np.float32)
        model._m.negatives_embed(self._tuple(), self.path or "negatives", cache_dir, out)
        return out


def _read_similarities(path: PathLike, n: int) -> Optional[np.ndarray]:
    """The 4th column of a mined file (nl_negatives_read has already checked
    the rest), or None when the file has none."""
    vals = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").strip(" \t\r\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 4:
                return None
            try:
                vals.append(float(parts[3]))
            except ValueError:
                return None
    return np.array(vals, dtype=np.float64) if len(vals) == n else None


def mine(model: Model, id_labels: Labels, corpus: Optional[PathLike] = None, fraction: float = 0.15,
         quantile: float = 0.95, total: int = 0, cache_dir: Optional[PathLike] = None, *,
         include: Optional[Sequence[str]] = None, exclude: Optional[Sequence[str]] = None,
         templates: Union[None, str, Sequence[str]] = None, adj_templates: Union[None, str, Sequence[str]] = None,
         remove_id_labels: bool = False, strict: bool = False) -> Negatives:
    """NegMining (``neglabel mine``): the candidates of ``corpus`` farthest
    from the ID labels in CLIP's text space.

    Args:
        model: the :class:`Model`.
        id_labels: ID class names, a list or a file with one per line.
        corpus: ``None`` (Debian's WordNet, /usr/share/wordnet, without
            noun.animal and noun.food), a WordNet database folder (holding
            data.noun: ``--wordnet``) or a folder of word lists
            ``noun.<cat>.txt`` / ``adj.<cat>.txt`` (``--lists``).
        fraction: share of each part of speech kept (``--fraction``).
        quantile: the quantile of each candidate's similarities to the ID
            labels it is ranked by (``--quantile``).
        total: keep this many instead, split in proportion (``--total``).
        cache_dir: embedding cache folder (``--cache``; None: no cache).
        include, exclude: categories (``"noun.plant"``) or ``"noun"``/``"adj"``.
        templates, adj_templates: prompt templates (``--template``,
            ``--adj-template``); ID labels and nouns share ``templates``.
        remove_id_labels: drop candidates equal to an ID label.
        strict: duplicate ID labels are an error.
    """
    labels = _labels(id_labels, strict)
    nt = _templates(templates, TEMPLATE_NOUN)
    id_emb = model._embed_words(labels, nt, cache_dir)
    return _mine(model, labels, id_emb, corpus, fraction, quantile, total, cache_dir, include, exclude,
                 None if templates is None else nt, adj_templates, remove_id_labels)


def _mine(model: Model, labels: List[str], id_emb: np.ndarray, corpus: Optional[PathLike], fraction: float,
          quantile: float, total: int, cache_dir: Optional[PathLike], include: Optional[Sequence[str]],
          exclude: Optional[Sequence[str]], templates: Optional[List[str]],
          adj_templates: Union[None, str, Sequence[str]], remove_id_labels: bool, csp: bool = False) -> Negatives:
    if int(total) < 0:
        raise InvalidInputError("total must be >= 0")
    at = [] if adj_templates is None else _templates(adj_templates, TEMPLATE_ADJ)
    t, q = model._m.mine(labels, id_emb, _corpus(corpus, include, exclude), float(fraction), float(quantile),
                         int(total), model._load["threads"], templates or [], at, cache_dir, bool(remove_id_labels),
                         bool(csp))
    return Negatives._from_tuple(t, np.frombuffer(q, dtype=np.float64).copy(), None)


# ---------------------------------------------------------------- scoring


class _Scorer:
    _method = 0
    model: Model
    labels: List[str]
    id_embeddings: np.ndarray
    cache_dir: Optional[PathLike]

    def _neg(self) -> Optional[np.ndarray]:
        return None

    def _params(self) -> Tuple[int, int, bool, float]:
        raise NotImplementedError

    def _run(self, emb: np.ndarray) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        n = emb.shape[0]
        neg = self._neg()
        scores = np.empty(n, dtype=np.float64)
        top_id = np.zeros(n, dtype=np.uintp)
        top_neg = np.zeros(n, dtype=np.uintp) if neg is not None and len(neg) else None
        if n:
            kind, index = self.model._score_device()
            ngroup, seed, shuffle, tau = self._params()
            _C.score(emb, self.id_embeddings, neg, self.model.dim, self._method, ngroup, seed, shuffle, tau, kind,
                     index, self.model._load["threads"], scores, top_id, top_neg,
                     getattr(self, "permutation", "splitmix"), getattr(self, "_stream", None))
        return scores, top_id, top_neg

    def _labels_of(self, top: Optional[np.ndarray], names: Sequence[str], idx: np.ndarray, n: int) -> List[Optional[str]]:
        out: List[Optional[str]] = [None] * n
        if top is not None:
            for k, i in enumerate(idx):
                out[i] = names[int(top[k])]
        return out

    def _score_images(self, images: Any, resample: str, return_labels: bool, skip_unreadable: bool) -> Any:
        n = len(_image_list(images))
        emb, idx = self.model._embed_normalized(images, resample, self.cache_dir, skip_unreadable)
        s, ti, tn = self._run(emb)
        scores = np.full(n, np.nan, dtype=np.float64)
        scores[idx] = s
        if not return_labels:
            return scores
        return self._with_labels(scores, ti, tn, idx, n)

    def _score_embeddings(self, img_emb: Any, return_labels: bool) -> Any:
        emb = _f32_rows(img_emb, self.model.dim, "img_emb")
        s, ti, tn = self._run(emb)
        if not return_labels:
            return s
        return self._with_labels(s, ti, tn, np.arange(len(s)), len(s))

    def _with_labels(self, scores: np.ndarray, ti: np.ndarray, tn: Optional[np.ndarray], idx: np.ndarray,
                     n: int) -> Any:
        raise NotImplementedError


class NegLabel(_Scorer):
    """NegLabel scoring (``neglabel score``): the softmax mass on the ID labels
    against groups of negative labels, averaged over the groups. Higher
    scores are more in-distribution; scores lie in [0, 1].

    Args:
        model: the :class:`Model`.
        id_labels: ID class names, a list or a file with one per line.
        negatives: a :class:`Negatives`, a negatives file, or ``None`` to mine
            them now with :func:`mine`'s defaults over ``corpus``.
        ngroup: groups of negatives (``--ngroup``).
        tau: softmax temperature on cosines (``--tau``; CLIP's logit scale 100).
        seed, shuffle: the seeded shuffle before grouping (``--seed``, ``--no-shuffle``).
        permutation: ``"splitmix"`` (default), ``"torch"`` (torch.randperm
            after torch.manual_seed(seed), bit for bit: the reference's
            groups) or ``"numpy"`` (``--permutation``).
        templates: prompt templates for the ID labels (``--template``).
        corpus: candidate corpus when mining (see :func:`mine`).
        cache_dir: embedding cache folder (``--cache``; None: no cache).
        strict: duplicate ID labels are an error.

    Attributes ``id_embeddings`` and ``neg_embeddings`` hold the
    L2-normalised label embeddings (float32).
    """

    _method = 0

    def __init__(self, model: Model, id_labels: Labels, negatives: Union[None, Negatives, PathLike] = None, *,
                 ngroup: int = 100, tau: float = 0.01, seed: int = 0, shuffle: bool = True,
                 permutation: str = "splitmix",
                 templates: Union[None, str, Sequence[str]] = None, corpus: Optional[PathLike] = None,
                 cache_dir: Optional[PathLike] = None, strict: bool = False) -> None:
        self._setup(model, id_labels, ngroup, tau, seed, shuffle, permutation, cache_dir, strict)
        nt = _templates(templates, TEMPLATE_NOUN)
        self.id_embeddings = model._embed_words(self.labels, nt, cache_dir)
        if negatives is None:
            negatives = _mine(model, self.labels, self.id_embeddings, corpus, 0.15, 0.95, 0, cache_dir, None, None,
                              None if templates is None else nt, None, False)
        self._set_negatives(negatives)

    def _setup(self, model: Model, id_labels: Labels, ngroup: int, tau: float, seed: int, shuffle: bool,
               permutation: str, cache_dir: Optional[PathLike], strict: bool) -> None:
        _check_score_params(ngroup, tau, seed, permutation)
        self.permutation = permutation
        self.model = model
        self.labels = _labels(id_labels, strict)
        self.cache_dir = cache_dir
        self.ngroup, self.tau, self.seed, self.shuffle = int(ngroup), float(tau), int(seed), bool(shuffle)

    def _set_negatives(self, negatives: Union[Negatives, PathLike]) -> None:
        if not isinstance(negatives, Negatives):
            negatives = Negatives.load(negatives)
        self.negatives: Negatives = negatives
        self.neg_embeddings: np.ndarray = negatives.embed(self.model, self.cache_dir)

    def _neg(self) -> Optional[np.ndarray]:
        return self.neg_embeddings

    def _params(self) -> Tuple[int, int, bool, float]:
        return self.ngroup, self.seed, self.shuffle, self.tau

    def _with_labels(self, scores, ti, tn, idx, n):
        return (scores, self._labels_of(ti, self.labels, idx, n), self._labels_of(tn, self.negatives.words, idx, n))

    def score(self, images: Union[ImageLike, Sequence[ImageLike]], resample: str = "model", *,
              return_labels: bool = False, skip_unreadable: bool = False) -> Any:
        """NegLabel scores of images (paths, uint8 RGB arrays, PIL images; see
        :meth:`Model.embed_images`): a float64 array, equal to ``neglabel
        score``'s. With ``return_labels``, ``(scores, top_id_labels,
        top_negative_labels)``: each image's most similar ID and negative
        label. An unreadable image raises, or with ``skip_unreadable`` gets
        a NaN score (and None labels) and a logged warning."""
        return self._score_images(images, resample, return_labels, skip_unreadable)

    def score_embeddings(self, img_emb: Any, *, return_labels: bool = False) -> Any:
        """Scores of image embeddings (rows of ``dim``; any scale: cosines are
        computed in double), as ``neglabel score-embeddings`` with this
        object's label embeddings. Note :meth:`score` normalises the image
        embeddings in float32 first, as the CLI's ``score`` does."""
        return self._score_embeddings(img_emb, return_labels)


class MCM(_Scorer):
    """The MCM baseline (``neglabel score --method mcm``): the maximum softmax
    probability over the ID labels' cosines / tau, with prompts
    ``"a photo of a {}"``. Higher scores are more in-distribution."""

    _method = 1

    def __init__(self, model: Model, id_labels: Labels, tau: float = 1.0, *, template: str = TEMPLATE_MCM,
                 cache_dir: Optional[PathLike] = None, strict: bool = False) -> None:
        _check_score_params(1, tau, 0)
        self.model = model
        self.labels = _labels(id_labels, strict)
        self.cache_dir = cache_dir
        self.tau = float(tau)
        self.id_embeddings = model._embed_words(self.labels, [template], cache_dir)

    def _params(self) -> Tuple[int, int, bool, float]:
        return 100, 0, True, self.tau

    def _with_labels(self, scores, ti, tn, idx, n):
        return (scores, self._labels_of(ti, self.labels, idx, n))

    def score(self, images: Union[ImageLike, Sequence[ImageLike]], resample: str = "model", *,
              return_labels: bool = False, skip_unreadable: bool = False) -> Any:
        """MCM scores of images (float64), equal to ``neglabel score --method
        mcm``'s; with ``return_labels``, ``(scores, top_id_labels)``."""
        return self._score_images(images, resample, return_labels, skip_unreadable)

    def score_embeddings(self, img_emb: Any, *, return_labels: bool = False) -> Any:
        """MCM scores of image embeddings (``neglabel score-embeddings --method mcm``)."""
        return self._score_embeddings(img_emb, return_labels)


class CSP(NegLabel):
    """CSP (Chen et al., NeurIPS 2024; ``--method csp``): NegLabel's score
    over CSP's own negatives: its word lists' categories, each adjective
    conjugated with a superclass phrase, the mean of the raw prompt
    embeddings of its 8 (ID labels, nouns) and 4 (phrases) templates, and
    its similarity cut (``mine --method csp``). ``negatives``: ``None`` to
    mine them now over ``corpus``, or CSP negatives (``mine --method csp``).
    The torch permutation by default, as its reference."""

    _method = 2

    def __init__(self, model: Model, id_labels: Labels, negatives: Union[None, Negatives, PathLike] = None, *,
                 ngroup: int = 100, tau: float = 0.01, seed: int = 0, shuffle: bool = True,
                 permutation: str = "torch", corpus: Optional[PathLike] = None,
                 include: Optional[Sequence[str]] = None, exclude: Optional[Sequence[str]] = None,
                 cache_dir: Optional[PathLike] = None, strict: bool = False) -> None:
        self._setup(model, id_labels, ngroup, tau, seed, shuffle, permutation, cache_dir, strict)
        self.id_embeddings = model._embed_words(self.labels, CSP_NOUN_TEMPLATES, cache_dir, raw=True)
        if negatives is None:
            negatives = _mine(model, self.labels, self.id_embeddings, corpus, 0.15, 0.95, 0, cache_dir, include,
                              exclude, None, None, False, csp=True)
        self._set_negatives(negatives)


class _Stream(NegLabel):
    """Common to the stream methods: NegLabel's labels and negatives, scored
    as one stream in the order given (see docs/methods.md)."""

    _defaults: Dict[str, Any] = {}

    def __init__(self, model: Model, id_labels: Labels, negatives: Union[None, Negatives, PathLike] = None, *,
                 ngroup: Optional[int] = None, tau: float = 0.01, seed: int = 0, shuffle: bool = True,
                 permutation: str = "torch", templates: Union[None, str, Sequence[str]] = None,
                 corpus: Optional[PathLike] = None, cache_dir: Optional[PathLike] = None, strict: bool = False,
                 **params: Any) -> None:
        d = _C.score_defaults(self._method)
        super().__init__(model, id_labels, negatives, ngroup=d["ngroup"] if ngroup is None else ngroup, tau=tau,
                         seed=seed, shuffle=shuffle, permutation=permutation, templates=templates, corpus=corpus,
                         cache_dir=cache_dir, strict=strict)
        unknown = set(params) - set(self._defaults)
        if unknown:
            raise InvalidInputError(f"unknown parameter(s) {sorted(unknown)}; {type(self).__name__} takes "
                                    f"{sorted(self._defaults)}")
        self.params: Dict[str, Any] = {k: params.get(k, v) for k, v in self._defaults.items()}
        self._stream = {f"{self._prefix}_{k}": v for k, v in self.params.items()}

    def score(self, images: Union[ImageLike, Sequence[ImageLike]], resample: str = "model", *,
              return_labels: bool = False, skip_unreadable: bool = False) -> Any:
        """Scores of images taken as ONE stream in the order given (a fresh
        memory each call); labels as :meth:`NegLabel.score` (the static
        argmax). Unreadable images are left out of the stream."""
        return self._score_images(images, resample, return_labels, skip_unreadable)

    def score_embeddings(self, img_emb: Any, *, return_labels: bool = False) -> Any:
        """Scores of image embeddings as one stream in row order
        (``neglabel score-embeddings --method ...``)."""
        return self._score_embeddings(img_emb, return_labels)


class AdaNeg(_Stream):
    """AdaNeg (Zhang et al., NeurIPS 2024; ``--method adaneg``): NegLabel's
    score with a memory of test images per label, built from the stream.
    Defaults are the reference script's: ngroup 5, torch permutation,
    ``batch=256, memory=10, thres=0.5, gap=0.5, lambda_=0.1,
    sample_adaptive=False, beta=5.5`` (keyword arguments)."""

    _method = 3
    _prefix = "adaneg"
    _defaults = {"batch": 256, "memory": 10, "thres": 0.5, "gap": 0.5, "lambda": 0.1, "sample_adaptive": 0,
                 "beta": 5.5}

    def __init__(self, model: Model, id_labels: Labels, negatives: Union[None, Negatives, PathLike] = None,
                 **kw: Any) -> None:
        if "lambda_" in kw:
            kw["lambda"] = kw.pop("lambda_")
        if "sample_adaptive" in kw:
            kw["sample_adaptive"] = int(bool(kw["sample_adaptive"]))
        super().__init__(model, id_labels, negatives, **kw)


class OODD(_Stream):
    """OODD (CVPR 2025; ``--method oodd``): NegLabel's score minus the
    similarity to a queue of the stream's most OOD-like images. Defaults are
    the reference's: ngroup 100, torch permutation, ``batch=64,
    queue=2048, k=5`` (keyword arguments)."""

    _method = 4
    _prefix = "oodd"
    _defaults = {"batch": 64, "queue": 2048, "k": 5}


METHODS = ("neglabel", "mcm", "csp", "adaneg", "oodd")


def _check_score_params(ngroup: int, tau: float, seed: int, permutation: str = "splitmix") -> None:
    if permutation not in ("splitmix", "torch", "numpy"):
        raise InvalidInputError(f"permutation must be 'splitmix', 'torch' or 'numpy', got {permutation!r}")
    if permutation == "numpy" and int(seed) >= 2 ** 32:
        raise InvalidInputError("the numpy permutation takes a seed below 2**32")
    if int(ngroup) < 1:
        raise InvalidInputError("ngroup must be >= 1")
    if not (float(tau) > 0 and math.isfinite(float(tau))):
        raise InvalidInputError("tau must be a positive number")
    if int(seed) < 0 or int(seed) >= 2 ** 64:
        raise InvalidInputError("seed must be a non-negative 64-bit integer")


# ---------------------------------------------------------------- metrics and evaluation


def metrics(id_scores: Any, ood_scores: Any, convention: str = "neglabel") -> Dict[str, float]:
    """AUROC, AUPR-In, AUPR-Out and FPR95 of ID vs OOD scores (``neglabel
    metrics``), equal to scikit-learn's; fractions, not %. ``convention``:
    ``"neglabel"`` (the paper's and MCM's FPR95) or ``"openood"``."""
    conv = _CONVENTION.get(convention) if isinstance(convention, str) else None
    if conv is None:
        raise InvalidInputError(f"convention must be 'neglabel' or 'openood', got {convention!r}")
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
        mp[nm] = dict(d)
    if not (0 <= int(stream_seed) < 2 ** 32):
        raise InvalidInputError("stream_seed must be in [0, 2**32)")
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
                    quantile=float(quantile), total=int(total), noun_templates=nt, adj_templates=at,
                    mcm_template=mcm_template, ngroup=int(ngroup), seed=int(seed), shuffle=bool(shuffle),
                    tau=float(tau), mcm_tau=float(mcm_tau), convention=conv, resample=_resample(resample),
                    out_dir=out_dir, cache_dir=cache_dir, strict=bool(strict),
                    remove_id_labels=bool(remove_id_labels), examples=int(examples), device=device,
                    precision=precision, threads=int(threads), batch_size=int(batch_size), permutation=permutation,
                    methods=[METHODS.index(nm) for nm in mlist], score_params=mp, stream_seed=int(stream_seed))
    r["ood"] = {s.pop("name"): s for s in r["ood"]}
    r["convention"] = _CONVENTION_NAME[r["convention"]]
    return r


# ---------------------------------------------------------------- checkpoints


def convert_checkpoint(src: PathLike, dst_dir: PathLike) -> None:
    """``neglabel convert``: OpenAI's CLIP checkpoint (``ViT-B-16.pt``, ``RN50.pt``: TorchScript, or a
    ``torch.save``'d zip of the state dict) to an OpenCLIP folder (``open_clip_model.safetensors``,
    ``open_clip_config.json``) that :class:`Model` loads. The pickle is read by a restricted unpickler that runs
    nothing; an archive it cannot read raises :class:`InvalidInputError` naming the problem."""
    _C.convert_checkpoint(src, dst_dir)


# ---------------------------------------------------------------- devices


def cuda_built() -> bool:
    """True when this build contains the CUDA backend (``pip install . -C cmake.define.NEGLABEL_CUDA=ON``)."""
    return _C.cuda_built()


def cuda_device_count() -> int:
    """Usable CUDA devices (0 without the CUDA backend, a driver or a GPU)."""
    return _C.cuda_device_count()


def devices_info() -> Dict[str, Any]:
    """The CUDA build and the devices found (``neglabel devices``)."""
    return json.loads(_C.devices_info_json())
