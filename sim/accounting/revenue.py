"""What customers pay: billed chip-hours at the pricing policy's monthly price."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.grid import Grid
from sim.accounting.usage import Usage
from sim.model.pricing import pricing_policy

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Revenue:
    """Prices per (pool, month), customers' billed hours and spend per (pool, segment, month)."""

    price_usd_per_chip_hour: FloatArray
    billed_h_psm: FloatArray  # busy chip-hours of customer (not internal) segments
    revenue_psm: FloatArray

    @property
    def revenue_usd(self) -> FloatArray:
        """Revenue per (pool, month)."""
        return np.asarray(self.revenue_psm.sum(axis=1))


def revenue(grid: Grid, use: Usage) -> Revenue:
    """Each pool's price in each month (as in force on the month's first day in the horizon)
    times the busy chip-hours of the segments the provider bills."""
    s = grid.scenario
    policy = pricing_policy(s)
    price = np.zeros((grid.n_pools, grid.n_months))
    for i, pid in enumerate(grid.pools):
        for m, d in enumerate(grid.clock.month_starts):
            price[i, m] = policy.usd_per_chip_hour(s, pid, max(d, s.horizon.start))
    billed = (use.training_h_psm + use.serving_h_psm) * (~grid.internal)[None, :, None]
    return Revenue(price, billed, billed * price[:, None, :])
