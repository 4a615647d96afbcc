"""A plain event-by-event model of the cluster, written to be obviously correct, not fast.

Each node has ``cores[i]`` cores and ONE shared FIFO queue: a request admitted to a node starts
on the earliest-free core (``start = max(arrival, earliest core free time)``) and departs at
``start + service``. A node holds at most ``capacity[i]`` requests (queued plus in service); an
arrival that finds it full is rejected and never served. A request that departs exactly when
another arrives has left before the arrival is counted.

Routing is either given (``choices``, one node index per request) or ``least_connections``:
each request goes to the node with the fewest requests in it at its arrival time, the lowest
index on a tie.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SERVED = 0
REJECTED = 1


@dataclass
class Result:
    """Per-request outcome, arrays of shape (n_requests,) in arrival order.

    ``node``: where it was routed; ``start`` and ``departure`` in seconds (NaN if rejected);
    ``status``: SERVED or REJECTED; ``latency`` = departure - arrival (s, NaN if rejected).
    """

    node: np.ndarray
    start: np.ndarray
    departure: np.ndarray
    status: np.ndarray
    latency: np.ndarray


def simulate(
    arrival_s: Sequence[float],
    service_s: Sequence[float],
    cores: Sequence[int],
    choices: Sequence[int] | None = None,
    policy: str | None = None,
    capacity: Sequence[float] | None = None,
) -> Result:
    """Run the requests through the cluster one by one.

    ``arrival_s`` must be non-decreasing; ``service_s`` is the time on the core (CPU time
    already divided by core speed). Give either ``choices`` or ``policy="least_connections"``.
    ``capacity`` (per node, may be ``inf``) defaults to unlimited.
    """
    arrivals = [float(a) for a in arrival_s]
    services = [float(s) for s in service_s]
    if len(arrivals) != len(services):
        raise ValueError("arrival_s and service_s differ in length")
    if any(b < a for a, b in zip(arrivals, arrivals[1:], strict=False)):
        raise ValueError("arrival_s must be non-decreasing")
    if (choices is None) == (policy is None):
        raise ValueError("give exactly one of choices and policy")
    if policy is not None and policy != "least_connections":
        raise ValueError(f"policy: {policy!r} is not supported here (give choices instead)")
    n_nodes = len(cores)
    limits = [float("inf")] * n_nodes if capacity is None else [float(k) for k in capacity]

    core_free = [[0.0] * int(c) for c in cores]  # heap of core free times per node
    in_node = [0] * n_nodes  # requests in the node now (queued plus in service)
    leaving: list[tuple[float, int]] = []  # heap of (departure time, node) of admitted requests

    n = len(arrivals)
    node_out = np.empty(n, dtype=np.int64)
    start_out = np.full(n, np.nan)
    depart_out = np.full(n, np.nan)
    status_out = np.empty(n, dtype=np.int8)
    for r in range(n):
        t = arrivals[r]
        while leaving and leaving[0][0] <= t:
            _, left = heapq.heappop(leaving)
            in_node[left] -= 1
        if choices is not None:
            i = int(choices[r])
        else:
            i = min(range(n_nodes), key=lambda j: (in_node[j], j))
        node_out[r] = i
        if in_node[i] >= limits[i]:
            status_out[r] = REJECTED
            continue
        start = max(t, heapq.heappop(core_free[i]))
        departure = start + services[r]
        heapq.heappush(core_free[i], departure)
        heapq.heappush(leaving, (departure, i))
        in_node[i] += 1
        start_out[r] = start
        depart_out[r] = departure
        status_out[r] = SERVED
    latency = depart_out - np.asarray(arrivals, dtype=float)
    return Result(node_out, start_out, depart_out, status_out, latency)
