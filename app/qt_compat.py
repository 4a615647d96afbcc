"""A guard against a reference-counting bug of PySide6 6.12.0 on Python 3.11.

With that pair, every signal delivered to a Python slot drops one reference to ``True``
(and ``QObject.property`` of an unset name drops one to ``None``) without having taken it,
so after a few thousand signals the interpreter aborts ("deallocating True or False").
Python 3.12+ makes these objects immortal, and PySide6 6.11 does not have the bug. Here, on
the affected pair only, their counts are raised far out of reach (2**40 signals).
"""

from __future__ import annotations

import ctypes
import sys
from importlib import metadata

AFFECTED = ("6.12.0",)


def shiboken_version() -> str | None:
    try:
        return metadata.version("shiboken6")
    except metadata.PackageNotFoundError:
        return None


def apply() -> bool:
    """Protect True, False and None when running the affected PySide6 on Python < 3.12; True if applied."""
    if sys.version_info >= (3, 12) or shiboken_version() not in AFFECTED:
        return False
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40  # ob_refcnt is a PyObject's first field
    return True
