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

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.model.schema import ChipSpec, Economics
from sim.model.units import (
    HOURS_PER_YEAR,
    SECONDS_PER_HOUR,
    TFLOP_PER_PFLOP,
    TOKENS_PER_MTOK,
    W_PER_KW,
)

__all__ = [
    "ArrayLike",
    "FloatArray",
    "TcoBreakdown",
    "annuity_factor",
    "breakeven_index",
    "capital_usd_per_year",
    "chip_tco",
    "chip_usd_per_busy_hour",
    "customer_usd_per_chip_hour",
    "equivalent_chips",
    "mtok_per_chip_hour",
    "npv_usd",
    "nvidia_margin_avoided_usd",
    "pflop_per_chip_hour",
    "tco_usd_per_chip_hour",
    "usd_per_busy_chip_hour",
    "usd_per_mtok",
    "usd_per_pflop",
    "wright_average_cost_usd",
    "wright_unit_cost_usd",
]

FloatArray = npt.NDArray[np.float64]
"""A numpy array of float64 values."""

ArrayLike = float | FloatArray
"""A scalar or an array; arrays broadcast against each other with numpy's rules."""

_HALF_UNIT = 0.5
"""Half of one unit: unit k of a production run is represented by [k - 1/2, k + 1/2]."""


# ---------------------------------------------------------------------------- helpers


def _arr(value: ArrayLike) -> FloatArray:
    """Return ``value`` as a float64 array (0-d for scalars) without copying arrays."""
    return np.asarray(value, dtype=np.float64)


def _out(value: npt.NDArray[Any]) -> ArrayLike:
    """Return a 0-d result as a Python float, any other result as a float64 array."""
    result = np.asarray(value, dtype=np.float64)
    if result.ndim == 0:
        return float(result)
    return result


def _require(name: str, value: FloatArray, ok: npt.NDArray[np.bool_], requirement: str) -> None:
    """Raise ValueError naming ``name`` and its first value where ``ok`` is False."""
    if bool(np.all(ok)):
        return
    bad = np.broadcast_to(value, ok.shape)[~ok]
    where = "" if value.ndim == 0 else f" ({bad.size} of {ok.size} values invalid)"
    raise ValueError(f"{name} must be {requirement}; found {float(bad[0])!r}{where}")


def _non_negative(name: str, value: FloatArray) -> None:
    _require(name, value, value >= 0.0, ">= 0")


def _fraction(name: str, value: FloatArray) -> None:
    _require(name, value, (value >= 0.0) & (value <= 1.0), "in [0, 1]")


def _rate(name: str, value: FloatArray) -> None:
    _require(name, value, value > -1.0, "> -1 (a rate of -100% or less is meaningless)")


