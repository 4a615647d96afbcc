"""The charts' scroll area in the main window, and the placeholder it shows until the charts are built.

The scroll area is never narrower than the charts' titles need. Its size hint does not depend on
what it holds: the window paints its first frame with the placeholder (no pyqtgraph: importing it
and building the six plots takes most of a second) and the split between canvas and charts
follows that hint, so it must be the same for both, or the split would jump when the charts come in.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget


class ChartScroll(QScrollArea):
    """Scrolls its charts up and down; a splitter beside it gives way before a chart title is cut.

    Its minimum width is the charts' minimum width (their widest title and axes, in px) plus the
    vertical scroll bar, and follows it when the charts change it (another node count, say). It
    holds a ``ChartsPlaceholder`` until ``setWidget`` gives it the charts.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidget(ChartsPlaceholder())

    def sizeHint(self) -> QSize:
        """Qt's largest hint for a scroll area, 36 x 24 lines of text, which the charts always reach."""
        h = self.fontMetrics().height()
        return QSize(36 * h, 24 * h)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        widget = self.widget()
        if widget is None:
            return hint
        need = widget.minimumWidth() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(max(hint.width(), need), hint.height())

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # the charts' minimum size changed
            self.updateGeometry()
        return super().viewportEvent(event)


class ChartsPlaceholder(QWidget):
    """A white area with one grey line, "Loading the charts…", centred."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("charts-placeholder")
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("white"))
        self.setPalette(palette)
        self.setAutoFillBackground(True)
        note = QLabel("Loading the charts…")
        note.setStyleSheet("color: #5b6775;")
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        QVBoxLayout(self).addWidget(note)
