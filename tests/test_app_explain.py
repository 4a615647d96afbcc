"""The window's explanations: theory overlay equal to theory.py, bands, availability panel, N-1 verdict."""

from __future__ import annotations

import math

import pytest

from app.panels.explain_panel import ms
from app.windows.main_window import MainWindow
from sim_core.engine.scaling import ScalingSimulation
from sim_core.scenario_file import builtin_names, resolve
from sim_core.theory import availability
from sim_core.theory import predict as theory
from sim_core.theory.live_bands import LiveBands


def ticks(win: MainWindow, count: int, tick_s: float = 0.05) -> None:
    for _ in range(count):
        win.clock.tick(tick_s)


@pytest.mark.parametrize("name", builtin_names())
def test_overlay_equals_theory_for_each_builtin(window, name):
    assert window.open_builtin(name)
    ticks(window, 4)
    ex = window.explain
    expected = window.ctrl.predict()
    assert expected == theory.predict(window.ctrl.session.sim)
    assert ex.explainer.prediction == expected
    lines = ex.charts.lines
    if expected.applies:
        assert lines["mean"].isVisible() and lines["mean"].value() == pytest.approx(expected.mean_s * 1e3)
        if not math.isnan(expected.p99_s):
            assert lines["p99"].value() == pytest.approx(expected.p99_s * 1e3)
            assert ex.readout.text("p99").endswith(f"theory {ex.panel.texts['p99'].split('theory ')[1]}")
        assert ex.panel.texts["model"] == f"{expected.model} ({expected.kind})"
    else:
        assert not lines["mean"].isVisible() and not lines["p99"].isVisible()
        assert ex.panel.texts["model"] == "No closed form" and ex.panel.texts["formula"] == expected.reason


def test_readout_and_panel_show_band_and_theory_beside_the_measured_p99(window):
    window.clock.set_speed(20.0)
    ticks(window, 40)
    ex = window.explain
    ex.explainer.refresh_now()
    bands = ex.explainer.bands
    assert bands.p99.half_width > 0
    note = ex.readout.labels["p99"].text()
    assert note.startswith("± ") and "theory 1.00 s" in note  # E7/M/1 p99 = 1.0015 s
    assert ex.panel.texts["mean"].endswith("theory 217 ms")
    p50 = theory.predict(resolve("horizontal-7x1")).p50_s
    assert ex.readout.labels["p50"].text() == f"theory {round(p50 * 1e3)} ms"
    low, high, _fill = ex.charts.band_curves["p99"]
    assert low.getData()[0].size > 0 and (high.getData()[1] >= low.getData()[1]).all()


def test_scrubbing_back_shows_the_bands_and_warmup_of_that_moment_then_play_goes_on(window):
    window.clock.set_speed(20.0)
    ex = window.explain
    for _ in range(60):  # about 24 s of the run, the bands drawn at every tick (not only 4 times a wall second)
        ticks(window, 1)
        ex.explainer.refresh_now()
    ctrl = window.ctrl
    ends = list(ctrl.session.step_ends)
    window.scrubber.step(-10.0)  # the Run slider's Alt+Shift+Left
    t = ctrl.t
    fresh = LiveBands()
    sim = ScalingSimulation(resolve("horizontal-7x1"))
    for end in ends[1:]:
        if end <= t + 1e-9:
            fresh.add(sim.step_to(end))
    want = fresh.bands()
    got = ex.explainer.bands
    assert got.t == want.t and got.warmup_end_s == want.warmup_end_s > 0
    assert got.p99.value == pytest.approx(want.p99.value, rel=1e-12)
    assert got.p99.half_width == pytest.approx(want.p99.half_width, rel=1e-12)
    assert ex.charts.warmup.isVisible() and ex.charts.warmup.value() == want.warmup_end_s
    drawn = ex.charts.band_curves["p99"][0].getData()[0]
    assert drawn.size > 1 and drawn.max() == pytest.approx(t)  # the band up to that moment, none after
    ticks(window, 10)  # play on: the replayed steps carry the bands on
    ex.explainer.refresh_now()
    assert ex.explainer.bands.t == ctrl.t > t and ex.explainer.bands.p99.half_width > 0


def test_a_failure_makes_the_theory_say_why_it_does_not_apply_then_the_smaller_cluster(window):
    ticks(window, 2)
    window.ctrl.toggle_node(window.ctrl.node_ids[2])
    assert "in progress" in window.explain.panel.texts["formula"]
    assert not window.explain.charts.lines["mean"].isVisible()


def test_availability_panel_shows_nines_and_measured_share(window):
    assert window.open_builtin("nines-7x1cpu")
    window.clock.set_speed(50.0)
    ticks(window, 20)
    ex = window.explain.explainer
    ex.refresh_now()  # the panel follows at most 4 times per wall second; bring it up to date
    texts = window.explain.panel.texts
    report = availability.predict_availability(resolve("nines-7x1cpu"))
    assert texts["cluster_avail"].startswith(f"99.961%: {report.nines:.2f} nines, 3 of 7 up")
    assert ex.observed_s == pytest.approx(window.ctrl.t)
    assert f"of {ex.observed_s:.0f} s" in texts["measured_avail"]
    assert texts["blast"].startswith("node-1: 14% of capacity")


