"""``xpusim verify``: the simulation checked against theory and against itself.

Each check runs the engine on a reference scenario (``sim/data/verify.yaml``) or the shipped
baseline and compares a simulated value with an analytic or independently recomputed one:

- M/M/c mean wait against Erlang C over a grid of load and pool size;
- gang-scheduled jobs of k chips against M/M/(c/k);
- Little's law L = lambda W on the per-job records;
- conservation: busy chip-hours, energy and money recomputed from the records and tables;
- the in-house program's value against the world without it (:mod:`sim.experiments.valuation`):
  doubling NRE moves the NPV by exactly the present value of the extra NRE, a world with no
  in-house pools has zero program value, the world without the program has no in-house
  chip-hours, and the waterfall sums to the NPV;
- the static TCO formula against the engine's cost per busy chip-hour in steady state;
- the calibration targets recorded in the baseline scenario (2023 usage ratios), on the
  record's held-out seeds (never the fitting seeds), the baseline being
  ``scenarios/baseline.yaml`` of the working directory unless another file is given;
- the article ratios held by the chip catalog;
- lifecycles: no chip is delivered on or after its end of sale in a baseline run (exact),
  and a planned delivery after it is refused;
- validation (``sim/data/validation.yaml``): outside facts not used in fitting (the Graviton
  precedent, the in-house share of AWS's accelerator compute in 2025 with and without the
  anchor customer), each against the
  model on seeds no fit has used (:mod:`sim.experiments.validation`);
- comparative statics (``sim/data/levers.yaml``): each lever run on the baseline and its
  variant on the same unseen seeds, passing when the paired 95% interval lies on the side
  of zero the mechanism predicts (:mod:`sim.experiments.statics`).

Each check has a kind: ``verification`` (the code computes the model: theory, conservation,
recomputation), ``calibration`` (the fitted targets reproduced), ``statics`` (levers move
outcomes the right way) or ``validation`` (the model against outside facts not used in
fitting); they are reported apart.

A stochastic check passes when the replication mean is within its tolerance of theory or
within three standard errors of it. ``reduced`` runs fewer jobs and replications (CI).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sim.accounting.runner import run_one
from sim.engine.core import simulate
from sim.errors import ScenarioError
from sim.experiments.calibration import HOLDOUT_SEED, cut_horizon, evaluate, truncated
from sim.experiments.checks import DEFAULT_BASELINE, Check
from sim.experiments.statics import Effect, measure_all
from sim.experiments.validation import Validation, validate_all
from sim.experiments.valuation import program_checks
from sim.model import economics as ec
from sim.model.catalog import ratio_results
from sim.model.queueing import mmc, mmc_gang
from sim.model.rng import replication_seeds
from sim.model.schema import Delivery, Scenario
from sim.model.timeline import Clock
from sim.model.units import HOURS_PER_MONTH, W_PER_MW
from sim.scenario import LoadedScenario, load_catalog, load_scenario, substitute


def _reference() -> LoadedScenario:
    path = resources.files("sim") / "data" / "verify.yaml"
    return load_scenario(Path(str(path)))


def _mmc_values(
    base: LoadedScenario, lam: float, mu: float, chips: int, gang: int, days: int
) -> dict[str, Any]:
    chip = base.scenario.catalog.chips["ref_gpu"]
    rate = float(ec.pflop_per_chip_hour(chip.training_tflops, chip.training_mfu, 1.0))
    end = base.scenario.horizon.start + dt.timedelta(days=days)
    return {
        "horizon.end": end,
        "provider.pools.ref_gpu.initial_chips": chips,
        "segments.all.training.jobs_per_month": lam * HOURS_PER_MONTH,
        "segments.all.training.size.mean_pflop": rate * gang / mu,
        "segments.all.training.gang_chips": gang,
        "outputs.jobs_table": False,
    }


def _mmc_scenario(
    base: LoadedScenario, lam: float, mu: float, chips: int, gang: int, days: int
) -> Scenario:
    return substitute(base, _mmc_values(base, lam, mu, chips, gang, days)).scenario


def _stochastic(group: str, name: str, values: list[float], expected: float, tol: float) -> Check:
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else 0.0
    ok = abs(mean - expected) <= max(tol * abs(expected), 3.0 * se)
    return Check(
        group, name, mean, expected, tol, ok, f"{len(arr)} replications, 3 SE = {3 * se:.3g}"
    )


def queueing_checks(reduced: bool) -> Iterator[Check]:
    """M/M/c against Erlang C, and gang jobs against M/M/(c/k)."""
    base = _reference()
    days, reps = (150, 3) if reduced else (730, 6)
    grid = (
        [(0.5, 1), (0.8, 4), (0.9, 16)]
        if reduced
        else [(rho, c) for rho in (0.5, 0.8, 0.9) for c in (1, 4, 16)]
    )
    for rho, c in grid:
        lam = rho * c
        theory = mmc(lam, 1.0, c)
        s = _mmc_scenario(base, lam, 1.0, c, 1, days)
        waits = [
            run_one(s, sd).summary["queue"]["ref_gpu"]["mean_wait_hours"]
            for sd in replication_seeds(7, reps)
        ]
        yield _stochastic(
            "M/M/c vs Erlang C",
            f"c={c}, rho={rho}: mean wait h",
            waits,
            theory.mean_wait_hours,
            0.1,
        )
    gangs = [(16, 4, 0.75)] if reduced else [(16, 4, 0.75), (64, 8, 0.8)]
    for chips, k, rho in gangs:
        lam = rho * chips / k
        theory = mmc_gang(lam, 1.0, chips, k)
        s = _mmc_scenario(base, lam, 1.0, chips, k, days)
        waits = []
        utils = []
        for sd in replication_seeds(7, reps):
            q = run_one(s, sd).summary["queue"]["ref_gpu"]
            waits.append(q["mean_wait_hours"])
            utils.append(q["utilization"])
        name = f"{chips} chips, gangs of {k} (M/M/{chips // k})"
        yield _stochastic(
            "gang vs M/M/(c/k)", f"{name}: mean wait h", waits, theory.mean_wait_hours, 0.1
        )
        yield _stochastic(
            "gang vs M/M/(c/k)", f"{name}: utilisation", utils, theory.utilization, 0.02
        )


def record_checks(reduced: bool) -> Iterator[Check]:
    """Little's law, conservation and the static TCO, on one reference run with job records."""
    base = _reference()
    days = 120 if reduced else 366
    values = _mmc_values(base, 6.0, 1.0, 8, 1, days)
    s = substitute(base, {**values, "outputs.jobs_table": True}).scenario
    acc = run_one(s, 3)
    jobs = acc.tables["jobs"]
    ts = acc.tables["timeseries"]
    horizon_h = (s.horizon.end - s.horizon.start).days * 24.0
    done = jobs.dropna(subset=["end_hours"])
    t0, t1 = 0.1 * horizon_h, 0.9 * horizon_h
    a = done["arrival_hours"].to_numpy()
    e = done["end_hours"].to_numpy()
    occupancy = float(np.clip(np.minimum(e, t1) - np.maximum(a, t0), 0, None).sum() / (t1 - t0))
    window = done[(done.arrival_hours >= t0) & (done.arrival_hours < t1)]
    lam = len(window) / (t1 - t0)
    sojourn = float((window.end_hours - window.arrival_hours).mean())
    yield Check(
        "Little's law",
        "L = lambda W (jobs in system)",
        occupancy,
        lam * sojourn,
        0.02,
        abs(occupancy / (lam * sojourn) - 1) <= 0.02,
    )

    started = jobs.dropna(subset=["start_hours"])
    busy = float(
        ((np.minimum(started.end_hours, horizon_h) - started.start_hours) * started.chips).sum()
    )
    yield _exact(
        "conservation",
        "busy chip-hours: timeseries = job records",
        float(ts.busy_chip_hours.sum()),
        busy,
    )
    yield _exact(
        "conservation",
        "busy chip-hours: summary = timeseries",
        float(acc.summary["provider"]["busy_chip_hours"]),
        float(ts.busy_chip_hours.sum()),
    )
    chip = s.catalog.chips["ref_gpu"]
    eco = s.economics
    idle = float(ts.installed_chip_hours.sum()) - busy
    mwh = (
        (busy * chip.busy_power_w + idle * chip.idle_power_w)
        * (1 + eco.host_power_overhead_fraction)
        * eco.pue
        / W_PER_MW
    )
    yield _exact(
        "conservation",
        "energy MWh: summary = power x hours x PUE",
        float(acc.summary["provider"]["energy_mwh"]),
        mwh,
    )
    parts = ts[["capital_usd", "power_usd", "facility_usd", "maintenance_usd", "nre_usd"]]
    yield _exact(
        "conservation",
        "money: TCO = sum of components",
        float(ts.tco_usd.sum()),
        float(parts.to_numpy().sum()),
    )
    yield _exact(
        "conservation",
        "money: revenue = billed hours x price",
        float(acc.summary["provider"]["revenue_usd"]),
        busy * chip.cloud_price_usd_per_chip_hour,
    )

    util = busy / float(ts.installed_chip_hours.sum())
    engine_per_busy = float(ts.tco_usd.sum()) / busy
    yield _exact(
        "static TCO",
        f"cost per busy chip-hour at utilisation {util:.3f}",
        engine_per_busy,
        float(ec.chip_usd_per_busy_hour(chip, eco, chip.unit_cost_usd, util)),
    )


