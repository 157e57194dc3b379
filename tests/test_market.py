"""A market that moves: pricing policies, product lifecycles, customers who do not wait,
and energy that follows load (issue 14). Expected values are computed by hand from the
factory figures (tests/factories.py) or recomputed from a run's own records."""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.accounting.ledger import account
from sim.accounting.runner import run_one
from sim.engine.core import Engine, simulate
from sim.engine.state import QueuedJob
from sim.errors import ScenarioError
from sim.model import economics as ec
from sim.model.pricing import (
    PRICING_POLICIES,
    capex_usd_per_chip,
    pricing_policy,
    useful_work_ratio,
)
from sim.model.schema import Scenario
from sim.model.timeline import Clock
from sim.model.units import HOURS_PER_DAY, W_PER_MW
from sim.scenario import load_scenario, substitute
from tests.factories import CHIP, build, mmc_dict

ROOT = Path(__file__).resolve().parents[1]
REDUCED = os.environ.get("XPUSIM_REDUCED") == "1"
#: The baseline run of these tests ends here when reduced: past every end of sale the
#: baseline meets (A10G 2025-06, H100 and Inferentia2 2025-12, H200 2026-06, Trainium2 2026-12).
REDUCED_END = dt.date(2027, 4, 1)
DAY = dt.date(2024, 6, 1)


# --------------------------------------------------------------------------- pricing


def _priced(**pricing: Any) -> dict[str, Any]:
    d = mmc_dict(arrival_rate_per_hour=1.0, service_rate_per_hour=1.0, chips=4)
    d["provider"]["pricing"] = {
        "committed_fraction": 0.5,
        "committed_discount_fraction": 0.4,
        **pricing,
    }
    return d


def _busy_cost(s: Scenario, chip_id: str, capex: float) -> float:
    util = s.provider.procurement.target_utilization
    return float(ec.chip_usd_per_busy_hour(s.catalog.chips[chip_id], s.economics, capex, util))


def test_list_policy_follows_the_public_schedule_and_blends_spot_hours() -> None:
    d = _priced(spot_fraction=0.2, spot_discount_fraction=0.5)
    d["catalog"]["chips"]["gpu"]["cloud_price_changes"] = [
        {"start": dt.date(2025, 6, 1), "usd_per_chip_hour": 2.0}
    ]
    s = build(d)
    policy = pricing_policy(s)
    blend = 1.0 - 0.5 * 0.4 - 0.2 * 0.5
    assert policy.usd_per_chip_hour(s, "gpu", dt.date(2025, 5, 31)) == pytest.approx(4.0 * blend)
    assert policy.usd_per_chip_hour(s, "gpu", dt.date(2025, 6, 1)) == pytest.approx(2.0 * blend)


def test_cost_plus_is_the_busy_hour_cost_over_one_minus_the_margin() -> None:
    s = build(_priced(policy="cost_plus", cost_plus={"margin_fraction": 0.4}))
    price = pricing_policy(s).usd_per_chip_hour(s, "gpu", DAY, 30_000.0)
    assert price == pytest.approx(_busy_cost(s, "gpu", 30_000.0) / 0.6, rel=1e-12)
    # without a run's capex the policy prices the chip as bought that day
    assert pricing_policy(s).usd_per_chip_hour(s, "gpu", DAY) == pytest.approx(price)