def _safe_divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator for numerator >= 0, with x / 0 -> inf and no warnings.

    Used where a zero denominator means "no useful output" (no busy hours, no FLOP, no
    tokens): the cost per unit is then infinite, even for a zero cost, so that an option
    producing nothing never wins a cost comparison. Quotients too large for a float
    (a tiny denominator) are inf too, which is their correct value to working precision.
    """
    zero = denominator == 0.0
    with np.errstate(over="ignore"):
        quotient = numerator / np.where(zero, 1.0, denominator)
    return np.where(zero, np.inf, quotient)


# ---------------------------------------------------------------------------- capital


def annuity_factor(rate_per_year: ArrayLike, life_years: ArrayLike) -> ArrayLike:
    """Capital recovery factor r / (1 - (1 + r)^-n): payment per year per dollar of capex.

    Paying ``annuity_factor(r, n)`` dollars at the end of each of ``n`` years repays one
    dollar borrowed at rate ``r`` per year. Units: 1/year. ``rate_per_year`` must be
    > -1 (negative real rates are allowed); ``life_years`` must be > 0 and may be
    fractional or infinite.

    Edge cases are the limits of the formula: r == 0 gives straight-line 1/n; an infinite
    life gives the perpetuity r for r >= 0 (and 0 for r < 0, where the formula tends
    to 0 because the discounted years sum to infinity).

    >>> annuity_factor(0.0, 20)
    0.05
    >>> round(annuity_factor(0.08, 5), 6)
    0.250456
    >>> annuity_factor(0.07, float("inf"))
    0.07
    >>> annuity_factor(0.0, float("inf"))
    0.0
    >>> annuity_factor(-0.02, float("inf"))
    0.0
    >>> annuity_factor(0.05, 1)
    1.05
    >>> annuity_factor(np.array([0.0, 0.1]), np.array([4.0, np.inf])).tolist()
    [0.25, 0.1]
    >>> annuity_factor(0.05, 0)
    Traceback (most recent call last):
    ...
    ValueError: life_years must be > 0; found 0.0
    >>> annuity_factor(-1.0, 10)
    Traceback (most recent call last):
    ...
    ValueError: rate_per_year must be > -1 (a rate of -100% or less is meaningless); found -1.0
    """
    r, n = np.broadcast_arrays(_arr(rate_per_year), _arr(life_years))
    _rate("rate_per_year", r)
    _require("life_years", n, n > 0.0, "> 0")
    # Written as (r / log(1+r)) x (y / (1 - e^-y)) / n with y = n log(1+r), which equals
    # r / (1 - (1+r)^-n). Both brackets tend to 1 as r -> 0, so the r == 0 limit 1/n and
    # rates so small that y underflows (r ~ 1e-320) need no division by zero, and the
    # expm1/log1p forms keep full precision for small r.
    log_growth = np.log1p(r)
    zero_log = log_growth == 0.0
    rate_over_log = np.where(zero_log, 1.0, r / np.where(zero_log, 1.0, log_growth))
    finite_life = np.isfinite(n)
    n_finite = np.where(finite_life, n, 1.0)
    y = n_finite * log_growth
    zero_y = y == 0.0
    # For r < 0 and large n, e^-y overflows to inf: the correct limit (y / -inf -> 0).
    with np.errstate(over="ignore"):
        one_minus_discount = -np.expm1(-y)
    y_ratio = np.where(zero_y, 1.0, y / np.where(zero_y, 1.0, one_minus_discount))
    finite = rate_over_log * y_ratio / n_finite
    # Infinite life: the perpetuity r for r > 0, and 0 for r <= 0.
    return _out(np.where(finite_life, finite, np.where(r > 0.0, r, 0.0)))


def capital_usd_per_year(
    capex_usd: ArrayLike, rate_per_year: ArrayLike, life_years: ArrayLike
) -> ArrayLike:
    """Equal annual payment (USD/year) that repays ``capex_usd`` at the given rate and life.

    >>> round(capital_usd_per_year(45_000.0, 0.08, 5), 2)
    11270.54
    >>> capital_usd_per_year(1000.0, 0.0, 4)
    250.0
    >>> capital_usd_per_year(0.0, 0.1, 3)
    0.0
    >>> capital_usd_per_year(-1.0, 0.1, 3)
    Traceback (most recent call last):
    ...
    ValueError: capex_usd must be >= 0; found -1.0
    """
    capex = _arr(capex_usd)
    _non_negative("capex_usd", capex)
    return _out(capex * _arr(annuity_factor(rate_per_year, life_years)))


# ---------------------------------------------------------------------------- TCO


@dataclass(frozen=True)
class TcoBreakdown:
    """Provider cost of one installed chip, USD per chip-hour, split by cause.

    Each field is a float or an array (all of one broadcast shape when built by
    :func:`tco_usd_per_chip_hour`). Costs are per installed chip-hour, busy or idle.
    """

    capital_usd: ArrayLike
    """Annualised chip and server/network capex, USD per chip-hour."""
    power_usd: ArrayLike
    """Electricity at the facility meter (IT power x PUE), USD per chip-hour."""
    facility_usd: ArrayLike
    """Data-centre space, power and cooling capacity sized for peak IT power, USD/chip-h."""
    maintenance_usd: ArrayLike
    """Repairs, spares and support as a fraction of capex, USD per chip-hour."""

    @property
    def total_usd(self) -> ArrayLike:
        """Sum of the four components, USD per chip-hour.

        >>> TcoBreakdown(1.0, 0.25, 0.125, 0.5).total_usd
        1.875
        """
        return _out(
            _arr(self.capital_usd)
            + _arr(self.power_usd)
            + _arr(self.facility_usd)
            + _arr(self.maintenance_usd)
        )

    def as_dict(self) -> dict[str, ArrayLike]:
        """The components and their total, keyed by field name (for flat result rows).

        >>> TcoBreakdown(1.0, 0.25, 0.125, 0.5).as_dict()
        {'capital_usd': 1.0, 'power_usd': 0.25, 'facility_usd': 0.125, \
'maintenance_usd': 0.5, 'total_usd': 1.875}
        """
        return {
            "capital_usd": self.capital_usd,
            "power_usd": self.power_usd,
            "facility_usd": self.facility_usd,
            "maintenance_usd": self.maintenance_usd,
            "total_usd": self.total_usd,
        }


def tco_usd_per_chip_hour(
    *,
    chip_capex_usd: ArrayLike,
    server_network_usd: ArrayLike,
    rate_per_year: ArrayLike,
    life_years: ArrayLike,
    busy_power_w: ArrayLike,
    idle_power_w: ArrayLike,
    utilization: ArrayLike,
    pue: ArrayLike,
    electricity_usd_per_kwh: ArrayLike,
    facility_usd_per_kw_year: ArrayLike,
    maintenance_fraction_per_year: ArrayLike,
    host_power_overhead_fraction: ArrayLike = 0.0,
) -> TcoBreakdown:
    """Total cost of ownership of one installed chip, USD per chip-hour, by component.

    - capital = (chip + server/network share) x annuity_factor(rate, life) / 8760 h;
    - power = (u x busy + (1 - u) x idle) W x (1 + host overhead) / 1000 x PUE x USD/kWh,
      with u the utilisation (fraction of hours busy);
    - facility = busy W x (1 + host overhead) / 1000 x USD per kW-year / 8760 h: the
      building is sized for provisioned IT power; PUE enters through the energy term;
    - maintenance = fraction per year x (chip + server/network capex) / 8760 h.

    ``server_network_usd`` is this chip's share of host, network and rack capex;
    ``host_power_overhead_fraction`` is host CPU, NIC and fan power as a fraction of the
    chip's power.

    An H100 at $30,000 plus a $15,000 server share, 8% over 5 years, 700/100 W, 60% busy,
    PUE 1.15, $0.0806/kWh, $1,000/kW-year, 3% maintenance:

    >>> tco = tco_usd_per_chip_hour(
    ...     chip_capex_usd=30_000.0, server_network_usd=15_000.0, rate_per_year=0.08,
    ...     life_years=5, busy_power_w=700.0, idle_power_w=100.0, utilization=0.6,
    ...     pue=1.15, electricity_usd_per_kwh=0.0806, facility_usd_per_kw_year=1000.0,
    ...     maintenance_fraction_per_year=0.03)
    >>> {k: round(v, 4) for k, v in tco.as_dict().items()}
    {'capital_usd': 1.2866, 'power_usd': 0.0426, 'facility_usd': 0.0799, \
'maintenance_usd': 0.1541, 'total_usd': 1.5632}

    Idle chips still cost capital, facility and maintenance; arrays broadcast:

    >>> tco = tco_usd_per_chip_hour(
    ...     chip_capex_usd=8760.0, server_network_usd=0.0, rate_per_year=0.0,
    ...     life_years=1, busy_power_w=1000.0, idle_power_w=0.0,
    ...     utilization=np.array([0.0, 1.0]), pue=1.0, electricity_usd_per_kwh=0.1,
    ...     facility_usd_per_kw_year=0.0, maintenance_fraction_per_year=0.0)
    >>> tco.capital_usd.tolist(), tco.power_usd.tolist()
    ([1.0, 1.0], [0.0, 0.1])

    >>> tco_usd_per_chip_hour(
    ...     chip_capex_usd=1.0, server_network_usd=0.0, rate_per_year=0.0, life_years=1,
    ...     busy_power_w=1.0, idle_power_w=0.0, utilization=0.5, pue=0.9,
    ...     electricity_usd_per_kwh=0.1, facility_usd_per_kw_year=0.0,
    ...     maintenance_fraction_per_year=0.0)
    Traceback (most recent call last):
    ...
    ValueError: pue must be >= 1; found 0.9
    """
    chip = _arr(chip_capex_usd)
    server = _arr(server_network_usd)
    busy_w = _arr(busy_power_w)
    idle_w = _arr(idle_power_w)
    u = _arr(utilization)
    pue_ = _arr(pue)
    price_kwh = _arr(electricity_usd_per_kwh)
    facility_kw_year = _arr(facility_usd_per_kw_year)
    maintenance = _arr(maintenance_fraction_per_year)
    host = _arr(host_power_overhead_fraction)

    _non_negative("chip_capex_usd", chip)
    _non_negative("server_network_usd", server)
    _non_negative("busy_power_w", busy_w)
    _non_negative("idle_power_w", idle_w)
    _fraction("utilization", u)
    _require("pue", pue_, pue_ >= 1.0, ">= 1")
    _non_negative("electricity_usd_per_kwh", price_kwh)
    _non_negative("facility_usd_per_kw_year", facility_kw_year)
    _non_negative("maintenance_fraction_per_year", maintenance)
    _non_negative("host_power_overhead_fraction", host)

    capex = chip + server
    capital = capex * _arr(annuity_factor(rate_per_year, life_years)) / HOURS_PER_YEAR
    mean_it_kw = (u * busy_w + (1.0 - u) * idle_w) * (1.0 + host) / W_PER_KW
    power = mean_it_kw * pue_ * price_kwh
    provisioned_it_kw = busy_w * (1.0 + host) / W_PER_KW
    facility = provisioned_it_kw * facility_kw_year / HOURS_PER_YEAR
    maint = maintenance * capex / HOURS_PER_YEAR

    shape = np.broadcast_shapes(capital.shape, power.shape, facility.shape, maint.shape)
    return TcoBreakdown(
        capital_usd=_out(np.broadcast_to(capital, shape)),
        power_usd=_out(np.broadcast_to(power, shape)),
        facility_usd=_out(np.broadcast_to(facility, shape)),
        maintenance_usd=_out(np.broadcast_to(maint, shape)),
    )


def chip_tco(
    chip: ChipSpec, economics: Economics, capex_usd: ArrayLike, utilization: ArrayLike
) -> TcoBreakdown:
    """:func:`tco_usd_per_chip_hour` of a catalog chip under a scenario's economics.

    The one place where a chip's fields and the economics section become the formula's
    arguments; ``capex_usd`` is what the provider paid for the chip (list, street or
    learning-curve price: see :mod:`sim.model.pricing`).

    >>> import datetime as dt
    >>> from sim.model.schema import ChipSpec, Economics
    >>> chip = ChipSpec(name="g", vendor="nvidia", family="nvidia_gpu", stack="cuda",
    ...     launch_date=dt.date(2023, 1, 1), workloads=["training"], peak_bf16_tflops=989.0,
    ...     hbm_gb=80.0, memory_tb_per_s=3.35, busy_power_w=700.0, idle_power_w=100.0,
    ...     unit_cost_usd=30_000.0, server_network_usd_per_chip=15_000.0,
    ...     cloud_price_usd_per_chip_hour=12.0, inference_tokens_per_s=1000.0,
    ...     training_mfu=0.4)
    >>> eco = Economics(discount_rate_per_year=0.08, depreciation_years=5.0, pue=1.15,
    ...     electricity_usd_per_kwh=0.0806, facility_usd_per_kw_year=1000.0,
    ...     maintenance_fraction_per_year=0.03, host_power_overhead_fraction=0.0,
    ...     engineer_usd_per_month=20_000.0)
    >>> round(chip_tco(chip, eco, 30_000.0, 0.6).total_usd, 4)
    1.5632
    """
    return tco_usd_per_chip_hour(
        chip_capex_usd=capex_usd,
        server_network_usd=chip.server_network_usd_per_chip,
        rate_per_year=economics.discount_rate_per_year,
        life_years=economics.depreciation_years,
        busy_power_w=chip.busy_power_w,
        idle_power_w=chip.idle_power_w,
        utilization=utilization,
        pue=economics.pue,
        electricity_usd_per_kwh=economics.electricity_usd_per_kwh,
        facility_usd_per_kw_year=economics.facility_usd_per_kw_year,
        maintenance_fraction_per_year=economics.maintenance_fraction_per_year,
        host_power_overhead_fraction=economics.host_power_overhead_fraction,
    )


def chip_usd_per_busy_hour(
    chip: ChipSpec, economics: Economics, capex_usd: ArrayLike, utilization: ArrayLike
) -> ArrayLike:
    """Provider cost of one busy hour of a catalog chip: its :func:`chip_tco` / utilisation."""
    return usd_per_busy_chip_hour(
        chip_tco(chip, economics, capex_usd, utilization).total_usd, utilization
    )


def usd_per_busy_chip_hour(usd_per_chip_hour: ArrayLike, utilization: ArrayLike) -> ArrayLike:
    """Cost of one hour of useful work: cost per installed chip-hour / utilisation.

    Idle hours are paid for by the busy ones. Utilisation 0 gives inf, even for a zero cost:
    no work is ever done, so no cost per unit of work is finite.

    >>> usd_per_busy_chip_hour(1.5, 0.6)
    2.5
    >>> usd_per_busy_chip_hour(2.0, 1.0)
    2.0
    >>> usd_per_busy_chip_hour(2.0, 0.0)
    inf
    >>> usd_per_busy_chip_hour(np.array([1.0, 1.0]), np.array([0.5, 0.0])).tolist()
    [2.0, inf]
    >>> usd_per_busy_chip_hour(1.0, 1.5)
    Traceback (most recent call last):
    ...
    ValueError: utilization must be in [0, 1]; found 1.5
    """
    cost = _arr(usd_per_chip_hour)
    u = _arr(utilization)
    _non_negative("usd_per_chip_hour", cost)
    _fraction("utilization", u)
    return _out(_safe_divide(*np.broadcast_arrays(cost, u)))


# ---------------------------------------------------------------------------- output units


def pflop_per_chip_hour(
    peak_tflops: ArrayLike, mfu: ArrayLike, software_efficiency: ArrayLike = 1.0
) -> ArrayLike:
    """Useful PFLOP delivered per busy chip-hour.

    peak TFLOP/s x MFU (model FLOP utilisation, fraction of peak achieved) x software
    efficiency (multiplier for stack maturity relative to the stack MFU was measured on;
    may exceed 1) x 3600 s/h / 1000 TFLOP/PFLOP.

    >>> pflop_per_chip_hour(989.0, 0.4)
    1424.16
    >>> pflop_per_chip_hour(1000.0, 0.5, software_efficiency=0.8)
    1440.0
    >>> pflop_per_chip_hour(1000.0, 0.0)
    0.0
    >>> pflop_per_chip_hour(1000.0, 1.2)
    Traceback (most recent call last):
    ...
    ValueError: mfu must be in [0, 1]; found 1.2
    """
    peak = _arr(peak_tflops)
    mfu_ = _arr(mfu)
    eff = _arr(software_efficiency)
    _non_negative("peak_tflops", peak)
    _fraction("mfu", mfu_)
    _non_negative("software_efficiency", eff)
    return _out(peak * mfu_ * eff * SECONDS_PER_HOUR / TFLOP_PER_PFLOP)


def usd_per_pflop(
    usd_per_busy_chip_hour: ArrayLike,
    peak_tflops: ArrayLike,
    mfu: ArrayLike,
    software_efficiency: ArrayLike = 1.0,
) -> ArrayLike:
    """Cost of one PFLOP of useful compute, USD; inf when the chip delivers none.

    >>> round(usd_per_pflop(2.88, 1000.0, 0.5), 6)
    0.0016
    >>> usd_per_pflop(2.0, 1000.0, 0.0)
    inf
    """
    cost = _arr(usd_per_busy_chip_hour)
    _non_negative("usd_per_busy_chip_hour", cost)
    pflop = _arr(pflop_per_chip_hour(peak_tflops, mfu, software_efficiency))
    return _out(_safe_divide(*np.broadcast_arrays(cost, pflop)))


def mtok_per_chip_hour(tokens_per_s: ArrayLike, software_efficiency: ArrayLike = 1.0) -> ArrayLike:
    """Million tokens produced per busy chip-hour: tokens/s x efficiency x 3600 / 10^6.

    >>> mtok_per_chip_hour(1000.0)
    3.6
    >>> mtok_per_chip_hour(1000.0, software_efficiency=0.5)
    1.8
    >>> mtok_per_chip_hour(0.0)
    0.0
    >>> mtok_per_chip_hour(-1.0)
    Traceback (most recent call last):
    ...
    ValueError: tokens_per_s must be >= 0; found -1.0
    """
    rate = _arr(tokens_per_s)
    eff = _arr(software_efficiency)
    _non_negative("tokens_per_s", rate)
    _non_negative("software_efficiency", eff)
    return _out(rate * eff * SECONDS_PER_HOUR / TOKENS_PER_MTOK)


def usd_per_mtok(
    usd_per_busy_chip_hour: ArrayLike,
    tokens_per_s: ArrayLike,
    software_efficiency: ArrayLike = 1.0,
) -> ArrayLike:
    """Cost of a million tokens, USD; inf when the chip produces none.

    >>> usd_per_mtok(3.6, 1000.0)
    1.0
    >>> usd_per_mtok(3.6, 0.0)
    inf
    """
    cost = _arr(usd_per_busy_chip_hour)
    _non_negative("usd_per_busy_chip_hour", cost)
    mtok = _arr(mtok_per_chip_hour(tokens_per_s, software_efficiency))
    return _out(_safe_divide(*np.broadcast_arrays(cost, mtok)))


# ---------------------------------------------------------------------------- customer side


def customer_usd_per_chip_hour(
    on_demand_usd_per_chip_hour: ArrayLike,
    committed_fraction: ArrayLike,
    committed_discount_fraction: ArrayLike,
) -> ArrayLike:
    """Blended customer price, USD per chip-hour.

    A share ``committed_fraction`` of hours is bought under a commitment at
    ``committed_discount_fraction`` off on-demand; the rest at on-demand:
    price x (1 - committed_fraction x discount).

    >>> customer_usd_per_chip_hour(4.0, 0.5, 0.5)
    3.0
    >>> customer_usd_per_chip_hour(4.0, 0.0, 0.9)
    4.0
    >>> customer_usd_per_chip_hour(4.0, 1.0, 1.0)
    0.0
    >>> customer_usd_per_chip_hour(4.0, 1.0, 1.1)
    Traceback (most recent call last):
    ...
    ValueError: committed_discount_fraction must be in [0, 1]; found 1.1
    """
    price = _arr(on_demand_usd_per_chip_hour)
    committed = _arr(committed_fraction)
    discount = _arr(committed_discount_fraction)
    _non_negative("on_demand_usd_per_chip_hour", price)
    _fraction("committed_fraction", committed)
    _fraction("committed_discount_fraction", discount)
    return _out(price * (1.0 - committed * discount))


# ---------------------------------------------------------------------------- learning curve


def _wright_exponent(learning_rate: ArrayLike) -> FloatArray:
    """b = log2(learning_rate), after checking 0 < learning_rate <= 1."""
    lr = _arr(learning_rate)
    _require("learning_rate", lr, (lr > 0.0) & (lr <= 1.0), "in (0, 1]")
    exponent: FloatArray = np.log2(lr)
    return exponent


def wright_unit_cost_usd(
    first_unit_cost_usd: ArrayLike, cumulative_units: ArrayLike, learning_rate: ArrayLike
) -> ArrayLike:
    """Wright's law: cost of unit number ``cumulative_units`` of a production run, USD.

    cost(n) = first x n^b with b = log2(learning_rate), for n >= 1; ``first`` for n < 1.
    ``learning_rate`` is the factor the unit cost is multiplied by at each doubling of
    cumulative volume (0.85: 15% cheaper per doubling), in (0, 1].

    >>> wright_unit_cost_usd(100.0, 2, 0.85)
    85.0
    >>> round(wright_unit_cost_usd(100.0, 1024, 0.9), 4)
    34.8678
    >>> wright_unit_cost_usd(100.0, np.array([0.0, 0.5, 1.0, 4.0]), 0.5).tolist()
    [100.0, 100.0, 100.0, 25.0]
    >>> wright_unit_cost_usd(100.0, 1e6, 1.0)
    100.0
    >>> wright_unit_cost_usd(100.0, 10, 1.2)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be in (0, 1]; found 1.2
    """
    first = _arr(first_unit_cost_usd)
    n = _arr(cumulative_units)
    _non_negative("first_unit_cost_usd", first)
    _non_negative("cumulative_units", n)
    b = _wright_exponent(learning_rate)
    return _out(first * np.maximum(n, 1.0) ** b)


def wright_average_cost_usd(
    first_unit_cost_usd: ArrayLike,
    units_before: ArrayLike,
    units_added: ArrayLike,
    learning_rate: ArrayLike,
) -> ArrayLike:
    """Average unit cost (USD) of a batch of ``units_added`` units made after ``units_before``.

    The exact average (1/m) sum_{k=a+1}^{a+m} first x k^b (a = units_before,
    m = units_added, b = log2(learning_rate)) costs O(m) and batches run to millions, so
    this uses the continuous approximation (1/m) integral of first x x^b over
    [a + 1/2, a + m + 1/2]: the integral over [a, a + m] shifted by half a unit, so that
    unit k is represented by [k - 1/2, k + 1/2] (the midpoint rule, whose error falls as
    k^-2; without the shift the integral overstates a batch starting at unit 1 by ~3%).
    The closed form, first x x0^b x (expm1(z) / z) x (log1p(u) / u) with x0 = a + 1/2,
    u = m / x0 and z = (b + 1) log1p(u), avoids cancellation and has no special cases:
    learning rate 0.5 (b = -1) and m == 0 (the marginal cost first x x0^b) are limits.

    Accuracy (it overstates the exact average slightly, as x^b is convex): at a learning
    rate of 0.85, +0.3% for the first ten units, +1.3% for the first unit alone and below
    0.1% once a >= 10; steeper curves do worse (first unit alone: +3.7% at 0.7, +10% at
    0.5), all of it in the first few units.

    >>> a, m, lr = 0, 10, 0.85
    >>> exact = sum(wright_unit_cost_usd(100.0, k, lr) for k in range(a + 1, a + m + 1)) / m
    >>> approx = wright_average_cost_usd(100.0, a, m, lr)
    >>> round(approx, 2), round(exact, 2), abs(approx / exact - 1) < 0.01
    (71.35, 71.16, True)
    >>> round(wright_average_cost_usd(100.0, 1e6, 5e6, 1.0), 9)
    100.0
    >>> round(wright_average_cost_usd(100.0, 1e6, 1e6, 0.85), 4)
    3.5838
    >>> wright_average_cost_usd(100.0, 1.5, 0.0, 0.5)
    50.0
    >>> wright_average_cost_usd(100.0, 0, -1, 0.85)
    Traceback (most recent call last):
    ...
    ValueError: units_added must be >= 0 and finite; found -1.0
    """
    first = _arr(first_unit_cost_usd)
    before = _arr(units_before)
    added = _arr(units_added)
    _non_negative("first_unit_cost_usd", first)
    _require("units_before", before, (before >= 0.0) & np.isfinite(before), ">= 0 and finite")
    _require("units_added", added, (added >= 0.0) & np.isfinite(added), ">= 0 and finite")
    b = _wright_exponent(learning_rate)
    b, before, added = np.broadcast_arrays(b, before, added)

    x0 = before + _HALF_UNIT
    u = added / x0  # the batch size relative to the start of its interval
    log_growth = np.log1p(u)  # log((x0 + m) / x0)
    z = (b + 1.0) * log_growth
    # (1/m) integral_{x0}^{x0+m} x^b dx = x0^b x [expm1(z) / z] x [log1p(u) / u]; both
    # brackets tend to 1 as their argument does, which gives the b = -1 (z == 0) and
    # empty-batch (u == 0) limits, and keeps precision for tiny batches.
    zero_z = z == 0.0
    expm1_ratio = np.where(zero_z, 1.0, np.expm1(z) / np.where(zero_z, 1.0, z))
    zero_u = u == 0.0
    log_ratio = np.where(zero_u, 1.0, log_growth / np.where(zero_u, 1.0, u))
    return _out(first * x0**b * expm1_ratio * log_ratio)


# ---------------------------------------------------------------------------- program P&L


def npv_usd(
    cash_flows_usd: ArrayLike, times_years: ArrayLike, rate_per_year: ArrayLike
) -> ArrayLike:
    """Net present value (USD at time 0): sum over flows of CF / (1 + r)^t.

    ``cash_flows_usd`` and ``times_years`` broadcast together and are summed over their
    last axis; ``rate_per_year`` (> -1) may be an array of rates, one per leading index
    (e.g. a rate per scenario), and broadcasts against the leading axes. Times may be
    fractional or negative (flows before time 0 are compounded forward).

    >>> npv_usd(np.array([-100.0, 110.0]), np.array([0.0, 1.0]), 0.1)
    0.0
    >>> npv_usd(np.array([-100.0, 60.0, 60.0]), np.arange(3.0), 0.0)
    20.0
    >>> npv_usd(np.array([]), np.array([]), 0.05)
    0.0
    >>> npv_usd(np.array([-100.0, 121.0]), np.array([0.0, 2.0]), np.array([0.0, 0.1])).tolist()
    [21.0, 0.0]
    """
    cf, t = np.broadcast_arrays(_arr(cash_flows_usd), _arr(times_years))
    if cf.ndim == 0:
        cf, t = cf[np.newaxis], t[np.newaxis]
    r = _arr(rate_per_year)
    _rate("rate_per_year", r)
    discount = np.exp(-t * np.log1p(r[..., np.newaxis]))
    return _out(np.sum(cf * discount, axis=-1))


def breakeven_index(cumulative_net_usd: ArrayLike) -> int | None:
    """Index from which a cumulative net position stays >= 0 to the end, or None.

    For an in-house chip program, ``cumulative_net_usd`` is cumulative savings minus
    cumulative NRE per period; the result is the break-even period. A position that
    dips negative again later does not count as broken even before the dip. NaN counts as
    negative. One-dimensional input; None for an empty series or a negative final value.

    >>> breakeven_index(np.array([-5.0, -1.0, 0.0, 3.0]))
    2
    >>> breakeven_index(np.array([-5.0, 2.0, -1.0, 3.0]))
    3
    >>> breakeven_index(np.array([1.0, 2.0]))
    0
    >>> breakeven_index(np.array([-1.0, 2.0, -0.5])) is None
    True
    >>> breakeven_index(np.array([])) is None
    True
    """
    x = np.atleast_1d(_arr(cumulative_net_usd))
    if x.ndim != 1:
        raise ValueError(f"cumulative_net_usd must be one-dimensional; found shape {x.shape}")
    negative = np.flatnonzero(~(x >= 0.0))
    if negative.size == 0:
        return 0 if x.size else None
    last_negative = int(negative[-1])
    return last_negative + 1 if last_negative + 1 < x.size else None


# ---------------------------------------------------------------------------- Nvidia margin


def equivalent_chips(perf_a: ArrayLike, perf_b: ArrayLike) -> ArrayLike:
    """How many chips of type b do the work of one chip of type a: perf_a / perf_b.

    ``perf_a`` and ``perf_b`` are any one throughput measure in the same unit (tokens/s,
    useful PFLOP per hour, ...). ``equivalent_chips(perf_a=gpu, perf_b=trainium) == 2``
    means two Trainium chips replace one GPU, so N Trainium chips displace N / 2 GPUs.
    A chip b with no throughput cannot replace anything: inf (even if a does nothing).

    >>> equivalent_chips(2.0, 1.0)
    2.0
    >>> equivalent_chips(1.0, 4.0)
    0.25
    >>> equivalent_chips(1.0, 0.0)
    inf
    >>> equivalent_chips(-1.0, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: perf_a must be >= 0; found -1.0
    """
    a = _arr(perf_a)
    b = _arr(perf_b)
    _non_negative("perf_a", a)
    _non_negative("perf_b", b)
    return _out(_safe_divide(*np.broadcast_arrays(a, b)))


def nvidia_margin_avoided_usd(
    equivalent_gpus: ArrayLike, gpu_price_usd: ArrayLike, gross_margin_fraction: ArrayLike
) -> ArrayLike:
    """Vendor gross margin not paid by building in-house chips instead of buying GPUs, USD.

    equivalent GPUs displaced x GPU price paid x vendor gross margin (a fraction of the
    price).

    >>> nvidia_margin_avoided_usd(1000.0, 30_000.0, 0.75)
    22500000.0
    >>> nvidia_margin_avoided_usd(0.0, 30_000.0, 0.75)
    0.0
    >>> nvidia_margin_avoided_usd(1.0, 30_000.0, 1.5)
    Traceback (most recent call last):
    ...
    ValueError: gross_margin_fraction must be in [0, 1]; found 1.5
    """
    gpus = _arr(equivalent_gpus)
    price = _arr(gpu_price_usd)
    margin = _arr(gross_margin_fraction)
    _non_negative("equivalent_gpus", gpus)
    _non_negative("gpu_price_usd", price)
    _fraction("gross_margin_fraction", margin)
    return _out(gpus * price * margin)
