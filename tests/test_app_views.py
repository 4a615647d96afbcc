"""The comparison view, big clusters on the canvas, the history buffers and the PySide6 guard."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from app.compare import LESSONS, CompareWindow, lesson_pair
from app.history import History
from app.layout import COMPACT_BOX, boxes_overlap, grid_positions
from app.window import MainWindow
from sim_core.engine import DOWN, Simulation
from sim_core.scenario import Node, Scenario, resolve


def test_comparison_runs_both_clusters_on_the_same_traffic(qtbot):
    view = CompareWindow()
    qtbot.addWidget(view)
    view.show()
    view.lesson.setCurrentIndex(3)  # fault tolerance
    vertical, horizontal = view.vertical, view.horizontal
    assert len(vertical.scenario.nodes) == 1 and len(horizontal.scenario.nodes) == 7
    assert vertical.scenario.workload == horizontal.scenario.workload
    assert vertical.scenario.seed == horizontal.scenario.seed
    view.clock.set_speed(20.0)
    for _ in range(40):  # 40 s of simulated time, past the failure at 30 s
        view.clock.tick(0.05)
    assert vertical.sim.t == horizontal.sim.t == pytest.approx(40.0)
    # the same seed and workload: the same arrivals on both sides
    assert vertical.last.offered_total == horizontal.last.offered_total
    # the lesson's failure hit both; the single server leaves nothing up, the cluster six
    assert vertical.sim.node_state[0] == DOWN
    assert int((horizontal.sim.node_state == DOWN).sum()) == 1
    assert view.sides[0].readout.numbers["availability"] < 50 < view.sides[1].readout.numbers["availability"]
    # charts of a row share their y axis, so the heights compare
    left, right = view.charts.plots[0]
    assert left.viewRange()[1] == right.viewRange()[1]
    x, served = view.charts.curves[1]["served"].getData()
    assert x[-1] == pytest.approx(40.0) and served[-1] == pytest.approx(view.sides[1].readout.numbers["served"])


def test_each_lesson_pairs_existing_scenarios():
    for _title, vertical_name, horizontal_name in LESSONS:
        vertical, horizontal = lesson_pair(vertical_name, horizontal_name)
        assert [e.at_s for e in vertical.events] == [e.at_s for e in horizontal.events]
        assert vertical.workload == horizontal.workload


def test_two_hundred_nodes_get_compact_boxes_a_grid_and_a_heat_strip(qtbot, qt_settings, tmp_path):
    base = resolve("horizontal-7x1")
    nodes = [Node(name=f"n{i}") for i in range(200)]  # all at (0, 0): the window spreads them out
    big = base.model_copy(update={"nodes": nodes})
    win = MainWindow(big, None, qt_settings, tmp_path)
    qtbot.addWidget(win)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    win.show()
    items = win.scene.node_items()
    assert len(items) == 200 and all(item.compact for item in items)
    xy = np.array([(item.x(), item.y()) for item in items])
    assert not boxes_overlap(xy, COMPACT_BOX)
    for _ in range(20):
        win.clock.tick(0.05)
    assert win.charts.heat.isVisible() and not win.charts.node_curves
    image = win.charts.heat.image
    assert image.shape[1] == 200 and np.nanmax(image) > 0


def test_grid_positions_do_not_overlap():
    for n in (1, 25, 199, 1000):
        assert not boxes_overlap(grid_positions(n), COMPACT_BOX if n >= 25 else (216.0, 104.0))


def test_history_rates_are_the_engine_counts_over_the_last_second():
    sim = Simulation(resolve("vertical-2cpu"))
    history = History(1, capacity=64)  # small, so the ring wraps
    snaps = []
    for _ in range(200):
        snaps.append(sim.step(0.05))
        history.append(snaps[-1])
    t = history.column("t")
    assert t.size == 64 and np.all(np.diff(t) > 0) and t[-1] == pytest.approx(10.0)
    rates = history.rates()["served"]
    for i in (-1, -7, -30):
        snap = snaps[i]
        past = snaps[i - 20]  # 20 steps of 0.05 s = 1 s earlier
        assert rates[i] == pytest.approx((snap.served_total - past.served_total) / 1.0)
    util = history.smoothed_utilization(60)
    expected = np.mean([s.utilization[0] for s in snaps[-20:]])
    assert util[-1, 0] == pytest.approx(expected)


def test_the_installed_pyside6_survives_many_signals():
    # PySide6 6.12.0 on Python 3.11 drops a reference to True per signal and aborts the
    # interpreter after a few thousand; pyproject.toml excludes it, and this catches a relapse
    code = (
        "from PySide6.QtCore import QCoreApplication, QObject, Signal\n"
        "class A(QObject):\n"
        "    s = Signal(object)\n"
        "qapp = QCoreApplication([])\n"
        "a = A(); a.s.connect(lambda x: None)\n"
        "for i in range(50000):\n"
        "    a.s.emit(i)\n"
        "    a.property('unset')\n"
        "print('done')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "done"


def test_new_scenario_is_valid():
    from app.window import new_scenario

    assert isinstance(new_scenario(), Scenario)
