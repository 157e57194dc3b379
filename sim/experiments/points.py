"""One run of a design point: the base scenario with the point's values, one replication.

A point is a set of values by dotted path (``{"economics.pue": 1.3}``). It reaches the
process that runs it as those values only; there :func:`run_point` substitutes them into
the loaded base scenario (:func:`sim.scenario.substitute`, the one way to change a
scenario) and runs one replication. Its summary becomes the run's metrics, flattened to
dotted keys (:func:`flatten_summary`): one row of ``runs.parquet``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.accounting.runner import RUN_KEYS, run_one
from sim.scenario import LoadedScenario, substitute

__all__ = ["SKIPPED_SUMMARY_KEYS", "flatten_summary", "run_point"]

#: Top-level summary keys that describe the run rather than measure it.
SKIPPED_SUMMARY_KEYS = frozenset({"scenario", "horizon", *RUN_KEYS})


def flatten_summary(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The scalar leaves of a nested summary under dotted keys, sorted (lists skipped).

    >>> flatten_summary({"b": {"y": 2, "x": [1]}, "a": None, "scenario": "s"})
    {'a': None, 'b.y': 2}
    """
    out: dict[str, Any] = {}
    for key in sorted(summary, key=str):
        if not prefix and key in SKIPPED_SUMMARY_KEYS:
            continue
        value = summary[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_summary(value, f"{name}."))
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = value
        elif hasattr(value, "item") and not isinstance(value, list | tuple):  # numpy scalar
            out[name] = value.item()
        elif hasattr(value, "isoformat"):
            out[name] = value.isoformat()
    return out


def run_point(base: LoadedScenario, values: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The sweep task: ``base`` with ``values`` substituted, one replication, its metrics."""
    scenario = substitute(base, values).scenario if values else base.scenario
    return flatten_summary(run_one(scenario, seed).summary)
