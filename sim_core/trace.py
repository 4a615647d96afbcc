"""Replaying a trace: a CSV of arrival times and, optionally, CPU time per request.

Columns (a header row naming them is optional when there is only the first):
``arrival_s`` seconds since the start (epoch timestamps are shifted to start at 0),
``cpu_s`` CPU seconds on a speed-1 core (optional), ``node`` node index to pin the request to
(optional; used to replay a routing decided elsewhere).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim_core.scenario import ScenarioError

EPOCH_LIKE_S = 1e8  # a first arrival later than this is an absolute timestamp
MAX_TRACE_ROWS = 50_000_000


@dataclass(frozen=True)
class Trace:
    """Recorded requests: arrival_s (n,) sorted seconds; cpu_s (n,) or None; node (n,) int or None."""

    arrival_s: np.ndarray
    cpu_s: np.ndarray | None = None
    node: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.arrival_s.ndim != 1 or np.any(np.diff(self.arrival_s) < 0):
            raise ScenarioError("trace: arrival_s must be a sorted 1-D array")
        for name in ("cpu_s", "node"):
            column = getattr(self, name)
            if column is not None and column.shape != self.arrival_s.shape:
                raise ScenarioError(f"trace: {name} has {column.size} values, arrival_s has {self.arrival_s.size}")


def _number(text: str, where: str, column: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{where}: {column} {text!r} is not a number in {low:g}..{high:g}") from None
    if not (low <= value <= high):
        raise ScenarioError(f"{where}: {column} {value:g} is not in {low:g}..{high:g}")
    return value


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace CSV; any problem is a ScenarioError naming the line and column."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such trace file") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc.strerror})") from None
    columns = ["arrival_s"]
    arrivals: list[float] = []
    cpu: list[float] = []
    nodes: list[float] = []
    with handle:
        try:
            for lineno, row in enumerate(csv.reader(handle), start=1):
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                cells = [c.strip() for c in row]
                if lineno == 1 and not _looks_numeric(cells[0]):
                    unknown = [c for c in cells if c not in ("arrival_s", "cpu_s", "node")]
                    if unknown or cells[0] != "arrival_s":
                        got = ",".join(cells)
                        raise ScenarioError(f"{path} line 1: header must be arrival_s[,cpu_s][,node]; got {got}")
                    columns = cells
                    continue
                if len(cells) != len(columns):
                    expected = f"{len(columns)} ({','.join(columns)})"
                    raise ScenarioError(f"{path} line {lineno}: {len(cells)} values, expected {expected}")
                where = f"{path} line {lineno}"
                for column, cell in zip(columns, cells, strict=True):
                    if column == "arrival_s":
                        arrivals.append(_number(cell, where, column, 0.0, 1e13))
                    elif column == "cpu_s":
                        cpu.append(_number(cell, where, column, 1e-9, 1e5))
                    else:
                        nodes.append(_number(cell, where, column, 0, 1e6))
                if len(arrivals) > MAX_TRACE_ROWS:
                    raise ScenarioError(f"{path}: more than {MAX_TRACE_ROWS} requests is too large for this machine")
        except UnicodeDecodeError:
            raise ScenarioError(f"{path}: not a text CSV file (not UTF-8)") from None
    if not arrivals:
        raise ScenarioError(f"{path}: the trace has no requests")
    times = np.asarray(arrivals)
    order_bad = np.flatnonzero(np.diff(times) < 0)
    if order_bad.size:
        row = order_bad[0] + 2
        raise ScenarioError(f"{path}: arrival_s must not decrease; request {row} arrives before the one above it")
    if times[0] > EPOCH_LIKE_S:
        times = times - times[0]
    node = np.asarray(nodes, dtype=np.int64) if nodes else None
    return Trace(times, np.asarray(cpu) if cpu else None, node)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
