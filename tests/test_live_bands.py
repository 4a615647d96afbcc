"""Live bands around the windowed figures, and the live MSER-5 warm-up marker."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim_core.engine.scaling import ScalingSimulation
from sim_core.engine.simulation import Simulation
from sim_core.scenario import Node, Scenario, Workload
from sim_core.scenario_file import resolve
from sim_core.session import Session
from sim_core.theory import live_bands
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


def _same(a, b) -> bool:
    """Two WindowBands equal to float rounding (NaN equals NaN)."""
    pairs = [(a.t, b.t), (a.warmup_end_s, b.warmup_end_s)] + [
        (getattr(getattr(a, k), f), getattr(getattr(b, k), f))
        for k in ("mean", "p99", "availability") for f in ("value", "half_width")]
    return all((math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-12, abs=1e-15) for x, y in pairs)


def _fresh_bands(scenario, step_ends, t: float) -> LiveBands:
    """A fresh run stepped along ``step_ends`` to ``t``, its bands fed step by step."""
    sim = ScalingSimulation(scenario)
    bands = LiveBands()
    for end in step_ends[1:]:
        if end > t + 1e-9:
            break
        bands.add(sim.step_to(end))
    return bands


def test_after_a_jump_back_the_bands_are_those_of_a_fresh_run_stepped_there_and_replay_goes_on():
    scenario = resolve("gain-fault-tolerance")  # node-4 fails at 30 s: lost requests in the window
    session = Session(scenario)
    live = LiveBands()
    session.signals.stepped.connect(lambda snaps: [live.add(s) for s in snaps])
    session.signals.jumped.connect(lambda: live.rewind(session.t))
    rng = np.random.default_rng(3)
    while session.t < 80.0:  # uneven steps, as the window's clock makes them
        steps = int(rng.integers(1, 5))
        session.advance(0.05 * steps * float(rng.uniform(1.0, 3.0)), steps)
    head = live.bands()
    ends = list(session.step_ends)
    for t in (41.3, 12.0, 55.55, 1.0):  # back, further back, forward again, into the warm-up
        session.jump(t)
        fresh = _fresh_bands(scenario, ends, session.t)
        assert _same(live.bands(), fresh.bands()), t
    assert live.bands().t < 20 and not _same(live.bands(), head)
    session.jump(26.0)
    t0 = session.t
    while session.t < t0 + 8.0:  # play on from there: the recorded steps are replayed
        session.advance(0.2, 4)
    assert _same(live.bands(), _fresh_bands(scenario, ends, session.t).bands())
    assert not math.isnan(live.bands().warmup_end_s) and live.bands().availability.value < 1.0
    session.jump(session.head_t)
    assert _same(live.bands(), _fresh_bands(scenario, ends, session.t).bands())


def test_rewind_keeps_the_bands_when_old_latencies_were_dropped_for_memory(monkeypatch):
    monkeypatch.setattr(live_bands, "MAX_KEPT_LATENCIES", 2000)  # about 25 s of steps at 80 req/s
    sim = Simulation(mm1(80.0, mu=100.0), seed=5)
    live = LiveBands()
    snaps = [sim.step(0.5) for _ in range(200)]
    for snap in snaps:
        live.add(snap)
    live.rewind(snaps[-30].t)  # 15 s back: its window's latencies are still kept
    fresh = LiveBands()
    for snap in snaps[:-29]:
        fresh.add(snap)
    assert _same(live.bands(), fresh.bands())
    live.rewind(snaps[40].t)  # 80 s back: they are gone; the band says it does not know
    assert math.isnan(live.bands().p99.value) and not math.isnan(live.bands().availability.value)


def test_a_new_branch_after_a_rewind_replaces_the_later_steps():
    run_a = Simulation(mm1(80.0, mu=100.0), seed=1)
    run_b = Simulation(mm1(80.0, mu=100.0), seed=2)  # the other branch: other requests from 20 s on
    a = [run_a.step(0.5) for _ in range(80)]
    b = [run_b.step(0.5) for _ in range(60)][40:]
    live, fresh = LiveBands(), LiveBands()
    for snap in a:
        live.add(snap)
    live.rewind(a[39].t)
    for snap in a[:40] + b:
        fresh.add(snap)
    for snap in b:
        live.add(snap)
    assert _same(live.bands(), fresh.bands()) and live.bands().t == pytest.approx(30.0)
    live.rewind(a[-1].t)  # the old branch's steps are gone: the newest moment is the new branch's
    assert live.bands().t == pytest.approx(30.0)


def test_a_very_long_run_keeps_its_newest_steps_and_the_window_bands(monkeypatch):
    monkeypatch.setattr(live_bands, "MAX_STEPS", 60)
    sim = Simulation(mm1(80.0, mu=100.0), seed=6)
    snaps = [sim.step(0.5) for _ in range(150)]
    live, fresh = LiveBands(), LiveBands()
    for snap in snaps:
        live.add(snap)
    for snap in snaps[-40:]:  # the window (20 steps) and more
        fresh.add(snap)
    now, want = live.bands(), fresh.bands()
    assert len(live._t) <= 60 and now.t == want.t
    assert (now.mean, now.p99, now.availability) == (want.mean, want.p99, want.availability)
    live.rewind(snaps[10].t)  # older than every step kept: nothing to show
    assert math.isnan(live.bands().t)


def test_the_partial_sort_quantile_is_numpys():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 99, 100, 101, 1500, 15001):
        values = rng.lognormal(size=n)
        for q in (0.0, 0.5, 0.95, 0.99, 0.999, 1.0):
            assert live_bands.quantile(values, q) == float(np.quantile(values, q))
