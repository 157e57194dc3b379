"""Adoption: the share of chip-hours each chip family wins, for all customers and per segment."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.views.axes import (
    as_dates,
    date_axis,
    family_rank,
    fan_handle,
    legend_outside,
    median_and_fan,
    percent_axis,
)
from sim.views.labels import family_label
from sim.views.style import FAMILY_COLORS, OTHER_COLOR, FigureMeta, new_figure, styled

__all__ = ["adoption_shares", "plot_adoption"]


def adoption_shares(
    segments: pd.DataFrame, internal: Iterable[str] = (), *, by_segment: bool = False
) -> pd.DataFrame:
    """Share of chip-hours (training + serving) per family, per replication and month.

    Segments named in ``internal`` are left out of the customer total; with
    ``by_segment`` the shares are within each segment, all segments included. Columns:
    replication, month, [segment,] family, share. Months with no chip-hours have share NaN.
    """
    s = segments if "replication" in segments else segments.assign(replication=0)
    hours = s["training_chip_hours"].astype(float) + s["serving_chip_hours"].astype(float)
    s = s.assign(hours=hours)
    keys = ["replication", "month", *(["segment"] if by_segment else [])]
    skip = set(internal)
    if skip and not by_segment:
        s = s[~s["segment"].astype(str).isin(skip)]
    g = s.groupby([*keys, "family"], sort=True)["hours"].sum().reset_index()
    total = g.groupby(keys)["hours"].transform("sum").to_numpy(float)
    h = g["hours"].to_numpy(float)
    g["share"] = np.where(total > 0, h / np.where(total > 0, total, 1.0), np.nan)
    return g.drop(columns="hours")


def _fan_panel(
    ax: Axes,
    shares: pd.DataFrame,
    families: Sequence[str],
    handles: dict[str, Any],
    *,
    small: bool = False,
) -> None:
    months = sorted(set(shares["month"]))
    x = as_dates(months).to_numpy()
    for fam in families:
        sel = shares[shares["family"] == fam]
        if sel.empty:
            continue
        wide = sel.pivot_table(index="replication", columns="month", values="share")
        med, lo, hi = median_and_fan(wide.reindex(columns=months).to_numpy(float))
        color = FAMILY_COLORS.get(fam, OTHER_COLOR)
        (line,) = ax.plot(x, med, color=color, label=family_label(fam))
        handles.setdefault(fam, line)
        if lo is not None and hi is not None:
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
            handles.setdefault("fan", fan_handle())
    ax.set_ylim(-0.02, 1.02)
    percent_axis(ax, decimals=0)
    if small:  # room for a label every other year at most
        date_axis(ax, minticks=2, maxticks=5)
    else:
        date_axis(ax)


@styled
def plot_adoption(
    segments: pd.DataFrame,
    *,
    internal: Sequence[str] = (),
    meta: FigureMeta | None = None,
) -> Figure:
    """Share of chip-hours per family over time: all customers, then one panel per segment.

    Lines are medians over replications, with a 5th-95th percentile fan when there are
    several. The ``internal`` segments (``internal: true`` in the scenario) are left out of the
    customer panel and shown in their own small multiple.
    """
    overall = adoption_shares(segments, internal)
    per_seg = adoption_shares(segments, by_segment=True)
    present = set(per_seg["family"].astype(str))
    families = sorted(present, key=lambda f: (family_rank(f), f))
    seg_names = list(dict.fromkeys(str(x) for x in segments["segment"]))
    ncol = 3
    nrow = max(1, math.ceil(len(seg_names) / ncol))
    fig = new_figure(meta, "Adoption: share of chip-hours by chip family", (12.0, 3.8 + 2.4 * nrow))
    grid = fig.add_gridspec(1 + nrow, ncol, height_ratios=[1.6] + [1.0] * nrow)
    top = fig.add_subplot(grid[0, :])
    top.set_title("All customers" + (" (internal work excluded)" if internal else ""))
    top.set_ylabel("Share of chip-hours (%)")
    top.set_xlabel("Date (month)")
    handles: dict[str, Any] = {}
    _fan_panel(top, overall, families, handles)
    for i, seg in enumerate(seg_names):
        ax = fig.add_subplot(grid[1 + i // ncol, i % ncol])
        ax.set_title(seg + (" (internal)" if seg in internal else ""), fontsize=9.5)
        _fan_panel(ax, per_seg[per_seg["segment"] == seg], families, handles, small=True)
        ax.set_xlim(top.get_xlim())
        ax.set_ylabel("Share (%)")
        ax.set_xlabel("Date (month)")
    ordered = [handles[f] for f in families if f in handles]
    if "fan" in handles:
        ordered.append(handles["fan"])
    legend_outside(fig, ordered, title="Family")
    return fig