def test_nvidia_price_margin_and_electricity_reach_the_cost_plus_price() -> None:
    d = _priced(policy="cost_plus", cost_plus={"margin_fraction": 0.4})
    d["vendors"] = {
        "nvidia": {
            "gross_margin_fraction": 0.727,
            "list_price_margin_fraction": 0.727,
            "lead_time_weeks": 0.0,
        }
    }
    s = build(d)
    base = pricing_policy(s).usd_per_chip_hour(s, "gpu", DAY)
    street = copy.deepcopy(d)
    street["vendors"]["nvidia"]["street_price_multiplier"] = [
        {"start": dt.date(2022, 1, 1), "value": 1.5}
    ]
    s_street = build(street)
    assert capex_usd_per_chip(s_street, "gpu", DAY, 0.0) == pytest.approx(1.5 * 30_000.0)
    assert pricing_policy(s_street).usd_per_chip_hour(s_street, "gpu", DAY) == pytest.approx(
        _busy_cost(s, "gpu", 45_000.0) / 0.6
    )
    margin = build(d, vendors__nvidia__gross_margin_fraction=0.827)
    factor = (1 - 0.727) / (1 - 0.827)
    assert capex_usd_per_chip(margin, "gpu", DAY, 0.0) == pytest.approx(30_000.0 * factor)
    assert pricing_policy(margin).usd_per_chip_hour(margin, "gpu", DAY) > base
    power = build(d, economics__electricity_usd_per_kwh=0.24)
    extra_kwh = (0.8 * 700 + 0.2 * 100) * 1.5 / 1000 * 1.2 / 0.8  # per busy hour, PUE 1.2
    assert pricing_policy(power).usd_per_chip_hour(power, "gpu", DAY) - base == pytest.approx(
        extra_kwh * 0.16 / 0.6
    )


def test_competitive_prices_useful_work_against_the_reference_gpu() -> None:
    d = _priced(
        policy="competitive",
        cost_plus={"margin_fraction": 0.4},
        competitive={"reference_gpu": "gpu", "inhouse_discount_fraction": 0.25},
    )
    d["catalog"]["chips"]["trn"] = {
        **CHIP,
        "vendor": "aws",
        "family": "trainium",
        "peak_bf16_tflops": 2000.0,
        "unit_cost_usd": 1.0,
    }
    d["provider"]["pools"]["trn"] = {}
    s = build(d)
    chips = s.catalog.chips
    assert useful_work_ratio(chips["trn"], chips["gpu"]) == 2.0
    ref = _busy_cost(s, "gpu", 30_000.0) / 0.6
    policy = pricing_policy(s)
    assert policy.usd_per_chip_hour(s, "gpu", DAY) == pytest.approx(ref)
    # the in-house chip's own cost (its unit cost is $1) does not enter its price
    assert policy.usd_per_chip_hour(s, "trn", DAY) == pytest.approx(ref * 2.0 * 0.75)


def test_a_competitive_policy_without_a_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="reference GPU"):
        build(_priced(policy="competitive"))


def test_every_policy_multiplies_the_pools_price_changes() -> None:
    d = _priced(cost_plus={"margin_fraction": 0.4}, competitive={"reference_gpu": "gpu"})
    d["provider"]["pools"]["gpu"]["price_changes"] = [{"start": dt.date(2024, 1, 1), "value": 0.5}]
    plain = _priced(cost_plus={"margin_fraction": 0.4}, competitive={"reference_gpu": "gpu"})
    for name in PRICING_POLICIES:
        halved = build(d, provider__pricing__policy=name)
        full = build(plain, provider__pricing__policy=name)
        got = PRICING_POLICIES[name].usd_per_chip_hour(halved, "gpu", DAY)
        assert got == pytest.approx(
            0.5 * PRICING_POLICIES[name].usd_per_chip_hour(full, "gpu", DAY)
        )


# --------------------------------------------------------------------------- lifecycles


