"""The large-type readout of the current figures, and the colours the charts share with it.

No pyqtgraph here: the main window shows the readout in its first frame, before the charts
(``app.charts.live``) are built. It reads the session's ``History`` through the controller when
it emits ``stepped``.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.controller import SimController
from app.figure_label import FigureLabel
from sim_core.metrics import RATE_NAMES, count_up

COLOURS = {
    "offered": "#7f8c99", "served": "#2e9d4f", "rejected": "#ef8a17", "lost": "#d32f2f",
    "p50": "#1e88e5", "p95": "#8e24aa", "p99": "#d81b60",
    "availability": "#2e9d4f", "cost": "#6d4c41", "queued": "#f2a900", "nodes": "#1e88e5",
}

READOUT = (  # key, caption, unit
    ("offered", "Offered", "req/s"),
    ("served", "Served", "req/s"),
    ("rejected", "Rejected", "req/s"),
    ("lost", "Lost", "req/s"),
    ("p50", "p50", "ms"),
    ("p95", "p95", "ms"),
    ("p99", "p99", "ms"),
    ("availability", "Availability", "%"),
    ("cost", "Cost", "$/h"),
    ("nodes_up", "Nodes up", ""),
    ("queued", "Queued", "req"),
    ("lost_total", "Lost so far", "req"),
)


def format_figure(key: str, value: float) -> str:
    """How the readout writes a figure: rates 1 decimal, ms to 3 significant digits, % 2 decimals."""
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if key in RATE_NAMES:
        return f"{value:.1f}"
    if key in ("p50", "p95", "p99"):
        return f"{value:.3g}" if value < 1000 else f"{value:.0f}"
    if key == "availability":
        return f"{value:.2f}"
    if key == "cost":
        return f"{value:.4f}"
    return str(value)


class Readout(QWidget):
    """The current figures in large type; ``numbers[key]`` holds exactly what each label shows."""

    def __init__(self, controller: SimController, parent: QWidget | None = None,
                 keys: tuple[str, ...] | None = None, per_row: int = 6, figure_px: int = 29, label_px: int = 12):
        super().__init__(parent)
        self.setObjectName("readout")
        self.ctrl = controller
        self.numbers: dict[str, float | str] = {}
        self.labels: dict[str, FigureLabel] = {}
        self.heads: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 2, 6, 2)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(0)
        shown = [row for row in READOUT if keys is None or row[0] in keys]
        for k, (key, caption, unit) in enumerate(shown):
            cell = QWidget()
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(0)
            value = FigureLabel("–")
            value.setAccessibleName(caption)
            head = QLabel(f"{caption} ({unit})" if unit else caption)
            box.addWidget(value)
            box.addWidget(head)
            grid.addWidget(cell, k // per_row, k % per_row)
            self.labels[key] = value
            self.heads[key] = head
        self.set_type(figure_px, label_px)
        self.time_label = FigureLabel("t = 0.0 s", "t = 0000.0 s")
        self.time_label.setStyleSheet("color: #5b6775;")
        self.time_label.fit()
        c = controller
        c.stepped.connect(lambda _snaps: self.refresh())
        c.node_state_changed.connect(lambda _i: self.refresh())
        c.node_added.connect(lambda _i: self.refresh())  # paused: "Nodes up" must still count the new node
        c.node_removed.connect(lambda _i: self.refresh())
        c.scenario_replaced.connect(self.refresh)
        c.sim_reset.connect(self.refresh)
        self.refresh()

    def set_type(self, figure_px: int, label_px: int) -> None:
        """Pixel sizes of the figures and of their captions."""
        for key, value in self.labels.items():
            value.setStyleSheet(f"font-size: {figure_px}px; font-weight: 600; color: {COLOURS.get(key, '#1d2733')};")
            value.fit()
            self.heads[key].setStyleSheet(f"color: #5b6775; font-size: {label_px}px;")

    def refresh(self) -> None:
        snap = self.ctrl.last
        states = self.ctrl.node_states()
        figures: dict[str, float | str] = {"nodes_up": f"{count_up(states)}/{states.size}"}
        if snap is None:
            figures.update({key: math.nan for key, _c, _u in READOUT if key != "nodes_up"})
        else:
            figures.update(self.ctrl.history.last_rates())
            figures.update(p50=snap.latency_p50 * 1e3, p95=snap.latency_p95 * 1e3, p99=snap.latency_p99 * 1e3,
                           availability=snap.availability * 100.0, cost=snap.cost_per_hour,
                           queued=int(snap.queue.sum()), lost_total=int(snap.lost_total))
        for key, value in figures.items():
            if key not in self.labels:
                continue
            self.numbers[key] = value
            self.labels[key].show_text(format_figure(key, value))
        self.time_label.show_text(f"t = {self.ctrl.t:.1f} s" + (
            f" (replaying; run reached {self.ctrl.head_t:.1f} s)" if self.ctrl.t < self.ctrl.head_t else ""))
