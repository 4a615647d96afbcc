"""The engine against queueing theory (tests/theory.py) and the event-by-event model (tests/reference_des.py).

Statistical tests run with a service time of 1 ms (mu = 1000/s) so that a 1 s step holds
hundreds of requests: queueing results depend on time only through lam/mu, and millions of
requests take seconds. The failure test keeps the real 100 ms requests because the health
check is in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import reference_des

from sim_core.engine.simulation import Simulation
from sim_core.engine.state import DOWN, LOST, SERVED
from sim_core.engine.trace import Trace
from sim_core.scenario import Balancer, Event, Node, Scenario, Workload
from sim_core.theory import predict as theory

MU = 1000.0  # service rate of one core (requests/s) in the statistical tests
BIG_RAM_GB = 4096.0  # with memory_mb=0.001 a node holds billions of requests: capacity never binds


def make_scenario(
    cores: Sequence[int],
    rate: float,
    policy: str = "random",
    cpu_time_ms: float = 1000.0 / MU,
    ram_gb: float = BIG_RAM_GB,
    memory_mb: float = 0.001,
    core_speed: float = 1.0,
    health_check_s: float = 2.0,
    events: Sequence[Event] = (),
) -> Scenario:
    """Nodes ``n0, n1, ...`` with the given cores, Poisson traffic at ``rate`` requests/s."""
    return Scenario(
        nodes=[Node(name=f"n{i}", cores=c, ram_gb=ram_gb, core_speed=core_speed) for i, c in enumerate(cores)],
        balancer=Balancer(policy=policy, health_check_s=health_check_s),
        workload=Workload(rate=rate, max_rate=max(rate, 1.0), cpu_time_ms=cpu_time_ms, memory_mb=memory_mb,
                          data_kb=0.0),
        events=list(events),
    )


def steady_latencies(scenario: Scenario, seeds: Sequence[int], steps: int, warmup_steps: int,
                     dt: float = 1.0) -> np.ndarray:
    """Sojourn times (s) of the requests completed after ``warmup_steps`` steps of ``dt`` seconds,
    pooled over runs with ``seeds``."""
    parts = []
    for seed in seeds:
        sim = Simulation(scenario, seed=seed)
        for k in range(steps):
            snap = sim.step(dt)
            if k >= warmup_steps:
                parts.append(snap.latencies)
    return np.concatenate(parts)


def assert_matches_theory(latency: np.ndarray, mean: float, p95: float, p99: float) -> None:
    got = {"mean": latency.mean(), "p95": np.quantile(latency, 0.95), "p99": np.quantile(latency, 0.99)}
    assert got["mean"] == pytest.approx(mean, rel=0.05), got
    assert got["p95"] == pytest.approx(p95, rel=0.07), got
    assert got["p99"] == pytest.approx(p99, rel=0.07), got


# --- steady state against closed forms -----------------------------------------------------

# (cores, utilization, seeds, seconds): at rho = 0.9 one run of 3M requests is +-1.4% (mean)
# and +-2.2% (p99) from one seed to the next, so four are pooled.
@pytest.mark.parametrize(
    ("cores", "rho", "seeds", "seconds"),
    [(1, 0.5, [1], 1000), (1, 0.8, [1, 2], 1500), (1, 0.9, [1, 2, 3, 4], 3400), (4, 0.75, [1], 1000)],
)
def test_single_node_matches_erlang_c(cores, rho, seeds, seconds):
    lam = rho * cores * MU
    latency = steady_latencies(make_scenario([cores], lam), seeds, seconds, warmup_steps=20)
    assert latency.size > 0.9 * lam * len(seeds) * (seconds - 20)
    assert_matches_theory(
        latency,
        theory.mmc_mean_sojourn(cores, lam, MU),
        theory.mmc_sojourn_quantile(cores, lam, MU, 0.95),
        theory.mmc_sojourn_quantile(cores, lam, MU, 0.99),
    )


def test_random_routing_over_seven_nodes_is_seven_independent_mm1_queues():
    lam_node = 0.8 * MU
    sim = Simulation(make_scenario([1] * 7, 7 * lam_node, "random"), seed=5)
    parts, utilization, node_served = [], [], []
    for k in range(1000):
        snap = sim.step(1.0)
        if k >= 20:
            parts.append(snap.latencies)
            utilization.append(snap.utilization)
            node_served.append(snap.node_served)
    latency = np.concatenate(parts)
    assert_matches_theory(
        latency,
        theory.mm1_mean_sojourn(lam_node, MU),
        theory.mm1_sojourn_quantile(lam_node, MU, 0.95),
        theory.mm1_sojourn_quantile(lam_node, MU, 0.99),
    )
    np.testing.assert_allclose(np.mean(utilization, axis=0), 0.8, rtol=0.02)
    np.testing.assert_allclose(np.mean(node_served, axis=0), lam_node, rtol=0.02)


def test_least_connections_beats_round_robin_beats_random_at_the_same_load():
    results = {}
    for policy in ("random", "round_robin", "least_connections"):
        latency = steady_latencies(make_scenario([1] * 7, 7 * 0.8 * MU, policy), [9], 300, warmup_steps=20)
        results[policy] = (latency.mean(), np.quantile(latency, 0.99))
    mean_random, p99_random = results["random"]
    mean_rr, p99_rr = results["round_robin"]
    mean_lc, p99_lc = results["least_connections"]
    assert mean_random == pytest.approx(theory.mm1_mean_sojourn(0.8 * MU, MU), rel=0.05)
    # Erlang-7 arrivals (round robin) wait less than Poisson ones; joining the shortest queue less still
    assert mean_lc < mean_rr < mean_random, results
    assert p99_lc < p99_rr < p99_random, results
    assert mean_lc < 0.5 * mean_random, results


def test_power_of_two_and_least_connections_over_1000_nodes_match_their_large_cluster_limits():
    rho, n_nodes, dt = 0.75, 1000, 0.1
    power = steady_latencies(make_scenario([1] * n_nodes, rho * MU * n_nodes, "power_of_two"), [1], 30, 2, dt)
    assert power.mean() == pytest.approx(theory.power_of_d_mean_sojourn(rho, MU, d=2), rel=0.02)
    # joining the shortest of 1000 queues at 75% load: almost nobody waits
    scenario = make_scenario([1] * n_nodes, rho * MU * n_nodes, "least_connections")
    shortest = steady_latencies(scenario, [1], 12, 2, dt)
    assert shortest.mean() == pytest.approx(1 / MU, rel=0.02)


@pytest.mark.parametrize(("cores", "memory_mb", "k", "lam"), [(2, 20.0, 6, 2.5 * MU), (1, 30.0, 4, 0.9 * MU)])
def test_ram_capacity_blocks_like_mmck(cores, memory_mb, k, lam):
    # a 0.125 GB node holds floor(128 MB / memory_mb) = k requests
    scenario = make_scenario([cores], lam, ram_gb=0.125, memory_mb=memory_mb)
    sim = Simulation(scenario, seed=2)
    warm = None
    parts = []
    for step in range(500):
        snap = sim.step(1.0)
        if step == 19:
            warm = snap
        elif step > 19:
            parts.append(snap.latencies)
            assert snap.in_flight[0] <= k
    offered = snap.offered_total - warm.offered_total
    rejected = snap.rejected_total - warm.rejected_total
    assert snap.lost_total == 0
    assert rejected / offered == pytest.approx(theory.mmck_blocking(cores, k, lam, MU), rel=0.03)
    assert np.concatenate(parts).mean() == pytest.approx(theory.mmck_mean_sojourn(cores, k, lam, MU), rel=0.05)


# --- a failure -----------------------------------------------------------------------------

def test_failing_one_of_seven_nodes_loses_what_was_in_it_and_what_was_sent_before_detection():
    mu, n_nodes, fail_at, health_check = 10.0, 7, 30.0, 2.0
    lam = 0.6 * n_nodes * mu
    rng = np.random.default_rng(21)
    n = int(lam * 100)
    arrival = np.cumsum(rng.exponential(1 / lam, n))
    cpu = rng.exponential(1 / mu, n)
    trace = Trace(arrival, cpu)
    # fail the busiest node at fail_at (the run is the same up to then with or without the event)
    healthy = Simulation(make_scenario([1] * n_nodes, lam, "random", cpu_time_ms=1000 / mu), seed=4, trace=trace)
    failed = int(np.argmax([healthy.step(1.0) for _ in range(int(fail_at))][-1].in_flight))
    scenario = make_scenario([1] * n_nodes, lam, "random", cpu_time_ms=1000 / mu, health_check_s=health_check,
                             events=[Event(at_s=fail_at, action="fail", node=f"n{failed}")])
    sim = Simulation(scenario, seed=4, trace=trace, record=True)
    snaps = [sim.step(1.0) for _ in range(int(arrival[-1]) + 30)]
    log = sim.request_log()

    # what happened before the failure is the reference model's, to the bit
    before = arrival < fail_at
    ref = reference_des.simulate(arrival[before], cpu[before], [1] * n_nodes, choices=log.node[before])
    done_before = ref.departure <= fail_at
    np.testing.assert_array_equal(log.departure[before][done_before], ref.departure[done_before])
    in_it = np.zeros(n, dtype=bool)
    in_it[np.flatnonzero(before)] = (ref.node == failed) & (ref.departure > fail_at)
    sent_blind = (log.node == failed) & (arrival >= fail_at) & (arrival < fail_at + health_check)
    assert in_it.sum() > 0 and sent_blind.sum() > 0
    np.testing.assert_array_equal(log.outcome == LOST, in_it | sent_blind)
    assert snaps[-1].lost_total == in_it.sum() + sent_blind.sum()
    assert snaps[-1].rejected_total == 0

    # after detection the other six take everything, and keep up
    after = arrival >= fail_at + health_check
    assert not np.any(log.node[after] == failed)
    assert np.all(log.outcome[after] == SERVED)
    settled = [s for s in snaps if fail_at + 10 < s.t <= arrival[-1]]
    offered = sum(s.offered * s.dt for s in settled)
    served = sum(s.served * s.dt for s in settled)
    assert served == pytest.approx(offered, rel=0.03)
    assert offered == pytest.approx(lam * len(settled), rel=0.05)
    assert all(s.state[failed] == DOWN and s.in_flight[failed] == 0 and s.utilization[failed] == 0 for s in settled)
    busy = np.mean([np.delete(s.utilization, failed) for s in settled], axis=0)
    np.testing.assert_allclose(busy, lam / (n_nodes - 1) / mu, atol=0.08)


# --- exactness on a trace --------------------------------------------------------------------

def poisson_trace(seed: int, lam: float, mean_cpu_s: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1 / lam, n)), rng.exponential(mean_cpu_s, n)


def replay(scenario: Scenario, trace: Trace, dt: float):
    """Run the trace to the end (every request finished) and return the request log."""
    sim = Simulation(scenario, seed=3, trace=trace, record=True)
    while True:
        snap = sim.step(dt)
        if sim.t > trace.arrival_s[-1] and snap.in_system == 0:
            return sim.request_log()


@pytest.mark.parametrize(
    ("cores", "dt"),
    # up to 8 cores the kernel scans a node's cores; above, it keeps them in a heap
    [([1], 1.0), ([4], 0.05), ([1, 2, 4, 1, 3], 0.5), ([8] * 3, 0.25), ([16, 9, 2], 0.5)],
)
def test_pinned_trace_latencies_equal_the_reference_model(cores, dt):
    n = 20_000
    lam = 0.85 * sum(cores) * 10.0
    arrival, cpu = poisson_trace(len(cores) * 10 + len(cores), lam, 0.1, n)
    weights = np.asarray(cores, dtype=float)
    node = np.random.default_rng(1).choice(len(cores), n, p=weights / weights.sum())
    log = replay(make_scenario(cores, lam, cpu_time_ms=100.0), Trace(arrival, cpu, node), dt)
    ref = reference_des.simulate(arrival, cpu, cores, choices=node)
    np.testing.assert_array_equal(log.outcome, SERVED)
    np.testing.assert_array_equal(log.node, node)
    assert np.max(np.abs(log.latency - ref.latency)) <= 1e-9
    assert np.mean(ref.start > arrival) > 0.2  # the queues did build up


@pytest.mark.parametrize("policy", ["random", "round_robin", "weighted"])
def test_balancer_routed_trace_latencies_equal_the_reference_model(policy):
    cores = [1, 4, 2]
    n = 14_000
    lam = 0.8 * sum(cores) * 10.0
    arrival, cpu = poisson_trace(5, lam, 0.1, n)
    log = replay(make_scenario(cores, lam, policy, cpu_time_ms=100.0), Trace(arrival, cpu), 0.5)
    ref = reference_des.simulate(arrival, cpu, cores, choices=log.node)
    np.testing.assert_array_equal(log.outcome, SERVED)
    assert np.max(np.abs(log.latency - ref.latency)) <= 1e-9
    counts = np.bincount(log.node, minlength=len(cores))
    if policy == "round_robin":
        np.testing.assert_array_equal(log.node, np.arange(n) % len(cores))
    elif policy == "weighted":
        # every full cycle of 7 requests gives each node as many as it has cores
        cycles = log.node[: n - n % 7].reshape(-1, 7)
        for j, c in enumerate(cores):
            assert np.all((cycles == j).sum(axis=1) == c)
    else:
        np.testing.assert_allclose(counts / n, 1 / 3, atol=0.02)


@pytest.mark.parametrize("cores", [[1] * 5, [1, 2, 4]])
def test_least_connections_trace_is_exact(cores):
    # the engine routes on the exact count at each arrival, ties to the first node after the
    # last one chosen; the reference model does the same event by event
    n = 15_000
    lam = 0.9 * sum(cores) * 10.0
    arrival, cpu = poisson_trace(8, lam, 0.1, n)
    log = replay(make_scenario(cores, lam, "least_connections", cpu_time_ms=100.0), Trace(arrival, cpu), 0.5)
    ref = reference_des.simulate(arrival, cpu, cores, policy="least_connections", ties="rotate")
    np.testing.assert_array_equal(log.node, ref.node)
    assert np.max(np.abs(log.latency - ref.latency)) <= 1e-9


def test_ram_capacity_on_a_trace_rejects_exactly_the_reference_requests():
    cores = [2, 1]
    n = 10_000
    lam = 1.1 * sum(cores) * 10.0  # overloaded: the RAM limit binds often
    arrival, cpu = poisson_trace(13, lam, 0.1, n)
    node = np.random.default_rng(2).integers(0, 2, n)
    scenario = make_scenario(cores, lam, cpu_time_ms=100.0, ram_gb=0.125, memory_mb=25.0)  # 5 per node
    log = replay(scenario, Trace(arrival, cpu, node), 1.0)
    ref = reference_des.simulate(arrival, cpu, cores, choices=node, capacity=[5, 5])
    rejected = ref.status == reference_des.REJECTED
    assert 0.05 < rejected.mean() < 0.5
    np.testing.assert_array_equal(log.outcome != SERVED, rejected)
    assert np.max(np.abs(log.latency[~rejected] - ref.latency[~rejected])) <= 1e-9


def test_core_speed_divides_the_cpu_time_exactly():
    n = 10_000
    arrival, cpu = poisson_trace(17, 30.0, 0.1, n)
    log = replay(make_scenario([2], 30.0, cpu_time_ms=100.0, core_speed=1.5), Trace(arrival, cpu), 1.0)
    ref = reference_des.simulate(arrival, cpu / 1.5, [2], choices=np.zeros(n, dtype=int))
    assert np.max(np.abs(log.latency - ref.latency)) <= 1e-9


def test_snapshot_node_figures_on_a_trace_equal_the_reference_model():
    cores = [1, 3, 2]
    n = 6_000
    lam = 0.85 * sum(cores) * 10.0
    arrival, cpu = poisson_trace(23, lam, 0.1, n)
    node = np.random.default_rng(4).integers(0, len(cores), n)
    ref = reference_des.simulate(arrival, cpu, cores, choices=node)
    sim = Simulation(make_scenario(cores, lam, cpu_time_ms=100.0), trace=Trace(arrival, cpu, node))
    dt = 0.25
    for _ in range(int(arrival[-1] / dt) + 20):
        t0 = sim.t
        snap = sim.step(dt)
        t1 = snap.t
        on = [node == j for j in range(len(cores))]
        busy = [np.clip(np.minimum(ref.departure[m], t1) - np.maximum(ref.start[m], t0), 0, None).sum() for m in on]
        np.testing.assert_allclose(snap.utilization * np.array(cores) * dt, busy, atol=1e-9)
        np.testing.assert_array_equal(snap.in_flight, [np.sum((arrival[m] < t1) & (ref.departure[m] > t1)) for m in on])
        np.testing.assert_array_equal(snap.queue, [np.sum((arrival[m] < t1) & (ref.start[m] > t1)) for m in on])
        finished = (ref.departure > t0) & (ref.departure <= t1)
        np.testing.assert_allclose(snap.node_served * dt, [np.sum(finished[m]) for m in on])
        np.testing.assert_allclose(np.sort(snap.latencies), np.sort(ref.latency[finished]), atol=1e-9)


def run_in_small_steps(dt: float = 0.05, steps: int = 800):
    sim = Simulation(make_scenario([1] * 7, 7 * 0.8 * MU, "random"), seed=6)
    return [sim.step(dt) for _ in range(steps)]


def assert_summary_of(sample: np.ndarray, p50: float, p95: float, p99: float, mean: float) -> None:
    # the engine reads percentiles from log-spaced bins 0.5% wide
    np.testing.assert_allclose([p50, p95, p99], np.quantile(sample, [0.5, 0.95, 0.99]), rtol=0.006)
    assert mean == pytest.approx(sample.mean(), rel=1e-9)


def test_cumulative_percentiles_are_those_of_every_completed_request():
    steps = run_in_small_steps()
    last = steps[-1]
    assert_summary_of(np.concatenate([s.latencies for s in steps]), last.latency_total_p50, last.latency_total_p95,
                      last.latency_total_p99, last.latency_total_mean)


def test_window_percentiles_are_those_of_the_last_ten_seconds():
    dt = 0.05
    steps = run_in_small_steps(dt)
    last = steps[-1]
    window = np.concatenate([s.latencies for s in steps if s.t > last.t - 10.0 + dt / 2])
    assert_summary_of(window, last.latency_p50, last.latency_p95, last.latency_p99, last.latency_mean)


def test_least_connections_over_many_nodes_is_exact():
    # 37 nodes: a segment tree over a count that is not a power of two, several levels deep
    cores = [1, 2] * 18 + [3]
    n = 30_000
    lam = 0.9 * sum(cores) * 10.0
    arrival, cpu = poisson_trace(23, lam, 0.1, n)
    log = replay(make_scenario(cores, lam, "least_connections", cpu_time_ms=100.0), Trace(arrival, cpu), 0.5)
    ref = reference_des.simulate(arrival, cpu, cores, policy="least_connections", ties="rotate")
    np.testing.assert_array_equal(log.node, ref.node)
    assert np.max(np.abs(log.latency - ref.latency)) <= 1e-9


def test_power_of_two_trace_is_exact_given_its_candidates():
    cores = [1, 2, 1, 4, 1]
    n = 15_000
    lam = 0.9 * sum(cores) * 10.0
    arrival, cpu = poisson_trace(29, lam, 0.1, n)
    log = replay(make_scenario(cores, lam, "power_of_two", cpu_time_ms=100.0), Trace(arrival, cpu), 0.5)
    first, second = log.candidates[:, 0], log.candidates[:, 1]
    assert np.all(first != second) and np.all((log.node == first) | (log.node == second))
    ref = reference_des.simulate(arrival, cpu, cores, policy="power_of_two", choices=first, second_choices=second)
    np.testing.assert_array_equal(log.node, ref.node)
    assert np.max(np.abs(log.latency - ref.latency)) <= 1e-9
    assert np.mean(log.node == second) > 0.2  # the second candidate did win often
