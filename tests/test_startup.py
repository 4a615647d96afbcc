"""Start-up order: the window paints before the kernel loads (numba or the compiled library)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow

from app.main import warm_up_after_first_frame
from sim_core.engine import kernel
from sim_core.engine.simulation import Simulation
from sim_core.scenario_file import resolve


def test_the_window_loads_the_kernel_only_after_its_first_frame(qapp, qtbot, monkeypatch):
    monkeypatch.setattr(kernel, "_deferred", False)
    monkeypatch.setattr(kernel, "kind", None)  # as in a fresh process: nothing loaded yet
    for name in ("serve", "settle"):
        monkeypatch.delattr(kernel, name, raising=False)
    painted: list[int] = []
    loads: list[bool] = []  # per load: had a frame been painted?
    real_use = kernel.use
    monkeypatch.setattr(kernel, "use", lambda wanted=None: loads.append(bool(painted)) or real_use(wanted))

    class Window(QMainWindow):
        def paintEvent(self, event) -> None:
            painted.append(1)
            super().paintEvent(event)

    warm_up_after_first_frame()
    Simulation(resolve("vertical-1cpu"))  # warms the kernel up, unless deferred
    assert loads == []
    window = Window()
    window.setCentralWidget(QLabel("ScaleLab"))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(loads), timeout=20_000)
    assert loads == [True] and kernel.kind in kernel.KINDS


def test_the_staged_window_paints_first_and_builds_its_charts_after_without_moving_anything(qtbot, qt_settings,
                                                                                              tmp_path):
    from app.charts.chart_scroll import ChartsPlaceholder
    from app.charts.live import ChartPanel
    from app.windows.main_window import MainWindow

    win = MainWindow(resolve("horizontal-7x1"), None, qt_settings, tmp_path, staged=True)
    qtbot.addWidget(win)
    assert win.charts is None and not win.is_built
    assert isinstance(win.chart_scroll.widget(), ChartsPlaceholder)
    built: list[int] = []
    win.built.connect(lambda: built.append(1))
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    places = {name: getattr(win, name).geometry() for name in ("view", "chart_scroll", "readout", "scrubber")}
    qtbot.waitUntil(lambda: win.is_built, timeout=30_000)
    qtbot.wait(50)  # a layout pass, if the charts asked for one
    assert built == [1]
    assert isinstance(win.charts, ChartPanel) and win.chart_scroll.widget() is win.charts
    assert win.explain.charts is not None and win.explain.charts.charts is win.charts
    view_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&View")
    assert "Theory" in [a.text() for a in view_menu.actions()]  # the dock's toggle, as the README says
    assert {name: getattr(win, name).geometry() for name in places} == places
    eager = MainWindow(resolve("horizontal-7x1"), None, qt_settings, tmp_path)  # built at once, as in the tests
    qtbot.addWidget(eager)
    eager.resize(1366, 768)
    eager.show()
    qtbot.waitExposed(eager)
    qtbot.wait(50)
    assert {name: getattr(eager, name).geometry() for name in places} == places
    win.finish_building()  # nothing left to build: no second signal
    assert built == [1]
    win.ctrl.step_once()
    assert win.charts.curves["served"].getData()[0].size > 0  # the charts follow the run


def test_exporting_the_charts_while_staged_builds_them_first(qtbot, qt_settings, tmp_path):
    from app.windows.main_window import MainWindow

    win = MainWindow(resolve("vertical-1cpu"), None, qt_settings, tmp_path, staged=True)
    qtbot.addWidget(win)
    assert win.export_png(tmp_path / "charts.png")
    assert win.is_built and (tmp_path / "charts.png").stat().st_size > 0


def test_the_first_frame_from_source_imports_neither_pyqtgraph_nor_numba(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, SCALELAB_FIRST_FRAME_PROBE="1", QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=str(root))
    done = subprocess.run([sys.executable, "-m", "app"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    line = next(line for line in done.stdout.splitlines() if line.startswith("first-frame "))
    assert "pyqtgraph-imported=False" in line and "numba-imported=False" in line and "kernel=None" in line
