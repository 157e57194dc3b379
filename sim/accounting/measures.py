"""Customers' usage of each chip family measured three ways, per calendar year.

An Inferentia1 chip-hour ($0.30) and a B200 chip-hour ($14) differ tenfold in price and in
work, so "usage" depends on the measure:

- **chip-hours**: busy chip-hours (training jobs running, serving capacity reserved): what a
  cloud's usage records count (instance-hours), and the measure of the calibration targets;
- **spend**: what customers paid for those hours (list price, committed-use discounts);
- **useful compute**: PFLOP of training delivered and million tokens served (after each
  stack's software efficiency).

Only the provider's billed customers count (internal segments are left out), as in the
source's "usage ... among AWS's largest customers" [bi-2024-05]. Ratios are against Nvidia
GPUs; in-house shares are the in-house chips' (Trainium, Inferentia, TPU, Maia) share of all
customers' use.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sim.accounting.grid import Grid
from sim.accounting.revenue import Revenue
from sim.accounting.summary import InhouseShareSummary, UsageSummary
from sim.accounting.usage import Usage

FloatArray = npt.NDArray[np.float64]
YearMap = dict[str, float | None]

REFERENCE_FAMILY = "nvidia_gpu"
"""The family every usage ratio is taken against."""


def _by_year(grid: Grid, pool_month: FloatArray) -> dict[str, dict[str, float]]:
    """Per family and calendar year, the sum of a (pool, month) array."""
    years = np.array([d.year for d in grid.clock.month_starts])
    fam = np.array([c.family for c in grid.chips])
    out: dict[str, dict[str, float]] = {}
    for f in sorted(set(fam)):
        rows = pool_month[fam == f]
        out[str(f)] = {str(y): float(rows[:, years == y].sum()) for y in sorted(set(years))}
    return out


def _inhouse_by_year(grid: Grid, pool_month: FloatArray) -> YearMap:
    """Per year, the in-house chips' share of the (pool, month) array's total."""
    years = np.array([d.year for d in grid.clock.month_starts])
    inhouse = np.array([c.inhouse for c in grid.chips])
    out: YearMap = {}
    for y in sorted(set(years)):
        cols = pool_month[:, years == y]
        total = float(cols.sum())
        out[str(y)] = float(cols[inhouse].sum()) / total if total > 0 else None
    return out


def ratios_vs_gpu(by_family: dict[str, dict[str, float]]) -> dict[str, YearMap]:
    """Each family's yearly value over the Nvidia GPUs' (None where the GPUs have none).

    >>> ratios_vs_gpu({"nvidia_gpu": {"2023": 200.0}, "trainium": {"2023": 1.0}})
    {'trainium': {'2023': 0.005}}
    """
    gpu = by_family.get(REFERENCE_FAMILY, {})
    out: dict[str, YearMap] = {}
    for f, years in by_family.items():
        if f == REFERENCE_FAMILY:
            continue
        out[f] = {y: (v / gpu[y] if gpu.get(y) else None) for y, v in years.items()}
    return out


def billed(grid: Grid, psm: FloatArray) -> FloatArray:
    """A (pool, segment, month) array summed over the billed (not internal) segments."""
    return np.asarray((psm * (~grid.internal)[None, :, None]).sum(axis=1))


def usage_summary(grid: Grid, use: Usage, rev: Revenue) -> UsageSummary:
    """Customers' chip-hours, spend, PFLOP and Mtok per family and year, and the in-house
    chips' share of each."""
    hours = rev.billed_h_psm.sum(axis=1)
    spend = rev.revenue_psm.sum(axis=1)
    pflop = billed(grid, use.pflop_psm)
    mtok = billed(grid, use.mtok_psm)
    return UsageSummary(
        chip_hours=_by_year(grid, hours),
        spend_usd=_by_year(grid, spend),
        pflop=_by_year(grid, pflop),
        mtok=_by_year(grid, mtok),
        inhouse_share=InhouseShareSummary(
            chip_hours=_inhouse_by_year(grid, hours),
            spend_usd=_inhouse_by_year(grid, spend),
            pflop=_inhouse_by_year(grid, pflop),
            mtok=_inhouse_by_year(grid, mtok),
        ),
    )


def inhouse_ratio_vs_gpu(grid: Grid, use: UsageSummary) -> YearMap:
    """Per year, customers' chip-hours on all in-house families over those on Nvidia GPUs."""
    inhouse = {c.family for c in grid.chips if c.inhouse}
    gpu = use.chip_hours.get(REFERENCE_FAMILY, {})
    out: YearMap = {}
    for y, g in gpu.items():
        num = sum(use.chip_hours[f][y] for f in inhouse)
        out[y] = num / g if g > 0 else None
    return out
