"""The ``xpusim`` application: every command group's commands on one Typer app."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Annotated

import typer

import sim
from sim.cli import calibrate, economics, experiments, explain, outputs, scenarios, verify
from sim.cli.common import Command, CommandGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="xpusim",
    cls=CommandGroup,
    help="Simulate the economics of cloud AI accelerators (Nvidia GPUs vs in-house chips).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"xpusim {sim.__version__}")
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


# in the order of ``xpusim --help``
for _name, _command in (
    ("run", scenarios.run),
    ("validate", scenarios.validate),
    ("show", scenarios.show),
    ("schema", scenarios.schema),
    ("diff", scenarios.diff),
    ("compare", scenarios.compare),
    ("catalog", economics.catalog),
    ("tco", economics.tco),
    ("calibrate", calibrate.calibrate),
    ("verify", verify.verify),
    ("explain", explain.explain),
    ("plot", outputs.plot),
    ("report", outputs.report),
    ("sweep", experiments.sweep),
    ("sensitivity", experiments.sensitivity),
):
    app.command(_name, cls=Command)(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point of ``xpusim`` (``argv`` None: this process's command line)."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="xpusim")
    finally:
        if argv is None:
            # The process ends next. Frozen objects are left to the operating system instead
            # of being visited one by one by the interpreter's shutdown, which took 0.15 s
            # of CPU with the run path's modules loaded; files are closed by then, the
            # standard streams are flushed and exit handlers run as usual.
            gc.freeze()
