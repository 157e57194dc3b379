"""The porting-and-adoption mechanism: monotone in price and maturity, gated by features."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.accounting.runner import run
from sim.model import adoption as ad
from sim.model.schema import Adoption, StackSpec
from tests.factories import CHIP, STACK, build, mmc_dict

NEURON_LIKE = StackSpec(
    name="in-house",
    vendor="aws",
    maturity_start=0.2,
    maturity_midpoint_year=2026.0,
    maturity_steepness_per_year=1.0,
    porting_engineer_months_training=20.0,
    porting_engineer_months_inference=5.0,
    port_failure_probability=0.4,
)


def _prob_inhouse(unit_cost: float, maturity: float, gpu_cost: float = 1.0) -> float:
    """Logit probability that a customer picks the in-house option."""
    terms = ad.port_terms(
        NEURON_LIKE,
        "training",
        maturity,
        porting_scale=1.0,
        engineer_usd_per_month=25000.0,
        port_months_at_zero_maturity=6.0,
        hours_per_month=730.0,
    )
    eff = ad.software_efficiency(maturity, 0.5)
    opts = [
        ad.Option("gpu", "cuda", "nvidia_gpu", gpu_cost, 0.0, 0.0, 0.9, True),
        ad.Option(
            "chip",
            "inhouse",
            "trainium",
            unit_cost / eff,
            terms.cost_usd,
            terms.failure_probability,
            0.1,
            False,
        ),
    ]
    u = ad.option_utilities(
        opts,
        volume_units=1e6,
        delay_cost_usd=1e5,
        risk_aversion=1.0,
        switching_hurdle_fraction=0.1,
        adoption=Adoption(logit_scale=3.0, peer_influence=1.0),
        workload="training",
    )
    return float(ad.logit_shares(u)[1])


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
    *, fsdp_from: dt.date | None, friction: bool, price: float, years: int = 3
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
        "porting_engineer_months_training": 0.0 if not friction else 0.5,
        "port_failure_probability": 0.0 if not friction else 0.5,
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
    seg["switching_hurdle_fraction"] = 0.0 if not friction else 0.2
    d["adoption"] = {
        "enabled": True,
        "logit_scale": 5.0,
        "max_fraction_per_review": 0.5,
        "efficiency_floor": 0.5,
        "port_months_at_zero_maturity": 3.0 if friction else 0.0,
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
