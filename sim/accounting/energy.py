"""Energy and its cost: busy, serving (by load) and idle chip power, host overhead and PUE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.binning import grouped_overlap
from sim.accounting.fleet import Fleet
from sim.accounting.grid import Grid
from sim.accounting.usage import Usage
from sim.engine.records import ServingColumns
from sim.model.units import KWH_PER_MWH, W_PER_MW

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Energy:
    """Per (pool, month) energy at the facility meter and its cost."""

    energy_mwh: FloatArray
    power_usd: FloatArray


def energy(grid: Grid, use: Usage, fleet: Fleet, serving: ServingColumns) -> Energy:
    """Energy of each pool by month.

    Training chips draw busy power; serving chips draw idle power plus the busy-idle
    difference in proportion to their load; installed chips doing neither draw idle power.
    Chip power x (1 + host overhead) x PUE is the energy at the meter.
    """
    e = grid.scenario.economics
    busy_w, idle_w = grid.busy_w, grid.idle_w
    pool = serving.pool
    serve_power_w = (
        serving.chips * (idle_w[pool] + (busy_w[pool] - idle_w[pool]) * serving.load)
        if len(serving)
        else np.zeros(0)
    )
    serve_wh = grouped_overlap(
        pool, grid.n_pools, serving.start_h, serving.end_h, serve_power_w, grid.bounds
    )
    train_h = use.training_h
    idle_h = np.maximum(fleet.installed_h - use.busy_h, 0.0)
    energy_mwh = (
        (train_h * busy_w[:, None] + serve_wh + idle_h * idle_w[:, None])
        * grid.host_factor
        * e.pue
        / W_PER_MW
    )
    return Energy(energy_mwh, energy_mwh * KWH_PER_MWH * e.electricity_usd_per_kwh)
