"""``xpusim compare``: runs side by side as a table (every format of :mod:`sim.views.tables`).

The rows are the first run's headline metrics (:mod:`sim.views.headline`), grouped; each
later run adds its value, its difference from the first run, the 95% interval of that
difference and the relative difference (:mod:`sim.experiments.compare`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sim.experiments.compare import compare_metric, same_seeds
from sim.views.headline import group_title, headline_rows, replication_count
from sim.views.numbers import HEADLINE
from sim.views.tables import Column, Tabular

__all__ = ["comparison_tables"]


def _title(names: Sequence[str], summaries: Sequence[Mapping[str, Any]]) -> str:
    counts = sorted({replication_count(s) for s in summaries})
    n = " or ".join(str(c) for c in counts)
    return (
        f"Compared with {names[0]}: means over {n} replications; differences are run - {names[0]}"
    )


def _caption(summaries: Sequence[Mapping[str, Any]], paired: int, unpaired: int) -> str:
    parts = []
    if same_seeds(summaries):
        reps = summaries[0].get("replications") or []
        parts.append(
            f"± 95%: the interval of the difference; paired over the {len(reps)} seeds the runs "
            f"share for the {paired} metrics stored per replication"
        )
        if unpaired:
            parts.append(f"unpaired (the runs' half-widths combined) for the other {unpaired}")
    else:
        parts.append(
            "± 95%: the interval of the difference, unpaired (the runs do not share seeds: "
            "the runs' half-widths combined, an approximation)"
        )
    return "; ".join(parts) + "; '-': no interval (one replication)"


def comparison_tables(
    named: Sequence[tuple[str, Mapping[str, Any]]], *, everything: bool = False
) -> list[Tabular]:
    """The comparison of runs ``named`` ((name, summary) pairs, the first the base)."""
    names = [n for n, _ in named]
    summaries = [s for _, s in named]
    base = summaries[0]
    others = list(enumerate(summaries))[1:]
    rows: list[dict[str, Any]] = []
    sections: list[int] = []
    paired: set[str] = set()
    unpaired: set[str] = set()
    metrics = headline_rows(base, everything=everything)
    for i, m in enumerate(metrics):
        if i == 0 or m.group != metrics[i - 1].group:
            if i:
                sections.append(len(rows))
            rows.append({"label": group_title(m.group), "group_row": True})
        row: dict[str, Any] = {
            "key": m.key,
            "group": m.group,
            "label": "  " + m.label,
            "unit": m.unit,
            "v0": m.value,
        }
        for j, other in others:
            d = compare_metric(base, other, m.key)
            row[f"v{j}"] = d.value
            row[f"d{j}"] = d.absolute
            row[f"h{j}"] = d.half_width
            row[f"r{j}"] = d.relative
            row[f"p{j}"] = d.pairing
            if d.pairing == "paired":
                paired.add(m.key)
            elif d.pairing == "unpaired":
                unpaired.add(m.key)
        rows.append(row)
    columns: list[Column] = [Column("label", "metric", text=True)]
    columns += [Column(f"v{j}", names[j], unit_from="unit") for j in range(len(names))]
    for j, _ in others:
        short = f"{names[j]} - {names[0]}" if len(names) > 2 else "difference"
        columns += [
            Column(f"d{j}", short, unit_from="unit"),
            Column(f"h{j}", "± 95%", unit_from="unit", missing=""),
            Column(f"r{j}", "relative", unit="relative", missing=""),
        ]
    data = ["key", "group", "label", "unit"]
    data += [f"v{j}" for j in range(len(names))]
    for j, _ in others:
        data += [f"d{j}", f"h{j}", f"r{j}", f"p{j}"]
    return [
        Tabular(
            title=_title(names, summaries),
            columns=tuple(columns),
            rows=rows,
            name="compare",
            style=HEADLINE,
            sections=tuple(sections),
            caption=_caption(summaries, len(paired), len(unpaired - paired)),
            data_columns=tuple(data),
            skip_in_data="group_row",
            data_names=_data_names(names),
        )
    ]


def _data_names(names: Sequence[str]) -> dict[str, str]:
    """Column names of the CSV and JSON: value_<run>, difference_<run> and so on."""
    out = {"v0": f"value_{names[0]}"}
    for j, n in enumerate(names[1:], start=1):
        out.update(
            {
                f"v{j}": f"value_{n}",
                f"d{j}": f"difference_{n}",
                f"h{j}": f"half_width95_{n}",
                f"r{j}": f"relative_{n}",
                f"p{j}": f"interval_{n}",
            }
        )
    return out
