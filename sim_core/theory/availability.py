"""Availability in nines: per node from MTBF/MTTR, for the cluster from k-of-N, and the blast
radius of one failure. Pure functions; times in seconds, rates in requests/s.

A node with random failures (sim_core.engine.failures) cycles: up for Exp(MTBF), down for Exp(MTTR),
then boots for its restart_s. Its share of time up is MTBF / (MTBF + MTTR + restart_s) (renewal
reward theorem). Nodes fail independently, so the number up is a sum of independent Bernoulli
variables; the cluster is available while the nodes up can serve the offered load, i.e. their
cores x service rate exceed the arrival rate (k of N identical nodes: the binomial tail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_core.scenario import Scenario

SECONDS_PER_YEAR = 365.25 * 86400.0


def node_availability(mtbf_s: float | None, mttr_s: float | None, restart_s: float = 0.0) -> float:
    """Long-run share of time a node is up: MTBF / (MTBF + MTTR + restart_s); 1 without failures."""
    if mtbf_s is None or mttr_s is None:
        return 1.0
    return mtbf_s / (mtbf_s + mttr_s + restart_s)


def capacity_available(up_probability: np.ndarray, capacity_rps: np.ndarray, load_rps: float) -> float:
    """P(the nodes that are up serve more than ``load_rps``), nodes independent.

    ``up_probability`` and ``capacity_rps`` have shape (n,). Exact, by convolving the distribution
    of the up capacity node by node (capacities rounded to 1e-9 req/s to merge equal sums).
    """
    dist: dict[float, float] = {0.0: 1.0}
    for p, cap in zip(up_probability, capacity_rps, strict=True):
        nxt: dict[float, float] = {}
        for total, prob in dist.items():
            up = round(total + float(cap), 9)
            nxt[up] = nxt.get(up, 0.0) + prob * float(p)
            nxt[total] = nxt.get(total, 0.0) + prob * (1.0 - float(p))
        dist = nxt
    return float(sum(prob for total, prob in dist.items() if total > load_rps))


def nodes_needed(capacity_rps: float, load_rps: float) -> int:
    """k: the fewest identical nodes of ``capacity_rps`` each that serve more than ``load_rps``."""
    return int(math.floor(load_rps / capacity_rps)) + 1


def k_of_n(k: int, n: int, p: float) -> float:
    """P(at least k of n independent nodes are up), each up with probability p (binomial tail)."""
    return float(sum(math.comb(n, i) * p**i * (1.0 - p) ** (n - i) for i in range(k, n + 1)))


def nines(availability: float) -> float:
    """-log10(1 - A): 0.999 -> 3 nines; infinite when A = 1."""
    return math.inf if availability >= 1.0 else -math.log10(1.0 - availability)


def downtime_per_year_s(availability: float) -> float:
    """Seconds per year the cluster cannot carry its load: (1 - A) x 365.25 days."""
    return (1.0 - availability) * SECONDS_PER_YEAR


def format_duration(seconds: float) -> str:
    """``31557.6`` -> ``8.8 h``; ``52.6`` -> ``52.6 s``."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


@dataclass(frozen=True)
class AvailabilityReport:
    """What MTBF/MTTR predict for a cluster at its offered load.

    ``node`` (n,) each node's share of time up; ``cluster`` P(enough capacity up); ``k`` and ``n``
    when the nodes are identical (else k = 0); ``blast_share`` (n,) each node's share of the
    capacity; ``lost_per_failure`` (n,) requests lost when that node fails: those in it plus its
    share of the traffic until the health check takes it out of rotation.
    """

    names: tuple[str, ...]
    node: np.ndarray
    cluster: float
    k: int
    n: int
    load_rps: float
    capacity_rps: np.ndarray
    blast_share: np.ndarray
    lost_per_failure: np.ndarray

    @property
    def nines(self) -> float:
        return nines(self.cluster)

    @property
    def downtime_per_year_s(self) -> float:
        return downtime_per_year_s(self.cluster)

    def describe(self) -> str:
        """A few lines for a person."""
        worst = int(np.argmax(self.blast_share))
        need = f"{self.k} of {self.n} nodes up" if self.k else "enough capacity up"
        return "\n".join([
            f"cluster availability {100 * self.cluster:.5g}% ({self.nines:.2f} nines), needs {need} "
            f"for {self.load_rps:g} req/s; down {format_duration(self.downtime_per_year_s)} per year",
            f"blast radius: {self.names[worst]} holds {100 * self.blast_share[worst]:.0f}% of the capacity; "
            f"a failure loses about {self.lost_per_failure[worst]:.3g} requests",
        ])


