"""Side by side: a vertical and a horizontal cluster under the same traffic and the same seed.

Each lesson pairs a one-server scenario with a seven-node one. The vertical side gets the
horizontal side's workload, seed and timed failures (applied to its single server), so the
two engines draw exactly the same arrivals; one SimClock steps both in lockstep and the
charts of a row share their axes, so the three gains of horizontal scaling read at a glance.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.canvas.cluster_view import ClusterView
from app.canvas.flow import DotScale
from app.canvas.view import ClusterScene
from app.charts.live import AXIS_W, PAGE_S, WINDOW_S, legend_title, page_right, window_start
from app.charts.readout import COLOURS, Readout
from app.clock import SPEEDS, SimClock
from app.controller import SimController
from app.screen import available, keep_on_screen_once_framed, place
from sim_core.engine.state import DOWN
from sim_core.metrics import RATE_NAMES
from sim_core.scenario import Event, Scenario
from sim_core.scenario_file import builtin_names, resolve

LESSONS = (  # title, vertical built-in, horizontal built-in
    ("The slide: 50 req/s on 1 × 4 CPU or 7 × 1 CPU", "vertical-4cpu", "horizontal-7x1"),
    ("Gain 1, scalability: traffic ramps from 5 to 60 req/s", "vertical-4cpu", "gain-scalability"),
    ("Gain 2, concurrency: a burst of 50 requests at 30 s", "gain-concurrency-vertical", "gain-concurrency"),
    ("Gain 3, fault tolerance: a server fails at 30 s", "vertical-4cpu", "gain-fault-tolerance"),
)
COMPARE_HISTORY = 4096  # engine steps kept per side: 200 s at 1x, more than the charts' 65 s
SCALING_LESSONS = (  # the comparison window's further pairs (too long for the kiosk's tour)
    ("The daily wave: one server scaled up the ladder, or an autoscaled cluster (600 s)",
     "wave-vertical", "wave-autoscaled"),
    ("The daily wave: seven fixed servers, or an autoscaled cluster (600 s)", "wave-fixed-7x1", "wave-autoscaled"),
    ("The daily wave: one server scaled up the ladder, or seven fixed servers (600 s)",
     "wave-vertical", "wave-fixed-7x1"),
)
ROWS = (  # title, unit, curves: (history key, label)
    ("Requests/s", "req/s", (("offered", "offered"), ("served", "served"), ("rejected", "rejected"),
                             ("lost", "lost"))),
    ("Latency p95, last 10 s", "ms", (("p95", "p95"),)),
    ("Availability, last 10 s", "%", (("availability", "availability"),)),
)
SHORT_ROWS = (ROWS[0], ROWS[2])  # below TALL_SCREEN_PX: two charts per side, each tall enough to read
P99_ROWS = (ROWS[0], ("Latency p99, last 10 s", "ms", (("p99", "p99"),)), ROWS[2])  # the comparison window's
TALL_SCREEN_PX = 900


def lesson_pair(vertical_name: str, horizontal_name: str) -> tuple[Scenario, Scenario]:
    """The two scenarios of a lesson, the vertical one given the horizontal one's traffic, seed and failures."""
    horizontal = resolve(horizontal_name)
    vertical = resolve(vertical_name)
    server = vertical.nodes[0].name
    events = [Event(at_s=e.at_s, action=e.action, node=server) for e in horizontal.events if e.action != "resize"]
    vertical = vertical.model_copy(update={"workload": horizontal.workload, "seed": horizontal.seed,
                                           "events": events, "duration_s": horizontal.duration_s})
    return vertical, horizontal


def charts_height(rows: int, title_px: int, axis_px: int, plot_px: int = 120) -> int:
    """The least height (px) of ``rows`` rows of charts whose plot areas are ``plot_px`` tall."""
    return rows * (plot_px + title_px + 8) + axis_px + 10


