"""``xpusim calibrate``: fitting the model to targets, with intervals and held-out residuals.

Run on a scenario that records a calibration (``calibration:`` with targets and bounds), the
command needs nothing else: ``xpusim calibrate scenarios/baseline.yaml --in-place`` refits
the recorded free parameters to the recorded targets on the recorded seeds and seed sets,
and rewrites the values and the record.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from sim.cli.common import AllowLargeRunOption, FormatOption, SeedOption, SetOption, emit, load
from sim.errors import UserError, printable
from sim.model.estimate import check_run_size
from sim.model.schema import MAX_REPLICATIONS, CalibrationRecord
from sim.safeio import check_not_link, write_text
from sim.scenario import LoadedScenario, substitute
from sim.scenario.marks import read_text
from sim.scenario.paths import nested, value_at
from sim.views.tables import Column, Tabular, check_format
from sim.views.terminal import console, text

if TYPE_CHECKING:  # the calibration is imported when the command runs (lazy: `xpusim run`)
    from sim.experiments.calibration import FreeParameter, UncertainCalibration

__all__ = ["DEFAULT_SEED_SETS", "calibrate"]

_METHOD = (
    "xpusim calibrate: scipy.optimize Nelder-Mead on squared log residuals, common random "
    "numbers, horizon cut at the last target year; refitted on independent seed sets "
    "(value = mean over sets, interval = 95% Student-t over sets); residuals re-simulated "
    "on held-out seeds"
)

#: Seed sets a calibration is repeated on when neither the command nor the record says.
DEFAULT_SEED_SETS = 4


def _parse_target(given: str) -> tuple[str, float]:
    key, sep, value = given.partition("=")
    try:
        if not sep or not key.strip():
            raise ValueError
        return key.strip(), float(value)
    except ValueError:
        raise UserError(
            "bad --target",
            file="--target",
            expected="KEY=NUMBER, e.g. usage_ratio_vs_gpu.trainium.2023=0.005",
            found=repr(given),
        ) from None


def _start_value(given: str, path: str, loaded: LoadedScenario) -> float:
    """The current value of a free parameter, or a located error."""
    missing = object()
    value = value_at(loaded.data, path, missing)
    try:
        if value is missing:
            raise KeyError(path)
        return float(value)
    except (KeyError, TypeError, ValueError):
        substitute(loaded, {path: 0.0})  # raises a located error for an unknown path
        raise UserError(
            "a free parameter must name a number in the resolved scenario",
            file="--free",
            key=path,
            found=repr(given),
        ) from None


def _default_bounds(path: str, start: float, loaded: LoadedScenario) -> tuple[float, float]:
    """The recorded bounds, else an uncertain number's range, else start +- 10."""
    cal = loaded.scenario.calibration
    if cal is not None and len(cal.bounds.get(path, ())) == 2:
        low, high = cal.bounds[path]
        return float(low), float(high)
    dist = loaded.distributions.get(path)
    if dist is not None:
        low, high = dist.bounds()
        return float(low), float(high)
    return start - 10.0, start + 10.0


def _parse_free(given: str, loaded: LoadedScenario) -> FreeParameter:
    path, *rest = given.split(":")
    path = path.strip()
    start = _start_value(given, path, loaded)
    try:
        low, high = (
            (float(rest[0]), float(rest[1])) if rest else _default_bounds(path, start, loaded)
        )
    except (ValueError, IndexError):
        raise UserError(
            "bad --free", file="--free", expected="PATH or PATH:LOW:HIGH", found=repr(given)
        ) from None
    if not low < high or not low <= start <= high:
        raise UserError(
            "bad bounds",
            file="--free",
            key=path,
            expected=f"LOW < HIGH around the current value {start:g}",
            found=f"{low:g}:{high:g}",
        )
    for value in (low, high, start):  # every value the fit may try must be valid
        try:
            substitute(loaded, {path: value})
        except UserError as e:
            e.file = "--free"
            raise
    from sim.experiments.calibration import FreeParameter

    return FreeParameter(path, low, high, start)


