"""Execution of sweep runs: in-process, a local process pool, or a dask.distributed cluster.

A *task* is a pure, picklable function ``task(payload, seed) -> {metric: value}``; for a
sweep the payload is the resolved scenario data of a point and the task is :func:`simulate`.
:func:`execute` runs a stream of :class:`Job` s on the chosen backend and yields each
``(job, result)`` as it completes (completion order depends on the backend; callers sort).
Only a bounded window of jobs is in flight, so a long sweep never holds all its payloads or
results in memory. The backends run the same function on the same inputs, so the results
do not depend on the backend or on the number of workers.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sim.errors import UserError

__all__ = [
    "SKIPPED_SUMMARY_KEYS",
    "Job",
    "Task",
    "default_workers",
    "execute",
    "flatten_summary",
    "simulate",
]

Task = Callable[[Any, int], dict[str, Any]]
#: Top-level summary keys that describe the run rather than measure it.
SKIPPED_SUMMARY_KEYS = frozenset({"scenario", "horizon", "seed", "replications"})


@dataclass(frozen=True)
class Job:
    """One run to execute: a key the caller recognises, the task's payload and seed."""

    key: Any
    payload: Any
    seed: int


def flatten_summary(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The scalar leaves of a nested summary under dotted keys, sorted (lists skipped).

    >>> flatten_summary({"b": {"y": 2, "x": [1]}, "a": None, "scenario": "s"})
    {'a': None, 'b.y': 2}
    """
    out: dict[str, Any] = {}
    for key in sorted(summary, key=str):
        if not prefix and key in SKIPPED_SUMMARY_KEYS:
            continue
        value = summary[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_summary(value, f"{name}."))
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = value
        elif hasattr(value, "item") and not isinstance(value, list | tuple):  # numpy scalar
            out[name] = value.item()
        elif hasattr(value, "isoformat"):
            out[name] = value.isoformat()
    return out


def simulate(data: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The sweep task: validate resolved scenario data, run one replication, flatten its summary."""
    from sim.accounting.runner import run_one
    from sim.model.schema import Scenario

    scenario = Scenario.model_validate(dict(data))
    return flatten_summary(run_one(scenario, seed).summary)


def default_workers() -> int:
    """All cores: ``os.cpu_count()`` (1 if unknown)."""
    return os.cpu_count() or 1


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops the sweep cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def execute(
    task: Task,
    jobs: Iterable[Job],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    window: int | None = None,
) -> Iterator[tuple[Job, dict[str, Any]]]:
    """Run ``task(job.payload, job.seed)`` for every job; yield ``(job, result)`` as each ends.

    ``scheduler`` (a dask.distributed scheduler address) sends the tasks to that cluster;
    otherwise ``workers`` processes of a local pool run them (default: all cores), and
    ``workers=1`` runs them in this process. At most ``window`` jobs (default: twice the
    local workers, four times the dask threads) are in flight. Closing the iterator early
    cancels the queued jobs.
    """
    if scheduler is not None:
        return _dask(task, jobs, scheduler, window)
    n = default_workers() if workers is None else workers
    if n < 1:
        raise UserError("--workers must be at least 1", found=str(n))
    if n == 1:
        return _in_process(task, jobs)
    return _pool(task, jobs, n, window or 2 * n)


def _in_process(task: Task, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict[str, Any]]]:
    for job in jobs:
        yield job, task(job.payload, job.seed)


