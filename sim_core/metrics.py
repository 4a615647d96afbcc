"""The one metrics pipeline: per-step history for the charts, per-second rows, the CSV, the summary.

``scalelab run --csv``, the window's "Export time series CSV" and sweeps all use ``run`` /
``second_rows`` and ``CsvWriter``, so a run exported from the window equals the CLI's file for the
same scenario, seed and timeline, byte for byte. ``History`` keeps the live run's steps for the
charts and the readout; ``nodes_up`` is the one definition of "nodes up".
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from sim_core.engine.scaling import ScalingSimulation
from sim_core.engine.simulation import Simulation
from sim_core.engine.state import UP, Snapshot
from sim_core.engine.trace import Trace
from sim_core.scenario import Event, Scenario

DEFAULT_DT = 0.1  # s: the engine step of headless runs (rows stay one per second)
CSV_COLUMNS = (
    "t_s",  # end of the second
    "offered_rps", "served_rps", "rejected_rps", "lost_rps",  # requests/s during the second
    "p50_ms", "p95_ms", "p99_ms", "mean_ms",  # latency of the requests completed during the second
    "availability",  # served / (served + rejected + lost) during the second, 0..1
    "cost_per_hour",  # $/h of all nodes at the end of the second
    "utilization",  # mean over nodes of busy core-seconds / (cores * 1 s), 0..1
    "in_system", "queued",  # requests in the cluster (in service + waiting) and waiting, at the end
    "nodes_up",  # nodes up at the end of the second
)


def count_up(states: np.ndarray) -> int:
    """Nodes in state UP among ``states`` (n_nodes,): the one definition the charts, readout and CSV use."""
    return int(np.count_nonzero(states == UP))


def nodes_up(snap: Snapshot) -> int:
    """Nodes up at the end of the step."""
    return count_up(snap.state)


def totals(snap: Snapshot) -> tuple[int, int, int, int]:
    """Offered, served, rejected and lost requests since t = 0."""
    return snap.offered_total, snap.served_total, snap.rejected_total, snap.lost_total


def second_rows(sim: Simulation, seconds: float,
                dt: float = DEFAULT_DT) -> Iterator[tuple[dict[str, float], float, Snapshot]]:
    """Step ``sim`` to ``seconds`` (s, from t = 0) in steps of at most ``dt`` seconds, never across a whole second.

    Yields, per simulated second (the last may be shorter), the CSV row (see CSV_COLUMNS), its
    length in seconds and the engine's last Snapshot.
    """
    snap = None
    start = sim.t
    while start < seconds - 1e-6:
        end = min(math.floor(start + 1e-9) + 1.0, seconds)
        before = (0, 0, 0, 0) if snap is None else totals(snap)
        latencies: list[np.ndarray] = []
        busy = 0.0  # node-averaged busy fraction x seconds
        while sim.t < end - 1e-9:
            snap = sim.step_to(min(sim.t + dt, end))
            latencies.append(snap.latencies)
            if snap.utilization.size:
                busy += float(snap.utilization.mean()) * snap.dt
        if snap is None:
            return
        span = snap.t - start
        offered, served, rejected, lost = (b - a for a, b in zip(before, totals(snap), strict=True))
        done_ms = np.sort(np.concatenate(latencies)) * 1000.0  # sorted: the mean's rounding is the same every run
        p50, p95, p99 = np.percentile(done_ms, (50, 95, 99)) if done_ms.size else (math.nan,) * 3
        ended = served + rejected + lost
        row = {
            "t_s": snap.t, "offered_rps": offered / span, "served_rps": served / span,
            "rejected_rps": rejected / span, "lost_rps": lost / span,
            "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99),
            "mean_ms": float(done_ms.mean()) if done_ms.size else math.nan,
            "availability": served / ended if ended else math.nan,
            "cost_per_hour": snap.cost_per_hour,
            "utilization": busy / span,
            "in_system": snap.in_system, "queued": int(snap.queue.sum()),
            "nodes_up": nodes_up(snap),
        }
        yield row, span, snap
        start = end


def _cell(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "" if math.isnan(value) else f"{value:.10g}"


class CsvWriter:
    """Writes per-second rows to an open text file: the header first, then one line per row."""

    def __init__(self, handle: TextIO):
        self._writer = csv.writer(handle, lineterminator="\n")
        self._writer.writerow(CSV_COLUMNS)

    def __call__(self, row: dict[str, float]) -> None:
        self._writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])


@dataclass(frozen=True)
class RunSummary:
    """A whole run's figures. Rates requests/s, latencies ms (since t = 0), fractions 0..1, cost $."""

    seconds: float
    offered: int
    served: int
    rejected: int
    lost: int
    in_system: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    availability: float
    utilization: float  # mean over nodes and time
    cost_per_hour: float  # at the end
    cost_total: float

    @property
    def offered_rps(self) -> float:
        return self.offered / self.seconds

    @property
    def served_rps(self) -> float:
        return self.served / self.seconds


