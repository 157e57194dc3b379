"""Sweeps: experiment design, execution and analysis, kept apart (as in the EMA Workbench).

- :mod:`sim.sweep.design`: grids and sampled uncertainty (``scipy.stats.qmc``), points and
  their common replication seeds; the random generator is passed in;
- :mod:`sim.sweep.execute`: the same pure task on a local process pool or a dask.distributed
  cluster;
- :mod:`sim.sweep.store`: the crash-safe journal and the tables rebuilt from it;
- :mod:`sim.sweep.orchestrate`: a resumable sweep from the three;
- :mod:`sim.sweep.sensitivity`: one-at-a-time tornado and Sobol indices (SALib).

Nothing here prints; the command line lives in :mod:`sim.sweep_cli`.
"""
