"""The headline results of a report: a run's summary, a sweep's spread, a sensitivity ranking.

Each metric of a run is labelled by the run summary's own declaration (its label and unit:
:mod:`sim.accounting.summary`), never by a label typed again here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from sim.experiments.sensitivity import sample_order, swing, swing_order
from sim.results.folders import Folder
from sim.scenario.paths import value_at
from sim.views.headline import headline_rows
from sim.views.labels import metric_name, metric_row_label, metric_unit, param_label
from sim.views.numbers import fmt_value, param_unit
from sim.views.report.blocks import Block, Paragraph, Table
from sim.views.sensitivity import sobol_table
from sim.views.sweep_table import default_metrics

__all__ = ["headline"]

#: Points the report's per-point table of a sweep shows (points.parquet holds them all).
MAX_POINT_ROWS = 40

#: What a missing program-value figure means (the run has a program value).
_NONE_MEANS: dict[str, str] = {
    "program_value.irr_per_year": "none (see irr_note in summary.json)",
    "program_value.payback_years": "not within the horizon",
    "program_value.breakeven_date": "not within the horizon in every replication",
}


def _headline_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """[label, value (+- its 95% half-width), key] of each metric of the run headline
    (:mod:`sim.views.headline`, the same as ``xpusim run`` prints) but the usage ratios,
    which the report tabulates by year below."""
    rows = []
    has_value = value_at(summary, "program_value.npv_usd") is not None
    for r in headline_rows(summary):
        if r.group == "adoption":
            continue
        if r.value is None:
            if r.key in _NONE_MEANS and has_value:
                rows.append([r.label, _NONE_MEANS[r.key], r.key])
            continue
        shown = fmt_value(r.value, r.unit)
        if r.half_width is not None:
            shown += f" +- {fmt_value(float(r.half_width), r.unit)}"
        rows.append([r.label, shown, r.key])
    return rows


def _headline_run(summary: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    rows = _headline_rows(summary)
    if rows:
        horizon = summary.get("horizon") or {}
        caption = (
            "Provider, in-house program and customers (means over replications, +- the "
            "half-width of the 95% interval; the program's value is paired: with minus "
            "without its in-house chips, on the same seeds"
        )
        if isinstance(horizon, Mapping) and horizon.get("start"):
            caption += f"; horizon {horizon.get('start')} to {horizon.get('end')}"
        caption += ")"
        blocks.append(Table(["Result", "Value", "summary.json key"], rows, caption, frozenset({1})))

    usage = summary.get("usage_ratio_vs_gpu")
    if isinstance(usage, Mapping) and usage:
        years = sorted({str(y) for v in usage.values() if isinstance(v, Mapping) for y in v})
        urows = [
            [str(fam)] + [fmt_value(value_at(v, y), "ratio") for y in years]
            for fam, v in sorted(usage.items())
            if isinstance(v, Mapping)
        ]
        blocks.append(
            Table(
                ["Family", *years],
                urows,
                "Customer chip-hours of each family per Nvidia GPU chip-hour, by year",
                frozenset(range(1, len(years) + 1)),
            )
        )

    pflop = summary.get("cost_per_pflop_usd")
    mtok = summary.get("cost_per_mtok_usd")
    if isinstance(pflop, Mapping) or isinstance(mtok, Mapping):
        pf = pflop if isinstance(pflop, Mapping) else {}
        mt = mtok if isinstance(mtok, Mapping) else {}
        chips = sorted(set(pf) | set(mt))
        crows = [[c, fmt_value(pf.get(c), "USD"), fmt_value(mt.get(c), "USD")] for c in chips]
        blocks.append(
            Table(
                ["Chip", "USD per PFLOP (training)", "USD per million tokens"],
                crows,
                "Provider running cost (capital, power, facility, maintenance) per unit of "
                "useful work over the horizon; '-' where the chip did none of that work",
                frozenset({1, 2}),
            )
        )

    queue = summary.get("queue")
    if isinstance(queue, Mapping) and queue:
        qrows = [
            [
                str(pool),
                fmt_value(value_at(q, "jobs")),
                fmt_value(value_at(q, "mean_wait_hours")),
                fmt_value(value_at(q, "p95_wait_hours")),
                fmt_value(value_at(q, "utilization"), "fraction"),
            ]
            for pool, q in sorted(queue.items())
        ]
        blocks.append(
            Table(
                ["Pool", "Training jobs", "Mean wait (h)", "95th pct wait (h)", "Utilisation"],
                qrows,
                "Training queues after the warm-up, means over replications",
                frozenset({1, 2, 3, 4}),
            )
        )
    return blocks


def _design(runs: pd.DataFrame, params: list[str]) -> list[Block]:
    """What the sweep varies: each parameter's values, the points and replications."""
    reps = runs.groupby(params, dropna=False).size() if params else pd.Series([len(runs)])
    rows = []
    for p in params:
        values: list[Any] = list(runs[p].dropna().unique())
        with contextlib.suppress(TypeError):  # values of mixed types keep the file's order
            values = sorted(values)
        shown = ", ".join(fmt_value(v) for v in values[:8])
        if len(values) > 8:
            shown = f"{len(values):,} values from {fmt_value(values[0])} to {fmt_value(values[-1])}"
        rows.append([param_label(p), shown])
    blocks: list[Block] = [
        Paragraph(
            f"The sweep varies {len(params)} parameter{'s' if len(params) != 1 else ''} over "
            f"{len(reps):,} points, {int(reps.min())}"
            + (f" to {int(reps.max())}" if reps.max() != reps.min() else "")
            + f" replications a point ({len(runs):,} runs); everything else is the scenario "
            "recorded in the manifest."
        )
    ]
    if rows:
        blocks.append(Table(["Parameter", "Values"], rows, "The design", frozenset()))
    return blocks


