"""The inspector: editors for the selected node, the load balancer and the traffic.

Every spin box takes its range from the scenario model's own bounds (so a value outside the
allowed range cannot be typed) and shows its unit. A change goes to the controller as an
undoable edit, which reaches the engine at once; the editors follow the controller's signals.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.controller import SimController
from app.panels.failure_editor import FailureEditor
from sim_core.engine.state import DOWN, STATE_NAMES
from sim_core.scenario import POLICIES, SHAPE_KINDS, Balancer, Node, ScenarioError, Workload
from sim_core.scenario_file import field_range

SLIDER_STEPS = 1000


class _CheckedInput:
    """What the inspector's spin boxes add to Qt's: a typed value out of range is reported, not cut.

    Qt's validator refuses the keystroke that leaves the range, so typing 999 into a 1..256 box
    silently gives 99. Here such text is "intermediate": on Enter or focus out the box keeps its
    value and ``on_problem`` gets one line naming the field and its range. Ctrl+Z and Ctrl+Shift+Z
    are left to the window's undo (a line edit would keep them for its own text undo), after the
    typed text has been committed, so the shortcut undoes what was just typed.
    """

    caption = ""
    on_problem: Callable[[str], None] | None = None
    _typed = ""

    def _number(self, text: str) -> float | None:
        text = text.strip().removesuffix(self.suffix().strip()).strip().replace(",", "")
        try:
            return float(text)
        except ValueError:
            return None

    def validate(self, text: str, pos: int):
        result = super().validate(text, pos)
        state = result[0] if isinstance(result, tuple) else result
        value = self._number(text)
        if state == QValidator.State.Invalid and value is not None and "-" not in text.strip()[1:]:
            self._typed = text
            return QValidator.State.Intermediate, text, pos
        return result

    def fixup(self, text: str) -> str:
        value = self._number(text)
        if value is not None and not self.minimum() <= value <= self.maximum() and self.on_problem:
            self.on_problem(f"{self.caption}: {value:g} is not in {self.minimum():g}..{self.maximum():g}")
        return super().fixup(text) if hasattr(super(), "fixup") else text

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and (
                event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo)):
            self.interpretText()  # the typed value becomes an edit the undo can take back
            event.ignore()  # not ours: the window's Undo / Redo action gets the shortcut
            return True
        return super().event(event)


class CheckedSpinBox(_CheckedInput, QSpinBox):
    """An integer spin box that reports out-of-range input (see ``_CheckedInput``)."""


class CheckedDoubleSpinBox(_CheckedInput, QDoubleSpinBox):
    """A decimal spin box that reports out-of-range input (see ``_CheckedInput``)."""


def make_spin(model: type[BaseModel], field: str, unit: str = "", decimals: int = 2,
              step: float = 1.0, caption: str = "") -> QAbstractSpinBox:
    """A spin box for ``model.field`` limited to the field's range, with its unit as suffix."""
    low, high = field_range(model, field)
    if model.model_fields[field].annotation is int or "int" in str(model.model_fields[field].annotation):
        spin: QAbstractSpinBox = CheckedSpinBox()
        spin.setRange(int(low), int(high))
    else:
        spin = CheckedDoubleSpinBox()
        spin.setDecimals(decimals)
        spin.setRange(low, high)
        spin.setSingleStep(step)
    if unit:
        spin.setSuffix(f" {unit}")
    spin.caption = caption or field.replace("_", " ")
    spin.setKeyboardTracking(False)  # commit on Enter, arrows or focus out, not on every digit
    spin.setAccelerated(True)
    spin.setAccessibleName(field.replace("_", " "))
    spin.setToolTip(f"{field}: {low:g} to {high:g}{' ' + unit if unit else ''}")
    spin.setObjectName(field)
    return spin


NODE_FIELDS = (  # field, label, unit, decimals, step
    ("cores", "CPU cores", "", 0, 1),
    ("core_speed", "Core speed", "x", 2, 0.1),
    ("ram_gb", "RAM", "GB", 3, 1),
    ("storage_gb", "Storage", "GB", 0, 100),
    ("price_per_hour", "Price", "$/h", 4, 0.01),
    ("restart_s", "Restart delay", "s", 1, 1),
)
WORKLOAD_FIELDS = (
    ("cpu_time_ms", "CPU time / request", "ms", 3, 10),
    ("memory_mb", "Memory / request", "MB", 3, 10),
    ("data_kb", "Data / request", "KB", 2, 1),
)
SHAPE_FIELDS = {  # per shape kind: field, label, unit
    "ramp": (("to_rate", "Ramp to", "req/s"), ("start_s", "Ramp from", "s"), ("end_s", "Ramp until", "s")),
    "step": (("to_rate", "Spike to", "req/s"), ("at_s", "Spike at", "s"), ("duration_s", "Spike for (0 = ever)", "s")),
    "wave": (("period_s", "Period", "s"), ("amplitude", "Amplitude", "")),
    "constant": (),
}


