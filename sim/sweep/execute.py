"""Execution of sweep runs: in-process, a local process pool, or a dask.distributed cluster.

A *task* is a pure, picklable function ``task(payload, seed) -> {metric: value}``; for a
sweep the payload is the resolved scenario data of a point and the task is :func:`simulate`.
:func:`execute` runs a stream of :class:`Job` s on the chosen backend and yields each
``(job, result)`` as it completes (completion order depends on the backend; callers sort).
Only a bounded window of jobs is in flight, so a long sweep never holds all its payloads or
results in memory. The backends run the same function on the same inputs, so the results
do not depend on the backend or on the number of workers.

On Dask, a run whose worker is lost (killed, restarted by its nanny) is submitted again,
and the scenario shared by the tasks is a task of its own, which the scheduler recomputes
when the worker holding it is lost; a run is yielded exactly once. :func:`connect` checks
a scheduler address within :data:`CONNECT_TIMEOUT_S`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sim.errors import UserError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_WORKERS_PER_CORE",
    "SKIPPED_SUMMARY_KEYS",
    "ClusterError",
    "Job",
    "Task",
    "check_workers",
    "connect",
    "default_workers",
    "execute",
    "flatten_summary",
    "simulate",
]

Task = Callable[[Any, int], dict[str, Any]]
#: Top-level summary keys that describe the run rather than measure it.
SKIPPED_SUMMARY_KEYS = frozenset({"scenario", "horizon", "seed", "replications"})
#: Seconds to reach a Dask scheduler and hear it answer before giving up. Assumption: a
#: live scheduler answers in milliseconds, even across a data centre; 4 s keeps a wrong
#: address a short wait (a sweep with one fails in under 10 s, start-up included).
CONNECT_TIMEOUT_S = 4.0
#: Times a run is submitted to Dask before a sweep gives up on it: each loss of its worker
#: (or a restart of the cluster) costs one. A run that kills its worker is stopped sooner by
#: Dask itself (``distributed.scheduler.allowed-failures``).
MAX_SUBMISSIONS = 10
#: Most local worker processes per core without --allow-large. Assumption: the simulation
#: is CPU-bound, so more than a few per core only adds memory and switching.
MAX_WORKERS_PER_CORE = 4
#: Seconds between a pool worker's checks that the sweep that started it is still alive.
ORPHAN_CHECK_S = 1.0


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


def check_workers(workers: int | None, allow_large: bool = False) -> None:
    """Refuse more local workers than :data:`MAX_WORKERS_PER_CORE` per core (a typo guard).

    Each worker is a process with its own copy of the simulation (~150 MB).
    """
    if workers is None or allow_large:
        return
    cap = MAX_WORKERS_PER_CORE * default_workers()
    if workers > cap:
        raise UserError(
            "too many local worker processes",
            file="--workers",
            expected=f"at most {cap} ({MAX_WORKERS_PER_CORE} per core)",
            found=f"{workers:,}",
            hint="pass --allow-large to lift the cap; see Limits in the README",
        )


def _pool_worker_init(parent: int) -> None:
    """Pool workers leave Ctrl-C to the parent, and exit when the parent is gone.

    A sweep killed with SIGKILL cannot stop its pool, whose workers would otherwise wait
    for work forever.
    """
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-check", daemon=True).start()


def execute(
    task: Task,
    jobs: Iterable[Job],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    window: int | None = None,
) -> Iterator[tuple[Job, dict[str, Any]]]:
    """Run ``task(job.payload, job.seed)`` for every job; yield ``(job, result)`` as each ends.

    ``scheduler`` (a dask.distributed scheduler address) sends the tasks to that cluster,
    and so does ``client`` (a connected ``distributed.Client``, left open); otherwise
    ``workers`` processes of a local pool run them (default: all cores), and ``workers=1``
    runs them in this process. At most ``window`` jobs (default: twice the local workers,
    four times the dask threads) are in flight. Closing the iterator early cancels the
    queued jobs.
    """
    if client is not None:
        return _dask_run(client, task, jobs, window, close=False)
    if scheduler is not None:
        return _dask_run(connect(scheduler), task, jobs, window, close=True)
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
    pool = ProcessPoolExecutor(
        max_workers=workers, initializer=_pool_worker_init, initargs=(os.getpid(),)
    )
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


class ClusterError(UserError):
    """The Dask cluster kept losing a run: reported in one line like a user error."""


def _bad_scheduler(address: str, why: str) -> UserError:
    return UserError(
        f"cannot connect to the dask scheduler at {address}: {why}",
        file="--scheduler",
        hint="start one with 'dask scheduler' and workers with 'dask worker ADDRESS'",
    )


async def _probe(address: str, timeout: float) -> Any:
    """Ask the process at ``address`` who it is, within ``timeout`` seconds in all."""
    import asyncio

    from distributed.comm import core

    opener: Any = core.connect  # distributed is untyped

    async def ask() -> Any:
        comm = await opener(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            await comm.close()

    return await asyncio.wait_for(ask(), timeout)


def connect(address: str, timeout: float | None = None) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``, or a UserError.

    The address is first probed on a connection of its own, so that a wrong address, a
    port where no scheduler listens or a process that is not a Dask scheduler fails
    within ``timeout`` seconds (default :data:`CONNECT_TIMEOUT_S`) with one message (a
    ``Client`` that fails to connect takes twice its timeout again to close).
    """
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import distributed
    from distributed.comm import addressing

    try:
        scheme, location = addressing.parse_address(address)
        if scheme in ("tcp", "tls"):
            addressing.parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise _bad_scheduler(address, str(exc)) from None
    # a thread of its own: asyncio.run cannot nest in a caller's running loop
    with ThreadPoolExecutor(1) as pool:
        try:
            reply = pool.submit(asyncio.run, _probe(address, timeout)).result()
        except (TimeoutError, OSError):  # refused, unreachable, unknown host (retried)
            raise _bad_scheduler(address, f"no answer within {timeout:g} s") from None
        except (MemoryError, ValueError, TypeError, KeyError):
            # what a process that does not speak Dask's protocol makes the reader do
            raise _bad_scheduler(address, "the process there is not a Dask scheduler") from None
        except Exception as exc:
            why = str(exc) or type(exc).__name__
            raise _bad_scheduler(address, why.splitlines()[0][:200]) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise _bad_scheduler(address, "the process there is not a Dask scheduler")
    make: Any = distributed.Client  # distributed is untyped
    try:
        return make(address, timeout=f"{timeout:g}s", set_as_default=False)
    except Exception as exc:
        raise _bad_scheduler(address, str(exc).splitlines()[0][:200]) from None


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


