"""The load engine: a cluster of FIFO multi-core nodes behind a balancer, stepped in time.

Design (functional core, thin facade):
- ``ClusterParams`` (frozen) holds per-node arrays of shape (n_nodes,) built from a Scenario.
- ``EngineState`` holds what changes: node states, balancer view, core free times, and the
  requests in the system in a ``RequestPool``.
- ``advance(state, params, streams, t_stop, acc)`` moves time forward, splitting at the
  instants where a node comes up or the balancer changes its view; between those instants
  arrivals are drawn with numpy, routed (vectorized where the policy does not read live
  state) and served by the exact compiled kernel in ``sim_core.engine.kernel``.
- ``finish_step(state, params, acc)`` turns what happened since the last step into a Snapshot.
- ``Simulation`` wraps them for the CLI and the window: scenario events, edits, a seed.

Semantics, all times in seconds:
- A node holds at most floor(RAM MB / memory per request MB) requests (queued + in service);
  an arrival beyond that is rejected (503). A node whose storage is full rejects writes.
- A failed node loses the requests in it and every request sent to it until the balancer's
  health check notices, ``health_check_s`` later; then it gets no traffic. A recovered node
  restarts empty for its ``restart_s`` and is re-admitted after one more health-check delay.
- Resizing cores or RAM restarts the node (in-flight lost, out of rotation at once, back after
  ``restart_s`` plus the health check). Adding a node boots it the same way; the others are
  untouched. With no node in rotation the balancer rejects arrivals (503).
- Randomness comes from generators spawned from one seed (arrivals, CPU work, routing), so two
  clusters given the same seed see exactly the same traffic, whatever the step size. Nodes with
  ``mtbf_s``/``mttr_s`` fail and recover at times drawn from their own child of the seed
  (``sim_core.engine.failures``), applied like timeline events but not part of the timeline.
"""

from __future__ import annotations

import bisect
import copy
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from sim_core.engine import kernel, limits
from sim_core.engine.failures import failure_events, has_failures
from sim_core.engine.stats import CountWindow, LatencyWindow
from sim_core.engine.trace import Trace
from sim_core.engine.workload import PoissonArrivals, draw_work
from sim_core.scenario import MAX_NODES, Balancer, Event, Node, Scenario, ScenarioError, Workload

UP, DOWN, RESTARTING = 0, 1, 2
STATE_NAMES = ("up", "down", "restarting")
WINDOW_S = 10.0  # sliding window of the latency and availability figures
RAM_MB_PER_GB = 1024.0
STORAGE_KB_PER_GB = 1e6

# outcome of each request in a RequestLog
SERVED, REJECTED, LOST, IN_SYSTEM = 0, 1, 2, 3


@dataclass(frozen=True)
class ClusterParams:
    """Per-node parameters, arrays of shape (n_nodes,), and the balancer and workload."""

    cores: np.ndarray  # int64
    speed: np.ndarray  # relative core speed; service time = work / speed
    capacity: np.ndarray  # int64, requests a node holds at once
    storage_kb: np.ndarray
    price_per_hour: np.ndarray  # $/h
    restart_s: np.ndarray
    policy: str
    health_check_s: float
    workload: Workload

    @property
    def n(self) -> int:
        return int(self.cores.size)


def params_from_scenario(scenario: Scenario) -> ClusterParams:
    """Build the engine's arrays from a scenario (the run's current view of it)."""
    nodes = scenario.nodes
    cores = np.array([n.cores for n in nodes], dtype=np.int64)
    ram_gb = np.array([n.ram_gb for n in nodes], dtype=float)
    memory_mb = scenario.workload.memory_mb
    return ClusterParams(
        cores=cores,
        speed=np.array([n.core_speed for n in nodes], dtype=float),
        capacity=np.floor(ram_gb * RAM_MB_PER_GB / memory_mb + 1e-9).astype(np.int64),
        storage_kb=np.array([n.storage_gb for n in nodes], dtype=float) * STORAGE_KB_PER_GB,
        price_per_hour=np.array([n.price_per_hour for n in nodes], dtype=float),
        restart_s=np.array([n.restart_s for n in nodes], dtype=float),
        policy=scenario.balancer.policy,
        health_check_s=scenario.balancer.health_check_s,
        workload=scenario.workload,
    )


def params_with_nodes(params: ClusterParams, nodes: dict[int, Node], memory_mb: float) -> ClusterParams:
    """``params`` with the entries of each node j in ``nodes`` (j -> Node) taken from that Node.

    Used for resizes: k changed nodes cost one copy of the flat per-node arrays plus O(k), where
    rebuilding from the scenario walks every node in Python (the facade batches the resizes of
    one instant into one call, so an event's cost does not grow with the cluster).
    """
    if not nodes:
        return params
    rows = np.fromiter(nodes, dtype=_I, count=len(nodes))
    specs = list(nodes.values())
    ram_gb = np.array([n.ram_gb for n in specs], dtype=float)
    values = {
        "cores": [n.cores for n in specs], "speed": [n.core_speed for n in specs],
        "capacity": np.floor(ram_gb * RAM_MB_PER_GB / memory_mb + 1e-9),
        "storage_kb": np.array([n.storage_gb for n in specs], dtype=float) * STORAGE_KB_PER_GB,
        "price_per_hour": [n.price_per_hour for n in specs], "restart_s": [n.restart_s for n in specs],
    }
    changed = {}
    for name, value in values.items():
        column = getattr(params, name).copy()
        column[rows] = value
        changed[name] = column
    return replace(params, **changed)


def params_with_node(params: ClusterParams, j: int, node: Node, memory_mb: float) -> ClusterParams:
    """``params`` with node j's entries taken from ``node`` (see ``params_with_nodes``)."""
    return params_with_nodes(params, {j: node}, memory_mb)


