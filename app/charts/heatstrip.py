"""Utilization per node over time, for clusters too big for one curve per node.

Up to DISTRIBUTION_FROM nodes: a heat strip with one row per node in canvas order (top row =
top box), labelled with node names, each cell the node's mean utilization over the last SMOOTH_S seconds
(so per-step noise does not flicker), failed nodes dark grey and restarting ones amber,
never "idle" green. Above that, rows would be thinner than a pixel: the chart shows instead the
distribution over the nodes that are up, min / median / p90 / max, one curve each.

No engine access: it keeps its own small ring of one-second bins, fed with the snapshots the
controller emits.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFont

from sim_core.engine.state import DOWN, RESTARTING
from sim_core.metrics import History

BIN_S = 1.0  # seconds per heat-strip column
SMOOTH_S = 5.0  # each cell shows the mean over the last SMOOTH_S seconds (one-second means flicker)
DISTRIBUTION_FROM = 51  # nodes: from here a distribution instead of rows
FAILED_RGB = (58, 63, 69)
NO_DATA_RGB = (236, 239, 242)  # the canvas's failed-box fill
RESTARTING_RGB = (242, 169, 0)  # the canvas's restarting edge
STATS = (("max", "#d32f2f"), ("p90", "#ef8a17"), ("median", "#2e9d4f"), ("min", "#1e88e5"))
MAX_LABELS = 14  # row labels on the axis at most


def heat_rgb(util: np.ndarray) -> np.ndarray:
    """Green (0) through yellow to red (1), as uint8 RGB of shape util.shape + (3,)."""
    u = np.clip(np.nan_to_num(util), 0.0, 1.0)[..., None]
    green, yellow, red = np.array([60, 179, 113.0]), np.array([242, 208, 36.0]), np.array([211, 47, 47.0])
    low = green + (yellow - green) * np.minimum(u * 2, 1)
    high = yellow + (red - yellow) * np.maximum(u * 2 - 1, 0)
    rgb = np.where(u <= 0.5, low, high)
    rgb[np.isnan(util)] = NO_DATA_RGB  # before a node existed: neither idle nor busy
    return rgb.astype(np.uint8)


def canvas_order(xy: np.ndarray) -> np.ndarray:
    """Node indices as the canvas shows them: columns left to right, each from top to bottom."""
    if xy.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.lexsort((xy[:, 1], np.round(xy[:, 0] / 50.0)))


def row_labels(names: list[str]) -> list[tuple[float, str]]:
    """Axis ticks (row centre, text): every name when few, else every k-th row's name."""
    every = max(1, int(np.ceil(len(names) / MAX_LABELS)))
    return [(k + 0.5, name) for k, name in enumerate(names) if k % every == 0]


def smoothed(util: np.ndarray, bins: int) -> np.ndarray:
    """The mean of each row and the ``bins - 1`` rows before it (fewer at the start), shape as ``util``."""
    cum = np.cumsum(np.vstack((np.zeros((1, util.shape[1])), util)), axis=0)
    k = np.arange(1, util.shape[0] + 1)
    lo = np.maximum(k - bins, 0)
    return (cum[k] - cum[lo]) / (k - lo)[:, None]


def severity(state: np.ndarray) -> np.ndarray:
    """How bad each engine state is for the strip's colour: DOWN 2, RESTARTING 1, anything else 0 (int8)."""
    return np.where(state == DOWN, 2, np.where(state == RESTARTING, 1, 0)).astype(np.int8)


