"""Turns the engine's records into monthly tables and the run summary (pure, vectorised).

Every money, energy and chip-hour figure is an integral over intervals the engine recorded
(job runs, serving reservations, installed cohorts and their overstays, NRE periods), split
exactly at calendar month boundaries by :func:`~sim.accounting.binning.binned_overlap`.
Each topic has its module (usage, fleet, energy, program, revenue, vendors, queues,
serving); :func:`account` composes them. Conservation holds by construction and is tested:
the monthly rows sum to the totals in the summary, and recomputing them from the rows gives
the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.accounting import tables as tb
from sim.accounting.energy import Energy, energy, serving_energy_mwh, training_energy_mwh
from sim.accounting.fleet import Fleet, fleet
from sim.accounting.flows import ProviderFlows, provider_flows
from sim.accounting.grid import Grid
from sim.accounting.market import (
    energy_per_work,
    lost_demand_summary,
    lost_months,
    lost_per_pool,
)
from sim.accounting.measures import inhouse_ratio_vs_gpu, ratios_vs_gpu, usage_summary
from sim.accounting.program import ProgramCosts, program_costs, program_summary, program_table
from sim.accounting.queues import queue_months, queue_summary
from sim.accounting.revenue import Revenue, month_prices, revenue
from sim.accounting.serving import serving_summary
from sim.accounting.summary import (
    CustomerSummary,
    EngineSummary,
    HorizonSummary,
    ProviderSummary,
    RunSummary,
    TcoBreakdownSummary,
    as_dict,
)
from sim.accounting.usage import Usage, usage
from sim.accounting.vendors import VendorFlows, vendor_flows
from sim.engine.records import (
    CohortColumns,
    EngineLog,
    JobColumns,
    LostJobColumns,
    OverstayColumns,
    ServingColumns,
)
from sim.model.schema import Scenario

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Accounts:
    """Tables, typed summary and monthly provider flows of one replication."""

    result: RunSummary
    tables: dict[str, pd.DataFrame]
    flows: ProviderFlows

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The summary as the plain dict of ``summary.json``."""
        return as_dict(self.result)


@dataclass(frozen=True)
class Ledger:
    """Every topic's monthly arrays of one replication."""

    grid: Grid
    usage: Usage
    fleet: Fleet
    energy: Energy
    program: ProgramCosts
    revenue: Revenue
    vendors: VendorFlows
    lost: LostJobColumns

    @cached_property
    def run_cost_usd(self) -> FloatArray:
        """Cost of running each pool per month: capital, power, facility, maintenance."""
        f = self.fleet
        return np.asarray(
            f.capital_usd + self.energy.power_usd + f.facility_usd + f.maintenance_usd
        )

    @cached_property
    def tco_usd(self) -> FloatArray:
        """Running cost plus NRE per pool and month."""
        return np.asarray(self.run_cost_usd + self.program.nre_usd)

    @cached_property
    def flows(self) -> ProviderFlows:
        """The provider's money by month, summed over pools."""
        return provider_flows(
            self.grid, self.usage, self.fleet, self.energy, self.program, self.revenue, self.vendors
        )


