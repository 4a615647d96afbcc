"""A session: the document the user edits, and the run it makes (simulation, history, timeline).

No Qt here: the window's controller relays these signals to Qt, and the CLI and tests use the
same object. A run is its base scenario, its seed and its timeline (the scenario's events and the
user's actions, each at its simulated time), so it can be saved, replayed and scrubbed:
``jump(t)`` restores the nearest checkpoint and re-simulates to ``t``; playing on from a past
moment replays the recorded steps; an action there starts a new branch (``branch`` returns the old
future, ``restore_future`` brings it back).
"""

from __future__ import annotations

import bisect
import math
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from sim_core import metrics
from sim_core.engine.scaling import ScalingSimulation
from sim_core.engine.simulation import Checkpoint
from sim_core.engine.state import DOWN, Snapshot
from sim_core.scenario import Balancer, Event, Node, Scenario, Workload, feasible_events
from sim_core.scenario_file import validate_data

CHECKPOINT_S = 10.0  # simulated seconds between checkpoints of the engine state
CHECKPOINT_WALL_S = 1.0  # but at most one per this much wall time (fast speeds keep frames short)
MAX_CHECKPOINTS = 400  # beyond this (or CHECKPOINT_BYTES), every other older checkpoint is dropped
CHECKPOINT_BYTES = 256 * 2**20
MAX_STEP_ENDS = 2_000_000  # step times remembered (16 MB): the oldest half is forgotten beyond it
SCENARIO, USER, AUTOSCALER = "scenario", "user", "autoscaler"


class Signal:
    """A plain-Python signal: ``connect`` callbacks, ``emit`` calls them in order."""

    def __init__(self) -> None:
        self._slots: list[Callable[..., None]] = []

    def connect(self, slot: Callable[..., None]) -> None:
        self._slots.append(slot)

    def disconnect(self, slot: Callable[..., None]) -> None:
        self._slots.remove(slot)

    def emit(self, *args: object) -> None:
        for slot in list(self._slots):
            slot(*args)


@dataclass
class Future:
    """What a branch at ``t`` (s) discarded: the user's later actions, steps and checkpoints."""

    t: float
    head_t: float
    kept: int  # user actions kept by the branch; those after are the new branch's
    actions: list[Event]
    step_ends: array
    checkpoints: list[Checkpoint]


@dataclass
class _Signals:
    document_replaced: Signal = field(default_factory=Signal)  # a new document: rebuild every view
    node_added: Signal = field(default_factory=Signal)  # id
    node_removed: Signal = field(default_factory=Signal)  # id
    node_changed: Signal = field(default_factory=Signal)  # id: specs or position
    node_state_changed: Signal = field(default_factory=Signal)  # id: failed or recovered
    balancer_changed: Signal = field(default_factory=Signal)
    workload_changed: Signal = field(default_factory=Signal)
    stepped: Signal = field(default_factory=Signal)  # list of Snapshots, oldest first (already in history)
    jumped: Signal = field(default_factory=Signal)  # the run moved to another time (reset, scrub)
    timeline_changed: Signal = field(default_factory=Signal)


