"""The main window's actions, menus and toolbar: the ``MainActions`` mixin of ``MainWindow``.

Each command is a QAction with its shortcut and tip; the slots are the window's own (and its
``FileActions``'). A mixin, as ``FileActions`` is: it reads the window's controller, clock, views
and docks, which ``MainWindow.__init__`` builds before it calls ``_build_actions``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QToolBar

from app.clock import SPEEDS
from sim_core.scenario_file import builtin_names

SLIDE_SCENARIOS = (  # toolbar button text, built-in name
    ("1 CPU", "vertical-1cpu"), ("2 CPU", "vertical-2cpu"), ("4 CPU", "vertical-4cpu"), ("7 × 1 CPU", "horizontal-7x1"),
)


class MainActions:
    """The main window's QActions (``act_*``), its menu bar and its Simulation toolbar."""

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