def _sources(target_source: list[str] | None, targets: dict[str, float]) -> dict[str, str]:
    sources = dict(t.partition("=")[::2] for t in (target_source or []))
    for key in sources:
        if key not in targets:
            raise UserError("--target-source names no --target", file="--target-source", key=key)
    return sources


def _check_replications(reps: int) -> None:
    if reps > MAX_REPLICATIONS:
        raise UserError(
            "too many replications",
            file="--replications",
            expected=f"at most {MAX_REPLICATIONS:,}",
            found=f"{reps:,}",
        )


def _printer(
    say: Callable[[str], None],
) -> Callable[[int, int, dict[str, float], dict[str, float], float], None]:
    def progress(
        b: int, i: int, values: dict[str, float], achieved: dict[str, float], loss: float
    ) -> None:
        vals = ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.4g}" for k, v in values.items())
        got = ", ".join(f"{v:.4g}" for v in achieved.values())
        say(f"set {b} eval {i:3d}  {vals}  ->  {got}  (loss {loss:.4g})")

    return progress


def _speaker(fmt: str) -> Callable[[str], None]:
    """Where progress and closing lines go: stderr when stdout holds csv or json."""
    if fmt in ("csv", "json"):
        return lambda line: typer.echo(printable(line), err=True)
    terminal = console()
    return lambda line: terminal.print(text(line))


def _fit_tables(fit: UncertainCalibration) -> list[Tabular]:
    """The fitted parameters with their intervals, and the targets on held-out seeds."""
    params = Tabular(
        title="Fitted parameters (mean over seed sets, 95% interval)",
        columns=(
            Column("parameter", "parameter", text=True),
            Column("value", "value"),
            Column("low", "95% low"),
            Column("high", "95% high"),
            Column("per_set", "per seed set", text=True),
        ),
        rows=[
            {
                "parameter": k,
                "value": iv.mean,
                "low": iv.low,
                "high": iv.high,
                "per_set": ", ".join(f"{f.values[k]:.4g}" for f in fit.fits),
            }
            for k, iv in fit.intervals.items()
        ],
        name="parameters",
        caption="no interval from one seed set" if len(fit.fits) < 2 else "",
    )
    held = fit.holdout
    targets = Tabular(
        title=f"Targets on {fit.holdout_replications} held-out replications "
        f"(seed {fit.holdout_seed}), at the fitted values",
        columns=(
            Column("target", "target", text=True),
            Column("wanted", "wanted"),
            Column("fit", "fit (mean over sets)"),
            Column("held_out", "held-out mean"),
            Column("held_out_half_width", "± 95%", missing="n/a"),
            Column("error", "error", unit="fraction"),
        ),
        rows=[
            {
                "target": k,
                "wanted": t,
                "fit": t * (1 + fit.residuals[k]),
                "held_out": held[k].mean,
                "held_out_half_width": held[k].half_width,
                "error": fit.holdout_residuals[k],
            }
            for k, t in fit.main.targets.items()
        ],
        name="targets",
    )
    return [params, targets]


def _fit_line(fit: UncertainCalibration, tolerance: float) -> str:
    evals = sum(f.evaluations for f in fit.fits)
    ok = fit.success(tolerance)
    return (
        f"{len(fit.fits)} seed sets x {fit.main.replications} replications, "
        f"{evals} evaluations: "
        + ("held-out residuals within " if ok else "held-out residuals NOT within ")
        + f"{tolerance:.0%}"
    )


