"""Runs a scenario: replications of the engine, accounted and combined (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.accounting.ledger import Accounts, account
from sim.engine.core import simulate
from sim.model.rng import replication_seeds
from sim.model.schema import Scenario


@dataclass(frozen=True)
class RunOutput:
    """What a run produces: headline numbers and flat result tables.

    ``summary`` becomes ``summary.json`` (JSON-compatible values; numpy scalars and
    arrays, dates and tuples are converted; NaN and infinities become null). Each entry
    of ``tables`` becomes ``<name>.parquet``. Keep wall-clock timings out of both, or in
    a clearly separate key, so that the same scenario and seed give identical files.
    """

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def run_one(scenario: Scenario, seed: int) -> Accounts:
    """Simulate and account one replication."""
    return account(scenario, simulate(scenario, seed))


def mean_summary(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Leaf-wise mean of numeric summary values over replications (None where all are None).

    Text leaves (dates, names) are kept when every replication agrees, else the most common.

    >>> mean_summary([{"a": 1.0, "b": {"c": None}}, {"a": 3.0, "b": {"c": 2.0}}])
    {'a': 2.0, 'b': {'c': 2.0}}
    """
    first = summaries[0]
    out: dict[str, Any] = {}
    for key, v in first.items():
        vals = [s.get(key) for s in summaries]
        if isinstance(v, dict):
            out[key] = mean_summary([x if isinstance(x, dict) else {} for x in vals])
        elif isinstance(v, bool) or (v is not None and not isinstance(v, int | float)):
            out[key] = max(set(map(str, vals)), key=[str(x) for x in vals].count)
            if all(x == v for x in vals):
                out[key] = v
        else:
            nums = [float(x) for x in vals if isinstance(x, int | float)]
            if not nums:
                # a text leaf that is None in the first replication only
                texts = [x for x in vals if x is not None]
                out[key] = max(set(texts), key=texts.count) if texts else None
            else:
                out[key] = float(np.mean(nums))
    return out


def run(scenario: Scenario, seed: int | None = None) -> RunOutput:
    """Run all replications of `scenario` from root `seed` (default: the scenario's seed).

    Tables gain a ``replication`` column; the summary holds means over replications, with the
    per-replication headline figures under ``replications``.
    """
    root = scenario.seed if seed is None else seed
    seeds = replication_seeds(root, scenario.replications)
    results = [run_one(scenario, s) for s in seeds]
    return combine(results, seeds)


def combine(results: Sequence[Accounts], seeds: Sequence[int]) -> RunOutput:
    """Merge replications into one RunOutput."""
    tables: dict[str, pd.DataFrame] = {}
    for name in results[0].tables:
        parts = []
        for r, (res, sd) in enumerate(zip(results, seeds, strict=True)):
            df = res.tables[name].copy()
            df.insert(0, "replication", r)
            df.insert(1, "seed", np.uint64(sd))
            parts.append(df)
        tables[name] = pd.concat(parts, ignore_index=True)
    summary = (
        mean_summary([r.summary for r in results]) if len(results) > 1 else dict(results[0].summary)
    )
    summary["seed"] = int(seeds[0])
    summary["replications"] = [
        {
            "replication": r,
            "seed": int(sd),
            "usage_ratio_vs_gpu": res.summary["usage_ratio_vs_gpu"],
            "provider": {
                k: v for k, v in res.summary["provider"].items() if k != "tco_breakdown_usd"
            },
        }
        for r, (res, sd) in enumerate(zip(results, seeds, strict=True))
    ]
    return RunOutput(summary=summary, tables=tables)
