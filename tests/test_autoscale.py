"""Autoscaling: the HPA rule step by step, tolerance, warm-up, draining and the vertical ladder."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_core.engine.autoscale import (
    HpaMemory,
    LadderMemory,
    Observation,
    hpa_decide,
    ladder_recommendation,
    vertical_decide,
)
from sim_core.engine.scaling import ScalingSimulation
from sim_core.engine.state import DOWN, LOST, RESTARTING, SERVED, UP
from sim_core.scenario import POLICIES, Autoscaler
from sim_core.scenario_file import validate_data


def scaled(n=2, rate=5.0, shape=None, cpu_ms=100.0, hc=2.0, restart=5.0, ram_gb=4.0, cores=1, policy="round_robin",
           service="exponential", duration=300.0, autoscale=True, **autoscaler):
    workload = {"rate": rate, "max_rate": 1000.0, "cpu_time_ms": cpu_ms, "memory_mb": 10.0, "service": service}
    if shape:
        workload["shape"] = shape
    template = {"name": "auto", "cores": cores, "ram_gb": ram_gb, "restart_s": restart}
    return validate_data({
        "duration_s": duration,
        "nodes": [{"name": f"n{i}", "cores": cores, "ram_gb": ram_gb, "restart_s": restart} for i in range(n)],
        "balancer": {"policy": policy, "health_check_s": hc},
        "workload": workload,
        "autoscaler": {"template": template, **autoscaler} if autoscale else None,
    })


def conserved(snap) -> bool:
    return snap.offered_total == snap.served_total + snap.rejected_total + snap.lost_total + snap.in_system


def plain_hpa(cfg, history, t, current, ready, utilization):
    """The Kubernetes HPA rule written out plainly, to check the engine's controller against."""
    ratio = utilization / cfg["target"]
    rec = current
    if abs(ratio - 1) > cfg["tolerance"]:
        raw = ready * ratio
        if not (ratio > 1 and raw / current <= 1 + cfg["tolerance"]):
            rec = math.ceil(raw - 1e-9)
    history[:] = [(t0, r) for t0, r in history if t0 > t - cfg["window"] - 1e-9] + [(t, rec)]
    if rec < current:
        desired = min(current, max(r for _, r in history))
    else:
        desired = min(rec, max(current + cfg["up_nodes"], math.ceil(current * (1 + cfg["up_percent"] / 100))))
    return max(cfg["min"], min(cfg["max"], desired))


def test_on_a_ramp_the_node_count_follows_the_hpa_formula_step_by_step():
    cfg = {"target": 0.6, "tolerance": 0.1, "window": 60.0, "up_nodes": 1, "up_percent": 0.0, "min": 2, "max": 12}
    ramp = {"kind": "ramp", "to_rate": 70.0, "start_s": 10.0, "end_s": 140.0}
    scenario = scaled(n=2, rate=4.0, shape=ramp, duration=260.0, target_utilization=cfg["target"],
                      stabilization_s=cfg["window"], scale_up_max_nodes=cfg["up_nodes"],
                      scale_up_max_percent=cfg["up_percent"],
                      min_nodes=cfg["min"], max_nodes=cfg["max"], period_s=15.0)
    sim = ScalingSimulation(scenario, seed=11)
    busy: dict[str, float] = {}
    history: list = []
    counts, expected = [], []
    dt = 0.5
    while sim.t < scenario.duration_s - 1e-9:
        if sim.t > 0 and abs(sim.t / 15.0 - round(sim.t / 15.0)) < 1e-6:  # the controller runs in this step
            names = sim.names()
            counted = [j for j, name in enumerate(names) if name not in sim.draining]
            ready = [j for j in counted if sim.state.routable[j] and sim.state.state[j] == UP]
            util = np.mean([busy.get(names[j], 0.0) / (sim.params.cores[j] * 15.0) for j in ready])
            expected.append(plain_hpa(cfg, history, sim.t, len(counted), len(ready), util))
            busy = {}
            names_before = set(names)
            snap = sim.step(dt)
            counts.append(len([n for n in sim.names() if n not in sim.draining]))
            assert set(sim.names()) >= names_before - sim.draining  # nothing vanished except drained nodes
        else:
            snap = sim.step(dt)
        for j, name in enumerate(sim.names()[: snap.utilization.size]):
            busy[name] = busy.get(name, 0.0) + snap.utilization[j] * sim.params.cores[j] * snap.dt
        assert conserved(snap)
    assert counts == expected
    assert counts[0] == 2 and max(counts) >= 6  # it scaled up with the ramp
    ups = [d for d in sim.decisions if d.decision.desired > d.decision.current]
    assert all(d.decision.desired - d.decision.current <= 1 for d in ups)  # at most one more per period
    assert all(f"-> {d.decision.desired} nodes" in d.reason and "> target 0.60" in d.reason for d in ups)


