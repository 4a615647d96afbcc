"""The layers: import-linter's contracts (pyproject.toml) hold, and they do catch a breach."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "app")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` on the project at ``root`` with its pyproject.toml contracts."""
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--config", str(root / "pyproject.toml")], cwd=root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(root), "PATH": str(exe.parent)}, timeout=120)


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_the_contracts_fail_when_sim_core_imports_qt_or_the_engine_imports_the_session(tmp_path):
    for folder in ("app", "sim_core"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "sim_core" / "bad.py").write_text("from PySide6 import QtCore\n")
    engine = tmp_path / "sim_core" / "engine" / "simulation.py"
    engine.write_text(engine.read_text() + "\nfrom sim_core import session  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "sim_core is headless: no Qt, no pyqtgraph, no app BROKEN" in result.stdout
    assert "app -> session -> metrics -> engine BROKEN" in result.stdout


def test_importing_the_engine_and_cli_loads_no_qt():
    # the contracts check import statements; this checks what a headless run really loads
    code = ("import sys, sim_core.engine.simulation, sim_core.cli, sim_core.scenario, sim_core.session, "
            "sim_core.sweep.command, "
            "sim_core.sweep.runner, sim_core.sweep.plot, sim_core.sweep.results, sim_core.sweep.background; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
