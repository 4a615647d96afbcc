"""What queueing theory predicts for a cluster, or why no closed form applies.

``predict(source, t=None)`` takes a Scenario (its nodes, balancer and workload as written) or a
running Simulation (its current view: nodes up and in rotation, resized specs) and returns a
frozen ``Prediction``: the model ("M/M/4: Erlang C"), the assumptions, the formula, and per node
and for the cluster the utilization, mean and p50/p95/p99 sojourn (s), the probability of
waiting and the share rejected because RAM is full. When no result applies (the rate is
ramping, a failure is in progress, heterogeneous least-connections, overload), ``reason`` says
which assumption fails and the figures are NaN; in overload ``growth_rps`` says how fast the
queue grows (arrivals minus capacity, requests/s).

How routing maps onto queues (see ../shared engine notes in the README):
- ``random``: each node in rotation gets an independent Poisson stream at lam/m: exact.
- ``round_robin``: each node gets every m-th request: Erlang-m gaps. One core: E_m/M/1 by the
  GI/M/1 root, exact. More cores: M/M/c at lam/m is an upper bound (regular arrivals queue less).
- ``weighted``: the engine interleaves nodes deterministically by cores, not by coin flips. Equal
  cores: it is round-robin. Otherwise M/M/c at each node's share is an upper bound.
- ``power_of_two``: identical one-core nodes, exponential service: the mean-field limit
  (exact as N -> inf; the engine samples two distinct nodes, which matters less as N grows).
- ``least_connections``: identical nodes: the pooled M/M/(sum of cores) is a lower bound
  (one shared queue is the best any router can do). Heterogeneous nodes: no result.
One node gets the whole Poisson stream whatever the policy. The closed forms themselves live in
``sim_core.theory.queueing`` (re-exported here) and ``sim_core.theory.node_models``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_core.engine.failures import has_failures
from sim_core.scenario import RampShape, Scenario, StepShape, WaveShape
from sim_core.theory import queueing
from sim_core.theory.node_models import (
    EXACT,
    LOWER,
    MEAN_FIELD,
    NEGLIGIBLE,
    UPPER,
    NodeTheory,
    NoTheoryError,
    node_queue,
    service_cv,
)
from sim_core.theory.queueing import *  # noqa: F403  (the closed forms: theory.erlang_c, theory.mmck_blocking, ...)

QUANTILES = (0.50, 0.95, 0.99)
SETTLE_WINDOWS = 1.0  # after a rate change, wait this many 10 s windows plus the relaxation time

FORMULAS = {
    "Erlang C": "T = 1/mu + C(c, a) / (c mu - lam),  a = lam/mu,  C = Erlang C; the wait is Exp(c mu - lam)",
    "birth-death chain": "pi_n ~ a^n / (n! or c! c^(n-c)), n <= K;  rejected = pi_K;  T = L / (lam (1 - pi_K))",
    "Erlang B": "rejected = B(c, a) = (a^c / c!) / sum_{n<=c} a^n / n!;  T = one service time",
    "Pollaczek-Khinchine": "T = 1/mu + lam (1 + cv^2) / (2 mu^2 (1 - rho))",
    "Crommelin": "N(t + D) = max(N(t) - c, 0) + Poisson(lam D);  T = D + E[max(N - c, 0)] / lam",
    "Pollaczek-Khinchine, Crommelin": "T = 1/mu + lam (1 + cv^2) / (2 mu^2 (1 - rho)), cv = 0;"
                                      "  quantiles from N(t + D) = max(N(t) - 1, 0) + Poisson(lam D)",
    "GI/M/1": "sigma = (m lam / (m lam + mu (1 - sigma)))^m;  T ~ Exp(mu (1 - sigma))",
    "Erlang C (Poisson arrivals queue more)": "T <= 1/mu + C(c, a) / (c mu - lam)  (Erlang C at the node's share)",
    "mean-field": "s_k = rho^(2^k - 1);  T = sum_{k>=1} s_k / lam_node;  joins k with prob s_k^2 - s_{k+1}^2",
    "pooled": "T >= 1/mu + C(N c, a) / (N c mu - lam)  (one shared queue for all cores)",
}


@dataclass(frozen=True)
class NodeFigures:
    """One node's prediction, named."""

    name: str
    theory: NodeTheory


