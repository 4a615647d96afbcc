"""Frame time of the window with theory, bands, availability and the N-1 check all on, at 200 nodes.

Interleaved in one run, offscreen: frames with every explanation live (theory lines, bands,
readout, Theory dock, the N-1 check running in its worker process, restarted whenever it ends)
against frames of the same window with the Explainer disconnected from the engine's steps and the
clock's frames (the reference). Goal: p95 under 16 ms with everything on. Nodes get MTBF/MTTR so the availability
panel is live too.

    .venv/bin/python benchmarks/theory_ui.py [--frames N] [--speed X] [--nodes N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtCore import QSettings  # noqa: E402
from ui import big_scenario, frame, percentile, summary  # noqa: E402

from app.windows.main_window import MainWindow, create_app  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="frames measured per mode (default 600)")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--nodes", type=int, default=200)
    args = parser.parse_args()
    explanations_frames(create_app(), args.frames, args.speed, args.nodes)
    return 0


def explanations_frames(app, frames: int, speed: float, n_nodes: int) -> float:
    """Measure and print the frame times with every explanation on and with them disconnected;
    returns the p95 with them on (ms)."""
    folder = tempfile.mkdtemp()
    scenario = big_scenario(n_nodes)
    nodes = [n.model_copy(update={"mtbf_s": 3600.0, "mttr_s": 60.0}) for n in scenario.nodes]
    win = MainWindow(scenario.model_copy(update={"nodes": nodes}), None,
                     QSettings(f"{folder}/s.ini", QSettings.Format.IniFormat), Path(folder))
    win.resize(1600, 1000)
    win.show()
    win.clock.set_speed(speed)
    app.processEvents()
    win.ctrl.advance(65.0, 1300)
    explainer = win.explain.explainer
    win.explain.dock.raise_()
    explainer.set_n1(True)
    checks = 1  # the one set_n1 started
    times: dict[bool, list[float]] = {True: [], False: []}
    answered: list[int] = []  # the worker process's first answer: it has started and imported the engine
    explainer.n1_progress.connect(lambda done, _total: answered.append(done))
    warm, warm_until = 0, time.perf_counter() + 20.0
    while (warm < 60 or not any(answered)) and time.perf_counter() < warm_until:
        frame(app, win, True)
        warm += 1
    links = ((win.ctrl.stepped, explainer._on_stepped), (win.clock.framed, explainer.on_frame))
    for signal, slot in links:  # connected again for the frames that measure it
        signal.disconnect(slot)
    start = time.perf_counter()
    for k in range(2 * frames):
        on = k % 2 == 0
        if not explainer.n1_running:
            checks += 1
            explainer.start_n1()
        if on:
            for signal, slot in links:
                signal.connect(slot)
        times[on].append(frame(app, win, True) * 1e3)
        if on:
            for signal, slot in links:
                signal.disconnect(slot)
    wall = time.perf_counter() - start
    for signal, slot in links:
        signal.connect(slot)
    print(f"ScaleLab window, {n_nodes} nodes with MTBF/MTTR, speed {speed:g}x, offscreen, "
          f"{frames} frames each, N-1 check running throughout ({checks} started in {wall:.1f} s)")
    for on, label in ((True, "theory, bands, availability, N-1 on"), (False, "explanations disconnected  ")):
        print(f"  {label}: {summary(times[on])}")
    p95 = percentile(times[True], 0.95)
    print(f"  explanations cost {p95 - percentile(times[False], 0.95):+.2f} ms at p95; goal p95 < 16 ms: "
          f"{'met' if p95 < 16 else 'NOT met'}")
    explainer.set_n1(False)
    win.ask_save = lambda: None
    win.ctrl.undo_stack.setClean()
    win.close()
    return p95


if __name__ == "__main__":
    sys.exit(main())
