"""Confidence bands for the live windowed figures, and the live warm-up marker. No Qt.

``LiveBands`` is fed every engine Snapshot. For the last ``window_s`` seconds (the window the
engine's own latency and availability figures use) it cuts the window's steps into ``batches``
consecutive time batches and gives, for the mean and the p99 latency and for availability, the
figure over the whole window with a 95% band from the spread of the batch figures (batch means;
for the p99, sectioning: the batch p99s' spread around the window's p99, Asmussen & Glynn ch. 3).
Its warm-up marker is MSER-5 over the per-step mean latency since the run (or the last reset)
began, recomputed at most once per simulated second.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from sim_core.theory.confidence import mser_truncation_of_sums, t_quantile

LEVEL = 0.95
MAX_WARMUP_STEPS = 200_000  # per-step means kept for MSER (about 5.5 h at 0.1 s steps)


@dataclass(frozen=True)
class Band:
    """A windowed figure and its band: ``value`` +- ``half_width`` (NaN when not known)."""

    value: float
    half_width: float

    @property
    def low(self) -> float:
        return self.value - self.half_width

    @property
    def high(self) -> float:
        return self.value + self.half_width


NO_BAND = Band(math.nan, math.nan)


@dataclass(frozen=True)
class WindowBands:
    """The bands at time ``t`` (s): latency mean and p99 in seconds, availability 0..1."""

    t: float
    mean: Band
    p99: Band
    availability: Band
    warmup_end_s: float  # NaN until MSER-5 has enough steps


class LiveBands:
    """Feed it Snapshots in time order (``add``); read ``bands()``. ``reset()`` after a jump in time."""

    def __init__(self, window_s: float = 10.0, batches: int = 10):
        self.window_s = window_s
        self.batches = batches
        self.reset()

    def reset(self) -> None:
        self._steps: deque[tuple[float, np.ndarray, int, int]] = deque()  # (t, latencies, served, ended)
        self._t: list[float] = []
        self._sums: list[float] = []
        self._counts: list[int] = []
        self._warmup_at = -math.inf
        self._warmup_end = math.nan

    def add(self, snap) -> None:
        """One engine step: its completed latencies (s) and its served / rejected / lost counts."""
        served = int(snap.latencies.size)
        ended = served + round(snap.rejected * snap.dt) + round(snap.lost * snap.dt)
        self._steps.append((snap.t, snap.latencies, served, ended))
        while self._steps and self._steps[0][0] <= snap.t - self.window_s + 1e-9:
            self._steps.popleft()
        if len(self._t) < MAX_WARMUP_STEPS:
            self._t.append(snap.t)
            self._sums.append(float(snap.latencies.sum()))
            self._counts.append(served)

    def bands(self) -> WindowBands:
        """The current bands (cheap: a few quantiles over the window's requests)."""
        if not self._steps:
            return WindowBands(math.nan, NO_BAND, NO_BAND, NO_BAND, math.nan)
        t = self._steps[-1][0]
        if t >= self._warmup_at + 1.0 and len(self._t) >= 20:
            cut = mser_truncation_of_sums(np.array(self._sums), np.array(self._counts))
            self._warmup_end = self._t[cut] if cut > 0 else self._t[0]
            self._warmup_at = t
        groups = _split(list(self._steps), self.batches, t - self.window_s)
        everything = np.concatenate([s[1] for s in self._steps])
        served = sum(s[2] for s in self._steps)
        ended = sum(s[3] for s in self._steps)
        if everything.size == 0:
            mean = p99 = NO_BAND
        else:
            batch = [np.concatenate([s[1] for s in g]) for g in groups]
            batch = [b for b in batch if b.size]
            mean = _band(float(everything.mean()), [float(b.mean()) for b in batch])
            p99 = _band(float(np.quantile(everything, 0.99)), [float(np.quantile(b, 0.99)) for b in batch])
        shares = [sum(s[2] for s in g) / e for g in groups if (e := sum(s[3] for s in g))]
        availability = _band(served / ended, shares) if ended else NO_BAND
        return WindowBands(t, mean, p99, availability, self._warmup_end)


def _split(steps: list, batches: int, start: float) -> list[list]:
    """The steps grouped into ``batches`` equal time slices of the window (empty slices dropped)."""
    width = (steps[-1][0] - start) / batches
    groups: list[list] = [[] for _ in range(batches)]
    for step in steps:
        k = min(int((step[0] - start - 1e-12) / width), batches - 1) if width > 0 else 0
        groups[max(k, 0)].append(step)
    return [g for g in groups if g]


def _band(value: float, batch_values: list[float]) -> Band:
    b = len(batch_values)
    if b < 2:
        return Band(value, math.nan)
    spread = float(np.std(batch_values, ddof=1))
    return Band(value, t_quantile(0.5 + LEVEL / 2.0, b - 1) * spread / math.sqrt(b))
