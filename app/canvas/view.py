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
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
)

from app.canvas.flow import DotScale, FlowItem
from app.canvas.items import BACKGROUND, HubItem, NodeItem
from app.canvas.layers import BoxLayer, LinksItem
from app.canvas.layout import (
    COMPACT_FROM,
    FULL_WHEN_ARRANGED,
    arranged_layout,
    bus_routes,
    straight_routes,
)
from app.controller import SimController
from sim_core.engine.state import DOWN, RESTARTING
from sim_core.scenario import Node

BOX_REFRESH_S = 0.5  # wall seconds between two refreshes of a box's figures while the clock runs
MAX_BOXES_PER_FRAME = 6  # boxes refreshed per clock frame at most (a box repaint costs about 0.2 ms)


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
        self.layer = BoxLayer()
        for item in (self.links, self.flow, self.layer, self.source, self.balancer):
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
        self.layer.set_boxes(self.node_items())
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

    def content_rect(self) -> QRectF:
        """What the canvas shows, in scene units: the hubs, the links and the boxes."""
        rect = self.links.sceneBoundingRect().united(self.source.sceneBoundingRect())
        rect = rect.united(self.balancer.sceneBoundingRect())
        for item in self.items_by_id.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def node_items(self) -> list[NodeItem]:
        """Node boxes in engine order (while one step's added nodes are signalled one by one, those
        still to come have no box yet and are left out)."""
        return [self.items_by_id[i] for i in self.ctrl.node_ids if i in self.items_by_id]

    def _update_hubs(self) -> None:
        scenario = self.ctrl.scenario
        w = scenario.workload
        last = self.ctrl.last
        now = self.ctrl.history.last_rates()["offered"] if last else math.nan
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
        self.layer.add(item)
        state = self.ctrl.node_state(node_id)
        item.set_live(0.0, 0, state)  # a new node boots: not "up" yet
        item.set_phase(self._phase(node_id, state))
        self._after_count_changed()

    def _on_node_removed(self, node_id: int) -> None:
        item = self.items_by_id.pop(node_id)
        self.layer.remove(item)
        self.removeItem(item)
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
        if not self.ctrl.in_frame:  # a jump, a replay or Ctrl+T: the boxes at once, and no dots (the live flow)
            self.refresh_live()
            return
        self.flow.emit_requests(counts, self._tick_wall_s)
        # the clock's frames refresh the boxes in turn (``refresh_boxes``); a change of state shows now
        self._boxes_behind = len(self.items_by_id)
        self._update_hubs()
        items, states, draining = self.node_items(), self.ctrl.node_states(), self.ctrl.draining_names()
        changed = [k for k, (item, state) in enumerate(zip(items, states, strict=True))
                   if item.state != state or (item.phase == "draining") != (item.node.name in draining)] \
            if len(items) == states.size else range(len(items))
        for k in changed:
            self.refresh_live(k, k + 1, hubs=False)

    def refresh_boxes(self, wall_s: float) -> None:
        """A clock frame's share: the figures of the next few boxes, so each box follows the run every
        BOX_REFRESH_S of wall time and no frame repaints more than MAX_BOXES_PER_FRAME boxes. A busy
        frame (its engine steps, which drew their changes of state, or the explanations' refresh: see
        ``SimClock``) leaves the boxes to the next frame, unless the frame before left them too (at 5x
        and faster every frame runs steps: there, a box follows the run every 2 x BOX_REFRESH_S)."""
        n = len(self.items_by_id)
        self._box_credit = min(self._box_credit + n * wall_s / BOX_REFRESH_S, MAX_BOXES_PER_FRAME)
        count = min(int(self._box_credit), self._boxes_behind)
        if count <= 0 or n == 0:
            return
        if self.ctrl.frame_busy and not self._boxes_left:
            self._boxes_left = True
            return
        self._boxes_left = False
        first = self._next_box % n
        stop = min(first + count, n)
        self.refresh_live(first, stop, hubs=False)
        self._box_credit -= stop - first
        self._boxes_behind -= stop - first
        self._next_box = stop % n

    _tick_wall_s = 0.0
    _dots_wall_s = 0.0  # wall seconds the dots have yet to move
    _boxes_left = False  # the last frame left the boxes' refresh to this one

    def animate(self, wall_s: float) -> None:
        """Called every clock tick with the wall seconds elapsed; the dots move by it at ``move_dots``."""
        self._tick_wall_s = wall_s
        self._dots_wall_s += wall_s

    def move_dots(self, _wall_s: float = 0.0) -> None:
        """Move the dots by the wall time since they last moved, and repaint them (a clock frame's share)."""
        self.flow.animate(self._dots_wall_s)
        self._dots_wall_s = 0.0

    def refresh_live(self, first: int = 0, stop: int | None = None, hubs: bool = True) -> None:
        """Show the latest utilization (1 s average), queue and state on boxes ``first:stop`` (engine order),
        and the latest rates on the hubs unless ``hubs`` is False."""
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
        if hubs:
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
