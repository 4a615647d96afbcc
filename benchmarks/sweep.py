"""Sweep throughput on Dask: points per second on 1 and 2 workers, scaling efficiency, overhead.

Run: ``.venv/bin/python benchmarks/sweep.py`` (about three minutes) or with ``--quick``.

Each point is calibrated to about ``--point-s`` seconds of engine work (default 1 s: 50 nodes of
2 cores at 800 req/s, least connections, the simulated seconds scaled to the target), and every
worker runs one point before timing starts, so numba's cache load is not counted. Measured:
- points per second on a LocalCluster of 1 worker and of 2 workers, and on a loopback
  ``dask scheduler`` with 1 and then 2 ``dask worker`` processes;
- scaling efficiency = points/s on 2 workers / (2 x points/s on 1 worker), goal >= 0.8;
- overhead per point = (wall time x workers - engine time) / engine time, summed over the
  points of a run (scheduling, transfer, result handling), goal < 5% for 1 s points.
Printed against the goals. Other processes on the machine lower the 2-worker figures: the
reference for each is the 1-worker run measured in the same invocation, and the load average
and the engine's own slowdown per point (same work, more wall time) are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim_core.scenario_file import resolve
from sim_core.sweep.runner import DaskBackend, Sequential, close_client, local_client, run_sweep
from sim_core.sweep.spec import validate_spec

GOAL_EFFICIENCY = 0.8
GOAL_OVERHEAD = 0.05
REPO = Path(__file__).resolve().parent.parent


def spec_for(seconds: float, points: int, seed: int = 1):
    """``points`` points (node counts 50, 51, ...) of ``seconds`` simulated seconds each."""
    return validate_spec({
        "name": "bench", "base": "horizontal-7x1", "seconds": seconds, "seed": seed,
        "axes": {"nodes": list(range(50, 50 + points)), "cores": [2], "rate": [800.0],
                 "policy": ["least_connections"]},
    })


def calibrate(target_s: float) -> float:
    """Simulated seconds per point that take about ``target_s`` of engine time in this process."""
    base = resolve("horizontal-7x1")
    run_sweep(spec_for(2.0, 1), base, Sequential())  # compile or load the kernel
    probe = 10.0
    run = run_sweep(spec_for(probe, 1), base, Sequential())
    return max(1.0, round(probe * target_s / run.engine_s[0], 1))


def measure(client, workers: int, seconds: float, per_worker: int) -> dict:
    base = resolve("horizontal-7x1")
    backend = DaskBackend(client)
    run_sweep(spec_for(2.0, workers, seed=99), base, backend)  # every worker loads the kernel once
    load = os.getloadavg()[0]
    run = run_sweep(spec_for(seconds, workers * per_worker), base, backend)
    engine = sum(run.engine_s)
    return {
        "load": (load + os.getloadavg()[0]) / 2,
        "workers": workers, "points": len(run.rows), "wall_s": run.wall_s,
        "points_per_s": len(run.rows) / run.wall_s,
        "engine_per_point_s": engine / len(run.rows),
        "overhead": (run.wall_s * workers - engine) / engine,
    }


def loopback(workers: int):
    """A ``dask scheduler`` and ``workers`` ``dask worker`` processes on 127.0.0.1; (client, stop)."""
    from distributed import Client

    folder = tempfile.mkdtemp(prefix="scalelab-bench-")
    scheduler_file = os.path.join(folder, "scheduler.json")
    dask = [sys.executable, "-m", "dask"]
    quiet = {"cwd": REPO, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", scheduler_file], **quiet)]
    while not os.path.exists(scheduler_file):
        time.sleep(0.1)
    time.sleep(0.2)
    address = json.loads(Path(scheduler_file).read_text())["address"]
    procs += [subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                                "127.0.0.1"], **quiet) for _ in range(workers)]
    client = Client(address, timeout="30s")
    client.wait_for_workers(workers, timeout=120)

    def stop() -> None:
        client.close()
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)

    return client, stop


def report(label: str, one: dict, two: dict) -> list[str]:
    efficiency = two["points_per_s"] / (2 * one["points_per_s"])
    lines = [f"\n{label}"]
    for m in (one, two):
        lines.append(f"  {m['workers']} worker{'s' if m['workers'] > 1 else ' '}: {m['points']:3d} points in "
                     f"{m['wall_s']:6.2f} s = {m['points_per_s']:.3f} points/s; engine {m['engine_per_point_s']:.3f} "
                     f"s/point; overhead {100 * m['overhead']:+.1f}% (goal < {100 * GOAL_OVERHEAD:.0f}%: "
                     f"{'met' if m['overhead'] < GOAL_OVERHEAD else 'NOT met'})")
    lines.append(f"  scaling efficiency {efficiency:.2f} (goal >= {GOAL_EFFICIENCY}: "
                 f"{'met' if efficiency >= GOAL_EFFICIENCY else 'NOT met'})")
    slowdown = two["engine_per_point_s"] / one["engine_per_point_s"]
    lines.append(f"  the same engine work took {slowdown:.2f}x as long per point on 2 workers (load average "
                 f"{one['load']:.1f} then {two['load']:.1f} on {os.cpu_count()} cores): with the cores to "
                 f"itself the efficiency would be about {min(efficiency * slowdown, 1.0):.2f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points per worker (3 instead of 8)")
    parser.add_argument("--point-s", type=float, default=1.0, help="engine seconds per point (default 1)")
    args = parser.parse_args()
    per_worker = 3 if args.quick else 8
    seconds = calibrate(args.point_s)
    print(f"points of {seconds:g} simulated s (about {args.point_s:g} s of engine work), {per_worker} per worker; "
          f"{os.cpu_count()} cores")
    lines = []
    results = {}
    for workers in (1, 2):
        client = local_client(workers)
        try:
            results[workers] = measure(client, workers, seconds, per_worker)
        finally:
            close_client(client)
    lines += report("LocalCluster", results[1], results[2])
    for workers in (1, 2):
        client, stop = loopback(workers)
        try:
            results[workers] = measure(client, workers, seconds, per_worker)
        finally:
            stop()
    lines += report("loopback dask scheduler + dask worker processes", results[1], results[2])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
