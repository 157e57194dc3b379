"""Plausibility warnings: scenario values far outside their documented ranges
(``sim/data/plausible.yaml``), with the likely slip named (cents typed as dollars, a
percentage typed where a fraction belongs). A warning never stops a run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sim.scenario.loading import LoadedScenario

__all__ = ["PlausibleRange", "plausibility_warnings", "ranges"]


@dataclass(frozen=True)
class PlausibleRange:
    """A documented range of a scenario path (``*`` matches any one key)."""

    path: str
    low: float
    high: float
    unit: str
    slip: str
    source: str


@cache
def ranges() -> tuple[PlausibleRange, ...]:
    """The ranges of ``sim/data/plausible.yaml``."""
    text = (resources.files("sim") / "data" / "plausible.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return tuple(
        PlausibleRange(
            str(r["path"]),
            float(r["low"]),
            float(r["high"]),
            str(r.get("unit", "")),
            str(r.get("slip", "")),
            str(r.get("source", "")),
        )
        for r in data["ranges"]
    )


def _matches(
    tree: Any, parts: list[str], prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Any]]:
    if not parts:
        yield prefix, tree
        return
    if not isinstance(tree, Mapping):
        return
    head, rest = parts[0], parts[1:]
    keys = list(tree) if head == "*" else [head] if head in tree else []
    for key in keys:
        yield from _matches(tree[key], rest, (*prefix, str(key)))


def _hint(r: PlausibleRange, value: float) -> str:
    if r.slip in ("cents", "percent") and value > r.high and r.low <= value / 100 <= r.high:
        if r.slip == "cents":
            return f"cents typed as dollars? {value:g} cents is {value / 100:g}"
        return f"a percentage typed as a fraction? {value:g}% is {value / 100:g}"
    return "check the unit"


def plausibility_warnings(loaded: LoadedScenario) -> list[str]:
    """One line per value outside its plausible range: where, found, range and the likely
    slip."""
    values = loaded.scenario.model_dump()
    out = []
    for r in ranges():
        for path, value in _matches(values, r.path.split("."), ()):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if r.low <= value <= r.high:
                continue
            mark = loaded.marks.get(path)
            where = ""
            if mark is not None:
                where = f"{mark.file}:{mark.line}: " if mark.line else f"{mark.file}: "
            dotted = ".".join(path)
            out.append(
                f"{where}key '{dotted}': {value:g} {r.unit} is outside the plausible range "
                f"{r.low:g} to {r.high:g}; {_hint(r, float(value))}"
            )
    return out
