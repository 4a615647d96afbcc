"""The live pyqtgraph charts of the main window (the readout of the current figures is in
``app.charts.readout``, which needs no pyqtgraph).

They read the session's ``History`` (filled once per engine step) through the controller when
it emits ``stepped``: one ``setData`` per curve, over the rolling window only. Steps run by the
clock are drawn one chart per frame (``ChartPanel.draw_next``); any other step at once. The
timeline's events are markers on the time axis; a movable time cursor scrubs the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.charts.heatstrip import DISTRIBUTION_FROM, STATS, UtilizationStrip
from app.charts.readout import COLOURS
from app.controller import SimController
from sim_core.metrics import RATE_NAMES, History

WINDOW_S = 60.0  # simulated seconds shown
PAGE_S = 5.0  # the shown window moves on by this much at a time
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


CURVES_UP_TO = 4  # more nodes than this: a heat strip (app.charts.heatstrip) instead of one curve per node
pg.setConfigOptions(antialias=False, background="w", foreground="#1d2733")


def window_start(t: np.ndarray, window_s: float) -> int:
    """Index of the first sample inside the last ``window_s`` seconds of ``t`` (sorted)."""
    return int(np.searchsorted(t, t[-1] - window_s)) if t.size else 0


def legend_title(title: str, entries: tuple[tuple[str, str], ...] = ()) -> str:
    """A chart title with its legend in it (coloured line marks), so no legend ever covers a curve."""
    marks = " ".join(f'<span style="color:{colour}">━</span>&nbsp;{label}' for label, colour in entries)
    return f"<b>{title}</b>" + (f"&nbsp;&nbsp; {marks}" if marks else "")


CHART_EVERY_S = 0.3  # wall seconds at least between two frame-share redraws of one chart
MIN_CHART_H = 140  # px: the least height of a chart row (title, plot, time ticks), at 1366 x 768 too
AXIS_W = 46  # px: every left axis the same width, so the time axes line up exactly
RIGHT_AXIS_W = 34  # px: room for the node count on the cost chart, kept on every chart


class ChartPanel(pg.GraphicsLayoutWidget):
    """Throughput, latency, utilization (curves, heat strip or distribution), queue, availability and cost.

    The six charts reflow: two columns when the panel is wide enough for their titles, else one;
    the panel asks for at least MIN_CHART_H per chart row, and the window puts it in a scroll area.
    Legends are in the titles, outside the plot areas.
    """

    def __init__(self, controller: SimController, parent: QWidget | None = None, window_s: float = WINDOW_S):
        self.plots: list[pg.PlotItem] = []
        super().__init__(parent)
        self.ctrl = controller
        self.window_s = window_s
        # repaint the rectangles of the curves that changed, not the whole widget with its axes
        self.setViewportUpdateMode(pg.QtWidgets.QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setObjectName("charts")
        self.min_plot_px = MIN_CHART_H - 50  # the plot area; the title and time axis take the rest
        self.markers: list[pg.InfiniteLine] = []
        self._marked: tuple = ()
        self._marker_by_key: dict[tuple, pg.InfiniteLine] = {}
        self._next_marker_t = np.inf
        rates = tuple((n, COLOURS[n]) for n in RATE_NAMES)
        self.throughput = self._plot(legend_title("Requests/s", rates), "req/s")
        self.latency = self._plot(legend_title("Latency, last 10 s", tuple((n, COLOURS[n]) for n in
                                                                           ("p50", "p95", "p99"))), "ms")
        self.utilization = self._plot(legend_title("Utilization per node"), "%")
        self.queue = self._plot(legend_title("Waiting requests"), "requests")
        self.availability = self._plot(legend_title("Availability, last 10 s"), "%")
        self.cost = self._plot(legend_title("Cost", (("$/h", COLOURS["cost"]), ("nodes", COLOURS["nodes"]))), "$/h")
        self.curves: dict[str, pg.PlotDataItem] = {}
        for name in RATE_NAMES:
            self._curve(self.throughput, name, name, dashed=name == "offered")
        for name in ("p50", "p95", "p99"):
            self._curve(self.latency, name, name)
        self._curve(self.queue, "queued", "queued")
        self._curve(self.availability, "availability", "availability")
        self._curve(self.cost, "cost", "cost")
        self.nodes_axis = pg.ViewBox()  # node count on a right-hand axis of the cost chart
        self.cost.getAxis("right").setStyle(showValues=True, tickLength=5)
        self.cost.getAxis("right").setPen(pg.mkPen("#1d2733"))
        self.scene().addItem(self.nodes_axis)  # the panel's scene: the plots join it when laid out
        self.cost.getAxis("right").linkToView(self.nodes_axis)
        self.cost.getAxis("right").setLabel("nodes")
        self.nodes_axis.setXLink(self.cost)
        self.curves["nodes"] = pg.PlotDataItem(pen=pg.mkPen(COLOURS["nodes"], width=1), name="nodes")
        self.nodes_axis.addItem(self.curves["nodes"])
        self.cost.vb.sigResized.connect(lambda _vb: self.nodes_axis.setGeometry(self.cost.vb.sceneBoundingRect()))
        self.availability.setYRange(0, 100.5, padding=0)
        self.utilization.setYRange(0, 100.5, padding=0)
        self.node_curves: list[pg.PlotDataItem] = []
        self.curve_ids: list[int] = []
        self.strip = UtilizationStrip(self.utilization)
        # not x-linked: pyqtgraph shifts linked ranges to line up on screen, and the cost chart's right
        # axis makes it narrower; every chart gets the same range instead (``refresh``)
        # the time cursor: drag it to scrub the run (to any moment it has passed through)
        self.cursor = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen("#1d2733", width=2),
                                      hoverPen=pg.mkPen("#1e88e5", width=4))
        self.cursor.setToolTip("Drag to move the run back to an earlier moment; play on to replay it")
        self.cursor.setZValue(20)
        self.cursor.sigPositionChangeFinished.connect(lambda line: self.ctrl.jump(float(line.value())))
        self.throughput.addItem(self.cursor)
        self.columns = 0
        self._behind: set[pg.PlotItem] = set()  # charts not yet drawn since the last engine step
        self._turn = 0  # the chart ``draw_next`` looks at first
        self._skipped = False  # the last frame drew no chart: it had other costly work (frame_busy)
        self._wall_s = 0.0  # wall seconds of the clock frames seen
        self._drawn_at: dict[pg.PlotItem, float] = {}  # ``_wall_s`` when ``draw_next`` last drew each chart
        self.draw_hooks: dict[pg.PlotItem, list[Callable[[], None]]] = {}  # also run when a chart is drawn
        self.reflow(2)
        c = controller
        c.stepped.connect(self._on_stepped)
        c.scenario_replaced.connect(self.rebuild)
        c.node_added.connect(lambda _i: self.rebuild(keep=True))
        c.node_removed.connect(lambda _i: self.rebuild(keep=True))
        c.node_changed.connect(lambda _i: self._relabel())
        c.sim_reset.connect(self.rebuild)
        c.timeline_changed.connect(self._update_markers)
        self.rebuild()

    def _plot(self, title: str, unit: str) -> pg.PlotItem:
        plot = pg.PlotItem(title=title)
        plot.titleLabel.setText(title, size="8pt")
        plot.layout.setRowFixedHeight(0, 18)
        plot.titleLabel.setMaximumHeight(18)
        plot.setLabel("left", units=None, text=unit)
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getAxis("left").setWidth(AXIS_W)
        plot.showAxis("right")  # every chart the same width (the cost chart's carries the node count)
        plot.getAxis("right").setWidth(RIGHT_AXIS_W)
        plot.getAxis("right").setStyle(showValues=False, tickLength=0)
        plot.getAxis("right").setPen(pg.mkPen(None))
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        plot.showGrid(x=False, y=False)  # a grid is drawn by the axes: every curve update would repaint them
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.setMinimumHeight(MIN_CHART_H - 10)
        self.plots.append(plot)
        return plot

    def reflow(self, columns: int) -> None:
        """Lay the charts out in ``columns`` (1 or 2) columns; the bottom chart of each column gets the time label."""
        if columns == self.columns:
            return
        self.columns = columns
        for plot in self.plots:
            if plot.scene() is not None:
                self.ci.removeItem(plot)
        rows = math.ceil(len(self.plots) / columns)
        for k, plot in enumerate(self.plots):
            self.ci.addItem(plot, row=k // columns, col=k % columns)
            last_row = k // columns == rows - 1 or k + columns >= len(self.plots)
            axis = plot.getAxis("bottom")
            if last_row:
                plot.setLabel("bottom", "simulated time", units="s")
            else:
                axis.showLabel(False)
        for row in range(rows):
            self.ci.layout.setRowStretchFactor(row, 1)
        self.setMinimumHeight(rows * MIN_CHART_H)

    def plots_shown(self) -> list[pg.PlotItem]:
        return list(self.plots)

    def title_px(self) -> float:
        """The width a chart needs for its title (legend included) and left axis."""
        return max(plot.titleLabel.item.boundingRect().width() for plot in self.plots) + AXIS_W + RIGHT_AXIS_W

    def resizeEvent(self, event) -> None:
        if event is not None and self.plots:  # pyqtgraph calls it with None while building
            self.reflow(2 if event.size().width() >= 2 * self.title_px() else 1)
        super().resizeEvent(event)

    def _curve(self, plot: pg.PlotItem, key: str, label: str, dashed: bool = False) -> pg.PlotDataItem:
        pen = pg.mkPen(COLOURS[key], width=1, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        curve = plot.plot([], [], pen=pen, name=label)
        self.curves[key] = curve
        return curve

    def _relabel(self) -> None:
        """Node names or positions changed: the heat strip's rows follow the canvas."""
        if self.strip.mode == "rows":
            self.rebuild(keep=True)

    def rebuild(self, keep: bool = False) -> None:
        """Match the per-node chart to the cluster's size and redraw from the history (``keep``: a node was
        added or removed, the heat strip keeps the past of the others)."""
        ids = self.ctrl.node_ids
        nodes = [self.ctrl.node(node_id) for node_id in ids]
        n = len(nodes)
        for curve in self.node_curves:
            self.utilization.removeItem(curve)
        self.node_curves = []
        self.curve_ids = []
        mode = "off" if n <= CURVES_UP_TO else "rows" if n < DISTRIBUTION_FROM else "distribution"
        self.strip.rebuild(ids, [node.name for node in nodes], np.array([(nd.x, nd.y) for nd in nodes]).reshape(n, 2),
                           mode, keep)
        if not keep and mode != "off":
            self.strip.refill(self.ctrl.history)  # a jump: the strip shows that moment's past
        if mode == "off":
            for k, (node_id, node) in enumerate(zip(ids, nodes, strict=True)):
                pen = pg.mkPen(pg.intColor(k, hues=max(n, 7), maxValue=200), width=1.5)
                self.node_curves.append(self.utilization.plot([], [], pen=pen, name=node.name))
                self.curve_ids.append(node_id)
            marks = tuple((node.name, pg.intColor(k, hues=max(n, 7), maxValue=200).name())
                          for k, node in enumerate(nodes))
            self.utilization.setTitle(legend_title("Utilization per node", marks), size="8pt")
            self.utilization.setLabel("left", "%")
            self.utilization.setYRange(0, 100.5, padding=0)
        elif mode == "rows":
            self.utilization.setTitle(legend_title("Utilization, 5 s", (
                ("idle", "#3cb371"), ("busy", "#d32f2f"), ("restart", "#f2a900"), ("down", "#3a3f45"))),
                size="8pt")
            self.utilization.setLabel("left", "")
        else:
            self.utilization.setTitle(legend_title(f"Utilization of the {n} nodes", tuple(
                (name, colour) for name, colour in STATS)), size="8pt")
            self.utilization.setLabel("left", "%")
            self.utilization.setYRange(0, 100.5, padding=0)
        self.utilization.layout.setRowFixedHeight(0, 18)
        self.setMinimumWidth(round(self.title_px()))  # narrower: the scroll area scrolls, a title is never cut
        if not self.ctrl.history.size:  # a new run: y ranges fit its own traffic again
            for plot in (self.throughput, self.latency, self.cost, self.queue):
                plot.setYRange(0, 1, padding=0)
        self._update_markers()
        self.refresh()

    def _on_stepped(self, snaps: list) -> None:
        self.strip.add(snaps)
        if self.ctrl.in_frame:  # the clock's frames draw the charts in turn (``draw_next``)
            self._behind.update(self.plots)
        else:
            self.refresh()

    def _update_markers(self) -> None:
        """A vertical line on the throughput chart at each event of the timeline, with a tooltip.

        Solid: the user's actions; dashed: the scenario's events; pale: events still ahead (when
        the run is scrubbed back). Labels step down in turn so that neighbours do not overlap.
        Lines of events already marked are kept: making one costs milliseconds, and a long
        session has hundreds.
        """
        timeline = self.ctrl.timeline[-MAX_MARKERS:]
        now = self.ctrl.t
        key = tuple((id(e), e.at_s, e.action, e.target, o, e.at_s <= now) for e, o in timeline)
        if key == self._marked:
            return
        self._marked = key
        ahead = [e.at_s for e, _o in timeline if e.at_s > now]
        self._next_marker_t = min(ahead, default=np.inf)
        old = dict(self._marker_by_key)
        self._marker_by_key = {}
        self.markers = []
        for k, ((event, origin), mark) in enumerate(zip(timeline, key, strict=True)):
            line = old.pop(mark, None) or self._marker(event, origin, k, ahead=event.at_s > now)
            self._marker_by_key[mark] = line
            self.markers.append(line)
        for line in old.values():
            self.throughput.removeItem(line)

    def _marker(self, event, origin: str, k: int, ahead: bool) -> pg.InfiniteLine:
        bad = event.action in ("fail", "remove")
        colour = pg.mkColor("#d32f2f" if bad else "#2e9d4f" if event.action in ("recover", "add") else "#5b6775")
        if ahead:
            colour.setAlpha(90)
        style = Qt.PenStyle.DashLine if origin == "scenario" else Qt.PenStyle.SolidLine
        line = pg.InfiniteLine(event.at_s, angle=90, movable=False, pen=pg.mkPen(colour, width=1.5, style=style),
                               label=marker_label(event),
                               labelOpts={"position": 0.9 - 0.2 * (k % 3), "color": colour,
                                          "fill": (255, 255, 255, 220), "anchors": [(0, 0.5), (0, 0.5)]})
        line.setToolTip(("Scenario event at " if origin == "scenario" else "Your action at ") + event.describe())
        self.throughput.addItem(line)
        return line

    def refresh(self) -> None:
        """Redraw every chart now from the history: the last ``window_s`` simulated seconds."""
        self._behind.clear()
        if self.ctrl.history.size == 0:
            for curve in [*self.curves.values(), *self.node_curves]:
                curve.setData([], [])
            for plot in self.plots:
                plot.setXRange(0, self.window_s, padding=0)
            self.cursor.setValue(0.0)
            self.strip.draw()
            return
        for plot in self.plots:
            self._draw(plot)

    def draw_next(self, wall_s: float = 0.0) -> bool:
        """A clock frame's share of the redraw: the next chart (in turn) that is behind the history.

        One chart per frame, so no frame redraws all six (about 20 ms at 200 nodes); a chart that fell
        behind twice is drawn once. A frame whose engine steps were just drawn in the readout and canvas
        draws no chart, unless the frame before drew none either; and a chart is redrawn this way at most
        every CHART_EVERY_S of the clock's wall time (``wall_s`` per frame). Returns whether it drew one:
        the window then leaves the request dots for the next frame, so that a frame repaints a chart or
        the dots, not both.
        """
        self._wall_s += wall_s
        if self.ctrl.frame_busy and not self._skipped:
            self._skipped = True
            return False
        self._skipped = False
        n = len(self.plots)
        for k in range(n):
            plot = self.plots[(self._turn + k) % n]
            if plot in self._behind and self._wall_s >= self._drawn_at.get(plot, -math.inf) + CHART_EVERY_S:
                self._behind.discard(plot)
                self._turn = (self._turn + k + 1) % n
                self._drawn_at[plot] = self._wall_s
                self._draw(plot)
                self.ctrl.frame_busy = True
                return True
        return False

    def _draw(self, plot: pg.PlotItem) -> None:
        """Redraw one chart's curves and time range from the history (not empty)."""
        h: History = self.ctrl.history
        t_all = h.column("t")
        k = window_start(t_all, self.window_s + PAGE_S)
        t = t_all[k:]
        if plot is self.throughput:
            rates = h.rates()
            for name in RATE_NAMES:
                self.curves[name].setData(t, rates[name][k:], connect="finite")
            _headroom(self.throughput, rates["offered"][k:], rates["served"][k:])
            if self.ctrl.t >= self._next_marker_t:  # replaying past an event: draw it as done
                self._update_markers()
            if not self.cursor.moving and self.cursor.value() != t[-1]:
                self.cursor.setValue(float(t[-1]))
        elif plot is self.latency:
            for name in ("p50", "p95", "p99"):
                self.curves[name].setData(t, h.column(f"{name}_ms")[k:], connect="finite")
            _headroom(self.latency, h.column("p99_ms")[k:])
        elif plot is self.utilization:
            if self.node_curves:
                util = h.smoothed_utilization(k)
                for node_id, curve in zip(self.curve_ids, self.node_curves, strict=True):
                    column = h.node_ids.index(node_id) if node_id in h.node_ids else None
                    curve.setData(t, util[:, column] * 100.0 if column is not None else np.full(t.size, np.nan),
                                  connect="finite")
            self.strip.draw()
        elif plot is self.queue:
            queued = h.column("queued")[k:]
            self.curves["queued"].setData(t, queued)
            _headroom(self.queue, queued, floor=5.0)
        elif plot is self.availability:
            self.curves["availability"].setData(t, h.column("availability_pct")[k:], connect="finite")
        else:
            cost = h.column("cost_per_hour")[k:]
            self.curves["cost"].setData(t, cost)
            _headroom(self.cost, cost)
            nodes = h.column("n_nodes")[k:]
            self.curves["nodes"].setData(t, nodes, stepMode=None)
            self.nodes_axis.setYRange(0, max(float(np.nanmax(nodes)) if nodes.size else 1.0, 1.0) * 1.15,
                                      padding=0)
        right = page_right(float(t[-1]), self.window_s, PAGE_S)
        if plot.viewRange()[0][1] != right:
            plot.setXRange(right - self.window_s, right, padding=0)
        for hook in self.draw_hooks.get(plot, ()):
            hook()


def _headroom(plot: pg.PlotItem, *series: np.ndarray, floor: float = 1e-3) -> None:
    """Y from 0 to ~35% above the highest value (at least ``floor``: an empty queue is not -0.4..0.4).

    The range only changes when the data outgrows it or shrinks below a third of it, so the
    axis is not redrawn on every frame.
    """
    high = max((float(np.nanmax(v)) for v in series if v.size and np.isfinite(v).any()), default=0.0)
    high = max(high, floor / 1.35)
    top = plot.viewRange()[1][1]
    if high * 1.05 > top or high * 3 < top:
        plot.setYRange(0, high * 1.35, padding=0)


def page_right(t: float, window_s: float, page_s: float) -> float:
    """Right edge of the x range: the window moves by whole pages, so axes redraw once a page."""
    return max(window_s, math.ceil(t / page_s - 1e-9) * page_s)
