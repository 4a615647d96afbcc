"""The comparison view: the same traffic on both clusters, failures on both canvases, readouts = engines."""

from __future__ import annotations

import numpy as np
import pytest

from app.canvas.layout import boxes_overlap
from app.windows.compare import LESSONS, P99_ROWS, SCALING_LESSONS, CompareWindow, lesson_pair
from sim_core.engine.state import DOWN, UP
from sim_core.scenario_file import resolve

FAULT_TOLERANCE = 3  # index in LESSONS


@pytest.fixture
def compare(qtbot):
    view = CompareWindow()
    qtbot.addWidget(view)
    view.resize(1600, 1000)
    view.show()
    qtbot.waitExposed(view)
    return view


def record_snapshots(controller) -> list:
    """Every engine snapshot the controller emits from now on, in order."""
    snaps: list = []
    controller.stepped.connect(snaps.extend)
    return snaps


def run_until(view: CompareWindow, t_s: float) -> None:
    """Tick the comparison's clock (20x speed, 1 simulated second a tick) until both sides reach ``t_s``."""
    view.clock.BUDGET_S = 10.0  # no step dropped however loaded the machine: t lands on whole seconds
    view.clock.set_speed(20.0)
    view.clock.BUDGET_S = 10.0  # every tick runs all its steps, however busy the machine
    while view.horizontal.t < t_s - 1e-9:
        view.clock.tick(0.05)


def rate(snaps: list, name: str) -> float:
    """Requests/s of ``name`` over the last second, from the engine's own cumulative totals."""
    last = snaps[-1]
    before = next(s for s in reversed(snaps) if s.t <= last.t - 1.0 + 1e-9)
    return (getattr(last, f"{name}_total") - getattr(before, f"{name}_total")) / (last.t - before.t)


def check_readout(side, snaps: list) -> None:
    """Each figure the side's readout shows equals its engine's snapshot."""
    snap, numbers = snaps[-1], side.readout.numbers
    assert snap is side.ctrl.last
    for name in ("served", "rejected", "lost"):
        assert numbers[name] == pytest.approx(rate(snaps, name), abs=1e-9)
    assert numbers["lost_total"] == snap.lost_total
    assert numbers["availability"] == pytest.approx(snap.availability * 100.0)
    mean = snap.cost_total * 3600.0 / snap.t  # $/h over the run so far
    assert f"${snap.cost_per_hour:.4f}/h (mean {mean:.4f})" in side.title.text()  # the price is in the title
    if np.isnan(snap.latency_p99):
        assert np.isnan(numbers["p99"])
    else:
        assert numbers["p99"] == pytest.approx(snap.latency_p99 * 1e3)


def test_both_sides_get_the_same_arrivals_and_show_the_failure(compare):
    compare.lesson.setCurrentIndex(FAULT_TOLERANCE)
    vertical, horizontal = compare.vertical, compare.horizontal
    assert len(vertical.scenario.nodes) == 1 and len(horizontal.scenario.nodes) == 7
    [failure] = [e for e in horizontal.scenario.events if e.action == "fail"]
    failed_ids = [vertical.id_by_name(vertical.scenario.events[0].node), horizontal.id_by_name(failure.node)]
    snaps = [record_snapshots(vertical), record_snapshots(horizontal)]
    shown_lost = [[], []]
    for c, side in enumerate(compare.sides):
        side.ctrl.stepped.connect(lambda _s, c=c, side=side: shown_lost[c].append(side.readout.numbers["lost"]))

    run_until(compare, failure.at_s - 2.0)
    for side, node_id in zip(compare.sides, failed_ids, strict=True):
        assert side.scene.items_by_id[node_id].state == UP
        assert side.readout.numbers["lost_total"] == 0
    run_until(compare, failure.at_s + 6.0)

    # the same seed and workload: step by step, the same arrivals on both sides
    assert [s.t for s in snaps[0]] == [s.t for s in snaps[1]]
    assert [s.offered_total for s in snaps[0]] == [s.offered_total for s in snaps[1]]
    assert snaps[0][-1].offered_total > 100
    # the lesson's failure: DOWN in both engines and on both canvases, lost requests in both readouts
    for c, (side, node_id) in enumerate(zip(compare.sides, failed_ids, strict=True)):
        assert side.ctrl.node_state(node_id) == DOWN
        assert side.scene.items_by_id[node_id].state == DOWN
        assert side.readout.numbers["lost_total"] > 0
        assert max(shown_lost[c]) > 0
        check_readout(side, snaps[c])
    assert int((horizontal.session.sim.node_state == DOWN).sum()) == 1  # the other six keep serving
    assert compare.sides[0].readout.numbers["availability"] < 50 < compare.sides[1].readout.numbers["availability"]


def test_the_shared_throughput_range_keeps_the_lost_spike_in_view(compare):
    compare.lesson.setCurrentIndex(FAULT_TOLERANCE)
    run_until(compare, 40.0)
    plots = compare.charts.plots
    for row in plots:  # a row's charts share their y range, so heights compare
        assert row[0].viewRange()[1] == row[1].viewRange()[1]
    top = plots[0][0].viewRange()[1][1]
    for c in range(2):
        for key in ("offered", "served", "rejected", "lost"):
            _t, values = compare.charts.curves[c][key].getData()
            assert np.nanmax(values) <= top
    _t, lost = compare.charts.curves[0]["lost"].getData()
    assert np.nanmax(lost) > 20  # the single server's queue, lost at once
    x, served = compare.charts.curves[1]["served"].getData()
    assert x[-1] == pytest.approx(40.0) and served[-1] == pytest.approx(compare.sides[1].readout.numbers["served"])