def summarize(snap: Snapshot, seconds: float, utilization: float) -> RunSummary:
    """The summary of a run of ``seconds`` whose last Snapshot is ``snap``."""
    return RunSummary(
        seconds=seconds, offered=snap.offered_total, served=snap.served_total, rejected=snap.rejected_total,
        lost=snap.lost_total, in_system=snap.in_system,
        p50_ms=snap.latency_total_p50 * 1e3, p95_ms=snap.latency_total_p95 * 1e3,
        p99_ms=snap.latency_total_p99 * 1e3, mean_ms=snap.latency_total_mean * 1e3,
        availability=snap.availability_total, utilization=utilization,
        cost_per_hour=snap.cost_per_hour, cost_total=snap.cost_total,
    )


def run(scenario: Scenario, seconds: float | None = None, seed: int | None = None, dt: float = DEFAULT_DT,
        trace: Trace | None = None, events: list[Event] | None = None,
        on_row: Callable[[dict[str, float]], None] | None = None,
        on_step: Callable[[Snapshot], None] | None = None) -> tuple[RunSummary, ScalingSimulation]:
    """Run ``scenario`` headless for ``seconds`` (default its ``duration_s``) and summarize it.

    ``events`` replaces the scenario's timeline; ``on_row`` receives each per-second row and
    ``on_step`` each engine step's Snapshot. Returns the summary and the finished Simulation
    (it runs the scenario's autoscaler, if any).
    """
    seconds = scenario.duration_s if seconds is None else seconds
    sim = ScalingSimulation(scenario, seed=seed, trace=trace, events=events)
    if on_step is not None:
        sim.observers.append(on_step)
    busy = 0.0
    last = None
    for row, span, snap in second_rows(sim, seconds, dt):
        if on_row is not None:
            on_row(row)
        busy += row["utilization"] * span
        last = snap
    return summarize(last, seconds, busy / seconds), sim


# --- the live run's history, one sample per engine step ---------------------------------------

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
    "n_nodes",  # nodes in the cluster (up or not)
)
RATE_NAMES = ("offered", "served", "rejected", "lost")
RATE_WINDOW_S = 1.0  # rates on charts and readout: requests/s over the last second
PER_NODE_BUDGET = 4_000_000  # per-node values kept (float32): capacity x columns stays under this
ABSENT = -1  # History.node_states of a node not in the cluster at that step


