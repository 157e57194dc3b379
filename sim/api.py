"""The Python API: what the command line does, in-process, returning pandas DataFrames.

Example (examples/api_tour.py runs it in full)::

    import sim.api as xs

    scenario = xs.load("scenarios/baseline.yaml", {"economics.pue": 1.3})
    result = xs.run(scenario, seed=7)
    result.metric("provider.tco_usd")  # Estimate(key=..., label=..., unit='USD', mean=...)
    result.metrics                     # every metric: key, group, label, unit, mean, half_width95
    result.tables["timeseries"]        # the run's tables, dates as datetimes

- :func:`load` reads a scenario file with overrides (a mapping of dotted paths to values,
  or ``--set`` style ``"path=value"`` strings); bad input raises :class:`sim.errors.UserError`
  with the same message the command line prints.
- :func:`run` runs a scenario in memory (``out=`` also writes a run folder) and returns a
  :class:`Result`; :func:`read_run` reads a run folder into one.
- :func:`sweep` runs a grid and/or sample and returns a :class:`SweepResult` (one row per
  point, per run); :func:`read_sweep` reads a sweep folder into one.
- :func:`compare` lines up results as one DataFrame, with paired intervals when they share
  seeds (:mod:`sim.experiments.compare`).

Every DataFrame's date columns (``month``, ``date``, ``start``, ...) are ``datetime64``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.accounting.runner import RunOutput
from sim.accounting.runner import run as run_replications
from sim.errors import UserError
from sim.experiments.compare import compare_metric
from sim.experiments.design import build_design
from sim.experiments.orchestrate import run_sweep
from sim.model.estimate import check_run_size
from sim.results.run_folder import read_summary, write_run
from sim.results.sweep_folder import read_points, read_sweep_manifest
from sim.results.tables import read_table
from sim.scenario import LoadedScenario, load_scenario
from sim.views.headline import headline_rows

__all__ = [
    "Estimate",
    "Result",
    "SweepResult",
    "compare",
    "load",
    "read_run",
    "read_sweep",
    "run",
    "sweep",
]

Overrides = Mapping[str, Any] | Sequence[str] | None
"""Scenario overrides: ``{"economics.pue": 1.3}`` or ``["economics.pue=1.3"]``."""


@dataclass(frozen=True)
class Estimate:
    """A metric of a run: its mean over the replications and the half-width of its 95%
    Student-t interval (None with one replication), with the label and unit it is
    declared with (:mod:`sim.accounting.summary`)."""

    key: str
    label: str
    unit: str
    mean: Any
    half_width: float | None


@dataclass(frozen=True)
class Result:
    """A run: its summary (``summary.json`` as a dict), its tables, and where it was
    written (None for a run kept in memory)."""

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    folder: Path | None = None

    @property
    def replications(self) -> int:
        """How many replications the means are over."""
        n = self.summary.get("replication_count")
        return n if isinstance(n, int) else 1

    @property
    def metrics(self) -> pd.DataFrame:
        """Every metric: key, group, label, unit, mean and half_width95."""
        rows = headline_rows(self.summary, everything=True)
        return pd.DataFrame(
            {
                "key": [r.key for r in rows],
                "group": [r.group for r in rows],
                "label": [r.label for r in rows],
                "unit": [r.unit for r in rows],
                "mean": [r.value for r in rows],
                "half_width95": [r.half_width for r in rows],
            }
        )

    @property
    def headline(self) -> pd.DataFrame:
        """The metrics ``xpusim run`` prints by default (same columns as :attr:`metrics`)."""
        keys = [r.key for r in headline_rows(self.summary)]
        table = self.metrics
        return table.set_index("key").loc[keys].reset_index()

    def metric(self, key: str) -> Estimate:
        """One metric by its summary key (``provider.tco_usd``); a UserError naming the
        close ones for an unknown key."""
        for r in headline_rows(self.summary, everything=True):
            if r.key == key:
                return Estimate(r.key, r.label, r.unit, r.value, r.half_width)
        known = [r.key for r in headline_rows(self.summary, everything=True)]
        close = [k for k in known if key.split(".")[-1] in k][:5]
        raise UserError(
            f"no metric {key!r} in the summary",
            hint=f"close: {', '.join(close)}" if close else "see Result.metrics for the keys",
        )


@dataclass(frozen=True)
class SweepResult:
    """A sweep: per-point means, standard deviations and 95% half-widths (``points``),
    one row per run (``runs``), and its folder."""

    points: pd.DataFrame
    runs: pd.DataFrame
    folder: Path
    manifest: dict[str, Any]


def _override_strings(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [
            f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in overrides.items()
        ]
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def load(path: Path | str, overrides: Overrides = None) -> LoadedScenario:
    """A scenario file with ``overrides`` applied, validated (``.scenario`` is the typed
    model, ``.data`` the resolved mapping)."""
    return load_scenario(Path(path), _override_strings(overrides))


def _scenario(scenario: LoadedScenario | Path | str, overrides: Overrides) -> LoadedScenario:
    if isinstance(scenario, LoadedScenario):
        if overrides:
            raise UserError("give overrides to load(), or a scenario path to run()")
        return scenario
    return load(scenario, overrides)


def _datetimes(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its date columns (ISO text or dates) as datetime64."""
    out = table.copy()
    for column in out.columns:
        series = out[column]
        if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        sample = series.dropna()
        if sample.empty:
            continue
        first = sample.iloc[0]
        if isinstance(first, dt.date) or (
            isinstance(first, str)
            and len(first) in (7, 10)
            and first[:4].isdigit()
            and first[4:5] == "-"
        ):
            try:
                out[column] = pd.to_datetime(series)
            except (ValueError, TypeError):
                continue
    return out


