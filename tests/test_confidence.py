"""Batch-means confidence intervals and the MSER-5 warm-up cut (sim_core.theory.confidence)."""

from __future__ import annotations

import numpy as np
import pytest

from sim_core.engine.simulation import Simulation
from sim_core.scenario import Node, Scenario, Workload
from sim_core.theory import confidence
from sim_core.theory import predict as theory


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (2, 4.303), (5, 2.571), (19, 2.093), (1000, 1.962)])
def test_t_quantile_published_values(df, expected):
    assert confidence.t_quantile(0.975, df) == pytest.approx(expected, abs=2e-3)


def test_constant_series_has_a_zero_width_band():
    interval = confidence.batch_means(np.full(1000, 0.25))
    assert interval.mean == pytest.approx(0.25) and interval.half_width < 1e-12 and interval.batches == 20


def test_sums_with_equal_counts_give_the_plain_batch_means():
    rng = np.random.default_rng(4)
    values = rng.exponential(1.0, 4000)
    plain = confidence.batch_means(values, 20)
    steps = values.reshape(400, 10)
    summed = confidence.batch_means_of_sums(steps.sum(axis=1), np.full(400, 10), 20)
    assert summed.mean == pytest.approx(plain.mean) and summed.half_width == pytest.approx(plain.half_width)


def test_too_few_values_give_no_band():
    assert np.isnan(confidence.batch_means(np.ones(5), 20).half_width)
    assert np.isnan(confidence.batch_means_of_sums(np.zeros(3), np.zeros(3), 20).mean)


def test_independent_normal_batches_cover_at_the_stated_level():
    rng = np.random.default_rng(11)
    covered = sum(confidence.batch_means(rng.normal(3.0, 1.0, 400), 20).covers(3.0) for _ in range(2000))
    assert 0.93 <= covered / 2000 <= 0.97


def test_mser_cuts_an_initial_transient_and_keeps_a_stationary_series():
    rng = np.random.default_rng(2)
    transient = np.concatenate((np.linspace(20.0, 1.0, 150), np.ones(1850))) + rng.normal(0.0, 0.5, 2000)
    cut = confidence.mser_truncation(transient)
    assert 130 <= cut <= 200
    assert confidence.mser_truncation(rng.normal(0.0, 1.0, 2000)) < 200
    assert confidence.mser_truncation(np.ones(10)) == 0


def test_mm1_band_covers_the_closed_form_in_90_to_98_percent_of_200_runs():
    # 1 ms requests at rho 0.8: each run is 60 s, about 48k requests, cut by MSER-5 into 20 batches
    lam, mu = 800.0, 1000.0
    sc = Scenario(nodes=[Node(name="n0", ram_gb=4096.0)],
                  workload=Workload(rate=lam, max_rate=lam, cpu_time_ms=1000.0 / mu, memory_mb=0.001, data_kb=0.0))
    truth = theory.mm1_mean_sojourn(lam, mu)
    covered, cuts = 0, []
    for seed in range(200):
        latencies = Simulation(sc, seed=seed).step(60.0).latencies  # one step: completion (= arrival) order
        cut = confidence.mser_truncation(latencies)
        cuts.append(cut)
        covered += confidence.batch_means(latencies[cut:], 20).covers(truth)
    assert 0.90 <= covered / 200 <= 0.98, covered
    assert np.mean(cuts) < 0.05 * lam * 60.0  # the warm-up from empty is a small part of the run
