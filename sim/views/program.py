"""The in-house chip program: the learning curve of its chips, and its value against the
world without it (the waterfall of its NPV, the cumulative incremental cash flow)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.accounting.summary import find_metric
from sim.accounting.value import WATERFALL_ITEMS
from sim.model.pricing import learning_curve_usd
from sim.model.schema import Scenario
from sim.model.statistics import mean_interval
from sim.model.units import DAYS_PER_YEAR
from sim.scenario.paths import value_at
from sim.views.axes import (
    FloatArray,
    chip_colors,
    family_rank,
    finite_or,
    launch_key,
    legend_outside,
    no_data,
    usd_axis,
)
from sim.views.labels import chip_label
from sim.views.numbers import count_tick, fmt_usd
from sim.views.style import FAMILY_COLORS, FigureMeta, new_figure, styled

__all__ = ["delivered_chips", "plot_learning", "plot_program"]


def delivered_chips(timeseries: pd.DataFrame | None) -> dict[str, float]:
    """Chips delivered per pool over the run (median over replications); {} without data."""
    if timeseries is None or not {"chips_delivered", "pool"} <= set(timeseries.columns):
        return {}
    t = timeseries if "replication" in timeseries else timeseries.assign(replication=0)
    per_rep = t.groupby(["replication", "pool"])["chips_delivered"].sum()
    med = per_rep.groupby(level="pool").median()
    return {str(k): float(v) for k, v in med.items()}


def _marker(symbol: str, label: str) -> Line2D:
    return Line2D(
        [],
        [],
        marker=symbol,
        color="#444444",
        linestyle="none",
        markeredgecolor="black",
        label=label,
    )


def _reference_price(ax: Any, scenario: Scenario) -> Any:
    """The reference GPU's list price as a dotted line, or None without one."""
    prog = scenario.provider.inhouse_program
    ref_gpu = prog.reference_gpu if prog is not None else None
    spec = scenario.catalog.chips.get(ref_gpu) if ref_gpu else None
    if spec is None:
        return None
    return ax.axhline(
        spec.unit_cost_usd,
        color=FAMILY_COLORS["nvidia_gpu"],
        linestyle=":",
        linewidth=1.5,
        label=f"{chip_label(str(ref_gpu))} list price (reference GPU)",
    )


@styled
def plot_learning(
    scenario: Scenario,
    *,
    timeseries: pd.DataFrame | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """In-house unit cost against cumulative volume (Wright's law), one line per generation.

    The curve is the model's (:func:`sim.model.pricing.learning_curve_usd`): the catalog's
    unit_cost_usd holds at the generation's reference volume (a circle). Volumes are the
    program's: with ``timeseries``, the volume delivered in the run over the program's
    ``scale_fraction`` is marked (a diamond, median over replications); the reference
    GPU's list price is a dotted horizontal line.
    """
    prog = scenario.provider.inhouse_program
    gens = prog.generations if prog is not None else {}
    share = prog.scale_fraction if prog is not None else 1.0
    chips = scenario.catalog.chips
    fig = new_figure(meta, "In-house chip unit cost against cumulative volume", (11.0, 6.0))
    ax = fig.subplots()
    ax.set_title("Wright's law: cost x learning rate per doubling of volume")
    ax.set_xlabel("Cumulative chips the program produced (log scale)")
    ax.set_ylabel("Unit cost, USD per chip (log scale)")
    delivered = delivered_chips(timeseries)
    pairs = sorted(
        ((g, chips[g].family if g in chips else "other") for g in gens),
        key=lambda p: (family_rank(p[1]), launch_key(scenario, p[0]), p[0]),
    )
    styles = chip_colors(pairs)
    handles: list[Any] = []
    for gid, _family in pairs:
        if gid not in chips or gens[gid].reference_volume_chips <= 0:
            continue
        unit, gen = chips[gid].unit_cost_usd, gens[gid]
        ref_vol, lr = gen.reference_volume_chips, gen.learning_rate
        reached = delivered.get(gid, 0.0) / share
        # the curve from a tenth of the smaller of the reference and reached volumes: below
        # that, Wright's law extrapolates far outside anything a program has produced
        low = max(1.0, 0.1 * min(float(ref_vol), reached if reached >= 1 else float(ref_vol)))
        n = np.geomspace(low, max(10.0 * float(ref_vol), 2.0 * reached), 200)
        color, ls = styles[gid]
        label = (
            f"{chip_label(gid)}: x{lr:.2f} per doubling\n"
            f"(catalog {fmt_usd(float(unit))} at {ref_vol:,.0f} chips)"
        )
        cost = np.asarray(learning_curve_usd(scenario, gid, n), dtype=float)
        (line,) = ax.plot(n, cost, color=color, linestyle=ls, label=label)
        handles.append(line)
        ax.plot([ref_vol], [unit], "o", color=color, markersize=7, markeredgecolor="black")
        if reached >= 1:
            at = float(learning_curve_usd(scenario, gid, reached))
            ax.plot([reached], [at], "D", color=color, markersize=6, markeredgecolor="black")
    if not handles:
        no_data(ax, "the scenario has no in-house chip generations")
        legend_outside(fig, handles, title="Generation")
        return fig
    handles.append(_marker("o", "catalog unit cost at reference volume"))
    if any(delivered.get(g, 0.0) >= 1 for g, _ in pairs):
        what = "volume delivered in this run"
        handles.append(_marker("D", what if share == 1.0 else f"{what} / {share:g}"))
    price = _reference_price(ax, scenario)
    if price is not None:
        handles.append(price)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    usd_axis(ax)
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(count_tick))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    legend_outside(fig, handles, title="Generation")
    return fig


