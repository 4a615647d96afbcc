"""Closed-form queueing results the engine is tested against.

Rates are in requests per second, times in seconds. ``lam`` is the arrival rate, ``mu`` the
service rate of one core, ``c`` the number of cores sharing one FIFO queue, ``k`` the most
requests a node holds at once (queued plus in service).
"""

from __future__ import annotations

import math


def mm1_mean_sojourn(lam: float, mu: float) -> float:
    """Mean time in system (s) of an M/M/1 queue; needs ``lam < mu``."""
    _check_stable(lam, mu, 1)
    return 1.0 / (mu - lam)


def mm1_sojourn_quantile(lam: float, mu: float, p: float) -> float:
    """The ``p``-quantile (s) of the M/M/1 sojourn time, which is Exp(mu - lam)."""
    _check_stable(lam, mu, 1)
    return -math.log1p(-p) / (mu - lam)


def erlang_c(c: int, lam: float, mu: float) -> float:
    """Probability that an arrival at an M/M/c queue waits (Erlang C)."""
    _check_stable(lam, mu, c)
    a = lam / mu  # offered load in erlangs
    rho = a / c
    # sum_{n<c} a^n/n! and a^c/c!, built term by term to stay finite for large c
    term = 1.0
    head = 0.0
    for n in range(c):
        head += term
        term *= a / (n + 1)
    tail = term / (1.0 - rho)
    return tail / (head + tail)


def mmc_mean_sojourn(c: int, lam: float, mu: float) -> float:
    """Mean time in system (s) of an M/M/c FIFO queue: service plus the mean wait."""
    return 1.0 / mu + erlang_c(c, lam, mu) / (c * mu - lam)


def mmc_sojourn_cdf(c: int, lam: float, mu: float, t: float) -> float:
    """P(sojourn <= t) for M/M/c FIFO.

    Sojourn = service X ~ Exp(mu) plus wait W, with W = 0 with probability 1 - C and
    W ~ Exp(a), a = c*mu - lam, with probability C (C from Erlang C). The convolution of
    Exp(mu) and Exp(a) has CDF 1 - (a e^{-mu t} - mu e^{-a t}) / (a - mu), or
    1 - e^{-mu t}(1 + mu t) when a == mu.
    """
    if t <= 0.0:
        return 0.0
    wait_p = erlang_c(c, lam, mu)
    a = c * mu - lam
    no_wait = -math.expm1(-mu * t)
    if math.isclose(a, mu, rel_tol=1e-12):
        waited = 1.0 - math.exp(-mu * t) * (1.0 + mu * t)
    else:
        waited = 1.0 - (a * math.exp(-mu * t) - mu * math.exp(-a * t)) / (a - mu)
    return (1.0 - wait_p) * no_wait + wait_p * waited


def mmc_sojourn_quantile(c: int, lam: float, mu: float, p: float) -> float:
    """The ``p``-quantile (s) of the M/M/c FIFO sojourn, by bisection on :func:`mmc_sojourn_cdf`."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: {p} is not in (0, 1)")
    lo, hi = 0.0, 1.0 / mu
    while mmc_sojourn_cdf(c, lam, mu, hi) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mmc_sojourn_cdf(c, lam, mu, mid) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * hi:
            break
    return 0.5 * (lo + hi)


def mmck_distribution(c: int, k: int, lam: float, mu: float) -> list[float]:
    """Stationary probabilities of 0..k requests in an M/M/c/K node (birth-death chain)."""
    if not 1 <= c <= k:
        raise ValueError(f"need 1 <= c <= k, got c={c}, k={k}")
    weights = [1.0]
    for n in range(1, k + 1):
        weights.append(weights[-1] * lam / (mu * min(n, c)))
    total = sum(weights)
    return [w / total for w in weights]


def mmck_blocking(c: int, k: int, lam: float, mu: float) -> float:
    """Share of arrivals rejected by an M/M/c/K node: the stationary probability of state K."""
    return mmck_distribution(c, k, lam, mu)[-1]


def mmck_mean_sojourn(c: int, k: int, lam: float, mu: float) -> float:
    """Mean time in system (s) of the requests an M/M/c/K node admits (Little's law)."""
    probs = mmck_distribution(c, k, lam, mu)
    in_system = sum(n * p for n, p in enumerate(probs))
    return in_system / (lam * (1.0 - probs[-1]))


def _check_stable(lam: float, mu: float, c: int) -> None:
    if not (lam >= 0 and mu > 0 and lam < c * mu):
        raise ValueError(f"unstable or invalid queue: lam={lam}, mu={mu}, c={c} (need 0 <= lam < c*mu)")


def power_of_d_mean_sojourn(rho: float, mu: float, d: int = 2) -> float:
    """Mean sojourn (s) under power-of-d routing over many one-core nodes (mean-field limit, N -> inf).

    Each arrival samples ``d`` nodes and joins the one with fewer requests. As N grows, the share
    of nodes holding at least k requests tends to rho^((d^k - 1)/(d - 1)) (Mitzenmacher; Vvedenskaya,
    Dobrushin and Karpelevich), so the mean count per node is the sum over k >= 1 and Little's law
    divides it by the per-node arrival rate rho*mu. d = 1 is random routing: M/M/1.
    """
    _check_stable(rho * mu, mu, 1)
    count = 0.0
    k = 1
    while True:
        exponent = k if d == 1 else (d**k - 1) // (d - 1)
        share = rho**exponent
        count += share
        if share < 1e-16 * count:
            return count / (rho * mu)
        k += 1
