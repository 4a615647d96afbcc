"""A challenge's goals beside the charts, each with its live verdict, and the result card at the end.

Both only show ``sim_core.challenge.Verdict`` lists given to them (the run's judge, read through
the controller); they compute nothing. ``touch=True`` draws them large for the kiosk.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from sim_core.challenge import FAILED, MET, PENDING, Verdict, all_met
from sim_core.scenario import Scenario

BADGE = {  # status -> (text, background, foreground)
    PENDING: ("…", "#e6e9ee", "#4a5563"),
    MET: ("✓ met", "#2e9d4f", "white"),
    FAILED: ("✗ failed", "#d32f2f", "white"),
}


def badge_style(status: str, point_size: int) -> str:
    _, background, foreground = BADGE[status]
    return (f"QLabel {{ background: {background}; color: {foreground}; border-radius: 6px; padding: 2px 8px;"
            f" font-weight: 600; font-size: {point_size}pt; }}")


class GoalRow:
    """One target: a status badge, what it asks, and the measured figure."""

    def __init__(self, grid: QGridLayout, row: int, point_size: int):
        self.point_size = point_size
        self.badge = QLabel()
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setMinimumWidth(point_size * 7)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setStyleSheet(f"font-size: {point_size}pt;")
        self.figure = QLabel()
        self.figure.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.figure.setStyleSheet(f"font-size: {point_size}pt; font-weight: 600;")
        grid.addWidget(self.badge, row, 0)
        grid.addWidget(self.text, row, 1)
        grid.addWidget(self.figure, row, 2)
        self.status = ""

    def show(self, verdict: Verdict) -> None:
        if verdict.status != self.status:
            self.status = verdict.status
            self.badge.setText(BADGE[verdict.status][0])
            self.badge.setStyleSheet(badge_style(verdict.status, self.point_size))
        self.text.setText(verdict.text + (f" ({verdict.detail})" if verdict.detail else ""))
        self.figure.setText(verdict.figure())

    def widgets(self) -> list[QWidget]:
        return [self.badge, self.text, self.figure]


class GoalsPanel(QFrame):
    """The challenge's title, hint and targets with their live verdicts; hidden for a plain scenario."""

    def __init__(self, parent: QWidget | None = None, touch: bool = False):
        super().__init__(parent)
        self.setObjectName("goals")
        self.point_size = 16 if touch else 10
        self.setStyleSheet("QFrame#goals { background: #f7f9fc; border: 1px solid #d5dbe3; border-radius: 8px; }")
        layout = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setStyleSheet(f"font-size: {self.point_size + 3}pt; font-weight: 700;")
        self.summary = QLabel()
        self.summary.setStyleSheet(f"font-size: {self.point_size}pt; color: #4a5563;")
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"font-size: {self.point_size - 1}pt; color: #4a5563; font-style: italic;")
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addLayout(self.grid)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self.rows: list[GoalRow] = []
        self.set_challenge(None)

    def set_challenge(self, scenario: Scenario | None) -> None:
        """Show ``scenario``'s goals (pending), or hide the panel when it has none."""
        for row in self.rows:
            for widget in row.widgets():
                self.grid.removeWidget(widget)
                widget.setParent(None)  # at once: a deferred delete would paint over the new rows
        self.rows = []
        goals = None if scenario is None else scenario.goals
        self.setVisible(goals is not None)
        if goals is None:
            return
        self.title.setText(f"Challenge: {scenario.name}")
        self.hint.setText(f"Hint: {goals.hint}" if goals.hint else "")
        self.hint.setVisible(bool(goals.hint))
        self.rows = [GoalRow(self.grid, i, self.point_size) for i in range(len(goals.targets))]
        self.summary.setText(f"{len(goals.targets)} goals; allowed: {', '.join(goals.allowed) or 'nothing'}"
                             + (f"; budget {goals.budget_per_hour:.4f} $/h" if goals.budget_per_hour else ""))

    def show_verdicts(self, verdicts: list[Verdict]) -> None:
        """Update every row (one Verdict per target, in order)."""
        for row, verdict in zip(self.rows, verdicts, strict=False):
            row.show(verdict)
        met = sum(v.status == MET for v in verdicts)
        failed = sum(v.status == FAILED for v in verdicts)
        self.summary.setText(f"{met} of {len(verdicts)} met" + (f", {failed} failed" if failed else ""))

    def statuses(self) -> list[str]:
        return [row.status for row in self.rows]


class ResultCard(QFrame):
    """The verdict at the end of a challenge: passed or not, every target, and Try again / Close."""

    try_again = Signal()
    closed = Signal()

    def __init__(self, parent: QWidget | None = None, touch: bool = False):
        super().__init__(parent)
        self.setObjectName("result")
        self.point_size = 18 if touch else 11
        self.setStyleSheet("QFrame#result { background: white; border: 3px solid #5b7fa6; border-radius: 14px; }")
        layout = QVBoxLayout(self)
        self.headline = QLabel()
        self.headline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel()
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet(f"font-size: {self.point_size}pt; color: #4a5563;")
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        buttons = QHBoxLayout()
        self.again = QPushButton("Try again")
        self.close_button = QPushButton("Close")
        for button in (self.again, self.close_button):
            button.setMinimumHeight(self.point_size * 4)
            button.setStyleSheet(f"font-size: {self.point_size}pt; padding: 4px 18px;")
            buttons.addWidget(button)
        self.again.clicked.connect(self.try_again.emit)
        self.close_button.clicked.connect(self._close)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        layout.addLayout(self.grid)
        layout.addLayout(buttons)
        self.rows: list[GoalRow] = []
        self.passed = False
        self.hide()

    def show_result(self, name: str, verdicts: list[Verdict]) -> None:
        """Fill the card with the final ``verdicts`` of challenge ``name`` and show it."""
        for row in self.rows:
            for widget in row.widgets():
                self.grid.removeWidget(widget)
                widget.setParent(None)  # at once: a deferred delete would paint over the new rows
        self.rows = [GoalRow(self.grid, i, self.point_size) for i in range(len(verdicts))]
        for row, verdict in zip(self.rows, verdicts, strict=True):
            row.show(verdict)
        self.passed = all_met(verdicts)
        met = sum(v.status == MET for v in verdicts)
        colour = "#2e9d4f" if self.passed else "#d32f2f"
        self.headline.setText("Challenge met!" if self.passed else "Not yet")
        self.headline.setStyleSheet(f"font-size: {self.point_size + 10}pt; font-weight: 800; color: {colour};")
        self.detail.setText(f"{name}: {met} of {len(verdicts)} goals met"
                            + ("" if self.passed else ". Change the cluster and try again."))
        self.show()
        self.raise_()

    def _close(self) -> None:
        self.hide()
        self.closed.emit()
