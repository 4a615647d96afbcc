"""The simulator's bound on the requests it holds, shedding beyond it, and resize events (issue 10)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from sim_core.engine.limits import MAX_HELD, MIN_HELD, held_limit
from sim_core.engine.simulation import Simulation
from sim_core.engine.state import IN_SYSTEM, REJECTED, SERVED, params_from_scenario, params_with_nodes
from sim_core.engine.step import service_capacity_rps
from sim_core.progress import ProgressBar
from sim_core.scenario import Balancer, Event, Node, Scenario, Workload


def overloaded(rate: float, cpu_time_ms: float, policy: str = "round_robin", nodes: int = 1) -> Scenario:
    """Nodes whose RAM never fills (4096 GB, 0.001 MB per request) under more than they can serve."""
    return Scenario(
        name="overloaded", nodes=[Node(name=f"n{i}", ram_gb=4096.0, cores=2) for i in range(nodes)],
        balancer=Balancer(policy=policy),
        workload=Workload(rate=rate, max_rate=max(rate, 1.0), cpu_time_ms=cpu_time_ms, memory_mb=0.001),
    )


def test_the_limit_follows_the_machines_memory_within_its_bounds():
    assert held_limit(1 * 2**30) == MIN_HELD
    assert held_limit(8 * 2**30) == 8 * 2**30 // (16 * 1024)
    assert held_limit(512 * 2**30) == MAX_HELD


@pytest.mark.parametrize("policy", ["round_robin", "random", "least_connections", "power_of_two", "weighted"])
def test_beyond_the_limit_arrivals_are_shed_exactly_when_the_cluster_holds_it(policy):
    limit = 300
    sim = Simulation(overloaded(rate=4000.0, cpu_time_ms=10.0, policy=policy, nodes=3), record=True)
    sim.state.held_limit = limit
    for _ in range(20):
        snap = sim.step(0.1)
        assert snap.in_system <= limit
        assert snap.offered_total == snap.served_total + snap.rejected_total + snap.lost_total + snap.in_system
    assert 0 < snap.shed_total == snap.rejected_total  # RAM never fills: every rejection is a shed
    log = sim.request_log()
    accepted = np.isin(log.outcome, (SERVED, IN_SYSTEM))
    # requests held at each arrival, from the log: accepted ones that arrived before and leave after it
    arr, dep = log.arrival[accepted], log.departure[accepted]
    dep_sorted = np.sort(dep)

    def held_at(t: np.ndarray) -> np.ndarray:
        arrived = np.searchsorted(arr, t, side="left")
        left = np.searchsorted(dep_sorted, t, side="right")
        return arrived - left

    shed_times = log.arrival[log.outcome == REJECTED]
    assert np.all(held_at(shed_times) == limit)  # shed only when full, never earlier
    assert np.all(held_at(arr) < limit)  # taken only when there was room
    assert snap.shed > 0 and snap.capacity_rps == pytest.approx(3 * 2 / 0.010)


def test_the_issues_overloaded_scenario_is_bounded_and_counts_its_shed():
    sim = Simulation(overloaded(rate=2_000_000.0, cpu_time_ms=600_000.0))
    sim.state.held_limit = 50_000
    for _ in range(3):
        snap = sim.step(0.1)
    assert snap.in_system == 50_000 and snap.served_total == 0
    assert snap.shed_total == snap.offered_total - 50_000
    assert snap.capacity_rps == pytest.approx(2 / 600.0)


def test_the_cli_warns_plainly_with_arrivals_and_capacity(capsys, tmp_path):
    import json

    from sim_core.cli import main

    path = tmp_path / "over.json"
    path.write_text(json.dumps({"name": "over", "nodes": [{"name": "big", "ram_gb": 4096}],
                                "workload": {"rate": 2000000, "max_rate": 2000000, "cpu_time_ms": 600000,
                                             "memory_mb": 0.001}}))
    assert main(["run", str(path), "--seconds", "1", "--dt", "0.5"]) == 0
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert line.startswith("warning: the cluster is overloaded: ")
    assert "req/s arrive and its nodes serve at most 0.00167 req/s" in line
    assert "its queue would grow without bound" in line and "turned away" in line and "shed" in line
    shed = int(line.split("turned away ")[1].split()[0].replace(",", ""))
    offered = int(out.split("req/s   ")[1].split()[0])
    assert shed == offered - int(out.split("in system at end")[1].split()[0])


def test_no_warning_when_ram_bounds_the_queue(capsys):
    from sim_core.cli import main

    assert main(["run", "vertical-1cpu", "--seconds", "5"]) == 0  # overloaded, but RAM rejects the excess
    assert capsys.readouterr().err == ""


# --- resize events ---------------------------------------------------------------------------

def test_params_with_nodes_equals_a_rebuild_from_the_scenario():
    nodes = [Node(name=f"n{i}", cores=1 + i % 3, ram_gb=1.0 + i, core_speed=1.0 + i / 10) for i in range(6)]
    scenario = Scenario(nodes=nodes, workload=Workload(memory_mb=30.0))
    changed = {1: nodes[1].model_copy(update={"cores": 16, "ram_gb": 7.5}), 4: nodes[4].model_copy(update={"cores": 2})}
    fast = params_with_nodes(params_from_scenario(scenario), changed, 30.0)
    resized = [changed.get(i, n) for i, n in enumerate(nodes)]
    whole = params_from_scenario(scenario.model_copy(update={"nodes": resized}))
    for name in ("cores", "speed", "capacity", "storage_kb", "price_per_hour", "restart_s"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(whole, name), err_msg=name)
        assert getattr(fast, name).dtype == getattr(whole, name).dtype
    assert service_capacity_rps(fast) == pytest.approx(float((fast.cores * fast.speed).sum()) / 0.1)


def test_resize_events_at_one_instant_equal_the_same_edits_made_by_hand():
    nodes = [Node(name=f"n{i}", cores=2, restart_s=1.0) for i in range(4)]
    workload = Workload(rate=60.0, cpu_time_ms=50.0)
    events = [Event(at_s=2.0, action="resize", node="n1", cores=4), Event(at_s=2.0, action="fail", node="n2"),
              Event(at_s=2.0, action="resize", node="n1", ram_gb=2.0), Event(at_s=2.0, action="resize", node="n3",
                                                                                 cores=1)]
    by_events = Simulation(Scenario(nodes=nodes, workload=workload, events=events, seed=5), record=True)
    by_hand = Simulation(Scenario(nodes=nodes, workload=workload, seed=5), record=True)
    for _ in range(20):
        by_events.step(0.1)
        by_hand.step(0.1)
    by_hand.update_node(1, nodes[1].model_copy(update={"cores": 4}))
    by_hand.fail(2)
    by_hand.update_node(1, nodes[1].model_copy(update={"cores": 4, "ram_gb": 2.0}))
    by_hand.update_node(3, nodes[3].model_copy(update={"cores": 1}))
    for _ in range(40):
        a, b = by_events.step(0.1), by_hand.step(0.1)
        np.testing.assert_array_equal(a.state, b.state)
    np.testing.assert_array_equal(by_events.params.cores, by_hand.params.cores)
    np.testing.assert_array_equal(by_events.params.capacity, by_hand.params.capacity)
    one, two = by_events.request_log(), by_hand.request_log()
    np.testing.assert_array_equal(one.outcome, two.outcome)
    np.testing.assert_array_equal(one.departure, two.departure)


def test_a_resize_with_no_restart_delay_is_back_at_once_when_the_health_check_is_zero():
    nodes = [Node(name="a", restart_s=0.0), Node(name="b", restart_s=0.0)]
    events = [Event(at_s=1.0, action="resize", node="a", cores=2), Event(at_s=1.0, action="fail", node="b")]
    sim = Simulation(Scenario(nodes=nodes, balancer=Balancer(health_check_s=0.0), events=events))
    sim.step(1.0)
    sim.step(0.01)  # events at a step's end happen at the start of the next
    assert list(sim.state.state) == [0, 1] and list(sim.state.routable) == [True, False]
    assert sim.params.cores[0] == 2


# --- progress --------------------------------------------------------------------------------

class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_on_a_terminal_only():
    shown = FakeTerminal()
    with ProgressBar("run", "sim s", 100.0, stream=shown) as progress:
        for t in range(1, 101, 10):
            progress.update(float(t))
    assert "sim s" in shown.getvalue() and "/100 sim s" in shown.getvalue()
    piped = io.StringIO()
    with ProgressBar("run", "sim s", 100.0, stream=piped) as progress:
        progress.update(50.0)
    assert piped.getvalue() == ""
