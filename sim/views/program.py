"""The in-house chip program: the learning curve of its chips, its cost against its savings."""

from __future__ import annotations

from typing import Any

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.model.pricing import learning_curve_usd
from sim.model.schema import Scenario
from sim.views.axes import (
    as_dates,
    chip_colors,
    date_axis,
    date_number,
    family_rank,
    fan_handle,
    launch_key,
    legend_outside,
    median_and_fan,
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
        [], [], marker=symbol, color="#444444", linestyle="none", markeredgecolor="black",
        label=label,
    )  # fmt: skip


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
    unit_cost_usd holds at the generation's reference volume (a circle). With
    ``timeseries``, the volume delivered in the run is marked (a diamond, median over
    replications); the reference GPU's list price is a dotted horizontal line.
    """
    prog = scenario.provider.inhouse_program
    gens = prog.generations if prog is not None else {}
    chips = scenario.catalog.chips
    fig = new_figure(meta, "In-house chip unit cost against cumulative volume", (11.0, 6.0))
    ax = fig.subplots()
    ax.set_title("Wright's law: cost x learning rate per doubling of volume")
    ax.set_xlabel("Cumulative chips produced (log scale)")
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
        reached = delivered.get(gid, 0.0)
        n = np.geomspace(1.0, max(10.0 * float(ref_vol), 2.0 * reached), 200)
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
        handles.append(_marker("D", "volume delivered in this run"))
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


@styled
def plot_program(
    program: pd.DataFrame,
    *,
    breakeven_date: str | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """Cumulative program cost (NRE, acquisition, team) against cumulative savings.

    Medians over replications with 5th-95th percentile fans, the net position dashed, and
    the break-even month (from summary.json) as a labelled vertical line.
    """
    p = program if "replication" in program else program.assign(replication=0)
    months = sorted(set(p["month"]))
    x = as_dates(months).to_numpy()
    fig = new_figure(meta, "In-house chip program: cumulative cost against savings", (11.0, 6.0))
    ax = fig.subplots()
    ax.set_title("Savings = reference-GPU cost of the in-house chips' work - their running cost")
    ax.set_ylabel("Cumulative USD")
    ax.set_xlabel("Date (month)")
    series = (
        ("cumulative_program_cost_usd", "Program cost (NRE, acquisition, team)", "#b5446e", "-"),
        ("cumulative_savings_usd", "Savings against the reference GPU", "#2e7d32", "-"),
        ("cumulative_net_usd", "Net (savings - program cost)", "#444444", "--"),
    )
    handles: list[Any] = []
    for col, label, color, ls in series:
        if col not in p:
            continue
        wide = p.pivot_table(index="replication", columns="month", values=col)
        med, lo, hi = median_and_fan(wide.reindex(columns=months).to_numpy(float))
        (line,) = ax.plot(x, med, color=color, linestyle=ls, label=label)
        handles.append(line)
        if lo is not None and hi is not None:
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
    ax.axhline(0.0, color="#999999", linewidth=0.8)
    if breakeven_date:
        when = pd.Timestamp(breakeven_date)
        handles.append(
            ax.axvline(
                date_number(when.to_pydatetime()),
                color="black",
                linewidth=1.4,
                linestyle=":",
                label=f"Break-even {when:%b %Y}",
            )
        )
        ax.annotate(
            f"break-even\n{when:%b %Y}",
            (date_number(when.to_pydatetime()), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4),
            textcoords="offset points",
            va="top",
            fontsize=9,
        )
    elif months:
        ax.text(
            0.02,
            0.95,
            f"no break-even by {pd.Timestamp(months[-1]):%b %Y}",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
            color="#b5446e",
            fontweight="bold",
        )
    usd_axis(ax)
    date_axis(ax)
    if p["replication"].nunique() > 1:
        handles.append(fan_handle())
    legend_outside(fig, handles)
    return fig
