"""The undo stack of a window and the relay of its session's changes to Qt signals.

``SimController`` owns a ``sim_core.session.Session`` (the document and its run) and a
QUndoStack. Views never touch the engine: they read the session through the controller,
call it to edit, which pushes a QUndoCommand, and redraw on its signals. Signals carry stable
node ids (ints that survive adds, deletes and undo), not indices, which shift. An edit made
while the run is scrubbed back starts a new branch; undoing it brings the old future back.
``SimClock`` drives one or more controllers from a single QTimer.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import numpy as np
from pydantic import ValidationError
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.canvas.layout import GAP, box_size, spread_if_overlapping
from sim_core.challenge import Judge
from sim_core.engine.state import Snapshot
from sim_core.metrics import History
from sim_core.scenario import Balancer, Event, Node, Scenario, ScenarioError, Workload
from sim_core.scenario_file import validate_data
from sim_core.session import Future, Session
from sim_core.theory import n_minus_one
from sim_core.theory import predict as theory

STEP_S = 0.05  # simulated seconds per engine step at normal speeds
MAX_STEPS_PER_TICK = 4  # above this, steps get longer rather than more numerous
SPEEDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)  # x real time


def validated_node(scenario: Scenario, index: int, **changes: object) -> Node:
    """Node ``index`` of ``scenario`` with ``changes`` applied and checked.

    Raises ScenarioError whose message names the field and its range, e.g.
    ``nodes[2].cores: -3 is not in 1..256``.
    """
    data = scenario.nodes[index].model_dump(mode="json") | changes
    try:
        return Node.model_validate(data)
    except ValidationError:
        whole = scenario.model_dump(mode="json")
        whole["nodes"][index] = data
        validate_data(whole)  # raises with the scenario's field-path messages
        raise


class SimController(QObject):
    """One session being simulated and edited, relayed to Qt. Node ids are ints, stable for its life."""

    scenario_replaced = Signal()  # a new document (open, new, reset): rebuild every view
    node_added = Signal(int)  # id
    node_removed = Signal(int)  # id
    node_changed = Signal(int)  # id: specs or position
    node_state_changed = Signal(int)  # id: failed or recovered by the user
    balancer_changed = Signal()
    workload_changed = Signal()
    stepped = Signal(list)  # the Snapshots of one tick, oldest first (already in ``history``)
    sim_reset = Signal()  # the run moved to another time (reset to 0, or scrubbed): redraw everything
    timeline_changed = Signal()  # an action was recorded, or a branch dropped or restored
    path_changed = Signal()

    def __init__(self, scenario: Scenario, path: Path | None = None, parent: QObject | None = None,
                 history_capacity: int = 16384):
        """``history_capacity``: engine steps the charts keep (16384: a 13-minute run at 1x)."""
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.session = Session(spread_if_overlapping(scenario), history_capacity=history_capacity)
        self.path = path
        self.in_frame = False  # True while a SimClock tick runs the engine (views may spread their redraw)
        sig = self.session.signals
        sig.document_replaced.connect(self.scenario_replaced.emit)
        sig.node_added.connect(self.node_added.emit)
        sig.node_removed.connect(self.node_removed.emit)
        sig.node_changed.connect(self.node_changed.emit)
        sig.node_state_changed.connect(self.node_state_changed.emit)
        sig.balancer_changed.connect(self.balancer_changed.emit)
        sig.workload_changed.connect(self.workload_changed.emit)
        sig.stepped.connect(self.stepped.emit)
        sig.jumped.connect(self.sim_reset.emit)
        sig.timeline_changed.connect(self.timeline_changed.emit)

    # document -------------------------------------------------------------------------------
    def replace(self, scenario: Scenario, path: Path | None = None) -> None:
        """Open another scenario: a new run, empty undo history, clean state."""
        self.path = path
        self.undo_stack.clear()
        self.session.load(spread_if_overlapping(scenario))
        self.undo_stack.setClean()
        self.sim_reset.emit()
        self.path_changed.emit()

    def set_path(self, path: Path | None) -> None:
        if path != self.path:
            self.path = path
            self.path_changed.emit()

    @property
    def scenario(self) -> Scenario:
        """The run's current view of the scenario (a resize event shows)."""
        return self.session.scenario

    def document(self) -> Scenario:
        """The scenario to save, validated; events of deleted nodes are dropped."""
        return self.session.document_to_save()

    def run_scenario(self) -> Scenario:
        """The run so far as a scenario whose events are its timeline (Save run as)."""
        return self.session.run_scenario()

    def export_csv(self, handle) -> int:
        """Write the run's per-second CSV to a text file (equal to ``scalelab run --csv`` of the run)."""
        return self.session.export_csv(handle)

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    # what views read --------------------------------------------------------------------------
    @property
    def history(self) -> History:
        return self.session.history

    @property
    def last(self) -> Snapshot | None:
        return self.session.last

    @property
    def t(self) -> float:
        """Simulated time now (s)."""
        return self.session.t

    @property
    def head_t(self) -> float:
        """The newest moment of the run (s); ``t`` is earlier when scrubbed back."""
        return self.session.head_t

    @property
    def timeline(self) -> list[tuple[Event, str]]:
        """The run's events with their origin ("scenario", "user" or "autoscaler"), in time order."""
        return self.session.timeline

    @property
    def node_ids(self) -> list[int]:
        """Ids of the run's nodes in engine order."""
        return self.session.node_ids

    def index_of(self, node_id: int) -> int:
        return self.session.index_of(node_id)

    def node(self, node_id: int) -> Node:
        """The run's current view of a node."""
        return self.session.node(node_id)

    def changed_fields(self, node_id: int) -> list[str]:
        """Spec fields a timed event changed in the run (the document keeps its values)."""
        return self.session.changed_fields(node_id)

    def node_state(self, node_id: int) -> int:
        """UP, DOWN or RESTARTING (``sim_core.engine.simulation`` codes)."""
        return self.session.node_state(node_id)

    def node_states(self) -> np.ndarray:
        """The state of every node in engine order, shape (n_nodes,), int8."""
        return self.session.sim.node_state

    def id_by_name(self, name: str) -> int:
        return self.session.id_by_name(name)

    def node_draining(self, node_id: int) -> bool:
        """True while the autoscaler (or a drain) takes the node out: no new requests, finishing its own."""
        return self.session.node_draining(node_id)

    def draining_names(self) -> set[str]:
        """Names of the nodes draining now (``node_draining``), for views that check them all at once."""
        return self.session.draining_names()

    def judge(self) -> Judge | None:
        """The run's live verdicts of the scenario's goals (None without goals)."""
        return self.session.sim.judge

    @property
    def seed(self) -> int:
        return self.session.sim.seed

    def predict(self) -> theory.Prediction:
        """What queueing theory says about the run now, or why nothing applies (sim_core.theory.predict)."""
        return theory.predict(self.session.sim)

    def fork_run(self):
        """An independent copy of the run now (same seed and state), for look-aheads such as N-1."""
        return n_minus_one.fork(self.session.sim)

    # undoable edits --------------------------------------------------------------------------
    def _push(self, command: QUndoCommand) -> None:
        """Push an edit; in a scrubbed-back run, after a branch (one undo step for both)."""
        if not self.session.replaying:
            self.undo_stack.push(command)
            return
        self.undo_stack.beginMacro(command.text())
        self.undo_stack.push(_Branch(self))
        self.undo_stack.push(command)
        self.undo_stack.endMacro()

    def set_node(self, node_id: int, node: Node, text: str = "Edit node", merge_key: str = "") -> None:
        """Replace a node's specs or position (undoable). A change of cores or RAM restarts it."""
        old = self.node(node_id)
        if node == old:
            return
        self._push(_EditNode(self, node_id, old, node, text, merge_key))

    def set_node_field(self, node_id: int, field: str, value: object) -> None:
        """Set one field of a node (``cores``, ``ram_gb`` ...); consecutive edits of it merge in undo."""
        old = self.node(node_id)
        if getattr(old, field) == value:
            return
        label = field.replace("_", " ")
        new = validated_node(self.scenario, self.index_of(node_id), **{field: value})
        self.set_node(node_id, new, f"Set {label} of {old.name}", field)

    def move_nodes(self, moves: list[tuple[int, float, float]]) -> None:
        """Commit a drag: ``(id, x, y)`` scene positions of box centres, one undo step for all."""
        moves = [(i, x, y) for i, x, y in moves if (self.node(i).x, self.node(i).y) != (x, y)]
        if not moves:
            return
        self.undo_stack.beginMacro("Move node" if len(moves) == 1 else f"Move {len(moves)} nodes")
        for node_id, x, y in moves:
            x, y = (round(min(max(v, -1e6), 1e6), 1) for v in (x, y))
            self.set_node(node_id, self.node(node_id).model_copy(update={"x": x, "y": y}))
        self.undo_stack.endMacro()

    def add_node(self, template: Node | None = None, x: float | None = None, y: float | None = None) -> int:
        """Add a node like ``template`` (default: a copy of the last node) with a fresh name; returns its id."""
        base = template or self.scenario.nodes[-1]
        if x is None or y is None:
            x, y = self._free_spot()
        node = base.model_copy(update={"name": self._fresh_name(base.name), "x": x, "y": y})
        command = _AddNode(self, node)
        self._push(command)
        return command.node_id

    def duplicate_nodes(self, ids: list[int]) -> list[int]:
        """Add a copy of each node in ``ids`` (one undo step); returns the new ids."""
        if not ids:
            return []
        self.undo_stack.beginMacro("Duplicate nodes" if len(ids) > 1 else "Duplicate node")
        new = [self.add_node(self.node(i)) for i in ids]
        self.undo_stack.endMacro()
        return new

    def remove_nodes(self, ids: list[int]) -> None:
        """Delete nodes (one undo step). The last node cannot be deleted: raises ScenarioError."""
        ids = [i for i in ids if i in self.node_ids]
        if not ids:
            return
        if len(ids) >= len(self.node_ids):
            raise ScenarioError("nodes: a scenario needs at least 1 node")
        self.undo_stack.beginMacro("Delete nodes" if len(ids) > 1 else f"Delete {self.node(ids[0]).name}")
        for node_id in ids:
            self._push(_RemoveNode(self, node_id))
        self.undo_stack.endMacro()

    def set_balancer(self, balancer: Balancer) -> None:
        """Change the routing policy or health-check interval (undoable)."""
        if balancer != self.scenario.balancer:
            self._push(_SetPart(self, "balancer", self.scenario.balancer, balancer))

    def set_workload(self, workload: Workload) -> None:
        """Change the traffic (undoable); consecutive edits of the same field merge."""
        old = self.scenario.workload
        if workload != old:
            self._push(_SetPart(self, "workload", old, workload))

    def set_part_field(self, part: str, field: str, value: object) -> None:
        """Set one field of ``balancer`` or ``workload``, validated (ScenarioError on a bad value)."""
        old = getattr(self.scenario, part)
        if getattr(old, field) == value:
            return
        data = self.scenario.model_dump(mode="json")
        data[part][field] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        new = getattr(validate_data(data | {"events": []}), part)
        self._push(_SetPart(self, part, old, new, field))

    def _fresh_name(self, base: str) -> str:
        names = {n.name for n in self.scenario.nodes} | {n.name for n in self.session.document.nodes}
        stem = base.rstrip("0123456789").rstrip("-") or "node"
        k = len(names) + 1
        while f"{stem}-{k}" in names:
            k += 1
        return f"{stem}-{k}"[:40]

    def _free_spot(self) -> tuple[float, float]:
        """Below the lowest node, in its column (scene units)."""
        nodes = [self.node(i) for i in self.node_ids]
        lowest = max(nodes, key=lambda n: (n.y, n.x))
        return lowest.x, min(lowest.y + box_size(len(nodes) + 1)[1] + GAP[1], 1e6)

    # runtime actions: recorded on the timeline, not undoable (but a branch they start is) ---------
    def toggle_node(self, node_id: int) -> None:
        """Fail the node, or recover it if it is down."""
        if self.session.replaying:
            self.undo_stack.push(_Branch(self))
        self.session.toggle_node(node_id)

    def advance(self, seconds: float, steps: int, deadline: float = np.inf) -> int:
        """Run ``steps`` engine steps covering ``seconds``; stop early at ``deadline`` (perf_counter).

        Returns the number of steps run; time not run is dropped, never queued.
        """
        return len(self.session.advance(seconds, steps, deadline))

    def step_once(self) -> None:
        """One engine step of STEP_S seconds."""
        self.advance(STEP_S, 1)

    def jump(self, t: float) -> None:
        """Show the run as it was at ``t`` (s); playing on replays it from there."""
        self.session.jump(t)

    def reset(self) -> None:
        """Back to t = 0 with the document as it is now (the run's actions are dropped)."""
        self.session.reset()