class Session:
    """One document and its run. Node ids are ints, stable for the session's life (one per node name)."""

    def __init__(self, scenario: Scenario, seed: int | None = None, history_capacity: int = 16384):
        self.signals = _Signals()
        self.history = metrics.History(history_capacity)
        self.seed_override = seed
        self._name_ids: dict[str, int] = {}
        self.load(scenario)

    # document ---------------------------------------------------------------------------------
    def load(self, scenario: Scenario) -> None:
        """A new document; the run starts again from it."""
        self.document = scenario
        self._start_run()
        self.signals.document_replaced.emit()

    def document_to_save(self) -> Scenario:
        """The document, validated; events naming nodes the user deleted are dropped."""
        names = {n.name for n in self.document.nodes}
        events = [e for e in self.document.events if e.action == "add" or e.target is None or e.target in names]
        data = self.document.model_dump(mode="json") | {"events": [e.model_dump(mode="json") for e in events]}
        return validate_data(data)

    def run_scenario(self) -> Scenario:
        """The run as a scenario file: the scenario it started from, the timeline as its events, and
        its length as ``duration_s``, so ``scalelab run`` of it replays this run exactly."""
        data = self.base.model_dump(mode="json")
        # events that could not happen (a scripted one for a node the user deleted) are left out
        events = feasible_events([n.name for n in self.base.nodes], self.sim.events)
        data["events"] = [e.model_dump(mode="json") for e in events]
        data["duration_s"] = max(self.head_t, 1.0)
        data["seed"] = self.sim.seed
        return validate_data(data)

    def export_csv(self, handle) -> int:
        """Write the run's per-second CSV (as ``scalelab run --csv`` of ``run_scenario()``); returns rows."""
        writer = metrics.CsvWriter(handle)
        rows = 0

        def on_row(row: dict[str, float]) -> None:
            nonlocal rows
            writer(row)
            rows += 1

        scenario = self.run_scenario()
        metrics.run(scenario, scenario.duration_s, on_row=on_row)
        return rows

    # the run ----------------------------------------------------------------------------------
    def _start_run(self) -> None:
        self.base = self.document
        self.user_actions: list[Event] = []
        self.sim = ScalingSimulation(self.base, seed=self.seed_override, events=list(self.base.events))
        self._decisions_seen = 0
        self.history.clear()
        self.last: Snapshot | None = None
        self.step_ends = array("d", [0.0])  # the end of every step of the run (s): replays follow them
        self.checkpoints: list[Checkpoint] = [self.sim.checkpoint()]
        self._checkpoint_wall = time.perf_counter()
        self.head_t = 0.0
        self._ids = [self._id(n.name) for n in self.sim.scenario.nodes]
        self._seen = self.sim.scenario  # the run's scenario the views last heard of

    def reset(self) -> None:
        """Back to t = 0 with the document as it is now (the user's actions are dropped)."""
        self._start_run()
        self.signals.document_replaced.emit()
        self.signals.jumped.emit()

    @property
    def t(self) -> float:
        return self.sim.t

    @property
    def replaying(self) -> bool:
        """True when the run is behind its newest moment (scrubbed back)."""
        return self.sim.t < self.head_t

    @property
    def timeline(self) -> list[tuple[Event, str]]:
        """Every event of the run with its origin (SCENARIO, USER or AUTOSCALER), in time order.

        The autoscaler's decisions (with their reasons) are derived from the run, not part of the
        timeline it replays: the scenario's autoscaler makes them again."""
        user = {id(e) for e in self.user_actions}
        events = [(e, USER if id(e) in user else SCENARIO) for e in self.sim.events]
        scaled = [(e, AUTOSCALER) for e in self.sim.scaling_events]
        return sorted(events + scaled, key=lambda pair: pair[0].at_s) if scaled else events

    def advance(self, seconds: float, steps: int, deadline: float = math.inf) -> list[Snapshot]:
        """Run ``steps`` engine steps covering ``seconds`` (s); stop early at ``deadline`` (perf_counter).

        Behind the head of the run, the recorded steps are replayed instead (same numbers), and the
        history, which already holds them, shows up to the step replayed. Returns the snapshots;
        time not run is dropped.
        """
        if not self.replaying and self.history.size < self.history._stored:
            self.history.truncate()
        t_end = self.sim.t + seconds
        if self.replaying:
            k = bisect.bisect_right(self.step_ends, self.sim.t + 1e-12)
            ends = self.step_ends[k:bisect.bisect_right(self.step_ends, t_end)] or self.step_ends[k:k + 1]
        else:
            ends = [self.sim.t + seconds * (i + 1) / steps for i in range(steps)]
        snaps = []
        for end in ends:
            snaps.append(self._step_to(end))
            if time.perf_counter() > deadline:
                break
        self._after_steps(snaps)
        return snaps

    def _step_to(self, end: float) -> Snapshot:
        live = not self.replaying
        snap = self.sim.step_to(end)
        ids = self._sync_ids()
        if not live:  # the history holds this step already (the same numbers): show up to it
            self.history.set_limit(snap.t)
        else:
            self.history.append(snap, ids)
            self.step_ends.append(snap.t)
            self.head_t = snap.t
            now = time.perf_counter()
            due = snap.t >= self.checkpoints[-1].t + CHECKPOINT_S
            if due and now - self._checkpoint_wall >= CHECKPOINT_WALL_S:
                self.checkpoints.append(self.sim.checkpoint())
                self._checkpoint_wall = now
                self._bound_memory()
        return snap

    def _bound_memory(self) -> None:
        """Keep the checkpoints and step times under their limits; the run can be scrubbed back to
        its oldest checkpoint, and jumps far back take longer as the checkpoints there thin out."""
        cps = self.checkpoints
        while len(cps) > MAX_CHECKPOINTS or (len(cps) > 2 and sum(c.nbytes for c in cps) > CHECKPOINT_BYTES):
            half = len(cps) // 2
            cps[:] = cps[:1] + cps[1:half:2] + cps[half:]
        if len(self.step_ends) > MAX_STEP_ENDS:
            oldest = next((c for c in cps if c.t >= self.step_ends[len(self.step_ends) // 2]), cps[-1])
            del cps[:cps.index(oldest)]
            del self.step_ends[:bisect.bisect_left(self.step_ends, oldest.t)]

    def _after_steps(self, snaps: list[Snapshot]) -> None:
        if snaps:
            self.last = snaps[-1]
            self.signals.stepped.emit(snaps)
            if len(self.sim.decisions) != self._decisions_seen:  # the autoscaler acted
                self._decisions_seen = len(self.sim.decisions)
                self.signals.timeline_changed.emit()

    def step_once(self, dt: float) -> None:
        """One engine step of ``dt`` seconds (or the next recorded one when replaying)."""
        self.advance(dt, 1)

    def jump(self, t: float) -> None:
        """Show the run at time ``t`` (s, clamped to 0..head): the engine, readout and views as they were.

        Restores the nearest checkpoint at or before ``t`` and re-simulates in two steps whose split
        keeps the 10 s latency window exactly as the run had it (see ``Simulation.step_to``).
        """
        t = min(max(t, self.checkpoints[0].t), self.head_t)
        k = bisect.bisect_right(self.step_ends, t + 1e-12) - 1
        t = self.step_ends[k]  # a moment the run passed through
        # the last checkpoint before t (at t = 0: the first), so that one step ends exactly at t
        cp = self.checkpoints[max(bisect.bisect_left([c.t for c in self.checkpoints], t) - 1, 0)]
        self.sim.restore(cp)
        self.last = None
        if t > cp.t:
            split = bisect.bisect_right(self.step_ends, t - self.sim.window_s + 1e-9) - 1
            if split >= 0 and self.step_ends[split] > cp.t:
                while self.sim.t < self.step_ends[split]:  # in bounded steps, but ending exactly there
                    self.sim.step_to(min(self.sim.t + CHECKPOINT_S, self.step_ends[split]))
            self.last = self.sim.step_to(t)
        self.sim.apply_due()
        self.history.set_limit(t)
        self._sync_ids()
        self.signals.jumped.emit()

    # nodes ------------------------------------------------------------------------------------
    def _id(self, name: str) -> int:
        if name not in self._name_ids:
            self._name_ids[name] = len(self._name_ids)
        return self._name_ids[name]

    def _sync_ids(self) -> list[int]:
        """The node ids in engine order; emits what the run's events changed since the last call
        (node_added, node_removed, node_changed, balancer_changed, workload_changed)."""
        scenario = self.sim.scenario
        seen = self._seen
        self._seen = scenario
        if scenario is seen:
            return self._ids
        nodes = scenario.nodes
        if nodes is not seen.nodes:
            old_ids, old_nodes = self._ids, dict(zip(self._ids, seen.nodes, strict=True))
            self._ids = [self._id(n.name) for n in nodes]
            for node_id in sorted(set(old_ids) - set(self._ids)):
                self.signals.node_removed.emit(node_id)
            for node_id, node in zip(self._ids, nodes, strict=True):
                if node_id not in old_nodes:
                    self.signals.node_added.emit(node_id)
                elif old_nodes[node_id] is not node:
                    self.signals.node_changed.emit(node_id)
        if scenario.balancer is not seen.balancer:
            self.signals.balancer_changed.emit()
        if scenario.workload is not seen.workload:
            self.signals.workload_changed.emit()
        return self._ids

    @property
    def node_ids(self) -> list[int]:
        """Ids of the run's nodes in engine order."""
        return list(self._ids)

    def index_of(self, node_id: int) -> int:
        return self._ids.index(node_id)

    def id_by_name(self, name: str) -> int:
        return self._ids[self.sim.scenario.node_index(name)]

    def node(self, node_id: int) -> Node:
        """The run's current view of a node (a resize event shows), placed where the document puts it."""
        node = self.sim.scenario.nodes[self.index_of(node_id)]
        doc = self._document_node(node.name)
        if doc is not None and (doc.x, doc.y) != (node.x, node.y):
            node = node.model_copy(update={"x": doc.x, "y": doc.y})
        return node

    def _document_node(self, name: str) -> Node | None:
        return next((n for n in self.document.nodes if n.name == name), None)

    def changed_fields(self, node_id: int) -> list[str]:
        """Spec fields where the run differs from the document (changed by an event), e.g. ``['cores']``."""
        node = self.sim.scenario.nodes[self.index_of(node_id)]
        doc = self._document_node(node.name)
        if doc is None:
            return ["added"]
        return [f for f in ("cores", "ram_gb", "core_speed", "storage_gb", "price_per_hour", "restart_s", "mtbf_s",
                            "mttr_s") if getattr(doc, f) != getattr(node, f)]

    def node_draining(self, node_id: int) -> bool:
        """True while the node drains for removal (it takes no new requests, finishes its own)."""
        return self.sim.scenario.nodes[self.index_of(node_id)].name in self.sim.draining

    def draining_names(self) -> set[str]:
        """Names of the nodes draining for removal now."""
        return set(self.sim.draining)

    def node_state(self, node_id: int) -> int:
        """UP, DOWN or RESTARTING (``sim_core.engine.simulation`` codes)."""
        return int(self.sim.node_state[self.index_of(node_id)])

    @property
    def scenario(self) -> Scenario:
        """The run's current view of the whole scenario."""
        return self.sim.scenario

    # actions: each changes the run now and is recorded on the timeline ----------------------------
    def branch(self) -> Future | None:
        """When scrubbed back, discard the run's future (returned, for ``restore_future``); else None."""
        if not self.replaying:
            return None
        t = self.sim.t
        kept = [e for e in self.user_actions if e.at_s <= t]
        future = Future(t, self.head_t, len(kept), [e for e in self.user_actions if e.at_s > t],
                        self.step_ends[bisect.bisect_right(self.step_ends, t):],
                        [c for c in self.checkpoints if c.t > t])
        dropped = {id(e) for e in future.actions}
        self.user_actions = kept
        self.sim.events = [e for e in self.sim.events if id(e) not in dropped]
        del self.step_ends[bisect.bisect_right(self.step_ends, t):]
        self.checkpoints = [c for c in self.checkpoints if c.t <= t]
        self.head_t = t
        self.history.truncate()
        self.signals.timeline_changed.emit()
        return future

    def restore_future(self, future: Future) -> None:
        """Undo a branch: drop what was done since ``future.t`` and bring its old future back."""
        later = {id(e) for e in self.user_actions[future.kept:]}
        self.user_actions = self.user_actions[:future.kept] + future.actions
        self.sim.events = sorted([e for e in self.sim.events if id(e) not in later] + future.actions,
                                 key=lambda e: e.at_s)
        self.step_ends = self.step_ends[:bisect.bisect_right(self.step_ends, future.t)] + future.step_ends
        self.checkpoints = [c for c in self.checkpoints if c.t <= future.t] + future.checkpoints
        self.head_t = future.head_t
        self.signals.timeline_changed.emit()
        self.jump(future.t)

    def act(self, action: str, **fields: object) -> Event:
        """Do a user action now (``fail``, ``add``, ``set_rate`` ... with the Event's fields) and record it."""
        event = Event(at_s=self.sim.t, action=action, **fields)
        if self.replaying:
            self.branch()
        self.sim.act(event)
        self.user_actions.append(event)
        self._sync_ids()
        self.signals.timeline_changed.emit()
        return event

    def toggle_node(self, node_id: int) -> None:
        """Fail the node, or recover it if it is down."""
        name = self.sim.scenario.nodes[self.index_of(node_id)].name
        self.act("recover" if self.node_state(node_id) == DOWN else "fail", node=name)
        self.signals.node_state_changed.emit(node_id)

    def edit_node(self, node_id: int, node: Node) -> None:
        """Give a node new specs or a new place: in the document, and in the run from now on.

        A node that is not in the run at this moment (scrubbed back to before it was added, or
        removed by a scripted event) changes in the document only.
        """
        if node_id not in self._ids:  # no view shows it now: nothing to tell them
            self._set_document_node(node.name, node)
            return
        running = self.sim.scenario.nodes[self.index_of(node_id)]
        self._set_document_node(running.name, node)
        spec = ("cores", "ram_gb", "core_speed", "storage_gb", "price_per_hour", "restart_s", "mtbf_s", "mttr_s")
        changed = [f for f in spec if getattr(node, f) != getattr(running, f)]
        if changed and set(changed) <= {"cores", "ram_gb"}:
            self.act("resize", node=running.name, **{f: getattr(node, f) for f in changed})
        elif changed:
            self.act("set_node", node=running.name, spec=node)
        else:  # a move: the document only
            self.signals.node_changed.emit(node_id)

    def _set_document_node(self, name: str, node: Node) -> None:
        nodes = [node if n.name == name else n for n in self.document.nodes]
        self.document = self.document.model_copy(update={"nodes": nodes})

    def add_node(self, node: Node, index: int | None = None) -> int:
        """Add a node to the document at ``index`` (default: the end) and to the run now, in the run
        just after the document's node before it (undoing a delete puts it back there); returns its id."""
        nodes = [n for n in self.document.nodes if n.name != node.name]
        k = len(nodes) if index is None else min(index, len(nodes))
        nodes.insert(k, node)
        running = [n.name for n in self.sim.scenario.nodes]
        if node.name not in running:  # else it is in the run already
            place = {} if index is None else self._run_place(nodes[:k], running)
            self.act("add", spec=node, **place)
        self.document = self.document.model_copy(update={"nodes": nodes})
        return self._id(node.name)

    @staticmethod
    def _run_place(before: list[Node], running: list[str]) -> dict[str, int]:
        """The ``index`` of an add that follows the last of ``before`` in the run (first if none is
        there); empty when that is the end, so the event appends as before."""
        where = {name: i for i, name in enumerate(running)}
        place = next((where[n.name] + 1 for n in reversed(before) if n.name in where), 0)
        return {} if place == len(running) else {"index": place}

    def remove_node(self, node_id: int) -> int:
        """Remove a node from the document and the run; returns its index in the document (-1: none).

        Scrubbed back to before the node was added (undo of an add, say), it is not in the run at this
        moment: the run branches here, without it, and the node leaves the document.
        """
        if node_id in self._ids:
            name = self.sim.scenario.nodes[self.index_of(node_id)].name
        else:
            name = next(n for n, i in self._name_ids.items() if i == node_id)
        index = next((k for k, n in enumerate(self.document.nodes) if n.name == name), -1)
        if node_id in self._ids:
            self.act("remove", node=name)
        elif self.replaying:
            self.branch()
            self.signals.timeline_changed.emit()
        if index >= 0:
            nodes = [n for n in self.document.nodes if n.name != name]
            self.document = self.document.model_copy(update={"nodes": nodes})
        return index

    def set_balancer(self, balancer: Balancer) -> None:
        """Change the balancer in the document and the run."""
        running = self.sim.scenario.balancer
        if balancer == running:
            return
        self.document = self.document.model_copy(update={"balancer": balancer})
        if balancer.model_copy(update={"policy": running.policy}) == running:
            self.act("set_policy", policy=balancer.policy)
        else:
            self.act("set_balancer", balancer=balancer)

    def set_workload(self, workload: Workload) -> None:
        """Change the traffic in the document and the run."""
        running = self.sim.scenario.workload
        if workload == running:
            return
        self.document = self.document.model_copy(update={"workload": workload})
        if workload.model_copy(update={"rate": running.rate}) == running:
            self.act("set_rate", rate=workload.rate)
        else:
            self.act("set_workload", workload=workload)
