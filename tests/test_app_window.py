"""The window, clicked through with pytest-qt offscreen: failures, edits, files, undo, autosave."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from app.autosave import pending
from app.charts.readout import format_figure
from app.windows.main_window import MainWindow, startup_window
from sim_core.engine.state import DOWN, RESTARTING, UP
from sim_core.metrics import CSV_COLUMNS
from sim_core.scenario_file import builtin_names, dumps, load, resolve


def run(win: MainWindow, seconds: float, tick_s: float = 0.05) -> list:
    """Drive the window's clock as its timer would, ``seconds`` of wall time at the current speed."""
    snaps = []
    win.ctrl.stepped.connect(snaps.extend)
    for _ in range(round(seconds / tick_s)):
        win.clock.tick(tick_s)
    win.ctrl.stepped.disconnect(snaps.extend)
    return snaps


def click_node(qtbot, win: MainWindow, node_id: int) -> None:
    item = win.scene.items_by_id[node_id]
    win.view.ensureVisible(item)
    point = win.view.mapFromScene(item.scenePos())
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_clicking_a_node_in_chaos_mode_fails_it_in_the_engine_canvas_charts_and_readout(qtbot, window):
    window.act_chaos.setChecked(True)
    run(window, 10.0)
    node_id = window.ctrl.id_by_name("node-3")
    index = window.ctrl.index_of(node_id)
    assert window.ctrl.session.sim.node_state[index] == UP
    lost_before = window.ctrl.last.lost_total
    click_node(qtbot, window, node_id)
    assert window.ctrl.session.sim.node_state[index] == DOWN
    assert window.scene.items_by_id[node_id].state == DOWN
    assert window.readout.labels["nodes_up"].text() == "6/7"
    t_fail = window.ctrl.t
    assert window.charts.markers and window.charts.markers[-1].value() == pytest.approx(t_fail)
    snaps = run(window, 6.0)
    # requests in it were lost, the readout shows the engine's count, the lost curve rose
    assert snaps[-1].lost_total > lost_before
    assert window.readout.numbers["lost_total"] == snaps[-1].lost_total
    assert window.readout.labels["lost_total"].text() == str(snaps[-1].lost_total)
    _x, lost_curve = window.charts.curves["lost"].getData()
    assert np.nanmax(lost_curve) > 0
    # after the 3 s health check the balancer sends it nothing
    late = [s for s in snaps if s.t > t_fail + 3.0 + 1e-9]
    assert late and all(s.node_offered[index] == 0 for s in late)
    assert all(s.node_offered[index] > 0 for s in snaps[:2]) or sum(s.node_offered[index] for s in snaps[:20]) > 0
    # clicking again recovers it: it restarts
    click_node(qtbot, window, node_id)
    assert window.ctrl.session.sim.node_state[index] == RESTARTING
    assert window.readout.labels["nodes_up"].text() == "6/7"


def test_keyboard_selects_and_fails_a_node(qtbot, window):
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Down)
    first = window.ctrl.node_ids[0]
    assert window.scene.selected_ids() == [first]
    qtbot.keyClick(window.view, Qt.Key.Key_Down)
    second = window.ctrl.node_ids[1]
    assert window.scene.selected_ids() == [second]
    qtbot.keyClick(window.view, Qt.Key.Key_F)
    assert window.ctrl.node_state(second) == DOWN
    assert window.ctrl.node_state(first) == UP
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert window.ctrl.node_state(second) == RESTARTING


