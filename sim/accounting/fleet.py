"""The installed fleet: chip-hours installed, capital, maintenance, facility and purchases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.binning import grouped_overlap, month_of
from sim.accounting.grid import Grid
from sim.engine.records import CohortColumns, OverstayColumns
from sim.model import economics as ec
from sim.model.units import HOURS_PER_YEAR, W_PER_KW

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fleet:
    """Per (pool, month) arrays of the installed fleet and what it costs to own."""

    installed_h: FloatArray  # installed chip-hours, overstays included
    installed_end: FloatArray  # chips installed at the month's end
    capital_usd: FloatArray  # annualised capex of the chips' life, per hour installed
    chip_capital_usd: FloatArray  # the part of capital_usd for the chips (no server share)
    maintenance_usd: FloatArray
    facility_usd: FloatArray  # sized for provisioned IT power, overstays included
    capex_cash_usd: FloatArray  # purchases in the horizon, in the month of delivery
    delivered: FloatArray  # chips bought in the horizon, by month of delivery


def fleet(grid: Grid, cohorts: CohortColumns, overstays: OverstayColumns) -> Fleet:
    """Capital, maintenance and facility of each pool's cohorts and overstays, by month.

    Capital and maintenance accrue over a cohort's depreciation life; chips busy at their
    retirement date stay installed until their work ends, which costs facility (and power,
    see :mod:`sim.accounting.energy`) but no more capital.
    """
    e = grid.scenario.economics
    n_p, bounds = grid.n_pools, grid.bounds
    c = cohorts
    o = overstays
    server = np.array([chip.server_network_usd_per_chip for chip in grid.chips])
    annuity = float(ec.annuity_factor(e.discount_rate_per_year, e.depreciation_years))
    capital_rate = c.chips * (c.unit_capex_usd + server[c.pool]) * annuity / HOURS_PER_YEAR
    chip_rate = c.chips * c.unit_capex_usd * annuity / HOURS_PER_YEAR
    maint_rate = (
        c.chips
        * (c.unit_capex_usd + server[c.pool])
        * e.maintenance_fraction_per_year
        / HOURS_PER_YEAR
    )
    installed_h = grouped_overlap(
        c.pool, n_p, c.start_h, c.retire_h, c.chips, bounds
    ) + grouped_overlap(o.pool, n_p, o.retire_h, o.left_h, o.chips, bounds)
    kw_year = grid.busy_w * grid.host_factor / W_PER_KW * e.facility_usd_per_kw_year
    cash, delivered = _purchases(grid, cohorts)
    return Fleet(
        installed_h=installed_h,
        installed_end=_installed_at_month_end(grid, cohorts, overstays),
        capital_usd=grouped_overlap(c.pool, n_p, c.start_h, c.retire_h, capital_rate, bounds),
        chip_capital_usd=grouped_overlap(c.pool, n_p, c.start_h, c.retire_h, chip_rate, bounds),
        maintenance_usd=grouped_overlap(c.pool, n_p, c.start_h, c.retire_h, maint_rate, bounds),
        facility_usd=installed_h * (kw_year / HOURS_PER_YEAR)[:, None],
        capex_cash_usd=cash,
        delivered=delivered,
    )


def _installed_at_month_end(
    grid: Grid, cohorts: CohortColumns, overstays: OverstayColumns
) -> FloatArray:
    """Chips installed at each month's end (cohorts in their life, overstays until they leave).

    A record installed over [a, b] counts at every month end e with a < e <= b: a run of
    months, added as +chips where it begins and -chips where it ends, then summed along the
    months (whole chip counts: the sums are exact in any order).
    """
    ends = grid.bounds[1:]
    change = np.zeros((grid.n_pools, grid.n_months + 1))
    for pool, chips, a, b in (
        (cohorts.pool, cohorts.chips, cohorts.start_h, cohorts.retire_h),
        (overstays.pool, overstays.chips, overstays.retire_h, overstays.left_h),
    ):
        first = np.searchsorted(ends, a, side="right")
        stop = np.maximum(np.searchsorted(ends, b, side="right"), first)
        np.add.at(change, (pool, first), chips)
        np.add.at(change, (pool, stop), -chips)
    return np.asarray(np.cumsum(change, axis=1)[:, :-1])


def _purchases(grid: Grid, cohorts: CohortColumns) -> tuple[FloatArray, FloatArray]:
    """(cash paid, chips delivered) per (pool, month) for chips bought in the horizon."""
    c = cohorts
    month = month_of(grid.bounds, c.start_h)
    cash = np.zeros((grid.n_pools, grid.n_months))
    delivered = np.zeros((grid.n_pools, grid.n_months))
    bought = c.bought_in_horizon
    np.add.at(cash, (c.pool[bought], month[bought]), (c.chips * c.unit_capex_usd)[bought])
    np.add.at(delivered, (c.pool[bought], month[bought]), c.chips[bought])
    return cash, delivered
