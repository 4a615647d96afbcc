"""One node as a queue: which closed form applies to it, and what it predicts.

``node_queue(...)`` takes one node's cores, service rate, RAM capacity, its arrival rate and
arrival process (Poisson, or every m-th request of a Poisson stream: Erlang-m gaps) and the
service distribution, and returns a ``NodeTheory`` with the model, its figures and its CDF, or
raises ``NoTheoryError`` naming the assumption that fails. Rates are requests/s, times seconds.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from sim_core.theory import queueing as q

NEGLIGIBLE = 1e-4  # a RAM cap that rejects less than this share of arrivals is treated as absent
EXACT, UPPER, LOWER, MEAN_FIELD = "exact", "upper bound", "lower bound", "mean-field (N -> inf)"


class NoTheoryError(Exception):
    """No closed form applies; ``str()`` says which assumption fails. ``growth_rps`` > 0 when the
    queue grows without bound (arrivals minus capacity, requests/s)."""

    def __init__(self, reason: str, growth_rps: float = 0.0):
        super().__init__(reason)
        self.growth_rps = growth_rps


@dataclass(frozen=True)
class NodeTheory:
    """What a closed form says about one node. ``cdf(t)`` is P(sojourn <= t) of the requests it
    serves, or None where only the mean is known. ``rejection``: share of its arrivals turned away
    because its RAM is full. ``utilization``: busy share of its cores."""

    model: str  # e.g. "M/M/4", "M/M/1/20", "E7/M/1", "M/D/1"
    method: str  # the result used: "Erlang C", "Pollaczek-Khinchine", ...
    kind: str  # EXACT, UPPER, LOWER or MEAN_FIELD
    arrival_rps: float
    capacity_rps: float  # cores x service rate of one core
    utilization: float
    mean_s: float
    wait_probability: float  # NaN when not known
    rejection: float
    cdf: Callable[[float], float] | None = field(default=None, compare=False, repr=False)


def service_cv(service: str, cv: float) -> float:
    """Coefficient of variation of the CPU time: exponential 1, deterministic 0, lognormal its own."""
    return {"exponential": 1.0, "deterministic": 0.0}.get(service, cv)


@functools.lru_cache(maxsize=1024)  # identical nodes (the common case) are solved once
def node_queue(cores: int, mu: float, capacity: int, lam: float, service: str, cv: float = 1.0,
               erlang_m: int = 1, kind: str = EXACT) -> NodeTheory:
    """The closed form for one FIFO node with ``cores`` sharing a queue, each serving ``mu`` req/s,
    holding at most ``capacity`` requests, offered ``lam`` req/s. ``erlang_m`` > 1: the node gets
    every m-th request of a Poisson stream (round-robin over m nodes). Raises NoTheoryError."""
    if capacity < 1:
        return NodeTheory("-", "no RAM for one request", EXACT, lam, cores * mu, 0.0, math.nan, math.nan, 1.0)
    c = min(cores, capacity)  # a node holding fewer requests than it has cores uses only that many
    growth = max(lam - c * mu, 0.0)
    if lam <= 0.0:
        return NodeTheory(f"M/M/{c}", "no traffic", kind, 0.0, c * mu, 0.0, 1.0 / mu, 0.0, 0.0, _exp_cdf(mu))
    if erlang_m > 1:
        return _erlang_arrivals(c, mu, capacity, lam, service, erlang_m, kind, growth)
    if capacity == c:  # no waiting room: a loss system, Erlang B whatever the service distribution
        blocked = q.erlang_b(c, lam / mu)
        return NodeTheory(f"M/G/{c}/{c}", "Erlang B", kind, lam, c * mu, lam * (1 - blocked) / (c * mu),
                          1.0 / mu, 0.0, blocked, _service_cdf(service, mu, cv))
    if service == "exponential":
        return _mmck(c, mu, capacity, lam, kind, growth)
    return _general_service(c, mu, capacity, lam, service, cv, kind, growth)


def _mmck(c: int, mu: float, k: int, lam: float, kind: str, growth: float) -> NodeTheory:
    rho = lam / (c * mu)
    if rho < 1.0 and _mmc_full_share(c, k, lam, mu) < NEGLIGIBLE:
        return NodeTheory(f"M/M/{c}", "Erlang C", kind, lam, c * mu, rho, q.mmc_mean_sojourn(c, lam, mu),
                          q.erlang_c(c, lam, mu), 0.0, functools.partial(q.mmc_sojourn_cdf, c, lam, mu))
    if k > q.MAX_CHAIN:
        raise NoTheoryError(_overload_text(lam, c * mu, k), growth)
    probs = q.mmck_probabilities(c, k, lam, mu)
    blocked = float(probs[-1])
    return NodeTheory(f"M/M/{c}/{k}", "birth-death chain", kind, lam, c * mu, lam * (1 - blocked) / (c * mu),
                      q.mmck_mean_sojourn(c, k, lam, mu), q.mmck_wait_probability(c, k, lam, mu), blocked,
                      q.mmck_sojourn_cdf(c, k, lam, mu))


def _general_service(c: int, mu: float, k: int, lam: float, service: str, cv: float, kind: str,
                     growth: float) -> NodeTheory:
    letter = "D" if service == "deterministic" else "G"
    if lam >= c * mu:
        raise NoTheoryError(_overload_text(lam, c * mu, k) + f"; M/{letter}/{c}/K has no closed form here", growth)
    if _mmc_full_share(c, k, lam, mu) * max(1.0, cv * cv) > NEGLIGIBLE:
        raise NoTheoryError(f"RAM caps the node at {k} requests and would reject some: M/{letter}/{c}/{k} "
                       "has no closed form here")
    rho = lam / (c * mu)
    if service == "deterministic":
        wait = q.mdc_wait_cdf(c, lam, mu)
        d = 1.0 / mu
        method = "Pollaczek-Khinchine, Crommelin" if c == 1 else "Crommelin"
        return NodeTheory(f"M/D/{c}", method, kind, lam, c * mu, rho, q.mdc_mean_sojourn(c, lam, mu),
                          1.0 - wait(0.0), 0.0, lambda t: wait(t - d))
    if c > 1:
        raise NoTheoryError(f"lognormal service on {c} cores: M/G/{c} has no closed form (only one core: "
                       "Pollaczek-Khinchine)")
    return NodeTheory("M/G/1", "Pollaczek-Khinchine", kind, lam, mu, rho, q.mg1_mean_sojourn(lam, mu, cv), rho, 0.0)


def _erlang_arrivals(c: int, mu: float, k: int, lam: float, service: str, m: int, kind: str,
                     growth: float) -> NodeTheory:
    if service != "exponential":
        raise NoTheoryError(f"round-robin gives each node Erlang-{m} gaps; with {service} service E{m}/G/{c} "
                       "has no closed form")
    if lam >= c * mu:
        raise NoTheoryError(_overload_text(lam, c * mu, k) + f"; E{m}/M/{c}/K has no closed form here", growth)
    if c > 1:  # regular arrivals queue less than Poisson ones: M/M/c is an upper bound
        bound = _mmck(c, mu, k, lam, UPPER, growth)
        return NodeTheory(bound.model, "Erlang C (Poisson arrivals queue more)", UPPER, lam, c * mu,
                          bound.utilization, bound.mean_s, bound.wait_probability, bound.rejection, bound.cdf)
    sigma = q.erlang_arrivals_sigma(m, lam, mu)
    if sigma**k > NEGLIGIBLE:
        raise NoTheoryError(f"RAM caps each node at {k} requests and would reject some: E{m}/M/1/{k} has no "
                       "closed form here")
    rate = mu * (1.0 - sigma)
    blocked = (1.0 - sigma) * sigma**k  # share of arrivals finding k or more without the cap: negligible here
    return NodeTheory(f"E{m}/M/1", "GI/M/1", kind, lam, mu, lam / mu, 1.0 / rate, sigma, blocked, _exp_cdf(rate))


def _mmc_full_share(c: int, k: int, lam: float, mu: float) -> float:
    """Share of time an M/M/c queue without a cap would hold k or more: how much a cap of k bites."""
    if lam >= c * mu:
        return 1.0
    if k <= c:
        return 1.0
    return q.erlang_c(c, lam, mu) * (lam / (c * mu)) ** (k - c)


def _overload_text(lam: float, capacity: float, k: int) -> str:
    fill = f"; its RAM ({k} requests) fills in about {k / (lam - capacity):.3g} s" if lam > capacity else ""
    return (f"utilization >= 1 ({lam:.4g} req/s offered to {capacity:.4g} req/s of cores): the queue grows "
            f"without bound at {lam - capacity:.4g} req/s{fill}")


def _exp_cdf(rate: float) -> Callable[[float], float]:
    return lambda t: -math.expm1(-rate * t) if t > 0 else 0.0


def _service_cdf(service: str, mu: float, cv: float) -> Callable[[float], float]:
    """CDF of one service time (the sojourn of a loss system)."""
    if service == "exponential":
        return _exp_cdf(mu)
    if service == "deterministic":
        return lambda t: 1.0 if t >= 1.0 / mu else 0.0
    sigma2 = math.log1p(cv * cv)
    dist = statistics.NormalDist(-math.log(mu) - sigma2 / 2.0, math.sqrt(sigma2))
    return lambda t: dist.cdf(math.log(t)) if t > 0 else 0.0
