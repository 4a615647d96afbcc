"""Challenges: judge a run against its scenario's ``goals``, live and at the end.

A ``Judge`` takes every engine Snapshot of a run (``add``) and says for each target whether
it is ``pending``, ``met`` or ``failed``, with the figure measured so far over the target's
span. Targets over a span (served req/s, p99, availability, cost per hour) are decided when
the span ends; ``lost`` and ``rejected`` fail as soon as their count passes the limit.
``survive_failure`` needs one extra run per node (that node fails at ``from_s`` and stays
down): ``judge_run`` does those at the end. ``check_rules`` compares a submitted scenario with
the challenge it answers: only the allowed changes, within the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_core.engine import stats
from sim_core.scenario import Event, Goal, Goals, Scenario

PENDING, MET, FAILED = "pending", "met", "failed"
_EPS = 1e-9

_LABELS = {
    "served_rps": ("served", "req/s"),
    "p99_ms": ("p99 latency", "ms"),
    "availability_pct": ("availability", "%"),
    "cost_per_hour": ("cost", "$/h"),
    "lost": ("lost requests", ""),
    "rejected": ("rejected requests (503)", ""),
    "survive_failure": ("availability with any one node failed", "%"),
}


def _number(metric: str, value: float) -> str:
    if math.isnan(value):
        return "-"
    if metric == "cost_per_hour":
        return f"{value:.4f}"
    if metric in ("lost", "rejected"):
        return f"{value:.0f}"
    if metric in ("availability_pct", "survive_failure"):
        return f"{value:.2f}"
    return f"{value:.1f}"


def describe(goal: Goal, duration_s: float) -> str:
    """The target in words, e.g. ``p99 latency at most 500 ms, 10..120 s``."""
    label, unit = _LABELS[goal.metric]
    bound = "at least" if goal.at_least is not None else "at most"
    end = goal.to_s if goal.to_s is not None else duration_s
    span = "" if goal.from_s == 0 and end == duration_s else f", {goal.from_s:g}..{end:g} s"
    return f"{label} {bound} {_number(goal.metric, goal.threshold)}{(' ' + unit) if unit else ''}{span}"


@dataclass(frozen=True)
class Verdict:
    """One target's state: ``status`` (pending/met/failed) and the ``measured`` figure (NaN: none yet)."""

    goal: Goal
    status: str
    measured: float
    text: str  # what the target asks
    detail: str = ""  # e.g. which node's failure was the worst

    def figure(self) -> str:
        """The measured figure with its unit, e.g. ``312.4 ms`` (``-``: nothing measured yet)."""
        unit = _LABELS[self.goal.metric][1]
        text = _number(self.goal.metric, self.measured)
        return text + (f" {unit}" if unit and not math.isnan(self.measured) else "")

    def line(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.status.upper():<8} {self.text}: measured {self.figure()}{extra}"


@dataclass
class _Span:
    """What happened inside one target's span so far: counts, cost and a histogram of the completed
    requests' latencies (``sim_core.engine.stats`` bins, so p99 is within 0.4% and memory stays flat)."""

    seconds: float = 0.0
    served: int = 0
    rejected: int = 0
    lost: int = 0
    cost: float = 0.0  # $
    latency_counts: np.ndarray | None = None  # (stats.N_BINS,) int64, made on the first latencies
    latency_sum: float = 0.0  # s


