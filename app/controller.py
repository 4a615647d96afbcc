"""The undo stack of a window and the relay of its session's changes to Qt signals.

``SimController`` owns a ``sim_core.session.Session`` (the document and its run) and a
QUndoStack. Views never touch the engine: they read the session through the controller,
call it to edit, which pushes a QUndoCommand, and redraw on its signals. Signals carry stable
node ids (ints that survive adds, deletes and undo), not indices, which shift. An edit made
while the run is scrubbed back starts a new branch; undoing it brings the old future back.
``app.clock.SimClock`` drives one or more controllers from a single QTimer; the edits are the
QUndoCommands of ``app.undo_commands``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import ValidationError
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.canvas.layout import GAP, box_size, spread_if_overlapping
from app.undo_commands import AddNodeCommand, BranchCommand, EditNodeCommand, RemoveNodeCommand, SetPartCommand
from sim_core.challenge import Judge
from sim_core.engine.state import Snapshot
from sim_core.metrics import History
from sim_core.scenario import Balancer, Event, Node, Scenario, ScenarioError, Workload
from sim_core.scenario_file import validate_data
from sim_core.session import Session
from sim_core.theory import n_minus_one
from sim_core.theory import predict as theory

STEP_S = 0.05  # simulated seconds per engine step at normal speeds

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
        # a SimClock frame's costly work is done: its engine steps ran, or a view redrew a chart or the
        # explanations; the views' other costly work waits for the next frame (see SimClock)
        self.frame_busy = False
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

    def fork_payload(self) -> bytes:
        """The run now (same seed and state) pickled, for a look-ahead in a worker process such as N-1's."""
        return n_minus_one.fork_payload(self.session.sim)

    # undoable edits --------------------------------------------------------------------------
    def _push(self, command: QUndoCommand) -> None:
        """Push an edit; in a scrubbed-back run, after a branch (one undo step for both)."""
        if not self.session.replaying:
            self.undo_stack.push(command)
            return
        self.undo_stack.beginMacro(command.text())
        self.undo_stack.push(BranchCommand(self))
        self.undo_stack.push(command)
        self.undo_stack.endMacro()

    def set_node(self, node_id: int, node: Node, text: str = "Edit node", merge_key: str = "") -> None:
        """Replace a node's specs or position (undoable). A change of cores or RAM restarts it."""
        old = self.node(node_id)
        if node == old:
            return
        self._push(EditNodeCommand(self, node_id, old, node, text, merge_key))

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
        command = AddNodeCommand(self, node)
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
            self._push(RemoveNodeCommand(self, node_id))
        self.undo_stack.endMacro()

    def set_balancer(self, balancer: Balancer) -> None:
        """Change the routing policy or health-check interval (undoable)."""
        if balancer != self.scenario.balancer:
            self._push(SetPartCommand(self, "balancer", self.scenario.balancer, balancer))

    def set_workload(self, workload: Workload) -> None:
        """Change the traffic (undoable); consecutive edits of the same field merge."""
        old = self.scenario.workload
        if workload != old:
            self._push(SetPartCommand(self, "workload", old, workload))

    def set_part_field(self, part: str, field: str, value: object) -> None:
        """Set one field of ``balancer`` or ``workload``, validated (ScenarioError on a bad value)."""
        old = getattr(self.scenario, part)
        if getattr(old, field) == value:
            return
        data = self.scenario.model_dump(mode="json")
        data[part][field] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        new = getattr(validate_data(data | {"events": []}), part)
        self._push(SetPartCommand(self, part, old, new, field))

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
            self.undo_stack.push(BranchCommand(self))
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
