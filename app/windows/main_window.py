"""The ScaleLab main window: canvas, live charts, readout, inspector, menus; and ``run_app``.

The window wires views to one SimController (the document) and one SimClock (the QTimer
that runs the engine). Its file commands are the ``FileActions`` mixin (``app.windows.file_actions``),
its actions, menus and toolbar the ``MainActions`` mixin (``app.windows.main_actions``).

Start-up (``run_app``) builds the window staged: its first frame has the canvas, readout,
inspector, menus and a placeholder where the charts go; pyqtgraph is imported and the charts
and their theory overlay are built just after that frame, one step per turn of the event loop,
and the clock starts when they are in (issue 9: the first frame under a second).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.autosave import Autosaver, pending
from app.canvas.cluster_view import ClusterView
from app.canvas.view import ClusterScene
from app.charts.chart_scroll import ChartScroll
from app.charts.readout import Readout
from app.charts.scrubber import Scrubber
from app.clock import SPEEDS, SimClock
from app.controller import SimController
from app.first_paint import after_first_paint
from app.panels.challenge_dock import ChallengeDock
from app.panels.inspector import Inspector
from app.panels.overload_banner import OverloadBanner
from app.panels.theory_notes import Explanations
from app.panels.watch import WatchPanel
from app.screen import keep_on_screen, keep_on_screen_once_framed, place
from app.windows.file_actions import FileActions
from app.windows.main_actions import MainActions
from sim_core.scenario import Scenario, ScenarioError
from sim_core.scenario_file import resolve
from sim_core.trusted import default_scenario

if TYPE_CHECKING:
    from app.charts.live import ChartPanel



class MainWindow(MainActions, FileActions, QMainWindow):
    """The app's window on one scenario. ``path`` is the file it came from (None: built-in or new).

    ``staged``: build the charts (pyqtgraph) only after the first painted frame, in steps; until
    then ``charts`` is None and a placeholder holds their place. ``built`` is emitted when they are
    in (at once, inside the constructor, when not staged); ``finish_building`` completes it now.
    """

    built = Signal()

    def __init__(self, scenario: Scenario, path: Path | None = None, settings: QSettings | None = None,
                 autosave_folder: Path | None = None, staged: bool = False):
        super().__init__()
        self.settings = settings or QSettings()
        self.ctrl = SimController(scenario, path, self)
        self.clock = SimClock([self.ctrl], self)
        self.scene = ClusterScene(self.ctrl, self)
        self.view = ClusterView(self.scene)
        self.inspector = Inspector(self.ctrl)
        self.charts: ChartPanel | None = None
        self.readout = Readout(self.ctrl)
        self.watch = WatchPanel(self.ctrl)
        self.scrubber = Scrubber(self.ctrl)
        self.autosaver = Autosaver(self.ctrl, autosave_folder, self)
        self.error_box: QMessageBox | None = None
        self.compare_window = None
        self.whatif_dialog = None
        self._build_layout()
        self._build_actions()
        self.explain = Explanations(self)  # theory, bands, availability and N-1 (app/panels/theory_notes.py)
        self._connect()
        self._update_title()
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty() and self.restoreGeometry(geometry):
            keep_on_screen(self)  # saved on a bigger screen: shrink to this one
        else:
            place(self, QSize(1500, 920))
        self._later = [self._import_charts, self._build_charts, self._overlay_charts]  # what the first frame lacks
        self._framed = False  # keep_on_screen_once_framed asked (at the first show)
        if staged:
            after_first_paint(self._build_next, self)
        else:
            self.finish_building()

    # layout -------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(4, 4, 4, 0)
        column.addWidget(self.readout)
        column.addWidget(self.watch)
        self.overload_banner = OverloadBanner(self.ctrl)
        column.addWidget(self.overload_banner)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.view)
        self.chart_scroll = ChartScroll()  # a placeholder until the charts replace it (_build_charts)
        split.addWidget(self.chart_scroll)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 6)
        column.addWidget(split, 1)
        column.addWidget(self.scrubber)
        self.setCentralWidget(top)
        dock = QDockWidget("Inspector", self)
        dock.setObjectName("inspector")
        scroll = QScrollArea()
        scroll.setWidget(self.inspector)
        scroll.setWidgetResizable(True)
        # as wide as the editors need: narrower, a sideways scroll bar cut the fields at 1366 x 768
        scroll.setMinimumWidth(self.inspector.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 2 * scroll.frameWidth())
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)  # hidden: more room on a laptop
        self.inspector_dock = dock
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        c = self.ctrl  # a challenge's goals, live, under the inspector (hidden for other scenarios)
        self.goals_dock = ChallengeDock(self, c.judge, lambda: c.scenario, c.run_scenario, lambda: c.seed)
        self.goals_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                    | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.goals_dock)
        self.statusBar().addPermanentWidget(self.readout.time_label)

    def _import_charts(self) -> None:
        import app.charts.live  # noqa: F401 - pyqtgraph: most of the cost of the charts

    def _build_charts(self) -> None:
        from app.charts.live import ChartPanel

        self.charts = ChartPanel(self.ctrl)
        self.chart_scroll.setWidget(self.charts)  # the placeholder is deleted

    def _overlay_charts(self) -> None:
        self.explain.attach_charts(self.charts)

    def _build_next(self) -> None:
        """One step of the staged build; the next one on the next turn of the event loop."""
        if not self._later:  # finish_building did it all
            return
        self._later.pop(0)()
        if self._later:
            QTimer.singleShot(0, self, self._build_next)  # not called once the window is deleted
        else:
            self.built.emit()

    @property
    def is_built(self) -> bool:
        """True once the charts are in (at once when not staged)."""
        return not self._later

    def finish_building(self) -> None:
        """Build now whatever the staged build has not built yet (nothing if it is done)."""
        if self._later:
            while self._later:
                self._later.pop(0)()
            self.built.emit()

    def _connect(self) -> None:
        c = self.ctrl
        c.undo_stack.cleanChanged.connect(self._clean_changed)  # a method, not a lambda: see _clean_changed
        c.path_changed.connect(self._update_title)
        c.scenario_replaced.connect(self._after_replace)
        c.scenario_replaced.connect(self.goals_dock.reload)
        c.stepped.connect(lambda _snaps: self.goals_dock.refresh())
        c.sim_reset.connect(self.goals_dock.refresh)
        self.goals_dock.card.try_again.connect(self.reset)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.clock.ticked.connect(self.scene.animate)
        self.clock.framed.connect(self.scene.refresh_boxes)  # before a chart takes the frame (frame_busy)
        self.clock.framed.connect(self._draw_frame)
        self.clock.running_changed.connect(lambda running: self.act_play.setText("&Pause" if running else "&Play"))
        self.clock.running_changed.connect(self._catch_up_on_pause)
        self.clock.speed_changed.connect(lambda s: self.speed.setCurrentIndex(SPEEDS.index(s))
                                        if s in SPEEDS else None)

    def _catch_up_on_pause(self, running: bool) -> None:
        """Paused: the charts (and the theory drawn on them) that the last frames left behind, now."""
        if not running and self.charts is not None:
            self.charts.refresh()

    def _draw_frame(self, wall_s: float) -> None:
        """A clock frame's drawing: the next chart that is due, or else the request dots move on. A
        frame repaints one or the other, never both (each costs about 5 ms at 200 nodes)."""
        if self.charts is None or not self.charts.draw_next(wall_s):
            self.scene.move_dots()

    # state ---------------------------------------------------------------------------------------
    def _clean_changed(self, _clean: bool) -> None:
        """The undo stack's clean state changed. A bound method, so Qt drops the connection when the
        window is deleted: the stack, a child, empties (and signals) while the window is torn down."""
        self._update_title()

    def _update_title(self) -> None:
        name = self.ctrl.path.name if self.ctrl.path else self.ctrl.scenario.name
        self.setWindowTitle(f"{name}[*] — ScaleLab")
        self.setWindowModified(self.ctrl.modified)

    def _after_replace(self) -> None:
        self.inspector.show_node(None)
        self.view.fit()

    def _selection_changed(self) -> None:
        ids = self.scene.selected_ids()
        self.inspector.show_node(ids[-1] if ids else None)

    def _set_click_fails(self, on: bool) -> None:
        self.scene.click_fails = on

    def _nudge_speed(self, direction: int) -> None:
        i = SPEEDS.index(self.clock.speed) if self.clock.speed in SPEEDS else SPEEDS.index(1.0)
        self.clock.set_speed(SPEEDS[min(max(i + direction, 0), len(SPEEDS) - 1)])

    def _toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def toggle_running(self) -> None:
        self.clock.set_running(not self.clock.running)

    def reset(self) -> None:
        self.ctrl.reset()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.view.fit()
        if not self._framed:
            self._framed = True
            keep_on_screen_once_framed(self)

    # node edits ---------------------------------------------------------------------------------
    def add_node(self) -> None:
        self.scene.select_only(self.ctrl.add_node())

    def duplicate_selected(self) -> None:
        new = self.ctrl.duplicate_nodes(self.scene.selected_ids())
        if new:
            self.scene.select_only(new[-1])

    def delete_selected(self) -> None:
        try:
            self.ctrl.remove_nodes(self.scene.selected_ids())
        except ScenarioError as exc:
            self.show_error("Cannot delete", str(exc))

    def toggle_selected(self) -> None:
        for node_id in self.scene.selected_ids():
            self.ctrl.toggle_node(node_id)

    # files --------------------------------------------------------------------------------------
    def show_compare(self) -> None:
        from app.windows.compare import CompareWindow

        if self.compare_window is None:
            self.compare_window = CompareWindow()
        self.compare_window.show_placed()
        self.compare_window.raise_()
        self.compare_window.clock.set_running(True)  # it opens on a running lesson, not empty charts

    # what-if sweeps -----------------------------------------------------------------------------
    def show_whatif(self) -> None:
        from app.windows.whatif import WhatIfDialog

        if self.whatif_dialog is None or not self.whatif_dialog.isVisible():
            # a window of its own (no parent), so the main window can come to the front over it
            self.whatif_dialog = WhatIfDialog(self.ctrl.document(), self.open_sweep_point, self.compare_sweep_point)
        self.whatif_dialog.show()
        self.whatif_dialog.raise_()

    def compare_sweep_point(self, scenario: Scenario) -> None:
        """Show a cluster Shift+clicked in the What-if chart beside the open scenario, same seed."""
        current = self.ctrl.document()
        self.show_compare()
        self.compare_window.show_pair(current, scenario.model_copy(update={"seed": current.seed}))

    def open_sweep_point(self, scenario: Scenario) -> None:
        """Open a cluster clicked in the What-if chart, and show it."""
        if self.open_scenario(scenario, None):
            self.raise_()
            self.activateWindow()

    # closing ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.clock.set_running(False)
        self.goals_dock.shutdown()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.autosaver.discard()
        for other in (self.compare_window, self.error_box, self.whatif_dialog):  # nothing of it stays on screen
            if other is not None:
                other.close()
        event.accept()


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication, with the names QSettings and QStandardPaths use."""
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setOrganizationName("ScaleLab")
    app.setApplicationName("ScaleLab")
    return app


