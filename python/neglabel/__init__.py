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

# The package is split by concern into private modules; every name it had
# before, public or private, is still here. The imports above stay too:
# dir(neglabel) has always listed them.
from ._progress import _LEVELS, ProgressFn, _hms, _log, _logger, default_progress, set_progress
from ._util import (
    _CONVENTION,
    _CONVENTION_NAME,
    _DEFAULT_WORDNET,
    _DEVICE_KIND,
    _RESAMPLE,
    CSP_NOUN_TEMPLATES,
    DEFAULT_MODEL,
    TEMPLATE_ADJ,
    TEMPLATE_MCM,
    TEMPLATE_NOUN,
    ImageLike,
    Labels,
    PathLike,
    _corpus,
    _f32_rows,
    _f64_vector,
    _image_list,
    _is_path,
    _is_pil,
    _labels,
    _resample,
    _rgb_array,
    _str_list,
    _templates,
)
from ._model import Model, Negatives, _read_similarities
from ._methods import (
    CSP,
    MCM,
    METHODS,
    OODD,
    AdaNeg,
    NegLabel,
    _check_score_params,
    _mine,
    _Scorer,
    _Stream,
    mine,
)
from ._eval import (
    _image_spec,
    _write_lines,
    convert_checkpoint,
    cuda_built,
    cuda_device_count,
    devices_info,
    evaluate,
    metrics,
    read_scores,
)

__version__: str = _C.version

__all__ = [
    "Model", "Negatives", "NegLabel", "MCM", "CSP", "AdaNeg", "OODD", "METHODS", "mine", "metrics", "read_scores", "evaluate", "set_progress", "default_progress",
    "cuda_device_count", "cuda_built", "devices_info", "convert_checkpoint",
    "Error", "InvalidInputError", "FileError", "OutOfMemoryError", "UnsupportedError", "DeviceError",
    "DEFAULT_MODEL", "TEMPLATE_NOUN", "TEMPLATE_ADJ", "TEMPLATE_MCM", "__version__",
]