def _guarded(method):
    """An undo command's redo or undo: an exception goes to ``sys.excepthook`` (reported, and failed by
    pytest-qt) instead of unwinding into Qt's C++ stack, which PySide 6.11 answers with a segfault."""

    @functools.wraps(method)
    def run(self) -> None:
        try:
            method(self)
        except Exception:  # noqa: BLE001 - reported, not swallowed
            sys.excepthook(*sys.exc_info())

    return run


class _Branch(QUndoCommand):
    """Drops the future of a scrubbed-back run; undo brings it back."""

    def __init__(self, ctrl: SimController):
        super().__init__("Branch")
        self.ctrl = ctrl
        self.future: Future | None = None
        self.t = ctrl.t

    @_guarded
    def redo(self) -> None:
        if self.ctrl.t != self.t:
            self.ctrl.jump(self.t)
        self.future = self.ctrl.session.branch()

    @_guarded
    def undo(self) -> None:
        if self.future is not None:
            self.ctrl.session.restore_future(self.future)


class _EditNode(QUndoCommand):
    ID = 1

    def __init__(self, ctrl: SimController, node_id: int, old: Node, new: Node, text: str, merge_key: str):
        super().__init__(text)
        self.ctrl, self.node_id, self.old, self.new, self.merge_key = ctrl, node_id, old, new, merge_key

    @_guarded
    def redo(self) -> None:
        self.ctrl.session.edit_node(self.node_id, self.new)

    @_guarded
    def undo(self) -> None:
        self.ctrl.session.edit_node(self.node_id, self.old)

    def id(self) -> int:
        return self.ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _EditNode) or (other.node_id, other.merge_key) != (self.node_id, self.merge_key):
            return False
        self.new = other.new
        return True


