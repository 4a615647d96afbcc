"""The numbers behind the window's explanations: theory, bands, availability and N-1, kept live.

``Explainer`` listens to a SimController: every engine step feeds the live bands
(``sim_core.theory.live_bands``) and the measured availability; a change of the cluster, the load or a
node's state marks the theory prediction stale (recomputed on the next step, cached otherwise:
about 2 ms for 200 identical nodes) and restarts the N-1 check when it is on. The N-1 check runs
in a worker process on a copy of the run pickled on the UI thread (``n_minus_one.fork_payload``), so
the live run is never touched from two places and no frame waits for it. Views read only this object.
"""

from __future__ import annotations

import atexit
import itertools
import math
import os
import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from sim_core.engine.failures import has_failures
from sim_core.engine.state import UP
from sim_core.scenario import RampShape, StepShape
from sim_core.theory import availability, n_minus_one
from sim_core.theory import predict as theory
from sim_core.theory.live_bands import LiveBands, WindowBands

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

_POOL: ProcessPoolExecutor | None = None
_CHECKS = itertools.count()  # numbers the N-1 checks: the worker unpickles each check's base once


def _worker_pool() -> ProcessPoolExecutor:
    """One worker process for N-1 checks, started on first use and kept (spawned: no Qt in it)."""
    global _POOL
    if _POOL is None:
        import multiprocessing  # here, not at import: the window's first frame does not wait for it
        from concurrent.futures import ProcessPoolExecutor

        _POOL = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=n_minus_one.warm_up_worker)
        # stopped before the interpreter tears its modules down (else its finalizer reports an error)
        atexit.register(_POOL.shutdown, wait=False, cancel_futures=True)
    return _POOL


PREDICT_EVERY_S = 0.5  # simulated seconds between re-predictions while the rate shape changes
REFRESH_WALL_S = 0.25  # the bands and panels move on at most 4 times per wall second
N1_TASKS = 24  # an N-1 check's tasks for the worker (a few nodes each at 200 nodes: each submit costs ~0.1 ms)


