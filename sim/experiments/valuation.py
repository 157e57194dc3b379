"""``xpusim verify``'s checks of the in-house program's value (kind: verification).

They run the baseline cut to two years (:data:`CUT_END`; two paired replications, a few
seconds) and the reference queue scenario (``sim/data/verify.yaml``, which has no
in-house chips), and check what must hold by construction:

- doubling every generation's NRE moves the program's NPV by exactly minus the present
  value of the extra NRE spent in the horizon (nothing else in either world changes);
- a scenario with no in-house pools carries no program and has zero program value, item
  by item, against the world without it (which is the same scenario);
- the world without the program has no in-house pool and no in-house chip-hours;
- the waterfall's items sum to the NPV, and the yearly table to the summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from sim.accounting.counterfactual import inhouse_pools, without_program
from sim.accounting.runner import RunOutput, run, run_one
from sim.accounting.value import WATERFALL_ITEMS, waterfall_items
from sim.experiments.calibration import cut_horizon
from sim.experiments.checks import Check, exact
from sim.model import economics as ec
from sim.scenario import LoadedScenario, load_scenario, substitute

__all__ = ["CUT_END", "program_checks"]

#: The baseline's horizon is cut here for the checks (two years: Trainium1's and
#: Inferentia2's first deliveries, Trainium2's NRE).
CUT_END = dt.date(2024, 1, 1)
_GROUP = "program value"
_REPLICATIONS = 2
_SEED = 11


def program_checks(baseline: LoadedScenario | Check) -> Iterator[Check]:
    """The program-value checks on the (cut) baseline and on a world without in-house chips;
    ``baseline`` is the loaded baseline, or the failed check saying it is missing."""
    yield from _no_program_checks()
    if isinstance(baseline, Check):
        yield baseline
        return
    loaded = substitute(
        cut_horizon(baseline, CUT_END, what="program check horizon"),
        {"replications": _REPLICATIONS},
    )
    if not inhouse_pools(loaded.scenario) or loaded.scenario.provider.inhouse_program is None:
        yield Check(_GROUP, "the baseline has an in-house program", 0.0, 1.0, 0.0, False)
        return
    base = run(loaded.scenario, _SEED, workers=1)
    yield from _counterfactual_checks(loaded, base)
    yield from _sum_checks(base)
    yield _nre_check(loaded, base)


def _no_program_checks() -> Iterator[Check]:
    """A world with no in-house pools: no program, and zero value against itself."""
    path = resources.files("sim") / "data" / "verify.yaml"
    s = substitute(load_scenario(Path(str(path))), {"outputs.jobs_table": False}).scenario
    out = run(s, _SEED, workers=1)
    yield exact(
        _GROUP,
        "no in-house pools: no program value reported",
        float("program_value" in out.summary),
        0.0,
    )
    alternative = without_program(s)
    with_ = run_one(s, _SEED).flows
    without = run_one(alternative, _SEED).flows
    items = waterfall_items(with_, without)
    worst = max(float(np.abs(v).max()) for v in items.values())
    yield Check(
        _GROUP,
        "no in-house pools: every value item is zero against the world without the program",
        worst,
        0.0,
        0.0,
        alternative == s and worst == 0.0,
        "largest absolute monthly item, USD; the world without the program is the same",
    )


def _counterfactual_checks(loaded: LoadedScenario, base: RunOutput) -> Iterator[Check]:
    """The world without the program has no in-house pools and no in-house chip-hours."""
    alternative = without_program(loaded.scenario)
    yield exact(
        _GROUP,
        "without the program: in-house pools",
        float(len(inhouse_pools(alternative))),
        0.0,
    )
    yield exact(
        _GROUP,
        "without the program: in-house chip-hours",
        float(base.summary["program_value"]["counterfactual_inhouse_chip_hours"]),
        0.0,
        f"mean of {_REPLICATIONS} replications, baseline to {CUT_END}",
    )


def _sum_checks(base: RunOutput) -> Iterator[Check]:
    """The waterfall sums to the NPV; the yearly table sums to the summary."""
    pv = base.summary["program_value"]
    items = pv["waterfall"]
    parts = sum(items[k] for k in WATERFALL_ITEMS) + items["sunk_usd"]
    yield exact(_GROUP, "waterfall items sum to the NPV", parts, pv["npv_usd"])
    table = base.tables["program_value"]
    n = table["replication"].nunique()
    yield exact(
        _GROUP,
        "yearly present values sum to the NPV",
        float(table["present_value_usd"].sum()) / n,
        pv["npv_usd"],
    )
    yield exact(
        _GROUP,
        "yearly incremental profit sums to the summary's",
        float(table["incremental_profit_usd"].sum()) / n,
        pv["incremental_profit_usd"] - items["sunk_usd"],
    )


def _nre_check(loaded: LoadedScenario, base: RunOutput) -> Check:
    """Doubling NRE changes the NPV by minus the present value of the extra NRE."""
    s = loaded.scenario
    prog = s.provider.inhouse_program
    assert prog is not None  # checked by the caller
    doubled = substitute(
        loaded,
        {
            f"provider.inhouse_program.generations.{gid}.nre_usd": 2.0 * gen.nre_usd
            for gid, gen in prog.generations.items()
        },
    ).scenario
    changed = run(doubled, _SEED, workers=1)
    program = base.tables["program"]
    months = [dt.date.fromisoformat(m) for m in program["month"].unique()]
    ends = [*months[1:], s.horizon.end]
    t_years = np.array([(e - s.horizon.start).days / 365.0 for e in ends])
    extra = program.groupby("replication", sort=True)["nre_usd"].apply(
        lambda col: float(
            ec.npv_usd(col.to_numpy(float), t_years, s.economics.discount_rate_per_year)
        )
    )
    return exact(
        _GROUP,
        "doubling NRE changes the NPV by minus the present value of the extra NRE",
        changed.summary["program_value"]["npv_usd"] - base.summary["program_value"]["npv_usd"],
        -float(extra.mean()),
        f"extra NRE in the horizon {float(program['nre_usd'].sum()) / _REPLICATIONS:,.0f} USD, "
        "discounted from each month's end",
    )
