"""A progress bar on a terminal for long headless work: a run's simulated time, a sweep's runs.

``rich`` draws it (the same library prints the sweep's summary table): it handles terminal
width, speed smoothing and time left. It goes to stderr and only when stderr is a terminal (or
``TTY_COMPATIBLE=1`` says to treat it as one), so piped or redirected output stays clean, and
it can wait ``delay_s`` of wall time before it appears, so short runs show no bar at all.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Context manager: ``update(done, total)`` with the work done so far, in ``unit``.

    ``total`` may be unknown (None) at first, and change later (a sweep learns its size as it
    goes). The bar reads: label, bar, ``done/total unit``, speed in ``unit``/s, time left.
    ``enabled`` None: only on a terminal.
    """

    def __init__(self, label: str, unit: str, total: float | None = None, stream: TextIO | None = None,
                 delay_s: float = 0.0, transient: bool = True, enabled: bool | None = None):
        from rich.console import Console

        self.console = Console(file=sys.stderr if stream is None else stream)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.label, self.unit, self.total = label, unit, total
        self.delay_s, self.transient = delay_s, transient
        self._progress = None
        self._task = None
        self._start = time.perf_counter()

    def __enter__(self) -> ProgressBar:
        self._start = time.perf_counter()
        return self

    def update(self, done: float, total: float | None = None) -> None:
        """``done`` units finished (of ``total``, when given)."""
        if total is not None:
            self.total = total
        if not self.enabled:
            return
        if self._progress is None:
            if time.perf_counter() - self._start < self.delay_s:
                return
            self._open()
        speed = self._progress.tasks[0].speed
        count = f"{done:.0f}/{self.total:.0f} {self.unit}" if self.total else f"{done:.0f} {self.unit}"
        self._progress.update(self._task, completed=done, total=self.total, count=count,
                              speed=f"{speed:.2f} {self.unit}/s" if speed else f"- {self.unit}/s")

    def _open(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn(self.label), BarColumn(), TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[speed]}"), TextColumn("left"), TimeRemainingColumn(),
            console=self.console, transient=self.transient)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=self.total, count="", speed="")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
