"""The sweep file: a base scenario, the axes to vary, the constraints, and how to combine them.

A spec is TOML or JSON (chosen by the file's suffix; ``.toml`` or ``.json``). Pydantic
validates it like a scenario, and every problem is one line naming the field path, the bad
value and the allowed range, e.g. ``axes.cores[2]: 0 is not in 1..256``.

Units are in the field names, as in scenarios: ``_s`` seconds, ``_ms`` milliseconds, ``_gb``
gigabytes, ``_pct`` percent, ``rate`` requests per second, ``_hour`` dollars per hour.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim_core.scenario import MAX_NODES, MAX_RATE, Balancer, Node, Policy, Scenario, ScenarioError, ServiceDistribution
from sim_core.scenario_file import field_range, problems, resolve

FORMAT_VERSION = 1
MAX_AXIS_VALUES = 1000
MAX_POINTS = 100_000  # points x replications a sweep may run: a day of this machine at small points
MAX_FILE_BYTES = 5 * 1024 * 1024


def _in(model: type[BaseModel], name: str, kind: type) -> Any:
    """A field type with the same range as ``model.name`` in the scenario (one source of truth)."""
    low, high = field_range(model, name)
    return Annotated[kind, Field(ge=low, le=high)]


NodeCount = Annotated[int, Field(ge=1, le=MAX_NODES)]
Cores = _in(Node, "cores", int)
RamGb = _in(Node, "ram_gb", float)
HealthCheck = _in(Balancer, "health_check_s", float)
Rate = Annotated[float, Field(ge=0.0, le=MAX_RATE)]


def _config() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True, strict=True)


class Failure(BaseModel):
    """``none``, or ``one_node``: one node (the first; the nodes are identical) fails at ``at_s``.

    It stays down unless ``recover_after_s`` is given, the seconds after which it restarts.
    """

    model_config = _config()
    kind: Literal["none", "one_node"] = "none"
    at_s: Annotated[float, Field(ge=0.0, le=1e7)] = 30.0
    recover_after_s: Annotated[float, Field(ge=0.0, le=1e7)] | None = None

    def label(self) -> str:
        """``none``, ``one@30s`` or ``one@30s+20s``: the value in the results' ``failure`` column."""
        if self.kind == "none":
            return "none"
        back = "" if self.recover_after_s is None else f"+{self.recover_after_s:g}s"
        return f"one@{self.at_s:g}s{back}"


def _values(kind: Any) -> Any:
    return Annotated[list[kind], Field(min_length=1, max_length=MAX_AXIS_VALUES)] | None


class Axes(BaseModel):
    """The values each axis takes; an axis left out keeps the base scenario's value."""

    model_config = _config()
    nodes: _values(NodeCount) = None
    cores: _values(Cores) = None
    ram_gb: _values(RamGb) = None
    policy: _values(Policy) = None
    rate: _values(Rate) = None
    service: _values(ServiceDistribution) = None
    health_check_s: _values(HealthCheck) = None
    failure: _values(Failure) = None


AXIS_NAMES: tuple[str, ...] = tuple(Axes.model_fields)


class Point(BaseModel):
    """One explicit point (``mode = "points"``); an axis left out keeps the base scenario's value."""

    model_config = _config()
    nodes: NodeCount | None = None
    cores: Cores | None = None
    ram_gb: RamGb | None = None
    policy: Policy | None = None
    rate: Rate | None = None
    service: ServiceDistribution | None = None
    health_check_s: HealthCheck | None = None
    failure: Failure | None = None


class Constraints(BaseModel):
    """What a point must achieve (on the mean over replications) to count as meeting the goal."""

    model_config = _config()
    p99_ms: Annotated[float, Field(ge=0.001, le=1e9)] | None = None  # p99 latency under this
    availability_pct: Annotated[float, Field(ge=0.0, le=100.0)] | None = None  # availability over this


class Pricing(BaseModel):
    """Price of a node: ``per_core_hour * cores + per_gb_hour * ram_gb`` ($/h).

    Left out, a node costs the base node's price per core times its cores (the slide's prices).
    """

    model_config = _config()
    per_core_hour: Annotated[float, Field(ge=0.0, le=10_000.0)] = 0.0
    per_gb_hour: Annotated[float, Field(ge=0.0, le=10_000.0)] = 0.0


class SweepSpec(BaseModel):
    """A whole sweep file. ``base`` is a built-in scenario name or a path (relative to the spec)."""

    model_config = _config()
    version: Literal[1] = FORMAT_VERSION
    name: Annotated[str, Field(min_length=1, max_length=80)] = "sweep"
    description: Annotated[str, Field(max_length=2000)] = ""
    base: Annotated[str, Field(min_length=1, max_length=1000)]
    mode: Literal["grid", "points", "search"] = "grid"
    seconds: Annotated[float, Field(ge=1.0, le=1e6)] = 60.0  # simulated seconds per run
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 1  # root of every run's SeedSequence
    replications: Annotated[int, Field(ge=1, le=1000)] = 1
    common_random_numbers: bool = False  # True: replication r uses the same seed at every point
    axes: Axes = Field(default_factory=Axes)
    points: Annotated[list[Point], Field(min_length=1, max_length=MAX_POINTS)] | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    pricing: Pricing | None = None

    @model_validator(mode="after")
    def _mode_fits(self) -> SweepSpec:
        if self.mode == "points" and self.points is None:
            raise ValueError('points: missing; mode "points" needs a list of points')
        if self.mode != "points" and self.points is not None:
            raise ValueError(f'points: only used with mode "points" (mode is "{self.mode}")')
        if self.mode == "search":
            if self.axes.nodes is None or len(self.axes.nodes) < 2:
                raise ValueError('axes.nodes: mode "search" needs at least 2 node counts to bisect over')
            if self.constraints.p99_ms is None and self.constraints.availability_pct is None:
                raise ValueError('constraints: mode "search" needs p99_ms or availability_pct to search for')
        return self


def validate_spec(data: Any) -> SweepSpec:
    """A SweepSpec from parsed TOML/JSON data, or ScenarioError with one line per problem."""
    if not isinstance(data, dict):
        raise ScenarioError(f"sweep: expected an object (a table) at the top level, got {type(data).__name__}")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(problems(exc, SweepSpec, "sweep")) from None


def parse(text: str, suffix: str, source: str = "sweep") -> SweepSpec:
    """Parse TOML (``suffix`` ``.toml``) or JSON text and validate it; errors name ``source``."""
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise ScenarioError(f"{source}: not valid JSON at {where}: {exc.msg}") from None
    return validate_spec(data)


def load_spec(path: str | os.PathLike[str]) -> tuple[SweepSpec, Scenario]:
    """Read a spec file and its base scenario; every failure is a ScenarioError naming the field."""
    path = Path(path)
    if path.suffix not in (".toml", ".json"):
        raise ScenarioError(f"{path}: a sweep spec is a .toml or .json file")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"{path}: a sweep spec may be at most {MAX_FILE_BYTES // 2**20} MB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a folder, not a sweep spec") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc.strerror})") from None
    spec = parse(text, path.suffix, str(path))
    return spec, load_base(spec, path.parent)


def load_base(spec: SweepSpec, folder: Path) -> Scenario:
    """The spec's base scenario: a path relative to ``folder``, or a built-in name."""
    relative = folder / spec.base
    try:
        return resolve(relative if relative.exists() else spec.base)
    except ScenarioError as exc:
        raise ScenarioError([f"base: {line}" for line in exc.problems]) from None