def account(s: Scenario, log: EngineLog) -> Accounts:
    """Monthly per-pool, per-segment and program tables, and the summary, of one run."""
    grid = Grid.of(s, log)
    jobs = log.jobs.columns()
    serving = log.serving.columns()
    use = usage(grid, jobs, serving)
    fl = fleet(grid, CohortColumns.of(log.cohorts), OverstayColumns.of(log.overstays))
    ledger = Ledger(
        grid=grid,
        usage=use,
        fleet=fl,
        energy=energy(grid, use, fl),
        program=program_costs(grid),
        revenue=revenue(grid, use, month_prices(grid, log)),
        vendors=vendor_flows(grid, fl),
        lost=LostJobColumns.of(log.lost),
    )
    tables = {
        "timeseries": tb.timeseries_table(grid, _timeseries_columns(ledger, jobs)),
        "segments": tb.segments_table(grid, _segment_columns(ledger)),
        "adoption": tb.adoption_table(grid, log),
        "maturity": tb.maturity_table(grid, log),
        "ports": tb.ports_table(grid, log),
        "choices": tb.choices_table(grid, log),
    }
    if s.provider.inhouse_program is not None:
        tables["program"] = program_table(grid, ledger.program)
    if s.outputs.jobs_table:
        tables["jobs"] = tb.jobs_table(grid, jobs)
    per_pflop, per_mtok = _cost_per_unit(ledger)
    measures = usage_summary(grid, use, ledger.revenue)
    j_per_pflop, j_per_mtok = energy_per_work(
        grid, use, training_energy_mwh(grid, use), serving_energy_mwh(grid, use)
    )
    price = ledger.revenue.price_usd_per_chip_hour
    summary = RunSummary(
        scenario=s.name,
        horizon=HorizonSummary(s.horizon.start.isoformat(), s.horizon.end.isoformat()),
        usage_ratio_vs_gpu=ratios_vs_gpu(measures.chip_hours),
        spend_ratio_vs_gpu=ratios_vs_gpu(measures.spend_usd),
        pflop_ratio_vs_gpu=ratios_vs_gpu(measures.pflop),
        mtok_ratio_vs_gpu=ratios_vs_gpu(measures.mtok),
        inhouse_usage_ratio_vs_gpu=inhouse_ratio_vs_gpu(grid, measures),
        usage=measures,
        queue=queue_summary(
            grid, jobs, fl.installed_h, use.busy_h, lost_per_pool(grid, ledger.lost)
        ),
        provider=_provider(ledger),
        inhouse_program=program_summary(s, ledger.program),
        cost_per_pflop_usd=per_pflop,
        cost_per_mtok_usd=per_mtok,
        # one home: the chip-hour share of usage_summary (usage.inhouse_share.chip_hours)
        inhouse_share_of_usage=measures.inhouse_share.chip_hours,
        training_j_per_pflop=j_per_pflop,
        serving_j_per_mtok=j_per_mtok,
        customers=_customers(ledger, log, serving),
        lost_demand=lost_demand_summary(grid, log, ledger.lost, price),
        serving=serving_summary(
            grid,
            serving,
            use.serving_h_psm,
            use.busy_h,
            ledger.run_cost_usd,
            ledger.revenue.revenue_psm,
        ),
        engine=EngineSummary(events=int(log.events), simulated_jobs=len(jobs)),
    )
    return Accounts(result=summary, tables=tables, flows=ledger.flows)


def _timeseries_columns(ledger: Ledger, jobs: JobColumns) -> dict[str, FloatArray]:
    """The (pool, month) columns of the timeseries table, in order."""
    u, f, e, r, v = ledger.usage, ledger.fleet, ledger.energy, ledger.revenue, ledger.vendors
    busy_h = u.busy_h
    util = np.divide(busy_h, f.installed_h, out=np.zeros_like(busy_h), where=f.installed_h > 0)
    queues = queue_months(ledger.grid, jobs)
    lost_h, lost_usd = lost_months(ledger.grid, ledger.lost, r.price_usd_per_chip_hour)
    return {
        "installed_chips": f.installed_end,
        "chips_delivered": f.delivered,
        "installed_chip_hours": f.installed_h,
        "busy_chip_hours": busy_h,
        "training_chip_hours": u.training_h,
        "serving_chip_hours": u.serving_h,
        "loaded_chip_hours": u.loaded_h,
        "utilization": np.minimum(util, 1.0),
        "pflop_delivered": u.pflop,
        "mtok_delivered": u.mtok,
        "mtok_demanded": u.mtok_demanded_psm.sum(axis=1),
        "energy_mwh": e.energy_mwh,
        "capital_usd": f.capital_usd,
        "power_usd": e.power_usd,
        "facility_usd": f.facility_usd,
        "maintenance_usd": f.maintenance_usd,
        "nre_usd": ledger.program.nre_usd,
        "tco_usd": ledger.tco_usd,
        "price_usd_per_chip_hour": r.price_usd_per_chip_hour,
        "revenue_usd": r.revenue_usd,
        "capex_cash_usd": f.capex_cash_usd,
        "nvidia_spend_usd": v.nvidia_spend_usd,
        "nvidia_margin_usd": v.nvidia_margin_usd,
        "jobs_started": queues.jobs_started,
        "mean_wait_hours": queues.mean_wait_hours,
        "lost_chip_hours": lost_h,
        "revenue_lost_usd": lost_usd,
    }