def startup_window(args: list[str]) -> MainWindow:
    """The window ``scalelab [SCENARIO]`` opens: the given file, else the last file, else the default.

    A bad file shows its problems in a dialog over the default scenario. The window is staged: its
    charts are built just after its first frame.
    """
    settings = QSettings()
    problem = None
    target = args[0] if args else settings.value("last_file") or None
    scenario, path = None, None
    if target:
        try:
            scenario = resolve(target)
            path = Path(target).resolve() if Path(target).exists() else None
        except ScenarioError as exc:
            problem = str(exc) if args else None  # a vanished last file is not worth a dialog
    if scenario is None:
        scenario = default_scenario()  # not validated: app.main checks it just after the first frame
    window = MainWindow(scenario, path, settings, staged=True)
    if problem:
        print(problem, file=sys.stderr)
        window.show_error("Cannot open scenario", f"{target} was not opened:\n\n{problem}")
    return window


def run_app(args: list[str]) -> int:
    """``scalelab [SCENARIO]``, or ``scalelab --kiosk`` (see ``app.windows.kiosk``): run until the window closes.

    Returns the exit code.
    """
    app = create_app()
    if "--kiosk" in args:
        from app.windows.kiosk import start_kiosk

        _window = start_kiosk([a for a in args if a != "--kiosk"])  # referenced until exec() returns
        return app.exec()
    window = startup_window(args)
    window.show()
    crashed = pending()
    if crashed is not None:
        scenario, source = crashed
        answer = QMessageBox.question(
            window, "Restore unsaved work?",
            f"ScaleLab did not exit cleanly last time. Restore the unsaved changes to “{scenario.name}”?")
        if answer == QMessageBox.StandardButton.Yes:
            window.restore(scenario, source)
        else:
            window.autosaver.discard()
    # the clock starts once the charts are in, so every view sees the run from t = 0 (they may have
    # been built while the question above was open: it runs an event loop of its own)
    if window.is_built:
        window.clock.set_running(True)
    else:
        window.built.connect(lambda: window.clock.set_running(True))
    return app.exec()
