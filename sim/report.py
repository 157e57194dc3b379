"""A run, sweep or sensitivity folder as one self-contained HTML page and a Markdown twin.

:func:`write_report` draws the folder's figures (:func:`sim.plotting.plot_folder`) and
writes ``report.html`` (figures inline as base64 PNG, styles inline, no script and no
external address: it opens without a network) and ``report.md`` (figures referenced
relatively from ``figures/``). Both hold the same sections: the question the scenario
asks, the headline results, the figures with captions, the assumptions with their
sources, what differs from the baseline scenario, and the versions used.

The report is built as a list of blocks (headings, paragraphs, tables, figures) rendered
twice, so the two files cannot drift apart. Nothing in it depends on the time it is
written: the same folder gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.errors import UserError
from sim.plotting import (
    KINDS,
    FolderData,
    fmt_usd,
    get_dotted,
    metric_unit,
    output_folder_data,
    plot_folder,
)
from sim.safeio import visible

__all__ = ["CAPTIONS", "SECTIONS", "build_report", "render_html", "render_markdown", "write_report"]

MAX_DIFF_ROWS = 300
"""At most this many differences from the baseline are listed (the rest are counted)."""

SECTIONS: tuple[str, ...] = (
    "The question",
    "Headline results",
    "Figures",
    "Assumptions and their sources",
    "What differs from the baseline",
    "Versions",
)
"""The report's second-level sections, in order."""

TITLES: dict[str, str] = {
    "cost": "Cost curves: provider TCO and customer price per unit of work",
    "learning": "Learning curve of the in-house chips",
    "adoption": "Adoption by chip family and segment",
    "tco_breakdown": "TCO breakdown per chip",
    "program": "The in-house chip program: cost against savings",
    "queue": "Queue waits and utilisation per pool",
    "tornado": "Tornado: one-at-a-time sensitivity",
    "sobol": "Sobol sensitivity indices",
    "sweep": "Sweep response",
}

CAPTIONS: dict[str, str] = {
    "cost": (
        "Provider total cost of ownership (capital, power, facility, maintenance and NRE, "
        "split between training and serving by chip-hours) per useful PFLOP of training and "
        "per million tokens served, and what customers pay for the same work at the blended "
        "price after committed-use discounts; by chip and quarter, log scale. A chip-quarter "
        "is drawn only when that work filled at least 1% of the pool's installed chip-hours. "
        "The green band, when present, is the reference GPU's static cost between its list "
        "price and its street price."
    ),
    "learning": (
        "Wright's law for each in-house chip generation: the unit cost falls by the learning "
        "rate at each doubling of cumulative volume, pinned to the catalog unit cost at the "
        "generation's reference volume (circles). Diamonds mark the volume delivered in "
        "this run; the dotted line is the reference GPU's list price."
    ),
    "adoption": (
        "Share of chip-hours (training and serving) by chip family, month by month: all "
        "customers at the top (internal work excluded), then each segment. Lines are medians "
        "over replications; the shaded fan spans the 5th to 95th percentile when the run has "
        "several replications."
    ),
    "tco_breakdown": (
        "What each chip type cost the provider over the horizon, by component (mean over "
        "replications), in total and per busy chip-hour. NRE is charged to the generation it "
        "paid for; the program's acquisition and fixed team cost belong to no chip and are "
        "left out here (they are in the headline TCO)."
    ),
    "program": (
        "Cumulative cost of the in-house chip program (NRE, acquisition, team) against "
        "cumulative savings: what the in-house chips' work would have cost on the reference "
        "GPU at its street price, minus what the in-house chips cost to run. The program "
        "breaks even when the net line crosses zero for good (dotted vertical line)."
    ),
    "queue": (
        "Mean wait of the training jobs started each month (weighted by jobs over "
        "replications) and utilisation (busy over installed chip-hours) per pool."
    ),
    "tornado": (
        "The metric with each uncertain parameter at the low and at the high end of its "
        "declared range, the others at their base values; widest swing on top."
    ),
    "sobol": (
        "Sobol indices from SALib: S1 is the share of the metric's variance due to a "
        "parameter alone, ST includes its interactions; whiskers are confidence intervals."
    ),
    "sweep": (
        "Headline metrics against the swept parameters: the mean over the runs at each point "
        "with its 95% confidence interval, a heatmap of the means for a two-parameter grid, "
        "or one dot per run for sampled points."
    ),
}


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Heading:
    """A section title (level 1 to 3)."""

    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    """Plain text (no markup); ``note`` renders it smaller and grey."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Table:
    """A table of text cells; ``numeric`` columns are right-aligned."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    numeric: frozenset[int] = field(default_factory=frozenset)
    collapsed: str = ""
    """If given, the HTML shows the table folded under this summary line (no script)."""


