"""Random node failures from MTBF/MTTR: when each node fails and is repaired. Pure functions.

A node with ``mtbf_s`` and ``mttr_s`` alternates: up for an Exp(mtbf_s) time (counted from the
moment it serves again), down for an Exp(mttr_s) repair, then its ``restart_s`` boot, then up
again. The times come from the node's own stream, a child of the run's seed that the engine's
other streams never use (spawn key ``(FAILURE_STREAM, crc32(name))``): the same seed gives the
same failures, adding failures shifts no arrival or CPU time, and each node's failures depend on
its name only, not on its place in the list. numpy draws the gaps one after another, so the
first k failures are the same however far ahead the schedule is drawn.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

from sim_core.scenario import Event, Scenario

FAILURE_STREAM = 4  # the engine's Streams use spawn keys 0..3
FIRST_BATCH = 64  # failures drawn per node at first; doubled while the run goes past them


@functools.lru_cache(maxsize=4096)
def failure_times(seed: int, name: str, mtbf_s: float, mttr_s: float, restart_s: float, count: int) -> np.ndarray:
    """The first ``count`` failures of node ``name``: array (count, 2) of (fail, recover) times (s).

    fail_i = recover_{i-1} + restart_s + Exp(mtbf_s) (recover_{-1} + restart_s = 0: up at t = 0),
    recover_i = fail_i + Exp(mttr_s). Read-only (cached).
    """
    seq = np.random.SeedSequence(seed, spawn_key=(FAILURE_STREAM, zlib.crc32(name.encode("utf-8"))))
    gaps = np.random.default_rng(seq).standard_exponential((count, 2))
    gaps[:, 0] *= mtbf_s
    gaps[:, 1] *= mttr_s
    gaps[1:, 0] += restart_s
    times = np.cumsum(gaps.ravel()).reshape(count, 2)
    times.flags.writeable = False
    return times


def failure_events(scenario: Scenario, seed: int, t0: float, t1: float) -> list[Event]:
    """The random ``fail`` and ``recover`` events of the scenario's nodes in [t0, t1), in time order."""
    events: list[tuple[float, int, Event]] = []
    for node in scenario.nodes:
        if node.mtbf_s is None or node.mttr_s is None:
            continue
        count = FIRST_BATCH
        times = failure_times(seed, node.name, node.mtbf_s, node.mttr_s, node.restart_s, count)
        while times[-1, 1] < t1:
            count *= 2
            times = failure_times(seed, node.name, node.mtbf_s, node.mttr_s, node.restart_s, count)
        for column, action in ((0, "fail"), (1, "recover")):
            col = times[:, column]
            for t in col[(col >= t0) & (col < t1)]:
                events.append((float(t), column, Event(at_s=float(t), action=action, node=node.name)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [e for _, _, e in events]


def has_failures(scenario: Scenario) -> bool:
    """Whether any node of the scenario fails at random."""
    return any(node.mtbf_s is not None for node in scenario.nodes)
