"""Figures of run, sweep and sensitivity folders: cost curves, adoption, TCO, program, queues.

Every figure function takes tables (pandas DataFrames) or plain dicts, never paths, and
returns a :class:`matplotlib.figure.Figure` built with the object-oriented API: no pyplot,
no global state. :func:`plot_folder` reads a folder, decides which figures fit it and
writes them to ``<folder>/figures/<kind>.<format>``.

One style serves every figure (:data:`STYLE`, applied with :func:`matplotlib.rc_context`
while a figure is built and while it is saved), one colour per chip family
(:data:`FAMILY_COLORS`, shaded per chip within a family), titles, axis labels with units,
dates on time axes, legends outside the data and a footnote naming the scenario, seed,
xpusim version and where the sources are. Output is deterministic: the SVG hash salt is
fixed and no creation date or software string is written, so re-drawing the same data
gives the same bytes.

The simulation core never imports this module (nor matplotlib).
"""

from __future__ import annotations

import difflib
import functools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ParamSpec, TypeVar

import matplotlib
import matplotlib.dates as mdates
import matplotlib.text as mtext
import matplotlib.ticker as mticker
import numpy as np
import numpy.typing as npt
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim import __version__
from sim.errors import UserError
from sim.results.folders import Folder, open_output_folder
from sim.safeio import check_not_link, visible, write_file

__all__ = [
    "COMPONENT_COLORS",
    "FAMILY_COLORS",
    "FORMATS",
    "KINDS",
    "STYLE",
    "FigureMeta",
    "FolderData",
    "adoption_shares",
    "check_formats",
    "check_kinds",
    "chip_colors",
    "cost_curves",
    "fmt_usd",
    "metric_label",
    "plot_adoption",
    "plot_cost",
    "plot_folder",
    "plot_learning",
    "plot_program",
    "plot_queue",
    "plot_sobol",
    "plot_sweep",
    "plot_tco_breakdown",
    "plot_tornado",
    "save_figure",
    "street_price_band",
    "sweep_points",
]

FloatArray = npt.NDArray[np.float64]
P = ParamSpec("P")
R = TypeVar("R")

# --------------------------------------------------------------------------- style

FAMILY_COLORS: dict[str, str] = {
    "nvidia_gpu": "#4e9a06",  # green
    "trainium": "#e8710a",  # orange
    "inferentia": "#d9a400",  # amber
    "tpu": "#1f6fb4",  # blue
    "maia": "#7b3fa0",  # purple
    "amd_gpu": "#c62828",  # red
}
"""One colour per chip family, used by every figure."""

FAMILY_LABELS: dict[str, str] = {
    "nvidia_gpu": "Nvidia GPU",
    "trainium": "Trainium",
    "inferentia": "Inferentia",
    "tpu": "TPU",
    "maia": "Maia",
    "amd_gpu": "AMD GPU",
}
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
COST_MIN_ACTIVITY = 0.01
"""A pool's cost per unit is drawn for a period only if that work filled at least this
fraction of its installed chip-hours (a nearly idle pool's cost per unit is not a price)."""

RUN_KINDS: tuple[str, ...] = ("cost", "learning", "adoption", "tco_breakdown", "program", "queue")
SENSITIVITY_KINDS: tuple[str, ...] = ("tornado", "sobol")
SWEEP_KINDS: tuple[str, ...] = ("sweep",)
KINDS: tuple[str, ...] = RUN_KINDS + SENSITIVITY_KINDS + SWEEP_KINDS
"""Every figure kind, in drawing order."""


def _rc() -> Any:
    """:data:`STYLE` for :func:`matplotlib.rc_context` (typed loosely: its keys are literals)."""
    return STYLE


def _styled(func: Callable[P, R]) -> Callable[P, R]:
    """Build the figure under :data:`STYLE`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(_rc()):
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


def _figure(meta: FigureMeta | None, title: str, size: tuple[float, float]) -> Figure:
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


def _save(fig: Figure, fmt: str, handle: BinaryIO) -> None:
    fig.savefig(handle, format=fmt, metadata=_SAVE_METADATA[fmt])


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format, deterministically.

    Each file is written atomically and never through a symbolic link
    (:func:`sim.safeio.write_file`).
    """
    _make_visible(fig)
    paths = []
    with matplotlib.rc_context(_rc()):
        for fmt in formats:
            if fmt not in _SAVE_METADATA:
                raise UserError(f"unknown figure format {fmt!r}", expected="png or svg")
            path = stem.with_suffix(f".{fmt}")
            try:
                write_file(path, functools.partial(_save, fig, fmt))
            except OSError as exc:
                raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc
            paths.append(path)
    return paths


# --------------------------------------------------------------------------- formatting


def fmt_usd(x: float, _pos: object = None, digits: int = 2) -> str:
    """A dollar amount for an axis or a table, short but exact enough to read.

    ``digits`` is the number of significant digits of millions, billions and cents.

    >>> [fmt_usd(v) for v in (0, 1.5e10, -3.2e6, 12345.6, 2.5, 1.0, 0.0025, 1.26e-5)]
    ['$0', '$15B', '-$3.2M', '$12,346', '$2.50', '$1', '$0.0025', '$0.000013']
    >>> fmt_usd(1.2345e9, digits=4)
    '$1.234B'
    """
    if not math.isfinite(x):
        return "-"
    if x == 0:
        return "$0"
    sign = "-" if x < 0 else ""
    a = abs(x)
    if a >= 1e9:
        return f"{sign}${_trim(a / 1e9, digits)}B"
    if a >= 1e6:
        return f"{sign}${_trim(a / 1e6, digits)}M"
    if a >= 1e3:
        return f"{sign}${a:,.0f}"
    if a >= 1:
        return f"{sign}${a:,.0f}" if a == round(a) else f"{sign}${a:,.2f}"
    return sign + "$" + np.format_float_positional(a, precision=digits, fractional=False, trim="-")


def _trim(v: float, digits: int = 2) -> str:
    """``digits`` significant digits, but whole numbers from 100 on, thousands separated.

    >>> [_trim(v) for v in (15.0, 3.24, 123.4, 1234.5)], _trim(1.2345, 3)
    (['15', '3.2', '123', '1,234'], '1.23')
    """
    if v >= max(100.0, 10.0**digits):
        return f"{v:,.0f}"
    text = f"{v:.{digits}g}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fmt_count(x: float, _pos: object = None) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or x == int(x) else f"{x:,.1f}"


class DistinctFormatter(mticker.Formatter):
    """Tick labels from ``func(x, digits)`` with as few digits as keep them distinct.

    Two significant digits read best, but a narrow range ($1.21B to $1.24B) needs more.
    """

    def __init__(self, func: Callable[..., str], digits: int = 2) -> None:
        self.func = func
        self.digits = digits

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.func(x, None, digits=self.digits)

    def format_ticks(self, values: Any) -> list[str]:
        values = [float(v) for v in values]
        labels = [self.func(v, None, digits=self.digits) for v in values]
        for digits in range(self.digits, 9):
            labels = [self.func(v, None, digits=digits) for v in values]
            if len(set(labels)) == len(set(values)):
                break
        return labels


def distinct_labels(
    func: Callable[..., str], values: Sequence[float], digits: int = 2
) -> list[str]:
    """Labels of ``values`` with as few digits as keep different values apart.

    >>> distinct_labels(fmt_usd, [1.21e9, 1.24e9, 1.24e9])
    ['$1.21B', '$1.24B', '$1.24B']
    """
    return DistinctFormatter(func, digits).format_ticks(list(values))


