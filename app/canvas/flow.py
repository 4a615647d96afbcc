"""Requests flowing on the canvas: dots along the links, each standing for ``DotScale`` requests."""

from __future__ import annotations

import math

import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.layers import LinksItem
from app.canvas.layout import (
    along,
)

DOT = QColor("#1976d2")
DOT_LOST = QColor("#d32f2f")
DOT_TRAVEL_S = 0.8  # wall seconds a dot takes along a link
MAX_DOTS_PER_S = 5.0  # on the busiest balancer -> node link
DOT_RADIUS = 4.5  # scene units
MAX_DOTS = 4000  # in flight at once, at most (about 5 per link per wall second make far fewer)


def nice_ceil(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 ... that is >= value."""
    if value <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        if m * exp >= value:
            return int(m * exp)
    return int(10 * exp)


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
        if spawn.sum() + self.dot_link.size > MAX_DOTS:
            spawn[:] = 0  # a burst the scale has not caught up with yet: skip it rather than slow every frame
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
