"""Serving per segment over the horizon: tokens, peak fleet, cost and spend per day and query."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sim.accounting.grid import Grid
from sim.accounting.summary import QuerySummary, ServingSummary
from sim.engine.records import ServingColumns
from sim.model.units import DAYS_PER_YEAR, HOURS_PER_DAY, TOKENS_PER_MTOK

FloatArray = npt.NDArray[np.float64]


def serving_summary(
    grid: Grid,
    serving: ServingColumns,
    serving_h_psm: FloatArray,
    busy_h: FloatArray,
    run_cost_usd: FloatArray,
    revenue_psm: FloatArray,
) -> dict[str, ServingSummary]:
    """Per-segment serving figures averaged over the horizon (per day, per query, fleet).

    The provider's cost of a segment's serving is each pool's running cost (capital, power,
    facility, maintenance) in proportion to the segment's share of the pool's busy
    chip-hours. The fleet capital is the largest number of chips the segment held at once,
    at each pool's catalog unit cost plus server and network share.
    """
    out: dict[str, ServingSummary] = {}
    days = grid.horizon_h / HOURS_PER_DAY
    share = np.divide(
        serving_h_psm,
        busy_h[:, None, :],
        out=np.zeros_like(serving_h_psm),
        where=busy_h[:, None, :] > 0,
    )
    unit = np.array([c.unit_cost_usd + c.server_network_usd_per_chip for c in grid.chips])
    for j, sid in enumerate(grid.segments):
        spec = grid.scenario.segments[sid].inference
        if spec is None:
            continue
        mine = serving.segment == j
        served_mtok = float(serving.mtok_served[mine].sum())
        peak_chips, capex = _peak_fleet(serving, mine, unit)
        cost = float((share[:, j, :] * run_cost_usd).sum())
        spend = float(revenue_psm[:, j, :].sum())
        queries = None
        if spec.tokens_per_query is not None:
            n = served_mtok * TOKENS_PER_MTOK / spec.tokens_per_query
            queries = QuerySummary(
                queries_per_day=n / days,
                provider_cost_per_query_usd=cost / n if n > 0 else None,
                customer_cost_per_query_usd=spend / n if n > 0 else None,
            )
        out[sid] = ServingSummary(
            mtok_served_per_day=served_mtok / days,
            peak_chips=peak_chips,
            fleet_capex_usd=capex,
            provider_cost_per_day_usd=cost / days,
            provider_cost_per_year_usd=cost / days * DAYS_PER_YEAR,
            customer_spend_per_day_usd=spend / days,
            provider_usd_per_mtok=cost / served_mtok if served_mtok > 0 else None,
            queries=queries,
        )
    return out


def _peak_fleet(
    serving: ServingColumns, mine: npt.NDArray[np.bool_], unit_usd: FloatArray
) -> tuple[float, float]:
    """(chips, catalog capex) of the first re-size at which a segment held the most chips.

    Chips per re-size time are whole numbers, so summing them with ``bincount`` is exact; the
    capex of the peak is summed over its records in record order.
    """
    start = serving.start_h[mine]
    chips = serving.chips[mine]
    if not len(start):
        return 0.0, 0.0
    times, inverse = np.unique(start, return_inverse=True)
    per_time = np.bincount(inverse, weights=chips, minlength=len(times))
    best = int(np.argmax(per_time))
    peak = float(per_time[best])
    if not peak > 0.0:
        return 0.0, 0.0
    at = start == times[best]
    pools = serving.pool[mine][at]
    return peak, float((chips[at] * unit_usd[pools]).sum())
