"""Scenario files: reading JSON safely, validation messages that name the field path, built-ins.

Every problem becomes one line naming the field path, the bad value and the allowed range,
e.g. ``nodes[2].cores: -3 is not in 1..256``. The data model itself is ``sim_core.scenario``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import annotated_types
import numpy as np
from pydantic import BaseModel, ValidationError

from sim_core.errors import ScenarioError
from sim_core.safe_text import HugeNumber, cut, shown_number, shown_value
from sim_core.scenario import MAX_EVENTS, MAX_NODES, SHAPE_KINDS, SHAPES, Scenario

OPTIONAL_SECTIONS = ("autoscaler", "goals")  # left out of a saved file when the scenario has none
MAX_FILE_BYTES = 20 * 1024 * 1024
# --- validation with field-path messages -------------------------------------------------

def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for k, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in SHAPE_KINDS and k and loc[k - 1] == "shape":
            continue  # pydantic puts the union tag in the path; the user never wrote it
        else:
            text += ("." if text else "") + cut(str(part), 40)  # a key is echoed: printable, cut
    return text


def _bounds(loc: tuple[Any, ...], root: type[BaseModel] | None = None) -> tuple[Any, Any] | None:
    """The (low, high) range declared for the field at ``loc`` of ``root`` (a Scenario), if it has one."""
    model: Any = Scenario if root is None else root
    info = None
    for k, part in enumerate(loc):
        if isinstance(part, int) or model is None:
            continue
        if part in SHAPES and model in SHAPES.values() and k and loc[k - 1] == "shape":
            model = SHAPES[part]
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        model = _inner_model(info.annotation)
    return None if info is None else _declared_range(info)


def field_range(model: type[BaseModel], field: str) -> tuple[Any, Any]:
    """The (low, high) range declared on ``model.field`` (e.g. ``Node``, ``"cores"`` -> (1, 256))."""
    bounds = _declared_range(model.model_fields[field])
    if bounds is None:
        raise ValueError(f"{model.__name__}.{field} has no declared range")
    return bounds


def _declared_range(info: Any) -> tuple[Any, Any] | None:
    low = high = None
    for meta in _metadata(info):
        if isinstance(meta, annotated_types.Ge):
            low = meta.ge
        elif isinstance(meta, annotated_types.Le):
            high = meta.le
    return (low, high) if low is not None and high is not None else None


def _metadata(info: Any) -> list[Any]:
    metas = list(info.metadata)
    pending = list(getattr(info.annotation, "__args__", ()) or ())  # Optional[Annotated[...]], list[Annotated[...]]
    while pending:
        arg = pending.pop()
        for meta in getattr(arg, "__metadata__", ()):
            metas.extend(getattr(meta, "metadata", [meta]))
        pending.extend(getattr(arg, "__args__", ()) or ())
    return metas


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None




_TYPE_NAMES = {
    "model_type": "an object ({...})",
    "model_attributes_type": "an object ({...})",
    "dict_type": "an object ({...})",
    "list_type": "a list ([...])",
    "string_type": "text (in double quotes)",
}


def _describe(error: dict[str, Any], root: type[BaseModel] | None = None, top: str = "scenario") -> str:
    loc = tuple(error["loc"])
    path = _path(loc) or top
    kind = error["type"]
    value = error.get("input")
    bounds = _bounds(loc, root)
    span = f"{shown_number(bounds[0])}..{shown_number(bounds[1])}" if bounds else None
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than") and span:
        return f"{path}: {shown_value(value)} is not in {span}"
    if kind == "extra_forbidden":
        return f"{path}: unknown key (remove it or check its spelling)"
    if kind == "missing":
        return f"{path}: missing; this field is required"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"{path}: {shown_value(value)} is not a whole number" + (f" in {span}" if span else "")
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{path}: {shown_value(value)} is not a number" + (f" in {span}" if span else "")
    if kind == "literal_error":
        return f"{path}: {shown_value(value)} is not one of {error['ctx']['expected']}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        kind_value = value.get("kind") if isinstance(value, dict) else value
        return f"{path}.kind: {shown_value(kind_value)} is not one of {', '.join(SHAPE_KINDS)}"
    if kind == "too_long" and path in ("nodes", "events"):
        limit = MAX_NODES if path == "nodes" else MAX_EVENTS
        count = len(value) if isinstance(value, list) else "too many"
        low = 1 if path == "nodes" else 0
        return f"{path}: {count} {path} is not in {low}..{limit} (too large for this machine)"
    if kind == "too_short" and path == "nodes":
        return f"{path}: a scenario needs at least 1 node"
    if kind in ("too_short", "too_long"):
        count = len(value) if isinstance(value, list) else "?"
        side, limit = ("minimum", error["ctx"]["min_length"]) if kind == "too_short" else \
            ("maximum", error["ctx"]["max_length"])
        return f"{path}: {count} item{'' if count == 1 else 's'} where the {side} is {limit}"
    if kind == "string_too_long":
        return f"{path}: {shown_value(value)} is longer than {error['ctx']['max_length']} characters"
    if kind == "string_too_short":
        return f"{path}: must not be empty"  # every min_length is 1
    if kind in _TYPE_NAMES:
        return f"{path}: {shown_value(value)} is not {_TYPE_NAMES[kind]}"
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        if ":" not in message.split(" ")[0]:
            return f"{path}: {message}"
        return f"{path}.{message}" if loc else message  # the validator named a field of this model
    return f"{path}: {shown_value(value)}: {error['msg']}"


def problems(exc: ValidationError, root: type[BaseModel], top: str) -> list[str]:
    """One line per problem in ``exc`` (raised validating a ``root`` model), each naming the field
    path, the bad value and the allowed range; ``top`` names the whole document."""
    return list(dict.fromkeys(_describe(e, root, top) for e in exc.errors(include_url=False)))


def validate_data(data: Any, check_text: bool = True) -> Scenario:
    """Build a Scenario from parsed JSON data, or raise ScenarioError with one line per problem.

    ``check_text`` first walks the data for lone surrogates and nesting deeper than MAX_DEPTH
    (``loads`` turns it off when a quick look at the JSON text shows neither can be there).
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario: expected a JSON object at the top level, got {type(data).__name__}")
    found: list[str] = []
    if check_text:
        data = _clean_text(data, (), found, 0)
        if any(problem.endswith(_TOO_DEEP) for problem in found):
            raise ScenarioError(list(dict.fromkeys(found)))  # the rest would repeat these paths
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            found.extend(_describe(error).split("\n"))  # a model validator may report several
    if found:
        raise ScenarioError(list(dict.fromkeys(found)))
    return scenario