def default_shape(kind: str, workload: Workload) -> dict:
    """A shape of ``kind`` with sensible parameters for this workload."""
    if kind == "ramp":
        return {"kind": "ramp", "to_rate": workload.max_rate * 0.8, "start_s": 10.0, "end_s": 100.0}
    if kind == "step":
        return {"kind": "step", "to_rate": workload.max_rate * 0.8, "at_s": 30.0, "duration_s": 5.0}
    return {"kind": kind}


class Inspector(QWidget):
    """Editors for the selected node (``show_node``), the balancer and the workload of a controller."""

    def __init__(self, controller: SimController, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctrl = controller
        self.node_id: int | None = None
        layout = QVBoxLayout(self)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828;")
        self.error.setAccessibleName("Input problem")
        layout.addWidget(self._build_node_box())
        layout.addWidget(self._build_balancer_box())
        layout.addWidget(self._build_workload_box())
        layout.addWidget(self.error)
        layout.addStretch(1)
        c = controller
        c.scenario_replaced.connect(self.refresh)
        c.node_changed.connect(self._on_node_event)
        c.node_state_changed.connect(self._on_node_event)
        c.node_removed.connect(self._on_node_removed)
        c.balancer_changed.connect(self._refresh_balancer)
        c.workload_changed.connect(self._refresh_workload)
        c.stepped.connect(lambda _snaps: self._refresh_state())
        c.sim_reset.connect(self._refresh_state)
        self.refresh()

    # building ----------------------------------------------------------------------------------
    def _build_node_box(self) -> QGroupBox:
        box = QGroupBox("Node")
        column = QVBoxLayout(box)
        self.node_title = QLabel("Select a node on the canvas")
        self.node_title.setStyleSheet("font-weight: bold;")
        column.addWidget(self.node_title)
        self.node_fields = QWidget()
        form = QFormLayout(self.node_fields)
        form.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.node_fields)
        self.node_spins: dict[str, QAbstractSpinBox] = {}
        for field, label, unit, decimals, step in NODE_FIELDS:
            spin = make_spin(Node, field, unit, decimals, step, label)
            spin.on_problem = self.error.setText
            spin.valueChanged.connect(lambda value, f=field: self._edit_node(f, value))
            self.node_spins[field] = spin
            form.addRow(label, spin)
        self.event_note = QLabel("")
        self.event_note.setWordWrap(True)
        self.event_note.setStyleSheet("color: #6a1b9a;")
        form.addRow(self.event_note)
        self.failures = FailureEditor(self)  # mtbf_s / mttr_s, both or neither
        form.addRow("Random failures", self.failures)
        row = QHBoxLayout()
        self.state_label = QLabel("")
        self.fail_button = QPushButton("Fail")
        self.fail_button.setToolTip("Fail or recover this node (F or Space on the canvas)")
        self.fail_button.clicked.connect(self._toggle)
        row.addWidget(self.state_label, 1)
        row.addWidget(self.fail_button)
        form.addRow("State", row)
        self.node_box = box
        return box

    def _build_balancer_box(self) -> QGroupBox:
        box = QGroupBox("Load balancer")
        form = QFormLayout(box)
        self.policy = QComboBox()
        for policy in POLICIES:
            self.policy.addItem(policy.replace("_", " "), policy)
        self.policy.setAccessibleName("balancer policy")
        self.policy.currentIndexChanged.connect(
            lambda _i: self._edit("balancer", "policy", self.policy.currentData()))
        form.addRow("Policy", self.policy)
        self.health = make_spin(Balancer, "health_check_s", "s", 1, 0.5, "Health check")
        self.health.on_problem = self.error.setText
        self.health.valueChanged.connect(lambda v: self._edit("balancer", "health_check_s", float(v)))
        form.addRow("Health check", self.health)
        return box

    def _build_workload_box(self) -> QGroupBox:
        box = QGroupBox("Traffic")
        form = QFormLayout(box)
        self.rate = make_spin(Workload, "rate", "req/s", 1, 1, "Rate")
        self.rate.on_problem = self.error.setText
        self.rate.valueChanged.connect(lambda v: self._edit("workload", "rate", float(v)))
        self.rate_slider = QSlider(Qt.Orientation.Horizontal)
        self.rate_slider.setRange(0, SLIDER_STEPS)
        self.rate_slider.setAccessibleName("request rate")
        self.rate_slider.valueChanged.connect(self._slider_moved)
        form.addRow("Rate", self.rate)
        form.addRow("", self.rate_slider)
        self.shape = QComboBox()
        for kind in SHAPE_KINDS:
            self.shape.addItem(kind, kind)
        self.shape.setAccessibleName("traffic shape")
        self.shape.currentIndexChanged.connect(self._shape_kind_changed)
        form.addRow("Shape", self.shape)
        self.shape_form = QFormLayout()
        form.addRow(self.shape_form)
        self.workload_spins: dict[str, QAbstractSpinBox] = {}
        for field, label, unit, decimals, step in WORKLOAD_FIELDS:
            spin = make_spin(Workload, field, unit, decimals, step, label)
            spin.on_problem = self.error.setText
            spin.valueChanged.connect(lambda v, f=field: self._edit("workload", f, float(v)))
            self.workload_spins[field] = spin
            form.addRow(label, spin)
        self.shape_spins: dict[str, QAbstractSpinBox] = {}
        self._shape_kind = ""
        return box

    # edits -------------------------------------------------------------------------------------
    def _run(self, edit) -> None:
        try:
            edit()
            self.error.clear()
        except ScenarioError as exc:  # e.g. a ramp that ends before it starts
            self.error.setText(str(exc))
            self.refresh()

    def _edit_node(self, field: str, value: float) -> None:
        if self.node_id is not None:
            node_id = self.node_id
            self._run(lambda: self.ctrl.set_node_field(node_id, field, value))

    def _edit(self, part: str, field: str, value: object) -> None:
        self._run(lambda: self.ctrl.set_part_field(part, field, value))

    def _toggle(self) -> None:
        if self.node_id is not None:
            self.ctrl.toggle_node(self.node_id)

    def _slider_moved(self, position: int) -> None:
        rate = round(self.ctrl.scenario.workload.max_rate * position / SLIDER_STEPS, 1)
        self._edit("workload", "rate", rate)

    def _shape_kind_changed(self, _index: int) -> None:
        kind = self.shape.currentData()
        workload = self.ctrl.scenario.workload
        if kind != workload.shape.kind:
            self._edit("workload", "shape", default_shape(kind, workload))

    def _edit_shape(self, field: str, value: float) -> None:
        shape = self.ctrl.scenario.workload.shape.model_dump(mode="json")
        if shape.get(field) != value:
            shape[field] = value
            self._edit("workload", "shape", shape)

    # showing -----------------------------------------------------------------------------------
    def show_node(self, node_id: int | None) -> None:
        """Edit node ``node_id`` (None: no node selected)."""
        self.node_id = node_id
        self._refresh_node()

    def refresh(self) -> None:
        if self.node_id is not None and self.node_id not in self.ctrl.node_ids:
            self.node_id = None
        self._refresh_node()
        self._refresh_balancer()
        self._refresh_workload()

    def _on_node_event(self, node_id: int) -> None:
        if node_id == self.node_id:
            self._refresh_node()

    def _on_node_removed(self, node_id: int) -> None:
        if node_id == self.node_id:
            self.show_node(None)

    def _refresh_node(self) -> None:
        self.node_fields.setVisible(self.node_id is not None)
        if self.node_id is None:
            self.node_title.setText("Select a node on the canvas")
            self.state_label.setText("")
            return
        node = self.ctrl.node(self.node_id)
        self.node_title.setText(node.name)
        for field, spin in self.node_spins.items():
            _set_quietly(spin, getattr(node, field))
        changed = [f for f in self.ctrl.changed_fields(self.node_id) if f != "added"]
        self.event_note.setText(f"⚡ {', '.join(f.replace('_', ' ') for f in changed)} changed by a timed event "
                                "(the scenario file keeps its own value)" if changed else "")
        self.event_note.setVisible(bool(changed))
        self.failures.show_node(node)
        self._refresh_state()

    def _refresh_state(self) -> None:
        if self.node_id is None:
            return
        state = self.ctrl.node_state(self.node_id)
        text = STATE_NAMES[state]
        if self.state_label.text() != text:
            self.state_label.setText(text)
            self.fail_button.setText("Recover" if state == DOWN else "Fail")

    def _refresh_balancer(self) -> None:
        b = self.ctrl.scenario.balancer
        _set_quietly(self.policy, POLICIES.index(b.policy))
        _set_quietly(self.health, b.health_check_s)

    def _refresh_workload(self) -> None:
        w = self.ctrl.scenario.workload
        _set_quietly(self.rate, w.rate)
        _set_quietly(self.rate_slider, round(min(w.rate / w.max_rate, 1.0) * SLIDER_STEPS))
        self.rate_slider.setToolTip(f"0 to {w.max_rate:g} req/s (the scenario's max_rate)")
        _set_quietly(self.shape, SHAPE_KINDS.index(w.shape.kind))
        for field, spin in self.workload_spins.items():
            _set_quietly(spin, getattr(w, field))
        self._rebuild_shape_rows(w)

    def _rebuild_shape_rows(self, w: Workload) -> None:
        if w.shape.kind != self._shape_kind:
            self._shape_kind = w.shape.kind
            while self.shape_form.rowCount():
                self.shape_form.removeRow(0)
            self.shape_spins = {}
            shape_cls = type(w.shape)
            for field, label, unit in SHAPE_FIELDS[w.shape.kind]:
                spin = make_spin(shape_cls, field, unit, 2, 1 if unit else 0.05, label)
                spin.on_problem = self.error.setText
                spin.valueChanged.connect(lambda v, f=field: self._edit_shape(f, float(v)))
                self.shape_spins[field] = spin
                self.shape_form.addRow(label, spin)
        for field, spin in self.shape_spins.items():
            _set_quietly(spin, getattr(w.shape, field))


def _set_quietly(widget: QWidget, value: float) -> None:
    """Show ``value`` without emitting the change signal (no edit loops)."""
    widget.blockSignals(True)
    if isinstance(widget, QComboBox):
        widget.setCurrentIndex(int(value))
    else:
        widget.setValue(value)
    widget.blockSignals(False)