class CompareCharts(pg.GraphicsLayoutWidget):
    """Rows of charts (throughput, p95, availability by default), one column per cluster; a row shares its axes.

    Legends are in the titles (outside the plots); every left axis has one width so the two
    columns' time axes line up; only the bottom row draws the time axis, in seconds.
    """

    def __init__(self, controllers: list[SimController], parent: QWidget | None = None,
                 rows: tuple = ROWS):
        super().__init__(parent)
        self.setObjectName("charts")
        self.min_plot_px = 120
        self.ctrls = controllers
        self.rows = rows
        self.plots: list[list[pg.PlotItem]] = []
        self.curves: list[dict[str, pg.PlotDataItem]] = [{} for _ in controllers]
        for r, (title, unit, curves) in enumerate(rows):
            row = []
            entries = tuple((label, COLOURS[key]) for key, label in curves) if len(curves) > 1 else ()
            for c, _ctrl in enumerate(controllers):
                plot = self.addPlot(row=r, col=c)
                plot.setTitle(legend_title(title, entries), size="9pt")
                plot.setLabel("left", unit)
                plot.getAxis("left").enableAutoSIPrefix(False)
                plot.getAxis("left").setWidth(AXIS_W)
                plot.getAxis("bottom").enableAutoSIPrefix(False)  # seconds on both sides, never "ms"
                plot.showGrid(x=True, y=True, alpha=0.25)
                plot.setMenuEnabled(False)
                plot.setMouseEnabled(x=False, y=False)
                plot.hideButtons()
                for key, label in curves:
                    style = Qt.PenStyle.DashLine if key == "offered" else Qt.PenStyle.SolidLine
                    pen = pg.mkPen(COLOURS[key], width=2, style=style)
                    self.curves[c][key] = plot.plot([], [], pen=pen, name=label)
                if self.plots or row:
                    plot.setXLink(self.plots[0][0] if self.plots else row[0])
                if r < len(rows) - 1:
                    plot.hideAxis("bottom")
                row.append(plot)
            self.plots.append(row)
        for plot in self.plots[-1]:
            plot.setLabel("bottom", "simulated time", units="s")
        for r, (_title, unit, _curves) in enumerate(rows):
            if unit == "%":
                for plot in self.plots[r]:
                    plot.setYRange(0, 100.5, padding=0)
        self.set_min_heights(title_px=34, axis_px=40)

    def set_min_heights(self, title_px: int, axis_px: int) -> None:
        """Each plot area at least ``min_plot_px``: rows ask for it plus their title (and the bottom row its axis)."""
        for r, row in enumerate(self.plots):
            height = self.min_plot_px + title_px + (axis_px if r == len(self.plots) - 1 else 0)
            for plot in row:
                plot.setMinimumHeight(height)
        # the view does not learn its items' minimum sizes by itself
        self.setMinimumHeight(charts_height(len(self.plots), title_px, axis_px, self.min_plot_px))

    def plots_shown(self) -> list[pg.PlotItem]:
        return [plot for row in self.plots for plot in row if plot.isVisible()]

    def refresh(self) -> None:
        """Redraw both columns from their histories; y ranges cover every curve of both, so heights compare."""
        tops = np.zeros(len(self.rows))
        t_end = 0.0
        for c, ctrl in enumerate(self.ctrls):
            h = ctrl.history
            t_all = h.column("t")
            if t_all.size == 0:
                for curve in self.curves[c].values():
                    curve.setData([], [])
                continue
            k = window_start(t_all, WINDOW_S + PAGE_S)
            t = t_all[k:]
            rates = h.rates()
            series = {name: rates[name][k:] for name in RATE_NAMES}
            series["p95"] = h.column("p95_ms")[k:]
            series["p99"] = h.column("p99_ms")[k:]
            series["availability"] = h.column("availability_pct")[k:]
            for key, curve in self.curves[c].items():
                curve.setData(t, series[key], connect="finite")
            for r, (_title, _unit, curves) in enumerate(self.rows):
                values = np.concatenate([series[key] for key, _label in curves])
                if np.isfinite(values).any():
                    tops[r] = max(tops[r], float(np.nanmax(values)))
            t_end = max(t_end, float(t[-1]))
        for r, (_title, unit, _curves) in enumerate(self.rows):  # the same y range across a row
            if unit != "%":
                for plot in self.plots[r]:
                    plot.setYRange(0, max(tops[r], 1.0) * 1.15, padding=0)
        right = page_right(t_end, WINDOW_S, PAGE_S)
        self.plots[0][0].setXRange(right - WINDOW_S, right, padding=0)


