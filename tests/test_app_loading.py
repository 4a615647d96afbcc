"""Loading a scenario keeps the clock as it was and starts the views afresh; the inspector's edits undo."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.windows.main_window import MainWindow


def run(win: MainWindow, seconds: float, tick_s: float = 0.05) -> None:
    for _ in range(round(seconds / tick_s)):
        win.clock.tick(tick_s)


@pytest.mark.parametrize("running", [True, False])
def test_loading_keeps_the_clock_running_or_paused(window, running):
    window.clock.set_running(running)
    window.open_builtin("vertical-1cpu")
    assert window.clock.running == running
    window.open_builtin("gain-scalability")
    assert window.clock.running == running
    window.clock.set_running(False)


def test_loading_resets_the_y_axes_and_the_dot_scale(window):
    window.open_builtin("gain-scalability")
    window.clock.set_speed(20.0)
    run(window, 6.0)  # 120 s: the ramp reaches 60 req/s
    assert window.charts.throughput.viewRange()[1][1] > 50
    assert window.scene.flow.per_dot > 1
    window.open_builtin("vertical-1cpu")
    assert window.scene.flow.per_dot == 1
    run(window, 0.5)  # 10 s of 50 req/s offered, 10 served
    top = window.charts.throughput.viewRange()[1][1]
    assert 50 <= top <= 100  # fitted to the new scenario's traffic


def test_the_comparison_opens_running(qtbot, window):
    window.show_compare()
    qtbot.addWidget(window.compare_window)
    assert window.compare_window.clock.running
    window.compare_window.close()
    assert not window.compare_window.clock.running


def test_ctrl_z_in_a_spin_box_undoes_the_edit(qtbot, window):
    node_id = window.ctrl.id_by_name("node-2")
    window.scene.select_only(node_id)
    window.activateWindow()
    qtbot.waitActive(window)
    spin = window.inspector.node_spins["cores"]
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "3")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.ctrl.node(node_id).cores == 3
    qtbot.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.ctrl.node(node_id).cores == 1
    assert spin.value() == 1
    qtbot.keyClicks(spin, "")
    spin.selectAll()
    qtbot.keyClicks(spin, "5")  # typed, not yet committed: Ctrl+Z commits it, then undoes it
    qtbot.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.ctrl.node(node_id).cores == 1
    assert spin.value() == 1


def test_typing_an_out_of_range_value_says_so(qtbot, window):
    node_id = window.ctrl.id_by_name("node-2")
    window.scene.select_only(node_id)
    spin = window.inspector.node_spins["cores"]
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "999")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.ctrl.node(node_id).cores == 1  # nothing applied, not a silent 99
    assert spin.value() == 1
    assert window.inspector.error.text() == "CPU cores: 999 is not in 1..256"
