"""Simulated time: hours since the horizon start, calendar months, and step schedules."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

import numpy as np

from sim.model.schema import PricePoint
from sim.model.units import HOURS_PER_DAY


class _Dated(Protocol):
    @property
    def start(self) -> dt.date: ...


Step = TypeVar("Step", bound=_Dated)
V = TypeVar("V")


class Clock:
    """Converts between calendar dates and simulated hours for one horizon."""

    def __init__(self, start: dt.date, end: dt.date) -> None:
        self.start = start
        self.end = end
        self.horizon_hours = self.hours(end)
        months: list[dt.date] = []
        d = dt.date(start.year, start.month, 1)
        while d < end:
            months.append(d)
            d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        self.month_starts = tuple(months)
        bounds = [max(0.0, self.hours(m)) for m in months] + [self.horizon_hours]
        self.month_bounds_hours = np.asarray(bounds, dtype=float)

    def hours(self, d: dt.date) -> float:
        """Hours from the horizon start to midnight of date `d`."""
        return (d - self.start).days * HOURS_PER_DAY

    def date(self, hours: float) -> dt.date:
        """Calendar date at simulated time `hours`."""
        return self.start + dt.timedelta(days=int(hours // HOURS_PER_DAY))

    def year_fraction(self, hours: float) -> float:
        """Decimal calendar year at simulated time `hours` (e.g. 2024.5)."""
        d = self.date(hours)
        jan1 = dt.date(d.year, 1, 1)
        days_in_year = (dt.date(d.year + 1, 1, 1) - jan1).days
        return d.year + ((d - jan1).days + (hours % HOURS_PER_DAY) / HOURS_PER_DAY) / days_in_year

    def month_index(self, hours: float) -> int:
        """Index of the calendar month that contains `hours`."""
        i = int(np.searchsorted(self.month_bounds_hours, hours, side="right")) - 1
        return min(max(i, 0), len(self.month_starts) - 1)


def step_at(schedule: Sequence[Step], d: dt.date, before: V, value: Callable[[Step], V]) -> V:
    """What a step schedule says on date `d`: `value` of the last step started by then.

    `before` applies until the first step; steps need not be sorted.
    """
    out = before
    for p in sorted(schedule, key=lambda p: p.start):
        if p.start > d:
            break
        out = value(p)
    return out


def step_value(schedule: Sequence[PricePoint], d: dt.date, before: float) -> float:
    """Value of a step schedule on date `d` (`before` applies until the first step).

    >>> pts = (PricePoint(start=dt.date(2023, 1, 1), value=2.0),
    ...        PricePoint(start=dt.date(2024, 1, 1), value=1.2))
    >>> step_value(pts, dt.date(2022, 6, 1), 0.0), step_value(pts, dt.date(2023, 1, 1), 0.0)
    (0.0, 2.0)
    >>> step_value(pts, dt.date(2025, 1, 1), 0.0)
    1.2
    """
    return step_at(schedule, d, before, lambda p: p.value)


def multiplier_at(schedule: Sequence[PricePoint], when: dt.date) -> float:
    """A multiplier schedule (street price, price changes) on ``when``: 1 before its first step.

    >>> multiplier_at((PricePoint(start=dt.date(2023, 1, 1), value=2.0),), dt.date(2022, 6, 1))
    1.0
    """
    return step_value(schedule, when, 1.0)


class HourSteps(Generic[V]):
    """A step schedule read at simulated hours, by bisection: at every hour, the value
    :func:`step_at` gives on the calendar date that contains it.

    A step that starts on date d is in force from hour ``clock.hours(d)``, the midnight that
    begins d; ties keep the later step of the schedule, as :func:`step_at` does.

    >>> c = Clock(dt.date(2024, 1, 1), dt.date(2025, 1, 1))
    >>> pts = (PricePoint(start=dt.date(2024, 1, 2), value=2.0),)
    >>> s = HourSteps(c, pts, 1.0, lambda p: p.value)
    >>> s.at(23.9), s.at(24.0)
    (1.0, 2.0)
    """

    __slots__ = ("bounds", "values")

    def __init__(
        self, clock: Clock, schedule: Sequence[Step], before: V, value: Callable[[Step], V]
    ) -> None:
        steps = sorted(schedule, key=lambda p: p.start)
        self.bounds = [clock.hours(p.start) for p in steps]
        self.values = [before, *(value(p) for p in steps)]

    def at(self, hours: float) -> V:
        """The value in force at simulated time ``hours``."""
        return self.values[bisect.bisect_right(self.bounds, hours)]
