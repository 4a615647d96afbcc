"""Cost of a resize event against the cluster's size (issue 10).

10,000 resize events at t = 1 s on 50 nodes and on 5,000 nodes; prints the wall time of the
step that applies them, per event, and the ratio. Goal: an event costs the same whatever the
cluster's size (ratio at most 2 for 100x the nodes). Before the change: 44 s for the 5,000-node
case (each event rebuilt every node's parameters in Python).

    .venv/bin/python benchmarks/events.py [--events K]
"""

from __future__ import annotations

import argparse
import time

from sim_core.engine.simulation import Simulation
from sim_core.scenario import Event, Node, Scenario, Workload


def resize_scenario(n_nodes: int, n_events: int) -> Scenario:
    """``n_nodes`` nodes; ``n_events`` resizes at t = 1 s, cycling over the nodes and 1..4 cores."""
    nodes = [Node(name=f"n{i}") for i in range(n_nodes)]
    events = [Event(at_s=1.0, action="resize", node=f"n{i % n_nodes}", cores=1 + i % 4) for i in range(n_events)]
    return Scenario(name="resize", nodes=nodes, events=events, workload=Workload(rate=100.0))


def event_cost_s(n_nodes: int, n_events: int) -> float:
    """Wall seconds per event of the step that applies ``n_events`` resizes on ``n_nodes`` nodes."""
    sim = Simulation(resize_scenario(n_nodes, n_events))
    sim.step(0.9)
    start = time.perf_counter()
    sim.step(0.2)
    return (time.perf_counter() - start) / n_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    small = min(event_cost_s(50, args.events) for _ in range(3))
    large = min(event_cost_s(5000, args.events) for _ in range(3))
    ratio = large / small
    print(f"{args.events} resize events at t = 1 s")
    print(f"  50 nodes:    {small * 1e6:8.1f} us per event")
    print(f"  5,000 nodes: {large * 1e6:8.1f} us per event  ({large * args.events:.2f} s for all)")
    print(f"  ratio {ratio:.2f} (goal: at most 2 for 100x the nodes): {'met' if ratio <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
