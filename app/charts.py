"""Live pyqtgraph charts and the large-type readout of the current figures.

Both read the session's ``History`` (filled once per engine step) through the controller when
it emits ``stepped``: one ``setData`` per curve per tick, over the rolling window only. The
timeline's events are markers on the time axis; a movable time cursor scrubs the run.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.controller import SimController
from sim_core.metrics import RATE_NAMES, History, count_up

WINDOW_S = 60.0  # simulated seconds shown
PAGE_S = 5.0  # the shown window moves on by this much at a time
MAX_HEAT_COLUMNS = 240
MAX_MARKERS = 200  # timeline markers drawn (the newest)
MARKER_SIGNS = {"fail": "✕", "recover": "↺", "add": "+", "remove": "−", "resize": "⇕", "set_node": "✎"}


def marker_label(event) -> str:
    """The short text on an event's marker: ``✕ node-3``, ``80 req/s``, ``least connections``."""
    if event.action == "set_rate":
        return f"{event.rate:g} req/s"
    if event.action == "set_policy":
        return event.policy.replace("_", " ")
    if event.action in ("set_workload", "set_balancer"):
        return "traffic" if event.action == "set_workload" else "balancer"
    return f"{MARKER_SIGNS[event.action]} {event.target}"
CURVES_UP_TO = 4  # more nodes than this: a heat strip (one row per node) instead of curves
COLOURS = {
    "offered": "#7f8c99", "served": "#2e9d4f", "rejected": "#ef8a17", "lost": "#d32f2f",
    "p50": "#1e88e5", "p95": "#8e24aa", "p99": "#d81b60",
    "availability": "#2e9d4f", "cost": "#6d4c41", "queued": "#f2a900", "nodes": "#1e88e5",
}
pg.setConfigOptions(antialias=False, background="w", foreground="#1d2733")


def window_start(t: np.ndarray, window_s: float) -> int:
    """Index of the first sample inside the last ``window_s`` seconds of ``t`` (sorted)."""
    return int(np.searchsorted(t, t[-1] - window_s)) if t.size else 0


def heat_columns(util: np.ndarray, columns: int) -> np.ndarray:
    """Average the rows of ``util`` (time, nodes) into at most ``columns`` time bins."""
    if util.shape[0] <= columns:
        return util
    step = math.ceil(util.shape[0] / columns)
    usable = util.shape[0] // step * step
    return util[-usable:].reshape(-1, step, util.shape[1]).mean(axis=1)


