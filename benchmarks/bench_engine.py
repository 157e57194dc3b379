"""Engine benchmark on the M/M/10 reference queue; prints figures, asserts nothing.

Run: ``python -m benchmarks.bench_engine`` (``--jobs``, ``--rounds``; ``--quick`` for a
short check). The queue: lambda = 9/h, mu = 1/h, c = 10, about 200,000 jobs. Contestants,
interleaved in rounds (see :mod:`benchmarks.harness`), each timed over the same region:
everything from its inputs to its mean wait.

- ``xpusim engine``: building the scenario (validation), the simulation and the accounting
  (records to monthly tables and summary), as ``xpusim run`` does for one replication;
- ``idiom (by hand)``: the engine's own design for this one queue written by hand
  (:func:`benchmarks.baselines.idiom_simpy_mmc`);
- ``per-job simpy``: one simpy process per job with a ``simpy.Resource``;
- ``floor``: a bare simpy loop that fires as many events as the engine did;
- ``ciw``: Ciw, the peer.

Figures and targets (issue 17): the engine at least as fast as the idiom; at least 0.7x the
per-job simpy loop and 1.5x Ciw (the earlier targets, kept); 100x the chips with the same
jobs at most 1.2x the time; the whole ``xpusim run`` process of the queue at least 1.5x
faster than the whole per-job simpy script process. It also prints the import time of the
run path (``python -X importtime``), which the command-line layer owns.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.baselines import ciw_mmc, idiom_simpy_mmc, minimal_simpy_mmc
from benchmarks.harness import (
    ROOT,
    bare_simpy_loop,
    figure,
    machine,
    process_env,
    process_rounds,
    rounds,
    table,
)
from sim.accounting.ledger import account
from sim.engine.core import simulate
from sim.model.queueing import mmc
from tests.factories import build, mmc_dict

LAMBDA, MU, C = 9.0, 1.0, 10
JOBS = 200_000


def mmc_scenario_dict(chips: int, jobs: int) -> dict[str, Any]:
    """The M/M/c reference scenario with a horizon of about ``jobs`` arrivals."""
    d = mmc_dict(
        arrival_rate_per_hour=LAMBDA,
        service_rate_per_hour=MU,
        chips=chips,
        years=1,
        warmup_days=0.0,
    )
    days = jobs / LAMBDA / 24.0
    d["horizon"]["end"] = d["horizon"]["start"] + dt.timedelta(days=int(days) + 1)
    return d


def engine_mmc(d: dict[str, Any]) -> tuple[float, int, int]:
    """Build, simulate and account the scenario: (mean wait h, jobs, events)."""
    s = build(d)
    log = simulate(s, 1)
    acc = account(s, log)
    wait = acc.summary["queue"]["gpu"]["mean_wait_hours"]
    return float(wait or 0.0), acc.summary["engine"]["simulated_jobs"], log.events


def contest(jobs: int, n_rounds: int, with_ciw: bool) -> None:
    """The in-process contest on the M/M/10 queue."""
    d = mmc_scenario_dict(C, jobs)
    big = mmc_scenario_dict(C * 100, jobs)
    _, n_jobs, events = engine_mmc(d)
    results: dict[str, Any] = {}

    def keep(name: str, fn: Any, *args: Any) -> Any:
        def call() -> None:
            results[name] = fn(*args)

        return call

    contestants = {
        "xpusim engine (build+sim+account)": keep("engine", engine_mmc, d),
        "idiom (by hand)": keep("idiom", idiom_simpy_mmc, LAMBDA, MU, C, n_jobs, 1),
        "per-job simpy": keep("per-job", minimal_simpy_mmc, LAMBDA, MU, C, n_jobs, 1),
        f"floor (bare loop, {events:,} events)": lambda: bare_simpy_loop(events),
        "xpusim engine, 100x chips": keep("big", engine_mmc, big),
    }
    if with_ciw:
        contestants["ciw (peer)"] = keep("ciw", ciw_mmc, LAMBDA, MU, C, n_jobs, 1)
    t = rounds(contestants, n_rounds)
    theory = mmc(LAMBDA, MU, C).mean_wait_hours
    waits = {
        "xpusim engine (build+sim+account)": results["engine"][0],
        "idiom (by hand)": results["idiom"][0],
        "per-job simpy": results["per-job"][0],
        "ciw (peer)": results.get("ciw", (float("nan"),))[0],
    }
    print(f"M/M/{C}: lambda {LAMBDA}/h, mu {MU}/h, {n_jobs:,} jobs, {events:,} engine events")
    print(
        f"  mean waits (Erlang C {theory:.4f} h): "
        + ", ".join(f"{k.split(' (')[0]} {v:.4f}" for k, v in waits.items() if v == v)
    )
    table(t)
    eng = t["xpusim engine (build+sim+account)"].best
    idiom = t["idiom (by hand)"].best
    per_job = t["per-job simpy"].best
    floor = next(v for k, v in t.items() if k.startswith("floor")).best
    print("  ratios of minima (speed of the engine relative to the contestant):")
    figure("engine vs idiom by hand", f"{idiom / eng:.2f}x", ">= 1.00x", idiom / eng >= 1.0)
    figure("engine vs per-job simpy", f"{per_job / eng:.2f}x", ">= 0.70x", per_job / eng >= 0.7)
    if with_ciw:
        peer = t["ciw (peer)"].best
        figure("engine vs ciw", f"{peer / eng:.2f}x", ">= 1.50x", peer / eng >= 1.5)
    figure("engine time / floor (bare simpy loop)", f"{eng / floor:.2f}x", "(context)", True)
    bigt = t["xpusim engine, 100x chips"].best
    figure("100x the chips, same jobs: time", f"{bigt / eng:.2f}x", "<= 1.20x", bigt / eng <= 1.2)


def whole_process(jobs: int, n_rounds: int) -> None:
    """``xpusim run`` of the queue against the per-job simpy script, as whole processes."""
    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        scen = Path(tmp) / "mmc10.yaml"
        scen.write_text(yaml.safe_dump(mmc_scenario_dict(C, jobs), sort_keys=False))
        script = ROOT / "benchmarks" / "baselines.py"

        def xpusim(i: int) -> Sequence[str]:
            out = Path(tmp) / f"run{i + 1}"
            return [sys.executable, "-m", "sim", "run", str(scen), "--out", str(out), "--quiet"]

        def per_job(i: int) -> Sequence[str]:
            return [sys.executable, str(script), "--per-job-script", str(jobs)]

        t = process_rounds(
            {"xpusim run mmc10.yaml": xpusim, "per-job simpy script": per_job}, n_rounds
        )
        print(f"whole process, M/M/{C} with about {jobs:,} jobs")
        table(t)
        x, p = t["xpusim run mmc10.yaml"].best, t["per-job simpy script"].best
        figure(
            "xpusim run vs per-job simpy script (wall)", f"{p / x:.2f}x", ">= 1.50x", p / x >= 1.5
        )
        import_time(scen, Path(tmp))


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_time(scen: Path, tmp: Path) -> None:
    """Print the import time of ``xpusim run`` and its heaviest top-level imports."""
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "sim",
            "run",
            str(scen),
            "--out",
            str(tmp / "importtime"),
            "--quiet",
        ],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    own: dict[str, int] = {}  # microseconds of each top-level package's own modules
    for line in done.stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            root = m.group(4).split(".")[0]
            own[root] = own.get(root, 0) + int(m.group(1))
    total = sum(own.values())
    heavy = sorted(own.items(), key=lambda kv: -kv[1])[:8]
    print(
        f"  imports of `xpusim run` (python -X importtime): {total / 1e6:.2f} s in all; by "
        "package: " + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in heavy)
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run every engine benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-ciw", action="store_true", help="leave out the Ciw contestant")
    parser.add_argument("--quick", action="store_true", help="20,000 jobs, 2 rounds, no Ciw")
    args = parser.parse_args(argv)
    jobs, n_rounds, with_ciw = args.jobs, args.rounds, not args.no_ciw
    if args.quick:
        jobs, n_rounds, with_ciw = 20_000, 2, False
    print(f"bench_engine: {machine()}")
    contest(jobs, n_rounds, with_ciw)
    whole_process(jobs, n_rounds)
    print(f"  (load after: {machine()})")


if __name__ == "__main__":
    main()
