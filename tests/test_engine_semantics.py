"""The engine's rules for failures, health checks, restarts, resizes, capacity, storage and edits."""

from __future__ import annotations

import numpy as np
import pytest

from sim_core.engine.simulation import Simulation
from sim_core.engine.state import DOWN, LOST, REJECTED, RESTARTING, SERVED, UP
from sim_core.engine.trace import Trace, load_trace
from sim_core.scenario import Balancer, Node, ScenarioError
from sim_core.scenario_file import validate_data


def scenario(n=3, cores=1, ram_gb=64.0, rate=10.0, cpu_ms=100.0, policy="round_robin", hc=2.0, restart=5.0,
             memory_mb=1.0, data_kb=0.0, storage_gb=500.0, events=()):
    return validate_data({
        "nodes": [{"name": f"n{i}", "cores": cores, "ram_gb": ram_gb, "restart_s": restart, "storage_gb": storage_gb}
                  for i in range(n)],
        "balancer": {"policy": policy, "health_check_s": hc},
        "workload": {"rate": rate, "max_rate": max(rate, 1.0), "cpu_time_ms": cpu_ms, "memory_mb": memory_mb,
                     "data_kb": data_kb},
        "events": list(events),
    })


def conserved(sim: Simulation, snap) -> bool:
    return snap.offered_total == snap.served_total + snap.rejected_total + snap.lost_total + snap.in_system


def test_same_seed_same_numbers_and_other_seed_differs():
    runs = []
    for seed in (7, 7, 8):
        sim = Simulation(scenario(rate=20), seed=seed)
        runs.append([(s.offered_total, s.served_total, s.latency_p99) for s in sim.run(20, dt=0.1)])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_failure_loses_in_flight_and_traffic_until_health_check_then_stops_routing():
    sim = Simulation(scenario(n=3, rate=24, cpu_ms=100, hc=2.0), seed=1, record=True)
    for _ in sim.run(30, dt=0.5):
        pass
    in_node = int(sim.step(1e-9).in_flight[1])
    t_fail = sim.t
    sim.fail(1)
    assert sim.node_state[1] == DOWN
    snaps = list(sim.run(10, dt=0.25))
    log = sim.request_log()
    lost = log.outcome == LOST
    # lost: exactly the requests that were in node 1 at the failure, plus those sent to it
    # from the failure until the balancer's health check noticed it, 2 s later
    sent_blind = (log.node == 1) & (log.arrival >= t_fail) & (log.arrival < t_fail + 2.0)
    was_inside = (log.node == 1) & (log.arrival < t_fail) & (log.departure > t_fail)
    assert in_node > 0
    assert np.array_equal(lost, sent_blind | was_inside)
    assert int(was_inside.sum()) == in_node
    assert snaps[-1].lost_total == int(lost.sum())
    # after detection nothing is routed to node 1 and the others carry all the traffic
    assert not np.any((log.node == 1) & (log.arrival >= t_fail + 2.0))
    after = [s for s in snaps if s.t > t_fail + 2.0 + 1e-9]
    assert all(s.node_offered[1] == 0 and s.lost == 0 for s in after)
    assert all(conserved(sim, s) for s in snaps)


def test_recover_restarts_empty_then_rejoins_after_health_check():
    sim = Simulation(scenario(n=2, rate=10, hc=1.0, restart=3.0), seed=2)
    list(sim.run(5, dt=0.5))
    sim.fail(0)
    list(sim.run(2, dt=0.5))  # detected at t = 6
    t_recover = sim.t
    sim.recover(0)
    assert sim.node_state[0] == RESTARTING
    list(sim.run(2.9, dt=0.1))
    assert sim.node_state[0] == RESTARTING
    snap = sim.step(0.2)  # up at t_recover + 3
    assert snap.state[0] == UP and snap.node_offered[0] == 0  # not yet re-admitted by the balancer
    snaps = list(sim.run(3, dt=0.5))  # re-admitted at t_recover + 3 + 1
    assert sim.t > t_recover + 4
    assert snaps[-1].node_offered[0] > 0


def test_toggle_fails_then_recovers():
    sim = Simulation(scenario(n=2), seed=1)
    sim.step(1)
    sim.toggle(1)
    assert sim.node_state[1] == DOWN
    sim.toggle(1)
    assert sim.node_state[1] == RESTARTING


def test_scenario_events_fail_and_recover_on_time():
    events = [{"at_s": 3.0, "action": "fail", "node": "n1"}, {"at_s": 8.0, "action": "recover", "node": "n1"}]
    sim = Simulation(scenario(n=2, events=events, restart=1.0, hc=0.5), seed=4)
    states = {round(s.t, 2): int(s.state[1]) for s in sim.run(12, dt=0.5)}
    # an event at a step's end happens at the start of the next step, as a user's click does
    assert states[3.0] == UP and states[3.5] == DOWN and states[8.0] == DOWN
    assert states[8.5] == RESTARTING and states[9.0] == UP


