"""theory.predict against the engine (built-in scenarios and each routing case) and its reasons.

Tolerances come from each run's own spread: 20 consecutive batches of the run give a 99.9%
batch-means interval (sim_core.theory.confidence) that the prediction must fall in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sim_core.engine.simulation import Simulation
from sim_core.scenario import Balancer, ConstantShape, Node, RampShape, Scenario, StepShape, WaveShape, Workload
from sim_core.scenario_file import resolve
from sim_core.theory import confidence
from sim_core.theory import predict as theory

LEVEL = 0.999


@dataclass
class Measured:
    mean: confidence.Interval
    p99: confidence.Interval
    rejection: confidence.Interval


def measure(scenario: Scenario, batch_s: float, batches: int = 20, warmup_s: float = 50.0, seed: int = 3) -> Measured:
    """Run ``warmup_s``, then ``batches`` steps of ``batch_s``; one batch per step."""
    sim = Simulation(scenario, seed=seed)
    sim.step(warmup_s)
    sums, counts, p99s, rejected, offered = [], [], [], [], []
    for _ in range(batches):
        snap = sim.step(batch_s)
        sums.append(snap.latencies.sum())
        counts.append(snap.latencies.size)
        p99s.append(np.quantile(snap.latencies, 0.99))
        rejected.append(snap.rejected * snap.dt)
        offered.append(snap.offered * snap.dt)
    return Measured(
        confidence.batch_means_of_sums(np.array(sums), np.array(counts), batches, LEVEL),
        confidence.batch_means(np.array(p99s), batches, LEVEL),
        confidence.batch_means_of_sums(np.array(rejected), np.array(offered), batches, LEVEL),
    )


def within(interval: confidence.Interval, value: float, slack: float = 0.0) -> bool:
    """``value`` inside the interval widened by ``slack`` (relative), for small known biases."""
    return interval.low - slack * abs(value) <= value <= interval.high + slack * abs(value)


def scenario(cores, rate, policy="random", service="exponential", cv=1.0, ram_gb=4096.0, memory_mb=0.001,
             cpu_ms=1.0, shape=None) -> Scenario:
    workload = Workload(rate=rate, max_rate=max(rate, 1.0), cpu_time_ms=cpu_ms, service=service, service_cv=cv,
                        memory_mb=memory_mb, data_kb=0.0, **({"shape": shape} if shape else {}))
    return Scenario(nodes=[Node(name=f"n{i}", cores=c, ram_gb=ram_gb) for i, c in enumerate(cores)],
                    balancer=Balancer(policy=policy), workload=workload)


# --- the built-in scenarios ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "model", "batch_s"), [
    ("horizontal-7x1", "7 x E7/M/1 (round-robin): GI/M/1", 500.0),
    ("vertical-1cpu", "M/M/1/20: birth-death chain", 250.0),
    ("vertical-2cpu", "M/M/2/40: birth-death chain", 250.0),
    ("vertical-4cpu", "M/M/4/81: birth-death chain", 250.0),
])
def test_builtin_scenarios_match_their_prediction(name, model, batch_s):
    prediction = theory.predict(resolve(name))
    assert prediction.applies and prediction.model == model
    got = measure(resolve(name), batch_s)
    assert within(got.mean, prediction.mean_s), (got.mean, prediction.mean_s)
    # a p99 from one batch of 25k-100k requests is biased low by about 1/(n (1 - 0.99)) of the spread
    assert within(got.p99, prediction.p99_s, slack=0.01), (got.p99, prediction.p99_s)
    assert within(got.rejection, prediction.rejection) or abs(got.rejection.mean - prediction.rejection) < 1e-5


@pytest.mark.parametrize("name", ["gain-concurrency", "gain-concurrency-vertical", "gain-fault-tolerance",
                                  "gain-scalability"])
def test_builtins_that_change_during_the_run_say_why_there_is_no_single_prediction(name):
    prediction = theory.predict(resolve(name))
    assert not prediction.applies and np.isnan(prediction.mean_s)
    assert any(word in prediction.reason for word in ("steps", "ramps", "events"))


def test_a_step_scenario_has_a_prediction_before_the_step_and_none_during_it():
    sc = resolve("gain-concurrency-vertical")  # 2 req/s, a spike to 50 at 30 s for 1 s
    before = theory.predict(sc, t=20.0)
    assert before.applies and before.offered_rps == 2.0 and before.model.startswith("M/M/4")
    assert "steps" in theory.predict(sc, t=30.5).reason
    assert "not settled" in theory.predict(sc, t=35.0).reason
    assert theory.predict(sc, t=60.0).applies


# --- each service and routing case against the engine ----------------------------------------

def test_md4_matches_crommelin_in_the_engine():
    sc = scenario([4], 3600.0, service="deterministic")
    prediction = theory.predict(sc)
    assert prediction.model == "M/D/4: Crommelin"
    got = measure(sc, batch_s=15.0, warmup_s=2.0)
    assert within(got.mean, prediction.mean_s)
    assert within(got.p99, prediction.p99_s, slack=0.01)


def test_lognormal_one_core_matches_pollaczek_khinchine_mean():
    sc = scenario([1], 700.0, service="lognormal", cv=2.0)
    prediction = theory.predict(sc)
    assert prediction.model == "M/G/1: Pollaczek-Khinchine" and np.isnan(prediction.p99_s)
    got = measure(sc, batch_s=25.0, warmup_s=2.0)
    assert within(got.mean, prediction.mean_s)


def test_loss_node_blocks_like_erlang_b_whatever_the_service():
    # 10 cores, RAM for exactly 10 requests, 8 erlangs offered: Erlang B(10, 8) = 0.1217
    sc = scenario([10], 8000.0, service="lognormal", cv=1.5, ram_gb=1.0, memory_mb=102.4)
    prediction = theory.predict(sc)
    assert prediction.model == "M/G/10/10: Erlang B"
    assert prediction.rejection == pytest.approx(0.1217, abs=5e-5)
    got = measure(sc, batch_s=5.0, warmup_s=1.0)
    assert within(got.rejection, prediction.rejection)


def test_weighted_over_unequal_nodes_is_bounded_above_by_coin_flips():
    sc = scenario([1, 3], 3200.0, policy="weighted")
    prediction = theory.predict(sc)
    assert prediction.kind == "upper bound"
    got = measure(sc, batch_s=10.0, warmup_s=2.0)
    assert got.mean.high < prediction.mean_s


def test_least_connections_is_bounded_below_by_the_pooled_queue_and_above_by_random():
    sc = scenario([1] * 4, 3400.0, policy="least_connections")
    prediction = theory.predict(sc)
    assert prediction.kind == "lower bound" and prediction.model.endswith("pooled M/M/4: Erlang C")
    got = measure(sc, batch_s=5.0, warmup_s=2.0)
    assert prediction.mean_s < got.mean.low
    assert got.mean.high < theory.predict(scenario([1] * 4, 3400.0)).mean_s


def test_random_routing_over_unequal_nodes_mixes_their_distributions():
    sc = scenario([1, 2], 1800.0)
    prediction = theory.predict(sc)
    assert [n.theory.model for n in prediction.nodes] == ["M/M/1", "M/M/2"]
    got = measure(sc, batch_s=10.0, warmup_s=2.0)
    assert within(got.mean, prediction.mean_s)
    assert within(got.p99, prediction.p99_s, slack=0.01)


# --- reasons instead of numbers ---------------------------------------------------------------

def test_overload_without_a_ram_cap_reports_the_growth_rate():
    prediction = theory.predict(scenario([2, 2], 5000.0))  # 4 cores x 1000 req/s
    assert not prediction.applies
    assert prediction.growth_rps == pytest.approx(1000.0)
    assert "grow without bound at 1000 req/s" in prediction.reason


def test_heterogeneous_least_connections_and_multicore_lognormal_have_no_closed_form():
    assert "different sizes" in theory.predict(scenario([1, 2], 1000.0, policy="least_connections")).reason
    assert "M/G/2" in theory.predict(scenario([2], 1000.0, service="lognormal", cv=2.0)).reason


@pytest.mark.parametrize("shape", [RampShape(to_rate=900.0, start_s=0.0, end_s=60.0),
                                   WaveShape(period_s=60.0, amplitude=0.5)])
def test_changing_rates_have_no_steady_state(shape):
    assert "no steady state" in theory.predict(scenario([1], 500.0, shape=shape)).reason


def test_a_running_simulation_reports_a_failure_in_progress_then_the_smaller_cluster():
    sc = resolve("horizontal-7x1")
    sc = sc.model_copy(update={"workload": sc.workload.model_copy(update={"rate": 35.0})})
    sim = Simulation(sc, seed=1)
    assert theory.predict(sim) == theory.predict(sc)
    sim.step(5.0)
    sim.fail(2)
    assert "in progress" in theory.predict(sim).reason
    sim.step(5.0)  # the health check (3 s) has taken node-3 out of rotation
    six = theory.predict(sim)
    assert six.applies and six.model.startswith("6 x E6/M/1")
    assert six.offered_rps == 35.0 and any("node-3" in a for a in six.assumptions)


def test_step_shape_prediction_moves_to_the_new_rate_when_it_lasts():
    sc = scenario([4], 1000.0, shape=StepShape(to_rate=3000.0, at_s=10.0, duration_s=0.0))
    assert theory.predict(sc, t=100.0).offered_rps == 3000.0
    assert theory.predict(sc, t=5.0).offered_rps == 1000.0


def test_an_autoscaled_scenario_has_no_single_prediction_but_its_running_cluster_has_one():
    sc = resolve("wave-autoscaled")
    sc = sc.model_copy(update={"workload": sc.workload.model_copy(update={"shape": ConstantShape()})})
    assert "autoscaler" in theory.predict(sc).reason
    from sim_core.engine.scaling import ScalingSimulation

    sim = ScalingSimulation(sc, seed=1)
    sim.step(1.0)
    assert theory.predict(sim).applies
