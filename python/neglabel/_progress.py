"""The library's log messages and progress reports, routed into Python
(the package's module-level state: installed once, at import)."""
from __future__ import annotations

import logging
import sys
from typing import Any, Callable, Optional

from . import _neglabel as _C

ProgressFn = Callable[[str, int, int, float, bool], Any]

# ---------------------------------------------------------------- logging and progress

_logger = logging.getLogger("neglabel")
_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}


def _log(level: int, message: str) -> None:
    _logger.log(_LEVELS.get(level, logging.INFO), "%s", message)


_C.set_log_handler(_log)


def _hms(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _notebook(stream: Any) -> bool:
    """stderr is a Jupyter kernel's (ipykernel's OutStream: JupyterLab,
    Notebook, VS Code, Colab), whose output area redraws a line on a
    carriage return but is not a terminal."""
    return type(stream).__module__.startswith("ipykernel.")


def default_progress(label: str, done: int, total: int, elapsed: float, final: bool) -> None:
    """The default progress display: a tqdm-style line on stderr, redrawn in
    place, only when stderr is a terminal or a Jupyter notebook's output
    (nothing otherwise: a log file or a pipe gets no progress lines)."""
    stream = sys.stderr
    try:
        if stream is None:
            return
        notebook = _notebook(stream)
        if not notebook and not stream.isatty():
            return
    except (ValueError, OSError):  # closed or detached
        return
    frac = done / total if total else 1.0
    width = 24
    full = int(frac * width)
    bar = "\u2588" * full + (" " * (width - full))
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 and total > done else 0.0
    # a terminal erases the rest of the line (ESC [K); a notebook's output
    # area drops the line before a carriage return and shows ESC codes as text
    line = f"\r{'' if notebook else chr(27) + '[K'}{label}: {100 * frac:3.0f}%|{bar}| {done}/{total} " \
           f"[{_hms(elapsed)}<{_hms(eta)}, {rate:.1f}it/s]"
    try:
        stream.write(line + ("\n" if final else ""))
        stream.flush()
    except (ValueError, OSError):
        pass


def set_progress(fn: Optional[ProgressFn]) -> None:
    """Route the progress of long work (embedding prompts and images, mining)
    to ``fn(label, done, total, elapsed_seconds, final)``, or silence it with
    ``None``. ``label`` says the job: ``"embedding prompts"`` and
    ``"embedding images"`` (the cached work of the scorers and
    :func:`mine`), and for the plain calls ``"embedding texts"``,
    ``"embedding images"``, ``"embedding pixels"`` and ``"preprocessing
    images"`` (:meth:`Model.embed_texts`, ``embed_images``,
    ``embed_pixels``, ``preprocess``); jobs under 0.2 s report nothing. The library throttles calls (a few a second); ``final`` is True
    on a job's last call. ``fn`` may be called from any thread, with the GIL
    held; an Exception it raises is reported (sys.unraisablehook) and the work
    goes on. A KeyboardInterrupt (Ctrl-C during a long call, whatever
    ``fn`` is), any exception a signal handler of yours raises (a
    ``TimeoutError`` from a SIGALRM handler), or another BaseException that
    is not an Exception (SystemExit) raised by ``fn`` stops the call after
    the batch the model is running (every whole block of 512 embedded stays
    cached) and is raised to the caller; calls running on other threads go
    on. (If the call had ended first, it is raised in the main thread.) ``fn`` (like a ``logging`` handler of the "neglabel" logger) runs
    inside the call it reports on: a model that call is using raises
    RuntimeError there instead of waiting for it. The default is
    :func:`default_progress`."""
    if fn is not None and not callable(fn):
        raise TypeError("set_progress expects a callable or None")
    _C.set_progress_handler(fn)


set_progress(default_progress)
