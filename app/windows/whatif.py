"""The What-if dialog: a sweep around the open scenario, run in the background on a local Dask
cluster, its Pareto chart (cost per hour against p99) growing live as points finish.

The user picks up to three axes and their values, the simulated seconds, replications and the
goal (p99 and availability); the values become a ``SweepSpec`` validated like a spec file, so a
bad value is one line naming the field. Clicking a point opens that cluster in the main window.
All sweep logic is in ``sim_core.sweep``; this module is its Qt view.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim_core.scenario import Scenario, ScenarioError
from sim_core.sweep.background import BackgroundSweep, SweepState, dask_backend
from sim_core.sweep.points import SweepPoint, build_scenario
from sim_core.sweep.results import aggregate, cheapest, pareto_front
from sim_core.sweep.runner import sweeps_unavailable
from sim_core.sweep.spec import AXIS_NAMES, SweepSpec, validate_spec

AXIS_CHOICES = ("(none)", *AXIS_NAMES)
DEFAULT_VALUES = {  # what an axis offers when picked
    "nodes": "1-8", "cores": "1, 2, 4", "ram_gb": "1, 2, 4", "policy": "round_robin, least_connections",
    "rate": "25, 50, 100", "service": "exponential, deterministic", "health_check_s": "1, 3",
    "failure": "none, 30",
}
INTEGER_AXES = ("nodes", "cores")
TEXT_AXES = ("policy", "service")
MEETS, MISSES, FRONT = "#1a9e4a", "#9a9a9a", "#3b6fb6"
POLL_MS = 250


def parse_values(axis: str, text: str) -> list[Any]:
    """``"1-4, 8"`` -> ``[1, 2, 3, 4, 8]``; ``failure``: ``none`` or a time in s (one node fails then).

    A token that is not a value of the axis is passed on as text, so the spec's validation names it.
    """
    values: list[Any] = []
    for token in (t for t in re.split(r"[,\s]+", text.strip()) if t):
        span = re.fullmatch(r"(\d+)-(\d+)", token)
        if span and axis in INTEGER_AXES:
            values += list(range(int(span[1]), int(span[2]) + 1))
        elif axis in TEXT_AXES:
            values.append(token)
        elif axis == "failure":
            values.append({"kind": "none"} if token == "none" else {"kind": "one_node", "at_s": _number(token)})
        else:
            value = _number(token)
            values.append(int(value) if axis in INTEGER_AXES and isinstance(value, float) and value.is_integer()
                          else value)
    return values


def _number(token: str) -> Any:
    try:
        return float(token)
    except ValueError:
        return token


class WhatIfDialog(QDialog):
    """A sweep around ``base``; ``open_cluster(scenario)`` is called when a point is clicked, and
    ``compare_cluster(scenario)`` (if given) when it is Shift+clicked.

    ``sweeper`` runs the sweeps (default: a local Dask cluster started on the first Run). Without Dask
    (the packaged app leaves it out), the dialog says so and its Run button stays disabled.
    """

    def __init__(self, base: Scenario, open_cluster: Callable[[Scenario], Any],
                 compare_cluster: Callable[[Scenario], Any] | None = None,
                 sweeper: BackgroundSweep | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"What-if: {base.name}")
        self.base = base
        self.open_cluster = open_cluster
        self.compare_cluster = compare_cluster
        self.sweeper = sweeper or BackgroundSweep(lambda: dask_backend(self.workers.value()))
        self.unavailable = "" if sweeper is not None else sweeps_unavailable(("distributed",))
        self.spec: SweepSpec | None = None
        self.points: list[dict[str, Any]] = []
        self.timer = QTimer(self, interval=POLL_MS, timeout=self._poll)
        self._build()
        self._validate()

    # --- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        first = self.base.nodes[0]
        layout.addWidget(QLabel(
            f"Base: <b>{self.base.name}</b> — {len(self.base.nodes)} × {first.cores} CPU / {first.ram_gb:g} GB, "
            f"{self.base.balancer.policy}, {self.base.workload.rate:g} req/s. Nodes become copies of its first "
            "node; RAM and price scale with the cores."))
        axes = QGridLayout()
        self.axis_boxes: list[QComboBox] = []
        self.value_edits: list[QLineEdit] = []
        for i, default in enumerate(("nodes", "cores", "(none)")):
            box = QComboBox()
            box.addItems(AXIS_CHOICES)
            box.setCurrentText(default)
            edit = QLineEdit(DEFAULT_VALUES.get(default, ""))
            edit.setPlaceholderText("values, e.g. 1-8 or 1, 2, 4")
            box.currentTextChanged.connect(lambda name, e=edit: (e.setText(DEFAULT_VALUES.get(name, "")),
                                                                 self._validate()))
            edit.textChanged.connect(self._validate)
            axes.addWidget(QLabel(f"Axis {i + 1}"), i, 0)
            axes.addWidget(box, i, 1)
            axes.addWidget(edit, i, 2)
            self.axis_boxes.append(box)
            self.value_edits.append(edit)
        axes.setColumnStretch(2, 1)
        layout.addLayout(axes)

        form = QHBoxLayout()
        self.mode = QComboBox()
        self.mode.addItems(["grid", "search"])
        self.mode.setToolTip("grid: every combination; search: the fewest nodes meeting the goal (bisection)")
        self.seconds = self._spin(QDoubleSpinBox(), 1, 3600, self.base.duration_s, " s")
        self.replications = self._spin(QSpinBox(), 1, 100, 2, "")
        self.p99 = self._spin(QDoubleSpinBox(), 0, 1e6, 500, " ms", "no goal")
        self.availability = self._spin(QDoubleSpinBox(), 0, 100, 99.5, " %", "no goal")
        self.availability.setDecimals(2)
        self.workers = self._spin(QSpinBox(), 1, 64, os.cpu_count() or 1, "")
        for label, widget in (("Mode", self.mode), ("Simulated", self.seconds), ("Replications", self.replications),
                              ("p99 ≤", self.p99), ("Availability ≥", self.availability), ("Workers", self.workers)):
            pair = QFormLayout()
            pair.addRow(label, widget)
            form.addLayout(pair)
        self.mode.currentTextChanged.connect(self._validate)
        layout.addLayout(form)

        self.problems = QLabel()
        self.problems.setStyleSheet("color: #c62828;")
        self.problems.setWordWrap(True)
        layout.addWidget(self.problems)
        controls = QHBoxLayout()
        self.run_button = QPushButton("&Run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m runs")
        self.status = QLabel("")
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.status)
        layout.addLayout(controls)

        self.chart = pg.PlotWidget(axisItems={"left": PlainLogAxis("left")})
        self.chart.setLogMode(x=False, y=True)
        self.chart.getAxis("bottom").enableAutoSIPrefix(False)
        self.chart.setLabel("bottom", "cost ($/h)")
        self.chart.setLabel("left", "p99 latency (ms, log scale)")
        self.chart.showGrid(x=True, y=True, alpha=0.25)
        self.chart.addLegend(offset=(-10, 10))
        tip = {"hoverable": True, "tip": self._tip}
        self.misses = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(MISSES), pen=None, name="misses the goal", **tip)
        self.meets = pg.ScatterPlotItem(size=10, brush=pg.mkBrush(MEETS), pen=pg.mkPen("w"), name="meets the goal",
                                        **tip)
        self.best = pg.ScatterPlotItem(size=20, symbol="star", brush=pg.mkBrush(MEETS), pen=pg.mkPen("k"),
                                       name="cheapest meeting the goal", **tip)
        self.front = pg.PlotDataItem(pen=pg.mkPen(FRONT, width=1.5), name="Pareto front")
        for item in (self.front, self.misses, self.meets, self.best):
            self.chart.addItem(item)
        self.best.sigClicked.connect(self._clicked)
        self.misses.sigClicked.connect(self._clicked)
        self.meets.sigClicked.connect(self._clicked)
        self.goal_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(MEETS, style=Qt.PenStyle.DashLine))
        self.chart.addItem(self.goal_line)
        self.labels: list[pg.TextItem] = []
        layout.addWidget(self.chart, 1)
        self.hint = QLabel("Click a point to open that cluster in the main window"
                           + ("; Shift+click to compare it beside the open one" if self.compare_cluster else "")
                           + ". Labels: nodes × cores.")
        layout.addWidget(self.hint)
        self.resize(960, 660)

    def _spin(self, box, low: float, high: float, value: float, suffix: str, special: str = ""):
        box.setRange(low, high)
        box.setValue(value)
        box.setSuffix(suffix)
        if special:
            box.setSpecialValueText(special)  # shown at the minimum (0): no constraint
        box.valueChanged.connect(self._validate)
        return box

    # --- the spec -------------------------------------------------------------------------------
    def spec_data(self) -> dict[str, Any]:
        """The dialog's choices as a sweep spec (the same fields as a spec file)."""
        axes: dict[str, Any] = {}
        for box, edit in zip(self.axis_boxes, self.value_edits, strict=True):
            if box.currentText() != "(none)":
                axes[box.currentText()] = parse_values(box.currentText(), edit.text())
        constraints = {}
        if self.p99.value() > 0:
            constraints["p99_ms"] = self.p99.value()
        if self.availability.value() > 0:
            constraints["availability_pct"] = self.availability.value()
        return {"name": f"what-if {self.base.name}"[:80], "base": self.base.name, "mode": self.mode.currentText(),
                "seconds": self.seconds.value(), "seed": self.base.seed, "replications": self.replications.value(),
                "axes": axes, "constraints": constraints}

    def _validate(self) -> bool:
        names = [b.currentText() for b in self.axis_boxes if b.currentText() != "(none)"]
        try:
            if len(set(names)) != len(names):
                raise ScenarioError("axes: each axis may be picked once")
            self.spec = validate_spec(self.spec_data())
        except ScenarioError as exc:
            self.spec = None
            self.problems.setText("\n".join(exc.problems))
        else:
            self.problems.setText(self.unavailable)
        busy = self.sweeper.state().busy
        self.run_button.setEnabled(self.spec is not None and not busy and not self.unavailable)
        return self.spec is not None

    # --- running --------------------------------------------------------------------------------
    def run(self) -> None:
        if not self._validate() or self.sweeper.state().busy or self.unavailable:
            return
        self.points = []
        self._draw()
        self.sweeper.start(self.spec, self.base)
        self.workers.setEnabled(False)  # the workers started now serve every later run of this dialog
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("starting the Dask workers…")
        self.timer.start()

    def cancel(self) -> None:
        self.sweeper.cancel()
        self.status.setText("cancelling…")

    def _poll(self) -> None:
        state = self.sweeper.state()
        self.progress.setRange(0, state.expected)  # 0..0 while the workers start: a busy bar
        self.progress.setValue(state.done)
        self.points = aggregate(self.spec, state.rows) if state.rows else []
        self._draw()
        self.status.setText(self._status_text(state))
        if not state.busy:
            self.timer.stop()
            self.cancel_button.setEnabled(False)
            self._validate()

    @staticmethod
    def _status_text(state: SweepState) -> str:
        if state.phase == "starting":
            return "starting the Dask workers…"
        if state.phase == "failed":
            return f"failed: {state.error}"
        left = state.left_s
        text = f"{state.runs_per_s:.2f} runs/s" + ("" if left is None else f", {left:.0f} s left")
        if state.phase == "finished":
            return f"done: {state.done} runs in {state.elapsed_s:.1f} s"
        if state.phase == "cancelled":
            return f"cancelled: kept {state.done} runs"
        return text

    # --- the chart ------------------------------------------------------------------------------
    def _draw(self) -> None:
        shown = [p for p in self.points if not math.isnan(p["p99_ms"]) and p["p99_ms"] > 0]
        good = [p for p in shown if p["meets_constraints"]]
        bad = [p for p in shown if not p["meets_constraints"]]
        for item, data in ((self.meets, good), (self.misses, bad), (self.best, cheapest(shown))):
            item.setData([{"pos": (p["cost_per_hour"], math.log10(p["p99_ms"])), "data": p["point"]} for p in data])
        front = pareto_front(shown)
        self.front.setData([p["cost_per_hour"] for p in front], [p["p99_ms"] for p in front])
        for label in self.labels:
            self.chart.removeItem(label)
        chosen = {p["point"] for p in cheapest(shown)} | {p["point"] for p in front}
        self.labels = []
        for p in good if len(good) <= 12 else [p for p in good if p["point"] in chosen]:
            text = pg.TextItem(f"{p['nodes']}×{p['cores']}", color=MEETS, anchor=(0, 1))
            text.setPos(p["cost_per_hour"], math.log10(p["p99_ms"]))
            self.chart.addItem(text)
            self.labels.append(text)
        goal = self.spec.constraints.p99_ms if self.spec is not None else None
        self.goal_line.setVisible(goal is not None)
        if goal is not None:
            self.goal_line.setValue(math.log10(goal))

    def _tip(self, x: float, y: float, data: Any) -> str:
        p = next((p for p in self.points if p["point"] == data), None)
        if p is None:
            return ""
        return (f"{p['nodes']} × {p['cores']} CPU / {p['ram_gb']:g} GB, {p['policy']}, {p['rate']:g} req/s, "
                f"failure {p['failure']}\n${p['cost_per_hour']:.4f}/h, p99 {p['p99_ms']:.0f} ms, "
                f"availability {p['availability_pct']:.2f}%\nclick: open this cluster")

    def _clicked(self, _item, spots, event=None) -> None:
        if len(spots):
            shift = event is not None and bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.open_point(int(spots[0].data()), compare=shift and self.compare_cluster is not None)

    def open_point(self, index: int, compare: bool = False) -> Scenario | None:
        """Open the cluster of point ``index`` (of the last sweep) in the main window, or with
        ``compare`` beside the open scenario in the comparison view."""
        point = next((p for p in self.points if p["point"] == index), None)
        if point is None or self.spec is None:
            return None
        values = {name: point[name] for name in AXIS_NAMES}
        values["failure"] = _failure_of(self.spec, point["failure"])
        scenario = build_scenario(self.base, SweepPoint(index, values), self.spec)
        (self.compare_cluster if compare else self.open_cluster)(scenario)
        return scenario

    def shutdown(self) -> None:
        """Cancel the sweep and stop its workers (closing, or Escape)."""
        self.timer.stop()
        self.sweeper.close()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def reject(self) -> None:  # Escape hides a dialog without a closeEvent
        self.shutdown()
        super().reject()


class PlainLogAxis(pg.AxisItem):
    """A log axis labelled 200, 500, 1000 instead of 2·10², 5·10², 10³."""

    def logTickStrings(self, values, scale, spacing):
        return [f"{10 ** v:g}" for v in values]


def _failure_of(spec: SweepSpec, label: str):
    """The Failure whose label is ``label`` among the spec's failure values (or none)."""
    from sim_core.sweep.spec import Failure

    return next((f for f in spec.axes.failure or [] if f.label() == label), Failure())
