"""The What-if dialog: a sweep around the open scenario with live progress, the Pareto chart,
cancel, field-path messages for bad values, and a click that opens a point's cluster.

The sweeps here run in-process (``Sequential``) to keep the test cheap; the Dask backend the
dialog uses by default is tested against the same rows in test_sweep_dask.py.
"""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.windows.main_window import MainWindow
from app.windows.whatif import WhatIfDialog, parse_values
from sim_core.scenario_file import resolve, validate_data
from sim_core.sweep.background import BackgroundSweep
from sim_core.sweep.results import aggregate
from sim_core.sweep.runner import Sequential, run_sweep


@pytest.fixture
def dialog(qtbot):
    opened = []
    dlg = WhatIfDialog(resolve("horizontal-7x1"), opened.append, BackgroundSweep(Sequential))
    dlg.opened = opened
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.value_edits[0].setText("4-7")
    dlg.value_edits[1].setText("1, 2")
    dlg.seconds.setValue(5)
    dlg.replications.setValue(1)
    dlg.p99.setValue(800)
    dlg.availability.setValue(99)
    return dlg


def test_parse_values_reads_ranges_lists_names_and_failures():
    assert parse_values("nodes", "1-3, 8") == [1, 2, 3, 8]
    assert parse_values("rate", "20 50.5") == [20.0, 50.5]
    assert parse_values("policy", "random, weighted") == ["random", "weighted"]
    assert parse_values("failure", "none, 30") == [{"kind": "none"}, {"kind": "one_node", "at_s": 30.0}]
    assert parse_values("cores", "two") == ["two"]


def test_a_bad_value_names_the_field_and_disables_run(dialog):
    dialog.value_edits[1].setText("0, 2")
    assert "axes.cores[0]: 0 is not in 1..256" in dialog.problems.text()
    assert not dialog.run_button.isEnabled()
    dialog.axis_boxes[2].setCurrentText("cores")
    assert "each axis may be picked once" in dialog.problems.text()
    dialog.axis_boxes[2].setCurrentText("(none)")
    dialog.value_edits[1].setText("1, 2")
    assert dialog.problems.text() == "" and dialog.run_button.isEnabled()


def test_a_sweep_fills_the_chart_and_a_click_opens_that_cluster(qtbot, dialog):
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("done"), timeout=120_000)
    assert dialog.progress.value() == dialog.progress.maximum() == 8
    expected = aggregate(dialog.spec, run_sweep(dialog.spec, dialog.base, Sequential()).rows)
    assert [p["p99_ms"] for p in dialog.points] == [p["p99_ms"] for p in expected]
    good = [p for p in expected if p["meets_constraints"]]
    assert 0 < len(good) < 8  # 4 one-core nodes at 50 req/s miss a p99 of 800 ms; 7 two-core nodes meet it
    assert len(dialog.meets.points()) == len(good) and len(dialog.misses.points()) == 8 - len(good)
    assert len(dialog.labels) == len(good)

    spot = dialog.meets.points()[0]  # a real click on the point, through pyqtgraph's scene
    dialog.chart.plotItem.vb.autoRange()
    qtbot.wait(50)
    pos = dialog.chart.mapFromScene(dialog.meets.mapToScene(spot.pos()))
    qtbot.mouseClick(dialog.chart.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert len(dialog.opened) == 1
    scenario = dialog.opened[0]
    point = next(p for p in expected if p["point"] == spot.data())
    assert len(scenario.nodes) == point["nodes"] and scenario.nodes[0].cores == point["cores"]
    assert sum(n.price_per_hour for n in scenario.nodes) == pytest.approx(point["cost_per_hour"])
    validate_data(scenario.model_dump(mode="json"))  # a whole valid scenario, ready to save


def test_cancel_keeps_the_finished_points_and_allows_another_run(qtbot, dialog):
    dialog.value_edits[0].setText("1-16")
    dialog.seconds.setValue(60)
    dialog.run()
    qtbot.waitUntil(lambda: dialog.sweeper.state().done >= 2, timeout=120_000)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("cancelled"), timeout=60_000)
    kept = dialog.sweeper.state().done
    assert 2 <= kept < 32 and len(dialog.points) > 0
    assert all(not math.isnan(p["cost_per_hour"]) for p in dialog.points)
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_the_window_menu_opens_the_dialog_on_the_open_scenario(qtbot, qt_settings, tmp_path):
    win = MainWindow(resolve("vertical-2cpu"), None, qt_settings, tmp_path / "autosave")
    (tmp_path / "autosave").mkdir(exist_ok=True)
    qtbot.addWidget(win)
    win.show()
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    win.act_whatif.trigger()
    dialog = win.whatif_dialog
    assert dialog.isVisible() and dialog.base == win.ctrl.document()
    cluster = resolve("horizontal-7x1").model_copy(update={"name": "picked"})
    dialog.open_cluster(cluster)  # what a click on a point does
    assert win.ctrl.scenario.name == "picked" and len(win.ctrl.scenario.nodes) == 7
    dialog.compare_cluster(resolve("vertical-4cpu"))  # what a Shift+click does
    compare = win.compare_window
    assert compare.isVisible()
    assert compare.vertical.scenario.name == "picked" and compare.horizontal.scenario.name == "vertical-4cpu"
    assert compare.horizontal.scenario.seed == compare.vertical.scenario.seed
    win.close()
    assert not dialog.isVisible() and not compare.isVisible()


def test_without_dask_the_dialog_says_so_and_does_not_run(qtbot, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    dlg = WhatIfDialog(resolve("horizontal-7x1"), lambda _s: None)  # the default sweeper: a Dask cluster
    qtbot.addWidget(dlg)
    assert "need distributed" in dlg.problems.text() and "Python install" in dlg.problems.text()
    assert not dlg.run_button.isEnabled()
    dlg.run()
    assert not dlg.sweeper.state().busy and not dlg.timer.isActive()
