"""A label for a figure that changes at every step, without laying the window out again."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

QWIDGETSIZE_MAX = (1 << 24) - 1


class FigureLabel(QLabel):
    """A QLabel of fixed size: a new value repaints the label and nothing else.

    A label that may change size asks its layouts, up to the main window's, to lay out again at
    each new text (1-2 ms a step in the main window); one of fixed size does not. The size is what
    the longest text so far (or ``widest``) needs: it grows when a longer text arrives (``show_text``),
    which is rare once a run has started, and never shrinks.
    """

    def __init__(self, text: str = "", widest: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self._widest = widest
        self._room = 0
        self.fit()

    def fit(self) -> None:
        """Size the label for the widest text so far, in its current font (call after a style change)."""
        self.setMinimumSize(0, 0)
        self.setMaximumSize(QWIDGETSIZE_MAX, QWIDGETSIZE_MAX)
        self.ensurePolished()
        shown = self.text()
        widest = max(self._widest, shown, key=self._extent)
        super().setText(widest)
        size = self.sizeHint()
        super().setText(shown)
        self.setFixedSize(size)
        self._room = self._extent(widest)

    def _extent(self, text: str) -> int:
        """How much room ``text`` takes: its width in pixels, or for rich text its length."""
        return len(text) if text.startswith("<") else self.fontMetrics().horizontalAdvance(text)

    def show_text(self, text: str) -> None:
        """Show ``text``; a text longer than any before widens the label first."""
        if text == self.text():
            return
        if self._extent(text) > self._room:
            self._widest = text
            super().setText(text)
            self.fit()
            return
        super().setText(text)
