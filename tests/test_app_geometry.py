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
