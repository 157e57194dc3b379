"""Which figures fit a folder, drawing them, and writing them to ``<folder>/figures/``.

A run folder gets the run figures (cost, learning, adoption, tco_breakdown, program,
queue), a sensitivity folder the tornado and the Sobol indices, a sweep folder the sweep
response; :func:`figure_reasons` says why a figure does not fit, :func:`plot_folder` draws
and writes those that do.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from sim import __version__
from sim.errors import UserError
from sim.results.folders import Folder, figures_folder, open_output_folder
from sim.results.run_folder import read_summary
from sim.views.adoption import plot_adoption
from sim.views.compare_figure import plot_compare
from sim.views.cost import plot_cost
from sim.views.program import plot_learning, plot_program
from sim.views.queue import plot_queue
from sim.views.sensitivity import plot_sobol, plot_tornado
from sim.views.style import FORMATS, FigureMeta, save_figure
from sim.views.sweep import plot_sweep, sweep_metrics, sweep_params
from sim.views.tco import plot_tco_breakdown

__all__ = [
    "KINDS",
    "RUN_KINDS",
    "SENSITIVITY_KINDS",
    "SWEEP_KINDS",
    "check_formats",
    "check_kinds",
    "draw",
    "figure_meta",
    "figure_reasons",
    "plot_folder",
]

RUN_KINDS: tuple[str, ...] = ("cost", "learning", "adoption", "tco_breakdown", "program", "queue")
SENSITIVITY_KINDS: tuple[str, ...] = ("tornado", "sobol")
SWEEP_KINDS: tuple[str, ...] = ("sweep",)
KINDS: tuple[str, ...] = RUN_KINDS + SENSITIVITY_KINDS + SWEEP_KINDS
"""Every figure kind, in drawing order."""

#: The timeseries.parquet columns each run figure needs.
_NEEDED_COLUMNS: dict[str, frozenset[str]] = {
    "cost": frozenset(
        {
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
        }
    ),
    "tco_breakdown": frozenset({"capital_usd", "busy_chip_hours", "pool", "family"}),
    "queue": frozenset(
        {
            "mean_wait_hours",
            "jobs_started",
            "busy_chip_hours",
            "installed_chip_hours",
            "pool",
            "family",
            "month",
        }
    ),
}


def figure_meta(folder: Folder) -> FigureMeta:
    """Footnote facts of a folder's figures, from its manifest."""
    m = folder.manifest
    name = m.get("scenario_name") or (folder.scenario or {}).get("name") or folder.folder.name
    seed = m.get("seed", folder.summary.get("seed"))
    extra = ""
    if not folder.is_run and isinstance(m.get("runs"), int):
        extra = f"{m['runs']:,} runs"
    return FigureMeta(
        scenario=str(name),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        version=str(m.get("xpusim_version") or __version__),
        extra=extra,
    )


def _run_reasons(folder: Folder, what: str) -> dict[str, str | None]:
    ts = folder.table("timeseries") if folder.is_run else None
    if ts is None:
        return dict.fromkeys(RUN_KINDS, f"needs a run folder (timeseries.parquet); {what}")
    out: dict[str, str | None] = dict.fromkeys(RUN_KINDS, None)
    have = set(ts.columns)
    for kind, cols in _NEEDED_COLUMNS.items():
        if not cols <= have:
            missing = ", ".join(sorted(cols - have))
            out[kind] = f"timeseries.parquet lacks columns {missing}"
    scenario = folder.scenario_model
    prog = scenario.provider.inhouse_program if scenario is not None else None
    if scenario is None:
        problem = " ".join(str(folder.scenario_problem).split())
        short = problem if len(problem) <= 120 else problem[:117] + "..."
        out["learning"] = (
            f"the scenario in manifest.json cannot be read by this version ({short}); "
            "re-run it to draw the learning curve"
        )
    elif prog is None or not prog.generations:
        out["learning"] = "the scenario in manifest.json has no in-house chip generations"
    seg = folder.table("segments")
    if seg is None or seg.empty:
        out["adoption"] = "the folder has no segments.parquet"
    value = folder.table("program_value")
    if value is None or value.empty or "cumulative_profit_usd" not in value:
        out["program"] = (
            "the run has no program value (program_value.parquet): its scenario has no "
            "in-house chip program, or it ran with --no-counterfactual"
        )
    return out


def figure_reasons(folder: Folder) -> dict[str, str | None]:
    """Per figure kind: None if it fits the folder, else why it does not."""
    what = f"{folder.folder} is a {folder.describe()}"
    out = _run_reasons(folder, what)
    sens = folder.sensitivity or {}
    need_sens = f"needs a sensitivity folder (sensitivity.json); {what}"
    out["tornado"] = None if sens.get("tornado") else need_sens
    out["sobol"] = None if isinstance(sens.get("sobol"), Mapping) else need_sens
    runs = folder.table("runs")
    out["sweep"] = (
        None
        if runs is not None and sweep_params(runs) and sweep_metrics(runs)
        else f"needs a sweep folder (runs.parquet) with a varying parameter; {what}"
    )
    return out


def _internal(folder: Folder) -> list[str]:
    """The segments of the folder's scenario that are the provider's own work."""
    scenario = folder.scenario_model
    segments = scenario.segments if scenario is not None else {}
    return [name for name, seg in segments.items() if seg.internal]


def _draw_tornado(folder: Folder, meta: FigureMeta) -> Figure:
    sens = folder.sensitivity or {}
    base = sens.get("base")
    return plot_tornado(
        sens.get("tornado") or [],
        metric=folder.metric,
        base=float(base) if isinstance(base, int | float) else None,
        meta=meta,
    )


def _draw_program(folder: Folder, meta: FigureMeta) -> Figure:
    return plot_program(folder.need("program_value"), folder.summary, meta=meta)


