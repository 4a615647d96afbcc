"""What the Explainer adds to the main window besides the charts: "theory" notes under the
readout's latency and availability figures, the N-1 verdict on the canvas, and the Theory dock.

None of it needs pyqtgraph, so the window builds it before its first frame (the notes change
the readout's height: built later, the layout would jump); the chart overlay
(``app.charts.theory_overlay``) is attached once the charts exist. Each part reads only the Explainer.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QGraphicsView, QLabel, QMainWindow

from app.explain import Explainer
from app.figure_label import FigureLabel
from app.panels.explain_panel import ExplainPanel, ms


class ReadoutTheory:
    """A small line under the readout's p50, p95, p99 and availability: "± band · theory value"."""

    def __init__(self, readout, explainer: Explainer):
        self.ex = explainer
        self.labels: dict[str, FigureLabel] = {}
        for key in ("p50", "p95", "p99", "availability"):
            value_label = readout.labels.get(key)
            if value_label is None:
                continue
            note = FigureLabel("")
            note.setStyleSheet("color: #5b6775; font-size: 8pt;")
            note.fit()
            note.setAccessibleName(f"{key} theory")
            value_label.parentWidget().layout().addWidget(note)
            self.labels[key] = note
        explainer.changed.connect(self.refresh)
        self.refresh()

    def text(self, key: str) -> str:
        """The note under the readout's ``key``: the 95% band (p99, availability) and the theory."""
        pred, bands = self.ex.prediction, self.ex.bands
        applies = pred is not None and pred.applies
        if key in ("p50", "p95", "p99"):
            half = bands.p99.half_width if key == "p99" else math.nan
            band = "" if math.isnan(half) else f"± {ms(half)} · "
            value = getattr(pred, f"{key}_s", math.nan) if applies else math.nan
            return band + (f"theory {ms(value)}" if not math.isnan(value) else "no theory")
        avail = bands.availability
        band = "" if math.isnan(avail.half_width) else f"± {100 * avail.half_width:.2g}% · "
        if self.ex.report is not None:
            return band + f"theory {100 * self.ex.report.cluster:.4g}% up"
        if applies:
            return band + f"theory {100 * (1 - pred.rejection):.4g}%"
        return band.rstrip(" ·")

    def refresh(self) -> None:
        for key, label in self.labels.items():
            label.show_text(self.text(key))


class CanvasVerdict(QLabel):
    """The N-1 verdict in the canvas's top-left corner: green when safe, red when not."""

    def __init__(self, view: QGraphicsView, explainer: Explainer):
        super().__init__(view)  # not the viewport: scrolling the canvas would carry it along
        self.view = view
        self.ex = explainer
        self.setWordWrap(True)
        self.setMaximumWidth(420)
        self._shown: tuple[str, str] = ("", "")
        self.hide()
        explainer.changed.connect(self.refresh)
        explainer.n1_progress.connect(lambda done, total: self.refresh(done, total))

    def refresh(self, done: int | None = None, total: int | None = None) -> None:
        ex = self.ex
        if not ex.n1_enabled:
            self.hide()
            return
        result = ex.n1_result
        if result is None:
            text, colour = ("N-1: checking..." if done is None else f"N-1: checking {done}/{total}"), "#5b6775"
        else:
            colour = "#2e7d32" if result.safe else "#c62828"
            worst = result.weak_spot
            head = "N-1 safe" if result.safe else "N-1 NOT safe"
            text = f"{head} (p99 target {ms(result.target_p99_s)}): losing {worst.name} gives p99 {ms(worst.p99_s)}" + (
                f", {100 * worst.rejected_share:.1f}% rejected" if worst.rejected else "")
            if ex.n1_running:
                text += " (updating)"
        if colour != self._shown[1]:  # a style sheet costs a re-polish: only when the colour changes
            self.setStyleSheet(f"background: rgba(255,255,255,220); color: {colour}; border: 1px solid {colour}; "
                               "border-radius: 4px; padding: 3px 6px; font-weight: 600;")
        if (text, colour) != self._shown:
            self._shown = (text, colour)
            self.setText(text)
            self.adjustSize()
        corner = self.view.viewport().geometry().topLeft()
        self.move(corner.x() + 8, corner.y() + 8)
        if not self.isVisible():
            self.show()
            self.raise_()


class Explanations:
    """Everything one MainWindow gets: the Explainer, the Theory dock and the overlays.

    ``charts``, the overlay on the live charts, is None until ``attach_charts`` is called.
    """

    def __init__(self, window: QMainWindow):
        self.explainer = Explainer(window.ctrl, parent=window)
        self.panel = ExplainPanel(self.explainer)
        self.dock = QDockWidget("Theory", window)
        self.dock.setObjectName("theory")
        self.dock.setWidget(self.panel)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()  # opened from View > Theory; a hidden tab would sit outside the window's geometry
        view_menu = next((a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "View"), None)
        if view_menu is not None:
            view_menu.addAction(self.dock.toggleViewAction())
        self.readout = ReadoutTheory(window.readout, self.explainer)
        self.verdict = CanvasVerdict(window.view, self.explainer)
        self.charts = None
        window.clock.framed.connect(self.explainer.on_frame)
        self.explainer.invalidate()

    def attach_charts(self, charts) -> None:
        """Draw the theory lines and bands on ``charts`` (an ``app.charts.live.ChartPanel``; imports pyqtgraph)."""
        from app.charts.theory_overlay import ChartOverlay

        self.charts = ChartOverlay(charts, self.explainer)
        self.charts.refresh()
