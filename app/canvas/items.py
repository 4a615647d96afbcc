"""The canvas's items: a node's box (its figures, state and Fail button), the hubs and the links.

Colours and sizes of the canvas live here too; units are scene pixels at zoom 1.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsRectItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.layout import (
    HUB_BOX,
    ROUTE_POINTS,
    box_size,
    route_lengths,
)
from sim_core.engine.state import DOWN, RESTARTING, UP
from sim_core.scenario import Node

BACKGROUND = QColor("#f4f6f8")
INK = QColor("#1d2733")
MUTED = QColor("#5b6775")
DEAD_FILL = QColor("#3a3f45")
DEAD_INK = QColor("#f0f0f0")
DEAD_EDGE = QColor("#d32f2f")
RESTART_EDGE = QColor("#f2a900")
DRAIN_EDGE = QColor("#8e24aa")  # a node finishing its requests before it is removed
SELECTED = QColor("#1565c0")
LINK = QColor("#9aa5b1")
HUB_FILL = QColor("#e3ecf7")
LEGIBLE_PX = 8.0  # on screen: a compact box whose name would be smaller shows only its number, larger
FAR_NAME_PX = 36  # scene units: that number's size (a 200-node cluster at fit on a 1366 x 768 screen: 9 px)


def heat_colour(utilization: float) -> QColor:
    """Calm green (0) through yellow to hot red (1)."""
    u = min(max(utilization, 0.0), 1.0)
    return QColor.fromHsvF((1.0 - u) * 0.36, 0.75, 0.88)



class NodeItem(QGraphicsRectItem):
    """The box of one node: name, specs, live utilization bar, queue and state. ``pos()`` is its centre.

    The scene places it; ``movable`` False makes a press only a click (arranged, display-only layouts).
    A rectangle item only for its bounding rectangle, answered in C++ rather than by a Python override.
    The item takes clicks, drags, selection and its tooltip but paints nothing itself: its ``BoxLayer``
    draws it (``draw``), with every other box, into one cached picture.
    """

    def __init__(self, node_id: int, node: Node, compact: bool, movable: bool = True):
        w, h = box_size(30 if compact else 1)
        top = 22 if compact else 3  # a compact box's Fail button is a tab above it
        super().__init__(QRectF(-w / 2 - 3, -h / 2 - top, w + 6, h + 3 + top))
        self.setPen(Qt.PenStyle.NoPen)  # the bounding rectangle is exactly the rect: no pen around it
        self.node_id = node_id
        self.compact = compact
        self.w, self.h = w, h
        self.utilization = 0.0
        self.queue = 0
        self.state = UP
        self.phase = ""  # "booting" (added, not up yet) or "draining" (leaving): shown instead of the state
        self.node = node
        self.layer: BoxLayer | None = None  # set by the layer that draws the box
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
                      | QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, movable)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptHoverEvents(True)
        self.set_node(node)

    def set_node(self, node: Node, changed: list[str] | None = None) -> None:
        """Show ``node``'s specs; ``changed`` names the fields a timed event set (marked on the box)."""
        self.node = node
        self.changed = [f for f in changed or [] if f != "added"]
        note = f"\nChanged by a timed event: {', '.join(self.changed)}" if self.changed else ""
        self.setToolTip(f"{node.name}\n{node.spec_label()}\n{node.core_speed:g}x core speed · "
                        f"${node.price_per_hour:g}/h{note}\nClick to select; double-click, F or the box's Fail "
                        "button fails or recovers it")
        self.redraw()

    def name_px(self, zoom: float = 1.0) -> int:
        """Pixel size (scene units) of the box's largest label at ``zoom``: its name, or for a compact box
        too small on screen to read it, its number in FAR_NAME_PX."""
        if not self.compact:
            return 15
        return 11 if 11 * zoom >= LEGIBLE_PX else FAR_NAME_PX

    @property
    def spec_text(self) -> str:
        """The spec line drawn on the box; ``⚡`` marks specs a timed event changed."""
        return self.node.spec_label() + (" ⚡" if self.changed else "")

    def set_live(self, utilization: float, queue: int, state: int) -> None:
        """Show new live figures; repaints only when what is drawn changes."""
        shown = (round(utilization * 100), int(queue), int(state))
        if shown != (round(self.utilization * 100), self.queue, self.state):
            self.utilization, self.queue, self.state = utilization, int(queue), int(state)
            self.redraw()

    def set_phase(self, phase: str) -> None:
        """Show a node being added ("booting") or drained for removal ("draining"); "" for neither."""
        if phase != self.phase:
            self.phase = phase
            self.redraw()

    def redraw(self) -> None:
        """Have the layer draw the box again (at the next repaint)."""
        if self.layer is not None:
            self.layer.update(self.sceneBoundingRect())

    def button_rect(self) -> QRectF:
        """Where the Fail/Recover button is drawn, in item coordinates; empty unless the box is selected."""
        if not self.isSelected():
            return QRectF()
        if self.compact:
            return QRectF(self.w / 2 - 52, -self.h / 2 - 20, 52, 18)  # a tab above the small box
        return QRectF(self.w / 2 - 8 - 74, self.h / 2 - 4 - 21, 74, 20)

    def draw(self, painter: QPainter, zoom: float) -> None:
        """Draw the box around the painter's origin; ``zoom``: screen pixels per scene unit."""
        rect = QRectF(-self.w / 2, -self.h / 2, self.w, self.h)
        dead = self.state == DOWN
        heat = heat_colour(self.utilization)
        edge = DEAD_EDGE if dead else RESTART_EDGE if self.state == RESTARTING else heat.darker(130)
        if self.isSelected():
            edge = SELECTED
        fill = DEAD_FILL if dead else QColor("white")
        pen = QPen(edge, 3.0 if self.isSelected() or dead else 2.0)
        if self.phase == "draining":
            edge = DRAIN_EDGE if not self.isSelected() else edge
            pen = QPen(edge, 2.0, Qt.PenStyle.DashDotLine)
        elif self.state == RESTARTING:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 7, 7)
        ink = DEAD_INK if dead else INK
        pad = 8.0
        inner = rect.adjusted(pad, 4, -pad, -4)
        if self.compact and self.name_px(zoom) == FAR_NAME_PX:
            self._paint_far(painter, rect, ink, heat, dead)
        elif self.compact:
            self._paint_compact(painter, inner, ink, heat, dead)
        else:
            self._paint_full(painter, inner, ink, heat, dead)
        if self.isSelected():
            self._paint_button(painter)

    def _paint_button(self, painter: QPainter) -> None:
        """The selected box's Fail (red) or Recover (green) button."""
        button = self.button_rect()
        down = self.state == DOWN
        painter.setPen(QPen(QColor("#1b5e20" if down else "#8e1b1b"), 1.2))
        painter.setBrush(QColor("#43a047" if down else "#e53935"))
        painter.drawRoundedRect(button, 5, 5)
        font = QFont(painter.font())
        font.setPixelSize(12 if not self.compact else 11)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(button, Qt.AlignmentFlag.AlignCenter, "Recover" if down else "Fail")

    def _paint_state(self, painter: QPainter, line: QRectF, words: dict[int, str]) -> None:
        """The state, right-aligned on ``line`` in its colour; ``words`` per state (UP, DOWN, RESTARTING)."""
        painter.setPen(DEAD_EDGE.lighter(130) if self.state == DOWN else DRAIN_EDGE if self.phase == "draining"
                       else RESTART_EDGE.darker(120) if self.state == RESTARTING else QColor("#2e7d32"))
        text = words[self.state]
        if self.phase == "draining" and self.state != DOWN:
            text = "● draining" if text.startswith("●") else "drain"
        elif self.phase == "booting" and self.state == RESTARTING:
            text = "● booting" if text.startswith("●") else "boot"
        painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_full(self, painter: QPainter, r: QRectF, ink: QColor, heat: QColor, dead: bool) -> None:
        font = QFont(painter.font())
        font.setPixelSize(self.name_px())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(ink)
        line = QRectF(r.left(), r.top(), r.width(), 20)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.node.name)
        font.setPixelSize(12)
        painter.setFont(font)
        self._paint_state(painter, line, {UP: "● up", DOWN: "✕ DOWN", RESTARTING: "● restarting"})
        font.setBold(False)
        font.setPixelSize(12)
        painter.setFont(font)
        painter.setPen(ink if dead else MUTED)
        line.translate(0, 21)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.spec_text)
        line.translate(0, 22)
        self._paint_bar(painter, QRectF(line.left(), line.top() + 3, line.width() - 44, 13), heat, dead)
        painter.setPen(ink)
        painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         f"{self.utilization * 100:.0f}%")
        line.translate(0, 21)
        painter.setPen(ink if dead else MUTED)
        text = "failed" if dead else f"queue {self.queue}"
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_compact(self, painter: QPainter, r: QRectF, ink: QColor, heat: QColor, dead: bool) -> None:
        font = QFont(painter.font())
        font.setPixelSize(self.name_px())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(ink)
        line = QRectF(r.left(), r.top(), r.width(), 15)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.node.name)
        self._paint_state(painter, line, {UP: "up", DOWN: "DOWN", RESTARTING: "restart"})
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(ink)
        line.translate(0, 17)
        painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         f"{self.utilization * 100:.0f}%")
        self._paint_bar(painter, QRectF(line.left(), line.top() + 3, line.width() - 34, 9), heat, dead)

    def _paint_far(self, painter: QPainter, rect: QRectF, ink: QColor, heat: QColor, dead: bool) -> None:
        """Seen from afar (a large cluster at fit): the box filled with its heat colour, and its number."""
        painter.setBrush(DEAD_FILL if dead else heat.lighter(150))
        painter.drawRoundedRect(rect, 7, 7)
        font = QFont(painter.font())
        font.setPixelSize(FAR_NAME_PX)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(ink)
        name = self.node.name
        number = name[len(name.rstrip("0123456789")):] or name
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, number)

    def _paint_bar(self, painter: QPainter, bar: QRectF, heat: QColor, dead: bool) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#555b62") if dead else QColor("#e6e9ed"))
        painter.drawRoundedRect(bar, 3, 3)
        if not dead and self.utilization > 0:
            painter.setBrush(heat)
            painter.drawRoundedRect(QRectF(bar.left(), bar.top(), bar.width() * self.utilization, bar.height()), 3, 3)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):
        kind = QGraphicsItem.GraphicsItemChange
        if change == kind.ItemPositionChange:
            self.redraw()  # where it was
        elif change == kind.ItemPositionHasChanged:
            if self.layer is not None:
                self.layer.include(self)
            self.redraw()
            if self.scene() is not None:
                self.scene().node_moved_live()
        elif change == kind.ItemSelectedHasChanged:
            self.redraw()
        return super().itemChange(change, value)


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


