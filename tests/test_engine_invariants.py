"""Properties of every snapshot of random small clusters, with failures, recoveries and resizes."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_core.engine.simulation import Simulation
from sim_core.engine.state import UP
from sim_core.scenario import POLICIES, Balancer, Event, Node, Scenario, Workload

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw) -> Scenario:
    n_nodes = draw(st.integers(1, 5))
    nodes = [
        Node(
            name=f"n{i}",
            cores=draw(st.integers(1, 8)),
            core_speed=draw(st.sampled_from([0.5, 1.0, 2.0])),
            ram_gb=draw(st.sampled_from([0.125, 0.5, 1.0, 4.0])),
            storage_gb=draw(st.sampled_from([1.0, 500.0])),
            restart_s=draw(st.sampled_from([0.0, 0.5, 3.0])),
        )
        for i in range(n_nodes)
    ]
    workload = Workload(
        rate=draw(st.floats(0.0, 400.0)),
        max_rate=1000.0,
        cpu_time_ms=draw(st.floats(1.0, 300.0)),
        service=draw(st.sampled_from(["exponential", "deterministic", "lognormal"])),
        service_cv=draw(st.sampled_from([0.5, 2.0])),
        memory_mb=draw(st.sampled_from([1.0, 10.0, 50.0])),
        data_kb=draw(st.sampled_from([0.0, 4.0, 3000.0])),  # 3000 KB fills a 1 GB disk in ~330 writes
    )
    events = [
        Event(
            at_s=draw(st.floats(0.0, 12.0)),
            action=(action := draw(st.sampled_from(["fail", "recover", "resize"]))),
            node=f"n{draw(st.integers(0, n_nodes - 1))}",
            cores=draw(st.integers(1, 4)) if action == "resize" else None,
            ram_gb=draw(st.sampled_from([0.125, 2.0])) if action == "resize" else None,
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    balancer = Balancer(policy=draw(st.sampled_from(POLICIES)), health_check_s=draw(st.sampled_from([0.0, 1.0, 2.5])))
    return Scenario(nodes=nodes, balancer=balancer, workload=workload, events=events, seed=draw(st.integers(0, 99)))


steps = st.lists(
    st.tuples(st.sampled_from([0.01, 0.05, 0.3, 1.0, 2.0]), st.none() | st.integers(0, 4)), min_size=5, max_size=25
)


def run(scenario: Scenario, plan: list[tuple[float, int | None]]):
    """Step through ``plan``: (dt, node to toggle first or None); yield each snapshot."""
    sim = Simulation(scenario)
    for dt, toggle in plan:
        if toggle is not None and toggle < sim.n_nodes:
            sim.toggle(toggle)
        yield sim, sim.step(dt)


@SETTINGS
@given(scenarios(), steps)
def test_every_snapshot_is_consistent(scenario, plan):
    memory_mb = scenario.workload.memory_mb
    previous = None
    for sim, snap in run(scenario, plan):
        # conservation, at every step
        assert snap.offered_total == snap.served_total + snap.rejected_total + snap.lost_total + snap.in_system
        assert snap.in_system == snap.in_flight.sum()
        if previous is not None:
            for name in ("offered_total", "served_total", "rejected_total", "lost_total", "cost_total"):
                assert getattr(snap, name) >= getattr(previous, name), name
            assert snap.t == previous.t + snap.dt or math.isclose(snap.t, previous.t + snap.dt)
        previous = snap

        # per node
        cores = np.array([node.cores for node in sim.scenario.nodes])
        assert np.all(np.isfinite(snap.utilization))
        assert np.all((snap.utilization >= 0) & (snap.utilization <= 1))
        assert np.all(snap.queue >= 0)
        assert np.all(snap.in_flight >= snap.queue)
        in_service = snap.in_flight - snap.queue
        resized = {e.node for e in scenario.events if e.action == "resize"}
        plain = np.array([node.name not in resized for node in sim.scenario.nodes])
        assert np.all(in_service[plain] <= cores[plain])
        ram_gb = np.array([node.ram_gb for node in sim.scenario.nodes])
        capacity = np.floor(ram_gb * 1024 / memory_mb + 1e-9)
        assert np.all(snap.in_flight[plain] <= capacity[plain])
        assert np.all(snap.in_flight[snap.state != UP] == 0)
        storage_gb = np.array([node.storage_gb for node in sim.scenario.nodes])
        assert np.all(snap.storage_used_gb <= storage_gb + 1e-9)
        assert np.all(snap.node_offered >= 0) and np.all(snap.node_served >= 0)

        # rates and latencies
        assert round(snap.served * snap.dt) == snap.latencies.size
        assert np.all(snap.latencies > 0)
        for p50, p95, p99, mean in (
            (snap.latency_p50, snap.latency_p95, snap.latency_p99, snap.latency_mean),
            (snap.latency_total_p50, snap.latency_total_p95, snap.latency_total_p99, snap.latency_total_mean),
        ):
            assert all(math.isnan(v) for v in (p50, p95, p99, mean)) or (0 < p50 <= p95 <= p99 and mean > 0)
        for share in (snap.availability, snap.availability_total):
            assert math.isnan(share) or 0.0 <= share <= 1.0


@SETTINGS
@given(scenarios(), steps)
def test_the_same_seed_gives_the_same_snapshots(scenario, plan):
    first = [snap for _, snap in run(scenario, plan)]
    second = [snap for _, snap in run(scenario, plan)]
    for a, b in zip(first, second, strict=True):
        for name, value in vars(a).items():
            np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)
