"""The headless command line: ``scalelab run``, ``scalelab validate`` and ``scalelab sweep``.

``main(argv)`` takes the subcommand and its arguments and returns the exit code: 0 ok (for a
challenge: every goal met and, with ``--challenge``, only allowed changes), 1 a goal or rule not met,
2 bad input (a message per problem on stderr, never a traceback), 130 interrupted,
141 output pipe closed.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sim_core.overload import overload_line
from sim_core.progress import ProgressBar
from sim_core.safe_io import atomic_writer, check_output, shown
from sim_core.safe_text import cut
from sim_core.scenario import Scenario, ScenarioError
from sim_core.scenario_file import DEFAULT_SCENARIO, builtin_names, builtin_path, load, resolve

MIN_SECONDS, MAX_SECONDS = 0.01, 1e6  # the shortest and longest run, in simulated seconds
MIN_DT = 0.001  # s
MAX_DECISIONS_SHOWN = 40



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
        if exc.errno not in _OUTPUT_ERRORS:
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _say(f"output: cannot be written ({exc.strerror or exc})")
        return 2


_OUTPUT_ERRORS = {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EBADF, errno.EPIPE}


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
    commands = parser.add_subparsers(required=True, metavar="{run,validate,sweep}")

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
    run.add_argument("--challenge", metavar="CHALLENGE",
                     help="grade SCENARIO as an answer to this challenge (file or built-in name): "
                          "its goals, only the changes it allows, within its budget")
    run.add_argument("--dt", type=_number_in(MIN_DT, 1.0), default=0.1, metavar="DT",
                     help=f"engine step in seconds, {MIN_DT:g}..1 (default 0.1); rows stay per second")

    validate = commands.add_parser("validate", help="check a scenario file",
                                   description="Check a scenario file (or built-in name) and report every problem.")
    validate.set_defaults(command=_validate)
    validate.add_argument("scenario", metavar="SCENARIO")

    from sim_core.sweep.command import add_parser as add_sweep  # issue 13: what-if sweeps

    add_sweep(commands)
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
    goals, rules = scenario.goals, None
    if args.challenge is not None:  # graded against the challenge's own goals, whatever the answer says
        from sim_core.challenge import check_rules

        original = resolve(args.challenge)
        if original.goals is None:
            raise ScenarioError(f"--challenge {args.challenge}: has no goals section; it is not a challenge")
        goals, rules = original.goals, check_rules(original, scenario)
    trace = None
    if args.trace is not None:
        from sim_core.engine.trace import load_trace

        trace = load_trace(args.trace)
    if args.csv is not None:
        check_output(args.csv, "--csv", _input_files(args))
    if trace is not None:
        trace.check_nodes(len(scenario.nodes))
    seconds = scenario.duration_s if args.seconds is None else args.seconds

    from sim_core import challenge, metrics  # compiles the kernel: only when there is a run to do

    judge = None if goals is None else challenge.Judge(goals, scenario.duration_s)
    wall = time.perf_counter()
    count = 0
    nodes_up: list[int] = []
    try:
        with _csv_rows(args.csv) as write_row, ProgressBar("run", "sim s", seconds, delay_s=1.0) as progress:
            def on_row(row: dict[str, float]) -> None:
                nonlocal count
                write_row(row)
                count += 1
                nodes_up.append(row["nodes_up"])
                progress.update(row["t_s"])

            summary, sim = metrics.run(scenario, seconds, seed=args.seed, dt=args.dt, trace=trace, on_row=on_row,
                                       on_step=None if judge is None else judge.add)
    except KeyboardInterrupt:
        if args.csv is not None and count:
            _say(f"kept the {count} rows written so far in {shown(args.csv)}")
        raise
    wall = time.perf_counter() - wall
    print(_summary(scenario, sim.seed, summary, wall, trace))
    if sim.state.shed:
        _say("warning: " + _overload(sim, summary))
    if trace is None:
        _print_theory(scenario, summary, nodes_up)
    if args.csv is not None:
        print(f"\nwrote {count} rows to {shown(args.csv)}")
    if sim.scaling_events:
        print(f"\nscaling decisions ({len(sim.decisions)}):")
        for record in sim.decisions[:MAX_DECISIONS_SHOWN]:
            print(f"  t = {record.t:7.1f} s  {record.reason}")
        if len(sim.decisions) > MAX_DECISIONS_SHOWN:
            print(f"  ... and {len(sim.decisions) - MAX_DECISIONS_SHOWN} more")
    if judge is None:
        return 0
    verdicts = challenge.finish(judge, scenario, sim.seed, args.dt)
    print(f"\ngoals ({sum(v.status == challenge.MET for v in verdicts)} of {len(verdicts)} met):")
    for verdict in verdicts:
        print(f"  {verdict.line()}")
    if rules is not None:
        print(f"\nrules of {args.challenge}: " + ("kept" if not rules else f"{len(rules)} broken"))
        for problem in rules:
            print(f"  BROKEN   {problem}")
    return 0 if challenge.all_met(verdicts) and not rules else 1


def _input_files(args: argparse.Namespace) -> list[Path]:
    """The files this run reads (scenario, trace), which its output must not replace."""
    found = []
    for given in (args.scenario, args.trace, getattr(args, "challenge", None)):
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


def _overload(sim, summary) -> str:
    """The plain overload warning: arrivals against the capacity of the nodes up at the end."""
    from sim_core.engine.state import UP
    from sim_core.engine.step import service_capacity_rps

    capacity = service_capacity_rps(sim.params, sim.state.state == UP)
    return overload_line(summary.offered_rps, capacity, sim.state.held_limit, sim.state.shed)


def _summary(scenario: Scenario, seed: int, run, wall_s: float, trace) -> str:
    """The run's figures (a ``metrics.RunSummary``) as a table; latencies since t = 0."""
    offered = run.offered
    source = f"trace of {trace.arrival_s.size} requests" if trace is not None else f"seed {seed}"

    def share(count: int) -> str:
        return f"{100.0 * count / offered:.2f}% of offered" if offered else ""

    table = [
        ("throughput offered", f"{run.offered_rps:.2f}", f"req/s   {offered} requests"),
        ("throughput served", f"{run.served_rps:.2f}", f"req/s   {run.served} requests"),
        ("latency p50", _ms(run.p50_ms), "ms"),
        ("latency p95", _ms(run.p95_ms), "ms"),
        ("latency p99", _ms(run.p99_ms), "ms"),
        ("latency mean", _ms(run.mean_ms), "ms"),
        ("rejected", str(run.rejected), share(run.rejected)),
        ("lost", str(run.lost), share(run.lost)),
        ("in system at end", str(run.in_system), ""),
        ("availability", _percent(run.availability), "%"),
        ("utilization", _percent(run.utilization), "% (mean over nodes and time)"),
        ("cost", f"{run.cost_per_hour:.4f}", f"$/h   ${run.cost_total:.6f} for this run"),
    ]
    lines = [
        f"{cut(scenario.name, 80)}: {_nodes(scenario)}, {scenario.balancer.policy} balancer, "
        f"{run.seconds:g} s simulated, {source}",
        "",
        *(f"  {label:<20}{value:>10}  {unit}".rstrip() for label, value, unit in table),
        "",
        f"simulated {run.seconds:g} s in {wall_s:.2f} s of wall time",
    ]
    return "\n".join(lines)


