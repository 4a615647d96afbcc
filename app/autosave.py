"""Autosave: the open scenario is written every minute while it has unsaved changes.

The file lives in the application's data folder (QStandardPaths.AppDataLocation) and is
removed on a clean exit or a save, so finding it at start-up means the last session crashed
with unsaved work; ``pending`` reads it back for the window to offer.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, QSaveFile, QStandardPaths, QTimer

from app.controller import SimController
from sim_core.scenario import Scenario, ScenarioError
from sim_core.scenario_file import validate_data

INTERVAL_MS = 60_000
FILE_NAME = "autosave.json"


def autosave_dir() -> Path:
    """The folder of the autosave file (created if missing)."""
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pending(folder: Path | None = None) -> tuple[Scenario, Path | None] | None:
    """The scenario left by a session that did not exit cleanly, and the file it came from; None if none."""
    path = (folder or autosave_dir()) / FILE_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        source = Path(data["source"]) if data.get("source") else None
        return validate_data(data["scenario"]), source
    except (OSError, ValueError, KeyError, TypeError, ScenarioError):
        return None  # an unreadable autosave is no work to restore


def discard(folder: Path | None = None) -> None:
    """Remove the autosave file (after a clean exit, a save, or a restore the user declined)."""
    (folder or autosave_dir()).joinpath(FILE_NAME).unlink(missing_ok=True)


class Autosaver(QObject):
    """Every ``INTERVAL_MS`` writes the controller's scenario to the autosave file if it has unsaved changes."""

    def __init__(self, controller: SimController, folder: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.ctrl = controller
        self.folder = folder or autosave_dir()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    @property
    def path(self) -> Path:
        return self.folder / FILE_NAME

    def save_now(self) -> bool:
        """Write the autosave if there are unsaved changes; returns whether a file was written."""
        if not self.ctrl.modified:
            return False
        try:
            scenario = self.ctrl.document()
        except ScenarioError:
            return False
        source = str(self.ctrl.path) if self.ctrl.path else None
        text = json.dumps({"source": source, "scenario": scenario.model_dump(mode="json")}, indent=1)
        out = QSaveFile(str(self.path))
        if not out.open(QSaveFile.OpenModeFlag.WriteOnly):
            return False
        out.write(text.encode("utf-8"))
        return out.commit()

    def discard(self) -> None:
        discard(self.folder)
