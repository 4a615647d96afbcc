"""The ScaleLab main window: canvas, live charts, readout, inspector, menus; and ``run_app``.

The window wires views to one SimController (the document) and one SimClock (the QTimer
that runs the engine). Its file commands are the ``FileActions`` mixin (``app.windows.file_actions``).

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
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QToolBar,
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
from app.screen import keep_on_screen, place
from app.windows.file_actions import FileActions
from sim_core.scenario import Scenario, ScenarioError
from sim_core.scenario_file import builtin_names, resolve
from sim_core.trusted import default_scenario

if TYPE_CHECKING:
    from app.charts.live import ChartPanel

SLIDE_SCENARIOS = (  # toolbar button text, built-in name
    ("1 CPU", "vertical-1cpu"), ("2 CPU", "vertical-2cpu"), ("4 CPU", "vertical-4cpu"), ("7 × 1 CPU", "horizontal-7x1"),
)



class MainWindow(FileActions, QMainWindow):
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

    def _action(self, text: str, slot, shortcut: QKeySequence | str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey  # noqa: N806 - a Qt enum alias
        a = self._action
        self.act_new = a("&New", self.new_file, K.New)
        self.act_open = a("&Open…", self.open_dialog, K.Open)
        self.act_save = a("&Save", self.save, K.Save)
        self.act_save_as = a("Save &As…", self.save_as, K.SaveAs)
        self.act_save_run = a("Save &run as…", self.save_run_dialog, "Ctrl+Alt+S",
                              "Save the run: the scenario it started from, with everything that happened "
                              "as timed events; scalelab run replays it exactly")
        self.act_csv = a("Export time series &CSV…", self.export_csv_dialog, "Ctrl+E")
        self.act_png = a("Export chart &PNG…", self.export_png_dialog, "Ctrl+Shift+E")
        self.act_quit = a("&Quit", self.close, K.Quit)
        self.act_undo = self.ctrl.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(K.Undo)
        self.act_redo = self.ctrl.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcut(K.Redo)
        self.act_add = a("&Add node", self.add_node, "Ctrl+Shift+N", "Add a node like the last one")
        self.act_duplicate = a("&Duplicate node", self.duplicate_selected, "Ctrl+D")
        self.act_delete = a("De&lete node", self.delete_selected, K.Delete)
        self.act_fail = a("&Fail / recover selected node\tF, Space", self.toggle_selected,
                          tip="Fail the selected node, or recover it if it is down")
        self.act_play = a("&Play", self.toggle_running, "Ctrl+P", "Run or pause the simulation")
        self.act_step = a("S&tep", self.ctrl.step_once, "Ctrl+T", "Advance one engine step (0.05 s)")
        self.act_reset = a("&Reset", self.reset, "Ctrl+R", "Back to t = 0 with the current cluster")
        self.act_faster = a("&Faster", lambda: self._nudge_speed(1), "Ctrl+]")
        self.act_slower = a("S&lower", lambda: self._nudge_speed(-1), "Ctrl+[")
        self.act_chaos = a("&Chaos mode", lambda: None, "Ctrl+Shift+K",
                           "Chaos mode: a single click on a node fails or recovers it; off: a click selects it")
        self.act_chaos.setCheckable(True)
        self.act_chaos.setChecked(False)
        self.act_chaos.toggled.connect(self._set_click_fails)
        self.act_inspector = self.inspector_dock.toggleViewAction()
        self.act_inspector.setText("&Inspector")
        self.act_inspector.setShortcut(QKeySequence("Ctrl+I"))
        self.act_back = a("&Back 1 s", lambda: self.scrubber.step(-1.0), "Alt+Left")
        self.act_forward = a("Forward 1 s", lambda: self.scrubber.step(1.0), "Alt+Right")
        self.act_back_10 = a("Back 10 s", lambda: self.scrubber.step(-10.0), "Alt+Shift+Left")
        self.act_forward_10 = a("Forward 10 s", lambda: self.scrubber.step(10.0), "Alt+Shift+Right")
        self.act_newest = a("To the &newest moment", lambda: self.ctrl.jump(self.ctrl.head_t), "Alt+End")
        self.act_fit = a("&Fit cluster", self.view.fit, "Ctrl+0")
        self.act_zoom_in = a("Zoom &in", lambda: self.view.zoom(1.25), K.ZoomIn)
        self.act_zoom_out = a("Zoom &out", lambda: self.view.zoom(0.8), K.ZoomOut)
        self.act_compare = a("&Compare vertical and horizontal…", self.show_compare, "Ctrl+K",
                             "Run a vertical and a horizontal cluster side by side under the same traffic")
        self.act_fullscreen = a("F&ull screen", self._toggle_fullscreen, K.FullScreen)
        self.act_whatif = a("&What-if sweep…", self.show_whatif, "Ctrl+Shift+W",
                            "Run many variants of this cluster on a local Dask cluster and compare cost and p99")
        for action, short in ((self.act_add, "Add"), (self.act_duplicate, "Duplicate"), (self.act_delete, "Delete"),
                              (self.act_fit, "Fit"), (self.act_compare, "Compare"), (self.act_chaos, "Chaos mode"),
                              (self.act_whatif, "What-if")):
            action.setIconText(short)  # the toolbar's text: it fits a 1366 px screen

        menu = self.menuBar().addMenu("&File")
        menu.addActions([self.act_new, self.act_open])
        builtins = menu.addMenu("Open &built-in")
        for name in builtin_names():
            builtins.addAction(a(name, lambda _=False, n=name: self.open_builtin(n)))
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addSeparator()
        menu.addActions([self.act_save, self.act_save_as, self.act_save_run])
        menu.addSeparator()
        menu.addActions([self.act_csv, self.act_png])
        menu.addSeparator()
        menu.addAction(self.act_quit)
        menu = self.menuBar().addMenu("&Edit")
        menu.addActions([self.act_undo, self.act_redo])
        menu.addSeparator()
        menu.addActions([self.act_add, self.act_duplicate, self.act_delete])
        menu.addSeparator()
        menu.addAction(self.act_fail)
        menu = self.menuBar().addMenu("&Simulation")
        menu.addActions([self.act_play, self.act_step, self.act_reset])
        menu.addSeparator()
        menu.addActions([self.act_faster, self.act_slower, self.act_chaos])
        menu.addSeparator()
        menu.addActions([self.act_back, self.act_forward, self.act_back_10, self.act_forward_10, self.act_newest])
        menu.addSeparator()
        menu.addAction(self.act_whatif)
        menu = self.menuBar().addMenu("&View")
        menu.addActions([self.act_fit, self.act_zoom_in, self.act_zoom_out])
        menu.addSeparator()
        menu.addAction(self.act_inspector)
        menu.addActions([self.act_compare, self.act_fullscreen])

        bar = QToolBar("Simulation")
        bar.setObjectName("simulation")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addActions([self.act_play, self.act_step, self.act_reset])
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}× speed", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setAccessibleName("simulation speed")
        self.speed.setToolTip("Simulated seconds per real second")
        self.speed.currentIndexChanged.connect(lambda i: self.clock.set_speed(SPEEDS[i]))
        bar.addWidget(self.speed)
        bar.addSeparator()
        bar.addActions([self.act_add, self.act_duplicate, self.act_delete, self.act_fit, self.act_chaos])
        bar.addSeparator()
        bar.addWidget(QLabel(" Slide: "))
        for text, name in SLIDE_SCENARIOS:
            bar.addAction(a(text, lambda _=False, n=name: self.open_builtin(n), tip=f"Open {name}"))
        bar.addAction(self.act_compare)
        self.addToolBar(bar)

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
