"""TCO breakdown: what each chip cost the provider, by component, in total and per busy hour."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.model.schema import Scenario
from sim.views.axes import chip_order, legend_outside, usd_axis
from sim.views.labels import chip_label
from sim.views.style import (
    COMPONENT_COLORS,
    COMPONENT_LABELS,
    FAMILY_COLORS,
    OTHER_COLOR,
    FigureMeta,
    new_figure,
    styled,
)

__all__ = ["TCO_COMPONENTS", "plot_tco_breakdown", "tco_totals"]

TCO_COMPONENTS: tuple[str, ...] = ("capital", "power", "facility", "maintenance", "nre")


def tco_totals(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Per pool: each TCO component and busy chip-hours summed over months, mean of reps."""
    t = timeseries if "replication" in timeseries else timeseries.assign(replication=0)
    cols = [f"{c}_usd" for c in TCO_COMPONENTS if f"{c}_usd" in t] + ["busy_chip_hours"]
    per_rep = t.groupby(["replication", "pool"])[cols].sum()
    return per_rep.groupby(level="pool").mean()


@styled
def plot_tco_breakdown(
    timeseries: pd.DataFrame,
    *,
    scenario: Scenario | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """Stacked bars per chip: capital, power, facility, maintenance and NRE.

    Left: totals over the horizon (mean over replications). Right: the same per busy
    chip-hour. Program-level costs (acquisition, fixed team cost) belong to no chip and
    are not shown.
    """
    order_pairs = chip_order(timeseries, scenario)
    totals = tco_totals(timeseries)
    order = [c for c, _ in order_pairs if c in totals.index]
    totals = totals.reindex(order)
    families = dict(order_pairs)
    fig = new_figure(meta, "Provider TCO by chip and component", (12.0, 5.8))
    ax_tot, ax_unit = fig.subplots(1, 2)
    x = np.arange(len(order))
    busy = totals["busy_chip_hours"].to_numpy(float)
    handles: list[Any] = []
    for ax, per_hour in ((ax_tot, False), (ax_unit, True)):
        bottom = np.zeros(len(order))
        for comp in TCO_COMPONENTS:
            col = f"{comp}_usd"
            if col not in totals:
                continue
            v = totals[col].to_numpy(float)
            if per_hour:
                v = np.where(busy > 0, v / np.where(busy > 0, busy, 1.0), 0.0)
            bars = ax.bar(
                x,
                v,
                bottom=bottom,
                color=COMPONENT_COLORS[comp],
                width=0.7,
                edgecolor="white",
                linewidth=0.5,
                label=COMPONENT_LABELS[comp],
            )
            bottom = bottom + v
            if not per_hour:
                handles.append(bars)
        top = float(bottom.max()) if len(bottom) else 0.0
        ax.set_ylim(0.0, top * 1.06 if top > 0 else 1.0)  # headroom: the tallest bar shows its top
        ax.set_xticks(x, [chip_label(c) for c in order], rotation=45, ha="right")
        for tick, chip in zip(ax.get_xticklabels(), order, strict=True):
            tick.set_color(FAMILY_COLORS.get(families.get(chip, ""), OTHER_COLOR))
        ax.set_xlabel("Chip (label colour = family)")
        usd_axis(ax)
        ax.grid(axis="x", visible=False)
    ax_tot.set_title("Total over the horizon")
    ax_tot.set_ylabel("USD over the horizon (mean of replications)")
    ax_unit.set_title("Per busy chip-hour")
    ax_unit.set_ylabel("USD per busy chip-hour")
    legend_outside(fig, handles, title="Component")
    return fig