def _shared(payload: Any) -> Any:
    """On a dask worker: the payload shared by the tasks (a task, so that it can be redone)."""
    return payload


def _dask_run(
    client: Any, task: Task, jobs: Iterable[Job], window: int | None, *, close: bool
) -> Iterator[tuple[Job, dict[str, Any]]]:
    import distributed

    completed: Any = distributed.as_completed  # distributed is untyped
    try:
        threads = sum(client.nthreads().values())
        limit = window or max(4 * threads, 4)
        source = iter(jobs)
        pending: dict[str, tuple[Job, int]] = {}  # future key -> (job, submissions)
        queue: Any = completed(loop=client.loop, with_results=True, raise_errors=False)
        # The scenario payloads of a sweep differ in a few values: the first one is sent
        # to the cluster once, and each task carries only its differences from it (a whole
        # resolved scenario is ~100 KB, which the scheduler would relay per task). It is
        # a task rather than scattered data, so that the scheduler can compute it again
        # when the worker holding it is lost.
        base: list[Any] = []  # [payload, future]

        def submit(job: Job, submissions: int) -> None:
            if not base:
                base.extend([job.payload, None])
            if base[1] is None or base[1].status in ("cancelled", "lost", "error"):
                base[1] = client.submit(_shared, base[0], pure=False)
            delta = payload_delta(base[0], job.payload)
            fut = client.submit(_run_delta, task, base[1], delta, job.seed, pure=False)
            pending[fut.key] = (job, submissions + 1)
            queue.add(fut)

        for job in source:
            submit(job, 0)
            if len(pending) >= limit:
                break
        # with_results: results are gathered in the background, not one round trip each
        for fut, result in queue:
            job, submissions = pending.pop(fut.key)
            status = fut.status
            fut.release()
            if status == "error":
                _, exc, tb = result
                if type(exc).__name__ == "KilledWorker":
                    raise ClusterError(
                        f"a run killed every Dask worker it was given ({exc}); the sweep "
                        "stops, its finished runs are kept"
                    ) from None
                raise exc.with_traceback(tb)  # the task's own error, as on the local pool
            if status != "finished":  # cancelled: its worker (or the cluster) was restarted
                if submissions >= MAX_SUBMISSIONS:
                    raise ClusterError(
                        f"a run was lost by the Dask cluster {submissions} times "
                        f"(last: {status}); the sweep stops, its finished runs are kept"
                    )
                submit(job, submissions)
                continue
            yield job, result
            nxt = next(source, None)
            if nxt is not None:
                submit(nxt, 0)
    finally:
        if close:
            client.close()
