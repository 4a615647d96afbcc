"""The session layer: document apart from run, a timeline that replays exactly, scrubbing."""

from __future__ import annotations

import io

import numpy as np
import pytest

from sim_core import metrics
from sim_core.cli import main
from sim_core.engine.state import DOWN, UP
from sim_core.scenario_file import load, resolve, save
from sim_core.session import Session

STEP = 0.05


def play(session: Session, until: float, dt: float = STEP) -> None:
    """Step like the window does (uneven steps of about ``dt``) until ``until`` seconds."""
    k = 0
    while session.t < until - 1e-9:
        session.advance(min(dt * (1 + 0.3 * (k % 3)), until - session.t), 1)
        k += 1


def test_adding_a_node_mid_run_keeps_every_sample():
    session = Session(resolve("horizontal-7x1"))
    play(session, 20.0)
    before = session.history.size
    times_before = session.history.column("t").copy()
    session.add_node(session.scenario.nodes[0].model_copy(update={"name": "node-8"}))
    play(session, 25.0)
    h = session.history
    assert h.size > before and np.array_equal(h.column("t")[:before], times_before)  # no sample lost
    assert len(h.node_ids) == 8  # the per-node series gained a row
    util = h.utilization()
    new_col = h.node_ids.index(session.id_by_name("node-8"))
    assert np.isnan(util[:before, new_col]).all() and not np.isnan(util[before:, new_col]).all()
    served = h.column("served_total")
    assert np.all(np.diff(served) >= 0) and np.all(np.diff(h.column("t")) > 0)  # continuous, never restarted
    assert h.column("n_nodes")[-1] == 8


def test_a_removed_nodes_row_stays_until_it_scrolls_out():
    session = Session(resolve("horizontal-7x1"))
    play(session, 5.0)
    gone = session.node_ids[2]
    session.remove_node(gone)
    play(session, 8.0)
    assert gone in session.history.node_ids
    assert gone not in session.node_ids


def test_a_resize_event_shows_in_the_run_not_in_the_document(tmp_path):
    scenario = resolve("horizontal-7x1")
    data = scenario.model_dump(mode="json")
    data["events"] = [{"at_s": 2.0, "action": "resize", "node": "node-1", "cores": 4}]
    save(type(scenario).model_validate(data), tmp_path / "s.json")
    session = Session(load(tmp_path / "s.json"))
    node_id = session.id_by_name("node-1")
    play(session, 3.0)
    assert session.node(node_id).cores == 4 and session.changed_fields(node_id) == ["cores"]
    assert session.document_to_save() == load(tmp_path / "s.json")  # Save writes the document unchanged


def record_clicks() -> Session:
    session = Session(resolve("horizontal-7x1"))
    play(session, 20.0)
    session.toggle_node(session.id_by_name("node-3"))
    play(session, 35.0)
    session.toggle_node(session.id_by_name("node-3"))
    play(session, 50.0)
    session.add_node(session.scenario.nodes[0].model_copy(update={"name": "node-8"}))
    play(session, 60.0)
    session.set_workload(session.scenario.workload.model_copy(update={"rate": 65.0}))
    play(session, 70.0)
    return session


def test_a_recorded_run_saved_and_run_headless_gives_the_windows_csv_byte_for_byte(tmp_path, capsys):
    session = record_clicks()
    assert [e.action for e, origin in session.timeline if origin == "user"] == ["fail", "recover", "add", "set_rate"]
    save(session.run_scenario(), tmp_path / "run.json")
    exported = io.StringIO()
    rows = session.export_csv(exported)
    assert rows == 70
    assert main(["run", str(tmp_path / "run.json"), "--csv", str(tmp_path / "cli.csv")]) == 0
    assert (tmp_path / "cli.csv").read_text() == exported.getvalue()
    # and the CSV is the live run's: the same requests, second by second
    by_t = {round(float(line.split(",")[0])): line.split(",") for line in exported.getvalue().splitlines()[1:]}
    served = session.history.column("served_total")
    t = session.history.column("t")
    assert int(served[np.searchsorted(t, 70.0 - 1e-9)]) == session.last.served_total
    assert by_t[70][-1] == "8"  # nodes up at the end: the added node is in
    assert int(by_t[21][-1]) == 6  # node-3 failed at 20 s


def snapshot_view(session: Session) -> dict:
    snap = session.last
    return {
        "t": session.t, "states": [session.node_state(i) for i in session.node_ids],
        "names": [session.node(i).name for i in session.node_ids],
        "p99": snap.latency_p99, "p50": snap.latency_p50, "availability": snap.availability,
        "queue": snap.queue.tolist(), "in_flight": snap.in_flight.tolist(), "totals": metrics.totals(snap),
    }


