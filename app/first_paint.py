"""Run work right after a window's first painted frame, so start-up shows the window first.

Used for what the first frame does not need: the kernel's warm-up (``app.main``) and the main
window's charts and theory overlays (``MainWindow(staged=True)``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


class _FirstPaint(QObject):
    """An application-wide event filter that waits for one Paint event, then schedules ``callback``."""

    def __init__(self, app: QApplication, callback: Callable[[], None], window: QWidget | None):
        super().__init__(app)
        self.callback = callback
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Paint and isinstance(watched, QWidget)
                and (self.window is None or watched.window() is self.window)):
            QApplication.instance().removeEventFilter(self)
            QTimer.singleShot(0, self.callback)  # runs once this frame has been painted and flushed
            self.deleteLater()
        return False


def after_first_paint(callback: Callable[[], None], window: QWidget | None = None) -> None:
    """Call ``callback`` once from the event loop, right after the first frame that paints ``window``
    (or any widget when ``window`` is None). Needs the QApplication to exist."""
    app = QApplication.instance()
    app.installEventFilter(_FirstPaint(app, callback, window))
