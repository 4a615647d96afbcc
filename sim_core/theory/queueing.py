"""Closed-form queueing results: the formulas ``sim_core.theory.predict`` maps a cluster onto.

Rates are in requests per second, times in seconds. ``lam`` is the arrival rate, ``mu`` the
service rate of one core, ``c`` the number of cores sharing one FIFO queue, ``k`` the most
requests a node holds at once (queued plus in service). Pure functions of floats; no numpy
state, no engine.

Covered: M/M/1 and M/M/c (Erlang C) with their sojourn distributions, M/M/c/K (finite RAM:
blocking, mean and sojourn distribution), Erlang B (c = K, any service distribution), M/G/1
mean by Pollaczek-Khinchine, M/D/c by Crommelin's method (exact mean and waiting-time
distribution), GI/M/1 with Erlang-N arrivals (round-robin over N nodes), and the power-of-d
mean-field limit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

# --- M/M/1 and M/M/c ------------------------------------------------------------------------

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


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of c servers and no waiting room offered ``a`` erlangs (Erlang B).

    Insensitive to the service distribution (M/G/c/c). Stable recursion B(n) = a B(n-1) / (n + a B(n-1)).
    """
    if c < 0 or a < 0:
        raise ValueError(f"erlang_b: need c >= 0 and a >= 0, got c={c}, a={a}")
    b = 1.0
    for n in range(1, c + 1):
        b = a * b / (n + a * b)
    return b


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
    return quantile(lambda t: mmc_sojourn_cdf(c, lam, mu, t), p, scale=1.0 / mu)


def quantile(cdf: Callable[[float], float], p: float, scale: float) -> float:
    """The ``p``-quantile of a distribution on t >= 0 given its CDF; ``scale`` (s) is a first guess."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: {p} is not in (0, 1)")
    lo, hi = 0.0, scale
    while cdf(hi) < p:
        lo, hi = hi, hi * 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if cdf(mid) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


# --- M/M/c/K: a node whose RAM holds at most K requests ------------------------------------

MAX_CHAIN = 2_000_000  # states of a birth-death chain built in full


def mmck_distribution(c: int, k: int, lam: float, mu: float) -> list[float]:
    """Stationary probabilities of 0..k requests in an M/M/c/K node (birth-death chain)."""
    return mmck_probabilities(c, k, lam, mu).tolist()


def mmck_probabilities(c: int, k: int, lam: float, mu: float) -> np.ndarray:
    """Stationary probabilities (k + 1,) of 0..k requests in an M/M/c/K node, computed in logs."""
    if not 1 <= c <= k:
        raise ValueError(f"need 1 <= c <= k, got c={c}, k={k}")
    if k > MAX_CHAIN:
        raise ValueError(f"k: {k} states are too many to build (at most {MAX_CHAIN})")
    n = np.arange(1, k + 1)
    log_w = np.concatenate(([0.0], np.cumsum(np.log(lam / (mu * np.minimum(n, c)))))) if lam > 0 else None
    if log_w is None:
        probs = np.zeros(k + 1)
        probs[0] = 1.0
        return probs
    log_w -= log_w.max()
    w = np.exp(log_w)
    return w / w.sum()


def mmck_blocking(c: int, k: int, lam: float, mu: float) -> float:
    """Share of arrivals rejected by an M/M/c/K node: the stationary probability of state K."""
    return float(mmck_probabilities(c, k, lam, mu)[-1])


def mmck_mean_sojourn(c: int, k: int, lam: float, mu: float) -> float:
    """Mean time in system (s) of the requests an M/M/c/K node admits (Little's law)."""
    probs = mmck_probabilities(c, k, lam, mu)
    in_system = float(np.dot(np.arange(k + 1), probs))
    return in_system / (lam * (1.0 - probs[-1]))


def mmck_wait_probability(c: int, k: int, lam: float, mu: float) -> float:
    """Probability that an admitted request waits for a core in an M/M/c/K node (PASTA)."""
    probs = mmck_probabilities(c, k, lam, mu)
    return float(probs[c:k].sum() / (1.0 - probs[-1]))


def mmck_sojourn_cdf(c: int, k: int, lam: float, mu: float) -> Callable[[float], float]:
    """P(sojourn <= t) of the requests an M/M/c/K FIFO node admits, as a function of t (s).

    An admitted arrival finds n < K requests (PASTA, probability pi_n / (1 - pi_K)). With n < c
    it is served at once: Exp(mu). With n >= c it waits for m = n - c + 1 departures at rate c mu,
    an Erlang(m, c mu) wait W, then its own Exp(mu) service X. P(W + X <= t) =
    P(W <= t) - e^{-mu t} E[e^{mu W}; W <= t], and E[e^{mu W}; W <= t] = (c/(c-1))^m
    P(Erlang(m, (c-1) mu) <= t) for c > 1, (mu t)^m / m! for c = 1.
    """
    probs = mmck_probabilities(c, k, lam, mu)
    admitted = probs[:-1] / (1.0 - probs[-1])
    keep = admitted > 1e-15 * admitted.max()
    last = int(np.flatnonzero(keep)[-1]) + 1
    admitted = admitted[:last]
    no_wait = float(admitted[:c].sum())
    wait_weights = admitted[c:]
    m = np.arange(1, wait_weights.size + 1)

    def cdf(t: float) -> float:
        if t <= 0.0:
            return 0.0
        total = no_wait * -math.expm1(-mu * t)
        if wait_weights.size:
            p_w = _erlang_cdf(m, c * mu * t)
            if c > 1:
                log_e = m * math.log(c / (c - 1.0)) + _log_erlang_cdf(m, (c - 1) * mu * t)
            else:
                log_e = m * math.log(mu * t) - _log_factorial(m)
            both = np.clip(p_w - np.exp(np.minimum(log_e - mu * t, 0.0)), 0.0, 1.0)
            total += float(np.dot(wait_weights, both))
        return min(total, 1.0)

    return cdf


def _log_factorial(m: np.ndarray) -> np.ndarray:
    """log(m!) for an array of whole numbers m >= 0."""
    m = np.atleast_1d(np.asarray(m, dtype=np.int64))
    table = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, int(m.max(initial=0)) + 1)))))
    return table[m]


