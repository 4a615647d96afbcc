""""Can I lose any one node?" (N-1): fork the run once per node, fail that node, look ahead.

``check(sim, ...)`` copies the running Simulation at its current time (same seed, same state,
same requests in flight: ``Simulation.checkpoint``/``restore``), fails node j in the copy, runs
it ``horizon_s`` seconds ahead and measures what the users would see: p99 latency of the requests
completed meanwhile, requests lost (in the node when it failed, and sent to it before the health
check noticed) and rejected (RAM full or no node left). The original run is not touched. The
cluster is N-1 safe when every fork keeps its p99 under the target and rejects at most
``max_rejected_share`` of what it is offered; requests lost in the failure itself are reported but
do not count against it (no redundancy saves them, only a faster health check does).

The p99 target is the user's; without one it is the scenario's own p99 goal, or else
``HEALTHY_FACTOR`` times the p99 of one more fork in which no node fails: the same requests over
the same horizon with every node up. So the default follows the workload (a cluster of 1 ms
requests is held to milliseconds, one of 100 ms requests to about a second or two), and it asks
the question N-1 is about: does losing any one node hurt the tail much more than normal?

Pure sim_core: no Qt. The window runs ``check_nodes_of`` in a worker process, a few nodes per task.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DEFAULT_HORIZON_S = 60.0
# Losing one of N nodes raises the others' load by N/(N-1): for the slide's seven nodes at 70% the
# steady p99 goes from 1.00 s (E7/M/1) to 1.68 s (E6/M/1), 1.7x. The check reads the worst of N
# 60 s look-aheads, which runs high: over 30 seeds at 50 req/s the worst fork's p99 was 1.13-1.98 s,
# 0.9-2.0x the fork with every node up. 2.5x leaves that noise room; a cluster whose queues run
# away without the node fails it (or the rejected share) all the same.
HEALTHY_FACTOR = 2.5
DEFAULT_MAX_REJECTED_SHARE = 0.01
HEALTHY = "no node"  # the name of the fork in which no node fails


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
    target_p99_s: float  # NaN when the default could not be set (no request served even with every node up)
    max_rejected_share: float
    losses: tuple[NodeLoss, ...]
    healthy: NodeLoss | None = None  # the fork in which no node fails
    target_from: str = "set by the user"  # where ``target_p99_s`` comes from, for the verdict

    def _fails(self, loss: NodeLoss) -> bool:
        return not loss.p99_s <= self.target_p99_s or loss.rejected_share > self.max_rejected_share

    @property
    def safe(self) -> bool:
        return not any(self._fails(loss) for loss in self.losses)

    @property
    def weak_spot(self) -> NodeLoss:
        """The node whose loss hurts most: most rejected, then highest p99 (NaN counts as worst)."""
        return max(self.losses, key=lambda x: (x.rejected_share, math.inf if math.isnan(x.p99_s) else x.p99_s))

    def target_text(self) -> str:
        """The target and where it comes from, e.g. ``p99 target 2.41 s, 2.5 x 0.963 s with every node up``."""
        return f"p99 target {self.target_p99_s:.3g} s, {self.target_from}"

    def verdict(self) -> str:
        """One line for the panel, e.g. ``N-1 not safe (p99 target 2.5 s, ...): losing node-3: p99 4.1 s, ...``."""
        worst = self.weak_spot
        p99 = "no request served" if math.isnan(worst.p99_s) else f"p99 {worst.p99_s:.3g} s"
        tail = (f"{p99}, {100 * worst.rejected_share:.1f}% rejected, {worst.lost} lost, availability "
                f"{100 * worst.availability:.1f}% over {self.horizon_s:g} s")
        if self.safe:
            return f"N-1 safe ({self.target_text()}): worst is losing {worst.name}: {tail}"
        return f"N-1 not safe ({self.target_text()}): losing {worst.name}: {tail}"


def default_target(scenario, healthy_p99_s: float) -> tuple[float, str]:
    """The p99 target (s) when the user sets none, and where it comes from: the scenario's own p99
    goal (the tightest), else ``HEALTHY_FACTOR`` x ``healthy_p99_s``, the p99 (s) of the look-ahead
    with every node up (NaN stays NaN: then no fork can pass)."""
    goals = [g.at_most / 1000.0 for g in scenario.goals.targets if g.metric == "p99_ms"] if scenario.goals else []
    if goals:
        return min(goals), "the scenario's p99 goal"
    return HEALTHY_FACTOR * healthy_p99_s, f"{HEALTHY_FACTOR:g} x {healthy_p99_s:.3g} s with every node up"


def verdict_of(scenario, t: float, losses: tuple[NodeLoss, ...], healthy: NodeLoss, horizon_s: float,
               target_p99_s: float | None = None,
               max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE) -> NMinusOne:
    """The NMinusOne of the forks taken at ``t`` (s) of a run of ``scenario`` (``check_node`` of each
    node, and of none for ``healthy``) against ``target_p99_s`` (s), or the default target when it
    is None (see ``default_target``)."""
    if target_p99_s is None:
        target, source = default_target(scenario, healthy.p99_s)
    else:
        target, source = float(target_p99_s), "set by the user"
    return NMinusOne(t, horizon_s, target, max_rejected_share, losses, healthy, source)


def fork(sim, checkpoint=None):
    """An independent copy of a Simulation at its current time (or at ``checkpoint``, one of its
    own ``Simulation.checkpoint()``s): same seed, state and timeline; no request log."""
    twin = copy.copy(sim)
    twin.record = False
    twin.events = list(sim.events)
    twin.restore(sim.checkpoint() if checkpoint is None else checkpoint)
    return twin


def fork_payload(sim) -> bytes:
    """``fork(sim)`` pickled, for a worker process (``check_nodes_of``): the run pickled as it is, since
    pickling is itself the copy (a fork first and its pickle then took twice as long: about 45 ms at
    200 nodes, on the UI thread). The request log stays out; the worker's fork starts from it as
    ``fork`` does (pending resizes applied, nothing skipped)."""
    twin = copy.copy(sim)
    twin.record = False
    twin._recorder = None  # noqa: SLF001 - the log is the one thing a fork leaves out
    return pickle.dumps(twin, pickle.HIGHEST_PROTOCOL)


def check(sim, horizon_s: float = DEFAULT_HORIZON_S, target_p99_s: float | None = None,
          max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE, dt: float = 5.0,
          progress: Callable[[int, int], None] | None = None,
          cancelled: Callable[[], bool] | None = None) -> NMinusOne | None:
    """Fail each node of ``sim`` in turn in a fork and run ``horizon_s`` seconds ahead (steps of ``dt``);
    one more fork, with no node failing, gives the default target (``target_p99_s`` None, see ``default_target``).

    The failed node stays down for the horizon (random repairs are switched off in the fork).
    ``progress(done, total)`` after each fork; ``cancelled()`` True stops early and returns None.
    """
    total = len(sim.scenario.nodes) + 1
    base = fork(sim)
    parts = []
    for j in [*range(total - 1), None]:
        if cancelled is not None and cancelled():
            return None
        parts.append(check_node(base, j, horizon_s, dt))
        if progress is not None:
            progress(len(parts), total)
    return verdict_of(sim.scenario, sim.t, tuple(parts[:-1]), parts[-1], horizon_s, target_p99_s,
                      max_rejected_share)


def warm_up_worker() -> None:
    """Initializer of a worker process that runs ``check_node``: yield the CPU to the window (nice 10)
    and load the compiled kernel once."""
    import os

    from sim_core.engine import kernel

    if hasattr(os, "nice"):
        os.nice(10)
    kernel.warm_up()


def check_node(base, j: int | None, horizon_s: float = DEFAULT_HORIZON_S, dt: float = 5.0) -> NodeLoss:
    """One fork of ``check``: node ``j`` of ``base`` (a Simulation, e.g. a ``fork``) fails now (None:
    none does) and the copy runs ``horizon_s`` ahead. ``base`` is not changed; a worker process can
    run this alone."""
    twin = fork(base)
    _keep_down(twin)
    if j is None:
        return _run_ahead(twin, HEALTHY, horizon_s, dt)
    twin.fail(j)
    return _run_ahead(twin, base.scenario.nodes[j].name, horizon_s, dt)


_BASE: tuple[str, object] | None = None  # in a worker process: the last base unpickled, with its key


def check_nodes_of(key: str, payload: bytes, nodes: tuple[int | None, ...], horizon_s: float = DEFAULT_HORIZON_S,
                   dt: float = 5.0) -> list[NodeLoss]:
    """``check_node`` for each of ``nodes`` in a worker process, the run sent as ``payload``
    (``fork_payload``) and unpickled once per ``key``: a check sends the same bytes with each of its
    tasks, which costs a copy, where pickling a 200-node Simulation for each would cost about 7 ms
    of the sending process's time apiece."""
    global _BASE
    if _BASE is None or _BASE[0] != key:
        _BASE = (key, fork(pickle.loads(payload)))
    return [check_node(_BASE[1], j, horizon_s, dt) for j in nodes]


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