@dataclass(frozen=True)
class FigureBlock:
    """A figure file with its title and caption."""

    kind: str
    path: Path
    title: str
    caption: str


Block = Heading | Paragraph | Table | FigureBlock


# --------------------------------------------------------------------------- values


def fmt_value(value: Any, unit: str = "") -> str:
    """A value for a table cell, using its unit when it names one.

    >>> fmt_value(1.5e10, "USD"), fmt_value(0.0052, "ratio"), fmt_value(1234.5678)
    ('$15B', '0.0052', '1,235')
    >>> fmt_value(0.441, "fraction of installed hours"), fmt_value(None), fmt_value([1, 2])
    ('44.1%', '-', '1, 2')
    >>> fmt_value(())
    '(none)'
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        x = float(value)
        if not math.isfinite(x):
            return "-"
        if unit.startswith("USD"):
            return fmt_usd(x)
        if unit.startswith("fraction") and "utilization" not in unit and abs(x) <= 1.5:
            return f"{x:.1%}"
        if isinstance(value, int):
            return f"{value:,}"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) if value else "(none)"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {fmt_value(v)}" for k, v in value.items())
    return str(value)


# --------------------------------------------------------------------------- sections


def _question(data: FolderData) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[0])]
    scn = data.scenario or {}
    description = scn.get("description") or data.manifest.get("description")
    if description:
        blocks.append(Paragraph(str(description)))
    header = scenario_header(data)
    if header:
        blocks.append(Paragraph("From the scenario file's header:", note=True))
        blocks.extend(Paragraph(p) for p in header)
    if len(blocks) == 1:
        blocks.append(Paragraph("The scenario has no description or header comment.", note=True))
    return blocks


def scenario_header(data: FolderData) -> list[str]:
    """Paragraphs of the leading comment of the scenario's YAML file.

    Taken from ``scenario_header`` in the manifest (recorded when the folder was written),
    else from the leading comment of the folder's own scenario.yaml. Nothing outside the
    folder is read: a path named in the manifest is never opened.
    """
    return _paragraphs(data.header_lines())


def _paragraphs(lines: Iterable[str]) -> list[str]:
    """Comment lines joined into paragraphs (blank lines separate; tool directives dropped).

    >>> _paragraphs(["yaml-language-server: $schema=x", "", "A b", "c.", "", "D."])
    ['A b c.', 'D.']
    """
    out: list[str] = []
    current: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith("yaml-language-server:"):
            continue
        if not text:
            if current:
                out.append(" ".join(current))
                current = []
            continue
        current.append(text)
    if current:
        out.append(" ".join(current))
    return out


_PROVIDER_ROWS: tuple[tuple[str, str], ...] = (
    ("provider.tco_usd", "Provider total cost of ownership over the horizon"),
    ("provider.revenue_usd", "Provider revenue from customers"),
    ("provider.margin_usd", "Provider margin (revenue - TCO)"),
    ("provider.nvidia_spend_usd", "Paid to Nvidia for GPUs"),
    ("provider.nvidia_margin_usd", "Nvidia's gross margin in that spend"),
    ("provider.nvidia_margin_avoided_usd", "Nvidia margin avoided by in-house chips"),
    ("provider.capex_cash_usd", "Chip purchases (cash)"),
    ("provider.energy_mwh", "Energy used (MWh)"),
    ("inhouse_program.nre_usd", "In-house program cost (NRE, acquisition, team)"),
    ("inhouse_program.savings_usd", "In-house program savings against the reference GPU"),
    ("inhouse_program.npv_usd", "In-house program net present value"),
    ("inhouse_program.breakeven_date", "In-house program break-even month"),
    ("customers.spend_usd", "Customer spend on chip-hours"),
    ("customers.porting_spend_usd", "Customer spend on porting work"),
    ("customers.ports_started", "Ports started (mean over replications)"),
    ("customers.ports_failed", "Ports failed (mean over replications)"),
)


def _headline_run(summary: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    rows = []
    for key, label in _PROVIDER_ROWS:
        value = get_dotted(summary, key)
        if key == "inhouse_program.breakeven_date" and value is None:
            if get_dotted(summary, "inhouse_program.nre_usd"):
                rows.append([label, "not within the horizon", key])
            continue
        if value is None:
            continue
        rows.append([label, fmt_value(value, metric_unit(key)), key])
    if rows:
        horizon = summary.get("horizon") or {}
        caption = "Provider, in-house program and customers (means over replications"
        if isinstance(horizon, Mapping) and horizon.get("start"):
            caption += f"; horizon {horizon.get('start')} to {horizon.get('end')}"
        caption += ")"
        blocks.append(Table(["Result", "Value", "summary.json key"], rows, caption, frozenset({1})))

    usage = summary.get("usage_ratio_vs_gpu")
    if isinstance(usage, Mapping) and usage:
        years = sorted({str(y) for v in usage.values() if isinstance(v, Mapping) for y in v})
        urows = [
            [str(fam)] + [fmt_value(get_dotted(v, y), "ratio") for y in years]
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
                fmt_value(get_dotted(q, "jobs")),
                fmt_value(get_dotted(q, "mean_wait_hours")),
                fmt_value(get_dotted(q, "p95_wait_hours")),
                fmt_value(get_dotted(q, "utilization"), "fraction"),
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


def _headline_sweep(runs: pd.DataFrame) -> list[Block]:
    metrics = [
        str(c)
        for c in runs.columns
        if str(c).startswith("metric.") and pd.api.types.is_numeric_dtype(runs[c])
    ]
    params = [str(c) for c in runs.columns if str(c).startswith("param.")]
    rows = []
    for m in metrics:
        v = runs[m].dropna()
        if v.empty:
            continue
        unit = metric_unit(m)
        rows.append(
            [
                m.removeprefix("metric."),
                fmt_value(float(v.mean()), unit),
                fmt_value(float(v.quantile(0.05)), unit),
                fmt_value(float(v.quantile(0.95)), unit),
                f"{len(v):,}",
            ]
        )
    blocks: list[Block] = []
    if params:
        blocks.append(
            Paragraph(
                f"{len(runs):,} runs over the parameters "
                + ", ".join(p.removeprefix("param.") for p in params)
                + "."
            )
        )
    if rows:
        blocks.append(
            Table(
                ["Metric", "Mean", "5th percentile", "95th percentile", "Runs"],
                rows,
                "Over all runs of the sweep",
                frozenset({1, 2, 3, 4}),
            )
        )
    return blocks


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

    def swing(r: Mapping[str, Any]) -> float:
        try:
            return abs(float(r.get("metric_high", 0.0)) - float(r.get("metric_low", 0.0)))
        except (TypeError, ValueError):
            return 0.0

    if tornado:
        rows = [
            [
                str(r.get("parameter", "?")).removeprefix("param."),
                f"{fmt_value(r.get('low_value'))} to {fmt_value(r.get('high_value'))}",
                fmt_value(r.get("metric_low"), unit),
                fmt_value(r.get("metric_high"), unit),
                fmt_value(swing(r), unit),
            ]
            for r in sorted(tornado, key=swing, reverse=True)
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
        from sim.plotting import sobol_table

        table = sobol_table(sobol).iloc[::-1]
        rows = [
            [
                str(name).removeprefix("param."),
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
    order = sorted(
        range(len(names)),
        key=lambda j: -(s1[j] if isinstance(s1[j], int | float) else -math.inf),
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
            "First-order indices (RBD-FAST), largest first",
            frozenset({1, 2, 3, 4}),
        ),
    ]


def _headline(data: FolderData) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[1])]
    if data.is_run and data.summary:
        blocks.extend(_headline_run(data.summary))
    runs = data.table("runs") if data.is_sweep else None
    if runs is not None:
        blocks.extend(_headline_sweep(runs))
    for sens in data.sensitivities:
        blocks.extend(_headline_sensitivity(sens))
    if len(data.sensitivities) > 1:
        blocks.append(
            Paragraph(
                f"The tornado and Sobol figures show the first metric, {data.metric}.", note=True
            )
        )
    if len(blocks) == 1:
        blocks.append(Paragraph("The folder holds no headline results.", note=True))
    return blocks


def _figures(data: FolderData, files: Sequence[Path]) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[2])]
    pngs = {p.stem: p for p in files if p.suffix == ".png"}
    for kind in KINDS:
        if kind in pngs:
            blocks.append(FigureBlock(kind, pngs[kind], TITLES[kind], CAPTIONS[kind]))
    if len(blocks) == 1:
        blocks.append(Paragraph("No figure fits this folder.", note=True))
    else:
        blocks.append(
            Paragraph(
                "Each figure is also in figures/ as PNG (and SVG after `xpusim plot`).", note=True
            )
        )
    return blocks


def _assumptions(data: FolderData) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[3])]
    prov = data.manifest.get("provenance")
    scn = data.scenario or {}
    if not isinstance(prov, Mapping) or not prov:
        prov = scn.get("sources") if isinstance(scn.get("sources"), Mapping) else {}
    assert isinstance(prov, Mapping)
    if not prov:
        blocks.append(
            Paragraph(
                "The manifest records no provenance for this folder's figures; see "
                "`xpusim catalog` for the catalog's sources.",
                note=True,
            )
        )
        return blocks
    own: list[list[str]] = []
    catalog: list[list[str]] = []
    for key in sorted(prov, key=str):
        p = prov[key]
        if not isinstance(p, Mapping):
            continue
        value = get_dotted(scn, str(key))
        where = ""
        if p.get("file"):
            where = Path(str(p["file"])).name + (f":{p['line']}" if p.get("line") else "")
        row = [
            str(key),
            fmt_with_unit(value, str(p.get("unit") or "")),
            str(p.get("source") or "-"),
            str(p.get("kind") or "-"),
            str(p.get("date") or "-"),
            str(p.get("note") or ""),
            where,
        ]
        (catalog if str(key).startswith("catalog.") else own).append(row)
    headers = ["Key", "Value", "Source", "Kind", "Date", "Note", "Defined in"]
    blocks.append(
        Paragraph(
            f"Every resolved value that carries a source ({len(own) + len(catalog)} in all): "
            "the scenario's own figures, then the catalog's chips and software stacks. Kind "
            "says whether a figure is measured, derived, calibrated or assumed."
        )
    )
    if own:
        blocks.append(Table(headers, own, "Scenario figures", frozenset({1})))
    if catalog:
        blocks.append(
            Table(
                headers,
                catalog,
                "Catalog figures (chips and software stacks)",
                frozenset({1}),
                collapsed=f"Catalog figures: {len(catalog)} values with sources (open to read)",
            )
        )
    return blocks


_UNITS: dict[str, str] = {
    "usd": "USD",
    "w": "W",
    "kw": "kW",
    "gb": "GB",
    "tb_per_s": "TB/s",
    "tflops": "TFLOP/s",
    "tokens_per_s": "tokens/s",
    "ms": "ms",
    "fraction": "",
    "engineer_months": "engineer-months",
    "usd_per_chip_hour": "USD per chip-hour",
    "usd_per_kwh": "USD per kWh",
    "usd_per_kw_year": "USD per kW-year",
    "usd_per_month": "USD per month",
    "usd_per_year": "USD per year",
}


def fmt_with_unit(value: Any, unit: str) -> str:
    """A catalogued value with its unit in words.

    >>> fmt_with_unit(9000, "usd"), fmt_with_unit(1.555, "tb_per_s")
    ('$9,000', '1.555 TB/s')
    >>> fmt_with_unit(0.45, "fraction")
    '0.45'
    >>> fmt_with_unit(0.08, "usd_per_kwh"), fmt_with_unit(3, "lead_time_weeks")
    ('0.08 USD per kWh', '3 lead time weeks')
    """
    if value is None:
        return "-"
    if unit == "usd" and isinstance(value, int | float) and not isinstance(value, bool):
        return fmt_usd(float(value))
    words = _UNITS.get(unit, unit.replace("_per_", " per ").replace("_", " "))
    text = fmt_value(value)
    return f"{text} {words}" if words else text


def _find_baseline() -> Path | None:
    """The project's baseline scenario: scenarios/baseline.yaml here or next to the package.

    Never a path named in the folder's manifest (a report reads nothing a folder points to).
    """
    candidates = [
        Path("scenarios") / "baseline.yaml",
        Path(__file__).resolve().parent.parent / "scenarios" / "baseline.yaml",
    ]
    return next((c for c in candidates if c.is_file()), None)


def baseline_differences(data: FolderData) -> tuple[list[tuple[str, Any, Any]] | None, str]:
    """Resolved values that differ from scenarios/baseline.yaml, or None and why not."""
    scn = data.scenario
    if scn is None:
        return None, "The manifest holds no resolved scenario, so there is nothing to compare."
    try:
        from sim.model.schema import Scenario
        from sim.scenario import diff_scenarios, load_scenario
    except ImportError as exc:
        return None, f"Skipped: the scenario loader is not available ({exc})."
    path = _find_baseline()
    if path is None:
        return None, "Skipped: scenarios/baseline.yaml was not found."
    try:
        base = load_scenario(path)
        mine = Scenario.model_validate(scn, strict=False)
    except (UserError, ValueError) as exc:
        return None, f"Skipped: a scenario could not be read ({' '.join(str(exc).split())})."
    return diff_scenarios(mine, base.scenario), f"Compared with {path}."


def _baseline(data: FolderData) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[4])]
    diffs, note = baseline_differences(data)
    if diffs is None:
        blocks.append(Paragraph(note, note=True))
        return blocks
    if not diffs:
        blocks.append(Paragraph(f"Nothing: every resolved value equals the baseline's. {note}"))
        return blocks
    blocks.append(
        Paragraph(f"{len(diffs)} resolved values differ from the baseline scenario. {note}")
    )
    rows = [[k, fmt_value(a), fmt_value(b)] for k, a, b in diffs[:MAX_DIFF_ROWS]]
    blocks.append(Table(["Key", "This scenario", "Baseline"], rows, "", frozenset({1, 2})))
    if len(diffs) > MAX_DIFF_ROWS:
        blocks.append(
            Paragraph(
                f"... and {len(diffs) - MAX_DIFF_ROWS} more (`xpusim diff` lists them all).",
                note=True,
            )
        )
    return blocks


def _versions(data: FolderData) -> list[Block]:
    m = data.manifest
    rows: list[list[str]] = []
    for key, label in (
        ("xpusim_version", "xpusim (run)"),
        ("git_commit", "git commit"),
        ("python_version", "Python"),
        ("python_implementation", "Python implementation"),
        ("platform", "platform"),
        ("scenario_sha256", "resolved scenario sha256"),
        ("seed", "root seed"),
        ("run_hash", "run hash"),
        ("started_utc", "run started (UTC)"),
        ("finished_utc", "run finished (UTC)"),
    ):
        if m.get(key) is not None:
            rows.append([label, str(m[key])])
    packages = m.get("packages")
    if isinstance(packages, Mapping):
        rows.extend([str(k), str(v) if v else "not installed"] for k, v in sorted(packages.items()))
    import matplotlib

    rows.append(["matplotlib (figures)", matplotlib.__version__])
    rows.append(["xpusim (report)", __version__])
    return [Heading(2, SECTIONS[5]), Table(["Component", "Version"], rows, "From manifest.json")]


def build_report(data: FolderData, figures: Sequence[Path]) -> list[Block]:
    """The report's blocks, in order."""
    name = data.meta.scenario
    blocks: list[Block] = [
        Heading(1, f"xpusim report: {name}"),
        Paragraph(
            f"{data.describe().capitalize()} {data.folder.name}; scenario {name}"
            + (f", seed {data.meta.seed}" if data.meta.seed is not None else "")
            + f", xpusim {data.meta.version}. Sources: see manifest.json and `xpusim catalog`.",
            note=True,
        ),
    ]
    blocks += _question(data)
    blocks += _headline(data)
    blocks += _figures(data, figures)
    blocks += _assumptions(data)
    blocks += _baseline(data)
    blocks += _versions(data)
    return blocks


