"""The in-house chip program: its costs by month, and its savings against the reference GPU."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.accounting.binning import binned_overlap
from sim.accounting.grid import Grid
from sim.accounting.summary import ProgramSummary
from sim.model import economics as ec
from sim.model.pricing import capex_usd_per_chip
from sim.model.units import HOURS_PER_YEAR

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ProgramCosts:
    """The program's costs by month: NRE (also per pool), the acquisition, fixed costs."""

    nre_usd: FloatArray  # (pool, month): each generation's NRE on its chip's row
    program_nre_usd: FloatArray  # (month,): every generation's NRE, pools or not
    acquisition_usd: FloatArray  # (month,)
    fixed_usd: FloatArray  # (month,)

    @property
    def total_usd(self) -> FloatArray:
        """All program costs per month."""
        return np.asarray(self.program_nre_usd + self.acquisition_usd + self.fixed_usd)


def program_costs(grid: Grid) -> ProgramCosts:
    """NRE spread evenly from each generation's start to its chip's launch, the acquisition in
    its month, and the fixed running cost over every hour of the horizon."""
    s = grid.scenario
    clock = grid.clock
    n_m = grid.n_months
    nre = np.zeros((grid.n_pools, n_m))
    program_nre = np.zeros(n_m)
    acquisition = np.zeros(n_m)
    fixed = np.zeros(n_m)
    prog = s.provider.inhouse_program
    if prog is None:
        return ProgramCosts(nre, program_nre, acquisition, fixed)
    for gid, gen in prog.generations.items():
        row = _generation_nre(grid, gen.nre_usd, clock.hours(gen.nre_start), gid)
        program_nre += row
        if gid in grid.pools:
            nre[grid.pools.index(gid)] += row
    if prog.acquisition_usd > 0:
        at = clock.hours(prog.acquisition_date) if prog.acquisition_date else 0.0
        if at < grid.horizon_h:
            acquisition[clock.month_index(max(at, 0.0))] += prog.acquisition_usd
    fixed = (np.diff(grid.bounds) * prog.fixed_usd_per_year / HOURS_PER_YEAR).astype(float)
    return ProgramCosts(nre, program_nre, acquisition, fixed)


def _generation_nre(grid: Grid, nre_usd: float, a: float, chip_id: str) -> FloatArray:
    """One generation's NRE by month, spent evenly from hour ``a`` to its chip's launch."""
    clock = grid.clock
    b = clock.hours(grid.scenario.catalog.chips[chip_id].launch_date)
    rate = nre_usd / max(b - a, 1e-9) if b > a else 0.0
    row = binned_overlap(np.array([a]), np.array([b]), np.array([rate]), grid.bounds)
    if b <= a:
        row[min(max(clock.month_index(a), 0), grid.n_months - 1)] += nre_usd
    else:
        # spent before the horizon is booked in its first month; spending after
        # the horizon end falls outside this run
        row[0] += rate * max(0.0, min(b, 0.0) - a)
    return row


def program_pnl(
    grid: Grid,
    pflop: FloatArray,
    mtok: FloatArray,
    run_cost_usd: FloatArray,
    program_cost_usd: FloatArray,
) -> tuple[pd.DataFrame, ProgramSummary]:
    """Savings of in-house chips against the reference GPU, net of NRE; break-even and NPV.

    Savings in a month = the cost of the in-house pools' delivered work at the reference GPU's
    cost per unit (its static TCO per busy chip-hour at the procurement target utilisation,
    at that month's street price) minus what the in-house pools actually cost to run.
    """
    s = grid.scenario
    months = grid.months
    prog = s.provider.inhouse_program
    if prog is None:
        return pd.DataFrame({"month": months}), ProgramSummary(0.0, 0.0, None, 0.0)
    ref_cost_pflop, ref_cost_mtok = _reference_unit_costs(grid, prog.reference_gpu)
    inhouse = np.array([c.inhouse for c in grid.chips], dtype=bool)
    avoided = (pflop[inhouse].sum(axis=0) * ref_cost_pflop) + (
        mtok[inhouse].sum(axis=0) * ref_cost_mtok
    )
    own = run_cost_usd[inhouse].sum(axis=0)
    savings = avoided - own
    net = savings - program_cost_usd
    cum = np.cumsum(net)
    idx = ec.breakeven_index(cum)
    bounds = grid.bounds
    t_years = (bounds[:-1] + np.diff(bounds)) / HOURS_PER_YEAR
    npv = float(ec.npv_usd(net, t_years, s.economics.discount_rate_per_year))
    df = pd.DataFrame(
        {
            "month": months,
            "program_cost_usd": program_cost_usd,
            "reference_cost_of_work_usd": avoided,
            "inhouse_run_cost_usd": own,
            "savings_usd": savings,
            "net_usd": net,
            "cumulative_program_cost_usd": np.cumsum(program_cost_usd),
            "cumulative_savings_usd": np.cumsum(savings),
            "cumulative_net_usd": cum,
        }
    )
    summary = ProgramSummary(
        nre_usd=float(program_cost_usd.sum()),
        savings_usd=float(savings.sum()),
        breakeven_date=months[idx] if idx is not None and not math.isnan(cum[-1]) else None,
        npv_usd=npv,
        reference_gpu=prog.reference_gpu,
    )
    return df, summary


def _reference_unit_costs(grid: Grid, ref_id: str) -> tuple[FloatArray, FloatArray]:
    """The reference GPU's provider cost per PFLOP and per Mtok in each month."""
    s = grid.scenario
    ref = s.catalog.chips[ref_id]
    util = s.provider.procurement.target_utilization
    per_pflop = np.zeros(grid.n_months)
    per_mtok = np.zeros(grid.n_months)
    by_capex: dict[float, tuple[float, float]] = {}  # the price changes on few dates
    for m, d in enumerate(grid.clock.month_starts):
        capex = capex_usd_per_chip(s, ref_id, max(d, s.horizon.start), 0.0)
        if capex not in by_capex:
            per_hour = float(ec.chip_usd_per_busy_hour(ref, s.economics, capex, util))
            by_capex[capex] = (
                float(ec.usd_per_pflop(per_hour, ref.training_tflops, ref.training_mfu, 1.0)),
                float(ec.usd_per_mtok(per_hour, ref.inference_tokens_per_s, 1.0)),
            )
        per_pflop[m], per_mtok[m] = by_capex[capex]
    return per_pflop, per_mtok
