"""The simulator's own bound on the requests it holds, derived from the machine's memory.

A valid scenario can make a queue grow without end: one node with 4096 GB of RAM and 0.001 MB
per request has room for 4 billion requests, and 2,000,000 req/s of 600 s requests add two
million a second. Real servers have finite queues, and so does the simulator: it holds at
most ``HELD_LIMIT`` requests in the whole cluster (waiting or in service). An arrival that a
node would take beyond that is turned away with a reason of its own, *shed*: a 503 counted
in ``rejected`` and separately in ``shed`` (Snapshot ``shed`` / ``shed_total``), and the
CLI and the window say plainly that the cluster is overloaded.

Each held request costs the engine about 150-200 bytes of working memory (the pool's five
8-byte columns with room to double, the departure heap and the per-step copies), so the
limit is one request per ``BYTES_PER_HELD`` of physical memory, between ``MIN_HELD`` and
``MAX_HELD``: at most about 200 MB for the requests, on any machine.
"""

from __future__ import annotations

import os

BYTES_PER_HELD = 16 * 1024  # one held request per 16 KiB of the machine's memory
MIN_HELD = 100_000
MAX_HELD = 1_000_000
DEFAULT_MEMORY = 4 * 2**30  # assumed when the machine does not say


def physical_memory_bytes() -> int:
    """The machine's physical memory in bytes (DEFAULT_MEMORY when it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return DEFAULT_MEMORY


def held_limit(memory_bytes: int | None = None) -> int:
    """Most requests the simulator holds at once, for a machine with ``memory_bytes`` of RAM."""
    memory = physical_memory_bytes() if memory_bytes is None else memory_bytes
    return int(min(MAX_HELD, max(MIN_HELD, memory // BYTES_PER_HELD)))


HELD_LIMIT = held_limit()