# --------------------------------------------------------------------------- rendering

CSS = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222;
  max-width: 1180px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.8em; border-bottom: 3px solid #4e9a06; padding-bottom: .2em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .15em; }
h3 { font-size: 1.1em; margin-top: 1.6em; }
p.note { color: #666; font-size: .9em; }
table { border-collapse: collapse; margin: .3em 0 1.4em; font-size: .88em; }
p.tcap { font-weight: bold; color: #333; margin: 1.2em 0 .3em; font-size: .92em; }
details summary { cursor: pointer; color: #1f4f7a; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; vertical-align: top; text-align: left; }
th { background: #f2f4f0; }
tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.wide td { max-width: 26em; overflow-wrap: break-word; }
table.wide td:first-child { min-width: 14em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
figcaption { color: #444; font-size: .92em; max-width: 60em; }
nav ol { columns: 2; }
"""


def _h(text: str) -> str:
    """Text for HTML: control characters made visible, then every markup character escaped."""
    return html.escape(visible(text), quote=True)


def _html_table(t: Table) -> str:
    wide = len(t.headers) > 4
    out = [f"<details><summary>{_h(t.collapsed)}</summary>"] if t.collapsed else []
    if t.caption:
        out.append(f'<p class="tcap">{_h(t.caption)}</p>')
    out.append('<table class="wide">' if wide else "<table>")
    out.append("<thead><tr>" + "".join(f"<th>{_h(h)}</th>" for h in t.headers))
    out.append("</tr></thead><tbody>")
    for row in t.rows:
        cells = "".join(
            f'<td class="num">{_h(c)}</td>' if i in t.numeric else f"<td>{_cell(c, i)}</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    if t.collapsed:
        out.append("</details>")
    return "\n".join(out)


def _cell(text: str, column: int) -> str:
    """Escaped cell text; first-column key paths may break after dots and underscores."""
    escaped = _h(text)
    if column == 0 and " " not in text:
        return escaped.replace(".", ".<wbr>").replace("_", "_<wbr>")
    return escaped


def _anchor(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def render_html(blocks: Sequence[Block]) -> str:
    """The blocks as one self-contained HTML page (figures inline as base64 PNG)."""
    title = next((b.text for b in blocks if isinstance(b, Heading) and b.level == 1), "report")
    body: list[str] = []
    toc = [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f'<h{b.level} id="{_anchor(b.text)}">{_h(b.text)}</h{b.level}>')
            if b.level == 1 and toc:
                items = "".join(f'<li><a href="#{_anchor(t)}">{_h(t)}</a></li>' for t in toc)
                body.append(f"<nav><ol>{items}</ol></nav>")
        elif isinstance(b, Paragraph):
            cls = ' class="note"' if b.note else ""
            body.append(f"<p{cls}>{_h(b.text)}</p>")
        elif isinstance(b, Table):
            body.append(_html_table(b))
        else:
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            body.append(
                f'<figure id="figure-{b.kind}"><h3>{_h(b.title)}</h3>'
                f'<img src="data:image/png;base64,{data}" alt="{_h(b.title)}">'
                f"<figcaption>{_h(b.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


_MD_ESCAPE = re.compile(r"[\\`*\[\]<>|~#$]")
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ENTITY = re.compile(r"&(?=#|[0-9A-Za-z]+;)")
# a list item or a thematic break at the start of a line (``*`` and ``_`` are escaped anyway)
_MD_BLOCK = re.compile(r"^(?:[-+](?=[\s+-]|$)|[0-9]{1,9}(?=[.)](?:\s|$)))")


def md_text(text: str, *, line_start: bool = True) -> str:
    r"""``text`` as one line of Markdown that renders as itself: never a heading, list,
    quote, code, link, image, emphasis, table cell break or HTML.

    Whitespace (line breaks too) collapses to single spaces, control characters become
    visible escapes, and every character that could start markup is backslash-escaped;
    with ``line_start`` (a paragraph or a heading, not a table cell) also a leading list
    or thematic-break marker.

    >>> print(md_text("<script>x</script> [a](javascript:b) ![i](x.png)"))
    \<script\>x\</script\> \[a\](javascript:b) !\[i\](x.png)
    >>> print(md_text("ok\n# heading | `code` *em* _em_ usage_ratio 1. &amp; $5"))
    ok \# heading \| \`code\` \*em\* \_em\_ usage_ratio 1. \&amp; \$5
    >>> print(md_text("- item"), md_text("2024. year"), md_text("---"), md_text("3.11 -5%"))
    \- item 2024\. year \--- 3.11 -5%
    """
    line = " ".join(visible(text).split())
    line = _MD_ESCAPE.sub(lambda m: "\\" + m.group(0), line)
    line = _MD_UNDERSCORE.sub(r"\\_", line)
    line = _MD_ENTITY.sub(r"\\&", line)
    match = _MD_BLOCK.match(line) if line_start else None
    if match:
        end = match.end()
        if match.group(0)[0].isdigit():
            return line[:end] + "\\" + line[end:]
        return "\\" + line
    return line


def _md_lines(blocks: Sequence[Block], folder: Path) -> Iterator[str]:
    for b in blocks:
        if isinstance(b, Heading):
            yield "#" * b.level + " " + md_text(b.text)
        elif isinstance(b, Paragraph):
            yield f"_{md_text(b.text)}_" if b.note else md_text(b.text)
        elif isinstance(b, Table):
            yield "| " + " | ".join(md_text(h, line_start=False) for h in b.headers) + " |"
            yield (
                "|"
                + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.headers)))
                + "|"
            )
            for row in b.rows:
                yield "| " + " | ".join(md_text(c, line_start=False) for c in row) + " |"
            if b.caption:
                yield ""
                yield f"_{md_text(b.caption)}_"
        else:
            rel = b.path.relative_to(folder) if b.path.is_relative_to(folder) else b.path
            yield f"### {md_text(b.title)}"
            yield ""
            yield f"![{md_text(b.title)}]({rel.as_posix()})"
            yield ""
            yield md_text(b.caption)
        yield ""


def render_markdown(blocks: Sequence[Block], folder: Path) -> str:
    """The blocks as Markdown, figures referenced relative to ``folder``."""
    return "\n".join(_md_lines(blocks, folder)).rstrip("\n") + "\n"


def write_report(folder: Path | str) -> tuple[Path, Path]:
    """Draw the folder's figures and write ``report.html`` and ``report.md`` into it.

    Reads only the folder's own files; writes each file atomically and never through a
    symbolic link (a linked folder, figures folder or report file is a UserError).
    """
    from sim.safeio import check_not_link, write_text

    data = output_folder_data(folder)
    html_path = data.folder / "report.html"
    md_path = data.folder / "report.md"
    for path in (html_path, md_path):
        check_not_link(path)  # before drawing anything
    figures = plot_folder(data.folder, formats=("png",))
    blocks = build_report(data, figures)
    try:
        write_text(html_path, render_html(blocks))
        write_text(md_path, render_markdown(blocks, data.folder))
    except OSError as exc:
        raise UserError(
            f"cannot write the report into {data.folder}: {exc.strerror or exc}"
        ) from exc
    return html_path, md_path