@dataclass
class Streams:
    """The independent random streams: arrival times (with their thinning), CPU work, routing.

    Each draws the same numbers however the run is cut into steps, so a seed fixes the run.
    """

    arrivals: PoissonArrivals
    work: np.random.Generator
    routing: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> Streams:
        a, w, r, thin = np.random.SeedSequence(seed).spawn(4)  # children depend on their index only
        arrivals = PoissonArrivals(a, thin)
        return cls(arrivals, np.random.default_rng(w), np.random.default_rng(r))


_F = np.float64
_I = np.int64


class RequestPool:
    """The requests in the system: parallel arrays of shape (size,), with room to grow at the end.

    ``rid`` request id (arrival order), ``arr`` arrival, ``start`` service start and ``dep``
    departure (s), ``node`` index. The kernel appends accepted requests in place; ``keep``
    and the end-of-step settle compact them in place, so no step allocates them anew.
    """

    def __init__(self, capacity: int = 1024):
        self.size = 0
        self._rid = np.empty(capacity, _I)
        self._arr = np.empty(capacity, _F)
        self._start = np.empty(capacity, _F)
        self._dep = np.empty(capacity, _F)
        self._node = np.empty(capacity, _I)

    rid = property(lambda self: self._rid[: self.size])
    arr = property(lambda self: self._arr[: self.size])
    start = property(lambda self: self._start[: self.size])
    dep = property(lambda self: self._dep[: self.size])
    node = property(lambda self: self._node[: self.size])

    def __deepcopy__(self, memo: dict) -> RequestPool:
        """A copy holding just the requests (a checkpoint stays small); it grows again when used."""
        copy_ = RequestPool(max(self.size, 1))
        for name in ("_rid", "_arr", "_start", "_dep", "_node"):
            getattr(copy_, name)[: self.size] = getattr(self, name)[: self.size]
        copy_.size = self.size
        return copy_

    def buffers(self) -> tuple[np.ndarray, ...]:
        """The whole buffers (rid, arr, start, dep, node), for the kernel to append to."""
        return self._rid, self._arr, self._start, self._dep, self._node

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more requests (doubling, so appends cost O(1) amortized)."""
        need = self.size + extra
        if need <= self._rid.size:
            return
        capacity = max(need, 2 * self._rid.size)
        for name in ("_rid", "_arr", "_start", "_dep", "_node"):
            old = getattr(self, name)
            new = np.empty(capacity, old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the requests where ``mask`` (size,) is True, in order."""
        kept = int(np.count_nonzero(mask))
        for name in ("_rid", "_arr", "_start", "_dep", "_node"):
            buf = getattr(self, name)
            buf[:kept] = buf[: self.size][mask]
        self.size = kept