class ClusterSide(QWidget):
    """One column of the comparison: title (with the cost per hour now and the run's mean), canvas,
    big figures and a fail/recover button."""

    KEYS = ("served", "rejected", "lost", "p95", "availability", "lost_total")  # the price is in the title

    def __init__(self, controller: SimController, parent: QWidget | None = None, dot_scale: DotScale | None = None,
                 keys: tuple[str, ...] = KEYS):
        super().__init__(parent)
        self.ctrl = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        head = QHBoxLayout()  # the Fail button beside the title: the canvas keeps the height
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        head.addWidget(self.title, 1)
        self.fail_button = QPushButton()
        self.fail_button.clicked.connect(self.toggle_first)
        head.addWidget(self.fail_button)
        layout.addLayout(head)
        self.scene = ClusterScene(controller, self, arranged=True, dot_scale=dot_scale)  # a grid filling the view
        self.view = ClusterView(self.scene)
        self.view.setMinimumHeight(120)
        for policy in (self.view.setHorizontalScrollBarPolicy, self.view.setVerticalScrollBarPolicy):
            policy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # fitted, never panned: a scroll bar would only re-fit it
        layout.addWidget(self.view, 1)
        self.readout = Readout(controller, keys=keys, per_row=len(keys), figure_px=24, label_px=11)
        layout.addWidget(self.readout)
        controller.scenario_replaced.connect(self.refresh)
        controller.node_state_changed.connect(lambda _i: self.refresh())
        controller.stepped.connect(lambda _s: self.refresh())
        self.refresh()

    def set_type(self, k) -> None:
        """Kiosk sizes (an ``app.screen.KioskType``): title, figures, a touch-sized Fail button, canvas zoom."""
        self.title.setStyleSheet(f"font-size: {k.label_px + 4}px; font-weight: 600;")
        self.title.setWordWrap(True)  # beside the Fail button: a longer title takes a second line, never cut
        self.readout.set_type(k.figure_px, k.label_px)
        self.view.setMinimumHeight(80)
        self.view.max_fit_zoom = k.zoom

    def target(self) -> int:
        """The node the button fails: the middle one."""
        ids = self.ctrl.node_ids
        return ids[len(ids) // 2]

    def toggle_first(self) -> None:
        self.ctrl.toggle_node(self.target())

    def refresh(self) -> None:
        nodes = self.ctrl.scenario.nodes
        kind = "Vertical" if len(nodes) == 1 else "Horizontal"
        price = sum(n.price_per_hour for n in nodes)
        text = f"{kind}: {len(nodes)} × {nodes[0].spec_label()}, ${price:.4f}/h"
        snap = self.ctrl.last
        if snap is not None and snap.t > 0:
            text += f" (mean {snap.cost_total * 3600.0 / snap.t:.4f})"
        if self.title.text() != text:
            self.title.setText(text)
        name = self.ctrl.node(self.target()).name
        down = self.ctrl.node_state(self.target()) == DOWN
        label = f"Recover {name}" if down else f"Fail {name}"
        if self.fail_button.text() != label:
            self.fail_button.setText(label)


class Comparison(QWidget):
    """A vertical and a horizontal cluster under one clock: a column (``sides``) for each and the
    shared ``charts``. The comparison window and the kiosk lay these out in their own ways."""

    side_keys = ClusterSide.KEYS
    tall_rows = ROWS  # the charts on screens at least TALL_SCREEN_PX tall

    def __init__(self, parent: QWidget | None = None, flags: Qt.WindowType = Qt.WindowType.Widget):
        super().__init__(parent, flags)
        vertical, horizontal = lesson_pair(*LESSONS[0][1:])
        # the comparison's charts show the last minute and it is never scrubbed: a short history will do
        self.vertical = SimController(vertical, parent=self, history_capacity=COMPARE_HISTORY)
        self.horizontal = SimController(horizontal, parent=self, history_capacity=COMPARE_HISTORY)
        self.clock = SimClock([self.vertical, self.horizontal], self)
        self.dot_scale = DotScale()  # one "each dot = N requests" for both sides: the same traffic looks the same
        self.sides = [ClusterSide(self.vertical, dot_scale=self.dot_scale, keys=self.side_keys),
                      ClusterSide(self.horizontal, dot_scale=self.dot_scale, keys=self.side_keys)]
        self.charts = CompareCharts([self.vertical, self.horizontal], rows=self.chart_rows())
        for side in self.sides:
            self.clock.ticked.connect(side.scene.animate)
            self.clock.framed.connect(side.scene.move_dots)
            self.clock.framed.connect(side.scene.refresh_boxes)
        self.horizontal.stepped.connect(lambda _s: self.charts.refresh())  # stepped after the vertical one

    def chart_rows(self) -> tuple:
        """The charts of each side: ``tall_rows`` on screens at least TALL_SCREEN_PX tall, else two."""
        return self.tall_rows if available(self).height() >= TALL_SCREEN_PX else SHORT_ROWS

    lessons = LESSONS  # what ``load_lesson`` indexes

    def load_lesson(self, index: int) -> None:
        """Lesson ``index`` of ``lessons`` on both sides, from t = 0 with every node up."""
        vertical, horizontal = lesson_pair(*self.lessons[index][1:])
        self.dot_scale.reset()
        self.vertical.replace(vertical)
        self.horizontal.replace(horizontal)
        self.charts.refresh()
        self.fit_views()

    def fit_views(self) -> None:
        for side in self.sides:
            side.view.fit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.fit_views()


class CompareWindow(Comparison):
    """The comparison view: a lesson picker, play/pause/reset/speed, two cluster columns and shared charts.

    Each side shows its p99 under its cost per hour (its title: now, and the run's mean so far), so
    the daily-wave pairs compare what each way of scaling costs against the latency it gives.
    """

    side_keys = ("served", "rejected", "lost", "p99", "availability", "lost_total")
    tall_rows = P99_ROWS

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Vertical vs horizontal — ScaleLab")
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.lesson = QComboBox()
        self.lessons = LESSONS + SCALING_LESSONS
        for title, _v, _h in self.lessons:
            self.lesson.addItem(title)
        self.lesson.setAccessibleName("lesson")
        # the longest titles would widen the window past a 1366 px screen: the list shows them whole
        self.lesson.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.lesson.setMinimumContentsLength(36)
        self.lesson.currentIndexChanged.connect(self.load_lesson)
        self.play = QPushButton("Play")
        self.play.clicked.connect(lambda: self.clock.set_running(not self.clock.running))
        self.clock.running_changed.connect(lambda on: self.play.setText("Pause" if on else "Play"))
        reset = QPushButton("Reset")
        reset.clicked.connect(self.reset)
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}× speed", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(lambda i: self.clock.set_speed(SPEEDS[i]))
        self.note = QLabel("Same traffic, same seed: both clusters receive exactly the same requests.")
        self.note.setStyleSheet("color: #5b6775;")
        self.note.setWordWrap(True)
        for widget in (QLabel("Lesson:"), self.lesson, self.play, reset, self.speed):
            bar.addWidget(widget)
        bar.addWidget(self.note, 1)
        layout.addLayout(bar)
        layout.addLayout(self._pair_picker())
        grid = QGridLayout()
        for c, side in enumerate(self.sides):
            grid.addWidget(side, 0, c)
        grid.addWidget(self.charts, 1, 0, 1, 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        layout.addLayout(grid, 1)
        self.resize(1600, 1000)

    def _pair_picker(self) -> QHBoxLayout:
        """A row to put any two built-in scenarios side by side: left, right and Show."""
        row = QHBoxLayout()
        names = builtin_names()
        self.picks = []
        for side, default in (("Left:", "vertical-4cpu"), ("Right:", "horizontal-7x1")):
            pick = QComboBox()
            pick.addItems(names)
            pick.setCurrentText(default)
            pick.setAccessibleName(f"{side[:-1].lower()} scenario")
            row.addWidget(QLabel(side))
            row.addWidget(pick)
            self.picks.append(pick)
        show = QPushButton("Show these two")
        show.setToolTip("Run the two scenarios side by side, each as its file describes it, with the same seed")
        show.clicked.connect(self.show_picked)
        row.addWidget(show)
        row.addStretch(1)
        return row

    def show_picked(self) -> None:
        """The two scenarios chosen in the picker, side by side; the right one's seed on both."""
        left, right = (resolve(pick.currentText()) for pick in self.picks)
        self.show_pair(left.model_copy(update={"seed": right.seed}), right)

    def show_placed(self) -> None:
        """Show at a size that fits the screen."""
        place(self, QSize(1600, 1000))
        self.show()
        keep_on_screen_once_framed(self)

    def show_pair(self, left: Scenario, right: Scenario) -> None:
        """Any two scenarios side by side (a What-if point beside the open one), from t = 0; the
        clock keeps running if it was."""
        self.vertical.replace(left)
        self.horizontal.replace(right)
        self.charts.refresh()
        self.fit_views()
        self.note.setText(f"Left: {left.name}. Right: {right.name}. Same seed: the same requests.")

    def reset(self) -> None:
        self.vertical.reset()
        self.horizontal.reset()
        self.charts.refresh()

    def closeEvent(self, event) -> None:
        self.clock.set_running(False)
        super().closeEvent(event)
