"""Turns the engine's records into monthly tables and the run summary (pure, vectorised).

Every money, energy and chip-hour figure is an integral over intervals the engine recorded
(job runs, serving reservations, installed cohorts and their overstays, NRE periods), split
exactly at calendar month boundaries by :func:`binned_overlap`. Conservation holds by
construction and is tested: the monthly rows sum to the totals in the summary, and
recomputing them from the rows gives the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.engine.records import EngineLog
from sim.model import economics as ec
from sim.model.schema import ChipSpec, Scenario
from sim.model.timeline import Clock, step_value
from sim.model.units import HOURS_PER_YEAR, KWH_PER_MWH, W_PER_MW

FloatArray = npt.NDArray[np.float64]
WAIT_QUANTILE = 0.95


def binned_overlap(
    start: FloatArray, end: FloatArray, weight: FloatArray, bounds: FloatArray
) -> FloatArray:
    """Sum over intervals of weight x hours of overlap with each bin [bounds[i], bounds[i+1]).

    Exact and O((n + bins) log n): F(T) = sum w (min(T, end) - min(T, start)) is evaluated at
    every bound with sorted cumulative sums, and bins are its differences. Differencing large
    cumulative sums can leave round-off of either sign in an empty bin (about 1e-11 hours);
    the true overlap is never negative, so bins are clipped at zero.

    >>> b = np.array([0.0, 10.0, 20.0])
    >>> binned_overlap(np.array([5.0]), np.array([15.0]), np.array([2.0]), b).tolist()
    [10.0, 10.0]
    >>> binned_overlap(np.array([-5.0, 18.0]), np.array([3.0, 40.0]), np.ones(2), b).tolist()
    [3.0, 2.0]
    """
    if len(start) == 0:
        return np.zeros(len(bounds) - 1)

    def capped_sum(x: FloatArray) -> FloatArray:
        order = np.argsort(x, kind="stable")
        xs = x[order]
        ws = weight[order]
        cw = np.concatenate([[0.0], np.cumsum(ws)])
        cwx = np.concatenate([[0.0], np.cumsum(ws * xs)])
        idx = np.searchsorted(xs, bounds, side="left")
        return np.asarray(cwx[idx] + bounds * (cw[-1] - cw[idx]))

    f = capped_sum(end) - capped_sum(start)
    return np.asarray(np.maximum(np.diff(f), 0.0))


def _grouped_overlap(
    groups: npt.NDArray[np.int64],
    n_groups: int,
    start: FloatArray,
    end: FloatArray,
    weight: FloatArray,
    bounds: FloatArray,
) -> FloatArray:
    """binned_overlap per group: an array of shape (n_groups, bins)."""
    out = np.zeros((n_groups, len(bounds) - 1))
    for g in np.unique(groups):
        m = groups == g
        out[g] = binned_overlap(start[m], end[m], weight[m], bounds)
    return out


@dataclass(frozen=True)
class Accounts:
    """Tables and summary of one replication."""

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]


def _static_busy_cost(chip: ChipSpec, s: Scenario, capex: float, utilization: float) -> float:
    e = s.economics
    tco = ec.tco_usd_per_chip_hour(
        chip_capex_usd=capex,
        server_network_usd=chip.server_network_usd_per_chip,
        rate_per_year=e.discount_rate_per_year,
        life_years=e.depreciation_years,
        busy_power_w=chip.busy_power_w,
        idle_power_w=chip.idle_power_w,
        utilization=utilization,
        pue=e.pue,
        electricity_usd_per_kwh=e.electricity_usd_per_kwh,
        facility_usd_per_kw_year=e.facility_usd_per_kw_year,
        maintenance_fraction_per_year=e.maintenance_fraction_per_year,
        host_power_overhead_fraction=e.host_power_overhead_fraction,
    )
    return float(ec.usd_per_busy_chip_hour(tco.total_usd, utilization))


def account(s: Scenario, log: EngineLog) -> Accounts:
    """Monthly per-pool, per-segment and program tables, and the summary, of one run."""
    clock = Clock(s.horizon.start, s.horizon.end)
    bounds = clock.month_bounds_hours
    n_m = len(bounds) - 1
    horizon_h = clock.horizon_hours
    months = [m.isoformat() for m in clock.month_starts]
    pools = log.pool_ids
    n_p = len(pools)
    segs = log.segment_ids
    n_s = len(segs)
    chips = [s.catalog.chips[p] for p in pools]
    e = s.economics
    host = 1.0 + e.host_power_overhead_fraction
    internal = np.array([s.segments[x].internal for x in segs], dtype=bool)

    # ---- jobs
    jobs = np.array(log.jobs, dtype=float).reshape(-1, 7)
    j_seg = jobs[:, 0].astype(np.int64)
    j_pool = jobs[:, 1].astype(np.int64)
    j_k = jobs[:, 2]
    j_pflop = jobs[:, 3]
    j_arr, j_start, j_end = jobs[:, 4], jobs[:, 5], jobs[:, 6]
    started = ~np.isnan(j_start)
    js = started
    dur = np.where(js, j_end - j_start, 1.0)
    grp_ps = j_pool * max(n_s, 1) + j_seg
    train_h_ps = _grouped_overlap(
        grp_ps[js], n_p * n_s, j_start[js], j_end[js], j_k[js], bounds
    ).reshape(n_p, n_s, n_m)
    pflop_ps = _grouped_overlap(
        grp_ps[js], n_p * n_s, j_start[js], j_end[js], (j_pflop / dur)[js], bounds
    ).reshape(n_p, n_s, n_m)

    # ---- serving
    srv = np.array(log.serving, dtype=float).reshape(-1, 8)
    s_seg = srv[:, 0].astype(np.int64)
    s_pool = srv[:, 1].astype(np.int64)
    s_k, s_a, s_b = srv[:, 2], srv[:, 3], srv[:, 4]
    s_dem, s_served, s_load = srv[:, 5], srv[:, 6], srv[:, 7]
    s_len = np.maximum(s_b - s_a, 1e-12)
    sgrp = s_pool * max(n_s, 1) + s_seg
    serve_h_ps = _grouped_overlap(sgrp, n_p * n_s, s_a, s_b, s_k, bounds).reshape(n_p, n_s, n_m)
    mtok_ps = _grouped_overlap(sgrp, n_p * n_s, s_a, s_b, s_served / s_len, bounds).reshape(
        n_p, n_s, n_m
    )
    mtok_dem_ps = _grouped_overlap(sgrp, n_p * n_s, s_a, s_b, s_dem / s_len, bounds).reshape(
        n_p, n_s, n_m
    )
    busy_w = np.array([c.busy_power_w for c in chips])
    idle_w = np.array([c.idle_power_w for c in chips])
    serve_power_w = (
        s_k * (idle_w[s_pool] + (busy_w[s_pool] - idle_w[s_pool]) * s_load)
        if len(srv)
        else np.zeros(0)
    )
    serve_wh = _grouped_overlap(s_pool, n_p, s_a, s_b, serve_power_w, bounds)

    # ---- cohorts
    coh = np.array(log.cohorts, dtype=float).reshape(-1, 6)
    c_pool = coh[:, 0].astype(np.int64)
    c_n, c_a, c_b, c_capex, c_bought = coh[:, 1], coh[:, 2], coh[:, 3], coh[:, 4], coh[:, 5]
    server = np.array([c.server_network_usd_per_chip for c in chips])
    annuity = float(ec.annuity_factor(e.discount_rate_per_year, e.depreciation_years))
    c_capital_rate = c_n * (c_capex + server[c_pool]) * annuity / HOURS_PER_YEAR
    c_maint_rate = (
        c_n * (c_capex + server[c_pool]) * e.maintenance_fraction_per_year / HOURS_PER_YEAR
    )
    # chips busy at their retirement date stay installed until their work ends
    ovs = np.array(log.overstays, dtype=float).reshape(-1, 4)
    o_pool, o_n, o_a, o_b = ovs[:, 0].astype(np.int64), ovs[:, 1], ovs[:, 2], ovs[:, 3]
    installed_h = _grouped_overlap(c_pool, n_p, c_a, c_b, c_n, bounds) + _grouped_overlap(
        o_pool, n_p, o_a, o_b, o_n, bounds
    )
    capital = _grouped_overlap(c_pool, n_p, c_a, c_b, c_capital_rate, bounds)
    maintenance = _grouped_overlap(c_pool, n_p, c_a, c_b, c_maint_rate, bounds)
    facility = (
        installed_h
        * (busy_w * host / 1000.0 * e.facility_usd_per_kw_year / HOURS_PER_YEAR)[:, None]
    )
    # installed at each month end
    installed_end = np.zeros((n_p, n_m))
    for i in range(len(coh)):
        live = (c_a[i] < bounds[1:]) & (c_b[i] >= bounds[1:])
        installed_end[c_pool[i]] += live * c_n[i]
    for i in range(len(ovs)):
        live = (o_a[i] < bounds[1:]) & (o_b[i] >= bounds[1:])
        installed_end[o_pool[i]] += live * o_n[i]

    # purchases (cash) within the horizon
    c_month = np.clip(np.searchsorted(bounds, c_a, side="right") - 1, 0, n_m - 1)
    spend_cash = np.zeros((n_p, n_m))
    delivered = np.zeros((n_p, n_m))
    bought = c_bought > 0
    np.add.at(spend_cash, (c_pool[bought], c_month[bought]), (c_n * c_capex)[bought])
    np.add.at(delivered, (c_pool[bought], c_month[bought]), c_n[bought])

    # ---- energy and power cost
    train_h = train_h_ps.sum(axis=1)
    serve_h = serve_h_ps.sum(axis=1)
    busy_h = train_h + serve_h
    idle_h = np.maximum(installed_h - busy_h, 0.0)
    energy_mwh = (
        (train_h * busy_w[:, None] + serve_wh + idle_h * idle_w[:, None]) * host * e.pue / W_PER_MW
    )
    power = energy_mwh * KWH_PER_MWH * e.electricity_usd_per_kwh

    # ---- in-house NRE per generation (chip rows) and program costs
    nre = np.zeros((n_p, n_m))
    prog = s.provider.inhouse_program
    program_nre = np.zeros(n_m)
    program_fixed = np.zeros(n_m)
    program_acq = np.zeros(n_m)
    generation_nre_total = 0.0
    if prog is not None:
        for gid, gen in prog.generations.items():
            a = clock.hours(gen.nre_start)
            b = clock.hours(s.catalog.chips[gid].launch_date)
            rate = gen.nre_usd / max(b - a, 1e-9) if b > a else 0.0
            row = binned_overlap(np.array([a]), np.array([b]), np.array([rate]), bounds)
            if b <= a:
                row[min(max(clock.month_index(a), 0), n_m - 1)] += gen.nre_usd
            else:
                # spent before the horizon is booked in its first month; spending after
                # the horizon end falls outside this run
                row[0] += rate * max(0.0, min(b, 0.0) - a)
            generation_nre_total += float(row.sum())
            program_nre += row
            if gid in pools:
                nre[pools.index(gid)] += row
        if prog.acquisition_usd > 0:
            at = clock.hours(prog.acquisition_date) if prog.acquisition_date else 0.0
            if at < horizon_h:
                program_acq[clock.month_index(max(at, 0.0))] += prog.acquisition_usd
        program_fixed = (np.diff(bounds) * prog.fixed_usd_per_year / HOURS_PER_YEAR).astype(float)

    # ---- revenue
    pr = s.provider.pricing
    price = np.zeros((n_p, n_m))
    for i, pid in enumerate(pools):
        spec = s.provider.pools[pid]
        for m, d in enumerate(clock.month_starts):
            mult = step_value(spec.price_changes, max(d, s.horizon.start), 1.0)
            price[i, m] = float(
                ec.customer_usd_per_chip_hour(
                    chips[i].cloud_price_usd_per_chip_hour * mult,
                    pr.committed_fraction,
                    pr.committed_discount_fraction,
                )
            )
    billed_ps = (train_h_ps + serve_h_ps) * (~internal)[None, :, None]
    revenue_ps = billed_ps * price[:, None, :]
    revenue = revenue_ps.sum(axis=1)

    # ---- vendors: money paid, margin, margin avoided
    vendor_of = [c.vendor for c in chips]
    nvidia_spend = np.zeros((n_p, n_m))
    nvidia_margin = np.zeros((n_p, n_m))
    margin_avoided = np.zeros((n_p, n_m))
    nv = s.vendors.get("nvidia")
    ref_id = prog.reference_gpu if prog is not None else None
    ref = s.catalog.chips[ref_id] if ref_id else None
    for i, c in enumerate(chips):
        if vendor_of[i] == "nvidia":
            nvidia_spend[i] = spend_cash[i]
            nvidia_margin[i] = spend_cash[i] * (nv.gross_margin_fraction if nv else 0.0)
        elif c.inhouse and ref is not None and nv is not None:
            equiv = _equivalent_ref_chips(c, ref)
            for m, d in enumerate(clock.month_starts):
                mult = step_value(nv.street_price_multiplier, max(d, s.horizon.start), 1.0)
                margin_avoided[i, m] = (
                    delivered[i, m] * equiv * ref.unit_cost_usd * mult * nv.gross_margin_fraction
                )

    # ---- queue statistics by start month
    warm_h = s.horizon.warmup_days * 24.0
    wait = j_start - j_arr
    jobs_started = np.zeros((n_p, n_m))
    wait_sum = np.zeros((n_p, n_m))
    if started.any():
        sm = np.clip(np.searchsorted(bounds, j_start[js], side="right") - 1, 0, n_m - 1)
        np.add.at(jobs_started, (j_pool[js], sm), 1.0)
        np.add.at(wait_sum, (j_pool[js], sm), wait[js])

    tco = capital + power + facility + maintenance + nre
    pflop = pflop_ps.sum(axis=1)
    mtok = mtok_ps.sum(axis=1)

    # ---- monthly pool table
    rows: dict[str, Any] = {
        "month": np.repeat(np.array(months, dtype=object), n_p),
        "pool": np.tile(np.array(pools, dtype=object), n_m),
        "family": np.tile(np.array([c.family for c in chips], dtype=object), n_m),
        "vendor": np.tile(np.array(vendor_of, dtype=object), n_m),
    }

    def col(a: FloatArray) -> FloatArray:
        return np.asarray(a.T.reshape(-1), dtype=float)

    util = np.divide(busy_h, installed_h, out=np.zeros_like(busy_h), where=installed_h > 0)
    mean_wait = np.divide(
        wait_sum, jobs_started, out=np.zeros_like(wait_sum), where=jobs_started > 0
    )
    for name, arr in (
        ("installed_chips", installed_end),
        ("chips_delivered", delivered),
        ("installed_chip_hours", installed_h),
        ("busy_chip_hours", busy_h),
        ("training_chip_hours", train_h),
        ("serving_chip_hours", serve_h),
        ("utilization", np.minimum(util, 1.0)),
        ("pflop_delivered", pflop),
        ("mtok_delivered", mtok),
        ("mtok_demanded", mtok_dem_ps.sum(axis=1)),
        ("energy_mwh", energy_mwh),
        ("capital_usd", capital),
        ("power_usd", power),
        ("facility_usd", facility),
        ("maintenance_usd", maintenance),
        ("nre_usd", nre),
        ("tco_usd", tco),
        ("price_usd_per_chip_hour", price),
        ("revenue_usd", revenue),
        ("capex_cash_usd", spend_cash),
        ("nvidia_spend_usd", nvidia_spend),
        ("nvidia_margin_usd", nvidia_margin),
        ("nvidia_margin_avoided_usd", margin_avoided),
        ("jobs_started", jobs_started),
        ("mean_wait_hours", mean_wait),
    ):
        rows[name] = col(arr)
    timeseries = pd.DataFrame(rows)

    # ---- monthly segment table
    seg_rows: dict[str, Any] = {
        "month": np.repeat(np.array(months, dtype=object), n_p * n_s),
        "segment": np.tile(np.repeat(np.array(segs, dtype=object), n_p), n_m),
        "pool": np.tile(np.array(pools, dtype=object), n_m * n_s),
        "family": np.tile(np.array([c.family for c in chips], dtype=object), n_m * n_s),
    }

    def scol(a: FloatArray) -> FloatArray:
        # (pool, seg, month) -> rows ordered month, seg, pool
        return np.asarray(a.transpose(2, 1, 0).reshape(-1), dtype=float)

    seg_rows["training_chip_hours"] = scol(train_h_ps)
    seg_rows["serving_chip_hours"] = scol(serve_h_ps)
    seg_rows["pflop_delivered"] = scol(pflop_ps)
    seg_rows["mtok_delivered"] = scol(mtok_ps)
    seg_rows["spend_usd"] = scol(revenue_ps)
    segments_df = pd.DataFrame(seg_rows)

    # ---- in-house program P&L
    program_df, program_summary = _program(
        s,
        clock,
        chips,
        pools,
        pflop,
        mtok,
        capital + power + facility + maintenance,
        program_nre + program_acq + program_fixed,
        months,
    )

    # ---- adoption and maturity
    adoption_df = pd.DataFrame(
        [(months[m], segs[sg], wl, pools[p], v) for (m, sg, wl, p, v) in log.shares],
        columns=["month", "segment", "workload", "pool", "share"],
    )
    maturity_df = pd.DataFrame(
        [(months[m], st, mv, ef) for (m, st, mv, ef) in log.maturity],
        columns=["month", "stack", "maturity", "software_efficiency"],
    )
    ports_df = pd.DataFrame(
        [
            (
                segs[sg],
                c,
                wl,
                st,
                clock.date(a).isoformat(),
                clock.date(min(b, horizon_h)).isoformat(),
                cost,
                ok,
                b <= horizon_h,
            )
            for (sg, c, wl, st, a, b, cost, ok) in log.ports
        ],
        columns=[
            "segment",
            "customer",
            "workload",
            "stack",
            "start",
            "end",
            "cost_usd",
            "success",
            "completed_in_horizon",
        ],
    )

    tables: dict[str, pd.DataFrame] = {
        "timeseries": timeseries,
        "segments": segments_df,
        "program": program_df,
        "adoption": adoption_df,
        "maturity": maturity_df,
        "ports": ports_df,
    }
    if s.outputs.jobs_table:
        tables["jobs"] = pd.DataFrame(
            {
                "segment": np.array(segs, dtype=object)[j_seg] if len(jobs) else [],
                "pool": np.array(pools, dtype=object)[j_pool] if len(jobs) else [],
                "chips": j_k.astype(np.int64),
                "pflop": j_pflop,
                "arrival_hours": j_arr,
                "start_hours": j_start,
                "end_hours": j_end,
                "wait_hours": wait,
            }
        )

    # ---- summary
    years = sorted({d.year for d in clock.month_starts})
    month_year = np.array([d.year for d in clock.month_starts])
    cust_busy = ((train_h_ps + serve_h_ps) * (~internal)[None, :, None]).sum(axis=1)  # (p, m)
    fam = np.array([c.family for c in chips])
    usage: dict[str, dict[str, float | None]] = {}
    for f in sorted(set(fam) - {"nvidia_gpu"}):
        usage[f] = {}
        for y in years:
            ym = month_year == y
            gpu = float(cust_busy[fam == "nvidia_gpu"][:, ym].sum())
            val = float(cust_busy[fam == f][:, ym].sum())
            usage[f][str(y)] = val / gpu if gpu > 0 else None

    queue: dict[str, dict[str, float | int | None]] = {}
    post = bounds[:-1] >= warm_h
    for i, pid in enumerate(pools):
        sel = (j_pool == i) & started & (j_arr >= warm_h)
        w = wait[sel]
        inst = float(installed_h[i, post].sum())
        queue[pid] = {
            "jobs": int(sel.sum()),
            "unstarted_jobs": int(((j_pool == i) & ~started).sum()),
            "mean_wait_hours": float(w.mean()) if w.size else None,
            "p95_wait_hours": float(np.quantile(w, WAIT_QUANTILE)) if w.size else None,
            "utilization": float(busy_h[i, post].sum() / inst) if inst > 0 else None,
        }

    total_tco = float(tco.sum() + program_acq.sum() + program_fixed.sum())
    total_rev = float(revenue.sum())
    cost_pflop: dict[str, float | None] = {}
    cost_mtok: dict[str, float | None] = {}
    for i, pid in enumerate(pools):
        b = float(busy_h[i].sum())
        run_cost = float((capital + power + facility + maintenance)[i].sum())
        tr_share = float(train_h[i].sum()) / b if b > 0 else 0.0
        pf = float(pflop[i].sum())
        mt = float(mtok[i].sum())
        cost_pflop[pid] = run_cost * tr_share / pf if pf > 0 else None
        cost_mtok[pid] = run_cost * (1.0 - tr_share) / mt if mt > 0 else None

    serving = _serving_summary(
        s,
        segs,
        chips,
        srv,
        serve_h_ps,
        busy_h,
        capital + power + facility + maintenance,
        revenue_ps,
        horizon_h,
    )
    ports_cost = float(sum(p[6] for p in log.ports))
    summary: dict[str, Any] = {
        "scenario": s.name,
        "horizon": {"start": s.horizon.start.isoformat(), "end": s.horizon.end.isoformat()},
        "usage_ratio_vs_gpu": usage,
        "queue": queue,
        "provider": {
            "tco_usd": total_tco,
            "revenue_usd": total_rev,
            "margin_usd": total_rev - total_tco,
            "nvidia_spend_usd": float(nvidia_spend.sum()),
            "nvidia_margin_usd": float(nvidia_margin.sum()),
            "nvidia_margin_avoided_usd": float(margin_avoided.sum()),
            "capex_cash_usd": float(spend_cash.sum()),
            "energy_mwh": float(energy_mwh.sum()),
            "busy_chip_hours": float(busy_h.sum()),
            "installed_chip_hours": float(installed_h.sum()),
            "tco_breakdown_usd": {
                "capital": float(capital.sum()),
                "power": float(power.sum()),
                "facility": float(facility.sum()),
                "maintenance": float(maintenance.sum()),
                "nre": float(nre.sum()),
                "program_acquisition": float(program_acq.sum()),
                "program_fixed": float(program_fixed.sum()),
            },
        },
        "inhouse_program": program_summary,
        "cost_per_pflop_usd": cost_pflop,
        "cost_per_mtok_usd": cost_mtok,
        "customers": {
            "spend_usd": total_rev,
            "porting_spend_usd": ports_cost,
            "ports_started": len(log.ports),
            "ports_failed": int(sum(1 for p in log.ports if not p[7])),
            "bypassed_jobs": len(log.bypassed),
            "bypassed_pflop": float(sum(b[3] for b in log.bypassed)),
            "mtok_demanded": float(s_dem.sum()),
            "mtok_served": float(s_served.sum()),
        },
        "serving": serving,
        "engine": {"events": int(log.events), "simulated_jobs": len(jobs)},
    }
    return Accounts(summary=summary, tables=tables)


def _serving_summary(
    s: Scenario,
    segs: list[str],
    chips: list[ChipSpec],
    srv: FloatArray,
    serve_h_ps: FloatArray,
    busy_h: FloatArray,
    run_cost: FloatArray,
    revenue_ps: FloatArray,
    horizon_h: float,
) -> dict[str, dict[str, float | None]]:
    """Per-segment serving figures averaged over the horizon (per day, per query, fleet).

    The provider's cost of a segment's serving is each pool's running cost (capital, power,
    facility, maintenance) in proportion to the segment's share of the pool's busy
    chip-hours. The fleet capital is the largest number of chips the segment held at once,
    at each pool's catalog unit cost plus server and network share.
    """
    out: dict[str, dict[str, float | None]] = {}
    days = horizon_h / 24.0
    share = np.divide(
        serve_h_ps,
        busy_h[:, None, :],
        out=np.zeros_like(serve_h_ps),
        where=busy_h[:, None, :] > 0,
    )
    unit = np.array([c.unit_cost_usd + c.server_network_usd_per_chip for c in chips])
    for j, sid in enumerate(segs):
        spec = s.segments[sid].inference
        if spec is None:
            continue
        rows = srv[srv[:, 0] == j]
        served_mtok = float(rows[:, 6].sum())
        peak_chips = 0.0
        capex = 0.0
        for t in np.unique(rows[:, 3]):
            at = rows[rows[:, 3] == t]
            n = float(at[:, 2].sum())
            if n > peak_chips:
                peak_chips = n
                capex = float((at[:, 2] * unit[at[:, 1].astype(np.int64)]).sum())
        cost = float((share[:, j, :] * run_cost).sum())
        spend = float(revenue_ps[:, j, :].sum())
        entry: dict[str, float | None] = {
            "mtok_served_per_day": served_mtok / days,
            "peak_chips": peak_chips,
            "fleet_capex_usd": capex,
            "provider_cost_per_day_usd": cost / days,
            "provider_cost_per_year_usd": cost / days * 365.0,
            "customer_spend_per_day_usd": spend / days,
            "provider_usd_per_mtok": cost / served_mtok if served_mtok > 0 else None,
        }
        if spec.tokens_per_query is not None:
            queries = served_mtok * 1e6 / spec.tokens_per_query
            entry["queries_per_day"] = queries / days
            entry["provider_cost_per_query_usd"] = cost / queries if queries > 0 else None
            entry["customer_cost_per_query_usd"] = spend / queries if queries > 0 else None
        out[sid] = entry
    return out


def _equivalent_ref_chips(chip: ChipSpec, ref: ChipSpec) -> float:
    """Reference GPUs one chip replaces, by training speed (or inference throughput)."""
    if "training" in chip.workloads:
        return float(
            ec.equivalent_chips(
                chip.training_tflops * chip.training_mfu, ref.training_tflops * ref.training_mfu
            )
        )
    return float(ec.equivalent_chips(chip.inference_tokens_per_s, ref.inference_tokens_per_s))


def _program(
    s: Scenario,
    clock: Clock,
    chips: list[ChipSpec],
    pools: list[str],
    pflop: FloatArray,
    mtok: FloatArray,
    run_cost: FloatArray,
    program_cost: FloatArray,
    months: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Savings of in-house chips against the reference GPU, net of NRE; break-even and NPV.

    Savings in a month = the cost of the in-house pools' delivered work at the reference GPU's
    cost per unit (its static TCO per busy chip-hour at the procurement target utilisation,
    at that month's street price) minus what the in-house pools actually cost to run.
    """
    n_m = len(months)
    prog = s.provider.inhouse_program
    empty = {
        "nre_usd": 0.0,
        "savings_usd": 0.0,
        "breakeven_date": None,
        "npv_usd": 0.0,
    }
    if prog is None:
        return pd.DataFrame({"month": months}), empty
    ref = s.catalog.chips[prog.reference_gpu]
    nv = s.vendors.get(ref.vendor)
    util = s.provider.procurement.target_utilization
    ref_cost_pflop = np.zeros(n_m)
    ref_cost_mtok = np.zeros(n_m)
    for m, d in enumerate(clock.month_starts):
        mult = step_value(nv.street_price_multiplier, max(d, s.horizon.start), 1.0) if nv else 1.0
        per_hour = _static_busy_cost(ref, s, ref.unit_cost_usd * mult, util)
        ref_cost_pflop[m] = float(
            ec.usd_per_pflop(per_hour, ref.training_tflops, ref.training_mfu, 1.0)
        )
        ref_cost_mtok[m] = float(ec.usd_per_mtok(per_hour, ref.inference_tokens_per_s, 1.0))
    inhouse = np.array([c.inhouse for c in chips], dtype=bool)
    avoided = (pflop[inhouse].sum(axis=0) * ref_cost_pflop) + (
        mtok[inhouse].sum(axis=0) * ref_cost_mtok
    )
    own = run_cost[inhouse].sum(axis=0)
    savings = avoided - own
    net = savings - program_cost
    cum = np.cumsum(net)
    idx = ec.breakeven_index(cum)
    t_years = (clock.month_bounds_hours[:-1] + np.diff(clock.month_bounds_hours)) / HOURS_PER_YEAR
    npv = float(ec.npv_usd(net, t_years, s.economics.discount_rate_per_year))
    df = pd.DataFrame(
        {
            "month": months,
            "program_cost_usd": program_cost,
            "reference_cost_of_work_usd": avoided,
            "inhouse_run_cost_usd": own,
            "savings_usd": savings,
            "net_usd": net,
            "cumulative_program_cost_usd": np.cumsum(program_cost),
            "cumulative_savings_usd": np.cumsum(savings),
            "cumulative_net_usd": cum,
        }
    )
    summary = {
        "nre_usd": float(program_cost.sum()),
        "savings_usd": float(savings.sum()),
        "breakeven_date": months[idx] if idx is not None and not math.isnan(cum[-1]) else None,
        "npv_usd": npv,
        "reference_gpu": prog.reference_gpu,
    }
    del pools
    return df, summary
