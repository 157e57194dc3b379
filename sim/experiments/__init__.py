"""Experiments on the model: design, execution, orchestration, sensitivity, calibration, checks.

Kept apart as in the EMA Workbench: :mod:`~sim.experiments.design` says which points run
with which seeds (grids, ``scipy.stats.qmc`` samples; the random generator is passed in),
:mod:`~sim.experiments.execute` runs a pure task on a local process pool or a
dask.distributed cluster, :mod:`~sim.experiments.points` is that task for a design point,
:mod:`~sim.experiments.orchestrate` makes a resumable sweep of the three (its folder is
:mod:`sim.results.sweep_folder`'s), :mod:`~sim.experiments.sensitivity` ranks the uncertain
parameters (SALib), :mod:`~sim.experiments.calibration` fits free parameters to targets
(scipy) and :mod:`~sim.experiments.verification` checks the simulation against theory.
Nothing here prints or parses command lines.
"""
