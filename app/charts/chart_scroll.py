"""The charts' scroll area in the main window: never narrower than the charts' titles need."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtWidgets import QScrollArea


class ChartScroll(QScrollArea):
    """Scrolls its charts up and down; a splitter beside it gives way before a chart title is cut.

    Its minimum width is the charts' minimum width (their widest title and axes, in px) plus the
    vertical scroll bar, and follows it when the charts change it (another node count, say).
    """

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
