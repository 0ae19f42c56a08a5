"""The CLIP model (:class:`Model`) and negative labels (:class:`Negatives`)."""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _neglabel as _C
from ._neglabel import Error, InvalidInputError
from ._progress import _logger
from ._util import _DEVICE_KIND, ImageLike, PathLike, _c_int, _image_list, _is_path, _resample, _rgb_array, _str_list


# ---------------------------------------------------------------- model


class Model:
    """A CLIP model loaded by the library (``nl_model_load``).

    Args:
        name_or_path: a Hugging Face CLIP folder (config.json,
            model.safetensors, vocab.json + merges.txt or transformers 5's
            tokenizer.json), an OpenCLIP folder (open_clip_config.json,
            open_clip_model.safetensors; tokenizer files optional: OpenAI's
            BPE is built in, as in open_clip; ViTs and CLIP ResNets,
            docs/openclip.md) or a Hub id
            ``org/name[@revision]`` (or open_clip's ``hf-hub:org/name``) taken from the Hugging Face cache
            (downloaded there when missing, unless HF_HUB_OFFLINE is set); or, as OpenAI's ``clip.load``
            takes them, one of ``clip.available_models()`` (``"ViT-B/16"``, ``"RN50"``, …: the file
            clip.load keeps in ~/.cache/clip; neglabel downloads nothing from OpenAI) or the path of a
            ``.pt`` checkpoint, converted once into neglabel's cache (docs/hub.md).
        device: ``"auto"`` (the first GPU of compute capability 8.0+, else
            the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``None`` (fp32 on the CPU, fp16 on a GPU), ``"fp32"``,
            ``"fp16"`` or ``"bf16"`` (the CPU runs fp32, or bf16 on AVX512-BF16 /
            AMX; without them bf16 falls back to fp32 with a warning, see
            docs/cpu-bf16.md; ``precision`` says what runs).
        threads: CPU threads (0: NEGLABEL_THREADS, OMP_NUM_THREADS or all cores).
        batch_size: images per forward pass (0: the library's default).

    One model serves one call at a time: calls on the same Model from
    several threads are serialised by a lock held by the object (load one
    Model per thread to run in parallel). Use ``close()`` or ``with`` to free
    it early. Pickling stores how the model was loaded, not its weights: a
    worker process that unpickles it loads it again (``__reduce__``).
    """

    def __init__(self, name_or_path: PathLike, device: str = "auto", precision: Optional[str] = None,
                 threads: int = 0, batch_size: int = 0) -> None:
        threads, batch_size = _c_int(threads, "threads"), _c_int(batch_size, "batch_size")
        self._m = _C.Model(name_or_path, device, precision, threads, batch_size)
        self.name_or_path: str = os.fsdecode(name_or_path)
        self._load = dict(device=device, precision=precision, threads=threads, batch_size=batch_size)
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

    def _check_open(self) -> None:
        if self._m.closed:
            raise ValueError("the model is closed")

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        """Pickling (multiprocessing, concurrent.futures, joblib, Ray, ``copy``)
        stores how the model was loaded, not its weights: unpickling loads it
        again, with the same device, precision, threads and batch size
        requests, from the same folder (made absolute) or Hub id, and checks
        that the weights' fingerprint is the pickled one."""
        self._check_open()
        path = self.name_or_path
        if os.path.exists(path):
            path = os.path.abspath(path)
        l = self._load
        return (_restore_model, (path, l["device"], l["precision"], l["threads"], l["batch_size"], self.fingerprint))

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
        for i, x in enumerate(t):
            if "\0" in x:  # the C API takes C strings; tokenize() takes the length
                raise InvalidInputError(f"texts: entry {i + 1} holds a NUL character (U+0000), which a text to "
                                        "embed cannot hold (tokenize() takes it: ftfy removes it)")
        self._check_open()
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
        exactly as files are. ``resample``: ``"model"`` (the model folder's
        own preprocessing: its preprocessor_config.json's filter and, for a
        Hugging Face folder, CLIPImageProcessor's centre crop),
        ``"bicubic"`` or ``"bilinear"`` (torchvision's Resize + CenterCrop
        with that filter, as clip.load and the NegLabel reference). An image
        that cannot be read raises an exception naming it.

        The rows equal ``neglabel embed``'s for the same list of images.
        (The library's last bits may depend on how images are batched and
        on the thread count; a list mixing files with decoded images is
        embedded as two calls, the files and then the decoded images.)
        """
        return self._images_call(images, resample, self.dim, "embed")

    def preprocess(self, images: Union[ImageLike, Sequence[ImageLike]], resample: str = "model") -> np.ndarray:
        """The pixels :meth:`embed_images` gives the model for ``images`` (the
        same inputs and ``resample``): decoded, resized and cropped as
        Pillow and torchvision (or transformers' CLIPImageProcessor, for a
        Hugging Face folder's own preprocessing) do, scaled to [0, 1] and
        normalised with the model's mean and std. An (n, 3, S, S) float32
        array (S is :attr:`image_size`): what a PyTorch model takes, and
        :meth:`embed_pixels` of it equals :meth:`embed_images`' rows."""
        S = self.image_size
        return self._images_call(images, resample, 3 * S * S, "pixels").reshape(-1, 3, S, S)

    def _images_call(self, images: Any, resample: str, width: int, kind: str) -> np.ndarray:
        """Rows of ``width`` floats for each image: files through
        ``{kind}_paths``, decoded images through ``{kind}_arrays``, back in
        the order given."""
        r = _resample(resample)
        items = _image_list(images)
        self._check_open()
        by_paths, by_arrays = getattr(self._m, kind + "_paths"), getattr(self._m, kind + "_arrays")
        out = np.empty((len(items), width), dtype=np.float32)
        paths = [(i, x) for i, x in enumerate(items) if _is_path(x)]
        arrays = [(i, _rgb_array(x, i)) for i, x in enumerate(items) if not _is_path(x)]
        if not arrays:
            if paths:
                _each(by_paths, paths, r, out)
            return out
        if not paths:
            _each(by_arrays, arrays, r, out)
            return out
        for group, fn in ((paths, by_paths), (arrays, by_arrays)):
            part = np.empty((len(group), width), dtype=np.float32)
            _each(fn, group, r, part)
            out[[i for i, _ in group]] = part
        return out

    def embed_pixels(self, pixels: Any) -> np.ndarray:
        """Image embeddings from pixels you preprocessed yourself: an (n, dim)
        float32 array of CLIP's projections, **not normalised**, as
        ``CLIPModel.get_image_features(pixel_values)`` or open_clip's
        ``model.encode_image(x)`` give for the same tensor.

        ``pixels`` is an N x 3 x S x S array (one image: 3 x S x S; S is
        :attr:`image_size`) of floats already resized, cropped, scaled to
        [0, 1] and normalised with the model's mean and std: a batch of a
        PyTorch DataLoader with ``clip.load``'s or open_clip's ``preprocess``,
        or transformers' ``pixel_values``. numpy arrays and anything
        ``numpy.asarray`` takes are accepted, and PyTorch tensors on any
        device, with gradients or in bfloat16 (copied to the CPU as float32).
        float16 and float64 are converted to float32. A NaN or inf raises
        InvalidInputError naming the image; values far outside what [0, 1]
        pixels normalise to (0..255 values, or no normalisation) log a
        warning. To let neglabel decode and preprocess exactly as the
        reference does, give the images to :meth:`embed_images` instead.
        """
        a = _pixel_array(pixels, self.image_size)
        self._check_open()
        n = a.shape[0]
        out = np.empty((n, self.dim), dtype=np.float32)
        if n:
            self._m.embed_pixels(a, n, out)
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
            if skip_unreadable:
                # per-image status: nl_embed_image_files_readable (below)
                # fails when none of them is readable; here that is NaNs
                errs = _each(self._m.embed_files_each, paths, r, cache_dir, part, False)
                good = [g for g, e in enumerate(errs) if e is None]
                for e in errs:
                    if e is not None:
                        _logger.warning("skipping unreadable image: %s", e)
                part = part[good]
            else:
                try:
                    good = _each(self._m.embed_image_files, paths, r, cache_dir, True, part)
                except Error as e:  # the library's hint names the CLI's option
                    e.args = (str(e).replace(_STRICT_HINT, " (skip_unreadable=True leaves unreadable images out)"),)
                    raise
            rows = [paths[g][0] for g in good]
            out[rows] = part[: len(good)]
            ok[rows] = True
        if arrays:
            part = np.empty((len(arrays), self.dim), dtype=np.float32)
            _each(self._m.embed_arrays, arrays, r, part)
            _C.normalize_rows(part, self.dim)
            rows = [i for i, _ in arrays]
            out[rows] = part
            ok[rows] = True
        idx = np.flatnonzero(ok)
        return np.ascontiguousarray(out[idx]), idx

    def _score_device(self) -> Tuple[int, int]:
        return _DEVICE_KIND["cuda" if self.device.startswith("cuda") else "cpu"], self._desc["device_index"]


_STRICT_HINT = " (--strict: unreadable images are fatal)"


def _each(fn: Any, group: List[Tuple[int, Any]], *args: Any) -> Any:
    """fn over the items of group, pairs (index given by the caller, item):
    a library error about "image k" of the group names the caller's
    index (paths and arrays go to the library as two lists)."""
    try:
        return fn([x for _, x in group], *args)
    except Error as e:
        msg = str(e)
        m = re.match(r"image (\d+)\b", msg)
        if m and int(m.group(1)) < len(group):
            e.args = (f"image {group[int(m.group(1))][0]}{msg[m.end():]}",)
        raise


def _pixel_array(pixels: Any, size: int) -> np.ndarray:
    """An N x 3 x S x S C-contiguous float32 array of ``pixels`` (numpy,
    array-like, or a PyTorch tensor, duck-typed: torch is not imported)."""
    if hasattr(pixels, "detach") and hasattr(pixels, "cpu") and hasattr(pixels, "is_floating_point"):
        t = pixels.detach()
        if not t.is_floating_point():
            raise InvalidInputError(f"pixels: expected a float tensor of normalised pixels, got {t.dtype} "
                            "(for uint8 images use embed_images)")
        pixels = t.cpu().float().numpy()
    a = np.asarray(pixels)
    if a.dtype.kind != "f":
        raise InvalidInputError(f"pixels: expected floats (normalised pixels), got {a.dtype}"
                        + (" (for uint8 images use embed_images)" if a.dtype.kind in "ui" else ""))
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[1:] != (3, size, size):
        hint = ""
        if a.ndim == 4 and a.shape[1:] == (size, size, 3):
            hint = " (channels last: use pixels.transpose(0, 3, 1, 2))"
        elif a.ndim == 4 and a.shape[1] == 3:
            hint = f" (this model takes {size} x {size} images: resize and crop them to {size} as its preprocessing does)"
        raise InvalidInputError(f"pixels: expected an N x 3 x {size} x {size} array (or 3 x {size} x {size}), "
                         f"got shape {a.shape}{hint}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _restore_model(path: str, device: str, precision: Optional[str], threads: int, batch_size: int,
                   fingerprint: str) -> Model:
    """Unpickles a :class:`Model` (``Model.__reduce__``): loads it again and
    refuses weights other than the pickled ones."""
    m = Model(path, device=device, precision=precision, threads=threads, batch_size=batch_size)
    if m.fingerprint != fingerprint:
        got = m.fingerprint
        m.close()
        raise InvalidInputError(f"{path}: not the model that was pickled (fingerprint {got}, pickled {fingerprint}): "
                                "the folder or the Hub cache changed since")
    return m


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
    the rest), or None when the file has none. A UTF-8 byte order mark at
    the start is skipped, as the library does."""
    vals = []
    with open(path, "rb") as f:
        for k, raw in enumerate(f):
            if k == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
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
