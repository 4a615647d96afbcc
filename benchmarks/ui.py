"""Frame time of the ScaleLab window with 200 nodes and every chart live, offscreen.

A frame is one clock tick (engine steps, history, charts, readout, canvas) plus the repaint
it causes. The same window is measured running and with the engine paused (animation and
repaint only), interleaved in the same run, and the medians and 95th percentiles printed.
Goal: p95 under 16 ms while running.

Scrubbing: the default scenario (7 nodes) run for 10 simulated minutes at 1x (0.05 s steps),
then 50 jumps to random moments of it, each timed until the window has repainted; printed
beside a reference (one frame of that window running). Goal: every jump under 200 ms.

The explanations (issue 11): the same 200 nodes with MTBF/MTTR and the theory lines, bands,
availability panel and N-1 check all on (``benchmarks/theory_ui.py``, goal p95 under 16 ms), and
the N-1 check's wall time for 7 and for 200 nodes (``benchmarks/theory.py``).

    .venv/bin/python benchmarks/ui.py [--frames N] [--speed X] [--jumps N] [--no-explanations]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the explanations' benchmarks

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.windows.main_window import MainWindow, create_app  # noqa: E402
from sim_core.scenario import Node  # noqa: E402
from sim_core.scenario_file import resolve

FRAME_S = 1 / 60  # wall seconds per frame, as the 16 ms timer


def big_scenario(n_nodes: int = 200):
    """``n_nodes`` 1-CPU nodes at 75% load (7.5 req/s each, 100 ms of CPU per request)."""
    base = resolve("horizontal-7x1")
    workload = base.workload.model_copy(update={"rate": 7.5 * n_nodes, "max_rate": 10.0 * n_nodes})
    nodes = [Node(name=f"node-{i + 1}", restart_s=10.0, price_per_hour=0.0116) for i in range(n_nodes)]
    return base.model_copy(update={"name": f"{n_nodes} nodes", "nodes": nodes, "workload": workload})


def frame(app: QApplication, win: MainWindow, running: bool) -> float:
    """One frame: the tick (engine steps only when running) and the repaint; wall seconds."""
    start = time.perf_counter()
    if running:
        win.clock.tick(FRAME_S)
    else:
        win.clock.frame_without_steps(FRAME_S)
    app.processEvents()
    return time.perf_counter() - start


def summary(values: list[float]) -> str:
    """Median, 95th percentile and maximum of frame times in ms, as the benchmarks print them."""
    return (f"median {statistics.median(values):6.2f} ms   p95 {percentile(values, 0.95):6.2f} ms"
            f"   max {max(values):6.2f} ms")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="frames measured per mode (default 600)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulation speed, 0.25..100 (default 1)")
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--jumps", type=int, default=50, help="random jumps in the scrub test (default 50)")
    parser.add_argument("--no-explanations", action="store_true", help="skip the explanations' figures")
    args = parser.parse_args()
    app = create_app()
    folder = tempfile.mkdtemp()
    win = MainWindow(big_scenario(args.nodes), None, QSettings(f"{folder}/s.ini", QSettings.Format.IniFormat),
                     Path(folder))
    win.resize(1600, 1000)
    win.show()
    win.clock.set_speed(args.speed)
    app.processEvents()
    win.ctrl.advance(65.0, 1300)  # a full chart window of history (65 s in 0.05 s steps)
    for _ in range(60):  # warm up
        frame(app, win, True)
    times = {True: [], False: []}
    for k in range(2 * args.frames):
        running = k % 2 == 0
        times[running].append(frame(app, win, running) * 1e3)
    print(f"ScaleLab window, {args.nodes} nodes, {win.ctrl.history.size} samples in the charts, "
          f"speed {args.speed:g}x, offscreen, {args.frames} frames each")
    for running, label in ((True, "engine running"), (False, "engine paused ")):
        print(f"  {label}: {summary(times[running])}")
    extra = percentile(times[True], 0.95) - percentile(times[False], 0.95)
    print(f"  running costs {extra:+.2f} ms at p95 over paused; goal p95 < 16 ms: "
          f"{'met' if percentile(times[True], 0.95) < 16 else 'NOT met'}")
    print(f"  simulated time dropped to stay responsive: {win.clock.dropped_s:.2f} s")
    win.ask_save = lambda: None
    win.ctrl.undo_stack.setClean()
    win.close()
    scrub(app, folder, args.jumps)
    if not args.no_explanations:
        from theory import n1_wall_times
        from theory_ui import explanations_frames

        explanations_frames(app, args.frames, args.speed, args.nodes)
        n1_wall_times()
    return 0


def scrub(app: QApplication, folder: str, jumps: int) -> None:
    """Jump to ``jumps`` random moments of a 10-minute run of the default scenario; print the times."""
    win = MainWindow(resolve("horizontal-7x1"), None, QSettings(f"{folder}/t.ini", QSettings.Format.IniFormat),
                     Path(folder))
    win.resize(1366, 768)
    win.show()
    app.processEvents()
    while win.ctrl.t < 600.0 - 1e-9:  # 10 minutes at 1x: the window's own 0.05 s steps
        win.ctrl.advance(min(0.2, 600.0 - win.ctrl.t), 4)
    app.processEvents()
    reference = [frame(app, win, True) * 1e3 for _ in range(30)]
    rng = random.Random(1)
    times = []
    for _ in range(jumps):
        start = time.perf_counter()
        win.ctrl.jump(rng.uniform(0.0, win.ctrl.head_t))
        app.processEvents()
        times.append((time.perf_counter() - start) * 1e3)
    print(f"Scrubbing a 10-minute run of horizontal-7x1 ({len(win.ctrl.session.checkpoints)} checkpoints), "
          f"{jumps} random jumps, each until repainted")
    print(f"  jump: median {statistics.median(times):6.1f} ms   worst {max(times):6.1f} ms   "
          f"(reference: one running frame of this window, median {statistics.median(reference):.1f} ms)")
    print(f"  goal every jump < 200 ms: {'met' if max(times) < 200 else 'NOT met'}")
    win.ask_save = lambda: None
    win.close()


if __name__ == "__main__":
    sys.exit(main())
