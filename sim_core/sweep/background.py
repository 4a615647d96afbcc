"""A sweep run in a background thread, for a window: start, watch, cancel, reuse the workers.

``BackgroundSweep`` owns a backend (made on first use by ``make_backend``, e.g. a local Dask
cluster, which takes seconds to start) and runs one sweep at a time on it in a daemon thread.
The window polls ``state()`` from its own timer: no callbacks cross threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim_core.scenario import Scenario
from sim_core.sweep.runner import DaskBackend, Sequential, SweepRun, close_client, local_client, run_sweep
from sim_core.sweep.spec import SweepSpec


@dataclass
class SweepState:
    """What a background sweep has done so far. ``rows`` in completion order; times in seconds."""

    phase: str = "idle"  # idle, starting (the workers), running, finished, cancelled, failed
    rows: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0
    expected: int = 0
    elapsed_s: float = 0.0
    error: str = ""

    @property
    def runs_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def left_s(self) -> float | None:
        """Estimated seconds to the end (None before the first run finishes)."""
        if not self.done or self.expected <= self.done:
            return None if not self.done else 0.0
        return (self.expected - self.done) / self.runs_per_s

    @property
    def busy(self) -> bool:
        return self.phase in ("starting", "running")


def dask_backend(workers: int | None = None) -> DaskBackend:
    """A backend on a new local Dask cluster (one worker process per core by default)."""
    return DaskBackend(local_client(workers))


class BackgroundSweep:
    """Runs sweeps one at a time in a thread on a backend made once by ``make_backend``."""

    def __init__(self, make_backend: Callable[[], DaskBackend | Sequential] = dask_backend):
        self._make_backend = make_backend
        self._backend: DaskBackend | Sequential | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = SweepState()
        self._started = 0.0
        self.result: SweepRun | None = None

    def start(self, spec: SweepSpec, base: Scenario) -> None:
        """Start ``spec`` on ``base``; raises RuntimeError if a sweep is still running."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("a sweep is already running")
        self._stop.clear()
        self.result = None
        with self._lock:
            self._state = SweepState(phase="starting" if self._backend is None else "running")
        self._thread = threading.Thread(target=self._work, args=(spec, base), name="scalelab-sweep", daemon=True)
        self._thread.start()

    def _work(self, spec: SweepSpec, base: Scenario) -> None:
        try:
            if self._backend is None:
                self._backend = self._make_backend()
            with self._lock:
                self._state.phase = "running"
            self._started = time.perf_counter()
            run = run_sweep(spec, base, self._backend, on_row=self._on_row, should_stop=self._stop.is_set)
            self.result = run
            with self._lock:
                self._state.phase = "cancelled" if run.cancelled else "finished"
                self._state.elapsed_s = run.wall_s
        except Exception as exc:  # shown in the window; the sweep's finished rows stay
            with self._lock:
                self._state.phase = "failed"
                self._state.error = f"{type(exc).__name__}: {exc}"

    def _on_row(self, done: int, expected: int, row: dict[str, Any]) -> None:
        with self._lock:
            self._state.rows.append(row)
            self._state.done = done
            self._state.expected = expected
            self._state.elapsed_s = time.perf_counter() - self._started

    def state(self) -> SweepState:
        """A copy of the current state (its rows list is a copy too)."""
        with self._lock:
            s = self._state
            if s.phase == "running" and self._started:
                s.elapsed_s = time.perf_counter() - self._started
            return SweepState(s.phase, list(s.rows), s.done, s.expected, s.elapsed_s, s.error)

    def cancel(self) -> None:
        """Stop the running sweep soon; the finished rows are kept."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running sweep to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def close(self) -> None:
        """Cancel, wait, and shut the backend's workers down."""
        self.cancel()
        self.wait(30)
        backend, self._backend = self._backend, None
        if isinstance(backend, DaskBackend):
            close_client(backend.client)
