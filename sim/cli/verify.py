"""``xpusim verify``: the model checked against theory and itself (verification), its
calibration re-simulated on held-out seeds, comparative statics, and validation against
outside facts not used in fitting, each kind in its own table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from sim.cli.common import FormatOption, emit
from sim.errors import UserError
from sim.experiments.checks import DEFAULT_BASELINE
from sim.safeio import check_not_link, write_text
from sim.views.tables import Column, Tabular, check_format
from sim.views.terminal import console, text

__all__ = ["verify"]


def _write(dest: Path, body: str) -> None:
    try:
        write_text(dest, body)
    except OSError as exc:
        raise UserError(f"cannot write {dest}: {exc.strerror or exc}") from exc


def _tolerance(t: float) -> str:
    return f"{t:.0%}" if t >= 0.01 else f"{t:.0e}"


#: The kinds of check, each printed as its own table (verification is not validation).
KIND_TITLES = (
    ("verification", "Verification: simulated against analytic or recomputed values"),
    ("calibration", "Calibration: the fitted targets re-simulated"),
    ("statics", "Comparative statics: each lever paired with the base on unseen seeds"),
    ("validation", "Validation: the model against outside facts not used in fitting"),
)


_STATICS_COLUMNS = (
    Column("mechanism", "mechanism", text=True),
    Column("check", "lever [metric]", text=True),
    Column("note", "effect (paired mean +- 95%)", text=True),
    Column("result", "result", text=True),
)
_CHECK_COLUMNS = (
    Column("group", "group", text=True),
    Column("check", "check", text=True),
    Column("simulated_shown", "simulated", text=True),
    Column("expected_shown", "expected", text=True),
    Column("error_shown", "rel. error", text=True),
    Column("tolerance_shown", "tolerance", text=True),
    Column("result", "result", text=True),
)
#: What csv and json hold: every field of a check, raw.
_DATA_COLUMNS = (
    "kind",
    "group",
    "check",
    "simulated",
    "expected",
    "relative_error",
    "tolerance",
    "passed",
    "note",
)


def _shown(r: dict[str, Any]) -> dict[str, Any]:
    """A check's row with the texts the terminal table shows beside its raw fields."""
    return {
        **r,
        "mechanism": str(r["group"]).removeprefix("comparative statics: "),
        "simulated_shown": f"{r['simulated']:.6g}",
        "expected_shown": f"{r['expected']:.6g}",
        "error_shown": f"{r['relative_error']:+.2%}",
        "tolerance_shown": _tolerance(r["tolerance"]),
        "result": "pass" if r["passed"] else "FAIL",
    }


def _checks_table(kind: str, title: str, rows: list[dict[str, Any]]) -> Tabular:
    """One kind's checks as a table (the statics show their paired effect)."""
    return Tabular(
        title=title,
        columns=_STATICS_COLUMNS if kind == "statics" else _CHECK_COLUMNS,
        rows=[_shown(r) for r in rows],
        name=kind,
        data_columns=_DATA_COLUMNS,
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
    fmt: FormatOption = "table",
) -> None:
    """Check the simulation against theory, the calibration targets and comparative statics.

    Theory: Erlang C, M/M/(c/k), Little's law, conservation, static TCO and the catalog's
    article ratios; comparative statics: levers paired on unseen seeds. Each kind is in its
    own table. Exit 1 on a failure. With --format csv or json, stdout holds every check's
    fields, raw; the rest goes to stderr.

    Example: xpusim verify --reduced --format md
    """
    from sim.experiments.verification import as_rows, run_checks  # deferred (lazy `run`)

    fmt = check_format(fmt)
    if json_out is not None:
        check_not_link(json_out)  # refused before the checks run, not after
    machine = fmt in ("csv", "json")

    def say(line: str) -> None:
        """A progress or closing line: stderr when stdout holds data."""
        if machine:
            typer.echo(line, err=True)
        else:
            console().print(text(line))

    say("running checks (a few minutes; --reduced for a quick pass) ...")
    checks = run_checks(reduced=reduced, baseline=baseline)
    tables = []
    for kind, title in KIND_TITLES:
        rows = [r for r in as_rows(checks) if r["kind"] == kind]
        if rows:
            tables.append(_checks_table(kind, title, rows))
    emit(tables, fmt)
    failed = [c for c in checks if not c.passed]
    say(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    if json_out is not None:
        _write(json_out, json.dumps(as_rows(checks), indent=2) + "\n")
    if failed:
        raise typer.Exit(1)
