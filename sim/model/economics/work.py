"""Useful work per chip-hour, its cost, what customers pay for it, and chip equivalence."""

from __future__ import annotations

import numpy as np

from sim.model.economics.arrays import (
    ArrayLike,
    as_array,
    as_result,
    require_fraction,
    require_non_negative,
    safe_divide,
)
from sim.model.units import SECONDS_PER_HOUR, TFLOP_PER_PFLOP, TOKENS_PER_MTOK


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
    peak = as_array(peak_tflops)
    mfu_ = as_array(mfu)
    eff = as_array(software_efficiency)
    require_non_negative("peak_tflops", peak)
    require_fraction("mfu", mfu_)
    require_non_negative("software_efficiency", eff)
    return as_result(peak * mfu_ * eff * SECONDS_PER_HOUR / TFLOP_PER_PFLOP)


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
    cost = as_array(usd_per_busy_chip_hour)
    require_non_negative("usd_per_busy_chip_hour", cost)
    pflop = as_array(pflop_per_chip_hour(peak_tflops, mfu, software_efficiency))
    return as_result(safe_divide(*np.broadcast_arrays(cost, pflop)))


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
    rate = as_array(tokens_per_s)
    eff = as_array(software_efficiency)
    require_non_negative("tokens_per_s", rate)
    require_non_negative("software_efficiency", eff)
    return as_result(rate * eff * SECONDS_PER_HOUR / TOKENS_PER_MTOK)


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
    cost = as_array(usd_per_busy_chip_hour)
    require_non_negative("usd_per_busy_chip_hour", cost)
    mtok = as_array(mtok_per_chip_hour(tokens_per_s, software_efficiency))
    return as_result(safe_divide(*np.broadcast_arrays(cost, mtok)))


# ---------------------------------------------------------------------------- customer side


def customer_usd_per_chip_hour(
    on_demand_usd_per_chip_hour: ArrayLike,
    committed_fraction: ArrayLike,
    committed_discount_fraction: ArrayLike,
    spot_fraction: ArrayLike = 0.0,
    spot_discount_fraction: ArrayLike = 0.0,
) -> ArrayLike:
    """Blended customer price, USD per chip-hour.

    A share ``committed_fraction`` of hours is bought under a commitment at
    ``committed_discount_fraction`` off on-demand, a share ``spot_fraction`` as spot or
    Capacity Blocks at ``spot_discount_fraction`` off; the rest at on-demand:
    price x (1 - committed_fraction x discount - spot_fraction x spot discount).

    >>> customer_usd_per_chip_hour(4.0, 0.5, 0.5)
    3.0
    >>> customer_usd_per_chip_hour(4.0, 0.5, 0.5, 0.25, 0.5)
    2.5
    >>> customer_usd_per_chip_hour(4.0, 0.0, 0.9)
    4.0
    >>> customer_usd_per_chip_hour(4.0, 1.0, 1.0)
    0.0
    >>> customer_usd_per_chip_hour(4.0, 1.0, 1.1)
    Traceback (most recent call last):
    ...
    ValueError: committed_discount_fraction must be in [0, 1]; found 1.1
    """
    price = as_array(on_demand_usd_per_chip_hour)
    committed = as_array(committed_fraction)
    discount = as_array(committed_discount_fraction)
    require_non_negative("on_demand_usd_per_chip_hour", price)
    require_fraction("committed_fraction", committed)
    require_fraction("committed_discount_fraction", discount)
    spot = as_array(spot_fraction)
    spot_discount = as_array(spot_discount_fraction)
    require_fraction("spot_fraction", spot)
    require_fraction("spot_discount_fraction", spot_discount)
    require_fraction("committed_fraction + spot_fraction", committed + spot)
    return as_result(price * (1.0 - committed * discount - spot * spot_discount))


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
    a = as_array(perf_a)
    b = as_array(perf_b)
    require_non_negative("perf_a", a)
    require_non_negative("perf_b", b)
    return as_result(safe_divide(*np.broadcast_arrays(a, b)))
