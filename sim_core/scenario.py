"""The scenario model: plain typed data, loaded from and saved to a JSON file.

A scenario describes a cluster (nodes behind one load balancer), the traffic sent to it
and timed events (fail, recover, resize). Pydantic validates it; every problem becomes one
line that names the field path, the bad value and the allowed range, e.g.
``nodes[2].cores: -3 is not in 1..256``.

Units are in the field names: ``_s`` seconds, ``_ms`` milliseconds, ``_gb`` gigabytes,
``_mb`` megabytes, ``_kb`` kilobytes, ``rate`` requests per second.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator

from sim_core.errors import ScenarioError
from sim_core.safe_text import cut

FORMAT_VERSION = 1
MAX_NODES = 5000  # the largest cluster this machine simulates at a usable speed
MAX_RATE = 2_000_000.0  # requests per second
MAX_EVENTS = 10_000
MAX_FILE_BYTES = 20 * 1024 * 1024
OPTIONAL_SECTIONS = ("autoscaler", "goals")  # left out of a saved file when the scenario has none

Policy = Literal["round_robin", "random", "least_connections", "power_of_two", "weighted"]
POLICIES: tuple[str, ...] = ("round_robin", "random", "least_connections", "power_of_two", "weighted")
ServiceDistribution = Literal["exponential", "deterministic", "lognormal"]


def _model_config() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True, strict=True)


class Node(BaseModel):
    """One server: its specs, its price and where its box sits on the canvas."""

    model_config = _model_config()
    name: Annotated[str, Field(min_length=1, max_length=40)]
    cores: Annotated[int, Field(ge=1, le=256)] = 1
    core_speed: Annotated[float, Field(ge=0.1, le=10.0)] = 1.0  # relative to the reference core
    ram_gb: Annotated[float, Field(ge=0.125, le=4096.0)] = 1.0
    storage_gb: Annotated[float, Field(ge=1.0, le=1_000_000.0)] = 500.0
    price_per_hour: Annotated[float, Field(ge=0.0, le=10_000.0)] = 0.05
    restart_s: Annotated[float, Field(ge=0.0, le=3600.0)] = 5.0
    x: Annotated[float, Field(ge=-1e6, le=1e6)] = 0.0
    y: Annotated[float, Field(ge=-1e6, le=1e6)] = 0.0
    # random failures (optional, both or neither): mean time between failures and to repair, seconds
    mtbf_s: Annotated[float, Field(ge=1.0, le=1e9)] | None = None
    mttr_s: Annotated[float, Field(ge=0.001, le=1e7)] | None = None

    @model_validator(mode="after")
    def _failures_paired(self) -> Node:
        if (self.mtbf_s is None) != (self.mttr_s is None):
            missing = "mttr_s" if self.mttr_s is None else "mtbf_s"
            raise ValueError(f"{missing}: missing; random failures need both mtbf_s and mttr_s")
        return self

    @model_serializer(mode="wrap")
    def _omit_no_failures(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if self.mtbf_s is None:  # files without random failures stay as they were
            data.pop("mtbf_s", None)
            data.pop("mttr_s", None)
        return data

    def spec_label(self) -> str:
        """Short spec text for a node box, e.g. ``2 CPU · 2 GB · 1 TB``."""
        return f"{self.cores} CPU · {format_gb(self.ram_gb, gb_per_tb=1024)} · {format_gb(self.storage_gb)}"


class Balancer(BaseModel):
    """The load balancer: routing policy and health-check interval (seconds)."""

    model_config = _model_config()
    policy: Policy = "round_robin"
    health_check_s: Annotated[float, Field(ge=0.0, le=600.0)] = 2.0


class ConstantShape(BaseModel):
    """The arrival rate stays at ``workload.rate``."""

    model_config = _model_config()
    kind: Literal["constant"] = "constant"


class RampShape(BaseModel):
    """The rate goes linearly from ``workload.rate`` to ``to_rate`` between ``start_s`` and ``end_s``."""

    model_config = _model_config()
    kind: Literal["ramp"] = "ramp"
    to_rate: Annotated[float, Field(ge=0.0, le=MAX_RATE)]
    start_s: Annotated[float, Field(ge=0.0, le=1e7)] = 0.0
    end_s: Annotated[float, Field(ge=0.0, le=1e7)] = 60.0

    @model_validator(mode="after")
    def _ordered(self) -> RampShape:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s: {self.end_s:g} must be greater than start_s ({self.start_s:g})")
        return self


class StepShape(BaseModel):
    """A spike: the rate is ``to_rate`` from ``at_s`` for ``duration_s`` (0 = for ever)."""

    model_config = _model_config()
    kind: Literal["step"] = "step"
    to_rate: Annotated[float, Field(ge=0.0, le=MAX_RATE)]
    at_s: Annotated[float, Field(ge=0.0, le=1e7)] = 30.0
    duration_s: Annotated[float, Field(ge=0.0, le=1e7)] = 0.0


class WaveShape(BaseModel):
    """A daily wave: ``rate * (1 + amplitude * sin(2 pi t / period_s))``."""

    model_config = _model_config()
    kind: Literal["wave"] = "wave"
    period_s: Annotated[float, Field(ge=1.0, le=1e7)] = 120.0
    amplitude: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5


Shape = Annotated[ConstantShape | RampShape | StepShape | WaveShape, Field(discriminator="kind")]
SHAPE_KINDS: tuple[str, ...] = ("constant", "ramp", "step", "wave")
_SHAPES = {"constant": ConstantShape, "ramp": RampShape, "step": StepShape, "wave": WaveShape}


class Workload(BaseModel):
    """The traffic: arrival rate and shape, and what each request costs a node."""

    model_config = _model_config()
    rate: Annotated[float, Field(ge=0.0, le=MAX_RATE)] = 5.0
    max_rate: Annotated[float, Field(ge=1.0, le=MAX_RATE)] = 100.0  # top of the UI slider
    shape: Shape = Field(default_factory=ConstantShape)
    cpu_time_ms: Annotated[float, Field(ge=0.001, le=600_000.0)] = 100.0  # mean, on a speed-1 core
    service: ServiceDistribution = "exponential"
    service_cv: Annotated[float, Field(ge=0.01, le=10.0)] = 1.0  # lognormal only
    memory_mb: Annotated[float, Field(ge=0.001, le=1_000_000.0)] = 10.0
    data_kb: Annotated[float, Field(ge=0.0, le=1_000_000.0)] = 4.0


EVENT_ACTIONS: tuple[str, ...] = ("fail", "recover", "resize", "set_node", "add", "remove",
                                  "set_rate", "set_policy", "set_workload", "set_balancer")
# which optional fields each action takes (``node`` names the node; ``add`` names it by ``spec.name``)
_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "fail": ("node",), "recover": ("node",), "resize": ("node", "cores", "ram_gb"), "set_node": ("node", "spec"),
    "add": ("spec", "index"), "remove": ("node",), "set_rate": ("rate",), "set_policy": ("policy",),
    "set_workload": ("workload",), "set_balancer": ("balancer",),
}
_EVENT_REQUIRED: dict[str, tuple[str, ...]] = {
    "fail": ("node",), "recover": ("node",), "resize": ("node",), "set_node": ("node", "spec"), "add": ("spec",),
    "remove": ("node",), "set_rate": ("rate",), "set_policy": ("policy",), "set_workload": ("workload",),
    "set_balancer": ("balancer",),
}
_EVENT_OPTIONAL = ("node", "cores", "ram_gb", "spec", "index", "rate", "policy", "workload", "balancer")


class Event(BaseModel):
    """Something done to the run at time ``at_s`` (s): a scenario's scripted event or a user's action.

    ``fail``/``recover``/``remove`` a ``node``; ``resize`` it (``cores`` and/or ``ram_gb``, restarts it);
    ``set_node`` gives it a whole new ``spec``; ``add`` a node (``spec``, booted like a restart; at place
    ``index`` of the cluster's order, 0 = first, if given and the cluster is that large, else last);
    ``set_rate`` (requests/s), ``set_policy``, ``set_workload`` and ``set_balancer`` change the traffic or
    the balancer from then on. ``reason`` says why (an autoscaler's decision, say); it changes nothing.
    """

    model_config = _model_config()
    at_s: Annotated[float, Field(ge=0.0, le=1e7)]
    action: Literal["fail", "recover", "resize", "set_node", "add", "remove",
                    "set_rate", "set_policy", "set_workload", "set_balancer"]
    node: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    cores: Annotated[int, Field(ge=1, le=256)] | None = None
    ram_gb: Annotated[float, Field(ge=0.125, le=4096.0)] | None = None
    spec: Node | None = None
    index: Annotated[int, Field(ge=0, le=MAX_NODES - 1)] | None = None
    rate: Annotated[float, Field(ge=0.0, le=MAX_RATE)] | None = None
    policy: Policy | None = None
    workload: Workload | None = None
    balancer: Balancer | None = None
    reason: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _fields_fit_action(self) -> Event:
        allowed = _EVENT_FIELDS[self.action]
        for name in _EVENT_REQUIRED[self.action]:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: missing; a {self.action} event needs it")
        for name in _EVENT_OPTIONAL:
            extra = name not in allowed and not (name == "node" and self.action == "add")
            if extra and getattr(self, name) is not None:
                raise ValueError(f"{name}: a {self.action} event does not take it")
        if self.action == "resize" and self.cores is None and self.ram_gb is None:
            raise ValueError("a resize needs cores or ram_gb")
        if self.action == "add" and self.node is not None and self.node != self.spec.name:
            raise ValueError(f"node: {self.node!r} differs from spec.name {self.spec.name!r}")
        if self.action == "set_node" and self.spec.name != self.node:
            raise ValueError(f"spec.name: {self.spec.name!r} differs from node {self.node!r} (no renaming in events)")
        return self

    @model_serializer(mode="wrap")
    def _only_what_is_set(self, handler: Any) -> dict[str, Any]:
        """Files hold only the fields an action uses: no ``null``s, no empty reason."""
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None and not (k == "reason" and v == "")}

    @property
    def target(self) -> str | None:
        """The name of the node the event is about (None for traffic and balancer changes)."""
        return self.spec.name if self.action == "add" else self.node

    def describe(self) -> str:
        """One line for a tooltip or a log, e.g. ``20.0 s: fail node-3``."""
        what = {
            "resize": lambda: f"resize {self.node}" + "".join(
                f" {k}={_num(v)}" for k, v in (("cores", self.cores), ("ram_gb", self.ram_gb)) if v is not None),
            "set_node": lambda: f"change {self.node} ({self.spec.spec_label()})",
            "add": lambda: f"add {self.spec.name} ({self.spec.spec_label()})",
            "set_rate": lambda: f"set rate to {_num(self.rate)} req/s",
            "set_policy": lambda: f"set policy to {self.policy}",
            "set_workload": lambda: "change the traffic",
            "set_balancer": lambda: f"change the balancer ({self.balancer.policy}, "
                                    f"health check {_num(self.balancer.health_check_s)} s)",
        }.get(self.action, lambda: f"{self.action} {self.node}")()
        return f"{self.at_s:.1f} s: {what}" + (f" ({self.reason})" if self.reason else "")


def timeline_problems(nodes: list[str], events: list[Event]) -> list[str]:
    """Check ``events`` against the cluster as it changes over time; one message per problem.

    Events run in ``at_s`` order (ties in file order). ``nodes`` are the names at t = 0. A node must
    exist when an event names it; ``add`` needs a new name; the cluster keeps 1..MAX_NODES nodes.
    """
    return _walk_timeline(nodes, events)[0]


def feasible_events(nodes: list[str], events: list[Event]) -> list[Event]:
    """``events`` without those that cannot happen (see ``timeline_problems``), in their order."""
    return _walk_timeline(nodes, events)[1]


def _walk_timeline(nodes: list[str], events: list[Event]) -> tuple[list[str], list[Event]]:
    names = set(nodes)
    problems = []
    bad: set[int] = set()
    for i in sorted(range(len(events)), key=lambda k: events[k].at_s):
        event = events[i]
        name = event.target
        problem = None
        if event.action == "add":
            if name in names:
                problem = (f"events[{i}].spec.name: {name!r} is already the name of a node at "
                           f"{_num(event.at_s)} s; names must be unique")
            elif len(names) >= MAX_NODES:
                problem = f"events[{i}]: a scenario may have at most {MAX_NODES} nodes"
            else:
                names.add(name)
        elif name is not None and name not in names:
            problem = f"events[{i}].node: {name!r} is not the name of a node at {_num(event.at_s)} s"
        elif event.action == "remove":
            if len(names) == 1:
                problem = f"events[{i}]: removing {name!r} would leave no node; a scenario needs at least 1"
            else:
                names.discard(name)
        if problem:
            problems.append(problem)
            bad.add(i)
    return problems, [e for i, e in enumerate(events) if i not in bad]


class Rung(BaseModel):
    """One size on a vertical scaling ladder: what a node becomes when it is resized to it."""

    model_config = _model_config()
    cores: Annotated[int, Field(ge=1, le=256)]
    ram_gb: Annotated[float, Field(ge=0.125, le=4096.0)]
    storage_gb: Annotated[float, Field(ge=1.0, le=1_000_000.0)] = 500.0
    price_per_hour: Annotated[float, Field(ge=0.0, le=10_000.0)] = 0.05


SLIDE_LADDER = (  # the slide's vertical scaling: 1 CPU/1 GB/500 GB -> 2/2/1 TB -> 4/4/2 TB
    Rung(cores=1, ram_gb=1.0, storage_gb=500.0, price_per_hour=0.0116),
    Rung(cores=2, ram_gb=2.0, storage_gb=1000.0, price_per_hour=0.0232),
    Rung(cores=4, ram_gb=4.0, storage_gb=2000.0, price_per_hour=0.0464),
)
AutoscaleMetric = Literal["utilization", "p95_latency"]


class Autoscaler(BaseModel):
    """A controller that resizes the cluster while it runs (see ``sim_core.engine.autoscale``).

    ``horizontal`` follows the Kubernetes Horizontal Pod Autoscaler: every ``period_s`` seconds
    desired = ceil(current x metric / target), no change while metric / target is within
    ``tolerance`` of 1, scale-down to the highest recommendation of the last ``stabilization_s``
    seconds, at most max(``scale_up_max_nodes``, ``scale_up_max_percent`` % of current) nodes
    added per period, always within ``min_nodes``..``max_nodes``. Added nodes are copies of
    ``template`` (named ``template.name-1``, ``-2``, ...); removed nodes drain first.
    ``vertical`` resizes a node to the next ``ladder`` rung when its utilization over a period
    is above ``target_utilization`` (the resize restarts it).
    """

    model_config = _model_config()
    kind: Literal["horizontal", "vertical"] = "horizontal"
    metric: AutoscaleMetric = "utilization"
    target_utilization: Annotated[float, Field(ge=0.01, le=1.0)] = 0.7  # mean busy fraction of the nodes
    target_p95_ms: Annotated[float, Field(ge=0.1, le=1e7)] = 500.0  # p95 latency over a period
    min_nodes: Annotated[int, Field(ge=1, le=MAX_NODES)] = 1
    max_nodes: Annotated[int, Field(ge=1, le=MAX_NODES)] = 10
    period_s: Annotated[float, Field(ge=0.1, le=3600.0)] = 15.0
    stabilization_s: Annotated[float, Field(ge=0.0, le=86_400.0)] = 300.0
    tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    scale_up_max_nodes: Annotated[int, Field(ge=1, le=MAX_NODES)] = 4
    scale_up_max_percent: Annotated[float, Field(ge=0.0, le=10_000.0)] = 100.0
    template: Node = Field(default_factory=lambda: Node(name="auto", ram_gb=1.0, price_per_hour=0.0116))
    ladder: Annotated[list[Rung], Field(min_length=2, max_length=20)] = Field(
        default_factory=lambda: list(SLIDE_LADDER))

    @model_validator(mode="after")
    def _consistent(self) -> Autoscaler:
        if self.max_nodes < self.min_nodes:
            raise ValueError(f"max_nodes: {self.max_nodes} must be at least min_nodes ({self.min_nodes})")
        for i in range(1, len(self.ladder)):
            if self.ladder[i].cores <= self.ladder[i - 1].cores:
                raise ValueError(f"ladder[{i}].cores: {self.ladder[i].cores} must be more than the rung below "
                                 f"({self.ladder[i - 1].cores})")
        if self.kind == "vertical" and self.metric != "utilization":
            raise ValueError("metric: a vertical autoscaler follows utilization only")
        return self


GoalMetric = Literal["served_rps", "p99_ms", "availability_pct", "cost_per_hour", "lost", "rejected",
                     "survive_failure"]
GOAL_AT_LEAST: tuple[str, ...] = ("served_rps", "availability_pct", "survive_failure")
Change = Literal["nodes", "resize", "policy", "autoscaler"]


class Goal(BaseModel):
    """One threshold a challenge must meet over the span ``from_s``..``to_s`` (None: the end of the run).

    ``served_rps`` (at_least, requests served in the span / its length), ``p99_ms`` (at_most, of the
    requests completed in the span), ``availability_pct`` (at_least, served / ended in the span),
    ``cost_per_hour`` (at_most, the span's cost / its hours), ``lost`` and ``rejected`` (at_most,
    requests in the span), ``survive_failure`` (at_least: in one extra run per node, that node
    fails at ``from_s`` and stays down, and availability over the span stays at least this %).
    """

    model_config = _model_config()
    metric: GoalMetric
    at_least: Annotated[float, Field(ge=0.0, le=1e9)] | None = None
    at_most: Annotated[float, Field(ge=0.0, le=1e9)] | None = None
    from_s: Annotated[float, Field(ge=0.0, le=1e6)] = 0.0
    to_s: Annotated[float, Field(ge=0.0, le=1e6)] | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Goal:
        wanted = "at_least" if self.metric in GOAL_AT_LEAST else "at_most"
        other = "at_most" if wanted == "at_least" else "at_least"
        if getattr(self, other) is not None:
            raise ValueError(f"{other}: {self.metric} takes {wanted}, not {other}")
        if getattr(self, wanted) is None:
            raise ValueError(f"{wanted}: missing; {self.metric} needs it")
        if self.to_s is not None and self.to_s <= self.from_s:
            raise ValueError(f"to_s: {self.to_s:g} must be greater than from_s ({self.from_s:g})")
        return self

    @property
    def threshold(self) -> float:
        return self.at_least if self.at_least is not None else self.at_most  # type: ignore[return-value]


class Goals(BaseModel):
    """A challenge: the ``targets`` to meet, what the player may change, and a budget ($/h of the
    starting cluster, None: no budget)."""

    model_config = _model_config()
    targets: Annotated[list[Goal], Field(min_length=1, max_length=20)]
    allowed: Annotated[list[Change], Field(max_length=4)] = Field(default_factory=list)
    budget_per_hour: Annotated[float, Field(ge=0.0, le=1e6)] | None = None
    hint: Annotated[str, Field(max_length=500)] = ""


class Scenario(BaseModel):
    """A whole scenario file: cluster, balancer, workload and events."""

    model_config = _model_config()
    version: Literal[1] = FORMAT_VERSION
    name: Annotated[str, Field(min_length=1, max_length=80)] = "untitled"
    description: Annotated[str, Field(max_length=2000)] = ""
    duration_s: Annotated[float, Field(ge=1.0, le=1e6)] = 120.0
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 1
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)]
    balancer: Balancer = Field(default_factory=Balancer)
    workload: Workload = Field(default_factory=Workload)
    events: Annotated[list[Event], Field(max_length=MAX_EVENTS)] = Field(default_factory=list)
    autoscaler: Autoscaler | None = None
    goals: Goals | None = None

    @model_validator(mode="after")
    def _names(self) -> Scenario:
        problems = []  # every problem, one per line, as for fields
        seen: set[str] = set()
        for i, node in enumerate(self.nodes):
            if node.name in seen:
                problems.append(f"nodes[{i}].name: {_fmt(node.name)} is used by another node; names must be unique")
            seen.add(node.name)
        problems += timeline_problems([n.name for n in self.nodes], list(self.events))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def node_index(self, name: str) -> int:
        """Index of the node called ``name``; raises ScenarioError if there is none."""
        for i, node in enumerate(self.nodes):
            if node.name == name:
                return i
        raise ScenarioError(f"node: {name!r} is not the name of a node")


def format_gb(gb: float, gb_per_tb: float = 1000) -> str:
    """``500`` -> ``500 GB``, ``1500`` -> ``1.5 TB``, ``0.5`` -> ``512 MB``.

    Storage counts 1000 GB to the TB, as disks are sold; RAM passes ``gb_per_tb=1024``.
    """
    if gb >= gb_per_tb:
        return f"{gb / gb_per_tb:g} TB"
    if gb < 1:
        return f"{gb * 1024:g} MB"
    return f"{gb:g} GB"


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
        if part in _SHAPES and model in _SHAPES.values() and k and loc[k - 1] == "shape":
            model = _SHAPES[part]
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


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _fmt(value: Any) -> str:
    if isinstance(value, HugeNumber):
        return str(value)
    if isinstance(value, str):
        return repr(value) if len(value) < 60 else repr(value[:57] + "...")
    if isinstance(value, (dict, list)):
        try:
            text = json.dumps(value)
        except (ValueError, RecursionError):
            text = "{...}" if isinstance(value, dict) else "[...]"
        return text if len(text) < 60 else text[:57] + "..."
    if isinstance(value, float):
        text = f"{value:g}"
        return text + ".0" if value.is_integer() and "e" not in text else text  # 2.0 stays 2.0, not 2
    return repr(value) if isinstance(value, bool) or value is None else str(value)


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
    span = f"{_num(bounds[0])}..{_num(bounds[1])}" if bounds else None
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than") and span:
        return f"{path}: {_fmt(value)} is not in {span}"
    if kind == "extra_forbidden":
        return f"{path}: unknown key (remove it or check its spelling)"
    if kind == "missing":
        return f"{path}: missing; this field is required"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"{path}: {_fmt(value)} is not a whole number" + (f" in {span}" if span else "")
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{path}: {_fmt(value)} is not a number" + (f" in {span}" if span else "")
    if kind == "literal_error":
        return f"{path}: {_fmt(value)} is not one of {error['ctx']['expected']}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        kind_value = value.get("kind") if isinstance(value, dict) else value
        return f"{path}.kind: {_fmt(kind_value)} is not one of {', '.join(SHAPE_KINDS)}"
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
        return f"{path}: {_fmt(value)} is longer than {error['ctx']['max_length']} characters"
    if kind == "string_too_short":
        return f"{path}: must not be empty"  # every min_length is 1
    if kind in _TYPE_NAMES:
        return f"{path}: {_fmt(value)} is not {_TYPE_NAMES[kind]}"
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        if ":" not in message.split(" ")[0]:
            return f"{path}: {message}"
        return f"{path}.{message}" if loc else message  # the validator named a field of this model
    return f"{path}: {_fmt(value)}: {error['msg']}"


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


class HugeNumber(float):
    """A JSON number literal too long to be read exactly (Python refuses ints over 4,300 digits).

    Its value is the nearest float (often infinite) so range checks fail as for any big number,
    and it prints as ``a number of N digits`` instead of the digits.
    """

    digits: int = 0

    def __str__(self) -> str:
        return f"a number of {self.digits} digits"

    __repr__ = __str__


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
            found.append(f"{_path(loc) or 'scenario'}: {_fmt(safe)} is not valid text (a lone surrogate)")
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
        names = builtin_names()
        close = difflib.get_close_matches(name, names, n=3)  # first, so a long list cut short still shows them
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ScenarioError(f"scenario: {_fmt(name)} is not a built-in scenario ({hint}all: {', '.join(names)})")
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
