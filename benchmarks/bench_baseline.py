"""The default scenario's speed; prints figures, asserts nothing.

Run: ``python -m benchmarks.bench_baseline`` (``--rounds``; ``--quick`` for a short check).

1. One replication of ``scenarios/baseline.yaml`` (2022-2030): its CPU seconds (building
   the scenario from its resolved data, simulating, accounting), against the floor, a bare
   simpy loop that fires the same number of events, interleaved in rounds. Target: at most
   5x the floor. The split into build, engine and accounting is printed beside it.
2. Replications in parallel: ``run`` of the baseline's 8 replications with 1 worker and
   with the default (all cores), interleaved; the speed-up and whether the two produced the
   same summary and tables.
3. The quick start as a whole process, ``xpusim run scenarios/baseline.yaml``, with the
   default workers and with ``--workers 1``, interleaved. Target: under 10 s wall on 2
   cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    bare_simpy_loop,
    figure,
    machine,
    process_rounds,
    rounds,
    table,
)
from sim.accounting.ledger import account
from sim.accounting.runner import run
from sim.engine.core import simulate
from sim.model.schema import Scenario
from sim.scenario import load_scenario

BASELINE = ROOT / "scenarios" / "baseline.yaml"


def replication(n_rounds: int) -> None:
    """One replication's CPU against the floor, with its parts."""
    loaded = load_scenario(BASELINE)
    data = loaded.scenario.model_dump(mode="python")
    seed = loaded.scenario.seed
    parts: dict[str, list[float]] = {"build": [], "engine": [], "accounting": []}
    events = 0

    def one() -> None:
        nonlocal events
        c0 = time.process_time()
        s = Scenario.model_validate(data)
        c1 = time.process_time()
        log = simulate(s, seed)
        c2 = time.process_time()
        account(s, log)
        c3 = time.process_time()
        events = log.events
        for k, v in zip(parts, (c1 - c0, c2 - c1, c3 - c2), strict=True):
            parts[k].append(v)

    one()
    t = rounds(
        {
            "replication (build+sim+account)": one,
            "floor (bare simpy loop)": lambda: bare_simpy_loop(events),
        },
        n_rounds,
    )
    print(f"baseline, one replication ({events:,} events)")
    table(t)
    print("  parts, CPU s (min): " + ", ".join(f"{k} {min(v):.3f}" for k, v in parts.items()))
    rep = t["replication (build+sim+account)"].best_cpu
    floor = t["floor (bare simpy loop)"].best_cpu
    figure("replication CPU / floor CPU", f"{rep / floor:.2f}x", "<= 5.00x", rep / floor <= 5.0)


def _run(s: Scenario, workers: int | None) -> Any:
    try:
        return run(s, workers=workers)  # type: ignore[call-arg]
    except TypeError:  # a runner without workers: serial
        return run(s)


def parallel(n_rounds: int) -> None:
    """The replications of ``run`` on 1 worker and on the default number of workers."""
    s = load_scenario(BASELINE).scenario
    out: dict[str, Any] = {}

    def on(workers: int | None) -> Any:
        def call() -> None:
            out[str(workers)] = _run(s, workers)

        return call

    t = rounds({"run, 1 worker": on(1), "run, default workers": on(None)}, n_rounds)
    print(f"baseline, {s.replications} replications (CPU columns: this process, not its workers)")
    table(t)
    a, b = out["1"], out["None"]
    same = a.summary == b.summary and all(a.tables[k].equals(b.tables[k]) for k in a.tables)
    one, default = t["run, 1 worker"].best, t["run, default workers"].best
    speedup = one / default
    # judged, not assumed: a busy second core (see the load average) shows here as a MISS
    figure("default workers vs 1 worker (wall)", f"{speedup:.2f}x", ">= 1.50x", speedup >= 1.5)
    figure("same summary and tables on 1 and default workers", str(same), "True", same)


def _run_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout


def quick_start(n_rounds: int) -> None:
    """The README's quick-start command as a whole process."""
    with tempfile.TemporaryDirectory() as tmp:

        def cmd(extra: list[str]) -> Any:
            def make(i: int) -> Sequence[str]:
                out = Path(tmp) / f"{'-'.join(extra) or 'default'}{i + 1}"
                return [
                    sys.executable,
                    "-m",
                    "sim",
                    "run",
                    str(BASELINE),
                    "--out",
                    str(out),
                    "--quiet",
                    *extra,
                ]

            return make

        commands = {"xpusim run baseline.yaml": cmd([])}
        if "--workers" in _run_help():
            commands["xpusim run baseline.yaml --workers 1"] = cmd(["--workers", "1"])
        t = process_rounds(commands, n_rounds, warmup=False)
    print("quick start, whole process (8 replications, 2022-2030; CPU without the workers)")
    table(t)
    wall = t["xpusim run baseline.yaml"].best
    figure("xpusim run scenarios/baseline.yaml (wall)", f"{wall:.1f} s", "< 10 s", wall < 10.0)


def main(argv: Sequence[str] | None = None) -> None:
    """Run every baseline benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round of each")
    args = parser.parse_args(argv)
    n = 1 if args.quick else args.rounds
    print(f"bench_baseline: {machine()}")
    replication(n)
    parallel(n)
    quick_start(n)
    print(f"  (load after: {machine()})")


if __name__ == "__main__":
    main()
