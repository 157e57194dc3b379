"""The engine computes what it claims: queueing theory, Little's law, conservation, seeds."""

from __future__ import annotations

import datetime as dt
import math
import os

import numpy as np
import pandas as pd
import pytest

from sim.accounting.runner import run, run_one
from sim.engine.core import Engine, simulate
from sim.model.queueing import mmc, mmc_gang
from sim.model.rng import replication_seeds
from sim.model.units import HOURS_PER_YEAR
from tests.factories import build, mmc_dict

REDUCED = os.environ.get("XPUSIM_REDUCED") == "1"


def _replicated_waits(
    lam: float, mu: float, c: int, k: int, years: int, reps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean wait and mean utilisation of each replication (warm-up discarded)."""
    s = build(
        mmc_dict(
            arrival_rate_per_hour=lam,
            service_rate_per_hour=mu,
            chips=c,
            gang_chips=k,
            years=years,
            warmup_days=60.0,
        )
    )
    waits, utils = [], []
    for seed in replication_seeds(11, reps):
        q = run_one(s, seed).summary["queue"]["gpu"]
        waits.append(q["mean_wait_hours"])
        utils.append(q["utilization"])
    return np.array(waits), np.array(utils)


def _assert_matches(sim: np.ndarray, analytic: float, rel: float) -> None:
    """The replication mean is within `rel` of theory or within 3 standard errors."""
    mean = float(sim.mean())
    se = float(sim.std(ddof=1) / math.sqrt(len(sim)))
    assert abs(mean - analytic) <= max(rel * analytic, 3 * se), (mean, analytic, se)


MMC_CASES = [
    # (arrivals/h, service rate /h, chips): loads 0.5 to 0.9
    (0.5, 1.0, 1),
    (1.5, 1.0, 2),
    (6.0, 1.0, 8),
    (4.0, 0.5, 10),
]


@pytest.mark.parametrize(("lam", "mu", "c"), MMC_CASES)
def test_mmc_mean_wait_matches_erlang_c(lam: float, mu: float, c: int) -> None:
    theory = mmc(lam, mu, c)
    waits, utils = _replicated_waits(lam, mu, c, 1, years=1, reps=4)
    _assert_matches(waits, theory.mean_wait_hours, 0.08)
    _assert_matches(utils, theory.utilization, 0.01)


@pytest.mark.slow
@pytest.mark.parametrize(("lam", "mu", "c"), [(9.0, 1.0, 10), (45.0, 1.0, 50), (0.8, 0.1, 9)])
def test_mmc_heavy_load_matches_erlang_c(lam: float, mu: float, c: int) -> None:
    theory = mmc(lam, mu, c)
    years, reps = (2, 4) if REDUCED else (6, 10)
    waits, _ = _replicated_waits(lam, mu, c, 1, years=years, reps=reps)
    _assert_matches(waits, theory.mean_wait_hours, 0.05)


@pytest.mark.parametrize(("lam", "mu", "chips", "k"), [(1.5, 1.0, 8, 4), (5.0, 1.0, 64, 8)])
def test_gang_jobs_match_mm_c_over_k(lam: float, mu: float, chips: int, k: int) -> None:
    theory = mmc_gang(lam, mu, chips, k)
    waits, utils = _replicated_waits(lam, mu, chips, k, years=1, reps=4)
    _assert_matches(waits, theory.mean_wait_hours, 0.08)
    _assert_matches(utils, theory.utilization, 0.01)


def _jobs_scenario(**changes: object) -> object:
    d = mmc_dict(arrival_rate_per_hour=6.0, service_rate_per_hour=1.0, chips=8, years=1)
    d["outputs"] = {"jobs_table": True}
    return build(d, **changes)


def test_littles_law_holds_on_the_jobs_table() -> None:
    s = _jobs_scenario()
    jobs = run(s).tables["jobs"]  # type: ignore[arg-type]
    done = jobs.dropna(subset=["end_hours"])
    t0, t1 = 500.0, 8000.0
    # time-average number in system over [t0, t1), from each job's sojourn
    a = done["arrival_hours"].to_numpy()
    e = done["end_hours"].to_numpy()
    in_system = np.clip(np.minimum(e, t1) - np.maximum(a, t0), 0, None).sum() / (t1 - t0)
    window = done[(done.arrival_hours >= t0) & (done.arrival_hours < t1)]
    lam = len(window) / (t1 - t0)
    sojourn = (window.end_hours - window.arrival_hours).mean()
    assert in_system == pytest.approx(lam * sojourn, rel=0.02)


def test_conservation_of_chip_hours_energy_and_money() -> None:
    s = _jobs_scenario()
    out = run(s)  # type: ignore[arg-type]
    ts = out.tables["timeseries"]
    jobs = out.tables["jobs"]
    summ = out.summary
    horizon = 8784.0  # 2024 is a leap year
    started = jobs.dropna(subset=["start_hours"])
    busy = (np.minimum(started.end_hours, horizon) - started.start_hours) * started.chips
    assert ts.busy_chip_hours.sum() == pytest.approx(busy.sum(), rel=1e-9)
    assert summ["provider"]["busy_chip_hours"] == pytest.approx(busy.sum(), rel=1e-9)
    # installed: 8 chips all year (2024 is a leap year: 366 days)
    assert ts.installed_chip_hours.sum() == pytest.approx(8 * 366 * 24)
    # energy from first principles: busy at 700 W, idle at 100 W, +50% host, PUE 1.2
    idle = ts.installed_chip_hours.sum() - busy.sum()
    mwh = (busy.sum() * 700 + idle * 100) * 1.5 * 1.2 / 1e6
    assert summ["provider"]["energy_mwh"] == pytest.approx(mwh, rel=1e-9)
    # money: TCO is the sum of its components, row by row and in total
    parts = ts[["capital_usd", "power_usd", "facility_usd", "maintenance_usd", "nre_usd"]]
    assert np.allclose(parts.sum(axis=1), ts.tco_usd)
    assert summ["provider"]["tco_usd"] == pytest.approx(ts.tco_usd.sum(), rel=1e-12)
    # revenue is billed busy hours x $4 (no commitments in this scenario)
    assert summ["provider"]["revenue_usd"] == pytest.approx(4.0 * busy.sum(), rel=1e-9)
    # PFLOP delivered within the horizon: each job at a constant rate over its run
    frac = (np.minimum(started.end_hours, horizon) - started.start_hours) / (
        started.end_hours - started.start_hours
    )
    assert ts.pflop_delivered.sum() == pytest.approx((started.pflop * frac).sum(), rel=1e-9)


def test_capital_matches_the_annuity_by_hand() -> None:
    s = _jobs_scenario()
    ts = run(s).tables["timeseries"]  # type: ignore[arg-type]
    # ($30,000 + $10,000) x 8 chips x annuity(8%, 5 y) per year, for 366 days
    annuity = 0.08 / (1 - 1.08**-5)
    expected = 40000 * 8 * annuity * 366 * 24 / 8760
    assert ts.capital_usd.sum() == pytest.approx(expected, rel=1e-9)


def test_same_seed_same_tables_and_different_seed_differs() -> None:
    s = _jobs_scenario()
    a = run(s, 5)  # type: ignore[arg-type]
    b = run(s, 5)  # type: ignore[arg-type]
    c = run(s, 6)  # type: ignore[arg-type]
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert a.summary == b.summary
    assert not a.tables["jobs"].equals(c.tables["jobs"])


def test_common_random_numbers_across_a_price_change() -> None:
    s1 = _jobs_scenario()
    s2 = _jobs_scenario(catalog__chips__gpu__cloud_price_usd_per_chip_hour=9.0)
    j1 = run(s1, 3).tables["jobs"]  # type: ignore[arg-type]
    j2 = run(s2, 3).tables["jobs"]  # type: ignore[arg-type]
    pd.testing.assert_series_equal(j1.arrival_hours, j2.arrival_hours)
    pd.testing.assert_series_equal(j1.pflop, j2.pflop)


def _scripted(policy: str, jobs: list[tuple[float, int, float]]) -> list[tuple[float, float]]:
    """Run a 4-chip pool on a fixed job script: (arrival h, chips, hours) -> (start, end)."""
    d = mmc_dict(
        arrival_rate_per_hour=0.0, service_rate_per_hour=1.0, chips=4, years=1, policy=policy
    )
    d["segments"]["all"]["training"]["jobs_per_month"] = 0.0
    s = build(d)
    eng = Engine(s, 0)
    seg = eng.segments[0]
    rate = 1000 * 0.5 * 3.6  # PFLOP per chip-hour of the test chip

    def script():  # type: ignore[no-untyped-def]
        for t, k, hours in jobs:
            yield eng.env.timeout(t - eng.env.now)
            eng.training.arrive(seg, k, k * hours * rate)

    eng.env.process(script())
    log = eng.run()
    return [(j.start_h, j.end_h) for j in log.jobs]


def test_fifo_event_log_is_exact() -> None:
    # job 2 needs all 4 chips and blocks job 3 behind it until job 1 ends at t = 10
    log = _scripted("fifo", [(0, 3, 10), (1, 4, 5), (2, 1, 3)])
    assert log == [(0.0, 10.0), (10.0, 15.0), (15.0, 18.0)]


def test_easy_backfill_event_log_is_exact() -> None:
    # job 3 fits the free chip and ends (t = 5) before job 2's reservation (t = 10): it jumps
    # ahead; job 4 would run past the reservation on a chip job 2 needs, so it waits
    log = _scripted("backfill", [(0, 3, 10), (1, 4, 5), (2, 1, 3), (6, 1, 8)])
    assert sorted(log) == [(0.0, 10.0), (2.0, 5.0), (10.0, 15.0), (15.0, 23.0)]


def test_deliveries_and_retirement_change_capacity() -> None:
    d = mmc_dict(arrival_rate_per_hour=0.5, service_rate_per_hour=1.0, chips=4, years=3)
    d["provider"]["pools"]["gpu"]["initial_age_years"] = 4.0  # retires after 1 of 5 years
    d["provider"]["pools"]["gpu"]["deliveries"] = [{"date": dt.date(2025, 7, 1), "chips": 6}]
    ts = run(build(d)).tables["timeseries"]
    by_month = ts.set_index("month").installed_chips
    assert by_month["2024-06-01"] == 4
    assert by_month["2025-03-01"] == 0  # the initial chips retired after 8,760 h
    assert by_month["2025-08-01"] == 6
    assert ts.chips_delivered.sum() == 6


def test_engine_counts_events_and_jobs() -> None:
    s = _jobs_scenario()
    log = simulate(s, 1)  # type: ignore[arg-type]
    assert log.events >= 2 * len(log.jobs) - 10
    assert len(log.jobs) == pytest.approx(6.0 * 366 * 24, rel=0.05)


def test_tiny_growth_rates_still_advance_time() -> None:
    # growth of 1e-300 a year once made exp(gamma t) + gamma e / rate round to 1: every
    # arrival fell at t = 0, forever (found by the invariants property test)
    d = mmc_dict(arrival_rate_per_hour=2.0, service_rate_per_hour=1.0, chips=4, years=1)
    d["segments"]["all"]["training"]["growth_per_year"] = 1e-300
    log = simulate(build(d), 1)
    assert len(log.jobs) == pytest.approx(2.0 * 366 * 24, rel=0.05)


def test_busy_chip_retires_when_its_job_ends() -> None:
    """A chip whose life ends mid-job stays installed until the job ends, then leaves."""
    retire_h = 100.0
    d = mmc_dict(arrival_rate_per_hour=10.0, service_rate_per_hour=1 / 50.0, chips=1, years=1)
    d["segments"]["all"]["training"]["size"]["law"] = "fixed"
    d["horizon"]["warmup_days"] = 0.0
    d["outputs"] = {"jobs_table": True}
    life_years = d["economics"]["depreciation_years"]
    d["provider"]["pools"]["gpu"]["initial_age_years"] = life_years - retire_h / HOURS_PER_YEAR
    out = run(build(d), 3)
    jobs = out.tables["jobs"].dropna(subset=["start_hours"])
    # always busy: jobs of exactly 50 h back to back, and none starts after the retirement
    assert np.allclose(jobs.end_hours - jobs.start_hours, 50.0)
    assert (jobs.start_hours < retire_h).all()
    last_end = float(jobs.end_hours.max())
    assert last_end > retire_h
    ts = out.tables["timeseries"]
    assert ts.installed_chip_hours.sum() == pytest.approx(last_end, rel=1e-12)
    busy = float((jobs.end_hours - jobs.start_hours).sum())
    assert ts.busy_chip_hours.sum() == pytest.approx(busy, rel=1e-12)
    assert (ts.busy_chip_hours <= ts.installed_chip_hours + 1e-9).all()
    assert ts.installed_chips.iloc[0] == 0  # gone by the end of January
    # capital is charged over the chip's life only, the overstay costs power and facility
    assert ts.capital_usd.sum() > 0


def _procuring(vendor: dict[str, object]) -> dict[str, object]:
    """A pool that starts short of a fast-growing demand and orders toward it monthly."""
    d = mmc_dict(arrival_rate_per_hour=0.5, service_rate_per_hour=0.25, chips=4, years=2)
    d["segments"]["all"]["training"]["growth_per_year"] = 3.0
    d["provider"]["pools"]["gpu"]["procure"] = True
    d["provider"]["procurement"] = {"policy": "forecast", "review_interval_days": 30.0}
    d["vendors"] = {"nvidia": {"gross_margin_fraction": 0.7, **vendor}}
    return d


def test_lead_time_changes_apply_to_orders_placed_after_them() -> None:
    change = dt.date(2024, 7, 1)
    d = _procuring(
        {"lead_time_weeks": 10.0, "lead_time_changes": [{"start": change, "weeks": 2.0}]}
    )
    log = simulate(build(d), 1)
    change_h = (change - dt.date(2024, 1, 1)).days * 24.0
    waits = {(t >= change_h): delivery_h - t for _, t, delivery_h, _ in log.orders}
    assert len(log.orders) >= 2
    assert waits == {False: 10 * 168.0, True: 2 * 168.0}  # weeks of 168 hours


def test_allocation_cap_binds_per_quarter_until_lifted() -> None:
    cap = 6
    lifted = dt.date(2025, 1, 1)
    d = _procuring(
        {
            "lead_time_weeks": 0.0,
            "allocation_cap_chips_per_quarter": cap,
            "allocation_cap_changes": [{"start": lifted, "chips_per_quarter": None}],
        }
    )
    log = simulate(build(d), 1)
    lifted_h = (lifted - dt.date(2024, 1, 1)).days * 24.0
    per_quarter: dict[int, int] = {}
    for _, order_h, _, chips in log.orders:
        q = int(order_h // (HOURS_PER_YEAR / 4))
        per_quarter[q] = per_quarter.get(q, 0) + chips
    capped = [n for _, t, _, n in log.orders if t < lifted_h]
    assert capped and all(per_quarter[q] <= cap for q in range(4) if q in per_quarter)
    assert max(per_quarter.get(q, 0) for q in range(4, 8)) > cap  # demand outgrows it later
