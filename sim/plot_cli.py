"""The ``xpusim plot`` and ``xpusim report`` commands, registered on the main typer app.

Kept apart from :mod:`sim.cli` so that matplotlib is imported only when one of these
commands runs. ``sim.cli`` calls :func:`register` once::

    from sim.plot_cli import register
    register(app)

Errors (a missing folder, a folder that is not a run, sweep or sensitivity folder, an
unknown figure kind or format) are :class:`~sim.errors.UserError`; the main app's
command group prints them as one line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.errors import printable

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``plot`` and ``report`` commands to ``app``."""

    @app.command("plot")
    def plot(
        folder: Annotated[
            Path,
            typer.Argument(help="Run, sweep or sensitivity folder.", show_default=False),
        ],
        kind: Annotated[
            list[str] | None,
            typer.Option(
                "--kind",
                "-k",
                metavar="KIND",
                help=(
                    "Figure to draw (repeatable): cost, learning, adoption, tco_breakdown, "
                    "program, queue, tornado, sobol, sweep. Default: every figure that fits."
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
    ) -> None:
        """Draw figures of a run, sweep or sensitivity folder into DIR/figures/.

        Example: xpusim plot results/baseline/20240529T120000Z-1a2b3c4d --kind cost
        """
        from sim.views.figures import plot_folder
        from sim.views.style import FORMATS

        written = plot_folder(folder, kinds=kind or None, formats=fmt or FORMATS)
        for path in written:
            typer.echo(printable(path))

    @app.command("report")
    def report(
        folder: Annotated[
            Path,
            typer.Argument(help="Run, sweep or sensitivity folder.", show_default=False),
        ],
    ) -> None:
        """Write DIR/report.html (self-contained) and DIR/report.md with the figures.

        Example: xpusim report results/baseline/20240529T120000Z-1a2b3c4d
        """
        from sim.views.report import write_report

        html_path, md_path = write_report(folder)
        typer.echo(printable(html_path))
        typer.echo(printable(md_path))
