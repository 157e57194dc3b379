"""Chip-hours and useful work per pool, segment and month, from job and serving records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.binning import GroupedIntervals
from sim.accounting.grid import Grid
from sim.engine.records import JobColumns, ServingColumns

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Usage:
    """Per (pool, segment, month) arrays of hours and work, and their per-pool sums."""

    training_h_psm: FloatArray  # chip-hours running training jobs
    pflop_psm: FloatArray  # useful PFLOP delivered by training
    serving_h_psm: FloatArray  # chip-hours reserved for serving (counted busy)
    mtok_psm: FloatArray  # million tokens served
    mtok_demanded_psm: FloatArray  # million tokens demanded
    serving_loaded_h_psm: FloatArray  # reserved serving chip-hours x their load

    @property
    def training_h(self) -> FloatArray:
        """Training chip-hours per (pool, month)."""
        return np.asarray(self.training_h_psm.sum(axis=1))

    @property
    def serving_h(self) -> FloatArray:
        """Serving chip-hours per (pool, month)."""
        return np.asarray(self.serving_h_psm.sum(axis=1))

    @property
    def busy_h(self) -> FloatArray:
        """Busy (training + serving reserved) chip-hours per (pool, month)."""
        return self.training_h + self.serving_h

    @property
    def serving_loaded_h(self) -> FloatArray:
        """Serving chip-hours weighted by load (tokens served / tokens the reserved chips
        could serve) per (pool, month): the hours at full serving power."""
        return np.asarray(self.serving_loaded_h_psm.sum(axis=1))

    @property
    def loaded_h(self) -> FloatArray:
        """Training plus load-weighted serving chip-hours per (pool, month)."""
        return self.training_h + self.serving_loaded_h

    @property
    def pflop(self) -> FloatArray:
        """Useful PFLOP per (pool, month)."""
        return np.asarray(self.pflop_psm.sum(axis=1))

    @property
    def mtok(self) -> FloatArray:
        """Million tokens served per (pool, month)."""
        return np.asarray(self.mtok_psm.sum(axis=1))


def usage(grid: Grid, jobs: JobColumns, serving: ServingColumns) -> Usage:
    """Hours and work of the run's started jobs and serving intervals, split by month."""
    n_p, n_s, n_m = grid.n_pools, grid.n_segments, grid.n_months
    bounds = grid.bounds
    js = ~np.isnan(jobs.start_h)
    dur = np.where(js, jobs.end_h - jobs.start_h, 1.0)
    grp = jobs.pool * max(n_s, 1) + jobs.segment
    # the job and serving intervals, each sorted once for all their weights
    job_iv = GroupedIntervals(grp[js], n_p * n_s, jobs.start_h[js], jobs.end_h[js], bounds)
    s_len = np.maximum(serving.end_h - serving.start_h, 1e-12)
    s_grp = serving.pool * max(n_s, 1) + serving.segment
    serve_iv = GroupedIntervals(s_grp, n_p * n_s, serving.start_h, serving.end_h, bounds)

    def psm(iv: GroupedIntervals, weight: FloatArray) -> FloatArray:
        return iv.overlap(weight).reshape(n_p, n_s, n_m)

    return Usage(
        training_h_psm=psm(job_iv, jobs.chips[js]),
        pflop_psm=psm(job_iv, (jobs.pflop / dur)[js]),
        serving_h_psm=psm(serve_iv, serving.chips),
        mtok_psm=psm(serve_iv, serving.mtok_served / s_len),
        mtok_demanded_psm=psm(serve_iv, serving.mtok_demanded / s_len),
        serving_loaded_h_psm=psm(serve_iv, serving.chips * serving.load),
    )