def _succession(*, old_procure: bool = True) -> dict[str, Any]:
    """An old chip off sale from 2025-01-01 whose successor launched mid-2024; all the demand
    is the old chip's and grows, so only the successor can take the growth."""
    d = mmc_dict(arrival_rate_per_hour=2.0, service_rate_per_hour=0.5, chips=8, years=3)
    d["horizon"]["start"] = dt.date(2024, 1, 1)
    old = {**CHIP, "end_of_sale_date": dt.date(2025, 1, 1), "successor": "new"}
    new = {**CHIP, "launch_date": dt.date(2024, 6, 1), "peak_bf16_tflops": 2000.0}
    d["catalog"]["chips"] = {"old": old, "new": new}
    d["provider"]["pools"] = {
        "old": {"initial_chips": 8, "procure": old_procure},
        "new": {"procure": True},
    }
    d["provider"]["procurement"] = {"policy": "forecast", "review_interval_days": 30}
    d["vendors"] = {"nvidia": {"gross_margin_fraction": 0.7, "lead_time_weeks": 4.0}}
    d["segments"]["all"]["training"]["growth_per_year"] = 1.0
    d["segments"]["all"]["platforms"] = {"training": {"old": 1.0}}
    return d


def test_a_chip_off_sale_is_no_longer_bought_and_its_demand_moves_to_the_successor() -> None:
    s = build(_succession())
    log = simulate(s, 5)
    eos_h = Clock(s.horizon.start, s.horizon.end).hours(dt.date(2025, 1, 1))
    old, new = log.pool_ids.index("old"), log.pool_ids.index("new")
    bought = [c for c in log.cohorts if c.bought_in_horizon]
    assert any(c.pool == old and c.start_h < eos_h for c in bought), "bought while on sale"
    assert not [c for c in bought if c.pool == old and c.start_h >= eos_h]
    # no segment chose the successor: it is bought for the old chip's demand, and used
    assert sum(c.chips for c in bought if c.pool == new) > 0
    jobs = log.jobs.columns()
    assert (jobs.pool == new).sum() > 0


def test_a_planned_delivery_after_end_of_sale_is_a_located_error() -> None:
    base = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    late = [{"date": dt.date(2023, 8, 1), "chips": 4000}, {"date": dt.date(2026, 1, 5), "chips": 1}]
    with pytest.raises(ScenarioError) as err:
        substitute(base, {"provider.pools.h100.deliveries": late})
    text = str(err.value)
    assert "provider.pools.h100.deliveries.1.date" in text
    assert "end of sale 2025-12-31" in text and "successor is h200" in text


def test_a_planned_delivery_before_general_availability_is_refused() -> None:
    base = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    with pytest.raises(ScenarioError, match="before trainium3's general availability"):
        substitute(
            base,
            {"provider.pools.trainium3.deliveries": [{"date": dt.date(2025, 1, 1), "chips": 1}]},
        )


@pytest.mark.parametrize(
    ("chip", "message"),
    [
        ({"successor": "nowhere"}, "unknown successor"),
        ({"end_of_sale_date": dt.date(2019, 1, 1)}, "not after launch_date"),
    ],
)
def test_lifecycle_fields_are_checked(chip: dict[str, Any], message: str) -> None:
    d = mmc_dict(arrival_rate_per_hour=1.0, service_rate_per_hour=1.0, chips=1)
    d["catalog"]["chips"]["gpu"].update(chip)
    with pytest.raises(ValueError, match=message):
        build(d)


# --------------------------------------------------------------------------- patience


def _impatient(days: float, other_cloud: float, *, spare_pool: bool = False) -> Scenario:
    """An overloaded pool (arrivals at 1.5x its capacity), and optionally a large idle one
    the segment also runs on."""
    d = mmc_dict(arrival_rate_per_hour=1.5, service_rate_per_hour=1.0, chips=1, years=1)
    d["segments"]["all"]["training"]["patience"] = {
        "days": days,
        "other_cloud_fraction": other_cloud,
    }
    d["outputs"] = {"jobs_table": True}
    if spare_pool:
        d["catalog"]["chips"]["spare"] = dict(CHIP)
        d["provider"]["pools"]["spare"] = {"initial_chips": 100}
        d["segments"]["all"]["platforms"] = {"training": {"gpu": 0.5, "spare": 0.5}}
    return build(d)


