"""Confidence bands for a simulated mean, and where a run's warm-up ends. Pure functions on numpy arrays.

Neighbouring requests in a queue are strongly correlated (one waits behind the other), so the
textbook interval mean +- 1.96 s / sqrt(n) over single requests is far too narrow. **Batch
means** cut the series, in time order, into a few long consecutive batches whose means are
nearly independent and nearly normal, and take a Student t interval over those batch means
(Law and Kelton, ch. 9). It needs no model of the correlation, works on the per-step sums the
engine already produces, and is cheap enough to recompute every frame.

**MSER-5** (White, 1997) picks the warm-up to drop: average the series in groups of 5, and cut
the first d groups where the squared standard error of the rest, sum((z - mean)^2) / (n - d)^2,
is smallest (d at most half the groups).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

DEFAULT_BATCHES = 20
MSER_GROUP = 5


@dataclass(frozen=True)
class Interval:
    """A confidence interval: ``mean`` +- ``half_width`` at ``level``, from ``batches`` batch means
    (NaN half-width when there are fewer than 2 batches with data)."""

    mean: float
    half_width: float
    level: float
    batches: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (Cornish-Fisher expansion about
    the normal quantile; within 1e-3 of the exact value for df >= 3 at p = 0.975)."""
    if df < 1:
        raise ValueError(f"df: {df} must be >= 1")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        a = 4.0 * p * (1.0 - p)
        return (2.0 * p - 1.0) * math.sqrt(2.0 / a)
    z = statistics.NormalDist().inv_cdf(p)
    z2 = z * z
    g1 = (z2 + 1.0) * z / 4.0
    g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0
    g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0
    g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def batch_means(values: np.ndarray, batches: int = DEFAULT_BATCHES, level: float = 0.95) -> Interval:
    """Interval for the mean of ``values`` (n,), in time order, from ``batches`` equal consecutive
    batches (the first n mod batches values are dropped, the oldest)."""
    values = np.asarray(values, dtype=float)
    size = values.size // batches
    if size == 0:
        mean = float(values.mean()) if values.size else math.nan
        return Interval(mean, math.nan, level, 0)
    means = values[values.size - size * batches:].reshape(batches, size).mean(axis=1)
    return _interval(means, np.ones(batches), level)


def batch_means_of_sums(sums: np.ndarray, counts: np.ndarray, batches: int = DEFAULT_BATCHES,
                        level: float = 0.95) -> Interval:
    """Interval for a mean given per-step ``sums`` and ``counts`` (shape (steps,), time order), e.g.
    the latencies completed in each engine step. Steps are grouped into ``batches`` consecutive
    batches of equal steps; each batch's mean is its sum over its count (batches without requests
    are left out), and the interval is over the batch means weighted by their counts."""
    sums = np.asarray(sums, dtype=float)
    counts = np.asarray(counts, dtype=float)
    size = sums.size // batches
    if size == 0:
        total = counts.sum()
        return Interval(float(sums.sum() / total) if total else math.nan, math.nan, level, 0)
    cut = sums.size - size * batches
    s = sums[cut:].reshape(batches, size).sum(axis=1)
    n = counts[cut:].reshape(batches, size).sum(axis=1)
    keep = n > 0
    return _interval(s[keep] / n[keep], n[keep], level)


def _interval(means: np.ndarray, weights: np.ndarray, level: float) -> Interval:
    b = means.size
    if b == 0:
        return Interval(math.nan, math.nan, level, 0)
    w = weights / weights.sum()
    grand = float(np.dot(w, means))
    if b < 2:
        return Interval(grand, math.nan, level, b)
    # variance of a weighted mean of independent batches whose variance scales as 1/count
    spread = float(np.dot(w, (means - grand) ** 2)) * b / (b - 1)
    std_err = math.sqrt(spread * float(np.dot(w, w)))
    return Interval(grand, t_quantile(0.5 + level / 2.0, b - 1) * std_err, level, b)


def mser_truncation(values: np.ndarray, group: int = MSER_GROUP) -> int:
    """How many leading ``values`` (n,) to drop as warm-up by MSER-``group`` (0 when too short)."""
    values = np.asarray(values, dtype=float)
    k = values.size // group
    if k < 4:
        return 0
    z = values[: k * group].reshape(k, group).mean(axis=1)
    # for each cut d: mean and sum of squares of z[d:], from suffix sums
    suffix_sum = np.cumsum(z[::-1])[::-1]
    suffix_sq = np.cumsum((z * z)[::-1])[::-1]
    rest = np.arange(k, 0, -1, dtype=float)  # k - d
    sse = suffix_sq - suffix_sum**2 / rest
    score = sse / rest**2
    best = int(np.argmin(score[: k // 2 + 1]))
    return best * group


def mser_truncation_of_sums(sums: np.ndarray, counts: np.ndarray, group: int = MSER_GROUP) -> int:
    """MSER on per-step means ``sums / counts`` (steps without requests count as the previous mean)."""
    counts = np.asarray(counts, dtype=float)
    means = np.divide(sums, counts, out=np.full(counts.size, np.nan), where=counts > 0)
    valid = ~np.isnan(means)
    if not valid.any():
        return 0
    latest = np.where(valid, np.arange(means.size), 0)  # index of the latest step with requests
    np.maximum.accumulate(latest, out=latest)
    filled = means[latest]
    first = int(np.argmax(valid))
    filled[:first] = means[first]  # steps before the first request take the first mean
    return mser_truncation(filled, group)
