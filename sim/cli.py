"""The ``xpusim`` command line (also ``python -m sim``).

Every command that takes a scenario accepts ``--set a.b.c=value`` (repeatable). Errors in
user input (a bad scenario, a bad ``--set``, an unreadable file, an unwritable output
folder) are printed as one ``error: <file>:<line>: ...`` line on stderr with exit status
2 and no traceback; command-line usage errors also exit 2. The simulation itself is
imported lazily so that ``--help`` and ``validate`` stay fast.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import pandas as pd
import typer
import yaml
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from sim import __version__
from sim.errors import UserError, printable
from sim.model.rng import MAX_SEED
from sim.views.numbers import TERMINAL, fmt_value
from sim.views.terminal import console, diff_value, summary_tables, table, text

__all__ = ["app", "main"]


# --------------------------------------------------------------------------- error handling


def _user_error_from(exc: BaseException) -> UserError | None:
    """The user-facing form of an exception raised while reading input, or None."""
    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        name = getattr(mark, "name", None)
        file = name if name not in (None, "<unicode string>", "<file>") else None
        problem = getattr(exc, "problem", None) or str(exc)
        return UserError(f"YAML syntax error: {problem}", file=file, line=line)
    if isinstance(exc, UnicodeDecodeError):
        return UserError(f"file is not valid UTF-8 text ({exc.reason} at byte {exc.start})")
    if isinstance(exc, OSError):
        name = exc.filename
        reason = exc.strerror or str(exc)
        return UserError(f"{reason}: {name}" if name else reason)
    return None


class _Group(TyperGroup):
    """The top-level command group: turns user errors into one line and exit status 2."""

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored) click Context
        try:
            return super().invoke(ctx)
        except (UserError, yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            error = _user_error_from(exc)
            if error is None:  # pragma: no cover - _user_error_from covers these types
                raise
            _fail(error)
        except Exception as exc:
            # click's usage errors quote what was typed: escape it before typer prints it
            message = getattr(exc, "message", None)
            if isinstance(message, str) and hasattr(exc, "show"):
                exc.message = printable(message)  # type: ignore[attr-defined]
            raise


def _fail(error: UserError) -> NoReturn:
    message = " ".join(str(error).split("\n"))
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


app = typer.Typer(
    name="xpusim",
    cls=_Group,
    help="Simulate the economics of cloud AI accelerators (Nvidia GPUs vs in-house chips).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"xpusim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """xpusim: cloud AI accelerator economics as a discrete-event simulation."""


# --------------------------------------------------------------------------- shared options

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a scenario value by dotted key path, e.g. economics.pue=1.2 (repeatable).",
    ),
]


SeedOption = Annotated[
    int | None,
    typer.Option(
        "--seed",
        min=0,
        max=MAX_SEED,
        help="Root random seed, 0 to 2**63-1 (default: the scenario's seed).",
    ),
]
AllowLargeOption = Annotated[
    bool,
    typer.Option(
        "--allow-large",
        help="Run even when the estimated events exceed the cap (README: Limits).",
    ),
]


def _load(path: Path, overrides: Sequence[str] | None) -> Any:
    from sim.scenario import load_scenario

    return load_scenario(path, tuple(overrides or ()))


@contextmanager
def _collect(report: Callable[[UserError], None]) -> Iterator[None]:
    """Report a user error through ``report`` instead of stopping the command."""
    try:
        yield
    except (UserError, yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        error = _user_error_from(exc)
        if error is None:  # pragma: no cover
            raise
        report(error)


# --------------------------------------------------------------------------- commands


@app.command()
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
        bool, typer.Option("--quiet", "-q", help="Print only the run folder path.")
    ] = False,
    allow_large: AllowLargeOption = False,
) -> None:
    """Run a scenario and write its run folder.

    Example: xpusim run scenarios/baseline.yaml --set economics.pue=1.3 --seed 7
    """
    from sim.model.estimate import check_run_size
    from sim.results.run_folder import write_run

    loaded = _load(scenario, set_)
    if not allow_large:
        check_run_size(loaded.scenario, file=str(scenario))
    run_seed = loaded.scenario.seed if seed is None else seed
    produce = _producer(loaded, run_seed)
    folder = write_run(out, loaded, run_seed, produce)
    if quiet:
        typer.echo(printable(folder))
        return
    terminal = console()
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    for t in summary_tables(summary):
        terminal.print(t)
    terminal.print(text(f"scenario {loaded.scenario.name}, seed {run_seed}"))
    terminal.print(text(f"run folder: {folder}"))


def _producer(loaded: Any, seed: int) -> Callable[[], Any]:
    """The engine's run of the loaded scenario from root seed `seed`."""
    from sim.accounting.runner import run as engine_run

    return lambda: engine_run(loaded.scenario, seed)