@dataclass(frozen=True)
class Prediction:
    """What theory says about the cluster, or ``reason`` why nothing applies. Times in seconds,
    rates in requests/s; NaN where not known (e.g. quantiles of M/G/1)."""

    model: str
    kind: str  # "exact", "upper bound", "lower bound", "mean-field (N -> inf)", or "" with a reason
    assumptions: tuple[str, ...]
    formula: str
    reason: str = ""
    offered_rps: float = math.nan
    utilization: float = math.nan  # mean over the nodes in rotation
    mean_s: float = math.nan
    p50_s: float = math.nan
    p95_s: float = math.nan
    p99_s: float = math.nan
    wait_probability: float = math.nan
    rejection: float = math.nan  # share of offered requests rejected because RAM is full
    growth_rps: float = 0.0
    nodes: tuple[NodeFigures, ...] = ()

    @property
    def applies(self) -> bool:
        return not self.reason

    def describe(self) -> str:
        """A few lines for a person: the model and kind, or the reason; then the assumptions."""
        if not self.applies:
            return f"no closed form: {self.reason}"
        lines = [f"{self.model} ({self.kind})", f"formula: {self.formula}"]
        lines += [f"assumes: {a}" for a in self.assumptions]
        return "\n".join(lines)


def _none(reason: str, assumptions: tuple[str, ...] = (), growth: float = 0.0, offered: float = math.nan) -> Prediction:
    return Prediction("", "", assumptions, "", reason=reason, growth_rps=growth, offered_rps=offered)


def predict(source, t: float | None = None) -> Prediction:
    """The prediction for a Scenario or a running Simulation (duck-typed: ``params``, ``state``,
    ``scenario``, ``t``). ``t`` (s): the moment to predict for (a Simulation's own time by
    default; for a Scenario, None means the whole run)."""
    from sim_core.engine.state import DOWN, UP, params_from_scenario

    if isinstance(source, Scenario):
        scenario, params = source, params_from_scenario(source)
        names = [n.name for n in scenario.nodes]
        active = np.ones(len(names), dtype=bool)
        if t is None and getattr(scenario, "autoscaler", None) is not None:
            return _none("an autoscaler resizes the cluster during the run: no single steady state (the window "
                         "predicts for the cluster of the moment)")
        if t is None and has_failures(scenario):
            return _none("nodes fail at random (mtbf_s/mttr_s): the run mixes the full cluster with failures "
                         "in progress; see the availability figures")
        if scenario.events and (t is None or any(e.at_s <= t for e in scenario.events)):
            first = min(scenario.events, key=lambda e: e.at_s)
            return _none(f"the scenario's events ({first.action} {first.node} at {first.at_s:g} s, ...) change "
                         "the cluster during the run: no single steady state")
    else:
        scenario, params, state = source.scenario, source.params, source.state
        t = source.t if t is None else t
        names = [n.name for n in scenario.nodes][: params.n]
        busy = [names[j] for j in range(params.n)
                if np.isfinite(state.route_at[j]) or np.isfinite(state.up_at[j])
                or (state.state[j] == DOWN and state.routable[j])]
        if busy:
            return _none(f"failure or restart in progress ({', '.join(busy[:3])}): the balancer's view of "
                         "the cluster is changing")
        active = (state.state == UP) & state.routable
    rate, why = _steady_rate(scenario, t)
    if why:
        return _none(why)
    return predict_cluster(params, names, active, rate)


def _steady_rate(scenario: Scenario, t: float | None) -> tuple[float, str]:
    """The constant arrival rate at ``t``, or a reason why the rate is not steady there."""
    workload = scenario.workload
    shape = workload.shape
    base = workload.rate
    if isinstance(shape, WaveShape):
        return (base, "") if shape.amplitude == 0 else (base, "the rate follows a wave: no steady state")
    if isinstance(shape, RampShape):
        change = f"the rate ramps from {base:g} to {shape.to_rate:g} req/s between {shape.start_s:g} and " \
                 f"{shape.end_s:g} s"
        if t is None or shape.start_s <= t < shape.end_s + _settle_s():
            return base, f"{change}: no steady state" + ("" if t is None else " yet")
        return (base if t < shape.start_s else shape.to_rate), ""
    if isinstance(shape, StepShape):
        end = math.inf if shape.duration_s == 0 else shape.at_s + shape.duration_s
        change = f"the rate steps to {shape.to_rate:g} req/s at {shape.at_s:g} s"
        if t is None:
            return base, f"{change}: no single steady state"
        if shape.at_s <= t < min(end, shape.at_s + _settle_s()):
            return base, f"{change}: the queues have not settled"
        if end <= t < end + _settle_s():
            return base, f"{change} and back at {end:g} s: the queues have not settled"
        return (shape.to_rate if shape.at_s <= t < end else base), ""
    return base, ""


def _settle_s() -> float:
    from sim_core.engine.state import WINDOW_S

    return SETTLE_WINDOWS * WINDOW_S


