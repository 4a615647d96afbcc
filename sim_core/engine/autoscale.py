"""Autoscaling decisions as pure functions: the Kubernetes HPA rule and a vertical ladder.

Nothing here touches the engine: a decision takes what was measured over the last
evaluation period (an ``Observation``) and the controller's memory, and returns the new
memory and a ``Decision`` (the desired node count and a reason). ``sim_core.engine.scaling``
measures, calls these every ``period_s`` seconds and carries the decisions out.

Horizontal rule (``hpa_decide``), following the Kubernetes Horizontal Pod Autoscaler:

- ratio = metric / target, where the metric is the mean utilization of the nodes in rotation
  (busy core-seconds over the period / (cores x period)) or the p95 latency (ms) of the
  requests completed in the period.
- Within the tolerance (|ratio - 1| <= tolerance) the recommendation is the current count.
- Otherwise the recommendation is ceil(ready x ratio): nodes still booting (or failed) are
  counted at zero load, as the HPA counts pods that are not ready yet on a scale-up; if that
  no longer differs from the current count by more than the tolerance, or points the other
  way, the recommendation is the current count.
- Scale-down stabilization: a recommendation below the current count is replaced by the
  highest recommendation of the last ``stabilization_s`` seconds (this one included).
- Scale-up limit: at most max(``scale_up_max_nodes``, ``scale_up_max_percent`` % of current)
  nodes more per period; then the count is clamped to ``min_nodes``..``max_nodes``.

Vertical rule (``vertical_decide``): a node whose utilization over a whole period in rotation
is above ``target_utilization`` is resized to the next larger rung of the ladder. It goes down
the ladder once, for the whole ``stabilization_s`` since it got its size, every period has
recommended a smaller rung: the smallest at which the same work stays under target x (1 -
``tolerance``); it takes the highest of those recommendations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim_core.scenario import Autoscaler, Rung

EPS = 1e-9  # ceil(7.000000000000001) must be 7: ratios come from floating-point division


@dataclass(frozen=True)
class Observation:
    """What the controller sees at time ``t`` (s) about the last evaluation period.

    ``current``: nodes it counts (every node not draining); ``ready``: those in rotation;
    ``utilization``: mean busy fraction 0..1 of the ready nodes; ``p95_ms``: p95 latency of
    the requests completed in the period (NaN when none completed).
    """

    t: float
    current: int
    ready: int
    utilization: float
    p95_ms: float


@dataclass(frozen=True)
class HpaMemory:
    """The recommendations (t, nodes) of the last stabilization window, oldest first."""

    recommendations: tuple[tuple[float, int], ...] = ()


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation: ``desired`` nodes (== ``current``: no change) and why."""

    t: float
    current: int
    desired: int
    metric: float  # the metric's value (utilization 0..1 or p95 ms)
    recommendation: int  # this period's recommendation, before stabilization and limits
    reason: str

    @property
    def changes(self) -> bool:
        return self.desired != self.current


def metric_of(config: Autoscaler, obs: Observation) -> tuple[float, float, str]:
    """(value, target, label) of the configured metric for ``obs``."""
    if config.metric == "p95_latency":
        return obs.p95_ms, config.target_p95_ms, "p95"
    return obs.utilization, config.target_utilization, "utilization"


def _figure(label: str, value: float) -> str:
    return f"{value:.0f} ms" if label == "p95" else f"{value:.2f}"


def recommend(config: Autoscaler, obs: Observation) -> int:
    """This period's recommendation (before stabilization, limits and min/max); see the module docstring."""
    value, target, _ = metric_of(config, obs)
    if math.isnan(value) or obs.ready == 0 or obs.current == 0:
        return obs.current  # no measurement: no change
    ratio = value / target
    if abs(ratio - 1.0) <= config.tolerance:
        return obs.current
    raw = obs.ready * ratio
    adjusted = raw / obs.current
    if ratio > 1.0 and adjusted <= 1.0 + config.tolerance:
        return obs.current  # the nodes already booting cover it
    return max(0, math.ceil(raw - EPS))


