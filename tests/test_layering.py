"""sim_core is the model: it must never import Qt or pyqtgraph, so it runs headless and in tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sim_core

FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "app")


def test_no_sim_core_module_imports_qt_or_the_app():
    offenders = []
    for path in Path(sim_core.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_engine_and_cli_loads_no_qt():
    code = ("import sys, sim_core.engine, sim_core.cli, sim_core.scenario; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
