"""A progress bar for long headless runs: simulated time, speed and time left, on a terminal only.

``tqdm`` draws it (a well-kept, dependency-free library that handles terminal width, rate
smoothing and time-left estimates, which a hand-written bar would have to redo). It goes to
stderr and only when stderr is a terminal, so piped or redirected output stays clean, and
only for runs expected to be long (the bar appears after ``delay_s`` of wall time).
"""

from __future__ import annotations

import sys
from typing import TextIO


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

            self._bar = tqdm(total=self.total_s, file=self.stream, delay=self.delay_s, unit="sim s",
                             unit_scale=False, dynamic_ncols=True, leave=False, mininterval=0.5,
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