def test_no_flapping_under_a_steady_load_inside_the_tolerance():
    # 14 one-core nodes at 98 req/s x 100 ms: utilization 0.7 = the target. Measured over 60 s
    # periods the utilization's standard error is about 0.7 / sqrt(98 x 60) = 0.009, far inside
    # the 10% tolerance (0.07), so every evaluation must leave the cluster alone.
    sim = ScalingSimulation(scaled(n=14, rate=98.0, service="deterministic", duration=600.0, period_s=60.0,
                                   min_nodes=1, max_nodes=30, target_utilization=0.7), seed=5)
    for snap in sim.run(600.0, dt=1.0):
        assert conserved(snap)
    ratios = [obs.utilization / 0.7 for obs in sim.observations]
    standard_error = 0.7 / math.sqrt(98 * 60) / 0.7
    assert len(ratios) == 9
    assert all(abs(r - 1) < 4 * standard_error + 0.01 for r in ratios[1:])  # the load really is steady
    assert sim.decisions == []
    assert sim.n_nodes == 14


def test_scale_down_waits_for_the_stabilization_window_and_drains_without_losing_requests():
    # 6 nodes; the load falls from 36 to 6 req/s at t = 30 s. Recommendations drop at once, but the
    # highest recommendation of the last 90 s holds the count until t = 30 + 90 has passed.
    step = {"kind": "step", "to_rate": 6.0, "at_s": 30.0}
    sim = ScalingSimulation(scaled(n=6, rate=36.0, shape=step, cpu_ms=200.0, duration=200.0, period_s=10.0,
                                   stabilization_s=90.0, min_nodes=1, max_nodes=10, target_utilization=0.6), seed=3)
    snaps = list(sim.run(200.0, dt=0.5))
    assert all(conserved(s) for s in snaps)
    first_down = min(d.t for d in sim.decisions if d.decision.desired < d.decision.current)
    assert 30.0 + 90.0 - 10.0 < first_down < 30.0 + 90.0 + 10.0 + 1e-6
    assert snaps[-1].lost_total == 0
    assert any(a.kind == "drain" for d in sim.decisions for a in d.actions)
    assert sim.n_nodes < 6


def test_warm_up_delays_the_added_capacity_by_exactly_boot_plus_health_check():
    restart, hc = 4.0, 1.5
    sim = ScalingSimulation(scaled(n=1, rate=200.0, cpu_ms=8.0, restart=restart, hc=hc, ram_gb=16.0, period_s=5.0,
                                   max_nodes=2, scale_up_max_nodes=1, duration=30.0), seed=9, record=True)
    states = []
    for snap in sim.run(30.0, dt=0.25):
        states.append((snap.t, snap.state.copy()))
        assert conserved(snap)
    added = [d for d in sim.decisions if d.actions and d.actions[0].kind == "add"]
    assert len(added) == 1 and sim.n_nodes == 2
    t_add = added[0].t
    log = sim.request_log()
    to_new = log.arrival[log.node == 1]
    # nothing reaches the new node before boot + health check; traffic flows at once after
    assert to_new.min() >= t_add + restart + hc
    assert to_new.min() < t_add + restart + hc + 0.05  # 200 req/s: the next arrivals are ms apart
    booting = [s[1] for t, s in states if t_add < t <= t_add + restart - 1e-9]
    assert booting and all(s == RESTARTING for s in booting)
    assert all(s[1] == UP for t, s in states if t >= t_add + restart + 1e-9)


