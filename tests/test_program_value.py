"""The in-house program's value against the world without it: the scenario transformation,
program costs at scale and sunk, the waterfall's identities, NPV/IRR/payback, paired
intervals, and the runner's orchestration (same bytes for any worker count)."""

from __future__ import annotations

import copy
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.accounting.counterfactual import has_program, inhouse_pools, without_program
from sim.accounting.flows import ProviderFlows
from sim.accounting.runner import run, run_one, summary_of_one
from sim.accounting.value import (
    WATERFALL_ITEMS,
    combine_values,
    replication_value,
    waterfall_items,
)
from sim.errors import UserError
from sim.model import economics as ec
from sim.model.pricing import capex_usd_per_chip
from sim.model.schema import Scenario
from sim.model.statistics import mean_interval
from sim.scenario import load_scenario
from sim.scenario.paths import value_at
from tests.factories import CHIP, ECONOMICS, STACK, build

REPO = Path(__file__).resolve().parent.parent
ASIC: dict[str, Any] = {
    **CHIP,
    "name": "Test ASIC",
    "vendor": "aws",
    "family": "trainium",
    "stack": "neuron",
    "launch_date": dt.date(2023, 1, 1),
    "unit_cost_usd": 10000.0,
    "cloud_price_usd_per_chip_hour": 3.0,
}


def program_dict() -> dict[str, Any]:
    """Two years of a GPU pool and an in-house pool, a billed lab and internal serving."""
    return {
        "name": "program",
        "seed": 3,
        "replications": 2,
        "horizon": {"start": dt.date(2024, 1, 1), "end": dt.date(2026, 1, 1)},
        "economics": dict(ECONOMICS),
        "catalog": {
            "chips": {"gpu": dict(CHIP), "asic": dict(ASIC)},
            "stacks": {"cuda": dict(STACK), "neuron": {**STACK, "name": "Neuron"}},
        },
        "vendors": {"nvidia": {"gross_margin_fraction": 0.75, "lead_time_weeks": 4}},
        "provider": {
            "name": "test",
            "pools": {
                "gpu": {"initial_chips": 64, "procure": True},
                "asic": {"initial_chips": 64, "procure": True},
            },
            "procurement": {"policy": "forecast"},
            "pricing": {"committed_fraction": 0.0, "committed_discount_fraction": 0.0},
            "inhouse_program": {
                "acquisition_usd": 400e6,
                "acquisition_date": dt.date(2020, 1, 1),
                "fixed_usd_per_year": 100e6,
                "reference_gpu": "gpu",
                "scale_fraction": 0.5,
                "generations": {
                    "asic": {
                        "nre_usd": 300e6,
                        "nre_start": dt.date(2021, 1, 1),
                        "reference_volume_chips": 1000.0,
                        "learning_rate": 0.85,
                        "lead_time_weeks": 4,
                    }
                },
            },
        },
        "segments": {
            "lab": {
                "training": {
                    "jobs_per_month": 200.0,
                    "growth_per_year": 0.5,
                    "size": {"law": "exponential", "mean_pflop": 18000.0},
                    "gang_chips": 8,
                },
                "platforms": {"training": {"gpu": 0.5, "asic": 0.5}},
                "permitted": {"training": ["asic"]},
            },
            "internal": {
                "internal": True,
                "inference": {"tokens_per_s": 20000.0},
                "platforms": {"inference": {"asic": 1.0}},
            },
        },
        "adoption": {"enabled": False},
        "scheduling": {"spill": {"gpu": ["asic"], "asic": ["gpu"]}},
    }


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build(program_dict())


# --------------------------------------------------------------------------- the transformation


def test_without_program_removes_the_chips_and_reassigns_their_work(scenario: Scenario) -> None:
    alt = without_program(scenario)
    assert inhouse_pools(scenario) == ["asic"] and has_program(scenario)
    assert list(alt.provider.pools) == ["gpu"] and alt.provider.inhouse_program is None
    assert alt.scheduling.spill == {}  # gpu -> [asic] lost its only target
    lab = alt.segments["lab"]
    assert lab.platforms["training"] == {"gpu": 1.0}  # the kept mix, renormalised
    assert "training" not in lab.permitted  # a list of in-house pools only is dropped
    # internal serving was all in-house: it takes the remaining fleet's mix
    assert alt.segments["internal"].platforms["inference"] == {"gpu": 1.0}
    # nothing else moves: demand, seeds, economics, catalog
    assert alt.segments["lab"].training == scenario.segments["lab"].training
    assert (alt.seed, alt.economics, alt.catalog) == (
        scenario.seed,
        scenario.economics,
        scenario.catalog,
    )
    assert without_program(alt) == alt  # nothing left to remove


