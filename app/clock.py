"""The clock of a window: one QTimer that steps its controllers together at a chosen speed."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from app.controller import STEP_S, SimController

MAX_STEPS_PER_TICK = 4  # above this, steps get longer rather than more numerous
SPEEDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)  # x real time


class SimClock(QObject):
    """One QTimer that advances its controllers together at ``speed`` x real time.

    Each tick turns the wall time since the last tick (at most ``MAX_WALL_S``, so a stall is
    dropped, not caught up) into simulated seconds, runs up to MAX_STEPS_PER_TICK engine steps
    per controller within ``budget_s`` of wall time, and drops whatever time did not fit. Then
    ``framed`` lets the views draw: steps run by a tick (``in_frame`` set on the controller) may be
    drawn over the next frames, a share each, so that no frame carries every view's redraw. A frame
    has one costly share: ``frame_busy`` on the controller says it is taken (by the steps, or by the
    view that drew first), and the other views leave theirs for the next frame, unless they left it
    in the frame before (at high speed every frame runs steps).
    """

    ticked = Signal(float)  # wall seconds since the last tick, while running (animations)
    framed = Signal(float)  # at the end of every tick, steps or not: views draw their share of this frame
    running_changed = Signal(bool)
    speed_changed = Signal(float)
    INTERVAL_MS = 16
    MAX_WALL_S = 0.1
    BUDGET_S = 0.008

    def __init__(self, controllers: list[SimController], parent: QObject | None = None):
        super().__init__(parent)
        self.controllers = list(controllers)
        self.speed = 1.0
        self.dropped_s = 0.0  # simulated seconds skipped because ticks ran over budget
        self._carry = 0.0
        self._last: float | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(self.INTERVAL_MS)
        self.timer.timeout.connect(self.tick)

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def set_running(self, running: bool) -> None:
        if running == self.running:
            return
        if running:
            self._last = None
            self.timer.start()
        else:
            self.timer.stop()
        self.running_changed.emit(running)

    def set_speed(self, speed: float) -> None:
        """Simulated seconds per wall second, 0.25..100."""
        speed = float(min(max(speed, SPEEDS[0]), SPEEDS[-1]))
        if speed != self.speed:
            self.speed = speed
            self.speed_changed.emit(speed)

    def tick(self, wall_s: float | None = None) -> None:
        """Advance by the wall time since the last tick (or ``wall_s``, for tests and benchmarks)."""
        now = time.perf_counter()
        if wall_s is None:
            wall_s = 0.0 if self._last is None else now - self._last
        self._last = now
        wall_s = min(wall_s, self.MAX_WALL_S)
        self.ticked.emit(wall_s)
        sim_s = self._carry + wall_s * self.speed
        steps = int(sim_s / STEP_S)
        if steps == 0:
            self._carry = sim_s
        else:
            self._carry = 0.0
            steps = min(steps, MAX_STEPS_PER_TICK)
            for ctrl in self.controllers:
                ctrl.in_frame = True
            try:  # the first controller runs what fits in the budget; the others follow in lockstep
                done = self.controllers[0].advance(sim_s, steps, now + self.BUDGET_S)
                for ctrl in self.controllers[1:]:
                    ctrl.advance(sim_s * done / steps, done)
            finally:
                for ctrl in self.controllers:
                    ctrl.in_frame = False
                    ctrl.frame_busy = done > 0
            self.dropped_s += sim_s * (steps - done) / steps
        self.framed.emit(wall_s)
        for ctrl in self.controllers:
            ctrl.frame_busy = False  # outside a frame nothing is busy

    def frame_without_steps(self, wall_s: float) -> None:
        """A frame whose tick ran no engine step (most frames at 1x), for tests and benchmarks: the
        dots move ``wall_s`` seconds on and the views draw their share, as in ``tick``."""
        self.ticked.emit(wall_s)
        self.framed.emit(wall_s)
        for ctrl in self.controllers:
            ctrl.frame_busy = False
