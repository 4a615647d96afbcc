"""A Simulation whose scenario's autoscaler acts on it while it runs, and nodes that drain.

``ScalingSimulation`` is a ``Simulation`` (same ``step``/``step_to``/``act``/checkpoints) that,
at the start of each step, removes the draining nodes that hold no request any more and, once
``autoscaler.period_s`` seconds have passed since its last evaluation, measures that period and
carries out the decision of ``sim_core.engine.autoscale``: adding copies of the template (they boot for
``restart_s``, then pass a health check before they get traffic), draining nodes to remove them,
or resizing a node up or down the ladder (a restart). Each decision that changes something is
kept in ``decisions`` (a ``ScaleRecord``: time, reason, actions) and as timeline Events with
their reason in ``scaling_events``.

The decisions are derived from the run, not inputs to it: the timeline a session saves holds
the scenario's and the user's events, and the autoscaler section makes the same decisions
again on replay. Checkpoints carry the controller's state, so a restored run decides the same.

Timing: whatever steps the caller takes, each step is cut at the instants the controller acts:
every ``period_s`` seconds from the last evaluation, and when a draining node's last request
departs (it is paid for until then and removed at that instant).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import numpy as np

from sim_core.challenge import Judge
from sim_core.engine.autoscale import Decision, HpaMemory, LadderMemory, Observation, hpa_decide, vertical_decide
from sim_core.engine.simulation import Checkpoint, Simulation
from sim_core.engine.state import DOWN, UP, Snapshot
from sim_core.engine.step import drain_node, drained_at
from sim_core.scenario import Event, Node, Scenario, ScenarioError

MAX_NAME = 40  # Node.name's limit


@dataclass(frozen=True)
class ScaleAction:
    """One thing a decision does: ``add`` a node (``spec``), ``drain`` one for removal, or
    ``resize`` one (``spec`` is its new spec)."""

    kind: str  # "add", "drain", "resize"
    node: str
    spec: Node | None = None


@dataclass(frozen=True)
class ScaleRecord:
    """A scaling decision on the timeline: at ``t`` (s), why, and what it did."""

    t: float
    reason: str
    actions: tuple[ScaleAction, ...]
    decision: Decision | None = None  # the horizontal decision (None for a vertical resize)

    def events(self) -> list[Event]:
        """The decision as timeline Events with its reason (a drain shows as ``remove``: drained first)."""
        out = []
        for action in self.actions:
            if action.kind == "add":
                out.append(Event(at_s=self.t, action="add", spec=action.spec, reason=self.reason))
            elif action.kind == "drain":
                out.append(Event(at_s=self.t, action="remove", node=action.node,
                                 reason=f"{self.reason}; drains first"))
            else:
                out.append(Event(at_s=self.t, action="set_node", node=action.node, spec=action.spec,
                                 reason=self.reason))
        return out


@dataclass
class _Controller:
    """The autoscaler's state: memory, the period being measured and the nodes draining.

    ``busy`` core-seconds and ``ready_s`` (seconds in rotation) per node name since ``start`` (s),
    ``latencies`` (s) of the requests completed since then.
    """

    memory: HpaMemory = field(default_factory=HpaMemory)
    ladder: LadderMemory = field(default_factory=LadderMemory)
    start: float = 0.0
    busy: dict[str, float] = field(default_factory=dict)
    ready_s: dict[str, float] = field(default_factory=dict)
    latencies: list[np.ndarray] = field(default_factory=list)
    serial: int = 0
    draining: set[str] = field(default_factory=set)
    decisions: list[ScaleRecord] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    judge: Judge | None = None  # the scenario's goals, judged live


def _controller_bytes(ctl: _Controller) -> int:
    """About how much memory a copy of the controller holds: its latencies and the judge's histograms."""
    size = sum(a.nbytes for a in ctl.latencies)
    if ctl.judge is not None:
        size += sum(span.latency_counts.nbytes for span in ctl.judge._spans if span.latency_counts is not None)
    return size


@dataclass(frozen=True)
class ScalingCheckpoint(Checkpoint):
    """A Checkpoint with the autoscaler's state."""

    controller: _Controller | None = None


