"""Targeted edits of YAML text that keep its comments and layout (pure string functions).

Used by ``xpusim calibrate --in-place``: fitted values replace exactly the text span of the
value node, and the ``calibration:`` record is replaced or appended as a block, so a scenario's
header comments and sources survive a re-calibration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from sim.scenario.paths import split_path

__all__ = ["replace_top_level_block", "set_scalars"]


def _find(node: yaml.Node, path: Sequence[str | int]) -> yaml.Node | None:
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                node = value
                break
        else:
            return None
    if isinstance(node, yaml.MappingNode):
        keys = {k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        if "dist" in keys:  # an uncertain number: edit its central value
            central = next((c for c in _CENTRAL_KEYS if c in keys), None)
            return None if central is None else _find(node, [central])
        return _find(node, ["value"])  # a sourced figure: edit its `value`
    return node


_CENTRAL_KEYS = ("mode", "mean", "value")
"""The key holding the central value of a distribution written in YAML (triangular: mode;
normal: mean); a distribution without one (uniform) cannot be set in place."""


def _scalar_text(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
    return text.removesuffix("\n...").strip()


def set_scalars(text: str, values: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Replace the scalar at each dotted path in YAML `text`; return new text and paths missing.

    A sourced figure gets its ``value`` set, a triangular or normal distribution its ``mode``
    or ``mean``.

    >>> t = "a:\\n  b: 1.0  # keep me\\n  c: {value: 2, source: x}\\n"
    >>> t += "  e: {dist: triangular, low: 0, mode: 1, high: 3}\\n"
    >>> new, missing = set_scalars(t, {"a.b": 3.5, "a.c": 4, "a.d": 1, "a.e": 2})
    >>> print(new, end="")
    a:
      b: 3.5  # keep me
      c: {value: 4, source: x}
      e: {dist: triangular, low: 0, mode: 2, high: 3}
    >>> missing
    ['a.d']
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[tuple[int, int, str]] = []
    missing: list[str] = []
    for path, value in values.items():
        node = _find(root, split_path(path)) if root is not None else None
        if not isinstance(node, yaml.ScalarNode):
            missing.append(path)
            continue
        edits.append((node.start_mark.index, node.end_mark.index, _scalar_text(value)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text, missing


def replace_top_level_block(text: str, key: str, block: str) -> str:
    """Replace the top-level `key:` block of YAML `text` (with its value), or append it.

    `block` is the full YAML text of the block, starting with ``key:``.

    >>> t = "a: 1\\ncal:\\n  x: 1\\nb: 2\\n"
    >>> print(replace_top_level_block(t, "cal", "cal:\\n  x: 9\\n"), end="")
    a: 1
    cal:
      x: 9
    b: 2
    >>> print(replace_top_level_block("a: 1\\n", "cal", "cal: {}\\n"), end="")
    a: 1
    cal: {}
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith(f"{key}:")), None)
    if not block.endswith("\n"):
        block += "\n"
    if start is None:
        sep = "" if text.endswith("\n") or not text else "\n"
        return text + sep + block
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    # keep blank lines that separate the block from what follows
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])
