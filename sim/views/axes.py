"""Axes of every figure: tick formats, time axes, chip colours and line styles, legends."""

from __future__ import annotations

import colorsys
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.model.schema import Scenario
from sim.views.labels import metric_unit
from sim.views.numbers import fmt_usd, plain_tick
from sim.views.style import FAMILY_COLORS, LINESTYLES, MARKERS, OTHER_COLOR

__all__ = [
    "FAN_LABEL",
    "DistinctFormatter",
    "as_dates",
    "chip_colors",
    "chip_marker",
    "chip_order",
    "date_axis",
    "date_number",
    "distinct_labels",
    "family_rank",
    "fan_handle",
    "finite_or",
    "launch_key",
    "legend_outside",
    "median_and_fan",
    "metric_formatter",
    "no_data",
    "percent_axis",
    "usd_axis",
]

FloatArray = npt.NDArray[np.float64]
FAN_LABEL = "5th-95th percentile over replications"


class DistinctFormatter(mticker.Formatter):
    """Tick labels from ``func(x, digits)`` with as few digits as keep them distinct.

    Two significant digits read best, but a narrow range ($1.21B to $1.24B) needs more.
    """

    def __init__(self, func: Callable[..., str], digits: int = 2) -> None:
        self.func = func
        self.digits = digits

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.func(x, None, digits=self.digits)

    def format_ticks(self, values: Any) -> list[str]:
        values = [float(v) for v in values]
        labels = [self.func(v, None, digits=self.digits) for v in values]
        for digits in range(self.digits, 9):
            labels = [self.func(v, None, digits=digits) for v in values]
            if len(set(labels)) == len(set(values)):
                break
        return labels


def distinct_labels(
    func: Callable[..., str], values: Sequence[float], digits: int = 2
) -> list[str]:
    """Labels of ``values`` with as few digits as keep different values apart.

    >>> distinct_labels(fmt_usd, [1.21e9, 1.24e9, 1.24e9])
    ['$1.21B', '$1.24B', '$1.24B']
    """
    return DistinctFormatter(func, digits).format_ticks(list(values))


def metric_formatter(metric: str) -> Callable[..., str]:
    """Dollars for a metric whose declared unit is USD, plain numbers otherwise."""
    return fmt_usd if metric_unit(metric).startswith("USD") else plain_tick


def usd_axis(ax: Axes, which: str = "y") -> None:
    """Dollar tick labels, as short as keeps them distinct."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(DistinctFormatter(fmt_usd))
    if axis.get_scale() == "log":
        axis.set_minor_formatter(mticker.NullFormatter())


def percent_axis(ax: Axes, decimals: int | None = None) -> None:
    """A y axis of fractions shown as percentages."""
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(xmax=1.0, decimals=decimals))


# matplotlib.dates has no type hints: its callables are used through typed names
_date_locator: Callable[..., mdates.DateLocator] = mdates.AutoDateLocator
_concise_dates: Callable[..., mticker.Formatter] = mdates.ConciseDateFormatter
_date2num: Callable[[Any], Any] = mdates.date2num


def date_axis(ax: Axes, minticks: int = 4, maxticks: int = 10) -> None:
    """Concise dates on the x axis, between ``minticks`` and ``maxticks`` labels."""
    locator = _date_locator(minticks=minticks, maxticks=maxticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_concise_dates(locator, show_offset=False))


def date_number(when: Any) -> float:
    """A date or time as matplotlib's number on a date axis."""
    return float(_date2num(when))


def as_dates(values: Iterable[Any]) -> pd.DatetimeIndex:
    """Month labels of the tables (ISO text) as dates."""
    return pd.DatetimeIndex(pd.to_datetime(pd.Series(list(values), dtype=object)))


def _mix(color: str, other: str, t: float) -> str:
    a, b = to_rgb(color), to_rgb(other)
    r, g, bl = ((1 - t) * x + t * y for x, y in zip(a, b, strict=True))
    return to_hex((r, g, bl))


#: How far (in hue turns) the first and last chip of a family are turned apart.
_HUE_TURN = 0.08


def _turn_hue(color: str, turns: float) -> str:
    """``color`` with its hue turned by ``turns`` of the colour wheel."""
    hue, lightness, saturation = colorsys.rgb_to_hls(*to_rgb(color))
    return to_hex(colorsys.hls_to_rgb((hue + turns) % 1.0, lightness, saturation))