def test_draining_a_node_loses_no_request_and_removes_it_when_empty():
    scenario = scaled(n=3, rate=6.0, cpu_ms=2000.0, cores=2, ram_gb=8.0, policy="round_robin", duration=60.0,
                      autoscale=False)
    sim = ScalingSimulation(scenario, seed=4, record=True)
    snaps = list(sim.run(20.0, dt=0.5))
    held = int(snaps[-1].in_flight[2])
    assert held >= 2  # it holds requests (queued and in service) when told to drain
    t_drain = sim.t
    sim.drain(2)
    removed_at = None
    while removed_at is None:
        t_before = sim.t
        snap = sim.step(0.5)
        snaps.append(snap)
        if "n2" in sim.names():
            assert snap.node_offered[2] == 0 and snap.state[2] == UP  # still serving what it holds
        else:
            removed_at = t_before  # removed at the start of this step
    log = sim.request_log()
    mine = (log.node == 2) & (log.arrival < t_drain)
    assert not np.any((log.node == 2) & (log.arrival >= t_drain))  # no new requests
    assert np.all(log.outcome[mine & (log.departure > t_drain)] == SERVED)  # those held were finished
    final_departure = np.nanmax(log.departure[mine])
    assert final_departure > t_drain + 2.0  # it really had work left
    assert removed_at < final_departure <= sim.t  # removed inside that step ...
    assert sim.scenario.nodes == scenario.nodes[:2] and snap.utilization.size == 2
    assert snap.cost_per_hour == pytest.approx(sum(n.price_per_hour for n in scenario.nodes[:2]))
    assert not np.any(log.outcome == LOST)
    assert all(conserved(s) for s in snaps)


def test_a_failed_node_is_drained_first_and_a_booting_node_never_rejoins():
    sim = ScalingSimulation(scaled(n=3, rate=3.0, duration=60.0, autoscale=False), seed=2)
    list(sim.run(2.0, dt=0.5))
    sim.fail(0)
    j = sim.add_node(sim.scenario.nodes[0].model_copy(update={"name": "extra"}))
    sim.drain(j)
    list(sim.run(20.0, dt=0.5))
    assert "extra" not in sim.names()  # removed while booting, never put into rotation
    sim.drain(0)  # the failed node holds nothing: it goes at the next step
    sim.step(0.5)
    assert sim.names() == ["n1", "n2"] and not np.any(sim.node_state == DOWN)


def test_vertical_autoscaler_climbs_the_ladder_with_a_restart_each_time():
    sim = ScalingSimulation(validate_data({
        "duration_s": 120,
        "nodes": [{"name": "big", "cores": 1, "ram_gb": 1.0, "storage_gb": 500.0, "price_per_hour": 0.0116,
                   "restart_s": 3.0}],
        "workload": {"rate": 25.0, "max_rate": 100.0, "cpu_time_ms": 100.0, "memory_mb": 10.0},
        "autoscaler": {"kind": "vertical", "target_utilization": 0.8, "period_s": 10.0},
    }), seed=1)
    states = [(s.t, int(s.state[0])) for s in sim.run(120.0, dt=0.5)]
    node = sim.scenario.nodes[0]
    assert (node.cores, node.ram_gb, node.storage_gb, node.price_per_hour) == (4, 4.0, 2000.0, 0.0464)
    assert [d.reason.split(": ")[1] for d in sim.decisions] == ["1 -> 2 CPU (restarts)", "2 -> 4 CPU (restarts)"]
    restarts = [d.t for d in sim.decisions]
    for t, state in states:  # down exactly for the 3 s restart after each resize
        assert (state == RESTARTING) == any(r < t < r + 3.0 - 1e-9 for r in restarts)
    sim.reset()
    assert sim.scenario.nodes[0].cores == 1 and sim.decisions == []


