"""The points of a sweep: the values of every axis, the cluster built from them, and their seeds.

Every point has all the axes (``AXIS_NAMES``), those not swept at the base scenario's value, so
every results table has the same columns. A point's ``index`` is its position in the full grid
of the spec's axes (in ``points`` mode: in the list), and its seeds come from
``SeedSequence(spec.seed, spawn_key=(index, replication))``: they depend on what the point is,
not on the order points run in or on which worker runs them, so a sweep gives the same table on
one worker, two, or a cluster, and the search mode runs exactly the runs a grid would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim_core.scenario import Balancer, Event, Node, Scenario, ScenarioError, Workload
from sim_core.sweep.spec import AXIS_NAMES, MAX_POINTS, Failure, SweepSpec

NODE_SPACING_PX = 160.0  # the canvas layout of the built-in scenarios: one column of boxes
NODE_X_PX = 320.0


@dataclass(frozen=True)
class SweepPoint:
    """One cluster to run: its position ``index`` and the value of every axis (``AXIS_NAMES``)."""

    index: int
    values: dict[str, Any]  # failure is a Failure; the others plain numbers and strings

    def columns(self) -> dict[str, Any]:
        """The axis values as table cells (the failure as its label)."""
        return {name: (value.label() if isinstance(value, Failure) else value) for name, value in self.values.items()}

    def label(self) -> str:
        """Short text for a chart: ``4 x 2 CPU``."""
        return f"{self.values['nodes']} x {self.values['cores']} CPU"


def base_values(base: Scenario) -> dict[str, Any]:
    """The value of every axis in the base scenario (the nodes are copies of its first node)."""
    first = base.nodes[0]
    return {
        "nodes": len(base.nodes), "cores": first.cores, "ram_gb": first.ram_gb,
        "policy": base.balancer.policy, "rate": base.workload.rate, "service": base.workload.service,
        "health_check_s": base.balancer.health_check_s, "failure": Failure(),
    }


def axis_values(spec: SweepSpec, base: Scenario) -> dict[str, list[Any]]:
    """The values each axis takes, in ``AXIS_NAMES`` order; an axis not swept has its base value."""
    defaults = base_values(base)
    return {name: list(getattr(spec.axes, name) or [defaults[name]]) for name in AXIS_NAMES}


def grid_points(spec: SweepSpec, base: Scenario) -> list[SweepPoint]:
    """Every combination of the axes; the last axis varies fastest."""
    axes = axis_values(spec, base)
    size = int(np.prod([len(v) for v in axes.values()])) * spec.replications
    if size > MAX_POINTS:
        raise ScenarioError(f"axes: {size} runs (points x replications) is not in 1..{MAX_POINTS}")
    combos = itertools.product(*axes.values())
    scale_ram = spec.axes.ram_gb is None
    return [_scaled(base, SweepPoint(i, dict(zip(AXIS_NAMES, combo, strict=True))), scale_ram)
            for i, combo in enumerate(combos)]


def listed_points(spec: SweepSpec, base: Scenario) -> list[SweepPoint]:
    """The points of ``mode = "points"``, each completed with the base's values."""
    defaults = base_values(base)
    if len(spec.points) * spec.replications > MAX_POINTS:
        raise ScenarioError(f"points: {len(spec.points) * spec.replications} runs is not in 1..{MAX_POINTS}")
    points = []
    for i, point in enumerate(spec.points):
        given = {name: getattr(point, name) for name in AXIS_NAMES}
        values = {n: defaults[n] if v is None else v for n, v in given.items()}
        points.append(_scaled(base, SweepPoint(i, values), point.ram_gb is None))
    return points


def _scaled(base: Scenario, point: SweepPoint, scale_ram: bool) -> SweepPoint:
    """With ``scale_ram``, the point's RAM is the base node's RAM per core times its cores."""
    if not scale_ram:
        return point
    template = base.nodes[0]
    ram = min(max(template.ram_gb * point.values["cores"] / template.cores, 0.125), 4096.0)
    return SweepPoint(point.index, {**point.values, "ram_gb": ram})


def seed_for(spec: SweepSpec, index: int, replication: int) -> int:
    """The engine seed (0..2^63-1) of one run: independent streams per point and replication."""
    key = (replication,) if spec.common_random_numbers else (index, replication)
    state = np.random.SeedSequence(spec.seed, spawn_key=key).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


def node_price(template: Node, cores: int, ram_gb: float, spec: SweepSpec) -> float:
    """$/h of one node: the spec's pricing, or the template's price per core times ``cores``."""
    if spec.pricing is None:
        return template.price_per_hour * cores / template.cores
    return spec.pricing.per_core_hour * cores + spec.pricing.per_gb_hour * ram_gb


def build_scenario(base: Scenario, point: SweepPoint, spec: SweepSpec) -> Scenario:
    """The base scenario with the point's cluster, balancer, traffic and failure.

    Nodes are copies of the base's first node with the point's cores and RAM (the points carry
    the RAM: the template's RAM per core times the cores unless RAM is swept); storage scales with
    the cores as in the template (500 GB per core in the slide).
    The base's events are dropped (they name the base's nodes); the failure axis adds its own.
    """
    v = point.values
    template = base.nodes[0]
    per_core = v["cores"] / template.cores
    ram = v["ram_gb"]
    storage = min(max(template.storage_gb * per_core, 1.0), 1_000_000.0)
    price = node_price(template, v["cores"], ram, spec)
    count = v["nodes"]
    top = -NODE_SPACING_PX * (count - 1) / 2
    nodes = [
        template.model_copy(update={
            "name": f"node-{i + 1}", "cores": v["cores"], "ram_gb": ram, "storage_gb": storage,
            "price_per_hour": price, "x": NODE_X_PX, "y": top + NODE_SPACING_PX * i,
        })
        for i in range(count)
    ]
    failure: Failure = v["failure"]
    events = []
    if failure.kind == "one_node":
        events.append(Event(at_s=failure.at_s, action="fail", node="node-1"))
        if failure.recover_after_s is not None:
            events.append(Event(at_s=failure.at_s + failure.recover_after_s, action="recover", node="node-1"))
    rate = v["rate"]
    workload: Workload = base.workload.model_copy(update={
        "rate": rate, "service": v["service"], "max_rate": max(base.workload.max_rate, min(rate, 2e6), 1.0),
    })
    balancer: Balancer = base.balancer.model_copy(update={"policy": v["policy"], "health_check_s": v["health_check_s"]})
    name = f"{point.label()} {v['policy']} {rate:g} rps"[:80]
    return base.model_copy(update={
        "name": name, "nodes": nodes, "balancer": balancer, "workload": workload, "events": events,
    })