def test_reassignment_is_proportional_to_the_remaining_shares() -> None:
    d = program_dict()
    d["catalog"]["chips"]["gpu2"] = {**CHIP, "name": "Second GPU"}
    d["provider"]["pools"]["gpu2"] = {"initial_chips": 10}
    d["segments"]["lab"]["platforms"]["training"] = {"gpu": 0.2, "gpu2": 0.3, "asic": 0.5}
    d["segments"]["lab"]["permitted"]["training"] = ["asic", "gpu2"]
    alt = without_program(build(d))
    assert alt.segments["lab"].platforms["training"] == pytest.approx({"gpu": 0.4, "gpu2": 0.6})
    assert alt.segments["lab"].permitted["training"] == ["gpu2"]
    # internal inference: the remaining pools' initial chips, 64 : 10
    mix = alt.segments["internal"].platforms["inference"]
    assert mix == pytest.approx({"gpu": 64 / 74, "gpu2": 10 / 74})


def test_a_workload_left_without_any_pool_is_a_clear_error() -> None:
    d = program_dict()
    d["catalog"]["chips"]["gpu"]["workloads"] = ["training"]
    with pytest.raises(UserError, match=r"internal.*no pool serves its inference"):
        without_program(build(d))


def test_a_program_without_in_house_pools_is_refused() -> None:
    d = program_dict()
    del d["provider"]["pools"]["asic"]
    d["segments"] = {"lab": {**d["segments"]["lab"], "platforms": {"training": {"gpu": 1.0}}}}
    d["segments"]["lab"].pop("permitted")
    d["scheduling"] = {}
    with pytest.raises(ValueError, match="needs a pool of an in-house chip"):
        Scenario.model_validate(d)


def test_every_shipped_program_has_a_world_without_it() -> None:
    valued = []
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        s = load_scenario(path).scenario
        # a program needs in-house pools (the schema refuses one without)
        assert has_program(s) == (s.provider.inhouse_program is not None), path.name
        if has_program(s):
            alt = without_program(s)
            assert not inhouse_pools(alt) and alt.provider.inhouse_program is None, path.name
            valued.append(path.stem)
    assert "baseline" in valued and "chatgpt-scale" not in valued


# --------------------------------------------------------------------------- costs at scale


def test_program_costs_are_scaled_and_split_at_the_horizon_start(scenario: Scenario) -> None:
    acc = run_one(scenario, 1)
    costs = acc.result.inhouse_program
    assert costs is not None
    half = 0.5  # scale_fraction
    # NRE 2021-01-01 to the 2023-01-01 launch and the 2020 acquisition: all before 2024
    assert costs.nre_usd == 0.0 and costs.acquisition_usd == 0.0
    assert costs.sunk_usd == pytest.approx(half * (400e6 + 300e6))
    assert costs.fixed_usd == pytest.approx(half * 100e6 * 731 / 365)  # 2024 is a leap year
    r = scenario.economics.discount_rate_per_year
    k = math.log1p(r)
    # the acquisition 1,461 days before the start; NRE spread over 1,095 to 365 days before
    nre = 300e6 / (730 / 365) * (math.exp(k * 1095 / 365) - math.exp(k * 365 / 365)) / k
    expected = half * (400e6 * (1 + r) ** (1461 / 365) + nre)
    assert costs.sunk_at_start_usd == pytest.approx(expected, rel=1e-12)
    # in the horizon the provider pays the fixed cost only: TCO = pools + program
    flows = acc.flows
    assert float(flows.cost_usd.sum()) == pytest.approx(acc.summary["provider"]["tco_usd"])
    assert float(flows.profit_usd.sum()) == pytest.approx(acc.summary["provider"]["margin_usd"])


