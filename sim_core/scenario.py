"""The scenario model: plain typed data, loaded from and saved to a JSON file (``sim_core.scenario_file``).

A scenario describes a cluster (nodes behind one load balancer), the traffic sent to it
and timed events (fail, recover, resize). Pydantic validates it; every problem becomes one
line that names the field path, the bad value and the allowed range, e.g.
``nodes[2].cores: -3 is not in 1..256``.

Units are in the field names: ``_s`` seconds, ``_ms`` milliseconds, ``_gb`` gigabytes,
``_mb`` megabytes, ``_kb`` kilobytes, ``rate`` requests per second.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from sim_core.errors import ScenarioError
from sim_core.safe_text import shown_number, shown_value

FORMAT_VERSION = 1
MAX_NODES = 5000  # the largest cluster this machine simulates at a usable speed
MAX_RATE = 2_000_000.0  # requests per second
MAX_EVENTS = 10_000

Policy = Literal["round_robin", "random", "least_connections", "power_of_two", "weighted"]
POLICIES: tuple[str, ...] = ("round_robin", "random", "least_connections", "power_of_two", "weighted")
ServiceDistribution = Literal["exponential", "deterministic", "lognormal"]


def _model_config() -> ConfigDict:
    # defer_build: each model's validator is built on its first validation, not at import. Built at
    # import, every model generated the schemas of all the models nested in it again (about 30 ms of
    # start-up); building Scenario's validator first generates each of them once.
    return ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


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
SHAPES = {"constant": ConstantShape, "ramp": RampShape, "step": StepShape, "wave": WaveShape}


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
                f" {k}={shown_number(v)}" for k, v in (("cores", self.cores), ("ram_gb", self.ram_gb))
                if v is not None),
            "set_node": lambda: f"change {self.node} ({self.spec.spec_label()})",
            "add": lambda: f"add {self.spec.name} ({self.spec.spec_label()})",
            "set_rate": lambda: f"set rate to {shown_number(self.rate)} req/s",
            "set_policy": lambda: f"set policy to {self.policy}",
            "set_workload": lambda: "change the traffic",
            "set_balancer": lambda: f"change the balancer ({self.balancer.policy}, "
                                    f"health check {shown_number(self.balancer.health_check_s)} s)",
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
                           f"{shown_number(event.at_s)} s; names must be unique")
            elif len(names) >= MAX_NODES:
                problem = f"events[{i}]: a scenario may have at most {MAX_NODES} nodes"
            else:
                names.add(name)
        elif name is not None and name not in names:
            problem = f"events[{i}].node: {name!r} is not the name of a node at {shown_number(event.at_s)} s"
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
    # constants, not validated here so that importing this module builds no validator (tests check them)
    Rung.model_construct(cores=1, ram_gb=1.0, storage_gb=500.0, price_per_hour=0.0116),
    Rung.model_construct(cores=2, ram_gb=2.0, storage_gb=1000.0, price_per_hour=0.0232),
    Rung.model_construct(cores=4, ram_gb=4.0, storage_gb=2000.0, price_per_hour=0.0464),
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
    is above ``target_utilization``, and down to a smaller rung once, for ``stabilization_s``,
    every period has said the same work would stay under target x (1 - ``tolerance``) there
    (each resize restarts the node).
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
                problems.append(f"nodes[{i}].name: {shown_value(node.name)} is used by another node; "
                                "names must be unique")
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
