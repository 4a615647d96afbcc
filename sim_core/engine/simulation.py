"""The load engine: a cluster of FIFO multi-core nodes behind a balancer, stepped in time.

Design (functional core, thin facade):
- ``ClusterParams`` (frozen) holds per-node arrays of shape (n_nodes,) built from a Scenario.
- ``EngineState`` holds what changes: node states, balancer view, core free times, and the
  requests in the system in a ``RequestPool``.
- ``advance(state, params, streams, t_stop, acc)`` moves time forward, splitting at the
  instants where a node comes up or the balancer changes its view; between those instants
  arrivals are drawn with numpy, routed (vectorized where the policy does not read live
  state) and served by the exact compiled kernel in ``sim_core.engine.kernel``.
- ``finish_step(state, params, acc)`` turns what happened since the last step into a Snapshot.
- ``Simulation`` wraps them for the CLI and the window: scenario events, edits, a seed.

Semantics, all times in seconds:
- A node holds at most floor(RAM MB / memory per request MB) requests (queued + in service);
  an arrival beyond that is rejected (503). A node whose storage is full rejects writes.
- A failed node loses the requests in it and every request sent to it until the balancer's
  health check notices, ``health_check_s`` later; then it gets no traffic. A recovered node
  restarts empty for its ``restart_s`` and is re-admitted after one more health-check delay.
- Resizing cores or RAM restarts the node (in-flight lost, out of rotation at once, back after
  ``restart_s`` plus the health check). Adding a node boots it the same way; the others are
  untouched. With no node in rotation the balancer rejects arrivals (503).
- Randomness comes from generators spawned from one seed (arrivals, CPU work, routing), so two
  clusters given the same seed see exactly the same traffic, whatever the step size. Nodes with
  ``mtbf_s``/``mttr_s`` fail and recover at times drawn from their own child of the seed
  (``sim_core.engine.failures``), applied like timeline events but not part of the timeline.
"""

from __future__ import annotations

import bisect
import copy
from collections import deque
from dataclasses import dataclass

import numpy as np

from sim_core.engine import kernel
from sim_core.engine.failures import failure_events, has_failures
from sim_core.engine.state import (
    DOWN,
    UP,
    WINDOW_S,
    ClusterParams,
    Recorder,
    RequestLog,
    Snapshot,
    StepAccumulator,
    Streams,
    initial_state,
    params_from_scenario,
    params_with_nodes,
)
from sim_core.engine.stats import CountWindow, LatencyWindow
from sim_core.engine.step import (
    advance,
    fail_node,
    finish_step,
    lose_requests,
    recover_node,
    restart_node,
)
from sim_core.engine.trace import Trace
from sim_core.scenario import MAX_NODES, Balancer, Event, Node, Scenario, ScenarioError, Workload

# --- the facade --------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """A copy of a Simulation's state at time ``t`` (s), taken at the end of a step, before the
    timeline's actions at ``t``: ``Simulation.restore`` continues from it exactly."""

    t: float
    scenario: Scenario
    params: ClusterParams
    saved: tuple
    nbytes: int  # about how much memory the copy holds


