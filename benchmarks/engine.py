"""Engine speed and latencies against a SimPy model of the same cluster, measured in one run.

Run: ``.venv/bin/python benchmarks/engine.py`` (about two minutes) or with ``--quick``.

For each case (one 1-core node; one 4-core node; 7 nodes x 1 core; 1,000 nodes x 2 cores at
15,000 requests/s) and each balancer policy, both run Poisson traffic at 75% utilization with
exponential 100 ms requests. Printed: simulated requests per wall second of each, their ratio
against the goal, and latency mean/p50/p95/p99 of both (SimPy | engine, after a dropped
warm-up). Then 1,000 nodes x 2 cores at 100,000 requests/s (15 ms requests, 75%) as a multiple
of real time. Engine timings exclude the kernel's compile or load, which is printed first
(``SCALELAB_KERNEL=aot|jit|python`` picks the kernel's form, see sim_core/engine/kernel.py).
The engine steps ``dt`` chosen so a step holds about 20,000 arrivals (at least 1 s): it is exact
for any ``dt`` (tests/test_engine_accuracy.py), and small steps add per-step overhead.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

try:
    import simpy_model
except ImportError as exc:  # simpy is a test dependency
    sys.exit(f"benchmarks/engine.py needs SimPy: pip install -e '.[test]' ({exc})")

from sim_core.engine import kernel
from sim_core.engine.simulation import Simulation
from sim_core.scenario import Balancer, Node, Scenario, Workload

POLICIES = ("round_robin", "random", "weighted", "least_connections", "power_of_two")
GOAL_VS_SIMPY = {"round_robin": 200, "random": 200, "weighted": 200, "least_connections": 10, "power_of_two": 10}
GOAL_REAL_TIME = 50
UTILIZATION = 0.75
WARMUP_S = 20.0  # simulated seconds whose completions are dropped (~4 relaxation times of M/M/1 at 75%)
WARMUP_QUICK_S = 5.0
REQUESTS_PER_STEP = 20_000


@dataclass(frozen=True)
class Case:
    name: str
    n_nodes: int
    cores: int
    cpu_time_ms: float = 100.0
    rate: float | None = None  # requests/s; None: UTILIZATION of the cluster

    def arrival_rate(self) -> float:
        if self.rate is not None:
            return self.rate
        return UTILIZATION * self.n_nodes * self.cores * 1000.0 / self.cpu_time_ms

    def scenario(self, policy: str) -> Scenario:
        rate = self.arrival_rate()
        return Scenario(
            nodes=[Node(name=f"n{i}", cores=self.cores, ram_gb=4096.0) for i in range(self.n_nodes)],
            balancer=Balancer(policy=policy),
            workload=Workload(rate=rate, max_rate=rate, cpu_time_ms=self.cpu_time_ms, memory_mb=0.001, data_kb=0.0),
        )


CASES = (
    Case("1 node x 1 core", 1, 1),
    Case("1 node x 4 cores", 1, 4),
    Case("7 nodes x 1 core", 7, 1),
    Case("1000 nodes x 2 cores", 1000, 2, rate=15_000.0),
)
REAL_TIME_CASE = Case("1000 nodes x 2 cores, 100k req/s", 1000, 2, cpu_time_ms=15.0, rate=100_000.0)


@dataclass
class Run:
    requests: int
    wall_s: float
    latency: np.ndarray  # sojourn times (s) after the warm-up

    @property
    def per_s(self) -> float:
        return self.requests / self.wall_s


def run_simpy(case: Case, policy: str, n: int, warmup_s: float, seed: int) -> Run:
    """At least ``n`` requests (and 3 warm-ups' worth) through the SimPy model, numbers drawn in advance."""
    n = max(n, int(3 * warmup_s * case.arrival_rate()))
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / case.arrival_rate(), n))
    service = rng.exponential(case.cpu_time_ms / 1000.0, n)
    start = time.perf_counter()
    latency = simpy_model.simulate(arrival, service, [case.cores] * case.n_nodes, policy, seed=seed)
    wall = time.perf_counter() - start
    return Run(n, wall, latency[arrival >= warmup_s])