def _segment_columns(ledger: Ledger) -> dict[str, FloatArray]:
    """The (pool, segment, month) columns of the segments table, in order."""
    u = ledger.usage
    return {
        "training_chip_hours": u.training_h_psm,
        "serving_chip_hours": u.serving_h_psm,
        "pflop_delivered": u.pflop_psm,
        "mtok_delivered": u.mtok_psm,
        "spend_usd": ledger.revenue.revenue_psm,
    }


def _cost_per_unit(ledger: Ledger) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Each pool's running cost per PFLOP trained and per Mtok served (split by busy hours)."""
    u = ledger.usage
    busy_h, train_h, pflop, mtok = u.busy_h, u.training_h, u.pflop, u.mtok
    per_pflop: dict[str, float | None] = {}
    per_mtok: dict[str, float | None] = {}
    for i, pid in enumerate(ledger.grid.pools):
        b = float(busy_h[i].sum())
        run_cost = float(ledger.run_cost_usd[i].sum())
        tr_share = float(train_h[i].sum()) / b if b > 0 else 0.0
        pf = float(pflop[i].sum())
        mt = float(mtok[i].sum())
        per_pflop[pid] = run_cost * tr_share / pf if pf > 0 else None
        per_mtok[pid] = run_cost * (1.0 - tr_share) / mt if mt > 0 else None
    return per_pflop, per_mtok


def _provider(ledger: Ledger) -> ProviderSummary:
    """The provider's totals over the horizon."""
    f, e, p, v = ledger.fleet, ledger.energy, ledger.program, ledger.vendors
    total_tco = float(ledger.run_cost_usd.sum() + p.total_usd.sum())
    total_rev = float(ledger.revenue.revenue_usd.sum())
    return ProviderSummary(
        tco_usd=total_tco,
        revenue_usd=total_rev,
        margin_usd=total_rev - total_tco,
        nvidia_spend_usd=float(v.nvidia_spend_usd.sum()),
        nvidia_margin_usd=float(v.nvidia_margin_usd.sum()),
        capex_cash_usd=float(f.capex_cash_usd.sum()),
        energy_mwh=float(e.energy_mwh.sum()),
        busy_chip_hours=float(ledger.usage.busy_h.sum()),
        serving_chip_hours=float(ledger.usage.serving_h.sum()),
        loaded_chip_hours=float(ledger.usage.loaded_h.sum()),
        installed_chip_hours=float(f.installed_h.sum()),
        tco_breakdown_usd=TcoBreakdownSummary(
            capital=float(f.capital_usd.sum()),
            power=float(e.power_usd.sum()),
            facility=float(f.facility_usd.sum()),
            maintenance=float(f.maintenance_usd.sum()),
            nre=float(p.program_nre_usd.sum()),
            program_acquisition=float(p.acquisition_usd.sum()),
            program_fixed=float(p.fixed_usd.sum()),
        ),
    )


def _customers(ledger: Ledger, log: EngineLog, serving: ServingColumns) -> CustomerSummary:
    """What customers spent and did over the horizon."""
    return CustomerSummary(
        spend_usd=float(ledger.revenue.revenue_usd.sum()),
        porting_spend_usd=float(sum(p.cost_usd for p in log.ports)),
        ports_started=float(sum(p.customers for p in log.ports)),
        ports_failed=float(sum(p.failed for p in log.ports)),
        bypassed_jobs=len(log.bypassed),
        bypassed_pflop=float(sum(b.pflop for b in log.bypassed)),
        mtok_demanded=float(serving.mtok_demanded.sum()),
        mtok_served=float(serving.mtok_served.sum()),
        redirected_jobs=len(log.redirected),
        lost_jobs=len(ledger.lost),
        lost_pflop=float(ledger.lost.pflop.sum()),
        revenue_lost_usd=float(
            lost_months(ledger.grid, ledger.lost, ledger.revenue.price_usd_per_chip_hour)[1].sum()
        ),
    )
