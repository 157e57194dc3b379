"""Runs side by side: each metric's mean in every run and its difference from the first run,
absolute and relative, with the 95% interval of the difference (no I/O).

The interval is **paired** when both runs stored the metric per replication
(``summary["replications"]``) under two seeds or more in common: the Student-t interval of
the mean per-seed difference over the seeds they share
(:func:`sim.model.statistics.paired_interval`), which common random numbers make much
narrower than the runs' own intervals. Runs of the same root seed share their first
replications' seeds whatever their replication counts (:func:`sim.model.rng.replication_seeds`),
so a run of 8 replications and one of 2 pair over 2 seeds: the difference is then the mean
per-seed difference over those 2 (the other 6 replications are left out of it, as
:func:`seed_overlap` counts). Without two shared seeds the interval is **unpaired**: the
runs' half-widths combined as independent, sqrt(a^2 + b^2), an approximation; a metric
without an interval in either run has none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sim.model.statistics import paired_interval
from sim.scenario.paths import value_at

__all__ = [
    "Difference",
    "Pairing",
    "SeedOverlap",
    "compare_metric",
    "same_seeds",
    "seed_overlap",
    "value_at_key",
]

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
    reference: float | None = None
    """The base value ``relative`` is relative to: the base mean, or when only some of the
    runs' replications pair, the base's mean over the paired seeds."""

    @property
    def significant(self) -> bool | None:
        """Whether the interval of the difference excludes zero (None without one)."""
        if self.absolute is None or self.half_width is None:
            return None
        return abs(self.absolute) > self.half_width

    @property
    def relative_half_width(self) -> float | None:
        """``half_width`` relative to :attr:`reference` (None without either)."""
        if self.half_width is None or not self.reference:
            return None
        return self.half_width / abs(self.reference)


@dataclass(frozen=True)
class SeedOverlap:
    """The replication seeds two runs share, and how many of each run's are left out."""

    shared: int
    base_only: int
    other_only: int

    @property
    def complete(self) -> bool:
        """Whether every replication of both runs has its pair."""
        return self.base_only == 0 and self.other_only == 0


def _seeds(summary: Mapping[str, Any]) -> set[int]:
    reps = summary.get("replications")
    if not isinstance(reps, list):
        return set()
    return {
        int(r["seed"]) for r in reps if isinstance(r, Mapping) and isinstance(r.get("seed"), int)
    }


def seed_overlap(base: Mapping[str, Any], other: Mapping[str, Any]) -> SeedOverlap:
    """The stored replications' seeds ``base`` and ``other`` share, and each one's others.

    >>> a = {"replications": [{"seed": s} for s in (7, 8, 9, 10)]}
    >>> seed_overlap(a, {"replications": [{"seed": 7}, {"seed": 8}]})
    SeedOverlap(shared=2, base_only=2, other_only=0)
    """
    a, b = _seeds(base), _seeds(other)
    return SeedOverlap(len(a & b), len(a - b), len(b - a))


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

    Where both runs stored the metric per replication under two seeds or more in common,
    the difference and its interval are paired over those seeds; where every replication of
    both pairs, the difference is that of the runs' means (the same number).

    >>> a = {"m": 10.0, "replications": [{"seed": 1, "m": 9.0}, {"seed": 2, "m": 11.0}]}
    >>> b = {"m": 12.0, "replications": [{"seed": 1, "m": 11.1}, {"seed": 2, "m": 12.9}]}
    >>> d = compare_metric(a, b, "m")
    >>> d.pairing, d.absolute, d.relative, round(d.half_width, 3), d.pairs
    ('paired', 2.0, 0.2, 1.271, 2)
    >>> a3 = {"m": 30.0, "replications": a["replications"] + [{"seed": 3, "m": 70.0}]}
    >>> d = compare_metric(a3, b, "m")  # seed 3 has no pair: left out
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
    if len(shared) >= 2:
        pairs = [
            (a, b) for a, b in ((sa[s], sb[s]) for s in shared) if a is not None and b is not None
        ]
        interval = paired_interval([a for a, _ in pairs], [b for _, b in pairs])
        if interval.half_width is not None:
            reference = bx
            if not (len(shared) == len(sa) == len(sb) == len(pairs)):
                # some replications have no pair: the difference over the pairs only
                reference = math.fsum(a for a, _ in pairs) / len(pairs)
                absolute = _visible(interval.mean, reference)
                relative = absolute / abs(reference) if reference != 0 else None
            hw = _visible(interval.half_width, reference)
            return Difference(key, x, y, absolute, relative, hw, "paired", interval.n, reference)
    ha = _number(value_at_key(base.get("interval95"), key))
    hb = _number(value_at_key(other.get("interval95"), key))
    if ha is None or hb is None:
        return Difference(key, x, y, absolute, relative, None, "none", reference=bx)
    hw = _visible(math.hypot(ha, hb), bx)
    return Difference(key, x, y, absolute, relative, hw, "unpaired", reference=bx)


def same_seeds(summaries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every summary's replications ran under the same seeds."""
    seeds = [
        tuple(r.get("seed") for r in s.get("replications") or [] if isinstance(r, Mapping))
        for s in summaries
    ]
    return bool(seeds) and bool(seeds[0]) and all(s == seeds[0] for s in seeds)