class _AddNode(QUndoCommand):
    def __init__(self, ctrl: SimController, node: Node):
        super().__init__(f"Add {node.name}")
        self.ctrl, self.node = ctrl, node
        self.node_id = -1

    @_guarded
    def redo(self) -> None:
        self.node_id = self.ctrl.session.add_node(self.node)

    @_guarded
    def undo(self) -> None:
        self.ctrl.session.remove_node(self.node_id)


class _RemoveNode(QUndoCommand):
    def __init__(self, ctrl: SimController, node_id: int):
        super().__init__(f"Delete {ctrl.node(node_id).name}")
        self.ctrl, self.node_id, self.node = ctrl, node_id, ctrl.node(node_id)
        self.index = -1

    @_guarded
    def redo(self) -> None:
        self.index = self.ctrl.session.remove_node(self.node_id)

    @_guarded
    def undo(self) -> None:  # back where it was, in the document and in the run
        self.ctrl.session.add_node(self.node, None if self.index < 0 else self.index)


class _SetPart(QUndoCommand):
    ID = 2

    def __init__(self, ctrl: SimController, part: str, old, new, merge_key: str = ""):
        super().__init__(f"Change {part}" + (f" {merge_key.replace('_', ' ')}" if merge_key else ""))
        self.ctrl, self.part, self.old, self.new, self.merge_key = ctrl, part, old, new, merge_key

    @_guarded
    def redo(self) -> None:
        self._apply(self.new)

    @_guarded
    def undo(self) -> None:
        self._apply(self.old)

    def _apply(self, value: Balancer | Workload) -> None:
        if self.part == "balancer":
            self.ctrl.session.set_balancer(value)
        else:
            self.ctrl.session.set_workload(value)

    def id(self) -> int:
        return self.ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _SetPart) or (other.part, other.merge_key) != (self.part, self.merge_key):
            return False
        self.new = other.new
        return True