class Judge:
    """Judges one run against ``goals``; feed it every Snapshot of the run in order."""

    def __init__(self, goals: Goals, duration_s: float):
        self.goals = goals
        self.duration_s = duration_s
        self.t = 0.0
        self._spans = [_Span() for _ in goals.targets]
        self._extra: dict[int, tuple[float, str]] = {}  # survive_failure results: index -> (worst %, detail)

    def end_of(self, goal: Goal) -> float:
        return goal.to_s if goal.to_s is not None else self.duration_s

    def add(self, snap) -> None:
        """Count one engine step (a Snapshot ending at ``snap.t`` and lasting ``snap.dt``)."""
        self.t = snap.t
        for goal, span in zip(self.goals.targets, self._spans, strict=True):
            if not goal.from_s + _EPS < snap.t <= self.end_of(goal) + _EPS:
                continue
            span.seconds += snap.dt
            span.served += round(snap.served * snap.dt)
            span.rejected += round(snap.rejected * snap.dt)
            span.lost += round(snap.lost * snap.dt)
            span.cost += snap.cost_per_hour * snap.dt / 3600.0
            if goal.metric == "p99_ms" and snap.latencies.size:
                if span.latency_counts is None:
                    span.latency_counts = np.zeros(stats.N_BINS, dtype=np.int64)
                span.latency_counts += np.bincount(stats.bin_index(snap.latencies), minlength=stats.N_BINS)
                span.latency_sum += float(snap.latencies.sum())

    def measured(self, i: int) -> float:
        goal, span = self.goals.targets[i], self._spans[i]
        metric = goal.metric
        if metric == "survive_failure":
            return self._extra.get(i, (math.nan, ""))[0]
        if metric == "lost":
            return float(span.lost)
        if metric == "rejected":
            return float(span.rejected)
        if span.seconds <= 0:
            return math.nan
        if metric == "served_rps":
            return span.served / span.seconds
        if metric == "cost_per_hour":
            return span.cost * 3600.0 / span.seconds
        if metric == "availability_pct":
            ended = span.served + span.rejected + span.lost
            return 100.0 * span.served / ended if ended else math.nan
        if span.latency_counts is None:
            return math.nan
        return stats.summarize(span.latency_counts, span.latency_sum).p99 * 1000.0

    def verdicts(self) -> list[Verdict]:
        """Each target's verdict now: decided once its span is over (or a count limit is passed)."""
        out = []
        for i, goal in enumerate(self.goals.targets):
            value = self.measured(i)
            over = self.t >= self.end_of(goal) - 1e-6
            ok = (not math.isnan(value)) and (value >= goal.at_least - _EPS if goal.at_least is not None
                                              else value <= goal.at_most + _EPS)
            if goal.metric in ("lost", "rejected") and not ok:
                status = FAILED
            elif goal.metric == "survive_failure":
                status = (MET if ok else FAILED) if i in self._extra else PENDING
            elif over:
                status = MET if ok else FAILED
            else:
                status = PENDING
            out.append(Verdict(goal, status, value, describe(goal, self.duration_s), self._extra.get(i, (0, ""))[1]))
        return out

    @property
    def over(self) -> bool:
        """True once every target's span has ended (the run may still go on)."""
        return all(self.t >= self.end_of(goal) - 1e-6 for goal in self.goals.targets)

    def needs_extra_runs(self) -> bool:
        """True when a ``survive_failure`` target still waits for its extra runs (see ``finish``)."""
        return any(g.metric == "survive_failure" and i not in self._extra for i, g in enumerate(self.goals.targets))

    def set_failure_result(self, i: int, worst_pct: float, detail: str) -> None:
        """Record the outcome of target i's extra runs (``survive_failure``)."""
        self._extra[i] = (worst_pct, detail)


def all_met(verdicts: list[Verdict]) -> bool:
    return all(v.status == MET for v in verdicts)


def make_simulation(scenario: Scenario, seed: int | None = None, **kwargs):
    """The simulation a scenario needs: a ScalingSimulation (it runs the autoscaler, if any)."""
    from sim_core.engine.scaling import ScalingSimulation

    return ScalingSimulation(scenario, seed=seed, **kwargs)


def worst_single_failure(scenario: Scenario, goal: Goal, seed: int | None = None,
                         dt: float = 0.1) -> tuple[float, str]:
    """Run the scenario once per node with that node failing at ``goal.from_s`` and staying down.

    Returns the lowest availability (%) over the goal's span, and which node's failure gave it.
    """
    span_goal = goal.model_copy(update={"metric": "availability_pct"})
    worst, worst_node = math.inf, ""
    for node in scenario.nodes:
        failing = scenario.model_copy(update={
            "events": [*scenario.events, Event(at_s=goal.from_s, action="fail", node=node.name)],
        })
        judge = Judge(Goals(targets=[span_goal]), scenario.duration_s)
        sim = make_simulation(failing, seed=seed)
        end = judge.end_of(span_goal)
        while sim.t < end - 1e-9:
            judge.add(sim.step(min(dt, end - sim.t)))
        value = judge.measured(0)
        if math.isnan(value):
            value = 0.0
        if value < worst:
            worst, worst_node = value, node.name
    return worst, f"worst: {worst_node} failed"


