"""Random user actions on the real main window, offscreen: clicks, keys, edits, files, undo, resizes.

    .venv/bin/python scripts/random_actions.py [--actions 20000] [--seed 1]

Prints the number of actions of each kind, the exceptions raised (from actions or from Qt
slots) and the slowest frames; exits 1 if any exception was raised or a frame took over
MAX_FRAME_S. ``tests/test_app_random_actions.py`` runs 2,000 of them in the test suite.
Modal dialogs are closed as soon as they open (the error box is window-modal, never blocking).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget  # noqa: E402

MAX_FRAME_S = 1.0
SIZES = ((1366, 740), (1920, 1040), (1024, 700), (2400, 1300))
SCENARIOS = ("vertical-1cpu", "vertical-4cpu", "horizontal-7x1", "gain-concurrency", "gain-fault-tolerance",
             "gain-scalability")


@dataclass
class Report:
    """What a run of random actions did: counts per action, exceptions (text), frame times (s) per action."""

    counts: Counter = field(default_factory=Counter)
    exceptions: list[str] = field(default_factory=list)
    frames: list[tuple[float, str]] = field(default_factory=list)

    def slowest(self, k: int = 5) -> list[tuple[float, str]]:
        return sorted(self.frames, reverse=True)[:k]


def _node_point(win, rng) -> tuple[int, QPoint] | None:
    ids = win.ctrl.node_ids
    if not ids:
        return None
    node_id = ids[int(rng.integers(len(ids)))]
    item = win.scene.items_by_id.get(node_id)
    if item is None:
        return None
    win.view.ensureVisible(item)
    return node_id, win.view.mapFromScene(item.scenePos())


def actions(win, app, rng):
    """The action table: name -> (weight, callable)."""
    view = win.view.viewport()

    def tick():
        win.clock.set_speed(float(rng.choice([0.5, 1.0, 5.0, 20.0, 100.0])))
        win.clock.tick(float(rng.uniform(0.016, 0.1)))

    def click():
        hit = _node_point(win, rng)
        if hit:
            QTest.mouseClick(view, Qt.MouseButton.LeftButton, pos=hit[1])

    def double_click():
        hit = _node_point(win, rng)
        if hit:
            QTest.mouseDClick(view, Qt.MouseButton.LeftButton, pos=hit[1])

    def box_button():
        selected = win.scene.selected_ids()
        if selected:
            item = win.scene.items_by_id[selected[-1]]
            point = win.view.mapFromScene(item.mapToScene(item.button_rect().center()))
            QTest.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)

    def drag():
        hit = _node_point(win, rng)
        if hit:
            start = hit[1]
            QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
            QTest.mouseMove(view, start + QPoint(int(rng.integers(-80, 80)), int(rng.integers(-80, 80))))
            QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(30, 20))

    def key():
        win.view.setFocus()
        keys = (Qt.Key.Key_F, Qt.Key.Key_Space, Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_Plus, Qt.Key.Key_Minus)
        QTest.keyClick(win.view, keys[int(rng.integers(len(keys)))])

    def spin():
        spins = [*win.inspector.node_spins.values(), *win.inspector.workload_spins.values(), win.inspector.rate,
                 *win.inspector.shape_spins.values()]
        box = spins[int(rng.integers(len(spins)))]
        if box.isVisible():
            box.setFocus()
            box.selectAll()
            QTest.keyClicks(box, str(rng.choice(["1", "3", "999", "0.5", "-2", "12", "x"])))
            QTest.keyClick(box, Qt.Key.Key_Return)
            if rng.random() < 0.3:
                QTest.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    def combo():
        box = [win.inspector.policy, win.inspector.shape, win.speed][int(rng.integers(3))]
        box.setCurrentIndex(int(rng.integers(box.count())))

    def slider():
        win.inspector.rate_slider.setValue(int(rng.integers(0, 1001)))

    def trigger(action):
        return lambda: action.trigger()

    def open_builtin():
        win.open_builtin(str(rng.choice(SCENARIOS)))

    def resize():
        w, h = SIZES[int(rng.integers(len(SIZES)))]
        win.resize(w, h)

    def compare():
        win.show_compare()
        other = win.compare_window
        other.lesson.setCurrentIndex(int(rng.integers(other.lesson.count())))
        for _ in range(3):
            other.clock.tick(0.05)
        if rng.random() < 0.5:
            other.close()

    return {
        "tick": (20, tick), "click": (8, click), "double-click": (4, double_click), "box button": (4, box_button),
        "drag": (3, drag), "key": (6, key), "spin box": (8, spin), "combo": (4, combo), "slider": (3, slider),
        "add": (3, trigger(win.act_add)), "duplicate": (2, trigger(win.act_duplicate)),
        "delete": (3, trigger(win.act_delete)), "undo": (6, trigger(win.act_undo)), "redo": (3, trigger(win.act_redo)),
        "chaos mode": (2, trigger(win.act_chaos)), "inspector": (1, trigger(win.act_inspector)),
        "watch": (1, lambda: win.watch.toggle.click()), "play": (2, trigger(win.act_play)),
        "step": (2, trigger(win.act_step)), "reset": (1, trigger(win.act_reset)), "fit": (1, trigger(win.act_fit)),
        "back 10 s": (1, trigger(win.act_back_10)), "back 1 s": (1, trigger(win.act_back)),
        "newest": (1, trigger(win.act_newest)), "open": (2, open_builtin), "new": (1, trigger(win.act_new)),
        "resize": (1, resize), "compare": (0.5, compare),
    }


def close_dialogs(app: QApplication) -> int:
    """Close every message box that opened; returns how many."""
    closed = 0
    for widget in app.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            widget.close()
            closed += 1
    return closed


def run(win, app: QApplication, n_actions: int, seed: int, paint_every: int = 10, progress: bool = False) -> Report:
    """Do ``n_actions`` random actions on ``win``; exceptions in Qt slots are caught through sys.excepthook.

    The window repaints after every ``paint_every``-th action (painting all of it after each one
    is most of the cost offscreen); the paint code still runs on every state the actions reach
    in between, as updates accumulate.
    """
    rng = np.random.default_rng(seed)
    table = actions(win, app, rng)
    names = list(table)
    weights = np.array([table[n][0] for n in names], dtype=float)
    weights /= weights.sum()
    report = Report()
    previous = sys.excepthook
    sys.excepthook = lambda kind, value, tb: report.exceptions.append(
        "".join(traceback.format_exception(kind, value, tb)))
    try:
        for k in range(n_actions):
            name = names[int(rng.choice(len(names), p=weights))]
            win.setUpdatesEnabled(k % paint_every == paint_every - 1)
            start = time.perf_counter()
            if os.environ.get("SCALELAB_TRACE_ACTIONS"):
                print(name, win.ctrl.node_ids, win.scene.selected_ids(), file=sys.stderr, flush=True)
            try:
                table[name][1]()
                app.processEvents()
            except Exception:  # noqa: BLE001 - every exception is a finding
                report.exceptions.append(f"{name}: {traceback.format_exc()}")
            report.frames.append((time.perf_counter() - start, name))
            report.counts[name] += 1
            report.counts["dialogs closed"] += close_dialogs(app)
            if progress and (k + 1) % 1000 == 0:
                print(f"  {k + 1} actions: {len(report.exceptions)} exceptions, slowest "
                      f"{report.slowest(1)[0][0] * 1e3:.0f} ms ({report.slowest(1)[0][1]})", flush=True)
    finally:
        win.setUpdatesEnabled(True)
        sys.excepthook = previous
        win.clock.set_running(False)
        if win.compare_window is not None:
            win.compare_window.close()
    return report


def make_window(folder: Path):
    from app.windows.main_window import MainWindow
    from sim_core.scenario_file import resolve

    win = MainWindow(resolve("horizontal-7x1"), None, QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat),
                     folder)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    win.resize(1366, 740)
    win.show()
    return win


def main() -> int:
    import argparse

    from app.windows.main_window import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--paint-every", type=int, default=10, help="repaint after every N-th action (default 10)")
    args = parser.parse_args()
    app = create_app()
    win = make_window(Path(tempfile.mkdtemp()))
    QWidget.setFocus(win.view)
    start = time.perf_counter()
    report = run(win, app, args.actions, args.seed, args.paint_every, progress=True)
    print(f"{args.actions} random actions (seed {args.seed}) in {time.perf_counter() - start:.0f} s")
    print("  " + ", ".join(f"{name} {count}" for name, count in report.counts.most_common()))
    print(f"  exceptions: {len(report.exceptions)}")
    for text in report.exceptions[:5]:
        print(text)
    means = {name: np.mean([f for f, n in report.frames if n == name]) for name in report.counts if name in dict(
        (n, 1) for _f, n in report.frames)}
    print("  mean ms: " + ", ".join(f"{n} {m * 1e3:.0f}" for n, m in sorted(means.items(), key=lambda x: -x[1])))
    print("  slowest frames: " + ", ".join(f"{name} {s * 1e3:.0f} ms" for s, name in report.slowest()))
    win.ctrl.undo_stack.setClean()
    win.close()
    return 1 if report.exceptions or report.slowest(1)[0][0] > MAX_FRAME_S else 0


if __name__ == "__main__":
    sys.exit(main())
