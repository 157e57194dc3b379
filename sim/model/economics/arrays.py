"""Array helpers of the economics formulas: scalars or broadcast arrays in, checked.

Every formula takes floats or numpy arrays (broadcast together) and returns a float when
every argument was a scalar, an array otherwise; invalid inputs raise :class:`ValueError`
naming the argument and its first bad value (NaN is always invalid).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
"""A numpy array of float64 values."""

ArrayLike = float | FloatArray
"""A scalar or an array; arrays broadcast against each other with numpy's rules."""


def as_array(value: ArrayLike) -> FloatArray:
    """Return ``value`` as a float64 array (0-d for scalars) without copying arrays."""
    return np.asarray(value, dtype=np.float64)


def as_result(value: npt.NDArray[Any]) -> ArrayLike:
    """Return a 0-d result as a Python float, any other result as a float64 array."""
    result = np.asarray(value, dtype=np.float64)
    if result.ndim == 0:
        return float(result)
    return result


def require(name: str, value: FloatArray, ok: npt.NDArray[np.bool_], requirement: str) -> None:
    """Raise ValueError naming ``name`` and its first value where ``ok`` is False."""
    # a scalar check (the common case) is read directly: np.all costs microseconds
    if ok if ok.ndim == 0 else ok.all():
        return
    bad = np.broadcast_to(value, ok.shape)[~ok]
    where = "" if value.ndim == 0 else f" ({bad.size} of {ok.size} values invalid)"
    raise ValueError(f"{name} must be {requirement}; found {float(bad[0])!r}{where}")


def require_non_negative(name: str, value: FloatArray) -> None:
    """Raise ValueError unless every value is >= 0."""
    require(name, value, value >= 0.0, ">= 0")


def non_negative_arrays(**values: ArrayLike) -> list[FloatArray]:
    """Each keyword's value as a float64 array, checked >= 0 in order (names in errors).

    >>> non_negative_arrays(a=1.0, b=np.array([0.0, 2.0]))[1].tolist()
    [0.0, 2.0]
    >>> non_negative_arrays(a=1.0, b=-2.0)
    Traceback (most recent call last):
    ...
    ValueError: b must be >= 0; found -2.0
    """
    out = []
    for name, value in values.items():
        arr = as_array(value)
        require_non_negative(name, arr)
        out.append(arr)
    return out


def require_fraction(name: str, value: FloatArray) -> None:
    """Raise ValueError unless every value is in [0, 1]."""
    require(name, value, (value >= 0.0) & (value <= 1.0), "in [0, 1]")


def require_rate(name: str, value: FloatArray) -> None:
    """Raise ValueError unless every value is > -1 (a rate per period)."""
    require(name, value, value > -1.0, "> -1 (a rate of -100% or less is meaningless)")


def safe_divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
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
