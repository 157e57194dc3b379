"""The axes every ledger table shares: months, pools and segments of one run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sim.engine.records import EngineLog
from sim.model.schema import ChipSpec, Scenario
from sim.model.timeline import Clock

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Grid:
    """Months x pools x segments of one run, and the per-pool catalog figures accounts use.

    Arrays over pools are in :attr:`EngineLog.pool_ids` order, over segments in
    :attr:`EngineLog.segment_ids` order; monthly arrays have one column per month bin of
    :attr:`bounds` (hours since the horizon start).
    """

    scenario: Scenario
    clock: Clock
    pools: list[str]
    segments: list[str]
    chips: list[ChipSpec]
    internal: npt.NDArray[np.bool_] = field(repr=False)
    busy_w: FloatArray = field(repr=False)
    idle_w: FloatArray = field(repr=False)

    @classmethod
    def of(cls, scenario: Scenario, log: EngineLog) -> Grid:
        """The grid of a run of ``scenario`` that produced ``log``."""
        chips = [scenario.catalog.chips[p] for p in log.pool_ids]
        return cls(
            scenario=scenario,
            clock=Clock(scenario.horizon.start, scenario.horizon.end),
            pools=log.pool_ids,
            segments=log.segment_ids,
            chips=chips,
            internal=np.array([scenario.segments[x].internal for x in log.segment_ids], dtype=bool),
            busy_w=np.array([c.busy_power_w for c in chips]),
            idle_w=np.array([c.idle_power_w for c in chips]),
        )

    @property
    def bounds(self) -> FloatArray:
        """Month boundaries, hours (n_months + 1 values)."""
        return self.clock.month_bounds_hours

    @property
    def n_months(self) -> int:
        """Number of calendar months (whole or part) in the horizon."""
        return len(self.clock.month_starts)

    @property
    def n_pools(self) -> int:
        """Number of pools."""
        return len(self.pools)

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return len(self.segments)

    @property
    def horizon_h(self) -> float:
        """Length of the horizon, hours."""
        return self.clock.horizon_hours

    @property
    def months(self) -> list[str]:
        """Month starts as ISO dates (the ``month`` column of the tables)."""
        return [m.isoformat() for m in self.clock.month_starts]

    @property
    def host_factor(self) -> float:
        """1 + host power overhead: IT power per watt of chip power."""
        return 1.0 + self.scenario.economics.host_power_overhead_fraction