def test_readout_equals_the_engine_snapshot(window):
    snaps = run(window, 12.0)
    last = snaps[-1]
    numbers = window.readout.numbers
    assert numbers["p95"] == last.latency_p95 * 1e3
    assert numbers["p99"] == last.latency_p99 * 1e3
    assert numbers["availability"] == last.availability * 100
    assert numbers["cost"] == last.cost_per_hour == pytest.approx(7 * 0.0116)
    assert numbers["queued"] == last.queue.sum()
    # the rates are the engine's counts over the last second of simulated time
    t0 = last.t - 1.0
    before = max((s for s in snaps if s.t <= t0 + 1e-9), key=lambda s: s.t)
    expected = (last.served_total - before.served_total) / (last.t - before.t)
    assert numbers["served"] == pytest.approx(expected, rel=1e-12)
    assert window.readout.labels["served"].text() == format_figure("served", numbers["served"])
    assert window.readout.labels["p95"].text() == format_figure("p95", last.latency_p95 * 1e3)
    window.charts.refresh()  # the clock's frames draw one chart each: draw all of them now
    _x, served_curve = window.charts.curves["served"].getData()
    assert served_curve[-1] == pytest.approx(numbers["served"])


def test_editing_cores_in_the_inspector_reaches_the_engine_and_undoes(qtbot, window):
    node_id = window.ctrl.id_by_name("node-2")
    index = window.ctrl.index_of(node_id)
    window.scene.select_only(node_id)
    spin = window.inspector.node_spins["cores"]
    assert spin.isVisible() and spin.value() == 1
    spin.setValue(4)
    assert window.ctrl.session.sim.params.cores[index] == 4
    assert window.ctrl.session.sim.scenario.nodes[index].cores == 4
    assert window.ctrl.node_state(node_id) == RESTARTING  # a resize restarts the node
    assert window.scene.items_by_id[node_id].node.spec_label().startswith("4 CPU")
    assert window.isWindowModified()
    window.act_undo.trigger()
    assert window.ctrl.session.sim.params.cores[index] == 1
    assert spin.value() == 1
    assert not window.isWindowModified()
    window.act_redo.trigger()
    assert window.ctrl.session.sim.params.cores[index] == 4
    assert spin.value() == 4


def test_spin_boxes_take_the_model_ranges_and_refuse_bad_values(window):
    spins = window.inspector.node_spins
    assert (spins["cores"].minimum(), spins["cores"].maximum()) == (1, 256)
    assert (spins["ram_gb"].minimum(), spins["ram_gb"].maximum()) == (0.125, 4096)
    assert (spins["storage_gb"].minimum(), spins["storage_gb"].maximum()) == (1, 1e6)
    assert (spins["price_per_hour"].minimum(), spins["price_per_hour"].maximum()) == (0, 1e4)
    assert (spins["core_speed"].minimum(), spins["core_speed"].maximum()) == (0.1, 10)
    assert spins["ram_gb"].suffix() == " GB"
    node_id = window.ctrl.node_ids[0]
    window.scene.select_only(node_id)
    spins["cores"].setValue(-3)  # clamped by the widget: -3 cores cannot be entered
    assert window.ctrl.node(node_id).cores == 1


def test_traffic_slider_and_balancer_edit_reach_the_engine(window):
    inspector = window.inspector
    inspector.rate_slider.setValue(300)  # 30% of max_rate 100
    assert window.ctrl.session.sim.scenario.workload.rate == 30.0
    assert inspector.rate.value() == 30.0
    inspector.policy.setCurrentIndex(inspector.policy.findData("least_connections"))
    assert window.ctrl.session.sim.params.policy == "least_connections"
    inspector.shape.setCurrentIndex(inspector.shape.findData("ramp"))
    assert window.ctrl.session.sim.scenario.workload.shape.kind == "ramp"
    assert "to_rate" in inspector.shape_spins
    snaps = run(window, 3.0)
    assert snaps[-1].offered_total > 0
    window.act_undo.trigger()
    window.act_undo.trigger()
    window.act_undo.trigger()
    assert window.ctrl.session.sim.scenario.workload == resolve("horizontal-7x1").workload
    assert window.ctrl.session.sim.params.policy == "round_robin"


@pytest.mark.parametrize("name", builtin_names())
def test_each_builtin_scenario_loads_and_runs(window, name):
    assert window.open_builtin(name)
    expected = resolve(name)
    assert window.ctrl.scenario == expected
    assert len(window.scene.items_by_id) == len(expected.nodes)
    assert window.readout.labels["nodes_up"].text() == f"{len(expected.nodes)}/{len(expected.nodes)}"
    snaps = run(window, 2.0)
    assert snaps[-1].t == pytest.approx(2.0)
    assert window.ctrl.history.size == len(snaps)


