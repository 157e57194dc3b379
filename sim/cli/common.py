"""What every command shares: one-line user errors (exit status 2) and the common options.

Errors in user input (a bad scenario, a bad ``--set``, an unreadable file, an unwritable
output folder) are printed as one ``error: <file>:<line>: ...`` line on stderr with exit
status 2 and no traceback. Command-line mistakes (a value out of range, an unknown or
missing option) are printed the same way, naming the option, what it expects and what
was found: ``error: --seed: invalid value; expected an integer from 0 to ..., found -1``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import yaml
from typer._click.exceptions import (  # typer's vendored click
    BadOptionUsage,
    BadParameter,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from sim.errors import UserError, printable
from sim.model.schema.base import MAX_SEED
from sim.scenario.words import closest, show_set_text
from sim.views.tables import FORMATS, Tabular, check_format, render

if TYPE_CHECKING:
    from sim.scenario import LoadedScenario

__all__ = [
    "AllOption",
    "AllowLargeRunOption",
    "Command",
    "CommandGroup",
    "FormatOption",
    "SeedOption",
    "SetOption",
    "collect",
    "emit",
    "fail",
    "load",
    "note",
    "usage_error",
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


#: What an option or argument of each type expects, in words.
_KINDS: dict[object, str] = {
    int: "an integer",
    float: "a number",
    str: "text",
    Path: "a path",
    bool: "true or false",
}


def _bound(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _expects(param: Any) -> str | None:
    """What a command-line parameter expects in words (its type and range), or None."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return None
    if desc.is_choice and desc.choices:
        return "one of " + ", ".join(map(str, desc.choices))
    annotation = desc.annotation
    if desc.is_list:
        annotation = getattr(annotation, "__args__", (None,))[0]
    kind = _KINDS.get(annotation)
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if kind is not None and low is not None and high is not None:
        return f"{kind} from {_bound(low)} to {_bound(high)}"
    if kind is not None and low is not None:
        return f"{kind} of at least {_bound(low)}"
    if kind is not None and high is not None:
        return f"{kind} of at most {_bound(high)}"
    return kind


def _name(param: Any) -> str:
    """An option by its long name (``--seed``), an argument by its name in capitals."""
    opts = getattr(param, "opts", None) or []
    if isinstance(param, TyperArgument) or not opts:
        return str(param.name or "?").upper()
    return str(max(opts, key=len))


def _found(exc: BaseException) -> str | None:
    """The value typed, when the error's cause (a pydantic ValidationError) kept it."""
    errors = getattr(exc.__cause__, "errors", None)
    if not callable(errors):
        return None
    first = next(iter(errors()), None)
    if not isinstance(first, dict) or "input" not in first:
        return None
    value = first["input"]
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return show_set_text(value)
        return value
    return str(value)


def _sentence(message: str) -> str:
    """A click message as the middle of an ``error:`` line: lower case, no full stop."""
    message = message.strip().rstrip(".")
    return message[:1].lower() + message[1:]


def _option_names(ctx: Any) -> list[str]:
    params = ctx.command.get_params(ctx) if ctx is not None else []
    return [_name(p) for p in params if isinstance(p, TyperOption) and not p.hidden]


def usage_error(exc: UsageError) -> UserError:
    """A command-line mistake (click's usage errors) as a one-line user error that names the
    option, what it expects and what was found."""
    ctx = exc.ctx
    command = ctx.command_path if ctx is not None else "xpusim"
    see = f"see '{command} --help'"
    if isinstance(exc, MissingParameter) and exc.param is not None:
        kind = "argument" if isinstance(exc.param, TyperArgument) else "option"
        help_text = getattr(exc.param, "help", None)
        return UserError(
            f"missing {kind} {_name(exc.param)}",
            file=command,
            expected=_sentence(help_text) if help_text else _expects(exc.param),
            found="nothing",
            hint=see,
        )
    if isinstance(exc, BadParameter) and exc.param is not None:
        found, expected = _found(exc), _expects(exc.param)
        if found is None or expected is None:
            return UserError(_sentence(exc.message), file=_name(exc.param), expected=expected)
        return UserError("invalid value", file=_name(exc.param), expected=expected, found=found)
    if isinstance(exc, NoSuchOption):
        close = exc.possibilities or []  # click's, the closest first
        return UserError(
            f"no such option {exc.option_name}",
            file=command,
            expected="one of " + ", ".join(_option_names(ctx)),
            hint=f"did you mean {close[0]}?" if close else see,
        )
    if isinstance(exc, BadOptionUsage) and ctx is not None:
        params = [p for p in ctx.command.get_params(ctx) if exc.option_name in p.opts]
        expected = _expects(params[0]) if params else None
        return UserError(_sentence(exc.message), file=command, expected=expected, hint=see)
    return UserError(_sentence(exc.message), file=command, hint=see)


def _unwrapped(text: str | None) -> str | None:
    """Help text with each paragraph on one line, so the terminal wraps it (never mid-line
    where the docstring's source line ended); paragraphs starting with \\b stay as written."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
        for p in paragraphs
    )


def _untyped_flags(params: list[Any]) -> list[Any]:
    """``params`` with no type shown for on/off flags (typer shows ``<bool>``)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class _Readable:
    """Help that reads well (paragraphs wrapped to the terminal, flags untyped) and parsing
    errors that know the command they are about; mixed into typer's command classes."""

    help: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _unwrapped(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))  # type: ignore[misc]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return _parsed(super().parse_args, ctx, args)  # type: ignore[misc]


class Command(_Readable, TyperCommand):
    """A command of xpusim (see :class:`_Readable`)."""


def _parsed(parse: Callable[[Any, list[str]], list[str]], ctx: Any, args: list[str]) -> list[str]:
    """``parse(ctx, args)``, a usage error given ``ctx`` when click's parser left it out."""
    try:
        return parse(ctx, args)
    except UsageError as exc:
        if exc.ctx is None:
            exc.ctx = ctx
        raise


class CommandGroup(_Readable, TyperGroup):
    """The top-level command group: turns user errors, the command line's included, into
    one line and exit status 2; the help of its commands as :class:`Command`'s."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except NoArgsIsHelpError:
            raise  # no arguments: the help, as click prints it
        except UsageError as exc:
            fail(usage_error(exc))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError:
            name = args[0] if args else ""
            if not name or name.startswith("-") or self.get_command(ctx, name) is not None:
                raise
            commands = self.list_commands(ctx)
            close = closest(name, commands)
            raise UserError(
                f"no such command {show_set_text(name)}",
                file=ctx.command_path,
                expected="one of " + ", ".join(commands),
                hint=f"did you mean {close}?" if close else None,
            ) from None

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored) click Context
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # stdout closed early (``| head``): typer exits quietly, not an input error
        except _INPUT_ERRORS as exc:
            error = user_error_from(exc)
            if error is None:  # pragma: no cover - user_error_from covers these types
                raise
            fail(error)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            fail(usage_error(exc))
        except KeyboardInterrupt:
            # a command with more to say (sweep: how to resume) says it and exits itself
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            # other click errors quote what was typed: escape it before typer prints it
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
