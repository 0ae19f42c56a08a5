"""Helpers of the package: its constants and argument types, and the
conversions of arguments (images, strings, templates, ID labels, corpora,
embeddings) into what the extension takes."""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _neglabel as _C
from ._neglabel import InvalidInputError
from ._progress import _logger

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

_RESAMPLE = {"bicubic": 0, "bilinear": 1, "model": 2}
_CONVENTION = {"neglabel": 0, "openood": 1}
_CONVENTION_NAME = {0: "neglabel", 1: "openood"}
_DEVICE_KIND = {"cpu": 1, "cuda": 2}
_DEFAULT_WORDNET = "/usr/share/wordnet"

# ---------------------------------------------------------------- helpers


def _resample(resample: str) -> int:
    try:
        return _RESAMPLE[resample]
    except (KeyError, TypeError):
        raise InvalidInputError(f"resample must be 'model', 'bicubic' or 'bilinear', got {resample!r}") from None


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, bytes, os.PathLike))


def _is_pil(x: Any) -> bool:
    mod = type(x).__module__ or ""
    return mod.startswith("PIL.") and hasattr(x, "convert") and hasattr(x, "mode")


def _image_list(images: Any) -> List[Any]:
    """One image or a sequence of them, as a list."""
    if _is_path(images) or _is_pil(images):
        return [images]
    if not isinstance(images, np.ndarray) and (hasattr(images, "__array__") or isinstance(images, memoryview)):
        # an array-like image or batch (a memoryview, a tensor): as numpy
        # sees it, not item by item (its items would be rows)
        images = np.asarray(images)
    if isinstance(images, np.ndarray) and images.ndim == 1 and images.dtype.kind in "OUS":
        return list(images)  # paths (a DataFrame column's to_numpy())
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            return [images]
        if images.ndim == 4:
            return list(images)
        raise InvalidInputError(f"expected an H x W x 3 image or an N x H x W x 3 batch, got an array of shape {images.shape}")
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


def _c_int(x: Any, what: str, bits: int = 32) -> int:
    """int(x) for a C int (bits 32) or ssize_t (64) argument of the
    extension: a value past its range is InvalidInputError naming the
    argument (PyArg_ParseTuple's OverflowError named none)."""
    v = int(x)
    if not -(2 ** (bits - 1)) <= v < 2 ** (bits - 1):
        raise InvalidInputError(f"{what} {v} is out of range (at most {2 ** (bits - 1) - 1})")
    return v


def _real_array(x: Any, what: str) -> np.ndarray:
    """np.asarray(x) of real numbers: complex values (whose imaginary part a
    conversion would drop), strings and objects are refused."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise InvalidInputError(f"{what}: expected real numbers, got an array of {a.dtype}")
    return a


def _f32_rows(x: Any, dim: int, what: str) -> np.ndarray:
    a = _real_array(x, what)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != dim:
        raise InvalidInputError(f"{what}: expected rows of {dim} values, got shape {a.shape}")
    with np.errstate(over="ignore"):  # said below, as an error
        out = np.ascontiguousarray(a, dtype=np.float32)
    if out is not a and not np.isfinite(out).all() and np.isfinite(a).all():
        # float64 past float32's range would become inf, and its scores NaN
        raise InvalidInputError(f"{what}: values past float32's range (largest magnitude "
                                f"{float(np.abs(a).max()):.3g}); scale the rows down (the scores do not "
                                f"depend on their norms)")
    return out


def _f64_vector(x: Any, what: str) -> np.ndarray:
    """One score per item: a 1-D array (or N x 1); a table of another shape
    is refused (flattened, its columns would be taken as more items)."""
    a = _real_array(x, what)
    if a.ndim > 1 and not (a.ndim == 2 and a.shape[1] == 1):
        raise InvalidInputError(f"{what}: expected one score per item (a 1-D array), got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


def _top_labels(top: Optional[np.ndarray], names: Sequence[str], idx: np.ndarray, n: int,
                scores: np.ndarray) -> List[Optional[str]]:
    """Each of n rows' top label, row idx[k] getting names[top[k]]; None for
    a row without a score (skipped, or NaN from an embedding holding NaN:
    its argmax would be label 0)."""
    out: List[Optional[str]] = [None] * n
    if top is not None:
        for k, i in enumerate(idx):
            if not np.isnan(scores[i]):
                out[i] = names[int(top[k])]
    return out
