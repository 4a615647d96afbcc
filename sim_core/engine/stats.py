"""Latency percentiles from per-request times: log-binned histograms, sliding window and cumulative.

A running percentile must come from the requests of the window, not from averaging
per-step percentiles. Each step's completed latencies go into bins at most 0.4% wide
(relative), kept per step for the window and summed for the whole run; a percentile is read
by interpolating inside its bin, so it is within 0.4% of the exact sample percentile.

The bins are read off the bits of the float64 itself: its exponent and the top 8 bits of its
mantissa, i.e. 256 equal bins per octave, found by one shift instead of a logarithm.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

LOW_S = 1e-6  # latencies below this share the first bin
HIGH_S = 1e5  # and above this the last
_SHIFT = 52 - 8  # keep the exponent and 8 mantissa bits
_FIRST = int(np.array(LOW_S).view(np.int64)) >> _SHIFT
N_BINS = (int(np.array(HIGH_S).view(np.int64)) >> _SHIFT) - _FIRST + 1
EDGES_S = ((np.arange(N_BINS + 1, dtype=np.int64) + _FIRST) << _SHIFT).view(np.float64)  # (N_BINS + 1,)
QUANTILES = (0.50, 0.95, 0.99)
EDGE_TOLERANCE_S = 1e-9  # step ends drift by float rounding; a step this close to the edge has left


@dataclass(frozen=True)
class LatencySummary:
    """p50, p95, p99 and mean in seconds (NaN when no request completed) and the count."""

    p50: float
    p95: float
    p99: float
    mean: float
    count: int


def bin_index(latencies: np.ndarray) -> np.ndarray:
    """Histogram bin of each latency (s): an int array of the same shape."""
    bins = np.right_shift(np.ascontiguousarray(latencies, dtype=np.float64).view(np.int64), _SHIFT)
    bins -= _FIRST
    return np.clip(bins, 0, N_BINS - 1, out=bins)


def summarize(counts: np.ndarray, total_s: float) -> LatencySummary:
    """Percentiles of a histogram ``counts`` (N_BINS,) whose latencies sum to ``total_s``."""
    n = int(counts.sum())
    if n == 0:
        return LatencySummary(np.nan, np.nan, np.nan, np.nan, 0)
    cum = np.cumsum(counts)
    ranks = np.asarray(QUANTILES) * n
    b = np.searchsorted(cum, ranks, side="left")
    below = cum[b] - counts[b]
    frac = (ranks - below) / counts[b]  # counts[b] > 0: the rank falls inside bin b
    p50, p95, p99 = EDGES_S[b] + frac * (EDGES_S[b + 1] - EDGES_S[b])  # linear inside the bin
    return LatencySummary(float(p50), float(p95), float(p99), total_s / n, n)


class LatencyWindow:
    """Latency histograms over the last ``window_s`` seconds of simulated time and since the start."""

    def __init__(self, window_s: float = 10.0):
        self.window_s = window_s
        self.total = np.zeros(N_BINS, dtype=np.int64)
        self.total_sum = 0.0
        self.window = np.zeros(N_BINS, dtype=np.int64)
        self.window_sum = 0.0
        self._steps: deque[tuple[float, np.ndarray, float]] = deque()

    def add(self, t_end: float, latencies: np.ndarray) -> None:
        """Record the latencies (s) of the requests completed in the step ending at ``t_end``."""
        bins = bin_index(latencies)
        step_sum = float(latencies.sum())
        counts = np.bincount(bins, minlength=N_BINS)
        self.total += counts
        self.total_sum += step_sum
        self.window += counts
        self.window_sum += step_sum
        self._steps.append((t_end, bins, step_sum))
        while self._steps and self._steps[0][0] <= t_end - self.window_s + EDGE_TOLERANCE_S:
            _, old, old_sum = self._steps.popleft()
            self.window -= np.bincount(old, minlength=N_BINS)
            self.window_sum -= old_sum
        if not self._steps:
            self.window_sum = 0.0

    def window_summary(self) -> LatencySummary:
        """Percentiles over the sliding window."""
        return summarize(self.window, self.window_sum)

    def total_summary(self) -> LatencySummary:
        """Percentiles since the start."""
        return summarize(self.total, self.total_sum)


class CountWindow:
    """Sums of per-step counts (served, rejected, lost, ...) over the last ``window_s`` seconds."""

    def __init__(self, width: int, window_s: float = 10.0):
        self.window_s = window_s
        self.sums = np.zeros(width, dtype=np.int64)
        self._steps: deque[tuple[float, np.ndarray]] = deque()

    def add(self, t_end: float, counts: np.ndarray) -> np.ndarray:
        """Add one step's counts (width,) and return the window's sums (width,)."""
        counts = np.asarray(counts, dtype=np.int64)
        self.sums += counts
        self._steps.append((t_end, counts))
        while self._steps and self._steps[0][0] <= t_end - self.window_s + EDGE_TOLERANCE_S:
            self.sums -= self._steps.popleft()[1]
        return self.sums.copy()
