"""Random failures (mtbf_s/mttr_s), availability in nines, k-of-N, and the blast radius of a failure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim_core.engine import failures
from sim_core.engine.simulation import Simulation
from sim_core.engine.state import UP
from sim_core.scenario import ScenarioError
from sim_core.scenario_file import resolve, validate_data
from sim_core.theory import availability, confidence


def test_node_and_cluster_formulas():
    assert availability.node_availability(300.0, 30.0, 10.0) == pytest.approx(300 / 340)
    assert availability.node_availability(None, None) == 1.0
    assert availability.k_of_n(1, 1, 0.9) == pytest.approx(0.9)
    assert availability.k_of_n(2, 3, 0.9) == pytest.approx(3 * 0.81 * 0.1 + 0.729)
    assert availability.nines(0.999) == pytest.approx(3.0)
    assert math.isinf(availability.nines(1.0))
    assert availability.downtime_per_year_s(0.999) == pytest.approx(0.001 * 365.25 * 86400)
    assert availability.nodes_needed(10.0, 25.0) == 3
    assert availability.nodes_needed(10.0, 30.0) == 4  # exactly full is not enough: the queue would grow


def test_capacity_convolution_equals_the_binomial_for_identical_nodes_and_handles_mixed_ones():
    p = np.full(7, 0.88)
    assert availability.capacity_available(p, np.full(7, 10.0), 25.0) == pytest.approx(availability.k_of_n(3, 7, 0.88))
    # a 4-core node (40) and two 1-core nodes (10 each) at 45 req/s: the big one must be up and a small one
    mixed = availability.capacity_available(np.array([0.9, 0.8, 0.7]), np.array([40.0, 10.0, 10.0]), 45.0)
    assert mixed == pytest.approx(0.9 * (1 - 0.2 * 0.3))


def test_failures_need_both_fields_and_stay_out_of_files_without_them():
    with pytest.raises(ScenarioError, match=r"nodes\[0\]\.mttr_s: missing"):
        validate_data({"nodes": [{"name": "a", "mtbf_s": 100.0}]})
    with pytest.raises(ScenarioError, match=r"nodes\[0\]\.mttr_s: 0 is not in 0.001..10000000"):
        validate_data({"nodes": [{"name": "a", "mtbf_s": 100.0, "mttr_s": 0}]})
    assert "mtbf_s" not in resolve("horizontal-7x1").nodes[0].model_dump()


def test_same_seed_same_failures_keyed_by_name_and_arrivals_untouched():
    sc = resolve("nines-7x1cpu")
    first = failures.failure_events(sc, 3, 0.0, 5000.0)
    assert first == failures.failure_events(sc, 3, 0.0, 5000.0)
    assert first != failures.failure_events(sc, 4, 0.0, 5000.0)
    reordered = sc.model_copy(update={"nodes": sc.nodes[::-1]})
    assert failures.failure_events(reordered, 3, 0.0, 5000.0) == first
    # drawing further ahead does not change the earlier failures
    short = failures.failure_times(3, "node-1", 300.0, 30.0, 10.0, 16)
    assert np.array_equal(failures.failure_times(3, "node-1", 300.0, 30.0, 10.0, 256)[:16], short)
    # the same arrivals with and without random failures
    plain = resolve("horizontal-7x1").model_copy(update={"workload": sc.workload})
    with_failures, without = Simulation(sc, seed=3), Simulation(plain, seed=3)
    with_failures.step(2000.0)
    without.step(2000.0)
    assert with_failures.state.offered == without.state.offered and with_failures.state.lost > 0


def test_failure_events_are_each_nodes_failures_merged_in_time_order():
    """The merged schedule gives, for any window, exactly what each node's own failure times give,
    also far past the first batch drawn (the schedule is drawn further ahead as the run goes)."""
    sc = resolve("nines-7x1cpu")
    for t0, t1 in ((0.0, 700.0), (650.0, 9000.0), (4.0e5, 4.2e5)):
        expected = []
        for node in sc.nodes:
            times = failures.failure_times(2, node.name, node.mtbf_s, node.mttr_s, node.restart_s, 1 << 14)
            assert times[-1, 1] > t1
            for column, action in ((0, "fail"), (1, "recover")):
                expected += [(float(t), column, action, node.name) for t in times[:, column] if t0 <= t < t1]
        expected.sort(key=lambda e: (e[0], e[1]))
        got = [(e.at_s, 0 if e.action == "fail" else 1, e.action, e.node)
               for e in failures.failure_events(sc, 2, t0, t1)]
        assert got == expected and len(got) > 0


def test_failures_alternate_with_repair_and_restart():
    times = failures.failure_times(1, "n", 100.0, 10.0, 5.0, 2000)
    up = times[1:, 0] - times[:-1, 1] - 5.0
    down = times[:, 1] - times[:, 0]
    assert np.all(up > 0) and np.all(down > 0)
    assert up.mean() == pytest.approx(100.0, rel=0.1) and down.mean() == pytest.approx(10.0, rel=0.1)


def run_states(name: str, seconds: float, dt: float, seed: int = 5):
    sim = Simulation(resolve(name), seed=seed)
    states = []
    for _ in range(int(seconds / dt)):
        snap = sim.step(dt)
        states.append(snap.state == UP)
    return sim, snap, np.array(states)


@pytest.mark.parametrize("name", ["nines-1x4cpu", "nines-7x1cpu"])
def test_long_run_availability_is_within_its_confidence_interval_of_the_prediction(name):
    report = availability.predict_availability(resolve(name))
    seconds = 24_000.0  # about 70 failure cycles per node (accelerated)
    sim, snap, up = run_states(name, seconds, dt=30.0)
    carried = availability.time_share_available(up, report.capacity_rps, report.load_rps)
    cluster = confidence.batch_means(carried, 20, 0.999)
    per_node = confidence.batch_means(up.mean(axis=1), 20, 0.999)
    assert cluster.covers(report.cluster), (cluster, report.cluster)
    assert per_node.covers(float(report.node[0])), (per_node, report.node)


def test_the_single_server_loses_its_share_until_the_health_check_per_failure():
    sc = resolve("nines-1x4cpu")
    report = availability.predict_availability(sc)
    # in the node (Little) plus 25 req/s for the 3 s health check
    assert report.lost_per_failure[0] == pytest.approx(75.0 + 25.0 * 0.10404, rel=0.01)
    assert report.blast_share[0] == 1.0
    sim = Simulation(sc, seed=7)
    lost, count = [], []
    for _ in range(20):
        before_t, before_lost = sim.t, sim.state.lost
        sim.step(1500.0)
        node = sc.nodes[0]
        times = failures.failure_times(7, node.name, node.mtbf_s, node.mttr_s, node.restart_s, 1024)[:, 0]
        count.append(np.count_nonzero((times >= before_t) & (times < sim.t)))
        lost.append(sim.state.lost - before_lost)
    per_failure = confidence.batch_means_of_sums(np.array(lost), np.array(count), 20, 0.999)
    assert per_failure.covers(float(report.lost_per_failure[0])), (per_failure, report.lost_per_failure)


def test_seven_small_nodes_have_a_smaller_blast_radius_and_more_nines():
    big = availability.predict_availability(resolve("nines-1x4cpu"))
    small = availability.predict_availability(resolve("nines-7x1cpu"))
    assert (small.k, small.n) == (3, 7)
    assert small.nines > big.nines + 2
    assert small.blast_share.max() == pytest.approx(1 / 7)
    assert small.lost_per_failure.max() < big.lost_per_failure.max() / 5