class Explainer(QObject):
    """Live theory, bands, availability and N-1 for one controller. Signals carry no engine objects."""

    changed = Signal()  # prediction, bands or availability moved on
    n1_progress = Signal(int, int)  # forks done, forks in all (one per node and one with none failing)
    n1_finished = Signal(object)  # an NMinusOne result, or None when the check was cancelled
    _n1_result = Signal(int, object)  # from the pool's thread: (generation, (node indices, NodeLosses or None))

    def __init__(self, controller, parent: QObject | None = None):
        super().__init__(parent)
        self.ctrl = controller
        self.live = LiveBands()
        self.prediction: theory.Prediction | None = None
        self.bands: WindowBands = self.live.bands()
        self.report: availability.AvailabilityReport | None = None
        self._report_for: object = None  # the scenario ``report`` was predicted for
        self._left_frame = False  # the last clock frame was busy: this one refreshes (see on_frame)
        self.in_frame = False  # ``changed`` is being emitted by a clock frame's refresh (views may wait)
        self.n1_enabled = False
        self.target_p99_s: float | None = None  # None: the default (n_minus_one.default_target)
        self.horizon_s = n_minus_one.DEFAULT_HORIZON_S
        self.n1_result: n_minus_one.NMinusOne | None = None
        self.n1_running = False
        self._generation = 0
        self._futures: list = []
        self._parts: dict = {}
        self._n1_meta: tuple = ()
        self._stale = True
        self._predicted_at = -math.inf
        self._refreshed_wall = -math.inf
        self._new_steps = False  # steps taken in since the bands were last computed
        self._view = b""
        c = controller
        c.stepped.connect(self._on_stepped)
        for signal in (c.node_added, c.node_removed, c.node_changed, c.node_state_changed):
            signal.connect(lambda _id: self.invalidate())
        for signal in (c.balancer_changed, c.workload_changed):
            signal.connect(self.invalidate)
        c.scenario_replaced.connect(self.restart)
        c.sim_reset.connect(self.rewind)
        self._n1_result.connect(self._on_n1_result)

    # live figures -----------------------------------------------------------------------------
    def restart(self) -> None:
        """A new run (new document, reset): forget the bands and the measured availability."""
        self.live.reset()
        self.rewind()

    def rewind(self) -> None:
        """The run moved to another moment (a scrub, or a reset to 0): the bands, the warm-up and the
        measured availability as they were then."""
        self._refreshed_wall = -math.inf
        self.live.rewind(self.ctrl.t)
        self.bands = self.live.bands()
        self.invalidate()

    def invalidate(self) -> None:
        """The cluster or the load changed: predict again, and re-run N-1 if it is on."""
        self._stale = True
        self._refresh_prediction()
        if self.n1_enabled:
            self.start_n1()
        self.changed.emit()

    def _on_stepped(self, snaps: list) -> None:
        if not snaps:
            return
        view = snaps[-1].state.tobytes()
        if view != self._view:  # a random failure or a restart (the user's actions emit signals)
            self._view = view
            self._stale = True
        self._new_steps = True
        report = self.report
        for snap in snaps:
            up = snap.state == UP
            judged = report is not None and up.size == report.capacity_rps.size
            self.live.add(snap, float(np.dot(up, report.capacity_rps)) > report.load_rps if judged else None)
        if not self.ctrl.in_frame:
            self._catch_up(frame=False)

    def on_frame(self, _wall_s: float = 0.0) -> None:
        """Bring the bands (and a stale prediction) up to date, at most every REFRESH_WALL_S of wall time.

        Called on every clock frame (``SimClock.framed``), steps or not, so that the refresh is one
        frame's share of the work: a frame whose steps (or a chart) were its costly work (``frame_busy``)
        leaves it to the next, unless the cluster changed. Steps outside the clock's frames refresh at once."""
        self._catch_up(frame=True)

    def _catch_up(self, frame: bool) -> None:
        now = time.monotonic()
        if now < self._refreshed_wall + REFRESH_WALL_S and not self._stale:
            return  # the frame stays cheap; the next tick past the interval catches up
        if not self._new_steps and not self._stale:
            return  # no step since the last refresh (paused)
        if frame and self.ctrl.frame_busy and not self._stale and not self._left_frame:
            self._left_frame = True
            return
        self._left_frame = False
        self.ctrl.frame_busy = frame
        self.in_frame = frame
        self._refreshed_wall = now
        self.bands = self.live.bands()
        self._new_steps = False
        shape = self.ctrl.scenario.workload.shape
        moving = isinstance(shape, (RampShape, StepShape))
        if self._stale or not self.prediction or not self.prediction.applies or (
                moving and self.ctrl.t >= self._predicted_at + PREDICT_EVERY_S):
            self._refresh_prediction()
        try:
            self.changed.emit()
        finally:
            self.in_frame = False

    def refresh_now(self) -> None:
        """Bring the bands and views up to date now (the per-step refresh is throttled)."""
        self.bands = self.live.bands()
        self._refreshed_wall = time.monotonic()
        self._refresh_prediction()
        self.changed.emit()

    def _refresh_prediction(self) -> None:
        self.prediction = self.ctrl.predict()
        self._predicted_at = self.ctrl.t
        self._stale = False
        scenario = self.ctrl.scenario
        if scenario is not self._report_for:  # a failure changes the state, not the scenario: same report
            self._report_for = scenario
            self.report = availability.predict_availability(scenario) if has_failures(scenario) else None

    @property
    def observed_s(self) -> float:
        """Simulated seconds of the run up to the moment shown in which availability was judged."""
        return self.live.measured()[1]

    @property
    def measured_availability(self) -> float:
        """Share of simulated time with enough capacity up, up to the moment shown (NaN before any step)."""
        carried_s, observed_s = self.live.measured()
        return carried_s / observed_s if observed_s else math.nan

    # N-1 --------------------------------------------------------------------------------------
    def set_n1(self, enabled: bool, target_p99_s: float | None = None) -> None:
        """Turn the N-1 check on (runs now and after each change) or off (cancels a running one),
        against ``target_p99_s`` (s; None: the default, see ``n_minus_one.default_target``)."""
        self.target_p99_s = None if target_p99_s is None else float(target_p99_s)
        self.n1_enabled = bool(enabled)
        if self.n1_enabled:
            self.start_n1()
        else:
            self.cancel_n1()
            self.n1_result = None
            self.changed.emit()

    def start_n1(self) -> None:
        """Pickle the run now (UI thread) and check each node's loss in a worker process.

        A process, not a thread: the forks are Python-heavy and would hold the GIL the frames need.
        The process stays up between checks (its kernel loaded once). The run is pickled once (the
        fork is made in the worker from it) and the nodes, and one more fork with no node failing (the
        default target's baseline), go out in N1_TASKS tasks, so progress follows the tasks and a
        change cancels the ones not yet started.
        """
        self.cancel_n1()
        self._generation += 1
        generation = self._generation
        payload = self.ctrl.fork_payload()
        scenario = self.ctrl.scenario
        total = len(scenario.nodes) + 1
        self.n1_running = True
        self._parts: dict[int | None, n_minus_one.NodeLoss] = {}
        self._n1_meta = (generation, total, scenario, self.ctrl.t, self.target_p99_s, self.horizon_s)
        self.n1_progress.emit(0, total)
        pool = _worker_pool()
        self._futures = []
        key = f"{os.getpid()}.{next(_CHECKS)}"
        order = [*range(total - 1), None]
        size = math.ceil(len(order) / N1_TASKS)
        for chunk in (tuple(order[k:k + size]) for k in range(0, len(order), size)):
            future = pool.submit(n_minus_one.check_nodes_of, key, payload, chunk, self.horizon_s)
            future.add_done_callback(lambda f, chunk=chunk: self._part_done(generation, chunk, f))
            self._futures.append(future)

    def _part_done(self, generation: int, chunk: tuple, future) -> None:
        """Runs on the pool's thread: hand the result to the UI thread."""
        if future.cancelled():
            return
        try:
            result = future.result()
        except Exception:  # noqa: BLE001 - a fork that failed leaves this check incomplete
            result = None
        try:
            self._n1_result.emit(generation, (chunk, result))
        except RuntimeError:  # the window is gone
            pass

    def cancel_n1(self) -> None:
        for future in getattr(self, "_futures", []):
            future.cancel()
        self._futures = []
        self.n1_running = False

    def _on_n1_result(self, generation: int, part) -> None:
        if generation != self._generation or not self.n1_running:
            return  # a newer check has started, or this one was cancelled
        chunk, losses = part
        _gen, total, scenario, t, target, horizon = self._n1_meta
        if losses is None:
            self.cancel_n1()
            self.n1_finished.emit(None)
            self.changed.emit()
            return
        self._parts.update(zip(chunk, losses, strict=True))
        self.n1_progress.emit(len(self._parts), total)
        if len(self._parts) == total:
            self.n1_running = False
            losses = tuple(self._parts[k] for k in range(total - 1))
            self.n1_result = n_minus_one.verdict_of(scenario, t, losses, self._parts[None], horizon, target)
            self.n1_finished.emit(self.n1_result)
            self.changed.emit()

    def wait_n1(self, timeout_s: float = 60.0) -> bool:
        """For tests and benchmarks: process events until the running check is done."""
        from PySide6.QtCore import QCoreApplication

        end = time.monotonic() + timeout_s
        while self.n1_running and time.monotonic() < end:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return not self.n1_running
