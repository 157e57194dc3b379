"""Layers of a scenario: the catalog, the ``extends:`` chain and the file, merged in order.

Layers, lowest first: the shipped catalog (``sim/data/chips.yaml``, ``stacks.yaml``, under the
scenario key ``catalog``), the ``extends:`` chain, the scenario file, then each ``--set``
override (:mod:`sim.scenario.overrides`). Mappings merge key by key; anything else (numbers,
text, lists) replaces.

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
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.safeio import file_problem
from sim.scenario.figures import extract
from sim.scenario.marks import EMPTY, Mark, parse_document, read_text
from sim.scenario.paths import KeyPath, parse_key_path, walk_paths
from sim.scenario.words import did_you_mean, kind_of, show

__all__ = [
    "MAX_EXTENDS",
    "Layer",
    "Unset",
    "apply_unset",
    "catalog_layers",
    "extends_chain",
    "merge",
    "merged",
    "parse_file",
    "shipped_catalog_files",
    "winning_marks",
]

#: Longest ``extends`` chain.
MAX_EXTENDS = 20


@dataclass(frozen=True)
class Unset:
    """One path of a file's ``unset`` list: its parts, as written, and where it was written."""

    parts: tuple[str, ...]
    text: str
    mark: Mark


@dataclass
class Layer:
    """One source of data (a file, the catalog, an override) with its marks and provenance.

    ``unset`` lists the paths the layer removes from what lies below it before it is merged.
    """

    data: dict[str, Any]
    marks: dict[KeyPath, Mark]
    provenance: dict[KeyPath, dict[str, Any]] = field(default_factory=dict)
    unset: list[Unset] = field(default_factory=list)

    def extracted(self) -> Layer:
        """The layer with figures replaced by their values (provenance recorded)."""
        self.data, self.provenance = extract(self.data, self.marks)
        return self


def parse_file(path: Path, label: str, *, prefix: KeyPath = ()) -> Layer:
    """A file's top-level mapping (under ``prefix``) with its marks."""
    text = read_text(path, label)
    if not text.strip():
        raise ScenarioError(
            "the file is empty", file=label, line=1, expected="a mapping of scenario keys"
        )
    doc, c = parse_document(text, label, prefix=prefix)
    if doc is EMPTY:
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
            found=kind_of(doc),
        )
    data: dict[str, Any] = doc
    for p in reversed(prefix):
        data = {str(p): data}
    return Layer(data=data, marks=c.marks)


def shipped_catalog_files() -> tuple[Path, ...]:
    """The catalog files shipped in the package (``sim/data/chips.yaml``, ``stacks.yaml``)."""
    base = resources.files("sim") / "data"
    return tuple(Path(str(base / name)) for name in ("chips.yaml", "stacks.yaml"))


def catalog_layers(catalog_files: Sequence[Path | str] | None) -> list[tuple[Path, Layer]]:
    """The catalog files (default: the shipped ones) as layers under the key ``catalog``."""
    files = shipped_catalog_files() if catalog_files is None else tuple(map(Path, catalog_files))
    return [(f, parse_file(f, str(f), prefix=("catalog",)).extracted()) for f in files]


def _pop_key(layer: Layer, key: str) -> tuple[bool, Any, dict[KeyPath, Mark]]:
    """Remove a top-level key and its marks from a layer: (present, value, marks)."""
    present = key in layer.data
    value = layer.data.pop(key, None)
    marks = {p: m for p, m in layer.marks.items() if p[:1] == (key,)}
    for p in marks:
        del layer.marks[p]
    return present, value, marks


