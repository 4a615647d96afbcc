"""The canvas's two drawing layers: the links (arrows) and the layer that draws every node box.

Each is one item with a device-coordinate cache: a frame that moves the request dots, which run
between them, blits two pictures instead of drawing 200 boxes and their arrows.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.items import DEAD_EDGE, LINK, NodeItem
from app.canvas.layout import ROUTE_POINTS, route_lengths


class BoxLayer(QGraphicsItem):
    """Draws the node boxes, all into one device-coordinate cache, under the items that take their clicks.

    A frame that moves the request dots repaints the canvas: it then draws this one cached picture
    instead of one per box (200 boxes cost about 2.5 ms more a frame). A box that changes asks for
    its rectangle (``NodeItem.redraw``), and only the boxes in the rectangles asked for are drawn
    again into the cache. Its bounds are the boxes' and grow with them (``include``); growing
    redraws every box once. It takes no clicks (an empty shape) and sits above the dots.
    """

    def __init__(self):
        super().__init__()
        self.boxes: list[NodeItem] = []  # drawn in this order
        self._bounds = QRectF()
        self._rects: np.ndarray | None = None  # (n, 4) left, top, right, bottom of each box; None: to measure
        self.setZValue(-0.5)  # above the dots (-1), below the boxes' own items (0), which take the clicks
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)  # exposedRect: the part to draw
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_boxes(self, boxes: list[NodeItem]) -> None:
        """Draw ``boxes`` (and no others), in this order."""
        for box in self.boxes:
            box.layer = None
        self.boxes = list(boxes)
        bounds = QRectF()
        for box in self.boxes:
            box.layer = self
            bounds = bounds.united(box.sceneBoundingRect())
        self.prepareGeometryChange()
        self._bounds = bounds
        self._rects = None
        self.update()

    def add(self, box: NodeItem) -> None:
        box.layer = self
        self.boxes.append(box)
        self.include(box)
        box.redraw()

    def remove(self, box: NodeItem) -> None:
        box.redraw()
        box.layer = None
        self.boxes.remove(box)
        self._rects = None

    def include(self, box: NodeItem) -> None:
        """Grow the bounds to ``box`` where it is now (a drag or a new box)."""
        self._rects = None
        rect = box.sceneBoundingRect()
        if not self._bounds.contains(rect):
            self.prepareGeometryChange()
            self._bounds = self._bounds.united(rect)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return QPainterPath()  # never hit: the boxes' own items take the clicks and the hover

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        """The boxes within ``option.exposedRect``, each around its own centre."""
        if self._rects is None:
            self._rects = np.array([box.sceneBoundingRect().getCoords() for box in self.boxes]).reshape(-1, 4)
        e, r = option.exposedRect, self._rects
        inside = (r[:, 0] < e.right()) & (r[:, 2] > e.left()) & (r[:, 1] < e.bottom()) & (r[:, 3] > e.top())
        zoom = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        for k in np.flatnonzero(inside):
            box = self.boxes[k]
            painter.save()
            painter.translate(box.pos())
            box.draw(painter, zoom)
            painter.restore()


class LinksItem(QGraphicsItem):
    """Arrows source -> balancer -> every node, as polylines ``routes`` of shape (n_links, ROUTE_POINTS, 2);
    link 0 is the source's. Many nodes or a grid: the arrows run through the gaps between boxes."""

    def __init__(self):
        super().__init__()
        self.routes = np.zeros((0, ROUTE_POINTS, 2))
        self.cum = np.zeros((0, ROUTE_POINTS))
        self.dead = np.zeros(0, dtype=bool)  # per link: the node at its end is down
        self._path = QPainterPath()
        self._dead_path = QPainterPath()
        self.setZValue(-2)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # dots move above it every frame

    @property
    def starts(self) -> np.ndarray:
        return self.routes[:, 0]

    @property
    def ends(self) -> np.ndarray:
        return self.routes[:, -1]

    def set_links(self, routes: np.ndarray, dead: np.ndarray) -> None:
        self.prepareGeometryChange()
        self.routes, self.dead = routes, dead
        self.cum = route_lengths(routes)
        self._path, self._dead_path = QPainterPath(), QPainterPath()
        drawn: set[tuple] = set()  # a shared stretch of the fan is drawn once
        for points, d in zip(routes, dead, strict=True):
            path = self._dead_path if d else self._path
            for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
                key = (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1), bool(d))
                if (x0, y0) != (x1, y1) and key not in drawn:
                    drawn.add(key)
                    path.moveTo(x0, y0)
                    path.lineTo(x1, y1)
            (x0, y0), (x1, y1) = _last_segment(points)
            angle = math.atan2(y1 - y0, x1 - x0)
            for side in (-1, 1):
                a = angle + math.pi + side * 0.45
                path.moveTo(x1, y1)
                path.lineTo(x1 + 9 * math.cos(a), y1 + 9 * math.sin(a))
        self.update()

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().united(self._dead_path.boundingRect()).adjusted(-10, -10, 10, 10)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(LINK, 1.6))
        painter.drawPath(self._path)
        pen = QPen(DEAD_EDGE, 1.6)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawPath(self._dead_path)


def _last_segment(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last segment of non-zero length of a polyline (where its arrowhead goes)."""
    for k in range(len(points) - 1, 0, -1):
        if not np.array_equal(points[k - 1], points[k]):
            return points[k - 1], points[k]
    return points[0], points[-1]