def test_n1_check_runs_off_the_frame_and_marks_the_canvas(window):
    ex = window.explain
    ticks(window, 4)
    ex.panel.n1_check.setChecked(True)
    assert ex.explainer.n1_running  # the click returned while the forks are still running
    ticks(window, 2)  # frames go on meanwhile
    assert ex.explainer.wait_n1(120)
    result = ex.explainer.n1_result
    assert result is not None and result.safe
    assert result.target_from.startswith("2.5 x ") and ex.panel.target_s() is None  # the default target
    assert ex.verdict.isVisible() and ex.verdict.text().startswith(
        f"N-1 safe (p99 target {ms(result.target_p99_s)}): losing node-")
    assert ex.panel.texts["verdict"] == result.verdict()
    ex.panel.n1_check.setChecked(False)
    assert not ex.verdict.isVisible()


def test_n1_on_the_single_server_is_not_safe(window):
    assert window.open_builtin("vertical-4cpu")
    ticks(window, 4)
    window.explain.panel.target.setValue(5.0)
    window.explain.panel.n1_check.setChecked(True)
    assert window.explain.explainer.wait_n1(60)
    assert window.explain.verdict.text().startswith("N-1 NOT safe (p99 target 5.00 s): losing node-1")
    assert "availability 0.0%" in window.explain.panel.texts["verdict"]
    assert "p99 target 5 s, set by the user" in window.explain.panel.texts["verdict"]


def test_inspector_turns_random_failures_on_and_undo_turns_them_off(window):
    node_id = window.ctrl.node_ids[0]
    window.inspector.show_node(node_id)
    editor = window.inspector.failures
    assert not editor.enabled.isChecked() and not editor.mtbf.isEnabled()
    editor.enabled.setChecked(True)
    node = window.ctrl.node(node_id)
    assert (node.mtbf_s, node.mttr_s) == (300.0, 30.0)
    editor.mttr.setValue(12.5)
    assert window.ctrl.node(node_id).mttr_s == 12.5
    window.explain.explainer.refresh_now()
    share = availability.node_availability(300.0, 12.5, node.restart_s)  # the others never fail: min is node-1's
    assert window.explain.panel.texts["node_avail"].startswith(f"{100 * share:.4g}%")
    assert "mttr_s" in window.ctrl.document().model_dump(mode="json")["nodes"][0]
    window.ctrl.undo_stack.undo()
    window.ctrl.undo_stack.undo()
    assert window.ctrl.node(node_id).mtbf_s is None and not editor.enabled.isChecked()


def test_within_a_clock_frame_the_overlay_waits_for_its_charts_next_redraw(window):
    """A frame redraws one chart: the bands refreshed by a frame reach a chart when it is drawn."""
    window.clock.set_speed(20.0)
    ticks(window, 40)
    ex, overlay, charts = window.explain.explainer, window.explain.charts, window.charts
    _low, high, _fill = overlay.band_curves["p99"]
    before = high.getData()[0].size
    window.ctrl.in_frame = True  # steps run by a clock frame: the explanations wait for the frame's share
    window.ctrl.advance(0.5, 10)
    window.ctrl.in_frame = window.ctrl.frame_busy = False
    ex._refreshed_wall = -math.inf  # the refresh interval is over
    ex.on_frame(0.016)  # that frame's share: new bands
    assert overlay._due == {charts.latency, charts.availability} and high.getData()[0].size == before
    charts._draw(charts.latency)
    assert overlay._due == {charts.availability}
    assert high.getData()[0].size == before + 1 and high.getData()[0][-1] == ex.bands.t
    charts._draw(charts.availability)
    assert not overlay._due


def test_the_measured_availability_after_a_jump_is_that_of_the_moment_shown(window):
    assert window.open_builtin("nines-7x1cpu")
    window.clock.set_speed(50.0)
    ex = window.explain.explainer
    ticks(window, 30)
    then = (window.ctrl.t, ex.measured_availability, ex.observed_s)
    ticks(window, 60)
    head = (window.ctrl.t, ex.measured_availability, ex.observed_s)
    assert head[2] > then[2] > 0
    window.ctrl.jump(then[0])
    assert (window.ctrl.t, ex.measured_availability, ex.observed_s) == pytest.approx(then)
    window.ctrl.jump(window.ctrl.head_t)
    assert (window.ctrl.t, ex.measured_availability, ex.observed_s) == pytest.approx(head)
    window.ctrl.jump(then[0])
    ticks(window, 60)  # played on from there: the same steps again
    assert (window.ctrl.t, ex.measured_availability, ex.observed_s) == pytest.approx(head)