def finish(judge: Judge, scenario: Scenario, seed: int | None = None, dt: float = 0.1) -> list[Verdict]:
    """The final verdicts of a run that has ended: the extra runs of ``survive_failure`` included."""
    for i, goal in enumerate(judge.goals.targets):
        if goal.metric == "survive_failure" and i not in judge._extra and judge.t >= goal.from_s:
            judge.set_failure_result(i, *worst_single_failure(scenario, goal, seed, dt))
    return judge.verdicts()


def judge_run(scenario: Scenario, seed: int | None = None, dt: float = 0.1) -> list[Verdict]:
    """Run a challenge scenario for its duration and return every target's final verdict."""
    if scenario.goals is None:
        raise ValueError("the scenario has no goals")
    judge = Judge(scenario.goals, scenario.duration_s)
    sim = make_simulation(scenario, seed=seed)
    while sim.t < scenario.duration_s - 1e-9:
        judge.add(sim.step(min(dt, scenario.duration_s - sim.t)))
    return finish(judge, scenario, seed, dt)


# --- the rules: what a player may change ----------------------------------------------------

def max_cost_per_hour(scenario: Scenario) -> float:
    """The most the cluster can cost per hour: its nodes, plus what its autoscaler may add or grow."""
    cost = sum(node.price_per_hour for node in scenario.nodes)
    auto = scenario.autoscaler
    if auto is not None and auto.kind == "horizontal":
        cost += max(0, auto.max_nodes - len(scenario.nodes)) * auto.template.price_per_hour
    elif auto is not None:
        top = max(rung.price_per_hour for rung in auto.ladder)
        cost = sum(max(node.price_per_hour, top) for node in scenario.nodes)
    return cost


def check_rules(challenge: Scenario, submitted: Scenario) -> list[str]:
    """What ``submitted`` changed that ``challenge``'s goals do not allow, one line each (empty: fair)."""
    goals = challenge.goals
    if goals is None:
        return ["the challenge has no goals"]
    problems = []
    allowed = set(goals.allowed)
    fixed = {"workload": "the traffic", "events": "the events", "goals": "the goals", "duration_s": "the duration",
             "seed": "the seed"}
    for key, words in fixed.items():
        if getattr(submitted, key) != getattr(challenge, key):
            problems.append(f"{key}: {words} may not be changed")
    before = {node.name: node for node in challenge.nodes}
    after = {node.name: node for node in submitted.nodes}
    if "nodes" not in allowed and set(before) != set(after):
        problems.append("nodes: adding or removing nodes is not allowed in this challenge")
    if "resize" not in allowed:
        for name in set(before) & set(after):
            a, b = before[name], after[name]
            if (a.cores, a.ram_gb, a.storage_gb, a.core_speed) != (b.cores, b.ram_gb, b.storage_gb, b.core_speed):
                problems.append(f"nodes: resizing {name} is not allowed in this challenge")
        if "nodes" in allowed and challenge.nodes:
            sizes = {(n.cores, n.ram_gb, n.storage_gb, n.core_speed, n.price_per_hour) for n in challenge.nodes}
            for name in set(after) - set(before):
                n = after[name]
                if (n.cores, n.ram_gb, n.storage_gb, n.core_speed, n.price_per_hour) not in sizes:
                    problems.append(f"nodes: {name} is not one of the challenge's node sizes")
    if "policy" not in allowed and submitted.balancer != challenge.balancer:
        problems.append("balancer: changing the balancer is not allowed in this challenge")
    if "autoscaler" not in allowed and submitted.autoscaler != challenge.autoscaler:
        problems.append("autoscaler: changing the autoscaler is not allowed in this challenge")
    if goals.budget_per_hour is not None:
        cost = max_cost_per_hour(submitted)
        if cost > goals.budget_per_hour + _EPS:
            problems.append(f"budget: the cluster can cost {cost:.4f} $/h, over the budget of "
                            f"{goals.budget_per_hour:.4f} $/h")
    return problems
