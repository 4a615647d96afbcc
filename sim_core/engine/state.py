"""The engine's data: frozen cluster parameters, the mutable state of numpy arrays, snapshots.

See ``sim_core.engine.simulation`` for the model. Shapes: per-node arrays are (n_nodes,); the
requests in the system live in a ``RequestPool`` of parallel arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sim_core.engine import kernel, limits
from sim_core.engine.workload import PoissonArrivals
from sim_core.scenario import Node, Scenario, Workload

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

    def __reduce__(self):
        return (Scratch, ())  # copied or pickled empty: work arrays are not state (checkpoints, forks)

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


class Recorder:
    """Collects every request's fate during a run (``Simulation(record=True)``), for the request log."""

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
