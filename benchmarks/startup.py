"""Start-up to the first painted frame, and the executables' sizes, against the goals of issue 9.

Run: ``.venv/bin/python benchmarks/startup.py`` (builds nothing: build the bundles first with
``pyinstaller --noconfirm scalelab.spec``; a missing one is reported and skipped).

Each target is started ``--runs`` times (median printed, with min and max) after one discarded
start that warms the disk cache and Python's bytecode cache. The bytecode goes to a temporary
folder (``PYTHONPYCACHEPREFIX``), even where the environment sets ``PYTHONDONTWRITEBYTECODE``: a
user's Python keeps the compiled modules, so only the very first start compiles them (about
0.5 CPU-seconds for ScaleLab's own modules). Each start runs with ``SCALELAB_FIRST_FRAME_PROBE=1``
and prints the ``time.monotonic()`` at which its main window's first frame was painted (see
``app.selftest``), against the monotonic time taken just before the process was spawned. The
same figure for an empty Qt main window with one label, measured in the same run, is the floor
of this machine at this moment: on a shared machine the figures move by 2x or more with the
load, so compare with it. Also printed: the median CPU seconds (user + system) the processes
spent up to the frame, which the load inflates much less than wall time; on an idle machine the
wall time is close to it.
Qt runs on ``$DISPLAY`` when there is one, else offscreen. User settings are not touched.
Each figure is printed against its goal: ``met`` or ``MISSED``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no CPU figure
    resource = None

REPO = Path(__file__).resolve().parent.parent
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
GOALS_S = {"source": 1.0, "one-folder": 1.0, "one-file": 2.5}
GOALS_MB = {"one-folder": 250.0, "one-file": 100.0}

EMPTY_WINDOW = """
from app.selftest import install_first_frame_probe
install_first_frame_probe()
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
window = QMainWindow()
window.setCentralWidget(QLabel("ScaleLab"))
window.resize(1366, 768)
window.show()
QApplication.instance().exec()
"""


def cpu_of_children() -> float:
    """User + system CPU seconds of all waited-for child processes so far (0 where unavailable)."""
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def first_frame(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds from spawning ``command`` to its first painted frame, the CPU seconds its processes
    used (the one-file build's unpacking parent included; it exits right after the frame), and what
    the probe reported."""
    cpu0 = cpu_of_children()
    t0 = time.monotonic()
    done = subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        if line.startswith("first-frame "):
            fields = line.split()
            return float(fields[1]) - t0, cpu_of_children() - cpu0, " ".join(fields[2:])
    raise RuntimeError(f"{command[0]} printed no first frame (exit {done.returncode}): {done.stderr[-500:]}")


def verdict(value: float, goal: float | None, unit: str) -> str:
    """``< 1.0 s: met`` or ``< 1.0 s: MISSED`` (empty without a goal)."""
    if goal is None:
        return ""
    return f"< {goal:g}{unit}: " + ("met" if value < goal else "MISSED")


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured starts per target (default 5)")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="PyInstaller's output folder")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="scalelab-startup-"))
    env = dict(os.environ, SCALELAB_FIRST_FRAME_PROBE="1", HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(home / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    targets = {
        "empty Qt window (reference)": [sys.executable, "-c", EMPTY_WINDOW],
        "source": [sys.executable, "-m", "app"],
        "one-folder": [str(args.dist / "scalelab" / f"scalelab{EXE_SUFFIX}")],
        "one-file": [str(args.dist / f"scalelab-onefile{EXE_SUFFIX}")],
    }
    print(f"First painted frame, median of {args.runs} starts after one discarded (Qt platform "
          f"{env.get('QT_QPA_PLATFORM', 'from $DISPLAY')}); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores at the start.\n")
    print(f"{'target':30} {'median':>7} {'min':>6} {'max':>6}  {'goal':>15}  {'CPU s':>6}  at the first frame")
    for name, command in targets.items():
        if not Path(command[0]).exists():
            print(f"{name:30} not built ({command[0]}): pyinstaller --noconfirm scalelab.spec")
            continue
        first_frame(command, env)
        times, cpus, note = [], [], ""
        for _ in range(args.runs):
            seconds, cpu, note = first_frame(command, env)
            times.append(seconds)
            cpus.append(cpu)
        median = statistics.median(times)
        goal = GOALS_S.get(name)
        print(f"{name:30} {median:6.2f}s {min(times):5.2f}s {max(times):5.2f}s  {verdict(median, goal, 's'):>15}  "
              f"{statistics.median(cpus):6.2f}  {note}")

    print(f"\n{'size':30} {'MB':>7} {'MiB':>6}  {'goal':>15}")
    sized = {"one-folder": args.dist / "scalelab", "one-file": args.dist / f"scalelab-onefile{EXE_SUFFIX}"}
    for name, path in sized.items():
        if not path.exists():
            print(f"{name:30} not built")
            continue
        mb = folder_mb(path) if path.is_dir() else path.stat().st_size / 1e6
        print(f"{name:30} {mb:7.0f} {mb * 1e6 / 2**20:6.0f}  {verdict(mb, GOALS_MB[name], ' MB'):>15}")


if __name__ == "__main__":
    main()
