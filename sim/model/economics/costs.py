"""Capital and total cost of ownership of a chip, per installed and per busy chip-hour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.economics.arrays import (
    ArrayLike,
    as_array,
    as_result,
    non_negative_arrays,
    require,
    require_fraction,
    require_non_negative,
    require_rate,
    safe_divide,
)
from sim.model.schema import ChipSpec, Economics
from sim.model.units import HOURS_PER_YEAR, W_PER_KW


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
    r, n = np.broadcast_arrays(as_array(rate_per_year), as_array(life_years))
    require_rate("rate_per_year", r)
    require("life_years", n, n > 0.0, "> 0")
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
    return as_result(np.where(finite_life, finite, np.where(r > 0.0, r, 0.0)))


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
    capex = as_array(capex_usd)
    require_non_negative("capex_usd", capex)
    return as_result(capex * as_array(annuity_factor(rate_per_year, life_years)))


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
        return as_result(
            as_array(self.capital_usd)
            + as_array(self.power_usd)
            + as_array(self.facility_usd)
            + as_array(self.maintenance_usd)
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

    Each argument is checked (negative amounts, a utilisation outside [0, 1] and a PUE below
    1 raise ValueError naming the argument).
    """
    chip, server, busy_w, idle_w = non_negative_arrays(
        chip_capex_usd=chip_capex_usd,
        server_network_usd=server_network_usd,
        busy_power_w=busy_power_w,
        idle_power_w=idle_power_w,
    )
    u = as_array(utilization)
    require_fraction("utilization", u)
    pue_ = as_array(pue)
    require("pue", pue_, pue_ >= 1.0, ">= 1")
    price_kwh, facility_kw_year, maintenance, host = non_negative_arrays(
        electricity_usd_per_kwh=electricity_usd_per_kwh,
        facility_usd_per_kw_year=facility_usd_per_kw_year,
        maintenance_fraction_per_year=maintenance_fraction_per_year,
        host_power_overhead_fraction=host_power_overhead_fraction,
    )

    capex = chip + server
    capital = capex * as_array(annuity_factor(rate_per_year, life_years)) / HOURS_PER_YEAR
    mean_it_kw = (u * busy_w + (1.0 - u) * idle_w) * (1.0 + host) / W_PER_KW
    power = mean_it_kw * pue_ * price_kwh
    provisioned_it_kw = busy_w * (1.0 + host) / W_PER_KW
    facility = provisioned_it_kw * facility_kw_year / HOURS_PER_YEAR
    maint = maintenance * capex / HOURS_PER_YEAR

    shape = np.broadcast_shapes(capital.shape, power.shape, facility.shape, maint.shape)
    return TcoBreakdown(
        capital_usd=as_result(np.broadcast_to(capital, shape)),
        power_usd=as_result(np.broadcast_to(power, shape)),
        facility_usd=as_result(np.broadcast_to(facility, shape)),
        maintenance_usd=as_result(np.broadcast_to(maint, shape)),
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
    cost = as_array(usd_per_chip_hour)
    u = as_array(utilization)
    require_non_negative("usd_per_chip_hour", cost)
    require_fraction("utilization", u)
    return as_result(safe_divide(*np.broadcast_arrays(cost, u)))
