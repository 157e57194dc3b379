"""Execution of sweep runs: in-process, a local process pool, or a dask.distributed cluster.

A *task* is a pure, picklable function ``task(shared, payload, seed) -> {metric: value}``:
``shared`` is what every job of a run of :func:`execute` has in common (for a sweep, the
loaded base scenario), ``payload`` what is particular to one job (a design point's values).
For a sweep the task is :func:`sim.experiments.points.run_point`, which substitutes the
point's values into the base scenario where the run happens: a point travels as its few
values, never as a whole resolved scenario. :func:`execute` runs a stream of :class:`Job` s
on the chosen backend and yields each ``(job, result)`` as it completes (completion order
depends on the backend; callers sort). Only a bounded window of jobs is in flight, so a
long sweep never holds all its payloads or results in memory. The backends run the same
function on the same inputs, so the results do not depend on the backend or on the number
of workers.

``shared`` reaches each local worker process once (when the pool starts it); on Dask it is
a task of its own, which the scheduler recomputes when the worker holding it is lost. A run
whose worker is lost (killed, restarted by its nanny) is submitted again; a run is yielded
exactly once. :func:`connect` checks a scheduler address within :data:`CONNECT_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from typing import Any

from sim.accounting.runner import (
    INTERRUPT_POLL_S,
    raise_if_set,
    stopping,
    watch_for_orphaning,
)
from sim.errors import UserError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_WORKERS_PER_CORE",
    "ClusterError",
    "Job",
    "Task",
    "check_workers",
    "connect",
    "default_workers",
    "execute",
]

Task = Callable[[Any, Any, int], dict[str, Any]]
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


@dataclass(frozen=True)
class Job:
    """One run to execute: a key the caller recognises, the task's payload and seed."""

    key: Any
    payload: Any
    seed: int


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


#: In a pool worker process: the ``shared`` argument of the :func:`execute` that started it.
_worker_shared: list[Any] = []


def _pool_worker_init(parent: int, shared: Any) -> None:
    """Pool workers keep ``shared``, leave Ctrl-C to the parent, and exit when it is gone
    (a sweep killed with SIGKILL cannot stop its pool, whose workers would otherwise wait
    for work forever)."""
    _worker_shared[:] = [shared]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_for_orphaning(parent)


def _in_worker(task: Task, payload: Any, seed: int) -> dict[str, Any]:
    """In a pool worker: run the task on the worker's ``shared`` value."""
    return task(_worker_shared[0], payload, seed)


def execute(
    task: Task,
    jobs: Iterable[Job],
    *,
    shared: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    window: int | None = None,
) -> Iterator[tuple[Job, dict[str, Any]]]:
    """Run ``task(shared, job.payload, job.seed)`` for every job; yield ``(job, result)``.

    Results come as each job ends.

    ``scheduler`` (a dask.distributed scheduler address) sends the tasks to that cluster,
    and so does ``client`` (a connected ``distributed.Client``, left open); otherwise
    ``workers`` processes of a local pool run them (default: all cores), and ``workers=1``
    runs them in this process. At most ``window`` jobs (default: twice the local workers,
    four times the dask threads) are in flight. Closing the iterator early cancels the
    queued jobs.
    """
    if client is not None:
        return _dask_run(client, task, shared, jobs, window, close=False)
    if scheduler is not None:
        return _dask_run(connect(scheduler), task, shared, jobs, window, close=True)
    n = default_workers() if workers is None else workers
    if n < 1:
        raise UserError("--workers must be at least 1", found=str(n))
    if n == 1:
        return _in_process(task, shared, jobs)
    return _pool(task, shared, jobs, n, window or 2 * n)


def _in_process(
    task: Task, shared: Any, jobs: Iterable[Job]
) -> Iterator[tuple[Job, dict[str, Any]]]:
    for job in jobs:
        yield job, task(shared, job.payload, job.seed)


