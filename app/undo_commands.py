"""The controller's edits as QUndoCommands: a node edited, added or removed, the balancer or the
traffic changed, and a branch (the future of a scrubbed-back run dropped). Each redo/undo calls
back into ``SimController``; an exception in one is reported, never unwound into Qt.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from sim_core.scenario import Balancer, Node, Workload
from sim_core.session import Future

if TYPE_CHECKING:
    from app.controller import SimController


def guarded(method):
    """An undo command's redo or undo: an exception goes to ``sys.excepthook`` (reported, and failed by
    pytest-qt) instead of unwinding into Qt's C++ stack, which PySide 6.11 answers with a segfault."""

    @functools.wraps(method)
    def run(self) -> None:
        try:
            method(self)
        except Exception:  # noqa: BLE001 - reported, not swallowed
            sys.excepthook(*sys.exc_info())

    return run


class BranchCommand(QUndoCommand):
    """Drops the future of a scrubbed-back run; undo brings it back."""

    def __init__(self, ctrl: SimController):
        super().__init__("Branch")
        self.ctrl = ctrl
        self.future: Future | None = None
        self.t = ctrl.t

    @guarded
    def redo(self) -> None:
        if self.ctrl.t != self.t:
            self.ctrl.jump(self.t)
        self.future = self.ctrl.session.branch()

    @guarded
    def undo(self) -> None:
        if self.future is not None:
            self.ctrl.session.restore_future(self.future)


class _MergingEdit(QUndoCommand):
    """An edit of one thing (``target``) from ``old`` to ``new``. Consecutive edits of the same thing
    with the same non-empty ``merge_key`` (one field being typed into) merge into one undo step."""

    ID = -1  # each subclass its own

    def __init__(self, ctrl: SimController, target, old, new, text: str, merge_key: str):
        super().__init__(text)
        self.ctrl, self.target, self.old, self.new, self.merge_key = ctrl, target, old, new, merge_key

    @guarded
    def redo(self) -> None:
        self._apply(self.new)

    @guarded
    def undo(self) -> None:
        self._apply(self.old)

    def _apply(self, value) -> None:
        raise NotImplementedError

    def id(self) -> int:
        return self.ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if type(other) is not type(self) or (other.target, other.merge_key) != (self.target, self.merge_key):
            return False
        self.new = other.new
        return True


class EditNodeCommand(_MergingEdit):
    """A node's specs or position; ``target`` is its node id."""

    ID = 1

    def __init__(self, ctrl: SimController, node_id: int, old: Node, new: Node, text: str, merge_key: str):
        super().__init__(ctrl, node_id, old, new, text, merge_key)

    def _apply(self, value: Node) -> None:
        self.ctrl.session.edit_node(self.target, value)


class AddNodeCommand(QUndoCommand):
    def __init__(self, ctrl: SimController, node: Node):
        super().__init__(f"Add {node.name}")
        self.ctrl, self.node = ctrl, node
        self.node_id = -1

    @guarded
    def redo(self) -> None:
        self.node_id = self.ctrl.session.add_node(self.node)

    @guarded
    def undo(self) -> None:
        self.ctrl.session.remove_node(self.node_id)


class RemoveNodeCommand(QUndoCommand):
    def __init__(self, ctrl: SimController, node_id: int):
        super().__init__(f"Delete {ctrl.node(node_id).name}")
        self.ctrl, self.node_id, self.node = ctrl, node_id, ctrl.node(node_id)
        self.index = -1

    @guarded
    def redo(self) -> None:
        self.index = self.ctrl.session.remove_node(self.node_id)

    @guarded
    def undo(self) -> None:  # back where it was, in the document and in the run
        self.ctrl.session.add_node(self.node, None if self.index < 0 else self.index)


class SetPartCommand(_MergingEdit):
    """The balancer or the traffic; ``target`` is "balancer" or "workload"."""

    ID = 2

    def __init__(self, ctrl: SimController, part: str, old, new, merge_key: str = ""):
        super().__init__(ctrl, part, old, new,
                         f"Change {part}" + (f" {merge_key.replace('_', ' ')}" if merge_key else ""), merge_key)

    def _apply(self, value: Balancer | Workload) -> None:
        if self.target == "balancer":
            self.ctrl.session.set_balancer(value)
        else:
            self.ctrl.session.set_workload(value)