def chip_colors(chips: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """(colour, line style) per chip, from ``(chip, family)`` pairs in display order.

    Chips of one family share its hue, from light (first) to dark (last) with the hue
    turned a little along the way (so six Nvidia generations stay tellable apart), and get
    different line styles (and, in :func:`chip_marker`, markers) so they stay apart
    without colour.

    >>> chip_colors([("a100", "nvidia_gpu"), ("h100", "nvidia_gpu"), ("trainium2", "trainium")])
    {'a100': ('#c0d28f', '-'), 'h100': ('#1b6404', '--'), 'trainium2': ('#e8710a', '-')}
    """
    by_family: dict[str, list[str]] = {}
    for chip, family in chips:
        by_family.setdefault(family, []).append(chip)
    out: dict[str, tuple[str, str]] = {}
    for family, members in by_family.items():
        base = FAMILY_COLORS.get(family, OTHER_COLOR)
        n = len(members)
        for i, chip in enumerate(members):
            x = 0.5 if n == 1 else i / (n - 1)  # 0: first (lightest), 1: last (darkest)
            t = 0.0 if n == 1 else -0.55 + 0.9 * x
            turned = _turn_hue(base, 0.0 if n == 1 else (x - 0.5) * _HUE_TURN)
            color = _mix(turned, "#ffffff", -t) if t < 0 else _mix(turned, "#000000", t)
            out[chip] = (color, LINESTYLES[i % len(LINESTYLES)])
    return out


def chip_marker(order: Sequence[tuple[str, str]], chip: str) -> str:
    """The marker of ``chip``: its rank within its family in ``order``."""
    family = dict(order).get(chip)
    members = [c for c, f in order if f == family]
    return MARKERS[members.index(chip) % len(MARKERS)] if chip in members else "o"


def family_rank(family: str) -> int:
    """Where a family comes in legends: the order of :data:`FAMILY_COLORS`, others last."""
    keys = list(FAMILY_COLORS)
    return keys.index(family) if family in keys else len(keys)


def launch_key(scenario: Scenario | None, chip: str) -> str:
    """A chip's launch date as ISO text ('' when the scenario does not catalogue it)."""
    spec = scenario.catalog.chips.get(chip) if scenario is not None else None
    return "" if spec is None else spec.launch_date.isoformat()


def chip_order(pools: pd.DataFrame, scenario: Scenario | None) -> list[tuple[str, str]]:
    """(chip, family) pairs of a table's pools ordered by family, then launch date, then id."""
    pairs = {(str(p), str(f)) for p, f in zip(pools["pool"], pools["family"], strict=True)}
    return sorted(pairs, key=lambda p: (family_rank(p[1]), launch_key(scenario, p[0]), p[0]))


def median_and_fan(values: FloatArray) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """Median over replications (rows) and the 5th and 95th percentiles (None for one row).

    A month missing in every replication is NaN (without numpy's all-NaN warning).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.asarray(np.nanmedian(values, axis=0), dtype=float)
        if values.shape[0] < 2:
            return med, None, None
        lo = np.asarray(np.nanpercentile(values, 5, axis=0), dtype=float)
        hi = np.asarray(np.nanpercentile(values, 95, axis=0), dtype=float)
    return med, lo, hi


def legend_outside(
    fig: Figure, handles: Sequence[Any], title: str | None = None, *, lower: bool = False
) -> None:
    """The figure's legend, to the right of the data (at the bottom with ``lower``, for a
    figure whose subtitle is wider than its axes)."""
    if handles:
        where: Literal["outside right lower", "outside right upper"] = (
            "outside right lower" if lower else "outside right upper"
        )
        fig.legend(handles=list(handles), loc=where, title=title)


def no_data(ax: Axes, text: str) -> None:
    """Say in the middle of an empty panel why it is empty."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777")


def fan_handle() -> Patch:
    """The legend entry of the 5th-95th percentile fans."""
    return Patch(color="#999999", alpha=0.35, label=FAN_LABEL)


def finite_or(v: Any, default: float) -> float:
    """``v`` as a finite float, else ``default``.

    >>> finite_or("1.5", 0.0), finite_or(None, 2.0), finite_or(float("inf"), 3.0)
    (1.5, 2.0, 3.0)
    """
    try:
        out = float(v)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default
