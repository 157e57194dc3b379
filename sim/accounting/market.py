"""The market's side of the accounts: demand lost to impatience, the in-house share of
customers' usage, and the energy of a unit of useful work, by year."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sim.accounting.binning import month_of
from sim.accounting.grid import Grid
from sim.accounting.summary import LostDemandSummary
from sim.accounting.usage import Usage
from sim.engine.records import EngineLog, LostJobColumns
from sim.model.units import HOURS_PER_DAY, J_PER_KWH, KWH_PER_MWH

FloatArray = npt.NDArray[np.float64]

J_PER_MWH = KWH_PER_MWH * J_PER_KWH
"""Joules in a megawatt-hour."""


def lost_months(grid: Grid, lost: LostJobColumns, price: FloatArray) -> tuple[FloatArray, ...]:
    """Per (pool, month): chip-hours of lost jobs and the revenue they would have paid
    (billed segments only, at the month's price)."""
    shape = (grid.n_pools, grid.n_months)
    chip_h, revenue = np.zeros(shape), np.zeros(shape)
    if len(lost):
        m = month_of(grid.bounds, lost.time_h)
        np.add.at(chip_h, (lost.pool, m), lost.chip_hours)
        billed = ~grid.internal[lost.segment]
        np.add.at(revenue, (lost.pool, m), lost.chip_hours * price[lost.pool, m] * billed)
    return chip_h, revenue


def lost_demand_summary(
    grid: Grid, log: EngineLog, lost: LostJobColumns, price: FloatArray
) -> dict[str, LostDemandSummary]:
    """Per segment: jobs that balked, reneged or were redirected, where the lost ones
    went, their work and the revenue they would have paid."""
    m = month_of(grid.bounds, lost.time_h) if len(lost) else np.zeros(0, dtype=np.int64)
    paid = lost.chip_hours * price[lost.pool, m] if len(lost) else np.zeros(0)
    redirected = np.bincount(
        np.array([r.segment for r in log.redirected], dtype=np.int64), minlength=grid.n_segments
    )
    out: dict[str, LostDemandSummary] = {}
    for j, sid in enumerate(grid.segments):
        mine = lost.segment == j
        out[sid] = LostDemandSummary(
            balked_jobs=int((mine & ~lost.reneged).sum()),
            reneged_jobs=int((mine & lost.reneged).sum()),
            redirected_jobs=int(redirected[j]),
            other_cloud_jobs=int((mine & lost.other_cloud).sum()),
            abandoned_jobs=int((mine & ~lost.other_cloud).sum()),
            lost_pflop=float(lost.pflop[mine].sum()),
            revenue_lost_usd=0.0 if grid.internal[j] else float(paid[mine].sum()),
        )
    return out


def lost_per_pool(grid: Grid, lost: LostJobColumns) -> list[int]:
    """Jobs lost per pool among those that arrived after the warm-up (the queue summary)."""
    warm_h = grid.scenario.horizon.warmup_days * HOURS_PER_DAY
    sel = lost.time_h >= warm_h
    counts = np.bincount(lost.pool[sel], minlength=grid.n_pools)
    return [int(c) for c in counts]


def _years(grid: Grid) -> tuple[list[int], npt.NDArray[np.int64]]:
    month_year = np.array([d.year for d in grid.clock.month_starts], dtype=np.int64)
    return sorted(set(month_year.tolist())), month_year


def _ratio_by_year(
    grid: Grid, numerator: FloatArray, denominator: FloatArray
) -> dict[str, float | None]:
    """sum over a year's months of ``numerator`` / of ``denominator`` (None if 0)."""
    years, month_year = _years(grid)
    out: dict[str, float | None] = {}
    for y in years:
        ym = month_year == y
        den = float(denominator[..., ym].sum())
        out[str(y)] = float(numerator[..., ym].sum()) / den if den > 0 else None
    return out


def inhouse_share_of_usage(grid: Grid, billed_h_psm: FloatArray) -> dict[str, float | None]:
    """Customers' busy chip-hours on in-house chips over all customers' busy chip-hours,
    per calendar year."""
    billed = billed_h_psm.sum(axis=1)  # (pool, month)
    inhouse = np.array([c.inhouse for c in grid.chips], dtype=bool)
    return _ratio_by_year(grid, billed[inhouse], billed)


def energy_per_work(
    grid: Grid, use: Usage, training_mwh: FloatArray, serving_mwh: FloatArray
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """(J per PFLOP trained, J per Mtok served) per calendar year, at the meter."""
    per_pflop = _ratio_by_year(grid, training_mwh * J_PER_MWH, use.pflop)
    per_mtok = _ratio_by_year(grid, serving_mwh * J_PER_MWH, use.mtok)
    return per_pflop, per_mtok


__all__ = [
    "J_PER_MWH",
    "energy_per_work",
    "inhouse_share_of_usage",
    "lost_demand_summary",
    "lost_months",
    "lost_per_pool",
]
