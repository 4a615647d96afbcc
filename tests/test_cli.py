"""The headless command line: ``scalelab run`` and ``scalelab validate``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim_core.cli import main
from sim_core.metrics import CSV_COLUMNS
from sim_core.scenario_file import builtin_names, builtin_path, resolve

REPO = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path: Path) -> tuple[list[str], list[dict[str, float]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [{k: float(v) if v else float("nan") for k, v in row.items()} for row in reader]
        return list(reader.fieldnames or []), rows


def run_rows(capsys, tmp_path: Path, scenario: str, seconds: float, *extra: str) -> list[dict[str, float]]:
    out_csv = tmp_path / f"{Path(scenario).stem}.csv"
    code, _, err = run_cli(capsys, "run", scenario, "--seconds", str(seconds), "--csv", str(out_csv), *extra)
    assert code == 0, err
    return read_csv(out_csv)[1]


def summary_value(out: str, label: str) -> str:
    """The value column of a summary line, e.g. ``rejected`` -> ``0``."""
    for line in out.splitlines():
        if line.strip().startswith(label + " "):
            return line[len("  ") + 20:].split()[0]
    raise AssertionError(f"no {label!r} line in:\n{out}")


def bad_scenario(tmp_path: Path) -> Path:
    data = json.loads(builtin_path("horizontal-7x1").read_text(encoding="utf-8"))
    data["nodes"][2]["cores"] = -3
    data["workload"]["rate"] = "fast"
    data["colour"] = "blue"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


# --- validate -----------------------------------------------------------------------------

def test_validate_a_builtin_by_name(capsys):
    assert run_cli(capsys, "validate", "vertical-2cpu") == (0, "ok: vertical-2cpu (1 node)\n", "")


def test_validate_a_file(capsys, tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(builtin_path("horizontal-7x1").read_text(encoding="utf-8"), encoding="utf-8")
    assert run_cli(capsys, "validate", str(path)) == (0, "ok: horizontal-7x1 (7 nodes)\n", "")


def test_validate_bad_file_prints_one_line_per_problem_and_exits_2(capsys, tmp_path):
    code, out, err = run_cli(capsys, "validate", str(bad_scenario(tmp_path)))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "nodes[2].cores: -3 is not in 1..256",
        "workload.rate: 'fast' is not a number in 0..2000000",
        "colour: unknown key (remove it or check its spelling)",
    ]


def test_validate_bad_file_in_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "app", "validate", str(bad_scenario(tmp_path))],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "nodes[2].cores: -3 is not in 1..256" in result.stderr.splitlines()


def test_validate_invalid_json_names_the_line(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "x",\n  "nodes": [\n}\n', encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", str(path))
    assert code == 2
    assert err.startswith(f"{path}: not valid JSON at line 4, column 1")


@pytest.mark.parametrize(("argument", "message"), [
    ("nowhere.json", "nowhere.json: no such file"),
    ("vertical-8cpu", "scenario: 'vertical-8cpu' is not a built-in scenario"),
])
def test_validate_missing_scenario(capsys, argument, message):
    code, out, err = run_cli(capsys, "validate", argument)
    assert (code, out) == (2, "")
    assert err.startswith(message)


def test_validate_without_a_scenario_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "validate")
    assert code == 2
    assert "the following arguments are required: SCENARIO" in err


# --- run --list ---------------------------------------------------------------------------

def test_list_shows_every_builtin_with_its_description(capsys):
    code, out, err = run_cli(capsys, "run", "--list")
    assert (code, err) == (0, "")
    flat = " ".join(out.split())
    for name in builtin_names():
        scenario = resolve(name)
        assert f"  {name}  (" in out
        assert " ".join(scenario.description.split()[:12]) in flat
    assert out.index("vertical-1cpu") < out.index("vertical-4cpu") < out.index("horizontal-7x1")
    assert "horizontal-7x1  (7 nodes, 60 s, the app's default)" in out


# --- run ----------------------------------------------------------------------------------

def test_run_writes_one_csv_row_per_second_that_add_up_to_the_summary(capsys, tmp_path):
    out_csv = tmp_path / "series.csv"
    code, out, err = run_cli(capsys, "run", "horizontal-7x1", "--seconds", "5", "--seed", "7", "--csv", str(out_csv))
    assert (code, err) == (0, "")
    columns, rows = read_csv(out_csv)
    assert tuple(columns) == CSV_COLUMNS
    assert [row["t_s"] for row in rows] == [1, 2, 3, 4, 5]
    assert all(row["cost_per_hour"] == pytest.approx(7 * 0.0116) and row["nodes_up"] == 7 for row in rows)
    assert all(0 <= row["utilization"] <= 1 and 0 <= row["availability"] <= 1 for row in rows)
    assert all(row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] for row in rows)
    offered = round(sum(row["offered_rps"] for row in rows))
    served, rejected, lost = (round(sum(row[c] for row in rows)) for c in ("served_rps", "rejected_rps", "lost_rps"))
    assert offered == served + rejected + lost + rows[-1]["in_system"]  # conservation
    assert f"req/s   {offered} requests" in out
    assert summary_value(out, "rejected") == str(rejected)
    assert summary_value(out, "throughput offered") == f"{offered / 5:.2f}"
    assert "horizontal-7x1: 7 nodes, round_robin balancer, 5 s simulated, seed 7" in out


def test_same_seed_same_numbers_other_seed_other_numbers(capsys, tmp_path):
    first = run_rows(capsys, tmp_path, "vertical-4cpu", 3, "--seed", "3")
    again = run_rows(capsys, tmp_path, "vertical-4cpu", 3, "--seed", "3")
    other = run_rows(capsys, tmp_path, "vertical-4cpu", 3, "--seed", "4")
    assert first == again
    assert [r["offered_rps"] for r in first] != [r["offered_rps"] for r in other]


def test_a_partial_last_second_gets_its_own_row(capsys, tmp_path):
    rows = run_rows(capsys, tmp_path, "vertical-1cpu", 2.5)
    assert [row["t_s"] for row in rows] == [1, 2, 2.5]


def test_csv_replaces_an_old_file_atomically(capsys, tmp_path):
    out_csv = tmp_path / "series.csv"
    out_csv.write_text("old contents\n", encoding="utf-8")
    assert run_cli(capsys, "run", "vertical-1cpu", "--seconds", "2", "--csv", str(out_csv))[0] == 0
    assert out_csv.read_text(encoding="utf-8").splitlines()[0] == ",".join(CSV_COLUMNS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.csv"]


def test_an_interrupted_run_keeps_the_rows_so_far_and_leaves_no_temporary_file(capsys, tmp_path, monkeypatch):
    """Ctrl-C in a long run: the seconds already simulated are kept in the CSV (issue 10)."""
    from sim_core.engine.simulation import Simulation

    out_csv = tmp_path / "series.csv"
    out_csv.write_text("old contents\n", encoding="utf-8")
    step_to = Simulation.step_to
    calls = []

    def step_then_ctrl_c(self, t_stop):
        calls.append(t_stop)
        if len(calls) > 25:  # in the third simulated second, rows already written
            raise KeyboardInterrupt
        return step_to(self, t_stop)

    monkeypatch.setattr(Simulation, "step_to", step_then_ctrl_c)
    code, _, err = run_cli(capsys, "run", "vertical-1cpu", "--seconds", "10", "--csv", str(out_csv))
    assert code == 130
    assert err.splitlines() == [f"kept the 2 rows written so far in {out_csv}", "interrupted"]
    columns, rows = read_csv(out_csv)
    assert columns == list(CSV_COLUMNS)
    assert [row["t_s"] for row in rows] == [1.0, 2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.csv"]


def test_trace_replay_gives_exact_latencies(capsys, tmp_path):
    trace = tmp_path / "log.csv"
    trace.write_text("arrival_s,cpu_s\n0.1,0.05\n0.2,0.1\n0.25,0.3\n", encoding="utf-8")
    rows = run_rows(capsys, tmp_path, "vertical-1cpu", 2, "--trace", str(trace))
    # one core, FIFO: 0.1 -> 0.15 (50 ms); 0.2 -> 0.3 (100 ms); 0.25 waits until 0.3 -> 0.6 (350 ms)
    first = rows[0]
    assert (first["offered_rps"], first["served_rps"], first["rejected_rps"]) == (3, 3, 0)
    assert first["p50_ms"] == pytest.approx(100.0, abs=1e-6)
    assert first["mean_ms"] == pytest.approx((50 + 100 + 350) / 3, abs=1e-6)
    assert rows[1]["offered_rps"] == 0
    assert rows[1]["utilization"] == 0


@pytest.mark.parametrize(("name", "served_rps"), [
    ("vertical-1cpu", 10), ("vertical-2cpu", 20), ("vertical-4cpu", 40), ("horizontal-7x1", None),
])
def test_slide_scenarios_serve_what_their_cpus_allow(capsys, tmp_path, name, served_rps):
    rows = run_rows(capsys, tmp_path, name, 40)[10:]  # after the queues have filled
    offered = sum(r["offered_rps"] for r in rows) / len(rows)
    served = sum(r["served_rps"] for r in rows) / len(rows)
    rejected = sum(r["rejected_rps"] for r in rows) / len(rows)
    if served_rps is None:  # the cluster keeps up
        assert served == pytest.approx(offered, rel=0.05)
        assert rejected < 0.01 * offered
    else:  # the single node is saturated and turns the rest away
        assert served == pytest.approx(served_rps, rel=0.15)
        assert rejected == pytest.approx(offered - served_rps, rel=0.25)


def test_gain_scalability_cluster_follows_the_ramp(capsys, tmp_path):
    rows = run_rows(capsys, tmp_path, "gain-scalability", 120)
    top = rows[100:]  # 60 req/s, six times what one node serves
    assert sum(r["served_rps"] for r in top) / len(top) == pytest.approx(60, rel=0.1)
    assert sum(r["rejected_rps"] + r["lost_rps"] for r in rows) <= 0.001 * sum(r["offered_rps"] for r in rows)


def test_gain_concurrency_cluster_holds_the_burst_one_4gb_node_does_not(capsys, tmp_path):
    cluster = run_rows(capsys, tmp_path, "gain-concurrency", 40)
    single = run_rows(capsys, tmp_path, "gain-concurrency-vertical", 40)
    assert [r["offered_rps"] for r in cluster] == [r["offered_rps"] for r in single]  # the same traffic
    assert sum(r["rejected_rps"] for r in cluster) == 0
    assert max(r["in_system"] for r in cluster) > 40
    assert sum(r["rejected_rps"] for r in single) > 0
    assert 35 <= max(r["in_system"] for r in single) <= 40  # full: floor(4096 MB / 100 MB) = 40


def test_gain_fault_tolerance_six_of_seven_carry_on(capsys, tmp_path):
    rows = run_rows(capsys, tmp_path, "gain-fault-tolerance", 90)
    by_t = {int(r["t_s"]): r for r in rows}
    # the fail event at 30.0 s happens after the row ending at 30 s, as a click at that instant would
    assert all(by_t[t]["nodes_up"] == 7 for t in range(1, 31))
    assert all(by_t[t]["nodes_up"] == 6 for t in range(31, 70))
    assert all(by_t[t]["nodes_up"] == 7 for t in range(71, 91))
    lost = {t: by_t[t]["lost_rps"] for t in by_t if by_t[t]["lost_rps"] > 0}
    # row t covers (t-1, t]: the requests in node-4 at t = 30, then its share until the 3 s health check
    assert lost and min(lost) == 31 and max(lost) <= 33
    during = [by_t[t] for t in range(40, 60)]
    assert sum(r["served_rps"] for r in during) / len(during) == pytest.approx(42, rel=0.1)
    assert all(r["availability"] == 1 for r in during)


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("seconds", ["0", "-5", "abc", "nan", "inf", "1e9"])
def test_bad_seconds_exit_2_with_the_range(capsys, seconds):
    code, out, err = run_cli(capsys, "run", "vertical-1cpu", "--seconds", seconds)
    assert (code, out) == (2, "")
    assert f"argument --seconds: {seconds!r} is not a number in 0.01..1e+06" in err


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--seed", "-1", "argument --seed: '-1' is not a whole number in 0.."),
    ("--dt", "2", "argument --dt: '2' is not a number in 0.001..1"),
])
def test_bad_seed_and_dt_exit_2(capsys, option, value, message):
    code, _, err = run_cli(capsys, "run", "vertical-1cpu", option, value)
    assert code == 2
    assert message in err


def test_run_a_bad_scenario_exits_2_before_running(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", str(bad_scenario(tmp_path)), "--csv", str(tmp_path / "x.csv"))
    assert (code, out) == (2, "")
    assert "nodes[2].cores: -3 is not in 1..256" in err.splitlines()
    assert not (tmp_path / "x.csv").exists()


def test_run_without_a_scenario_says_what_to_give(capsys):
    code, _, err = run_cli(capsys, "run")
    assert code == 2
    assert "give a scenario file or built-in name, or --list" in err


def test_bad_trace_names_the_line(capsys, tmp_path):
    trace = tmp_path / "log.csv"
    trace.write_text("arrival_s,cpu_s\n0.1,0.05\n0.2,slow\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "run", "vertical-1cpu", "--trace", str(trace))
    assert (code, out) == (2, "")
    assert err == f"{trace} line 3: cpu_s 'slow' is not a number in 1e-09..100000\n"


def test_csv_into_a_missing_folder_exits_2(capsys, tmp_path):
    target = tmp_path / "no" / "such" / "series.csv"
    code, out, err = run_cli(capsys, "run", "vertical-1cpu", "--csv", str(target))
    assert (code, out) == (2, "")
    assert err == f"--csv {target}: the folder {target.parent} does not exist\n"


# --- the README's commands ---------------------------------------------------------------

def test_ci_runs_exactly_the_readme_test_command():
    test_line = (REPO / "README.md").read_text(encoding="utf-8").splitlines()[1]
    command = test_line.split("`")[1]
    assert command.endswith("-m pytest")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci
    assert "set -euo pipefail" in ci
    assert os.access(REPO / ".ci" / "run", os.X_OK)
