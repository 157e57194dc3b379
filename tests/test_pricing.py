"""Prices at a date (sim.model.pricing) against values computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from sim.model.pricing import (
    PRICING_POLICIES,
    capex_usd_per_chip,
    pricing_policy,
    street_price_multiplier,
)
from sim.model.schema import Scenario
from tests.factories import CHIP, build, mmc_dict


def _scenario() -> Scenario:
    d = mmc_dict(arrival_rate_per_hour=1.0, service_rate_per_hour=1.0, chips=4)
    d["vendors"] = {
        "nvidia": {
            "gross_margin_fraction": 0.7,
            "lead_time_weeks": 0.0,
            "street_price_multiplier": [{"start": dt.date(2025, 1, 1), "value": 1.5}],
        }
    }
    d["provider"]["pools"]["gpu"]["price_changes"] = [{"start": dt.date(2026, 1, 1), "value": 0.5}]
    d["provider"]["pricing"] = {"committed_fraction": 0.5, "committed_discount_fraction": 0.4}
    return build(d)


def test_merchant_capex_follows_the_street_price_schedule() -> None:
    s = _scenario()
    chip = s.catalog.chips["gpu"]
    assert street_price_multiplier(s, chip, dt.date(2024, 6, 1)) == 1.0
    assert street_price_multiplier(s, chip, dt.date(2025, 1, 1)) == 1.5
    assert capex_usd_per_chip(s, "gpu", dt.date(2024, 6, 1), 0.0) == CHIP["unit_cost_usd"]
    # merchant chips do not learn: the volume built does not move their price
    assert capex_usd_per_chip(s, "gpu", dt.date(2025, 6, 1), 1e6, 100) == pytest.approx(
        1.5 * CHIP["unit_cost_usd"]
    )


def test_list_policy_blends_committed_discounts_after_price_changes() -> None:
    s = _scenario()
    policy = pricing_policy(s)
    assert policy is PRICING_POLICIES["list"]
    blended = 4.0 * (1.0 - 0.5 * 0.4)  # CHIP's on-demand price, half of hours at 40% off
    assert policy.usd_per_chip_hour(s, "gpu", dt.date(2025, 6, 1)) == pytest.approx(blended)
    assert policy.usd_per_chip_hour(s, "gpu", dt.date(2026, 1, 1)) == pytest.approx(blended / 2)


def test_inhouse_capex_is_the_catalog_cost_at_the_reference_volume() -> None:
    d = mmc_dict(arrival_rate_per_hour=1.0, service_rate_per_hour=1.0, chips=4)
    chip = {**CHIP, "vendor": "aws", "family": "trainium", "unit_cost_usd": 10_000.0}
    d["catalog"]["chips"]["trn"] = chip
    d["provider"]["pools"]["trn"] = {}
    d["provider"]["inhouse_program"] = {
        "reference_gpu": "gpu",
        "generations": {
            "trn": {
                "nre_usd": 1e8,
                "nre_start": dt.date(2019, 1, 1),
                "reference_volume_chips": 1000.0,
                "learning_rate": 0.8,
                "lead_time_weeks": 10.0,
            }
        },
    }
    s = build(d)
    on = dt.date(2024, 1, 1)
    # unit 1000 (made after 999) is the reference volume: the catalog cost
    assert capex_usd_per_chip(s, "trn", on, 999.0, 1) == pytest.approx(10_000.0, rel=1e-6)
    # one doubling later it is 20% cheaper; the first units cost far more
    assert capex_usd_per_chip(s, "trn", on, 1999.0, 1) == pytest.approx(8_000.0, rel=1e-6)
    assert capex_usd_per_chip(s, "trn", on, 0.0, 1) > 5 * 10_000.0
