"""What-if sweeps without Dask: the spec and its messages, points and seeds, the search, the
results files, cancellation, and ``scalelab sweep --in-process``. Dask itself: test_sweep_dask.py."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim_core.cli import main
from sim_core.scenario_file import resolve
from sim_core.sweep.command import BUILTIN_SWEEPS, builtin_sweeps
from sim_core.sweep.points import build_scenario, grid_points, listed_points, seed_for
from sim_core.sweep.results import RUN_COLUMNS, aggregate, mean_ci95, t975
from sim_core.sweep.runner import Sequential, evaluate, run_sweep, tasks_for
from sim_core.sweep.search import combinations
from sim_core.sweep.spec import load_spec, validate_spec

REPO = Path(__file__).resolve().parent.parent
SMALL = {  # 6 points x 2 replications of 5 s: about a second in-process
    "name": "small", "base": "horizontal-7x1", "seconds": 5, "seed": 11, "replications": 2,
    "axes": {"nodes": [1, 2, 3], "cores": [1, 2], "rate": [15]},
    "constraints": {"p99_ms": 600, "availability_pct": 99},
}


def spec_of(**changes):
    data = json.loads(json.dumps(SMALL))
    data.update(changes)
    return validate_spec(data), resolve(data["base"])


def write_spec(tmp_path: Path, data: dict, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def same(a: dict, b: dict) -> bool:
    """Rows equal cell for cell, NaN equal to NaN."""
    def key(v):
        return "nan" if isinstance(v, float) and math.isnan(v) else v
    return a.keys() == b.keys() and all(key(a[k]) == key(b[k]) for k in a)


# --- the spec ------------------------------------------------------------------------------

def test_builtin_specs_load_and_name_their_axes():
    assert set(builtin_sweeps()) >= {"slide-horizontal-vs-vertical", "n-minus-1"}
    slide, base = load_spec(BUILTIN_SWEEPS / "slide-horizontal-vs-vertical.toml")
    assert slide.axes.cores == [1, 2, 4, 8] and slide.axes.nodes == list(range(1, 17))
    assert min(slide.axes.rate) == 20 and max(slide.axes.rate) == 200
    assert len(grid_points(slide, base)) == 4 * 16 * len(slide.axes.rate)
    n1, _ = load_spec(BUILTIN_SWEEPS / "n-minus-1.toml")
    assert n1.mode == "search" and n1.axes.failure[0].kind == "one_node"


@pytest.mark.parametrize(("change", "message"), [
    ({"axes": {"cores": [1, 0]}}, "axes.cores[1]: 0 is not in 1..256"),
    ({"axes": {"rate": ["fast"]}}, "axes.rate[0]: 'fast' is not a number in 0..2000000"),
    ({"axes": {"policy": ["fastest"]}}, "axes.policy[0]: 'fastest' is not one of"),
    ({"axes": {"failure": [{"kind": "one_node", "at_s": -1}]}}, "axes.failure[0].at_s: -1 is not in 0..10000000"),
    ({"axes": {"cores": []}}, "axes.cores:"),
    ({"replications": 0}, "replications: 0 is not in 1..1000"),
    ({"constraints": {"p99_ms": "low"}}, "constraints.p99_ms: 'low' is not a number"),
    ({"colour": "red"}, "colour: unknown key"),
    ({"mode": "search"}, 'axes.nodes'),
    ({"mode": "points"}, 'points: missing'),
    ({"base": "no-such-scenario"}, "base: scenario: 'no-such-scenario' is not a built-in scenario"),
])
def test_a_bad_spec_exits_2_with_the_field_path(capsys, tmp_path, change, message):
    data = {**json.loads(json.dumps(SMALL)), **change}
    if change.get("mode") == "search":
        data["axes"] = {"cores": [1]}
    code = main(["sweep", str(write_spec(tmp_path, data)), "--in-process", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_bad_toml_spec_in_a_real_process_lists_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('base = "horizontal-7x1"\nseconds = 0\n[axes]\nnodes = [0, 3]\nram_gb = [0.01]\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "import sys; from app.main import main; sys.exit(main())",
                           "sweep", str(path)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "seconds: 0 is not in 1..1000000",
        "axes.nodes[0]: 0 is not in 1..5000",
        "axes.ram_gb[0]: 0.01 is not in 0.125..4096",
    ]


def test_a_spec_that_is_not_toml_names_the_file(capsys, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("base = \n", encoding="utf-8")
    assert main(["sweep", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"{path}: not valid TOML")


# --- points, clusters and seeds --------------------------------------------------------------

def test_grid_is_every_combination_and_clusters_follow_the_axes():
    spec, base = spec_of()
    points = grid_points(spec, base)
    assert [(p.values["nodes"], p.values["cores"]) for p in points] == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]
    template = base.nodes[0]
    for point in points:
        scenario = build_scenario(base, point, spec)
        assert len(scenario.nodes) == point.values["nodes"]
        assert {n.cores for n in scenario.nodes} == {point.values["cores"]}
        # RAM and price per core as in the base node (the slide: 1 GB and $0.0116 per core)
        assert scenario.nodes[0].ram_gb == pytest.approx(template.ram_gb * point.values["cores"])
        assert point.values["ram_gb"] == scenario.nodes[0].ram_gb
        assert scenario.nodes[0].price_per_hour == pytest.approx(template.price_per_hour * point.values["cores"])
        assert scenario.workload.rate == 15 and scenario.events == []


def test_listed_points_keep_the_base_where_they_say_nothing():
    spec, base = spec_of(mode="points", axes={}, points=[{"nodes": 2}, {"cores": 4, "ram_gb": 1, "policy": "random"}])
    first, second = listed_points(spec, base)
    assert first.values["nodes"] == 2 and first.values["cores"] == base.nodes[0].cores
    assert second.values["nodes"] == len(base.nodes) and second.values["ram_gb"] == 1
    assert build_scenario(base, second, spec).balancer.policy == "random"


def test_the_failure_axis_fails_one_node_and_may_recover_it():
    spec, base = spec_of(axes={"nodes": [3], "failure": [{"kind": "none"}, {"kind": "one_node", "at_s": 2,
                                                                           "recover_after_s": 1.5}]})
    quiet, failing = (build_scenario(base, p, spec) for p in grid_points(spec, base))
    assert quiet.events == []
    assert [(e.action, e.node, e.at_s) for e in failing.events] == [("fail", "node-1", 2), ("recover", "node-1", 3.5)]
    row, _ = evaluate(tasks_for(spec, base, grid_points(spec, base))[2])
    assert row["failure"] == "one@2s+1.5s" and row["lost"] > 0


def test_seeds_depend_on_the_point_and_replication_only():
    spec, base = spec_of()
    seeds = [seed_for(spec, i, r) for i in range(6) for r in range(2)]
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**63 for s in seeds)
    assert seed_for(spec, 4, 1) == seed_for(spec_of(axes={"nodes": [9]})[0], 4, 1)  # not on what else is swept
    crn, _ = spec_of(common_random_numbers=True)
    assert seed_for(crn, 0, 1) == seed_for(crn, 5, 1) != seed_for(crn, 5, 0)


# --- running ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_run():
    spec, base = spec_of()
    return spec, base, run_sweep(spec, base, Sequential())


def test_a_run_row_has_the_engine_figures_of_its_seed(small_run):
    spec, base, run = small_run
    assert [(r["point"], r["replication"]) for r in run.rows] == [(i, r) for i in range(6) for r in range(2)]
    task = tasks_for(spec, base, grid_points(spec, base))[7]
    from sim_core.engine.simulation import Simulation

    sim = Simulation(task.scenario, seed=task.seed)
    snap = list(sim.run(spec.seconds, dt=0.25))[-1]  # another step size: the same requests
    row = run.rows[7]
    assert row["seed"] == task.seed and row["offered_rps"] == snap.offered_total / spec.seconds
    assert row["p99_ms"] == pytest.approx(1000 * snap.latency_total_p99)
    assert row["rejected"] == snap.rejected_total and row["lost"] == snap.lost_total == 0
    # one 1-core node at 15 req/s of 100 ms requests is overloaded; three 2-core nodes are not
    by_point = {r["point"]: r for r in run.rows if r["replication"] == 0}
    assert by_point[0]["rejected"] > 0 and not by_point[0]["meets_constraints"]
    assert by_point[5]["rejected"] == 0 and by_point[5]["p99_ms"] < by_point[0]["p99_ms"]


def test_points_table_is_the_mean_and_95_interval_of_the_replications(small_run):
    spec, _, run = small_run
    points = aggregate(spec, run.rows)
    assert len(points) == 6
    for point in points:
        runs = [r["p99_ms"] for r in run.rows if r["point"] == point["point"]]
        assert point["p99_ms"] == pytest.approx(np.mean(runs))
        assert point["p99_ms_ci95"] == pytest.approx(t975(1) * np.std(runs, ddof=1) / math.sqrt(2))
    assert math.isnan(mean_ci95([3.0])[1]) and mean_ci95([1.0, math.nan, 3.0])[0] == 2.0
    assert t975(30) == pytest.approx(2.042, abs=2e-3) and t975(1000) == pytest.approx(1.962, abs=1e-3)


def test_stopping_keeps_exactly_the_finished_runs(small_run):
    spec, base, full = small_run
    seen = []
    run = run_sweep(spec, base, Sequential(), on_row=lambda done, total, row: seen.append((done, total)),
                    should_stop=lambda: len(seen) >= 5)
    assert run.cancelled and len(run.rows) == 5 and seen[-1] == (5, 12)
    assert all(same(a, b) for a, b in zip(run.rows, full.rows[:5], strict=False))


def test_search_finds_the_fewest_nodes_that_meet_the_goal_with_grid_rows(small_run):
    spec, base, grid = small_run
    search_spec, _ = spec_of(mode="search")
    run = run_sweep(search_spec, base, Sequential())
    points = aggregate(search_spec, run.rows)
    grid_points_table = aggregate(spec, grid.rows)
    for cores in (1, 2):
        meeting = [p["nodes"] for p in grid_points_table if p["cores"] == cores and p["meets_constraints"]]
        found = [p["nodes"] for p in points if p["cores"] == cores and p["meets_constraints"]]
        assert min(found, default=None) == min(meeting, default=None)
    by_key = {(r["point"], r["replication"]): r for r in grid.rows}
    assert all(same(r, by_key[(r["point"], r["replication"])]) for r in run.rows)
    assert len(run.rows) < len(grid.rows) or len(combinations(search_spec, base)[0].points) <= 3


# --- the command, files and Ctrl-C -----------------------------------------------------------

def test_in_process_sweep_writes_tables_and_the_pareto_chart(capsys, tmp_path, small_run):
    spec, _, run = small_run
    out = tmp_path / "out"
    code = main(["sweep", str(write_spec(tmp_path, SMALL)), "--in-process", "--quiet", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    with (out / "runs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["point"] for r in rows] == [str(r["point"]) for r in run.rows]
    assert tuple(rows[0]) == RUN_COLUMNS
    table = pq.read_table(out / "runs.parquet").to_pylist()
    assert all(same(a, b) for a, b in zip(table, run.rows, strict=True))
    points = pq.read_table(out / "points.parquet").to_pylist()
    assert [p["p99_ms"] for p in points] == [p["p99_ms"] for p in aggregate(spec, run.rows)]
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (out / "pareto.svg").read_bytes()
    assert "cheapest cluster meeting the constraints" in stdout and "12 runs of 6 points" in stdout


def _ctrl_c_as_on_a_terminal() -> None:
    """In the child: SIGINT's default action. A test run started in the background by a shell without
    job control ignores SIGINT, and Python keeps an ignored SIGINT ignored: Ctrl-C would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_the_finished_runs_and_exits_130(tmp_path):
    data = {**SMALL, "seconds": 60, "axes": {"nodes": list(range(1, 9)), "cores": [1, 2], "rate": [15]}}
    out = tmp_path / "out"
    env = {**os.environ, "TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "120"}  # the bar as on a terminal
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from app.main import main; sys.exit(main())",
                             "sweep", str(write_spec(tmp_path, data)), "--in-process", "--no-plot", "--out", str(out)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_ctrl_c_as_on_a_terminal)
    os.set_blocking(proc.stderr.fileno(), False)
    text, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not re.search(rb"\b[2-9]/32 runs", text):
        text += proc.stderr.read() or b""
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=60)
    err = (text + rest).decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted: kept the" in err
    kept = pq.read_table(out / "runs.parquet").to_pylist()
    assert 2 <= len(kept) < 32
    spec, base = validate_spec(data), resolve("horizontal-7x1")
    tasks = {t.key: t for t in tasks_for(spec, base, grid_points(spec, base))}
    assert all(same(row, evaluate(tasks[(row["point"], row["replication"])])[0]) for row in kept[:2])


def _without(monkeypatch, *names: str) -> None:
    """Make ``names`` look uninstalled, as in the packaged app (scalelab.spec leaves them out)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a))


def test_without_the_sweep_libraries_sweep_says_to_use_the_python_install(capsys, monkeypatch, tmp_path):
    _without(monkeypatch, "distributed", "matplotlib")
    out = tmp_path / "out"
    assert main(["sweep", str(write_spec(tmp_path, SMALL)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [err.strip()] and "Traceback" not in err
    assert err.startswith("What-if sweeps need distributed, matplotlib, which this install does not have")
    assert "Python install" in err and not out.exists()
    # what a run in this process without the chart needs is there: it runs
    assert main(["sweep", str(write_spec(tmp_path, SMALL)), "--in-process", "--no-plot", "--quiet",
                 "--out", str(out)]) == 0
