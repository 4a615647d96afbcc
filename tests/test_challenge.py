"""Challenges: every built-in one fails as given and passes with its known solution; the CLI grades."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim_core import cli
from sim_core.challenge import FAILED, MET, PENDING, Judge, check_rules, judge_run
from sim_core.engine.simulation import Simulation
from sim_core.scenario_file import builtin_names, builtin_path, dumps, load, validate_data

DT = 1.0  # the engine draws the same requests whatever the step; a coarse step keeps these runs cheap


def small(i):
    return {"name": f"s-{i}", "cores": 1, "ram_gb": 1.0, "storage_gb": 500.0, "price_per_hour": 0.0116,
            "restart_s": 10.0}


def large(i):
    return {"name": f"l-{i}", "cores": 4, "ram_gb": 4.0, "storage_gb": 2000.0, "price_per_hour": 0.0464,
            "restart_s": 10.0}


def with_changes(name, **changes):
    data = json.loads(dumps(load(builtin_path(name))))
    data.update(changes)
    return validate_data(data)


# The known solutions: what a player changes in each challenge to pass it.
SOLUTIONS = {
    "challenge-1-absorb-120": lambda data: {"nodes": data["nodes"] + [small(i) for i in range(3)]},
    "challenge-2-cheapest-50": lambda data: {"nodes": [large(i) for i in range(2)],
                                             "balancer": {"policy": "least_connections", "health_check_s": 2.0}},
    "challenge-3-survive-failures": lambda data: {"nodes": data["nodes"] + [small(i) for i in range(3)],
                                                  "balancer": {"policy": "round_robin", "health_check_s": 0.5}},
    "challenge-4-memory-burst": lambda data: {"nodes": [small(i) for i in range(7)]},
    "challenge-5-wave-budget": lambda data: {"nodes": data["nodes"][:4], "autoscaler": {
        "target_utilization": 0.7, "min_nodes": 2, "max_nodes": 10, "period_s": 15.0, "stabilization_s": 60.0,
        "template": {"name": "auto", "cores": 1, "ram_gb": 1.0, "price_per_hour": 0.0116, "restart_s": 10.0}}},
    "challenge-6-mixed-cluster-policy": lambda data: {"balancer": {"policy": "least_connections",
                                                                   "health_check_s": 2.0}},
}


def solve(name):
    data = json.loads(dumps(load(builtin_path(name))))
    return with_changes(name, **SOLUTIONS[name](data))


def test_there_are_at_least_six_builtin_challenges_each_with_a_solution():
    challenges = [n for n in builtin_names() if n.startswith("challenge-")]
    assert len(challenges) >= 6
    assert sorted(challenges) == sorted(SOLUTIONS)


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_the_starting_cluster_fails_and_the_known_solution_passes(name):
    challenge = load(builtin_path(name))
    start = judge_run(challenge, dt=DT)
    assert any(v.status == FAILED for v in start)
    answer = solve(name)
    assert check_rules(challenge, answer) == []
    verdicts = judge_run(answer, dt=DT)
    assert [v.status for v in verdicts] == [MET] * len(verdicts), [v.line() for v in verdicts]


def test_the_judge_counts_each_span_from_the_snapshots():
    scenario = validate_data({
        "duration_s": 20, "nodes": [{"name": "a", "ram_gb": 0.125}],
        "workload": {"rate": 30.0, "max_rate": 100.0, "cpu_time_ms": 100.0, "memory_mb": 25.6},
        "goals": {"targets": [
            {"metric": "served_rps", "at_least": 9.0, "from_s": 5.0, "to_s": 15.0},
            {"metric": "rejected", "at_most": 10.0},
            {"metric": "p99_ms", "at_most": 1e6, "from_s": 5.0, "to_s": 15.0},
            {"metric": "cost_per_hour", "at_most": 0.05},
            {"metric": "availability_pct", "at_least": 90.0}]},
    })
    judge = Judge(scenario.goals, scenario.duration_s)
    sim = Simulation(scenario, seed=4)
    snaps = []
    statuses = []
    for snap in sim.run(20.0, dt=0.25):
        judge.add(snap)
        snaps.append(snap)
        statuses.append([v.status for v in judge.verdicts()])
    inside = [s for s in snaps if 5.0 < s.t <= 15.0 + 1e-9]
    served = sum(round(s.served * s.dt) for s in inside)
    assert judge.measured(0) == pytest.approx(served / 10.0)
    latencies = np.concatenate([s.latencies for s in inside])
    exact = np.percentile(latencies, 99, method="inverted_cdf") * 1000.0  # the sample at rank 0.99 n
    assert judge.measured(2) == pytest.approx(exact, rel=0.004)  # within its 0.4% histogram bin
    assert judge.measured(3) == pytest.approx(0.05)  # one node's price
    ended = snaps[-1].served_total + snaps[-1].rejected_total + snaps[-1].lost_total
    assert judge.measured(4) == pytest.approx(100.0 * snaps[-1].served_total / ended)
    # one 128 MB node holds 5 requests of 25.6 MB: at 30 req/s it rejects from the first seconds, failing
    # the count at once, while the span targets stay pending until their span is over
    first_fail = next(i for i, st in enumerate(statuses) if st[1] == FAILED)
    assert snaps[first_fail].rejected_total > 10 >= snaps[first_fail - 1].rejected_total
    assert all(st[0] == PENDING for st, s in zip(statuses, snaps, strict=True) if s.t < 15.0 - 1e-9)
    assert statuses[-1][0] == MET  # about 10 req/s served by the one core
    assert statuses[-1][4] == FAILED and not math.isnan(judge.measured(4))


def test_rules_name_each_change_the_challenge_does_not_allow():
    name = "challenge-6-mixed-cluster-policy"
    challenge = load(builtin_path(name))
    data = json.loads(dumps(challenge))
    more = with_changes(name, nodes=data["nodes"] + [small(0)], workload={**data["workload"], "rate": 10.0})
    problems = check_rules(challenge, more)
    assert any(p.startswith("nodes: adding or removing") for p in problems)
    assert any(p.startswith("workload:") for p in problems)
    bigger = [dict(n) for n in data["nodes"]]
    bigger[3]["cores"] = 4
    assert check_rules(challenge, with_changes(name, nodes=bigger)) == [
        "nodes: resizing node-4 is not allowed in this challenge"]
    rich = with_changes("challenge-4-memory-burst", nodes=[large(i) for i in range(2)])
    assert check_rules(load(builtin_path("challenge-4-memory-burst")), rich) == [
        "budget: the cluster can cost 0.0928 $/h, over the budget of 0.0812 $/h"]


def test_cli_grades_a_challenge_with_exit_codes(capsys, tmp_path):
    name = "challenge-4-memory-burst"
    assert cli.main(["run", name, "--dt", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "goals (2 of 3 met):" in out and "FAILED   rejected requests (503) at most 0: measured" in out
    answer = tmp_path / "answer.json"
    answer.write_text(dumps(solve(name)), encoding="utf-8")
    assert cli.main(["run", str(answer), "--dt", "0.5", "--challenge", name]) == 0
    out = capsys.readouterr().out
    assert "goals (3 of 3 met):" in out and f"rules of {name}: kept" in out
    # an answer that edits its own goals is still graded against the challenge's
    data = json.loads(dumps(solve(name)))
    data["nodes"] = data["nodes"][:1]
    data["goals"]["targets"] = [{"metric": "lost", "at_most": 1e6}]
    answer.write_text(json.dumps(data), encoding="utf-8")
    assert cli.main(["run", str(answer), "--dt", "0.5"]) == 0  # its own (edited) goals are met
    assert cli.main(["run", str(answer), "--dt", "0.5", "--challenge", name]) == 1
    out = capsys.readouterr().out
    assert "BROKEN   goals: the goals may not be changed" in out and "FAILED   rejected" in out


def test_cli_prints_the_scaling_decisions(capsys):
    assert cli.main(["run", "wave-autoscaled", "--seconds", "120", "--dt", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "scaling decisions" in out and "utilization" in out and "> target 0.70: 4 -> " in out


def test_the_live_verdicts_are_restored_with_a_scrubbed_run():
    from sim_core.session import Session

    session = Session(load(builtin_path("challenge-1-absorb-120")))
    k = 0
    while session.t < 40.0 - 1e-9:
        session.advance(0.1 * (1 + k % 3), 1)
        k += 1
    live = [(v.status, v.measured) for v in session.sim.judge.verdicts()]
    assert live[1][0] == FAILED and live[0][0] == PENDING  # rejected from the start; served judged at 60 s
    session.jump(20.0)
    early = session.sim.judge.verdicts()
    assert early[1].measured < live[1][1]  # the count as it was at 20 s
    while session.t < 40.0 - 1e-9:
        session.advance(0.1, 1)
    assert [(v.status, v.measured) for v in session.sim.judge.verdicts()] == live
