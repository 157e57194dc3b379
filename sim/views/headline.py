"""The run headline: which metrics a run's summary is read by, grouped, labelled and with
their intervals, all from the typed summary's declarations (:mod:`sim.accounting.summary`).

By default the headline shows the provider's, the customers' and the in-house program's
own metrics and the usage ratios of the first and last years (about 25 rows); with
``everything`` every metric of the summary, grouped by its top-level section. A metric one
of the other sections declares later joins the headline by itself: nothing here names a
metric key. :func:`headline_rows` gives the rows (also for ``compare`` and the Python API),
:func:`headline_tables` the tables the command line prints.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sim.accounting.runner import RUN_KEYS
from sim.accounting.summary import RunSummary, find_metric, metrics
from sim.experiments.compare import value_at_key
from sim.views.labels import metric_row_label
from sim.views.numbers import HEADLINE
from sim.views.tables import Column, Tabular

__all__ = [
    "HeadlineGroup",
    "HeadlineRow",
    "group_title",
    "groups",
    "headline_rows",
    "headline_tables",
    "interval_at",
    "leaves",
    "replication_count",
    "value_at_key",
]


@dataclass(frozen=True)
class HeadlineGroup:
    """A group of the default headline: its id, title and metric key patterns."""

    id: str
    title: str
    metrics: tuple[str, ...]


@cache
def _spec() -> tuple[tuple[str, ...], tuple[HeadlineGroup, ...]]:
    """The years and groups of ``sim/data/headline.yaml``."""
    text = (resources.files("sim") / "data" / "headline.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    years = tuple(str(y) for y in data["years"])
    groups = tuple(
        HeadlineGroup(str(g["id"]), str(g["title"]), tuple(str(m) for m in g["metrics"]))
        for g in data["groups"]
    )
    return years, groups


def groups() -> tuple[HeadlineGroup, ...]:
    """The default headline's groups, in order."""
    return _spec()[1]


#: Top-level summary keys that are not results (the scenario's name, how the run was made).
_NOT_RESULTS = frozenset({*RUN_KEYS, "scenario"})


@dataclass(frozen=True)
class HeadlineRow:
    """One metric of a run: its summary key, group, label (unit included), unit, mean and
    the half-width of its 95% interval over the replications (None without one)."""

    key: str
    group: str
    label: str
    unit: str
    value: Any
    half_width: float | None


def leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys and values of the scalar leaves of a nested mapping, in its order.

    >>> list(leaves({"a": {"b": 1, "c": [2]}, "d": None}))
    [('a.b', 1), ('d', None)]
    """
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from leaves(value, f"{name}.")
        elif value is None or isinstance(value, bool | int | float | str):
            yield name, value


def interval_at(summary: Mapping[str, Any], dotted: str) -> float | None:
    """The half-width of the 95% interval of a metric in ``summary["interval95"]``."""
    tree = summary.get("interval95")
    hw = value_at_key(tree, dotted) if isinstance(tree, Mapping) else None
    return float(hw) if isinstance(hw, int | float) and not isinstance(hw, bool) else None


def group_title(section: str) -> str:
    """The title of a headline group or summary section: the headline's own, else the
    section's declared description.

    >>> group_title("program"), group_title("queue"), group_title("cost_per_pflop_usd")
    ('In-house program', 'Training queues per pool', 'Provider cost per PFLOP')
    """
    titles = {g.id: g.title for g in groups()}
    if section in titles:
        return titles[section]
    for f in dataclasses.fields(RunSummary):
        if f.name == section:
            text = str(f.metadata.get("section") or f.metadata.get("label") or section)
            return text.rstrip(".")
    return section


def _order() -> dict[str, int]:
    """Top-level sections in the order of the headline's groups, then the rest in
    declaration order."""
    hints = typing.get_type_hints(RunSummary)
    first = [m.split(".", 1)[0] for g in groups() for m in g.metrics]
    names = list(dict.fromkeys([*first, *hints]))
    return {name: i for i, name in enumerate(names)}


def _rank() -> Any:
    """Sort key of concrete metric keys: sections, then metrics, in declaration order."""
    order = _order()
    declared = [m.key for m in metrics()]

    def rank(key: str) -> tuple[int, int]:
        metric = find_metric(key)
        where = declared.index(metric.key) if metric is not None else len(declared)
        return order.get(key.split(".", 1)[0], len(order)), where

    return rank


def _years(tree: Any, wanted: Sequence[str]) -> list[str]:
    """The years of ``wanted`` (``first``, ``last`` or a year) that the mapping ``tree`` of
    years holds, in order, once each."""
    if not isinstance(tree, Mapping) or not tree:
        return []
    have = sorted((str(y) for y in tree), key=str)
    out = [have[0] if y == "first" else have[-1] if y == "last" else y for y in wanted]
    return [y for y in dict.fromkeys(out) if y in have]


def _expand(summary: Mapping[str, Any], pattern: str, years: Sequence[str]) -> list[str]:
    """The concrete keys of a headline pattern in ``summary`` (``{family}`` over the
    summary's families, ``{year}`` over ``years``, ``first``/``last`` as a final part)."""
    parts = pattern.split(".")
    keys = [""]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        grown: list[str] = []
        for key in keys:
            node = value_at_key(summary, key) if key else summary
            if not isinstance(node, Mapping):
                continue
            if part == "{family}":
                names = [str(k) for k in sorted(node) if isinstance(node[k], Mapping)]
            elif part == "{year}":
                names = _years(node, years)
            elif last and part in ("first", "last"):
                names = _years(node, [part])
            else:
                names = [part] if part in node else []
            grown.extend(f"{key}.{n}" if key else n for n in names)
        keys = grown
    return [k for k in keys if not isinstance(value_at_key(summary, k), Mapping)]


def _default_keys(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The default headline's (group id, key) pairs: :file:`sim/data/headline.yaml`'s
    metrics that the run has."""
    years, specs = _spec()
    out: list[tuple[str, str]] = []
    for group in specs:
        for pattern in group.metrics:
            out.extend((group.id, key) for key in _expand(summary, pattern, years))
    return out


def _all_keys(summary: Mapping[str, Any]) -> list[str]:
    """Every scalar leaf of the summary, sections in declaration order, metrics in theirs."""
    keys = [k for k, _ in leaves(summary) if k.split(".", 1)[0] not in _NOT_RESULTS]
    return sorted(keys, key=_rank())  # stable: instances keep the summary's order


def headline_rows(summary: Mapping[str, Any], *, everything: bool = False) -> list[HeadlineRow]:
    """The headline metrics of a run summary (``everything``: every metric, grouped by
    summary section), grouped."""
    if everything:
        pairs = [(k.split(".", 1)[0], k) for k in _all_keys(summary)]
    else:
        pairs = _default_keys(summary)
    rows = []
    for group, key in pairs:
        metric = find_metric(key)
        value = value_at_key(summary, key)
        rows.append(
            HeadlineRow(
                key=key,
                group=group,
                label=metric_row_label(key).strip(),
                unit=metric.unit if metric is not None else "",
                value=value,
                half_width=_visible(interval_at(summary, key), value),
            )
        )
    return rows


def _visible(half_width: float | None, value: Any) -> float | None:
    """A half-width, 0 where it is round-off (under a billionth of the value).

    >>> _visible(4.2e-6, 6.4e10), _visible(0.5, 3.0), _visible(None, 1.0)
    (0.0, 0.5, None)
    """
    if half_width is None or not isinstance(value, int | float) or isinstance(value, bool):
        return half_width
    return 0.0 if abs(half_width) <= abs(value) * 1e-9 else half_width


def replication_count(summary: Mapping[str, Any]) -> int:
    """How many replications a summary's means are over (1 when it does not say)."""
    n = summary.get("replication_count")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def _title(summary: Mapping[str, Any]) -> str:
    n = replication_count(summary)
    if n > 1:
        return (
            f"Headline results: means over {n} replications; ± is the half-width of the "
            "95% Student-t interval"
        )
    return "Headline results: one replication (no interval; set replications: 2 or more)"


def _caption(summary: Mapping[str, Any], shown: int, everything: bool) -> str:
    parts = []
    name = summary.get("scenario")
    if isinstance(name, str):
        parts.append(f"scenario {name}")
    seed = summary.get("seed")
    if isinstance(seed, int):
        parts.append(f"seed {seed}")
    horizon = summary.get("horizon")
    if isinstance(horizon, Mapping) and horizon.get("start"):
        parts.append(f"horizon {horizon.get('start')} to {horizon.get('end')}")
    if not everything:
        total = len(_all_keys(summary))
        parts.append(f"{shown} of {total} metrics (--all: every one)")
    return "; ".join(parts)


def headline_tables(
    summary: Mapping[str, Any], *, everything: bool = False, keys: bool = True
) -> list[Tabular]:
    """The headline as one table: a title row for each group, then its metrics; ``keys``
    adds the summary.json key of each metric (what ``--metric`` takes)."""
    rows = headline_rows(summary, everything=everything)
    table_rows: list[dict[str, Any]] = []
    sections: list[int] = []
    for i, r in enumerate(rows):
        if i == 0 or r.group != rows[i - 1].group:
            if i:
                sections.append(len(table_rows))
            table_rows.append({"label": group_title(r.group), "group_row": True})
        table_rows.append(
            {
                "group": r.group,
                "label": "  " + r.label,
                "value": r.value,
                "half_width": r.half_width,
                "unit": r.unit,
                "key": r.key,
            }
        )
    columns: list[Column] = [
        Column("label", "metric", text=True),
        Column("value", "value", unit_from="unit"),
        Column("half_width", "± 95%", unit_from="unit", missing=""),
    ]
    if keys:
        columns.append(Column("key", "summary.json key", text=True))
    return [
        Tabular(
            title=_title(summary),
            columns=tuple(columns),
            rows=table_rows,
            name="headline",
            style=HEADLINE,
            sections=tuple(sections),
            caption=_caption(summary, len(rows), everything),
            data_columns=("key", "group", "label", "unit", "value", "half_width"),
            skip_in_data="group_row",
        )
    ]
