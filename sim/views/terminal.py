"""Results on the terminal: rich tables of summaries, rankings and catalogues, a progress bar.

Every string shown goes through :func:`sim.errors.printable` (control characters escaped);
every number through :func:`sim.views.numbers.fmt_value`. A console writes colour on a
terminal and plain wide text otherwise (pipes, tests).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sim.accounting.runner import RUN_KEYS
from sim.errors import printable
from sim.experiments.sensitivity import min_points, swing
from sim.views.numbers import RANKING, TERMINAL, fmt_value

__all__ = [
    "console",
    "diff_value",
    "progress_bar",
    "ranking_tables",
    "sample_ranking_note",
    "sample_ranking_table",
    "summary_tables",
    "table",
    "text",
]


def console() -> Console:
    """A console on stdout: colour on a terminal, plain wide text otherwise (pipes, tests)."""
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, no_color=True, color_system=None, width=200, soft_wrap=False)


def text(value: object) -> Text:
    """Rich text of a string shown on the terminal, control characters escaped."""
    return Text(printable(value))


def _cell(value: Any) -> Text:
    return text(fmt_value(value, style=TERMINAL))


def table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A table: first column left-aligned and never folded (it names the row), the others
    right; numbers as the terminal shows them."""
    out = Table(
        title=None if title is None else text(title), title_justify="left", show_lines=False
    )
    for i, header in enumerate(headers):
        first = i == 0
        out.add_column(
            text(header), justify="left" if first else "right", overflow="fold", no_wrap=first
        )
    for row in rows:
        out.add_row(*(_cell(v) for v in row))
    return out


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _leaves(value: Mapping[Any, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """Dotted names and values of the scalars in nested dicts, sorted (lists skipped).

    >>> list(_leaves({"b": 1, "a": {"y": 2, "x": [3]}}, "s"))
    [('s.a.y', 2), ('s.b', 1)]
    """
    for key, inner in sorted(value.items(), key=lambda kv: str(kv[0])):
        name = f"{prefix}.{key}"
        if _is_scalar(inner):
            yield name, inner
        elif isinstance(inner, Mapping):
            yield from _leaves(inner, name)


def _matrix(key: str, value: Mapping[Any, Any]) -> Table | None:
    """A dict of flat dicts (``queue: {pool: {...}}``) as a table, rows by outer key."""
    if not all(
        isinstance(v, Mapping) and v and all(_is_scalar(x) for x in v.values())
        for v in value.values()
    ):
        return None
    columns: list[str] = []
    for inner_map in value.values():
        columns.extend(str(c) for c in inner_map if str(c) not in columns)
    if len(columns) > 16 or len(value) > 60:
        return None
    rows = [
        [k, *({str(c): x for c, x in v.items()}.get(c) for c in columns)]
        for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
    ]
    return table(key, ["", *columns], rows)


#: Run keys that describe how the results were measured, not results to list (the seed is).
_NOT_HEADLINE = frozenset(RUN_KEYS) - {"seed"}


def _half_width(intervals: Mapping[str, Any], dotted: str) -> Any:
    node: Any = intervals
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, int | float) and not isinstance(node, bool) else None


def _headline_title(summary: Mapping[str, Any]) -> str:
    n = summary.get("replication_count")
    if isinstance(n, int) and n > 1:
        return (
            f"Headline results (means over {n} replications; +- is the half-width of the "
            "95% t-interval)"
        )
    return "Headline results"


def summary_tables(summary: Mapping[str, Any]) -> list[Table]:
    """Tables for the headline results.

    Top-level scalars and flat dicts go into one table (``section.key``, the mean over the
    replications and the half-width of its 95% interval), one section per dict; dicts of flat
    dicts (``queue: {pool: {...}}``) get a table each, rows by outer key. Anything larger is
    left to summary.json.
    """
    intervals = summary.get("interval95")
    intervals = intervals if isinstance(intervals, Mapping) else {}
    headline = Table(title=_headline_title(summary), title_justify="left")
    headline.add_column("result")
    headline.add_column("value", justify="right")
    headline.add_column("+- 95%", justify="right")

    def row(name: str, value: Any) -> None:
        hw = _half_width(intervals, name)
        headline.add_row(text(name), _cell(value), _cell(hw) if hw is not None else text(""))

    for key, value in sorted(summary.items()):
        if _is_scalar(value) and key not in _NOT_HEADLINE:
            row(str(key), value)
    matrices: list[Table] = []
    for key, value in sorted(summary.items()):
        if not isinstance(value, Mapping) or not value or key in _NOT_HEADLINE:
            continue
        matrix = _matrix(key, value)
        if matrix is not None:
            matrices.append(matrix)
            continue
        leaves = list(_leaves(value, str(key)))
        if leaves and len(leaves) <= 40:
            if headline.row_count:
                headline.add_section()
            for name, x in leaves:
                row(name, x)
    return ([headline] if headline.row_count else []) + matrices


def diff_value(value: Any) -> str:
    """A value of ``xpusim diff``: '(absent)', JSON for lists and mappings, else a number."""
    if value is None:
        return "(absent)"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    return fmt_value(value, style=TERMINAL)


def _rank(value: Any) -> str:
    return fmt_value(value, style=RANKING)


def _order(values: Sequence[Any]) -> list[int]:
    """Positions of ``values`` from the largest down, missing ones last."""
    return sorted(
        range(len(values)),
        key=lambda j: -(values[j] if values[j] is not None else -math.inf),
    )


def ranking_tables(result: Mapping[str, Any]) -> list[Table]:
    """The tornado and the Sobol indices of one metric of a sensitivity analysis."""
    tornado = Table(
        title=text(f"Tornado: {result['metric']} (base {_rank(result['base'])})"),
        title_justify="left",
    )
    for i, head in enumerate(["rank", "parameter", "low", "high", "metric low", "metric high"]):
        tornado.add_column(head, justify="left" if i == 1 else "right")
    tornado.add_column("swing", justify="right")
    for i, row in enumerate(result["tornado"], 1):
        tornado.add_row(
            str(i),
            text(str(row["parameter"])),
            _rank(row["low_value"]),
            _rank(row["high_value"]),
            _rank(row["metric_low"]),
            _rank(row["metric_high"]),
            _rank(swing(row)),
        )
    sob = result["sobol"]
    sobol = Table(title=text(f"Sobol' indices: {result['metric']}"), title_justify="left")
    for i, head in enumerate(["rank", "parameter", "S1", "± S1", "ST", "± ST"]):
        sobol.add_column(head, justify="left" if i == 1 else "right")
    for rank, j in enumerate(_order(sob["ST"]), 1):
        sobol.add_row(
            str(rank),
            text(str(sob["names"][j])),
            *(_rank(sob[k][j]) for k in ("S1", "S1_conf", "ST", "ST_conf")),
        )
    return [tornado, sobol]


def sample_ranking_table(result: Mapping[str, Any]) -> Table:
    """First-order indices and rank correlations of one metric of a ranked sampled sweep."""
    sob, spear = result["sobol"], result["spearman"]
    out = Table(
        title=text(
            f"First-order indices (RBD-FAST, {result['points']} points): {result['metric']}"
        ),
        title_justify="left",
    )
    for i, head in enumerate(["rank", "parameter", "S1", "± S1", "Spearman rho", "p"]):
        out.add_column(head, justify="left" if i == 1 else "right")
    for rank, j in enumerate(_order(sob["S1"]), 1):
        out.add_row(
            str(rank),
            text(str(sob["names"][j])),
            _rank(sob["S1"][j]),
            _rank(sob["S1_conf"][j]),
            _rank(spear["rho"][j]),
            _rank(spear["p"][j]),
        )
    return out


def sample_ranking_note(result: Mapping[str, Any]) -> str | None:
    """Why a ranked sweep has rank correlations only (too few points), or None."""
    if all(v is None for v in result["sobol"]["S1"]) and result["points"] < min_points():
        return (
            f"note: first-order indices need at least {min_points()} points with a "
            f"finite metric, this sweep has {result['points']}; rank correlations only"
        )
    return None


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar with ETA on stderr, or nothing when quiet or not on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (  # deferred: only a terminal shows a progress bar
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task_id = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task_id, completed=done, total=total)

    with bar:
        yield update