def _percent(fraction: float) -> str:
    return "-" if math.isnan(fraction) else f"{100.0 * fraction:.2f}"


def _ms(ms: float) -> str:
    return "-" if math.isnan(ms) else f"{ms:.1f}"


def _print_theory(scenario: Scenario, summary, nodes_up: list[int]) -> None:
    """What queueing theory predicts beside the measured figures (a metrics.RunSummary), or why it
    cannot; with random failures, the predicted availability beside the per-second ``nodes_up``."""
    from sim_core.engine import failures
    from sim_core.theory import availability
    from sim_core.theory import predict as theory
    rejected = summary.rejected / summary.offered if summary.offered else math.nan
    print()
    print("\n".join(theory.compare_lines(theory.predict(scenario), summary.mean_ms / 1000.0,
                                          summary.p99_ms / 1000.0, rejected)))
    if failures.has_failures(scenario):
        report = availability.predict_availability(scenario)
        print("\n".join(availability.compare_lines(report, nodes_up)))


# --- CSV -----------------------------------------------------------------------------------



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
    from sim_core.metrics import CsvWriter

    try:
        with atomic_writer(path, newline="", keep_on_interrupt=True) as handle:
            yield CsvWriter(handle)
    except OSError as exc:
        raise ScenarioError(f"--csv {shown(path)}: cannot be written ({exc.strerror})") from None
