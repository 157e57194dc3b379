"""Runs a scenario: replications of the engine, accounted and combined (no I/O).

Replications run in parallel over worker processes (:func:`run_replications`), one per
core by default; each is a pure function of the scenario and its seed, and the results are
combined in seed order, so the output is the same, byte for byte, for any worker count.
The workers start from a fresh process (never a fork of the caller, whose open files, such
as a run folder's lock, they must not hold), so a script that runs several replications
with more than one worker calls :func:`run` under ``if __name__ == "__main__":``, as any
Python program that starts processes that way.

A scenario with an in-house chip program is also run without it
(:func:`~sim.accounting.counterfactual.without_program`) on the same seeds, in the same
pool of workers, and the program's value (:mod:`sim.accounting.value`) joins the summary
and the tables, unless the scenario's ``outputs.counterfactual`` or the caller says no.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.accounting.counterfactual import has_program, without_program
from sim.accounting.flows import ProviderFlows
from sim.accounting.ledger import Accounts, account
from sim.accounting.summary import as_dict
from sim.accounting.value import ReplicationValue, combine_values, replication_value
from sim.engine.core import simulate
from sim.model.rng import replication_seeds
from sim.model.schema import Scenario
from sim.model.statistics import mean_interval

#: Summary keys that :func:`combine` adds to describe how the run was made (its root seed,
#: the replications, their count and the metrics' interval half-widths), not metrics of it.
RUN_KEYS = ("seed", "replications", "replication_count", "interval95")


@dataclass(frozen=True)
class RunOutput:
    """What a run produces: headline numbers and flat result tables.

    ``summary`` becomes ``summary.json`` (JSON-compatible values; numpy scalars and
    arrays, dates and tuples are converted; NaN and infinities become null). Each entry
    of ``tables`` becomes ``<name>.parquet``. Keep wall-clock timings out of both, or in
    a clearly separate key, so that the same scenario and seed give identical files.
    """

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def run_one(scenario: Scenario, seed: int) -> Accounts:
    """Simulate and account one replication."""
    return account(scenario, simulate(scenario, seed))


def values_program(scenario: Scenario, counterfactual: bool = True) -> bool:
    """Whether a run of ``scenario`` measures its program against the world without it."""
    return counterfactual and scenario.outputs.counterfactual and has_program(scenario)


def program_value(scenario: Scenario, with_: Accounts, without: ProviderFlows) -> ReplicationValue:
    """One replication's program value from its two worlds."""
    prog = scenario.provider.inhouse_program
    costs = with_.result.inhouse_program
    return replication_value(
        with_.flows,
        without,
        rate_per_year=scenario.economics.discount_rate_per_year,
        sunk_at_start_usd=costs.sunk_at_start_usd if costs is not None else 0.0,
        include_sunk=prog is not None and prog.include_sunk_costs,
    )


def summary_of_one(scenario: Scenario, seed: int) -> dict[str, Any]:
    """One replication's summary, with its program value when the scenario asks for it
    (the world without the program is run here, on the same seed)."""
    acc = run_one(scenario, seed)
    summary = dict(acc.summary)
    if values_program(scenario):
        without = run_one(without_program(scenario), seed).flows
        summary["program_value"] = as_dict(program_value(scenario, acc, without).summary)
    return summary


def _task(task: tuple[Scenario, int, bool]) -> Accounts | ProviderFlows:
    """A pool task: one replication of a world; a counterfactual world returns its flows."""
    scenario, seed, flows_only = task
    acc = run_one(scenario, seed)
    return acc.flows if flows_only else acc


