"""Screenshots for the README, taken from the real app offscreen at 1366 x 768 and 1920 x 1080.

For each screen size (a fake screen of that size, so windows size themselves as on a real one):
docs/screenshot-main-WxH.png: the main window on horizontal-7x1, run for a while with node-3
failed and node-4 selected; docs/screenshot-compare-WxH.png: the comparison view on the
fault-tolerance lesson; docs/screenshot-kiosk-WxH.png: kiosk mode (fullscreen) on that lesson.

    .venv/bin/python scripts/screenshots.py            # both sizes, one process each
    .venv/bin/python scripts/screenshots.py 1366 768   # one size
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = ((1366, 768), (1920, 1080))
FRAME_S = 1 / 60


def fake_screen(width: int, height: int) -> None:
    """Qt's offscreen platform with one screen of ``width`` x ``height`` (before Qt starts)."""
    config = Path(tempfile.mkdtemp()) / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "shot", "x": 0, "y": 0, "width": width, "height": height,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def run(app, clock, sim_seconds: float) -> None:
    """Tick ``clock`` as its timer would until ``sim_seconds`` more have been simulated."""
    clock.BUDGET_S = 1.0  # a loaded machine must not drop simulated time from the pictures
    frames = round(sim_seconds / clock.speed / FRAME_S)
    for _ in range(frames):
        clock.tick(FRAME_S)
        app.processEvents()


def shoot(width: int, height: int) -> list[Path]:
    fake_screen(width, height)
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings

    from app.windows.compare import CompareWindow
    from app.windows.kiosk import KioskWindow
    from app.windows.main_window import MainWindow, create_app
    from sim_core.scenario_file import resolve

    app = create_app()
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    folder = tempfile.mkdtemp()
    size = f"{width}x{height}"
    win = MainWindow(resolve("horizontal-7x1"), None, QSettings(f"{folder}/s.ini", QSettings.Format.IniFormat),
                     Path(folder))
    win.show()
    app.processEvents()
    win.view.fit()
    win.clock.set_speed(5.0)
    run(app, win.clock, 25.0)
    win.ctrl.toggle_node(win.ctrl.id_by_name("node-3"))  # as its Fail button does
    run(app, win.clock, 12.0)
    win.clock.set_speed(1.0)
    run(app, win.clock, 1.0)  # dots in flight at real-time spacing
    win.scene.select_only(win.ctrl.id_by_name("node-4"))
    app.processEvents()
    shots = [out / f"screenshot-main-{size}.png", out / f"screenshot-compare-{size}.png",
             out / f"screenshot-kiosk-{size}.png"]
    win.grab().save(str(shots[0]))

    compare = CompareWindow()
    compare.show_placed()
    compare.lesson.setCurrentIndex(3)  # fault tolerance: a server fails at 30 s
    app.processEvents()
    compare.clock.set_speed(10.0)
    run(app, compare.clock, 45.0)
    compare.clock.set_speed(1.0)
    run(app, compare.clock, 0.5)
    compare.grab().save(str(shots[1]))

    kiosk = KioskWindow()
    kiosk.start()
    kiosk.clock.set_running(False)  # the screenshot ticks it
    kiosk.show_lesson(3)
    app.processEvents()
    kiosk.clock.set_speed(10.0)
    run(app, kiosk.clock, 42.0)
    kiosk.clock.set_speed(1.0)
    run(app, kiosk.clock, 0.5)
    kiosk.grab().save(str(shots[2]))
    win.ctrl.undo_stack.setClean()
    win.close()
    compare.close()
    kiosk.staff_exit()
    return shots


def main(args: list[str]) -> int:
    if args:
        for path in shoot(int(args[0]), int(args[1])):
            print(f"wrote {path}")
        return 0
    for width, height in SIZES:  # one process per screen size: Qt fixes the screen when it starts
        subprocess.run([sys.executable, __file__, str(width), str(height)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
