"""What the Explainer adds to the live charts: dashed theory lines, bands and the warm-up marker.

Attached from outside (``app.panels.theory_notes.Explanations.attach_charts``) so the charts
module stays unaware of it; it reads only the Explainer. The notes under the readout and the
canvas's N-1 verdict, which need no pyqtgraph, are in ``app.panels.theory_notes``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from app.charts.live import PAGE_S
from app.explain import Explainer
from app.panels.explain_panel import ms

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
        self._due: set = set()  # charts whose overlay is older than the Explainer's figures
        for plot in (charts.latency, charts.availability):
            charts.draw_hooks.setdefault(plot, []).append(lambda plot=plot: self._show(plot))
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
        """Take the Explainer's new figures. Within the clock's frames each chart shows them when it is
        next drawn (a frame redraws one chart: a repaint of two here would make a second); else now."""
        bands = self.ex.bands
        if not math.isnan(bands.t):
            last = self.samples["p99"][self.count - 1, 0] if self.count else -math.inf
            if bands.t > last:
                self._append({"p99": (bands.t, bands.p99.low * 1e3, bands.p99.high * 1e3),
                              "availability": (bands.t, bands.availability.low * 100,
                                               min(bands.availability.high, 1.0) * 100)})
        self._due = {self.charts.latency, self.charts.availability}
        if not self.ex.in_frame:
            for plot in list(self._due):
                self._show(plot)

    def _show(self, plot) -> None:
        """Put the newest figures on ``plot`` (the latency or the availability chart), if it lacks them."""
        if plot not in self._due:
            return
        self._due.discard(plot)
        key = "p99" if plot is self.charts.latency else "availability"
        if key == "p99":
            pred = self.ex.prediction
            applies = pred is not None and pred.applies
            for name, line in self.lines.items():
                value = getattr(pred, f"{name}_s", math.nan) if applies else math.nan
                line.setVisible(not math.isnan(value))
                if not math.isnan(value):
                    line.setValue(value * 1e3)
                    line.label.setFormat(f"theory {name} {ms(value)}")
            end = self.ex.bands.warmup_end_s
            self.warmup.setVisible(not math.isnan(end) and end > 0)
            if not math.isnan(end):
                self.warmup.setValue(end)
        # only what the charts' time window can show: a long run's older band is never drawn
        times = self.samples["p99"][:self.count, 0]
        first = int(np.searchsorted(times, times[-1] - self.charts.window_s - PAGE_S)) if self.count else 0
        low, high, _fill = self.band_curves[key]
        rows = self.samples[key][first:self.count]
        rows = rows[~np.isnan(rows).any(axis=1)]
        low.blockSignals(True)  # the fill between is rebuilt once, when the high edge changes
        low.setData(rows[:, 0], rows[:, 1])
        low.blockSignals(False)
        high.setData(rows[:, 0], rows[:, 2])
