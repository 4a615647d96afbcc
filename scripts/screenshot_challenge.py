"""The README's screenshot of the kiosk's challenge page, taken from the real app offscreen.

docs/screenshot-challenge.png: challenge 5 (the daily wave within budget) at 1920 × 1080, set up
with four servers and the autoscaler, part-way through its run.

    .venv/bin/python scripts/screenshot_challenge.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.windows.challenge_play import ChallengePlay  # noqa: E402
from app.windows.main_window import create_app  # noqa: E402


def main() -> int:
    app = create_app()
    page = ChallengePlay(touch=True, speed=20.0)
    page.resize(1920, 1080)
    page.show()
    page.load("challenge-5-wave-budget")
    for _ in range(3):
        page.remove_server()
    page.toggle_autoscaler()
    page.run()
    while page.ctrl.t < 95.0:  # past the first scale-ups, a node still booting
        page._tick()
        app.processEvents()
    out = ROOT / "docs" / "screenshot-challenge.png"
    page.grab().save(str(out))
    print(f"wrote {out}")
    page.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
