"""The window with an autoscaler and a challenge: boxes boot and drain, the timeline has the
decisions, the cost chart counts nodes, the goals dock judges live and shows the result card."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from app.windows.main_window import MainWindow
from sim_core.challenge import FAILED, MET, PENDING
from sim_core.scenario_file import resolve


@pytest.fixture
def window(qtbot, qt_settings, tmp_path):
    (tmp_path / "autosave").mkdir(exist_ok=True)
    win = MainWindow(resolve("wave-autoscaled"), None, qt_settings, tmp_path / "autosave")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    return win


def play(win: MainWindow, until: float) -> None:
    while win.ctrl.t < until - 1e-9:
        win.clock.tick(0.05)


def test_autoscaled_nodes_boot_on_the_canvas_and_the_decisions_are_on_the_timeline(window):
    window.clock.set_speed(20.0)
    assert window.goals_dock.isHidden()  # no goals in this scenario
    play(window, 16.0)  # the first evaluation at 15 s adds a node (utilization 0.83 > 0.70)
    added = [i for i in window.ctrl.node_ids if window.ctrl.changed_fields(i) == ["added"]]
    assert len(added) == 1 and len(window.scene.items_by_id) == 5
    box = window.scene.items_by_id[added[0]]
    assert box.phase == "booting"  # 10 s of boot, then a health check
    reasons = [e.reason for e, origin in window.ctrl.timeline if origin == "autoscaler"]
    assert reasons == ["utilization 0.83 > target 0.70: 4 -> 5 nodes"]
    play(window, 30.0)
    assert box.phase == ""
    assert window.charts.curves["nodes"].yData[-1] == 5


def test_the_goals_dock_judges_a_challenge_live_and_shows_the_result(window):
    window.open_builtin("challenge-4-memory-burst")
    dock = window.goals_dock
    assert not dock.isHidden() and dock.panel.statuses() == [PENDING, PENDING, PENDING]
    window.clock.set_speed(100.0)
    play(window, 35.0)  # the burst at 30 s: one 4 GB server turns some away
    assert dock.panel.statuses()[0] == FAILED and not dock.card.isVisible()
    play(window, 60.0)
    dock.wait()
    assert dock.card.isVisible() and dock.card.headline.text() == "Not yet"
    assert dock.panel.statuses() == [FAILED, MET, MET]
    dock.card.again.click()  # Try again: the run starts over
    assert window.ctrl.t == 0.0 and not dock.card.isVisible() and dock.panel.statuses()[0] == PENDING


def test_the_comparison_shows_the_daily_wave_scaled_up_against_autoscaled(qtbot):
    from app.windows.compare import LESSONS, SCALING_LESSONS, CompareWindow

    view = CompareWindow()
    qtbot.addWidget(view)
    view.resize(1600, 1000)
    view.show()
    assert view.lesson.count() == len(LESSONS) + len(SCALING_LESSONS)
    view.lesson.setCurrentIndex(len(LESSONS))  # one server up the ladder | the autoscaler
    assert view.vertical.scenario.autoscaler.kind == "vertical"
    assert view.horizontal.scenario.autoscaler.kind == "horizontal"
    view.clock.set_speed(100.0)
    while view.horizontal.t < 50.0 - 1e-9:
        view.clock.tick(0.05)
    assert view.vertical.scenario.nodes[0].cores == 4  # resized twice, at 15 and 45 s
    assert len(view.horizontal.scenario.nodes) > 4  # nodes added
    # the same requests on both sides (same seed and traffic)
    assert view.vertical.last.offered_total == view.horizontal.last.offered_total
    view.clock.set_running(False)
