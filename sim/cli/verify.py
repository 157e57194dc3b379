"""``xpusim verify``: the model checked against theory and itself (verification), its
calibration re-simulated on held-out seeds, comparative statics, and validation against
outside facts not used in fitting, each kind in its own table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from sim.errors import UserError
from sim.experiments.verification import DEFAULT_BASELINE, as_rows, run_checks
from sim.safeio import check_not_link, write_text
from sim.views.terminal import console, table, text

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
