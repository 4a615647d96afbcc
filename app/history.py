"""Preallocated ring buffers of engine snapshots, read back as contiguous numpy views.

Each column is stored twice (positions ``i`` and ``i + capacity``) so the last ``capacity``
samples are always one contiguous slice: charts get a view with no copy and no reordering.
No Qt here: the charts, the readout and the CSV export all read the same numbers.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from sim_core.engine import UP, Snapshot

# One value per engine step; units in the names (rates come from totals, see ``History.rates``).
COLUMNS = (
    "t",  # s, end of the step
    "dt",  # s
    "offered_total", "served_total", "rejected_total", "lost_total",  # requests since start
    "p50_ms", "p95_ms", "p99_ms",  # latency over the engine's sliding window, ms (NaN: none)
    "availability_pct",  # over the engine's sliding window, 0..100 (NaN: none finished)
    "cost_per_hour",  # $/h
    "queued",  # requests waiting (not in service), all nodes
    "in_system",  # requests in the cluster
    "nodes_up",
)
RATE_NAMES = ("offered", "served", "rejected", "lost")
RATE_WINDOW_S = 1.0  # rates on charts and readout: requests/s over the last second


class History:
    """The last ``capacity`` snapshots: scalar columns (capacity,) and per-node utilization (capacity, n_nodes)."""

    def __init__(self, n_nodes: int, capacity: int = 8192):
        self.capacity = int(capacity)
        self._col = {name: k for k, name in enumerate(COLUMNS)}
        self._data = np.full((len(COLUMNS), 2 * self.capacity), np.nan)
        self._util = np.zeros((2 * self.capacity, n_nodes), dtype=np.float32)
        self._next = 0
        self.size = 0
        self._rates: tuple[float, dict[str, np.ndarray]] | None = None  # (window_s, rates) until the next append

    @property
    def n_nodes(self) -> int:
        return self._util.shape[1]

    def clear(self, n_nodes: int | None = None) -> None:
        """Forget every sample; ``n_nodes`` resizes the per-node buffer."""
        self.__init__(self.n_nodes if n_nodes is None else n_nodes, self.capacity)

    def append(self, snap: Snapshot) -> None:
        """Store one snapshot (its per-node arrays must have ``n_nodes`` entries)."""
        row = (
            snap.t, snap.dt,
            snap.offered_total, snap.served_total, snap.rejected_total, snap.lost_total,
            snap.latency_p50 * 1e3, snap.latency_p95 * 1e3, snap.latency_p99 * 1e3,
            snap.availability * 100.0, snap.cost_per_hour,
            int(snap.queue.sum()), snap.in_system, int(np.count_nonzero(snap.state == UP)),
        )
        i = self._next
        self._data[:, i] = row
        self._data[:, i + self.capacity] = row
        self._util[i] = snap.utilization
        self._util[i + self.capacity] = snap.utilization
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        self._rates = None

    def _span(self) -> slice:
        if self.size < self.capacity:
            return slice(0, self.size)
        return slice(self._next, self._next + self.capacity)

    def column(self, name: str) -> np.ndarray:
        """The stored values of one column, oldest first: a view of shape (size,)."""
        return self._data[self._col[name], self._span()]

    def utilization(self) -> np.ndarray:
        """Per-node utilization 0..1, oldest first: a view of shape (size, n_nodes)."""
        return self._util[self._span()]

    def rates(self, window_s: float = RATE_WINDOW_S) -> dict[str, np.ndarray]:
        """Requests/s over the ``window_s`` seconds ending at each sample: offered, served, rejected, lost.

        Computed from the engine's cumulative counts, so the figure at the last sample is exactly
        (total now - total ``window_s`` ago) / elapsed time; NaN during the run's first ``window_s``.
        Shape (size,) each. The charts, the
        readout and the canvas all ask after each tick: the result is kept until the next append.
        """
        if self._rates is not None and self._rates[0] == window_s:
            return self._rates[1]
        t = self.column("t")
        if t.size == 0:
            return {name: np.empty(0) for name in RATE_NAMES}
        start = t[0] - self.column("dt")[0]  # the first sample covers (start, t[0]]
        times = np.concatenate(([start], t))
        # the earliest boundary inside the window, but never the sample's own end
        j = np.minimum(np.searchsorted(times, t - window_s - 1e-9), np.arange(t.size))
        elapsed = t - times[j]
        # the count before the first stored sample: 0, unless the ring has wrapped (then unknown)
        baseline = 0.0 if self.size < self.capacity else np.nan
        out = {}
        for name in RATE_NAMES:
            totals = np.concatenate(([baseline], self.column(f"{name}_total")))
            with np.errstate(invalid="ignore", divide="ignore"):
                # NaN until a whole window has passed: a 1 s average over the first 0.05 s spikes to 80-100
                out[name] = np.where(elapsed >= window_s - 1e-9, (totals[1:] - totals[j]) / elapsed, np.nan)
        self._rates = (window_s, out)
        return out

    def smoothed_utilization(self, start: int, window_s: float = RATE_WINDOW_S) -> np.ndarray:
        """Per-node utilization 0..1, time-averaged over the ``window_s`` s ending at each sample from ``start``.

        Shape (size - start, n_nodes); the curves of the utilization chart.
        """
        t, dt = self.column("t"), self.column("dt")
        if t.size == 0:
            return np.zeros((0, self.n_nodes))
        lo = int(np.searchsorted(t, t[start] - window_s - 1e-9)) if start < t.size else start
        t, dt = t[lo:], dt[lo:]
        busy = np.cumsum(self.utilization()[lo:] * dt[:, None], axis=0)
        busy = np.vstack((np.zeros((1, busy.shape[1])), busy))
        times = np.concatenate(([t[0] - dt[0]], t))
        j = np.minimum(np.searchsorted(times, t - window_s - 1e-9), np.arange(t.size))
        out = (busy[1:] - busy[j]) / (t - times[j])[:, None]
        return out[start - lo:]

    def recent_utilization(self) -> np.ndarray:
        """Per-node utilization 0..1 over the last RATE_WINDOW_S s, shape (n_nodes,): the charts' last point."""
        if self.size == 0:
            return np.zeros(self.n_nodes)
        return self.smoothed_utilization(self.size - 1)[-1]


CSV_COLUMNS = ("t_s", "offered_rps", "served_rps", "rejected_rps", "lost_rps", "p50_ms", "p95_ms", "p99_ms",
               "availability_pct", "cost_per_hour", "queued", "in_system", "nodes_up")


def to_csv(history: History) -> str:
    """One row per stored engine step: time (s), rates (req/s over the last second), latency (ms), ..."""
    rates = history.rates()
    columns = [history.column("t"), *(rates[name] for name in RATE_NAMES)]
    columns += [history.column(name) for name in ("p50_ms", "p95_ms", "p99_ms", "availability_pct",
                                                  "cost_per_hour", "queued", "in_system", "nodes_up")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in zip(*columns, strict=True):
        writer.writerow(["" if np.isnan(v) else f"{v:.6g}" for v in row])
    return out.getvalue()
