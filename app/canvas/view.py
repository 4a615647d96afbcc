"""The cluster canvas: traffic source -> load balancer -> node boxes, with requests flowing.

Three things per node, as in NodeGraphQt: the data (a ``Node`` in the controller's scenario),
its ``NodeItem`` here, and the controller that edits it. Items carry node ids. A click selects a
node; failing is explicit: the Fail/Recover button drawn on the selected box, a double-click,
F or Space, or a click in "chaos mode" (``ClusterScene.click_fails``, on in the kiosk). A drag
is committed once, on mouse release.
"""

from __future__ import annotations

import math

import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QPainterPath, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.layout import (
    COMPACT_FROM,
    FULL_WHEN_ARRANGED,
    HUB_BOX,
    MARGIN,
    ROUTE_POINTS,
    along,
    arranged_layout,
    box_size,
    bus_routes,
    route_lengths,
    straight_routes,
)
from app.controller import SimController
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
DOT = QColor("#1976d2")
DOT_LOST = QColor("#d32f2f")
HUB_FILL = QColor("#e3ecf7")
BOX_REFRESH_S = 0.5  # wall seconds between two refreshes of a box's figures while the clock runs
MAX_BOXES_PER_FRAME = 6  # boxes refreshed per clock frame at most (a box repaint costs about 0.2 ms)
DOT_TRAVEL_S = 0.8  # wall seconds a dot takes along a link
MAX_DOTS_PER_S = 5.0  # on the busiest balancer -> node link
DOT_RADIUS = 4.5  # scene units
LEGIBLE_PX = 8.0  # on screen: a compact box whose name would be smaller shows only its number, larger
FAR_NAME_PX = 36  # scene units: that number's size (a 200-node cluster at fit on a 1366 x 768 screen: 9 px)


def heat_colour(utilization: float) -> QColor:
    """Calm green (0) through yellow to hot red (1)."""
    u = min(max(utilization, 0.0), 1.0)
    return QColor.fromHsvF((1.0 - u) * 0.36, 0.75, 0.88)


