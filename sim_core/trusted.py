"""Scenario objects built from data known to be valid, without running pydantic's validation.

Start-up only (issue 9: the first frame under a second). Validating the default scenario built
pydantic's validators for the whole model and imported ``importlib.metadata`` (pydantic's plugin
loader): about 60 ms of CPU before the window could appear. ``default_scenario`` builds the same
object from the built-in file with ``model_construct`` instead, and ``check_unchecked`` validates that
file afterwards (``app.main`` calls it just after the first frame), which builds the validators for
the first edit and proves the two agree. ``tests/test_trusted.py`` checks, for every built-in
scenario, that the construction equals the validated scenario, field types included.

Only for data that was validated before: ``model_construct`` checks nothing.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel

from sim_core.scenario import Scenario
from sim_core.scenario_file import DEFAULT_SCENARIO, builtin_path, validate_data


def construct(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """``model`` built from ``data`` (parsed JSON that validates) as ``model.model_validate`` would build
    it: nested models, the shape union picked by its ``kind``, JSON integers in float fields as floats."""
    fields = model.model_fields
    return model.model_construct(**{key: _value(fields[key].annotation, value) for key, value in data.items()})


def _value(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _value(typing.get_args(annotation)[0], value)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if isinstance(value, dict):
            models = [_model_of(m) for m in members]
            models = [m for m in models if m is not None]
            if len(models) > 1:  # a union tagged by ``kind``
                models = [m for m in models if m.model_fields["kind"].default == value.get("kind")]
            return construct(models[0], value)
        return _value(members[0], value)
    if origin is list:
        item = typing.get_args(annotation)[0]
        return [_value(item, v) for v in value]
    model = _model_of(annotation)
    if model is not None:
        return construct(model, value)
    if annotation is float and isinstance(value, int):
        return float(value)
    return value


def _model_of(annotation: Any) -> type[BaseModel] | None:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


_unchecked: list[Scenario] = []  # built by default_scenario, not yet compared with the validated file


def _default_data() -> dict[str, Any]:
    return json.loads(builtin_path(DEFAULT_SCENARIO).read_text(encoding="utf-8"))


def default_scenario() -> Scenario:
    """The built-in default scenario, built without validation (see the module's docstring).
    ``check_unchecked`` must follow."""
    scenario = construct(Scenario, _default_data())
    _unchecked.append(scenario)  # type: ignore[arg-type]
    return scenario  # type: ignore[return-value]


def check_unchecked() -> list[str]:
    """Validate the built-in default file (building pydantic's validators) and compare it with each scenario
    ``default_scenario`` built since the last call. One line per problem; none when they all agree."""
    if not _unchecked:
        return []
    built = list(_unchecked)
    _unchecked.clear()
    try:
        valid = validate_data(_default_data())
    except Exception as exc:  # noqa: BLE001 - the caller reports it
        return [f"built-in scenario {DEFAULT_SCENARIO} is broken: {exc}"]
    if any(repr(scenario) != repr(valid) for scenario in built):
        return [f"built-in scenario {DEFAULT_SCENARIO}: built without validation, it differs from the validated file"]
    return []