def hpa_decide(config: Autoscaler, memory: HpaMemory, obs: Observation) -> tuple[Decision, HpaMemory]:
    """One evaluation of the horizontal autoscaler at ``obs.t``; returns the decision and the new memory."""
    value, target, label = metric_of(config, obs)
    current = obs.current
    rec = recommend(config, obs)
    window = tuple((t, r) for t, r in memory.recommendations if t > obs.t - config.stabilization_s - EPS)
    window = (*window, (obs.t, rec))
    desired, note = rec, ""
    if rec < current:
        highest = max(r for _, r in window)
        if highest >= current:
            desired, note = current, f"held by the stabilization window ({config.stabilization_s:g} s)"
        elif highest > rec:
            desired, note = highest, f"highest recommendation of the last {config.stabilization_s:g} s"
    elif rec > current:
        limit = max(current + config.scale_up_max_nodes, math.ceil(current * (1 + config.scale_up_max_percent / 100)))
        if desired > limit:
            desired, note = limit, f"at most {limit - current} more per period"
    elif obs.ready < current and not math.isnan(value) and abs(value / target - 1.0) > config.tolerance:
        note = f"{current - obs.ready} not in rotation, counted as idle"
    if desired > config.max_nodes:
        desired, note = config.max_nodes, f"max_nodes {config.max_nodes}"
    if desired < config.min_nodes:
        desired, note = config.min_nodes, f"min_nodes {config.min_nodes}"
    if math.isnan(value):
        reason = f"no {label} measured: {current} nodes"
    else:
        relation = ">" if value > target else "<" if value < target else "="
        inside = abs(value / target - 1.0) <= config.tolerance
        band = f" (within the tolerance {config.tolerance:g})" if inside and desired == current else ""
        reason = (f"{label} {_figure(label, value)} {relation} target {_figure(label, target)}{band}: "
                  f"{current} -> {desired} nodes")
    if note:
        reason += f" ({note})"
    return Decision(obs.t, current, desired, value, rec, reason), HpaMemory(window)


@dataclass(frozen=True)
class Resize:
    """A vertical decision: node ``node`` goes to ``rung`` (it restarts); ``reason`` for the timeline."""

    t: float
    node: str
    rung: Rung
    reason: str


def next_rung(ladder: list[Rung], cores: int) -> Rung | None:
    """The smallest rung with more cores than ``cores``, or None at the top of the ladder."""
    for rung in ladder:
        if rung.cores > cores:
            return rung
    return None


def ladder_recommendation(config: Autoscaler, cores: int, utilization: float) -> int:
    """The cores one period recommends for a node of ``cores`` at ``utilization`` (0..1, NaN: hold).

    Above ``target_utilization``: the next rung up. Otherwise the smallest rung below at which the
    same work would keep it at or under target x (1 - ``tolerance``), so that the resize cannot
    itself push it over the target; else its own size.
    """
    if math.isnan(utilization):
        return cores
    if utilization > config.target_utilization:
        rung = next_rung(config.ladder, cores)
        return cores if rung is None else rung.cores
    limit = config.target_utilization * (1.0 - config.tolerance)
    fits = [r.cores for r in config.ladder if r.cores < cores and utilization * cores / r.cores <= limit + EPS]
    return min(fits, default=cores)


@dataclass(frozen=True)
class LadderMemory:
    """Per node name: since when (s) it has had its size, and the ladder recommendations (t, cores)
    of the last stabilization window at that size, oldest first."""

    since: tuple[tuple[str, float], ...] = ()
    recommendations: tuple[tuple[str, tuple[tuple[float, int], ...]], ...] = ()


def vertical_decide(config: Autoscaler, memory: LadderMemory, t: float,
                    nodes: list[tuple[str, int, float]]) -> tuple[list[Resize], LadderMemory]:
    """One evaluation of the vertical autoscaler at ``t`` (s) for the nodes (name, cores, utilization
    over the last period, NaN when not in rotation all period); returns the resizes and the new memory.

    Up the ladder at once when a period is above the target; down only when the node has had its
    size for ``stabilization_s`` and every recommendation of that window says smaller (to the highest
    of them), so a steady load does not flap.
    """
    since, history = dict(memory.since), dict(memory.recommendations)
    window_s = config.stabilization_s
    resizes = []
    for name, cores, utilization in nodes:
        start = since.setdefault(name, t - config.period_s)  # first seen: observed over the last period
        rec = ladder_recommendation(config, cores, utilization)
        window = (*(x for x in history.get(name, ()) if x[0] > t - window_s - EPS), (t, rec))
        history[name] = window
        if rec > cores:
            reason = (f"{name} utilization {utilization:.2f} > target {config.target_utilization:.2f}: "
                      f"{cores} -> {rec} CPU (restarts)")
        elif rec < cores and t - start >= window_s - EPS and max(r for _, r in window) < cores:
            rec = max(r for _, r in window)
            limit = config.target_utilization * (1.0 - config.tolerance)
            reason = (f"{name} low for {window_s:g} s (utilization {utilization:.2f}, {utilization * cores / rec:.2f} "
                      f"on {rec} CPU <= {limit:.2f}, the target less the tolerance): {cores} -> {rec} CPU (restarts)")
        else:
            continue
        resizes.append(Resize(t, name, next(r for r in config.ladder if r.cores == rec), reason))
        since[name], history[name] = t, ()
    return resizes, LadderMemory(tuple(since.items()), tuple(history.items()))
