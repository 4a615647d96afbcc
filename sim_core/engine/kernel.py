"""The per-request kernel (``serve``, ``settle``), loaded on first use from the fastest working form.

The loops themselves are in ``sim_core.engine.kernel_loops`` (read its docstring for the model). This
module picks how they run, the first time ``warm_up()``, ``kernel.serve`` or ``kernel.settle`` is
used (so importing the engine costs no compiler, and the window can paint before any of it loads):

1. ``aot``: the library compiled ahead of time by ``python -m sim_core.engine.kernel_build`` (numba's
   ``pycc``), ``sim_core/engine/_kernel_aot*.so``/``.pyd``. Needs neither numba nor a cache at run time,
   loads in milliseconds, and gives bit-identical results at the same speed. Skipped when it was
   built from another version of ``kernel_loops.py`` (checked by a digest of that file, when the
   file exists: a frozen app carries only the library it was built with).
2. ``jit``: numba compiles the loops at first use and caches them. When numba finds no writable
   cache location (read-only install, unwritable home), the cache goes to a private folder in the
   temporary directory, and when that is not writable either, the loops compile without a cache
   (3-4 s each launch) instead of failing as ``cache=True`` alone does.
3. ``python``: the same functions as plain Python (about 30x slower), when numba is missing.

``SCALELAB_KERNEL=aot|jit|python`` forces one form (an error if it is not available); ``use()``
switches in-process (tests and benchmarks compare the forms on the same input).
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sim_core.engine.kernel_loops import (  # noqa: F401 - re-exported: the engine reads the codes from here
    ACCEPTED,
    LEAST_CONNECTIONS,
    LOST_DOWN,
    POWER_OF_TWO,
    PRE_ROUTED,
    REJECTED_FULL,
    REJECTED_STORAGE,
    SHED,
)

KINDS = ("aot", "jit", "python")
DESCRIPTIONS = {"aot": "compiled ahead of time", "jit": "numba JIT", "python": "pure Python"}
AOT_MODULE = "_kernel_aot"  # sim_core.engine._kernel_aot, written by sim_core.engine.kernel_build
SOURCE = Path(__file__).with_name("kernel_loops.py")

kind: str | None = None  # the form in use, once loaded
detail: str = ""  # how it was loaded (cache location, why a faster form was skipped)
_skipped: list[str] = []
_deferred = False  # see defer_warm_up


def source_digest(text: bytes) -> int:
    """A signed 63-bit digest of the kernel's source, baked into the compiled library."""
    import hashlib  # here, like tempfile below: loaded after the first frame, not when the engine is imported

    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def _load_aot() -> dict[str, Callable]:
    """The ahead-of-time library's entry points; ImportError if missing or built from other source."""
    import importlib

    module = importlib.import_module(f"sim_core.engine.{AOT_MODULE}")
    if SOURCE.exists() and module.source_digest() != source_digest(SOURCE.read_bytes()):
        raise ImportError(f"{Path(module.__file__).name} was built from an older kernel_loops.py "
                          "(rebuild: python -m sim_core.engine.kernel_build)")
    return {"serve": module.serve, "settle": module.settle}


def _private_cache_dir() -> Path | None:
    """A cache folder only this user can write, in the temporary directory; None if there is none."""
    import tempfile

    try:
        uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
        folder = Path(tempfile.gettempdir()) / f"scalelab-numba-{uid}"
        folder.mkdir(mode=0o700, exist_ok=True)
        if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
            return None  # someone else's folder: do not load code from it
        with tempfile.TemporaryFile(dir=folder):
            pass
        return folder
    except OSError:
        return None


def _njit(fn: Callable) -> tuple[Callable, str]:
    """``fn`` under numba's njit with a cache if any location is writable: (dispatcher, where it caches)."""
    import numba
    from numba.core import config

    try:
        return numba.njit(cache=True, nogil=True)(fn), "numba's default cache location"
    except RuntimeError:  # "cannot cache function ...: no locator available"
        pass
    folder = _private_cache_dir()
    if folder is not None:
        before = config.CACHE_DIR
        config.CACHE_DIR = str(folder)  # read when a cached function is created
        try:
            return numba.njit(cache=True, nogil=True)(fn), f"cache in {folder}"
        except RuntimeError:
            pass
        finally:
            config.CACHE_DIR = before
    return numba.njit(nogil=True)(fn), "no writable cache location: compiled at each launch"