def test_both_canvases_fit_their_views_at_a_readable_size(compare):
    compare.lesson.setCurrentIndex(FAULT_TOLERANCE)
    for side in compare.sides:
        view, items = side.view, side.scene.node_items()
        assert view.transform().m11() >= 0.9  # 11 px box text stays at least 10 px on screen
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        for item in [*items, side.scene.source, side.scene.balancer]:
            assert visible.contains(item.sceneBoundingRect())
        assert not boxes_overlap(np.array([(i.x(), i.y()) for i in items]), (items[0].w, items[0].h))
    # positions are display-only: the scenario keeps its own, and a box cannot be dragged into it
    horizontal = compare.horizontal.scenario
    _v, original = lesson_pair(*LESSONS[FAULT_TOLERANCE][1:])
    assert [(n.x, n.y) for n in horizontal.nodes] == [(n.x, n.y) for n in original.nodes]
    assert not any(item.flags() & item.GraphicsItemFlag.ItemIsMovable for item in compare.sides[1].scene.node_items())


def test_each_lesson_pairs_existing_scenarios():
    for _title, vertical_name, horizontal_name in LESSONS:
        vertical, horizontal = lesson_pair(vertical_name, horizontal_name)
        assert [e.at_s for e in vertical.events] == [e.at_s for e in horizontal.events]
        assert vertical.workload == horizontal.workload
        assert vertical.seed == horizontal.seed


def test_one_dot_scale_legends_outside_and_seconds_on_the_time_axes(compare):
    compare.lesson.setCurrentIndex(0)  # 50 req/s on one server against seven
    run_until(compare, 10.0)
    scales = [side.scene.flow.per_dot for side in compare.sides]
    assert scales[0] == scales[1] > 1  # the same traffic, drawn with the same dots
    assert all(f"each dot = {scales[0]} requests" in side.scene.source.lines[1] for side in compare.sides)
    for row in compare.charts.plots:
        for plot in row:
            assert plot.legend is None
            axis = plot.getAxis("bottom")
            if axis.isVisible():
                assert axis.labelUnits == "s" and not axis.autoSIPrefix  # never "ms" on one side
    assert "offered" in compare.charts.plots[0][0].titleLabel.text


WAVES = ("wave-fixed-7x1", "wave-autoscaled", "wave-vertical")


def test_the_lesson_list_pairs_the_three_daily_waves_every_way():
    pairs = {frozenset(pair[1:]) for pair in SCALING_LESSONS}
    assert {frozenset((a, b)) for a in WAVES for b in WAVES if a != b} <= pairs


@pytest.mark.parametrize(("left", "right"), [("wave-vertical", "wave-autoscaled"), ("wave-fixed-7x1", "wave-vertical"),
                                             ("vertical-1cpu", "gain-concurrency")])
def test_any_two_scenarios_side_by_side_show_p99_and_cost_per_hour(compare, left, right):
    compare.show_pair(resolve(left), resolve(right))
    snaps = [record_snapshots(compare.vertical), record_snapshots(compare.horizontal)]
    run_until(compare, 50.0)  # past the vertical autoscaler's resizes at 15 and 45 s
    if left.startswith("wave"):  # the three waves share their traffic and seed: the same requests
        assert [s.offered_total for s in snaps[0]] == [s.offered_total for s in snaps[1]]
    for c, side in enumerate(compare.sides):
        assert side.ctrl.scenario.name == (left, right)[c]
        check_readout(side, snaps[c])
        assert side.readout.heads["p99"].text() == "p99 (ms)" and "p95" not in side.readout.labels
    if left == "wave-vertical":  # resized 1 -> 2 -> 4 CPU: its price moved, so its mean is below its price now
        title = compare.sides[0].title.text()
        assert "$0.0464/h (mean 0.0" in title and "(mean 0.0464)" not in title


def test_on_a_tall_screen_the_latency_chart_is_the_p99(qtbot, monkeypatch):
    import app.windows.compare as compare_module

    monkeypatch.setattr(compare_module, "TALL_SCREEN_PX", 0)  # the offscreen screen is 800 px tall
    view = CompareWindow()
    qtbot.addWidget(view)
    view.show_pair(resolve("wave-vertical"), resolve("wave-autoscaled"))
    run_until(view, 20.0)
    assert view.charts.rows == P99_ROWS and "p99" in view.charts.plots[1][0].titleLabel.text
    for c, ctrl in enumerate((view.vertical, view.horizontal)):
        t, drawn = view.charts.curves[c]["p99"].getData()
        assert t[-1] == pytest.approx(20.0) and drawn[-1] == pytest.approx(ctrl.history.last("p99_ms"))


def test_the_picker_puts_any_two_builtins_side_by_side_and_keeps_the_clock_running(compare, qtbot):
    from PySide6.QtCore import Qt

    compare.clock.set_running(True)
    left, right = compare.picks
    left.setCurrentText("wave-vertical")
    right.setCurrentText("challenge-3-survive-failures")
    show = next(b for b in compare.findChildren(type(compare.play)) if b.text() == "Show these two")
    qtbot.mouseClick(show, Qt.MouseButton.LeftButton)
    assert [side.ctrl.scenario.name for side in compare.sides] == [resolve("wave-vertical").name,
                                                                    resolve("challenge-3-survive-failures").name]
    assert compare.vertical.scenario.seed == compare.horizontal.scenario.seed
    assert compare.clock.running
    assert compare.vertical.session.t == 0.0