#: Colours of the waterfall's bars and of the cumulative cash flow.
_GAIN, _LOSS, _TOTAL, _MARGIN = "#2e7d32", "#b5446e", "#444444", "#8fbf7f"


def _waterfall_rows(summary: Mapping[str, Any]) -> list[tuple[str, float, float | None]]:
    """(item key, mean PV, half-width) of each waterfall item with a value, in order."""
    items = value_at(summary, "program_value.waterfall")
    halves = value_at(summary, "interval95.program_value.waterfall")
    halves = halves if isinstance(halves, Mapping) else {}
    rows = []
    for key in (*WATERFALL_ITEMS, "sunk_usd"):
        value = items.get(key) if isinstance(items, Mapping) else None
        if not isinstance(value, int | float) or value == 0.0:
            continue
        half = halves.get(key)
        rows.append((key, float(value), float(half) if isinstance(half, int | float) else None))
    return rows


def _label_of(key: str) -> str:
    metric = find_metric(f"program_value.waterfall.{key}")
    return metric.label if metric is not None else key


def _pm(value: float, half: float | None) -> str:
    return fmt_usd(value) + (f" +- {fmt_usd(half)}" if half else "")


def _draw_waterfall(ax: Axes, summary: Mapping[str, Any]) -> list[Any]:
    """Horizontal waterfall: each item a bar from the running total, then the NPV; the
    values (+- their 95% half-widths) in a column on the right."""
    rows = _waterfall_rows(summary)
    total = finite_or(value_at(summary, "program_value.npv_usd"), 0.0)
    half = value_at(summary, "interval95.program_value.npv_usd")
    rows.append(("total_usd", total, float(half) if isinstance(half, int | float) else None))
    y = np.arange(len(rows))[::-1].astype(float)
    start = 0.0
    margin = finite_or(value_at(summary, "program_value.waterfall.nvidia_margin_avoided_usd"), 0)
    handles: list[Any] = []
    column = ax.get_yaxis_transform()
    for yi, (key, value, hw) in zip(y, rows, strict=True):
        last = key == "total_usd"
        left = 0.0 if last else start
        color = _TOTAL if last else (_GAIN if value >= 0 else _LOSS)
        ax.barh(yi, value, left=left, color=color, height=0.62)
        if hw:
            ax.errorbar(left + value, yi, xerr=hw, color="black", capsize=3, linewidth=1)
        if key == "gpu_capital_avoided_usd" and margin:
            handles.append(
                ax.barh(
                    yi,
                    margin,
                    left=left,
                    color=_MARGIN,
                    height=0.3,
                    hatch="//",
                    label="Nvidia's gross margin\nwithin it (hatched)",
                )
            )
        ax.text(
            1.01,
            yi,
            _pm(value, hw),
            transform=column,
            va="center",
            fontsize=8.5,
            fontweight="bold" if last else "normal",
        )
        start = left + value
    ax.set_yticks(y, [_label_of(key) for key, _v, _h in rows])
    ax.set_ylabel("Item (with minus without the program)")
    ax.axvline(0.0, color="#999999", linewidth=0.8)
    usd_axis(ax, "x")
    ax.set_xlabel("Present value at the horizon start, USD (error bars: 95% intervals)")
    return handles


