"""Running a sweep: one engine run per point and replication, in-process or on Dask distributed.

``run_point`` runs one scenario for some simulated seconds and returns its figures;
``evaluate`` does it for one ``RunTask`` and adds the point's axes and constraint check: it is the
function Dask ships to the workers, so it only needs ``sim_core`` installed there.
``Sequential`` and ``DaskBackend`` run a batch of tasks and yield their results as they finish;
``run_sweep`` runs a spec's grid, list or search on either, with progress and cancellation.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sim_core.scenario import Scenario
from sim_core.sweep.points import SweepPoint, build_scenario, grid_points, listed_points, seed_for
from sim_core.sweep.spec import Constraints, SweepSpec

SWEEP_LIBRARIES = ("distributed", "pyarrow", "matplotlib")  # Dask, Parquet, the chart: only sweeps need them


def sweeps_unavailable(needed: tuple[str, ...] = SWEEP_LIBRARIES) -> str:
    """One line saying which of the ``needed`` libraries this install lacks, or "" when it has them all.

    The packaged app (scalelab.spec) leaves them all out: they would double its size.
    """
    import importlib.util

    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if not missing:
        return ""
    return (f"What-if sweeps need {', '.join(missing)}, which this install does not have (the packaged app "
            "leaves them out to stay small): run sweeps from a Python install of ScaleLab (see the README)")


ENGINE_STEP_S = 1.0  # the engine's step; results do not depend on it, only the run's overhead does
METRIC_COLUMNS = (
    "offered_rps", "served_rps", "p50_ms", "p95_ms", "p99_ms", "mean_ms",
    "rejected", "lost", "availability_pct", "utilization_pct", "cost_per_hour",
)


def run_point(scenario: Scenario, seed: int, seconds: float) -> dict[str, float]:
    """Run ``scenario`` from empty for ``seconds`` with ``seed``; its figures over the whole run.

    The figures are the session layer's run summary (``metrics.run``, as ``scalelab run`` prints
    it): throughput in req/s, latency percentiles and mean in ms (of the completed requests),
    rejected and lost as counts, availability served/(served+rejected+lost) and mean node
    utilization in percent, cost in $/h. NaN where nothing completed.
    """
    from sim_core import metrics

    summary, _ = metrics.run(scenario, seconds, seed=seed, dt=ENGINE_STEP_S)
    return {
        "offered_rps": summary.offered_rps,
        "served_rps": summary.served_rps,
        "p50_ms": summary.p50_ms,
        "p95_ms": summary.p95_ms,
        "p99_ms": summary.p99_ms,
        "mean_ms": summary.mean_ms,
        "rejected": summary.rejected,
        "lost": summary.lost,
        "availability_pct": 100.0 * summary.availability,
        "utilization_pct": 100.0 * summary.utilization,
        "cost_per_hour": summary.cost_per_hour,
    }


def meets(constraints: Constraints, p99_ms: float, availability_pct: float) -> bool:
    """Whether figures meet the constraints: p99 at most ``p99_ms``, availability at least the goal.

    A NaN figure (nothing completed) meets nothing.
    """
    if constraints.p99_ms is not None and not p99_ms <= constraints.p99_ms:
        return False
    return constraints.availability_pct is None or availability_pct >= constraints.availability_pct


@dataclass(frozen=True)
class RunTask:
    """One engine run: a point's cluster with one replication's seed. Pickled to Dask workers."""

    point: SweepPoint
    replication: int
    seed: int
    scenario: Scenario
    seconds: float
    constraints: Constraints

    @property
    def key(self) -> tuple[int, int]:
        return self.point.index, self.replication


def evaluate(task: RunTask) -> tuple[dict[str, Any], float]:
    """Run one task: its results row (point, replication, seed, axes, figures, constraints met)
    and the wall seconds the engine took (kept out of the row, so rows are reproducible)."""
    wall = time.perf_counter()
    figures = run_point(task.scenario, task.seed, task.seconds)
    wall = time.perf_counter() - wall
    row = {"point": task.point.index, "replication": task.replication, "seed": task.seed,
           **task.point.columns(), **figures,
           "meets_constraints": meets(task.constraints, figures["p99_ms"], figures["availability_pct"])}
    return row, wall


def tasks_for(spec: SweepSpec, base: Scenario, points: Iterable[SweepPoint]) -> list[RunTask]:
    """Every replication of every point, in (point, replication) order."""
    return [
        RunTask(point, r, seed_for(spec, point.index, r), build_scenario(base, point, spec), spec.seconds,
                spec.constraints)
        for point in points for r in range(spec.replications)
    ]


# --- backends ------------------------------------------------------------------------------

class CancelledError(Exception):
    """The sweep was stopped (Ctrl-C or the window's Cancel); the finished rows are kept."""


Result = tuple[RunTask, dict[str, Any], float]  # the task, its row, its engine seconds


class Sequential:
    """Runs the tasks one after another in this process (the reference the tests compare with)."""

    workers = 1

    def run(self, tasks: list[RunTask], should_stop: Callable[[], bool]) -> Iterator[Result]:
        for task in tasks:
            if should_stop():
                raise CancelledError
            row, wall = evaluate(task)
            yield task, row, wall


class DaskBackend:
    """Runs tasks on a Dask ``Client``; results are yielded as they finish, in any order.

    A task whose worker dies is rerun elsewhere by the scheduler, and each task is yielded once.
    """

    def __init__(self, client: Any):
        self.client = client

    @property
    def workers(self) -> int:
        return max(1, len(self.client.nthreads()))  # worker address -> threads, every worker

    def run(self, tasks: list[RunTask], should_stop: Callable[[], bool]) -> Iterator[Result]:
        from distributed import as_completed

        if not tasks:
            return
        # Keys unique to this batch: Dask would hand back a finished task of the same key instead of
        # running it, and a scheduler may serve several sweeps (or one backend several batches).
        token = uuid.uuid4().hex[:12]
        keys = [f"scalelab-sweep-{token}-{t.point.index}-{t.replication}" for t in tasks]
        futures = self.client.map(evaluate, tasks, key=keys, pure=False)
        by_key = dict(zip(keys, tasks, strict=True))
        pending = as_completed(futures, with_results=True, raise_errors=False)
        try:
            while not pending.is_empty():
                if should_stop():
                    raise CancelledError
                batch = pending.next_batch(block=False)
                if not batch:
                    time.sleep(0.01)
                    continue
                for future, result in batch:
                    if future.status == "error":
                        raise result if isinstance(result, BaseException) else RuntimeError(str(result))
                    if future.status != "finished":  # cancelled by someone else on a shared scheduler
                        raise RuntimeError(f"run {future.key} was {future.status} on the Dask cluster")
                    row, wall = result
                    yield by_key[future.key], row, wall
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def local_client(workers: int | None = None) -> Any:
    """A Dask Client on a new LocalCluster on loopback: ``workers`` processes (default: one per
    core), one thread each (the engine holds the GIL). Close it (``close_client``) when done."""
    import logging
    import os
    import signal

    from distributed import Client, LocalCluster

    count = workers or os.cpu_count() or 1
    # The workers ignore Ctrl-C (inherited across exec): the sweep cancels their tasks itself,
    # instead of every worker process dying with a traceback when the terminal sends SIGINT.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    try:
        # Loopback only; the scheduler's HTTP routes on a free port (None would mean 8787, which
        # another cluster on the machine may hold). Quiet logs: a worker's heartbeat racing the
        # shutdown logs an error with a traceback; a task's own error reaches the sweep anyway.
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return Client(cluster)


def close_client(client: Any) -> None:
    """Close a client and the LocalCluster it owns (if any)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# --- a whole sweep -------------------------------------------------------------------------

@dataclass
class SweepRun:
    """What a sweep produced: rows sorted by (point, replication), whether it was cancelled,
    and the engine seconds of each run (for the benchmark and the progress figures)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    engine_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0


Progress = Callable[[int, int, dict[str, Any]], None]  # (runs done, runs expected, the new row)


def run_sweep(spec: SweepSpec, base: Scenario, backend: Sequential | DaskBackend,
              on_row: Progress | None = None, should_stop: Callable[[], bool] = lambda: False) -> SweepRun:
    """Run the spec's grid, list of points or search on ``backend``.

    ``on_row(done, expected, row)`` is called as each run finishes (in completion order).
    Ctrl-C (KeyboardInterrupt) or ``should_stop()`` returning True cancels the rest: the result
    keeps the finished rows and has ``cancelled`` set.
    """
    from sim_core.sweep.search import search

    out = SweepRun()
    start = time.perf_counter()
    expected = [0]

    def execute(tasks: list[RunTask], more: int = 0) -> list[dict[str, Any]]:
        expected[0] = len(out.rows) + len(tasks) + more
        batch = []
        for _task, row, wall in backend.run(tasks, should_stop):
            out.rows.append(row)
            out.engine_s.append(wall)
            batch.append(row)
            if on_row is not None:
                on_row(len(out.rows), expected[0], row)
        return batch

    try:
        if spec.mode == "search":
            search(spec, base, lambda points, more: execute(tasks_for(spec, base, points), more))
        else:
            points = grid_points(spec, base) if spec.mode == "grid" else listed_points(spec, base)
            execute(tasks_for(spec, base, points))
    except (CancelledError, KeyboardInterrupt):
        out.cancelled = True
    out.rows.sort(key=lambda row: (row["point"], row["replication"]))
    out.wall_s = time.perf_counter() - start
    return out


def mean_meets(spec: SweepSpec, rows: list[dict[str, Any]]) -> bool:
    """Whether a point's rows (its replications) meet the constraints on their mean figures."""
    p99 = math.fsum(r["p99_ms"] for r in rows) / len(rows)
    availability = math.fsum(r["availability_pct"] for r in rows) / len(rows)
    return meets(spec.constraints, p99, availability)
