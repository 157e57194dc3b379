"""``xpusim explain``: why each segment chose as it did in a year, from a run folder.

Reads the run's ``choices.parquet`` (what every segment's customers saw at every review)
and prints, per segment and workload, the utility gap between the best in-house option and
the best CUDA option split into its terms with their shares (see
:mod:`sim.accounting.choices`), and whether any residual constant carries more than the
scenario's ``adoption.residual_bound_fraction`` of its gap.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from sim.errors import UserError
from sim.safeio import check_not_link, write_text
from sim.views.terminal import console, table, text

if TYPE_CHECKING:  # imported when the command runs (lazy: `xpusim run`)
    from sim.results.folders import Folder

__all__ = ["explain", "explain_rows"]

_DEFAULT_BOUND = 0.25


def _bound(folder: Folder) -> float:
    model = folder.scenario_model
    return model.adoption.residual_bound_fraction if model is not None else _DEFAULT_BOUND


def _years(choices: pd.DataFrame) -> list[int]:
    return sorted({int(str(d)[:4]) for d in choices["date"].unique()})


def explain_rows(folder_path: Path, year: int) -> tuple[pd.DataFrame, float]:
    """The decomposition table of ``year`` for a run folder, and the residual bound."""
    from sim.accounting.choices import decompose
    from sim.results.folders import Folder

    folder = Folder(folder_path)
    if not folder.is_run:
        raise UserError(
            f"{folder_path} is a {folder.describe()}, not a run folder",
            hint="give a folder written by `xpusim run --out DIR`",
        )
    choices = folder.need("choices")
    years = _years(choices)
    if year not in years:
        shown = f"{years[0]}-{years[-1]}" if years else "none"
        raise UserError(
            f"the run has no customer reviews in {year}",
            key="--year",
            expected=f"a year with reviews ({shown})",
            found=str(year),
        )
    return decompose(choices, year), _bound(folder)


def _cell(value: Any) -> str:
    return "" if not isinstance(value, float) or not math.isfinite(value) else f"{value:+.3f}"


def _share(value: Any) -> str:
    return "" if not isinstance(value, float) or not math.isfinite(value) else f"{value:.0%}"


def explain(
    folder: Annotated[Path, typer.Argument(help="Run folder.", show_default=False)],
    year: Annotated[int, typer.Option("--year", "-y", help="Calendar year to explain.")] = 2023,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the table as JSON here.")
    ] = None,
) -> None:
    """Why customers chose: each segment's utility gap between in-house chips and CUDA.

    The gap in YEAR is split into price per useful unit, software-efficiency penalty,
    porting cost, risk, switching hurdle, residual constants and imitation (Bass), with
    their shares; feature gates are reported apart.

    Example: xpusim explain results/baseline/20240529T120000Z-1a2b3c4d --year 2023
    """
    from sim.accounting.choices import EXPLAIN_TERMS, residual_bound_problems

    if json_out is not None:
        check_not_link(json_out)
    rows, bound = explain_rows(folder, year)
    terminal = console()
    if rows.empty:
        terminal.print(text(f"no segment weighed an in-house option against CUDA in {year}"))
        return
    offered = rows[rows["gated"] == ""]
    gated = rows[rows["gated"] != ""]
    terms = list(EXPLAIN_TERMS)
    if len(offered):
        terminal.print(
            table(
                f"{year}: utility gap in-house minus CUDA, by term (logit units; negative "
                "pushes customers to CUDA)",
                ["segment", "workload", "options", *terms, "gap", "P(option)"],
                [
                    [
                        r["segment"],
                        r["workload"],
                        f"{r['inhouse_option']} vs {r['cuda_option']}",
                        *[_cell(r[t]) for t in terms],
                        _cell(r["gap"]),
                        f"{r['inhouse_probability']:.3g}",
                    ]
                    for _, r in offered.iterrows()
                ],
            )
        )
        terminal.print(
            table(
                f"{year}: share of each term in the gap (|term| / sum of |terms|)",
                ["segment", "workload", "family", *terms],
                [
                    [
                        r["segment"],
                        r["workload"],
                        r["family"],
                        *[_share(r[f"share_{t}"]) for t in terms],
                    ]
                    for _, r in offered.iterrows()
                ],
            )
        )
    if len(gated):
        terminal.print(
            table(
                f"{year}: held back by a feature gate (the gate explains all of the choice)",
                ["segment", "workload", "in-house options", "missing features"],
                [
                    [r["segment"], r["workload"], r["inhouse_option"], r["gated"]]
                    for _, r in gated.iterrows()
                ],
            )
        )
    problems = residual_bound_problems(rows, bound)
    terminal.print(
        text(
            f"residual constants within {bound:.0%} of every segment's gap"
            if not problems
            else "residual constants above the bound: " + "; ".join(problems)
        )
    )
    if json_out is not None:
        body = rows.to_json(orient="records", indent=2)
        try:
            write_text(json_out, json.dumps(json.loads(body), indent=2) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {json_out}: {exc.strerror or exc}") from exc