def run(
    scenario: LoadedScenario | Path | str,
    overrides: Overrides = None,
    *,
    seed: int | None = None,
    workers: int | None = 1,
    out: Path | str | None = None,
    allow_large: bool = False,
) -> Result:
    """Run a scenario (a path, with ``overrides``, or what :func:`load` returned) from root
    ``seed`` (default: the scenario's) on ``workers`` processes (1: here; None: one per
    core; the result is the same). ``out``: also write a run folder there."""
    loaded = _scenario(scenario, overrides)
    if not allow_large:
        check_run_size(loaded.scenario)
    root = loaded.scenario.seed if seed is None else seed
    if out is not None:
        folder = write_run(
            Path(out), loaded, root, lambda: run_replications(loaded.scenario, root, workers)
        )
        return read_run(folder)
    output: RunOutput = run_replications(loaded.scenario, root, workers=workers)
    summary = json.loads(json.dumps(output.summary, default=str))
    return Result(summary, {k: _datetimes(v) for k, v in output.tables.items()})


def read_run(folder: Path | str) -> Result:
    """A run folder written by ``xpusim run`` (or :func:`run` with ``out``)."""
    path = Path(folder)
    summary = read_summary(path)
    tables = {p.stem: _datetimes(read_table(p, "")) for p in sorted(path.glob("*.parquet"))}
    return Result(summary, tables, path)


def sweep(
    scenario: LoadedScenario | Path | str,
    overrides: Overrides = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    sample: int | None = None,
    method: str = "lhs",
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    out: Path | str | None = None,
) -> SweepResult:
    """Run ``scenario`` over a ``grid`` ({path: values}) and/or ``sample`` points of its
    uncertain parameters, into ``out`` (default results/<name>/sweep-...); as ``xpusim
    sweep``, a second call with the same ``out`` resumes."""
    loaded = _scenario(scenario, overrides)
    axes = [f"{k}={','.join(str(v) for v in vs)}" for k, vs in (grid or {}).items()]
    if not axes and sample is None:
        raise UserError("nothing to sweep: give grid={path: values} and/or sample=N")
    design = build_design(
        loaded, grid=axes, sample=sample, method=method, replications=replications, seed=seed
    )
    outcome = run_sweep(loaded, design, Path(out) if out is not None else None, workers=workers)
    return read_sweep(outcome.folder)


def read_sweep(folder: Path | str) -> SweepResult:
    """A sweep folder written by ``xpusim sweep`` (or :func:`sweep`)."""
    path = Path(folder)
    manifest = read_sweep_manifest(path)
    if manifest is None:
        raise UserError(f"{path} is not a sweep folder (no manifest.json of kind 'sweep')")
    runs_file = path / "runs.parquet"
    runs = read_table(runs_file, "") if runs_file.is_file() else pd.DataFrame()
    return SweepResult(_datetimes(read_points(path)), _datetimes(runs), path, manifest)


def compare(results: Mapping[str, Result], *, everything: bool = False) -> pd.DataFrame:
    """Results side by side, as ``xpusim compare --format csv``: per metric and run, its
    mean, its difference from the first result, the 95% half-width of that difference
    (``paired`` over the ``pairs`` seeds both share where both stored the metric per
    replication: the difference too is then over those seeds) and the relative difference."""
    items = list(results.items())
    if len(items) < 2:
        raise UserError("compare needs two results or more")
    base_name, base = items[0]
    rows = []
    for r in headline_rows(base.summary, everything=everything):
        for name, other in items:
            d = compare_metric(base.summary, other.summary, r.key)
            rows.append(
                {
                    "key": r.key,
                    "label": r.label,
                    "unit": r.unit,
                    "run": name,
                    "mean": d.value,
                    "difference": d.absolute if name != base_name else None,
                    "half_width95": d.half_width if name != base_name else None,
                    "relative": d.relative if name != base_name else None,
                    "interval": d.pairing if name != base_name else None,
                    "pairs": d.pairs if name != base_name else None,
                }
            )
    return pd.DataFrame(rows)
