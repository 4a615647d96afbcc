"""The scenario model: built-in files, round trips, atomic saving and the messages for bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim_core.scenario import MAX_NODES, Node, Scenario, ScenarioError
from sim_core.scenario_file import (
    DEFAULT_SCENARIO,
    builtin_names,
    builtin_path,
    dumps,
    load,
    loads,
    resolve,
    save,
    validate_data,
)

SLIDE = {  # name -> (node count, cores, ram_gb, storage_gb) of each node, as on the slide
    "vertical-1cpu": (1, 1, 1.0, 500.0),
    "vertical-2cpu": (1, 2, 2.0, 1000.0),
    "vertical-4cpu": (1, 4, 4.0, 2000.0),
    "horizontal-7x1": (7, 1, 1.0, 500.0),
}
GAINS = ("gain-scalability", "gain-concurrency", "gain-fault-tolerance")


def builtin_data(name: str = DEFAULT_SCENARIO) -> dict:
    return json.loads(builtin_path(name).read_text(encoding="utf-8"))


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        validate_data(data)
    return caught.value.problems


# --- built-in scenarios -------------------------------------------------------------------

def test_the_slide_and_the_three_gains_are_built_in():
    assert set(SLIDE) | set(GAINS) <= set(builtin_names())
    assert DEFAULT_SCENARIO == "horizontal-7x1"


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_loads_and_is_described(name):
    scenario = load(builtin_path(name))
    assert scenario.name == name
    assert scenario.version == 1
    assert len(scenario.description) > 80, "a visitor needs to be told what to look at"
    positions = {(node.x, node.y) for node in scenario.nodes}
    assert len(positions) == len(scenario.nodes), "node boxes must not sit on top of each other"


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_files_are_in_canonical_form(name):
    """A built-in file is exactly what saving it produces, so a round trip changes nothing."""
    text = builtin_path(name).read_text(encoding="utf-8")
    assert dumps(loads(text)) == text


@pytest.mark.parametrize(("name", "spec"), SLIDE.items())
def test_slide_scenarios_have_the_slide_specs_and_the_same_traffic(name, spec):
    count, cores, ram_gb, storage_gb = spec
    scenario = resolve(name)
    assert len(scenario.nodes) == count
    assert {(n.cores, n.ram_gb, n.storage_gb) for n in scenario.nodes} == {(cores, ram_gb, storage_gb)}
    assert scenario.workload == resolve("horizontal-7x1").workload, "the four must be comparable"


def test_prices_double_with_size():
    names = ("vertical-1cpu", "vertical-2cpu", "vertical-4cpu")
    price = {name: resolve(name).nodes[0].price_per_hour for name in names}
    assert price["vertical-2cpu"] == pytest.approx(2 * price["vertical-1cpu"])
    assert price["vertical-4cpu"] == pytest.approx(4 * price["vertical-1cpu"])


def test_slide_traffic_is_more_than_the_biggest_single_node_serves_but_not_the_cluster():
    def capacity(scenario: Scenario) -> float:  # requests/s with every core busy
        return sum(n.cores * n.core_speed for n in scenario.nodes) * 1000.0 / scenario.workload.cpu_time_ms

    rate = resolve("horizontal-7x1").workload.rate
    assert capacity(resolve("vertical-4cpu")) < rate < capacity(resolve("horizontal-7x1"))


def test_gain_scalability_ramps_past_one_node_and_stays_within_the_cluster():
    scenario = resolve("gain-scalability")
    one_node = 1000.0 / scenario.workload.cpu_time_ms
    cluster = len(scenario.nodes) * one_node
    assert scenario.workload.shape.kind == "ramp"
    assert scenario.workload.rate < one_node < scenario.workload.shape.to_rate < cluster
    assert scenario.workload.shape.end_s < scenario.duration_s


def test_gain_concurrency_burst_fits_seven_small_nodes_but_not_one_4gb_node():
    scenario = resolve("gain-concurrency")
    memory_mb = scenario.workload.memory_mb
    burst = scenario.workload.shape.to_rate * scenario.workload.shape.duration_s
    for mb_per_gb in (1000, 1024):  # the point holds whichever megabyte the engine counts in
        held_by_cluster = sum((n.ram_gb * mb_per_gb) // memory_mb for n in scenario.nodes)  # floor(ram_mb / memory_mb)
        held_by_4gb = (4 * mb_per_gb) // memory_mb
        assert held_by_4gb < burst < held_by_cluster
    vertical = resolve("gain-concurrency-vertical")
    assert vertical.workload == scenario.workload
    assert [(n.cores, n.ram_gb) for n in vertical.nodes] == [(4, 4.0)]


def test_gain_fault_tolerance_fails_and_recovers_one_of_seven():
    scenario = resolve("gain-fault-tolerance")
    assert len(scenario.nodes) == 7
    assert [(e.at_s, e.action) for e in scenario.events] == [(30.0, "fail"), (60.0, "recover")]
    assert scenario.events[0].node == scenario.events[1].node
    per_node = scenario.workload.rate * scenario.workload.cpu_time_ms / 1000.0
    assert per_node / 6 < 1.0, "six nodes must be able to carry the load"


# --- saving -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", builtin_names())
def test_save_then_load_gives_the_same_scenario(tmp_path, name):
    scenario = resolve(name)
    path = tmp_path / "copy.json"
    save(scenario, path)
    again = load(path)
    assert again == scenario
    save(again, path)
    assert path.read_text(encoding="utf-8") == dumps(scenario)


def test_edited_scenario_round_trips(tmp_path):
    data = builtin_data()
    data["nodes"][2]["cores"] = 16
    data["workload"]["shape"] = {"kind": "wave", "period_s": 86400.0, "amplitude": 0.25}
    data["events"] = [{"at_s": 5.0, "action": "resize", "node": "node-3", "cores": 2, "ram_gb": 2.0}]
    scenario = validate_data(data)
    save(scenario, tmp_path / "edited.json")
    assert load(tmp_path / "edited.json") == scenario
    assert load(tmp_path / "edited.json").nodes[2].cores == 16


def test_save_leaves_no_temporary_file(tmp_path):
    save(resolve("vertical-1cpu"), tmp_path / "mine.json")
    save(resolve("vertical-2cpu"), tmp_path / "mine.json")  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]
    assert load(tmp_path / "mine.json").name == "vertical-2cpu"


def test_failed_save_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "mine.json"
    save(resolve("vertical-1cpu"), path)
    before = path.read_bytes()

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        save(resolve("horizontal-7x1"), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]


# --- messages for bad input ---------------------------------------------------------------

def test_negative_cores_names_node_field_value_and_range():
    data = builtin_data()
    data["nodes"][2]["cores"] = -3
    assert problems_of(data) == ["nodes[2].cores: -3 is not in 1..256"]


def test_text_in_a_number_field():
    data = builtin_data()
    data["nodes"][0]["ram_gb"] = "lots"
    data["workload"]["rate"] = "fast"
    assert problems_of(data) == [
        "nodes[0].ram_gb: 'lots' is not a number in 0.125..4096",
        "workload.rate: 'fast' is not a number in 0..2000000",
    ]


def test_fraction_where_a_whole_number_is_needed():
    data = builtin_data()
    data["nodes"][1]["cores"] = 2.5
    assert problems_of(data) == ["nodes[1].cores: 2.5 is not a whole number in 1..256"]


def test_unknown_key_is_named():
    data = builtin_data()
    data["nodes"][0]["colour"] = "red"
    data["balancer"]["polcy"] = "random"
    assert problems_of(data) == [
        "nodes[0].colour: unknown key (remove it or check its spelling)",
        "balancer.polcy: unknown key (remove it or check its spelling)",
    ]


def test_every_problem_gets_its_own_line():
    data = builtin_data()
    data["nodes"][0]["cores"] = 0
    data["nodes"][6]["storage_gb"] = -1
    data["balancer"]["health_check_s"] = 1e9
    problems = problems_of(data)
    assert problems == [
        "nodes[0].cores: 0 is not in 1..256",
        "nodes[6].storage_gb: -1 is not in 1..1000000",
        "balancer.health_check_s: 1e+09 is not in 0..600",
    ]
    with pytest.raises(ScenarioError) as caught:
        validate_data(data)
    assert str(caught.value) == "\n".join(problems)


def test_bad_policy_and_shape_kind_list_the_choices():
    data = builtin_data()
    data["balancer"]["policy"] = "fastest"
    data["workload"]["shape"] = {"kind": "zigzag"}
    problems = problems_of(data)
    assert problems[0].startswith("balancer.policy: 'fastest' is not one of ")
    assert "least_connections" in problems[0]
    assert problems[1] == "workload.shape.kind: 'zigzag' is not one of constant, ramp, step, wave"


def test_ramp_that_ends_before_it_starts_names_the_field():
    data = builtin_data()
    data["workload"]["shape"] = {"kind": "ramp", "to_rate": 50.0, "start_s": 60.0, "end_s": 10.0}
    assert problems_of(data) == ["workload.shape.end_s: 10 must be greater than start_s (60)"]


def test_wrong_container_types_are_named_plainly():
    data = builtin_data()
    data["workload"] = 5
    data["nodes"][0] = "big server"
    assert problems_of(data) == [
        "nodes[0]: 'big server' is not an object ({...})",
        "workload: 5 is not an object ({...})",
    ]


def test_event_on_an_unknown_node():
    data = builtin_data()
    data["events"] = [{"at_s": 10.0, "action": "fail", "node": "node-9"}]
    assert problems_of(data) == ["events[0].node: 'node-9' is not the name of a node at 10 s"]


def test_timeline_events_follow_the_cluster_as_it_changes():
    data = builtin_data()
    spec = dict(data["nodes"][0], name="node-8")
    data["events"] = [
        {"at_s": 5.0, "action": "fail", "node": "node-8"},  # not added yet
        {"at_s": 10.0, "action": "add", "spec": spec},
        {"at_s": 12.0, "action": "fail", "node": "node-8"},
        {"at_s": 20.0, "action": "remove", "node": "node-8"},
        {"at_s": 30.0, "action": "recover", "node": "node-8"},  # gone again
        {"at_s": 31.0, "action": "add", "spec": dict(spec, name="node-1")},  # taken
        {"at_s": 32.0, "action": "set_rate"},  # no rate
        {"at_s": 33.0, "action": "set_policy", "policy": "random", "node": "node-1"},
    ]
    assert problems_of(data) == [
        "events[6].rate: missing; a set_rate event needs it",
        "events[7].node: a set_policy event does not take it",
    ]
    del data["events"][6:]
    assert problems_of(data) == [
        "events[0].node: 'node-8' is not the name of a node at 5 s",
        "events[4].node: 'node-8' is not the name of a node at 30 s",
        "events[5].spec.name: 'node-1' is already the name of a node at 31 s; names must be unique",
    ]


def test_an_add_events_index_is_a_place_in_the_cluster():
    data = builtin_data()
    spec = dict(data["nodes"][0], name="node-8")
    data["events"] = [{"at_s": 1.0, "action": "add", "spec": spec, "index": -1},
                      {"at_s": 2.0, "action": "fail", "node": "node-1", "index": 0}]
    assert problems_of(data) == [f"events[0].index: -1 is not in 0..{MAX_NODES - 1}",
                                 "events[1].index: a fail event does not take it"]


def test_user_actions_round_trip_through_a_file(tmp_path):
    data = builtin_data()
    data["events"] = [
        {"at_s": 1.5, "action": "set_rate", "rate": 80.0, "reason": "a test"},
        {"at_s": 2.0, "action": "set_policy", "policy": "least_connections"},
        {"at_s": 3.0, "action": "add", "spec": dict(data["nodes"][0], name="extra")},
        {"at_s": 4.0, "action": "resize", "node": "extra", "cores": 4},
        {"at_s": 5.0, "action": "remove", "node": "node-1"},
    ]
    scenario = validate_data(data)
    save(scenario, tmp_path / "run.json")
    again = load(tmp_path / "run.json")
    assert again == scenario
    assert [e.describe() for e in again.events[:2]] == [
        "1.5 s: set rate to 80 req/s (a test)", "2.0 s: set policy to least_connections"]
    assert "null" not in (tmp_path / "run.json").read_text()


def test_duplicate_node_names():
    data = builtin_data()
    data["nodes"][3]["name"] = "node-1"
    assert problems_of(data) == ["nodes[3].name: 'node-1' is used by another node; names must be unique"]


def test_invalid_json_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    text = dumps(resolve("vertical-1cpu")).splitlines()
    text[5] = text[5].rstrip(",")  # a hand edit that drops a comma
    path.write_text("\n".join(text), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: not valid JSON at line 7, column")


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path / "nowhere.json")
    assert str(caught.value) == f"{tmp_path / 'nowhere.json'}: no such file"


def test_not_text_and_not_an_object(tmp_path):
    binary = tmp_path / "image.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ScenarioError, match="not a text file"):
        load(binary)
    array = tmp_path / "array.json"
    array.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ScenarioError, match="expected a JSON object at the top level, got list"):
        load(array)


def test_unknown_builtin_name_lists_the_builtins():
    with pytest.raises(ScenarioError) as caught:
        resolve("vertical-8cpu")
    message = str(caught.value)
    assert "'vertical-8cpu' is not a built-in scenario" in message
    assert "vertical-4cpu" in message


def test_a_scenario_of_100000_nodes_names_the_field_and_the_range(tmp_path):
    data = builtin_data()
    node = data["nodes"][0]
    data["nodes"] = [dict(node, name=f"n{i}") for i in range(100_000)]
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert caught.value.problems == [f"nodes: 100000 nodes is not in 1..{MAX_NODES} (too large for this machine)"]


def test_an_oversized_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.json"
    with path.open("wb") as handle:
        handle.truncate(25 * 1024 * 1024)
    with pytest.raises(ScenarioError, match="a scenario file may be at most"):
        load(path)


@settings(max_examples=60, deadline=None)
@given(cores=st.integers(min_value=-10**6, max_value=10**6))
def test_cores_outside_1_to_256_are_rejected_with_the_value(cores):
    data = builtin_data("vertical-1cpu")
    data["nodes"][0]["cores"] = cores
    if 1 <= cores <= 256:
        assert validate_data(data).nodes[0].cores == cores
    else:
        assert problems_of(data) == [f"nodes[0].cores: {cores} is not in 1..256"]


@settings(max_examples=60, deadline=None)
@given(junk=st.one_of(st.text(max_size=20), st.booleans(), st.none(), st.lists(st.integers(), max_size=3)))
def test_anything_but_a_number_in_ram_gets_a_message_not_a_traceback(junk):
    data = builtin_data("vertical-1cpu")
    data["nodes"][0]["ram_gb"] = junk
    problems = problems_of(data)
    assert len(problems) == 1
    assert problems[0].startswith("nodes[0].ram_gb: ")
    assert problems[0].endswith("is not a number in 0.125..4096")



# --- the README stays true ----------------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_scenario_is_valid():
    text = README.read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    scenario = loads(example, "README example")
    assert [n.name for n in scenario.nodes] == ["node-a", "node-b"]
    assert [e.action for e in scenario.events] == ["fail", "recover"]



@pytest.mark.parametrize(("spec", "label"), [
    ({"cores": 1, "ram_gb": 1, "storage_gb": 500}, "1 CPU · 1 GB · 500 GB"),
    ({"cores": 2, "ram_gb": 2, "storage_gb": 1000}, "2 CPU · 2 GB · 1 TB"),
    ({"cores": 4, "ram_gb": 0.5, "storage_gb": 1500}, "4 CPU · 512 MB · 1.5 TB"),  # storage: 1000 GB to the TB
    ({"cores": 8, "ram_gb": 1024, "storage_gb": 2048}, "8 CPU · 1 TB · 2.048 TB"),  # RAM: 1024 GB to the TB
])
def test_spec_label_writes_sizes_as_a_visitor_reads_them(spec, label):
    assert Node(name="n", **spec).spec_label() == label
