"""Small scenarios built in code, for engine and accounting tests.

The figures here are test inputs, not claims about the world: round numbers chosen so that
expected results can be computed by hand.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from sim.model.schema import Scenario

CHIP: dict[str, Any] = {
    "name": "Test GPU",
    "vendor": "nvidia",
    "family": "nvidia_gpu",
    "stack": "cuda",
    "launch_date": dt.date(2020, 1, 1),
    "workloads": ["training", "inference"],
    "peak_bf16_tflops": 1000.0,
    "hbm_gb": 80.0,
    "memory_tb_per_s": 3.0,
    "busy_power_w": 700.0,
    "idle_power_w": 100.0,
    "unit_cost_usd": 30000.0,
    "server_network_usd_per_chip": 10000.0,
    "cloud_price_usd_per_chip_hour": 4.0,
    "inference_tokens_per_s": 1000.0,
    "training_mfu": 0.5,
}
STACK: dict[str, Any] = {
    "name": "CUDA",
    "vendor": "nvidia",
    "maturity_start": 1.0,
    "maturity_midpoint_year": 2010.0,
    "maturity_steepness_per_year": 1.0,
    "porting_engineer_months_a": 0.0,
    "porting_engineer_months_b": 0.0,
    "porting_engineer_months_c": 0.0,
    "porting_calendar_months_a": 0.0,
    "porting_calendar_months_b": 0.0,
    "porting_calendar_months_c": 0.0,
    "features": {"fsdp": {"available_from": dt.date(2022, 1, 1)}},
}
ECONOMICS: dict[str, Any] = {
    "discount_rate_per_year": 0.08,
    "depreciation_years": 5.0,
    "pue": 1.2,
    "electricity_usd_per_kwh": 0.08,
    "facility_usd_per_kw_year": 1000.0,
    "maintenance_fraction_per_year": 0.03,
    "host_power_overhead_fraction": 0.5,
    "engineer_usd_per_month": 20000.0,
}


def mmc_dict(
    *,
    arrival_rate_per_hour: float,
    service_rate_per_hour: float,
    chips: int,
    gang_chips: int = 1,
    years: int = 4,
    warmup_days: float = 30.0,
    policy: str = "fifo",
) -> dict[str, Any]:
    """An M/M/c (or gang M/M/(c/k)) scenario: one pool, Poisson jobs, exponential sizes.

    One chip delivers 1000 TFLOP/s x 0.5 MFU x 3600 s = 1800 PFLOP per hour, so a job of
    mean size 1800 x k / mu PFLOP on k chips runs for 1/mu hours on average.
    """
    pflop_per_chip_hour = CHIP["peak_bf16_tflops"] * CHIP["training_mfu"] * 3.6
    return {
        "name": "mmc",
        "seed": 1,
        "horizon": {
            "start": dt.date(2024, 1, 1),
            "end": dt.date(2024 + years, 1, 1),
            "warmup_days": warmup_days,
        },
        "economics": dict(ECONOMICS),
        "catalog": {"chips": {"gpu": dict(CHIP)}, "stacks": {"cuda": dict(STACK)}},
        "provider": {
            "name": "test",
            "pools": {"gpu": {"initial_chips": chips}},
            "pricing": {"committed_fraction": 0.0, "committed_discount_fraction": 0.0},
        },
        "segments": {
            "all": {
                "training": {
                    "jobs_per_month": arrival_rate_per_hour * 730.0,
                    "size": {
                        "law": "exponential",
                        "mean_pflop": pflop_per_chip_hour * gang_chips / service_rate_per_hour,
                    },
                    "gang_chips": gang_chips,
                },
                "platforms": {"training": {"gpu": 1.0}},
            }
        },
        "adoption": {"enabled": False},
        "scheduling": {"policy": policy},
    }


def build(d: dict[str, Any], **changes: Any) -> Scenario:
    """Validate a scenario dict, after setting dotted-path `changes` (a__b=1 sets a.b)."""
    d = copy.deepcopy(d)
    for key, value in changes.items():
        node = d
        parts = key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return Scenario.model_validate(d)
