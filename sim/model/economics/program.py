"""A chip program's money over time: net present value, break-even, vendor margin avoided."""

from __future__ import annotations

import numpy as np

from sim.model.economics.arrays import (
    ArrayLike,
    as_array,
    as_result,
    require_fraction,
    require_non_negative,
    require_rate,
)


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
    cf, t = np.broadcast_arrays(as_array(cash_flows_usd), as_array(times_years))
    if cf.ndim == 0:
        cf, t = cf[np.newaxis], t[np.newaxis]
    r = as_array(rate_per_year)
    require_rate("rate_per_year", r)
    discount = np.exp(-t * np.log1p(r[..., np.newaxis]))
    return as_result(np.sum(cf * discount, axis=-1))


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
    x = np.atleast_1d(as_array(cumulative_net_usd))
    if x.ndim != 1:
        raise ValueError(f"cumulative_net_usd must be one-dimensional; found shape {x.shape}")
    negative = np.flatnonzero(~(x >= 0.0))
    if negative.size == 0:
        return 0 if x.size else None
    last_negative = int(negative[-1])
    return last_negative + 1 if last_negative + 1 < x.size else None


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
    gpus = as_array(equivalent_gpus)
    price = as_array(gpu_price_usd)
    margin = as_array(gross_margin_fraction)
    require_non_negative("equivalent_gpus", gpus)
    require_non_negative("gpu_price_usd", price)
    require_fraction("gross_margin_fraction", margin)
    return as_result(gpus * price * margin)
