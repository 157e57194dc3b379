"""``xpusim sweep`` and ``xpusim sensitivity``: experiments over a scenario's parameters.

The progress bar goes to stderr and only on a terminal; results go to stdout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import FormatOption, SetOption, emit, load, note
from sim.errors import UserError, printable
from sim.results.jsonio import jsonable
from sim.results.manifest import scenario_fields
from sim.scenario import substitute
from sim.views.tables import check_format
from sim.views.terminal import (
    console,
    progress_bar,
    ranking_tables,
    sample_ranking_note,
    sample_ranking_table,
    text,
)

__all__ = ["sensitivity", "sweep"]

WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers", "-w", min=1, help="Local worker processes (default: all cores; 1: in-process)."
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on a dask.distributed cluster, e.g. tcp://10.0.0.5:8786 (see 'dask scheduler').",
    ),
]
SeedOption = Annotated[
    int | None,
    typer.Option("--seed", min=0, help="Root random seed (default: the scenario's seed)."),
]
ReplicationsOption = Annotated[
    int | None,
    typer.Option(
        "--replications",
        "-r",
        min=1,
        help="Replications per point, common random numbers (default: the scenario's).",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar; print only the output folder.")
]
AllowLargeOption = Annotated[
    bool,
    typer.Option(
        "--allow-large",
        help="Lift the cap on the number of runs (100,000; see Limits in the README).",
    ),
]


GridOption = Annotated[
    list[str] | None,
    typer.Option(
        "--grid",
        "-g",
        metavar="KEY=V1,V2,...",
        help="A grid axis (repeatable; the sweep runs the Cartesian product).",
    ),
]
SampleOption = Annotated[
    int | None,
    typer.Option(
        "--sample",
        "-n",
        min=1,
        help="Sample N points of the scenario's declared distributions.",
    ),
]
MethodOption = Annotated[
    str,
    typer.Option(
        "--method", "-m", metavar="mc|lhs|sobol", help="Sampling design: mc, lhs or sobol."
    ),
]
VaryOption = Annotated[
    list[str] | None,
    typer.Option(
        "--vary",
        metavar="KEY",
        help="Sample only these distributions (repeatable; default: all declared).",
    ),
]
SweepOutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Sweep folder (default results/<name>/sweep-<time>-<hash>); "
        "an existing one with the same design is resumed.",
    ),
]
ScenarioOrSweepArgument = Annotated[
    Path,
    typer.Argument(
        help="Scenario YAML file, or a finished sampled sweep folder to rank without new runs.",
        show_default=False,
    ),
]
MetricOption = Annotated[
    list[str],
    typer.Option(
        "--metric",
        "-k",
        metavar="KEY",
        help="Summary metric by dotted key, e.g. provider.tco_usd (repeatable).",
    ),
]
BaseSampleOption = Annotated[
    int,
    typer.Option(
        "--n", min=2, help="Sobol' base sample size (a power of two): N x (d + 2) points."
    ),
]
SensitivityOutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="Output folder (default results/<name>/sensitivity-<time>-<hash>)."
    ),
]


def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    set_: SetOption = None,
    grid: GridOption = None,
    sample: SampleOption = None,
    method: MethodOption = "lhs",
    vary: VaryOption = None,
    replications: ReplicationsOption = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    out: SweepOutOption = None,
    quiet: QuietOption = False,
    allow_large: AllowLargeOption = False,
    metrics: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-k",
            metavar="KEY",
            help="Metric of the closing per-point table (repeatable; default: provider TCO "
            "and margin, in-house program NPV).",
        ),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Run a scenario over a grid and/or a sample of its uncertain parameters.

    Writes manifest.json, runs.jsonl (the journal), runs.parquet (one row per run) and
    points.parquet (per point: mean, std and 95% CI of every metric). Re-running the same
    command with the same --out resumes a sweep that was interrupted.

    Example: xpusim sweep scenarios/baseline.yaml --grid economics.pue=1.1,1.3 --sample 64
    --method lhs --replications 3 --out results/pue-sweep
    """
    from sim.experiments.design import build_design, check_seed  # deferred (lazy `run`)
    from sim.experiments.execute import check_workers
    from sim.experiments.orchestrate import run_sweep
    from sim.results.sweep_folder import read_points
    from sim.views.sweep_table import default_metrics, interval_warning, points_table

    fmt = check_format(fmt)
    if not grid and sample is None:
        raise UserError(
            "nothing to sweep: give --grid KEY=V1,V2,... and/or --sample N",
            hint="for example --grid economics.pue=1.1,1.2,1.3",
        )
    if seed is not None:
        check_seed(seed)
    check_workers(workers, allow_large)
    loaded = load(scenario, set_)
    design = build_design(
        loaded,
        grid=grid or (),
        sample=sample,
        method=method,
        vary=vary or (),
        replications=replications,
        seed=seed,
        allow_large=allow_large,
    )
    with progress_bar(f"sweep {loaded.scenario.name}", quiet) as update:
        try:
            outcome = run_sweep(
                loaded,
                design,
                out,
                workers=workers,
                scheduler=scheduler,
                progress=update,
                note=note,
            )
        except KeyboardInterrupt:
            typer.echo(
                "interrupted: finished runs are saved; run the same command with the same "
                "--out to resume",
                err=True,
            )
            raise typer.Exit(130) from None
    if quiet:
        typer.echo(printable(outcome.folder))
        return
    points = read_points(outcome.folder)
    keys = list(metrics) if metrics else default_metrics(points)
    emit([points_table(points, keys, every_row=fmt != "table")], fmt)
    warning = interval_warning(design.replications)
    if warning is not None:
        typer.echo(f"warning: {warning}", err=True)
    terminal = console() if fmt in ("table", "md") else None
    summary = (
        f"{len(design.points)} points x {design.replications} replications = "
        f"{outcome.runs_total} runs; {outcome.runs_done - outcome.runs_resumed} run now, "
        f"{outcome.runs_resumed} already done"
    )
    if terminal is None:
        typer.echo(printable(summary), err=True)
        typer.echo(printable(f"sweep folder: {outcome.folder}"), err=True)
        return
    terminal.print(text(summary))
    terminal.print(text(f"sweep folder: {outcome.folder}"))