def vertical(rate: float, cores: int = 1, shape=None, **autoscaler):
    """One 1/2/4-CPU ladder server (3 s restart) under ``rate`` req/s of 100 ms requests."""
    workload = {"rate": rate, "max_rate": 100.0, "cpu_time_ms": 100.0, "memory_mb": 10.0}
    if shape:
        workload["shape"] = shape
    rung = {1: (1.0, 500.0, 0.0116), 2: (2.0, 1000.0, 0.0232), 4: (4.0, 2000.0, 0.0464)}[cores]
    return validate_data({
        "nodes": [{"name": "big", "cores": cores, "ram_gb": rung[0], "storage_gb": rung[1], "price_per_hour": rung[2],
                   "restart_s": 3.0}],
        "balancer": {"health_check_s": 1.0},
        "workload": workload,
        "autoscaler": {"kind": "vertical", "target_utilization": 0.8, "period_s": 10.0, **autoscaler},
    })


def test_vertical_goes_up_the_ladder_as_a_wave_rises_and_down_once_it_has_stayed_low():
    wave = {"kind": "wave", "period_s": 1200.0, "amplitude": 0.8}  # 15 req/s, up to 27 at 300 s, 3 at 900 s
    sim = ScalingSimulation(vertical(15.0, shape=wave, stabilization_s=60.0), seed=4)
    snaps = list(sim.run(1200.0, dt=0.5))
    assert all(conserved(s) for s in snaps)
    moves = [(d.t, int(d.reason.split(": ")[-1].split(" -> ")[0]), d.actions[0].spec.cores) for d in sim.decisions]
    ups = [(t, new) for t, old, new in moves if new > old]
    downs = [(t, new) for t, old, new in moves if new < old]
    assert [new for t, new in ups if t < 300.0] == [2, 4]  # up the ladder while the wave rises
    assert all(t > 1000.0 for t, _ in ups[2:])  # and again only once it rises from the trough
    assert downs and all(300.0 < t < 1000.0 for t, _ in downs) and downs[-1][1] == 1  # down once it has fallen
    for (t0, _, _), (t1, old, new) in zip(moves, moves[1:], strict=False):
        if new < old:
            assert t1 - t0 >= 60.0 - 1e-9  # it stayed low for the whole stabilization window at that size
    assert all("low for 60 s" in d.reason for d, (_, old, new) in zip(sim.decisions, moves, strict=True) if new < old)
    restarts = [t for t, _, _ in moves]
    for snap in snaps:  # each resize is a restart: out of rotation for exactly its 3 s
        assert (snap.state[0] == RESTARTING) == any(r < snap.t < r + 3.0 - 1e-9 for r in restarts)
    for r in restarts:  # ... and the requests that arrive meanwhile are turned away or lost
        before = next(s for s in reversed(snaps) if s.t <= r + 1e-9)
        after = next(s for s in snaps if s.t >= r + 3.0 - 1e-9)
        assert after.rejected_total + after.lost_total > before.rejected_total + before.lost_total
    node = sim.scenario.nodes[0]
    assert (node.cores, node.price_per_hour) == {1: (1, 0.0116), 2: (2, 0.0232), 4: (4, 0.0464)}[moves[-1][2]]


@pytest.mark.parametrize(("start", "resizes"), [(2, []), (1, [2])])
def test_vertical_does_not_flap_under_a_steady_load(start, resizes):
    # 9 req/s: 0.9 on 1 CPU (above the 0.8 target), 0.45 on 2 CPU; back on 1 CPU it would be 0.9 > 0.72
    sim = ScalingSimulation(vertical(9.0, cores=start, stabilization_s=30.0), seed=2)
    for snap in sim.run(1500.0, dt=1.0):
        assert conserved(snap)
    assert [d.actions[0].spec.cores for d in sim.decisions] == resizes


def test_ladder_recommendation_keeps_a_tolerance_below_the_target():
    config = Autoscaler(kind="vertical", target_utilization=0.8, tolerance=0.1)
    assert ladder_recommendation(config, 1, 0.81) == 2 and ladder_recommendation(config, 4, 0.95) == 4
    assert ladder_recommendation(config, 2, 0.38) == 2  # 0.76 on 1 CPU: under 0.8 but not under 0.72
    assert ladder_recommendation(config.model_copy(update={"tolerance": 0.0}), 2, 0.38) == 1
    assert ladder_recommendation(config, 2, 0.30) == 1  # 0.60 on 1 CPU
    assert ladder_recommendation(config, 4, 0.20) == 2  # 0.80 on 1 CPU is too much; 0.40 on 2
    assert ladder_recommendation(config, 4, 0.05) == 1
    assert ladder_recommendation(config, 2, math.nan) == 2


