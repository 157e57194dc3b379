"""The provider's money by month, summed over pools: what two worlds are compared on.

:class:`ProviderFlows` is the compact record of one replication that the program's value
(:mod:`sim.accounting.value`) needs from each world: revenue and the work it paid for by
workload, each cost of the TCO (capital split into merchant GPUs and in-house chips), the
program's own costs, and Nvidia's share. It is small (a few arrays of one value a month),
so a world without the program can be run for it alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.energy import Energy
from sim.accounting.fleet import Fleet
from sim.accounting.grid import Grid
from sim.accounting.program import ProgramCosts
from sim.accounting.revenue import Revenue
from sim.accounting.usage import Usage
from sim.accounting.vendors import VendorFlows
from sim.model.units import HOURS_PER_YEAR

FloatArray = npt.NDArray[np.float64]

#: The cost items of the TCO, as fields of :class:`ProviderFlows`.
COST_ITEMS: tuple[str, ...] = (
    "merchant_capital_usd",
    "inhouse_capital_usd",
    "power_usd",
    "facility_usd",
    "maintenance_usd",
    "nre_usd",
    "acquisition_usd",
    "fixed_usd",
)


@dataclass(frozen=True)
class ProviderFlows:
    """One replication's provider money per calendar month of the horizon (USD unless named).

    Revenue and work are of the segments the provider bills (its own segments pay nothing);
    costs are the whole fleet's. ``month_end_years`` are the months' ends in years from the
    horizon start (flows are discounted from there).
    """

    months: tuple[str, ...]
    month_end_years: FloatArray
    training_revenue_usd: FloatArray
    serving_revenue_usd: FloatArray
    training_pflop: FloatArray  # billed training work delivered
    serving_mtok: FloatArray  # billed tokens served
    merchant_capital_usd: FloatArray  # GPUs of merchant vendors (Nvidia, AMD)
    inhouse_capital_usd: FloatArray
    power_usd: FloatArray
    facility_usd: FloatArray
    maintenance_usd: FloatArray
    nre_usd: FloatArray  # program NRE in the horizon, every generation
    acquisition_usd: FloatArray
    fixed_usd: FloatArray
    nvidia_margin_in_capital_usd: FloatArray
    nvidia_spend_usd: FloatArray  # cash for chips bought in the horizon
    inhouse_installed_chip_hours: FloatArray

    @property
    def revenue_usd(self) -> FloatArray:
        """Revenue per month."""
        return np.asarray(self.training_revenue_usd + self.serving_revenue_usd)

    @property
    def cost_usd(self) -> FloatArray:
        """TCO per month: running costs of every pool plus the program's costs."""
        return np.asarray(sum(getattr(self, name) for name in COST_ITEMS))

    @property
    def profit_usd(self) -> FloatArray:
        """Revenue minus TCO per month."""
        return np.asarray(self.revenue_usd - self.cost_usd)


def provider_flows(
    grid: Grid,
    use: Usage,
    fleet: Fleet,
    energy: Energy,
    program: ProgramCosts,
    revenue: Revenue,
    vendors: VendorFlows,
) -> ProviderFlows:
    """The monthly provider flows of one replication's ledger."""
    inhouse = np.array([c.inhouse for c in grid.chips], dtype=bool)
    billed = (~grid.internal)[None, :, None]
    price = revenue.price_usd_per_chip_hour[:, None, :]
    return ProviderFlows(
        months=tuple(grid.months),
        month_end_years=np.asarray(grid.bounds[1:] / HOURS_PER_YEAR),
        training_revenue_usd=(use.training_h_psm * billed * price).sum(axis=(0, 1)),
        serving_revenue_usd=(use.serving_h_psm * billed * price).sum(axis=(0, 1)),
        training_pflop=(use.pflop_psm * billed).sum(axis=(0, 1)),
        serving_mtok=(use.mtok_psm * billed).sum(axis=(0, 1)),
        merchant_capital_usd=fleet.capital_usd[~inhouse].sum(axis=0),
        inhouse_capital_usd=fleet.capital_usd[inhouse].sum(axis=0),
        power_usd=energy.power_usd.sum(axis=0),
        facility_usd=fleet.facility_usd.sum(axis=0),
        maintenance_usd=fleet.maintenance_usd.sum(axis=0),
        nre_usd=program.program_nre_usd,
        acquisition_usd=program.acquisition_usd,
        fixed_usd=program.fixed_usd,
        nvidia_margin_in_capital_usd=vendors.nvidia_margin_in_capital_usd.sum(axis=0),
        nvidia_spend_usd=vendors.nvidia_spend_usd.sum(axis=0),
        inhouse_installed_chip_hours=fleet.installed_h[inhouse].sum(axis=0),
    )
