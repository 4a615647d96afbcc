"""Play a challenge with a few large buttons: set the cluster up, run it, see each goal's verdict.

For the kiosk (``touch=True``) and anyone who wants the challenges without the editor. The player
changes only what the challenge allows (``goals.allowed``): add or remove a server, make the servers
bigger (the slide's 1/2/4 CPU ladder), the balancing policy and health check, an autoscaler. Run
simulates the set-up cluster from t = 0 at ``speed`` x real time in a ``Session``; the goals panel
shows each target live, and the result card the verdicts at the end (the "survive any one
failure" runs happen in a worker thread so the screen stays live).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.controller import SimController
from app.panels.goals import GoalsPanel, ResultCard
from sim_core.challenge import Verdict, check_rules, finish, max_cost_per_hour
from sim_core.engine.state import DOWN, RESTARTING
from sim_core.scenario import POLICIES, SLIDE_LADDER, Autoscaler, Node, Scenario
from sim_core.scenario_file import builtin_names, resolve

HEALTH_CHECKS_S = (3.0, 2.0, 1.0, 0.5)
TICK_MS = 50
MAX_TILES = 12  # server tiles shown; more are summed up in the last one
EXTRA_RUN_DT = 1.0  # s: the engine step of the failure runs (the same requests at any step)
PLAY_AUTOSCALER = Autoscaler(target_utilization=0.7, min_nodes=2, max_nodes=10, period_s=15.0, stabilization_s=60.0,
                             template=Node(name="auto", price_per_hour=0.0116, restart_s=10.0))


def challenge_names() -> list[str]:
    """The built-in challenges, in order."""
    return [name for name in builtin_names() if name.startswith("challenge-")]


def short_title(name: str) -> str:
    """``challenge-3-survive-failures`` -> ``3 Survive failures`` (two words at most)."""
    parts = name.split("-")
    return f"{parts[1]} {' '.join(parts[2:4]).capitalize()}" if len(parts) > 2 else name


class ChallengePlay(QWidget):
    """Choose a challenge, change the cluster with large buttons, run it, read the verdicts."""

    finished = Signal(bool)  # the run ended: all goals met?
    back = Signal()  # the player asked to leave (the kiosk goes back to its lessons)

    def __init__(self, parent: QWidget | None = None, touch: bool = True, speed: float = 10.0):
        super().__init__(parent)
        self.touch = touch
        self.speed = speed
        self.point_size = 16 if touch else 10
        self.challenge: Scenario | None = None
        self.setup: Scenario | None = None
        self.ctrl: SimController | None = None  # the run, once Run is pressed
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._extra: Future | None = None
        self._done = False
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self._build()
        self.load(challenge_names()[0])

    # layout -------------------------------------------------------------------------------------
    def _button(self, text: str, slot, point_size: int | None = None) -> QPushButton:
        button = QPushButton(text)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setMinimumHeight(self.point_size * 4)
        button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # share the row, never widen it
        size = point_size or self.point_size
        button.setStyleSheet(f"font-size: {size}pt; font-weight: 600; padding: 4px 6px;")
        button.clicked.connect(slot)
        return button

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        picks = QHBoxLayout()
        self.pick_buttons = []
        for name in challenge_names():
            button = self._button(short_title(name), lambda _=False, n=name: self.load(n), self.point_size - 3)
            button.setCheckable(True)
            picks.addWidget(button)
            self.pick_buttons.append((name, button))
        picks.addWidget(self._button("◀ Lessons", self.leave, self.point_size - 3))
        layout.addLayout(picks)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet(f"font-size: {self.point_size}pt; background: #fff8e1; padding: 8px 12px;"
                                       " border-radius: 8px;")
        layout.addWidget(self.description)
        middle = QHBoxLayout()
        left = QVBoxLayout()
        self.tiles = QGridLayout()
        self.tile_labels: list[QLabel] = []
        left.addLayout(self.tiles)
        self.setup_line = QLabel()
        self.setup_line.setWordWrap(True)
        self.setup_line.setStyleSheet(f"font-size: {self.point_size}pt;")
        left.addWidget(self.setup_line)
        controls = QGridLayout()
        self.add_button = self._button("+ Server", self.add_server)
        self.remove_button = self._button("− Server", self.remove_server)
        self.bigger_button = self._button("Bigger servers", self.bigger_servers)
        self.policy_button = self._button("Policy", self.next_policy)
        self.health_button = self._button("Health check", self.next_health_check)
        self.auto_button = self._button("Autoscaler", self.toggle_autoscaler)
        self.run_button = self._button("▶ Run", self.run)
        self.reset_button = self._button("↺ Start over", lambda: self.load(self.challenge.name))
        buttons = [self.add_button, self.remove_button, self.bigger_button, self.policy_button,
                   self.health_button, self.auto_button, self.run_button, self.reset_button]
        for k, button in enumerate(buttons):
            controls.addWidget(button, k // 4, k % 4)
        left.addLayout(controls)
        self.progress = QLabel()
        self.progress.setStyleSheet(f"font-size: {self.point_size}pt; color: #4a5563;")
        left.addWidget(self.progress)
        self.chart = pg.GraphicsLayoutWidget()
        self.chart.setMinimumHeight(self.point_size * 12)
        self.rates_plot = self.chart.addPlot(0, 0, title="Requests/s")
        self.nodes_plot = self.chart.addPlot(0, 1, title="Servers and cost")
        self.curves = {
            "offered": self.rates_plot.plot(pen=pg.mkPen("#7f8c99", width=2, style=Qt.PenStyle.DashLine)),
            "served": self.rates_plot.plot(pen=pg.mkPen("#2e9d4f", width=2)),
            "rejected": self.rates_plot.plot(pen=pg.mkPen("#ef8a17", width=2)),
            "n_nodes": self.nodes_plot.plot(pen=pg.mkPen("#1e88e5", width=2), stepMode=None),
            "cost": self.nodes_plot.plot(pen=pg.mkPen("#6d4c41", width=2)),
        }
        self.nodes_plot.setLabel("left", "servers / cost x 100 ($/h)")
        left.addWidget(self.chart, 1)
        middle.addLayout(left, 3)
        self.goals = GoalsPanel(touch=self.touch)
        middle.addWidget(self.goals, 2)
        layout.addLayout(middle, 1)
        self.result = ResultCard(self, touch=self.touch)
        self.result.try_again.connect(self._back_to_setup)
        self.result.closed.connect(self._back_to_setup)

    # the challenge and its set-up ---------------------------------------------------------------
    def load(self, name: str) -> None:
        """Show challenge ``name`` with its starting cluster, ready to change and run."""
        self._stop()
        self.challenge = resolve(name)
        self.setup = self.challenge
        for pick, button in self.pick_buttons:
            button.setChecked(pick == name)
        self.description.setText(self.challenge.description)
        self.goals.set_challenge(self.challenge)
        self._back_to_setup()

    def allowed(self, change: str) -> bool:
        return self.challenge is not None and change in self.challenge.goals.allowed

    def _edit(self, **changes: object) -> None:
        self.setup = self.setup.model_copy(update=changes)
        self._show_setup()

    def add_server(self) -> None:
        nodes = self.setup.nodes
        names = {n.name for n in nodes}
        k = len(nodes) + 1
        while f"node-{k}" in names:
            k += 1
        last = nodes[-1]
        self._edit(nodes=[*nodes, last.model_copy(update={"name": f"node-{k}", "y": last.y + 160.0})])

    def remove_server(self) -> None:
        if len(self.setup.nodes) > 1:
            self._edit(nodes=self.setup.nodes[:-1])

    def bigger_servers(self) -> None:
        """Every server one rung up the slide's ladder (from the top, back to the smallest)."""
        cores = self.setup.nodes[0].cores
        rung = next((r for r in SLIDE_LADDER if r.cores > cores), SLIDE_LADDER[0])
        self._edit(nodes=[n.model_copy(update=rung.model_dump()) for n in self.setup.nodes])

    def next_policy(self) -> None:
        balancer = self.setup.balancer
        policy = POLICIES[(POLICIES.index(balancer.policy) + 1) % len(POLICIES)]
        self._edit(balancer=balancer.model_copy(update={"policy": policy}))

    def next_health_check(self) -> None:
        balancer = self.setup.balancer
        later = [s for s in HEALTH_CHECKS_S if s < balancer.health_check_s]
        value = later[0] if later else HEALTH_CHECKS_S[0]
        self._edit(balancer=balancer.model_copy(update={"health_check_s": value}))

    def toggle_autoscaler(self) -> None:
        self._edit(autoscaler=None if self.setup.autoscaler is not None else PLAY_AUTOSCALER)

    def problems(self) -> list[str]:
        """What the set-up breaks of the challenge's rules (empty: it may run)."""
        return check_rules(self.challenge, self.setup)

    def _show_setup(self) -> None:
        setup = self.setup
        size = setup.nodes[0]
        auto = setup.autoscaler
        budget = self.challenge.goals.budget_per_hour
        text = (f"Your cluster: {len(setup.nodes)} × {size.spec_label()} · {setup.balancer.policy.replace('_', ' ')} · "
                f"health check {setup.balancer.health_check_s:g} s"
                + (f" · autoscaler {auto.min_nodes}..{auto.max_nodes} nodes" if auto else "")
                + f" · up to {max_cost_per_hour(setup):.4f} $/h"
                + (f" (budget {budget:.4f})" if budget is not None else ""))
        problems = self.problems()
        if problems:
            text += "\n" + problems[0]
        self.setup_line.setText(text)
        running = self.ctrl is not None
        self.add_button.setEnabled(not running and self.allowed("nodes"))
        self.remove_button.setEnabled(not running and self.allowed("nodes") and len(setup.nodes) > 1)
        self.bigger_button.setEnabled(not running and self.allowed("resize"))
        self.policy_button.setEnabled(not running and self.allowed("policy"))
        self.health_button.setEnabled(not running and self.allowed("policy"))
        self.auto_button.setEnabled(not running and self.allowed("autoscaler"))
        self.policy_button.setText(setup.balancer.policy.replace("_", " ").replace("connections", "conn."))
        self.health_button.setText(f"Check {setup.balancer.health_check_s:g} s")
        self.auto_button.setText("Autoscaler: on" if auto else "Autoscaler: off")
        self.run_button.setEnabled(not running and not problems)
        self._show_tiles(setup.nodes, None)

    # running ------------------------------------------------------------------------------------
    def run(self) -> None:
        """Simulate the set-up cluster from t = 0; the verdicts follow live."""
        if self.problems():
            return
        self.result.hide()
        self._done = False
        self.ctrl = SimController(self.setup, parent=self)
        self.goals.show_verdicts(self.ctrl.judge().verdicts())
        self._show_setup()
        self.timer.start()

    def _tick(self) -> None:
        ctrl = self.ctrl
        if ctrl is None or self._done:
            return
        if self._extra is None:
            end = self.setup.duration_s
            seconds = min(self.speed * TICK_MS / 1000.0, end - ctrl.t)
            if seconds > 1e-9:
                ctrl.advance(seconds, max(1, round(seconds / 0.1)))
            judge = ctrl.judge()
            self.goals.show_verdicts(judge.verdicts())
            self._show_tiles(ctrl.scenario.nodes, ctrl)
            self._show_progress(ctrl)
            if ctrl.t >= end - 1e-9:
                self._extra = self._pool.submit(finish, judge, ctrl.run_scenario(), ctrl.seed, EXTRA_RUN_DT)
        elif self._extra.done():
            verdicts: list[Verdict] = self._extra.result()
            self._extra = None
            self._done = True
            self.timer.stop()
            self.goals.show_verdicts(verdicts)
            self.result.show_result(self.challenge.name, verdicts)
            self._place_result()
            self.finished.emit(self.result.passed)

    def play_to_end(self, timeout_s: float = 300.0) -> list[str]:
        """Run the set-up to its end without the timer (tests, screenshots); returns the goals' final statuses."""
        if self.ctrl is None:
            self.run()
        self.timer.stop()
        while not self._done and self._extra is None:
            self._tick()
        if self._extra is not None:
            self._extra.result(timeout=timeout_s)
            self._tick()
        return [row.status for row in self.result.rows]

    def _stop(self) -> None:
        self.timer.stop()
        if self._extra is not None:
            self._extra.cancel()
            self._extra = None
        if self.ctrl is not None:
            self.ctrl.deleteLater()
        self.ctrl = None
        self._done = False

    def _back_to_setup(self) -> None:
        self._stop()
        self.result.hide()
        self._show_setup()
        for curve in self.curves.values():
            curve.setData([], [])
        self.progress.setText(f"Press Run to play {self.setup.duration_s:.0f} s of traffic at {self.speed:g}x speed.")

    def leave(self) -> None:
        self._stop()
        self.back.emit()

    def _place_result(self) -> None:
        width, height = min(self.width() - 40, 900), min(self.height() - 40, 520)
        self.result.setGeometry((self.width() - width) // 2, (self.height() - height) // 2, width, height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.result.isVisible():
            self._place_result()

    def _show_progress(self, ctrl: SimController) -> None:
        """The time line and the charts: requests/s, servers in the cluster and cost ($/h x 100)."""
        last = ctrl.last
        self.progress.setText(f"t = {ctrl.t:.0f} of {self.setup.duration_s:.0f} s · "
                              f"{len(ctrl.scenario.nodes)} servers · {last.cost_per_hour:.4f} $/h now")
        history = ctrl.history
        t = history.column("t")
        rates = history.rates()
        for name in ("offered", "served", "rejected"):
            self.curves[name].setData(t, rates[name])
        self.curves["n_nodes"].setData(t, history.column("n_nodes"))
        self.curves["cost"].setData(t, history.column("cost_per_hour") * 100.0)

    # the cluster as tiles -----------------------------------------------------------------------
    def _show_tiles(self, nodes: list[Node], ctrl: SimController | None) -> None:
        while len(self.tile_labels) < min(len(nodes), MAX_TILES):
            label = QLabel()
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumSize(self.point_size * 5, self.point_size * 5)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            k = len(self.tile_labels)
            self.tiles.addWidget(label, k // 6, k % 6)
            self.tile_labels.append(label)
        util = None if ctrl is None else ctrl.history.recent_utilization(ctrl.node_ids)  # 1 s average
        states = None if ctrl is None else ctrl.node_states()
        ids = [] if ctrl is None else ctrl.node_ids
        for k, label in enumerate(self.tile_labels):
            label.setVisible(k < len(nodes))
            if k >= len(nodes):
                continue
            node = nodes[k]
            state, colour = "ready", "#e3ecf7"
            if ctrl is not None:
                j = k
                code = int(states[j])
                if ctrl.node_draining(ids[j]):
                    state, colour = "draining", "#fde7c8"
                elif code == DOWN:
                    state, colour = "DOWN", "#cfd3d8"
                elif code == RESTARTING:
                    state, colour = "booting", "#fff3b0"
                elif util is not None and j < util.size:
                    state = f"{round(100 * util[j])}% busy"
                    colour = "#d7f0dc" if util[j] < 0.8 else "#f8d0cc"
            more = f"\n+{len(nodes) - MAX_TILES} more" if k == MAX_TILES - 1 and len(nodes) > MAX_TILES else ""
            label.setText(f"{node.name}\n{node.cores} CPU · {node.ram_gb:g} GB\n{state}{more}")
            label.setStyleSheet(f"background: {colour}; border: 1px solid #9aa7b5; border-radius: 8px;"
                                f" font-size: {max(self.point_size - 2, 8)}pt;")

    def closeEvent(self, event) -> None:
        self._stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)
