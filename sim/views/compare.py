"""``xpusim compare``: runs side by side as a table (every format of :mod:`sim.views.tables`).

The rows are the first run's headline metrics (:mod:`sim.views.headline`), grouped; each
later run adds its value, its difference from the first run, the 95% interval of that
difference and the relative difference (:mod:`sim.experiments.compare`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sim.experiments.compare import SeedOverlap, compare_metric, seed_overlap
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


def _replications(n: int) -> str:
    return f"{n} replication{'' if n == 1 else 's'}"


def _left_out(names: tuple[str, str], overlap: SeedOverlap) -> str:
    """Which replications have no pair, e.g. "6 of baseline's 8 replications left out".

    >>> _left_out(("a", "b"), SeedOverlap(2, 6, 0))
    "6 of a's 8 replications left out"
    >>> _left_out(("a", "b"), SeedOverlap(2, 1, 3))
    "1 of a's 3 replications and 3 of b's 5 left out"
    """
    parts: list[str] = []
    for name, only in zip(names, (overlap.base_only, overlap.other_only), strict=True):
        if only:
            total = overlap.shared + only
            parts.append(f"{only} of {name}'s {total if parts else _replications(total)}")
    return " and ".join(parts) + " left out"


def _pairing_note(
    names: tuple[str, str], overlap: SeedOverlap, paired: int, unpaired: int, fewer: int = 0
) -> str:
    """How the intervals of one run's differences from the base were found, in words
    (``fewer``: paired metrics that some of the shared replications lack)."""
    parts = []
    if paired:
        text = (
            f"paired over the {overlap.shared} seeds the runs share for the {paired} "
            f"metric{'' if paired == 1 else 's'} stored per replication"
        )
        if fewer:
            text += (
                f" ({fewer} of them over fewer, the seeds where both runs stored it: "
                "the pairs column of --format csv counts them)"
            )
        if not overlap.complete:
            text += (
                f" (for these the difference too is over those {overlap.shared} seeds: "
                f"{_left_out(names, overlap)}; the same replications in both runs pair "
                "them all)"
            )
        parts.append(text)
        if unpaired:
            parts.append(f"unpaired (the runs' half-widths combined) for the other {unpaired}")
    elif unpaired:
        if overlap.shared == 0:
            why = "the runs do not share seeds"
        elif overlap.shared == 1:
            why = "the runs share 1 seed; pairing needs 2"
        else:
            why = "no metric is stored per replication in both runs"
        parts.append(f"unpaired ({why}: the runs' half-widths combined, an approximation)")
    else:
        parts.append("none")
    return "; ".join(parts)


def _caption(
    names: Sequence[str],
    overlaps: Mapping[int, SeedOverlap],
    paired: Sequence[int],
    unpaired: Sequence[int],
    fewer: Sequence[int],
) -> str:
    """The caption: per run after the first, how its intervals were found."""
    notes = [
        _pairing_note(
            (names[0], names[j]),
            overlaps[j],
            paired[j],
            unpaired[j],
            fewer[j],
        )
        for j in range(1, len(names))
    ]
    if len(notes) == 1:
        body = notes[0]
    else:
        body = "; ".join(f"{names[j]}: {n}" for j, n in enumerate(notes, start=1))
    return f"± 95%: the interval of the difference, {body}; '-': no interval (one replication)"


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
    paired = [0] * len(names)
    unpaired = [0] * len(names)
    fewer = [0] * len(names)  # paired metrics some shared replications lack
    overlaps = {j: seed_overlap(base, other) for j, other in others}
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
            row[f"n{j}"] = d.pairs if d.pairing == "paired" else None
            row[f"b{j}"] = d.reference
            if d.pairing == "paired":
                paired[j] += 1
                if d.pairs < overlaps[j].shared:
                    fewer[j] += 1
            elif d.pairing == "unpaired":
                unpaired[j] += 1
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
        data += [f"d{j}", f"h{j}", f"r{j}", f"p{j}", f"n{j}", f"b{j}"]
    return [
        Tabular(
            title=_title(names, summaries),
            columns=tuple(columns),
            rows=rows,
            name="compare",
            style=HEADLINE,
            sections=tuple(sections),
            caption=_caption(names, overlaps, paired, unpaired, fewer),
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
                f"n{j}": f"pairs_{n}",
                f"b{j}": f"relative_to_{n}",
            }
        )
    return out
