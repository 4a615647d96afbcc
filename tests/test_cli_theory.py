"""``scalelab run`` prints what theory predicts beside the measured figures, or why it cannot."""

from __future__ import annotations

import re

from sim_core.cli import main
from sim_core.scenario_file import resolve
from sim_core.theory import predict as theory


def run(capsys, *argv: str) -> str:
    assert main(["run", *argv]) == 0
    return capsys.readouterr().out


def theory_row(out: str, label: str) -> tuple[float, float]:
    match = re.search(rf"^  {label}\s+([\d.]+)\s+\S+\s+\(measured ([\d.]+)\)$", out, re.MULTILINE)
    assert match, out
    return float(match.group(1)), float(match.group(2))


def measured_row(out: str, label: str) -> float:
    return float(re.search(rf"^  {label}\s+([\d.]+)", out, re.MULTILINE).group(1))


def test_run_prints_theory_mean_p99_and_rejection_beside_the_measured(capsys):
    out = run(capsys, "vertical-2cpu", "--seconds", "30", "--dt", "1")
    prediction = theory.predict(resolve("vertical-2cpu"))
    assert "theory: M/M/2/40: birth-death chain (exact)" in out
    mean, measured_mean = theory_row(out, "latency mean")
    assert mean == round(1000 * prediction.mean_s, 1) and measured_mean == measured_row(out, "latency mean")
    p99, _ = theory_row(out, "latency p99")
    assert p99 == round(1000 * prediction.p99_s, 1)
    rejected, _ = theory_row(out, "rejected")
    assert rejected == round(100 * prediction.rejection, 2)


def test_run_without_rejection_prints_no_rejection_row(capsys):
    out = run(capsys, "horizontal-7x1", "--seconds", "10", "--dt", "1")
    assert "theory: 7 x E7/M/1 (round-robin): GI/M/1 (exact)" in out
    assert "  rejected  " not in out.split("theory:")[1]


def test_run_prints_the_reason_when_no_closed_form_applies(capsys):
    out = run(capsys, "gain-scalability", "--seconds", "5", "--dt", "1")
    assert "theory: no closed form: the rate ramps from 5 to 60 req/s" in out


def test_run_with_random_failures_prints_predicted_and_measured_availability(capsys):
    out = run(capsys, "nines-1x4cpu", "--seconds", "600", "--dt", "1")
    assert "theory: no closed form: nodes fail at random" in out
    assert "availability (random failures): cluster availability 88.235% (0.93 nines), needs 1 of 1" in out
    measured = float(re.search(r"measured: ([\d.]+)% of the seconds had 1 or more of 1 nodes up", out).group(1))
    assert 0.0 < measured <= 100.0
    assert "blast radius: node-1 holds 100% of the capacity" in out
