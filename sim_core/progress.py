"""A progress bar for long headless runs: simulated time, speed and time left, on a terminal only.

``tqdm`` draws it (a well-kept, dependency-free library that handles terminal width, rate
smoothing and time-left estimates, which a hand-written bar would have to redo). It goes to
stderr and only when stderr is a terminal, so piped or redirected output stays clean, and
only for runs expected to be long (the bar appears after ``delay_s`` of wall time).
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


class _Plain:
    """The stream as tqdm sees it: write and flush only, so it draws a plain ASCII bar. (Given
    ``sys.stderr`` itself, tqdm drew nothing on a pseudo-terminal here; through this it does.)"""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


class RunProgress:
    """Context manager: ``update(t)`` with the simulated time reached (s), out of ``total_s``."""

    def __init__(self, total_s: float, stream: TextIO | None = None, delay_s: float = 1.0,
                 enabled: bool | None = None):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.total_s = float(total_s)
        self.delay_s = delay_s
        self._bar = None
        self._shown = 0.0

    def __enter__(self) -> RunProgress:
        if self.enabled:
            from tqdm import tqdm

            width = _columns(self.stream)  # a terminal that reports no size (0) gets 80 columns
            self._bar = tqdm(total=self.total_s, file=_Plain(self.stream), delay=self.delay_s, unit="sim s",
                             unit_scale=False, ncols=width or 80, dynamic_ncols=bool(width), leave=False,
                             mininterval=0.5,
                             bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} sim s "
                                        "[{elapsed}<{remaining}, {rate_fmt}]")
        return self

    def update(self, t: float) -> None:
        """The run has reached ``t`` simulated seconds."""
        if self._bar is not None and t > self._shown:
            self._bar.update(t - self._shown)
            self._shown = t

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