def sensitivity(
    scenario: ScenarioOrSweepArgument,
    metric: MetricOption,
    set_: SetOption = None,
    n: BaseSampleOption = 64,
    replications: ReplicationsOption = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    out: SensitivityOutOption = None,
    quiet: QuietOption = False,
    allow_large: AllowLargeOption = False,
    fmt: FormatOption = "table",
) -> None:
    """Rank the uncertain parameters: one-at-a-time tornado and Sobol' indices (SALib).

    Writes sensitivity.json and manifest.json. With one --metric, sensitivity.json is one
    object {metric, base, tornado, sobol}; with several, a list of them.

    Given a finished Latin-hypercube or Monte Carlo sweep folder instead of a scenario, it
    runs nothing: it ranks the sweep's sampled parameters by RBD-FAST first-order indices
    (with bootstrap confidence) and Spearman rank correlations of the per-point means.

    Example: xpusim sensitivity scenarios/baseline.yaml --metric provider.tco_usd --n 64
    --replications 1

    Example: xpusim sensitivity results/baseline/sweep-... --metric provider.tco_usd
    """
    from sim.experiments.calibration import truncated
    from sim.experiments.design import check_seed  # deferred (lazy `run`)
    from sim.experiments.execute import check_workers
    from sim.experiments.points import run_point
    from sim.experiments.sensitivity import evaluate, sensitivity_design
    from sim.results.sensitivity_folder import new_sensitivity_folder, write_sensitivity
    from sim.views.sweep_table import sobol_warning

    fmt = check_format(fmt)
    if seed is not None:
        check_seed(seed)
    if scenario.is_dir():
        scenario_flags = {
            "--set": set_,
            "--replications": replications,
            "--workers": workers,
            "--scheduler": scheduler,
            "--allow-large": allow_large,
        }
        _refuse_scenario_flags(scenario, scenario_flags)
        _rank_sweep(scenario, metric, seed, out, quiet, fmt)
        return
    check_workers(workers, allow_large)
    loaded = load(scenario, set_)
    full_end = loaded.scenario.horizon.end
    # dated metrics only: no run needs the years after the last one (as calibrate does)
    loaded = truncated(loaded, metric, "sensitivity horizon", "--metric")
    root = loaded.scenario.seed if seed is None else seed
    reps = loaded.scenario.replications if replications is None else replications
    design = sensitivity_design(
        loaded.distributions, n=n, replications=reps, seed=root, allow_large=allow_large
    )
    points = design.points()
    for values in points:  # every point checked before anything runs
        substitute(loaded, values)
    fields = scenario_fields(loaded)
    digest_of = [fields["scenario_sha256"], list(metric), design.n, list(design.seeds)]
    folder = new_sensitivity_folder(out, str(loaded.scenario.name), digest_of)
    if not quiet and scheduler is None:  # a cluster is reached first: its errors come alone
        note(
            f"{len(points):,} points x {len(design.seeds)} "
            f"replication{'' if len(design.seeds) == 1 else 's'} = "
            f"{design.runs_total:,} runs ({design.tornado_runs:,} for the base and the "
            f"tornado, the rest Sobol' with --n {design.n})"
        )
    with progress_bar(f"sensitivity {loaded.scenario.name}", quiet) as update:
        results = evaluate(
            design,
            metric,
            task=run_point,
            shared=loaded,
            workers=workers,
            scheduler=scheduler,
            progress=update,
        )
    write_sensitivity(
        folder,
        results,
        {
            **fields,
            "seed": design.seed,
            "replication_seeds": list(design.seeds),
            "n": design.n,
            "parameters": {p: jsonable(d.model_dump()) for p, d in design.distributions.items()},
            "runs": design.runs_total,
        },
    )
    if quiet:
        typer.echo(printable(folder))
        return
    emit([t for result in results for t in ranking_tables(result)], fmt)
    if loaded.scenario.horizon.end < full_end:
        note(
            f"every metric names a year, so the runs ended at "
            f"{loaded.scenario.horizon.end.isoformat()}, not {full_end.isoformat()} "
            "(deliveries after it dropped; earlier years are unchanged)"
        )
    for result in results:
        warning = sobol_warning(result, design.n, replications=len(design.seeds))
        if warning is not None:
            typer.echo(f"warning: {warning}", err=True)
    _say_folder(f"sensitivity folder: {folder}", fmt)