def _usd_axis(ax: Axes, which: str = "y") -> None:
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(DistinctFormatter(fmt_usd))
    if axis.get_scale() == "log":
        axis.set_minor_formatter(mticker.NullFormatter())


def _percent_axis(ax: Axes, decimals: int | None = None) -> None:
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(xmax=1.0, decimals=decimals))


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))


def _months(values: Iterable[Any]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(pd.Series(list(values), dtype=object)))


_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_usd_per_pflop", "USD per PFLOP"),
    ("_usd_per_mtok", "USD per million tokens"),
    ("_usd_per_chip_hour", "USD per chip-hour"),
    ("_usd", "USD"),
    ("_mwh", "MWh"),
    ("_hours", "hours"),
    ("_chips", "chips"),
    ("_fraction", "fraction"),
    ("utilization", "fraction of installed hours"),
    ("_date", "date"),
)


def metric_unit(key: str) -> str:
    """The unit a summary key names by its suffix ('' when it names none).

    >>> metric_unit("metric.provider.tco_usd"), metric_unit("queue.h100.mean_wait_hours")
    ('USD', 'hours')
    >>> metric_unit("usage_ratio_vs_gpu.trainium.2023")
    'ratio to Nvidia GPU chip-hours'
    """
    k = key.removeprefix("metric.")
    if k.startswith("usage_ratio_vs_gpu"):
        return "ratio to Nvidia GPU chip-hours"
    if k.startswith("cost_per_pflop_usd"):
        return "USD per PFLOP"
    if k.startswith("cost_per_mtok_usd"):
        return "USD per million tokens"
    for suffix, unit in _UNIT_SUFFIXES:
        if k.endswith(suffix):
            return unit
    return ""


def metric_label(key: str) -> str:
    """An axis label for a summary metric key, with its unit.

    >>> metric_label("metric.provider.tco_usd")
    'provider.tco_usd (USD)'
    >>> metric_label("engine.events")
    'engine.events (count)'
    """
    unit = metric_unit(key) or "count"
    return f"{key.removeprefix('metric.')} ({unit})"


def _param_label(key: str) -> str:
    return key.removeprefix("param.")


def _is_usd(key: str) -> bool:
    return metric_unit(key).startswith("USD")


# --------------------------------------------------------------------------- chips


def chip_label(chip: str) -> str:
    """A short display name of a chip id.

    >>> [chip_label(c) for c in ("h100", "a10g", "trainium2", "mi300x")]
    ['H100', 'A10G', 'Trainium2', 'MI300X']
    """
    return chip.upper() if len(chip) <= 6 else chip[:1].upper() + chip[1:]


def family_label(family: str) -> str:
    """Display name of a chip family."""
    return FAMILY_LABELS.get(family, family)


def _mix(color: str, other: str, t: float) -> str:
    a, b = to_rgb(color), to_rgb(other)
    r, g, bl = ((1 - t) * x + t * y for x, y in zip(a, b, strict=True))
    return to_hex((r, g, bl))


