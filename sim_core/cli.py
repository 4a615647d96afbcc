"""The headless command line: ``scalelab run`` and ``scalelab validate``.

``main(argv)`` takes the subcommand and its arguments and returns the exit code: 0 ok,
2 bad input (a message per problem on stderr, never a traceback), 130 interrupted,
141 output pipe closed.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from sim_core.overload import overload_line
from sim_core.progress import RunProgress
from sim_core.safe_io import atomic_writer, check_output, shown
from sim_core.safe_text import cut
from sim_core.scenario import (
    DEFAULT_SCENARIO,
    Scenario,
    ScenarioError,
    builtin_names,
    builtin_path,
    load,
    resolve,
)

MIN_SECONDS, MAX_SECONDS = 0.01, 1e6  # the shortest and longest run, in simulated seconds
MIN_DT = 0.001  # s
CSV_COLUMNS = (
    "t_s",  # end of the second
    "offered_rps", "served_rps", "rejected_rps", "lost_rps",  # requests/s during the second
    "p50_ms", "p95_ms", "p99_ms", "mean_ms",  # latency of the requests completed during the second
    "availability",  # served / (served + rejected + lost) during the second, 0..1
    "cost_per_hour",  # $/h of all nodes at the end of the second
    "utilization",  # mean over nodes of busy core-seconds / (cores * 1 s), 0..1
    "in_system", "queued",  # requests in the cluster (in service + waiting) and waiting, at the end
    "nodes_up",  # nodes up at the end of the second
)


def main(argv: list[str]) -> int:
    """Run ``scalelab run ...`` or ``scalelab validate ...``; ``argv`` starts with the subcommand."""
    try:
        args = _parser().parse_args(argv)
        code = args.command(args)
        sys.stdout.flush()  # here, so a full disk (/dev/full) is reported, not a traceback at exit
        return code
    except SystemExit as exc:  # argparse has printed its usage message (exit 2) or --help (exit 0)
        return exc.code if isinstance(exc.code, int) else 2
    except ScenarioError as exc:
        for problem in exc.problems:
            _say(problem)
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (``scalelab run --list | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail
        return 141
    except OSError as exc:  # stdout could not be written: a full disk, /dev/full
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _say(f"output: cannot be written ({exc.strerror or exc})")
        return 2


def _say(line: str) -> None:
    """A line on stderr that cannot fail (stderr itself may be a full disk)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        pass


# --- arguments -----------------------------------------------------------------------------

