"""A Simulation whose scenario's autoscaler acts on it while it runs, and nodes that drain.

``ScalingSimulation`` is a ``Simulation`` (same ``step``/``run``/edits) that, at the start of
each step, removes the draining nodes that hold no request any more and, every
``autoscaler.period_s`` seconds, measures the last period and carries out the decision of
``sim_core.autoscale``: adding copies of the template (they boot for ``restart_s``, then pass a
health check before they get traffic), draining nodes to remove them, or resizing a node to the
next ladder rung. Every decision that changes something is kept in ``decisions`` with its time,
reason and actions, for the timeline.

Timing: evaluations and removals happen at step boundaries, so with steps that divide
``period_s`` the controller runs exactly every period; a drained node leaves at the first step
boundary after its last request departs (it is still paid for until then).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim_core.autoscale import Decision, HpaMemory, Observation, hpa_decide, vertical_decide
from sim_core.engine import DOWN, UP, Simulation, Snapshot, drain_node, drained_at
from sim_core.scenario import Node, Scenario


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


@dataclass
class _Period:
    """What was measured since the last evaluation: busy core-seconds per node name, latencies (s)."""

    busy: dict[str, float] = field(default_factory=dict)
    ready_s: dict[str, float] = field(default_factory=dict)
    latencies: list[np.ndarray] = field(default_factory=list)


class ScalingSimulation(Simulation):
    """A Simulation that runs its scenario's autoscaler (if any) and drains nodes before removing them.

    ``decisions`` lists the ScaleRecords so far; ``draining`` the names of the nodes draining.
    """

    def __init__(self, scenario: Scenario, **kwargs):
        self._initial_nodes = list(scenario.nodes)
        super().__init__(scenario, **kwargs)

    def reset(self) -> None:
        """Back to t = 0 with the nodes the run started with (the autoscaler's changes undone)."""
        if hasattr(self, "_touched") and self._touched:
            self._scenario = self._scenario.model_copy(update={"nodes": self._initial_nodes})
        super().reset()
        self._touched = False
        self.autoscaler = self._scenario.autoscaler
        self._memory = HpaMemory()
        self._period = _Period()
        self._next_eval = self.autoscaler.period_s if self.autoscaler else math.inf
        self._serial = 0
        self.draining: set[str] = set()
        self.decisions: list[ScaleRecord] = []
        self.observations: list[Observation] = []

    # node names ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return [node.name for node in self._scenario.nodes]

    def draining_mask(self) -> np.ndarray:
        """(n_nodes,) bool: the nodes draining for removal."""
        return np.array([name in self.draining for name in self.names()], dtype=bool)

    def drain(self, i: int) -> None:
        """Stop sending node i traffic; it is removed once the requests it holds are done."""
        i = self._check(i)
        drain_node(self.state, i)
        self.draining.add(self._scenario.nodes[i].name)

    # time ------------------------------------------------------------------------------------
    def step(self, dt: float) -> Snapshot:
        self._remove_drained()
        while self.t >= self._next_eval - 1e-9:
            self._evaluate()
            self._next_eval += self.autoscaler.period_s
        names = self.names()
        snap = super().step(dt)
        self._measure(names, snap)
        return snap

    def _remove_drained(self) -> None:
        for name in sorted(self.draining):
            names = self.names()
            if name not in names:
                self.draining.discard(name)  # removed by the user
                continue
            j = names.index(name)
            if drained_at(self.state, j) <= self.t and len(names) > 1:
                self.remove_node(j)
                self.draining.discard(name)
                self._touched = True

    def _measure(self, names: list[str], snap: Snapshot) -> None:
        if self.autoscaler is None or len(names) != snap.utilization.size:
            return
        period = self._period
        in_rotation = self.state.routable & (self.state.state == UP)
        for j, name in enumerate(names):
            period.busy[name] = period.busy.get(name, 0.0) + float(snap.utilization[j]) * self.params.cores[j] * snap.dt
            if j < in_rotation.size and in_rotation[j] and name not in self.draining:
                period.ready_s[name] = period.ready_s.get(name, 0.0) + snap.dt
        period.latencies.append(snap.latencies)

    # decisions -------------------------------------------------------------------------------
    def observe(self) -> Observation:
        """The last period as the controller sees it now (see ``sim_core.autoscale.Observation``)."""
        config = self.autoscaler
        names = self.names()
        counted = [j for j, name in enumerate(names) if name not in self.draining]
        ready = [j for j in counted if self.state.routable[j] and self.state.state[j] == UP]
        busy = [self._period.busy.get(names[j], 0.0) / (self.params.cores[j] * config.period_s) for j in ready]
        latencies = np.concatenate(self._period.latencies) if self._period.latencies else np.empty(0)
        p95 = float(np.percentile(latencies, 95)) * 1000.0 if latencies.size else math.nan
        return Observation(self.t, len(counted), len(ready), float(np.mean(busy)) if busy else math.nan, p95)

    def _evaluate(self) -> None:
        config = self.autoscaler
        if config.kind == "vertical":
            self._evaluate_vertical()
        else:
            obs = self.observe()
            self.observations.append(obs)
            decision, self._memory = hpa_decide(config, self._memory, obs)
            if decision.changes:
                actions = self._scale_to(decision.desired)
                self.decisions.append(ScaleRecord(self.t, decision.reason, actions, decision))
        self._period = _Period()

    def _evaluate_vertical(self) -> None:
        config = self.autoscaler
        names = self.names()
        nodes = []
        for j, name in enumerate(names):
            whole = self._period.ready_s.get(name, 0.0) >= config.period_s - 1e-6
            busy = self._period.busy.get(name, 0.0) / (self.params.cores[j] * config.period_s)
            nodes.append((name, int(self.params.cores[j]), busy if whole else math.nan))
        for resize in vertical_decide(config, self.t, nodes):
            j = self.names().index(resize.node)
            spec = self._scenario.nodes[j].model_copy(update=resize.rung.model_dump())
            self.update_node(j, spec)
            self._touched = True
            self.decisions.append(ScaleRecord(self.t, resize.reason, (ScaleAction("resize", resize.node, spec),)))

    def _scale_to(self, desired: int) -> tuple[ScaleAction, ...]:
        names = self.names()
        counted = [j for j, name in enumerate(names) if name not in self.draining]
        actions = []
        for _ in range(desired - len(counted)):
            spec = self._new_node()
            self.add_node(spec)
            actions.append(ScaleAction("add", spec.name, spec))
        if desired < len(counted):
            # failed nodes first, then those still booting, then the newest in rotation
            rank = {DOWN: 0}
            order = sorted(counted, key=lambda j: (rank.get(int(self.state.state[j]), 1 if not self.state.routable[j]
                                                            else 2), -j))
            for j in order[: len(counted) - desired]:
                self.drain(j)
                actions.append(ScaleAction("drain", names[j]))
        self._touched = True
        return tuple(actions)

    def _new_node(self) -> Node:
        template = self.autoscaler.template
        names = set(self.names())
        while True:
            self._serial += 1
            name = f"{template.name}-{self._serial}"
            if name not in names:
                break
        last = self._scenario.nodes[-1]
        return template.model_copy(update={"name": name, "x": last.x, "y": last.y + 1.0})