def jit_namespace(cache: bool = True) -> tuple[dict[str, object], str]:
    """The kernel's functions under numba's JIT, in a namespace of their own (the plain ones stay plain).

    Returns (namespace, where the cache is). Each function is a copy of the one in ``kernel_loops``
    whose globals are this namespace, so callees resolve to their compiled versions.
    """
    import numba

    from sim_core.engine import kernel_loops

    namespace = dict(vars(kernel_loops))
    where = "no cache"
    for name in kernel_loops.COMPILE_ORDER:
        fn = getattr(kernel_loops, name)
        copy = types.FunctionType(fn.__code__, namespace, name, fn.__defaults__, fn.__closure__)
        copy.__qualname__, copy.__doc__ = fn.__qualname__, fn.__doc__
        if cache:
            namespace[name], where = _njit(copy)
        else:
            namespace[name] = numba.njit(nogil=True)(copy)
    return namespace, where


def _load_jit() -> dict[str, Callable]:
    global detail
    namespace, detail = jit_namespace()
    return {name: namespace[name] for name in ("serve", "settle")}


def _load_python() -> dict[str, Callable]:
    from sim_core.engine import kernel_loops

    return {"serve": kernel_loops.serve, "settle": kernel_loops.settle}


_LOADERS = {"aot": _load_aot, "jit": _load_jit, "python": _load_python}


def use(wanted: str | None = None) -> str:
    """Load the kernel as ``wanted`` (one of KINDS), or the first form that works; returns the form.

    ``wanted`` None reads ``SCALELAB_KERNEL``. Raises ImportError when the wanted form cannot load.
    """
    global kind, detail
    wanted = wanted or os.environ.get("SCALELAB_KERNEL") or None
    if wanted is not None and wanted not in KINDS:
        raise ImportError(f"SCALELAB_KERNEL: {wanted!r} is not one of {', '.join(KINDS)}")
    _skipped.clear()
    for candidate in (wanted,) if wanted else KINDS:
        detail = ""
        try:
            functions = _LOADERS[candidate]()
        except ImportError as exc:
            if wanted:
                raise ImportError(f"kernel {wanted!r} is not available: {exc}") from exc
            _skipped.append(f"{candidate}: {exc}")
            continue
        globals().update(functions)
        kind = candidate
        return kind
    raise ImportError("no kernel could be loaded")  # unreachable: the plain Python form always loads


def describe() -> str:
    """One line naming the kernel in use (loading it if needed), e.g. ``compiled ahead of time (...)``."""
    if kind is None:
        use()
    notes = [detail] if detail else []
    notes += [f"skipped {s}" for s in _skipped if not s.startswith("aot: No module named")]
    return DESCRIPTIONS[kind] + (f" ({'; '.join(notes)})" if notes else "")


def __getattr__(name: str) -> object:
    """``serve`` and ``settle`` are loaded on first access (PEP 562); afterwards they are plain globals."""
    if name in ("serve", "settle"):
        use()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def defer_warm_up() -> None:
    """Make ``warm_up()`` return at once until ``warm_up(now=True)``: the app paints its window first.

    Simulation() warms the kernel up so that no step pays for loading it; the window calls this
    first and warms up after its first frame is painted (``app.main``). A step before that loads
    the kernel itself (``__getattr__``).
    """
    global _deferred
    _deferred = True


def warm_up(now: bool = False) -> None:
    """Load the kernel and run it once on a tiny input, so the JIT's compile (or cache load) is done.

    Does nothing after ``defer_warm_up()`` unless ``now``.
    """
    if _deferred and not now:
        return
    one = np.zeros(1)
    idx = np.zeros(1, dtype=np.int64)
    module = sys.modules[__name__]
    module.serve(
        one, one + 0.1, idx, idx, PRE_ROUTED, idx,
        np.ones(1, dtype=np.bool_), np.ones(1), np.ones(1, dtype=np.int64), np.ones(1, dtype=np.int64),
        np.ones(1) * 10.0, np.zeros(1), 1.0,
        np.zeros((1, 1)), np.zeros(2), np.zeros(2, dtype=np.int64), 0,
        np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), True, np.zeros(1, dtype=np.int64),
        np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int8),
        0, np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int64), 0, 1, 0,
    )
    i1 = np.zeros(1, dtype=np.int64)
    module.settle(np.zeros(1), np.zeros(1), np.ones(1), i1.copy(), i1.copy(), 0.0, 0.5, np.zeros(1), i1.copy(),
                  i1.copy(), i1.copy(), np.zeros(1))
