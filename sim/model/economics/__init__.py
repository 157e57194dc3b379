"""Economics of accelerators: annuities, TCO per chip-hour, unit costs and program P&L.

Every function here is pure and vectorised: it takes floats or numpy arrays (broadcast
together) and returns a float when every argument was a scalar, an array otherwise. Nothing
here does I/O, owns randomness or keeps state. The functions follow the pattern of PyPSA's
``pypsa/costs.py``: small closed forms with doctests that pin down the edge cases.

Units are in the names: ``_usd`` (US dollars), ``_w`` (watts), ``_per_kwh``,
``_per_year``, ``_years``, ``_per_chip_hour`` (per hour of one installed chip, busy or
not), ``_per_busy_chip_hour`` (per hour in which the chip does useful work),
``_fraction`` (a dimensionless share; in [0, 1] unless its docstring says otherwise).

Invalid inputs raise :class:`ValueError` naming the argument and the first bad value;
NaN is always invalid. No function emits numpy floating-point warnings for valid inputs
(the test suite runs with warnings as errors).
"""

from __future__ import annotations

from sim.model.economics.arrays import (
    ArrayLike,
    FloatArray,
)
from sim.model.economics.costs import (
    TcoBreakdown,
    annuity_factor,
    capital_usd_per_year,
    chip_tco,
    chip_usd_per_busy_hour,
    tco_usd_per_chip_hour,
    usd_per_busy_chip_hour,
)
from sim.model.economics.learning import (
    wright_average_cost_usd,
    wright_unit_cost_usd,
)
from sim.model.economics.program import (
    Irr,
    breakeven_index,
    compounded_usd,
    crossing_years,
    irr_per_year,
    npv_usd,
)
from sim.model.economics.work import (
    customer_usd_per_chip_hour,
    equivalent_chips,
    mtok_per_chip_hour,
    pflop_per_chip_hour,
    usd_per_mtok,
    usd_per_pflop,
)

__all__ = [
    "ArrayLike",
    "FloatArray",
    "Irr",
    "TcoBreakdown",
    "annuity_factor",
    "breakeven_index",
    "capital_usd_per_year",
    "chip_tco",
    "chip_usd_per_busy_hour",
    "compounded_usd",
    "crossing_years",
    "customer_usd_per_chip_hour",
    "equivalent_chips",
    "irr_per_year",
    "mtok_per_chip_hour",
    "npv_usd",
    "pflop_per_chip_hour",
    "tco_usd_per_chip_hour",
    "usd_per_busy_chip_hour",
    "usd_per_mtok",
    "usd_per_pflop",
    "wright_average_cost_usd",
    "wright_unit_cost_usd",
]
