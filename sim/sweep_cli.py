"""The ``xpusim sweep`` and ``xpusim sensitivity`` commands.

Call :func:`register` on the ``xpusim`` Typer app to add them. User errors are raised as
:class:`~sim.errors.UserError` for the app's error handler (one line, exit status 2). The
progress bar goes to stderr and only on a terminal; results go to stdout.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sim.errors import UserError

__all__ = ["register", "sensitivity", "sweep"]

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a scenario value by dotted key path, e.g. economics.pue=1.2 (repeatable).",
    ),
]
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


def _stdout() -> Console:
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, no_color=True, color_system=None, width=200, soft_wrap=False)


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar with ETA on stderr, or nothing when quiet or not on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
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
        TextColumn("runs"),
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


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.0f}" if abs(value) >= 1e3 else f"{value:.4g}"
    return str(value)


def _load(path: Path, overrides: Sequence[str] | None) -> Any:
    from sim.loader import load_scenario

    return load_scenario(path, tuple(overrides or ()))


def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    set_: SetOption = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            metavar="KEY=V1,V2,...",
            help="A grid axis (repeatable; the sweep runs the Cartesian product).",
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            "-n",
            min=1,
            help="Sample N points of the scenario's declared distributions.",
        ),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", "-m", help="Sampling design: mc, lhs or sobol.")
    ] = "lhs",
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            metavar="KEY",
            help="Sample only these distributions (repeatable; default: all declared).",
        ),
    ] = None,
    replications: ReplicationsOption = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Sweep folder (default results/<name>/sweep-<time>-<hash>); "
            "an existing one with the same design is resumed.",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Run a scenario over a grid and/or a sample of its uncertain parameters.

    Writes manifest.json, runs.jsonl (the journal), runs.parquet (one row per run) and
    points.parquet (per point: mean, std and 95% CI of every metric). Re-running the same
    command with the same --out resumes a sweep that was interrupted.

    Example: xpusim sweep scenarios/baseline.yaml --grid economics.pue=1.1,1.3 --sample 64
    --method lhs --replications 3 --out results/pue-sweep
    """
    from sim.sweep.design import build_design
    from sim.sweep.orchestrate import run_sweep

    if not grid and sample is None:
        raise UserError(
            "nothing to sweep: give --grid KEY=V1,V2,... and/or --sample N",
            hint="for example --grid economics.pue=1.1,1.2,1.3",
        )
    loaded = _load(scenario, set_)
    design = build_design(
        loaded,
        grid=grid or (),
        sample=sample,
        method=method,
        vary=vary or (),
        replications=replications,
        seed=seed,
    )
    with _progress(f"sweep {loaded.scenario.name}", quiet) as update:
        try:
            outcome = run_sweep(
                loaded, design, out, workers=workers, scheduler=scheduler, progress=update
            )
        except KeyboardInterrupt:
            typer.echo(
                "interrupted: finished runs are saved; run the same command with the same "
                "--out to resume",
                err=True,
            )
            raise typer.Exit(130) from None
    if quiet:
        typer.echo(str(outcome.folder))
        return
    console = _stdout()
    console.print(
        Text(
            f"{len(design.points)} points x {design.replications} replications = "
            f"{outcome.runs_total} runs; {outcome.runs_done - outcome.runs_resumed} run now, "
            f"{outcome.runs_resumed} already done"
        )
    )
    console.print(Text(f"sweep folder: {outcome.folder}"))