def chip_colors(chips: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """(colour, line style) per chip, from ``(chip, family)`` pairs in display order.

    Chips of one family share its colour, from lighter (first) to darker (last), and get
    different line styles (and, in :func:`chip_marker`, markers) so they stay apart
    without colour.

    >>> chip_colors([("a100", "nvidia_gpu"), ("h100", "nvidia_gpu"), ("trainium2", "trainium")])
    {'a100': ('#8cbd5d', '-'), 'h100': ('#3b7304', '--'), 'trainium2': ('#e8710a', '-')}
    """
    by_family: dict[str, list[str]] = {}
    for chip, family in chips:
        by_family.setdefault(family, []).append(chip)
    out: dict[str, tuple[str, str]] = {}
    for family, members in by_family.items():
        base = FAMILY_COLORS.get(family, OTHER_COLOR)
        n = len(members)
        for i, chip in enumerate(members):
            t = 0.0 if n == 1 else -0.35 + 0.6 * i / (n - 1)
            color = _mix(base, "#ffffff", -t) if t < 0 else _mix(base, "#000000", t)
            out[chip] = (color, LINESTYLES[i % len(LINESTYLES)])
    return out


def chip_marker(order: Sequence[tuple[str, str]], chip: str) -> str:
    """The marker of ``chip``: its rank within its family in ``order``."""
    family = dict(order).get(chip)
    members = [c for c, f in order if f == family]
    return MARKERS[members.index(chip) % len(MARKERS)] if chip in members else "o"


def _family_rank(family: str) -> int:
    keys = list(FAMILY_COLORS)
    return keys.index(family) if family in keys else len(keys)


def _chip_order(pools: pd.DataFrame, scenario: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(chip, family) pairs ordered by family, then launch date, then id."""
    pairs = {(str(p), str(f)) for p, f in zip(pools["pool"], pools["family"], strict=True)}
    chips = get_dotted(scenario, "catalog.chips") or {}

    def key(pair: tuple[str, str]) -> tuple[int, str, str]:
        launch = str((chips.get(pair[0]) or {}).get("launch_date", ""))
        return (_family_rank(pair[1]), launch, pair[0])

    return sorted(pairs, key=key)


def get_dotted(data: Any, dotted: str) -> Any:
    """The value at a dotted path of nested dicts and lists, or None."""
    node: Any = data
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _median_and_fan(values: FloatArray) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """Median over replications (rows) and the 5th and 95th percentiles (None for one row).

    A month missing in every replication is NaN (without numpy's all-NaN warning).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.asarray(np.nanmedian(values, axis=0), dtype=float)
        if values.shape[0] < 2:
            return med, None, None
        lo = np.asarray(np.nanpercentile(values, 5, axis=0), dtype=float)
        hi = np.asarray(np.nanpercentile(values, 95, axis=0), dtype=float)
    return med, lo, hi


def _legend_outside(fig: Figure, handles: Sequence[Any], title: str | None = None) -> None:
    if handles:
        fig.legend(handles=list(handles), loc="outside right upper", title=title)


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777")


FAN_LABEL = "5th-95th percentile over replications"


def _fan_handle() -> Patch:
    return Patch(color="#999999", alpha=0.35, label=FAN_LABEL)


# --------------------------------------------------------------------------- cost curves


def cost_curves(timeseries: pd.DataFrame, freq: str = "QS") -> pd.DataFrame:
    """Provider TCO and customer price per PFLOP and per million tokens, per pool and period.

    Sums over replications and over the months of each period (``freq``: "MS" monthly,
    "QS" quarterly), then divides. Provider cost of training = tco_usd x training
    chip-hours / busy chip-hours (serving likewise); customer cost = price per chip-hour x
    the chip-hours. A value is NaN where that work filled less than
    :data:`COST_MIN_ACTIVITY` of the installed chip-hours, or is not positive.
    """
    t = timeseries
    busy = t["busy_chip_hours"].to_numpy(float)
    train = t["training_chip_hours"].to_numpy(float)
    serve = t["serving_chip_hours"].to_numpy(float)
    tco = t["tco_usd"].to_numpy(float)
    price = t["price_usd_per_chip_hour"].to_numpy(float)
    has_busy = busy > 0
    safe = np.where(has_busy, busy, 1.0)
    period = _months(t["month"]).to_period(freq.removesuffix("S")).start_time
    frame = pd.DataFrame(
        {
            "period": period,
            "pool": t["pool"].astype(str).to_numpy(),
            "family": t["family"].astype(str).to_numpy(),
            "provider_train_usd": np.where(has_busy, tco * train / safe, 0.0),
            "provider_serve_usd": np.where(has_busy, tco * serve / safe, 0.0),
            "customer_train_usd": price * train,
            "customer_serve_usd": price * serve,
            "pflop": t["pflop_delivered"].to_numpy(float),
            "mtok": t["mtok_delivered"].to_numpy(float),
            "training_chip_hours": train,
            "serving_chip_hours": serve,
            "installed_chip_hours": t["installed_chip_hours"].to_numpy(float),
        }
    )
    g = frame.groupby(["period", "pool", "family"], sort=True).sum().reset_index()
    inst = g["installed_chip_hours"].to_numpy(float)
    out = g[["period", "pool", "family"]].copy()
    for work, hours, unit in (
        ("train", "training_chip_hours", "pflop"),
        ("serve", "serving_chip_hours", "mtok"),
    ):
        amount = g[unit].to_numpy(float)
        ok = (amount > 0) & (g[hours].to_numpy(float) >= COST_MIN_ACTIVITY * inst)
        denom = np.where(ok, amount, 1.0)
        for who in ("provider", "customer"):
            value = np.where(ok, g[f"{who}_{work}_usd"].to_numpy(float) / denom, np.nan)
            out[f"{who}_usd_per_{unit}"] = np.where(value > 0, value, np.nan)
    return out


def street_price_band(scenario: Mapping[str, Any], months: Sequence[Any]) -> pd.DataFrame | None:
    """Reference GPU's provider cost per PFLOP and per Mtok at list and at street price.

    The reference GPU is the in-house program's ``reference_gpu`` (else the first Nvidia
    pool). Costs are static TCO per busy chip-hour at the procurement target utilisation
    (as ``xpusim tco`` computes them), with capex = unit cost (list) or unit cost x the
    vendor's street-price multiplier in force that month. None when the scenario has no
    street-price schedule for that vendor or cannot be read.
    """
    from sim.model import economics as ec
    from sim.model.schema import Scenario
    from sim.model.timeline import multiplier_at

    try:
        s = Scenario.model_validate(dict(scenario), strict=False)
    except Exception:  # an unreadable scenario only costs the band
        return None
    prog = s.provider.inhouse_program
    ref_id = prog.reference_gpu if prog is not None else None
    if ref_id is None:
        ref_id = next(
            (
                p
                for p in s.provider.pools
                if p in s.catalog.chips and s.catalog.chips[p].vendor == "nvidia"
            ),
            None,
        )
    if ref_id is None or ref_id not in s.catalog.chips:
        return None
    ref = s.catalog.chips[ref_id]
    vendor = s.vendors.get(ref.vendor)
    if vendor is None or not vendor.street_price_multiplier:
        return None
    index = _months(months)
    mult = np.array([multiplier_at(vendor.street_price_multiplier, d.date()) for d in index])
    e = s.economics
    u = s.provider.procurement.target_utilization

    def per_busy_hour(capex: FloatArray) -> FloatArray:
        tco = ec.tco_usd_per_chip_hour(
            chip_capex_usd=capex,
            server_network_usd=ref.server_network_usd_per_chip,
            rate_per_year=e.discount_rate_per_year,
            life_years=e.depreciation_years,
            busy_power_w=ref.busy_power_w,
            idle_power_w=ref.idle_power_w,
            utilization=u,
            pue=e.pue,
            electricity_usd_per_kwh=e.electricity_usd_per_kwh,
            facility_usd_per_kw_year=e.facility_usd_per_kw_year,
            maintenance_fraction_per_year=e.maintenance_fraction_per_year,
            host_power_overhead_fraction=e.host_power_overhead_fraction,
        )
        return np.asarray(ec.usd_per_busy_chip_hour(tco.total_usd, u), dtype=float)

    list_h = per_busy_hour(np.full(len(index), ref.unit_cost_usd))
    street_h = per_busy_hour(ref.unit_cost_usd * mult)
    pf = float(ec.pflop_per_chip_hour(ref.training_tflops, ref.training_mfu))
    mt = float(ec.mtok_per_chip_hour(ref.inference_tokens_per_s))
    return pd.DataFrame(
        {
            "month": index,
            "chip": ref_id,
            "multiplier": mult,
            "list_usd_per_pflop": list_h / pf,
            "street_usd_per_pflop": street_h / pf,
            "list_usd_per_mtok": list_h / mt,
            "street_usd_per_mtok": street_h / mt,
        }
    )


@_styled
def plot_cost(
    timeseries: pd.DataFrame,
    *,
    scenario: Mapping[str, Any] | None = None,
    meta: FigureMeta | None = None,
    freq: str = "QS",
) -> Figure:
    """Provider TCO (top) and customer price (bottom) per PFLOP (left) and per Mtok (right).

    One line per chip (family colour), quarterly by default, on log axes (see
    :func:`cost_curves`); with the reference GPU's list-to-street price band on the
    provider panels when the scenario has a street-price schedule.
    """
    curves = cost_curves(timeseries, freq)
    order = _chip_order(timeseries, scenario)
    styles = chip_colors(order)
    fig = _figure(meta, "Cost of useful work by chip over time", (12.0, 7.5))
    axes = fig.subplots(2, 2, sharex=True, sharey="col")
    panels = (
        (axes[0, 0], "provider_usd_per_pflop", "Provider TCO per PFLOP of training"),
        (axes[0, 1], "provider_usd_per_mtok", "Provider TCO per million tokens served"),
        (axes[1, 0], "customer_usd_per_pflop", "Customer price per PFLOP of training"),
        (axes[1, 1], "customer_usd_per_mtok", "Customer price per million tokens served"),
    )
    band = street_price_band(scenario, sorted(set(timeseries["month"]))) if scenario else None
    handles: dict[str, Any] = {}
    for ax, column, title in panels:
        unit = column.rsplit("_", 1)[-1]
        ax.set_title(title)
        ax.set_ylabel(
            "USD per PFLOP (log scale)" if unit == "pflop" else "USD per million tokens (log scale)"
        )
        drawn = False
        for chip, _family in order:
            sel = curves[curves["pool"] == chip]
            y = sel[column].to_numpy(float)
            if not np.isfinite(y).any():
                continue
            color, ls = styles[chip]
            (line,) = ax.plot(
                sel["period"].to_numpy(),
                y,
                color=color,
                linestyle=ls,
                marker=chip_marker(order, chip),
                markersize=3.0,
                label=chip_label(chip),
            )
            handles.setdefault(chip, line)
            drawn = True
        if band is not None and column.startswith("provider"):
            ref = chip_label(str(band["chip"].iloc[0]))
            poly = ax.fill_between(
                band["month"].to_numpy(),
                band[f"list_usd_per_{unit}"].to_numpy(float),
                band[f"street_usd_per_{unit}"].to_numpy(float),
                step="post",
                color=FAMILY_COLORS["nvidia_gpu"],
                alpha=0.18,
                linewidth=0.8,
                label=f"{ref} at list to street price (static TCO)",
            )
            handles.setdefault("band", poly)
            drawn = True
        if drawn:
            ax.set_yscale("log")
            _usd_axis(ax)
        else:
            _no_data(ax, "no chip did enough of this work")
        _date_axis(ax)
    for ax in axes[1]:
        ax.set_xlabel("Date (quarter)" if freq == "QS" else "Date (month)")
    ordered = [handles[c] for c, _ in order if c in handles]
    if "band" in handles:
        ordered.append(handles["band"])
    _legend_outside(fig, ordered, title="Chip")
    return fig


# --------------------------------------------------------------------------- learning curve


@_styled
def plot_learning(
    scenario: Mapping[str, Any],
    *,
    timeseries: pd.DataFrame | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """In-house unit cost against cumulative volume (Wright's law), one line per generation.

    cost(n) = catalog unit cost x n^b / reference_volume^b with b = log2(learning rate), as
    the engine prices in-house chips: the catalog's unit_cost_usd holds at the generation's
    reference volume (a circle). With ``timeseries``, the volume delivered in the run is
    marked (a diamond, median over replications); the reference GPU's list price is a
    dotted horizontal line.
    """
    from sim.model import economics as ec

    gens: Mapping[str, Any] = get_dotted(scenario, "provider.inhouse_program.generations") or {}
    chips: Mapping[str, Any] = get_dotted(scenario, "catalog.chips") or {}
    fig = _figure(meta, "In-house chip unit cost against cumulative volume", (11.0, 6.0))
    ax = fig.subplots()
    ax.set_title("Wright's law: cost x learning rate per doubling of volume")
    ax.set_xlabel("Cumulative chips produced (log scale)")
    ax.set_ylabel("Unit cost, USD per chip (log scale)")
    delivered: dict[str, float] = {}
    if timeseries is not None and {"chips_delivered", "pool"} <= set(timeseries.columns):
        t = timeseries if "replication" in timeseries else timeseries.assign(replication=0)
        per_rep = t.groupby(["replication", "pool"])["chips_delivered"].sum()
        med = per_rep.groupby(level="pool").median()
        delivered = {str(k): float(v) for k, v in med.items()}
    pairs = sorted(
        ((str(g), str(get_dotted(chips, f"{g}.family") or "other")) for g in gens),
        key=lambda p: (
            _family_rank(p[1]),
            str(get_dotted(chips, f"{p[0]}.launch_date") or ""),
            p[0],
        ),
    )
    styles = chip_colors(pairs)
    handles: list[Any] = []
    for gid, _family in pairs:
        gen = gens[gid] if isinstance(gens[gid], Mapping) else {}
        unit = get_dotted(chips, f"{gid}.unit_cost_usd")
        ref_vol = gen.get("reference_volume_chips")
        lr = gen.get("learning_rate")
        if not (isinstance(unit, int | float) and isinstance(ref_vol, int | float)):
            continue
        if not isinstance(lr, int | float) or ref_vol <= 0:
            continue
        reached = delivered.get(gid, 0.0)
        n = np.geomspace(1.0, max(10.0 * float(ref_vol), 2.0 * reached), 200)
        scale = float(ec.wright_unit_cost_usd(1.0, ref_vol, lr))
        cost = float(unit) * np.asarray(ec.wright_unit_cost_usd(1.0, n, lr), dtype=float) / scale
        color, ls = styles[gid]
        label = (
            f"{chip_label(gid)}: x{lr:.2f} per doubling\n"
            f"(catalog {fmt_usd(float(unit))} at {ref_vol:,.0f} chips)"
        )
        (line,) = ax.plot(n, cost, color=color, linestyle=ls, label=label)
        handles.append(line)
        ax.plot([ref_vol], [unit], "o", color=color, markersize=7, markeredgecolor="black")
        if reached >= 1:
            at = float(unit) * float(ec.wright_unit_cost_usd(1.0, reached, lr)) / scale
            ax.plot([reached], [at], "D", color=color, markersize=6, markeredgecolor="black")
    if handles:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                color="#444444",
                linestyle="none",
                markeredgecolor="black",
                label="catalog unit cost at reference volume",
            )
        )
        if any(delivered.get(g, 0.0) >= 1 for g, _ in pairs):
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="D",
                    color="#444444",
                    linestyle="none",
                    markeredgecolor="black",
                    label="volume delivered in this run",
                )
            )
        ref_gpu = get_dotted(scenario, "provider.inhouse_program.reference_gpu")
        ref_cost = get_dotted(chips, f"{ref_gpu}.unit_cost_usd") if ref_gpu else None
        if isinstance(ref_cost, int | float):
            handles.append(
                ax.axhline(
                    ref_cost,
                    color=FAMILY_COLORS["nvidia_gpu"],
                    linestyle=":",
                    linewidth=1.5,
                    label=f"{chip_label(str(ref_gpu))} list price (reference GPU)",
                )
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        _usd_axis(ax)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(_fmt_count))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    else:
        _no_data(ax, "the scenario has no in-house chip generations")
    _legend_outside(fig, handles, title="Generation")
    return fig