def _points_rows(points: pd.DataFrame, keys: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-point table: parameters, replications, each metric's mean
    +- the half-width of its 95% interval over the point's replications."""
    params = [str(c) for c in points.columns if str(c).startswith("param.")]
    try:
        ordered = points.sort_values(params, kind="stable") if params else points
    except TypeError:
        ordered = points
    header = [param_label(p) for p in params] + ["Replications"]
    header += [metric_row_label(k) for k in keys]
    rows = []
    for _, r in ordered.iterrows():
        row = [fmt_value(r[p]) for p in params] + [fmt_value(r.get("replications"))]
        for k in keys:
            unit = metric_unit(k)
            shown = fmt_value(r.get(f"metric.{k}.mean"), unit)
            half = r.get(f"metric.{k}.ci95")
            if isinstance(half, int | float) and math.isfinite(half):
                shown += f" +- {fmt_value(float(half), unit)}"
            row.append(shown)
        rows.append(row)
    return header, rows


def _headline_sweep(runs: pd.DataFrame, points: pd.DataFrame | None) -> list[Block]:
    params = [str(c) for c in runs.columns if str(c).startswith("param.")]
    blocks: list[Block] = _design(runs, params)
    if points is not None and len(points):
        keys = default_metrics(points)
        if keys:
            header, rows = _points_rows(points, keys[:3])
            shown = rows[:MAX_POINT_ROWS]
            caption = "Per point: means +- the half-width of the 95% interval over its replications"
            if len(shown) < len(rows):
                caption += (
                    f" (the first {len(shown)} of {len(rows)} points; points.parquet has all)"
                )
            blocks.append(Table(header, shown, caption, frozenset(range(len(params), len(header)))))
    metrics = [
        str(c)
        for c in runs.columns
        if str(c).startswith("metric.")
        and pd.api.types.is_numeric_dtype(runs[c])
        and not pd.api.types.is_bool_dtype(runs[c])
    ]
    rows = []
    for m in metrics:
        v = runs[m].dropna().astype(float)
        if v.empty:
            continue
        unit = metric_unit(m)
        rows.append(
            [
                metric_row_label(metric_name(m)),
                fmt_value(float(v.mean()), unit),
                fmt_value(float(v.quantile(0.05)), unit),
                fmt_value(float(v.quantile(0.95)), unit),
                f"{len(v):,}",
            ]
        )
    if rows:
        blocks.append(
            Table(
                ["Metric", "Mean", "5th percentile", "95th percentile", "Runs"],
                rows,
                "Spread over every run of the design, all points pooled (not an interval)",
                frozenset({1, 2, 3, 4}),
            )
        )
    return blocks


def _param_range(row: Mapping[str, Any]) -> str:
    """A tornado row's parameter range, its values in the parameter's unit."""
    unit = param_unit(str(row.get("parameter", "")))
    return f"{fmt_value(row.get('low_value'), unit)} to {fmt_value(row.get('high_value'), unit)}"


def _headline_sensitivity(sens: Mapping[str, Any]) -> list[Block]:
    metric = str(sens.get("metric") or "metric")
    unit = metric_unit(metric)
    base = sens.get("base")
    blocks: list[Block] = [
        Paragraph(
            f"Metric analysed: {metric}"
            + (f" (base value {fmt_value(base, unit)})." if base is not None else ".")
        )
    ]
    tornado = [r for r in sens.get("tornado") or [] if isinstance(r, Mapping)]

    if tornado:
        rows = [
            [
                param_label(str(r.get("parameter", "?"))),
                _param_range(r),
                fmt_value(r.get("metric_low"), unit),
                fmt_value(r.get("metric_high"), unit),
                fmt_value(swing(r), unit),
            ]
            for r in sorted(tornado, key=swing_order)
        ]
        blocks.append(
            Table(
                ["Parameter", "Range", "Metric at low", "Metric at high", "Swing"],
                rows,
                "One at a time, widest swing first",
                frozenset({2, 3, 4}),
            )
        )
    sobol = sens.get("sobol")
    if isinstance(sobol, Mapping) and sobol.get("method") == "rbd-fast":
        blocks.extend(_headline_ranked_sweep(sens, sobol))
    elif isinstance(sobol, Mapping):
        table = sobol_table(sobol).iloc[::-1]
        rows = [
            [
                param_label(str(name)),
                fmt_value(r["S1"]),
                fmt_value(r["S1_conf"]),
                fmt_value(r["ST"]),
                fmt_value(r["ST_conf"]),
            ]
            for name, r in table.iterrows()
        ]
        if rows:
            blocks.append(
                Table(
                    ["Parameter", "S1", "S1 conf.", "ST", "ST conf."],
                    rows,
                    "Sobol indices, largest total effect first",
                    frozenset({1, 2, 3, 4}),
                )
            )
    return blocks


def _headline_ranked_sweep(sens: Mapping[str, Any], sobol: Mapping[str, Any]) -> list[Block]:
    """First-order indices and rank correlations of a ranked sampled sweep."""
    names = [str(n) for n in sobol.get("names") or []]
    raw = sens.get("spearman")
    spearman: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}

    def column(source: Mapping[str, Any], key: str) -> list[Any]:
        values = source.get(key)
        return list(values) if isinstance(values, list) else [None] * len(names)

    s1, conf = column(sobol, "S1"), column(sobol, "S1_conf")
    rho, pval = column(spearman, "rho"), column(spearman, "p")
    by, order = sample_order(
        [v if isinstance(v, int | float) else None for v in s1],
        [v if isinstance(v, int | float) else None for v in rho],
    )
    rows = [
        [names[j], fmt_value(s1[j]), fmt_value(conf[j]), fmt_value(rho[j]), fmt_value(pval[j])]
        for j in order
    ]
    return [
        Paragraph(
            f"Ranked from a finished sampled sweep ({sens.get('points', '?')} points), with no "
            "further runs: S1 is RBD-FAST's estimate of the share of the metric's variance due "
            "to the parameter alone (no total-effect indices: those need Saltelli's design); "
            "Spearman's rho says which way the metric moves."
        ),
        Table(
            ["Parameter", "S1", "S1 conf.", "Spearman rho", "p-value"],
            rows,
            f"First-order indices (RBD-FAST), ranked by {by}, the largest first"
            if by is not None
            else "First-order indices (RBD-FAST): none computed (the metric does not vary)",
            frozenset({1, 2, 3, 4}),
        ),
    ]


def headline(data: Folder) -> list[Block]:
    """The headline results of whatever the folder holds (a run, a sweep, sensitivities)."""
    blocks: list[Block] = []
    if data.is_run and data.summary:
        blocks.extend(_headline_run(data.summary))
    runs = data.table("runs") if data.is_sweep else None
    if runs is not None:
        blocks.extend(_headline_sweep(runs, data.table("points")))
    for sens in data.sensitivities:
        blocks.extend(_headline_sensitivity(sens))
    if len(data.sensitivities) > 1:
        blocks.append(
            Paragraph(
                f"The tornado and Sobol figures below show the first metric, {data.metric}; "
                "`xpusim plot` draws each metric's into figures/tornado-METRIC and "
                "figures/sobol-METRIC.",
                note=True,
            )
        )
    if not blocks:
        blocks.append(Paragraph("The folder holds no headline results.", note=True))
    return blocks
