"""A chip program's money over time: net present value, internal rate of return, payback
and break-even, and costs spent before the valuation date compounded to it."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sim.model.economics.arrays import (
    ArrayLike,
    as_array,
    as_result,
    require_rate,
)

#: Rates (per year) searched for an internal rate of return: from -99% to +10,000% a year,
#: finer near zero where real projects' rates lie.
IRR_SEARCH_RATES: tuple[float, ...] = tuple(
    sorted({*np.linspace(-0.99, 1.0, 399).tolist(), *np.geomspace(1.0, 100.0, 200).tolist()})
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


class Irr(NamedTuple):
    """An internal rate of return, or None with the reason none is reported."""

    rate_per_year: float | None
    note: str


def irr_per_year(cash_flows_usd: ArrayLike, times_years: ArrayLike) -> Irr:
    """The rate at which the flows' net present value is zero (scipy's Brent root finder).

    The NPV is evaluated over :data:`IRR_SEARCH_RATES`; a unique sign change is bracketed
    and solved to 1e-12. No rate is reported when the flows never change sign, when the
    NPV keeps one sign over the whole range, or when it changes sign more than once (the
    IRR is then ambiguous: the note lists the brackets).

    >>> round(irr_per_year(np.array([-100.0, 110.0]), np.array([0.0, 1.0])).rate_per_year, 9)
    0.1
    >>> irr_per_year(np.array([-100.0, -5.0]), np.array([0.0, 1.0])).note
    'none: the flows never change sign'
    >>> irr_per_year(np.array([-100.0, 230.0, -132.0]), np.arange(3.0)).rate_per_year is None
    True
    """
    cf = np.atleast_1d(as_array(cash_flows_usd))
    t = np.broadcast_to(as_array(times_years), cf.shape)
    if not (bool((cf > 0).any()) and bool((cf < 0).any())):
        return Irr(None, "none: the flows never change sign")
    rates = np.array(IRR_SEARCH_RATES)
    values = np.asarray(npv_usd(cf, t, rates), dtype=float)
    positive = values >= 0.0
    changes = np.flatnonzero(positive[1:] != positive[:-1])
    if changes.size == 0:
        return Irr(None, "none: the NPV keeps one sign for rates from -99% to +10,000% a year")
    if changes.size > 1:
        brackets = ", ".join(f"{rates[i]:.1%}..{rates[i + 1]:.1%}" for i in changes[:4])
        return Irr(None, f"none unique: the NPV changes sign {changes.size} times ({brackets})")
    from scipy.optimize import brentq  # deferred: not on the run's start-up path

    i = int(changes[0])

    def npv_at(rate: float) -> float:
        return float(npv_usd(cf, t, rate))

    root = float(brentq(npv_at, rates[i], rates[i + 1], xtol=1e-12, rtol=1e-12))
    return Irr(root, "unique")


def crossing_years(cumulative_usd: ArrayLike, times_years: ArrayLike) -> float | None:
    """When a cumulative position turns non-negative for good, linearly interpolated.

    ``cumulative_usd[i]`` is the position at ``times_years[i]``; it starts from zero at
    time zero. The result is the time (same unit as ``times_years``) from which the
    position stays >= 0 (see :func:`breakeven_index`), 0.0 when it never goes negative,
    None when it ends negative.

    >>> crossing_years(np.array([-10.0, -5.0, 5.0]), np.array([1.0, 2.0, 3.0]))
    2.5
    >>> crossing_years(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    0.0
    >>> crossing_years(np.array([-1.0, -2.0]), np.array([1.0, 2.0])) is None
    True
    """
    cum = np.atleast_1d(as_array(cumulative_usd))
    t = np.atleast_1d(as_array(times_years))
    idx = breakeven_index(cum)
    if idx is None:
        return None
    if idx == 0:
        return 0.0
    before, after = float(cum[idx - 1]), float(cum[idx])
    share = -before / (after - before)
    return float(t[idx - 1] + share * (t[idx] - t[idx - 1]))


def compounded_usd(
    amount_usd: float, start_years: float, end_years: float, rate_per_year: float
) -> float:
    """Value at time zero of ``amount_usd`` spent evenly over [start, end] (years from time
    zero; negative before it), compounded (or discounted) at ``rate_per_year``.

    Spending at rate A / (end - start) is integrated against (1 + r)^-t exactly:
    A x (1 + r)^-end x (e^(k d) - 1) / (k d), k = ln(1 + r), d = end - start. A lump
    (start == end) is A x (1 + r)^-start.

    >>> round(compounded_usd(100.0, -1.0, -1.0, 0.1), 9)
    110.0
    >>> compounded_usd(100.0, -2.0, 0.0, 0.0)
    100.0
    >>> round(compounded_usd(100.0, -1.0, 0.0, 0.1), 6)  # 100 x 0.1 / ln(1.1)
    104.920587
    """
    if end_years < start_years:
        raise ValueError(f"end_years {end_years} is before start_years {start_years}")
    require_rate("rate_per_year", as_array(rate_per_year))
    k = math.log1p(rate_per_year)
    d = end_years - start_years
    spread = 1.0 if k * d == 0.0 else math.expm1(k * d) / (k * d)
    return float(amount_usd * math.exp(-k * end_years) * spread)
