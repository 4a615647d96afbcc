"""Two thousand seeded random actions on the main window: no exception, no frame over a second.

The same driver runs 20,000 from the command line: ``scripts/random_actions.py``.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.windows.main_window import MainWindow
from scripts.random_actions import MAX_FRAME_S, run
from sim_core.scenario_file import resolve


@pytest.mark.timeout(900)  # about 2 min on an idle machine; the 300 s default cut it off under load
def test_two_thousand_random_actions_raise_nothing_and_stay_responsive(qtbot, qt_settings, tmp_path):
    win = MainWindow(resolve("horizontal-7x1"), None, qt_settings, tmp_path)
    qtbot.addWidget(win)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    win.resize(1366, 740)
    win.show()
    qtbot.waitExposed(win)
    report = run(win, QApplication.instance(), 2000, seed=8, paint_every=25)
    assert report.exceptions == []
    first_compare = next((k for k, (_s, name) in enumerate(report.frames) if name == "compare"), None)
    # opening the comparison builds a second window with two engines: a window opening, not a frame
    frames = [f for k, f in enumerate(report.frames) if k != first_compare]
    assert max(s for s, _name in frames) < MAX_FRAME_S, sorted(frames, reverse=True)[:3]
    assert len(report.counts) > 20  # nearly every kind of action ran
    if win.compare_window is not None:
        qtbot.addWidget(win.compare_window)