def _number_in(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number in low..high (NaN and infinity are not)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number in {low:g}..{high:g}")
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in 0..{2**63 - 1}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalelab", description="ScaleLab without a window.")
    commands = parser.add_subparsers(required=True, metavar="{run,validate}")

    run = commands.add_parser("run", help="simulate a scenario and print its figures",
                              description="Simulate a scenario without a window, print a summary and "
                                          "optionally write the per-second figures to CSV.")
    run.set_defaults(command=_run)
    run.add_argument("scenario", nargs="?", metavar="SCENARIO",
                     help=f"a scenario file, or a built-in name (default app scenario: {DEFAULT_SCENARIO})")
    run.add_argument("--list", action="store_true", help="list the built-in scenarios and exit")
    run.add_argument("--seconds", type=_number_in(MIN_SECONDS, MAX_SECONDS), metavar="N",
                     help="simulated seconds to run (default: the scenario's duration_s)")
    run.add_argument("--seed", type=_seed, metavar="S", help="random seed (default: the scenario's seed)")
    run.add_argument("--csv", type=Path, metavar="FILE", help="write one row per simulated second to FILE")
    run.add_argument("--trace", type=Path, metavar="FILE",
                     help="replay arrivals (and CPU times) from a CSV: arrival_s[,cpu_s][,node]")
    run.add_argument("--dt", type=_number_in(MIN_DT, 1.0), default=0.1, metavar="DT",
                     help=f"engine step in seconds, {MIN_DT:g}..1 (default 0.1); rows stay per second")

    validate = commands.add_parser("validate", help="check a scenario file",
                                   description="Check a scenario file (or built-in name) and report every problem.")
    validate.set_defaults(command=_validate)
    validate.add_argument("scenario", metavar="SCENARIO")
    return parser


# --- validate and list ---------------------------------------------------------------------

def _nodes(scenario: Scenario) -> str:
    count = len(scenario.nodes)
    return f"{count} node{'s' if count != 1 else ''}"


def _validate(args: argparse.Namespace) -> int:
    scenario = resolve(args.scenario)
    print(f"ok: {cut(scenario.name, 80)} ({_nodes(scenario)})")
    return 0


def _list() -> int:
    print("Built-in scenarios (scalelab run NAME):")
    slide_first = {"vertical": 0, "horizontal": 1}  # in the order the slide tells it
    for name in sorted(builtin_names(), key=lambda n: (slide_first.get(n.split("-")[0], 2), n)):
        scenario = load(builtin_path(name))
        default = ", the app's default" if name == DEFAULT_SCENARIO else ""
        print(f"\n  {name}  ({_nodes(scenario)}, {scenario.duration_s:g} s{default})")
        print(textwrap.fill(scenario.description, width=96, initial_indent="    ", subsequent_indent="    "))
    return 0


# --- run -----------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if args.scenario is None:
        raise ScenarioError("scenario: give a scenario file or built-in name, or --list to see the built-ins")
    scenario = resolve(args.scenario)
    trace = None
    if args.trace is not None:
        from sim_core.trace import load_trace

        trace = load_trace(args.trace)
    if args.csv is not None:
        check_output(args.csv, "--csv", _input_files(args))
    if trace is not None:
        trace.check_nodes(len(scenario.nodes))
    seconds = scenario.duration_s if args.seconds is None else args.seconds

    from sim_core.engine import Simulation  # compiles the kernel: only when there is a run to do

    sim = Simulation(scenario, seed=args.seed, trace=trace)
    wall = time.perf_counter()
    busy = 0.0  # node-averaged busy fraction x seconds
    count = 0
    try:
        with _csv_rows(args.csv) as write_row, RunProgress(seconds) as progress:
            for row, span, snapshot in _seconds(sim, seconds, args.dt):
                write_row(row)
                busy += row["utilization"] * span
                count += 1
                last = snapshot
                progress.update(snapshot.t)
    except KeyboardInterrupt:
        if args.csv is not None and count:
            _say(f"kept the {count} rows written so far in {shown(args.csv)}")
        raise
    wall = time.perf_counter() - wall
    print(_summary(scenario, sim.seed, seconds, last, busy / seconds, wall, trace))
    if last.shed_total:
        arrivals = last.offered_total / seconds
        _say("warning: " + overload_line(arrivals, last.capacity_rps, sim.state.held_limit, last.shed_total))
    if args.csv is not None:
        print(f"\nwrote {count} rows to {shown(args.csv)}")
    return 0


def _input_files(args: argparse.Namespace) -> list[Path]:
    """The files this run reads (scenario, trace), which its output must not replace."""
    found = []
    for given in (args.scenario, args.trace):
        if given is None:
            continue
        path = Path(given)
        try:
            if path.exists():
                found.append(path)
            elif given is args.scenario and str(given) in builtin_names():
                found.append(builtin_path(str(given)))
        except (OSError, ValueError):
            continue
    return found


def _seconds(sim, seconds: float, dt: float) -> Iterator[tuple[dict[str, float], float, object]]:
    """Step ``sim`` for ``seconds`` in steps of at most ``dt`` seconds.

    Yields, per simulated second (the last may be shorter), the CSV row (see CSV_COLUMNS),
    its length in seconds and the engine's last Snapshot.
    """
    from sim_core.engine import UP

    snap = None
    start = 0.0
    while start < seconds - 1e-6:
        end = min(start + 1.0, seconds)
        before = (0, 0, 0, 0) if snap is None else _totals(snap)
        latencies: list[np.ndarray] = []
        busy = np.zeros(sim.n_nodes)  # core-seconds busy / cores, per node
        while sim.t < end - 1e-9:
            snap = sim.step(min(dt, end - sim.t))
            latencies.append(snap.latencies)
            busy += snap.utilization * snap.dt
        span = snap.t - start
        offered, served, rejected, lost = (b - a for a, b in zip(before, _totals(snap), strict=True))
        done_ms = np.concatenate(latencies) * 1000.0
        p50, p95, p99 = np.percentile(done_ms, (50, 95, 99)) if done_ms.size else (math.nan,) * 3
        ended = served + rejected + lost
        row = {
            "t_s": snap.t, "offered_rps": offered / span, "served_rps": served / span,
            "rejected_rps": rejected / span, "lost_rps": lost / span,
            "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99),
            "mean_ms": float(done_ms.mean()) if done_ms.size else math.nan,
            "availability": served / ended if ended else math.nan,
            "cost_per_hour": snap.cost_per_hour,
            "utilization": float(busy.mean() / span),
            "in_system": snap.in_system, "queued": int(snap.queue.sum()),
            "nodes_up": int(np.count_nonzero(snap.state == UP)),
        }
        yield row, span, snap
        start = end


def _totals(snap) -> tuple[int, int, int, int]:
    return snap.offered_total, snap.served_total, snap.rejected_total, snap.lost_total


def _summary(scenario: Scenario, seed: int, seconds: float, snap, utilization: float, wall_s: float,
             trace) -> str:
    """The run's figures as a table; latencies are the engine's cumulative ones (since t = 0)."""
    offered = snap.offered_total
    source = f"trace of {trace.arrival_s.size} requests" if trace is not None else f"seed {seed}"

    def share(count: int) -> str:
        return f"{100.0 * count / offered:.2f}% of offered" if offered else ""

    table = [
        ("throughput offered", f"{offered / seconds:.2f}", f"req/s   {offered} requests"),
        ("throughput served", f"{snap.served_total / seconds:.2f}", f"req/s   {snap.served_total} requests"),
        ("latency p50", _ms(snap.latency_total_p50), "ms"),
        ("latency p95", _ms(snap.latency_total_p95), "ms"),
        ("latency p99", _ms(snap.latency_total_p99), "ms"),
        ("latency mean", _ms(snap.latency_total_mean), "ms"),
        ("rejected", str(snap.rejected_total), share(snap.rejected_total)),
        ("lost", str(snap.lost_total), share(snap.lost_total)),
        ("in system at end", str(snap.in_system), ""),
        ("availability", _percent(snap.availability_total), "%"),
        ("utilization", _percent(utilization), "% (mean over nodes and time)"),
        ("cost", f"{snap.cost_per_hour:.4f}", f"$/h   ${snap.cost_total:.6f} for this run"),
    ]
    lines = [
        f"{cut(scenario.name, 80)}: {_nodes(scenario)}, {scenario.balancer.policy} balancer, "
        f"{seconds:g} s simulated, {source}",
        "",
        *(f"  {label:<20}{value:>10}  {unit}".rstrip() for label, value, unit in table),
        "",
        f"simulated {seconds:g} s in {wall_s:.2f} s of wall time",
    ]
    return "\n".join(lines)


def _percent(fraction: float) -> str:
    return "-" if math.isnan(fraction) else f"{100.0 * fraction:.2f}"


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{1000.0 * seconds:.1f}"


# --- CSV -----------------------------------------------------------------------------------

def _cell(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "" if math.isnan(value) else f"{value:.10g}"


@contextmanager
def _csv_rows(path: Path | None) -> Iterator[Callable[[dict[str, float]], None]]:
    """A function that writes one row; with a path, written atomically.

    Rows go to a temporary file beside ``path``, renamed over it once the run completes; an
    error removes it and leaves any old file as it was; Ctrl-C keeps the rows written so far.
    Without a path, rows are dropped.
    """
    if path is None:
        yield lambda row: None
        return
    try:
        with atomic_writer(path, newline="", keep_on_interrupt=True) as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            yield lambda row: writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    except OSError as exc:
        raise ScenarioError(f"--csv {shown(path)}: cannot be written ({exc.strerror})") from None
