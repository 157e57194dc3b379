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
    # one undated metric among dated ones keeps the whole horizon (it needs every year)
    assert truncated(loaded, ["usage_ratio_vs_gpu.trainium.2023", "provider.tco_usd"]) is loaded


def test_years_before_the_cut_do_not_depend_on_what_comes_after_it() -> None:
    """What calibrate and sensitivity rely on when they cut the horizon: every metric of the
    years before the cut is the same as in the whole run on the same seed, to round-off."""
    from sim.accounting.ledger import account
    from sim.engine.core import simulate

    loaded = load_scenario(BASELINE)
    short = truncated(loaded, ["usage_ratio_vs_gpu.trainium.2023"])
    assert short.scenario.horizon.end < loaded.scenario.horizon.end
    whole, cut = (account(s.scenario, simulate(s.scenario, 4242)).summary for s in (loaded, short))

    def dated(tree: object, path: str = "") -> dict[str, object]:
        if isinstance(tree, dict):
            out: dict[str, object] = {}
            for k, v in tree.items():
                out |= dated(v, f"{path}.{k}" if path else str(k))
            return out
        return {path: tree} if path.rsplit(".", 1)[-1] in ("2022", "2023") else {}

    early = dated(cut)
    assert len(early) > 50 and any(k.startswith("usage.inhouse_share") for k in early)
    # the same to round-off: the accounts split work by month through prefix sums over all
    # of a pool's jobs, whose round-off grows with the run (0.02 of 3.4M PFLOP); so each
    # metric within a billionth of the largest of its kind (a real dependence is far larger)
    late = dated(whole)
    family = {k: k.rsplit(".", 2)[0] for k in early}
    scale: dict[str, float] = {}
    for k, v in early.items():
        scale[family[k]] = max(scale.get(family[k], 1.0), abs(float(v or 0.0)))
    for k, v in early.items():
        assert late[k] == pytest.approx(v, rel=1e-9, abs=1e-9 * scale[family[k]]), k
