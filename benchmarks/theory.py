"""Wall time of the explaining features: theory.predict, the batch-means band and the N-1 check.

Run: ``.venv/bin/python benchmarks/theory.py``. Figures are compared with a reference measured
in the same run: the N-1 check (one fork per node, each simulated ``horizon`` seconds ahead) is
printed beside the time the engine takes to simulate the same horizon once, so its cost reads as
"about N plain look-aheads". The window runs the check in a worker process; predict and the band
run in the frame, so they are held against the 16 ms frame budget.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim_core.engine.simulation import Simulation  # noqa: E402
from sim_core.scenario import Node  # noqa: E402
from sim_core.scenario_file import resolve
from sim_core.theory import confidence, n_minus_one  # noqa: E402
from sim_core.theory import predict as theory

FRAME_BUDGET_MS = 16.0


def cluster(n_nodes: int, rate_per_node: float = 7.0):
    """``n_nodes`` 1-CPU nodes, round-robin, at 70% load."""
    base = resolve("horizontal-7x1")
    nodes = [Node(name=f"node-{i + 1}", x=float(i % 20) * 200, y=float(i // 20) * 150) for i in range(n_nodes)]
    workload = base.workload.model_copy(update={"rate": rate_per_node * n_nodes, "max_rate": 10.0 * n_nodes})
    return base.model_copy(update={"nodes": nodes, "workload": workload})


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=float, default=60.0, help="N-1 look-ahead in simulated seconds")
    args = parser.parse_args()
    Simulation(cluster(7)).step(1.0)  # compile or load the kernel first

    print(f"{'case':<34}{'wall':>12}  reference")
    for n in (7, 200):
        sc = cluster(n)
        predict_s = best_of(5, lambda sc=sc: theory.predict(sc))
        print(f"{f'theory.predict, {n} nodes':<34}{predict_s * 1e3:>9.2f} ms  frame budget {FRAME_BUDGET_MS:g} ms")
    rng = np.random.default_rng(1)
    sums, counts = rng.exponential(1.0, 600), rng.integers(1, 50, 600)
    band_s = best_of(20, lambda: (confidence.batch_means_of_sums(sums, counts),
                                  confidence.mser_truncation_of_sums(sums, counts)))
    print(f"{'band + MSER-5, 600 steps':<34}{band_s * 1e3:>9.2f} ms  frame budget {FRAME_BUDGET_MS:g} ms")
    n1_wall_times(args.horizon)
    return 0


def n1_wall_times(horizon_s: float = 60.0) -> None:
    """Print the N-1 check's wall time for 7 and for 200 nodes, beside one plain look-ahead."""
    for n in (7, 200):
        sim = Simulation(cluster(n), seed=1)
        sim.step(30.0)
        plain = best_of(1, lambda sim=sim: list(n_minus_one.fork(sim).run(horizon_s, 5.0)))
        check_s = best_of(1, lambda sim=sim: n_minus_one.check(sim, horizon_s=horizon_s))
        print(f"{f'N-1 check, {n} nodes, {horizon_s:g} s ahead':<34}{check_s:>9.2f} s   one plain "
              f"{horizon_s:g} s look-ahead: {plain:.3f} s ({check_s / plain:.0f}x)")


if __name__ == "__main__":
    sys.exit(main())