_DRAW: dict[str, Callable[[Folder, FigureMeta], Figure]] = {
    "cost": lambda f, m: plot_cost(f.need("timeseries"), scenario=f.scenario_model, meta=m),
    "learning": lambda f, m: plot_learning(
        f.scenario_model,  # type: ignore[arg-type]  # figure_reasons: it has generations
        timeseries=f.table("timeseries"),
        meta=m,
    ),
    "adoption": lambda f, m: plot_adoption(f.need("segments"), internal=_internal(f), meta=m),
    "tco_breakdown": lambda f, m: plot_tco_breakdown(
        f.need("timeseries"), scenario=f.scenario_model, meta=m
    ),
    "program": _draw_program,
    "queue": lambda f, m: plot_queue(f.need("timeseries"), scenario=f.scenario_model, meta=m),
    "tornado": _draw_tornado,
    "sobol": lambda f, m: plot_sobol(
        (f.sensitivity or {}).get("sobol") or {}, metric=f.metric, meta=m
    ),
    "sweep": lambda f, m: plot_sweep(f.need("runs"), meta=m),
}


def draw(folder: Folder, kind: str) -> Figure:
    """The figure of one kind (call :func:`figure_reasons` first: it must fit)."""
    check_kinds([kind])
    return _DRAW[kind](folder, figure_meta(folder))


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


def plot_folder(
    folder: Path | str,
    kinds: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[Path]:
    """Draw the figures of a run, sweep or sensitivity folder into ``<folder>/figures/``.

    With ``kinds`` None, every figure that fits the folder; otherwise exactly those kinds
    (one that does not fit is a :class:`UserError` saying why). Returns the files written,
    in :data:`KINDS` order, then format order. ``formats`` None means every format
    (:data:`~sim.views.style.FORMATS`). ``metrics`` (summary keys) are the metrics of the
    sweep figure, every one drawn (a UserError for one the sweep does not have, or for a
    folder that draws no sweep figure).
    """
    data = open_output_folder(folder)
    fmts = check_formats(FORMATS if formats is None else formats)
    if not fmts:
        raise UserError("no figure format given", expected="png or svg")
    reasons = figure_reasons(data)
    if kinds is None:
        todo = [k for k in KINDS if reasons[k] is None]
    else:
        todo = check_kinds(kinds)
        for k in todo:
            why = reasons[k]
            if why is not None:
                raise UserError(f"cannot draw '{k}' for {data.folder}: {why}")
    if metrics and "sweep" not in todo:
        raise UserError(
            "--metric chooses the metrics of the sweep figure; this draws none",
            key="--metric",
            hint="give a sweep folder (and --kind sweep)",
        )
    out_dir = figures_folder(data.folder)
    written: list[Path] = []
    for kind in todo:
        if kind == "sweep" and metrics:
            fig = plot_sweep(data.need("runs"), metrics=_sweep_columns(data, metrics),
                             meta=figure_meta(data))  # fmt: skip
        elif kind in _PER_METRIC and len(data.sensitivities) > 1:
            # one figure per metric of the analysis: the first under the kind's own name
            # (the report's), each later one under the kind and its metric
            for i, view in enumerate(_per_metric(data)):
                name = kind if i == 0 else f"{kind}-{_slug(view.metric)}"
                written.extend(save_figure(draw(view, kind), out_dir / name, fmts))
            continue
        else:
            fig = draw(data, kind)
        written.extend(save_figure(fig, out_dir / kind, fmts))
    return written


#: Figure kinds drawn once per metric of a sensitivity folder.
_PER_METRIC = ("tornado", "sobol")


def _per_metric(data: Folder) -> list[Folder]:
    """The folder once per metric of its sensitivity analysis, each showing that metric."""
    views = []
    for sens in data.sensitivities:
        view = copy.copy(data)
        view.sensitivity = sens
        views.append(view)
    return views


def _slug(metric: str) -> str:
    """A file-name part for a metric key.

    >>> _slug("usage_ratio_vs_gpu.trainium.2023")
    'usage_ratio_vs_gpu-trainium-2023'
    """
    return re.sub(r"[^A-Za-z0-9_]+", "-", metric).strip("-") or "metric"


def _sweep_columns(data: Folder, metrics: Sequence[str]) -> list[str]:
    """The runs.parquet columns of ``metrics`` (a UserError naming a close key for one the
    sweep does not have)."""
    runs = data.need("runs")
    known = [str(c).removeprefix("metric.") for c in runs.columns if str(c).startswith("metric.")]
    out = []
    for m in metrics:
        key = m.removeprefix("metric.")
        if key not in known:
            raise UserError(
                f"the sweep has no metric {key!r}", key="--metric", hint=_did_you_mean(key, known)
            )
        out.append(f"metric.{key}")
    return out


def plot_compare_folders(
    folders: Sequence[Path | str], formats: Sequence[str] | None = None
) -> list[Path]:
    """Draw the compare figure of run ``folders`` (the first the base) into the first
    folder's ``figures/compare``."""
    fmts = check_formats(FORMATS if formats is None else formats)
    paths = [Path(f) for f in folders]
    if len(paths) < 2:
        raise UserError("--kind compare needs two run folders or more")
    names = [p.name for p in paths]
    named = [
        (n if names.count(n) == 1 else f"{n} ({i + 1})", read_summary(p))
        for i, (n, p) in enumerate(zip(names, paths, strict=True))
    ]
    base = named[0][1]
    meta = FigureMeta(
        str(base.get("scenario", "unnamed scenario")),
        base.get("seed") if isinstance(base.get("seed"), int) else None,
    )
    fig = plot_compare(named, meta=meta)
    return save_figure(fig, figures_folder(paths[0]) / "compare", fmts)
