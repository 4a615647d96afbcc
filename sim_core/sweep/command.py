"""``scalelab sweep SPEC``: run a what-if sweep on Dask and write its tables and Pareto chart.

Exit codes as for ``scalelab run``: 0 done, 2 bad input (one line per problem naming the field),
130 cancelled with Ctrl-C (the finished points are written first).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from sim_core.progress import ProgressBar
from sim_core.scenario import ScenarioError
from sim_core.scenario_file import resources_dir

BUILTIN_SWEEPS = resources_dir() / "sweeps"
CONNECT_TIMEOUT_S = 10.0  # how long --scheduler may take to answer


def add_parser(commands: Any) -> None:
    """Add the ``sweep`` subcommand to the CLI's subparsers."""
    sweep = commands.add_parser(
        "sweep", help="run many clusters from a sweep spec and compare them",
        description="Run a what-if sweep (a TOML or JSON spec) on Dask distributed: a local cluster of one "
                    "worker process per core, or an existing one with --scheduler. Writes runs and points "
                    "tables (CSV and Parquet) and a Pareto chart of cost against p99 into --out.")
    sweep.set_defaults(command=run_command)
    sweep.add_argument("spec", nargs="?", metavar="SPEC", help="a sweep spec file, or a built-in name (--list)")
    sweep.add_argument("--list", action="store_true", help="list the built-in sweep specs and exit")
    sweep.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: sweep-NAME)")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_workers, metavar="N",
                       help=f"worker processes of the local Dask cluster (default: one per core, {os.cpu_count()})")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask cluster")
    where.add_argument("--in-process", action="store_true", help="run in this process, one point after another")
    sweep.add_argument("--no-plot", action="store_true", help="skip the Pareto chart")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in 1..1024")
    return value


def builtin_sweeps() -> list[str]:
    """Names of the sweep specs shipped in ``resources/sweeps``."""
    return sorted(p.stem for p in BUILTIN_SWEEPS.glob("*.toml"))


def _spec_path(name: str) -> Path:
    path = Path(name)
    if path.exists() or path.suffix in (".toml", ".json") or os.sep in name:
        return path
    builtin = BUILTIN_SWEEPS / f"{name}.toml"
    if not builtin.exists():
        raise ScenarioError(f"spec: {name!r} is not a file or a built-in sweep ({', '.join(builtin_sweeps())})")
    return builtin


def run_command(args: argparse.Namespace) -> int:
    from sim_core.sweep.spec import load_spec

    if args.list:
        return _list()
    if args.spec is None:
        raise ScenarioError("spec: give a sweep spec file or built-in name, or --list to see the built-ins")
    from sim_core.sweep.runner import sweeps_unavailable

    needed = ("pyarrow",) + (() if args.in_process else ("distributed",)) + (() if args.no_plot else ("matplotlib",))
    if problem := sweeps_unavailable(needed):
        raise ScenarioError(problem)
    spec, base = load_spec(_spec_path(args.spec))
    out = args.out or Path(f"sweep-{spec.name}")
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"--out {out}: is a file, not a folder")
    from sim_core.sweep.runner import DaskBackend, Sequential, close_client, local_client, run_sweep

    client = None
    try:
        if args.in_process:
            backend = Sequential()
        else:
            client = _connect(args.scheduler) if args.scheduler else local_client(args.workers)
            backend = DaskBackend(client)
        where = "in this process" if args.in_process else f"{backend.workers} Dask workers"
        print(f"{spec.name}: {spec.mode} sweep over {spec.seconds:g} s runs, {spec.replications} "
              f"replication{'s' if spec.replications != 1 else ''}, on {where}", file=sys.stderr)
        with ProgressBar("sweep", "runs", transient=False, enabled=False if args.quiet else None) as bar:
            result = run_sweep(spec, base, backend, on_row=lambda done, expected, _row: bar.update(done, expected))
    finally:
        if client is not None and args.scheduler:
            client.close()  # the cluster is someone else's: leave it running
        elif client is not None:
            close_client(client)  # our LocalCluster: stop its workers
    return _report(spec, result, out, plot=not args.no_plot)


def _connect(address: str) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT_S:g}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError(f"--scheduler {address}: cannot connect ({exc})") from None


def _report(spec, result, out: Path, plot: bool) -> int:
    from sim_core.sweep.results import aggregate, write_results

    points = aggregate(spec, result.rows)
    try:
        written = write_results(out, spec, result.rows)
        if plot:
            from sim_core.sweep.plot import write_pareto

            written += write_pareto(out, spec, points)
    except OSError as exc:
        raise ScenarioError(f"--out {out}: cannot be written ({exc.strerror or exc})") from None
    _print_summary(spec, points, result)
    print(f"\nwrote {', '.join(str(p) for p in written)}")
    if result.cancelled:
        print(f"interrupted: kept the {len(result.rows)} finished runs", file=sys.stderr)
        return 130
    return 0


def _print_summary(spec, points: list[dict[str, Any]], result) -> None:
    from rich.console import Console
    from rich.table import Table

    from sim_core.sweep.results import cheapest, fewest_nodes, pareto_front

    meeting = [p for p in points if p["meets_constraints"]]
    rate = len(result.rows) / result.wall_s if result.wall_s > 0 else math.nan
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(f"\n{len(result.rows)} runs of {len(points)} points in {result.wall_s:.1f} s "
                  f"({rate:.2f} runs/s); {len(meeting)} point{'s' if len(meeting) != 1 else ''} meet the constraints")
    if spec.mode == "search":
        title, shown = "fewest nodes meeting the constraints, per design (cheapest first)", fewest_nodes(points)
    else:
        title, shown = "cheapest cluster meeting the constraints, per question", cheapest(points)
    if not shown:
        title, shown = "no point meets the constraints; the Pareto front (cost against p99)", pareto_front(points)
    table = Table(title=title, title_justify="left")
    for heading in ("rate", "service", "failure", "cluster", "policy", "health s", "$/h", "p99 ms", "mean ms",
                    "avail %", "served/s"):
        table.add_column(heading, justify="left" if heading in ("service", "failure", "policy", "cluster") else "right")
    for p in shown:
        cluster = f"{p['nodes']} x {p['cores']} CPU {p['ram_gb']:g} GB"
        table.add_row(f"{p['rate']:g}", p["service"], p["failure"], cluster, p["policy"], f"{p['health_check_s']:g}",
                      f"{p['cost_per_hour']:.4f}", _plus_minus(p, "p99_ms", 0), _plus_minus(p, "mean_ms", 0),
                      _plus_minus(p, "availability_pct", 2), f"{p['served_rps']:.1f}")
    console.print(table)


def _plus_minus(point: dict[str, Any], metric: str, digits: int) -> str:
    mean, half = point[metric], point[f"{metric}_ci95"]
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" + ("" if math.isnan(half) else f" ± {half:.{digits}f}")


def _list() -> int:
    from sim_core.sweep.spec import load_spec

    print("Built-in sweeps (scalelab sweep NAME):")
    for name in builtin_sweeps():
        spec, _ = load_spec(BUILTIN_SWEEPS / f"{name}.toml")
        print(f"\n  {name}  ({spec.mode}, {spec.replications} replications of {spec.seconds:g} s)")
        print(f"    {spec.description}")
    return 0