def nice_ceil(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 ... that is >= value."""
    if value <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        if m * exp >= value:
            return int(m * exp)
    return int(10 * exp)


class NodeItem(QGraphicsRectItem):
    """The box of one node: name, specs, live utilization bar, queue and state. ``pos()`` is its centre.

    The scene places it; ``movable`` False makes a press only a click (arranged, display-only layouts).
    A rectangle item only for its bounding rectangle, which Qt asks for about three times per box and
    frame: answered in C++, not by a Python override (600 calls a frame at 200 nodes cost ~2 ms).
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
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, movable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
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
        self.update()

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
            self.update()

    def set_phase(self, phase: str) -> None:
        """Show a node being added ("booting") or drained for removal ("draining"); "" for neither."""
        if phase != self.phase:
            self.phase = phase
            self.update()

    def button_rect(self) -> QRectF:
        """Where the Fail/Recover button is drawn, in item coordinates; empty unless the box is selected."""
        if not self.isSelected():
            return QRectF()
        if self.compact:
            return QRectF(self.w / 2 - 52, -self.h / 2 - 20, 52, 18)  # a tab above the small box
        return QRectF(self.w / 2 - 8 - 74, self.h / 2 - 4 - 21, 74, 20)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
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
        if self.compact and self.name_px(option.levelOfDetailFromTransform(painter.worldTransform())) == FAR_NAME_PX:
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
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged and self.scene() is not None:
            self.scene().node_moved_live()
        return super().itemChange(change, value)


class HubItem(QGraphicsObject):
    """The traffic source or the load balancer: a title and two lines of figures."""

    def __init__(self, title: str):
        super().__init__()
        self.title = title
        self.lines = ("", "")
        self.w, self.h = HUB_BOX

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


class DotScale:
    """How many requests a dot stands for, shared by the canvases that show the same traffic.

    Each canvas reports the smoothed rate of its busiest link; the scale fits the busiest of all,
    so identical traffic draws identical dots on both sides of the comparison.
    """

    def __init__(self) -> None:
        self.peaks: dict[int, float] = {}

    def reset(self) -> None:
        self.peaks.clear()

    def update(self, key: int, peak: float) -> int:
        self.peaks[key] = peak
        return nice_ceil(max(self.peaks.values()) / MAX_DOTS_PER_S)


class FlowItem(QGraphicsItem):
    """Dots moving along the links; each dot stands for ``per_dot`` requests the engine routed there.

    A link emits dots at (requests routed on it) / ``per_dot`` per step, so the dot rate follows
    the link's real throughput; dots towards a failed node (lost requests) are red.
    """

    def __init__(self, links: LinksItem, scale: DotScale | None = None):
        super().__init__()
        self.links = links
        self.scale = scale or DotScale()
        self.per_dot = 1
        self._pending = np.zeros(0)
        self.dot_link = np.zeros(0, dtype=np.int64)
        self.dot_progress = np.zeros(0)
        self._peak = 0.0  # smoothed requests per wall second on the busiest node link
        self._atlas: QPixmap | None = None  # made at the first paint, once a QGuiApplication exists
        self.setZValue(-1)

    def reset(self, n_links: int, rescale: bool = False) -> None:
        """Drop the dots in flight for ``n_links`` links; ``rescale`` also forgets the dot scale (new traffic)."""
        if rescale:
            self._peak = 0.0
            self.per_dot = self.scale.update(id(self), 0.0)
        self._pending = np.zeros(n_links)
        self.dot_link = np.zeros(0, dtype=np.int64)
        self.dot_progress = np.zeros(0)
        self.update()

    def emit_requests(self, counts: np.ndarray, wall_s: float) -> None:
        """Requests routed on each link (shape (n_links,)) during ``wall_s`` wall seconds."""
        if counts.size != self._pending.size:
            self.reset(counts.size)
        if wall_s > 0:
            busiest = float(counts[1:].max()) if counts.size > 1 else 0.0
            self._peak += 0.05 * (busiest / wall_s - self._peak)
            self.per_dot = self.scale.update(id(self), self._peak)
        self._pending += counts / self.per_dot
        spawn = np.minimum(np.floor(self._pending), 4).astype(np.int64)
        self._pending -= np.floor(self._pending)
        if spawn.any():
            link = np.repeat(np.arange(spawn.size), spawn)
            rank = np.arange(link.size) - np.repeat(np.cumsum(spawn) - spawn, spawn)
            spread = rank / np.repeat(spawn, spawn) * min(wall_s, 0.1) / DOT_TRAVEL_S  # not all on one spot
            self.dot_link = np.concatenate((self.dot_link, link))
            self.dot_progress = np.concatenate((self.dot_progress, spread))

    def animate(self, wall_s: float) -> None:
        """Move every dot ``wall_s`` seconds along; drop the ones that arrived."""
        if self.dot_link.size == 0:
            return
        self.dot_progress = self.dot_progress + wall_s / DOT_TRAVEL_S
        keep = self.dot_progress < 1.0
        self.dot_link, self.dot_progress = self.dot_link[keep], self.dot_progress[keep]
        self.update()

    def positions(self) -> np.ndarray:
        """Scene positions of the dots, shape (n_dots, 2)."""
        routes = self.links.routes
        if self.dot_link.size == 0 or routes.shape[0] != self._pending.size:
            return np.zeros((0, 2))
        return along(routes, self.links.cum, self.dot_link, self.dot_progress)

    def boundingRect(self) -> QRectF:
        return self.links.boundingRect()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        """All dots in one drawPixmapFragments call: a blue or red dot from a two-dot atlas per request."""
        xy = self.positions()
        if xy.size == 0:
            return
        if self._atlas is None:
            self._atlas = dot_atlas()
        dead = self.links.dead[self.dot_link] if self.links.dead.size == self._pending.size else False
        size = 2 * DOT_RADIUS + 2
        # QPainter::PixmapFragment, 10 doubles: x, y, source left, top, width, height, scale x, y, rotation, opacity
        frags = np.empty((xy.shape[0], 10))
        frags[:, 0:2] = xy
        frags[:, 2] = np.where(dead, size, 0.0)
        frags[:, 3:10] = (0.0, size, size, 1.0, 1.0, 0.0, 1.0)
        first = shiboken6.wrapInstance(frags.ctypes.data, QPainter.PixmapFragment)
        painter.drawPixmapFragments(first, frags.shape[0], self._atlas)


def dot_atlas() -> QPixmap:
    """A blue dot (a request on its way) and a red one (towards a failed node), side by side."""
    size = 2 * DOT_RADIUS + 2
    atlas = QPixmap(round(2 * size), round(size))
    atlas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(atlas)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    for k, colour in enumerate((DOT, DOT_LOST)):
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(size * (k + 0.5), size / 2), DOT_RADIUS, DOT_RADIUS)
    painter.end()
    return atlas


