"""The main window's goals beside the charts: live verdicts of the run's judge and the result card.

``ChallengeDock`` reads callables given by the window (the run's ``Judge`` or None, the scenario
being run, the run as a replayable scenario, its seed): it never touches the engine itself.
``refresh`` follows the run (each tick, after a scrub or a reset). When every target's span has
ended it shows the result card over the window; the extra runs of "survive any one failure"
happen in a worker thread on a copy of the judge, so the window stays live.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QWidget

from app.panels.goals import GoalsPanel, ResultCard
from sim_core.challenge import Judge, Verdict, finish
from sim_core.scenario import Scenario

POLL_MS = 100
EXTRA_RUN_DT = 1.0  # s: the engine step of the failure runs (the same requests at any step)


class ChallengeDock(QDockWidget):
    """Goals panel in a dock (hidden for a scenario without goals) and a result card over ``host``."""

    def __init__(self, host: QWidget, judge: Callable[[], Judge | None], scenario: Callable[[], Scenario],
                 replay: Callable[[], Scenario], seed: Callable[[], int]):
        super().__init__("Goals", host)
        self.setObjectName("goals_dock")
        self.host = host
        self._judge, self._scenario, self._replay, self._seed = judge, scenario, replay, seed
        self.panel = GoalsPanel()
        self.setWidget(self.panel)
        self.card = ResultCard(host)
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None
        self._shown_for: float | None = None  # the judge time the card was shown at
        self._final: list[Verdict] | None = None  # the verdicts on the card
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._collect)
        self.reload()

    def reload(self) -> None:
        """A new document or a reset: the goals of the scenario now running, all pending."""
        self._cancel()
        self.card.hide()
        self._shown_for, self._final = None, None
        scenario = self._scenario()
        self.panel.set_challenge(scenario)
        self.setVisible(scenario.goals is not None)
        self.refresh()

    def refresh(self) -> None:
        """Show the judge's verdicts now; at the end of every span, the result card."""
        judge = self._judge()
        if judge is None:
            return
        if not judge.over:
            if self._shown_for is not None or self._pending is not None:  # scrubbed back before the end
                self._cancel()
                self.card.hide()
                self._shown_for, self._final = None, None
            self.panel.show_verdicts(judge.verdicts())
            return
        if self._final is not None:
            self.panel.show_verdicts(self._final)
            return
        self.panel.show_verdicts(judge.verdicts())
        if self._shown_for is None and self._pending is None:
            if judge.needs_extra_runs():
                frozen = copy.deepcopy(judge)
                self._pending = self._pool.submit(finish, frozen, self._replay(), self._seed(), EXTRA_RUN_DT)
                self._poll.start()
            else:
                self._show(judge.verdicts(), judge.t)

    def _collect(self) -> None:
        if self._pending is None or not self._pending.done():
            return
        self._poll.stop()
        verdicts = self._pending.result()
        self._pending = None
        judge = self._judge()
        self._show(verdicts, judge.t if judge is not None else 0.0)

    def wait(self, timeout_s: float = 300.0) -> None:
        """Block until the extra runs are done and shown (tests, screenshots)."""
        if self._pending is not None:
            self._pending.result(timeout=timeout_s)
            self._collect()

    def _show(self, verdicts: list[Verdict], t: float) -> None:
        self._shown_for, self._final = t, verdicts
        self.panel.show_verdicts(verdicts)
        self.card.show_result(self._scenario().name, verdicts)
        width, height = min(self.host.width() - 40, 760), min(self.host.height() - 40, 420)
        self.card.setGeometry((self.host.width() - width) // 2, (self.host.height() - height) // 2, width, height)
        self.card.raise_()

    def _cancel(self) -> None:
        self._poll.stop()
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def shutdown(self) -> None:
        """Stop the worker (the window is closing)."""
        self._cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.card.isVisible():
            self.card.hide()
            return
        super().keyPressEvent(event)
