"""Selecting is a click, failing is explicit; the canvas and readout stay true through loads and adds."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt

from app.windows.main_window import MainWindow
from sim_core.engine.state import DOWN, RESTARTING, UP


def view_point(win: MainWindow, scene_point: QPointF):
    return win.view.mapFromScene(scene_point)


def click_node(qtbot, win: MainWindow, node_id: int, double: bool = False) -> None:
    item = win.scene.items_by_id[node_id]
    win.view.ensureVisible(item)
    point = view_point(win, item.scenePos())
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    if double:
        qtbot.mouseDClick(win.view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_a_click_selects_a_node_without_failing_it(qtbot, window):
    node_id = window.ctrl.id_by_name("node-3")
    click_node(qtbot, window, node_id)
    assert window.scene.selected_ids() == [node_id]
    assert window.ctrl.node_state(node_id) == UP
    assert window.inspector.node_id == node_id
    assert not window.act_chaos.isChecked()


def test_double_click_fails_and_recovers(qtbot, window):
    node_id = window.ctrl.id_by_name("node-2")
    click_node(qtbot, window, node_id, double=True)
    assert window.ctrl.node_state(node_id) == DOWN
    click_node(qtbot, window, node_id, double=True)
    assert window.ctrl.node_state(node_id) == RESTARTING


def test_the_selected_box_has_a_fail_button_and_chaos_mode_fails_on_click(qtbot, window):
    node_id = window.ctrl.id_by_name("node-5")
    item = window.scene.items_by_id[node_id]
    assert item.button_rect().isEmpty()  # not selected: no button drawn, a click there only selects
    click_node(qtbot, window, node_id)
    rect = item.button_rect()
    assert not rect.isEmpty()
    point = view_point(window, item.mapToScene(rect.center()))
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert window.ctrl.node_state(node_id) == DOWN
    assert window.scene.selected_ids() == [node_id]
    window.act_chaos.setChecked(True)
    other = window.ctrl.id_by_name("node-6")
    click_node(qtbot, window, other)
    assert window.ctrl.node_state(other) == DOWN


def test_the_inspector_fail_button_fails_the_selected_node(qtbot, window):
    node_id = window.ctrl.id_by_name("node-1")
    click_node(qtbot, window, node_id)
    qtbot.mouseClick(window.inspector.fail_button, Qt.MouseButton.LeftButton)
    assert window.ctrl.node_state(node_id) == DOWN
    assert window.inspector.fail_button.text() == "Recover"


def test_loading_a_bigger_scenario_with_a_node_selected_raises_nothing(qtbot, window):
    window.open_builtin("vertical-1cpu")
    click_node(qtbot, window, window.ctrl.node_ids[0])
    assert window.scene.selected_ids()
    window.open_builtin("horizontal-7x1")  # pytest-qt fails the test on an exception inside a slot
    assert window.scene.selected_ids() == []
    assert window.inspector.node_id is None


def test_after_add_node_while_paused_the_figures_follow_the_engine(window):
    window.clock.set_running(False)
    window.act_add.trigger()
    new_id = window.scene.selected_ids()[0]
    assert window.ctrl.node_state(new_id) == RESTARTING
    assert window.scene.items_by_id[new_id].state == RESTARTING
    up = int((window.ctrl.node_states() == UP).sum())
    assert window.readout.labels["nodes_up"].text() == f"{up}/8"
    assert up == 7


def test_undoing_a_delete_puts_the_node_back_in_its_place(qtbot, window):
    ctrl = window.ctrl
    original = [n.name for n in ctrl.document().nodes]
    ctrl.advance(2.0, 40)  # a running cluster: the undo re-adds the node to the run, in its place
    window.scene.select_only(ctrl.id_by_name("node-2"))
    window.act_delete.trigger()
    window.act_undo.trigger()
    assert [n.name for n in ctrl.document().nodes] == original  # what Save writes
    assert [ctrl.node(i).name for i in ctrl.node_ids] == original  # the engine's order
    assert [item.node.name for item in window.scene.node_items()] == original  # the canvas's order
    strip = window.charts.strip
    rows = [ctrl.node(strip.ids[i]).name for i in strip.order]
    assert rows == original  # the heat strip's rows follow the canvas, node-2 second again
    window.scene.select_only(ctrl.id_by_name("node-1"))
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Right)  # the next box is node-2 again, in the inspector too
    assert window.inspector.node_title.text() == "node-2"


def test_undoing_a_delete_of_one_of_few_nodes_keeps_its_utilization_curve_in_place(window):
    from sim_core.scenario_file import resolve

    window.ctrl.replace(resolve("horizontal-7x1").model_copy(
        update={"nodes": resolve("horizontal-7x1").nodes[:3]}))  # one curve per node, coloured by place
    ctrl = window.ctrl
    before = list(window.charts.curve_ids)
    ctrl.advance(2.0, 40)
    window.scene.select_only(before[0])
    window.act_delete.trigger()
    window.act_undo.trigger()
    assert window.charts.curve_ids == before


def test_undoing_an_add_after_scrubbing_back_before_it_raises_nothing(window):
    window.ctrl.advance(5.0, 100)
    window.act_add.trigger()
    new_id = window.scene.selected_ids()[0]
    name = window.ctrl.node(new_id).name
    window.ctrl.advance(0.5, 10)
    window.ctrl.jump(4.0)  # back to before the node existed
    window.act_undo.trigger()  # an exception inside QUndoCommand.undo crashes PySide 6.11 outright
    assert name not in [n.name for n in window.ctrl.document().nodes]
    assert new_id not in window.ctrl.node_ids
    window.ctrl.advance(1.0, 20)  # the run goes on from 4 s without it
    assert window.ctrl.t == pytest.approx(5.0)
