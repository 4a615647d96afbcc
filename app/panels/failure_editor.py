"""The inspector's "Random failures" row: a switch and the node's MTBF and MTTR (both or neither)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from sim_core.scenario import Node, ScenarioError

DEFAULT_MTBF_S = 300.0
DEFAULT_MTTR_S = 30.0


class FailureEditor(QWidget):
    """Edits ``mtbf_s``/``mttr_s`` of the inspector's node through the controller (undoable)."""

    def __init__(self, inspector, parent: QWidget | None = None):
        from app.panels.inspector import make_spin

        super().__init__(parent)
        self.inspector = inspector
        row = QVBoxLayout(self)  # stacked: side by side they overflowed the inspector at 1366 x 768
        row.setContentsMargins(0, 0, 0, 0)
        self.enabled = QCheckBox("on")
        self.enabled.setAccessibleName("random failures")
        self.enabled.setToolTip("Fail this node at random: up for Exp(MTBF), down for Exp(MTTR), then restart")
        self.mtbf = make_spin(Node, "mtbf_s", "s", 1, 10)
        self.mttr = make_spin(Node, "mttr_s", "s", 3, 1)
        self.mtbf.setPrefix("MTBF ")
        self.mttr.setPrefix("MTTR ")
        for widget in (self.enabled, self.mtbf, self.mttr):
            row.addWidget(widget)
        self.enabled.toggled.connect(lambda _on: self._commit())
        self.mtbf.valueChanged.connect(lambda _v: self._commit())
        self.mttr.valueChanged.connect(lambda _v: self._commit())

    def show_node(self, node: Node) -> None:
        """Show ``node``'s failure fields without emitting edits."""
        on = node.mtbf_s is not None
        for widget, value in ((self.enabled, on), (self.mtbf, node.mtbf_s or DEFAULT_MTBF_S),
                              (self.mttr, node.mttr_s or DEFAULT_MTTR_S)):
            widget.blockSignals(True)
            if widget is self.enabled:
                widget.setChecked(bool(value))
            else:
                widget.setValue(value)
            widget.blockSignals(False)
        self.mtbf.setEnabled(on)
        self.mttr.setEnabled(on)

    def _commit(self) -> None:
        from app.controller import validated_node

        inspector = self.inspector
        node_id = inspector.node_id
        if node_id is None:
            return
        ctrl = inspector.ctrl
        on = self.enabled.isChecked()
        changes = {"mtbf_s": float(self.mtbf.value()) if on else None,
                   "mttr_s": float(self.mttr.value()) if on else None}
        try:
            node = validated_node(ctrl.scenario, ctrl.index_of(node_id), **changes)
        except ScenarioError as exc:
            inspector.error.setText(str(exc))
            return
        inspector.error.setText("")
        ctrl.set_node(node_id, node, "Set random failures of " + node.name, "failures")
        self.mtbf.setEnabled(on)
        self.mttr.setEnabled(on)
