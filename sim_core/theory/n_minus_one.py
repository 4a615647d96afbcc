""""Can I lose any one node?" (N-1): fork the run once per node, fail that node, look ahead.

``check(sim, ...)`` copies the running Simulation at its current time (same seed, same state,
same requests in flight: ``Simulation.checkpoint``/``restore``), fails node j in the copy, runs
it ``horizon_s`` seconds ahead and measures what the users would see: p99 latency of the requests
completed meanwhile, requests lost (in the node when it failed, and sent to it before the health
check noticed) and rejected (RAM full or no node left). The original run is not touched. The
cluster is N-1 safe when every fork keeps its p99 under the target and rejects at most
``max_rejected_share`` of what it is offered; requests lost in the failure itself are reported but
do not count against it (no redundancy saves them, only a faster health check does).

Pure sim_core: no Qt. The window runs it on a worker thread and shows ``progress(done, total)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DEFAULT_HORIZON_S = 60.0
# horizontal-7x1 at 50 req/s without one node is six E6/M/1 queues: p99 1.68 s in steady state, but
# a 60 s look-ahead's p99 swings by about a quarter either way, so the default leaves that room
DEFAULT_TARGET_P99_S = 2.5
DEFAULT_MAX_REJECTED_SHARE = 0.01


@dataclass(frozen=True)
class NodeLoss:
    """What losing one node does over the horizon. Latency in seconds, counts in requests."""

    name: str
    p99_s: float  # NaN when no request completed
    offered: int
    served: int
    rejected: int
    lost: int

    @property
    def availability(self) -> float:
        """served / (served + rejected + lost) over the horizon (0 when nothing was served)."""
        ended = self.served + self.rejected + self.lost
        return self.served / ended if ended else math.nan

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.offered if self.offered else 0.0


@dataclass(frozen=True)
class NMinusOne:
    """The verdict: ``safe``, the forks' results (one per node), the weak spot and the reason."""

    t: float
    horizon_s: float
    target_p99_s: float
    max_rejected_share: float
    losses: tuple[NodeLoss, ...]

    def _fails(self, loss: NodeLoss) -> bool:
        return not loss.p99_s <= self.target_p99_s or loss.rejected_share > self.max_rejected_share

    @property
    def safe(self) -> bool:
        return not any(self._fails(loss) for loss in self.losses)

    @property
    def weak_spot(self) -> NodeLoss:
        """The node whose loss hurts most: most rejected, then highest p99 (NaN counts as worst)."""
        return max(self.losses, key=lambda x: (x.rejected_share, math.inf if math.isnan(x.p99_s) else x.p99_s))

    def verdict(self) -> str:
        """One line for the canvas, e.g. ``N-1 not safe (p99 target 2.5 s): losing node-3: p99 4.1 s, ...``."""
        worst = self.weak_spot
        p99 = "no request served" if math.isnan(worst.p99_s) else f"p99 {worst.p99_s:.3g} s"
        tail = (f"{p99}, {100 * worst.rejected_share:.1f}% rejected, {worst.lost} lost, availability "
                f"{100 * worst.availability:.1f}% over {self.horizon_s:g} s")
        if self.safe:
            return f"N-1 safe (p99 target {self.target_p99_s:g} s): worst is losing {worst.name}: {tail}"
        return f"N-1 not safe (p99 target {self.target_p99_s:g} s): losing {worst.name}: {tail}"


def fork(sim, checkpoint=None):
    """An independent copy of a Simulation at its current time (or at ``checkpoint``, one of its
    own ``Simulation.checkpoint()``s): same seed, state and timeline; no request log."""
    twin = copy.copy(sim)
    twin.record = False
    twin.events = list(sim.events)
    twin.restore(sim.checkpoint() if checkpoint is None else checkpoint)
    return twin


def check(sim, horizon_s: float = DEFAULT_HORIZON_S, target_p99_s: float = DEFAULT_TARGET_P99_S,
          max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE, dt: float = 5.0,
          progress: Callable[[int, int], None] | None = None,
          cancelled: Callable[[], bool] | None = None) -> NMinusOne | None:
    """Fail each node of ``sim`` in turn in a fork and run ``horizon_s`` seconds ahead (steps of ``dt``).

    The failed node stays down for the horizon (random repairs are switched off in the fork).
    ``progress(done, total)`` after each fork; ``cancelled()`` True stops early and returns None.
    """
    names = [node.name for node in sim.scenario.nodes]
    checkpoint = sim.checkpoint()
    losses = []
    for j, name in enumerate(names):
        if cancelled is not None and cancelled():
            return None
        twin = fork(sim, checkpoint)
        _keep_down(twin)
        twin.fail(j)
        losses.append(_run_ahead(twin, name, horizon_s, dt))
        if progress is not None:
            progress(j + 1, len(names))
    return NMinusOne(sim.t, horizon_s, target_p99_s, max_rejected_share, tuple(losses))


def warm_up_worker() -> None:
    """Initializer of a worker process that runs ``check_node``: yield the CPU to the window (nice 10)
    and load the compiled kernel once."""
    import os

    from sim_core.engine import kernel

    if hasattr(os, "nice"):
        os.nice(10)
    kernel.warm_up()


def check_node(base, j: int, horizon_s: float = DEFAULT_HORIZON_S, dt: float = 5.0) -> NodeLoss:
    """One fork of ``check``: node ``j`` of ``base`` (a Simulation, e.g. a ``fork``) fails now and the
    copy runs ``horizon_s`` ahead. ``base`` is not changed; a worker process can run this alone."""
    twin = fork(base)
    _keep_down(twin)
    twin.fail(j)
    return _run_ahead(twin, base.scenario.nodes[j].name, horizon_s, dt)


def _keep_down(twin) -> None:
    """No random repair in the fork: the question is what the others do while the node is gone."""
    scenario = twin._scenario  # the fork's own view; the original run keeps its failures
    if any(node.mtbf_s is not None for node in scenario.nodes):
        nodes = [node.model_copy(update={"mtbf_s": None, "mttr_s": None}) for node in scenario.nodes]
        twin._scenario = scenario.model_copy(update={"nodes": nodes})


def _run_ahead(twin, name: str, horizon_s: float, dt: float) -> NodeLoss:
    start = (twin.state.offered, twin.state.served, twin.state.rejected, twin.state.lost)
    latencies = []
    end = twin.t + horizon_s
    while twin.t < end - 1e-9:
        snap = twin.step(min(dt, end - twin.t))
        latencies.append(snap.latencies)
    done = np.concatenate(latencies) if latencies else np.empty(0)
    p99 = float(np.quantile(done, 0.99)) if done.size else math.nan
    offered, served, rejected, lost = (now - before for now, before in zip(
        (twin.state.offered, twin.state.served, twin.state.rejected, twin.state.lost), start, strict=True))
    return NodeLoss(name, p99, offered, served, rejected, lost)