def _record(
    fit: UncertainCalibration,
    sources: dict[str, str],
    measure: str,
    free: list[FreeParameter],
    seed: int,
) -> str:
    """The ``calibration:`` block recorded in the calibrated scenario."""

    def r6(v: float | None) -> float | None:
        return None if v is None else round(v, 6)

    record = {
        "calibration": {
            "targets": fit.main.targets,
            "target_sources": sources,
            **({"measure": measure} if measure else {}),
            "free_parameters": {k: round(v, 6) for k, v in fit.values.items()},
            "bounds": {p.path: [p.low, p.high] for p in free},
            "intervals": {
                k: [r6(iv.low), r6(iv.high)]
                for k, iv in fit.intervals.items()
                if iv.half_width is not None
            },
            "residuals": {k: round(v, 6) for k, v in fit.residuals.items()},
            "replications": fit.main.replications,
            "seed": seed,
            "seed_sets": len(fit.fits),
            "holdout_seed": fit.holdout_seed,
            "holdout_replications": fit.holdout_replications,
            "holdout_residuals": {k: round(v, 6) for k, v in fit.holdout_residuals.items()},
            "method": _METHOD,
            "date": dt.date.today().isoformat(),
        }
    }
    return yaml.safe_dump(record, sort_keys=False, width=100)


def _calibrated_text(scenario: Path, dest: Path, in_place: bool, fitted: dict[str, float]) -> str:
    """The calibrated scenario: the file with the fitted values, or a file extending it."""
    from sim.scenario.edit import set_scalars

    if in_place:
        yaml_text, missing = set_scalars(read_text(scenario, str(scenario)), fitted)
        if missing:
            raise UserError(
                "--in-place can only set values written in the file itself",
                file=str(scenario),
                key=", ".join(missing),
                hint="use --out to write an extending file instead",
            )
        return yaml_text
    rel = Path(os.path.relpath(scenario.resolve(), dest.resolve().parent))
    lines = [
        f"# Calibrated by xpusim calibrate from {rel.as_posix()}",
        f"extends: {rel.as_posix()}",
    ]
    return "\n".join(lines) + "\n" + yaml.safe_dump(nested(fitted), sort_keys=False)


def _write(dest: Path, body: str) -> None:
    try:
        write_text(dest, body)
    except OSError as exc:
        raise UserError(f"cannot write {dest}: {exc.strerror or exc}") from exc


def _recorded(loaded: LoadedScenario) -> CalibrationRecord:
    return loaded.scenario.calibration or CalibrationRecord()


def _targets_and_free(
    loaded: LoadedScenario,
    target: list[str] | None,
    free: list[str] | None,
    target_source: list[str] | None,
) -> tuple[dict[str, float], dict[str, str], list[FreeParameter]]:
    """The targets, their sources and the free parameters: given, or the recorded ones."""
    cal = _recorded(loaded)
    targets = dict(_parse_target(t) for t in target) if target else dict(cal.targets)
    if not targets:
        raise UserError(
            "nothing to calibrate: give --target KEY=VALUE (the scenario records no targets)",
            file="--target",
        )
    sources = _sources(target_source, targets) if target_source else dict(cal.target_sources)
    names = free or list(cal.bounds or cal.free_parameters)
    if not names:
        raise UserError(
            "nothing to fit: give --free PATH (the scenario records no free parameters)",
            file="--free",
        )
    return (
        targets,
        {k: v for k, v in sources.items() if k in targets},
        [_parse_free(f, loaded) for f in names],
    )


