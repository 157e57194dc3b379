"""Static per-chip economics (sim.accounting.tco) against values computed by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.accounting.tco import TCO_COLUMNS, static_tco_table
from sim.errors import UserError
from sim.model.schema import Scenario

D = dt.date


def _chip(**over: Any) -> dict[str, Any]:
    chip: dict[str, Any] = {
        "name": "Test GPU",
        "vendor": "nvidia",
        "family": "nvidia_gpu",
        "stack": "cuda",
        "launch_date": D(2022, 1, 1),
        "workloads": ["training", "inference"],
        "peak_bf16_tflops": 500.0,
        "hbm_gb": 80.0,
        "memory_tb_per_s": 3.0,
        "busy_power_w": 1000.0,
        "idle_power_w": 200.0,
        "unit_cost_usd": 16_000.0,
        "server_network_usd_per_chip": 11_040.0,
        "cloud_price_usd_per_chip_hour": 4.0,
        "inference_tokens_per_s": 1000.0,
        "training_mfu": 0.4,
    }
    chip.update(over)
    return chip


def make_scenario(**economics: Any) -> Scenario:
    """A small scenario: one Nvidia pool (testgpu), one in-house pool, one spare chip."""
    eco = {
        "discount_rate_per_year": 0.0,
        "depreciation_years": 4.0,
        "pue": 1.2,
        "electricity_usd_per_kwh": 0.1,
        "facility_usd_per_kw_year": 876.0,
        "maintenance_fraction_per_year": 0.05,
        "host_power_overhead_fraction": 0.5,
        "engineer_usd_per_month": 20_000.0,
    }
    eco.update(economics)
    stack = {
        "name": "Stack",
        "vendor": "x",
        "maturity_start": 1.0,
        "maturity_midpoint_year": 2020.0,
        "maturity_steepness_per_year": 1.0,
        **{f"porting_{k}_months_{t}": 0.0 for k in ("engineer", "calendar") for t in "abc"},
    }
    data: dict[str, Any] = {
        "name": "tco-test",
        "horizon": {"start": D(2024, 1, 1), "end": D(2025, 1, 1)},
        "economics": eco,
        "catalog": {
            "chips": {
                "testgpu": _chip(),
                "inhouse": _chip(
                    name="In-house",
                    vendor="aws",
                    family="trainium",
                    stack="neuron",
                    unit_cost_usd=5_000.0,
                    server_network_usd_per_chip=3_760.0,
                    cloud_price_usd_per_chip_hour=2.0,
                ),
                "spare": _chip(name="Spare", vendor="amd", family="amd_gpu"),
            },
            "stacks": {"cuda": stack, "neuron": stack},
        },
        "vendors": {
            "nvidia": {
                "gross_margin_fraction": 0.75,
                "lead_time_weeks": 26.0,
                "street_price_multiplier": [
                    {"start": D(2023, 1, 1), "value": 2.0},
                    {"start": D(2023, 7, 1), "value": 1.5},
                    {"start": D(2024, 6, 1), "value": 1.0},
                ],
            }
        },
        "provider": {
            "name": "cloud",
            "pools": {
                "testgpu": {
                    "initial_chips": 10,
                    "price_changes": [
                        {"start": D(2023, 1, 1), "value": 1.25},
                        {"start": D(2024, 6, 1), "value": 0.5},
                    ],
                },
                "inhouse": {"initial_chips": 10},
            },
            "procurement": {"target_utilization": 0.8},
            "pricing": {"committed_fraction": 0.5, "committed_discount_fraction": 0.4},
        },
        "segments": {
            "lab": {
                "inference": {"tokens_per_s": 100.0},
                "platforms": {"inference": {"testgpu": 1.0}},
            }
        },
    }
    return Scenario.model_validate(data)


def _row(table: pd.DataFrame, chip: str) -> dict[str, Any]:
    rows = table[table["chip"] == chip].to_dict("records")
    assert len(rows) == 1
    return rows[0]


def test_merchant_chip_by_hand() -> None:
    table = static_tco_table(make_scenario(), utilization=0.5)
    assert list(table.columns) == list(TCO_COLUMNS)
    assert list(table["chip"]) == ["testgpu", "inhouse"]
    r = _row(table, "testgpu")
    # Street multiplier at the horizon start 2024-01-01: the 2023-07-01 step, 1.5.
    assert r["street_price_multiplier"] == 1.5
    # capex = 16,000 x 1.5 = 24,000; + server 11,040 = 35,040 = 4 x 8,760.
    assert r["capex_usd_per_chip"] == pytest.approx(24_000.0)
    # capital: rate 0, life 4 -> annuity 1/4; 35,040 / 4 / 8,760 h = 1.0 USD/h.
    assert r["capital_usd_per_chip_hour"] == pytest.approx(1.0)
    # power: (0.5 x 1000 + 0.5 x 200) W = 600 W x (1 + 0.5 host) = 900 W = 0.9 kW
    #        x PUE 1.2 = 1.08 kW x 0.1 USD/kWh = 0.108 USD/h.
    assert r["power_usd_per_chip_hour"] == pytest.approx(0.108)
    # facility: 1000 W x 1.5 = 1.5 kW provisioned x 876 USD/kW-yr / 8,760 h = 0.15 USD/h.
    assert r["facility_usd_per_chip_hour"] == pytest.approx(0.15)
    # maintenance: 0.05 x 35,040 / 8,760 = 0.2 USD/h.
    assert r["maintenance_usd_per_chip_hour"] == pytest.approx(0.2)
    # total = 1.0 + 0.108 + 0.15 + 0.2 = 1.458 USD per installed chip-hour.
    assert r["tco_usd_per_chip_hour"] == pytest.approx(1.458)
    # per busy hour at 50% = 1.458 / 0.5 = 2.916.
    assert r["tco_usd_per_busy_chip_hour"] == pytest.approx(2.916)
    # 500 TFLOP/s x 0.4 MFU = 200 TFLOP/s x 3600 s / 1000 = 720 PFLOP per busy hour.
    assert r["pflop_per_busy_chip_hour"] == pytest.approx(720.0)
    # 2.916 / 720 = 0.00405 USD/PFLOP.
    assert r["usd_per_pflop"] == pytest.approx(0.00405)
    # 1000 tokens/s x 3600 = 3.6 Mtok per busy hour; 2.916 / 3.6 = 0.81 USD/Mtok.
    assert r["mtok_per_busy_chip_hour"] == pytest.approx(3.6)
    assert r["usd_per_mtok"] == pytest.approx(0.81)
    # on-demand: 4.0 x pool multiplier 1.25 (2023-01-01 step) = 5.0 USD/chip-h;
    # blended: 5.0 x (1 - 0.5 committed x 0.4 discount) = 4.0.
    assert r["on_demand_usd_per_chip_hour"] == pytest.approx(5.0)
    assert r["blended_usd_per_chip_hour"] == pytest.approx(4.0)
    # customer: 4.0 / 720 PFLOP and 4.0 / 3.6 Mtok.
    assert r["customer_usd_per_pflop"] == pytest.approx(4.0 / 720.0)
    assert r["customer_usd_per_mtok"] == pytest.approx(4.0 / 3.6)
    # margin per busy chip-hour: 4.0 - 2.916 = 1.084, i.e. 27.1% of the blended price.
    assert r["gross_margin_usd_per_busy_chip_hour"] == pytest.approx(1.084)
    assert r["gross_margin_fraction"] == pytest.approx(0.271)


def test_inhouse_chip_has_no_street_multiplier() -> None:
    r = _row(static_tco_table(make_scenario(), utilization=0.5), "inhouse")
    assert r["street_price_multiplier"] == 1.0
    # capex 5,000 + 3,760 = 8,760 -> capital 8,760 / 4 / 8,760 = 0.25 USD/h.
    assert r["capex_usd_per_chip"] == pytest.approx(5_000.0)
    assert r["capital_usd_per_chip_hour"] == pytest.approx(0.25)
    # maintenance 0.05 x 8,760 / 8,760 = 0.05; power and facility as for testgpu.
    assert r["tco_usd_per_chip_hour"] == pytest.approx(0.25 + 0.108 + 0.15 + 0.05)
    assert r["on_demand_usd_per_chip_hour"] == pytest.approx(2.0)


def test_default_utilization_is_procurement_target() -> None:
    table = static_tco_table(make_scenario())
    r = _row(table, "testgpu")
    assert r["utilization"] == 0.8
    # power at 80%: (0.8 x 1000 + 0.2 x 200) = 840 W x 1.5 x 1.2 / 1000 x 0.1 = 0.1512.
    assert r["power_usd_per_chip_hour"] == pytest.approx(0.1512)
    total = 1.0 + 0.1512 + 0.15 + 0.2
    assert r["tco_usd_per_busy_chip_hour"] == pytest.approx(total / 0.8)


def test_all_chips_and_annuity_with_interest() -> None:
    table = static_tco_table(
        make_scenario(discount_rate_per_year=0.08), utilization=1.0, all_chips=True
    )
    assert list(table["chip"]) == ["testgpu", "inhouse", "spare"]
    assert list(table["in_pool"]) == [True, True, False]
    spare = _row(table, "spare")
    # AMD is not in scenario.vendors: multiplier 1; no pool: price multiplier 1.
    assert spare["street_price_multiplier"] == 1.0
    assert spare["on_demand_usd_per_chip_hour"] == pytest.approx(4.0)
    # capital: (16,000 + 11,040) x 0.08 / (1 - 1.08^-4) / 8,760.
    annuity = 0.08 / (1 - 1.08**-4)
    assert spare["capital_usd_per_chip_hour"] == pytest.approx(27_040 * annuity / 8760)
    # at utilisation 1, per busy hour equals per installed hour.
    assert np.allclose(table["tco_usd_per_busy_chip_hour"], table["tco_usd_per_chip_hour"])


@pytest.mark.parametrize("u", [0.0, -0.1, 1.5, float("nan")])
def test_bad_utilization_is_a_user_error(u: float) -> None:
    with pytest.raises(UserError, match="utilization"):
        static_tco_table(make_scenario(), utilization=u)