def run_engine(case: Case, policy: str, n: int, warmup_s: float, seed: int) -> Run:
    """About ``n`` requests through the engine, stepped in ``dt`` of about REQUESTS_PER_STEP arrivals."""
    rate = case.arrival_rate()
    dt = max(1.0, REQUESTS_PER_STEP / rate)
    steps = max(2, round(n / rate / dt))
    warmup_steps = int(np.ceil(warmup_s / dt))
    sim = Simulation(case.scenario(policy), seed=seed)
    parts = []
    start = time.perf_counter()
    for k in range(steps):
        snap = sim.step(dt)
        if k >= warmup_steps:
            parts.append(snap.latencies)
    wall = time.perf_counter() - start
    return Run(snap.offered_total, wall, np.concatenate(parts))


def figures(latency: np.ndarray) -> list[float]:
    """mean, p50, p95, p99 in milliseconds."""
    return [1000 * latency.mean(), *(1000 * np.quantile(latency, [0.5, 0.95, 0.99]))]


def compare(quick: bool) -> list[bool]:
    n_simpy = 40_000 if quick else 300_000
    n_engine = 1_000_000 if quick else 5_000_000
    warmup_s = WARMUP_QUICK_S if quick else WARMUP_S
    print(f"SimPy: at least {n_simpy:,} requests per run; engine: about {n_engine:,}; the first {warmup_s:g} s "
          "of completions dropped. Latencies in ms, SimPy | engine.\n")
    header = (f"{'case':<21} {'policy':<17} {'SimPy req/s':>11} {'engine req/s':>12} {'ratio':>6} {'goal':>5}  "
              f"{'mean':>13} {'p50':>13} {'p95':>13} {'p99':>13}")
    print(header)
    print("-" * len(header))
    met = []
    for case in CASES:
        for policy in POLICIES:
            simpy_run = run_simpy(case, policy, n_simpy, warmup_s, seed=1)
            engine_run = run_engine(case, policy, n_engine, warmup_s, seed=1)
            ratio = engine_run.per_s / simpy_run.per_s
            goal = GOAL_VS_SIMPY[policy]
            met.append(ratio >= goal)
            pairs = "".join(f" {a:6.1f} |{b:6.1f}" for a, b in zip(figures(simpy_run.latency),
                                                                   figures(engine_run.latency), strict=True))
            print(f"{case.name:<21} {policy:<17} {simpy_run.per_s:11,.0f} {engine_run.per_s:12,.0f} "
                  f"{ratio:6.1f} {goal:4d}x{'' if ratio >= goal else '!'}{pairs}")
        print()
    return met


def real_time(quick: bool) -> list[bool]:
    case = REAL_TIME_CASE
    seconds = 5 if quick else 20
    print(f"{case.name}, {case.cpu_time_ms:g} ms requests ({UTILIZATION:.0%} busy), {seconds} s simulated, dt = 1 s:")
    met = []
    for policy in POLICIES:
        sim = Simulation(case.scenario(policy), seed=1)
        start = time.perf_counter()
        for _ in range(seconds):
            snap = sim.step(1.0)
        wall = time.perf_counter() - start
        speed = sim.t / wall
        met.append(speed >= GOAL_REAL_TIME)
        print(f"  {policy:<17} {snap.offered_total / wall:12,.0f} req/s  {speed:6.1f}x real time "
              f"(goal {GOAL_REAL_TIME}x{'' if speed >= GOAL_REAL_TIME else ', NOT MET'})  "
              f"p99 {1000 * snap.latency_total_p99:.1f} ms")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests per run (about 20 s)")
    args = parser.parse_args()
    start = time.perf_counter()
    kernel.warm_up()
    compiled = time.perf_counter() - start
    stats = getattr(kernel.serve, "stats", None)  # a numba dispatcher's; the AOT library has none
    source = ("loaded from numba's cache" if stats.cache_hits else "compiled") if stats else "loaded"
    print(f"kernel: {kernel.describe()}, {source} in {compiled:.2f} s; not included in the timings below.\n")
    met = compare(args.quick) + real_time(args.quick)
    print(f"\n{sum(met)} of {len(met)} speed goals met ('!' marks a ratio below its goal).")


if __name__ == "__main__":
    main()
