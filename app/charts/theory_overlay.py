"""What the Explainer adds to the existing views: dashed theory lines and bands on the charts,
"theory" under the readout's latency figures, and the N-1 verdict on the canvas.

Attached from outside (``attach(window, explainer)``) so the charts, readout and canvas modules
stay unaware of it; each part reads only the Explainer.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QGraphicsView, QLabel, QMainWindow

from app.charts.live import PAGE_S
from app.explain import Explainer
from app.panels.explain_panel import ExplainPanel, ms

THEORY_PEN = {"mean": ("#1d2733", Qt.PenStyle.DashLine), "p99": ("#d81b60", Qt.PenStyle.DashLine)}
BAND_BRUSH = {"p99": (216, 27, 96, 45), "availability": (46, 157, 79, 45)}
MAX_BAND_SAMPLES = 4096


class ChartOverlay:
    """Theory lines (mean, p99) on the latency chart; 95% bands around the windowed p99 and
    availability; a vertical line where MSER-5 says the warm-up ended."""

    def __init__(self, charts, explainer: Explainer):
        self.charts = charts
        self.ex = explainer
        self.lines: dict[str, pg.InfiniteLine] = {}
        for key, (colour, style) in THEORY_PEN.items():
            line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(colour, width=1.5, style=style),
                                   label=f"theory {key}", labelOpts={"position": 0.08, "color": colour,
                                                                      "anchors": [(0, 1), (0, 1)]})
            line.setZValue(5)
            line.hide()
            charts.latency.addItem(line, ignoreBounds=True)
            self.lines[key] = line
        # rows of (t, low, high), oldest first, in a preallocated array per band (at most MAX_BAND_SAMPLES)
        self.samples = {key: np.full((MAX_BAND_SAMPLES, 3), np.nan) for key in BAND_BRUSH}
        self.count = 0
        self.band_curves: dict[str, tuple[pg.PlotCurveItem, pg.PlotCurveItem, pg.FillBetweenItem]] = {}
        for key, plot in (("p99", charts.latency), ("availability", charts.availability)):
            edge = pg.mkPen(BAND_BRUSH[key][:3] + (90,), width=1)
            low, high = pg.PlotCurveItem(pen=edge), pg.PlotCurveItem(pen=edge)
            fill = pg.FillBetweenItem(low, high, brush=pg.mkBrush(*BAND_BRUSH[key]))
            for item in (low, high, fill):
                plot.addItem(item, ignoreBounds=True)
            self.band_curves[key] = (low, high, fill)
        self.warmup = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#5b6775", style=Qt.PenStyle.DotLine),
                                      label="warm-up", labelOpts={"position": 0.05, "color": "#5b6775"})
        self.warmup.hide()
        charts.latency.addItem(self.warmup, ignoreBounds=True)
        explainer.changed.connect(self.refresh)
        explainer.ctrl.sim_reset.connect(self.rewind)
        explainer.ctrl.scenario_replaced.connect(self.clear)

    def clear(self) -> None:
        self.count = 0
        self.refresh()

    def rewind(self) -> None:
        """The run moved to another moment: keep the bands drawn up to it, drop the later ones."""
        times = self.samples["p99"][:self.count, 0]
        self.count = int(np.searchsorted(times, self.ex.ctrl.t + 1e-9, side="right"))
        self.refresh()

    def _append(self, row: dict[str, tuple[float, float, float]]) -> None:
        if self.count == MAX_BAND_SAMPLES:  # full: drop the older half (a copy every MAX/2 samples)
            half = MAX_BAND_SAMPLES // 2
            for samples in self.samples.values():
                samples[:half] = samples[half:]
            self.count = half
        for key, values in row.items():
            self.samples[key][self.count] = values
        self.count += 1

    def refresh(self) -> None:
        pred = self.ex.prediction
        applies = pred is not None and pred.applies
        for key, line in self.lines.items():
            value = getattr(pred, f"{key}_s", math.nan) if applies else math.nan
            line.setVisible(not math.isnan(value))
            if not math.isnan(value):
                line.setValue(value * 1e3)
                line.label.setFormat(f"theory {key} {ms(value)}")
        bands = self.ex.bands
        if not math.isnan(bands.t):
            last = self.samples["p99"][self.count - 1, 0] if self.count else -math.inf
            if bands.t > last:
                self._append({"p99": (bands.t, bands.p99.low * 1e3, bands.p99.high * 1e3),
                              "availability": (bands.t, bands.availability.low * 100,
                                               min(bands.availability.high, 1.0) * 100)})
        # only what the charts' time window can show: a long run's older band is never drawn
        times = self.samples["p99"][:self.count, 0]
        first = int(np.searchsorted(times, times[-1] - self.charts.window_s - PAGE_S)) if self.count else 0
        for key, (low, high, _fill) in self.band_curves.items():
            rows = self.samples[key][first:self.count]
            rows = rows[~np.isnan(rows).any(axis=1)]
            low.setData(rows[:, 0], rows[:, 1])
            high.setData(rows[:, 0], rows[:, 2])
        end = bands.warmup_end_s
        self.warmup.setVisible(not math.isnan(end) and end > 0)
        if not math.isnan(end):
            self.warmup.setValue(end)


class ReadoutTheory:
    """A small line under the readout's p50, p95, p99 and availability: "± band · theory value"."""

    def __init__(self, readout, explainer: Explainer):
        self.ex = explainer
        self.labels: dict[str, QLabel] = {}
        for key in ("p50", "p95", "p99", "availability"):
            value_label = readout.labels.get(key)
            if value_label is None:
                continue
            note = QLabel("")
            note.setStyleSheet("color: #5b6775; font-size: 8pt;")
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
            text = self.text(key)
            if label.text() != text:
                label.setText(text)


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
        if (text, colour) != self._shown:  # a style sheet costs a re-polish: only when it changes
            self._shown = (text, colour)
            self.setText(text)
            self.setStyleSheet(f"background: rgba(255,255,255,220); color: {colour}; border: 1px solid {colour}; "
                               "border-radius: 4px; padding: 3px 6px; font-weight: 600;")
            self.adjustSize()
        corner = self.view.viewport().geometry().topLeft()
        self.move(corner.x() + 8, corner.y() + 8)
        if not self.isVisible():
            self.show()
            self.raise_()


class Explanations:
    """Everything one MainWindow gets: the Explainer, the Theory dock and the overlays."""

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
        self.charts = ChartOverlay(window.charts, self.explainer)
        self.readout = ReadoutTheory(window.readout, self.explainer)
        self.verdict = CanvasVerdict(window.view, self.explainer)
        window.clock.framed.connect(self.explainer.on_frame)
        self.explainer.invalidate()
