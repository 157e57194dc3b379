"""How run time grows with the horizon, demand, customers and chips; prints, asserts nothing.

Run: ``python -m benchmarks.bench_scaling`` (``--rounds``; ``--quick`` for smaller sizes).
Each point is one replication of a variant of ``scenarios/baseline.yaml`` (planned
deliveries removed so that any horizon is valid), timed in CPU seconds from its resolved
data to its summary (build, simulation, accounting), the sizes of a series interleaved in
rounds; the exponent is the least-squares slope of log(time) on log(size).

- horizon: 1 to 9 years with demand growth set to zero, so that the events grow in
  proportion to the horizon. Target: accounting linear (exponent at most 1.1). The engine's
  exponent is printed for context: as chips launch, customers weigh more options at each
  review and spread their serving over more pools, so its work per event grows with the
  horizon by the model's own content. The shipped baseline's own growth is printed beside
  it, with the events' exponent;
- demand: every segment's jobs per month and tokens per second x1, x3, x10 (4 years).
  Target: x10 demand costs at most x10 time;
- customers: every segment's customer count x1, x3, x10 (4 years). Target: x10 customers
  cost at most x2 time;
- chips: the M/M/c reference queue with 10, 100 and 1,000 chips and the same jobs.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.bench_engine import mmc_scenario_dict
from benchmarks.harness import ROOT, figure, loglog_slope, machine
from sim.accounting.ledger import account
from sim.engine.core import simulate
from sim.model.schema import Scenario
from sim.scenario import load_scenario
from tests.factories import build

BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _base() -> tuple[dict[str, Any], int]:
    s = load_scenario(BASELINE).scenario
    data = s.model_dump(mode="python")
    for pool in data["provider"]["pools"].values():
        pool["deliveries"] = []
    return data, s.seed


def _variant(data: dict[str, Any], years: float, **scale: float) -> dict[str, Any]:
    d = copy.deepcopy(data)
    start: dt.date = d["horizon"]["start"]
    d["horizon"]["end"] = start + dt.timedelta(days=round(365.25 * years))
    for seg in d["segments"].values():
        if "customers" in scale:
            seg["customers"] = int(seg["customers"] * scale["customers"])
        tr, inf = seg.get("training"), seg.get("inference")
        if tr is not None:
            tr["jobs_per_month"] *= scale.get("demand", 1.0)
            if scale.get("growth", 1.0) == 0.0:
                tr["growth_per_year"] = 0.0
        if inf is not None:
            inf["tokens_per_s"] *= scale.get("demand", 1.0)
            if scale.get("growth", 1.0) == 0.0:
                inf["growth_per_year"] = 0.0
    return d


class Point:
    """One size of a series: its data, and the CPU seconds and events of its runs."""

    def __init__(self, size: float, data: dict[str, Any], seed: int, mmc: bool = False) -> None:
        self.size = size
        self.data = data
        self.seed = seed
        self.mmc = mmc
        self.engine: list[float] = []
        self.accounting: list[float] = []
        self.total: list[float] = []
        self.events = 0

    def run(self) -> None:
        c0 = time.process_time()
        s = build(self.data) if self.mmc else Scenario.model_validate(self.data)
        c1 = time.process_time()
        log = simulate(s, self.seed)
        c2 = time.process_time()
        account(s, log)
        c3 = time.process_time()
        self.events = log.events
        self.engine.append(c2 - c1)
        self.accounting.append(c3 - c2)
        self.total.append(c3 - c0)


def series(name: str, points: list[Point], n_rounds: int) -> list[Point]:
    """Run the points interleaved and print time against size with the exponents."""
    for _ in range(n_rounds):
        for p in points:
            p.run()
    sizes = [p.size for p in points]
    print(f"{name}")
    print(f"  {'size':>8s} {'events':>10s} {'total s':>8s} {'engine s':>9s} {'account s':>10s}")
    for p in points:
        print(
            f"  {p.size:8g} {p.events:10,d} {min(p.total):8.3f} {min(p.engine):9.3f} "
            f"{min(p.accounting):10.3f}"
        )

    def ex(f: Callable[[Point], float]) -> float:
        return loglog_slope(sizes, [f(p) for p in points])

    print(
        f"  exponents: total {ex(lambda p: min(p.total)):.2f}, engine "
        f"{ex(lambda p: min(p.engine)):.2f}, accounting {ex(lambda p: min(p.accounting)):.2f}, "
        f"events {ex(lambda p: float(p.events)):.2f}"
    )
    return points


def main(argv: Sequence[str] | None = None) -> None:
    """Run every series and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="shorter horizons, 1 round")
    args = parser.parse_args(argv)
    n = 1 if args.quick else args.rounds
    data, seed = _base()
    years = [1.0, 2.0, 4.0] if args.quick else [1.0, 2.0, 4.0, 9.0]
    short = 2.0 if args.quick else 4.0
    print(f"bench_scaling: {machine()}")
    flat = series(
        "horizon, years (no demand growth: events in proportion to the horizon)",
        [Point(y, _variant(data, y, growth=0.0), seed) for y in years],
        n,
    )
    ex_flat = loglog_slope(years, [min(p.total) for p in flat])
    ex_acc = loglog_slope(years, [min(p.accounting) for p in flat])
    series(
        "horizon, years (the baseline's own demand growth)",
        [Point(y, _variant(data, y), seed) for y in years],
        n,
    )
    dem = series(
        f"demand multiplier ({short:g} years)",
        [Point(f, _variant(data, short, demand=f), seed) for f in (1.0, 3.0, 10.0)],
        n,
    )
    cus = series(
        f"customers multiplier ({short:g} years)",
        [Point(f, _variant(data, short, customers=f), seed) for f in (1.0, 3.0, 10.0)],
        n,
    )
    jobs = 20_000 if args.quick else 100_000
    chips = series(
        f"chips, M/M/c with lambda 9/h and about {jobs:,} jobs",
        [Point(c, mmc_scenario_dict(c, jobs), 1, mmc=True) for c in (10, 100, 1000)],
        n,
    )
    d_ratio = min(dem[-1].total) / min(dem[0].total)
    c_ratio = min(cus[-1].total) / min(cus[0].total)
    ch_ratio = min(chips[-1].total) / min(chips[0].total)
    print("figures")
    # more chips on sale each year means more options per review and more placements per
    # re-size, so the engine's work per event grows with the horizon: context, not a target
    figure("horizon exponent, no growth (total)", f"{ex_flat:.2f}", "(context)", True)
    figure("horizon exponent, no growth (accounting)", f"{ex_acc:.2f}", "<= 1.10", ex_acc <= 1.1)
    figure("demand x10: time", f"{d_ratio:.2f}x", "<= 10x", d_ratio <= 10.0)
    figure("customers x10: time", f"{c_ratio:.2f}x", "<= 2x", c_ratio <= 2.0)
    figure("chips x100 (M/M/c): time", f"{ch_ratio:.2f}x", "<= 1.2x", ch_ratio <= 1.2)
    print(f"  (load after: {machine()})")


if __name__ == "__main__":
    main()
