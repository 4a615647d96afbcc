"""Run work right after a window's first painted frame, so start-up shows the window first.

Used for what the first frame does not need: the kernel's warm-up (``app.main``) and the main
window's charts and theory overlays (``MainWindow(staged=True)``).

One application-wide event filter serves every waiting callback and is removed once none waits.
Until then it sees every event of the application (about 3,000 before the main window's first
frame), so it tests the event's class, not ``event.type()``: PySide turns each ``type()`` into a
Python enum member, and four filters doing that for every event cost about 30 ms of start-up.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QApplication, QWidget


class _FirstPaint(QObject):
    """The application-wide event filter: on a Paint event, schedules the callbacks waiting for it."""

    def __init__(self, app: QApplication):
        super().__init__(app)
        self.app = app
        self.waiting: list[tuple[Callable[[], None], QWidget | None]] = []  # in the order they were asked for

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QPaintEvent) and isinstance(watched, QWidget):  # a Paint event, without type()
            window = watched.window()
            due = [w for w in self.waiting if w[1] is None or w[1] is window]
            if due:
                self.waiting = [w for w in self.waiting if w not in due]
                # the newest first, as when each callback had its own filter (Qt asks the last installed first)
                for callback, _ in reversed(due):
                    QTimer.singleShot(0, callback)  # runs once this frame has been painted and flushed
                if not self.waiting:
                    global _filter
                    self.app.removeEventFilter(self)
                    self.deleteLater()
                    if _filter is self:
                        _filter = None
        return False


_filter: _FirstPaint | None = None  # the installed filter, while callbacks wait


def after_first_paint(callback: Callable[[], None], window: QWidget | None = None) -> None:
    """Call ``callback`` once from the event loop, right after the first frame that paints ``window``
    (or any widget when ``window`` is None). Needs the QApplication to exist."""
    global _filter
    app = QApplication.instance()
    if _filter is None or _filter.app is not app:  # (a test may have made a new QApplication)
        _filter = _FirstPaint(app)
        app.installEventFilter(_filter)
    _filter.waiting.append((callback, window))
