"""Load a scenario: YAML layers -> one resolved, validated :class:`~sim.schema.Scenario`.

Layers, lowest first: the shipped catalog (``sim/data/chips.yaml``, ``stacks.yaml``, under the
scenario key ``catalog``), the ``extends:`` chain, the scenario file, then each ``--set``
override. Mappings merge key by key; anything else (numbers, text, lists) replaces.

Since a merge can only add or replace, a file may also *remove* what it inherits with a
top-level ``unset: [dotted.path, ...]`` (e.g. ``unset: [provider.pools.trainium1]`` drops a
pool the parent defines). For each file of the ``extends`` chain, base first, the order is:
everything below it merged (catalog, then its ancestors) -> the file's ``unset`` paths removed
from that merged data -> the file's own keys merged on top. So a file's ``unset`` applies only
to what it inherited (a key it defines itself is never removed by its own ``unset``, and a
child may re-add a key its ``unset`` removed), and ``--set`` overrides come after every
``unset``. Each path names mapping keys (a list is replaced as a whole, never unset item by
item); a key that itself contains dots (``calibration.targets`` keys) is matched as well. A
path that does not exist is an error located at its line in the ``unset`` list, with a
did-you-mean. ``unset`` itself never reaches the resolved data.

Every mapping key and list item keeps the file and line it came from, so that any problem,
a YAML syntax error as much as a pydantic validation error or a dangling cross-reference,
is reported as ``file:line: key 'a.b.c': what is wrong; expected ..., found ...``.

Two value forms are understood anywhere in the tree:

* a *sourced figure*, ``{value: 989, unit: tflops, source: ..., date: '2022', kind: measured,
  note: ...}``: replaced by its value; the rest is recorded as provenance;
* an *uncertain number*, ``{dist: triangular, low: 1, mode: 2, high: 3}`` (see
  :mod:`sim.uncertainty`): replaced by its central value and recorded in ``distributions``.

Nothing here writes files, prints or exits; every user error is a
:class:`~sim.errors.ScenarioError`. Inputs are bounded (file size, nesting depth, list
length, node count) so that a malformed or hostile file fails fast. Anchors and aliases are
refused (use ``extends``), which also rules out "billion laughs" alias bombs, and only the
standard scalar tags are accepted, so YAML never builds Python objects.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import errno
import json
import math
import os
import re
import stat
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from sim.errors import ScenarioError
from sim.model.schema import Catalog, CrossReferenceError, Scenario
from sim.uncertainty import (
    DISTRIBUTION_ADAPTER,
    DISTRIBUTIONS,
    Distribution,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_FILE_BYTES",
    "MAX_ITEMS",
    "LoadedScenario",
    "Mark",
    "diff_scenarios",
    "dump_yaml",
    "file_problem",
    "is_integer_path",
    "leading_comment",
    "load_catalog",
    "load_scenario",
    "read_user_bytes",
    "read_user_text",
    "saved_yaml",
    "scenario_json_schema",
    "shipped_catalog_files",
    "substitute",
]

#: Largest scenario or catalog file read, in bytes.
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Deepest nesting of mappings and lists in one file.
MAX_DEPTH = 50
#: Most items in one list or keys in one mapping.
MAX_ITEMS = 100_000
#: Most YAML nodes (keys, values, items) in one file: bounds the time spent on a big file.
MAX_NODES = 250_000
#: Most problems rendered for one error (the count of the rest is still given).
MAX_REPORTED = 50
#: Longest ``extends`` chain.
MAX_EXTENDS = 20

SET_FILE = "--set"
FIGURE_KEYS = frozenset({"source", "kind", "unit", "date", "note"})
FIGURE_KINDS = ("measured", "derived", "calibrated", "assumed")
_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
# Plain numbers that YAML 1.1 and 1.2 read alike (no octal, no '_', no sexagesimal).
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_PLAIN_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+\Z")
# Longest whole number read (Python refuses to convert much longer digit strings).
MAX_DIGITS = 1000
_TEXT_TAGS = frozenset({_YAML + "value", _YAML + "merge"})
_MAP_TAG = _YAML + "map"
_SEQ_TAG = _YAML + "seq"

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Mark:
    """Where a key or value came from: a file and 1-based line, or a ``--set`` text."""

    file: str
    line: int | None
    text: str | None = None


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with everything needed to explain where each value came from."""

    scenario: Scenario
    data: dict[str, Any]
    path: Path
    files: tuple[Path, ...]
    provenance: dict[str, dict[str, Any]]
    distributions: dict[str, Distribution]
    marks: Mapping[KeyPath, Mark] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class _Unset:
    """One path of a file's ``unset`` list: its parts, as written, and where it was written."""

    parts: tuple[str, ...]
    text: str
    mark: Mark


@dataclass
class _Layer:
    """One source of data (a file, the catalog, an override) with its marks and provenance.

    ``unset`` lists the paths the layer removes from what lies below it before it is merged.
    """

    data: dict[str, Any]
    marks: dict[KeyPath, Mark]
    provenance: dict[KeyPath, dict[str, Any]] = field(default_factory=dict)
    unset: list[_Unset] = field(default_factory=list)


class _Empty:
    """The document of a file holding nothing or only comments."""


_EMPTY = _Empty()


# A key is written plainly in a key path unless it is empty or holds a character that
# would make the path ambiguous (a dot, bracket, quote, '=', space or control character);
# then it is written in double quotes, JSON-escaped: economics."p.ue", segments."seg[1]".
_PLAIN_KEY = re.compile(r"[^.\[\]\"'=\s\x00-\x1f\x7f-\x9f]+\Z")
_JSON = json.JSONDecoder()


def _segment(part: str | int) -> str:
    """One key of a key path as written in messages and accepted by ``--set``.

    >>> [_segment(p) for p in ("pue", 3, "p.ue", "seg[1]", "", 'say "hi"')]
    ['pue', '3', '"p.ue"', '"seg[1]"', '""', '"say \\\\"hi\\\\""']
    """
    if isinstance(part, int) or _PLAIN_KEY.match(part):
        return str(part)
    return json.dumps(part, ensure_ascii=False)


def _dotted(path: Sequence[str | int]) -> str:
    """A key path as text: keys joined by dots, unusual keys in double quotes."""
    return ".".join(_segment(p) for p in path)


def _parse_key_path(text: str) -> tuple[str | int, ...]:
    """The keys of a dotted key path (the inverse of :func:`_dotted`).

    Plain parts are stripped of spaces and become list positions when they are all
    digits; a part in double quotes (JSON string syntax) is a key exactly as written, dots,
    brackets and all. Raises ``ValueError`` saying what is wrong (an empty part, an
    unclosed or misplaced quote), worded to follow "the key path ".

    >>> _parse_key_path('segments."a.b".platforms.training.0')
    ('segments', 'a.b', 'platforms', 'training', 0)
    >>> _parse_key_path("economics. pue ")
    ('economics', 'pue')
    """
    parts: list[str | int] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i < n and text[i] == '"':
            try:
                value, i = _JSON.raw_decode(text, i)
            except json.JSONDecodeError:
                raise ValueError("has a quoted key not closed by '\"'") from None
            parts.append(value)
            while i < n and text[i].isspace():
                i += 1
            if i < n and text[i] != ".":
                raise ValueError("has text after a quoted key (expected '.' or the end)")
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


def _split_assignment(text: str) -> tuple[str, str] | None:
    """``key.path=value`` split at the first '=' outside a quoted key, or None without one."""
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


# =========================================================================== YAML reading


