"""The README's What-if screenshot, from the real app and a real local Dask cluster.

docs/screenshot-whatif.png: the What-if dialog on horizontal-7x1 after a sweep of 1..10 nodes
x 1, 2, 4 cores (30 s runs, 2 replications, p99 <= 500 ms, availability >= 99.5%).

    .venv/bin/python scripts/screenshot_whatif.py [--show]   (--show: stay open, for a look under X)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "--show" not in sys.argv:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402

from app.windows.main_window import MainWindow, create_app  # noqa: E402
from sim_core.scenario_file import resolve  # noqa: E402


def main() -> int:
    app = create_app()
    folder = tempfile.mkdtemp()
    win = MainWindow(resolve("horizontal-7x1"), None, QSettings(f"{folder}/s.ini", QSettings.Format.IniFormat),
                     Path(folder))
    win.show()
    win.act_whatif.trigger()
    dialog = win.whatif_dialog
    dialog.value_edits[0].setText("1-10")
    dialog.value_edits[1].setText("1, 2, 4")
    dialog.seconds.setValue(30)
    dialog.replications.setValue(2)
    dialog.run()
    deadline = time.monotonic() + 600
    while dialog.sweeper.state().busy and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    print(dialog.status.text())
    out = ROOT / "docs" / "screenshot-whatif.png"
    dialog.grab().save(str(out))
    print(f"wrote {out}")
    if "--show" in sys.argv:
        return app.exec()
    dialog.close()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
