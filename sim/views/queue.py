"""Queues: the mean wait of training jobs and the utilisation of each pool, month by month."""

from __future__ import annotations

from typing import Any

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.model.schema import Scenario
from sim.views.axes import (
    as_dates,
    chip_colors,
    chip_order,
    date_axis,
    legend_outside,
    no_data,
    percent_axis,
)
from sim.views.labels import chip_label
from sim.views.numbers import count_tick
from sim.views.style import FigureMeta, new_figure, styled

__all__ = ["plot_queue", "queue_series"]


def queue_series(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Per month and pool: jobs-weighted mean wait (hours) and utilisation, over replications."""
    t = timeseries.assign(
        wait_x_jobs=timeseries["mean_wait_hours"].astype(float)
        * timeseries["jobs_started"].astype(float)
    )
    cols = ["wait_x_jobs", "jobs_started", "busy_chip_hours", "installed_chip_hours"]
    g = t.groupby(["month", "pool"], sort=True)[cols].sum().reset_index()
    jobs = g["jobs_started"].to_numpy(float)
    inst = g["installed_chip_hours"].to_numpy(float)
    g["mean_wait_hours"] = np.where(
        jobs > 0, g["wait_x_jobs"].to_numpy(float) / np.where(jobs > 0, jobs, 1.0), np.nan
    )
    g["utilization"] = np.where(
        inst > 0, g["busy_chip_hours"].to_numpy(float) / np.where(inst > 0, inst, 1.0), np.nan
    )
    return g


#: A display choice: the wait axis turns logarithmic when its largest monthly wait exceeds
#: :data:`_SPIKE_RATIO` times the 90th percentile of the waits, linear below 1 hour.
_SPIKE_RATIO = 5.0
_LINEAR_BELOW_H = 1.0


def _spiky(values: np.ndarray) -> bool:
    """Whether a few values dwarf the rest (the largest over 5x the 90th percentile).

    >>> _spiky(np.r_[np.ones(20), 100.0]), _spiky(np.array([1.0, 2.0, 3.0]))
    (True, False)
    """
    positive = values[values > 0]
    if len(positive) < 3:
        return False
    return bool(positive.max() > _SPIKE_RATIO * np.percentile(positive, 90))


@styled
def plot_queue(
    timeseries: pd.DataFrame,
    *,
    scenario: Scenario | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """Mean training-job wait (top) and utilisation (bottom) per pool, monthly.

    Wait is the jobs-weighted mean over replications of the mean wait of the jobs started
    that month; utilisation is busy over installed chip-hours, summed over replications.
    """
    g = queue_series(timeseries)
    order = chip_order(timeseries, scenario)
    styles = chip_colors(order)
    fig = new_figure(meta, "Queues and utilisation per pool", (12.0, 7.0))
    ax_w, ax_u = fig.subplots(2, 1, sharex=True)
    ax_w.set_title("Mean wait of the training jobs started in the month")
    ax_w.set_ylabel("Mean wait (hours)")
    ax_u.set_title("Utilisation (busy / installed chip-hours)")
    ax_u.set_ylabel("Utilisation (%)")
    ax_u.set_xlabel("Date (month)")
    handles: dict[str, Any] = {}
    waits = 0
    for chip, _family in order:
        sel = g[g["pool"] == chip]
        x = as_dates(sel["month"]).to_numpy()
        color, ls = styles[chip]
        if float(sel["jobs_started"].sum()) > 0:
            (line,) = ax_w.plot(
                x,
                sel["mean_wait_hours"].to_numpy(float),
                color=color,
                linestyle=ls,
                label=chip_label(chip),
            )
            handles.setdefault(chip, line)
            waits += 1
        util = sel["utilization"].to_numpy(float)
        if np.isfinite(util).any():
            (line,) = ax_u.plot(x, util, color=color, linestyle=ls, label=chip_label(chip))
            handles.setdefault(chip, line)
    if not waits:
        no_data(ax_w, "no training jobs started")
    wait_h = g["mean_wait_hours"].to_numpy(float)
    if _spiky(wait_h[np.isfinite(wait_h)]):
        # a few long waits would flatten the rest on a linear axis
        ax_w.set_yscale("symlog", linthresh=_LINEAR_BELOW_H, linscale=0.5)
        ax_w.set_ylabel(f"Mean wait (hours; log scale above {_LINEAR_BELOW_H:g} h)")
        ax_w.set_ylim(bottom=0.0)
    ax_w.yaxis.set_major_formatter(mticker.FuncFormatter(count_tick))
    ax_u.set_ylim(-0.02, 1.05)
    percent_axis(ax_u, decimals=0)
    date_axis(ax_u)
    legend_outside(fig, [handles[c] for c, _ in order if c in handles], title="Pool")
    return fig