def _pool(
    task: Task, jobs: Iterable[Job], workers: int, window: int
) -> Iterator[tuple[Job, dict[str, Any]]]:
    source = iter(jobs)
    pending: dict[Future[dict[str, Any]], Job] = {}
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
    try:
        for job in source:
            pending[pool.submit(task, job.payload, job.seed)] = job
            if len(pending) >= window:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            # Several may finish together: hand them on in submission order.
            order = {f: i for i, f in enumerate(pending)}
            for fut in sorted(done, key=order.__getitem__):
                job = pending.pop(fut)
                yield job, fut.result()
                nxt = next(source, None)
                if nxt is not None:
                    pending[pool.submit(task, nxt.payload, nxt.seed)] = nxt
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(
    task: Task, jobs: Iterable[Job], address: str, window: int | None
) -> Iterator[tuple[Job, dict[str, Any]]]:
    import distributed

    connect: Any = distributed.Client  # distributed is untyped
    try:
        client = connect(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(
            f"cannot connect to the dask scheduler at {address}: {exc}",
            file="--scheduler",
            hint="start one with 'dask scheduler' and workers with 'dask worker ADDRESS'",
        ) from None
    return _dask_run(client, task, jobs, window)


@dataclass(frozen=True)
class _Removed:
    """Marks a key of the base payload that a job's payload does not have."""


Delta = list[tuple[tuple[Any, ...], Any]]


def payload_delta(base: Any, payload: Any, path: tuple[Any, ...] = ()) -> Delta:
    """Where ``payload`` differs from ``base``: ``(key path, new value)`` pairs.

    Mappings are compared key by key; anything else (numbers, strings, lists) is replaced
    whole when it differs. :func:`apply_delta` turns ``base`` back into ``payload``.

    >>> base = {"a": 1, "b": {"c": [1, 2], "d": "x"}}
    >>> payload_delta(base, {"a": 1, "b": {"c": [1, 3]}, "e": 5})
    [(('b', 'c'), [1, 3]), (('b', 'd'), _Removed()), (('e',), 5)]
    """
    if not (isinstance(base, Mapping) and isinstance(payload, Mapping)):
        # repr tells -0.0 from 0.0, which == does not
        same = type(base) is type(payload) and base == payload and repr(base) == repr(payload)
        return [] if same else [(path, payload)]
    out: Delta = []
    for key in base:
        if key in payload:
            out.extend(payload_delta(base[key], payload[key], (*path, key)))
        else:
            out.append(((*path, key), _Removed()))
    out.extend(((*path, key), payload[key]) for key in payload if key not in base)
    return out


def apply_delta(base: Any, delta: Delta) -> Any:
    """A deep copy of ``base`` with the changes of :func:`payload_delta` made.

    >>> base = {"a": 1, "b": {"c": [1, 2], "d": "x"}}
    >>> new = {"a": 1, "b": {"c": [1, 3]}, "e": 5}
    >>> apply_delta(base, payload_delta(base, new)) == new, base["b"]["c"]
    (True, [1, 2])
    """
    import copy

    out = copy.deepcopy(base)
    for path, value in delta:
        if not path:
            out = copy.deepcopy(value)
            continue
        node = out
        for key in path[:-1]:
            node = node[key]
        if isinstance(value, _Removed):
            del node[path[-1]]
        else:
            node[path[-1]] = copy.deepcopy(value)
    return out


def _run_delta(task: Task, base: Any, delta: Delta, seed: int) -> dict[str, Any]:
    """On a dask worker: rebuild the payload from the shared base and run the task."""
    return task(apply_delta(base, delta), seed)


def _dask_run(
    client: Any, task: Task, jobs: Iterable[Job], window: int | None
) -> Iterator[tuple[Job, dict[str, Any]]]:
    import distributed

    completed: Any = distributed.as_completed  # distributed is untyped
    try:
        threads = sum(client.nthreads().values())
        limit = window or max(4 * threads, 4)
        source = iter(jobs)
        pending: dict[str, Job] = {}
        queue: Any = completed(loop=client.loop, with_results=True)
        # The scenario payloads of a sweep differ in a few values: the first one is sent
        # to every worker once, and each task carries only its differences from it (a
        # whole resolved scenario is ~100 KB, which the scheduler would relay per task).
        base: list[Any] = []

        def submit(job: Job) -> None:
            if not base:
                base.append(job.payload)
                base.append(client.scatter(job.payload, broadcast=True, hash=False))
            delta = payload_delta(base[0], job.payload)
            fut = client.submit(_run_delta, task, base[1], delta, job.seed, pure=False)
            pending[fut.key] = job
            queue.add(fut)

        for job in source:
            submit(job)
            if len(pending) >= limit:
                break
        # with_results: results are gathered in the background, not one round trip each
        for fut, result in queue:
            job = pending.pop(fut.key)
            fut.release()
            yield job, result
            nxt = next(source, None)
            if nxt is not None:
                submit(nxt)
    finally:
        client.close()
