"""``xpusim run``, ``validate``, ``show``, ``schema`` and ``diff``: a scenario and its run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from sim.accounting.runner import RunOutput
from sim.accounting.runner import run as run_replications
from sim.cli.common import (
    AllOption,
    AllowLargeRunOption,
    FormatOption,
    SeedOption,
    SetOption,
    collect,
    emit,
    load,
)
from sim.errors import UserError, printable
from sim.model.estimate import check_run_size
from sim.results.run_folder import read_summary, write_run
from sim.safeio import write_text
from sim.scenario import (
    LoadedScenario,
    diff_scenarios,
    dump_yaml,
    saved_yaml,
    scenario_json_schema,
)
from sim.views.tables import check_format
from sim.views.terminal import console, diff_value, progress_bar, text

__all__ = ["compare", "diff", "producer", "run", "schema", "show", "validate"]


def producer(
    loaded: LoadedScenario,
    seed: int,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    counterfactual: bool = True,
) -> Callable[[], RunOutput]:
    """The engine's run of the loaded scenario from root seed ``seed`` on ``workers``
    processes (None: one per core; the output is the same for any number), with the world
    without its in-house program unless ``counterfactual`` is False; ``progress`` hears of
    each finished simulation."""
    return lambda: run_replications(
        loaded.scenario,
        seed,
        workers=workers,
        progress=progress,
        counterfactual=counterfactual,
    )


def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    set_: SetOption = None,
    seed: SeedOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Run folder to create (default results/<name>/<time>-<hash>)."
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress bar; print only the run folder path."),
    ] = False,
    allow_large: AllowLargeRunOption = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="Processes for the replications (default: all cores; 1: in-process). "
            "Results are the same for any number.",
        ),
    ] = None,
    everything: AllOption = False,
    fmt: FormatOption = "table",
    no_counterfactual: Annotated[
        bool,
        typer.Option(
            "--no-counterfactual",
            help="Skip the world without the in-house program (half the run time; no "
            "program value). Also: --set outputs.counterfactual=false.",
        ),
    ] = False,
) -> None:
    """Run a scenario, write its run folder and print the headline results.

    The headline gives the provider's, customers' and in-house program's metrics and the
    usage ratios with their 95% intervals over the replications (--all: every metric).
    With --format csv or json, stdout holds only the table; the folder is named on stderr.

    A scenario with an in-house chip program is also run without it, on the same seeds,
    and the program's value is reported (twice the run time; see --no-counterfactual).

    Example: xpusim run scenarios/baseline.yaml --set economics.pue=1.3 --seed 7
    """
    fmt = check_format(fmt)
    loaded = load(scenario, set_)
    if not allow_large:
        check_run_size(loaded.scenario, file=str(scenario))
    run_seed = loaded.scenario.seed if seed is None else seed
    label = f"run {loaded.scenario.name}"
    counterfactual = not no_counterfactual
    with progress_bar(label, quiet or fmt != "table", unit="simulations") as update:
        make = producer(loaded, run_seed, workers, progress=update, counterfactual=counterfactual)
        folder = write_run(out, loaded, run_seed, make)
    if quiet:
        typer.echo(printable(folder))
        return
    from sim.views.headline import headline_tables  # deferred: `run -q` shows nothing
    from sim.views.program_text import value_lines

    summary = read_summary(folder)
    emit(headline_tables(summary, everything=everything), fmt)
    where = printable(f"run folder: {folder}")
    if fmt in ("csv", "json"):
        typer.echo(where, err=True)
    else:
        terminal = console()
        for line in value_lines(summary):
            terminal.print(text(line))
        terminal.print(text(where))


def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Scenario YAML files to check.", show_default=False)
    ],
    set_: SetOption = None,
) -> None:
    """Check scenario files: 'ok <file>', or each error on an 'error:' line of its own.

    Example: xpusim validate scenarios/*.yaml
    """
    bad = 0

    def report(error: UserError) -> None:
        nonlocal bad
        bad += 1
        for line in error.lines():
            typer.echo(f"error: {line}", err=True)

    for file in files:
        with collect(report):
            loaded = load(file, set_)
            saved_yaml(loaded.data, str(file))  # what `run` saves must load again
            typer.echo(printable(f"ok {file}"))
    if bad:
        raise typer.Exit(2)


def show(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    set_: SetOption = None,
) -> None:
    """Print the fully resolved scenario (extends and --set applied) as YAML.

    Example: xpusim show scenarios/baseline.yaml --set economics.pue=1.3
    """
    loaded = load(scenario, set_)
    shown = printable(dump_yaml(loaded.data), multiline=True)
    typer.echo(shown, nl=not shown.endswith("\n"))


def schema(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the JSON Schema here instead of stdout."),
    ] = None,
) -> None:
    """Write the JSON Schema of scenario files (for editor completion and checking).

    Example: xpusim schema --out xpusim.schema.json
    """
    body = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(body, nl=False)
        return
    try:
        write_text(out, body)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc
    typer.echo(printable(f"wrote {out}"))


def diff(
    a: Annotated[Path, typer.Argument(help="First scenario.", show_default=False)],
    b: Annotated[Path, typer.Argument(help="Second scenario.", show_default=False)],
    set_a: Annotated[
        list[str] | None,
        typer.Option("--set-a", metavar="KEY=VALUE", help="Override applied to A (repeatable)."),
    ] = None,
    set_b: Annotated[
        list[str] | None,
        typer.Option("--set-b", metavar="KEY=VALUE", help="Override applied to B (repeatable)."),
    ] = None,
) -> None:
    """List the resolved assumptions that differ between two scenarios.

    Example: xpusim diff scenarios/baseline.yaml scenarios/neuron-parity.yaml
    """
    from rich.table import Table

    rows = diff_scenarios(load(a, set_a).scenario, load(b, set_b).scenario)
    terminal = console()
    if not rows:
        terminal.print(text("no differences"))
        return
    title = f"{len(rows)} difference{'s' if len(rows) != 1 else ''}"
    table = Table(title=title, title_justify="left")
    table.add_column("path", overflow="fold")  # folded on a narrow terminal, never cut short
    for head in _sides(str(a), str(b), bool(set_a), bool(set_b)):
        table.add_column(text(head), overflow="fold")
    for path, left_value, right_value in rows:
        table.add_row(
            text(str(path)), text(diff_value(left_value, path)), text(diff_value(right_value, path))
        )
    terminal.print(table)


def _sides(a: str, b: str, set_a: bool, set_b: bool) -> tuple[str, str]:
    """The heads of ``xpusim diff``'s two columns: the files, told apart when they are one.

    >>> _sides("s.yaml", "t.yaml", False, True), _sides("s.yaml", "s.yaml", False, True)
    (('s.yaml', 't.yaml'), ('s.yaml', 's.yaml (--set-b)'))
    >>> _sides("s.yaml", "s.yaml", True, True)
    ('A: s.yaml (--set-a)', 'B: s.yaml (--set-b)')
    """
    if a != b:
        return a, b
    left = f"{a} (--set-a)" if set_a else a
    right = f"{b} (--set-b)" if set_b else b
    return (left, right) if not (set_a and set_b) else (f"A: {left}", f"B: {right}")


def _run_or_folder(
    item: Path, seed: int | None, allow_large: bool, workers: int | None
) -> tuple[str, Path]:
    """A run folder as given, or the run folder of a scenario file, run first."""
    if item.is_dir():
        return item.name, item
    loaded = load(item, None)
    if not allow_large:
        check_run_size(loaded.scenario, file=str(item))
    run_seed = loaded.scenario.seed if seed is None else seed
    folder = write_run(None, loaded, run_seed, producer(loaded, run_seed, workers))
    typer.echo(printable(f"ran {item}: {folder}"), err=True)
    return item.stem, folder


def _unique(names: list[str]) -> list[str]:
    """Names made distinct by their position where two are the same.

    >>> _unique(["a", "b", "a"])
    ['a', 'b', 'a (3)']
    """
    seen: set[str] = set()
    out = []
    for i, n in enumerate(names, start=1):
        out.append(n if n not in seen else f"{n} ({i})")
        seen.add(n)
    return out


def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Two or more run folders or scenario files (a scenario is run first; the "
            "first is the base the others are compared with).",
            show_default=False,
        ),
    ],
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            help="Root seed for the scenario files given (default: each scenario's own; the "
            "same seed pairs the differences).",
        ),
    ] = None,
    everything: AllOption = False,
    fmt: FormatOption = "table",
    allow_large: AllowLargeRunOption = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, help="Processes for scenario runs."),
    ] = None,
) -> None:
    """Compare runs: their headline metrics side by side, with differences from the first.

    Each headline metric in every run, its difference from the first run, the 95% interval
    of the difference (paired when the runs share seeds) and the relative difference.

    Example: xpusim compare scenarios/baseline.yaml scenarios/neuron-parity.yaml
    """
    fmt = check_format(fmt)
    if len(runs) < 2:
        raise UserError(
            "compare needs at least two runs",
            key="RUNS",
            expected="2 or more",
            found=str(len(runs)),
        )
    for item in runs:
        if not item.is_dir() and not item.is_file():
            raise UserError(f"{item}: no such run folder or scenario file")
    folders = [_run_or_folder(item, seed, allow_large, workers) for item in runs]
    names = _unique([n for n, _ in folders])
    from sim.views.compare import comparison_tables

    named = [(n, read_summary(f)) for n, (_, f) in zip(names, folders, strict=True)]
    emit(comparison_tables(named, everything=everything), fmt)
