"""Fuzzing scenario files and traces as a careless or hostile user would (issue 10).

Hypothesis mutates a valid scenario (wrong types, out-of-range and huge numbers, deep nesting,
odd keys and names with control characters, lone surrogates and great length, truncation,
binary) and writes traces with the same kinds of damage. Each goes through the real command
line, which must either accept it or exit 2 with one printable line per problem that names a
field or the file, never a traceback. At least 2,000 cases run in the normal suite; for 10,000:
``.venv/bin/python -m pytest --hypothesis-profile fuzz-10k tests/test_fuzz_input.py``.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_core.cli import main
from sim_core.scenario_file import load

SCENARIO_CASES = max(1400, settings.default.max_examples)
TRACE_CASES = max(600, settings.default.max_examples // 2)

def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)

FIELDS = {  # where a mutation may land, with the keys of each object
    (): ["version", "name", "description", "duration_s", "seed", "nodes", "balancer", "workload", "events"],
    ("nodes", 0): ["name", "cores", "core_speed", "ram_gb", "storage_gb", "price_per_hour", "restart_s", "x", "y"],
    ("balancer",): ["policy", "health_check_s"],
    ("workload",): ["rate", "max_rate", "shape", "cpu_time_ms", "service", "service_cv", "memory_mb", "data_kb"],
    ("workload", "shape"): ["kind", "to_rate", "start_s", "end_s", "at_s", "duration_s", "period_s", "amplitude"],
    ("events", 0): ["at_s", "action", "node", "cores", "ram_gb"],
}
HUGE = "__HUGE__"  # placeholders replaced in the JSON text: json.dumps cannot write these values
DEEP = "__DEEP__"

odd_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec=None, categories=["Cc", "Cf", "Zl", "Zp", "Cs"]), min_size=1, max_size=6),
    st.sampled_from(["\x1b[2J", "\ud800", "a\nb", "\x00", "constant", "wave", "ramp", "kind", "\u202e", "nodes[0]"]),
    st.integers(1000, 120_000).map(lambda n: "k" * n),
)
hostile = st.one_of(
    st.none(), st.booleans(), odd_text,
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([HUGE, DEEP, [], {}, [1, 2], {"kind": "wave"}, "1", "1e3", 0, -1, 10**19, 1e308, 0.5]),
    st.lists(st.integers(), max_size=3), st.dictionaries(odd_text, st.integers(), max_size=3),
)


def base_scenario() -> dict:
    return {
        "name": "fuzz", "duration_s": 30, "seed": 3,
        "nodes": [{"name": "a", "cores": 2, "ram_gb": 2}, {"name": "b"}],
        "balancer": {"policy": "least_connections", "health_check_s": 2},
        "workload": {"rate": 20, "shape": {"kind": "ramp", "to_rate": 30, "start_s": 1, "end_s": 9},
                     "cpu_time_ms": 50, "memory_mb": 20},
        "events": [{"at_s": 5, "action": "fail", "node": "b"},
                   {"at_s": 9, "action": "resize", "node": "a", "cores": 4}],
    }


@st.composite
def scenario_bytes(draw) -> bytes:
    data = base_scenario()
    copies = draw(st.sampled_from([1] * 12 + [2, 5001]))  # 10,002 events (over the limit) now and then
    data["events"] = [dict(event) for event in data["events"] * copies]  # before mutations: one damaged event
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(sorted(FIELDS)))
        target = data
        for part in where:
            target = target[part] if isinstance(target, dict) and part in target or (
                isinstance(target, list) and isinstance(part, int) and part < len(target)) else None
            if target is None:
                break
        if not isinstance(target, dict):
            continue
        action = draw(st.sampled_from(["set", "set", "add", "delete"]))
        key = draw(st.sampled_from(FIELDS[where])) if action != "add" else draw(odd_text)
        if action == "delete":
            target.pop(key, None)
        else:
            target[key] = draw(hostile)
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    text = text.replace(f'"{HUGE}"', "9" * draw(st.integers(300, 6000)))
    depth = draw(st.integers(20, 3000))
    text = text.replace(f'"{DEEP}"', "[" * depth + "]" * depth)
    raw = text.encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(["none", "none", "truncate", "binary", "bytes"]))
    if damage == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif damage == "binary":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif damage == "bytes":
        raw = draw(st.binary(max_size=64))
    return raw


@st.composite
def trace_bytes(draw) -> bytes:
    cell = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 2**70).map(str),
        st.sampled_from(["0.1", "1.7", "0", "1", "7", "-1", "1e13", "1e99", "", " ", '"', "#", "nan", "0x1"]),
        odd_text, st.integers(1000, 140_000).map(lambda n: "9" * n),
    )
    header = draw(st.sampled_from(["", "arrival_s\n", "arrival_s,cpu_s\n", "arrival_s,node\n",
                                   "arrival_s,cpu_s,node\n", "node,arrival_s\n", "x\n"]))
    width = draw(st.integers(1, 3))
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), min_size=0, max_size=6))
    text = header + "".join(",".join(row) + draw(st.sampled_from(["\n", "\r\n", "\n\n"])) for row in rows)
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=6)) + raw[at:]
    return raw


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


PROBLEM = re.compile(r"\S[^\n]*?: \S")  # "<field path or file>: <what is wrong>"


def assert_clean_refusal(code: int, out: str, err: str) -> None:
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert lines, "a refusal names at least one problem"
    for line in lines:
        assert line.isprintable(), f"control characters in {line!r}"
        assert PROBLEM.match(line), line
        assert len(line) <= 400, line[:200]
        assert "Traceback" not in line and "pydantic" not in line.lower(), line


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@fuzz(SCENARIO_CASES)
@given(raw=scenario_bytes())
def test_a_mutated_scenario_is_accepted_or_refused_with_one_clean_line_per_problem(folder, raw):
    path = folder / "mutated.json"
    path.write_bytes(raw)
    code, out, err = run(["validate", str(path)])
    if code == 0:
        assert err == "" and out.startswith("ok: ") and out.endswith("\n")
        assert out.rstrip("\n").isprintable()
        load(path)  # what validate accepted loads
    else:
        assert out == ""
        assert_clean_refusal(code, out, err)


@fuzz(TRACE_CASES)
@given(raw=trace_bytes())
def test_a_mutated_trace_runs_or_is_refused_with_a_line_naming_file_and_line(folder, raw):
    path = folder / "mutated.csv"
    path.write_bytes(raw)
    code, out, err = run(["run", "vertical-1cpu", "--trace", str(path), "--seconds", "0.2", "--dt", "0.2"])
    if code == 0:
        assert "vertical-1cpu: 1 node" in out and "trace of" in out
    else:
        assert_clean_refusal(code, out, err)
        assert err.startswith(str(path)), err  # every trace problem names the file (and the line)