def test_resize_restarts_the_node_with_its_new_cores():
    events = [{"at_s": 5.0, "action": "resize", "node": "n0", "cores": 4, "ram_gb": 4.0}]
    document = scenario(n=1, rate=15, cpu_ms=100, events=events, restart=2.0, hc=0.5)
    sim = Simulation(document, seed=3)
    snaps = list(sim.run(30, dt=0.5))
    assert sim.params.cores[0] == 4
    during = [s for s in snaps if 5.0 < s.t <= 7.5]
    assert all(s.served == 0 for s in during[1:])  # nothing served while it restarts
    assert all(s.rejected > 0 for s in during)  # no node in rotation: the balancer answers 503
    assert snaps[-1].utilization[0] < 0.6  # 15 req/s on 4 cores of 10 req/s each
    assert sim.scenario.nodes[0].cores == 4  # the run's view of the node changed
    assert document.nodes[0].cores == 1  # the scenario it started from did not


def test_ram_caps_in_flight_requests_and_rejects_the_rest():
    # 1 GB / 100 MB per request = 10 requests at most in the node; offered 3x what it serves
    sim = Simulation(scenario(n=1, ram_gb=1.0, memory_mb=100.0, rate=30, cpu_ms=100), seed=5)
    snaps = list(sim.run(60, dt=0.5))
    assert max(int(s.in_flight.max()) for s in snaps) == 10
    assert snaps[-1].rejected_total > 0.5 * snaps[-1].offered_total
    assert all(conserved(sim, s) for s in snaps)


def test_full_storage_rejects_writes():
    # 1 GB holds 1e6 KB = 100 requests of 10,000 KB
    sim = Simulation(scenario(n=1, storage_gb=1.0, data_kb=10_000.0, rate=20, cpu_ms=1), seed=6)
    snaps = list(sim.run(20, dt=1.0))
    assert snaps[-1].served_total + snaps[-1].in_system == 100
    assert snaps[-1].storage_used_gb[0] == pytest.approx(1.0)
    assert snaps[-1].rejected_total == snaps[-1].offered_total - 100


def test_no_node_in_rotation_means_rejected_not_lost():
    sim = Simulation(scenario(n=1, hc=0.0), seed=1)
    sim.step(1)
    sim.fail(0)
    snap = list(sim.run(5, dt=1))[-1]
    assert snap.rejected > 0 and snap.lost == 0


def test_weighted_policy_sends_traffic_in_proportion_to_cores():
    sc = validate_data({
        "nodes": [{"name": "small", "cores": 1, "ram_gb": 64}, {"name": "big", "cores": 4, "ram_gb": 64}],
        "balancer": {"policy": "weighted"}, "workload": {"rate": 40, "cpu_time_ms": 50, "memory_mb": 1}})
    sim = Simulation(sc, seed=2)
    sent = sum(s.node_offered * s.dt for s in sim.run(50, dt=1))
    assert sent[1] / sent.sum() == pytest.approx(0.8, abs=0.01)


def test_round_robin_spreads_evenly():
    sim = Simulation(scenario(n=7, rate=35), seed=2)
    sent = sum(s.node_offered * s.dt for s in sim.run(40, dt=1))
    assert sent.max() - sent.min() <= 1


def test_add_node_boots_then_takes_traffic_without_disturbing_others():
    sim = Simulation(scenario(n=2, rate=10, restart=2.0, hc=1.0), seed=3)
    list(sim.run(5, dt=0.5))
    j = sim.add_node(Node(name="new", ram_gb=64.0, restart_s=2.0))
    assert j == 2 and sim.node_state[2] == RESTARTING
    snaps = list(sim.run(10, dt=0.5))
    assert snaps[-1].lost_total == 0
    assert snaps[-1].node_offered[2] > 0 and snaps[-1].state[2] == UP


def test_a_node_added_in_the_middle_leaves_every_other_node_its_requests():
    sim = Simulation(scenario(n=3, rate=28, cpu_ms=100), seed=3)  # 93% busy: queues to keep
    list(sim.run(10, dt=0.5))
    held = np.bincount(sim.state.pool.node, minlength=3)
    assert (held > 0).all()
    j = sim.add_node(Node(name="between", ram_gb=64.0), index=1)
    assert j == 1 and [n.name for n in sim.scenario.nodes] == ["n0", "between", "n1", "n2"]
    assert sim.node_state.tolist() == [UP, RESTARTING, UP, UP]
    assert np.bincount(sim.state.pool.node, minlength=4).tolist() == [held[0], 0, held[1], held[2]]
    snap = sim.step(0.5)
    assert snap.lost_total == 0 and conserved(sim, snap)


def test_remove_node_loses_its_requests_and_keeps_counts_consistent():
    sim = Simulation(scenario(n=3, rate=25, cpu_ms=100), seed=3)
    list(sim.run(10, dt=0.5))
    sim.remove_node(1)
    snap = sim.step(0.5)
    assert sim.n_nodes == 2 and snap.utilization.shape == (2,)
    assert conserved(sim, snap)
    with pytest.raises(ScenarioError):
        Simulation(scenario(n=1)).remove_node(0)


