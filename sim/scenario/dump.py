"""Scenarios out: deterministic YAML of resolved data, the JSON Schema of scenario files,
the differences between two scenarios and a file's header comment."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import numpy as np
import yaml
from pydantic import BaseModel

from sim.errors import ScenarioError
from sim.model.schema import Scenario
from sim.scenario.distributions import DISTRIBUTION_ADAPTER
from sim.scenario.fields import unwrap
from sim.scenario.figures import FIGURE_KINDS
from sim.scenario.marks import (
    FLOAT_12,
    FLOAT_FIRST,
    MAX_FILE_BYTES,
    SEQ_TAG,
    YAML_TAG,
    parse_document,
    read_text,
)
from sim.scenario.paths import flatten

__all__ = [
    "comment_lines",
    "diff_scenarios",
    "dump_yaml",
    "leading_comment",
    "saved_yaml",
    "scenario_json_schema",
]


class _FlowList(list[Any]):
    """A list of plain values, dumped on one line: ``[0.5, 0.6, ...]``."""


class _PyDumper(yaml.SafeDumper):
    """Block-style YAML that the loader reads back: never anchors and aliases (the loader
    refuses them), even where one date or list object appears at two places."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_flow(dumper: Any, value: _FlowList) -> yaml.Node:
    node: yaml.Node = dumper.represent_sequence(SEQ_TAG, list(value), flow_style=True)
    return node


_PyDumper.add_representer(_FlowList, _represent_flow)
# the loader reads 1e6 as a number: a text that looks like one must be dumped quoted
_PyDumper.add_implicit_resolver(YAML_TAG + "float", FLOAT_12, FLOAT_FIRST)

if getattr(yaml, "__with_libyaml__", False):

    class _CDumper(yaml.CSafeDumper):
        """:class:`_PyDumper` on libyaml's C emitter: the same bytes, several times faster."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    _CDumper.add_representer(_FlowList, _represent_flow)
    _CDumper.add_implicit_resolver(YAML_TAG + "float", FLOAT_12, FLOAT_FIRST)
    _Dumper: type[Any] = _CDumper
else:  # pragma: no cover - libyaml is normally present
    _Dumper = _PyDumper


def _schema_ordered(value: Any, tp: Any) -> Any:
    tp = unwrap(tp)
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

    >>> import datetime as dt
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
    exceed :data:`~sim.scenario.marks.MAX_FILE_BYTES` or the nesting, list or value limits.
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
        parse_document(text, "scenario.yaml")
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


def comment_lines(text: str) -> list[str]:
    """The comment lines that open a YAML text, without their ``#``.

    >>> comment_lines("# A question\\n#\\n#  indented\\nname: x\\n# not this")
    ['A question', '', ' indented']
    """
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return lines


def leading_comment(path: Path) -> str:
    """The comment lines that open a scenario file, without their ``#``; '' if none.

    Never raises: a file that cannot be read has no header to show.
    """
    try:
        text = read_text(path, str(path))
    except ScenarioError:
        return ""
    return "\n".join(comment_lines(text))


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


_FIGURE_SCHEMA: dict[str, Any] = {
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
_LAYER_KEYS_SCHEMA: dict[str, Any] = {
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
}


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
    defs["Figure"] = copy.deepcopy(_FIGURE_SCHEMA)
    schema["properties"] = {**copy.deepcopy(_LAYER_KEYS_SCHEMA), **schema.get("properties", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **{k: v for k, v in schema.items() if k != "title"},
        "title": "xpusim scenario",
    }


def diff_scenarios(a: Scenario, b: Scenario) -> list[tuple[str, Any, Any]]:
    """Dotted paths whose resolved values differ between two scenarios (``sources`` excluded).

    A path present in one scenario only is listed with ``None`` on the other side.
    """
    fa = dict(flatten(a.model_dump(exclude={"sources"})))
    fb = dict(flatten(b.model_dump(exclude={"sources"})))
    out = []
    for k in sorted(fa.keys() | fb.keys()):
        va, vb = fa.get(k), fb.get(k)
        if va != vb or (k in fa) != (k in fb):
            out.append((k, va, vb))
    return out
