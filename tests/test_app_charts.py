"""Charts a visitor can read: the heat strip follows the canvas, axes start where the data does, no legend on curves."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from app.charts.heatstrip import FAILED_RGB, BinnedUtilization, canvas_order, heat_rgb, smoothed
from app.panels.watch import watched
from app.windows.main_window import MainWindow
from sim_core.engine.state import DOWN, RESTARTING, UP
from sim_core.scenario_file import resolve


@pytest.fixture
def window(qtbot, qt_settings, tmp_path):
    win = MainWindow(resolve("horizontal-7x1"), None, qt_settings, tmp_path / "autosave")
    (tmp_path / "autosave").mkdir(exist_ok=True)
    qtbot.addWidget(win)
    win.resize(1366, 740)
    win.show()
    qtbot.waitExposed(win)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    return win


def run(win: MainWindow, seconds: float, tick_s: float = 0.05) -> None:
    for _ in range(round(seconds / tick_s)):
        win.clock.tick(tick_s)


def test_heat_strip_rows_follow_the_canvas_column_by_column_top_to_bottom_with_names(window):
    strip = window.charts.strip
    assert strip.mode == "rows"
    nodes = window.ctrl.scenario.nodes
    assert len({n.x for n in nodes}) == 2  # the default scenario's two columns of boxes
    top_down = [n.name for n in sorted(nodes, key=lambda n: (n.x, n.y))]
    names = [n.name for n in nodes]
    assert [names[i] for i in strip.order] == top_down
    ticks = window.charts.utilization.getAxis("left")._tickLevels[0]
    assert [text for _pos, text in ticks] == top_down
    assert window.charts.utilization.vb.yInverted()  # row 0 (the top box) drawn at the top


def test_a_failed_node_is_not_idle_green_in_the_heat_strip(window):
    window.clock.set_speed(10.0)
    run(window, 1.0)
    node_id = window.ctrl.id_by_name("node-3")
    window.ctrl.toggle_node(node_id)
    run(window, 1.0)
    image = window.charts.strip.image.image  # (rows, columns, 3)
    row = list(window.charts.strip.order).index(window.ctrl.index_of(node_id))
    assert tuple(image[row, -1]) == FAILED_RGB
    assert tuple(image[row, 0]) != FAILED_RGB  # before the failure it showed its utilization
    assert tuple(image[(row + 1) % 7, -1]) != FAILED_RGB


def test_bins_average_the_steps_and_keep_the_worst_state():
    bins = BinnedUtilization(2)
    for k in range(40):  # 2 s of 0.05 s steps
        util = np.array([k % 2, 0.5])  # node 0 flickers 0/1 from step to step
        state = np.array([UP, RESTARTING if k == 5 else UP])
        bins.add(0.05 * (k + 1), 0.05, util, state)
    assert bins.t.size == 2
    assert bins.util[:, 0] == pytest.approx([0.5, 0.5])  # the flicker averages out
    assert list(bins.state[:, 1]) == [1, 0]
    assert smoothed(np.array([[0.0], [1.0], [1.0]]), 2)[:, 0] == pytest.approx([0.0, 0.5, 1.0])
    assert heat_rgb(np.array([0.0]))[0, 1] > heat_rgb(np.array([1.0]))[0, 1]  # greener when idle


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bins_made_at_once_from_steps_equal_those_made_step_by_step(seed):
    rng = np.random.default_rng(seed)
    dt = rng.uniform(0.01, 0.4, 300)  # uneven steps, as the window's clock makes them
    t = np.cumsum(dt)
    util = rng.uniform(0, 1, (300, 3))
    state = rng.choice([UP, DOWN, RESTARTING], (300, 3), p=[0.8, 0.1, 0.1]).astype(np.int8)
    for cut in (300, 211):  # the last bin closed or still open
        live = BinnedUtilization(3, capacity=20)
        for k in range(cut):
            live.add(t[k], dt[k], util[k], state[k])
        once = BinnedUtilization.from_steps(t[:cut], dt[:cut], util[:cut], state[:cut], capacity=20)
        for k in range(cut, 300):  # and both go on alike
            live.add(t[k], dt[k], util[k], state[k])
            once.add(t[k], dt[k], util[k], state[k])
        assert np.array_equal(once.t, live.t)
        assert np.allclose(once.util, live.util) and np.array_equal(once.state, live.state)


def test_after_a_jump_the_heat_strip_shows_that_moments_past(window):
    window.clock.set_speed(10.0)
    run(window, 3.0)  # 30 simulated seconds
    window.ctrl.toggle_node(window.ctrl.id_by_name("node-3"))
    run(window, 1.0)
    strip = window.charts.strip
    before = {"t": strip.bins.t.copy(), "util": strip.bins.util.copy(), "state": strip.bins.state.copy()}
    window.ctrl.jump(20.0)
    keep = before["t"] <= window.ctrl.t + 1e-9
    assert strip.bins.t.size >= 15  # not an empty strip
    assert np.array_equal(strip.bins.t, before["t"][keep])
    assert np.allclose(strip.bins.util, before["util"][keep])
    assert np.array_equal(strip.bins.state, before["state"][keep])
    window.ctrl.jump(window.ctrl.session.head_t)  # back to the newest moment: the failure shows again
    assert np.array_equal(strip.bins.t, before["t"][-strip.bins.t.size:])
    assert (strip.bins.state == 2).any()


def test_canvas_order_goes_down_each_column_then_right():
    xy = np.array([(400.0, 0.0), (100.0, 50.0), (100.0, -50.0), (400.0, -60.0)])
    assert list(canvas_order(xy)) == [2, 1, 3, 0]


def test_chart_axes_start_with_the_data_and_legends_stay_out_of_the_plots(window):
    run(window, 3.0)
    left = [plot.vb.viewRange()[0][0] for plot in window.charts.plots]
    assert max(left) == pytest.approx(0.0, abs=1e-6)  # every chart shows t = 0, the availability one too
    widths = {round(plot.vb.sceneBoundingRect().width()) for plot in window.charts.plots}
    lefts = {round(plot.vb.sceneBoundingRect().left()) for plot in window.charts.plots[::window.charts.columns]}
    assert len(lefts) == 1 and len(widths) == 1  # x-linked charts line up on screen
    assert all(plot.legend is None for plot in window.charts.plots)
    assert "offered" in window.charts.throughput.titleLabel.text
    rates = window.ctrl.history.rates()["offered"]
    t = window.ctrl.history.column("t")
    assert np.isnan(rates[t < 1.0 - 1e-9]).all() and np.isfinite(rates[t >= 1.0]).all()


def test_an_empty_queue_chart_starts_at_zero(window):
    run(window, 0.2)
    window.charts.refresh()  # the clock's frames draw one chart each: draw all of them now
    low, high = window.charts.queue.viewRange()[1]
    assert low == 0 and high >= 5


def test_what_to_watch_shows_the_description_and_the_scenarios_figures(window):
    assert window.watch.description.text() == window.ctrl.scenario.description
    window.open_builtin("gain-concurrency")
    assert window.watch.keys == ("in_flight", "rejected")
    window.ctrl.advance(31.5, 630)  # the burst arrived at 30 s
    assert window.watch.numbers["in_flight"] == window.ctrl.last.in_system > 20
    assert "In flight" in window.watch.values["in_flight"].text()
    window.open_builtin("gain-fault-tolerance")
    assert window.watch.keys == ("availability", "lost_total")
    window.watch.toggle.click()
    assert not window.watch.body.isVisible()


def test_watched_figures_follow_what_the_scenario_does():
    assert watched(resolve("gain-scalability")) == ("offered", "served")
    assert watched(resolve("vertical-1cpu")) == ("served", "rejected")


def test_two_hundred_nodes_route_arrows_around_boxes(qtbot, qt_settings, tmp_path):
    from benchmarks.ui import big_scenario

    win = MainWindow(big_scenario(200), None, qt_settings, tmp_path)
    qtbot.addWidget(win)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    routes = win.scene.links.routes[1:]
    items = win.scene.node_items()
    w, h = items[0].w, items[0].h
    centres = np.array([(it.x(), it.y()) for it in items])
    for route in routes[::17]:  # every segment stays out of every box
        for a, b in zip(route[:-1], route[1:], strict=True):
            pts = a + (b - a) * np.linspace(0, 1, 25)[:, None]
            inside = (np.abs(pts[:, None, 0] - centres[None, :, 0]) < w / 2 - 1) & (
                np.abs(pts[:, None, 1] - centres[None, :, 1]) < h / 2 - 1)
            assert not inside.any()
    assert DOWN != UP


def test_the_distribution_is_numpys_percentiles_over_the_nodes_that_are_up():
    from app.charts.heatstrip import distribution

    rng = np.random.default_rng(1)
    values, up = rng.random((6, 50)), rng.random((6, 50)) < 0.8
    up[2] = False  # every node down in one bin
    stats = distribution(values, up)
    for row in (0, 1, 3, 5):
        shown = values[row][up[row]]
        assert stats["min"][row] == shown.min() and stats["max"][row] == shown.max()
        assert stats["median"][row] == pytest.approx(np.median(shown))
        assert stats["p90"][row] == pytest.approx(np.percentile(shown, 90))
    assert np.isnan(stats["median"][2])


def test_a_scripted_failure_gets_a_marker_with_a_tooltip_clear_of_the_legend(window):
    window.open_builtin("gain-fault-tolerance")
    window.ctrl.advance(31.0, 620)
    marks = [m for m in window.charts.markers if m.value() == pytest.approx(30.0)]
    assert marks and "node-4" in marks[0].toolTip()
    assert window.charts.throughput.legend is None  # the legend is in the title, not over the markers


def test_markers_already_drawn_are_kept_when_the_timeline_grows(window):
    node_id = window.ctrl.id_by_name("node-2")
    for _ in range(3):
        window.ctrl.advance(1.0, 20)
        window.ctrl.toggle_node(node_id)
    before = list(window.charts.markers)
    assert len(before) == 3
    window.ctrl.advance(1.0, 20)
    window.ctrl.toggle_node(node_id)
    assert window.charts.markers[:3] == before and len(window.charts.markers) == 4  # one line made, none remade
    assert "node-2" in window.charts.markers[-1].toolTip()
