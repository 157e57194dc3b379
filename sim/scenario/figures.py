"""The two value forms understood anywhere in a scenario: sourced figures and distributions.

* a *sourced figure*, ``{value: 989, unit: tflops, source: ..., date: '2022', kind: measured,
  note: ...}``: replaced by its value; the rest is recorded as provenance;
* an *uncertain number*, ``{dist: triangular, low: 1, mode: 2, high: 3}`` (see
  :mod:`sim.scenario.distributions`): validated and kept in the data as a distribution
  (an atomic leaf for the merge of layers) until the whole scenario is merged, then replaced
  by its central value (:func:`centralise`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sim.scenario.distributions import (
    DISTRIBUTION_ADAPTER,
    DISTRIBUTIONS,
    BaseDistribution,
    Distribution,
)
from sim.scenario.fields import plain_value
from sim.scenario.marks import Mark
from sim.scenario.paths import KeyPath, dotted
from sim.scenario.problems import error_at, located, nearest_mark
from sim.scenario.words import did_you_mean, show

__all__ = ["FIGURE_KEYS", "FIGURE_KINDS", "PROVENANCE_FIELDS", "centralise", "extract"]

FIGURE_KEYS = frozenset({"source", "kind", "unit", "date", "note", "conflicts", "reason"})
FIGURE_KINDS = ("measured", "derived", "calibrated", "assumed")
#: The fields of a figure's provenance, in the order they are recorded.
PROVENANCE_FIELDS = ("source", "date", "kind", "note", "unit")
#: The keys of one rejected alternative in a figure's ``conflicts`` list.
CONFLICT_KEYS = frozenset({"value", "source", "date", "note"})

Provenance = dict[KeyPath, dict[str, Any]]


def extract(data: Any, marks: dict[KeyPath, Mark]) -> tuple[Any, Provenance]:
    """``data`` with sourced figures replaced by their value and distributions validated,
    and the provenance of each figure by key path.

    ``marks`` gains the marks of a structured figure value under the figure's own path.
    """
    prov: Provenance = {}
    return _node(data, (), marks, prov), prov


def _node(value: Any, path: KeyPath, marks: dict[KeyPath, Mark], prov: Provenance) -> Any:
    if isinstance(value, list):
        return [_node(v, (*path, i), marks, prov) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "dist" in value:
        return _distribution(value, path, marks)
    keys = set(value)
    if "value" in keys and keys & FIGURE_KEYS:
        stray = sorted(keys - FIGURE_KEYS - {"value"})
        if stray:
            k = stray[0]
            raise error_at(
                f"unknown key '{k}' in a sourced figure",
                (*path, k),
                marks,
                expected="only value, source, kind, unit, date, note, conflicts, reason",
                hint=did_you_mean(k, [*FIGURE_KEYS, "value"]),
            )
        prov[path] = _provenance(value, path, marks)
        inner = value["value"]
        if isinstance(inner, dict | list):  # rare: re-key the marks of a structured value
            old = (*path, "value")
            for p in [p for p in marks if p[: len(old)] == old]:
                marks[(*path, *p[len(old) :])] = marks[p]
        return _node(inner, path, marks, prov)
    return {k: _node(v, (*path, k), marks, prov) for k, v in value.items()}


def _text_fields(
    fig: Mapping[str, Any], path: KeyPath, marks: Mapping[KeyPath, Mark]
) -> dict[str, str]:
    out: dict[str, str] = {}
    for k in ("source", "note", "unit"):
        v = fig.get(k)
        if v is None:
            v = ""
        if not isinstance(v, str):
            raise error_at(
                f"the '{k}' of a sourced figure must be text",
                (*path, k),
                marks,
                expected="text",
                found=show(v),
                hint="quote it",
            )
        out[k] = v
    return out


def _date(fig: Mapping[str, Any], path: KeyPath, marks: Mapping[KeyPath, Mark]) -> str | None:
    date = fig.get("date")
    if isinstance(date, dt.datetime):
        return date.date().isoformat()
    if isinstance(date, dt.date):
        return date.isoformat()
    if date is not None and not isinstance(date, str):
        raise error_at(
            "the 'date' of a sourced figure must be text or a date",
            (*path, "date"),
            marks,
            expected="a date like 2024-03-01 or text like '2024'",
            found=show(date),
            hint=f"quote it: '{date}'",
        )
    return date


def _provenance(
    fig: Mapping[str, Any], path: KeyPath, marks: Mapping[KeyPath, Mark]
) -> dict[str, Any]:
    out: dict[str, Any] = dict(_text_fields(fig, path, marks))
    kind = fig.get("kind")
    if kind is not None and kind not in FIGURE_KINDS:
        raise error_at(
            "unknown kind of figure",
            (*path, "kind"),
            marks,
            expected="one of " + ", ".join(FIGURE_KINDS),
            found=show(kind),
            hint=did_you_mean(str(kind), FIGURE_KINDS),
        )
    out["kind"] = kind
    out["date"] = _date(fig, path, marks)
    m = nearest_mark(path, marks)
    entry: dict[str, Any] = {
        **{k: out[k] for k in PROVENANCE_FIELDS},
        "file": m.file if m else None,
        "line": m.line if m else None,
    }
    if "conflicts" in fig or "reason" in fig:
        entry["conflicts"] = _conflicts(fig.get("conflicts"), path, marks)
        entry["reason"] = _reason(fig.get("reason"), path, marks)
    return entry


def _reason(value: Any, path: KeyPath, marks: Mapping[KeyPath, Mark]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise error_at(
            "a figure with conflicts needs a 'reason' for the value chosen",
            (*path, "reason"),
            marks,
            expected="text saying why this value was chosen over the others",
            found=show(value),
        )
    return value


def _conflicts(value: Any, path: KeyPath, marks: Mapping[KeyPath, Mark]) -> list[dict[str, Any]]:
    """The rejected alternatives of a figure: each {value, source, date, note}."""
    where = (*path, "conflicts")
    if not isinstance(value, list) or not value:
        raise error_at(
            "'conflicts' must list the rejected values",
            where,
            marks,
            expected="a list of {value, source, date, note}",
            found=show(value),
        )
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or "value" not in item or "source" not in item:
            raise error_at(
                "a conflicting figure needs a value and its source",
                (*where, i),
                marks,
                expected="{value, source, date, note}",
                found=show(item),
            )
        stray = sorted(set(item) - CONFLICT_KEYS)
        if stray:
            raise error_at(
                f"unknown key '{stray[0]}' in a conflicting figure",
                (*where, i, stray[0]),
                marks,
                expected="only value, source, date, note",
            )
        out.append({k: item.get(k) for k in ("value", "source", "date", "note")})
        if isinstance(out[-1]["date"], dt.date):
            out[-1]["date"] = out[-1]["date"].isoformat()
    return out


def _distribution(value: dict[str, Any], path: KeyPath, marks: Mapping[KeyPath, Mark]) -> Any:
    kind = value.get("dist")
    if not isinstance(kind, str) or kind not in DISTRIBUTIONS:
        raise error_at(
            "unknown distribution",
            (*path, "dist"),
            marks,
            expected="one of " + ", ".join(DISTRIBUTIONS),
            found=show(kind),
            hint=did_you_mean(str(kind), list(DISTRIBUTIONS)),
        )
    try:
        return DISTRIBUTION_ADAPTER.validate_python(value)
    except ValidationError as e:
        raise located(e, path, value, marks, strip_tag=tuple(DISTRIBUTIONS)) from None


def centralise(data: Any, path: KeyPath, out: dict[str, Distribution]) -> Any:
    """Replace distribution leaves by their central value, collecting them by dotted path."""
    if isinstance(data, dict):
        return {k: centralise(v, (*path, k), out) for k, v in data.items()}
    if isinstance(data, list):
        return [centralise(v, (*path, i), out) for i, v in enumerate(data)]
    if isinstance(data, BaseDistribution):
        out[dotted(path)] = data  # type: ignore[assignment]
        return plain_value(path, data.central())
    return data
