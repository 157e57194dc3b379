"""YAML with marks: plain data from a scenario file, with the file and line of every key.

The composer is PyYAML's (``yaml.compose``) rewritten over the same event stream so that it
can enforce the input limits while it reads (nesting depth, list length, node count),
refuse anchors, aliases and non-standard tags before anything is built, and record the line
of every key and list item under its key path. Files are read through the one safe reader
(:func:`sim.safeio.read_user_bytes`), never more than :data:`MAX_FILE_BYTES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
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
from sim.safeio import read_user_bytes
from sim.scenario.paths import KeyPath, dotted
from sim.scenario.words import kind_of, show

__all__ = [
    "EMPTY",
    "FLOAT_12",
    "FLOAT_FIRST",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_FILE_BYTES",
    "MAX_ITEMS",
    "MAX_NODES",
    "SEQ_TAG",
    "YAML_TAG",
    "Composer",
    "Empty",
    "Mark",
    "parse_document",
    "read_text",
]

#: Largest scenario or catalog file read, in bytes.
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Deepest nesting of mappings and lists in one file.
MAX_DEPTH = 50
#: Most items in one list or keys in one mapping.
MAX_ITEMS = 100_000
#: Most YAML nodes (keys, values, items) in one file: bounds the time spent on a big file.
MAX_NODES = 250_000
# Longest whole number read (Python refuses to convert much longer digit strings).
MAX_DIGITS = 1000

YAML_TAG = "tag:yaml.org,2002:"
SEQ_TAG = YAML_TAG + "seq"
_MAP_TAG = YAML_TAG + "map"
_SCALAR_TAGS = frozenset(YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_TEXT_TAGS = frozenset({YAML_TAG + "value", YAML_TAG + "merge"})
# Plain numbers that YAML 1.1 and 1.2 read alike (no octal, no '_', no sexagesimal).
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_PLAIN_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+\Z")
# YAML 1.1 (PyYAML) reads 1e6 and 5.0e8 as text: its floats need a dot and a signed
# exponent. Scenarios are full of such numbers, so also accept YAML 1.2 exponent floats.
FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
FLOAT_FIRST = list("-+0123456789.")


@dataclass(frozen=True)
class Mark:
    """Where a key or value came from: a file and 1-based line, or a ``--set`` text."""

    file: str
    line: int | None
    text: str | None = None


class Empty:
    """The document of a file holding nothing or only comments."""


EMPTY = Empty()


def read_text(path: Path, label: str) -> str:
    """The UTF-8 text of a scenario or catalog file, at most :data:`MAX_FILE_BYTES`."""
    raw = read_user_bytes(path, label, MAX_FILE_BYTES)
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


class _PyLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader with YAML 1.2 exponent floats."""


_PyLoader.add_implicit_resolver(YAML_TAG + "float", FLOAT_12, FLOAT_FIRST)

if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """libyaml's C safe loader (fast) with YAML 1.2 exponent floats."""

    _CLoader.add_implicit_resolver(YAML_TAG + "float", FLOAT_12, FLOAT_FIRST)
    _LOADER: type[Any] = _CLoader
else:  # pragma: no cover - libyaml is normally present
    _LOADER = _PyLoader


def _syntax_hint(problem: str, text: str, mark: Any) -> str | None:
    """What to do about a YAML syntax error, when a usual cause is recognisable."""
    if mark is not None:
        lines = text.splitlines()
        row = lines[mark.line] if 0 <= mark.line < len(lines) else ""
        if "\t" in row[: mark.column + 1] or "tab" in problem:
            return "indent with spaces: YAML does not allow tabs for indentation"
    if "expected ',' or ']'" in problem or "flow sequence" in problem:
        return "a '[' is not closed by ']'"
    if "'}'" in problem or "flow mapping" in problem:
        return "a '{' is not closed by '}'"
    if "mapping values are not allowed" in problem:
        return "check the indentation, or quote a value that contains ': '"
    return None


