"""The porting-and-adoption mechanism: monotone in price and maturity, gated by features."""

from __future__ import annotations

import copy
import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.accounting.runner import run
from sim.model import adoption as ad
from sim.model.schema import StackSpec
from sim.model.schema.demand import Bass, SizeDistribution
from tests.factories import CHIP, STACK, build, mmc_dict

NEURON_LIKE = StackSpec(
    name="in-house",
    vendor="aws",
    maturity_start=0.2,
    maturity_midpoint_year=2026.0,
    maturity_steepness_per_year=1.0,
    porting_engineer_months_a=1.0,
    porting_engineer_months_b=4.0,
    porting_engineer_months_c=20.0,
    porting_calendar_months_a=1.0,
    porting_calendar_months_b=3.0,
    porting_calendar_months_c=6.0,
    scarcity_at_zero_maturity=0.5,
)


def _prob_inhouse(unit_cost: float, maturity: float, gpu_cost: float = 1.0) -> float:
    """Logit probability that a customer picks the in-house option (tier-c training port)."""
    terms = ad.port_terms(NEURON_LIKE, "c", maturity, failure_at_zero_maturity={"c": 0.4})
    eff = ad.software_efficiency(maturity, 0.5)
    volume = 1e6
    monthly_usd = volume * gpu_cost / 24.0
    parts = ad.utility_parts(
        volume_units=np.array([volume]),
        unit_usd=np.array([gpu_cost, unit_cost / eff]),
        efficiency=np.array([1.0, eff]),
        port_usd=np.array([[0.0, terms.engineer_months * 25000.0]]),
        risk_usd=np.array([[0.0, terms.expected_delay_months(0.3) * monthly_usd]]),
        hurdle_fraction=np.array([[0.0, 0.1]]),
        constants=np.array([0.0, 0.0]),
        logit_scale=3.0,
    )
    return float(ad.choice_probabilities(parts.total)[0, 1])


@settings(max_examples=200, deadline=None)
@given(
    c1=st.floats(0.05, 5.0),
    c2=st.floats(0.05, 5.0),
    m=st.floats(0.0, 1.0),
)
def test_lower_inhouse_price_never_lowers_adoption(c1: float, c2: float, m: float) -> None:
    lo, hi = sorted((c1, c2))
    assert _prob_inhouse(lo, m) >= _prob_inhouse(hi, m) - 1e-12


@settings(max_examples=200, deadline=None)
@given(m1=st.floats(0.0, 1.0), m2=st.floats(0.0, 1.0), c=st.floats(0.05, 5.0))
def test_higher_maturity_never_lowers_adoption(m1: float, m2: float, c: float) -> None:
    lo, hi = sorted((m1, m2))
    assert _prob_inhouse(c, hi) >= _prob_inhouse(c, lo) - 1e-12


@settings(max_examples=100, deadline=None)
@given(year=st.floats(2000.0, 2060.0), dy=st.floats(0.0, 10.0), share=st.floats(0.0, 1.0))
def test_maturity_rises_over_time_and_with_use(year: float, dy: float, share: float) -> None:
    a = ad.maturity(NEURON_LIKE, year, share, 0.3)
    assert 0.0 <= a <= 1.0
    assert ad.maturity(NEURON_LIKE, year + dy, share, 0.3) >= a
    assert ad.maturity(NEURON_LIKE, year, min(1.0, share + 0.1), 0.3) >= a


