"""How values and suggestions are worded in messages about scenarios (pure text helpers)."""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["closest", "did_you_mean", "huge", "kind_of", "number", "show", "show_set_text"]


#: How alike (difflib's ratio, 0-1) a candidate must be to ``word`` to be suggested for it.
_CLOSE_RATIO = 0.6


def _close(word: str, candidates: Sequence[str], n: int) -> list[str]:
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=_CLOSE_RATIO)


def closest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate closest to ``word`` if one is close enough to suggest, else None.

    >>> closest("peu", ["pue", "seed"]), closest("horizon", ["pue"])
    ('pue', None)
    """
    close = _close(word, candidates, 1)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    """``did you mean 'a' or 'b'?`` for the candidates close to ``word``, else None.

    >>> did_you_mean("pu", ["pue", "seed"])
    "did you mean 'pue'?"
    """
    close = _close(word, candidates, 3)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def kind_of(v: Any) -> str:
    """What sort of YAML value ``v`` is, in words ('number', 'list', 'mapping' ...)."""
    if isinstance(v, bool):
        return "true/false value"
    if isinstance(v, dict):
        return "mapping"
    if isinstance(v, list | tuple):
        return "list"
    if v is None:
        return "null"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, dt.date):
        return "date"
    return "text"


def show(v: Any) -> str:
    """A value as a user wrote it, short."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nothing (null)"
    if isinstance(v, float):
        return _show_float(v)
    if isinstance(v, int):
        return str(v) if abs(v) < 10**30 else huge(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return repr(v if len(v) <= 60 else v[:57] + "...")
    if isinstance(v, dict):
        return "a mapping {" + ", ".join(list(map(str, v))[:5]) + ("...}" if len(v) > 5 else "}")
    if isinstance(v, list | tuple):
        return f"a list of {len(v)} item{'s' if len(v) != 1 else ''}"
    return repr(v)


def _show_float(v: float) -> str:
    if math.isnan(v):
        return ".nan (not a number)"
    if math.isinf(v):
        return ".inf (infinity)" if v > 0 else "-.inf (minus infinity)"
    return repr(v)


def huge(v: int) -> str:
    """A whole number too long to show, in scientific form (any size: no float conversion).

    >>> huge(10**400), huge(-(2 * 10**30))
    ('1e+400', '-2e+30')
    """
    exponent = math.floor(math.log10(abs(v)))
    mantissa = abs(v) / 10**exponent  # exact division of whole numbers, rounded once
    if mantissa >= 9.995:  # rounding carried into the next power of ten
        mantissa, exponent = 1.0, exponent + 1
    return f"{'-' if v < 0 else ''}{mantissa:.3g}e+{exponent}"


def number(x: Any) -> str:
    """A bound of a range as a message states it: ``0``, ``1.5``, ``1,000,000,000``.

    >>> number(0.0), number(1.5), number(10**9)
    ('0', '1.5', '1,000,000,000')
    """
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e9:
        return str(int(x))
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, int) and abs(x) >= 10**9:
        return f"{x:,}"
    return str(x)


def show_set_text(text: str) -> str:
    """The text of a ``--set`` value as a message shows it (shortened, empty said so)."""
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text) + (" (nothing)" if not text.strip() else "")
