"""Sweep throughput and memory: runs per second on 1 and 2 local workers and on Dask.

Run from the repository root with ``python -m benchmarks.bench_sweep`` (``XPUSIM_REDUCED=1``
for smaller sizes). It prints

* runs/s of a small sweep (``tests/data/sweep/small.yaml``, a one-year cut of the baseline)
  with 1 worker and with 2 workers of the process pool, and the speed-up (target >= 1.8x
  on a machine with at least 2 free cores);
* runs/s of the same sweep on a ``dask.distributed.LocalCluster`` (2 worker processes, 1
  thread each; cluster start-up not timed) against the 2-worker pool (target: within 15%);
* the peak resident memory of the sweep process (``resource.getrusage``) for a short and a
  ten-times longer sweep of ``tests/data/sweep/tiny.yaml``, each in a fresh process: flat
  memory means the two peaks are close.

* the Latin-hypercube sweep of the full-horizon baseline (``scenarios/baseline.yaml``,
  2022-2030, one replication a point) on a reduced design (``--baseline-runs``, default 24)
  with 1 and 2 workers, interleaved in rounds: runs/s, the speed-up (target >= 1.8x) and
  the 1,000-run sweep's wall time extrapolated from the 2-worker rate (target < 10 min on
  2 cores). Pool start-up is inside the timed region, so the extrapolation is pessimistic.

It checks that every backend produced the same runs.parquet, and asserts nothing about speed.
``--baseline-only`` runs the baseline leg alone.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "data" / "sweep" / "small.yaml"
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TINY = ROOT / "tests" / "data" / "sweep" / "tiny.yaml"
REDUCED = os.environ.get("XPUSIM_REDUCED") == "1"


def _timed_sweep(out: Path, n: int, **backend: object) -> tuple[float, bytes]:
    from sim.experiments.design import build_design
    from sim.experiments.orchestrate import run_sweep
    from sim.scenario import load_scenario

    loaded = load_scenario(SMALL)
    design = build_design(loaded, sample=n, method="lhs", replications=1, seed=1)
    start = time.perf_counter()
    outcome = run_sweep(loaded, design, out, rebuild_seconds=1e9, **backend)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    return outcome.runs_done / seconds, (out / "runs.parquet").read_bytes()


def throughput(n: int) -> None:
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        _timed_sweep(base / "warm", 2, workers=1)  # imports and caches warmed
        one, table1 = _timed_sweep(base / "w1", n, workers=1)
        two, table2 = _timed_sweep(base / "w2", n, workers=2)
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster:
            _timed_sweep(base / "dask-warm", 4, scheduler=cluster.scheduler_address)
            dask, table3 = _timed_sweep(base / "dask", n, scheduler=cluster.scheduler_address)
    print(f"sweep of {n} runs of {SMALL.name} (cpu_count={os.cpu_count()})")
    print(f"  1 worker      {one:7.2f} runs/s")
    print(f"  2 workers     {two:7.2f} runs/s   speed-up {two / one:.2f}x (target >= 1.8x)")
    print(
        f"  dask (2 proc) {dask:7.2f} runs/s   {dask / two:.2%} of the 2-worker pool "
        "(target: within 15%)"
    )
    print(
        "  identical runs.parquet: 1 vs 2 workers "
        f"{table1 == table2}, pool vs dask {table2 == table3}"
    )


def peak_rss(n: int) -> None:
    """Child mode: run a sweep of ``n`` points x 2 replications and print the peak RSS."""
    from sim.experiments.design import build_design
    from sim.experiments.orchestrate import run_sweep
    from sim.scenario import load_scenario

    loaded = load_scenario(TINY)
    design = build_design(loaded, sample=n, method="lhs", replications=2, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(loaded, design, Path(tmp) / "s", workers=2, rebuild_seconds=5.0)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{2 * n} {own} {workers}")


def memory(short: int) -> None:
    results = []
    for n in (short, 10 * short):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_sweep", "--rss", str(n)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        runs, own, workers = (int(x) for x in done.stdout.split()[-3:])
        results.append((runs, own, workers))
    print("peak RSS (ru_maxrss) of the sweep process and of its largest worker")
    for runs, own, workers in results:
        print(f"  {runs:6d} runs: main {own / 1024:7.1f} MiB   worker {workers / 1024:7.1f} MiB")
    growth = results[1][1] / results[0][1] - 1.0
    print(f"  main process growth for 10x the runs: {growth:+.1%}")


def baseline_lhs(n: int, n_rounds: int) -> None:
    """The full-horizon baseline's LHS sweep on 1 and 2 workers, interleaved in rounds."""
    import statistics

    from benchmarks.harness import figure, machine
    from sim.experiments.design import build_design
    from sim.experiments.orchestrate import run_sweep
    from sim.scenario import load_scenario

    loaded = load_scenario(BASELINE)
    design = build_design(loaded, sample=n, method="lhs", replications=1, seed=1)
    seconds: dict[int, list[float]] = {1: [], 2: []}
    tables: dict[int, bytes] = {}
    print(f"LHS sweep of the full-horizon baseline, {n} runs a round ({machine()})")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(n_rounds):
            for workers in (1, 2):
                out = Path(tmp) / f"w{workers}-{r}"
                start = time.perf_counter()
                run_sweep(loaded, design, out, workers=workers, rebuild_seconds=1e9)
                seconds[workers].append(time.perf_counter() - start)
                tables[workers] = (out / "runs.parquet").read_bytes()
                print(f"  round {r + 1}, {workers} worker(s): {seconds[workers][-1]:.1f} s")
    one, two = min(seconds[1]), min(seconds[2])
    med = statistics.median(a / b for a, b in zip(seconds[1], seconds[2], strict=True))
    for w, best in ((1, one), (2, two)):
        mid = statistics.median(seconds[w])
        print(f"  {w} worker(s) {n / best:6.3f} runs/s (min {best:.1f} s, median {mid:.1f} s)")
    figure("2 workers vs 1 (ratio of minima)", f"{one / two:.2f}x", ">= 1.8x", one / two >= 1.8)
    figure("2 workers vs 1 (median of the rounds' ratios)", f"{med:.2f}x", ">= 1.8x", med >= 1.8)
    full = 1000 * two / n
    figure("1,000-run sweep on 2 workers, extrapolated", f"{full:.0f} s", "< 600 s", full < 600)
    print(f"  identical runs.parquet on 1 and 2 workers: {tables[1] == tables[2]}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--rss":
        peak_rss(int(sys.argv[2]))
        return
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-runs", type=int, default=8 if REDUCED else 24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-only", action="store_true")
    args = parser.parse_args()
    if not args.baseline_only:
        throughput(16 if REDUCED else 60)
        memory(100 if REDUCED else 250)
    baseline_lhs(args.baseline_runs, args.rounds)


if __name__ == "__main__":
    main()
