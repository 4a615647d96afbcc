"""The cluster modelled in SimPy: the reference the engine's speed and latencies are compared with.

One ``simpy.Resource(capacity=cores)`` per node (one shared FIFO queue served by its cores),
arrival and service times drawn in advance, a balancer choosing the node of each request at its
arrival. Capacity (RAM) limits and failures are not modelled: the benchmark cases never hit them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import simpy

POLICIES = ("round_robin", "random", "weighted", "least_connections", "power_of_two")


def weighted_cycle(cores: Sequence[int]) -> np.ndarray:
    """Smooth weighted round robin: one cycle in which node j appears cores[j] times, evenly spread.

    Node j's k-th turn sits at (k + 0.5) / cores[j] of the cycle; turns are taken in that order,
    the lower node index first on a tie.
    """
    turns = sorted(((k + 0.5) / c, j) for j, c in enumerate(cores) for k in range(c))
    return np.array([j for _, j in turns], dtype=np.int64)


def simulate(
    arrival_s: np.ndarray,
    service_s: np.ndarray,
    cores: Sequence[int],
    policy: str,
    seed: int = 0,
) -> np.ndarray:
    """Run every request to completion; return its sojourn time (s), shape (n_requests,).

    ``arrival_s`` is non-decreasing (s), ``service_s`` the time on a core (CPU time divided by
    core speed). ``weighted`` cycles through :func:`weighted_cycle`;
    ``least_connections`` picks the node with the fewest requests in it (lowest index on a tie);
    ``power_of_two`` samples two distinct nodes at random and takes the one with fewer.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy: {policy!r} is not one of {', '.join(POLICIES)}")
    n = len(arrival_s)
    n_nodes = len(cores)
    env = simpy.Environment()
    resources = [simpy.Resource(env, capacity=int(c)) for c in cores]
    in_node = np.zeros(n_nodes, dtype=np.int64)
    latency = np.full(n, np.nan)
    rng = np.random.default_rng(seed)
    if policy == "round_robin":
        choices = np.arange(n) % n_nodes
    elif policy == "random":
        choices = rng.integers(0, n_nodes, n)
    elif policy == "weighted":
        choices = np.resize(weighted_cycle(cores), n)
    elif policy == "power_of_two" and n_nodes > 1:
        first = rng.integers(0, n_nodes, n)
        second = (first + rng.integers(1, n_nodes, n)) % n_nodes  # a different node
    arrivals = arrival_s.tolist()
    services = service_s.tolist()

    def request(r: int, i: int):
        in_node[i] += 1
        with resources[i].request() as slot:
            yield slot
            yield env.timeout(services[r])
        in_node[i] -= 1
        latency[r] = env.now - arrivals[r]

    def source():
        for r in range(n):
            wait = arrivals[r] - env.now
            if wait > 0:
                yield env.timeout(wait)
            if policy == "least_connections":
                i = int(np.argmin(in_node))
            elif policy == "power_of_two":
                if n_nodes == 1:
                    i = 0
                else:
                    a, b = int(first[r]), int(second[r])
                    i = a if in_node[a] <= in_node[b] else b
            else:
                i = int(choices[r])
            env.process(request(r, i))

    env.process(source())
    env.run()
    return latency
