"""Scenarios built without validation at start-up (sim_core.trusted) equal the validated ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from sim_core import trusted
from sim_core.scenario import SLIDE_LADDER, Rung, Scenario
from sim_core.scenario_file import DEFAULT_SCENARIO, builtin_names, builtin_path, validate_data

REPO = Path(__file__).resolve().parent.parent


def same(a: object, b: object, where: str = "scenario") -> None:
    """Equal values of the same types all the way down, and the same fields set in every model."""
    assert type(a) is type(b), where
    if isinstance(a, BaseModel):
        assert a.model_fields_set == b.model_fields_set, where
        for name in type(a).model_fields:
            same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_scenario_constructs_as_it_validates(name):
    data = json.loads(builtin_path(name).read_text(encoding="utf-8"))
    built = trusted.construct(Scenario, data)
    valid = validate_data(data)
    same(built, valid)
    assert built == valid
    assert repr(built) == repr(valid)
    assert built.model_dump() == valid.model_dump()


def test_the_slide_ladder_equals_validated_rungs():
    for rung in SLIDE_LADDER:
        same(rung, Rung.model_validate(rung.model_dump()))


def test_the_default_scenario_is_checked_after_the_first_frame(monkeypatch):
    trusted.check_unchecked()  # whatever an earlier test left
    scenario = trusted.default_scenario()
    assert scenario.name == DEFAULT_SCENARIO
    assert trusted.check_unchecked() == []
    assert trusted.check_unchecked() == []  # nothing left to check

    data = json.loads(builtin_path(DEFAULT_SCENARIO).read_text(encoding="utf-8"))
    data["nodes"][0]["cores"] = -3  # a broken install
    monkeypatch.setattr(trusted, "_default_data", lambda: data)
    trusted.default_scenario()
    problems = trusted.check_unchecked()
    assert len(problems) == 1 and "nodes[0].cores" in problems[0] and "broken" in problems[0]


def test_starting_on_the_default_scenario_builds_no_validator():
    """What makes it fast: no pydantic validator (nor importlib.metadata, which building one imports)."""
    code = ("import sys; from sim_core.scenario import Scenario; from sim_core.trusted import default_scenario; "
            "default_scenario(); print(Scenario.__pydantic_complete__, 'importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.stdout.split() == ["False", "False"]