class Scratch:
    """Work arrays reused from one interval to the next.

    Fresh arrays above ~128 KB come from new memory mappings whose first touch costs more than
    the arithmetic done in them; reusing them keeps the engine at its kernel's pace.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, n: int, dtype: type) -> np.ndarray:
        """An uninitialized array of shape (n,); valid until the next ``get`` of the same name."""
        buf = self._arrays.get(name)
        if buf is None or buf.size < n:
            buf = np.empty(max(n, 1024, 0 if buf is None else 2 * buf.size), dtype)
            self._arrays[name] = buf
        return buf[:n]


@dataclass
class EngineState:
    """Everything that changes while the cluster runs. Per-node arrays have shape (n_nodes,)."""

    t: float
    state: np.ndarray  # int8: UP, DOWN, RESTARTING
    routable: np.ndarray  # bool: the balancer sends traffic to the node
    route_at: np.ndarray  # when the balancer's view of the node flips to route_to (inf: never)
    route_to: np.ndarray  # bool
    up_at: np.ndarray  # when a restarting node is up (inf: not restarting)
    core_free: np.ndarray  # (n_nodes, max cores): each node's core free times (a min-heap above 8 cores)
    storage_used_kb: np.ndarray
    pool: RequestPool = field(default_factory=RequestPool)  # the requests in the system
    scratch: Scratch = field(default_factory=Scratch)
    offered: int = 0
    served: int = 0
    rejected: int = 0
    lost: int = 0
    shed: int = 0  # of the rejected, those turned away because the simulator held held_limit requests
    held_limit: int = limits.HELD_LIMIT  # most requests held in the cluster at once (see sim_core.engine.limits)
    next_rid: int = 0
    trace_pos: int = 0
    cost_total: float = 0.0
    rr_next: int = 0
    lc_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, _I))
    wrr_key: bytes = b""
    wrr_schedule: np.ndarray = field(default_factory=lambda: np.empty(0, _I))
    wrr_next: int = 0

    @property
    def in_system(self) -> int:
        return self.pool.size


def initial_state(params: ClusterParams) -> EngineState:
    """All nodes up, in rotation and empty at t = 0."""
    n = params.n
    return EngineState(
        t=0.0,
        state=np.full(n, UP, dtype=np.int8),
        routable=np.ones(n, dtype=bool),
        route_at=np.full(n, np.inf),
        route_to=np.ones(n, dtype=bool),
        up_at=np.full(n, np.inf),
        core_free=np.zeros((n, int(params.cores.max()))),
        storage_used_kb=np.zeros(n),
    )


@dataclass
class StepAccumulator:
    """What a step needs besides the state: where it began, and per-node figures (n_nodes,) so far."""

    t0: float
    totals0: tuple[int, ...]  # offered, rejected, lost, shed totals at t0; the step's counts are the change
    node_offered: np.ndarray  # requests routed to each node
    busy_s: np.ndarray  # core-seconds of requests lost mid-step

    @classmethod
    def start(cls, state: EngineState, n: int) -> StepAccumulator:
        """An empty step beginning at ``state.t``."""
        totals = (state.offered, state.rejected, state.lost, state.shed)
        return cls(state.t, totals, np.zeros(n, dtype=_I), np.zeros(n))


@dataclass
class RequestLog:
    """Every request of a recorded run, in arrival order; arrays of shape (n_requests,)."""

    arrival: np.ndarray
    node: np.ndarray  # -1 when the balancer had no node to send it to
    start: np.ndarray  # NaN unless accepted
    departure: np.ndarray  # NaN unless accepted
    outcome: np.ndarray  # SERVED, REJECTED, LOST, IN_SYSTEM
    candidates: np.ndarray  # (n_requests, 2): the two nodes power_of_two weighed, else -1

    @property
    def latency(self) -> np.ndarray:
        return self.departure - self.arrival


class _Recorder:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.lost_rids: list[np.ndarray] = []

    def add(self, rid: np.ndarray, arr: np.ndarray, node: np.ndarray, start: np.ndarray, dep: np.ndarray,
            status: np.ndarray, first: np.ndarray, second: np.ndarray) -> None:
        """Keep a copy of one interval's requests; ``first``/``second``: power_of_two's candidates or empty."""
        if second.size == 0:
            first = second = np.full(rid.size, -1, _I)
        self.parts.append(tuple(np.array(c) for c in (rid, arr, node, start, dep, status, first, second)))

    def build(self, state: EngineState) -> RequestLog:
        if not self.parts:
            empty = np.empty(0)
            return RequestLog(empty, np.empty(0, _I), empty, empty, np.empty(0, np.int8), np.empty((0, 2), _I))
        columns = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        order = np.argsort(columns[0], kind="stable")
        rid, arr, node, start, dep, status, first, second = (c[order] for c in columns)
        outcome = np.where(status == kernel.ACCEPTED, SERVED, np.where(status == kernel.LOST_DOWN, LOST, REJECTED))
        outcome = outcome.astype(np.int8)
        outcome[np.isin(rid, state.pool.rid)] = IN_SYSTEM
        if self.lost_rids:
            outcome[np.isin(rid, np.concatenate(self.lost_rids))] = LOST
        accepted = status == kernel.ACCEPTED
        return RequestLog(arr, node, np.where(accepted, start, np.nan), np.where(accepted, dep, np.nan), outcome,
                          np.column_stack((first, second)))


@dataclass
class Snapshot:
    """The cluster's figures for one step. Rates are requests/s over the step; latencies seconds.

    Per-node arrays have shape (n_nodes,). Latency and availability figures cover the last
    WINDOW_S seconds (``_total`` ones the whole run). ``latencies`` are the sojourn times of
    the requests completed in this step.
    """

    t: float
    dt: float
    offered: float
    served: float
    rejected: float
    lost: float
    offered_total: int
    served_total: int
    rejected_total: int
    lost_total: int
    in_system: int
    latency_p50: float
    latency_p95: float
    latency_p99: float
    latency_mean: float
    latency_total_p50: float
    latency_total_p95: float
    latency_total_p99: float
    latency_total_mean: float
    availability: float
    availability_total: float
    cost_per_hour: float
    cost_total: float
    utilization: np.ndarray
    queue: np.ndarray
    in_flight: np.ndarray
    state: np.ndarray
    storage_used_gb: np.ndarray
    node_offered: np.ndarray
    node_served: np.ndarray
    latencies: np.ndarray
    shed: float = 0.0  # req/s of the rejected turned away by the simulator's own limit (sim_core.engine.limits)
    shed_total: int = 0
    capacity_rps: float = np.nan  # req/s the nodes up can serve at the workload's mean CPU time


# --- node state changes ------------------------------------------------------------------

def _lose_requests(state: EngineState, j: int, t: float, acc: StepAccumulator, recorder: _Recorder | None) -> None:
    """The requests in node j at time t are lost; their core time so far still counts as busy."""
    pool = state.pool
    mine = (pool.node == j) & (pool.dep > t)  # those that left before t were served
    if mine.any():
        started = np.clip(t - np.maximum(pool.start[mine], acc.t0), 0.0, None)
        acc.busy_s[j] += float(started.sum())
        state.lost += int(mine.sum())
        if recorder is not None:
            recorder.lost_rids.append(pool.rid[mine])
        pool.keep(~mine)
    state.core_free[j, :] = t


def fail_node(state: EngineState, params: ClusterParams, j: int, acc: StepAccumulator,
              recorder: _Recorder | None = None) -> None:
    """Node j crashes now: requests in it are lost; the balancer notices after its health check."""
    if state.state[j] == DOWN:
        return
    _lose_requests(state, j, state.t, acc, recorder)
    state.state[j] = DOWN
    state.up_at[j] = np.inf
    detecting = np.isfinite(state.route_at[j]) and not state.route_to[j]
    if state.routable[j] and not detecting:  # an earlier, unnoticed failure keeps its detection time
        state.route_at[j] = state.t + params.health_check_s
        state.route_to[j] = False
    elif not state.routable[j]:
        state.route_at[j] = np.inf  # a pending re-admission is called off


def recover_node(state: EngineState, params: ClusterParams, j: int) -> None:
    """A failed node j restarts now; it is up, empty, after its restart delay."""
    if state.state[j] != DOWN:
        return
    state.state[j] = RESTARTING
    state.up_at[j] = state.t + params.restart_s[j]


def restart_node(state: EngineState, params: ClusterParams, j: int, acc: StepAccumulator,
                 recorder: _Recorder | None = None) -> None:
    """Planned restart of node j (a resize): out of rotation at once, in-flight requests lost."""
    _lose_requests(state, j, state.t, acc, recorder)
    state.state[j] = RESTARTING
    state.routable[j] = False
    state.route_at[j] = np.inf
    state.up_at[j] = state.t + params.restart_s[j]


def drain_node(state: EngineState, j: int) -> None:
    """Take node j out of rotation for removal, keeping the requests it holds.

    The balancer sends it nothing from now on (a deregistration, not a failure: no health
    check to wait for). An up node finishes its queued and running requests at the times
    already set; ``drained_at`` says when the last one leaves. A node that is booting or
    down holds nothing: it is stopped where it is and never comes back into rotation.
    """
    state.routable[j] = False
    state.route_at[j] = np.inf
    state.route_to[j] = False
    if state.state[j] != UP:
        state.state[j] = DOWN
        state.up_at[j] = np.inf


def drained_at(state: EngineState, j: int) -> float:
    """When node j holds no request any more (s): the last departure of those it holds, or now."""
    pool = state.pool
    mine = pool.node == j
    return max(state.t, float(pool.dep[mine].max())) if mine.any() else state.t


def _fire_timers(state: EngineState, params: ClusterParams) -> None:
    """Apply the node-up and balancer-view changes due at or before ``state.t``."""
    t = state.t
    for j in np.flatnonzero(state.up_at <= t):
        up_time = state.up_at[j]
        state.state[j] = UP
        state.up_at[j] = np.inf
        state.core_free[j, :] = up_time
        if state.routable[j]:  # the balancer never noticed it was gone
            state.route_at[j] = np.inf
        else:
            state.route_at[j] = up_time + params.health_check_s
            state.route_to[j] = True
    for j in np.flatnonzero(state.route_at <= t):
        state.routable[j] = state.route_to[j]
        state.route_at[j] = np.inf


def _next_timer(state: EngineState) -> float:
    if state.state.size == 0:
        return np.inf
    return float(min(state.up_at.min(), state.route_at.min()))


# --- routing -----------------------------------------------------------------------------

def _weighted_schedule(state: EngineState, routable: np.ndarray, cores: np.ndarray) -> np.ndarray:
    """Smooth weighted round-robin order of the routable nodes, each weighted by its cores.

    Node j appears cores[j] times per cycle, at evenly spaced positions (k + 0.5) / cores[j],
    so the requests of a 4-core node are interleaved with the others' rather than sent in a burst.
    """
    weights = cores[routable]
    key = routable.tobytes() + weights.tobytes()
    if key != state.wrr_key:
        owner = np.repeat(np.arange(routable.size), weights)
        first = np.repeat(np.cumsum(weights) - weights, weights)
        position = (np.arange(owner.size) - first + 0.5) / weights[owner]
        state.wrr_schedule = routable[owner[np.argsort(position, kind="stable")]]
        state.wrr_key = key
        state.wrr_next %= state.wrr_schedule.size
    return state.wrr_schedule


def _route(state: EngineState, params: ClusterParams, routable: np.ndarray, n: int,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Node choices for ``n`` arrivals: (choice1, choice2, kernel policy code)."""
    m = routable.size
    policy = params.policy
    if policy == "random":
        return routable[rng.integers(0, m, n)], _EMPTY_I, kernel.PRE_ROUTED
    if policy == "round_robin":
        start = state.rr_next % m
        state.rr_next = (start + n) % m
        return _cycle(routable, start, n), _EMPTY_I, kernel.PRE_ROUTED
    if policy == "weighted":
        schedule = _weighted_schedule(state, routable, params.cores)
        start = state.wrr_next
        state.wrr_next = (start + n) % schedule.size
        return _cycle(schedule, start, n), _EMPTY_I, kernel.PRE_ROUTED
    if policy == "power_of_two":
        # two uniforms per request, drawn together, so the stream does not depend on step size
        u = rng.random((n, 2))
        first = np.minimum((u[:, 0] * m).astype(_I), m - 1)
        if m == 1:
            return routable[first], routable[first], kernel.POWER_OF_TWO
        second = np.minimum((u[:, 1] * (m - 1)).astype(_I), m - 2)
        second += second >= first
        return routable[first], routable[second], kernel.POWER_OF_TWO
    state.lc_ptr[0] %= m
    return _EMPTY_I, _EMPTY_I, kernel.LEAST_CONNECTIONS


