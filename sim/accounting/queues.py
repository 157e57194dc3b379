"""Training queues: jobs started and waits by month, and each pool's queue statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.binning import month_of
from sim.accounting.grid import Grid
from sim.accounting.summary import QueueSummary
from sim.engine.records import JobColumns
from sim.model.units import HOURS_PER_DAY

FloatArray = npt.NDArray[np.float64]

WAIT_QUANTILE = 0.95
"""The quantile of waits the summary reports (p95)."""


@dataclass(frozen=True)
class QueueMonths:
    """Per (pool, month of start): jobs started and their mean wait, hours."""

    jobs_started: FloatArray
    mean_wait_hours: FloatArray


def queue_months(grid: Grid, jobs: JobColumns) -> QueueMonths:
    """Jobs started in each month on each pool, and their mean wait."""
    shape = (grid.n_pools, grid.n_months)
    started = np.zeros(shape)
    wait_sum = np.zeros(shape)
    js = ~np.isnan(jobs.start_h)
    if js.any():
        sm = month_of(grid.bounds, jobs.start_h[js])
        np.add.at(started, (jobs.pool[js], sm), 1.0)
        np.add.at(wait_sum, (jobs.pool[js], sm), (jobs.start_h - jobs.arrival_h)[js])
    mean = np.divide(wait_sum, started, out=np.zeros_like(wait_sum), where=started > 0)
    return QueueMonths(started, mean)


def queue_summary(
    grid: Grid,
    jobs: JobColumns,
    installed_h: FloatArray,
    busy_h: FloatArray,
    lost_jobs: list[int] | None = None,
) -> dict[str, QueueSummary]:
    """Each pool's queue over the jobs that arrived after the warm-up, its utilisation
    over the months that start after it, and the jobs it lost (``lost_jobs`` per pool)."""
    warm_h = grid.scenario.horizon.warmup_days * HOURS_PER_DAY
    started = ~np.isnan(jobs.start_h)
    wait = jobs.start_h - jobs.arrival_h
    post = grid.bounds[:-1] >= warm_h
    out: dict[str, QueueSummary] = {}
    for i, pid in enumerate(grid.pools):
        on_pool = jobs.pool == i
        sel = on_pool & started & (jobs.arrival_h >= warm_h)
        w = wait[sel]
        inst = float(installed_h[i, post].sum())
        out[pid] = QueueSummary(
            jobs=int(sel.sum()),
            unstarted_jobs=int((on_pool & ~started).sum()),
            mean_wait_hours=float(w.mean()) if w.size else None,
            p95_wait_hours=float(np.quantile(w, WAIT_QUANTILE)) if w.size else None,
            utilization=float(busy_h[i, post].sum() / inst) if inst > 0 else None,
            lost_jobs=lost_jobs[i] if lost_jobs is not None else 0,
        )
    return out
