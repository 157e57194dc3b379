"""The in-house chip program's own costs: NRE, acquisition and fixed costs, in the horizon
and before it (sunk).

The scenario gives the program's costs at the provider's full size; they are charged at
the program's ``scale_fraction``, the share of the provider's AI accelerator business the
scenario models. Spending before the horizon start (the acquisition of the design team,
NRE of generations designed earlier) is *sunk*: it is listed with its dates
(:class:`SunkCost`), never booked in the horizon's months, and enters the program's value
only when the scenario asks for it (:mod:`sim.accounting.value`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.accounting.binning import binned_overlap
from sim.accounting.grid import Grid
from sim.accounting.summary import ProgramSummary
from sim.model import economics as ec
from sim.model.schema import Scenario
from sim.model.units import HOURS_PER_YEAR

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SunkCost:
    """Program spending before the horizon start, spread evenly over [start, end].

    Times are years from the horizon start (negative before it); ``usd`` is already scaled
    to the modelled world.
    """

    item: str
    usd: float
    start_years: float
    end_years: float

    def at_start_usd(self, rate_per_year: float) -> float:
        """Its value at the horizon start, compounded at ``rate_per_year``."""
        return ec.compounded_usd(self.usd, self.start_years, self.end_years, rate_per_year)


@dataclass(frozen=True)
class ProgramCosts:
    """The program's costs in the horizon by month (scaled), and what was spent before it."""

    nre_usd: FloatArray  # (pool, month): each generation's NRE on its chip's row
    program_nre_usd: FloatArray  # (month,): every generation's NRE, pools or not
    acquisition_usd: FloatArray  # (month,)
    fixed_usd: FloatArray  # (month,)
    sunk: tuple[SunkCost, ...] = ()

    @property
    def total_usd(self) -> FloatArray:
        """All program costs per month in the horizon."""
        return np.asarray(self.program_nre_usd + self.acquisition_usd + self.fixed_usd)

    @property
    def sunk_usd(self) -> float:
        """Spending before the horizon start (scaled), undiscounted."""
        return float(sum(c.usd for c in self.sunk))

    def sunk_at_start_usd(self, rate_per_year: float) -> float:
        """Spending before the horizon start, compounded to it at ``rate_per_year``."""
        return float(sum(c.at_start_usd(rate_per_year) for c in self.sunk))


def program_costs(grid: Grid) -> ProgramCosts:
    """NRE spread evenly from each generation's start to its chip's launch, the acquisition in
    its month, and the fixed running cost over every hour of the horizon, all at the
    program's scale; what fell before the horizon start is sunk."""
    s = grid.scenario
    n_m = grid.n_months
    nre = np.zeros((grid.n_pools, n_m))
    program_nre = np.zeros(n_m)
    acquisition = np.zeros(n_m)
    prog = s.provider.inhouse_program
    if prog is None:
        return ProgramCosts(nre, program_nre, acquisition, np.zeros(n_m))
    share = prog.scale_fraction
    clock = grid.clock
    sunk: list[SunkCost] = []
    for gid, gen in prog.generations.items():
        row, before = _generation_nre(grid, gen.nre_usd * share, clock.hours(gen.nre_start), gid)
        program_nre += row
        if gid in grid.pools:
            nre[grid.pools.index(gid)] += row
        if before is not None:
            sunk.append(before)
    if prog.acquisition_usd > 0:
        at = clock.hours(prog.acquisition_date) if prog.acquisition_date else 0.0
        usd = prog.acquisition_usd * share
        if at < 0.0:
            years = at / HOURS_PER_YEAR
            sunk.append(SunkCost("acquisition", usd, years, years))
        elif at < grid.horizon_h:
            acquisition[clock.month_index(at)] += usd
    fixed = (np.diff(grid.bounds) * prog.fixed_usd_per_year * share / HOURS_PER_YEAR).astype(float)
    return ProgramCosts(nre, program_nre, acquisition, fixed, tuple(sunk))


def _generation_nre(
    grid: Grid, nre_usd: float, a: float, chip_id: str
) -> tuple[FloatArray, SunkCost | None]:
    """One generation's NRE by month in the horizon, spent evenly from hour ``a`` to its
    chip's launch, and the part spent before the horizon start (None if nothing was)."""
    clock = grid.clock
    b = clock.hours(grid.scenario.catalog.chips[chip_id].launch_date)
    if b <= a:  # designed in an instant: a lump at ``a``
        row = np.zeros(grid.n_months)
        if a < 0.0:
            years = a / HOURS_PER_YEAR
            return row, SunkCost(f"NRE {chip_id}", nre_usd, years, years)
        if a < grid.horizon_h:
            row[clock.month_index(a)] += nre_usd
        return row, None
    rate = nre_usd / (b - a)
    # spending after the horizon end falls outside this run
    row = binned_overlap(np.array([a]), np.array([b]), np.array([rate]), grid.bounds)
    if a >= 0.0:
        return row, None
    end = min(b, 0.0)
    return row, SunkCost(
        f"NRE {chip_id}", rate * (end - a), a / HOURS_PER_YEAR, end / HOURS_PER_YEAR
    )


def program_table(grid: Grid, costs: ProgramCosts) -> pd.DataFrame:
    """The program's costs by month in the horizon (``program.parquet``)."""
    total = costs.total_usd
    return pd.DataFrame(
        {
            "month": grid.months,
            "nre_usd": costs.program_nre_usd,
            "acquisition_usd": costs.acquisition_usd,
            "fixed_usd": costs.fixed_usd,
            "program_cost_usd": total,
            "cumulative_program_cost_usd": np.cumsum(total),
        }
    )


def program_summary(s: Scenario, costs: ProgramCosts) -> ProgramSummary | None:
    """The program's costs over the horizon and before it (None without a program)."""
    prog = s.provider.inhouse_program
    if prog is None:
        return None
    return ProgramSummary(
        cost_usd=float(costs.total_usd.sum()),
        nre_usd=float(costs.program_nre_usd.sum()),
        acquisition_usd=float(costs.acquisition_usd.sum()),
        fixed_usd=float(costs.fixed_usd.sum()),
        sunk_usd=costs.sunk_usd,
        sunk_at_start_usd=costs.sunk_at_start_usd(s.economics.discount_rate_per_year),
        scale_fraction=prog.scale_fraction,
        reference_gpu=prog.reference_gpu,
    )
