"""Screenshots for the README, taken from the real app offscreen.

docs/screenshot-main.png: the main window on horizontal-7x1, run for a while with one node
failed; docs/screenshot-compare.png: the comparison view on the fault-tolerance lesson;
docs/screenshot-kiosk.png: kiosk mode at 1920 × 1080 on the same lesson.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402

from app.compare import CompareWindow  # noqa: E402
from app.kiosk import KioskWindow  # noqa: E402
from app.window import MainWindow, create_app  # noqa: E402
from sim_core.scenario import resolve  # noqa: E402

FRAME_S = 1 / 60


def run(app, clock, sim_seconds: float) -> None:
    """Tick ``clock`` as its timer would until ``sim_seconds`` more have been simulated."""
    frames = round(sim_seconds / clock.speed / FRAME_S)
    for _ in range(frames):
        clock.tick(FRAME_S)
        app.processEvents()


def main() -> int:
    app = create_app()
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    folder = tempfile.mkdtemp()
    win = MainWindow(resolve("horizontal-7x1"), None, QSettings(f"{folder}/s.ini", QSettings.Format.IniFormat),
                     Path(folder))
    win.resize(1600, 980)
    win.show()
    app.processEvents()
    win.view.fit()
    win.clock.set_speed(5.0)
    run(app, win.clock, 25.0)
    node3 = win.ctrl.id_by_name("node-3")
    win.ctrl.toggle_node(node3)  # as a click on it does
    run(app, win.clock, 12.0)
    win.clock.set_speed(1.0)
    run(app, win.clock, 1.0)  # dots in flight at real-time spacing
    win.scene.select_only(win.ctrl.id_by_name("node-4"))
    app.processEvents()
    win.grab().save(str(out / "screenshot-main.png"))

    compare = CompareWindow()
    compare.resize(1600, 1000)
    compare.show()
    compare.lesson.setCurrentIndex(3)  # fault tolerance: a server fails at 30 s
    app.processEvents()
    compare.clock.set_speed(10.0)
    run(app, compare.clock, 45.0)
    compare.clock.set_speed(1.0)
    run(app, compare.clock, 0.5)
    compare.grab().save(str(out / "screenshot-compare.png"))

    kiosk = KioskWindow()
    kiosk.resize(1920, 1080)  # a common exhibit screen (fullscreen offscreen would be the fake screen's size)
    kiosk.show()
    kiosk.show_lesson(3)
    app.processEvents()
    kiosk.clock.set_speed(10.0)
    run(app, kiosk.clock, 42.0)
    kiosk.clock.set_speed(1.0)
    run(app, kiosk.clock, 0.5)
    kiosk.grab().save(str(out / "screenshot-kiosk.png"))
    print(f"wrote {out / 'screenshot-main.png'}, {out / 'screenshot-compare.png'} and {out / 'screenshot-kiosk.png'}")
    win.ctrl.undo_stack.setClean()
    win.close()
    compare.close()
    kiosk.staff_exit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