class HubItem(QGraphicsObject):
    """The traffic source or the load balancer: a title and two lines of figures."""

    def __init__(self, title: str):
        super().__init__()
        self.title = title
        self.lines = ("", "")
        self.w, self.h = HUB_BOX
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # drawn again only when its lines change

    def set_lines(self, first: str, second: str) -> None:
        if (first, second) != self.lines:
            self.lines = (first, second)
            self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(-self.w / 2 - 2, -self.h / 2 - 2, self.w + 4, self.h + 4)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        rect = QRectF(-self.w / 2, -self.h / 2, self.w, self.h)
        painter.setPen(QPen(QColor("#5b7fa6"), 2))
        painter.setBrush(HUB_FILL)
        painter.drawRoundedRect(rect, 10, 10)
        font = QFont(painter.font())
        font.setPixelSize(15)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(INK)
        r = rect.adjusted(8, 6, -8, -6)
        painter.drawText(QRectF(r.left(), r.top(), r.width(), 22), Qt.AlignmentFlag.AlignCenter, self.title)
        font.setPixelSize(12)
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(MUTED)
        for k, text in enumerate(self.lines):
            painter.drawText(QRectF(r.left(), r.top() + 24 + 20 * k, r.width(), 20), Qt.AlignmentFlag.AlignCenter, text)


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
