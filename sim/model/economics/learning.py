"""Wright's law: unit cost falls by a constant factor at each doubling of cumulative volume."""

from __future__ import annotations

import numpy as np

from sim.model.economics.arrays import (
    ArrayLike,
    FloatArray,
    as_array,
    as_result,
    require,
    require_non_negative,
)

_HALF_UNIT = 0.5
"""Half of one unit: unit k of a production run is represented by [k - 1/2, k + 1/2]."""


def _wright_exponent(learning_rate: ArrayLike) -> FloatArray:
    """b = log2(learning_rate), after checking 0 < learning_rate <= 1."""
    lr = as_array(learning_rate)
    require("learning_rate", lr, (lr > 0.0) & (lr <= 1.0), "in (0, 1]")
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
    first = as_array(first_unit_cost_usd)
    n = as_array(cumulative_units)
    require_non_negative("first_unit_cost_usd", first)
    require_non_negative("cumulative_units", n)
    b = _wright_exponent(learning_rate)
    return as_result(first * np.maximum(n, 1.0) ** b)


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
    first = as_array(first_unit_cost_usd)
    before = as_array(units_before)
    added = as_array(units_added)
    require_non_negative("first_unit_cost_usd", first)
    require("units_before", before, (before >= 0.0) & np.isfinite(before), ">= 0 and finite")
    require("units_added", added, (added >= 0.0) & np.isfinite(added), ">= 0 and finite")
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
    return as_result(first * x0**b * expm1_ratio * log_ratio)
