"""Chip-hours and useful work per pool, segment and month, from job and serving records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.binning import grouped_overlap
from sim.accounting.grid import Grid
from sim.engine.records import JobColumns, ServingColumns

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Usage:
    """Per (pool, segment, month) arrays of hours and work, and their per-pool sums."""

    training_h_psm: FloatArray  # chip-hours running training jobs
    pflop_psm: FloatArray  # useful PFLOP delivered by training
    serving_h_psm: FloatArray  # chip-hours reserved for serving
    mtok_psm: FloatArray  # million tokens served
    mtok_demanded_psm: FloatArray  # million tokens demanded

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
        """Busy (training + serving) chip-hours per (pool, month)."""
        return self.training_h + self.serving_h

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

    def by_pool_segment(
        groups: npt.NDArray[np.int64], start: FloatArray, end: FloatArray, weight: FloatArray
    ) -> FloatArray:
        flat = grouped_overlap(groups, n_p * n_s, start, end, weight, bounds)
        return flat.reshape(n_p, n_s, n_m)

    js = ~np.isnan(jobs.start_h)
    dur = np.where(js, jobs.end_h - jobs.start_h, 1.0)
    grp = jobs.pool * max(n_s, 1) + jobs.segment
    start, end = jobs.start_h[js], jobs.end_h[js]
    s_len = np.maximum(serving.end_h - serving.start_h, 1e-12)
    s_grp = serving.pool * max(n_s, 1) + serving.segment
    s_a, s_b = serving.start_h, serving.end_h
    return Usage(
        training_h_psm=by_pool_segment(grp[js], start, end, jobs.chips[js]),
        pflop_psm=by_pool_segment(grp[js], start, end, (jobs.pflop / dur)[js]),
        serving_h_psm=by_pool_segment(s_grp, s_a, s_b, serving.chips),
        mtok_psm=by_pool_segment(s_grp, s_a, s_b, serving.mtok_served / s_len),
        mtok_demanded_psm=by_pool_segment(s_grp, s_a, s_b, serving.mtok_demanded / s_len),
    )
