"""The in-house chip program's value: the provider with it minus the provider without it.

Both worlds run on the same seeds (common random numbers: the same arrivals and job
sizes; see :mod:`sim.accounting.counterfactual`). For each replication the monthly
difference of the provider's profit (revenue minus TCO, :class:`ProviderFlows`) is the
program's incremental cash flow, taken apart into items that sum to it exactly:

- revenue from **volume**: work sold with the program minus without it, at the price per
  unit of work without it; from **price**: the work sold with the program at its price
  per unit minus the price without it (per workload and month; training in PFLOP,
  serving in million tokens);
- **GPU capital avoided** (merchant GPUs' capital charge without minus with), *of which*
  Nvidia's gross margin (shown, not added); **in-house capital**; the program's **NRE**,
  **acquisition** and **fixed costs**; **power**, **facility** and **maintenance**
  differences;
- **sunk costs** (spent before the horizon start, compounded to it at the discount rate),
  only when the scenario includes them (``provider.inhouse_program.include_sunk_costs``).

Capital enters as the TCO's annuity charge over each chip's life (the cost of capital is
the discount rate), so chips bought late carry only the part of their cost used within the
horizon. The NPV discounts each month's flow from its end to the horizon start; the IRR is
the rate at which it is zero; the payback is when the cumulative flow turns non-negative
for good, the break-even when the cumulative discounted flow does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.accounting.flows import ProviderFlows
from sim.accounting.summary import ProgramValueSummary, WaterfallSummary, as_dict
from sim.model import economics as ec
from sim.model.statistics import mean_interval, paired_interval
from sim.model.units import DAYS_PER_YEAR

__all__ = [
    "WATERFALL_ITEMS",
    "ReplicationValue",
    "combine_values",
    "replication_value",
    "waterfall_items",
]

FloatArray = npt.NDArray[np.float64]

#: The items of the value in the waterfall's order (the Nvidia margin is an "of which").
WATERFALL_ITEMS: tuple[str, ...] = (
    "revenue_price_usd",
    "revenue_volume_usd",
    "gpu_capital_avoided_usd",
    "inhouse_capital_usd",
    "nre_usd",
    "acquisition_usd",
    "program_fixed_usd",
    "power_usd",
    "facility_usd",
    "maintenance_usd",
)

#: Cost items: (waterfall item, ProviderFlows field). Contribution = without - with.
_COST_ITEMS: tuple[tuple[str, str], ...] = (
    ("gpu_capital_avoided_usd", "merchant_capital_usd"),
    ("inhouse_capital_usd", "inhouse_capital_usd"),
    ("nre_usd", "nre_usd"),
    ("acquisition_usd", "acquisition_usd"),
    ("program_fixed_usd", "fixed_usd"),
    ("power_usd", "power_usd"),
    ("facility_usd", "facility_usd"),
    ("maintenance_usd", "maintenance_usd"),
)

#: Summary metrics that are differences of one quantity between the worlds: their
#: intervals are paired intervals (sim.model.statistics.paired_interval).
_PAIRED: tuple[str, ...] = (
    "npv_usd",
    "incremental_revenue_usd",
    "incremental_cost_usd",
    "incremental_profit_usd",
    "nvidia_spend_avoided_usd",
)

#: Summary leaves that are text (or flags): the value all replications share, or the most
#: common one.
_TEXT: frozenset[str] = frozenset({"irr_note", "breakeven_date", "sunk_costs_included"})


def waterfall_items(with_: ProviderFlows, without: ProviderFlows) -> dict[str, FloatArray]:
    """Each item's monthly contribution to the program's incremental profit (USD), and
    ``nvidia_margin_avoided_usd`` (part of the GPU capital avoided). The items of
    :data:`WATERFALL_ITEMS` sum to the incremental profit, month by month."""
    if with_.months != without.months:
        raise ValueError("the two worlds' months differ: they are not the same horizon")
    price, volume = _revenue_split(
        (with_.training_revenue_usd, with_.training_pflop),
        (without.training_revenue_usd, without.training_pflop),
    )
    s_price, s_volume = _revenue_split(
        (with_.serving_revenue_usd, with_.serving_mtok),
        (without.serving_revenue_usd, without.serving_mtok),
    )
    out: dict[str, FloatArray] = {
        "revenue_price_usd": price + s_price,
        "revenue_volume_usd": volume + s_volume,
    }
    for item, name in _COST_ITEMS:
        out[item] = np.asarray(getattr(without, name) - getattr(with_, name))
    out["nvidia_margin_avoided_usd"] = np.asarray(
        without.nvidia_margin_in_capital_usd - with_.nvidia_margin_in_capital_usd
    )
    return out


def _revenue_split(
    with_: tuple[FloatArray, FloatArray], without: tuple[FloatArray, FloatArray]
) -> tuple[FloatArray, FloatArray]:
    """(price effect, volume effect) of a revenue difference R1 - R0 for work W1 vs W0.

    volume = (W1 - W0) x p0 with p0 = R0 / W0 the price per unit of work without the
    program (p1 where W0 is 0, 0 where both are); price = (R1 - R0) - volume, i.e.
    W1 x (p1 - p0) wherever both worlds sold work.
    """
    (r1, w1), (r0, w0) = with_, without
    p1 = np.divide(r1, w1, out=np.zeros_like(r1), where=w1 > 0)
    p0 = np.divide(r0, w0, out=p1.copy(), where=w0 > 0)
    volume = (w1 - w0) * p0
    return np.asarray(r1 - r0 - volume), np.asarray(volume)


@dataclass(frozen=True)
class ReplicationValue:
    """The program's value in one replication: its summary, the with/without pairs of the
    difference metrics, and its rows of ``program_value.parquet``."""

    summary: ProgramValueSummary
    pairs: dict[str, tuple[float, float]]  # metric -> (without, with)
    table: pd.DataFrame


def replication_value(
    with_: ProviderFlows,
    without: ProviderFlows,
    *,
    rate_per_year: float,
    sunk_at_start_usd: float,
    include_sunk: bool,
) -> ReplicationValue:
    """The program's value from one replication's two worlds."""
    items = waterfall_items(with_, without)
    t = with_.month_end_years
    df = np.asarray(ec.npv_usd(np.eye(len(t)), t, rate_per_year), dtype=float)
    sunk = sunk_at_start_usd if include_sunk else 0.0
    flow = np.asarray(with_.profit_usd - without.profit_usd)
    pv = {k: float(np.dot(v, df)) for k, v in items.items()}
    npv_with = float(np.dot(with_.profit_usd, df)) - sunk
    npv_without = float(np.dot(without.profit_usd, df))
    times = np.concatenate([[0.0], t])
    cum = np.concatenate([[-sunk], np.cumsum(flow) - sunk])
    cum_pv = np.concatenate([[-sunk], np.cumsum(flow * df) - sunk])
    irr = ec.irr_per_year(np.concatenate([[-sunk], flow]), times)
    payback = ec.crossing_years(cum, times)
    breakeven = ec.crossing_years(cum_pv, times)
    waterfall = WaterfallSummary(
        **{k: pv[k] for k in WATERFALL_ITEMS},
        nvidia_margin_avoided_usd=pv["nvidia_margin_avoided_usd"],
        sunk_usd=-sunk if sunk else 0.0,
        total_usd=math.fsum([pv[k] for k in WATERFALL_ITEMS]) - sunk,
    )
    pairs = {
        "npv_usd": (npv_without, npv_with),
        "incremental_revenue_usd": _totals(without.revenue_usd, with_.revenue_usd),
        "incremental_cost_usd": _totals(without.cost_usd, with_.cost_usd),
        "incremental_profit_usd": _totals(without.profit_usd, with_.profit_usd),
        "nvidia_spend_avoided_usd": _totals(with_.nvidia_spend_usd, without.nvidia_spend_usd),
    }
    summary = ProgramValueSummary(
        npv_usd=npv_with - npv_without,
        irr_per_year=irr.rate_per_year,
        irr_note=irr.note,
        payback_years=payback,
        breakeven_years=breakeven,
        breakeven_date=_month_of(with_, breakeven),
        paid_back=0.0 if payback is None else 1.0,
        incremental_revenue_usd=_difference(pairs["incremental_revenue_usd"]),
        incremental_cost_usd=_difference(pairs["incremental_cost_usd"]),
        incremental_profit_usd=_difference(pairs["incremental_profit_usd"]),
        profit_with_usd=float(with_.profit_usd.sum()),
        profit_without_usd=float(without.profit_usd.sum()),
        nvidia_spend_avoided_usd=_difference(pairs["nvidia_spend_avoided_usd"]),
        counterfactual_inhouse_chip_hours=float(without.inhouse_installed_chip_hours.sum()),
        sunk_costs_included=include_sunk,
        waterfall=waterfall,
    )
    return ReplicationValue(summary, pairs, _yearly(with_, without, items, df, sunk))


def _totals(base: FloatArray, variant: FloatArray) -> tuple[float, float]:
    return float(base.sum()), float(variant.sum())


def _difference(pair: tuple[float, float]) -> float:
    return pair[1] - pair[0]


def _month_of(flows: ProviderFlows, years: float | None) -> str | None:
    """The month (ISO start date) in which ``years`` from the horizon start falls."""
    if years is None:
        return None
    i = int(np.searchsorted(flows.month_end_years, years, side="left"))
    return flows.months[min(i, len(flows.months) - 1)]


def _yearly(
    with_: ProviderFlows,
    without: ProviderFlows,
    items: dict[str, FloatArray],
    df: FloatArray,
    sunk: float,
) -> pd.DataFrame:
    """One replication's rows of ``program_value.parquet``: each calendar year's sums."""
    year = np.array([int(m[:4]) for m in with_.months])
    flow = with_.profit_usd - without.profit_usd
    monthly: dict[str, FloatArray] = {
        **{k: items[k] for k in (*WATERFALL_ITEMS, "nvidia_margin_avoided_usd")},
        "revenue_with_usd": with_.revenue_usd,
        "revenue_without_usd": without.revenue_usd,
        "cost_with_usd": with_.cost_usd,
        "cost_without_usd": without.cost_usd,
        "incremental_revenue_usd": with_.revenue_usd - without.revenue_usd,
        "incremental_cost_usd": with_.cost_usd - without.cost_usd,
        "incremental_profit_usd": flow,
        "present_value_usd": flow * df,
    }
    frame = pd.DataFrame(monthly).groupby(year, sort=True).sum()
    first = frame.index == frame.index.min()
    frame.insert(len(WATERFALL_ITEMS) + 1, "sunk_usd", np.where(first & (sunk != 0), -sunk, 0.0))
    frame["incremental_profit_usd"] = frame["incremental_profit_usd"] + frame["sunk_usd"]
    frame["present_value_usd"] = frame["present_value_usd"] + frame["sunk_usd"]
    frame["cumulative_profit_usd"] = frame["incremental_profit_usd"].cumsum()
    frame["cumulative_present_value_usd"] = frame["present_value_usd"].cumsum()
    return frame.rename_axis("year").reset_index()


def combine_values(
    values: Sequence[ReplicationValue], seeds: Sequence[int], start: dt.date
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame, list[dict[str, Any]]]:
    """Replications' values combined: (summary section of means, its tree of 95% interval
    half-widths, ``program_value.parquet``, the per-replication headline figures).

    Differences of one quantity between the worlds (NPV, incremental revenue, cost and
    profit, Nvidia spend) get paired t-intervals over the replications; the derived
    figures (IRR, payback, break-even, waterfall items) t-intervals of their per-replication
    values, payback and break-even over the replications that reach them. ``start`` is the
    horizon start (the break-even date is that of the mean break-even, when every
    replication breaks even).
    """
    dicts = [as_dict(v.summary) for v in values]
    means: dict[str, Any] = {}
    half: dict[str, Any] = {}
    for key, first in dicts[0].items():
        column = [d[key] for d in dicts]
        if isinstance(first, dict):
            means[key] = {k: float(np.mean([c[k] for c in column])) for k in first}
            half[key] = {k: mean_interval([c[k] for c in column]).half_width for k in first}
        elif key in _PAIRED:
            base = [v.pairs[key][0] for v in values]
            interval = paired_interval(base, [v.pairs[key][1] for v in values])
            means[key], half[key] = interval.mean, interval.half_width
        elif key in _TEXT:
            means[key] = Counter(map(str, column)).most_common(1)[0][0]
            if all(c == first for c in column):
                means[key] = first
        else:
            interval = mean_interval(column)
            means[key] = None if interval.n == 0 else interval.mean
            half[key] = interval.half_width
    years = [d["breakeven_years"] for d in dicts]
    means["breakeven_date"] = None
    if all(y is not None for y in years):
        when = start + dt.timedelta(days=float(np.mean(years)) * DAYS_PER_YEAR)
        means["breakeven_date"] = dt.date(when.year, when.month, 1).isoformat()
    tables = [
        v.table.assign(replication=r, seed=np.uint64(sd))
        for r, (v, sd) in enumerate(zip(values, seeds, strict=True))
    ]
    table = pd.concat(tables, ignore_index=True)
    front = ["replication", "seed", "year"]
    table = table[front + [c for c in table.columns if c not in front]]
    per_rep = [
        {k: d[k] for k in ("npv_usd", "irr_per_year", "payback_years", "incremental_profit_usd")}
        for d in dicts
    ]
    return means, half, table, per_rep