def test_scrub_back_shows_the_moment_and_playing_on_repeats_the_run():
    session = record_clicks()
    final = snapshot_view(session)
    h = session.history
    recorded = {name: h.column(name).copy() for name in ("t", "p50_ms", "p99_ms", "availability_pct", "served_total")}
    session.jump(30.0)
    at_30 = snapshot_view(session)
    t = at_30["t"]
    assert t == pytest.approx(30.0, abs=0.1) and at_30["states"][2] == DOWN and len(at_30["names"]) == 7
    # the engine's state equals a fresh run of the same scenario, seed and timeline stepped to that moment
    fresh = Session(session.run_scenario())
    play(fresh, t)
    assert fresh.t == t
    for key in ("states", "names", "queue", "in_flight", "totals"):
        assert at_30[key] == snapshot_view(fresh)[key], key
    # and the windowed figures are those the run showed then
    k = int(np.searchsorted(recorded["t"], t))
    assert recorded["t"][k] == t
    assert at_30["p50"] * 1e3 == recorded["p50_ms"][k] and at_30["p99"] * 1e3 == recorded["p99_ms"][k]
    assert at_30["availability"] * 100 == recorded["availability_pct"][k]
    assert at_30["totals"][1] == recorded["served_total"][k]
    assert h.column("t")[-1] == t  # the charts end at the moment shown
    play(session, 70.0)  # replays the recorded steps and actions
    assert snapshot_view(session) == final
    assert session.node_state(session.id_by_name("node-8")) == UP


def test_replaying_part_of_the_run_then_jumping_to_the_newest_keeps_every_sample():
    session = record_clicks()
    h = session.history
    recorded = {name: h.column(name).copy() for name in ("t", "p99_ms", "served_total")}
    session.jump(30.0)
    play(session, 45.0)  # replays part of the recorded run, then stops short of its newest moment
    assert h.column("t")[-1] == pytest.approx(45.0, abs=0.1)
    session.jump(session.head_t)  # "Newest"
    for name, column in recorded.items():
        assert np.array_equal(h.column(name), column, equal_nan=True), name


def test_an_action_in_the_past_starts_a_branch_that_can_be_undone():
    session = record_clicks()
    head = snapshot_view(session)
    session.jump(40.0)
    future = session.branch()
    session.act("set_rate", rate=10.0)
    assert [e.action for e, o in session.timeline if o == "user"] == ["fail", "recover", "set_rate"]
    play(session, 45.0)
    assert session.head_t == pytest.approx(45.0)
    session.restore_future(future)
    assert [e.action for e, o in session.timeline if o == "user"] == ["fail", "recover", "add", "set_rate"]
    play(session, 70.0)
    assert snapshot_view(session) == head


def test_checkpoints_and_step_times_stay_bounded_on_a_long_run(monkeypatch):
    from sim_core import session as session_module

    monkeypatch.setattr(session_module, "MAX_CHECKPOINTS", 6)
    monkeypatch.setattr(session_module, "MAX_STEP_ENDS", 400)
    monkeypatch.setattr(session_module, "CHECKPOINT_WALL_S", 0.0)
    session = Session(resolve("vertical-1cpu"))
    play(session, 300.0, dt=0.5)
    assert len(session.checkpoints) <= 6 and len(session.step_ends) <= 400
    oldest = session.checkpoints[0].t
    assert oldest > 0  # the oldest times are forgotten...
    session.jump(0.0)  # ...and a jump before them goes to the oldest moment still known
    assert session.t == oldest
    session.jump(250.0)
    assert session.t == pytest.approx(250.0, abs=0.5)


def test_a_node_deleted_and_put_back_returns_to_its_place_and_the_saved_run_replays_exactly():
    session = Session(resolve("gain-fault-tolerance"))  # round robin: a node's place decides its requests
    original = [n.name for n in session.scenario.nodes]
    play(session, 20.0)
    gone = session.id_by_name("node-3")
    node, index = session.node(gone), session.remove_node(gone)
    play(session, 25.0)
    session.add_node(node, index)  # what undoing the delete does
    assert [session.node(i).name for i in session.node_ids] == original
    play(session, 40.0)
    saved = session.run_scenario()
    assert [(e.action, e.index) for e in saved.events if e.action in ("remove", "add")] == [
        ("remove", None), ("add", 2)]
    replay = Session(type(saved).model_validate_json(saved.model_dump_json()))  # through a file's text
    play(replay, 40.0)
    for key in ("states", "names", "queue", "in_flight", "totals"):
        assert snapshot_view(replay)[key] == snapshot_view(session)[key], key


def test_a_scripted_event_for_a_node_the_user_deleted_is_skipped_not_a_crash():
    data = resolve("horizontal-7x1").model_dump(mode="json")
    data["events"] = [{"at_s": 30.0, "action": "fail", "node": "node-7"},
                      {"at_s": 31.0, "action": "add", "spec": dict(data["nodes"][0], name="node-9")}]
    session = Session(type(resolve("horizontal-7x1")).model_validate(data))
    play(session, 20.0)
    session.remove_node(session.id_by_name("node-7"))
    session.add_node(session.scenario.nodes[0].model_copy(update={"name": "node-9"}))  # takes the script's name
    play(session, 40.0)
    assert [e.action for e in session.sim.skipped] == ["fail", "add"]
    assert len(session.node_ids) == 7 and all(session.node_state(i) == UP for i in session.node_ids)
    saved = session.run_scenario()  # the saved run leaves them out, and replays the same way
    assert [e.action for e in saved.events] == ["remove", "add"]
    replay = Session(saved)
    play(replay, 40.0)
    for key in ("states", "names", "queue", "in_flight", "totals"):  # the requests; not the windowed figures
        assert snapshot_view(replay)[key] == snapshot_view(session)[key], key
