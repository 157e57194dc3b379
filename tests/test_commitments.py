"""Negotiated commitments and the provider's count of demand it turned away.

A segment's ``commitment`` places its work on named pools from a date, outside the cost
comparison (Project Rainier's deal in ``scenarios/rainier.yaml``); ``procurement.
count_turned_away`` lets the forecast see the training jobs a full pool sent to another pool
(the Graviton precedent in ``scenarios/graviton-precedent.yaml``). Both are off unless a
scenario sets them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from sim.accounting.counterfactual import without_program
from sim.engine.core import Engine
from sim.model.schema import Scenario
from sim.model.units import HOURS_PER_MONTH
from sim.scenario import load_scenario
from tests.factories import CHIP, build, mmc_dict

ROOT = Path(__file__).resolve().parents[1]


def _two_pools(**commitment: Any) -> dict[str, Any]:
    """A segment on pool ``gpu`` with an idle pool ``spare`` of the same chip, 2 years."""
    d = mmc_dict(arrival_rate_per_hour=0.5, service_rate_per_hour=1.0, chips=4, years=2)
    d["catalog"]["chips"]["spare"] = dict(CHIP)
    d["provider"]["pools"]["spare"] = {"initial_chips": 4}
    if commitment:
        d["segments"]["all"]["commitment"] = commitment
    return d


def _mean_share(engine: Engine, month: int, pool: str) -> float:
    w = engine.world
    idx = w.pool_index[pool]
    return sum(
        r.share
        for r in w.log.shares
        if r.month == month and r.pool == idx and r.workload == "training"
    )


def test_a_commitment_moves_the_work_to_the_committed_pool_over_its_ramp() -> None:
    d = _two_pools(start=dt.date(2025, 1, 1), ramp_months=4, shares={"training": {"spare": 1.0}})
    engine = Engine(build(d), 5)
    engine.run()
    # 12 months on gpu; the ramp re-sets the shares every 730 h from 2025-01-01: 0, 1/4, ...
    # (the third step, 0.75, at 2025-04-02 06:00: recorded at the month starting 2025-05-01)
    assert _mean_share(engine, 11, "gpu") == pytest.approx(1.0)
    assert _mean_share(engine, 11, "spare") == 0.0
    assert _mean_share(engine, 16, "spare") == pytest.approx(0.75)
    assert _mean_share(engine, 16, "gpu") == pytest.approx(0.25)
    assert _mean_share(engine, 20, "spare") == pytest.approx(1.0)
    assert _mean_share(engine, 20, "gpu") == 0.0
    # jobs arriving after the ramp all run on the committed pool
    w = engine.world
    jobs = w.log.jobs
    cols = jobs.columns()
    late = [p for a, p in zip(cols.arrival_h, cols.pool, strict=True) if a > 18 * HOURS_PER_MONTH]
    assert late and set(late) == {w.pool_index["spare"]}


def test_without_a_commitment_the_shares_stay_put() -> None:
    engine = Engine(build(_two_pools()), 5)
    engine.run()
    assert _mean_share(engine, 20, "gpu") == pytest.approx(1.0)


def test_a_committed_workload_leaves_the_reviews() -> None:
    s = load_scenario(ROOT / "scenarios" / "rainier.yaml", ["horizon.end=2026-01-01"]).scenario
    engine = Engine(s, 3)
    seg = next(g for g in engine.world.segments if g.id == "anthropic")
    start = engine.world.clock.hours(dt.date(2025, 3, 1))
    engine.env.run(until=start - 1.0)
    assert not engine.decisions.committed(seg, "training")
    engine.env.run(until=start + 1.0)
    assert engine.decisions.committed(seg, "training")
    assert engine.decisions.committed(seg, "inference")


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ({"training": {"nowhere": 1.0}}, "'nowhere' is not a pool of the provider"),
        ({"training": {"spare": 0.5}}, "training shares sum to 0.5, expected 1"),
        ({"inference": {"spare": 1.0}}, "no inference demand to commit"),
    ],
)
def test_a_bad_commitment_is_refused(shares: dict[str, Any], message: str) -> None:
    d = _two_pools(start=dt.date(2025, 1, 1), shares=shares)
    with pytest.raises(ValueError, match=message):
        build(d)


def test_the_world_without_the_program_has_no_commitment_to_its_chips() -> None:
    s = load_scenario(ROOT / "scenarios" / "rainier.yaml").scenario
    assert s.segments["anthropic"].commitment is not None
    assert without_program(s).segments["anthropic"].commitment is None


# --------------------------------------------------------------------------- turned away


def _impatient_with_spare(count: bool) -> Scenario:
    """An overloaded pool (arrivals at 1.5x its capacity) whose impatient jobs find room on
    a large idle pool their segment also runs on."""
    d = mmc_dict(arrival_rate_per_hour=1.5, service_rate_per_hour=1.0, chips=1, years=1)
    d["segments"]["all"]["training"]["patience"] = {"days": 0.5, "other_cloud_fraction": 1.0}
    d["catalog"]["chips"]["spare"] = dict(CHIP)
    d["provider"]["pools"]["spare"] = {"initial_chips": 100}
    d["provider"]["procurement"] = {"policy": "forecast", "count_turned_away": count}
    d["segments"]["all"]["platforms"] = {"training": {"gpu": 0.5, "spare": 0.5}}
    return build(d)


def test_jobs_that_start_on_another_pool_are_turned_away_not_lost() -> None:
    engine = Engine(_impatient_with_spare(False), 11)
    engine.run()
    gpu = engine.world.pools[engine.world.pool_index["gpu"]]
    assert gpu.turned_away_chip_hours > 0.0
    assert gpu.lost_chip_hours == 0.0
    assert len(engine.world.log.redirected) > 0


@pytest.mark.parametrize("count", [False, True])
def test_the_forecast_counts_turned_away_demand_only_when_asked(count: bool) -> None:
    engine = Engine(_impatient_with_spare(count), 1)
    engine.decisions.update_maturity()
    supply = engine.supply
    pool = engine.world.pools[engine.world.pool_index["gpu"]]
    hist: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
    assert supply._forecast_chips(pool, 100.0, hist) == 0.0
    # 300 chip-hours turned away over the window (200 h since the first review): 1.5 chips
    pool.turned_away_chip_hours = 300.0
    assert supply._forecast_chips(pool, 200.0, hist) == pytest.approx(1.5 if count else 0.0)
