"""Kiosk mode for an unattended exhibit: ``scalelab --kiosk [--idle-seconds S]``.

The comparison lessons (``app.windows.compare.LESSONS``: one vertical and one horizontal cluster under
the same traffic) play fullscreen in a loop, each for its scenario's ``duration_s`` of simulated
time, under a large title and a caption of what to look at. Visitors tap a big lesson button
or a server (which fails or recovers it); the tour then waits, and resumes from the first
lesson after ``idle_s`` wall seconds without a touch, a click or a key. The Challenges button covers
the lessons with ``app.windows.challenge_play`` (large buttons, goals live, a result card) until the
visitor goes back or the tour resumes.

There are no menus, files, dialogs, autosave or settings, and a close request from a visitor
(Alt+F4, the window manager) is refused. Staff exit with Ctrl+Shift+Q (``EXIT_KEYS``).

Nothing grows while it runs: each lesson replaces both engines and their fixed-size histories,
node boxes cannot be dragged (no edits, so the undo stacks stay empty; they are capped anyway).
"""

from __future__ import annotations

import argparse
import time

from PySide6.QtCore import QEvent, QKeyCombination, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.screen import KioskType, kiosk_type, px_per_mm
from app.windows.challenge_play import ChallengePlay
from app.windows.compare import LESSONS, ROWS, SHORT_ROWS, CompareCharts, Comparison, charts_height

EXIT_KEYS = QKeyCombination(Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier, Qt.Key.Key_Q)
IDLE_S = 120.0  # wall seconds without input before the tour resumes
UNDO_LIMIT = 10  # commands kept per controller (the kiosk makes none; a cap all the same)
CHARTS_SHARE = 0.4  # of the screen's height at most for the charts: the canvases get the rest of the room
INPUT_EVENTS = frozenset({QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin, QEvent.Type.KeyPress,
                          QEvent.Type.Wheel})
CAPTIONS = {  # (vertical, horizontal) built-in names: what to look at, checked against the engine's figures
    ("vertical-4cpu", "horizontal-7x1"):
        "50 requests/s need 5 CPUs of work. The one 4-CPU server falls behind and rejects about one "
        "request in five, with p95 latency above 2 s; the seven 1-CPU nodes serve every request.",
    ("vertical-4cpu", "gain-scalability"):
        "Watch the green 'served' line as traffic climbs: the 4-CPU server tops out at 40 requests/s "
        "and starts rejecting, while the seven nodes keep up all the way to 60 requests/s.",
    ("gain-concurrency-vertical", "gain-concurrency"):
        "A burst of about 50 requests arrives at once, each holding 100 MB of RAM. One 4 GB server holds "
        "at most 40 at a time and turns some away (orange); seven 1 GB nodes hold 70 and reject none.",
    ("vertical-4cpu", "gain-fault-tolerance"):
        "At 30 s a server fails. With only one, availability falls to 0 % until it comes back; with "
        "seven, the other six carry the traffic. Tap a server to fail or recover it yourself.",
}
STYLE = """
KioskWindow {{ background: white; }}
QPushButton {{ font-size: {button_px}px; font-weight: 600; min-height: {target_px}px; padding: 2px 18px;
              border: 2px solid #5b7fa6; border-radius: 12px; background: #e3ecf7; color: #1d2733; }}
QPushButton#lesson {{ min-height: {lesson_px}px; }}
QPushButton:checked {{ background: #1565c0; color: white; border-color: #0d47a1; }}
QPushButton:pressed {{ background: #90b4e0; }}
"""


def lesson_label(title: str) -> str:
    """A lesson button's text: its title up to the colon ('Gain 1, scalability')."""
    return title.split(":", 1)[0]


