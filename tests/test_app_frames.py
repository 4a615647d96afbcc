"""The clock's frames share the redraw: one chart per frame, a few boxes per frame, state changes at once."""

from __future__ import annotations

import numpy as np

from app.canvas.view import BOX_REFRESH_S, MAX_BOXES_PER_FRAME
from app.charts.live import CHART_EVERY_S
from sim_core.engine.state import DOWN
from sim_core.scenario import Node
from sim_core.scenario_file import resolve

FRAME_S = 1 / 60


def last_x(curve) -> float:
    x, _y = curve.getData()
    return float(x[-1]) if x is not None and x.size else -1.0


def test_a_step_run_by_the_clock_is_drawn_one_chart_per_frame_and_every_chart_catches_up(window):
    window.open_builtin("vertical-4cpu")  # one node: the utilization chart has a curve
    charts = window.charts
    shown = {charts.throughput: charts.curves["served"], charts.latency: charts.curves["p50"],
             charts.utilization: charts.node_curves[0], charts.queue: charts.curves["queued"],
             charts.availability: charts.curves["availability"], charts.cost: charts.curves["cost"]}
    for _ in range(30):
        window.clock.tick(0.05)
    window.clock.tick(0.05)  # one more engine step: that frame draws at most one chart
    t = window.ctrl.t
    drawn = sum(last_x(curve) == t for curve in shown.values())
    assert drawn <= 1
    window.clock.set_running(False)  # from here on, frames without engine steps
    for frame in range(drawn + 1, len(shown) + 1):  # one chart each
        window.clock.frame_without_steps(CHART_EVERY_S)
        assert sum(last_x(curve) == t for curve in shown.values()) == frame
    window.clock.frame_without_steps(CHART_EVERY_S)
    assert all(last_x(curve) == t for curve in shown.values())
    window.ctrl.step_once()  # a step not run by the clock (paused, Ctrl+T) is drawn at once
    assert all(last_x(curve) == window.ctrl.t for curve in shown.values())


def test_boxes_follow_the_run_a_few_per_frame_and_a_failure_shows_in_its_frame(qtbot, qt_settings, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from app.windows.main_window import MainWindow

    base = resolve("gain-fault-tolerance")  # node-4 fails at 30 s
    nodes = base.nodes + [Node(name=f"extra-{i}", x=900.0, y=60.0 * i) for i in range(40)]
    win = MainWindow(base.model_copy(update={"nodes": nodes}), None, qt_settings, tmp_path)
    qtbot.addWidget(win)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    win.clock.set_speed(10.0)
    scene, ctrl = win.scene, win.ctrl
    k4 = ctrl.index_of(ctrl.id_by_name("node-4"))
    box4 = scene.items_by_id[ctrl.id_by_name("node-4")]
    while ctrl.node_states()[k4] != DOWN:
        assert ctrl.t < 31.0
        win.clock.tick(0.05)
    assert box4.state == DOWN  # in the frame whose steps failed it, not at its turn

    refreshed = []
    original = scene.refresh_live
    scene.refresh_live = lambda first=0, stop=None, **kw: (refreshed.append((stop or 0) - first),
                                                          original(first, stop, **kw))
    for _ in range(2):  # at 10x each frame runs steps: the boxes are refreshed in every other frame
        win.clock.tick(0.05)
    assert 0 < sum(refreshed) <= MAX_BOXES_PER_FRAME
    scene.refresh_live = original
    # frames without engine steps, BOX_REFRESH_S of them: every box shows the last step's figures
    for _ in range(round(BOX_REFRESH_S / FRAME_S) + 1):
        win.clock.frame_without_steps(FRAME_S)
    ids = ctrl.node_ids
    util = ctrl.history.recent_utilization(ids)
    items = scene.node_items()
    assert [round(item.utilization * 100) for item in items] == [round(u * 100) for u in util]
    assert [item.queue for item in items] == [int(q) for q in ctrl.last.queue]
    assert np.array_equal([item.state for item in items], ctrl.node_states())


def test_a_frame_repaints_a_chart_or_moves_the_dots_and_one_chart_waits_its_interval(window):
    window.clock.set_speed(10.0)
    for _ in range(40):
        window.clock.tick(FRAME_S)
    flow = window.scene.flow
    assert flow.dot_link.size > 0  # requests are on their way
    charts = window.charts
    drawn = []
    original = charts._draw
    charts._draw = lambda plot: (drawn.append(plot), original(plot))
    for _ in range(120):  # two wall seconds of frames
        before = flow.dot_progress.copy() if flow.dot_link.size else None
        count = len(drawn)
        window.clock.tick(FRAME_S)
        if before is not None and before.size and flow.dot_progress.size == before.size:
            moved = not np.array_equal(flow.dot_progress, before)
            assert moved == (len(drawn) == count)  # a chart drawn: the dots wait; else they move
    charts._draw = original
    assert drawn  # the charts followed the run
    for plot in set(drawn):  # each chart at most once per CHART_EVERY_S of wall time
        assert drawn.count(plot) <= 2 / CHART_EVERY_S + 1


def test_pausing_draws_what_the_last_frames_left_behind(window):
    window.explain.dock.show()
    window.clock.set_running(True)
    for _ in range(30):
        window.clock.tick(FRAME_S)
    window.clock.set_running(False)
    charts = window.charts
    assert not charts._behind and not window.explain.charts._due
    assert last_x(charts.curves["served"]) == window.ctrl.t == last_x(charts.curves["p99"])