class BinnedUtilization:
    """One-second bins of per-node utilization and state: ``capacity`` bins kept, oldest dropped."""

    def __init__(self, n_nodes: int, capacity: int = 90):
        self.capacity = capacity
        self.t = np.zeros(0)  # bin end times (s)
        self.util = np.zeros((0, n_nodes))  # mean utilization in each bin
        self.state = np.zeros((0, n_nodes), dtype=np.int8)  # worst state seen in the bin (DOWN > RESTARTING)
        self._busy = np.zeros(n_nodes)
        self._span = 0.0
        self._worst = np.zeros(n_nodes, dtype=np.int8)
        self._bin_end: float | None = None

    @property
    def n_nodes(self) -> int:
        return self.util.shape[1]

    def remap(self, old_ids: list[int], new_ids: list[int]) -> BinnedUtilization:
        """The same bins for the nodes ``new_ids``: a node kept keeps its past, a new one has none (NaN)."""
        out = BinnedUtilization(len(new_ids), self.capacity)
        where = {node_id: k for k, node_id in enumerate(old_ids)}
        keep = [(j, where[i]) for j, i in enumerate(new_ids) if i in where]
        out.t = self.t.copy()
        out.util = np.full((self.t.size, len(new_ids)), np.nan)
        out.state = np.zeros((self.t.size, len(new_ids)), dtype=np.int8)
        if keep:
            new, old = (np.array(k) for k in zip(*keep, strict=True))
            out.util[:, new] = self.util[:, old]
            out.state[:, new] = self.state[:, old]
            out._busy[new] = self._busy[old]
            out._worst[new] = self._worst[old]
        out._span, out._bin_end = self._span, self._bin_end
        return out

    @classmethod
    def from_steps(cls, t: np.ndarray, dt: np.ndarray, util: np.ndarray, state: np.ndarray,
                   capacity: int = 90) -> BinnedUtilization:
        """The bins that ``add`` makes of the steps ending at ``t`` (m,) s, of lengths ``dt`` (m,) s, with
        per-node ``util`` (m, n) 0..1 and ``state`` (m, n) codes; the last bin may still be open."""
        out = cls(util.shape[1], capacity)
        if t.size == 0:
            return out
        keys = np.floor((t - dt) / BIN_S + 1e-9)  # the bin each step starts in: it belongs to that bin
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], t.size] - 1
        busy = np.add.reduceat(util * dt[:, None], starts, axis=0)
        span = np.add.reduceat(dt, starts)
        worst = np.maximum.reduceat(severity(state), starts, axis=0)
        closed = np.ones(starts.size, dtype=bool)  # every bin but the last was closed by a later one
        closed[-1] = t[-1] >= (keys[-1] + 1) * BIN_S - 1e-9
        out.t = t[ends[closed]][-capacity:]
        out.util = (busy[closed] / np.maximum(span[closed], 1e-12)[:, None])[-capacity:]
        out.state = worst[closed][-capacity:]
        if closed[-1]:
            out._bin_end = (np.floor(t[-1] / BIN_S + 1e-9) + 1) * BIN_S
        else:
            out._busy, out._span, out._worst = np.nan_to_num(busy[-1]), float(span[-1]), worst[-1].copy()
            out._bin_end = (keys[-1] + 1) * BIN_S
        return out

    def add(self, t: float, dt: float, utilization: np.ndarray, state: np.ndarray) -> None:
        """One engine step ending at ``t`` of length ``dt`` (s)."""
        if utilization.size != self.n_nodes:
            return
        if self._bin_end is None:
            self._bin_end = (np.floor((t - dt) / BIN_S + 1e-9) + 1) * BIN_S
        self._busy += utilization * dt
        self._span += dt
        self._worst = np.maximum(self._worst, severity(state))
        if t >= self._bin_end - 1e-9:
            self.t = np.append(self.t, t)[-self.capacity:]
            self.util = np.vstack((self.util, self._busy / max(self._span, 1e-12)))[-self.capacity:]
            self.state = np.vstack((self.state, self._worst))[-self.capacity:]
            self._busy[:] = 0.0
            self._span = 0.0
            self._worst[:] = 0
            self._bin_end = (np.floor(t / BIN_S + 1e-9) + 1) * BIN_S


