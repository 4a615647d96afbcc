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


class PoissonArrivals:
    """A Poisson arrival process whose times do not depend on how time is cut into steps.

    Candidate times are drawn ahead as cumulative sums of exponential gaps at the rate bound
    and kept until they are taken; a time-varying rate keeps each candidate with probability
    rate(t) / bound (thinning, exact for any shape). Gaps come from ``rng`` and the thinning
    uniforms from ``thin_rng``, one value per candidate each, and numpy draws such values one
    after another whatever the batch size; so the same seed gives the same arrivals whatever
    the step size, and a batch can be sized to the step. When the rate bound changes (an edit),
    the process restarts at that instant, which a Poisson process allows (it is memoryless), from
    fresh generators spawned from ``gap_seed`` and ``thin_seed``: the candidates drawn ahead are
    dropped, and how many there were (which depends on the steps) does not shift what follows.
    """

    MAX_BATCH = 1 << 22  # candidates drawn at once (32 MB); longer steps draw several batches

    def __init__(self, gap_seed: np.random.SeedSequence, thin_seed: np.random.SeedSequence):
        self._seeds = (gap_seed, thin_seed)
        self.rng = np.random.default_rng(gap_seed)
        self.thin_rng = np.random.default_rng(thin_seed)
        self._key: tuple[float, bool] | None = None
        self._times = np.empty(0)
        self._keep_u = np.empty(0)
        self._last = 0.0

    def take(self, workload: Workload, t0: float, t1: float) -> np.ndarray:
        """Sorted arrival times (s) in [t0, t1); ``t0`` is where the previous call ended."""
        bound = rate_bound(workload)
        thinned = workload.shape.kind != "constant"
        if self._key != (bound, thinned):
            if self._key is not None:  # a restart: the n-th one draws from the n-th spawned streams
                self.rng, self.thin_rng = (np.random.default_rng(seed.spawn(1)[0]) for seed in self._seeds)
            self._key = (bound, thinned)
            self._times, self._keep_u, self._last = np.empty(0), np.empty(0), t0
        if bound <= 0.0 or t1 <= t0:
            return np.empty(0)
        taken: list[np.ndarray] = []
        kept_u: list[np.ndarray] = []
        while True:
            end = int(np.searchsorted(self._times, t1, side="left"))
            taken.append(self._times[:end])
            kept_u.append(self._keep_u[:end])
            self._times, self._keep_u = self._times[end:], self._keep_u[end:]
            if self._times.size:
                break
            expected = bound * max(t1 - self._last, 0.0)
            self._draw_batch(bound, thinned, min(self.MAX_BATCH, int(expected * 1.05) + 64))
        if len(taken) > 1:
            taken, kept_u = [np.concatenate(taken)], [np.concatenate(kept_u)]
        times = taken[0]
        if thinned:
            times = times[kept_u[0] * bound < rate_at(workload, times)]
        return times

    def _draw_batch(self, bound: float, thinned: bool, size: int) -> None:
        times = self.rng.standard_exponential(size)
        with np.errstate(over="ignore"):  # a rate near 0 puts the next arrivals at infinity: never
            times *= 1.0 / bound
            times[0] += self._last  # one running sum, left to right, however the batches fall
            np.cumsum(times, out=times)
        self._last = float(times[-1])
        self._times = times
        self._keep_u = self.thin_rng.random(size) if thinned else np.empty(size)


def draw_work(workload: Workload, n: int, rng: np.random.Generator) -> np.ndarray:
    """CPU seconds on a speed-1 core for ``n`` requests: exponential, deterministic or lognormal."""
    mean = workload.cpu_time_ms / 1000.0
    if workload.service == "deterministic":
        return np.full(n, mean)
    if workload.service == "lognormal":
        sigma2 = np.log1p(workload.service_cv**2)
        return rng.lognormal(np.log(mean) - sigma2 / 2.0, np.sqrt(sigma2), n)
    return rng.exponential(mean, n)