def _next_file(current: Path, label: str, target: Any, line: int | None, seen: list[str]) -> Path:
    """The file an ``extends:`` names, checked (exists, regular, no cycle)."""
    if not isinstance(target, str) or not target.strip():
        raise ScenarioError(
            "'extends' names the scenario file this one builds on",
            file=label,
            line=line,
            key="extends",
            expected="a file name like base.yaml",
            found=show(target),
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
    if len(seen) >= MAX_EXTENDS:
        raise ScenarioError(
            "the extends chain is too long",
            file=label,
            line=line,
            key="extends",
            expected=f"at most {MAX_EXTENDS} files",
        )
    return nxt


def extends_chain(path: Path) -> list[tuple[Path, Layer]]:
    """The file and its ``extends`` ancestors, base first, each with ``extends`` removed."""
    chain: list[tuple[Path, Layer]] = []
    seen: list[str] = []
    current = path
    label = str(path)
    while True:
        layer = parse_file(current, label)
        seen.append(os.path.realpath(current))
        present, target, marks = _pop_key(layer, "extends")
        layer.unset = _parse_unset(layer, label)
        chain.append((current, layer.extracted()))
        if not present:
            break
        extends_mark = marks.get(("extends",))
        line = extends_mark.line if extends_mark else None
        current = _next_file(current, label, target, line, seen)
        label = str(current)
    chain.reverse()
    return chain


def _parse_unset(layer: Layer, label: str) -> list[Unset]:
    """Pop a file's top-level ``unset`` list (and its marks) from the layer, checked."""
    present, raw, marks = _pop_key(layer, "unset")
    if not present or raw is None:
        return []
    top = marks.get(("unset",))
    if not isinstance(raw, list):
        raise ScenarioError(
            "'unset' lists the inherited keys this file removes",
            file=label,
            line=top.line if top else None,
            key="unset",
            expected="a list of dotted key paths, like [provider.pools.trainium1]",
            found=show(raw),
            hint=f"write a list: unset: [{raw}]" if isinstance(raw, str) else None,
        )
    out: list[Unset] = []
    for i, item in enumerate(raw):
        mark = marks.get(("unset", i), top) or Mark(label, None)
        try:
            parts = [str(q) for q in parse_key_path(item)] if isinstance(item, str) else []
        except ValueError:
            parts = []
        if not parts or any(not q.strip() for q in parts):
            raise ScenarioError(
                "an 'unset' entry must be a dotted key path",
                file=label,
                line=mark.line,
                key=f"unset.{i}",
                expected="text like provider.pools.trainium1",
                found=show(item),
            )
        out.append(Unset(tuple(parts), item.strip(), mark))
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


def _unset_error(u: Unset, message: str, **kw: Any) -> ScenarioError:
    return ScenarioError(
        message, file=u.mark.file, line=u.mark.line, key="unset", found=repr(u.text), **kw
    )


def _no_such_key(u: Unset, cur: dict[str, Any], i: int, where: list[str]) -> ScenarioError:
    seg = u.parts[i]
    keys = sorted(map(str, cur))
    shown = keys[:25] + (["..."] if len(keys) > 25 else [])
    under = f"under '{'.'.join(where)}'" if where else "at the top level"
    return _unset_error(
        u,
        f"cannot unset '{u.text}': there is no key '{seg}' {under} of what this file inherits",
        expected=("one of " + ", ".join(shown)) if keys else "nothing: it is empty",
        hint=did_you_mean(seg, keys),
    )


def apply_unset(data: dict[str, Any], u: Unset) -> dict[str, Any]:
    """``data`` without the key at ``u``'s path (copied along the path: layers stay intact)."""
    root = dict(data)
    cur: dict[str, Any] = root
    where: list[str] = []
    i = 0
    while True:
        found = _find_key(cur, u.parts, i)
        if found is None:
            raise _no_such_key(u, cur, i, where)
        key, n = found
        where.append(key)
        i += n
        if i >= len(u.parts):
            del cur[key]
            return root
        child = cur[key]
        if not isinstance(child, dict):
            what = "a list" if isinstance(child, list) else "a single value"
            raise _unset_error(
                u,
                f"cannot unset '{u.text}': '{'.'.join(where)}' is {what}, not a mapping of keys",
                hint="unset removes mapping keys; give a list or value anew to change it",
            )
        child = dict(child)
        cur[key] = child
        cur = child


def merge(base: Any, over: Any) -> Any:
    """Deep merge: mappings merge key by key, anything else replaces.

    >>> merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"c": 3}, "d": [2]})
    {'a': {'b': 1, 'c': 3}, 'd': [2]}
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    return over


def merged(layers: Sequence[Layer]) -> dict[str, Any]:
    """The layers merged in order, each after its ``unset`` paths.

    The merged tree shares containers with the layers (which callers discard after this).
    """
    data: dict[str, Any] = {}
    for layer in layers:
        for u in layer.unset:  # what the layer removes from what it inherits, then its keys
            data = apply_unset(data, u)
        data = merge(data, layer.data)
    return data


def winning_marks(
    data: Any, layers: Sequence[Layer]
) -> tuple[dict[KeyPath, Mark], dict[KeyPath, dict[str, Any]]]:
    """The mark and provenance of each key path of ``data``: those of the topmost layer."""
    marks: dict[KeyPath, Mark] = {}
    prov: dict[KeyPath, dict[str, Any]] = {}
    for layer in layers:
        marks.update(layer.marks)
        for p in layer.marks:
            if p in layer.provenance:
                prov[p] = layer.provenance[p]
            else:
                prov.pop(p, None)
    present = set(walk_paths(data))
    marks = {p: m for p, m in marks.items() if p in present}
    prov = {p: v for p, v in prov.items() if p in present}
    return marks, prov