class ScalingSimulation(Simulation):
    """A Simulation that runs its scenario's autoscaler (if any) and drains nodes before removing them.

    ``decisions`` lists the ScaleRecords so far; ``draining`` the names of the nodes draining;
    ``observers`` are called with each step's Snapshot; ``judge`` judges the scenario's goals live.
    """

    def __init__(self, scenario: Scenario, **kwargs):
        trace = kwargs.get("trace")
        auto = scenario.autoscaler
        if trace is not None and trace.node is not None and auto is not None and auto.kind == "horizontal":
            raise ScenarioError("trace: its node column pins requests to nodes by index, which a horizontal "
                                "autoscaler changes; replay it without the node column or without the autoscaler")
        self.observers: list[Callable[[Snapshot], None]] = []
        super().__init__(scenario, **kwargs)

    def reset(self) -> None:
        super().reset()
        self.autoscaler = self._scenario.autoscaler
        goals = self._scenario.goals
        self._ctl = _Controller(judge=None if goals is None else Judge(goals, self._scenario.duration_s))

    @property
    def decisions(self) -> list[ScaleRecord]:
        return self._ctl.decisions

    @property
    def observations(self) -> list[Observation]:
        """What each horizontal evaluation saw, in order."""
        return self._ctl.observations

    @property
    def judge(self) -> Judge | None:
        """The live verdicts of the scenario's goals (None without goals); restored with checkpoints."""
        return self._ctl.judge

    @property
    def draining(self) -> set[str]:
        return self._ctl.draining

    @property
    def scaling_events(self) -> list[Event]:
        """Every decision as timeline Events with its reason, in time order."""
        return [event for record in self._ctl.decisions for event in record.events()]

    # checkpoints ---------------------------------------------------------------------------
    def checkpoint(self) -> ScalingCheckpoint:
        cp = super().checkpoint()
        ctl = copy.deepcopy(self._ctl)
        base = {f.name: getattr(cp, f.name) for f in fields(Checkpoint)}
        base["nbytes"] = cp.nbytes + _controller_bytes(ctl)
        return ScalingCheckpoint(**base, controller=ctl)

    def restore(self, checkpoint: Checkpoint) -> None:
        super().restore(checkpoint)
        if isinstance(checkpoint, ScalingCheckpoint) and checkpoint.controller is not None:
            self._ctl = copy.deepcopy(checkpoint.controller)

    # node names ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return [node.name for node in self._scenario.nodes]

    def draining_mask(self) -> np.ndarray:
        """(n_nodes,) bool: the nodes draining for removal."""
        return np.array([name in self._ctl.draining for name in self.names()], dtype=bool)

    def drain(self, i: int) -> None:
        """Stop sending node i traffic; it is removed once the requests it holds are done."""
        i = self._check(i)
        drain_node(self.state, i)
        self._ctl.draining.add(self._scenario.nodes[i].name)

    # time ------------------------------------------------------------------------------------
    def step_to(self, t_stop: float) -> Snapshot:
        """Advance to ``t_stop`` (s), split at the controller's instants (see the module docstring).

        The step is cut where an evaluation is due or a draining node empties, whatever step the
        caller takes, so a run replayed in other steps decides the same; the parts' Snapshots are
        merged into one for the step.
        """
        parts = []
        while True:
            self._remove_drained()
            if self.autoscaler is not None and self.t >= self._ctl.start + self.autoscaler.period_s - 1e-9:
                self._evaluate()
            t_next = self._next_instant()
            t_next = t_stop if t_next >= t_stop - 1e-9 else t_next
            snap = super().step_to(t_next)
            self._measure(snap)
            parts.append((self.names(), snap))
            if t_next >= t_stop:
                break
        snap = parts[0][1] if len(parts) == 1 else merge_snapshots(parts)
        if self._ctl.judge is not None:
            self._ctl.judge.add(snap)
        for observer in self.observers:
            observer(snap)
        return snap

    def _next_instant(self) -> float:
        """The next time (s) after now at which the controller acts: an evaluation or a drained node."""
        t = math.inf
        if self.autoscaler is not None:
            t = self._ctl.start + self.autoscaler.period_s
        names = self.names()
        for name in self._ctl.draining:
            if name in names:
                done = drained_at(self.state, names.index(name))
                if done > self.t + 1e-9:
                    t = min(t, done)
        return t if t > self.t + 1e-9 else math.inf

    def _remove_drained(self) -> None:
        """Remove the draining nodes that hold nothing any more (not the last node)."""
        for name in sorted(self._ctl.draining):
            names = self.names()
            if name not in names:
                self._ctl.draining.discard(name)  # removed by the user
                continue
            j = names.index(name)
            if drained_at(self.state, j) <= self.t and len(names) > 1:
                self.remove_node(j)
                self._ctl.draining.discard(name)

    def _measure(self, snap: Snapshot) -> None:
        names = self.names()
        if self.autoscaler is None or len(names) != snap.utilization.size:
            return
        ctl = self._ctl
        in_rotation = self.state.routable & (self.state.state == UP)
        cores = self.params.cores
        for j, name in enumerate(names):
            ctl.busy[name] = ctl.busy.get(name, 0.0) + float(snap.utilization[j]) * float(cores[j]) * snap.dt
            if in_rotation[j] and name not in ctl.draining:
                ctl.ready_s[name] = ctl.ready_s.get(name, 0.0) + snap.dt
        ctl.latencies.append(snap.latencies)

    # decisions -------------------------------------------------------------------------------
    def observe(self) -> Observation:
        """The period since the last evaluation as the controller sees it now (see ``Observation``)."""
        ctl = self._ctl
        span = max(self.t - ctl.start, 1e-9)
        names = self.names()
        counted = [j for j, name in enumerate(names) if name not in ctl.draining]
        ready = [j for j in counted if self.state.routable[j] and self.state.state[j] == UP]
        busy = [ctl.busy.get(names[j], 0.0) / (self.params.cores[j] * span) for j in ready]
        latencies = np.concatenate(ctl.latencies) if ctl.latencies else np.empty(0)
        p95 = float(np.percentile(latencies, 95)) * 1000.0 if latencies.size else math.nan
        return Observation(self.t, len(counted), len(ready), float(np.mean(busy)) if busy else math.nan, p95)

    def _evaluate(self) -> None:
        ctl = self._ctl
        if self.autoscaler.kind == "vertical":
            self._evaluate_vertical()
        else:
            obs = self.observe()
            ctl.observations.append(obs)
            decision, ctl.memory = hpa_decide(self.autoscaler, ctl.memory, obs)
            if decision.changes:
                actions = self._scale_to(decision.desired)
                ctl.decisions.append(ScaleRecord(self.t, decision.reason, actions, decision))
        ctl.start, ctl.busy, ctl.ready_s, ctl.latencies = self.t, {}, {}, []

    def _evaluate_vertical(self) -> None:
        ctl = self._ctl
        span = max(self.t - ctl.start, 1e-9)
        nodes = []
        for j, name in enumerate(self.names()):
            whole = ctl.ready_s.get(name, 0.0) >= span - 1e-6
            busy = ctl.busy.get(name, 0.0) / (self.params.cores[j] * span)
            nodes.append((name, int(self.params.cores[j]), busy if whole else math.nan))
        resizes, ctl.ladder = vertical_decide(self.autoscaler, ctl.ladder, self.t, nodes)
        for resize in resizes:
            j = self.names().index(resize.node)
            spec = self._scenario.nodes[j].model_copy(update=resize.rung.model_dump())
            self.update_node(j, spec)
            ctl.decisions.append(ScaleRecord(self.t, resize.reason, (ScaleAction("resize", resize.node, spec),)))

    def _scale_to(self, desired: int) -> tuple[ScaleAction, ...]:
        names = self.names()
        counted = [j for j, name in enumerate(names) if name not in self._ctl.draining]
        actions = []
        for _ in range(desired - len(counted)):
            spec = self._new_node()
            self.add_node(spec)
            actions.append(ScaleAction("add", spec.name, spec))
        if desired < len(counted):
            # failed nodes first, then those still booting, then the newest in rotation
            def rank(j: int) -> tuple[int, int]:
                if self.state.state[j] == DOWN:
                    return 0, -j
                return (1 if not self.state.routable[j] else 2), -j

            for j in sorted(counted, key=rank)[: len(counted) - desired]:
                self.drain(j)
                actions.append(ScaleAction("drain", names[j]))
        return tuple(actions)

    def _new_node(self) -> Node:
        template = self.autoscaler.template
        names = set(self.names())
        while True:
            self._ctl.serial += 1
            suffix = f"-{self._ctl.serial}"
            name = template.name[: MAX_NAME - len(suffix)] + suffix
            if name not in names:
                break
        last = self._scenario.nodes[-1]
        return template.model_copy(update={"name": name, "x": last.x, "y": last.y + 160.0})


