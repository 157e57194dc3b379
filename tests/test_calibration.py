"""Calibration: a fit that has a known answer, targets checked against the summary's
metrics, and the horizon cut at the last target year through the one substitution path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sim.errors import UserError
from sim.experiments.calibration import (
    FreeParameter,
    calibrate,
    check_targets,
    evaluate,
    truncated,
)
from sim.model.rng import replication_seeds
from sim.scenario import LoadedScenario, load_scenario

TINY = Path(__file__).parent / "data" / "sweep" / "tiny.yaml"
BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def tiny() -> LoadedScenario:
    return load_scenario(TINY)


def test_calibrate_finds_the_pue_that_gives_an_energy_target(tiny: LoadedScenario) -> None:
    # energy at the meter is proportional to PUE, and the runs share their random numbers:
    # 20% more energy needs exactly 20% more PUE
    key = "provider.energy_mwh"
    start = tiny.scenario.economics.pue
    before = evaluate(tiny.scenario, [key], replication_seeds(3, 1))[key]
    result = calibrate(
        tiny,
        {key: 1.2 * before},
        [FreeParameter("economics.pue", 1.0, 2.0, start)],
        replications=1,
        seed=3,
        max_evaluations=30,
        tolerance=0.001,
    )
    assert result.success and result.max_relative_error <= 0.001
    assert result.values["economics.pue"] == pytest.approx(1.2 * start, rel=0.002)
    assert result.evaluations == len(result.history) <= 30
    assert tiny.scenario.economics.pue == start  # the loaded scenario is untouched


def test_targets_must_be_metrics_of_the_summary() -> None:
    check_targets({"usage_ratio_vs_gpu.trainium.2023": 0.005, "queue.h100.mean_wait_hours": 1})
    with pytest.raises(UserError, match="unknown target metric") as info:
        check_targets({"provider.tco_breakdown_usd": 1.0})  # a section, not a metric
    assert info.value.key == "provider.tco_breakdown_usd" and info.value.file == "--target"


def test_truncated_ends_with_the_last_target_year() -> None:
    loaded = load_scenario(BASELINE)
    short = truncated(loaded, {"usage_ratio_vs_gpu.trainium.2023": 0.005})
    assert short.scenario.horizon.end == dt.date(2024, 1, 1)
    for pool in short.scenario.provider.pools.values():
        assert all(d.date < dt.date(2024, 1, 1) for d in pool.deliveries)
    assert truncated(loaded, {"provider.tco_usd": 1.0}) is loaded  # no year: no cut
