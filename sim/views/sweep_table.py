"""The per-point table ``xpusim sweep`` ends with: what varies, the replications, and each
chosen metric's mean with the half-width of its 95% interval (from ``points.parquet``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from sim.accounting.summary import find_metric
from sim.errors import UserError
from sim.views.labels import metric_row_label, param_label
from sim.views.numbers import HEADLINE, param_unit
from sim.views.tables import Column, Tabular

__all__ = [
    "DEFAULT_SWEEP_METRICS",
    "default_metrics",
    "interval_warning",
    "points_table",
    "sobol_warning",
]

DEFAULT_SWEEP_METRICS: tuple[str, ...] = (
    "provider.tco_usd",
    "provider.margin_usd",
    "program_value.npv_usd",
)
"""The metrics the table shows without --metric, where the sweep has them: the provider's
cost and margin and the in-house program's value (a display choice, not a number of the
model; a scenario without a program has no program value)."""

#: Points shown on the terminal; csv and json hold every one.
MAX_ROWS = 40


def interval_warning(replications: int) -> str | None:
    """A warning when ``replications`` a point are too few for the intervals printed.

    >>> interval_warning(1)
    'one replication a point: no intervals (--replications 2 or more for them)'
    >>> interval_warning(2)[:60]
    'intervals from 2 replications a point are wide (the 95% t-qu'
    >>> interval_warning(5) is None
    True
    """
    from scipy import stats  # deferred: off the start-up path of every command

    if replications <= 1:
        return "one replication a point: no intervals (--replications 2 or more for them)"
    if replications < 4:
        t = float(stats.t.ppf(0.975, replications - 1))
        return (
            f"intervals from {replications} replications a point are wide (the 95% t-quantile "
            f"is {t:.1f}, against 2.0 for many); use --replications 4 or more to read them"
        )
    return None


def sobol_warning(result: dict[str, Any], n: int, *, replications: int = 1) -> str | None:
    """A warning when the Sobol' indices of ``result`` are too uncertain to rank by: an
    index lies in [0, 1], so a confidence half-width above 0.1 of that range cannot order
    parameters whose indices differ by less. The advised ``--n`` comes with
    ``--allow-large`` when its runs (``replications`` per point) pass the cap.

    >>> w = sobol_warning({"metric": "m", "sobol": {"S1_conf": [1.58, 0.2], "ST_conf": [None]}}, 2)
    >>> w[:70]
    "Sobol' indices of m from --n 2 are unreliable: their confidence half-w"
    >>> "reach 1.58" in w, "about --n 512 brings" in w, "--allow-large" in w
    (True, True, False)
    >>> sobol_warning({"metric": "m", "sobol": {"S1_conf": [0.05]}}, 512) is None
    True
    """
    from sim.experiments.design import MAX_RUNS
    from sim.experiments.sensitivity import design_points, needs_allow_large

    sobol = result.get("sobol") or {}
    widths = [
        float(w)
        for k in ("S1_conf", "ST_conf")
        for w in sobol.get(k) or []
        if isinstance(w, int | float)
    ]
    widest = max(widths, default=0.0)
    if widest <= 0.1:
        return None
    advised = _n_for(n, widest, 0.1)
    d = len(sobol.get("names") or sobol.get("S1_conf") or [])
    size = (
        f"{design_points(d, advised):,} points x {replications:,} "
        f"replication{'s' if replications != 1 else ''}"
    )
    large = needs_allow_large(d, advised, replications)
    if large is None:
        how = (
            f"; that is {size}, more than this machine's memory holds even with "
            "--allow-large: rank a sampled sweep instead (xpusim sweep SCENARIO --sample N, "
            "then xpusim sensitivity SWEEP_FOLDER)"
        )
    elif large:
        how = f"; that is {size}, over the {MAX_RUNS:,}-run cap: add --allow-large"
    else:
        how = ""
    return (
        f"Sobol' indices of {result.get('metric')} from --n {n} are unreliable: their "
        f"confidence half-widths reach {widest:.3g} (indices lie in 0 to 1); raise --n "
        f"(half-widths shrink as 1 / sqrt(N): about --n {advised} brings them to 0.1{how})"
    )


def _n_for(n: int, width: float, target: float) -> int:
    """The power of two at or above the base sample that takes a half-width ``width`` at
    ``n`` down to ``target`` (half-widths shrink as 1 / sqrt(N)).

    >>> _n_for(256, 0.223, 0.1), _n_for(2, 1.58, 0.1)
    (2048, 512)
    """
    need = n * (width / target) ** 2
    return 1 << max(0, math.ceil(math.log2(need)))


def _known_metrics(points: pd.DataFrame) -> set[str]:
    """The summary keys of the metrics a sweep's points table holds."""
    return {
        c.removeprefix("metric.").removesuffix(".mean")
        for c in points.columns
        if c.startswith("metric.") and c.endswith(".mean")
    }


def default_metrics(points: pd.DataFrame) -> list[str]:
    """The :data:`DEFAULT_SWEEP_METRICS` that the sweep's points table holds."""
    known = _known_metrics(points)
    return [key for key in DEFAULT_SWEEP_METRICS if key in known]


def points_table(
    points: pd.DataFrame, metrics: Sequence[str], *, every_row: bool = False
) -> Tabular:
    """The per-point table of a sweep's ``points.parquet`` for ``metrics`` (summary keys)."""
    known = _known_metrics(points)
    for key in metrics:
        if key not in known:
            raise UserError(
                f"the sweep has no metric {key!r}",
                key="--metric",
                hint="keys as in summary.json, e.g. " + ", ".join(sorted(known)[:4]),
            )
    params = [c for c in points.columns if c.startswith("param.")]
    columns: list[Column] = []
    for p in params:
        path = p.removeprefix("param.")
        columns.append(Column(p, param_label(path), unit=param_unit(path)))
    columns.append(Column("replications", "reps"))
    for key in metrics:
        label = metric_row_label(key)
        columns.append(Column(f"metric.{key}.mean", label, unit=_unit(key)))
        columns.append(Column(f"metric.{key}.ci95", "± 95%", unit=_unit(key), missing=""))
    try:  # points in the order of their parameters' values
        ordered = points.sort_values(params, kind="stable") if params else points
    except TypeError:  # values that do not order (mixed types) keep the file's order
        ordered = points
    rows: list[dict[str, Any]] = ordered.to_dict("records")  # type: ignore[assignment]
    shown = rows if every_row or len(rows) <= MAX_ROWS else rows[:MAX_ROWS]
    caption = "± 95%: half-width of the Student-t interval over the point's replications"
    if len(shown) < len(rows):
        caption += f"; the first {len(shown)} of {len(rows)} points (--format csv: every one)"
    return Tabular(
        title=f"Sweep: {len(rows)} points",
        columns=tuple(columns),
        rows=shown if not every_row else rows,
        name="points",
        style=HEADLINE,
        caption=caption,
    )


def _unit(key: str) -> str:
    metric = find_metric(key)
    return metric.unit if metric is not None else ""