@pytest.mark.parametrize(("utilizations", "expected"), [
    ((0.05, 0.05, 0.2, 0.05, 0.05, 0.05, 0.05), [(30, 2), (60, 1)]),  # the window's highest (2), then a new window
    ((0.05, 0.5, 0.05, 0.05, 0.05, 0.05, 0.05), [(60, 1)]),  # a busy period (4 CPU) holds it until 30 s after
])
def test_vertical_scale_down_waits_a_whole_window_and_takes_its_highest_recommendation(utilizations, expected):
    config = Autoscaler(kind="vertical", target_utilization=0.8, tolerance=0.1, period_s=10.0, stabilization_s=30.0)
    memory, cores, log = LadderMemory(), 4, []
    for k, utilization in enumerate(utilizations, start=1):
        resizes, memory = vertical_decide(config, memory, 10.0 * k, [("big", cores, utilization)])
        for resize in resizes:
            cores = resize.rung.cores
            log.append((10 * k, cores))
    assert log == expected


@pytest.mark.parametrize(("ready", "utilization", "expected"), [
    (7, 0.92, 10),  # ceil(7 x 0.92 / 0.7) = ceil(9.2)
    (7, 0.75, 7),  # ratio 1.07: inside the tolerance
    (7, 0.40, 7),  # a lower recommendation is held by the higher ones of the window
    (4, 0.92, 7),  # 3 nodes booting count as idle: ceil(4 x 1.31) = 6 < 7 x 1.1: no change
    (5, 1.00, 7),  # 5 x 1.43 = 7.1: within 10% of 7
    (6, 1.00, 9),  # ceil(6 x 1.43) = 9
])
def test_hpa_decision_examples(ready, utilization, expected):
    config = Autoscaler(min_nodes=1, max_nodes=20, target_utilization=0.7, scale_up_max_nodes=4)
    memory = HpaMemory(((0.0, 7),))
    decision, _ = hpa_decide(config, memory, Observation(60.0, 7, ready, utilization, math.nan))
    assert decision.desired == expected


def test_hpa_limits_and_reason():
    config = Autoscaler(min_nodes=2, max_nodes=9, target_utilization=0.5, scale_up_max_nodes=2,
                        scale_up_max_percent=50.0, stabilization_s=0.0)
    up, _ = hpa_decide(config, HpaMemory(), Observation(15.0, 4, 4, 1.0, math.nan))
    assert up.recommendation == 8 and up.desired == 6  # max(4 + 2, ceil(4 x 1.5)) = 6
    assert up.reason == "utilization 1.00 > target 0.50: 4 -> 6 nodes (at most 2 more per period)"
    top, _ = hpa_decide(config, HpaMemory(), Observation(15.0, 8, 8, 1.0, math.nan))
    assert top.desired == 9 and "max_nodes 9" in top.reason
    down, _ = hpa_decide(config, HpaMemory(), Observation(15.0, 4, 4, 0.05, math.nan))
    assert down.desired == 2 and "min_nodes 2" in down.reason
    latency = Autoscaler(metric="p95_latency", target_p95_ms=200.0, max_nodes=20)
    slow, _ = hpa_decide(latency, HpaMemory(), Observation(15.0, 3, 3, math.nan, 450.0))
    assert slow.desired == 7 and slow.reason == "p95 450 ms > target 200 ms: 3 -> 7 nodes"


