"""Traffic: the arrival rate over time, Poisson arrivals, and CPU work per request.

All functions take the ``numpy.random.Generator`` to draw from; none holds global state.
"""

from __future__ import annotations

import numpy as np

from sim_core.scenario import RampShape, StepShape, WaveShape, Workload


def rate_at(workload: Workload, t: np.ndarray | float) -> np.ndarray:
    """Arrival rate in requests/s at times ``t`` (seconds), same shape as ``t``."""
    t = np.asarray(t, dtype=float)
    base = workload.rate
    shape = workload.shape
    if isinstance(shape, RampShape):
        frac = np.clip((t - shape.start_s) / (shape.end_s - shape.start_s), 0.0, 1.0)
        return base + (shape.to_rate - base) * frac
    if isinstance(shape, StepShape):
        inside = t >= shape.at_s
        if shape.duration_s > 0:
            inside &= t < shape.at_s + shape.duration_s
        return np.where(inside, shape.to_rate, base)
    if isinstance(shape, WaveShape):
        return base * (1.0 + shape.amplitude * np.sin(2.0 * np.pi * t / shape.period_s))
    return np.full_like(t, base)


def rate_bound(workload: Workload) -> float:
    """An upper bound of ``rate_at`` over all time (requests/s), for thinning."""
    shape = workload.shape
    if isinstance(shape, (RampShape, StepShape)):
        return max(workload.rate, shape.to_rate)
    if isinstance(shape, WaveShape):
        return workload.rate * (1.0 + shape.amplitude)
    return workload.rate


def poisson_arrivals(workload: Workload, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times (s) of a Poisson process with rate ``rate_at`` on [t0, t1).

    The count is Poisson(bound * (t1 - t0)); given the count, the times are sorted uniforms,
    drawn in O(n) as normalised cumulative sums of exponentials. A time-varying rate is
    obtained by thinning, which is exact for any shape.
    """
    bound = rate_bound(workload)
    span = t1 - t0
    if bound <= 0.0 or span <= 0.0:
        return np.empty(0)
    n = int(rng.poisson(bound * span))
    if n == 0:
        return np.empty(0)
    times = rng.standard_exponential(n + 1)
    np.cumsum(times, out=times)  # in place: fresh temporaries cost more than the arithmetic
    total = times[n]
    times = times[:n]
    times *= span / total
    times += t0
    if workload.shape.kind != "constant":
        keep = rng.random(n) * bound < rate_at(workload, times)
        times = times[keep]
    return times


def draw_work(workload: Workload, n: int, rng: np.random.Generator) -> np.ndarray:
    """CPU seconds on a speed-1 core for ``n`` requests: exponential, deterministic or lognormal."""
    mean = workload.cpu_time_ms / 1000.0
    if workload.service == "deterministic":
        return np.full(n, mean)
    if workload.service == "lognormal":
        sigma2 = np.log1p(workload.service_cv**2)
        return rng.lognormal(np.log(mean) - sigma2 / 2.0, np.sqrt(sigma2), n)
    return rng.exponential(mean, n)
