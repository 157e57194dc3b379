"""The flat monthly tables of one replication (one row per month x pool, month x segment x
pool, ...), built from the ledger's named arrays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.accounting.grid import Grid
from sim.engine.records import EngineLog, JobColumns
from sim.model.adoption import UTILITY_TERMS

FloatArray = npt.NDArray[np.float64]


def timeseries_table(grid: Grid, columns: Mapping[str, FloatArray]) -> pd.DataFrame:
    """One row per month and pool; ``columns`` are (pool, month) arrays in column order."""
    n_p, n_m = grid.n_pools, grid.n_months
    rows: dict[str, Any] = {
        "month": np.repeat(np.array(grid.months, dtype=object), n_p),
        "pool": np.tile(np.array(grid.pools, dtype=object), n_m),
        "family": np.tile(np.array([c.family for c in grid.chips], dtype=object), n_m),
        "vendor": np.tile(np.array([c.vendor for c in grid.chips], dtype=object), n_m),
    }
    for name, arr in columns.items():
        rows[name] = np.asarray(arr.T.reshape(-1), dtype=float)
    return pd.DataFrame(rows)


def segments_table(grid: Grid, columns: Mapping[str, FloatArray]) -> pd.DataFrame:
    """One row per month, segment and pool; ``columns`` are (pool, segment, month) arrays."""
    n_p, n_s, n_m = grid.n_pools, grid.n_segments, grid.n_months
    rows: dict[str, Any] = {
        "month": np.repeat(np.array(grid.months, dtype=object), n_p * n_s),
        "segment": np.tile(np.repeat(np.array(grid.segments, dtype=object), n_p), n_m),
        "pool": np.tile(np.array(grid.pools, dtype=object), n_m * n_s),
        "family": np.tile(np.array([c.family for c in grid.chips], dtype=object), n_m * n_s),
    }
    for name, arr in columns.items():
        # (pool, seg, month) -> rows ordered month, seg, pool
        rows[name] = np.asarray(arr.transpose(2, 1, 0).reshape(-1), dtype=float)
    return pd.DataFrame(rows)


def adoption_table(grid: Grid, log: EngineLog) -> pd.DataFrame:
    """Month-start shares of each workload per segment and pool."""
    months, segs, pools = grid.months, grid.segments, grid.pools
    return pd.DataFrame(
        [
            (months[r.month], segs[r.segment], r.workload, pools[r.pool], r.share)
            for r in log.shares
        ],
        columns=["month", "segment", "workload", "pool", "share"],
    )


def maturity_table(grid: Grid, log: EngineLog) -> pd.DataFrame:
    """Month-start maturity and software efficiency of each stack."""
    months = grid.months
    return pd.DataFrame(
        [(months[r.month], r.stack, r.maturity, r.software_efficiency) for r in log.maturity],
        columns=["month", "stack", "maturity", "software_efficiency"],
    )


def ports_table(grid: Grid, log: EngineLog) -> pd.DataFrame:
    """Every group of ports a segment's customers started at a review, with its dates (the
    end clipped to the horizon), the (expected) number of customers, failures and cost."""
    clock, horizon_h, segs = grid.clock, grid.horizon_h, grid.segments
    return pd.DataFrame(
        [
            (
                segs[r.segment],
                r.workload,
                r.stack,
                clock.date(r.start_h).isoformat(),
                clock.date(min(r.end_h, horizon_h)).isoformat(),
                r.customers,
                r.failed,
                r.cost_usd,
                r.end_h <= horizon_h,
            )
            for r in log.ports
        ],
        columns=[
            "segment",
            "workload",
            "stack",
            "start",
            "end",
            "customers",
            "failed",
            "cost_usd",
            "completed_in_horizon",
        ],
    )


CHOICE_COLUMNS: tuple[str, ...] = (
    *UTILITY_TERMS,
    "total",
    "probability",
    "installed",
    "considered",
    "innovation",
    "imitation",
)
"""The numeric columns of the choices table, after its identifying ones."""


def choices_table(grid: Grid, log: EngineLog) -> pd.DataFrame:
    """What each segment's customers saw of each option at each review (size-weighted means
    of the utility terms, the choice probability and the Bass consideration), one row per
    review, workload and pool; pools held back by a feature gate have ``gated`` set."""
    clock, segs, pools = grid.clock, grid.segments, grid.pools
    rec = log.choices
    return pd.DataFrame(
        {
            "date": [clock.date(r.time_h).isoformat() for r in rec],
            "segment": [segs[r.segment] for r in rec],
            "workload": [r.workload for r in rec],
            "pool": [pools[r.pool] for r in rec],
            "family": [grid.chips[r.pool].family for r in rec],
            "inhouse": [grid.chips[r.pool].inhouse for r in rec],
            "stack": [r.stack for r in rec],
            **{c: np.array([getattr(r, c) for r in rec], dtype=float) for c in CHOICE_COLUMNS},
            "gated": [r.gated for r in rec],
            "volume_usd": np.array([r.volume_usd for r in rec], dtype=float),
        }
    )


def jobs_table(grid: Grid, jobs: JobColumns) -> pd.DataFrame:
    """One row per training job (``outputs.jobs_table``)."""
    any_jobs = len(jobs) > 0
    return pd.DataFrame(
        {
            "segment": np.array(grid.segments, dtype=object)[jobs.segment] if any_jobs else [],
            "pool": np.array(grid.pools, dtype=object)[jobs.pool] if any_jobs else [],
            "chips": jobs.chips.astype(np.int64),
            "pflop": jobs.pflop,
            "arrival_hours": jobs.arrival_h,
            "start_hours": jobs.start_h,
            "end_hours": jobs.end_h,
            "wait_hours": jobs.start_h - jobs.arrival_h,
        }
    )