def _refuse_scenario_flags(folder: Path, flags: Mapping[str, object]) -> None:
    """A UserError for the first flag given that only applies to a scenario."""
    for flag, value in flags.items():
        if value:
            raise UserError(
                f"{flag} applies to a scenario, not to a finished sweep folder",
                file=str(folder),
                hint=f"drop {flag}, or give the scenario file to run a new design",
            )


def _say_folder(line: str, fmt: str) -> None:
    """The closing line naming the output folder: stderr when stdout holds csv or json."""
    if fmt in ("csv", "json"):
        typer.echo(printable(line), err=True)
    else:
        console().print(text(line))


def _rank_sweep(
    folder: Path,
    metrics: Sequence[str],
    seed: int | None,
    out: Path | None,
    quiet: bool,
    fmt: str = "table",
) -> None:
    """``xpusim sensitivity SWEEP_FOLDER``: rank a finished sampled sweep, run nothing."""
    from sim.experiments.sensitivity import rank_sample  # deferred (lazy `run`)
    from sim.results.sensitivity_folder import new_sensitivity_folder, write_sensitivity
    from sim.results.sweep_folder import read_finished_sweep, read_point_means

    manifest = read_finished_sweep(folder)
    design = manifest.get("design") or {}
    sample = design.get("sample") or {}
    params = sorted(sample.get("parameters") or {})
    if not params:
        raise UserError(
            f"the sweep in {folder} samples no distribution (a grid only)",
            hint="ranking from a sweep needs a sampled one: xpusim sweep SCENARIO --sample N",
        )
    values, outputs = read_point_means(folder, params)
    if not values:
        raise UserError(f"the sweep in {folder} samples no numeric parameter")
    root = int(manifest.get("seed", 0)) if seed is None else seed
    results = rank_sample(values, outputs, metrics, root)
    name = str(manifest.get("scenario_name", "sweep"))
    target = new_sensitivity_folder(out, name, [manifest.get("design_sha256"), list(metrics), root])
    write_sensitivity(
        target,
        results,
        {
            "method": "rbd-fast on a finished sweep",
            "sweep_folder": str(folder),
            "sweep_design_sha256": manifest.get("design_sha256"),
            "scenario_name": manifest.get("scenario_name"),
            "scenario_header": manifest.get("scenario_header"),
            "scenario_sha256": manifest.get("scenario_sha256"),
            "scenario": manifest.get("scenario"),
            "seed": root,
            "parameters": sample.get("parameters"),
            "runs": manifest.get("runs_total"),
        },
    )
    if quiet:
        typer.echo(printable(target))
        return
    emit([sample_ranking_table(result) for result in results], fmt)
    for result in results:
        ranking_note = sample_ranking_note(result)
        if ranking_note is not None:
            typer.echo(printable(ranking_note), err=True)
    _say_folder(f"sensitivity folder: {target}", fmt)