def sensitivity(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    metric: Annotated[
        list[str],
        typer.Option(
            "--metric",
            "-k",
            metavar="KEY",
            help="Summary metric by dotted key, e.g. provider.tco_usd (repeatable).",
        ),
    ],
    set_: SetOption = None,
    n: Annotated[
        int,
        typer.Option(
            "--n", min=2, help="Sobol' base sample size (a power of two): N x (d + 2) points."
        ),
    ] = 64,
    replications: ReplicationsOption = None,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output folder (default results/<name>/sensitivity-<time>-<hash>)."
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Rank the uncertain parameters: one-at-a-time tornado and Sobol' indices (SALib).

    Writes sensitivity.json and manifest.json. With one --metric, sensitivity.json is one
    object {metric, base, tornado, sobol}; with several, a list of them.

    Example: xpusim sensitivity my_uncertain.yaml --metric provider.tco_usd --n 64
    """
    from sim.sweep.execute import simulate
    from sim.sweep.sensitivity import evaluate, sensitivity_design
    from sim.uncertainty import apply_values

    loaded = _load(scenario, set_)
    root = loaded.scenario.seed if seed is None else seed
    reps = loaded.scenario.replications if replications is None else replications
    design = sensitivity_design(loaded.distributions, n=n, replications=reps, seed=root)
    points = design.points()
    for values in points:  # every point checked before anything runs
        apply_values(loaded, values)
    folder = _sensitivity_folder(out, loaded, design, metric)
    with _progress(f"sensitivity {loaded.scenario.name}", quiet) as update:
        results = evaluate(
            design,
            metric,
            build=lambda values: apply_values(loaded, values).data,
            task=simulate,
            workers=workers,
            scheduler=scheduler,
            progress=update,
        )
    _write_sensitivity(folder, loaded, design, results)
    if quiet:
        typer.echo(str(folder))
        return
    console = _stdout()
    for result in results:
        for table in _ranking_tables(result):
            console.print(table)
    console.print(Text(f"sensitivity folder: {folder}"))


def _sensitivity_folder(out: Path | None, loaded: Any, design: Any, metrics: Sequence[str]) -> Path:
    import hashlib

    from sim.runfolder import RESULTS_DIR, canonical_json, jsonable, scenario_sha256

    if out is not None:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"output folder {out} already exists; choose another --out")
        return out
    body = [scenario_sha256(jsonable(loaded.data)), list(metrics), design.n, list(design.seeds)]
    digest = hashlib.sha256(canonical_json(body).encode()).hexdigest()[:8]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base: Path = RESULTS_DIR / str(loaded.scenario.name) / f"sensitivity-{stamp}-{digest}"
    candidate, k = base, 1
    while candidate.exists():
        k += 1
        candidate = base.with_name(f"{base.name}-{k}")
    return candidate


def _write_sensitivity(
    folder: Path, loaded: Any, design: Any, results: list[dict[str, Any]]
) -> None:
    import platform

    from sim import __version__
    from sim.runfolder import git_commit, jsonable, package_versions, scenario_sha256
    from sim.sweep.orchestrate import SWEEP_PACKAGES
    from sim.sweep.store import atomic_write_text, pretty_json

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {folder}: {exc.strerror or exc}") from None
    body: Any = results[0] if len(results) == 1 else results
    atomic_write_text(folder / "sensitivity.json", pretty_json(body))
    manifest = {
        "kind": "sensitivity",
        "xpusim_version": __version__,
        "git_commit": git_commit(),
        "python_version": platform.python_version(),
        "packages": package_versions(SWEEP_PACKAGES),
        "scenario_name": loaded.scenario.name,
        "scenario_path": str(loaded.path),
        "scenario_sha256": scenario_sha256(jsonable(loaded.data)),
        "scenario": jsonable(loaded.data),
        "seed": design.seed,
        "replication_seeds": list(design.seeds),
        "n": design.n,
        "parameters": {p: jsonable(d.model_dump()) for p, d in design.distributions.items()},
        "runs": design.runs_total,
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": ["sensitivity.json", "manifest.json"],
    }
    atomic_write_text(folder / "manifest.json", pretty_json(manifest))


def _ranking_tables(result: dict[str, Any]) -> list[Table]:
    from sim.sweep.sensitivity import swing

    tornado = Table(
        title=f"Tornado: {result['metric']} (base {_fmt(result['base'])})", title_justify="left"
    )
    for i, head in enumerate(["rank", "parameter", "low", "high", "metric low", "metric high"]):
        tornado.add_column(head, justify="left" if i == 1 else "right")
    tornado.add_column("swing", justify="right")
    for i, row in enumerate(result["tornado"], 1):
        tornado.add_row(
            str(i),
            Text(str(row["parameter"])),
            _fmt(row["low_value"]),
            _fmt(row["high_value"]),
            _fmt(row["metric_low"]),
            _fmt(row["metric_high"]),
            _fmt(swing(row)),
        )
    sob = result["sobol"]
    order = sorted(
        range(len(sob["names"])),
        key=lambda j: -(sob["ST"][j] if sob["ST"][j] is not None else -math.inf),
    )
    sobol = Table(title=f"Sobol' indices: {result['metric']}", title_justify="left")
    for i, head in enumerate(["rank", "parameter", "S1", "± S1", "ST", "± ST"]):
        sobol.add_column(head, justify="left" if i == 1 else "right")
    for rank, j in enumerate(order, 1):
        sobol.add_row(
            str(rank),
            Text(str(sob["names"][j])),
            *(_fmt(sob[k][j]) for k in ("S1", "S1_conf", "ST", "ST_conf")),
        )
    return [tornado, sobol]


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` and ``sensitivity`` commands to ``app``."""
    app.command("sweep")(sweep)
    app.command("sensitivity")(sensitivity)
