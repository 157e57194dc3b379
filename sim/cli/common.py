"""What every command shares: one-line user errors (exit status 2) and the common options.

Errors in user input (a bad scenario, a bad ``--set``, an unreadable file, an unwritable
output folder) are printed as one ``error: <file>:<line>: ...`` line on stderr with exit
status 2 and no traceback; command-line usage errors also exit 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import yaml
from typer.core import TyperGroup

from sim.errors import UserError, printable
from sim.model.schema.base import MAX_SEED
from sim.views.tables import FORMATS, Tabular, check_format, render

if TYPE_CHECKING:
    from sim.scenario import LoadedScenario

__all__ = [
    "AllOption",
    "AllowLargeRunOption",
    "CommandGroup",
    "FormatOption",
    "SeedOption",
    "SetOption",
    "collect",
    "emit",
    "fail",
    "load",
    "note",
    "user_error_from",
]


def user_error_from(exc: BaseException) -> UserError | None:
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


_INPUT_ERRORS = (UserError, yaml.YAMLError, UnicodeDecodeError, OSError)


def fail(error: UserError) -> NoReturn:
    """Print ``error`` as one ``error:`` line on stderr and exit with status 2."""
    message = " ".join(str(error).split("\n"))
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


class CommandGroup(TyperGroup):
    """The top-level command group: turns user errors into one line and exit status 2."""

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored) click Context
        try:
            return super().invoke(ctx)
        except _INPUT_ERRORS as exc:
            error = user_error_from(exc)
            if error is None:  # pragma: no cover - user_error_from covers these types
                raise
            fail(error)
        except KeyboardInterrupt:
            # a command with more to say (sweep: how to resume) says it and exits itself
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            # click's usage errors quote what was typed: escape it before typer prints it
            message = getattr(exc, "message", None)
            if isinstance(message, str) and hasattr(exc, "show"):
                exc.message = printable(message)  # type: ignore[attr-defined]
            raise


@contextmanager
def collect(report: Callable[[UserError], None]) -> Iterator[None]:
    """Report a user error through ``report`` instead of stopping the command."""
    try:
        yield
    except _INPUT_ERRORS as exc:
        error = user_error_from(exc)
        if error is None:  # pragma: no cover
            raise
        report(error)


def note(text: str) -> None:
    """A one-line note on stderr (the command goes on)."""
    typer.echo(f"note: {printable(' '.join(text.split()))}", err=True)


def load(path: Path, overrides: Sequence[str] | None) -> LoadedScenario:
    """The scenario file with its ``--set`` overrides; a ``warning:`` line on stderr for
    each value outside its plausible range (sim/data/plausible.yaml)."""
    from sim.scenario import load_scenario
    from sim.scenario.plausibility import plausibility_warnings

    loaded = load_scenario(path, tuple(overrides or ()))
    for warning in plausibility_warnings(loaded):
        typer.echo(printable(f"warning: {warning}"), err=True)
    return loaded


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
AllowLargeRunOption = Annotated[
    bool,
    typer.Option(
        "--allow-large",
        help="Run even when the estimated events exceed the cap (README: Limits).",
    ),
]

AllOption = Annotated[
    bool,
    typer.Option("--all", "-a", help="Every metric of the summary, not only the headline."),
]

FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        metavar="|".join(FORMATS),
        help="Output: a terminal table, or csv, json or md (Markdown) on stdout; csv and json "
        "hold the raw numbers at full precision.",
    ),
]


def emit(tables: Sequence[Tabular], fmt: str) -> None:
    """Print ``tables`` in the ``--format`` asked for (a UserError for an unknown one)."""
    from sim.views.terminal import console  # deferred: rich

    render(tables, check_format(fmt), console())