def _not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file, else None."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device (like /dev/zero)"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a scenario or catalog file, or None if it can.

    Looks without opening: a device or a named pipe is never opened (opening a FIFO would
    wait for a writer; reading /dev/zero never ends).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "is a broken symbolic link" if os.path.islink(path) else "does not exist"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "is a symbolic link loop (the link leads back to itself)"
        if e.errno == errno.ENAMETOOLONG:
            return "has a name that is too long"
        if e.errno == errno.ENOTDIR:
            return "does not exist (a part of its path is not a folder)"
        return f"cannot be read ({e.strerror or e})"
    except ValueError:  # a NUL byte in the name
        return "has an invalid name (it contains a NUL byte)"
    kind = _not_regular(st.st_mode)
    return None if kind is None else f"is {kind}, not a regular file"


def read_user_bytes(path: Path, label: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file given by a user, never reading more than ``limit + 1``.

    Devices, named pipes, directories, sockets and symbolic-link loops are refused with a
    message saying which; the file is checked before it is opened and again (``fstat``) on
    the open descriptor, which is opened non-blocking so that nothing can make it wait. The
    size is known only by reading (``stat`` says 0 for /proc files and devices), so at most
    one byte more than the limit is read to tell a file that is too large.
    """
    problem = file_problem(path)
    if problem is not None:
        if problem == "does not exist":
            raise ScenarioError("file not found", file=label)
        raise ScenarioError(f"the file {problem}", file=label, expected="a regular file")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise ScenarioError(f"cannot read the file: {e.strerror or e}", file=label) from None
    try:
        kind = _not_regular(os.fstat(fd).st_mode)
        if kind is not None:  # replaced between the check and the open
            raise ScenarioError(
                f"the file is {kind}, not a regular file", file=label, expected="a regular file"
            )
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise ScenarioError(f"cannot read the file: {e.strerror or e}", file=label) from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limit:
        raise ScenarioError(
            "file is too large",
            file=label,
            expected=f"at most {limit:,} bytes",
            found=f"more than {limit:,} bytes",
        )
    return raw


def read_user_text(path: Path, label: str) -> str:
    """The UTF-8 text of a scenario or catalog file (see :func:`read_user_bytes`)."""
    return _decode(read_user_bytes(path, label), label)


def _decode(raw: bytes, label: str) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            "file is too large",
            file=label,
            expected=f"at most {MAX_FILE_BYTES:,} bytes",
            found=f"{len(raw):,} bytes",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(
            "the file is not UTF-8 text",
            file=label,
            line=line,
            expected="UTF-8 text",
            found=f"the byte 0x{raw[e.start]:02x}",
            hint="save the file as UTF-8",
        ) from None


# YAML 1.1 (PyYAML) reads 1e6 and 5.0e8 as text: its floats need a dot and a signed
# exponent. Scenarios are full of such numbers, so also accept YAML 1.2 exponent floats.
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
_FLOAT_FIRST = list("-+0123456789.")


class _PyLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader with YAML 1.2 exponent floats."""


_PyLoader.add_implicit_resolver(_YAML + "float", _FLOAT_12, _FLOAT_FIRST)

if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """libyaml's C safe loader (fast) with YAML 1.2 exponent floats."""

    _CLoader.add_implicit_resolver(_YAML + "float", _FLOAT_12, _FLOAT_FIRST)
    _LOADER: type[Any] = _CLoader
else:  # pragma: no cover - libyaml is normally present
    _LOADER = _PyLoader


def _parser(text: str) -> Any:
    """A YAML event source: libyaml's C parser when available, else PyYAML's."""
    return _LOADER(text)


class _Composer:
    """Builds plain data and key-path marks from YAML events, refusing what scenarios never need.

    This is PyYAML's composer (``yaml.compose``) rewritten over the same event stream so that
    it can enforce the limits while it reads (nesting depth, list length, node count),
    refuse anchors, aliases and non-standard tags before anything is built, and record the
    line of every key and list item under its key path.
    """

    def __init__(self, text: str, label: str, *, prefix: KeyPath = (), set_text: str | None = None):
        self.text = text
        self.label = label
        self.prefix = prefix
        self.set_text = set_text
        self.loader = _parser(text)
        self.ctor = SafeConstructor()
        self.nodes = 0
        self.where: KeyPath = prefix
        self.marks: dict[KeyPath, Mark] = {}

    def mark(self, yaml_mark: Any) -> Mark:
        if self.set_text is not None:
            return Mark(self.label, None, self.set_text)
        return Mark(self.label, None if yaml_mark is None else yaml_mark.line + 1)

    def fail(
        self,
        message: str,
        yaml_mark: Any,
        path: KeyPath,
        *,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
    ) -> ScenarioError:
        m = self.mark(yaml_mark)
        return ScenarioError(
            message,
            file=self.label,
            line=m.line,
            key=_dotted(path) or None,
            expected=expected,
            found=found if m.text is None else repr(m.text),
            hint=hint,
        )

    def document(self) -> Any:
        """The single document of the text, or ``_EMPTY``."""
        lo = self.loader
        try:
            lo.get_event()  # StreamStartEvent
            if lo.check_event(StreamEndEvent):
                return _EMPTY
            lo.get_event()  # DocumentStartEvent
            first = lo.peek_event()
            self.marks[self.prefix] = self.mark(first.start_mark)
            value = self.node(self.prefix, 0)
            lo.get_event()  # DocumentEndEvent
            if not lo.check_event(StreamEndEvent):
                ev = lo.peek_event()
                raise self.fail(
                    "a scenario file holds one YAML document; found a second one ('---')",
                    ev.start_mark,
                    (),
                )
            return value
        except yaml.MarkedYAMLError as e:
            raise self._syntax_error(e) from None
        finally:
            lo.dispose()

    def _syntax_error(self, e: yaml.MarkedYAMLError) -> ScenarioError:
        mark = e.problem_mark or e.context_mark
        problem = (e.problem or "invalid YAML").strip()
        hint = None
        if mark is not None:
            lines = self.text.splitlines()
            row = lines[mark.line] if 0 <= mark.line < len(lines) else ""
            if "\t" in row[: mark.column + 1] or "tab" in problem:
                hint = "indent with spaces: YAML does not allow tabs for indentation"
        if hint is None and ("expected ',' or ']'" in problem or "flow sequence" in problem):
            hint = "a '[' is not closed by ']'"
        elif hint is None and ("'}'" in problem or "flow mapping" in problem):
            hint = "a '{' is not closed by '}'"
        elif hint is None and "mapping values are not allowed" in problem:
            hint = "check the indentation, or quote a value that contains ': '"
        if "nesting depth" in problem:
            # PyYAML >= 6.0.3 caps flow nesting itself, before any event reaches the composer's
            # own depth check; report it the same way
            return self.fail(
                "the data is nested too deeply",
                mark,
                self.where,
                expected=f"at most {MAX_DEPTH} levels",
                found="more",
            )
        context = f" {e.context}" if e.context else ""
        return self.fail(
            f"YAML syntax error: {problem}{context}",
            mark,
            self.where,
            hint=hint,
        )

    def node(self, path: KeyPath, depth: int) -> Any:
        lo = self.loader
        ev = lo.peek_event()
        self.where = path
        if isinstance(ev, AliasEvent):
            raise self.fail(
                f"YAML aliases (*{ev.anchor}) are not supported",
                ev.start_mark,
                path,
                hint="write the value out, or share settings with 'extends: base.yaml'",
            )
        if ev.anchor is not None:
            raise self.fail(
                f"YAML anchors (&{ev.anchor}) are not supported",
                ev.start_mark,
                path,
                hint="share settings with 'extends: base.yaml' instead",
            )
        if depth > MAX_DEPTH:
            raise self.fail(
                "the data is nested too deeply",
                ev.start_mark,
                path,
                expected=f"at most {MAX_DEPTH} levels",
                found="more",
            )
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(
                "the file has too many values",
                ev.start_mark,
                path,
                expected=f"at most {MAX_NODES:,} keys, values and list items",
                found="more",
            )
        if isinstance(ev, ScalarEvent):
            lo.get_event()
            return self.scalar(ev, path)
        if isinstance(ev, SequenceStartEvent):
            self.check_tag(ev, _SEQ_TAG, path)
            lo.get_event()
            items: list[Any] = []
            while not lo.check_event(SequenceEndEvent):
                item = lo.peek_event()
                if len(items) >= MAX_ITEMS:
                    raise self.fail(
                        "the list is too long",
                        item.start_mark,
                        path,
                        expected=f"at most {MAX_ITEMS:,} items",
                        found="more",
                    )
                ipath = (*path, len(items))
                self.marks[ipath] = self.mark(item.start_mark)
                items.append(self.node(ipath, depth + 1))
            lo.get_event()
            return items
        if isinstance(ev, MappingStartEvent):
            self.check_tag(ev, _MAP_TAG, path)
            lo.get_event()
            out: dict[str, Any] = {}
            while not lo.check_event(MappingEndEvent):
                kev = lo.peek_event()
                key = self.key(kev, path)
                kpath = (*path, key)
                if key in out:
                    first = self.marks.get(kpath)
                    raise self.fail(
                        f"duplicate key '{key}'",
                        kev.start_mark,
                        kpath,
                        hint=None if first is None else f"first given on line {first.line}",
                    )
                if len(out) >= MAX_ITEMS:
                    raise self.fail(
                        "the mapping has too many keys",
                        kev.start_mark,
                        path,
                        expected=f"at most {MAX_ITEMS:,} keys",
                        found="more",
                    )
                self.marks[kpath] = self.mark(kev.start_mark)
                self.where = kpath
                out[key] = self.node(kpath, depth + 1)
            lo.get_event()
            return out
        raise self.fail("unexpected YAML event", ev.start_mark, path)  # pragma: no cover

    def check_tag(self, ev: Any, standard: str, path: KeyPath) -> None:
        if ev.tag not in (None, "!", standard):
            raise self.fail(
                f"the YAML tag {_short_tag(ev.tag)} is not allowed",
                ev.start_mark,
                path,
                hint="scenario files hold plain values only: remove the '!' tag",
            )

    def key(self, ev: Any, path: KeyPath) -> str:
        self.loader.get_event()
        if isinstance(ev, AliasEvent) or getattr(ev, "anchor", None) is not None:
            raise self.fail(
                "YAML anchors and aliases are not supported",
                ev.start_mark,
                path,
                hint="share settings with 'extends: base.yaml' instead",
            )
        if not isinstance(ev, ScalarEvent):
            raise self.fail(
                "a key must be a plain word, not a list or mapping", ev.start_mark, path
            )
        self.nodes += 1
        value = self.scalar(ev, path)
        if not isinstance(value, str):
            raise self.fail(
                "keys must be text",
                ev.start_mark,
                path,
                expected="a word like 'pue'",
                found=f"the {_kind(value)} {_show(value)}",
                hint=f"quote it: '{ev.value}'",
            )
        return value

    def scalar(self, ev: Any, path: KeyPath) -> Any:
        if ev.tag is None and not ev.style:  # fast path for plain decimal numbers
            if _PLAIN_INT.match(ev.value):
                if len(ev.value) > MAX_DIGITS:
                    raise self.fail(
                        "the number is too long",
                        ev.start_mark,
                        path,
                        expected=f"at most {MAX_DIGITS} digits",
                        found=f"{len(ev.value):,} digits",
                    )
                return int(ev.value)
            if _PLAIN_FLOAT.match(ev.value):
                return float(ev.value)
        tag = ev.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, ev.value, ev.implicit)
            if tag in _TEXT_TAGS:  # '=' and '<<' are just text here
                tag = _YAML + "str"
        if tag not in _SCALAR_TAGS:
            raise self.fail(
                f"the YAML tag {_short_tag(tag)} is not allowed",
                ev.start_mark,
                path,
                hint="scenario files hold plain values only: remove the '!' tag",
            )
        node = ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
        try:
            return SafeConstructor.yaml_constructors[tag](self.ctor, node)
        except (ValueError, OverflowError, yaml.YAMLError) as e:
            what = tag.removeprefix(_YAML)
            expected = "a date like 2025-06-01" if what == "timestamp" else f"a valid {what}"
            raise self.fail(
                f"invalid value ({e})" if what == "timestamp" else "invalid value",
                ev.start_mark,
                path,
                expected=expected,
                found=repr(ev.value),
            ) from None


