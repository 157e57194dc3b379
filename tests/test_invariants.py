"""Invariants under random scenarios (hypothesis): what must hold whatever the inputs."""

from __future__ import annotations

import copy
import datetime as dt
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sim.accounting.runner import run
from tests.factories import CHIP, STACK, build, mmc_dict

EXAMPLES = 12 if os.environ.get("XPUSIM_REDUCED") == "1" else 30


@st.composite
def scenarios(draw: st.DrawFn) -> Any:
    """A small two-pool scenario with random demand, supply, prices and policies."""
    chips = draw(st.integers(1, 64))
    d = mmc_dict(
        arrival_rate_per_hour=draw(st.floats(0.01, 4.0)),
        service_rate_per_hour=draw(st.floats(0.05, 4.0)),
        chips=chips,
        gang_chips=draw(st.integers(1, max(1, min(chips, 16)))),
        years=1,
        warmup_days=draw(st.floats(0.0, 60.0)),
        policy=draw(st.sampled_from(["fifo", "backfill"])),
    )
    d["segments"]["all"]["training"]["size"]["law"] = draw(
        st.sampled_from(["fixed", "exponential", "lognormal"])
    )
    d["segments"]["all"]["training"]["growth_per_year"] = draw(st.floats(-0.5, 3.0))
    other = copy.deepcopy(CHIP) | {
        "name": "Other",
        "vendor": "aws",
        "family": "trainium",
        "stack": "other",
        "cloud_price_usd_per_chip_hour": draw(st.floats(0.1, 20.0)),
        "unit_cost_usd": draw(st.floats(100.0, 50000.0)),
        "idle_power_w": draw(st.floats(0.0, 100.0)),
    }
    d["catalog"]["chips"]["other"] = other
    d["catalog"]["stacks"]["other"] = copy.deepcopy(STACK) | {
        "name": "Other",
        "vendor": "aws",
        "maturity_start": draw(st.floats(0.0, 1.0)),
        "maturity_midpoint_year": draw(st.floats(2023.0, 2030.0)),
        "porting_engineer_months_a": draw(st.floats(0.0, 5.0)),
        "porting_engineer_months_b": draw(st.floats(0.0, 20.0)),
        "porting_engineer_months_c": draw(st.floats(0.0, 100.0)),
        "porting_calendar_months_b": draw(st.floats(0.0, 6.0)),
        "porting_calendar_months_c": draw(st.floats(0.0, 12.0)),
    }
    d["provider"]["pools"]["other"] = {
        "initial_chips": draw(st.integers(0, 64)),
        "initial_age_years": draw(st.floats(0.0, 5.5)),
        "deliveries": [
            {"date": dt.date(2024, draw(st.integers(1, 12)), 1), "chips": draw(st.integers(0, 64))}
        ],
    }
    d["provider"]["pricing"] = {
        "committed_fraction": draw(st.floats(0.0, 1.0)),
        "committed_discount_fraction": draw(st.floats(0.0, 0.9)),
    }
    d["economics"]["pue"] = draw(st.floats(1.0, 2.0))
    seg = d["segments"]["all"]
    seg["customers"] = draw(st.integers(1, 10))
    seg["inference"] = {
        "tokens_per_s": draw(st.floats(0.0, 50000.0)),
        "growth_per_year": draw(st.floats(0.0, 2.0)),
        "resize_interval_hours": draw(st.sampled_from([6.0, 24.0, 72.0])),
    }
    seg["platforms"]["inference"] = {"gpu": 1.0}
    d["scheduling"]["spill"] = {"gpu": ["other"]} if draw(st.booleans()) else {}
    d["adoption"] = {"enabled": draw(st.booleans()), "logit_scale": draw(st.floats(0.0, 5.0))}
    d["outputs"] = {"jobs_table": True}
    return build(d)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # no "explain" phase: it traces every line of a failing simulation and runs out of memory
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
@given(s=scenarios(), seed=st.integers(0, 2**32))
def test_invariants_hold(s: Any, seed: int) -> None:
    out = run(s, seed)
    ts = out.tables["timeseries"]
    money = [c for c in ts.columns if c.endswith("_usd")]
    assert (ts[money].to_numpy() >= -1e-6).all(), "no negative money"
    assert ((ts.utilization >= 0) & (ts.utilization <= 1)).all()
    assert (ts.busy_chip_hours <= ts.installed_chip_hours + 1e-6).all(), "busy <= installed"
    assert (ts.energy_mwh >= 0).all()
    # conservation: TCO is the sum of its parts; summary totals are the table sums
    parts = ts[["capital_usd", "power_usd", "facility_usd", "maintenance_usd", "nre_usd"]]
    assert np.allclose(parts.sum(axis=1), ts.tco_usd, rtol=1e-12, atol=1e-9)
    prov = out.summary["provider"]
    assert np.isclose(prov["busy_chip_hours"], ts.busy_chip_hours.sum(), rtol=1e-12)
    assert np.isclose(prov["energy_mwh"], ts.energy_mwh.sum(), rtol=1e-12)
    assert np.isclose(prov["revenue_usd"], ts.revenue_usd.sum(), rtol=1e-12)
    # training chip-hours equal the job records clipped to the horizon
    jobs = out.tables["jobs"].dropna(subset=["start_hours"])
    horizon = float((s.horizon.end - s.horizon.start).days * 24)
    busy = ((np.minimum(jobs.end_hours, horizon) - jobs.start_hours) * jobs.chips).sum()
    assert np.isclose(ts.training_chip_hours.sum(), busy, rtol=1e-9, atol=1e-6)
    # waits are non-negative and shares are fractions
    assert (out.tables["jobs"].wait_hours.dropna() >= -1e-9).all()
    shares = out.tables["adoption"].groupby(["month", "workload"]).share.sum()
    assert np.allclose(shares, 1.0)
    # served tokens never exceed demanded tokens
    assert (
        out.summary["customers"]["mtok_served"] <= out.summary["customers"]["mtok_demanded"] + 1e-6
    )


