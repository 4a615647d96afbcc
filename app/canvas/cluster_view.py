"""The view of the cluster canvas: zoom, pan, fit, and the keyboard (fail, move the selection)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QKeyEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from app.canvas.layout import MARGIN
from app.canvas.view import ClusterScene


class ClusterView(QGraphicsView):
    """Zoom with the wheel (or Ctrl +/-), pan by dragging the background, F/Space fails or
    recovers the selected nodes, Tab/arrow keys move the selection between nodes."""

    def __init__(self, scene: ClusterScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.cluster = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Cluster canvas")
        self._panning: QPointF | None = None
        self.max_fit_zoom = 1.25  # the kiosk lets a large screen zoom further

    def fit(self) -> None:
        """Zoom so the whole cluster fits the view (never above ``max_fit_zoom``); an arranged cluster,
        which nobody drags or pans, with a thinner margin."""
        margin = MARGIN / 3 if self.cluster.arranged else MARGIN
        rect = self.cluster.content_rect().adjusted(-margin, -margin, margin, margin)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > self.max_fit_zoom:
            self.resetTransform()
            self.scale(self.max_fit_zoom, self.max_fit_zoom)
            self.centerOn(rect.center())

    def sizeHint(self) -> QSize:
        """An arranged scene fills whatever it gets, so its extent must not decide the view's size."""
        return QSize(640, 360) if self.cluster.arranged else super().sizeHint()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.cluster.arranged and event.size().height() > 0:
            self.cluster.set_aspect(event.size().width() / event.size().height())
            self.fit()

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.05 <= scale <= 8:
            self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom(1.0015 ** event.angleDelta().y())

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self.itemAt(event.position().toPoint()) is None
                and not event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)):
            self._panning = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._panning is not None:
            delta = event.position() - self._panning
            self._panning = event.position()
            self.horizontalScrollBar().setValue(int(self.horizontalScrollBar().value() - delta.x()))
            self.verticalScrollBar().setValue(int(self.verticalScrollBar().value() - delta.y()))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._panning is not None:
            self._panning = None
            self.unsetCursor()
            self.cluster.clearSelection()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        ids = self.cluster.ctrl.node_ids
        if key in (Qt.Key.Key_F, Qt.Key.Key_Space) and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            for node_id in self.cluster.selected_ids():
                self.cluster.ctrl.toggle_node(node_id)
            return
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Left) and ids:
            selected = self.cluster.selected_ids()
            forward = key in (Qt.Key.Key_Down, Qt.Key.Key_Right)
            k = ids.index(selected[-1 if forward else 0]) + (1 if forward else -1) if selected else 0
            self.cluster.select_only(ids[k % len(ids)])
            return
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
            return
        if key == Qt.Key.Key_Minus:
            self.zoom(0.8)
            return
        super().keyPressEvent(event)
