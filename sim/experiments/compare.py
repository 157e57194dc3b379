"""Runs side by side: each metric's mean in every run and its difference from the first run,
absolute and relative, with the 95% interval of the difference (no I/O).

The interval is **paired** when both runs stored the metric per replication
(``summary["replications"]``) under the same seeds: the Student-t interval of the mean
per-seed difference (:func:`sim.model.statistics.paired_interval`), which common random
numbers make much narrower than the runs' own intervals. Otherwise it is **unpaired**: the
runs' half-widths combined as independent, sqrt(a^2 + b^2), an approximation that assumes
similar replication counts; a metric without an interval in either run has none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sim.model.statistics import paired_interval
from sim.scenario.paths import value_at

__all__ = ["Difference", "Pairing", "compare_metric", "same_seeds", "value_at_key"]

Pairing = Literal["paired", "unpaired", "none"]
"""How a difference's interval was found (``none``: no interval)."""


@dataclass(frozen=True)
class Difference:
    """A metric of a run against the first run (the base)."""

    key: str
    base: Any
    value: Any
    absolute: float | None
    """value - base (None unless both are numbers)."""
    relative: float | None
    """(value - base) / |base| (None when base is 0 or missing)."""
    half_width: float | None
    """Half-width of the 95% interval of ``absolute``."""
    pairing: Pairing
    pairs: int = 0
    """Seeds both runs share for this metric (paired only)."""

    @property
    def significant(self) -> bool | None:
        """Whether the interval of the difference excludes zero (None without one)."""
        if self.absolute is None or self.half_width is None:
            return None
        return abs(self.absolute) > self.half_width


def value_at_key(tree: Mapping[str, Any] | None, dotted: str) -> Any:
    """The value at a dotted key of a nested mapping (None where there is none).

    >>> value_at_key({"a": {"b": 2}}, "a.b"), value_at_key({"a": 1}, "a.b")
    (2, None)
    """
    return value_at(tree, dotted)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _per_seed(summary: Mapping[str, Any], key: str) -> dict[int, float | None]:
    """A metric's value in each stored replication, by seed."""
    reps = summary.get("replications")
    if not isinstance(reps, list):
        return {}
    out: dict[int, float | None] = {}
    for rep in reps:
        if isinstance(rep, Mapping) and isinstance(rep.get("seed"), int):
            value = value_at_key(rep, key)
            if value is not None:
                out[int(rep["seed"])] = _number(value)
    return out


def _visible(x: float, scale: float) -> float:
    """``x``, or 0 where it is round-off (under a billionth of ``scale``).

    >>> _visible(-1.5e-17, 1.6e-6), _visible(0.25, 142.0)
    (0.0, 0.25)
    """
    return 0.0 if abs(x) <= abs(scale) * 1e-9 else x


def compare_metric(base: Mapping[str, Any], other: Mapping[str, Any], key: str) -> Difference:
    """``other``'s metric ``key`` against ``base``'s.

    >>> a = {"m": 10.0, "replications": [{"seed": 1, "m": 9.0}, {"seed": 2, "m": 11.0}]}
    >>> b = {"m": 12.0, "replications": [{"seed": 1, "m": 11.1}, {"seed": 2, "m": 12.9}]}
    >>> d = compare_metric(a, b, "m")
    >>> d.pairing, d.absolute, d.relative, round(d.half_width, 3), d.pairs
    ('paired', 2.0, 0.2, 1.271, 2)
    """
    x, y = value_at_key(base, key), value_at_key(other, key)
    bx, by = _number(x), _number(y)
    if bx is None or by is None:
        return Difference(key, x, y, None, None, None, "none")
    absolute = _visible(by - bx, bx)
    relative = absolute / abs(bx) if bx != 0 else None
    sa, sb = _per_seed(base, key), _per_seed(other, key)
    shared = sorted(set(sa) & set(sb))
    if len(shared) >= 2 and len(shared) == len(sa) == len(sb):
        interval = paired_interval([sa[s] for s in shared], [sb[s] for s in shared])
        if interval.half_width is not None:
            hw = _visible(interval.half_width, bx)
            return Difference(key, x, y, absolute, relative, hw, "paired", interval.n)
    ha = _number(value_at_key(base.get("interval95"), key))
    hb = _number(value_at_key(other.get("interval95"), key))
    if ha is None or hb is None:
        return Difference(key, x, y, absolute, relative, None, "none")
    return Difference(key, x, y, absolute, relative, _visible(math.hypot(ha, hb), bx), "unpaired")


def same_seeds(summaries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every summary's replications ran under the same seeds."""
    seeds = [
        tuple(r.get("seed") for r in s.get("replications") or [] if isinstance(r, Mapping))
        for s in summaries
    ]
    return bool(seeds) and bool(seeds[0]) and all(s == seeds[0] for s in seeds)