def _pool(
    task: Task, shared: Any, jobs: Iterable[Job], workers: int, window: int
) -> Iterator[tuple[Job, dict[str, Any]]]:
    source = iter(jobs)
    pending: dict[Future[dict[str, Any]], Job] = {}
    pool = ProcessPoolExecutor(
        max_workers=workers, initializer=_pool_worker_init, initargs=(os.getpid(), shared)
    )
    with stopping(pool) as interrupted:
        for job in source:
            pending[pool.submit(_in_worker, task, job.payload, job.seed)] = job
            if len(pending) >= window:
                break
        while pending:
            done, _ = wait(pending, timeout=INTERRUPT_POLL_S, return_when=FIRST_COMPLETED)
            raise_if_set(interrupted)
            # Several may finish together: hand them on in submission order.
            order = {f: i for i, f in enumerate(pending)}
            for fut in sorted(done, key=order.__getitem__):
                job = pending.pop(fut)
                yield job, fut.result()
                raise_if_set(interrupted)
                nxt = next(source, None)
                if nxt is not None:
                    pending[pool.submit(_in_worker, task, nxt.payload, nxt.seed)] = nxt


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
    from distributed.comm import core  # deferred: only a Dask run needs distributed

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
    import distributed  # deferred: only a Dask run needs distributed
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


def _run_shared(task: Task, shared: Any, payload: Any, seed: int) -> dict[str, Any]:
    """On a dask worker: the task, on the shared value (the result of its own task)."""
    return task(shared, payload, seed)


def _shared(value: Any) -> Any:
    """On a dask worker: the value shared by the tasks (a task, so that it can be redone)."""
    return value


class _DaskRuns:
    """The jobs in flight on a Dask cluster, each with the number of times it was submitted."""

    def __init__(self, client: Any, task: Task, shared: Any) -> None:
        import distributed  # deferred: only a Dask run needs distributed

        completed: Any = distributed.as_completed  # distributed is untyped
        self.client = client
        self.task = task
        self.shared = shared
        # The shared value (a whole loaded scenario, ~200 KB) is sent to the cluster once
        # rather than relayed by the scheduler with every task. It is a task rather than
        # scattered data, so that the scheduler can compute it again when the worker
        # holding it is lost.
        self.shared_future: Any = None
        self.pending: dict[str, tuple[Job, int]] = {}  # future key -> (job, submissions)
        self.queue: Any = completed(loop=client.loop, with_results=True, raise_errors=False)

    def submit(self, job: Job, submissions: int = 0) -> None:
        """Send ``job`` to the cluster (again, after ``submissions`` losses)."""
        base = self.shared_future
        if base is None or base.status in ("cancelled", "lost", "error"):
            base = self.shared_future = self.client.submit(_shared, self.shared, pure=False)
        fut = self.client.submit(_run_shared, self.task, base, job.payload, job.seed, pure=False)
        self.pending[fut.key] = (job, submissions + 1)
        self.queue.add(fut)

    def finished(self, fut: Any, result: Any) -> Job | None:
        """The job of a completed future, or None when it was lost and resubmitted."""
        job, submissions = self.pending.pop(fut.key)
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
            self.submit(job, submissions)
            return None
        return job


def _dask_run(
    client: Any, task: Task, shared: Any, jobs: Iterable[Job], window: int | None, *, close: bool
) -> Iterator[tuple[Job, dict[str, Any]]]:
    try:
        threads = sum(client.nthreads().values())
        limit = window or max(4 * threads, 4)
        source = iter(jobs)
        runs = _DaskRuns(client, task, shared)
        for job in source:
            runs.submit(job)
            if len(runs.pending) >= limit:
                break
        # with_results: results are gathered in the background, not one round trip each
        for fut, result in runs.queue:
            done = runs.finished(fut, result)
            if done is None:
                continue
            yield done, result
            nxt = next(source, None)
            if nxt is not None:
                runs.submit(nxt)
    finally:
        if close:
            client.close()