def test_nre_spread_across_the_horizon_start() -> None:
    d = program_dict()
    d["catalog"]["chips"]["asic"]["launch_date"] = dt.date(2025, 1, 1)
    d["provider"]["pools"]["asic"] = {"initial_chips": 0, "procure": True}
    d["provider"]["pools"]["gpu"]["initial_chips"] = 64
    s = build(d)
    costs = run_one(s, 1).result.inhouse_program
    assert costs is not None
    # 300e6 x 0.5 spread evenly over 2021-01-01 .. 2025-01-01 (1,461 days): 1,095 before
    assert costs.nre_usd == pytest.approx(150e6 * 366 / 1461, rel=1e-9)
    assert costs.sunk_usd - 200e6 == pytest.approx(150e6 * 1095 / 1461, rel=1e-9)


def test_learning_counts_the_programs_volume(scenario: Scenario) -> None:
    # the modelled world is half the program: 100 modelled chips are 200 of the program's
    full = build(program_dict(), provider__inhouse_program__scale_fraction=1.0)
    on = scenario.horizon.start
    assert capex_usd_per_chip(scenario, "asic", on, 100.0, 50) == pytest.approx(
        capex_usd_per_chip(full, "asic", on, 200.0, 100)
    )


# --------------------------------------------------------------------------- value identities


def _flows(**over: Any) -> ProviderFlows:
    n = 3
    base: dict[str, Any] = {
        "months": ("2024-01-01", "2024-02-01", "2024-03-01"),
        "month_end_years": np.array([31.0, 60.0, 91.0]) / 365.0,
    }
    fields = [f for f in ProviderFlows.__dataclass_fields__ if f not in base]
    values = {f: np.full(n, 10.0) for f in fields}
    values.update({k: np.asarray(v, dtype=float) for k, v in over.items()})
    return ProviderFlows(**base, **values)


def test_waterfall_items_sum_to_the_incremental_profit_month_by_month() -> None:
    rng = np.random.default_rng(5)
    fields = [
        f for f in ProviderFlows.__dataclass_fields__ if f not in ("months", "month_end_years")
    ]
    with_ = _flows(**{f: rng.uniform(0, 100, 3) for f in fields})
    without = _flows(**{f: rng.uniform(0, 100, 3) for f in fields})
    items = waterfall_items(with_, without)
    total = sum(items[k] for k in WATERFALL_ITEMS)
    np.testing.assert_allclose(total, with_.profit_usd - without.profit_usd, rtol=1e-12)


def test_revenue_split_into_price_and_volume() -> None:
    # the same work at a lower price: all price; more work at the same price: all volume
    cheaper = waterfall_items(
        _flows(training_revenue_usd=[8, 8, 8], training_pflop=[4, 4, 4]),
        _flows(training_revenue_usd=[10, 10, 10], training_pflop=[4, 4, 4]),
    )
    assert cheaper["revenue_price_usd"].tolist() == [-2.0, -2.0, -2.0]
    assert cheaper["revenue_volume_usd"].tolist() == [0.0, 0.0, 0.0]
    more = waterfall_items(
        _flows(serving_revenue_usd=[15, 15, 15], serving_mtok=[6, 6, 6]),
        _flows(serving_revenue_usd=[10, 10, 10], serving_mtok=[4, 4, 4]),
    )
    assert more["revenue_volume_usd"].tolist() == [5.0, 5.0, 5.0]
    assert more["revenue_price_usd"].tolist() == [0.0, 0.0, 0.0]
    # work sold only with the program: volume at its own price
    new = waterfall_items(
        _flows(training_revenue_usd=[6, 0, 0], training_pflop=[3, 0, 0]),
        _flows(training_revenue_usd=[0, 0, 0], training_pflop=[0, 0, 0]),
    )
    assert new["revenue_volume_usd"].tolist() == [6.0, 0.0, 0.0]