class ChartPanel(pg.GraphicsLayoutWidget):
    """Throughput, latency, utilization (curves or heat strip), queue, availability and cost over time."""

    def __init__(self, controller: SimController, parent: QWidget | None = None, window_s: float = WINDOW_S):
        super().__init__(parent)
        self.ctrl = controller
        self.window_s = window_s
        # repaint the rectangles of the curves that changed, not the whole widget with its axes
        self.setViewportUpdateMode(pg.QtWidgets.QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.markers: list[pg.InfiniteLine] = []
        self._marked: tuple = ()
        self._next_marker_t = np.inf
        self.throughput = self._plot(0, 0, "Requests/s (1 s average)", "req/s", legend_columns=2)
        self.latency = self._plot(0, 1, "Latency (last 10 s)", "ms", legend_columns=3)
        self.utilization = self._plot(1, 0, "Utilization per node", "%")
        self.queue = self._plot(1, 1, "Waiting requests (queue)", "requests")
        self.availability = self._plot(2, 0, "Availability (last 10 s)", "%")
        self.cost = self._plot(2, 1, "Cost (brown, $/h) and nodes (blue)", "$/h")
        self.curves: dict[str, pg.PlotDataItem] = {}
        for name in RATE_NAMES:
            self._curve(self.throughput, name, name, dashed=name == "offered")
        for name in ("p50", "p95", "p99"):
            self._curve(self.latency, name, name)
        self._curve(self.queue, "queued", "queued")
        self._curve(self.availability, "availability", "availability")
        self._curve(self.cost, "cost", "cost")
        self.nodes_axis = pg.ViewBox()  # node count on a right-hand axis of the cost chart
        self.cost.showAxis("right")
        self.cost.scene().addItem(self.nodes_axis)
        self.cost.getAxis("right").linkToView(self.nodes_axis)
        self.cost.getAxis("right").setLabel("nodes")
        self.nodes_axis.setXLink(self.cost)
        self.curves["nodes"] = pg.PlotDataItem(pen=pg.mkPen(COLOURS["nodes"], width=2), name="nodes")
        self.nodes_axis.addItem(self.curves["nodes"])
        if self.cost.legend is not None:
            self.cost.legend.addItem(self.curves["nodes"], "nodes")
        self.cost.vb.sigResized.connect(lambda _vb: self.nodes_axis.setGeometry(self.cost.vb.sceneBoundingRect()))
        self.availability.setYRange(0, 100.5)
        self.utilization.setYRange(0, 100.5)
        self.node_curves: list[pg.PlotDataItem] = []
        self.heat = pg.ImageItem(axisOrder="col-major")
        self.heat.setColorMap(pg.ColorMap([0.0, 0.5, 1.0], ["#3cb371", "#f2d024", "#d32f2f"]))
        self.heat.setLevels((0.0, 1.0))
        self.utilization.addItem(self.heat)
        for plot in (self.latency, self.utilization, self.queue, self.availability, self.cost):
            plot.setXLink(self.throughput)
        # the time cursor: drag it to scrub the run (to any moment it has passed through)
        self.cursor = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen("#1d2733", width=2),
                                      hoverPen=pg.mkPen("#1e88e5", width=4))
        self.cursor.setToolTip("Drag to move the run back to an earlier moment; play on to replay it")
        self.cursor.setZValue(20)
        self.cursor.sigPositionChangeFinished.connect(lambda line: self.ctrl.jump(float(line.value())))
        self.throughput.addItem(self.cursor)
        c = controller
        c.stepped.connect(lambda _snaps: self.refresh())
        c.scenario_replaced.connect(self.rebuild)
        c.node_added.connect(lambda _i: self.rebuild())
        c.node_removed.connect(lambda _i: self.rebuild())
        c.sim_reset.connect(self.rebuild)
        c.timeline_changed.connect(self._update_markers)
        self.rebuild()

    def _plot(self, row: int, col: int, title: str, unit: str, legend_columns: int = 0) -> pg.PlotItem:
        plot = self.addPlot(row=row, col=col, title=title)
        plot.setLabel("left", units=None, text=unit)
        plot.getAxis("left").enableAutoSIPrefix(False)
        if legend_columns:
            plot.addLegend(offset=(4, 2), labelTextSize="8pt", colCount=legend_columns, brush=(255, 255, 255, 210))
        if row == 2:  # the x axes are linked: one time axis under each column
            plot.setLabel("bottom", "simulated time", units="s")
        else:
            plot.hideAxis("bottom")
        plot.showGrid(x=False, y=False)  # a grid is drawn by the axes: every curve update would repaint them
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        return plot

    def _curve(self, plot: pg.PlotItem, key: str, label: str, dashed: bool = False) -> pg.PlotDataItem:
        pen = pg.mkPen(COLOURS[key], width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        curve = plot.plot([], [], pen=pen, name=label)
        self.curves[key] = curve
        return curve

    def rebuild(self) -> None:
        """Match the per-node chart to the cluster's size and redraw from the history."""
        n = len(self.ctrl.node_ids)
        for curve in self.node_curves:
            self.utilization.removeItem(curve)
        self.node_curves = []
        self.curve_ids: list[int] = []
        self.heat.setVisible(n > CURVES_UP_TO)
        if n <= CURVES_UP_TO:
            for k, node_id in enumerate(self.ctrl.node_ids):
                pen = pg.mkPen(pg.intColor(k, hues=max(n, 7), maxValue=200), width=1.5)
                self.node_curves.append(self.utilization.plot([], [], pen=pen, name=self.ctrl.node(node_id).name))
                self.curve_ids.append(node_id)
            self.utilization.setLabel("left", "%")
            self.utilization.setYRange(0, 100.5, padding=0)
        else:
            self.utilization.setLabel("left", "node (row), green idle → red busy")
        self.heat.clear()
        self._update_markers()
        self.refresh()

    def _update_markers(self) -> None:
        """A vertical line on the throughput chart at each event of the timeline, with a tooltip.

        Solid: the user's actions; dashed: the scenario's events; pale: events still ahead (when
        the run is scrubbed back). Labels step down in turn so that neighbours do not overlap.
        """
        timeline = self.ctrl.timeline[-MAX_MARKERS:]
        now = self.ctrl.t
        key = tuple((id(e), e.at_s <= now) for e, _o in timeline)
        if key == self._marked:
            return
        self._marked = key
        for marker in self.markers:
            self.throughput.removeItem(marker)
        self.markers = []
        ahead = [e.at_s for e, _o in timeline if e.at_s > now]
        self._next_marker_t = min(ahead, default=np.inf)
        for k, (event, origin) in enumerate(timeline):
            bad = event.action in ("fail", "remove")
            colour = pg.mkColor("#d32f2f" if bad else "#2e9d4f" if event.action in ("recover", "add") else "#5b6775")
            if event.at_s > now:
                colour.setAlpha(90)
            style = Qt.PenStyle.DashLine if origin == "scenario" else Qt.PenStyle.SolidLine
            line = pg.InfiniteLine(event.at_s, angle=90, movable=False, pen=pg.mkPen(colour, width=1.5, style=style),
                                   label=marker_label(event),
                                   labelOpts={"position": 0.9 - 0.2 * (k % 3), "color": colour,
                                              "fill": (255, 255, 255, 220), "anchors": [(0, 0.5), (0, 0.5)]})
            line.setToolTip(("Scenario event at " if origin == "scenario" else "Your action at ") + event.describe())
            self.throughput.addItem(line)
            self.markers.append(line)

    def refresh(self) -> None:
        """Redraw every curve from the history: the last ``window_s`` simulated seconds."""
        h: History = self.ctrl.history
        t_all = h.column("t")
        if t_all.size == 0:
            for curve in [*self.curves.values(), *self.node_curves]:
                curve.setData([], [])
            self.throughput.setXRange(0, self.window_s, padding=0)
            self.cursor.setValue(0.0)
            return
        k = window_start(t_all, self.window_s + PAGE_S)
        t = t_all[k:]
        rates = h.rates()
        for name in RATE_NAMES:
            self.curves[name].setData(t, rates[name][k:])
        _headroom(self.throughput, rates["offered"][k:], rates["served"][k:])
        for name in ("p50", "p95", "p99"):
            self.curves[name].setData(t, h.column(f"{name}_ms")[k:], connect="finite")
        _headroom(self.latency, h.column("p99_ms")[k:])
        self.curves["queued"].setData(t, h.column("queued")[k:])
        self.curves["availability"].setData(t, h.column("availability_pct")[k:], connect="finite")
        cost = h.column("cost_per_hour")[k:]
        self.curves["cost"].setData(t, cost)
        _headroom(self.cost, cost)
        nodes = h.column("n_nodes")[k:]
        self.curves["nodes"].setData(t, nodes, stepMode=None)
        self.nodes_axis.setYRange(0, max(float(np.nanmax(nodes)) if nodes.size else 1.0, 1.0) * 1.15, padding=0)
        if self.node_curves:
            util = h.smoothed_utilization(k)
            for node_id, curve in zip(self.curve_ids, self.node_curves, strict=True):
                column = h.node_ids.index(node_id) if node_id in h.node_ids else None
                curve.setData(t, util[:, column] * 100.0 if column is not None else np.full(t.size, np.nan),
                              connect="finite")
        elif self.heat.isVisible() and h.node_ids:
            util = np.nan_to_num(h.utilization()[k:])
            cols = heat_columns(util, MAX_HEAT_COLUMNS)
            self.heat.setImage(cols, autoLevels=False)
            self.heat.setRect(QRectF(t[0], 0, max(t[-1] - t[0], 1e-6), util.shape[1]))
            if self.utilization.viewRange()[1][1] != util.shape[1]:
                self.utilization.setYRange(0, util.shape[1], padding=0)
        right = page_right(float(t[-1]), self.window_s, PAGE_S)
        if self.throughput.viewRange()[0][1] != right:
            self.throughput.setXRange(right - self.window_s, right, padding=0)
        if self.ctrl.t >= self._next_marker_t:  # replaying past an event: draw it as done
            self._update_markers()
        if not self.cursor.moving and self.cursor.value() != t[-1]:
            self.cursor.setValue(float(t[-1]))


def _headroom(plot: pg.PlotItem, *series: np.ndarray) -> None:
    """Y from 0 to ~35% above the highest value (room for the legend).

    The range only changes when the data outgrows it or shrinks below a third of it, so the
    axis is not redrawn on every frame.
    """
    high = max((float(np.nanmax(v)) for v in series if v.size and np.isfinite(v).any()), default=0.0)
    high = max(high, 1e-3)
    top = plot.viewRange()[1][1]
    if high * 1.05 > top or high * 3 < top:
        plot.setYRange(0, high * 1.35, padding=0)


def page_right(t: float, window_s: float, page_s: float) -> float:
    """Right edge of the x range: the window moves by whole pages, so axes redraw once a page."""
    return max(window_s, math.ceil(t / page_s - 1e-9) * page_s)


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
                 keys: tuple[str, ...] | None = None, per_row: int = 6):
        super().__init__(parent)
        self.ctrl = controller
        self.numbers: dict[str, float | str] = {}
        self.labels: dict[str, QLabel] = {}
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
            value = QLabel("–")
            value.setStyleSheet(f"font-size: 22pt; font-weight: 600; color: {COLOURS.get(key, '#1d2733')};")
            value.setAccessibleName(caption)
            head = QLabel(f"{caption} ({unit})" if unit else caption)
            head.setStyleSheet("color: #5b6775; font-size: 9pt;")
            box.addWidget(value)
            box.addWidget(head)
            grid.addWidget(cell, k // per_row, k % per_row)
            self.labels[key] = value
        self.time_label = QLabel("t = 0.0 s")
        self.time_label.setStyleSheet("color: #5b6775;")
        c = controller
        c.stepped.connect(lambda _snaps: self.refresh())
        c.node_state_changed.connect(lambda _i: self.refresh())
        c.scenario_replaced.connect(self.refresh)
        c.sim_reset.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        snap = self.ctrl.last
        states = self.ctrl.node_states()
        figures: dict[str, float | str] = {"nodes_up": f"{count_up(states)}/{states.size}"}
        if snap is None:
            figures.update({key: math.nan for key, _c, _u in READOUT if key != "nodes_up"})
        else:
            rates = self.ctrl.history.rates()
            figures.update({name: float(rates[name][-1]) for name in RATE_NAMES})
            figures.update(p50=snap.latency_p50 * 1e3, p95=snap.latency_p95 * 1e3, p99=snap.latency_p99 * 1e3,
                           availability=snap.availability * 100.0, cost=snap.cost_per_hour,
                           queued=int(snap.queue.sum()), lost_total=int(snap.lost_total))
        for key, value in figures.items():
            if key not in self.labels:
                continue
            self.numbers[key] = value
            text = format_figure(key, value)
            if self.labels[key].text() != text:
                self.labels[key].setText(text)
        self.time_label.setText(f"t = {self.ctrl.t:.1f} s" + (
            f" (replaying; run reached {self.ctrl.head_t:.1f} s)" if self.ctrl.t < self.ctrl.head_t else ""))
