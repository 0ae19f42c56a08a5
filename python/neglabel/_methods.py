"""NegMining (:func:`mine`) and the scoring methods: NegLabel, MCM, CSP
and the stream methods AdaNeg and OODD."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _neglabel as _C
from ._model import Model, Negatives
from ._neglabel import InvalidInputError
from ._util import (CSP_NOUN_TEMPLATES, TEMPLATE_ADJ, TEMPLATE_MCM, TEMPLATE_NOUN, ImageLike, Labels, PathLike,
                    _DEVICE_KIND, _c_int, _corpus, _f32_rows, _image_list, _labels, _templates, _top_labels)


# ---------------------------------------------------------------- mining


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
        include, exclude: categories (``"noun.plant"``) or ``"noun"``/``"adj"``;
            a name the corpus lacks is an error. WordNet's noun.animal and
            noun.food stay out unless ``include`` names them.
        templates, adj_templates: prompt templates (``--template``,
            ``--adj-template``); ID labels and nouns share ``templates``.
        remove_id_labels: drop candidates equal to an ID label (ignoring case, with _ as a space).
        strict: duplicate ID labels are an error.
    """
    labels = _labels(id_labels, strict)
    nt = _templates(templates, TEMPLATE_NOUN)
    args = (corpus, fraction, quantile, total, cache_dir, include, exclude, None if templates is None else nt,
            adj_templates, remove_id_labels)
    return _embed_then_mine(model, labels, nt, False, None, args)[1]


def _embed_then_mine(model: Model, labels: List[str], nt: List[str], raw: bool,
                     negatives: Union[None, Negatives, PathLike], args: Tuple[Any, ...],
                     csp: bool = False) -> Tuple[np.ndarray, Union[Negatives, PathLike]]:
    """The ID labels' embeddings, and ``negatives``, or when None the
    negatives mined now with ``args`` (``_mine``'s): the corpus and the
    parameters are checked first, so that a misspelt category or a missing
    folder fails before anything is embedded."""
    if negatives is None:
        _mine(model, labels, None, *args, csp=csp)
    emb = model._embed_words(labels, nt, args[4], raw=raw)
    if negatives is None:
        negatives = _mine(model, labels, emb, *args, csp=csp)
    return emb, negatives


def _mine(model: Model, labels: List[str], id_emb: Optional[np.ndarray], corpus: Optional[PathLike], fraction: float,
          quantile: float, total: int, cache_dir: Optional[PathLike], include: Optional[Sequence[str]],
          exclude: Optional[Sequence[str]], templates: Optional[List[str]],
          adj_templates: Union[None, str, Sequence[str]], remove_id_labels: bool, csp: bool = False) -> Any:
    """nl_mine_model; id_emb None: only its checks of the corpus and the
    parameters (nl_mine_check, nl_corpus_check), returning None."""
    if _c_int(total, "total", 64) < 0:
        raise InvalidInputError("total must be >= 0")
    at = [] if adj_templates is None else _templates(adj_templates, TEMPLATE_ADJ)
    r = model._m.mine(labels, id_emb, _corpus(corpus, include, exclude), float(fraction), float(quantile),
                      int(total), model._load["threads"], templates or [], at, cache_dir, bool(remove_id_labels),
                      bool(csp))
    if r is None:
        return None
    t, q = r
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

    def _check(self) -> None:
        """nl_score's checks (ngroup against the negatives, a stream's
        parameters) now, at construction, not after images are embedded."""
        self._run(np.empty((0, self.model.dim), dtype=np.float32), check=True)

    def _run(self, emb: np.ndarray, check: bool = False) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        n = emb.shape[0]
        neg = self._neg()
        scores = np.empty(n, dtype=np.float64)
        top_id = np.zeros(n, dtype=np.uintp)
        top_neg = np.zeros(n, dtype=np.uintp) if neg is not None and len(neg) else None
        if n or check:
            kind, index = self.model._score_device()
            ngroup, seed, shuffle, tau = self._params()
            _C.score(emb, self.id_embeddings, neg, self.model.dim, self._method, ngroup, seed, shuffle, tau, kind,
                     index, self.model._load["threads"], scores, top_id, top_neg,
                     getattr(self, "permutation", "splitmix"), getattr(self, "_stream", None))
        return scores, top_id, top_neg

    def _score_images(self, images: Any, resample: str, return_labels: bool, skip_unreadable: bool) -> Any:
        items = _image_list(images)  # once: a generator gives its images only once
        n = len(items)
        emb, idx = self.model._embed_normalized(items, resample, self.cache_dir, skip_unreadable)
        s, ti, tn = self._run(emb)
        scores = np.full(n, np.nan, dtype=np.float64)
        scores[idx] = s
        if not return_labels:
            return scores
        return self._with_labels(scores, ti, tn, idx, n)

    def score_pixels(self, pixels: Any, *, return_labels: bool = False) -> Any:
        """Scores of images given as preprocessed pixels (an N x 3 x S x S
        array or PyTorch tensor, as :meth:`Model.embed_pixels` takes them:
        a DataLoader's batch). The embeddings are normalised in float32 as
        :meth:`score` normalises them, so the pixels of
        :meth:`Model.preprocess` score as :meth:`score` scores the same
        images. ``return_labels`` as in :meth:`score`; a stream method takes
        the rows as one stream in order."""
        emb = self.model.embed_pixels(pixels)
        _C.normalize_rows(emb, self.model.dim)
        s, ti, tn = self._run(emb)
        if not return_labels:
            return s
        return self._with_labels(s, ti, tn, np.arange(len(s)), len(s))

    def _score_embeddings(self, img_emb: Any, return_labels: bool) -> Any:
        emb = _f32_rows(img_emb, self.model.dim, "img_emb")
        s, ti, tn = self._run(emb)
        if not return_labels:
            return s
        return self._with_labels(s, ti, tn, np.arange(len(s)), len(s))

    def _with_labels(self, scores: np.ndarray, ti: np.ndarray, tn: Optional[np.ndarray], idx: np.ndarray,
                     n: int) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        parts = [repr(self.model), f"id_labels={len(self.labels)}"]
        negatives = getattr(self, "negatives", None)
        if negatives is not None:
            parts.append(f"negatives={len(negatives)}")
        for k in ("ngroup", "tau", "seed", "shuffle", "permutation"):
            if hasattr(self, k):
                parts.append(f"{k}={getattr(self, k)!r}")
        for k, v in getattr(self, "params", {}).items():
            parts.append(f"{k}={v!r}")
        return f"neglabel.{type(self).__name__}({', '.join(parts)})"


