"""Energy and its cost: busy, serving (by load) and idle chip power, host overhead and PUE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.fleet import Fleet
from sim.accounting.grid import Grid
from sim.accounting.usage import Usage
from sim.model.units import KWH_PER_MWH, W_PER_MW

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Energy:
    """Per (pool, month) energy at the facility meter and its cost."""

    energy_mwh: FloatArray
    power_usd: FloatArray


def energy(grid: Grid, use: Usage, fleet: Fleet) -> Energy:
    """Energy of each pool by month.

    Three kinds of chip-hour (see README, "Busy, reserved and loaded"): training chips
    draw busy power; serving chips are *reserved* (busy for utilisation and billing) but
    draw idle power plus the busy-idle difference in proportion to their load, i.e. idle
    power over their reserved hours plus (busy - idle) over their *loaded* hours
    (reserved x load); installed chips doing neither draw idle power. Chip power x (1 + host
    overhead) x PUE is the energy at the meter.
    """
    e = grid.scenario.economics
    busy_w, idle_w = grid.busy_w[:, None], grid.idle_w[:, None]
    idle_h = np.maximum(fleet.installed_h - use.busy_h, 0.0)
    chip_wh = (
        use.training_h * busy_w
        + use.serving_h * idle_w
        + use.serving_loaded_h * (busy_w - idle_w)
        + idle_h * idle_w
    )
    energy_mwh = chip_wh * grid.host_factor * e.pue / W_PER_MW
    return Energy(energy_mwh, energy_mwh * KWH_PER_MWH * e.electricity_usd_per_kwh)


def training_energy_mwh(grid: Grid, use: Usage) -> FloatArray:
    """Energy at the meter of each pool's training chip-hours by month (busy power)."""
    e = grid.scenario.economics
    return use.training_h * grid.busy_w[:, None] * grid.host_factor * e.pue / W_PER_MW


def serving_energy_mwh(grid: Grid, use: Usage) -> FloatArray:
    """Energy at the meter of each pool's reserved serving chip-hours by month (idle power
    plus the busy-idle difference over the loaded hours)."""
    e = grid.scenario.economics
    busy_w, idle_w = grid.busy_w[:, None], grid.idle_w[:, None]
    chip_wh = use.serving_h * idle_w + use.serving_loaded_h * (busy_w - idle_w)
    return chip_wh * grid.host_factor * e.pue / W_PER_MW
