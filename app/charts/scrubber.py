"""The run's time bar: a slider over the whole run to move it back to any moment, and replay.

Dragging or clicking the slider, or the keys Alt+Left / Alt+Right (1 s) and Alt+Shift+Left /
Alt+Shift+Right (10 s), move the run to that moment (``SimController.jump``); "Newest" goes back
to the newest moment. Playing from a past moment replays the run; an edit there starts a branch.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from app.controller import SimController
from app.figure_label import FigureLabel

TICKS_PER_S = 10  # the slider's resolution: 0.1 s


class Scrubber(QWidget):
    """A slider from 0 to the newest moment of the run; its handle is the moment shown."""

    def __init__(self, controller: SimController, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctrl = controller
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        caption = QLabel("Run:")
        caption.setToolTip("The whole run so far: drag to see any earlier moment, play to replay it")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("run time")
        self.slider.setToolTip("Drag to move the run back to an earlier moment (Alt+Left/Right: 1 s; "
                               "with Shift: 10 s)")
        self.slider.setPageStep(10 * TICKS_PER_S)
        self.slider.setSingleStep(TICKS_PER_S)
        self.label = FigureLabel("", "t = 00000.0 s of 00000.0 s")
        self.newest = QPushButton("Newest")
        self.newest.setToolTip("Back to the newest moment of the run")
        self.newest.clicked.connect(lambda: self.ctrl.jump(self.ctrl.head_t))
        row.addWidget(caption)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(self.newest)
        self.slider.sliderReleased.connect(self._jump_to_slider)
        self.slider.actionTriggered.connect(lambda _action: self._jump_soon())
        c = controller
        c.stepped.connect(lambda _snaps: self.refresh())
        c.sim_reset.connect(self.refresh)
        c.scenario_replaced.connect(self.refresh)
        c.timeline_changed.connect(self.refresh)
        self._pending = False
        self.refresh()

    def _jump_soon(self) -> None:
        """A click in the groove or a key moves the slider after this signal: jump once it has."""
        if not self.slider.isSliderDown():
            self._pending = True
            QTimer.singleShot(0, self._jump_to_slider)

    def _jump_to_slider(self) -> None:
        self._pending = False
        self.ctrl.jump(self.slider.value() / TICKS_PER_S)

    def step(self, seconds: float) -> None:
        """Move the run by ``seconds`` (negative: back), within 0..newest."""
        self.ctrl.jump(min(max(self.ctrl.t + seconds, 0.0), self.ctrl.head_t))

    def refresh(self) -> None:
        """Put the handle at the moment shown, the end at the newest moment."""
        if self.slider.isSliderDown() or self._pending:
            return
        t, head = self.ctrl.t, self.ctrl.head_t
        self.slider.blockSignals(True)
        self.slider.setRange(0, round(head * TICKS_PER_S))
        self.slider.setValue(round(t * TICKS_PER_S))
        self.slider.blockSignals(False)
        self.label.show_text(f"t = {t:.1f} s of {head:.1f} s")
        self.newest.setEnabled(t < head)
