"""Qt tests run without a display: the offscreen platform is chosen before Qt is imported."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# ``pytest --hypothesis-profile fuzz-10k tests/test_fuzz_input.py``: the hostile-input fuzz at 10,000 cases
settings.register_profile("fuzz-10k", max_examples=10_000, deadline=None)


@pytest.fixture
def qt_settings(tmp_path, qapp):
    """QSettings and QStandardPaths isolated in a temporary folder for one test."""
    from PySide6.QtCore import QSettings, QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    qapp.setOrganizationName("ScaleLabTest")
    qapp.setApplicationName("ScaleLabTest")
    return QSettings(str(tmp_path / "settings" / "scalelab.ini"), QSettings.Format.IniFormat)


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    """A modal question would hang an offscreen test: fail instead."""
    from PySide6.QtWidgets import QMessageBox

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected modal dialog: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", refuse)


@pytest.fixture(scope="session")
def aot_kernel():
    """The kernel library compiled ahead of time, built once (about 15-25 s) if missing or stale.

    Skips when numba's pycc or a C compiler is not available (a developer machine without gcc).
    """
    from sim_core.engine import kernel

    try:
        kernel._load_aot()
    except ImportError:
        try:
            from sim_core.engine.kernel_build import build

            build()
        except Exception as exc:  # noqa: BLE001 - distutils raises its own error types
            pytest.skip(f"cannot compile the kernel ahead of time here: {exc}")
    return kernel._load_aot()


@pytest.fixture
def window(qtbot, qt_settings, tmp_path):
    """The main window on the default scenario, shown; unsaved work is discarded at close."""
    from PySide6.QtWidgets import QMessageBox

    from app.windows.main_window import MainWindow
    from sim_core.scenario_file import resolve

    win = MainWindow(resolve("horizontal-7x1"), None, qt_settings, tmp_path / "autosave")
    (tmp_path / "autosave").mkdir(exist_ok=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.ask_save = lambda: QMessageBox.StandardButton.Discard
    return win