def predict_availability(scenario: Scenario, rate_rps: float | None = None) -> AvailabilityReport:
    """Availability of ``scenario``'s nodes at ``rate_rps`` (default its workload rate)."""
    from sim_core.engine.state import params_from_scenario
    from sim_core.theory import predict as theory

    params = params_from_scenario(scenario)
    load = scenario.workload.rate if rate_rps is None else rate_rps
    capacity = params.cores * params.speed / (scenario.workload.cpu_time_ms / 1000.0)
    node = np.array([node_availability(n.mtbf_s, n.mttr_s, n.restart_s) for n in scenario.nodes])
    identical = bool(np.all(capacity == capacity[0]) and np.all(node == node[0]))
    k = nodes_needed(float(capacity[0]), load) if identical else 0
    cluster = k_of_n(k, params.n, float(node[0])) if identical else capacity_available(node, capacity, load)
    share = _traffic_share(params.policy, params.cores)
    in_node = np.full(params.n, math.nan)
    prediction = theory.predict_cluster(params, [n.name for n in scenario.nodes], np.ones(params.n, bool), load)
    if prediction.applies:
        in_node = np.array([f.theory.arrival_rps * (1 - f.theory.rejection) * f.theory.mean_s
                            for f in prediction.nodes])  # Little: L = lam T
    lost = in_node + share * load * params.health_check_s
    return AvailabilityReport(tuple(n.name for n in scenario.nodes), node, cluster, k, params.n, load, capacity,
                              capacity / capacity.sum(), lost)


def _traffic_share(policy: str, cores: np.ndarray) -> np.ndarray:
    """Share of the arrivals a failed node still draws until the health check notices.

    A failed node holds no request, so least-connections sends it every arrival and power-of-two
    every arrival that samples it (about 2/n); round-robin and random keep sending it 1/n, weighted
    its cores' share.
    """
    n = cores.size
    if n == 1:
        return np.ones(1)
    if policy == "least_connections":
        return np.ones(n)
    if policy == "power_of_two":
        return np.full(n, 2.0 / n)
    if policy == "weighted":
        return cores / cores.sum()
    return np.full(n, 1.0 / n)


def time_share_available(node_up: np.ndarray, capacity_rps: np.ndarray, load_rps: float) -> np.ndarray:
    """Per sample, whether the nodes up can carry the load: ``node_up`` (samples, n) bool -> (samples,)."""
    return node_up.astype(float) @ capacity_rps > load_rps


def compare_lines(report: AvailabilityReport, nodes_up: list[int] | np.ndarray) -> list[str]:
    """Lines for ``scalelab run``: predicted availability beside the share of per-second samples
    ``nodes_up`` (s,) with enough nodes up (measured only for identical nodes, where k applies)."""
    nodes_up = np.asarray(nodes_up)
    lines = [f"availability (random failures): {report.describe().splitlines()[0]}"]
    if report.k and nodes_up.size:
        measured = float(np.mean(nodes_up >= report.k))
        lines.append(f"  measured: {100 * measured:.5g}% of the seconds had {report.k} or more of {report.n} "
                     f"nodes up (predicted {100 * report.cluster:.5g}%)")
    lines.append("  " + report.describe().splitlines()[1])
    return lines
