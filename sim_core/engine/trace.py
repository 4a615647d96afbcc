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

import numpy as np

from sim_core.errors import ScenarioError
from sim_core.safe_io import open_regular, shown
from sim_core.safe_text import cut

EPOCH_LIKE_S = 1e8  # a first arrival later than this is an absolute timestamp
MAX_TRACE_ROWS = 50_000_000


@dataclass(frozen=True)
class Trace:
    """Recorded requests: arrival_s (n,) sorted seconds; cpu_s (n,) or None; node (n,) int or None."""

    arrival_s: np.ndarray
    cpu_s: np.ndarray | None = None
    node: np.ndarray | None = None
    source: str = "trace"  # the file, as named in messages
    node_line: np.ndarray | None = None  # (n,) line of each request in the file, when node is given

    def __post_init__(self) -> None:
        if self.arrival_s.ndim != 1 or np.any(np.diff(self.arrival_s) < 0):
            raise ScenarioError("trace: arrival_s must be a sorted 1-D array")
        for name in ("cpu_s", "node"):
            column = getattr(self, name)
            if column is not None and column.shape != self.arrival_s.shape:
                raise ScenarioError(f"trace: {name} has {column.size} values, arrival_s has {self.arrival_s.size}")

    def check_nodes(self, n_nodes: int) -> None:
        """Raise ScenarioError, naming the file and line, when a pinned node is not in 0..n_nodes-1."""
        if self.node is None or not self.node.size:
            return
        bad = np.flatnonzero(self.node >= n_nodes)
        if bad.size:
            i = int(bad[0])
            where = f"{self.source} line {int(self.node_line[i])}" if self.node_line is not None else self.source
            raise ScenarioError(f"{where}: node {int(self.node[i])} is not in 0..{n_nodes - 1} "
                                f"(the scenario has {n_nodes} node{'s' if n_nodes != 1 else ''})")


def _number(text: str, where: str, column: str, low: float, high: float, whole: bool = False) -> float:
    kind = "whole number" if whole else "number"
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{where}: {column} {cut(text)!r} is not a {kind} in {low:g}..{high:g}") from None
    if not (low <= value <= high):
        raise ScenarioError(f"{where}: {column} {cut(text)} is not in {low:g}..{high:g}")
    if whole and not value.is_integer():
        raise ScenarioError(f"{where}: {column} {cut(text)} is not a whole number in {low:g}..{high:g}")
    return value


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace CSV; any problem is a ScenarioError naming the line and column."""
    source = shown(path)
    handle = os.fdopen(open_regular(path, "trace file"), newline="", encoding="utf-8")
    path = source  # as named in messages from here on
    columns = ["arrival_s"]
    arrivals: list[float] = []
    cpu: list[float] = []
    nodes: list[float] = []
    node_lines: list[int] = []
    with handle:
        reader = csv.reader(handle)
        try:
            for row in reader:
                lineno = reader.line_num  # the file's line (a quoted cell may span lines)
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                cells = [c.strip() for c in row]
                if lineno == 1 and not _looks_numeric(cells[0]):
                    unknown = [c for c in cells if c not in ("arrival_s", "cpu_s", "node")]
                    if unknown or cells[0] != "arrival_s":
                        got = cut(",".join(cells))
                        raise ScenarioError(f"{path} line 1: header must be arrival_s[,cpu_s][,node]; got {got}")
                    columns = cells
                    continue
                if len(cells) != len(columns):
                    expected = f"{len(columns)} ({','.join(columns)})"
                    raise ScenarioError(f"{path} line {lineno}: {len(cells)} values, expected {expected}")
                where = f"{path} line {lineno}"
                for column, cell in zip(columns, cells, strict=True):
                    if column == "arrival_s":
                        arrival = _number(cell, where, column, 0.0, 1e13)
                        if arrivals and arrival < arrivals[-1]:
                            raise ScenarioError(f"{where}: arrival_s {cut(cell)} is earlier than the request "
                                                f"above it ({arrivals[-1]:g}); arrival_s must not decrease")
                        arrivals.append(arrival)
                    elif column == "cpu_s":
                        cpu.append(_number(cell, where, column, 1e-9, 1e5))
                    else:
                        nodes.append(_number(cell, where, column, 0, 1e6, whole=True))
                        node_lines.append(lineno)
                if len(arrivals) > MAX_TRACE_ROWS:
                    raise ScenarioError(f"{path}: more than {MAX_TRACE_ROWS} requests is too large for this machine")
        except UnicodeDecodeError:
            raise ScenarioError(f"{path}: not a text CSV file (not UTF-8)") from None
        except csv.Error as exc:  # a field over the csv module's limit, a NUL byte, a bad quote
            problem = f"a value longer than {csv.field_size_limit()} characters" if "field limit" in str(exc) else exc
            raise ScenarioError(f"{path} line {reader.line_num}: not a CSV line ({problem})") from None
    if not arrivals:
        raise ScenarioError(f"{path}: the trace has no requests")
    times = np.asarray(arrivals)
    if times[0] > EPOCH_LIKE_S:
        times = times - times[0]
    node = np.asarray(nodes, dtype=np.int64) if nodes else None
    lines = np.asarray(node_lines, dtype=np.int64) if nodes else None
    return Trace(times, np.asarray(cpu) if cpu else None, node, source, lines)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