# --------------------------------------------------------------------------- adoption


def adoption_shares(
    segments: pd.DataFrame, internal: Iterable[str] = (), *, by_segment: bool = False
) -> pd.DataFrame:
    """Share of chip-hours (training + serving) per family, per replication and month.

    Segments named in ``internal`` are left out of the customer total; with
    ``by_segment`` the shares are within each segment, all segments included. Columns:
    replication, month, [segment,] family, share. Months with no chip-hours have share NaN.
    """
    s = segments if "replication" in segments else segments.assign(replication=0)
    hours = s["training_chip_hours"].astype(float) + s["serving_chip_hours"].astype(float)
    s = s.assign(hours=hours)
    keys = ["replication", "month", *(["segment"] if by_segment else [])]
    skip = set(internal)
    if skip and not by_segment:
        s = s[~s["segment"].astype(str).isin(skip)]
    g = s.groupby([*keys, "family"], sort=True)["hours"].sum().reset_index()
    total = g.groupby(keys)["hours"].transform("sum").to_numpy(float)
    h = g["hours"].to_numpy(float)
    g["share"] = np.where(total > 0, h / np.where(total > 0, total, 1.0), np.nan)
    return g.drop(columns="hours")


def _fan_panel(
    ax: Axes,
    shares: pd.DataFrame,
    families: Sequence[str],
    handles: dict[str, Any],
    *,
    small: bool = False,
) -> None:
    months = sorted(set(shares["month"]))
    x = _months(months).to_numpy()
    for fam in families:
        sel = shares[shares["family"] == fam]
        if sel.empty:
            continue
        wide = sel.pivot_table(index="replication", columns="month", values="share")
        med, lo, hi = _median_and_fan(wide.reindex(columns=months).to_numpy(float))
        color = FAMILY_COLORS.get(fam, OTHER_COLOR)
        (line,) = ax.plot(x, med, color=color, label=family_label(fam))
        handles.setdefault(fam, line)
        if lo is not None and hi is not None:
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
            handles.setdefault("fan", _fan_handle())
    ax.set_ylim(-0.02, 1.02)
    _percent_axis(ax, decimals=0)
    if small:  # room for a label every other year at most
        locator = mdates.AutoDateLocator(minticks=2, maxticks=5)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    else:
        _date_axis(ax)