def test_npv_irr_payback_and_sunk_costs() -> None:
    # with the program: -100 a month more cost in month 1, then +80 a month more revenue
    with_ = _flows(fixed_usd=[110, 10, 10], serving_revenue_usd=[10, 90, 90])
    without = _flows()
    t = with_.month_end_years
    flow = np.array([-100.0, 80.0, 80.0])
    v = replication_value(
        with_, without, rate_per_year=0.1, sunk_at_start_usd=0.0, include_sunk=False
    )
    assert v.summary.npv_usd == pytest.approx(float(ec.npv_usd(flow, t, 0.1)))
    assert v.summary.waterfall.total_usd == pytest.approx(v.summary.npv_usd)
    assert v.summary.irr_note == "unique"
    assert float(ec.npv_usd(flow, t, v.summary.irr_per_year)) == pytest.approx(0.0, abs=1e-6)
    # cumulative -100, -20, +60: crosses zero a quarter of the way through month 3
    assert v.summary.payback_years == pytest.approx(t[1] + 0.25 * (t[2] - t[1]))
    assert v.summary.paid_back == 1.0 and v.summary.breakeven_date == "2024-03-01"
    # sunk costs included: one flow at the start, the NPV lower by exactly that
    s = replication_value(
        with_, without, rate_per_year=0.1, sunk_at_start_usd=50.0, include_sunk=True
    )
    assert s.summary.npv_usd == pytest.approx(v.summary.npv_usd - 50.0)
    assert s.summary.waterfall.sunk_usd == -50.0


def test_sunk_costs_move_the_payback() -> None:
    with_ = _flows(fixed_usd=[110, 10, 10], serving_revenue_usd=[10, 90, 90])
    v = replication_value(
        with_, _flows(), rate_per_year=0.0, sunk_at_start_usd=70.0, include_sunk=True
    )
    # cumulative -70 (start), -170, -90, -10: never pays back within the three months
    assert v.summary.payback_years is None and v.summary.paid_back == 0.0
    v2 = replication_value(
        with_, _flows(), rate_per_year=0.0, sunk_at_start_usd=50.0, include_sunk=True
    )
    t = with_.month_end_years
    # -50, -150, -70, +10: crosses in month 3 at 70/80 of the way
    assert v2.summary.payback_years == pytest.approx(t[1] + 70 / 80 * (t[2] - t[1]))
    assert v2.table["sunk_usd"].tolist() == [-50.0]


def test_paired_intervals_are_intervals_of_the_differences() -> None:
    rng = np.random.default_rng(2)
    values = []
    for _ in range(5):
        common = rng.uniform(50, 150, 3)  # what both worlds share (common random numbers)
        with_ = _flows(serving_revenue_usd=common + rng.uniform(0, 5, 3))
        without = _flows(serving_revenue_usd=common)
        values.append(
            replication_value(
                with_, without, rate_per_year=0.05, sunk_at_start_usd=0.0, include_sunk=False
            )
        )
    means, half, table, per_rep = combine_values(values, list(range(5)), dt.date(2024, 1, 1))
    diffs = [v.summary.incremental_profit_usd for v in values]
    assert means["incremental_profit_usd"] == pytest.approx(float(np.mean(diffs)))
    assert half["incremental_profit_usd"] == pytest.approx(mean_interval(diffs).half_width)
    # pairing removes the shared noise: the unpaired interval of the two worlds is far wider
    with_totals = [v.pairs["incremental_profit_usd"][1] for v in values]
    without_totals = [v.pairs["incremental_profit_usd"][0] for v in values]
    unpaired = math.hypot(
        mean_interval(with_totals).half_width or 0.0,
        mean_interval(without_totals).half_width or 0.0,
    )
    assert half["incremental_profit_usd"] < unpaired / 5
    assert table["replication"].tolist() == [0, 1, 2, 3, 4] and len(per_rep) == 5
    items = means["waterfall"]
    assert sum(items[k] for k in WATERFALL_ITEMS) == pytest.approx(means["npv_usd"])


# --------------------------------------------------------------------------- the runner


def test_run_values_the_program_identically_for_any_worker_count(scenario: Scenario) -> None:
    one = run(scenario, workers=1)
    two = run(scenario, workers=2)
    assert one.summary == two.summary
    for name in one.tables:
        assert one.tables[name].equals(two.tables[name]), name
    pv = one.summary["program_value"]
    assert pv["counterfactual_inhouse_chip_hours"] == 0.0
    items = pv["waterfall"]
    assert sum(items[k] for k in WATERFALL_ITEMS) == pytest.approx(pv["npv_usd"], rel=1e-9)
    assert value_at(one.summary, "interval95.program_value.npv_usd") is not None
    assert [r["program_value"]["npv_usd"] for r in one.summary["replications"]] == pytest.approx(
        [replication_npv(scenario, sd) for sd in (r["seed"] for r in one.summary["replications"])]
    )
    table = one.tables["program_value"]
    assert sorted(set(table["year"])) == [2024, 2025]