def _mining_only(negatives: Any, **given: Any) -> None:
    """The corpus and its categories choose what is mined: with negatives
    given nothing is, and they would be ignored without a word."""
    named = [k for k, v in given.items() if v is not None]
    if negatives is not None and named:
        raise InvalidInputError(f"{', '.join(named)}: used only to mine negatives, and negatives were given "
                                "(pass negatives=None to mine them here, or mine() them first)")


def _id_templates(negatives: Union[None, Negatives, PathLike], templates: Sequence[str], given: bool,
                  raw: bool) -> Tuple[List[str], bool, Optional[Negatives]]:
    """The ID labels' templates and ensemble for these negatives (loaded
    when a path): a file's own when it records them (``given``: the
    caller's must equal them; nl_templates_for_negatives)."""
    if negatives is None:
        return list(templates), raw, None
    if not isinstance(negatives, Negatives):
        negatives = Negatives.load(negatives)
    t, r = _C.templates_for_negatives(negatives._tuple(), list(templates), given, raw, negatives.path or "negatives")
    return t, bool(r), negatives


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
        templates: prompt templates for the ID labels (``--template``); with
            negatives that record the templates they were mined with (every
            file ``mine`` writes), those are used, and given ones must equal
            them, as ID labels and negatives share one prompt.
        corpus, include, exclude: the candidate corpus and its categories
            when mining (see :func:`mine`); with ``negatives`` given, an
            error (they would be ignored).
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
                 include: Optional[Sequence[str]] = None, exclude: Optional[Sequence[str]] = None,
                 cache_dir: Optional[PathLike] = None, strict: bool = False) -> None:
        _mining_only(negatives, corpus=corpus, include=include, exclude=exclude)
        self._setup(model, id_labels, ngroup, tau, seed, shuffle, permutation, cache_dir, strict)
        nt = _templates(templates, TEMPLATE_NOUN)
        nt, raw, negatives = _id_templates(negatives, nt, templates is not None, False)
        args = (corpus, 0.15, 0.95, 0, cache_dir, include, exclude, None if templates is None else nt, None, False)
        self.id_embeddings, negatives = _embed_then_mine(model, self.labels, nt, raw, negatives, args)
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
        self._check()

    def _neg(self) -> Optional[np.ndarray]:
        return self.neg_embeddings

    def _params(self) -> Tuple[int, int, bool, float]:
        return self.ngroup, self.seed, self.shuffle, self.tau

    def _with_labels(self, scores, ti, tn, idx, n):
        return (scores, _top_labels(ti, self.labels, idx, n, scores),
                _top_labels(tn, self.negatives.words, idx, n, scores))

    def score(self, images: Union[ImageLike, Sequence[ImageLike]], resample: str = "model", *,
              return_labels: bool = False, skip_unreadable: bool = False) -> Any:
        """NegLabel scores of images (paths, uint8 RGB arrays, PIL images; see
        :meth:`Model.embed_images`): a float64 array, equal to ``neglabel
        score``'s. With ``return_labels``, ``(scores, top_id_labels,
        top_negative_labels)``: each image's most similar ID and negative
        label. An unreadable image raises, or with ``skip_unreadable`` gets
        a NaN score (and None labels) and a logged warning, even when no
        image of the batch is readable."""
        return self._score_images(images, resample, return_labels, skip_unreadable)

    def score_embeddings(self, img_emb: Any, *, return_labels: bool = False) -> Any:
        """Scores of image embeddings (rows of ``dim``, taken as float32; any
        scale float32 holds: cosines are computed in double), as ``neglabel score-embeddings`` with this
        object's label embeddings. Note :meth:`score` normalises the image
        embeddings in float32 first, as the CLI's ``score`` does."""
        return self._score_embeddings(img_emb, return_labels)