def test_a_session_replays_the_autoscaler_exactly_when_scrubbed_or_saved():
    from sim_core import metrics
    from sim_core.session import AUTOSCALER, Session

    scenario = scaled(n=2, rate=4.0, shape={"kind": "ramp", "to_rate": 40.0, "start_s": 5.0, "end_s": 50.0},
                      duration=80.0, period_s=10.0, stabilization_s=20.0, max_nodes=8, min_nodes=2)
    session = Session(scenario)
    seen = {}
    k = 0
    while session.t < 80.0 - 1e-9:  # uneven steps that do not divide the period, as the window's are
        session.advance(min(0.07 * (1 + k % 3), 80.0 - session.t), 1)
        k += 1
        snap = session.last
        seen[round(snap.t, 9)] = (snap.served_total, snap.lost_total, tuple(session.sim.names()), snap.cost_total)
    decisions = [(d.t, d.reason) for d in session.sim.decisions]
    assert len(decisions) >= 3 and all(abs(t / 10.0 - round(t / 10.0)) < 1e-9 for t, _ in decisions)
    reasons = [e.reason for e, origin in session.timeline if origin == AUTOSCALER]
    assert reasons and all("target 0.70" in r for r in reasons)
    for t in (33.0, 61.5):  # scrub back: restore a checkpoint and re-simulate in two big steps
        session.jump(t)
        snap = session.last
        served, lost, names, cost = seen[round(snap.t, 9)]
        assert (snap.served_total, snap.lost_total, tuple(session.sim.names())) == (served, lost, names)
        assert snap.cost_total == pytest.approx(cost, rel=1e-12)  # summed over other steps: rounding only
        assert [(d.t, d.reason) for d in session.sim.decisions] == [d for d in decisions if d[0] < snap.t - 1e-9]
    # the run saved as a scenario replays headless to the same end (the autoscaler decides again)
    summary, sim = metrics.run(session.run_scenario(), 80.0, dt=1.0)
    assert [(d.t, d.reason) for d in sim.decisions] == decisions
    assert summary.served == seen[80.0][0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["horizontal", "vertical"]), policy=st.sampled_from(POLICIES),
       rate=st.floats(0.0, 120.0), period=st.sampled_from([0.7, 2.0, 5.0]), n=st.integers(1, 4),
       window=st.sampled_from([0.0, 3.0]), metric=st.sampled_from(["utilization", "p95_latency"]),
       plan=st.lists(st.tuples(st.sampled_from([0.05, 0.3, 1.1]), st.sampled_from([None, "fail", "drain"]),
                               st.integers(0, 5)), min_size=5, max_size=40), seed=st.integers(0, 99))
def test_conservation_and_bounds_hold_whatever_the_autoscaler_does(kind, policy, rate, period, n, window, metric,
                                                                    plan, seed):
    extra = {"metric": metric, "target_p95_ms": 150.0} if kind == "horizontal" else {}
    scenario = scaled(n=n, rate=rate, cpu_ms=50.0, restart=0.5, hc=0.3, ram_gb=1.0, policy=policy, duration=60.0,
                      kind=kind, period_s=period, stabilization_s=window, min_nodes=1, max_nodes=6, **extra)
    sim = ScalingSimulation(scenario, seed=seed)
    failed = False
    for dt, action, k in plan:
        if action == "fail" and k < sim.n_nodes:
            sim.fail(k)
            failed = True
        elif action == "drain" and k < sim.n_nodes and sim.n_nodes > 1:
            sim.drain(k)
        snap = sim.step(dt)
        assert conserved(snap)
        assert snap.utilization.size == sim.n_nodes == len(sim.names())
        draining = sim.draining_mask()
        assert not np.any(sim.state.routable & draining)  # a draining node gets no traffic
        if kind == "horizontal" and not draining.any():
            assert sim.n_nodes <= 6
        if not failed:
            assert snap.lost_total == 0 or any(d.actions[0].kind == "resize" for d in sim.decisions)


def test_a_trace_pinned_to_nodes_is_refused_with_a_horizontal_autoscaler(tmp_path):
    from sim_core.engine.trace import load_trace
    from sim_core.scenario import ScenarioError

    path = tmp_path / "t.csv"
    path.write_text("arrival_s,cpu_s,node\n0.1,0.05,0\n0.2,0.05,1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="trace: its node column"):
        ScalingSimulation(scaled(n=2), trace=load_trace(path))
    ScalingSimulation(scaled(n=2, autoscale=False), trace=load_trace(path))  # without the autoscaler: fine