def test_save_and_reopen_gives_the_same_scenario(window, tmp_path):
    window.open_builtin("gain-fault-tolerance")
    path = tmp_path / "saved.json"
    assert window.save_to(path)
    original = resolve("gain-fault-tolerance")
    assert path.read_text() == dumps(original)
    assert load(path) == original
    window.open_builtin("vertical-1cpu")
    assert window.open_path(path)
    assert window.ctrl.scenario == original
    assert window.ctrl.path == path.resolve()
    assert not window.isWindowModified()
    assert window.settings.value("last_file") == str(path.resolve())


def test_a_corrupt_or_invalid_file_is_rejected_and_the_open_work_kept(window, tmp_path):
    node_id = window.ctrl.id_by_name("node-1")
    window.ctrl.set_node_field(node_id, "cores", 8)
    edited = window.ctrl.scenario
    bad = json.loads(dumps(resolve("horizontal-7x1")))
    bad["nodes"][0]["cores"] = -3
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(bad))
    assert not window.open_path(invalid)
    assert "nodes[0].cores: -3 is not in 1..256" in window.error_box.text()
    assert window.error_box.isVisible()
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"nodes": [')
    assert not window.open_path(corrupt)
    assert "not valid JSON" in window.error_box.text()
    assert window.ctrl.scenario == edited
    assert window.isWindowModified()
    assert window.ctrl.undo_stack.count() == 1
    assert window.ctrl.session.sim.params.cores[window.ctrl.index_of(node_id)] == 8


def test_add_duplicate_delete_and_undo(window):
    ctrl = window.ctrl
    window.scene.select_only(ctrl.node_ids[0])
    window.act_add.trigger()
    assert ctrl.session.sim.n_nodes == 8 and len(window.scene.items_by_id) == 8
    new_id = window.scene.selected_ids()[0]
    assert ctrl.node(new_id).name == "node-8"
    window.act_duplicate.trigger()
    assert ctrl.session.sim.n_nodes == 9
    window.scene.select_only(ctrl.id_by_name("node-2"))
    window.act_delete.trigger()
    assert "node-2" not in [n.name for n in ctrl.scenario.nodes]
    assert len(window.scene.items_by_id) == 8
    for _ in range(3):
        window.act_undo.trigger()
    assert [n.name for n in ctrl.scenario.nodes] == [f"node-{i}" for i in range(1, 8)]  # node-2 back in its place
    assert ctrl.session.sim.n_nodes == 7 and len(window.scene.items_by_id) == 7
    assert not window.isWindowModified()
    run(window, 1.0)  # the engine runs on the restored cluster


def test_a_drag_is_one_undo_step(qtbot, window):
    ctrl = window.ctrl
    window.act_chaos.setChecked(False)
    assert not window.scene.click_fails
    node_id = ctrl.id_by_name("node-4")
    item = window.scene.items_by_id[node_id]
    before = (ctrl.node(node_id).x, ctrl.node(node_id).y)
    start = window.view.mapFromScene(item.scenePos())
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 6):
        qtbot.mouseMove(viewport, start + QPoint(12 * k, 8 * k))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=start + QPoint(60, 40))
    node = ctrl.node(node_id)
    assert (node.x, node.y) != before
    assert ctrl.undo_stack.count() == 1
    assert ctrl.node_state(node_id) == UP  # a drag is not a click: the node did not fail
    window.act_undo.trigger()
    assert (ctrl.node(node_id).x, ctrl.node(node_id).y) == before
    assert (item.pos().x(), item.pos().y()) == before


def test_quit_asks_to_save_unsaved_changes(window):
    window.ctrl.set_node_field(window.ctrl.node_ids[0], "price_per_hour", 1.0)
    window.ask_save = lambda: QMessageBox.StandardButton.Cancel
    window.close()
    assert window.isVisible()
    window.ask_save = lambda: QMessageBox.StandardButton.Discard
    window.close()
    assert not window.isVisible()