MAX_DEPTH = 32  # levels of nested JSON arrays and objects; a scenario needs 4
MAX_DIGITS = 400  # digits of a JSON number read as it is; longer ones are out of any range anyway
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep (a scenario nests at most {MAX_DEPTH})"



def _parse_number(text: str, exact: Any) -> Any:
    if len(text) <= MAX_DIGITS:
        return exact(text)
    try:
        value = HugeNumber(text)
    except (ValueError, OverflowError):
        value = HugeNumber("inf")
    value.digits = sum(ch.isdigit() for ch in text)
    return value


def _may_need_cleaning(text: str) -> bool:
    """Whether the JSON text may hold a lone surrogate escape or nest deeper than MAX_DEPTH.

    A quick over-estimate (brackets inside strings count too), so the walk of ``_clean_text`` is
    skipped for ordinary files, even those with 10,000 events.
    """
    if _SURROGATE.search(text):
        return True
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    codes = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    step = (codes == ord("[")).astype(np.int32) + (codes == ord("{")) - (codes == ord("]")) - (codes == ord("}"))
    return int(np.cumsum(step).max()) > MAX_DEPTH


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _clean_text(value: Any, loc: tuple[Any, ...], found: list[str], depth: int) -> Any:
    """``value`` with lone surrogates (``"\\ud800"`` in JSON, not valid Unicode) escaped.

    A key holding one becomes an unknown key named in its escaped form, so the other problems of
    its object are still reported; a text value holding one is reported as a problem of its own.
    Nesting deeper than MAX_DEPTH is reported at its path and not walked further.
    """
    if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
        found.append(f"{_path(loc) or 'scenario'}: {_TOO_DEEP}")
        return None
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            safe = _escape_surrogates(key) if isinstance(key, str) else key
            out[safe] = _clean_text(item, (*loc, safe), found, depth + 1)
        return out
    if isinstance(value, list):
        return [_clean_text(item, (*loc, i), found, depth + 1) for i, item in enumerate(value)]
    if isinstance(value, str):
        safe = _escape_surrogates(value)
        if safe != value:
            found.append(f"{_path(loc) or 'scenario'}: {shown_value(safe)} is not valid text (a lone surrogate)")
        return safe
    return value


