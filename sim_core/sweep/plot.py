"""The Pareto chart of a sweep: cost per hour against p99 latency, one panel per question.

A question is a combination of the axes asked of the cluster (rate, service distribution,
failure); within a panel each point is one cluster design. Points that meet the constraints are
drawn green and labelled (``nodes x cores``); the others grey; the Pareto front (no other point
is both cheaper and faster) is a line, and the cheapest point that meets the constraints a star.
matplotlib's Figure with no pyplot: rendered with Agg (PNG) and its SVG writer, no display needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sim_core.sweep.results import QUESTION_AXES, cheapest, pareto_front, question_order
from sim_core.sweep.spec import SweepSpec

MAX_PANELS = 12
MAX_LABELS = 12  # per panel; beyond, only the front's meeting points are labelled
MEETS, MISSES, FRONT = "#1a9e4a", "#9a9a9a", "#3b6fb6"


def _question(point: dict[str, Any]) -> tuple:
    return tuple(point[a] for a in QUESTION_AXES)


def _title(question: tuple, varying: list[str]) -> str:
    words = {"rate": lambda v: f"{v:g} req/s", "service": str, "failure": lambda v: f"failure {v}"}
    parts = [words[a](v) for a, v in zip(QUESTION_AXES, question, strict=True) if a in varying]
    return ", ".join(parts) or "all points"


def label(point: dict[str, Any]) -> str:
    """``4x2`` = 4 nodes of 2 cores."""
    return f"{point['nodes']}x{point['cores']}"


def pareto_figure(spec: SweepSpec, points: list[dict[str, Any]]):
    """A matplotlib Figure of the per-point rows (``results.aggregate``)."""
    from matplotlib.figure import Figure  # no pyplot: no backend chosen, no global state; savefig renders with Agg

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault(_question(point), []).append(point)
    questions = sorted(groups, key=question_order)[:MAX_PANELS]
    varying = [a for i, a in enumerate(QUESTION_AXES) if len({q[i] for q in groups}) > 1]
    columns = max(1, math.ceil(math.sqrt(len(questions))))
    rows = math.ceil(len(questions) / columns) or 1
    fig = Figure(figsize=(5.2 * columns, 4.0 * rows + 0.6), layout="constrained")
    goal = []
    if spec.constraints.p99_ms is not None:
        goal.append(f"p99 <= {spec.constraints.p99_ms:g} ms")
    if spec.constraints.availability_pct is not None:
        goal.append(f"availability >= {spec.constraints.availability_pct:g}%")
    fig.suptitle(f"{spec.name}: cost against p99" + (f"\ngoal: {', '.join(goal)}" if goal else ""), fontsize=10)
    for n, question in enumerate(questions):
        ax = fig.add_subplot(rows, columns, n + 1)
        _panel(ax, spec, groups[question])
        ax.set_title(_title(question, varying), fontsize=10)
    if not questions:
        fig.add_subplot(1, 1, 1).text(0.5, 0.5, "no finished points", ha="center", va="center")
    return fig


def _panel(ax, spec: SweepSpec, points: list[dict[str, Any]]) -> None:
    shown = [p for p in points if not math.isnan(p["p99_ms"])]
    good = [p for p in shown if p["meets_constraints"]]
    bad = [p for p in shown if not p["meets_constraints"]]
    ax.scatter([p["cost_per_hour"] for p in bad], [p["p99_ms"] for p in bad], s=14, c=MISSES, label="misses the goal")
    ax.scatter([p["cost_per_hour"] for p in good], [p["p99_ms"] for p in good], s=26, c=MEETS, label="meets the goal")
    front = pareto_front(shown)
    ax.plot([p["cost_per_hour"] for p in front], [p["p99_ms"] for p in front], c=FRONT, lw=1, label="Pareto front",
            drawstyle="steps-post")
    on_front = {p["point"] for p in front}
    best_points = cheapest(points)
    chosen = {p["point"] for p in best_points}
    labelled = good if len(good) <= MAX_LABELS else [p for p in good if p["point"] in on_front | chosen]
    for p in _spaced(labelled, chosen):
        ax.annotate(label(p), (p["cost_per_hour"], p["p99_ms"]), textcoords="offset points", xytext=(4, 3),
                    fontsize=7, color=MEETS)
    for best in best_points:
        ax.scatter([best["cost_per_hour"]], [best["p99_ms"]], s=140, marker="*", c=MEETS, edgecolors="black",
                   linewidths=0.6, zorder=5, label=f"cheapest: {label(best)} {best['policy']}")
    if spec.constraints.p99_ms is not None:
        ax.axhline(spec.constraints.p99_ms, color=MEETS, lw=0.8, ls="--")
    if shown:
        from matplotlib.ticker import LogLocator, ScalarFormatter

        ax.set_xscale("log")  # clusters from one small node to many big ones span decades of cost
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter("")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter() if _decades(shown) < 1 else "")
    ax.set_xlabel("cost ($/h, log scale); labels: nodes x cores")
    ax.set_ylabel("p99 latency (ms)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper right")


def _spaced(points: list[dict[str, Any]], keep: set[int], gap: float = 0.05) -> list[dict[str, Any]]:
    """The points to label: those in ``keep``, and the others at least ``gap`` decades of cost
    from the last label, so labels do not overprint each other."""
    out, last = [], -math.inf
    for p in sorted(points, key=lambda p: p["cost_per_hour"]):
        x = math.log10(max(p["cost_per_hour"], 1e-12))
        if p["point"] in keep or x - last >= gap:
            out.append(p)
            last = x
    return out


def _decades(points: list[dict[str, Any]]) -> float:
    values = [p["p99_ms"] for p in points if p["p99_ms"] > 0]
    return math.log10(max(values) / min(values)) if values else 0.0


def write_pareto(folder: Path, spec: SweepSpec, points: list[dict[str, Any]]) -> list[Path]:
    """pareto.png and pareto.svg in ``folder``; the paths written."""
    fig = pareto_figure(spec, points)
    paths = [folder / "pareto.png", folder / "pareto.svg"]
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1])
    return paths