def _exact(group: str, name: str, simulated: float, expected: float) -> Check:
    tol = 1e-9
    ok = math.isclose(simulated, expected, rel_tol=tol, abs_tol=1e-9)
    return Check(group, name, simulated, expected, tol, ok, "recomputed independently")


#: Where ``--reduced`` cuts the baseline for the lifecycle check: after the end of sale of
#: the A10G (2025-06), H100 and Inferentia2 (2025-12), H200 (2026-06) and Trainium2
#: (2026-12), so every end of sale the baseline meets is crossed.
LIFECYCLE_REDUCED_END = dt.date(2027, 4, 1)


def _baseline(baseline: Path | None, kind: str) -> LoadedScenario | Check:
    """The baseline scenario, or a failed check saying it is not there."""
    path = DEFAULT_BASELINE if baseline is None else Path(baseline)
    if not path.is_file():
        return Check(
            kind,
            f"baseline scenario {path} found (give another with --baseline FILE)",
            0.0,
            1.0,
            0.0,
            False,
            kind=kind,
        )
    return load_scenario(path)


def calibration_checks(reduced: bool, baseline: Path | None = None) -> Iterator[Check]:
    """The baseline's recorded calibration targets, re-simulated (mean over replications).

    ``baseline`` defaults to :data:`DEFAULT_BASELINE` (relative to the working directory); a
    baseline that is not there is a failed check, never a silent pass.
    """
    loaded = _baseline(baseline, "calibration")
    if isinstance(loaded, Check):
        yield loaded
        return
    s = loaded.scenario
    cal = s.calibration
    if cal is None or not cal.targets:
        yield Check(
            "calibration",
            "baseline has a calibration record",
            0.0,
            1.0,
            0.0,
            False,
            kind="calibration",
        )
        return
    # held-out seeds: never those the fit used, so this check can fail
    seed = cal.holdout_seed if cal.holdout_seed is not None else HOLDOUT_SEED
    reps = cal.holdout_replications or cal.replications
    short = truncated(loaded, cal.targets).scenario
    means = evaluate(short, list(cal.targets), replication_seeds(seed, reps))
    for key, target in cal.targets.items():
        got = means[key]
        source = cal.target_sources.get(key, "")
        yield Check(
            "calibration",
            f"{key} [{source}]",
            got,
            target,
            0.1,
            abs(got / target - 1) <= 0.1,
            f"mean of {reps} held-out replications (seed {seed}, never used to fit)",
            kind="calibration",
        )
    del reduced


