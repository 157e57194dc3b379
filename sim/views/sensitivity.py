"""Sensitivity: the tornado of one-at-a-time swings and the Sobol (or RBD-FAST) indices."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.views.axes import (
    DistinctFormatter,
    finite_or,
    legend_outside,
    metric_formatter,
    no_data,
)
from sim.views.labels import metric_label, metric_name, metric_row_label, param_label
from sim.views.numbers import TICK, fmt_value, param_unit
from sim.views.style import FigureMeta, new_figure, styled

__all__ = ["plot_sobol", "plot_tornado", "sobol_table"]


def _tornado_label(row: Mapping[str, Any]) -> str:
    """A tornado row's tick label: the parameter and its range."""
    param = str(row.get("parameter", "?"))
    low, high = (_param_value(param, row.get(k)) for k in ("low_value", "high_value"))
    return f"{param_label(param)}\n({low} to {high})"


def _param_value(param: str, value: Any) -> str:
    """A parameter's value for a tick label, in the parameter's unit (``param_unit``: a
    calendar year without a thousands separator).

    >>> _param_value("catalog.stacks.neuron.maturity_midpoint_year", 2026.0)
    '2026'
    >>> _param_value("catalog.stacks.neuron.maturity_midpoint_year", 2025.5)
    '2025.5'
    >>> _param_value("economics.engineer_usd_per_month", 20000.0)
    '20,000'
    >>> _param_value("economics.facility_usd_per_kw_year", 1500.0)
    '1,500'
    """
    return fmt_value(value, param_unit(param), TICK)


@styled
def plot_tornado(
    tornado: Sequence[Mapping[str, Any]],
    *,
    metric: str,
    base: float | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """One-at-a-time sensitivity: the metric with each parameter at its low and high value.

    Bars start at the metric's ``base`` value (else a row's ``base``, else the middle of
    the first row); the widest swing is at the top.
    """
    rows = [r for r in tornado if isinstance(r, Mapping)]
    if base is None or not math.isfinite(base):
        first = rows[0] if rows else {}
        mid = 0.5 * (
            finite_or(first.get("metric_low"), 0.0) + finite_or(first.get("metric_high"), 0.0)
        )
        base = finite_or(first.get("base"), mid)
    rows.sort(
        key=lambda r: abs(
            finite_or(r.get("metric_high"), base) - finite_or(r.get("metric_low"), base)
        )
    )
    name = metric_row_label(metric_name(metric))
    fig = new_figure(meta, f"Tornado: what moves {name}", (11.0, 2.2 + 0.5 * max(len(rows), 3)))
    ax = fig.subplots()
    ax.set_title("Each parameter at its low and its high value, the others at their base")
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel("Parameter (low to high value)")
    y = np.arange(len(rows))
    lows = np.array([finite_or(r.get("metric_low"), base) for r in rows])
    highs = np.array([finite_or(r.get("metric_high"), base) for r in rows])
    h_low = ax.barh(
        y, lows - base, left=base, height=0.6, color="#1f6fb4", label="parameter at its low value"
    )
    h_high = ax.barh(
        y, highs - base, left=base, height=0.6, color="#e8710a", label="parameter at its high value"
    )
    ax.set_yticks(y, [_tornado_label(r) for r in rows], fontsize=8.5)
    fmt = metric_formatter(metric)
    h_base = ax.axvline(
        base, color="black", linewidth=1.0, label=f"base: {fmt(base, None, digits=4)}"
    )
    ax.xaxis.set_major_formatter(DistinctFormatter(fmt))
    ax.grid(axis="y", visible=False)
    if not rows:
        no_data(ax, "no tornado rows")
    # low on the right: at the top the legend ran into the long subtitle
    legend_outside(fig, [h_low, h_high, h_base], lower=True)
    return fig


def sobol_table(sobol: Mapping[str, Any]) -> pd.DataFrame:
    """S1, S1_conf, ST, ST_conf per parameter (rows sorted by ST, largest last).

    Accepts ``{"S1": {param: value}, ...}`` or SALib's lists with ``names``.
    """
    names = sobol.get("names") or sobol.get("parameters")
    cols: dict[str, dict[str, float]] = {}
    for key in ("S1", "S1_conf", "ST", "ST_conf"):
        val = sobol.get(key)
        if isinstance(val, Mapping):
            cols[key] = {str(k): finite_or(v, np.nan) for k, v in val.items()}
        elif isinstance(val, list | tuple) and isinstance(names, list | tuple):
            cols[key] = {str(n): finite_or(v, np.nan) for n, v in zip(names, val, strict=False)}
    frame = pd.DataFrame(cols, dtype=float)
    for key in ("S1", "S1_conf", "ST", "ST_conf"):
        if key not in frame:
            frame[key] = np.nan
    # indices ranked from a sampled sweep (RBD-FAST) have first-order values only
    order = "ST" if bool(frame["ST"].notna().any()) else "S1"
    return frame.sort_values(order, ascending=True, na_position="first")


@styled
def plot_sobol(
    sobol: Mapping[str, Any],
    *,
    metric: str,
    meta: FigureMeta | None = None,
) -> Figure:
    """First-order (S1) and total (ST) Sobol indices per parameter, with confidence bars."""
    table = sobol_table(sobol)
    n = len(table)
    name = metric_row_label(metric_name(metric))
    first_only = not bool(table["ST"].notna().any())
    title = f"Sobol indices of {name}"
    if first_only and sobol.get("method") == "rbd-fast":
        title = f"First-order indices of {name} (RBD-FAST, from a sampled sweep)"
    fig = new_figure(meta, title, (11.0, 2.2 + 0.55 * max(n, 3)))
    ax = fig.subplots()
    ax.set_title("Share of the output variance per parameter (whiskers: 95% bootstrap interval)")
    ax.set_xlabel("Sobol index (fraction of output variance, 0 to 1)")
    ax.set_ylabel("Parameter")
    y = np.arange(n)
    h = 0.38
    err = {"elinewidth": 1.0, "ecolor": "#333333"}
    s1 = ax.barh(
        y + h / 2,
        table["S1"].fillna(0.0).to_numpy(),
        height=h,
        color="#1f6fb4",
        xerr=table["S1_conf"].fillna(0.0).to_numpy(),
        capsize=3,
        error_kw=err,
        label="S1 (first order)",
    )
    handles = [s1]
    if not first_only:
        handles.append(
            ax.barh(
                y - h / 2,
                table["ST"].fillna(0.0).to_numpy(),
                height=h,
                color="#e8710a",
                xerr=table["ST_conf"].fillna(0.0).to_numpy(),
                capsize=3,
                error_kw=err,
                label="ST (total, with interactions)",
            )
        )
    ax.set_yticks(y, [param_label(str(i)) for i in table.index], fontsize=8.5)
    ax.axvline(0.0, color="#555555", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    if n == 0:
        no_data(ax, "no Sobol indices")
    legend_outside(fig, handles, lower=True)  # see plot_tornado
    return fig
