"""Scenario problems as located messages: ``file:line: key 'a.b': what; expected ..., found ...``.

A pydantic validation error knows the path of what failed inside the data; the marks the
composer recorded know the file and line of every key path. This module joins the two, words
each kind of pydantic error for a person (with did-you-mean for unknown keys and choices),
and renders the first few problems of a file as one :class:`~sim.errors.ScenarioError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.model.schema import Scenario
from sim.model.schema.base import CrossReferenceError
from sim.scenario.fields import field_names_at
from sim.scenario.marks import Mark
from sim.scenario.paths import KeyPath, dotted
from sim.scenario.words import closest, did_you_mean, number, show, show_set_text

__all__ = [
    "MAX_REPORTED",
    "data_path",
    "error_at",
    "located",
    "nearest_mark",
    "validate_scenario",
]

#: Most problems rendered for one error (the count of the rest is still given).
MAX_REPORTED = 50

_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "date_type": "a date like 2025-06-01",
    "date_parsing": "a date like 2025-06-01",
    "date_from_datetime_inexact": "a date like 2025-06-01 (no time of day)",
    "date_from_datetime_parsing": "a date like 2025-06-01",
    "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "tuple_type": "a list",
    "list_type": "a list",
    "iterable_type": "a list",
    "none_required": "null",
    "finite_number": "a finite number",
}
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def nearest_mark(path: KeyPath, marks: Mapping[KeyPath, Mark]) -> Mark | None:
    """The mark of ``path`` or of its nearest ancestor that has one."""
    for n in range(len(path), -1, -1):
        m = marks.get(path[:n])
        if m is not None:
            return m
    return None


def error_at(
    message: str,
    path: KeyPath,
    marks: Mapping[KeyPath, Mark],
    *,
    expected: str | None = None,
    found: str | None = None,
    hint: str | None = None,
    default_file: str | None = None,
) -> ScenarioError:
    """A :class:`ScenarioError` at ``path``, located by the nearest mark."""
    m = nearest_mark(path, marks)
    if m is not None and m.text is not None:
        found = show_set_text(m.text)
    return ScenarioError(
        message,
        file=m.file if m else default_file,
        line=m.line if m else None,
        key=dotted(path) or None,
        expected=expected,
        found=found,
        hint=hint,
    )


@dataclass(eq=False)  # problems are told apart by identity
class _Problem:
    message: str
    path: KeyPath
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    marks: Mapping[KeyPath, Mark] = field(default_factory=dict)
    default_file: str | None = None
    kind: str = ""  # "missing", "unknown" (a key the schema lacks) or "" for the rest

    def error(self) -> ScenarioError:
        return error_at(
            self.message,
            self.path,
            self.marks,
            expected=self.expected,
            found=self.found,
            hint=self.hint,
            default_file=self.default_file,
        )


@dataclass(frozen=True)
class _Context:
    """What one pydantic error is about: its type, context, value and where it points."""

    typ: str
    ctx: Mapping[str, Any]
    value: Any
    rel: KeyPath
    root: Any
    err: Mapping[str, Any]


def _lookup(data: Any, path: KeyPath) -> tuple[bool, Any]:
    cur = data
    for p in path:
        in_list = isinstance(cur, list | tuple) and isinstance(p, int) and 0 <= p < len(cur)
        if not in_list and not (isinstance(cur, dict) and p in cur):
            return False, None
        cur = cur[p]
    return True, cur


def data_path(loc: Sequence[str | int], data: Any) -> tuple[KeyPath, bool]:
    """The key path of a pydantic error location, and whether the error is about a key.

    Pydantic puts its own tags in a location (``function-after[...]``, ``[key]`` for a
    mapping key that failed validation). Walking the data tells them from user keys that
    look alike: a part present in the data at that point is always a key, whatever its
    characters (``"a["``, ``"[key]"``, ``"seg[1]"``).
    """
    rel: list[str | int] = []
    cur: Any = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        if in_dict or (isinstance(cur, list | tuple) and isinstance(part, int) and part < len(cur)):
            rel.append(part)
            cur = cur[part]
        elif part == "[key]":
            return tuple(rel), True
        elif isinstance(part, str) and "[" in part:
            continue  # a pydantic tag, not a key
        else:
            rel.append(part)  # a key the data lacks (a missing one)
            cur = None
    return tuple(rel), False


def _choices(ctx: Mapping[str, Any]) -> list[str]:
    return re.findall(r"'([^']*)'", str(ctx.get("expected", "")))


def _last_key(p: _Problem) -> str:
    return str(p.path[-1]) if p.path else ""


def _key_error(p: _Problem, c: _Context) -> None:
    name = _last_key(p)
    choices = _choices(c.ctx)
    p.message = f"unknown key '{name}'"
    p.expected = "one of " + ", ".join(choices) if choices else None
    p.found = repr(name)
    p.hint = did_you_mean(name, choices)


def _missing(p: _Problem, c: _Context) -> None:
    p.message = f"missing required key '{_last_key(p)}'"
    p.found = None
    p.kind = "missing"


def _extra_forbidden(p: _Problem, c: _Context) -> None:
    name = _last_key(p)
    fields = field_names_at(c.rel[:-1], c.root)
    if c.root is Scenario and len(c.rel) == 1:
        fields.extend(("extends", "unset"))
    p.message = f"unknown key '{name}'"
    p.expected = "one of " + ", ".join(fields) if fields else None
    p.found = repr(name)
    p.hint = did_you_mean(name, fields)
    p.kind = "unknown"


def _literal(p: _Problem, c: _Context) -> None:
    choices = _choices(c.ctx)
    p.message = "not one of the allowed values"
    p.expected = "one of " + ", ".join(choices)
    p.hint = did_you_mean(str(c.value), choices) if isinstance(c.value, str) else None


def _bound(p: _Problem, c: _Context) -> None:
    op, name = _BOUNDS[c.typ]
    p.message = "value out of range"
    p.expected = f"a number {op} {number(c.ctx.get(name))}"


def _length(p: _Problem, c: _Context) -> None:
    p.message = "wrong number of items"
    if c.typ == "too_long":
        p.expected = f"at most {c.ctx.get('max_length')} items"
    else:
        p.expected = f"at least {c.ctx.get('min_length')} items"


def _text_length(p: _Problem, c: _Context) -> None:
    p.message = "text too long"
    p.expected = f"at most {c.ctx.get('max_length')} characters"


def _pattern(p: _Problem, c: _Context) -> None:
    p.message = "not a valid name"
    if c.ctx.get("pattern") == _NAME_PATTERN:
        p.expected = "letters, digits, '_', '.' or '-', starting with a letter or digit"
    else:
        p.expected = f"text matching {c.ctx.get('pattern')}"


def _wrong_type(p: _Problem, c: _Context) -> None:
    p.message = "not a finite number" if c.typ == "finite_number" else "wrong type of value"
    p.expected = _EXPECTED[c.typ]
    if c.typ == "float_type" and isinstance(c.value, str):
        percent = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%\s*", c.value)
        if percent:
            fraction = float(percent.group(1)) / 100
            p.hint = f"fractions are written as decimals: {c.value.strip()} is {fraction:g}"
        else:
            p.hint = "numbers are written without quotes or units"
    elif c.typ.startswith("date") and isinstance(c.value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", c.value):
            p.hint = "remove the quotes: a quoted date is text"
        else:
            p.hint = "write dates as YYYY-MM-DD, without quotes"


def _other(p: _Problem, c: _Context) -> None:
    msg = str(c.err.get("msg", "invalid value"))
    p.message = msg.removeprefix("Value error, ")
    p.found = None  # the message names the values


_Wording = Callable[[_Problem, _Context], None]
_WORDING: dict[str, _Wording] = {
    "missing": _missing,
    "extra_forbidden": _extra_forbidden,
    "literal_error": _literal,
    **dict.fromkeys(_BOUNDS, _bound),
    "too_long": _length,
    "too_short": _length,
    "string_too_long": _text_length,
    "string_pattern_mismatch": _pattern,
    **dict.fromkeys(_EXPECTED, _wrong_type),
}


def _problem(
    err: Mapping[str, Any],
    base: KeyPath,
    data: Any,
    marks: Mapping[KeyPath, Mark],
    *,
    root: Any = Scenario,
    strip_tag: Sequence[str] = (),
    default_file: str | None = None,
) -> _Problem:
    """Turn one pydantic error into a user-facing problem located by key path.

    ``strip_tag`` lists the tags of a tagged union (the distributions) that lead a location.
    """
    typ: str = err["type"]
    loc = list(err["loc"])
    if loc and loc[0] in strip_tag:
        loc = loc[1:]
    rel, key_error = data_path(loc, data)
    path: KeyPath = (*base, *rel)
    present, value = _lookup(data, rel)
    if not present:
        value = err.get("input")
    ctx = err.get("ctx") or {}
    p = _Problem("invalid value", path, found=show(value), marks=marks, default_file=default_file)
    if typ == "value_error" and isinstance(ctx.get("error"), CrossReferenceError):
        xref: CrossReferenceError = ctx["error"]
        p.path = (*path, *xref.path)
        p.message = xref.message
        p.found = None
        return p
    wording = _key_error if key_error else _WORDING.get(typ, _other)
    wording(p, _Context(typ, ctx, value, rel, root, err))
    return p


def _misspelt(unknown: _Problem, missing: _Problem) -> None:
    """Word ``unknown`` as the misspelling of the required key of ``missing``."""
    name, wanted = _last_key(unknown), _last_key(missing)
    unknown.message = f"unknown key '{name}', and required key '{wanted}' is missing"
    unknown.expected = repr(wanted)
    unknown.hint = f"did you mean '{wanted}'?"


def _pair_typos(problems: Sequence[_Problem]) -> list[_Problem]:
    """The problems with each misspelt required key reported once, at the misspelling.

    A typo in a required key (``peu:`` for ``pue:``) makes two errors: the key found is
    unknown and the key meant is missing. The missing one can only point at the mapping
    that lacks it; the unknown one points at the line of the typo. When an unknown key is
    close (as ``did_you_mean`` judges) to a key missing from the same mapping, the two
    become one problem at the typo's line, in the place of the first of the two.
    """
    out = list(problems)
    missing = [p for p in out if p.kind == "missing"]
    for unknown in [p for p in out if p.kind == "unknown"]:
        same_mapping = {_last_key(m): m for m in missing if m.path[:-1] == unknown.path[:-1]}
        meant = closest(_last_key(unknown), list(same_mapping))
        if meant is None:
            continue
        partner = same_mapping[meant]
        missing.remove(partner)
        _misspelt(unknown, partner)
        first = min(out.index(unknown), out.index(partner))
        out.remove(partner)
        out.remove(unknown)
        out.insert(first, unknown)
    return out


def _combine(problems: Sequence[_Problem], total: int) -> ScenarioError:
    """One error for the first problem, all of them (up to MAX_REPORTED) in ``details``.

    The first problem's message counts the others and says where to see them:
    ``xpusim validate`` prints each on a line of its own.
    """
    errors = [p.error() for p in problems[:MAX_REPORTED]]
    first = errors[0]
    first.details = [str(e) for e in errors]  # each as itself, the first without the count
    if total > 1:
        n = total - 1
        first.message += f" (+{n} more error{'s' if n > 1 else ''}, listed by xpusim validate)"
    if total > len(errors):
        first.details.append(f"... and {total - len(errors)} more errors not listed")
    return first


def located(
    e: ValidationError,
    base: KeyPath,
    data: Any,
    marks: Mapping[KeyPath, Mark],
    *,
    root: Any = Scenario,
    strip_tag: Sequence[str] = (),
    default_file: str | None = None,
) -> ScenarioError:
    """The located error for a pydantic ``ValidationError`` (only the first few are rendered).

    ``base`` is the key path of ``data`` in the scenario (``("catalog",)`` for a catalog),
    ``root`` the model it was validated as.
    """
    errors = e.errors(include_url=False)
    problems = [
        _problem(err, base, data, marks, root=root, strip_tag=strip_tag, default_file=default_file)
        for err in errors[:MAX_REPORTED]
    ]
    shown = _pair_typos(problems)
    return _combine(shown, total=len(errors) - (len(problems) - len(shown)))


def validate_scenario(
    data: dict[str, Any], marks: Mapping[KeyPath, Mark], default_file: str
) -> Scenario:
    """``data`` validated as a :class:`Scenario`, or the located error."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise located(e, (), data, marks, default_file=default_file) from None
