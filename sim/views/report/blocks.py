"""The blocks a report is made of: headings, paragraphs, tables and figures.

The report is built once as a list of blocks and rendered twice (HTML and Markdown: see
:mod:`sim.views.report.render`), so the two files cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "FigureBlock", "Heading", "Paragraph", "Table"]


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
    """A figure: its file (for Markdown), its PNG bytes (inline in HTML), title and caption."""

    kind: str
    path: Path
    title: str
    caption: str
    png: bytes = field(default=b"", repr=False)


Block = Heading | Paragraph | Table | FigureBlock
