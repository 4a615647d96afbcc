"""Sweep results: the per-run rows, the mean and 95% interval per point, files and the summary.

Files written into the output folder (each atomically: a temporary file, then renamed):
- ``runs.csv`` / ``runs.parquet``: one row per point and replication (``RUN_COLUMNS``);
- ``points.csv`` / ``points.parquet``: one row per point, each figure's mean over the
  replications and the half-width of its 95% interval (``<figure>_ci95``, Student t; empty with
  one replication), and whether the means meet the constraints.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from sim_core.scenario_file import atomic_writer
from sim_core.sweep.runner import METRIC_COLUMNS, meets
from sim_core.sweep.spec import AXIS_NAMES, SweepSpec

RUN_COLUMNS = ("point", "replication", "seed", *AXIS_NAMES, *METRIC_COLUMNS, "meets_constraints")
POINT_COLUMNS = (
    "point", *AXIS_NAMES, "replications",
    *(name for metric in METRIC_COLUMNS for name in (metric, f"{metric}_ci95")),
    "meets_constraints",
)
QUESTION_AXES = ("rate", "service", "failure")  # what is asked of the cluster; the others are its design

# Student t 0.975 quantiles for 1..10 degrees of freedom; beyond, a Cornish-Fisher expansion
# of the normal quantile (error under 0.1%).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)
_Z975 = 1.959964


def t975(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom (>= 1)."""
    if dof <= len(_T975):
        return _T975[dof - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)


def mean_ci95(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% interval of the mean (NaN half-width for one value).

    NaN values (a run where nothing completed) are left out; all NaN gives (NaN, NaN).
    """
    data = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if data.size == 0:
        return math.nan, math.nan
    if data.size == 1:
        return float(data[0]), math.nan
    return float(data.mean()), t975(data.size - 1) * float(data.std(ddof=1)) / math.sqrt(data.size)


def aggregate(spec: SweepSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per point (``POINT_COLUMNS``), in point order, from the per-run rows."""
    by_point: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_point.setdefault(row["point"], []).append(row)
    out = []
    for index in sorted(by_point):
        runs = by_point[index]
        point = {"point": index, **{axis: runs[0][axis] for axis in AXIS_NAMES}, "replications": len(runs)}
        for metric in METRIC_COLUMNS:
            point[metric], point[f"{metric}_ci95"] = mean_ci95([float(r[metric]) for r in runs])
        point["meets_constraints"] = meets(spec.constraints, point["p99_ms"], point["availability_pct"])
        out.append(point)
    return out


def question_order(question: tuple) -> tuple:
    """Sort key of a question (rate, service, failure): rates by number, the rest by name."""
    return tuple((0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)) for v in question)


def cheapest(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each question (rate, service, failure), the cheapest point that meets the constraints;
    ties go to the lower p99."""
    best: dict[tuple, dict[str, Any]] = {}
    for point in points:
        if not point["meets_constraints"]:
            continue
        question = tuple(point[a] for a in QUESTION_AXES)
        held = best.get(question)
        if held is None or (point["cost_per_hour"], point["p99_ms"]) < (held["cost_per_hour"], held["p99_ms"]):
            best[question] = point
    return [best[q] for q in sorted(best, key=question_order)]


def fewest_nodes(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each design but its node count (cores, RAM, policy, ...) and question, the point with
    the fewest nodes that meets the constraints (the search's answers), cheapest first."""
    best: dict[tuple, dict[str, Any]] = {}
    for point in points:
        if point["meets_constraints"]:
            design = tuple(point[a] for a in AXIS_NAMES if a != "nodes")
            if design not in best or point["nodes"] < best[design]["nodes"]:
                best[design] = point
    return sorted(best.values(), key=lambda p: (p["cost_per_hour"], p["p99_ms"]))


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other point beats on both cost per hour and p99 (NaN p99 excluded), by cost."""
    ranked = sorted((p for p in points if not math.isnan(p["p99_ms"])), key=lambda p: (p["cost_per_hour"], p["p99_ms"]))
    front, best = [], math.inf
    for point in ranked:
        if point["p99_ms"] < best:
            front.append(point)
            best = point["p99_ms"]
    return front


# --- files ---------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.10g}"
    return str(value)


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Rows as CSV with a header; NaN as an empty cell; written atomically."""
    with atomic_writer(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])


def write_parquet(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Rows as a Parquet file (pyarrow; NaN stays NaN); written to a temporary file, then renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({c: [row[c] for row in rows] for c in columns}) if rows else pa.table(
        {c: pa.array([], type=pa.null()) for c in columns})
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_results(folder: Path, spec: SweepSpec, rows: list[dict[str, Any]]) -> list[Path]:
    """Write runs.csv/.parquet and points.csv/.parquet into ``folder`` (created); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    points = aggregate(spec, rows)
    written = []
    for stem, columns, data in (("runs", RUN_COLUMNS, rows), ("points", POINT_COLUMNS, points)):
        write_csv(folder / f"{stem}.csv", columns, data)
        write_parquet(folder / f"{stem}.parquet", columns, data)
        written += [folder / f"{stem}.csv", folder / f"{stem}.parquet"]
    return written
