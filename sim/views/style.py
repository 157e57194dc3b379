"""The look of every figure: one style, one colour per chip family, titles and footnotes.

One style serves every figure (:data:`STYLE`, applied with :func:`matplotlib.rc_context`
while a figure is built and while it is saved), one colour per chip family
(:data:`FAMILY_COLORS`, shaded per chip within a family: :mod:`sim.views.axes`), titles,
axis labels with units, dates on time axes, legends outside the data and a footnote naming
the scenario, seed, xpusim version and where the sources are. Figures are built with the
object-oriented API: no pyplot, no global state. Output is deterministic: the SVG hash
salt is fixed and no creation date or software string is written, so re-drawing the same
data gives the same bytes.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib
import matplotlib.text as mtext
import matplotlib.ticker as mticker
from cycler import cycler
from matplotlib.figure import Figure

from sim import __version__
from sim.errors import UserError
from sim.results.folders import write_output
from sim.safeio import visible

__all__ = [
    "COMPONENT_COLORS",
    "COMPONENT_LABELS",
    "FAMILY_COLORS",
    "FORMATS",
    "LINESTYLES",
    "MARKERS",
    "OTHER_COLOR",
    "SOURCES_NOTE",
    "STYLE",
    "FigureMeta",
    "new_figure",
    "rc",
    "render_figure",
    "save_figure",
    "styled",
]

P = ParamSpec("P")
R = TypeVar("R")

FAMILY_COLORS: dict[str, str] = {
    "nvidia_gpu": "#4e9a06",  # green
    "trainium": "#e8710a",  # orange
    "inferentia": "#d9a400",  # amber
    "tpu": "#1f6fb4",  # blue
    "maia": "#7b3fa0",  # purple
    "amd_gpu": "#c62828",  # red
}
"""One colour per chip family, used by every figure."""

OTHER_COLOR = "#7f7f7f"

COMPONENT_COLORS: dict[str, str] = {
    "capital": "#3b5b92",
    "power": "#e3a21a",
    "facility": "#8c6d31",
    "maintenance": "#6a9fb5",
    "nre": "#b5446e",
}
"""Colours of the TCO components (capital, power, facility, maintenance, NRE)."""

COMPONENT_LABELS: dict[str, str] = {
    "capital": "Capital (chip, server, network)",
    "power": "Power",
    "facility": "Facility",
    "maintenance": "Maintenance",
    "nre": "NRE (in-house design)",
}

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10.0,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.prop_cycle": cycler(color=list(FAMILY_COLORS.values())),
    "grid.color": "#d9d9d9",
    "grid.linewidth": 0.7,
    "grid.linestyle": "-",
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.frameon": False,
    "legend.title_fontsize": 9.0,
    "lines.linewidth": 1.8,
    "figure.facecolor": "white",
    "figure.titlesize": 13.0,
    "figure.titleweight": "bold",
    "savefig.dpi": 110,
    "savefig.facecolor": "white",
    "svg.fonttype": "path",
    "svg.hashsalt": "xpusim",
    "path.simplify": True,
    "axes.formatter.use_mathtext": False,
    # names from scenarios and folders are shown as written: a '$' in a segment key or a
    # scenario name is text, never mathtext (which could also fail to parse)
    "text.parse_math": False,
}
"""The rcParams every figure is built and saved under."""

FORMATS: tuple[str, ...] = ("png", "svg")
_SAVE_METADATA: dict[str, dict[str, str | None]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}
SOURCES_NOTE = "Sources: see manifest.json / xpusim catalog"
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")


def rc() -> Any:
    """:data:`STYLE` for :func:`matplotlib.rc_context` (typed loosely: its keys are literals)."""
    return STYLE


def styled(func: Callable[P, R]) -> Callable[P, R]:
    """Build the figure under :data:`STYLE`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(rc()):
            return func(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class FigureMeta:
    """What the footnote of a figure names."""

    scenario: str = "unnamed scenario"
    seed: int | None = None
    version: str = __version__
    extra: str = ""

    def footnote(self) -> str:
        """The footnote text.

        >>> FigureMeta("baseline", 7, "0.1.0").footnote()
        'Scenario baseline | seed 7 | xpusim 0.1.0 | Sources: see manifest.json / xpusim catalog'
        """
        parts = [f"Scenario {self.scenario}"]
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        parts.append(f"xpusim {self.version}")
        if self.extra:
            parts.append(self.extra)
        parts.append(SOURCES_NOTE)
        return " | ".join(parts)


def new_figure(meta: FigureMeta | None, title: str, size: tuple[float, float]) -> Figure:
    """A figure with its title and footnote, laid out without overlaps."""
    fig = Figure(figsize=size, layout="constrained")
    fig.suptitle(title, x=0.01, ha="left")
    fig.supxlabel(
        (meta or FigureMeta()).footnote(), x=0.01, ha="left", fontsize=7.5, color="#555555"
    )
    return fig


def _visible_label(func: Callable[..., Any], x: float, pos: int | None = None) -> str:
    return visible(str(func(x, pos)))


def _make_visible(fig: Figure) -> None:
    """Show control characters of every text in ``fig`` as escapes (:func:`visible`).

    Names from a scenario or a folder (segments, pools, parameters) are drawn as text; an
    escape or bell byte in one would be drawn as a missing glyph.
    """
    for text in fig.findobj(mtext.Text):
        shown = text.get_text()
        if not shown.isprintable():
            text.set_text(visible(shown))
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, mticker.FixedFormatter):  # tick labels given as text
                formatter.seq = [visible(str(label)) for label in formatter.seq]
            elif isinstance(formatter, mticker.FuncFormatter):
                formatter.func = functools.partial(_visible_label, formatter.func)


def render_figure(fig: Figure, fmt: str) -> bytes:
    """The bytes of ``fig`` as a PNG or SVG file, deterministically (no date, no software)."""
    if fmt not in _SAVE_METADATA:
        raise UserError(f"unknown figure format {fmt!r}", expected="png or svg")
    buffer = io.BytesIO()
    with matplotlib.rc_context(rc()):
        fig.savefig(buffer, format=fmt, metadata=_SAVE_METADATA[fmt])
    return buffer.getvalue()


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format, deterministically.

    Each file is written atomically and never through a symbolic link
    (:func:`sim.results.folders.write_output`).
    """
    _make_visible(fig)
    paths = []
    for fmt in formats:
        data = render_figure(fig, fmt)
        path = stem.with_suffix(f".{fmt}")
        write_output(path, data)
        paths.append(path)
    return paths