def _two_chip_scenario(
    *,
    fsdp_from: dt.date | None,
    friction: bool,
    price: float,
    years: int = 3,
    decisions: str = "expected",
) -> Any:
    """A GPU pool and an in-house pool; one segment of 20 customers starting on the GPU."""
    d = mmc_dict(arrival_rate_per_hour=0.5, service_rate_per_hour=0.1, chips=64, years=years)
    chip = copy.deepcopy(CHIP) | {
        "name": "In-house",
        "vendor": "aws",
        "family": "trainium",
        "stack": "inhouse",
        "cloud_price_usd_per_chip_hour": price,
    }
    stack = copy.deepcopy(STACK) | {
        "name": "In-house stack",
        "vendor": "aws",
        "maturity_start": 1.0 if not friction else 0.2,
        "maturity_midpoint_year": 2030.0,
        "porting_engineer_months_b": 0.0 if not friction else 6.0,
        "porting_calendar_months_b": 0.0 if not friction else 3.0,
        "scarcity_at_zero_maturity": 0.0 if not friction else 0.5,
        "features": {"fsdp": {"available_from": fsdp_from}},
    }
    d["catalog"]["chips"]["chip"] = chip
    d["catalog"]["stacks"]["inhouse"] = stack
    d["provider"]["pools"]["chip"] = {"initial_chips": 64}
    seg = d["segments"]["all"]
    seg["customers"] = 20
    seg["training"]["gang_chips"] = 4
    seg["training"]["requires_features"] = ["fsdp"]
    seg["review_interval_months"] = 3.0
    seg["porting_tier"] = {"training": "b", "inference": "a"}
    seg["switching_hurdle_fraction"] = 0.0 if not friction else 0.2
    d["adoption"] = {
        "enabled": True,
        "logit_scale": 5.0,
        "max_fraction_per_review": 0.5,
        "efficiency_floor": 0.5,
        "failure_probability_at_zero_maturity": {"b": 0.5 if friction else 0.0},
        "overrun_fraction": 0.3,
        "delay_months_of_compute": 1.0,
        "decisions": decisions,
    }
    return build(d)


def _inhouse_share(out: Any, month: str) -> float:
    a = out.tables["adoption"]
    row = a[(a.month == month) & (a.workload == "training") & (a.pool == "chip")]
    return float(row.share.sum())


def test_feature_gate_blocks_ports_until_the_feature_lands() -> None:
    lands = dt.date(2025, 7, 1)
    out = run(_two_chip_scenario(fsdp_from=lands, friction=False, price=2.0))
    ports = out.tables["ports"]
    assert len(ports) > 0
    assert (pd.to_datetime(ports.start) >= pd.Timestamp(lands)).all()
    assert _inhouse_share(out, "2025-06-01") == 0.0
    assert _inhouse_share(out, "2026-12-01") > 0.3


def test_a_feature_that_never_lands_blocks_all_ports() -> None:
    out = run(_two_chip_scenario(fsdp_from=None, friction=False, price=2.0))
    assert len(out.tables["ports"]) == 0
    assert _inhouse_share(out, "2026-12-01") == 0.0


def test_graviton_precedent_no_friction_and_cheaper_chip_means_high_adoption() -> None:
    # 30% cheaper, nothing to port: like Graviton, which took about a third of M7 spend in
    # about two years [ofweek-2024-12]
    out = run(_two_chip_scenario(fsdp_from=dt.date(2020, 1, 1), friction=False, price=2.8))
    assert _inhouse_share(out, "2025-12-01") > 0.33


def test_friction_slows_adoption() -> None:
    easy = run(_two_chip_scenario(fsdp_from=dt.date(2020, 1, 1), friction=False, price=2.8))
    hard = run(_two_chip_scenario(fsdp_from=dt.date(2020, 1, 1), friction=True, price=2.8))
    assert _inhouse_share(hard, "2025-12-01") < _inhouse_share(easy, "2025-12-01")
    assert hard.summary["customers"]["porting_spend_usd"] > 0


@settings(max_examples=100, deadline=None)
@given(m=st.floats(0.0, 0.99), s1=st.floats(0.1, 5.0), s2=st.floats(0.1, 5.0))
def test_friction_scale_scales_effort_and_time(m: float, s1: float, s2: float) -> None:
    lo, hi = sorted((s1, s2))
    a = ad.port_terms(NEURON_LIKE, "c", m, failure_at_zero_maturity={}, friction_scale=lo)
    b = ad.port_terms(NEURON_LIKE, "c", m, failure_at_zero_maturity={}, friction_scale=hi)
    assert b.engineer_months * lo == pytest.approx(a.engineer_months * hi)
    assert b.calendar_months * lo == pytest.approx(a.calendar_months * hi)


def test_a_stack_at_parity_costs_nothing_to_port_to() -> None:
    t = ad.port_terms(NEURON_LIKE, "c", 1.0, failure_at_zero_maturity={"c": 0.4})
    assert (t.engineer_months, t.calendar_months, t.failure_probability) == (0.0, 0.0, 0.0)