def _short_tag(tag: str | None) -> str:
    if tag and tag.startswith(_YAML):
        return "!!" + tag.removeprefix(_YAML)
    return str(tag)


def _parse_document(text: str, label: str, *, prefix: KeyPath = ()) -> tuple[Any, _Composer]:
    c = _Composer(text, label, prefix=prefix)
    return c.document(), c


def _parse_file(path: Path, label: str, *, prefix: KeyPath = ()) -> _Layer:
    """A file's top-level mapping (under ``prefix``) with its marks and provenance."""
    text = read_user_text(path, label)
    if not text.strip():
        raise ScenarioError(
            "the file is empty", file=label, line=1, expected="a mapping of scenario keys"
        )
    doc, c = _parse_document(text, label, prefix=prefix)
    if isinstance(doc, _Empty):
        raise ScenarioError(
            "the file holds only comments",
            file=label,
            line=1,
            expected="a mapping of scenario keys (like 'name: base')",
        )
    if not isinstance(doc, dict):
        root = c.marks.get(prefix)
        raise ScenarioError(
            "the top level must be a mapping of keys",
            file=label,
            line=None if root is None else root.line,
            expected="keys like 'name:' and 'horizon:'",
            found=_kind(doc),
        )
    data: dict[str, Any] = doc
    for p in reversed(prefix):
        data = {str(p): data}
    return _Layer(data=data, marks=c.marks)


# =========================================================================== figures, distributions


def _extract(layer: _Layer) -> _Layer:
    """Replace sourced figures by their value (recording provenance) and validate distributions.

    Distributions stay in the data as model instances (atomic leaves for the merge) until
    the whole scenario is merged; they are then replaced by their central value.
    """
    prov: dict[KeyPath, dict[str, Any]] = {}
    layer.data = _extract_node(layer.data, (), layer, prov)
    layer.provenance = prov
    return layer