def mean_summary(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Leaf-wise mean of numeric summary values over replications (None where all are None).

    Text leaves (dates, names) are kept when every replication agrees, else the most common.

    >>> mean_summary([{"a": 1.0, "b": {"c": None}}, {"a": 3.0, "b": {"c": 2.0}}])
    {'a': 2.0, 'b': {'c': 2.0}}
    """
    first = summaries[0]
    out: dict[str, Any] = {}
    for key, v in first.items():
        vals = [s.get(key) for s in summaries]
        if isinstance(v, dict):
            out[key] = mean_summary([x if isinstance(x, dict) else {} for x in vals])
        elif isinstance(v, bool) or (v is not None and not isinstance(v, int | float)):
            out[key] = max(set(map(str, vals)), key=[str(x) for x in vals].count)
            if all(x == v for x in vals):
                out[key] = v
        else:
            nums = [float(x) for x in vals if isinstance(x, int | float)]
            if not nums:
                # a text leaf that is None in the first replication only
                texts = [x for x in vals if x is not None]
                out[key] = max(set(texts), key=texts.count) if texts else None
            else:
                out[key] = float(np.mean(nums))
    return out


def interval_tree(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Half-widths of the 95% t-intervals of every numeric summary leaf over replications.

    The tree mirrors the summary's numeric leaves (text leaves are left out); a leaf is None
    where fewer than two replications give a finite value.

    >>> tree = interval_tree([{"a": 1.0, "b": {"c": 2.0}, "s": "x"}, {"a": 3.0, "b": {"c": None}}])
    >>> round(tree["a"], 4), tree["b"]
    (12.7062, {'c': None})
    """
    out: dict[str, Any] = {}
    for key, v in summaries[0].items():
        vals = [s.get(key) for s in summaries]
        if isinstance(v, dict):
            out[key] = interval_tree([x if isinstance(x, dict) else {} for x in vals])
        elif v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
            nums = [x for x in vals if isinstance(x, int | float) and not isinstance(x, bool)]
            if nums or v is not None:
                out[key] = mean_interval(nums).half_width
    return out


def default_workers() -> int:
    """The cores this process may run on (1 if unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


ORPHAN_CHECK_S = 1.0
"""Seconds between a pool worker's checks that the process that started it is still alive
(assumption: a killed run's workers may go on for a second; a check costs microseconds)."""


def _process_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended: no such process, or a zombie not yet reaped (read
    from Linux /proc where there is one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, owned by another user
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return False


def watch_for_orphaning(main_pid: int) -> None:
    """In a pool worker: end the process once the command that started the pool
    (``main_pid``) is gone, or the worker's parent changed. A command killed with SIGKILL
    cannot stop its pool, whose workers would otherwise go on for nothing; under the fork
    server a worker's parent is that server, which outlives the command, so the parent
    alone does not tell."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent and not _process_gone(main_pid):
            time.sleep(ORPHAN_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="xpusim-orphan-check", daemon=True).start()


INTERRUPT_POLL_S = 0.2
"""Seconds between a command's checks for Ctrl-C while it waits on its pool (assumption: a
fifth of a second is prompt to a person and costs nothing beside runs of seconds)."""


@contextmanager
def deferred_interrupt() -> Iterator[threading.Event]:
    """While a pool runs, Ctrl-C sets the event instead of raising at once: a
    KeyboardInterrupt raised inside the executor's own bookkeeping can leave the command
    waiting for ever at exit on workers nobody stops. The waits poll the event
    (:func:`in_order`) and raise KeyboardInterrupt where the pool can be stopped
    (:func:`stop_pool`); a Ctrl-C no wait heard is raised when the block ends without an
    exception of its own. Left as it is outside the main thread, or where Ctrl-C is not
    Python's default (ignored, or handled by a host program)."""
    flag = threading.Event()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
    raise_if_set(flag)  # reached only when the block ended without an exception


def raise_if_set(interrupted: threading.Event) -> None:
    """Raise KeyboardInterrupt if Ctrl-C came (see :func:`deferred_interrupt`)."""
    if interrupted.is_set():
        raise KeyboardInterrupt


def in_order(futures: Iterable[Future[Any]], interrupted: threading.Event) -> Iterator[Any]:
    """Each future's result in the order given, waiting in short steps so that Ctrl-C
    (``interrupted``) is heard while a result is awaited."""
    for fut in futures:
        while True:
            try:
                result = fut.result(timeout=INTERRUPT_POLL_S)
                break
            except TimeoutError:
                raise_if_set(interrupted)
        yield result
        raise_if_set(interrupted)


def stop_pool(pool: ProcessPoolExecutor, *, at_once: bool) -> None:
    """Shut ``pool`` down, its queued tasks cancelled. ``at_once`` (after Ctrl-C): its
    workers are ended first, throwing away what they were computing (the command writes
    results, never a worker), instead of waiting for their tasks to finish."""
    if at_once:
        # the executor has no public way to stop tasks that have started
        processes = getattr(pool, "_processes", None) or {}
        for proc in list(processes.values()):
            proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def stopping(pool: ProcessPoolExecutor) -> Iterator[threading.Event]:
    """Run a block that waits on ``pool`` with Ctrl-C deferred (the event it yields, see
    :func:`deferred_interrupt`), and stop the pool as the block ends: at once after Ctrl-C,
    else once its running tasks finish (queued ones cancelled)."""
    with deferred_interrupt() as interrupted:
        try:
            yield interrupted
        except KeyboardInterrupt:
            stop_pool(pool, at_once=True)
            raise
        finally:
            stop_pool(pool, at_once=False)


def _worker_init(main_pid: int) -> None:
    """Pool workers leave Ctrl-C to the command, and exit when it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_for_orphaning(main_pid)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fresh server process that has the simulation imported (they
    start at once and inherit none of the caller's open files, such as a run folder's
    lock), or spawned where there is no fork server."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


def run_replications(
    scenario: Scenario,
    seeds: Sequence[int],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Accounts]:
    """:func:`run_one` for each seed, in seed order, over ``workers`` processes.

    ``workers`` None means one per core (:func:`default_workers`), at most one per seed;
    1 runs the replications here, one after another. The results do not depend on it.
    ``progress(done, total)`` is called as replications finish (in seed order).
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = _run_tasks([(scenario, s, False) for s in seeds], workers, progress)
    return [r for r in out if isinstance(r, Accounts)]


def _run_tasks(
    tasks: Sequence[tuple[Scenario, int, bool]],
    workers: int | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Accounts | ProviderFlows]:
    """:func:`_task` for each task, in order, over ``workers`` processes (None: all cores);
    ``progress(done, total)`` is called as tasks finish (in task order)."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    n = min(default_workers() if workers is None else workers, len(tasks))
    tick = progress or (lambda done, total: None)
    out: list[Accounts | ProviderFlows] = []
    tick(0, len(tasks))
    if n <= 1:
        for t in tasks:
            out.append(_task(t))
            tick(len(out), len(tasks))
        return out
    pool = ProcessPoolExecutor(
        n, mp_context=_pool_context(), initializer=_worker_init, initargs=(os.getpid(),)
    )
    with stopping(pool) as interrupted:
        for result in in_order([pool.submit(_task, t) for t in tasks], interrupted):
            out.append(result)
            tick(len(out), len(tasks))
    return out


def _summary_of(scenario: Scenario, seed: int) -> dict[str, Any]:
    return run_one(scenario, seed).summary


class ReplicationPool:
    """Worker processes kept for many batches of replications (a calibration's evaluations),
    so that the pool starts once; summaries come back in seed order, the same for any
    number of workers. Use as a context manager; ``workers`` 1 runs in this process."""

    def __init__(self, workers: int | None = None) -> None:
        n = default_workers() if workers is None else workers
        if n < 1:
            raise ValueError(f"workers must be >= 1, got {n}")
        self.workers = n
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ReplicationPool:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=_pool_context(),
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._pool is not None:
            stop_pool(self._pool, at_once=exc_type is KeyboardInterrupt)
            self._pool = None

    def summaries(self, scenario: Scenario, seeds: Sequence[int]) -> list[dict[str, Any]]:
        """The summary of each replication, in seed order."""
        if self._pool is None or len(seeds) < 2:
            return [_summary_of(scenario, s) for s in seeds]
        with deferred_interrupt() as interrupted:
            futures = [self._pool.submit(_summary_of, scenario, s) for s in seeds]
            return list(in_order(futures, interrupted))


def run(
    scenario: Scenario,
    seed: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    counterfactual: bool = True,
) -> RunOutput:
    """Run all replications of `scenario` from root `seed` (default: the scenario's seed).

    Tables gain a ``replication`` column; the summary holds means over replications, with the
    per-replication headline figures under ``replications``, their number under
    ``replication_count`` and, under ``interval95``, the half-width of each numeric metric's
    95% Student-t interval over them (the same tree as the metrics; None with one
    replication). ``workers``: see :func:`run_replications` (the output is the same for any
    value). With an in-house program (and ``counterfactual`` and the scenario's
    ``outputs.counterfactual``), every seed is also run without the program and the
    summary gains ``program_value``, the tables ``program_value``.
    """
    root = scenario.seed if seed is None else seed
    seeds = replication_seeds(root, scenario.replications)
    tasks = [(scenario, s, False) for s in seeds]
    valued = values_program(scenario, counterfactual)
    if valued:
        alternative = without_program(scenario)
        tasks += [(alternative, s, True) for s in seeds]
    results = _run_tasks(tasks, workers, progress)
    factual = [r for r in results[: len(seeds)] if isinstance(r, Accounts)]
    output = combine(factual, seeds)
    if valued:
        without = [r for r in results[len(seeds) :] if isinstance(r, ProviderFlows)]
        _add_value(output, scenario, factual, without, seeds)
    return output


def _add_value(
    output: RunOutput,
    scenario: Scenario,
    factual: Sequence[Accounts],
    without: Sequence[ProviderFlows],
    seeds: Sequence[int],
) -> None:
    """Put the program's value, combined over the paired replications, into ``output``."""
    values = [program_value(scenario, f, w) for f, w in zip(factual, without, strict=True)]
    means, half, table, per_rep = combine_values(values, seeds, scenario.horizon.start)
    output.summary["program_value"] = means
    output.summary["interval95"]["program_value"] = half
    for rep, figures in zip(output.summary["replications"], per_rep, strict=True):
        rep["program_value"] = figures
    output.tables["program_value"] = table


def combine(results: Sequence[Accounts], seeds: Sequence[int]) -> RunOutput:
    """Merge replications into one RunOutput."""
    tables: dict[str, pd.DataFrame] = {}
    for name in results[0].tables:
        parts = []
        for r, (res, sd) in enumerate(zip(results, seeds, strict=True)):
            df = res.tables[name].copy()
            df.insert(0, "replication", r)
            df.insert(1, "seed", np.uint64(sd))
            parts.append(df)
        tables[name] = pd.concat(parts, ignore_index=True)
    summary = (
        mean_summary([r.summary for r in results]) if len(results) > 1 else dict(results[0].summary)
    )
    summary["seed"] = int(seeds[0])
    summary["replication_count"] = len(results)
    summary["interval95"] = interval_tree([r.summary for r in results])
    summary["replications"] = [
        {
            "replication": r,
            "seed": int(sd),
            "usage_ratio_vs_gpu": res.summary["usage_ratio_vs_gpu"],
            # the three measures per family and year, and the in-house shares (the
            # validation facts' metrics), so `compare` pairs differences in them too
            "usage": res.summary["usage"],
            "provider": {
                k: v for k, v in res.summary["provider"].items() if k != "tco_breakdown_usd"
            },
        }
        for r, (res, sd) in enumerate(zip(results, seeds, strict=True))
    ]
    return RunOutput(summary=summary, tables=tables)