def test_no_started_job_waits_longer_than_its_patience_and_the_rest_are_lost() -> None:
    s = _impatient(1.0, 0.25)
    acc = run_one(s, 11)
    jobs = acc.tables["jobs"].dropna(subset=["start_hours"])
    waits = jobs.start_hours - jobs.arrival_hours
    assert waits.max() <= 24.0 + 1e-9
    lost = acc.summary["lost_demand"]["all"]
    n = lost["balked_jobs"] + lost["reneged_jobs"]
    assert n > 0 and lost["reneged_jobs"] > 0 and lost["balked_jobs"] > 0
    # the other-cloud split is kept by a credit: floor(n x 0.25) of them, exactly
    assert lost["other_cloud_jobs"] == math.floor(n * 0.25 + 1e-9)
    assert lost["other_cloud_jobs"] + lost["abandoned_jobs"] == n
    # revenue lost at the month's price: chip-hours x the pool's list price (no discounts)
    assert lost["revenue_lost_usd"] == pytest.approx(lost["lost_pflop"] / 1800.0 * 4.0, rel=1e-9)
    assert acc.summary["customers"]["revenue_lost_usd"] == pytest.approx(lost["revenue_lost_usd"])


def test_an_impatient_job_moves_to_another_pool_its_segment_runs_with_room() -> None:
    s = _impatient(0.5, 1.0, spare_pool=True)
    acc = run_one(s, 11)
    lost = acc.summary["lost_demand"]["all"]
    assert lost["redirected_jobs"] > 0
    assert lost["balked_jobs"] + lost["reneged_jobs"] == 0


def test_without_patience_nobody_leaves() -> None:
    d = mmc_dict(arrival_rate_per_hour=0.9, service_rate_per_hour=1.0, chips=1, years=1)
    acc = run_one(build(d), 3)
    assert acc.summary["customers"]["lost_jobs"] == 0
    assert acc.summary["customers"]["redirected_jobs"] == 0


def _engine(s: Scenario) -> Engine:
    engine = Engine(s, 1)
    engine.decisions.update_maturity()
    return engine


def test_expected_wait_is_the_fluid_estimate_of_work_ahead() -> None:
    s = _impatient(1.0, 0.0)
    engine = _engine(s)
    pool = engine.world.pools[0]
    pool.installed, pool.training_busy, pool.reserved = 10, 8, 0
    pool.mean_job_hours = 6.0
    rate = pool.pflop_per_chip_hour
    pool.queued_pflop = 20 * rate  # 20 chip-hours queued
    # 4 chips needed, 2 free: 2 chips to free x 3 h, plus 20 chip-hours, over 10 chips
    assert engine.training.expected_wait_hours(pool, 4) == pytest.approx((20 + 2 * 3.0) / 10)
    assert engine.training.expected_wait_hours(pool, 11) == math.inf


def test_procurement_forecast_counts_the_work_lost_to_impatience() -> None:
    engine = _engine(_impatient(1.0, 0.0))
    supply = engine.supply
    pool = engine.world.pools[0]
    hist: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
    assert supply._forecast_chips(pool, 100.0, hist) == 0.0
    # 300 chip-hours lost over the window (200 h, since the first review) are 1.5 chips
    pool.lost_chip_hours = 300.0
    pool.queue.append(QueuedJob(0, 2, 1.0, 90.0, 1))
    assert supply._forecast_chips(pool, 200.0, hist) == pytest.approx(1.5 + 2.0)


# --------------------------------------------------------------------------- the baseline


@cache
def _baseline_run() -> tuple[Scenario, Any, Any]:
    loaded = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    values: dict[str, Any] = {"outputs.jobs_table": True}
    if REDUCED:
        values["horizon.end"] = REDUCED_END
    s = substitute(loaded, values).scenario
    log = simulate(s, 20240529)
    return s, log, account(s, log)