def test_update_node_speed_applies_without_restart_and_cores_restart():
    sim = Simulation(scenario(n=1, ram_gb=64.0), seed=3)
    sim.step(1)
    node = sim.scenario.nodes[0]
    sim.update_node(0, node.model_copy(update={"core_speed": 2.0}))
    assert sim.node_state[0] == UP and sim.params.speed[0] == 2.0
    sim.update_node(0, sim.scenario.nodes[0].model_copy(update={"cores": 2}))
    assert sim.node_state[0] == RESTARTING and sim.params.cores[0] == 2


def test_set_balancer_and_workload_take_effect():
    sim = Simulation(scenario(n=2, rate=10), seed=3)
    sim.set_balancer(Balancer(policy="least_connections", health_check_s=1.0))
    sim.set_workload(sim.scenario.workload.model_copy(update={"rate": 40.0}))
    snaps = list(sim.run(20, dt=1))
    assert sim.params.policy == "least_connections"
    assert np.mean([s.offered for s in snaps[5:]]) == pytest.approx(40, rel=0.15)


def test_trace_replay_uses_recorded_arrivals_and_cpu(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("arrival_s,cpu_s\n0.0,0.5\n0.1,0.5\n0.2,0.1\n")
    trace = load_trace(path)
    sim = Simulation(scenario(n=1), trace=trace, record=True)
    list(sim.run(3, dt=0.05))
    log = sim.request_log()
    assert np.allclose(log.departure, [0.5, 1.0, 1.1])
    assert list(log.outcome) == [SERVED] * 3


@pytest.mark.parametrize("text, message", [
    ("arrival_s\n0.1\nabc\n", "line 3: arrival_s 'abc' is not a number"),
    ("arrival_s,cpu_s\n0.1,-1\n", "line 2: cpu_s -1 is not in"),
    ("arrival_s\n0.5\n0.1\n", "must not decrease"),
    ("when,what\n", "header must be arrival_s"),
    ("", "has no requests"),
])
def test_bad_trace_names_line_and_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_trace(path)


def test_epoch_trace_is_shifted_to_start_at_zero(tmp_path):
    path = tmp_path / "epoch.csv"
    path.write_text("1700000000.0\n1700000000.5\n")
    assert list(load_trace(path).arrival_s) == [0.0, 0.5]


def test_pinned_trace_node_out_of_range_is_rejected():
    trace = Trace(np.array([0.0, 1.0]), None, np.array([0, 5]))
    with pytest.raises(ScenarioError, match="node 5"):
        Simulation(scenario(n=2), trace=trace)


def test_balancer_rejections_are_logged_as_rejected():
    sim = Simulation(scenario(n=1, hc=0.0), seed=1, record=True)
    sim.step(1)
    sim.fail(0)
    list(sim.run(2, dt=0.5))
    log = sim.request_log()
    assert np.all(log.outcome[log.arrival > 1.0] == REJECTED)


def test_a_second_failure_before_detection_keeps_the_first_detection_time():
    sim = Simulation(scenario(n=2, rate=10, hc=2.0, restart=0.5), seed=1)
    sim.step(1.0)
    sim.fail(0)  # noticed at t = 3
    sim.step(0.2)
    sim.recover(0)  # restarting until t = 1.7
    sim.step(0.3)
    sim.fail(0)  # t = 1.5: fails again before it was up or noticed
    sim.step(1.45)  # t = 2.95
    assert sim.state.routable[0]
    sim.step(0.1)  # t = 3.05
    assert not sim.state.routable[0]


@pytest.mark.parametrize("policy", ["random", "round_robin", "least_connections", "power_of_two", "weighted"])
def test_the_same_seed_gives_the_same_requests_whatever_the_step_size(policy):
    events = [{"at_s": 7.3, "action": "fail", "node": "n1"}, {"at_s": 12.1, "action": "recover", "node": "n1"}]
    logs = []
    for dt in (0.05, 0.7, 3.0):
        sim = Simulation(scenario(n=3, rate=25, policy=policy, events=events, hc=1.0, restart=1.0), seed=11,
                         record=True)
        list(sim.run(21.0, dt=dt))
        logs.append(sim.request_log())
    for log in logs[1:]:
        np.testing.assert_array_equal(log.arrival, logs[0].arrival)
        np.testing.assert_array_equal(log.node, logs[0].node)
        np.testing.assert_array_equal(log.departure, logs[0].departure)
        np.testing.assert_array_equal(log.outcome, logs[0].outcome)


def test_a_ramp_thins_arrivals_the_same_way_whatever_the_step_size():
    ramp = {"kind": "ramp", "to_rate": 50, "start_s": 0, "end_s": 20}
    sc = validate_data({"nodes": [{"name": "a", "ram_gb": 64}],
                        "workload": {"rate": 5, "cpu_time_ms": 10, "memory_mb": 1, "shape": ramp}})
    counts = []
    for dt in (0.1, 2.5):
        sim = Simulation(sc, seed=4, record=True)
        list(sim.run(20, dt=dt))
        counts.append(sim.request_log().arrival)
    np.testing.assert_array_equal(counts[0], counts[1])
    assert counts[0].size == pytest.approx((5 + 50) / 2 * 20, rel=0.15)