def test_idle_months_book_no_negative_hours() -> None:
    """Regression (found by CI's random search): a spill pool idle for a month after busy ones.

    Busy hours per month are differences of cumulative sums; round-off once left -1.5e-11
    chip-hours and a utilisation of -6.7e-15 in an idle month.
    """
    d = mmc_dict(
        arrival_rate_per_hour=0.25,
        service_rate_per_hour=1.0,
        chips=12,
        gang_chips=3,
        years=1,
        warmup_days=0.0,
        policy="fifo",
    )
    d["segments"]["all"]["training"]["size"]["law"] = "fixed"
    d["segments"]["all"]["training"]["growth_per_year"] = 2.0
    d["catalog"]["chips"]["other"] = copy.deepcopy(CHIP) | {
        "name": "Other",
        "vendor": "aws",
        "family": "trainium",
        "stack": "other",
        "cloud_price_usd_per_chip_hour": 1.0,
        "unit_cost_usd": 100.0,
        "idle_power_w": 0.0,
    }
    d["catalog"]["stacks"]["other"] = copy.deepcopy(STACK) | {
        "name": "Other",
        "vendor": "aws",
        "maturity_start": 0.0,
        "maturity_midpoint_year": 2023.0,
    }
    d["provider"]["pools"]["other"] = {
        "initial_chips": 0,
        "deliveries": [{"date": dt.date(2024, 1, 1), "chips": 3}],
    }
    d["scheduling"]["spill"] = {"gpu": ["other"]}
    ts = run(build(d), 0).tables["timeseries"]
    assert (ts.busy_chip_hours >= 0).all()
    assert (ts.utilization >= 0).all()
    idle = ts[(ts.pool == "other") & (ts.jobs_started == 0)]
    assert len(idle) > 0 and (idle.busy_chip_hours >= 0).all()
