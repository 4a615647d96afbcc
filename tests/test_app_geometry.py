"""Every window at 1366 x 768 and 1920 x 1080: inside the screen, readouts not overlapping, charts readable.

Each size runs ``tests/geometry_probe.py`` in its own process, on a fake offscreen screen of
that size (Qt fixes the screen when it starts), and fails with the probe's list of problems.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("geometry_probe.py")


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_every_window_fits_the_screen(size):
    result = subprocess.run([sys.executable, str(PROBE), str(size[0]), str(size[1])], capture_output=True,
                            text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    heights = report["figures"]["compare chart heights"]
    assert min(heights) >= 120



def test_a_framed_window_is_moved_inside_the_screen(qapp):
    """A 94% window centred on a 768 px screen, then framed with a 25 px title bar and border by the
    window manager, stuck out by 1 px: once painted it is moved, title bar included, inside; its
    size stays. One larger than the screen is put at the screen's top left."""
    from PySide6.QtCore import QPoint, QRect, QSize

    from app.screen import _move_inside, available

    area = available()

    class Framed:  # what a shown window reports: its frame, decorations included
        def __init__(self, top_left: QPoint, size: QSize):
            self.pos, self.client = top_left, size

        def screen(self):
            return None

        def frameGeometry(self) -> QRect:
            return QRect(self.pos, self.client + QSize(2, 25))

        def move(self, x: int, y: int) -> None:
            self.pos = QPoint(x, y)

    client = QSize(area.width() - 80, int(area.height() * 0.94))
    window = Framed(QPoint(area.x() + 40, area.y() + area.height() - client.height() - 24), client)  # 1 px over
    assert not area.contains(window.frameGeometry())
    _move_inside(window)
    assert area.contains(window.frameGeometry()) and window.pos.x() == area.x() + 40
    huge = Framed(QPoint(area.x() + 30, area.y() + 30), area.size() * 2)
    _move_inside(huge)
    assert huge.pos == area.topLeft()
