"""The one number formatter: every number shown on a terminal, a page or a figure.

:func:`fmt_value` formats any value by a :class:`NumberStyle`; the styles differ only in
their parameters (significant digits, from what size whole numbers are shown, thousands
separators, words for true/false), so the rules live here once: the terminal tables
(:data:`TERMINAL`), the sensitivity rankings (:data:`RANKING`), tick labels
(:data:`TICK`) and the report (:data:`REPORT`). A value with a unit that starts with
``USD`` is a dollar amount (:func:`fmt_usd`); a ``fraction`` is a percentage in the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "HEADLINE",
    "PLAIN_UNITS",
    "RANKING",
    "REPORT",
    "TERMINAL",
    "TICK",
    "NumberStyle",
    "count_tick",
    "fmt_number",
    "fmt_usd",
    "fmt_value",
    "fmt_with_unit",
    "param_unit",
    "plain_tick",
    "trim",
]


@dataclass(frozen=True)
class NumberStyle:
    """How numbers are shown in one place.

    ``digits`` significant digits below ``whole_from``, whole numbers with thousands
    separators from there on; ``grouped`` puts separators in the significant-digit form too;
    ``group_ints`` and ``bool_words`` say whether whole numbers get separators and
    true/false become yes/no; ``nonfinite`` is the text of NaN and infinities (None: as
    Python writes them); ``percent`` shows a report fraction as a percentage; ``joined``
    writes lists and mappings item by item (else as Python writes them).
    """

    digits: int = 4
    whole_from: float = 1e3
    grouped: bool = False
    group_ints: bool = True
    bool_words: bool = True
    nonfinite: str | None = "-"
    percent: bool = True
    joined: bool = False
    usd_digits: int = 2
    compact: bool = False
    """Millions and more as 9.869M, 22.05B (``digits`` significant digits)."""


TERMINAL = NumberStyle(digits=6, nonfinite=None, percent=False)
"""Tables of the command line: 1,234,568; 0.123457; 3; yes."""
HEADLINE = NumberStyle(digits=4, percent=False, usd_digits=4, compact=True)
"""The run headline and comparisons: 4 significant digits, $18.77B, 22.05B, '-' for what is
missing."""
RANKING = NumberStyle(group_ints=False, bool_words=False, nonfinite=None, percent=False)
"""Sensitivity rankings on the terminal: 4 significant digits, plain whole numbers."""
TICK = NumberStyle(whole_from=1e4, grouped=True, group_ints=False, bool_words=False, nonfinite=None)
"""Parameter values in tick labels: 0.85, 1,234, 123,456."""
REPORT = NumberStyle(joined=True)
"""Cells of the report: 4 significant digits, '-' for what is missing."""


def trim(v: float, digits: int = 2) -> str:
    """``digits`` significant digits, but whole numbers from 100 on, thousands separated.

    >>> [trim(v) for v in (15.0, 3.24, 123.4, 1234.5)], trim(1.2345, 3)
    (['15', '3.2', '123', '1,234'], '1.23')
    """
    if v >= max(100.0, 10.0**digits):
        return f"{v:,.0f}"
    text = f"{v:.{digits}g}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_usd(x: float, _pos: object = None, digits: int = 2) -> str:
    """A dollar amount for an axis or a table, short but exact enough to read.

    ``digits`` is the number of significant digits of millions, billions and cents.

    >>> [fmt_usd(v) for v in (0, 1.5e10, -3.2e6, 12345.6, 2.5, 1.0, 0.0025, 1.26e-5)]
    ['$0', '$15B', '-$3.2M', '$12,346', '$2.50', '$1', '$0.0025', '$0.000013']
    >>> fmt_usd(1.2345e9, digits=4)
    '$1.234B'
    """
    if not math.isfinite(x):
        return "-"
    if x == 0:
        return "$0"
    sign = "-" if x < 0 else ""
    a = abs(x)
    if a >= 1e9:
        return f"{sign}${trim(a / 1e9, digits)}B"
    if a >= 1e6:
        return f"{sign}${trim(a / 1e6, digits)}M"
    if a >= 1e3:
        return f"{sign}${a:,.0f}"
    if a >= 1:
        return f"{sign}${a:,.0f}" if a == round(a) else f"{sign}${a:,.2f}"
    return sign + "$" + np.format_float_positional(a, precision=digits, fractional=False, trim="-")


def fmt_number(x: float, style: NumberStyle = REPORT) -> str:
    """A finite or non-finite number by ``style`` (no unit).

    >>> fmt_number(1234567.891, TERMINAL), fmt_number(0.1234567, TERMINAL)
    ('1,234,568', '0.123457')
    >>> fmt_number(1234.5, TICK), fmt_number(123456.0, TICK), fmt_number(float("nan"), TICK)
    ('1,234', '123,456', 'nan')
    >>> fmt_number(22052276334.0, HEADLINE), fmt_number(-9868989.0, HEADLINE)
    ('22.05B', '-9.869M')
    """
    if not math.isfinite(x):
        return str(x) if style.nonfinite is None else style.nonfinite
    if style.compact and abs(x) >= 1e6:
        sign, a = ("-" if x < 0 else ""), abs(x)
        for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
            if a >= scale:
                return f"{sign}{trim(a / scale, style.digits)}{suffix}"
    if abs(x) >= style.whole_from:
        return f"{x:,.0f}"
    return f"{x:,.{style.digits}g}" if style.grouped else f"{x:.{style.digits}g}"


#: Units whose whole numbers are names, not amounts: shown without thousands separators.
PLAIN_UNITS = frozenset({"year", "date", "seed", "id"})


def param_unit(key: str) -> str:
    """The unit a scenario path's value is shown in: 'year' for a calendar year ('..._year',
    not '..._per_year'), 'seed' for a seed, else '' (the value's own form).

    >>> param_unit("param.catalog.stacks.neuron.maturity_midpoint_year"), param_unit("seed")
    ('year', 'seed')
    >>> param_unit("economics.discount_rate_per_year"), param_unit("economics.pue")
    ('', '')
    """
    last = key.rsplit(".", 1)[-1].lower()
    if last in ("seed", "root_seed") or last.endswith("_seed"):
        return "seed"
    if (last == "year" or last.endswith("_year")) and "_per_" not in last:
        return "year"
    return ""


def _fmt_with_unit(x: float, unit: str, style: NumberStyle) -> str | None:
    """A number's text by its unit (dollars, a percentage, a year), None when the unit says
    nothing."""
    if unit in PLAIN_UNITS and x == int(x):
        return str(int(x))
    if unit == "year":  # a year and a fraction (a midpoint of 2025.5), never "2,026"
        return f"{x:g}"
    if unit == "relative":
        return f"{x:+.1%}"
    if unit.startswith("USD"):
        return fmt_usd(x, digits=style.usd_digits)
    fraction = unit.startswith("fraction") and "utilization" not in unit
    if style.percent and fraction and abs(x) <= 1.5:
        return f"{x:.1%}"
    return None


def fmt_value(value: Any, unit: str = "", style: NumberStyle = REPORT) -> str:
    """A value for a table cell or a label, using its unit when it names one.

    >>> fmt_value(1.5e10, "USD"), fmt_value(0.0052, "ratio"), fmt_value(1234.5678)
    ('$15B', '0.0052', '1,235')
    >>> fmt_value(0.441, "fraction"), fmt_value(None), fmt_value([1, 2]), fmt_value(())
    ('44.1%', '-', '1, 2', '(none)')
    >>> [fmt_value(v, style=TERMINAL) for v in (1234567.891, 9000.0, 12.0, 3, None, True)]
    ['1,234,568', '9,000', '12', '3', '-', 'yes']
    >>> fmt_value(["training", "inference"], style=TERMINAL)
    "['training', 'inference']"
    >>> [fmt_value(v, style=RANKING) for v in (0.123456, 12345.6, 20000, True, None)]
    ['0.1235', '12,346', '20000', 'True', '-']
    >>> fmt_value(2026.0, "year", TERMINAL), fmt_value(20240529, "seed", TERMINAL)
    ('2026', '20240529')
    >>> fmt_value(2025.5, "year", RANKING)
    '2025.5'
    >>> fmt_value(1.8768e10, "USD", HEADLINE), fmt_value(35.75, "ports", HEADLINE)
    ('$18.77B', '35.75')
    >>> fmt_value(-0.0312, "relative", HEADLINE), fmt_value(0.5, "relative", HEADLINE)
    ('-3.1%', '+50.0%')
    """
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return ("yes" if value else "no") if style.bool_words else str(bool(value))
    if isinstance(value, int | np.integer):
        text = _fmt_with_unit(float(value), unit, style) if unit else None
        if text is not None:
            return text
        return f"{int(value):,}" if style.group_ints else str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        text = _fmt_with_unit(x, unit, style) if math.isfinite(x) else None
        return fmt_number(x, style) if text is None else text
    if style.joined and isinstance(value, list | tuple):
        return ", ".join(fmt_value(v, style=style) for v in value) if value else "(none)"
    if style.joined and isinstance(value, Mapping):
        return ", ".join(f"{k}: {fmt_value(v, style=style)}" for k, v in value.items())
    return str(value)


def count_tick(x: float, _pos: object = None) -> str:
    """A count on an axis: whole numbers from 10 on, one decimal below.

    >>> count_tick(1234.0), count_tick(2.5), count_tick(3.0)
    ('1,234', '2.5', '3')
    """
    return f"{x:,.0f}" if abs(x) >= 10 or x == int(x) else f"{x:,.1f}"


def plain_tick(x: float, _pos: object = None, digits: int = 4) -> str:
    """A number without a unit on an axis: ``digits`` significant digits, grouped.

    >>> plain_tick(12345.678), plain_tick(0.5)
    ('1.235e+04', '0.5')
    """
    return f"{x:,.{digits}g}"


#: A catalogued unit in words (the rest: underscores become spaces, ``_per_`` "per").
_UNIT_WORDS: dict[str, str] = {
    "usd": "USD",
    "w": "W",
    "kw": "kW",
    "gb": "GB",
    "tb_per_s": "TB/s",
    "tflops": "TFLOP/s",
    "tokens_per_s": "tokens/s",
    "ms": "ms",
    "fraction": "",
    "engineer_months": "engineer-months",
    "usd_per_chip_hour": "USD per chip-hour",
    "usd_per_kwh": "USD per kWh",
    "usd_per_kw_year": "USD per kW-year",
    "usd_per_month": "USD per month",
    "usd_per_year": "USD per year",
}


def fmt_with_unit(value: Any, unit: str) -> str:
    """A catalogued value with its unit in words.

    >>> fmt_with_unit(9000, "usd"), fmt_with_unit(1.555, "tb_per_s")
    ('$9,000', '1.555 TB/s')
    >>> fmt_with_unit(0.45, "fraction")
    '0.45'
    >>> fmt_with_unit(0.08, "usd_per_kwh"), fmt_with_unit(3, "lead_time_weeks")
    ('0.08 USD per kWh', '3 lead time weeks')
    """
    if value is None:
        return "-"
    if unit == "usd" and isinstance(value, int | float) and not isinstance(value, bool):
        return fmt_usd(float(value))
    words = _UNIT_WORDS.get(unit, unit.replace("_per_", " per ").replace("_", " "))
    text = fmt_value(value)
    return f"{text} {words}" if words else text