def lifecycle_checks(reduced: bool, baseline: Path | None = None) -> Iterator[Check]:
    """Chips are bought only while on sale: in a run of the baseline no chip is delivered on
    or after its end of sale (exact), and a planned delivery after it is refused."""
    loaded = _baseline(baseline, "lifecycle")
    if isinstance(loaded, Check):
        yield loaded
        return
    if reduced:
        loaded = cut_horizon(loaded, LIFECYCLE_REDUCED_END)
    s = loaded.scenario
    log = simulate(s, replication_seeds(s.seed, 1)[0])
    clock = Clock(s.horizon.start, s.horizon.end)
    late = 0.0
    for c in log.cohorts:
        chip = s.catalog.chips[log.pool_ids[c.pool]]
        eos = chip.end_of_sale_date
        if c.bought_in_horizon and eos is not None and c.start_h >= clock.hours(eos):
            late += c.chips
    ended = sum(1 for cid in s.provider.pools if s.catalog.chips[cid].end_of_sale_date)
    yield _exact(
        "lifecycle",
        f"chips delivered on or after their end of sale ({ended} pools with one, "
        f"1 replication to {s.horizon.end})",
        late,
        0.0,
    )
    refused = _late_delivery_refused(loaded)
    yield Check(
        "lifecycle",
        "a planned delivery after a chip's end of sale is a scenario error",
        float(refused),
        1.0,
        0.0,
        refused,
    )


