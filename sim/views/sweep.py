"""Sweep response: headline metrics against the swept parameters, with confidence bands."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.views.axes import (
    DistinctFormatter,
    distinct_labels,
    legend_outside,
    metric_formatter,
    no_data,
)
from sim.views.labels import metric_label, metric_name, metric_row_label, param_label
from sim.views.numbers import TICK, fmt_value
from sim.views.style import FigureMeta, new_figure, styled

__all__ = [
    "PREFERRED_METRICS",
    "plot_sweep",
    "sweep_metrics",
    "sweep_params",
    "sweep_points",
]

PREFERRED_METRICS: tuple[str, ...] = (
    "metric.provider.tco_usd",
    "metric.provider.margin_usd",
    "metric.program_value.npv_usd",
    "metric.provider.nvidia_spend_usd",
    "metric.usage_ratio_vs_gpu.trainium.2023",
    "metric.usage_ratio_vs_gpu.inferentia.2023",
)


def sweep_metrics(runs: pd.DataFrame, limit: int = 4) -> list[str]:
    """Numeric metric columns to draw: the preferred headline ones first, then the rest."""
    numeric = [
        str(c)
        for c in runs.columns
        if str(c).startswith("metric.")
        and pd.api.types.is_numeric_dtype(runs[c])
        and bool(runs[c].notna().any())
    ]
    ordered = [m for m in PREFERRED_METRICS if m in numeric]
    ordered += [m for m in numeric if m not in ordered]
    return ordered[:limit]


def sweep_params(runs: pd.DataFrame) -> list[str]:
    """Parameter columns whose value varies across the runs."""
    return [str(c) for c in runs.columns if str(c).startswith("param.") and runs[c].nunique() > 1]


def _mean_ci(values: pd.Series) -> tuple[float, float, float]:
    """Mean and the 95% confidence interval of the mean (Student t).

    >>> [round(v, 3) for v in _mean_ci(pd.Series([1.0, 2.0, 3.0]))]
    [2.0, -0.484, 4.484]
    """
    from scipy.special import stdtrit  # Student t quantile; lighter than scipy.stats

    v = values.dropna().to_numpy(float)
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    m = float(v.mean())
    if v.size < 2:
        return (m, m, m)
    half = float(stdtrit(v.size - 1, 0.975)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return (m, m - half, m + half)


def sweep_points(runs: pd.DataFrame, params: Sequence[str], metric: str) -> pd.DataFrame:
    """Per point of ``params``: runs (n), the metric's mean and its 95% CI (ci_low, ci_high)."""
    rows = []
    for key, grp in runs.groupby(list(params), sort=True, dropna=False):
        vals = key if isinstance(key, tuple) else (key,)
        m, lo, hi = _mean_ci(grp[metric])
        rows.append((*vals, len(grp), m, lo, hi))
    return pd.DataFrame(rows, columns=[*params, "n", "mean", "ci_low", "ci_high"])


def _is_grid(runs: pd.DataFrame, params: Sequence[str]) -> bool:
    if len(params) != 2:
        return False
    nx, ny = runs[params[0]].nunique(), runs[params[1]].nunique()
    points = len(runs.drop_duplicates(list(params)))
    return points == nx * ny and nx <= 30 and ny <= 30


_BAND_LABEL = "95% confidence interval of the mean\n(cut at 0 for a cost or count)"

#: Parts of a metric key that mark a quantity of either sign (a difference, a margin, a
#: rate of return): its interval is drawn whole, below 0 too.
_SIGNED_PARTS = ("program_value", "margin", "profit", "savings", "npv", "irr")


def _never_negative(runs: pd.DataFrame, metric: str) -> bool:
    """Whether ``metric`` is a cost or count (a quantity that is never negative): no run
    has it below 0 and its key names no difference, margin or return. Its mean's interval
    is then cut at 0, where a Student-t interval from a few runs would cross it."""
    if any(part in metric for part in _SIGNED_PARTS):
        return False
    return bool((runs[metric].to_numpy(float) >= 0).all())