def _draw_cumulative(ax: Axes, table: pd.DataFrame, summary: Mapping[str, Any]) -> list[Any]:
    """Cumulative incremental profit from the horizon start to each year's end (on a time
    axis): each replication, the mean and its 95% t-interval band; the cumulative present
    value dashed; the mean payback as a dated line."""
    handles: list[Any] = []
    years = sorted({int(y) for y in table["year"]})
    start = value_at(summary, "horizon.start")
    end = value_at(summary, "horizon.end")
    first = _decimal_year(dt.date.fromisoformat(start)) if isinstance(start, str) else years[0]
    last = _decimal_year(dt.date.fromisoformat(end)) if isinstance(end, str) else years[-1] + 1
    # the horizon start (nothing yet, or the sunk costs when they are included), then each
    # year's end (the horizon's end for a year it cuts short)
    x = np.array([first, *(min(y + 1.0, last) for y in years)], dtype=float)
    first_year = table[table["year"] == years[0]].sort_values("replication")
    sunk = first_year.get("sunk_usd", pd.Series(0.0, index=first_year.index))
    at_start = sunk.to_numpy(float)
    for col, label, ls in (
        ("cumulative_profit_usd", "Cumulative profit", "-"),
        ("cumulative_present_value_usd", "Cumulative present\nvalue", "--"),
    ):
        wide = table.pivot_table(index="replication", columns="year", values=col)
        values = np.column_stack([at_start, wide.reindex(columns=years).to_numpy(float)])
        mean = values.mean(axis=0)
        if col == "cumulative_profit_usd":
            for row in values:
                ax.plot(x, row, color=_GAIN, linewidth=0.6, alpha=0.35)
            lo, hi = _band(values)
            if lo is not None and hi is not None:
                band = ax.fill_between(x, lo, hi, color=_GAIN, alpha=0.18, linewidth=0)
                band.set_label("95% interval\nof the mean")
                handles.append(band)
        (line,) = ax.plot(
            x,
            mean,
            color=_TOTAL if ls == "--" else _GAIN,
            linestyle=ls,
            marker="o",
            markersize=3,
            label=f"{label} (mean)",
        )
        handles.append(line)
    ax.axhline(0.0, color="#999999", linewidth=0.8)
    payback = value_at(summary, "program_value.payback_years")
    paid = value_at(summary, "program_value.paid_back")
    if isinstance(payback, int | float) and isinstance(start, str):
        when = dt.date.fromisoformat(start) + dt.timedelta(days=float(payback) * DAYS_PER_YEAR)
        share = f" ({paid:.0%} of\nreplications pay back)" if isinstance(paid, float) else ""
        handles.append(
            ax.axvline(
                _decimal_year(when),
                color="black",
                linestyle=":",
                linewidth=1.2,
                label=f"Mean payback{share}:\n{when:%b %Y}",
            )
        )
    usd_axis(ax)
    ticks = range(int(np.floor(first)), int(np.ceil(last)) + 1)
    ax.set_xticks([float(y) for y in ticks], [str(y) for y in ticks])
    ax.set_ylabel("USD, with minus without the program")
    ax.set_xlabel("Date (ticks at 1 January; points at the horizon start and each year's end)")
    return handles


def _decimal_year(day: dt.date) -> float:
    """``day`` as a year and the fraction of it gone (1 January is the whole year)."""
    length = (dt.date(day.year + 1, 1, 1) - dt.date(day.year, 1, 1)).days
    return day.year + (day - dt.date(day.year, 1, 1)).days / length


def _band(values: FloatArray) -> tuple[FloatArray | None, FloatArray | None]:
    """The 95% t-interval of the mean over replications (rows), per column."""
    if values.shape[0] < 2:
        return None, None
    halves = np.array(
        [mean_interval(values[:, j]).half_width or 0.0 for j in range(values.shape[1])]
    )
    mean = values.mean(axis=0)
    return mean - halves, mean + halves


@styled
def plot_program(
    table: pd.DataFrame,
    summary: Mapping[str, Any],
    *,
    meta: FigureMeta | None = None,
) -> Figure:
    """The program's value against the world without it: the NPV's waterfall (means over
    replications with 95% intervals) and the cumulative incremental cash flow by year
    (``program_value.parquet``), each replication thin, the mean with its band."""
    n = value_at(summary, "replication_count")
    reps = f"{n} paired replications" if isinstance(n, int) and n > 1 else "one replication"
    fig = new_figure(
        meta,
        f"In-house chip program: with minus without the in-house chips ({reps})",
        (12.5, 10.5),
    )
    top, bottom = fig.subplots(2, 1, height_ratios=(1.15, 1.0))
    top.set_title("What the NPV is made of (present values; hatched: Nvidia margin within it)")
    bottom.set_title("Cumulative incremental profit (undiscounted) and present value")
    if value_at(summary, "program_value.npv_usd") is None or table.empty:
        no_data(top, "the run has no program value (no in-house program, or --no-counterfactual)")
        return fig
    handles = _draw_waterfall(top, summary)
    handles += _draw_cumulative(bottom, table, summary)
    fig.legend(handles=handles, loc="outside right lower")
    return fig