def predict_cluster(params, names: list[str], active: np.ndarray, rate: float) -> Prediction:
    """Steady-state prediction for the nodes where ``active`` (n,) is True, offered ``rate`` req/s.

    ``params`` is the engine's ClusterParams (cores, speed, capacity, policy, workload).
    """
    workload = params.workload
    cv = service_cv(workload.service, workload.service_cv)
    mu = params.speed / (workload.cpu_time_ms / 1000.0)  # (n,) requests/s per core
    idx = np.flatnonzero(active)
    m = idx.size
    if m == 0:
        return _none("no node is in rotation: the balancer rejects every request", offered=rate)
    policy = params.policy if m > 1 else "one node"
    base = [f"Poisson arrivals at {rate:g} req/s", f"{workload.service} CPU time, mean {workload.cpu_time_ms:g} ms"
            + (f", cv {cv:g}" if workload.service == "lognormal" else ""),
            "FIFO; the cores of a node share one queue", "steady state (the warm-up is over)"]
    if m < len(names):
        down = [names[j] for j in range(len(names)) if not active[j]]
        base.append(f"out of rotation: {', '.join(down)}")
    cores, capacity = params.cores[idx], params.capacity[idx]
    identical = bool(np.all(cores == cores[0]) and np.all(mu[idx] == mu[idx[0]]) and np.all(capacity == capacity[0]))
    try:
        if policy in ("random", "one node") or (policy == "weighted" and not np.all(cores == cores[0])):
            kind = EXACT if policy != "weighted" else UPPER
            share = cores / cores.sum() if policy == "weighted" else np.full(m, 1.0 / m)
            if policy == "weighted":
                base.append("weighted interleaves nodes by cores (regular gaps), bounded by coin-flip routing")
            else:
                base.append("each node gets an independent Poisson share" if m > 1 else "one node")
            per_node = [node_queue(int(cores[i]), mu[j], int(capacity[i]), rate * share[i], workload.service, cv,
                                   kind=kind) for i, j in enumerate(idx)]
        elif policy in ("round_robin", "weighted"):
            base.append(f"each node gets every {m}-th request: Erlang-{m} gaps")
            per_node = [node_queue(int(cores[i]), mu[j], int(capacity[i]), rate / m, workload.service, cv,
                                   erlang_m=m) for i, j in enumerate(idx)]
        elif policy == "power_of_two":
            per_node = _power_of_two(identical, cores, mu[idx], capacity, rate, workload.service, m)
            base.append("each arrival joins the shorter of two sampled nodes; N -> inf limit")
        else:
            per_node = _least_connections(identical, cores, mu[idx], capacity, rate, workload.service, cv, m)
            base.append("one queue for all cores bounds any router from below")
    except NoTheoryError as exc:
        if exc.growth_rps <= 0:
            return _none(str(exc), tuple(base), offered=rate)
        return _overload(params, idx, mu[idx], rate, tuple(base))
    nodes = tuple(NodeFigures(names[j], nt) for j, nt in zip(idx, per_node, strict=True))
    if any(nt.rejection > 0 for nt in per_node):
        base.append(f"RAM holds {', '.join(sorted({str(int(k)) for k in capacity}))} requests per node; "
                    "arrivals beyond are rejected")
    return _combine(nodes, tuple(base), policy, m, rate)


def _overload(params, idx: np.ndarray, mu: np.ndarray, rate: float, assumptions: tuple[str, ...]) -> Prediction:
    """The reason text when the arrivals exceed what the cores can serve."""
    cap = float(np.dot(params.cores[idx], mu))
    shares = params.cores[idx] / params.cores[idx].sum() if params.policy == "weighted" else 1.0 / idx.size
    excess = np.maximum(rate * shares - params.cores[idx] * mu, 0.0)
    growth = float(excess.sum()) if params.policy in ("random", "round_robin", "weighted") else max(rate - cap, 0.0)
    ram = int(params.capacity[idx].sum())
    reason = (f"utilization >= 1: {rate:.4g} req/s offered to {cap:.4g} req/s of cores, so the queues grow "
              f"without bound at {growth:.4g} req/s until RAM ({ram} requests) is full, in about {ram / growth:.3g} s; "
              f"then at least {100.0 * max(rate - cap, 0.0) / rate:.1f}% are rejected")
    return _none(reason, assumptions, growth, rate)


def _power_of_two(identical, cores, mu, capacity, rate, service, m) -> list[NodeTheory]:
    if not identical or int(cores[0]) != 1 or service != "exponential":
        raise NoTheoryError("power-of-two has a closed form (mean-field) only for identical one-core nodes with "
                       "exponential service")
    mu0, lam = float(mu[0]), rate / m
    rho = lam / mu0
    if rho >= 1.0:
        raise NoTheoryError(f"utilization >= 1: the queues grow without bound at {rate - m * mu0:.4g} req/s",
                       rate - m * mu0)
    tail = queueing.power_of_d_tail(rho, 2)
    k = int(capacity[0])
    if k < tail.size and tail[k] > NEGLIGIBLE:
        raise NoTheoryError(f"RAM caps each node at {k} requests and would reject some: no closed form here")
    nt = NodeTheory("M/M/1", "mean-field", MEAN_FIELD, lam, mu0, rho, queueing.power_of_d_mean_sojourn(rho, mu0),
                    rho**2, 0.0, queueing.power_of_d_sojourn_cdf(rho, mu0))
    return [nt] * m


