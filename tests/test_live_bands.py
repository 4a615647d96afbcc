"""Live bands around the windowed figures, and the live MSER-5 warm-up marker."""

from __future__ import annotations

import math

import numpy as np

from sim_core.engine.simulation import Simulation
from sim_core.scenario import Node, Scenario, Workload
from sim_core.theory import predict as theory
from sim_core.theory.live_bands import LiveBands


def mm1(lam: float, mu: float = 1000.0) -> Scenario:
    return Scenario(nodes=[Node(name="n0", ram_gb=4096.0)],
                    workload=Workload(rate=lam, max_rate=lam, cpu_time_ms=1000.0 / mu, memory_mb=0.001, data_kb=0.0))


def test_window_bands_cover_the_mm1_mean_in_most_disjoint_windows():
    sim = Simulation(mm1(800.0), seed=9)
    bands = LiveBands(window_s=10.0, batches=10)
    truth = theory.mm1_mean_sojourn(800.0, 1000.0)
    covered = total = 0
    for k in range(1, 401):
        bands.add(sim.step(1.0))
        if k % 10 == 0 and k > 10:  # disjoint 10 s windows after the first
            band = bands.bands().mean
            covered += band.low <= truth <= band.high
            total += 1
    assert 0.85 <= covered / total <= 1.0, (covered, total)


def test_availability_band_and_p99_are_the_window_figures():
    sim = Simulation(mm1(800.0), seed=2)
    bands = LiveBands()
    snaps = [sim.step(0.5) for _ in range(40)]
    for snap in snaps:
        bands.add(snap)
    now = bands.bands()
    window = np.concatenate([s.latencies for s in snaps[-20:]])
    assert now.mean.value == np.mean(window)
    assert now.p99.value == np.quantile(window, 0.99)
    assert now.availability.value == 1.0 and now.availability.half_width == 0.0
    assert now.p99.half_width > 0 and now.mean.low < now.mean.value < now.mean.high


def test_warmup_marker_follows_mser_and_reset_forgets():
    sim = Simulation(mm1(950.0), seed=4)  # from empty at rho 0.95 the mean climbs for seconds
    bands = LiveBands()
    for _ in range(300):
        bands.add(sim.step(0.2))
    end = bands.bands().warmup_end_s
    assert 0.0 < end < 30.0
    bands.reset()
    assert math.isnan(bands.bands().warmup_end_s)