def _escape_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def loads(text: str, source: str = "scenario") -> Scenario:
    """Parse and validate scenario JSON text; errors name ``source`` and the line."""
    try:
        data = json.loads(text, parse_int=lambda t: _parse_number(t, int),
                          parse_float=lambda t: _parse_number(t, float))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # the decoder recurses once per level: about 1,000 levels overflow it
        raise ScenarioError(f"{source}: {_TOO_DEEP}") from None
    except ValueError as exc:  # not expected: numbers too long are read by _parse_number
        raise ScenarioError(f"{source}: cannot be read as JSON ({exc})") from None
    return validate_data(data, check_text=_may_need_cleaning(text))


def load(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file; every failure is a ScenarioError."""
    from sim_core.safe_io import read_regular, shown  # safe_io needs this module's errors first

    raw = read_regular(path, MAX_FILE_BYTES, "scenario file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{shown(path)}: not a text file (not UTF-8)") from None
    return loads(text, shown(path))


def dumps(scenario: Scenario) -> str:
    """The scenario as indented JSON text, ending with a newline (optional sections only when set)."""
    data = scenario.model_dump(mode="json")
    for section in OPTIONAL_SECTIONS:
        if data.get(section) is None:
            data.pop(section, None)
    return json.dumps(data, indent=2) + "\n"


def atomic_writer(path: str | os.PathLike[str], newline: str | None = None):
    """A text file to write ``path`` with, atomically: see ``sim_core.safe_io.atomic_writer``."""
    from sim_core.safe_io import atomic_writer as writer

    return writer(path, newline=newline)


def save(scenario: Scenario, path: str | os.PathLike[str]) -> None:
    """Write the scenario to ``path`` atomically (see ``atomic_writer``)."""
    text = dumps(scenario)
    with atomic_writer(path) as handle:
        handle.write(text)


# --- built-in scenarios ------------------------------------------------------------------

def resources_dir() -> Path:
    """The ``resources`` folder: beside the sources, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    return (Path(bundle) if bundle else Path(__file__).resolve().parent.parent) / "resources"


BUILTIN_DIR = resources_dir() / "scenarios"
DEFAULT_SCENARIO = "horizontal-7x1"


def builtin_names() -> list[str]:
    """Names of the scenarios shipped in ``resources/scenarios``, sorted."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.json"))


def builtin_path(name: str) -> Path:
    """Path of a built-in scenario by name (``vertical-2cpu``)."""
    path = BUILTIN_DIR / f"{name}.json"
    if not path.exists():
        import difflib  # only for this message

        names = builtin_names()
        close = difflib.get_close_matches(name, names, n=3)  # first, so a long list cut short still shows them
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ScenarioError(f"scenario: {shown_value(name)} is not a built-in scenario ({hint}all: {', '.join(names)})")
    return path


def resolve(name_or_path: str | os.PathLike[str]) -> Scenario:
    """Load a scenario from a file path, or by built-in name when no such file exists."""
    path = Path(name_or_path)
    try:
        exists = path.exists() or path.is_symlink()
    except (OSError, ValueError):  # a name too long for the file system, a NUL in it
        exists = True  # load() says what is wrong with it
    if exists or path.suffix == ".json" or os.sep in str(name_or_path):
        return load(path)
    return load(builtin_path(str(name_or_path)))
