"""``xpusim calibrate`` and ``xpusim verify``: fitting the model to targets, checking it
against theory."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from sim.cli.common import AllowLargeRunOption, SeedOption, SetOption, load
from sim.errors import UserError
from sim.experiments.calibration import (
    CalibrationResult,
    FreeParameter,
    check_targets,
    truncated,
)
from sim.experiments.calibration import (
    calibrate as fit,
)
from sim.experiments.verification import DEFAULT_BASELINE, as_rows, run_checks
from sim.model.estimate import check_run_size
from sim.model.schema import MAX_REPLICATIONS
from sim.safeio import check_not_link, write_text
from sim.scenario import LoadedScenario, substitute
from sim.scenario.edit import replace_top_level_block, set_scalars
from sim.scenario.marks import read_text
from sim.scenario.paths import nested, value_at
from sim.views.terminal import console, table, text

__all__ = ["calibrate", "verify"]

_METHOD = (
    "xpusim calibrate: scipy.optimize Nelder-Mead on squared log residuals, "
    "common random numbers, horizon cut at the last target year"
)


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


def _parse_free(given: str, loaded: LoadedScenario) -> FreeParameter:
    path, *rest = given.split(":")
    path = path.strip()
    start = _start_value(given, path, loaded)
    try:
        low, high = (float(rest[0]), float(rest[1])) if rest else (start - 10.0, start + 10.0)
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


def _printer(terminal: Console) -> Callable[[int, dict[str, float], dict[str, float], float], None]:
    def progress(i: int, values: dict[str, float], achieved: dict[str, float], loss: float) -> None:
        vals = ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.4g}" for k, v in values.items())
        got = ", ".join(f"{v:.4g}" for v in achieved.values())
        terminal.print(text(f"eval {i:3d}  {vals}  ->  {got}  (loss {loss:.4g})"))

    return progress


def _show_fit(terminal: Console, result: CalibrationResult, tolerance: float) -> None:
    targets = result.targets
    rows = [[k, targets[k], result.achieved[k], f"{result.residuals[k]:+.1%}"] for k in targets]
    terminal.print(table("Calibration fit", ["target", "wanted", "achieved", "error"], rows))
    terminal.print(table("Fitted parameters", ["parameter", "value"], list(result.values.items())))
    terminal.print(
        text(
            f"{result.evaluations} evaluations x {result.replications} replications, "
            f"seed {result.seed}: "
            + ("converged" if result.success else f"NOT within {tolerance:.0%}")
        )
    )


def _record(result: CalibrationResult, sources: dict[str, str]) -> str:
    """The ``calibration:`` block recorded in the calibrated scenario."""
    record = {
        "calibration": {
            "targets": result.targets,
            "target_sources": sources,
            "free_parameters": {k: round(v, 6) for k, v in result.values.items()},
            "residuals": {k: round(v, 6) for k, v in result.residuals.items()},
            "replications": result.replications,
            "seed": result.seed,
            "method": _METHOD,
            "date": dt.date.today().isoformat(),
        }
    }
    return yaml.safe_dump(record, sort_keys=False, width=100)


def _calibrated_text(scenario: Path, dest: Path, in_place: bool, fitted: dict[str, float]) -> str:
    """The calibrated scenario: the file with the fitted values, or a file extending it."""
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


def calibrate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    target: Annotated[
        list[str],
        typer.Option("--target", "-t", help="KEY=VALUE: a summary metric and its target."),
    ],
    free: Annotated[
        list[str],
        typer.Option("--free", "-f", help="PATH[:LOW:HIGH]: a scenario number to fit."),
    ],
    target_source: Annotated[
        list[str] | None,
        typer.Option("--target-source", help="KEY=SOURCE: where a target comes from."),
    ] = None,
    set_: SetOption = None,
    replications: Annotated[
        int | None, typer.Option(min=1, help="Replications per evaluation (default: scenario's).")
    ] = None,
    seed: SeedOption = None,
    max_evaluations: Annotated[int, typer.Option(min=1, help="Simulation budget.")] = 60,
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="Stop when every relative error is within this.")
    ] = 0.05,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the calibrated scenario here.")
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Write the fitted values into SCENARIO itself.")
    ] = False,
    allow_large: AllowLargeRunOption = False,
) -> None:
    """Fit free parameters so that summary metrics hit targets (scipy, common random numbers).

    Example: xpusim calibrate scenarios/baseline.yaml
    --target usage_ratio_vs_gpu.trainium.2023=0.005 --free adoption.family_preference.trainium
    """
    dest = scenario if in_place else out
    if dest is not None:
        check_not_link(dest)  # refused before the fit, not after it
    loaded = load(scenario, set_)
    targets = dict(_parse_target(t) for t in target)
    sources = _sources(target_source, targets)
    params = [_parse_free(f, loaded) for f in free]
    check_targets(targets)
    reps = replications or loaded.scenario.replications
    root = loaded.scenario.seed if seed is None else seed
    _check_replications(reps)
    if not allow_large:
        # each evaluation runs the replications on the horizon cut at the last target year
        check_run_size(
            truncated(loaded, targets).scenario,
            replications=reps,
            evaluations=max_evaluations,
            file=str(scenario),
        )
    terminal = console()
    try:
        result = fit(
            loaded,
            targets,
            params,
            replications=reps,
            seed=root,
            max_evaluations=max_evaluations,
            tolerance=tolerance,
            progress=_printer(terminal),
        )
    except KeyError as exc:  # a metric of the summary that this scenario does not have
        raise UserError(
            "unknown target metric",
            file="--target",
            key=str(exc.args[0]),
            hint="metric keys are dotted paths of summary.json",
        ) from None
    _show_fit(terminal, result, tolerance)
    if dest is not None:
        fitted = {k: round(v, 6) for k, v in result.values.items()}
        body = _calibrated_text(scenario, dest, in_place, fitted)
        _write(dest, replace_top_level_block(body, "calibration", _record(result, sources)))
        terminal.print(text(f"calibrated scenario written to {dest}"))
    if not result.success:
        raise typer.Exit(1)


def _tolerance(t: float) -> str:
    return f"{t:.0%}" if t >= 0.01 else f"{t:.0e}"


#: The kinds of check, each printed as its own table (verification is not validation).
KIND_TITLES = (
    ("verification", "Verification: simulated against analytic or recomputed values"),
    ("calibration", "Calibration: the fitted targets re-simulated"),
    ("statics", "Comparative statics: each lever paired with the base on unseen seeds"),
    ("validation", "Validation: the model against outside facts not used in fitting"),
)


def _checks_table(kind: str, title: str, rows: list[dict[str, Any]]) -> Any:
    if kind == "statics":
        return table(
            title,
            ["mechanism", "lever [metric]", "effect (paired mean +- 95%)", "result"],
            [
                [
                    r["group"].removeprefix("comparative statics: "),
                    r["check"],
                    r["note"],
                    "pass" if r["passed"] else "FAIL",
                ]
                for r in rows
            ],
        )
    return table(
        title,
        ["group", "check", "simulated", "expected", "rel. error", "tolerance", "result"],
        [
            [
                r["group"],
                r["check"],
                f"{r['simulated']:.6g}",
                f"{r['expected']:.6g}",
                f"{r['relative_error']:+.2%}",
                _tolerance(r["tolerance"]),
                "pass" if r["passed"] else "FAIL",
            ]
            for r in rows
        ],
    )


def verify(
    reduced: Annotated[
        bool, typer.Option("--reduced", help="Fewer jobs and replications (as CI runs it).")
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the table as JSON here.")
    ] = None,
    baseline: Annotated[
        Path,
        typer.Option(
            "--baseline",
            help="The scenario whose calibration record is re-simulated.",
        ),
    ] = DEFAULT_BASELINE,
) -> None:
    """Check the simulation against theory (Erlang C, M/M/(c/k), Little's law, conservation,
    static TCO, the catalog's article ratios), the calibration targets, and comparative
    statics (levers paired on unseen seeds), each kind in its own table. Exit 1 on a failure.
    """
    if json_out is not None:
        check_not_link(json_out)  # refused before the checks run, not after
    terminal = console()
    terminal.print(text("running checks (a few minutes; --reduced for a quick pass) ..."))
    checks = run_checks(reduced=reduced, baseline=baseline)
    for kind, title in KIND_TITLES:
        rows = [r for r in as_rows(checks) if r["kind"] == kind]
        if rows:
            terminal.print(_checks_table(kind, title, rows))
    failed = [c for c in checks if not c.passed]
    terminal.print(text(f"{len(checks) - len(failed)} passed, {len(failed)} failed"))
    if json_out is not None:
        _write(json_out, json.dumps(as_rows(checks), indent=2) + "\n")
    if failed:
        raise typer.Exit(1)