@app.command()
def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Scenario YAML files to check.", show_default=False)
    ],
    set_: SetOption = None,
) -> None:
    """Check scenario files: 'ok <file>' for each valid one, the first error of each other.

    Example: xpusim validate scenarios/*.yaml
    """
    bad = 0

    def report(error: UserError) -> None:
        nonlocal bad
        bad += 1
        typer.echo(f"error: {' '.join(str(error).splitlines())}", err=True)

    from sim.scenario import saved_yaml

    for file in files:
        with _collect(report):
            loaded = _load(file, set_)
            saved_yaml(loaded.data, str(file))  # what `run` saves must load again
            typer.echo(printable(f"ok {file}"))
    if bad:
        raise typer.Exit(2)


@app.command()
def show(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    set_: SetOption = None,
) -> None:
    """Print the fully resolved scenario (extends and --set applied) as YAML.

    Example: xpusim show scenarios/baseline.yaml --set economics.pue=1.3
    """
    from sim.scenario import dump_yaml

    loaded = _load(scenario, set_)
    text = printable(dump_yaml(loaded.data), multiline=True)
    typer.echo(text, nl=not text.endswith("\n"))


@app.command()
def schema(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the JSON Schema here instead of stdout."),
    ] = None,
) -> None:
    """Write the JSON Schema of scenario files (for editor completion and checking).

    Example: xpusim schema --out xpusim.schema.json
    """
    from sim.scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    from sim.safeio import write_text

    try:
        write_text(out, text)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc
    typer.echo(printable(f"wrote {out}"))