def test_autosave_is_restored_after_a_crash(qtbot, window, qt_settings, tmp_path):
    folder = window.autosaver.folder
    assert not window.autosaver.save_now()  # nothing unsaved, nothing written
    window.ctrl.set_node_field(window.ctrl.node_ids[0], "cores", 3)
    assert window.autosaver.save_now()
    scenario, source = pending(folder)
    assert scenario.nodes[0].cores == 3 and source is None
    other = MainWindow(resolve("vertical-1cpu"), None, qt_settings, folder)
    qtbot.addWidget(other)
    other.ask_save = lambda: QMessageBox.StandardButton.Discard
    other.restore(scenario, source)
    assert other.ctrl.scenario.nodes[0].cores == 3
    assert other.isWindowModified()
    window.close()  # a clean exit removes the autosave
    assert pending(folder) is None


def test_speed_and_dropped_frames(window, monkeypatch):
    monkeypatch.setattr(window.clock, "BUDGET_S", 10.0)  # no tick over budget, however loaded the machine
    window.clock.set_speed(10.0)
    monkeypatch.setattr(window.clock, "BUDGET_S", 10.0)  # no tick over budget, however busy the machine
    run(window, 0.5)
    assert window.ctrl.t == pytest.approx(5.0)
    window.clock.set_speed(100.0)
    monkeypatch.setattr(window.clock, "BUDGET_S", 0.0)  # every tick is over budget
    t0 = window.ctrl.t
    window.clock.tick(0.05)
    assert window.ctrl.t - t0 == pytest.approx(5.0 / 4)  # one step of the four ran
    assert window.clock.dropped_s == pytest.approx(5.0 * 3 / 4)
    window.clock.tick(3.0)  # a stall of 3 s is not caught up
    assert window.ctrl.t - t0 < 5.0 / 4 + 10.0 / 4 + 1e-9


def test_export_csv_and_png(window, tmp_path):
    run(window, 3.0)
    assert window.export_csv(tmp_path / "series.csv")
    lines = (tmp_path / "series.csv").read_text().splitlines()
    assert lines[0].split(",") == list(CSV_COLUMNS)
    assert len(lines) - 1 == math.ceil(window.ctrl.head_t - 1e-9)  # one row per simulated second
    rows = [dict(zip(CSV_COLUMNS, line.split(","), strict=True)) for line in lines[1:]]
    assert float(rows[-1]["t_s"]) == pytest.approx(window.ctrl.head_t)
    assert int(rows[-1]["in_system"]) == window.ctrl.last.in_system
    assert window.export_png(tmp_path / "charts.png")
    assert (tmp_path / "charts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_scenario_argument_opens_the_default_with_a_message(qtbot, qt_settings, tmp_path):
    win = startup_window([str(tmp_path / "missing.json")])
    qtbot.addWidget(win)
    assert win.ctrl.scenario == resolve("horizontal-7x1")
    assert "no such file" in win.error_box.text()


def test_consecutive_edits_of_one_field_are_one_undo_step_and_other_edits_are_not(window):
    ctrl = window.ctrl
    first, second = ctrl.node_ids[:2]
    original = ctrl.node(first)
    for cores in (2, 3, 4):  # typing into one spin box
        ctrl.set_node_field(first, "cores", cores)
    for rate in (40.0, 45.0):
        ctrl.set_part_field("workload", "rate", rate)
    ctrl.set_node_field(second, "cores", 2)  # another node: its own step
    ctrl.set_part_field("balancer", "health_check_s", 2.0)  # another part: its own step
    assert ctrl.undo_stack.count() == 4
    assert ctrl.node(first).cores == 4 and ctrl.scenario.workload.rate == 45.0
    for _ in range(4):
        ctrl.undo_stack.undo()
    assert ctrl.node(first) == original and ctrl.node(second).cores == 1
    assert ctrl.scenario.workload.rate == 50.0 and ctrl.scenario.balancer.health_check_s == 3.0
