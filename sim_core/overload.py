"""Telling the user plainly that the cluster is overloaded (one wording for the CLI and the window).

When arrivals outpace what the nodes can serve and their RAM does not turn the excess away,
the queue would grow without bound; the simulator then holds at most ``limits.HELD_LIMIT``
requests and sheds the rest (see ``sim_core.engine.limits``). These helpers word that.
"""

from __future__ import annotations

import math


def _rate(rps: float) -> str:
    if not math.isfinite(rps):
        return "-"
    return f"{rps:,.0f}" if rps >= 100 else f"{rps:,.3g}"


def overload_line(arrivals_rps: float, capacity_rps: float, held_limit: int, shed: int) -> str:
    """One line: the cluster is overloaded, arrivals against capacity (req/s), and what was shed.

    ``shed`` is the count of requests turned away by the simulator's limit of ``held_limit``.
    """
    return (f"the cluster is overloaded: {_rate(arrivals_rps)} req/s arrive and its nodes serve at most "
            f"{_rate(capacity_rps)} req/s, so its queue would grow without bound; the simulator holds at most "
            f"{held_limit:,} requests and turned away {shed:,} more (counted as rejected, reason: shed)")


def banner_text(arrivals_rps: float, capacity_rps: float, held_limit: int) -> str:
    """The window's banner: the same fact, shorter."""
    return (f"Overloaded: {_rate(arrivals_rps)} req/s arrive, the nodes serve at most {_rate(capacity_rps)} req/s. "
            f"The queue would grow without bound: beyond {held_limit:,} requests held, arrivals are "
            f"turned away (shed).")
