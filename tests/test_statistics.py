"""Intervals over replications and comparative statics (paired under common random numbers)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from sim.accounting.runner import run
from sim.accounting.summary import find_metric
from sim.experiments.statics import Lever, lever_values, levers, measure, metric_value
from sim.model.statistics import mean_interval, paired_interval, t_quantile
from sim.scenario import load_scenario

HERE = Path(__file__).parent
TINY = HERE / "data" / "sweep" / "tiny.yaml"

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=30))
def test_mean_interval_matches_scipy(values: list[float]) -> None:
    i = mean_interval(values)
    arr = np.asarray(values)
    assert i.n == len(values)
    assert i.mean == pytest.approx(arr.mean(), rel=1e-12, abs=1e-9)
    sem = stats.sem(arr)
    if sem == 0 or not math.isfinite(sem):
        assert i.half_width == pytest.approx(0.0, abs=1e-6)
        return
    low, high = stats.t.interval(0.95, len(arr) - 1, loc=arr.mean(), scale=sem)
    assert i.half_width == pytest.approx((high - low) / 2, rel=1e-9)


def test_t_quantiles_of_the_textbook() -> None:
    # two-sided 95% critical values (any Student-t table)
    assert t_quantile(1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile(7) == pytest.approx(2.365, abs=1e-3)
    assert t_quantile(30) == pytest.approx(2.042, abs=1e-3)
    with pytest.raises(ValueError):
        t_quantile(0)


def test_interval_without_spread_or_values() -> None:
    assert mean_interval([3.0]).half_width is None
    assert mean_interval([None, float("nan")]).n == 0
    assert mean_interval([1.0, None, 3.0]).n == 2


def test_pairing_removes_the_shared_noise() -> None:
    rng = np.random.default_rng(5)
    shared = rng.normal(0.0, 10.0, 12)
    base = shared + rng.normal(0.0, 0.1, 12)
    variant = shared + 1.0 + rng.normal(0.0, 0.1, 12)
    paired = paired_interval(list(base), list(variant))
    independent = mean_interval(list(variant)).half_width + mean_interval(list(base)).half_width
    assert paired.excludes_zero() and paired.mean == pytest.approx(1.0, abs=0.2)
    assert paired.half_width is not None and paired.half_width < independent / 20
    with pytest.raises(ValueError, match="length"):
        paired_interval([1.0], [1.0, 2.0])


def test_run_summary_carries_intervals() -> None:
    scenario = load_scenario(TINY, ["replications=3"]).scenario
    out = run(scenario, seed=11, workers=1)
    s = out.summary
    assert s["replication_count"] == 3
    iv = s["interval95"]
    per_rep = [r["provider"]["tco_usd"] for r in s["replications"]]
    assert iv["provider"]["tco_usd"] == pytest.approx(mean_interval(per_rep).half_width)
    # text leaves are absent, numeric ones mirror the summary
    assert "scenario" not in iv and set(iv["provider"]) <= set(s["provider"])
    one = run(load_scenario(TINY, ["replications=1"]).scenario, seed=11, workers=1).summary
    assert one["replication_count"] == 1 and one["interval95"]["provider"]["tco_usd"] is None


def test_shipped_levers_validate_and_resolve_against_the_baseline() -> None:
    baseline = load_scenario(HERE.parent / "scenarios" / "baseline.yaml")
    assert levers(), "no lever shipped"
    for lever in levers():
        values = lever_values(baseline, lever)
        assert set(values) == set(lever.changes)
        assert find_metric(lever.metric) is not None, f"{lever.metric} is no summary metric"
    assert metric_value({"a": {"b": 2}}, "a.b") == 2.0
    assert metric_value({"a": {"b": "x"}}, "a.b") is None


def _lever(**over: object) -> Lever:
    spec: dict[str, object] = {
        "name": "test lever",
        "mechanism": "energy",
        "changes": {"economics.electricity_usd_per_kwh": "x3"},
        "metric": "provider.tco_breakdown_usd.power",
        "expect": "increase",
        "replications": 3,
        "reduced_replications": 3,
    }
    spec.update(over)
    return Lever.model_validate(spec)


def test_a_lever_that_moves_its_metric_passes_and_the_wrong_sign_fails() -> None:
    loaded = load_scenario(TINY)
    up = measure(loaded, _lever(), workers=1)
    assert up.passed and up.difference.n == 3
    # power is linear in the price: x3 triples it on every seed (no noise left after pairing)
    assert up.variant_mean == pytest.approx(3 * up.base_mean, rel=1e-9)
    assert up.relative == pytest.approx(2.0, rel=1e-9)
    down = measure(loaded, _lever(expect="decrease"), workers=1)
    assert not down.passed


def test_a_lever_that_moves_nothing_fails() -> None:
    loaded = load_scenario(TINY)
    # what Amazon paid for Annapurna Labs enters no price, cost per hour or choice, so not the
    # power bill: no effect, so no pass (the discount rate no longer qualifies: it prices the
    # provider's own teams' chip-hours, which steer their choices)
    lever = _lever(changes={"provider.inhouse_program.acquisition_usd": 1.0e9})
    still = measure(loaded, lever, workers=1)
    assert still.difference.mean == 0.0 and not still.passed


def test_a_multiplier_needs_a_number() -> None:
    loaded = load_scenario(TINY)
    with pytest.raises(ValueError, match="not a number"):
        lever_values(loaded, _lever(changes={"name": "x2"}))
