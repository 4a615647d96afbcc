"""The canvas's items: a node's box (its figures, state and Fail button) and the hubs.

The layers that draw the boxes and the links are in ``app.canvas.layers``.

Colours and sizes of the canvas live here too; units are scene pixels at zoom 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsRectItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.layout import (
    HUB_BOX,
    box_size,
)
from sim_core.engine.state import DOWN, RESTARTING, UP
from sim_core.scenario import Node

if TYPE_CHECKING:
    from app.canvas.layers import BoxLayer

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

    def _paint_name(self, painter: QPainter, r: QRectF, ink: QColor, height: float) -> tuple[QFont, QRectF]:
        """The node's name in bold on the box's first line, ``height`` high; returns that font and line."""
        font = QFont(painter.font())
        font.setPixelSize(self.name_px())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(ink)
        line = QRectF(r.left(), r.top(), r.width(), height)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.node.name)
        return font, line

    def _paint_percent(self, painter: QPainter, line: QRectF, ink: QColor) -> None:
        painter.setPen(ink)
        painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         f"{self.utilization * 100:.0f}%")

    def _paint_full(self, painter: QPainter, r: QRectF, ink: QColor, heat: QColor, dead: bool) -> None:
        font, line = self._paint_name(painter, r, ink, 20)
        font.setPixelSize(12)
        painter.setFont(font)
        self._paint_state(painter, line, {UP: "● up", DOWN: "✕ DOWN", RESTARTING: "● restarting"})
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(ink if dead else MUTED)
        line.translate(0, 21)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.spec_text)
        line.translate(0, 22)
        self._paint_bar(painter, QRectF(line.left(), line.top() + 3, line.width() - 44, 13), heat, dead)
        self._paint_percent(painter, line, ink)
        line.translate(0, 21)
        painter.setPen(ink if dead else MUTED)
        text = "failed" if dead else f"queue {self.queue}"
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_compact(self, painter: QPainter, r: QRectF, ink: QColor, heat: QColor, dead: bool) -> None:
        font, line = self._paint_name(painter, r, ink, 15)
        self._paint_state(painter, line, {UP: "up", DOWN: "DOWN", RESTARTING: "restart"})
        font.setBold(False)
        painter.setFont(font)
        line.translate(0, 17)
        self._paint_percent(painter, line, ink)
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