def test_the_baseline_buys_no_chip_after_its_end_of_sale() -> None:
    s, log, acc = _baseline_run()
    ts = acc.tables["timeseries"]
    for pid in s.provider.pools:
        eos = s.catalog.chips[pid].end_of_sale_date
        if eos is None:
            continue
        after = ts[(ts.pool == pid) & (pd.to_datetime(ts.month).dt.date >= eos)]
        assert float(after.chips_delivered.sum()) == 0.0, pid
    # exactly: no cohort bought in the horizon starts on or after its chip's end of sale
    clock = Clock(s.horizon.start, s.horizon.end)
    for c in log.cohorts:
        eos = s.catalog.chips[log.pool_ids[c.pool]].end_of_sale_date
        if c.bought_in_horizon and eos is not None:
            assert c.start_h < clock.hours(eos), log.pool_ids[c.pool]


def test_no_baseline_pool_keeps_customers_waiting_past_their_patience() -> None:
    s, _, acc = _baseline_run()
    jobs = acc.tables["jobs"].dropna(subset=["start_hours"])
    jobs = jobs.assign(wait=jobs.start_hours - jobs.arrival_hours)
    patience_h = {
        sid: seg.training.patience.days * HOURS_PER_DAY
        for sid, seg in s.segments.items()
        if seg.training is not None and seg.training.patience is not None
    }
    assert set(patience_h) == {sid for sid, seg in s.segments.items() if seg.training}
    by = jobs.groupby(["segment", "pool"]).wait
    assert (
        by.max().reset_index().apply(lambda r: r.wait <= patience_h[r.segment] + 1e-6, axis=1)
    ).all()
    for pid, q in acc.summary["queue"].items():
        if q["mean_wait_hours"] is not None:
            assert q["mean_wait_hours"] <= max(patience_h.values()), pid


def test_energy_follows_load_while_reserved_serving_chips_count_as_busy() -> None:
    s, _, acc = _baseline_run()
    ts = acc.tables["timeseries"]
    chips = s.catalog.chips
    busy_w = ts.pool.map(lambda p: chips[p].busy_power_w)
    idle_w = ts.pool.map(lambda p: chips[p].idle_power_w)
    serving_loaded = ts.loaded_chip_hours - ts.training_chip_hours
    assert (serving_loaded <= ts.serving_chip_hours + 1e-6).all()
    assert ts.busy_chip_hours.sum() == pytest.approx(
        ts.training_chip_hours.sum() + ts.serving_chip_hours.sum()
    )
    idle_h = (ts.installed_chip_hours - ts.busy_chip_hours).clip(lower=0.0)
    wh = (
        ts.training_chip_hours * busy_w
        + ts.serving_chip_hours * idle_w
        + serving_loaded * (busy_w - idle_w)
        + idle_h * idle_w
    )
    factor = (1 + s.economics.host_power_overhead_fraction) * s.economics.pue / W_PER_MW
    assert np.allclose(ts.energy_mwh, wh * factor, rtol=1e-9, atol=1e-9)
    prov = acc.summary["provider"]
    assert prov["loaded_chip_hours"] == pytest.approx(ts.loaded_chip_hours.sum())
    assert prov["loaded_chip_hours"] < prov["busy_chip_hours"]


def test_baseline_customers_pay_the_public_schedule_month_by_month() -> None:
    s, _, acc = _baseline_run()
    ts = acc.tables["timeseries"]
    policy = PRICING_POLICIES["list"]
    for pid in ("h100", "a100", "trainium2"):
        rows = ts[ts.pool == pid]
        for month, price in zip(rows.month, rows.price_usd_per_chip_hour, strict=True):
            day = max(dt.date.fromisoformat(month), s.horizon.start)
            assert price == pytest.approx(policy.usd_per_chip_hour(s, pid, day)), (pid, month)
    h100 = ts[ts.pool == "h100"].set_index("month").price_usd_per_chip_hour
    # the June-2025 cut: 12.29 -> 6.88 on demand, blended alike
    assert h100["2025-06-01"] / h100["2025-05-01"] == pytest.approx(6.88 / 12.29)
