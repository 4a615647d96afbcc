"""The main window's file commands: open, save, save as, save run, exports, recent files, restore.

A mixin of ``MainWindow``: it reads the window's ``ctrl`` (the document), ``settings`` and
``charts``. A bad file opens a dialog with the ScenarioError message and leaves the open scenario
as it was; every write is atomic.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSaveFile, Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QMessageBox,
)

from sim_core.safe_io import atomic_writer, shown
from sim_core.scenario import Node, Scenario, ScenarioError
from sim_core.scenario_file import dumps, load, resolve

MAX_RECENT = 8
FILTER = "ScaleLab scenario (*.json);;All files (*)"


def new_scenario() -> Scenario:
    """The scenario of File > New: one 1 CPU / 1 GB / 500 GB node."""
    return Scenario(name="untitled", nodes=[Node(name="node-1", x=320.0, y=0.0)])


class FileActions:
    """File > New, Open, Save, Save as, Save run, exports and recent files, for a ``MainWindow``."""

    def show_error(self, title: str, text: str) -> None:
        """A window-modal message that does not block the event loop (kept in ``error_box``); it replaces
        the previous one rather than stacking on it."""
        if self.error_box is not None:
            self.error_box.close()
        self.error_box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        self.error_box.setWindowModality(Qt.WindowModality.WindowModal)
        self.error_box.open()

    def ask_save(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel for unsaved changes (tests replace this method)."""
        name = self.ctrl.path.name if self.ctrl.path else self.ctrl.scenario.name
        return QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {name}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)

    def maybe_save(self) -> bool:
        """True when it is fine to drop the open scenario (saved, discarded or unchanged)."""
        if not self.ctrl.modified:
            return True
        answer = self.ask_save()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def open_scenario(self, scenario: Scenario, path: Path | None) -> bool:
        if not self.maybe_save():
            return False
        self.ctrl.replace(scenario, path)  # the clock keeps running (or paused) as it was
        self.autosaver.discard()
        if path is not None:
            self._remember(path)
        return True

    def open_path(self, path: str | Path) -> bool:
        """Open a scenario file; a bad one shows its problems and changes nothing."""
        path = Path(path)
        try:
            scenario = load(path)
        except ScenarioError as exc:
            self.show_error("Cannot open scenario",
                            f"{path.name} was not opened:\n\n{exc}\n\nThe open scenario is unchanged.")
            return False
        return self.open_scenario(scenario, path.resolve())

    def open_builtin(self, name: str) -> bool:
        try:
            scenario = resolve(name)
        except ScenarioError as exc:
            self.show_error("Cannot open scenario", str(exc))
            return False
        return self.open_scenario(scenario, None)

    def new_file(self) -> None:
        self.open_scenario(new_scenario(), None)

    def open_dialog(self) -> None:
        start = str(self.ctrl.path.parent) if self.ctrl.path else str(Path.home())
        name, _ = QFileDialog.getOpenFileName(self, "Open scenario", start, FILTER)
        if name:
            self.open_path(name)

    def save(self) -> bool:
        if self.ctrl.path is None:
            return self.save_as()
        return self.save_to(self.ctrl.path)

    def save_as(self) -> bool:
        start = str(self.ctrl.path or Path.home() / f"{self.ctrl.scenario.name}.json")
        name, _ = QFileDialog.getSaveFileName(self, "Save scenario", start, FILTER)
        return self.save_to(Path(name)) if name else False

    def _dumped(self, scenario: Callable[[], Scenario], title: str) -> str | None:
        """``scenario()`` as the text of a scenario file, or None after showing why it cannot be saved."""
        try:
            return dumps(scenario())
        except ScenarioError as exc:
            self.show_error(title, str(exc))
            return None

    def save_to(self, path: Path) -> bool:
        """Write the scenario to ``path`` atomically (``_write``); on success it becomes the open file."""
        text = self._dumped(self.ctrl.document, "Cannot save")
        if text is None or not self._write(path, text):
            return False
        self.ctrl.undo_stack.setClean()
        self.ctrl.set_path(path.resolve())
        self.autosaver.discard()
        self._remember(path.resolve())
        return True

    def _write(self, path: Path, text: str) -> bool:
        """Write ``text`` atomically as the CLI does (``sim_core.safe_io``): through symlinks, keeping
        the file's mode, refusing devices, cleaning temporary files on SIGTERM and those a killed
        save left behind."""
        try:
            with atomic_writer(path, newline="") as handle:
                handle.write(text)
        except OSError as exc:
            self.show_error("Cannot save", f"{shown(path)}: {exc.strerror or exc}")
            return False
        return True

    def export_csv(self, path: Path) -> bool:
        """The run's per-second figures as CSV: the file ``scalelab run --csv`` writes for Save run as."""
        text = io.StringIO()
        self.ctrl.export_csv(text)
        return self._write(path, text.getvalue())

    def export_png(self, path: Path) -> bool:
        """The charts as they are on screen."""
        self.finish_building()
        out = QSaveFile(str(path))
        if out.open(QSaveFile.OpenModeFlag.WriteOnly) and self.charts.grab().save(out, "PNG") and out.commit():
            return True
        self.show_error("Cannot export", f"{path}: {out.errorString()}")
        return False

    def save_run(self, path: Path) -> bool:
        """Write the run so far as a scenario file whose events are its timeline."""
        text = self._dumped(self.ctrl.run_scenario, "Cannot save the run")
        return text is not None and self._write(path, text)

    def save_run_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save run as", f"{self.ctrl.scenario.name}-run.json", FILTER)
        if name:
            self.save_run(Path(name))

    def export_csv_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export time series", f"{self.ctrl.scenario.name}.csv",
                                              "CSV (*.csv)")
        if name:
            self.export_csv(Path(name))

    def export_png_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export charts", f"{self.ctrl.scenario.name}.png", "PNG (*.png)")
        if name:
            self.export_png(Path(name))

    def _remember(self, path: Path) -> None:
        recent = [p for p in self._recent() if p != str(path)]
        self.settings.setValue("recent", [str(path), *recent][:MAX_RECENT])
        self.settings.setValue("last_file", str(path))

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for name in self._recent():
            self.recent_menu.addAction(self._action(name, lambda _=False, n=name: self.open_path(n)))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def restore(self, scenario: Scenario, source: Path | None) -> None:
        """Open autosaved work: it stays marked unsaved, with ``source`` as its file."""
        self.ctrl.replace(scenario, source)
        self.ctrl.undo_stack.resetClean()
        self._update_title()

    # comparison ---------------------------------------------------------------------------------