def _late_delivery_refused(loaded: LoadedScenario) -> bool:
    """Whether a delivery planned the day a pool's chip goes off sale is refused."""
    s = loaded.scenario
    for cid, pool in s.provider.pools.items():
        eos = s.catalog.chips[cid].end_of_sale_date
        if eos is None or not s.horizon.start <= eos < s.horizon.end:
            continue
        late = [*pool.deliveries, Delivery(date=eos, chips=1)]
        try:
            substitute(
                loaded,
                {f"provider.pools.{cid}.deliveries": [d.model_dump() for d in late]},
            )
        except ScenarioError:
            return True
        return False
    return False


def _statics_check(effect: Effect) -> Check:
    lever, d = effect.lever, effect.difference
    rel = effect.relative
    hw = "n/a" if d.half_width is None else f"{d.half_width:.4g}"
    effect_text = "" if rel is None else f" ({rel:+.1%} of the base)"
    return Check(
        f"comparative statics: {lever.mechanism}",
        f"{lever.name} [{lever.metric}]",
        d.mean,
        0.0,
        0.0 if d.half_width is None else d.half_width,
        effect.passed,
        f"paired difference {d.mean:.4g} +- {hw}{effect_text} over {d.n} seeds; "
        f"base {effect.base_mean:.4g}, changed {effect.variant_mean:.4g}; "
        f"predicted {lever.expect}",
        kind="statics",
    )


def statics_checks(reduced: bool, baseline: Path | None = None) -> Iterator[Check]:
    """Every shipped lever on the baseline: effect and paired interval, on unseen seeds."""
    loaded = _baseline(baseline, "statics")
    if isinstance(loaded, Check):
        yield loaded
        return
    for effect in measure_all(loaded, reduced=reduced):
        yield _statics_check(effect)


def _validation_check(v: Validation) -> Check:
    f = v.fact
    hw = "n/a" if v.model.half_width is None else f"{v.model.half_width:.3g}"
    spread = max(f.high - f.fact, f.fact - f.low)
    return Check(
        "validation",
        f"{f.name} [{f.source}]",
        v.model.mean,
        f.fact,
        spread / abs(f.fact) if f.fact else spread,
        v.passed,
        v.problem
        or (
            f"{f.metric} = {v.model.mean:.3g} +- {hw} over {v.model.n} seeds ({f.scenario}); "
            f"fact {f.fact:g}, band [{f.low:g}, {f.high:g}]"
        ),
        kind="validation",
    )


def validation_checks(reduced: bool, baseline: Path | None = None) -> Iterator[Check]:
    """The outside facts of ``sim/data/validation.yaml``, none used in fitting."""
    loaded = _baseline(baseline, "validation")
    if isinstance(loaded, Check):
        yield loaded
        return
    path = DEFAULT_BASELINE if baseline is None else Path(baseline)
    for v in validate_all(path, reduced=reduced):
        yield _validation_check(v)


def catalog_checks() -> Iterator[Check]:
    """The article ratios the catalog must hold."""
    catalog, _ = load_catalog()
    for ratio, measured, ok in ratio_results(catalog):
        yield Check(
            "catalog ratios",
            f"{ratio.name} [{ratio.source}]",
            math.nan if measured is None else measured,
            ratio.expected,
            ratio.tolerance,
            bool(ok),
        )


def run_checks(
    reduced: bool = False,
    progress: Callable[[Check], None] | None = None,
    *,
    baseline: Path | None = None,
) -> list[Check]:
    """Every check, in order; `progress` is called after each.

    ``baseline`` is the scenario whose calibration record is checked (default
    :data:`DEFAULT_BASELINE`).
    """
    out: list[Check] = []
    for gen in (
        queueing_checks(reduced),
        record_checks(reduced),
        program_checks(_baseline(baseline, "verification")),
        calibration_checks(reduced, baseline),
        catalog_checks(),
        lifecycle_checks(reduced, baseline),
        statics_checks(reduced, baseline),
        validation_checks(reduced, baseline),
    ):
        for check in gen:
            out.append(check)
            if progress is not None:
                progress(check)
    return out


def as_rows(checks: list[Check]) -> list[dict[str, Any]]:
    """Checks as plain rows (for tables and JSON)."""
    return [
        {
            "group": c.group,
            "check": c.name,
            "simulated": c.simulated,
            "expected": c.expected,
            "relative_error": c.relative_error,
            "tolerance": c.tolerance,
            "passed": c.passed,
            "note": c.note,
            "kind": c.kind,
        }
        for c in checks
    ]


__all__ = ["DEFAULT_BASELINE", "Check", "as_rows", "run_checks"]