class History:
    """The last ``capacity`` snapshots: scalar columns (capacity,) and per-node utilization (capacity, columns).

    Each column is stored twice (positions ``i`` and ``i + capacity``) so the last ``capacity``
    samples are one contiguous slice: charts get a view with no copy. Per-node values are kept by
    stable node id: a node added mid-run gets a column (NaN before it existed), a removed node's
    column stays, NaN from then on, until its values scroll out. ``set_limit`` hides the samples after
    a time (a run scrubbed back), ``truncate`` drops them.
    """

    def __init__(self, capacity: int = 16384):
        self.max_capacity = int(capacity)
        self.capacity = self.max_capacity
        self._col = {name: k for k, name in enumerate(COLUMNS)}
        self._data = np.full((len(COLUMNS), 2 * self.capacity), np.nan)
        self._util = np.full((2 * self.capacity, 0), np.nan, dtype=np.float32)
        self._state = np.full((2 * self.capacity, 0), ABSENT, dtype=np.int8)  # UP/DOWN/RESTARTING codes
        self.node_ids: list[int] = []  # the node id of each per-node column (-1: free)
        self._cols: dict[int, int] = {}  # node id -> column
        self._last_seen = np.zeros(0, dtype=np.int64)  # number (from 1) of the last sample with a value, per column
        self._ids: list[int] = []  # the ids of the last append, and their columns
        self._id_cols = np.zeros(0, dtype=np.int64)
        self._next = 0  # where the next sample goes
        self._start = 0  # where the oldest stored sample is
        self._count = 0  # samples ever appended (since the last clear)
        self._stored = 0  # samples stored, at most capacity
        self.size = 0  # samples shown (stored ones up to the time of ``set_limit``)
        self._rates: tuple[float, dict[str, np.ndarray]] | None = None
        self._recent: np.ndarray | None = None  # recent_utilization's row, kept until the next change

    def clear(self) -> None:
        """Forget every sample and column."""
        if (self._count == self._stored == self._next == self._start == self.size == 0 and not self.node_ids
                and self.capacity == self.max_capacity):
            self._rates = self._recent = None  # nothing was stored: the arrays are as new (a session's first
            return  # run clears the history it just made; filling its 4 MB with NaN again took 4 ms of start-up)
        self.__init__(self.max_capacity)

    # writing -------------------------------------------------------------------------------
    def append(self, snap: Snapshot, ids: list[int]) -> None:
        """Store one snapshot; ``ids`` are the node ids of its per-node arrays, in engine order."""
        if ids != self._ids:  # the cluster changed: look the columns up again
            self._ids = list(ids)
            new = sum(node_id not in self._cols for node_id in ids)
            free = int(np.count_nonzero(self._last_seen <= self._count - self._stored))
            if new > free:  # the columns the new nodes need, in one copy (not one copy per node)
                self._add_columns(new - free)
            self._id_cols = np.array([self._column_of(node_id) for node_id in ids], dtype=np.int64)
        cols = self._id_cols
        row = (
            snap.t, snap.dt,
            snap.offered_total, snap.served_total, snap.rejected_total, snap.lost_total,
            snap.latency_p50 * 1e3, snap.latency_p95 * 1e3, snap.latency_p99 * 1e3,
            snap.availability * 100.0, snap.cost_per_hour,
            int(snap.queue.sum()), snap.in_system, nodes_up(snap), snap.state.size,
        )
        i = self._next
        self._data[:, i] = row
        self._data[:, i + self.capacity] = row
        values = np.full(self._util.shape[1], np.nan, dtype=np.float32)
        values[cols] = snap.utilization
        self._util[i] = values
        self._util[i + self.capacity] = values
        states = np.full(self._state.shape[1], ABSENT, dtype=np.int8)
        states[cols] = snap.state
        self._state[i] = states
        self._state[i + self.capacity] = states
        self._count += 1
        self._last_seen[cols] = self._count
        self._next = (i + 1) % self.capacity
        if self._stored == self.capacity:
            self._start = self._next
        else:
            self._stored += 1
        self.size = self._stored
        self._rates = None
        self._recent = None

    def _column_of(self, node_id: int) -> int:
        col = self._cols.get(node_id)
        if col is not None:
            return col
        oldest = self._count - self._stored
        free = next((c for c, seen in enumerate(self._last_seen) if seen <= oldest), None)
        if free is None:
            self._add_columns(1)
            free = len(self.node_ids) - 1
        else:
            self._util[:, free] = np.nan
            self._state[:, free] = ABSENT
            self._cols.pop(self.node_ids[free], None)
        self.node_ids[free] = node_id
        self._cols[node_id] = free
        self._last_seen[free] = self._count + 1  # the sample being appended
        return free

    def _add_columns(self, count: int) -> None:
        """``count`` more per-node columns, free; the ring shrinks to keep within PER_NODE_BUDGET."""
        columns = self._util.shape[1] + count
        capacity = int(min(self.max_capacity, max(1024, PER_NODE_BUDGET // columns)))
        if capacity < self.capacity:  # keep the newest samples in a smaller ring
            keep = min(self._stored, capacity)
            data = self._data[:, self._span_stored()][:, self._stored - keep:]
            util = self._util[self._span_stored()][self._stored - keep:]
            state = self._state[self._span_stored()][self._stored - keep:]
            self.capacity = capacity
            self._data = np.full((len(COLUMNS), 2 * capacity), np.nan)
            self._data[:, :keep] = data
            self._data[:, capacity:capacity + keep] = data
            self._util = np.full((2 * capacity, util.shape[1]), np.nan, dtype=np.float32)
            self._util[:keep] = util
            self._util[capacity:capacity + keep] = util
            self._state = np.full((2 * capacity, state.shape[1]), ABSENT, dtype=np.int8)
            self._state[:keep] = state
            self._state[capacity:capacity + keep] = state
            self._next = keep % capacity
            self._start = 0
            self._stored = keep
            self.size = min(self.size, keep)
        self._util = np.hstack((self._util, np.full((2 * self.capacity, count), np.nan, dtype=np.float32)))
        self._state = np.hstack((self._state, np.full((2 * self.capacity, count), ABSENT, dtype=np.int8)))
        self.node_ids.extend([-1] * count)
        self._last_seen = np.concatenate((self._last_seen, np.zeros(count, dtype=np.int64)))

    def set_limit(self, t: float) -> None:
        """Show only the samples up to time ``t`` (s); ``math.inf`` shows them all."""
        times = self._data[self._col["t"], self._span_stored()]
        self.size = int(np.searchsorted(times, t + 1e-9, side="right")) if math.isfinite(t) else self._stored
        self._rates = None
        self._recent = None

    def truncate(self) -> None:
        """Drop the samples hidden by ``set_limit``: the run goes on from there."""
        drop = self._stored - self.size
        if drop:
            self._next = (self._next - drop) % self.capacity
            self._stored -= drop
            self._count -= drop
        self._rates = None
        self._recent = None

    # reading -------------------------------------------------------------------------------
    def _span_stored(self) -> slice:
        return slice(self._start, self._start + self._stored)

    def _span(self) -> slice:
        span = self._span_stored()
        return slice(span.start, span.start + self.size)

    def column(self, name: str) -> np.ndarray:
        """The shown values of one column, oldest first: a view of shape (size,)."""
        return self._data[self._col[name], self._span()]

    def last(self, name: str) -> float:
        """The newest shown value of a column (NaN when there is none)."""
        return float(self.column(name)[-1]) if self.size else math.nan

    def utilization(self) -> np.ndarray:
        """Per-node utilization 0..1 (NaN: no such node then), oldest first: a view of shape (size, columns)."""
        return self._util[self._span()]

    def node_series(self, ids: list[int], start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Utilization (float32) and state (int8) of the nodes ``ids`` from sample ``start`` on, each of
        shape (size - start, len(ids)); NaN and ABSENT for an id the history has no column for."""
        cols = np.array([self._cols.get(node_id, -1) for node_id in ids], dtype=np.int64)
        have = cols >= 0
        rows = max(self.size - start, 0)
        util = np.full((rows, len(ids)), np.nan, dtype=np.float32)
        state = np.full((rows, len(ids)), ABSENT, dtype=np.int8)
        util[:, have] = self.utilization()[start:][:, cols[have]]
        state[:, have] = self.node_states()[start:][:, cols[have]]
        return util, state

    def node_states(self) -> np.ndarray:
        """Per-node state (UP, DOWN, RESTARTING; ABSENT: no such node then), oldest first: (size, columns) int8."""
        return self._state[self._span()]

    def rates(self, window_s: float = RATE_WINDOW_S) -> dict[str, np.ndarray]:
        """Requests/s over the ``window_s`` seconds ending at each sample: offered, served, rejected, lost.

        Computed from the engine's cumulative counts, so the figure at the last sample is exactly
        (total now - total ``window_s`` ago) / elapsed time; NaN during the run's first ``window_s``
        (a 1 s average over the first 0.05 s spiked to 80-100 req/s at 50). Shape (size,) each; kept
        until the next change.
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
        # a whole window of history behind the sample (live steps vary, so ``elapsed`` itself is a
        # little under window_s nearly always: it cannot be the test)
        full = t - start >= window_s - 1e-9
        # the count before the first stored sample: 0, unless the ring has wrapped (then unknown)
        baseline = 0.0 if self._count == self._stored else np.nan
        out = {}
        for name in RATE_NAMES:
            counts = np.concatenate(([baseline], self.column(f"{name}_total")))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(full & (elapsed > 0), (counts[1:] - counts[j]) / elapsed, np.nan)
        self._rates = (window_s, out)
        return out

    def last_rates(self, window_s: float = RATE_WINDOW_S) -> dict[str, float]:
        """The newest shown value of each of ``rates`` (requests/s); NaN when no sample is shown (a run
        replayed from before the oldest sample the ring still holds)."""
        rates = self.rates(window_s)
        return {name: float(values[-1]) if values.size else math.nan for name, values in rates.items()}

    def smoothed_utilization(self, start: int, window_s: float = RATE_WINDOW_S) -> np.ndarray:
        """Per-node utilization 0..1, time-averaged over the ``window_s`` s ending at each sample from ``start``.

        Shape (size - start, columns); averaged over the part of the window the node existed, NaN
        where it did not exist at all.
        """
        t, dt = self.column("t"), self.column("dt")
        if t.size == 0:
            return np.zeros((0, len(self.node_ids)))
        lo = int(np.searchsorted(t, t[start] - window_s - 1e-9)) if start < t.size else start
        t, dt = t[lo:], dt[lo:]
        util = self.utilization()[lo:]
        existed = ~np.isnan(util)
        busy = np.cumsum(np.where(existed, util, 0.0) * dt[:, None], axis=0)
        alive = np.cumsum(existed * dt[:, None], axis=0)  # seconds each node existed
        busy = np.vstack((np.zeros((1, busy.shape[1])), busy))
        alive = np.vstack((np.zeros((1, alive.shape[1])), alive))
        times = np.concatenate(([t[0] - dt[0]], t))
        j = np.minimum(np.searchsorted(times, t - window_s - 1e-9), np.arange(t.size))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (busy[1:] - busy[j]) / (alive[1:] - alive[j])
        return out[start - lo:]

    def recent_utilization(self, ids: list[int]) -> np.ndarray:
        """Utilization 0..1 of the nodes ``ids`` over the last RATE_WINDOW_S s, shape (len(ids),).

        The charts' last point; 0 for a node with no complete window yet.
        """
        if self.size == 0:
            return np.zeros(len(ids))
        if self._recent is None:  # once per change: views ask for a few boxes a frame
            self._recent = self.smoothed_utilization(self.size - 1)[-1]
        last = self._recent
        return np.nan_to_num(np.array([last[self._cols[i]] if i in self._cols else np.nan for i in ids]))
