"""The search mode: for each combination of the other axes (a core size, a policy, a rate...),
the fewest nodes that meet the constraints, by bisection over the node counts of the spec.

It assumes more nodes never make things worse (true of the figures the constraints check, up
to noise). Each round runs the next candidate of every unfinished combination at once, so the
workers stay busy; about log2(node counts) + 1 rounds. The runs are grid points: the same
index and seeds as in a grid sweep of the same axes, so a search row equals the grid's row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim_core.scenario import Scenario
from sim_core.sweep.points import SweepPoint, grid_points
from sim_core.sweep.spec import SweepSpec

# runs the given points (all replications), returns their rows; ``more`` = runs still expected after
Execute = Callable[[list[SweepPoint], int], list[dict[str, Any]]]


@dataclass
class _Bisection:
    """One combination's node counts (ascending) and the search state over their indices.

    Invariant once the largest count met the constraints: every index below ``low`` failed and
    ``high`` met; done when ``low == high``. ``high`` is None until the largest count is tried.
    """

    points: list[SweepPoint]
    low: int = 0
    high: int | None = None
    impossible: bool = False

    def candidate(self) -> SweepPoint | None:
        if self.impossible:
            return None
        if self.high is None:
            return self.points[-1]
        if self.low >= self.high:
            return None
        return self.points[(self.low + self.high) // 2]

    def record(self, point: SweepPoint, met: bool) -> None:
        i = self.points.index(point)
        if self.high is None:
            self.high = i
            self.impossible = not met
        elif met:
            self.high = i
        else:
            self.low = i + 1

    def rounds_left(self) -> int:
        if self.impossible or (self.high is not None and self.low >= self.high):
            return 0
        if self.high is None:
            return 1 + math.ceil(math.log2(len(self.points)))
        return math.ceil(math.log2(self.high - self.low + 1))


def combinations(spec: SweepSpec, base: Scenario) -> list[_Bisection]:
    """The grid's points grouped by every axis but ``nodes``, each group sorted by node count."""
    groups: dict[tuple, list[SweepPoint]] = {}
    for point in grid_points(spec, base):
        others = tuple((k, repr(v)) for k, v in point.values.items() if k != "nodes")
        groups.setdefault(others, []).append(point)
    return [_Bisection(sorted(points, key=lambda p: p.values["nodes"])) for points in groups.values()]


def search(spec: SweepSpec, base: Scenario, execute: Execute) -> None:
    """Bisect every combination; the rows reach the caller through ``execute``."""
    from sim_core.sweep.runner import mean_meets

    searches = combinations(spec, base)
    while True:
        candidates = {id(s): s.candidate() for s in searches}
        todo = [(s, p) for s in searches if (p := candidates[id(s)]) is not None]
        if not todo:
            return
        more = sum(max(s.rounds_left() - 1, 0) for s, _ in todo) * spec.replications
        rows = execute([p for _, p in todo], more)
        by_point: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_point.setdefault(row["point"], []).append(row)
        for s, point in todo:
            s.record(point, mean_meets(spec, by_point[point.index]))
