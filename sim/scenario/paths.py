"""Key paths: the one parser and renderer of dotted paths into scenario and summary data.

A key path names a value in nested mappings and lists: ``economics.pue``,
``provider.pools.h100.deliveries.0.chips``. A key is written plainly unless it is empty or
holds a character that would make the path ambiguous (a dot, bracket, quote, '=', space or
control character); then it is written in double quotes, JSON-escaped:
``economics."p.ue"``, ``segments."seg[1]"``. :func:`dotted` renders a path, and
:func:`parse_key_path` reads one back; every message, ``--set``, ``--grid``, ``unset``,
calibration target and sweep parameter goes through these two.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "KeyPath",
    "dotted",
    "flatten",
    "lookup",
    "nested",
    "parse_key_path",
    "segment",
    "split_assignment",
    "split_path",
    "value_at",
    "walk_paths",
]

KeyPath = tuple[str | int, ...]

# A key is written plainly in a key path unless it is empty or holds a character that
# would make the path ambiguous (a dot, bracket, quote, '=', space or control character);
# then it is written in double quotes, JSON-escaped: economics."p.ue", segments."seg[1]".
_PLAIN_KEY = re.compile(r"[^.\[\]\"'=\s\x00-\x1f\x7f-\x9f]+\Z")
_JSON = json.JSONDecoder()


def segment(part: str | int) -> str:
    """One key of a key path as written in messages and accepted by ``--set``.

    >>> [segment(p) for p in ("pue", 3, "p.ue", "seg[1]", "", 'say "hi"')]
    ['pue', '3', '"p.ue"', '"seg[1]"', '""', '"say \\\\"hi\\\\""']
    """
    if isinstance(part, int) or _PLAIN_KEY.match(part):
        return str(part)
    return json.dumps(part, ensure_ascii=False)


def dotted(path: Sequence[str | int]) -> str:
    """A key path as text: keys joined by dots, unusual keys in double quotes.

    >>> dotted(("segments", "a.b", "platforms", 0))
    'segments."a.b".platforms.0'
    """
    return ".".join(segment(p) for p in path)


def parse_key_path(text: str) -> KeyPath:
    """The keys of a dotted key path (the inverse of :func:`dotted`).

    Plain parts are stripped of spaces and become list positions when they are all
    digits; a part in double quotes (JSON string syntax) is a key exactly as written, dots,
    brackets and all. Raises ``ValueError`` saying what is wrong (an empty part, an
    unclosed or misplaced quote), worded to follow "the key path ".

    >>> parse_key_path('segments."a.b".platforms.training.0')
    ('segments', 'a.b', 'platforms', 'training', 0)
    >>> parse_key_path("economics. pue ")
    ('economics', 'pue')
    """
    parts: list[str | int] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i < n and text[i] == '"':
            value, i = _quoted(text, i)
            parts.append(value)
        else:
            j = text.find(".", i)
            j = n if j < 0 else j
            seg = text[i:j].strip()
            if not seg:
                raise ValueError("has an empty part")
            if '"' in seg:
                raise ValueError("has a quote inside a key (quote the whole key)")
            parts.append(int(seg) if seg.isascii() and seg.isdigit() else seg)
            i = j
        if i >= n:
            return tuple(parts)
        i += 1  # the dot
        if i >= n:
            raise ValueError("has an empty part")


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The quoted key starting at ``text[i]`` and the position after it (and its spaces)."""
    try:
        value, i = _JSON.raw_decode(text, i)
    except json.JSONDecodeError:
        raise ValueError("has a quoted key not closed by '\"'") from None
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    if i < n and text[i] != ".":
        raise ValueError("has text after a quoted key (expected '.' or the end)")
    return str(value), i


def split_assignment(text: str) -> tuple[str, str] | None:
    """``key.path=value`` split at the first '=' outside a quoted key, or None without one.

    >>> split_assignment('segments."a=b".x=1'), split_assignment("no equals")
    (('segments."a=b".x', '1'), None)
    """
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "=":
            return text[:i], text[i + 1 :]
        if ch == '"':
            try:
                _, i = _JSON.raw_decode(text, i)
            except json.JSONDecodeError:  # an unclosed quote: the path reports it
                j = text.find("=", i)
                return None if j < 0 else (text[:j], text[j + 1 :])
            continue
        i += 1
    return None


def split_path(path: str | Sequence[str | int]) -> KeyPath:
    """A key path's parts; a malformed text path is split at its dots (never raises).

    >>> split_path("usage_ratio_vs_gpu.trainium.2023"), split_path(["a", "0"])
    (('usage_ratio_vs_gpu', 'trainium', 2023), ('a', 0))
    """
    if isinstance(path, str):
        try:
            return parse_key_path(path)
        except ValueError:
            path = path.split(".")
    return tuple(int(p) if isinstance(p, str) and p.isascii() and p.isdigit() else p for p in path)


def walk_paths(value: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    """Every key path in a tree of dicts and lists, the root included (iterative: fast)."""
    stack: list[tuple[KeyPath, Any]] = [(path, value)]
    while stack:
        p, v = stack.pop()
        yield p
        if isinstance(v, dict):
            stack.extend(((*p, k), c) for k, c in v.items())
        elif isinstance(v, list):
            stack.extend(((*p, i), c) for i, c in enumerate(v))


def lookup(data: Any, path: Sequence[str | int]) -> tuple[bool, Any]:
    """``(True, value)`` at ``path`` in nested mappings and lists, ``(False, None)`` if absent.

    A part names a mapping key as it is, or its text (a year ``2023`` finds the key
    ``"2023"``), and a list item by position.

    >>> lookup({"a": [{"b": 1}]}, ("a", 0, "b")), lookup({"y": {"2023": 2}}, ("y", 2023))
    ((True, 1), (True, 2))
    >>> lookup({"a": 1}, ("a", "b"))
    (False, None)
    """
    cur = data
    for p in path:
        if isinstance(cur, Mapping):
            if p in cur:
                cur = cur[p]
            elif str(p) in cur:
                cur = cur[str(p)]
            else:
                return False, None
        elif isinstance(cur, list | tuple) and isinstance(p, int) and 0 <= p < len(cur):
            cur = cur[p]
        else:
            return False, None
    return True, cur


def value_at(data: Any, path: str | Sequence[str | int], default: Any = None) -> Any:
    """The value at a key path of nested mappings and lists, or ``default`` when absent.

    >>> value_at({"pools": {"h100": {"initial_chips": 8}}}, "pools.h100.initial_chips")
    8
    >>> value_at({}, "a.b") is None
    True
    """
    found, value = lookup(data, split_path(path))
    return value if found else default


def nested(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{dotted path: value}`` as nested mappings (list positions become keys).

    >>> nested({"a.b": 1, "a.c": 2, 'x."y.z"': 3})
    {'a': {'b': 1, 'c': 2}, 'x': {'y.z': 3}}
    """
    out: dict[str, Any] = {}
    for path, value in values.items():
        *head, last = split_path(path)
        node = out
        for part in head:
            node = node.setdefault(str(part), {})
        node[str(last)] = value
    return out


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted path, leaf)`` for every leaf of nested mappings and lists (empty ones are leaves).

    >>> list(flatten({"a": {"b": 1, "c.d": [2, 3]}, "e": {}}))
    [('a.b', 1), ('a."c.d".0', 2), ('a."c.d".1', 3), ('e', {})]
    """
    if isinstance(value, dict) and value:
        for k, v in value.items():
            key = segment(str(k))
            yield from flatten(v, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list | tuple) and value:
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value