class KioskWindow(Comparison):
    """The fullscreen exhibit: two cluster columns, shared charts, caption and lesson buttons; running
    from construction.

    ``touring`` is True while lessons advance on their own; any input makes it False until
    ``check_idle`` finds ``idle_s`` wall seconds without input and calls ``resume_tour``.
    """

    def __init__(self, idle_s: float = IDLE_S, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("ScaleLab")
        self.idle_s = float(idle_s)
        self.lesson_index = 0
        self.lesson_s = 0.0  # simulated seconds the current lesson runs on the tour
        self.touring = True
        self.last_input = time.monotonic()
        self._staff_exit = False
        self.touch = True  # every button is a touch target (at least 9 mm)
        for ctrl in (self.vertical, self.horizontal):
            ctrl.undo_stack.setUndoLimit(UNDO_LIMIT)
        self._build_layout()
        self.clock.ticked.connect(self._on_tick)
        self.horizontal.stepped.connect(lambda _s: self._update_status())
        self.idle_timer = QTimer(self)
        self.idle_timer.setInterval(1000)
        self.idle_timer.timeout.connect(self.check_idle)
        self.idle_timer.start()
        self.show_lesson(0)
        self.clock.set_running(True)  # an exhibit runs from the moment it exists, however it was built

    # layout -------------------------------------------------------------------------------------
    side_keys = ("served", "rejected", "p95", "availability", "lost_total")

    def _screen_size(self) -> QSize:
        return self.screen().size() if self.screen() is not None else QSize(1920, 1080)

    def chart_rows(self) -> tuple:
        """As many charts per side as fit in CHARTS_SHARE of the screen's height at the kiosk's type
        sizes, each plot at least 120 px tall: requests/s, then availability, then p95 latency (three
        on a 4K screen, two at 1080p, one at 768 px; the figures above show the others)."""
        size = self._screen_size()
        k = kiosk_type(size, px_per_mm(self.screen()))
        for rows in (ROWS, SHORT_ROWS):
            if charts_height(len(rows), *_chart_margins(k)) <= CHARTS_SHARE * size.height():
                return rows
        return SHORT_ROWS[:1]

    def _build_layout(self) -> None:
        """Everything sized from the screen (``app.screen.kiosk_type``): type readable from a few metres,
        touch targets of at least 9 mm, the charts in at most CHARTS_SHARE of the height and the
        canvases in the rest."""
        k = self.type = kiosk_type(self._screen_size(), px_per_mm(self.screen()))
        self.setStyleSheet(STYLE.format(button_px=k.caption_px, target_px=k.target_px, lesson_px=k.target_px))
        layout = QVBoxLayout(self)
        gap = max(4, k.label_px // 2)
        layout.setContentsMargins(2 * gap, gap, 2 * gap, gap)
        layout.setSpacing(gap)
        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setStyleSheet(f"font-size: {k.title_px}px; font-weight: 700; color: #1d2733;")
        self.status = QLabel()
        self.status.setStyleSheet(f"font-size: {k.label_px}px; color: #5b6775;")
        self.status.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        head.addWidget(self.title, 1)
        head.addWidget(self.status)
        layout.addLayout(head)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet(f"font-size: {k.caption_px}px; color: #1d2733; background: #fff8e1; "
                                   f"padding: {gap}px {2 * gap}px; border-radius: 8px;")
        layout.addWidget(self.caption)
        grid = QGridLayout()
        grid.setSpacing(gap)
        for c, side in enumerate(self.sides):
            side.set_type(k)
            grid.addWidget(side, 0, c)
        _enlarge_charts(self.charts, k)
        self.charts.set_min_heights(*_chart_margins(k))
        self.charts.setMaximumHeight(self.charts.minimumHeight())
        grid.addWidget(self.charts, 1, 0, 1, 2)
        grid.setRowStretch(0, 1)
        layout.addLayout(grid, 1)
        buttons = QHBoxLayout()
        self.buttons = QButtonGroup(self)
        for n, (title, _v, _h) in enumerate(LESSONS):
            button = QPushButton(lesson_label(title))
            button.setObjectName("lesson")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.buttons.addButton(button, n)
            buttons.addWidget(button)
        self.buttons.idClicked.connect(self.show_lesson)
        self.challenges_button = QPushButton("Challenges ▶")
        self.challenges_button.setObjectName("lesson")
        self.challenges_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.challenges_button.clicked.connect(self.show_challenges)
        buttons.addWidget(self.challenges_button)
        layout.addLayout(buttons)
        self.challenge_page: ChallengePlay | None = None  # made on the first visit (it loads a challenge)

    # challenges ---------------------------------------------------------------------------------
    def show_challenges(self) -> None:
        """Cover the lessons with the challenge page (the lessons' clock stops meanwhile)."""
        if self.challenge_page is None:
            self.challenge_page = ChallengePlay(self, touch=True)
            self.challenge_page.setAutoFillBackground(True)
            self.challenge_page.back.connect(self.hide_challenges)
        self.clock.set_running(False)
        self.challenge_page.setGeometry(self.rect())
        self.challenge_page.show()
        self.challenge_page.raise_()

    def hide_challenges(self) -> None:
        """Back to the lessons, running."""
        if self.challenge_page is not None and self.challenge_page.isVisible():
            self.challenge_page.load(self.challenge_page.challenge.name)  # stops its run
            self.challenge_page.hide()
            self.clock.set_running(True)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.challenge_page is not None:
            self.challenge_page.setGeometry(self.rect())

    # the tour -----------------------------------------------------------------------------------
    def show_lesson(self, index: int) -> None:
        """Load lesson ``index`` of LESSONS on both sides, from t = 0 with every node up."""
        self.lesson_index = index % len(LESSONS)
        title, vertical_name, horizontal_name = LESSONS[self.lesson_index]
        self.load_lesson(self.lesson_index)  # boxes of these arranged canvases cannot be dragged: a tap stays a tap
        self.lesson_s = self.horizontal.scenario.duration_s
        self.title.setText(title)
        self.caption.setText(CAPTIONS.get((vertical_name, horizontal_name), title.split(":", 1)[-1].strip()))
        self.buttons.button(self.lesson_index).setChecked(True)
        self._update_status()

    def _on_tick(self, _wall_s: float) -> None:
        if self.touring and self.horizontal.t >= self.lesson_s:
            self.show_lesson(self.lesson_index + 1)

    def _update_status(self) -> None:
        t = self.horizontal.t
        if self.touring:
            shown = min(t, self.lesson_s)
            text = f"Lesson {self.lesson_index + 1} of {len(LESSONS)} · {shown:.0f} / {self.lesson_s:.0f} s"
        else:
            text = f"t = {t:.0f} s · tour resumes after {self.idle_s:.0f} s untouched"
        if self.status.text() != text:
            self.status.setText(text)

    def note_input(self) -> None:
        """A visitor did something: pause the tour until ``idle_s`` seconds pass without input."""
        self.last_input = time.monotonic()
        if self.touring:
            self.touring = False
            self._update_status()

    def check_idle(self, now: float | None = None) -> bool:
        """Resume the tour if nobody touched anything for ``idle_s`` seconds; returns whether it did."""
        now = time.monotonic() if now is None else now
        if self.touring or now < self.last_input + self.idle_s:  # the deadline, as callers compute it
            return False
        self.resume_tour()
        return True

    def resume_tour(self) -> None:
        """Back to the automatic tour from the first lesson, whatever the visitor changed."""
        self.touring = True
        self.hide_challenges()
        self.show_lesson(0)

    def start(self) -> None:
        """Fullscreen (it is running already)."""
        self.showFullScreen()

    # input and closing --------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Every press, touch, wheel or key in this window counts as a visitor; Ctrl+Shift+Q exits."""
        if event.type() in INPUT_EVENTS and isinstance(watched, QWidget) and watched.window() is self:
            if event.type() == QEvent.Type.KeyPress and event.keyCombination() == EXIT_KEYS:
                self.staff_exit()
                return True
            self.note_input()
        return False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QApplication.instance().installEventFilter(self)

    def staff_exit(self) -> None:
        """Close for good (the exit chord)."""
        self._staff_exit = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._staff_exit:  # a visitor's Alt+F4 or the window manager: stay up
            event.ignore()
            return
        self.clock.set_running(False)
        self.idle_timer.stop()
        QApplication.instance().removeEventFilter(self)
        event.accept()


def _chart_margins(k: KioskType) -> tuple[int, int]:
    """(title, time axis) heights in px of the kiosk's charts."""
    return 2 * k.label_px + 8, 3 * k.label_px + 6


def _enlarge_charts(charts: CompareCharts, k: KioskType) -> None:
    """Chart titles (with their legends) and tick labels at the kiosk's label size."""
    tick_font = QFont()
    tick_font.setPixelSize(k.label_px)
    for row in charts.plots:
        for plot in row:
            plot.setTitle(plot.titleLabel.text, size=f"{k.label_px + 2}px")
            plot.layout.setRowFixedHeight(0, 2 * k.label_px + 4)
            plot.titleLabel.setMaximumHeight(2 * k.label_px + 4)
            for name in ("left", "bottom"):
                plot.getAxis(name).setTickFont(tick_font)
                plot.getAxis(name).label.setFont(tick_font)


def parse_args(args: list[str]) -> argparse.Namespace:
    """``scalelab --kiosk`` options (the ``--kiosk`` flag itself already removed)."""
    parser = argparse.ArgumentParser(
        prog="scalelab --kiosk",
        description="Fullscreen exhibit: the vertical vs horizontal lessons in a loop. Staff exit: Ctrl+Shift+Q.")
    parser.add_argument("--idle-seconds", type=float, default=IDLE_S, metavar="S",
                        help=f"seconds without a touch before the tour resumes (10..3600, default {IDLE_S:g})")
    options = parser.parse_args(args)
    if not 10 <= options.idle_seconds <= 3600:
        parser.error(f"--idle-seconds: {options.idle_seconds:g} is not in 10..3600")
    return options


def start_kiosk(args: list[str]) -> KioskWindow:
    """Parse the kiosk options and open the window fullscreen, running."""
    options = parse_args(args)
    window = KioskWindow(options.idle_seconds)
    window.start()
    return window