@app.command()
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

    Example: xpusim diff scenarios/baseline.yaml scenarios/low_friction.yaml
    """
    from sim.scenario import diff_scenarios

    left = _load(a, set_a)
    right = _load(b, set_b)
    rows = diff_scenarios(left.scenario, right.scenario)
    terminal = console()
    if not rows:
        terminal.print(text("no differences"))
        return
    differences = Table(title=f"{len(rows)} differences", title_justify="left")
    differences.add_column("path")
    differences.add_column(text(str(a)), overflow="fold")
    differences.add_column(text(str(b)), overflow="fold")
    for path, left_value, right_value in rows:
        differences.add_row(
            text(str(path)), text(diff_value(left_value)), text(diff_value(right_value))
        )
    terminal.print(differences)


_CATALOG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("vendor", "vendor"),
    ("stack", "stack"),
    ("launch", "launch"),
    ("training TFLOP/s", "training_tflops"),
    ("HBM GB", "hbm_gb"),
    ("mem TB/s", "memory_tb_per_s"),
    ("busy W", "busy_power_w"),
    ("unit USD", "unit_cost_usd"),
    ("USD/chip-h", "cloud_price_usd_per_chip_hour"),
    ("tokens/s", "inference_tokens_per_s"),
    ("MFU", "training_mfu"),
    ("sources", "sources"),
)


@app.command()
def catalog(
    check: Annotated[
        bool,
        typer.Option("--check", help="Report numbers without a source and broken article ratios."),
    ] = False,
    chip: Annotated[
        str | None, typer.Option("--chip", help="Show one chip, each figure with its source.")
    ] = None,
) -> None:
    """Print the shipped chip catalog with the sources of its numbers.

    Example: xpusim catalog --chip trainium2; xpusim catalog --check
    """
    from sim.model.catalog import catalog_table, check_catalog, ratio_results
    from sim.scenario import load_catalog

    cat, provenance = load_catalog()
    terminal = console()
    if check:
        problems = check_catalog(cat, provenance)
        rows = [
            [
                r.name,
                f"{r.numerator}/{r.denominator}",
                r.metric,
                r.expected,
                f"±{r.tolerance:.0%}",
                measured,
                "ok" if ok else "FAIL",
                r.source,
            ]
            for r, measured, ok in ratio_results(cat)
        ]
        terminal.print(
            table(
                "Article ratios",
                ["ratio", "chips", "metric", "expected", "tolerance", "catalog", "", "source"],
                rows,
            )
        )
        for problem in problems:
            terminal.print(text(f"problem: {problem}"))
        if problems:
            terminal.print(text(f"{len(problems)} problem(s) in the catalog"))
            raise typer.Exit(1)
        terminal.print(text("catalog check passed: every number has a source; ratios hold"))
        return
    if chip is not None:
        _print_chip(terminal, cat, provenance, chip)
        return
    chips = catalog_table(cat, provenance)
    chips["training_tflops"] = [cat.chips[c].training_tflops for c in chips["id"]]
    chips["sources"] = [_short_sources(s) for s in chips["sources"]]
    terminal.print(
        table(
            f"Chip catalog ({len(chips)} chips)",
            [h for h, _ in _CATALOG_COLUMNS],
            [[row[c] for _, c in _CATALOG_COLUMNS] for row in chips.to_dict("records")],
        )
    )


def _short_sources(sources: str) -> str:
    """Distinct citation keys or web sites of a '; '-separated source list (for the table).

    >>> _short_sources("bnext-2023-12; aws.amazon.com/ec2/pricing (2024); assumption")
    'bnext-2023-12, aws.amazon.com, assumption'
    """
    out: list[str] = []
    for source in sources.split("; "):
        words = source.split()
        key = words[0].split("/")[0] if words else ""
        if key and key not in out:
            out.append(key)
    return ", ".join(out)


def _print_chip(terminal: Console, cat: Any, provenance: Mapping[str, Any], chip: str) -> None:
    from sim.model.catalog import provenance_entry

    if chip not in cat.chips:
        close = difflib.get_close_matches(chip, list(cat.chips), n=1)
        raise UserError(
            f"unknown chip {chip!r}",
            hint=f"did you mean {close[0]!r}?" if close else f"known: {', '.join(cat.chips)}",
        )
    spec = cat.chips[chip]
    rows = []
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        entry = provenance_entry(provenance, f"chips.{chip}.{name}") or {}
        shown = ", ".join(value) if isinstance(value, tuple) else value
        rows.append(
            [
                name,
                shown,
                entry.get("unit", ""),
                entry.get("source", ""),
                entry.get("date", ""),
                entry.get("kind", ""),
                entry.get("note", ""),
            ]
        )
    terminal.print(
        table(
            f"{spec.name} ({chip})",
            ["field", "value", "unit", "source", "date", "kind", "note"],
            rows,
        )
    )


_TCO_VIEW: tuple[tuple[str, str], ...] = (
    ("chip", "chip"),
    ("capex USD", "capex_usd_per_chip"),
    ("TCO USD/chip-h", "tco_usd_per_chip_hour"),
    ("TCO USD/busy chip-h", "tco_usd_per_busy_chip_hour"),
    ("USD/PFLOP", "usd_per_pflop"),
    ("USD/Mtok", "usd_per_mtok"),
    ("price USD/chip-h", "on_demand_usd_per_chip_hour"),
    ("blended USD/chip-h", "blended_usd_per_chip_hour"),
    ("customer USD/PFLOP", "customer_usd_per_pflop"),
    ("customer USD/Mtok", "customer_usd_per_mtok"),
    ("margin USD/busy chip-h", "gross_margin_usd_per_busy_chip_hour"),
)
_TCO_BREAKDOWN: tuple[tuple[str, str], ...] = (
    ("chip", "chip"),
    ("street x", "street_price_multiplier"),
    ("server+net USD", "server_network_usd_per_chip"),
    ("capital", "capital_usd_per_chip_hour"),
    ("power", "power_usd_per_chip_hour"),
    ("facility", "facility_usd_per_chip_hour"),
    ("maintenance", "maintenance_usd_per_chip_hour"),
    ("total", "tco_usd_per_chip_hour"),
)


@app.command()
def tco(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    set_: SetOption = None,
    utilization: Annotated[
        float | None,
        typer.Option(
            "--utilization",
            "-u",
            min=0.0,
            max=1.0,
            help="Busy fraction of installed hours (default: procurement target_utilization).",
        ),
    ] = None,
    all_chips: Annotated[
        bool, typer.Option("--all-chips", help="Every catalog chip, not only the pools.")
    ] = False,
) -> None:
    """Print the static per-chip TCO, unit costs, customer prices and margin.

    Example: xpusim tco scenarios/baseline.yaml --utilization 0.6 --all-chips
    """
    from sim.accounting.tco import static_tco_table

    loaded = _load(scenario, set_)
    frame: pd.DataFrame = static_tco_table(loaded.scenario, utilization, all_chips=all_chips)
    u = float(frame["utilization"].iloc[0]) if len(frame) else utilization
    terminal = console()
    records = frame.to_dict("records")
    terminal.print(
        table(
            f"Static economics per chip at utilisation {fmt_value(u, style=TERMINAL)} "
            f"({loaded.scenario.name})",
            [h for h, _ in _TCO_VIEW],
            [[row[c] for _, c in _TCO_VIEW] for row in records],
        )
    )
    terminal.print(
        table(
            "Provider TCO per installed chip-hour by component (USD)",
            [h for h, _ in _TCO_BREAKDOWN],
            [[row[c] for _, c in _TCO_BREAKDOWN] for row in records],
        )
    )


def _parse_target(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    try:
        if not sep or not key.strip():
            raise ValueError
        return key.strip(), float(value)
    except ValueError:
        raise UserError(
            "bad --target",
            file="--target",
            expected="KEY=NUMBER, e.g. usage_ratio_vs_gpu.trainium.2023=0.005",
            found=repr(text),
        ) from None


def _parse_free(text: str, loaded: Any) -> Any:
    from sim.experiments.calibration import FreeParameter, get_path
    from sim.scenario import substitute

    path, *rest = text.split(":")
    path = path.strip()
    try:
        start = float(get_path(loaded.data, path))
    except (KeyError, TypeError, ValueError):
        substitute(loaded, {path: 0.0})  # raises a located error for an unknown path
        raise UserError(
            "a free parameter must name a number in the resolved scenario",
            file="--free",
            key=path,
            found=repr(text),
        ) from None
    try:
        low, high = (float(rest[0]), float(rest[1])) if rest else (start - 10.0, start + 10.0)
    except (ValueError, IndexError):
        raise UserError(
            "bad --free", file="--free", expected="PATH or PATH:LOW:HIGH", found=repr(text)
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


@app.command()
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
    allow_large: AllowLargeOption = False,
) -> None:
    """Fit free parameters so that summary metrics hit targets (scipy, common random numbers).

    Example: xpusim calibrate scenarios/baseline.yaml
    --target usage_ratio_vs_gpu.trainium.2023=0.005 --free adoption.family_preference.trainium
    """
    import datetime as _dt

    from sim.experiments.calibration import calibrate as fit
    from sim.experiments.calibration import truncated
    from sim.model.estimate import check_run_size
    from sim.model.schema import MAX_REPLICATIONS
    from sim.safeio import check_not_link, write_text
    from sim.scenario.edit import replace_top_level_block, set_scalars
    from sim.scenario.marks import read_text

    if in_place:
        check_not_link(scenario)  # refused before the fit, not after it
    elif out is not None:
        check_not_link(out)
    loaded = _load(scenario, set_)
    targets = dict(_parse_target(t) for t in target)
    sources = dict(t.partition("=")[::2] for t in (target_source or []))
    for key in sources:
        if key not in targets:
            raise UserError("--target-source names no --target", file="--target-source", key=key)
    params = [_parse_free(f, loaded) for f in free]
    reps = replications or loaded.scenario.replications
    root = loaded.scenario.seed if seed is None else seed
    if reps > MAX_REPLICATIONS:
        raise UserError(
            "too many replications",
            file="--replications",
            expected=f"at most {MAX_REPLICATIONS:,}",
            found=f"{reps:,}",
        )
    if not allow_large:
        # each evaluation runs the replications on the horizon cut at the last target year
        check_run_size(
            truncated(loaded, targets).scenario,
            replications=reps,
            evaluations=max_evaluations,
            file=str(scenario),
        )
    terminal = console()

    def progress(i: int, values: dict[str, float], achieved: dict[str, float], loss: float) -> None:
        vals = ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.4g}" for k, v in values.items())
        got = ", ".join(f"{v:.4g}" for v in achieved.values())
        terminal.print(text(f"eval {i:3d}  {vals}  ->  {got}  (loss {loss:.4g})"))

    try:
        result = fit(
            loaded,
            targets,
            params,
            replications=reps,
            seed=root,
            max_evaluations=max_evaluations,
            tolerance=tolerance,
            progress=progress,
        )
    except KeyError as exc:
        raise UserError(
            "unknown target metric",
            file="--target",
            key=str(exc.args[0]),
            hint="metric keys are dotted paths of summary.json",
        ) from None
    rows = [[k, targets[k], result.achieved[k], f"{result.residuals[k]:+.1%}"] for k in targets]
    terminal.print(table("Calibration fit", ["target", "wanted", "achieved", "error"], rows))
    terminal.print(table("Fitted parameters", ["parameter", "value"], list(result.values.items())))
    terminal.print(
        text(
            f"{result.evaluations} evaluations x {reps} replications, seed {root}: "
            + ("converged" if result.success else f"NOT within {tolerance:.0%}")
        )
    )
    record = {
        "calibration": {
            "targets": targets,
            "target_sources": sources,
            "free_parameters": {k: round(v, 6) for k, v in result.values.items()},
            "residuals": {k: round(v, 6) for k, v in result.residuals.items()},
            "replications": reps,
            "seed": root,
            "method": "xpusim calibrate: scipy.optimize Nelder-Mead on squared log residuals, "
            "common random numbers, horizon cut at the last target year",
            "date": _dt.date.today().isoformat(),
        }
    }
    block = yaml.safe_dump(record, sort_keys=False, width=100)
    if in_place or out is not None:
        dest = scenario if in_place else out
        assert dest is not None
        if in_place:
            yaml_text = read_text(scenario, str(scenario))
            fitted = {k: round(v, 6) for k, v in result.values.items()}
            yaml_text, missing = set_scalars(yaml_text, fitted)
            if missing:
                raise UserError(
                    "--in-place can only set values written in the file itself",
                    file=str(scenario),
                    key=", ".join(missing),
                    hint="use --out to write an extending file instead",
                )
        else:
            rel = Path(os.path.relpath(scenario.resolve(), dest.resolve().parent))
            lines = [
                f"# Calibrated by xpusim calibrate from {rel.as_posix()}",
                f"extends: {rel.as_posix()}",
            ]
            overrides: dict[str, Any] = {}
            for k, v in result.values.items():
                node = overrides
                *head, last = k.split(".")
                for part in head:
                    node = node.setdefault(part, {})
                node[last] = round(v, 6)
            yaml_text = "\n".join(lines) + "\n" + yaml.safe_dump(overrides, sort_keys=False)
        yaml_text = replace_top_level_block(yaml_text, "calibration", block)
        try:
            write_text(dest, yaml_text)
        except OSError as exc:
            raise UserError(f"cannot write {dest}: {exc.strerror or exc}") from exc
        terminal.print(text(f"calibrated scenario written to {dest}"))
    if not result.success:
        raise typer.Exit(1)


@app.command()
def verify(
    reduced: Annotated[
        bool, typer.Option("--reduced", help="Fewer jobs and replications (as CI runs it).")
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the table as JSON here.")
    ] = None,
) -> None:
    """Check the simulation against theory: Erlang C, M/M/(c/k), Little's law, conservation,
    static TCO, the calibration targets and the catalog's article ratios. Exit 1 on a failure.
    """
    from sim.experiments.verification import as_rows, run_checks
    from sim.safeio import check_not_link, write_text

    if json_out is not None:
        check_not_link(json_out)  # refused before the checks run, not after
    terminal = console()
    terminal.print(text("running checks (a few minutes; --reduced for a quick pass) ..."))
    checks = run_checks(reduced=reduced)
    rows = [
        [
            r["group"],
            r["check"],
            f"{r['simulated']:.6g}",
            f"{r['expected']:.6g}",
            f"{r['relative_error']:+.2%}",
            f"{r['tolerance']:.0%}" if r["tolerance"] >= 0.01 else f"{r['tolerance']:.0e}",
            "pass" if r["passed"] else "FAIL",
        ]
        for r in as_rows(checks)
    ]
    terminal.print(
        table(
            "xpusim verify: simulated against analytic or recomputed values",
            ["group", "check", "simulated", "expected", "rel. error", "tolerance", "result"],
            rows,
        )
    )
    failed = [c for c in checks if not c.passed]
    terminal.print(text(f"{len(checks) - len(failed)} passed, {len(failed)} failed"))
    if json_out is not None:
        try:
            write_text(json_out, json.dumps(as_rows(checks), indent=2) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {json_out}: {exc.strerror or exc}") from exc
    if failed:
        raise typer.Exit(1)


def _register_extensions() -> None:
    """Commands that live in their own modules (imported lazily when they run)."""
    from sim.plot_cli import register as register_plot
    from sim.sweep_cli import register as register_sweep

    register_plot(app)
    register_sweep(app)


_register_extensions()


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point of ``xpusim``."""
    app(args=list(argv) if argv is not None else None, prog_name="xpusim")