def calibrate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            "-t",
            metavar="KEY=VALUE",
            help="A summary metric and its target (repeatable; default: recorded).",
        ),
    ] = None,
    free: Annotated[
        list[str] | None,
        typer.Option(
            "--free",
            "-f",
            metavar="PATH[:LOW:HIGH]",
            help="A scenario number to fit (repeatable; default: recorded).",
        ),
    ] = None,
    target_source: Annotated[
        list[str] | None,
        typer.Option(
            "--target-source",
            metavar="KEY=SOURCE",
            help="Where a --target's value comes from (repeatable).",
        ),
    ] = None,
    set_: SetOption = None,
    replications: Annotated[
        int | None,
        typer.Option(min=1, help="Replications per evaluation (default: recorded, or scenario's)."),
    ] = None,
    seed: SeedOption = None,
    seed_sets: Annotated[
        int | None,
        typer.Option(
            "--seed-sets",
            min=1,
            help=f"Independent seed sets to fit on (default: recorded, or {DEFAULT_SEED_SETS}).",
        ),
    ] = None,
    holdout_replications: Annotated[
        int | None,
        typer.Option(
            "--holdout-replications", min=2, help="Held-out replications (default: as fitting)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-w", min=1, help="Processes for the replications (default: all cores)."
        ),
    ] = None,
    max_evaluations: Annotated[
        int, typer.Option(min=1, help="Simulation budget per seed set.")
    ] = 40,
    tolerance: Annotated[
        float,
        typer.Option(min=0.0, help="Held-out relative errors must be within this (else exit 1)."),
    ] = 0.1,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the calibrated scenario here.")
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Write the fitted values into SCENARIO itself.")
    ] = False,
    allow_large: AllowLargeRunOption = False,
    fmt: FormatOption = "table",
) -> None:
    """Fit free parameters so that summary metrics hit targets.

    The fit runs on independent seed sets (each fitted value with its 95% interval) and is
    checked on held-out seeds.

    Example: xpusim calibrate scenarios/baseline.yaml --in-place (the recorded targets and
    free parameters)

    Example: xpusim calibrate scenarios/baseline.yaml --target
    usage_ratio_vs_gpu.trainium.2023=0.005 --free adoption.friction_scale
    """
    from sim.accounting.runner import ReplicationPool
    from sim.experiments.calibration import (
        HOLDOUT_SEED,
        calibrate_with_uncertainty,
        check_targets,
        truncated,
    )
    from sim.scenario.edit import replace_top_level_block

    dest = scenario if in_place else out
    if dest is not None:
        check_not_link(dest)  # refused before the fit, not after it
    loaded = load(scenario, set_)
    cal = _recorded(loaded)
    targets, sources, params = _targets_and_free(loaded, target, free, target_source)
    check_targets(targets)
    reps = replications or (cal.replications if cal.targets else loaded.scenario.replications)
    root = seed if seed is not None else (cal.seed if cal.targets else loaded.scenario.seed)
    sets = seed_sets or (cal.seed_sets if cal.targets else DEFAULT_SEED_SETS)
    held_reps = holdout_replications or cal.holdout_replications or reps
    _check_replications(max(reps, held_reps))
    if not allow_large:
        # each evaluation runs the replications on the horizon cut at the last target year
        check_run_size(
            truncated(loaded, targets).scenario,
            replications=reps,
            evaluations=max_evaluations * sets + max(1, held_reps // reps),
            file=str(scenario),
        )
    fmt = check_format(fmt)
    say = _speaker(fmt)
    began = time.monotonic()
    try:
        with ReplicationPool(workers) as pool:
            result = calibrate_with_uncertainty(
                loaded,
                targets,
                params,
                replications=reps,
                seed=root,
                seed_sets=sets,
                holdout_replications=held_reps,
                holdout_seed=cal.holdout_seed if cal.holdout_seed is not None else HOLDOUT_SEED,
                max_evaluations=max_evaluations,
                progress=_printer(say),
                summaries=pool.summaries,
            )
    except KeyError as exc:  # a metric of the summary that this scenario does not have
        raise UserError(
            "unknown target metric",
            file="--target",
            key=str(exc.args[0]),
            hint="metric keys are dotted paths of summary.json",
        ) from None
    emit(_fit_tables(result), fmt)
    say(_fit_line(result, tolerance))
    say(f"calibration took {time.monotonic() - began:.0f} s")
    if dest is not None:
        fitted = {k: round(v, 6) for k, v in result.values.items()}
        body = _calibrated_text(scenario, dest, in_place, fitted)
        record = _record(result, sources, cal.measure, params, root)
        _write(dest, replace_top_level_block(body, "calibration", record))
        say(f"calibrated scenario written to {dest}")
    if not result.success(tolerance):
        raise typer.Exit(1)