def replication_npv(scenario: Scenario, seed: int) -> float:
    """One replication's NPV, both worlds run here (the sweep's path)."""
    return float(summary_of_one(scenario, seed)["program_value"]["npv_usd"])


def test_the_counterfactual_can_be_skipped(scenario: Scenario) -> None:
    skipped = run(scenario, workers=1, counterfactual=False)
    assert "program_value" not in skipped.summary and "program_value" not in skipped.tables
    off = build(program_dict(), outputs={"counterfactual": False})
    assert "program_value" not in run(off, workers=1).summary
    assert "program_value" not in summary_of_one(off, 3)


def test_the_world_without_the_program_draws_the_same_demand(scenario: Scenario) -> None:
    # common random numbers: the same training jobs arrive with the same sizes
    with_ = run_one(build(program_dict(), outputs={"jobs_table": True}), 5).tables["jobs"]
    alt = without_program(build(program_dict(), outputs={"jobs_table": True}))
    without = run_one(alt, 5).tables["jobs"]
    cols = ["segment", "arrival_hours", "pflop"]
    a = with_[cols].sort_values(cols).reset_index(drop=True)
    b = without[cols].sort_values(cols).reset_index(drop=True)
    assert len(a) > 100 and a.equals(b)
    del scenario


def test_sunk_costs_option_lowers_the_npv_by_their_value_at_the_start(scenario: Scenario) -> None:
    base = run(scenario, workers=1)
    d = copy.deepcopy(program_dict())
    d["provider"]["inhouse_program"]["include_sunk_costs"] = True
    included = run(build(d), workers=1)
    sunk = base.summary["inhouse_program"]["sunk_at_start_usd"]
    assert sunk > 0
    got = included.summary["program_value"]["npv_usd"]
    assert got == pytest.approx(base.summary["program_value"]["npv_usd"] - sunk, rel=1e-12)
    assert included.summary["program_value"]["waterfall"]["sunk_usd"] == pytest.approx(-sunk)


def test_program_checks_report_a_missing_baseline() -> None:
    from sim.experiments.checks import Check
    from sim.experiments.valuation import program_checks

    missing = Check("verification", "baseline scenario found", 0.0, 1.0, 0.0, False)
    checks = list(program_checks(missing))
    assert checks[-1] is missing
    # the checks on a world without in-house chips run regardless, and pass
    assert [c.passed for c in checks[:-1]] == [True, True]


def test_run_text_says_which_replications_have_an_irr_and_a_payback() -> None:
    from sim.views.program_text import value_lines

    def text(**pv: object) -> str:
        base: dict[str, object] = {
            "npv_usd": 1.0e9,
            "incremental_profit_usd": 2.0e9,
            "incremental_revenue_usd": 0.0,
            "incremental_cost_usd": -2.0e9,
            "irr_per_year": 0.12,
            "irr_note": "unique",
            "payback_years": 3.0,
            "paid_back": 0.5,
            "breakeven_date": None,
        }
        summary = {"program_value": {**base, **pv}, "replication_count": 2}
        return "\n".join(value_lines(summary))

    assert "IRR 12.0%;" in text()
    assert "(mean of the 50% of replications that pay back)" in text()
    mixed = text(irr_note="none: the NPV keeps one sign")
    assert "IRR 12.0% in the replications that have one (most: none: the NPV" in mixed
    assert "IRR none (none: no sign change)" in text(
        irr_per_year=None, irr_note="none: no sign change"
    )
    assert "no payback within the horizon" in text(payback_years=None, paid_back=0.0)
    assert value_lines({"program_value": None}) == []
    scaled = "\n".join(
        value_lines(
            {
                "program_value": {"npv_usd": 1.0, "irr_note": "unique"},
                "inhouse_program": {"scale_fraction": 0.13},
            }
        )
    )
    assert "this world is 13% of the provider's AI business" in scaled
    reps = [{"program_value": {"irr_per_year": x}} for x in (0.1, None, 0.14)]
    counted = "\n".join(
        value_lines(
            {
                "program_value": {"npv_usd": 1.0, "irr_per_year": 0.12, "irr_note": "unique"},
                "replications": reps,
                "replication_count": 3,
            }
        )
    )
    assert "IRR 12.0% (mean of the 2 of 3 replications that have one)" in counted
