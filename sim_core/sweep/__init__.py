"""What-if sweeps: many clusters run from one base scenario, compared on cost and latency.

- ``spec``: the sweep file (TOML or JSON), validated with field-path messages like scenarios.
- ``points``: the points a spec names (grid, list) and the cluster and seed of each.
- ``runner``: runs points on Dask distributed (or in-process) and the bisection search.
- ``results``: rows, the mean and 95% interval over replications, CSV and Parquet files.
- ``plot``: the Pareto chart of cost per hour against p99 (PNG and SVG).
- ``command``: ``scalelab sweep SPEC``.

No Qt here: the window's What-if dialog builds on these modules.
"""