def _extract_node(
    value: Any, path: KeyPath, layer: _Layer, prov: dict[KeyPath, dict[str, Any]]
) -> Any:
    if isinstance(value, list):
        return [_extract_node(v, (*path, i), layer, prov) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "dist" in value:
        return _distribution(value, path, layer)
    keys = set(value)
    if "value" in keys and keys & FIGURE_KEYS:
        stray = sorted(keys - FIGURE_KEYS - {"value"})
        if stray:
            k = stray[0]
            raise _error_at(
                f"unknown key '{k}' in a sourced figure",
                (*path, k),
                layer.marks,
                expected="only value, source, kind, unit, date, note",
                hint=_did_you_mean(k, [*FIGURE_KEYS, "value"]),
            )
        prov[path] = _figure_provenance(value, path, layer.marks)
        inner = value["value"]
        if isinstance(inner, dict | list):  # rare: re-key the marks of a structured value
            old = (*path, "value")
            for p in [p for p in layer.marks if p[: len(old)] == old]:
                layer.marks[(*path, *p[len(old) :])] = layer.marks[p]
        return _extract_node(inner, path, layer, prov)
    return {k: _extract_node(v, (*path, k), layer, prov) for k, v in value.items()}


def _figure_provenance(
    fig: dict[str, Any], path: KeyPath, marks: Mapping[KeyPath, Mark]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("source", "note", "unit"):
        v = fig.get(k)
        if v is None:
            v = ""
        if not isinstance(v, str):
            raise _error_at(
                f"the '{k}' of a sourced figure must be text",
                (*path, k),
                marks,
                expected="text",
                found=_show(v),
                hint="quote it",
            )
        out[k] = v
    kind = fig.get("kind")
    if kind is not None and kind not in FIGURE_KINDS:
        raise _error_at(
            "unknown kind of figure",
            (*path, "kind"),
            marks,
            expected="one of " + ", ".join(FIGURE_KINDS),
            found=_show(kind),
            hint=_did_you_mean(str(kind), FIGURE_KINDS),
        )
    out["kind"] = kind
    date = fig.get("date")
    if isinstance(date, dt.datetime):
        date = date.date().isoformat()
    elif isinstance(date, dt.date):
        date = date.isoformat()
    elif date is not None and not isinstance(date, str):
        raise _error_at(
            "the 'date' of a sourced figure must be text or a date",
            (*path, "date"),
            marks,
            expected="a date like 2024-03-01 or text like '2024'",
            found=_show(date),
            hint=f"quote it: '{date}'",
        )
    out["date"] = date
    m = _nearest_mark(path, marks)
    return {
        **{k: out[k] for k in ("source", "date", "kind", "note", "unit")},
        "file": m.file if m else None,
        "line": m.line if m else None,
    }


def _distribution(value: dict[str, Any], path: KeyPath, layer: _Layer) -> Distribution:
    kind = value.get("dist")
    if not isinstance(kind, str) or kind not in DISTRIBUTIONS:
        raise _error_at(
            "unknown distribution",
            (*path, "dist"),
            layer.marks,
            expected="one of " + ", ".join(DISTRIBUTIONS),
            found=_show(kind),
            hint=_did_you_mean(str(kind), list(DISTRIBUTIONS)),
        )
    try:
        return DISTRIBUTION_ADAPTER.validate_python(value)
    except ValidationError as e:
        raise _problems(e, path, value, layer.marks, strip_tag=True) from None


# =========================================================================== schema walking


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional wrappers from a type annotation."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


class _PathError(Exception):
    def __init__(self, index: int, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.index = index
        self.message = message
        self.candidates = list(candidates)


def _schema_child(tp: Any, seg: str | int, index: int) -> Any:
    tp = _unwrap(tp)
    if tp is Any:
        return Any
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        fields = tp.model_fields
        if isinstance(seg, str) and seg in fields:
            return fields[seg].annotation
        raise _PathError(index, f"unknown key '{seg}'", list(fields))
    origin = get_origin(tp)
    if origin is dict:
        key_tp, value_tp = get_args(tp)
        key_tp = _unwrap(key_tp)
        if get_origin(key_tp) is Literal and seg not in get_args(key_tp):
            raise _PathError(index, f"unknown key '{seg}'", [str(a) for a in get_args(key_tp)])
        return value_tp
    if origin in (tuple, list):
        if isinstance(seg, int) or (isinstance(seg, str) and seg.isdigit()):
            return get_args(tp)[0]
        raise _PathError(index, f"'{seg}' is not a list position (0, 1, ...)")
    raise _PathError(index, f"there is nothing below a single value: no key '{seg}'")


def _schema_at(path: Sequence[str | int], root: Any = Scenario) -> Any:
    """The annotation of the field at ``path``; raises ``_PathError`` when there is none."""
    tp = root
    for i, seg in enumerate(path):
        tp = _schema_child(tp, seg, i)
    return tp


def _split_path(path: str | Sequence[str | int]) -> tuple[str | int, ...]:
    """A key path's parts; a malformed text path is split at its dots (never raises)."""
    if isinstance(path, str):
        try:
            return _parse_key_path(path)
        except ValueError:
            path = path.split(".")
    return tuple(int(p) if isinstance(p, str) and p.isascii() and p.isdigit() else p for p in path)


def is_integer_path(path: str | Sequence[str | int]) -> bool:
    """True when the scenario field at a dotted path holds whole numbers.

    >>> is_integer_path("provider.pools.h100.initial_chips"), is_integer_path("economics.pue")
    (True, False)
    """
    try:
        leaf = _unwrap(_schema_at(_split_path(path)))
    except _PathError:
        return False
    return leaf is int


def _model_at(path: KeyPath, root: Any = Scenario) -> list[str]:
    """The field names of the model at ``path`` (for did-you-mean), or ``[]``."""
    try:
        tp = _unwrap(_schema_at(path, root))
    except _PathError:
        return []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


# =========================================================================== errors


def _did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def _kind(v: Any) -> str:
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


def _show(v: Any) -> str:
    """A value as a user wrote it, short."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nothing (null)"
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan (not a number)"
        if math.isinf(v):
            return ".inf (infinity)" if v > 0 else "-.inf (minus infinity)"
        return repr(v)
    if isinstance(v, int):
        return str(v) if abs(v) < 10**30 else _huge(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return repr(v if len(v) <= 60 else v[:57] + "...")
    if isinstance(v, dict):
        return "a mapping {" + ", ".join(list(map(str, v))[:5]) + ("...}" if len(v) > 5 else "}")
    if isinstance(v, list | tuple):
        return f"a list of {len(v)} item{'s' if len(v) != 1 else ''}"
    return repr(v)


def _huge(v: int) -> str:
    """A whole number too long to show, in scientific form (any size: no float conversion).

    >>> _huge(10**400), _huge(-(2 * 10**30))
    ('1e+400', '-2e+30')
    """
    exponent = math.floor(math.log10(abs(v)))
    mantissa = abs(v) / 10**exponent  # exact division of whole numbers, rounded once
    if mantissa >= 9.995:  # rounding carried into the next power of ten
        mantissa, exponent = 1.0, exponent + 1
    return f"{'-' if v < 0 else ''}{mantissa:.3g}e+{exponent}"


def _num(x: Any) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e9:
        return str(int(x))
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, int) and abs(x) >= 10**9:
        return f"{x:,}"
    return str(x)


def _nearest_mark(path: KeyPath, marks: Mapping[KeyPath, Mark]) -> Mark | None:
    for n in range(len(path), -1, -1):
        m = marks.get(path[:n])
        if m is not None:
            return m
    return None


def _error_at(
    message: str,
    path: KeyPath,
    marks: Mapping[KeyPath, Mark],
    *,
    expected: str | None = None,
    found: str | None = None,
    hint: str | None = None,
    default_file: str | None = None,
) -> ScenarioError:
    m = _nearest_mark(path, marks)
    if m is not None and m.text is not None:
        found = _show_set_text(m.text)
    return ScenarioError(
        message,
        file=m.file if m else default_file,
        line=m.line if m else None,
        key=_dotted(path) or None,
        expected=expected,
        found=found,
        hint=hint,
    )


def _show_set_text(text: str) -> str:
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text) + (" (nothing)" if not text.strip() else "")


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


@dataclass
class _Problem:
    message: str
    path: KeyPath
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    marks: Mapping[KeyPath, Mark] = field(default_factory=dict)
    default_file: str | None = None

    def error(self) -> ScenarioError:
        return _error_at(
            self.message,
            self.path,
            self.marks,
            expected=self.expected,
            found=self.found,
            hint=self.hint,
            default_file=self.default_file,
        )


def _lookup(data: Any, path: KeyPath) -> tuple[bool, Any]:
    cur = data
    for p in path:
        in_list = isinstance(cur, list | tuple) and isinstance(p, int) and 0 <= p < len(cur)
        if not in_list and not (isinstance(cur, dict) and p in cur):
            return False, None
        cur = cur[p]
    return True, cur


def _data_path(loc: Sequence[str | int], data: Any) -> tuple[KeyPath, bool]:
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


def _problem(
    err: Any,
    base: KeyPath,
    data: Any,
    marks: Mapping[KeyPath, Mark],
    *,
    root: Any = Scenario,
    strip_tag: bool = False,
    default_file: str | None = None,
) -> _Problem:
    """Turn one pydantic error into a user-facing problem located by key path."""
    typ: str = err["type"]
    loc = list(err["loc"])
    if strip_tag and loc and loc[0] in DISTRIBUTIONS:
        loc = loc[1:]
    rel, key_error = _data_path(loc, data)
    path: KeyPath = (*base, *rel)
    present, value = _lookup(data, rel)
    if not present:
        value = err.get("input")
    ctx = err.get("ctx") or {}
    found = _show(value)
    p = _Problem("invalid value", path, found=found, marks=marks, default_file=default_file)

    if typ == "value_error" and isinstance(ctx.get("error"), CrossReferenceError):
        xref: CrossReferenceError = ctx["error"]
        p.path = (*path, *xref.path)
        p.message = xref.message
        p.found = None
        return p
    if key_error:
        name = str(path[-1]) if path else ""
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        p.message = f"unknown key '{name}'"
        p.expected = "one of " + ", ".join(choices) if choices else None
        p.found = repr(name)
        p.hint = _did_you_mean(name, choices)
        return p
    if typ == "missing":
        name = str(path[-1]) if path else ""
        p.message = f"missing required key '{name}'"
        p.found = None
        return p
    if typ == "extra_forbidden":
        name = str(path[-1]) if path else ""
        fields = _model_at(rel[:-1], root)
        if root is Scenario and len(rel) == 1:
            fields.extend(("extends", "unset"))
        p.message = f"unknown key '{name}'"
        p.expected = "one of " + ", ".join(fields) if fields else None
        p.found = repr(name)
        p.hint = _did_you_mean(name, fields)
        return p
    if typ == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        p.message = "not one of the allowed values"
        p.expected = "one of " + ", ".join(choices)
        p.hint = _did_you_mean(str(value), choices) if isinstance(value, str) else None
        return p
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if typ in bounds:
        op, name = bounds[typ]
        p.message = "value out of range"
        p.expected = f"a number {op} {_num(ctx.get(name))}"
        return p
    if typ in ("too_long", "too_short"):
        p.message = "wrong number of items"
        if typ == "too_long":
            p.expected = f"at most {ctx.get('max_length')} items"
        else:
            p.expected = f"at least {ctx.get('min_length')} items"
        return p
    if typ == "string_too_long":
        p.message = "text too long"
        p.expected = f"at most {ctx.get('max_length')} characters"
        return p
    if typ == "string_pattern_mismatch":
        p.message = "not a valid name"
        if ctx.get("pattern") == _NAME_PATTERN:
            p.expected = "letters, digits, '_', '.' or '-', starting with a letter or digit"
        else:
            p.expected = f"text matching {ctx.get('pattern')}"
        return p
    if typ in _EXPECTED:
        p.message = "not a finite number" if typ == "finite_number" else "wrong type of value"
        p.expected = _EXPECTED[typ]
        if typ == "float_type" and isinstance(value, str):
            p.hint = "numbers are written without quotes or units"
        elif typ.startswith("date") and isinstance(value, str):
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                p.hint = "remove the quotes: a quoted date is text"
            else:
                p.hint = "write dates as YYYY-MM-DD, without quotes"
        return p
    msg = str(err.get("msg", "invalid value"))
    p.message = msg.removeprefix("Value error, ")
    p.found = None  # the message names the values
    return p


def _combine(problems: Sequence[_Problem], total: int | None = None) -> ScenarioError:
    """One error for the first problem, all of them (up to MAX_REPORTED) in ``details``."""
    total = len(problems) if total is None else total
    errors = [p.error() for p in problems[:MAX_REPORTED]]
    first = errors[0]
    if total > 1:
        n = total - 1
        first.message += f" (+{n} more error{'s' if n > 1 else ''})"
    first.details = [str(e) for e in errors]
    if total > len(errors):
        first.details.append(f"... and {total - len(errors)} more")
    return first


def _problems(
    e: ValidationError,
    base: KeyPath,
    data: Any,
    marks: Mapping[KeyPath, Mark],
    **kw: Any,
) -> ScenarioError:
    """The located error for a pydantic ``ValidationError`` (only the first few are rendered)."""
    errors = e.errors(include_url=False)
    shown = [_problem(err, base, data, marks, **kw) for err in errors[:MAX_REPORTED]]
    return _combine(shown, total=len(errors))


def _validate(
    data: dict[str, Any],
    marks: Mapping[KeyPath, Mark],
    default_file: str,
) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise _problems(e, (), data, marks, default_file=default_file) from None


# =========================================================================== layers


def shipped_catalog_files() -> tuple[Path, ...]:
    """The catalog files shipped in the package (``sim/data/chips.yaml``, ``stacks.yaml``)."""
    base = resources.files("sim") / "data"
    return tuple(Path(str(base / name)) for name in ("chips.yaml", "stacks.yaml"))


def _catalog_layers(catalog_files: Sequence[Path | str] | None) -> list[tuple[Path, _Layer]]:
    files = shipped_catalog_files() if catalog_files is None else tuple(map(Path, catalog_files))
    layers = []
    for f in files:
        layer = _parse_file(f, str(f), prefix=("catalog",))
        layers.append((f, _extract(layer)))
    return layers


def _extends_chain(path: Path) -> list[tuple[Path, _Layer]]:
    """The file and its ``extends`` ancestors, base first, each with ``extends`` removed."""
    chain: list[tuple[Path, _Layer]] = []
    seen: list[str] = []
    current = path
    label = str(path)
    while True:
        layer = _parse_file(current, label)
        seen.append(os.path.realpath(current))
        target = layer.data.pop("extends", None)
        extends_mark = layer.marks.pop(("extends",), None)
        for p in [p for p in layer.marks if p[:1] == ("extends",)]:
            del layer.marks[p]
        layer.unset = _parse_unset(layer, label)
        chain.append((current, _extract(layer)))
        if target is None and extends_mark is None:
            break
        line = extends_mark.line if extends_mark else None
        if not isinstance(target, str) or not target.strip():
            raise ScenarioError(
                "'extends' names the scenario file this one builds on",
                file=label,
                line=line,
                key="extends",
                expected="a file name like base.yaml",
                found=_show(target),
            )
        nxt = current.parent / target
        problem = file_problem(nxt)
        if problem is not None:
            raise ScenarioError(
                f"the file named by 'extends' {problem}",
                file=label,
                line=line,
                key="extends",
                expected="an existing regular file, relative to this one",
                found=repr(target),
                hint=f"looked for {nxt}",
            )
        if os.path.realpath(nxt) in seen:
            names = [Path(p).name for p in seen] + [nxt.name]
            raise ScenarioError(
                "circular extends: " + " -> ".join(names),
                file=label,
                line=line,
                key="extends",
                hint="a scenario cannot extend itself, directly or through others",
            )
        if len(chain) >= MAX_EXTENDS:
            raise ScenarioError(
                "the extends chain is too long",
                file=label,
                line=line,
                key="extends",
                expected=f"at most {MAX_EXTENDS} files",
            )
        current = nxt
        label = str(nxt)
    chain.reverse()
    return chain


def _parse_unset(layer: _Layer, label: str) -> list[_Unset]:
    """Pop a file's top-level ``unset`` list (and its marks) from the layer, checked."""
    present = "unset" in layer.data
    raw = layer.data.pop("unset", None)
    marks = {p: m for p, m in layer.marks.items() if p[:1] == ("unset",)}
    for p in marks:
        del layer.marks[p]
    if not present:
        return []
    top = marks.get(("unset",))
    expected = "a list of dotted key paths, like [provider.pools.trainium1]"
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ScenarioError(
            "'unset' lists the inherited keys this file removes",
            file=label,
            line=top.line if top else None,
            key="unset",
            expected=expected,
            found=_show(raw),
            hint=f"write a list: unset: [{raw}]" if isinstance(raw, str) else None,
        )
    out: list[_Unset] = []
    for i, item in enumerate(raw):
        mark = marks.get(("unset", i), top) or Mark(label, None)
        try:
            parts = [str(q) for q in _parse_key_path(item)] if isinstance(item, str) else []
        except ValueError:
            parts = []
        if not parts or any(not q.strip() for q in parts):
            raise ScenarioError(
                "an 'unset' entry must be a dotted key path",
                file=label,
                line=mark.line,
                key=f"unset.{i}",
                expected="text like provider.pools.trainium1",
                found=_show(item),
            )
        out.append(_Unset(tuple(parts), item.strip(), mark))
    return out


def _find_key(node: dict[str, Any], parts: tuple[str, ...], i: int) -> tuple[str, int] | None:
    """The key of ``node`` that ``parts[i:]`` starts with (a key may itself contain dots),
    and how many parts it takes; None when there is none."""
    if parts[i] in node:
        return parts[i], 1
    for j in range(len(parts), i + 1, -1):
        joined = ".".join(parts[i:j])
        if joined in node:
            return joined, j - i
    return None


def _apply_unset(data: dict[str, Any], u: _Unset) -> dict[str, Any]:
    """``data`` without the key at ``u``'s path (copied along the path: layers stay intact)."""

    def fail(message: str, **kw: Any) -> ScenarioError:
        return ScenarioError(
            message, file=u.mark.file, line=u.mark.line, key="unset", found=repr(u.text), **kw
        )

    root = dict(data)
    cur: dict[str, Any] = root
    where: list[str] = []
    i = 0
    while True:
        found = _find_key(cur, u.parts, i)
        if found is None:
            seg = u.parts[i]
            keys = sorted(map(str, cur))
            shown = keys[:25] + (["..."] if len(keys) > 25 else [])
            under = f"under '{'.'.join(where)}'" if where else "at the top level"
            raise fail(
                f"cannot unset '{u.text}': there is no key '{seg}' {under} of what this "
                "file inherits",
                expected=("one of " + ", ".join(shown)) if keys else "nothing: it is empty",
                hint=_did_you_mean(seg, keys),
            )
        key, n = found
        where.append(key)
        i += n
        if i >= len(u.parts):
            del cur[key]
            return root
        child = cur[key]
        if not isinstance(child, dict):
            what = "a list" if isinstance(child, list) else "a single value"
            raise fail(
                f"cannot unset '{u.text}': '{'.'.join(where)}' is {what}, not a mapping of keys",
                hint="unset removes mapping keys; give a list or value anew to change it",
            )
        child = dict(child)
        cur[key] = child
        cur = child


def _merge(base: Any, over: Any) -> Any:
    """Deep merge: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return over


def _walk_paths(value: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    """Every key path in a tree of dicts and lists, the root included (iterative: fast)."""
    stack: list[tuple[KeyPath, Any]] = [(path, value)]
    while stack:
        p, v = stack.pop()
        yield p
        if isinstance(v, dict):
            stack.extend(((*p, k), c) for k, c in v.items())
        elif isinstance(v, list):
            stack.extend(((*p, i), c) for i, c in enumerate(v))


def _set_error(
    message: str,
    text: str,
    key: str | None,
    *,
    expected: str | None = None,
    hint: str | None = None,
) -> ScenarioError:
    return ScenarioError(
        message, file=SET_FILE, key=key, expected=expected, found=repr(text), hint=hint
    )


def _path_of(raw_path: str, text: str) -> KeyPath:
    """The parts of a ``--set`` (or substituted) key path, or a located error."""
    try:
        return _parse_key_path(raw_path)
    except ValueError as e:
        quote = "quote" in str(e)
        raise _set_error(
            f"the key path {e}",
            text,
            raw_path,
            hint='write a key holding dots or brackets whole in double quotes: segments."a.b"'
            if quote
            else None,
        ) from None


def _check_path(segments: KeyPath, text: str) -> None:
    try:
        _schema_at(segments)
    except _PathError as e:
        where = _dotted(segments[: e.index + 1])
        raise _set_error(
            e.message,
            text,
            where,
            expected=("one of " + ", ".join(e.candidates)) if e.candidates else None,
            hint=_did_you_mean(str(segments[e.index]), e.candidates),
        ) from None


def _parse_override(text: str) -> tuple[KeyPath, _Layer, str]:
    """``a.b.c=value`` -> (path, a layer holding the parsed value at the path, the text)."""
    split = _split_assignment(text)
    if split is None:
        raise _set_error(
            "an override needs the form key.path=value",
            text,
            text.strip() or None,
            hint="for example --set economics.pue=1.2",
        )
    raw_path, raw_value = split
    raw_path = raw_path.strip()
    if not raw_path:
        raise _set_error("the key path before '=' is empty", text, None)
    segments = _path_of(raw_path, text)
    _check_path(segments, text)
    key = _dotted(segments)
    if len(raw_value) > MAX_FILE_BYTES:
        raise _set_error("the value is too long", raw_value[:40], key)
    if raw_value.strip():
        c = _Composer(raw_value, SET_FILE, set_text=raw_value)
        try:
            value = c.document()
        except ScenarioError as e:
            e.key = key
            raise
        marks = c.marks
    else:
        value, marks = None, {}
    if isinstance(value, _Empty):
        value = None
    mark = Mark(SET_FILE, None, raw_value)
    # Extract figures and distributions exactly as in files, under a helper root "_",
    # then re-key everything under the real path.
    layer = _Layer(data={"_": value}, marks={("_", *p): mark for p in _walk_paths(value)})
    layer.marks.update({("_", *p): m for p, m in marks.items()})
    try:
        _extract(layer)
    except ScenarioError as e:
        rest = _split_path(e.key or "_")[1:]
        e.key = _dotted((*segments, *rest))
        raise
    out = _Layer(
        data=layer.data,
        marks={(*segments, *p[1:]): m for p, m in layer.marks.items()},
        provenance={(*segments, *p[1:]): v for p, v in layer.provenance.items()},
    )
    return segments, out, text


def _apply_override(
    data: dict[str, Any], segments: KeyPath, value: Any, text: str
) -> list[KeyPath]:
    """Set ``value`` at ``segments`` in ``data`` (deep-merging mappings); the paths it created."""
    created: list[KeyPath] = []
    cur: Any = data
    for i, seg in enumerate(segments[:-1]):
        nxt_seg = segments[i + 1]
        if isinstance(cur, list):
            assert isinstance(seg, int)
            if not 0 <= seg < len(cur):
                raise _set_error(
                    f"list position {seg} does not exist",
                    text,
                    _dotted(segments[: i + 1]),
                    expected=f"a position from 0 to {len(cur) - 1}" if cur else "none: empty list",
                )
            cur = cur[seg]
            continue
        key = str(seg)
        child = cur.get(key)
        wants_list = isinstance(nxt_seg, int) and isinstance(child, list)
        if not isinstance(child, dict) and not wants_list:
            if isinstance(nxt_seg, int):
                raise _set_error(
                    "there is no list here to index",
                    text,
                    _dotted(segments[: i + 1]),
                )
            child = {}
            cur[key] = child
            created.append(segments[: i + 1])
        cur = child
    last = segments[-1]
    if isinstance(cur, list):
        assert isinstance(last, int)
        if not 0 <= last < len(cur):
            raise _set_error(
                f"list position {last} does not exist",
                text,
                _dotted(segments),
                expected=f"a position from 0 to {len(cur) - 1}" if cur else "none: empty list",
            )
        cur[last] = _merge(cur[last], value)
    else:
        key = str(last)
        cur[key] = _merge(cur[key], value) if key in cur else value
    return created


def _resolve(
    layers: Sequence[_Layer],
    overrides: Sequence[tuple[KeyPath, _Layer, str]],
) -> tuple[dict[str, Any], dict[KeyPath, Mark], dict[KeyPath, dict[str, Any]]]:
    data: dict[str, Any] = {}
    for layer in layers:
        for u in layer.unset:  # what the layer removes from what it inherits, then its keys
            data = _apply_unset(data, u)
        data = _merge(data, layer.data)
    # The merged tree shares containers with the layers, which are discarded after this.
    all_layers = list(layers)
    for segments, layer, text in overrides:
        value = layer.data["_"]
        created = _apply_override(data, segments, value, text)
        for p in created:
            layer.marks.setdefault(p, layer.marks[segments])
        all_layers.append(layer)
    # The topmost layer holding a key path supplied it: its mark (and provenance) win.
    marks: dict[KeyPath, Mark] = {}
    prov: dict[KeyPath, dict[str, Any]] = {}
    for layer in all_layers:
        marks.update(layer.marks)
        for p in layer.marks:
            if p in layer.provenance:
                prov[p] = layer.provenance[p]
            else:
                prov.pop(p, None)
    present = set(_walk_paths(data))
    marks = {p: m for p, m in marks.items() if p in present}
    prov = {p: v for p, v in prov.items() if p in present}
    return data, marks, prov


def _centralise(data: Any, path: KeyPath, out: dict[str, Distribution]) -> Any:
    """Replace distribution leaves by their central value, collecting them by dotted path."""
    if isinstance(data, dict):
        return {k: _centralise(v, (*path, k), out) for k, v in data.items()}
    if isinstance(data, list):
        return [_centralise(v, (*path, i), out) for i, v in enumerate(data)]
    if isinstance(data, BaseModel):
        dotted = _dotted(path)
        out[dotted] = data  # type: ignore[assignment]
        value = data.central()  # type: ignore[attr-defined]
        if is_integer_path(path) and isinstance(value, float):
            value = round(value)
        return value
    return data


def _plain_provenance(prov: Mapping[KeyPath, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {_dotted(p): v for p, v in prov.items()}


def _with_sources(data: dict[str, Any], prov: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    if not prov:
        return data
    user = data.get("sources")
    if user is not None and not isinstance(user, dict):
        return data  # validation reports it
    sources = dict(user or {})
    for k, v in prov.items():
        sources[k] = {f: v[f] for f in ("source", "date", "kind", "note", "unit")}
    return {**data, "sources": sources}


# =========================================================================== public API


def load_scenario(
    path: Path | str,
    overrides: Sequence[str] = (),
    *,
    catalog_files: Sequence[Path | str] | None = None,
) -> LoadedScenario:
    """Read, merge and validate a scenario file and its ``--set`` overrides.

    ``catalog_files`` replaces the shipped catalog (tests use small ones). Raises
    :class:`~sim.errors.ScenarioError` for anything a user can get wrong.
    """
    path = Path(path)
    catalog = _catalog_layers(catalog_files)
    chain = _extends_chain(path)
    parsed = [_parse_override(text) for text in overrides]
    layers = [layer for _, layer in catalog] + [layer for _, layer in chain]
    data, marks, prov = _resolve(layers, parsed)
    distributions: dict[str, Distribution] = {}
    data = _centralise(data, (), distributions)
    provenance = _plain_provenance(prov)
    data = _with_sources(data, provenance)
    scenario = _validate(data, marks, str(path))
    return LoadedScenario(
        scenario=scenario,
        data=data,
        path=path,
        files=tuple(f for f, _ in catalog) + tuple(f for f, _ in chain),
        provenance=provenance,
        distributions=distributions,
        marks=marks,
    )


def substitute(loaded: LoadedScenario, values: Mapping[str, Any]) -> LoadedScenario:
    """The scenario with ``{dotted path: value}`` substituted and validated again.

    Used by :func:`sim.uncertainty.apply_values`; errors read like ``--set`` overrides.
    Integer fields get rounded values. A substituted figure loses its provenance (the value
    is no longer the sourced one) unless the path is one of the scenario's distributions.
    """
    data = copy.deepcopy(loaded.data)
    marks = dict(loaded.marks)
    provenance = dict(loaded.provenance)
    for dotted, raw in values.items():
        text = f"{dotted}={raw!r}"
        if not isinstance(dotted, str) or not dotted.strip():
            raise _set_error("the key path has an empty part", text, str(dotted) or None)
        segments = _path_of(dotted.strip(), text)
        _check_path(segments, text)
        value = raw.item() if isinstance(raw, np.generic) else raw
        if is_integer_path(segments) and isinstance(value, float) and math.isfinite(value):
            value = round(value)
        if isinstance(value, BaseModel):
            value = value.central()  # type: ignore[attr-defined]
        created = _apply_override(data, segments, copy.deepcopy(value), text)
        for p in [*created, *_walk_paths(value, segments)]:
            marks[p] = Mark(SET_FILE, None, repr(raw))
        key = _dotted(segments)
        if key not in loaded.distributions and key in provenance:
            del provenance[key]
            sources = data.get("sources")
            if isinstance(sources, dict):
                sources.pop(key, None)
    scenario = _validate(data, marks, SET_FILE)
    return replace(loaded, scenario=scenario, data=data, provenance=provenance, marks=marks)


def load_catalog(
    files: Sequence[Path | str] | None = None,
) -> tuple[Catalog, dict[str, dict[str, Any]]]:
    """The shipped catalog (or ``files``) validated, with provenance by dotted key path.

    Keys of the provenance are scenario paths (``catalog.chips.h100.peak_bf16_tflops``).
    """
    layers = _catalog_layers(files)
    data, marks, prov = _resolve([layer for _, layer in layers], [])
    distributions: dict[str, Distribution] = {}
    data = _centralise(data, (), distributions)
    cat = data.get("catalog", {})
    try:
        catalog = Catalog.model_validate(cat)
    except ValidationError as e:
        label = str(layers[0][0]) if layers else "catalog"
        raise _problems(e, ("catalog",), cat, marks, root=Catalog, default_file=label) from None
    return catalog, _plain_provenance(prov)


def diff_scenarios(a: LoadedScenario, b: LoadedScenario) -> list[tuple[str, Any, Any]]:
    """Dotted paths whose resolved values differ between two scenarios (``sources`` excluded).

    A path present in one scenario only is listed with ``None`` on the other side.
    """
    fa = dict(_flatten(a.scenario.model_dump(exclude={"sources"})))
    fb = dict(_flatten(b.scenario.model_dump(exclude={"sources"})))
    out = []
    for k in sorted(fa.keys() | fb.keys()):
        va, vb = fa.get(k), fb.get(k)
        if va != vb or (k in fa) != (k in fb):
            out.append((k, va, vb))
    return out


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            key = _segment(str(k))
            yield from _flatten(v, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list | tuple) and value:
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value


class _FlowList(list[Any]):
    """A list of plain values, dumped on one line: ``[0.5, 0.6, ...]``."""


class _PyDumper(yaml.SafeDumper):
    """Block-style YAML that the loader reads back: never anchors and aliases (the loader
    refuses them), even where one date or list object appears at two places."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_flow(dumper: Any, value: _FlowList) -> yaml.Node:
    node: yaml.Node = dumper.represent_sequence(_SEQ_TAG, list(value), flow_style=True)
    return node


_PyDumper.add_representer(_FlowList, _represent_flow)
# the loader reads 1e6 as a number: a text that looks like one must be dumped quoted
_PyDumper.add_implicit_resolver(_YAML + "float", _FLOAT_12, _FLOAT_FIRST)

if getattr(yaml, "__with_libyaml__", False):

    class _CDumper(yaml.CSafeDumper):
        """:class:`_PyDumper` on libyaml's C emitter: the same bytes, several times faster."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    _CDumper.add_representer(_FlowList, _represent_flow)
    _CDumper.add_implicit_resolver(_YAML + "float", _FLOAT_12, _FLOAT_FIRST)
    _Dumper: type[Any] = _CDumper
else:  # pragma: no cover - libyaml is normally present
    _Dumper = _PyDumper


def _schema_ordered(value: Any, tp: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=True)
        tp = Any
    if isinstance(value, dict):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = tp.model_fields
            order = [k for k in fields if k in value] + [k for k in value if k not in fields]
            return {
                k: _schema_ordered(value[k], fields[k].annotation if k in fields else Any)
                for k in order
            }
        sub = get_args(tp)[1] if get_origin(tp) is dict else Any
        return {k: _schema_ordered(v, sub) for k, v in value.items()}
    if isinstance(value, list | tuple):
        sub = get_args(tp)[0] if get_origin(tp) in (tuple, list) else Any
        items = [_schema_ordered(v, sub) for v in value]
        if items and all(not isinstance(v, dict | list) for v in items):
            return _FlowList(items)
        return items
    if isinstance(value, np.generic):
        return value.item()
    return value


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Deterministic YAML for resolved scenario data: keys in schema order, dates YYYY-MM-DD.

    >>> print(dump_yaml({"seed": 1, "name": "x", "horizon": {"end": dt.date(2026, 1, 1)}}), end="")
    name: x
    seed: 1
    horizon:
      end: 2026-01-01
    """
    ordered = _schema_ordered(dict(data), Scenario)
    return yaml.dump(
        ordered,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def saved_yaml(data: Mapping[str, Any], label: str) -> str:
    """:func:`dump_yaml` of resolved data, checked to load again within the loader's limits.

    A run folder saves its resolved scenario (every ``extends:`` file, the catalog and the
    sources merged in) as ``scenario.yaml``; that file must be a valid scenario file too.
    Raises :class:`ScenarioError` (naming ``label``, the scenario given) if the YAML would
    exceed :data:`MAX_FILE_BYTES` or the nesting, list or value limits.
    """
    text = dump_yaml(data)
    size = len(text.encode("utf-8"))
    hint = (
        "a run folder's scenario.yaml must load again: shorten long texts, or split the "
        "scenario into several"
    )
    if size > MAX_FILE_BYTES:
        raise ScenarioError(
            "the resolved scenario (with the catalog, every extends: file and the sources) "
            "is too large to save as the run folder's scenario.yaml",
            file=label,
            expected=f"at most {MAX_FILE_BYTES:,} bytes of YAML",
            found=f"{size:,} bytes",
            hint=hint,
        )
    try:
        _parse_document(text, "scenario.yaml")
    except ScenarioError as exc:
        raise ScenarioError(
            "the resolved scenario would be saved as a scenario.yaml that does not load "
            f"again ({exc.message})",
            file=label,
            key=exc.key,
            expected=exc.expected,
            found=exc.found,
            hint=hint,
        ) from None
    return text


def leading_comment(path: Path) -> str:
    """The comment lines that open a scenario file, without their ``#``; '' if none.

    Never raises: a file that cannot be read has no header to show.
    """
    try:
        text = read_user_text(path, str(path))
    except ScenarioError:
        return ""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return "\n".join(lines)


def _allow_figures(node: Any) -> Any:
    """Rewrite a JSON schema so that every number (and every choice among words) also
    accepts a sourced figure or a distribution."""
    if isinstance(node, list):
        return [_allow_figures(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _allow_figures(v) for k, v in node.items()}
    if node.get("type") in ("number", "integer") or "enum" in node:
        inner = {k: v for k, v in node.items() if k not in ("title", "description", "default")}
        outer = {k: v for k, v in node.items() if k in ("title", "description", "default")}
        outer["anyOf"] = [
            inner,
            {"$ref": "#/$defs/Figure"},
            {"$ref": "#/$defs/Distribution"},
        ]
        return outer
    return node


def _drop_required(node: Any) -> Any:
    if isinstance(node, list):
        return [_drop_required(v) for v in node]
    if isinstance(node, dict):
        return {k: _drop_required(v) for k, v in node.items() if k != "required"}
    return node


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, for editors (``# yaml-language-server: $schema=...``).

    Every number also accepts a sourced figure (``{value, source, ...}``) and a distribution
    (``{dist: ...}``). Required keys are not marked since a file may inherit them through
    ``extends``; ``xpusim validate`` reports missing ones.
    """
    schema = _drop_required(_allow_figures(Scenario.model_json_schema()))
    dist = DISTRIBUTION_ADAPTER.json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    defs.update(dist.pop("$defs", {}))
    defs["Distribution"] = dist
    defs["Figure"] = {
        "type": "object",
        "title": "Sourced figure",
        "description": "A number with its source; the loader keeps the value and records "
        "the rest as provenance.",
        "properties": {
            "value": {"description": "The figure itself."},
            "unit": {"type": "string"},
            "source": {"type": "string", "description": "Citation or URL."},
            "date": {"type": "string", "description": "When the figure was true."},
            "kind": {"enum": list(FIGURE_KINDS)},
            "note": {"type": "string"},
        },
        "required": ["value"],
        "minProperties": 2,
        "additionalProperties": False,
    }
    schema["properties"] = {
        "extends": {
            "type": "string",
            "title": "Extends",
            "description": "A scenario file this one builds on, relative to this file.",
        },
        "unset": {
            "type": "array",
            "items": {"type": "string"},
            "title": "Unset",
            "description": "Dotted key paths removed from what this file inherits (its "
            "extends chain and the catalog) before its own keys are merged.",
        },
        **schema.get("properties", {}),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **{k: v for k, v in schema.items() if k != "title"},
        "title": "xpusim scenario",
    }
