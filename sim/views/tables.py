"""Tables every command prints, in four formats: a terminal table, CSV, JSON and Markdown.

A command describes what it shows once, as :class:`Tabular` tables (columns with their
units, rows as mappings of raw values), and :func:`render` writes them in the format asked
for: ``table`` (rich tables whose numbers are never split across lines: number columns do
not wrap, only text columns fold), ``md`` (GitHub Markdown tables), or the machine formats
``csv`` and ``json``, which write the raw values at full precision, one tidy table: the rows
of every table, with a ``table`` column naming the table when there are several. Dates are
ISO text in every format; numbers in ``table`` and ``md`` go through
:func:`sim.views.numbers.fmt_value`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import UserError, printable
from sim.views.numbers import TERMINAL, NumberStyle, fmt_value

if TYPE_CHECKING:  # rich is imported when a table is drawn (``xpusim run -q`` draws none)
    from rich.console import Console
    from rich.table import Table

__all__ = ["FORMATS", "Column", "Tabular", "check_format", "render", "to_records"]

FORMATS: tuple[str, ...] = ("table", "csv", "json", "md")
"""The output formats of every command that prints a table."""


@dataclass(frozen=True)
class Column:
    """One column: its key in the rows, its header, the unit its values are shown in, and
    whether it holds text (folded on a narrow terminal) rather than numbers (never split)."""

    key: str
    header: str = ""
    unit: str = ""
    text: bool = False
    unit_from: str = ""
    """A row key whose value is the unit of this column's cell in that row."""
    missing: str = "-"
    """What a missing value (None) shows."""

    @property
    def title(self) -> str:
        """The header shown (the key when no header is given)."""
        return self.header or self.key


@dataclass(frozen=True)
class Tabular:
    """A titled table: columns and rows (mappings from column keys to raw values)."""

    title: str
    columns: tuple[Column, ...]
    rows: Sequence[Mapping[str, Any]] = field(default_factory=list)
    name: str = ""
    style: NumberStyle = TERMINAL
    sections: tuple[int, ...] = ()
    """Row positions before which a rule is drawn (groups of rows)."""
    caption: str = ""
    data_columns: tuple[str, ...] = ()
    """The row keys CSV and JSON write (default: the columns' keys)."""
    skip_in_data: str = ""
    """A row key marking rows shown on the terminal only (a group's title row)."""
    data_names: Mapping[str, str] = field(default_factory=dict)
    """Names CSV and JSON give row keys (default: the key)."""


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    """``fmt`` lower-cased if it is one of ``allowed``, else a UserError naming them.

    >>> check_format("JSON")
    'json'
    """
    f = fmt.strip().lower()
    if f not in allowed:
        raise UserError(
            f"unknown output format {fmt!r}", key="--format", expected=" | ".join(allowed)
        )
    return f


def _plain(value: Any) -> Any:
    """A raw value as JSON and CSV hold it: ISO dates, None for NaN, plain Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10] if _midnight(value) else value.isoformat()
    if hasattr(value, "isoformat") and callable(value.isoformat):  # pandas Timestamp
        return str(value.isoformat())[:10]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return value.strip()  # a label's indent is for the terminal
    return value


def _midnight(value: dt.date) -> bool:
    return not isinstance(value, dt.datetime) or value.time() == dt.time(0)


def to_records(tables: Sequence[Tabular]) -> list[dict[str, Any]]:
    """The rows of ``tables`` as plain records (a ``table`` field first when several)."""
    several = len(tables) > 1
    out: list[dict[str, Any]] = []
    for t in tables:
        for row in t.rows:
            if t.skip_in_data and row.get(t.skip_in_data):
                continue
            record: dict[str, Any] = {"table": t.name or t.title} if several else {}
            keys = t.data_columns or tuple(c.key for c in t.columns)
            record.update({t.data_names.get(k, k): _plain(row.get(k)) for k in keys})
            out.append(record)
    return out


def _cell(row: Mapping[str, Any], column: Column, style: NumberStyle) -> str:
    value = row.get(column.key)
    if isinstance(value, dt.date | dt.datetime) or hasattr(value, "isoformat"):
        return str(_plain(value))
    if value is None:
        return "" if row.get("group_row") else column.missing
    unit = str(row.get(column.unit_from) or "") if column.unit_from else column.unit
    return printable(fmt_value(value, unit, style))


LABEL_WIDTH = 46
"""Characters of a table's first text column kept unfolded on a narrow terminal."""


def rich_table(t: Tabular) -> Table:
    """``t`` as a rich table: text columns fold, number columns never wrap."""
    from rich.table import Table
    from rich.text import Text

    out = Table(
        title=Text(printable(t.title)) if t.title else None,
        title_justify="left",
        caption=Text(printable(t.caption)) if t.caption else None,
        caption_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    cells = [[_cell(row, c, t.style) for c in t.columns] for row in t.rows]
    for i, c in enumerate(t.columns):
        if c.text:
            # the first (label) column keeps up to LABEL_WIDTH; later text columns fold first
            widest = max((len(r[i]) for r in cells), default=0)
            out.add_column(
                Text(printable(c.title)),
                justify="left",
                overflow="fold",
                min_width=min(widest, LABEL_WIDTH) if i == 0 else None,
            )
        else:
            widest = max((len(r[i]) for r in cells), default=0)
            out.add_column(
                Text(printable(c.title)),
                justify="left" if i == 0 else "right",
                min_width=widest,  # a number is never cut or wrapped: headers and text wrap
                overflow="ellipsis" if i == 0 else "fold",
            )
    for j, row in enumerate(t.rows):
        out.add_row(
            *(Text(cell) for cell in cells[j]),
            end_section=(j + 1) in t.sections,
            style="bold" if row.get("group_row") else None,
        )
    return out


def _markdown(t: Tabular) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"**{esc(printable(t.title))}**", ""] if t.title else []
    lines.append("| " + " | ".join(esc(c.title) for c in t.columns) + " |")
    lines.append(
        "|" + "|".join("---" if c.text or i == 0 else "---:" for i, c in enumerate(t.columns)) + "|"
    )
    for row in t.rows:
        cells = (esc(_cell(row, c, t.style)) for c in t.columns)
        lines.append("| " + " | ".join(cells) + " |")
    if t.caption:
        lines += ["", esc(printable(t.caption))]
    return "\n".join(lines) + "\n"


def _csv(records: Sequence[Mapping[str, Any]]) -> str:
    if not records:
        return ""
    columns: list[str] = []
    for r in records:
        columns.extend(k for k in r if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()}
        )
    return buffer.getvalue()


def render(tables: Sequence[Tabular], fmt: str, console: Console) -> None:
    """Print ``tables`` on ``console`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "table":
        for t in tables:
            console.print(rich_table(t))
        return
    if fmt == "md":
        body = "\n".join(_markdown(t) for t in tables)
    elif fmt == "csv":
        body = _csv(to_records(tables))
    else:
        body = json.dumps(to_records(tables), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    console.file.write(body)
    console.file.flush()
