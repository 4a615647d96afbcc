"""The "What to watch" panel: the scenario's description and the one or two figures it is about.

The figures are chosen from what the scenario does (``watched``): a timed failure is about
availability and the requests lost, a burst about requests in flight and rejected, a ramp
about served following offered, anything else about served and rejected. They are shown
large and highlighted, live, from the controller's latest snapshot and history.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.controller import SimController
from app.figure_label import FigureLabel
from sim_core.scenario import Scenario

FIGURES = {  # key: caption, unit
    "availability": ("Availability, last 10 s", "%"),
    "lost_total": ("Lost so far", "requests"),
    "in_flight": ("In flight", "requests"),
    "rejected": ("Rejected", "req/s"),
    "offered": ("Offered", "req/s"),
    "served": ("Served", "req/s"),
}
HIGHLIGHT = "#fff3c4"


def watched(scenario: Scenario) -> tuple[str, ...]:
    """The keys of FIGURES a scenario is about."""
    if any(event.action == "fail" for event in scenario.events):
        return ("availability", "lost_total")
    kind = scenario.workload.shape.kind
    if kind == "step":
        return ("in_flight", "rejected")
    if kind == "ramp":
        return ("offered", "served")
    return ("served", "rejected")


def cell_text(figure: str, caption: str) -> str:
    """A watched figure's cell: the figure large, its caption under it (rich text)."""
    return (f"<span style='font-size:20pt; font-weight:600'>{figure}</span>"
            f"<br><span style='color:#5b6775'>{caption}</span>")


def figure_text(key: str, value: float) -> str:
    if math.isnan(value):
        return "–"
    if key == "availability":
        return f"{value:.1f}"
    if key in ("lost_total", "in_flight"):
        return f"{value:.0f}"
    return f"{value:.1f}"


class WatchPanel(QWidget):
    """A header that folds the panel, the description, and live highlighted figures (``numbers``)."""

    def __init__(self, controller: SimController, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctrl = controller
        self.keys: tuple[str, ...] = ()
        self.numbers: dict[str, float] = {}
        self.values: dict[str, FigureLabel] = {}
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 0, 4, 2)
        column.setSpacing(2)
        self.toggle = QToolButton()
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.toggle.setText("What to watch")
        self.toggle.setAutoRaise(True)
        self.toggle.toggled.connect(self.set_open)
        column.addWidget(self.toggle)
        self.body = QWidget()
        row = QHBoxLayout(self.body)
        row.setContentsMargins(0, 0, 0, 0)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description.setStyleSheet("color: #1d2733;")
        row.addWidget(self.description, 1)
        self.figures = QWidget()
        self.figure_row = QHBoxLayout(self.figures)
        self.figure_row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.figures)
        column.addWidget(self.body)
        c = controller
        c.scenario_replaced.connect(self.rebuild)
        c.workload_changed.connect(self.rebuild)
        c.stepped.connect(lambda _snaps: self.refresh())
        c.sim_reset.connect(self.refresh)
        self.rebuild()

    def set_open(self, on: bool) -> None:
        self.body.setVisible(on)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def rebuild(self) -> None:
        scenario = self.ctrl.scenario
        self.description.setText(scenario.description or f"{scenario.name}: no description.")
        keys = watched(scenario)
        if keys == self.keys:
            self.refresh()
            return
        self.keys = keys
        while self.figure_row.count():
            self.figure_row.takeAt(0).widget().deleteLater()
        self.values = {}
        for key in keys:
            caption, unit = FIGURES[key]
            cell = FigureLabel()
            cell.setStyleSheet(f"background: {HIGHLIGHT}; border-radius: 6px; padding: 2px 10px;")
            cell.fit()
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.setAccessibleName(caption)
            cell.setProperty("caption", f"{caption} ({unit})")
            self.figure_row.addWidget(cell)
            self.values[key] = cell
        self.refresh()

    def refresh(self) -> None:
        """Show the latest figures: the same numbers the readout and the charts show."""
        snap = self.ctrl.last
        figures = dict.fromkeys(FIGURES, math.nan)
        if snap is not None:
            rates = self.ctrl.history.last_rates()
            figures.update({name: rates[name] for name in ("offered", "served", "rejected")})
            figures.update(availability=snap.availability * 100.0, lost_total=float(snap.lost_total),
                           in_flight=float(snap.in_system))
        for key, label in self.values.items():
            self.numbers[key] = figures[key]
            label.show_text(cell_text(figure_text(key, figures[key]), label.property("caption")))
