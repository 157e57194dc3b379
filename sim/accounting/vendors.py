"""Money to the merchant vendor: Nvidia spend and its gross margin on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.fleet import Fleet
from sim.accounting.grid import Grid

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VendorFlows:
    """Per (pool, month): paid to Nvidia for chips bought, and Nvidia's gross margin on it.

    ``nvidia_margin_in_capital_usd`` is the same margin on the capital-charge basis of the
    TCO: the gross margin share of the annualised chip capital of Nvidia pools (what the
    program's value compares between worlds).
    """

    nvidia_spend_usd: FloatArray
    nvidia_margin_usd: FloatArray
    nvidia_margin_in_capital_usd: FloatArray


def vendor_flows(grid: Grid, fleet: Fleet) -> VendorFlows:
    """Nvidia's share of purchases and its gross margin, in cash and in the capital charge."""
    s = grid.scenario
    shape = (grid.n_pools, grid.n_months)
    spend, margin, in_capital = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    nv = s.vendors.get("nvidia")
    fraction = nv.gross_margin_fraction if nv else 0.0
    for i, c in enumerate(grid.chips):
        if c.vendor == "nvidia":
            spend[i] = fleet.capex_cash_usd[i]
            margin[i] = fleet.capex_cash_usd[i] * fraction
            in_capital[i] = fleet.chip_capital_usd[i] * fraction
    return VendorFlows(spend, margin, in_capital)