@_styled
def plot_adoption(
    segments: pd.DataFrame,
    *,
    scenario: Mapping[str, Any] | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """Share of chip-hours per family over time: all customers, then one panel per segment.

    Lines are medians over replications, with a 5th-95th percentile fan when there are
    several. Internal segments (``internal: true`` in the scenario) are left out of the
    customer panel and shown in their own small multiple.
    """
    seg_spec: Mapping[str, Any] = get_dotted(scenario, "segments") or {}
    internal = [k for k, v in seg_spec.items() if isinstance(v, Mapping) and v.get("internal")]
    overall = adoption_shares(segments, internal)
    per_seg = adoption_shares(segments, by_segment=True)
    present = set(per_seg["family"].astype(str))
    families = sorted(present, key=lambda f: (_family_rank(f), f))
    seg_names = list(dict.fromkeys(str(x) for x in segments["segment"]))
    ncol = 3
    nrow = max(1, math.ceil(len(seg_names) / ncol))
    fig = _figure(meta, "Adoption: share of chip-hours by chip family", (12.0, 3.8 + 2.4 * nrow))
    grid = fig.add_gridspec(1 + nrow, ncol, height_ratios=[1.6] + [1.0] * nrow)
    top = fig.add_subplot(grid[0, :])
    top.set_title("All customers" + (" (internal work excluded)" if internal else ""))
    top.set_ylabel("Share of chip-hours (%)")
    top.set_xlabel("Date (month)")
    handles: dict[str, Any] = {}
    _fan_panel(top, overall, families, handles)
    for i, seg in enumerate(seg_names):
        ax = fig.add_subplot(grid[1 + i // ncol, i % ncol])
        ax.set_title(seg + (" (internal)" if seg in internal else ""), fontsize=9.5)
        _fan_panel(ax, per_seg[per_seg["segment"] == seg], families, handles, small=True)
        ax.set_xlim(top.get_xlim())
        ax.set_ylabel("Share (%)")
        ax.set_xlabel("Date (month)")
    ordered = [handles[f] for f in families if f in handles]
    if "fan" in handles:
        ordered.append(handles["fan"])
    _legend_outside(fig, ordered, title="Family")
    return fig


# --------------------------------------------------------------------------- TCO breakdown

TCO_COMPONENTS: tuple[str, ...] = ("capital", "power", "facility", "maintenance", "nre")


def tco_totals(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Per pool: each TCO component and busy chip-hours summed over months, mean of reps."""
    t = timeseries if "replication" in timeseries else timeseries.assign(replication=0)
    cols = [f"{c}_usd" for c in TCO_COMPONENTS if f"{c}_usd" in t] + ["busy_chip_hours"]
    per_rep = t.groupby(["replication", "pool"])[cols].sum()
    return per_rep.groupby(level="pool").mean()


@_styled
def plot_tco_breakdown(
    timeseries: pd.DataFrame,
    *,
    scenario: Mapping[str, Any] | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """Stacked bars per chip: capital, power, facility, maintenance and NRE.

    Left: totals over the horizon (mean over replications). Right: the same per busy
    chip-hour. Program-level costs (acquisition, fixed team cost) belong to no chip and
    are not shown.
    """
    order_pairs = _chip_order(timeseries, scenario)
    totals = tco_totals(timeseries)
    order = [c for c, _ in order_pairs if c in totals.index]
    totals = totals.reindex(order)
    families = dict(order_pairs)
    fig = _figure(meta, "Provider TCO by chip and component", (12.0, 5.8))
    ax_tot, ax_unit = fig.subplots(1, 2)
    x = np.arange(len(order))
    busy = totals["busy_chip_hours"].to_numpy(float)
    handles: list[Any] = []
    for ax, per_hour in ((ax_tot, False), (ax_unit, True)):
        bottom = np.zeros(len(order))
        for comp in TCO_COMPONENTS:
            col = f"{comp}_usd"
            if col not in totals:
                continue
            v = totals[col].to_numpy(float)
            if per_hour:
                v = np.where(busy > 0, v / np.where(busy > 0, busy, 1.0), 0.0)
            bars = ax.bar(
                x,
                v,
                bottom=bottom,
                color=COMPONENT_COLORS[comp],
                width=0.7,
                edgecolor="white",
                linewidth=0.5,
                label=COMPONENT_LABELS[comp],
            )
            bottom = bottom + v
            if not per_hour:
                handles.append(bars)
        ax.set_xticks(x, [chip_label(c) for c in order], rotation=45, ha="right")
        for tick, chip in zip(ax.get_xticklabels(), order, strict=True):
            tick.set_color(FAMILY_COLORS.get(families.get(chip, ""), OTHER_COLOR))
        ax.set_xlabel("Chip (label colour = family)")
        _usd_axis(ax)
        ax.grid(axis="x", visible=False)
    ax_tot.set_title("Total over the horizon")
    ax_tot.set_ylabel("USD over the horizon (mean of replications)")
    ax_unit.set_title("Per busy chip-hour")
    ax_unit.set_ylabel("USD per busy chip-hour")
    _legend_outside(fig, handles, title="Component")
    return fig


# --------------------------------------------------------------------------- program


@_styled
def plot_program(
    program: pd.DataFrame,
    *,
    breakeven_date: str | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """Cumulative program cost (NRE, acquisition, team) against cumulative savings.

    Medians over replications with 5th-95th percentile fans, the net position dashed, and
    the break-even month (from summary.json) as a labelled vertical line.
    """
    p = program if "replication" in program else program.assign(replication=0)
    months = sorted(set(p["month"]))
    x = _months(months).to_numpy()
    fig = _figure(meta, "In-house chip program: cumulative cost against savings", (11.0, 6.0))
    ax = fig.subplots()
    ax.set_title("Savings = reference-GPU cost of the in-house chips' work - their running cost")
    ax.set_ylabel("Cumulative USD")
    ax.set_xlabel("Date (month)")
    series = (
        ("cumulative_program_cost_usd", "Program cost (NRE, acquisition, team)", "#b5446e", "-"),
        ("cumulative_savings_usd", "Savings against the reference GPU", "#2e7d32", "-"),
        ("cumulative_net_usd", "Net (savings - program cost)", "#444444", "--"),
    )
    handles: list[Any] = []
    for col, label, color, ls in series:
        if col not in p:
            continue
        wide = p.pivot_table(index="replication", columns="month", values=col)
        med, lo, hi = _median_and_fan(wide.reindex(columns=months).to_numpy(float))
        (line,) = ax.plot(x, med, color=color, linestyle=ls, label=label)
        handles.append(line)
        if lo is not None and hi is not None:
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
    ax.axhline(0.0, color="#999999", linewidth=0.8)
    if breakeven_date:
        when = pd.Timestamp(breakeven_date)
        handles.append(
            ax.axvline(
                float(mdates.date2num(when.to_pydatetime())),
                color="black",
                linewidth=1.4,
                linestyle=":",
                label=f"Break-even {when:%b %Y}",
            )
        )
        ax.annotate(
            f"break-even\n{when:%b %Y}",
            (float(mdates.date2num(when.to_pydatetime())), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4),
            textcoords="offset points",
            va="top",
            fontsize=9,
        )
    elif months:
        ax.text(
            0.02,
            0.95,
            f"no break-even by {pd.Timestamp(months[-1]):%b %Y}",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
            color="#b5446e",
            fontweight="bold",
        )
    _usd_axis(ax)
    _date_axis(ax)
    if p["replication"].nunique() > 1:
        handles.append(_fan_handle())
    _legend_outside(fig, handles)
    return fig


# --------------------------------------------------------------------------- queue


def queue_series(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Per month and pool: jobs-weighted mean wait (hours) and utilisation, over replications."""
    t = timeseries.assign(
        wait_x_jobs=timeseries["mean_wait_hours"].astype(float)
        * timeseries["jobs_started"].astype(float)
    )
    cols = ["wait_x_jobs", "jobs_started", "busy_chip_hours", "installed_chip_hours"]
    g = t.groupby(["month", "pool"], sort=True)[cols].sum().reset_index()
    jobs = g["jobs_started"].to_numpy(float)
    inst = g["installed_chip_hours"].to_numpy(float)
    g["mean_wait_hours"] = np.where(
        jobs > 0, g["wait_x_jobs"].to_numpy(float) / np.where(jobs > 0, jobs, 1.0), np.nan
    )
    g["utilization"] = np.where(
        inst > 0, g["busy_chip_hours"].to_numpy(float) / np.where(inst > 0, inst, 1.0), np.nan
    )
    return g


@_styled
def plot_queue(
    timeseries: pd.DataFrame,
    *,
    scenario: Mapping[str, Any] | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """Mean training-job wait (top) and utilisation (bottom) per pool, monthly.

    Wait is the jobs-weighted mean over replications of the mean wait of the jobs started
    that month; utilisation is busy over installed chip-hours, summed over replications.
    """
    g = queue_series(timeseries)
    order = _chip_order(timeseries, scenario)
    styles = chip_colors(order)
    fig = _figure(meta, "Queues and utilisation per pool", (12.0, 7.0))
    ax_w, ax_u = fig.subplots(2, 1, sharex=True)
    ax_w.set_title("Mean wait of the training jobs started in the month")
    ax_w.set_ylabel("Mean wait (hours)")
    ax_u.set_title("Utilisation (busy / installed chip-hours)")
    ax_u.set_ylabel("Utilisation (%)")
    ax_u.set_xlabel("Date (month)")
    handles: dict[str, Any] = {}
    waits = 0
    for chip, _family in order:
        sel = g[g["pool"] == chip]
        x = _months(sel["month"]).to_numpy()
        color, ls = styles[chip]
        if float(sel["jobs_started"].sum()) > 0:
            (line,) = ax_w.plot(
                x,
                sel["mean_wait_hours"].to_numpy(float),
                color=color,
                linestyle=ls,
                label=chip_label(chip),
            )
            handles.setdefault(chip, line)
            waits += 1
        util = sel["utilization"].to_numpy(float)
        if np.isfinite(util).any():
            (line,) = ax_u.plot(x, util, color=color, linestyle=ls, label=chip_label(chip))
            handles.setdefault(chip, line)
    if not waits:
        _no_data(ax_w, "no training jobs started")
    ax_w.yaxis.set_major_formatter(mticker.FuncFormatter(_fmt_count))
    ax_u.set_ylim(-0.02, 1.05)
    _percent_axis(ax_u, decimals=0)
    _date_axis(ax_u)
    _legend_outside(fig, [handles[c] for c, _ in order if c in handles], title="Pool")
    return fig


# --------------------------------------------------------------------------- sensitivity


def _fmt_value(v: Any) -> str:
    """A parameter value for a tick label.

    >>> [_fmt_value(v) for v in (0.85, 123456.0, 3, "fifo", None)]
    ['0.85', '123,456', '3', 'fifo', '-']
    """
    if v is None:
        return "-"
    if isinstance(v, float | np.floating):
        x = float(v)
        return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"
    return str(v)


def _fmt_plain(x: float, _pos: object = None, digits: int = 4) -> str:
    return f"{x:,.{digits}g}"


def _metric_formatter(metric: str) -> Callable[..., str]:
    return fmt_usd if _is_usd(metric) else _fmt_plain


def _float(v: Any, default: float) -> float:
    try:
        out = float(v)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


@_styled
def plot_tornado(
    tornado: Sequence[Mapping[str, Any]],
    *,
    metric: str,
    base: float | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """One-at-a-time sensitivity: the metric with each parameter at its low and high value.

    Bars start at the metric's ``base`` value (else a row's ``base``, else the middle of
    the first row); the widest swing is at the top.
    """
    rows = [r for r in tornado if isinstance(r, Mapping)]
    if base is None or not math.isfinite(base):
        first = rows[0] if rows else {}
        mid = 0.5 * (_float(first.get("metric_low"), 0.0) + _float(first.get("metric_high"), 0.0))
        base = _float(first.get("base"), mid)
    rows.sort(
        key=lambda r: abs(_float(r.get("metric_high"), base) - _float(r.get("metric_low"), base))
    )
    name = metric.removeprefix("metric.")
    fig = _figure(meta, f"Tornado: what moves {name}", (11.0, 2.2 + 0.5 * max(len(rows), 3)))
    ax = fig.subplots()
    ax.set_title("Each parameter at its low and its high value, the others at their base")
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel("Parameter (low to high value)")
    y = np.arange(len(rows))
    lows = np.array([_float(r.get("metric_low"), base) for r in rows])
    highs = np.array([_float(r.get("metric_high"), base) for r in rows])
    h_low = ax.barh(
        y, lows - base, left=base, height=0.6, color="#1f6fb4", label="parameter at its low value"
    )
    h_high = ax.barh(
        y, highs - base, left=base, height=0.6, color="#e8710a", label="parameter at its high value"
    )
    labels = [
        f"{_param_label(str(r.get('parameter', '?')))}\n"
        f"({_fmt_value(r.get('low_value'))} to {_fmt_value(r.get('high_value'))})"
        for r in rows
    ]
    ax.set_yticks(y, labels, fontsize=8.5)
    fmt = _metric_formatter(metric)
    h_base = ax.axvline(
        base, color="black", linewidth=1.0, label=f"base: {fmt(base, None, digits=4)}"
    )
    ax.xaxis.set_major_formatter(DistinctFormatter(fmt))
    ax.grid(axis="y", visible=False)
    if not rows:
        _no_data(ax, "no tornado rows")
    _legend_outside(fig, [h_low, h_high, h_base])
    return fig


def sobol_table(sobol: Mapping[str, Any]) -> pd.DataFrame:
    """S1, S1_conf, ST, ST_conf per parameter (rows sorted by ST, largest last).

    Accepts ``{"S1": {param: value}, ...}`` or SALib's lists with ``names``.
    """
    names = sobol.get("names") or sobol.get("parameters")
    cols: dict[str, dict[str, float]] = {}
    for key in ("S1", "S1_conf", "ST", "ST_conf"):
        val = sobol.get(key)
        if isinstance(val, Mapping):
            cols[key] = {str(k): _float(v, np.nan) for k, v in val.items()}
        elif isinstance(val, list | tuple) and isinstance(names, list | tuple):
            cols[key] = {str(n): _float(v, np.nan) for n, v in zip(names, val, strict=False)}
    frame = pd.DataFrame(cols, dtype=float)
    for key in ("S1", "S1_conf", "ST", "ST_conf"):
        if key not in frame:
            frame[key] = np.nan
    # indices ranked from a sampled sweep (RBD-FAST) have first-order values only
    order = "ST" if bool(frame["ST"].notna().any()) else "S1"
    return frame.sort_values(order, ascending=True, na_position="first")


@_styled
def plot_sobol(
    sobol: Mapping[str, Any],
    *,
    metric: str,
    meta: FigureMeta | None = None,
) -> Figure:
    """First-order (S1) and total (ST) Sobol indices per parameter, with confidence bars."""
    table = sobol_table(sobol)
    n = len(table)
    name = metric.removeprefix("metric.")
    first_only = not bool(table["ST"].notna().any())
    title = f"Sobol indices of {name}"
    if first_only and sobol.get("method") == "rbd-fast":
        title = f"First-order indices of {name} (RBD-FAST, from a sampled sweep)"
    fig = _figure(meta, title, (11.0, 2.2 + 0.55 * max(n, 3)))
    ax = fig.subplots()
    ax.set_title("Share of the output variance due to each parameter (whiskers: confidence)")
    ax.set_xlabel("Sobol index (fraction of output variance, 0 to 1)")
    ax.set_ylabel("Parameter")
    y = np.arange(n)
    h = 0.38
    err = {"elinewidth": 1.0, "ecolor": "#333333"}
    s1 = ax.barh(
        y + h / 2,
        table["S1"].fillna(0.0).to_numpy(),
        height=h,
        color="#1f6fb4",
        xerr=table["S1_conf"].fillna(0.0).to_numpy(),
        capsize=3,
        error_kw=err,
        label="S1 (first order)",
    )
    handles = [s1]
    if not first_only:
        handles.append(
            ax.barh(
                y - h / 2,
                table["ST"].fillna(0.0).to_numpy(),
                height=h,
                color="#e8710a",
                xerr=table["ST_conf"].fillna(0.0).to_numpy(),
                capsize=3,
                error_kw=err,
                label="ST (total, with interactions)",
            )
        )
    ax.set_yticks(y, [_param_label(str(i)) for i in table.index], fontsize=8.5)
    ax.axvline(0.0, color="#555555", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    if n == 0:
        _no_data(ax, "no Sobol indices")
    _legend_outside(fig, handles)
    return fig


# --------------------------------------------------------------------------- sweep

PREFERRED_METRICS: tuple[str, ...] = (
    "metric.provider.tco_usd",
    "metric.provider.margin_usd",
    "metric.inhouse_program.npv_usd",
    "metric.provider.nvidia_spend_usd",
    "metric.usage_ratio_vs_gpu.trainium.2023",
    "metric.usage_ratio_vs_gpu.inferentia.2023",
)


def sweep_metrics(runs: pd.DataFrame, limit: int = 4) -> list[str]:
    """Numeric metric columns to draw: the preferred headline ones first, then the rest."""
    numeric = [
        str(c)
        for c in runs.columns
        if str(c).startswith("metric.")
        and pd.api.types.is_numeric_dtype(runs[c])
        and bool(runs[c].notna().any())
    ]
    ordered = [m for m in PREFERRED_METRICS if m in numeric]
    ordered += [m for m in numeric if m not in ordered]
    return ordered[:limit]


def sweep_params(runs: pd.DataFrame) -> list[str]:
    """Parameter columns whose value varies across the runs."""
    return [str(c) for c in runs.columns if str(c).startswith("param.") and runs[c].nunique() > 1]


def _mean_ci(values: pd.Series) -> tuple[float, float, float]:
    """Mean and the 95% confidence interval of the mean (Student t).

    >>> [round(v, 3) for v in _mean_ci(pd.Series([1.0, 2.0, 3.0]))]
    [2.0, -0.484, 4.484]
    """
    from scipy.special import stdtrit  # Student t quantile; lighter than scipy.stats

    v = values.dropna().to_numpy(float)
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    m = float(v.mean())
    if v.size < 2:
        return (m, m, m)
    half = float(stdtrit(v.size - 1, 0.975)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return (m, m - half, m + half)


def sweep_points(runs: pd.DataFrame, params: Sequence[str], metric: str) -> pd.DataFrame:
    """Per point of ``params``: runs (n), the metric's mean and its 95% CI (ci_low, ci_high)."""
    rows = []
    for key, grp in runs.groupby(list(params), sort=True, dropna=False):
        vals = key if isinstance(key, tuple) else (key,)
        m, lo, hi = _mean_ci(grp[metric])
        rows.append((*vals, len(grp), m, lo, hi))
    return pd.DataFrame(rows, columns=[*params, "n", "mean", "ci_low", "ci_high"])


def _is_grid(runs: pd.DataFrame, params: Sequence[str]) -> bool:
    if len(params) != 2:
        return False
    nx, ny = runs[params[0]].nunique(), runs[params[1]].nunique()
    points = len(runs.drop_duplicates(list(params)))
    return points == nx * ny and nx <= 30 and ny <= 30


@_styled
def plot_sweep(
    runs: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    meta: FigureMeta | None = None,
) -> Figure:
    """The response of headline metrics to the swept parameters.

    One swept parameter: each metric against it, the mean over the runs at each point with
    a 95% confidence band. Two parameters on a full grid: a heatmap of the mean of the
    first two metrics. Otherwise (sampled points, more parameters): the first metric
    against each parameter, one dot per run.
    """
    chosen = list(metrics) if metrics else sweep_metrics(runs)
    params = sweep_params(runs)
    if not chosen or not params:
        fig = _figure(meta, "Sweep response", (9.0, 4.0))
        ax = fig.subplots()
        ax.set_title("Nothing to draw")
        ax.set_xlabel("parameter (no unit)")
        ax.set_ylabel("metric (no unit)")
        _no_data(ax, "the sweep has no varying parameter or no numeric metric")
        return fig
    if _is_grid(runs, params):
        return _sweep_heatmap(runs, params, chosen, meta)
    one = len(params) == 1 and runs[params[0]].nunique() <= 50
    panels = [(params[0], m) for m in chosen] if one else [(p, chosen[0]) for p in params[:6]]
    ncol = min(2 if one else 3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig = _figure(meta, "Sweep response", (5.6 * ncol + 1.8, 3.6 * nrow + 1.0))
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    handles: list[Any] = []
    for ax, (param, metric) in zip(axes, panels, strict=False):
        ax.set_xlabel(_param_label(param))
        ax.set_ylabel(metric_label(metric))
        ax.set_title(f"{metric.removeprefix('metric.')} against {_param_label(param)}", fontsize=10)
        ax.yaxis.set_major_formatter(DistinctFormatter(_metric_formatter(metric)))
        if one:
            pts = sweep_points(runs, [param], metric)
            xs = pts[param].to_numpy()
            if not pd.api.types.is_numeric_dtype(pts[param]):
                ax.set_xticks(np.arange(len(xs)), [str(v) for v in xs])
                xs = np.arange(len(xs))
            (line,) = ax.plot(
                xs, pts["mean"].to_numpy(float), color="#1f6fb4", marker="o", label="mean over runs"
            )
            band = ax.fill_between(
                xs,
                pts["ci_low"].to_numpy(float),
                pts["ci_high"].to_numpy(float),
                color="#1f6fb4",
                alpha=0.2,
                linewidth=0,
                label="95% confidence interval",
            )
            handles = handles or [line, band]
        else:
            dots = ax.scatter(
                runs[param].to_numpy(),
                runs[metric].to_numpy(float),
                s=8,
                alpha=0.5,
                color="#1f6fb4",
                label="one run",
            )
            handles = handles or [dots]
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    _legend_outside(fig, handles)
    return fig


def _sweep_heatmap(
    runs: pd.DataFrame, params: Sequence[str], metrics: Sequence[str], meta: FigureMeta | None
) -> Figure:
    px, py = params[0], params[1]
    shown = list(metrics[:2])
    fig = _figure(meta, "Sweep response on a two-parameter grid", (6.4 * len(shown) + 0.6, 5.6))
    axes = fig.subplots(1, len(shown), squeeze=False).ravel()
    for ax, metric in zip(axes, shown, strict=False):
        pts = sweep_points(runs, [px, py], metric)
        wide = pts.pivot(index=py, columns=px, values="mean").sort_index().sort_index(axis=1)
        z = wide.to_numpy(float)
        im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(np.arange(z.shape[1]), [_fmt_value(v) for v in wide.columns])
        ax.set_yticks(np.arange(z.shape[0]), [_fmt_value(v) for v in wide.index])
        ax.set_xlabel(_param_label(px))
        ax.set_ylabel(_param_label(py))
        ax.set_title(f"Mean {metric.removeprefix('metric.')}", fontsize=10)
        ax.grid(False)
        fmt = _metric_formatter(metric)
        finite = z[np.isfinite(z)]
        if 0 < z.size <= 100 and finite.size:
            mid = 0.5 * (float(finite.min()) + float(finite.max()))
            cells = [(i, j, float(v)) for (i, j), v in np.ndenumerate(z) if np.isfinite(v)]
            texts = distinct_labels(fmt, [v for _, _, v in cells])
            for (i, j, v), text in zip(cells, texts, strict=True):
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if v < mid else "black",
                )
        bar = fig.colorbar(im, ax=ax)
        bar.set_label(metric_label(metric))
        bar.ax.yaxis.set_major_formatter(DistinctFormatter(fmt))
    return fig


# --------------------------------------------------------------------------- folders


class FolderData(Folder):
    """A folder's contents (:class:`sim.results.folders.Folder`) and the figures that fit it."""

    @property
    def meta(self) -> FigureMeta:
        """Footnote facts from the manifest."""
        m = self.manifest
        name = m.get("scenario_name") or get_dotted(self.scenario, "name") or self.folder.name
        seed = m.get("seed", self.summary.get("seed"))
        extra = ""
        if not self.is_run and isinstance(m.get("runs"), int):
            extra = f"{m['runs']:,} runs"
        return FigureMeta(
            scenario=str(name),
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            version=str(m.get("xpusim_version") or __version__),
            extra=extra,
        )

    def reasons(self) -> dict[str, str | None]:
        """Per figure kind: None if it fits this folder, else why it does not."""
        out: dict[str, str | None] = dict.fromkeys(KINDS, None)
        what = f"{self.folder} is a {self.describe()}"
        ts = self.table("timeseries") if self.is_run else None
        if ts is None:
            for k in RUN_KINDS:
                out[k] = f"needs a run folder (timeseries.parquet); {what}"
        else:
            have = set(ts.columns)
            need = {
                "cost": {
                    "tco_usd",
                    "pflop_delivered",
                    "mtok_delivered",
                    "busy_chip_hours",
                    "training_chip_hours",
                    "serving_chip_hours",
                    "installed_chip_hours",
                    "price_usd_per_chip_hour",
                    "pool",
                    "family",
                    "month",
                },
                "tco_breakdown": {"capital_usd", "busy_chip_hours", "pool", "family"},
                "queue": {
                    "mean_wait_hours",
                    "jobs_started",
                    "busy_chip_hours",
                    "installed_chip_hours",
                    "pool",
                    "family",
                    "month",
                },
            }
            for kind, cols in need.items():
                if not cols <= have:
                    missing = ", ".join(sorted(cols - have))
                    out[kind] = f"timeseries.parquet lacks columns {missing}"
            if not get_dotted(self.scenario, "provider.inhouse_program.generations"):
                out["learning"] = "the scenario in manifest.json has no in-house chip generations"
            seg = self.table("segments")
            if seg is None or seg.empty:
                out["adoption"] = "the folder has no segments.parquet"
            prog = self.table("program")
            if prog is None or prog.empty or "cumulative_savings_usd" not in prog:
                out["program"] = "the scenario has no in-house chip program (program.parquet)"
        sens = self.sensitivity or {}
        need_sens = f"needs a sensitivity folder (sensitivity.json); {what}"
        out["tornado"] = None if sens.get("tornado") else need_sens
        out["sobol"] = None if isinstance(sens.get("sobol"), Mapping) else need_sens
        runs = self.table("runs")
        if runs is None or not sweep_params(runs) or not sweep_metrics(runs):
            out["sweep"] = f"needs a sweep folder (runs.parquet) with a varying parameter; {what}"
        return out

    def draw(self, kind: str) -> Figure:
        """The figure of one kind (call :meth:`reasons` first: it must fit)."""
        meta = self.meta
        scn = self.scenario
        if kind == "cost":
            return plot_cost(self.need("timeseries"), scenario=scn, meta=meta)
        if kind == "learning":
            return plot_learning(scn or {}, timeseries=self.table("timeseries"), meta=meta)
        if kind == "adoption":
            return plot_adoption(self.need("segments"), scenario=scn, meta=meta)
        if kind == "tco_breakdown":
            return plot_tco_breakdown(self.need("timeseries"), scenario=scn, meta=meta)
        if kind == "program":
            be = get_dotted(self.summary, "inhouse_program.breakeven_date")
            return plot_program(
                self.need("program"),
                breakeven_date=be if isinstance(be, str) else None,
                meta=meta,
            )
        if kind == "queue":
            return plot_queue(self.need("timeseries"), scenario=scn, meta=meta)
        sens = self.sensitivity or {}
        if kind == "tornado":
            base = sens.get("base")
            return plot_tornado(
                sens.get("tornado") or [],
                metric=self.metric,
                base=float(base) if isinstance(base, int | float) else None,
                meta=meta,
            )
        if kind == "sobol":
            return plot_sobol(sens.get("sobol") or {}, metric=self.metric, meta=meta)
        if kind == "sweep":
            return plot_sweep(self.need("runs"), meta=meta)
        check_kinds([kind])
        raise AssertionError(f"no drawing for kind {kind!r}")  # pragma: no cover


def _did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else None


def check_kinds(kinds: Iterable[str]) -> list[str]:
    """The figure kinds, de-duplicated, each checked (UserError with a suggestion).

    >>> check_kinds(["cost", "tco-breakdown", "cost"])
    ['cost', 'tco_breakdown']
    >>> check_kinds(["tornadoo"])
    Traceback (most recent call last):
    ...
    sim.errors.UserError: unknown figure kind 'tornadoo'; expected one of cost, learning, \
adoption, tco_breakdown, program, queue, tornado, sobol, sweep (did you mean 'tornado'?)
    """
    out: list[str] = []
    for kind in kinds:
        k = kind.strip().lower().replace("-", "_")
        if k not in KINDS:
            raise UserError(
                f"unknown figure kind '{kind}'",
                expected="one of " + ", ".join(KINDS),
                hint=_did_you_mean(k, KINDS),
            )
        if k not in out:
            out.append(k)
    return out


def check_formats(formats: Iterable[str]) -> list[str]:
    """The figure formats, de-duplicated, each checked to be png or svg."""
    out: list[str] = []
    for fmt in formats:
        f = fmt.strip().lower().lstrip(".")
        if f not in FORMATS:
            raise UserError(
                f"unknown figure format '{fmt}'",
                expected="png or svg",
                hint=_did_you_mean(f, FORMATS),
            )
        if f not in out:
            out.append(f)
    return out


def output_folder_data(folder: Path | str) -> FolderData:
    """A run, sweep or sensitivity folder that plot and report may write into.

    The folder itself must not be a symbolic link: nothing is written through one.
    """
    open_output_folder(folder)
    return FolderData(folder)


def plot_folder(
    folder: Path | str,
    kinds: Sequence[str] | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Draw the figures of a run, sweep or sensitivity folder into ``<folder>/figures/``.

    With ``kinds`` None, every figure that fits the folder; otherwise exactly those kinds
    (one that does not fit is a :class:`UserError` saying why). Returns the files written,
    in :data:`KINDS` order, then format order.
    """
    data = output_folder_data(folder)
    fmts = check_formats(formats)
    if not fmts:
        raise UserError("no figure format given", expected="png or svg")
    reasons = data.reasons()
    if kinds is None:
        todo = [k for k in KINDS if reasons[k] is None]
    else:
        todo = check_kinds(kinds)
        for k in todo:
            why = reasons[k]
            if why is not None:
                raise UserError(f"cannot draw '{k}' for {data.folder}: {why}")
    out_dir = data.folder / "figures"
    check_not_link(out_dir, "figures folder")
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
    if not out_dir.is_dir():
        raise UserError(f"{out_dir} is not a folder; cannot draw the figures into it")
    written: list[Path] = []
    for kind in todo:
        written.extend(save_figure(data.draw(kind), out_dir / kind, fmts))
    return written
