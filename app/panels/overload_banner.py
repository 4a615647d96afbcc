"""A banner above the charts that says plainly when the cluster is overloaded (issue 10).

When arrivals outpace what the nodes serve and RAM does not turn the excess away, the queue
would grow without bound; the engine then holds at most ``limits.HELD_LIMIT`` requests and
sheds the rest. The banner shows arrivals and capacity in req/s while that happens (or while
the queue is heading there), and hides once it has not for ``CLEAR_AFTER_S`` simulated seconds.
It reads the Snapshots the controller emits; the wording is shared with the CLI.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from sim_core.engine.limits import HELD_LIMIT
from sim_core.overload import banner_text

CLEAR_AFTER_S = 5.0  # simulated seconds without overload before the banner goes
EARLY_FRACTION = 0.1  # overloaded and holding this share of the limit: warn before anything is shed


class OverloadBanner(QLabel):
    """Hidden until the controller's snapshots show shedding or an unbounded queue on its way."""

    def __init__(self, ctrl, held_limit: int = HELD_LIMIT):
        super().__init__()
        self.held_limit = held_limit
        self._last_overload_t = -1.0
        self.setObjectName("overloadBanner")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAccessibleName("Overload warning")
        self.setStyleSheet("QLabel#overloadBanner { background: #fff3cd; color: #5c4400; border: 1px solid #e0b100;"
                           " border-radius: 3px; padding: 4px 8px; font-weight: bold; }")
        self.hide()
        ctrl.stepped.connect(self.on_stepped)
        ctrl.sim_reset.connect(self.clear)
        ctrl.scenario_replaced.connect(self.clear)

    @staticmethod
    def overloaded(snap, held_limit: int) -> bool:
        """Whether ``snap`` shows shedding, or arrivals above capacity with the queue heading for the limit."""
        if snap.shed > 0:
            return True
        return snap.offered > snap.capacity_rps and snap.in_system > EARLY_FRACTION * held_limit

    def on_stepped(self, snaps: list) -> None:
        for snap in snaps:
            if self.overloaded(snap, self.held_limit):
                self._last_overload_t = snap.t
                self.setText(banner_text(snap.offered, snap.capacity_rps, self.held_limit))
        if not snaps:
            return
        showing = self._last_overload_t >= 0 and snaps[-1].t - self._last_overload_t <= CLEAR_AFTER_S
        if showing == self.isHidden():
            self.setVisible(showing)

    def clear(self) -> None:
        self._last_overload_t = -1.0
        self.hide()