@styled
def plot_sweep(
    runs: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """The response of headline metrics to the swept parameters.

    One swept parameter: each metric against it, the mean over the runs at each point with
    a 95% confidence band. Two parameters on a full grid: a heatmap of the mean of the
    first two metrics. Otherwise (sampled points, more parameters): the first metric
    against each parameter, one dot per run.
    """
    chosen = list(metrics) if metrics else sweep_metrics(runs)
    params = sweep_params(runs)
    if not chosen or not params:
        fig = new_figure(meta, "Sweep response", (9.0, 4.0))
        ax = fig.subplots()
        ax.set_title("Nothing to draw")
        ax.set_xlabel("parameter (no unit)")
        ax.set_ylabel("metric (no unit)")
        no_data(ax, "the sweep has no varying parameter or no numeric metric")
        return fig
    if _is_grid(runs, params):
        return _sweep_heatmap(runs, params, chosen, meta)
    one = len(params) == 1 and runs[params[0]].nunique() <= 50
    panels = [(params[0], m) for m in chosen] if one else [(p, chosen[0]) for p in params[:6]]
    ncol = min(2 if one else 3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig = new_figure(meta, "Sweep response", (5.6 * ncol + 1.8, 3.6 * nrow + 1.0))
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    handles: list[Any] = []
    for ax, (param, metric) in zip(axes, panels, strict=False):
        ax.set_xlabel(param_label(param))
        ax.set_ylabel(metric_label(metric))
        ax.set_title(
            f"{metric_row_label(metric_name(metric))} against {param_label(param)}", fontsize=10
        )
        ax.yaxis.set_major_formatter(DistinctFormatter(metric_formatter(metric)))
        if one:
            pts = sweep_points(runs, [param], metric)
            xs = pts[param].to_numpy()
            if not pd.api.types.is_numeric_dtype(pts[param]):
                ax.set_xticks(np.arange(len(xs)), [str(v) for v in xs])
                xs = np.arange(len(xs))
            (line,) = ax.plot(
                xs, pts["mean"].to_numpy(float), color="#1f6fb4", marker="o", label="mean over runs"
            )
            low = pts["ci_low"].to_numpy(float)
            never_negative = _never_negative(runs, metric)
            if never_negative:  # a t-interval of a quantity no run takes below 0
                low = np.maximum(low, 0.0)
            band = ax.fill_between(
                xs,
                low,
                pts["ci_high"].to_numpy(float),
                color="#1f6fb4",
                alpha=0.2,
                linewidth=0,
                label=_BAND_LABEL,
            )
            handles = handles or [line, band]
        else:
            dots = ax.scatter(
                runs[param].to_numpy(),
                runs[metric].to_numpy(float),
                s=8,
                alpha=0.5,
                color="#1f6fb4",
                label="one run",
            )
            handles = handles or [dots]
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    legend_outside(fig, handles)
    return fig


def _sweep_heatmap(
    runs: pd.DataFrame, params: Sequence[str], metrics: Sequence[str], meta: FigureMeta | None
) -> Figure:
    px, py = params[0], params[1]
    shown = list(metrics[:2])
    fig = new_figure(meta, "Sweep response on a two-parameter grid", (6.4 * len(shown) + 0.6, 5.6))
    axes = fig.subplots(1, len(shown), squeeze=False).ravel()
    for ax, metric in zip(axes, shown, strict=False):
        pts = sweep_points(runs, [px, py], metric)
        wide = pts.pivot(index=py, columns=px, values="mean").sort_index().sort_index(axis=1)
        z = wide.to_numpy(float)
        im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(np.arange(z.shape[1]), [fmt_value(v, style=TICK) for v in wide.columns])
        ax.set_yticks(np.arange(z.shape[0]), [fmt_value(v, style=TICK) for v in wide.index])
        ax.set_xlabel(param_label(px))
        ax.set_ylabel(param_label(py))
        ax.set_title(f"Mean {metric_name(metric)}", fontsize=10)
        ax.grid(False)
        fmt = metric_formatter(metric)
        finite = z[np.isfinite(z)]
        if 0 < z.size <= 100 and finite.size:
            mid = 0.5 * (float(finite.min()) + float(finite.max()))
            cells = [(i, j, float(v)) for (i, j), v in np.ndenumerate(z) if np.isfinite(v)]
            texts = distinct_labels(fmt, [v for _, _, v in cells])
            for (i, j, v), text in zip(cells, texts, strict=True):
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if v < mid else "black",
                )
        bar = fig.colorbar(im, ax=ax)
        bar.set_label(metric_label(metric))
        bar.ax.yaxis.set_major_formatter(DistinctFormatter(fmt))
    return fig