class MCM(_Scorer):
    """The MCM baseline (``neglabel score --method mcm``): the maximum softmax
    probability over the ID labels' cosines / tau, with prompts
    ``"a photo of a {}"``. Higher scores are more in-distribution.

    ``templates``: the prompt (``--mcm-template``), or several for an
    ensemble (the mean of their normalised embeddings, as NegLabel's
    ``templates``). ``template`` is its older name, still taken."""

    _method = 1

    def __init__(self, model: Model, id_labels: Labels, tau: float = 1.0, *,
                 templates: Union[None, str, Sequence[str]] = None, template: Optional[str] = None,
                 cache_dir: Optional[PathLike] = None, strict: bool = False) -> None:
        if template is not None and templates is not None:
            raise InvalidInputError("MCM: give templates= or its older name template=, not both")
        nt = _templates(templates if templates is not None else template, TEMPLATE_MCM)
        _check_score_params(1, tau, 0)
        self.model = model
        self.labels = _labels(id_labels, strict)
        self.cache_dir = cache_dir
        self.tau = float(tau)
        self.id_embeddings = model._embed_words(self.labels, nt, cache_dir)

    def _params(self) -> Tuple[int, int, bool, float]:
        return 100, 0, True, self.tau

    def _with_labels(self, scores, ti, tn, idx, n):
        return (scores, _top_labels(ti, self.labels, idx, n, scores))

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
        _mining_only(negatives, corpus=corpus, include=include, exclude=exclude)
        self._setup(model, id_labels, ngroup, tau, seed, shuffle, permutation, cache_dir, strict)
        nt, raw, negatives = _id_templates(negatives, CSP_NOUN_TEMPLATES, False, True)
        args = (corpus, 0.15, 0.95, 0, cache_dir, include, exclude, None, None, False)
        self.id_embeddings, negatives = _embed_then_mine(model, self.labels, nt, raw, negatives, args, csp=True)
        self._set_negatives(negatives)


class _Stream(NegLabel):
    """Common to the stream methods: NegLabel's labels and negatives, scored
    as one stream in the order given (see docs/methods.md)."""

    _defaults: Dict[str, Any] = {}

    def __init__(self, model: Model, id_labels: Labels, negatives: Union[None, Negatives, PathLike] = None, *,
                 ngroup: Optional[int] = None, tau: float = 0.01, seed: int = 0, shuffle: bool = True,
                 permutation: str = "torch", templates: Union[None, str, Sequence[str]] = None,
                 corpus: Optional[PathLike] = None, include: Optional[Sequence[str]] = None,
                 exclude: Optional[Sequence[str]] = None, cache_dir: Optional[PathLike] = None, strict: bool = False,
                 **params: Any) -> None:
        _mining_only(negatives, corpus=corpus, include=include, exclude=exclude)
        d = _C.score_defaults(self._method)
        # the stream's parameters checked first: a misspelt or bad one is
        # said before the labels are embedded and the negatives mined
        unknown = set(params) - set(self._defaults)
        if unknown:
            raise InvalidInputError(f"unknown parameter(s) {sorted(unknown)}; {type(self).__name__} takes "
                                    f"{sorted(self._defaults)}")
        self.params: Dict[str, Any] = {k: params.get(k, v) for k, v in self._defaults.items()}
        self._stream = {f"{self._prefix}_{k}": v for k, v in self.params.items()}
        one = np.zeros((1, model.dim), dtype=np.float32)
        _C.score(one[:0], one, one, model.dim, self._method, 1, 0, False, 0.01, _DEVICE_KIND["cpu"], 0,
                 model._load["threads"],
                 np.empty(0), np.zeros(0, dtype=np.uintp), np.zeros(0, dtype=np.uintp), "splitmix", self._stream)
        super().__init__(model, id_labels, negatives, ngroup=d["ngroup"] if ngroup is None else ngroup, tau=tau,
                         seed=seed, shuffle=shuffle, permutation=permutation, templates=templates, corpus=corpus,
                         include=include, exclude=exclude, cache_dir=cache_dir, strict=strict)
        self._check()

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
    if _c_int(ngroup, "ngroup") < 1:
        raise InvalidInputError("ngroup must be >= 1")
    if not (float(tau) > 0 and math.isfinite(float(tau))):
        raise InvalidInputError("tau must be a positive number")
    if int(seed) < 0 or int(seed) >= 2 ** 64:
        raise InvalidInputError("seed must be a non-negative 64-bit integer")