@settings(max_examples=100, deadline=None)
@given(f1=st.floats(0.0, 1.0), f2=st.floats(0.0, 1.0), dt_years=st.floats(0.01, 2.0))
def test_bass_consideration_grows_with_installed_share(
    f1: float, f2: float, dt_years: float
) -> None:
    bass = Bass(innovation_per_year=0.3, imitation_per_year=0.4)
    lo, hi = sorted((f1, f2))
    p_lo = ad.consideration_probability(bass, lo, dt_years)
    assert 0.0 < p_lo <= ad.consideration_probability(bass, hi, dt_years) < 1.0
    # the hazard of a Bass model: 1 - exp(-(p + qF) dt)
    assert p_lo == pytest.approx(1.0 - math.exp(-(0.3 + 0.4 * lo) * dt_years))


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 2000), tail=st.floats(1.05, 3.0), anchor=st.floats(0.0, 0.9))
def test_customer_weights_are_shares_with_anchors_first(n: int, tail: float, anchor: float) -> None:
    anchors = [anchor] if n > 1 and anchor > 0 else []
    w = ad.customer_weights(n, SizeDistribution(law="pareto", tail_index=tail), anchors)
    assert len(w) == n and (w > 0).all()
    assert float(w.sum()) == pytest.approx(1.0)
    if anchors:
        assert w[0] == pytest.approx(anchor)
    rest = w[len(anchors) :]
    assert (np.diff(rest) <= 1e-15).all()  # the others from the largest down


def test_expected_decisions_carry_no_decision_noise() -> None:
    # no flywheel, fixed prices: the expected rule's shares are the same on any seed
    sc = _two_chip_scenario(fsdp_from=dt.date(2020, 1, 1), friction=True, price=2.8)
    a, b = (run(sc, s).tables["adoption"].drop(columns="seed") for s in (1, 2))
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert _inhouse_share(run(sc, 1), "2025-12-01") > 0.0


def test_sampled_decisions_average_near_the_expected_path() -> None:
    kw: dict[str, Any] = {"fsdp_from": dt.date(2020, 1, 1), "friction": False, "price": 3.2}
    expected = _inhouse_share(run(_two_chip_scenario(**kw)), "2025-12-01")
    sampled = [
        _inhouse_share(run(_two_chip_scenario(**kw, decisions="sampled"), s), "2025-12-01")
        for s in range(8)
    ]
    assert len(set(sampled)) > 1  # the sampled rule does draw
    assert float(np.mean(sampled)) == pytest.approx(expected, abs=0.15)


def test_explain_decomposes_the_baseline_2023_choices(tmp_path: Any) -> None:
    import json as _json
    from pathlib import Path

    from typer.testing import CliRunner

    from sim.accounting.choices import EXPLAIN_TERMS
    from sim.cli import app

    baseline = str(Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml")
    out = tmp_path / "run"
    small = ["--set", "horizon.end=2026-01-01", "--set", "replications=1"]
    runner = CliRunner()
    assert runner.invoke(app, ["run", baseline, *small, "--out", str(out), "-q"]).exit_code == 0
    dest = tmp_path / "explain.json"
    res = runner.invoke(app, ["explain", str(out), "--year", "2023", "--json", str(dest)])
    assert res.exit_code == 0, res.output
    assert "share of each term" in res.output and "fsdp" in res.output
    # the fitted residual constants carry at most a quarter of any segment's utility gap
    assert "residual constants within 25% of every segment's gap" in res.output
    rows = _json.loads(dest.read_text())
    offered = [r for r in rows if not r["gated"]]
    assert offered, "no segment weighed an in-house option"
    for r in offered:
        # the terms add up to the gap, and the shares to 1
        assert sum(r[t] for t in EXPLAIN_TERMS if t != "imitation") == pytest.approx(r["gap"])
        assert sum(r[f"share_{t}"] for t in EXPLAIN_TERMS) == pytest.approx(1.0)
    # Meta and Netflix training waits for FSDP on Neuron (bi-2024-05)
    assert any(r["segment"] == "large_tech" and r["gated"] == "fsdp" for r in rows)
    bad = runner.invoke(app, ["explain", str(out), "--year", "2029"])
    assert bad.exit_code == 2 and "2029" in bad.output and "Traceback" not in bad.output
