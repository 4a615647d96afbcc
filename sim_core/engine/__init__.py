"""The exact engine: the simulation, its compiled kernel, traffic, latency statistics, scaling."""