class SimClock(QObject):
    """One QTimer that advances its controllers together at ``speed`` x real time.

    Each tick turns the wall time since the last tick (at most ``MAX_WALL_S``, so a stall is
    dropped, not caught up) into simulated seconds, runs up to MAX_STEPS_PER_TICK engine steps
    per controller within ``budget_s`` of wall time, and drops whatever time did not fit. Then
    ``framed`` lets the views draw: steps run by a tick (``in_frame`` set on the controller) may be
    drawn over the next frames, a share each, so that no frame carries every view's redraw.
    """

    ticked = Signal(float)  # wall seconds since the last tick, while running (animations)
    framed = Signal(float)  # at the end of every tick, steps or not: views draw their share of this frame
    running_changed = Signal(bool)
    speed_changed = Signal(float)
    INTERVAL_MS = 16
    MAX_WALL_S = 0.1
    BUDGET_S = 0.008

    def __init__(self, controllers: list[SimController], parent: QObject | None = None):
        super().__init__(parent)
        self.controllers = list(controllers)
        self.speed = 1.0
        self.dropped_s = 0.0  # simulated seconds skipped because ticks ran over budget
        self._carry = 0.0
        self._last: float | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(self.INTERVAL_MS)
        self.timer.timeout.connect(self.tick)

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def set_running(self, running: bool) -> None:
        if running == self.running:
            return
        if running:
            self._last = None
            self.timer.start()
        else:
            self.timer.stop()
        self.running_changed.emit(running)

    def set_speed(self, speed: float) -> None:
        """Simulated seconds per wall second, 0.25..100."""
        speed = float(min(max(speed, SPEEDS[0]), SPEEDS[-1]))
        if speed != self.speed:
            self.speed = speed
            self.speed_changed.emit(speed)

    def tick(self, wall_s: float | None = None) -> None:
        """Advance by the wall time since the last tick (or ``wall_s``, for tests and benchmarks)."""
        now = time.perf_counter()
        if wall_s is None:
            wall_s = 0.0 if self._last is None else now - self._last
        self._last = now
        wall_s = min(wall_s, self.MAX_WALL_S)
        self.ticked.emit(wall_s)
        sim_s = self._carry + wall_s * self.speed
        steps = int(sim_s / STEP_S)
        if steps == 0:
            self._carry = sim_s
        else:
            self._carry = 0.0
            steps = min(steps, MAX_STEPS_PER_TICK)
            for ctrl in self.controllers:
                ctrl.in_frame = True
            try:  # the first controller runs what fits in the budget; the others follow in lockstep
                done = self.controllers[0].advance(sim_s, steps, now + self.BUDGET_S)
                for ctrl in self.controllers[1:]:
                    ctrl.advance(sim_s * done / steps, done)
            finally:
                for ctrl in self.controllers:
                    ctrl.in_frame = False
            self.dropped_s += sim_s * (steps - done) / steps
        self.framed.emit(wall_s)
