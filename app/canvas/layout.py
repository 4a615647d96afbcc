"""Where node boxes go on the canvas: box sizes, and a grid for scenarios whose boxes overlap.

Scene units are pixels at zoom 1. A node's ``x, y`` is the centre of its box.
"""

from __future__ import annotations

import math

import numpy as np

from sim_core.scenario import Scenario

COMPACT_FROM = 25  # clusters of this many nodes or more get compact boxes
FULL_BOX = (216.0, 104.0)  # width, height
COMPACT_BOX = (128.0, 40.0)
GAP = (24.0, 16.0)
FIRST_X = 320.0  # the column right of the balancer


def box_size(n_nodes: int) -> tuple[float, float]:
    """(width, height) of every node box in a cluster of ``n_nodes``."""
    return COMPACT_BOX if n_nodes >= COMPACT_FROM else FULL_BOX


def boxes_overlap(xy: np.ndarray, size: tuple[float, float]) -> bool:
    """Whether any two boxes of ``size`` centred at ``xy`` (shape (n, 2)) overlap."""
    w, h = size
    for start in range(0, len(xy), 512):  # pairwise, in chunks to bound memory
        block = xy[start:start + 512]
        dx = np.abs(block[:, None, 0] - xy[None, :, 0]) < w
        dy = np.abs(block[:, None, 1] - xy[None, :, 1]) < h
        close = dx & dy
        close[np.arange(len(block)), np.arange(start, start + len(block))] = False
        if close.any():
            return True
    return False


def grid_positions(n_nodes: int) -> np.ndarray:
    """Centres (n, 2) of a grid of boxes right of the balancer, about as tall as wide, centred on y = 0."""
    w, h = box_size(n_nodes)
    step_x, step_y = w + GAP[0], h + GAP[1]
    rows = max(1, min(n_nodes, math.ceil(math.sqrt(n_nodes * step_x / step_y))))
    k = np.arange(n_nodes)
    x = FIRST_X + (k // rows) * step_x
    y = (k % rows - (rows - 1) / 2) * step_y
    return np.column_stack((x, y))


def spread_if_overlapping(scenario: Scenario) -> Scenario:
    """The scenario unchanged when its boxes do not overlap, else with its nodes on a grid."""
    xy = np.array([(n.x, n.y) for n in scenario.nodes], dtype=float)
    if not boxes_overlap(xy, box_size(len(xy))):
        return scenario
    nodes = [n.model_copy(update={"x": float(x), "y": float(y)})
             for n, (x, y) in zip(scenario.nodes, grid_positions(len(xy)), strict=True)]
    return scenario.model_copy(update={"nodes": nodes})


HUB_BOX = (190.0, 78.0)  # the traffic source and the load balancer
HUB_GAP = 110.0  # arrow room between the hub column and the nodes (scene units)
MARGIN = 30.0  # around the cluster when it is fitted to a view


def arranged_layout(n_nodes: int, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Display-only positions for a view of ``aspect`` (width / height): the cluster drawn as large as it fits.

    The traffic source sits above the load balancer in a column left of the nodes, which fill
    a grid of compact boxes (full boxes for up to FULL_WHEN_ARRANGED nodes) with the number of
    columns that lets the whole fit the view at the largest scale. Returns (node centres (n, 2),
    hub centres (2, 2): source, balancer), scene units.
    """
    w, h = arranged_box_size(n_nodes)
    step_x, step_y = w + GAP[0], h + GAP[1]
    hub_w, hub_h = HUB_BOX
    hubs_h = 2 * hub_h + 50.0

    def extent(cols: int) -> tuple[float, float]:
        rows = math.ceil(n_nodes / cols)
        width = hub_w + HUB_GAP + cols * step_x - GAP[0] + 2 * MARGIN
        height = max(rows * step_y - GAP[1], hubs_h) + 2 * MARGIN
        return width, height

    def scale(cols: int) -> float:  # relative to a view 1 unit tall
        width, height = extent(cols)
        return min(aspect / width, 1.0 / height)

    cols = max(range(1, n_nodes + 1), key=scale)
    rows = math.ceil(n_nodes / cols)
    k = np.arange(n_nodes)
    x = hub_w / 2 + HUB_GAP + w / 2 + (k % cols) * step_x
    y = (k // cols - (rows - 1) / 2) * step_y
    hubs = np.array([(0.0, -(hub_h + 50.0) / 2), (0.0, (hub_h + 50.0) / 2)])
    return np.column_stack((x, y)), hubs


FULL_WHEN_ARRANGED = 1  # an arranged cluster of more nodes gets compact boxes


def arranged_box_size(n_nodes: int) -> tuple[float, float]:
    """(width, height) of the node boxes of an arranged cluster of ``n_nodes``."""
    return FULL_BOX if n_nodes <= FULL_WHEN_ARRANGED else COMPACT_BOX


ROUTE_POINTS = 6  # points of every link's polyline (straight links repeat their end)


def straight_routes(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Polylines (n, ROUTE_POINTS, 2) that go straight from ``starts`` (n, 2) to ``ends`` (n, 2)."""
    routes = np.repeat(ends[:, None, :], ROUTE_POINTS, axis=1)
    routes[:, 0] = starts
    return routes


def bus_routes(start: tuple[float, float], centres: np.ndarray, size: tuple[float, float]) -> np.ndarray:
    """Arrows from the balancer's exit ``start`` to boxes of ``size`` centred at ``centres`` (n, 2), routed
    through the gaps between boxes so none crosses a box: right to a trunk in the hub gap, along
    it to the row gap above the box, along that to the gap left of the box's column, down to the
    box's middle, into its left edge. Shared stretches draw one fan per column. Shape (n, 6, 2).
    """
    w, h = size
    n = len(centres)
    x0, y0 = start
    left = centres[:, 0] - w / 2
    trunk = (x0 + left.min()) / 2 if n else x0
    column_gap = left - GAP[0] / 2
    row_gap = centres[:, 1] - h / 2 - GAP[1] / 2
    routes = np.empty((n, ROUTE_POINTS, 2))
    routes[:, 0] = (x0, y0)
    routes[:, 1] = (trunk, y0)
    routes[:, 2, 0], routes[:, 2, 1] = trunk, row_gap
    routes[:, 3, 0], routes[:, 3, 1] = column_gap, row_gap
    routes[:, 4, 0], routes[:, 4, 1] = column_gap, centres[:, 1]
    routes[:, 5, 0], routes[:, 5, 1] = left - 3, centres[:, 1]
    return routes


def route_lengths(routes: np.ndarray) -> np.ndarray:
    """Cumulative length of each polyline at each of its points, divided by its total: (n, points), 0..1."""
    seg = np.linalg.norm(np.diff(routes, axis=1), axis=2)
    cum = np.concatenate((np.zeros((len(routes), 1)), np.cumsum(seg, axis=1)), axis=1)
    total = np.maximum(cum[:, -1:], 1e-9)
    return cum / total


def along(routes: np.ndarray, cum: np.ndarray, link: np.ndarray, progress: np.ndarray) -> np.ndarray:
    """Points at ``progress`` (0..1 of the length) along polylines ``link`` of ``routes``: (len(link), 2)."""
    c = cum[link]
    k = np.clip((c <= progress[:, None]).sum(axis=1) - 1, 0, routes.shape[1] - 2)
    rows = np.arange(link.size)
    c0, c1 = c[rows, k], c[rows, k + 1]
    f = np.where(c1 > c0, (progress - c0) / np.maximum(c1 - c0, 1e-12), 0.0)[:, None]
    p0, p1 = routes[link, k], routes[link, k + 1]
    return p0 + (p1 - p0) * f