def merge_snapshots(parts: list[tuple[list[str], Snapshot]]) -> Snapshot:
    """One Snapshot for consecutive parts of a step, each given with the node names of its arrays.

    Rates and utilization are averaged over the parts by duration, per node by name (a node
    missing from a part counts as 0 there); totals, windows, states and queues are the last
    part's; the latencies of all parts are kept. The arrays follow the last part's nodes.
    """
    names, last = parts[-1]
    dt = sum(snap.dt for _, snap in parts)
    weight = [snap.dt / dt if dt > 0 else 0.0 for _, snap in parts]

    def rate(attr: str) -> float:
        return sum(getattr(snap, attr) * w for (_, snap), w in zip(parts, weight, strict=True))

    def per_node(attr: str) -> np.ndarray:
        out = np.zeros(len(names))
        for (part_names, snap), w in zip(parts, weight, strict=True):
            index = {name: k for k, name in enumerate(part_names)}
            values = getattr(snap, attr)
            for j, name in enumerate(names):
                if name in index:
                    out[j] += values[index[name]] * w
        return out

    return replace(
        last, dt=dt, offered=rate("offered"), served=rate("served"), rejected=rate("rejected"), lost=rate("lost"),
        utilization=per_node("utilization"), node_offered=per_node("node_offered"),
        node_served=per_node("node_served"),
        latencies=np.concatenate([snap.latencies for _, snap in parts]),
    )
