"""The sections of a report: the question, the headline, the figures, the assumptions with
their sources, what differs from a baseline scenario and the versions used.

The comparison baseline is explicit: ``xpusim report DIR --baseline FILE`` names the
scenario file to compare with; without one the section says how to ask for it. Nothing is
looked for next to the package or named by the folder's manifest: a report reads only its
folder's own files and the baseline it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

from sim import __version__
from sim.errors import UserError
from sim.results.folders import Folder, read_output
from sim.scenario import diff_scenarios, load_scenario
from sim.scenario.paths import value_at
from sim.views.figures import KINDS, figure_meta
from sim.views.numbers import fmt_value, fmt_with_unit, param_unit
from sim.views.report.blocks import Block, FigureBlock, Heading, Paragraph, Table
from sim.views.report.headline import headline

__all__ = [
    "CAPTIONS",
    "MAX_DIFF_ROWS",
    "NO_BASELINE",
    "SECTIONS",
    "TITLES",
    "baseline_differences",
    "build_report",
    "scenario_header",
]

MAX_DIFF_ROWS = 300
"""At most this many differences from the baseline are listed (the rest are counted)."""

SECTIONS: tuple[str, ...] = (
    "The question",
    "Headline results",
    "Figures",
    "Why customers chose",
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
    "program": "The in-house chip program against the world without it",
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
        "generation's reference volume (circles). Volumes are the program's: diamonds mark "
        "the volume delivered in this run divided by the share of the provider's business "
        "the scenario models; the dotted line is the reference GPU's list price."
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
        "left out here (they are in the headline TCO). Program costs are charged at the "
        "share of the provider's business the scenario models."
    ),
    "program": (
        "The program's value is the provider's profit (revenue minus TCO) with its in-house "
        "chips minus its profit in the same world without them: the same customers, demand "
        "and random numbers, the in-house pools and the program's costs removed, customers "
        "choosing among the remaining chips and procurement buying GPUs for their demand. "
        "Top: the NPV at the horizon start item by item (means over the paired "
        "replications with 95% intervals): revenue from price (the in-house chips' work "
        "sold at their price per unit of work rather than the GPUs') and from volume (work "
        "sold or lost), GPU capital avoided (hatched: the Nvidia gross margin within it), "
        "in-house capital, the program's NRE and fixed costs, and power, facility and "
        "maintenance differences; they sum to the NPV. Capital is the TCO's annuity charge "
        "at the discount rate. Costs spent before the horizon (the acquisition, earlier "
        "NRE) are sunk: left out unless the scenario includes them. Bottom: the cumulative "
        "incremental profit from the horizon start to each year's end, one thin line per "
        "replication, the mean with its 95% interval band, the cumulative present value "
        "dashed and, dotted, the mean payback of the replications that pay back."
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


def _question(data: Folder) -> list[Block]:
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


def scenario_header(data: Folder) -> list[str]:
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


def _figures(data: Folder, files: Sequence[Path]) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[2])]
    pngs = {p.stem: p for p in files if p.suffix == ".png"}
    for kind in KINDS:
        if kind in pngs:
            png = read_output(data.folder, pngs[kind])
            blocks.append(FigureBlock(kind, pngs[kind], TITLES[kind], CAPTIONS[kind], png))
    if len(blocks) == 1:
        blocks.append(Paragraph("No figure fits this folder.", note=True))
    else:
        blocks.append(
            Paragraph(
                "Each figure is also in figures/ as PNG (and SVG after `xpusim plot`).", note=True
            )
        )
    return blocks


#: The year the report explains when the run has customer reviews in it (the calibration
#: year of the baseline [bi-2024-05]); otherwise the run's first year with reviews.
EXPLAIN_YEAR = 2023


def _share_text(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, float) and value == value else ""


def _choices(data: Folder) -> list[Block]:
    """Why customers chose: the utility gap of each segment's in-house option against CUDA,
    split into its terms (as ``xpusim explain``)."""
    from sim.accounting.choices import EXPLAIN_TERMS, decompose

    blocks: list[Block] = [Heading(2, SECTIONS[3])]
    choices = data.table("choices") if data.is_run else None
    if choices is None or choices.empty:
        blocks.append(Paragraph("This folder holds no customer reviews.", note=True))
        return blocks
    years = sorted({int(str(d)[:4]) for d in choices["date"].unique()})
    year = EXPLAIN_YEAR if EXPLAIN_YEAR in years else years[0]
    rows = decompose(choices, year)
    if rows.empty:
        blocks.append(Paragraph(f"No segment weighed an in-house option in {year}.", note=True))
        return blocks
    terms = list(EXPLAIN_TERMS)
    body = []
    for _, r in rows.iterrows():
        gap = "" if r["gated"] else f"{r['gap']:+.2f}"
        shares = (
            [f"gated: {r['gated']}"] + [""] * (len(terms) - 1)
            if r["gated"]
            else [_share_text(r[f"share_{t}"]) for t in terms]
        )
        body.append([str(r["segment"]), str(r["workload"]), str(r["family"]), gap, *shares])
    blocks.append(
        Paragraph(
            f"In {year}, each segment's utility gap between the best option of each in-house "
            "family and its "
            "best CUDA option (logit units; negative keeps customers on CUDA) and each term's "
            "share of it: price per useful unit, software-efficiency penalty, porting cost, "
            "risk of a failed or late port, switching hurdle, residual constants, imitation "
            "(Bass). The command xpusim explain prints the terms themselves."
        )
    )
    blocks.append(
        Table(
            ["segment", "workload", "in-house family", "gap", *terms],
            body,
            f"Decomposition of the {year} choices (choices.parquet)",
            numeric=frozenset(range(3, 4 + len(terms))),
        )
    )
    return blocks


def _assumptions(data: Folder) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[4])]
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
        value = value_at(scn, str(key))
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


NO_BASELINE = (
    "No baseline given: `xpusim report DIR --baseline FILE` lists the resolved values that "
    "differ from another scenario file (for example scenarios/baseline.yaml)."
)


def baseline_differences(
    data: Folder, baseline: Path | None = None
) -> tuple[list[tuple[str, Any, Any]] | None, str]:
    """Resolved values that differ from the ``baseline`` scenario file, or None and why not.

    Never a path named in the folder's manifest: the baseline is given or there is none.
    """
    if data.scenario is None:
        return None, "The manifest holds no resolved scenario, so there is nothing to compare."
    if baseline is None:
        return None, NO_BASELINE
    mine = data.scenario_model
    if mine is None:
        return None, f"Skipped: a scenario could not be read ({data.scenario_problem})."
    try:
        base = load_scenario(baseline)
    except UserError as exc:
        return None, f"Skipped: a scenario could not be read ({' '.join(str(exc).split())})."
    return diff_scenarios(mine, base.scenario), f"Compared with {baseline}."


def _baseline(data: Folder, baseline: Path | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, SECTIONS[5])]
    diffs, note = baseline_differences(data, baseline)
    if diffs is None:
        blocks.append(Paragraph(note, note=True))
        return blocks
    if not diffs:
        blocks.append(Paragraph(f"Nothing: every resolved value equals the baseline's. {note}"))
        return blocks
    blocks.append(
        Paragraph(f"{len(diffs)} resolved values differ from the baseline scenario. {note}")
    )
    rows = [
        [k, fmt_value(a, param_unit(k)), fmt_value(b, param_unit(k))]
        for k, a, b in diffs[:MAX_DIFF_ROWS]
    ]
    blocks.append(Table(["Key", "This scenario", "Baseline"], rows, "", frozenset({1, 2})))
    if len(diffs) > MAX_DIFF_ROWS:
        blocks.append(
            Paragraph(
                f"... and {len(diffs) - MAX_DIFF_ROWS} more (`xpusim diff` lists them all).",
                note=True,
            )
        )
    return blocks


def _versions(data: Folder) -> list[Block]:
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
    rows.append(["matplotlib (figures)", matplotlib.__version__])
    rows.append(["xpusim (report)", __version__])
    return [Heading(2, SECTIONS[6]), Table(["Component", "Version"], rows, "From manifest.json")]


def build_report(
    data: Folder, figures: Sequence[Path], baseline: Path | None = None
) -> list[Block]:
    """The report's blocks, in order; ``baseline`` is the scenario file to compare with."""
    meta = figure_meta(data)
    name = meta.scenario
    blocks: list[Block] = [
        Heading(1, f"xpusim report: {name}"),
        Paragraph(
            f"{data.describe().capitalize()} {data.folder.name}; scenario {name}"
            + (f", seed {meta.seed}" if meta.seed is not None else "")
            + f", xpusim {meta.version}. Sources: see manifest.json and `xpusim catalog`.",
            note=True,
        ),
    ]
    blocks += _question(data)
    blocks += [Heading(2, SECTIONS[1]), *headline(data)]
    blocks += _figures(data, figures)
    blocks += _choices(data)
    blocks += _assumptions(data)
    blocks += _baseline(data, baseline)
    blocks += _versions(data)
    return blocks
