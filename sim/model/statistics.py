"""Intervals over replications: Student-t confidence intervals of means and paired differences.

A replicated metric is reported as its mean with the half-width of a two-sided 95% interval,
``t(0.975, n - 1) x s / sqrt(n)`` with ``s`` the sample standard deviation over the ``n``
replications (independent runs of the model from different seeds). A difference between two
scenarios is measured *paired*: both run on the same seeds (common random numbers), and the
interval is that of the mean of the per-seed differences, which is narrower than the
difference of two independent intervals whenever the two runs are positively correlated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["CONFIDENCE", "Interval", "mean_interval", "paired_interval", "t_quantile"]

#: Two-sided confidence level of every interval xpusim reports.
CONFIDENCE = 0.95


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t critical value with ``df`` degrees of freedom.

    >>> round(t_quantile(7), 4), round(t_quantile(1), 3)
    (2.3646, 12.706)
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    # scipy.special is imported only where an interval is computed, off the run's start-up path
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + confidence / 2.0))


@dataclass(frozen=True)
class Interval:
    """A mean and the half-width of its two-sided confidence interval over ``n`` values.

    ``half_width`` is None when fewer than two finite values exist (no spread to measure).
    """

    mean: float
    half_width: float | None
    n: int

    @property
    def low(self) -> float | None:
        """Lower end of the interval (None without a half-width)."""
        return None if self.half_width is None else self.mean - self.half_width

    @property
    def high(self) -> float | None:
        """Upper end of the interval (None without a half-width)."""
        return None if self.half_width is None else self.mean + self.half_width

    def excludes_zero(self) -> bool:
        """Whether the whole interval lies on one side of zero.

        >>> Interval(1.0, 0.5, 8).excludes_zero(), Interval(1.0, 2.0, 8).excludes_zero()
        (True, False)
        """
        return self.half_width is not None and abs(self.mean) > self.half_width


def _finite(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_interval(values: Iterable[float | None], confidence: float = CONFIDENCE) -> Interval:
    """Mean and t-interval half-width of the finite values (None and NaN are left out).

    >>> i = mean_interval([1.0, 2.0, 3.0, 4.0])
    >>> i.mean, round(i.half_width, 4), i.n
    (2.5, 2.0543, 4)
    >>> mean_interval([5.0]).half_width is None
    True
    >>> mean_interval([2.0, 2.0, 2.0]).half_width
    0.0
    """
    xs = _finite(values)
    n = len(xs)
    if n == 0:
        return Interval(math.nan, None, 0)
    mean = math.fsum(xs) / n
    if n < 2:
        return Interval(mean, None, n)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    return Interval(mean, t_quantile(n - 1, confidence) * math.sqrt(var / n), n)


def paired_interval(
    base: Sequence[float | None], variant: Sequence[float | None], confidence: float = CONFIDENCE
) -> Interval:
    """The t-interval of the mean per-seed difference ``variant - base`` (pairs with a missing
    or non-finite side are left out).

    >>> i = paired_interval([1.0, 2.0, 3.0], [1.5, 2.4, 3.6])
    >>> round(i.mean, 3), i.n, i.excludes_zero()
    (0.5, 3, True)
    """
    if len(base) != len(variant):
        raise ValueError(f"paired samples differ in length: {len(base)} vs {len(variant)}")
    diffs = [
        float(v) - float(b)
        for b, v in zip(base, variant, strict=True)
        if b is not None and v is not None and math.isfinite(float(b)) and math.isfinite(float(v))
    ]
    return mean_interval(diffs, confidence)