def _poisson_log_pmf(x: float, upto: int) -> np.ndarray:
    """log P(Poisson(x) = i) for i = 0..upto-1."""
    i = np.arange(upto)
    if x <= 0.0:
        out = np.full(upto, -np.inf)
        out[0] = 0.0
        return out
    return -x + i * math.log(x) - _log_factorial(i)


def _erlang_cdf(m: np.ndarray, x: float) -> np.ndarray:
    """P(Erlang(m, 1) <= x) for each m = 1..M (m must be 1..M in order): P(Poisson(x) >= m)."""
    below = np.cumsum(np.exp(_poisson_log_pmf(x, int(m[-1]))))  # P(Poisson <= m - 1)
    return np.clip(1.0 - below, 0.0, 1.0)


def _log_erlang_cdf(m: np.ndarray, x: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(_erlang_cdf(m, x))


# --- one core, general service: Pollaczek-Khinchine ----------------------------------------

def mg1_mean_sojourn(lam: float, mu: float, cv: float) -> float:
    """Mean time in system (s) of an M/G/1 queue whose service has mean 1/mu and coefficient of
    variation ``cv`` (0 deterministic, 1 exponential): 1/mu + lam (1 + cv^2) / (2 mu^2 (1 - rho))."""
    _check_stable(lam, mu, 1)
    rho = lam / mu
    return 1.0 / mu + lam * (1.0 + cv * cv) / (2.0 * mu * mu * (1.0 - rho))


# --- M/D/c: Crommelin ------------------------------------------------------------------------

MAX_MDC_STATES = 4096  # the largest chain solved (a 128 MB matrix); enough below rho = 0.99

@functools.lru_cache(maxsize=32)
def mdc_distribution(c: int, lam: float, mu: float) -> np.ndarray:
    """Stationary distribution of the number in an M/D/c system at an arbitrary time.

    With service exactly D = 1/mu, every request in service at t has left by t + D and no
    later arrival has, so N(t + D) = max(N(t) - c, 0) + A with A ~ Poisson(lam D) (Crommelin,
    1932). The chain is solved on 0..M, M sized so that the tail beyond it is about 1e-16.
    """
    _check_stable(lam, mu, c)
    a = lam / mu
    # the tail of N falls like z^-n, z > 1 the root of z^c = exp(a (z - 1)); size the chain to 1e-16
    lo, hi = 1.0 + 1e-9, 2.0
    while c * math.log(hi) > a * (hi - 1.0):
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if c * math.log(mid) > a * (mid - 1.0) else (lo, mid)
    size = min(MAX_MDC_STATES, int(37.0 / math.log(hi)) + 2 * c + 32)
    arrivals = np.exp(_poisson_log_pmf(a, size))
    base = np.maximum(np.arange(size) - c, 0)
    offset = np.arange(size)[None, :] - base[:, None]  # p[i, j] = P(A = j - max(i - c, 0))
    p = np.where(offset >= 0, arrivals[np.clip(offset, 0, size - 1)], 0.0)
    p[:, -1] += 1.0 - p.sum(axis=1)  # the truncated tail goes to the last state
    system = p.T - np.eye(size)
    system[-1, :] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.clip(np.linalg.solve(system, rhs), 0.0, None)
    pi /= pi.sum()
    pi.flags.writeable = False  # cached: shared by every caller
    return pi


def mdc_mean_sojourn(c: int, lam: float, mu: float) -> float:
    """Mean time in system (s) of M/D/c: 1/mu plus the mean wait E[max(N - c, 0)] / lam (Little)."""
    pi = mdc_distribution(c, lam, mu)
    waiting = float(np.dot(np.maximum(np.arange(pi.size) - c, 0), pi))
    return 1.0 / mu + waiting / lam


def mdc_wait_cdf(c: int, lam: float, mu: float) -> Callable[[float], float]:
    """P(wait <= x) for M/D/c FIFO, as a function of x (s) (Crommelin).

    Write x = (k - 1) D + y with 0 <= y < D. The arrival has waited at most x when, of the
    requests that arrived before it, at most kc - 1 were present D - y before it (less c) or came
    since: P(max(N - c, 0) + Poisson(lam (D - y)) <= kc - 1), N at an arbitrary time.
    """
    pi = mdc_distribution(c, lam, mu)
    d = 1.0 / mu
    ahead = np.maximum(np.arange(pi.size) - c, 0)
    queued = np.bincount(ahead, weights=pi)  # distribution of max(N - c, 0)
    cum_queued = np.cumsum(queued)

    def cdf(x: float) -> float:
        if x < 0.0:
            return 0.0
        k = int(x // d) + 1
        y = x - (k - 1) * d
        limit = k * c - 1
        arrivals = np.exp(_poisson_log_pmf(lam * (d - y), limit + 1))
        # sum over j arrivals of P(queued <= limit - j) P(A = j)
        idx = np.minimum(limit - np.arange(limit + 1), cum_queued.size - 1)
        return float(min(np.dot(arrivals, cum_queued[idx]), 1.0))

    return cdf


# --- GI/M/1 with Erlang-N arrivals: round-robin over N single-core nodes ------------------

def erlang_arrivals_sigma(n: int, lam_node: float, mu: float) -> float:
    """The root sigma in (0, 1) of sigma = A*(mu (1 - sigma)) for E_n/M/1 at ``lam_node`` req/s.

    A node that gets every n-th request of a Poisson stream of rate n lam_node sees Erlang-n
    gaps, whose Laplace transform is A*(s) = (n lam_node / (n lam_node + s))^n. sigma is the
    probability that an arrival waits; the sojourn is Exp(mu (1 - sigma)) (GI/M/1).
    """
    _check_stable(lam_node, mu, 1)
    total = n * lam_node

    def excess(sigma: float) -> float:  # positive below the root, negative between it and 1
        return math.exp(n * math.log(total / (total + mu * (1.0 - sigma)))) - sigma

    lo, hi = 0.0, 1.0 - 1e-15
    while excess(hi) >= 0.0 and hi > 0.5:
        hi = 1.0 - (1.0 - hi) * 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if excess(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def enm1_mean_sojourn(n: int, lam_node: float, mu: float) -> float:
    """Mean time in system (s) of E_n/M/1: 1 / (mu (1 - sigma))."""
    return 1.0 / (mu * (1.0 - erlang_arrivals_sigma(n, lam_node, mu)))


# --- power of d choices, mean-field ------------------------------------------------------

def _check_stable(lam: float, mu: float, c: int) -> None:
    if not (lam >= 0 and mu > 0 and lam < c * mu):
        raise ValueError(f"unstable or invalid queue: lam={lam}, mu={mu}, c={c} (need 0 <= lam < c*mu)")


def power_of_d_tail(rho: float, d: int = 2) -> np.ndarray:
    """Mean-field share s_k of single-core nodes holding at least k requests, k = 0, 1, ...

    s_k = rho^((d^k - 1)/(d - 1)) (Mitzenmacher; Vvedenskaya, Dobrushin and Karpelevich); d = 1 is
    random routing, s_k = rho^k. Cut where s_k < 1e-17.
    """
    _check_stable(rho, 1.0, 1)
    shares = [1.0]
    k = 1
    while True:
        exponent = k if d == 1 else (d**k - 1) // (d - 1)
        share = rho**exponent if rho > 0 else 0.0
        if share < 1e-17 or k > 100_000:
            return np.array(shares)
        shares.append(share)
        k += 1


def power_of_d_mean_sojourn(rho: float, mu: float, d: int = 2) -> float:
    """Mean sojourn (s) under power-of-d routing over many one-core nodes (mean-field limit, N -> inf).

    Each arrival samples ``d`` nodes and joins the one with fewer requests. The mean count per
    node is the sum of the tail shares s_k, k >= 1, and Little's law divides it by the per-node
    arrival rate rho*mu. d = 1 is random routing: M/M/1.
    """
    _check_stable(rho * mu, mu, 1)
    return float(power_of_d_tail(rho, d)[1:].sum()) / (rho * mu)


def power_of_d_sojourn_cdf(rho: float, mu: float, d: int = 2) -> Callable[[float], float]:
    """P(sojourn <= t) in the power-of-d mean-field limit, as a function of t (s).

    An arrival joins a node holding k requests with probability s_k^d - s_{k+1}^d (its least
    loaded of d samples) and then waits for k + 1 Exp(mu) services: Erlang(k + 1, mu).
    """
    tail = power_of_d_tail(rho, d)
    joins = tail**d - np.append(tail[1:], 0.0) ** d  # (K,) join a node with k = 0..K-1
    m = np.arange(1, joins.size + 1)

    def cdf(t: float) -> float:
        if t <= 0.0:
            return 0.0
        return float(min(np.dot(joins, _erlang_cdf(m, mu * t)), 1.0))

    return cdf
