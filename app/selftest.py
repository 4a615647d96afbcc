"""``scalelab --selftest``: does this install (or packaged executable) work? One line per check.

Checks, in order: the built-in scenarios are there and load; Qt has at least one font that
draws text; the main window opens and paints; simulated time advances while the window runs for
2 s of wall time; the kiosk window opens. Prints which form of the kernel runs (compiled ahead of
time, numba JIT, pure Python) and one pass line; returns 1 if any check failed. Nothing of the
user's is touched: settings and autosave go to a temporary folder.

Also ``install_first_frame_probe``: with ``SCALELAB_FIRST_FRAME_PROBE=1`` the app prints
``first-frame <time.monotonic()> numba-imported=<bool> kernel=<form or None>`` once its main window's
first frame is painted, and exits at once
(``benchmarks/startup.py`` measures start-up with it).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RUN_WALL_S = 2.0  # wall seconds the main window's clock runs
MIN_SIM_ADVANCE_S = 0.1  # simulated seconds it must advance in that time (about 2 at 1x on an idle machine;
#                          a loaded one drops ticks, a stuck clock or a broken kernel stays at 0)


class _Checks:
    """Runs checks, printing ``ok``/``FAIL`` and a detail for each; a raised exception is a failure."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.count = 0

    def run(self, name: str, check: Callable[[], str]) -> None:
        self.count += 1
        t = time.monotonic()
        try:
            detail = check()
        except Exception as exc:  # noqa: BLE001 - any error is this check's failure, reported in one line
            self.failed.append(name)
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
            return
        print(f"ok   {name}: {detail} [{time.monotonic() - t:.1f} s]", flush=True)


def _process_events_for(seconds: float) -> None:
    from PySide6.QtCore import QCoreApplication, QEventLoop

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)


