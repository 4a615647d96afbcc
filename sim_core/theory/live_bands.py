"""Confidence bands for the live windowed figures, and the live warm-up marker. No Qt.

``LiveBands`` is fed every engine Snapshot. For the last ``window_s`` seconds (the window the
engine's own latency and availability figures use) it cuts the window's steps into ``batches``
consecutive time batches and gives, for the mean and the p99 latency and for availability, the
figure over the whole window with a 95% band from the spread of the batch figures (batch means;
for the p99, sectioning: the batch p99s' spread around the window's p99, Asmussen & Glynn ch. 3).
Its warm-up marker is MSER-5 over the per-step mean latency since the run (or the last reset)
began, recomputed at most once per simulated second. It also keeps the measured availability: the
share of the observed time with enough capacity up (``carried``, as the caller judges each step).
After a jump back in time, ``rewind(t)`` gives all three as they were at ``t``, from the steps kept.
"""

from __future__ import annotations

import bisect
import math
from array import array
from dataclasses import dataclass

import numpy as np

from sim_core.theory.confidence import mser_truncation_of_sums, t_quantile

LEVEL = 0.95
MAX_STEPS = 200_000  # steps kept for MSER and rewinds (about 5.5 h at 0.1 s steps); then the older half goes
MAX_KEPT_LATENCIES = 4_000_000  # request latencies kept for rewinds (32 MB); older steps' go first


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
    """Feed it Snapshots in time order (``add``); read ``bands()``.

    Every step is kept (its latencies within a memory budget), so ``rewind(t)`` after a jump in
    time gives the bands the run had at ``t``.
    """

    def __init__(self, window_s: float = 10.0, batches: int = 10):
        self.window_s = window_s
        self.batches = batches
        self.reset()

    def reset(self) -> None:
        """Forget every step (the run starts again)."""
        self._t = array("d")  # end of each step (s)
        self._sums = array("d")  # sum of its completed latencies (s)
        self._served = array("q")  # requests completed in it
        self._ended = array("q")  # completed + rejected + lost in it
        self._carried_s = array("d")  # simulated seconds with enough capacity up, since the reset, at its end
        self._observed_s = array("d")  # simulated seconds judged so, since the reset, at its end
        self._latencies: list[np.ndarray | None] = []  # None once dropped for memory
        self._kept_latencies = 0
        self._oldest_latencies = 0  # index of the oldest step whose latencies are kept
        self._end = 0  # steps up to the moment shown (fewer than stored after a rewind)
        self._warmup_at = -math.inf
        self._warmup_end = math.nan

    def add(self, snap, carried: bool | None = None) -> None:
        """One engine step: its completed latencies (s) and its served / rejected / lost counts, and
        whether the cluster had enough capacity up in it (None: not judged, e.g. no random failures).

        After a rewind, a replay of the next kept step just moves on; any other step replaces the
        kept ones after the moment shown (the run took another branch).
        """
        served = int(snap.latencies.size)
        total = float(snap.latencies.sum())
        k = self._end
        if k < len(self._t):
            if (self._t[k], self._served[k], self._sums[k]) == (snap.t, served, total):
                self._end += 1
                return
            self._drop_after(k)
        if len(self._t) >= MAX_STEPS:
            self._drop_before(len(self._t) // 2)
        self._t.append(snap.t)
        self._sums.append(total)
        self._served.append(served)
        self._ended.append(served + round(snap.rejected * snap.dt) + round(snap.lost * snap.dt))
        carried_s, observed_s = (self._carried_s[-1], self._observed_s[-1]) if self._carried_s else (0.0, 0.0)
        if carried is not None:
            carried_s, observed_s = carried_s + snap.dt * carried, observed_s + snap.dt
        self._carried_s.append(carried_s)
        self._observed_s.append(observed_s)
        self._latencies.append(snap.latencies)
        self._kept_latencies += served
        self._end = len(self._t)
        window_start = self._window_start(self._end)
        while self._kept_latencies > MAX_KEPT_LATENCIES and self._oldest_latencies < window_start:
            self._kept_latencies -= self._latencies[self._oldest_latencies].size
            self._latencies[self._oldest_latencies] = None
            self._oldest_latencies += 1

    def rewind(self, t: float) -> None:
        """Show the moment ``t`` (s) of the steps added: the bands and warm-up as they were then.

        The later steps stay, for a jump forward again or a replay (see ``add``)."""
        self._end = bisect.bisect_right(self._t, t + 1e-9)
        self._warmup_at = -math.inf
        self._warmup_end = math.nan

    def measured(self) -> tuple[float, float]:
        """(seconds with enough capacity up, seconds judged) from the reset to the moment shown."""
        end = self._end
        return (self._carried_s[end - 1], self._observed_s[end - 1]) if end else (0.0, 0.0)

    def _drop_after(self, k: int) -> None:
        for column in (self._t, self._sums, self._served, self._ended, self._carried_s, self._observed_s):
            del column[k:]
        self._kept_latencies -= sum(x.size for x in self._latencies[k:] if x is not None)
        del self._latencies[k:]
        self._oldest_latencies = min(self._oldest_latencies, k)

    def _drop_before(self, k: int) -> None:
        """Forget the oldest ``k`` steps (a very long run); the warm-up is then found among the rest (the
        measured availability still counts them: its columns are running totals)."""
        for column in (self._t, self._sums, self._served, self._ended, self._carried_s, self._observed_s):
            del column[:k]
        self._kept_latencies -= sum(x.size for x in self._latencies[:k] if x is not None)
        del self._latencies[:k]
        self._oldest_latencies = max(self._oldest_latencies - k, 0)
        self._end = max(self._end - k, 0)

    def _window_start(self, end: int) -> int:
        """Index of the first step of the window that ends with step ``end - 1``."""
        return bisect.bisect_right(self._t, self._t[end - 1] - self.window_s + 1e-9, 0, end)

    def bands(self) -> WindowBands:
        """The bands at the moment shown (cheap: a few quantiles over the window's requests)."""
        end = self._end
        if not end:
            return WindowBands(math.nan, NO_BAND, NO_BAND, NO_BAND, math.nan)
        t = self._t[end - 1]
        if t >= self._warmup_at + 1.0 and end >= 20:
            cut = mser_truncation_of_sums(np.array(self._sums[:end]), np.array(self._served[:end]))
            self._warmup_end = self._t[cut]
            self._warmup_at = t
        start = self._window_start(end)
        steps = [(self._t[k], self._latencies[k], self._served[k], self._ended[k]) for k in range(start, end)]
        groups = _split(steps, self.batches, t - self.window_s)
        served = sum(s[2] for s in steps)
        ended = sum(s[3] for s in steps)
        if start < self._oldest_latencies or served == 0:  # latencies dropped for memory, or none
            mean = p99 = NO_BAND
        else:
            batch = [np.concatenate([s[1] for s in g]) for g in groups]
            batch = [b for b in batch if b.size]
            everything = np.concatenate(batch)
            mean = _band(float(everything.mean()), [float(b.mean()) for b in batch])
            p99 = _band(quantile(everything, 0.99), [quantile(b, 0.99) for b in batch])
        shares = [sum(s[2] for s in g) / e for g in groups if (e := sum(s[3] for s in g))]
        availability = _band(served / ended, shares) if ended else NO_BAND
        return WindowBands(t, mean, p99, availability, self._warmup_end)


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (its default, linear method) from a partial sort: the same number, in a
    fraction of the time for the window's few thousand latencies (``bands`` takes eleven a refresh)."""
    h = (values.size - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, values.size - 1)
    part = np.partition(values, (lo, hi))
    a, b, t = float(part[lo]), float(part[hi]), h - lo
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # numpy's lerp, both branches


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