class UtilizationStrip:
    """The utilization chart's heat strip or distribution; ``plot`` is the chart it draws in."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.stat_curves = {name: plot.plot([], [], pen=pg.mkPen(colour, width=1.6), name=name)
                            for name, colour in STATS}
        self.bins = BinnedUtilization(0)
        self.ids: list[int] = []
        self.order = np.zeros(0, dtype=np.int64)
        self.mode = "off"  # "rows", "distribution" or "off"
        self._drawn: tuple | None = None  # what the last draw showed
        self.set_mode("off")

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.image.setVisible(mode == "rows")
        for curve in self.stat_curves.values():
            curve.setVisible(mode == "distribution")
        self.plot.invertY(mode == "rows")

    def rebuild(self, ids: list[int], names: list[str], xy: np.ndarray, mode: str, keep: bool = False) -> None:
        """Show the nodes ``ids`` (named ``names``, at canvas positions ``xy`` (n, 2)); ``keep`` keeps the
        bins of the nodes that stay (a node added or removed), else it starts over."""
        kept = keep and mode == self.mode
        self.set_mode(mode)
        self._drawn = None
        self.bins = self.bins.remap(self.ids, ids) if kept else BinnedUtilization(len(names))
        self.ids = list(ids)
        self.order = canvas_order(xy)
        axis = self.plot.getAxis("left")
        axis.showLabel(mode != "rows")  # rows: the names need the room of the unit label
        font = QFont()
        font.setPixelSize(10)
        axis.setTickFont(font if mode == "rows" else None)
        self.image.clear()
        for curve in self.stat_curves.values():
            curve.setData([], [])
        if mode == "rows":
            axis.setTicks([row_labels([names[i] for i in self.order]), []])
            self.plot.setYRange(0, len(names), padding=0)
        else:
            axis.setTicks(None)

    def refill(self, history: History) -> None:
        """Bins again from the run's history up to the moment it shows (after a jump or a reset)."""
        times = history.column("t")
        start = int(np.searchsorted(times, times[-1] - (self.bins.capacity + 2) * BIN_S)) if times.size else 0
        util, state = history.node_series(self.ids, start)
        self.bins = BinnedUtilization.from_steps(times[start:], history.column("dt")[start:], util, state,
                                                 self.bins.capacity)
        self._drawn = None

    def add(self, snaps: list) -> None:
        for snap in snaps:
            self.bins.add(snap.t, snap.dt, snap.utilization, snap.state)

    def draw(self) -> None:
        """Redraw from the bins; only when a bin was added since the last draw (once a simulated second)."""
        b = self.bins
        if self.mode == "off" or b.t.size == 0:
            return
        drawn = (b.t.size, float(b.t[-1]), self.mode)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        if self.mode == "rows":
            rgb = heat_rgb(smoothed(b.util, round(SMOOTH_S / BIN_S))[:, self.order].T)  # (rows, cols, 3): row 0 = top
            state = b.state[:, self.order].T
            rgb[state == 1] = RESTARTING_RGB
            rgb[state == 2] = FAILED_RGB
            self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
            self.image.setRect(QRectF(b.t[0] - BIN_S, 0, b.t.size * BIN_S, b.util.shape[1]))
            return
        stats = distribution(b.util * 100.0, b.state == 0)
        for name, curve in self.stat_curves.items():
            curve.setData(b.t, stats[name], connect="finite")


def distribution(values: np.ndarray, up: np.ndarray) -> dict[str, np.ndarray]:
    """Per row of ``values`` (bins, nodes), over the columns where ``up``: min, median, p90, max
    (linear interpolation between order statistics); NaN where no node is up. One sort, no Python loop."""
    ordered = np.sort(np.where(up, values, np.inf), axis=1)
    n = up.sum(axis=1)
    out = {}
    for name, q in (("min", 0.0), ("median", 0.5), ("p90", 0.9), ("max", 1.0)):
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a = np.take_along_axis(ordered, lo[:, None], axis=1)[:, 0]
        b = np.take_along_axis(ordered, hi[:, None], axis=1)[:, 0]
        with np.errstate(invalid="ignore"):
            out[name] = np.where(n > 0, a + (b - a) * (pos - lo), np.nan)
    return out
