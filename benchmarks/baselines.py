"""Reference M/M/c simulators that the xpusim engine is benchmarked against.

Three baselines, each simulating an M/M/c FIFO queue (times in hours):

* ``minimal_simpy_mmc``: the simplest idiomatic simpy model (one process per job,
  ``simpy.Resource``), with all random numbers drawn up front from a seeded numpy
  Generator so that RNG cost does not dominate (the "per-job simpy script");
* ``idiom_simpy_mmc``: the engine's own design written by hand for this one queue (a count
  of busy servers, a deque of waiting jobs, arrivals and finishes as timeout callbacks, no
  process per job), random numbers drawn up front the same way: what the engine would
  cost with none of its generality;
* ``ciw_mmc``: the same queue in ciw 3 (the peer; imported only when called).

Run from the repository root with ``python -m benchmarks.baselines``. The functions are
importable (``from benchmarks.baselines import ...``) so the engine can be added to the
comparison. This module times things but asserts nothing about speed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import numpy as np
import simpy

__all__ = ["ciw_mmc", "idiom_simpy_mmc", "minimal_simpy_mmc", "time_call", "timed"]

T = TypeVar("T")


def minimal_simpy_mmc(
    arrival_rate: float, service_rate: float, servers: int, jobs: int, seed: int
) -> tuple[float, int]:
    """Simulate ``jobs`` arrivals to an M/M/c queue in simpy; return (mean wait hours, completed).

    The wait is the time from arrival to start of service, averaged over all jobs (no
    warm-up removed; the run starts empty). The run continues until every job has finished.
    """
    rng = np.random.default_rng(seed)
    interarrivals = rng.exponential(1.0 / arrival_rate, jobs).tolist()
    services = rng.exponential(1.0 / service_rate, jobs).tolist()

    env = simpy.Environment()
    res = simpy.Resource(env, capacity=servers)
    total_wait = 0.0
    completed = 0

    def job(service: float) -> Generator[simpy.Event, Any, None]:
        nonlocal total_wait, completed
        arrived = env.now
        with res.request() as req:
            yield req
            total_wait += env.now - arrived
            yield env.timeout(service)
        completed += 1

    def source() -> Generator[simpy.Event, Any, None]:
        for gap, service in zip(interarrivals, services, strict=True):
            yield env.timeout(gap)
            env.process(job(service))

    env.process(source())
    env.run()
    return total_wait / jobs, completed


def idiom_simpy_mmc(
    arrival_rate: float, service_rate: float, servers: int, jobs: int, seed: int
) -> tuple[float, int]:
    """The M/M/c queue built the engine's way by hand; return (mean wait hours, completed).

    A count of busy servers and a deque of (arrival time, service time) of waiting jobs;
    each arrival is a timeout whose callback starts the job or queues it and schedules the
    next arrival; each finish is a timeout whose callback starts the head of the queue.
    """
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / arrival_rate, jobs).tolist()
    services = rng.exponential(1.0 / service_rate, jobs).tolist()
    env = simpy.Environment()
    waiting: deque[tuple[float, float]] = deque()
    busy = 0
    total_wait = 0.0
    completed = 0
    following = iter(zip(gaps, services, strict=True))

    def finish(_ev: simpy.Event) -> None:
        nonlocal busy, total_wait, completed
        completed += 1
        if waiting:
            arrived, service = waiting.popleft()
            total_wait += env.now - arrived
            env.timeout(service).callbacks.append(finish)  # type: ignore[union-attr]
        else:
            busy -= 1

    def arrive(ev: simpy.Event) -> None:
        nonlocal busy
        service = ev.value
        if busy < servers:
            busy += 1
            env.timeout(service).callbacks.append(finish)  # type: ignore[union-attr]
        else:
            waiting.append((env.now, service))
        nxt = next(following, None)
        if nxt is not None:
            env.timeout(nxt[0], nxt[1]).callbacks.append(arrive)  # type: ignore[union-attr]

    gap, service = next(following)
    env.timeout(gap, service).callbacks.append(arrive)  # type: ignore[union-attr]
    env.run()
    return total_wait / jobs, completed


def ciw_mmc(
    arrival_rate: float, service_rate: float, servers: int, jobs: int, seed: int
) -> tuple[float, int]:
    """Simulate an M/M/c queue in ciw until ``jobs`` customers have finished.

    Returns (mean wait hours over the finished customers' service records, count). Seeds
    ciw's own global generator with ``ciw.seed`` (ciw's API; used only in this baseline).
    """
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(arrival_rate)],
        service_distributions=[ciw.dists.Exponential(service_rate)],
        number_of_servers=[servers],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(jobs, method="Finish")
    records = [r for r in sim.get_all_records() if r.record_type == "service"]
    mean_wait = sum(r.waiting_time for r in records) / len(records)
    return mean_wait, len(records)


def timed(fn: Callable[..., T], *args: Any, repeats: int = 3) -> tuple[float, T]:
    """Best-of-``repeats`` wall-clock seconds of ``fn(*args)`` and the last result."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    best = float("inf")
    result: T
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def time_call(fn: Callable[..., object], *args: Any, repeats: int = 3) -> float:
    """Best-of-``repeats`` wall-clock seconds of ``fn(*args)`` (time.perf_counter)."""
    return timed(fn, *args, repeats=repeats)[0]


def main(repeats: int = 3) -> None:
    """Compare the baselines at lambda = 9/h, mu = 1/h, c = 10 with 200,000 jobs."""
    from sim.model.queueing import mmc

    lam, mu, c, jobs, seed = 9.0, 1.0, 10, 200_000, 12345
    exact = mmc(lam, mu, c)
    print(f"M/M/{c}: lambda={lam}/h mu={mu}/h rho={exact.utilization:.2f} jobs={jobs:,}")
    print(f"Erlang C mean wait: {exact.mean_wait_hours:.4f} h (P(wait)={exact.prob_wait:.4f})")
    for name, fn in (
        ("simpy (minimal)", minimal_simpy_mmc),
        ("simpy (idiom)", idiom_simpy_mmc),
        ("ciw", ciw_mmc),
    ):
        seconds, (mean_wait, done) = timed(fn, lam, mu, c, jobs, seed, repeats=repeats)
        rel = mean_wait / exact.mean_wait_hours - 1.0
        print(
            f"{name:16s} {done / seconds:12,.0f} jobs/s  best of {repeats}: {seconds:.2f} s  "
            f"mean wait {mean_wait:.4f} h ({rel:+.1%} vs Erlang C), completed {done:,}"
        )


if __name__ == "__main__":
    import sys
    from pathlib import Path

    _root = str(Path(__file__).resolve().parent.parent)
    if _root not in sys.path:  # allow `python benchmarks/baselines.py` as well as `-m`
        sys.path.insert(0, _root)
    if len(sys.argv) == 3 and sys.argv[1] == "--per-job-script":
        # the whole-process contestant: this module's minimal simpy loop as a script
        wait, done = minimal_simpy_mmc(9.0, 1.0, 10, int(sys.argv[2]), 1)
        print(f"mean wait {wait:.4f} h, {done} jobs")
    else:
        main()
