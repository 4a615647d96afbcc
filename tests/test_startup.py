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

    warm_up_after_first_frame(qapp)
    Simulation(resolve("vertical-1cpu"))  # warms the kernel up, unless deferred
    assert loads == []
    window = Window()
    window.setCentralWidget(QLabel("ScaleLab"))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(loads), timeout=20_000)
    assert loads == [True] and kernel.kind in kernel.KINDS