def _short_tag(tag: str | None) -> str:
    if tag and tag.startswith(YAML_TAG):
        return "!!" + tag.removeprefix(YAML_TAG)
    return str(tag)


class Composer:
    """Builds plain data and key-path marks from YAML events, refusing what scenarios never need."""

    def __init__(
        self, text: str, label: str, *, prefix: KeyPath = (), set_text: str | None = None
    ) -> None:
        self.text = text
        self.label = label
        self.prefix = prefix
        self.set_text = set_text
        self.loader = _LOADER(text)
        self.ctor = SafeConstructor()
        self.nodes = 0
        self.where: KeyPath = prefix
        self.marks: dict[KeyPath, Mark] = {}

    def mark(self, yaml_mark: Any) -> Mark:
        """The mark of a YAML position (a ``--set`` text has no lines)."""
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
        """A located error at a YAML position."""
        m = self.mark(yaml_mark)
        return ScenarioError(
            message,
            file=self.label,
            line=m.line,
            key=dotted(path) or None,
            expected=expected,
            found=found if m.text is None else repr(m.text),
            hint=hint,
        )

    def document(self) -> Any:
        """The single document of the text, or :data:`EMPTY`."""
        lo = self.loader
        try:
            lo.get_event()  # StreamStartEvent
            if lo.check_event(StreamEndEvent):
                return EMPTY
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
            hint=_syntax_hint(problem, self.text, mark),
        )

    def node(self, path: KeyPath, depth: int) -> Any:
        """The value of the node starting at the next event (its children read too)."""
        ev = self.loader.peek_event()
        self.where = path
        self._check_node(ev, path, depth)
        if isinstance(ev, ScalarEvent):
            self.loader.get_event()
            return self.scalar(ev, path)
        if isinstance(ev, SequenceStartEvent):
            return self._sequence(ev, path, depth)
        if isinstance(ev, MappingStartEvent):
            return self._mapping(ev, path, depth)
        raise self.fail("unexpected YAML event", ev.start_mark, path)  # pragma: no cover

    def _check_node(self, ev: Any, path: KeyPath, depth: int) -> None:
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

    def _sequence(self, ev: Any, path: KeyPath, depth: int) -> list[Any]:
        lo = self.loader
        self.check_tag(ev, SEQ_TAG, path)
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

    def _mapping(self, ev: Any, path: KeyPath, depth: int) -> dict[str, Any]:
        lo = self.loader
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

    def check_tag(self, ev: Any, standard: str, path: KeyPath) -> None:
        """Refuse any tag but the standard one of a list or mapping."""
        if ev.tag not in (None, "!", standard):
            raise self.fail(
                f"the YAML tag {_short_tag(ev.tag)} is not allowed",
                ev.start_mark,
                path,
                hint="scenario files hold plain values only: remove the '!' tag",
            )

    def key(self, ev: Any, path: KeyPath) -> str:
        """The text of a mapping key (consumed), or a located error."""
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
                found=f"the {kind_of(value)} {show(value)}",
                hint=f"quote it: '{ev.value}'",
            )
        return value

    def scalar(self, ev: Any, path: KeyPath) -> Any:
        """The Python value of a scalar event (plain numbers fast, the rest by its tag)."""
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
                tag = YAML_TAG + "str"
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
            what = tag.removeprefix(YAML_TAG)
            expected = "a date like 2025-06-01" if what == "timestamp" else f"a valid {what}"
            raise self.fail(
                f"invalid value ({e})" if what == "timestamp" else "invalid value",
                ev.start_mark,
                path,
                expected=expected,
                found=repr(ev.value),
            ) from None


def parse_document(text: str, label: str, *, prefix: KeyPath = ()) -> tuple[Any, Composer]:
    """The one document of YAML ``text`` (or :data:`EMPTY`) and the composer with its marks."""
    c = Composer(text, label, prefix=prefix)
    return c.document(), c
