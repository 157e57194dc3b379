"""``xpusim plot`` and ``xpusim report``: the figures and the report of an output folder.

matplotlib is imported only when one of these commands runs (the views that draw are
imported inside the commands). Errors (a missing folder, a folder that is not a run, sweep
or sensitivity folder, an unknown figure kind or format) are one-line user errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.errors import UserError, printable

__all__ = ["plot", "report"]


def plot(
    folders: Annotated[
        list[Path],
        typer.Argument(
            help="Run, sweep or sensitivity folder; for --kind compare, two run folders or "
            "more (the first is the base).",
            show_default=False,
        ),
    ],
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            "-k",
            metavar="KIND",
            help=(
                "Figure to draw (repeatable): cost, learning, adoption, tco_breakdown, "
                "program, queue, tornado, sobol, sweep, compare. Default: every figure that "
                "fits."
            ),
        ),
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="png|svg",
            help="Image format (repeatable). Default: png and svg.",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            metavar="KEY",
            help="Metric of the sweep figure (repeatable; every one is drawn). Default: the "
            "headline ones.",
        ),
    ] = None,
) -> None:
    """Draw figures of a run, sweep or sensitivity folder into DIR/figures/.

    --kind compare draws the relative differences of two run folders or more into the
    first one's figures/compare.png (and .svg).

    Example: xpusim plot results/baseline/20240529T120000Z-1a2b3c4d --kind cost
    """
    from sim.views.figures import plot_compare_folders, plot_folder  # deferred: matplotlib

    if "compare" in (kind or []) or len(folders) > 1:
        if kind != ["compare"]:
            raise UserError(
                "several folders are drawn only as --kind compare (and compare only)",
                key="--kind",
                expected="compare",
                found=", ".join(kind or ["(every kind)"]),
            )
        written = plot_compare_folders(folders, formats=fmt or None)
    else:
        written = plot_folder(
            folders[0], kinds=kind or None, formats=fmt or None, metrics=metric or None
        )
    for path in written:
        typer.echo(printable(path))


def report(
    folder: Annotated[
        Path,
        typer.Argument(help="Run, sweep or sensitivity folder.", show_default=False),
    ],
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="A scenario file to compare with: the report lists the resolved values "
            "that differ from it (default: no comparison).",
        ),
    ] = None,
) -> None:
    """Write DIR/report.html (self-contained) and DIR/report.md with the figures.

    Example: xpusim report results/baseline/20240529T120000Z-1a2b3c4d --baseline
    scenarios/baseline.yaml
    """
    from sim.views.report import write_report  # deferred: matplotlib

    html_path, md_path = write_report(folder, baseline)
    typer.echo(printable(html_path))
    typer.echo(printable(md_path))