def _least_connections(identical, cores, mu, capacity, rate, service, cv, m) -> list[NodeTheory]:
    if not identical:
        raise NoTheoryError("least-connections over nodes of different sizes has no closed form (the pooled "
                       "M/M/c bound needs identical nodes)")
    if service != "exponential":
        raise NoTheoryError(f"least-connections with {service} service has no closed form here")
    pooled = node_queue(int(cores.sum()), float(mu[0]), int(capacity.sum()), rate, service, cv, kind=LOWER)
    share = rate / m
    per = NodeTheory(f"M/M/{int(cores.sum())}", "pooled", LOWER, share, float(cores[0] * mu[0]), pooled.utilization,
                     pooled.mean_s, pooled.wait_probability, pooled.rejection, pooled.cdf)
    return [per] * m


def _combine(nodes: tuple[NodeFigures, ...], assumptions: tuple[str, ...], policy: str, m: int,
             rate: float) -> Prediction:
    theories = [n.theory for n in nodes]
    admitted = np.array([nt.arrival_rps * (1.0 - nt.rejection) for nt in theories])
    weights = admitted / admitted.sum() if admitted.sum() > 0 else np.full(len(theories), 1.0 / len(theories))
    mean = float(np.dot(weights, [nt.mean_s for nt in theories]))
    wait = float(np.dot(weights, [nt.wait_probability for nt in theories]))
    rejected = float(sum(nt.arrival_rps * nt.rejection for nt in theories) / rate) if rate > 0 else 0.0
    quantiles = [math.nan] * len(QUANTILES)
    if all(nt.cdf is not None for nt in theories):
        if len({id(nt) for nt in theories}) == 1 or all(nt == theories[0] for nt in theories):
            cdf = theories[0].cdf
        else:
            cdfs = [(w, nt.cdf) for w, nt in zip(weights, theories, strict=True) if w > 0]

            def cdf(t: float) -> float:
                return sum(w * f(t) for w, f in cdfs)
        quantiles = [queueing.quantile(cdf, p, scale=max(mean, 1e-9)) for p in QUANTILES]
    kinds = {nt.kind for nt in theories}
    kind = kinds.pop() if len(kinds) == 1 else UPPER
    first = theories[0]
    model = _model_name(first, policy, m, nodes)
    return Prediction(
        model=model, kind=kind, assumptions=assumptions, formula=FORMULAS.get(first.method, first.method),
        offered_rps=rate, utilization=float(np.mean([nt.utilization for nt in theories])),
        mean_s=mean, p50_s=quantiles[0], p95_s=quantiles[1], p99_s=quantiles[2], wait_probability=wait,
        rejection=rejected, nodes=nodes,
    )


def _model_name(first: NodeTheory, policy: str, m: int, nodes: tuple[NodeFigures, ...]) -> str:
    if m == 1:
        return f"{first.model}: {first.method}"
    if policy == "least_connections":
        return f"least connections >= pooled {first.model}: Erlang C"
    if policy == "power_of_two":
        return f"power of two over {m} x M/M/1: mean-field"
    same = all(n.theory.model == first.model for n in nodes)
    label = f"{m} x {first.model}" if same else " + ".join(n.theory.model for n in nodes)
    return f"{label} ({policy.replace('_', '-')}): {first.method}"


def compare_lines(prediction: Prediction, mean_s: float, p99_s: float, rejected_share: float) -> list[str]:
    """Lines for ``scalelab run``: the theory's mean and p99 (and rejection, where RAM caps a node)
    beside the measured figures, or the reason no closed form applies."""
    if not prediction.applies:
        return [f"theory: no closed form: {prediction.reason}"]
    lines = [f"theory: {prediction.model} ({prediction.kind})"]
    rows = [("latency mean", prediction.mean_s, mean_s), ("latency p99", prediction.p99_s, p99_s)]
    for label, predicted, measured in rows:
        text = "-" if math.isnan(predicted) else f"{1000.0 * predicted:.1f}"
        got = "-" if math.isnan(measured) else f"{1000.0 * measured:.1f}"
        lines.append(f"  {label:<20}{text:>10}  ms   (measured {got})")
    if prediction.rejection >= 1e-4:
        lines.append(f"  {'rejected':<20}{100.0 * prediction.rejection:>10.2f}  %    (measured "
                     f"{100.0 * rejected_share:.2f})")
    return lines
