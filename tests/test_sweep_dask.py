"""Sweeps on Dask distributed give the in-process table row for row: on a LocalCluster of two
workers, on a scheduler and two workers started with Dask's own commands on loopback, and when
a worker is killed in the middle (its tasks are rerun, none lost or duplicated).

Clusters take seconds to start, so each is shared by the module's tests.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim_core.cli import main
from sim_core.scenario_file import resolve
from sim_core.sweep.runner import DaskBackend, Sequential, close_client, local_client, run_sweep
from sim_core.sweep.spec import validate_spec

REPO = Path(__file__).resolve().parent.parent
SPEC = {  # 8 points x 2 replications of 10 s
    "name": "dask-check", "base": "horizontal-7x1", "seconds": 8, "seed": 5, "replications": 2,
    "axes": {"nodes": [1, 2, 4, 6], "cores": [1, 2], "rate": [25],
             "failure": [{"kind": "one_node", "at_s": 4}]},
    "constraints": {"p99_ms": 800, "availability_pct": 95},
}


def key(row: dict) -> tuple:
    return tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row.values())


@pytest.fixture(scope="module")
def reference():
    spec = validate_spec(SPEC)
    base = resolve(SPEC["base"])
    return spec, base, run_sweep(spec, base, Sequential()).rows


@pytest.fixture(scope="module")
def local():
    client = local_client(2)
    yield client
    close_client(client)


def test_two_local_workers_give_the_sequential_table_row_for_row(reference, local):
    spec, base, rows = reference
    run = run_sweep(spec, base, DaskBackend(local))
    assert len(local.scheduler_info()["workers"]) == 2
    assert not run.cancelled
    assert [key(r) for r in run.rows] == [key(r) for r in rows]
    assert len(rows) == 16 and any(r["lost"] > 0 for r in rows)  # the failure really happened


def test_one_backend_runs_two_sweeps_with_the_same_point_numbers(reference, local):
    spec, base, rows = reference
    backend = DaskBackend(local)
    first = run_sweep(spec, base, backend)
    other = validate_spec({**SPEC, "seed": 6, "replications": 1, "axes": {**SPEC["axes"], "nodes": [2, 3]}})
    second = run_sweep(other, base, backend)  # points 0..3 again: each must really run, not reuse a result
    assert [key(r) for r in first.rows] == [key(r) for r in rows]
    assert [key(r) for r in second.rows] == [key(r) for r in run_sweep(other, base, Sequential()).rows]


def test_a_killed_worker_neither_loses_nor_duplicates_runs(reference, local):
    spec, base, rows = reference
    pids = local.run(os.getpid)  # worker address -> process id
    killed = []

    def kill_one(done: int, expected: int, row: dict) -> None:
        if not killed and done >= 2:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)  # the nanny restarts it; the scheduler reruns its tasks
            killed.append((victim, done, expected))

    run = run_sweep(spec, base, DaskBackend(local), on_row=kill_one)
    assert killed and killed[0][1] < killed[0][2]  # killed while runs were still to come
    assert not run.cancelled
    assert [(r["point"], r["replication"]) for r in run.rows] == [(r["point"], r["replication"]) for r in rows]
    assert [key(r) for r in run.rows] == [key(r) for r in rows]
    assert killed[0][0] not in local.run(os.getpid).values()


@pytest.fixture(scope="module")
def loopback_cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; yields the address."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    common = {"cwd": REPO, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)], **common)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny",
                                           "--host", "127.0.0.1"], **common))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):  # the workers, then the scheduler; a graceful close is not under test
            proc.kill()
            proc.wait(timeout=20)


def test_scalelab_sweep_on_a_scheduler_address_gives_the_same_table(reference, loopback_cluster, tmp_path, capsys):
    spec, _, rows = reference
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC), encoding="utf-8")
    code = main(["sweep", str(path), "--scheduler", loopback_cluster, "--quiet", "--no-plot", "--out",
                 str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "on 2 Dask workers" in captured.err
    table = pq.read_table(tmp_path / "out" / "runs.parquet").to_pylist()
    assert [key(r) for r in table] == [key(r) for r in rows]


def test_an_unreachable_scheduler_exits_2(capsys, monkeypatch):
    monkeypatch.setattr("sim_core.sweep.command.CONNECT_TIMEOUT_S", 1.0)
    code = main(["sweep", "n-minus-1", "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("--scheduler tcp://127.0.0.1:9: cannot connect")