def _array_bytes(obj: object, depth: int = 3) -> int:
    """Bytes of the numpy arrays reachable from ``obj`` through attributes and containers, ``depth`` deep."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if depth == 0:
        return 0
    if isinstance(obj, (list, tuple, deque)):
        return sum(_array_bytes(item, depth - 1) for item in obj)
    values = getattr(obj, "__dict__", None)
    return sum(_array_bytes(v, depth - 1) for v in values.values()) if values else 0


class Simulation:
    """A scenario running in the engine: step it, fail and recover nodes, edit it live.

    ``seed`` None takes the scenario's. ``trace`` replays recorded arrivals instead of drawing
    them. ``record`` keeps every request (see ``request_log``), for tests and exports.
    ``events`` is the run's timeline (default: the scenario's events); ``scenario`` is the run's
    current view of the cluster, changed by the timeline's events as they happen.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, trace: Trace | None = None,
                 record: bool = False, window_s: float = WINDOW_S, events: list[Event] | None = None):
        kernel.warm_up()
        self._base = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.trace = trace
        self.record = record
        self.window_s = window_s
        if trace is not None and trace.node is not None and trace.node.size and trace.node.max() >= len(scenario.nodes):
            raise ScenarioError(f"trace: node {int(trace.node.max())} is not in 0..{len(scenario.nodes) - 1}")
        self.events: list[Event] = sorted(scenario.events if events is None else events, key=lambda e: e.at_s)
        self.reset()

    # state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0: all nodes up and empty, the same seed, the scenario as it began."""
        self._scenario = self._base
        self._resized: dict[int, Node] = {}  # node index -> its spec after a resize event, not yet applied
        self._timer_due = True
        self.params = params_from_scenario(self._scenario)
        self.state = initial_state(self.params)
        self.streams = Streams.from_seed(self.seed)
        self._latency = LatencyWindow(self.window_s)
        self._outcomes = CountWindow(3, self.window_s)
        self._recorder = Recorder() if self.record else None
        self.next_event = 0  # events[:next_event] have happened
        self.skipped: list[Event] = []  # events that could not happen (see _apply_scheduled)
        self._acc = StepAccumulator.start(self.state, self.params.n)

    def checkpoint(self) -> Checkpoint:
        """A copy of everything that changes, to ``restore`` later (not the request log)."""
        self._apply_resizes()
        saved = copy.deepcopy((self.state, self.streams, self._latency, self._outcomes, self._acc))
        return Checkpoint(self.state.t, self._scenario, self.params, saved, _array_bytes(saved))

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``: the events of ``events`` at or after its time are still to come."""
        self.state, self.streams, self._latency, self._outcomes, self._acc = copy.deepcopy(checkpoint.saved)
        self._scenario, self.params = checkpoint.scenario, checkpoint.params
        self.skipped = []
        self._resized = {}
        self._recorder = Recorder() if self.record else None
        self.next_event = bisect.bisect_left([e.at_s for e in self.events], checkpoint.t)

    @property
    def _random_failures(self) -> bool:
        """Whether a node fails at random (its mtbf_s/mttr_s; see sim_core.engine.failures)."""
        return has_failures(self._scenario)

    @property
    def scenario(self) -> Scenario:
        """The cluster as it runs now: resize, add and remove events included."""
        self._apply_resizes()
        return self._scenario

    @property
    def t(self) -> float:
        return self.state.t

    @property
    def n_nodes(self) -> int:
        return self.params.n

    @property
    def node_state(self) -> np.ndarray:
        return self.state.state

    def request_log(self) -> RequestLog:
        """Every request so far in arrival order (only when created with ``record=True``)."""
        if self._recorder is None:
            raise RuntimeError("create the Simulation with record=True to keep a request log")
        return self._recorder.build(self.state)

    # time ---------------------------------------------------------------------------------
    def step(self, dt: float) -> Snapshot:
        """Advance ``dt`` seconds of simulated time and return the step's Snapshot."""
        if not dt > 0:
            raise ValueError(f"dt: {dt} must be > 0 seconds")
        return self.step_to(self.state.t + dt)

    def step_to(self, t_stop: float) -> Snapshot:
        """Advance to time ``t_stop`` (s) and return the step's Snapshot.

        Events at or after the step's start and before ``t_stop`` happen at their times; one at
        exactly ``t_stop`` happens at the start of the next step, as a user's action at the end of
        a step does, so a run replayed from its timeline matches the live run step for step.
        """
        if not t_stop > self.state.t:
            raise ValueError(f"t_stop: {t_stop} must be after the current time {self.state.t} s")
        self._timer_due = True  # the first event of a step always brings time (and timers) up to it
        failures = failure_events(self._scenario, self.seed, self.state.t, t_stop) if self._random_failures else []
        while self.next_event < len(self.events) and self.events[self.next_event].at_s < t_stop:
            event = self.events[self.next_event]
            while failures and failures[0].at_s < event.at_s:  # random failures due first
                self._advance(max(failures[0].at_s, self.state.t))
                self._apply_failure(failures.pop(0))
                self._timer_due = True
            at = max(event.at_s, self.state.t)
            if at > self.state.t or self._timer_due:  # the same instant: nothing to fire, skip O(n) work
                self._advance(at)
                self._timer_due = False
            self._apply_scheduled(event)
            self.next_event += 1
        for failure in failures:
            self._advance(max(failure.at_s, self.state.t))
            self._apply_failure(failure)
        self._advance(t_stop)
        snap = finish_step(self.state, self.params, self._acc, self._latency, self._outcomes)
        self._acc = StepAccumulator.start(self.state, self.params.n)
        return snap

    def run(self, seconds: float, dt: float = 1.0):
        """Yield snapshots every ``dt`` seconds for ``seconds`` of simulated time."""
        end = self.state.t + seconds
        while self.state.t < end - 1e-12:
            yield self.step(min(dt, end - self.state.t))

    def apply_due(self) -> None:
        """Apply the events at or before now that have not happened yet."""
        while self.next_event < len(self.events) and self.events[self.next_event].at_s <= self.state.t:
            self._apply_scheduled(self.events[self.next_event])
            self.next_event += 1

    def act(self, event: Event) -> None:
        """Do ``event`` now (its ``at_s`` is the current time) and add it to the timeline after what is due."""
        if event.at_s != self.state.t:
            raise ValueError(f"at_s: an action happens now ({self.state.t} s), not at {event.at_s} s")
        self.apply_due()
        self._apply_event(event)  # raises ScenarioError before the timeline changes if it cannot happen
        self._apply_resizes()
        self.events.insert(self.next_event, event)
        self.next_event += 1

    def _advance(self, t_stop: float) -> None:
        self._apply_resizes()  # those of the last instant, before time moves
        advance(self.state, self.params, self.streams, t_stop, self._acc, self.trace, self._recorder)

    def _node_index(self, name: str) -> int:
        """Index of the node called ``name`` now (a dict, rebuilt when the nodes change); raises ScenarioError."""
        nodes = self._scenario.nodes
        if getattr(self, "_indexed_nodes", None) is not nodes:
            self._index_of = {node.name: i for i, node in enumerate(nodes)}
            self._indexed_nodes = nodes
        j = self._index_of.get(name)
        if j is None:
            raise ScenarioError(f"node: {name!r} is not the name of a node")
        return j

    def _apply_resizes(self) -> None:
        """Apply the resizes of the last instant: one copy of the node list and per-node arrays for all."""
        if not self._resized:
            return
        nodes = list(self._scenario.nodes)
        for j, node in self._resized.items():
            nodes[j] = node
        self._scenario = self._scenario.model_copy(update={"nodes": nodes})
        self.params = params_with_nodes(self.params, self._resized, self._scenario.workload.memory_mb)
        self._resized = {}
        self._widen_cores()

    def _apply_scheduled(self, event: Event) -> None:
        """A timeline event whose time has come. One that can no longer happen (it names a node the
        user has deleted since, or adds a name the user has taken) is skipped and counted in ``skipped``."""
        try:
            self._apply_event(event)
        except ScenarioError:
            self.skipped.append(event)

    def _apply_failure(self, event: Event) -> None:
        """A random fail or recover (sim_core.engine.failures); skipped if an event removed the node meanwhile."""
        if any(node.name == event.node for node in self._scenario.nodes):
            self._apply_event(event)

    def _apply_event(self, event: Event) -> None:
        action = event.action
        if action in ("fail", "recover", "resize"):  # the common, cheap ones: cost independent of the cluster's size
            j = self._node_index(event.node)
            if action == "fail":
                self.fail(j)
                self._timer_due |= self.params.health_check_s == 0
            elif action == "recover":
                self.recover(j)
                self._timer_due |= bool(self.params.restart_s[j] == 0)
            else:  # resize: always a restart, even to the same size; params change before time moves
                node = self._resized.get(j) or self._scenario.nodes[j]
                self._resized[j] = node.model_copy(update={"cores": event.cores or node.cores,
                                                           "ram_gb": event.ram_gb or node.ram_gb})
                restart_node(self.state, self.params, j, self._acc, self._recorder)  # reads only restart_s
                self._timer_due |= bool(self.params.restart_s[j] == 0)
            return
        self._apply_resizes()
        self._timer_due = True
        if action == "add":
            self.add_node(event.spec, event.index)
            return
        if action == "set_rate":
            self.set_workload(self._scenario.workload.model_copy(update={"rate": event.rate}))
            return
        if action == "set_policy":
            self.set_balancer(self._scenario.balancer.model_copy(update={"policy": event.policy}))
            return
        if action == "set_workload":
            self.set_workload(event.workload)
            return
        if action == "set_balancer":
            self.set_balancer(event.balancer)
            return
        j = self._node_index(event.node)
        if action == "remove":
            self.remove_node(j)
        else:  # set_node
            self.update_node(j, event.spec)

    # node actions ----------------------------------------------------------------------------
    def _check(self, i: int) -> int:
        if not 0 <= i < self.params.n:
            raise IndexError(f"node {i} is not in 0..{self.params.n - 1}")
        return int(i)

    def fail(self, i: int) -> None:
        """Crash node i now (no-op if it is already down)."""
        fail_node(self.state, self.params, self._check(i), self._acc, self._recorder)

    def recover(self, i: int) -> None:
        """Restart a failed node i now (no-op unless it is down)."""
        recover_node(self.state, self.params, self._check(i))

    def toggle(self, i: int) -> None:
        """Fail node i, or recover it if it is down."""
        if self.state.state[self._check(i)] == DOWN:
            self.recover(i)
        else:
            self.fail(i)

    # edits --------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        self.params = params_from_scenario(self._scenario)
        self._widen_cores()

    def _widen_cores(self) -> None:
        width = int(self.params.cores.max())
        if width > self.state.core_free.shape[1]:
            extra = np.zeros((self.params.n, width - self.state.core_free.shape[1]))
            self.state.core_free = np.hstack((self.state.core_free, extra))

    def _replace_nodes(self, nodes: list[Node]) -> None:
        self._scenario = self._scenario.model_copy(update={"nodes": nodes})

    def update_node(self, i: int, node: Node) -> None:
        """Give node i new specs; a change of cores or RAM restarts it (requests in it are lost)."""
        i = self._check(i)
        old = self._scenario.nodes[i]
        if node == old:
            return
        nodes = list(self._scenario.nodes)
        nodes[i] = node
        restart = (node.cores, node.ram_gb) != (old.cores, old.ram_gb)
        self._replace_nodes(nodes)
        self._rebuild()
        if restart:
            restart_node(self.state, self.params, i, self._acc, self._recorder)

    def add_node(self, node: Node, index: int | None = None) -> int:
        """Add a node at place ``index`` of the cluster's order (None, or past the last node: last; the
        nodes from there move one place on, as a removal moves them back); it boots for ``restart_s``,
        then joins after a health check. Returns its index."""
        n = self.params.n
        if n >= MAX_NODES:
            raise ScenarioError(f"nodes: a scenario may have at most {MAX_NODES} nodes")
        if any(other.name == node.name for other in self._scenario.nodes):
            raise ScenarioError(f"nodes: {node.name!r} is already the name of a node")
        j = n if index is None else min(max(index, 0), n)
        nodes = list(self._scenario.nodes)
        nodes.insert(j, node)
        self._replace_nodes(nodes)
        s = self.state
        for name, value in (("state", np.int8(UP)), ("routable", False), ("route_at", np.inf), ("route_to", False),
                            ("up_at", np.inf), ("storage_used_kb", 0.0)):
            setattr(s, name, np.insert(getattr(s, name), j, value))
        s.core_free = np.insert(s.core_free, j, 0.0, axis=0)
        if j < n:  # the requests in the nodes after it keep their node
            pool_node = s.pool.node
            pool_node[pool_node >= j] += 1
        self._rebuild()
        self._acc.node_offered = np.insert(self._acc.node_offered, j, 0)
        self._acc.busy_s = np.insert(self._acc.busy_s, j, 0.0)
        restart_node(self.state, self.params, j, self._acc, self._recorder)
        return j

    def remove_node(self, i: int) -> None:
        """Remove node i; the requests in it are lost."""
        i = self._check(i)
        if self.params.n == 1:
            raise ScenarioError("nodes: a scenario needs at least 1 node")
        lose_requests(self.state, i, self.state.t, self._acc, self._recorder)
        s = self.state
        for name in ("state", "routable", "route_at", "route_to", "up_at", "storage_used_kb"):
            setattr(s, name, np.delete(getattr(s, name), i))
        s.core_free = np.delete(s.core_free, i, axis=0)
        # its requests that completed earlier in this step still count as served, under no node
        node = s.pool.node
        node[:] = np.where(node == i, -1, np.where(node > i, node - 1, node))
        nodes = list(self._scenario.nodes)
        nodes.pop(i)
        self._replace_nodes(nodes)
        self._rebuild()
        self._acc.node_offered = np.delete(self._acc.node_offered, i)
        self._acc.busy_s = np.delete(self._acc.busy_s, i)

    def set_balancer(self, balancer: Balancer) -> None:
        """Change the routing policy or health-check interval from now on."""
        if balancer != self._scenario.balancer:
            self._scenario = self._scenario.model_copy(update={"balancer": balancer})
            self._rebuild()

    def set_workload(self, workload: Workload) -> None:
        """Change the traffic from now on (memory per request changes every node's capacity)."""
        if workload != self._scenario.workload:
            self._scenario = self._scenario.model_copy(update={"workload": workload})
            self._rebuild()
