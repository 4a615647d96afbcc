"""The history buffers behind the charts (per step) and their per-node columns kept by node id."""

from __future__ import annotations

import numpy as np
import pytest

from sim_core.engine.simulation import Simulation
from sim_core.metrics import History
from sim_core.scenario_file import resolve


def test_history_rates_are_the_engine_counts_over_the_last_second():
    sim = Simulation(resolve("vertical-2cpu"))
    history = History(capacity=64)  # small, so the ring wraps
    snaps = []
    for _ in range(200):
        snaps.append(sim.step(0.05))
        history.append(snaps[-1], [0])
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


def test_history_keeps_per_node_columns_by_id_and_frees_them_when_they_scroll_out():
    sim = Simulation(resolve("horizontal-7x1"))
    history = History(capacity=1024)
    ids = list(range(7))
    for _ in range(20):
        history.append(sim.step(0.05), ids)
    sim.remove_node(2)
    ids.remove(2)
    for _ in range(20):
        history.append(sim.step(0.05), ids)
    assert history.node_ids == list(range(7))  # the removed node's row stays
    util = history.utilization()
    assert np.isnan(util[20:, 2]).all() and not np.isnan(util[:20, 2]).any()
    for _ in range(1024):  # its values scroll out: a new node takes its column
        history.append(sim.step(0.05), ids)
    sim.add_node(sim.scenario.nodes[0].model_copy(update={"name": "new"}))
    history.append(sim.step(0.05), [*ids, 9])
    assert history.node_ids[2] == 9 and len(history.node_ids) == 7


def test_history_limit_hides_later_samples_and_truncate_drops_them():
    sim = Simulation(resolve("vertical-1cpu"))
    history = History(capacity=64)
    for _ in range(100):
        history.append(sim.step(0.1), [0])
    t = history.column("t").copy()
    history.set_limit(t[40])
    assert history.size == 41 and history.column("t")[-1] == t[40]
    history.set_limit(float("inf"))
    assert history.size == 64
    history.set_limit(t[40])
    history.truncate()
    history.append(sim.step(0.1), [0])
    assert history.size == 42 and np.array_equal(history.column("t")[:41], t[:41])


def test_rates_are_shown_after_the_first_second_whatever_the_step_sizes():
    # the window's steps follow wall time: a second's worth of them rarely ends exactly 1 s back
    sim = Simulation(resolve("horizontal-7x1"))
    history = History(capacity=256)
    k = 0
    while sim.t < 4.0:
        history.append(sim.step(0.05 * (1 + 0.37 * (k % 3))), list(range(7)))
        k += 1
    t, served = history.column("t"), history.rates()["served"]
    assert np.isnan(served[t < 1.0 - 1e-9]).all() and np.isfinite(served[t >= 1.0]).all()


def test_clearing_a_history_forgets_everything_and_an_empty_one_stays_as_new():
    sim = Simulation(resolve("horizontal-7x1"))
    history = History(capacity=64)
    data = history._data
    history.clear()  # nothing stored yet: kept as it is (start-up clears the history it just made)
    assert history._data is data and history.size == 0
    for _ in range(100):
        history.append(sim.step(0.05), list(range(7)))
    history.set_limit(2.0)
    history.clear()
    assert history.size == 0 and history.node_ids == [] and history._data is not data
    assert np.isnan(history._data).all() and history.capacity == 64
    history.append(sim.step(0.05), list(range(10, 17)))
    assert history.size == 1 and history.node_ids == list(range(10, 17)) and history.last("t") == pytest.approx(5.05)
