"""Runs a scenario: replications of the engine, accounted and combined (no I/O).

Replications run in parallel over worker processes (:func:`run_replications`), one per
core by default; each is a pure function of the scenario and its seed, and the results are
combined in seed order, so the output is the same, byte for byte, for any worker count.
The workers start from a fresh process (never a fork of the caller, whose open files, such
as a run folder's lock, they must not hold), so a script that runs several replications
with more than one worker calls :func:`run` under ``if __name__ == "__main__":``, as any
Python program that starts processes that way.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from sim.accounting.ledger import Accounts, account
from sim.engine.core import simulate
from sim.model.rng import replication_seeds
from sim.model.schema import Scenario
from sim.model.statistics import mean_interval

#: Summary keys that :func:`combine` adds to describe how the run was made (its root seed,
#: the replications, their count and the metrics' interval half-widths), not metrics of it.
RUN_KEYS = ("seed", "replications", "replication_count", "interval95")


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


def interval_tree(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Half-widths of the 95% t-intervals of every numeric summary leaf over replications.

    The tree mirrors the summary's numeric leaves (text leaves are left out); a leaf is None
    where fewer than two replications give a finite value.

    >>> tree = interval_tree([{"a": 1.0, "b": {"c": 2.0}, "s": "x"}, {"a": 3.0, "b": {"c": None}}])
    >>> round(tree["a"], 4), tree["b"]
    (12.7062, {'c': None})
    """
    out: dict[str, Any] = {}
    for key, v in summaries[0].items():
        vals = [s.get(key) for s in summaries]
        if isinstance(v, dict):
            out[key] = interval_tree([x if isinstance(x, dict) else {} for x in vals])
        elif v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
            nums = [x for x in vals if isinstance(x, int | float) and not isinstance(x, bool)]
            if nums or v is not None:
                out[key] = mean_interval(nums).half_width
    return out


def default_workers() -> int:
    """The cores this process may run on (1 if unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


ORPHAN_CHECK_S = 1.0
"""Seconds between a pool worker's checks that the process that started it is still alive
(assumption: a killed run's workers may go on for a second; a check costs microseconds)."""


def _worker_init() -> None:
    """Pool workers leave Ctrl-C to the parent, and exit when their parent is gone (a run
    killed with SIGKILL cannot stop its pool, whose workers would otherwise finish their
    replication for nothing)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="xpusim-orphan-check", daemon=True).start()


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fresh server process that has the simulation imported (they
    start at once and inherit none of the caller's open files, such as a run folder's
    lock), or spawned where there is no fork server."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


def run_replications(
    scenario: Scenario, seeds: Sequence[int], workers: int | None = None
) -> list[Accounts]:
    """:func:`run_one` for each seed, in seed order, over ``workers`` processes.

    ``workers`` None means one per core (:func:`default_workers`), at most one per seed;
    1 runs the replications here, one after another. The results do not depend on it.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    n = min(default_workers() if workers is None else workers, len(seeds))
    if n <= 1:
        return [run_one(scenario, s) for s in seeds]
    pool = ProcessPoolExecutor(n, mp_context=_pool_context(), initializer=_worker_init)
    try:
        return list(pool.map(run_one, repeat(scenario, len(seeds)), seeds))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run(scenario: Scenario, seed: int | None = None, workers: int | None = None) -> RunOutput:
    """Run all replications of `scenario` from root `seed` (default: the scenario's seed).

    Tables gain a ``replication`` column; the summary holds means over replications, with the
    per-replication headline figures under ``replications``, their number under
    ``replication_count`` and, under ``interval95``, the half-width of each numeric metric's
    95% Student-t interval over them (the same tree as the metrics; None with one
    replication). ``workers``: see :func:`run_replications` (the output is the same for any
    value).
    """
    root = scenario.seed if seed is None else seed
    seeds = replication_seeds(root, scenario.replications)
    return combine(run_replications(scenario, seeds, workers), seeds)


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
    summary["replication_count"] = len(results)
    summary["interval95"] = interval_tree([r.summary for r in results])
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