_EMPTY_I = np.zeros(0, dtype=_I)


def _cycle(order: np.ndarray, start: int, n: int) -> np.ndarray:
    """``n`` entries of ``order`` repeated cyclically from index ``start`` (a tiled copy, no modulo)."""
    rotated = np.concatenate((order[start:], order[:start]))
    return np.tile(rotated, -(-n // rotated.size))[:n]


# --- time stepping -----------------------------------------------------------------------

def _interval(state: EngineState, params: ClusterParams, streams: Streams, t1: float, acc: StepAccumulator,
              trace: Trace | None, recorder: _Recorder | None) -> None:
    """Arrivals on [state.t, t1), during which no node state or balancer view changes."""
    t0 = state.t
    pinned = None
    if trace is not None:
        i0 = state.trace_pos
        i1 = int(np.searchsorted(trace.arrival_s, t1, side="left"))
        state.trace_pos = i1
        arr = trace.arrival_s[i0:i1]
        if trace.cpu_s is not None:
            work = trace.cpu_s[i0:i1]
        else:
            work = draw_work(params.workload, arr.size, streams.work)
        if trace.node is not None:
            pinned = trace.node[i0:i1]
    else:
        arr = streams.arrivals.take(params.workload, t0, t1)
        work = draw_work(params.workload, arr.size, streams.work)

    n_arr = arr.size
    if n_arr:
        rid0 = state.next_rid
        state.next_rid += n_arr
        state.offered += n_arr
        routable = np.flatnonzero(state.routable)
        if pinned is None and routable.size == 0:
            state.rejected += n_arr
            if recorder is not None:
                nan = np.full(n_arr, np.nan)
                recorder.add(np.arange(rid0, rid0 + n_arr, dtype=_I), arr, np.full(n_arr, -1, _I), nan, nan,
                             np.full(n_arr, kernel.REJECTED_FULL, np.int8), _EMPTY_I, _EMPTY_I)
        else:
            if pinned is not None:
                choice1, choice2, code = pinned, _EMPTY_I, kernel.PRE_ROUTED
            else:
                choice1, choice2, code = _route(state, params, routable, n_arr, streams.routing)
            _serve(state, params, arr, work, rid0, choice1, choice2, code, routable, acc, recorder)

    state.t = t1


def _serve(state: EngineState, params: ClusterParams, arr: np.ndarray, work: np.ndarray, rid0: int,
           choice1: np.ndarray, choice2: np.ndarray, code: int, routable: np.ndarray,
           acc: StepAccumulator, recorder: _Recorder | None) -> None:
    n_arr = arr.size
    n = params.n
    # requests that departed earlier in this step are still listed until finish_step settles them
    pool = state.pool
    alive_dep, alive_node = pool.dep, pool.node
    if alive_dep.size and alive_dep.min() <= state.t:
        alive = alive_dep > state.t
        alive_dep, alive_node = alive_dep[alive], alive_node[alive]
    in_sys = np.bincount(alive_node, minlength=n).astype(_I)
    # The live count of requests per node is needed when the routing reads it, or when some
    # node could reach its RAM capacity during this interval; otherwise the kernel skips it.
    track = code != kernel.PRE_ROUTED or alive_dep.size + n_arr > state.held_limit
    if not track and in_sys.max() + n_arr > params.capacity.min():
        track = bool(np.any(in_sys + np.bincount(choice1, minlength=n) > params.capacity))
    held = alive_dep.size
    if track and held and alive_dep.max() > arr[-1]:  # only departures before the last arrival can pop
        soon = alive_dep <= arr[-1]
        alive_dep, alive_node = alive_dep[soon], alive_node[soon]
    m_sys = alive_dep.size if track else 0
    scratch = state.scratch
    heap_t = scratch.get("heap_t", m_sys + n_arr if track else 0, _F)
    heap_n = scratch.get("heap_n", heap_t.size, _I)
    if track:
        order = np.argsort(alive_dep, kind="stable")  # a sorted array is a valid min-heap
        heap_t[:m_sys] = alive_dep[order]
        heap_n[:m_sys] = alive_node[order]
    out_node = scratch.get("node", n_arr, _I)
    out_start = scratch.get("start", n_arr, _F)
    out_dep = scratch.get("dep", n_arr, _F)
    out_status = scratch.get("status", n_arr, np.int8)
    pool.reserve(n_arr)
    lost, rejected, shed, pool.size = kernel.serve(
        np.ascontiguousarray(arr, dtype=_F), np.ascontiguousarray(work, dtype=_F),
        np.ascontiguousarray(choice1, dtype=_I), np.ascontiguousarray(choice2, dtype=_I), code, routable,
        state.state == UP, params.speed, params.cores, params.capacity, params.storage_kb,
        state.storage_used_kb, float(params.workload.data_kb),
        state.core_free, heap_t, heap_n, m_sys, in_sys, state.lc_ptr, track,
        acc.node_offered, out_node, out_start, out_dep, out_status,
        rid0, *pool.buffers(), pool.size, state.held_limit, held,
    )
    state.lost += lost
    state.rejected += rejected
    state.shed += shed
    if recorder is not None:
        recorder.add(np.arange(rid0, rid0 + n_arr, dtype=_I), arr, out_node, out_start, out_dep, out_status,
                     choice1, choice2)


def advance(state: EngineState, params: ClusterParams, streams: Streams, t_stop: float, acc: StepAccumulator,
            trace: Trace | None = None, recorder: _Recorder | None = None) -> None:
    """Move the cluster from ``state.t`` to ``t_stop`` (s), splitting at node and balancer changes."""
    while True:
        _fire_timers(state, params)
        if state.t >= t_stop:
            return
        _interval(state, params, streams, min(t_stop, _next_timer(state)), acc, trace, recorder)


def finish_step(state: EngineState, params: ClusterParams, acc: StepAccumulator,
                latency: LatencyWindow, outcomes: CountWindow) -> Snapshot:
    """Summarize the step from ``acc.t0`` to ``state.t`` into a Snapshot."""
    t0, t1 = acc.t0, state.t
    dt = t1 - t0
    n = params.n
    busy = acc.busy_s.copy()
    node_served = np.zeros(n, dtype=_I)
    queue = np.zeros(n, dtype=_I)
    in_flight = np.zeros(n, dtype=_I)
    pool = state.pool
    lat_out = state.scratch.get("latency", pool.size, _F)
    pool.size, done = kernel.settle(pool.arr, pool.start, pool.dep, pool.node, pool.rid, t0, t1,
                                    busy, node_served, queue, in_flight, lat_out)
    state.served += done
    latencies = lat_out[:done].copy()  # the Snapshot keeps them; the buffer is reused
    per_s = 1.0 / dt if dt > 0 else 0.0
    utilization = np.clip(busy * per_s / params.cores, 0.0, 1.0) if dt > 0 else np.zeros(n)

    latency.add(t1, latencies)
    window = latency.window_summary()
    total = latency.total_summary()
    served = latencies.size
    offered0, rejected0, lost0 = acc.totals0[:3]
    offered, rejected, lost = state.offered - offered0, state.rejected - rejected0, state.lost - lost0
    finished = outcomes.add(t1, np.array([served, rejected, lost]))
    ended_total = state.served + state.rejected + state.lost
    cost_per_hour = float(params.price_per_hour.sum())
    state.cost_total += cost_per_hour * dt / 3600.0
    return Snapshot(
        t=t1, dt=dt,
        offered=offered * per_s, served=served * per_s, rejected=rejected * per_s, lost=lost * per_s,
        offered_total=state.offered, served_total=state.served, rejected_total=state.rejected,
        lost_total=state.lost, in_system=state.in_system,
        latency_p50=window.p50, latency_p95=window.p95, latency_p99=window.p99, latency_mean=window.mean,
        latency_total_p50=total.p50, latency_total_p95=total.p95, latency_total_p99=total.p99,
        latency_total_mean=total.mean,
        availability=finished[0] / finished.sum() if finished.sum() else np.nan,
        availability_total=state.served / ended_total if ended_total else np.nan,
        cost_per_hour=cost_per_hour, cost_total=state.cost_total,
        utilization=utilization,
        queue=queue,
        in_flight=in_flight,
        state=state.state.copy(),
        storage_used_gb=state.storage_used_kb / STORAGE_KB_PER_GB,
        node_offered=acc.node_offered * per_s,
        node_served=node_served * per_s,
        latencies=latencies,
        shed=(state.shed - acc.totals0[3]) * per_s if len(acc.totals0) > 3 else 0.0,
        shed_total=state.shed,
        capacity_rps=service_capacity_rps(params, state.state == UP),
    )


def service_capacity_rps(params: ClusterParams, up: np.ndarray | None = None) -> float:
    """Requests/s the nodes (those where ``up`` (n,) is True) serve when busy all the time.

    Sum over nodes of cores x core speed, divided by the workload's mean CPU time. Arrivals
    above it make the queues grow until RAM, or the simulator's held limit, turns them away.
    """
    speed = params.cores * params.speed
    total = float(speed.sum() if up is None else speed[up].sum())
    return total / (params.workload.cpu_time_ms / 1000.0)


# --- the facade --------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """A copy of a Simulation's state at time ``t`` (s), taken at the end of a step, before the
    timeline's actions at ``t``: ``Simulation.restore`` continues from it exactly."""

    t: float
    scenario: Scenario
    params: ClusterParams
    saved: tuple
    nbytes: int  # about how much memory the copy holds


def _array_bytes(obj: object, depth: int = 3) -> int:
    """Bytes of the numpy arrays reachable from ``obj`` through attributes and containers, ``depth`` deep."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if depth == 0:
        return 0
    if isinstance(obj, (list, tuple, deque)):
        return sum(_array_bytes(item, depth - 1) for item in obj)
    values = getattr(obj, "__dict__", None)
    return sum(_array_bytes(v, depth - 1) for v in values.values()) if values else 0


class Simulation:
    """A scenario running in the engine: step it, fail and recover nodes, edit it live.

    ``seed`` None takes the scenario's. ``trace`` replays recorded arrivals instead of drawing
    them. ``record`` keeps every request (see ``request_log``), for tests and exports.
    ``events`` is the run's timeline (default: the scenario's events); ``scenario`` is the run's
    current view of the cluster, changed by the timeline's events as they happen.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, trace: Trace | None = None,
                 record: bool = False, window_s: float = WINDOW_S, events: list[Event] | None = None):
        kernel.warm_up()
        self._base = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.trace = trace
        self.record = record
        self.window_s = window_s
        if trace is not None and trace.node is not None and trace.node.size and trace.node.max() >= len(scenario.nodes):
            raise ScenarioError(f"trace: node {int(trace.node.max())} is not in 0..{len(scenario.nodes) - 1}")
        self.events: list[Event] = sorted(scenario.events if events is None else events, key=lambda e: e.at_s)
        self.reset()

    # state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0: all nodes up and empty, the same seed, the scenario as it began."""
        self._scenario = self._base
        self._resized: dict[int, Node] = {}  # node index -> its spec after a resize event, not yet applied
        self._timer_due = True
        self.params = params_from_scenario(self._scenario)
        self.state = initial_state(self.params)
        self.streams = Streams.from_seed(self.seed)
        self._latency = LatencyWindow(self.window_s)
        self._outcomes = CountWindow(3, self.window_s)
        self._recorder = _Recorder() if self.record else None
        self.next_event = 0  # events[:next_event] have happened
        self.skipped: list[Event] = []  # events that could not happen (see _apply_scheduled)
        self._acc = StepAccumulator.start(self.state, self.params.n)

    def checkpoint(self) -> Checkpoint:
        """A copy of everything that changes, to ``restore`` later (not the request log)."""
        self._apply_resizes()
        scratch, self.state.scratch = self.state.scratch, Scratch()  # work buffers: not state
        try:
            saved = copy.deepcopy((self.state, self.streams, self._latency, self._outcomes, self._acc))
        finally:
            self.state.scratch = scratch
        return Checkpoint(self.state.t, self._scenario, self.params, saved, _array_bytes(saved))

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``: the events of ``events`` at or after its time are still to come."""
        self.state, self.streams, self._latency, self._outcomes, self._acc = copy.deepcopy(checkpoint.saved)
        self._scenario, self.params = checkpoint.scenario, checkpoint.params
        self.skipped = []
        self._resized = {}
        self._recorder = _Recorder() if self.record else None
        self.next_event = bisect.bisect_left([e.at_s for e in self.events], checkpoint.t)

    @property
    def _random_failures(self) -> bool:
        """Whether a node fails at random (its mtbf_s/mttr_s; see sim_core.engine.failures)."""
        return has_failures(self._scenario)

    @property
    def scenario(self) -> Scenario:
        """The cluster as it runs now: resize, add and remove events included."""
        self._apply_resizes()
        return self._scenario

    @property
    def t(self) -> float:
        return self.state.t

    @property
    def n_nodes(self) -> int:
        return self.params.n

    @property
    def node_state(self) -> np.ndarray:
        return self.state.state

    def request_log(self) -> RequestLog:
        """Every request so far in arrival order (only when created with ``record=True``)."""
        if self._recorder is None:
            raise RuntimeError("create the Simulation with record=True to keep a request log")
        return self._recorder.build(self.state)

    # time ---------------------------------------------------------------------------------
    def step(self, dt: float) -> Snapshot:
        """Advance ``dt`` seconds of simulated time and return the step's Snapshot."""
        if not dt > 0:
            raise ValueError(f"dt: {dt} must be > 0 seconds")
        return self.step_to(self.state.t + dt)

    def step_to(self, t_stop: float) -> Snapshot:
        """Advance to time ``t_stop`` (s) and return the step's Snapshot.

        Events at or after the step's start and before ``t_stop`` happen at their times; one at
        exactly ``t_stop`` happens at the start of the next step, as a user's action at the end of
        a step does, so a run replayed from its timeline matches the live run step for step.
        """
        if not t_stop > self.state.t:
            raise ValueError(f"t_stop: {t_stop} must be after the current time {self.state.t} s")
        self._timer_due = True  # the first event of a step always brings time (and timers) up to it
        failures = failure_events(self._scenario, self.seed, self.state.t, t_stop) if self._random_failures else []
        while self.next_event < len(self.events) and self.events[self.next_event].at_s < t_stop:
            event = self.events[self.next_event]
            while failures and failures[0].at_s < event.at_s:  # random failures due first
                self._advance(max(failures[0].at_s, self.state.t))
                self._apply_failure(failures.pop(0))
                self._timer_due = True
            at = max(event.at_s, self.state.t)
            if at > self.state.t or self._timer_due:  # the same instant: nothing to fire, skip O(n) work
                self._advance(at)
                self._timer_due = False
            self._apply_scheduled(event)
            self.next_event += 1
        for failure in failures:
            self._advance(max(failure.at_s, self.state.t))
            self._apply_failure(failure)
        self._advance(t_stop)
        snap = finish_step(self.state, self.params, self._acc, self._latency, self._outcomes)
        self._acc = StepAccumulator.start(self.state, self.params.n)
        return snap

    def run(self, seconds: float, dt: float = 1.0):
        """Yield snapshots every ``dt`` seconds for ``seconds`` of simulated time."""
        end = self.state.t + seconds
        while self.state.t < end - 1e-12:
            yield self.step(min(dt, end - self.state.t))

    def apply_due(self) -> None:
        """Apply the events at or before now that have not happened yet."""
        while self.next_event < len(self.events) and self.events[self.next_event].at_s <= self.state.t:
            self._apply_scheduled(self.events[self.next_event])
            self.next_event += 1

    def act(self, event: Event) -> None:
        """Do ``event`` now (its ``at_s`` is the current time) and add it to the timeline after what is due."""
        if event.at_s != self.state.t:
            raise ValueError(f"at_s: an action happens now ({self.state.t} s), not at {event.at_s} s")
        self.apply_due()
        self._apply_event(event)  # raises ScenarioError before the timeline changes if it cannot happen
        self._apply_resizes()
        self.events.insert(self.next_event, event)
        self.next_event += 1

    def _advance(self, t_stop: float) -> None:
        self._apply_resizes()  # those of the last instant, before time moves
        advance(self.state, self.params, self.streams, t_stop, self._acc, self.trace, self._recorder)

    def _node_index(self, name: str) -> int:
        """Index of the node called ``name`` now (a dict, rebuilt when the nodes change); raises ScenarioError."""
        nodes = self._scenario.nodes
        if getattr(self, "_indexed_nodes", None) is not nodes:
            self._index_of = {node.name: i for i, node in enumerate(nodes)}
            self._indexed_nodes = nodes
        j = self._index_of.get(name)
        if j is None:
            raise ScenarioError(f"node: {name!r} is not the name of a node")
        return j

    def _apply_resizes(self) -> None:
        """Apply the resizes of the last instant: one copy of the node list and per-node arrays for all."""
        if not self._resized:
            return
        nodes = list(self._scenario.nodes)
        for j, node in self._resized.items():
            nodes[j] = node
        self._scenario = self._scenario.model_copy(update={"nodes": nodes})
        self.params = params_with_nodes(self.params, self._resized, self._scenario.workload.memory_mb)
        self._resized = {}
        self._widen_cores()

    def _apply_scheduled(self, event: Event) -> None:
        """A timeline event whose time has come. One that can no longer happen (it names a node the
        user has deleted since, or adds a name the user has taken) is skipped and counted in ``skipped``."""
        try:
            self._apply_event(event)
        except ScenarioError:
            self.skipped.append(event)

    def _apply_failure(self, event: Event) -> None:
        """A random fail or recover (sim_core.engine.failures); skipped if an event removed the node meanwhile."""
        if any(node.name == event.node for node in self._scenario.nodes):
            self._apply_event(event)

    def _apply_event(self, event: Event) -> None:
        action = event.action
        if action in ("fail", "recover", "resize"):  # the common, cheap ones: cost independent of the cluster's size
            j = self._node_index(event.node)
            if action == "fail":
                self.fail(j)
                self._timer_due |= self.params.health_check_s == 0
            elif action == "recover":
                self.recover(j)
                self._timer_due |= bool(self.params.restart_s[j] == 0)
            else:  # resize: always a restart, even to the same size; params change before time moves
                node = self._resized.get(j) or self._scenario.nodes[j]
                self._resized[j] = node.model_copy(update={"cores": event.cores or node.cores,
                                                           "ram_gb": event.ram_gb or node.ram_gb})
                restart_node(self.state, self.params, j, self._acc, self._recorder)  # reads only restart_s
                self._timer_due |= bool(self.params.restart_s[j] == 0)
            return
        self._apply_resizes()
        self._timer_due = True
        if action == "add":
            self.add_node(event.spec, event.index)
            return
        if action == "set_rate":
            self.set_workload(self._scenario.workload.model_copy(update={"rate": event.rate}))
            return
        if action == "set_policy":
            self.set_balancer(self._scenario.balancer.model_copy(update={"policy": event.policy}))
            return
        if action == "set_workload":
            self.set_workload(event.workload)
            return
        if action == "set_balancer":
            self.set_balancer(event.balancer)
            return
        j = self._node_index(event.node)
        if action == "remove":
            self.remove_node(j)
        else:  # set_node
            self.update_node(j, event.spec)

    # node actions ----------------------------------------------------------------------------
    def _check(self, i: int) -> int:
        if not 0 <= i < self.params.n:
            raise IndexError(f"node {i} is not in 0..{self.params.n - 1}")
        return int(i)

    def fail(self, i: int) -> None:
        """Crash node i now (no-op if it is already down)."""
        fail_node(self.state, self.params, self._check(i), self._acc, self._recorder)

    def recover(self, i: int) -> None:
        """Restart a failed node i now (no-op unless it is down)."""
        recover_node(self.state, self.params, self._check(i))

    def toggle(self, i: int) -> None:
        """Fail node i, or recover it if it is down."""
        if self.state.state[self._check(i)] == DOWN:
            self.recover(i)
        else:
            self.fail(i)

    # edits --------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        self.params = params_from_scenario(self._scenario)
        self._widen_cores()

    def _widen_cores(self) -> None:
        width = int(self.params.cores.max())
        if width > self.state.core_free.shape[1]:
            extra = np.zeros((self.params.n, width - self.state.core_free.shape[1]))
            self.state.core_free = np.hstack((self.state.core_free, extra))

    def _replace_nodes(self, nodes: list[Node]) -> None:
        self._scenario = self._scenario.model_copy(update={"nodes": nodes})

    def update_node(self, i: int, node: Node) -> None:
        """Give node i new specs; a change of cores or RAM restarts it (requests in it are lost)."""
        i = self._check(i)
        old = self._scenario.nodes[i]
        if node == old:
            return
        nodes = list(self._scenario.nodes)
        nodes[i] = node
        restart = (node.cores, node.ram_gb) != (old.cores, old.ram_gb)
        self._replace_nodes(nodes)
        self._rebuild()
        if restart:
            restart_node(self.state, self.params, i, self._acc, self._recorder)

    def add_node(self, node: Node, index: int | None = None) -> int:
        """Add a node at place ``index`` of the cluster's order (None, or past the last node: last; the
        nodes from there move one place on, as a removal moves them back); it boots for ``restart_s``,
        then joins after a health check. Returns its index."""
        n = self.params.n
        if n >= MAX_NODES:
            raise ScenarioError(f"nodes: a scenario may have at most {MAX_NODES} nodes")
        if any(other.name == node.name for other in self._scenario.nodes):
            raise ScenarioError(f"nodes: {node.name!r} is already the name of a node")
        j = n if index is None else min(max(index, 0), n)
        nodes = list(self._scenario.nodes)
        nodes.insert(j, node)
        self._replace_nodes(nodes)
        s = self.state
        for name, value in (("state", np.int8(UP)), ("routable", False), ("route_at", np.inf), ("route_to", False),
                            ("up_at", np.inf), ("storage_used_kb", 0.0)):
            setattr(s, name, np.insert(getattr(s, name), j, value))
        s.core_free = np.insert(s.core_free, j, 0.0, axis=0)
        if j < n:  # the requests in the nodes after it keep their node
            pool_node = s.pool.node
            pool_node[pool_node >= j] += 1
        self._rebuild()
        self._acc.node_offered = np.insert(self._acc.node_offered, j, 0)
        self._acc.busy_s = np.insert(self._acc.busy_s, j, 0.0)
        restart_node(self.state, self.params, j, self._acc, self._recorder)
        return j

    def remove_node(self, i: int) -> None:
        """Remove node i; the requests in it are lost."""
        i = self._check(i)
        if self.params.n == 1:
            raise ScenarioError("nodes: a scenario needs at least 1 node")
        _lose_requests(self.state, i, self.state.t, self._acc, self._recorder)
        s = self.state
        for name in ("state", "routable", "route_at", "route_to", "up_at", "storage_used_kb"):
            setattr(s, name, np.delete(getattr(s, name), i))
        s.core_free = np.delete(s.core_free, i, axis=0)
        # its requests that completed earlier in this step still count as served, under no node
        node = s.pool.node
        node[:] = np.where(node == i, -1, np.where(node > i, node - 1, node))
        nodes = list(self._scenario.nodes)
        nodes.pop(i)
        self._replace_nodes(nodes)
        self._rebuild()
        self._acc.node_offered = np.delete(self._acc.node_offered, i)
        self._acc.busy_s = np.delete(self._acc.busy_s, i)

    def set_balancer(self, balancer: Balancer) -> None:
        """Change the routing policy or health-check interval from now on."""
        if balancer != self._scenario.balancer:
            self._scenario = self._scenario.model_copy(update={"balancer": balancer})
            self._rebuild()

    def set_workload(self, workload: Workload) -> None:
        """Change the traffic from now on (memory per request changes every node's capacity)."""
        if workload != self._scenario.workload:
            self._scenario = self._scenario.model_copy(update={"workload": workload})
            self._rebuild()
