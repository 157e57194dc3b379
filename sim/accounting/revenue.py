"""What customers pay: billed chip-hours at the price the engine set for each month."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.grid import Grid
from sim.accounting.usage import Usage
from sim.engine.records import EngineLog

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


def month_prices(grid: Grid, log: EngineLog) -> FloatArray:
    """Each pool's customer price per chip-hour in each month, as the engine set it at the
    month's start with the scenario's pricing policy (:mod:`sim.model.pricing`)."""
    price = np.zeros((grid.n_pools, grid.n_months))
    for rec in log.prices:
        price[rec.pool, rec.month] = rec.usd_per_chip_hour
    return price


def revenue(grid: Grid, use: Usage, price: FloatArray) -> Revenue:
    """Each pool's price in each month times the busy chip-hours of the segments the
    provider bills."""
    billed = (use.training_h_psm + use.serving_h_psm) * (~grid.internal)[None, :, None]
    return Revenue(price, billed, billed * price[:, None, :])
