"""Results on the terminal: rich tables of rankings and catalogues, a progress bar.

Every string shown goes through :func:`sim.errors.printable` (control characters escaped);
every number through :func:`sim.views.numbers.fmt_value`. A console writes colour on a
terminal and plain wide text otherwise (pipes, tests).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sim.errors import printable
from sim.views.numbers import RANKING, TERMINAL, fmt_value, param_unit
from sim.views.tables import Column, Tabular

if TYPE_CHECKING:  # rich is imported when something is shown (``xpusim run -q`` shows none)
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "console",
    "diff_value",
    "progress_bar",
    "ranking_tables",
    "sample_ranking_note",
    "sample_ranking_table",
    "table",
    "text",
]


def console() -> Console:
    """A console on stdout: colour on a terminal, plain text otherwise (pipes, tests), 200
    columns wide unless ``COLUMNS`` says otherwise."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False)
    width = os.environ.get("COLUMNS", "")
    return Console(
        highlight=False,
        no_color=True,
        color_system=None,
        width=int(width) if width.isdigit() and int(width) >= 40 else 200,
        soft_wrap=False,
    )


def text(value: object) -> Text:
    """Rich text of a string shown on the terminal, control characters escaped."""
    from rich.text import Text

    return Text(printable(value))


def _cell(value: Any) -> Text:
    return text(fmt_value(value, style=TERMINAL))


def table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A table: first column left-aligned and never folded (it names the row), the others
    right; numbers as the terminal shows them."""
    from rich.table import Table

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


def diff_value(value: Any, key: str = "") -> str:
    """A value of ``xpusim diff`` at the dotted ``key``: '(absent)', JSON for lists and
    mappings, else a number in the key's unit (a calendar year or a seed without separators).

    >>> diff_value(2027, "catalog.stacks.neuron.maturity_midpoint_year"), diff_value(2027)
    ('2027', '2,027')
    >>> diff_value(None), diff_value([1, 2]), diff_value(1.15, "economics.pue")
    ('(absent)', '[1, 2]', '1.15')
    """
    if value is None:
        return "(absent)"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    return fmt_value(value, param_unit(key), style=TERMINAL)


def _rank(value: Any) -> str:
    return fmt_value(value, style=RANKING)


def _order(values: Sequence[Any]) -> list[int]:
    """Positions of ``values`` from the largest down, missing ones last."""
    return sorted(
        range(len(values)),
        key=lambda j: -(values[j] if values[j] is not None else -math.inf),
    )


def _columns(*specs: tuple[str, str]) -> tuple[Column, ...]:
    """Ranking columns: the parameter's is text, the others numbers; a parameter's own
    values (low, high) in the parameter's unit (a calendar year as a year)."""
    return tuple(
        Column(
            k,
            h,
            text=k == "parameter",
            unit_from="parameter_unit" if k in ("low_value", "high_value") else "",
        )
        for k, h in specs
    )


def ranking_tables(result: Mapping[str, Any]) -> list[Tabular]:
    """The tornado and the Sobol indices of one metric of a sensitivity analysis."""
    from sim.experiments.sensitivity import swing

    metric = str(result["metric"])
    tornado_rows = [
        {
            "metric": metric,
            "rank": i,
            "parameter": str(row["parameter"]),
            "parameter_unit": param_unit(str(row["parameter"])),
            "low_value": row["low_value"],
            "high_value": row["high_value"],
            "metric_low": row["metric_low"],
            "metric_high": row["metric_high"],
            "swing": swing(row),
        }
        for i, row in enumerate(result["tornado"], 1)
    ]
    tornado = Tabular(
        title=f"Tornado: {metric} (base {_rank(result['base'])})",
        columns=_columns(
            ("rank", "rank"),
            ("parameter", "parameter"),
            ("low_value", "low"),
            ("high_value", "high"),
            ("metric_low", "metric low"),
            ("metric_high", "metric high"),
            ("swing", "swing"),
        ),
        rows=tornado_rows,
        name="tornado",
        style=RANKING,
        data_columns=(
            "metric",
            "rank",
            "parameter",
            "low_value",
            "high_value",
            "metric_low",
            "metric_high",
            "swing",
        ),
    )
    sob = result["sobol"]
    sobol_rows = [
        {
            "metric": metric,
            "rank": rank,
            "parameter": str(sob["names"][j]),
            **{k: sob[k][j] for k in ("S1", "S1_conf", "ST", "ST_conf")},
        }
        for rank, j in enumerate(_order(sob["ST"]), 1)
    ]
    sobol = Tabular(
        title=f"Sobol' indices: {metric}",
        columns=_columns(
            ("rank", "rank"),
            ("parameter", "parameter"),
            ("S1", "S1"),
            ("S1_conf", "± S1"),
            ("ST", "ST"),
            ("ST_conf", "± ST"),
        ),
        rows=sobol_rows,
        name="sobol",
        style=RANKING,
        data_columns=("metric", "rank", "parameter", "S1", "S1_conf", "ST", "ST_conf"),
    )
    return [tornado, sobol]


def sample_ranking_table(result: Mapping[str, Any]) -> Tabular:
    """First-order indices and rank correlations of one metric of a ranked sampled sweep,
    ranked by what was computed (:func:`~sim.experiments.sensitivity.sample_order`)."""
    from sim.experiments.sensitivity import sample_order

    sob, spear = result["sobol"], result["spearman"]
    metric = str(result["metric"])
    by, order = sample_order(sob["S1"], spear["rho"])
    rows = [
        {
            "metric": metric,
            "rank": rank if by is not None else None,
            "rank_by": by,
            "parameter": str(sob["names"][j]),
            "S1": sob["S1"][j],
            "S1_conf": sob["S1_conf"][j],
            "rho": spear["rho"][j],
            "p": spear["p"][j],
        }
        for rank, j in enumerate(order, 1)
    ]
    if by == "S1":
        caption = "rank: by S1, the largest first"
    elif by is not None:
        caption = f"rank: by {by}, the largest first (no S1 computed: {_no_s1(result)})"
    else:
        caption = "no rank: neither S1 nor Spearman rho computed (the metric does not vary)"
    return Tabular(
        title=f"First-order indices (RBD-FAST, {result['points']} points): {metric}",
        columns=_columns(
            ("rank", "rank"),
            ("parameter", "parameter"),
            ("S1", "S1"),
            ("S1_conf", "± S1"),
            ("rho", "Spearman rho"),
            ("p", "p"),
        ),
        rows=rows,
        name="ranking",
        style=RANKING,
        caption=caption,
        data_columns=("metric", "rank", "rank_by", "parameter", "S1", "S1_conf", "rho", "p"),
    )


def _no_s1(result: Mapping[str, Any]) -> str:
    """Why a ranked sweep has no first-order index, in a few words."""
    from sim.experiments.sensitivity import min_points

    if result["points"] < min_points():
        return f"it needs {min_points()} points, the sweep has {result['points']}"
    return "RBD-FAST gave none"


def sample_ranking_note(result: Mapping[str, Any]) -> str | None:
    """Why a ranked sweep has rank correlations only (too few points), or None."""
    from sim.experiments.sensitivity import min_points

    if all(v is None for v in result["sobol"]["S1"]) and result["points"] < min_points():
        return (
            f"note: first-order indices need at least {min_points()} points with a "
            f"finite metric, this sweep has {result['points']}; rank correlations only"
        )
    return None


@contextmanager
def progress_bar(
    label: str, quiet: bool, unit: str = "runs"
) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar with ETA on stderr (counting ``unit``), or nothing when quiet or
    not on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
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
        TextColumn(unit),
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