def _distinct_colours(widget) -> int:
    """How many distinct colours a rendering of ``widget`` has, sampled on a 40 x 40 grid."""
    image = widget.grab().toImage()
    if image.isNull():
        return 0
    w, h = image.width(), image.height()
    return len({image.pixel(x * w // 40, y * h // 40) for x in range(40) for y in range(40)})


def check_scenarios() -> str:
    from sim_core.scenario_file import BUILTIN_DIR, DEFAULT_SCENARIO, builtin_names, resolve

    names = builtin_names()
    if DEFAULT_SCENARIO not in names:
        raise RuntimeError(f"default scenario {DEFAULT_SCENARIO!r} missing from {BUILTIN_DIR}")
    for name in names:
        resolve(name)  # raises ScenarioError naming the field
    return f"{len(names)} built-in scenarios load from {BUILTIN_DIR}"


def check_fonts() -> str:
    """Qt has a font, and it draws real glyphs: with no font, every character is the same empty box."""
    from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics

    families = QFontDatabase.families()
    if not families:
        raise RuntimeError("Qt found no fonts: every label would be drawn as empty boxes (install a font "
                           "package, e.g. fonts-dejavu-core)")
    metrics = QFontMetrics(QFont())
    missing = [c for c in "ScaleLab 0123456789" if not metrics.inFont(c)]
    if missing or metrics.horizontalAdvance("iiii") == metrics.horizontalAdvance("WWWW"):
        raise RuntimeError(f"the default font {QFont().family()!r} has no glyphs for {''.join(missing)!r}: labels "
                           "would be drawn as boxes (install a font package, e.g. fonts-dejavu-core)")
    return f"{len(families)} font families ({', '.join(families[:3])}...), default {QFont().family()!r}"


def main(args: list[str]) -> int:
    """Run every check; return 0 when all pass, 1 otherwise."""
    t_start = time.monotonic()
    checks = _Checks()
    checks.run("scenarios", check_scenarios)
    scratch = Path(tempfile.mkdtemp(prefix="scalelab-selftest-"))
    state: dict[str, object] = {}

    def qt_loads() -> str:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        from app.windows.main_window import create_app  # the whole UI, pyqtgraph included

        state["app"] = app = create_app()
        return f"PySide6 {pyside_version}, Qt {qVersion()}, platform {app.platformName()}"

    checks.run("Qt and the UI load", qt_loads)
    if "app" not in state:
        return _verdict(checks, t_start)
    checks.run("fonts", check_fonts)

    def main_window() -> str:
        from PySide6.QtCore import QSettings

        from app.windows.main_window import MainWindow
        from sim_core.scenario_file import DEFAULT_SCENARIO, resolve

        settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
        state["window"] = window = MainWindow(resolve(DEFAULT_SCENARIO), None, settings, autosave_folder=scratch)
        window.resize(1366, 768)
        window.show()
        _process_events_for(0.3)
        colours = _distinct_colours(window)
        if not window.isVisible() or colours < 8:
            raise RuntimeError(f"visible={window.isVisible()}, {colours} distinct colours painted")
        return f"{window.width()}x{window.height()}, {colours} distinct colours painted"

    checks.run("main window paints", main_window)

    def kernel_form() -> str:
        from sim_core.engine import kernel

        t = time.monotonic()
        kernel.warm_up()
        return f"{kernel.describe()}, ready in {time.monotonic() - t:.2f} s"

    checks.run("kernel", kernel_form)

    def time_advances() -> str:
        window = state.get("window")
        if window is None:
            raise RuntimeError("no main window")
        last: list = []
        window.ctrl.stepped.connect(lambda snaps: last.extend(snaps[-1:]))
        window.clock.set_running(True)
        _process_events_for(RUN_WALL_S)
        window.clock.set_running(False)
        t_sim = last[-1].t if last else 0.0
        if t_sim < MIN_SIM_ADVANCE_S:
            raise RuntimeError(f"simulated time reached {t_sim:.2f} s in {RUN_WALL_S:.0f} s (need >= "
                               f"{MIN_SIM_ADVANCE_S:.1f} s)")
        return f"{t_sim:.2f} simulated s in {RUN_WALL_S:.0f} wall s, {last[-1].served_total} requests served"

    checks.run("simulated time advances", time_advances)
    window = state.get("window")
    if window is not None:
        window.autosaver.discard()
        window.ctrl.undo_stack.setClean()
        window.close()

    def kiosk() -> str:
        from app.windows.kiosk import start_kiosk

        kiosk_window = start_kiosk([])
        try:
            _process_events_for(0.5)
            colours = _distinct_colours(kiosk_window)
            if not kiosk_window.isVisible() or colours < 8:
                raise RuntimeError(f"visible={kiosk_window.isVisible()}, {colours} distinct colours painted")
            return f"{kiosk_window.width()}x{kiosk_window.height()}, {colours} distinct colours painted"
        finally:
            kiosk_window.staff_exit()

    checks.run("kiosk window opens", kiosk)
    state["app"].processEvents()
    return _verdict(checks, t_start)


def _verdict(checks: _Checks, t_start: float) -> int:
    """Print the pass line (or the failed checks); the exit code."""
    frozen = "packaged executable" if getattr(sys, "frozen", False) else "from source"
    if checks.failed:
        print(f"selftest FAILED ({frozen}): {len(checks.failed)} of {checks.count} checks: {', '.join(checks.failed)}")
        return 1
    print(f"selftest passed ({frozen}): {checks.count} checks in {time.monotonic() - t_start:.1f} s")
    return 0


def install_first_frame_probe() -> None:
    """Make the QApplication report the main window's first painted frame on stdout, then quit.

    The frame counts as painted when the outermost event during which the window painted has
    been handled (Qt paints every widget and flushes the window inside that one event).
    """
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

    class ProbeApplication(QApplication):
        depth = 0
        painted = False

        def notify(self, receiver, event):  # noqa: N802 - Qt override
            self.depth += 1
            try:
                if (event.type() == QEvent.Type.Paint and isinstance(receiver, QWidget)
                        and isinstance(receiver.window(), QMainWindow)):
                    self.painted = True
                return super().notify(receiver, event)
            finally:
                self.depth -= 1
                if self.painted and self.depth == 0:
                    kernel = sys.modules.get("sim_core.engine.kernel")
                    print(f"first-frame {time.monotonic():.6f} numba-imported={'numba' in sys.modules} "
                          f"pyqtgraph-imported={'pyqtgraph' in sys.modules} "
                          f"kernel={getattr(kernel, 'kind', None)}", flush=True)
                    os._exit(0)  # the measurement is taken: skip the event loop and the teardown

    global _probe_app
    _probe_app = ProbeApplication([sys.argv[0]])


_probe_app = None