class ClusterScene(QGraphicsScene):
    """The canvas's scene, built from and kept in step with a SimController.

    Boxes sit at their nodes' x, y, or, when ``arranged``, on a grid that fills a view of
    ``aspect`` (the comparison view, where the layout is display-only and boxes cannot be dragged).

    Emits ``node_clicked(id)`` for a click without a drag; ``click_fails`` (chaos mode) makes
    such a click fail or recover the node. The selected box's button and a double-click always do.
    A drag becomes one ``controller.move_nodes`` call on release.
    """

    node_clicked = Signal(int)

    def __init__(self, controller: SimController, parent=None, arranged: bool = False,
                 dot_scale: DotScale | None = None):
        super().__init__(parent)
        self.ctrl = controller
        self.click_fails = arranged  # chaos mode: on in the comparison and the kiosk, off in the editor
        self.arranged = arranged  # display-only grid fitted to ``aspect``; the scenario's x, y unused
        self.aspect = 2.0  # width / height of the view an arranged scene fills
        self.items_by_id: dict[int, NodeItem] = {}
        self.source = HubItem("Traffic")
        self.balancer = HubItem("Load balancer")
        self.links = LinksItem()
        self.flow = FlowItem(self.links, dot_scale)
        for item in (self.links, self.flow, self.source, self.balancer):
            self.addItem(item)
        self.setBackgroundBrush(BACKGROUND)
        self._press: dict[int, QPointF] = {}
        self._press_item: NodeItem | None = None
        self._press_button: NodeItem | None = None  # a press on the selected box's Fail/Recover button
        self._next_box = 0
        self._boxes_behind = 0  # boxes whose figures are older than the run's last step
        self._box_credit = 0.0  # boxes this frame may refresh (BOX_REFRESH_S, at most MAX_BOXES_PER_FRAME)
        self._links_dirty = False
        self._speed = 1.0
        c = controller
        c.scenario_replaced.connect(self.rebuild)
        c.node_added.connect(self._on_node_added)
        c.node_removed.connect(self._on_node_removed)
        c.node_changed.connect(self._on_node_changed)
        c.node_state_changed.connect(self._on_state_changed)
        c.balancer_changed.connect(self._update_hubs)
        c.workload_changed.connect(self._update_hubs)
        c.stepped.connect(self._on_stepped)
        c.sim_reset.connect(self.refresh_live)
        self.rebuild()

    # building ---------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Recreate every node box from the controller's scenario."""
        self.clearSelection()  # while the old boxes exist: selection slots then see a consistent scene
        for item in self.items_by_id.values():
            self.removeItem(item)
        self.items_by_id.clear()
        compact = self._compact()
        for node_id, node in zip(self.ctrl.node_ids, self.ctrl.scenario.nodes, strict=True):
            self._add_item(node_id, node, compact)
        self._place()
        self.flow.reset(len(self.items_by_id) + 1, rescale=True)
        self._update_hubs()
        self.refresh_live()

    def _compact(self) -> bool:
        n = len(self.ctrl.node_ids)
        return n > FULL_WHEN_ARRANGED if self.arranged else n >= COMPACT_FROM

    def _add_item(self, node_id: int, node: Node, compact: bool) -> NodeItem:
        item = NodeItem(node_id, node, compact, movable=not self.arranged)
        if not self.arranged:
            item.setPos(node.x, node.y)
        self.items_by_id[node_id] = item
        self.addItem(item)
        return item

    def _place(self) -> None:
        """Put the hubs (and, arranged, the boxes) where they go, then redraw the arrows."""
        items = self.node_items()
        if self.arranged:
            xy, hubs = arranged_layout(len(items), self.aspect)
            for item, (x, y) in zip(items, xy, strict=True):
                item.setPos(x, y)
            self.source.setPos(*hubs[0])
            self.balancer.setPos(*hubs[1])
        else:
            xs = [item.x() for item in items]
            ys = [item.y() for item in items]
            mid = (min(ys) + max(ys)) / 2
            self.balancer.setPos(min(xs) - items[0].w / 2 - 200, mid)
            self.source.setPos(self.balancer.x() - 290, mid)
        self._update_links()

    def set_aspect(self, aspect: float) -> None:
        """Re-arrange an arranged scene for a view of ``aspect`` (width / height)."""
        if self.arranged and abs(aspect - self.aspect) > 1e-3:
            self.aspect = aspect
            self._place()

    def node_items(self) -> list[NodeItem]:
        """Node boxes in engine order (while one step's added nodes are signalled one by one, those
        still to come have no box yet and are left out)."""
        return [self.items_by_id[i] for i in self.ctrl.node_ids if i in self.items_by_id]

    def _update_hubs(self) -> None:
        scenario = self.ctrl.scenario
        w = scenario.workload
        last = self.ctrl.last
        now = float(self.ctrl.history.rates()["offered"][-1]) if last else math.nan
        offered = f"{now:.0f} req/s offered" if math.isfinite(now) else f"{w.rate:g} req/s set"
        self.source.set_lines(offered, f"each dot = {self.flow.per_dot} request{'s' * (self.flow.per_dot > 1)}")
        b = scenario.balancer
        self.balancer.set_lines(b.policy.replace("_", " "), f"health check every {b.health_check_s:g} s")

    def _update_links(self) -> None:
        items = self.node_items()
        n = len(items)
        bal = self.balancer.pos()
        src = self.source
        if self.arranged:  # the source above the balancer
            source = ((src.x(), src.y() + src.h / 2), (bal.x(), bal.y() - self.balancer.h / 2 - 2))
        else:
            source = ((src.x() + src.w / 2, src.y()), (bal.x() - self.balancer.w / 2 - 2, bal.y()))
        start = (bal.x() + self.balancer.w / 2, bal.y())
        centres = np.array([(item.x(), item.y()) for item in items]).reshape(n, 2)
        if self.arranged and n > 1 or (items and items[0].compact):
            nodes = bus_routes(start, centres, (items[0].w, items[0].h))  # around the boxes, a fan per column
        else:
            ends = np.column_stack((centres[:, 0] - np.array([item.w / 2 + 3 for item in items]), centres[:, 1]))
            nodes = straight_routes(np.repeat(np.array([start]), n, axis=0), ends)
        routes = np.concatenate((straight_routes(np.array([source[0]]), np.array([source[1]])), nodes))
        dead = np.zeros(n + 1, dtype=bool)
        dead[1:] = [item.state == DOWN for item in items]
        self.links.set_links(routes, dead)
        self._links_dirty = False

    def node_moved_live(self) -> None:
        """A box moved (during a drag): the arrows follow at the next frame."""
        if not self._links_dirty:
            self._links_dirty = True
            QTimer.singleShot(0, self._update_links)

    # controller signals --------------------------------------------------------------------
    def _on_node_added(self, node_id: int) -> None:
        item = self._add_item(node_id, self.ctrl.node(node_id), self._compact())
        state = self.ctrl.node_state(node_id)
        item.set_live(0.0, 0, state)  # a new node boots: not "up" yet
        item.set_phase(self._phase(node_id, state))
        self._after_count_changed()

    def _on_node_removed(self, node_id: int) -> None:
        self.removeItem(self.items_by_id.pop(node_id))
        self._after_count_changed()

    def _after_count_changed(self) -> None:
        """Rebuild if the box form (full or compact) changed with the node count; else re-link."""
        compact = self._compact()
        if any(item.compact != compact for item in self.items_by_id.values()):
            self.rebuild()
            return
        if self.arranged:
            self._place()
        else:
            self._update_links()
        self.flow.reset(len(self.items_by_id) + 1)

    def _on_node_changed(self, node_id: int) -> None:
        item = self.items_by_id[node_id]
        item.set_node(self.ctrl.node(node_id), self.ctrl.changed_fields(node_id))
        if not self.arranged:
            item.setPos(item.node.x, item.node.y)
        self._on_state_changed(node_id)

    def _on_state_changed(self, node_id: int) -> None:
        item = self.items_by_id[node_id]
        item.set_live(item.utilization, item.queue, self.ctrl.node_state(node_id))
        self._update_links()

    def _on_stepped(self, snaps: list) -> None:
        counts = np.zeros(len(self.items_by_id) + 1)
        for snap in snaps:
            if snap.node_offered.size + 1 != counts.size:
                return  # the cluster changed while this tick ran
            counts[0] += snap.offered * snap.dt
            counts[1:] += snap.node_offered * snap.dt
        self.flow.emit_requests(counts, self._tick_wall_s)
        if not self.ctrl.in_frame:
            self.refresh_live()
            return
        # the clock's frames refresh the boxes in turn (``refresh_boxes``); a change of state shows now
        self._boxes_behind = len(self.items_by_id)
        self._update_hubs()
        items, states, draining = self.node_items(), self.ctrl.node_states(), self.ctrl.draining_names()
        changed = [k for k, (item, state) in enumerate(zip(items, states, strict=True))
                   if item.state != state or (item.phase == "draining") != (item.node.name in draining)] \
            if len(items) == states.size else range(len(items))
        for k in changed:
            self.refresh_live(k, k + 1)

    def refresh_boxes(self, wall_s: float) -> None:
        """A clock frame's share: the figures of the next few boxes, so each box follows the run every
        BOX_REFRESH_S of wall time and no frame repaints more than MAX_BOXES_PER_FRAME boxes."""
        n = len(self.items_by_id)
        self._box_credit = min(self._box_credit + n * wall_s / BOX_REFRESH_S, MAX_BOXES_PER_FRAME)
        count = min(int(self._box_credit), self._boxes_behind)
        if count <= 0 or n == 0:
            return
        first = self._next_box % n
        stop = min(first + count, n)
        self.refresh_live(first, stop)
        self._box_credit -= stop - first
        self._boxes_behind -= stop - first
        self._next_box = stop % n

    _tick_wall_s = 0.0

    def animate(self, wall_s: float) -> None:
        """Called every clock tick with the wall seconds elapsed: move dots, throttle box redraws."""
        self._tick_wall_s = wall_s
        self.flow.animate(wall_s)

    def refresh_live(self, first: int = 0, stop: int | None = None) -> None:
        """Show the latest utilization (1 s average), queue and state on boxes ``first:stop`` (engine order)."""
        last = self.ctrl.last
        items = self.node_items()
        states = self.ctrl.node_states()
        part = slice(first, stop)
        if last is None or last.queue.size != len(items):
            for item, state in zip(items[part], states[part], strict=True):
                item.set_live(0.0, 0, int(state))
        else:
            util = self.ctrl.history.recent_utilization(self.ctrl.node_ids[part])
            for item, u, q, state in zip(items[part], util, last.queue[part], states[part], strict=True):
                item.set_live(float(u), int(q), int(state))
        ids = self.ctrl.node_ids
        for item, node_id, state in zip(items[part], ids[part], states[part], strict=True):
            item.set_phase(self._phase(node_id, state))
        dead = np.concatenate(([False], states == DOWN))
        if not np.array_equal(dead, self.links.dead):
            self._update_links()
        self._update_hubs()

    def _phase(self, node_id: int, state: int) -> str:
        """"draining" (the autoscaler takes it out), "booting" (it added it, not up yet) or ""."""
        if self.ctrl.node_draining(node_id):
            return "draining"
        return "booting" if state == RESTARTING and self.ctrl.changed_fields(node_id) == ["added"] else ""

    # mouse: a click selects, the box's button / a double-click / chaos mode fails, a drag moves --------
    def _node_at(self, pos: QPointF) -> NodeItem | None:
        item = self.itemAt(pos, self.views()[0].transform()) if self.views() else None
        return item if isinstance(item, NodeItem) else None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        left = event.button() == Qt.MouseButton.LeftButton
        item = self._node_at(event.scenePos()) if left else None
        if item is not None and item.button_rect().contains(item.mapFromScene(event.scenePos())):
            self._press_button = item  # the Fail/Recover button: no selection change, no drag
            event.accept()
            return
        super().mousePressEvent(event)
        self._press_item = item
        self._press = {i: it.pos() for i, it in self.items_by_id.items() if it.isSelected()}

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        button, self._press_button = self._press_button, None
        if button is not None:
            if button.node_id in self.items_by_id and button.button_rect().contains(
                    button.mapFromScene(event.scenePos())):
                self.ctrl.toggle_node(button.node_id)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        moved = [(i, self.items_by_id[i].x(), self.items_by_id[i].y()) for i, p in self._press.items()
                 if i in self.items_by_id and self.items_by_id[i].pos() != p]
        pressed, self._press_item, self._press = self._press_item, None, {}
        if moved:
            self.ctrl.move_nodes(moved)
        elif pressed is not None and pressed.node_id in self.items_by_id:
            self.node_clicked.emit(pressed.node_id)
            if self.click_fails:
                self.ctrl.toggle_node(pressed.node_id)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """A double-click fails or recovers the node (in chaos mode its first click already did)."""
        item = self._node_at(event.scenePos()) if event.button() == Qt.MouseButton.LeftButton else None
        if item is None or item.button_rect().contains(item.mapFromScene(event.scenePos())):
            super().mouseDoubleClickEvent(event)
            return
        event.accept()
        if not self.click_fails:
            self.ctrl.toggle_node(item.node_id)

    def selected_ids(self) -> list[int]:
        """Ids of the selected node boxes, in engine order (boxes not built yet count as unselected)."""
        items = self.items_by_id
        return [i for i in self.ctrl.node_ids if i in items and items[i].isSelected()]

    def select_only(self, node_id: int) -> None:
        self.clearSelection()
        item = self.items_by_id[node_id]
        item.setSelected(True)
        for view in self.views():
            view.ensureVisible(item)


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
        rect = self.cluster.itemsBoundingRect().adjusted(-margin, -margin, margin, margin)
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
