"""The engine's steps as functions of (state, params): node failures and restarts, routing, time.

Each function changes the ``EngineState`` it is given in place and reads the frozen
``ClusterParams``; randomness comes only from the ``Streams`` passed in. See
``sim_core.engine.simulation`` for the model.
"""

from __future__ import annotations

import numpy as np

from sim_core.engine import kernel
from sim_core.engine.state import (
    DOWN,
    RESTARTING,
    STORAGE_KB_PER_GB,
    UP,
    ClusterParams,
    EngineState,
    Recorder,
    Snapshot,
    StepAccumulator,
    Streams,
)
from sim_core.engine.stats import CountWindow, LatencyWindow
from sim_core.engine.trace import Trace
from sim_core.engine.workload import draw_work

_F = np.float64
_I = np.int64


# --- node state changes ------------------------------------------------------------------

def lose_requests(state: EngineState, j: int, t: float, acc: StepAccumulator, recorder: Recorder | None) -> None:
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
              recorder: Recorder | None = None) -> None:
    """Node j crashes now: requests in it are lost; the balancer notices after its health check."""
    if state.state[j] == DOWN:
        return
    lose_requests(state, j, state.t, acc, recorder)
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
                 recorder: Recorder | None = None) -> None:
    """Planned restart of node j (a resize): out of rotation at once, in-flight requests lost."""
    lose_requests(state, j, state.t, acc, recorder)
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
              trace: Trace | None, recorder: Recorder | None) -> None:
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
           acc: StepAccumulator, recorder: Recorder | None) -> None:
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
            trace: Trace | None = None, recorder: Recorder | None = None) -> None:
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
