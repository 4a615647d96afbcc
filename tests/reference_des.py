"""A plain event-by-event model of the cluster, written to be obviously correct, not fast.

Each node has ``cores[i]`` cores and ONE shared FIFO queue: a request admitted to a node starts
on the earliest-free core (``start = max(arrival, earliest core free time)``) and departs at
``start + service``. A node holds at most ``capacity[i]`` requests (queued plus in service); an
arrival that finds it full is rejected and never served. A request that departs exactly when
another arrives has left before the arrival is counted.

Routing (``policy``): ``given`` takes ``choices`` (one node index per request);
``least_connections`` sends each request to the node with the fewest requests in it at its
arrival time (on a tie the lowest index, or with ``ties="rotate"`` the first such node in a
cyclic scan that starts just after the node chosen last); ``power_of_two`` compares the nodes
``choices[r]`` and ``second_choices[r]`` and takes the second only if it holds fewer requests.
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
    *,
    policy: str = "given",
    choices: Sequence[int] | None = None,
    second_choices: Sequence[int] | None = None,
    ties: str = "lowest",
    capacity: Sequence[float] | None = None,
) -> Result:
    """Run the requests through the cluster one by one.

    ``arrival_s`` must be non-decreasing; ``service_s`` is the time on the core (CPU time
    already divided by core speed). ``capacity`` (per node, may be ``inf``) defaults to unlimited.
    """
    arrivals = [float(a) for a in arrival_s]
    services = [float(s) for s in service_s]
    if len(arrivals) != len(services):
        raise ValueError("arrival_s and service_s differ in length")
    if any(b < a for a, b in zip(arrivals, arrivals[1:], strict=False)):
        raise ValueError("arrival_s must be non-decreasing")
    if policy not in ("given", "least_connections", "power_of_two"):
        raise ValueError(f"policy: {policy!r} is not supported here (give choices instead)")
    if (choices is None) != (policy == "least_connections"):
        raise ValueError("choices are needed for policy 'given' and 'power_of_two' only")
    if (second_choices is None) != (policy != "power_of_two"):
        raise ValueError("second_choices are needed for policy 'power_of_two' only")
    if ties not in ("lowest", "rotate"):
        raise ValueError(f"ties: {ties!r} is not 'lowest' or 'rotate'")
    n_nodes = len(cores)
    limits = [float("inf")] * n_nodes if capacity is None else [float(k) for k in capacity]

    core_free = [[0.0] * int(c) for c in cores]  # heap of core free times per node
    in_node = [0] * n_nodes  # requests in the node now (queued plus in service)
    leaving: list[tuple[float, int]] = []  # heap of (departure time, node) of admitted requests
    scan_from = 0  # where a rotating least-connections scan starts

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
        if policy == "least_connections":
            order = [(scan_from + k) % n_nodes for k in range(n_nodes)] if ties == "rotate" else range(n_nodes)
            i = min(order, key=lambda j: in_node[j])  # min keeps the first of equal counts
            scan_from = (i + 1) % n_nodes
        elif policy == "power_of_two":
            i, other = int(choices[r]), int(second_choices[r])
            if in_node[other] < in_node[i]:
                i = other
        else:
            i = int(choices[r])
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
