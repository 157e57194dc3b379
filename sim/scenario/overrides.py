"""``--set key.path=value`` overrides: parsed like YAML files, checked against the schema.

An override's path is checked against the scenario schema before its value is read
(unknown keys get a did-you-mean); its value is YAML, with sourced figures and
distributions understood exactly as in files. Overrides come after every file layer and
every ``unset``; a mapping value merges into what is there, anything else replaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.fields import PathError, schema_at
from sim.scenario.layers import Layer, merge
from sim.scenario.marks import EMPTY, MAX_FILE_BYTES, Composer, Mark
from sim.scenario.paths import (
    KeyPath,
    dotted,
    parse_key_path,
    split_assignment,
    split_path,
    walk_paths,
)
from sim.scenario.words import did_you_mean

__all__ = [
    "SET_FILE",
    "Override",
    "apply_override",
    "apply_overrides",
    "check_path",
    "parse_override",
    "path_of",
    "set_error",
]

#: The "file" of an error in a ``--set`` override (or a value substituted by path).
SET_FILE = "--set"


@dataclass(frozen=True)
class Override:
    """One parsed ``--set``: the key path, a layer holding its value, and the text given."""

    path: KeyPath
    layer: Layer
    text: str

    @property
    def value(self) -> Any:
        """The value (figures replaced by their value, distributions validated)."""
        return self.layer.data["_"]


def set_error(
    message: str,
    text: str,
    key: str | None,
    *,
    expected: str | None = None,
    hint: str | None = None,
) -> ScenarioError:
    """An error in a ``--set`` (``file="--set"``, found = the text given)."""
    return ScenarioError(
        message, file=SET_FILE, key=key, expected=expected, found=repr(text), hint=hint
    )


def path_of(raw_path: str, text: str) -> KeyPath:
    """The parts of a ``--set`` (or substituted) key path, or a located error."""
    try:
        return parse_key_path(raw_path)
    except ValueError as e:
        quote = "quote" in str(e)
        raise set_error(
            f"the key path {e}",
            text,
            raw_path,
            hint='write a key holding dots or brackets whole in double quotes: segments."a.b"'
            if quote
            else None,
        ) from None


def check_path(segments: KeyPath, text: str) -> None:
    """A located error unless ``segments`` names a field of the scenario schema."""
    try:
        schema_at(segments)
    except PathError as e:
        where = dotted(segments[: e.index + 1])
        raise set_error(
            e.message,
            text,
            where,
            expected=("one of " + ", ".join(e.candidates)) if e.candidates else None,
            hint=did_you_mean(str(segments[e.index]), e.candidates),
        ) from None


def _value_layer(segments: KeyPath, raw_value: str, key: str) -> Layer:
    """The YAML value of an override as a layer under a helper root ``_``."""
    if raw_value.strip():
        c = Composer(raw_value, SET_FILE, set_text=raw_value)
        try:
            value = c.document()
        except ScenarioError as e:
            e.key = key
            raise
        marks = c.marks
    else:
        value, marks = None, {}
    if value is EMPTY:
        value = None
    mark = Mark(SET_FILE, None, raw_value)
    # Extract figures and distributions exactly as in files, under a helper root "_",
    # then re-key everything under the real path.
    layer = Layer(data={"_": value}, marks={("_", *p): mark for p in walk_paths(value)})
    layer.marks.update({("_", *p): m for p, m in marks.items()})
    try:
        return layer.extracted()
    except ScenarioError as e:
        rest = split_path(e.key or "_")[1:]
        e.key = dotted((*segments, *rest))
        raise


def parse_override(text: str) -> Override:
    """``a.b.c=value`` -> the override: its path, its value as a layer, its text."""
    split = split_assignment(text)
    if split is None:
        raise set_error(
            "an override needs the form key.path=value",
            text,
            text.strip() or None,
            hint="for example --set economics.pue=1.2",
        )
    raw_path, raw_value = split
    raw_path = raw_path.strip()
    if not raw_path:
        raise set_error("the key path before '=' is empty", text, None)
    segments = path_of(raw_path, text)
    check_path(segments, text)
    key = dotted(segments)
    if len(raw_value) > MAX_FILE_BYTES:
        raise set_error("the value is too long", raw_value[:40], key)
    layer = _value_layer(segments, raw_value, key)
    out = Layer(
        data=layer.data,
        marks={(*segments, *p[1:]): m for p, m in layer.marks.items()},
        provenance={(*segments, *p[1:]): v for p, v in layer.provenance.items()},
    )
    return Override(segments, out, text)


def _list_position(cur: list[Any], seg: int, text: str, where: Sequence[str | int]) -> None:
    if not 0 <= seg < len(cur):
        raise set_error(
            f"list position {seg} does not exist",
            text,
            dotted(where),
            expected=f"a position from 0 to {len(cur) - 1}" if cur else "none: empty list",
        )


def apply_override(data: dict[str, Any], segments: KeyPath, value: Any, text: str) -> list[KeyPath]:
    """Set ``value`` at ``segments`` in ``data`` (deep-merging mappings); the paths it created."""
    created: list[KeyPath] = []
    cur: Any = data
    for i, seg in enumerate(segments[:-1]):
        if isinstance(cur, list):
            assert isinstance(seg, int)
            _list_position(cur, seg, text, segments[: i + 1])
            cur = cur[seg]
            continue
        key = str(seg)
        child = cur.get(key)
        nxt_seg = segments[i + 1]
        wants_list = isinstance(nxt_seg, int) and isinstance(child, list)
        if not isinstance(child, dict) and not wants_list:
            if isinstance(nxt_seg, int):
                raise set_error("there is no list here to index", text, dotted(segments[: i + 1]))
            child = {}
            cur[key] = child
            created.append(segments[: i + 1])
        cur = child
    last = segments[-1]
    if isinstance(cur, list):
        assert isinstance(last, int)
        _list_position(cur, last, text, segments)
        cur[last] = merge(cur[last], value)
    else:
        key = str(last)
        cur[key] = merge(cur[key], value) if key in cur else value
    return created


def apply_overrides(data: dict[str, Any], overrides: Sequence[Override]) -> list[Layer]:
    """Apply each override to ``data`` in order; their layers (marks of created paths added)."""
    layers = []
    for o in overrides:
        created = apply_override(data, o.path, o.value, o.text)
        for p in created:
            o.layer.marks.setdefault(p, o.layer.marks[o.path])
        layers.append(o.layer)
    return layers
