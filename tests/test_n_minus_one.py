"""The N-1 check: fork the run per node, fail it, look 60 s ahead, give a verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim_core.engine.simulation import Simulation
from sim_core.scenario import Node
from sim_core.scenario_file import resolve
from sim_core.theory import n_minus_one


def at_rate(name: str, rate: float):
    sc = resolve(name)
    return sc.model_copy(update={"workload": sc.workload.model_copy(update={"rate": rate})})


def running(scenario, seconds: float = 30.0, seed: int = 1) -> Simulation:
    sim = Simulation(scenario, seed=seed)
    sim.step(seconds)
    return sim


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seven_nodes_at_50_per_second_are_n_minus_one_safe(seed):
    result = n_minus_one.check(running(at_rate("horizontal-7x1", 50.0), seed=seed))
    assert result.safe
    assert len(result.losses) == 7 and {x.name for x in result.losses} == {f"node-{i}" for i in range(1, 8)}
    assert all(x.p99_s <= result.target_p99_s and x.rejected == 0 and x.lost > 0 for x in result.losses)
    # the default target: 2.5 x the p99 of the same 60 s with every node up (E7/M/1: about 1 s)
    healthy = result.healthy
    assert healthy.name == n_minus_one.HEALTHY and healthy.lost == 0 and 0.6 < healthy.p99_s < 2.0
    assert result.target_p99_s == n_minus_one.HEALTHY_FACTOR * healthy.p99_s
    assert result.verdict().startswith(f"N-1 safe (p99 target {result.target_p99_s:.3g} s, 2.5 x ")


def test_seven_nodes_at_65_per_second_are_not_safe_and_the_verdict_names_the_p99():
    # six 10 req/s nodes cannot carry 65 req/s: the queues grow until RAM rejects
    result = n_minus_one.check(running(at_rate("horizontal-7x1", 65.0)))
    assert not result.safe
    worst = result.weak_spot
    assert worst.p99_s > 2.0 and worst.rejected_share > result.max_rejected_share
    assert f"losing {worst.name}: p99 {worst.p99_s:.3g} s" in result.verdict()
    assert result.verdict().startswith("N-1 not safe")


def test_the_single_server_is_not_safe_with_availability_zero():
    result = n_minus_one.check(running(resolve("vertical-4cpu")))
    assert not result.safe
    (only,) = result.losses
    assert only.availability == 0.0 and only.served == 0 and math.isnan(only.p99_s)
    assert "availability 0.0%" in result.verdict()


def test_the_check_leaves_the_run_as_it_was():
    sc = at_rate("horizontal-7x1", 50.0)
    checked, untouched = running(sc), running(sc)
    calls = []
    n_minus_one.check(checked, horizon_s=20.0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 8) for i in range(1, 9)]  # one fork per node, and one with every node up
    a, b = checked.step(5.0), untouched.step(5.0)
    assert np.array_equal(a.latencies, b.latencies) and a.served_total == b.served_total
    assert np.array_equal(checked.node_state, untouched.node_state)


def test_random_repairs_are_off_in_the_forks_and_cancel_stops_the_check():
    sc = resolve("nines-7x1cpu")
    sim = running(sc, seconds=10.0)
    twin = n_minus_one.fork(sim)
    n_minus_one._keep_down(twin)
    assert all(node.mtbf_s is None for node in twin.scenario.nodes)
    assert all(node.mtbf_s is not None for node in sim.scenario.nodes)
    assert n_minus_one.check(sim, cancelled=lambda: True) is None


def test_heterogeneous_cluster_names_the_big_node_as_the_weak_spot():
    sc = resolve("horizontal-7x1")
    nodes = [*sc.nodes[:3], Node(name="big", cores=4, ram_gb=4.0, x=900.0, y=900.0)]
    sc = sc.model_copy(update={"nodes": nodes, "balancer": sc.balancer.model_copy(update={"policy": "weighted"}),
                               "workload": sc.workload.model_copy(update={"rate": 45.0})})
    result = n_minus_one.check(running(sc), horizon_s=30.0)
    assert result.weak_spot.name == "big" and not result.safe


@pytest.mark.parametrize("target", [0.01])
def test_a_tight_target_fails_even_a_light_load(target):
    result = n_minus_one.check(running(at_rate("horizontal-7x1", 10.0)), horizon_s=20.0, target_p99_s=target)
    assert not result.safe


def test_the_default_target_follows_the_workload_where_a_fixed_one_would_not():
    # the slide's cluster with 1 ms requests at 5,800 req/s: without a node, six at 97% load
    sc = at_rate("horizontal-7x1", 5800.0)
    sc = sc.model_copy(update={"workload": sc.workload.model_copy(update={"cpu_time_ms": 1.0, "memory_mb": 0.01,
                                                                          "max_rate": 6000.0})})
    sim = running(sc, seconds=5.0)
    result = n_minus_one.check(sim, horizon_s=20.0)
    assert result.healthy.p99_s < 0.05 and result.target_p99_s < 0.125  # milliseconds, not seconds
    assert not result.safe and result.weak_spot.rejected == 0 and result.weak_spot.p99_s > result.target_p99_s
    assert n_minus_one.check(sim, horizon_s=20.0, target_p99_s=2.5).safe  # a fixed 2.5 s would call it safe


def test_a_scenario_with_a_p99_goal_is_held_to_it_and_a_target_set_by_the_user_wins():
    sc = resolve("challenge-2-cheapest-50")
    goal = min(g.at_most for g in sc.goals.targets if g.metric == "p99_ms") / 1000.0
    assert n_minus_one.default_target(sc, 1.0) == (goal, "the scenario's p99 goal")
    result = n_minus_one.check(running(sc, seconds=10.0), horizon_s=20.0)
    assert result.target_p99_s == goal and "the scenario's p99 goal" in result.verdict()
    mine = n_minus_one.check(running(sc, seconds=10.0), horizon_s=20.0, target_p99_s=30.0)
    assert mine.target_p99_s == 30.0 and "p99 target 30 s, set by the user" in mine.verdict()


def test_a_worker_given_the_pickled_base_finds_what_the_base_itself_gives():
    """The window sends each node's task the run's pickle; the worker unpickles it once per check."""
    sim = running(at_rate("horizontal-7x1", 60.0))
    before = len(n_minus_one.fork_payload(sim))
    sim.state.scratch.get("heap_t", 50_000, float)  # 400 KB of work arrays: not part of the payload
    payload = n_minus_one.fork_payload(sim)
    assert len(payload) < before + 1000
    base = n_minus_one.fork(sim)
    direct = [n_minus_one.check_node(base, j, 20.0) for j in (0, 3, None)]
    sent = n_minus_one.check_nodes_of("check-1", payload, (0, 3, None), 20.0)
    assert sent == direct
    kept = n_minus_one._BASE[1]
    n_minus_one.check_nodes_of("check-1", payload, (1,), 20.0)
    assert n_minus_one._BASE[1] is kept  # the same check: not unpickled again
    n_minus_one.check_nodes_of("check-2", payload, (1,), 20.0)
    assert n_minus_one._BASE[1] is not kept
